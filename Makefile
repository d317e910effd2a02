# clmsync - top-level entry points. The build itself is CMake; this file only drives it.
BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure check check-asan demo bench peers fuzz chaos clean

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@./scripts/install-deps.sh

configure: deps
	@[ -f $(BUILD)/CMakeCache.txt ] || cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

check: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
check-asan: deps
	@[ -f build-asan/CMakeCache.txt ] || cmake -S . -B build-asan -DCS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-asan -j $(JOBS)
	# the 100,000-row import runs in `make check`; instrumented code imports a fifth of it
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		IMPORT_ROWS=20000 ctest --output-on-failure -j $(JOBS) --timeout 900

demo: all
	@./scripts/demo.sh $(BUILD)

bench: all
	@./bench/run.sh $(BUILD)

# clmsync beside the alternatives (a jsforce script, n8n) on the same workload, one after the other
# on fresh servers; installs jsforce and n8n from npm on first use into ignored folders under
# bench/peers/, takes about 40 minutes (n8n needs its contracts 16 minutes old before Salesforce edits
# reach it), writes bench/results/peers.md. Not part of `make check`.
# PEERS="clmsync jsforce" runs a subset; bench/peers/run.sh lists the size variables.
peers: all
	@bash bench/peers/run.sh $(BUILD)

# The chaos soak (tests/chaos/): a long two-way workload across two orgs while clmsync is killed
# and restarted, sfemu injects every fault it has and the store fails statements; then the
# invariants. `make check` runs a short one; this runs the long one and writes its report to
# bench/results/chaos-<date>.md. Parameters (environment or make variables): CHAOS_CHANGES
# (default 50000) or CHAOS_SECONDS, CHAOS_KILLS (200), CHAOS_RATE_503 / _LOCK / _DROP / _LOST (per
# mille in fault windows), CHAOS_LATENCY_MS / CHAOS_LATENCY_RATE, CHAOS_STORE_FAULTS, CHAOS_SEED
# (printed; set it to rerun), CHAOS_STRICT=1 (known engine bugs fail the run too).
CHAOS_VARS = CHAOS_CHANGES CHAOS_SECONDS CHAOS_KILLS CHAOS_RATE_503 CHAOS_RATE_LOCK CHAOS_RATE_DROP \
	CHAOS_RATE_LOST CHAOS_LATENCY_MS CHAOS_LATENCY_RATE CHAOS_STORE_FAULTS CHAOS_SEED CHAOS_STRICT CHAOS_CONVERGE_S
CHAOS_REPORT ?= bench/results/chaos-$(shell date -u +%Y-%m-%d).md
chaos: all
	@seed=$${CHAOS_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ' | awk '{print $$1 % 2147483647 + 1}')}; \
	rerun="CHAOS_SEED=$$seed"; for v in $(CHAOS_VARS); do \
		eval "val=\$${$$v:-}"; [ -n "$$val" ] && [ $$v != CHAOS_SEED ] && rerun="$$rerun $$v=$$val"; done; \
	CHAOS_SEED=$$seed CHAOS_REPORT=$(abspath $(CHAOS_REPORT)) CHAOS_RERUN="$$rerun make chaos" \
		bash tests/chaos/run.sh $(BUILD)

# libFuzzer targets (clang, ASan and UBSan, in build-fuzz), one at a time: each for FUZZ_SECONDS
# (default 60) or FUZZ_RUNS executions (e.g. FUZZ_RUNS=10000000), all of them or FUZZ_TARGET
# (e.g. FUZZ_TARGET=soql or FUZZ_TARGET="csv config"). Figures in bench/results/fuzz.md; see
# tests/fuzz/run.sh for the other settings.
FUZZ_SECONDS ?=
FUZZ_RUNS ?=
FUZZ_TARGET ?=
fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCS_FUZZ=ON -DCS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzz_all
	@FUZZ_SECONDS="$(FUZZ_SECONDS)" FUZZ_RUNS="$(FUZZ_RUNS)" FUZZ_TARGET="$(FUZZ_TARGET)" ./tests/fuzz/run.sh build-fuzz

clean:
	rm -rf $(BUILD) build-asan build-fuzz

# clmsync - top-level entry points. The build itself is CMake; this file only drives it.
BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure check check-asan demo bench fuzz clean

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

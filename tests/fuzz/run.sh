#!/usr/bin/env bash
# run.sh BUILD [SECONDS] - `make fuzz`: runs the libFuzzer targets built in BUILD (CS_FUZZ=ON), one
# at a time, each from a copy of its committed seed corpus so that the inputs a run finds stay out
# of git, and prints per target the executions done, their rate, the crashes found and the corpus
# size; then writes the same to bench/results/fuzz.md (one row per target: a run of some targets
# replaces their rows and keeps the others'; a section "## Findings" written by hand is kept).
#
# A crashing (or leaking, or hanging) input is kept as BUILD/fuzz-crashes/<target>/crash-* (leak-,
# timeout-, oom-): fix the bug, then commit the input to tests/fuzz/corpus/<target>/ so that
# `make check` replays it. libFuzzer stops a target at its first crash.
#
# Environment (make passes the variables of the same names):
#   FUZZ_SECONDS  seconds per target; default 60, or no time limit when FUZZ_RUNS is set
#                 (the SECONDS argument wins over both)
#   FUZZ_RUNS     executions per target (libFuzzer -runs), e.g. FUZZ_RUNS=10000000
#   FUZZ_TARGET   only these targets: names with or without "fuzz_", separated by spaces or commas
#   FUZZ_TIMEOUT  seconds one input may take before it counts as a hang (default 30)
#   FUZZ_ARGS     more libFuzzer options, e.g. "-jobs=2 -workers=2" or "-dict=FILE"
#   FUZZ_RESULTS  the summary file (default bench/results/fuzz.md; "none" writes none)
#   TMPDIR        where the targets that need a store keep it; /dev/shm when unset and writable
#                 (their databases are scratch: on tmpfs no fsync slows them down)
set -uo pipefail
BUILD=${1:?usage: $0 BUILD [SECONDS]}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECS=${2:-${FUZZ_SECONDS:-}}
RUNS=${FUZZ_RUNS:-}
[ -z "$SECS" ] && [ -z "$RUNS" ] && SECS=60
TIMEOUT=${FUZZ_TIMEOUT:-30}
RESULTS=${FUZZ_RESULTS:-$ROOT/bench/results/fuzz.md}
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi

shopt -s nullglob
all=("$BUILD"/tests/fuzz_*)
if [ ${#all[@]} -eq 0 ]; then
	echo "run.sh: no fuzz targets in $BUILD/tests (configure with -DCS_FUZZ=ON)" >&2
	exit 2
fi
targets=()
if [ -n "${FUZZ_TARGET:-}" ]; then
	for t in ${FUZZ_TARGET//,/ }; do
		t=fuzz_${t#fuzz_}
		if [ ! -x "$BUILD/tests/$t" ]; then
			echo "run.sh: no target $t in $BUILD/tests" >&2
			exit 2
		fi
		targets+=("$BUILD/tests/$t")
	done
else
	for bin in "${all[@]}"; do
		[ -x "$bin" ] && targets+=("$bin")
	done
fi

limits=()
what=""
if [ -n "$SECS" ]; then
	limits+=(-max_total_time="$SECS")
	what="$SECS s"
fi
if [ -n "$RUNS" ]; then
	limits+=(-runs="$RUNS")
	what="${what:+$what, }$RUNS runs"
fi
# shellcheck disable=SC2206
extra=(${FUZZ_ARGS:-})
command="tests/fuzz/run.sh $BUILD"
[ -n "${2:-}" ] && command="$command $2"
env_used=""
[ -n "${FUZZ_SECONDS:-}" ] && [ -z "${2:-}" ] && env_used="$env_used FUZZ_SECONDS=$FUZZ_SECONDS"
[ -n "$RUNS" ] && env_used="$env_used FUZZ_RUNS=$RUNS"
[ -n "${FUZZ_TARGET:-}" ] && env_used="$env_used FUZZ_TARGET=${FUZZ_TARGET// /,}"
[ -n "${FUZZ_ARGS:-}" ] && env_used="$env_used FUZZ_ARGS=\"$FUZZ_ARGS\""
command="${env_used# }${env_used:+ }$command"
today=$(date -u +%Y-%m-%d)

rows=$(mktemp)
failed=()
for bin in "${targets[@]}"; do
	name=$(basename "$bin")
	work=$(mktemp -d)
	crashes="$BUILD/fuzz-crashes/$name"
	mkdir -p "$crashes"
	seeds=0
	if [ -d "$HERE/corpus/$name" ]; then
		cp -r "$HERE/corpus/$name/." "$work/"
		seeds=$(find "$HERE/corpus/$name" -type f | wc -l)
	fi
	before=$(find "$crashes" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	echo "== $name: $what"
	# -close_fd_mask=3: the targets' own output (logs, a command's report) is dropped; libFuzzer
	# and the sanitizers keep writing their reports to the log
	t0=$(date +%s.%N)
	"$bin" "${limits[@]}" -timeout="$TIMEOUT" -close_fd_mask=3 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "${extra[@]}" "$work" >"$crashes/run.log" 2>&1
	rc=$?
	t1=$(date +%s.%N)
	log="$crashes/run.log"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	# stopped by a crash before the final figures: the last status line has the count
	[ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
	execs=${execs:-0}
	# over the whole run, start-up included (libFuzzer's own figure is 0 under a second)
	rate=$(awk -v n="$execs" -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; printf "%d", (d > 0 ? n / d : 0) }')
	after=$(find "$crashes" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	found=$((after - before))
	corpus=$(find "$work" -type f | wc -l)
	echo "   $execs executions ($rate/s), $found crashes, corpus $seeds -> $corpus inputs"
	if [ $rc -ne 0 ] || [ $found -gt 0 ]; then
		echo "   FAILED (exit $rc): see $log and the input beside it"
		failed+=("$name")
	fi
	printf '| %s | %s | %s | %s | %s -> %s | %s | `%s` |\n' "$name" "$execs" "$rate" "$found" "$seeds" "$corpus" \
		"$today" "$command" >>"$rows"
	rm -rf "$work"
done

if [ "$RESULTS" != "none" ]; then
	mkdir -p "$(dirname "$RESULTS")"
	table=$(mktemp)
	# the rows of this run, and those of earlier runs for targets not run now
	cp "$rows" "$table"
	if [ -f "$RESULTS" ]; then
		grep -E '^\| fuzz_[a-z0-9_]+ \|' "$RESULTS" | while IFS= read -r line; do
			t=$(echo "$line" | awk -F'|' '{gsub(/ /, "", $2); print $2}')
			grep -q "^| $t |" "$rows" || echo "$line"
		done >>"$table"
	fi
	{
		echo "# Fuzzing"
		echo
		echo "Written by \`make fuzz\` (tests/fuzz/run.sh): each libFuzzer target of tests/fuzz/, built with"
		echo "clang, AddressSanitizer and UndefinedBehaviorSanitizer (build-fuzz), run alone from its committed"
		echo "seed corpus. $(nproc) cores; $(clang --version 2>/dev/null | head -1); $(uname -sr)."
		echo
		echo "| target | executions | exec/s | crashes | corpus (seeds -> after the run) | date | command |"
		echo "|---|---:|---:|---:|---|---|---|"
		sort "$table"
		echo
		echo "- executions: inputs run, the seeds included; exec/s: over the whole run, start-up included."
		echo "- crashes: inputs that crashed, leaked, hung (over FUZZ_TIMEOUT s) or ran out of memory in this"
		echo "  run; libFuzzer stops at the first. Each one found so far was fixed and its input added to the"
		echo "  target's corpus (tests/fuzz/corpus/), which \`make check\` replays."
		echo "- corpus: the committed seeds, and the inputs libFuzzer kept (seeds included) by the end; the"
		echo "  new ones are not committed."
		echo "- Each target spends its time in the code it fuzzes: the HTTP APIs' requests are handed to their"
		echo "  servers' routing and handlers whole, without a socket (fuzz_repo_api, fuzz_admin_api,"
		echo "  fuzz_sfemu_api); the repository is opened once per run (fuzz_import and the API targets); the"
		echo "  connector's retry, reconnect and poll waits return at once in the fuzz build (fuzz_sf_stream,"
		echo "  fuzz_sf_client). The slowest still run a whole path per input (a login, a handshake and a"
		echo "  stream; a repository query; an emulator reset and a SOQL query; a YAML load), about a"
		echo "  thousand to a few thousand inputs a second on one core."
		# a section written by hand (the bugs found, say) is kept
		[ -f "$RESULTS" ] && sed -n '/^## Findings/,$p' "$RESULTS" | sed '1s/^/\n/'
	} >"$RESULTS.tmp"
	mv "$RESULTS.tmp" "$RESULTS"
	rm -f "$table"
	echo "summary: $RESULTS"
fi
rm -f "$rows"

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz targets that failed: ${failed[*]}"
	exit 1
fi
echo "every fuzz target ran ($what) without a failure"

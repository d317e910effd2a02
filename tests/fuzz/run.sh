#!/usr/bin/env bash
# run.sh BUILD [SECONDS] - `make fuzz`: runs each libFuzzer target built in BUILD (CS_FUZZ=ON) for
# SECONDS (default 60), starting from a copy of its committed seed corpus, so that the inputs a
# run finds stay out of git. A crashing input is kept as BUILD/fuzz-crashes/<target>/crash-*: fix
# the bug, then commit the input to tests/fuzz/corpus/<target>/ so that `make check` replays it.
set -uo pipefail
BUILD=${1:?usage: $0 BUILD [SECONDS]}
SECS=${2:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
failed=()
shopt -s nullglob
targets=("$BUILD"/tests/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
	echo "run.sh: no fuzz targets in $BUILD/tests (configure with -DCS_FUZZ=ON)" >&2
	exit 2
fi
for bin in "${targets[@]}"; do
	name=$(basename "$bin")
	[ -x "$bin" ] || continue
	work=$(mktemp -d)
	crashes="$BUILD/fuzz-crashes/$name"
	mkdir -p "$crashes"
	[ -d "$HERE/corpus/$name" ] && cp -r "$HERE/corpus/$name/." "$work/"
	echo "== $name: $SECS s"
	if "$bin" -max_total_time="$SECS" -artifact_prefix="$crashes/" -print_final_stats=1 "$work" \
		>"$crashes/run.log" 2>&1; then
		grep -E "stat::number_of_executed_units|stat::new_units_added" "$crashes/run.log" | sed 's/^/   /'
	else
		echo "   FAILED: see $crashes/run.log and the crash-* input beside it"
		failed+=("$name")
	fi
	rm -rf "$work"
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz targets that failed: ${failed[*]}"
	exit 1
fi
echo "every fuzz target ran $SECS s without a failure"

#!/usr/bin/env bash
# run.sh BUILD [--short] - the chaos soak (chaos.py) against two sfemu orgs: contracts routed EMEA
# to org a and AMER to org b, every counterparty in both. `make check` runs --short (the CTest
# test chaos.short: a few kills and every fault kind once, in a minute or two); `make chaos` runs
# the long one with the CHAOS_* parameters (chaos.py's comment lists them).
. "$(dirname "$0")/../scenario/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "${2:-}" = "--short" ]; then export CHAOS_MODE=short; fi

# chaos.py stops the clmsync it started; should it be killed itself, the server it left goes too
# (by its recorded pid, and only while that pid is still a clmsync-chaos)
stop_clm() {
	local pid
	pid=$(cat "$WORK/clm.pid" 2>/dev/null) || return 0
	if grep -q clmsync-chaos "/proc/$pid/cmdline" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
}
trap 'stop_clm; cleanup' EXIT

# the custom Contract fields of scenario 10 in both orgs; an allocation the soak's own limit
# windows reach at once (they set the use past it)
SCHEMA="$HERE/../scenario/sync_custom_schema.json"
start_sfemu a --schema "$SCHEMA" --api-daily-limit 100000000
start_sfemu b --schema "$SCHEMA" --api-daily-limit 100000000
SF_A=$URL_a SF_B=$URL_b BUILD=$BUILD WORK=$WORK python3 "$HERE/chaos.py" || FAILS=$((FAILS + 1))
finish

#!/usr/bin/env bash
# make demo: starts sfemu and `clmsync serve --config config/examples/demo.yaml` on loopback, seeds
# Salesforce, creates and edits contracts on both sides and prints each sync as it happens (which
# way, what changed, how long it took: scripts/demo_walk.py), then leaves both running until
# Ctrl-C. When its input is not a terminal (or CI is set) it stops both at the end instead.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
CONFIG=$ROOT/config/examples/demo.yaml
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
# The emulator's default client secret; the configuration reads it from this variable.
export CLMSYNC_DEMO_SECRET=clmsync-test-secret
tmp=$(mktemp -d)
pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in the background (its pid kept for stop) and waits, with a
# deadline, for the URL it prints first; sets URL and PID. Answers 1 (the process gone) when it
# exits first, e.g. because its port is taken. Not called in $(...): the pid must be ours.
start() {
	local name=$1; shift
	"$@" >"$tmp/$name.url" 2>"$tmp/$name.log" &
	PID=$!
	pids+=("$PID")
	for _ in $(seq 200); do
		[ -s "$tmp/$name.url" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$tmp/$name.url" ]; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
		unset 'pids[-1]'
		return 1
	fi
	URL=$(head -1 "$tmp/$name.url")
	URL2=$(sed -n 2p "$tmp/$name.url")
}
# start_on NAME ADDR:PORT CMD...: start with --listen ADDR:PORT, or on a free port when that fails.
start_on() {
	local name=$1 addr=$2; shift 2
	start "$name" "$@" --listen "$addr" && return 0
	echo "($name: $addr is not available, using a free port)"
	start "$name" "$@" --listen 127.0.0.1:0 ${FALLBACK_EXTRA:-} && return 0
	echo "$name did not start:"; cat "$tmp/$name.log"; exit 1
}

# The ports the configuration names (sfemu 8441, the repository 8440) when they are free.
sf_addr=$(sed -n 's#^ *login_url: *http://\(127\.0\.0\.1:[0-9]*\).*#\1#p' "$CONFIG" | head -1)
clm_addr=$(sed -n 's#^ *listen: *\(127\.0\.0\.1:[0-9]*\).*#\1#p' "$CONFIG" | head -1)
[ -n "$sf_addr" ] || { echo "$CONFIG: no org with login_url http://127.0.0.1:PORT"; exit 1; }
start_on sfemu "$sf_addr" "$BUILD/sfemu"
SF=$URL SF_PID=$PID
cfg=$CONFIG
if [ "$SF" != "http://$sf_addr" ]; then
	# sfemu is elsewhere: the same configuration with the org's URLs pointing at it
	cfg=$tmp/demo.yaml
	sed "s#http://$sf_addr#$SF#g" "$CONFIG" >"$cfg"
fi
# --data keeps the store and the admin token in the demo's own directory (removed at the end)
FALLBACK_EXTRA="--admin-listen 127.0.0.1:0" \
	start_on clmsync "${clm_addr:-127.0.0.1:0}" "$BUILD/clmsync" serve --config "$cfg" --data "$tmp/data"
CLM=$URL CLM_PID=$PID ADMIN=$URL2
echo "Salesforce (sfemu):            $SF"
echo "contract repository (clmsync): $CLM   (clmsync serve --config ${cfg#"$ROOT"/})"
echo "admin API and metrics:         $ADMIN   (/admin/v1/status, /metrics, /readyz)"
echo

if ! python3 "$ROOT/scripts/demo_walk.py" "$SF" "$CLM" "$tmp/data/api-token" "$tmp/sf-token"; then
	echo "--- the last lines of clmsync's log:"
	tail -n 20 "$tmp/clmsync.log"
	exit 1
fi
echo
echo "Both are running:"
echo "  Salesforce (sfemu):            $SF   (REST under $SF/services/data/v62.0)"
echo "  contract repository (clmsync): $CLM   (REST under $CLM/api/v1)"
echo "  admin API (same token):        $ADMIN/admin/v1/status   metrics: $ADMIN/metrics"
echo "  admin token for the repository in $tmp/data/api-token, Salesforce token in $tmp/sf-token"
echo "  clmsync's log: $tmp/clmsync.log   (syncing both ways: edit either side and watch the other)"
if [ -t 0 ] && [ -z "${CI:-}" ]; then
	echo "Press Ctrl-C to stop both (their data goes with them)."
	# until Ctrl-C, or until one of them ends by itself
	set +e
	wait -n "$SF_PID" "$CLM_PID"
	echo "a server stopped unexpectedly; stopping the demo"
	exit 1
else
	echo "Input is not a terminal: stopping both now."
fi

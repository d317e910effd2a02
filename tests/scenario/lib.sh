# lib.sh - helpers for scenario tests that run the real binaries on loopback.
# Source it; call start_sfemu; use expect_* ; everything started is stopped by pid on exit.
set -euo pipefail
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY

BUILD=${1:?usage: $0 BUILD_DIR}
WORK=$(mktemp -d)
PIDS=()
FAILS=0
PASSES=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$FAILS" -ne 0 ]; then
		echo "--- logs kept in $WORK"
		for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 50 "$f"; }; done
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# start_sfemu NAME [args...]: starts sfemu on a free port; sets URL_<NAME> and PID_<NAME>.
start_sfemu() {
	local name=$1; shift
	"$BUILD/sfemu" --listen 127.0.0.1:0 "$@" >"$WORK/$name.url" 2>"$WORK/$name.log" &
	local pid=$!
	PIDS+=("$pid")
	local deadline=$((SECONDS + 10))
	while [ ! -s "$WORK/$name.url" ]; do
		kill -0 "$pid" 2>/dev/null || { echo "sfemu $name exited"; cat "$WORK/$name.log"; exit 1; }
		[ $SECONDS -lt $deadline ] || { echo "sfemu $name did not start"; exit 1; }
		sleep 0.02
	done
	printf -v "URL_$name" '%s' "$(head -1 "$WORK/$name.url")"
	printf -v "PID_$name" '%s' "$pid"
}

# start_clmsync NAME [args...]: starts `clmsync serve` on a free port with its data in
# $WORK/NAME-data; sets URL_<NAME>, PID_<NAME>, DATA_<NAME> and TOKEN_<NAME> (the admin token
# the first start creates, when no other token is configured) and ADMIN_<NAME> (the admin listener).
# CLMSYNC_BIN, when set, is run instead of $BUILD/clmsync (the soak's clmsync-chaos).
start_clmsync() {
	local name=$1; shift
	local data="$WORK/$name-data"
	"${CLMSYNC_BIN:-$BUILD/clmsync}" serve --data "$data" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 "$@" >"$WORK/$name.url" 2>"$WORK/$name.log" &
	local pid=$!
	PIDS+=("$pid")
	local deadline=$((SECONDS + 10))
	while [ ! -s "$WORK/$name.url" ]; do
		kill -0 "$pid" 2>/dev/null || { echo "clmsync $name exited"; cat "$WORK/$name.log"; exit 1; }
		[ $SECONDS -lt $deadline ] || { echo "clmsync $name did not start"; exit 1; }
		sleep 0.02
	done
	printf -v "URL_$name" '%s' "$(head -1 "$WORK/$name.url")"
	printf -v "ADMIN_$name" '%s' "$(sed -n 2p "$WORK/$name.url")"
	printf -v "PID_$name" '%s' "$pid"
	printf -v "DATA_$name" '%s' "$data"
	printf -v "TOKEN_$name" '%s' "$(head -1 "$data/api-token" 2>/dev/null || true)"
}

# req METHOD URL [curl args...]: sets STATUS and BODY.
req() {
	local method=$1 url=$2; shift 2
	local out
	out=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" "$@" "$url") || out=000
	STATUS=$out
	BODY=$(cat "$WORK/body" 2>/dev/null || true)
}

ok() { PASSES=$((PASSES + 1)); echo "ok   $*"; }
bad() { FAILS=$((FAILS + 1)); echo "FAIL $*"; }

# expect_status WANT what
expect_status() {
	if [ "$STATUS" = "$1" ]; then ok "$2 (HTTP $1)"; else bad "$2: HTTP $STATUS, wanted $1; body: ${BODY:0:300}"; fi
}

# expect_json PYTHON-EXPR what: evaluates EXPR with j = parsed BODY; passes when truthy.
expect_json() {
	if BODY="$BODY" python3 -c "import json,os,sys; j=json.loads(os.environ['BODY']); sys.exit(0 if ($1) else 1)" 2>/dev/null; then
		ok "$2"
	else
		bad "$2: '$1' is false for body: ${BODY:0:400}"
	fi
}

finish() {
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}

# start_sync NAME CONFIG_PY_ARGS...: writes $WORK/NAME.yaml with sync_config.py (the orgs' sfemu
# URLs and the mapping options it takes) and starts `clmsync serve` with it (start_clmsync).
start_sync() {
	local name=$1; shift
	python3 "$(dirname "${BASH_SOURCE[0]}")/sync_config.py" "$WORK/$name-data/clmsync.db" "$@" >"$WORK/$name.yaml"
	CLMSYNC_TEST_SECRET=clmsync-test-secret start_clmsync "$name" --config "$WORK/$name.yaml"
}

# wait_dead PID: waits (with a deadline) until the process is gone.
wait_dead() {
	local deadline=$((SECONDS + 20))
	while kill -0 "$1" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || { echo "process $1 did not stop"; return 1; }
		sleep 0.05
	done
}

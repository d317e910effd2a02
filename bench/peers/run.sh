#!/usr/bin/env bash
# clmsync and its peers side by side: the same workload (bench/peers/driver.py) against each
# system in turn, each with a fresh sfemu and a fresh repository, on this machine, in one run;
# then bench/peers/report.py writes bench/results/peers.md.
#   bash bench/peers/run.sh [BUILD]      (make peers)
# Environment: PEERS (default "clmsync jsforce n8n"), PEERS_CONTRACTS, PEERS_LAT_N,
# PEERS_LAT_INTERVAL_MS, PEERS_BURST, PEERS_PAIRS, PEERS_INTERLEAVED, PEERS_ROUND_GAP_MS,
# PEERS_DEADLINE, PEERS_QUIET (sizes, see driver.py), PEERS_N8N_AGE (seconds n8n's Salesforce edits
# wait for the contracts to age, default 975), PEERS_OUT (the report), PEERS_KEEP=1 keeps
# the scratch directory (logs, figures). jsforce and n8n are installed from npm on first use into
# bench/peers/node_modules and bench/peers/n8n/node_modules (ignored by git).
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/peers
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
OUT=${PEERS_OUT:-$ROOT/bench/results/peers.md}
SYSTEMS=${PEERS:-clmsync jsforce n8n}
START_S=60      # a server must be up within this

for b in clmsync sfemu; do [ -x "$BUILD/$b" ] || { echo "peers: $BUILD/$b not built" >&2; exit 2; }; done
for tool in node npm python3; do command -v $tool >/dev/null || { echo "peers: '$tool' not found" >&2; exit 2; }; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clmsync-peers.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "${PEERS_KEEP:-0}" = 1 ]; then echo "peers: scratch kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# npm may need a proxy to reach the registry; everything else talks to 127.0.0.1 only.
npm_env=(env)
noproxy=(env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY)

# stop PID: SIGTERM, then wait for it (SIGKILL after 15 s)
stop() {
	local p=$1 k
	kill "$p" 2>/dev/null || return 0
	for k in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

# first_line FILE PID WHAT: waits for FILE's first line while PID lives; prints it
first_line() {
	local f=$1 p=$2 what=$3 end=$((SECONDS + START_S)) line
	while :; do
		if [ -s "$f" ] && IFS= read -r line <"$f" && [ -n "$line" ]; then echo "$line"; return 0; fi
		kill -0 "$p" 2>/dev/null || { echo "peers: $what exited while starting" >&2; return 1; }
		[ $SECONDS -lt $end ] || { echo "peers: $what not up within ${START_S}s" >&2; return 1; }
		sleep 0.05
	done
}

# wait_log FILE PATTERN PID WHAT: waits for PATTERN in FILE while PID lives
wait_log() {
	local f=$1 pat=$2 p=$3 what=$4 end=$((SECONDS + ${5:-$START_S}))
	until grep -q "$pat" "$f" 2>/dev/null; do
		kill -0 "$p" 2>/dev/null || { echo "peers: $what exited while starting; its log:" >&2; tail -30 "$f" >&2; return 1; }
		[ $SECONDS -lt $end ] || { echo "peers: $what not ready within ${5:-$START_S}s; its log:" >&2; tail -30 "$f" >&2; return 1; }
		sleep 0.1
	done
}

install_jsforce() {
	local v
	v=$(cd "$HERE" && node -e "try{console.log(require('./node_modules/jsforce/package.json').version)}catch(e){}")
	[ "$v" = "$(node -e "console.log(require('$HERE/package.json').dependencies.jsforce)")" ] && return 0
	echo "peers: installing jsforce into $HERE/node_modules"
	(cd "$HERE" && "${npm_env[@]}" npm install --no-audit --no-fund --no-package-lock >"$tmp/npm-jsforce.log" 2>&1) ||
		{ tail -20 "$tmp/npm-jsforce.log" >&2; return 1; }
}

# start_sfemu DIR: a fresh org; sets SF and SFPID
start_sfemu() {
	local d=$1
	"${noproxy[@]}" "$BUILD/sfemu" --listen 127.0.0.1:0 --api-daily-limit 1000000000 --retention 3600 \
		--log-level warn >"$d/sf.url" 2>"$d/sf.log" &
	SFPID=$!
	pids+=("$SFPID")
	SF=$(first_line "$d/sf.url" "$SFPID" sfemu)
}

# start_repo DIR [--no-sync]: a fresh repository (and, without --no-sync, clmsync's engine); sets CLM, CLMPID
start_repo() {
	local d=$1
	shift
	python3 "$ROOT/tests/scenario/sync_config.py" "$d/data/clmsync.db" "peers=$SF" \
		description_conflict=last_writer_wins >"$d/clmsync.yaml"
	"${noproxy[@]}" CLMSYNC_TEST_SECRET=clmsync-test-secret "$BUILD/clmsync" serve --config "$d/clmsync.yaml" \
		--data "$d/data" --listen 127.0.0.1:0 --admin-listen off "$@" >"$d/clm.url" 2>"$d/clm.log" &
	CLMPID=$!
	pids+=("$CLMPID")
	CLM=$(first_line "$d/clm.url" "$CLMPID" "clmsync serve")
	local end=$((SECONDS + START_S))
	until [ -s "$d/data/api-token" ]; do [ $SECONDS -lt $end ] || { echo "peers: no api-token" >&2; return 1; }; sleep 0.05; done
}

drive() {   # drive SYSTEM DIR SYNCPID [driver options]
	local sys=$1 dir=$2 spid=$3
	shift 3
	"${noproxy[@]}" python3 "$HERE/driver.py" --system "$sys" --sf "$SF" --clm "$CLM" --token-file "$dir/data/api-token" \
		--pid "$spid" --out "$tmp/$sys.json" "$@" \
		${PEERS_CONTRACTS:+--contracts $PEERS_CONTRACTS} ${PEERS_LAT_N:+--lat-n $PEERS_LAT_N} \
		${PEERS_LAT_INTERVAL_MS:+--lat-interval-ms $PEERS_LAT_INTERVAL_MS} ${PEERS_BURST:+--burst $PEERS_BURST} \
		${PEERS_PAIRS:+--pairs $PEERS_PAIRS} ${PEERS_INTERLEAVED:+--interleaved $PEERS_INTERLEAVED} \
		${PEERS_ROUND_GAP_MS:+--round-gap-ms $PEERS_ROUND_GAP_MS} ${PEERS_DEADLINE:+--deadline $PEERS_DEADLINE} \
		${PEERS_QUIET:+--quiet $PEERS_QUIET} 2>&1 | tee "$dir/driver.log"
	return "${PIPESTATUS[0]}"
}

run_clmsync() {
	local d=$tmp/clmsync
	mkdir -p "$d"
	start_sfemu "$d"
	start_repo "$d"
	wait_log "$d/clm.log" "subscribed to" "$CLMPID" "clmsync serve"
	drive clmsync "$d" "$CLMPID"
	stop "$CLMPID"
	"$BUILD/clmsync" --version 2>/dev/null | head -1 >"$tmp/clmsync.version" || echo "clmsync (this tree)" >"$tmp/clmsync.version"
	grep -c ' warn \| error ' "$d/clm.log" >"$tmp/clmsync.warnings" || true
	stop "$SFPID"
}

run_jsforce() {
	local d=$tmp/jsforce
	mkdir -p "$d"
	install_jsforce
	start_sfemu "$d"
	start_repo "$d" --no-sync
	(cd "$HERE" && exec "${noproxy[@]}" SF_URL="$SF" SF_USERNAME=integration@clmsync.test \
		SF_PASSWORD=clmsync-test-password SF_CLIENT_ID=clmsync-test-client SF_CLIENT_SECRET=clmsync-test-secret \
		CLM_URL="$CLM" CLM_TOKEN_FILE="$d/data/api-token" node jsforce-sync.js) 2>"$d/jsforce.log" &
	local jpid=$!
	pids+=("$jpid")
	wait_log "$d/jsforce.log" "following the change feed" "$jpid" "jsforce-sync.js"
	drive jsforce "$d" "$jpid"
	stop "$jpid"
	(cd "$HERE" && node -e "console.log(require('jsforce/package.json').version)") >"$tmp/jsforce.version"
	grep -c 'failed' "$d/jsforce.log" >"$tmp/jsforce.warnings" || true
	stop "$CLMPID"
	stop "$SFPID"
}

run_n8n() {
	local d=$tmp/n8n
	mkdir -p "$d"
	if ! bash "$HERE/n8n.sh" install "$tmp/n8n-install.log"; then
		echo "peers: n8n could not be installed; see the report" >&2
		cp "$tmp/n8n-install.log" "$tmp/n8n.failed" 2>/dev/null || true
		return 0
	fi
	start_sfemu "$d"
	start_repo "$d" --no-sync
	if ! SF="$SF" CLM="$CLM" CLM_TOKEN_FILE="$d/data/api-token" bash "$HERE/n8n.sh" start "$d" 2>&1 | tee "$d/n8n-setup.log"; then
		echo "peers: n8n could not be started; see the report" >&2
		cp "$d/n8n-setup.log" "$tmp/n8n.failed"
		tail -40 "$d/n8n.log" >>"$tmp/n8n.failed" 2>/dev/null || true
		[ -s "$d/n8n.pid" ] && stop "$(cat "$d/n8n.pid")"
		stop "$CLMPID"; stop "$SFPID"
		return 0
	fi
	local npid
	npid=$(cat "$d/n8n.pid")
	pids+=("$npid")
	# n8n's Salesforce Trigger reports no update of a record created less than 15 minutes before
	# its previous poll (bench/results/peers.md): its Salesforce edits wait until the contracts
	# are 16 minutes old. The edits are the same; only the idle time before them differs.
	drive n8n "$d" "$npid" --age "${PEERS_N8N_AGE:-975}"
	stop "$npid"
	bash "$HERE/n8n.sh" version >"$tmp/n8n.version"
	grep -ci 'error' "$d/n8n.log" >"$tmp/n8n.warnings" || true
	stop "$CLMPID"
	stop "$SFPID"
}

node --version >"$tmp/node.version"
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev="$rev (with uncommitted changes)"
echo "$rev" >"$tmp/tree.rev"
for s in $SYSTEMS; do
	echo "peers: === $s ==="
	"run_$s"
done
python3 "$HERE/report.py" --dir "$tmp" --out "$OUT" --systems "$SYSTEMS" --command "bash bench/peers/run.sh ${1:-build}" \
	--summary "$tmp/summary.md"
echo "peers: report in $OUT; README.md's summary rows:"
cat "$tmp/summary.md"

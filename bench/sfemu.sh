#!/usr/bin/env bash
# sfemu throughput: record GET, a 200-record sObject Collections update and a query page, with
# wrk's keep-alive connections on loopback; the unauthenticated versions list is the baseline
# (the server's floor per request). Writes bench/results/sfemu.md.
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/bench/results/sfemu.md
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
DUR=${BENCH_SECONDS:-10}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-16}
command -v wrk >/dev/null || { echo "bench: installing wrk"; apt-get install -y -qq wrk >/dev/null; }

tmp=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$(pgrep -P "$pid")" "$pid" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY

/usr/bin/time -v -o "$tmp/time" "$BUILD/sfemu" --listen 127.0.0.1:0 --access-token bench \
	--api-daily-limit 1000000000 --retention 5 --log-level warn >"$tmp/url" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.05; done
URL=$(head -1 "$tmp/url")
[ -n "$URL" ] || { cat "$tmp/err"; exit 1; }
B=$URL/services/data/v62.0
H=(-H "Authorization: Bearer bench" -H "Content-Type: application/json")

# Seed: one Account, 200 Contracts to update, 2,000 Accounts for the query page.
acc=$(curl -sf "${H[@]}" -X POST "$B/sobjects/Account" -d '{"Name":"Bench"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
python3 - "$acc" >"$tmp/create.json" <<'PY'
import json, sys
print(json.dumps({"allOrNone": False, "records": [
    {"attributes": {"type": "Contract"}, "AccountId": sys.argv[1], "Name": "C%d" % i} for i in range(200)]}))
PY
curl -sf "${H[@]}" -X POST "$B/composite/sobjects" --data-binary @"$tmp/create.json" >"$tmp/created.json"
python3 - "$tmp/created.json" >"$tmp/update.json" <<'PY'
import json, sys
ids = [r["id"] for r in json.load(open(sys.argv[1]))]
print(json.dumps({"allOrNone": False, "records": [
    {"attributes": {"type": "Contract"}, "id": i, "Description": "bench"} for i in ids]}))
PY
for n in $(seq 10); do
	python3 - "$n" >"$tmp/acc.json" <<'PY'
import json, sys
print(json.dumps({"records": [{"attributes": {"type": "Account"}, "Name": "Q%s-%d" % (sys.argv[1], i)} for i in range(200)]}))
PY
	curl -sf "${H[@]}" -X POST "$B/composite/sobjects" --data-binary @"$tmp/acc.json" >/dev/null
done

cat >"$tmp/patch.lua" <<LUA
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Bearer bench"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$tmp/update.json", "r"); wrk.body = f:read("*a"); f:close()
LUA
cat >"$tmp/auth.lua" <<'LUA'
wrk.headers["Authorization"] = "Bearer bench"
LUA

run() { # name, url, script
	local name=$1 url=$2 script=${3:-}
	local args=(-t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency)
	[ -n "$script" ] && args+=(-s "$script")
	wrk "${args[@]}" "$url" >"$tmp/$name.txt"
	local rps p50 p99 non2xx
	rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$name.txt")
	p50=$(awk '$1=="50%" {print $2}' "$tmp/$name.txt")
	p99=$(awk '$1=="99%" {print $2}' "$tmp/$name.txt")
	non2xx=$(awk '/Non-2xx/ {print $5}' "$tmp/$name.txt"); non2xx=${non2xx:-0}
	echo "$name $rps $p50 $p99 $non2xx"
}

q=$(python3 -c 'import urllib.parse;print(urllib.parse.quote("SELECT Id, Name, CreatedDate FROM Account WHERE Name LIKE '"'"'Q%'"'"' ORDER BY Name LIMIT 2000"))')
base=$(run baseline "$URL/services/data/")
get=$(run record_get "$B/sobjects/Account/$acc" "$tmp/auth.lua")
coll=$(run collections_update "$B/composite/sobjects" "$tmp/patch.lua")
qry=$(run query_page "$B/query?q=$q" "$tmp/auth.lua")
events=$(curl -sf "$URL/__emu/counters" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("composite/sobjects",0))')
# stop sfemu itself (the child of time), so that time reports its peak memory
kill "$(pgrep -P "$pid")"; wait "$pid" || true; pid=""
rss=$(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' "$tmp/time")

{
	echo "# sfemu throughput"
	echo
	echo "Measured by \`make bench\` (bench/sfemu.sh) on $(date -u +%Y-%m-%d), $(nproc) cores, wrk -t$THREADS -c$CONNS -d${DUR}s, keep-alive, loopback."
	echo "$(uname -sr); $(gcc --version | head -1)."
	echo
	echo "| workload | requests/s | records/s | p50 | p99 | non-2xx |"
	echo "|---|---:|---:|---:|---:|---:|"
	for row in "$base" "$get" "$coll" "$qry"; do
		set -- $row
		recs=$2
		[ "$1" = collections_update ] && recs=$(python3 -c "print(round($2*200))")
		[ "$1" = query_page ] && recs=$(python3 -c "print(round($2*2000))")
		echo "| $1 | $2 | $recs | $3 | $4 | $5 |"
	done
	echo
	echo "- baseline: \`GET /services/data/\` (no authentication, no store access): the server's floor."
	echo "- record_get: \`GET /sobjects/Account/{id}\`, authenticated, counted against the API limit."
	echo "- collections_update: \`PATCH /composite/sobjects\` with 200 Contracts, each a real update that"
	echo "  publishes a change event (records/s = requests/s x 200)."
	echo "- query_page: a 2,000-row SOQL page with WHERE LIKE and ORDER BY over 2,001 Accounts."
	echo "- collections calls made: $events; peak resident memory of sfemu over the run: ${rss} KiB."
} >"$OUT"
cat "$OUT"

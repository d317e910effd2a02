#!/usr/bin/env bash
# The contract repository over HTTP: contract creates and updates per second with wrk's keep-alive
# connections (every request a unique body, so every write is a real change with its history and
# change-feed rows), change-feed reads in pages of 1,000, and the server's peak memory; GET
# /healthz is the baseline (the server's floor per request). Writes bench/results/repository.md.
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
OUT=$ROOT/bench/results/repository.md
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

CMD=("$BUILD/clmsync" serve --data "$tmp/data" --listen 127.0.0.1:0 --admin-listen off)
/usr/bin/time -v -o "$tmp/time" "${CMD[@]}" >"$tmp/url" 2>"$tmp/err" &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/url" ] && break; sleep 0.05; done
URL=$(head -1 "$tmp/url")
[ -n "$URL" ] || { cat "$tmp/err"; exit 1; }
TOKEN=$(head -1 "$tmp/data/api-token")
U=$URL/api/v1

# Seed: 1,000 contracts for the updates to change, on keep-alive connections.
python3 - "$URL" "$TOKEN" >"$tmp/ids" <<'PY'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port)
for i in range(1000):
    c.request("POST", "/api/v1/contracts", json.dumps({"title": "seed %d" % i, "type": "msa"}),
              {"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"})
    r = c.getresponse()
    print(json.loads(r.read())["id"])
PY

cat >"$tmp/common.lua" <<LUA
local counter = 1
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
n = 0
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/json"
LUA
{ cat "$tmp/common.lua"; cat <<'LUA'; } >"$tmp/create.lua"
request = function()
  n = n + 1
  return wrk.format("POST", "/api/v1/contracts", nil, string.format(
    '{"title":"bench %d-%d","type":"msa","owner":"bench","effective_date":"2026-01-01","term_months":12,' ..
    '"total_value":{"amount":"%d.50","currency":"EUR"}}', tid, n, n))
end
LUA
{ cat "$tmp/common.lua"; echo "ids = {}"; echo "for l in io.lines(\"$tmp/ids\") do ids[#ids + 1] = l end"; cat <<'LUA'; } >"$tmp/update.lua"
request = function()
  n = n + 1
  -- each thread walks the ids from its own offset: two connections rarely change one record at once
  local id = ids[((n * 7 + tid * 500) % #ids) + 1]
  return wrk.format("PATCH", "/api/v1/contracts/" .. id, nil,
    string.format('{"payment_terms":"net %d-%d"}', tid, n))
end
LUA
cat >"$tmp/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
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

base=$(run baseline "$URL/healthz")
create=$(run contract_create "$U/contracts" "$tmp/create.lua")
update=$(run contract_update "$U/contracts" "$tmp/update.lua")
head=$(curl -sf -H "Authorization: Bearer $TOKEN" "$U/changes?after=0&limit=1" >/dev/null;
	python3 - "$URL" "$TOKEN" <<'PY'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port)
after = 0
while True:
    c.request("GET", "/api/v1/changes?after=%d&limit=10000" % after, headers={"Authorization": "Bearer " + sys.argv[2]})
    j = json.loads(c.getresponse().read())
    if not j["data"]:
        break
    after = j["next_after"]
print(after)
PY
)
{ cat "$tmp/common.lua"; cat <<LUA; } >"$tmp/feed.lua"
request = function()
  n = n + 1
  -- full pages from all over the feed: after = 0, 1000, 2000, ... below the head
  local after = ((n * $THREADS + tid) * 1000) % ($head - 1000)
  return wrk.format("GET", "/api/v1/changes?limit=1000&after=" .. after)
end
LUA
feed=$(run feed_page_1000 "$U/changes" "$tmp/feed.lua")
# stop clmsync itself (the child of time), so that time reports its peak memory
kill "$(pgrep -P "$pid")"; wait "$pid" || true; pid=""
rss=$(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' "$tmp/time")
dbsize=$(du -k "$tmp/data/clmsync.db" | cut -f1)

{
	echo "# Contract repository throughput"
	echo
	echo "Measured by \`make bench\` (bench/repository.sh) on $(date -u +%Y-%m-%d), $(nproc) cores"
	echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -sr); $(gcc --version | head -1)."
	echo "Server: \`clmsync serve --data DIR --listen 127.0.0.1:0\` (embedded defaults: SQLite WAL,"
	echo "synchronous=NORMAL) under \`/usr/bin/time -v\`. Load: \`wrk -t$THREADS -c$CONNS -d${DUR}s --latency -s SCRIPT URL\`,"
	echo "keep-alive, loopback, client and server on the same cores."
	echo
	echo "| workload | requests/s | rows/s | p50 | p99 | non-2xx |"
	echo "|---|---:|---:|---:|---:|---:|"
	for row in "$base" "$create" "$update" "$feed"; do
		set -- $row
		rows=$2
		[ "$1" = feed_page_1000 ] && rows=$(python3 -c "print(round($2*1000))")
		echo "| $1 | $2 | $rows | $3 | $4 | $5 |"
	done
	echo
	echo "- baseline: \`GET /healthz\` (no authentication, no store): the HTTP server's floor."
	echo "- contract_create: \`POST /api/v1/contracts\`, a unique title and amount per request; each is one"
	echo "  transaction writing the record, its history row and its change-feed row."
	echo "- contract_update: \`PATCH /api/v1/contracts/{id}\` over 1,000 contracts, a new payment_terms per"
	echo "  request (a real change: new version, history row, change row)."
	echo "- feed_page_1000: \`GET /api/v1/changes?after=N&limit=1000\`, full pages from all over a feed of"
	echo "  $head rows (rows/s = requests/s x 1,000)."
	echo "- targets (issue 3): >= 5,000 writes/s over HTTP, >= 100,000 change rows/s read."
	echo "- peak resident memory of clmsync over the run: ${rss} KiB; store file at the end: ${dbsize} KiB."
} >"$OUT"
cat "$OUT"

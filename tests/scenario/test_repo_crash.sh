#!/usr/bin/env bash
# test_repo_crash.sh - kill -9 the server during a write burst; after a restart on the same data
# every acknowledged write is there at its version with its change-feed row, and nothing is
# half-written (history and feed hold versions 1..current of every record, once each).
. "$(dirname "$0")/lib.sh"
CLIENT="$(dirname "$0")/repo_client.py"

start_clmsync repo
T=$TOKEN_repo
: >"$WORK/acks"
# four clients write until the server goes away (N=0)
python3 "$CLIENT" writes "$URL_repo" "$T" 0 4 "$WORK/acks" >"$WORK/writers.out" 2>&1 &
WRITERS=$!
PIDS+=("$WRITERS")
deadline=$((SECONDS + 30))
while [ "$(wc -l <"$WORK/acks" 2>/dev/null || echo 0)" -lt 3000 ]; do
	[ $SECONDS -lt $deadline ] || { bad "the writers did not get 3000 acknowledgements in 30 s"; break; }
	kill -0 "$WRITERS" 2>/dev/null || { bad "the writers stopped: $(cat "$WORK/writers.out")"; break; }
	sleep 0.05
done
kill -9 "$PID_repo"
wait "$PID_repo" 2>/dev/null || true
wait "$WRITERS" 2>/dev/null || true
n=$(wc -l <"$WORK/acks")
ok "killed the server with -9 after $n acknowledged writes, writes still in flight"

# restart on the same data directory (the last --data wins)
start_clmsync again --data "$DATA_repo"
python3 - "$URL_again" "$T" "$WORK/acks" >"$WORK/check.log" 2>&1 <<'PY' && ok "after restart: $(tail -1 "$WORK/check.log")" || bad "after restart: $(cat "$WORK/check.log")"
import http.client, json, sys, urllib.parse
url, token, acks_path = sys.argv[1:4]
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
def get(path):
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    return r.status, json.loads(r.read())
acked = {}
for line in open(acks_path):
    i, v = line.split()
    acked[i] = max(acked.get(i, 0), int(v))
feed, after = [], 0
while True:
    st, j = get("/api/v1/changes?after=%d&limit=10000" % after)
    assert st == 200, (st, j)
    if not j["data"]:
        break
    feed += j["data"]
    after = j["next_after"]
seqs = [r["seq"] for r in feed]
problems = []
if any(b <= a for a, b in zip(seqs, seqs[1:])):
    problems.append("feed seq not strictly increasing")
by_id = {}
for r in feed:
    by_id.setdefault(r["id"], []).append(r["version"])
for i, v in acked.items():
    st, rec = get("/api/v1/counterparties/" + i)
    if st != 200:
        problems.append("%s acknowledged at version %d is missing (HTTP %d)" % (i, v, st))
        continue
    cur = rec["version"]
    if cur < v:
        problems.append("%s acknowledged at version %d is at %d" % (i, v, cur))
    st, h = get("/api/v1/counterparties/%s/history" % i)
    hv = [x["version"] for x in h["data"]]
    if hv != list(range(1, cur + 1)):
        problems.append("%s at version %d has history versions %s" % (i, cur, hv))
    if sorted(by_id.get(i, [])) != list(range(1, cur + 1)):
        problems.append("%s at version %d has feed rows for versions %s" % (i, cur, sorted(by_id.get(i, []))))
# records written but not acknowledged (the answer was lost in the crash) must be whole too
for i, vs in by_id.items():
    if i in acked:
        continue
    st, rec = get("/api/v1/counterparties/" + i)
    if st != 200 or sorted(vs) != list(range(1, rec["version"] + 1)):
        problems.append("unacknowledged %s: HTTP %d, feed versions %s" % (i, st, sorted(vs)))
for p in problems[:20]:
    print("PROBLEM", p)
print("%d acknowledged records checked, %d feed rows, %d written but unacknowledged" %
      (len(acked), len(feed), len(set(by_id) - set(acked))))
sys.exit(1 if problems else 0)
PY

finish

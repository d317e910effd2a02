#!/usr/bin/env bash
# test_repo_feed_concurrency.sh - 10,000 writes from 8 concurrent keep-alive clients: the change
# feed has exactly one row per acknowledged write, in strictly increasing, gap-free sequence;
# a long poll wakes within a second of a write.
. "$(dirname "$0")/lib.sh"
CLIENT="$(dirname "$0")/repo_client.py"

start_clmsync repo
U="$URL_repo/api/v1"
T=$TOKEN_repo
[ -n "$T" ] && ok "first start created a token" || { bad "no token in $DATA_repo/api-token"; finish; }

# --- 10,000 writes (creates and updates) from 8 clients at once
read -r acked errors secs < <(python3 "$CLIENT" writes "$URL_repo" "$T" 10000 8 "$WORK/acks")
[ "$acked" = 10000 ] && ok "10000 writes acknowledged in ${secs}s ($errors refused and retried)" ||
	bad "acknowledged $acked of 10000 ($errors errors)"
python3 "$CLIENT" feed "$URL_repo" "$T" "$WORK/feed.jsonl"
if python3 "$CLIENT" check-feed "$WORK/feed.jsonl" "$WORK/acks" >"$WORK/check.log"; then
	ok "feed: one row per acknowledged write, seq strictly increasing, no gap, no duplicate ($(head -1 "$WORK/check.log"))"
else
	bad "feed check: $(cat "$WORK/check.log")"
fi

# --- a long poll at the head wakes within a second of a write
HEAD=$(python3 -c 'import json,sys; print(max(json.loads(l)["seq"] for l in open(sys.argv[1])))' "$WORK/feed.jsonl")
python3 - "$URL_repo" "$T" "$HEAD" >"$WORK/poll.out" 2>&1 <<'PY' || true
import http.client, json, sys, threading, time, urllib.parse
url, token, head = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(url)
got = {}
def poll():
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("GET", "/api/v1/changes?after=%d&wait=10" % head, headers={"Authorization": "Bearer " + token})
    got["body"] = json.loads(c.getresponse().read())
    got["t"] = time.monotonic()
t = threading.Thread(target=poll)
t.start()
# Not a wait for a condition: the poll must be parked in the server before the write, or the
# test would measure an immediate answer instead of a wake-up. The server's own reply to the
# write is then the reference point.
time.sleep(0.5)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
c.request("POST", "/api/v1/counterparties", body=json.dumps({"legal_name": "Wake Up Ltd"}),
          headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
r = c.getresponse()
created = json.loads(r.read())
t_ack = time.monotonic()
t.join(15)
rows = got.get("body", {}).get("data", [])
ok = bool(rows) and rows[0]["id"] == created["id"] and "t" in got
print("woke" if ok else "no-wake", "%.0f" % (max(0.0, got.get("t", 99) - t_ack) * 1000))
PY
read -r what ms <"$WORK/poll.out" || true
if [ "$what" = woke ] && [ "$ms" -lt 1000 ]; then ok "long poll woke ${ms} ms after the write was acknowledged"
else bad "long poll: $(cat "$WORK/poll.out")"; fi

finish

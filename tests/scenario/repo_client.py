#!/usr/bin/env python3
"""repo_client.py - keep-alive HTTP clients for the repository's scenario tests and bench.

  writes URL TOKEN N CLIENTS ACKS   N writes (creates, then updates of each client's own
                                    records) from CLIENTS threads, each on one keep-alive
                                    connection; every 2xx is appended to ACKS as
                                    "id version" and flushed at once. N=0: until the server
                                    goes away. Prints "acked errors seconds".
  feed URL TOKEN OUT                the whole change feed, paged by 10,000, as JSON lines.
  check-feed FEED ACKS              the feed has exactly one row per acknowledged write, seq
                                    strictly increasing and contiguous.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse


def conn_of(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def call(c, method, path, token, body=None, headers=None):
    h = {"Authorization": "Bearer " + token}
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body)
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data else None)


def writes(url, token, n, clients, acks_path):
    lock = threading.Lock()
    acks = open(acks_path, "a")
    totals = {"acked": 0, "errors": 0}
    per = [n // clients + (1 if i < n % clients else 0) for i in range(clients)] if n else [0] * clients

    def worker(k, quota):
        c = conn_of(url)
        mine = []          # ids this client created, with their last version
        i = 0
        while quota == 0 or i < quota:
            i += 1
            try:
                if not mine or i % 2 == 1:
                    st, j = call(c, "POST", "/api/v1/counterparties", token,
                                 {"legal_name": "client %d write %d" % (k, i), "country": "DE"})
                else:
                    idx = i % len(mine)
                    cid, ver = mine[idx]
                    st, j = call(c, "PATCH", "/api/v1/counterparties/" + cid, token,
                                 {"registration_number": "R-%d-%d" % (k, i)})
            except (OSError, http.client.HTTPException):
                if quota == 0:
                    return      # the server went away (crash test)
                c.close()
                c = conn_of(url)
                with lock:
                    totals["errors"] += 1
                continue
            if 200 <= st < 300:
                if j["version"] == 1:
                    mine.append((j["id"], 1))
                else:
                    mine[idx] = (j["id"], j["version"])
                with lock:
                    acks.write("%s %d\n" % (j["id"], j["version"]))
                    acks.flush()
                    totals["acked"] += 1
            else:
                with lock:
                    totals["errors"] += 1
                if quota:
                    i -= 1      # 503 store_busy: try again, the quota counts acknowledged writes

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(k, per[k])) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(totals["acked"], totals["errors"], "%.2f" % (time.monotonic() - t0))


def feed(url, token, out):
    c = conn_of(url)
    after = 0
    with open(out, "w") as f:
        while True:
            st, j = call(c, "GET", "/api/v1/changes?after=%d&limit=10000" % after, token)
            assert st == 200, (st, j)
            for row in j["data"]:
                f.write(json.dumps(row) + "\n")
            if not j["data"]:
                break
            after = j["next_after"]


def check_feed(feed_path, acks_path):
    rows = [json.loads(l) for l in open(feed_path)]
    acks = [tuple(l.split()) for l in open(acks_path)]
    seqs = [r["seq"] for r in rows]
    problems = []
    if any(b <= a for a, b in zip(seqs, seqs[1:])):
        problems.append("seq not strictly increasing")
    if seqs and seqs[-1] - seqs[0] + 1 != len(seqs):
        problems.append("gap in seq: %d rows span %d..%d" % (len(seqs), seqs[0], seqs[-1]))
    keys = [(r["id"], str(r["version"])) for r in rows]
    if len(set(keys)) != len(keys):
        problems.append("duplicate (id, version) rows in the feed")
    if len(set(acks)) != len(acks):
        problems.append("the same (id, version) acknowledged twice")
    missing = set(acks) - set(keys)
    extra = set(keys) - set(acks)
    if missing:
        problems.append("%d acknowledged writes have no feed row, e.g. %s" % (len(missing), sorted(missing)[:3]))
    if extra:
        problems.append("%d feed rows match no acknowledged write, e.g. %s" % (len(extra), sorted(extra)[:3]))
    print("feed rows %d, acknowledged writes %d" % (len(rows), len(acks)))
    for p in problems:
        print("PROBLEM", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "writes":
        writes(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif cmd == "feed":
        feed(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "check-feed":
        check_feed(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)

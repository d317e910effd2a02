#!/usr/bin/env python3
"""driver.py - the peer comparison's workload: the same changes, timed the same way, for any two-way sync.

bench/peers/run.sh starts a fresh sfemu, a fresh repository (`clmsync serve`) and one system under
test (clmsync itself, the jsforce script or n8n), then runs this against them. It talks only to
the repository's REST API and change feed, Salesforce REST and CDC (CometD), sfemu's
/__emu/counters and /proc, and writes its figures as one JSON object.

Every value written carries a tag unique to the change ("L1-12-…"), so that its arrival on the
other side is matched to the moment it was sent. The driver sees the other side by events, never
by polling at a fixed period: Salesforce through its own CometD subscription to
/data/ContractChangeEvent (streaming costs no API call), the repository through a long poll of
/api/v1/changes. Its own Salesforce REST calls are counted and subtracted from sfemu's api_used,
so the API figures are the sync's calls alone.

Phases: seed (contracts created in the repository), latency each way at a steady pace,
a burst each way, concurrent edits (pairs written on both sides at once, and rounds alternating
sides), convergence, a quiet window, and the final checks (lost updates, loops, duplicates).
"""
import argparse
import http.client
import json
import os
import threading
import time
import urllib.parse

API = "/services/data/v62.0"
CLIENT_ID = "clmsync-test-client"
SECRET = "clmsync-test-secret"


def now():
    return time.monotonic()


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class Conn:
    """One keep-alive HTTP connection, reopened on failure (a few retries for the driver's own calls)."""

    def __init__(self, base, timeout=90):
        u = urllib.parse.urlparse(base)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.c = None

    def call(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        data = body
        if body is not None and not isinstance(body, (str, bytes)):
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        for attempt in range(4):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.c.request(method, path, body=data, headers=h)
                r = self.c.getresponse()
                text = r.read()
                break
            except (OSError, http.client.HTTPException):
                if self.c is not None:
                    self.c.close()
                self.c = None
                if attempt == 3:
                    raise
                time.sleep(0.2)
        try:
            return r.status, json.loads(text) if text else None, r
        except ValueError:
            return r.status, text.decode("utf-8", "replace"), r


class SF:
    """The driver's Salesforce client; every REST call it makes is counted (self.calls)."""
    lock = threading.Lock()
    calls = 0

    def __init__(self, base):
        self.base = base
        self.c = Conn(base)
        st, tok, _ = self.c.call("POST", "/services/oauth2/token",
                                 "grant_type=client_credentials&client_id=%s&client_secret=%s" % (CLIENT_ID, SECRET),
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        assert st == 200, tok
        self.token = tok["access_token"]

    def api(self, method, path, body=None):
        with SF.lock:
            SF.calls += 1
        st, b, _ = self.c.call(method, API + path, body, {"Authorization": "Bearer " + self.token})
        return st, b

    def query(self, soql):
        st, b = self.api("GET", "/query?q=" + urllib.parse.quote(soql))
        assert st == 200, (st, b)
        recs = b["records"]
        while not b.get("done", True):
            with SF.lock:
                SF.calls += 1
            st, b, _ = self.c.call("GET", b["nextRecordsUrl"], headers={"Authorization": "Bearer " + self.token})
            assert st == 200, (st, b)
            recs += b["records"]
        return recs

    def counters(self):
        st, b, _ = self.c.call("GET", "/__emu/counters")
        return b


class Repo:
    def __init__(self, base, token):
        self.c = Conn(base)
        self.h = {"Authorization": "Bearer " + token}

    def api(self, method, path, body=None):
        st, b, _ = self.c.call(method, "/api/v1" + path, body, self.h)
        return st, b

    def list_contracts(self):
        out, cursor = [], None
        while True:
            st, b = self.api("GET", "/contracts?limit=1000" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""))
            assert st == 200, (st, b)
            out += b["data"]
            cursor = b.get("next_cursor")
            if not cursor:
                return out


class Arrivals:
    """First sighting of each tagged value on each side: side -> value -> monotonic time."""

    def __init__(self):
        self.mu = threading.Condition()
        self.seen = {"sf": {}, "repo": {}}
        self.events = {"sf": 0, "repo": 0}           # change events / feed rows seen
        self.sf_commit = {}                          # value -> commitTimestamp (ms) of its SF event
        self.repo_rows = []                          # (monotonic time, origin) of every feed row

    def add(self, side, value, t, commit_ms=None):
        with self.mu:
            if value not in self.seen[side]:
                self.seen[side][value] = t
                if commit_ms is not None:
                    self.sf_commit[value] = commit_ms
                self.mu.notify_all()

    def wait_all(self, side, values, deadline_s):
        """Waits until every value was seen on side or the deadline passes; returns the count seen."""
        end = now() + deadline_s
        with self.mu:
            while True:
                n = sum(1 for v in values if v in self.seen[side])
                if n == len(values) or now() >= end:
                    return n
                self.mu.wait(min(1.0, max(0.01, end - now())))


def cometd_watch(sf_url, token, arr, stop):
    """Bayeux long polling of /data/ContractChangeEvent: every Description value seen is an arrival."""
    c = Conn(sf_url, timeout=130)
    path = "/cometd/62.0"
    hdr = {"Authorization": "Bearer " + token}
    cookie = None

    def post(msgs):
        nonlocal cookie
        h = dict(hdr)
        if cookie:
            h["Cookie"] = cookie
        st, b, r = c.call("POST", path, msgs, h)
        sc = r.getheader("Set-Cookie")
        if sc:
            cookie = sc.split(";", 1)[0]
        return st, b

    while not stop.is_set():
        st, b = post([{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}])
        cid = b[0]["clientId"]
        st, b = post([{"channel": "/meta/subscribe", "clientId": cid, "subscription": "/data/ContractChangeEvent",
                       "ext": {"replay": {"/data/ContractChangeEvent": -1}}}])
        assert b[0].get("successful"), b
        arr.ready.set()
        while not stop.is_set():
            try:
                st, b = post([{"channel": "/meta/connect", "clientId": cid, "connectionType": "long-polling"}])
            except OSError:
                break
            t = now()
            rehandshake = False
            for m in b or []:
                if m.get("channel") == "/meta/connect":
                    if not m.get("successful"):
                        rehandshake = True
                    continue
                if m.get("channel") != "/data/ContractChangeEvent":
                    continue
                p = m["data"]["payload"]
                with arr.mu:
                    arr.events["sf"] += 1
                    arr.sf_event_times.append(t)
                d = p.get("Description")
                if isinstance(d, str):
                    arr.add("sf", d, t, p["ChangeEventHeader"].get("commitTimestamp"))
            if rehandshake:
                break


def feed_watch(clm_url, token, arr, stop, after):
    """Long poll of the repository's change feed: every description value written is an arrival."""
    r = Repo(clm_url, token)
    while not stop.is_set():
        st, b = r.api("GET", "/changes?after=%d&limit=10000&wait=2" % after)
        if st != 200:
            time.sleep(0.05)
            continue
        t = now()
        for row in b["data"]:
            with arr.mu:
                arr.events["repo"] += 1
                arr.repo_rows.append((t, row.get("origin")))
            if row.get("entity") != "contract":
                continue
            d = (row.get("fields") or {}).get("description")
            if d and isinstance(d.get("new"), str):
                arr.add("repo", d["new"], t)
        after = b.get("next_after", after)


def proc_tree(root):
    """root and its descendants (pids), from /proc/*/stat."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2:].split()[1])
            kids.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError):
            pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pids):
    t = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                s = f.read()
            a = s[s.rindex(")") + 2:].split()
            t += int(a[11]) + int(a[12])
        except (OSError, ValueError):
            pass
    return t


class Memory(threading.Thread):
    """Samples the resident memory of the sync's process tree every 200 ms; keeps the peak of the sum."""

    def __init__(self, root, stop):
        super().__init__(daemon=True)
        self.root, self.stop, self.peak, self.nprocs = root, stop, 0, 0
        self.hwm = {}

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(0.2)

    def sample(self):
        pids = proc_tree(self.root)
        tot = 0
        for p in pids:
            tot += status_kib(p, "VmRSS")
            self.hwm[p] = max(self.hwm.get(p, 0), status_kib(p, "VmHWM"))
        if tot > self.peak:
            self.peak, self.nprocs = tot, len(pids)


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(q / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--system", required=True)
    ap.add_argument("--sf", required=True)
    ap.add_argument("--clm", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--pid", type=int, required=True, help="the sync process (root of its tree)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--contracts", type=int, default=0, help="default: one per change of the phases below")
    ap.add_argument("--lat-n", type=int, default=30)
    ap.add_argument("--lat-interval-ms", type=int, default=1000)
    ap.add_argument("--burst", type=int, default=500)
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--interleaved", type=int, default=50)
    ap.add_argument("--round-gap-ms", type=int, default=500)
    ap.add_argument("--deadline", type=float, default=180.0, help="longest wait for any arrival, s")
    ap.add_argument("--quiet", type=float, default=75.0, help="the quiet window after convergence, s")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--age", type=float, default=0.0,
                    help="before the first Salesforce edit, wait until the contracts are this old, s")
    o = ap.parse_args()
    # each phase edits contracts of its own, so that no phase's edit is a record's second one
    o.contracts = o.contracts or o.lat_n + o.burst + o.pairs + o.interleaved
    assert o.lat_n + o.burst + o.pairs + o.interleaved <= o.contracts

    token = open(o.token_file).read().split()[0]
    sf = SF(o.sf)
    repo = Repo(o.clm, token)
    arr = Arrivals()
    arr.ready = threading.Event()
    arr.sf_event_times = []
    stop = threading.Event()
    res = {"system": o.system, "sizes": vars(o).copy()}
    res["sizes"].pop("token_file")
    res["sizes"].pop("out")

    mem = Memory(o.pid, stop)
    mem.start()
    st, b = repo.api("GET", "/changes?after=0&limit=1")
    feed_after = 0
    while True:
        st, b = repo.api("GET", "/changes?after=%d&limit=10000" % feed_after)
        if not b["data"]:
            break
        feed_after = b["next_after"]
    threading.Thread(target=cometd_watch, args=(o.sf, sf.token, arr, stop), daemon=True).start()
    threading.Thread(target=feed_watch, args=(o.clm, token, arr, stop, feed_after), daemon=True).start()
    assert arr.ready.wait(10), "no CometD subscription"

    def api_used():
        return sf.counters()["api_used"]

    class Window:
        """API calls of the sync between open() and close(): sfemu's api_used less the driver's own."""

        def __init__(self):
            self.u0, self.d0 = api_used(), SF.calls

        def close(self):
            return (api_used() - self.u0) - (SF.calls - self.d0)

    cpu0 = cpu_ticks(proc_tree(o.pid))
    t_run0 = now()
    win_all = Window()
    run = "%x" % int(time.time() * 1000 % 0xFFFFFF)

    # ---- seed: a counterparty and the contracts, made in the repository -------------------------
    log("%s: seeding %d contracts" % (o.system, o.contracts))
    st, cp = repo.api("POST", "/counterparties", {"legal_name": "Peers Ltd " + run})
    assert st == 201, (st, cp)
    win = Window()
    ids, seedvals = [], []
    t0 = now()
    for i in range(o.contracts):
        v = "S-%d-%s" % (i, run)
        st, c = repo.api("POST", "/contracts", {
            "title": "Peer contract %d" % i, "type": "sow", "counterparty_id": cp["id"],
            "description": v, "payment_terms": "Net 30",
            "total_value": {"amount": "%d.00" % (1000 + i), "currency": "EUR"}})
        assert st == 201, (st, c)
        ids.append(c["id"])
        seedvals.append(v)
    t1 = now()
    n = arr.wait_all("sf", seedvals, 2 * o.deadline)
    t2 = max([arr.seen["sf"][v] for v in seedvals if v in arr.seen["sf"]] or [t1])
    res["seed"] = {"n": o.contracts, "created_s": t1 - t0, "arrived": n, "last_visible_s": t2 - t0}
    recs = sf.query("SELECT Id, CLM_Id__c FROM Contract WHERE CLM_Id__c != null")
    sfid = {r["CLM_Id__c"]: r["Id"] for r in recs}
    res["seed"]["api_calls"] = win.close()
    t_sf_created = t2           # the last Contract's CreatedDate, near enough
    log("  %d/%d in Salesforce after %.1f s" % (n, o.contracts, t2 - t0))
    missing = [i for i in ids if i not in sfid]
    if missing:
        log("  %d contracts have no Salesforce Contract; later phases skip them" % len(missing))

    def sf_patch(sc, cid, value):
        return sc.api("PATCH", "/sobjects/Contract/%s" % sfid[cid], {"Description": value})[0]

    def repo_patch(rc, cid, value):
        return rc.api("PATCH", "/contracts/%s" % cid, {"description": value})

    # ---- latency: one change at a time, at a steady pace ------------------------------------------
    def latency(direction, tag):
        win = Window()
        sent, vals = {}, []
        pace = o.lat_interval_ms / 1000.0
        base = now()
        idx = [i for i in ids[:o.lat_n] if i in sfid]
        for k, cid in enumerate(idx):
            t = base + k * pace
            while now() < t:
                time.sleep(min(0.01, t - now()))
            v = "%s-%d-%s" % (tag, k, run)
            sent[v] = now()
            if direction == "to_sf":
                st, _ = repo_patch(repo, cid, v)
                assert st == 200, st
            else:
                assert sf_patch(sf, cid, v) == 204
            vals.append(v)
        side = "sf" if direction == "to_sf" else "repo"
        n = arr.wait_all(side, vals, o.deadline)
        lats = [(arr.seen[side][v] - sent[v]) * 1000 for v in vals if v in arr.seen[side]]
        calls = win.close()
        r = {"n": len(vals), "arrived": n, "p50_ms": pct(lats, 50), "p90_ms": pct(lats, 90), "p99_ms": pct(lats, 99),
             "max_ms": max(lats) if lats else None, "api_calls": calls, "phase_s": now() - base}
        log("  latency %s: %d/%d arrived, p50 %s ms, p99 %s ms, %d API calls" %
            (direction, n, len(vals), r["p50_ms"] and round(r["p50_ms"]), r["p99_ms"] and round(r["p99_ms"]), calls))
        return r

    # repository -> Salesforce first, then (after the age wait, when asked for) Salesforce -> repository
    log("%s: repository -> Salesforce" % o.system)
    res["latency"] = {"to_sf": latency("to_sf", "L1")}

    # ---- throughput: a burst of changes, each on its own contract --------------------------------
    def burst(direction, tag):
        idx = [i for i in ids[o.lat_n:o.lat_n + o.burst] if i in sfid]
        vals = ["%s-%d-%s" % (tag, k, run) for k in range(len(idx))]
        win = Window()
        t0 = now()
        if direction == "to_sf":
            def writer(k0):
                rc = Repo(o.clm, token)
                for k in range(k0, len(idx), o.threads):
                    st, _ = repo_patch(rc, idx[k], vals[k])
                    assert st == 200, st
            ts = [threading.Thread(target=writer, args=(k,)) for k in range(o.threads)]
        else:
            def writer(k0):
                sc = SF(o.sf)
                for s in range(k0 * 200, len(idx), 2 * 200):
                    recs = [{"attributes": {"type": "Contract"}, "Id": sfid[idx[k]], "Description": vals[k]}
                            for k in range(s, min(s + 200, len(idx)))]
                    st, b = sc.api("PATCH", "/composite/sobjects", {"allOrNone": False, "records": recs})
                    assert st == 200 and all(x["success"] for x in b), (st, b)
            ts = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        t1 = now()
        side = "sf" if direction == "to_sf" else "repo"
        n = arr.wait_all(side, vals, o.deadline)
        last = max([arr.seen[side][v] for v in vals if v in arr.seen[side]] or [t1])
        # the sync's calls for the burst: until its last change is visible, and 5 s more for its tail
        end = now() + 5
        while now() < end:
            time.sleep(0.1)
        calls = win.close()
        r = {"n": len(vals), "arrived": n, "push_s": t1 - t0, "last_visible_s": last - t0,
             "per_s": n / (last - t0) if last > t0 else None, "api_calls": calls,
             "api_per_1000": calls * 1000.0 / len(vals)}
        log("  burst %s: %d/%d arrived, last after %.1f s (%.0f/s), %d API calls" %
            (direction, n, len(vals), last - t0, r["per_s"] or 0, calls))
        return r

    res["burst"] = {"to_sf": burst("to_sf", "T1")}
    if o.age > 0:
        log("%s: waiting until the contracts are %.0f s old" % (o.system, o.age))
        while now() < t_sf_created + o.age:
            time.sleep(min(1.0, max(0.01, t_sf_created + o.age - now())))
    res["age_s"] = now() - t_sf_created
    log("%s: Salesforce -> repository" % o.system)
    res["latency"]["to_repo"] = latency("to_repo", "L2")
    res["burst"]["to_repo"] = burst("to_repo", "T2")

    # ---- concurrent edits --------------------------------------------------------------------------
    log("%s: concurrent edits" % o.system)
    win_conc = Window()
    b0 = o.lat_n + o.burst
    pair_ids = [i for i in ids[b0:b0 + o.pairs] if i in sfid]
    pairs = {}
    sc2, rc2 = SF(o.sf), Repo(o.clm, token)
    for k, cid in enumerate(pair_ids):
        vr, vs = "PR-%d-%s" % (k, run), "PS-%d-%s" % (k, run)
        bar = threading.Barrier(2)
        out = {}

        def w_repo():
            bar.wait()
            st, b = repo_patch(rc2, cid, vr)
            out["repo"] = (st, b.get("updated_at") if isinstance(b, dict) else None)

        def w_sf():
            bar.wait()
            out["sf"] = sf_patch(sc2, cid, vs)

        a, b_ = threading.Thread(target=w_repo), threading.Thread(target=w_sf)
        a.start()
        b_.start()
        a.join()
        b_.join()
        pairs[cid] = {"repo": vr, "sf": vs, "repo_updated_at": out["repo"][1]}
        time.sleep(0.1)     # pace between pairs (not a wait for a condition)
    inter_ids = [i for i in ids[b0 + o.pairs:b0 + o.pairs + o.interleaved] if i in sfid]
    inter = {cid: [] for cid in inter_ids}
    base = now()
    for rnd in range(4):
        t = base + rnd * o.round_gap_ms / 1000.0
        while now() < t:
            time.sleep(min(0.01, t - now()))
        for k, cid in enumerate(inter_ids):
            v = "I%d-%d-%s" % (rnd, k, run)
            if rnd % 2 == 0:
                st, _ = repo_patch(repo, cid, v)
                assert st == 200, st
            else:
                assert sf_patch(sf, cid, v) == 204
            inter[cid].append(v)
    t_workload_end = now()

    # ---- convergence: both sides hold the same description for every contract ---------------------
    def snapshot():
        rv = {c["id"]: c.get("description") for c in repo.list_contracts()}
        sv = {}
        for r in sf.query("SELECT Id, CLM_Id__c, Description FROM Contract WHERE CLM_Id__c != null"):
            sv[r["CLM_Id__c"]] = r["Description"]
        return rv, sv

    watched = pair_ids + inter_ids
    conv_deadline = now() + o.deadline
    while True:
        rv, sv = snapshot()
        agree = sum(1 for c in watched if rv.get(c) == sv.get(c))
        if agree == len(watched) or now() > conv_deadline:
            break
        time.sleep(1.0)     # poll period of the convergence check; the deadline bounds it
    res["converge"] = {"watched": len(watched), "agree": agree, "after_s": now() - t_workload_end}
    log("  %d/%d contracts agree %.1f s after the last edit" % (agree, len(watched), now() - t_workload_end))

    # ---- quiet window: whatever the sync still writes now is a loop ------------------------------
    log("%s: quiet window of %.0f s" % (o.system, o.quiet))
    win_q = Window()
    with arr.mu:
        ev0, rows0 = arr.events["sf"], arr.events["repo"]
    tq = now() + o.quiet
    while now() < tq:
        time.sleep(0.2)
    with arr.mu:
        ev1, rows1 = arr.events["sf"], arr.events["repo"]
    res["quiet"] = {"seconds": o.quiet, "sf_api_calls": win_q.close(), "sf_change_events": ev1 - ev0,
                    "repo_feed_rows": rows1 - rows0}
    res["concurrent_api_calls"] = win_conc.close()

    # ---- final checks ---------------------------------------------------------------------------
    rv, sv = snapshot()
    pair_res = {"n": len(pairs), "agree": 0, "disagree": 0, "foreign": 0, "won_repo": 0, "won_sf": 0,
                "won_later": 0, "won_earlier": 0, "earlier_gaps_ms": [], "gaps_ms": []}
    for cid, p in pairs.items():
        r, s = rv.get(cid), sv.get(cid)
        if r != s:
            pair_res["disagree"] += 1
            continue
        pair_res["agree"] += 1
        if r not in (p["repo"], p["sf"]):
            pair_res["foreign"] += 1
            continue
        pair_res["won_repo" if r == p["repo"] else "won_sf"] += 1
        # which write committed last: the repository's updated_at against the Salesforce event's commitTimestamp
        cr = p["repo_updated_at"]
        cs = arr.sf_commit.get(p["sf"])
        if cr and cs:
            t_r = time.mktime(time.strptime(cr[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone + int(cr[20:23]) / 1000.0
            later = "repo" if t_r * 1000 > cs else "sf"
            if (r == p["repo"]) == (later == "repo"):
                pair_res["won_later"] += 1
            else:
                pair_res["won_earlier"] += 1
                pair_res["earlier_gaps_ms"].append(round(abs(t_r * 1000 - cs), 1))
            pair_res["gaps_ms"].append(round(abs(t_r * 1000 - cs), 1))
    pair_res["lost"] = pair_res["disagree"] + pair_res["foreign"]
    inter_res = {"n": len(inter), "ok": 0, "disagree": 0, "stale_both": 0, "stale_repo": 0, "stale_sf": 0}
    for cid, vals in inter.items():
        r, s, last = rv.get(cid), sv.get(cid), vals[-1]
        if r == last and s == last:
            inter_res["ok"] += 1
            continue
        if r != s:
            inter_res["disagree"] += 1
        if r != last and s != last:
            inter_res["stale_both"] += 1
        elif r != last:
            inter_res["stale_repo"] += 1
        else:
            inter_res["stale_sf"] += 1
    inter_res["lost"] = inter_res["n"] - inter_res["ok"]
    all_recs = sf.query("SELECT Id, Name, CLM_Id__c FROM Contract")
    by_ext, by_name = {}, {}
    for r in all_recs:
        by_ext.setdefault(r["CLM_Id__c"], []).append(r["Id"])
        by_name.setdefault(r["Name"], []).append(r["Id"])
    accts = sf.query("SELECT Id, Name FROM Account")
    repo_n = len(rv)
    dup = {"sf_contracts": len(all_recs), "repo_contracts": repo_n, "expected": o.contracts,
           "dup_by_external_id": sum(len(v) - 1 for k, v in by_ext.items() if k and len(v) > 1),
           "dup_by_name": sum(len(v) - 1 for v in by_name.values() if len(v) > 1),
           "without_external_id": len(by_ext.get(None, [])),
           "accounts": len(accts)}
    # all workload contracts agree at the end (not only the watched ones)
    drift = sum(1 for c in ids if rv.get(c) != sv.get(c))
    res["correctness"] = {"pairs": pair_res, "interleaved": inter_res, "duplicates": dup, "drift_all": drift}
    res["total"] = {"seconds": now() - t_run0, "api_calls": win_all.close(),
                    "cpu_s": (cpu_ticks(proc_tree(o.pid)) - cpu0) / os.sysconf("SC_CLK_TCK")}
    mem.sample()
    stop.set()
    res["memory"] = {"peak_rss_kib": mem.peak, "procs_at_peak": mem.nprocs,
                     "root_vmhwm_kib": mem.hwm.get(o.pid, 0), "sum_vmhwm_kib": sum(mem.hwm.values())}
    log("%s: pairs lost %d/%d, interleaved lost %d/%d, loops %d events + %d rows, dup %d, peak %d KiB" %
        (o.system, pair_res["lost"], pair_res["n"], inter_res["lost"], inter_res["n"], res["quiet"]["sf_change_events"],
         res["quiet"]["repo_feed_rows"], dup["dup_by_external_id"] + dup["dup_by_name"], mem.peak))
    with open(o.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()

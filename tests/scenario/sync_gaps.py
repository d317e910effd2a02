"""sync_gaps.py - scenario 8: stream gaps heal (run by test_sync_gaps.sh).

1. GAP_UPDATE / GAP_CREATE / GAP_DELETE: sfemu applies a change and publishes the gap event in place
   of its change event; the engine reads the records again and the repository follows.
2. GAP_OVERFLOW: many records changed in one transaction whose events were lost: all healed.
3. kill -9, changes in Salesforce, the replay window passes, restart: the stored replay id is
   refused, the engine resubscribes for every event still retained (a change made after the
   window passed is not skipped) and reconciles; what changed meanwhile arrives; later changes
   flow as usual.
4. Down longer than the window with deletes in Salesforce (recycle bin, hard delete, an Account):
   each handled per the mapping's on_delete.clm; nothing deleted in Salesforce is made again, until
   it is undeleted there.
5. Each fact is in the audit log (gap, overflow, replay_invalid, reconcile, drift rows), and the
   engine's counters (gaps, reconciles, drift) count them.
"""
import json
import os
import re
import signal
import subprocess
import time
import urllib.parse

from sync_lib import CLM, SF, check, env, finish, wait_for

sf_url, clm_url, token = env()
sf, clm = SF(sf_url), CLM(clm_url, token)
port = urllib.parse.urlparse(clm_url).port
CONFIG = os.environ["CLM_CONFIG"]
CLMSYNC = os.environ["CLMSYNC"]
ENVP = dict(os.environ, CLMSYNC_TEST_SECRET="clmsync-test-secret")
CH = "/data/ContractChangeEvent"

server = {"pid": int(os.environ["CLM_PID"]), "proc": None, "log": os.environ["CLM_LOG"]}


def gone(pid):
    """True when pid has exited (a zombie its parent has not reaped yet counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def stop(sig):
    """Stops the running server with sig and waits until it is gone."""
    os.kill(server["pid"], sig)
    if server["proc"] is not None:
        server["proc"].wait(timeout=30)
    elif not wait_for(lambda: gone(server["pid"]), 30):
        raise SystemExit("clmsync %d did not stop" % server["pid"])
    server["pid"] = None


def healthy():
    try:
        return clm.call("GET", "/healthz")[0] == 200
    except OSError:
        return False


def start(name, *extra):
    """Starts `clmsync serve` on the same port and data; its log is $WORK/<name>.log."""
    server["log"] = os.path.join(os.environ["WORK"], name + ".log")
    for _ in range(50):
        with open(server["log"], "a") as log:
            proc = subprocess.Popen([CLMSYNC, "serve", "--config", CONFIG, "--data", os.environ["CLM_DATA"],
                                     "--listen", "127.0.0.1:%d" % port, "--admin-listen",
                                     "127.0.0.1:%d" % urllib.parse.urlparse(os.environ["ADMIN_URL"]).port] + list(extra),
                                    stdout=subprocess.DEVNULL, stderr=log, env=ENVP)
        server["pid"], server["proc"] = proc.pid, proc
        wait_for(lambda: proc.poll() is not None or healthy(), 10)
        if proc.poll() is None:
            return
        time.sleep(0.1)   # the port may linger a moment after a kill; try again
    raise SystemExit("clmsync did not start")


def counters():
    """The engine's counters from the stop line of the last server's log."""
    with open(server["log"]) as f:
        lines = [l for l in f if "sync.stop" in l]
    if not lines:
        return None
    return {k: int(v) for v, k in re.findall(r"(\d+) (gaps|reconciles|drift)\b", lines[-1])}


def audit(ident=None, decision=None):
    """Audit rows through `clmsync audit search` (the operator's command), oldest first."""
    cmd = [CLMSYNC, "audit", "search"] + ([ident] if ident else []) + \
        (["--decision", decision] if decision else []) + \
        ["--admin-url", os.environ["ADMIN_URL"], "--data", os.environ["CLM_DATA"], "--json", "--limit", "100000"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENVP)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    return j["rows"] if isinstance(j, dict) else j


def last_replay():
    ev = sf.emu("GET", "events")[1]
    return ev[-1]["replayId"] if ev else 0


def events_between(after, upto, ids=None):
    """Retained events in (after, upto] naming one of ids (None: any), leaving out the engine's own
    writes: (replay id, changeType) pairs."""
    out = []
    for e in sf.emu("GET", "events")[1]:
        h = e["payload"]["ChangeEventHeader"]
        if not after < e["replayId"] <= upto or "client=clmsync" in h["changeOrigin"]:
            continue
        if ids is None or set(h["recordIds"]) & set(ids):
            out.append((e["replayId"], h["changeType"]))
    return out


def gap(body):
    st, b = sf.emu("POST", "gap", body)
    assert st == 200, (st, b)
    return b


def clm_field(rid, pred, plural="contracts"):
    return wait_for(lambda: (lambda c: c if c and pred(c) else None)(clm.get(plural, rid)))


def by_title(title):
    hits = [c for c in clm.list("contracts") if c["title"] == title]
    return hits[0] if len(hits) == 1 else None


def live(sobject, clm_id):
    return sf.query("SELECT Id FROM %s WHERE CLM_Id__c = '%s'" % (sobject, clm_id))


def quiesce(tag):
    """A repository change that reaches Salesforce: everything planned before it was planned."""
    st, _ = clm.patch("contracts", c[0], {"payment_terms": tag})
    assert st == 200, st
    return wait_for(lambda: sf.get("Contract", sfc[0])["CLM_Payment_Terms__c"] == tag, 20)


def rows(rs, decision, event=None):
    return [r for r in rs if r["decision"] == decision and (event is None or r["event"] == event)]


def hard_delete(sobject, sid):
    """Deletes a record past the recycle bin, with a Bulk API 2.0 hardDelete job."""
    st, job = sf.api("POST", "/jobs/ingest", {"object": sobject, "operation": "hardDelete", "contentType": "CSV"})
    assert st == 200, (st, job)
    st, _ = sf.api("PUT", "/jobs/ingest/%s/batches" % job["id"], "Id\n%s\n" % sid, {"Content-Type": "text/csv"})
    assert st == 201, st
    st, _ = sf.api("PATCH", "/jobs/ingest/%s" % job["id"], {"state": "UploadComplete"})
    assert st == 200, st
    done = wait_for(lambda: sf.api("GET", "/jobs/ingest/%s" % job["id"])[1]["state"] in ("JobComplete", "Failed"))
    assert done and sf.api("GET", "/jobs/ingest/%s" % job["id"])[1]["numberRecordsProcessed"] == 1


t0 = time.monotonic()
try:
    # --- the repository's records, linked ---------------------------------------------------
    cp = clm.create("counterparties", {"legal_name": "Gap Co"})["id"]
    cp2 = clm.create("counterparties", {"legal_name": "Lonely Ltd"})["id"]
    c = [clm.create("contracts", {"title": "Gap %d" % i, "type": "sow", "counterparty_id": cp,
                                  "description": "seed"})["id"] for i in range(7)]
    ov = [clm.create("contracts", {"title": "Overflow %d" % i, "type": "nda", "counterparty_id": cp})["id"]
          for i in range(20)]

    def linked():
        m = {r["CLM_Id__c"]: r["Id"] for r in sf.query("SELECT Id, CLM_Id__c FROM Contract") if r["CLM_Id__c"]}
        return m if all(i in m for i in c + ov) else None
    sfid = wait_for(linked, 30)
    acc = wait_for(lambda: {r["CLM_Id__c"]: r["Id"] for r in sf.query("SELECT Id, CLM_Id__c FROM Account")
                            if r["CLM_Id__c"] in (cp, cp2)} or None)
    check(sfid is not None and acc is not None and len(acc) == 2, "27 contracts and 2 counterparties linked")
    sfc = [sfid[i] for i in c]
    sfov = [sfid[i] for i in ov]
    acct, acct2 = acc[cp], acc[cp2]

    # --- 1. gap events for single records ----------------------------------------------------
    before = last_replay()
    g_upd = gap({"entity": "Contract", "changeType": "GAP_UPDATE", "recordId": sfc[0],
                 "apply": {"Description": "changed in a gap", "SpecialTerms": "gap terms"}})
    g_new = gap({"entity": "Contract", "changeType": "GAP_CREATE",
                 "apply": {"Name": "Made in a gap", "AccountId": acct, "StartDate": "2026-05-01", "ContractTerm": 12,
                           "CLM_Type__c": "NDA"}})
    g_del = gap({"entity": "Contract", "changeType": "GAP_DELETE", "recordId": sfc[1], "apply": {}})
    evs = events_between(before, g_del["replayId"], [sfc[0], sfc[1], g_new["id"]])
    check(evs == [(g_upd["replayId"], "GAP_UPDATE"), (g_new["replayId"], "GAP_CREATE"), (g_del["replayId"], "GAP_DELETE")],
          "Salesforce changed three records and published only gap events for them", evs)
    check(sf.get("Contract", sfc[0])["Description"] == "changed in a gap" and sf.get("Contract", sfc[1]) is None,
          "the changes themselves are in Salesforce")

    got = clm_field(c[0], lambda x: x.get("description") == "changed in a gap")
    check(got is not None and got.get("custom", {}).get("opportunity_stage") == "gap terms",
          "GAP_UPDATE: the repository has Salesforce's values (both fields re-read)", clm.get("contracts", c[0]))
    made = wait_for(lambda: (lambda r: r if r and r.get("CLM_Id__c") else None)(sf.get("Contract", g_new["id"])))
    ct_new = clm.get("contracts", made["CLM_Id__c"]) if made else None
    check(ct_new is not None and ct_new["title"] == "Made in a gap" and ct_new["counterparty_id"] == cp
          and ct_new["effective_date"] == "2026-05-01", "GAP_CREATE: the record is in the repository, linked", ct_new)
    got = clm_field(c[1], lambda x: x["status"] == "terminated")
    check(got is not None, "GAP_DELETE: the contract is terminated (on_delete.clm: terminate)", clm.get("contracts", c[1]))
    check(quiesce("marker 1"), "the engine is quiet again")
    check(live("Contract", c[1]) == [], "the contract deleted in Salesforce was not created there again",
          live("Contract", c[1]))

    E = lambda r: "cdc:%s:%d" % (CH, r["replayId"])
    a0, an, a1 = audit(sfc[0]), audit(g_new["id"]), audit(c[1])
    check(len(rows(a0, "gap", E(g_upd))) == 1 and rows(a0, "gap")[0]["detail"].startswith("GAP_UPDATE")
          and rows(a0, "gap")[0]["clm_id"] == c[0], "audit: the GAP_UPDATE, with both ids", rows(a0, "gap"))
    check({r["field"] for r in rows(a0, "applied", E(g_upd))} == {"description", "custom.opportunity_stage"},
          "audit: the values it healed, under the gap's event", rows(a0, "applied"))
    check(len(rows(an, "gap", E(g_new))) == 1 and len(rows(an, "created", E(g_new))) == 1,
          "audit: the GAP_CREATE and the record it created", an)
    check(len(rows(a1, "gap", E(g_del))) == 1 and len(rows(a1, "deleted", E(g_del))) == 1,
          "audit: the GAP_DELETE and the delete it healed", a1)

    # --- 2. overflow: many records changed, one GAP_OVERFLOW ----------------------------------
    before = last_replay()
    g_ov = gap({"entity": "Contract", "changeType": "GAP_OVERFLOW",
                "apply": [{"Id": s, "Description": "overflow %d" % k} for k, s in enumerate(sfov)] +
                         [{"Name": "Made in an overflow", "AccountId": acct, "StartDate": "2026-06-01",
                           "ContractTerm": 6, "CLM_Type__c": "SOW"}]})
    evs = events_between(before, g_ov["replayId"])
    check(evs == [(g_ov["replayId"], "GAP_OVERFLOW")], "21 changes in one transaction, one GAP_OVERFLOW and no "
          "change event", evs)

    def overflow_healed():
        want = {i: "overflow %d" % k for k, i in enumerate(ov)}
        have = {x["id"]: x.get("description") for x in clm.list("contracts")}
        return all(have.get(i) == v for i, v in want.items()) and by_title("Made in an overflow")
    check(wait_for(overflow_healed, 20) is not None, "GAP_OVERFLOW: all 20 updates and the create are in the repository")
    ov_rows = audit(decision="overflow")
    check(len(ov_rows) == 1 and ov_rows[0]["event"] == E(g_ov) and ov_rows[0]["mapping"] == "contracts",
          "audit: one overflow row, for the contracts mapping", ov_rows)
    rec = rows(audit(decision="reconcile"), "reconcile", E(g_ov))
    check(len(rec) == 1 and rec[0]["detail"].startswith("changed since ") and ", 21 drift, repaired" in rec[0]["detail"],
          "audit: the reconcile it asked for, with what it found", rec)
    check(len(rows(audit(decision="drift"), "drift", E(g_ov))) == 21, "audit: a drift row per record it healed")

    # the counters of this process, from its stop line (the admin API serves the same numbers)
    stop(signal.SIGTERM)
    n = counters()
    check(n == {"gaps": 4, "reconciles": 1, "drift": 21},
          "counters: 4 gaps (3 records, 1 overflow), 1 reconcile, 21 drift", n)

    # --- 3. a replay id outside the retention window ---------------------------------------------
    start("clm-b")
    sf.update("Contract", sfc[2], {"Description": "before the outage"})
    check(clm_field(c[2], lambda x: x.get("description") == "before the outage") is not None,
          "after a clean restart changes flow")
    stop(signal.SIGKILL)
    sf.update("Contract", sfc[3], {"Description": "changed while down"})
    down_new = sf.create("Contract", {"Name": "Created while down", "AccountId": acct, "StartDate": "2026-07-01",
                                      "ContractTerm": 3, "CLM_Type__c": "NDA"})
    sf.update("Account", acct, {"Name": "Gap Co (renamed while down)"})
    floor = sf.emu("POST", "expire-events")[1]["floor"]
    check(sf.emu("GET", "events")[1] == [], "the replay window passed every event (floor %d)" % floor)
    # committed after the window passed the stored position and before clmsync is back: still
    # retained, so the resubscription replays it (new events only would skip it for good)
    sf.update("Account", acct, {"Website": "https://after-the-window.example"})
    after_window = last_replay()
    check(after_window in sf.emu("GET", "undelivered")[1]["replay_ids"],
          "the change made after the window passed is retained and not delivered yet", after_window)
    start("clm-c")
    check(wait_for(lambda: after_window not in sf.emu("GET", "undelivered")[1]["replay_ids"]) is not None,
          "the change made after the window passed, before the restart, is replayed to clmsync, not skipped",
          sf.emu("GET", "undelivered")[1])
    got = clm_field(c[3], lambda x: x.get("description") == "changed while down")
    check(got is not None, "the update made while down arrived", clm.get("contracts", c[3]))
    made = wait_for(lambda: (lambda r: r if r and r.get("CLM_Id__c") else None)(sf.get("Contract", down_new)))
    check(made is not None and by_title("Created while down") is not None, "the create made while down arrived")
    check(clm_field(cp, lambda x: x["legal_name"] == "Gap Co (renamed while down)", "counterparties") is not None,
          "the Account renamed while down arrived (its channel's replay id was refused too)")
    sf.update("Contract", sfc[4], {"Description": "after the restart"})
    check(clm_field(c[4], lambda x: x.get("description") == "after the restart") is not None,
          "a Salesforce change after the restart flows as a change event")
    check(quiesce("marker 2"), "a repository change after the restart reaches Salesforce")
    inv = audit(decision="replay_invalid")
    chans = sorted(r["event"].rsplit(":", 1)[0] for r in inv)
    check(len(inv) == 2 and chans == ["cdc:/data/AccountChangeEvent", "cdc:" + CH]
          and all("outside the retention window" in r["detail"] for r in inv),
          "audit: the refused replay id of each channel", inv)
    ev_c = [r["event"] for r in inv if CH in r["event"]][0]
    rec = rows(audit(decision="reconcile"), "reconcile", ev_c)
    check(len(rec) == 1 and rec[0]["mapping"] == "contracts" and rec[0]["detail"].startswith("full: ")
          and ", 2 drift, repaired" in rec[0]["detail"], "audit: the full reconcile it caused, 2 contracts healed", rec)
    check({r["sf_id"] for r in rows(audit(decision="drift"), "drift", ev_c)} == {sfc[3], down_new},
          "audit: the drift it healed, record by record")

    # --- 4. down longer than the window, with deletes in Salesforce --------------------------------
    stop(signal.SIGKILL)
    sf.delete("Contract", sfc[5])          # to the recycle bin
    hard_delete("Contract", sfc[6])        # past it: queryAll does not see it either
    sf.delete("Account", acct2)            # on_delete.clm: ignore
    # the repository is served meanwhile, without the engine: a create waits in its change feed
    start("clm-nosync", "--no-sync")
    outage = clm.create("contracts", {"title": "Made during the outage", "type": "nda", "counterparty_id": cp})["id"]
    stop(signal.SIGTERM)
    sf.emu("POST", "expire-events")
    start("clm-d")
    check(clm_field(c[5], lambda x: x["status"] == "terminated") is not None,
          "a contract deleted while down is terminated", clm.get("contracts", c[5]))
    check(clm_field(c[6], lambda x: x["status"] == "terminated") is not None,
          "a contract hard-deleted while down (not even in the recycle bin) is terminated", clm.get("contracts", c[6]))
    check(wait_for(lambda: len(live("Contract", outage)) == 1) is not None,
          "the contract made in the repository during the outage is created in Salesforce, once")
    st, _ = clm.patch("counterparties", cp2, {"registration_number": "HRB 99"})
    check(st == 200 and quiesce("marker 3"), "the engine is quiet again")
    x = clm.get("counterparties", cp2)
    check(x is not None and x["legal_name"] == "Lonely Ltd" and x["status"] == "active",
          "the counterparty whose Account was deleted stays (on_delete.clm: ignore)", x)
    check(live("Account", cp2) == [] and live("Contract", c[5]) == [] and live("Contract", c[6]) == [],
          "nothing deleted in Salesforce was created there again, not even after a repository edit")
    check(clm.get("contracts", outage)["status"] == "draft", "the outage's own create was not taken for a delete")
    inv = [r["event"] for r in audit(decision="replay_invalid")]
    ev_c = [e for e in inv if CH in e][-1]
    ev_a = [e for e in inv if "Account" in e][-1]
    for rid, sid, ev, what in ((c[5], sfc[5], ev_c, "deleted"), (c[6], sfc[6], ev_c, "deleted"),
                               (cp2, acct2, ev_a, "ignored")):
        rs = audit(sid)
        check(len(rows(rs, "drift", ev)) == 1 and len(rows(rs, what, ev)) == 1 and rows(rs, what)[-1]["clm_id"] == rid,
              "audit: %s of %s found by the reconcile: drift and %s" % (sid, rid, what), rs)
    # restored from the recycle bin: linked again, and the repository's changes flow to it again
    st, _ = sf.emu("POST", "undelete", {"id": acct2})
    check(st == 200 and wait_for(lambda: sf.get("Account", acct2)["CLM_Registration_Number__c"] == "HRB 99") is not None,
          "an Account undeleted in Salesforce is linked again and gets the repository's value", sf.get("Account", acct2))
    st, _ = clm.patch("counterparties", cp2, {"registration_number": "HRB 100"})
    check(st == 200 and wait_for(lambda: sf.get("Account", acct2)["CLM_Registration_Number__c"] == "HRB 100") is not None,
          "and the repository's next change reaches it", sf.get("Account", acct2))
    check(len(rows(audit(acct2), "linked")) == 1, "audit: the record linked again")

    stop(signal.SIGTERM)
    n = counters()
    check(n == {"gaps": 2, "reconciles": 2, "drift": 3},
          "counters: 2 gaps (a refused replay id per channel), 2 reconciles, 3 drift", n)
    r = subprocess.run([CLMSYNC, "audit", "verify", "--offline", "--data", os.environ["CLM_DATA"]], capture_output=True,
                       text=True, env=ENVP)
    check(r.returncode == 0, "the audit log's hash chain is intact (rows from the stream and the worker)", r.stdout + r.stderr)
    print("scenario took %.1f s" % (time.monotonic() - t0), flush=True)
finally:
    if server["pid"] is not None:
        try:
            os.kill(server["pid"], signal.SIGTERM)
            if server["proc"] is not None:
                server["proc"].wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
finish()

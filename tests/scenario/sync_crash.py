"""sync_crash.py - scenario 6: kill -9 of clmsync during a two-way burst (run by test_sync_crash.sh)."""
import json
import os
import random
import signal
import subprocess
import time
import urllib.parse

from sync_lib import CLM, SF, check, env, finish, wait_for

sf_url, clm_url, token = env()
sf, clm = SF(sf_url), CLM(clm_url, token)
CHANGES = int(os.environ.get("CHANGES", "10000"))
port = urllib.parse.urlparse(clm_url).port
admin_port = urllib.parse.urlparse(os.environ["ADMIN_URL"]).port
pid = int(os.environ["CLM_PID"])
proc = None
kills = 0
rng = random.Random(int(os.environ.get("SEED", "7")))


def restart():
    """SIGKILL the server and start it again on the same ports and data."""
    global pid, proc, kills
    os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait()
    else:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.01)
    kills += 1
    log = open(os.path.join(os.environ["WORK"], "clm-restart.log"), "a")
    envp = dict(os.environ, CLMSYNC_TEST_SECRET="clmsync-test-secret")
    for attempt in range(50):
        proc = subprocess.Popen([os.environ["CLMSYNC"], "serve", "--config", os.environ["CLM_CONFIG"], "--data",
                                 os.environ["CLM_DATA"], "--listen", "127.0.0.1:%d" % port,
                                 "--admin-listen", "127.0.0.1:%d" % admin_port],
                                stdout=subprocess.DEVNULL, stderr=log, env=envp)
        pid = proc.pid
        up = wait_for(lambda: proc.poll() is not None or clm.call("GET", "/healthz")[0] == 200 if _alive() else proc.poll() is not None, 10)
        if proc.poll() is None:
            return
        time.sleep(0.1)   # the port may linger a moment; try again
    raise SystemExit("clmsync did not restart")


def _alive():
    try:
        return clm.call("GET", "/healthz")[0] == 200
    except OSError:
        return False


def clm_call(method, path, body=None):
    """A repository call retried until acknowledged (the server may be down for a moment)."""
    while True:
        try:
            st, b = clm.api(method, path, body)
            if st < 500:
                return st, b
        except OSError:
            pass
        time.sleep(0.02)


try:
    cp = clm.create("counterparties", {"legal_name": "Crash Co"})
    shared = [clm.create("contracts", {"title": "Shared %d" % i, "type": "sow", "counterparty_id": cp["id"]})["id"]
              for i in range(30)]
    def linked():
        m = {r["CLM_Id__c"]: r["Id"] for r in sf.query("SELECT Id, CLM_Id__c FROM Contract") if r["CLM_Id__c"]}
        return m if all(i in m for i in shared) else None
    sfid = wait_for(linked, 30)
    check(sfid is not None, "30 shared contracts linked")
    acct = sf.query("SELECT Id FROM Account WHERE CLM_Id__c = '%s'" % cp["id"])[0]["Id"]

    want_pt, want_st = {}, {}
    clm_titles, sf_titles = [], []
    next_kill = rng.randint(300, 900)
    for k in range(CHANGES):
        r = rng.random()
        i = shared[k % len(shared)]
        if r < 0.40:
            v = "pt %d" % k
            st, _ = clm_call("PATCH", "/contracts/" + i, {"payment_terms": v})
            assert st == 200, st
            want_pt[i] = v
        elif r < 0.80:
            v = "st %d" % k
            sf.update("Contract", sfid[i], {"SpecialTerms": v})
            want_st[i] = v
        elif r < 0.90:
            t = "CLM new %d" % k
            st, b = clm_call("POST", "/contracts", {"title": t, "type": "nda", "counterparty_id": cp["id"]})
            if st != 201:
                raise SystemExit("create refused: %s %s" % (st, b))
            clm_titles.append(t)
        else:
            t = "SF new %d" % k
            sf.create("Contract", {"Name": t, "AccountId": acct, "CLM_Type__c": "NDA", "StartDate": "2026-01-01",
                                   "ContractTerm": 12})
            sf_titles.append(t)
        if k == next_kill:
            restart()
            next_kill = k + rng.randint(300, 1500)
    check(kills >= CHANGES // 2000, "clmsync was killed with SIGKILL %d times during %d changes" % (kills, CHANGES))

    def converged():
        recs = sf.query("SELECT Id, Name, CLM_Id__c, CLM_Payment_Terms__c, SpecialTerms FROM Contract")
        by_ext = {}
        for r in recs:
            if not r["CLM_Id__c"]:
                return None
            by_ext.setdefault(r["CLM_Id__c"], []).append(r)
        clms = clm.list("contracts")
        if len(clms) != len(recs):
            return None
        for c in clms:
            if c["id"] not in by_ext:
                return None
        for i in shared:
            r = by_ext[i][0]
            c = clm.get("contracts", i)
            if r["CLM_Payment_Terms__c"] != want_pt.get(i) or c.get("payment_terms") != want_pt.get(i):
                return None
            if r["SpecialTerms"] != want_st.get(i) or c.get("custom", {}).get("opportunity_stage") != want_st.get(i):
                return None
        return (recs, clms, by_ext)
    got = wait_for(converged, 180)
    check(got is not None, "both sides converged after the kills")
    if got:
        recs, clms, by_ext = got
        dups = [k for k, v in by_ext.items() if len(v) > 1]
        check(not dups, "no Salesforce record duplicated (%d Contracts, one per contract)" % len(recs), dups[:5])
        titles = [c["title"] for c in clms]
        check(all(titles.count(t) == 1 for t in clm_titles + sf_titles),
              "every created contract exists exactly once on both sides (%d from the repository, %d from Salesforce)"
              % (len(clm_titles), len(sf_titles)))
        check(len(clms) == 30 + len(clm_titles) + len(sf_titles), "no contract lost or added", len(clms))
    # reconcile, through the running server's admin API, finds no drift
    cmd = [os.environ["CLMSYNC"], "reconcile", "--config", os.environ["CLM_CONFIG"], "--admin-url",
           os.environ["ADMIN_URL"], "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    res = json.loads(r.stdout)["requests"] if r.returncode in (0, 1) and r.stdout else []
    check(r.returncode == 0 and len(res) == 1 and res[0]["done"] is True and res[0]["drift"] == 0 and
          res[0]["checked"] >= 30, "reconcile finds no drift", r.stdout + r.stderr)
finally:
    try:
        os.kill(pid, signal.SIGTERM)
        if proc is not None:
            proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
finish()

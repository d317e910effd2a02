"""sync_backfill.py - `clmsync backfill` both ways against real sfemu and clmsync processes (run by test_backfill.sh).

To Salesforce: N repository contracts (and their counterparties) loaded into an empty org with Bulk
API 2.0; then `clmsync serve` starts and writes nothing to Salesforce, and an edit on each side
syncs as usual. From Salesforce: N Contracts (and their Accounts) made in another org are loaded
into an empty repository, with the same checks. Each backfill is run twice: the second run writes
nothing and no record is duplicated.
"""
import csv
import datetime
import io
import json
import os
import sqlite3
import subprocess
import sys
import time

import sync_lib
from sync_lib import API, CLM, SF, check, finish, wait_for

WORK = os.environ["WORK"]
CLMSYNC = os.environ["CLMSYNC"]
N = int(os.environ.get("N", "5000"))
PARTIES = 250
ENV = dict(os.environ, CLMSYNC_TEST_SECRET=sync_lib.SECRET)
procs = []

# values that must come through CSV, JSON and both stores unchanged
TITLES = ["Contract %d", "Quote \"%d\", comma, and more", "\u00dcn\u00efc\u00f6d\u00e9 %d \u2014 \u2713 \u65e5\u672c",
          "'single' `tick` \\back\\ %d", "=SUM(A%d:A9)", "emoji %d \U0001F600\U0001F1E9\U0001F1EA"]
DESCS = [None, "line one\nline two", "crlf\r\nnext, \"quoted\"", "#N/A is text here %d", "  spaces  %d  ",
         "trailing newline\n"]


def run(*args, want=None, what=""):
    """Runs clmsync ARGS; returns (exit code, parsed --json summary or None, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run([CLMSYNC] + list(args), env=ENV, capture_output=True, text=True)
    secs = time.monotonic() - t0
    with open(os.path.join(WORK, "clmsync-cli.log"), "a") as f:
        f.write("$ clmsync %s\n-> %d\n%s%s\n" % (" ".join(args), p.returncode, p.stdout, p.stderr[-4000:]))
    summary = None
    try:
        summary = json.loads(p.stdout) if p.stdout.strip() else None   # one document (--json)
    except ValueError:
        for line in p.stdout.splitlines():
            if line.startswith("{") or line.startswith("["):
                summary = json.loads(line)
    if want is not None:
        check(p.returncode == want, "%s: exit %d" % (what, want), "exit %d: %s" % (p.returncode, p.stderr[-600:]))
    return p.returncode, summary, secs


def backfill(cfg, mapping, direction="to-salesforce", *extra, want=0):
    code, s, secs = run("backfill", "--config", cfg, "--mapping", mapping, "--direction", direction, "--json",
                        *extra, want=want, what="backfill %s %s%s" % (mapping, direction, " " + " ".join(extra) if extra else ""))
    return s or {}, secs


def config(name, sf_url):
    path = os.path.join(WORK, name + ".yaml")
    data = os.path.join(WORK, name + "-data")
    os.makedirs(data, exist_ok=True)
    with open(path, "w") as f:
        f.write(sync_lib.config_yaml(os.path.join(data, "clmsync.db"), [("sf", sf_url)], sync_lib.standard_mappings("sf")))
    return path, data


ADMIN = {}   # configuration file -> the CLI's options naming its running server


def serve(cfg, data, *extra):
    """Starts `clmsync serve`; returns (process, CLM client)."""
    url_file = os.path.join(WORK, "serve-%d.url" % len(procs))
    log = open(os.path.join(WORK, "serve-%d.log" % len(procs)), "w")
    p = subprocess.Popen([CLMSYNC, "serve", "--config", cfg, "--data", data, "--listen", "127.0.0.1:0",
                          "--admin-listen", "127.0.0.1:0"] + list(extra),
                         stdout=open(url_file, "w"), stderr=log, env=ENV)
    procs.append(p)
    url = wait_for(lambda: p.poll() is None and open(url_file).read().strip(), 15)
    if not url:
        raise SystemExit("clmsync serve did not start")
    # the operator's commands below talk to this server's admin listener
    ADMIN[cfg] = ["--admin-url", url.splitlines()[1], "--data", data]
    token = open(os.path.join(data, "api-token")).read().strip()
    clm = CLM(url.splitlines()[0], token)
    wait_for(lambda: clm.call("GET", "/healthz")[0] == 200, 15)
    return p, clm


def stop(p):
    p.terminate()
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def sf_writes(sf):
    """Counted Salesforce calls that can write: everything but streaming and reads we make."""
    c = sf.counters()
    return {k: v for k, v in c.items() if k in ("sobjects", "composite/sobjects", "composite", "jobs")}


def count(sf, soql):
    st, b = sf.api("GET", "/query?q=" + soql.replace(" ", "+"))
    assert st == 200, (st, b)
    return b["totalSize"]


def feed_cursor(data):
    """The engine's repository feed cursor of org sf, read from the store (None when not set)."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data, "clmsync.db"), uri=True, timeout=10)
    try:
        row = db.execute("SELECT doc FROM kv WHERE ns = 'cursor' AND key = 'clm:sf'").fetchone()
        return json.loads(row[0])["seq"] if row else None
    finally:
        db.close()


def quiet(sf, clm, after, seconds=3.0):
    """True when, for `seconds`, Salesforce takes no write and the engine writes nothing to the repository."""
    w0 = sf_writes(sf)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if sf_writes(sf) != w0 or [r for r in clm.changes(after) if r["origin"].startswith("sync:")]:
            return False
        time.sleep(0.1)
    return True


def bulk_insert(sf, sobject, cols, rows):
    """Inserts rows (lists in cols order) with a Bulk API 2.0 job, as any loader would."""
    st, job = sf.api("POST", "/jobs/ingest", {"object": sobject, "operation": "insert", "lineEnding": "LF"})
    assert st == 200, (st, job)
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    st, _ = sf.call("PUT", API + "/jobs/ingest/%s/batches" % job["id"], buf.getvalue().encode(),
                    {"Authorization": "Bearer " + sf.token, "Content-Type": "text/csv"})
    assert st == 201, st
    st, _ = sf.api("PATCH", "/jobs/ingest/" + job["id"], {"state": "UploadComplete"})
    assert st == 200, st
    info = wait_for(lambda: (lambda j: j if j["state"] in ("JobComplete", "Failed", "Aborted") else None)(
        sf.api("GET", "/jobs/ingest/" + job["id"])[1]), 60)
    assert info and info["state"] == "JobComplete" and info["numberRecordsFailed"] == 0, info


def contract_csv(path):
    """N repository contracts over PARTIES counterparties, with the hostile values; statuses the
    scheduler leaves alone (draft, in review) so that serve has no reason of its own to write."""
    today = datetime.date.today()
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["number", "title", "type", "status", "counterparty_legal_name", "owner", "effective_date",
                    "term_months", "auto_renew", "total_value_amount", "total_value_currency", "payment_terms",
                    "description", "custom.region"])
        for i in range(N):
            cur = ["EUR", "USD", "JPY"][i % 3]
            amt = "%d" % (i * 997 % 10**7) if cur == "JPY" else "%d.%02d" % (i * 7919 % 10**8, i % 100)
            t = TITLES[i % len(TITLES)]
            d = DESCS[i % len(DESCS)]
            w.writerow(["BF-%06d" % i, t % i if "%d" in t else t, ["msa", "sow", "nda", "order_form"][i % 4],
                        ["draft", "in_review"][i % 2], "Party %d \u2013 \"%s\"" % (i % PARTIES, "x" * (i % PARTIES % 3)),
                        "owner%d" % (i % 7), (today + datetime.timedelta(days=i % 300)).isoformat(), 12 + i % 24,
                        "true" if i % 3 == 0 else "false", amt, cur, "net %d" % (15 * (1 + i % 4)),
                        "" if d is None else (d % i if "%d" in d else d), ["EMEA", "AMER", "APAC"][i % 3]])


TYPES = {"msa": "MSA", "sow": "SOW", "nda": "NDA", "order_form": "Order Form"}


def to_salesforce(sf_url):
    sf = SF(sf_url)
    cfg, data = config("to", sf_url)
    path = os.path.join(WORK, "contracts.csv")
    contract_csv(path)
    run("import", "contracts", path, "--config", cfg, want=0, what="import %d contracts" % N)

    # usage mistakes, and an org that refuses every call: nothing written
    run("backfill", "--config", cfg, "--mapping", "nope", want=2, what="an unknown mapping")
    run("backfill", "--config", cfg, "--mapping", "contracts", "--direction", "sideways", want=2, what="a bad direction")
    run("backfill", "--config", cfg, "--mapping", "contracts", "--batch", "0", want=2, what="a bad batch size")
    used = sf.counters().get("api_used", 0)
    assert sf.emu("POST", "limits", {"daily_limit": 1, "used": 1})[0] == 200
    s, _ = backfill(cfg, "counterparties", want=4)
    check(s.get("linked") == 0 and "REQUEST_LIMIT_EXCEEDED" in (s.get("error") or ""),
          "the daily API limit reached: stopped early, nothing linked", s)
    assert sf.emu("POST", "limits", {"daily_limit": 1000000, "used": used})[0] == 200

    # contracts before their counterparties: every record refused, nothing sent
    s, _ = backfill(cfg, "contracts", want=1)
    check(s.get("failed") == N and s.get("jobs") == 0 and count(sf, "SELECT COUNT() FROM Contract") == 0,
          "contracts before their counterparties are refused (LOOKUP_NOT_LINKED), nothing sent", s)

    s, _ = backfill(cfg, "counterparties")
    check(s.get("written") == PARTIES and s.get("created") == PARTIES and s.get("linked") == PARTIES,
          "%d counterparties upserted and linked" % PARTIES, s)
    # routing: a mapping that routes EMEA contracts only would load those and no other
    routed = os.path.join(WORK, "to-emea.yaml")
    with open(routed, "w") as f:
        f.write(sync_lib.config_yaml(os.path.join(data, "clmsync.db"), [("sf", sf_url)],
                                     sync_lib.standard_mappings("sf", route=["EMEA"])))
    emea = len([i for i in range(N) if i % 3 == 0])
    s, _ = backfill(routed, "contracts", "to-salesforce", "--dry-run")
    check(s.get("written") == emea and s.get("not_routed") == N - emea and s.get("api_calls") == 0,
          "the mapping's route is respected: %d EMEA contracts would go, %d others not (dry run, no call)"
          % (emea, N - emea), s)

    s, secs = backfill(cfg, "contracts")
    check(s.get("written") == N and s.get("created") == N and s.get("linked") == N and s.get("failed") == 0,
          "%d contracts upserted and linked" % N, s)
    print("figure: backfill of %d contracts to Salesforce: %.1f s (%d Bulk job(s), %d API calls)"
          % (N, secs, s.get("jobs", 0), s.get("api_calls", 0)), flush=True)
    check(count(sf, "SELECT COUNT() FROM Contract") == N and count(sf, "SELECT COUNT() FROM Account") == PARTIES,
          "Salesforce holds exactly %d Contracts and %d Accounts" % (N, PARTIES))

    # the values arrived exactly, and each Contract points at its counterparty's Account
    recs = {r["CLM_Id__c"]: r for r in sf.query(
        "SELECT Id, CLM_Id__c, Name, Description, CLM_Number__c, CLM_Type__c, StartDate, ContractTerm, "
        "CLM_Value__c, CLM_Currency__c, CLM_Payment_Terms__c, CLM_Auto_Renew__c, AccountId, Status, "
        "CLM_Lifecycle_Status__c FROM Contract")}
    accounts = {r["Id"]: r["CLM_Id__c"] for r in sf.query("SELECT Id, CLM_Id__c FROM Account")}
    repo = {c["id"]: c for c in read_contracts(cfg)}
    bad = []
    for cid, c in repo.items():
        r = recs.get(cid)
        amount = c["total_value"]["amount"]
        if (r is None or r["Name"] != c["title"] or r["Description"] != c.get("description")
                or r["CLM_Number__c"] != c["number"] or r["CLM_Type__c"] != TYPES[c["type"]]
                or r["StartDate"] != c["effective_date"] or r["ContractTerm"] != c["term_months"]
                or abs(r["CLM_Value__c"] - float(amount)) > 1e-9 or r["CLM_Currency__c"] != c["total_value"]["currency"]
                or r["CLM_Payment_Terms__c"] != c["payment_terms"] or r["CLM_Auto_Renew__c"] != c["auto_renew"]
                or accounts.get(r["AccountId"]) != c["counterparty_id"]
                or r["Status"] != "Draft" or r["CLM_Lifecycle_Status__c"] != {"draft": "Draft", "in_review": "In Review"}[c["status"]]):
            bad.append((c, r))
    check(not bad, "every Contract holds its contract's values exactly (quotes, commas, line breaks, unicode, money)",
          bad[:2])

    # twice: nothing written, nothing duplicated
    s, _ = backfill(cfg, "contracts")
    check(s.get("written") == 0 and s.get("already_linked") == N and s.get("api_calls") == 0,
          "a second run finds every contract linked and makes no Salesforce call", s)
    s, _ = backfill(cfg, "contracts", "to-salesforce", "--dry-run")
    check(s.get("written") == 0 and s.get("dry_run") is True, "a dry run after it has nothing to do", s)
    check(count(sf, "SELECT COUNT() FROM Contract") == N, "still exactly %d Contracts" % N)

    # the engine starts and finds nothing to do
    w0 = sf_writes(sf)
    head = clm_head(cfg)
    p, clm = serve(cfg, data)
    up = wait_for(lambda: sf.counters().get("cometd", 0) >= 2, 15)
    check(up is not None, "serve's change stream is up")
    check(quiet(sf, clm, head), "serve after the backfill: no Salesforce write, no repository write for 3 s")
    check(sf_writes(sf) == w0, "Salesforce saw no write from serve", (w0, sf_writes(sf)))

    # an edit then syncs as usual, each way
    some = sorted(repo)[N // 2]
    st, _ = clm.patch("contracts", some, {"description": "edited after the backfill", "payment_terms": "net 99"})
    got = wait_for(lambda: (lambda r: r if r and r[0]["Description"] == "edited after the backfill" else None)(
        sf.by_ext("Contract", "CLM_Id__c", some, "Id, Description, CLM_Payment_Terms__c")), 20)
    check(st == 200 and got is not None and got[0]["CLM_Payment_Terms__c"] == "net 99",
          "a repository edit reaches Salesforce", got)
    sf.update("Contract", recs[some]["Id"], {"SpecialTerms": "stage after backfill"})
    got = wait_for(lambda: (lambda c: c if c.get("custom", {}).get("opportunity_stage") == "stage after backfill" else None)(
        clm.get("contracts", some)), 20)
    check(got is not None, "a Salesforce edit reaches the repository")
    calls = sf_writes(sf).get("composite/sobjects", 0) - w0.get("composite/sobjects", 0)
    check(calls == 1, "one Salesforce write call for the one repository edit", calls)
    # a field both sides own: the shadow says which side moved, so it is applied, not a conflict
    other = sorted(repo)[N // 3]
    sf.update("Contract", recs[other]["Id"], {"Description": "both-owned, edited in Salesforce"})
    got = wait_for(lambda: (lambda c: c if c.get("description") == "both-owned, edited in Salesforce" else None)(
        clm.get("contracts", other)), 20)
    check(got is not None, "a Salesforce edit of a field both sides own is applied (the backfill's shadow is right)")
    no_conflicts(cfg)
    # last, as it heals shadows it finds missing: the engine finds every record equal on both sides
    no_drift(cfg)

    # beside the running engine: safe, and still nothing to do
    s, _ = backfill(cfg, "contracts")
    check(s.get("written") == 0 and s.get("failed") == 0, "a backfill beside serve is a no-op", s)
    check(count(sf, "SELECT COUNT() FROM Contract") == N, "no Contract duplicated")
    stop(p)


def no_drift(cfg):
    """The running engine compares every linked record of both mappings, field by field."""
    for m in ("counterparties", "contracts"):
        code, out, _ = run("reconcile", *ADMIN[cfg], "--mapping", m, "--wait", "120", "--json")
        res = (out or {}).get("requests", []) if isinstance(out, dict) else (out or [])
        check(code == 0 and res and all(o.get("done") and o.get("checked", 0) > 0 and o.get("drift") == 0 for o in res),
              "reconcile of %s: every record compared, both sides equal" % m, (code, out))


def no_conflicts(cfg):
    p = subprocess.run([CLMSYNC, "conflicts", "list", *ADMIN[cfg], "--json"], env=ENV, capture_output=True, text=True)
    j = json.loads(p.stdout or "null")
    check((j.get("conflicts") if isinstance(j, dict) else j) == [], "no conflict was parked", p.stdout[:300])


def store_path(cfg):
    return [l.split(":", 1)[1].strip() for l in open(cfg) if l.startswith("store:")][0].replace("sqlite:", "")


def store_read(cfg, sql):
    """One value read from the store file, read-only (the store is SQLite in WAL mode)."""
    db = sqlite3.connect("file:%s?mode=ro" % store_path(cfg), uri=True, timeout=10)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def clm_head(cfg):
    """The repository change feed's head."""
    return store_read(cfg, "SELECT COALESCE(MAX(seq), 0) FROM changes")


def read_contracts(cfg):
    """Every contract as the REST API gives it, through `clmsync export` (reads the store directly)."""
    out = subprocess.run([CLMSYNC, "export", "contracts", "--format", "jsonl", "--config", cfg], env=ENV,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]


def from_salesforce(sf_url):
    sf = SF(sf_url)
    cfg, data = config("from", sf_url)
    names = ["Acct %d \u2013 \"%s\", %s" % (i, "q" * (i % 3), ["GmbH", "S.A.", "\u682a\u5f0f\u4f1a\u793e"][i % 3])
             for i in range(PARTIES)]
    bulk_insert(sf, "Account", ["Name", "Industry", "AnnualRevenue"],
                [[n, ["Technology", "Finance", "Manufacturing"][i % 3], str(1000 * i)] for i, n in enumerate(names)])
    acc = {r["Name"]: r["Id"] for r in sf.query("SELECT Id, Name FROM Account")}
    today = datetime.date.today()
    rows = []
    for i in range(N):
        t = TITLES[i % len(TITLES)]
        d = DESCS[i % len(DESCS)]
        rows.append([(t % i if "%d" in t else t)[:80], acc[names[i % PARTIES]],
                     (today - datetime.timedelta(days=i % 300)).isoformat(), str(6 + i % 30),
                     ["MSA", "SOW", "NDA", "Order Form"][i % 4], "%d.%02d" % (i * 31, i % 100), ["EUR", "USD"][i % 2],
                     None if d is None else (d % i if "%d" in d else d), "stage %d" % (i % 9), "law %d" % (i % 5)])
    bulk_insert(sf, "Contract", ["Name", "AccountId", "StartDate", "ContractTerm", "CLM_Type__c", "CLM_Value__c",
                                 "CLM_Currency__c", "Description", "SpecialTerms", "CLM_Governing_Law__c"], rows)

    # a counterparty the repository has already, named by an Account's external id: matched, not made
    p, clm = serve(cfg, data, "--no-sync")
    mine = clm.create("counterparties", {"legal_name": "Old Name", "registration_number": "HRB 9"})
    stop(p)
    bulk_insert(sf, "Account", ["Name", "CLM_Id__c", "AnnualRevenue"], [["New Name from Salesforce", mine["id"], "5000"]])

    s, _ = backfill(cfg, "contracts", "from-salesforce", want=1)
    check(s.get("failed") == N and s.get("created") == 0,
          "Contracts before their Accounts are refused (LOOKUP_NOT_LINKED), nothing created", s)
    # killed in the middle (SIGKILL while its second batch is being made), then run again: it
    # finishes what the first run linked and left, and nothing is made twice
    p = subprocess.Popen([CLMSYNC, "backfill", "--config", cfg, "--mapping", "counterparties", "--direction",
                          "from-salesforce", "--batch", "50"], env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, bufsize=1)
    batches = 0
    for line in p.stderr:
        if "creating in the repository" in line:
            batches += 1
            if batches == 2:
                p.kill()
                break
    p.wait()
    p.stderr.close()
    check(p.returncode == -9, "the first run was killed in its second batch", p.returncode)
    pending = store_read(cfg, "SELECT COUNT(*) FROM kv WHERE ns = 'link:counterparties' AND doc LIKE '%\"backfill\"%'")
    check(pending > 0, "it left records linked but not finished (%d)" % pending, pending)
    s, _ = backfill(cfg, "counterparties", "from-salesforce")
    check(s.get("failed") == 0 and s.get("linked", 0) >= pending, "the run after the kill finished the load", s)
    check(store_read(cfg, "SELECT COUNT(*) FROM kv WHERE ns = 'link:counterparties' AND doc LIKE '%\"backfill\"%'") == 0
          and store_read(cfg, "SELECT COUNT(*) FROM kv WHERE ns = 'creating:counterparties'") == 0,
          "no unfinished link and no creation marker is left")
    s, _ = backfill(cfg, "counterparties", "from-salesforce")
    check(s.get("written") == 0 and s.get("already_linked") == PARTIES + 1, "then every Account is linked", s)
    check(store_read(cfg, "SELECT COUNT(*) FROM records WHERE kind = 'counterparty'") == PARTIES + 1 and
          count(sf, "SELECT COUNT() FROM Account WHERE CLM_Id__c != null") == PARTIES + 1,
          "%d counterparties, none made twice, and every Account carries its repository id" % (PARTIES + 1))
    m = json.loads(store_read(cfg, "SELECT doc FROM records WHERE id = '%s'" % mine["id"]))
    a = sf.by_ext("Account", "CLM_Id__c", mine["id"], "Id, Name, CLM_Registration_Number__c, CLM_Status__c")
    check(m.get("legal_name") == "New Name from Salesforce" and m.get("custom", {}).get("revenue") == "5000.00",
          "the matched counterparty took Salesforce's values for the fields Salesforce may write", m)
    check(len(a) == 1 and a[0]["CLM_Registration_Number__c"] == "HRB 9" and a[0]["CLM_Status__c"] == "Active",
          "its Account took the repository's values for the fields only the repository writes", a)
    w_before = sf_writes(sf)
    s, secs = backfill(cfg, "contracts", "from-salesforce")
    check(s.get("created") == N and s.get("linked") == N and s.get("failed") == 0 and s.get("sf_updates") == N,
          "%d Contracts created as contracts, linked, and given their repository ids and numbers" % N, s)
    print("figure: backfill of %d contracts from Salesforce: %.1f s (%d Bulk job(s), %d API calls)"
          % (N, secs, s.get("jobs", 0), s.get("api_calls", 0)), flush=True)
    w_after = sf_writes(sf)
    check(w_after["sobjects"] - w_before["sobjects"] == 1 and
          w_after["jobs"] - w_before["jobs"] == s.get("api_calls") - 1,
          "every Salesforce call of the backfill was a Bulk API call, but one describe", (w_before, w_after, s))

    repo = {c["id"]: c for c in read_contracts(cfg)}
    parties = store_read(cfg, "SELECT COUNT(*) FROM records WHERE kind = 'counterparty'")
    check(len(repo) == N and parties == PARTIES + 1, "the repository holds %d contracts and %d counterparties"
          % (N, PARTIES + 1), (len(repo), parties))
    recs = sf.query("SELECT Id, CLM_Id__c, CLM_Number__c, Name, Description, StartDate, ContractTerm, CLM_Value__c, "
                    "CLM_Currency__c, SpecialTerms, AccountId, CLM_Lifecycle_Status__c FROM Contract")
    accounts = {r["Id"]: r["CLM_Id__c"] for r in sf.query("SELECT Id, CLM_Id__c FROM Account")}
    bad = []
    for r in recs:
        c = repo.get(r["CLM_Id__c"])
        if (c is None or c["title"] != r["Name"] or c.get("description") != r["Description"]
                or c["number"] != r["CLM_Number__c"] or c["effective_date"] != r["StartDate"]
                or c["term_months"] != r["ContractTerm"] or c["total_value"]["currency"] != r["CLM_Currency__c"]
                or abs(float(c["total_value"]["amount"]) - r["CLM_Value__c"]) > 1e-9
                or c.get("custom", {}).get("opportunity_stage") != r["SpecialTerms"]
                or c["counterparty_id"] != accounts.get(r["AccountId"])
                or r["CLM_Lifecycle_Status__c"] != "Draft"):
            bad.append((r, c))
    check(not bad and len(recs) == N, "every contract holds its Contract's values exactly, and every Contract its "
          "repository id, number and status", bad[:2])

    s, _ = backfill(cfg, "contracts", "from-salesforce")
    check(s.get("written") == 0 and s.get("already_linked") == N and s.get("created") == 0,
          "a second run finds every Contract linked and creates nothing", s)
    check(len(read_contracts(cfg)) == N, "still exactly %d contracts" % N)

    # the engine starts (its feed cursor was set before the records were made: it replans all of
    # them) and finds nothing to do
    w0 = sf_writes(sf)
    cur0 = feed_cursor(data)
    head = clm_head(cfg)
    check(cur0 is not None and cur0 < head, "the backfill set the engine's feed cursor before its own writes",
          (cur0, head))
    p, clm = serve(cfg, data)
    up = wait_for(lambda: sf.counters().get("cometd", 0) >= 2 and feed_cursor(data) >= head, 60)
    check(up is not None, "serve planned every repository change of the backfill", (feed_cursor(data), head))
    check(quiet(sf, clm, head), "serve after the backfill: no Salesforce write, no repository write for 3 s")
    check(sf_writes(sf) == w0, "Salesforce saw no write from serve", (w0, sf_writes(sf)))
    dlq = subprocess.run([CLMSYNC, "dlq", "list", *ADMIN[cfg], "--json"], env=ENV, capture_output=True, text=True)
    j = json.loads(dlq.stdout or "[]")
    check(dlq.returncode in (0, 1) and (j.get("entries") if isinstance(j, dict) else j) == [],
          "nothing in the dead-letter queue", dlq.stdout[:300])
    no_drift(cfg)

    some = recs[N // 3]
    sf.update("Contract", some["Id"], {"SpecialTerms": "edited in Salesforce"})
    got = wait_for(lambda: (lambda c: c if c.get("custom", {}).get("opportunity_stage") == "edited in Salesforce" else None)(
        clm.get("contracts", some["CLM_Id__c"])), 20)
    check(got is not None, "a Salesforce edit reaches the repository")
    st, _ = clm.patch("contracts", some["CLM_Id__c"], {"payment_terms": "net 7"})
    got = wait_for(lambda: (lambda r: r if r["CLM_Payment_Terms__c"] == "net 7" else None)(sf.get("Contract", some["Id"])), 20)
    check(st == 200 and got is not None, "a repository edit reaches Salesforce")
    other = recs[N // 4]
    sf.update("Contract", other["Id"], {"Description": "both-owned, edited in Salesforce"})
    got = wait_for(lambda: (lambda c: c if c.get("description") == "both-owned, edited in Salesforce" else None)(
        clm.get("contracts", other["CLM_Id__c"])), 20)
    check(got is not None, "a Salesforce edit of a field both sides own is applied (the backfill's shadow is right)")
    no_conflicts(cfg)
    stop(p)
    check(count(sf, "SELECT COUNT() FROM Contract") == N and count(sf, "SELECT COUNT() FROM Account") == PARTIES + 1,
          "no Salesforce record was duplicated")
    made_while_linked(sf, cfg, data)


def made_while_linked(sf, cfg, data):
    """A Salesforce change the engine plans while a backfill has linked a record and not made it yet
    (written here as the backfill writes it between its pre-link and its create): the engine cannot
    apply it to a record that is not there, so it marks the link; the backfill's finish has the
    record planned again from Salesforce, and the mark goes."""
    acc = sf.query("SELECT Id FROM Account LIMIT 1")[0]["Id"]
    x = sf.create("Contract", {"Name": "Made during a backfill", "AccountId": acc, "StartDate": "2026-02-01",
                               "Description": "as the backfill read it"})
    cid = "ct_" + "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(i * 7 + 3) % 32] for i in range(26))
    db = sqlite3.connect(store_path(cfg), timeout=10)
    with db:
        db.execute("INSERT INTO kv (ns, key, doc) VALUES ('link:contracts', ?, ?)",
                   (cid, json.dumps({"sf": x, "base": {}, "sent": [], "backfill": "pending"})))
        db.execute("INSERT INTO kv (ns, key, doc) VALUES ('linkr:contracts', ?, ?)", (x, json.dumps({"clm": cid})))
    db.close()
    link = "SELECT doc FROM kv WHERE ns = 'link:contracts' AND key = '%s'" % cid
    p, clm = serve(cfg, data)
    sf.update("Contract", x, {"Description": "edited while it was being made"})
    marked = wait_for(lambda: '"missed"' in (store_read(cfg, link) or ""), 20)
    check(marked, "the engine marks the link of a record a backfill has not made yet when it changes",
          store_read(cfg, link))
    code, s, _ = run("backfill", "--config", cfg, "--mapping", "contracts", "--direction", "from-salesforce", "--json")
    check(code == 0 and s and s.get("created") == 1, "the backfill makes the record", (code, s))
    check(s and s.get("replanned") == 1, "its finish has the record planned again from Salesforce", s)
    doc = json.loads(store_read(cfg, link))
    check("missed" not in doc and "backfill" not in doc and doc.get("sf") == x, "the mark and the pending state go", doc)
    got = wait_for(lambda: (lambda c: c if c.get("description") == "edited while it was being made" else None)(
        clm.get("contracts", cid)), 20)
    check(got is not None, "the repository holds the change made in Salesforce meanwhile")
    no_conflicts(cfg)
    stop(p)


try:
    to_salesforce(os.environ["SF_URL"])
    from_salesforce(os.environ["SF2_URL"])
finally:
    for p in procs:
        if p.poll() is None:
            stop(p)
finish()

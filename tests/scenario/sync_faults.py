"""sync_faults.py - scenario 7: the sync engine under faults (run by test_sync_faults.sh).

1. While sfemu answers 503, UNABLE_TO_LOCK_ROW, drops connections, loses answers to writes it
   made, adds latency and expires every session now and then, both sides create and update a
   few hundred records (Salesforce also edits fields the repository owns). The sides converge:
   every mapped field equal, each at the value last written, no Salesforce record duplicated,
   nothing in the dead-letter queue; once the faults stop and the engine has settled, nothing
   more is written.
   A burst of 503s longer than the HTTP client's own attempts is outlasted by the engine's
   retries; two changes queued behind it go as one write, and Salesforce edits made after that
   write are still reverted (a coalesced write used to leave a change "in flight" forever).
2. A lost answer never duplicates: creates from the repository while sfemu makes writes and
   loses their answers end with exactly one Salesforce record per record; updates made while
   answers are lost arrive too.
3. A repository value Salesforce's validation rule refuses waits in the dead-letter queue with
   Salesforce's exact message; once the rule is deactivated `clmsync dlq replay` completes it.
4. A Salesforce lifecycle edit the repository's lifecycle refuses is dead-lettered with the
   repository's reason, and the contract is unchanged.

The test's own Salesforce calls meet the same faults; they are repeated until answered (a create
whose answer may have been lost is looked for first), and counted, so that the engine's share of
sfemu's fault counters is known.
"""
import json
import os
import random
import subprocess
import time
import urllib.parse
from decimal import Decimal

from sync_lib import API, CLIENT_ID, CLM, SECRET, SF, OneAttempt, check, env, finish, wait_for

sf_url, clm_url, token = env()
sf, clm = SF(sf_url), CLM(clm_url, token)
cli, cfg = os.environ["CLMSYNC"], os.environ["CLM_CONFIG"]
senv = dict(os.environ, CLMSYNC_TEST_SECRET="clmsync-test-secret")
rng = random.Random(int(os.environ.get("SEED", "7")))

TYPES = {"msa": "MSA", "sow": "SOW", "nda": "NDA", "order_form": "Order Form", "amendment": "Amendment",
         "renewal": "Renewal", "other": "Other"}
LIFE = {"draft": "Draft", "in_review": "In Review", "in_approval": "In Approval", "approved": "Approved",
        "in_signature": "In Signature", "signed": "Signed", "active": "Active", "expired": "Expired",
        "terminated": "Terminated", "renewed": "Renewed"}
STATUS = {"draft": "Draft", "in_review": "Draft", "in_approval": "In Approval Process",
          "approved": "In Approval Process", "in_signature": "In Approval Process",
          "signed": "In Approval Process", "active": "Activated"}
INDUSTRY = {"Software": "Technology", "Manufacturing": "Manufacturing", "Finance": "Finance",
            "Healthcare": "Healthcare", "Other": "Other"}
CP_STATUS = {"active": "Active", "inactive": "Inactive", "blocked": "Blocked"}
CONTRACT_FIELDS = ["Id", "CLM_Id__c", "Name", "CLM_Number__c", "AccountId", "CLM_Type__c", "StartDate", "ContractTerm",
                   "CLM_Renewal_Date__c", "CLM_Auto_Renew__c", "CLM_Value__c", "CLM_Currency__c",
                   "CLM_Payment_Terms__c", "Description", "CLM_Governing_Law__c", "SpecialTerms",
                   "CustomerSignedDate", "CLM_Lifecycle_Status__c", "Status"]
ACCOUNT_FIELDS = ["Id", "CLM_Id__c", "Name", "CLM_Registration_Number__c", "AnnualRevenue", "CLM_Status__c", "Industry"]


class Faulty(OneAttempt):
    """The test's own Salesforce client while sfemu injects faults (see the module's comment)."""

    def __init__(self, base):
        OneAttempt.__init__(self, base, timeout=60)
        self.token = None
        self.met = {"503": 0, "lock": 0, "closed": 0, "401": 0}
        self.login()

    def login(self):
        form = "grant_type=client_credentials&client_id=%s&client_secret=%s" % (CLIENT_ID, SECRET)
        for _ in range(20):
            st, b = self.once("POST", "/services/oauth2/token", form,
                              {"Content-Type": "application/x-www-form-urlencoded"})
            if st == 200:
                self.token = b["access_token"]
                return
        raise SystemExit("cannot log in to sfemu")

    def api(self, method, path, body=None, want=(200, 201, 204)):
        """A call repeated until answered, counting the faults met; asserts the final status.
        For reads and updates only: repeating those is safe even when an answer was lost."""
        full = path if path.startswith("/services/") else API + path
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st, b = self.once(method, full, body, {"Authorization": "Bearer " + self.token})
            if st is None:
                self.met["closed"] += 1
            elif st == 401:
                self.met["401"] += 1
                self.login()
            elif st == 503:
                self.met["503"] += 1
            elif st == 400 and isinstance(b, list) and b and b[0].get("errorCode") == "UNABLE_TO_LOCK_ROW":
                self.met["lock"] += 1
            else:
                assert st in want, (method, path, st, b)
                return st, b
        raise SystemExit("%s %s: no answer within 60 s" % (method, path))

    def create(self, sobject, fields):
        """Creates a record whose Name is unique: when the connection closes without an answer,
        the create may have been made (a lost answer), so the record is looked for by that name
        before the create is tried again."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st, b = self.once("POST", API + "/sobjects/" + sobject, fields, {"Authorization": "Bearer " + self.token})
            if st == 201:
                return b["id"]
            if st is None:
                self.met["closed"] += 1
                made = self.query("SELECT Id FROM %s WHERE Name = '%s'" % (sobject, fields["Name"]))
                if made:
                    return made[0]["Id"]
            elif st == 401:
                self.met["401"] += 1
                self.login()
            elif st == 503:
                self.met["503"] += 1
            elif st == 400 and isinstance(b, list) and b and b[0].get("errorCode") == "UNABLE_TO_LOCK_ROW":
                self.met["lock"] += 1
            else:
                raise AssertionError((sobject, st, b))
        raise SystemExit("create %s: no answer within 60 s" % sobject)

    def update(self, sobject, sid, fields):
        self.api("PATCH", "/sobjects/%s/%s" % (sobject, sid), fields, (204,))

    def get(self, sobject, sid):
        return self.api("GET", "/sobjects/%s/%s" % (sobject, sid), want=(200,))[1]

    def query(self, soql):
        st, b = self.api("GET", "/query?q=" + urllib.parse.quote(soql), want=(200,))
        recs = b["records"]
        while not b.get("done", True):
            st, b = self.api("GET", b["nextRecordsUrl"], want=(200,))
            recs += b["records"]
        return recs


def emu(path, body):
    """A POST to sfemu's control endpoint `path`; asserts it was taken."""
    st, b = sf.emu("POST", path, body)
    assert st == 200, (path, st, b)
    return b


def faults(**rates):
    """Sets every fault rate (those not named go to 0)."""
    body = {"rate_503": 0, "rate_lock": 0, "rate_drop": 0, "rate_lost": 0, "latency_ms": 0, "latency_rate": 0}
    body.update(rates)
    emu("faults", body)


def run_cli(*args):
    r = subprocess.run([cli, *args, "--admin-url", os.environ["ADMIN_URL"], "--data", os.environ["CLM_DATA"]],
                       capture_output=True, text=True, env=senv)
    return r.returncode, r.stdout, r.stderr


def dlq_list():
    code, out, err = run_cli("dlq", "list", "--json")
    assert code in (0, 1), (code, out, err)
    j = json.loads(out)
    return j["entries"] if isinstance(j, dict) else j


def money(v):
    return None if v is None else Decimal(str(v)).quantize(Decimal("0.01"))


def contract_want(c, account_of):
    """The Salesforce values the mapping gives contract c (account_of: counterparty id -> Account Id)."""
    tv = c.get("total_value") or {}
    st = c.get("status")
    return {
        "Name": c["title"][:80], "CLM_Number__c": c.get("number"),
        "AccountId": account_of.get(c["counterparty_id"], "?") if c.get("counterparty_id") else None,
        "CLM_Type__c": TYPES.get(c.get("type")), "StartDate": c.get("effective_date"),
        "ContractTerm": c.get("term_months"), "CLM_Renewal_Date__c": c.get("expiration_date"),
        "CLM_Auto_Renew__c": bool(c.get("auto_renew")), "CLM_Value__c": money(tv.get("amount")),
        "CLM_Currency__c": tv.get("currency"), "CLM_Payment_Terms__c": c.get("payment_terms"),
        "Description": c.get("description"), "CLM_Governing_Law__c": c.get("governing_law"),
        "SpecialTerms": (c.get("custom") or {}).get("opportunity_stage"),
        "CustomerSignedDate": c.get("customer_signed_date"), "CLM_Lifecycle_Status__c": LIFE.get(st),
        "Status": STATUS.get(st),
    }


def account_want(p):
    cu = p.get("custom") or {}
    return {
        "Name": p["legal_name"], "CLM_Registration_Number__c": p.get("registration_number"),
        "AnnualRevenue": money(cu.get("revenue")), "CLM_Status__c": CP_STATUS.get(p.get("status")),
        "Industry": INDUSTRY.get(cu.get("industry")),
    }


def sf_values(rec, fields):
    out = {}
    for f in fields:
        v = rec.get(f)
        if f in ("CLM_Value__c", "AnnualRevenue"):
            v = money(v)
        elif f == "CLM_Auto_Renew__c":
            v = bool(v)
        out[f] = v
    return out


def compare(q, want_sf):
    """Both sides record by record: (problems, Accounts, Contracts); problems is empty when every
    record is linked once, every mapped field equal, and each at the value last written to it
    (want_sf: Salesforce Id or repository id -> {sfField: value})."""
    accts = q.query("SELECT %s FROM Account" % ", ".join(ACCOUNT_FIELDS))
    cons = q.query("SELECT %s FROM Contract" % ", ".join(CONTRACT_FIELDS))
    cps, cts = clm.list("counterparties"), clm.list("contracts")
    problems = []
    for kind, sfrecs, recs in (("Account", accts, cps), ("Contract", cons, cts)):
        by_ext = {}
        for r in sfrecs:
            by_ext.setdefault(r["CLM_Id__c"], []).append(r)
        if None in by_ext:
            problems.append("%d %s records without a repository id" % (len(by_ext[None]), kind))
        dups = [k for k, v in by_ext.items() if k and len(v) > 1]
        if dups:
            problems.append("%s records duplicated: %s" % (kind, dups[:3]))
        if len(sfrecs) != len(recs):
            problems.append("%d %s records, %d in the repository" % (len(sfrecs), kind, len(recs)))
    account_of = {a["CLM_Id__c"]: a["Id"] for a in accts}
    sf_by_ext = {r["CLM_Id__c"]: r for r in accts + cons}
    for recs, want_of, fields in ((cps, account_want, ACCOUNT_FIELDS[2:]),
                                  (cts, lambda c: contract_want(c, account_of), CONTRACT_FIELDS[2:])):
        for rec in recs:
            s = sf_by_ext.get(rec["id"])
            if s is None:
                problems.append("%s has no Salesforce record" % rec["id"])
                continue
            have, want = sf_values(s, fields), want_of(rec)
            diff = {f: (want[f], have[f]) for f in fields if want[f] != have[f]}
            for key in (s["Id"], rec["id"]):
                for f, v in want_sf.get(key, {}).items():
                    if have[f] != v:
                        diff[f + " (last written)"] = (v, have[f])
            if diff:
                problems.append("%s / %s: %s" % (rec["id"], s["Id"], diff))
    return problems, accts, cons


def counts():
    """How far each side has got: change events sfemu published, calls to its record resources
    (sObject REST and Collections, reads too), and changes in the repository's feed."""
    c = sf.counters()
    st, ev = sf.emu("GET", "events")
    return (len(ev), c.get("composite/sobjects", 0) + c.get("sobjects", 0), len(clm.changes()))


def quiet(what, window=3.0):
    """Checks that nothing is written on either side for `window` seconds."""
    before = counts()
    moved = wait_for(lambda: counts() != before, window)
    check(moved is None, "%s: nothing more is written on either side (%d change events, %d record calls, %d "
          "repository changes, unchanged for %.0f s)" % (what, before[0], before[1], before[2], window), (before, counts()))


def settle(still=1.5, timeout=30):
    """Waits until neither side has moved for `still` seconds; False when that never happened."""
    last = {"c": counts(), "t": time.monotonic()}

    def calm():
        c = counts()
        if c != last["c"]:
            last["c"], last["t"] = c, time.monotonic()
        return time.monotonic() - last["t"] >= still
    return wait_for(calm, timeout) is not None


def log_lines(text):
    with open(os.environ["CLM_LOG"], encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if text in line)


# --- 1. a two-way workload under faults -------------------------------------------------------

want_sf = {}       # Salesforce Id or repository id -> {sfField: the value last written}


def wants(key, **fields):
    want_sf.setdefault(key, {}).update(fields)


def rand_cp(k):
    return {"legal_name": "Faulty %d Ltd" % k, "registration_number": "HRB %d" % k,
            "custom": {"industry": rng.choice(list(INDUSTRY))}}


def rand_contract(k, cp):
    return {"title": "Faulty contract %d" % k, "type": rng.choice(list(TYPES)), "counterparty_id": cp,
            "effective_date": "2026-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28)),
            "term_months": rng.choice([6, 12, 24, 36]),
            "total_value": {"amount": "%d.%02d" % (rng.randint(1, 999999), rng.randint(0, 99)),
                            "currency": rng.choice(["EUR", "USD", "GBP"])},
            "payment_terms": "net %d" % rng.choice([15, 30, 60])}


# a starting population on each side, linked before the faults begin
repo_cps = [clm.create("counterparties", rand_cp(k))["id"] for k in range(6)]
repo_cts = [clm.create("contracts", rand_contract(k, rng.choice(repo_cps)))["id"] for k in range(24)]
sf_accts = [sf.create("Account", {"Name": "SF account %d" % k, "Industry": rng.choice(list(INDUSTRY.values())),
                                  "AnnualRevenue": rng.randint(1, 10 ** 6)}) for k in range(4)]
sf_cts = [sf.create("Contract", {"Name": "SF contract %d" % k, "AccountId": rng.choice(sf_accts),
                                 "StartDate": "2026-01-%02d" % (k + 1), "ContractTerm": 12, "CLM_Type__c": "NDA",
                                 "Description": "made in Salesforce"}) for k in range(12)]


def seeded():
    cons = {r["CLM_Id__c"]: r["Id"] for r in sf.query("SELECT Id, CLM_Id__c FROM Contract")}
    accts = {r["CLM_Id__c"]: r["Id"] for r in sf.query("SELECT Id, CLM_Id__c FROM Account")}
    if all(i in cons for i in repo_cts) and all(i in accts for i in repo_cps) and None not in cons \
            and None not in accts:
        return cons, accts
    return None


got = wait_for(seeded, 30)
check(got is not None, "the starting population is linked (%d contracts, %d counterparties)"
      % (len(repo_cts) + len(sf_cts), len(repo_cps) + len(sf_accts)))
if got is None:
    finish()
sfid_of = dict(got[0])
sfid_of.update(got[1])
clm_of = {v: k for k, v in sfid_of.items()}
# records each side may update: the repository by its ids, Salesforce by its own
clm_contracts = list(repo_cts) + [clm_of[s] for s in sf_cts]
clm_cps = list(repo_cps) + [clm_of[s] for s in sf_accts]
sf_contracts = [sfid_of[i] for i in repo_cts] + list(sf_cts)
sf_accounts = [sfid_of[i] for i in repo_cps] + list(sf_accts)

before = sf.counters()
q = Faulty(sf_url)
faults(rate_503=100, rate_lock=100, rate_drop=60, rate_lost=40, latency_ms=150, latency_rate=30,
       seed=rng.randint(1, 1 << 30))
OPS = 600
expiries = 0
made = {"repo": 0, "sf": 0}
t0 = time.monotonic()
for k in range(OPS):
    r = rng.random()
    if k in (OPS // 4, OPS // 2, 3 * OPS // 4):
        emu("expire-sessions", {})
        expiries += 1
    if r < 0.5:
        made["repo"] += 1
        r = rng.random()
        if r < 0.04:
            clm_cps.append(clm.create("counterparties", rand_cp(100 + k))["id"])
        elif r < 0.2:
            clm_contracts.append(clm.create("contracts", rand_contract(100 + k, rng.choice(clm_cps)))["id"])
        elif r < 0.85:
            i = rng.choice(clm_contracts)
            f = rng.choice(["payment_terms", "title", "total_value", "stage", "term"])
            if f == "payment_terms":
                body, w = {"payment_terms": "pt %d" % k}, {"CLM_Payment_Terms__c": "pt %d" % k}
            elif f == "title":
                body, w = {"title": "Retitled %d" % k}, {"Name": "Retitled %d" % k}
            elif f == "total_value":
                body = {"total_value": {"amount": "%d.5" % k, "currency": "CHF"}}
                w = {"CLM_Value__c": money("%d.5" % k), "CLM_Currency__c": "CHF"}
            elif f == "stage":
                body, w = {"custom": {"opportunity_stage": "stage %d" % k}}, {"SpecialTerms": "stage %d" % k}
            else:
                body, w = {"term_months": 1 + k % 60}, {"ContractTerm": 1 + k % 60}
            st, b = clm.patch("contracts", i, body)
            assert st == 200, (st, b)
            wants(i, **w)
        else:
            i = rng.choice(clm_cps)
            if rng.random() < 0.5:
                body, w = {"legal_name": "Renamed %d GmbH" % k}, {"Name": "Renamed %d GmbH" % k}
            else:
                body, w = {"registration_number": "HRB %d" % (1000 + k)}, \
                    {"CLM_Registration_Number__c": "HRB %d" % (1000 + k)}
            st, b = clm.patch("counterparties", i, body)
            assert st == 200, (st, b)
            wants(i, **w)
    else:
        made["sf"] += 1
        r = rng.random()
        if r < 0.03:
            sf_accounts.append(q.create("Account", {"Name": "SF account %d" % k, "Industry": "Finance"}))
        elif r < 0.15:
            sf_contracts.append(q.create("Contract", {
                "Name": "SF contract %d" % k, "AccountId": rng.choice(sf_accounts), "StartDate": "2026-02-01",
                "ContractTerm": 24, "CLM_Type__c": "SOW", "CustomerSignedDate": "2026-01-15"}))
        elif r < 0.2:
            # a repository-owned field edited in Salesforce: the engine writes the repository's back
            s = rng.choice(sf_contracts)
            q.update("Contract", s, rng.choice([{"CLM_Payment_Terms__c": "edited in Salesforce %d" % k},
                                                {"Status": "Activated"}, {"SpecialTerms": "sf %d" % k}]))
        elif r < 0.85:
            s = rng.choice(sf_contracts)
            f = rng.choice(["Description", "CLM_Governing_Law__c", "CustomerSignedDate"])
            v = {"Description": "note %d" % k, "CLM_Governing_Law__c": rng.choice(["English law", "Swiss law", None]),
                 "CustomerSignedDate": "2025-%02d-%02d" % (1 + k % 12, 1 + k % 28)}[f]
            q.update("Contract", s, {f: v})
            wants(s, **{f: v})
        else:
            s = rng.choice(sf_accounts)
            if rng.random() < 0.5:
                v = rng.choice(list(INDUSTRY.values()))
                q.update("Account", s, {"Industry": v})
                wants(s, Industry=v)
            else:
                v = rng.randint(1, 10 ** 7)
                q.update("Account", s, {"AnnualRevenue": v})
                wants(s, AnnualRevenue=money(v))
t_load = time.monotonic() - t0


def converged():
    problems, accts, cons = compare(q, want_sf)
    return (accts, cons) if not problems else None


got = wait_for(converged, 60)
t_conv = time.monotonic() - t0
if got is None:
    problems = compare(q, want_sf)[0]
    check(False, "both sides converged under faults", "%d problems, first: %s" % (len(problems), problems[:4]))
else:
    accts, cons = got
    check(True, "both sides converged under faults: %d Accounts and %d Contracts, every mapped field equal and at "
          "the value last written (%d repository and %d Salesforce operations in %.1f s, converged after %.1f s)"
          % (len(accts), len(cons), made["repo"], made["sf"], t_load, t_conv))
    check(len(set(r["CLM_Id__c"] for r in cons)) == len(cons) and len(set(r["CLM_Id__c"] for r in accts)) == len(accts),
          "no Salesforce record duplicated")
dlq = dlq_list()
check(dlq == [], "nothing in the dead-letter queue (clmsync dlq list)", dlq[:2])
c = sf.counters()
# sfemu counts every fault it injects; what the test's own calls met is known, the rest the engine
# met (a connection closed without an answer is a drop or a lost answer: the test cannot tell)
injected = {k: sum(c.get("fault." + f, 0) - before.get("fault." + f, 0) for f in fs)
            for k, fs in (("503", ["503"]), ("lock", ["lock"]), ("closed", ["drop", "lost"]))}
engine = {k: injected[k] - q.met[k] for k in injected}
check(all(v >= 0 for v in engine.values()) and sum(engine.values()) >= 5,
      "the engine met and retried through %d injected faults: %d 503s, %d UNABLE_TO_LOCK_ROW, %d connections "
      "closed without an answer (the test's own calls met %d more)"
      % (sum(engine.values()), engine["503"], engine["lock"], engine["closed"], sum(q.met[k] for k in injected)),
      (c, before, q.met))
# the REST client and the change stream each log a renewal ("... renewing the token")
renewed = log_lines("renewing the token")
check(renewed >= 1, "sessions expired %d times; the engine renewed its token %d times (REST calls and the stream)"
      % (expiries, renewed))

faults()
# a write whose answer was lost is made again once the faults stop, though its values are there
check(settle(), "the engine settled once the faults stopped")
quiet("faults off")

# a burst of 503s outlasting the HTTP client's own attempts: the engine's retry (with backoff)
# carries the write through, instead of dead-lettering it
ct, calls0 = repo_cts[2], sf.counters().get("composite/sobjects", 0)
faults(rate_503=1000)
st, b = clm.patch("contracts", ct, {"payment_terms": "through the burst"})
assert st == 200, (st, b)
# the HTTP client makes 3 attempts per call (engine.c): a 4th is the engine's own retry
tries = wait_for(lambda: sf.counters().get("composite/sobjects", 0) - calls0 >= 4, 10)
check(tries, "a write refused with 503 more times than the HTTP client tries is retried by the engine (%d attempts)"
      % (sf.counters().get("composite/sobjects", 0) - calls0))
# a second change of the record while the first waits: both go in one write once the burst ends
st, b = clm.patch("contracts", ct, {"custom": {"opportunity_stage": "after the burst"}})
assert st == 200, (st, b)


def planned():
    code, out, err = run_cli("audit", "search", ct, "--json")
    return code == 0 and any(r["decision"] == "applied" and r["new"] == "after the burst"
                             for r in json.loads(out)["rows"])


check(wait_for(planned, 10), "a second change of the record is queued behind the first")
faults()
got = wait_for(lambda: (lambda r: r["CLM_Payment_Terms__c"] == "through the burst"
                        and r["SpecialTerms"] == "after the burst")(q.get("Contract", sfid_of[ct])), 15)
check(got and dlq_list() == [], "both land once the 503s stop, nothing dead-lettered")
# that one write is confirmed by the one change event it makes: Salesforce edits of the two
# repository-owned fields made afterwards are reverted like any other
q.update("Contract", sfid_of[ct], {"CLM_Payment_Terms__c": "edited in Salesforce", "SpecialTerms": "edited too"})
got = wait_for(lambda: (lambda r: r["CLM_Payment_Terms__c"] == "through the burst"
                        and r["SpecialTerms"] == "after the burst")(q.get("Contract", sfid_of[ct])), 10)
check(got, "Salesforce edits of both fields after the coalesced write are reverted", q.get("Contract", sfid_of[ct]))
wants(ct, CLM_Payment_Terms__c="through the burst", SpecialTerms="after the burst")

# --- 2. lost answers never make a duplicate ----------------------------------------------------

faults(rate_lost=400, rate_drop=150, seed=rng.randint(1, 1 << 30))
lost0 = sf.counters().get("fault.lost", 0)
new_cts, new_cps = [], []
waves = 0
t0 = time.monotonic()
while waves < 12 and sf.counters().get("fault.lost", 0) - lost0 < 4:
    waves += 1
    batch = []
    for j in range(5):
        cp = clm.create("counterparties", {"legal_name": "Lost answer %d.%d" % (waves, j)})["id"]
        batch.append(clm.create("contracts", {"title": "Lost answer %d.%d" % (waves, j), "type": "nda",
                                              "counterparty_id": cp})["id"])
        new_cps.append(cp)
    new_cts += batch
    ids = ", ".join("'%s'" % i for i in batch)
    wait_for(lambda: len(q.query("SELECT Id FROM Contract WHERE CLM_Id__c IN (%s)" % ids)) == len(batch), 20)
lost = sf.counters().get("fault.lost", 0) - lost0
# the first write of a record whose answer is lost is a create that happened (a drop does nothing)
check(lost >= 1, "sfemu made %d writes and lost their answers while the repository created %d contracts with their "
      "counterparties (%d waves, %.1f s)" % (lost, len(new_cts), waves, time.monotonic() - t0))
# and updates of linked records (sObject Collections updates) while answers are lost
lost0, waves = sf.counters().get("fault.lost", 0), 0
while waves < 12 and sf.counters().get("fault.lost", 0) - lost0 < 4:
    waves += 1
    batch = {}
    for i in rng.sample(repo_cts[3:], 5):
        v = "lost answer %d %s" % (waves, i[-4:])
        st, b = clm.patch("contracts", i, {"payment_terms": v})
        assert st == 200, (st, b)
        wants(i, CLM_Payment_Terms__c=v)
        batch[sfid_of[i]] = v
    ids = ", ".join("'%s'" % i for i in batch)
    wait_for(lambda: all(r["CLM_Payment_Terms__c"] == batch[r["Id"]] for r in
                         q.query("SELECT Id, CLM_Payment_Terms__c FROM Contract WHERE Id IN (%s)" % ids)), 20)
check(sf.counters().get("fault.lost", 0) - lost0 >= 1, "and lost %d answers while the repository updated %d linked "
      "contracts" % (sf.counters().get("fault.lost", 0) - lost0, 5 * waves))
faults()
# a record appears in Salesforce with the write whose answer is lost, before the engine repeats
# that write and has its answer: the count is taken once both sides stand still
check(settle(), "the engine settled after the lost answers")
ids = ", ".join("'%s'" % i for i in new_cts)
cids = ", ".join("'%s'" % i for i in new_cps)
recs = q.query("SELECT Id, CLM_Id__c, AccountId FROM Contract WHERE CLM_Id__c IN (%s)" % ids)
arecs = q.query("SELECT Id, CLM_Id__c FROM Account WHERE CLM_Id__c IN (%s)" % cids)
per = {i: sum(1 for r in recs if r["CLM_Id__c"] == i) for i in new_cts}
aper = {i: sum(1 for r in arecs if r["CLM_Id__c"] == i) for i in new_cps}
check(all(v == 1 for v in per.values()) and all(v == 1 for v in aper.values()),
      "exactly one Salesforce record per contract (%d) and per counterparty (%d)" % (len(per), len(aper)),
      ([k for k, v in per.items() if v != 1], [k for k, v in aper.items() if v != 1]))
problems = compare(q, want_sf)[0]
check(not problems, "and both sides still equal field by field", problems[:3])
check(dlq_list() == [], "nothing in the dead-letter queue")

# --- 3. a validation rule refuses; relaxed, the replay completes the write ---------------------

ct = repo_cts[0]
sfc = sfid_of[ct]
st, b = q.api("POST", "/sobjects/Contract", {"AccountId": sf_accounts[0], "SpecialTerms": "REJECT"}, want=(400,))
check(st == 400 and b[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION",
      "Salesforce's validation rule refuses SpecialTerms = REJECT", (st, b))
rule_msg = b[0]["message"]
st, b = clm.patch("contracts", ct, {"custom": {"opportunity_stage": "REJECT"}})
check(st == 200, "the repository takes opportunity_stage REJECT", (st, b))
got = wait_for(lambda: [d for d in dlq_list() if d.get("clm") == ct], 15)
check(got is not None and len(got) == 1, "the refused write is in the dead-letter queue", dlq_list())
if got:
    d = got[0]
    check(d["error"]["code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION" and d["error"]["message"] == rule_msg,
          "with Salesforce's code and exact message: %s" % rule_msg, d["error"])
    check(d["direction"] == "salesforce" and d["sf"] == sfc and d["item"]["fields"].get("SpecialTerms") == "REJECT",
          "naming the record and the value refused", d)
    code, out, err = run_cli("dlq", "show", d["id"], "--json")
    shown = json.loads(out) if code == 0 else {}
    check(code == 0 and shown.get("error") == d["error"] and shown.get("id") == d["id"],
          "clmsync dlq show %s gives the same entry" % d["id"], out + err)
    check(q.get("Contract", sfc)["SpecialTerms"] != "REJECT", "Salesforce did not take the value")
    emu("validation", {"object": "Contract", "active": False})
    code, out, err = run_cli("dlq", "replay", d["id"])
    check(code == 0, "the rule deactivated, clmsync dlq replay %s" % d["id"], out + err)
    got = wait_for(lambda: q.get("Contract", sfc)["SpecialTerms"] == "REJECT", 15)
    check(got, "the replayed write reached Salesforce", q.get("Contract", sfc))
    check(dlq_list() == [], "and the dead-letter queue is empty")
    quiet("replay done")
    check(clm.get("contracts", ct)["custom"].get("opportunity_stage") == "REJECT", "the repository kept its value")

# --- 4. the repository's lifecycle applies to changes from Salesforce --------------------------

ct = repo_cts[1]
sfc = sfid_of[ct]
check(clm.get("contracts", ct)["status"] == "draft", "a draft contract")
q.update("Contract", sfc, {"CLM_Lifecycle_Status__c": "In Review"})
got = wait_for(lambda: clm.get("contracts", ct)["status"] == "in_review", 15)
check(got, "a lifecycle status Salesforce sets is a transition in the repository (draft -> in_review)",
      clm.get("contracts", ct))
before_rec = clm.get("contracts", ct)
st, b = clm.transition(ct, "active")
check(st == 422, "the repository refuses in_review -> active itself", (st, b))
reason = "invalid_transition: %s" % ((b or {}).get("error") or {}).get("message")
q.update("Contract", sfc, {"CLM_Lifecycle_Status__c": "Active"})
got = wait_for(lambda: [d for d in dlq_list() if d.get("clm") == ct], 15)
check(got is not None and len(got) == 1, "Salesforce's Active is refused into the dead-letter queue", dlq_list())
if got:
    d = got[0]
    check(d["error"]["code"] == "REFUSED" and d["error"]["message"] == reason and d["direction"] == "clm",
          "with the repository's reason: %s" % d["error"]["message"], (d["error"], reason))
after = clm.get("contracts", ct)
check(after == before_rec and after["status"] == "in_review",
      "the repository record is unchanged (still in_review, version %s)" % after.get("version"), (before_rec, after))
check(q.get("Contract", sfc)["Status"] == "Draft", "Salesforce's Status still says Draft")
quiet("refused")
finish()

"""sync_orgs.py - scenario 9: two orgs, contracts routed by custom.region (run by test_sync_orgs.sh).

Org a syncs EMEA contracts and deletes a contract's record when it leaves (on_delete.salesforce
delete); org b syncs AMER contracts and leaves a departing record where it is, unlinked (ignore).
Counterparties go to both orgs. Each worker reads the repository's feed in order, so once a
record created later has reached an org, every earlier feed row has been planned for that org:
that is how the absence of a record is proved without sleeping.
"""
import json
import os
import signal
import subprocess
import time

from sync_lib import CLM, SF, check, finish, wait_for

A, B = SF(os.environ["SF_A"]), SF(os.environ["SF_B"])
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
PID_A = int(os.environ["PID_A"])
BOUND = 10.0       # seconds a change may take to reach the healthy org while the other is down
F = "Id, Name, AccountId, CLM_Id__c, Description, Status"


def one(sf, ext, fields=F):
    r = sf.by_ext("Contract", "CLM_Id__c", ext, fields)
    return r[0] if len(r) == 1 else None


def account(sf, cp_id):
    r = sf.by_ext("Account", "CLM_Id__c", cp_id, "Id, Name, Industry, CLM_Registration_Number__c")
    return r[0] if len(r) == 1 else None


def field_is(getter, key, want):
    """A predicate for wait_for: getter()'s key equals want."""
    def pred():
        r = getter()
        return r if r is not None and r.get(key) == want else None
    return pred


def audit_rows(clm_id):
    out = subprocess.run([os.environ["CLMSYNC"], "audit", "search", clm_id, "--admin-url", os.environ["ADMIN_URL"],
                          "--data", os.environ["CLM_DATA"], "--json"], capture_output=True, text=True,
                         env=dict(os.environ))
    j = json.loads(out.stdout) if out.returncode == 0 else []
    return j["rows"] if isinstance(j, dict) else j


# --- 1. each contract reaches its org only, its counterparty linked there -------------------
cp = clm.create("counterparties", {"legal_name": "Both Co", "registration_number": "R-1",
                                   "custom": {"industry": "Software"}})
apac = clm.create("contracts", {"title": "Routed nowhere (APAC)", "counterparty_id": cp["id"],
                                "custom": {"region": "APAC"}})
none = clm.create("contracts", {"title": "No region", "counterparty_id": cp["id"]})
e = clm.create("contracts", {"title": "Europe deal", "counterparty_id": cp["id"], "custom": {"region": "EMEA"}})
m = clm.create("contracts", {"title": "America deal", "counterparty_id": cp["id"], "custom": {"region": "AMER"}})
ea = wait_for(lambda: one(A, e["id"]), what="EMEA contract in org a")
mb = wait_for(lambda: one(B, m["id"]), what="AMER contract in org b")
check(ea is not None and mb is not None, "the EMEA contract reached org a and the AMER one org b", (ea, mb))
acc_a, acc_b = account(A, cp["id"]), account(B, cp["id"])
check(acc_a is not None and acc_b is not None, "the counterparty is one Account in each org", (acc_a, acc_b))
check(acc_a and acc_b and acc_a["Id"] != acc_b["Id"], "each org's Account has its own id", (acc_a, acc_b))
if ea and mb and acc_a and acc_b:
    check(ea["AccountId"] == acc_a["Id"], "org a's Contract names org a's Account", (ea, acc_a))
    check(mb["AccountId"] == acc_b["Id"], "org b's Contract names org b's Account", (mb, acc_b))
# feed order: e and m were planned by both workers after apac and none, and e before m
check(not B.by_ext("Contract", "CLM_Id__c", e["id"]), "the EMEA contract is not in org b")
check(not A.by_ext("Contract", "CLM_Id__c", m["id"]), "the AMER contract is not in org a")
check(not any(sf.by_ext("Contract", "CLM_Id__c", c["id"]) for sf in (A, B) for c in (apac, none)),
      "contracts routed to no org (APAC, no region) are in neither")
sfe, sfm = ea["Id"], mb["Id"]

# --- 2. links and shadows per org: an Account edit goes org -> repository -> other org --------
A.update("Account", acc_a["Id"], {"Name": "Both Co (edited in a)"})
got = wait_for(field_is(lambda: account(B, cp["id"]), "Name", "Both Co (edited in a)"))
check(got is not None, "a Name edited in org a reached org b through the repository", account(B, cp["id"]))
check(clm.get("counterparties", cp["id"])["legal_name"] == "Both Co (edited in a)", "and the repository has it")
B.update("Account", acc_b["Id"], {"Industry": "Finance"})
got = wait_for(field_is(lambda: account(A, cp["id"]), "Industry", "Finance"))
check(got is not None and clm.get("counterparties", cp["id"])["custom"]["industry"] == "Finance",
      "an Industry edited in org b reached the repository and org a (value map both ways)", got)
# owner clm, non_owner_write ignore: org a keeps its edit, the repository and org b do not get it
A.update("Account", acc_a["Id"], {"CLM_Registration_Number__c": "R-from-a"})
A.update("Account", acc_a["Id"], {"Name": "Both Co"})    # a later change: the first one was planned
got = wait_for(field_is(lambda: account(B, cp["id"]), "Name", "Both Co"))
check(got is not None and got["CLM_Registration_Number__c"] == "R-1"
      and clm.get("counterparties", cp["id"])["registration_number"] == "R-1"
      and account(A, cp["id"])["CLM_Registration_Number__c"] == "R-from-a",
      "a repository-owned field edited in org a stays there (ignore) and goes nowhere", (got, account(A, cp["id"])))

# --- 3. changes in org b flow back; records made in org b stay out of org a --------------------
B.update("Contract", sfm, {"Description": "edited in b"})
got = wait_for(field_is(lambda: clm.get("contracts", m["id"]), "description", "edited in b"))
check(got is not None, "a Contract edit in org b reached the repository", clm.get("contracts", m["id"]))
B.update("Contract", sfm, {"Status": "Activated"})
got = wait_for(field_is(lambda: B.get("Contract", sfm), "Status", "Draft"))
check(got is not None and clm.get("contracts", m["id"])["status"] == "draft",
      "a repository-owned Status edited in org b is reverted there", B.get("Contract", sfm))
nb = B.create("Contract", {"Name": "Made in b", "AccountId": acc_b["Id"], "StartDate": "2026-05-01",
                           "ContractTerm": 12, "CLM_Type__c": "SOW"})
got = wait_for(lambda: (lambda r: r if r and r.get("CLM_Id__c") else None)(B.get("Contract", nb)))
made = clm.get("contracts", got["CLM_Id__c"]) if got else None
check(made is not None and made["counterparty_id"] == cp["id"] and (made.get("custom") or {}).get("region") == "AMER",
      "a Contract made in org b is a repository contract of the same counterparty, routed AMER", made)
pa = B.create("Account", {"Name": "Only in b", "Industry": "Healthcare"})
got = wait_for(lambda: (lambda r: r if r and r.get("CLM_Id__c") else None)(B.get("Account", pa)))
cp2 = got["CLM_Id__c"] if got else None
acc2 = wait_for(lambda: account(A, cp2), what="the new counterparty in org a") if cp2 else None
check(acc2 is not None and acc2["Name"] == "Only in b" and acc2["Industry"] == "Healthcare",
      "an Account made in org b became a counterparty and an Account in org a", acc2)
sentinel = clm.create("contracts", {"title": "Sentinel a", "counterparty_id": cp["id"], "custom": {"region": "EMEA"}})
check(wait_for(lambda: one(A, sentinel["id"])) is not None and made is not None and not A.by_ext("Contract", "CLM_Id__c", made["id"]),
      "the contract made in org b is not in org a")


# --- 4. a fault in org a does not stall org b; org a converges when it is back -----------------
def outage(name, down, up, refused=None, during=None, after=None):
    """Takes org a down, proves org b syncs both ways within BOUND meanwhile (and, with refused,
    that org a refused the engine's write meanwhile), runs during(), brings a back, proves a
    converges both ways and runs after()."""
    down()
    t0 = time.monotonic()
    clm.patch("contracts", e["id"], {"description": "to a during " + name})
    clm.patch("contracts", m["id"], {"description": "to b during " + name})
    got = wait_for(field_is(lambda: B.get("Contract", sfm), "Description", "to b during " + name), BOUND)
    t_out = time.monotonic() - t0
    check(got is not None, "%s of org a: a repository change reached org b in %.1f s (bound %.0f s)" % (name, t_out, BOUND))
    t1 = time.monotonic()
    B.update("Contract", sfm, {"Description": "from b during " + name})
    got = wait_for(field_is(lambda: clm.get("contracts", m["id"]), "description", "from b during " + name), BOUND)
    check(got is not None, "%s of org a: an org b change reached the repository in %.1f s" % (name, time.monotonic() - t1))
    nm = clm.create("contracts", {"title": "New during " + name, "counterparty_id": cp["id"], "custom": {"region": "AMER"}})
    check(wait_for(lambda: one(B, nm["id"]), BOUND) is not None, "%s of org a: a new AMER contract reached org b" % name)
    if refused is not None:
        check(wait_for(refused, BOUND), "%s of org a: meanwhile the engine's write to org a was refused" % name)
    if during is not None:
        during()
    up()
    t2 = time.monotonic()
    got = wait_for(field_is(lambda: A.get("Contract", sfe), "Description", "to a during " + name), 30)
    check(got is not None, "org a back after %s: the change made meanwhile arrived in %.1f s" % (name, time.monotonic() - t2),
          A.get("Contract", sfe))
    A.update("Contract", sfe, {"Description": "from a after " + name})
    got = wait_for(field_is(lambda: clm.get("contracts", e["id"]), "description", "from a after " + name), 30)
    check(got is not None, "org a back after %s: its own changes flow again" % name, clm.get("contracts", e["id"]))
    if after is not None:
        after()


# A contract created while org a refuses writes, and moved to AMER before its create could land:
# the create waiting in org a's outbox must be dropped, never sent after the move.
moved = {}


def move_in_flight():
    x = clm.create("contracts", {"title": "Moved before it landed", "counterparty_id": cp["id"],
                                 "custom": {"region": "EMEA"}})
    planned = wait_for(lambda: any(r.get("mapping") == "contracts-a" and r.get("decision") == "created"
                                   for r in audit_rows(x["id"])), BOUND)
    check(planned, "503s of org a: org a planned the new EMEA contract's create (it cannot land)")
    clm.patch("contracts", x["id"], {"custom": {"region": "AMER"}})
    check(wait_for(lambda: one(B, x["id"]), BOUND) is not None, "503s of org a: moved to AMER, it reached org b")
    # org a's worker may be inside one call's own retries (up to 10 s) before it plans the move
    unlinked = wait_for(lambda: any(r.get("mapping") == "contracts-a" and r.get("decision") == "unlinked"
                                    for r in audit_rows(x["id"])), 30)
    check(unlinked, "503s of org a: org a let go of it while its create was still waiting (unlinked, nothing to delete)",
          [r for r in audit_rows(x["id"]) if r.get("mapping") == "contracts-a"])
    moved["x"] = x


def in_flight_dropped():
    x = moved["x"]
    s2 = clm.create("contracts", {"title": "Sentinel a 2", "counterparty_id": cp["id"], "custom": {"region": "EMEA"}})
    check(wait_for(lambda: one(A, s2["id"])) is not None and not A.query_all(
        "SELECT Id FROM Contract WHERE CLM_Id__c = '%s'" % x["id"]),
        "the create queued for org a before the move was dropped, not sent: it never reached org a")


A.emu("DELETE", "counters")
outage("503s", lambda: A.emu("POST", "faults", {"rate_503": 1000}), lambda: A.emu("POST", "faults", {"rate_503": 0}),
       lambda: A.counters().get("fault.503", 0) > 0, move_in_flight, in_flight_dropped)
outage("SIGSTOP", lambda: os.kill(PID_A, signal.SIGSTOP), lambda: os.kill(PID_A, signal.SIGCONT))

# --- 5. a contract moves to the other org -------------------------------------------------------
# EMEA -> AMER: org b makes it (under its own Account), org a deletes its record (policy delete)
clm.patch("contracts", e["id"], {"custom": {"region": "AMER"}})
eb = wait_for(lambda: one(B, e["id"]), what="moved contract in org b")
check(eb is not None and eb["AccountId"] == acc_b["Id"] and eb["Name"] == "Europe deal",
      "EMEA -> AMER: the contract appeared in org b, under org b's Account", eb)
gone = wait_for(lambda: (lambda r: r if r and r[0]["IsDeleted"] else None)(
    A.query_all("SELECT Id, IsDeleted FROM Contract WHERE Id = '%s'" % sfe)))
check(gone is not None, "and org a deleted its record (on_delete.salesforce delete)", A.query_all(
    "SELECT Id, IsDeleted FROM Contract WHERE Id = '%s'" % sfe))
clm.patch("contracts", e["id"], {"description": "after the move"})
got = wait_for(field_is(lambda: one(B, e["id"]), "Description", "after the move"))
check(got is not None, "a later repository edit reaches the new org", one(B, e["id"]))
rows = audit_rows(e["id"])
check(any(r.get("mapping") == "contracts-a" and r.get("decision") == "deleted" and "custom.region is AMER" in (r.get("detail") or "")
          for r in rows), "the audit says why org a let it go", [r for r in rows if r.get("mapping") == "contracts-a"][-3:])

# AMER -> EMEA: org a makes it, org b leaves its record where it is, unlinked (policy ignore)
clm.patch("contracts", m["id"], {"custom": {"region": "EMEA"}})
ma = wait_for(lambda: one(A, m["id"]), what="moved contract in org a")
check(ma is not None and ma["AccountId"] == acc_a["Id"], "AMER -> EMEA: the contract appeared in org a", ma)
rows = wait_for(lambda: [r for r in audit_rows(m["id"]) if r.get("mapping") == "contracts-b" and r.get("decision") == "unlinked"])
check(rows, "org b unlinked it and the audit reports it", audit_rows(m["id"])[-3:])
check(B.get("Contract", sfm) is not None, "org b's record is left where it was (on_delete.salesforce ignore)")
clm.patch("contracts", m["id"], {"description": "only for a"})
clm.patch("contracts", e["id"], {"description": "later, for b"})    # planned by org b after the edit above
got = wait_for(field_is(lambda: A.get("Contract", ma["Id"]), "Description", "only for a")) if ma else None
later = wait_for(field_is(lambda: B.get("Contract", eb["Id"]), "Description", "later, for b")) if eb else None
check(got is not None and later is not None and B.get("Contract", sfm)["Description"] != "only for a",
      "a later repository edit reaches org a and not org b's left record", B.get("Contract", sfm))
B.update("Contract", sfm, {"Description": "stale copy edited in b"})
B.update("Contract", eb["Id"], {"Description": "marker from b"})    # a later org b change
got = wait_for(field_is(lambda: clm.get("contracts", e["id"]), "description", "marker from b"))
check(got is not None and clm.get("contracts", m["id"])["description"] == "only for a",
      "an edit of the left record in org b does not reach the repository (nor relink it)", clm.get("contracts", m["id"]))
# back to AMER: org b's upsert by external id finds the record it left: relinked, not duplicated
clm.patch("contracts", m["id"], {"custom": {"region": "AMER"}, "description": "back in b"})
got = wait_for(field_is(lambda: B.get("Contract", sfm), "Description", "back in b"))
check(got is not None and len(B.by_ext("Contract", "CLM_Id__c", m["id"])) == 1,
      "AMER again: org b relinked the record it had left (one record, updated)", B.by_ext("Contract", "CLM_Id__c", m["id"], F))
check(wait_for(lambda: not A.by_ext("Contract", "CLM_Id__c", m["id"])), "and org a deleted its copy")

# --- 6. org a killed: org b goes on ------------------------------------------------------------
os.kill(PID_A, signal.SIGKILL)
t0 = time.monotonic()
clm.patch("contracts", m["id"], {"description": "a is gone"})
got = wait_for(field_is(lambda: B.get("Contract", sfm), "Description", "a is gone"), BOUND)
check(got is not None, "org a killed: org b still syncs (%.1f s)" % (time.monotonic() - t0))
finish()

"""sync_loops.py - scenario 5: N updates on each side, interleaved, on shared records: convergence,
no echo write, no ping-pong, including our own change events racing the write's response."""
import os
import time

from sync_lib import CLM, SF, check, env, finish, wait_for

sf_url, clm_url, token = env()
sf, clm = SF(sf_url), CLM(clm_url, token)
N = int(os.environ.get("N", "1000"))
R = 40   # records shared by both sides

cp = clm.create("counterparties", {"legal_name": "Loop Ltd"})
ids = [clm.create("contracts", {"title": "Loop %d" % i, "type": "sow", "counterparty_id": cp["id"]})["id"]
       for i in range(R)]
def all_linked():
    recs = sf.query("SELECT Id, CLM_Id__c FROM Contract")
    m = {r["CLM_Id__c"]: r["Id"] for r in recs if r["CLM_Id__c"]}
    return m if all(i in m for i in ids) else None
sfid = wait_for(all_linked, 30)
check(sfid is not None, "%d contracts linked" % R)

feed0 = clm.changes()
after0 = feed0[-1]["seq"] if feed0 else 0
c0 = sf.counters()
def events():
    return [e for e in sf.emu("GET", "events")[1] if e["entity"] == "Contract"]
ev0 = len(events())

# interleave: the repository edits payment_terms (repository-owned), Salesforce edits SpecialTerms
# (Salesforce-owned, read into custom.opportunity_stage); each update writes a new value
for k in range(N):
    i = ids[k % R]
    st, _ = clm.patch("contracts", i, {"payment_terms": "terms %d" % k})
    assert st == 200
    sf.update("Contract", sfid[i], {"SpecialTerms": "stage %d" % k})

want_pt = {ids[k % R]: "terms %d" % k for k in range(N)}
want_st = {ids[k % R]: "stage %d" % k for k in range(N)}
def converged():
    recs = {r["CLM_Id__c"]: r for r in sf.query("SELECT Id, CLM_Id__c, CLM_Payment_Terms__c, SpecialTerms FROM Contract")}
    for i in ids:
        if recs[i]["CLM_Payment_Terms__c"] != want_pt[i] or recs[i]["SpecialTerms"] != want_st[i]:
            return None
        c = clm.get("contracts", i)
        if c.get("payment_terms") != want_pt[i] or c.get("custom", {}).get("opportunity_stage") != want_st[i]:
            return None
    return True
check(wait_for(converged, 120) is not None, "both sides agree after %d interleaved updates on each side" % N)

# quiet: nothing moves any more (an echo or a ping-pong would keep writing)
def counts():
    rows = clm.changes(after0)
    return len(rows), sf.counters().get("composite/sobjects", 0), rows
n1, w1, rows = counts()
deadline = time.monotonic() + 2.0
stable = True
while time.monotonic() < deadline:
    n2, w2, _ = counts()
    if (n2, w2) != (n1, w1):
        stable = False
        break
    time.sleep(0.1)
check(stable, "quiet afterwards: no write on either side for 2 s")
by_sync = [r for r in rows if r["origin"].startswith("sync:")]
by_api = [r for r in rows if not r["origin"].startswith("sync:")]
check(len(by_api) == N, "the repository took the %d API writes" % N, len(by_api))
check(len(by_sync) == N, "the engine made exactly one repository write per Salesforce change (%d)" % N, len(by_sync))
fields = set()
for r in by_sync:
    fields |= set((r.get("fields") or {}).keys())
check(fields <= {"custom"}, "the engine's repository writes touched only the Salesforce-owned field", fields)
calls = sf.counters().get("composite/sobjects", 0) - c0.get("composite/sobjects", 0)
check(0 < calls <= N, "Salesforce write calls: %d for %d repository changes (batched, no echo)" % (calls, N), calls)
ours = [e for e in events()[ev0:] if "client=clmsync" in (e["payload"]["ChangeEventHeader"].get("changeOrigin") or "")]
check(0 < len(ours) <= N, "Salesforce records written by the engine: %d for %d repository changes" % (len(ours), N), len(ours))
touched = set()
for e in ours:
    touched |= set(e["payload"]["ChangeEventHeader"]["changedFields"])
check("SpecialTerms" not in touched and "CLM_Payment_Terms__c" in touched,
      "the engine's Salesforce writes carried only repository-owned fields (no echo of SpecialTerms)", touched)
finish()

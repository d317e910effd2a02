"""sync_echo_rows.py - the feed rows of the engine's own repository writes (run by
test_sync_echo_rows.sh)."""
import os

from sync_lib import CLM, SF, Http, check, env, finish, wait_for

sf_url, clm_url, token = env()
sf, clm = SF(sf_url), CLM(clm_url, token)
adm = Http(os.environ["ADMIN_URL"])


def status():
    st, b = adm.call("GET", "/admin/v1/status", headers={"Authorization": "Bearer " + token})
    assert st == 200, (st, b)
    return b["orgs"][0]


def echoes():
    return {m["name"]: m["counters"]["echoes"] for m in status()["mappings"]}["contracts"]


cp = clm.create("counterparties", {"legal_name": "Echo Rows Ltd"})
ct = clm.create("contracts", {"title": "Echo rows", "type": "msa", "counterparty_id": cp["id"],
                              "effective_date": "2027-01-01", "term_months": 12})
check(ct.get("expiration_date"), "the repository derives the expiration date", ct)


def in_sf():
    r = sf.by_ext("Contract", "CLM_Id__c", ct["id"], "Id, CLM_Renewal_Date__c")
    return r[0] if r and r[0].get("CLM_Renewal_Date__c") == ct["expiration_date"] else None


rec = wait_for(in_sf, 20, "contract in Salesforce")
check(rec is not None, "the contract reached Salesforce with its expiration date", rec)
sfid = rec["Id"] if rec else ""

# A Salesforce edit of Description (owner both): the engine writes it into the repository, and the
# feed row of that write has nothing left to compare. It is counted as our own change come back,
# not planned again.
e0 = echoes()
c0 = sf.counters().get("composite/sobjects", 0)
sf.update("Contract", sfid, {"Description": "edited in Salesforce"})
got = wait_for(lambda: clm.get("contracts", ct["id"]).get("description") == "edited in Salesforce", 20,
               "description in the repository")
check(got, "the Salesforce edit reached the repository")
n = wait_for(lambda: echoes() > e0 or None, 20, "the write's feed row")
check(n is not None and echoes() == e0 + 1, "the feed row of the engine's own write is dropped as our own change",
      (e0, echoes()))
check(sf.counters().get("composite/sobjects", 0) == c0, "nothing is written back to Salesforce",
      (c0, sf.counters()))

# A Salesforce edit of StartDate (owner both): written into the repository, whose contract then
# derives a new expiration date. That row has something left: the new date goes to Salesforce.
sf.update("Contract", sfid, {"StartDate": "2027-03-01"})
c = wait_for(lambda: (lambda r: r if r.get("effective_date") == "2027-03-01" else None)(clm.get("contracts", ct["id"])),
             20, "start date in the repository")
check(c is not None and c.get("expiration_date") not in (None, ct["expiration_date"]),
      "the repository moved the expiration date with the start date", c)
want = c.get("expiration_date") if c else None
r = wait_for(lambda: sf.get("Contract", sfid).get("CLM_Renewal_Date__c") == want or None, 20, "renewal date")
check(r is not None, "the derived expiration date reached Salesforce (the row was planned)",
      (want, sf.get("Contract", sfid).get("CLM_Renewal_Date__c")))
finish()

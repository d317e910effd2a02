"""sync_custom.py - scenario 10: custom fields and a custom object end to end (run by test_sync_custom.sh).

Contract custom attributes (custom.*) <-> custom fields on Contract, and obligations (a contract's
child records) <-> the custom object Obligation__c, whose lookup Contract__c names the contract;
both defined for sfemu by sync_custom_schema.json and mapped by sync_lib (CUSTOM_CONTRACT_FIELDS,
obligation_mapping). Creates, updates, nulls and deletes go both ways; changes from Salesforce
arrive over the custom object's own CDC channel /data/Obligation__ChangeEvent.
"""
import json
import os
import sqlite3
import subprocess

from sync_lib import CLM, SF, check, env, finish, wait_for

sf_url, clm_url, token = env()
sf, clm = SF(sf_url), CLM(clm_url, token)
OF = "Id, Name, CLM_Id__c, Contract__c, Description__c, Owner_Name__c, Due_Date__c, Status__c, Recurrence__c, " \
     "Penalty__c, Effort_Hours__c"
CF = "Id, CLM_Id__c, CLM_Region__c, CLM_Risk_Score__c, CLM_Budget__c, CLM_Review_Date__c, CLM_Confidential__c, " \
     "CLM_Notes__c"


def one(sobject, ext, fields):
    r = sf.by_ext(sobject, "CLM_Id__c", ext, fields)
    return r[0] if len(r) == 1 else None


def sf_has(sobject, sid, **want):
    """A predicate for wait_for: the Salesforce record has every field of want."""
    def pred():
        r = sf.get(sobject, sid)
        return r if r is not None and all(r.get(k) == v for k, v in want.items()) else None
    return pred


def clm_has(plural, rid, want, absent=(), parent=None):
    """A predicate for wait_for: the repository record has want (custom.* under "custom") and
    lacks the fields in absent."""
    def pred():
        r = clm.get("contracts/%s/%s" % (parent, plural) if parent else plural, rid)
        if r is None:
            return None
        for k, v in want.items():
            got = r.get("custom", {}).get(k[7:]) if k.startswith("custom.") else r.get(k)
            if got != v:
                return None
        for k in absent:
            if (k[7:] in r.get("custom", {})) if k.startswith("custom.") else (r.get(k) is not None):
                return None
        return r
    return pred


cp = clm.create("counterparties", {"legal_name": "Custom Co"})

# --- 1. custom attributes <-> custom fields on Contract ----------------------------------------
ct = clm.create("contracts", {"title": "With custom fields", "counterparty_id": cp["id"], "custom": {
    "region": "EMEA", "risk_score": 7, "budget": "1500.5", "review_date": "2026-12-31", "confidential": True,
    "notes": "first notes"}})
c = wait_for(lambda: one("Contract", ct["id"], CF), what="contract with custom fields")
check(c is not None and c["CLM_Region__c"] == "Europe" and c["CLM_Risk_Score__c"] == 7 and c["CLM_Budget__c"] == 1500.5
      and c["CLM_Review_Date__c"] == "2026-12-31" and c["CLM_Confidential__c"] is True and c["CLM_Notes__c"] == "first notes",
      "custom attributes reached the Contract's custom fields (picklist by value map, number, currency, date, "
      "boolean, text)", c)
sfc = c["Id"] if c else None
clm.patch("contracts", ct["id"], {"custom": {"risk_score": 9, "budget": None, "notes": None}})
got = wait_for(sf_has("Contract", sfc, CLM_Risk_Score__c=9, CLM_Budget__c=None, CLM_Notes__c=None))
check(got is not None, "repository update and nulls of custom attributes reached Salesforce", sf.get("Contract", sfc))
sf.update("Contract", sfc, {"CLM_Region__c": "Americas", "CLM_Budget__c": 99.99, "CLM_Review_Date__c": None,
                            "CLM_Notes__c": "from Salesforce"})
got = wait_for(clm_has("contracts", ct["id"], {"custom.region": "AMER", "custom.budget": "99.99",
                                               "custom.notes": "from Salesforce"}, absent=["custom.review_date"]))
check(got is not None, "Salesforce update and null of custom fields reached the repository (value map back, exact "
      "decimal)", clm.get("contracts", ct["id"]))
sf.update("Contract", sfc, {"CLM_Confidential__c": False})
got = wait_for(sf_has("Contract", sfc, CLM_Confidential__c=True))
check(got is not None and clm.get("contracts", ct["id"])["custom"]["confidential"] is True,
      "a repository-owned custom field edited in Salesforce is reverted", sf.get("Contract", sfc))
acc = sf.by_ext("Account", "CLM_Id__c", cp["id"])[0]["Id"]
nc = sf.create("Contract", {"Name": "Made in Salesforce", "AccountId": acc, "CLM_Region__c": "Asia Pacific",
                            "CLM_Budget__c": 12.3, "CLM_Risk_Score__c": 2})
got = wait_for(lambda: (lambda r: r if r and r.get("CLM_Id__c") else None)(sf.get("Contract", nc)))
ct_sf = clm.get("contracts", got["CLM_Id__c"]) if got else None
check(ct_sf is not None and ct_sf.get("custom") == {"region": "APAC", "budget": "12.30", "risk_score": 2,
                                                            "confidential": False},
      "a Contract made in Salesforce brought its custom fields into the repository", ct_sf)

# --- 2. obligations made and changed in the repository ------------------------------------------
ct2 = clm.create("contracts", {"title": "Second contract", "counterparty_id": cp["id"]})
ob1 = clm.create("contracts/%s/obligations" % ct["id"], {
    "description": "Quarterly service report", "owner": "Ops", "due_date": "2026-03-31", "recurrence": "quarterly",
    "custom": {"penalty": "250", "effort_hours": 12}})
ob2 = clm.create("contracts/%s/obligations" % ct2["id"], {"description": "Annual audit", "recurrence": "annual"})
o1 = wait_for(lambda: one("Obligation__c", ob1["id"], OF), what="obligation 1 in Salesforce")
o2 = wait_for(lambda: one("Obligation__c", ob2["id"], OF), what="obligation 2 in Salesforce")
c2 = one("Contract", ct2["id"], "Id")
check(o1 is not None and o1["Description__c"] == "Quarterly service report" and o1["Owner_Name__c"] == "Ops"
      and o1["Due_Date__c"] == "2026-03-31" and o1["Status__c"] == "Open" and o1["Recurrence__c"] == "Quarterly"
      and o1["Penalty__c"] == 250 and o1["Effort_Hours__c"] == 12 and o1["Name"],
      "an obligation became an Obligation__c (text, date, picklists by value map, currency, number)", o1)
check(o1 is not None and o1["Contract__c"] == sfc, "its lookup Contract__c names its contract's Contract", (o1, sfc))
check(o2 is not None and c2 is not None and o2["Contract__c"] == c2["Id"] and o2["Contract__c"] != sfc,
      "a second contract's obligation names that contract (the lookup resolves per record)", (o2, c2))
so1 = o1["Id"] if o1 else None
clm.patch("contracts/%s/obligations" % ct["id"], ob1["id"], {"status": "done", "due_date": None, "owner": None,
                                                              "custom": {"penalty": "300.5"}})
got = wait_for(sf_has("Obligation__c", so1, Status__c="Done", Due_Date__c=None, Owner_Name__c=None, Penalty__c=300.5))
check(got is not None, "repository updates and nulls of an obligation reached Salesforce", sf.get("Obligation__c", so1))
sf.update("Obligation__c", so1, {"Recurrence__c": "Monthly"})
got = wait_for(sf_has("Obligation__c", so1, Recurrence__c="Quarterly"))
check(got is not None, "a repository-owned field of the custom object edited in Salesforce is reverted",
      sf.get("Obligation__c", so1))
sf.update("Obligation__c", so1, {"Contract__c": c2["Id"]})
got = wait_for(sf_has("Obligation__c", so1, Contract__c=sfc))
check(got is not None and clm.get("contracts/%s/obligations" % ct["id"], ob1["id"]) is not None,
      "an obligation moved to another Contract in Salesforce is moved back (its contract is the repository's)",
      sf.get("Obligation__c", so1))
st, _ = clm.api("DELETE", "/contracts/%s/obligations/%s" % (ct["id"], ob1["id"]))
check(st == 204, "repository delete of an obligation accepted", st)
gone = wait_for(lambda: (lambda r: r if r and r[0]["IsDeleted"] else None)(
    sf.query_all("SELECT Id, IsDeleted FROM Obligation__c WHERE Id = '%s'" % so1)))
check(gone is not None, "a repository delete deleted the Obligation__c (on_delete.salesforce delete)")

# --- 3. obligations made, changed and deleted in Salesforce --------------------------------------
so3 = sf.create("Obligation__c", {"Contract__c": c2["Id"], "Description__c": "Made in Salesforce",
                                  "Owner_Name__c": "Legal", "Due_Date__c": "2026-02-28", "Status__c": "Open",
                                  "Penalty__c": 42.5, "Effort_Hours__c": 3})
got = wait_for(lambda: (lambda r: r if r and r.get("CLM_Id__c") else None)(sf.get("Obligation__c", so3)))
ob3 = got["CLM_Id__c"] if got else None
r3 = clm.get("contracts/%s/obligations" % ct2["id"], ob3) if ob3 else None
check(r3 is not None and r3["contract_id"] == ct2["id"] and r3["description"] == "Made in Salesforce"
      and r3["owner"] == "Legal" and r3["due_date"] == "2026-02-28" and r3["status"] == "open"
      and r3.get("custom") == {"penalty": "42.50", "effort_hours": 3},
      "an Obligation__c made in Salesforce is an obligation of the contract its lookup names", r3)
check(got is not None and got["Recurrence__c"] == "None",
      "and the repository's own default (recurrence none) went back to it", got)
sf.update("Obligation__c", so3, {"Status__c": "Waived", "Description__c": "Changed in Salesforce",
                                 "Owner_Name__c": None, "Due_Date__c": None, "Penalty__c": None, "Effort_Hours__c": 5})
got = wait_for(clm_has("obligations", ob3, {"status": "waived", "description": "Changed in Salesforce",
                                            "custom.effort_hours": 5},
                       absent=["owner", "due_date", "custom.penalty"], parent=ct2["id"]))
check(got is not None, "Salesforce updates and nulls of the custom object reached the repository",
      clm.get("contracts/%s/obligations" % ct2["id"], ob3))
sf.delete("Obligation__c", so3)
got = ob3 is not None and wait_for(lambda: clm.api("GET", "/contracts/%s/obligations/%s" % (ct2["id"], ob3))[0] == 404)
check(got, "a Salesforce delete deleted the obligation (on_delete.clm delete)")
st, hist = clm.api("GET", "/contracts/%s/obligations/%s/history" % (ct2["id"], ob3))
check(st == 200 and hist["data"][-1]["updated_by"] == "sync:sf", "its history stays, written by the sync", (st, hist))
check(wait_for(sf_has("Obligation__c", o2["Id"], Status__c="Open")) is not None if o2 else False,
      "the other obligations are untouched")

# --- 4. a lookup target that cannot be brought in refuses the record that names it ----------------
# The Account's Industry has no entry in the value map: it waits in the dead-letter queue, and so
# does a Contract made on it, which is never created under some other counterparty.
bad_a = sf.create("Account", {"Name": "Untranslatable", "Industry": "Agriculture"})
bad_c = sf.create("Contract", {"Name": "On an untranslatable Account", "AccountId": bad_a})


def dlq():
    out = subprocess.run([os.environ["CLMSYNC"], "dlq", "list", "--json", "--admin-url", os.environ["ADMIN_URL"],
                          "--data", os.environ["CLM_DATA"]], capture_output=True, text=True)
    j = json.loads(out.stdout) if out.returncode in (0, 1) and out.stdout.strip() else []
    return j["entries"] if isinstance(j, dict) else j


got = wait_for(lambda: (lambda d: d if {bad_a, bad_c} <= {x.get("sf") for x in d} else None)(dlq()))
why = {x["sf"]: x["error"]["message"] for x in got or []}
check(got is not None and "Agriculture" in why.get(bad_a, "") and "Agriculture" in why.get(bad_c, ""),
      "an Account the value map cannot take, and a Contract made on it, wait in the dead-letter queue with the "
      "reason", dlq())
check(not [x for x in clm.list("contracts") if x["title"] == "On an untranslatable Account"],
      "and no repository contract was made for it")

# --- 5. the custom object's change events came over its own channel ------------------------------
db = sqlite3.connect("file:%s?mode=ro" % os.environ["CLM_DB"], uri=True)
rows = dict(db.execute("SELECT key, doc FROM kv WHERE ns = 'cursor' AND key LIKE 'cdc:sf:%'").fetchall())
db.close()
cur = json.loads(rows.get("cdc:sf:/data/Obligation__ChangeEvent", "{}"))
check(cur.get("replay", 0) > 0, "the engine stored its position in /data/Obligation__ChangeEvent", sorted(rows))
finish()

"""sync_match.py - matching by keys (run by test_sync_match.sh)."""
import json
import os
import urllib.parse

from sync_lib import CLM, SF, Http, check, env, finish, wait_for

sf_url, clm_url, token = env()
sf, clm = SF(sf_url), CLM(clm_url, token)
adm = Http(os.environ["ADMIN_URL"])
seed = json.load(open(os.environ["SEED"]))


def admin(path):
    return adm.call("GET", path, headers={"Authorization": "Bearer " + token})[1]


def names(n):
    return sf.query("SELECT Id, CLM_Id__c FROM Account WHERE Name = '%s'" % n)


# a repository counterparty named like an existing Account is linked to it
g = clm.create("counterparties", {"legal_name": "Globex", "registration_number": "REG-0042"})
got = wait_for(lambda: [a for a in names("Globex") if a.get("CLM_Id__c") == g["id"]], 20, "Globex linked")
check(got and got[0]["Id"] == seed["globex"], "matched by name: the existing Account carries the repository id", got)
check(len(names("Globex")) == 1, "no second Globex Account", names("Globex"))
st = wait_for(lambda: sf.get("Account", seed["globex"]).get("CLM_Registration_Number__c") == "REG-0042", 20,
              "fields compared")
check(st, "after linking, the repository-owned field reached the Account")

# two Accounts match: nothing is linked and nothing created
d = clm.create("counterparties", {"legal_name": "Dup Co"})
rows = wait_for(lambda: admin("/admin/v1/audit?decision=unmatched&record=" + urllib.parse.quote(d["id"]))["rows"],
                20, "unmatched audit row")
check(rows and "both match" in rows[0]["detail"], "an ambiguous match is audited with both ids", rows)
dups = names("Dup Co")
check(len(dups) == 2 and not any(a.get("CLM_Id__c") for a in dups), "neither Dup Co Account is linked or created", dups)

# an Account changed in Salesforce finds its unlinked counterparty by name
sf.update("Account", seed["dup1"], {"Industry": "Healthcare"})
ln = wait_for(lambda: admin("/admin/v1/links?sf=" + seed["dup1"])["links"], 20, "dup1 linked")
check(ln and ln[0]["clm"] == d["id"], "the changed Account is linked to the counterparty of the same name", ln)
c = wait_for(lambda: clm.get("counterparties", d["id"])["custom"].get("industry") == "Healthcare", 20, "industry")
check(c, "and its change reached the counterparty")
# the other one now matches a counterparty linked already: refused, nothing created
sf.update("Account", seed["dup2"], {"Industry": "Finance"})
dl = wait_for(lambda: [x for x in admin("/admin/v1/dlq")["entries"] if x["sf"] == seed["dup2"]], 20, "dup2 refused")
check(dl and "linked to" in dl[0]["error"]["message"], "a second match for a linked counterparty goes to the DLQ", dl)
_, page = clm.api("GET", "/counterparties?limit=100")
check(sum(1 for r in page["data"] if r["legal_name"] == "Dup Co") == 1, "one Dup Co counterparty, as before", page)
finish()

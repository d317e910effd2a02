#!/usr/bin/env bash
# test_sync_children.sh - records under a contract follow it between orgs (route: parent): two
# orgs, contracts routed by custom.region, obligations <-> Obligation__c in each org routed with
# their contract. An obligation goes to its contract's org only, and when the contract moves,
# its obligations are made in the new org (under the new org's Contract) and deleted in the old.
. "$(dirname "$0")/lib.sh"

SCHEMA="$(dirname "$0")/sync_custom_schema.json"
start_sfemu a --schema "$SCHEMA"
start_sfemu b --schema "$SCHEMA"
# org b's record ids must differ from org a's (each emulator counts from 1)
PYTHONPATH="$(dirname "$0")" python3 -c "
from sync_lib import SF
b = SF('$URL_b'); b.delete('Account', b.create('Account', {'Name': 'id offset'}))"
start_sync clm "a=$URL_a,b=$URL_b" "route=EMEA;AMER" children=yes b.contract_sf_delete=delete max_attempts=100
PYTHONPATH="$(dirname "$0")" SF_A=$URL_a SF_B=$URL_b CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm ADMIN_URL=$ADMIN_clm \
	python3 - <<'PY' || FAILS=$((FAILS + 1))
import os
from sync_lib import CLM, SF, Http, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sa, sb = SF(os.environ["SF_A"]), SF(os.environ["SF_B"])
adm = Http(os.environ["ADMIN_URL"])
H = {"Authorization": "Bearer " + os.environ["CLM_TOKEN"]}

def obligations(sf, ext):
    return sf.by_ext("Obligation__c", "CLM_Id__c", ext, "Id, Contract__c, Description__c")

def contract_sf(sf, ct):
    r = sf.by_ext("Contract", "CLM_Id__c", ct)
    return r[0]["Id"] if r else None

cp = clm.create("counterparties", {"legal_name": "Follow Co"})["id"]
emea = clm.create("contracts", {"title": "Moves", "counterparty_id": cp, "custom": {"region": "EMEA"}})["id"]
amer = clm.create("contracts", {"title": "Stays", "counterparty_id": cp, "custom": {"region": "AMER"}})["id"]
o1 = clm.create("contracts/%s/obligations" % emea, {"description": "Quarterly report"})["id"]
o2 = clm.create("contracts/%s/obligations" % emea, {"description": "Annual audit"})["id"]
o3 = clm.create("contracts/%s/obligations" % amer, {"description": "Monthly invoice"})["id"]
got = wait_for(lambda: all(len(obligations(sa, o)) == 1 for o in (o1, o2)) and len(obligations(sb, o3)) == 1, 20)
ca = contract_sf(sa, emea)
check(got and all(obligations(sa, o)[0]["Contract__c"] == ca for o in (o1, o2)),
      "the EMEA contract's obligations are in org a, under its Contract there")
check(got and obligations(sb, o3)[0]["Contract__c"] == contract_sf(sb, amer),
      "the AMER contract's obligation is in org b, under its Contract there")
check(not obligations(sb, o1) and not obligations(sb, o2) and not obligations(sa, o3),
      "no obligation is in the other org")

# the contract moves to AMER: it is made in org b and deleted in org a; its obligations follow
st, _ = clm.patch("contracts", emea, {"custom": {"region": "AMER"}})
check(st == 200, "the EMEA contract moves to AMER")
moved = wait_for(lambda: contract_sf(sb, emea) is not None and all(
    len(obligations(sb, o)) == 1 and obligations(sb, o)[0]["Contract__c"] == contract_sf(sb, emea)
    for o in (o1, o2)), 20)
check(moved, "its obligations are made in org b, under the Contract made there",
      [obligations(sb, o) for o in (o1, o2)])
gone = wait_for(lambda: contract_sf(sa, emea) is None and not obligations(sa, o1) and not obligations(sa, o2), 20)
check(gone, "in org a its Contract and its obligations are deleted (on_delete.salesforce: delete)",
      [obligations(sa, o) for o in (o1, o2)])
check(len(obligations(sb, o3)) == 1 and not obligations(sa, o3), "the other contract's obligation stays in org b")

# an obligation added to the moved contract goes to org b; an edit in org b comes back
o4 = clm.create("contracts/%s/obligations" % emea, {"description": "Added after the move"})["id"]
check(wait_for(lambda: len(obligations(sb, o4)) == 1, 15) and not obligations(sa, o4),
      "an obligation added after the move goes to org b only")
sb.update("Obligation__c", obligations(sb, o1)[0]["Id"], {"Description__c": "edited in org b"})
check(wait_for(lambda: clm.get("contracts/%s/obligations" % emea, o1)["description"] == "edited in org b", 15),
      "an edit of a moved obligation in org b reaches the repository")
st, b = adm.call("GET", "/admin/v1/dlq", headers=H)
check(st == 200 and not b.get("entries"), "nothing dead-lettered", b)
finish()
PY
finish

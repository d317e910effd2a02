#!/usr/bin/env bash
# revert_suppressed.sh BUILD - an engine bug the chaos soak found, now fixed: run by `make check` as
# chaos.found.revert_suppressed, it exits 1 should the bug come back.
#
# A Salesforce edit of a field the repository owns (non_owner_write: revert) is not reverted
# while a write of the repository's value is counted as "in flight" (plan.c sf_change: "unless a
# write of C is already on its way"), and a write that changed nothing in Salesforce stays in
# flight for SYNC_SENT_KEEP_MS (120 s): Salesforce publishes an event for it that shows no value,
# so nothing retires it. Here a person sets CLM_Lifecycle_Status__c to Signed and back to Draft at
# once: the engine's revert of the first edit lands on the second and changes nothing; the next
# Signed is then left alone, and stays for good when no later change comes to replan the record.
# (In the soak: CLM_Lifecycle_Status__c 'Signed' in Salesforce against 'Draft' in the repository,
# the link showing an answered write of Draft in flight.)
. "$(dirname "$0")/../../scenario/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
PYTHONPATH="$(dirname "$0")/../../scenario" CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm SF_URL=$URL_sf python3 - <<'PY' || FAILS=$((FAILS + 1))
import os
from sync_lib import CLM, SF, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])
cp = clm.create("counterparties", {"legal_name": "Revert Co"})["id"]
ct = clm.create("contracts", {"title": "Revert", "counterparty_id": cp})["id"]
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)))
check(sid is not None and wait_for(lambda: sf.get("Contract", sid)["CLM_Lifecycle_Status__c"] == "Draft"),
      "a linked draft contract (CLM_Lifecycle_Status__c Draft, owned by the repository)")
sf.update("Contract", sid, {"CLM_Lifecycle_Status__c": "Signed"})
sf.update("Contract", sid, {"CLM_Lifecycle_Status__c": "Draft"})
wait_for(lambda: False, 1.0)       # a fixed pause: the engine's revert of the first edit lands meanwhile
sf.update("Contract", sid, {"CLM_Lifecycle_Status__c": "Signed"})
got = wait_for(lambda: sf.get("Contract", sid)["CLM_Lifecycle_Status__c"] == "Draft", 10)
check(got, "a later Salesforce edit of the repository's field is reverted",
      sf.get("Contract", sid)["CLM_Lifecycle_Status__c"])
finish()
PY
finish

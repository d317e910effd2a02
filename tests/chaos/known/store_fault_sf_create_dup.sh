#!/usr/bin/env bash
# store_fault_sf_create_dup.sh BUILD - an engine bug the chaos soak found, now fixed: run by `make check` as
# chaos.found.store_fault_sf_create_dup, it exits 1 should the bug come back.
#
# A Contract created in Salesforce becomes a repository contract (through the repository's
# writer) and then its link commits with the plan's group. When a store statement of that commit
# fails (sync.plan: "cannot commit: ... injected fault"), the repository record stays without its
# link, and the next round plans the repository's own change-feed row for it as a record made in
# the repository: an upsert by external id makes a second Contract in Salesforce. The original
# is linked later, its CLM_Id__c write is refused (DUPLICATE_VALUE) and dead-lettered, again and
# again. Salesforce is left with two Contracts for one contract, one of them without its id.
#
# The fault has to fall on that commit: this script makes Contracts in Salesforce one after the
# other and arms the store's fault simulation (clmsync-chaos, tests/chaos/store_fault_hook.c) n
# statements ahead of each, n = 20, 21, ... 60, until two Contracts carry one Name. On an idle
# engine the commit's statements are around n = 33 ("cannot commit: kv put" in the log, then
# "created" from the change feed with no Salesforce id in the audit).
. "$(dirname "$0")/known.sh"

start_sfemu sf
mkfifo "$WORK/faults.fifo"
CLMSYNC_BIN=$BUILD/clmsync-chaos CLMSYNC_STORE_FAULT_FIFO="$WORK/faults.fifo" start_sync clm "sf=$URL_sf" max_attempts=1000
FIFO="$WORK/faults.fifo" known_py <<'PY'
import os
from conflict_common import arm
from sync_lib import CLM, SF, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])
acct = sf.create("Account", {"Name": "Dup Co"})
check(wait_for(lambda: sf.get("Account", acct)["CLM_Id__c"]), "the Account is linked")


def dups():
    """Contracts made by the engine beside one made in Salesforce: two records of one Name."""
    per = {}
    for r in sf.query("SELECT Id, Name, CLM_Id__c FROM Contract"):
        per.setdefault(r["Name"], []).append((r["Id"], r["CLM_Id__c"]))
    return {k: v for k, v in per.items() if len(v) > 1}


# the fault falls n statements after it is armed; on an idle engine the link's commit is some
# 30 to 45 statements after the Contract is made: each n from 20 to 60 is tried once
found, tries = {}, 0
for n in range(20, 61):
    tries += 1
    arm(n)
    sid = sf.create("Contract", {"Name": "Dup %d" % n, "AccountId": acct, "StartDate": "2026-01-01",
                                 "ContractTerm": 12})
    wait_for(lambda: sf.get("Contract", sid)["CLM_Id__c"] and len(sf.query(
        "SELECT Id FROM Contract WHERE Name = 'Dup %d'" % n)) == 1, 3)
    found = dups()
    if found:
        break
arm(0)
check(not found, "no Contract duplicated: %d Contracts made in Salesforce, a store fault armed n statements ahead "
      "of each (n = 20 ... %d)" % (tries, 19 + tries), found)
finish()
PY
finish

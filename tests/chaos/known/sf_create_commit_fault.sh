#!/usr/bin/env bash
# sf_create_commit_fault.sh BUILD - an engine bug a chaos soak found (seed 1214050516,
# bench/results/chaos-2026-11-27-medium-3.md), now fixed: run by `make check` as
# chaos.found.sf_create_commit_fault, it exits 1 should the bug come back.
#
# An Account made in Salesforce becomes a repository counterparty in one unit with its link and
# the removal of its change event from the inbox. When a store statement of that unit's commit
# failed ("cannot commit: counter: disk I/O error" in the log, naming a counterparty that was
# never made), the failure was taken as "nothing to create" and the event was dropped: the
# Account stayed unlinked, with no audit row, dead-letter entry or log line of its own, until a
# reconcile. A lookup target made the same way failed its change into the dead-letter queue, and
# a reconcile's repair went on as if made. Now each is planned again.
#
# The fault has to fall on that commit: this script makes Accounts in Salesforce one after the
# other and arms the store's fault simulation (clmsync-chaos, tests/chaos/store_fault_hook.c) n
# statements ahead of each, n = 1 ... 60.
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
first = sf.create("Account", {"Name": "Commit Fault Co 0"})
check(wait_for(lambda: sf.get("Account", first)["CLM_Id__c"]), "an Account made in Salesforce is linked")

# each n from 1 to 60 is tried once, so that one falls on the commit of the counterparty's unit
unlinked = []
for n in range(1, 61):
    arm(n)
    sid = sf.create("Account", {"Name": "Commit Fault Co %d" % n})
    if wait_for(lambda: sf.get("Account", sid)["CLM_Id__c"], 8) is None:
        unlinked.append(n)
arm(0)
check(not unlinked, "each Account made in Salesforce is linked, a store fault armed n statements ahead "
      "(n = 1 ... 60)", unlinked)
names = [c["legal_name"] for c in clm.list("counterparties") if c["legal_name"].startswith("Commit Fault Co ")]
check(len(names) == 61 and len(set(names)) == 61, "one counterparty for each Account", (len(names), len(set(names))))
finish()
PY
finish

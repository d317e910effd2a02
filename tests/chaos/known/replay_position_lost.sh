#!/usr/bin/env bash
# replay_position_lost.sh BUILD - an engine bug the chaos soak found, now fixed: run by `make check`
# as chaos.found.replay_position_lost, it exits 1 should the bug come back.
#
# A change-event channel with no stored replay id - none of its events has come yet, or the last
# one was refused (the replay window passed) and none came since - is subscribed with new events
# only after a restart, and nothing is reconciled: whatever changed in Salesforce on it while
# clmsync was down is never seen. docs/architecture.md promises a full reconcile for "a
# resubscribe without a stored position". Here the Contract channel has seen no event when
# clmsync is killed; a Contract made in Salesforce meanwhile never reaches the repository. In the
# soak: two Contracts made in Salesforce during an outage that followed one with an expired
# replay window stayed without a repository id.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
known_py <<'PY'
from conflict_common import Server, clm, linked_account, sf
from sync_lib import check, finish, wait_for
server = Server()
try:
    cp, acct = linked_account("Down Co")
    server.kill()
    sid = sf.create("Contract", {"Name": "Made while down", "AccountId": acct, "StartDate": "2026-03-01",
                                 "ContractTerm": 12})
    server.start()
    got = wait_for(lambda: sf.get("Contract", sid)["CLM_Id__c"], 15)
    check(got, "the Contract made in Salesforce while clmsync was down reaches the repository", sf.get("Contract", sid)["CLM_Id__c"])
finally:
    server.stop()
finish()
PY
finish

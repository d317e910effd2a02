#!/usr/bin/env bash
# replay_position_lost.sh BUILD - an engine bug the chaos soak found, now fixed: run by `make check`
# as chaos.found.replay_position_lost, it exits 1 should the bug come back.
#
# A change-event channel with no stored replay id - none of its events has come yet, or the last
# one was refused (the replay window passed) and none came since - is subscribed with new events
# only after a restart, and nothing is reconciled: whatever changed in Salesforce on it while
# clmsync was down is never seen. docs/architecture.md promises a full reconcile for such a
# resubscribe. Here the Contract channel has seen no event when
# clmsync is killed; a Contract made in Salesforce meanwhile never reaches the repository. In the
# soak: two Contracts made in Salesforce during an outage that followed one with an expired
# replay window stayed without a repository id.
#
# Since then such a channel is resubscribed for every event still retained, and those committed
# before it was first followed are passed over: the Contract made while down comes as its own
# event (sfemu's /__emu/undelivered no longer names it), and one made before clmsync ever ran is
# no change to weigh.
. "$(dirname "$0")/known.sh"

start_sfemu sf
PYTHONPATH="$KNOWN/../../scenario" SF_URL=$URL_sf python3 - <<'PY' || FAILS=$((FAILS + 1))
import os
from sync_lib import SF
sf = SF(os.environ["SF_URL"])
acct = sf.create("Account", {"Name": "Before Co"})
sf.create("Contract", {"Name": "Made before clmsync ran", "AccountId": acct, "StartDate": "2026-01-01", "ContractTerm": 6})
PY
start_sync clm "sf=$URL_sf"
known_py <<'PY'
import os
from conflict_common import Server, clm, linked_account, sf
from sync_lib import check, finish, wait_for
server = Server()
try:
    cp, acct = linked_account("Down Co")
    server.kill()
    sf.emu("POST", "expire-clients")       # the killed one's long poll would still take events
    sid = sf.create("Contract", {"Name": "Made while down", "AccountId": acct, "StartDate": "2026-03-01",
                                 "ContractTerm": 12})
    made = wait_for(lambda: [e["replayId"] for e in sf.emu("GET", "events")[1]
                             if sid in e["payload"]["ChangeEventHeader"]["recordIds"]], 10)
    check(made, "the Contract's CREATE event is published", made)
    made = made[0] if made else 0
    check(made in sf.emu("GET", "undelivered")[1]["replay_ids"], "no client has it while clmsync is down", made)
    server.start()
    got = wait_for(lambda: sf.get("Contract", sid)["CLM_Id__c"], 15)
    check(got, "the Contract made in Salesforce while clmsync was down reaches the repository", sf.get("Contract", sid)["CLM_Id__c"])
    check(wait_for(lambda: made not in sf.emu("GET", "undelivered")[1]["replay_ids"], 15),
          "its CREATE event is replayed to clmsync, not skipped", sf.emu("GET", "undelivered")[1])
    log = os.path.join(os.environ["WORK"], "clm-restart.log")
    said = lambda: "passed over 1 replayed event(s) committed before their channel was followed" in open(log).read()
    check(wait_for(said, 15), "the Contract made before clmsync ever ran is passed over, not weighed as a change")
finally:
    server.stop()
finish()
PY
finish

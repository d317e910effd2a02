#!/usr/bin/env bash
# stale_read_in_flight.sh BUILD - two engine bugs the chaos soak found, both fixed.
#
# First: while a repository change of a `both` field was on its way to Salesforce (here refused
# with UNABLE_TO_LOCK_ROW and retried), a whole-record read (a gap event, a reconcile) found
# Salesforce still holding the base and planned a conflict; with `last_writer_wins` the record's
# newer LastModifiedDate won and the repository's change was lost on both sides.
#
# Second: a write whose answer was lost used to be made again blindly (the connector retried
# it, being idempotent), and an upsert repeated after a Salesforce edit of the same record
# overwrote that edit: here the repository's create is answered with a closed connection each
# time, Salesforce's user edits Description in between (a gap), and the repeated create wrote
# the repository's Description over it. Now the engine's connector leaves such a write to the
# applier (sf_client_caller_retries), our own CREATE event links the record, and a write whose
# own change event has come back is settled as landed instead of repeated (apply.c landed()).
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=1000
known_py <<'PY'
import os
from conflict_common import conflicts
from sync_lib import CLM, SF, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])
cp = clm.create("counterparties", {"legal_name": "Stale Co"})["id"]
ct = clm.create("contracts", {"title": "Stale", "counterparty_id": cp, "customer_signed_date": "2025-01-01"})["id"]
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)))
check(sid is not None and wait_for(lambda: sf.get("Contract", sid)["CustomerSignedDate"] == "2025-01-01"),
      "the contract is linked, CustomerSignedDate (owner both, last_writer_wins) 2025-01-01 on both sides")
sf.emu("POST", "faults", {"rate_lock": 1000})          # every write is refused (transient) and retried
st, _ = clm.patch("contracts", ct, {"customer_signed_date": "2025-06-30"})
check(st == 200, "the repository changes it to 2025-06-30 (its write to Salesforce is retried)")
# someone edits another field in Salesforce; its event is lost (a GAP_UPDATE): the engine reads
# the record whole, and sees the old CustomerSignedDate with a newer LastModifiedDate
sf.emu("POST", "gap", {"entity": "Contract", "changeType": "GAP_UPDATE", "recordId": sid,
                       "apply": {"Description": "edited in Salesforce"}})
check(wait_for(lambda: clm.get("contracts", ct).get("description") == "edited in Salesforce", 10),
      "the gap is healed: the Description edit reached the repository")
sf.emu("POST", "faults", {"rate_lock": 0})
got = wait_for(lambda: sf.get("Contract", sid)["CustomerSignedDate"] == "2025-06-30"
               and clm.get("contracts", ct)["customer_signed_date"] == "2025-06-30", 15)
check(got, "the repository's change is not lost: 2025-06-30 on both sides",
      (clm.get("contracts", ct)["customer_signed_date"], sf.get("Contract", sid)["CustomerSignedDate"]))
# the mirror: a create on its way (its answers lost) and a Salesforce edit of the new record
# read whole (a gap): only Salesforce changed Description since the repository sent it, yet a
# manual conflict is parked
sf.emu("POST", "faults", {"rate_lost": 1000})
ct2 = clm.create("contracts", {"title": "Stale 2", "counterparty_id": cp, "description": "from the repository"})["id"]
sid2 = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct2)), 10)
check(sid2 is not None, "the repository's create committed in Salesforce (its answers lost, the engine repeats it)")
sf.emu("POST", "gap", {"entity": "Contract", "changeType": "GAP_UPDATE", "recordId": sid2,
                       "apply": {"Description": "edited in Salesforce"}})
sf.emu("POST", "faults", {"rate_lost": 0})
got = wait_for(lambda: clm.get("contracts", ct2)["description"] == "edited in Salesforce", 15)
check(got, "Salesforce's edit of the new record reaches the repository (no conflict: only Salesforce changed it)",
      clm.get("contracts", ct2)["description"])
# the same, with the order forced: our own CREATE event is planned (the write is seen to have
# landed) and the whole-record read follows it before the applier settles the write. The
# landed values are the base from that event on: Salesforce's later edit is an edit, not a
# conflict, and settling the write afterwards does not set the base back.
sf.emu("POST", "streaming", {"deliver": 0})            # events held back
sf.emu("POST", "faults", {"rate_lost": 1000})
ct3 = clm.create("contracts", {"title": "Stale 3", "counterparty_id": cp, "description": "from the repository"})["id"]
sid3 = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct3)), 10)
check(sid3 is not None, "a third create committed in Salesforce, its answer lost")
sf.emu("POST", "faults", {"rate_lost": 0, "rate_lock": 1000})   # repeats refused: none commits
sf.emu("POST", "gap", {"entity": "Contract", "changeType": "GAP_UPDATE", "recordId": sid3,
                       "apply": {"Description": "edited in Salesforce"}})
sf.emu("POST", "streaming", {"deliver": 1})            # our CREATE event, then the gap
got = wait_for(lambda: clm.get("contracts", ct3)["description"] == "edited in Salesforce", 15)
check(got, "Salesforce's edit reaches the repository when the gap is read after our own event",
      clm.get("contracts", ct3)["description"])
sf.emu("POST", "faults", {"rate_lock": 0})
ok = wait_for(lambda: sf.get("Contract", sid3)["Description"] == "edited in Salesforce"
              and clm.get("contracts", ct3)["description"] == "edited in Salesforce", 5)
check(ok, "both sides keep Salesforce's edit once the write is settled",
      (clm.get("contracts", ct3)["description"], sf.get("Contract", sid3)["Description"]))
parked = [c for c in conflicts() if c["clm"] in (ct2, ct3)]
check(not parked, "no conflict was parked for either new record", parked)
finish()
PY
finish

#!/usr/bin/env bash
# stale_create_after_link.sh BUILD - an engine bug the chaos soak found (seed 307330321), now fixed:
# run by `make check` as chaos.found.stale_create_after_link, it exits 1 should the bug come back.
#
# A reconcile links a record made in Salesforce while the stream lags behind (here events are
# held back); the repository then changes the record's Description (owner both, conflict
# manual) and the write lands. The record's CREATE event, planned after all that, showed the
# Description as made and was weighed as a Salesforce edit against the repository's write still
# awaiting its own event: a manual conflict was parked where only the repository had changed.
# A CREATE event of a record linked already is stale: the record is now read afresh instead.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
known_py <<'PY'
import json
import os
from conflict_common import cli, conflicts, events_planned
from sync_lib import CLM, SF, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])
cp = clm.create("counterparties", {"legal_name": "Lagging Co"})["id"]
acct = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Account", "CLM_Id__c", cp)))
check(acct is not None, "a counterparty linked to its Account")
sf.emu("POST", "streaming", {"deliver": 0})            # the stream lags: events held back
sid = sf.create("Contract", {"Name": "Made while lagging", "AccountId": acct, "StartDate": "2026-02-01",
                             "ContractTerm": 12, "CLM_Type__c": "NDA", "Description": "made in Salesforce"})
code, out, err = cli("reconcile", "--repair", "--wait", "30")
ct = wait_for(lambda: (sf.get("Contract", sid) or {}).get("CLM_Id__c"), 10)
check(code in (0, 1) and ct is not None, "a reconcile links the new Contract and makes its contract", (code, out, err))
st, _ = clm.patch("contracts", ct, {"description": "edited in the repository"})
check(st == 200 and wait_for(lambda: sf.get("Contract", sid)["Description"] == "edited in the repository", 10),
      "the repository edits its Description, written to Salesforce")
last = sf.emu("GET", "events")[1][-1]["replayId"]   # our own UPDATE event, the last one
sf.emu("POST", "streaming", {"deliver": 1})            # the CREATE event, then our own UPDATE event
# settled: the engine has stored every event up to the last one and planned them all
check(wait_for(lambda: events_planned("sf", last), 15) is not None, "the engine has planned the released events (replay %d)" % last,
      cli("status", "--json")[1][:600])
parked = [c for c in conflicts() if c["clm"] == ct]
check(not parked, "no conflict parked: only the repository changed the Description", parked)
got = (clm.get("contracts", ct)["description"], sf.get("Contract", sid)["Description"])
check(got == ("edited in the repository", "edited in the repository"), "both sides keep the repository's edit", got)
finish()
PY
finish

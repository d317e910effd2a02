#!/usr/bin/env bash
# gap_after_noop_write.sh BUILD - an engine bug a chaos soak found (seed 1312353691, full-9: a
# manual conflict parked where only Salesforce had changed), now fixed: run by `make check` as
# chaos.found.gap_after_noop_write, it exits 1 should it come back.
#
# A write of ours that changes nothing in Salesforce (it holds that value already) has no change
# event, so its entry stays "on its way" until pruned (two minutes). A whole-record read made
# meanwhile (a gap's fetch, dated by the gap event) weighed Salesforce's newer value against it
# as a conflict: a manual field parked one though only Salesforce had changed it since both
# sides agreed. A read is made now: a write already answered landed before it, and is no longer
# weighed as on its way.
#
# Here a Salesforce user and the repository set Contract.Description (manual conflicts) to the same
# value while sfemu holds the events back: the engine's write of it changes nothing. Then
# Salesforce changes Description with only a GAP_UPDATE published.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
known_py <<'PY'
from conflict_common import clm, conflicts, sf
from sync_lib import check, finish, wait_for
cp = clm.create("counterparties", {"legal_name": "Noop Co"})["id"]
ct = clm.create("contracts", {"title": "Noop", "counterparty_id": cp, "description": "start"})["id"]
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)))
check(sid is not None and wait_for(lambda: sf.get("Contract", sid)["Description"] == "start"), "a linked contract")
writes = lambda: sum(sf.counters().get(k, 0) for k in ("sobjects", "composite/sobjects", "composite"))
before = writes()
sf.emu("POST", "streaming", {"deliver": 0})
sf.update("Contract", sid, {"Description": "same"})
clm.patch("contracts", ct, {"description": "same"})
check(wait_for(lambda: writes() > before + 1, 10), "the engine writes the same value (its own update and the engine's)")
sf.emu("POST", "streaming", {"deliver": 1})
sf.emu("POST", "gap", {"entity": "Contract", "changeType": "GAP_UPDATE", "recordId": sid,
                       "apply": {"Description": "edited in Salesforce"}})
got = wait_for(lambda: clm.get("contracts", ct)["description"] == "edited in Salesforce", 10)
check(got, "Salesforce's later edit reaches the repository", clm.get("contracts", ct)["description"])
parked = [c for c in conflicts() if c["clm"] == ct]
check(not parked, "no conflict is parked", parked)
finish()
PY
finish

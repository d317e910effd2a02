#!/usr/bin/env bash
# create_event_omits_nulls.sh BUILD - an engine bug a chaos soak found (full-27, seed 2072798431:
# "an older value came back"), now fixed: run by `make check` as chaos.found.create_event_omits_nulls,
# it exits 1 should it come back.
#
# A contract is made in the repository with no CustomerSignedDate; its create lands in Salesforce
# with the answer lost, and the repository then sets the date (a write queued behind the create,
# refused for now). Our own CREATE event came: it carries only the fields made with a value, so
# it did not name CustomerSignedDate, and the later write passed for shown by it (every field of
# it the event shows has the event's value): it was settled as landed with the create and never
# made, and a reconcile then took Salesforce's null for an edit: the repository's change was lost
# on both sides. Our own CREATE event is now read with null for the fields it leaves out.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=100
known_py <<'PY'
from conflict_common import cli, clm, created_answer_lost, release, sf
from sync_lib import check, finish, wait_for
ct, sid = created_answer_lost("Create In Flight Co", "Made, answer lost")
sf.emu("POST", "faults", {"rate_lost": 0, "rate_lock": 1000, "client": "clmsync"})   # now refused
st, _ = clm.patch("contracts", ct, {"customer_signed_date": "2025-09-08"})
check(st == 200, "the repository sets CustomerSignedDate while the create's answer is awaited")
release("our own CREATE event is planned")
code, out, err = cli("reconcile", "--repair", "--wait", "30")
check(code in (0, 1) and "compared" in out, "a reconcile reads the Contract", (code, out, err))
date = lambda: clm.get("contracts", ct).get("customer_signed_date")
check(date() == "2025-09-08", "the repository keeps its change (the read's value is the create's)", date())
sf.emu("POST", "faults", {"rate_lock": 0, "client": ""})
release("the engine has planned the released events")
got = lambda: (date(), sf.get("Contract", sid)["CustomerSignedDate"])
check(wait_for(lambda: got() == ("2025-09-08", "2025-09-08"), 15), "both sides end on the repository's change", got())
finish()
PY
finish

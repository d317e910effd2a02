#!/usr/bin/env bash
# reconcile_own_create_edit.sh BUILD - an engine bug a chaos soak found (full-26, seed 2072798431:
# "an older value came back"), now fixed: run by `make check` as
# chaos.found.reconcile_own_create_edit, it exits 1 should it come back.
#
# A contract made in the repository is upserted into Salesforce and the answer is lost; a person
# then edits a field of the new Contract (CustomerSignedDate: owner both, last_writer_wins).
# A whole-record read (a gap's fetch, a reconcile) finds the Contract by its external id and links
# it to the record's own pending link, whose create is still unanswered. The fields had no base
# yet (a create's values become the base on its answer or its own change event), so the person's
# edit was weighed as a first comparison: a conflict, which an undated read loses to the
# repository under last_writer_wins: the create's value was written back over the edit. The
# record found proves the create landed: its values are the base both sides agreed on, and the
# person's edit is Salesforce's change alone.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=100
known_py <<'PY'
from conflict_common import cli, clm, created_answer_lost, release, sf
from sync_lib import check, finish, wait_for
ct, sid = created_answer_lost("Own Create Edit Co", "Made, then edited", customer_signed_date="2025-01-01")
sf.update("Contract", sid, {"CustomerSignedDate": "2025-03-03"})
code, out, err = cli("reconcile", "--repair", "--wait", "30")
check(code in (0, 1) and "differed" in out, "a reconcile links the Contract by its external id", (code, out, err))
date = lambda: clm.get("contracts", ct).get("customer_signed_date")
check(wait_for(lambda: date() == "2025-03-03", 10), "the person's edit reaches the repository", date())
sf.emu("POST", "faults", {"rate_lost": 0, "client": ""})
release("the engine has planned the released events")
got = lambda: (date(), sf.get("Contract", sid)["CustomerSignedDate"])
check(wait_for(lambda: got() == ("2025-03-03", "2025-03-03"), 15), "both sides keep the person's edit", got())
finish()
PY
finish

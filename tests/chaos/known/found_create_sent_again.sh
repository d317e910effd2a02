#!/usr/bin/env bash
# found_create_sent_again.sh BUILD - an engine bug a chaos soak found (full-39, seed 458265019:
# "an older value came back"), now fixed: run by `make check` as chaos.found.found_create_sent_again,
# it exits 1 should it come back.
#
# A contract made in the repository lands in Salesforce with the create's answer lost, and the
# engine's retries of it are refused for now. A whole-record read (a reconcile) finds the Contract
# by its external id and links it; a person then edits a field the create made. The record found
# proves the create landed (reconcile_own_create_edit gave its values the base), yet the create
# stayed queued as unanswered: once Salesforce took our writes again it was made again, over the
# person's edit, and a later read took the create's value back into the repository.
# A create a read has found is now settled as landed, as when our own event shows it.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=100
known_py <<'PY'
from conflict_common import cli, clm, created_answer_lost, outbox, release, sf
from sync_lib import check, finish, wait_for
ct, sid = created_answer_lost("Found Create Co", "Found, answer lost", customer_signed_date="2025-01-01")
before = sf.counters().get("fault.lock", 0)
sf.emu("POST", "faults", {"rate_lost": 0, "rate_lock": 1000, "client": "clmsync"})   # retries refused
check(wait_for(lambda: sf.counters().get("fault.lock", 0) > before, 15), "the create's retries are refused")
code, out, err = cli("reconcile", "--repair", "--wait", "30")
check(code in (0, 1) and "differed" in out, "a reconcile links the Contract by its external id", (code, out, err))
sf.update("Contract", sid, {"CustomerSignedDate": "2025-03-03"})
edited = sf.emu("GET", "events")[1][-1]["replayId"]
sf.emu("POST", "faults", {"rate_lock": 0, "client": ""})
check(wait_for(lambda: outbox() == 0, 15), "nothing is left to write", outbox())
again = [e["replayId"] for e in sf.emu("GET", "events")[1] if e["replayId"] > edited and
         "client=clmsync" in e["payload"]["ChangeEventHeader"].get("changeOrigin", "") and
         e["payload"].get("CustomerSignedDate") == "2025-01-01"]
check(not again, "the create was not made again over the person's edit", again)
release("the engine has planned the released events")
date = lambda: clm.get("contracts", ct).get("customer_signed_date")
got = lambda: (date(), sf.get("Contract", sid)["CustomerSignedDate"])
check(wait_for(lambda: got() == ("2025-03-03", "2025-03-03"), 15), "both sides keep the person's edit", got())
finish()
PY
finish

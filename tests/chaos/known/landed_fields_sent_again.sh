#!/usr/bin/env bash
# landed_fields_sent_again.sh BUILD - an engine bug a chaos soak found (full-38, seed 458265019:
# "an older value came back"), now fixed: run by `make check` as chaos.found.landed_fields_sent_again,
# it exits 1 should it come back.
#
# A contract made in the repository lands in Salesforce with the create's answer lost, and the
# repository changes another field (a write queued behind the create, refused for now). Our own
# CREATE event comes, showing the create landed; a person then edits a field the create made. When
# Salesforce takes our writes again, the record's queued writes went out as one, and the
# create's fields with them: its values, landed before, overwrote the person's edit in
# Salesforce, and a whole-record read then took them back into the repository. A write whose event
# has shown it landed is not made again (apply.c landed()); now neither are the fields of such
# writes when a later write of the record goes out with them.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=100
known_py <<'PY'
from conflict_common import clm, created_answer_lost, release, sf
from sync_lib import check, finish, wait_for
ct, sid = created_answer_lost("Landed Fields Co", "Landed, answer lost", customer_signed_date="2025-01-01")
sf.emu("POST", "faults", {"rate_lost": 0, "rate_lock": 1000, "client": "clmsync"})   # now refused
st, _ = clm.patch("contracts", ct, {"title": "Landed, retitled"})
check(st == 200, "the repository retitles the contract while the create's answer is awaited")
release("our own CREATE event is planned")
sf.update("Contract", sid, {"CustomerSignedDate": "2025-03-03"})
edited = sf.emu("GET", "events")[1][-1]["replayId"]
date = lambda: clm.get("contracts", ct).get("customer_signed_date")
release("the person's edit is planned")
check(date() == "2025-03-03", "the person's edit reaches the repository", date())
sf.emu("POST", "faults", {"rate_lock": 0, "client": ""})
got = lambda: (date(), sf.get("Contract", sid)["CustomerSignedDate"], sf.get("Contract", sid)["Name"])
check(wait_for(lambda: sf.get("Contract", sid)["Name"] == "Landed, retitled", 15), "the retitle is made", got())
release("the engine has planned the released events")
check(wait_for(lambda: got() == ("2025-03-03", "2025-03-03", "Landed, retitled"), 15),
      "both sides keep the person's edit and the retitle", got())
# on the wire: no write of ours after the person's edit carried the create's value again
again = [e["replayId"] for e in sf.emu("GET", "events")[1] if e["replayId"] > edited and
         "client=clmsync" in e["payload"]["ChangeEventHeader"].get("changeOrigin", "") and
         "CustomerSignedDate" in e["payload"]["ChangeEventHeader"].get("changedFields", []) and
         e["payload"].get("CustomerSignedDate") == "2025-01-01"]
check(not again, "the create's landed value was not written again over the person's edit", again)
finish()
PY
finish

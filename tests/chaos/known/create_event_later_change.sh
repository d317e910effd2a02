#!/usr/bin/env bash
# create_event_later_change.sh BUILD - an engine bug that scenario.test_sync_faults met under the
# sanitizers (two contracts left with an older value in Salesforce), now fixed: run by `make
# check` as chaos.found.create_event_later_change, it exits 1 should the bug come back.
#
# A contract made in the repository is upserted and the answer is lost; its payment terms are
# changed while the retry is refused (503), so the change joins the queued write. The create's
# own CREATE event, showing every field as made, then marked the change seen as well, as if the
# write it came from had carried it: the applier settled the whole write as landed, and the
# change was never made. Only entries whose every shown field has the event's value count as
# carried by that write.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=100
known_py <<'PY'
from conflict_common import clm, linked_account, release, sf
from sync_lib import check, finish, wait_for
cp, acct = linked_account("Later Change Co")
sf.emu("POST", "streaming", {"deliver": 0})            # the create's event held back
sf.emu("POST", "faults", {"rate_lost": 1000, "client": "clmsync"})   # the create lands, unanswered
ct = clm.create("contracts", {"title": "Answer lost", "type": "msa", "counterparty_id": cp,
                              "payment_terms": "net 15"})["id"]
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)), 15)
check(sid is not None and sf.counters().get("fault.lost", 0) >= 1, "the create landed, its answer lost",
      sf.counters())
sf.emu("POST", "faults", {"rate_lost": 0, "rate_503": 1000, "client": "clmsync"})   # retries refused
n503 = sf.counters().get("fault.503", 0)
st, _ = clm.patch("contracts", ct, {"payment_terms": "pt 82"})
check(st == 200 and wait_for(lambda: sf.counters().get("fault.503", 0) > n503 + 1, 15),
      "the repository changes the payment terms; the retried write is refused")
release("the create's own event, showing net 15, is planned")
sf.emu("POST", "faults", {"rate_503": 0, "client": ""})
check(wait_for(lambda: sf.get("Contract", sid)["CLM_Payment_Terms__c"] == "pt 82", 15),
      "the change is made in Salesforce", sf.get("Contract", sid)["CLM_Payment_Terms__c"])
finish()
PY
finish

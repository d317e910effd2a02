#!/usr/bin/env bash
# create_sent_again.sh BUILD - an engine bug a chaos soak found (full-30 and full-31, seed
# 244797819: "an older value came back", records made while an org's daily API limit was
# reached), now fixed: run by `make check` as chaos.found.create_sent_again, it exits 1 should it
# come back.
#
# A contract made in the repository waits in the outbox (Salesforce refuses our writes) and the
# repository changes it again. Every field had no base yet (a create's values become the base on
# its answer), and the second plan wrote every field again, not only the one that changed. The
# create then went out alone (the outbox held more than one apply round reads, the second write
# behind the rest) and was answered, but its answer left the base of each field alone, as the
# later write still in flight carried them all. A person's edit in Salesforce made then was
# weighed as a first comparison by a whole-record read: a conflict, which an undated read loses to
# the repository under last_writer_wins, so the create's value was written back over the edit.
# A write of a value already on its way is no longer planned again.
#
# Here the outbox is filled with 1,000 counterparty writes held by `clmsync pause`, between the
# contract's create and its later change; the stream is held back, so that only the create's
# answer settles anything.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=1000
known_py <<'PY'
from conflict_common import cli, clm, linked_account, outbox, release, sf
from sync_lib import check, finish, wait_for

cp, _ = linked_account("Sent Again Co")
sf.emu("POST", "faults", {"rate_lock": 1000, "client": "clmsync"})     # our writes refused for now
ct = clm.create("contracts", {"title": "Sent Again", "type": "msa", "counterparty_id": cp,
                              "customer_signed_date": "2025-01-01"})["id"]
check(wait_for(lambda: outbox() >= 1, 10), "the contract's create waits in the outbox", outbox())
for i in range(1000):
    clm.create("counterparties", {"legal_name": "Filler %d" % i})
check(wait_for(lambda: outbox() >= 1001, 30), "1,000 counterparty writes wait behind it", outbox())
code, out, err = cli("pause", "counterparties")
check(code == 0, "counterparties paused: their writes stay in the outbox", (code, out, err))
st, _ = clm.patch("contracts", ct, {"title": "Sent Again, retitled"})
check(st == 200 and wait_for(lambda: outbox() >= 1002, 10), "the repository retitles the contract", outbox())
sf.emu("POST", "streaming", {"deliver": 0})       # no event of ours settles anything
sf.emu("POST", "faults", {"rate_lock": 0, "client": ""})
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)), 20)
check(sid is not None, "the create goes out alone and lands")
check(sf.get("Contract", sid)["Name"] == "Sent Again", "the retitle waits behind the counterparties",
      sf.get("Contract", sid)["Name"])
sf.update("Contract", sid, {"CustomerSignedDate": "2025-03-03"})
code, out, err = cli("reconcile", "--mapping", "contracts", "--repair", "--wait", "30")
check(code in (0, 1) and "compared" in out, "a reconcile reads the Contract", (code, out, err))
date = lambda: clm.get("contracts", ct).get("customer_signed_date")
check(wait_for(lambda: date() == "2025-03-03", 10), "the person's edit reaches the repository", date())
code, out, err = cli("resume", "counterparties")
check(code == 0, "counterparties resumed", (code, out, err))
release("the engine has planned the released events")
got = lambda: (date(), sf.get("Contract", sid)["CustomerSignedDate"], sf.get("Contract", sid)["Name"])
check(wait_for(lambda: got() == ("2025-03-03", "2025-03-03", "Sent Again, retitled"), 30),
      "both sides keep the person's edit and the retitle", got())
finish()
PY
finish

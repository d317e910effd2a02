#!/usr/bin/env bash
# landed_under_later_write.sh BUILD - an engine bug a chaos soak found (seed 1312353691 run again,
# full-16: an older value came back, written again at every gap read), now fixed: run by
# `make check` as chaos.found.landed_under_later_write, it exits 1 should it come back.
#
# A write of ours whose answer never came (clmsync killed while Salesforce was slow to serve it)
# landed; a Salesforce user's later edit was weighed against it and won (last_writer_wins), which
# made a later write of ours; then our own event of the first write came, and its values became
# the field's base, over the value that later write's plan had agreed on. The next whole-record
# read then saw both sides changed, and an undated read gave a newer Salesforce edit to the
# repository's value. A field a later write of ours carries is now that write's to settle.
#
# Here: the repository renames a counterparty (Later R) while sfemu delays the engine's writes 4 s;
# clmsync is killed meanwhile; a Salesforce user renames the Account (Later U), the later edit;
# the delayed write lands; clmsync comes back with sfemu refusing its writes
# (UNABLE_TO_LOCK_ROW) and takes Later U; our event of Later R comes; then, with the stream held,
# the user renames the Account again (Later U2) and a reconcile reads it. Both sides end on
# Later U2.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=1000
known_py <<'PY'
from conflict_common import Server, cli, clm, events_planned, linked_account, sf
from sync_lib import check, finish, wait_for
server = Server()
name = lambda: clm.get("counterparties", cp)["legal_name"]
try:
    cp, acct = linked_account("Later 0")

    before = sf.counters()
    sf.emu("POST", "faults", {"latency_ms": 4000, "latency_rate": 1000, "client": "clmsync"})
    clm.patch("counterparties", cp, {"legal_name": "Later R"})
    check(wait_for(lambda: sf.counters().get("fault.latency", 0) > before.get("fault.latency", 0), 10),
          "the write of Later R waits in sfemu")
    server.kill()
    sf.update("Account", acct, {"Name": "Later U"})
    landed = wait_for(lambda: sf.counters().get("fault.latency.done", 0) > before.get("fault.latency.done", 0)
                      and sf.get("Account", acct)["Name"] == "Later R", 15)
    check(landed, "the write of Later R lands after the user's edit", sf.get("Account", acct)["Name"])
    sf.emu("POST", "faults", {"latency_ms": 0, "latency_rate": 0, "rate_lock": 1000, "client": "clmsync"})
    server.start()
    last = sf.emu("GET", "events")[1][-1]["replayId"]
    check(wait_for(lambda: events_planned("sf", last), 15) is not None and name() == "Later U",
          "clmsync back takes the later edit, Later U, and plans our event of Later R", name())
    sf.emu("POST", "streaming", {"deliver": 0})
    sf.update("Account", acct, {"Name": "Later U2"})
    code, out, err = cli("reconcile", "--mapping", "counterparties", "--repair", "--wait", "60")
    check(code in (0, 1) and "compared" in out, "a reconcile reads the Account", (code, out, err))
    check(name() == "Later U2", "the reconcile takes the user's newer edit, Later U2", name())
    sf.emu("POST", "faults", {"rate_lock": 0, "client": ""})
    sf.emu("POST", "streaming", {"deliver": 1})
    ok = wait_for(lambda: sf.get("Account", acct)["Name"] == "Later U2" and name() == "Later U2", 20)
    check(ok, "both sides end on Later U2", (sf.get("Account", acct)["Name"], name()))
finally:
    server.stop()
finish()
PY
finish

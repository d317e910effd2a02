#!/usr/bin/env bash
# own_event_after_prune.sh BUILD - an engine bug a chaos soak found (seed 1312353691 run again,
# full-11: an older value came back), now fixed: run by `make check` as
# chaos.found.own_event_after_prune, it exits 1 should it come back.
#
# An answered write of ours whose change event has not come in two minutes is no longer awaited
# (the event may have been lost, or the write changed nothing). The entry was then forgotten; when
# the stream had only fallen behind (restarts, replays), our own events came later, and one of an
# older write served late (late_write_landed.sh) showed a value nothing knew as ours: it was
# weighed as a Salesforce edit, and a field both sides own took the older value on both sides.
# Now such entries are retired, not forgotten: kept as values of ours (the newest few, as long as
# Change Data Capture keeps events), an event showing one is ours.
#
# Here clmsync-chaos awaits an answered write 1 s (CLMSYNC_SENT_KEEP_MS) instead of two minutes.
# sfemu delays the engine's writes 4 s; the repository renames a counterparty (Late 1); clmsync is
# killed while that write waits, and started again with sfemu holding every event back; the
# counterparty is renamed again (Late 2); the delayed write lands; then the events come.
. "$(dirname "$0")/known.sh"

start_sfemu sf
export CLMSYNC_SENT_KEEP_MS=1000
CLMSYNC_BIN=$BUILD/clmsync-chaos start_sync clm "sf=$URL_sf"
known_py $BUILD/clmsync-chaos <<'PY'
import time
from conflict_common import Server, cli, clm, events_planned, sf
from sync_lib import check, finish, wait_for
server = Server()
name = lambda: clm.get("counterparties", cp)["legal_name"]
try:
    cp = clm.create("counterparties", {"legal_name": "Late 0"})["id"]
    acct = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Account", "CLM_Id__c", cp)))
    check(acct is not None and wait_for(lambda: sf.get("Account", acct)["Name"] == "Late 0"),
          "a counterparty linked to its Account")
    before = sf.counters()
    sf.emu("POST", "faults", {"latency_ms": 4000, "latency_rate": 1000, "client": "clmsync"})
    clm.patch("counterparties", cp, {"legal_name": "Late 1"})
    check(wait_for(lambda: sf.counters().get("fault.latency", 0) > before.get("fault.latency", 0), 10),
          "the write of Late 1 waits in sfemu")
    server.kill()
    sf.emu("POST", "faults", {"latency_ms": 0, "latency_rate": 0, "client": ""})
    sf.emu("POST", "streaming", {"deliver": 0})        # the stream falls behind: events held back
    server.start()
    clm.patch("counterparties", cp, {"legal_name": "Late 2"})
    check(wait_for(lambda: sf.get("Account", acct)["Name"] == "Late 2", 10), "the restarted engine writes Late 2")
    t = time.time()
    check(wait_for(lambda: sf.counters().get("fault.latency.done", 0) > before.get("fault.latency.done", 0)
                   and time.time() > t + 1.5, 15),
          "the write of Late 1 is served after it, and the engine's writes are no longer awaited (1 s)")
    last = sf.emu("GET", "events")[1][-1]["replayId"]
    sf.emu("POST", "streaming", {"deliver": 1})
    check(wait_for(lambda: events_planned("sf", last), 15) is not None, "the engine has planned the late events",
          cli("status", "--json")[1][:600])
    ok = wait_for(lambda: sf.get("Account", acct)["Name"] == "Late 2" and name() == "Late 2", 10)
    check(ok, "both sides end on the newer value", (sf.get("Account", acct)["Name"], name()))
finally:
    server.stop()
finish()
PY
finish

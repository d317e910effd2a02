#!/usr/bin/env bash
# lagging_event_under_own_write.sh BUILD - an engine bug a chaos soak found (seed 1312353691 run
# again, full-14: both sides disagreed after the soak), now fixed: run by `make check` as
# chaos.found.lagging_event_under_own_write, it exits 1 should it come back.
#
# A Salesforce user's edit and a write of ours to the same field, the write landing after the
# edit: the edit's event is weighed against the write by time while the write awaits its own
# event. But an answered write is awaited for two minutes only (SYNC_SENT_KEEP_MS); with the
# stream behind by more than that, the edit's event came after the wait, was taken for a change
# of Salesforce alone and went into the repository, while Salesforce kept our write's value: the
# two sides disagreed for good. Now an event committed before a write of ours was answered is
# weighed against it by time also when that write is no longer awaited, as long as its own event
# has not come.
#
# Here clmsync-chaos awaits an answered write 1 s (CLMSYNC_SENT_KEEP_MS). The stream is held
# back; the repository renames a counterparty (Lag R) while sfemu delays the engine's writes 3 s;
# meanwhile a Salesforce user renames the Account (Lag U), the later edit; our write lands after
# it; the events come after the write is no longer awaited. last_writer_wins: both sides end on
# Lag U.
. "$(dirname "$0")/known.sh"

start_sfemu sf
export CLMSYNC_SENT_KEEP_MS=1000
CLMSYNC_BIN=$BUILD/clmsync-chaos start_sync clm "sf=$URL_sf"
known_py $BUILD/clmsync-chaos <<'PY'
import time
from conflict_common import cli, clm, events_planned, linked_account, sf
from sync_lib import check, finish, wait_for
name = lambda: clm.get("counterparties", cp)["legal_name"]
cp, acct = linked_account("Lag 0")

before = sf.counters()
sf.emu("POST", "streaming", {"deliver": 0})
sf.emu("POST", "faults", {"latency_ms": 3000, "latency_rate": 1000, "client": "clmsync"})
clm.patch("counterparties", cp, {"legal_name": "Lag R"})
check(wait_for(lambda: sf.counters().get("fault.latency", 0) > before.get("fault.latency", 0), 10),
      "the write of Lag R waits in sfemu")
sf.update("Account", acct, {"Name": "Lag U"})
landed = wait_for(lambda: sf.counters().get("fault.latency.done", 0) > before.get("fault.latency.done", 0)
                  and sf.get("Account", acct)["Name"] == "Lag R", 15)
check(landed, "our write lands after the user's edit", sf.get("Account", acct)["Name"])
sf.emu("POST", "faults", {"latency_ms": 0, "latency_rate": 0, "client": ""})
t = time.time()
check(wait_for(lambda: time.time() > t + 1.5, 5), "the write is no longer awaited (1 s)")
last = sf.emu("GET", "events")[1][-1]["replayId"]
sf.emu("POST", "streaming", {"deliver": 1})
check(wait_for(lambda: events_planned("sf", last), 15) is not None, "the engine has planned the held events",
      cli("status", "--json")[1][:600])
ok = wait_for(lambda: sf.get("Account", acct)["Name"] == "Lag U" and name() == "Lag U", 15)
check(ok, "both sides end on the later edit, Lag U", (sf.get("Account", acct)["Name"], name()))
finish()
PY
finish

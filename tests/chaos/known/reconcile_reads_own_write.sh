#!/usr/bin/env bash
# reconcile_reads_own_write.sh BUILD - an engine bug a chaos soak found (seed 1312353691, full-9:
# "an older value came back"), now fixed: run by `make check` as chaos.found.reconcile_reads_own_write,
# it exits 1 should it come back.
#
# A whole-record read (a reconcile, a gap's fetch) is current but undated. When it shows a value
# an earlier write of ours left in Salesforce while a newer write of ours is still on its way,
# the engine took that value for a Salesforce edit made while the repository held the agreed
# value: the repository took the older value back, and the write of it went after the newer one.
# In the soak the older write landed late (clmsync was killed while Salesforce was slow to serve
# it), its own event was lost in a GAP_OVERFLOW, and the overflow's reconcile read it.
#
# Here: the repository renames a counterparty (Read X) while sfemu delays the engine's writes 6 s;
# clmsync is killed meanwhile; a Salesforce user renames the Account (Read Y), which wins
# (last_writer_wins) when clmsync is back, while sfemu refuses the engine's writes (UNABLE_TO_LOCK_ROW) so that
# the write of Read Y waits. The delayed write of Read X lands with its event held back, and a
# reconcile with --repair reads Read X.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=1000
known_py <<'PY'
from conflict_common import Server, cli, clm, linked_account, sf
from sync_lib import check, finish, wait_for
server = Server()
name = lambda: clm.get("counterparties", cp)["legal_name"]
try:
    cp, acct = linked_account("Read 0")

    before = sf.counters()
    sf.emu("POST", "faults", {"latency_ms": 6000, "latency_rate": 1000, "client": "clmsync"})
    clm.patch("counterparties", cp, {"legal_name": "Read X"})
    check(wait_for(lambda: sf.counters().get("fault.latency", 0) > before.get("fault.latency", 0), 10),
          "the write of Read X waits in sfemu")
    server.kill()
    sf.emu("POST", "faults", {"latency_ms": 0, "latency_rate": 0, "rate_lock": 1000, "client": "clmsync"})
    sf.update("Account", acct, {"Name": "Read Y"})
    server.start()
    check(wait_for(lambda: name() == "Read Y", 10),
          "the Salesforce user's later edit wins when clmsync is back (its writes refused for now)", name())
    sf.emu("POST", "streaming", {"deliver": 0})
    landed = wait_for(lambda: sf.counters().get("fault.latency.done", 0) > before.get("fault.latency.done", 0)
                      and sf.get("Account", acct)["Name"] == "Read X", 15)
    check(landed, "the older write lands (Read X), its event held back", sf.get("Account", acct)["Name"])
    code, out, err = cli("reconcile", "--mapping", "counterparties", "--repair", "--wait", "60")
    check(code in (0, 1) and "compared" in out, "a reconcile reads the Account", (code, out, err))
    check(name() == "Read Y", "the reconcile does not take the value an older write of ours left for an edit", name())
    sf.emu("POST", "faults", {"rate_lock": 0, "client": ""})
    sf.emu("POST", "streaming", {"deliver": 1})
    ok = wait_for(lambda: sf.get("Account", acct)["Name"] == "Read Y" and name() == "Read Y", 20)
    check(ok, "both sides end on Read Y", (sf.get("Account", acct)["Name"], name()))
finally:
    server.stop()
finish()
PY
finish

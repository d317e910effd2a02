#!/usr/bin/env bash
# late_write_landed.sh BUILD - an engine bug a chaos soak found (seed 1214050516, its second run),
# now fixed: run by `make check` as chaos.found.late_write_landed, it exits 1 should it come back.
#
# A write of ours can land in Salesforce after a newer one: the older was on its way (Salesforce
# slow to serve it) when clmsync was killed, and the restarted engine wrote the newer value.
# The older write's change event is our own, and it shows a value no longer in flight: the engine
# took it as a Salesforce edit (on a field both sides own, the repository then took the older
# value too, losing the newer one), or, while the older write was still awaited, as its echo
# (Salesforce kept the older value). Now an event of ours that shows an older value than the last
# of ours that landed has the latest written again.
#
# Here sfemu delays the engine's writes by 5 s (a fault for the client "clmsync" only), the
# repository renames a counterparty ("Late 1"), clmsync is killed while that write waits in
# sfemu, started again without the delay, and the counterparty renamed again ("Late 2").
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
known_py <<'PY'
from conflict_common import Server, clm, linked_account, sf
from sync_lib import check, finish, wait_for
server = Server()
try:
    cp, acct = linked_account("Late 0")

    # the engine's write of "Late 1" waits 5 s in sfemu; clmsync is killed meanwhile
    before = sf.counters()
    st, _ = sf.emu("POST", "faults", {"latency_ms": 5000, "latency_rate": 1000, "client": "clmsync"})
    check(st == 200, "sfemu delays the engine's writes")
    clm.patch("counterparties", cp, {"legal_name": "Late 1"})
    check(wait_for(lambda: sf.counters().get("fault.latency", 0) > before.get("fault.latency", 0), 10),
          "the write of Late 1 waits in sfemu")
    server.kill()
    sf.emu("POST", "faults", {"latency_ms": 0, "latency_rate": 0, "client": ""})
    server.start()
    clm.patch("counterparties", cp, {"legal_name": "Late 2"})
    check(wait_for(lambda: sf.get("Account", acct)["Name"] == "Late 2", 10), "the restarted engine writes Late 2")
    late = sf.counters().get("fault.latency.done", 0) == before.get("fault.latency.done", 0)
    check(wait_for(lambda: sf.counters().get("fault.latency.done", 0) > before.get("fault.latency.done", 0), 15),
          "the write of Late 1 is served (%s Late 2 was written)" % ("after" if late else "before"))

    # both sides must end on Late 2
    def settled():
        return sf.get("Account", acct)["Name"] == "Late 2" and clm.get("counterparties", cp)["legal_name"] == "Late 2"
    check(wait_for(settled, 10), "after the older write landed, both sides hold the newer value",
          (sf.get("Account", acct)["Name"], clm.get("counterparties", cp)["legal_name"]))
finally:
    server.stop()
finish()
PY
finish

#!/usr/bin/env bash
# event_under_own_write.sh BUILD - an engine bug a chaos soak found (seed 1312353691 run again,
# full-11: an older value came back), now fixed: run by `make check` as
# chaos.found.event_under_own_write, it exits 1 should it come back.
#
# A change event older than the record as last read whole (a gap's fetch, a reconcile) is not
# weighed: the read already showed what it carries. Not so when a write of ours, made without
# knowing of that change (its answer unrecorded and the write made again, in the soak; here
# one sfemu served late), landed over it before the read: the read showed our value, and the
# Salesforce user's later edit was lost on both sides. Such an event is now weighed, for the
# fields the read showed holding a value of ours, by time, as any event is against a write of
# ours.
#
# Here: the stream is held back; the repository renames a counterparty (Under R) while sfemu
# delays the engine's writes 3 s; meanwhile a Salesforce user renames the Account (Under U), the
# later edit, and sets its AnnualRevenue (owned by Salesforce); our write lands after it; a
# reconcile reads the Account and takes the revenue; then the events come. last_writer_wins:
# both sides end on Under U.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
known_py <<'PY'
from conflict_common import cli, clm, events_planned, linked_account, sf
from sync_lib import check, finish, wait_for
name = lambda: clm.get("counterparties", cp)["legal_name"]
cp, acct = linked_account("Under 0")

before = sf.counters()
sf.emu("POST", "streaming", {"deliver": 0})
sf.emu("POST", "faults", {"latency_ms": 3000, "latency_rate": 1000, "client": "clmsync"})
clm.patch("counterparties", cp, {"legal_name": "Under R"})
check(wait_for(lambda: sf.counters().get("fault.latency", 0) > before.get("fault.latency", 0), 10),
      "the write of Under R waits in sfemu")
sf.update("Account", acct, {"Name": "Under U", "AnnualRevenue": 5000})
landed = wait_for(lambda: sf.counters().get("fault.latency.done", 0) > before.get("fault.latency.done", 0)
                  and sf.get("Account", acct)["Name"] == "Under R", 15)
check(landed, "our write lands after the user's edit", sf.get("Account", acct)["Name"])
sf.emu("POST", "faults", {"latency_ms": 0, "latency_rate": 0, "client": ""})
code, out, err = cli("reconcile", "--mapping", "counterparties", "--repair", "--wait", "60")
check(code in (0, 1) and "compared" in out, "a reconcile reads the Account", (code, out, err))
check(wait_for(lambda: str(clm.get("counterparties", cp).get("custom", {}).get("revenue")) in ("5000", "5000.00"), 10),
      "the reconcile takes the user's edit of AnnualRevenue (owned by Salesforce)",
      clm.get("counterparties", cp).get("custom"))
last = sf.emu("GET", "events")[1][-1]["replayId"]
sf.emu("POST", "streaming", {"deliver": 1})
check(wait_for(lambda: events_planned("sf", last), 15) is not None, "the engine has planned the held events",
      cli("status", "--json")[1][:600])
ok = wait_for(lambda: sf.get("Account", acct)["Name"] == "Under U" and name() == "Under U", 15)
check(ok, "both sides end on the later edit, Under U", (sf.get("Account", acct)["Name"], name()))
finish()
PY
finish

#!/usr/bin/env bash
# event_shown_by_read.sh BUILD - an engine bug a chaos soak found (seed 1312353691 run again,
# full-15: an older value came back), now fixed: run by `make check` as
# chaos.found.event_shown_by_read, it exits 1 should it come back.
#
# A change event older than the record as last read whole is not weighed: the read showed it.
# The test was "older than the read's SystemModstamp"; the event of the very change the read
# showed has that same time, and was weighed when it came after the read: with the field changed
# in the repository since, it passed for a new Salesforce edit, and salesforce_wins put the
# older value back on both sides. An event committed at or before the read's time is now the
# read's.
#
# Here: the stream is held back; a Salesforce user sets the Account's Industry (Finance); a
# reconcile reads it into the repository; the repository then sets Healthcare, which the engine
# writes; then the events come. Industry is owned by both sides, salesforce_wins: both sides end
# on Healthcare, the repository's later change.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
known_py <<'PY'
from conflict_common import cli, clm, events_planned, linked_account, sf
from sync_lib import check, finish, wait_for
industry = lambda: (clm.get("counterparties", cp).get("custom") or {}).get("industry")
cp, acct = linked_account("Shown 0")

sf.emu("POST", "streaming", {"deliver": 0})
sf.update("Account", acct, {"Industry": "Finance"})
code, out, err = cli("reconcile", "--mapping", "counterparties", "--repair", "--wait", "60")
check(code in (0, 1) and "compared" in out, "a reconcile reads the Account", (code, out, err))
check(wait_for(lambda: industry() == "Finance", 10), "the reconcile takes the user's Finance", industry())
clm.patch("counterparties", cp, {"custom": {"industry": "Healthcare"}})
check(wait_for(lambda: sf.get("Account", acct)["Industry"] == "Healthcare", 10),
      "the engine writes the repository's later Healthcare", sf.get("Account", acct)["Industry"])
last = sf.emu("GET", "events")[1][-1]["replayId"]
sf.emu("POST", "streaming", {"deliver": 1})
check(wait_for(lambda: events_planned("sf", last), 15) is not None, "the engine has planned the held events",
      cli("status", "--json")[1][:600])
ok = wait_for(lambda: sf.get("Account", acct)["Industry"] == "Healthcare" and industry() == "Healthcare", 10)
check(ok and sf.get("Account", acct)["Industry"] == "Healthcare" and industry() == "Healthcare",
      "both sides end on the repository's later Healthcare", (sf.get("Account", acct)["Industry"], industry()))
finish()
PY
finish

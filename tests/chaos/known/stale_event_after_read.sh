#!/usr/bin/env bash
# stale_event_after_read.sh BUILD - an engine bug the chaos soak found (seed 1247665147, the
# 2026-11-27 full-6 run), now fixed: run by `make check` as chaos.found.stale_event_after_read, it
# exits 1 should the bug come back.
#
# A whole-record read (a reconcile, a gap's fetch) can get ahead of a lagging stream: it shows
# Salesforce's latest value, and the events of older changes still come after it. Weighed as
# edits, they put an older value back into the repository (and, with a write of ours on its way,
# parked a manual conflict between the latest value and an older one). The link now keeps the
# time of the state a read showed (SystemModstamp), and an event committed before it is ignored.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
known_py <<'PY'
import datetime
import json
import os
import time
from conflict_common import cli, conflicts, events_planned
from sync_lib import CLM, SF, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])
cp = clm.create("counterparties", {"legal_name": "Read Ahead Co"})["id"]
ct = clm.create("contracts", {"title": "Read ahead", "counterparty_id": cp, "description": "from the repository"})["id"]
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)))
check(sid is not None and wait_for(lambda: sf.get("Contract", sid)["Description"] == "from the repository"),
      "a linked contract")
sf.emu("POST", "streaming", {"deliver": 0})            # the stream lags: events held back
sf.update("Contract", sid, {"Description": "first"})
t1 = sf.get("Contract", sid)["SystemModstamp"]
# the second edit is committed in a later millisecond than the first (sfemu stamps both)
t1_ms = datetime.datetime.strptime(t1[:23] + "+0000", "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000
check(wait_for(lambda: time.time() * 1000 > t1_ms + 1, 5) is not None, "the clock moved past the first edit")
sf.update("Contract", sid, {"Description": "second"})
code, out, err = cli("reconcile", "--repair", "--wait", "30")
check(code in (0, 1) and wait_for(lambda: clm.get("contracts", ct)["description"] == "second", 10),
      "a reconcile, ahead of the stream, brings the latest value", (code, out, err))
seen_second = len(clm.api("GET", "/contracts/%s/history" % ct)[1]["data"])
last = sf.emu("GET", "events")[1][-1]["replayId"]
sf.emu("POST", "streaming", {"deliver": 1})            # the events of both edits, late
check(wait_for(lambda: events_planned("sf", last), 15) is not None, "the engine has planned the late events (replay %d)" % last)
hist = clm.api("GET", "/contracts/%s/history" % ct)[1]["data"]
later = [h["record"].get("description") for h in hist[seen_second:]]
check("first" not in later, "the older edit's late event does not put its value back", later)
check(not [c for c in conflicts() if c["clm"] == ct], "no conflict parked")
got = (clm.get("contracts", ct)["description"], sf.get("Contract", sid)["Description"])
check(got == ("second", "second"), "both sides hold the latest value", got)
finish()
PY
finish

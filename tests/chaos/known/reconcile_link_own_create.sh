#!/usr/bin/env bash
# reconcile_link_own_create.sh BUILD - an engine bug the chaos soak found (full-19, seed
# 722727183), now fixed: run by `make check` as chaos.found.reconcile_link_own_create, it exits 1
# should the bug come back.
#
# A contract made in the repository is upserted into Salesforce and the answer is lost (every
# write's answer is, for a while). Before a retry is answered, a reconcile finds the new Contract
# with no link by its Salesforce id and links it by its external id. It made a new link and so
# forgot the link's writes in flight, the create among them. The retry then went out as a
# write nothing awaited, and once the stream delivered the create's own CREATE event, late, it
# was weighed as a Salesforce edit against the repository's later edit of the Description: a
# manual conflict was parked over an old value of ours. Linking the record now keeps the writes
# the pending link holds, and the CREATE event is our own echo.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=100
known_py <<'PY'
from conflict_common import cli, clm, conflicts, created_answer_lost, outbox, release, sf
from sync_lib import check, finish, wait_for
ct, sid = created_answer_lost("Own Create Co", "Made, answer lost", description="made in the repository")
code, out, err = cli("reconcile", "--repair", "--wait", "30")
check(code in (0, 1) and "differed" in out, "a reconcile links the Contract by its external id", (code, out, err))
sf.emu("POST", "faults", {"rate_lost": 0, "client": ""})

check(wait_for(lambda: outbox() == 0, 20) is not None, "the create's retry is answered", cli("status", "--json")[1][:600])
st, _ = clm.patch("contracts", ct, {"description": "edited in the repository"})
check(st == 200 and wait_for(lambda: sf.get("Contract", sid)["Description"] == "edited in the repository", 10),
      "the repository edits the Description, written to Salesforce")
release("the engine has planned the released events: the CREATE event first, then our own UPDATE's")
parked = [c for c in conflicts() if c["clm"] == ct]
check(not parked, "no conflict parked: the CREATE event is the echo of our own create", parked)
got = (clm.get("contracts", ct)["description"], sf.get("Contract", sid)["Description"])
check(got == ("edited in the repository", "edited in the repository"), "both sides keep the repository's edit", got)
finish()
PY
finish

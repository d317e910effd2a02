#!/usr/bin/env bash
# plan_read_then_write.sh BUILD - an engine bug, now fixed: run by `make check` as
# chaos.found.plan_read_then_write, it exits 1 should the bug come back.
#
# The first plan of a group reads the link and the repository record before its unit begins
# (the write lock is taken at the unit). A repository write committed in between (the API's
# writer does not wait for a read) was then written over: the plan of a Salesforce edit, made
# from the record as it was, wrote Salesforce's value with no check of the record's version, and
# the repository's newer edit was lost on both sides (its feed row found the repository equal to
# the base the plan had set). Now the plan writes the record only at the version it read; a
# record changed since makes the plan be made again, from what is stored.
#
# The window is opened with clmsync-chaos's delay fault (store.h, STORE_FAULT_DELAY): the nth
# store statement after a Salesforce edit holds its thread 600 ms after it ran, for each n from
# 1 to 30 in turn, and the repository edit of the same field is made as soon as the server says
# a statement is held. Description is a field both sides own, clm_wins: whatever n, the
# repository's edit (the later one) must end on both sides.
. "$(dirname "$0")/known.sh"

start_sfemu sf
mkfifo "$WORK/faults.fifo"
CLMSYNC_BIN=$BUILD/clmsync-chaos CLMSYNC_STORE_FAULT_FIFO="$WORK/faults.fifo" start_sync clm "sf=$URL_sf" \
	max_attempts=1000 description_conflict=clm_wins
FIFO="$WORK/faults.fifo" known_py <<'PY'
import os
from conflict_common import arm, clm, sf
from sync_lib import check, finish, wait_for

LOG = os.path.join(os.environ["WORK"], "clm.log")


def held():
    """How many times the server has said a statement is held (the delay fault fired)."""
    with open(LOG, errors="replace") as f:
        return f.read().count("clmsync-chaos: store statement delayed")


cp = clm.create("counterparties", {"legal_name": "Window Co"})["id"]
ct = clm.create("contracts", {"title": "Window", "counterparty_id": cp, "description": "base"})["id"]
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)))
check(sid is not None and wait_for(lambda: sf.get("Contract", sid)["Description"] == "base"), "a linked contract")

lost, fired = [], 0
for n in range(1, 31):
    before = held()
    arm("delay %d" % n)
    sf.update("Contract", sid, {"Description": "sf %d" % n})
    # the repository's edit as soon as a statement is held; none within 3 s: n is past the
    # statements this edit makes (the wait reads only the log: a read of the repository would
    # count statements of its own)
    fired += wait_for(lambda: held() > before, 3) is True
    want = "repo %d" % n
    clm.patch("contracts", ct, {"description": want})
    arm(0)
    ok = wait_for(lambda: (clm.get("contracts", ct) or {}).get("description") == want and
                  sf.get("Contract", sid)["Description"] == want, 10)
    if not ok:
        lost.append((n, (clm.get("contracts", ct) or {}).get("description"), sf.get("Contract", sid)["Description"]))
        break
with open(LOG, errors="replace") as f:
    replanned = f.read().count("changed while it was planned: planned again")
check(fired > 0 and replanned > 0, "the delay fault fired, and a plan met the repository's edit", (fired, replanned))
check(not lost, "a repository edit made while a plan of a Salesforce edit of the same field held its read "
      "ends on both sides (clm_wins), a statement held n = 1 ... 30 statements after the Salesforce edit", lost)
finish()
PY
finish

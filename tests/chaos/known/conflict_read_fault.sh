#!/usr/bin/env bash
# conflict_read_fault.sh BUILD - an engine bug the chaos soak found, now fixed: run by `make check`
# as chaos.found.conflict_read_fault, it exits 1 should the bug come back.
#
# A plan asked the store whether a manual conflict held a field, and took a failed read (the
# store failed the statement) for "no conflict". A reconcile's read of a Salesforce edit made
# while the conflict was open then went into the repository as a change of Salesforce alone,
# past a conflict a person had yet to settle (seen in the soak: a GAP_OVERFLOW's reconcile wrote
# a Description the open conflict should have held). Now a read the plan depends on that fails
# makes the plan fail, and it is made again.
. "$(dirname "$0")/known.sh"

start_sfemu sf
mkfifo "$WORK/faults.fifo"
CLMSYNC_BIN=$BUILD/clmsync-chaos CLMSYNC_STORE_FAULT_FIFO="$WORK/faults.fifo" start_sync clm "sf=$URL_sf" max_attempts=1000
FIFO="$WORK/faults.fifo" known_py <<'PY'
import json
from conflict_common import arm, cli, clm, conflicts, sf
from sync_lib import check, finish, wait_for

cp = clm.create("counterparties", {"legal_name": "Held Co"})["id"]
ct = clm.create("contracts", {"title": "Held", "counterparty_id": cp, "description": "base"})["id"]
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)))
check(sid is not None and wait_for(lambda: sf.get("Contract", sid)["Description"] == "base"), "a linked contract")
# a person's edit, its event held back; the repository's edit then lands over it, answered, so
# the repository's value is the base when the person's event comes: a manual conflict
sf.emu("POST", "streaming", {"deliver": 0})
sf.update("Contract", sid, {"Description": "sf 1"})
clm.patch("contracts", ct, {"description": "repo 1"})
check(wait_for(lambda: sf.get("Contract", sid)["Description"] == "repo 1", 10), "the repository's write landed")
sf.emu("POST", "streaming", {"deliver": 1})
got = wait_for(lambda: [c for c in conflicts() if c["clm"] == ct], 15)
check(got and got[0]["clm_value"] == "repo 1", "the person's edit, made before ours landed: a manual conflict", got)


def seen(v):
    """Whether an audit row shows the engine weighed v (an armed fault may fail the search)."""
    try:
        rows = json.loads(cli("audit", "search", ct, "--json")[1])["rows"]
    except (ValueError, KeyError):
        return False
    return any(r["new"] == v and r["decision"] in ("held", "applied") for r in rows)


def description():
    """The repository's Description (read again should an armed fault fail the read)."""
    return wait_for(lambda: (clm.get("contracts", ct) or {}).get("description"), 5)


# Salesforce edits the field again, published only as a GAP_OVERFLOW (its reconcile reads the
# record), with a store fault armed n statements ahead: each n from 1 to 60 once, so that one
# falls on the read of the conflict
taken = []
for n in range(1, 61):
    arm(n)
    v = "overflow %d" % n
    sf.emu("POST", "gap", {"entity": "Contract", "changeType": "GAP_OVERFLOW", "apply": [{"Id": sid, "Description": v}]})
    wait_for(lambda: seen(v), 8)
    if description() != "repo 1":
        taken.append(n)
        break
arm(0)
check(not taken, "while the conflict is open the repository keeps its value, a store fault armed n statements "
      "ahead (n = 1 ... 60)", (taken, description()))
check(wait_for(lambda: seen("overflow 60"), 10), "the last edit is held by the open conflict")
finish()
PY
finish

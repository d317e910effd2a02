#!/usr/bin/env bash
# conflict_after_delete.sh BUILD - an engine bug the chaos soak found, now fixed: run by `make check` as
# chaos.found.conflict_after_delete, it exits 1 should the bug come back.
#
# A manual conflict on a record then deleted in Salesforce stays open for good: the delete
# terminates the contract and lets go of the link, the conflict stays in `clmsync conflicts
# list` (and in the status's count, which keeps `clmsync status` at exit 1), and `clmsync
# conflicts resolve` is taken but never applied (exit 5 after --wait): there is no link left to
# apply it to.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
known_py <<'PY'
from conflict_common import cli, clm, conflicts, make_conflict, sf
from sync_lib import check, finish, wait_for
ct, sid, c = make_conflict()
sf.delete("Contract", sid)
check(wait_for(lambda: clm.get("contracts", ct)["status"] == "terminated", 10),
      "deleted in Salesforce: the contract is terminated (on_delete.clm: terminate)")
code, out, err = cli("conflicts", "resolve", c["id"], "--take", "clm", "--wait", "10")
left = [x["id"] for x in conflicts() if x["clm"] == ct]
check(code in (0, 4) and not left, "the conflict of the deleted record does not stay open (resolve exit %d)" % code,
      (left, out + err))
finish()
PY
finish

#!/usr/bin/env bash
# equal_value_conflict.sh BUILD - an engine bug the chaos soak found, now fixed: run by `make check` as
# chaos.found.equal_value_conflict, it exits 1 should the bug come back.
#
# A field mapped `owner: both, conflict: manual` (Contract.Description) is parked as a conflict
# although both sides hold the same value, when Salesforce's record is compared while a write of
# that value is still in flight: plan_sf_side (src/sync/plan.c) goes to conflict() whenever a
# write is pending (`!sync_value_equal(C, B) || pend != NULL`), without first asking whether the
# repository's value and Salesforce's are equal. Here the write's answers are lost (it committed;
# the engine repeats it) and `clmsync reconcile --repair` compares the record meanwhile; in the
# soak the full reconcile that follows an expired replay window met a create in flight the same
# way (a reconcile without --repair only counts, and does not park anything). The
# conflict then holds the field: the repository's later edits of it never reach Salesforce until
# a person resolves a conflict that is none.
. "$(dirname "$0")/../../scenario/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=1000
PYTHONPATH="$(dirname "$0")/../../scenario" CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm SF_URL=$URL_sf \
	CLMSYNC=$BUILD/clmsync ADMIN_URL=$ADMIN_clm CLM_DATA=$DATA_clm python3 - <<'PY' || FAILS=$((FAILS + 1))
import json, os, subprocess
from sync_lib import CLM, SF, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])


def cli(*args):
    r = subprocess.run([os.environ["CLMSYNC"], *args, "--admin-url", os.environ["ADMIN_URL"], "--data",
                        os.environ["CLM_DATA"], "--json"], capture_output=True, text=True)
    return json.loads(r.stdout) if r.stdout.strip() else None


cp = clm.create("counterparties", {"legal_name": "Equal Co"})["id"]
ct = clm.create("contracts", {"title": "Equal", "counterparty_id": cp, "description": "v1"})["id"]
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)))
check(sid is not None, "the contract is linked")
sf.emu("POST", "faults", {"rate_lost": 1000})        # every write commits; its answer is lost
st, _ = clm.patch("contracts", ct, {"description": "v2"})
got = wait_for(lambda: sf.get("Contract", sid)["Description"] == "v2", 10)
check(got, "the write of v2 committed in Salesforce (its answers lost, the engine repeats it)")
cli("reconcile", "--repair", "--wait", "60")
conf = (cli("conflicts", "list") or {}).get("conflicts", [])
check(conf == [], "no conflict while both sides hold v2", [(c["id"], c.get("clm_value"), c.get("sf_value")) for c in conf])
sf.emu("POST", "faults", {"rate_lost": 0})
clm.patch("contracts", ct, {"description": "v3"})
check(wait_for(lambda: sf.get("Contract", sid)["Description"] == "v3", 10),
      "a later repository edit reaches Salesforce", sf.get("Contract", sid)["Description"])
finish()
PY
finish

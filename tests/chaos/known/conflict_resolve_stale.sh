#!/usr/bin/env bash
# conflict_resolve_stale.sh BUILD - an engine bug the chaos soak found, now fixed: run by `make check` as
# chaos.found.conflict_resolve_stale, it exits 1 should the bug come back.
#
# `clmsync conflicts resolve --take salesforce` writes the value Salesforce had when the conflict
# was parked, not the value it has now: a Salesforce edit of the field while the conflict is open
# is held (audit: held), and the resolution then writes the older value to both sides, so
# Salesforce's later edit is lost. (In the soak the write back to Salesforce did not even happen:
# "take salesforce" gave the repository 'both sf 158' while Salesforce kept 'both sf 219', and
# the two sides stayed different with no conflict left to say so.) `--value V` has the same flaw:
# when V equals the values parked with the conflict it is not written to Salesforce, whatever
# Salesforce holds now, and the sides stay different (seen in the soak with a conflict parked
# with the same value on both sides; the script makes one as equal_value_conflict.sh does).
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=1000
known_py <<'PY'
import json
from conflict_common import cli, clm, conflicts, make_conflict, sf
from sync_lib import check, finish, wait_for
ct, sid, c = make_conflict()
sf.update("Contract", sid, {"Description": "sf 2"})      # Salesforce moves on while the conflict is open
held = lambda: [r for r in json.loads(cli("audit", "search", ct, "--decision", "held", "--json")[1])["rows"]
                if r["new"] == "sf 2"]
check(wait_for(held, 10), "the later Salesforce edit is held by the open conflict")
code, out, err = cli("conflicts", "resolve", c["id"], "--take", "salesforce", "--wait", "30")
check(code == 0, "clmsync conflicts resolve --take salesforce", out + err)
got = wait_for(lambda: clm.get("contracts", ct)["description"] == "sf 2" == sf.get("Contract", sid)["Description"], 10)
check(got, "resolved: Salesforce's value as it is now ('sf 2') on both sides",
      (clm.get("contracts", ct)["description"], sf.get("Contract", sid)["Description"]))
# a resolution with a value equal to the one parked for Salesforce is still written to Salesforce
# once Salesforce has moved on while the conflict was open
ct, sid, c = make_conflict()
sf.update("Contract", sid, {"Description": "sf 3"})
held = lambda: [r for r in json.loads(cli("audit", "search", ct, "--decision", "held", "--json")[1])["rows"]
                if r["new"] == "sf 3"]
check(wait_for(held, 10), "Salesforce moves on to 'sf 3'; the conflict holds it")
code, out, err = cli("conflicts", "resolve", c["id"], "--value", '"sf 1"', "--wait", "30")
check(code == 0, "clmsync conflicts resolve --value '\"sf 1\"' (the value parked for Salesforce)", out + err)
got = wait_for(lambda: clm.get("contracts", ct)["description"] == "sf 1" == sf.get("Contract", sid)["Description"], 10)
check(got, "resolved: the value given ('sf 1') on both sides", (clm.get("contracts", ct)["description"],
                                                              sf.get("Contract", sid)["Description"]))
finish()
PY
finish

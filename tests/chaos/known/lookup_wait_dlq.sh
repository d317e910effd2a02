#!/usr/bin/env bash
# lookup_wait_dlq.sh BUILD - an engine bug the chaos soak found, now fixed: run by `make check` as
# chaos.found.lookup_wait_dlq, it exits 1 should the bug come back.
#
# A contract whose counterparty is not linked in the org yet waits for it at most
# SYNC_LOOKUP_WAIT_MAX rounds (src/sync/apply.c, about 25 s in all), then goes to the
# dead-letter queue as LOOKUP_NOT_LINKED. A transient hold-up of the counterparty's own create
# outlasts that: the daily API limit reached for a moment makes the engine back off 30 s
# (apply.c: "back-pressure, not a failure"), so a contract created meanwhile is dead-lettered,
# though nothing is wrong with it; it reaches Salesforce only when an operator replays it.
# (In the soak: 12 contracts of one org dead-lettered after a limit window of a few seconds.)
. "$(dirname "$0")/../../scenario/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=1000
PYTHONPATH="$(dirname "$0")/../../scenario" CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm SF_URL=$URL_sf \
	CLMSYNC=$BUILD/clmsync ADMIN_URL=$ADMIN_clm CLM_DATA=$DATA_clm python3 - <<'PY' || FAILS=$((FAILS + 1))
import json, os, subprocess, time
from sync_lib import CLM, SF, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])
sf.emu("POST", "limits", {"used": 10 ** 9})          # the daily limit is reached ...
cp = clm.create("counterparties", {"legal_name": "Patient Co"})["id"]
ct = clm.create("contracts", {"title": "Patient", "counterparty_id": cp})["id"]
time.sleep(2)                                        # ... for two seconds (a window, not a wait)
sf.emu("POST", "limits", {"used": 0})
got = wait_for(lambda: sf.by_ext("Contract", "CLM_Id__c", ct), 90)
r = subprocess.run([os.environ["CLMSYNC"], "dlq", "list", "--json", "--admin-url", os.environ["ADMIN_URL"],
                    "--data", os.environ["CLM_DATA"]], capture_output=True, text=True)
dlq = (json.loads(r.stdout) if r.stdout.strip() else {}).get("entries", [])
check(got, "the contract reaches Salesforce once the limit is reset (within 90 s)",
      [(d.get("clm"), (d.get("error") or {}).get("code"), (d.get("error") or {}).get("message")) for d in dlq])
finish()
PY
finish

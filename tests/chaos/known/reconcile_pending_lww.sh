#!/usr/bin/env bash
# reconcile_pending_lww.sh BUILD - an engine bug the chaos soak found (seed 307330321), now fixed:
# run by `make check` as chaos.found.reconcile_pending_lww, it exits 1 should the bug come back.
#
# A reconcile's read of a record is current but undated. While a write of ours to a `both`
# field was on its way (here the repository changed the field and changed it back, each write
# refused with UNABLE_TO_LOCK_ROW and retried), a Salesforce edit of that field found by a
# reconcile (a GAP_OVERFLOW: its event lost) was weighed as a conflict; last_writer_wins had no
# time for Salesforce's value and gave the repository's, whose write then landed over
# Salesforce's edit, which was lost on both sides. The repository had not changed since the
# value both sides agreed on: Salesforce's edit is kept, and written again behind ours.
. "$(dirname "$0")/../../scenario/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=1000
PYTHONPATH="$(dirname "$0")/../../scenario" CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm SF_URL=$URL_sf \
	python3 - <<'PY' || FAILS=$((FAILS + 1))
import os
import time
from sync_lib import CLM, SF, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])
cp = clm.create("counterparties", {"legal_name": "Overflow Co"})["id"]
ct = clm.create("contracts", {"title": "Overflow", "counterparty_id": cp, "customer_signed_date": "2025-01-01"})["id"]
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)))
check(sid is not None and wait_for(lambda: sf.get("Contract", sid)["CustomerSignedDate"] == "2025-01-01"),
      "the contract is linked, CustomerSignedDate (owner both, last_writer_wins) 2025-01-01 on both sides")
sf.emu("POST", "faults", {"rate_lock": 1000})          # every write is refused (transient) and retried
st1, _ = clm.patch("contracts", ct, {"customer_signed_date": "2025-06-30"})
st2, _ = clm.patch("contracts", ct, {"customer_signed_date": "2025-01-01"})
check(st1 == 200 and st2 == 200, "the repository changes it and changes it back (its writes are retried)")
# Salesforce's user edits it; the event is lost in an overflow, which the engine reconciles
sf.emu("POST", "gap", {"entity": "Contract", "changeType": "GAP_OVERFLOW",
                       "apply": [{"Id": sid, "CustomerSignedDate": "2025-09-15"}]})
check(wait_for(lambda: clm.get("contracts", ct)["customer_signed_date"] == "2025-09-15", 15),
      "the reconcile brings Salesforce's edit into the repository",
      clm.get("contracts", ct)["customer_signed_date"])
sf.emu("POST", "faults", {"rate_lock": 0})
# settled: no change event for 1.5 s (our writes landed, nothing more moves)
last = {"n": -1, "t": time.monotonic()}
def calm():
    n = len(sf.emu("GET", "events")[1])
    if n != last["n"]:
        last["n"], last["t"] = n, time.monotonic()
    return time.monotonic() - last["t"] >= 1.5
check(wait_for(calm, 20) is not None, "the engine settles once the faults stop")
got = (clm.get("contracts", ct)["customer_signed_date"], sf.get("Contract", sid)["CustomerSignedDate"])
check(got == ("2025-09-15", "2025-09-15"), "Salesforce's edit is not lost once our writes land: 2025-09-15 on both sides",
      got)
finish()
PY
finish

#!/usr/bin/env bash
# lww_engine_time.sh BUILD - an engine bug the full chaos soak found (4 changes lost in 51,519),
# fixed.
#
# last_writer_wins compared a Salesforce edit's commit time with the repository record's
# updated_at. When the value the repository held was one the engine had itself brought from
# Salesforce (an earlier edit of the same field, planned behind the stream), updated_at was the
# time the engine wrote it, later than Salesforce made it, and later than a second Salesforce
# edit made meanwhile: that second, newest edit lost, and the first one was written back over it.
# Now a value brought from Salesforce dates from Salesforce's commit of it (plan.c clm_time).
. "$(dirname "$0")/../../scenario/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=1000
PYTHONPATH="$(dirname "$0")/../../scenario" CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm SF_URL=$URL_sf python3 - <<'PY' || FAILS=$((FAILS + 1))
import os
from sync_lib import CLM, SF, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])
cp = clm.create("counterparties", {"legal_name": "LWW Co"})["id"]
ct = clm.create("contracts", {"title": "LWW", "counterparty_id": cp, "customer_signed_date": "2025-01-01"})["id"]
sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)))
check(sid is not None and wait_for(lambda: sf.get("Contract", sid)["CustomerSignedDate"] == "2025-01-01"),
      "the contract is linked; CustomerSignedDate (owner both, last_writer_wins) 2025-01-01 on both sides")
# the engine's writes are refused (row locks) and retried; the test's own calls pass
sf.emu("POST", "faults", {"rate_lock": 1000, "client": "clmsync"})
st, _ = clm.patch("contracts", ct, {"customer_signed_date": "2025-03-01"})
check(st == 200, "the repository changes it to 2025-03-01 (its write to Salesforce waits)")
# Salesforce's change events lag behind; two edits of the field are made there meanwhile
sf.emu("POST", "streaming", {"deliver": 0})
sf.update("Contract", sid, {"CustomerSignedDate": "2025-04-01"})
sf.update("Contract", sid, {"CustomerSignedDate": "2025-05-01"})
sf.emu("POST", "streaming", {"deliver": 1})
sf.emu("POST", "faults", {"rate_lock": 0, "client": ""})
got = wait_for(lambda: sf.get("Contract", sid)["CustomerSignedDate"] == "2025-05-01"
               and clm.get("contracts", ct)["customer_signed_date"] == "2025-05-01", 15)
check(got, "the last write, Salesforce's 2025-05-01, is the value on both sides",
      (clm.get("contracts", ct)["customer_signed_date"], sf.get("Contract", sid)["CustomerSignedDate"]))
finish()
PY
finish

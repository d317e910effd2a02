#!/usr/bin/env bash
# lww_field_time.sh BUILD - an engine bug a chaos soak found (seed 1312353691, full-9: an older
# value came back), now fixed: run by `make check` as chaos.found.lww_field_time, it exits 1 should
# it come back.
#
# last_writer_wins dated the repository's value of a field by the record's updated_at. A change of
# another field of the record made it newer than a Salesforce edit of this one that came after the
# repository last wrote it: the Salesforce edit lost, and the older value was written back over
# it. Now the repository's value dates from the version that gave the record that value (its
# history; plan.c clm_field_time).
#
# Here sfemu refuses the engine's writes for now (UNABLE_TO_LOCK_ROW, retried): the repository
# renames a counterparty; then a Salesforce user renames its Account, whose change event sfemu
# holds back while the repository changes the registration number; then the event comes: the
# two renames meet, and the Salesforce one is the later.
. "$(dirname "$0")/../../scenario/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" max_attempts=1000
PYTHONPATH="$(dirname "$0")/../../scenario" CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm SF_URL=$URL_sf \
	python3 - <<'PY' || FAILS=$((FAILS + 1))
import os
import time
from datetime import datetime
from sync_lib import CLM, SF, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])


def ms(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00").replace("+0000", "+00:00")).timestamp() * 1000)


def after(t):
    """Waits (with a deadline) until the clock has passed t (ms), so the next change is later."""
    return wait_for(lambda: time.time() * 1000 > t + 1, 5)


cp = clm.create("counterparties", {"legal_name": "Field Time 0", "registration_number": "HRB 1"})["id"]
acct = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Account", "CLM_Id__c", cp)))
check(acct is not None and wait_for(lambda: sf.get("Account", acct)["Name"] == "Field Time 0"),
      "a counterparty linked to its Account")
sf.emu("POST", "faults", {"rate_lock": 1000, "client": "clmsync"})
st, b = clm.patch("counterparties", cp, {"legal_name": "Field Time repo"})
after(ms(b["updated_at"]))
sf.emu("POST", "streaming", {"deliver": 0})
sf.update("Account", acct, {"Name": "Field Time sf"})
after(ms(sf.get("Account", acct)["SystemModstamp"]))
st, b = clm.patch("counterparties", cp, {"registration_number": "HRB 2"})
check(st == 200, "the repository changes another field after the Salesforce rename", (st, b))
sf.emu("POST", "streaming", {"deliver": 1})
check(wait_for(lambda: clm.get("counterparties", cp)["legal_name"] == "Field Time sf", 10),
      "the Salesforce rename, the later, reaches the repository", clm.get("counterparties", cp)["legal_name"])
sf.emu("POST", "faults", {"rate_lock": 0, "client": ""})
ok = wait_for(lambda: sf.get("Account", acct)["Name"] == "Field Time sf" and
              clm.get("counterparties", cp)["legal_name"] == "Field Time sf", 15)
check(ok, "the later rename (Salesforce's) is kept on both sides",
      (sf.get("Account", acct)["Name"], clm.get("counterparties", cp)["legal_name"]))
check(wait_for(lambda: sf.get("Account", acct)["CLM_Registration_Number__c"] == "HRB 2", 10),
      "the registration number reaches Salesforce")
finish()
PY
finish

#!/usr/bin/env bash
# stale_event_after_delete.sh BUILD - an engine bug the chaos soak found (about once in 50,000
# changes), fixed.
#
# A reconcile brings in a Contract made in Salesforce whose CREATE event has not arrived yet (the
# stream lags behind, here held back by sfemu), and a later reconcile finds it deleted: the
# repository contract is terminated and let go of. Then the stale CREATE event arrives. Its
# record is not linked, so its values (the record as made, which the event carries) used to make
# a second repository contract, whose write-back was dead-lettered ENTITY_IS_DELETED and which
# the DELETE event then terminated. Now a link let go because Salesforce deleted the record
# leaves a mark under the record's id, and a CREATE event of a marked record reads the record
# afresh instead of trusting the event: gone, nothing is made.
. "$(dirname "$0")/../../scenario/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
PYTHONPATH="$(dirname "$0")/../../scenario" CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm SF_URL=$URL_sf \
	ADMIN_URL=$ADMIN_clm python3 - <<'PY' || FAILS=$((FAILS + 1))
import os
from sync_lib import CLM, SF, Http, check, finish, wait_for
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])
adm = Http(os.environ["ADMIN_URL"])
H = {"Authorization": "Bearer " + os.environ["CLM_TOKEN"]}

def reconcile():
    st, b = adm.call("POST", "/admin/v1/reconcile", {"mapping": "contracts", "repair": True}, headers=H)
    assert st == 202, (st, b)
    rid = b["requests"][0]["id"]
    res = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and r[1].get("done") else None)(
        adm.call("GET", "/admin/v1/reconcile/" + rid, headers=H)), 30, "reconcile done")
    check(res is not None and res["ok"] is True, "a repairing reconcile ran", res)

def titled(t):
    return [c for c in clm.list("contracts") if c.get("title") == t]

acc = sf.create("Account", {"Name": "Stale Event Co"})
wait_for(lambda: any(c.get("legal_name") == "Stale Event Co" for c in clm.list("counterparties")), 15)
sf.emu("POST", "streaming", {"deliver": 0})         # the stream lags: events kept back
sid = sf.create("Contract", {"Name": "Stale Event", "AccountId": acc, "StartDate": "2026-01-01"})
reconcile()                                         # brings the Contract in, unlinked until now
made = titled("Stale Event")
check(len(made) == 1, "the reconcile made the repository contract", made)
sf.delete("Contract", sid)
reconcile()                                         # finds it deleted: terminated, let go of
check(wait_for(lambda: [c["status"] for c in titled("Stale Event")] == ["terminated"], 10),
      "the contract is terminated (on_delete.clm: terminate)", titled("Stale Event"))
sf.emu("POST", "streaming", {"deliver": 1})         # the stale CREATE and DELETE arrive
# a Contract made after them is planned after them: once it is in, they have been planned
sf.create("Contract", {"Name": "Stale Event marker", "AccountId": acc, "StartDate": "2026-01-01"})
check(wait_for(lambda: len(titled("Stale Event marker")) == 1, 15), "the stream delivers again")
got = titled("Stale Event")
check(len(got) == 1, "the stale CREATE event makes no second repository contract",
      [(c["id"], c["status"]) for c in got])
st, b = adm.call("GET", "/admin/v1/dlq", headers=H)
check(st == 200 and not b.get("entries"), "nothing dead-lettered", b)
finish()
PY
finish

"""sync_conflicts.py - scenario 4 (run by test_sync_conflicts.sh).

To make both sides change before either syncs, the engine's process is stopped (SIGSTOP), the
repository is edited through a second, repository-only server on the same store, Salesforce is
edited, and the engine continues (SIGCONT)."""
import json
import os
import re
import signal
import subprocess
import time

from sync_lib import CLM, SF, check, env, finish, wait_for

sf_url, clm_url, token = env()
sf, clm = SF(sf_url), CLM(clm_url, token)
pid = int(os.environ["CLM_PID"])
cli = os.environ["CLMSYNC"]
cfg = os.environ["CLM_CONFIG"]
senv = dict(os.environ, CLMSYNC_TEST_SECRET="clmsync-test-secret")
# the operator's commands: the admin listener is on a port of its own; the token is the one
# serve wrote to the configuration's data_dir
ops = ["--config", cfg, "--admin-url", os.environ["ADMIN_URL"]]

cp = clm.create("counterparties", {"legal_name": "Conflict Corp", "custom": {"industry": "Software"}})
ct = clm.create("contracts", {"title": "Conflicted", "type": "msa", "counterparty_id": cp["id"], "description": "base"})
# a second contract whose manual conflict outlives nothing: its Salesforce record is deleted
ct2 = clm.create("contracts", {"title": "Conflicted, then deleted", "type": "msa", "counterparty_id": cp["id"],
                               "description": "base"})
def ids():
    a = sf.by_ext("Account", "CLM_Id__c", cp["id"])
    c = sf.by_ext("Contract", "CLM_Id__c", ct["id"])
    c2 = sf.by_ext("Contract", "CLM_Id__c", ct2["id"])
    return (a[0]["Id"], c[0]["Id"], c2[0]["Id"]) if a and c and c2 else None
got = wait_for(ids, 20)
check(got is not None, "records linked")
sfa, sfc, sfc2 = got

# a second repository-only server on the same store, for edits while the engine is stopped
side = subprocess.Popen([cli, "serve", "--config", cfg, "--no-sync", "--data", os.environ["CLM_DATA"], "--listen", "127.0.0.1:0"], env=senv,
                        stdout=subprocess.PIPE, stderr=open(os.path.join(os.environ["WORK"], "side.log"), "w"),
                        text=True)
try:
    side_url = side.stdout.readline().strip()
    side_clm = CLM(side_url, token)
    os.kill(pid, signal.SIGSTOP)
    try:
        st1, b1 = side_clm.patch("contracts", ct["id"], {"description": "repository side", "customer_signed_date": "2026-01-10"})
        st2, b2 = side_clm.patch("counterparties", cp["id"], {"legal_name": "Conflict Corp (repository)",
                                                             "custom": {"industry": "Healthcare"}})
        st3, b3 = side_clm.patch("contracts", ct2["id"], {"description": "repository side 2"})
        time.sleep(0.01)  # the Salesforce edits commit strictly later than the repository's
        sf.update("Contract", sfc, {"Description": "salesforce side", "CustomerSignedDate": "2026-01-20"})
        sf.update("Account", sfa, {"Name": "Conflict Corp (salesforce)", "Industry": "Manufacturing"})
        sf.update("Contract", sfc2, {"Description": "salesforce side 2"})
    finally:
        os.kill(pid, signal.SIGCONT)
    check(st1 == 200 and st2 == 200 and st3 == 200, "both sides edited while the engine was stopped",
          (st1, b1, st2, b2, st3, b3))
finally:
    side.terminate()
    side.wait()

def settled():
    a, c = sf.get("Account", sfa), sf.get("Contract", sfc)
    p, k = clm.get("counterparties", cp["id"]), clm.get("contracts", ct["id"])
    if a["Name"] == p["legal_name"] and a["Industry"] == "Manufacturing" and p["custom"]["industry"] == "Manufacturing" \
            and c["CustomerSignedDate"] == k.get("customer_signed_date"):
        return a, c, p, k
    return None
got = wait_for(settled, 20)
check(got is not None, "the automatic policies settled", (sf.get("Account", sfa), clm.get("counterparties", cp["id"])))
if got:
    a, c, p, k = got
    check(p["legal_name"] == "Conflict Corp (repository)", "clm_wins: the repository's name on both sides", a["Name"])
    check(p["custom"]["industry"] == "Manufacturing", "salesforce_wins: Salesforce's industry on both sides")
    check(k["customer_signed_date"] == "2026-01-20", "last_writer_wins: the later edit (Salesforce's) on both sides",
          k.get("customer_signed_date"))
    check(c["Description"] == "salesforce side" and k["description"] == "repository side",
          "manual: both sides keep their value", (c["Description"], k.get("description")))

r = subprocess.run([cli, "conflicts", "list", "--json"] + ops, capture_output=True, text=True, env=senv)
lst = json.loads(r.stdout)["conflicts"] if r.returncode == 0 else []
mine = [x for x in lst if x.get("clm") == ct["id"] and x.get("sf_field") == "Description"]
check(len(mine) == 1 and mine[0]["clm_value"] == "repository side" and mine[0]["sf_value"] == "salesforce side"
      and mine[0]["base"] == "base", "the conflict is parked with both values and the base", r.stdout + r.stderr)


def held_rows():
    r = subprocess.run([cli, "audit", "search", ct["id"], "--decision", "held", "--json"] + ops, capture_output=True,
                       text=True, env=senv)
    return len(json.loads(r.stdout).get("rows", [])) if r.returncode == 0 else -1


# an open conflict is no drift: a reconcile reads both sides again and finds what the parked
# conflict shows already; it repairs nothing and writes no row of a change held, every time
held0 = held_rows()
for i in (1, 2):
    r = subprocess.run([cli, "reconcile", "--repair", "--wait", "60"] + ops, capture_output=True, text=True, env=senv)
    m = re.findall(r"(\d+) records compared, (\d+) differed", r.stdout)
    check(r.returncode == 0 and m and all(int(d) == 0 for _, d in m),
          "reconcile %d with the conflict open: nothing differed" % i, r.stdout + r.stderr)
check(held0 >= 0 and held_rows() == held0, "and no new audit row of a held change", (held0, held_rows()))
if mine:
    r = subprocess.run([cli, "conflicts", "resolve", mine[0]["id"], "--take", "salesforce"] + ops,
                       capture_output=True, text=True, env=senv)
    check(r.returncode == 0, "clmsync conflicts resolve --take salesforce", r.stdout + r.stderr)
    got = wait_for(lambda: clm.get("contracts", ct["id"]).get("description") == "salesforce side"
                   and sf.get("Contract", sfc)["Description"] == "salesforce side", 10)
    check(got, "resolved: Salesforce's value on both sides")
    r = subprocess.run([cli, "conflicts", "list", "--json"] + ops, capture_output=True, text=True, env=senv)
    check(r.returncode == 0 and not [x for x in json.loads(r.stdout)["conflicts"] if x.get("clm") == ct["id"]],
          "and the conflict is gone", r.stdout)

# a pair that goes away takes its parked conflicts with it: the Salesforce Contract is deleted
# (on_delete.clm terminate), and nothing is left for an operator to settle
def parked2():
    r = subprocess.run([cli, "conflicts", "list", "--json"] + ops, capture_output=True, text=True, env=senv)
    return r.returncode == 0 and [x for x in json.loads(r.stdout)["conflicts"] if x.get("clm") == ct2["id"]]
check(wait_for(parked2, 10), "the second contract's conflict is parked")
# Whichever the engine saw first after it continued, nothing is settled behind the operator's
# back: a write of the repository's value planned before Salesforce's change was seen is not
# made once the conflict is parked, so both sides keep their value; only when that write had
# gone out before Salesforce's change event arrived (the stream one long poll behind, as under
# the sanitizers) does Salesforce hold the repository's value, and the conflict still shows
# Salesforce's own for the operator to choose.
c2 = parked2()[0]
sf2 = sf.get("Contract", sfc2)["Description"]
check(clm.get("contracts", ct2["id"])["description"] == "repository side 2"
      and sf2 in ("salesforce side 2", "repository side 2")
      and c2["sf_value"] == "salesforce side 2" and c2["clm_value"] == "repository side 2",
      "manual, second contract: the repository keeps its value and the conflict shows both", (sf2, c2))
sf.delete("Contract", sfc2)
got = wait_for(lambda: clm.get("contracts", ct2["id"]).get("status") == "terminated" and not parked2(), 15)
check(got, "deleted in Salesforce: the contract is terminated and its conflict is gone",
      (clm.get("contracts", ct2["id"]).get("status"), parked2()))
finish()

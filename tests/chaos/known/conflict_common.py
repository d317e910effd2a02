"""conflict_common.py - helpers for the reproductions in this folder: a manual conflict on
Contract.Description, the operator's CLI, the store's fault simulation, the engine catching up,
and the server killed with SIGKILL and started again.

make_conflict(): both sides edit the field while the mapping is paused (`clmsync pause`); on
`clmsync resume` they meet as a conflict (docs/architecture.md: pausing a mapping)."""
import json
import os
import signal
import subprocess
import time
import urllib.parse

from sync_lib import CLM, SF, check, wait_for

clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
sf = SF(os.environ["SF_URL"])


def cli(*args):
    r = subprocess.run([os.environ["CLMSYNC"], *args, "--admin-url", os.environ["ADMIN_URL"], "--data",
                        os.environ["CLM_DATA"]], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def conflicts():
    code, out, err = cli("conflicts", "list", "--json")
    return json.loads(out)["conflicts"] if code == 0 else []


def outbox():
    """The writes queued for Salesforce, over every org (`clmsync status --json`); -1 when the
    status cannot be read."""
    code, out, _ = cli("status", "--json")
    try:
        return sum(o["outbox"] for o in json.loads(out)["orgs"]) if code == 0 else -1
    except (ValueError, KeyError, TypeError):
        return -1


def make_conflict():
    """A linked contract whose Description is parked as a conflict ("repo 1" / "sf 1"): (repository
    id, Salesforce id, the conflict)."""
    cp = clm.create("counterparties", {"legal_name": "Conflicted Co"})["id"]
    ct = clm.create("contracts", {"title": "Conflicted", "counterparty_id": cp, "description": "base"})["id"]
    sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)))
    check(sid is not None and wait_for(lambda: sf.get("Contract", sid)["Description"] == "base"), "a linked contract")
    cli("pause", "contracts")
    clm.patch("contracts", ct, {"description": "repo 1"})
    sf.update("Contract", sid, {"Description": "sf 1"})
    cli("resume", "contracts")
    got = wait_for(lambda: [c for c in conflicts() if c["clm"] == ct], 15)
    check(got and got[0]["clm_value"] == "repo 1" and got[0]["sf_value"] == "sf 1",
          "edited on both sides while paused: a manual conflict", got)
    return ct, sid, (got or [None])[0]


def linked_account(name):
    """A counterparty made in the repository, once its Account holds its name in Salesforce:
    (repository id, Account id)."""
    cp = clm.create("counterparties", {"legal_name": name})["id"]
    acct = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Account", "CLM_Id__c", cp)))
    check(acct is not None and wait_for(lambda: sf.get("Account", acct)["Name"] == name),
          "a counterparty linked to its Account")
    return cp, acct


def created_answer_lost(account, title, **fields):
    """A contract made in the repository (title, fields) under a counterparty linked to its
    Account, whose create landed in Salesforce with its answer lost: the stream is held back and
    every write of ours lands unanswered from here on. (repository id, Salesforce id)."""
    cp, _ = linked_account(account)
    sf.emu("POST", "streaming", {"deliver": 0})            # the stream lags: events held back
    sf.emu("POST", "faults", {"rate_lost": 1000, "client": "clmsync"})   # every write of ours lands, unanswered
    ct = clm.create("contracts", dict({"title": title, "type": "msa", "counterparty_id": cp}, **fields))["id"]
    sid = wait_for(lambda: (lambda r: r[0]["Id"] if r else None)(sf.by_ext("Contract", "CLM_Id__c", ct)), 15)
    check(sid is not None and sf.counters().get("fault.lost", 0) >= 1,
          "the create landed in Salesforce and its answer was lost", sf.counters())
    return ct, sid


def arm(n):
    """Arms clmsync-chaos's store fault simulation (tests/chaos/store_fault_hook.c, the FIFO named
    by $FIFO): the nth store statement from now fails; 0 turns it off. A line of the hook's
    own ("delay N") is sent as it is."""
    fd = os.open(os.environ["FIFO"], os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"%s\n" % str(n).encode())
    os.close(fd)


def events_planned(org, last):
    """Whether org's engine has stored every change event up to replay id last and has no inbox
    entry left (`clmsync status --json`)."""
    code, out, _ = cli("status", "--json")
    try:
        o = [x for x in json.loads(out)["orgs"] if x.get("org", x.get("name")) == org][0]
    except (ValueError, KeyError, IndexError):
        return False
    pos = (o.get("stream") or {}).get("replay") or {}
    return any(v >= last for v in pos.values() if isinstance(v, int)) and o.get("inbox", 1) == 0


def release(what, until=None):
    """Lets sfemu deliver the change events it held back: all of them, or those up to replay id
    until; then checks, as what, that the engine has planned them. Returns the last one's id."""
    last = until if until is not None else sf.emu("GET", "events")[1][-1]["replayId"]
    sf.emu("POST", "streaming", {"deliver_until": until} if until is not None else {"deliver": 1, "deliver_until": 0})
    check(wait_for(lambda: events_planned("sf", last), 15) is not None, what, cli("status", "--json")[1][:600])
    return last


class Server:
    """The clmsync lib.sh started (CLM_PID; CLMSYNC, CLM_CONFIG, CLM_DATA, CLM_URL, ADMIN_URL,
    WORK), killed with SIGKILL and started again on the same ports."""

    def __init__(self):
        self.pid, self.proc = int(os.environ["CLM_PID"]), None

    def healthy(self):
        try:
            return clm.call("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def gone(self):
        """Whether the process has exited (gone, or a zombie its parent has not reaped yet)."""
        try:
            with open("/proc/%d/status" % self.pid) as f:
                return "zombie" in f.read()
        except OSError:
            return True

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        else:
            wait_for(self.gone, 10)

    def start(self):
        port = lambda url: urllib.parse.urlparse(url).port
        for _ in range(50):
            with open(os.path.join(os.environ["WORK"], "clm-restart.log"), "a") as log:
                p = subprocess.Popen([os.environ["CLMSYNC"], "serve", "--config", os.environ["CLM_CONFIG"], "--data",
                                      os.environ["CLM_DATA"], "--listen", "127.0.0.1:%d" % port(os.environ["CLM_URL"]),
                                      "--admin-listen", "127.0.0.1:%d" % port(os.environ["ADMIN_URL"])],
                                     stdout=subprocess.DEVNULL, stderr=log,
                                     env=dict(os.environ, CLMSYNC_TEST_SECRET="clmsync-test-secret"))
            self.pid, self.proc = p.pid, p
            wait_for(lambda: p.poll() is not None or self.healthy(), 10)
            if p.poll() is None:
                return
            time.sleep(0.1)    # the port may linger after a kill
        raise SystemExit("clmsync did not restart")

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
            if self.proc is not None:
                self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass

"""cli_admin.py - the operator's commands end to end, through the admin API (run by test_cli_admin.sh)."""
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time

from sync_lib import CLM, SF, Http, check, finish, wait_for

CLI = os.environ["CLMSYNC"]
ADMIN = os.environ["ADMIN_URL"]
WORK = os.environ["WORK"]
DATA = os.environ["CLM_DATA"]
CFG = os.environ["CLM_CONFIG"]
ADMIN_TOKEN = os.environ["CLM_ADMIN_TOKEN"]
READ_TOKEN = os.environ["CLM_READ_TOKEN"]
sf = SF(os.environ["SF_URL"])
clm = CLM(os.environ["CLM_URL"], ADMIN_TOKEN)

TOK = os.path.join(WORK, "admin.token")
with open(TOK, "w") as f:
    f.write(ADMIN_TOKEN + "\n")
os.chmod(TOK, 0o600)
# the commands get nothing from the test's environment but what each call gives them: no org
# secret either (they do not read the orgs' secrets)
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("CLMSYNC_")}


class Res:
    def __init__(self, r):
        self.rc = r.returncode
        self.raw = r.stdout
        self.out = r.stdout.decode("utf-8", "replace")
        self.err = r.stderr.decode("utf-8", "replace")
        self.raw_err = r.stderr

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError:
            return None

    def __repr__(self):
        return "exit %d\n--- stdout\n%s\n--- stderr\n%s" % (self.rc, self.out[:1500], self.err[:1500])


def run(*args, url=ADMIN, token=TOK, env=None, timeout=180):
    """Runs clmsync ARGS with the admin URL in the environment and --token-file, unless told otherwise."""
    e = dict(BASE_ENV)
    if url is not None:
        e["CLMSYNC_ADMIN_URL"] = url
    e.update(env or {})
    cmd = [CLI] + list(args)
    if token is not None:
        cmd += ["--token-file", token]
    return Res(subprocess.run(cmd, capture_output=True, env=e, timeout=timeout))


def expect(res, code, what):
    return check(res.rc == code, "%s: exit %d" % (what, code), res)


def lines_with(text, word):
    return [l for l in text.splitlines() if word in l]


def no_raw_controls(raw):
    """True when bytes hold nothing a terminal acts on but line breaks: no C0 control, DEL, C1 or bidi control."""
    text = raw.decode("utf-8", "replace")
    return not re.search("[\x00-\x09\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]", text)


# --- the server is found and healthy ---------------------------------------------------------
r = wait_for(lambda: (lambda x: x if x.rc == 0 else None)(run("status")), 60, "healthy status")
check(r is not None, "status: exit 0 once the stream is connected", run("status"))
if r:
    check("health: ok" in r.out and lines_with(r.out, "connected") and lines_with(r.out, "contracts") and
          lines_with(r.out, "counterparties"), "status table: the org's stream, both mappings, health ok", r)
r = run("status", "--json")
j = r.json()
check(r.rc == 0 and j and j["orgs"][0]["org"] == "sf" and j["orgs"][0]["stream"]["connected"] is True and
      j["dlq"] == 0, "status --json: the API's document", r)

# URL and token from the configuration: admin.listen and the first admin token (from its env)
port = int(ADMIN.rsplit(":", 1)[1])
with open(CFG) as f:
    cli_cfg = f.read().replace("admin:\n", "admin:\n  listen: 127.0.0.1:%d\n" % port, 1)
CLI_CFG = os.path.join(WORK, "cli.yaml")
with open(CLI_CFG, "w") as f:
    f.write(cli_cfg)
r = run("status", "--config", CLI_CFG, url=None, token=None)
check(r.rc == 0 and "health: ok" in r.out, "URL and token from --config (no org secret needed)", r)
r = run("status", "--config", CLI_CFG, url=None, token=None, env={"CLM_ADMIN_TOKEN": ""})
check(r.rc == 3 and "CLM_ADMIN_TOKEN" in r.err, "--config whose admin token's variable is unset: exit 3", r)
r = run("status", "--admin-url", ADMIN.replace("http://", ""), url=None)
check(r.rc == 0, "--admin-url without a scheme: http:// is assumed", r)
r = run("status", env={"CLMSYNC_ADMIN_TOKEN": ADMIN_TOKEN}, token=None)
check(r.rc == 0, "token from CLMSYNC_ADMIN_TOKEN", r)

# the token serve generates when none is configured, found through --data
d2 = os.path.join(WORK, "plain-data")
log2 = open(os.path.join(WORK, "plain.log"), "w")
plain = subprocess.Popen([CLI, "serve", "--data", d2, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                          "--no-sync"], stdout=subprocess.PIPE, stderr=log2, env=BASE_ENV, text=True)
try:
    plain.stdout.readline()
    admin2 = plain.stdout.readline().strip()
    r = run("status", "--data", d2, url=admin2, token=None)
    check(r.rc == 0 and "no org has mappings" in r.out and "health: ok" in r.out,
          "token from DATA/api-token (--data), a server without mappings is healthy", r)
    r = run("dlq", "list", "--data", d2, url=admin2, token=None)
    check(r.rc == 0 and "empty" in r.out, "dlq list on an empty queue", r)
finally:
    plain.terminate()
    plain.wait(30)

# --- exit codes: usage 2, server 3 -------------------------------------------------------------
usage = [
    ("dlq",), ("dlq", "frobnicate"), ("dlq", "list", "--nope"), ("dlq", "show"), ("dlq", "discard", "1"),
    ("dlq", "list", "--reason", "x"), ("conflicts", "resolve", "m/c/f"), ("conflicts", "resolve", "m/c/f", "--take", "both"),
    ("conflicts", "resolve", "m/c/f", "--value", "{not json"), ("conflicts", "resolve", "m/c/f", "--take", "clm", "--wait", "x"),
    ("reconcile", "extra"), ("reconcile", "--progress-every", "0"), ("reconcile", "show"), ("audit",),
    ("audit", "search", "--limit", "0"), ("audit", "verify", "--field", "x"), ("audit", "verify", "--store", "sqlite:x"),
    ("audit", "verify", "--offline", "--admin-url", "http://x"), ("pause",), ("resume", "a", "b"), ("links", "x"),
    ("links", "find", "x", "--clm", "--sf"), ("lineage", "contract"), ("status", "extra"), ("status", "--json=1"),
]
bad = [u for u in usage if run(*u).rc != 2]
check(not bad, "usage errors exit 2 (%d cases)" % len(usage), bad)
r = run("status", "--admin-url", "ftp://127.0.0.1:1", url=None)
check(r.rc == 2 and "http" in r.err, "an admin URL that is not http(s): exit 2", r)
r = subprocess.run([CLI], capture_output=True)
check(r.returncode == 2, "clmsync without a command: exit 2")
r = subprocess.run([CLI, "help", "nope"], capture_output=True)
check(r.returncode == 2, "help of an unknown command: exit 2")

# a port bound but not listening: connections are refused, and nobody else can take it meanwhile
hold = socket.socket()
hold.bind(("127.0.0.1", 0))
down = "http://127.0.0.1:%d" % hold.getsockname()[1]
for cmd in (("status",), ("dlq", "list"), ("audit", "verify"), ("reconcile",), ("pause", "contracts")):
    r = run(*cmd, url=down)
    check(r.rc == 3 and "cannot reach" in r.err, "%s with the server down: exit 3" % " ".join(cmd), r)
check("--offline" in run("audit", "verify", url=down).err, "audit verify with the server down points to --offline")
hold.close()
badtok = os.path.join(WORK, "bad.token")
with open(badtok, "w") as f:
    f.write("not-the-token-0123456789abcdef\n")
r = run("status", token=badtok)
check(r.rc == 3 and "refused the token" in r.err and "not-the-token" not in r.err,
      "a wrong token: exit 3, the token itself not printed", r)
readtok = os.path.join(WORK, "read.token")
with open(readtok, "w") as f:
    f.write(READ_TOKEN + "\n")
r = run("dlq", "list", token=readtok)
check(r.rc == 3 and "admin role" in r.err, "a token without the admin role: exit 3", r)
r = run("status", "--data", os.path.join(WORK, "nowhere"), token=None)
check(r.rc == 3 and "no token" in r.err, "no token anywhere: exit 3", r)

# --- a synced pair: links and lineage --------------------------------------------------------
cp = clm.create("counterparties", {"legal_name": "CLI Corp", "custom": {"industry": "Software"}})
ct = clm.create("contracts", {"title": "CLI MSA", "type": "msa", "counterparty_id": cp["id"], "description": "first"})


def linked():
    x = sf.by_ext("Contract", "CLM_Id__c", ct["id"])
    return x[0]["Id"] if x else None


sfc = wait_for(linked, 30, "contract in Salesforce")
check(sfc is not None, "the contract reached Salesforce")
sfc = sfc or "800000000000000AAA"

r = run("links", "find", ct["id"])
check(r.rc == 0 and lines_with(r.out, sfc) and lines_with(r.out, "contracts"), "links find (repository id): table", r)
j = run("links", "find", ct["id"], "--json").json()
check(j and [l["sf"] for l in j["links"] if l["mapping"] == "contracts"] == [sfc], "links find --json", j)
r = run("links", "find", sfc)
check(r.rc == 0 and lines_with(r.out, ct["id"]), "links find (Salesforce id, told from its form)", r)
r = run("links", "find", sfc[:15])
check(r.rc == 0 and lines_with(r.out, ct["id"]), "links find (the 15-character form)", r)
r = run("links", "find", "ct_nothing_here")
check(r.rc == 4 and "linked in no mapping" in r.err, "links find of an unknown id: exit 4", r)

r = run("lineage", "contract", ct["id"])
title = lines_with(r.out, "title")
check(r.rc == 0 and title and title[0].count('"CLI MSA"') == 2 and "Contract " + sfc in r.out,
      "lineage: the title's value on both sides and the linked record", r)
j = run("lineage", "contract", ct["id"], "--json").json()
f = {x["field"]: x for x in j["mappings"][0]["fields"]} if j and j.get("mappings") else {}
check(f.get("title", {}).get("last_change") is not None, "lineage --json: the audit row behind the title", j)
r = run("lineage", "widget", "x")
check(r.rc == 4, "lineage of an entity no mapping syncs: exit 4", r)
r = run("lineage", "contract", "ct_00000000000000000000000000")
check(r.rc == 4 and "neither in the repository nor linked" in r.err, "lineage of an unknown record: exit 4", r)

# --- pause, resume, and a hostile value in a conflict ------------------------------------------
r = run("pause", "contracts", "--reason", "cutover \x1b[2J rehearsal")
check(r.rc == 0 and "paused contracts" in r.out and "\\e[2J" in r.out and no_raw_controls(r.raw),
      "pause: said, the reason escaped", r)
r = run("pause", "nope")
check(r.rc == 4, "pause of an unknown mapping: exit 4", r)
j = run("pause", "contracts", "--json").json()
check(j and j["paused"] is True and j["mapping"] == "contracts", "pause --json (paused already: unchanged)", j)
r = run("status")
check(r.rc == 0 and lines_with(r.out, "PAUSED") and "\\e[2J" in r.out and no_raw_controls(r.raw),
      "status: a paused mapping is shown, with its escaped reason, and is no reason for attention", r)

HOSTILE = "evil \x1b[31mred\x1b[0m\nsecond line \u202e txt.exe"
st, _ = clm.patch("contracts", ct["id"], {"description": "repository while paused"})
check(st == 200, "repository edited while paused")
sf.update("Contract", sfc, {"Description": HOSTILE})


def held():
    j = run("status", "--json").json() or {}
    for o in j.get("orgs", []):
        for m in o.get("mappings", []):
            p = m.get("pause") or {}
            if m["name"] == "contracts" and p.get("held_clm", 0) >= 1 and p.get("held_salesforce", 0) >= 1:
                return p
    return None


check(wait_for(held, 30, "held") is not None, "paused: both sides' changes are held")
r = run("resume", "contracts")
m = re.search(r"resumed contracts: (\d+) held records? queued", r.out)
check(r.rc == 0 and m and int(m.group(1)) >= 2, "resume: the held records are queued", r)
r = run("resume", "contracts", "--json")
check(r.rc == 0 and r.json()["paused"] is False and r.json()["queued"] == 0, "resume --json of a running mapping", r)


def conflict():
    j = run("conflicts", "list", "--json").json() or {}
    c = [x for x in j.get("conflicts", []) if x["clm"] == ct["id"] and x["field"] == "description"]
    return c[0] if c else None


c = wait_for(conflict, 30, "conflict")
check(c is not None and c["sf_value"] == HOSTILE and c["clm_value"] == "repository while paused",
      "conflicts list --json: the hostile value whole", c)
cid = c["id"] if c else "contracts/x/Description"
r = run("status")
check(r.rc == 1 and "ATTENTION" in r.out and "open conflict" in r.out, "status with an open conflict: exit 1", r)
r = run("conflicts", "list")
row = lines_with(r.out, cid)
# jansson writes the escapes of a JSON text in upper case (\u001B), this command's own in lower
check(r.rc == 0 and len(row) == 1 and '"evil \\u001b[31m' in row[0].lower() and no_raw_controls(r.raw),
      "conflicts list: one line per conflict, the escape sequence shown escaped", r)
r = run("conflicts", "show", cid)
line = lines_with(r.out, "salesforce =")
check(r.rc == 0 and line and "\\u001b[31mred\\u001b[0m\\nsecond line \\u202e txt.exe" in line[0].lower() and
      no_raw_controls(r.raw), "conflicts show: newline, escape and bidi override all escaped, on one line", r)
check('"first"' in r.out, "conflicts show: the base")
r = run("conflicts", "show", "contracts/" + ct["id"] + "/Nope")
check(r.rc == 4, "conflicts show of an unknown conflict: exit 4", r)
r = run("conflicts", "list", "--mapping", "counterparties", "--json")
check(r.rc == 0 and r.json()["conflicts"] == [], "conflicts list --mapping filters", r)
r = run("conflicts", "resolve", cid, "--value", '"agreed text"')
check(r.rc == 0 and r.out.startswith("resolved: description of " + ct["id"]) and '"agreed text"' in r.out,
      "conflicts resolve --value: applied", r)
same = wait_for(lambda: clm.get("contracts", ct["id"])["description"] == "agreed text" and
                sf.get("Contract", sfc)["Description"] == "agreed text", 30, "both sides agreed")
check(same, "both sides hold the chosen value")
r = run("conflicts", "resolve", cid, "--take", "clm")
check(r.rc == 4, "resolving it again: exit 4", r)

# --- the dead-letter queue --------------------------------------------------------------------
sf.update("Contract", sfc, {"CLM_Lifecycle_Status__c": "Expired"})   # draft -> expired is not a transition


def dlq_entry(exclude=()):
    j = run("dlq", "list", "--json").json() or {}
    e = [x for x in j.get("entries", []) if x["clm"] == ct["id"] and x["id"] not in exclude]
    return e[0] if e else None


d = wait_for(dlq_entry, 30, "DLQ entry")
check(d is not None and d["direction"] == "clm", "a refused change lands in the DLQ", d)
d = d or {"id": "00000000000000000001"}
short = d["id"].lstrip("0")
r = run("dlq", "list")
row = [l for l in r.out.splitlines() if l.startswith(short + " ")]
check(r.rc == 0 and row and "contracts" in row[0] and ct["id"] in row[0] and " clm " in row[0] and "1 entry" in r.out,
      "dlq list: a row with id, mapping, record, direction", r)
r = run("status")
check(r.rc == 1 and "dead-letter entr" in r.out, "status with a DLQ entry: exit 1", r)
check(run("status", "--json").rc == 1, "status --json applies the same rule")
r = run("dlq", "show", short)
check(r.rc == 0 and "item:" in r.out and lines_with(r.out, "direction") and no_raw_controls(r.raw), "dlq show", r)
j = run("dlq", "show", short, "--json").json()
check(j and j["id"] == d["id"] and "item" in j, "dlq show --json", j)
check(run("dlq", "show", "99999999").rc == 4, "dlq show of an unknown id: exit 4")
check(run("dlq", "show", "abc").rc == 2, "dlq show of a malformed id: exit 2 (the server refuses it)")
r = run("dlq", "replay", short)
check(r.rc == 0 and r.out.startswith("replayed " + short + ": contracts " + ct["id"]), "dlq replay ID", r)
check(run("dlq", "replay", short).rc == 4, "replaying it again: exit 4")
d2 = wait_for(lambda: dlq_entry(exclude=(d["id"],)), 30, "refused again")
check(d2 is not None, "replayed, the change is refused again (its cause is not fixed)", d2)
r = run("dlq", "replay", "--all", "--mapping", "counterparties")
check(r.rc == 0 and "nothing to replay" in r.out, "dlq replay --all --mapping of another mapping: nothing", r)
r = run("dlq", "replay", "--all", "--json")
check(r.rc == 0 and r.json() and r.json()["replayed"] >= 1 and r.json()["failed"] == 0, "dlq replay --all --json", r)
d3 = wait_for(lambda: dlq_entry(exclude=(d["id"], (d2 or {}).get("id"))), 30, "refused a third time")
check(d3 is not None, "and refused again")
d3 = d3 or {"id": "1"}
r = run("dlq", "discard", d3["id"], "--reason", "expired by mistake in Salesforce")
check(r.rc == 0 and "discarded" in r.out, "dlq discard --reason", r)
check(run("dlq", "discard", d3["id"], "--reason", "again").rc == 4, "discarding it again: exit 4")
r = run("audit", "search", ct["id"], "--decision", "discarded")
check(r.rc == 0 and lines_with(r.out, "discarded") and "1 row" in r.out, "audit search by record and decision", r)
j = run("audit", "search", ct["id"], "--decision", "discarded", "--json").json()
check(j and len(j["rows"]) == 1 and j["rows"][0]["detail"] == "expired by mistake in Salesforce" and j["next"] is None,
      "audit search --json: the row and its reason", j)
j = run("audit", "search", ct["id"], "--limit", "2", "--json").json()
check(j and len(j["rows"]) == 2 and j["next"] is not None, "audit search --limit: bounded, with where to go on", j)
r = run("audit", "search", "--decision", "paused")
check(r.rc == 0 and lines_with(r.out, "paused"), "audit search without an id", r)

# --- reconcile ---------------------------------------------------------------------------------
# the refused status is still in Salesforce: drift, reported
r = run("reconcile", "--mapping", "contracts")
check(r.rc == 1 and re.search(r"^org sf: \d+ records compared, 1 differed \(reported\)$", r.out, re.M),
      "reconcile: drift without --repair, exit 1", r)
sf.update("Contract", sfc, {"CLM_Lifecycle_Status__c": "Draft"})
r = wait_for(lambda: (lambda x: x if x.rc == 0 else None)(run("reconcile", "--mapping", "contracts")), 60, "no drift")
check(r is not None and re.search(r"^org sf: \d+ records compared, 0 differed$", r.out, re.M),
      "reconcile: no drift once Salesforce is put back", r)
check(run("reconcile", "--mapping", "nope").rc == 4, "reconcile of an unknown mapping: exit 4")
check(run("reconcile", "--org", "nope").rc == 4, "reconcile of an unknown org: exit 4")
r = run("reconcile", "--wait", "0", "--json")
ids = [x["id"] for x in (r.json() or {}).get("requests", [])]
check(r.rc == 0 and len(ids) == 1, "reconcile --wait 0 --json: the request's id", r)
if ids:
    got = wait_for(lambda: (lambda x: x if x.rc != 5 else None)(run("reconcile", "show", ids[0])), 60, "result")
    check(got is not None and got.rc == 0 and "records compared" in got.out, "reconcile show ID: the result", got)
    j = run("reconcile", "show", ids[0], "--json").json()
    check(j and j["done"] is True and j["drift"] == 0, "reconcile show --json", j)
# stderr is a pipe here: plain progress lines, no carriage returns, no escape sequences. Every
# Salesforce call is slowed so that the reconcile lasts long enough for several lines.
sf.emu("POST", "faults", {"latency_ms": 700, "latency_rate": 1000})
try:
    r = run("reconcile", "--progress-every", "0.2")
finally:
    sf.emu("POST", "faults", {"latency_ms": 0, "latency_rate": 0})
prog = [l for l in r.err.splitlines() if l.startswith("clmsync reconcile: ")]
check(r.rc == 0 and len(prog) >= 3, "reconcile progress: plain lines on a stderr that is not a terminal", r)
check(b"\r" not in r.raw_err and b"\x1b" not in r.raw_err, "reconcile progress: no carriage return, no escape", r.err)
check(any(re.search(r"\d+ (of ~?\d+ )?records compared, \d+/s", l) for l in prog) and
      re.search(r"records compared in \d", prog[-1] if prog else ""), "reconcile progress: the rate, then a last line",
      prog)

# --- audit verify, online and offline ----------------------------------------------------------
r = run("audit", "verify", "--progress-every", "0.1")
m = re.match(r"audit log intact: (\d+) rows, head ([0-9a-f]{12})$", r.out.strip())
check(r.rc == 0 and m, "audit verify through the server", r)
j = run("audit", "verify", "--json").json()
check(j and j["ok"] is True and j["rows"] >= int(m.group(1) if m else 1) and len(j["head"]) == 64,
      "audit verify --json", j)

# the endpoint itself: the whole log in one call, a part, and malformed bodies refused
adm = Http(ADMIN)
auth = {"Authorization": "Bearer " + ADMIN_TOKEN}
st, b = adm.call("POST", "/admin/v1/audit/verify", {}, auth)
# (rows appended while it walks are walked too: at least the head read before it)
check(st == 200 and b["ok"] is True and b["done"] is True and b["bad_seq"] is None and b["rows"] >= b["head"] > 0 and
      b["last"]["seq"] == b["rows"], "POST /admin/v1/audit/verify {}: the whole log", (st, b))
st, b = adm.call("POST", "/admin/v1/audit/verify", {"after": 0, "hash": "0" * 64, "max_rows": 1}, auth)
check(st == 200 and b["ok"] is True and b["rows"] == 1 and b["done"] is False and b["last"]["seq"] == 1,
      "POST /admin/v1/audit/verify: one row, and where to go on", (st, b))
for body in ({"after": 1}, {"after": -1, "hash": "0" * 64}, {"after": 0, "hash": "x" * 64}, {"max_rows": "2"}):
    st, b = adm.call("POST", "/admin/v1/audit/verify", body, auth)
    check(st == 400, "POST /admin/v1/audit/verify %s: 400" % json.dumps(body)[:40], (st, b))
st, b = adm.call("POST", "/admin/v1/audit/verify", {})
check(st == 401, "POST /admin/v1/audit/verify without a token: 401", st)

pid = int(os.environ["CLM_PID"])
os.kill(pid, signal.SIGTERM)
gone = wait_for(lambda: subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0, 30, "stopped")
check(gone, "the server stopped")
r = run("status")
check(r.rc == 3, "status with the server stopped: exit 3", r)
r = run("audit", "verify", "--offline", "--data", DATA, token=None)
m2 = re.match(r"audit log intact: (\d+) rows, head ([0-9a-f]{12})$", r.out.strip())
check(r.rc == 0 and m2, "audit verify --offline --data: the store itself", r)
r = run("audit", "verify", "--offline", "--config", CLI_CFG, "--json", token=None)
check(r.rc == 0 and r.json() and r.json()["rows"] == int(m2.group(1) if m2 else -1),
      "audit verify --offline --config --json: the configuration's store", r)
r = run("audit", "verify", "--offline", "--store", "sqlite:" + os.path.join(WORK, "none", "x.db"), token=None)
check(r.rc == 3 and "no store" in r.err and not os.path.exists(os.path.join(WORK, "none")),
      "audit verify --offline of a missing store: exit 3, nothing created", r)

db = sqlite3.connect(os.path.join(DATA, "clmsync.db"))
key, doc = db.execute("SELECT key, doc FROM kv WHERE ns='audit' ORDER BY key LIMIT 1 OFFSET 2").fetchone()
row = json.loads(doc)
row["new"] = "tampered"
db.execute("UPDATE kv SET doc=? WHERE ns='audit' AND key=?", (json.dumps(row), key))
db.commit()
db.close()
bad_seq = int(key)
r = run("audit", "verify", "--offline", "--data", DATA, token=None)
check(r.rc == 1 and ("BROKEN at row %d: hash does not match its content" % bad_seq) in r.out,
      "audit verify --offline: the tampered row", r)



def serve(name, *extra):
    """Starts clmsync serve again on the same configuration and data; returns the process and its admin URL."""
    log = open(os.path.join(WORK, name + ".log"), "w")
    p = subprocess.Popen([CLI, "serve", "--config", CFG, "--data", DATA, "--listen", "127.0.0.1:0", "--admin-listen",
                          "127.0.0.1:0"] + list(extra), stdout=subprocess.PIPE, stderr=log, env=dict(os.environ),
                         text=True)
    p.stdout.readline()
    return p, p.stdout.readline().strip()


# the same found by the server, once it runs again on the tampered store; then Salesforce goes away
again, admin3 = serve("clm-again")
try:
    r = run("audit", "verify", url=admin3)
    check(r.rc == 1 and ("BROKEN at row %d" % bad_seq) in r.out, "audit verify through the server: the tampered row", r)
    j = run("audit", "verify", "--json", url=admin3).json()
    check(j and j["ok"] is False and j["bad_seq"] == bad_seq and ("row %d" % bad_seq) in j["error"],
          "audit verify --json: ok false, bad_seq", j)
    check(wait_for(lambda: run("status", url=admin3).rc == 0, 60, "healthy again") is not None,
          "status: healthy once the stream is connected again")
    os.kill(int(os.environ["SF_PID"]), signal.SIGKILL)
    r = wait_for(lambda: (lambda x: x if x.rc == 1 else None)(run("status", url=admin3)), 60, "stream down")
    check(r is not None and "org sf: change stream down" in r.out and lines_with(r.out, "DOWN"),
          "status with Salesforce gone: exit 1, the stream named", r)
finally:
    again.terminate()
    again.wait(30)

# a server without the sync engine: nobody will answer a reconcile, and the command says so at once
noeng, admin4 = serve("clm-no-sync", "--no-sync")
try:
    t0 = time.monotonic()
    r = run("reconcile", url=admin4)
    check(r.rc == 5 and "no sync engine runs for it" in r.out and time.monotonic() - t0 < 60,
          "reconcile on a server without the engine: exit 5 without waiting out --wait", r)
    r = run("status", url=admin4)
    check(r.rc == 0 and "sync engine off" in r.out and lines_with(r.out, "no engine"),
          "status of a server without the engine: shown, healthy", r)
finally:
    noeng.terminate()
    noeng.wait(30)
finish()

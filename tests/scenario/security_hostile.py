"""security_hostile.py - test_security_hostile.sh's workload: hostile values both ways."""
import json
import os
import subprocess
import urllib.parse
import urllib.request

from sync_lib import CLM, SF, Http, check, finish, wait_for

sf = SF(os.environ["SF_URL"])
clm = CLM(os.environ["CLM_URL"], os.environ["CLM_TOKEN"])
admin = os.environ["ADMIN_URL"]

FORGE = "\n1999-01-01T00:00:00.000Z error FORGED a forged log line\r\n"
ESC = "terminal \x1b[31mred\x1b[0m \x1b]0;title\x07 \x7f"   # refused by the repository: no such controls
NAMES = [
    "O'Brien \\' OR Name != 'x",                      # a SOQL string broken out of, if unquoted
    "Robert'); DROP TABLE link;-- \"Tables\"",         # SQL
    "<script>alert(1)</script> & <img src=x onerror=alert(2)>",
    "back\\slash \\\\ \\n \\' \\\" %27 %00 ${x} $(id) `id`",
    "\u202eevil\u202c bidi \u2028line \u00e9\u00e8 \U0001F600",
    "LIKE '%' _ * ? ; SELECT Id FROM Account WHERE Name = ''",
]
LONG = ("<b>long</b> '\"\\ " * 2000)[:9990]   # the repository keeps descriptions of up to 10,000 bytes
DESCS = [
    "multi\nline\ttabbed\r\nwindows" + FORGE,
    "' OR 1=1 -- \"; DELETE FROM contract; <script>document.cookie</script>",
    LONG,
]


def admin_get(path):
    rq = urllib.request.Request(admin + path, headers={"Authorization": "Bearer " + os.environ["CLM_TOKEN"]})
    with urllib.request.urlopen(rq, timeout=30) as r:
        return json.loads(r.read())


# Accounts made in Salesforce first (each becomes a counterparty, linked): decoys an unquoted
# name in a WHERE clause would match, and one under a hostile name
decoys = [sf.create("Account", {"Name": n}) for n in ["Decoy One", "x", "Decoy ' Two"]]
pre = sf.create("Account", {"Name": NAMES[0]})
for sid in decoys + [pre]:
    a = sf.get("Account", sid)
    got = wait_for(lambda: (sf.get("Account", sid) or {}).get("CLM_Id__c"), 20)
    r = clm.get("counterparties", got) if got else None
    check(r is not None and r["legal_name"] == a["Name"], "Account %r became a counterparty, exact" % a["Name"], r)

# 1. repository -> Salesforce: hostile names (each matched by name first: nothing may match) and
#    descriptions, exact on the other side
cps = [clm.create("counterparties", {"legal_name": n}) for n in NAMES[1:]]
cts = []
for i, d in enumerate(DESCS):
    cts.append(clm.create("contracts", {"title": NAMES[i + 1][:80], "type": "msa",
                                        "counterparty_id": cps[i]["id"], "description": d}))
for cp in cps:
    got = wait_for(lambda: sf.by_ext("Account", "CLM_Id__c", cp["id"], "Id,Name"), 20)
    check(got and len(got) == 1 and got[0]["Name"] == cp["legal_name"],
          "counterparty %r is one new Account with the exact name" % cp["legal_name"][:30], got)
accs = sf.query("SELECT Id, Name, CLM_Id__c FROM Account")
check(len(accs) == len(decoys) + len(NAMES), "one Account per name, none matched wrongly (%d)" % len(accs), accs)
check(len({a["CLM_Id__c"] for a in accs}) == len(accs), "each linked to its own counterparty", accs)
for a in accs:
    r = clm.get("counterparties", a["CLM_Id__c"]) if a.get("CLM_Id__c") else None
    check(r is not None and r["legal_name"] == a["Name"], "Account %r and its counterparty agree" % a["Name"][:30], r)
log_text = open(os.path.join(os.environ["WORK"], "clm.log"), errors="replace").read()
check("matches the keys" not in log_text, "no match by name went astray")
for ct in cts:
    got = wait_for(lambda: sf.by_ext("Contract", "CLM_Id__c", ct["id"], "Id,Name,Description"), 20)
    check(got and got[0]["Description"] == ct["description"] and got[0]["Name"] == ct["title"],
          "contract description of %d chars exact in Salesforce" % len(ct["description"]), got and got[0]["Description"][:80])

st, b = clm.patch("contracts", cts[0]["id"], {"description": ESC})
check(st == 422 and b["error"]["code"] == "invalid_value" and b["error"]["field"] == "description",
      "terminal escapes are refused by the repository with a structured error", (st, b))

# 2. Salesforce -> repository: hostile values made in Salesforce, exact in the repository
for i, d in enumerate(DESCS):
    sid = sf.by_ext("Contract", "CLM_Id__c", cts[i]["id"])[0]["Id"]
    new = d[::-1] if i < 2 else d + "<end>"
    sf.update("Contract", sid, {"Description": new})
    got = wait_for(lambda: (clm.get("contracts", cts[i]["id"]) or {}).get("description") == new and new, 20)
    check(got, "a hostile description from Salesforce lands exactly (%d chars)" % len(new))
a_new = sf.create("Account", {"Name": NAMES[2] + " (made in Salesforce)"})   # matched by name first
got = wait_for(lambda: [c for c in clm.list("counterparties") if c["legal_name"] == NAMES[2] + " (made in Salesforce)"], 20)
check(got and len(got) == 1, "an Account with a hostile name becomes one counterparty, exact", got)
# a description with terminal escapes from Salesforce: the repository refuses it, the write is
# dead-lettered with the reason, and nothing raw reaches the log (checked by the shell script)
sid2 = sf.by_ext("Contract", "CLM_Id__c", cts[2]["id"])[0]["Id"]
sf.update("Contract", sid2, {"Description": ESC + FORGE})
dl = wait_for(lambda: [d for d in admin_get("/admin/v1/dlq").get("entries", []) if d.get("clm") == cts[2]["id"]
                       or cts[2]["id"] in json.dumps(d)], 20)
check(dl, "the escape-laden description from Salesforce is dead-lettered, not applied", admin_get("/admin/v1/dlq"))
check(clm.get("contracts", cts[2]["id"])["description"] == DESCS[2] + "<end>", "the repository keeps its value")
# 3. round trips stay exact: the repository's records are unchanged by the trip
for cp in cps:
    r = clm.get("counterparties", cp["id"])
    check(r["legal_name"] == cp["legal_name"], "repository name unchanged after the round trip", r["legal_name"][:40])

# 4. invalid UTF-8 is refused with a structured error, nothing written
h = Http(os.environ["CLM_URL"])
before = len(clm.list("counterparties"))
for raw in [b'{"legal_name":"\xc3\x28"}', b'{"legal_name":"ok","country":"\xff\xfe"}', b'{"legal_name":"\xed\xa0\x80"}',
            b'{"legal_name":"\xc0\xaf overlong"}']:
    st, b = h.call("POST", "/api/v1/counterparties", raw, {"Authorization": "Bearer " + clm.token,
                                                           "Content-Type": "application/json"})
    check(st == 400 and isinstance(b, dict) and b["error"]["code"] == "invalid_utf8",
          "invalid UTF-8 %r refused: 400 invalid_utf8" % raw[15:25], (st, b))
st, b = h.call("PATCH", "/api/v1/contracts/%s" % cts[0]["id"], b'{"description":"a\xffb"}',
               {"Authorization": "Bearer " + clm.token, "Content-Type": "application/json"})
check(st == 400 and b["error"]["code"] == "invalid_utf8", "invalid UTF-8 in a change refused", (st, b))
check(len(clm.list("counterparties")) == before, "nothing was written by the refused requests")
check(clm.get("contracts", cts[0]["id"])["description"] == DESCS[0][::-1], "the contract is unchanged")

# 5. the store is whole (SQL text in values was only ever data) and the audit chain verifies
r = subprocess.run([os.environ["CLMSYNC"], "audit", "verify", "--admin-url", admin, "--token-file",
                    os.path.join(os.environ["WORK"], "clm-data", "api-token")], capture_output=True)
check(r.returncode == 0, "audit verify passes", r.stdout[-300:] + r.stderr[-300:])
lin = admin_get("/admin/v1/lineage/contract/" + cts[1]["id"])
check(json.dumps(lin).find("<script>") >= 0, "lineage carries the value as JSON text (the dashboard shows it as text)")
finish()

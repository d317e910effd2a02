"""security_secrets.py - test_security_secrets.sh's workload: a sync both ways, error answers on
both listeners, every operator's view, then the refresh token revoked so that logins fail and the
alert about the dead stream cannot be delivered. Every response body is kept in WORK/seen/ for
security_scan.py."""
import json
import os
import ssl
import subprocess
import time
import urllib.parse
import urllib.request

import sync_lib
from sync_lib import CLM, SF, check, finish, wait_for

WORK = os.environ["WORK"]
SEEN = os.path.join(WORK, "seen")
os.makedirs(SEEN, exist_ok=True)
n_seen = [0]


def keep(what, data):
    n_seen[0] += 1
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with open(os.path.join(SEEN, "%04d-%s" % (n_seen[0], what.replace("/", "_")[:60])), "wb") as f:
        f.write(data or b"")


# every answer either client sees is kept, raw
_call = sync_lib.Http.call


def call(self, method, path, body=None, headers=None, raw=False):
    st, text = _call(self, method, path, body, headers, raw=True)
    if not isinstance(self, SF):   # Salesforce's own answers hold its tokens, rightly
        keep("%s-%s" % (method, path.split("?")[0]), text)
    if raw:
        return st, text
    try:
        return st, json.loads(text) if text else None
    except ValueError:
        return st, text.decode("utf-8", "replace")


sync_lib.Http.call = call
_api = SF.api


def sf_api(self, method, path, body=None, headers=None):
    """The test's own Salesforce session expires every 3 s too: log in again and retry."""
    st, b = _api(self, method, path, body, headers)
    if st == 401:
        self.__init__(self.base)
        st, b = _api(self, method, path, body, headers)
    return st, b


SF.api = sf_api
sync_lib.CLIENT_ID = os.environ["CLIENT_ID"]
sync_lib.SECRET = os.environ["CS"]
sf = SF(os.environ["SF_URL"])
clm = CLM(os.environ["CLM_URL"], os.environ["TA"])
reader = CLM(os.environ["CLM_URL"], os.environ["TR"])
admin = os.environ["ADMIN_URL"]
tls = ssl.create_default_context(cafile=os.path.join(WORK, "tls.crt"))


def admin_get(path, token=os.environ["TA"]):
    rq = urllib.request.Request(admin + path, headers={"Authorization": "Bearer " + token} if token else {})
    try:
        with urllib.request.urlopen(rq, context=tls, timeout=30) as r:
            body, st = r.read(), r.status
    except urllib.error.HTTPError as e:
        body, st = e.read(), e.code
    keep("admin-" + path.split("?")[0], body)
    return st, body


# 1. both ways, with the engine logging in again and again (sessions of 3 s)
cp = clm.create("counterparties", {"legal_name": "Secretive Ltd", "registration_number": "S-1"})
ct = clm.create("contracts", {"title": "Quiet Agreement", "type": "nda", "counterparty_id": cp["id"],
                              "effective_date": "2026-05-01", "term_months": 12, "description": "hush"})
check(wait_for(lambda: sf.by_ext("Contract", "CLM_Id__c", ct["id"]), 20), "the contract reached Salesforce")
a2 = sf.create("Account", {"Name": "Whisper Inc", "Industry": "Finance"})
got = wait_for(lambda: [c for c in clm.list("counterparties") if c["legal_name"] == "Whisper Inc"], 20)
check(got, "the Account reached the repository")
# sessions expire every 3 s: keep changing until the engine has logged in several times
start = time.monotonic()
i = 0
while time.monotonic() - start < 8:
    i += 1
    st, _ = clm.patch("contracts", ct["id"], {"description": "hush %d" % i})
    want = "hush %d" % i
    wait_for(lambda: (sf.by_ext("Contract", "CLM_Id__c", ct["id"], "Description") or [{}])[0].get("Description") == want, 10)
check(i >= 3, "%d changes synced across expiring sessions" % i)

# 2. error answers on both listeners
for bad in [os.environ["TA"] + "x", os.environ["TA"][:-1], os.environ["TR"] + os.environ["TA"], "nope"]:
    st, b = sync_lib.Http(os.environ["CLM_URL"]).call("GET", "/api/v1/contracts", headers={"Authorization": "Bearer " + bad})
    check(st == 401, "a wrong token is refused (401)", (st, b))
st, b = reader.api("POST", "/counterparties", {"legal_name": "Nope"})
check(st == 403, "the read token cannot write (403)", (st, b))
st, b = admin_get("/admin/v1/status", os.environ["TR"])
check(st == 403, "the read token cannot use the admin API (403)")
st, b = admin_get("/admin/v1/status", os.environ["TA"] + "0")
check(st == 401, "a wrong admin token is refused (401)")
st, b = clm.api("POST", "/contracts", "{not json")
check(st == 400, "a malformed body is refused (400)")

# 3. every operator's view
for p in ["/metrics", "/admin/v1/status", "/admin/v1/config", "/admin/v1/audit?limit=1000", "/admin/v1/links?clm=" + ct["id"], "/admin/v1/lineage/contract/" + ct["id"],
          "/admin/v1/mappings", "/admin/v1/dlq", "/admin/v1/conflicts", "/healthz", "/readyz"]:
    st, b = admin_get(p)
    check(st in (200, 503), "GET %s answered" % p, (st, b[:200]))
cli = os.environ["CLMSYNC"]
cfg = os.path.join(WORK, "clm.yaml")
for args in [["status", "--config", cfg, "--admin-url", admin, "--json"],
             ["status", "--config", cfg, "--admin-url", admin],
             ["audit", "search", "--config", cfg, "--admin-url", admin, "--json"],
             ["config", "check", cfg]]:
    r = subprocess.run([cli] + args, capture_output=True, env=dict(os.environ, CLMSYNC_READ_TOKEN=os.environ["TR"]))
    keep("cli-" + "-".join(args[:2]), r.stdout + b"\n" + r.stderr)
    check(r.returncode in (0, 1), "clmsync %s ran (exit %d)" % (" ".join(args[:2]), r.returncode), r.stderr[-300:])

# 4. the refresh token revoked: the next write needs a login, which fails; the write ends in the
#    dead-letter queue, and the alert about it cannot be delivered
st, b = sf.call("POST", "/services/oauth2/revoke", "token=" + urllib.parse.quote(os.environ["RT"]),
                {"Content-Type": "application/x-www-form-urlencoded"})
check(st == 200, "the refresh token revoked", (st, b))
st, b = sf.emu("POST", "expire-sessions")
check(st in (200, 204), "every session expired", (st, b))
st, b = clm.patch("contracts", ct["id"], {"description": "after the revoke"})
check(st == 200, "a change after the revoke", (st, b))
log = os.path.join(WORK, "clm.log")
check(wait_for(lambda: "login refused" in open(log, errors="replace").read(), 30), "the engine's login is refused")
check(wait_for(lambda: "alerts.delivery" in open(log, errors="replace").read(), 40),
      "an alert delivery failed and was logged")
# the dead letter, its error as stored, and the views once more, now with failures in them
for p in ["/admin/v1/dlq", "/admin/v1/status", "/metrics", "/admin/v1/audit?limit=1000"]:
    st, b = admin_get(p)
    check(st == 200, "GET %s answered after the failures" % p, (st, b[:200]))
st, b = admin_get("/admin/v1/dlq")
for e in json.loads(b).get("entries", []):
    admin_get("/admin/v1/dlq/%s" % e["id"])
check(b"login refused" in b, "the dead letter says why (login refused)", b[:300])
finish()

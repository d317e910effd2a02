#!/usr/bin/env python3
"""demo_walk.py - the walk-through of `make demo`: edits on each side and each sync as it happens.

Run by scripts/demo.sh once sfemu and `clmsync serve --config config/examples/demo.yaml` are up:

    demo_walk.py SF_URL CLM_URL CLM_TOKEN_FILE [SF_TOKEN_FILE]

It seeds sfemu with a few Accounts and an Opportunity through the REST API, then creates and
edits records on one side and polls the other (every 5 ms, for at most 10 s) until the change
shows there, printing one line per sync: which way, what changed, how long it took (from the
write to its first sight on the other side). A sync that does not arrive in time is a failure:
a line saying so, and exit status 1. No token is printed; SF_TOKEN_FILE, when given, receives
the Salesforce access token (mode 0600) for the curl examples demo.sh prints.
"""
import http.client
import json
import os
import sys
import time
import urllib.parse

API = "/services/data/v62.0"
CLIENT_ID = "clmsync-test-client"      # sfemu's default client credentials (README.md)
CLIENT_SECRET = os.environ.get("CLMSYNC_DEMO_SECRET", "clmsync-test-secret")
POLL_S = 0.005
DEADLINE_S = 10.0
TO_SF = "repository → Salesforce"
TO_CLM = "Salesforce → repository"

try:
    sys.stdout.reconfigure(encoding="utf-8", errors="replace", line_buffering=True)
except (AttributeError, ValueError):
    pass


class Failure(Exception):
    pass


class Http:
    """One keep-alive connection to one server; answers (status, parsed JSON or None)."""

    def __init__(self, base, name):
        u = urllib.parse.urlparse(base)
        self.host, self.port, self.name = u.hostname, u.port, name
        self.conn = None
        self.auth = {}

    def call(self, method, path, body=None, form=False):
        h = dict(self.auth)
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body)
                h["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body)
                h["Content-Type"] = "application/json"
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                text = r.read()
                break
            except (OSError, http.client.HTTPException) as e:
                self.conn = None
                if attempt == 2:
                    raise Failure("%s: %s %s: %s" % (self.name, method, path.split("?")[0], e))
                time.sleep(0.05)
        try:
            return r.status, (json.loads(text) if text else None)
        except ValueError:
            return r.status, text.decode("utf-8", "replace")

    def must(self, want, method, path, body=None, form=False):
        st, b = self.call(method, path, body, form)
        if st != want:
            raise Failure("%s: %s %s answered HTTP %d: %s" % (self.name, method, path.split("?")[0], st,
                                                               json.dumps(b)[:300]))
        return b


class Salesforce(Http):
    def __init__(self, base):
        super().__init__(base, "sfemu")
        tok = self.must(200, "POST", "/services/oauth2/token",
                        {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                         "client_secret": CLIENT_SECRET}, form=True)
        self.token = tok["access_token"]
        self.auth = {"Authorization": "Bearer " + self.token}

    def create(self, sobject, fields):
        return self.must(201, "POST", "%s/sobjects/%s" % (API, sobject), fields)["id"]

    def update(self, sobject, sid, fields):
        self.must(204, "PATCH", "%s/sobjects/%s/%s" % (API, sobject, sid), fields)

    def get(self, sobject, sid):
        st, b = self.call("GET", "%s/sobjects/%s/%s" % (API, sobject, sid))
        return b if st == 200 else None

    def one(self, soql):
        recs = self.must(200, "GET", "%s/query?q=%s" % (API, urllib.parse.quote(soql)))["records"]
        return recs[0] if recs else None


class Repository(Http):
    def __init__(self, base, token):
        super().__init__(base, "clmsync")
        self.auth = {"Authorization": "Bearer " + token, "X-Clm-User": "demo"}

    def create(self, plural, body):
        return self.must(201, "POST", "/api/v1/" + plural, body)

    def get(self, plural, rid):
        st, b = self.call("GET", "/api/v1/%s/%s" % (plural, rid))
        return b if st == 200 else None

    def patch(self, plural, rid, body):
        return self.must(200, "PATCH", "/api/v1/%s/%s" % (plural, rid), body)

    def transition(self, rid, to):
        return self.must(200, "POST", "/api/v1/contracts/%s/transitions" % rid, {"to": to})

    def counterparties(self):
        return self.must(200, "GET", "/api/v1/counterparties?limit=1000")["data"]


def await_sync(t0, what, where, pred):
    """Polls pred() every POLL_S until it returns a truthy value; answers (value, ms since t0).
    Past the deadline it raises Failure naming what did not arrive where."""
    deadline = t0 + DEADLINE_S
    while True:
        v = pred()
        if v:
            return v, (time.monotonic() - t0) * 1000.0
        if time.monotonic() > deadline:
            raise Failure("%s did not reach %s within %d s" % (what, where, DEADLINE_S))
        time.sleep(POLL_S)


def line(direction, text, ms):
    print("  %s  %s  (%d ms)" % (direction, text, max(1, round(ms))))


def money(v):
    return "%s %s" % (v["amount"], v["currency"])


def walk(sf, clm):
    # --- seed Salesforce: a few Accounts and an Opportunity, as an org would already hold -----
    print("Seeding Salesforce through its REST API: 3 Accounts and an Opportunity")
    t0 = time.monotonic()
    seeded = [("Initech Ltd", "Technology"), ("Umbrella Corporation", "Healthcare"),
              ("Globex Corporation", "Finance")]
    accounts = [sf.create("Account", {"Name": n, "Industry": i, "BillingCountry": "US"}) for n, i in seeded]
    opp = sf.create("Opportunity", {"Name": "Initech platform renewal", "AccountId": accounts[0],
                                    "StageName": "Negotiation/Review", "CloseDate": "2026-06-30",
                                    "Amount": 250000})

    def all_linked():
        ids = []
        for a in accounts:
            r = sf.get("Account", a)
            cp = r and r.get("CLM_Id__c") and clm.get("counterparties", r["CLM_Id__c"])
            if not cp:
                return None
            ids.append(cp["id"])
        return ids
    cps, ms = await_sync(t0, "the seeded Accounts", "the repository", all_linked)
    line(TO_CLM, "%d Accounts created in Salesforce → counterparties %s" % (len(cps), ", ".join(cps)), ms)
    initech_cp = cps[0]
    print()

    # --- the repository: a counterparty and a contract appear in Salesforce -----------------
    print("In the repository (its REST API): a counterparty, a contract, a new value, two transitions")
    t0 = time.monotonic()
    cp = clm.create("counterparties", {"legal_name": "Acme GmbH", "country": "DE", "domain": "acme.example",
                                       "custom": {"industry": "Software"}})
    acc, ms = await_sync(t0, "counterparty %s" % cp["id"], "Salesforce",
                         lambda: sf.one("SELECT Id, Industry FROM Account WHERE CLM_Id__c = '%s'" % cp["id"]))
    line(TO_SF, 'counterparty %s "Acme GmbH" created as Account %s (industry Software → Industry %s)'
         % (cp["id"], acc["Id"], acc["Industry"]), ms)

    t0 = time.monotonic()
    ct = clm.create("contracts", {"title": "Master Services Agreement", "type": "msa", "counterparty_id": cp["id"],
                                  "effective_date": "2026-04-01", "term_months": 24, "payment_terms": "net 30",
                                  "total_value": {"amount": "120000.00", "currency": "EUR"}})
    sc, ms = await_sync(t0, "contract %s" % ct["id"], "Salesforce",
                        lambda: sf.one("SELECT Id, AccountId, Status FROM Contract WHERE CLM_Id__c = '%s'" % ct["id"]))
    sfc = sc["Id"]
    line(TO_SF, 'contract %s %s "Master Services Agreement" created as Contract %s (AccountId %s)'
         % (ct["id"], ct["number"], sfc, sc["AccountId"]), ms)

    t0 = time.monotonic()
    ct = clm.patch("contracts", ct["id"], {"total_value": {"amount": "135000.00", "currency": "EUR"}})
    got, ms = await_sync(t0, "the value of contract %s" % ct["id"], "Salesforce",
                         lambda: (lambda r: r if r and r["CLM_Value__c"] == 135000 else None)(sf.get("Contract", sfc)))
    line(TO_SF, "contract %s total_value 120000.00 EUR → 135000.00 EUR → Contract %s CLM_Value__c %.2f %s"
         % (ct["id"], sfc, got["CLM_Value__c"], got["CLM_Currency__c"]), ms)

    for frm, to, lifecycle in (("draft", "in_review", "In Review"), ("in_review", "in_approval", "In Approval")):
        t0 = time.monotonic()
        clm.transition(ct["id"], to)
        got, ms = await_sync(t0, "the %s transition of contract %s" % (to, ct["id"]), "Salesforce",
                             lambda: (lambda r: r if r and r["CLM_Lifecycle_Status__c"] == lifecycle else None)(
                                 sf.get("Contract", sfc)))
        line(TO_SF, 'contract %s %s → %s → Contract %s CLM_Lifecycle_Status__c "%s", Status "%s"'
             % (ct["id"], frm, to, sfc, got["CLM_Lifecycle_Status__c"], got["Status"]), ms)
    print()

    # --- Salesforce: edits and a new Account reach the repository ------------------------------
    print("In Salesforce (its REST API): the contract's Description, a new Account")
    text = "Renewal terms agreed with Acme legal"
    t0 = time.monotonic()
    sf.update("Contract", sfc, {"Description": text})
    got, ms = await_sync(t0, "the Description of Contract %s" % sfc, "the repository",
                         lambda: (lambda r: r if r and r.get("description") == text else None)(
                             clm.get("contracts", ct["id"])))
    line(TO_CLM, 'Contract %s Description "%s" → contract %s description (version %d)'
         % (sfc, text, ct["id"], got["version"]), ms)

    t0 = time.monotonic()
    hooli = sf.create("Account", {"Name": "Hooli Inc", "Industry": "Technology", "BillingCountry": "US"})
    got, ms = await_sync(t0, "Account %s" % hooli, "the repository",
                         lambda: next((c for c in clm.counterparties() if c["legal_name"] == "Hooli Inc"), None))
    line(TO_CLM, 'Account %s "Hooli Inc" created → counterparty %s (Industry Technology → industry %s)'
         % (hooli, got["id"], got.get("custom", {}).get("industry")), ms)

    print()

    # A contract for a seeded counterparty, tied to the seeded Opportunity: the contract's status
    # goes onto the Opportunity; the Opportunity's amount and stage come back into the contract.
    print("In the repository: a contract tied to the seeded Opportunity (status out; amount and stage in)")
    t0 = time.monotonic()
    oct_ = clm.create("contracts", {"title": "Initech Order Form", "type": "order_form",
                                    "counterparty_id": initech_cp, "effective_date": "2026-07-01",
                                    "term_months": 12, "salesforce_opportunity_id": opp,
                                    "total_value": {"amount": "250000.00", "currency": "USD"}})
    o, ms = await_sync(t0, "the status of contract %s" % oct_["id"], "Opportunity %s" % opp,
                       lambda: (lambda r: r if r and r.get("CLM_Contract_Status__c") == "Draft" else None)(
                           sf.get("Opportunity", opp)))
    line(TO_SF, 'contract %s "Initech Order Form" (draft) → Opportunity %s CLM_Contract_Status__c "%s"'
         % (oct_["id"], opp, o["CLM_Contract_Status__c"]), ms)
    got, ms = await_sync(t0, "the amount and stage of Opportunity %s" % opp, "the repository",
                         lambda: (lambda r: r if r and r.get("custom", {}).get("opportunity_stage") else None)(
                             clm.get("contracts", oct_["id"])))
    line(TO_CLM, 'Opportunity %s Amount %.2f, StageName "%s" → contract %s opportunity_amount %s, '
         'opportunity_stage "%s"' % (opp, o["Amount"], o["StageName"], oct_["id"],
                                     got["custom"].get("opportunity_amount"), got["custom"]["opportunity_stage"]), ms)

    print()

    # An edit of a field the repository owns is put back.
    print("In Salesforce: an edit of a field the repository owns")
    before = sf.get("Contract", sfc)["Status"]
    t0 = time.monotonic()
    sf.update("Contract", sfc, {"Status": "Activated"})
    got, ms = await_sync(t0, "the revert of Contract %s Status" % sfc, "Salesforce",
                         lambda: (lambda r: r if r and r["Status"] == before else None)(sf.get("Contract", sfc)))
    kept = clm.get("contracts", ct["id"])["status"]
    if kept != "in_approval":
        raise Failure("contract %s is %s after a Salesforce edit of Status, wanted in_approval" % (ct["id"], kept))
    line(TO_SF, 'Contract %s Status "Activated" (a Salesforce edit of a repository-owned field) reverted to '
         '"%s"; contract %s stays %s' % (sfc, got["Status"], ct["id"], kept), ms)
    print()
    return ct["id"], sfc


def main():
    if len(sys.argv) not in (4, 5):
        print("usage: demo_walk.py SF_URL CLM_URL CLM_TOKEN_FILE [SF_TOKEN_FILE]", file=sys.stderr)
        return 2
    sf_url, clm_url, token_file = sys.argv[1:4]
    try:
        with open(token_file) as f:
            token = f.read().strip()
        sf, clm = Salesforce(sf_url), Repository(clm_url, token)
        if len(sys.argv) == 5:
            fd = os.open(sys.argv[4], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(sf.token)
        ctid, sfc = walk(sf, clm)
    except (Failure, OSError) as e:
        print("FAILED: %s" % e, flush=True)
        return 1
    print("Try (tokens are read from their files, never printed):")
    print('  curl -H "Authorization: Bearer $(cat %s)" %s/api/v1/contracts/%s' % (token_file, clm_url, ctid))
    if len(sys.argv) == 5:
        print('  curl -H "Authorization: Bearer $(cat %s)" %s%s/sobjects/Contract/%s' % (sys.argv[4], sf_url, API, sfc))
    return 0


if __name__ == "__main__":
    sys.exit(main())

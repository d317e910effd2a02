"""sync_lib.py - clients and checks for the sync engine's scenario tests (real sfemu and clmsync processes).

Imported by the tests/scenario/sync_*.py scenarios, which the test_sync_*.sh scripts run after
starting the processes. Everything talks HTTP on loopback; waits poll a condition with a deadline.
"""
import http.client
import json
import os
import sys
import time
import urllib.parse

API = "/services/data/v62.0"
CLIENT_ID = "clmsync-test-client"
SECRET = "clmsync-test-secret"

PASSES = 0
FAILS = 0


def ok(what):
    global PASSES
    PASSES += 1
    print("ok   " + what, flush=True)


def bad(what):
    global FAILS
    FAILS += 1
    print("FAIL " + what, flush=True)


def check(cond, what, detail=""):
    if cond:
        ok(what)
    else:
        bad(what + (": " + str(detail)[:600] if detail != "" else ""))
    return cond


def finish():
    print("%d passed, %d failed" % (PASSES, FAILS), flush=True)
    sys.exit(1 if FAILS else 0)


def wait_for(pred, timeout=15.0, what="condition"):
    """Polls pred() until it returns a truthy value or the deadline passes; returns the value or None."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)



class OneAttempt:
    """A keep-alive connection to base for clients that outlast injected faults: once() makes
    one attempt, with no retry, and says when the connection failed."""

    def __init__(self, base, timeout=60):
        u = urllib.parse.urlparse(base)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.c = None

    def once(self, method, path, body=None, headers=None):
        """One attempt: (status, parsed body), or (None, None) when the connection failed."""
        h = dict(headers or {})
        data = body
        if body is not None and not isinstance(body, str):
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        try:
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.c.request(method, path, body=data, headers=h)
            r = self.c.getresponse()
            text = r.read()
        except (OSError, http.client.HTTPException):
            if self.c is not None:
                self.c.close()
            self.c = None
            return None, None
        try:
            return r.status, json.loads(text) if text else None
        except ValueError:
            return r.status, text

class Http:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.c = None

    def call(self, method, path, body=None, headers=None, raw=False):
        h = dict(headers or {})
        data = None
        if body is not None:
            if isinstance(body, (bytes, str)):
                data = body
            else:
                data = json.dumps(body)
                h.setdefault("Content-Type", "application/json")
        for attempt in range(3):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.c.request(method, path, body=data, headers=h)
                r = self.c.getresponse()
                text = r.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                self.c = None
                if attempt == 2:
                    raise
                time.sleep(0.1)
        if raw:
            return r.status, text
        try:
            return r.status, json.loads(text) if text else None
        except ValueError:
            return r.status, text.decode("utf-8", "replace")


class SF(Http):
    """A Salesforce client for sfemu (the same wire a real org speaks)."""

    def __init__(self, base):
        super().__init__(base)
        self.base = base
        st, tok = self.call("POST", "/services/oauth2/token",
                            "grant_type=client_credentials&client_id=%s&client_secret=%s" % (CLIENT_ID, SECRET),
                            {"Content-Type": "application/x-www-form-urlencoded"})
        assert st == 200, tok
        self.token = tok["access_token"]

    def api(self, method, path, body=None, headers=None):
        h = {"Authorization": "Bearer " + self.token}
        h.update(headers or {})
        return self.call(method, API + path, body, h)

    def create(self, sobject, fields):
        st, b = self.api("POST", "/sobjects/%s" % sobject, fields)
        assert st == 201, (st, b)
        return b["id"]

    def update(self, sobject, sid, fields):
        st, b = self.api("PATCH", "/sobjects/%s/%s" % (sobject, sid), fields)
        assert st == 204, (st, b)

    def delete(self, sobject, sid):
        st, b = self.api("DELETE", "/sobjects/%s/%s" % (sobject, sid))
        assert st == 204, (st, b)

    def get(self, sobject, sid):
        st, b = self.api("GET", "/sobjects/%s/%s" % (sobject, sid))
        return b if st == 200 else None

    def query(self, soql):
        st, b = self.api("GET", "/query?q=" + urllib.parse.quote(soql))
        assert st == 200, (st, b)
        recs = b["records"]
        while not b.get("done", True):
            st, b = self.call("GET", b["nextRecordsUrl"], headers={"Authorization": "Bearer " + self.token})
            recs += b["records"]
        return recs

    def query_all(self, soql):
        """queryAll: deleted records (the recycle bin) too, with IsDeleted."""
        st, b = self.api("GET", "/queryAll?q=" + urllib.parse.quote(soql))
        assert st == 200, (st, b)
        return b["records"]

    def by_ext(self, sobject, ext_field, clm_id, fields="Id"):
        r = self.query("SELECT %s FROM %s WHERE %s = '%s'" % (fields, sobject, ext_field, clm_id))
        return r

    def emu(self, method, path, body=None):
        return self.call(method, "/__emu/" + path, body)

    def counters(self):
        return self.emu("GET", "counters")[1]


class CLM(Http):
    def __init__(self, base, token):
        super().__init__(base)
        self.token = token

    def api(self, method, path, body=None, headers=None):
        h = {"Authorization": "Bearer " + self.token}
        h.update(headers or {})
        return self.call(method, "/api/v1" + path, body, h)

    def create(self, plural, body):
        st, b = self.api("POST", "/" + plural, body)
        assert st == 201, (st, b)
        return b

    def get(self, plural, rid):
        st, b = self.api("GET", "/%s/%s" % (plural, rid))
        return b if st == 200 else None

    def patch(self, plural, rid, body):
        return self.api("PATCH", "/%s/%s" % (plural, rid), body)

    def transition(self, rid, to, reason=None):
        body = {"to": to}
        if reason:
            body["reason"] = reason
        return self.api("POST", "/contracts/%s/transitions" % rid, body)

    def list(self, plural, query=""):
        out, cursor = [], None
        while True:
            st, b = self.api("GET", "/%s?limit=1000%s%s" % (plural, query,
                             "&cursor=" + urllib.parse.quote(cursor) if cursor else ""))
            assert st == 200, (st, b)
            out += b["data"]
            cursor = b.get("next_cursor")
            if not cursor:
                return out

    def changes(self, after=0):
        rows = []
        while True:
            st, b = self.api("GET", "/changes?after=%d&limit=10000" % after)
            assert st == 200, (st, b)
            rows += b["data"]
            if not b["data"]:
                return rows
            after = b["next_after"]


def config_yaml(store, orgs, mappings_yaml, extra="", max_attempts=6, custom_attrs="",
                admin="  enabled: false     # lib.sh turns it on with --admin-listen 127.0.0.1:0 (a free port)\n"):
    """A configuration: orgs is a list of (name, sfemu URL); mappings_yaml the mappings section;
    max_attempts the retries of a write before the dead-letter queue; custom_attrs more
    custom_attributes entries (YAML lines under custom_attributes:); admin the body of the admin
    section; extra more top-level sections."""
    o = ""
    for name, url in orgs:
        o += """  - name: %s
    login_url: %s
    instance_url: %s
    api_version: "62.0"
    auth:
      type: client_credentials
      client_id: %s
      client_secret_env: CLMSYNC_TEST_SECRET
    client_name: clmsync
""" % (name, url, url, CLIENT_ID)
    return """store: sqlite:%s
data_dir: %s
repository:
  listen: 127.0.0.1:8440
admin:
%s
custom_attributes:
  counterparty:
    - name: industry
      type: picklist
      values: [Software, Manufacturing, Finance, Healthcare, Other]
    - name: revenue
      type: decimal
  contract:
    - name: region
      type: picklist
      values: [EMEA, AMER, APAC]
    - name: opportunity_amount
      type: decimal
    - name: opportunity_stage
      type: text
      max_length: 40
%s
orgs:
%s
mappings:
%s
sync:
  linger_ms: 5
  retry:
    initial_ms: 50
    max_ms: 500
    max_attempts: %d
%s
log:
  level: info
""" % (store, os.path.dirname(store), admin.rstrip("\n"), custom_attrs, o, mappings_yaml, max_attempts, extra)


def standard_mappings(org, contract_status_owner="clm", description="both", description_conflict="manual",
                      name_conflict="last_writer_wins", industry_conflict="salesforce_wins", route=None,
                      suffix="", title_owner="clm", contract_sf_delete="delete", contract_fields="",
                      special_terms_owner="salesforce", revenue_owner="salesforce", start_date_owner="clm"):
    """Counterparty <-> Account and contract <-> Contract, as the shipped example maps them.
    special_terms_owner=clm makes SpecialTerms (custom.opportunity_stage) a field the repository
    writes, so that a repository value can meet sfemu's validation rule on it. A second org's
    counterparties take revenue_owner=clm: a field owned by Salesforce in two orgs a counterparty
    is routed to would have two masters, which the configuration refuses. start_date_owner=both
    lets Salesforce edit StartDate (effective_date, from which the repository derives the
    expiration date), weighed last_writer_wins."""
    route_yaml = "all" if route is None else "{field: custom.region, in: [%s]}" % ", ".join(route)
    special_terms = "owner: salesforce, non_owner_write: ignore" if special_terms_owner == "salesforce" \
        else "owner: %s" % special_terms_owner
    return """  - name: counterparties%(s)s
    org: %(org)s
    entity: counterparty
    sobject: Account
    external_id_field: CLM_Id__c
    match: {by: external_id}
    route: all
    on_create: {clm: create, salesforce: create}
    on_delete: {clm: ignore, salesforce: ignore}
    fields:
      - {clm: legal_name, sf: Name, owner: both, conflict: %(nc)s}
      - {clm: registration_number, sf: CLM_Registration_Number__c, owner: clm, non_owner_write: ignore}
      - {clm: custom.revenue, sf: AnnualRevenue, owner: %(ro)s, transform: decimal_to_currency, scale: 2}
      - clm: status
        sf: CLM_Status__c
        owner: clm
        value_map: {active: Active, inactive: Inactive, blocked: Blocked}
      - clm: custom.industry
        sf: Industry
        owner: both
        conflict: %(ic)s
        value_map: {Software: Technology, Manufacturing: Manufacturing, Finance: Finance, Healthcare: Healthcare, Other: Other}
  - name: contracts%(s)s
    org: %(org)s
    entity: contract
    sobject: Contract
    external_id_field: CLM_Id__c
    route: %(route)s
    on_create: {clm: create, salesforce: create}
    on_delete: {clm: terminate, salesforce: %(csd)s}
    fields:
      - {clm: title, sf: Name, owner: %(to)s, transform: truncate, max_length: 80, allow_truncate: true}
      - {clm: number, sf: CLM_Number__c, owner: clm}
      - {clm: counterparty_id, sf: AccountId, owner: clm, lookup: {mapping: counterparties%(s)s}}
      - clm: type
        sf: CLM_Type__c
        owner: clm
        value_map: {msa: MSA, sow: SOW, nda: NDA, order_form: Order Form, amendment: Amendment, renewal: Renewal, other: Other}
      - {clm: effective_date, sf: StartDate, owner: %(sdo)s}
      - {clm: term_months, sf: ContractTerm, owner: clm}
      - {clm: expiration_date, sf: CLM_Renewal_Date__c, owner: clm}
      - {clm: auto_renew, sf: CLM_Auto_Renew__c, owner: clm}
      - {clm: total_value, sf: CLM_Value__c, owner: clm, transform: money_amount, scale: 2}
      - {clm: total_value, sf: CLM_Currency__c, owner: clm, transform: money_currency}
      - {clm: payment_terms, sf: CLM_Payment_Terms__c, owner: clm}
      - {clm: description, sf: Description, owner: %(d)s%(dc)s}
      - {clm: governing_law, sf: CLM_Governing_Law__c, owner: salesforce}
      - {clm: custom.opportunity_stage, sf: SpecialTerms, %(st)s}
      - {clm: customer_signed_date, sf: CustomerSignedDate, owner: both, conflict: last_writer_wins}
      - clm: status
        sf: CLM_Lifecycle_Status__c
        owner: %(cso)s
        value_map: {draft: Draft, in_review: In Review, in_approval: In Approval, approved: Approved, in_signature: In Signature, signed: Signed, active: Active, expired: Expired, terminated: Terminated, renewed: Renewed}
      - clm: status
        sf: Status
        owner: clm
        non_owner_write: revert
        value_map: {draft: Draft, in_review: Draft, in_approval: In Approval Process, approved: In Approval Process, in_signature: In Approval Process, signed: In Approval Process, active: Activated}
        not_synced: [expired, terminated, renewed]
%(cf)s""" % {"org": org, "ro": revenue_owner, "cf": contract_fields, "s": suffix, "nc": name_conflict, "ic": industry_conflict, "route": route_yaml,
       "d": description, "dc": (", conflict: " + description_conflict) if description == "both" else "",
       "cso": contract_status_owner, "to": title_owner, "csd": contract_sf_delete, "st": special_terms,
       "sdo": start_date_owner if start_date_owner == "clm" else start_date_owner + ", conflict: last_writer_wins"}


# Scenario 10: more custom attributes of contracts, and those of obligations (config_yaml's
# custom_attrs: they continue the contract list, then open the obligation list).
CUSTOM_ATTRS = """    - {name: risk_score, type: number}
    - {name: budget, type: decimal}
    - {name: review_date, type: date}
    - {name: confidential, type: boolean}
    - {name: notes, type: text, max_length: 1000}
  obligation:
    - {name: penalty, type: decimal}
    - {name: effort_hours, type: number}
"""

# Contract custom attributes <-> custom fields on Contract (standard_mappings' contract_fields).
CUSTOM_CONTRACT_FIELDS = """      - clm: custom.region
        sf: CLM_Region__c
        owner: both
        conflict: salesforce_wins
        value_map: {EMEA: Europe, AMER: Americas, APAC: Asia Pacific}
      - {clm: custom.risk_score, sf: CLM_Risk_Score__c, owner: both, conflict: last_writer_wins}
      - {clm: custom.budget, sf: CLM_Budget__c, owner: both, conflict: last_writer_wins, transform: decimal_to_currency, scale: 2}
      - {clm: custom.review_date, sf: CLM_Review_Date__c, owner: both, conflict: last_writer_wins}
      - {clm: custom.confidential, sf: CLM_Confidential__c, owner: clm}
      - {clm: custom.notes, sf: CLM_Notes__c, owner: both, conflict: last_writer_wins}
"""


def obligation_mapping(org, suffix="", follow=False):
    """Obligations <-> the custom object Obligation__c (tests/scenario/sync_custom_schema.json),
    each under its contract through the lookup Contract__c; follow: routed with their contract
    (route: parent)."""
    return """  - name: obligations%(s)s
    org: %(org)s
    entity: obligation
    sobject: Obligation__c
    external_id_field: CLM_Id__c%(route)s
    on_create: {clm: create, salesforce: create}
    on_delete: {clm: delete, salesforce: delete}
    fields:
      - {clm: contract_id, sf: Contract__c, owner: clm, lookup: {mapping: contracts%(s)s}}
      - {clm: description, sf: Description__c, owner: both, conflict: last_writer_wins}
      - {clm: owner, sf: Owner_Name__c, owner: both, conflict: last_writer_wins}
      - {clm: due_date, sf: Due_Date__c, owner: both, conflict: last_writer_wins}
      - clm: status
        sf: Status__c
        owner: both
        conflict: salesforce_wins
        value_map: {open: Open, done: Done, waived: Waived}
      - clm: recurrence
        sf: Recurrence__c
        owner: clm
        value_map: {none: None, monthly: Monthly, quarterly: Quarterly, semiannual: Semi-annual, annual: Annual}
      - {clm: custom.penalty, sf: Penalty__c, owner: both, conflict: last_writer_wins, transform: decimal_to_currency, scale: 2}
      - {clm: custom.effort_hours, sf: Effort_Hours__c, owner: both, conflict: last_writer_wins}
""" % {"org": org, "s": suffix, "route": "\n    route: parent" if follow else ""}


def env():
    """The URLs and token the shell script passes in the environment."""
    return os.environ["SF_URL"], os.environ["CLM_URL"], os.environ["CLM_TOKEN"]

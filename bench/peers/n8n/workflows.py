#!/usr/bin/env python3
"""workflows.py --sf URL --clm URL --token-file F --out DIR: n8n's credentials and two-way workflows for the peer comparison.

Writes DIR/credentials.json and DIR/workflows/*.json for `n8n import:credentials` and
`n8n import:workflow --separate`. Built from n8n's own nodes, as its documentation shows them:

Salesforce -> repository ("Contracts: Salesforce to repository"):
  Salesforce Trigger (On Custom Object Updated, object Contract, polling every minute: the
  shortest its poll times allow) -> Salesforce (Custom Object: Get, the record whole; the trigger
  returns ids only) -> HTTP Request (GET the repository contract named by CLM_Id__c) -> Code
  (keep the records whose Description differs) -> HTTP Request (PATCH description, as
  X-Clm-User: n8n-sync).
Repository -> Salesforce ("Contracts: repository to Salesforce"):
  Schedule Trigger (every second: the shortest interval it allows) -> Code (the feed position,
  kept in the workflow's static data) -> HTTP Request (GET /api/v1/changes after it, 200 rows)
  -> Code (advance the position; one item per record changed, not by us) -> HTTP Request (GET
  the record) -> If (counterparty?) -> Salesforce (Account: Create or Update by CLM_Id__c) ->
  Code (remember its Account id) | Code (the Account of the contract's counterparty) ->
  Salesforce (Custom Object Contract: Create or Update by CLM_Id__c: Name, Description,
  CLM_Payment_Terms__c, CLM_Value__c, AccountId).

The Salesforce credential is n8n's OAuth2 one; its session is obtained here from sfemu's token
endpoint (the refresh token grant), as the browser flow would have left it. Nothing is printed.
"""
import argparse
import json
import os
import urllib.parse
import urllib.request

SF_CRED = {"id": "peersSalesforce1", "name": "sfemu (OAuth2)"}
REPO_CRED = {"id": "peersRepoToken01", "name": "clmsync repository token"}
CLIENT = "n8n-sync"


def node(name, type_, version, params, pos, creds=None):
    n = {"id": "%08x-0000-4000-8000-%012x" % (abs(hash(name)) % (1 << 32), abs(hash(name + "#")) % (1 << 48)),
         "name": name, "type": type_, "typeVersion": version, "position": pos, "parameters": params}
    if creds:
        n["credentials"] = creds
    return n


def http(name, method, url, pos, body=None):
    p = {"method": method, "url": url, "authentication": "genericCredentialType",
         "genericAuthType": "httpHeaderAuth", "options": {}}
    if body is not None:
        p.update({"sendHeaders": True, "headerParameters": {"parameters": [{"name": "X-Clm-User", "value": CLIENT}]},
                  "sendBody": True, "specifyBody": "json", "jsonBody": body})
    return node(name, "n8n-nodes-base.httpRequest", 4.2, p, pos, {"httpHeaderAuth": REPO_CRED})


def code(name, js, pos, each=False):
    p = {"jsCode": js}
    if each:
        p["mode"] = "runOnceForEachItem"
    return node(name, "n8n-nodes-base.code", 2, p, pos)


def sfnode(name, params, pos):
    return node(name, "n8n-nodes-base.salesforce", 1, params, pos, {"salesforceOAuth2Api": SF_CRED})


def chain(*names):
    c = {}
    for a, b in zip(names, names[1:]):
        c.setdefault(a, {"main": [[]]})["main"][0].append({"node": b, "type": "main", "index": 0})
    return c


def sf_to_repo(clm):
    nodes = [
        node("Contract updated", "n8n-nodes-base.salesforceTrigger", 1,
             {"triggerOn": "customObjectUpdated", "customObject": "Contract",
              "pollTimes": {"item": [{"mode": "everyMinute"}]}}, [0, 0], {"salesforceOAuth2Api": SF_CRED}),
        sfnode("Get contract", {"resource": "customObject", "operation": "get", "customObject": "Contract",
                                "recordId": "={{ $json.Id }}"}, [220, 0]),
        http("Read repository contract", "GET", "=%s/api/v1/contracts/{{ $json.CLM_Id__c }}" % clm, [440, 0]),
        code("Changed?", """const sf = $('Get contract').all();
const out = [];
$input.all().forEach((item, i) => {
  const s = sf[i].json, r = item.json;
  if (!s.CLM_Id__c || !r || !r.id) return;
  if ((r.description ?? null) !== (s.Description ?? null))
    out.push({ json: { id: r.id, description: s.Description ?? null } });
});
return out;""", [660, 0]),
        http("Write repository contract", "PATCH", "=%s/api/v1/contracts/{{ $json.id }}" % clm, [880, 0],
             body="={{ JSON.stringify({ description: $json.description }) }}"),
    ]
    # a contract not in the repository (404) must not stop the others
    nodes[2]["parameters"]["options"] = {"response": {"response": {"neverError": True}}}
    return {"id": "peersSfToRepo001", "name": "Contracts: Salesforce to repository", "active": False,
            "nodes": nodes, "connections": chain(*[n["name"] for n in nodes]),
            "settings": {"executionOrder": "v1"}, "pinData": {}}


def repo_to_sf(clm):
    nodes = [
        node("Every second", "n8n-nodes-base.scheduleTrigger", 1.2,
             {"rule": {"interval": [{"field": "seconds", "secondsInterval": 1}]}}, [0, 0]),
        code("Feed position", "const s = $getWorkflowStaticData('global');\nreturn [{ json: { after: s.after || 0 } }];",
             [200, 0]),
        http("Read change feed", "GET", "=%s/api/v1/changes?after={{ $json.after }}&limit=200" % clm, [400, 0]),
        code("Changed records", """const s = $getWorkflowStaticData('global');
const res = $input.first().json;
if (typeof res.next_after === 'number') s.after = res.next_after;
const seen = new Map();
for (const r of res.data || []) {
  if (r.op === 'delete' || r.origin === 'user:%s') continue;
  if (r.entity !== 'contract' && r.entity !== 'counterparty') continue;
  seen.set(r.entity + ':' + r.id, { entity: r.entity, id: r.id });
}
// counterparties first: a new contract needs its Account
return [...seen.values()]
  .sort((a, b) => (a.entity === 'counterparty' ? 0 : 1) - (b.entity === 'counterparty' ? 0 : 1))
  .map((j) => ({ json: j }));""" % CLIENT, [600, 0]),
        http("Read record", "GET",
             "=%s/api/v1/{{ $json.entity === 'counterparty' ? 'counterparties' : 'contracts' }}/{{ $json.id }}" % clm,
             [800, 0]),
        node("Counterparty?", "n8n-nodes-base.if", 1,
             {"conditions": {"string": [{"value1": "={{ $json.id.slice(0, 3) }}", "value2": "cp_"}]}}, [1000, 0]),
        sfnode("Upsert Account", {"resource": "account", "operation": "upsert", "externalId": "CLM_Id__c",
                                  "externalIdValue": "={{ $json.id }}", "name": "={{ $json.legal_name }}",
                                  "additionalFields": {}}, [1200, -100]),
        code("Remember Account", """const s = $getWorkflowStaticData('global');
s.accounts = s.accounts || {};
s.accounts[$('Read record').item.json.id] = $json.id;
return $input.item;""", [1400, -100], each=True),
        code("Account of contract", """const s = $getWorkflowStaticData('global');
return { json: { ...$json, account_id: (s.accounts || {})[$json.counterparty_id] || null } };""", [1200, 100], each=True),
        sfnode("Upsert Contract", {
            "resource": "customObject", "operation": "upsert", "customObject": "Contract",
            "externalId": "CLM_Id__c", "externalIdValue": "={{ $json.id }}",
            "customFieldsUi": {"customFieldsValues": [
                {"fieldId": "Name", "value": "={{ $json.title.slice(0, 80) }}"},
                {"fieldId": "Description", "value": "={{ $json.description ?? null }}"},
                {"fieldId": "CLM_Payment_Terms__c", "value": "={{ $json.payment_terms ?? null }}"},
                {"fieldId": "CLM_Value__c", "value": "={{ $json.total_value ? Number($json.total_value.amount) : null }}"},
                {"fieldId": "AccountId", "value": "={{ $json.account_id }}"},
            ]}}, [1400, 100]),
    ]
    c = chain("Every second", "Feed position", "Read change feed", "Changed records", "Read record", "Counterparty?")
    c["Counterparty?"] = {"main": [[{"node": "Upsert Account", "type": "main", "index": 0}],
                                   [{"node": "Account of contract", "type": "main", "index": 0}]]}
    c.update(chain("Upsert Account", "Remember Account"))
    c.update(chain("Account of contract", "Upsert Contract"))
    return {"id": "peersRepoToSf001", "name": "Contracts: repository to Salesforce", "active": False,
            "nodes": nodes, "connections": c, "settings": {"executionOrder": "v1"}, "pinData": {}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sf", required=True)
    ap.add_argument("--clm", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--out", required=True)
    o = ap.parse_args()
    clm_token = open(o.token_file).read().split()[0]
    form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": "clmsync-test-refresh-token",
                                   "client_id": "clmsync-test-client", "client_secret": "clmsync-test-secret"})
    with urllib.request.urlopen(o.sf + "/services/oauth2/token", form.encode()) as r:
        tok = json.load(r)
    tok.setdefault("refresh_token", "clmsync-test-refresh-token")
    creds = [
        dict(SF_CRED, type="salesforceOAuth2Api", data={
            "environment": "production", "grantType": "authorizationCode",
            "authUrl": o.sf + "/services/oauth2/authorize", "accessTokenUrl": o.sf + "/services/oauth2/token",
            "clientId": "clmsync-test-client", "clientSecret": "clmsync-test-secret",
            "scope": "full refresh_token", "authQueryParameters": "", "authentication": "header",
            "oauthTokenData": tok}),
        dict(REPO_CRED, type="httpHeaderAuth", data={"name": "Authorization", "value": "Bearer " + clm_token}),
    ]
    old = os.umask(0o077)
    with open(os.path.join(o.out, "credentials.json"), "w") as f:
        json.dump(creds, f)
    os.umask(old)
    os.makedirs(os.path.join(o.out, "workflows"), exist_ok=True)
    for wf in (sf_to_repo(o.clm), repo_to_sf(o.clm)):
        with open(os.path.join(o.out, "workflows", wf["id"] + ".json"), "w") as f:
            json.dump(wf, f, indent=1)


if __name__ == "__main__":
    main()

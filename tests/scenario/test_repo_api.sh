#!/usr/bin/env bash
# test_repo_api.sh - the contract repository over HTTP: auth, CRUD, ETags, lifecycle, amendments,
# renewal, history, documents, the change feed (long poll), the scheduler and bad input.
. "$(dirname "$0")/lib.sh"

export CLM_ADMIN_TOKEN=admin-token-0123456789abcdef
export CLM_WRITE_TOKEN=write-token-0123456789abcdef
export CLM_READ_TOKEN=read-token-0123456789abcdef
cat >"$WORK/clm.yaml" <<'YAML'
repository:
  max_body: 64 KiB
  max_document_size: 16 KiB
  scheduler_interval: 3600
api_tokens:
  - name: ops
    role: admin
    token_env: CLM_ADMIN_TOKEN
  - name: crm
    role: write
    token_env: CLM_WRITE_TOKEN
  - name: auditor
    role: read
    token_env: CLM_READ_TOKEN
custom_attributes:
  contract:
    - name: region
      type: picklist
      values: [EMEA, AMER, APAC]
    - name: discount_rate
      type: decimal
YAML

start_clmsync repo --config "$WORK/clm.yaml"
U="$URL_repo/api/v1"
W=(-H "Authorization: Bearer $CLM_WRITE_TOKEN" -H "Content-Type: application/json")
WA=(-H "Authorization: Bearer $CLM_WRITE_TOKEN")
R=(-H "Authorization: Bearer $CLM_READ_TOKEN")
AD=(-H "Authorization: Bearer $CLM_ADMIN_TOKEN")

# jf EXPR: evaluates a Python expression on the last body (j) and prints it.
jf() { BODY="$BODY" python3 -c "import json,os; j=json.loads(os.environ['BODY']); print($1)"; }
# head_seq: the change feed's last sequence number.
head_seq() { req GET "$U/changes?after=0&limit=10000" "${R[@]}"; jf 'j["next_after"]'; }
hdr() { grep -i "^$1:" "$WORK/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
today=$(date -u +%F)
past() { date -u -d "$1 days ago" +%F; }

# --- health and authentication
req GET "$URL_repo/healthz"; expect_status 200 "health check needs no token"
req GET "$U/contracts"; expect_status 401 "no token"
expect_json 'j["error"]["code"] == "unauthenticated"' "401 has the error shape"
req GET "$U/contracts" -H "Authorization: Bearer wrong-token-wrong-token"; expect_status 401 "wrong token"
req GET "$U/contracts" "${R[@]}"; expect_status 200 "read token reads"
req POST "$U/counterparties" "${R[@]}" -d '{"legal_name":"X"}'; expect_status 403 "read token cannot write"
req POST "$U/scheduler/run" "${W[@]}"; expect_status 403 "write token cannot run the scheduler"
req GET "$U/openapi.json" "${R[@]}"; expect_status 200 "OpenAPI description"
expect_json '"/api/v1/contracts/{id}/transitions" in j["paths"] and j["openapi"].startswith("3.")' "OpenAPI lists the endpoints"

# --- counterparties
req POST "$U/counterparties" "${W[@]}" -d '{"legal_name":"Acme GmbH","country":"DE","domain":"acme.de","registration_number":"HRB 1234"}'
expect_status 201 "create counterparty"
expect_json 'j["id"].startswith("cp_") and j["version"] == 1 and j["updated_by"] == "api:crm" and j["status"] == "active"' "counterparty shape"
CP=$(jf 'j["id"]')
req POST "$U/counterparties" "${W[@]}" -d "{\"legal_name\":\"Robert'); DROP TABLE records;--\"}"
expect_status 201 "SQL-looking text is only text"
CP2=$(jf 'j["id"]')
req GET "$U/counterparties/$CP2" "${R[@]}"
expect_json 'j["legal_name"] == "Robert\x27); DROP TABLE records;--"' "stored verbatim"
req PATCH "$U/counterparties/$CP" "${W[@]}" -H "X-Clm-User: alice" -d '{"domain":"acme.com"}'
expect_status 200 "patch counterparty"
expect_json 'j["version"] == 2 and j["domain"] == "acme.com" and j["updated_by"] == "user:alice"' "patched by user:alice"

# --- contracts: create, ETag, If-Match
req POST "$U/contracts" "${W[@]}" -D "$WORK/hdr" -d "{\"title\":\"Master Services Agreement\",\"type\":\"msa\",\"counterparty_id\":\"$CP\",\"owner\":\"alice\",\"effective_date\":\"2026-01-01\",\"term_months\":12,\"renewal_notice_days\":30,\"total_value\":{\"amount\":\"120000.5\",\"currency\":\"EUR\"},\"custom\":{\"region\":\"EMEA\",\"discount_rate\":\"0.125\"}}"
expect_status 201 "create contract"
CT=$(jf 'j["id"]')
expect_json 'j["id"].startswith("ct_") and j["status"] == "draft" and j["version"] == 1' "new contract is a draft at version 1"
expect_json 'j["number"].startswith("C-") and len(j["number"]) == 13' "contract number generated"
expect_json 'j["total_value"] == {"amount":"120000.50","currency":"EUR"}' "money is exact and canonical"
expect_json 'j["expiration_date"] == "2026-12-31" and j["notice_deadline"] == "2026-12-01"' "expiration and notice deadline derived"
[ "$(hdr ETag)" = '"1"' ] && ok "ETag on create" || bad "ETag on create: $(hdr ETag)"
[ "$(hdr Location)" = "/api/v1/contracts/$CT" ] && ok "Location on create" || bad "Location: $(hdr Location)"
NUM=$(jf 'j["number"]')
req GET "$U/contracts/$CT" "${R[@]}" -D "$WORK/hdr"; expect_status 200 "get contract"
[ "$(hdr ETag)" = '"1"' ] && ok "ETag on get" || bad "ETag on get: $(hdr ETag)"
req PATCH "$U/contracts/$CT" "${W[@]}" -H 'If-Match: "1"' -D "$WORK/hdr" -d '{"payment_terms":"net 30"}'
expect_status 200 "patch with the current ETag"
[ "$(hdr ETag)" = '"2"' ] && ok "ETag moves to 2" || bad "ETag after patch: $(hdr ETag)"
req PATCH "$U/contracts/$CT" "${W[@]}" -H 'If-Match: "1"' -d '{"payment_terms":"net 60"}'
expect_status 412 "stale If-Match"
expect_json 'j["error"]["code"] == "version_mismatch"' "412 says version_mismatch"
req GET "$U/contracts/$CT" "${R[@]}"
expect_json 'j["version"] == 2 and j["payment_terms"] == "net 30"' "412 changed nothing"
req POST "$U/contracts" "${W[@]}" -d "{\"title\":\"dup\",\"number\":\"$NUM\"}"
expect_status 409 "duplicate contract number"
expect_json 'j["error"]["code"] == "duplicate"' "409 says duplicate"
req GET "$U/contracts?status=draft&counterparty=$CP&type=msa&owner=alice" "${R[@]}"
expect_json "len(j['data']) == 1 and j['data'][0]['id'] == '$CT'" "list with filters"
req GET "$U/contracts?status=bogus" "${R[@]}"; expect_status 400 "bad filter"

# --- bad input: each gets its error and changes nothing
H0=$(head_seq)
req POST "$U/contracts" "${W[@]}" -d '{"title":'; expect_status 400 "malformed JSON"
expect_json 'j["error"]["code"] == "malformed_json"' "malformed_json"
req POST "$U/contracts" "${W[@]}" -d '{"title":42}'; expect_status 422 "wrong type"
expect_json 'j["error"]["code"] == "invalid_type" and j["error"]["field"] == "title"' "invalid_type names the field"
printf '{"title":"\xc3\x28"}' >"$WORK/bad-utf8"
req POST "$U/contracts" "${W[@]}" --data-binary @"$WORK/bad-utf8"; expect_status 400 "invalid UTF-8"
expect_json 'j["error"]["code"] == "invalid_utf8"' "invalid_utf8"
head -c 70000 /dev/zero | tr '\0' 'a' | sed 's/^/{"title":"/; s/$/"}/' >"$WORK/huge"
req POST "$U/contracts" "${W[@]}" --data-binary @"$WORK/huge"; expect_status 413 "huge body"
req POST "$U/contracts" "${W[@]}" -d '{"title":"x","colour":"red"}'; expect_status 422 "unknown field"
expect_json 'j["error"]["code"] == "unknown_field" and j["error"]["field"] == "colour"' "unknown_field names it"
req POST "$U/contracts" "${W[@]}" -d '{"title":"x","total_value":{"amount":"1.00","currency":"EUX"}}'; expect_status 422 "invalid currency"
expect_json 'j["error"]["code"] == "invalid_currency"' "invalid_currency"
req POST "$U/contracts" "${W[@]}" -d '{"title":"x","total_value":{"amount":"1.5","currency":"JPY"}}'; expect_status 422 "JPY has no minor units"
req POST "$U/contracts" "${W[@]}" -d '{"title":"x","effective_date":"2026-02-29"}'; expect_status 422 "invalid date"
expect_json 'j["error"]["code"] == "invalid_date"' "invalid_date"
req POST "$U/contracts" "${W[@]}" -d '{"title":"x","custom":{"region":"MARS"}}'; expect_status 422 "picklist value"
req POST "$U/contracts" "${W[@]}" -d '{"title":"x","effective_date":"2026-05-01","expiration_date":"2026-04-01"}'; expect_status 422 "expiration before effective"
req POST "$U/contracts" "${W[@]}" -d '{"title":"x","counterparty_id":"cp_01J9Z3Q4V6X8N2M5K7H1D0F3WS"}'; expect_status 422 "unknown counterparty"
req PATCH "$U/contracts/$CT" "${W[@]}" -H 'If-Match: yesterday' -d '{"title":"y"}'; expect_status 400 "malformed If-Match"
req PATCH "$U/contracts/$CT" "${W[@]}" -d '{"status":"active"}'; expect_status 422 "status patch follows the lifecycle"
req GET "$U/contracts/ct_01J9Z3Q4V6X8N2M5K7H1D0F3WS" "${R[@]}"; expect_status 404 "unknown contract"
req GET "$U/contracts/nonsense" "${R[@]}"; expect_status 404 "malformed id"
req DELETE "$U/contracts/$CT" "${W[@]}"; expect_status 405 "contracts are not deleted"
req DELETE "$U/counterparties/$CP" "${W[@]}"; expect_status 409 "counterparty in use"
[ "$(head_seq)" = "$H0" ] && ok "no change row from any refused request" || bad "the feed moved: $H0 -> $(head_seq)"
req GET "$U/contracts/$CT" "${R[@]}"
expect_json 'j["version"] == 2' "the contract is unchanged"

# --- lifecycle
tr_to() { req POST "$U/contracts/$CT/transitions" "${W[@]}" -d "{\"to\":\"$1\"}"; }
tr_to active; expect_status 422 "draft cannot become active"
expect_json 'j["error"]["code"] == "invalid_transition" and j["error"]["allowed_transitions"] == ["in_review","terminated"]' "422 lists the allowed transitions"
tr_to draft; expect_status 422 "no transition to the same status"
tr_to in_review; expect_status 200 "draft -> in_review"
tr_to in_approval; expect_status 200 "in_review -> in_approval"
expect_json 'j["approval_status"] == "pending"' "approval pending"
tr_to in_review; expect_status 200 "rejection: in_approval -> in_review"
expect_json 'j["approval_status"] == "rejected"' "approval rejected"
tr_to in_approval; tr_to approved; expect_status 200 "in_approval -> approved"
tr_to in_signature; expect_status 200 "approved -> in_signature"
tr_to signed; expect_status 422 "signed needs the signature dates"
expect_json 'j["error"]["code"] == "transition_rule" and j["error"]["field"] == "customer_signed_date"' "the rule names the missing date"
req POST "$U/contracts/$CT/signatures" "${W[@]}" -d "{\"signer\":\"Jane Roe\",\"party\":\"customer\",\"signed_at\":\"$(past 3)T10:00:00Z\"}"
expect_status 201 "customer signature event"
req GET "$U/contracts/$CT" "${R[@]}"
expect_json "j['customer_signed_date'] == '$(past 3)'" "the signature event dates the contract"
req PATCH "$U/contracts/$CT" "${W[@]}" -d "{\"company_signed_date\":\"$(past 2)\"}"; expect_status 200 "company signature date"
tr_to signed; expect_status 200 "in_signature -> signed"
tr_to active; expect_status 200 "signed -> active (effective date has arrived)"
req POST "$U/contracts/$CT/transitions" "${W[@]}" -d '{"to":"expired","extra":1}'; expect_status 422 "transition body has only to and reason"

# --- amendments
req POST "$U/contracts/$CT/amendments" "${W[@]}" -d '{"title":"Extension","effective_date":"2026-02-01","changes":{"term_months":24,"total_value":{"amount":"240000","currency":"EUR"}}}'
expect_status 201 "amendment in effect"
AM=$(jf 'j["id"]')
expect_json 'j["status"] == "applied" and j["previous"]["term_months"] == 12' "amendment applied, previous values kept"
req GET "$U/contracts/$CT" "${R[@]}"
expect_json "j['term_months'] == 24 and j['total_value']['amount'] == '240000.00' and j['expiration_date'] == '2027-12-31' and j['amendment_ids'] == ['$AM']" "the contract reflects the amendment"
req POST "$U/contracts/$CT/amendments" "${W[@]}" -d '{"title":"Later","effective_date":"2099-01-01","changes":{"payment_terms":"net 45"}}'
expect_status 201 "future amendment"
expect_json 'j["status"] == "pending"' "future amendment waits"
req POST "$U/contracts/$CT/amendments" "${W[@]}" -d '{"title":"Bad","effective_date":"2026-02-01","changes":{"status":"expired"}}'
expect_status 422 "an amendment cannot change the status"
req GET "$U/contracts/$CT/amendments" "${R[@]}"
expect_json 'len(j["data"]) == 2' "amendments listed"

# --- obligations, approvals, documents
req POST "$U/contracts/$CT/obligations" "${W[@]}" -d "{\"description\":\"Quarterly report\",\"due_date\":\"$(past 1)\",\"recurrence\":\"quarterly\"}"
expect_status 201 "obligation"
OB=$(jf 'j["id"]')
expect_json 'j["overdue"] == True and j["status"] == "open"' "overdue is derived"
req PATCH "$U/contracts/$CT/obligations/$OB" "${W[@]}" -d '{"status":"done"}'
expect_json 'j["overdue"] == False and j["version"] == 2' "done is not overdue"
req POST "$U/contracts/$CT/obligations" "${W[@]}" -d '{"description":"Entered by mistake"}'
OB2=$(jf 'j["id"]')
req DELETE "$U/contracts/ct_01AAAAAAAAAAAAAAAAAAAAAAAA/obligations/$OB2" "${W[@]}"
expect_status 404 "an obligation is deleted only under its own contract"
req DELETE "$U/contracts/$CT/obligations/$OB2" "${W[@]}" -H 'If-Match: "7"'
expect_status 412 "an obligation delete honours If-Match"
req DELETE "$U/contracts/$CT/obligations/$OB2" "${W[@]}"
expect_status 204 "an obligation is deleted"
req GET "$U/contracts/$CT/obligations/$OB2" "${R[@]}"
expect_status 404 "the deleted obligation is gone"
req GET "$U/contracts/$CT/obligations/$OB2/history" "${R[@]}"
expect_json 'len(j["data"]) == 1' "its history stays readable"
req GET "$U/changes?after=0&limit=10000" "${R[@]}"
expect_json "[c for c in j['data'] if c['id'] == '$OB2' and c['op'] == 'delete' and c['parent'] == '$CT']" "the change feed has its delete row, with its contract"
req DELETE "$U/contracts/$CT/approvals/$OB" "${W[@]}"
expect_status 405 "other records of a contract are not deleted"
req POST "$U/contracts/$CT/approvals" "${W[@]}" -d '{"approver":"cfo","step":1,"decision":"approved"}'
expect_status 201 "approval"
expect_json 'j["decided_at"].endswith("Z")' "decided_at set"
printf 'contract text v1' >"$WORK/doc1"
req POST "$U/contracts/$CT/documents?file_name=msa.pdf&executed=true" "${WA[@]}" -H "Content-Type: application/pdf" --data-binary @"$WORK/doc1"
expect_status 201 "upload document"
DC=$(jf 'j["id"]')
expect_json "j['sha256'] == '$(sha256sum "$WORK/doc1" | cut -d' ' -f1)' and j['size'] == 16 and j['executed'] == True and j['media_type'] == 'application/pdf'" "document metadata"
printf 'contract text v2, longer' >"$WORK/doc2"
req PUT "$U/contracts/$CT/documents/$DC/content" "${WA[@]}" -H "Content-Type: application/pdf" -H 'If-Match: "1"' --data-binary @"$WORK/doc2"
expect_status 200 "new document version"
curl -s "${R[@]}" -o "$WORK/got2" "$U/contracts/$CT/documents/$DC/content"
cmp -s "$WORK/got2" "$WORK/doc2" && ok "download current version" || bad "download current version"
curl -s "${R[@]}" -o "$WORK/got1" "$U/contracts/$CT/documents/$DC/content?version=1"
cmp -s "$WORK/got1" "$WORK/doc1" && ok "download version 1" || bad "download version 1"
head -c 20000 /dev/zero >"$WORK/bigdoc"
req POST "$U/contracts/$CT/documents?file_name=big.bin" "${WA[@]}" -H "Content-Type: application/octet-stream" --data-binary @"$WORK/bigdoc"
expect_status 413 "document over max_document_size"

# --- renewal
req POST "$U/contracts/$CT/renew" "${W[@]}" -d '{"title":"MSA 2028"}'
expect_status 201 "renew"
expect_json "j['parent_contract_id'] == '$CT' and j['type'] == 'renewal' and j['status'] == 'draft' and j['effective_date'] == '2028-01-01' and j['title'] == 'MSA 2028'" "successor linked to its parent"
SUCC=$(jf 'j["id"]')
req GET "$U/contracts/$CT" "${R[@]}"
expect_json "j['status'] == 'renewed' and j['renewal_id'] == '$SUCC'" "parent marked renewed"
req POST "$U/contracts/$CT/renew" "${W[@]}"; expect_status 422 "a renewed contract is not renewed again"

# --- history
req GET "$U/contracts/$CT/history" "${R[@]}"; expect_status 200 "history"
expect_json '[h["version"] for h in j["data"]] == list(range(1, len(j["data"]) + 1))' "every version, oldest first"
expect_json '[h["record"]["status"] for h in j["data"]][-1] == "renewed" and j["data"][0]["record"]["status"] == "draft"' "history shows each state"
expect_json 'any(h["record"].get("term_months") == 24 and h["record"].get("amendment_ids") for h in j["data"])' "history shows the amendment"

# --- the change feed and its long poll
H1=$(head_seq)
req GET "$U/changes?after=$H1&wait=1" "${R[@]}"
expect_json 'j["data"] == [] and j["next_after"] == '"$H1" "empty long poll times out"
start_ms=$(date +%s%3N)
curl -s "${R[@]}" "$U/changes?after=$H1&wait=20" >"$WORK/poll" &
POLL=$!
sleep 0.3
req POST "$U/counterparties" "${W[@]}" -d '{"legal_name":"Wake Up Ltd","country":"GB"}'
wait "$POLL"
el=$(( $(date +%s%3N) - start_ms ))
BODY=$(cat "$WORK/poll")
expect_json 'len(j["data"]) == 1 and j["data"][0]["entity"] == "counterparty" and j["data"][0]["op"] == "create" and j["data"][0]["origin"] == "api:crm"' "long poll returns the new change"
[ "$el" -lt 5000 ] && ok "long poll woke in ${el} ms" || bad "long poll took ${el} ms"
req GET "$U/changes?after=0&limit=10000" "${R[@]}"
expect_json 'all(b["seq"] > a["seq"] for a, b in zip(j["data"], j["data"][1:]))' "feed in sequence order"
expect_json "any(c['id'] == '$CT' and c['op'] == 'transition' and c['fields']['status'] == {'old':'active','new':'renewed'} for c in j['data'])" "feed rows carry old and new values"
expect_json "sorted(c['version'] for c in j['data'] if c['id'] == '$CT') == list(range(1, 1 + sum(1 for c in j['data'] if c['id'] == '$CT')))" "one row per version of the contract"
req GET "$U/changes?after=-1" "${R[@]}"; expect_status 400 "bad after"

# --- the scheduler: expiry and auto-renewal when their dates pass
mk_active() {
	req POST "$U/contracts" "${W[@]}" -d "{\"title\":\"$1\",\"counterparty_id\":\"$CP\",\"status\":\"active\",\"customer_signed_date\":\"$(past 400)\",\"company_signed_date\":\"$(past 400)\",\"effective_date\":\"$(past 365)\",\"expiration_date\":\"$(past 2)\",\"term_months\":12,\"auto_renew\":$2}"
}
mk_active "to expire" false; expect_status 201 "import an active contract"
EXP=$(jf 'j["id"]')
mk_active "to renew" true
REN=$(jf 'j["id"]')
req POST "$U/contracts" "${W[@]}" -d "{\"title\":\"bad import\",\"status\":\"active\",\"effective_date\":\"$(past 1)\"}"
expect_status 422 "an import as active needs signatures"
req POST "$U/scheduler/run" "${AD[@]}"; expect_status 200 "scheduled pass"
expect_json 'j["changes"] >= 2' "the pass made changes"
req GET "$U/contracts/$EXP" "${R[@]}"
expect_json 'j["status"] == "expired" and j["updated_by"] == "system:scheduler"' "expired by the scheduler"
req GET "$U/contracts/$REN" "${R[@]}"
expect_json 'j["status"] == "renewed" and j["renewal_id"].startswith("ct_")' "auto-renewed by the scheduler"
NEXT=$(jf 'j["renewal_id"]')
req GET "$U/contracts/$NEXT" "${R[@]}"
expect_json "j['status'] == 'active' and j['parent_contract_id'] == '$REN' and j['effective_date'] == '$(past 1)'" "the successor is in force"

# --- counterparty delete and pagination
req POST "$U/counterparties" "${W[@]}" -d '{"legal_name":"Temp"}'
TMP=$(jf 'j["id"]')
req DELETE "$U/counterparties/$TMP" "${W[@]}" -H 'If-Match: "1"'; expect_status 204 "delete unused counterparty"
req GET "$U/counterparties/$TMP" "${R[@]}"; expect_status 404 "deleted"
req GET "$U/counterparties?limit=2" "${R[@]}"
expect_json 'len(j["data"]) == 2 and j["next_cursor"]' "first page"
C1=$(jf 'j["next_cursor"]')
req GET "$U/counterparties?limit=2" "${R[@]}" --data-urlencode "cursor=$C1" -G
expect_json 'len(j["data"]) >= 1' "next page"

# --- graceful stop
kill -TERM "$PID_repo"
for _ in $(seq 100); do kill -0 "$PID_repo" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$PID_repo" 2>/dev/null; then bad "SIGTERM stops the server"; else
	wait "$PID_repo" && ok "SIGTERM stops the server cleanly" || bad "exit status after SIGTERM"
fi

finish

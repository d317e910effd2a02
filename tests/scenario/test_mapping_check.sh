#!/usr/bin/env bash
# clmsync mapping check against a real sfemu: a good configuration passes, each kind of mistake
# is reported with its line and exit 1, an org that cannot be reached exits 3, a custom object
# from sfemu --schema maps end to end, and no secret is ever printed.
. "$(dirname "$0")/lib.sh"

C=$BUILD/clmsync
SECRET=clmsync-test-secret
export CLMSYNC_TEST_SECRET=$SECRET

# expect_exit CODE MESSAGE -- COMMAND...: runs COMMAND with its output in $WORK/out.
expect_exit() {
	local want=$1 msg=$2; shift 3
	local got=0
	"$@" >"$WORK/out" 2>&1 || got=$?
	if [ "$got" -eq "$want" ]; then ok "$msg"; else bad "$msg: exit $got, want $want"; cat "$WORK/out"; fi
	if grep -qF -- "$CLMSYNC_TEST_SECRET" "$WORK/out"; then bad "$msg: the secret was printed"; fi
}
expect_out() {
	if grep -qF -- "$1" "$WORK/out"; then ok "$2"; else bad "$2: no '$1' in output"; cat "$WORK/out"; fi
}
expect_no() {
	if grep -qF -- "$1" "$WORK/out"; then bad "$2: '$1' in output"; cat "$WORK/out"; else ok "$2"; fi
}

start_sfemu a
start_sfemu b --schema "$(dirname "$0")/mapping_check_schema.json"

# write_config FILE URL: the demo's three mappings. Text the repository holds longer than the
# default schema's fields is truncated explicitly. Variables change one thing each:
# EXT_ID, SCALE, REJECTED, and EXTRA (field lines appended to the contracts mapping, last).
write_config() {
	cat >"$1" <<EOF
custom_attributes:
  counterparty:
    - {name: industry, type: picklist, values: [Software, Manufacturing, Finance, Healthcare, Other]}
  contract:
    - {name: region, type: picklist, values: [EMEA, AMER, APAC]}
    - {name: opportunity_amount, type: decimal}
    - {name: opportunity_stage, type: text, max_length: 40}
orgs:
  - name: emu
    login_url: $2
    instance_url: $2
    api_version: "62.0"
    auth: {type: client_credentials, client_id: clmsync-test-client, client_secret_env: CLMSYNC_TEST_SECRET}
    client_name: clmsync
mappings:
  - name: counterparties
    org: emu
    entity: counterparty
    sobject: Account
    external_id_field: CLM_Id__c
    on_create: {clm: create, salesforce: create}
    on_delete: {clm: ignore, salesforce: ignore}
    fields:
      - {clm: legal_name, sf: Name, owner: clm, transform: truncate, max_length: 255, allow_truncate: true}
      - {clm: registration_number, sf: CLM_Registration_Number__c, owner: clm, transform: truncate, max_length: 64, allow_truncate: true}
      - {clm: status, sf: CLM_Status__c, owner: clm, value_map: {active: Active, inactive: Inactive, blocked: Blocked}}
      - clm: custom.industry
        sf: Industry
        owner: both
        conflict: salesforce_wins
        value_map: {Software: Technology, Manufacturing: Manufacturing, Finance: Finance, Healthcare: Healthcare, Other: Other}
  - name: contract-opportunity
    org: emu
    entity: contract
    sobject: Opportunity
    external_id_field: CLM_Contract_Id__c
    match: {by: keys, keys: [[salesforce_opportunity_id, Id]]}
    on_create: {clm: ignore, salesforce: ignore}
    on_delete: {clm: ignore, salesforce: ignore}
    fields:
      - {clm: custom.opportunity_amount, sf: Amount, owner: salesforce, transform: decimal_to_currency, scale: 2}
      - {clm: custom.opportunity_stage, sf: StageName, owner: salesforce}
      - clm: status
        sf: CLM_Contract_Status__c
        owner: clm
        value_map: {draft: Draft, in_review: In Review, in_approval: In Approval, approved: Approved,
                    in_signature: In Signature, signed: Signed, active: Active, expired: Expired,
                    terminated: Terminated, renewed: Renewed}
  - name: contracts
    org: emu
    entity: contract
    sobject: Contract
    external_id_field: ${EXT_ID:-CLM_Id__c}
    on_create: {clm: create, salesforce: create}
    on_delete: {clm: terminate, salesforce: delete}
    fields:
      - {clm: title, sf: Name, owner: clm, transform: truncate, max_length: 80, allow_truncate: true}
      - {clm: number, sf: CLM_Number__c, owner: clm, transform: truncate, max_length: 40, allow_truncate: true}
      - {clm: counterparty_id, sf: AccountId, owner: clm, lookup: {mapping: counterparties}}
      - clm: type
        sf: CLM_Type__c
        owner: clm
        value_map: {msa: MSA, sow: SOW, nda: NDA, order_form: Order Form, amendment: Amendment,
                    renewal: Renewal, other: Other}
      - {clm: effective_date, sf: StartDate, owner: clm}
      - {clm: term_months, sf: ContractTerm, owner: clm}
      - {clm: expiration_date, sf: CLM_Renewal_Date__c, owner: clm}
      - {clm: auto_renew, sf: CLM_Auto_Renew__c, owner: clm}
      - {clm: total_value, sf: CLM_Value__c, owner: clm, transform: money_amount, scale: ${SCALE:-2}}
      - {clm: total_value, sf: CLM_Currency__c, owner: clm, transform: money_currency}
      - {clm: payment_terms, sf: CLM_Payment_Terms__c, owner: clm, transform: truncate, max_length: 80, allow_truncate: true}
      - {clm: governing_law, sf: CLM_Governing_Law__c, owner: clm, transform: truncate, max_length: 80, allow_truncate: true}
      - {clm: description, sf: Description, owner: both, conflict: manual}
      - {clm: customer_signed_date, sf: CustomerSignedDate, owner: clm}
      - {clm: company_signed_date, sf: CompanySignedDate, owner: clm}
      - clm: approval_status
        sf: CLM_Approval_Status__c
        owner: clm
        value_map: {not_required: Not Submitted, pending: Pending, approved: Approved, rejected: ${REJECTED:-Rejected}}
      - clm: status
        sf: CLM_Lifecycle_Status__c
        owner: clm
        value_map: {draft: Draft, in_review: In Review, in_approval: In Approval, approved: Approved,
                    in_signature: In Signature, signed: Signed, active: Active, expired: Expired,
                    terminated: Terminated, renewed: Renewed}
      - clm: status
        sf: Status
        owner: clm
        value_map: {draft: Draft, in_review: Draft, in_approval: In Approval Process,
                    approved: In Approval Process, in_signature: In Approval Process,
                    signed: In Approval Process, active: Activated}
        not_synced: [expired, terminated, renewed]
      - {clm: salesforce_opportunity_id, sf: Opportunity__c, owner: clm, lookup: {mapping: contract-opportunity}}
${EXTRA:-}
EOF
}

# --- a good configuration ---------------------------------------------------------------------
write_config "$WORK/good.yaml" "$URL_a"
curl -s -X DELETE "$URL_a/__emu/counters" >/dev/null
expect_exit 0 "the demo-like configuration passes" -- "$C" mapping check "$WORK/good.yaml"
expect_out "org emu: logged in at $URL_a" "the org is logged into"
expect_out "ok      18 fields:" "fields without a problem are summarised"
expect_out "warning description -> Description: Description values can have 32000 characters but description holds 10000" \
	"a longer Salesforce text field is a warning"
expect_out "warning external_id_field CLM_Contract_Id__c is not unique" "a non-unique external id is a warning"
expect_out "warning custom.industry -> Industry: Salesforce writes Industry, but its values are not in value_map" \
	"uncovered values of an unrestricted picklist are a warning"
expect_out ": 3 mappings, 26 fields checked" "the summary counts mappings and fields"
req GET "$URL_a/__emu/counters"
expect_json 'j["sobjects"] == 3' "each mapped sObject is described once"

expect_exit 0 "--json passes too" -- "$C" mapping check "$WORK/good.yaml" --json
BODY=$(cat "$WORK/out")
expect_json 'j["result"] == "warnings" and j["errors"] == 0 and j["warnings"] >= 2' "--json summary"
expect_json '[m["name"] for m in j["mappings"]] == ["counterparties", "contract-opportunity", "contracts"]' \
	"--json lists mappings in file order"
expect_json 'all(f["status"] in ("ok", "warning") for m in j["mappings"] for f in m["fields"]) and len(j["mappings"][2]["fields"]) == 19' \
	"--json has one entry per field"
expect_json 'j["mappings"][1]["problems"][0]["code"] == "external_id"' "--json mapping-level problems"

expect_exit 0 "--org selects an org" -- "$C" mapping check --org emu "$WORK/good.yaml"
expect_exit 2 "an unknown --org is a usage error" -- "$C" mapping check "$WORK/good.yaml" --org nope
expect_out "no org named 'nope' (orgs: emu)" "the usage error lists the orgs"

# --- each kind of mistake --------------------------------------------------------------------
# mistake NAME EXPECTED-LINE VAR=VALUE...: the good configuration with one change exits 1.
mistake() {
	local name=$1 line=$2; shift 2
	env "$@" bash -c "$(declare -f write_config); write_config '$WORK/$name.yaml' '$URL_a'"
	expect_exit 1 "$name: exit 1" -- "$C" mapping check "$WORK/$name.yaml"
	expect_out "$line" "$name: reported"
}

mistake missing-field \
	"error   governing_law -> CLM_Governing_Lw__c: Contract.CLM_Governing_Lw__c does not exist or the integration user cannot see it (did you mean CLM_Governing_Law__c?)" \
	EXTRA='      - {clm: governing_law, sf: CLM_Governing_Lw__c, owner: clm, transform: truncate, max_length: 80, allow_truncate: true}'
mistake wrong-type \
	"error   renewal_notice_days -> SpecialTerms: renewal_notice_days is a whole number and needs a field of type int or double, but SpecialTerms is textarea" \
	EXTRA='      - {clm: renewal_notice_days, sf: SpecialTerms, owner: clm}'
mistake read-only \
	"error   expiration_date -> EndDate: EndDate is read-only for the integration user (not createable, not updateable; calculated by Salesforce) but the repository writes it (owner clm)" \
	EXTRA='      - {clm: expiration_date, sf: EndDate, owner: clm}'
mistake restricted-value \
	"error   approval_status -> CLM_Approval_Status__c: Declined is not a value of the restricted picklist CLM_Approval_Status__c" \
	REJECTED=Declined
mistake not-external-id \
	"error   external_id_field CustomerSignedTitle is not an External ID field: Salesforce refuses upserts by it" \
	EXT_ID=CustomerSignedTitle
mistake scale \
	"error   total_value -> CLM_Value__c: scale 3 but CLM_Value__c has scale 2" \
	SCALE=3
mistake too-long \
	"error   termination_reason -> CustomerSignedTitle: termination_reason holds up to 2000 characters but CustomerSignedTitle only 40: longer values are refused (STRING_TOO_LONG)" \
	EXTRA='      - {clm: termination_reason, sf: CustomerSignedTitle, owner: clm}'

expect_exit 1 "--json with errors exits 1" -- "$C" mapping check "$WORK/scale.yaml" --json
BODY=$(cat "$WORK/out")
expect_json 'j["result"] == "errors" and any(p["code"] == "scale" and p["severity"] == "error" for m in j["mappings"] for f in m["fields"] for p in f["problems"])' \
	"--json names the problem's code"

# --- orgs that cannot be reached or logged into ----------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
write_config "$WORK/closed.yaml" "http://127.0.0.1:$PORT"
expect_exit 3 "a closed port exits 3" -- "$C" mapping check "$WORK/closed.yaml"
expect_out "org emu: FAILED: cannot log in at http://127.0.0.1:$PORT" "the failure names the org and URL"
expect_out "skipped org emu could not be reached or logged into: 19 fields not checked" "its mappings are skipped"
expect_exit 3 "a closed port exits 3 with --json" -- "$C" mapping check "$WORK/closed.yaml" --json
BODY=$(cat "$WORK/out")
expect_json 'j["result"] == "unreachable" and j["orgs"][0]["reachable"] is False' "--json says unreachable"

expect_exit 3 "a refused login exits 3" -- \
	env CLMSYNC_TEST_SECRET=not-the-right-secret-42 "$C" mapping check "$WORK/good.yaml"
expect_out "org emu: FAILED: cannot log in at $URL_a (client_credentials auth): login refused (HTTP 400)" \
	"the refusal is reported"
expect_no "not-the-right-secret-42" "the wrong secret is not printed"

# --- a custom object from sfemu --schema, mapped end to end ----------------------------------
write_project() {
	cat >"$1" <<EOF
custom_attributes:
  contract:
    - {name: region, type: picklist, values: [EMEA, AMER, APAC]}
orgs:
  - name: projects
    login_url: $URL_b
    api_version: "62.0"
    auth: {type: client_credentials, client_id: clmsync-test-client, client_secret_env: CLMSYNC_TEST_SECRET}
    client_name: clmsync
mappings:
  - name: counterparties
    org: projects
    entity: counterparty
    sobject: Account
    external_id_field: CLM_Id__c
    fields:
      - {clm: legal_name, sf: Name, owner: clm, transform: truncate, max_length: 255, allow_truncate: true}
  - name: projects
    org: projects
    entity: contract
    sobject: $2
    external_id_field: CLM_Id__c
    on_create: {clm: ignore, salesforce: create}
    on_delete: {clm: ignore, salesforce: delete}
    fields:
      - {clm: title, sf: Name, owner: clm, transform: truncate, max_length: 80, allow_truncate: true}
      - clm: status
        sf: Stage__c
        owner: clm
        value_map: {draft: Draft, in_review: Draft, in_approval: Draft, approved: Draft,
                    in_signature: Draft, signed: Draft, active: Active, expired: Closed,
                    terminated: Closed, renewed: Closed}
      - {clm: custom.region, sf: Region__c, owner: both, conflict: salesforce_wins}
      - {clm: total_value, sf: Budget__c, owner: clm, transform: money_amount, scale: 2}
      - {clm: total_value, sf: Budget_Currency__c, owner: clm, transform: money_currency}
      - {clm: effective_date, sf: Start__c, owner: clm}
      - {clm: expiration_date, sf: Kickoff__c, owner: clm, transform: date_to_datetime}
      - {clm: counterparty_id, sf: Account__c, owner: clm, lookup: {mapping: counterparties}}
      - {clm: auto_renew, sf: Auto_Renew__c, owner: clm}
      - {clm: term_months, sf: Term__c, owner: clm}
EOF
}
write_project "$WORK/project.yaml" Project__c
expect_exit 0 "a custom object from --schema passes" -- "$C" mapping check "$WORK/project.yaml"
expect_out "projects: contract <-> Project__c (org projects)" "the custom object is checked"
expect_out "ok      10 fields:" "every custom field is ok"
expect_out ": 2 mappings, 11 fields checked, 11 ok; 0 errors, 0 warnings" "no warnings"

write_project "$WORK/project-typo.yaml" Projct__c
expect_exit 1 "a missing sObject exits 1" -- "$C" mapping check "$WORK/project-typo.yaml"
expect_out "error   sObject Projct__c does not exist in org projects or the integration user cannot see it (did you mean Project__c?); its 10 fields were not checked" \
	"a missing sObject is named with a suggestion"

# --- usage and invalid files -------------------------------------------------------------------
expect_exit 0 "mapping --help" -- "$C" mapping --help
expect_out "usage: clmsync mapping check FILE [--org NAME] [--json]" "--help shows the usage"
expect_exit 0 "mapping check --help" -- "$C" mapping check --help
expect_exit 2 "no FILE is a usage error" -- "$C" mapping check
expect_exit 2 "no subcommand is a usage error" -- "$C" mapping
expect_exit 2 "an unknown option is a usage error" -- "$C" mapping check "$WORK/good.yaml" --frobnicate
expect_exit 0 "clmsync help lists mapping" -- "$C" help
expect_out "mapping     check every mapped field against the orgs' describe" "the command table has the row"

printf 'orgs:\n  - name: emu\n    login_url: ftp://x\n' >"$WORK/invalid.yaml"
expect_exit 1 "an invalid configuration exits 1" -- "$C" mapping check "$WORK/invalid.yaml"
expect_out "$WORK/invalid.yaml:3: orgs[0].login_url:" "config errors as config check prints them"
expect_exit 1 "an invalid configuration exits 1 with --json" -- "$C" mapping check "$WORK/invalid.yaml" --json
BODY=$(cat "$WORK/out")
expect_json 'j["result"] == "invalid_config" and j["config_errors"][0]["line"] == 3' "--json config errors"

finish

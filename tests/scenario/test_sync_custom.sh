#!/usr/bin/env bash
# test_sync_custom.sh - scenario 10: custom attributes <-> custom fields on Contract, obligations
# <-> the custom object Obligation__c (lookup to Contract), both ways, over the custom object's
# own CDC channel; `clmsync mapping check` passes for the configuration.
. "$(dirname "$0")/lib.sh"

SCHEMA="$(dirname "$0")/sync_custom_schema.json"
start_sfemu bare
start_sfemu sf --schema "$SCHEMA"
python3 "$(dirname "$0")/sync_config.py" "$WORK/clm-data/clmsync.db" "sf=$URL_sf" custom=yes >"$WORK/check.yaml"
python3 "$(dirname "$0")/sync_config.py" "$WORK/clm-data/clmsync.db" "sf=$URL_bare" custom=yes >"$WORK/bare.yaml"
export CLMSYNC_TEST_SECRET=clmsync-test-secret
if "$BUILD/clmsync" mapping check "$WORK/check.yaml" >"$WORK/check.out" 2>&1; then
	ok "clmsync mapping check passes for the configuration: $(tail -1 "$WORK/check.out" | sed 's/^[^:]*: //')"
else
	bad "clmsync mapping check: $(cat "$WORK/check.out")"
fi
if grep -q "^  ok      8 fields: contract_id -> Contract__c" "$WORK/check.out" &&
	grep -q "custom.region -> CLM_Region__c, .*custom.notes -> CLM_Notes__c" "$WORK/check.out"; then
	ok "every Obligation__c field and Contract custom field checks clean (no warning)"
else
	bad "mapping check output: $(cat "$WORK/check.out")"
fi
# the same configuration against an org without the custom fields and object is refused
code=0
"$BUILD/clmsync" mapping check "$WORK/bare.yaml" >"$WORK/bare.out" 2>&1 || code=$?
if [ "$code" -eq 1 ] && grep -q "Obligation__c" "$WORK/bare.out" && grep -q "CLM_Region__c" "$WORK/bare.out"; then
	ok "without the schema file the check fails on Obligation__c and the Contract custom fields"
else
	bad "mapping check against a bare org: exit $code: $(cat "$WORK/bare.out")"
fi
start_sync clm "sf=$URL_sf" custom=yes
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm ADMIN_URL=$ADMIN_clm CLM_DATA=$DATA_clm CLM_DB=$DATA_clm/clmsync.db CLM_CONFIG=$WORK/clm.yaml \
	CLMSYNC=$BUILD/clmsync \
	python3 "$(dirname "$0")/sync_custom.py" || FAILS=$((FAILS + 1))
finish

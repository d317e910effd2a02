#!/usr/bin/env bash
# test_sync_match.sh - records paired by keys the first time (match: by: keys): a repository
# counterparty finds the Account of the same name instead of creating one, an Account changed in
# Salesforce finds its unlinked counterparty, and an ambiguous match links and creates nothing.
. "$(dirname "$0")/lib.sh"

SCEN=$(cd "$(dirname "$0")" && pwd)
start_sfemu sf
export CLMSYNC_TEST_SECRET=clmsync-test-secret
python3 - "$WORK/clm-data/clmsync.db" "$URL_sf" >"$WORK/clm.yaml" <<PY
import sys
sys.path.insert(0, "$SCEN")
import sync_lib
maps = sync_lib.standard_mappings("sf").replace("match: {by: external_id}", "match: {by: keys, keys: [[legal_name, Name]]}", 1)
assert "by: keys" in maps
print(sync_lib.config_yaml(sys.argv[1], [("sf", sys.argv[2])], maps))
PY
# Accounts that exist before clmsync first starts: paired by name, never duplicated
SF_URL=$URL_sf python3 - >"$WORK/seed.json" <<PY
import json, os, sys
sys.path.insert(0, "$SCEN")
from sync_lib import SF
sf = SF(os.environ["SF_URL"])
print(json.dumps({"globex": sf.create("Account", {"Name": "Globex"}),
                  "dup1": sf.create("Account", {"Name": "Dup Co"}),
                  "dup2": sf.create("Account", {"Name": "Dup Co"})}))
PY
start_clmsync clm --config "$WORK/clm.yaml"
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm ADMIN_URL=$ADMIN_clm SEED=$WORK/seed.json \
	python3 "$SCEN/sync_match.py" || FAILS=$((FAILS + 1))
finish

#!/usr/bin/env bash
# test_cli_admin.sh - the operator's commands against a running server's admin API: every
# command's table and --json, where the URL and the token come from, the exit codes (server
# down, bad token, not found, usage, unhealthy), hostile Salesforce values escaped in tables,
# reconcile progress on a stderr that is not a terminal, pause and resume, audit verify online
# and --offline, a change stream down, a server without the sync engine.
. "$(dirname "$0")/lib.sh"

start_sfemu sf
export CLMSYNC_TEST_SECRET=clmsync-test-secret
export CLM_ADMIN_TOKEN=cli-admin-token-0123456789abcdef CLM_READ_TOKEN=cli-read-token-0123456789abcdef
SCEN=$(cd "$(dirname "$0")" && pwd)
python3 - "$WORK/clm-data/clmsync.db" "$URL_sf" >"$WORK/clm.yaml" <<PY
import sys
sys.path.insert(0, "$SCEN")
import sync_lib
tokens = """api_tokens:
  - {name: ops, role: admin, token_env: CLM_ADMIN_TOKEN}
  - {name: viewer, role: read, token_env: CLM_READ_TOKEN}
"""
print(sync_lib.config_yaml(sys.argv[1], [("sf", sys.argv[2])],
                           sync_lib.standard_mappings("sf", contract_status_owner="salesforce"),
                           extra=tokens, admin="  stream_down_unready_s: 2\n"))
PY
start_clmsync clm --config "$WORK/clm.yaml"
CLMSYNC=$BUILD/clmsync SFEMU=$BUILD/sfemu SF_URL=$URL_sf SF_PID=$PID_sf CLM_URL=$URL_clm ADMIN_URL=$ADMIN_clm CLM_PID=$PID_clm \
	CLM_CONFIG=$WORK/clm.yaml CLM_DATA=$DATA_clm WORK=$WORK \
	python3 "$SCEN/cli_admin.py" || FAILS=$((FAILS + 1))
finish

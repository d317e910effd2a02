#!/usr/bin/env bash
# test_admin_api.sh - the admin listener: /admin/v1 (status, mappings pause and resume, DLQ,
# conflicts, reconcile, links, lineage, audit, config), /metrics parsed as Prometheus text,
# /healthz and /readyz (unready while the change stream is down), and who may call what.
. "$(dirname "$0")/lib.sh"

start_sfemu sf
export CLMSYNC_TEST_SECRET=clmsync-test-secret
export CLM_ADMIN_TOKEN=admin-token-0123456789abcdef CLM_READ_TOKEN=read-token-0123456789abcdef
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
SF_URL=$URL_sf SF_PID=$PID_sf CLM_URL=$URL_clm ADMIN_URL=$ADMIN_clm SFEMU=$BUILD/sfemu WORK=$WORK \
	python3 "$SCEN/admin_api.py" || FAILS=$((FAILS + 1))
finish

#!/usr/bin/env bash
# test_readyz_login.sh - readiness follows each org's login: /readyz (and /metrics, the status
# document and `clmsync status`) say an org is not authenticated, naming it and why, once
# Salesforce refuses its credentials (the client secret rotated in the org), and ready again
# once the credentials work; an expired session that a new login heals changes nothing.
. "$(dirname "$0")/lib.sh"

start_sfemu sf
export CLMSYNC_TEST_SECRET=clmsync-test-secret
export CLM_ADMIN_TOKEN=readyz-admin-token-0123456789abcdef
SCEN=$(cd "$(dirname "$0")" && pwd)
# the stream's own budget (admin.stream_down_unready_s) stays at its default of 120 s, so that
# within this test only the login check can make the process unready
python3 - "$WORK/clm-data/clmsync.db" "$URL_sf" >"$WORK/clm.yaml" <<PY
import sys
sys.path.insert(0, "$SCEN")
import sync_lib
tokens = """api_tokens:
  - {name: ops, role: admin, token_env: CLM_ADMIN_TOKEN}
"""
print(sync_lib.config_yaml(sys.argv[1], [("sf", sys.argv[2])], sync_lib.standard_mappings("sf"), extra=tokens,
                           admin="  enabled: true\n"))
PY
start_clmsync clm --config "$WORK/clm.yaml"
CLMSYNC=$BUILD/clmsync SFEMU=$BUILD/sfemu SF_URL=$URL_sf SF_PID=$PID_sf CLM_URL=$URL_clm ADMIN_URL=$ADMIN_clm WORK=$WORK \
	python3 "$SCEN/readyz_login.py" || FAILS=$((FAILS + 1))
finish

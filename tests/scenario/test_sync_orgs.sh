#!/usr/bin/env bash
# test_sync_orgs.sh - scenario 9: two orgs, contracts routed by custom.region; links and shadows
# per org; a fault in one org does not stall the other; a contract that changes region moves.
. "$(dirname "$0")/lib.sh"

start_sfemu a
start_sfemu b
# org b's record ids must differ from org a's (each emulator counts from 1): one Account made and
# deleted before the engine starts, whose events the engine never sees
PYTHONPATH="$(dirname "$0")" python3 -c "
from sync_lib import SF
b = SF('$URL_b'); b.delete('Account', b.create('Account', {'Name': 'id offset'}))"
start_sync clm "a=$URL_a,b=$URL_b" "route=EMEA;AMER" b.contract_sf_delete=ignore max_attempts=100
SF_A=$URL_a SF_B=$URL_b PID_A=$PID_a CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm ADMIN_URL=$ADMIN_clm CLM_DATA=$DATA_clm CLM_CONFIG=$WORK/clm.yaml \
	CLMSYNC=$BUILD/clmsync CLMSYNC_TEST_SECRET=clmsync-test-secret \
	python3 "$(dirname "$0")/sync_orgs.py" || FAILS=$((FAILS + 1))
finish

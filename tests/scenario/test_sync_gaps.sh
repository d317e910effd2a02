#!/usr/bin/env bash
# test_sync_gaps.sh - scenario 8: stream gaps heal. Changes Salesforce made without a change event
# (GAP_CREATE / GAP_UPDATE / GAP_DELETE, GAP_OVERFLOW), a stored replay id outside the retention
# window after kill -9, and records deleted in Salesforce while the engine was down longer than the
# window: each reaches the repository, each fact is in the audit log and the engine's counters.
. "$(dirname "$0")/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm CLM_PID=$PID_clm CLM_DATA=$DATA_clm ADMIN_URL=$ADMIN_clm \
	CLM_CONFIG=$WORK/clm.yaml CLM_LOG=$WORK/clm.log CLMSYNC=$BUILD/clmsync WORK=$WORK \
	python3 "$(dirname "$0")/sync_gaps.py" || FAILS=$((FAILS + 1))
finish

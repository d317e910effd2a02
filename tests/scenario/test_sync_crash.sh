#!/usr/bin/env bash
# test_sync_crash.sh - scenario 6: clmsync killed with SIGKILL at random moments during a two-way
# burst, restarted each time; afterwards nothing is lost, nothing duplicated, no drift.
. "$(dirname "$0")/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm CLM_PID=$PID_clm CLM_DATA=$DATA_clm \
	CLM_CONFIG=$WORK/clm.yaml CLMSYNC=$BUILD/clmsync WORK=$WORK CHANGES=${CRASH_CHANGES:-10000} ADMIN_URL=$ADMIN_clm \
	python3 "$(dirname "$0")/sync_crash.py" || FAILS=$((FAILS + 1))
finish

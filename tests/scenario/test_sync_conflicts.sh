#!/usr/bin/env bash
# test_sync_conflicts.sh - scenario 4: both sides change the same field before either syncs; each
# conflict policy gives its result, and `manual` waits for `clmsync conflicts resolve`.
. "$(dirname "$0")/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" name_conflict=clm_wins
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm CLM_PID=$PID_clm CLM_DATA=$DATA_clm \
	CLM_CONFIG=$WORK/clm.yaml CLMSYNC=$BUILD/clmsync WORK=$WORK ADMIN_URL=$ADMIN_clm \
	python3 "$(dirname "$0")/sync_conflicts.py" || FAILS=$((FAILS + 1))
finish

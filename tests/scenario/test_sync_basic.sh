#!/usr/bin/env bash
# test_sync_basic.sh - the sync engine end to end: creates, updates (nulls, picklists, money,
# dates) and field ownership in both directions, between a real sfemu and `clmsync serve`.
. "$(dirname "$0")/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm CLM_CONFIG=$WORK/clm.yaml CLMSYNC=$BUILD/clmsync \
	python3 "$(dirname "$0")/sync_basic.py" || FAILS=$((FAILS + 1))
finish

#!/usr/bin/env bash
# test_sync_echo_rows.sh - the feed row of the engine's own repository write: not planned again when
# the plan that wrote it found nothing left to compare, planned as any row when the repository
# derived something from the write (a contract's expiration date from its start date).
. "$(dirname "$0")/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf" description_conflict=clm_wins start_date_owner=both
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm ADMIN_URL=$ADMIN_clm \
	python3 "$(dirname "$0")/sync_echo_rows.py" || FAILS=$((FAILS + 1))
finish

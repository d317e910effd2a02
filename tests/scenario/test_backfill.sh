#!/usr/bin/env bash
# test_backfill.sh - `clmsync backfill` both ways: 5,000 repository contracts into an empty org and
# 5,000 Contracts from another org into an empty repository, through Bulk API 2.0; `clmsync serve`
# then finds nothing to do, edits sync as usual, and a second run duplicates nothing.
. "$(dirname "$0")/lib.sh"

start_sfemu to
start_sfemu from
SF_URL=$URL_to SF2_URL=$URL_from WORK=$WORK CLMSYNC=$BUILD/clmsync N=${BACKFILL_N:-5000} \
	python3 "$(dirname "$0")/sync_backfill.py" || FAILS=$((FAILS + 1))
finish

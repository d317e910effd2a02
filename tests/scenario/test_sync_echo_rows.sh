#!/usr/bin/env bash
# test_sync_echo_rows.sh - the feed row of the engine's own repository write: not planned again when
# the plan that wrote it found nothing left to compare, planned as any row when the repository
# derived something from the write (a contract's expiration date from its start date).
. "$(dirname "$0")/lib.sh"

SCEN=$(cd "$(dirname "$0")" && pwd)
start_sfemu sf
export CLMSYNC_TEST_SECRET=clmsync-test-secret
python3 - "$WORK/clm-data/clmsync.db" "$URL_sf" >"$WORK/clm.yaml" <<PY
import sys
sys.path.insert(0, "$SCEN")
import sync_lib
old = "{clm: effective_date, sf: StartDate, owner: clm}"
maps = sync_lib.standard_mappings("sf", description_conflict="clm_wins")
assert old in maps
maps = maps.replace(old, "{clm: effective_date, sf: StartDate, owner: both, conflict: last_writer_wins}")
print(sync_lib.config_yaml(sys.argv[1], [("sf", sys.argv[2])], maps))
PY
start_clmsync clm --config "$WORK/clm.yaml"
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm ADMIN_URL=$ADMIN_clm \
	python3 "$SCEN/sync_echo_rows.py" || FAILS=$((FAILS + 1))
finish

#!/usr/bin/env bash
# test_sync_loops.sh - no echo and no ping-pong: interleaved updates on both sides converge and
# the engine writes exactly what the changes require; then the audit chain of the run verifies.
. "$(dirname "$0")/lib.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm N=${LOOP_UPDATES:-1000} \
	python3 "$(dirname "$0")/sync_loops.py" || FAILS=$((FAILS + 1))
# 11. the audit chain of the whole run verifies (through the server, then on the store file once
# it has stopped), and a tampered row is found
if "$BUILD/clmsync" audit verify --admin-url "$ADMIN_clm" --data "$DATA_clm" >"$WORK/verify.out"; then
	ok "audit verify through the admin API: $(cat "$WORK/verify.out")"
else
	bad "audit verify through the admin API failed: $(cat "$WORK/verify.out")"
fi
kill "$PID_clm"; wait_dead "$PID_clm"
if "$BUILD/clmsync" audit verify --offline --store "sqlite:$DATA_clm/clmsync.db" >"$WORK/verify.out"; then
	ok "audit verify: $(cat "$WORK/verify.out")"
else
	bad "audit verify failed: $(cat "$WORK/verify.out")"
fi
python3 - "$DATA_clm/clmsync.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
key, doc = db.execute("SELECT key, doc FROM kv WHERE ns='audit' ORDER BY key LIMIT 1 OFFSET 5").fetchone()
row = json.loads(doc)
row["new"] = "tampered"
db.execute("UPDATE kv SET doc=? WHERE ns='audit' AND key=?", (json.dumps(row), key))
db.commit()
PY
if "$BUILD/clmsync" audit verify --offline --store "sqlite:$DATA_clm/clmsync.db" >"$WORK/verify.out" 2>&1; then
	bad "audit verify did not see the tampered row: $(cat "$WORK/verify.out")"
else
	grep -q "row 6" "$WORK/verify.out" && ok "audit verify names the tampered row 6" || bad "audit verify: $(cat "$WORK/verify.out")"
fi
finish

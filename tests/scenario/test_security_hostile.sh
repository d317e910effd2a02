#!/usr/bin/env bash
# test_security_hostile.sh - hostile values (quotes, backslashes, SOQL and SQL fragments, HTML and
# <script>, control characters, bidi overrides, long strings) synced both ways round-trip byte for
# byte, match by name finds exactly the one Account it should (the SOQL is quoted), the logs hold
# them escaped on one line, and invalid UTF-8 is refused at the repository API with a structured
# error that changes nothing.
. "$(dirname "$0")/lib.sh"

SCEN=$(cd "$(dirname "$0")" && pwd)
start_sfemu sf
export CLMSYNC_TEST_SECRET=clmsync-test-secret
python3 - "$WORK/clm-data/clmsync.db" "$URL_sf" >"$WORK/clm.yaml" <<PY
import sys
sys.path.insert(0, "$SCEN")
import sync_lib
maps = sync_lib.standard_mappings("sf").replace("match: {by: external_id}", "match: {by: keys, keys: [[legal_name, Name]]}", 1)
assert "by: keys" in maps
print(sync_lib.config_yaml(sys.argv[1], [("sf", sys.argv[2])], maps))
PY
start_clmsync clm --config "$WORK/clm.yaml"
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm ADMIN_URL=$ADMIN_clm WORK=$WORK CLMSYNC=$BUILD/clmsync \
	python3 "$SCEN/security_hostile.py" || FAILS=$((FAILS + 1))
kill "$PID_clm"; wait_dead "$PID_clm"
# every log line is one line of serve's own, whatever the values held
python3 - "$WORK/clm.log" <<'PY' && ok "serve's log: one line per entry, no raw control character, nothing forged" || bad "log"
import re, sys
data = open(sys.argv[1], "rb").read()
bad = [c for c in set(data) if c < 0x20 and c not in (0x0a,)] + ([0x7f] if b"\x7f" in data else [])
lines = data.split(b"\n")
stamp = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) ")
forged = [l for l in lines if l and not stamp.match(l)]
fake = [l for l in lines if l.startswith(b"1999-")]
print("log: %d lines, raw control bytes %r, lines not serve's own: %d, forged: %d" % (len(lines), bad, len(forged), len(fake)))
for l in forged[:5]:
    print("  ", l[:200])
sys.exit(0 if not bad and not forged and not fake else 1)
PY
grep -q 'FORGED' "$WORK/clm.log" && ok "the hostile value did reach the log (escaped)" || ok "the hostile value is not in the log at all"
finish

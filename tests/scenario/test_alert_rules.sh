#!/usr/bin/env bash
# test_alert_rules.sh - config/alerts/clmsync-rules.yml: promtool's check and its unit tests
# (clmsync-rules.test.yml) where promtool is installed, and against a running clmsync: every
# metric a rule names is exported, with the labels its annotations use; runbooks exist.
. "$(dirname "$0")/lib.sh"
SCEN=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$SCEN/../.." && pwd)

if command -v promtool >/dev/null 2>&1; then
	if promtool check rules "$SRC/config/alerts/clmsync-rules.yml" >"$WORK/promtool.log" 2>&1; then
		ok "promtool check rules"
	else
		bad "promtool check rules: $(cat "$WORK/promtool.log")"
	fi
	if (cd "$SRC/config/alerts" && promtool test rules clmsync-rules.test.yml) >"$WORK/promtool-test.log" 2>&1; then
		ok "promtool test rules: each alert fires past its threshold and for, and not before"
	else
		bad "promtool test rules: $(cat "$WORK/promtool-test.log")"
	fi
else
	echo "SKIP promtool is not installed (Debian: apt-get install prometheus): the rules are checked without it"
fi

start_sfemu sf
export CLMSYNC_TEST_SECRET=clmsync-test-secret
export CLM_ADMIN_TOKEN=admin-token-0123456789abcdef
python3 - "$WORK/clm-data/clmsync.db" "$URL_sf" >"$WORK/clm.yaml" <<PY
import sys
sys.path.insert(0, "$SCEN")
import sync_lib
print(sync_lib.config_yaml(sys.argv[1], [("sf", sys.argv[2])], sync_lib.standard_mappings("sf"),
                           extra="api_tokens:\n  - {name: ops, role: admin, token_env: CLM_ADMIN_TOKEN}\n"))
PY
start_clmsync clm --config "$WORK/clm.yaml"
SF_URL=$URL_sf CLM_URL=$URL_clm ADMIN_URL=$ADMIN_clm SRC=$SRC python3 "$SCEN/alert_rules.py" || FAILS=$((FAILS + 1))
finish

#!/usr/bin/env bash
# test_alert_webhook.sh - the alert webhook: a receiver on loopback verifies each signed event;
# a dead-letter entry and a dead stream each fire once and resolve once; a tampered body fails
# verification; the server's stderr (--log-format json) is one JSON object per line, no secret in it.
. "$(dirname "$0")/lib.sh"
SCEN=$(cd "$(dirname "$0")" && pwd)

start_sfemu sf
export CLMSYNC_TEST_SECRET=clmsync-test-secret
export CLM_ADMIN_TOKEN=admin-token-0123456789abcdef
HOOK_KEY_FILE=$WORK/hook.key
printf 'whsec-%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$HOOK_KEY_FILE"
chmod 600 "$HOOK_KEY_FILE"

# the receiver fails its first delivery with 503, so that a retry is seen
python3 "$SCEN/alert_webhook.py" receive "$HOOK_KEY_FILE" "$WORK/hook-events.jsonl" "$WORK/hook.port" 1 \
	2>"$WORK/receiver.log" &
PIDS+=("$!")
deadline=$((SECONDS + 10))
while [ ! -s "$WORK/hook.port" ]; do
	[ $SECONDS -lt $deadline ] || { echo "the receiver did not start"; cat "$WORK/receiver.log"; exit 1; }
	sleep 0.02
done
: >"$WORK/hook-events.jsonl"
HOOK_URL="http://127.0.0.1:$(cat "$WORK/hook.port")"

# Only the two conditions under test can fire: the others' thresholds are out of reach.
python3 - "$WORK/clm-data/clmsync.db" "$URL_sf" "$HOOK_URL/hook" "$HOOK_KEY_FILE" >"$WORK/clm.yaml" <<PY
import sys
sys.path.insert(0, "$SCEN")
import sync_lib
extra = """api_tokens:
  - {name: ops, role: admin, token_env: CLM_ADMIN_TOKEN}
alerts:
  webhook_url: %s
  secret_file: %s
  interval_s: 1
  stream_down_s: 10
  dlq_max: 0
  lag_s: 604800
  retention_left_s: 0
  api_budget_pct: 0
  drift: 1000000
""" % (sys.argv[3], sys.argv[4])
y = sync_lib.config_yaml(sys.argv[1], [("sf", sys.argv[2])],
                         sync_lib.standard_mappings("sf", contract_status_owner="salesforce"), extra=extra)
print(y.replace("log:\n  level: info", "log:\n  level: debug"))
PY
grep -q "level: debug" "$WORK/clm.yaml" || { echo "the configuration did not take the debug level"; exit 1; }
start_clmsync clm --config "$WORK/clm.yaml" --log-format json
SF_URL=$URL_sf SF_PID=$PID_sf CLM_URL=$URL_clm ADMIN_URL=$ADMIN_clm SFEMU=$BUILD/sfemu WORK=$WORK \
	HOOK_KEY_FILE=$HOOK_KEY_FILE HOOK_EVENTS=$WORK/hook-events.jsonl HOOK_URL=$HOOK_URL CLM_LOG=$WORK/clm.log \
	python3 "$SCEN/alert_webhook.py" run || FAILS=$((FAILS + 1))
finish

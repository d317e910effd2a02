#!/usr/bin/env bash
# make demo: starts sfemu on a free loopback port, shows a few Salesforce calls against it and
# leaves it running until Ctrl-C. The sync engine joins the demo when it lands.
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
tmp=$(mktemp -d)
"$ROOT/$BUILD/sfemu" --listen 127.0.0.1:0 >"$tmp/url" 2>"$tmp/sfemu.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.05; done
URL=$(head -1 "$tmp/url")
[ -n "$URL" ] || { cat "$tmp/sfemu.log"; exit 1; }

echo "sfemu is serving $URL (log: $tmp/sfemu.log)"
echo
echo "1. Log in with the OAuth password flow (default test credentials, see README.md):"
tok=$(curl -sf -X POST "$URL/services/oauth2/token" \
	-d grant_type=password -d username=integration@clmsync.test -d password=clmsync-test-password \
	-d client_id=clmsync-test-client -d client_secret=clmsync-test-secret |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
echo "   got an access token (${#tok} characters)"
A=(-H "Authorization: Bearer $tok" -H "Content-Type: application/json")
B=$URL/services/data/v62.0
echo
echo "2. Create an Account and a Contract, the way the sync engine will:"
acc=$(curl -sf "${A[@]}" -X PATCH "$B/sobjects/Account/CLM_Id__c/cp-demo-1" -d '{"Name":"Acme Corporation"}')
echo "   upsert Account by CLM_Id__c: $acc"
accid=$(echo "$acc" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
con=$(curl -sf "${A[@]}" -H "Sforce-Call-Options: client=clmsync" -X PATCH "$B/sobjects/Contract/CLM_Id__c/ct-demo-1" \
	-d "{\"AccountId\":\"$accid\",\"StartDate\":\"2026-01-01\",\"ContractTerm\":12,\"CLM_Value__c\":120000.50,\"CLM_Currency__c\":\"EUR\"}")
echo "   upsert Contract by CLM_Id__c: $con"
echo
echo "3. Query it back with SOQL:"
curl -sf "${A[@]}" --get "$B/query" --data-urlencode \
	"q=SELECT Id, ContractNumber, Status, StartDate, EndDate, CLM_Value__c, Account.Name FROM Contract WHERE CLM_Id__c = 'ct-demo-1'" |
	python3 -m json.tool | sed 's/^/   /'
echo
echo "4. The change events a CometD subscriber to /data/ContractChangeEvent receives:"
curl -sf "$URL/__emu/events" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    h = e["payload"]["ChangeEventHeader"]
    print("   replayId %-3d %-8s %-7s origin=%s" % (e["replayId"], h["entityName"], h["changeType"], h["changeOrigin"]))'
echo
echo "Try it yourself, e.g.:"
echo "   curl -H 'Authorization: Bearer $tok' $B/sobjects/Contract/describe"
echo
if [ -t 0 ] && [ -z "${CI:-}" ]; then
	echo "sfemu keeps running; press Ctrl-C to stop it."
	wait "$pid"
fi

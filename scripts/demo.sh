#!/usr/bin/env bash
# make demo: starts sfemu and the contract repository (clmsync serve) on loopback, shows each at
# work, and leaves both running until Ctrl-C. The sync engine that joins the two is built next;
# until then the demo shows the two sides it will keep in lockstep.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
tmp=$(mktemp -d)
pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap stop EXIT

# start NAME CMD...: runs CMD in the background (its pid kept for stop) and waits, with a
# deadline, for the URL it prints first; sets URL. Not called in $(...): the pid must be ours.
start() {
	local name=$1; shift
	"$@" >"$tmp/$name.url" 2>"$tmp/$name.log" &
	pids+=($!)
	for _ in $(seq 200); do [ -s "$tmp/$name.url" ] && break; sleep 0.05; done
	[ -s "$tmp/$name.url" ] || { echo "$name did not start:"; cat "$tmp/$name.log"; exit 1; }
	URL=$(head -1 "$tmp/$name.url")
}
py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

start sfemu "$BUILD/sfemu" --listen 127.0.0.1:0
SF=$URL
start clmsync "$BUILD/clmsync" serve --data "$tmp/data" --listen 127.0.0.1:0
CLM=$URL
CT=$(cat "$tmp/data/api-token")
echo "Salesforce (sfemu):          $SF"
echo "contract repository (clmsync): $CLM   (admin token in $tmp/data/api-token)"
echo

echo "== The repository: a counterparty and a contract through the REST API"
C=(-H "Authorization: Bearer $CT" -H "Content-Type: application/json" -H "X-Clm-User: demo")
cp=$(curl -sf "${C[@]}" -X POST "$CLM/api/v1/counterparties" \
	-d '{"legal_name":"Acme Corporation","country":"DE","domain":"acme.example"}' | py 'd["id"]')
echo "   counterparty $cp"
ct=$(curl -sf "${C[@]}" -X POST "$CLM/api/v1/contracts" -d "{\"title\":\"Acme MSA\",\"type\":\"msa\",
	\"counterparty_id\":\"$cp\",\"effective_date\":\"2026-01-01\",\"term_months\":12,
	\"total_value\":{\"amount\":\"120000.50\",\"currency\":\"EUR\"}}")
ctid=$(echo "$ct" | py 'd["id"]')
echo "   contract $(echo "$ct" | py 'd["number"]') ($ctid): $(echo "$ct" | py 'd["status"]'), value $(echo "$ct" | py 'd["total_value"]["amount"]+" "+d["total_value"]["currency"]')"
for to in in_review in_approval; do
	st=$(curl -sf "${C[@]}" -X POST "$CLM/api/v1/contracts/$ctid/transitions" -d "{\"to\":\"$to\"}" | py 'd["status"]')
	echo "   transition -> $st"
done
bad=$(curl -s "${C[@]}" -X POST "$CLM/api/v1/contracts/$ctid/transitions" -d '{"to":"active"}' | py 'd["error"]["message"]')
echo "   transition -> active refused: $bad"
echo "   change feed:"
curl -sf "${C[@]}" "$CLM/api/v1/changes?after=0" | python3 -c '
import json, sys
for ch in json.load(sys.stdin)["data"]:
    print("     seq %-3s %-12s %-10s v%s by %s: %s" % (ch["seq"], ch["entity"], ch["op"], ch["version"], ch["origin"], ", ".join(sorted(ch["fields"]))[:60]))'
echo

echo "== Salesforce: OAuth, an upsert by external id, SOQL and the change events"
tok=$(curl -sf -X POST "$SF/services/oauth2/token" \
	-d grant_type=password -d username=integration@clmsync.test -d password=clmsync-test-password \
	-d client_id=clmsync-test-client -d client_secret=clmsync-test-secret | py 'd["access_token"]')
A=(-H "Authorization: Bearer $tok" -H "Content-Type: application/json" -H "Sforce-Call-Options: client=clmsync")
B=$SF/services/data/v62.0
acc=$(curl -sf "${A[@]}" -X PATCH "$B/sobjects/Account/CLM_Id__c/$cp" -d '{"Name":"Acme Corporation"}' | py 'd["id"]')
echo "   Account $acc upserted by CLM_Id__c=$cp"
curl -sf "${A[@]}" -X PATCH "$B/sobjects/Contract/CLM_Id__c/$ctid" \
	-d "{\"AccountId\":\"$acc\",\"StartDate\":\"2026-01-01\",\"ContractTerm\":12,\"CLM_Value__c\":120000.50,\"CLM_Currency__c\":\"EUR\",\"CLM_Lifecycle_Status__c\":\"In Approval\"}" >/dev/null
curl -sf "${A[@]}" --get "$B/query" --data-urlencode \
	"q=SELECT ContractNumber, Status, StartDate, EndDate, CLM_Value__c, CLM_Lifecycle_Status__c, Account.Name FROM Contract WHERE CLM_Id__c = '$ctid'" |
	python3 -c 'import json,sys; r=json.load(sys.stdin)["records"][0]; r.pop("attributes"); r["Account"]=r["Account"]["Name"]; print("   SOQL:", json.dumps(r))'
curl -sf "$SF/__emu/events" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    h = e["payload"]["ChangeEventHeader"]
    print("   CDC replayId %-3d %-8s %-7s origin=%s" % (e["replayId"], h["entityName"], h["changeType"], h["changeOrigin"]))'
echo
(umask 077; printf '%s' "$tok" >"$tmp/sf-token")
echo "Try (tokens are read from files, never printed):"
echo "  curl -H \"Authorization: Bearer \$(cat $tmp/data/api-token)\" $CLM/api/v1/contracts/$ctid"
echo "  curl -H \"Authorization: Bearer \$(cat $tmp/sf-token)\" $B/sobjects/Contract/describe"
if [ -t 0 ] && [ -z "${CI:-}" ]; then
	echo
	echo "Both keep running; press Ctrl-C to stop them."
	wait "${pids[0]}"
fi

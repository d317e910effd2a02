#!/usr/bin/env bash
# make demo stays true: the demo script runs to its end against the built binaries and shows
# both sides at work (it stops what it started when its input is not a terminal).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

if CI=1 bash "$ROOT/scripts/demo.sh" "$BUILD" </dev/null >"$WORK/demo.log" 2>&1; then
	ok "demo ran to its end"
else
	bad "demo failed: $(tail -n 20 "$WORK/demo.log")"
fi
for want in "transition -> in_approval" "transition -> active refused" "contract     create" \
	"upserted by CLM_Id__c" "CDC replayId 2   Contract CREATE  origin=com/salesforce/api/rest/62.0;client=clmsync"; do
	if grep -qF -- "$want" "$WORK/demo.log"; then ok "demo shows: $want"; else bad "demo output lacks: $want"; fi
done
if grep -qE 'Bearer [0-9A-Za-z!_]{20,}' "$WORK/demo.log"; then bad "demo printed a token"; else ok "no token printed"; fi
# the demo stops what it started: no server of its own is left running
sf=$(sed -n 's/^Salesforce (sfemu): *//p' "$WORK/demo.log")
clm=$(sed -n 's/^contract repository (clmsync): *\([^ ]*\).*/\1/p' "$WORK/demo.log")
for u in "$sf" "$clm"; do
	if [ -n "$u" ] && curl -s -o /dev/null --max-time 2 "$u/"; then bad "still answering after the demo: $u"; else ok "stopped: $u"; fi
done
finish

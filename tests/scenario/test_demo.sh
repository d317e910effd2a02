#!/usr/bin/env bash
# make demo stays true: the demo script runs to its end against the built binaries, syncs
# contracts both ways and prints each sync with its latency (it stops what it started when its
# input is not a terminal).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

if CI=1 bash "$ROOT/scripts/demo.sh" "$BUILD" </dev/null >"$WORK/demo.log" 2>&1; then
	ok "demo ran to its end"
else
	bad "demo failed: $(tail -n 20 "$WORK/demo.log")"
fi
# each step of the walk-through: one line, which way, what changed, how long it took
ms='  \([0-9]+ ms\)$'
for want in \
	"^  Salesforce → repository  3 Accounts created in Salesforce → counterparties cp_.*$ms" \
	"^  repository → Salesforce  counterparty cp_[0-9A-Z]+ \"Acme GmbH\" created as Account 001.*$ms" \
	"^  repository → Salesforce  contract ct_[0-9A-Z]+ C-[0-9-]+ \"Master Services Agreement\" created as Contract 800.*$ms" \
	"^  repository → Salesforce  contract ct_[0-9A-Z]+ total_value 120000.00 EUR → 135000.00 EUR → Contract 800[0-9A-Za-z]+ CLM_Value__c 135000.00 EUR$ms" \
	"^  repository → Salesforce  contract ct_[0-9A-Z]+ draft → in_review → Contract .* CLM_Lifecycle_Status__c \"In Review\", Status \"Draft\"$ms" \
	"^  repository → Salesforce  contract ct_[0-9A-Z]+ in_review → in_approval → Contract .* Status \"In Approval Process\"$ms" \
	"^  Salesforce → repository  Contract 800[0-9A-Za-z]+ Description \"Renewal terms agreed with Acme legal\" → contract ct_.*$ms" \
	"^  Salesforce → repository  Account 001[0-9A-Za-z]+ \"Hooli Inc\" created → counterparty cp_[0-9A-Z]+ \(Industry Technology → industry Software\)$ms" \
	"^  repository → Salesforce  contract ct_[0-9A-Z]+ \"Initech Order Form\" \(draft\) → Opportunity 006[0-9A-Za-z]+ CLM_Contract_Status__c \"Draft\"$ms" \
	"^  Salesforce → repository  Opportunity 006[0-9A-Za-z]+ Amount 250000.00, StageName \"Negotiation/Review\" → contract ct_.*$ms" \
	"^  repository → Salesforce  Contract 800[0-9A-Za-z]+ Status \"Activated\" .* reverted to \"In Approval Process\"; contract ct_[0-9A-Z]+ stays in_approval$ms"; do
	if grep -qE -- "$want" "$WORK/demo.log"; then ok "demo shows: ${want:0:90}"; else bad "demo output lacks: $want"; fi
done
for dir in "repository → Salesforce" "Salesforce → repository"; do
	n=$(grep -cE "^  $dir  .*$ms" "$WORK/demo.log" || true)
	if [ "$n" -ge 1 ]; then ok "$n syncs shown $dir"; else bad "no sync shown $dir"; fi
done
if grep -q '^FAILED' "$WORK/demo.log"; then bad "the walk-through reported a failure"; else ok "no step failed"; fi
for want in "Both are running:" "Input is not a terminal: stopping both now."; do
	if grep -qF -- "$want" "$WORK/demo.log"; then ok "demo shows: $want"; else bad "demo output lacks: $want"; fi
done
if grep -qE 'Bearer [0-9A-Za-z!_.-]{20,}|access_token' "$WORK/demo.log"; then bad "demo printed a token"; else ok "no token printed"; fi
tokfile=$(sed -n 's/^  admin token for the repository in \([^ ,]*\).*/\1/p' "$WORK/demo.log")
if [ -n "$tokfile" ]; then ok "token file location printed: $tokfile"; else bad "no token file location printed"; fi
# the demo stops what it started: no server of its own is left running, its directory is gone
sf=$(sed -n 's/^Salesforce (sfemu): *//p' "$WORK/demo.log" | head -1)
clm=$(sed -n 's/^contract repository (clmsync): *\([^ ]*\).*/\1/p' "$WORK/demo.log" | head -1)
for u in "$sf" "$clm"; do
	if [ -z "$u" ]; then bad "no URL printed"
	elif curl -s -o /dev/null --max-time 2 "$u/"; then bad "still answering after the demo: $u"
	else ok "stopped: $u"; fi
done
if [ -n "$tokfile" ]; then
	dir=${tokfile%/data/api-token}
	if [ -e "$dir" ]; then bad "the demo left $dir behind"; else ok "the demo removed its directory"; fi
	# read-only look at the process table: nothing started with the demo's directory is alive
	if pgrep -f -- "$dir" >/dev/null; then bad "a process of the demo is still running"
	else ok "no process of the demo left"; fi
fi
finish

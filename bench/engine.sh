#!/usr/bin/env bash
# The sync engine against sfemu on loopback: end-to-end latency at a steady rate and sustained
# throughput in each direction, Salesforce API calls per 1,000 records in a burst, and the peak
# memory of both servers, with the round trips of one plain write on each side as the baseline.
# The measuring is done by bench_engine (bench/engine_driver.c); this script starts the servers,
# runs it and writes bench/results/engine.md.
#   bench/engine.sh [BUILD]          BENCH_RECORDS, BENCH_RATE, BENCH_SECONDS, BENCH_BURST,
#                                    BENCH_THREADS change the sizes (defaults below)
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
OUT=${BENCH_OUT:-$ROOT/bench/results/engine.md}
RECORDS=${BENCH_RECORDS:-20000}
RATE=${BENCH_RATE:-200}
SECONDS_=${BENCH_SECONDS:-20}
BURST=${BENCH_BURST:-20000}
THREADS=${BENCH_THREADS:-8}

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY

# sfemu keeps change events for 10 minutes (the run's are all read long before), so that its
# memory figure is the org's working set, not 72 hours of retained events.
"$BUILD/sfemu" --listen 127.0.0.1:0 --api-daily-limit 1000000000 --retention 600 --log-level warn \
	>"$tmp/sf.url" 2>"$tmp/sf.log" &
sfpid=$!
pids+=("$sfpid")
for _ in $(seq 100); do [ -s "$tmp/sf.url" ] && break; sleep 0.05; done
SF=$(head -1 "$tmp/sf.url")
[ -n "$SF" ] || { cat "$tmp/sf.log"; exit 1; }

# The scenario tests' configuration: counterparties <-> Account and contracts <-> Contract with the
# standard mappings (tests/scenario/sync_lib.py), linger 5 ms, batches of 200.
python3 "$ROOT/tests/scenario/sync_config.py" "$tmp/data/clmsync.db" "bench=$SF" >"$tmp/clmsync.yaml"
CLMSYNC_TEST_SECRET=clmsync-test-secret "$BUILD/clmsync" serve --config "$tmp/clmsync.yaml" --data "$tmp/data" \
	--listen 127.0.0.1:0 >"$tmp/clm.url" 2>"$tmp/clm.log" &
clmpid=$!
pids+=("$clmpid")
for _ in $(seq 200); do [ -s "$tmp/clm.url" ] && break; sleep 0.05; done
CLM=$(head -1 "$tmp/clm.url")
[ -n "$CLM" ] || { cat "$tmp/clm.log"; exit 1; }
TOKEN=$(head -1 "$tmp/data/api-token")

ARGS=(--sf "$SF" --clm "$CLM" --token "$TOKEN" --clm-pid "$clmpid" --sf-pid "$sfpid" --records "$RECORDS"
	--rate "$RATE" --seconds "$SECONDS_" --burst "$BURST" --threads "$THREADS")
if ! "$BUILD/bench/bench_engine" "${ARGS[@]}" >"$tmp/figures"; then
	echo "bench_engine failed; the servers' logs:"; tail -20 "$tmp/clm.log" "$tmp/sf.log"; exit 1
fi
# clmsync's own tally of the run (written as it stops)
kill "$clmpid"; wait "$clmpid" || true
tally=$(grep -o 'org bench: [0-9]* events.*' "$tmp/clm.log" | tail -1 || true)
warns=$(grep -c ' warn ' "$tmp/clm.log" || true)

# f KEY: a figure; t LIMIT VALUE lt|ge: "met" or "missed"
f() { awk -F= -v k="$1" '$1 == k {print $2}' "$tmp/figures"; }
t() { python3 -c "import sys; v=float('$2'); l=float('$1'); print('met' if (v < l if '$3' == 'lt' else v >= l) else '**missed**')"; }
ta() { if [ "$1" = n/a ]; then echo "too little left to time"; else t 5000 "$1" ge; fi; }
mib() { python3 -c "print('%.1f' % ($1 / 1024))"; }

{
	echo "# Sync engine: latency, throughput, API calls, memory"
	echo
	echo "Measured by \`make bench\` (\`bench/engine.sh $BUILD\`, driver \`bench/engine_driver.c\`) on $(date -u +%Y-%m-%d),"
	echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -sr);"
	echo "$(gcc --version | head -1). sfemu, \`clmsync serve --config\` (SQLite WAL, one org, the scenario"
	echo "tests' standard mappings, \`sync.linger_ms: 5\`, \`batch_max: 200\`) and the driver share the"
	echo "machine on loopback. $RECORDS contracts are created in the repository and synced first; every"
	echo "change below is to one of them."
	echo
	echo "## Against the targets"
	echo
	echo "| figure | target | repository → Salesforce | Salesforce → repository |"
	echo "|---|---|---:|---:|"
	echo "| latency p99 at $RATE changes/s | < 100 ms | $(f lat_to_sf_p99_ms) ms ($(t 100 "$(f lat_to_sf_p99_ms)" lt)) | $(f lat_to_clm_p99_ms) ms ($(t 100 "$(f lat_to_clm_p99_ms)" lt)) |"
	echo "| sustained throughput, changes/s | ≥ 5,000 | $(f tput_to_sf_per_s) ($(t 5000 "$(f tput_to_sf_per_s)" ge)) | $(f tput_to_clm_per_s) ($(t 5000 "$(f tput_to_clm_per_s)" ge)) |"
	echo "| ... of the engine on the backlog left when the writers stop (below) | ≥ 5,000 | $(f tput_to_sf_after_push_per_s) ($(ta "$(f tput_to_sf_after_push_per_s)")) | $(f tput_to_clm_after_push_per_s) ($(ta "$(f tput_to_clm_after_push_per_s)")) |"
	echo "| Salesforce API calls per 1,000 records in a burst | ≤ 6 | $(f tput_to_sf_api_calls_per_1000) ($(t 6.0001 "$(f tput_to_sf_api_calls_per_1000)" lt)) | $(f tput_to_clm_api_calls_per_1000) ($(t 6.0001 "$(f tput_to_clm_api_calls_per_1000)" lt)) |"
	echo
	echo "| peak resident memory (VmHWM) | target | KiB | MiB |"
	echo "|---|---|---:|---:|"
	echo "| clmsync (repository + engine) | < 64 MB | $(f clm_vmhwm_kib) | $(mib "$(f clm_vmhwm_kib)") ($(t 65536 "$(f clm_vmhwm_kib)" lt)) |"
	echo "| sfemu | (none) | $(f sf_vmhwm_kib) | $(mib "$(f sf_vmhwm_kib)") |"
	echo
	echo "## Baseline (same run): one write at a time, no sync involved"
	echo
	echo "| $(f base_n) sequential writes | p50 | p99 |"
	echo "|---|---:|---:|"
	echo "| repository: \`PATCH /api/v1/contracts/{id}\` round trip | $(f base_repo_rtt_p50_ms) ms | $(f base_repo_rtt_p99_ms) ms |"
	echo "| repository: that write → its row on a change-feed long poll | $(f base_repo_feed_p50_ms) ms | $(f base_repo_feed_p99_ms) ms |"
	echo "| sfemu: REST \`PATCH /sobjects/Opportunity/{id}\` round trip | $(f base_sf_rtt_p50_ms) ms | $(f base_sf_rtt_p99_ms) ms |"
	echo "| sfemu: that update → its change event on a CometD client | $(f base_sf_cdc_p50_ms) ms | $(f base_sf_cdc_p99_ms) ms |"
	echo
	echo "The repository write changes \`owner\` (no mapping syncs it; the engine still reads the feed row"
	echo "and finds nothing to do); the Salesforce update is of an Opportunity (no mapping, no subscription)."
	echo "A sync can be no faster than a write on one side plus the detection on the other."
	echo
	echo "## Latency at a steady $RATE changes/s for $SECONDS_ s"
	echo
	echo "| direction | changes | lost | p50 | p90 | p99 | max | clmsync CPU | sfemu CPU |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for d in to_sf to_clm; do
		name="repository → Salesforce"; [ $d = to_clm ] && name="Salesforce → repository"
		echo "| $name | $(f lat_${d}_n) | $(f lat_${d}_lost) | $(f lat_${d}_p50_ms) ms | $(f lat_${d}_p90_ms) ms | $(f lat_${d}_p99_ms) ms | $(f lat_${d}_max_ms) ms | $(f lat_${d}_cpu_clm_pct) % | $(f lat_${d}_cpu_sf_pct) % |"
	done
	echo
	echo "- repository → Salesforce: \`PATCH /api/v1/contracts/{id}\` of \`payment_terms\`, one request every"
	echo "  $((1000 / RATE)) ms; arrival: the value in a \`ContractChangeEvent\` on the driver's own CometD subscription."
	echo "- Salesforce → repository: REST \`PATCH /sobjects/Contract/{id}\` of \`SpecialTerms\` (read into"
	echo "  \`custom.opportunity_stage\`); arrival: the engine's row on a long poll of \`GET /api/v1/changes?wait=\`."
	echo "- A latency runs from just before the write is sent to the moment the driver holds the value"
	echo "  (it includes the write's own round trip). The sender fell behind its schedule by at most"
	echo "  $(f lat_to_sf_sender_late_max_ms) ms / $(f lat_to_clm_sender_late_max_ms) ms. CPU: percent of one core over the phase."
	echo
	echo "## Throughput: a burst of $BURST changes, each on its own contract"
	echo
	echo "| direction | pushed in | accepted/s | last visible after | end-to-end changes/s | left at push end | after the push, changes/s | API calls | per 1,000 | clmsync CPU | sfemu CPU |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for d in to_sf to_clm; do
		name="repository → Salesforce"; [ $d = to_clm ] && name="Salesforce → repository"
		echo "| $name | $(f tput_${d}_push_s) s | $(f tput_${d}_push_per_s) | $(f tput_${d}_end_s) s | $(f tput_${d}_per_s) | $(f tput_${d}_left_at_push_end) | $(f tput_${d}_after_push_per_s) | $(f tput_${d}_api_calls) | $(f tput_${d}_api_calls_per_1000) | $(f tput_${d}_cpu_clm_pct) % | $(f tput_${d}_cpu_sf_pct) % |"
	done
	echo
	echo "- repository → Salesforce: $THREADS keep-alive connections \`PATCH\` \`payment_terms\` as fast as the"
	echo "  repository answers; done when the last value is in a change event."
	echo "- Salesforce → repository: 2 connections send sObject Collections updates of 200 \`SpecialTerms\`;"
	echo "  done when the last value is in an engine-written change-feed row."
	echo "- End-to-end changes/s = changes / (last arrival - first send). After the push: the changes not"
	echo "  yet arrived when the last write was answered, over the time from then to the last arrival:"
	echo "  the engine working through a backlog while the driver only listens (n/a when under a tenth"
	echo "  of the burst was left). On 2 cores the end-to-end figure also carries the load: the driver's"
	echo "  writers and the repository's API, on the same cores as the engine."
	echo "- API calls: sfemu's \`api_used\`"
	echo "  counter before and after the burst (once everything is quiet), less the driver's own calls"
	echo "  ($(f tput_to_sf_collections_calls) / $(f tput_to_clm_collections_calls) of them sObject Collections)."
	echo "- Seeding: $(f seed_records) contracts created over the API in $(f seed_create_s) s, all in Salesforce"
	echo "  after $(f seed_linked_s) s."
	echo "- clmsync's tally at stop: ${tally:-(none)}; warnings in its log: ${warns:-0}."
} >"$OUT"
cat "$OUT"

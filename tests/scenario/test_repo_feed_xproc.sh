#!/usr/bin/env bash
# A long poll on the change feed sees rows committed by another process on the same store
# (clmsync import) while it waits, not only when its timeout ends.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

cat >"$WORK/clm.yaml" <<YAML
data_dir: $WORK/a-data
store: sqlite:$WORK/a-data/clmsync.db
custom_attributes:
  contract:
    - name: region
      type: picklist
      values: [EMEA, AMER, APAC]
YAML
start_clmsync a --config "$WORK/clm.yaml"
A=(-H "Authorization: Bearer $TOKEN_a")
req GET "$URL_a/api/v1/changes?after=0&limit=1000" "${A[@]}"
head=$(BODY="$BODY" python3 -c 'import json,os; print(json.loads(os.environ["BODY"])["next_after"])')

python3 "$HERE/gen_contracts.py" 3 "$WORK/three.csv"
start=$(date +%s%N)
curl -s "${A[@]}" "$URL_a/api/v1/changes?after=$head&wait=20" >"$WORK/poll.json" &
poll=$!
PIDS+=("$poll")
# the poll is waiting; another process writes to the same store
"$BUILD/clmsync" import contracts "$WORK/three.csv" --config "$WORK/clm.yaml" >"$WORK/import.out" 2>"$WORK/import.log" \
	|| bad "import failed: $(cat "$WORK/import.log")"
wait "$poll" || true
ms=$(( ($(date +%s%N) - start) / 1000000 ))
BODY=$(cat "$WORK/poll.json")
expect_json 'len(j["data"]) >= 1 and all(r["origin"].startswith("api:import") or r["origin"].startswith("user:") for r in j["data"])' \
	"the waiting poll returned the import's rows"
if [ "$ms" -lt 10000 ]; then ok "returned in ${ms} ms, well before its 20 s wait ended"; else bad "returned after ${ms} ms"; fi
finish

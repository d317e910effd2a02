#!/usr/bin/env bash
# clmsync audit through the real binary: a chain written by an independent implementation
# (Python's hashlib and json over the store's kv table) verifies; a tampered row is found by
# number; search by either id or by decision; --json output; exit codes 0/1/2/3.
. "$(dirname "$0")/lib.sh"

C=$BUILD/clmsync
DB=$WORK/audit.db
URL=sqlite:$DB

# expect_exit CODE MESSAGE -- COMMAND...: runs COMMAND with stdout in $WORK/out, stderr in $WORK/err.
expect_exit() {
	local want=$1 msg=$2; shift 3
	local got=0
	"$@" >"$WORK/out" 2>"$WORK/err" || got=$?
	if [ "$got" -eq "$want" ]; then ok "$msg"; else bad "$msg: exit $got, want $want"; cat "$WORK/out" "$WORK/err"; fi
}
expect_out() {
	if grep -qF -- "$1" "$WORK/out"; then ok "$2"; else bad "$2: no '$1' in output"; cat "$WORK/out"; fi
}
expect_err() {
	if grep -qF -- "$1" "$WORK/err"; then ok "$2"; else bad "$2: no '$1' on stderr"; cat "$WORK/err"; fi
}
# expect_out_json PYTHON-EXPR what: j = stdout parsed as JSON.
expect_out_json() {
	BODY=$(cat "$WORK/out")
	expect_json "$1" "$2"
}

# A fresh path: verify creates and migrates the store, and an empty log is intact.
expect_exit 0 "verify on a new store" -- "$C" audit verify --store "$URL"
expect_out "audit log intact: 0 rows" "an empty log is intact"
[ -f "$DB" ] && ok "the store was created" || bad "no store at $DB"
expect_exit 0 "verify --json on an empty log" -- "$C" audit verify --store "$URL" --json
expect_out_json 'j == {"ok": True, "rows": 0, "head": None}' "empty log as JSON"

# The chain, computed as audit.h defines it: hash = sha256(prev hex + canonical JSON of the row
# without "hash"). json.dumps(separators=(',',':'), sort_keys=True, ensure_ascii=False) is
# byte-identical to jansson's JSON_COMPACT|JSON_SORT_KEYS for these values: strings (with '/',
# quotes, backslashes, non-ASCII), integers, booleans, null, arrays and objects. Not for reals
# (jansson prints 17 significant digits: 0.1 is 0.10000000000000001), so none are used.
python3 - "$DB" <<'EOF' >"$WORK/head"
import hashlib, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
prev = "0" * 64
values = ["Draft", "Activated", "a/b \"quoted\" back\\slash", "Zürich — 東京", 12345678901234,
          True, None, {"amount": "1200.00", "currency": "EUR"}, ["x", 1, False], "tab\there"]
for seq in range(1, 31):
    row = {"seq": seq, "ts": "2026-11-27T10:00:%02d.123Z" % (seq % 60), "org": "prod",
           "mapping": "contracts", "entity": "contract", "clm_id": "ctr-%d" % (seq % 4),
           "sf_id": "800000000000%03dAAA" % (seq % 3), "side": "salesforce" if seq % 2 else "clm",
           "field": None if seq % 10 == 0 else "status", "old": values[(seq - 1) % 10],
           "new": values[seq % 10], "decision": "applied", "event": "cdc:/data/ContractChangeEvent:%d" % seq,
           "detail": None, "prev": prev}
    text = json.dumps(row, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    row["hash"] = hashlib.sha256((prev + text).encode("utf-8")).hexdigest()
    prev = row["hash"]
    db.execute("INSERT INTO kv (ns, key, doc) VALUES ('audit', ?, ?)",
               ("%020d" % seq, json.dumps(row, ensure_ascii=False)))
db.execute("INSERT INTO kv (ns, key, doc) VALUES ('audit_head', 'head', ?)",
           (json.dumps({"seq": 30, "hash": prev}),))
db.commit()
print(prev)
EOF
HEAD=$(cat "$WORK/head")

expect_exit 0 "a chain written by another implementation verifies" -- "$C" audit verify --store "$URL"
expect_out "audit log intact: 30 rows, head ${HEAD:0:12}" "rows and head are reported"
expect_exit 0 "verify --json" -- "$C" audit verify --store "$URL" --json
expect_out_json "j == {'ok': True, 'rows': 30, 'head': '$HEAD'}" "verify --json names the head"

# The store from a configuration file.
printf 'store: "%s"\n' "$URL" >"$WORK/clmsync.yaml"
expect_exit 0 "verify --config" -- "$C" audit verify --config "$WORK/clmsync.yaml"
expect_out "audit log intact: 30 rows" "the configuration's store is used"

# Search by CLM id (ctr-1: rows 1, 5, 9, ...) and by Salesforce id (…002AAA: rows 2, 5, 8, ...).
expect_exit 0 "search by CLM id" -- "$C" audit search ctr-1 --store "$URL"
[ "$(wc -l <"$WORK/out")" -eq 8 ] && ok "ctr-1 has 8 rows" || bad "ctr-1: $(wc -l <"$WORK/out") rows"
expect_out '1  2026-11-27T10:00:01.123Z  applied  salesforce  status  "Draft" -> "Activated"  cdc:/data/ContractChangeEvent:1' \
	"a row: seq, time, decision, side, field, old -> new, event"
expect_out '17  2026-11-27T10:00:17.123Z  applied  salesforce  status  null -> {"amount":"1200.00","currency":"EUR"}' \
	"values are shown as compact JSON"
expect_exit 0 "search another CLM id" -- "$C" audit search ctr-2 --store "$URL"
expect_out '10  2026-11-27T10:00:10.123Z  applied  clm  -  "tab\there" -> "Draft"  cdc:' "a record-level row shows no field"
expect_exit 0 "search --json --limit" -- "$C" audit search 800000000000002AAA --limit 3 --store "$URL" --json
expect_out_json '[r["seq"] for r in j] == [2, 5, 8] and j[1]["new"] is True and j[0]["new"] == "a/b \"quoted\" back\\slash"' \
	"search by Salesforce id as JSON, bounded by --limit"
expect_exit 0 "search for an unknown id" -- "$C" audit search nobody --store "$URL" --json
expect_out_json 'j == []' "no rows is an empty array"
expect_exit 0 "search --decision without an id" -- "$C" audit search --decision applied --limit 2 --store "$URL" --json
expect_out_json '[r["seq"] for r in j] == [1, 2]' "every record's rows of one decision, bounded by --limit"
expect_exit 0 "search an id and a decision" -- "$C" audit search ctr-1 --decision applied --store "$URL" --json
expect_out_json 'len(j) == 8 and all(r["clm_id"] == "ctr-1" for r in j)' "the id and the decision both filter"
expect_exit 0 "search a decision no row has" -- "$C" audit search --decision gap --store "$URL" --json
expect_out_json 'j == []' "no row of that decision"

# Tamper with row 17's new value, as someone editing the database would.
python3 - "$DB" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
key = "%020d" % 17
row = json.loads(db.execute("SELECT doc FROM kv WHERE ns='audit' AND key=?", (key,)).fetchone()[0])
row["new"] = "Cancelled"
db.execute("UPDATE kv SET doc=? WHERE ns='audit' AND key=?", (json.dumps(row), key))
db.commit()
EOF
expect_exit 1 "a tampered row fails verify" -- "$C" audit verify --store "$URL"
expect_out "audit log BROKEN at row 17: hash does not match its content" "the break names the row"
expect_exit 1 "verify --json on a tampered log" -- "$C" audit verify --store "$URL" --json
expect_out_json 'j["ok"] is False and j["rows"] == 16 and j["bad_seq"] == 17 and "row 17" in j["error"]' \
	"verify --json names the bad row"

# Usage errors and an unopenable store.
expect_exit 2 "no subcommand" -- "$C" audit
expect_exit 2 "unknown subcommand" -- "$C" audit frobnicate --store "$URL"
expect_exit 2 "search without an id" -- "$C" audit search --store "$URL"
expect_exit 2 "a bad --limit" -- "$C" audit search ctr-1 --limit 0 --store "$URL"
expect_exit 2 "--decision is for search" -- "$C" audit verify --decision gap --store "$URL"
expect_exit 2 "an unknown option" -- "$C" audit verify --nope --store "$URL"
expect_exit 2 "--config and --store together" -- "$C" audit verify --config "$WORK/clmsync.yaml" --store "$URL"
expect_exit 3 "a store that cannot be opened" -- "$C" audit verify --store "sqlite:$WORK/no/such/dir/x.db"
expect_err "cannot open the store" "the reason is given"
expect_exit 3 "an unknown store scheme" -- "$C" audit verify --store "nosql:x"
printf 'stor: x\n' >"$WORK/bad.yaml"
expect_exit 3 "an invalid configuration" -- "$C" audit verify --config "$WORK/bad.yaml"
expect_exit 0 "audit --help" -- "$C" audit --help
expect_out "usage: clmsync audit verify" "the help shows the usage"
expect_exit 0 "clmsync help" -- "$C" help
expect_out "audit verify | search ID" "the command is listed"

finish

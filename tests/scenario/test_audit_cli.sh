#!/usr/bin/env bash
# clmsync audit through the real binary and a running server's admin API: a chain written by an
# independent implementation (Python's hashlib and json over the store's kv table) verifies,
# online and --offline; a tampered row is found by number; search by either id and by filters;
# --json output; exit codes 0/1/2/3.
. "$(dirname "$0")/lib.sh"

C=$BUILD/clmsync

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

# The audit log of a running server (repository only: the test writes the rows itself), through
# its admin API; the token is the one serve writes to the data directory.
start_clmsync a --no-sync
DB=$DATA_a/clmsync.db
URL=sqlite:$DB
A=(--admin-url "$ADMIN_a" --data "$DATA_a")

expect_exit 0 "verify an empty log" -- "$C" audit verify "${A[@]}"
expect_out "audit log intact: 0 rows" "an empty log is intact"
expect_exit 0 "verify --json on an empty log" -- "$C" audit verify "${A[@]}" --json
expect_out_json 'j == {"ok": True, "rows": 0, "bad_seq": None, "error": None, "head": None}' "empty log as JSON"
expect_exit 0 "verify --offline on an empty log" -- "$C" audit verify --offline --store "$URL"
expect_out "audit log intact: 0 rows" "offline too"

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

expect_exit 0 "a chain written by another implementation verifies" -- "$C" audit verify "${A[@]}"
expect_out "audit log intact: 30 rows, head ${HEAD:0:12}" "rows and head are reported"
expect_exit 0 "verify --json" -- "$C" audit verify "${A[@]}" --json
expect_out_json "j['ok'] is True and j['rows'] == 30 and j['head'] == '$HEAD'" "verify --json names the head"
expect_exit 0 "verify --offline --store" -- "$C" audit verify --offline --store "$URL" --json
expect_out_json "j['ok'] is True and j['rows'] == 30 and j['head'] == '$HEAD'" "offline: the same answer"
expect_exit 0 "verify --offline --data" -- "$C" audit verify --offline --data "$DATA_a"
expect_out "audit log intact: 30 rows, head ${HEAD:0:12}" "the data directory's store is used"

# The store from a configuration file.
printf 'store: "%s"\n' "$URL" >"$WORK/clmsync.yaml"
expect_exit 0 "verify --offline --config" -- "$C" audit verify --offline --config "$WORK/clmsync.yaml"
expect_out "audit log intact: 30 rows" "the configuration's store is used"

# Search by CLM id (ctr-1: rows 1, 5, 9, ...) and by Salesforce id (…002AAA: rows 2, 5, 8, ...).
expect_exit 0 "search by CLM id" -- "$C" audit search ctr-1 "${A[@]}"
[ "$(grep -c '^[0-9][0-9]*  *2026-' "$WORK/out")" -eq 8 ] && ok "ctr-1 has 8 rows" || bad "ctr-1: $(cat "$WORK/out")"
expect_out "8 rows" "the count is printed"
row1=$(grep '^1 ' "$WORK/out" || true)
for want in 2026-11-27T10:00:01.123Z applied salesforce ctr-1 status '"Draft"' '"Activated"' cdc:/data/ContractChangeEvent:1; do
	case "$row1" in *"$want"*) ;; *) bad "row 1 lacks $want: $row1"; row1=;; esac
done
[ -n "$row1" ] && ok "a row: seq, time, decision, side, record, field, old, new, event"
grep -q '^17 .*null  *{"amount":"1200.00",' "$WORK/out" && ok "values are shown as compact JSON, cut to fit" ||
	bad "row 17: $(grep '^17 ' "$WORK/out")"
expect_exit 0 "search another CLM id" -- "$C" audit search ctr-2 "${A[@]}"
grep -q '^10 .* clm  *ctr-2  *-  *"tab\\there"  *"Draft"' "$WORK/out" && ok "a record-level row shows no field" ||
	bad "row 10: $(grep '^10 ' "$WORK/out")"
expect_exit 0 "search --json --limit" -- "$C" audit search 800000000000002AAA --limit 3 "${A[@]}" --json
expect_out_json '[r["seq"] for r in j["rows"]] == [2, 5, 8] and j["rows"][1]["new"] is True and j["rows"][0]["new"] == "a/b \"quoted\" back\\slash" and j["next"] == 8' \
	"search by Salesforce id as JSON, bounded by --limit, with where to go on"
expect_exit 0 "search with filters" -- "$C" audit search --field status --since 2026-11-27T10:00:25Z "${A[@]}" --json
expect_out_json '[r["seq"] for r in j["rows"]] == [25, 26, 27, 28, 29] and j["next"] is None' "filters: field and since"
expect_exit 0 "search --decision without an id" -- "$C" audit search --decision applied --limit 2 "${A[@]}" --json
expect_out_json '[r["seq"] for r in j["rows"]] == [1, 2]' "every record's rows of one decision, bounded by --limit"
expect_exit 0 "search a decision no row has" -- "$C" audit search --decision gap "${A[@]}" --json
expect_out_json 'j["rows"] == []' "no row of that decision"
expect_exit 0 "search for an unknown id" -- "$C" audit search nobody "${A[@]}" --json
expect_out_json 'j == {"rows": [], "next": None}' "no rows is an empty list"
expect_exit 0 "search for an unknown id, table" -- "$C" audit search nobody "${A[@]}"
expect_out "no matching rows" "said so"
expect_exit 2 "a bad time is refused by the server" -- "$C" audit search --since yesterday "${A[@]}"

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
expect_exit 1 "a tampered row fails verify" -- "$C" audit verify "${A[@]}"
expect_out "audit log BROKEN at row 17: hash does not match its content" "the break names the row"
expect_exit 1 "verify --json on a tampered log" -- "$C" audit verify "${A[@]}" --json
expect_out_json 'j["ok"] is False and j["rows"] == 16 and j["bad_seq"] == 17 and "row 17" in j["error"]' \
	"verify --json names the bad row"
expect_exit 1 "offline too" -- "$C" audit verify --offline --store "$URL"
expect_out "audit log BROKEN at row 17: hash does not match its content" "the same row"

# Usage errors, an unopenable store, no server.
expect_exit 2 "no subcommand" -- "$C" audit
expect_exit 2 "unknown subcommand" -- "$C" audit frobnicate "${A[@]}"
expect_exit 2 "search with two ids" -- "$C" audit search a b "${A[@]}"
expect_exit 2 "a bad --limit" -- "$C" audit search ctr-1 --limit 0 "${A[@]}"
expect_exit 2 "an unknown option" -- "$C" audit verify --nope "${A[@]}"
expect_exit 2 "--store without --offline" -- "$C" audit verify --store "$URL"
expect_exit 2 "--config and --store together" -- "$C" audit verify --offline --config "$WORK/clmsync.yaml" --store "$URL"
expect_exit 2 "a search filter on verify" -- "$C" audit verify --decision applied "${A[@]}"
expect_exit 3 "a store that cannot be opened" -- "$C" audit verify --offline --store "sqlite:$WORK/no/such/dir/x.db"
expect_err "no store" "the reason is given"
expect_exit 3 "an unknown store scheme" -- "$C" audit verify --offline --store "nosql:x"
printf 'stor: x\n' >"$WORK/bad.yaml"
expect_exit 2 "an invalid configuration" -- "$C" audit verify --offline --config "$WORK/bad.yaml"
kill "$PID_a"; wait_dead "$PID_a"
expect_exit 3 "the server stopped" -- "$C" audit verify "${A[@]}"
expect_err "audit verify --offline" "the offline form is suggested"
expect_exit 0 "audit --help" -- "$C" audit --help
expect_out "usage: clmsync audit search" "the help shows the usage"
expect_out "--offline" "and the offline form"
expect_exit 0 "clmsync help" -- "$C" help
expect_out "search the audit log, verify its hash chain" "the command is listed"

finish

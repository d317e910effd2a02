/* test_store_kv.c - the store's keyed state on SQLite: round trips, replace, delete, ordered
 * scans, namespaces, counts, transaction rules, input checks, limits, damaged rows, faults,
 * reopening and the schema migration that adds it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define STORE_FIXTURE_NAME "test_store_kv"
#include "store_fixture.h"

/* ---- helpers ---- */

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("raw_exec %s: %s", sql, msg);
	sqlite3_close(db);
}

static long long
raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* The stored text of (ns, key), read from outside the store; into out (n bytes). */
static const char *
raw_doc(const char *path, const char *ns, const char *key, char *out, size_t n)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT doc FROM kv WHERE ns = ?1 AND key = ?2", -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

/* A new JSON value parsed from text; fails the test when it does not parse. */
static json_t *
J(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (v == NULL)
		fail_msg("bad test JSON %s: %s", text, je.text);
	return v;
}

/* Puts the value parsed from text in its own transaction. */
static void
put_commit(struct store *s, const char *ns, const char *key, const char *text)
{
	struct cs_error e = { 0 };
	json_t *v = J(text);

	assert_int_equal(store_begin(s, &e), CS_OK);
	if (store_kv_put(s, ns, key, v, &e) != CS_OK)
		fail_msg("put %s/%s: %s", ns, key, e.msg);
	assert_int_equal(store_commit(s, &e), CS_OK);
	json_decref(v);
}

/* Asserts that (ns, key) holds the value parsed from text. */
static void
assert_doc(struct store *s, const char *ns, const char *key, const char *text)
{
	struct cs_error e = { 0 };
	json_t *want = J(text), *got = NULL;
	char *g;

	if (store_kv_get(s, ns, key, &got, &e) != CS_OK)
		fail_msg("get %s/%s: %s", ns, key, e.msg);
	if (!json_equal(want, got)) {
		g = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
		fail_msg("get %s/%s: want %s, got %s", ns, key, text, g != NULL ? g : "(null)");
	}
	json_decref(want);
	json_decref(got);
}

static long long
count(struct store *s, const char *ns)
{
	struct cs_error e = { 0 };
	long long n = -1;

	if (store_kv_count(s, ns, &n, &e) != CS_OK)
		fail_msg("count %s: %s", ns, e.msg);
	return n;
}

/* Scans ns after `after` and writes the keys, comma-separated, into out (n bytes). */
static const char *
scan_keys(struct store *s, const char *ns, const char *after, int limit, char *out, size_t n)
{
	struct cs_error e = { 0 };
	json_t *arr = NULL, *row;
	size_t i, used = 0;

	out[0] = '\0';
	if (store_kv_scan(s, ns, after, limit, &arr, &e) != CS_OK)
		fail_msg("scan %s: %s", ns, e.msg);
	assert_true(json_is_array(arr));
	assert_true(json_array_size(arr) <= (size_t)limit);
	json_array_foreach(arr, i, row) {
		const char *k = json_string_value(json_object_get(row, "key"));

		assert_non_null(k);
		assert_non_null(json_object_get(row, "doc"));
		assert_int_equal(json_object_size(row), 2);
		used += (size_t)snprintf(out + used, n - used, "%s%s", i > 0 ? "," : "", k);
		assert_true(used < n);
	}
	json_decref(arr);
	return out;
}

/* ---- round trips ---- */

static void
round_trip(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *out = (json_t *)1;
	char raw[256];
	static const char *const docs[][2] = {
		{ "obj", "{\"link\":\"a0B5g00000XyZ\",\"n\":7,\"nested\":{\"ok\":true,\"x\":null}}" },
		{ "empty-obj", "{}" },
		{ "arr", "[1,\"two\",{\"three\":3},[4]]" },
		{ "empty-arr", "[]" },
		{ "str", "\"a plain string, with \\\"quotes\\\" and \\u00e9\"" },
		{ "int", "-42" },
		{ "real", "0.1" },
		{ "true", "true" },
		{ "null", "null" },
	};

	assert_int_equal(store_begin(f->s, &e), CS_OK);
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_t *v = J(docs[i][1]);

		assert_int_equal(store_kv_put(f->s, "sync.shadow", docs[i][0], v, &e), CS_OK);
		json_decref(v);
	}
	/* inside the transaction, reads see its own writes */
	assert_doc(f->s, "sync.shadow", "arr", docs[2][1]);
	assert_int_equal(count(f->s, "sync.shadow"), 9);
	assert_int_equal(store_commit(f->s, &e), CS_OK);

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		assert_doc(f->s, "sync.shadow", docs[i][0], docs[i][1]);
	/* stored compactly, whatever the caller's value looked like */
	assert_string_equal(raw_doc(f->path, "sync.shadow", "obj", raw, sizeof(raw)),
	                    "{\"link\":\"a0B5g00000XyZ\",\"n\":7,\"nested\":{\"ok\":true,\"x\":null}}");
	assert_string_equal(raw_doc(f->path, "sync.shadow", "arr", raw, sizeof(raw)),
	                    "[1,\"two\",{\"three\":3},[4]]");
	assert_string_equal(raw_doc(f->path, "sync.shadow", "str", raw, sizeof(raw)),
	                    "\"a plain string, with \\\"quotes\\\" and \xc3\xa9\"");

	/* absent: another key, another namespace, and *out is NULL */
	assert_int_equal(store_kv_get(f->s, "sync.shadow", "nope", &out, &e), CS_ENOTFOUND);
	assert_null(out);
	out = (json_t *)1;
	assert_int_equal(store_kv_get(f->s, "sync.other", "obj", &out, &e), CS_ENOTFOUND);
	assert_null(out);
	assert_int_equal(count(f->s, "sync.shadow"), 9);
}

static void
replace(void **state)
{
	struct fx *f = *state;

	put_commit(f->s, "links", "contract:c1", "{\"sf\":\"a01\",\"v\":1}");
	assert_doc(f->s, "links", "contract:c1", "{\"sf\":\"a01\",\"v\":1}");
	put_commit(f->s, "links", "contract:c1", "[\"replaced\",\"by\",\"an array\"]");
	assert_doc(f->s, "links", "contract:c1", "[\"replaced\",\"by\",\"an array\"]");
	put_commit(f->s, "links", "contract:c1", "{\"sf\":\"a02\",\"v\":2}");
	assert_doc(f->s, "links", "contract:c1", "{\"sf\":\"a02\",\"v\":2}");
	assert_int_equal(count(f->s, "links"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM kv"), 1);
}

static void
del(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *out = NULL;
	bool existed;

	put_commit(f->s, "q", "0001", "{\"a\":1}");
	put_commit(f->s, "q", "0002", "{\"a\":2}");
	put_commit(f->s, "q2", "0001", "{\"other\":true}");

	assert_int_equal(store_begin(f->s, &e), CS_OK);
	existed = false;
	assert_int_equal(store_kv_del(f->s, "q", "0001", &existed, &e), CS_OK);
	assert_true(existed);
	existed = true;
	assert_int_equal(store_kv_del(f->s, "q", "0001", &existed, &e), CS_OK);   /* gone already */
	assert_false(existed);
	existed = true;
	assert_int_equal(store_kv_del(f->s, "q", "never", &existed, &e), CS_OK);
	assert_false(existed);
	assert_int_equal(store_kv_del(f->s, "q", "0002", NULL, &e), CS_OK);      /* existed may be NULL */
	assert_int_equal(store_kv_get(f->s, "q", "0002", &out, &e), CS_ENOTFOUND);
	assert_int_equal(store_commit(f->s, &e), CS_OK);

	assert_int_equal(store_kv_get(f->s, "q", "0001", &out, &e), CS_ENOTFOUND);
	assert_null(out);
	assert_int_equal(count(f->s, "q"), 0);
	/* the same key in another namespace stays */
	assert_doc(f->s, "q2", "0001", "{\"other\":true}");
	assert_int_equal(count(f->s, "q2"), 1);
	/* deleted keys may be used again */
	put_commit(f->s, "q", "0001", "\"back\"");
	assert_doc(f->s, "q", "0001", "\"back\"");
}

/* ---- scans ---- */

static void
scan_order(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *arr = NULL, *v;
	char keys[1024], all[1024], paged[1024] = "";
	const char *after;
	char last[STORE_KV_KEY_MAX];
	/* inserted out of order; zero-padded decimals sort numerically, then byte-wise: digits,
	 * upper case, lower case, a prefix before its extensions, multi-byte UTF-8 last */
	static const char *const ins[] = { "00000100", "a", "00000002", "\xc3\xa9t\xc3\xa9", "ab", "B",
	                                   "00000010", "00000001", "z" };
	static const char expect[] = "00000001,00000002,00000010,00000100,B,a,ab,z,\xc3\xa9t\xc3\xa9";

	assert_int_equal(store_begin(f->s, &e), CS_OK);
	for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		v = json_pack("{s:s, s:i}", "key", ins[i], "i", (int)i);
		assert_int_equal(store_kv_put(f->s, "queue", ins[i], v, &e), CS_OK);
		json_decref(v);
	}
	assert_int_equal(store_commit(f->s, &e), CS_OK);

	assert_string_equal(scan_keys(f->s, "queue", NULL, STORE_LIST_MAX, all, sizeof(all)), expect);
	assert_string_equal(scan_keys(f->s, "queue", "", 100, keys, sizeof(keys)), expect);
	/* after is exclusive, and need not be a stored key */
	assert_string_equal(scan_keys(f->s, "queue", "00000002", 3, keys, sizeof(keys)),
	                    "00000010,00000100,B");
	assert_string_equal(scan_keys(f->s, "queue", "00000003", 1, keys, sizeof(keys)), "00000010");
	assert_string_equal(scan_keys(f->s, "queue", "a", 100, keys, sizeof(keys)),
	                    "ab,z,\xc3\xa9t\xc3\xa9");
	assert_string_equal(scan_keys(f->s, "queue", "\xc3\xa9t\xc3\xa9", 100, keys, sizeof(keys)), "");
	assert_string_equal(scan_keys(f->s, "queue", "\xef\xbf\xbd", 100, keys, sizeof(keys)), "");

	/* paging by the last key, two at a time, visits each entry once and in order */
	after = NULL;
	for (int pages = 0;; pages++) {
		size_t n;

		assert_true(pages < 10);
		assert_int_equal(store_kv_scan(f->s, "queue", after, 2, &arr, &e), CS_OK);
		n = json_array_size(arr);
		assert_true(n <= 2);
		for (size_t i = 0; i < n; i++) {
			const char *k = json_string_value(json_object_get(json_array_get(arr, i), "key"));
			size_t used = strlen(paged);

			snprintf(paged + used, sizeof(paged) - used, "%s%s", used > 0 ? "," : "", k);
			snprintf(last, sizeof(last), "%s", k);
		}
		json_decref(arr);
		arr = NULL;
		if (n < 2)
			break;
		after = last;
	}
	assert_string_equal(paged, expect);

	/* the doc comes back parsed, next to its key */
	assert_int_equal(store_kv_scan(f->s, "queue", "00000002", 1, &arr, &e), CS_OK);
	assert_int_equal(json_array_size(arr), 1);
	v = json_object_get(json_array_get(arr, 0), "doc");
	assert_true(json_is_object(v));
	assert_string_equal(json_string_value(json_object_get(v, "key")), "00000010");
	assert_int_equal(json_integer_value(json_object_get(v, "i")), 6);
	json_decref(arr);

	/* limits */
	arr = (json_t *)1;
	assert_int_equal(store_kv_scan(f->s, "queue", NULL, 0, &arr, &e), CS_EINVAL);
	assert_null(arr);
	assert_int_equal(store_kv_scan(f->s, "queue", NULL, -1, &arr, &e), CS_EINVAL);
	assert_int_equal(store_kv_scan(f->s, "queue", NULL, STORE_LIST_MAX + 1, &arr, &e), CS_EINVAL);
	assert_non_null(strstr(e.msg, "limit"));
	assert_string_equal(scan_keys(f->s, "queue", NULL, 1, keys, sizeof(keys)), "00000001");

	/* an empty namespace scans empty */
	assert_int_equal(store_kv_scan(f->s, "nothing.here", NULL, 10, &arr, &e), CS_OK);
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
}

static void
namespaces(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	char keys[256];

	/* "q" is a prefix of "q2" and "q:" of neither: nothing may leak between them */
	put_commit(f->s, "q", "0001", "\"q-1\"");
	put_commit(f->s, "q", "0003", "\"q-3\"");
	put_commit(f->s, "q2", "0001", "\"q2-1\"");
	put_commit(f->s, "q2", "0002", "\"q2-2\"");
	put_commit(f->s, "q2", "0004", "\"q2-4\"");
	put_commit(f->s, "q:", "0000", "\"q:-0\"");

	assert_string_equal(scan_keys(f->s, "q", NULL, 100, keys, sizeof(keys)), "0001,0003");
	assert_string_equal(scan_keys(f->s, "q2", NULL, 100, keys, sizeof(keys)), "0001,0002,0004");
	assert_string_equal(scan_keys(f->s, "q:", NULL, 100, keys, sizeof(keys)), "0000");
	assert_string_equal(scan_keys(f->s, "q", "0001", 100, keys, sizeof(keys)), "0003");
	assert_string_equal(scan_keys(f->s, "Q", NULL, 100, keys, sizeof(keys)), "");   /* case matters */
	assert_doc(f->s, "q", "0001", "\"q-1\"");
	assert_doc(f->s, "q2", "0001", "\"q2-1\"");
	assert_int_equal(count(f->s, "q"), 2);
	assert_int_equal(count(f->s, "q2"), 3);
	assert_int_equal(count(f->s, "q:"), 1);
	assert_int_equal(count(f->s, "none"), 0);

	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_kv_del(f->s, "q2", "0001", NULL, &e), CS_OK);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(count(f->s, "q"), 2);
	assert_int_equal(count(f->s, "q2"), 2);
	assert_doc(f->s, "q", "0001", "\"q-1\"");
}

static void
counts(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	char key[16];
	long long n = -1;

	assert_int_equal(count(f->s, "audit"), 0);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	for (int i = 0; i < 1500; i++) {
		json_t *v = json_integer(i);

		snprintf(key, sizeof(key), "%010d", i);
		assert_int_equal(store_kv_put(f->s, "audit", key, v, &e), CS_OK);
		json_decref(v);
	}
	assert_int_equal(count(f->s, "audit"), 1500);
	assert_int_equal(store_kv_del(f->s, "audit", "0000000007", NULL, &e), CS_OK);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(count(f->s, "audit"), 1499);
	/* a full page is STORE_LIST_MAX, and the next one holds the rest */
	{
		json_t *arr = NULL;
		const char *lastk;

		assert_int_equal(store_kv_scan(f->s, "audit", NULL, STORE_LIST_MAX, &arr, &e), CS_OK);
		assert_int_equal(json_array_size(arr), STORE_LIST_MAX);
		lastk = json_string_value(json_object_get(json_array_get(arr, STORE_LIST_MAX - 1), "key"));
		assert_string_equal(lastk, "0000001000");   /* 0..1000 without 7 */
		snprintf(key, sizeof(key), "%s", lastk);
		json_decref(arr);
		assert_int_equal(store_kv_scan(f->s, "audit", key, STORE_LIST_MAX, &arr, &e), CS_OK);
		assert_int_equal(json_array_size(arr), 499);
		json_decref(arr);
	}
	assert_int_equal(store_kv_count(f->s, "bad ns", &n, &e), CS_EINVAL);
	assert_int_equal(n, 0);
}

/* Counting a range of keys: a prefix's entries, bounds included and excluded, the namespace
 * alone, and what is refused. */
static void
count_ranges(void **state)
{
	static const char *const keys[] = { "contracts/a/Name", "contracts/b/Name", "contracts/b/Status", "contracts0",
	                                    "contracts", "contracts-x/a/Name", "counterparties/a/Name", "é/1" };
	struct fx *f = *state;
	struct cs_error e = { 0 };
	long long n = -1;

	assert_int_equal(store_begin(f->s, &e), CS_OK);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_integer((json_int_t)i);
		assert_int_equal(store_kv_put(f->s, "conflict", keys[i], v, &e), CS_OK);
		assert_int_equal(store_kv_put(f->s, "other", keys[i], v, &e), CS_OK);
		json_decref(v);
	}
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	/* the keys under "contracts/": not "contracts", "contracts0" or "contracts-x/..." */
	assert_int_equal(store_kv_count_range(f->s, "conflict", "contracts/", "contracts0", &n, &e), CS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(store_kv_count_range(f->s, "conflict", "counterparties/", "counterparties0", &n, &e), CS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_kv_count_range(f->s, "conflict", "é/", "é0", &n, &e), CS_OK);
	assert_int_equal(n, 1);
	/* from is in, to is out */
	assert_int_equal(store_kv_count_range(f->s, "conflict", "contracts/b/Name", "contracts/b/Status", &n, &e), CS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_kv_count_range(f->s, "conflict", "nothing/", "nothing0", &n, &e), CS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_kv_count_range(f->s, "conflict", "z", "a", &n, &e), CS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_kv_count_range(f->s, "bad ns", "a", "b", &n, &e), CS_EINVAL);
	assert_int_equal(store_kv_count_range(f->s, "conflict", "", "b", &n, &e), CS_EINVAL);
	assert_int_equal(store_kv_count_range(f->s, "conflict", "a", "b\n", &n, &e), CS_EINVAL);
	assert_int_equal(n, 0);
}

/* ---- transactions ---- */

static void
outside_transaction(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *v = J("{\"a\":1}");
	bool existed = true;

	assert_false(store_in_transaction(f->s));
	assert_int_equal(store_kv_put(f->s, "ns", "k", v, &e), CS_ESTATE);
	assert_false(store_in_transaction(f->s));
	assert_int_equal(count(f->s, "ns"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM kv"), 0);

	put_commit(f->s, "ns", "k", "{\"a\":1}");
	assert_int_equal(store_kv_del(f->s, "ns", "k", &existed, &e), CS_ESTATE);
	assert_false(existed);
	assert_false(store_in_transaction(f->s));
	assert_doc(f->s, "ns", "k", "{\"a\":1}");
	json_decref(v);
}

static void
rollback(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *v2 = J("{\"v\":2}"), *nv = J("\"new\""), *out = NULL;

	put_commit(f->s, "cursor", "sf:Contract", "{\"v\":1}");
	put_commit(f->s, "cursor", "gone", "true");

	/* a rolled-back transaction leaves no trace: replace, insert and delete */
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_kv_put(f->s, "cursor", "sf:Contract", v2, &e), CS_OK);
	assert_int_equal(store_kv_put(f->s, "cursor", "fresh", nv, &e), CS_OK);
	assert_int_equal(store_kv_del(f->s, "cursor", "gone", NULL, &e), CS_OK);
	assert_doc(f->s, "cursor", "sf:Contract", "{\"v\":2}");
	assert_int_equal(count(f->s, "cursor"), 2);
	store_rollback(f->s);
	assert_false(store_in_transaction(f->s));
	assert_doc(f->s, "cursor", "sf:Contract", "{\"v\":1}");
	assert_doc(f->s, "cursor", "gone", "true");
	assert_int_equal(store_kv_get(f->s, "cursor", "fresh", &out, &e), CS_ENOTFOUND);
	assert_int_equal(count(f->s, "cursor"), 2);

	/* a savepoint undoes its own put and keeps the rest of the transaction */
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_kv_put(f->s, "cursor", "fresh", nv, &e), CS_OK);
	assert_int_equal(store_savepoint(f->s, &e), CS_OK);
	assert_int_equal(store_kv_put(f->s, "cursor", "sf:Contract", v2, &e), CS_OK);
	assert_int_equal(store_rollback_to(f->s, &e), CS_OK);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_doc(f->s, "cursor", "fresh", "\"new\"");
	assert_doc(f->s, "cursor", "sf:Contract", "{\"v\":1}");
	json_decref(v2);
	json_decref(nv);
}

/* Another connection sees a put only once it is committed. */
static void
visibility(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	struct store *s2 = NULL;
	json_t *v = J("[1,2,3]"), *out = NULL;

	assert_int_equal(store_open(f->url, &s2, &e), CS_OK);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_kv_put(f->s, "ns", "k", v, &e), CS_OK);
	assert_int_equal(store_kv_get(s2, "ns", "k", &out, &e), CS_ENOTFOUND);
	assert_int_equal(count(s2, "ns"), 0);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_doc(s2, "ns", "k", "[1,2,3]");
	assert_int_equal(count(s2, "ns"), 1);
	store_close(s2);
	json_decref(v);
}

/* ---- input checks and limits ---- */

static void
bad_names(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *v = J("{}"), *out = NULL;
	char ns_long[STORE_KV_NS_MAX + 1], ns_max[STORE_KV_NS_MAX];
	char key_long[STORE_KV_KEY_MAX + 1], key_max[STORE_KV_KEY_MAX];
	long long n;
	bool existed;

	memset(ns_long, 'n', STORE_KV_NS_MAX);              /* 64 bytes: one too many */
	ns_long[STORE_KV_NS_MAX] = '\0';
	memset(ns_max, 'n', STORE_KV_NS_MAX - 1);           /* 63: the most allowed */
	ns_max[STORE_KV_NS_MAX - 1] = '\0';
	memset(key_long, 'k', STORE_KV_KEY_MAX);
	key_long[STORE_KV_KEY_MAX] = '\0';
	memset(key_max, 'k', STORE_KV_KEY_MAX - 1);
	key_max[STORE_KV_KEY_MAX - 1] = '\0';

	const char *bad_ns[] = { NULL, "", ns_long, "a b", "a/b", "ns\n", "caf\xc3\xa9", "a*", "q,1" };
	const char *bad_key[] = {
		NULL, "", key_long,
		"tab\there", "nl\n", "del\x7f", "\x1b[0m",              /* control characters */
		"\xff", "\xc3", "a\xc3(", "\xc0\xaf", "\xed\xa0\x80",   /* invalid UTF-8: stray, cut, overlong, surrogate */
	};

	assert_int_equal(store_begin(f->s, &e), CS_OK);
	for (size_t i = 0; i < sizeof(bad_ns) / sizeof(bad_ns[0]); i++) {
		json_t *arr = (json_t *)1;

		out = (json_t *)1;
		n = -1;
		if (store_kv_put(f->s, bad_ns[i], "k", v, &e) != CS_EINVAL)
			fail_msg("put accepted namespace #%zu", i);
		assert_non_null(strstr(e.msg, "namespace"));
		assert_int_equal(store_kv_get(f->s, bad_ns[i], "k", &out, &e), CS_EINVAL);
		assert_null(out);
		assert_int_equal(store_kv_del(f->s, bad_ns[i], "k", &existed, &e), CS_EINVAL);
		assert_int_equal(store_kv_scan(f->s, bad_ns[i], NULL, 10, &arr, &e), CS_EINVAL);
		assert_null(arr);
		assert_int_equal(store_kv_count(f->s, bad_ns[i], &n, &e), CS_EINVAL);
		assert_int_equal(n, 0);
	}
	for (size_t i = 0; i < sizeof(bad_key) / sizeof(bad_key[0]); i++) {
		json_t *arr = (json_t *)1;

		out = (json_t *)1;
		existed = true;
		if (store_kv_put(f->s, "ns", bad_key[i], v, &e) != CS_EINVAL)
			fail_msg("put accepted key #%zu", i);
		assert_non_null(strstr(e.msg, "key"));
		assert_int_equal(store_kv_get(f->s, "ns", bad_key[i], &out, &e), CS_EINVAL);
		assert_null(out);
		assert_int_equal(store_kv_del(f->s, "ns", bad_key[i], &existed, &e), CS_EINVAL);
		assert_false(existed);
		/* a non-empty scan position follows the key rules; NULL and "" mean the start */
		if (bad_key[i] != NULL && bad_key[i][0] != '\0') {
			assert_int_equal(store_kv_scan(f->s, "ns", bad_key[i], 10, &arr, &e), CS_EINVAL);
			assert_null(arr);
		}
	}
	/* nothing was written, and the transaction is still usable */
	assert_true(store_in_transaction(f->s));
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM kv"), 0);

	/* the limits themselves are fine, as are spaces and other scripts in keys */
	put_commit(f->s, ns_max, key_max, "1");
	put_commit(f->s, "A-Z.a-z_0:9", "with space / and \xe2\x82\xac \xf0\x9f\x98\x80", "2");
	assert_doc(f->s, ns_max, key_max, "1");
	assert_doc(f->s, "A-Z.a-z_0:9", "with space / and \xe2\x82\xac \xf0\x9f\x98\x80", "2");
	json_decref(v);
}

static void
too_big(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	char *s = malloc(STORE_DOC_MAX + 1);
	json_t *v, *out = NULL;

	assert_non_null(s);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	/* a string encodes as itself plus two quotes: STORE_DOC_MAX - 2 characters is exactly the
	 * limit, one more is over it */
	memset(s, 'x', STORE_DOC_MAX - 1);
	s[STORE_DOC_MAX - 1] = '\0';
	v = json_string(s);
	assert_int_equal(store_kv_put(f->s, "big", "over", v, &e), CS_ETOOBIG);
	json_decref(v);
	s[STORE_DOC_MAX - 2] = '\0';
	v = json_string(s);
	assert_int_equal(store_kv_put(f->s, "big", "at-limit", v, &e), CS_OK);
	json_decref(v);
	/* an object that grows past the limit on the way */
	v = json_object();
	s[STORE_DOC_MAX / 2] = '\0';
	json_object_set_new(v, "a", json_string(s));
	json_object_set_new(v, "b", json_string(s));
	assert_int_equal(store_kv_put(f->s, "big", "obj", v, &e), CS_ETOOBIG);
	assert_non_null(strstr(e.msg, "over"));
	json_decref(v);
	assert_int_equal(store_kv_put(f->s, "big", "null-pointer", NULL, &e), CS_EINVAL);
	assert_int_equal(store_commit(f->s, &e), CS_OK);

	assert_int_equal(count(f->s, "big"), 1);
	assert_int_equal(store_kv_get(f->s, "big", "over", &out, &e), CS_ENOTFOUND);
	assert_int_equal(store_kv_get(f->s, "big", "at-limit", &out, &e), CS_OK);
	assert_int_equal(json_string_length(out), STORE_DOC_MAX - 2);
	json_decref(out);
	free(s);
}

/* ---- damage, faults, reopening, migration ---- */

static void
damaged(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *out = (json_t *)1;

	put_commit(f->s, "links", "k0", "{\"fine\":1}");
	put_commit(f->s, "links", "k1", "{\"fine\":2}");
	put_commit(f->s, "links", "k2", "{\"fine\":3}");
	raw_exec(f->path, "UPDATE kv SET doc = '{\"cut\":' WHERE ns = 'links' AND key = 'k1'");
	assert_int_equal(store_kv_get(f->s, "links", "k1", &out, &e), CS_EIO);
	assert_null(out);
	assert_non_null(strstr(e.msg, "links/k1"));
	assert_non_null(strstr(e.msg, "not valid JSON"));
	assert_int_equal(store_kv_scan(f->s, "links", NULL, 10, &out, &e), CS_EIO);
	assert_null(out);
	assert_non_null(strstr(e.msg, "links/k1"));
	/* the rows around it still read, and the scan past it too */
	assert_doc(f->s, "links", "k0", "{\"fine\":1}");
	assert_int_equal(store_kv_scan(f->s, "links", "k1", 10, &out, &e), CS_OK);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	/* invalid UTF-8 inside the stored text is damage too, not a crash */
	raw_exec(f->path, "UPDATE kv SET doc = CAST(X'22FF22' AS TEXT) WHERE key = 'k2'");
	assert_int_equal(store_kv_get(f->s, "links", "k2", &out, &e), CS_EIO);
	assert_non_null(strstr(e.msg, "links/k2"));
	assert_null(out);
}

static void
faults(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *v = J("{\"n\":1}"), *out = NULL, *arr = NULL;
	long long n = -1;
	int failures = 0;

	put_commit(f->s, "ns", "old", "\"old\"");
	/* every statement of a write fails in turn: begin, put, del, commit */
	for (long nth = 1; nth < 20; nth++) {
		cs_err err;

		store_fault_inject(nth);
		if ((err = store_begin(f->s, &e)) == CS_OK && (err = store_kv_put(f->s, "ns", "new", v, &e)) == CS_OK &&
		    (err = store_kv_del(f->s, "ns", "old", NULL, &e)) == CS_OK)
			err = store_commit(f->s, &e);
		if (err == CS_OK)
			break;
		failures++;
		assert_int_equal(err, CS_EIO);
		assert_non_null(strstr(e.msg, "injected fault"));
		store_rollback(f->s);
		store_fault_inject(0);
		assert_false(store_in_transaction(f->s));
		assert_int_equal(store_kv_get(f->s, "ns", "new", &out, &e), CS_ENOTFOUND);
		assert_doc(f->s, "ns", "old", "\"old\"");
	}
	store_fault_inject(0);
	assert_int_equal(failures, 4);
	assert_doc(f->s, "ns", "new", "{\"n\":1}");

	/* and the reads */
	store_fault_inject(1);
	assert_int_equal(store_kv_get(f->s, "ns", "new", &out, &e), CS_EIO);
	assert_null(out);
	store_fault_inject(1);
	assert_int_equal(store_kv_scan(f->s, "ns", NULL, 10, &arr, &e), CS_EIO);
	assert_null(arr);
	store_fault_inject(1);
	assert_int_equal(store_kv_count(f->s, "ns", &n, &e), CS_EIO);
	assert_non_null(strstr(e.msg, "injected fault"));
	assert_int_equal(n, 0);
	store_fault_inject(0);
	/* a failed statement was reset: the next use works */
	assert_doc(f->s, "ns", "new", "{\"n\":1}");
	assert_int_equal(count(f->s, "ns"), 1);
	json_decref(v);
}

/* STORE_FAULT_DELAY: the delayed statement ran before its thread is held, so a read keeps the
 * snapshot it took while another connection commits in the window, and nothing fails. */
static struct store *delay_other;
static int delay_calls;

static void
delay_write(void)
{
	delay_calls++;
	put_commit(delay_other, "ns", "k", "\"new\"");
}

static void
delay_fault(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *out = NULL;

	put_commit(f->s, "ns", "k", "\"old\"");
	assert_int_equal(store_open(f->url, &delay_other, &e), CS_OK);
	store_fault_delay_set(1, delay_write);
	store_fault_inject_kind(1, STORE_FAULT_DELAY);
	assert_int_equal(store_kv_get(f->s, "ns", "k", &out, &e), CS_OK);
	assert_int_equal(delay_calls, 1);
	/* the read was made before the other connection's commit, which landed all the same */
	assert_string_equal(json_string_value(out), "old");
	json_decref(out);
	assert_doc(f->s, "ns", "k", "\"new\"");
	/* once: the next statements run as usual */
	assert_doc(f->s, "ns", "k", "\"new\"");
	assert_int_equal(delay_calls, 1);
	store_fault_delay_set(0, NULL);
	store_close(delay_other);
}

static void
reopen(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	char keys[64];

	put_commit(f->s, "sync.cursor", "sf:Contract", "{\"replay\":\"00012\",\"ts\":\"2026-11-27T00:19:07.123Z\"}");
	put_commit(f->s, "sync.cursor", "sf:Account", "42");
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->url, &f->s, &e), CS_OK);
	assert_doc(f->s, "sync.cursor", "sf:Contract", "{\"replay\":\"00012\",\"ts\":\"2026-11-27T00:19:07.123Z\"}");
	assert_doc(f->s, "sync.cursor", "sf:Account", "42");
	assert_string_equal(scan_keys(f->s, "sync.cursor", NULL, 10, keys, sizeof(keys)),
	                    "sf:Account,sf:Contract");
	assert_int_equal(count(f->s, "sync.cursor"), 2);
}

/* A database made before keyed state existed gains the table on open, keeping its records. */
static void
migration(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	struct store_rec r = { 0 }, g = { 0 };
	long long v2;

	v2 = raw_int(f->path, "SELECT count(*) FROM schema_migrations WHERE version = 2");
	assert_int_equal(v2, 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'kv'"), 1);

	snprintf(r.kind, sizeof(r.kind), "contract");
	snprintf(r.id, sizeof(r.id), "c1");
	snprintf(r.updated_by, sizeof(r.updated_by), "user:alice");
	r.version = 1;
	r.doc = J("{\"title\":\"A\"}");
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_insert(f->s, &r, &e), CS_OK);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	store_rec_cleanup(&r);
	store_close(f->s);
	f->s = NULL;

	/* back to schema version 1, as an older clmsync left it */
	raw_exec(f->path, "DROP TABLE kv; DELETE FROM schema_migrations WHERE version >= 2");
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'kv'"), 0);
	assert_int_equal(store_open(f->url, &f->s, &e), CS_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_migrations WHERE version = 2"), 1);
	assert_int_equal(store_get(f->s, "contract", "c1", &g, &e), CS_OK);
	store_rec_cleanup(&g);
	put_commit(f->s, "ns", "k", "{\"after\":\"migration\"}");
	assert_doc(f->s, "ns", "k", "{\"after\":\"migration\"}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(replace, setup, teardown),
		cmocka_unit_test_setup_teardown(del, setup, teardown),
		cmocka_unit_test_setup_teardown(scan_order, setup, teardown),
		cmocka_unit_test_setup_teardown(namespaces, setup, teardown),
		cmocka_unit_test_setup_teardown(counts, setup, teardown),
		cmocka_unit_test_setup_teardown(count_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(outside_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(visibility, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(faults, setup, teardown),
		cmocka_unit_test_setup_teardown(delay_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(migration, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

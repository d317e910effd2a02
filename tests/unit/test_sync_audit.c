/* test_sync_audit.c - the audit log: appends in transactions, the hash chain, verify finding
 * each kind of tampering at the right row, rollback, faults, paging and search. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "sync/audit.h"

#define STORE_FIXTURE_NAME "test_audit"
#include "store_fixture.h"

/* ---- helpers ---- */

static void
key_of(long long seq, char *out, size_t n)
{
	snprintf(out, n, "%020lld", seq);
}

/* Row i of a test log: records c<i%5> / s<i%7>, a status change from i-1 to i. */
static void
append_one(struct store *s, long long i, long long *seq)
{
	struct cs_error e = { 0 };
	char clm[16], sf[16], ev[32];
	json_t *o = json_integer(i - 1), *n = json_integer(i);
	struct sync_audit_row r = { 0 };

	snprintf(clm, sizeof(clm), "c%lld", i % 5);
	snprintf(sf, sizeof(sf), "s%lld", i % 7);
	snprintf(ev, sizeof(ev), "feed:%lld", i);
	r.org = "prod";
	r.mapping = "contracts";
	r.entity = "contract";
	r.clm_id = clm;
	r.sf_id = sf;
	r.side = i % 2 ? "salesforce" : "clm";
	r.field = "status";
	r.old_value = o;
	r.new_value = n;
	r.decision = "applied";
	r.event = ev;
	r.detail = NULL;
	r.ts_ms = 1795000000000LL + i;
	if (sync_audit_append(s, &r, seq, &e) != CS_OK)
		fail_msg("append %lld: %s", i, e.msg);
	json_decref(o);
	json_decref(n);
}

/* Appends rows first..last, per transactions of `batch` rows. */
static void
append_rows(struct store *s, long long first, long long last, int batch)
{
	struct cs_error e = { 0 };
	long long seq;

	for (long long i = first; i <= last;) {
		assert_int_equal(store_begin(s, &e), CS_OK);
		for (int k = 0; k < batch && i <= last; k++, i++) {
			append_one(s, i, &seq);
			assert_int_equal(seq, i);
		}
		if (store_commit(s, &e) != CS_OK)
			fail_msg("commit: %s", e.msg);
	}
}

/* Runs verify, expects rc, the rows count and bad_seq, and that e contains want (when set). */
static void
expect_verify(struct store *s, cs_err want_rc, long long want_rows, long long want_bad, const char *want)
{
	struct cs_error e = { 0 };
	long long rows = -1, bad = -1;
	cs_err rc = sync_audit_verify(s, &rows, &bad, NULL, NULL, &e);

	if (rc != want_rc || rows != want_rows || bad != want_bad)
		fail_msg("verify: rc %s rows %lld bad %lld (%s); wanted %s rows %lld bad %lld", cs_strerror(rc), rows,
		         bad, e.msg, cs_strerror(want_rc), want_rows, want_bad);
	if (want != NULL && strstr(e.msg, want) == NULL)
		fail_msg("verify said '%s', wanted '%s' in it", e.msg, want);
}

static json_t *
get_row(struct store *s, long long seq)
{
	struct cs_error e = { 0 };
	char key[32];
	json_t *doc = NULL;

	key_of(seq, key, sizeof(key));
	if (store_kv_get(s, "audit", key, &doc, &e) != CS_OK)
		fail_msg("get row %lld: %s", seq, e.msg);
	return doc;
}

static void
put_doc(struct store *s, const char *ns, const char *key, const json_t *doc)
{
	struct cs_error e = { 0 };

	assert_int_equal(store_begin(s, &e), CS_OK);
	if (store_kv_put(s, ns, key, doc, &e) != CS_OK)
		fail_msg("put %s/%s: %s", ns, key, e.msg);
	assert_int_equal(store_commit(s, &e), CS_OK);
}

static void
put_row(struct store *s, long long seq, const json_t *doc)
{
	char key[32];

	key_of(seq, key, sizeof(key));
	put_doc(s, "audit", key, doc);
}

static void
del_key(struct store *s, const char *ns, const char *key)
{
	struct cs_error e = { 0 };
	bool existed = false;

	assert_int_equal(store_begin(s, &e), CS_OK);
	assert_int_equal(store_kv_del(s, ns, key, &existed, &e), CS_OK);
	assert_true(existed);
	assert_int_equal(store_commit(s, &e), CS_OK);
}

/* The hash as audit.h defines it, computed here independently of audit.c. */
static void
hash_of(const char *prev, const json_t *row, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	json_t *c = json_deep_copy(row);
	char *enc;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	json_object_del(c, "hash");
	enc = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(enc);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, prev, 64), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, enc, strlen(enc)), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &n), 1);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(ctx);
	free(enc);
	json_decref(c);
}

/* Sets row seq's "hash" to the hash of its content after prev, and stores it. */
static void
rehash_row(struct store *s, json_t *row, long long seq)
{
	char h[65];

	hash_of(json_string_value(json_object_get(row, "prev")), row, h);
	json_object_set_new(row, "hash", json_string(h));
	put_row(s, seq, row);
}

#define ZERO64 "0000000000000000000000000000000000000000000000000000000000000000"

/* ---- tests ---- */

/* An empty log verifies with 0 rows; rows, paging past several store pages, the row format. */
static void
append_and_verify(void **state)
{
	struct fx *f = *state;
	json_t *r1, *r2, *head;
	struct cs_error e = { 0 };
	char h[65];
	long long n = 0;

	expect_verify(f->s, CS_OK, 0, 0, NULL);
	append_rows(f->s, 1, 2500, 300);
	expect_verify(f->s, CS_OK, 2500, 0, NULL);
	assert_int_equal(store_kv_count(f->s, "audit", &n, &e), CS_OK);
	assert_int_equal(n, 2500);

	r1 = get_row(f->s, 1);
	assert_int_equal(json_integer_value(json_object_get(r1, "seq")), 1);
	assert_string_equal(json_string_value(json_object_get(r1, "prev")), ZERO64);
	assert_string_equal(json_string_value(json_object_get(r1, "ts")), "2026-11-18T11:06:40.001Z");
	assert_string_equal(json_string_value(json_object_get(r1, "clm_id")), "c1");
	assert_string_equal(json_string_value(json_object_get(r1, "sf_id")), "s1");
	assert_string_equal(json_string_value(json_object_get(r1, "side")), "salesforce");
	assert_string_equal(json_string_value(json_object_get(r1, "decision")), "applied");
	assert_int_equal(json_integer_value(json_object_get(r1, "old")), 0);
	assert_int_equal(json_integer_value(json_object_get(r1, "new")), 1);
	assert_true(json_is_null(json_object_get(r1, "detail")));
	assert_int_equal(json_object_size(r1), 16);
	hash_of(ZERO64, r1, h);
	assert_string_equal(json_string_value(json_object_get(r1, "hash")), h);

	r2 = get_row(f->s, 2);
	assert_string_equal(json_string_value(json_object_get(r2, "prev")),
	                    json_string_value(json_object_get(r1, "hash")));
	hash_of(json_string_value(json_object_get(r1, "hash")), r2, h);
	assert_string_equal(json_string_value(json_object_get(r2, "hash")), h);

	assert_int_equal(store_kv_get(f->s, "audit_head", "head", &head, &e), CS_OK);
	assert_int_equal(json_integer_value(json_object_get(head, "seq")), 2500);
	json_decref(r1);
	r1 = get_row(f->s, 2500);
	assert_string_equal(json_string_value(json_object_get(head, "hash")),
	                    json_string_value(json_object_get(r1, "hash")));
	json_decref(r1);
	json_decref(r2);
	json_decref(head);
}

/* NULL strings and values are written as null; the caller's values are borrowed untouched;
 * ts 0 is now; text that is not UTF-8 is refused. */
static void
row_contents(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	struct sync_audit_row r = { 0 };
	json_t *nv = json_pack("{s:s,s:[i,i]}", "a", "b/c \"q\" é", "l", 1, 2), *row;
	const char *ts;
	long long seq = 0;

	r.decision = "created";
	r.new_value = nv;
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(sync_audit_append(f->s, &r, &seq, &e), CS_OK);
	assert_int_equal(seq, 1);
	r.detail = "\xff\xfe";
	assert_int_equal(sync_audit_append(f->s, &r, NULL, &e), CS_EINVAL);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(nv->refcount, 1);

	row = get_row(f->s, 1);
	assert_true(json_is_null(json_object_get(row, "field")));
	assert_true(json_is_null(json_object_get(row, "old")));
	assert_true(json_is_null(json_object_get(row, "org")));
	assert_true(json_equal(json_object_get(row, "new"), nv));
	ts = json_string_value(json_object_get(row, "ts"));
	assert_non_null(ts);
	assert_int_equal(strlen(ts), 24);
	assert_int_equal(ts[23], 'Z');
	assert_int_equal(ts[19], '.');
	expect_verify(f->s, CS_OK, 1, 0, NULL);
	json_decref(row);
	json_decref(nv);
}

static void
outside_transaction(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	struct sync_audit_row r = { 0 };
	long long n = -1, seq = -1;

	r.decision = "applied";
	assert_int_equal(sync_audit_append(f->s, &r, &seq, &e), CS_ESTATE);
	assert_int_equal(seq, -1);
	assert_int_equal(store_kv_count(f->s, "audit", &n, &e), CS_OK);
	assert_int_equal(n, 0);
	expect_verify(f->s, CS_OK, 0, 0, NULL);
}

/* A rolled back append leaves no trace: the chain stays valid and the next append continues it
 * with the number the rolled back one had. Also after a fault in the middle of an append. */
static void
rollback_keeps_chain(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	long long seq = 0;
	bool failed = false;

	append_rows(f->s, 1, 3, 3);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	append_one(f->s, 4, &seq);
	assert_int_equal(seq, 4);
	append_one(f->s, 5, &seq);
	assert_int_equal(seq, 5);
	store_rollback(f->s);
	expect_verify(f->s, CS_OK, 3, 0, NULL);
	append_rows(f->s, 4, 4, 1);
	expect_verify(f->s, CS_OK, 4, 0, NULL);

	/* appends of one transaction share the head they wrote; a savepoint rolled back in between
	 * takes its rows with it, and the next append continues from the row before them */
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	append_one(f->s, 5, &seq);
	assert_int_equal(seq, 5);
	assert_int_equal(store_savepoint(f->s, &e), CS_OK);
	append_one(f->s, 6, &seq);
	append_one(f->s, 7, &seq);
	assert_int_equal(seq, 7);
	assert_int_equal(store_rollback_to(f->s, &e), CS_OK);
	append_one(f->s, 6, &seq);
	assert_int_equal(seq, 6);
	assert_int_equal(store_savepoint(f->s, &e), CS_OK);
	append_one(f->s, 7, &seq);
	assert_int_equal(store_release(f->s, &e), CS_OK);
	append_one(f->s, 8, &seq);
	assert_int_equal(seq, 8);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	expect_verify(f->s, CS_OK, 8, 0, NULL);

	/* fail each store statement of an append in turn until one gets through: after each
	 * failure the caller rolls back and the chain holds */
	for (long n = 1;; n++) {
		struct sync_audit_row r = { 0 };
		cs_err rc;
		r.decision = "applied";
		r.clm_id = "cf";
		assert_true(n < 50);
		assert_int_equal(store_begin(f->s, &e), CS_OK);
		store_fault_inject(n);
		rc = sync_audit_append(f->s, &r, &seq, &e);
		store_fault_inject(0);
		if (rc == CS_OK) {
			assert_int_equal(store_commit(f->s, &e), CS_OK);
			assert_int_equal(seq, 9);
			break;
		}
		assert_int_equal(rc, CS_EIO);
		/* the store's own error is reported, never taken for a tampered log */
		assert_null(strstr(e.msg, "past the head"));
		failed = true;
		store_rollback(f->s);
		expect_verify(f->s, CS_OK, 8, 0, NULL);
	}
	assert_true(failed);
	expect_verify(f->s, CS_OK, 9, 0, NULL);
	append_rows(f->s, 10, 11, 2);
	expect_verify(f->s, CS_OK, 11, 0, NULL);
}

/* A changed value in a row: its hash no longer matches. Rehashing that row moves the break to
 * the next row's prev; rehashing every row after it moves it to the head. */
static void
tamper_content(void **state)
{
	struct fx *f = *state;
	json_t *row;

	append_rows(f->s, 1, 40, 40);
	row = get_row(f->s, 17);
	json_object_set_new(row, "new", json_string("Activated"));
	put_row(f->s, 17, row);
	expect_verify(f->s, CS_EIO, 16, 17, "row 17: hash does not match its content");

	rehash_row(f->s, row, 17);
	expect_verify(f->s, CS_EIO, 17, 18, "row 18: prev does not match");
	json_decref(row);

	for (long long i = 18; i <= 40; i++) {
		json_t *prev = get_row(f->s, i - 1);
		row = get_row(f->s, i);
		json_object_set(row, "prev", json_object_get(prev, "hash"));
		rehash_row(f->s, row, i);
		json_decref(prev);
		json_decref(row);
	}
	expect_verify(f->s, CS_EIO, 40, 40, "row 40: the head's hash");
}

/* Other member changes: the seq inside a row, a removed member, a row that is not an object. */
static void
tamper_shape(void **state)
{
	struct fx *f = *state;
	json_t *row, *orig;

	append_rows(f->s, 1, 10, 10);
	orig = get_row(f->s, 6);

	row = json_deep_copy(orig);
	json_object_set_new(row, "seq", json_integer(7));
	put_row(f->s, 6, row);
	expect_verify(f->s, CS_EIO, 5, 6, "row 6: the row stored there says it is row 7");
	json_decref(row);

	row = json_deep_copy(orig);
	json_object_del(row, "hash");
	put_row(f->s, 6, row);
	expect_verify(f->s, CS_EIO, 5, 6, "row 6: malformed");
	json_decref(row);

	row = json_string("gone");
	put_row(f->s, 6, row);
	expect_verify(f->s, CS_EIO, 5, 6, "row 6: malformed");
	json_decref(row);

	/* a member added, even one not hashed before, changes the content */
	row = json_deep_copy(orig);
	json_object_set_new(row, "note", json_string("x"));
	put_row(f->s, 6, row);
	expect_verify(f->s, CS_EIO, 5, 6, "row 6: hash does not match");
	json_decref(row);

	put_row(f->s, 6, orig);
	expect_verify(f->s, CS_OK, 10, 0, NULL);
	json_decref(orig);
}

/* A middle row removed, the last row removed, a row inserted after the end, a stray key. */
static void
tamper_delete_insert(void **state)
{
	struct fx *f = *state;
	json_t *row17, *row40, *stray;

	append_rows(f->s, 1, 40, 7);
	row17 = get_row(f->s, 17);
	del_key(f->s, "audit", "00000000000000000017");
	expect_verify(f->s, CS_EIO, 16, 17, "row 17: missing (the next row stored is 18)");
	put_row(f->s, 17, row17);
	expect_verify(f->s, CS_OK, 40, 0, NULL);

	row40 = get_row(f->s, 40);
	del_key(f->s, "audit", "00000000000000000040");
	expect_verify(f->s, CS_EIO, 39, 40, "row 40: the head names it but the log ends at row 39");
	put_row(f->s, 40, row40);

	/* a well-formed row 41 appended without moving the head */
	stray = json_deep_copy(row40);
	json_object_set_new(stray, "seq", json_integer(41));
	json_object_set(stray, "prev", json_object_get(row40, "hash"));
	rehash_row(f->s, stray, 41);
	expect_verify(f->s, CS_EIO, 41, 40, "row 40: the head names it but the log goes on to row 41");
	del_key(f->s, "audit", "00000000000000000041");

	put_doc(f->s, "audit", "zz", stray);
	expect_verify(f->s, CS_EIO, 40, 41, "row 41: expected, found an entry keyed 'zz'");
	del_key(f->s, "audit", "zz");
	expect_verify(f->s, CS_OK, 40, 0, NULL);
	json_decref(row17);
	json_decref(row40);
	json_decref(stray);
}

/* Two rows' documents swapped: the first of the two breaks, also when the swapped rows' seq
 * numbers are changed to fit their new keys. */
static void
tamper_swap(void **state)
{
	struct fx *f = *state;
	json_t *a, *b;

	append_rows(f->s, 1, 12, 12);
	a = get_row(f->s, 5);
	b = get_row(f->s, 9);
	put_row(f->s, 5, b);
	put_row(f->s, 9, a);
	expect_verify(f->s, CS_EIO, 4, 5, "row 5: the row stored there says it is row 9");
	put_row(f->s, 5, a);
	put_row(f->s, 9, b);
	expect_verify(f->s, CS_OK, 12, 0, NULL);
	json_decref(a);
	json_decref(b);

	a = get_row(f->s, 5);
	b = get_row(f->s, 6);
	json_object_set_new(a, "seq", json_integer(6));
	json_object_set_new(b, "seq", json_integer(5));
	put_row(f->s, 5, b);
	put_row(f->s, 6, a);
	expect_verify(f->s, CS_EIO, 4, 5, "row 5: prev does not match the hash of row 4");
	json_decref(a);
	json_decref(b);
}

/* The head rewritten: another hash, an earlier or later seq, removed, malformed. */
static void
tamper_head(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *head, *h;

	append_rows(f->s, 1, 20, 20);
	assert_int_equal(store_kv_get(f->s, "audit_head", "head", &head, &e), CS_OK);

	h = json_pack("{s:I,s:s}", "seq", (json_int_t)20, "hash", ZERO64);
	put_doc(f->s, "audit_head", "head", h);
	expect_verify(f->s, CS_EIO, 20, 20, "row 20: the head's hash is not this row's hash");
	json_decref(h);

	h = json_pack("{s:I,s:O}", "seq", (json_int_t)19, "hash", json_object_get(head, "hash"));
	put_doc(f->s, "audit_head", "head", h);
	expect_verify(f->s, CS_EIO, 20, 19, "row 19: the head names it but the log goes on to row 20");
	json_decref(h);

	h = json_pack("{s:I,s:O}", "seq", (json_int_t)25, "hash", json_object_get(head, "hash"));
	put_doc(f->s, "audit_head", "head", h);
	expect_verify(f->s, CS_EIO, 20, 25, "row 25: the head names it but the log ends at row 20");
	json_decref(h);

	h = json_pack("{s:s}", "seq", "twenty");
	put_doc(f->s, "audit_head", "head", h);
	expect_verify(f->s, CS_EIO, 20, 20, "row 20: the head is malformed");
	/* and an append refuses to extend a chain whose head it cannot read */
	{
		struct sync_audit_row r = { 0 };
		assert_int_equal(store_begin(f->s, &e), CS_OK);
		assert_int_equal(sync_audit_append(f->s, &r, NULL, &e), CS_EIO);
		store_rollback(f->s);
	}
	json_decref(h);

	del_key(f->s, "audit_head", "head");
	expect_verify(f->s, CS_EIO, 20, 20, "row 20: the log has 20 rows but no head");
	/* an append after the head was removed or moved back must not overwrite a row */
	for (int k = 0; k < 2; k++) {
		struct sync_audit_row r = { 0 };
		json_t *r1 = get_row(f->s, 1), *again;
		if (k == 1) {
			h = json_pack("{s:I,s:O}", "seq", (json_int_t)10, "hash", json_object_get(head, "hash"));
			put_doc(f->s, "audit_head", "head", h);
			json_decref(h);
		}
		assert_int_equal(store_begin(f->s, &e), CS_OK);
		assert_int_equal(sync_audit_append(f->s, &r, NULL, &e), CS_EIO);
		assert_non_null(strstr(e.msg, "exists past the head"));
		store_rollback(f->s);
		again = get_row(f->s, 1);
		assert_true(json_equal(r1, again));
		json_decref(r1);
		json_decref(again);
	}

	put_doc(f->s, "audit_head", "head", head);
	expect_verify(f->s, CS_OK, 20, 0, NULL);

	/* a head over an empty log */
	for (long long i = 1; i <= 20; i++) {
		char key[32];
		key_of(i, key, sizeof(key));
		del_key(f->s, "audit", key);
	}
	expect_verify(f->s, CS_EIO, 0, 20, "row 20: the head names it but the log ends at row 0");
	json_decref(head);
}

struct prog {
	long long calls;
	struct store *other;     /* a second connection that appends while verify walks */
};

static void
count_progress(void *ud, long long rows)
{
	struct prog *p = ud;

	assert_int_equal(rows, (p->calls + 1) * 10000);
	if (p->calls++ == 0 && p->other != NULL)
		append_rows(p->other, 20501, 20503, 3);
}

/* Progress every 10,000 rows, over many store pages; rows appended by another connection
 * while verify walks are walked too, and the head still matches at the end. */
static void
progress_calls(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	struct prog p = { 0, NULL };
	long long rows = 0, bad = -1;

	append_rows(f->s, 1, 20500, 2000);
	assert_int_equal(store_open(f->url, &p.other, &e), CS_OK);
	assert_int_equal(sync_audit_verify(f->s, &rows, &bad, count_progress, &p, &e), CS_OK);
	assert_int_equal(rows, 20503);
	assert_int_equal(bad, 0);
	assert_int_equal(p.calls, 2);
	store_close(p.other);
}

/* Walks the whole log in parts of `part` rows; returns the rows checked, sets *bad and *rc. */
static long long
verify_in_parts(struct store *s, long long part, long long *bad, cs_err *rc, char *msg, size_t msgn)
{
	struct sync_audit_pos pos;
	struct cs_error e = { 0 };
	long long total = 0, rows = 0, calls = 0;
	bool done = false;

	sync_audit_pos_init(&pos);
	*bad = 0;
	while (!done) {
		long long before = pos.seq;
		*rc = sync_audit_verify_part(s, &pos, part, &done, &rows, bad, NULL, NULL, &e);
		total += rows;
		if (*rc != CS_OK) {
			snprintf(msg, msgn, "%s", e.msg);
			assert_int_equal(pos.seq, before);   /* unchanged on failure */
			return total;
		}
		assert_true(rows <= part);
		assert_int_equal(pos.seq, before + rows);
		assert_true(++calls < 1000);
	}
	return total;
}

/* A verify in parts sees what one verify sees: every row once, the head checked at the end, a
 * break at the same row whichever part it falls in; a malformed position is refused. */
static void
verify_parts(void **state)
{
	struct fx *f = *state;
	struct sync_audit_pos pos;
	struct cs_error e = { 0 };
	long long bad = -1, rows = 0, head = -1;
	bool done = true;
	char msg[256];
	cs_err rc;
	json_t *row;

	/* an empty log: one part, done at once */
	assert_int_equal(verify_in_parts(f->s, 7, &bad, &rc, msg, sizeof(msg)), 0);
	assert_int_equal(rc, CS_OK);
	assert_int_equal(sync_audit_head(f->s, &head, &e), CS_OK);
	assert_int_equal(head, 0);

	append_rows(f->s, 1, 2503, 500);
	assert_int_equal(sync_audit_head(f->s, &head, &e), CS_OK);
	assert_int_equal(head, 2503);
	assert_int_equal(verify_in_parts(f->s, 7, &bad, &rc, msg, sizeof(msg)), 2503);
	assert_int_equal(rc, CS_OK);
	/* parts larger than a store page, and a part that ends exactly at the last row */
	assert_int_equal(verify_in_parts(f->s, 1200, &bad, &rc, msg, sizeof(msg)), 2503);
	assert_int_equal(rc, CS_OK);
	assert_int_equal(verify_in_parts(f->s, 2503, &bad, &rc, msg, sizeof(msg)), 2503);
	assert_int_equal(rc, CS_OK);

	/* the position a part returns is the row's own hash */
	sync_audit_pos_init(&pos);
	assert_int_equal(sync_audit_verify_part(f->s, &pos, 10, &done, &rows, &bad, NULL, NULL, &e), CS_OK);
	assert_false(done);
	row = get_row(f->s, 10);
	assert_int_equal(pos.seq, 10);
	assert_string_equal(pos.hash, json_string_value(json_object_get(row, "hash")));
	json_decref(row);
	/* a position that is not the chain's: a break at the next row */
	pos.hash[0] = pos.hash[0] == 'a' ? 'b' : 'a';
	assert_int_equal(sync_audit_verify_part(f->s, &pos, 10, &done, &rows, &bad, NULL, NULL, &e), CS_EIO);
	assert_int_equal(bad, 11);
	pos.hash[5] = 'X';
	assert_int_equal(sync_audit_verify_part(f->s, &pos, 10, &done, &rows, &bad, NULL, NULL, &e), CS_EINVAL);
	pos.seq = -1;
	memcpy(pos.hash, ZERO64, 65);
	assert_int_equal(sync_audit_verify_part(f->s, &pos, 10, &done, &rows, &bad, NULL, NULL, &e), CS_EINVAL);

	/* a tampered row in the middle of the third part of 1000 */
	row = get_row(f->s, 2117);
	json_object_set_new(row, "new", json_string("Cancelled"));
	put_row(f->s, 2117, row);
	json_decref(row);
	assert_int_equal(verify_in_parts(f->s, 1000, &bad, &rc, msg, sizeof(msg)), 2116);
	assert_int_equal(rc, CS_EIO);
	assert_int_equal(bad, 2117);
	assert_non_null(strstr(msg, "row 2117: hash does not match its content"));
	expect_verify(f->s, CS_EIO, 2116, 2117, "row 2117");
}

/* Search by either id, after a seq, bounded by limit, across store pages; bad arguments. */
static void
search_rows(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *out = NULL, *r;
	size_t i;
	long long last = 0;

	append_rows(f->s, 1, 2600, 500);

	/* c3: rows 3, 8, 13, ... (i % 5 == 3): 520 of them */
	assert_int_equal(sync_audit_search(f->s, "c3", 0, 1000, &out, &e), CS_OK);
	assert_int_equal(json_array_size(out), 520);
	json_array_foreach(out, i, r) {
		long long seq = json_integer_value(json_object_get(r, "seq"));
		assert_int_equal(seq % 5, 3);
		assert_true(seq > last);
		last = seq;
		assert_non_null(json_object_get(r, "hash"));
	}
	assert_int_equal(last, 2598);
	json_decref(out);

	/* s6 by Salesforce id (i % 7 == 6), paged by after: 6, 13, 20 then 27, 34 */
	assert_int_equal(sync_audit_search(f->s, "s6", 0, 3, &out, &e), CS_OK);
	assert_int_equal(json_array_size(out), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 2), "seq")), 20);
	json_decref(out);
	assert_int_equal(sync_audit_search(f->s, "s6", 20, 2, &out, &e), CS_OK);
	assert_int_equal(json_array_size(out), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 0), "seq")), 27);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 1), "seq")), 34);
	json_decref(out);
	/* after a seq past the second store page */
	assert_int_equal(sync_audit_search(f->s, "s6", 2590, 10, &out, &e), CS_OK);
	assert_int_equal(json_array_size(out), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 0), "seq")), 2596);
	json_decref(out);

	/* NULL: every row */
	assert_int_equal(sync_audit_search(f->s, NULL, 1500, 1000, &out, &e), CS_OK);
	assert_int_equal(json_array_size(out), 1000);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 0), "seq")), 1501);
	json_decref(out);

	assert_int_equal(sync_audit_search(f->s, "nobody", 0, 10, &out, &e), CS_OK);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);

	assert_int_equal(sync_audit_search(f->s, "c1", 0, 0, &out, &e), CS_EINVAL);
	assert_null(out);
	assert_int_equal(sync_audit_search(f->s, "c1", 0, 1001, &out, &e), CS_EINVAL);
	assert_int_equal(sync_audit_search(f->s, "c1", -1, 10, &out, &e), CS_EINVAL);
}

/* A log begun before the index by record existed: a search from its start scans, one from
 * after the index's start reads the index; both find every row, and filters apply. */
static void
search_index_start(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	struct sync_audit_filter flt = { .id = "c3" };
	json_t *out = NULL, *page = NULL, *r;
	long long to = 0;
	size_t i;

	append_rows(f->s, 1, 100, 50);
	/* forget the index, as a log written before it would have none */
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_kv_del(f->s, "audit_head", "index", NULL, &e), CS_OK);
	do {
		assert_int_equal(store_kv_scan(f->s, "audit_ix", NULL, 1000, &page, &e), CS_OK);
		json_array_foreach(page, i, r)
			assert_int_equal(store_kv_del(f->s, "audit_ix", json_string_value(json_object_get(r, "key")), NULL, &e),
			                 CS_OK);
		i = json_array_size(page);
		json_decref(page);
	} while (i > 0);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	append_rows(f->s, 101, 200, 50);

	/* rows 3, 8, ..., 198: 40, half before the index began */
	assert_int_equal(sync_audit_query(f->s, &flt, 0, 1000, &out, &to, &e), CS_OK);
	assert_int_equal(json_array_size(out), 40);
	json_decref(out);
	assert_int_equal(sync_audit_query(f->s, &flt, 100, 1000, &out, &to, &e), CS_OK);
	assert_int_equal(json_array_size(out), 20);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 0), "seq")), 103);
	assert_int_equal(to, 198);
	json_decref(out);
	/* paged through the index: after the last seq read */
	assert_int_equal(sync_audit_query(f->s, &flt, 100, 3, &out, &to, &e), CS_OK);
	assert_int_equal(json_array_size(out), 3);
	assert_int_equal(to, 113);
	json_decref(out);
	assert_int_equal(sync_audit_query(f->s, &flt, to, 3, &out, &to, &e), CS_OK);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 0), "seq")), 118);
	json_decref(out);
	/* filters on top of the index: side is not a filter, decision is */
	flt.decision = "reverted";
	assert_int_equal(sync_audit_query(f->s, &flt, 100, 1000, &out, &to, &e), CS_OK);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	flt.decision = "applied";
	/* row i is stamped 1795000000000 + i ms: from row 150 on, c3's are 153 ... 198 */
	snprintf(flt.since, sizeof(flt.since), "%s", "2026-11-18T11:06:40.150Z");
	assert_int_equal(sync_audit_query(f->s, &flt, 100, 1000, &out, &to, &e), CS_OK);
	assert_int_equal(json_array_size(out), 10);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 0), "seq")), 153);
	json_decref(out);
	/* the index is not part of the chain */
	expect_verify(f->s, CS_OK, 200, 0, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(append_and_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(row_contents, setup, teardown),
		cmocka_unit_test_setup_teardown(outside_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(rollback_keeps_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(tamper_content, setup, teardown),
		cmocka_unit_test_setup_teardown(tamper_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(tamper_delete_insert, setup, teardown),
		cmocka_unit_test_setup_teardown(tamper_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(tamper_head, setup, teardown),
		cmocka_unit_test_setup_teardown(progress_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(verify_parts, setup, teardown),
		cmocka_unit_test_setup_teardown(search_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(search_index_start, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

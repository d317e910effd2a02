/* audit.c - the engine's append-only, hash-chained audit log on the store's keyed state. */
#include "sync/audit.h"
#include "util/timeutil.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_ROWS "audit"
#define NS_HEAD "audit_head"
#define HEAD_KEY "head"
#define HASH_HEX 64                /* SHA-256 as lowercase hex, without the NUL */
#define KEY_DIGITS 20              /* a row's key: its seq as 20 zero-padded digits */
#define PAGE 1000                  /* rows per store read while walking: memory stays flat */
#define PROGRESS_EVERY 10000
#define SEARCH_MAX 1000
#define NS_IX "audit_ix"           /* "<clm or sf id>/<seq>": the rows of each record, for search */
#define IX_KEY "index"             /* in NS_HEAD: {"from": seq}, the first row indexed */

static const char zero_hash[HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static void
row_key(long long seq, char *out, size_t n)
{
	snprintf(out, n, "%0*lld", KEY_DIGITS, seq);
}

/* The seq a row key names, or -1 when key is not exactly KEY_DIGITS digits. */
static long long
key_seq(const char *key)
{
	long long v = 0;

	if (key == NULL || strlen(key) != KEY_DIGITS)
		return -1;
	for (int i = 0; i < KEY_DIGITS; i++) {
		if (key[i] < '0' || key[i] > '9')
			return -1;
		/* 20 digits can exceed LLONG_MAX; no real log gets near it, so such a key is damage */
		if (v > (0x7fffffffffffffffLL - 9) / 10)
			return -1;
		v = v * 10 + (key[i] - '0');
	}
	return v;
}

static bool
is_hash(const char *h)
{
	if (h == NULL || strlen(h) != HASH_HEX)
		return false;
	for (int i = 0; i < HASH_HEX; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return true;
}

/* out = hex SHA-256 of prev (64 characters) followed by the canonical encoding of row, which
 * must not hold "hash". CS_ENOMEM, or CS_EINTERNAL when OpenSSL refuses. */
static cs_err
row_hash(const char *prev, const json_t *row, char out[HASH_HEX + 1], struct cs_error *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	char *enc = NULL;
	cs_err rc = CS_OK;

	/* no JSON_ESCAPE_SLASH, no JSON_ENSURE_ASCII: the text must equal what other tools (Python's
	 * json.dumps(separators=(',',':'), sort_keys=True, ensure_ascii=False)) produce */
	if ((enc = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "audit: out of memory encoding a row");
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "audit: out of memory hashing a row");
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(ctx, prev, HASH_HEX) != 1 ||
	    EVP_DigestUpdate(ctx, enc, strlen(enc)) != 1 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 ||
	    mdlen != HASH_HEX / 2) {
		rc = cs_error_set(e, CS_EINTERNAL, "audit: SHA-256 failed");
		goto out;
	}
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[HASH_HEX] = '\0';
out:
	EVP_MD_CTX_free(ctx);
	free(enc);
	return rc;
}

/* Reads the head: *seq and hash, or 0 and 64 '0's when there is none yet; *found says which.
 * CS_EPARSE when the stored head is not {"seq": N >= 1, "hash": "<hex>"} (damage, which callers
 * report as they must), store errors otherwise. */
static cs_err
head_get(struct store *s, long long *seq, char hash[HASH_HEX + 1], bool *found, struct cs_error *e)
{
	json_t *h = NULL, *v;
	const char *hs;
	cs_err rc;

	*seq = 0;
	memcpy(hash, zero_hash, sizeof(zero_hash));
	*found = false;
	rc = store_kv_get(s, NS_HEAD, HEAD_KEY, &h, e);
	if (rc == CS_ENOTFOUND)
		return CS_OK;
	if (rc != CS_OK)
		return rc;
	v = json_object_get(h, "seq");
	hs = json_string_value(json_object_get(h, "hash"));
	if (!json_is_integer(v) || json_integer_value(v) < 1 || !is_hash(hs)) {
		json_decref(h);
		return cs_error_set(e, CS_EPARSE, "the head is not {\"seq\": N, \"hash\": HEX}");
	}
	*seq = (long long)json_integer_value(v);
	memcpy(hash, hs, HASH_HEX + 1);
	*found = true;
	json_decref(h);
	return CS_OK;
}

/* Sets key of o to the string s, or null when s is NULL. CS_EINVAL when s is not UTF-8. */
static cs_err
set_str(json_t *o, const char *key, const char *s, struct cs_error *e)
{
	json_t *v = s != NULL ? json_string(s) : json_null();

	if (v == NULL)
		return s != NULL ? cs_error_set(e, CS_EINVAL, "audit: %s is not valid UTF-8", key)
		                 : cs_error_set(e, CS_ENOMEM, "audit: out of memory");
	if (json_object_set_new(o, key, v) != 0)
		return cs_error_set(e, CS_ENOMEM, "audit: out of memory");
	return CS_OK;
}

/* Sets key of o to a copy of v (the caller's value is borrowed and stays untouched), or null. */
static cs_err
set_val(json_t *o, const char *key, const json_t *v, struct cs_error *e)
{
	json_t *c = v != NULL ? json_deep_copy(v) : json_null();

	if (c == NULL || json_object_set_new(o, key, c) != 0)
		return cs_error_set(e, CS_ENOMEM, "audit: out of memory");
	return CS_OK;
}

/* The head an append of this thread last wrote, good while its connection's epoch holds
 * (store_epoch: nothing was undone, no other transaction began): later appends of the same
 * transaction, a group of plans, then neither read the head again nor look for a row past it
 * (the first append of the transaction did), nor for the index's start. */
static _Thread_local struct {
	const struct store *s;
	uint64_t epoch;
	long long seq;
	char hash[HASH_HEX + 1];
} held;

/* The row's entries in the index by record id, in the append's transaction; the first append
 * that indexes records where the index starts (a log begun before it is searched by scanning
 * up to there; known already when this transaction appended before). The index is derived: it
 * is not part of the chain. */
static cs_err
index_row(struct store *s, const struct sync_audit_row *r, long long seq, bool started, struct cs_error *e)
{
	const char *ids[2] = { r->clm_id, r->sf_id };
	char key[STORE_KV_KEY_MAX];
	json_t *d = NULL, *empty;
	cs_err rc = CS_OK;

	if (!started && (rc = store_kv_get(s, NS_HEAD, IX_KEY, &d, e)) == CS_ENOTFOUND) {
		if ((d = json_pack("{s:I}", "from", (json_int_t)seq)) == NULL)
			return cs_error_set(e, CS_ENOMEM, "audit: out of memory");
		rc = store_kv_put(s, NS_HEAD, IX_KEY, d, e);
	}
	json_decref(d);
	if (rc != CS_OK)
		return rc;
	if ((empty = json_object()) == NULL)
		return cs_error_set(e, CS_ENOMEM, "audit: out of memory");
	for (int i = 0; i < 2 && rc == CS_OK; i++) {
		/* ids hold no '/', so "<id>/" is a prefix of this record's keys alone */
		if (ids[i] == NULL || ids[i][0] == '\0' || strchr(ids[i], '/') != NULL ||
		    strlen(ids[i]) + KEY_DIGITS + 2 > sizeof(key) || (i == 1 && ids[0] && strcmp(ids[0], ids[1]) == 0))
			continue;
		snprintf(key, sizeof(key), "%s/%0*lld", ids[i], KEY_DIGITS, seq);
		rc = store_kv_put(s, NS_IX, key, empty, e);
	}
	json_decref(empty);
	return rc;
}

cs_err
sync_audit_append(struct store *s, const struct sync_audit_row *r, long long *seq, struct cs_error *e)
{
	char prev[HASH_HEX + 1], hash[HASH_HEX + 1], ts[32], key[KEY_DIGITS + 1];
	json_t *row = NULL, *head = NULL, *old = NULL;
	long long last;
	bool found, cached;
	cs_err rc;

	/* the row must commit or vanish with the change it describes, and the read of the head
	 * below is only stable under the write lock a transaction holds */
	if (!store_in_transaction(s))
		return cs_error_set(e, CS_ESTATE, "audit: append outside a transaction");
	if ((cached = held.s == s && held.epoch == store_epoch(s))) {
		last = held.seq;
		memcpy(prev, held.hash, sizeof(prev));
	} else if ((rc = head_get(s, &last, prev, &found, e)) != CS_OK) {
		/* a damaged head: appending would extend a chain that no longer verifies */
		if (rc == CS_EPARSE)
			rc = cs_error_set(e, CS_EIO, "audit: the head is malformed; run `clmsync audit verify`");
		goto out;
	}
	if ((row = json_object()) == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "audit: out of memory");
		goto out;
	}
	cs_time_format_iso(r->ts_ms != 0 ? r->ts_ms : cs_time_now_ms(), ts, sizeof(ts));
	if (json_object_set_new(row, "seq", json_integer(last + 1)) != 0) {
		rc = cs_error_set(e, CS_ENOMEM, "audit: out of memory");
		goto out;
	}
	if ((rc = set_str(row, "ts", ts, e)) != CS_OK || (rc = set_str(row, "org", r->org, e)) != CS_OK ||
	    (rc = set_str(row, "mapping", r->mapping, e)) != CS_OK ||
	    (rc = set_str(row, "entity", r->entity, e)) != CS_OK ||
	    (rc = set_str(row, "clm_id", r->clm_id, e)) != CS_OK ||
	    (rc = set_str(row, "sf_id", r->sf_id, e)) != CS_OK || (rc = set_str(row, "side", r->side, e)) != CS_OK ||
	    (rc = set_str(row, "field", r->field, e)) != CS_OK ||
	    (rc = set_val(row, "old", r->old_value, e)) != CS_OK ||
	    (rc = set_val(row, "new", r->new_value, e)) != CS_OK ||
	    (rc = set_str(row, "decision", r->decision, e)) != CS_OK ||
	    (rc = set_str(row, "event", r->event, e)) != CS_OK ||
	    (rc = set_str(row, "detail", r->detail, e)) != CS_OK || (rc = set_str(row, "prev", prev, e)) != CS_OK)
		goto out;
	if ((rc = row_hash(prev, row, hash, e)) != CS_OK || (rc = set_str(row, "hash", hash, e)) != CS_OK)
		goto out;
	if ((head = json_pack("{s:I,s:s}", "seq", (json_int_t)(last + 1), "hash", hash)) == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "audit: out of memory");
		goto out;
	}
	row_key(last + 1, key, sizeof(key));
	/* a head moved back or removed would have this append overwrite a row: the evidence a
	 * verify needs. One key lookup per append is cheap insurance. */
	if (!cached && (rc = store_kv_get(s, NS_ROWS, key, &old, e)) != CS_ENOTFOUND) {
		if (rc == CS_OK)
			rc = cs_error_set(e, CS_EIO, "audit: row %lld exists past the head; run `clmsync audit verify`",
			                  last + 1);
		/* else the store's own error (an I/O error, say) stands, as the store said it */
		goto out;
	}
	if ((rc = store_kv_put(s, NS_ROWS, key, row, e)) != CS_OK ||
	    (rc = store_kv_put(s, NS_HEAD, HEAD_KEY, head, e)) != CS_OK ||
	    (rc = index_row(s, r, last + 1, cached, e)) != CS_OK)
		goto out;
	if (seq != NULL)
		*seq = last + 1;
	held.s = s;
	held.epoch = store_epoch(s);
	held.seq = last + 1;
	memcpy(held.hash, hash, sizeof(held.hash));
out:
	if (rc != CS_OK)
		held.s = NULL;
	json_decref(row);
	json_decref(head);
	json_decref(old);
	return rc;
}

/* The walk's state: the next seq expected and the hash the next row's prev must name. */
struct walk {
	long long next;
	char prev[HASH_HEX + 1];
	long long rows;
	long long max_rows;        /* stop after this many rows; 0: no limit */
	long long *bad_seq;
	void (*progress)(void *ud, long long rows);
	void *ud;
};

/* Checks one scanned entry {"key", "doc"} against the walk and advances it. CS_EIO with
 * *w->bad_seq set when the entry breaks the chain. Consumes the doc's "hash" member. */
static cs_err
check_row(struct walk *w, json_t *ent, struct cs_error *e)
{
	const char *key = json_string_value(json_object_get(ent, "key"));
	json_t *doc = json_object_get(ent, "doc"), *sv;
	const char *prev, *hs;
	char want[HASH_HEX + 1], got[HASH_HEX + 1];
	long long ks = key_seq(key);
	cs_err rc;

	if (ks < w->next) {   /* not a row number (-1), or one before the rows already walked */
		*w->bad_seq = w->next;
		return cs_error_set(e, CS_EIO, "row %lld: expected, found an entry keyed '%.40s'", w->next,
		    key ? key : "");
	}
	if (ks != w->next) {
		/* keys ascend, so a larger key means rows in between were removed */
		*w->bad_seq = w->next;
		return cs_error_set(e, CS_EIO, "row %lld: missing (the next row stored is %lld)", w->next, ks);
	}
	sv = json_object_get(doc, "seq");
	prev = json_string_value(json_object_get(doc, "prev"));
	hs = json_string_value(json_object_get(doc, "hash"));
	if (!json_is_object(doc) || !json_is_integer(sv) || !is_hash(prev) || !is_hash(hs)) {
		*w->bad_seq = ks;
		return cs_error_set(e, CS_EIO, "row %lld: malformed (seq, prev or hash missing or wrong)", ks);
	}
	if (json_integer_value(sv) != ks) {
		*w->bad_seq = ks;
		return cs_error_set(e, CS_EIO, "row %lld: the row stored there says it is row %lld", ks,
		    (long long)json_integer_value(sv));
	}
	if (strcmp(prev, w->prev) != 0) {
		*w->bad_seq = ks;
		return cs_error_set(e, CS_EIO, "row %lld: prev does not match the hash of row %lld", ks, ks - 1);
	}
	memcpy(got, hs, HASH_HEX + 1);
	/* the hash covers the row without its own "hash" member */
	json_object_del(doc, "hash");
	if ((rc = row_hash(w->prev, doc, want, e)) != CS_OK)
		return rc;
	if (strcmp(want, got) != 0) {
		*w->bad_seq = ks;
		return cs_error_set(e, CS_EIO, "row %lld: hash does not match its content", ks);
	}
	memcpy(w->prev, got, HASH_HEX + 1);
	w->next = ks + 1;
	w->rows++;
	if (w->progress != NULL && w->rows % PROGRESS_EVERY == 0)
		w->progress(w->ud, w->rows);
	return CS_OK;
}

/* Walks the rows after w->next - 1, page by page, to the end of the log or until w->max_rows
 * rows are checked; *full (may be NULL) says the limit stopped it. */
static cs_err
walk_rows(struct store *s, struct walk *w, bool *full, struct cs_error *e)
{
	char after[KEY_DIGITS + 1];
	json_t *page = NULL, *ent;
	size_t i, n;
	int want;
	cs_err rc;

	if (full != NULL)
		*full = false;
	for (;;) {
		want = PAGE;
		if (w->max_rows > 0 && w->max_rows - w->rows < PAGE)
			want = (int)(w->max_rows - w->rows);
		if (want == 0) {
			if (full != NULL)
				*full = true;
			return CS_OK;
		}
		row_key(w->next - 1, after, sizeof(after));
		if ((rc = store_kv_scan(s, NS_ROWS, w->next > 1 ? after : NULL, want, &page, e)) != CS_OK)
			return rc;
		n = json_array_size(page);
		json_array_foreach(page, i, ent) {
			if ((rc = check_row(w, ent, e)) != CS_OK) {
				json_decref(page);
				return rc;
			}
		}
		json_decref(page);
		page = NULL;
		if (n < (size_t)want)
			return CS_OK;
	}
}

void
sync_audit_pos_init(struct sync_audit_pos *p)
{
	p->seq = 0;
	memcpy(p->hash, zero_hash, sizeof(zero_hash));
}

cs_err
sync_audit_head(struct store *s, long long *seq, struct cs_error *e)
{
	char hash[HASH_HEX + 1];
	bool found;
	cs_err rc = head_get(s, seq, hash, &found, e);

	if (rc == CS_EPARSE)
		rc = cs_error_set(e, CS_EIO, "audit: the head is malformed; run `clmsync audit verify`");
	return rc;
}

cs_err
sync_audit_verify_part(struct store *s, struct sync_audit_pos *pos, long long max_rows, bool *done, long long *rows,
                       long long *bad_seq, void (*progress)(void *ud, long long rows), void *ud, struct cs_error *e)
{
	struct walk w;
	char hhash[HASH_HEX + 1];
	long long hseq, need = 0, dummy_rows, dummy_bad;
	bool found, full;
	cs_err rc;

	if (rows == NULL)
		rows = &dummy_rows;
	if (bad_seq == NULL)
		bad_seq = &dummy_bad;
	*rows = 0;
	*bad_seq = 0;
	*done = false;
	if (pos->seq < 0 || max_rows < 0 || !is_hash(pos->hash))
		return cs_error_set(e, CS_EINVAL, "audit: a verify position is a row number >= 0 and a 64-digit hex hash");
	memset(&w, 0, sizeof(w));
	w.next = pos->seq + 1;
	memcpy(w.prev, pos->hash, sizeof(w.prev));
	w.max_rows = max_rows;
	w.bad_seq = bad_seq;
	w.progress = progress;
	w.ud = ud;
	/*
	 * Without one read transaction, rows may commit while we walk. An append writes its row and
	 * the head in one transaction, so a head read after a walk is at least as new as every row
	 * that walk saw: it may name a later row (appends since; walk on from where we stopped) but
	 * never an earlier one. Every row up to that head committed before the next walk starts, so
	 * if that walk falls short of it the rows are gone. The loop ends once writers pause.
	 * A walk the row limit stops returns the position reached; the next part goes on from it
	 * and does these checks once it reaches the end.
	 */
	for (;;) {
		long long last;
		if ((rc = walk_rows(s, &w, &full, e)) != CS_OK)
			goto out;
		if (full)
			break;
		last = w.next - 1;
		if (need > last) {
			*bad_seq = need;
			rc = cs_error_set(e, CS_EIO, "row %lld: the head names it but the log ends at row %lld", need, last);
			goto out;
		}
		if ((rc = head_get(s, &hseq, hhash, &found, e)) == CS_EPARSE) {
			*bad_seq = last > 0 ? last : 1;
			rc = cs_error_set(e, CS_EIO, "row %lld: the head is malformed", *bad_seq);
			goto out;
		}
		if (rc != CS_OK)
			goto out;
		if (!found) {
			if (last == 0) {
				*done = true;
				break;
			}
			*bad_seq = last;
			rc = cs_error_set(e, CS_EIO, "row %lld: the log has %lld rows but no head", last, last);
			goto out;
		}
		if (hseq < last) {
			*bad_seq = hseq;
			rc = cs_error_set(e, CS_EIO, "row %lld: the head names it but the log goes on to row %lld", hseq, last);
			goto out;
		}
		if (hseq == last) {
			if (strcmp(hhash, w.prev) != 0) {
				*bad_seq = hseq;
				rc = cs_error_set(e, CS_EIO, "row %lld: the head's hash is not this row's hash", hseq);
				goto out;
			}
			*done = true;
			break;
		}
		need = hseq;
	}
	rc = CS_OK;
	pos->seq = w.next - 1;
	memcpy(pos->hash, w.prev, sizeof(pos->hash));
out:
	*rows = w.rows;
	return rc;
}

cs_err
sync_audit_verify(struct store *s, long long *rows, long long *bad_seq,
                  void (*progress)(void *ud, long long rows), void *ud, struct cs_error *e)
{
	struct sync_audit_pos pos;
	bool done;

	sync_audit_pos_init(&pos);
	return sync_audit_verify_part(s, &pos, 0, &done, rows, bad_seq, progress, ud, e);
}

cs_err
sync_audit_search(struct store *s, const char *id, long long after, int limit, json_t **out,
                  struct cs_error *e)
{
	struct sync_audit_filter f = { .id = id };

	return sync_audit_query(s, &f, after, limit, out, NULL, e);
}

static bool
str_is(const json_t *doc, const char *k, const char *want)
{
	const char *v = json_string_value(json_object_get(doc, k));

	return want == NULL || (v != NULL && strcmp(v, want) == 0);
}

static bool str_is(const json_t *doc, const char *k, const char *want);

static bool
row_matches(const struct sync_audit_filter *flt, const json_t *doc)
{
	const char *ts = json_string_value(json_object_get(doc, "ts"));

	if (!str_is(doc, "field", flt->field) || !str_is(doc, "decision", flt->decision) ||
	    !str_is(doc, "mapping", flt->mapping))
		return false;
	/* ISO times of one fixed width, all UTC: they sort as text */
	if (ts != NULL && ((flt->since[0] && strcmp(ts, flt->since) < 0) || (flt->until[0] && strcmp(ts, flt->until) >= 0)))
		return false;
	return true;
}

/* sync_audit_query for one record id through the index: reads that record's rows only. */
static cs_err
query_indexed(struct store *s, const struct sync_audit_filter *flt, long long after, int limit, json_t **out,
              long long *scanned_to, struct cs_error *e)
{
	char start[STORE_KV_KEY_MAX], prefix[STORE_KV_KEY_MAX - KEY_DIGITS - 1], rk[KEY_DIGITS + 1];
	size_t plen, i, n;
	json_t *res = json_array(), *page = NULL, *ent, *doc;
	long long last = after;
	cs_err rc = CS_OK;

	if (res == NULL)
		return cs_error_set(e, CS_ENOMEM, "audit: out of memory");
	snprintf(prefix, sizeof(prefix), "%s/", flt->id);
	plen = strlen(prefix);
	snprintf(start, sizeof(start), "%s%0*lld", prefix, KEY_DIGITS, after);
	for (;;) {
		if ((rc = store_kv_scan(s, NS_IX, start, PAGE, &page, e)) != CS_OK)
			goto out;
		n = json_array_size(page);
		json_array_foreach(page, i, ent) {
			const char *key = json_string_value(json_object_get(ent, "key"));
			long long seq;
			if (key == NULL || strncmp(key, prefix, plen) != 0 || (seq = key_seq(key + plen)) < 0)
				goto done;
			snprintf(start, sizeof(start), "%s", key);
			last = seq;
			row_key(seq, rk, sizeof(rk));
			doc = NULL;
			rc = store_kv_get(s, NS_ROWS, rk, &doc, e);
			if (rc == CS_ENOTFOUND) {
				rc = CS_OK;
				continue;       /* damage is verify's to report */
			}
			if (rc != CS_OK)
				goto out;
			if (json_is_object(doc) && row_matches(flt, doc) && json_array_append(res, doc) != 0) {
				json_decref(doc);
				rc = cs_error_set(e, CS_ENOMEM, "audit: out of memory");
				goto out;
			}
			json_decref(doc);
			if (json_array_size(res) >= (size_t)limit)
				goto done;
		}
		json_decref(page);
		page = NULL;
		if (n < PAGE)
			break;
	}
done:
	if (scanned_to != NULL)
		*scanned_to = last;
	*out = res;
	res = NULL;
out:
	json_decref(page);
	json_decref(res);
	return rc;
}

cs_err
sync_audit_query(struct store *s, const struct sync_audit_filter *flt, long long after, int limit, json_t **out,
                 long long *scanned_to, struct cs_error *e)
{
	const char *id = flt->id;
	char from[STORE_KV_KEY_MAX];   /* any key: a damaged log may hold keys that are not row numbers */
	const char *start;
	json_t *res = NULL, *page = NULL, *ent;
	size_t i, n;
	cs_err rc = CS_OK;

	*out = NULL;
	if (limit < 1 || limit > SEARCH_MAX)
		return cs_error_set(e, CS_EINVAL, "audit: limit must be 1..%d", SEARCH_MAX);
	if (after < 0)
		return cs_error_set(e, CS_EINVAL, "audit: after must be >= 0");
	if ((res = json_array()) == NULL)
		return cs_error_set(e, CS_ENOMEM, "audit: out of memory");
	if (id != NULL && id[0] != '\0' && strchr(id, '/') == NULL && strlen(id) + KEY_DIGITS + 2 < STORE_KV_KEY_MAX) {
		json_t *ix = NULL;
		long long ixfrom = -1;
		if (store_kv_get(s, NS_HEAD, IX_KEY, &ix, e) == CS_OK)
			ixfrom = json_integer_value(json_object_get(ix, "from"));
		json_decref(ix);
		if (ixfrom >= 1 && after >= ixfrom - 1) {
			json_decref(res);
			return query_indexed(s, flt, after, limit, out, scanned_to, e);
		}
	}
	/*
	 * A scan: rows are keyed by seq only, so finding rows reads the log from `after` on, PAGE
	 * rows at a time, until limit rows matched or the log ends. Memory stays at one page plus
	 * the result; the time grows with the log. A search by record id after the index began
	 * reads the index instead (query_indexed).
	 */
	row_key(after, from, sizeof(from));
	start = after > 0 ? from : NULL;
	for (;;) {
		if ((rc = store_kv_scan(s, NS_ROWS, start, PAGE, &page, e)) != CS_OK)
			goto out;
		n = json_array_size(page);
		json_array_foreach(page, i, ent) {
			json_t *doc = json_object_get(ent, "doc");
			const char *key = json_string_value(json_object_get(ent, "key"));
			const char *c = json_string_value(json_object_get(doc, "clm_id"));
			const char *f = json_string_value(json_object_get(doc, "sf_id"));
			if (key != NULL)
				snprintf(from, sizeof(from), "%s", key);
			if (!json_is_object(doc))
				continue;   /* damage is verify's to report; search shows what is readable */
			if (id != NULL && !(c != NULL && strcmp(c, id) == 0) && !(f != NULL && strcmp(f, id) == 0))
				continue;
			if (!row_matches(flt, doc))
				continue;
			if (json_array_append(res, doc) != 0) {
				rc = cs_error_set(e, CS_ENOMEM, "audit: out of memory");
				goto out;
			}
			if (json_array_size(res) >= (size_t)limit)
				goto done;
		}
		json_decref(page);
		page = NULL;
		if (n < PAGE)
			break;
		start = from;   /* the last key read */
	}
done:
	if (scanned_to != NULL)
		*scanned_to = strspn(from, "0123456789") == strlen(from) && from[0] ? atoll(from) : after;
	*out = res;
	res = NULL;
out:
	json_decref(page);
	json_decref(res);
	return rc;
}

/* store.c - the store's front: picks the back end by URL, checks and encodes input, dispatches. */
#include "store/store_int.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/fault.h"
#include "util/json.h"
#include "util/timeutil.h"

#define OP_MAX 32                /* bytes in a change op, NUL included */

static struct cs_fault fault;

/* Arms the fault simulation; see store.h. Thread-safe. */
void
store_fault_inject_kind(long nth, enum store_fault kind)
{
	cs_fault_arm(&fault, nth, (int)kind);
}

void
store_fault_inject(long nth)
{
	store_fault_inject_kind(nth, STORE_FAULT_IO);
}

long
store_fault_counted(void)
{
	return cs_fault_counted(&fault);
}

static _Atomic int delay_ms;
static void (*_Atomic delay_cb)(void);

void
store_fault_delay_set(int ms, void (*on_delay)(void))
{
	atomic_store(&delay_ms, ms > 0 ? ms : 0);
	atomic_store(&delay_cb, on_delay);
}

void
store_fault_delay(void)
{
	void (*cb)(void) = atomic_load(&delay_cb);
	int ms = atomic_load(&delay_ms);
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (cb != NULL)
		cb();
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Counts one statement; true exactly once, for the armed one, with its kind in *kind. Costs one
 * relaxed load when disarmed. Thread-safe. */
bool
store_fault_fire(enum store_fault *kind)
{
	int k;

	if (!cs_fault_fire(&fault, &k))
		return false;
	*kind = (enum store_fault)k;
	return true;
}

/* Returns true when s is 1..max-1 bytes of [a-z0-9_]. Pure. */
bool
store_name_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, max);
	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Returns true when s is 1..max-1 bytes of [A-Za-z0-9._:-]. Pure. */
bool
store_id_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, max);
	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/* An actor or origin: 1..max-1 bytes of UTF-8 without control characters. */
static bool
actor_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, max);
	if (n == 0 || n >= max || !cs_utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return false;
	return true;
}

/* Returns a new JSON string of ms in ISO 8601 UTC, or NULL when out of memory. */
json_t *
store_json_time(int64_t ms)
{
	char t[40];

	cs_time_format_iso(ms, t, sizeof(t));
	return json_string(t);
}

struct dump {
	struct cs_buf b;
	cs_err err;
};

static int
dump_cb(const char *p, size_t n, void *arg)
{
	struct dump *d = arg;

	d->err = cs_buf_append(&d->b, p, n);
	return d->err == CS_OK ? 0 : -1;
}

/* Encodes v (any JSON value; callers check the type they need) compactly into a new buffer of
 * at most STORE_DOC_MAX bytes: the limit stops the encoder, so an oversized document is refused
 * without ever being held whole. */
static cs_err
encode(const json_t *v, char **out, size_t *len, const char *what, struct cs_error *e)
{
	struct dump d = { .err = CS_OK };

	*out = NULL;
	cs_buf_init(&d.b, STORE_DOC_MAX);
	if (json_dump_callback(v, dump_cb, &d, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) != 0) {
		cs_buf_cleanup(&d.b);
		if (d.err == CS_ETOOBIG)
			return cs_error_set(e, CS_ETOOBIG, "%s over %d bytes", what, STORE_DOC_MAX);
		return cs_error_set(e, CS_ENOMEM, "%s: out of memory", what);
	}
	*len = d.b.len;
	*out = cs_buf_take(&d.b);
	if (*out == NULL)            /* an empty object still writes "{}", so this is memory */
		return cs_error_set(e, CS_ENOMEM, "%s: out of memory", what);
	return CS_OK;
}

/* Opens the store at url; see store.h. Never echoes the URL: a PostgreSQL one holds a password. */
cs_err
store_open(const char *url, struct store **out, struct cs_error *e)
{
	size_t n;

	*out = NULL;
	if (url == NULL)
		return cs_error_set(e, CS_EINVAL, "no store URL");
	n = strnlen(url, STORE_URL_MAX);
	if (n >= STORE_URL_MAX)
		return cs_error_set(e, CS_EINVAL, "store URL longer than %d bytes", STORE_URL_MAX - 1);
	if (strncmp(url, "sqlite:", 7) == 0) {
		if (url[7] == '\0')
			return cs_error_set(e, CS_EINVAL, "store URL \"sqlite:\" needs a path");
		return store_sqlite_open(url + 7, out, e);
	}
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
		return cs_error_set(e, CS_EINVAL, "PostgreSQL back end not built yet");
	return cs_error_set(e, CS_EINVAL, "unknown store URL scheme (expected sqlite:PATH)");
}

/* Closes s; NULL is a no-op. The back end rolls back an open transaction. */
void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

/* A new epoch for s, unique among every connection of the process (store_epoch). */
static void
new_epoch(struct store *s)
{
	static atomic_uint_fast64_t next;

	s->epoch = (uint64_t)atomic_fetch_add(&next, 1) + 1;
}

uint64_t
store_epoch(const struct store *s)
{
	return s->epoch;
}

/* Begins a write transaction; see store.h. One thread. */
cs_err
store_begin(struct store *s, struct cs_error *e)
{
	new_epoch(s);
	return s->ops->begin(s, e);
}

/* Commits; on failure nothing was committed and no transaction is left open. One thread. */
cs_err
store_commit(struct store *s, struct cs_error *e)
{
	new_epoch(s);
	return s->ops->commit(s, e);
}

/* Rolls back the open transaction, if any. One thread. */
void
store_rollback(struct store *s)
{
	new_epoch(s);
	s->ops->rollback(s);
}

/* True while a transaction is open. One thread. */
bool
store_in_transaction(struct store *s)
{
	return s->ops->in_txn(s);
}

/* Opens a savepoint in the open transaction; see store.h. One thread. */
cs_err
store_savepoint(struct store *s, struct cs_error *e)
{
	return s->ops->savepoint(s, e);
}

/* Ends the innermost savepoint, keeping its work; on failure it stays open. One thread. */
cs_err
store_release(struct store *s, struct cs_error *e)
{
	return s->ops->release(s, e);
}

/* Whether another transaction of this process waits to begin; see store.h. */
bool
store_contended(struct store *s)
{
	return s->ops->contended != NULL && s->ops->contended(s);
}

/* Undoes and ends the innermost savepoint; CS_EIO when the whole transaction had to go. One thread. */
cs_err
store_rollback_to(struct store *s, struct cs_error *e)
{
	new_epoch(s);
	return s->ops->rollback_to(s, e);
}

/* Releases r's document; the rest of r is plain storage. NULL is a no-op. */
void
store_rec_cleanup(struct store_rec *r)
{
	if (r == NULL)
		return;
	json_decref(r->doc);
	r->doc = NULL;
}

static cs_err
check_kind_id(const char *kind, const char *id, struct cs_error *e)
{
	if (!store_name_ok(kind, STORE_KIND_MAX))
		return cs_error_set(e, CS_EINVAL, "bad record kind");
	if (!store_id_ok(id, STORE_ID_MAX))
		return cs_error_set(e, CS_EINVAL, "bad record id");
	return CS_OK;
}

/* Reads one record; see store.h. *out is zeroed first. One thread. */
cs_err
store_get(struct store *s, const char *kind, const char *id, struct store_rec *out, struct cs_error *e)
{
	cs_err err;

	memset(out, 0, sizeof(*out));
	if ((err = check_kind_id(kind, id, e)) != CS_OK)
		return err;
	err = s->ops->get(s, kind, id, out, e);
	if (err != CS_OK)
		store_rec_cleanup(out);
	return err;
}

/* Checks r and copies it into *c with its times filled in. */
static cs_err
check_rec(const struct store_rec *r, struct store_rec *c, struct cs_error *e)
{
	cs_err err;
	int64_t now = cs_time_now_ms();

	/* the arrays are the caller's: a missing NUL must not make us read past them */
	if (memchr(r->kind, '\0', sizeof(r->kind)) == NULL || memchr(r->id, '\0', sizeof(r->id)) == NULL ||
	    memchr(r->parent, '\0', sizeof(r->parent)) == NULL ||
	    memchr(r->updated_by, '\0', sizeof(r->updated_by)) == NULL)
		return cs_error_set(e, CS_EINVAL, "record field not NUL-terminated");
	if ((err = check_kind_id(r->kind, r->id, e)) != CS_OK)
		return err;
	if (r->parent[0] != '\0' && !store_id_ok(r->parent, STORE_ID_MAX))
		return cs_error_set(e, CS_EINVAL, "bad parent id");
	if (!actor_ok(r->updated_by, STORE_ACTOR_MAX))
		return cs_error_set(e, CS_EINVAL, "bad updated_by");
	if (!json_is_object(r->doc))
		return cs_error_set(e, CS_EINVAL, "record document is not a JSON object");
	if (r->created_ms < 0 || r->updated_ms < 0)
		return cs_error_set(e, CS_EINVAL, "negative record time");
	*c = *r;
	if (c->created_ms == 0)
		c->created_ms = now;
	if (c->updated_ms == 0)
		c->updated_ms = now;
	return CS_OK;
}

/* Inserts a record at version 1; see store.h. Borrows r. One thread, in a transaction. */
cs_err
store_insert(struct store *s, const struct store_rec *r, struct cs_error *e)
{
	struct store_rec c;
	char *doc = NULL;
	size_t len;
	cs_err err;

	if ((err = check_rec(r, &c, e)) != CS_OK)
		return err;
	if (c.version != 1)
		return cs_error_set(e, CS_EINVAL, "a new record has version 1, not %lld", c.version);
	if ((err = encode(c.doc, &doc, &len, "record document", e)) != CS_OK)
		return err;
	err = s->ops->insert(s, &c, doc, len, e);
	free(doc);
	return err;
}

/* Writes the next version of a record; see store.h. Borrows r. One thread, in a transaction. */
cs_err
store_update(struct store *s, const struct store_rec *r, struct cs_error *e)
{
	struct store_rec c;
	char *doc = NULL;
	size_t len;
	cs_err err;

	if ((err = check_rec(r, &c, e)) != CS_OK)
		return err;
	if (c.version < 2)
		return cs_error_set(e, CS_EINVAL, "an update writes version 2 or later, not %lld", c.version);
	if ((err = encode(c.doc, &doc, &len, "record document", e)) != CS_OK)
		return err;
	err = s->ops->update(s, &c, doc, len, e);
	free(doc);
	return err;
}

/* Deletes a record, keeping its history. One thread, in a transaction. */
cs_err
store_delete(struct store *s, const char *kind, const char *id, struct cs_error *e)
{
	cs_err err;

	if ((err = check_kind_id(kind, id, e)) != CS_OK)
		return err;
	return s->ops->del(s, kind, id, e);
}

/* Every version of a record, oldest first; *out a new array. One thread. */
cs_err
store_history(struct store *s, const char *kind, const char *id, json_t **out, struct cs_error *e)
{
	cs_err err;

	*out = NULL;
	if ((err = check_kind_id(kind, id, e)) != CS_OK)
		return err;
	return s->ops->history(s, kind, id, out, e);
}

/* Maps a field name to a column: the record's own names first, then a document key. */
static bool
column(const char *f, enum store_col *col)
{
	if (!store_name_ok(f, STORE_NAME_MAX))
		return false;
	if (strcmp(f, "parent") == 0)
		*col = STORE_COL_PARENT;
	else if (strcmp(f, "created_at") == 0)
		*col = STORE_COL_CREATED;
	else if (strcmp(f, "updated_at") == 0)
		*col = STORE_COL_UPDATED;
	else if (strcmp(f, "id") == 0)
		*col = STORE_COL_ID;
	else
		*col = STORE_COL_DOC;
	return true;
}

/* An instant for created_at/updated_at filters: ISO date-time, or a date at midnight UTC. */
static bool
instant(const char *v, int64_t *ms)
{
	size_t n = strnlen(v, STORE_VALUE_MAX);
	int64_t days;

	if (n >= STORE_VALUE_MAX)
		return false;
	if (cs_date_parse(v, n, &days)) {
		*ms = days * 86400000;
		return true;
	}
	return cs_datetime_parse(v, n, ms);
}

static cs_err
check_filter(const struct store_filter *f, struct store_lfilter *o, struct cs_error *e)
{
	size_t n;

	if (!column(f->field, &o->col) || o->col == STORE_COL_ID)
		return cs_error_set(e, CS_EINVAL, "bad filter field");
	if ((unsigned)f->op > STORE_GE)
		return cs_error_set(e, CS_EINVAL, "bad filter operator on %s", f->field);
	o->field = f->field;
	o->op = f->op;
	o->value = f->value;
	/* "" is how a record says it has no parent (store_rec.parent): the same in a filter */
	if (o->col == STORE_COL_PARENT && f->value != NULL && f->value[0] == '\0')
		o->value = NULL;
	if (o->value == NULL) {
		if (o->col == STORE_COL_CREATED || o->col == STORE_COL_UPDATED ||
		    (f->op != STORE_EQ && f->op != STORE_NE))
			return cs_error_set(e, CS_EINVAL, "filter on %s: null only with equal or not equal",
			                    f->field);
		return CS_OK;
	}
	n = strnlen(f->value, STORE_VALUE_MAX);
	if (n >= STORE_VALUE_MAX || !cs_utf8_valid(f->value, n))
		return cs_error_set(e, CS_EINVAL, "filter on %s: value too long or not UTF-8", f->field);
	if ((o->col == STORE_COL_CREATED || o->col == STORE_COL_UPDATED) && !instant(f->value, &o->ms))
		return cs_error_set(e, CS_EINVAL, "filter on %s: not a date or date-time", f->field);
	return CS_OK;
}

/* Lists records of one kind; see store.h. *out a new array; next the caller's buffer. One thread. */
cs_err
store_list(struct store *s, const struct store_list_q *q, json_t **out, char *next, struct cs_error *e)
{
	struct store_lq lq;
	struct store_cursor nc;
	bool more = false;
	uint32_t tag;
	cs_err err;

	*out = NULL;
	next[0] = '\0';
	memset(&lq, 0, sizeof(lq));
	if (!store_name_ok(q->kind, STORE_KIND_MAX))
		return cs_error_set(e, CS_EINVAL, "bad record kind");
	if (q->limit < 1 || q->limit > STORE_LIST_MAX)
		return cs_error_set(e, CS_EINVAL, "limit must be 1..%d", STORE_LIST_MAX);
	if (q->nfilters > STORE_FILTERS_MAX)
		return cs_error_set(e, CS_EINVAL, "more than %d filters", STORE_FILTERS_MAX);
	lq.kind = q->kind;
	lq.limit = q->limit;
	lq.desc = q->desc;
	for (size_t i = 0; i < q->nfilters; i++)
		if ((err = check_filter(&q->filters[i], &lq.f[i], e)) != CS_OK)
			return err;
	lq.nf = q->nfilters;
	lq.sort = STORE_COL_ID;
	if (q->sort != NULL) {
		if (!column(q->sort, &lq.sort) || lq.sort == STORE_COL_PARENT)
			return cs_error_set(e, CS_EINVAL, "bad sort field");
		lq.sort_field = q->sort;
	}
	tag = store_cursor_tag(q->kind, q->sort != NULL ? q->sort : "id", q->desc);
	if (q->cursor != NULL && q->cursor[0] != '\0') {
		if ((err = store_cursor_decode(tag, q->cursor, &lq.cur, e)) != CS_OK)
			return err;
		if ((lq.sort == STORE_COL_ID) != (lq.cur.type == STORE_C_ID) ||
		    ((lq.sort == STORE_COL_CREATED || lq.sort == STORE_COL_UPDATED) &&
		     lq.cur.type != STORE_C_INT))
			return cs_error_set(e, CS_EINVAL, "bad cursor: wrong value type");
		lq.has_cursor = true;
	}
	memset(&nc, 0, sizeof(nc));
	if ((err = s->ops->list(s, &lq, out, &nc, &more, e)) != CS_OK)
		return err;
	if (more && (err = store_cursor_encode(tag, &nc, next)) != CS_OK) {
		json_decref(*out);
		*out = NULL;
		return cs_error_set(e, CS_EINTERNAL, "cannot encode the next cursor");
	}
	return CS_OK;
}

/* Declares a unique index on kind.field. Idempotent. One thread. */
cs_err
store_index_unique(struct store *s, const char *kind, const char *field, struct cs_error *e)
{
	enum store_col col;

	if (!store_name_ok(kind, STORE_KIND_MAX) || !column(field, &col) || col != STORE_COL_DOC)
		return cs_error_set(e, CS_EINVAL, "bad index kind or field");
	return s->ops->index(s, kind, field, true, e);
}

/* Declares a plain index on kind.field. Idempotent. One thread. */
cs_err
store_index(struct store *s, const char *kind, const char *field, struct cs_error *e)
{
	enum store_col col;

	if (!store_name_ok(kind, STORE_KIND_MAX) || !column(field, &col) || col != STORE_COL_DOC)
		return cs_error_set(e, CS_EINVAL, "bad index kind or field");
	return s->ops->index(s, kind, field, false, e);
}

/* Next value of a counter. One thread, in a transaction. */
cs_err
store_counter_next(struct store *s, const char *name, long long *out, struct cs_error *e)
{
	if (!store_id_ok(name, STORE_NAME_MAX))
		return cs_error_set(e, CS_EINVAL, "bad counter name");
	return s->ops->counter_next(s, name, out, e);
}

static bool
hex_ok(const char *h)
{
	if (h == NULL || strnlen(h, 65) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return true;
}

/* Whether data hashes to the lowercase hex h. false also when hashing fails. */
static bool
sha_matches(const char *h, const void *data, size_t len)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return false;
	for (unsigned i = 0; i < 32; i++)
		if (h[2 * i] != hx[md[i] >> 4] || h[2 * i + 1] != hx[md[i] & 15])
			return false;
	return true;
}

/* Stores content under its hash; see store.h. Borrows data. One thread. */
cs_err
store_blob_put(struct store *s, const char sha256_hex[65], const void *data, size_t len, struct cs_error *e)
{
	static const char nothing;

	if (!hex_ok(sha256_hex))
		return cs_error_set(e, CS_EINVAL, "bad SHA-256 (64 lowercase hex digits)");
	if (len > STORE_BLOB_MAX)
		return cs_error_set(e, CS_ETOOBIG, "blob over %d bytes", STORE_BLOB_MAX);
	if (data == NULL) {
		if (len != 0)
			return cs_error_set(e, CS_EINVAL, "no blob data");
		data = &nothing;
	}
	if (!sha_matches(sha256_hex, data, len))
		return cs_error_set(e, CS_EINVAL, "blob content does not match its SHA-256");
	return s->ops->blob_put(s, sha256_hex, data, len, e);
}

/* Reads content by hash, checking it; *data a new buffer the caller frees. One thread. */
cs_err
store_blob_get(struct store *s, const char sha256_hex[65], void **data, size_t *len, struct cs_error *e)
{
	cs_err err;

	*data = NULL;
	*len = 0;
	if (!hex_ok(sha256_hex))
		return cs_error_set(e, CS_EINVAL, "bad SHA-256 (64 lowercase hex digits)");
	if ((err = s->ops->blob_get(s, sha256_hex, data, len, e)) != CS_OK)
		return err;
	/* read back defensively: damaged content is an error, not a document */
	if (!sha_matches(sha256_hex, *data, *len)) {
		free(*data);
		*data = NULL;
		*len = 0;
		return cs_error_set(e, CS_EIO, "blob %.12s...: stored bytes do not match their SHA-256",
		                    sha256_hex);
	}
	return CS_OK;
}

static bool
op_ok(const char *op)
{
	size_t n;

	if (op == NULL)
		return false;
	n = strnlen(op, OP_MAX);
	if (n == 0 || n >= OP_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((op[i] >= 'a' && op[i] <= 'z') || op[i] == '_'))
			return false;
	return true;
}

/* Appends a change-feed row; see store.h. Borrows c. One thread, in a transaction. */
cs_err
store_change_append(struct store *s, const struct store_change *c, long long *seq, struct cs_error *e)
{
	struct store_change cc = *c;
	char *fields = NULL;
	size_t flen = 0;
	cs_err err;

	*seq = 0;
	if ((err = check_kind_id(c->entity, c->id, e)) != CS_OK)
		return err;
	if (c->parent != NULL && c->parent[0] != '\0' && !store_id_ok(c->parent, STORE_ID_MAX))
		return cs_error_set(e, CS_EINVAL, "bad change parent");
	if (c->parent != NULL && c->parent[0] == '\0')
		cc.parent = NULL;
	if (!op_ok(c->op))
		return cs_error_set(e, CS_EINVAL, "bad change op");
	if (!actor_ok(c->origin, STORE_ACTOR_MAX))
		return cs_error_set(e, CS_EINVAL, "bad change origin");
	if (c->version < 0 || c->ts_ms < 0)
		return cs_error_set(e, CS_EINVAL, "negative change version or time");
	if (c->fields != NULL && !json_is_object(c->fields))
		return cs_error_set(e, CS_EINVAL, "change fields are not a JSON object");
	if (cc.ts_ms == 0)
		cc.ts_ms = cs_time_now_ms();
	if (c->fields != NULL && (err = encode(c->fields, &fields, &flen, "change fields", e)) != CS_OK)
		return err;
	err = s->ops->change_append(s, &cc, fields, flen, seq, e);
	free(fields);
	return err;
}

/* Committed changes after a sequence number; *out a new array. One thread. */
cs_err
store_changes_after(struct store *s, long long after, int limit, json_t **out, struct cs_error *e)
{
	*out = NULL;
	if (after < 0)
		return cs_error_set(e, CS_EINVAL, "negative sequence number");
	if (limit < 1 || limit > STORE_CHANGES_MAX)
		return cs_error_set(e, CS_EINVAL, "limit must be 1..%d", STORE_CHANGES_MAX);
	return s->ops->changes_after(s, after, limit, out, e);
}

/* Committed changes after a sequence number, one callback per row; see store.h. One thread. */
cs_err
store_changes_each(struct store *s, long long after, int limit, store_change_fn fn, void *ud, size_t *n,
                   struct cs_error *e)
{
	*n = 0;
	if (after < 0)
		return cs_error_set(e, CS_EINVAL, "negative sequence number");
	if (limit < 1 || limit > STORE_CHANGES_MAX)
		return cs_error_set(e, CS_EINVAL, "limit must be 1..%d", STORE_CHANGES_MAX);
	return s->ops->changes_each(s, after, limit, fn, ud, n, e);
}

/* The highest committed sequence number, 0 when none. One thread. */
cs_err
store_changes_head(struct store *s, long long *seq, struct cs_error *e)
{
	*seq = 0;
	return s->ops->changes_head(s, seq, e);
}

/* ---- keyed state ---- */

static cs_err
check_ns(const char *ns, struct cs_error *e)
{
	if (!store_id_ok(ns, STORE_KV_NS_MAX))
		return cs_error_set(e, CS_EINVAL, "bad kv namespace (1..%d bytes of [A-Za-z0-9._:-])",
		                    STORE_KV_NS_MAX - 1);
	return CS_OK;
}

/* A key has the rules of an actor: bounded UTF-8 without control characters. The message does
 * not echo the key: it may be anything a caller derived from outside input. */
static cs_err
check_ns_key(const char *ns, const char *key, struct cs_error *e)
{
	cs_err err;

	if ((err = check_ns(ns, e)) != CS_OK)
		return err;
	if (!actor_ok(key, STORE_KV_KEY_MAX))
		return cs_error_set(e, CS_EINVAL, "bad kv key (1..%d bytes of UTF-8 without control characters)",
		                    STORE_KV_KEY_MAX - 1);
	return CS_OK;
}

/* Reads the document at (ns, key); *out a new reference, NULL on error. One thread. */
cs_err
store_kv_get(struct store *s, const char *ns, const char *key, json_t **out, struct cs_error *e)
{
	cs_err err;

	*out = NULL;
	if ((err = check_ns_key(ns, key, e)) != CS_OK)
		return err;
	if ((err = s->ops->kv_get(s, ns, key, out, e)) != CS_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/* Inserts or replaces the document at (ns, key). Borrows doc. One thread, in a transaction. */
cs_err
store_kv_put(struct store *s, const char *ns, const char *key, const json_t *doc, struct cs_error *e)
{
	char *text = NULL;
	size_t len;
	cs_err err;

	if ((err = check_ns_key(ns, key, e)) != CS_OK)
		return err;
	if (doc == NULL)
		return cs_error_set(e, CS_EINVAL, "no kv document (use json_null() for null)");
	if ((err = encode(doc, &text, &len, "kv document", e)) != CS_OK)
		return err;
	err = s->ops->kv_put(s, ns, key, text, len, e);
	free(text);
	return err;
}

/* Removes (ns, key); absent is CS_OK with *existed false. One thread, in a transaction. */
cs_err
store_kv_del(struct store *s, const char *ns, const char *key, bool *existed, struct cs_error *e)
{
	bool was = false;
	cs_err err;

	if (existed != NULL)
		*existed = false;
	if ((err = check_ns_key(ns, key, e)) != CS_OK)
		return err;
	err = s->ops->kv_del(s, ns, key, &was, e);
	if (existed != NULL)
		*existed = err == CS_OK && was;
	return err;
}

/* Entries of ns after a key, ascending; *out a new array, NULL on error. One thread. */
cs_err
store_kv_scan(struct store *s, const char *ns, const char *after, int limit, json_t **out,
              struct cs_error *e)
{
	cs_err err;

	*out = NULL;
	if ((err = check_ns(ns, e)) != CS_OK)
		return err;
	if (after == NULL)
		after = "";
	/* a non-empty "after" is a key (normally the last one of the previous page): bounded and
	 * checked like one, so that no unchecked text reaches the back end */
	if (after[0] != '\0' && !actor_ok(after, STORE_KV_KEY_MAX))
		return cs_error_set(e, CS_EINVAL, "bad kv scan position (a key, or empty)");
	if (limit < 1 || limit > STORE_LIST_MAX)
		return cs_error_set(e, CS_EINVAL, "limit must be 1..%d", STORE_LIST_MAX);
	if ((err = s->ops->kv_scan(s, ns, after, limit, out, e)) != CS_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/* The number of entries in ns. One thread. */
cs_err
store_kv_count(struct store *s, const char *ns, long long *n, struct cs_error *e)
{
	cs_err err;

	*n = 0;
	if ((err = check_ns(ns, e)) != CS_OK)
		return err;
	if ((err = s->ops->kv_count(s, ns, n, e)) != CS_OK)
		*n = 0;
	return err;
}

/* The number of entries of ns in [from, to). One thread. */
cs_err
store_kv_count_range(struct store *s, const char *ns, const char *from, const char *to, long long *n,
                     struct cs_error *e)
{
	cs_err err;

	*n = 0;
	if ((err = check_ns_key(ns, from, e)) != CS_OK || (err = check_ns_key(ns, to, e)) != CS_OK)
		return err;
	if (strcmp(from, to) >= 0)
		return CS_OK;
	if ((err = s->ops->kv_count_range(s, ns, from, to, n, e)) != CS_OK)
		*n = 0;
	return err;
}

/* feed.c - the change feed for readers: pages of change rows and long polls woken by commits. */
#include "clm/clm.h"
#include "clm/clm_int.h"
#include "util/json.h"
#include "util/timeutil.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* How often a waiting long poll reads the feed again for commits made by other processes. */
#define FEED_SLICE_MS 200

int
clm_feed_init(struct clm *c)
{
	pthread_condattr_t ca;

	if (pthread_mutex_init(&c->mu, NULL) != 0)
		return -1;
	if (pthread_mutex_init(&c->sched_mu, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		return -1;
	}
	/* deadlines on the monotonic clock: a wall-clock step must not cut or stretch a long poll */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&c->cond, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		pthread_mutex_destroy(&c->sched_mu);
		pthread_mutex_destroy(&c->mu);
		return -1;
	}
	pthread_condattr_destroy(&ca);
	return 0;
}

void
clm_feed_cleanup(struct clm *c)
{
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->sched_mu);
	pthread_mutex_destroy(&c->mu);
}

void
clm_feed_notify(struct clm *c, long long seq)
{
	int n;

	pthread_mutex_lock(&c->mu);
	if (seq > c->head)
		c->head = seq;
	pthread_cond_broadcast(&c->cond);
	n = c->nlisten;
	pthread_mutex_unlock(&c->mu);
	/* listeners are only added before writes begin (clm_on_commit), so the array is stable */
	for (int i = 0; i < n; i++)
		c->listen_fn[i](c->listen_ud[i], seq);
}

cs_err
clm_on_commit(struct clm *c, void (*fn)(void *ud, long long seq), void *ud)
{
	cs_err rc = CS_OK;

	pthread_mutex_lock(&c->mu);
	if (c->nlisten >= CLM_LISTENERS_MAX)
		rc = CS_ELIMIT;
	else {
		c->listen_fn[c->nlisten] = fn;
		c->listen_ud[c->nlisten] = ud;
		c->nlisten++;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void
clm_wake_all(struct clm *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

/* One read of a page for the long-poll loop: *n gets the number of rows read. */
typedef cs_err (*page_fn)(struct clm *c, long long after, int limit, void *ud, size_t *n, struct clm_fail *f);

/* One read of the feed on a pooled connection, as jansson: ud is the json_t ** of the rows. */
static cs_err
read_rows(struct clm *c, long long after, int limit, void *ud, size_t *n, struct clm_fail *f)
{
	json_t **rows = ud;
	struct store *s;
	struct cs_error e = { 0 };
	cs_err rc;

	json_decref(*rows);
	*rows = NULL;
	*n = 0;
	if ((rc = store_pool_acquire(c->pool, CLM_POOL_WAIT_MS, &s, &e)) != CS_OK)
		return clm_fail_set(f, 503, "store_busy", NULL, "no store connection is free; retry");
	rc = store_changes_after(s, after, limit, rows, &e);
	store_pool_release(c->pool, s);
	if (rc != CS_OK)
		return clm_fail_set(f, 500, "internal", NULL, "cannot read the change feed");
	*n = json_array_size(*rows);
	return CS_OK;
}

static void
deadline_of(int wait_ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += wait_ms / 1000;
	ts->tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}


/* The long-poll loop shared by both forms of the feed: reads a page with read(ud) until it has
 * rows, wait_ms is over, or the server stops. The last page read stays in ud. */
static cs_err
poll_feed(struct clm *c, long long after, int limit, int wait_ms, page_fn read, void *ud, struct clm_fail *f)
{
	struct timespec dl;
	long long seen;
	size_t n;
	cs_err rc;

	if (after < 0)
		return clm_fail_set(f, 400, "invalid_query", "after", "after must be 0 or more");
	if (limit < 1 || limit > CLM_CHANGES_MAX)
		return clm_fail_set(f, 400, "invalid_query", "limit", "limit must be 1 to %d", CLM_CHANGES_MAX);
	if (wait_ms < 0)
		wait_ms = 0;
	if (wait_ms > CLM_WAIT_MAX_MS)
		wait_ms = CLM_WAIT_MAX_MS;
	deadline_of(wait_ms, &dl);
	for (;;) {
		struct timespec now, slice;
		bool stopping, past;
		/* Read the head before the rows: a commit after this point bumps it and wakes us,
		 * a commit before it is visible to the read. */
		pthread_mutex_lock(&c->mu);
		seen = c->head;
		pthread_mutex_unlock(&c->mu);
		if ((rc = read(c, after, limit, ud, &n, f)) != CS_OK)
			return rc;
		clock_gettime(CLOCK_MONOTONIC, &now);
		past = now.tv_sec > dl.tv_sec || (now.tv_sec == dl.tv_sec && now.tv_nsec >= dl.tv_nsec);
		if (n > 0 || wait_ms == 0 || past)
			break;
		/* Commits of this process wake us at once. Another process writing the same store
		 * (clmsync import, a second server) cannot signal us, so the wait is cut into slices
		 * after each of which the feed is read again. */
		deadline_of(FEED_SLICE_MS, &slice);
		if (slice.tv_sec > dl.tv_sec || (slice.tv_sec == dl.tv_sec && slice.tv_nsec > dl.tv_nsec))
			slice = dl;
		pthread_mutex_lock(&c->mu);
		while (c->head == seen && !c->stopping &&
		    pthread_cond_timedwait(&c->cond, &c->mu, &slice) != ETIMEDOUT)
			;
		stopping = c->stopping;
		pthread_mutex_unlock(&c->mu);
		if (stopping)
			break;
	}
	return CS_OK;
}

cs_err
clm_changes(struct clm *c, long long after, int limit, int wait_ms, json_t **out, struct clm_fail *f)
{
	json_t *rows = NULL, *row;
	long long next = after;
	size_t i;
	cs_err rc;

	*out = NULL;
	if ((rc = poll_feed(c, after, limit, wait_ms, read_rows, &rows, f)) != CS_OK) {
		json_decref(rows);
		return rc;
	}
	json_array_foreach(rows, i, row) {
		long long seq = cs_json_get_int(row, "seq", 0);
		if (seq > next)
			next = seq;
	}
	*out = json_pack("{s:o,s:I}", "data", rows, "next_after", (json_int_t)next);
	if (*out == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	return CS_OK;
}

/* ---- the feed written straight into a buffer ---- */

/* Nesting and keys-per-walk bounds of the canonical-form check; deeper or wider text takes
 * the parse path, which has its own (larger) limits. */
#define CANON_DEPTH_MAX 32
#define CANON_KEYS_MAX 256

struct canon {
	const unsigned char *p, *end;
	int depth;
	size_t nkeys;
	struct { const unsigned char *k; size_t n; } keys[CANON_KEYS_MAX];
};

static bool canon_value(struct canon *v);

static int
hexdigit_upper(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A string as jansson writes it: raw UTF-8 (checked by the caller) except for '"', '\\' and the
 * control characters, which take the short escape when there is one and else \u00XX with
 * upper-case hex. Any other escape (\/, \u00e9, a surrogate pair) is not our encoder's. */
static bool
canon_string(struct canon *v, bool key)
{
	const unsigned char *p = v->p + 1, *end = v->end;

	while (p < end) {
		unsigned char ch = *p;
		int hi, lo, cp;

		if (ch == '"') {
			v->p = p + 1;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch != '\\') {
			p++;
			continue;
		}
		if (end - p < 2)
			return false;
		switch (p[1]) {
		case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
			p += 2;
			continue;
		case 'u':
			if (end - p < 6 || p[2] != '0' || p[3] != '0')
				return false;
			hi = hexdigit_upper(p[4]);
			lo = hexdigit_upper(p[5]);
			if (hi < 0 || hi > 1 || lo < 0)
				return false;
			cp = hi * 16 + lo;
			/* jansson refuses a NUL in an object key, so the parse path would too */
			if (cp == '\b' || cp == '\t' || cp == '\n' || cp == '\f' || cp == '\r' || (key && cp == 0))
				return false;
			p += 6;
			continue;
		default:
			return false;
		}
	}
	return false;
}

/* An integer as jansson writes one: no "-0", no leading zero, and few enough digits that it
 * cannot overflow json_int_t. A fraction or an exponent makes it a real, whose spelling after a
 * parse and a dump we do not try to predict: the parse path takes those. */
static bool
canon_number(struct canon *v)
{
	const unsigned char *p = v->p, *end = v->end, *d;
	bool neg = false;

	if (*p == '-') {
		neg = true;
		p++;
	}
	d = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	if (p == d || p - d > 18 || (*d == '0' && (p - d > 1 || neg)))
		return false;
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
		return false;
	v->p = p;
	return true;
}

static bool
canon_literal(struct canon *v, const char *lit, size_t n)
{
	if ((size_t)(v->end - v->p) < n || memcmp(v->p, lit, n) != 0)
		return false;
	v->p += n;
	return true;
}

/* An object without insignificant white space or repeated keys. A repeated key would survive
 * a splice but not a parse (jansson keeps the last), so the check must refuse it. Keys are
 * compared in their escaped spelling, which is one-to-one with their value in canonical text. */
static bool
canon_object(struct canon *v)
{
	size_t first = v->nkeys;
	bool ok = false;

	v->p++;
	if (v->p < v->end && *v->p == '}') {
		v->p++;
		return true;
	}
	for (;;) {
		const unsigned char *k;
		size_t kn;

		if (v->p >= v->end || *v->p != '"')
			goto out;
		k = v->p + 1;
		if (!canon_string(v, true))
			goto out;
		kn = (size_t)(v->p - 1 - k);
		for (size_t i = first; i < v->nkeys; i++)
			if (v->keys[i].n == kn && memcmp(v->keys[i].k, k, kn) == 0)
				goto out;
		if (v->nkeys == CANON_KEYS_MAX)
			goto out;
		v->keys[v->nkeys].k = k;
		v->keys[v->nkeys].n = kn;
		v->nkeys++;
		if (v->p >= v->end || *v->p != ':')
			goto out;
		v->p++;
		if (!canon_value(v))
			goto out;
		if (v->p < v->end && *v->p == ',') {
			v->p++;
			continue;
		}
		if (v->p < v->end && *v->p == '}') {
			v->p++;
			ok = true;
		}
		goto out;
	}
out:
	v->nkeys = first;       /* the keys of a closed object no longer collide with anything */
	return ok;
}

static bool
canon_array(struct canon *v)
{
	v->p++;
	if (v->p < v->end && *v->p == ']') {
		v->p++;
		return true;
	}
	for (;;) {
		if (!canon_value(v))
			return false;
		if (v->p < v->end && *v->p == ',') {
			v->p++;
			continue;
		}
		if (v->p < v->end && *v->p == ']') {
			v->p++;
			return true;
		}
		return false;
	}
}

static bool
canon_value(struct canon *v)
{
	bool ok;

	if (v->p >= v->end)
		return false;
	switch (*v->p) {
	case '{':
	case '[':
		if (++v->depth > CANON_DEPTH_MAX)
			return false;
		ok = *v->p == '{' ? canon_object(v) : canon_array(v);
		v->depth--;
		return ok;
	case '"':
		return canon_string(v, false);
	case 't':
		return canon_literal(v, "true", 4);
	case 'f':
		return canon_literal(v, "false", 5);
	case 'n':
		return canon_literal(v, "null", 4);
	default:
		return canon_number(v);
	}
}

/* True when p[0..n) is a JSON object spelt exactly as our encoder (jansson, JSON_COMPACT) would
 * spell it again after a parse: the fields text store_change_append wrote. */
static bool
fields_canonical(const char *p, size_t n)
{
	struct canon v;

	if (n < 2 || p[0] != '{' || p[n - 1] != '}' || !cs_utf8_valid(p, n))
		return false;
	v.p = (const unsigned char *)p;
	v.end = v.p + n;
	v.depth = 0;
	v.nkeys = 0;
	return canon_value(&v) && v.p == v.end;
}

/* Appends s as a JSON string in jansson's spelling (see canon_string). s is valid UTF-8. */
static cs_err
put_str(struct cs_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *run = s;
	cs_err rc;

	if ((rc = cs_buf_putc(b, '"')) != CS_OK)
		return rc;
	for (;; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
		size_t en = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		if ((rc = cs_buf_append(b, run, (size_t)(s - run))) != CS_OK)
			return rc;
		if (ch == '\0')
			break;
		switch (ch) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			en = 6;
		}
		if ((rc = cs_buf_append(b, esc, en)) != CS_OK)
			return rc;
		run = s + 1;
	}
	return cs_buf_putc(b, '"');
}

/* Appends v in decimal, as jansson's "%lld" would. */
static cs_err
put_int(struct cs_buf *b, long long v)
{
	char t[24];
	size_t i = sizeof(t);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		t[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		t[--i] = '-';
	return cs_buf_append(b, t + i, sizeof(t) - i);
}

struct page {
	struct cs_buf *b;
	size_t rows;
	long long last;              /* seq of the last row written */
	cs_err werr;                 /* the buffer's error, when it is what stopped the scan */
};

#define PUT(x) do { if ((rc = (x)) != CS_OK) goto fail; } while (0)
#define LIT(s) cs_buf_append(pg->b, s, sizeof(s) - 1)

/* Writes one row exactly as the jansson path dumps it: same keys, same order, same spelling. */
static cs_err
put_row(const struct store_change_row *r, void *ud)
{
	struct page *pg = ud;
	char iso[40];
	cs_err rc;

	PUT(pg->rows > 0 ? LIT(",{\"seq\":") : LIT("{\"seq\":"));
	PUT(put_int(pg->b, r->seq));
	PUT(LIT(",\"entity\":"));
	PUT(put_str(pg->b, r->entity));
	PUT(LIT(",\"id\":"));
	PUT(put_str(pg->b, r->id));
	PUT(LIT(",\"parent\":"));
	PUT(r->parent != NULL ? put_str(pg->b, r->parent) : LIT("null"));
	PUT(LIT(",\"version\":"));
	PUT(put_int(pg->b, r->version));
	PUT(LIT(",\"op\":"));
	PUT(put_str(pg->b, r->op));
	PUT(LIT(",\"fields\":"));
	if (r->fields == NULL)
		PUT(LIT("null"));
	else if (fields_canonical(r->fields, r->flen)) {
		/* Splicing is safe: the text is an object in exactly the spelling a parse and a dump
		 * would give (fields_canonical), so the bytes are those of the jansson path; and it
		 * cannot end the response early or inject keys, as it is one balanced JSON value. */
		PUT(cs_buf_append(pg->b, r->fields, r->flen));
	} else {
		/* Not our encoder's spelling (another back end's, a real number, a damaged row): the
		 * jansson path's parse, with its refusal of a damaged row, then its dump. */
		struct cs_error pe = { 0 };
		json_t *v = NULL;

		if (cs_json_parse(r->fields, r->flen, &v, &pe) != CS_OK || !json_is_object(v)) {
			json_decref(v);
			return CS_EIO;
		}
		rc = cs_json_dump(v, pg->b);
		json_decref(v);
		if (rc != CS_OK)
			goto fail;
	}
	PUT(LIT(",\"origin\":"));
	PUT(put_str(pg->b, r->origin));
	PUT(LIT(",\"ts\":"));
	cs_time_format_iso(r->ts_ms, iso, sizeof(iso));
	PUT(put_str(pg->b, iso));
	PUT(cs_buf_putc(pg->b, '}'));
	pg->rows++;
	pg->last = r->seq;
	return CS_OK;
fail:
	pg->werr = rc;
	return rc;
}

/* One read of the feed on a pooled connection, written into the page's buffer from the start. */
static cs_err
read_page(struct clm *c, long long after, int limit, void *ud, size_t *n, struct clm_fail *f)
{
	struct page *pg = ud;
	struct store *s;
	struct cs_error e = { 0 };
	cs_err rc;

	*n = 0;
	cs_buf_reset(pg->b);
	pg->rows = 0;
	pg->last = after;
	pg->werr = CS_OK;
	if (cs_buf_append(pg->b, "{\"data\":[", 9) != CS_OK)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	if ((rc = store_pool_acquire(c->pool, CLM_POOL_WAIT_MS, &s, &e)) != CS_OK)
		return clm_fail_set(f, 503, "store_busy", NULL, "no store connection is free; retry");
	rc = store_changes_each(s, after, limit, put_row, pg, n, &e);
	store_pool_release(c->pool, s);
	if (rc != CS_OK && pg->werr != CS_OK)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	if (rc != CS_OK)
		return clm_fail_set(f, 500, "internal", NULL, "cannot read the change feed");
	return CS_OK;
}

cs_err
clm_changes_json(struct clm *c, long long after, int limit, int wait_ms, struct cs_buf *out, struct clm_fail *f)
{
	struct page pg = { .b = out, .last = after };
	cs_err rc;

	cs_buf_reset(out);
	if ((rc = poll_feed(c, after, limit, wait_ms, read_page, &pg, f)) != CS_OK) {
		cs_buf_reset(out);
		return rc;
	}
	/* next_after is the last row's seq: rows come in ascending order */
	if (cs_buf_append(out, "],\"next_after\":", 15) != CS_OK || put_int(out, pg.last) != CS_OK ||
	    cs_buf_putc(out, '}') != CS_OK) {
		cs_buf_reset(out);
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	}
	return CS_OK;
}

/* query.c - SOQL string literals, the query builder and paginated query execution. */
#include "salesforce/sf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/timeutil.h"

static cs_err
quote(struct cs_buf *b, const char *s, size_t len, bool like, bool prefix, bool suffix)
{
	size_t old = b->len;
	cs_err err;

	if (s == NULL)
		return CS_EINVAL;
	if (!cs_utf8_valid(s, len))
		return CS_EUTF8;
	err = cs_buf_putc(b, '\'');
	if (err == CS_OK && prefix)
		err = cs_buf_putc(b, '%');
	for (size_t i = 0; i < len && err == CS_OK; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *esc = NULL;

		switch (ch) {
		case '\\': esc = "\\\\"; break;
		case '\'': esc = "\\'"; break;
		case '"': esc = "\\\""; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '%': esc = like ? "\\%" : NULL; break;
		case '_': esc = like ? "\\_" : NULL; break;
		default:
			/* NUL and the other control characters have no SOQL escape worth trusting */
			if (ch < 0x20 || ch == 0x7F)
				err = CS_EINVAL;
			break;
		}
		if (err != CS_OK)
			break;
		err = esc ? cs_buf_puts(b, esc) : cs_buf_putc(b, (char)ch);
	}
	if (err == CS_OK && suffix)
		err = cs_buf_putc(b, '%');
	if (err == CS_OK)
		err = cs_buf_putc(b, '\'');
	if (err != CS_OK && b->data != NULL) {
		b->len = old;
		b->data[old] = '\0';
	}
	return err;
}

cs_err
sf_soql_quote(struct cs_buf *b, const char *s, size_t len)
{
	return quote(b, s, len, false, false, false);
}

cs_err
sf_soql_quote_like(struct cs_buf *b, const char *s, size_t len, bool prefix, bool suffix)
{
	return quote(b, s, len, true, prefix, suffix);
}

/* --- builder ----------------------------------------------------------------------------- */

void
sf_soql_init(struct sf_soql *q)
{
	cs_buf_init(&q->b, SF_SOQL_MAX);
	q->err = CS_OK;
}

void
sf_soql_cleanup(struct sf_soql *q)
{
	cs_buf_cleanup(&q->b);
}

void
sf_soql_kw(struct sf_soql *q, const char *k)
{
	if (q->err != CS_OK)
		return;
	/* program text only: a quote or backslash here would mean a value slipped in unquoted */
	for (const char *p = k; *p; p++)
		if (*p == '\'' || *p == '\\' || *p == '"' || (unsigned char)*p < 0x20) {
			q->err = CS_EINVAL;
			return;
		}
	q->err = cs_buf_puts(&q->b, k);
}

void
sf_soql_name(struct sf_soql *q, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (q->err != CS_OK)
		return;
	if (n == 0 || n > 255 || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) {
		q->err = CS_EINVAL;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '_' || name[i] == '.')) {
			q->err = CS_EINVAL;
			return;
		}
	q->err = cs_buf_append(&q->b, name, n);
}

void
sf_soql_str(struct sf_soql *q, const char *v)
{
	if (q->err == CS_OK)
		q->err = v ? sf_soql_quote(&q->b, v, strlen(v)) : CS_EINVAL;
}

void
sf_soql_like(struct sf_soql *q, const char *v, bool prefix, bool suffix)
{
	if (q->err == CS_OK)
		q->err = v ? sf_soql_quote_like(&q->b, v, strlen(v), prefix, suffix) : CS_EINVAL;
}

void
sf_soql_int(struct sf_soql *q, long long v)
{
	if (q->err == CS_OK)
		q->err = cs_buf_printf(&q->b, "%lld", v);
}

void
sf_soql_datetime(struct sf_soql *q, int64_t ms)
{
	char t[32];

	if (q->err != CS_OK)
		return;
	cs_time_format_cdc(ms, t, sizeof(t));
	q->err = cs_buf_puts(&q->b, t);
}

void
sf_soql_in(struct sf_soql *q, const char *const *v, size_t n)
{
	if (q->err != CS_OK)
		return;
	if (n == 0) {
		q->err = CS_EINVAL;     /* "IN ()" is malformed SOQL */
		return;
	}
	q->err = cs_buf_putc(&q->b, '(');
	for (size_t i = 0; i < n && q->err == CS_OK; i++) {
		if (i)
			q->err = cs_buf_putc(&q->b, ',');
		if (q->err == CS_OK)
			q->err = v[i] ? sf_soql_quote(&q->b, v[i], strlen(v[i])) : CS_EINVAL;
	}
	if (q->err == CS_OK)
		q->err = cs_buf_putc(&q->b, ')');
}

const char *
sf_soql_text(struct sf_soql *q, cs_err *err)
{
	if (q->err == CS_OK && q->b.len == 0)
		q->err = CS_EINVAL;
	if (err)
		*err = q->err;
	return q->err == CS_OK ? q->b.data : NULL;
}

/* --- execution --------------------------------------------------------------------------- */

/* A nextRecordsUrl is followed only when it stays under /services/data/ on the same instance. */
static bool
next_ok(const char *u)
{
	size_t n = strlen(u);

	if (n < 16 || n > 1024 || strncmp(u, "/services/data/", 15) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == '#' || (unsigned char)u[i] >= 0x7F)
			return false;
	return true;
}

cs_err
sf_query(struct sf_client *c, const char *soql, unsigned flags, int batch_size, sf_record_cb cb, void *ud,
    long long *total, struct sf_error *e)
{
	struct cs_buf path;
	char opt[64], *next = NULL;
	size_t len = soql ? strlen(soql) : 0;
	bool stop = false;
	cs_err err = CS_OK;

	sf_error_clear(e);
	if (total)
		*total = 0;
	if (len == 0 || len > SF_SOQL_MAX || !cs_utf8_valid(soql, len))
		return sf_fail(e, CS_EINVAL, false, "query text empty, over %d characters or not UTF-8", SF_SOQL_MAX);
	if (batch_size != 0 && (batch_size < 200 || batch_size > 2000))
		return sf_fail(e, CS_EINVAL, false, "batch size %d outside 200..2000", batch_size);
	snprintf(opt, sizeof(opt), "Sforce-Query-Options: batchSize=%d", batch_size);
	cs_buf_init(&path, 16 + SF_SOQL_MAX * 3);
	err = cs_buf_puts(&path, (flags & SF_QUERY_ALL) ? "/queryAll?q=" : "/query?q=");
	if (err == CS_OK)
		err = sf_urlencode(&path, soql);
	if (err != CS_OK) {
		cs_buf_cleanup(&path);
		return sf_fail(e, err, false, "query text too long");
	}
	while (!stop) {
		json_t *v = NULL, *recs, *r;
		const char *nu;
		size_t i;

		err = sf_call(c, "GET", next ? next : path.data, NULL, 0, 0, batch_size ? opt : NULL, NULL, &v, NULL, e);
		if (err != CS_OK)
			break;
		recs = json_object_get(v, "records");
		if (!json_is_array(recs)) {
			json_decref(v);
			err = sf_fail(e, CS_EPARSE, false, "query response without records");
			break;
		}
		if (total && next == NULL)
			*total = cs_json_get_int(v, "totalSize", 0);
		json_array_foreach(recs, i, r) {
			if (cb(ud, r) != 0) {
				stop = true;
				break;
			}
		}
		nu = cs_json_get_str(v, "nextRecordsUrl");
		if (!stop && !cs_json_get_bool(v, "done", true) && nu != NULL) {
			if (!next_ok(nu) || (next != NULL && strcmp(next, nu) == 0)) {
				json_decref(v);
				err = sf_fail(e, CS_EPARSE, false, "query: unusable nextRecordsUrl");
				break;
			}
			free(next);
			if ((next = strdup(nu)) == NULL) {
				json_decref(v);
				err = sf_fail(e, CS_ENOMEM, false, "out of memory");
				break;
			}
		} else
			stop = true;
		json_decref(v);
	}
	free(next);
	cs_buf_cleanup(&path);
	return err;
}

struct collect {
	json_t *arr;
	size_t max;
	bool over, nomem;
};

static int
collect_cb(void *ud, const json_t *rec)
{
	struct collect *k = ud;

	if (json_array_size(k->arr) >= k->max) {
		k->over = true;
		return 1;
	}
	if (json_array_append(k->arr, (json_t *)rec) != 0) {
		k->nomem = true;
		return 1;
	}
	return 0;
}

cs_err
sf_query_array(struct sf_client *c, const char *soql, unsigned flags, size_t max, json_t **out, struct sf_error *e)
{
	struct collect k = { json_array(), max, false, false };
	cs_err err;

	*out = NULL;
	if (k.arr == NULL)
		return sf_fail(e, CS_ENOMEM, false, "out of memory");
	err = sf_query(c, soql, flags, 0, collect_cb, &k, NULL, e);
	if (err == CS_OK && k.over)
		err = sf_fail(e, CS_ETOOBIG, false, "query returned more than %zu records", max);
	else if (err == CS_OK && k.nomem)
		err = sf_fail(e, CS_ENOMEM, false, "out of memory");
	if (err == CS_OK)
		*out = k.arr;
	else
		json_decref(k.arr);
	return err;
}

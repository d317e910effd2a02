/* rest.c - the REST request path (token, call options, limits, error parsing, retries) and single-record CRUD. */
#include "salesforce/sf_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#define DEF_ATTEMPTS 5
#define DEF_BASE_MS 100
#define DEF_CAP_MS 10000
#define DEF_TOTAL_MS 60000
#define MAX_ATTEMPTS 100

/* --- small helpers ----------------------------------------------------------------------- */

void
sf_copy(char *out, size_t cap, const char *s)
{
	size_t n;

	if (cap == 0)
		return;
	n = s ? strlen(s) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(out, s, n);
	out[n] = '\0';
}

void
sf_error_clear(struct sf_error *e)
{
	if (e == NULL)
		return;
	e->err = CS_OK;
	e->http = 0;
	e->code[0] = e->message[0] = e->fields[0] = '\0';
	e->transient = false;
}

cs_err
sf_fail(struct sf_error *e, cs_err err, bool transient, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return err;
	sf_error_clear(e);
	e->err = err;
	e->transient = transient;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return err;
}

cs_err
sf_fail_http(struct sf_error *e, const struct cs_error *he)
{
	bool t = he->code == CS_ENET || he->code == CS_ETIMEOUT;
	return sf_fail(e, he->code, t, "%s", he->msg);
}

bool
sf_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 80)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_'))
			return false;
	return true;
}

bool
sf_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return (n == 15 || n == 18) && sf_name_ok(s) && strchr(s, '_') == NULL;
}

cs_err
sf_urlencode(struct cs_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	cs_err err = CS_OK;

	for (const unsigned char *p = (const unsigned char *)s; *p && err == CS_OK; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~')
			err = cs_buf_putc(b, (char)*p);
		else {
			char q[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			err = cs_buf_append(b, q, 3);
		}
	}
	return err;
}

uint64_t
sf_rand(uint64_t *st)
{
	/* splitmix64: jitter only, not security */
	uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

bool
sf_sleep_ms(long ms, const atomic_int *stop)
{
	int64_t end = cs_time_mono_ms() + ms;

#ifdef CS_FUZZ
	end = 0;
#endif
	for (;;) {
		int64_t left = end - cs_time_mono_ms();
		struct timespec ts;

		if (stop != NULL && atomic_load(stop))
			return true;
		if (left <= 0)
			return false;
		if (left > 50)
			left = 50;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

/* --- errors ------------------------------------------------------------------------------ */

bool
sf_code_transient(const char *code)
{
	static const char *const t[] = {
		"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "QUERY_TIMEOUT", "REQUEST_LIMIT_EXCEEDED",
		"REQUEST_RUNNING_TOO_LONG", "UNKNOWN_EXCEPTION", "ALL_OR_NONE_OPERATION_ROLLED_BACK",
		"PROCESSING_HALTED", "BATCH_PROCESSING_HALTED",
	};

	if (code == NULL)
		return false;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(code, t[i]) == 0)
			return true;
	return false;
}

/* Fills e from one error object: REST {message, errorCode, fields}, collections {statusCode,...}
 * or OAuth {error, error_description}. */
static void
error_from(struct sf_error *e, const json_t *o)
{
	const char *code = cs_json_get_str(o, "errorCode");
	const char *msg = cs_json_get_str(o, "message");
	json_t *f = json_object_get(o, "fields");

	if (code == NULL)
		code = cs_json_get_str(o, "statusCode");
	if (code == NULL)
		code = cs_json_get_str(o, "error");
	if (msg == NULL)
		msg = cs_json_get_str(o, "error_description");
	sf_copy(e->code, sizeof(e->code), code);
	if (msg != NULL)
		sf_copy(e->message, sizeof(e->message), msg);
	if (json_is_array(f)) {
		size_t i, at = 0;
		json_t *x;

		json_array_foreach(f, i, x) {
			const char *s = json_string_value(x);
			size_t n;

			if (s == NULL)
				continue;
			n = strlen(s);
			if (at + n + 2 > sizeof(e->fields))
				break;
			if (at)
				e->fields[at++] = ',';
			memcpy(e->fields + at, s, n);
			at += n;
			e->fields[at] = '\0';
		}
	}
}

static void
classify(struct sf_error *e)
{
	long h = e->http;

	if (strcmp(e->code, "REQUEST_LIMIT_EXCEEDED") == 0)
		e->err = CS_ELIMIT;
	else if (h == 401 || strcmp(e->code, "INVALID_SESSION_ID") == 0)
		e->err = CS_EAUTH;
	else if (h == 404)
		e->err = CS_ENOTFOUND;
	else if (h == 300)
		e->err = CS_ECONFLICT;
	else
		e->err = CS_EHTTP;
	e->transient = h >= 500 || h == 420 || h == 429 || sf_code_transient(e->code);
}

void
sf_error_parse(struct sf_error *e, long http, const char *p, size_t len)
{
	json_t *v = NULL, *o;
	struct cs_error je;

	sf_error_clear(e);
	e->http = http;
	if (p != NULL && len > 0 && cs_json_parse(p, len, &v, &je) == CS_OK) {
		o = json_is_array(v) ? json_array_get(v, 0) : v;
		if (json_is_object(o))
			error_from(e, o);
		if (http == 300 && e->code[0] == '\0') {
			sf_copy(e->code, sizeof(e->code), "MULTIPLE_CHOICES");
			sf_copy(e->message, sizeof(e->message), "several records match the external id");
		}
	}
	json_decref(v);
	if (e->message[0] == '\0')
		snprintf(e->message, sizeof(e->message), "HTTP %ld without a Salesforce error body", http);
	classify(e);
}

/* --- backoff ----------------------------------------------------------------------------- */

static struct sf_retry
retry_defaults(const struct sf_retry *r)
{
	struct sf_retry d = *r;

	if (d.max_attempts == 0)
		d.max_attempts = DEF_ATTEMPTS;
	if (d.max_attempts > MAX_ATTEMPTS)
		d.max_attempts = MAX_ATTEMPTS;
	if (d.base_ms <= 0)
		d.base_ms = DEF_BASE_MS;
	if (d.cap_ms <= 0)
		d.cap_ms = DEF_CAP_MS;
	if (d.max_total_ms <= 0)
		d.max_total_ms = DEF_TOTAL_MS;
	return d;
}

long
sf_backoff_ms(const struct sf_retry *r0, unsigned n, uint64_t rnd)
{
	struct sf_retry r = retry_defaults(r0);
	long ceil = r.base_ms;

	if (n == 0)
		return 0;
	for (unsigned i = 1; i < n && ceil < r.cap_ms; i++)
		ceil = ceil > r.cap_ms / 2 ? r.cap_ms : ceil * 2;
	if (ceil > r.cap_ms)
		ceil = r.cap_ms;
	return (long)(rnd % ((uint64_t)ceil + 1));
}

/* --- the request path -------------------------------------------------------------------- */

static cs_err
build_url(struct cs_buf *u, const struct sf_session *s, const char *ver, const char *path)
{
	if (strncmp(path, "/services/", 10) == 0)
		return cs_buf_printf(u, "%s%s", s->instance, path);
	return cs_buf_printf(u, "%s/services/data/v%s%s", s->instance, ver, path);
}

/* A failure that shows the server did nothing: no connection was made, or Salesforce refused the
 * whole request before any work (busy, throttled, row lock). */
static bool
no_effect(const struct sf_error *e)
{
	if (e->http == 0)
		return e->err == CS_ENET && (strstr(e->message, "Couldn't connect") != NULL ||
		    strstr(e->message, "Couldn't resolve") != NULL);
	return e->http == 503 || e->http == 420 || e->http == 429 || strcmp(e->code, "UNABLE_TO_LOCK_ROW") == 0;
}

cs_err
sf_send(struct sf_client *c, const struct sf_req *rq, struct http_response *rs, unsigned *attempts,
    struct sf_error *e)
{
	struct sf_org *o = c->org;
	struct sf_retry r = retry_defaults(&o->retry);
	struct sf_session *s;
	struct cs_buf url, auth, opts, ctype, accept;
	struct http_request hr = { 0 };
	struct cs_error he;
	const char *hdrs[7];
	const char *method = rq->method, *path = rq->path;
	bool reads = strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0 || strcmp(method, "HEAD") == 0;
	bool idem = reads || ((rq->flags & SF_IDEMPOTENT) && !c->caller_retries);
	bool refreshed = false;
	int64_t deadline = cs_time_mono_ms() + r.max_total_ms;
	unsigned n = 0, retries = 0;
	cs_err err = CS_OK;

	rs->status = 0;
	sf_error_clear(e);
	if ((s = malloc(sizeof(*s))) == NULL)
		return sf_fail(e, CS_ENOMEM, false, "out of memory");
	cs_buf_init(&url, SF_URL_MAX + SF_SOQL_MAX * 3);
	cs_buf_init(&auth, SF_TOKEN_MAX + 64);
	cs_buf_init(&opts, 256);
	cs_buf_init(&ctype, 256);
	cs_buf_init(&accept, 256);
	if (cs_buf_printf(&opts, "Sforce-Call-Options: client=%s", o->client_name) != CS_OK ||
	    cs_buf_printf(&ctype, "Content-Type: %s", rq->content_type ? rq->content_type :
	        "application/json; charset=UTF-8") != CS_OK ||
	    cs_buf_printf(&accept, "Accept: %s", rq->accept ? rq->accept : "application/json") != CS_OK) {
		err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		goto out;
	}
	for (;;) {
		long wait;

		n++;
		err = sf_session_get(c, s, e);
		if (err == CS_OK) {
			size_t h = 0;

			cs_buf_reset(&url);
			cs_buf_reset(&auth);
			if (build_url(&url, s, o->api_version, path) != CS_OK ||
			    cs_buf_printf(&auth, "Authorization: Bearer %s", s->token) != CS_OK) {
				err = sf_fail(e, CS_ETOOBIG, false, "%s %s: request URL too long", method, path);
				goto out;
			}
			hdrs[h++] = auth.data;
			hdrs[h++] = opts.data;
			hdrs[h++] = accept.data;
			if (rq->body != NULL)
				hdrs[h++] = ctype.data;
			if (rq->extra != NULL)
				hdrs[h++] = rq->extra;
			hdrs[h] = NULL;
			hr.method = method;
			hr.url = url.data;
			hr.headers = hdrs;
			hr.body = rq->body;
			hr.body_len = rq->len;
			hr.timeout_ms = o->timeout_ms;
			hr.max_response = rq->max_response ? rq->max_response : o->max_response;
			sf_org_count(o, 1, 0);
			if (http_client_do(c->http, &hr, rs, &he) != CS_OK)
				err = sf_fail_http(e, &he);
			else {
				char li[256];

				/* an answer may echo the request (an error page, a proxy): the token never
				 * reaches a message or a record */
				sf_scrub(rs->body.data, rs->body.len, s->token);
				if (http_response_header(rs, "Sforce-Limit-Info", li, sizeof(li)))
					sf_org_note_limits(o, li);
				if (rs->status >= 200 && rs->status < 300) {
					sf_org_auth_ok(o);
					err = CS_OK;
					goto out;
				}
				if (rs->status == 401 && !refreshed && o->auth != SF_AUTH_ACCESS_TOKEN) {
					/* the session expired: a new token, and the same request once more */
					refreshed = true;
					sf_session_invalidate(o, s->gen);
					n--;
					log_info("sf.session", "org=%s session refused, renewing the token", o->name);
					continue;
				}
				sf_error_parse(e, rs->status, rs->body.data, rs->body.len);
				err = e->err;
				if (rs->status == 401) {
					/* refused again after a new token, or a fixed token: no session works */
					char why[sizeof(e->message) + 40];
					snprintf(why, sizeof(why), "session refused (HTTP 401): %s", e->message);
					sf_org_auth_failed(o, why);
				}
			}
		}
		if (err == CS_ELIMIT || !e->transient || n >= r.max_attempts || !(idem || no_effect(e)))
			goto out;
		wait = sf_backoff_ms(&r, n, sf_rand(&c->rnd));
		if (cs_time_mono_ms() + wait > deadline)
			goto out;
		retries++;
		log_debug("sf.retry", "org=%s %s %s attempt %u failed (%s %s), retrying in %ld ms", o->name, method, path,
		    n, e->code[0] ? e->code : cs_strerror(e->err), e->message, wait);
		sf_sleep_ms(wait, NULL);
	}
out:
	if (retries)
		sf_org_count(o, 0, retries);
	if (attempts)
		*attempts = n;
	if (auth.data)
		memset(auth.data, 0, auth.len);
	if (s != NULL)
		memset(s->token, 0, sizeof(s->token));
	free(s);
	cs_buf_cleanup(&url);
	cs_buf_cleanup(&auth);
	cs_buf_cleanup(&opts);
	cs_buf_cleanup(&ctype);
	cs_buf_cleanup(&accept);
	return err;
}

cs_err
sf_call(struct sf_client *c, const char *method, const char *path, const char *body, size_t len, unsigned flags,
    const char *extra, long *status, json_t **out, unsigned *attempts, struct sf_error *e)
{
	struct sf_req rq = { .method = method, .path = path, .body = body, .len = len, .extra = extra, .flags = flags };
	struct http_response rs;
	struct cs_error he;
	cs_err err;

	if (out)
		*out = NULL;
	if (status)
		*status = 0;
	http_response_init(&rs);
	err = sf_send(c, &rq, &rs, attempts, e);
	if (status)
		*status = rs.status;
	if (err == CS_OK && rs.body.len > 0 && out != NULL && cs_json_parse(rs.body.data, rs.body.len, out, &he) != CS_OK)
		err = sf_fail(e, CS_EPARSE, false, "%s %s: unreadable response: %s", method, path, he.msg);
	http_response_cleanup(&rs);
	return err;
}

cs_err
sf_rest(struct sf_client *c, const char *method, const char *path, const json_t *body, unsigned flags, long *status,
    json_t **out, struct sf_error *e)
{
	struct cs_buf b;
	cs_err err;

	cs_buf_init(&b, c->org->max_response);
	if (body != NULL && cs_json_dump(body, &b) != CS_OK) {
		cs_buf_cleanup(&b);
		return sf_fail(e, CS_ETOOBIG, false, "%s %s: request body too large", method, path);
	}
	err = sf_call(c, method, path, body ? (b.data ? b.data : "") : NULL, b.len, flags, NULL, status, out, NULL, e);
	cs_buf_cleanup(&b);
	return err;
}

/* --- single records ---------------------------------------------------------------------- */

/* Copies the answer's "id" into id when it is a well-formed record id: a longer or odd one is
 * refused, never cut to 18 characters, which could name another record. id is "" otherwise. */
static cs_err
take_id(const json_t *v, char id[SF_ID_LEN + 1])
{
	const char *s = cs_json_get_str(v, "id");

	if (s == NULL || !sf_id_ok(s)) {
		if (id != NULL)
			id[0] = '\0';
		return CS_EPARSE;
	}
	if (id != NULL)
		sf_copy(id, SF_ID_LEN + 1, s);
	return CS_OK;
}

cs_err
sf_rest_create(struct sf_client *c, const char *sobject, const json_t *fields, char id[SF_ID_LEN + 1],
    struct sf_error *e)
{
	char path[160];
	json_t *v = NULL;
	cs_err err;

	if (!sf_name_ok(sobject))
		return sf_fail(e, CS_EINVAL, false, "invalid sObject name");
	snprintf(path, sizeof(path), "/sobjects/%s/", sobject);
	err = sf_rest(c, "POST", path, fields, 0, NULL, &v, e);
	if (err == CS_OK && take_id(v, id) != CS_OK)
		err = sf_fail(e, CS_EPARSE, false, "create %s: response without an id", sobject);
	json_decref(v);
	return err;
}

cs_err
sf_rest_retrieve(struct sf_client *c, const char *sobject, const char *id, const char *fields, json_t **rec,
    struct sf_error *e)
{
	struct cs_buf p;
	cs_err err;

	*rec = NULL;
	if (!sf_name_ok(sobject) || !sf_id_ok(id))
		return sf_fail(e, CS_EINVAL, false, "invalid sObject name or id");
	cs_buf_init(&p, 64u << 10);
	err = cs_buf_printf(&p, "/sobjects/%s/%s", sobject, id);
	if (err == CS_OK && fields != NULL) {
		err = cs_buf_puts(&p, "?fields=");
		if (err == CS_OK)
			err = sf_urlencode(&p, fields);
	}
	if (err != CS_OK)
		err = sf_fail(e, err, false, "retrieve %s: field list too long", sobject);
	else
		err = sf_call(c, "GET", p.data, NULL, 0, 0, NULL, NULL, rec, NULL, e);
	cs_buf_cleanup(&p);
	return err;
}

cs_err
sf_rest_update(struct sf_client *c, const char *sobject, const char *id, const json_t *fields, struct sf_error *e)
{
	char path[160];

	if (!sf_name_ok(sobject) || !sf_id_ok(id))
		return sf_fail(e, CS_EINVAL, false, "invalid sObject name or id");
	snprintf(path, sizeof(path), "/sobjects/%s/%s", sobject, id);
	/* writing the same values again leaves the same record: safe to retry */
	return sf_rest(c, "PATCH", path, fields, SF_IDEMPOTENT, NULL, NULL, e);
}

cs_err
sf_rest_upsert(struct sf_client *c, const char *sobject, const char *ext_field, const char *value,
    const json_t *fields, char id[SF_ID_LEN + 1], bool *created, struct sf_error *e)
{
	struct cs_buf p;
	json_t *v = NULL;
	long st = 0;
	cs_err err;

	if (id)
		id[0] = '\0';
	if (created)
		*created = false;
	if (!sf_name_ok(sobject) || !sf_name_ok(ext_field) || value == NULL || value[0] == '\0' ||
	    !cs_utf8_valid(value, strlen(value)))
		return sf_fail(e, CS_EINVAL, false, "invalid sObject, external id field or value");
	/* Salesforce decodes %2F before routing, so a '/' in the value finds no resource: such
	 * values go in a body, with sf_coll_upsert */
	if (strchr(value, '/') != NULL)
		return sf_fail(e, CS_EINVAL, false, "upsert %s: an external id with '/' needs sf_coll_upsert", sobject);
	cs_buf_init(&p, 16u << 10);
	err = cs_buf_printf(&p, "/sobjects/%s/%s/", sobject, ext_field);
	if (err == CS_OK)
		err = sf_urlencode(&p, value);
	if (err != CS_OK) {
		cs_buf_cleanup(&p);
		return sf_fail(e, err, false, "upsert %s: external id too long", sobject);
	}
	if (id != NULL)
		id[0] = '\0';   /* an answer without a body names no id */
	err = sf_rest(c, "PATCH", p.data, fields, SF_IDEMPOTENT, &st, &v, e);
	if (err == CS_OK) {
		if (v != NULL)
			take_id(v, id);
		if (created)
			*created = st == 201 || cs_json_get_bool(v, "created", false);
	}
	json_decref(v);
	cs_buf_cleanup(&p);
	return err;
}

cs_err
sf_rest_delete(struct sf_client *c, const char *sobject, const char *id, struct sf_error *e)
{
	char path[160];
	unsigned n = 0;
	cs_err err;

	if (!sf_name_ok(sobject) || !sf_id_ok(id))
		return sf_fail(e, CS_EINVAL, false, "invalid sObject name or id");
	snprintf(path, sizeof(path), "/sobjects/%s/%s", sobject, id);
	err = sf_call(c, "DELETE", path, NULL, 0, 0, NULL, NULL, NULL, &n, e);
	/* an earlier attempt whose answer was lost did the delete */
	if (err != CS_OK && n > 1 && strcmp(e->code, "ENTITY_IS_DELETED") == 0) {
		sf_error_clear(e);
		err = CS_OK;
	}
	return err;
}

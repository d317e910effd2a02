/* handlers.c - sfemu's HTTP surface: authentication, limits, faults, REST resources,
 * query cursors, composite requests, and the /__emu/ control endpoints. */
#include "emu.h"
#include "soql.h"
#include "cometd.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_CURSORS 2000
#define COMPOSITE_MAX 25
#define QUERY_BATCH_DEFAULT 2000
#define QUERY_BATCH_MIN 200
#define QUERY_BATCH_MAX 2000

/* What a REST operation produced; shared by HTTP requests and composite subrequests. */
struct result {
	int status;
	json_t *body;               /* NULL for no body */
	char location[256];
};

/* The context of one REST call. */
struct call {
	struct emu *emu;
	int version;
	struct emu_caller who;
	struct emu_txn *txn;        /* when set (composite allOrNone), writes join it */
	int batch_size;
};

static void
set(struct result *r, int status, json_t *body)
{
	json_decref(r->body);
	r->status = status;
	r->body = body;
}

static void
fail(struct result *r, int status, const char *code, const char *msg)
{
	set(r, status, emu_error(code, msg, NULL));
	/* REST error bodies carry no "fields" key unless there are fields */
	json_object_del(json_array_get(r->body, 0), "fields");
}

void
emu_fail(struct http_resp *rs, int status, const char *code, const char *msg)
{
	http_resp_json(rs, status, json_pack("[{s:s,s:s}]", "message", msg, "errorCode", code));
}

int
emu_version(const char *seg)
{
	char *end;
	long v;

	if (seg == NULL || seg[0] != 'v')
		return 0;
	v = strtol(seg + 1, &end, 10);
	if (end == seg + 1 || strcmp(end, ".0") != 0 || v < EMU_MIN_VERSION || v > EMU_MAX_VERSION)
		return 0;
	return (int)v;
}

static unsigned
rnd(struct emu *emu)
{
	/* xorshift64*: a cheap, seedable source for fault rates */
	unsigned long long x = emu->faults.rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	emu->faults.rng = x;
	return (unsigned)((x * 2685821657736338717ULL) >> 33);
}

static void
count(struct emu *emu, const char *endpoint, int n)
{
	json_t *c = json_object_get(emu->counters, endpoint);
	json_object_set_new(emu->counters, endpoint, json_integer((c ? json_integer_value(c) : 0) + n));
}

static const char *
bearer(struct http_req *rq)
{
	const char *h = http_req_header(rq, "Authorization");

	if (h == NULL)
		return NULL;
	if (strncasecmp(h, "Bearer ", 7) == 0)
		return h + 7;
	if (strncasecmp(h, "OAuth ", 6) == 0)
		return h + 6;
	return NULL;
}

static void
limit_header(struct emu *emu, struct http_resp *rs)
{
	char v[64];
	snprintf(v, sizeof(v), "api-usage=%ld/%ld", emu->api_used, emu->o.daily_limit);
	http_resp_header(rs, "Sforce-Limit-Info", v);
}

/* Whether the faults apply to rq: always, unless they are scoped to one client (faults.client),
 * which rq's Sforce-Call-Options must then name ("client=name", ";" or "," between options). */
static bool
faults_for(const struct emu *emu, struct http_req *rq)
{
	const char *h, *c;
	size_t n = strlen(emu->faults.client);

	if (n == 0)
		return true;
	if ((h = http_req_header(rq, "Sforce-Call-Options")) == NULL)
		return false;
	for (c = strstr(h, "client="); c != NULL; c = strstr(c + 1, "client="))
		if ((c == h || c[-1] == ' ' || c[-1] == ';' || c[-1] == ',') && strncmp(c + 7, emu->faults.client, n) == 0 &&
		    (c[7 + n] == '\0' || c[7 + n] == ';' || c[7 + n] == ',' || c[7 + n] == ' '))
			return true;
	return false;
}

bool
emu_begin_call(struct emu *emu, struct http_req *rq, struct http_resp *rs, const char *endpoint, int ncalls)
{
	int64_t now = cs_time_now_ms();
	int latency = 0;
	bool write = strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0;
	struct faults none = { 0 }, *fl;

	emu_lock(emu);
	count(emu, endpoint, 1);
	count(emu, "total", 1);
	fl = faults_for(emu, rq) ? &emu->faults : &none;
	if (fl->latency_ms > 0 &&
	    (fl->latency_rate <= 0 || (int)(rnd(emu) % 1000) < fl->latency_rate))
		latency = fl->latency_ms;
	if (fl->rate_drop > 0 && (int)(rnd(emu) % 1000) < fl->rate_drop) {
		count(emu, "fault.drop", 1);
		emu_unlock(emu);
		rs->drop = true;
		return false;
	}
	if (!oauth_token_valid(emu, bearer(rq))) {
		/* an expired session (expire-sessions, --session-ttl) or a token never issued */
		count(emu, "fault.session", 1);
		emu_unlock(emu);
		emu_fail(rs, 401, "INVALID_SESSION_ID", "Session expired or invalid");
		return false;
	}
	if (now - emu->api_window_start >= 24LL * 3600 * 1000) {
		emu->api_window_start = now;
		emu->api_used = 0;
	}
	if (emu->api_used + ncalls > emu->o.daily_limit) {
		count(emu, "fault.limit", 1);
		limit_header(emu, rs);
		emu_unlock(emu);
		emu_fail(rs, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
		return false;
	}
	emu->api_used += ncalls;
	limit_header(emu, rs);
	if (fl->rate_503 > 0 && (int)(rnd(emu) % 1000) < fl->rate_503) {
		count(emu, "fault.503", 1);
		emu_unlock(emu);
		emu_fail(rs, 503, "SERVER_UNAVAILABLE", "Service temporarily unavailable, please retry");
		return false;
	}
	if (write && fl->rate_lock > 0 && (int)(rnd(emu) % 1000) < fl->rate_lock &&
	    strstr(endpoint, "cometd") == NULL) {
		count(emu, "fault.lock", 1);
		emu_unlock(emu);
		emu_fail(rs, 400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records: 001000000000000AAA");
		return false;
	}
	if (write && fl->rate_lost > 0 && (int)(rnd(emu) % 1000) < fl->rate_lost &&
	    strstr(endpoint, "cometd") == NULL) {
		/* the request is served and commits; only its answer is lost on the way back (the
		 * server closes the connection instead of sending what the handler wrote) */
		count(emu, "fault.lost", 1);
		rs->drop = true;
	}
	if (latency > 0)
		count(emu, "fault.latency", 1);     /* counted where it is served: a refused call is not delayed */
	emu_unlock(emu);
	if (latency > 0) {
		struct timespec ts = { latency / 1000, (long)(latency % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		/* served from here on, whether or not its caller still waits for it */
		emu_lock(emu);
		count(emu, "fault.latency.done", 1);
		emu_unlock(emu);
	}
	return true;
}

void
emu_caller_from(struct http_req *rq, int version, const char *api, struct emu_caller *who, char *client_buf, size_t cap)
{
	const char *h = http_req_header(rq, "Sforce-Call-Options");

	who->api = api;
	who->version = version;
	who->client = NULL;
	client_buf[0] = '\0';
	/* "client=name; defaultNamespace=x" or jsforce's "client=name, defaultNamespace=x" */
	while (h && *h) {
		size_t n;
		while (*h == ' ' || *h == ';' || *h == ',')
			h++;
		n = strcspn(h, ";,");
		if (n > 7 && strncasecmp(h, "client=", 7) == 0) {
			size_t len = n - 7;
			while (len > 0 && h[7 + len - 1] == ' ')
				len--;
			if (len >= cap)
				len = cap - 1;
			memcpy(client_buf, h + 7, len);
			client_buf[len] = '\0';
			who->client = client_buf;
		}
		h += n;
	}
}

json_t *
emu_body_json(struct http_req *rq, struct http_resp *rs)
{
	json_t *v;
	struct cs_error e;

	if (rq->body_too_big || rq->body_len > EMU_MAX_JSON_BODY) {
		emu_fail(rs, 413, "REQUEST_ENTITY_TOO_LARGE", "Request body exceeds the maximum size");
		return NULL;
	}
	if (cs_json_parse(rq->body, rq->body_len, &v, &e) != CS_OK) {
		emu_fail(rs, 400, "JSON_PARSER_ERROR", e.msg);
		return NULL;
	}
	return v;
}

/* ---- query strings ---- */

static bool
qs_cb(const char *k, const char *v, void *ud)
{
	/* first occurrence wins (clients repeat q on nextRecordsUrl) */
	if (json_object_get(ud, k) == NULL)
		json_object_set_new(ud, k, json_string(v));
	return true;
}

static json_t *
parse_qs(const char *q)
{
	json_t *o = json_object();
	if (q)
		http_form_each(q, strlen(q), qs_cb, o);
	return o;
}

/* ---- the REST resources ---- */

static void
versions(struct emu *emu, struct result *r)
{
	static const char *const season[] = { "Winter", "Spring", "Summer" };
	json_t *a = json_array();

	for (int v = EMU_MIN_VERSION; v <= EMU_MAX_VERSION; v++) {
		int idx = v - 20;
		json_t *e = json_object();

		json_array_append_new(a, e);
		json_object_set_new(e, "label", json_sprintf("%s '%02d", season[idx % 3], 11 + idx / 3));
		json_object_set_new(e, "url", json_sprintf("/services/data/v%d.0", v));
		json_object_set_new(e, "version", json_sprintf("%d.0", v));
	}
	set(r, 200, a);
}

static void
resources(struct call *c, struct result *r)
{
	static const char *const names[] = { "sobjects", "query", "queryAll", "limits", "composite",
		"jobs", "search", "recent", "tooling", "connect", "actions", "analytics" };
	json_t *o = json_object();

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		json_object_set_new(o, names[i], json_sprintf("/services/data/v%d.0/%s", c->version, names[i]));
	json_object_set_new(o, "jobs", json_sprintf("/services/data/v%d.0/jobs/ingest", c->version));
	set(r, 200, o);
}

static void
limits(struct call *c, struct result *r)
{
	struct emu *emu = c->emu;
	long rem = emu->o.daily_limit - emu->api_used;

	set(r, 200, json_pack("{s:{s:I,s:I},s:{s:i,s:i},s:{s:i,s:i},s:{s:i,s:i},s:{s:i,s:i},s:{s:i,s:i},s:{s:i,s:i},s:{s:i,s:i},s:{s:i,s:i},s:{s:i,s:i}}",
	    "DailyApiRequests", "Max", (json_int_t)emu->o.daily_limit, "Remaining", (json_int_t)(rem < 0 ? 0 : rem),
	    "DailyBulkApiBatches", "Max", 15000, "Remaining", 15000,
	    "DailyBulkV2QueryJobs", "Max", 10000, "Remaining", 10000,
	    "DailyBulkV2QueryFileStorageMB", "Max", 976562, "Remaining", 976562,
	    "DailyDurableStreamingApiEvents", "Max", 1000000, "Remaining", 1000000,
	    "DurableStreamingApiConcurrentClients", "Max", 2000, "Remaining", 2000,
	    "DailyDeliveredPlatformEvents", "Max", 50000, "Remaining", 50000,
	    "DataStorageMB", "Max", 1024, "Remaining", 1024,
	    "FileStorageMB", "Max", 1024, "Remaining", 1024,
	    "DailyAsyncApexExecutions", "Max", 250000, "Remaining", 250000));
}

static struct sobject *
need_object(struct call *c, const char *name, struct result *r)
{
	struct sobject *o = emu_object(c->emu, name);
	char msg[300];

	if (o == NULL) {
		snprintf(msg, sizeof(msg), "The requested resource does not exist");
		fail(r, 404, "NOT_FOUND", msg);
	}
	return o;
}

/* Splits "a,b,c" into fields that exist on o; answers INVALID_FIELD for an unknown one. */
static bool
field_list(struct sobject *o, const char *csv, const char ***out, size_t *n, char **store, struct result *r)
{
	char *s, *p, *tok;
	size_t cap = 1;

	*out = NULL;
	*n = 0;
	*store = NULL;
	if (csv == NULL)
		return true;
	for (const char *q = csv; *q; q++)
		cap += *q == ',';
	s = strdup(csv);
	*out = calloc(cap, sizeof(char *));
	if (s == NULL || *out == NULL) {
		free(s);
		free(*out);
		*out = NULL;
		fail(r, 500, "UNKNOWN_EXCEPTION", "out of memory");
		return false;
	}
	for (p = s; (tok = strsep(&p, ",")) != NULL;) {
		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			continue;
		if (emu_field(o, tok) == NULL) {
			char msg[512];
			snprintf(msg, sizeof(msg), "No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", tok, o->name);
			fail(r, 400, "INVALID_FIELD", msg);
			free(s);
			free(*out);
			*out = NULL;
			return false;
		}
		(*out)[(*n)++] = tok;
	}
	*store = s;
	return true;
}

static struct emu_txn *
txn_for(struct call *c, bool *own)
{
	*own = c->txn == NULL;
	return c->txn ? c->txn : emu_txn_begin(c->emu, &c->who);
}

static void
txn_end(struct emu_txn *t, bool own, bool ok)
{
	if (!own)
		return;
	if (ok)
		emu_txn_commit(t);
	else
		emu_txn_rollback(t);
}

static void
write_error(struct result *r, json_t *err)
{
	int status = 400;
	const char *code = cs_json_get_str(json_array_get(err, 0), "errorCode");

	if (code && strcmp(code, "NOT_FOUND") == 0)
		status = 404;
	else if (code && strcmp(code, "ENTITY_IS_DELETED") == 0)
		status = 404;
	set(r, status, err);
}

static void
sobject_create(struct call *c, struct sobject *o, json_t *body, struct result *r)
{
	char id[SFID_LEN + 1];
	json_t *err = NULL;
	bool own, ok;
	struct emu_txn *t = txn_for(c, &own);

	if (t == NULL) {
		fail(r, 500, "UNKNOWN_EXCEPTION", "out of memory");
		return;
	}
	ok = emu_create(t, o, body, id, &err);
	txn_end(t, own, ok);
	if (!ok) {
		write_error(r, err);
		return;
	}
	set(r, 201, json_pack("{s:s,s:b,s:[]}", "id", id, "success", 1, "errors"));
	snprintf(r->location, sizeof(r->location), "/services/data/v%d.0/sobjects/%s/%s", c->version, o->name, id);
}

static void
sobject_retrieve(struct call *c, struct sobject *o, const char *id, json_t *qs, struct result *r)
{
	char id18[SFID_LEN + 1], *store;
	const char **fields;
	size_t n;
	json_t *rec;

	if (!sfid_to18(id, strlen(id), id18) || memcmp(id18, o->prefix, 3) != 0 ||
	    (rec = json_object_get(o->records, id18)) == NULL) {
		fail(r, 404, "NOT_FOUND", "The requested resource does not exist");
		return;
	}
	if (!field_list(o, cs_json_get_str(qs, "fields"), &fields, &n, &store, r))
		return;
	set(r, 200, emu_render(c->emu, o, rec, fields, n, c->version));
	free(fields);
	free(store);
}

static void
sobject_update(struct call *c, struct sobject *o, const char *id, json_t *body, struct result *r)
{
	json_t *err = NULL;
	bool own, ok;
	struct emu_txn *t;

	if (!json_is_object(body)) {
		fail(r, 400, "JSON_PARSER_ERROR", "Unexpected parameter encountered during deserialization: expected a JSON object");
		return;
	}
	if ((t = txn_for(c, &own)) == NULL) {
		fail(r, 500, "UNKNOWN_EXCEPTION", "out of memory");
		return;
	}
	ok = emu_update(t, o, id, body, &err);
	txn_end(t, own, ok);
	if (!ok) {
		write_error(r, err);
		return;
	}
	set(r, 204, NULL);
}

static void
sobject_delete(struct call *c, struct sobject *o, const char *id, struct result *r)
{
	char id18[SFID_LEN + 1];
	json_t *err = NULL;
	bool own, ok;
	struct emu_txn *t;

	if (!sfid_to18(id, strlen(id), id18) || memcmp(id18, o->prefix, 3) != 0) {
		fail(r, 404, "NOT_FOUND", "The requested resource does not exist");
		return;
	}
	if ((t = txn_for(c, &own)) == NULL) {
		fail(r, 500, "UNKNOWN_EXCEPTION", "out of memory");
		return;
	}
	ok = emu_delete(t, id18, &err);
	txn_end(t, own, ok);
	if (!ok) {
		write_error(r, err);
		return;
	}
	set(r, 204, NULL);
}

static void
sobject_upsert(struct call *c, struct sobject *o, const char *field, const char *value, json_t *body,
    json_t *qs, struct result *r)
{
	char id[SFID_LEN + 1];
	json_t *err = NULL;
	bool own, ok, created = false;
	struct emu_txn *t;
	struct sfield *f = emu_field(o, field);

	if (!json_is_object(body)) {
		fail(r, 400, "JSON_PARSER_ERROR", "Unexpected parameter encountered during deserialization: expected a JSON object");
		return;
	}
	if (f != NULL && f->type != FT_ID && json_object_get(body, f->name) != NULL) {
		/* the external id travels in the URL, not the body */
		json_t *bv = json_object_get(body, f->name);
		if (!json_is_string(bv) || strcasecmp(json_string_value(bv), value ? value : "") != 0) {
			char msg[300];
			snprintf(msg, sizeof(msg), "The value of %s in the URL does not match the value in the request body", f->name);
			fail(r, 400, "INVALID_FIELD", msg);
			return;
		}
	}
	if (json_is_true(json_object_get(qs, "updateOnly")) || (cs_json_get_str(qs, "updateOnly") &&
	    strcmp(cs_json_get_str(qs, "updateOnly"), "true") == 0)) {
		/* probe for a match first so that nothing is created */
		char key[1024];
		size_t i = 0;
		for (; value && value[i] && i + 1 < sizeof(key); i++)
			key[i] = (char)tolower((unsigned char)value[i]);
		key[i] = '\0';
		if (f && f->unique && json_object_get(json_object_get(o->uindex, f->name), key) == NULL) {
			fail(r, 404, "NOT_FOUND", "The requested resource does not exist");
			return;
		}
	}
	if ((t = txn_for(c, &own)) == NULL) {
		fail(r, 500, "UNKNOWN_EXCEPTION", "out of memory");
		return;
	}
	ok = emu_upsert(t, o, field, value, body, id, &created, &err);
	txn_end(t, own, ok);
	if (!ok) {
		if (json_is_object(err) && json_object_get(err, "multiple")) {
			set(r, 300, json_incref(json_object_get(err, "multiple")));
			json_decref(err);
			return;
		}
		write_error(r, err);
		return;
	}
	if (!created && c->version < 46) {
		set(r, 204, NULL);
		return;
	}
	set(r, created ? 201 : 200, json_pack("{s:s,s:b,s:[],s:b}", "id", id, "success", 1, "errors", "created", created));
	if (c->version < 46)
		json_object_del(r->body, "created");
	snprintf(r->location, sizeof(r->location), "/services/data/v%d.0/sobjects/%s/%s", c->version, o->name, id);
}

static void
get_by_ext(struct call *c, struct sobject *o, const char *field, const char *value, json_t *qs, struct result *r)
{
	struct sfield *f = emu_field(o, field);
	const char *k;
	json_t *rec, *hit = NULL;
	int n = 0;
	char *store;
	const char **fields;
	size_t nf;

	if (f == NULL || (!f->external_id && !f->unique)) {
		char msg[300];
		snprintf(msg, sizeof(msg), "Provided external ID field does not exist or is not accessible: %s", field);
		fail(r, 404, "NOT_FOUND", msg);
		return;
	}
	json_object_foreach(o->records, k, rec) {
		const char *v = json_string_value(json_object_get(rec, f->name));
		if (v && strcasecmp(v, value) == 0) {
			hit = rec;
			n++;
		}
	}
	if (n == 0) {
		fail(r, 404, "NOT_FOUND", "The requested resource does not exist");
		return;
	}
	if (!field_list(o, cs_json_get_str(qs, "fields"), &fields, &nf, &store, r))
		return;
	set(r, 200, emu_render(c->emu, o, hit, fields, nf, c->version));
	free(fields);
	free(store);
}

static void
updated_deleted(struct call *c, struct sobject *o, bool deleted, json_t *qs, struct result *r)
{
	const char *s = cs_json_get_str(qs, "start"), *e = cs_json_get_str(qs, "end");
	int64_t start, end, now = cs_time_now_ms();
	char buf[40];
	json_t *ids = json_array(), *v;
	const char *k;
	size_t i;

	if (s == NULL || e == NULL || !cs_datetime_parse(s, strlen(s), &start) || !cs_datetime_parse(e, strlen(e), &end)) {
		json_decref(ids);
		fail(r, 400, "MALFORMED_QUERY", "start and end must be valid dateTime values");
		return;
	}
	if (end > now)
		end = now;
	end -= end % 60000;   /* seconds are truncated */
	if (start < now - 30LL * 86400000) {
		json_decref(ids);
		fail(r, 400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago");
		return;
	}
	if (!deleted) {
		json_object_foreach(o->records, k, v) {
			const char *ts = json_string_value(json_object_get(v, "SystemModstamp"));
			int64_t t;
			if (ts && cs_datetime_parse(ts, strlen(ts), &t) && t >= start && t < end)
				json_array_append_new(ids, json_string(k));
		}
		cs_time_format_sf(end, buf, sizeof(buf));
		set(r, 200, json_pack("{s:o,s:s}", "ids", ids, "latestDateCovered", buf));
		return;
	}
	json_array_foreach(o->deleted_log, i, v) {
		const char *ts = cs_json_get_str(v, "deletedDate");
		int64_t t;
		if (ts && cs_datetime_parse(ts, strlen(ts), &t) && t >= start && t < end)
			json_array_append(ids, v);
	}
	cs_time_format_sf(end, buf, sizeof(buf));
	set(r, 200, json_pack("{s:o,s:s,s:s}", "deletedRecords", ids, "earliestDateAvailable", buf, "latestDateCovered", buf));
	cs_time_format_sf(now - 30LL * 86400000, buf, sizeof(buf));
	json_object_set_new(r->body, "earliestDateAvailable", json_string(buf));
}

/* ---- query and cursors ---- */

static void
page(struct call *c, const char *loc, json_t *cur, size_t pos, struct result *r)
{
	json_t *rows = json_object_get(cur, "rows"), *out = json_array();
	size_t n = json_array_size(rows), end = pos + (size_t)c->batch_size;
	long total = (long)cs_json_get_int(cur, "total", (long long)n);

	if (end > n)
		end = n;
	for (size_t i = pos; i < end; i++)
		json_array_append(out, json_array_get(rows, i));
	set(r, 200, json_pack("{s:I,s:b,s:o}", "totalSize", (json_int_t)total, "done", end >= n, "records", out));
	if (end < n) {
		json_object_set_new(r->body, "nextRecordsUrl",
		    json_sprintf("/services/data/v%d.0/query/%s-%zu", c->version, loc, end));
	} else
		json_object_del(c->emu->cursors, loc);
}

static void
query(struct call *c, bool all, json_t *qs, struct result *r)
{
	const char *q = cs_json_get_str(qs, "q");
	json_t *rows = NULL, *err = NULL, *cur;
	long total = 0;
	char loc[32];
	char id[SFID_LEN + 1];

	if (q == NULL) {
		fail(r, 400, "MALFORMED_QUERY", "A query string has to be specified");
		return;
	}
	if (!soql_run(c->emu, q, strlen(q), all, c->version, &rows, &total, &err)) {
		if (err == NULL)
			fail(r, 500, "UNKNOWN_EXCEPTION", "out of memory");
		else
			set(r, 400, err);
		return;
	}
	if (json_array_size(rows) <= (size_t)c->batch_size) {
		set(r, 200, json_pack("{s:I,s:b,s:o}", "totalSize", (json_int_t)total, "done", 1, "records", rows));
		return;
	}
	if (json_object_size(c->emu->cursors) >= MAX_CURSORS)
		json_object_clear(c->emu->cursors);
	sfid_make("01g", "0A", ++c->emu->cursor_seq, id);
	snprintf(loc, sizeof(loc), "%s", id);
	cur = json_pack("{s:o,s:I}", "rows", rows, "total", (json_int_t)total);
	json_object_set_new(c->emu->cursors, loc, cur);
	page(c, loc, cur, 0, r);
}

static void
query_more(struct call *c, const char *locator, struct result *r)
{
	char loc[64];
	const char *dash = strrchr(locator, '-');
	char *end;
	unsigned long pos;
	json_t *cur;

	if (dash == NULL || (size_t)(dash - locator) >= sizeof(loc)) {
		fail(r, 400, "INVALID_QUERY_LOCATOR", "invalid query locator");
		return;
	}
	memcpy(loc, locator, (size_t)(dash - locator));
	loc[dash - locator] = '\0';
	pos = strtoul(dash + 1, &end, 10);
	cur = json_object_get(c->emu->cursors, loc);
	if (*end != '\0' || cur == NULL || pos > json_array_size(json_object_get(cur, "rows"))) {
		fail(r, 400, "INVALID_QUERY_LOCATOR", "invalid query locator");
		return;
	}
	page(c, loc, cur, pos, r);
}

/* ---- sObject Collections ---- */

static json_t *
coll_err(json_t *err)
{
	/* collections report errors with "statusCode" instead of "errorCode" */
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(err, i, e) {
		json_t *fields = json_object_get(e, "fields");
		json_array_append_new(out, json_pack("{s:s,s:s,s:O}", "statusCode", cs_json_get_str(e, "errorCode") ?
		    cs_json_get_str(e, "errorCode") : "UNKNOWN_EXCEPTION", "message",
		    cs_json_get_str(e, "message") ? cs_json_get_str(e, "message") : "", "fields",
		    fields ? fields : json_array()));
		if (!fields)
			json_decref(json_object_get(json_array_get(out, i), "fields"));
	}
	return out;
}

static void
rolled_back(json_t *results)
{
	size_t i;
	json_t *e;

	json_array_foreach(results, i, e) {
		if (!json_is_true(json_object_get(e, "success")))
			continue;
		json_object_set_new(e, "success", json_false());
		json_object_set_new(e, "errors", json_pack("[{s:s,s:s,s:[]}]", "statusCode", "ALL_OR_NONE_OPERATION_ROLLED_BACK",
		    "message", "Record rolled back because not all records were valid and the request was using AllOrNone header", "fields"));
	}
}

/* op: 'C' create, 'U' update, 'X' upsert, 'D' delete. */
static void
collection_write(struct call *c, char op, json_t *body, json_t *qs, const char *upsert_obj, const char *ext_field, struct result *r)
{
	json_t *records = NULL, *results = json_array(), *rec;
	bool all_or_none;
	size_t i, n;
	struct emu_txn *t;
	bool any_fail = false, own;
	json_t *ids_arr = NULL;
	json_t *no_errors;

	if (op == 'D') {
		const char *ids = cs_json_get_str(qs, "ids");
		const char *aon = cs_json_get_str(qs, "allOrNone");
		char *s, *p, *tok;
		all_or_none = aon && strcasecmp(aon, "true") == 0;
		if (ids == NULL) {
			json_decref(results);
			fail(r, 400, "MISSING_ARGUMENT", "ids parameter is required");
			return;
		}
		ids_arr = json_array();
		s = strdup(ids);
		for (p = s; s && (tok = strsep(&p, ",")) != NULL;)
			if (*tok)
				json_array_append_new(ids_arr, json_string(tok));
		free(s);
		records = ids_arr;
	} else {
		if (!json_is_object(body) || !json_is_array(records = json_object_get(body, "records"))) {
			json_decref(results);
			fail(r, 400, "JSON_PARSER_ERROR", "The request body must be an object with a records array");
			return;
		}
		all_or_none = json_is_true(json_object_get(body, "allOrNone"));
	}
	n = json_array_size(records);
	if (n > EMU_COLLECTION_MAX) {
		json_decref(results);
		json_decref(ids_arr);
		fail(r, 400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call");
		return;
	}
	if ((t = txn_for(c, &own)) == NULL) {
		json_decref(results);
		json_decref(ids_arr);
		fail(r, 500, "UNKNOWN_EXCEPTION", "out of memory");
		return;
	}
	/* one empty "errors" array for every successful result: nothing edits it in place
	 * (rolled_back() replaces the member), and the results are only dumped */
	no_errors = json_array();
	json_array_foreach(records, i, rec) {
		char id[SFID_LEN + 1] = "";
		json_t *err = NULL, *res;
		bool ok = false, created = false;
		struct sobject *o = NULL;
		const char *type = json_is_object(rec) ? cs_json_get_str(json_object_get(rec, "attributes"), "type") : NULL;

		if (op == 'D') {
			ok = emu_delete(t, json_string_value(rec), &err);
			snprintf(id, sizeof(id), "%s", json_string_value(rec));
		} else if (!json_is_object(rec)) {
			err = emu_error("JSON_PARSER_ERROR", "each record must be a JSON object", NULL);
		} else if (op == 'X') {
			const char *ev = NULL;
			json_t *evv;
			o = emu_object(c->emu, upsert_obj);
			struct sfield *f = o ? emu_field(o, ext_field) : NULL;
			evv = f ? json_object_get(rec, f->name) : NULL;
			if (json_is_string(evv))
				ev = json_string_value(evv);
			if (o == NULL)
				err = emu_error("INVALID_TYPE", "sObject type is not supported", NULL);
			else if (f == NULL)
				err = emu_error("INVALID_FIELD", "Provided external ID field does not exist or is not accessible", NULL);
			else if (f->type == FT_ID) {
				json_t *b = json_copy(rec);
				json_object_del(b, f->name);
				json_object_del(b, "attributes");
				ok = emu_upsert(t, o, f->name, ev ? ev : "", b, id, &created, &err);
				json_decref(b);
			} else
				ok = emu_upsert(t, o, f->name, ev, rec, id, &created, &err);
			if (!ok && json_is_object(err)) {
				json_decref(err);
				err = emu_error("DUPLICATE_EXTERNAL_ID", "The external ID value matches more than one record", f ? f->name : NULL);
			}
		} else if (type == NULL && op == 'C') {
			err = emu_error("INVALID_TYPE", "Must send a concrete entity type.", NULL);
		} else if (op == 'C') {
			if ((o = emu_object(c->emu, type)) == NULL)
				err = emu_error("INVALID_TYPE", "sObject type is not supported", NULL);
			else
				ok = emu_create(t, o, rec, id, &err);
		} else {
			const char *rid = cs_json_get_str(rec, "id") ? cs_json_get_str(rec, "id") : cs_json_get_str(rec, "Id");
			if (rid == NULL)
				err = emu_error("MISSING_ARGUMENT", "Id not specified in an update call", "Id");
			else {
				/* no copy without the id: an update's validation skips the record's own
				 * Id, whichever case it is spelled in */
				o = type ? emu_object(c->emu, type) : NULL;
				ok = emu_update(t, o, rid, rec, &err);
				snprintf(id, sizeof(id), "%s", rid);
			}
		}
		if (ok) {
			res = json_object();
			json_object_set_new_nocheck(res, "id", json_string(id));
			json_object_set_nocheck(res, "success", json_true());
			json_object_set_nocheck(res, "errors", no_errors);
			if (op == 'X')
				json_object_set_new(res, "created", json_boolean(created));
		} else {
			any_fail = true;
			res = json_pack("{s:b,s:o}", "success", 0, "errors", coll_err(err));
			if (op == 'D' || op == 'U')
				json_object_set_new(res, "id", json_string(id));
			json_decref(err);
		}
		json_array_append_new(results, res);
		if (!ok && all_or_none)
			break;
	}
	if (all_or_none && any_fail) {
		/* every record, processed or not, reports the roll-back */
		while (json_array_size(results) < n)
			json_array_append_new(results, json_pack("{s:b}", "success", 1));
		rolled_back(results);
		if (own)
			emu_txn_rollback(t);
	} else if (own)
		emu_txn_commit(t);
	json_decref(ids_arr);
	json_decref(no_errors);
	set(r, 200, results);
}

static void
collection_retrieve(struct call *c, const char *obj, json_t *ids, json_t *fields, struct result *r)
{
	struct sobject *o = need_object(c, obj, r);
	json_t *out, *idv;
	const char **fl;
	size_t i, nf = 0;

	if (o == NULL)
		return;
	if (!json_is_array(ids) || !json_is_array(fields) || json_array_size(ids) > 2000) {
		fail(r, 400, "MALFORMED_QUERY", "ids and fields are required");
		return;
	}
	fl = calloc(json_array_size(fields) + 1, sizeof(char *));
	json_array_foreach(fields, i, idv) {
		if (!json_is_string(idv) || emu_field(o, json_string_value(idv)) == NULL) {
			char msg[300];
			snprintf(msg, sizeof(msg), "No such column '%s' on entity '%s'", json_is_string(idv) ? json_string_value(idv) : "?", o->name);
			free(fl);
			fail(r, 400, "INVALID_FIELD", msg);
			return;
		}
		fl[nf++] = json_string_value(idv);
	}
	out = json_array();
	json_array_foreach(ids, i, idv) {
		char id18[SFID_LEN + 1];
		const char *s = json_string_value(idv);
		json_t *rec = NULL;
		if (s && sfid_to18(s, strlen(s), id18))
			rec = json_object_get(o->records, id18);
		json_array_append_new(out, rec ? emu_render(c->emu, o, rec, fl, nf, c->version) : json_null());
	}
	free(fl);
	set(r, 200, out);
}

static json_t *
csv_array(const char *s)
{
	json_t *a = json_array();
	char *d = s ? strdup(s) : NULL, *p = d, *tok;

	while (p && (tok = strsep(&p, ",")) != NULL)
		if (*tok)
			json_array_append_new(a, json_string(tok));
	free(d);
	return a;
}

/* ---- dispatch of one REST call (also used by composite) ---- */

static void exec_composite(struct call *c, json_t *body, struct result *r);
static void exec_batch(struct call *c, json_t *body, struct result *r);

/* path: after "/services/data/vXX.X/" (no leading slash), decoded; qs: parsed query. */
static void
rest_exec(struct call *c, const char *method, const char *path, json_t *qs, json_t *body, struct result *r)
{
	char buf[2048], *seg[8];
	size_t n = 0;
	char *p, *tok;
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf; n < 8 && (tok = strsep(&p, "/")) != NULL;)
		if (*tok)
			seg[n++] = tok;
	if (p != NULL) {
		fail(r, 404, "NOT_FOUND", "The requested resource does not exist");
		return;
	}
	if (n == 0) {
		if (get)
			resources(c, r);
		else
			fail(r, 405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed for this resource");
		return;
	}
	if (strcmp(seg[0], "limits") == 0 && n == 1 && get) {
		limits(c, r);
		return;
	}
	if ((strcmp(seg[0], "query") == 0 || strcmp(seg[0], "queryAll") == 0) && get) {
		if (n == 1)
			query(c, strcmp(seg[0], "queryAll") == 0, qs, r);
		else if (n == 2)
			query_more(c, seg[1], r);
		else
			fail(r, 404, "NOT_FOUND", "The requested resource does not exist");
		return;
	}
	if (strcmp(seg[0], "composite") == 0) {
		if (n == 1 && strcmp(method, "POST") == 0) {
			exec_composite(c, body, r);
			return;
		}
		if (n == 2 && strcmp(seg[1], "batch") == 0 && strcmp(method, "POST") == 0) {
			exec_batch(c, body, r);
			return;
		}
		if (n >= 2 && strcmp(seg[1], "sobjects") == 0) {
			if (n == 2 && strcmp(method, "POST") == 0)
				collection_write(c, 'C', body, qs, NULL, NULL, r);
			else if (n == 2 && strcmp(method, "PATCH") == 0)
				collection_write(c, 'U', body, qs, NULL, NULL, r);
			else if (n == 2 && strcmp(method, "DELETE") == 0)
				collection_write(c, 'D', body, qs, NULL, NULL, r);
			else if (n == 3 && get) {
				json_t *ids = csv_array(cs_json_get_str(qs, "ids")), *fl = csv_array(cs_json_get_str(qs, "fields"));
				collection_retrieve(c, seg[2], ids, fl, r);
				json_decref(ids);
				json_decref(fl);
			} else if (n == 3 && strcmp(method, "POST") == 0)
				collection_retrieve(c, seg[2], json_object_get(body, "ids"), json_object_get(body, "fields"), r);
			else if (n == 4 && strcmp(method, "PATCH") == 0) {
				if (need_object(c, seg[2], r))
					collection_write(c, 'X', body, qs, seg[2], seg[3], r);
			} else
				fail(r, 405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed for this resource");
			return;
		}
		fail(r, 404, "NOT_FOUND", "The requested resource does not exist");
		return;
	}
	if (strcmp(seg[0], "sobjects") == 0) {
		struct sobject *o;
		if (n == 1) {
			if (!get) {
				fail(r, 405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed for this resource");
				return;
			}
			json_t *list = json_array();
			for (size_t i = 0; i < c->emu->nobjects; i++)
				json_array_append_new(list, schema_describe(c->emu, c->emu->objects[i], c->version, false));
			set(r, 200, json_pack("{s:s,s:i,s:o}", "encoding", "UTF-8", "maxBatchSize", 200, "sobjects", list));
			return;
		}
		if ((o = emu_object(c->emu, seg[1])) == NULL) {
			char msg[300];
			snprintf(msg, sizeof(msg), "The requested resource does not exist");
			fail(r, 404, "NOT_FOUND", msg);
			return;
		}
		if (n == 2) {
			if (get)
				set(r, 200, json_pack("{s:o,s:[]}", "objectDescribe", schema_describe(c->emu, o, c->version, false), "recentItems"));
			else if (strcmp(method, "POST") == 0)
				sobject_create(c, o, body, r);
			else
				fail(r, 405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed for this resource");
			return;
		}
		if (n == 3 && strcmp(seg[2], "describe") == 0 && get) {
			set(r, 200, schema_describe(c->emu, o, c->version, true));
			return;
		}
		if (n == 3 && (strcmp(seg[2], "updated") == 0 || strcmp(seg[2], "deleted") == 0) && get) {
			updated_deleted(c, o, strcmp(seg[2], "deleted") == 0, qs, r);
			return;
		}
		if (n == 3 && strcasecmp(seg[2], "Id") == 0 && strcmp(method, "POST") == 0) {
			sobject_upsert(c, o, "Id", "", body, qs, r);
			return;
		}
		if (n == 3) {
			if (get)
				sobject_retrieve(c, o, seg[2], qs, r);
			else if (strcmp(method, "PATCH") == 0)
				sobject_update(c, o, seg[2], body, r);
			else if (strcmp(method, "DELETE") == 0)
				sobject_delete(c, o, seg[2], r);
			else
				fail(r, 405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed for this resource");
			return;
		}
		if (n == 4) {
			if (strcmp(method, "PATCH") == 0 || strcmp(method, "POST") == 0)
				sobject_upsert(c, o, seg[2], seg[3], body, qs, r);
			else if (get)
				get_by_ext(c, o, seg[2], seg[3], qs, r);
			else if (strcmp(method, "DELETE") == 0) {
				struct sfield *f = emu_field(o, seg[2]);
				const char *k;
				json_t *rec;
				const char *hit = NULL;
				if (f && f->external_id)
					json_object_foreach(o->records, k, rec) {
						const char *v = json_string_value(json_object_get(rec, f->name));
						if (v && strcasecmp(v, seg[3]) == 0)
							hit = k;
					}
				if (hit == NULL)
					fail(r, 404, "NOT_FOUND", "The requested resource does not exist");
				else {
					char id[SFID_LEN + 1];
					snprintf(id, sizeof(id), "%s", hit);
					sobject_delete(c, o, id, r);
				}
			} else
				fail(r, 405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed for this resource");
			return;
		}
	}
	fail(r, 404, "NOT_FOUND", "The requested resource does not exist");
}

/* Splits a subrequest URL "/services/data/v62.0/sobjects/Account?x=y" into the path after the
 * version and its query; returns false when it is not a data URL of a served version. */
static bool
split_url(const char *url, bool batch, char *path, size_t cap, json_t **qs, int *version)
{
	const char *p = url, *q;
	char vseg[16];
	size_t n;

	if (!batch || strncmp(p, "/services/data/", 15) == 0) {
		if (strncmp(p, "/services/data/", 15) != 0)
			return false;
		p += 15;
	}
	n = strcspn(p, "/?");
	if (n >= sizeof(vseg))
		return false;
	memcpy(vseg, p, n);
	vseg[n] = '\0';
	if ((*version = emu_version(vseg)) == 0)
		return false;
	p += n;
	if (*p == '/')
		p++;
	q = strchr(p, '?');
	n = q ? (size_t)(q - p) : strlen(p);
	if (n >= cap)
		return false;
	if (http_url_decode(p, n, path, cap, false) < 0)
		return false;
	*qs = parse_qs(q ? q + 1 : NULL);
	return true;
}

/* Replaces every @{ref.path} in s with the value from earlier results. New string or NULL when
 * a reference cannot be resolved (why says which). */
static char *
resolve_refs(const char *s, json_t *refs, char *why, size_t whycap)
{
	struct cs_buf b;
	const char *p = s;

	cs_buf_init(&b, 1u << 24);
	while (*p) {
		const char *st = strstr(p, "@{"), *en;
		char expr[256], *dot;
		json_t *v;
		if (st == NULL) {
			cs_buf_puts(&b, p);
			break;
		}
		cs_buf_append(&b, p, (size_t)(st - p));
		en = strchr(st, '}');
		if (en == NULL || (size_t)(en - st - 2) >= sizeof(expr)) {
			cs_buf_cleanup(&b);
			snprintf(why, whycap, "Invalid reference specified");
			return NULL;
		}
		memcpy(expr, st + 2, (size_t)(en - st - 2));
		expr[en - st - 2] = '\0';
		dot = strchr(expr, '.');
		if (dot)
			*dot++ = '\0';
		v = json_object_get(refs, expr);
		/* walk a path like id, records[0].Id */
		while (v && dot && *dot) {
			char *next = strchr(dot, '.');
			char *br;
			if (next)
				*next++ = '\0';
			br = strchr(dot, '[');
			if (br) {
				*br = '\0';
				v = json_object_get(v, dot);
				v = json_array_get(v, strtoul(br + 1, NULL, 10));
			} else
				v = json_object_get(v, dot);
			dot = next;
		}
		if (v == NULL || json_is_null(v)) {
			cs_buf_cleanup(&b);
			snprintf(why, whycap, "Invalid reference specified. No value for %.200s found in %.40s", dot ? dot : "id", expr);
			return NULL;
		}
		if (json_is_string(v))
			cs_buf_puts(&b, json_string_value(v));
		else {
			char *t = cs_json_str(v);
			cs_buf_puts(&b, t ? t : "");
			free(t);
		}
		p = en + 1;
	}
	return cs_buf_take(&b);
}

static void
exec_composite(struct call *c, json_t *body, struct result *r)
{
	json_t *reqs = json_object_get(body, "compositeRequest"), *sub, *out, *refs;
	bool aon = json_is_true(json_object_get(body, "allOrNone")), failed = false;
	size_t i;
	struct call sc = *c;

	if (!json_is_array(reqs) || json_array_size(reqs) == 0) {
		fail(r, 400, "JSON_PARSER_ERROR", "compositeRequest must be a non-empty array");
		return;
	}
	if (json_array_size(reqs) > COMPOSITE_MAX) {
		fail(r, 400, "LIMIT_EXCEEDED", "Composite request limit of 25 subrequests exceeded");
		return;
	}
	/* validate the shape before running anything */
	json_array_foreach(reqs, i, sub) {
		json_t *hh = json_object_get(sub, "httpHeaders");
		if (!cs_json_get_str(sub, "method") || !cs_json_get_str(sub, "url") || !cs_json_get_str(sub, "referenceId")) {
			fail(r, 400, "JSON_PARSER_ERROR", "Each subrequest needs method, url and referenceId");
			return;
		}
		if (json_object_get(hh, "Authorization") || json_object_get(hh, "Content-Type") || json_object_get(hh, "Accept")) {
			fail(r, 400, "INVALID_HEADER", "Subrequest headers may not contain Authorization, Content-Type or Accept");
			return;
		}
	}
	out = json_array();
	refs = json_object();
	if (aon)
		sc.txn = emu_txn_begin(c->emu, &c->who);
	json_array_foreach(reqs, i, sub) {
		struct result sr = { 0, NULL, "" };
		const char *ref = cs_json_get_str(sub, "referenceId");
		char *url = NULL, path[2048], why[300];
		json_t *qs = NULL, *sbody = NULL, *item;
		int ver;

		if (failed) {
			/* after a failure nothing else runs */
			set(&sr, 400, json_pack("[{s:s,s:s}]", "errorCode", "PROCESSING_HALTED", "message", aon ?
			    "The transaction was rolled back since another operation in the same transaction failed." :
			    "Invalid reference specified. No value for the referenced subrequest found"));
		} else if ((url = resolve_refs(cs_json_get_str(sub, "url"), refs, why, sizeof(why))) == NULL) {
			set(&sr, 400, json_pack("[{s:s,s:s}]", "errorCode", "PROCESSING_HALTED", "message", why));
		} else if (!split_url(url, false, path, sizeof(path), &qs, &ver)) {
			set(&sr, 400, json_pack("[{s:s,s:s}]", "errorCode", "NOT_FOUND", "message", "The requested resource does not exist"));
		} else {
			json_t *b = json_object_get(sub, "body");
			if (b) {
				char *txt = cs_json_str(b), *res = txt ? resolve_refs(txt, refs, why, sizeof(why)) : NULL;
				if (res)
					sbody = json_loads(res, JSON_DECODE_ANY, NULL);
				free(txt);
				free(res);
				if (sbody == NULL)
					set(&sr, 400, json_pack("[{s:s,s:s}]", "errorCode", "PROCESSING_HALTED", "message", why));
			}
			if (sr.body == NULL) {
				sc.version = ver;
				rest_exec(&sc, cs_json_get_str(sub, "method"), path, qs, sbody, &sr);
			}
		}
		if (sr.status >= 400 && !failed)
			failed = true;
		item = json_pack("{s:O?,s:{},s:i,s:s}", "body", sr.body, "httpHeaders", "httpStatusCode", sr.status, "referenceId", ref);
		if (sr.location[0])
			json_object_set_new(json_object_get(item, "httpHeaders"), "Location", json_string(sr.location));
		json_array_append_new(out, item);
		if (sr.status < 300 && sr.body)
			json_object_set(refs, ref, sr.body);
		json_decref(sr.body);
		json_decref(qs);
		json_decref(sbody);
		free(url);
	}
	if (aon && failed) {
		size_t j;
		emu_txn_rollback(sc.txn);
		json_array_foreach(out, j, sub) {
			if (json_integer_value(json_object_get(sub, "httpStatusCode")) < 400) {
				json_object_set_new(sub, "httpStatusCode", json_integer(400));
				json_object_set_new(sub, "body", json_pack("[{s:s,s:s}]", "errorCode", "PROCESSING_HALTED",
				    "message", "The transaction was rolled back since another operation in the same transaction failed."));
				json_object_set_new(sub, "httpHeaders", json_object());
			}
		}
	} else if (aon)
		emu_txn_commit(sc.txn);
	json_decref(refs);
	set(r, 200, json_pack("{s:o}", "compositeResponse", out));
}

static void
exec_batch(struct call *c, json_t *body, struct result *r)
{
	json_t *reqs = json_object_get(body, "batchRequests"), *sub, *out;
	bool halt = json_is_true(json_object_get(body, "haltOnError")), errors = false, halted = false;
	size_t i;

	if (!json_is_array(reqs) || json_array_size(reqs) == 0 || json_array_size(reqs) > COMPOSITE_MAX) {
		fail(r, 400, "JSON_PARSER_ERROR", "batchRequests must be an array of 1 to 25 subrequests");
		return;
	}
	out = json_array();
	json_array_foreach(reqs, i, sub) {
		struct result sr = { 0, NULL, "" };
		const char *url = cs_json_get_str(sub, "url"), *method = cs_json_get_str(sub, "method");
		char path[2048];
		json_t *qs = NULL;
		int ver;
		struct call sc = *c;

		if (halted)
			set(&sr, 412, json_pack("[{s:s,s:s}]", "errorCode", "BATCH_PROCESSING_HALTED", "message", "Batch processing halted per request"));
		else if (url == NULL || method == NULL || !split_url(url, true, path, sizeof(path), &qs, &ver))
			set(&sr, 404, json_pack("[{s:s,s:s}]", "errorCode", "NOT_FOUND", "message", "The requested resource does not exist"));
		else {
			sc.version = ver;
			sc.txn = NULL;
			rest_exec(&sc, method, path, qs, json_object_get(sub, "richInput"), &sr);
		}
		if (sr.status >= 400) {
			errors = true;
			if (halt)
				halted = true;
		}
		json_array_append_new(out, json_pack("{s:i,s:O?}", "statusCode", sr.status, "result", sr.body));
		json_decref(sr.body);
		json_decref(qs);
	}
	c->emu->api_used += (long)json_array_size(reqs) - 1;   /* each subrequest counts */
	set(r, 200, json_pack("{s:b,s:o}", "hasErrors", errors, "results", out));
}

/* ---- HTTP entry points ---- */

static void
respond(struct http_resp *rs, struct result *r)
{
	if (r->location[0])
		http_resp_header(rs, "Location", r->location);
	if (r->body)
		http_resp_json(rs, r->status, r->body);
	else
		rs->status = r->status;
	r->body = NULL;
}

static const char *
endpoint_name(const char *rest)
{
	if (strncmp(rest, "sobjects", 8) == 0)
		return "sobjects";
	if (strncmp(rest, "queryAll", 8) == 0)
		return "queryAll";
	if (strncmp(rest, "query", 5) == 0)
		return "query";
	if (strncmp(rest, "composite/sobjects", 18) == 0)
		return "composite/sobjects";
	if (strncmp(rest, "composite/batch", 15) == 0)
		return "composite/batch";
	if (strncmp(rest, "composite", 9) == 0)
		return "composite";
	if (strncmp(rest, "jobs", 4) == 0)
		return "jobs";
	if (strncmp(rest, "limits", 6) == 0)
		return "limits";
	return "other";
}

/* describeGlobal and describe honour If-Modified-Since: the schema changes only at start-up. */
static bool
not_modified(struct emu *emu, struct http_req *rq, const char *after)
{
	const char *h = http_req_header(rq, "If-Modified-Since");
	size_t n = strlen(after);
	struct tm tm;
	const char *end;

	if (h == NULL)
		return false;
	while (n > 0 && after[n - 1] == '/')
		n--;
	if (!((n == 8 && strncmp(after, "sobjects", 8) == 0) ||
	    (strncmp(after, "sobjects/", 9) == 0 && n > 18 && strncmp(after + n - 9, "/describe", 9) == 0)))
		return false;
	memset(&tm, 0, sizeof(tm));
	end = strptime(h, "%a, %d %b %Y %H:%M:%S", &tm);
	if (end == NULL)
		return false;
	return (int64_t)timegm(&tm) * 1000 >= emu->schema_loaded_ms - emu->schema_loaded_ms % 1000;
}

static void
data_handler(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct emu *emu = ud;
	const char *rest = rq->params[0];
	char vseg[16], buf[64];
	const char *after;
	size_t n = strcspn(rest, "/");
	struct call c;
	struct result r = { 0, NULL, "" };
	json_t *qs, *body = NULL;
	const char *opts;

	if (*rest == '\0') {
		versions(emu, &r);
		respond(rs, &r);
		return;
	}
	if (n >= sizeof(vseg) || emu_version((memcpy(vseg, rest, n), vseg[n] = '\0', vseg)) == 0) {
		emu_fail(rs, 404, "NOT_FOUND", "The requested resource does not exist");
		return;
	}
	after = rest + n;
	if (*after == '/')
		after++;
	memset(&c, 0, sizeof(c));
	c.emu = emu;
	c.version = emu_version(vseg);
	if (!emu_begin_call(emu, rq, rs, endpoint_name(after), 1))
		return;
	if (strncmp(after, "jobs/", 5) == 0 || strcmp(after, "jobs") == 0) {
		bulk_handle(emu, rq, rs, c.version, after[4] ? after + 5 : "");
		return;
	}
	emu_caller_from(rq, c.version, "rest", &c.who, buf, sizeof(buf));
	c.batch_size = QUERY_BATCH_DEFAULT;
	opts = http_req_header(rq, "Sforce-Query-Options");
	if (opts && strstr(opts, "batchSize=")) {
		long b = strtol(strstr(opts, "batchSize=") + 10, NULL, 10);
		c.batch_size = b < QUERY_BATCH_MIN ? QUERY_BATCH_MIN : b > QUERY_BATCH_MAX ? QUERY_BATCH_MAX : (int)b;
	}
	if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PATCH") == 0 || strcmp(rq->method, "PUT") == 0) {
		if ((body = emu_body_json(rq, rs)) == NULL)
			return;
	}
	if (strcmp(rq->method, "GET") == 0 && not_modified(emu, rq, after)) {
		json_decref(body);
		rs->status = 304;
		return;
	}
	qs = parse_qs(strchr(rq->raw_uri, '?') ? strchr(rq->raw_uri, '?') + 1 : NULL);
	emu_lock(emu);
	rest_exec(&c, rq->method, after, qs, body, &r);
	emu_unlock(emu);
	json_decref(qs);
	json_decref(body);
	respond(rs, &r);
}

static void
versions_handler(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct result r = { 0, NULL, "" };
	versions(ud, &r);
	respond(rs, &r);
}

static void
oauth_route(struct http_req *rq, struct http_resp *rs, void *ud)
{
	oauth_handle(ud, rq, rs, rq->params[0]);
}

static void
identity_route(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct emu *emu = ud;
	const char *h = http_req_header(rq, "Authorization");
	const char *t = h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : h && strncasecmp(h, "OAuth ", 6) == 0 ? h + 6 : NULL;
	bool ok;

	emu_lock(emu);
	ok = oauth_token_valid(emu, t);
	emu_unlock(emu);
	if (!ok) {
		http_resp_text(rs, 403, "text/plain", "Bad_OAuth_Token", 15);
		return;
	}
	oauth_identity(emu, rq, rs);
}

static void
cometd_route(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct emu *emu = ud;
	int v;
	char vseg[24];
	const char *p = rq->params[0];

	if (strncmp(p, "replay/", 7) == 0)
		p += 7;
	snprintf(vseg, sizeof(vseg), "v%s", p);
	v = emu_version(vseg);
	if (v == 0 && strtol(p, NULL, 10) >= 37 && strtol(p, NULL, 10) < EMU_MIN_VERSION)
		v = (int)strtol(p, NULL, 10);
	if (v == 0) {
		http_resp_json(rs, 404, json_pack("[{s:s,s:s}]", "errorCode", "NOT_FOUND", "message", "The requested resource does not exist"));
		return;
	}
	/* Salesforce answers a bad session inside Bayeux (403::Handshake denied, 401::Authentication
	 * invalid with reconnect "none"), which is what streaming clients react to */
	emu_lock(emu);
	bool authed = oauth_token_valid(emu, bearer(rq));
	emu_unlock(emu);
	if (!authed && strcmp(rq->method, "POST") == 0) {
		cometd_handle_unauthorized(emu, rq, rs);
		return;
	}
	if (!emu_begin_call(emu, rq, rs, "cometd", 0))
		return;
	cometd_handle(emu, rq, rs, v);
}

/* ---- /__emu/ control ---- */

#define GAP_APPLY_MAX 10000       /* records one lost transaction may write (GAP_OVERFLOW) */

enum { GAP_CREATE, GAP_UPDATE, GAP_DELETE, GAP_UNDELETE, GAP_OVERFLOW, GAP_NTYPES };
static const char *const gap_types[GAP_NTYPES] = {
	"GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"
};

static void
gap_refuse(struct http_resp *rs, const char *msg)
{
	http_resp_json(rs, 400, json_pack("{s:s}", "error", msg));
}

/* True when id is a well-formed id of an o record. */
static bool
id_of(const struct sobject *o, const char *id)
{
	char id18[SFID_LEN + 1];

	return id != NULL && sfid_to18(id, strlen(id), id18) && memcmp(o->prefix, id18, 3) == 0;
}

/* POST /__emu/gap: publishes a gap event; with "apply", first makes the change whose events
 * Salesforce lost: one transaction, committed, whose change events are replaced by the gap
 * event(s). Lock held. */
static void
gap_control(struct emu *emu, json_t *body, struct http_resp *rs)
{
	const char *ent = cs_json_get_str(body, "entity"), *type = cs_json_get_str(body, "changeType");
	const char *rid = cs_json_get_str(body, "recordId"), *k;
	json_t *apply = json_object_get(body, "apply"), *err = NULL, *v;
	struct sobject *o = ent ? emu_object(emu, ent) : NULL;
	char id[SFID_LEN + 1] = "", counter[32];
	struct emu_txn *t;
	bool ok = json_is_object(body);
	int ti = -1;

	for (int i = 0; type != NULL && i < GAP_NTYPES; i++)
		if (strcmp(type, gap_types[i]) == 0)
			ti = i;
	json_object_foreach(body, k, v) {
		if (strcmp(k, "entity") != 0 && strcmp(k, "changeType") != 0 && strcmp(k, "recordId") != 0 &&
		    strcmp(k, "apply") != 0)
			ok = false;
	}
	if (!ok || o == NULL || ti < 0 || (json_object_get(body, "recordId") != NULL && rid == NULL)) {
		gap_refuse(rs, "gap: needs entity (a known object), changeType GAP_CREATE|GAP_UPDATE|GAP_DELETE|"
		    "GAP_UNDELETE|GAP_OVERFLOW, optional recordId (a string) and apply; no other keys");
		return;
	}
	snprintf(counter, sizeof(counter), "inject.gap.%s", gap_types[ti]);
	if (apply == NULL) {
		emu_publish_gap(emu, o->name, gap_types[ti], ti == GAP_OVERFLOW ? NULL : rid);
		count(emu, counter, 1);
		http_resp_json(rs, 200, json_pack("{s:I}", "replayId", (json_int_t)(emu->next_replay - 1)));
		return;
	}
	switch (ti) {
	case GAP_CREATE:
		ok = json_is_object(apply) && rid == NULL;
		break;
	case GAP_UPDATE:
		ok = json_is_object(apply) && id_of(o, rid);
		break;
	case GAP_DELETE:
	case GAP_UNDELETE:
		ok = json_is_object(apply) && json_object_size(apply) == 0 && id_of(o, rid);
		break;
	default:
		ok = json_is_array(apply) && json_array_size(apply) > 0 && json_array_size(apply) <= GAP_APPLY_MAX &&
		    rid == NULL;
		for (size_t i = 0; ok && i < json_array_size(apply); i++)
			ok = json_is_object(json_array_get(apply, i));
		break;
	}
	if (!ok) {
		gap_refuse(rs, "gap: apply is the change whose events are lost: GAP_CREATE {fields} without recordId; "
		    "GAP_UPDATE {fields} with the recordId of an entity record; GAP_DELETE and GAP_UNDELETE {} with "
		    "recordId; GAP_OVERFLOW [records] (1 to 10000; with Id: an update, without: a create), no recordId");
		return;
	}
	if ((t = emu_txn_begin(emu, NULL)) == NULL) {
		emu_fail(rs, 500, "UNKNOWN_EXCEPTION", "out of memory");
		return;
	}
	switch (ti) {
	case GAP_CREATE:
		ok = emu_create(t, o, apply, id, &err);
		break;
	case GAP_UPDATE:
		ok = emu_update(t, o, rid, apply, &err);
		break;
	case GAP_DELETE:
		ok = emu_delete(t, rid, &err);
		break;
	case GAP_UNDELETE:
		ok = emu_undelete(t, rid, &err);
		break;
	default:
		for (size_t i = 0; ok && i < json_array_size(apply); i++) {
			json_t *f = json_copy(json_array_get(apply, i));
			const char *uid = cs_json_get_str(f, "Id");
			char nid[SFID_LEN + 1];
			if (f == NULL) {
				ok = false;
				err = emu_error("UNKNOWN_EXCEPTION", "out of memory", NULL);
			} else if (uid != NULL) {
				char idb[SFID_LEN + 1];
				snprintf(idb, sizeof(idb), "%s", uid);
				json_object_del(f, "Id");
				ok = emu_update(t, o, idb, f, &err);
			} else
				ok = emu_create(t, o, f, nid, &err);
			json_decref(f);
		}
		break;
	}
	if (!ok) {
		emu_txn_rollback(t);
		http_resp_json(rs, 400, err ? err : emu_error("INVALID_INPUT", "gap: the change was refused", NULL));
		return;
	}
	emu_txn_lose_events(t, ti == GAP_OVERFLOW ? EMU_LOST_OVERFLOW : EMU_LOST_RECORDS);
	emu_txn_commit(t);
	count(emu, counter, 1);
	http_resp_json(rs, 200, json_pack("{s:I,s:s?}", "replayId", (json_int_t)(emu->next_replay - 1),
	    "id", id[0] ? id : (ti == GAP_OVERFLOW ? NULL : rid)));
}

static void
control(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct emu *emu = ud;
	const char *what = rq->params[0];
	json_t *body = NULL;

	if (strcmp(rq->method, "POST") == 0 && rq->body_len > 0 && (body = emu_body_json(rq, rs)) == NULL)
		return;
	emu_lock(emu);
	if (strcmp(what, "reset") == 0 && strcmp(rq->method, "POST") == 0) {
		emu_reset(emu);
		http_resp_json(rs, 200, json_pack("{s:b}", "reset", 1));
	} else if (strcmp(what, "counters") == 0) {
		json_t *c = json_deep_copy(emu->counters);
		json_object_set_new(c, "api_used", json_integer(emu->api_used));
		http_resp_json(rs, 200, c);
		if (strcmp(rq->method, "DELETE") == 0)
			json_object_clear(emu->counters);
	} else if (strcmp(what, "faults") == 0 && strcmp(rq->method, "POST") == 0) {
		static const char *const keys[] = { "rate_503", "rate_lock", "rate_drop", "rate_lost", "latency_ms",
			"latency_rate", "bulk_chunk_ms" };
		int *dst[] = { &emu->faults.rate_503, &emu->faults.rate_lock, &emu->faults.rate_drop,
			&emu->faults.rate_lost, &emu->faults.latency_ms, &emu->faults.latency_rate,
			&emu->faults.bulk_chunk_ms };
		const size_t nkeys = sizeof(keys) / sizeof(keys[0]), latency = 4, bulk = 6;
		const char *k;
		json_t *v;
		bool ok = json_is_object(body);
		json_object_foreach(body, k, v) {
			bool known = false;
			for (size_t i = 0; i < nkeys; i++)
				if (strcmp(k, keys[i]) == 0)
					known = json_is_integer(v) && json_integer_value(v) >= 0 &&
					    json_integer_value(v) <= (i == latency ? 600000 : i == bulk ? 10000 : 1000);
			if (strcmp(k, "client") == 0)
				known = json_is_string(v) && json_string_length(v) < sizeof(emu->faults.client) &&
				    strpbrk(json_string_value(v), ";, ") == NULL;
			if (!known && strcmp(k, "seed") != 0)
				ok = false;
		}
		if (!ok)
			http_resp_json(rs, 400, json_pack("{s:s}", "error", "faults: integer keys rate_503, rate_lock, rate_drop, rate_lost, latency_rate (per mille, 0-1000), latency_ms (0-600000), bulk_chunk_ms (0-10000), seed; client (a client name, \"\" for every caller)"));
		else {
			for (size_t i = 0; i < nkeys; i++)
				if (json_object_get(body, keys[i]))
					*dst[i] = (int)json_integer_value(json_object_get(body, keys[i]));
			if (json_is_integer(json_object_get(body, "seed")))
				emu->faults.rng = (unsigned long long)json_integer_value(json_object_get(body, "seed")) | 1;
			if (json_is_string(json_object_get(body, "client")))
				snprintf(emu->faults.client, sizeof(emu->faults.client), "%s",
				         json_string_value(json_object_get(body, "client")));
			http_resp_json(rs, 200, json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s}", "rate_503", emu->faults.rate_503,
			    "rate_lock", emu->faults.rate_lock, "rate_drop", emu->faults.rate_drop,
			    "rate_lost", emu->faults.rate_lost, "latency_ms", emu->faults.latency_ms,
			    "latency_rate", emu->faults.latency_rate, "bulk_chunk_ms", emu->faults.bulk_chunk_ms,
			    "client", emu->faults.client));
		}
	} else if (strcmp(what, "validation") == 0 && strcmp(rq->method, "POST") == 0) {
		/* an admin deactivating (or activating) an object's validation rules */
		const char *name = cs_json_get_str(body, "object");
		json_t *active = json_object_get(body, "active");
		struct sobject *o = name != NULL ? emu_object(emu, name) : NULL;
		if (!json_is_object(body) || json_object_size(body) != 2 || o == NULL || !json_is_boolean(active) ||
		    o->nrules == 0)
			http_resp_json(rs, 400, json_pack("{s:s}", "error", "validation: {\"object\": a known object with validation rules, \"active\": true|false}"));
		else {
			for (size_t i = 0; i < o->nrules; i++)
				o->rules[i].inactive = !json_is_true(active);
			http_resp_json(rs, 200, json_pack("{s:s,s:b,s:I}", "object", o->name, "active", json_is_true(active),
			    "rules", (json_int_t)o->nrules));
		}
	} else if (strcmp(what, "expire-sessions") == 0 && strcmp(rq->method, "POST") == 0) {
		count(emu, "inject.expire-sessions", 1);
		oauth_expire_all(emu);
		http_resp_json(rs, 200, json_pack("{s:b}", "expired", 1));
	} else if (strcmp(what, "gap") == 0 && strcmp(rq->method, "POST") == 0) {
		gap_control(emu, body, rs);
	} else if (strcmp(what, "expire-events") == 0 && strcmp(rq->method, "POST") == 0) {
		/* the replay window passes: every retained event is gone */
		count(emu, "inject.expire-events", 1);
		emu_events_expire(emu, cs_time_now_ms() + emu->o.retention_ms + 1);
		http_resp_json(rs, 200, json_pack("{s:I}", "floor", (json_int_t)emu_events_floor(emu)));
	} else if (strcmp(what, "limits") == 0 && strcmp(rq->method, "POST") == 0) {
		json_t *dl = json_object_get(body, "daily_limit"), *used = json_object_get(body, "used");
		if ((dl && (!json_is_integer(dl) || json_integer_value(dl) < 1)) || (used && (!json_is_integer(used) || json_integer_value(used) < 0)))
			http_resp_json(rs, 400, json_pack("{s:s}", "error", "limits: daily_limit >= 1, used >= 0"));
		else {
			if (dl)
				emu->o.daily_limit = (long)json_integer_value(dl);
			if (used)
				emu->api_used = (long)json_integer_value(used);
			/* the allocation reached (used at or past it) or given back */
			count(emu, emu->api_used >= emu->o.daily_limit ? "inject.limit-reached" : "inject.limit-reset", 1);
			http_resp_json(rs, 200, json_pack("{s:I,s:I}", "daily_limit", (json_int_t)emu->o.daily_limit, "used", (json_int_t)emu->api_used));
		}
	} else if (strcmp(what, "events") == 0) {
		/* ?after=N: only the events past replay id N (a test collecting the log as it grows) */
		json_t *a = json_array(), *qs = parse_qs(strchr(rq->raw_uri, '?') ? strchr(rq->raw_uri, '?') + 1 : NULL);
		const char *after = json_string_value(json_object_get(qs, "after"));
		long long from = after ? strtoll(after, NULL, 10) : 0;
		json_decref(qs);
		for (size_t i = 0; i < emu->nevents; i++)
			if (emu->events[i].replay_id > from)
				json_array_append_new(a, json_pack("{s:I,s:s,s:O}", "replayId", (json_int_t)emu->events[i].replay_id,
				    "entity", emu->events[i].entity, "payload", emu->events[i].payload));
		http_resp_json(rs, 200, a);
	} else if (strcmp(what, "undelivered") == 0) {
		/* the change events no streaming client ever had: expired since, or still retained */
		json_t *a = json_copy(emu->undelivered);
		for (size_t i = 0; a != NULL && i < emu->nevents; i++)
			if (!emu->events[i].delivered)
				json_array_append_new(a, json_integer(emu->events[i].replay_id));
		http_resp_json(rs, 200, json_pack("{s:o?}", "replay_ids", a));
	} else if (strcmp(what, "streaming") == 0 && strcmp(rq->method, "POST") == 0) {
		struct cs_error e;
		if (cometd_configure(emu, body, &e) != CS_OK)
			http_resp_json(rs, 400, json_pack("{s:s}", "error", e.msg));
		else
			http_resp_json(rs, 200, json_pack("{s:b}", "ok", 1));
	} else if (strcmp(what, "undelete") == 0 && strcmp(rq->method, "POST") == 0) {
		/* a person restoring a record from the recycle bin */
		const char *id = cs_json_get_str(body, "id");
		json_t *err = NULL;
		struct emu_txn *t = emu_txn_begin(emu, NULL);
		if (t != NULL && id != NULL && emu_undelete(t, id, &err)) {
			emu_txn_commit(t);
			http_resp_json(rs, 200, json_pack("{s:s,s:b}", "id", id, "success", 1));
		} else {
			emu_txn_rollback(t);
			http_resp_json(rs, 400, err ? err : emu_error("MISSING_ARGUMENT", "undelete: needs {\"id\": <recycled record id>}", NULL));
		}
	} else if (strcmp(what, "expire-clients") == 0 && strcmp(rq->method, "POST") == 0) {
		count(emu, "inject.expire-clients", 1);
		cometd_expire_clients(emu);
		http_resp_json(rs, 200, json_pack("{s:b}", "expired", 1));
	} else {
		http_resp_json(rs, 404, json_pack("{s:s}", "error", "unknown control; see docs/sfemu.md"));
	}
	emu_unlock(emu);
	json_decref(body);
}

static void
not_found(struct http_req *rq, struct http_resp *rs, void *ud)
{
	emu_fail(rs, 404, "NOT_FOUND", "The requested resource does not exist");
}

static const struct http_route routes[] = {
	{ "GET", "/services/data", versions_handler },
	{ NULL, "/services/data/*", data_handler },
	{ NULL, "/services/oauth2/*", oauth_route },
	{ "GET", "/id/:org/:user", identity_route },
	{ NULL, "/cometd/*", cometd_route },
	{ NULL, "/__emu/*", control },
};

void
emu_server_opts(struct emu *emu, struct http_server_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_body = EMU_MAX_BODY;
	o->conn_timeout_s = 300;
	o->routes = routes;
	o->nroutes = sizeof(routes) / sizeof(routes[0]);
	o->not_found = not_found;
	o->ud = emu;
}

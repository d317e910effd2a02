/* admin.c - the admin listener's handlers: status, health, the operator's actions, lineage, audit. */
#include "admin/admin.h"
#include "admin/admin_int.h"
#include "http/server.h"
#include "http/throttle.h"
#include "store/store.h"
#include "sync/audit.h"
#include "sync/sent.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define V1 "/admin/v1"
#define POOL_WAIT_MS 5000
#define RETENTION_MS (72LL * 3600 * 1000)   /* how long Salesforce keeps change events */
#define AUDIT_PAGE 100                      /* audit rows one call returns by default */

struct admin {
	const struct cs_config *cfg;
	struct clm *clm;
	struct clm_auth *auth;
	struct http_throttle *throttle;
	struct sync_engine *eng;
	struct store_pool *pool;
	struct http_server *srv;
	struct admin_lag *lag;         /* the lag history, sampled by its own thread */
	int64_t started_ms;
};

/* --- small helpers ------------------------------------------------------------------------- */

static void
fail(struct http_resp *rs, int status, const char *code, const char *msg)
{
	http_resp_json(rs, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* A store failure as an answer: not found, busy, refused or broken. */
static void
fail_store(struct http_resp *rs, cs_err rc, const struct cs_error *e)
{
	switch (rc) {
	case CS_ENOTFOUND: fail(rs, 404, "not_found", e->msg); break;
	case CS_EINVAL: case CS_ETOOBIG: case CS_EUTF8: fail(rs, 400, "invalid", e->msg); break;
	case CS_ETIMEOUT: fail(rs, 503, "busy", e->msg); break;
	default: fail(rs, 500, "internal", e->msg); break;
	}
}

static struct store *
acquire(struct admin *a, struct http_resp *rs)
{
	struct store *s = NULL;
	struct cs_error e = { 0 };

	if (store_pool_acquire(a->pool, POOL_WAIT_MS, &s, &e) != CS_OK) {
		fail(rs, 503, "busy", e.msg);
		return NULL;
	}
	return s;
}

/* The request's JSON object body ({} when empty); NULL after answering 400. */
static json_t *
body_object(struct http_req *rq, struct http_resp *rs)
{
	json_error_t je;
	json_t *b;

	if (rq->body_too_big) {
		fail(rs, 413, "too_large", "the request body is larger than 64 KiB");
		return NULL;
	}
	if (rq->body_len == 0)
		return json_object();
	b = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(b)) {
		char msg[300];
		snprintf(msg, sizeof(msg), "the body must be a JSON object%s%s", b ? "" : ": ", b ? "" : je.text);
		json_decref(b);
		fail(rs, 400, "invalid_json", msg);
		return NULL;
	}
	return b;
}

static const struct cs_mapping *
mapping_named(struct admin *a, const char *name, struct http_resp *rs)
{
	const struct cs_mapping *m = name ? cs_config_mapping(a->cfg, name) : NULL;

	if (m == NULL) {
		char msg[200];
		snprintf(msg, sizeof(msg), "no mapping named '%.100s' in the configuration", name ? name : "");
		fail(rs, 404, "not_found", msg);
	}
	return m;
}

static long long
query_int(struct http_req *rq, const char *k, long long dflt, long long lo, long long hi, bool *ok)
{
	const char *v = http_req_query(rq, k);
	char *end;
	long long n;

	if (v == NULL || v[0] == '\0')
		return dflt;
	n = strtoll(v, &end, 10);
	if (*end != '\0' || n < lo || n > hi)
		*ok = false;
	return n;
}

static int64_t
iso_ms(const json_t *v)
{
	int64_t ms = 0;
	const char *s = json_string_value(v);

	if (s != NULL && !cs_datetime_parse(s, strlen(s), &ms))
		ms = 0;
	return ms;
}

/* --- status -------------------------------------------------------------------------------- */

/* The first entry of queue ns, or NULL. */
static json_t *
queue_head(struct store *s, const char *ns)
{
	struct cs_error e = { 0 };
	json_t *page = NULL, *d = NULL;

	if (store_kv_scan(s, ns, NULL, 1, &page, &e) == CS_OK && json_array_size(page) == 1)
		d = json_incref(json_object_get(json_array_get(page, 0), "doc"));
	json_decref(page);
	return d;
}

static void
set_int(json_t *o, const char *k, long long v)
{
	json_object_set_new(o, k, json_integer(v));
}

int64_t
admin_lag_of(int64_t a_ms, int64_t b_ms, int64_t now_ms)
{
	int64_t t = a_ms > 0 && (b_ms <= 0 || a_ms < b_ms) ? a_ms : b_ms;

	return t > 0 && now_ms > t ? now_ms - t : 0;
}

cs_err
admin_pending_read(struct store *s, const char *org, struct admin_pending *p, struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX], key[STORE_KV_KEY_MAX];
	long long head = 0, cur = 0;
	json_t *d, *rows = NULL;
	cs_err rc, first = CS_OK;

	p->inbox = p->outbox = p->feed_backlog = -1;
	p->oldest_to_clm_ms = p->oldest_to_sf_ms = 0;
	snprintf(ns, sizeof(ns), "inbox:%s", org);
	if ((rc = store_kv_count(s, ns, &p->inbox, e)) != CS_OK)
		first = rc;
	if ((d = queue_head(s, ns)) != NULL) {
		p->oldest_to_clm_ms = json_integer_value(json_object_get(d, "recv_ms"));
		json_decref(d);
	}
	snprintf(ns, sizeof(ns), "outbox:%s", org);
	if ((rc = store_kv_count(s, ns, &p->outbox, e)) != CS_OK && first == CS_OK)
		first = rc;
	if ((d = queue_head(s, ns)) != NULL) {
		p->oldest_to_sf_ms = json_integer_value(json_object_get(d, "born_ms"));
		json_decref(d);
	}
	/* the repository's changes not planned yet */
	snprintf(key, sizeof(key), "clm:%s", org);
	if (store_kv_get(s, "cursor", key, &d, e) == CS_OK) {
		cur = json_integer_value(json_object_get(d, "seq"));
		json_decref(d);
	}
	if ((rc = store_changes_head(s, &head, e)) != CS_OK) {
		if (first == CS_OK)
			first = rc;
		return first;
	}
	p->feed_backlog = cur > 0 && head > cur ? head - cur : 0;
	if (cur > 0 && head > cur && store_changes_after(s, cur, 1, &rows, e) == CS_OK) {
		int64_t t = iso_ms(json_object_get(json_array_get(rows, 0), "ts"));
		if (t > 0 && (p->oldest_to_sf_ms <= 0 || t < p->oldest_to_sf_ms))
			p->oldest_to_sf_ms = t;
		json_decref(rows);
	}
	return first;
}

/* Adds to org object o what the store knows of org: queues, the oldest pending change and the
 * lag each way, replay positions' ages. */
static void
org_store_figures(struct store *s, const char *org, json_t *o, int64_t now)
{
	struct cs_error e = { 0 };
	struct admin_pending p;
	char key[STORE_KV_KEY_MAX];
	int64_t oldest;
	json_t *d, *rp, *v;
	const char *ch;

	admin_pending_read(s, org, &p, &e);
	if (p.inbox >= 0)
		set_int(o, "inbox", p.inbox);
	if (p.outbox >= 0)
		set_int(o, "outbox", p.outbox);
	if (p.feed_backlog >= 0)
		set_int(o, "feed_backlog", p.feed_backlog);
	oldest = p.oldest_to_clm_ms > 0 && (p.oldest_to_sf_ms <= 0 || p.oldest_to_clm_ms < p.oldest_to_sf_ms) ?
	    p.oldest_to_clm_ms : p.oldest_to_sf_ms;
	set_int(o, "oldest_pending_ms", oldest > 0 ? oldest : 0);
	set_int(o, "lag_ms", admin_lag_of(p.oldest_to_clm_ms, p.oldest_to_sf_ms, now));
	set_int(o, "lag_to_salesforce_ms", admin_lag_of(p.oldest_to_sf_ms, 0, now));
	set_int(o, "lag_to_clm_ms", admin_lag_of(p.oldest_to_clm_ms, 0, now));
	/* how old each stored replay position is, and how long until Salesforce forgets it */
	rp = json_object_get(json_object_get(o, "stream"), "replay");
	if (json_is_object(rp)) {
		json_t *pos = json_object();
		json_object_foreach(rp, ch, v) {
			int64_t at = 0;
			snprintf(key, sizeof(key), "cdc:%s:%s", org, ch);
			if (store_kv_get(s, "cursor", key, &d, &e) == CS_OK) {
				at = json_integer_value(json_object_get(d, "ms"));
				json_decref(d);
			}
			json_object_set_new(pos, ch, json_pack("{s:O, s:I, s:I}", "replay_id", v, "stored_ms", (json_int_t)at,
			    "retention_left_s", (json_int_t)(at > 0 ? (at + RETENTION_MS - now) / 1000 : -1)));
		}
		json_object_set_new(json_object_get(o, "stream"), "positions", pos);
	}
}

/* Sets the dead-letter entries and open conflicts of each mapping in by_map ({mapping: {}}) and
 * their totals (-1: unknown). Both come from counts the store keeps or reads off its key index,
 * so the cost is a few rows per mapping, however long the queues. A figure the store cannot give
 * is left out. */
static void
count_per_mapping(struct store *s, json_t *by_map, long long *dlq_total, long long *conf_total)
{
	struct cs_error e = { 0 };
	json_t *counts = NULL, *c;
	const char *name;
	long long n;

	*dlq_total = *conf_total = -1;
	if (sync_dlq_counts(s, &counts, dlq_total, &e) != CS_OK) {
		log_debug("admin.status", "dead-letter entries per mapping: %s", e.msg);
		*dlq_total = -1;
	}
	if (sync_conflict_count(s, NULL, &n, &e) == CS_OK)
		*conf_total = n;
	json_object_foreach(by_map, name, c) {
		if (counts != NULL)
			set_int(c, "dlq", json_integer_value(json_object_get(counts, name)));
		if (*conf_total >= 0 && sync_conflict_count(s, name, &n, &e) == CS_OK)
			set_int(c, "conflicts", n);
	}
	json_decref(counts);
}

json_t *
admin_status_build(const struct cs_config *cfg, struct sync_engine *eng, struct store *s, int64_t started_ms)
{
	json_t *st = eng ? sync_engine_status(eng) : json_pack("{s:[], s:[]}", "latency_le_ms", "orgs");
	json_t *orgs = json_object_get(st, "orgs"), *by_map = json_object(), *o, *mp;
	int64_t now = cs_time_now_ms();
	long long dlq = 0, conf = 0;
	size_t i, k;

	if (st == NULL || by_map == NULL) {
		json_decref(st);
		json_decref(by_map);
		return NULL;
	}
	for (i = 0; i < cfg->nmappings; i++)
		json_object_set_new(by_map, cfg->mappings[i].name, json_object());
	count_per_mapping(s, by_map, &dlq, &conf);
	/* an org with mappings but no engine (serve --no-sync): its store figures still count */
	for (i = 0; i < cfg->norgs; i++) {
		bool have = false, used = false;
		json_array_foreach(orgs, k, o)
			have |= strcmp(json_string_value(json_object_get(o, "org")) ?: "", cfg->orgs[i].name) == 0;
		for (k = 0; k < cfg->nmappings; k++)
			used |= strcmp(cfg->mappings[k].org, cfg->orgs[i].name) == 0;
		if (!have && used) {
			json_t *maps = json_array();
			for (k = 0; k < cfg->nmappings; k++)
				if (strcmp(cfg->mappings[k].org, cfg->orgs[i].name) == 0)
					json_array_append_new(maps, json_pack("{s:s, s:s, s:s}", "name", cfg->mappings[k].name,
					    "entity", cs_entity_name(cfg->mappings[k].entity), "sobject", cfg->mappings[k].sobject));
			json_array_append_new(orgs, json_pack("{s:s, s:b, s:o}", "org", cfg->orgs[i].name, "engine", 0,
			    "mappings", maps));
		}
	}
	json_array_foreach(orgs, i, o) {
		const char *org = json_string_value(json_object_get(o, "org"));
		int64_t last = json_integer_value(json_object_get(o, "last_event_ms"));
		if (json_object_get(o, "engine") == NULL)
			json_object_set_new(o, "engine", json_true());
		set_int(o, "last_event_age_ms", last > 0 ? now - last : -1);
		org_store_figures(s, org, o, now);
		json_array_foreach(json_object_get(o, "mappings"), k, mp) {
			const char *name = json_string_value(json_object_get(mp, "name"));
			const struct cs_mapping *m = name ? cs_config_mapping(cfg, name) : NULL;
			json_t *p = NULL;
			struct cs_error e = { 0 };
			json_object_update(mp, json_object_get(by_map, name ? name : ""));
			if (m != NULL && sync_pause_get(s, m, &p, &e) == CS_OK) {
				json_object_set_new(mp, "pause", p);
				json_object_set(mp, "paused", json_object_get(p, "paused"));
			}
		}
	}
	json_decref(by_map);
	json_object_set_new(st, "version", json_string(CLMSYNC_VERSION));
	set_int(st, "uptime_s", (now - started_ms) / 1000);
	set_int(st, "now_ms", now);
	if (dlq >= 0)
		set_int(st, "dlq", dlq);
	if (conf >= 0)
		set_int(st, "conflicts", conf);
	json_object_set_new(st, "engine", json_boolean(eng != NULL));
	return st;
}

/* The whole status: the engine's live figures and the store's. NULL when out of memory. */
static json_t *
status_doc(struct admin *a, struct store *s)
{
	return admin_status_build(a->cfg, a->eng, s, a->started_ms);
}

static void
h_status(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct store *s = acquire(a, rs);
	json_t *st;

	(void)rq;
	if (s == NULL)
		return;
	st = status_doc(a, s);
	store_pool_release(a->pool, s);
	if (st == NULL)
		fail(rs, 500, "internal", "out of memory");
	else
		http_resp_json(rs, 200, st);
}

static void
h_metrics(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct store *s = acquire(a, rs);
	struct cs_buf b;
	json_t *st;

	(void)rq;
	if (s == NULL)
		return;
	st = status_doc(a, s);
	store_pool_release(a->pool, s);
	if (st == NULL) {
		fail(rs, 500, "internal", "out of memory");
		return;
	}
	cs_buf_init(&b, 16 << 20);
	admin_metrics_text(st, &b);
	json_decref(st);
	http_resp_text(rs, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
	cs_buf_cleanup(&b);
}

static void
h_healthz(struct http_req *rq, struct http_resp *rs, void *ud)
{
	(void)rq;
	(void)ud;
	http_resp_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}

/* Appends one check to checks, and to reasons "org <org>: <detail>" (or "<check>: <detail>") when
 * it failed; returns ok. */
static bool
check_add(json_t *checks, json_t *reasons, const char *check, const char *org, bool ok, const char *detail)
{
	char why[600];

	json_array_append_new(checks, org ? json_pack("{s:s, s:s, s:b, s:s}", "check", check, "org", org, "ok", ok,
	    "detail", detail) : json_pack("{s:s, s:b, s:s}", "check", check, "ok", ok, "detail", detail));
	if (ok)
		return true;
	if (org != NULL)
		snprintf(why, sizeof(why), "org %s: %s", org, detail);
	else
		snprintf(why, sizeof(why), "%s: %s", check, detail);
	json_array_append_new(reasons, json_string(why));
	return false;
}

/* Ready when the store answers and, for every org the engine serves, its stream is connected
 * (or has been down, or not yet up since the start, for less than the configured threshold) and
 * it holds a session Salesforce accepts: a login refused (a changed secret, a revoked user) stops
 * all sync with the org at once, so it makes the process unready without waiting. The answer
 * says why in "reasons". */
static void
h_readyz(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct store *s = NULL;
	struct cs_error e = { 0 };
	json_t *checks = json_array(), *reasons = json_array(), *st, *o;
	int64_t now = cs_time_now_ms(), limit = (int64_t)a->cfg->admin.stream_down_unready_s * 1000;
	long long n = 0;
	bool ready = true;
	size_t i;

	(void)rq;
	if (store_pool_acquire(a->pool, POOL_WAIT_MS, &s, &e) != CS_OK || store_kv_count(s, "pause", &n, &e) != CS_OK)
		ready = check_add(checks, reasons, "store", NULL, false, e.msg);
	else
		check_add(checks, reasons, "store", NULL, true, "answers");
	if (s != NULL)
		store_pool_release(a->pool, s);
	st = a->eng ? sync_engine_status(a->eng) : NULL;
	json_array_foreach(json_object_get(st, "orgs"), i, o) {
		const char *org = json_string_value(json_object_get(o, "org")) ?: "";
		const json_t *sm = json_object_get(o, "stream"), *au = json_object_get(o, "auth");
		bool up = json_is_true(json_object_get(sm, "connected"));
		int64_t since = json_integer_value(json_object_get(sm, "since_ms"));
		int64_t down = up ? 0 : now - (since > 0 ? since : a->started_ms);
		const char *err = json_string_value(json_object_get(au, "error")) ?: "";
		char detail[400];

		snprintf(detail, sizeof(detail), up ? "connected" : "down for %lld s (unready after %lld s)",
		         (long long)(down / 1000), (long long)(limit / 1000));
		ready &= check_add(checks, reasons, "stream", org, up || down < limit, detail);
		if (json_is_true(json_object_get(au, "authenticated")))
			snprintf(detail, sizeof(detail), "authenticated");
		else if (err[0] != '\0')
			snprintf(detail, sizeof(detail), "not authenticated: %s", err);
		else
			snprintf(detail, sizeof(detail), "not authenticated: not logged in yet");
		ready &= check_add(checks, reasons, "auth", org, json_is_true(json_object_get(au, "authenticated")), detail);
	}
	json_decref(st);
	http_resp_json(rs, ready ? 200 : 503, json_pack("{s:b, s:o, s:o}", "ready", ready, "reasons", reasons, "checks",
	    checks));
}

/* GET /lag?window=S: the lag history of the last S seconds (1..3600, all of it by default). */
static void
h_lag(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	bool ok = true;
	long long window = query_int(rq, "window", ADMIN_LAG_WINDOW_S, 1, ADMIN_LAG_WINDOW_S, &ok);
	int64_t now = cs_time_now_ms();
	json_t *out;

	if (!ok) {
		fail(rs, 400, "invalid", "window is 1..3600 seconds");
		return;
	}
	if ((out = admin_lag_json(a->lag, now - window * 1000)) == NULL) {
		fail(rs, 500, "internal", "out of memory");
		return;
	}
	set_int(out, "window_s", window);
	set_int(out, "now_ms", now);
	http_resp_json(rs, 200, out);
}

/* --- mappings: list, pause, resume ----------------------------------------------------------- */

static void
h_mappings(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct store *s = acquire(a, rs);
	json_t *out = json_array();

	(void)rq;
	if (s == NULL) {
		json_decref(out);
		return;
	}
	for (size_t i = 0; i < a->cfg->nmappings; i++) {
		const struct cs_mapping *m = &a->cfg->mappings[i];
		struct cs_error e = { 0 };
		json_t *p = NULL;
		if (sync_pause_get(s, m, &p, &e) != CS_OK)
			p = json_pack("{s:s}", "error", e.msg);
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", m->name, "org", m->org,
		    "entity", cs_entity_name(m->entity), "sobject", m->sobject, "pause", p));
	}
	store_pool_release(a->pool, s);
	http_resp_json(rs, 200, json_pack("{s:o}", "mappings", out));
}

static void
h_pause(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	const struct cs_mapping *m = mapping_named(a, rq->params[0], rs);
	bool resume = strcmp(rq->params[1], "resume") == 0;
	struct cs_error e = { 0 };
	struct store *s;
	json_t *b, *p = NULL;
	long long moved = 0;
	cs_err rc;

	if (m == NULL)
		return;
	if (!resume && strcmp(rq->params[1], "pause") != 0) {
		fail(rs, 404, "not_found", "POST .../pause or .../resume");
		return;
	}
	if ((b = body_object(rq, rs)) == NULL)
		return;
	if (json_object_get(b, "reason") && !json_is_string(json_object_get(b, "reason"))) {
		json_decref(b);
		fail(rs, 400, "invalid", "reason must be a string");
		return;
	}
	if ((s = acquire(a, rs)) == NULL) {
		json_decref(b);
		return;
	}
	rc = resume ? sync_resume(s, m, "admin-api", &moved, &e) :
	    sync_pause(s, m, "admin-api", json_string_value(json_object_get(b, "reason")), &e);
	if (rc == CS_OK)
		rc = sync_pause_get(s, m, &p, &e);
	store_pool_release(a->pool, s);
	json_decref(b);
	if (rc != CS_OK) {
		fail_store(rs, rc, &e);
		return;
	}
	if (resume)
		json_object_set_new(p, "queued", json_integer(moved));
	json_object_set_new(p, "mapping", json_string(m->name));
	log_info("admin.pause", "mapping %s %s", m->name, resume ? "resumed" : "paused");
	http_resp_json(rs, 200, p);
}

/* --- dead-letter queue ---------------------------------------------------------------------- */

static void
h_dlq_list(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct cs_error e = { 0 };
	bool ok = true;
	long long limit = query_int(rq, "limit", 100, 1, STORE_LIST_MAX, &ok);
	struct store *s;
	json_t *out = NULL;
	cs_err rc;

	if (!ok) {
		fail(rs, 400, "invalid", "limit is 1..1000");
		return;
	}
	if ((s = acquire(a, rs)) == NULL)
		return;
	rc = sync_dlq_list(s, http_req_query(rq, "after"), (int)limit, &out, &e);
	store_pool_release(a->pool, s);
	if (rc != CS_OK) {
		fail_store(rs, rc, &e);
		return;
	}
	http_resp_json(rs, 200, json_pack("{s:o}", "entries", out));
}

static void
h_dlq_one(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct cs_error e = { 0 };
	struct store *s;
	json_t *out = NULL;
	cs_err rc;

	if ((s = acquire(a, rs)) == NULL)
		return;
	rc = sync_dlq_get(s, rq->params[0], &out, &e);
	store_pool_release(a->pool, s);
	if (rc != CS_OK)
		fail_store(rs, rc, &e);
	else
		http_resp_json(rs, 200, out);
}

/* POST /dlq/{id}/replay, /dlq/{id}/discard {"reason"}, and /dlq/replay {"all": true}. */
static void
h_dlq_act(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct cs_error e = { 0 };
	const char *id = rq->params[0], *act = rq->params[1];
	struct store *s;
	json_t *b;
	cs_err rc = CS_OK;

	if (strcmp(act, "replay") != 0 && strcmp(act, "discard") != 0) {
		fail(rs, 404, "not_found", "POST /admin/v1/dlq/{id}/replay or /admin/v1/dlq/{id}/discard");
		return;
	}
	if ((b = body_object(rq, rs)) == NULL)
		return;
	if ((s = acquire(a, rs)) == NULL) {
		json_decref(b);
		return;
	}
	if (strcmp(act, "replay") == 0) {
		rc = sync_dlq_replay(s, id, &e);
		if (rc == CS_OK)
			log_info("admin.dlq", "entry %s replayed", id);
		store_pool_release(a->pool, s);
		json_decref(b);
		if (rc != CS_OK)
			fail_store(rs, rc, &e);
		else
			http_resp_json(rs, 200, json_pack("{s:s, s:s}", "id", id, "result", "replayed"));
		return;
	}
	if (!json_is_string(json_object_get(b, "reason")) || json_string_length(json_object_get(b, "reason")) == 0) {
		store_pool_release(a->pool, s);
		json_decref(b);
		fail(rs, 400, "invalid", "discarding needs a reason: {\"reason\": \"...\"}");
		return;
	}
	rc = sync_dlq_discard(s, id, json_string_value(json_object_get(b, "reason")), &e);
	store_pool_release(a->pool, s);
	json_decref(b);
	if (rc != CS_OK)
		fail_store(rs, rc, &e);
	else {
		log_info("admin.dlq", "entry %s discarded", id);
		http_resp_json(rs, 200, json_pack("{s:s, s:s}", "id", id, "result", "discarded"));
	}
}

static void
h_dlq_replay_all(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct cs_error e = { 0 };
	const char *only = NULL;
	struct store *s;
	json_t *b, *page = NULL, *it;
	long long done = 0, failed = 0;
	size_t i;
	cs_err rc = CS_OK;

	if ((b = body_object(rq, rs)) == NULL)
		return;
	if (!json_is_true(json_object_get(b, "all"))) {
		json_decref(b);
		fail(rs, 400, "invalid", "replaying every entry needs {\"all\": true} (and optionally \"mapping\")");
		return;
	}
	only = json_string_value(json_object_get(b, "mapping"));
	if ((s = acquire(a, rs)) == NULL) {
		json_decref(b);
		return;
	}
	/* replayed entries leave the queue, so each page starts from the first remaining one;
	 * skipped (other mapping) and failed ones are stepped over with after */
	{
		char after[32] = "";
		for (;;) {
			if ((rc = sync_dlq_list(s, after, STORE_LIST_MAX, &page, &e)) != CS_OK)
				break;
			if (json_array_size(page) == 0) {
				json_decref(page);
				break;
			}
			json_array_foreach(page, i, it) {
				const char *id = json_string_value(json_object_get(it, "id"));
				snprintf(after, sizeof(after), "%s", id ? id : "");
				if (only != NULL && strcmp(json_string_value(json_object_get(it, "mapping")) ?: "", only) != 0)
					continue;
				if (sync_dlq_replay(s, id, &e) == CS_OK)
					done++;
				else
					failed++;
			}
			json_decref(page);
		}
	}
	store_pool_release(a->pool, s);
	json_decref(b);
	if (rc != CS_OK) {
		fail_store(rs, rc, &e);
		return;
	}
	log_info("admin.dlq", "%lld entries replayed, %lld could not be", done, failed);
	http_resp_json(rs, 200, json_pack("{s:I, s:I}", "replayed", (json_int_t)done, "failed", (json_int_t)failed));
}

/* --- conflicts ------------------------------------------------------------------------------ */

static void
h_conflicts(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct cs_error e = { 0 };
	struct store *s;
	json_t *out = NULL;
	cs_err rc;

	(void)rq;
	if ((s = acquire(a, rs)) == NULL)
		return;
	rc = sync_conflict_list(s, &out, &e);
	store_pool_release(a->pool, s);
	if (rc != CS_OK)
		fail_store(rs, rc, &e);
	else
		http_resp_json(rs, 200, json_pack("{s:o}", "conflicts", out));
}

/* GET /conflicts/{mapping}/{clm id}/{field}, POST .../resolve {"take": "clm"|"salesforce"} or
 * {"value": V}. The id holds '/': the route captures the rest of the path. */
static void
h_conflict(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct cs_error e = { 0 };
	char id[STORE_KV_KEY_MAX];
	bool post = strcmp(rq->method, "POST") == 0;
	size_t n = strlen(rq->params[0]);
	struct store *s;
	json_t *out = NULL, *b = NULL;
	const char *choice = NULL;
	cs_err rc;

	if (post) {
		if (n < 8 || strcmp(rq->params[0] + n - 8, "/resolve") != 0) {
			fail(rs, 404, "not_found", "POST /admin/v1/conflicts/{id}/resolve");
			return;
		}
		n -= 8;
	}
	if (n == 0 || n >= sizeof(id)) {
		fail(rs, 400, "invalid", "a conflict id is <mapping>/<repository id>/<Salesforce field>");
		return;
	}
	memcpy(id, rq->params[0], n);
	id[n] = '\0';
	if (post) {
		if ((b = body_object(rq, rs)) == NULL)
			return;
		choice = json_string_value(json_object_get(b, "take"));
		if (json_object_get(b, "value") != NULL && choice == NULL)
			choice = "value";
		if (choice == NULL || (strcmp(choice, "clm") != 0 && strcmp(choice, "salesforce") != 0 &&
		    strcmp(choice, "value") != 0)) {
			json_decref(b);
			fail(rs, 400, "invalid", "resolve with {\"take\": \"clm\"}, {\"take\": \"salesforce\"} or {\"value\": V}");
			return;
		}
	}
	if ((s = acquire(a, rs)) == NULL) {
		json_decref(b);
		return;
	}
	if (post) {
		rc = sync_conflict_resolve_request(s, id, choice, json_object_get(b, "value"), &e);
		if (rc == CS_OK)
			log_info("admin.conflict", "conflict %s: resolution requested (%s)", id, choice);
	} else
		rc = sync_conflict_get(s, id, &out, &e);
	store_pool_release(a->pool, s);
	if (rc != CS_OK)
		fail_store(rs, rc, &e);
	else if (post)
		/* the engine settles it within a round: GET the id until it is 404 */
		http_resp_json(rs, 202, json_pack("{s:s, s:s, s:s}", "id", id, "take", choice, "result", "requested"));
	else
		http_resp_json(rs, 200, out);
	json_decref(b);   /* only now: choice points into b */
}

/* --- reconcile ------------------------------------------------------------------------------ */

static void
h_reconcile_start(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct cs_error e = { 0 };
	const struct cs_mapping *m = NULL;
	const char *org, *mname;
	struct store *s;
	json_t *b, *reqs = json_array();
	cs_err rc = CS_OK;

	if ((b = body_object(rq, rs)) == NULL) {
		json_decref(reqs);
		return;
	}
	mname = json_string_value(json_object_get(b, "mapping"));
	org = json_string_value(json_object_get(b, "org"));
	if (mname != NULL && (m = mapping_named(a, mname, rs)) == NULL)
		goto out;
	if (org != NULL && cs_config_org(a->cfg, org) == NULL) {
		fail(rs, 404, "not_found", "no org of that name in the configuration");
		goto out;
	}
	if ((s = acquire(a, rs)) == NULL)
		goto out;
	for (size_t i = 0; i < a->cfg->norgs && rc == CS_OK; i++) {
		const char *on = a->cfg->orgs[i].name;
		char rid[SYNC_REQUEST_ID_MAX];
		bool used = false;
		if ((org != NULL && strcmp(org, on) != 0) || (m != NULL && strcmp(m->org, on) != 0))
			continue;
		for (size_t k = 0; k < a->cfg->nmappings; k++)
			used |= strcmp(a->cfg->mappings[k].org, on) == 0;
		if (!used)
			continue;
		rc = sync_reconcile_request(s, on, m ? m->name : NULL, json_is_true(json_object_get(b, "repair")), rid, &e);
		if (rc == CS_OK)
			json_array_append_new(reqs, json_pack("{s:s, s:s}", "org", on, "id", rid));
	}
	store_pool_release(a->pool, s);
	if (rc != CS_OK)
		fail_store(rs, rc, &e);
	else {
		http_resp_json(rs, 202, json_pack("{s:O}", "requests", reqs));
		log_info("admin.reconcile", "reconcile requested for %zu org(s)", json_array_size(reqs));
	}
out:
	json_decref(reqs);
	json_decref(b);
}

static void
h_reconcile_get(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct cs_error e = { 0 };
	struct store *s;
	json_t *out = NULL, *st;
	cs_err rc;

	if ((s = acquire(a, rs)) == NULL)
		return;
	rc = sync_reconcile_result(s, rq->params[0], &out, &e);
	store_pool_release(a->pool, s);
	if (rc == CS_ENOTFOUND) {
		/* not finished: what the engines are doing now */
		json_t *prog = json_array(), *o;
		size_t i;
		st = a->eng ? sync_engine_status(a->eng) : NULL;
		json_array_foreach(json_object_get(st, "orgs"), i, o) {
			const json_t *r = json_object_get(o, "reconcile");
			json_array_append_new(prog, json_pack("{s:O?, s:O?, s:O?, s:O?}", "org", json_object_get(o, "org"),
			    "running_since_ms", json_object_get(r, "running_since_ms"), "checked_so_far",
			    json_object_get(r, "progress"), "expected", json_object_get(r, "expected")));
		}
		json_decref(st);
		http_resp_json(rs, 202, json_pack("{s:s, s:b, s:o}", "id", rq->params[0], "done", 0, "progress", prog));
		return;
	}
	if (rc != CS_OK) {
		fail_store(rs, rc, &e);
		return;
	}
	json_object_set_new(out, "done", json_true());
	json_object_set_new(out, "id", json_string(rq->params[0]));
	http_resp_json(rs, 200, out);
}

/* --- links, lineage, audit ------------------------------------------------------------------ */

/* The links of a repository id or a Salesforce id, in every mapping. */
static json_t *
links_of(struct admin *a, struct store *s, const char *clm_id, const char *sf_id)
{
	json_t *out = json_array();

	for (size_t i = 0; out != NULL && i < a->cfg->nmappings; i++) {
		const struct cs_mapping *m = &a->cfg->mappings[i];
		char cid[CLM_ID_MAX];
		struct cs_error e = { 0 };
		json_t *d = NULL;

		snprintf(cid, sizeof(cid), "%s", clm_id ? clm_id : "");
		if (sf_id != NULL && sync_link_by_sf(s, m, sf_id, cid, &e) != CS_OK)
			continue;
		if (cid[0] == '\0' || sync_link_get(s, m, cid, &d, &e) != CS_OK)
			continue;
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:O?, s:O?, s:o?}", "mapping", m->name, "org",
		    m->org, "clm", cid, "sobject", m->sobject, "sf", json_object_get(d, "sf"), "base",
		    json_object_get(d, "base"), "in_flight", sync_sent_in_flight(json_object_get(d, "sent"))));
		json_decref(d);
	}
	return out;
}

static void
h_links(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	const char *clm_id = http_req_query(rq, "clm"), *sf_id = http_req_query(rq, "sf");
	struct store *s;
	json_t *out;

	if ((clm_id == NULL) == (sf_id == NULL) || (clm_id && !clm_id[0]) || (sf_id && !sf_id[0])) {
		fail(rs, 400, "invalid", "look a link up by ?clm=<repository id> or ?sf=<Salesforce id>");
		return;
	}
	if ((s = acquire(a, rs)) == NULL)
		return;
	out = links_of(a, s, clm_id, sf_id);
	store_pool_release(a->pool, s);
	http_resp_json(rs, 200, json_pack("{s:o}", "links", out));
}

/* GET /lineage/{entity}/{id}: per mapped field, the value on each side and the audit row that
 * last set it. */
static void
h_lineage(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	const char *entity = rq->params[0], *id = rq->params[1];
	struct sync_audit_filter f = { .id = id };
	struct cs_error e = { 0 };
	struct clm_fail cf;
	enum clm_kind kind = CLM_CONTRACT;
	struct store *s;
	json_t *rec = NULL, *rows = NULL, *links, *out = json_array(), *ln;
	long long after = 0;
	size_t i;
	bool known = false;

	for (i = 0; i < a->cfg->nmappings; i++)
		if (strcmp(cs_entity_name(a->cfg->mappings[i].entity), entity) == 0) {
			kind = sync_kind_of(a->cfg->mappings[i].entity);
			known = true;
		}
	if (!known) {
		json_decref(out);
		fail(rs, 404, "not_found", "no mapping syncs that entity");
		return;
	}
	memset(&cf, 0, sizeof(cf));
	if (clm_get(a->clm, kind, NULL, id, &rec, &cf) != CS_OK && cf.status != 404) {
		json_decref(out);
		fail(rs, cf.status >= 500 ? 503 : 400, cf.code[0] ? cf.code : "invalid", cf.msg);
		return;
	}
	if ((s = acquire(a, rs)) == NULL) {
		json_decref(out);
		json_decref(rec);
		return;
	}
	links = links_of(a, s, id, NULL);
	/* every audit row of the record, oldest first; the last one per field wins */
	{
		json_t *all = json_array(), *page = NULL;
		long long to = 0;
		for (;;) {
			page = NULL;
			if (sync_audit_query(s, &f, after, 1000, &page, &to, &e) != CS_OK || json_array_size(page) == 0) {
				json_decref(page);
				break;
			}
			json_array_extend(all, page);
			json_decref(page);
			if (to <= after)
				break;
			after = to;
		}
		rows = all;
	}
	store_pool_release(a->pool, s);
	json_array_foreach(links, i, ln) {
		const struct cs_mapping *m = cs_config_mapping(a->cfg, json_string_value(json_object_get(ln, "mapping")) ?: "");
		json_t *fields = json_array();
		for (size_t k = 0; m != NULL && k < m->nfields; k++) {
			const struct cs_field_map *fm = &m->fields[k];
			const char *cf_name = fm->clm;
			json_t *cv = strncmp(cf_name, "custom.", 7) == 0 ?
			    json_object_get(json_object_get(rec, "custom"), cf_name + 7) : json_object_get(rec, cf_name);
			json_t *last = NULL, *rec_row = NULL, *r;
			size_t j;
			/* the last row about the field; else the last about the whole record (its create
			 * or link carried every field) */
			json_array_foreach(rows, j, r) {
				const char *rf = json_string_value(json_object_get(r, "field"));
				if (strcmp(json_string_value(json_object_get(r, "mapping")) ?: "", m->name) != 0)
					continue;
				if (rf != NULL && strcmp(rf, cf_name) == 0)
					last = r;
				else if (rf == NULL)
					rec_row = r;
			}
			if (last == NULL)
				last = rec_row;
			json_array_append_new(fields, json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:O?}", "field", cf_name,
			    "sf_field", fm->sf, "owner", fm->owner == CS_OWNER_CLM ? "clm" : fm->owner == CS_OWNER_SALESFORCE ?
			    "salesforce" : "both", "clm_value", cv, "salesforce_value",
			    json_object_get(json_object_get(ln, "base"), fm->sf), "last_change", last));
		}
		json_object_set_new(ln, "fields", fields);
		json_object_del(ln, "base");
	}
	json_decref(out);
	http_resp_json(rs, 200, json_pack("{s:s, s:s, s:b, s:o, s:I}", "entity", entity, "id", id, "in_repository",
	    rec != NULL, "mappings", links, "audit_rows", (json_int_t)json_array_size(rows)));
	json_decref(rows);
	json_decref(rec);
}

/* A time filter ("2026-11-27T10:00:00Z" or any form cs_datetime_parse takes) as the rows
 * write it. */
static bool
time_arg(struct http_req *rq, const char *k, char out[32])
{
	const char *v = http_req_query(rq, k);
	int64_t ms;

	out[0] = '\0';
	if (v == NULL || v[0] == '\0')
		return true;
	if (!cs_datetime_parse(v, strlen(v), &ms))
		return false;
	cs_time_format_iso(ms, out, 32);
	return true;
}

static void
h_audit(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct sync_audit_filter f;
	struct cs_error e = { 0 };
	bool ok = true;
	long long limit = query_int(rq, "limit", AUDIT_PAGE, 1, 1000, &ok);
	long long after = query_int(rq, "after", 0, 0, INT64_MAX, &ok), to = 0;
	struct store *s;
	json_t *out = NULL;
	cs_err rc;

	memset(&f, 0, sizeof(f));
	f.id = http_req_query(rq, "record");
	f.field = http_req_query(rq, "field");
	f.decision = http_req_query(rq, "decision");
	f.mapping = http_req_query(rq, "mapping");
	if (!ok || !time_arg(rq, "since", f.since) || !time_arg(rq, "until", f.until)) {
		fail(rs, 400, "invalid", "limit is 1..1000, after a row number, since and until ISO 8601 times");
		return;
	}
	if (f.id && !f.id[0])
		f.id = NULL;
	if (f.field && !f.field[0])
		f.field = NULL;
	if (f.decision && !f.decision[0])
		f.decision = NULL;
	if (f.mapping && !f.mapping[0])
		f.mapping = NULL;
	if ((s = acquire(a, rs)) == NULL)
		return;
	rc = sync_audit_query(s, &f, after, (int)limit, &out, &to, &e);
	store_pool_release(a->pool, s);
	if (rc != CS_OK) {
		fail_store(rs, rc, &e);
		return;
	}
	/* next: where the next page starts; null once the log is read to its end. scanned_to: the
	 * last row read, matching or not, from which a reader that follows the log goes on */
	http_resp_json(rs, 200, json_pack("{s:o, s:o, s:I}", "rows", out, "next",
	    json_array_size(out) == (size_t)limit ? json_integer(to) : json_null(), "scanned_to", (json_int_t)to));
}

/* POST /audit/verify: checks the audit log's hash chain on the admin's store connection. A body
 * {"after": N, "hash": H, "max_rows": K} checks at most K rows after row N (whose hash is H), so
 * that a client can show progress over a long log; without them, the whole log. A break is an
 * answer (200, "ok": false), not an error. */
static void
h_audit_verify(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct sync_audit_pos pos;
	struct cs_error e = { 0 };
	long long rows = 0, bad = 0, head = 0, max_rows;
	const json_t *after, *hash, *mr;
	struct store *s;
	json_t *b;
	bool done = false;
	cs_err rc;

	if ((b = body_object(rq, rs)) == NULL)
		return;
	sync_audit_pos_init(&pos);
	after = json_object_get(b, "after");
	hash = json_object_get(b, "hash");
	mr = json_object_get(b, "max_rows");
	if ((after != NULL) != (hash != NULL) || (after != NULL && (!json_is_integer(after) ||
	    json_integer_value(after) < 0 || !json_is_string(hash) ||
	    json_string_length(hash) != SYNC_AUDIT_HASH_HEX)) ||
	    (mr != NULL && (!json_is_integer(mr) || json_integer_value(mr) < 0))) {
		json_decref(b);
		fail(rs, 400, "invalid", "verify with {} (the whole log) or {\"after\": N, \"hash\": HEX, \"max_rows\": K}");
		return;
	}
	if (after != NULL) {
		pos.seq = (long long)json_integer_value(after);
		memcpy(pos.hash, json_string_value(hash), SYNC_AUDIT_HASH_HEX + 1);
	}
	max_rows = mr != NULL ? (long long)json_integer_value(mr) : 0;
	json_decref(b);
	if ((s = acquire(a, rs)) == NULL)
		return;
	rc = sync_audit_head(s, &head, &e);
	if (rc == CS_OK || rc == CS_EIO)
		rc = sync_audit_verify_part(s, &pos, max_rows, &done, &rows, &bad, NULL, NULL, &e);
	store_pool_release(a->pool, s);
	if (rc == CS_EIO && bad > 0) {
		http_resp_json(rs, 200, json_pack("{s:b, s:I, s:I, s:s, s:b, s:I}", "ok", 0, "rows", (json_int_t)rows,
		    "bad_seq", (json_int_t)bad, "error", e.msg, "done", 1, "head", (json_int_t)head));
		return;
	}
	if (rc != CS_OK) {
		fail_store(rs, rc, &e);
		return;
	}
	/* last: where the next part starts (and, once done, the head's row and hash) */
	http_resp_json(rs, 200, json_pack("{s:b, s:I, s:n, s:n, s:b, s:I, s:{s:I, s:s}}", "ok", 1, "rows",
	    (json_int_t)rows, "bad_seq", "error", "done", done, "head", (json_int_t)head, "last", "seq",
	    (json_int_t)pos.seq, "hash", pos.hash));
}

static void
h_config(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	struct cs_buf b;

	(void)rq;
	cs_buf_init(&b, 4 << 20);
	if (cs_config_dump(a->cfg, &b) != CS_OK) {
		cs_buf_cleanup(&b);
		fail(rs, 500, "internal", "cannot print the configuration");
		return;
	}
	http_resp_text(rs, 200, "application/yaml; charset=utf-8", b.data ? b.data : "", b.len);
	cs_buf_cleanup(&b);
}

/* --- routing and authentication ----------------------------------------------------------- */

static const struct http_route routes[] = {
	{ "GET", "/healthz", h_healthz },
	{ "GET", "/readyz", h_readyz },
	{ "GET", "/metrics", h_metrics },
	{ "GET", V1 "/status", h_status },
	{ "GET", V1 "/lag", h_lag },
	{ "GET", V1 "/mappings", h_mappings },
	{ "POST", V1 "/mappings/:name/:action", h_pause },
	{ "GET", V1 "/dlq", h_dlq_list },
	{ "POST", V1 "/dlq/replay", h_dlq_replay_all },
	{ "GET", V1 "/dlq/:id", h_dlq_one },
	{ "POST", V1 "/dlq/:id/:action", h_dlq_act },
	{ "GET", V1 "/conflicts", h_conflicts },
	{ "GET", V1 "/conflicts/*", h_conflict },
	{ "POST", V1 "/conflicts/*", h_conflict },
	{ "POST", V1 "/reconcile", h_reconcile_start },
	{ "GET", V1 "/reconcile/:id", h_reconcile_get },
	{ "GET", V1 "/links", h_links },
	{ "GET", V1 "/lineage/:entity/:id", h_lineage },
	{ "GET", V1 "/audit", h_audit },
	{ "POST", V1 "/audit/verify", h_audit_verify },
	{ "GET", V1 "/config", h_config },
	{ NULL, "/", admin_dashboard_get },
	{ NULL, "/ui/:file", admin_dashboard_get },
};

static bool
pre(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct admin *a = ud;
	char name[CLM_TOKEN_NAME_MAX];
	const char *h;
	enum clm_role role;
	unsigned wait;

	if (strcmp(rq->path, "/healthz") == 0 || strcmp(rq->path, "/readyz") == 0 || admin_dashboard_public(rq->path))
		return false;
	if ((wait = http_throttle_check(a->throttle, rq)) != 0) {
		char s[24];
		snprintf(s, sizeof(s), "%u", wait);
		http_resp_header(rs, "Retry-After", s);
		fail(rs, 429, "too_many_requests", "too many requests with an invalid token came from this address; "
		     "wait for the time Retry-After gives");
		return true;
	}
	h = http_req_header(rq, "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		http_resp_header(rs, "WWW-Authenticate", "Bearer realm=\"clmsync-admin\"");
		fail(rs, 401, "unauthenticated", "an admin token is required: Authorization: Bearer <token>");
		return true;
	}
	h += 7;
	while (*h == ' ')
		h++;
	role = clm_auth_check(a->auth, h, strlen(h), name);
	if (role == CLM_ROLE_NONE) {
		clm_api_auth_failed(a->throttle, rq, "admin");
		http_resp_header(rs, "WWW-Authenticate", "Bearer realm=\"clmsync-admin\", error=\"invalid_token\"");
		fail(rs, 401, "unauthenticated", "the token is not valid");
		return true;
	}
	if (role < CLM_ROLE_ADMIN) {
		fail(rs, 403, "forbidden", "the admin API needs a token with the admin role");
		return true;
	}
	return false;
}

static void
not_found(struct http_req *rq, struct http_resp *rs, void *ud)
{
	(void)rq;
	(void)ud;
	fail(rs, 404, "not_found", "no such admin endpoint; see docs/operations.md");
}

/* Starts the lag history of the orgs with mappings (those status shows). */
static cs_err
lag_start(struct admin *a, struct cs_error *e)
{
	const char **names = calloc(a->cfg->norgs + 1, sizeof(*names));
	size_t n = 0;
	cs_err rc;

	if (names == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	for (size_t i = 0; i < a->cfg->norgs; i++) {
		bool used = false;
		for (size_t k = 0; k < a->cfg->nmappings; k++)
			used |= strcmp(a->cfg->mappings[k].org, a->cfg->orgs[i].name) == 0;
		if (used)
			names[n++] = a->cfg->orgs[i].name;
	}
	rc = admin_lag_new(names, n, &a->lag, e);
	free(names);
	if (rc == CS_OK && (rc = admin_lag_run(a->lag, a->eng, a->pool, e)) != CS_OK) {
		admin_lag_free(a->lag);
		a->lag = NULL;
	}
	return rc;
}

cs_err
admin_start(const struct admin_opts *o, struct admin **out, struct cs_error *e)
{
	struct http_server_opts so;
	struct admin *a;
	cs_err rc;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	a->cfg = o->cfg;
	a->clm = o->clm;
	a->auth = o->auth;
	a->throttle = o->throttle;
	a->eng = o->eng;
	a->started_ms = cs_time_now_ms();
	if ((rc = store_pool_new(o->store_url, ADMIN_POOL, &a->pool, e)) != CS_OK) {
		free(a);
		return rc;
	}
	if ((rc = lag_start(a, e)) != CS_OK) {
		store_pool_free(a->pool);
		free(a);
		return rc;
	}
	memset(&so, 0, sizeof(so));
	if (o->limits != NULL)
		so = *o->limits;
	else
		so.conn_timeout_s = 60;
	so.host = o->host;
	so.port = o->port;
	so.max_body = ADMIN_MAX_BODY;
	so.routes = routes;
	so.nroutes = sizeof(routes) / sizeof(routes[0]);
	so.pre = pre;
	so.not_found = not_found;
	so.ud = a;
	if ((rc = http_server_start(&so, &a->srv, e)) != CS_OK) {
		admin_lag_free(a->lag);
		store_pool_free(a->pool);
		free(a);
		return rc;
	}
	*out = a;
	return CS_OK;
}

int
admin_port(const struct admin *a)
{
	return http_server_port(a->srv);
}

void
admin_dispatch(struct admin *a, const struct http_local_req *lr, struct http_resp *rs)
{
	http_server_dispatch(a->srv, lr, rs);
}

void
admin_stop(struct admin *a)
{
	if (a == NULL)
		return;
	http_server_stop(a->srv);
	admin_lag_free(a->lag);     /* its thread holds a pool connection while it samples */
	store_pool_free(a->pool);
	free(a);
}

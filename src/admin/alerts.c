/* alerts.c - the alert webhook: conditions on the status document, their events, signing and delivery. */
#include "admin/alerts.h"
#include "admin/admin.h"
#include "http/client.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/version.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ORIGIN_MAX 300      /* bytes of "scheme://host:port" kept for log lines */

/* One event on its way: the body is signed again at each attempt, so that the timestamp a
 * receiver checks is the time of that attempt. */
struct ev {
	char *body;
	char id[48];
	char status[12];       /* "firing" or "resolved", for the event header and logs */
	char alert[40];
	int attempts;
	int64_t next_ms;       /* monotonic: not before */
};

struct alerts {
	const struct cs_config *cfg;
	struct sync_engine *eng;
	char *store_url;
	int64_t started_ms;
	char origin[ORIGIN_MAX];

	pthread_mutex_t mu;
	pthread_cond_t cv;     /* stop, a new event, a retry due */
	bool stop;
	struct ev *q[ALERTS_QUEUE_MAX];
	size_t qhead, qn;
	bool head_busy;        /* the sender is delivering q[qhead] without the lock */
	unsigned long long seq, dropped;

	pthread_t eval_th, send_th;
	bool eval_on, send_on;
};

/* --- observing ------------------------------------------------------------------------------ */

static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static long long
num(const json_t *o, const char *k, long long dflt)
{
	const json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (long long)json_integer_value(v) : json_is_real(v) ? (long long)json_real_value(v) : dflt;
}

/* Appends one observation; where is "org" or "org/mapping" or "org/channel" for the key. */
static void
observe(json_t *out, const char *alert, const char *org, const char *mkey, const char *mval, long long value,
        long long threshold, bool firing, const char *summary)
{
	char key[400];
	json_t *o;

	snprintf(key, sizeof(key), "%s/%s%s%s", alert, org, mval ? "/" : "", mval ? mval : "");
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:s}", "key", key, "alert", alert, "org", org, "value",
	    (json_int_t)value, "threshold", (json_int_t)threshold, "firing", firing, "summary", summary);
	if (o != NULL && mkey != NULL)
		json_object_set_new(o, mkey, json_string(mval));
	if (o != NULL)
		json_array_append_new(out, o);
}

json_t *
alerts_observe(const struct cs_config *cfg, const json_t *st)
{
	const struct { unsigned down, lag, ret, dlq, pct, drift; } th = {
		cfg->alerts.stream_down_s, cfg->alerts.lag_s, cfg->alerts.retention_left_s, cfg->alerts.dlq_max,
		cfg->alerts.api_budget_pct, cfg->alerts.drift,
	};
	int64_t now = num(st, "now_ms", 0), started = now - num(st, "uptime_s", 0) * 1000;
	json_t *out = json_array(), *o, *m, *p;
	char sum[300];
	size_t i, k;

	if (out == NULL)
		return NULL;
	json_array_foreach(json_object_get(st, "orgs"), i, o) {
		const char *org = str(o, "org");
		const json_t *sm = json_object_get(o, "stream"), *api = json_object_get(o, "api");
		const json_t *rec = json_object_get(o, "reconcile");
		const char *ch;

		if (json_is_object(sm)) {
			bool up = json_is_true(json_object_get(sm, "connected"));
			int64_t since = num(sm, "since_ms", 0);
			long long down = up ? 0 : (now - (since > 0 ? since : started)) / 1000;
			snprintf(sum, sizeof(sum), up ? "org %s: the change stream is connected" :
			    "org %s: the change stream has been down for %lld s", org, down);
			observe(out, "ClmsyncStreamDown", org, NULL, NULL, down, th.down, !up && down >= th.down, sum);
			json_object_foreach(json_object_get(sm, "positions"), ch, p) {
				long long left = num(p, "retention_left_s", -1);
				if (th.ret == 0 || left < 0)
					continue;
				snprintf(sum, sizeof(sum), "org %s, channel %s: %lld s left before Salesforce forgets the "
				    "stored replay position", org, ch, left);
				observe(out, "ClmsyncReplayRetention", org, "channel", ch, left, th.ret, left < th.ret, sum);
			}
		}
		if (json_object_get(o, "lag_ms") != NULL) {
			long long lag = num(o, "lag_ms", 0) / 1000;
			snprintf(sum, sizeof(sum), "org %s: the oldest change not synced yet is %lld s old", org, lag);
			observe(out, "ClmsyncSyncLag", org, NULL, NULL, lag, th.lag, lag > th.lag, sum);
		}
		if (json_is_object(api) && th.pct > 0 && num(api, "max", 0) > 0 && num(api, "used", -1) >= 0) {
			long long max = num(api, "max", 0), used = num(api, "used", 0);
			long long pct = used >= max ? 0 : (max - used) * 100 / max;
			snprintf(sum, sizeof(sum), "org %s: %lld%% of the daily API requests left (%lld of %lld)", org, pct,
			    used >= max ? 0 : max - used, max);
			observe(out, "ClmsyncAPIBudgetLow", org, NULL, NULL, pct, th.pct, pct < th.pct, sum);
		}
		if (json_is_object(rec)) {
			long long drift = num(rec, "last_drift", 0);
			snprintf(sum, sizeof(sum), "org %s: the last reconcile found %lld record(s) different on the two "
			    "sides", org, drift);
			observe(out, "ClmsyncReconcileDrift", org, NULL, NULL, drift, th.drift, drift > th.drift, sum);
		}
		json_array_foreach(json_object_get(o, "mappings"), k, m) {
			long long n = num(m, "dlq", -1);
			if (n < 0)
				continue;
			snprintf(sum, sizeof(sum), "mapping %s: %lld dead-letter entr%s", str(m, "name"), n, n == 1 ? "y" : "ies");
			observe(out, "ClmsyncDLQ", org, "mapping", str(m, "name"), n, th.dlq, n > th.dlq, sum);
		}
	}
	return out;
}

/* --- transitions ---------------------------------------------------------------------------- */

static json_t *
event(const char *status, const json_t *ob, const json_t *firing, json_t *value, int64_t now, const char *runbook)
{
	char ts[40], at[40], link[600], anchor[64];
	const char *alert = str(firing, "alert");
	json_t *e;
	size_t i;

	for (i = 0; alert[i] != '\0' && i + 1 < sizeof(anchor); i++)
		anchor[i] = (char)(alert[i] >= 'A' && alert[i] <= 'Z' ? alert[i] - 'A' + 'a' : alert[i]);
	anchor[i] = '\0';
	snprintf(link, sizeof(link), "%s#%s", runbook, anchor);
	cs_time_format_iso(now, ts, sizeof(ts));
	cs_time_format_iso(num(firing, "started_ms", now), at, sizeof(at));
	e = json_pack("{s:s, s:s, s:s}", "alert", alert, "status", status, "org", str(firing, "org"));
	if (e == NULL) {
		json_decref(value);
		return NULL;
	}
	if (json_object_get(firing, "mapping"))
		json_object_set(e, "mapping", json_object_get(firing, "mapping"));
	if (json_object_get(firing, "channel"))
		json_object_set(e, "channel", json_object_get(firing, "channel"));
	json_object_set_new(e, "value", value ? value : json_null());
	json_object_set(e, "threshold", json_object_get(ob ? ob : firing, "threshold"));
	json_object_set_new(e, "started_at", json_string(at));
	json_object_set_new(e, "ts", json_string(ts));
	json_object_set(e, "summary", json_object_get(ob ? ob : firing, "summary"));
	json_object_set_new(e, "runbook", json_string(link));
	return e;
}

json_t *
alerts_transition(json_t *state, const json_t *obs, int64_t now, const char *runbook)
{
	json_t *out = json_array(), *seen = json_object(), *ob, *cur, *e;
	const char *key;
	void *tmp;
	size_t i;

	if (out == NULL || seen == NULL)
		goto nomem;
	json_array_foreach(obs, i, ob) {
		key = str(ob, "key");
		cur = json_object_get(state, key);
		json_object_set_new(seen, key, json_true());
		if (json_is_true(json_object_get(ob, "firing")) && cur == NULL) {
			json_t *f = json_deep_copy(ob);
			if (f == NULL)
				goto nomem;
			json_object_set_new(f, "started_ms", json_integer(now));
			json_object_set_new(state, key, f);
			if ((e = event("firing", ob, f, json_incref(json_object_get(ob, "value")), now, runbook)) == NULL)
				goto nomem;
			json_array_append_new(out, e);
		} else if (!json_is_true(json_object_get(ob, "firing")) && cur != NULL) {
			if ((e = event("resolved", ob, cur, json_incref(json_object_get(ob, "value")), now, runbook)) == NULL)
				goto nomem;
			json_array_append_new(out, e);
			json_object_del(state, key);
		}
	}
	/* a condition no longer observed at all (its figure left the document) has ended too */
	json_object_foreach_safe(state, tmp, key, cur) {
		if (json_object_get(seen, key) != NULL)
			continue;
		if ((e = event("resolved", NULL, cur, NULL, now, runbook)) == NULL)
			goto nomem;
		json_array_append_new(out, e);
		json_object_del(state, key);
	}
	json_decref(seen);
	return out;
nomem:
	json_decref(seen);
	json_decref(out);
	return NULL;
}

/* --- signing -------------------------------------------------------------------------------- */

cs_err
alerts_sign(const char *key, size_t keylen, int64_t ts, const char *body, size_t len, char out[ALERTS_SIG_MAX])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char head[32], *msg;
	int hn, n;

	out[0] = '\0';
	if (len > ALERTS_BODY_MAX)
		return CS_ETOOBIG;
	hn = snprintf(head, sizeof(head), "%" PRId64 ".", ts);
	if ((msg = malloc((size_t)hn + len)) == NULL)
		return CS_ENOMEM;
	memcpy(msg, head, (size_t)hn);
	memcpy(msg + hn, body, len);
	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, (size_t)hn + len, mac, &maclen) == NULL ||
	    maclen != 32) {
		free(msg);
		return CS_EINTERNAL;
	}
	free(msg);
	n = snprintf(out, ALERTS_SIG_MAX, "t=%" PRId64 ",v1=", ts);
	for (unsigned int i = 0; i < maclen && n + 3 <= ALERTS_SIG_MAX; i++)
		n += snprintf(out + n, (size_t)(ALERTS_SIG_MAX - n), "%02x", mac[i]);
	explicit_bzero(mac, sizeof(mac));
	return CS_OK;
}

/* --- the queue ------------------------------------------------------------------------------ */

static void
ev_free(struct ev *v)
{
	if (v == NULL)
		return;
	free(v->body);
	free(v);
}

/* Adds v at the tail; takes ownership of v. Past ALERTS_QUEUE_MAX the oldest event not being
 * delivered goes, so that the newest state of things always has a place. Under a->mu. */
static void
enqueue(struct alerts *a, struct ev *v)
{
	if (a->qn == ALERTS_QUEUE_MAX) {
		size_t victim = a->head_busy ? (a->qhead + 1) % ALERTS_QUEUE_MAX : a->qhead;
		struct ev *old = a->q[victim];
		log_warn("alerts.dropped", "the delivery queue is full (%d events): dropped %s %s (%s)", ALERTS_QUEUE_MAX,
		    old->alert, old->status, old->id);
		ev_free(old);
		/* close the gap: shift the events after the victim one place towards the head */
		for (size_t k = (victim + ALERTS_QUEUE_MAX - a->qhead) % ALERTS_QUEUE_MAX; k + 1 < a->qn; k++)
			a->q[(a->qhead + k) % ALERTS_QUEUE_MAX] = a->q[(a->qhead + k + 1) % ALERTS_QUEUE_MAX];
		a->qn--;
		a->dropped++;
	}
	a->q[(a->qhead + a->qn) % ALERTS_QUEUE_MAX] = v;
	a->qn++;
	pthread_cond_broadcast(&a->cv);
}

/* Waits on a->cv until stop or the monotonic time until_ms (0: no deadline). Under a->mu. */
static void
wait_until(struct alerts *a, int64_t until_ms)
{
	struct timespec dl;

	if (until_ms <= 0) {
		pthread_cond_wait(&a->cv, &a->mu);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &dl);
	{
		int64_t now = (int64_t)dl.tv_sec * 1000 + dl.tv_nsec / 1000000;
		int64_t left = until_ms - now;
		if (left <= 0)
			return;
		dl.tv_sec += left / 1000;
		dl.tv_nsec += (left % 1000) * 1000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
	}
	pthread_cond_timedwait(&a->cv, &a->mu, &dl);
}

/* --- the evaluating thread ------------------------------------------------------------------ */

static void
emit(struct alerts *a, json_t *events)
{
	json_t *e;
	size_t i;

	json_array_foreach(events, i, e) {
		struct ev *v = calloc(1, sizeof(*v));
		const char *status = str(e, "status");
		if (v == NULL || (v->body = json_dumps(e, JSON_COMPACT)) == NULL || strlen(v->body) > ALERTS_BODY_MAX) {
			log_error("alerts.event", "cannot encode the %s event of %s", status, str(e, "alert"));
			ev_free(v);
			continue;
		}
		if (strcmp(status, "firing") == 0)
			log_warn("alerts.firing", "%s: %s", str(e, "alert"), str(e, "summary"));
		else
			log_info("alerts.resolved", "%s: %s", str(e, "alert"), str(e, "summary"));
		snprintf(v->status, sizeof(v->status), "%s", status);
		snprintf(v->alert, sizeof(v->alert), "%s", str(e, "alert"));
		pthread_mutex_lock(&a->mu);
		snprintf(v->id, sizeof(v->id), "%" PRId64 "-%llu", a->started_ms, ++a->seq);
		v->next_ms = cs_time_mono_ms();
		enqueue(a, v);
		pthread_mutex_unlock(&a->mu);
	}
}

static void *
eval_main(void *arg)
{
	struct alerts *a = arg;
	struct store *s = NULL;
	struct cs_error e = { 0 };
	json_t *state = json_object();
	bool warned = false;

	for (;;) {
		int64_t next = cs_time_mono_ms() + (int64_t)a->cfg->alerts.interval_s * 1000;
		bool stop;

		if (s == NULL && store_open(a->store_url, &s, &e) != CS_OK) {
			/* the store says why; the conditions wait for it (and must not resolve meanwhile) */
			if (!warned)
				log_warn("alerts.store", "cannot read the store: %s; retrying every %u s", e.msg,
				    a->cfg->alerts.interval_s);
			warned = true;
			s = NULL;
		}
		if (s != NULL && state != NULL) {
			json_t *st = admin_status_build(a->cfg, a->eng, s, a->started_ms), *obs = NULL, *evs = NULL;
			warned = false;
			if (st != NULL)
				obs = alerts_observe(a->cfg, st);
			if (obs != NULL)
				evs = alerts_transition(state, obs, cs_time_now_ms(), ALERTS_RUNBOOK);
			if (evs != NULL) {
				emit(a, evs);
				log_debug("alerts.evaluated", "%zu condition(s) observed, %zu firing", json_array_size(obs),
				    json_object_size(state));
			} else
				log_warn("alerts.eval", "out of memory: the conditions were not evaluated this time");
			json_decref(evs);
			json_decref(obs);
			json_decref(st);
		}
		pthread_mutex_lock(&a->mu);
		while (!a->stop && cs_time_mono_ms() < next)
			wait_until(a, next);
		stop = a->stop;
		pthread_mutex_unlock(&a->mu);
		if (stop)
			break;
	}
	json_decref(state);
	store_close(s);
	return NULL;
}

/* --- the delivering thread ------------------------------------------------------------------ */

/* Delivers v once. Returns 0 when done with it (delivered, or refused for good), 1 to retry. */
static int
deliver(struct alerts *a, struct http_client *c, struct ev *v)
{
	char sig[ALERTS_SIG_MAX], h_sig[ALERTS_SIG_MAX + 32], h_id[96], h_ev[48];
	const char *headers[] = { "Content-Type: application/json", "User-Agent: clmsync/" CLMSYNC_VERSION, h_sig, h_id,
		h_ev, NULL };
	struct http_request rq = { .method = "POST", .url = a->cfg->alerts.webhook_url, .headers = headers,
		.body = v->body, .body_len = strlen(v->body), .timeout_ms = ALERTS_TIMEOUT_MS, .max_response = 64 * 1024 };
	struct http_response rs;
	struct cs_error e = { 0 };
	const char *key = a->cfg->alerts.secret;
	cs_err rc;
	int retry;

	if ((rc = alerts_sign(key, strlen(key), cs_time_now_ms() / 1000, v->body, strlen(v->body), sig)) != CS_OK) {
		log_error("alerts.delivery", "%s %s (%s): cannot sign: %s", v->alert, v->status, v->id, cs_strerror(rc));
		return 0;
	}
	snprintf(h_sig, sizeof(h_sig), "X-Clmsync-Signature: %s", sig);
	snprintf(h_id, sizeof(h_id), "X-Clmsync-Delivery: %s", v->id);
	snprintf(h_ev, sizeof(h_ev), "X-Clmsync-Event: %s", v->status);
	http_response_init(&rs);
	rc = http_client_do(c, &rq, &rs, &e);
	explicit_bzero(sig, sizeof(sig));
	explicit_bzero(h_sig, sizeof(h_sig));
	/* e.msg names the whole URL, which may carry a path the receiver treats as a credential:
	 * the log names only the origin */
	if (rc == CS_OK && rs.status >= 200 && rs.status < 300) {
		log_info("alerts.delivered", "%s %s (%s) to %s: HTTP %ld", v->alert, v->status, v->id, a->origin, rs.status);
		retry = 0;
	} else if (rc == CS_OK && rs.status != 408 && rs.status != 429 && rs.status < 500) {
		log_error("alerts.delivery", "%s %s (%s) refused by %s: HTTP %ld; not retried", v->alert, v->status, v->id,
		    a->origin, rs.status);
		retry = 0;
	} else {
		if (rc == CS_OK)
			log_warn("alerts.delivery", "%s %s (%s) to %s: HTTP %ld (attempt %d of %d)", v->alert, v->status, v->id,
			    a->origin, rs.status, v->attempts + 1, ALERTS_ATTEMPTS_MAX);
		else
			log_warn("alerts.delivery", "%s %s (%s) to %s: %s (attempt %d of %d)", v->alert, v->status, v->id,
			    a->origin, cs_strerror(rc), v->attempts + 1, ALERTS_ATTEMPTS_MAX);
		retry = 1;
	}
	http_response_cleanup(&rs);
	return retry;
}

static void *
send_main(void *arg)
{
	struct alerts *a = arg;
	struct http_client *c = NULL;

	if (http_client_new(&c) != CS_OK)
		log_error("alerts.delivery", "out of memory: no alert will be delivered");
	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		struct ev *v;
		int retry;

		if (a->qn == 0 || c == NULL) {
			wait_until(a, 0);
			continue;
		}
		v = a->q[a->qhead];
		if (v->next_ms > cs_time_mono_ms()) {
			wait_until(a, v->next_ms);
			continue;
		}
		/* the head stays queued while it is delivered: order holds, and enqueue knows not to
		 * drop it */
		a->head_busy = true;
		pthread_mutex_unlock(&a->mu);
		retry = deliver(a, c, v);
		pthread_mutex_lock(&a->mu);
		a->head_busy = false;
		if (retry && ++v->attempts < ALERTS_ATTEMPTS_MAX) {
			int64_t wait = ALERTS_BACKOFF_MS;
			for (int k = 1; k < v->attempts && wait < ALERTS_BACKOFF_MAX_MS; k++)
				wait *= 2;
			v->next_ms = cs_time_mono_ms() + (wait < ALERTS_BACKOFF_MAX_MS ? wait : ALERTS_BACKOFF_MAX_MS);
			continue;
		}
		if (retry)
			log_error("alerts.delivery", "%s %s (%s) to %s: given up after %d attempts", v->alert, v->status, v->id,
			    a->origin, v->attempts);
		a->qhead = (a->qhead + 1) % ALERTS_QUEUE_MAX;
		a->qn--;
		ev_free(v);
	}
	pthread_mutex_unlock(&a->mu);
	http_client_free(c);
	return NULL;
}

/* --- start and stop ------------------------------------------------------------------------- */

/* "https://host:port" of url, for log lines. */
static void
origin_of(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	size_t len = p != NULL ? (size_t)(p + 3 - url) + strcspn(p + 3, "/?#") : strlen(url);

	snprintf(out, n, "%.*s", (int)len, url);
}

static bool
loopback_http(const char *url)
{
	static const char *const ok[] = { "http://127.0.0.1", "http://localhost", "http://[::1]" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t n = strlen(ok[i]);
		if (strncasecmp(url, ok[i], n) == 0 && (url[n] == '\0' || url[n] == ':' || url[n] == '/' || url[n] == '?'))
			return true;
	}
	return false;
}

cs_err
alerts_start(const struct alerts_opts *o, struct alerts **out, struct cs_error *e)
{
	const struct cs_config *cfg = o->cfg;
	pthread_condattr_t ca;
	struct alerts *a;

	*out = NULL;
	if (cfg->alerts.webhook_url == NULL || cfg->alerts.webhook_url[0] == '\0')
		return cs_error_set(e, CS_EINVAL, "alerts.webhook_url is not set");
	if (cfg->alerts.secret == NULL || strlen(cfg->alerts.secret) < CS_CONFIG_SECRET_MIN)
		return cs_error_set(e, CS_EINVAL, "the alert webhook has no signing key (alerts.secret_file or secret_env)");
	/* the loader refused these already; a configuration built another way is checked again */
	if (strncasecmp(cfg->alerts.webhook_url, "https://", 8) != 0 && !loopback_http(cfg->alerts.webhook_url))
		return cs_error_set(e, CS_EINVAL, "alerts.webhook_url: https://, or plain http only to this machine");
	if ((a = calloc(1, sizeof(*a))) == NULL || (a->store_url = strdup(o->store_url)) == NULL) {
		free(a);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	a->cfg = cfg;
	a->eng = o->eng;
	a->started_ms = o->started_ms;
	origin_of(cfg->alerts.webhook_url, a->origin, sizeof(a->origin));
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&a->send_th, NULL, send_main, a) != 0) {
		alerts_stop(a);
		return cs_error_set(e, CS_EIO, "cannot start the alert delivery thread");
	}
	a->send_on = true;
	if (pthread_create(&a->eval_th, NULL, eval_main, a) != 0) {
		alerts_stop(a);
		return cs_error_set(e, CS_EIO, "cannot start the alert thread");
	}
	a->eval_on = true;
	log_info("alerts.start", "alert webhook to %s, conditions evaluated every %u s", a->origin,
	    cfg->alerts.interval_s);
	*out = a;
	return CS_OK;
}

void
alerts_stop(struct alerts *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	if (a->eval_on)
		pthread_join(a->eval_th, NULL);
	if (a->send_on)
		pthread_join(a->send_th, NULL);
	if (a->qn > 0)
		log_warn("alerts.stop", "%zu alert event(s) not delivered at shutdown", a->qn);
	while (a->qn > 0) {
		ev_free(a->q[a->qhead]);
		a->qhead = (a->qhead + 1) % ALERTS_QUEUE_MAX;
		a->qn--;
	}
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a->store_url);
	free(a);
}

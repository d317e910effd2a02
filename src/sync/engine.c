/* engine.c - the sync engine's threads: per org a change-stream reader and a worker that plans and applies. */
#include "sync/audit.h"
#include "sync/sync_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct sync_engine {
	const struct cs_config *cfg;
	struct worker *w;
	size_t nw;
};

const int sync_lat_le_ms[SYNC_LAT_N] = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000 };

void
sync_count(struct worker *w, const struct cs_mapping *m, enum sync_mc what)
{
	for (size_t i = 0; m != NULL && i < w->nmaps; i++)
		if (w->maps[i] == m) {
			atomic_fetch_add(&w->mc[i][what], 1);
			return;
		}
}

void
sync_observe(struct worker *w, int dir, int64_t ms)
{
	size_t b = 0;

	if (ms < 0)
		ms = 0;     /* the two sides' clocks disagree: count it as instant */
	while (b < SYNC_LAT_N && ms > sync_lat_le_ms[b])
		b++;
	atomic_fetch_add(&w->lat[dir][b], 1);
	atomic_fetch_add(&w->lat_sum_ms[dir], (unsigned long long)ms);
	atomic_fetch_add(&w->lat_count[dir], 1);
}

void
sync_org_config(const struct cs_org *g, struct sf_org_config *sc)
{
	const struct cs_org_auth *a = &g->auth;

	memset(sc, 0, sizeof(*sc));
	sc->name = g->name;
	sc->login_url = g->login_url;
	sc->instance_url = g->instance_url[0] != '\0' ? g->instance_url : NULL;
	sc->api_version = g->api_version;
	sc->client_name = g->client_name;
	sc->client_id = a->client_id;
	switch (a->type) {
	case CS_AUTH_JWT_BEARER:
		sc->auth = SF_AUTH_JWT;
		sc->username = a->username;
		sc->key_file = a->private_key_file;
		break;
	case CS_AUTH_CLIENT_CREDENTIALS:
		sc->auth = SF_AUTH_CLIENT_CREDENTIALS;
		sc->client_secret = a->client_secret;
		break;
	case CS_AUTH_REFRESH_TOKEN:
		sc->auth = SF_AUTH_REFRESH_TOKEN;
		sc->refresh_token = a->refresh_token;
		sc->client_secret = a->client_secret[0] != '\0' ? a->client_secret : NULL;
		break;
	}
}

void
sync_kick(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->kick = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* The repository committed: every worker may have feed rows to plan. Writer thread. */
static void
on_commit(void *ud, long long seq)
{
	struct sync_engine *g = ud;

	(void)seq;
	for (size_t i = 0; i < g->nw; i++)
		sync_kick(&g->w[i]);
}

/* --- the change stream -------------------------------------------------------------------- */

void
sync_channel_of(const char *sobject, char *out, size_t n)
{
	size_t len = strlen(sobject);

	if (len > 3 && strcmp(sobject + len - 3, "__c") == 0)
		snprintf(out, n, "/data/%.*s__ChangeEvent", (int)(len - 3), sobject);
	else
		snprintf(out, n, "/data/%sChangeEvent", sobject);
}

/* The event's values: the payload's fields without the header, and null for each nulled field. */
static json_t *
event_values(const struct sf_event *ev)
{
	json_t *v = json_object(), *nulled;
	const char *k;
	json_t *x;
	size_t i;

	if (v == NULL)
		return NULL;
	json_object_foreach((json_t *)ev->payload, k, x) {
		if (strcmp(k, "ChangeEventHeader") != 0)
			json_object_set(v, k, x);
	}
	nulled = json_object_get(ev->header, "nulledFields");
	json_array_foreach(nulled, i, x) {
		if (json_is_string(x))
			json_object_set_new(v, json_string_value(x), json_null());
	}
	return v;
}

/* Appends the audit rows saying that a gap or overflow event arrived, one per mapping of its
 * object (and per record id of a gap), in the caller's transaction: the fact is on record exactly
 * once, with the event key the rows of its healing carry too. Stream thread. */
static cs_err
audit_gap(struct worker *w, const struct sf_event *ev, const char *event, const json_t *ids, struct cs_error *e)
{
	char detail[256], clm_id[CLM_ID_MAX];
	size_t k;
	json_t *idv;
	cs_err rc;

	for (size_t i = 0; i < w->nmaps; i++) {
		const struct cs_mapping *m = w->maps[i];
		struct sync_audit_row r = { .org = w->org->name, .mapping = m->name, .entity = cs_entity_name(m->entity),
			.decision = ev->kind == SF_EVENT_GAP ? "gap" : "overflow", .event = event, .detail = detail };

		if (strcasecmp(m->sobject, ev->entity) != 0)
			continue;
		if (ev->kind == SF_EVENT_OVERFLOW) {
			snprintf(detail, sizeof(detail), "%s: Salesforce could not say which %s records changed: they are "
			         "reconciled", ev->change_type, m->sobject);
			if ((rc = sync_audit_append(w->sst, &r, NULL, e)) != CS_OK)
				return rc;
			continue;
		}
		snprintf(detail, sizeof(detail), "%s: Salesforce could not say what changed: the record is read again",
		         ev->change_type);
		json_array_foreach(ids, k, idv) {
			if (!json_is_string(idv))
				continue;
			r.sf_id = json_string_value(idv);
			rc = sync_link_by_sf(w->sst, m, r.sf_id, clm_id, e);
			if (rc != CS_OK && rc != CS_ENOTFOUND)
				return rc;
			r.clm_id = rc == CS_OK ? clm_id : NULL;
			if ((rc = sync_audit_append(w->sst, &r, NULL, e)) != CS_OK)
				return rc;
		}
	}
	return CS_OK;
}

/* The floor entry of channel (one without a stored position at start), or NULL. */
static struct floor_ent *
floor_find(struct worker *w, const char *channel)
{
	for (size_t i = 0; i < w->nfloors; i++)
		if (strcmp(w->floors[i].channel, channel) == 0)
			return &w->floors[i];
	return NULL;
}

/* Stages one event in the inbox and its replay id in the cursor, in the stream's transaction
 * (on_flush commits it with the other events of the same answer). A replay id at or below the
 * stored one is a redelivery: a no-op. A failure rolls back everything staged since the last
 * flush: the stream offers the whole answer again. Stream thread. */
static int
on_event(void *ud, const struct sf_event *ev)
{
	struct worker *w = ud;
	struct cs_error e = { 0 };
	char key[STORE_KV_KEY_MAX], event[STORE_KV_KEY_MAX];
	long long have = 0;
	json_t *doc = NULL, *ids;
	int64_t commit_ms = 0;
	const struct floor_ent *fl = floor_find(w, ev->channel);
	cs_err rc;

	snprintf(key, sizeof(key), "cdc:%s:%s", w->org->name, ev->channel);
	snprintf(event, sizeof(event), "cdc:%s:%lld", ev->channel, ev->replay_id);
	ids = json_object_get(ev->header, "recordIds");
	if (json_is_integer(json_object_get(ev->header, "commitTimestamp")))
		commit_ms = json_integer_value(json_object_get(ev->header, "commitTimestamp"));
	doc = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:O?, s:o, s:I, s:s, s:I}",
	    "t", ev->kind == SF_EVENT_CHANGE ? "cdc" : ev->kind == SF_EVENT_GAP ? "gap" : "overflow",
	    "channel", ev->channel, "replay", (json_int_t)ev->replay_id, "entity", ev->entity,
	    "type", ev->change_type, "ours", ev->ours, "ids", ids, "values", event_values(ev),
	    "commit_ms", (json_int_t)commit_ms, "origin", ev->change_origin,
	    "recv_ms", (json_int_t)cs_time_now_ms());
	if (doc == NULL)
		goto fail;
	if (!store_in_transaction(w->sst)) {
		if ((rc = store_begin(w->sst, &e)) != CS_OK)
			goto fail;
		w->st_events = w->st_gaps = w->st_before = 0;
	}
	rc = sync_cursor_get(w->sst, key, "replay", &have, &e);
	if (rc == CS_OK && ev->replay_id <= have) {
		json_decref(doc);
		return 0;
	}
	/* replayed (on_resumed) from before the channel was followed: only its position is kept */
	if (rc == CS_ENOTFOUND && fl != NULL && fl->replaying && commit_ms > 0 && commit_ms < fl->since_ms) {
		if ((rc = sync_cursor_put(w->sst, key, "replay", ev->replay_id, &e)) != CS_OK)
			goto fail;
		json_decref(doc);
		w->st_before++;
		return 0;
	}
	if ((rc != CS_OK && rc != CS_ENOTFOUND) || (rc = sync_queue_push(w->sst, w->ns_inbox, doc, &e)) != CS_OK ||
	    (rc = sync_cursor_put(w->sst, key, "replay", ev->replay_id, &e)) != CS_OK ||
	    (ev->kind != SF_EVENT_CHANGE && (rc = audit_gap(w, ev, event, ids, &e)) != CS_OK))
		goto fail;
	json_decref(doc);
	w->st_events++;
	if (ev->kind != SF_EVENT_CHANGE)
		w->st_gaps++;
	return 0;
fail:
	store_rollback(w->sst);
	w->st_events = w->st_gaps = w->st_before = 0;
	log_warn("sync.inbox", "org %s: cannot store a change event: %s", w->org->name, doc ? e.msg : "out of memory");
	json_decref(doc);
	return -1;
}

/* Commits the events on_event staged: one transaction per long-poll answer, not one per event
 * (a burst arrives a few hundred to an answer). Stream thread. */
static int
on_flush(void *ud)
{
	struct worker *w = ud;
	struct cs_error e = { 0 };

	if (!store_in_transaction(w->sst))
		return 0;
	if (store_commit(w->sst, &e) != CS_OK) {
		store_rollback(w->sst);
		w->st_events = w->st_gaps = w->st_before = 0;
		log_warn("sync.inbox", "org %s: cannot store change events: %s", w->org->name, e.msg);
		return -1;
	}
	if (w->st_before > 0)
		log_info("sync.stream", "org %s: passed over %lu replayed event(s) committed before their channel was "
		         "followed", w->org->name, w->st_before);
	w->st_before = 0;
	if (w->st_events == 0)
		return 0;
	atomic_fetch_add(&w->n_events, w->st_events);
	/* counted here, where each one is stored once, not where it is planned (a retry plans again) */
	atomic_fetch_add(&w->n_gaps, w->st_gaps);
	w->st_events = w->st_gaps = 0;
	atomic_store(&w->last_event_ms, cs_time_now_ms());
	sync_kick(w);
	return 0;
}

/* Asks the worker for a reconcile of channel's mappings, for what may have been missed, and puts
 * the cause on record (decision, detail) in the same transaction. Stream thread. */
static void
request_reconcile(struct worker *w, const char *channel, const char *decision, const char *event, const char *detail)
{
	struct cs_error e = { 0 };
	struct sync_audit_row r = { .org = w->org->name, .decision = decision, .event = event, .detail = detail };
	json_t *doc = json_pack("{s:s, s:n, s:s, s:b, s:s, s:s}", "t", "reconcile", "mapping", "channel", channel,
	    "repair", 1, "why", detail, "cause", event);

	if (doc == NULL)
		return;
	on_flush(w);      /* nothing is staged between answers; should it be, it goes first */
	if (store_begin(w->sst, &e) != CS_OK || sync_queue_push(w->sst, w->ns_inbox, doc, &e) != CS_OK ||
	    sync_audit_append(w->sst, &r, NULL, &e) != CS_OK || store_commit(w->sst, &e) != CS_OK) {
		store_rollback(w->sst);
		log_warn("sync.reconcile", "org %s: cannot queue a reconcile (%s): %s", w->org->name, detail, e.msg);
	}
	json_decref(doc);
	atomic_fetch_add(&w->n_gaps, 1);
	sync_kick(w);
}

static void
on_replay_invalid(void *ud, const char *channel, long long bad, long long *resume)
{
	struct worker *w = ud;
	char event[STORE_KV_KEY_MAX], detail[STORE_KV_KEY_MAX + 128];

	/* Every event still retained is newer than the one the position names (it is refused because
	 * that one is gone): replaying them all (-2) skips nothing committed since the window passed
	 * it, up to the new subscription, which new events only (-1) would. What expired before is
	 * the reconcile's. */
	log_warn("sync.stream", "org %s: replay id %lld of %s is outside the retention window: replaying the events "
	         "still retained and reconciling what may have been missed", w->org->name, bad, channel);
	*resume = -2;
	snprintf(event, sizeof(event), "cdc:%s:%lld", channel, bad);
	snprintf(detail, sizeof(detail), "replay id %lld of %s is outside the retention window: resubscribed for "
	         "every event still retained; a full reconcile is queued", bad, channel);
	request_reconcile(w, channel, "replay_invalid", event, detail);
}

/* The stream subscribes channel again without a stored position (none of its events has come
 * since it was first followed, the time without_position marked). Every event still retained
 * is asked for, and those committed before that time are dropped (on_event): what changed while
 * clmsync was away is replayed, not skipped as new events only would. The reconcile covers what
 * expired meanwhile. Stream thread. */
static void
on_resumed(void *ud, const char *channel, long long *resume)
{
	struct worker *w = ud;
	struct floor_ent *f = floor_find(w, channel);
	char event[STORE_KV_KEY_MAX], detail[STORE_KV_KEY_MAX + 128];

	if (f != NULL && f->since_ms > 0) {
		f->replaying = true;
		*resume = -2;
	}
	log_info("sync.stream", "org %s: %s resubscribed without a stored position: %s and reconciling", w->org->name,
	         channel, *resume == -2 ? "replaying the events retained since it is followed" : "new events only");
	snprintf(event, sizeof(event), "cdc:%s", channel);
	snprintf(detail, sizeof(detail), "%s resubscribed after an outage without a stored position%s: a full "
	         "reconcile is queued", channel, *resume == -2 ? ", replaying the events retained since it is followed" : "");
	request_reconcile(w, channel, "stream_resumed", event, detail);
}

static void *
stream_main(void *arg)
{
	struct worker *w = arg;
	struct sf_error se;
	int64_t backoff = 1000;
	cs_err rc;

	while (!atomic_load(&w->stop)) {
		atomic_store(&w->stream_up, 1);
		sf_error_clear(&se);
		rc = sf_stream_run(w->stream, &w->stop, &se);
		/* stopped part-way through an answer: what it staged was never acknowledged */
		if (store_in_transaction(w->sst))
			store_rollback(w->sst);
		if (rc == CS_OK)
			break;
		atomic_store(&w->stream_up, 0);
		log_warn("sync.stream", "org %s: change stream stopped: %s; retrying in %lld ms", w->org->name,
		         se.message[0] ? se.message : cs_strerror(se.err), (long long)backoff);
		for (int64_t t = 0; t < backoff && !atomic_load(&w->stop); t += 100) {
			struct timespec ts = { 0, 100 * 1000000L };
			nanosleep(&ts, NULL);
		}
		if (backoff < 60000)
			backoff *= 2;
	}
	atomic_store(&w->stream_up, 0);
	return NULL;
}

/* --- the worker ---------------------------------------------------------------------------- */

static void
wait_for_work(struct worker *w, int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	if (ms > SYNC_IDLE_MS)
		ms = SYNC_IDLE_MS;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->kick && !atomic_load(&w->stop))
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	w->kick = false;
	pthread_mutex_unlock(&w->mu);
}

/* Idle work: one chunk of the marks of records Salesforce deleted that are older than any
 * event of theirs can be (SYNC_MARK_KEEP_MS). Returns whether there is more to look at now. */
static bool
prune_marks(struct worker *w)
{
	char ns[STORE_KV_NS_MAX], next[STORE_KV_KEY_MAX];
	struct cs_error e = { 0 };
	long long n = 0;

	if (w->prune_map >= w->nmaps) {
		w->prune_map = 0;
		w->prune_after[0] = '\0';
		w->next_prune_ms = cs_time_mono_ms() + SYNC_MARK_PRUNE_MS;
		return false;
	}
	sync_ns_sfdeleted(ns, w->maps[w->prune_map]);
	if (sync_marks_prune(w->st, ns, w->prune_after, 200, cs_time_now_ms() - SYNC_MARK_KEEP_MS, next, &n, &e) !=
	    CS_OK) {
		log_warn("sync.prune", "org %s: old marks of deleted records not removed: %s", w->org->name, e.msg);
		w->next_prune_ms = cs_time_mono_ms() + SYNC_IDLE_MS;   /* the store is busy: later */
		return false;
	}
	if (n > 0)
		log_info("sync.prune", "org %s: %s: %lld marks of records deleted in Salesforce over %lld hours ago removed",
		         w->org->name, w->maps[w->prune_map]->name, n, SYNC_MARK_KEEP_MS / 3600000);
	if (next[0] == '\0')
		w->prune_map++;
	memcpy(w->prune_after, next, sizeof(next));
	return true;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned interval = w->cfg->sync.reconcile.interval_s;
	unsigned long seen = 0;       /* w->n_pushed when the outbox was last read */
	int64_t apply_at = 0;         /* when it is to be read again all the same */

	w->next_reconcile_ms = interval ? cs_time_mono_ms() + (int64_t)interval * 1000 : INT64_MAX;
	while (!atomic_load(&w->stop)) {
		int64_t due = INT64_MAX, now;
		int a, b, c = 0;

		pthread_mutex_lock(&w->mu);
		w->kick = false;
		pthread_mutex_unlock(&w->mu);
		sync_pause_refresh(w);
		a = sync_plan_feed(w);
		b = cs_time_mono_ms() >= w->inbox_retry_ms ? sync_plan_inbox(w) : 0;
		/* The outbox is read when the planner has queued writes since the last read, when a
		 * waiting entry falls due (a retry, a batch holding for company) or after a write
		 * (more may be queued than one read takes), and at least every SYNC_IDLE_MS (another
		 * process or thread may queue: a DLQ replay). Every read parses what is queued, and a
		 * batch holding for company would otherwise be parsed again on every wake-up: the
		 * engine is woken by every commit of the repository. */
		if (w->n_pushed != seen || cs_time_mono_ms() >= apply_at) {
			seen = w->n_pushed;
			c = sync_apply(w, &due, a >= SYNC_BATCH_FEED || b >= SYNC_BATCH_INBOX);
			now = cs_time_mono_ms();
			apply_at = c != 0 ? 0 : due < now + SYNC_IDLE_MS ? due : now + SYNC_IDLE_MS;
		} else
			due = apply_at;
		now = cs_time_mono_ms();
		if (now >= w->next_reconcile_ms) {
			long long checked = 0, drift = 0;
			struct cs_error e = { 0 };
			if (w->cfg->sync.reconcile.interval_s && sf_org_budget_low(w->sfo,
			        (int)(100 - w->org->limits.daily_budget_reserve_pct))) {
				log_warn("sync.reconcile", "org %s: periodic reconcile skipped: the daily API budget is low",
				         w->org->name);
			} else if (sync_reconcile(w, NULL, 0, true, "reconcile:periodic", &checked, &drift, &e) != CS_OK)
				log_warn("sync.reconcile", "org %s: periodic reconcile failed: %s", w->org->name, e.msg);
			w->next_reconcile_ms = now + (int64_t)interval * 1000;
		}
		if (a > 0 || b > 0 || c > 0)
			continue;
		if (a == 0 && b == 0 && c == 0 && now >= w->next_prune_ms && prune_marks(w))
			continue;
		if (a < 0 || b < 0 || c < 0)
			wait_for_work(w, 200);
		else {
			int64_t until = due == INT64_MAX ? SYNC_IDLE_MS : due - cs_time_mono_ms();
			if (w->inbox_retry_ms > now && w->inbox_retry_ms - now < until)
				until = w->inbox_retry_ms - now;
			if (w->next_reconcile_ms - now < until)
				until = w->next_reconcile_ms - now;
			wait_for_work(w, until < 1 ? 1 : until);
		}
	}
	return NULL;
}

/* --- start and stop ------------------------------------------------------------------------ */

static void
worker_cleanup(struct worker *w)
{
	sf_stream_free(w->stream);
	json_decref(w->settled);
	json_decref(w->settled_grp);
	sf_client_free(w->sc);
	sf_org_free(w->sfo);
	store_close(w->st);
	store_close(w->sst);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

/* Channel ch has no stored replay id, so it is followed from new events only. The first run
 * that does so marks it (cursor "followed:<org>:<channel>"); a later run that finds the mark has
 * been down without a position, and what changed meanwhile is reconciled once the stream is up
 * (on_resumed). Worker's connection, before the threads start. */
static cs_err
without_position(struct worker *w, const char *ch, struct cs_error *e)
{
	char key[STORE_KV_KEY_MAX];
	long long since = 0;
	cs_err rc;

	if (w->nfloors == SYNC_MAPS_MAX || strlen(ch) >= sizeof(w->floors[0].channel))
		return cs_error_set(e, CS_ELIMIT, "org %s: cannot follow %s", w->org->name, ch);
	snprintf(key, sizeof(key), "followed:%s:%s", w->org->name, ch);
	rc = sync_cursor_get(w->st, key, "followed_ms", &since, e);
	if (rc == CS_OK) {
		if (sf_stream_mark_resumed(w->stream, ch) != CS_OK)
			return cs_error_set(e, CS_EIO, "org %s: %s is not subscribed", w->org->name, ch);
	} else if (rc != CS_ENOTFOUND)
		return rc;
	else {
		since = cs_time_now_ms();
		if ((rc = store_begin(w->st, e)) != CS_OK)
			return rc;
		if ((rc = sync_cursor_put(w->st, key, "followed_ms", since, e)) != CS_OK ||
		    (rc = store_commit(w->st, e)) != CS_OK) {
			store_rollback(w->st);
			return rc;
		}
	}
	snprintf(w->floors[w->nfloors].channel, sizeof(w->floors[0].channel), "%s", ch);
	w->floors[w->nfloors].since_ms = since;
	w->floors[w->nfloors++].replaying = false;
	return CS_OK;
}

static cs_err
worker_init(struct worker *w, struct sync_engine *g, const struct sync_opts *o, const struct cs_org *org,
            struct cs_error *e)
{
	struct sf_org_config sc;
	struct sf_error se;
	struct sf_stream_handlers h;
	pthread_condattr_t ca;
	cs_err rc;

	w->g = g;
	w->cfg = o->cfg;
	w->org = org;
	w->clm = o->clm;
	w->rnd = (uint64_t)cs_time_now_ms() ^ (uint64_t)(uintptr_t)w;
	snprintf(w->actor, sizeof(w->actor), "sync:%s", org->name);
	snprintf(w->ns_inbox, sizeof(w->ns_inbox), "inbox:%s", org->name);
	snprintf(w->ns_outbox, sizeof(w->ns_outbox), "outbox:%s", org->name);
	if ((w->settled = json_object()) == NULL || (w->settled_grp = json_object()) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	for (size_t i = 0; i < o->cfg->nmappings; i++) {
		if (strcmp(o->cfg->mappings[i].org, org->name) != 0)
			continue;
		if (w->nmaps == SYNC_MAPS_MAX)
			return cs_error_set(e, CS_ELIMIT, "org %s: more than %d mappings", org->name, SYNC_MAPS_MAX);
		w->maps[w->nmaps++] = &o->cfg->mappings[i];
	}
	if ((rc = store_open(o->store_url, &w->st, e)) != CS_OK || (rc = store_open(o->store_url, &w->sst, e)) != CS_OK)
		return rc;
	sync_org_config(org, &sc);
	sc.timeout_ms = 30000;
	sc.retry.max_attempts = 3;
	sc.retry.base_ms = 100;
	sc.retry.cap_ms = 2000;
	sc.retry.max_total_ms = 10000;
	sf_error_clear(&se);
	if ((rc = sf_org_new(&sc, &w->sfo, &se)) != CS_OK)
		return cs_error_set(e, rc, "org %s: %s", org->name, se.message);
	if (sf_client_new(w->sfo, &w->sc) != CS_OK)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	/* a write whose answer is lost is retried by the applier, which first looks whether our own
	 * change event shows it landed (apply.c landed()) */
	sf_client_caller_retries(w->sc);
	memset(&h, 0, sizeof(h));
	h.event = on_event;
	h.replay_invalid = on_replay_invalid;
	h.resumed_without_position = on_resumed;
	h.flush = on_flush;
	h.ud = w;
	if (sf_stream_new(w->sfo, NULL, &h, &w->stream) != CS_OK)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	for (size_t i = 0; i < w->nmaps; i++) {
		char ch[160], key[STORE_KV_KEY_MAX];
		long long replay = -1;
		bool dup = false;

		sync_channel_of(w->maps[i]->sobject, ch, sizeof(ch));
		for (size_t j = 0; j < i; j++)
			dup |= strcmp(w->maps[j]->sobject, w->maps[i]->sobject) == 0;
		if (dup)
			continue;
		snprintf(key, sizeof(key), "cdc:%s:%s", org->name, ch);
		if ((rc = sync_cursor_get(w->st, key, "replay", &replay, e)) != CS_OK && rc != CS_ENOTFOUND)
			return rc;
		if ((rc = sf_stream_subscribe(w->stream, ch, replay)) != CS_OK)
			return cs_error_set(e, rc, "org %s: cannot subscribe to %s", org->name, ch);
		if (replay == -1 && (rc = without_position(w, ch, e)) != CS_OK)
			return rc;
	}
	return CS_OK;
}

cs_err
sync_engine_start(const struct sync_opts *o, struct sync_engine **out, struct cs_error *e)
{
	struct sync_engine *g;
	cs_err rc = CS_OK;

	*out = NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	g->cfg = o->cfg;
	if (o->cfg->norgs > 0 && (g->w = calloc(o->cfg->norgs, sizeof(*g->w))) == NULL) {
		free(g);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < o->cfg->norgs; i++) {
		bool used = false;
		for (size_t j = 0; j < o->cfg->nmappings; j++)
			used |= strcmp(o->cfg->mappings[j].org, o->cfg->orgs[i].name) == 0;
		if (!used)
			continue;
		if ((rc = worker_init(&g->w[g->nw], g, o, &o->cfg->orgs[i], e)) != CS_OK) {
			g->nw++;
			goto fail;
		}
		g->nw++;
	}
	if (g->nw > 0 && (rc = clm_on_commit(o->clm, on_commit, g)) != CS_OK) {
		cs_error_set(e, rc, "cannot listen to the repository's commits");
		goto fail;
	}
	for (size_t i = 0; i < g->nw; i++) {
		struct worker *w = &g->w[i];
		if (pthread_create(&w->thr, NULL, worker_main, w) != 0 ||
		    !(w->thr_on = true) || pthread_create(&w->sthr, NULL, stream_main, w) != 0) {
			rc = cs_error_set(e, CS_EIO, "cannot start the engine's threads");
			goto fail;
		}
		w->sthr_on = true;
		/* for top -H, perf and /proc: cosmetic (a name is at most 15 bytes) */
		pthread_setname_np(w->thr, "sync-worker");
		pthread_setname_np(w->sthr, "sync-stream");
		log_info("sync.start", "org %s: %zu mapping(s), syncing as %s", w->org->name, w->nmaps, w->actor);
	}
	*out = g;
	return CS_OK;
fail:
	sync_engine_stop(g);
	return rc;
}

void
sync_engine_stop(struct sync_engine *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->nw; i++) {
		atomic_store(&g->w[i].stop, 1);
		sync_kick(&g->w[i]);
	}
	for (size_t i = 0; i < g->nw; i++) {
		struct worker *w = &g->w[i];
		if (w->thr_on)
			pthread_join(w->thr, NULL);
		if (w->sthr_on)
			pthread_join(w->sthr, NULL);
		log_info("sync.stop", "org %s: %llu events, %llu feed rows, %llu Salesforce calls for %llu records, "
		         "%llu repository writes, %llu echoes dropped, %llu conflicts, %llu to the DLQ, %llu gaps, "
		         "%llu reconciles, %llu drift", w->org->name,
		         (unsigned long long)w->n_events, (unsigned long long)w->n_feed, (unsigned long long)w->n_sf_calls,
		         (unsigned long long)w->n_sf_records, (unsigned long long)w->n_clm_writes,
		         (unsigned long long)w->n_echo, (unsigned long long)w->n_conflicts, (unsigned long long)w->n_dlq,
		         (unsigned long long)w->n_gaps, (unsigned long long)w->n_reconciles,
		         (unsigned long long)w->n_drift);
		worker_cleanup(w);
	}
	free(g->w);
	free(g);
}

static const char *const mc_names[SYNC_MC_N] = {
	"from_salesforce", "from_clm", "to_clm", "to_salesforce", "echoes", "conflicts", "dlq",
};

static json_t *
histogram(struct worker *w, int dir)
{
	json_t *b = json_array();

	for (size_t i = 0; b != NULL && i <= SYNC_LAT_N; i++)
		json_array_append_new(b, json_integer((json_int_t)atomic_load(&w->lat[dir][i])));
	return json_pack("{s:o, s:I, s:I}", "buckets", b, "count", (json_int_t)atomic_load(&w->lat_count[dir]),
	    "sum_ms", (json_int_t)atomic_load(&w->lat_sum_ms[dir]));
}

json_t *
sync_engine_status(struct sync_engine *g)
{
	json_t *orgs = json_array(), *le = json_array();

	for (size_t i = 0; i < SYNC_LAT_N && le != NULL; i++)
		json_array_append_new(le, json_integer(sync_lat_le_ms[i]));
	for (size_t i = 0; g != NULL && orgs != NULL && i < g->nw; i++) {
		struct worker *w = &g->w[i];
		struct sf_limits l;
		struct sf_stream_stats ss;
		json_t *maps = json_array(), *chans = json_object(), *o;

		sf_org_limits(w->sfo, &l);
		sf_stream_stats(w->stream, &ss);
		for (size_t k = 0; k < w->nmaps && maps != NULL; k++) {
			json_t *c = json_object();
			char ch[160];
			for (size_t j = 0; j < SYNC_MC_N && c != NULL; j++)
				json_object_set_new(c, mc_names[j], json_integer((json_int_t)atomic_load(&w->mc[k][j])));
			json_array_append_new(maps, json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", w->maps[k]->name,
			    "entity", cs_entity_name(w->maps[k]->entity), "sobject", w->maps[k]->sobject,
			    "paused", (w->paused >> k) & 1, "counters", c));
			sync_channel_of(w->maps[k]->sobject, ch, sizeof(ch));
			if (chans != NULL)
				json_object_set_new(chans, ch, json_integer(sf_stream_replay_id(w->stream, ch)));
		}
		o = json_pack("{s:s, s:{s:b, s:I, s:I, s:I, s:I, s:o}, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:o, s:o}, s:o}",
		    "org", w->org->name,
		    "stream", "connected", ss.connected, "since_ms", (json_int_t)ss.since_ms,
		    "reconnects", (json_int_t)ss.reconnects, "handshakes", (json_int_t)ss.handshakes,
		    "replay_invalid", (json_int_t)ss.replay_invalid, "replay", chans,
		    "last_event_ms", (json_int_t)atomic_load(&w->last_event_ms), "counters",
		    "events", (json_int_t)w->n_events, "feed_rows", (json_int_t)w->n_feed,
		    "sf_calls", (json_int_t)w->n_sf_calls, "sf_records", (json_int_t)w->n_sf_records,
		    "clm_writes", (json_int_t)w->n_clm_writes, "echoes", (json_int_t)w->n_echo,
		    "conflicts", (json_int_t)w->n_conflicts, "dlq", (json_int_t)w->n_dlq,
		    "retries", (json_int_t)w->n_retries, "reconciles", (json_int_t)w->n_reconciles,
		    "drift", (json_int_t)w->n_drift, "repaired", (json_int_t)w->n_repaired, "gaps", (json_int_t)w->n_gaps,
		    "api", "used", (json_int_t)l.used, "max", (json_int_t)l.max,
		    "reconcile", "last_ms", (json_int_t)atomic_load(&w->rec_last_ms),
		    "last_checked", (json_int_t)atomic_load(&w->rec_last_checked),
		    "last_drift", (json_int_t)atomic_load(&w->rec_last_drift),
		    "running_since_ms", (json_int_t)atomic_load(&w->rec_running_ms),
		    "progress", (json_int_t)atomic_load(&w->rec_progress),
		    "expected", (json_int_t)atomic_load(&w->rec_expected),
		    "latency_ms", "to_salesforce", histogram(w, SYNC_TO_SF), "to_clm", histogram(w, SYNC_TO_CLM),
		    "mappings", maps);
		if (o != NULL) {
			struct sf_auth_state as;
			sf_org_auth(w->sfo, &as);
			json_t *why = json_string(as.error);   /* NULL for text that is not UTF-8 */
			sf_org_auth(w->sfo, &as);
			json_object_set_new(o, "auth", json_pack("{s:b, s:I, s:I, s:I, s:o}", "authenticated", as.authenticated,
			    "login_ms", (json_int_t)as.login_ms, "failed_ms", (json_int_t)as.failed_ms,
			    "failures", (json_int_t)as.failures, "error", why ? why : json_string("(not printable)")));
			json_array_append_new(orgs, o);
		}
	}
	return json_pack("{s:o, s:o}", "latency_le_ms", le, "orgs", orgs);
}

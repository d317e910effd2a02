/* lag.c - the sync lag of the last hour, kept in the server: a fixed ring of samples per org. */
#include "admin/admin_int.h"
#include "store/store.h"
#include "sync/sync.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_WAIT_MS 1000   /* a sample waits this long for a store connection, then is skipped */

/* One org's ring: n samples, the oldest at head. */
struct ring {
	char org[CS_CONFIG_NAME_MAX];
	struct admin_lag_sample s[ADMIN_LAG_SAMPLES];
	size_t head, n;
	/* the sampling thread's own: the engine's counters at the previous sample (-1: none) */
	long long prev_sf, prev_clm;
};

struct admin_lag {
	struct ring *rings;
	size_t nrings;
	pthread_mutex_t mu;        /* guards the rings and stop */
	pthread_cond_t cv;         /* stop */
	bool stop;
	pthread_t th;
	bool running;
	struct sync_engine *eng;
	struct store_pool *pool;
};

static struct ring *
ring_of(struct admin_lag *l, const char *org)
{
	for (size_t i = 0; i < l->nrings; i++)
		if (strcmp(l->rings[i].org, org) == 0)
			return &l->rings[i];
	return NULL;
}

cs_err
admin_lag_new(const char *const *orgs, size_t norgs, struct admin_lag **out, struct cs_error *e)
{
	struct admin_lag *l;
	pthread_condattr_t ca;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL || (norgs > 0 && (l->rings = calloc(norgs, sizeof(*l->rings))) == NULL)) {
		free(l);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < norgs; i++) {
		struct ring *r = &l->rings[l->nrings];
		if (strlen(orgs[i]) >= sizeof(r->org) || ring_of(l, orgs[i]) != NULL)
			continue;
		memcpy(r->org, orgs[i], strlen(orgs[i]) + 1);
		r->prev_sf = r->prev_clm = -1;
		l->nrings++;
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = l;
	return CS_OK;
}

void
admin_lag_add(struct admin_lag *l, const char *org, const struct admin_lag_sample *s)
{
	struct ring *r;

	pthread_mutex_lock(&l->mu);
	if ((r = ring_of(l, org)) != NULL) {
		if (r->n < ADMIN_LAG_SAMPLES)
			r->s[(r->head + r->n++) % ADMIN_LAG_SAMPLES] = *s;
		else {
			r->s[r->head] = *s;
			r->head = (r->head + 1) % ADMIN_LAG_SAMPLES;
		}
	}
	pthread_mutex_unlock(&l->mu);
}

static json_t *
count_or_null(long long n)
{
	return n >= 0 ? json_integer(n) : json_null();
}

json_t *
admin_lag_json(struct admin_lag *l, int64_t since_ms)
{
	json_t *orgs = json_array(), *out;
	bool ok = orgs != NULL;

	/* at most ADMIN_LAG_SAMPLES small objects per org: built under the lock, which only the
	 * sampler (once every ADMIN_LAG_INTERVAL_S) and other readers wait for */
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; ok && i < l->nrings; i++) {
		const struct ring *r = &l->rings[i];
		json_t *arr = json_array();
		ok = arr != NULL && json_array_append_new(orgs, json_pack("{s:s, s:o}", "org", r->org, "samples", arr)) == 0;
		for (size_t k = 0; ok && k < r->n; k++) {
			const struct admin_lag_sample *s = &r->s[(r->head + k) % ADMIN_LAG_SAMPLES];
			if (s->t_ms < since_ms)
				continue;
			ok = json_array_append_new(arr, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
			    "t", (json_int_t)s->t_ms, "lag_ms", (json_int_t)s->lag_ms,
			    "lag_to_salesforce_ms", (json_int_t)s->lag_to_sf_ms, "lag_to_clm_ms", (json_int_t)s->lag_to_clm_ms,
			    "inbox", (json_int_t)s->inbox, "outbox", (json_int_t)s->outbox,
			    "feed_backlog", (json_int_t)s->feed_backlog, "to_salesforce", count_or_null(s->to_sf),
			    "to_clm", count_or_null(s->to_clm))) == 0;
		}
	}
	pthread_mutex_unlock(&l->mu);
	if (!ok || (out = json_pack("{s:i, s:o}", "interval_s", ADMIN_LAG_INTERVAL_S, "orgs", orgs)) == NULL) {
		json_decref(orgs);
		return NULL;
	}
	return out;
}

/* --- the sampling thread -------------------------------------------------------------------- */

/* The engine's counters for org in st (sync_engine_status): records written to Salesforce and
 * to the repository. False when the engine does not serve org. */
static bool
written(const json_t *st, const char *org, long long *sf, long long *clm)
{
	size_t i;
	json_t *o;

	json_array_foreach(json_object_get(st, "orgs"), i, o) {
		const json_t *c = json_object_get(o, "counters");
		if (strcmp(json_string_value(json_object_get(o, "org")) ?: "", org) != 0 || c == NULL)
			continue;
		*sf = (long long)json_integer_value(json_object_get(c, "sf_records"));
		*clm = (long long)json_integer_value(json_object_get(c, "clm_writes"));
		return true;
	}
	return false;
}

/* The count written since the previous sample, or -1 when unknown: no earlier figure, or one
 * larger than now (the counters started again). */
static long long
since_prev(long long prev, long long now)
{
	return prev >= 0 && now >= prev ? now - prev : -1;
}

/* Takes one sample of every org. A store that does not answer in time skips it: a gap in the
 * history says that nothing was known then. */
static void
sample_all(struct admin_lag *l)
{
	struct cs_error e = { 0 };
	struct store *s = NULL;
	json_t *st = l->eng ? sync_engine_status(l->eng) : NULL;
	int64_t now;

	if (store_pool_acquire(l->pool, POOL_WAIT_MS, &s, &e) != CS_OK) {
		log_debug("admin.lag", "no sample this time: %s", e.msg);
		json_decref(st);
		return;
	}
	now = cs_time_now_ms();
	for (size_t i = 0; i < l->nrings; i++) {
		struct ring *r = &l->rings[i];
		struct admin_lag_sample smp;
		struct admin_pending p;
		long long sf = -1, clm = -1;

		if (admin_pending_read(s, r->org, &p, &e) != CS_OK) {
			log_debug("admin.lag", "org %s: no sample this time: %s", r->org, e.msg);
			continue;
		}
		if (!written(st, r->org, &sf, &clm))
			sf = clm = -1;
		memset(&smp, 0, sizeof(smp));
		smp.t_ms = now;
		smp.lag_ms = admin_lag_of(p.oldest_to_sf_ms, p.oldest_to_clm_ms, now);
		smp.lag_to_sf_ms = admin_lag_of(p.oldest_to_sf_ms, 0, now);
		smp.lag_to_clm_ms = admin_lag_of(p.oldest_to_clm_ms, 0, now);
		smp.inbox = p.inbox;
		smp.outbox = p.outbox;
		smp.feed_backlog = p.feed_backlog;
		smp.to_sf = since_prev(r->prev_sf, sf);
		smp.to_clm = since_prev(r->prev_clm, clm);
		r->prev_sf = sf;
		r->prev_clm = clm;
		admin_lag_add(l, r->org, &smp);
	}
	store_pool_release(l->pool, s);
	json_decref(st);
}

static void *
sampler_main(void *arg)
{
	struct admin_lag *l = arg;
	int64_t next = cs_time_mono_ms();

	for (;;) {
		struct timespec ts;
		bool stop;

		sample_all(l);
		/* on the interval's grid; a sample that took longer than one interval skips the
		 * ones it overran rather than catching up in a burst */
		next += ADMIN_LAG_INTERVAL_S * 1000;
		if (next <= cs_time_mono_ms())
			next = cs_time_mono_ms() + ADMIN_LAG_INTERVAL_S * 1000;
		ts.tv_sec = (time_t)(next / 1000);
		ts.tv_nsec = (long)(next % 1000) * 1000000L;
		pthread_mutex_lock(&l->mu);
		while (!l->stop && cs_time_mono_ms() < next)
			pthread_cond_timedwait(&l->cv, &l->mu, &ts);
		stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		if (stop)
			break;
	}
	return NULL;
}

cs_err
admin_lag_run(struct admin_lag *l, struct sync_engine *eng, struct store_pool *pool, struct cs_error *e)
{
	if (l->running)
		return cs_error_set(e, CS_ESTATE, "the lag sampler runs already");
	l->eng = eng;
	l->pool = pool;
	if (pthread_create(&l->th, NULL, sampler_main, l) != 0)
		return cs_error_set(e, CS_EIO, "cannot start the lag sampler's thread");
	l->running = true;
	return CS_OK;
}

void
admin_lag_free(struct admin_lag *l)
{
	if (l == NULL)
		return;
	if (l->running) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->th, NULL);
	}
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l->rings);
	free(l);
}

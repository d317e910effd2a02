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
	pthread_mutex_lock(&c->mu);
	if (seq > c->head)
		c->head = seq;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
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

/* One read of the feed on a pooled connection. */
static cs_err
read_rows(struct clm *c, long long after, int limit, json_t **rows, struct clm_fail *f)
{
	struct store *s;
	struct cs_error e = { 0 };
	cs_err rc;

	if ((rc = store_pool_acquire(c->pool, CLM_POOL_WAIT_MS, &s, &e)) != CS_OK)
		return clm_fail_set(f, 503, "store_busy", NULL, "no store connection is free; retry");
	rc = store_changes_after(s, after, limit, rows, &e);
	store_pool_release(c->pool, s);
	if (rc != CS_OK)
		return clm_fail_set(f, 500, "internal", NULL, "cannot read the change feed");
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

cs_err
clm_changes(struct clm *c, long long after, int limit, int wait_ms, json_t **out, struct clm_fail *f)
{
	json_t *rows = NULL, *row;
	struct timespec dl;
	long long seen, next = after;
	size_t i;
	cs_err rc;

	*out = NULL;
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
		if ((rc = read_rows(c, after, limit, &rows, f)) != CS_OK)
			return rc;
		clock_gettime(CLOCK_MONOTONIC, &now);
		past = now.tv_sec > dl.tv_sec || (now.tv_sec == dl.tv_sec && now.tv_nsec >= dl.tv_nsec);
		if (json_array_size(rows) > 0 || wait_ms == 0 || past)
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
		json_decref(rows);
		rows = NULL;
	}
	json_array_foreach(rows, i, row) {
		json_t *ts = json_object_get(row, "ts");
		long long seq = cs_json_get_int(row, "seq", 0);
		if (json_is_integer(ts)) {
			char iso[32];
			cs_time_format_iso(json_integer_value(ts), iso, sizeof(iso));
			json_object_set_new(row, "ts", json_string(iso));
		}
		if (seq > next)
			next = seq;
	}
	*out = json_pack("{s:o,s:I}", "data", rows, "next_after", (json_int_t)next);
	if (*out == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	return CS_OK;
}

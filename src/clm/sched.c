/* sched.c - the scheduled pass: amendments, activation, expiry and auto-renewal when their date comes. */
#include "clm/clm.h"
#include "clm/clm_int.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef cs_err (*apply_fn)(struct clm *, const char *, int64_t, bool *, struct clm_fail *);

/* Pages through the records of kind matching the filters and applies fn to each. */
static cs_err
sweep(struct clm *c, const char *kind, const struct store_filter *flt, size_t nflt, apply_fn fn, int64_t today,
    int *done, struct cs_error *e)
{
	struct store_list_q q;
	char cursor[STORE_CURSOR_MAX] = "", next[STORE_CURSOR_MAX];
	cs_err rc = CS_OK;

	do {
		struct store *s;
		json_t *rows = NULL, *row;
		size_t i;

		memset(&q, 0, sizeof(q));
		q.kind = kind;
		memcpy(q.filters, flt, nflt * sizeof(*flt));
		q.nfilters = nflt;
		q.limit = CLM_SCHED_BATCH;
		q.cursor = cursor[0] ? cursor : NULL;
		next[0] = '\0';
		if ((rc = store_pool_acquire(c->pool, CLM_POOL_WAIT_MS, &s, e)) != CS_OK)
			return rc;
		rc = store_list(s, &q, &rows, next, e);
		store_pool_release(c->pool, s);
		if (rc != CS_OK)
			return rc;
		json_array_foreach(rows, i, row) {
			struct clm_fail f = { 0 };
			bool did = false;
			const char *id = cs_json_get_str(row, "id");
			if (id == NULL)
				continue;
			/* one record's failure (a rule that no longer holds) must not stop the others */
			if (fn(c, id, today, &did, &f) != CS_OK)
				log_warn("clm.sched", "%s %s: %s", kind, id, f.msg);
			else if (did && done)
				(*done)++;
		}
		json_decref(rows);
		memcpy(cursor, next, sizeof(cursor));
	} while (cursor[0]);
	return rc;
}

cs_err
clm_sched_run(struct clm *c, int64_t today, int *done, struct cs_error *e)
{
	char day[16];
	cs_err rc;

	if (done)
		*done = 0;
	if (today < 0)
		today = cs_date_today();
	cs_date_format(today, day, sizeof(day));
	pthread_mutex_lock(&c->sched_mu);
	{
		/* amendments first: an amendment extending the term must land before expiry is judged */
		const struct store_filter am[] = { { "status", STORE_EQ, "pending" }, { "effective_date", STORE_LE, day } };
		const struct store_filter act[] = { { "status", STORE_EQ, "signed" }, { "effective_date", STORE_LE, day } };
		const struct store_filter exp[] = { { "status", STORE_EQ, "active" }, { "expiration_date", STORE_LT, day } };
		rc = sweep(c, "amendment", am, 2, clm_sched_amendment, today, done, e);
		if (rc == CS_OK)
			rc = sweep(c, "contract", act, 2, clm_sched_contract, today, done, e);
		if (rc == CS_OK)
			rc = sweep(c, "contract", exp, 2, clm_sched_contract, today, done, e);
	}
	pthread_mutex_unlock(&c->sched_mu);
	return rc;
}

static void *
loop(void *arg)
{
	struct clm *c = arg;
	struct cs_error e = { 0 };
	int done;

	for (;;) {
		struct timespec dl;
		bool stop;
		if (clm_sched_run(c, -1, &done, &e) != CS_OK)
			log_warn("clm.sched", "scheduled pass failed: %s", e.msg);
		else if (done > 0)
			log_info("clm.sched", "scheduled pass made %d changes", done);
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += c->sched_interval_s;
		pthread_mutex_lock(&c->mu);
		while (!c->stopping && pthread_cond_timedwait(&c->sched_cond, &c->mu, &dl) != ETIMEDOUT)
			;
		stop = c->stopping;
		pthread_mutex_unlock(&c->mu);
		if (stop)
			break;
	}
	return NULL;
}

cs_err
clm_sched_start(struct clm *c, int interval_s, struct cs_error *e)
{
	pthread_condattr_t ca;

	if (c->sched_on)
		return cs_error_set(e, CS_ESTATE, "the scheduler already runs");
	if (interval_s < 1)
		return cs_error_set(e, CS_EINVAL, "the scheduler interval must be at least 1 s");
	c->sched_interval_s = interval_s;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&c->sched_cond, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		return cs_error_set(e, CS_ENOMEM, "cannot create the scheduler's condition");
	}
	pthread_condattr_destroy(&ca);
	if (pthread_create(&c->sched, NULL, loop, c) != 0) {
		pthread_cond_destroy(&c->sched_cond);
		return cs_error_set(e, CS_EIO, "cannot start the scheduler thread");
	}
	pthread_setname_np(c->sched, "clm-sched");
	c->sched_on = true;
	return CS_OK;
}

void
clm_free(struct clm *c)
{
	if (c == NULL)
		return;
	clm_wake_all(c);
	if (c->sched_on) {
		pthread_mutex_lock(&c->mu);
		pthread_cond_broadcast(&c->sched_cond);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->sched, NULL);
		pthread_cond_destroy(&c->sched_cond);
	}
	/* after the scheduler, which writes; the HTTP server is already stopped */
	clm_writer_stop(c);
	store_pool_free(c->pool);
	clm_feed_cleanup(c);
	free(c);
}

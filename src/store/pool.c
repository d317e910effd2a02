/* pool.c - a bounded pool of store connections for request threads (mutex + condition variable). */
#include "store/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MAX_MS (10 * 60 * 1000)   /* the longest acquire wait we accept */

struct store_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* signalled when a connection comes back or a slot frees */
	char *url;
	int max;
	int opened;                  /* connections open or being opened */
	int nidle;
	struct store *idle[STORE_POOL_MAX];
};

/* Creates a pool for url; see store.h. Returns a new pool in *out, caller frees with
 * store_pool_free(). Errors: CS_EINVAL for max, CS_ENOMEM, those of store_open. One thread. */
cs_err
store_pool_new(const char *url, int max, struct store_pool **out, struct cs_error *e)
{
	struct store_pool *p = NULL;
	pthread_condattr_t ca;
	struct store *s = NULL;
	cs_err err;

	*out = NULL;
	if (max < 1 || max > STORE_POOL_MAX)
		return cs_error_set(e, CS_EINVAL, "pool size must be 1..%d", STORE_POOL_MAX);
	/* open the first connection now: a bad URL or database is a start-up error, not a 503 */
	if ((err = store_open(url, &s, e)) != CS_OK)
		return err;
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->url = strdup(url)) == NULL)
		goto nomem;
	if (pthread_condattr_init(&ca) != 0)
		goto nomem;
	/* deadlines on the monotonic clock: a wall-clock step must not stretch or cut a wait */
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 || pthread_cond_init(&p->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		goto nomem;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		pthread_cond_destroy(&p->cv);
		goto nomem;
	}
	p->max = max;
	p->opened = 1;
	p->idle[p->nidle++] = s;
	*out = p;
	return CS_OK;
nomem:
	if (p != NULL)
		free(p->url);
	free(p);
	store_close(s);
	return cs_error_set(e, CS_ENOMEM, "out of memory");
}

/* Takes a connection, opening one when below max, else waiting up to timeout_ms (0 = do not
 * wait). *out is borrowed until store_pool_release(). CS_ETIMEOUT, CS_EINVAL, errors of
 * store_open. Thread-safe. */
cs_err
store_pool_acquire(struct store_pool *p, int timeout_ms, struct store **out, struct cs_error *e)
{
	struct timespec dl;
	struct store *s = NULL;
	cs_err err;
	int rc = 0;

	*out = NULL;
	if (timeout_ms < 0 || timeout_ms > WAIT_MAX_MS)
		return cs_error_set(e, CS_EINVAL, "pool wait must be 0..%d ms", WAIT_MAX_MS);
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->nidle > 0) {
			*out = p->idle[--p->nidle];
			pthread_mutex_unlock(&p->mu);
			return CS_OK;
		}
		if (p->opened < p->max)
			break;
		if (rc == ETIMEDOUT) {
			pthread_mutex_unlock(&p->mu);
			return cs_error_set(e, CS_ETIMEOUT, "no store connection free within %d ms",
			                    timeout_ms);
		}
		rc = pthread_cond_timedwait(&p->cv, &p->mu, &dl);
	}
	/* reserve the slot, then open without holding the lock: opening may wait on the database */
	p->opened++;
	pthread_mutex_unlock(&p->mu);
	err = store_open(p->url, &s, e);
	if (err != CS_OK) {
		pthread_mutex_lock(&p->mu);
		p->opened--;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return err;
	}
	*out = s;
	return CS_OK;
}

/* Gives s back, rolling back a transaction its user left open. NULL is a no-op. Thread-safe. */
void
store_pool_release(struct store_pool *p, struct store *s)
{
	if (s == NULL)
		return;
	if (store_in_transaction(s))
		store_rollback(s);
	pthread_mutex_lock(&p->mu);
	/* a connection released twice must not end up idle twice, handed to two threads */
	for (int i = 0; i < p->nidle; i++)
		if (p->idle[i] == s)
			s = NULL;
	if (s != NULL && p->nidle < p->max)
		p->idle[p->nidle++] = s;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Closes every connection and frees p; all must have been released. NULL is a no-op. */
void
store_pool_free(struct store_pool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->nidle; i++)
		store_close(p->idle[i]);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->url);
	free(p);
}

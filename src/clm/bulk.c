/* bulk.c - many creates as one atomic unit: chunks prepared on the caller's thread, applied by the writer in one transaction. */
#include "clm/clm.h"
#include "clm/clm_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * How. clm_bulk_begin queues ONE write (bulk_run) through clm_write, from a helper thread of the
 * bulk's own, since clm_write blocks until its transaction ends. When the writer reaches it,
 * bulk_run applies each chunk the caller hands over, in its savepoint of the writer's
 * transaction, and returns only when the caller commits (CS_OK: the writer commits) or aborts,
 * or a record is refused (the writer rolls the whole bulk back). Handing over is a one-slot
 * mailbox: the caller prepares chunk k+1 (validation, defaults, ids: the CPU-heavy part) while
 * the writer applies chunk k, and waits only for the slot to be free. So memory holds the chunk
 * being applied, the one waiting and the one being prepared, and a record refused by the store
 * is reported by the call after the one that added it, with its index over the whole bulk.
 *
 * Why not one clm_write per chunk: each would be its own transaction, and a refusal in chunk 9
 * could not undo chunks 1 to 8. Why not everything in one clm_write: all prepared records would
 * have to be in memory at once (about 3 KB each as JSON: 300 MB for 100,000 contracts).
 *
 * The bulk holds the writer while it is open, so the caller must not write otherwise meanwhile
 * (it would wait behind its own bulk): clm_write from the same thread is a deadlock, which the
 * idle deadline turns into a rolled-back bulk and a 500 after CLM_BULK_IDLE_MS.
 */

/* One record of a chunk: its create job and its own copy of the parent id the caller lent. */
struct bjob {
	struct clm_create_job j;
	char parent[CLM_ID_MAX];
};

struct chunk {
	struct bjob *jobs;
	size_t n;
	size_t base;                 /* index of jobs[0] over the whole bulk */
};

struct clm_bulk {
	struct clm *c;
	struct clm_op o;             /* lent to the writer while the bulk's write runs */
	char actor[CLM_ACTOR_MAX];
	pthread_t thr;
	bool thr_on;
	size_t total;                /* records added so far; caller's thread */
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* any change below */
	/* under mu */
	struct chunk *slot;          /* handed over, not yet taken by the writer */
	bool end, abort;             /* the caller commits / rolls back */
	bool done;                   /* clm_write has returned: rc, f and failed are final */
	cs_err rc;
	struct clm_fail f;
	size_t failed;               /* the refused record, SIZE_MAX when none is at fault */
};

static void
chunk_free(struct chunk *ch)
{
	if (ch == NULL)
		return;
	for (size_t i = 0; i < ch->n; i++)
		clm_create_job_cleanup(&ch->jobs[i].j);
	free(ch->jobs);
	free(ch);
}

/* Applies one chunk in o's transaction; on a refusal *at gets the record's index in the bulk. */
static cs_err
apply(struct clm_op *o, struct chunk *ch, size_t *at, struct clm_fail *f)
{
	int64_t now = cs_time_now_ms();
	cs_err rc = CS_OK;

	/* a long bulk stamps each chunk with its own time, never backwards (commit order) */
	o->now = clm_stamp(o->c, now > o->now ? now : o->now);
	for (size_t i = 0; i < ch->n && rc == CS_OK; i++) {
		if ((rc = clm_create_apply(o, &ch->jobs[i].j, f)) != CS_OK)
			*at = ch->base + i;
		/* the record is written: its memory goes now, not with the chunk */
		clm_create_job_cleanup(&ch->jobs[i].j);
	}
	return rc;
}

static void
deadline(struct timespec *dl, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, dl);
	dl->tv_sec += ms / 1000;
	dl->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl->tv_nsec >= 1000000000L) {
		dl->tv_sec++;
		dl->tv_nsec -= 1000000000L;
	}
}

/* The bulk's write, in the writer thread: applies the chunks as they come. */
static cs_err
bulk_run(struct clm_op *o, void *arg, struct clm_fail *f)
{
	struct clm_bulk *b = arg;
	struct timespec dl;
	struct chunk *ch;
	size_t at = SIZE_MAX;
	cs_err rc;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		bool late = false;
		deadline(&dl, CLM_BULK_IDLE_MS);
		while (b->slot == NULL && !b->end && !b->abort && !late)
			late = pthread_cond_timedwait(&b->cv, &b->mu, &dl) == ETIMEDOUT;
		if (b->abort) {
			rc = clm_fail_set(f, 500, "aborted", NULL, "the bulk was abandoned");
			break;
		}
		if (b->slot == NULL && b->end) {
			rc = CS_OK;
			break;
		}
		if (b->slot == NULL) {
			log_error("clm.bulk", "no records came for %d ms: rolling the bulk back", CLM_BULK_IDLE_MS);
			rc = clm_fail_set(f, 500, "internal", NULL, "the bulk waited too long for its next records");
			break;
		}
		ch = b->slot;
		b->slot = NULL;
		pthread_cond_broadcast(&b->cv);
		pthread_mutex_unlock(&b->mu);
		rc = apply(o, ch, &at, f);
		chunk_free(ch);
		pthread_mutex_lock(&b->mu);
		if (rc != CS_OK) {
			b->failed = at;
			break;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return rc;
}

static void *
bulk_main(void *arg)
{
	struct clm_bulk *b = arg;
	struct clm_fail f;
	cs_err rc;

	memset(&f, 0, sizeof(f));
	rc = clm_write(b->c, &b->o, bulk_run, b, 0, &f);
	pthread_mutex_lock(&b->mu);
	b->rc = rc;
	b->f = f;
	b->done = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

static void
bulk_free(struct clm_bulk *b)
{
	chunk_free(b->slot);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

/* Starts a bulk and queues its write; see clm.h. */
cs_err
clm_bulk_begin(struct clm *c, const char *actor, struct clm_bulk **out, struct clm_fail *f)
{
	struct clm_bulk *b;
	pthread_condattr_t ca;
	bool bad;
	cs_err rc;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	b->c = c;
	b->failed = SIZE_MAX;
	/* the op keeps a pointer to the actor: the bulk's own copy outlives the caller's */
	snprintf(b->actor, sizeof(b->actor), "%s", actor ? actor : "");
	if ((rc = clm_op_write(&b->o, c, actor && strlen(actor) < CLM_ACTOR_MAX ? b->actor : NULL, f)) != CS_OK) {
		free(b);
		return rc;
	}
	if (pthread_mutex_init(&b->mu, NULL) != 0) {
		free(b);
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	}
	/* the writer's wait for the next chunk has a deadline, on the monotonic clock */
	if (pthread_condattr_init(&ca) != 0) {
		pthread_mutex_destroy(&b->mu);
		free(b);
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	}
	bad = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 || pthread_cond_init(&b->cv, &ca) != 0;
	pthread_condattr_destroy(&ca);
	if (bad) {
		pthread_mutex_destroy(&b->mu);
		free(b);
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	}
	if (pthread_create(&b->thr, NULL, bulk_main, b) != 0) {
		bulk_free(b);
		return clm_fail_set(f, 500, "internal", NULL, "cannot start the bulk's thread");
	}
	b->thr_on = true;
	*out = b;
	return CS_OK;
}

/* The writer's verdict, once done; fills failed and f. */
static cs_err
verdict(struct clm_bulk *b, size_t *failed, struct clm_fail *f)
{
	if (failed != NULL)
		*failed = b->failed;
	*f = b->f;
	return b->rc != CS_OK ? b->rc : CS_EINTERNAL;
}

/* Prepares a chunk here and hands it to the writer; see clm.h. */
cs_err
clm_bulk_add(struct clm_bulk *b, struct clm_new *items, size_t n, size_t *failed, struct clm_fail *f)
{
	struct chunk *ch = NULL;
	cs_err rc = CS_OK;

	if (failed != NULL)
		*failed = SIZE_MAX;
	if (n > CLM_BULK_CHUNK_MAX)
		return clm_fail_set(f, 413, "too_many", NULL, "at most %d records in one chunk", CLM_BULK_CHUNK_MAX);
	if (n == 0)
		return CS_OK;
	if ((ch = calloc(1, sizeof(*ch))) == NULL || (ch->jobs = calloc(n, sizeof(*ch->jobs))) == NULL) {
		free(ch);
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	}
	ch->base = b->total;
	/* the CPU-heavy part, on this thread while the writer applies the chunk before */
	for (size_t i = 0; i < n; i++) {
		struct bjob *bj = &ch->jobs[i];
		const char *pid = items[i].parent_id;
		ch->n = i + 1;
		bj->j.k = items[i].kind;
		if ((int)items[i].kind < 0 || (int)items[i].kind >= CLM_KIND_COUNT)
			rc = clm_fail_set(f, 422, "invalid_value", NULL, "not a record kind");
		else if (pid != NULL && strlen(pid) >= sizeof(bj->parent))
			rc = clm_fail_set(f, 404, "not_found", NULL, "no such contract");
		if (rc == CS_OK && pid != NULL) {
			snprintf(bj->parent, sizeof(bj->parent), "%s", pid);
			bj->j.parent_id = bj->parent;
		}
		snprintf(bj->j.id, sizeof(bj->j.id), "%s", items[i].id);
		if (rc == CS_OK)
			rc = clm_create_prepare(&b->o, &bj->j, items[i].body, f);
		if (rc != CS_OK) {
			if (failed != NULL)
				*failed = b->total + i;
			chunk_free(ch);
			return rc;
		}
		snprintf(items[i].id, sizeof(items[i].id), "%s", bj->j.id);
	}
	pthread_mutex_lock(&b->mu);
	while (b->slot != NULL && !b->done)
		pthread_cond_wait(&b->cv, &b->mu);
	if (b->done) {
		/* the writer refused an earlier chunk, or the bulk never got a transaction */
		rc = verdict(b, failed, f);
		pthread_mutex_unlock(&b->mu);
		chunk_free(ch);
		return rc;
	}
	b->slot = ch;
	b->total += n;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return CS_OK;
}

/* Tells the writer how the bulk ends and waits for its verdict. */
static cs_err
finish(struct clm_bulk *b, bool commit, size_t *failed, struct clm_fail *f)
{
	cs_err rc;

	pthread_mutex_lock(&b->mu);
	if (commit)
		b->end = true;
	else
		b->abort = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thr, NULL);
	b->thr_on = false;
	if (b->rc == CS_OK) {
		if (failed != NULL)
			*failed = SIZE_MAX;
		rc = CS_OK;
	} else
		rc = verdict(b, failed, f);
	bulk_free(b);
	return rc;
}

/* Commits the bulk and frees it; see clm.h. */
cs_err
clm_bulk_commit(struct clm_bulk *b, size_t *failed, struct clm_fail *f)
{
	return finish(b, true, failed, f);
}

/* Rolls the bulk back and frees it; see clm.h. */
void
clm_bulk_abort(struct clm_bulk *b)
{
	struct clm_fail f;

	if (b != NULL)
		finish(b, false, NULL, &f);
}

/* A bulk of one chunk; see clm.h. */
cs_err
clm_create_many(struct clm *c, struct clm_new *items, size_t n, const char *actor, size_t *failed,
    struct clm_fail *f)
{
	struct clm_bulk *b = NULL;
	cs_err rc;

	if (failed != NULL)
		*failed = SIZE_MAX;
	if (n == 0)
		return CS_OK;
	if ((rc = clm_bulk_begin(c, actor, &b, f)) != CS_OK)
		return rc;
	if ((rc = clm_bulk_add(b, items, n, failed, f)) != CS_OK) {
		clm_bulk_abort(b);
		return rc;
	}
	return clm_bulk_commit(b, failed, f);
}

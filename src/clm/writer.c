/* writer.c - group commit: one thread runs every write of the repository, many to a transaction. */
#include "clm/clm.h"
#include "clm/clm_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Why. SQLite has one writer at a time, and a commit costs nearly the same whether it carries one
 * write or a hundred: the pages it touched (records, history, change feed, sequence, indexes) go
 * to the WAL whole, about ten of them for a single create. With a transaction per request, N
 * concurrent writers queued on the write lock and wrote those same pages N times over. Here the
 * request threads queue their writes; the writer thread takes everything queued (at most
 * CLM_BATCH_MAX writes, CLM_BATCH_BYTES of document content), runs each write inside its own
 * savepoint of ONE transaction, commits once and only then answers each its own result. No
 * timer: a batch is whatever queued while the previous one ran, so a lone write goes at once.
 *
 * Semantics. The writes of a batch run one after another on one connection, in queue order,
 * which is exactly serial execution: each stays atomic and isolated, and later writes see the
 * earlier ones. A write that fails is rolled back to its savepoint and answered with its own
 * error; the rest of the batch goes on. Nothing is answered before the commit that holds it has
 * returned, so an acknowledged write is as durable as before (sqlite.c) and a read that follows
 * the answer sees it. A failed commit fails every write of its batch, and none of it is visible.
 * One connection appends every change row, in run order, so seq order is commit order; the
 * feed's long polls are woken once per batch, after its writers.
 *
 * Reads never come here: they use the pool, and WAL readers do not wait for the writer.
 */

/* One queued write; lives on the stack of the thread that waits for it. */
struct wreq {
	struct wreq *next;           /* under qmu while queued; the writer's own list after */
	struct clm_op *o;
	clm_write_fn fn;
	void *arg;
	size_t weight;
	struct clm_fail *f;
	cs_err rc;
	bool done;                   /* under qmu: rc and *f are final, the writer is done with us */
	pthread_cond_t cv;           /* signalled once, with done */
};

/* Fills f for a store failure the write itself did not cause; returns the matching cs_err. */
static cs_err
store_fail(struct clm_fail *f, cs_err rc, const struct cs_error *e, const char *what)
{
	if (rc == CS_ETIMEOUT)
		return clm_fail_set(f, 503, "store_busy", NULL, "the store is busy; retry");
	log_error("clm.writer", "%s: %s: %s", what, cs_strerror(rc), e->msg);
	return clm_fail_set(f, 500, "internal", NULL, "the store failed");
}

/* See clm_int.h. Whoever writes holds the store's write lock while it stamps, so the stamps of
 * two writers never interleave with their commits; the maximum is kept lock-free all the same. */
int64_t
clm_stamp(struct clm *c, int64_t now)
{
	int64_t last = atomic_load(&c->wlast);

	while (now > last && !atomic_compare_exchange_weak(&c->wlast, &last, now))
		;
	return now > last ? now : last;
}

/* fn succeeded: its answer is built while the write can still be undone (clm_op.ans_rec). */
static cs_err
build_answer(struct clm_op *o, struct clm_fail *f)
{
	if (o->ans_rec == NULL)
		return CS_OK;
	json_decref(o->ans);
	if ((o->ans = clm_record_json(o->ans_rec, o->today)) == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory writing the answer; nothing was changed");
	return CS_OK;
}

/* Runs one write in its own savepoint (none when it is alone in its transaction: the
 * transaction's rollback does the same); leaves r->rc and, on failure, nothing of it. */
static void
run_one(struct clm *c, struct wreq *r, bool alone)
{
	struct clm_op *o = r->o;
	struct cs_error e = { 0 };
	int64_t now = cs_time_now_ms();
	cs_err rc;

	o->s = c->ws;
	o->now = clm_stamp(c, now);
	o->seq = 0;
	if (alone) {
		if ((r->rc = r->fn(o, r->arg, r->f)) == CS_OK)
			r->rc = build_answer(o, r->f);
	} else if ((rc = store_savepoint(c->ws, &o->e)) != CS_OK) {
		r->rc = store_fail(r->f, rc, &o->e, "savepoint");
	} else {
		if ((r->rc = r->fn(o, r->arg, r->f)) == CS_OK)
			r->rc = build_answer(o, r->f);
		if (r->rc == CS_OK && (rc = store_release(c->ws, &o->e)) != CS_OK)
			r->rc = store_fail(r->f, rc, &o->e, "release");
		/* a failed rollback_to has rolled back the whole transaction: the caller sees it gone */
		if (r->rc != CS_OK && store_rollback_to(c->ws, &e) != CS_OK)
			log_error("clm.writer", "%s", e.msg);
	}
	o->s = NULL;
}

/* Runs the writes of batch in one transaction and sets each one's result. Returns the highest
 * change seq committed, 0 when none. Writer thread. */
static long long
run_batch(struct clm *c, struct wreq *batch)
{
	struct cs_error e = { 0 };
	struct clm_fail bf;
	struct wreq *r;
	long long seq = 0;
	bool live;
	cs_err rc, brc;

	if ((rc = store_begin(c->ws, &e)) != CS_OK) {
		brc = store_fail(&bf, rc, &e, "begin");
		for (r = batch; r != NULL; r = r->next) {
			*r->f = bf;
			r->rc = brc;
		}
		return 0;
	}
	live = true;
	for (r = batch; r != NULL; r = r->next) {
		if (!live) {
			r->rc = clm_fail_set(r->f, 500, "internal", NULL, "the store failed");
			continue;
		}
		run_one(c, r, batch->next == NULL);
		/* SQLite ends the whole transaction by itself after some errors (disk full, I/O): what
		 * the batch did so far went with it, so no write of it may be acknowledged */
		live = store_in_transaction(c->ws);
	}
	if (live && batch->next == NULL && batch->rc != CS_OK) {
		store_rollback(c->ws);       /* the lone write failed: it had no savepoint */
		return 0;
	}
	if (live)
		rc = store_commit(c->ws, &e);
	else
		rc = cs_error_set(&e, CS_EIO, "the transaction was rolled back by the store");
	if (rc != CS_OK) {
		store_rollback(c->ws);
		brc = store_fail(&bf, rc, &e, "commit");
		for (r = batch; r != NULL; r = r->next)
			if (r->rc == CS_OK) {
				*r->f = bf;
				r->rc = brc;
			}
		return 0;
	}
	for (r = batch; r != NULL; r = r->next)
		if (r->rc == CS_OK && r->o->seq > seq)
			seq = r->o->seq;
	return seq;
}

static void *
writer_main(void *arg)
{
	struct clm *c = arg;
	struct wreq *batch, *last, *r, *next;
	size_t n, bytes;
	long long seq;

	pthread_mutex_lock(&c->qmu);
	for (;;) {
		while (c->qhead == NULL && !c->wstop)
			pthread_cond_wait(&c->qwork, &c->qmu);
		if (c->qhead == NULL)
			break;               /* stopping, and every queued write has run */
		/* everything queued, up to the caps; the first write goes whatever its size */
		batch = last = c->qhead;
		n = 1;
		bytes = batch->weight;
		while (last->next != NULL && n < CLM_BATCH_MAX && bytes + last->next->weight <= CLM_BATCH_BYTES) {
			last = last->next;
			bytes += last->weight;
			n++;
		}
		if (c->qlen >= CLM_QUEUE_MAX)
			pthread_cond_broadcast(&c->qroom);
		c->qhead = last->next;
		if (c->qhead == NULL)
			c->qtail = NULL;
		last->next = NULL;
		c->qlen -= n;
		pthread_mutex_unlock(&c->qmu);

		seq = run_batch(c, batch);

		pthread_mutex_lock(&c->qmu);
		c->nbatches++;
		c->nops += n;
		for (r = batch; r != NULL; r = next) {
			/* once done is seen the waiter may return and its wreq is gone */
			next = r->next;
			r->done = true;
			pthread_cond_signal(&r->cv);
		}
		if (seq > 0) {
			pthread_mutex_unlock(&c->qmu);
			clm_feed_notify(c, seq);
			pthread_mutex_lock(&c->qmu);
		}
	}
	pthread_mutex_unlock(&c->qmu);
	return NULL;
}

/* Starts the writer; see clm_int.h. On failure nothing is left to stop. */
cs_err
clm_writer_start(struct clm *c, const char *url, struct cs_error *e)
{
	pthread_condattr_t ca;
	cs_err rc;

	if (pthread_mutex_init(&c->qmu, NULL) != 0)
		return cs_error_set(e, CS_ENOMEM, "cannot create the write queue's lock");
	if (pthread_cond_init(&c->qwork, NULL) != 0)
		goto nomem1;
	/* a queue-full wait has a deadline, on the monotonic clock */
	if (pthread_condattr_init(&ca) != 0)
		goto nomem2;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 || pthread_cond_init(&c->qroom, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		goto nomem2;
	}
	pthread_condattr_destroy(&ca);
	if ((rc = store_open(url, &c->ws, e)) != CS_OK)
		goto fail;
	if (pthread_create(&c->wthr, NULL, writer_main, c) != 0) {
		store_close(c->ws);
		c->ws = NULL;
		rc = cs_error_set(e, CS_EIO, "cannot start the writer thread");
		goto fail;
	}
	pthread_setname_np(c->wthr, "clm-writer");   /* for top -H, perf and /proc: cosmetic */
	c->won = true;
	return CS_OK;
fail:
	pthread_cond_destroy(&c->qroom);
	pthread_cond_destroy(&c->qwork);
	pthread_mutex_destroy(&c->qmu);
	return rc;
nomem2:
	pthread_cond_destroy(&c->qwork);
nomem1:
	pthread_mutex_destroy(&c->qmu);
	return cs_error_set(e, CS_ENOMEM, "cannot create the write queue");
}

/* Drains the queue and stops the writer; see clm_int.h. */
void
clm_writer_stop(struct clm *c)
{
	if (!c->won)
		return;
	pthread_mutex_lock(&c->qmu);
	c->wstop = true;
	pthread_cond_signal(&c->qwork);
	pthread_cond_broadcast(&c->qroom);
	pthread_mutex_unlock(&c->qmu);
	pthread_join(c->wthr, NULL);
	/* every queued write has been answered; let their callers leave clm_write (they need qmu to
	 * return) before the queue's lock and conditions go */
	pthread_mutex_lock(&c->qmu);
	while (c->inflight > 0)
		pthread_cond_wait(&c->qroom, &c->qmu);
	pthread_mutex_unlock(&c->qmu);
	c->won = false;
	if (c->nops > 0)
		log_info("clm.writer", "%llu writes in %llu transactions", c->nops, c->nbatches);
	store_close(c->ws);
	c->ws = NULL;
	pthread_cond_destroy(&c->qroom);
	pthread_cond_destroy(&c->qwork);
	pthread_mutex_destroy(&c->qmu);
}

/* Queues one write and waits for its batch; see clm_int.h. */
cs_err
clm_write(struct clm *c, struct clm_op *o, clm_write_fn fn, void *arg, size_t weight, struct clm_fail *f)
{
	struct wreq r;
	struct timespec dl;
	bool late = false;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.fn = fn;
	r.arg = arg;
	r.weight = weight;
	r.f = f;
	if (pthread_cond_init(&r.cv, NULL) != 0)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	pthread_mutex_lock(&c->qmu);
	if (c->qlen >= CLM_QUEUE_MAX) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += CLM_POOL_WAIT_MS / 1000;
		dl.tv_nsec += (long)(CLM_POOL_WAIT_MS % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		while (c->qlen >= CLM_QUEUE_MAX && !c->wstop && !late)
			late = pthread_cond_timedwait(&c->qroom, &c->qmu, &dl) == ETIMEDOUT;
	}
	if (c->wstop || c->qlen >= CLM_QUEUE_MAX) {
		bool stopping = c->wstop;

		pthread_mutex_unlock(&c->qmu);
		pthread_cond_destroy(&r.cv);
		if (stopping)
			return clm_fail_set(f, 503, "shutting_down", NULL, "the repository is shutting down");
		return clm_fail_set(f, 503, "store_busy", NULL, "too many writes are waiting; retry");
	}
	if (c->qtail != NULL)
		c->qtail->next = &r;
	else
		c->qhead = &r;
	c->qtail = &r;
	c->qlen++;
	c->inflight++;
	pthread_cond_signal(&c->qwork);
	while (!r.done)
		pthread_cond_wait(&r.cv, &c->qmu);
	if (--c->inflight == 0 && c->wstop)
		pthread_cond_broadcast(&c->qroom);
	pthread_mutex_unlock(&c->qmu);
	pthread_cond_destroy(&r.cv);
	return r.rc;
}

/* Runs fn in a savepoint of the caller's transaction on s; see clm_int.h. */
cs_err
clm_write_in(struct clm *c, struct store *s, struct clm_op *o, clm_write_fn fn, void *arg, struct clm_fail *f)
{
	struct cs_error e = { 0 };
	cs_err rc;

	if (!store_in_transaction(s))
		return clm_fail_set(f, 500, "internal", NULL, "a write in a transaction needs an open one");
	o->s = s;
	o->now = clm_stamp(c, cs_time_now_ms());
	o->seq = 0;
	if ((rc = store_savepoint(s, &o->e)) != CS_OK) {
		o->s = NULL;
		return store_fail(f, rc, &o->e, "savepoint");
	}
	if ((rc = fn(o, arg, f)) == CS_OK)
		rc = build_answer(o, f);
	if (rc == CS_OK && (rc = store_release(s, &o->e)) != CS_OK)
		rc = store_fail(f, rc, &o->e, "release");
	if (rc != CS_OK && store_rollback_to(s, &e) != CS_OK)
		log_error("clm.writer", "%s", e.msg);
	o->s = NULL;
	return rc;
}

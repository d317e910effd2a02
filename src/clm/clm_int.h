/* clm_int.h - private to src/clm: shared pieces of the repository's own files. */
#ifndef CS_CLM_INT_H
#define CS_CLM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include "clm/clm.h"
#include "store/store.h"

#define CLM_NUMBER_COUNTER "contract_number"
#define CLM_POOL_WAIT_MS 5000      /* a request waits this long for a store connection */
#define CLM_SCHED_BATCH 100        /* contracts one scheduler query returns */
#define CLM_QUEUE_MAX 4096         /* writes waiting for the writer thread */
#define CLM_BATCH_MAX 256          /* writes in one transaction at most */
#define CLM_BATCH_BYTES (32u << 20) /* document content in one transaction, past its first write */

struct wreq;

#define CLM_LISTENERS_MAX 8

/* The repository service. */
struct clm {
	struct store_pool *pool;       /* reads */
	const struct clm_schema *schema;
	size_t max_doc;
	/* change-feed wake-up: the writer bumps head after each commit and broadcasts */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	long long head;
	bool stopping;
	/* commit listeners (clm_on_commit), called by the writer after each commit, outside mu */
	void (*listen_fn[CLM_LISTENERS_MAX])(void *ud, long long seq);
	void *listen_ud[CLM_LISTENERS_MAX];
	int nlisten;
	/* The writer (writer.c): the only thread that writes, on its own connection. */
	struct store *ws;
	pthread_t wthr;
	bool won;
	_Atomic int64_t wlast;         /* the last "now" handed to a write (clm_stamp) */
	pthread_mutex_t qmu;           /* guards everything below */
	pthread_cond_t qwork;          /* a write was queued, or wstop was set */
	pthread_cond_t qroom;          /* the queue has room again; or, stopping, the last caller left */
	struct wreq *qhead, *qtail;
	size_t qlen;
	int inflight;                  /* callers inside clm_write: stop waits for them to leave */
	bool wstop;
	unsigned long long nbatches, nops; /* for the log at shutdown */
	/* scheduler */
	pthread_t sched;
	bool sched_on;
	int sched_interval_s;
	pthread_mutex_t sched_mu;      /* one scheduler pass at a time */
	pthread_cond_t sched_cond;     /* signalled (under mu) to stop the scheduler thread */
};

/* One repository operation: its connection (pooled for reads; the writer's, lent for the
 * call, for writes), its clock, who does it and the last change row it appended. */
struct clm_op {
	struct clm *c;
	struct store *s;
	bool lent;                     /* s is the caller's (clm_get_in, ...): op_end leaves it */
	struct cs_error e;
	long long seq;                 /* last change row appended, 0 when none */
	int64_t now, today;
	const char *actor;
	/* the record to answer with, set by the caller before the write (NULL: no answer); the
	 * writer builds ans from it inside the transaction, after fn and before the commit, so that
	 * running out of memory there fails the write whole instead of after it was made */
	const struct store_rec *ans_rec;
	json_t *ans;
};

/* The part of a write that runs in the writer thread, inside its own savepoint: reads and writes
 * o->s (in the open transaction) and fills f when it fails. arg is the caller's. */
typedef cs_err (*clm_write_fn)(struct clm_op *o, void *arg, struct clm_fail *f);

/* writer.c. Starts the writer thread with its own connection to url. CS_ENOMEM, CS_EIO, errors of
 * store_open (e says why). Call once, from clm_new. */
cs_err clm_writer_start(struct clm *c, const char *url, struct cs_error *e);
/* Runs every write queued so far, then stops the thread and closes its connection. Later
 * clm_write calls fail with 503. Call once, from clm_free; safe when the writer never started. */
void clm_writer_stop(struct clm *c);
/* Runs fn(o, arg, f) in the writer thread, in the next batch, and returns once that batch has
 * committed or failed: CS_OK only when fn succeeded and its batch committed, so an acknowledged
 * write is durable and visible to every later read. On failure f says why (fn's own refusal; 503
 * when the queue stays full for CLM_POOL_WAIT_MS or the writer is stopping; 500/503 when the
 * batch's commit failed) and nothing fn wrote remains. weight is content bytes (documents), which
 * bound a batch. Borrows o, arg and f until it returns. Any thread but the writer's own. */
cs_err clm_write(struct clm *c, struct clm_op *o, clm_write_fn fn, void *arg, size_t weight,
    struct clm_fail *f);
/* Runs fn(o, arg, f) on the caller's own connection s, in a savepoint of the transaction the
 * caller has open there (the engine's group of plans): nothing fn wrote is durable or visible to
 * other connections before the caller commits, and a failure of fn leaves nothing of it (the
 * savepoint is rolled back; if the store rolled back the whole transaction, store_in_transaction
 * says so). o->seq is the last change row appended. Borrows everything. The calling thread. */
cs_err clm_write_in(struct clm *c, struct store *s, struct clm_op *o, clm_write_fn fn, void *arg,
    struct clm_fail *f);
/* The time a write is stamped with: now, or the last stamp handed out when the clock went back,
 * so that updated_at and change timestamps follow commit order. Any thread. */
int64_t clm_stamp(struct clm *c, int64_t now);

/* repo.c, for bulk.c: one create, prepared on the caller's thread and applied by the writer. */
struct clm_create_job {
	enum clm_kind k;
	const char *parent_id;       /* borrowed until the job is applied */
	json_t *doc;                 /* validated and prepared; owned until r takes it */
	char id[CLM_ID_MAX];
	struct store_rec r, ct;      /* the new record; its contract, for children */
};
/* Sets o up for a write by actor (no connection: the writer lends its own). 500 for a bad actor. */
cs_err clm_op_write(struct clm_op *o, struct clm *c, const char *actor, struct clm_fail *f);
/* Validates body as a create of j->k, fills its defaults and, when j->id is "", a new id (a
 * given one must be a well-formed id of j->k: 422 invalid_value otherwise). On failure j->doc
 * is NULL. Borrows body. Caller's thread; no store access. */
cs_err clm_create_prepare(const struct clm_op *o, struct clm_create_job *j, const json_t *body, struct clm_fail *f);
/* Writes the prepared record j, its history and change rows in o's transaction (checking its
 * references there). Writer thread. j->r then holds the record (clm_create_job_cleanup frees it). */
cs_err clm_create_apply(struct clm_op *o, struct clm_create_job *j, struct clm_fail *f);
/* Releases what j holds; j can be prepared again. */
void clm_create_job_cleanup(struct clm_create_job *j);

/* lifecycle.c: sets the fields a transition implies (status, approval_status, termination
 * date) on doc. Does not check anything. */
void clm_transition_effects(json_t *doc, enum clm_status from, enum clm_status to, int64_t today);

/* model.c */
/* The id prefix of kind k ("cp", "ct", ...). */
const char *clm_kind_prefix(enum clm_kind k);
/* Recomputes derived contract fields (notice_deadline; expiration_date from effective_date and
 * term_months when absent) on doc. */
void clm_contract_derive(json_t *doc);
/* Checks cross-field rules of a contract as it would be (expiration after effective, ...). */
cs_err clm_contract_check(const json_t *doc, struct clm_fail *f);
/* The API shape of a stored record: a new object (NULL when out of memory). today is for
 * derived fields such as obligation.overdue. */
json_t *clm_record_json(const struct store_rec *r, int64_t today);
/* Same, from a list row {"id","version","created_at","updated_at","updated_by","doc"}. */
json_t *clm_row_json(enum clm_kind k, const json_t *row, int64_t today);
/* The fields an amendment's "changes" may name. */
bool clm_amendable(const char *field);

/* feed.c: called after each commit that appended change rows up to seq. */
void clm_feed_notify(struct clm *c, long long seq);
int clm_feed_init(struct clm *c);
void clm_feed_cleanup(struct clm *c);

/* repo.c, for sched.c: applies one amendment / expiry / renewal / activation found due. */
cs_err clm_sched_amendment(struct clm *c, const char *amendment_id, int64_t today, bool *done, struct clm_fail *f);
cs_err clm_sched_contract(struct clm *c, const char *contract_id, int64_t today, bool *done, struct clm_fail *f);

#endif

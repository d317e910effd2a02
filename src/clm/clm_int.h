/* clm_int.h - private to src/clm: shared pieces of the repository's own files. */
#ifndef CS_CLM_INT_H
#define CS_CLM_INT_H

#include <pthread.h>
#include "clm/clm.h"
#include "store/store.h"

#define CLM_NUMBER_COUNTER "contract_number"
#define CLM_POOL_WAIT_MS 5000      /* a request waits this long for a store connection */
#define CLM_SCHED_BATCH 100        /* contracts one scheduler query returns */

/* The repository service. */
struct clm {
	struct store_pool *pool;
	const struct clm_schema *schema;
	size_t max_doc;
	/* change-feed wake-up: writers bump head after commit and broadcast */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	long long head;
	bool stopping;
	/* Writers of this process queue here rather than in SQLite's busy handler, which sleeps
	 * in steps of up to 100 ms: held from BEGIN to COMMIT only, never across validation. */
	pthread_mutex_t wmu;
	/* scheduler */
	pthread_t sched;
	bool sched_on;
	int sched_interval_s;
	pthread_mutex_t sched_mu;      /* one scheduler pass at a time */
	pthread_cond_t sched_cond;     /* signalled (under mu) to stop the scheduler thread */
};

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

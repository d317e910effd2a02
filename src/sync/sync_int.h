/* sync_int.h - private to src/sync: one org's worker, its state in the store, the planner and the applier. */
#ifndef CS_SYNC_INT_H
#define CS_SYNC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "clm/clm.h"
#include "config/config.h"
#include "salesforce/sf.h"
#include "store/store.h"
#include "sync/sync.h"

#define SYNC_MAPS_MAX 64          /* mappings per org */
#define SYNC_BATCH_FEED 500       /* change-feed rows planned per transaction */
#define SYNC_BATCH_INBOX 200      /* inbox entries planned per round */
#define SYNC_OUTBOX_SCAN 1000     /* outbox entries looked at per apply round */
#define SYNC_HOLD_MS 500          /* longest a part-filled batch waits for company while it is
                                   * filling fast (apply.c) */
#define SYNC_SENT_KEEP_MS 120000  /* a confirmed write whose own change event has not come is
                                   * no longer awaited after this long (sent.h) */
#define SYNC_SENT_DONE_MAX 8      /* retired writes a link keeps as values of ours (sent.h) */
extern int64_t sync_sent_keep_ms; /* SYNC_SENT_KEEP_MS; a test build may shorten it */
#define SYNC_MARK_KEEP_MS (73LL * 3600 * 1000)
                                  /* the mark of a record Salesforce deleted (sfdeleted:) is kept
                                   * this long: past Change Data Capture's 72-hour retention no
                                   * stale event of the record can come */
#define SYNC_MARK_PRUNE_MS (3600LL * 1000)  /* old marks are looked for this often, when idle */
#define SYNC_LOOKUP_WAIT_MAX 50   /* rounds a write waits for its lookup target to be linked */
#define SYNC_LOOKUP_QUEUED_MS 500 /* ... looking again this often, uncounted, while the target's
                                   * own writes are queued */
#define SYNC_RECONCILE_IDS_MAX 5000000  /* Salesforce ids a full reconcile remembers (95 MB) to
                                        * find linked records gone from Salesforce */
#define SYNC_ABSENT_BATCH 200     /* ids asked after in one queryAll (Id IN (...)) */
#define SYNC_GROUP_MS 10          /* a group of plans commits after this long, holding the
                                   * store's write lock meanwhile (sync_txn_begin) */
#define SYNC_GROUP_MAX 200        /* ... or after this many plans */
#define SYNC_GROUP_MIN_MS 2       /* ... or when another transaction waits, once it is this old:
                                   * younger, it would commit a plan or two at a time while the
                                   * repository's API writes without pause, and fall behind */
#define SYNC_IDLE_MS 1000         /* longest idle wait: writes by other processes (the CLI, an
                                   * import) cannot wake us, so we look again this often */

/*
 * The state, all in the store's keyed state (store_kv_*), so that every hand-off is a committed
 * row and kill -9 at any instant loses nothing:
 *   cursor            "clm:<org>" {"seq"}: the last change-feed row planned for the org;
 *                     "cdc:<org>:<channel>" {"replay"}: the last change event stored in the inbox
 *   inbox:<org>       20-digit keys: change events, gap notices and operator requests, in order
 *   link:<mapping>    repository id -> {"sf": id or "" while the create is in flight,
 *                     "base": {sfField: canonical}, "sent": the writes in flight (sent.h)}
 *   linkr:<mapping>   Salesforce id -> {"clm": id}
 *   sfgone:<mapping>  repository id -> {"sf", "ts"}: Salesforce deleted the linked record and the
 *                     repository record stayed (on_delete.clm ignore or terminate): it is not
 *                     created in Salesforce again; an undelete there links it again
 *   outbox:<org>      20-digit keys: {"mapping", "clm", "op": "write"|"delete", "fields",
 *                     "attempts", "due_ms", "born_ms", "event"}
 *   dlq               20-digit keys: a write that failed for good, with the exact error and the
 *                     item to put back on replay
 *   dlqcount          mapping -> the number of its dlq entries, kept with them (SYNC_DLQ_COUNT_NS)
 *   conflict          "<mapping>/<clm id>/<sf field>": an open manual conflict
 *   pause, heldc:<mapping>, helds:<mapping>: a paused mapping and the records it holds (pause.c)
 */

enum sync_mc {
	SYNC_MC_FROM_SF,      /* Salesforce records changed, planned */
	SYNC_MC_FROM_CLM,     /* repository records changed, planned */
	SYNC_MC_TO_CLM,       /* repository writes made */
	SYNC_MC_TO_SF,        /* Salesforce records written */
	SYNC_MC_ECHO,         /* our own change come back, dropped */
	SYNC_MC_CONFLICT,     /* manual conflicts parked */
	SYNC_MC_DLQ,          /* to the dead-letter queue */
	SYNC_MC_N
};
enum { SYNC_TO_SF, SYNC_TO_CLM };
#define SYNC_LAT_N 12     /* latency histogram buckets (sync_lat_le_ms), +Inf apart */
extern const int sync_lat_le_ms[SYNC_LAT_N];

struct worker {
	struct sync_engine *g;
	const struct cs_config *cfg;
	const struct cs_org *org;
	struct clm *clm;
	struct store *st;             /* the worker's own connection */
	struct sf_org *sfo;           /* shared by the worker and its stream thread */
	struct sf_client *sc;         /* the worker's */
	char actor[CLM_ACTOR_MAX];    /* "sync:<org>" */
	char ns_inbox[STORE_KV_NS_MAX], ns_outbox[STORE_KV_NS_MAX];
	const struct cs_mapping *maps[SYNC_MAPS_MAX];
	size_t nmaps;
	pthread_t thr, sthr;
	bool thr_on, sthr_on;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool kick;                    /* guarded by mu: work may be waiting */
	atomic_int stop;
	struct store *sst;            /* the stream thread's connection */
	struct sf_stream *stream;
	unsigned long st_events, st_gaps;   /* stream thread: staged since its last flush (engine.c) */
	unsigned long st_before;            /* ... and passed over as older than their channel's floor */
	/* channels without a stored position at start, and since when they are followed (read or
	 * marked before the threads start); replaying is set by the stream thread once such a channel
	 * resumes with every retained event: an older one is then no change to weigh (engine.c) */
	struct floor_ent { char channel[160]; int64_t since_ms; bool replaying; } floors[SYNC_MAPS_MAX];
	size_t nfloors;
	atomic_int stream_up;
	/* counters, any thread reads */
	atomic_ullong n_events, n_feed, n_sf_calls, n_sf_records, n_clm_writes, n_echo, n_conflicts,
	    n_dlq, n_retries, n_reconciles, n_drift, n_gaps,
	    n_repaired;                  /* drifted records a repairing reconcile planned to heal */
	atomic_llong last_event_ms;
	/* per mapping (index in maps[]) and per direction (SYNC_TO_SF, SYNC_TO_CLM), for status
	 * and metrics */
	atomic_ullong mc[SYNC_MAPS_MAX][SYNC_MC_N];
	atomic_ullong lat[2][SYNC_LAT_N + 1];   /* histogram buckets, the last is +Inf */
	atomic_ullong lat_sum_ms[2], lat_count[2];
	atomic_llong rec_last_ms, rec_last_checked, rec_last_drift;  /* the last reconcile finished */
	atomic_llong rec_running_ms, rec_progress;   /* the one running: since when, records so far */
	atomic_llong rec_expected;    /* its Salesforce records announced so far: each mapping's query
	                               * adds its totalSize when its first page arrives */
	/* worker thread only */
	bool transient;               /* a lookup failed in a way that may pass (plan.c dead_letter) */
	atomic_ullong paused;         /* bit i: maps[i] is paused (pause.c), read each round */
	long long clm_cursor;         /* the last feed row planned and committed */
	long long grp_seq;            /* the last feed row planned in the open group */
	long long grp_clm_seq;        /* the last repository change released into it */
	long long unit_clm_seq;       /* the last repository change of the open unit (clm_update_in) */
	bool grouping;                /* plans join one transaction (sync_txn_group) */
	bool grp_open;                /* that transaction is open */
	bool grp_lost;                /* the store dropped it: the round must stop */
	bool unit_open;               /* between sync_txn_begin and its commit or rollback */
	int grp_n;                    /* plans in it */
	int64_t grp_t0;               /* when it began, monotonic ms */
	unsigned long n_pushed;       /* writes the planner has queued in the outbox */
	/* our own repository writes whose feed rows have nothing left to plan: "<entity>/<id>" ->
	 * [version, bit i set: maps[i] settled] (sync_settled_note); committed ones, and those of
	 * the open group, which join them when it commits */
	json_t *settled, *settled_grp;
	int64_t next_reconcile_ms;
	int64_t next_prune_ms;        /* when old marks are looked for next (monotonic ms) */
	size_t prune_map;             /* ... in maps[prune_map], from key prune_after on */
	char prune_after[STORE_KV_KEY_MAX];
	int64_t inbox_retry_ms;       /* a transient failure in the inbox: try again then */
	uint64_t rnd;
};

/* Counts one of what for mapping m (NULL: not counted); records a latency of ms in direction dir. */
void sync_count(struct worker *w, const struct cs_mapping *m, enum sync_mc what);
void sync_observe(struct worker *w, int dir, int64_t ms);

/* Wakes w's worker (any thread). */
void sync_kick(struct worker *w);

/*
 * Grouped commits of the planner's writes (state.c). Each plan's writes are one unit that
 * commits or rolls back whole. Alone, each was a transaction of its own, and a burst cost a
 * commit, a turn at SQLite's write lock and a reload of the connection's page cache per change.
 * While w->grouping is set, a plan's unit is a savepoint inside one transaction the plans share,
 * committed every SYNC_GROUP_MS or SYNC_GROUP_MAX plans, at the end of the round, and as soon as
 * another transaction of the process waits to begin once the group is SYNC_GROUP_MIN_MS old
 * (store_contended: the repository's writer, whose API callers would otherwise wait out the whole
 * group, and the stream): a failed
 * plan is still undone alone, and what commits, and in which order, is unchanged; only
 * durability comes a few milliseconds later, which the inputs allow (the feed cursor and the
 * inbox removals commit with the plans they record, so a crash plans them again).
 * A repository change a plan makes is written in the same transaction (clm_update_in), so the
 * change and the engine's record of it commit together; the feed is told after the commit.
 * Whatever must be durable before an effect outside the store (a write through the repository's
 * own writer, a Salesforce call), or must not hold the write lock (a network read), calls
 * sync_txn_flush() first. A flush that fails loses the group: every later unit of the round
 * then fails, and the round starts over from what is stored.
 * Without grouping, begin, commit and rollback are store_begin, store_commit, store_rollback.
 */
cs_err sync_txn_begin(struct worker *w, struct cs_error *e);
cs_err sync_txn_commit(struct worker *w, struct cs_error *e);
void sync_txn_rollback(struct worker *w);
/* Commits the open group (no-op without one): what was released into it is durable. */
cs_err sync_txn_flush(struct worker *w, struct cs_error *e);
/* Starts grouping for a round; sync_txn_end flushes and stops it (the error of the flush). */
void sync_txn_group(struct worker *w);
cs_err sync_txn_end(struct worker *w, struct cs_error *e);
/* Notes that the open unit wrote repository change seq: the feed is woken once it commits. */
void sync_txn_clm(struct worker *w, long long seq);
/* The repository write of version of record clm_id that a plan of m just released into its
 * unit: settled, its feed row has nothing left to plan for m (plan.c clm_side_settled), else it
 * is planned as any row. Known once the unit's group commits; forgotten when the group is lost. */
void sync_settled_note(struct worker *w, const struct cs_mapping *m, const char *clm_id, long long version,
                       bool settled);
/* The mappings (bit i: maps[i]) for which feed row (entity, id, version, origin) is one of our own
 * settled writes; the row is then forgotten. 0 when none. */
uint64_t sync_settled_take(struct worker *w, const char *entity, const char *id, long long version,
                           const char *origin);
/* The CDC channel of sobject: "/data/ContractChangeEvent", "/data/Invoice__ChangeEvent". Pure. */
void sync_channel_of(const char *sobject, char *out, size_t n);

/* state.c: a new link row for Salesforce record sf_id ("" while a create is in flight), with no
 * shadows and nothing sent: {"sf", "base": {}, "sent": []}. NULL when out of memory. */
json_t *sync_link_new(const char *sf_id);

/* state.c: the engine's rows. Every call runs on the worker's (or stream's) connection s; the
 * writes need an open transaction. Errors: those of store_kv_*. */
cs_err sync_link_put(struct store *s, const struct cs_mapping *m, const char *clm_id, json_t *doc,
                     struct cs_error *e);
/* The key of the manual conflict on field f of the pair (m, clm_id) in the store's "conflict"
 * rows: "<mapping>/<clm id>/<sf field>". False when it does not fit n (then out is unusable). */
bool sync_conflict_key(const struct cs_mapping *m, const char *clm_id, const struct cs_field_map *f, char *out,
                       size_t n);
/* Removes the pair, both ways, and the conflicts parked on its fields. */
cs_err sync_link_del(struct store *s, const struct cs_mapping *m, const char *clm_id, struct cs_error *e);
/* Appends doc (borrowed) to queue ns under the next 20-digit key of counter ns. */
cs_err sync_queue_push(struct store *s, const char *ns, const json_t *doc, struct cs_error *e);
/* The key of org's change-feed cursor ("seq") among the cursors: "clm:<org>". */
void sync_feed_key(const char *org, char key[STORE_KV_KEY_MAX]);
cs_err sync_cursor_get(struct store *s, const char *key, const char *field, long long *v, struct cs_error *e);
cs_err sync_cursor_put(struct store *s, const char *key, const char *field, long long v, struct cs_error *e);
/* The namespace of m's marks of records Salesforce deleted, keyed by Salesforce id (plan.c
 * unlink_done, pruned by engine.c after SYNC_MARK_KEEP_MS). */
static inline void
sync_ns_sfdeleted(char ns[STORE_KV_NS_MAX], const struct cs_mapping *m)
{
	snprintf(ns, STORE_KV_NS_MAX, "sfdeleted:%s", m->name);
}
/* Removes, of the up to limit entries of ns after key `after` ("" from the first), those whose
 * "ms" is below before_ms, in a transaction of its own; next takes the last key looked at, ""
 * when the end of ns was reached; *pruned (may be NULL) is added the number removed. */
cs_err sync_marks_prune(struct store *s, const char *ns, const char *after, int limit, int64_t before_ms,
                        char next[STORE_KV_KEY_MAX], long long *pruned, struct cs_error *e);
/* Puts item into the dead-letter queue with its reason, and counts it for its mapping (in the
 * same transaction). */
cs_err sync_dlq_put(struct store *s, const struct worker *w, const char *mapping, const char *clm_id,
                    const char *sf_id, const char *direction, const char *queue, const json_t *item,
                    const char *code, const char *message, struct cs_error *e);
/* The dead-letter queue's entries per mapping, kept by every call that adds or removes one, in
 * its transaction: ns SYNC_DLQ_COUNT_NS, one row per mapping with entries, the key the mapping's
 * name (SYNC_DLQ_COUNT_OTHER for an entry without one, or with a name no mapping can have), the
 * document the number. SYNC_DLQ_COUNT_READY is there once the rows count every entry (a store
 * written before they existed is counted once, by sync_dlq_counts). */
#define SYNC_DLQ_COUNT_NS "dlqcount"
#define SYNC_DLQ_COUNT_OTHER "#other"
#define SYNC_DLQ_COUNT_READY "#counted"
/* The counter key of an entry of mapping (borrowed; NULL or "": none). Pure. */
const char *sync_dlq_count_key(const char *mapping);
/* Adds delta to mapping's count (a count that would fall to 0 or below goes). In a transaction.
 * Errors: the store's. */
cs_err sync_dlq_count_add(struct store *s, const char *mapping, long long delta, struct cs_error *e);

/* plan.c: which repository records mapping m syncs (its route). Pure. */
bool sync_routed(const struct cs_mapping *m, const json_t *rec);
/* Whether rec is routed to m, a record under a contract that follows it (route: parent)
 * included: 1, 0, or -1 when that cannot be told now (reading the contract failed). parent_id:
 * the contract of a create body that does not name it (NULL: rec's contract_id). */
int sync_route_of(struct clm *clm, struct store *st, const struct cs_mapping *m, const json_t *rec,
                  const char *parent_id);
/* True when field i of m names a Salesforce field that neither an earlier field of m, nor Id,
 * nor the external id field names: the fields a query or retrieve lists once each. Pure. */
bool sync_sf_field_first(const struct cs_mapping *m, size_t i);

/* plan.c: the planner, on the worker's thread. Each returns the number of items it took (0 when
 * there was nothing to do), or -1 after a failure it has logged (the caller backs off). */
int sync_plan_feed(struct worker *w);
int sync_plan_inbox(struct worker *w);
/* Compares every record of m (or of each of the org's mappings when m is NULL) changed since
 * since_ms (0: all) on both sides; with repair, heals what differs through the same rules as
 * live changes. A full pass (since_ms 0) also finds linked records that Salesforce no longer has
 * and plans each as a delete from Salesforce (the mapping's on_delete.clm). *drift gets the
 * number of records that differed. cause names what asked for it ("reconcile:periodic",
 * "reconcile:<request id>" of an operator, the event key of a gap): each mapping's pass appends
 * a "reconcile" audit row with it and the counts, and the rows of what it heals carry it as
 * their event. Counts the worker's reconciles and drift. Worker thread. */
cs_err sync_reconcile(struct worker *w, const struct cs_mapping *m, int64_t since_ms, bool repair, const char *cause,
                      long long *checked, long long *drift, struct cs_error *e);

/* pause.c: whether m is paused (as of the last sync_pause_refresh, each round); holding a
 * record's change (in the caller's transaction) instead of planning it. */
bool sync_paused(const struct worker *w, const struct cs_mapping *m);
void sync_pause_refresh(struct worker *w);
cs_err sync_hold_clm(struct store *s, const struct cs_mapping *m, const char *clm_id, const char *op,
                     struct cs_error *e);
cs_err sync_hold_sf(struct store *s, const struct cs_mapping *m, const char *sf_id, const char *type,
                    struct cs_error *e);

/* apply.c: sends what the outbox holds for w's org. Returns the number of records written (0
 * when nothing was due), -1 after a call-level failure it has logged. *next_due_ms gets the
 * earliest time a waiting entry becomes due (INT64_MAX when none). backlog: the planner has more
 * queued than it took this round, so a part-filled batch may wait up to SYNC_HOLD_MS for the
 * next round to fill it. */
int sync_apply(struct worker *w, int64_t *next_due_ms, bool backlog);

#endif

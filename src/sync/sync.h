/* sync.h - the sync engine: contracts and Salesforce kept equal both ways, per the configuration's mappings. */
#ifndef CS_SYNC_H
#define CS_SYNC_H

#include <jansson.h>

#include "clm/clm.h"
#include "config/config.h"
#include "salesforce/sf.h"
#include "util/err.h"

struct sync_engine;

/* What the engine runs on; every pointer is borrowed and must outlive the engine. */
struct sync_opts {
	const struct cs_config *cfg;   /* orgs, mappings and the sync section */
	struct clm *clm;               /* the repository, in this process */
	const char *store_url;         /* the repository's store: the engine keeps its state there */
};

/* Starts one change-stream reader and one worker thread per org that has mappings. Returns at
 * once: logins and subscriptions happen on the threads, which retry with backoff (a wrong
 * password is logged and retried slowly, so fixing it does not need a restart). *out is a new
 * engine; stop it with sync_engine_stop(). Errors: CS_EIO (the store), CS_EINVAL (an org the
 * connector refuses, e says which), CS_ENOMEM. Call once, from the main thread, after the
 * repository is open and before it takes writes. */
cs_err sync_engine_start(const struct sync_opts *o, struct sync_engine **out, struct cs_error *e);

/* Stops the threads (each finishes the batch in hand and commits its cursors) and frees g.
 * NULL is a no-op. Call before clm_free(). */
void sync_engine_stop(struct sync_engine *g);

/* The engine's counters and state as a JSON object (a new reference): per org the stream state,
 * queue depths and counters. NULL when out of memory. Any thread. */
json_t *sync_engine_status(struct sync_engine *g);

/* The engine's pairing of records, for readers outside it (the admin API): m's link of
 * repository record clm_id (*doc a new {"sf", "base", "sent"}), and the repository id linked to
 * Salesforce record sf_id. CS_ENOTFOUND when not linked; else the store's errors (CS_EIO for a
 * damaged link). (state.c) */
struct store;
cs_err sync_link_get(struct store *s, const struct cs_mapping *m, const char *clm_id, json_t **doc,
                     struct cs_error *e);
cs_err sync_link_by_sf(struct store *s, const struct cs_mapping *m, const char *sf_id, char clm_id[CLM_ID_MAX],
                       struct cs_error *e);
/* The repository kind a mapping's entity is stored as. Pure. */
enum clm_kind sync_kind_of(enum cs_entity en);

/* Fills sc from org's configuration (secrets borrowed from org). For the engine and for the
 * commands that talk to an org (mapping check, reconcile). */
void sync_org_config(const struct cs_org *org, struct sf_org_config *sc);

/* --- the initial load of a mapping (backfill.c) ------------------------------------------------ */

#define SYNC_BACKFILL_BATCH 10000      /* records per Bulk API job by default */
#define SYNC_BACKFILL_BATCH_MAX 100000

enum sync_backfill_dir {
	SYNC_BACKFILL_TO_SF,           /* repository records upserted into Salesforce by external id */
	SYNC_BACKFILL_FROM_SF,         /* Salesforce records created (or matched) in the repository */
};

/* Where a backfill stands; borrowed for the callback only. */
struct sync_backfill_progress {
	const char *phase;             /* "reading the repository", "writing to Salesforce", ... */
	long long done;                /* records finished so far */
	long long total;               /* records in all, -1 while unknown */
	unsigned jobs;                 /* Bulk API jobs run so far */
};

/* What a backfill runs on; every pointer is borrowed for the call. */
struct sync_backfill_opts {
	const struct cs_config *cfg;
	struct clm *clm;               /* the repository, in this process */
	const char *store_url;         /* the repository's store: links are kept there */
	const struct cs_mapping *m;    /* the mapping to load, of cfg */
	enum sync_backfill_dir dir;
	bool dry_run;                  /* read both sides, count, write nothing */
	size_t batch;                  /* records per Bulk job (and per round of links); 0 = default */
	struct sf_bulk_opts bulk;      /* polling and job limits; progress, ud and stop are set here */
	const atomic_int *stop;        /* becoming nonzero ends the run: the job in hand is aborted */
	void (*progress)(void *ud, const struct sync_backfill_progress *p);          /* may be NULL */
	/* A record that could not be loaded: its ids (either may be NULL), a code and why. */
	void (*failure)(void *ud, const char *clm_id, const char *sf_id, const char *code, const char *message);
	void *ud;
};

/* What a backfill did (with dry_run: would do). */
struct sync_backfill_result {
	long long seen;                /* records of the source side looked at */
	long long not_routed;          /* to Salesforce: records the mapping's route leaves out */
	long long already;             /* linked before: the engine keeps them in sync */
	long long ignored;             /* from Salesforce: not created (on_create.clm: ignore) */
	long long written;             /* records written on the target side and linked */
	long long created;             /* of them, created (in Salesforce: sf__Created) */
	long long matched;             /* from Salesforce: linked to a repository record its external id names */
	long long linked;              /* links recorded */
	long long sf_updates;          /* from Salesforce: records given the repository's id and values back */
	long long failed;              /* records refused; failure() was called for each */
	long long field_errors;        /* field values that could not be converted (the field is left out) */
	long long replanned;           /* from Salesforce: changed there while being made; queued for the
	                                * engine to read afresh */
	long long api_calls;           /* HTTP requests to Salesforce's API (token requests aside) */
	unsigned jobs;                 /* Bulk API jobs */
};

/* Loads every record of o->m from one side into the other and links each as the engine would
 * have, with its shadows, so that a running or later engine treats them as linked and in sync:
 *   to Salesforce: every repository record of the mapping's entity that its route takes and that
 *     is not linked yet is upserted by external id (the repository id) through Bulk API 2.0 jobs
 *     of o->batch records; a lookup whose target is not linked refuses the record
 *     (LOOKUP_NOT_LINKED: backfill the target's mapping first);
 *   from Salesforce: every record of the sObject is read with a Bulk query; one that is not
 *     linked is linked to the repository record its external id names, or created in the
 *     repository (on_create.clm: create) from the values the engine's conversions take; the
 *     repository's own values (its id in the external id field, defaults, values only the
 *     repository writes) go back to Salesforce in Bulk update jobs.
 * Records linked already are left alone, so running it twice writes nothing the second time.
 * It is safe beside a running engine on the same store (see backfill.c for how). Per-record
 * failures are reported through o->failure and counted; the run goes on. Errors, which stop the
 * run (what was done stays done and linked): CS_EINVAL (a mapping that cannot be backfilled in
 * that direction, e says why), CS_EIO (the store or the repository), CS_ESTATE (stopped through
 * o->stop, or a Bulk job that Failed), CS_EAUTH, CS_ELIMIT, CS_ENET, CS_ETIMEOUT (Salesforce),
 * CS_ENOMEM. *r is filled in every case. Runs on the calling thread with its own store
 * connection and Salesforce clients. */
cs_err sync_backfill(const struct sync_backfill_opts *o, struct sync_backfill_result *r, struct cs_error *e);

/* --- the operator's commands (ops.c) ----------------------------------------------------------
 * They work on the store directly, from any process (the CLI beside a running server): each
 * call that writes runs its own transaction on s (so s must not be inside one: CS_ESTATE), and
 * a request for the engine is a row pushed onto the org's inbox, which a running engine reads
 * within a second. One thread per connection s, as for every store call. Strings returned
 * inside the JSON are the engine's rows as stored (text from Salesforce included): escape them
 * before they reach a terminal. */

struct store;

#define SYNC_REASON_MAX 1024          /* bytes in a discard reason, NUL included */
#define SYNC_REQUEST_ID_MAX 40        /* bytes in a reconcile request id, NUL included */
#define SYNC_CONFLICT_LIST_MAX 10000  /* conflicts sync_conflict_list returns at most */

/* Up to limit (1..STORE_LIST_MAX) dead-letter entries with id > after (an id as sync_dlq_get
 * takes it; "" or NULL: from the first), oldest first: *out is a new array of {"id": "<20 digits>", "org", "mapping", "clm",
 * "sf", "direction": "salesforce" (a write to Salesforce failed for good) or "clm" (a change
 * the repository refused), "queue", "item", "error": {"code", "message"}, "ts"}; the caller
 * releases it with json_decref(). Errors: CS_EINVAL (limit, after), CS_EIO (the store, or an entry
 * that is damaged: e names it; `sync_dlq_discard` still removes it), CS_ENOMEM; *out is then
 * NULL. Reads only. */
cs_err sync_dlq_list(struct store *s, const char *after, int limit, json_t **out, struct cs_error *e);

/* The dead-letter entries per mapping: *out is a new object {mapping: entries} of the mappings
 * that have any ("#other" for entries without a mapping's name), *total their sum. It reads the
 * counters that sync_dlq_put, sync_dlq_replay and sync_dlq_discard keep in their transactions, a
 * row per mapping, so its cost does not grow with the queue; the first call on a store written
 * before the counters existed counts the queue once, under the write lock (s must then not be in
 * a transaction: CS_ESTATE). Exact as long as every writer of the store keeps the counters (this
 * version and later). Errors: CS_EIO, CS_ETIMEOUT (the write lock, for that first count),
 * CS_ENOMEM; *out is then NULL. */
cs_err sync_dlq_counts(struct store *s, json_t **out, long long *total, struct cs_error *e);

/* The open conflicts of mapping (borrowed; NULL: of every mapping) into *n, counted on the
 * store's key index without reading them. Errors: CS_EINVAL (an over-long name), the store's. */
cs_err sync_conflict_count(struct store *s, const char *mapping, long long *n, struct cs_error *e);

/* One dead-letter entry, as sync_dlq_list gives it: *out is a new object. id is 1..20 decimal
 * digits ("17" is "00000000000000000017"). Errors: CS_EINVAL (id), CS_ENOTFOUND, CS_EIO
 * (damaged), CS_ENOMEM; *out is then NULL. Reads only. */
cs_err sync_dlq_get(struct store *s, const char *id, json_t **out, struct cs_error *e);

/* Puts entry id's item back at the end of its queue (the org's outbox or inbox) with "attempts"
 * and "due_ms" reset to 0 where the item has them, removes the entry and appends an audit row
 * (decision "replayed", event "operator"), all in one transaction: the engine takes the item up
 * again on its next round. Errors: CS_EINVAL (id), CS_ENOTFOUND, CS_EIO (the store, or an entry
 * whose item or queue is damaged: it stays), CS_ESTATE (s in a transaction), CS_ETIMEOUT (the
 * write lock), CS_ENOMEM; nothing is changed then. */
cs_err sync_dlq_replay(struct store *s, const char *id, struct cs_error *e);

/* Removes entry id for good with an audit row (decision "discarded", detail = reason), in one
 * transaction. reason (borrowed) is required: 1..SYNC_REASON_MAX-1 bytes of UTF-8. A damaged
 * entry can be discarded. Errors: CS_EINVAL (id, or no reason), CS_ETOOBIG, CS_EUTF8 (reason),
 * CS_ENOTFOUND, and those of sync_dlq_replay; nothing is changed then. */
cs_err sync_dlq_discard(struct store *s, const char *id, const char *reason, struct cs_error *e);

/* The open manual conflicts in id order, at most SYNC_CONFLICT_LIST_MAX (the first ones): *out is
 * a new array of {"id": "<mapping>/<clm id>/<sf field>", "org", "mapping", "clm", "sf", "field",
 * "sf_field", "base", "clm_value", "sf_value", "ts"}. Errors: CS_EIO (the store, or a damaged
 * entry, named in e), CS_ENOMEM; *out is then NULL. Reads only. */
cs_err sync_conflict_list(struct store *s, json_t **out, struct cs_error *e);

/* One open conflict, as sync_conflict_list gives it: *out is a new object. Errors: CS_EINVAL
 * (empty or malformed id), CS_ENOTFOUND (no such conflict, or resolved already), CS_EIO,
 * CS_ENOMEM; *out is then NULL. Reads only. */
cs_err sync_conflict_get(struct store *s, const char *id, json_t **out, struct cs_error *e);

/* Asks the engine of the conflict's org to resolve conflict id: choice "clm" takes the
 * repository's value, "salesforce" Salesforce's, "value" takes value (borrowed; NULL means JSON
 * null, which clears the field; ignored for the other choices). Pushes {"t": "resolve",
 * "conflict", "choice", "value"} onto "inbox:<org>" in one transaction and returns: the engine
 * writes both sides, appends the audit row and removes the conflict, which is how a caller
 * sees it done (poll sync_conflict_get for CS_ENOTFOUND). Errors: CS_EINVAL (choice, id),
 * CS_ENOTFOUND (no such conflict), CS_EIO (the store, or a damaged conflict), CS_ESTATE,
 * CS_ETIMEOUT, CS_ETOOBIG (value too large), CS_ENOMEM; nothing is pushed then. */
cs_err sync_conflict_resolve_request(struct store *s, const char *id, const char *choice, const json_t *value,
                                     struct cs_error *e);

/* Asks org's engine to compare both sides of mapping (borrowed; NULL: every mapping of the org)
 * and, with repair, to heal what differs: pushes {"t": "reconcile", "mapping", "repair",
 * "since_ms": 0, "request", "why"} onto "inbox:<org>" in one transaction. request_id gets a new
 * random id (32 lowercase hex digits) under which the engine stores the result when done; ""
 * after an error. The org and mapping are not checked against a configuration here (the caller
 * has it): a request for an org no engine serves waits for ever. Errors: CS_EINVAL (empty or
 * over-long org, or a name the store refuses), CS_EIO (the store, or no randomness), CS_ESTATE,
 * CS_ETIMEOUT, CS_ENOMEM; nothing is pushed then. */
cs_err sync_reconcile_request(struct store *s, const char *org, const char *mapping, bool repair,
                              char request_id[SYNC_REQUEST_ID_MAX], struct cs_error *e);

/* The result of reconcile request request_id: *out is a new object {"checked": N records
 * compared, "drift": M that differed, "ok": false when the run stopped early, "error": why, or
 * ""}. Errors: CS_ENOTFOUND while the engine has not finished (or never got the request),
 * CS_EINVAL (empty id), CS_EIO (the store, or a damaged result), CS_ENOMEM; *out is then NULL.
 * Reads only; results stay in the store. */
cs_err sync_reconcile_result(struct store *s, const char *request_id, json_t **out, struct cs_error *e);

/* Pauses mapping m (borrowed): from the next round, its engine holds each record changed on
 * either side (one row per record) and writes nothing for it, until sync_resume. The pause is
 * a row in the store (it survives a restart) with the time, who (by) and why (reason, may be
 * NULL), and an audit row. Pausing a paused mapping is CS_OK and changes nothing. Errors:
 * CS_ESTATE (s in a transaction), CS_EIO, CS_ETIMEOUT, CS_ENOMEM; nothing changed then. */
cs_err sync_pause(struct store *s, const struct cs_mapping *m, const char *by, const char *reason, struct cs_error *e);

/* Resumes m: removes the pause and puts every held record on the org's inbox (the repository's
 * as a plan of the record, Salesforce's as a change to read afresh), with an audit row, in one
 * transaction. *moved gets the number of records queued. Resuming a running mapping is CS_OK
 * with *moved 0. Errors: as sync_pause. */
cs_err sync_resume(struct store *s, const struct cs_mapping *m, const char *by, long long *moved, struct cs_error *e);

/* m's pause state: *out is a new object {"paused": false} or {"paused": true, "since_ms", "by",
 * "reason", "held_clm", "held_salesforce"}. Reads only. */
cs_err sync_pause_get(struct store *s, const struct cs_mapping *m, json_t **out, struct cs_error *e);

#endif

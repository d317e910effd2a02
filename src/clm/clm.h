/* clm.h - the contract repository: records, lifecycle, validation, history and the change feed. */
#ifndef CS_CLM_H
#define CS_CLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"
#include "util/err.h"

#define CLM_ID_MAX 40            /* bytes in a record id, NUL included */
#define CLM_ACTOR_MAX 128        /* bytes in an actor ("api:ci", "sync:prod"), NUL included */
#define CLM_CUSTOM_MAX 64        /* custom attributes declared per entity */
#define CLM_PICKLIST_MAX 256     /* values of one picklist attribute */
#define CLM_NAME_MAX 64          /* bytes in a custom attribute or picklist value name */
#define CLM_TEXT_MAX 10000       /* bytes in any text field unless its own limit is lower */
#define CLM_LIST_DEFAULT 100     /* rows per page when a list call names no limit */
#define CLM_LIST_MAX 1000        /* rows per page at most */
#define CLM_CHANGES_MAX 10000    /* change rows one feed read returns at most */
#define CLM_WAIT_MAX_MS 60000    /* longest change-feed long poll */
#define CLM_DOC_MAX_DEFAULT (25u * 1024 * 1024) /* document content, when the caller sets none */

/* The record kinds of the repository. Children (amendment .. document) belong to a contract. */
enum clm_kind {
	CLM_COUNTERPARTY,
	CLM_CONTRACT,
	CLM_AMENDMENT,
	CLM_OBLIGATION,
	CLM_APPROVAL,
	CLM_SIGNATURE,
	CLM_DOCUMENT,
	CLM_KIND_COUNT
};

/* Contract lifecycle statuses, in their usual order. */
enum clm_status {
	CLM_DRAFT,
	CLM_IN_REVIEW,
	CLM_IN_APPROVAL,
	CLM_APPROVED,
	CLM_IN_SIGNATURE,
	CLM_SIGNED,
	CLM_ACTIVE,
	CLM_EXPIRED,
	CLM_TERMINATED,
	CLM_RENEWED,
	CLM_STATUS_COUNT
};

/* Why an operation was refused, in the terms of the REST API: an HTTP status (400, 404, 409,
 * 412, 413, 422, 500, 503), a stable code ("validation_failed", "invalid_transition", ...), a
 * message safe to show, the offending field ("" when none) and, for invalid transitions, the
 * allowed targets as "a, b" ("" when none). Caller-owned; the clm_* calls fill it on failure. */
struct clm_fail {
	int status;
	char code[32];
	char field[128];
	char msg[256];
	char allowed[192];
};

/* Sets f and returns the cs_err matching status (CS_EINVAL for 400/422, CS_ENOTFOUND for 404,
 * ...). field may be NULL. Thread-safe (touches only f). */
cs_err clm_fail_set(struct clm_fail *f, int status, const char *code, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Custom attribute types declared in configuration. */
enum clm_attr_type {
	CLM_ATTR_TEXT,
	CLM_ATTR_NUMBER,     /* a JSON integer */
	CLM_ATTR_DECIMAL,    /* an exact decimal as a string, "-12.345" */
	CLM_ATTR_DATE,
	CLM_ATTR_DATETIME,
	CLM_ATTR_BOOLEAN,
	CLM_ATTR_PICKLIST
};

/* One custom attribute. The strings are borrowed by clm_new() only for the call (it copies). */
struct clm_attr {
	const char *name;            /* [a-z][a-z0-9_]*, at most CLM_NAME_MAX - 1 bytes */
	enum clm_attr_type type;
	const char *const *values;   /* picklist values, nvalues of them */
	size_t nvalues;
	bool required;               /* must be present on create */
	size_t max_length;           /* text: bytes at most; 0 means CLM_TEXT_MAX */
};

/* The custom attributes of every kind, as the validators see them. Build one with
 * clm_schema_new(); NULL stands for "no custom attributes". */
struct clm_schema;

/* Returns a new schema holding copies of attrs[k][0..n[k]) for each kind k, or NULL with e set
 * (CS_EINVAL naming a bad declaration, CS_ENOMEM). attrs/n may be NULL for none. Caller frees
 * with clm_schema_free(). */
struct clm_schema *clm_schema_new(const struct clm_attr *const attrs[CLM_KIND_COUNT],
    const size_t n[CLM_KIND_COUNT], struct cs_error *e);
void clm_schema_free(struct clm_schema *sc);

/* Names: "counterparty", "contract", ... and their plural path segments ("amendments").
 * parse returns -1 when unknown. */
const char *clm_kind_name(enum clm_kind k);
const char *clm_kind_plural(enum clm_kind k);
int clm_kind_parse_plural(const char *s);
const char *clm_status_name(enum clm_status s);
int clm_status_parse(const char *s);

/* Lifecycle (lifecycle.c). Pure functions; any thread. */
bool clm_transition_allowed(enum clm_status from, enum clm_status to);
/* Writes the statuses reachable from `from` as "a, b, c" into out (cap bytes, NUL-ended);
 * "" when none. Returns the number of targets. */
size_t clm_transitions_from(enum clm_status from, char *out, size_t cap);
/* Checks that contract (the record as it would be after the change, `status` not yet updated)
 * may move from `from` to `to` on day `today` (days since 1970-01-01): the edge exists and the
 * entry rules of `to` hold. CS_OK, or CS_EINVAL with f filled (422 invalid_transition with the
 * allowed targets, or 422 transition_rule naming the missing field). Borrows contract. */
cs_err clm_transition_check(const json_t *contract, enum clm_status from, enum clm_status to,
    int64_t today, struct clm_fail *f);
/* Checks that a contract created directly in status `st` (an import of a contract that already
 * exists) satisfies the entry rules of st and of every status before it on the main path. */
cs_err clm_status_check_entry(const json_t *contract, enum clm_status st, int64_t today, struct clm_fail *f);

/* Validation (model.c). Parses a request body of len bytes (at most max) as a JSON object.
 * *out is a new reference the caller releases. Failures: 413 body_too_large, 400 invalid_utf8,
 * 400 malformed_json, 400 not_an_object. Any thread. */
cs_err clm_body_parse(const char *p, size_t len, size_t max, json_t **out, struct clm_fail *f);

/* Validates a create (patch false) or change (patch true) body for kind k against the built-in
 * fields and sc's custom attributes (sc may be NULL). On success *out is a new object with the
 * values in canonical form (money amounts padded to the currency's minor units, ...); on
 * failure *out is NULL and f names the first bad field (422 unknown_field, invalid_type,
 * invalid_value, required, read_only). Borrows in. Any thread. */
cs_err clm_validate(const struct clm_schema *sc, enum clm_kind k, const json_t *in, bool patch,
    json_t **out, struct clm_fail *f);

/* Checks an exact money object {"amount": "12.30", "currency": "EUR"}; on success *norm is a new
 * object with the amount written with exactly the currency's minor digits. */
cs_err clm_money_check(const json_t *v, json_t **norm, struct clm_fail *f, const char *field);


/* ---- the repository service (repo.c) ---- */

struct clm;
struct store;                  /* store/store.h: a connection of the caller's own */

struct clm_opts {
	const char *store_url;           /* "sqlite:PATH" */
	int pool_size;                   /* store connections for request threads; 0 means 8 */
	size_t max_document_size;        /* bytes; 0 means CLM_DOC_MAX_DEFAULT */
	const struct clm_schema *schema; /* borrowed for the life of the struct clm; may be NULL */
};

/* Opens the store (running its migrations), declares the indexes the repository uses and
 * starts the writer thread, which owns a connection of its own for every write (pool_size
 * counts read connections only). On success *out is a new repository; caller frees with
 * clm_free(). Errors: those of store_open (e says why), CS_ENOMEM. Call from one thread. */
cs_err clm_new(const struct clm_opts *o, struct clm **out, struct cs_error *e);
/* Stops the scheduler if running, wakes every long poll (they answer at once), runs every
 * write still queued, stops the writer thread and frees c. Call after the HTTP server is
 * stopped and every other caller has returned. NULL is a no-op. */
void clm_free(struct clm *c);
/* Wakes every long poll and makes later ones return at once (shutdown). Thread-safe. */
void clm_wake_all(struct clm *c);

/* Every write below is atomic: the record, its history row and its change-feed row(s) all
 * commit or none does. Concurrent writes share transactions (group commit, writer.c): each runs
 * alone inside its own savepoint, serially, so it sees the writes before it and none after it,
 * and it is answered only once the shared commit has returned: an acknowledged write is durable
 * and visible to every read that follows. `actor` is who changes it ("api:<token>",
 * "user:<name>", "sync:<org>", "system:scheduler"), at most CLM_ACTOR_MAX - 1 bytes.
 * `if_match` is the version the caller last saw, or -1 for none: a different stored version
 * fails with 412 version_mismatch. On success *out (when out is not NULL) is a new reference to
 * the record as stored, in its API shape, and the feed's long polls are woken. On failure f says
 * why and the store is unchanged by this call (503 store_busy when the write queue stays full,
 * 503 shutting_down after clm_free began, 500 when the shared commit failed). Thread-safe; not
 * to be called from inside another write. */

/* Creates a record of kind k from body (validated with clm_validate). Children name their
 * contract in parent_id (404 when it does not exist); counterparties and contracts pass NULL. */
cs_err clm_create(struct clm *c, enum clm_kind k, const char *parent_id, const json_t *body,
    const char *actor, json_t **out, struct clm_fail *f);
/* Changes the given fields of a record (a JSON merge at the top level; null clears a field).
 * For a contract, a changed "status" is a lifecycle transition with its rules (renewed is only
 * reached through clm_renew). parent_id, when not NULL, must be the record's contract. */
cs_err clm_update(struct clm *c, enum clm_kind k, const char *parent_id, const char *id,
    const json_t *body, long long if_match, const char *actor, json_t **out, struct clm_fail *f);
/* clm_update inside the caller's own transaction on s, a connection of the caller's to the
 * repository's store (the sync engine commits a repository change with its own state, many to a
 * transaction): the change is a savepoint there, refused or failed alone (f says why; if the
 * store rolled back the whole transaction, store_in_transaction(s) is false), durable and
 * visible to others only when the caller commits. *seq gets the change row appended (0 when
 * nothing changed); after the commit the caller calls clm_notify(c, seq) to wake the feed's
 * long polls and commit listeners. The caller holds the store's write lock meanwhile, so the
 * repository's own writes wait for its commit: keep the transaction short. */
cs_err clm_update_in(struct clm *c, struct store *s, enum clm_kind k, const char *parent_id, const char *id,
    const json_t *body, long long if_match, const char *actor, json_t **out, long long *seq, struct clm_fail *f);
/* clm_create inside the caller's own transaction on s, as clm_update_in: the record, its history
 * and its change row are a savepoint there, durable only when the caller commits. */
cs_err clm_create_in(struct clm *c, struct store *s, enum clm_kind k, const char *parent_id, const json_t *body,
    const char *actor, json_t **out, long long *seq, struct clm_fail *f);
/* Wakes the change feed's long polls and commit listeners for changes up to seq that a caller
 * committed in its own transaction (clm_update_in). seq <= 0 is a no-op. Any thread. */
void clm_notify(struct clm *c, long long seq);
/* Deletes a counterparty that no contract names (409 in_use otherwise), or an obligation;
 * other kinds answer 405 method_not_allowed. parent_id, when not NULL, must be the obligation's
 * contract (404 otherwise). History is kept; the change feed gets a "delete" row. */
cs_err clm_delete(struct clm *c, enum clm_kind k, const char *parent_id, const char *id, long long if_match,
    const char *actor, struct clm_fail *f);
/* Moves contract id to status body.to ({"to": "...", "reason": "..."}); to "renewed" renews. */
cs_err clm_transition(struct clm *c, const char *id, const json_t *body, long long if_match,
    const char *actor, json_t **out, struct clm_fail *f);
/* Renews contract id: creates its successor (type renewal, parent_contract_id = id, next term)
 * and marks id renewed, in one transaction. body may set the successor's title,
 * effective_date, expiration_date, term_months, total_value; *out is the successor. */
cs_err clm_renew(struct clm *c, const char *id, const json_t *body, long long if_match,
    const char *actor, json_t **out, struct clm_fail *f);
/* Stores document content (at most max_document_size bytes) as a new document of contract
 * parent_id, or as the next version of document doc_id when it is not NULL. meta carries
 * file_name, media_type and optionally executed. Borrows data. */
cs_err clm_document_put(struct clm *c, const char *parent_id, const char *doc_id, const void *data,
    size_t len, const json_t *meta, long long if_match, const char *actor, json_t **out, struct clm_fail *f);

/* ---- many creates as one atomic unit (bulk.c) ----
 *
 * One record to create in a bulk: kind (anything but a document, which is uploaded), its contract
 * for children (parent_id, else NULL), the create body (borrowed for the clm_bulk_add call only)
 * and its id: "" to have one made, or one from clm_id_new() when a later record of the same bulk
 * must name it (a contract's counterparty_id or parent_contract_id). On success id holds the
 * record's id. Records apply in order, so a record may name any record before it. */
struct clm_new {
	enum clm_kind kind;
	const char *parent_id;
	const json_t *body;
	char id[CLM_ID_MAX];
};

#define CLM_BULK_CHUNK_MAX 10000  /* records in one clm_bulk_add call at most */
#define CLM_BULK_IDLE_MS 30000    /* the writer waits this long for the next clm_bulk_add */

/* A bulk: records added in chunks, each chunk prepared (validated, defaults, ids) on the
 * caller's thread while the writer applies the chunk before it, all of it in ONE transaction
 * that commits or rolls back whole. Memory holds at most three chunks, whatever the total.
 * Every record writes its record, history row and change-feed row as clm_create does.
 * While a bulk is open it holds the writer: the process's other writes wait for it (and, on
 * SQLite, other processes' writes wait for the store's lock, up to its busy timeout), so the
 * caller makes no other write before ending it, and adds its chunks without pausing longer than
 * CLM_BULK_IDLE_MS (past it the writer rolls the bulk back and goes on with other writes). */
struct clm_bulk;

/* Starts a bulk that records its changes as actor. *out is a new bulk; end it with
 * clm_bulk_commit() or clm_bulk_abort(), exactly once, before clm_free(). Errors: 500 for a bad
 * actor or out of memory (*out NULL). Any thread but the writer's. */
cs_err clm_bulk_begin(struct clm *c, const char *actor, struct clm_bulk **out, struct clm_fail *f);
/* Prepares items[0..n) (n at most CLM_BULK_CHUNK_MAX) and hands them to the writer; returns
 * before they are applied. Fills each items[i].id. On failure, the bulk is refused whole and
 * rolled back: *failed (may be NULL) gets the index, counted over every record added to this
 * bulk, of the refused record (a validation error here, or a refusal of a record added earlier,
 * such as 409 duplicate for a number taken meanwhile), or SIZE_MAX when no record is at fault
 * (503 store_busy, 500 the store failed, 500 the bulk went idle), and f says why; then only
 * clm_bulk_abort() is left to call. Borrows items for the call. One thread per bulk. */
cs_err clm_bulk_add(struct clm_bulk *b, struct clm_new *items, size_t n, size_t *failed, struct clm_fail *f);
/* Applies what is left, commits and frees b. CS_OK only when every record added is committed
 * (durable and visible, long polls woken); on failure nothing of the bulk was written, and
 * *failed and f are as for clm_bulk_add. Takes ownership of b, even on failure. */
cs_err clm_bulk_commit(struct clm_bulk *b, size_t *failed, struct clm_fail *f);
/* Rolls back everything added to b and frees it. NULL is a no-op. Takes ownership of b. */
void clm_bulk_abort(struct clm_bulk *b);

/* Creates items[0..n) as one atomic unit (a bulk of one chunk): all of them, or nothing, with
 * *failed (may be NULL) naming the refused record as for clm_bulk_add. n at most
 * CLM_BULK_CHUNK_MAX; 0 is a no-op. Borrows items; fills their ids. Thread-safe, not from inside a
 * write or while this thread has a bulk open. */
cs_err clm_create_many(struct clm *c, struct clm_new *items, size_t n, const char *actor, size_t *failed,
    struct clm_fail *f);
/* Makes a new id for a record of kind k into id (CLM_ID_MAX bytes), for clm_new.id. CS_EIO when
 * the system has no randomness. Any thread. */
cs_err clm_id_new(enum clm_kind k, char id[CLM_ID_MAX]);

/* Reads: *out is a new reference. */
cs_err clm_get(struct clm *c, enum clm_kind k, const char *parent_id, const char *id, json_t **out,
    struct clm_fail *f);
/* clm_get on the caller's own connection s (NULL: the pool's): it sees what the caller's open
 * transaction there has written (clm_update_in) and not yet committed. */
cs_err clm_get_in(struct clm *c, struct store *s, enum clm_kind k, const char *parent_id, const char *id,
    json_t **out, struct clm_fail *f);
/* The content of document id (version 0 = current): *data is a new buffer the caller frees,
 * *meta a new reference to the document record of that version. */
cs_err clm_document_get(struct clm *c, const char *parent_id, const char *id, long long version,
    void **data, size_t *len, json_t **meta, struct clm_fail *f);

/* A list query. Filters apply to contracts (status, counterparty_id, type, owner,
 * expiring_before, updated_since) and, for children, parent_id. NULL means "no filter". */
struct clm_list_q {
	enum clm_kind kind;
	const char *parent_id;
	const char *status, *counterparty_id, *type, *owner;
	const char *expiring_before;     /* "YYYY-MM-DD": expiration_date < it */
	const char *updated_since;       /* datetime: updated_at >= it */
	const char *sort;                /* a field name; NULL = creation order */
	bool desc;
	const char *cursor;
	int limit;                       /* 0 = CLM_LIST_DEFAULT */
};
/* *out is {"data": [...], "next_cursor": "..." | null}. 400 invalid_query on a bad filter. */
cs_err clm_list(struct clm *c, const struct clm_list_q *q, json_t **out, struct clm_fail *f);
/* *out is {"data": [{"version","updated_at","updated_by","record"}...]} oldest first. */
cs_err clm_history(struct clm *c, enum clm_kind k, const char *id, json_t **out, struct clm_fail *f);
/* clm_history on the caller's own connection s (NULL: the pool's), as clm_get_in. */
cs_err clm_history_in(struct clm *c, struct store *s, enum clm_kind k, const char *id, json_t **out,
    struct clm_fail *f);

/* Change-feed rows with seq > after, at most limit (1..CLM_CHANGES_MAX). When there are none
 * and wait_ms > 0, waits up to wait_ms (capped at CLM_WAIT_MAX_MS) for a commit, without
 * holding a store connection. *out is {"data": [...], "next_after": N}. Thread-safe. */
cs_err clm_changes(struct clm *c, long long after, int limit, int wait_ms, json_t **out, struct clm_fail *f);
/* The same page as clm_changes, written as its compact JSON text (byte for byte what dumping
 * clm_changes's *out gives) into out, which is reset first; out's maximum bounds the page
 * (500 internal past it). On failure out is empty. Borrows out. Thread-safe. */
cs_err clm_changes_json(struct clm *c, long long after, int limit, int wait_ms, struct cs_buf *out,
                        struct clm_fail *f);

/* Registers fn to be called with the new feed head after every commit that wrote feed rows,
 * on the writer's thread: fn must be quick and must not write (it wakes a thread of its own).
 * At most 8 listeners; call before any write (at startup). CS_ELIMIT past the maximum. Borrows
 * ud until clm_free(). */
cs_err clm_on_commit(struct clm *c, void (*fn)(void *ud, long long seq), void *ud);

/* The scheduled pass (sched.c): applies pending amendments whose effective date has come,
 * activates signed contracts whose effective date has come, and expires or auto-renews active
 * contracts whose expiration date has passed, each as its own recorded change with origin
 * "system:scheduler". today < 0 means cs_date_today(). *done (may be NULL) gets the number of
 * changes made. Thread-safe. */
cs_err clm_sched_run(struct clm *c, int64_t today, int *done, struct cs_error *e);
/* Runs clm_sched_run every interval_s seconds on a thread of its own until clm_free(). */
cs_err clm_sched_start(struct clm *c, int interval_s, struct cs_error *e);

/* ---- API tokens (auth.c) ---- */

enum clm_role { CLM_ROLE_NONE, CLM_ROLE_READ, CLM_ROLE_WRITE, CLM_ROLE_ADMIN };
#define CLM_TOKENS_MAX 256
#define CLM_TOKEN_NAME_MAX 64
#define CLM_SECRET_MAX 512
struct clm_auth;
/* Returns a new empty token set (NULL when out of memory); caller frees with clm_auth_free(). */
struct clm_auth *clm_auth_new(void);
void clm_auth_free(struct clm_auth *a);
/* Adds a token: only the SHA-256 of secret is kept. CS_EINVAL for an empty or over-long secret
 * or name, CS_ELIMIT past CLM_TOKENS_MAX. Call before serving (not thread-safe with lookups). */
cs_err clm_auth_add(struct clm_auth *a, const char *name, enum clm_role role, const char *secret,
    struct cs_error *e);
size_t clm_auth_count(const struct clm_auth *a);
/* Copies into out what is kept of token i (0-based, in the order added): the SHA-256 of its
 * secret, never the secret. False when there is no token i. For tests and audits. */
bool clm_auth_digest(const struct clm_auth *a, size_t i, unsigned char out[32]);
/* Finds the token whose secret is secret[0..len), comparing hashes in constant time against
 * every entry. Returns its role (CLM_ROLE_NONE when none) and copies its name into name
 * (CLM_TOKEN_NAME_MAX bytes). Thread-safe after setup. */
enum clm_role clm_auth_check(const struct clm_auth *a, const char *secret, size_t len, char *name);
/* Parses "read", "write", "admin"; CLM_ROLE_NONE otherwise. */
enum clm_role clm_role_parse(const char *s);
/* Writes a new random secret ("clm_" + 64 hex digits) into out (>= 69 bytes). CS_EIO when the
 * system has no randomness to give. */
cs_err clm_secret_generate(char *out, size_t cap, struct cs_error *e);

/* ---- REST API (api.c) ---- */

struct http_route;
struct http_throttle;
struct http_req;
struct http_resp;
/* What the REST handlers need; caller-owned, outlives the HTTP server. */
struct clm_api {
	struct clm *clm;
	struct clm_auth *auth;
	struct http_throttle *throttle;  /* failed tokens per client address; NULL: none */
	size_t max_body;                 /* JSON request bodies, bytes */
	size_t max_document;             /* document uploads, bytes */
};
/* The route table of /healthz and /api/v1/...; *n gets its length. Static storage. */
const struct http_route *clm_api_routes(size_t *n);
/* The server's pre-routing hook (authentication, body limits); pass the struct clm_api as ud. */
bool clm_api_pre(struct http_req *rq, struct http_resp *rs, void *ud);
/* For the listeners' pre-routing hooks (this one and the admin's): counts a token refused for rq's client in t (NULL: nothing), and logs once when that makes the
 * client wait; the token itself is never logged. listener names the listener in the log. */
void clm_api_auth_failed(struct http_throttle *t, struct http_req *rq, const char *listener);
/* The JSON 404 for unknown paths. */
void clm_api_not_found(struct http_req *rq, struct http_resp *rs, void *ud);

#endif

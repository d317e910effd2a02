/* store.h - the state store: versioned JSON records with their full history, document content,
 * counters and the change feed, behind one interface. The back end is chosen by URL:
 * "sqlite:PATH" now (embedded, one file, WAL), "postgresql://..." later; callers never see SQL.
 *
 * Threading: a struct store is one connection and is used by one thread at a time. Open one per
 * thread (the HTTP server keeps a small pool, see store_pool_*). All writes happen inside
 * store_begin()/store_commit(); a failed call inside a transaction leaves it open for the caller
 * to roll back (store_insert/store_update refused with CS_EEXIST or CS_ECONFLICT have written
 * nothing, so the caller may also go on). Nothing here logs secrets or record contents.
 * The SQLite back end runs one background thread per open database file (WAL checkpoints, off
 * the commit path). A store is not carried across fork(): a child process opens its own.
 */
#ifndef CS_STORE_H
#define CS_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "util/err.h"

#define STORE_ID_MAX 40          /* bytes in an id, NUL included */
#define STORE_KIND_MAX 24
#define STORE_ACTOR_MAX 128
#define STORE_LIST_MAX 1000      /* rows one list call returns at most */
#define STORE_FILTERS_MAX 8
#define STORE_NAME_MAX 64        /* bytes in a document field or counter name, NUL included */
#define STORE_VALUE_MAX 1024     /* bytes in a filter value */
#define STORE_DOC_MAX (1 << 20)  /* bytes in a record's encoded document or a change's fields */
#define STORE_BLOB_MAX (128 << 20) /* bytes in one content blob */
#define STORE_CHANGES_MAX 10000  /* rows one store_changes_after call returns at most */
#define STORE_POOL_MAX 64        /* connections in one pool */
#define STORE_URL_MAX 4096

/* Text conventions of the arrays this interface returns: times ("created_at", "updated_at",
 * "ts") are ISO 8601 UTC text with milliseconds, "2026-11-27T00:19:07.123Z"; a missing parent
 * is JSON null. Ids are 1..39 bytes of [A-Za-z0-9._:-]; kinds and field names are [a-z0-9_]+.
 * A document read back that is not a JSON object is CS_EIO naming the record, never a crash. */

struct store;

/* Opens (creating if needed) the store at url and runs pending schema migrations, each in its own
 * transaction, recorded in a schema_migrations table. Returns a new connection in *out; caller
 * closes it with store_close(). Errors: CS_EINVAL (unknown scheme or bad URL), CS_EIO (cannot
 * open or migrate; e says why), CS_ESTATE (the database is newer than this binary). */
cs_err store_open(const char *url, struct store **out, struct cs_error *e);
/* Closes s, rolling back a transaction left open. NULL is a no-op. */
void store_close(struct store *s);

/* Transactions. store_begin takes the write lock at once (SQLite BEGIN IMMEDIATE, waiting up to
 * the busy timeout), so a transaction never fails half-way for lock reasons. Reads outside a
 * transaction see the last committed state. Errors: store_begin CS_ESTATE when a transaction is
 * already open, CS_ETIMEOUT when the lock did not come within the busy timeout; store_commit
 * CS_ESTATE when none is open, CS_EIO, and then nothing was committed and the transaction is
 * closed. store_rollback is a no-op when none is open. Calls marked "In a transaction" answer
 * CS_ESTATE outside one, so a write can never commit on its own. */
cs_err store_begin(struct store *s, struct cs_error *e);
cs_err store_commit(struct store *s, struct cs_error *e);
void store_rollback(struct store *s);
/* True while a transaction is open on s. */
bool store_in_transaction(struct store *s);
/* A number that changes whenever what the connection wrote in its open transaction may have been
 * undone, or a transaction begins or ends (begin, commit, rollback, rollback to a savepoint); no
 * two connections of the process share one. While it stays the same, a value the caller read or
 * wrote in the transaction is still what the store holds, as no other connection writes then: a
 * cache of such a value is good for as long. One thread. */
uint64_t store_epoch(const struct store *s);

/* Savepoints: a part of the open transaction that can be undone alone (SQL SAVEPOINT, the same in
 * SQLite and PostgreSQL). Several writes share one transaction, and so one commit, when each runs
 * inside its own savepoint: the one that fails is rolled back to its savepoint, the others stay.
 * (PostgreSQL refuses every statement after a failed one until ROLLBACK TO, so a caller that goes
 * on after a failure inside a transaction must use them there.) They nest, at most
 * STORE_SAVEPOINT_MAX deep; commit and rollback end them all.
 * store_savepoint: CS_ESTATE outside a transaction, CS_ELIMIT too deep, CS_EIO (then no savepoint
 * was made). store_release keeps the work done since the innermost savepoint and ends it:
 * CS_ESTATE when none is open, CS_EIO (the savepoint is then still open: roll back to it).
 * store_rollback_to undoes the work done since the innermost savepoint and ends it; a no-op when
 * none is open. It returns CS_OK, or CS_EIO when the back end could not do it, in which case it
 * has rolled back the whole transaction (store_in_transaction() is then false). One thread. */
#define STORE_SAVEPOINT_MAX 8
cs_err store_savepoint(struct store *s, struct cs_error *e);
cs_err store_release(struct store *s, struct cs_error *e);
cs_err store_rollback_to(struct store *s, struct cs_error *e);

/* True when another connection of this process is waiting to begin a transaction on the same
 * database: the holder of a long transaction (a group of savepoints) can commit early to let it
 * in. A hint; false for back ends that do not tell. One thread. */
bool store_contended(struct store *s);

/* A record: kind ("counterparty", "contract", "amendment", "obligation", "approval",
 * "signature", "document", later "link", ...), an id unique within the store, an optional parent
 * id (the contract of an amendment), a version that starts at 1 and grows by one per change, and
 * the document itself (a JSON object owned by the caller's layer; the store does not interpret it
 * except through the indexed fields below). */
struct store_rec {
	char kind[STORE_KIND_MAX];
	char id[STORE_ID_MAX];
	char parent[STORE_ID_MAX];   /* "" when none */
	long long version;
	int64_t created_ms, updated_ms;
	char updated_by[STORE_ACTOR_MAX];
	json_t *doc;                 /* owned by the struct; store_rec_cleanup releases it */
};
void store_rec_cleanup(struct store_rec *r);

/* Reads one record into *out, which is overwritten (zeroed first; its doc is a new reference the
 * caller releases with store_rec_cleanup()). CS_ENOTFOUND when absent (also when it is of another
 * kind); CS_EINVAL for a malformed kind or id; CS_EIO when the stored row is damaged. On error
 * out->doc is NULL. */
cs_err store_get(struct store *s, const char *kind, const char *id, struct store_rec *out, struct cs_error *e);

/* Inserts r (version must be 1) and its first history row. CS_EEXIST when the id exists (or
 * existed: ids of deleted records are not reused) or a unique indexed field (store_index_unique)
 * repeats; e->msg is then exactly the field name, "id" or for example "number". created_ms and
 * updated_ms of 0 mean "now". CS_EINVAL for a malformed record, CS_ETOOBIG when the encoded doc
 * exceeds STORE_DOC_MAX. Borrows r. In a transaction. */
cs_err store_insert(struct store *s, const struct store_rec *r, struct cs_error *e);

/* Replaces the document of r->kind/r->id with r->doc, requiring the stored version to be
 * r->version - 1, and adds the history row. CS_ECONFLICT when the stored version differs (a
 * concurrent change), CS_ENOTFOUND, CS_EEXIST for a unique field (e->msg is the field name).
 * Also sets updated_ms (0 = now) and updated_by; parent and created_ms are fixed at insert and
 * ignored here. Borrows r. In a transaction. */
cs_err store_update(struct store *s, const struct store_rec *r, struct cs_error *e);

/* Deletes a record (its history stays). CS_ENOTFOUND. In a transaction. */
cs_err store_delete(struct store *s, const char *kind, const char *id, struct cs_error *e);

/* Every stored version of a record, oldest first: *out is a new array of
 * {"version","updated_at","updated_by","doc"}. CS_ENOTFOUND when there is none. Works after
 * store_delete too. */
cs_err store_history(struct store *s, const char *kind, const char *id, json_t **out, struct cs_error *e);

/* Listing with filters on top-level document fields, sorting and keyset pagination. */
enum store_op { STORE_EQ, STORE_NE, STORE_LT, STORE_LE, STORE_GT, STORE_GE };
struct store_filter {
	const char *field;           /* a top-level document key, [a-z0-9_]+; or "parent", "updated_at",
	                              * "created_at" (these names always mean the record's own columns) */
	enum store_op op;
	const char *value;           /* compared as text (ISO dates sort as text); NULL means "is null" */
};
/* Filter semantics: a document value that is a JSON string compares with value byte-wise, so a
 * number or boolean never equals a text value. NULL value: EQ = "is null or absent", NE = "is
 * present"; other ops with NULL are CS_EINVAL. NE with a value also matches records that lack
 * the field. "parent" with "" means no parent, as in store_rec. "updated_at"/"created_at" take an
 * ISO date-time or a date (midnight UTC) and compare as instants. */
struct store_list_q {
	const char *kind;
	struct store_filter filters[STORE_FILTERS_MAX];
	size_t nfilters;
	const char *sort;            /* a document key, "created_at" or "updated_at"; NULL = id order */
	bool desc;
	const char *cursor;          /* from a previous page's next cursor, or NULL */
	int limit;                   /* 1..STORE_LIST_MAX */
};
/* Fills *out with a new array of {"id","version","parent","created_at","updated_at","updated_by",
 * "doc"} and next (caller buffer of STORE_CURSOR_MAX bytes) with the cursor of the next page or ""
 * at the end. CS_EINVAL for a bad field name, limit or cursor. Sorting is by the sort value, then
 * id (same direction); records lacking the sort field come first ascending, last descending. The
 * cursor is opaque URL-safe text holding the last row's sort value and id, so rows inserted,
 * changed or deleted between pages never make a page miss or repeat a row that stayed put. It is
 * bound to kind, sort and direction (another query's cursor is CS_EINVAL). A sort value longer than
 * STORE_CURSOR_TEXT_MAX bytes is looked up again by id on the next page; if that row has since
 * changed or gone, CS_ECONFLICT asks the caller to start over. On error *out is NULL. */
#define STORE_CURSOR_MAX 512
#define STORE_CURSOR_TEXT_MAX 320
cs_err store_list(struct store *s, const struct store_list_q *q, json_t **out, char *next, struct cs_error *e);

/* Declares that document field `field` of `kind` is unique across that kind (for example the
 * contract number) and indexed; records lacking the field do not collide. Idempotent; call after
 * store_open, before use. CS_EEXIST (e->msg = field) when stored records already repeat it. */
cs_err store_index_unique(struct store *s, const char *kind, const char *field, struct cs_error *e);
/* Declares a non-unique index on a document field used in filters or sorting. Idempotent. */
cs_err store_index(struct store *s, const char *kind, const char *field, struct cs_error *e);

/* A named counter that only grows (contract numbers): *out gets the next value, 1 first. name is
 * 1..63 bytes of [A-Za-z0-9._:-]. A rolled-back transaction gives its value back. CS_ELIMIT at
 * INT64_MAX. In a transaction. */
cs_err store_counter_next(struct store *s, const char *name, long long *out, struct cs_error *e);

/* Content blobs, addressed by their SHA-256 (64 lowercase hex digits). Putting existing content
 * is a no-op. The store checks the hash: CS_EINVAL when data does not match sha256_hex on put,
 * CS_EIO when stored bytes no longer match on get. CS_ETOOBIG past STORE_BLOB_MAX. Inside or
 * outside a transaction. */
cs_err store_blob_put(struct store *s, const char sha256_hex[65], const void *data, size_t len, struct cs_error *e);
/* *data is a new malloc'd buffer the caller frees (never NULL on success, even for 0 bytes).
 * CS_ENOTFOUND. */
cs_err store_blob_get(struct store *s, const char sha256_hex[65], void **data, size_t *len, struct cs_error *e);

/* The change feed, written in the same transaction as the change it announces. */
struct store_change {
	const char *entity;          /* a record kind */
	const char *id;
	const char *parent;          /* or NULL */
	long long version;
	const char *op;              /* "create", "update", "delete", "transition", ... */
	json_t *fields;              /* borrowed: {"field": {"old": v, "new": v}, ...}, or NULL */
	const char *origin;          /* actor: "user:alice", "api:ci-token", "sync:prod", "system:scheduler" */
	int64_t ts_ms;               /* 0 means now */
};
/* Appends c; *seq gets its sequence number (strictly increasing, no gaps among committed rows
 * is NOT promised by all back ends: consumers page by "after"). What every back end does promise:
 * a row becomes visible to readers only after every row with a lower seq that will ever commit
 * is visible, so paging by "after" never skips one (SQLite: writers are serialised, so seq order
 * is commit order; PostgreSQL will need to hold that explicitly). CS_EINVAL for a malformed
 * change (entity is a kind, op is [a-z_]+, origin non-empty). Borrows c. In a transaction. */
cs_err store_change_append(struct store *s, const struct store_change *c, long long *seq, struct cs_error *e);
/* Up to limit (1..STORE_CHANGES_MAX) committed changes with seq > after, ascending: *out is a new
 * array of {"seq","entity","id","parent","version","op","fields","origin","ts"}; "fields" is null
 * when appended as NULL. Inside one's own transaction it also sees that transaction's rows. */
cs_err store_changes_after(struct store *s, long long after, int limit, json_t **out, struct cs_error *e);
/* One change row as the back end holds it, lent to a store_changes_each callback for that call
 * only. The strings are NUL-terminated valid UTF-8, checked as store_changes_after checks them.
 * fields is the stored text of the fields object (flen bytes, not NUL-terminated), or NULL when
 * appended as NULL; it is bounded by STORE_DOC_MAX but otherwise unchecked, and its spelling
 * (spaces, key order, escapes) is the back end's: a caller that needs a particular form checks it
 * or parses the text. */
struct store_change_row {
	long long seq;
	const char *entity, *id;
	const char *parent;          /* NULL when none */
	long long version;
	const char *op, *origin;
	const char *fields;
	size_t flen;
	int64_t ts_ms;
};
/* Called per row; anything but CS_OK stops the scan and is returned by store_changes_each. */
typedef cs_err (*store_change_fn)(const struct store_change_row *r, void *ud);
/* The rows store_changes_after would return, in the same order and from one read snapshot,
 * handed to fn one by one without building JSON (for readers that write their own output).
 * *n gets the number of rows passed to fn. Errors: CS_EINVAL (after, limit as in
 * store_changes_after), CS_EIO for a damaged row or a read error (e says which), or fn's own
 * error (e untouched by the store then). Borrows ud. One thread. */
cs_err store_changes_each(struct store *s, long long after, int limit, store_change_fn fn, void *ud, size_t *n,
                          struct cs_error *e);
/* The highest committed sequence number (0 when empty). */
cs_err store_changes_head(struct store *s, long long *seq, struct cs_error *e);

/* Keyed state: small JSON documents under (namespace, key), ordered by key, without history or
 * change-feed rows (the sync engine's links, shadows, queues, cursors and audit chain). A
 * namespace is 1..STORE_KV_NS_MAX-1 bytes of [A-Za-z0-9._:-]; a key is 1..STORE_KV_KEY_MAX-1
 * bytes of valid UTF-8 without control characters. Keys sort byte-wise (memcmp), so queues use
 * zero-padded decimal keys. A document is any JSON value, at most STORE_DOC_MAX bytes encoded.
 * Bad names are CS_EINVAL, an over-long document CS_ETOOBIG. */
#define STORE_KV_NS_MAX 64
#define STORE_KV_KEY_MAX 256
/* Reads the document at (ns, key): *out is a new reference. CS_ENOTFOUND when absent; CS_EIO
 * when the stored text is not JSON. Inside or outside a transaction (inside, it sees its own
 * writes). */
cs_err store_kv_get(struct store *s, const char *ns, const char *key, json_t **out, struct cs_error *e);
/* Inserts or replaces the document at (ns, key). Borrows doc. In a transaction. */
cs_err store_kv_put(struct store *s, const char *ns, const char *key, const json_t *doc, struct cs_error *e);
/* Removes (ns, key); *existed (may be NULL) says whether it was there. Removing an absent key
 * is CS_OK. In a transaction. */
cs_err store_kv_del(struct store *s, const char *ns, const char *key, bool *existed, struct cs_error *e);
/* Up to limit (1..STORE_LIST_MAX) entries of ns with key > after ("" or NULL: from the first),
 * ascending: *out is a new array of {"key": "...", "doc": <document>}. */
cs_err store_kv_scan(struct store *s, const char *ns, const char *after, int limit, json_t **out,
                     struct cs_error *e);
/* The number of entries in ns. */
cs_err store_kv_count(struct store *s, const char *ns, long long *n, struct cs_error *e);
/* The number of entries of ns with from <= key < to (both checked as keys; from >= to counts
 * none): the entries under a key prefix "p/" are those from "p/" to "p0". Reads the key index
 * only, never a document. */
cs_err store_kv_count_range(struct store *s, const char *ns, const char *from, const char *to, long long *n,
                            struct cs_error *e);

/* A pool of connections to one URL for request threads: acquire blocks up to timeout_ms when all
 * are in use (CS_ETIMEOUT). The pool opens connections lazily, at most max (1..STORE_POOL_MAX);
 * store_pool_new opens the first at once so that a bad URL or database fails there, with the
 * errors of store_open. Acquire and release are thread-safe; a released connection left inside
 * a transaction is rolled back. store_pool_free closes every connection: all must have been
 * released. */
struct store_pool;
cs_err store_pool_new(const char *url, int max, struct store_pool **out, struct cs_error *e);
cs_err store_pool_acquire(struct store_pool *p, int timeout_ms, struct store **out, struct cs_error *e);
void store_pool_release(struct store_pool *p, struct store *s);
void store_pool_free(struct store_pool *p);

/* Fault simulation for tests (SQLite's model): the nth store statement executed from now on, in
 * any connection of the process, fails as an I/O error (CS_EIO, "injected fault"); once. 0 turns
 * it off. Thread-safe. Has no effect unless called. */
void store_fault_inject(long nth);
/* The kinds of failure store_fault_inject_kind can simulate: an I/O error (CS_EIO), or the
 * database staying locked past the busy timeout (SQLITE_BUSY, so CS_ETIMEOUT, as a writer of
 * another process holding the lock would cause). Short writes are simulated below the store, at
 * SQLite's VFS layer, by the torture run (tests/torture/). */
enum store_fault { STORE_FAULT_IO, STORE_FAULT_BUSY, STORE_FAULT_DELAY };
/* store_fault_inject with a kind. Thread-safe. */
void store_fault_inject_kind(long nth, enum store_fault kind);
/* STORE_FAULT_DELAY fails nothing: the statement runs, then its thread sleeps ms milliseconds
 * holding what the statement holds (a read's snapshot; inside a transaction, the write lock)
 * before it goes on, so that a test can make a concurrent change land in that window.
 * on_delay (may be NULL) is called from the delayed thread as the sleep begins. Set before
 * arming; thread-safe. */
void store_fault_delay_set(int ms, void (*on_delay)(void));
/* The statements counted since the last store_fault_inject*() call, up to the one that failed
 * (counting stops when the fault fires or when disarmed): a torture run arms LONG_MAX, runs a
 * scenario and reads here how many statements it made. Thread-safe. */
long store_fault_counted(void);

#endif

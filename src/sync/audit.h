/* audit.h - the engine's append-only audit log: one row per decision on a field, hash-chained. */
#ifndef CS_SYNC_AUDIT_H
#define CS_SYNC_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/*
 * Rows live in the store under namespace "audit", key = the row's sequence number written as 20
 * zero-padded decimal digits (so key order is append order); the chain's head (last seq and
 * hash) under namespace "audit_head", key "head". Each row is the JSON object
 *   {"seq": N, "ts": "2026-11-27T10:00:00.123Z", "org", "mapping", "entity", "clm_id", "sf_id",
 *    "side", "field", "old", "new", "decision", "event", "detail", "prev": "<hex>", "hash": "<hex>"}
 * where hash = SHA-256 (lowercase hex) of prev's 64 hex characters followed by the compact JSON
 * encoding, keys sorted (json_dumps with JSON_COMPACT | JSON_SORT_KEYS), of the row WITHOUT its
 * "hash" member. The first row's prev is 64 '0's. Changing, removing, reordering or inserting
 * any row breaks the chain at that row; sync_audit_verify finds the first break.
 */

/* One audit entry. Strings may be NULL (written as null); old_value/new_value are borrowed
 * canonical values (NULL is written as null). */
struct sync_audit_row {
	const char *org;
	const char *mapping;
	const char *entity;        /* "contract", "counterparty", ... */
	const char *clm_id;
	const char *sf_id;
	const char *side;          /* the side written or refused: "clm" or "salesforce" */
	const char *field;         /* the repository field ("status", "custom.region"); NULL for a
	                            * record-level decision (created, linked, deleted) */
	const json_t *old_value;
	const json_t *new_value;
	const char *decision;      /* applied, reverted, ignored, conflict, resolved, dlq, created,
	                            * linked, deleted, drift, held, dropped, landed (a write whose
	                            * answer was lost, shown landed by its own change event); the
	                            * stream's facts: gap (a GAP_* event, per record), overflow (GAP_OVERFLOW), replay_invalid (a stored
	                            * replay id refused), stream_resumed; reconcile (one mapping's
	                            * pass: what it checked and the drift it found) */
	const char *event;         /* what caused it: "cdc:/data/ContractChangeEvent:1234" (also the
	                            * rows a gap's healing writes, and those of the reconcile it
	                            * asked for), "feed:42", "reconcile:periodic", "reconcile:<request
	                            * id>", "operator" */
	const char *detail;        /* a short reason, or NULL */
	int64_t ts_ms;             /* 0 = now */
};

/* Appends r as the next row of the chain and moves the head, in the caller's transaction (so
 * the row commits with the change it describes). *seq (may be NULL) gets the row's number.
 * Errors: CS_ESTATE outside a transaction, CS_EIO (store), CS_ENOMEM; the transaction is then
 * the caller's to roll back. Borrows r. One thread per store connection. */
cs_err sync_audit_append(struct store *s, const struct sync_audit_row *r, long long *seq, struct cs_error *e);

/* Walks the whole chain from the first row and checks every link and hash and that the head
 * names the last row. *rows gets the number of rows checked. CS_OK when intact; CS_EIO with
 * *bad_seq set to the first row that does not verify (or to the head's seq when the head
 * disagrees) and e saying what is wrong ("row 17: hash does not match its content"); other
 * errors from the store. Reads only; takes a consistent snapshot (one read transaction is not
 * required: rows are append-only). progress (may be NULL) is called every 10,000 rows. */
cs_err sync_audit_verify(struct store *s, long long *rows, long long *bad_seq,
                         void (*progress)(void *ud, long long rows), void *ud, struct cs_error *e);

/* Where a verify in parts stands: the last row checked (0: none yet) and its hash (64 '0's
 * before the first row). A caller-owned value: set it with sync_audit_pos_init, pass it to
 * sync_audit_verify_part, which moves it on. */
#define SYNC_AUDIT_HASH_HEX 64
struct sync_audit_pos {
	long long seq;
	char hash[SYNC_AUDIT_HASH_HEX + 1];
};

void sync_audit_pos_init(struct sync_audit_pos *p);

/* As sync_audit_verify, for the rows after pos and at most max_rows of them (0: no limit), so
 * that a long log can be checked in parts with progress between them (the admin API's
 * POST /admin/v1/audit/verify). On CS_OK pos is the last row checked, and *done says the walk
 * reached the end of the log and the head was checked against it; otherwise call again with
 * pos. *rows gets the rows checked by this call. Errors: CS_EINVAL (pos malformed), and those
 * of sync_audit_verify; pos is then unchanged. A pos not returned by an earlier part (or one
 * whose hash is not its row's) shows up as a break at the row after it. */
cs_err sync_audit_verify_part(struct store *s, struct sync_audit_pos *pos, long long max_rows, bool *done,
                              long long *rows, long long *bad_seq, void (*progress)(void *ud, long long rows),
                              void *ud, struct cs_error *e);

/* The head's row number into *seq: the number of rows the log should hold (0 when empty).
 * Errors: CS_EIO (the store, or a malformed head), CS_ENOMEM. Reads only. */
cs_err sync_audit_head(struct store *s, long long *seq, struct cs_error *e);

/* Up to limit (1..1000) rows with seq > after, ascending, whose clm_id or sf_id equals id (NULL:
 * every row): *out is a new array of row objects. For lineage and `clmsync audit search`. */
cs_err sync_audit_search(struct store *s, const char *id, long long after, int limit, json_t **out,
                         struct cs_error *e);

/* What sync_audit_query keeps: rows matching every member given (NULL or "": any). since and
 * until are ISO times as the rows carry them (cs_time_format_iso), since inclusive, until
 * exclusive. */
struct sync_audit_filter {
	const char *id;            /* clm_id or sf_id */
	const char *field;
	const char *decision;
	const char *mapping;
	char since[32], until[32];
};

/* As sync_audit_search, with a filter; *scanned_to (may be NULL) gets the seq of the last row
 * read, matching or not: pass it as after to go on (a filter that matches little would otherwise
 * read the whole log again for each page). */
cs_err sync_audit_query(struct store *s, const struct sync_audit_filter *f, long long after, int limit, json_t **out,
                        long long *scanned_to, struct cs_error *e);

#endif

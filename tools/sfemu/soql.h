/* soql.h - the emulator's SOQL engine: parses a query, checks it against the schema, runs it. */
#ifndef SFEMU_SOQL_H
#define SFEMU_SOQL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"
#include "util/err.h"

struct emu;

#define SOQL_MAX_LEN 100000     /* bytes of query text (Salesforce: 100,000 characters) */
#define SOQL_MAX_DEPTH 32       /* nesting of parentheses, NOT and sub-queries */
#define SOQL_MAX_PATH 6         /* segments of a field path: up to five relationships and a field */
#define SOQL_MAX_OFFSET 2000    /* largest OFFSET Salesforce accepts */
#define SOQL_MAX_TREE (8u << 20) /* bytes of parsed query; past it: QUERY_TOO_COMPLICATED */

/* A parsed query; opaque. */
struct soql;

/* Why a query was refused. Caller-owned (it is large: keep it off small stacks in loops). */
struct soql_error {
	int row, column;        /* 1-based position in the query text; 0 when the error has none */
	char code[40];          /* Salesforce errorCode: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE ... */
	char message[2048];     /* the message as Salesforce words it: "\n<fragment>\n   ^\nERROR at
	                         * Row:1:Column:N\n<detail>"; always valid UTF-8 */
};

/* Parses the SOQL text q[0..len) (need not be NUL-terminated; never read past len). Only the
 * syntax is checked: object and field names are resolved by soql_run. Returns a new query the
 * caller frees with soql_free(), or NULL with *err filled (MALFORMED_QUERY; QUERY_TOO_COMPLICATED
 * past SOQL_MAX_TREE; UNKNOWN_EXCEPTION when out of memory). Text over SOQL_MAX_LEN or not valid UTF-8 is refused before parsing.
 * Thread-safe: no shared state. */
struct soql *soql_parse(const char *q, size_t len, struct soql_error *err);

/* Frees s and everything it owns; NULL is a no-op. */
void soql_free(struct soql *s);

/* Appends a canonical SOQL text for s to b: keywords upper case, one space between tokens,
 * string literals re-escaped, explicit ASC/DESC and NULLS FIRST/LAST. Parsing the output gives
 * a query that formats to the same text. CS_ENOMEM / CS_ETOOBIG from the buffer. */
cs_err soql_format(const struct soql *s, struct cs_buf *b);

/* Returns a new Salesforce error array [{"message":...,"errorCode":...}] for e; the caller
 * releases it with json_decref(). NULL only when out of memory. */
json_t *soql_error_json(const struct soql_error *e);

/* Runs the SELECT text q[0..len) against emu's records. The caller holds emu->mu. all=true is
 * queryAll: recycle-bin records (IsDeleted=true) are included. version is the API version for
 * the records' attribute URLs (62 for v62.0). Relative date literals (TODAY, LAST_N_DAYS:n ...)
 * are taken in UTC from the wall clock.
 * On success returns true with *records a new JSON array of rendered rows (all of them, after
 * LIMIT/OFFSET: paging is the caller's job) and *total the totalSize; SELECT COUNT() gives the
 * count in *total and an empty array. On failure returns false with *records NULL and *err a
 * new error array (see soql_error_json) with errorCode MALFORMED_QUERY, INVALID_TYPE,
 * INVALID_FIELD, INVALID_QUERY_FILTER_OPERATOR or NUMBER_OUTSIDE_VALID_RANGE, worded as
 * Salesforce words them; *err is NULL only when out of memory. The caller owns both. */
bool soql_run(struct emu *emu, const char *q, size_t len, bool all, int version,
    json_t **records, long *total, json_t **err);

/* soql_run with the clock fixed at now_ms (milliseconds since the epoch), for tests. */
bool soql_run_at(struct emu *emu, const char *q, size_t len, bool all, int version, int64_t now_ms,
    json_t **records, long *total, json_t **err);

#endif

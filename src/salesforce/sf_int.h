/* sf_int.h - the Salesforce connector's private structures, shared by its own files only. */
#ifndef CS_SF_INT_H
#define CS_SF_INT_H

#include <pthread.h>

#include "http/client.h"
#include "salesforce/sf.h"

#define SF_TOKEN_MAX 4096
#define SF_URL_MAX 2048

struct sf_org {
	/* immutable after sf_org_new */
	char *name, *login_url, *api_version, *client_name;
	enum sf_auth auth;
	char *client_id, *client_secret, *username, *key_file, *refresh_token, *audience;
	long timeout_ms;
	size_t max_response;
	struct sf_retry retry;

	pthread_mutex_t login_mu;     /* one token request at a time; taken before mu, never inside it */
	pthread_mutex_t mu;           /* guards everything below; held only for short copies */
	char *token;                  /* NULL until acquired; secret */
	char *instance_url;
	uint64_t token_gen;           /* bumped on every new token */
	struct sf_limits limits;
	struct sf_stats stats;
	struct sf_auth_state authn;   /* what sf_org_auth reports */
	atomic_bool authed;           /* authn.authenticated, read without the lock on each answer */
};

struct sf_client {
	struct sf_org *org;
	struct http_client *http;
	uint64_t rnd;                 /* jitter state */
	bool caller_retries;          /* sf_client_caller_retries() */
};

/* A snapshot of the credentials a request uses. */
struct sf_session {
	char token[SF_TOKEN_MAX];
	char instance[SF_URL_MAX];
	uint64_t gen;
};

/* Copies the current token (acquiring one through c's connection when there is none) into *s.
 * Errors as sf_login. */
cs_err sf_session_get(struct sf_client *c, struct sf_session *s, struct sf_error *e);
/* The token of generation gen was refused: forget it unless a newer one replaced it already. */
void sf_session_invalidate(struct sf_org *org, uint64_t gen);
/* As sf_session_get for a caller with its own http client (the stream). */
cs_err sf_session_get_with(struct sf_org *org, struct http_client *http, struct sf_session *s,
    struct sf_error *e);

/* A session was accepted by an answer (a 2xx, a streaming handshake): authenticated. Cheap when
 * it is already: one atomic load. Any thread. */
void sf_org_auth_ok(struct sf_org *org);
/* The session was refused for good, or a login failed: not authenticated, because of why (no
 * secret in it). Any thread. */
void sf_org_auth_failed(struct sf_org *org, const char *why);

/* Records a Sforce-Limit-Info header value. */
void sf_org_note_limits(struct sf_org *org, const char *v);
void sf_org_count(struct sf_org *org, uint64_t requests, uint64_t retries);

/* Sets e to a local failure (no Salesforce answer). Returns err. */
cs_err sf_fail(struct sf_error *e, cs_err err, bool transient, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Copies a cs_error from the HTTP layer into e, classifying network failures as transient. */
cs_err sf_fail_http(struct sf_error *e, const struct cs_error *he);

/* Appends s percent-encoded for a URL path segment or form value. */
cs_err sf_urlencode(struct cs_buf *b, const char *s);
/* A random 64-bit value from the client's generator. */
uint64_t sf_rand(uint64_t *state);
/* Sleeps ms milliseconds, waking early (returning true) when stop becomes nonzero. In a fuzz
 * build (CS_FUZZ) it returns at once, as if the time had passed: a retry, reconnect or poll
 * interval only makes a fuzz run slower, and every path around the wait stays the same. */
bool sf_sleep_ms(long ms, const atomic_int *stop);
/* Overwrites with '*' every occurrence in p[0..len) of secret, as it is and percent-encoded: an
 * answer may echo what it was sent. Secrets under 4 bytes are left alone. */
void sf_scrub(char *p, size_t len, const char *secret);
/* Copies at most cap-1 bytes of s into out, NUL-terminated. */
void sf_copy(char *out, size_t cap, const char *s);

/* One request as sf_send takes it; every pointer is borrowed for the call. */
struct sf_req {
	const char *method;
	const char *path;             /* as for sf_rest */
	const char *body;             /* NULL for none */
	size_t len;
	const char *content_type;     /* of the body; NULL: application/json; charset=UTF-8 */
	const char *accept;           /* NULL: application/json */
	const char *extra;            /* one more "Name: value" header line, or NULL */
	unsigned flags;               /* SF_IDEMPOTENT */
	size_t max_response;          /* bytes; 0: the org's max_response */
};

/* The one request path: sends rq with the token, Sforce-Call-Options and the limit bookkeeping,
 * refreshing the token once on a 401 and retrying transient failures per the rule above sf_rest.
 * On CS_OK, rs (caller-owned: http_response_init before, http_response_cleanup after, even on
 * error) holds the 2xx answer: status, raw body and headers. On failure e says why (the body of a
 * Salesforce error is parsed into it). *attempts (may be NULL) gets how many calls were sent.
 * Thread owning c. */
cs_err sf_send(struct sf_client *c, const struct sf_req *rq, struct http_response *rs, unsigned *attempts,
    struct sf_error *e);

/* sf_send for a JSON answer: method to path with a raw JSON body (NULL for none) and an optional
 * extra header line. *out gets the parsed 2xx body (NULL when empty); *status the HTTP status
 * (also of a refused call); *attempts (may be NULL) how many calls were sent. */
cs_err sf_call(struct sf_client *c, const char *method, const char *path, const char *body, size_t len,
    unsigned flags, const char *extra_header, long *status, json_t **out, unsigned *attempts,
    struct sf_error *e);

/* Checks an sObject or field name: 1..80 of [A-Za-z0-9_]. */
bool sf_name_ok(const char *s);
/* Checks a record id: 15 or 18 of [A-Za-z0-9]. */
bool sf_id_ok(const char *s);

/* --- Bulk API 2.0 parsers (bulk.c), pure, reached by tests and the fuzzer ------------------- */

/* The rows of one upload, kept to find each again in the result files by the values it repeats.
 * Single-threaded; sf_bulk_rows_new / sf_bulk_rows_free. */
struct sf_bulk_rows;

enum sf_bulk_file { SF_BULK_SUCCESSFUL, SF_BULK_FAILED, SF_BULK_UNPROCESSED };

/* Returns a new empty set of rows with the upload's ncols (1..5000) column names (copied).
 * CS_EINVAL, CS_ENOMEM. */
cs_err sf_bulk_rows_new(const char *const *cols, size_t ncols, struct sf_bulk_rows **out);
void sf_bulk_rows_free(struct sf_bulk_rows *r);
/* Adds the next row: vals[i] (lens[i] bytes, NULL for an empty value) as uploaded in column i.
 * CS_ESTATE once results were applied, CS_ETOOBIG, CS_ENOMEM. */
cs_err sf_bulk_rows_add(struct sf_bulk_rows *r, const char *const *vals, const size_t *lens);
size_t sf_bulk_rows_count(const struct sf_bulk_rows *r);
/* The file that named row (an enum sf_bulk_file), or -1 while none has. */
int sf_bulk_rows_state(const struct sf_bulk_rows *r, size_t row);

/* Reads result file which (csv[0..len), borrowed; "" is a file without rows) and, for each of
 * its rows, finds the first row of r with the same values not named yet and fills res[row]
 * (res may be NULL): success, id and created; the failure read from sf__Error; or "not
 * processed" (CS_ESTATE, transient). *matched gets how many rows were found, *unknown how many
 * named no row of r. Errors: CS_EPARSE (not CSV, a header without Salesforce's columns or
 * without an uploaded column), CS_ETOOBIG, CS_ENOMEM; rows read before the error keep their
 * results. */
cs_err sf_bulk_results_apply(struct sf_bulk_rows *r, enum sf_bulk_file which, const char *csv, size_t len,
    struct sf_result *res, size_t *matched, size_t *unknown, struct sf_error *e);

/* Reads an sf__Error value s[0..n) ("CODE:message:Field1,Field2 --") into e: code, message,
 * fields, err CS_EHTTP, transient per sf_code_transient. Never fails. */
void sf_bulk_error_parse(struct sf_error *e, const char *s, size_t n);

/* Reads one query results page csv[0..len) (header line first) into JSON records as
 * sf_bulk_query delivers them, calling cb for each. *rows gets how many were delivered, *halted
 * whether cb stopped it. Errors: CS_EPARSE (not CSV, a column name that is not a field path,
 * two columns naming one field), CS_ENOMEM. */
cs_err sf_bulk_query_parse(const char *csv, size_t len, const struct sf_describe *d, sf_record_cb cb, void *ud,
    long long *rows, bool *halted, struct sf_error *e);

#endif

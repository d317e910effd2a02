/* sf.h - the Salesforce connector: OAuth, REST, sObject Collections, Composite, SOQL, describe, CDC streaming. */
#ifndef CS_SF_H
#define CS_SF_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/*
 * Threads. A struct sf_org is shared by every thread that talks to one org: it holds the
 * configuration, the cached access token and the API-usage figures behind one mutex. Each thread
 * makes its own struct sf_client (one keep-alive HTTP connection, not thread-safe) and its own
 * struct sf_stream. The org must outlive its clients and streams.
 *
 * The connector knows an org only by its login and instance URLs; nothing here depends on which
 * server answers.
 */

struct sf_org;
struct sf_client;
struct sf_stream;
struct sf_describe;

#define SF_ID_LEN 18
#define SF_MAX_BATCH 200            /* sObject Collections records per call */
#define SF_MAX_COMPOSITE 25         /* /composite subrequests per call */
#define SF_MAX_STREAM_CHANNELS 64   /* channels per stream */

/* --- errors ------------------------------------------------------------------------------ */

/* A caller-owned error detail. err is the project code; http, code, message and fields carry what
 * Salesforce answered (code is its errorCode / statusCode). transient says whether the same call
 * may succeed later unchanged (5xx, UNABLE_TO_LOCK_ROW, limits, timeouts, dropped connections);
 * permanent errors (validation, missing or invalid fields, ...) need a person or a changed request.
 * Never holds a token, key, secret or password. */
struct sf_error {
	cs_err err;
	long http;                /* HTTP status; 0 when no response arrived */
	char code[64];            /* e.g. "REQUIRED_FIELD_MISSING"; "" when none */
	char message[512];
	char fields[256];         /* comma-separated field names from the error, "" when none */
	bool transient;
};

/* Resets e to "no error". */
void sf_error_clear(struct sf_error *e);

/* Parses a Salesforce error body (p, len): the REST array [{"message","errorCode","fields"}], a
 * single such object, a collections error with "statusCode", or an OAuth {"error",
 * "error_description"}. Fills e with http, the first error's code, message and fields, err and
 * the transient classification; a body that is not JSON leaves a generic message naming the
 * status. Never fails. */
void sf_error_parse(struct sf_error *e, long http, const char *p, size_t len);

/* True when Salesforce's errorCode names a condition that clears on its own
 * (UNABLE_TO_LOCK_ROW, SERVER_UNAVAILABLE, QUERY_TIMEOUT, REQUEST_LIMIT_EXCEEDED, ...). */
bool sf_code_transient(const char *code);

/* --- retries ----------------------------------------------------------------------------- */

/* Retry policy for transient failures: exponential backoff with full jitter, the n-th retry
 * (n >= 1) waiting a uniform random time in [0, min(cap_ms, base_ms * 2^(n-1))]. At most
 * max_attempts calls in total and no retry that would start after max_total_ms. Zero fields take
 * the defaults (5 attempts, 100 ms, 10 s, 60 s). */
struct sf_retry {
	unsigned max_attempts;
	long base_ms;
	long cap_ms;
	long max_total_ms;
};

/* The wait before retry number n (n >= 1) for the random value rnd: pure, for tests. */
long sf_backoff_ms(const struct sf_retry *r, unsigned n, uint64_t rnd);

/* --- orgs and authentication --------------------------------------------------------------- */

enum sf_auth {
	SF_AUTH_JWT,                  /* JWT bearer: client_id (iss), username (sub), key_file */
	SF_AUTH_CLIENT_CREDENTIALS,   /* client_id and client_secret, sent with HTTP Basic */
	SF_AUTH_REFRESH_TOKEN,        /* refresh_token, client_id [, client_secret] */
	SF_AUTH_ACCESS_TOKEN,         /* a fixed access_token; a 401 is final */
};

/* An org's settings. Every string is copied by sf_org_new(); secrets are wiped on free. */
struct sf_org_config {
	const char *name;             /* label for logs and messages */
	const char *login_url;        /* e.g. https://login.salesforce.com or a My Domain URL */
	const char *instance_url;     /* used until (and unless) a token response names one */
	const char *api_version;      /* "62.0" */
	const char *client_name;      /* Sforce-Call-Options client=<name>; required */
	enum sf_auth auth;
	const char *client_id;
	const char *client_secret;    /* secret */
	const char *username;
	const char *key_file;         /* PEM private key for JWT */
	const char *refresh_token;    /* secret */
	const char *access_token;     /* secret; SF_AUTH_ACCESS_TOKEN */
	const char *audience;         /* JWT aud; NULL = login_url (https://login.salesforce.com,
	                               * https://test.salesforce.com or an Experience site URL) */
	long timeout_ms;              /* per HTTP request; 0 = 60 s */
	size_t max_response;          /* bytes per response; 0 = 64 MiB */
	struct sf_retry retry;
};

/* Validates cfg and returns a new org in *out; caller frees with sf_org_free(). No network.
 * Errors: CS_EINVAL (missing or bad setting, named in e), CS_ENOMEM. Any thread. */
cs_err sf_org_new(const struct sf_org_config *cfg, struct sf_org **out, struct sf_error *e);
/* Frees org (NULL is a no-op); every client and stream of it must be freed first. */
void sf_org_free(struct sf_org *org);

/* Obtains a fresh access token now (also done lazily by the first call). Errors: CS_EAUTH
 * (refused; e carries Salesforce's error and description, never a secret), CS_ENET,
 * CS_ETIMEOUT, CS_EIO (key file). Uses c's connection; the thread owning c. */
cs_err sf_login(struct sf_client *c, struct sf_error *e);

/* API usage from the latest Sforce-Limit-Info header seen by any client of org. */
struct sf_limits {
	long long used;               /* -1 before the first counted call */
	long long max;
	int64_t at_ms;                /* wall clock of the observation */
};
/* Copies the org's latest figures into *out. Any thread. */
void sf_org_limits(struct sf_org *org, struct sf_limits *out);
/* True when used/max >= threshold_pct (0..100) of the budget: non-urgent work should pause.
 * False while nothing is known yet. Any thread. */
bool sf_org_budget_low(struct sf_org *org, int threshold_pct);
/* Parses "api-usage=N/M[; ...]"; false when absent or malformed. Pure, for tests. */
bool sf_limit_info_parse(const char *v, long long *used, long long *max);

/* Whether the org holds a session Salesforce accepts, as its logins and answers tell. */
struct sf_auth_state {
	bool authenticated;           /* the last login succeeded (or an answer accepted the session) and
	                               * nothing refused it since; false before the first login */
	int64_t login_ms;             /* wall clock of the last successful login; 0: none yet */
	int64_t failed_ms;            /* of the last failed login or refused session; 0: none */
	uint64_t failures;            /* failed logins since the last success */
	char error[256];              /* why the last one failed (never a secret); "" once authenticated */
};
/* Copies the org's authentication state into *out. Any thread. */
void sf_org_auth(struct sf_org *org, struct sf_auth_state *out);

/* Counters since sf_org_new(): HTTP requests sent (each attempt), retries, token acquisitions. */
struct sf_stats {
	uint64_t requests;
	uint64_t retries;
	uint64_t logins;
};
void sf_org_stats(struct sf_org *org, struct sf_stats *out);

/* Returns a new client of org in *out (one per thread); caller frees with sf_client_free().
 * Errors: CS_ENOMEM. */
cs_err sf_client_new(struct sf_org *org, struct sf_client **out);
void sf_client_free(struct sf_client *c);
/* From now on c leaves to its caller every write (PATCH, POST) whose effect is uncertain: a
 * timeout or a connection dropped after the request was sent is returned, not retried, even for
 * an idempotent call. The sync engine retries such a write itself, once it has looked whether
 * its own change event shows that the write landed: repeated blindly, a write that landed
 * overwrites what Salesforce's users changed after it. Writes that provably had no effect are
 * still retried here. */
void sf_client_caller_retries(struct sf_client *c);

/* Builds a signed RS256 JWT bearer assertion (header.claims.signature, base64url) from the PEM
 * private key in key_file: iss, sub, aud and exp (seconds since the epoch). Returns a new string
 * in *out, caller frees with free(). Errors: CS_EIO (unreadable key), CS_EINVAL (not an RSA key),
 * CS_ENOMEM. Any thread. */
cs_err sf_jwt_build(const char *key_file, const char *iss, const char *sub, const char *aud,
    int64_t exp, char **out, struct sf_error *e);

/* --- REST -------------------------------------------------------------------------------- */

/*
 * Every request carries "Authorization: Bearer", "Sforce-Call-Options: client=<name>" and
 * records Sforce-Limit-Info. A 401 INVALID_SESSION_ID gets a new token and the request is sent
 * once more. Transient failures are retried per the org's sf_retry under this rule:
 *   - GET, HEAD and DELETE are retried;
 *   - PATCH and POST are retried when the call is idempotent (SF_IDEMPOTENT: update by id,
 *     upsert by external id, collections update/upsert/retrieve) or when the request provably
 *     had no effect: the connection could not be made, or Salesforce answered 503, 420, 429 or
 *     UNABLE_TO_LOCK_ROW (a whole-request error, nothing committed);
 *   - a timeout or dropped connection after a non-idempotent POST is not retried: the write may
 *     have happened, and the caller (who should have used upsert) decides; nor after any write
 *     of a client whose caller retries (sf_client_caller_retries).
 * 403 REQUEST_LIMIT_EXCEEDED is never retried here: it returns CS_ELIMIT (transient) at once so
 * the caller can back off.
 */

#define SF_IDEMPOTENT 0x1u      /* the call may be repeated with the same effect */

/* Sends method to path with the JSON body (borrowed; NULL for none). path is relative to
 * /services/data/vXX.X ("/sobjects/Account") or absolute on the instance ("/services/...").
 * On a 2xx answer returns CS_OK, *status and *out (a new reference or NULL for an empty body;
 * caller json_decref()s; out may be NULL). Errors: CS_EAUTH, CS_ELIMIT, CS_ENOTFOUND (404),
 * CS_EHTTP (other statuses, e filled from the body), CS_ENET, CS_ETIMEOUT, CS_ETOOBIG, CS_EPARSE.
 * Thread owning c. */
cs_err sf_rest(struct sf_client *c, const char *method, const char *path, const json_t *body,
    unsigned flags, long *status, json_t **out, struct sf_error *e);

/* Creates one record of sobject with fields (borrowed); the new 18-char id into id. Not retried
 * after an ambiguous failure (see above); prefer sf_rest_upsert. */
cs_err sf_rest_create(struct sf_client *c, const char *sobject, const json_t *fields,
    char id[SF_ID_LEN + 1], struct sf_error *e);
/* Retrieves one record; fields is "A,B,C" or NULL for all. *rec is a new reference. */
cs_err sf_rest_retrieve(struct sf_client *c, const char *sobject, const char *id, const char *fields,
    json_t **rec, struct sf_error *e);
/* Updates fields of one record (204). */
cs_err sf_rest_update(struct sf_client *c, const char *sobject, const char *id, const json_t *fields,
    struct sf_error *e);
/* Upserts by external id ext_field = value; id and *created (either may be NULL) report the result.
 * A value matching several records gives CS_ECONFLICT (HTTP 300). A value containing '/' cannot
 * be addressed in a URL and is refused with CS_EINVAL: use sf_coll_upsert for it. */
cs_err sf_rest_upsert(struct sf_client *c, const char *sobject, const char *ext_field, const char *value,
    const json_t *fields, char id[SF_ID_LEN + 1], bool *created, struct sf_error *e);
/* Deletes one record. A retried delete that finds the record already deleted succeeds. */
cs_err sf_rest_delete(struct sf_client *c, const char *sobject, const char *id, struct sf_error *e);

/* --- sObject Collections and Composite --------------------------------------------------- */

/* One record's outcome, at the index of its input record. */
struct sf_result {
	char id[SF_ID_LEN + 1];       /* "" when none */
	bool success;
	bool created;                 /* upsert and create */
	struct sf_error error;        /* the first error when !success */
	unsigned nerrors;
};

/* Collections calls take n records (a JSON array, borrowed) and fill res[0..n) in input order,
 * sending at most SF_MAX_BATCH records per call. A call-level failure (network, auth, limit, a
 * malformed request) stops at that chunk: the records of the failed and later chunks get
 * success = false with that error, earlier chunks keep their results, and the call-level error is
 * returned. Per-record failures return CS_OK. all_or_none applies per call of 200, so it is refused
 * (CS_EINVAL) for more than SF_MAX_BATCH records. Thread owning c. */

/* Creates records; each carries "attributes":{"type":...}. Not idempotent. */
cs_err sf_coll_create(struct sf_client *c, const json_t *records, bool all_or_none, struct sf_result *res,
    struct sf_error *e);
/* Updates records; each carries "attributes":{"type":...} and "Id". */
cs_err sf_coll_update(struct sf_client *c, const json_t *records, bool all_or_none, struct sf_result *res,
    struct sf_error *e);
/* Upserts records of one sobject by ext_field, which each record carries. */
cs_err sf_coll_upsert(struct sf_client *c, const char *sobject, const char *ext_field, const json_t *records,
    bool all_or_none, struct sf_result *res, struct sf_error *e);
/* Deletes n ids (borrowed). */
cs_err sf_coll_delete(struct sf_client *c, const char *const *ids, size_t n, bool all_or_none,
    struct sf_result *res, struct sf_error *e);
/* Retrieves n records of sobject by id with fields ("A,B"); *out is a new array of n entries in
 * input order, null where a record does not exist. */
cs_err sf_coll_retrieve(struct sf_client *c, const char *sobject, const char *const *ids, size_t n,
    const char *fields, json_t **out, struct sf_error *e);

/* POST /composite with up to SF_MAX_COMPOSITE subrequests (borrowed array of {method, url,
 * referenceId[, body]}); *out is a new reference to the compositeResponse array. flags as sf_rest. */
cs_err sf_composite(struct sf_client *c, const json_t *subrequests, bool all_or_none, unsigned flags,
    json_t **out, struct sf_error *e);

/* --- SOQL -------------------------------------------------------------------------------- */

#define SF_SOQL_MAX 100000          /* characters of query text Salesforce accepts */

/* Appends s (len bytes) to b as a SOQL string literal in single quotes, escaping \ ' " and
 * newline, carriage return, tab, backspace and form feed. Errors: CS_EUTF8 (invalid UTF-8),
 * CS_EINVAL (another control character, including NUL), CS_ETOOBIG (b's maximum); b is
 * unchanged on error. */
cs_err sf_soql_quote(struct cs_buf *b, const char *s, size_t len);
/* As sf_soql_quote for the pattern of a LIKE: also escapes % and _ so the value matches literally;
 * prefix/suffix wildcards (when true) are added unescaped around it. */
cs_err sf_soql_quote_like(struct cs_buf *b, const char *s, size_t len, bool prefix, bool suffix);

/* A query under construction. Only the text given to sf_soql_kw comes through unchecked, and it
 * must be a constant written in the program; every value goes through a typed call. The first
 * error sticks: later calls do nothing and sf_soql_text reports it. Caller-owned: sf_soql_init /
 * sf_soql_cleanup. */
struct sf_soql {
	struct cs_buf b;
	cs_err err;
};
void sf_soql_init(struct sf_soql *q);
void sf_soql_cleanup(struct sf_soql *q);
void sf_soql_kw(struct sf_soql *q, const char *constant);           /* "SELECT Id FROM " */
void sf_soql_name(struct sf_soql *q, const char *name);             /* field/object: [A-Za-z0-9_.] */
void sf_soql_str(struct sf_soql *q, const char *value);             /* quoted literal */
void sf_soql_like(struct sf_soql *q, const char *value, bool prefix, bool suffix);
void sf_soql_int(struct sf_soql *q, long long v);
void sf_soql_datetime(struct sf_soql *q, int64_t ms);               /* 2026-01-02T03:04:05.000Z */
void sf_soql_in(struct sf_soql *q, const char *const *values, size_t n);   /* ('a','b') */
/* Returns the text (borrowed, valid until the next call) or NULL with the sticky error in *err. */
const char *sf_soql_text(struct sf_soql *q, cs_err *err);

/* Delivers one record (borrowed for the call). Return 0 to continue, nonzero to stop: the query
 * then returns CS_OK with what was delivered so far. */
typedef int (*sf_record_cb)(void *ud, const json_t *record);

#define SF_QUERY_ALL 0x2u           /* /queryAll: include deleted and archived records */

/* Runs soql, following nextRecordsUrl, delivering each record to cb in order. batch_size 0 =
 * Salesforce's default, else 200..2000 (Sforce-Query-Options). *total (may be NULL) gets
 * totalSize. Errors as sf_rest; CS_EINVAL for empty or over-long text. Thread owning c. */
cs_err sf_query(struct sf_client *c, const char *soql, unsigned flags, int batch_size, sf_record_cb cb,
    void *ud, long long *total, struct sf_error *e);
/* As sf_query, collecting records into *out (a new array), refusing (CS_ETOOBIG) more than max. */
cs_err sf_query_array(struct sf_client *c, const char *soql, unsigned flags, size_t max, json_t **out,
    struct sf_error *e);

/* --- Bulk API 2.0 ------------------------------------------------------------------------ */

/*
 * Large loads and reads, asynchronous on Salesforce's side. Every HTTP call goes through the same
 * path as sf_rest (token, a 401 renewing it once, Sforce-Call-Options, Sforce-Limit-Info,
 * retries), with these rules for what may be repeated: creating a job (an extra empty job writes
 * nothing), closing and aborting it and every GET are repeated; an upload is not (Salesforce
 * refuses to close a job that received two): when an upload fails, the job is aborted and the
 * records go again in a new job, up to three jobs.
 */

enum sf_bulk_op {
	SF_BULK_INSERT,
	SF_BULK_UPDATE,               /* each record carries "Id" */
	SF_BULK_UPSERT,               /* each record carries the external id field */
	SF_BULK_DELETE,               /* each record carries "Id" (other keys are not sent); recycle bin */
	SF_BULK_HARD_DELETE,          /* as delete, bypassing the recycle bin */
};

#define SF_BULK_NULL "#N/A"         /* the CSV value that sets a field to null */

/* Where a call stands, for a progress display; borrowed for the callback only. */
struct sf_bulk_progress {
	const char *job_id;
	const char *state;            /* Open, UploadComplete, InProgress, JobComplete, Failed, Aborted */
	long long done;               /* ingest: records processed by the call's jobs so far;
	                               * query: records delivered so far */
	long long total;              /* ingest: records of the call; query: the job's count, -1 until known */
};

/* Tuning of a Bulk call; a zeroed struct (or NULL) takes every default. */
struct sf_bulk_opts {
	long poll_min_ms;             /* first wait before asking a job's state again; 0 = 200 ms */
	long poll_max_ms;             /* the wait doubles up to this; 0 = 10 s */
	long job_timeout_ms;          /* a job not finished by then is aborted (CS_ETIMEOUT); 0 = 2 h */
	size_t max_job_bytes;         /* CSV bytes one job uploads; more records go in further jobs;
	                               * 0 = 32 MiB, at most 100 MiB (Salesforce's 150 MB base64) */
	size_t max_job_records;       /* records one job takes; 0 = no limit of our own */
	long max_records;             /* query: records per results page (maxRecords); 0 = 10,000 */
	const atomic_int *stop;       /* becoming nonzero aborts the job in hand: CS_ESTATE; may be NULL */
	void (*progress)(void *ud, const struct sf_bulk_progress *p);   /* may be NULL */
	void *ud;
};

/* What an ingest call did, over its jobs. */
struct sf_bulk_summary {
	unsigned jobs;
	long long processed;          /* as the jobs counted them, failed records included */
	long long failed;
	long long unprocessed;        /* uploaded records no job processed */
	char job_id[SF_ID_LEN + 1];   /* the last job, "" when none was made */
};

/* Writes the n records (a JSON array of objects, borrowed) with operation op on sobject through
 * Bulk API 2.0 jobs and fills res[0..n) in input order, matched by the values each result row
 * repeats (Salesforce's result files are in no particular order): success, id (sf__Id), created
 * (sf__Created) or error (sf__Error read into code, message and fields; transient as for REST).
 * Values: a string is sent as it is (RFC 4180 quoted, so commas, quotes, line breaks and any
 * UTF-8 go through), null as SF_BULK_NULL (sets the field to null), booleans as true/false,
 * numbers in their shortest exact form; an absent key or "" is an empty value, which Salesforce
 * reads as "not given" (an insert leaves the field unset, an update unchanged). A string equal to
 * "#N/A" cannot be sent as text. The columns are the union of the records' keys ("attributes"
 * aside); relationship columns ("Account.CLM_Id__c") are allowed.
 * A record refused before upload (not an object, a NUL or a value over 32,000 characters, a
 * record over 400,000, an object or array value, no key for update/upsert/delete) gets
 * success = false with code INVALID_INPUT, STRING_TOO_LONG or MISSING_ARGUMENT, and the others
 * go on. A job that ends Failed or Aborted, or a call-level failure, stops the call there: the
 * records that job processed keep their results, the rest get success = false with that error,
 * which is returned (CS_ESTATE for a Failed or Aborted job, e->code taken from its errorMessage:
 * "InvalidBatch", ...; CS_ETIMEOUT past job_timeout_ms, the job aborted; else as sf_rest).
 * Per-record failures return CS_OK. sum (may be NULL) gets the counts. Thread owning c. */
cs_err sf_bulk_ingest(struct sf_client *c, enum sf_bulk_op op, const char *sobject, const char *ext_field,
    const json_t *records, const struct sf_bulk_opts *o, struct sf_result *res, struct sf_bulk_summary *sum,
    struct sf_error *e);

/* Runs soql as a Bulk query job (SF_QUERY_ALL: queryAll) and delivers each result record to cb
 * in order, following Sforce-Locator pages of o->max_records (a page larger than the org's
 * max_response is asked again with half as many records). Records are JSON objects keyed by
 * the SELECT items; a path column ("Account.Name") becomes a nested object, null when every value
 * under it is empty. Values are typed by d's fields (borrowed, may be NULL): boolean, int and
 * long, double, currency and percent as JSON booleans and numbers; every other value, and every
 * value when d is NULL or names no such field, is a JSON string. An empty value is null in
 * every case: Bulk API writes null as an empty value, and Salesforce keeps no empty text.
 * *total (may be NULL) gets the job's record count. A cb returning nonzero stops the call (CS_OK).
 * Errors: CS_EINVAL (empty, over-long or non-UTF-8 text), CS_ESTATE (the job Failed or was
 * Aborted, e->code from its errorMessage; or stopped), CS_ETIMEOUT, CS_EPARSE (a page that is not
 * CSV, a missing or repeating Sforce-Locator, a page whose size disagrees with
 * Sforce-NumberOfRecords), else as sf_rest. Thread owning c. */
cs_err sf_bulk_query(struct sf_client *c, const char *soql, unsigned flags, const struct sf_describe *d,
    const struct sf_bulk_opts *o, sf_record_cb cb, void *ud, long long *total, struct sf_error *e);

/* The info of ingest job job_id (a query job with query): *out is a new reference to Salesforce's
 * JSON, whose "state" is one of the six states. Errors as sf_rest; CS_EPARSE without a state. */
cs_err sf_bulk_job(struct sf_client *c, bool query, const char *job_id, json_t **out, struct sf_error *e);

/* Aborts job job_id (ingest, or query with query). A job that has finished answers CS_EHTTP with
 * code INVALIDJOBSTATE. Errors as sf_rest. Thread owning c. */
cs_err sf_bulk_abort(struct sf_client *c, bool query, const char *job_id, struct sf_error *e);

/* --- describe ---------------------------------------------------------------------------- */

/* One field of a describe result; read-only for callers. */
struct sf_field {
	char *name;
	char *type;                   /* "string", "picklist", "reference", "currency", "date", ... */
	long length, precision, scale;
	bool nillable, createable, updateable, external_id, unique, restricted_picklist, calculated;
	char **picklist;              /* active values */
	size_t npicklist;
	char **reference_to;
	size_t nreference_to;
	char *relationship_name;      /* NULL when none */
};

/* An sObject's describe; read-only for callers, freed with sf_describe_free(). */
struct sf_describe {
	char *name;
	bool custom, createable, updateable, deletable, queryable;
	struct sf_field *fields;
	size_t nfields;
};

/* Fetches and parses /sobjects/<sobject>/describe into a new *out; caller frees with
 * sf_describe_free(). Errors as sf_rest, CS_EPARSE for an unexpected shape. Thread owning c. */
cs_err sf_describe(struct sf_client *c, const char *sobject, struct sf_describe **out, struct sf_error *e);
/* Parses a describe JSON object (borrowed) into a new *out. Errors: CS_EPARSE, CS_ENOMEM. */
cs_err sf_describe_parse(const json_t *v, struct sf_describe **out, struct sf_error *e);
/* Returns the field named name (case-insensitive, as Salesforce treats names) or NULL. */
const struct sf_field *sf_describe_field(const struct sf_describe *d, const char *name);
void sf_describe_free(struct sf_describe *d);

/* --- Change Data Capture over CometD --------------------------------------------------- */

enum sf_event_kind {
	SF_EVENT_CHANGE,              /* CREATE, UPDATE, DELETE, UNDELETE */
	SF_EVENT_GAP,                 /* GAP_CREATE, GAP_UPDATE, ...: details lost, reconcile the ids */
	SF_EVENT_OVERFLOW,            /* GAP_OVERFLOW: too many changes, reconcile the entity */
};

/* One delivered event; every pointer is borrowed for the callback only. */
struct sf_event {
	const char *channel;
	long long replay_id;
	enum sf_event_kind kind;
	const char *change_type;      /* "CREATE", ..., "GAP_OVERFLOW"; "" when absent */
	const char *entity;           /* ChangeEventHeader.entityName; "" when absent */
	const char *change_origin;    /* ""  when absent */
	bool ours;                    /* changeOrigin names our client (echo) */
	const json_t *header;         /* ChangeEventHeader (may be NULL) */
	const json_t *payload;        /* data.payload: header and field values */
};

struct sf_stream_handlers {
	/* Must durably store the event (and its replay id) before returning 0. Nonzero means it
	 * could not: the stream does not advance; it offers the same event again after a backoff
	 * until it is stored or the stream is stopped (a later run resumes from the last stored
	 * replay id). */
	int (*event)(void *ud, const struct sf_event *ev);
	/* The stored replay id of channel was refused as invalid (outside the retention window):
	 * events may have been missed, so the caller schedules a reconcile. Set *resume to -1
	 * (new events only; the default) or -2 (every retained event). May be NULL. */
	void (*replay_invalid)(void *ud, const char *channel, long long bad_id, long long *resume);
	/* channel has no stored replay id yet (it was subscribed with -1 and no event arrived) and
	 * the stream is about to subscribe again after an outage (or, marked by
	 * sf_stream_mark_resumed, for the first time in this run): with new events only, changes
	 * made meanwhile would be missed, so the caller reconciles, and may set *resume to -2
	 * (every retained event; it then drops those older than what it follows) instead of -1.
	 * Called once per such resubscribe, before it is sent. May be NULL. */
	void (*resumed_without_position)(void *ud, const char *channel, long long *resume);
	/* May be NULL. When set, event may only stage an event (in a transaction, say) and flush
	 * makes everything staged since the last flush durable, returning 0; it is called once the
	 * events of one long-poll answer are all staged. Nonzero means it could not, and nothing
	 * staged since the last flush was kept: every event of that answer is offered again (those
	 * stored before are recognised by their replay ids), after a backoff, until it works or the
	 * stream is stopped. A stream replays from the position of the last flush. */
	int (*flush)(void *ud);
	void *ud;
};

struct sf_stream_config {
	long connect_timeout_ms;      /* HTTP timeout beyond the server's advice; 0 = 30 s */
	size_t max_response;          /* per long-poll response; 0 = 32 MiB */
	size_t max_events;            /* events per response; 0 = 2,000 */
	struct sf_retry backoff;      /* reconnects (max_attempts/max_total_ms unused: retried until stopped) */
};

/* Returns a new stream of org in *out; caller frees with sf_stream_free(). cfg may be NULL.
 * Errors: CS_ENOMEM. */
cs_err sf_stream_new(struct sf_org *org, const struct sf_stream_config *cfg, const struct sf_stream_handlers *h,
    struct sf_stream **out);
void sf_stream_free(struct sf_stream *s);

/* Adds channel ("/data/ContractChangeEvent") resuming after replay_id (the last stored one; -1
 * for new events only, -2 for all retained). Before sf_stream_run only. Errors: CS_EINVAL (bad
 * name), CS_ETOOBIG (over SF_MAX_STREAM_CHANNELS), CS_EEXIST. */
cs_err sf_stream_subscribe(struct sf_stream *s, const char *channel, long long replay_id);
/* channel (subscribed with -1) was followed by an earlier run that stored no position: changes
 * made since may have been missed, so its first subscribe calls resumed_without_position first,
 * as a resubscribe after an outage does. Before sf_stream_run only. CS_ENOTFOUND for an unknown
 * channel. */
cs_err sf_stream_mark_resumed(struct sf_stream *s, const char *channel);

/* The replay id the stream would resume channel from (the last one its callback stored). */
long long sf_stream_replay_id(struct sf_stream *s, const char *channel);

/* Runs the stream in the calling thread until *stop becomes nonzero (set from any thread; the
 * run returns within about a second) or a failure that retrying cannot fix: CS_EAUTH (the org
 * refuses our credentials), CS_EINVAL (a channel that does not exist). Network failures and
 * server errors are retried with backoff forever. Returns CS_OK when stopped. */
cs_err sf_stream_run(struct sf_stream *s, const atomic_int *stop, struct sf_error *e);

/* Counters for status pages and tests. */
struct sf_stream_stats {
	uint64_t handshakes;
	uint64_t connects;
	uint64_t events;
	uint64_t reconnects;          /* after a network or server failure */
	uint64_t unknown_client;      /* 403::Unknown client recoveries */
	uint64_t auth_refreshes;
	uint64_t replay_invalid;
	uint64_t handler_failures;    /* events the handler could not store (each offer) */
	bool connected;               /* the last connect succeeded (subscribed, events flowing) */
	int64_t since_ms;             /* wall clock when connected last changed; 0 = never connected */
};
/* Any thread. */
void sf_stream_stats(struct sf_stream *s, struct sf_stream_stats *out);

/* True when changeOrigin (",", ";" separated parts) carries client=<name>. Pure. */
bool sf_origin_is_client(const char *origin, const char *name);

#endif

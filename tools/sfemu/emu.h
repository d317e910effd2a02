/* emu.h - sfemu internals shared by the emulator's files (not a public API).
 *
 * Threading: every request runs on its own libmicrohttpd connection thread. All emulator state
 * lives in struct emu and is guarded by emu->mu; handlers take it with emu_lock() for the whole
 * of a read or a write, so each request is one serialisable transaction, like a Salesforce
 * commit. Long polls (CometD connect) wait on emu->ev_cond with the lock released by the wait.
 */
#ifndef SFEMU_EMU_H
#define SFEMU_EMU_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "http/server.h"
#include "salesforce/sfid.h"

#define EMU_ORG_ID "00D000000000001AAA"
#define EMU_USER_ID "005000000000001AAA"      /* the integration user */
#define EMU_MAX_BODY (150u << 20)                /* Bulk uploads; REST JSON is checked lower */
#define EMU_MAX_JSON_BODY (10u << 20)
#define EMU_COLLECTION_MAX 200
#define EMU_MIN_VERSION 42
#define EMU_MAX_VERSION 62

enum ftype {
	FT_ID, FT_STRING, FT_TEXTAREA, FT_PICKLIST, FT_MULTIPICKLIST, FT_BOOLEAN, FT_INT,
	FT_DOUBLE, FT_CURRENCY, FT_PERCENT, FT_DATE, FT_DATETIME, FT_REFERENCE, FT_EMAIL,
	FT_PHONE, FT_URL
};

struct sfield {
	char *name;
	char *label;
	enum ftype type;
	int length, precision, scale;
	bool nillable, createable, updateable, unique, external_id, restricted, custom;
	bool defaulted;            /* defaultedOnCreate */
	bool required;             /* createable && !nillable && !defaulted: REQUIRED_FIELD_MISSING */
	bool system;               /* maintained by the emulator (Id, CreatedDate, SystemModstamp, ...) */
	char **picklist;           /* allowed values (picklist / multipicklist) */
	size_t npicklist;
	char *reference_to;        /* referenced object for FT_REFERENCE, else NULL */
	char *relationship_name;   /* "Account" for AccountId, else NULL */
	json_t *describe;          /* the field's full describe entry */
	json_t *jname;             /* the name as a shared, never-mutated JSON string (event field lists) */
};

/* A validation rule (configurable): when `field` equals `value` (string compare of the JSON
 * rendering; value NULL means "is null") the write fails with FIELD_CUSTOM_VALIDATION_EXCEPTION.
 * An inactive rule is kept but not evaluated, as when an admin unticks a rule's Active box
 * (POST /__emu/validation; a reset makes every rule active again). */
struct vrule {
	char *field;
	char *value;
	char *message;
	bool inactive;
};

struct sobject {
	char *name;
	char *label, *label_plural;
	char prefix[4];
	bool custom;
	struct sfield *fields;
	size_t nfields;
	uint32_t *fidx;            /* case-folded name hash -> field index + 1 (0 empty); NULL while loading */
	size_t fidx_mask;          /* fidx has fidx_mask + 1 slots, a power of two */
	bool has_index;            /* some field is unique or an external id (uindex upkeep) */
	json_t *jname;             /* the name as a shared, never-mutated JSON string (entityName) */
	json_t *describe;          /* object-level describe properties (without fields) */
	json_t *records;           /* id(18) -> record object (live records), insertion order */
	json_t *bin;               /* id(18) -> record object (recycle bin, IsDeleted true) */
	json_t *deleted_log;       /* array of {"id","deletedDate"} for sobjects/X/deleted */
	json_t *uindex;            /* unique field -> {lower-cased value -> id} */
	unsigned long long seq;    /* next id sequence number */
	struct vrule *rules;
	size_t nrules;
	bool cdc;                  /* change events are published for this object */
};

/* One published change event (or gap / overflow event). */
struct event {
	long long replay_id;
	int64_t published_ms;
	char *entity;              /* entityName, e.g. "Contract" */
	json_t *payload;           /* {"ChangeEventHeader":{...}, fields...} */
	bool delivered;            /* sent to a streaming client at least once */
};

struct session {
	char token[96];
	int64_t expires_ms;        /* 0: never */
	bool revoked;
};

/* Fault injection settings (POST /__emu/faults). Shares are per mille of counted requests. */
struct faults {
	int rate_503;              /* answer 503 SERVER_UNAVAILABLE */
	int rate_lock;             /* answer UNABLE_TO_LOCK_ROW on writes */
	int rate_drop;             /* close the connection without an answer */
	int rate_lost;             /* writes only: make the write, then close without the answer */
	int latency_ms;            /* added to every counted request */
	int latency_rate;          /* per mille of requests that get latency_ms (0 = all when latency_ms) */
	int bulk_chunk_ms;         /* more pause between the Bulk ingest chunks of 200 records (a busy org) */
	char client[64];           /* only requests of this Sforce-Call-Options client; "" = all */
	unsigned long long rng;
};

struct emu_opts {
	const char *schema_file;   /* extra schema, may be NULL */
	const char *fixed_token;   /* accepted forever, may be NULL */
	long daily_limit;          /* API requests per 24 h */
	int64_t session_ttl_ms;    /* 0: sessions never expire */
	int64_t retention_ms;      /* event retention window */
	const char *jwt_pubkey_file; /* PEM public key or certificate for JWT bearer, may be NULL */
	const char *username, *password, *client_id, *client_secret;
	const char *refresh_token; /* the refresh token the org accepts */
};

struct emu {
	pthread_mutex_t mu;
	pthread_cond_t ev_cond;    /* broadcast when events are published or clients change */
	struct emu_opts o;
	char base_url[128];        /* "http://127.0.0.1:PORT" */

	struct sobject **objects;
	size_t nobjects;

	struct event *events;      /* published events, ascending replay id; points into ev_base */
	size_t nevents;
	struct event *ev_base;     /* the allocation; expiry advances events instead of moving */
	size_t cevents;            /* capacity of ev_base */
	long long next_replay;
	json_t *undelivered;       /* replay ids of events dropped (expired) without ever being delivered */
	long long commit_number;

	struct session *sessions;
	size_t nsessions, csessions;
	unsigned long long token_seq;
	bool fixed_token_expired;  /* forced session expiry also ends the fixed token */
	bool refresh_revoked;
	int64_t schema_loaded_ms;  /* for If-Modified-Since on describe */
	bool stopping;             /* set at shutdown; long polls return at once */

	long api_used;             /* counted calls in the current window */
	int64_t api_window_start;

	struct faults faults;
	json_t *counters;          /* endpoint name -> count */

	json_t *cursors;           /* query locator -> {"rows":[...],"pos":n} */
	unsigned long long cursor_seq;

	struct cometd *cometd;     /* CometD client registry (cometd.c) */
	struct bulk *bulk;         /* Bulk API 2.0 jobs (bulk.c) */
};

/* ---- core (emu.c) ---- */
cs_err emu_init(struct emu *emu, const struct emu_opts *o, struct cs_error *e);
void emu_cleanup(struct emu *emu);
/* Drops all records, events, sessions, jobs and faults and makes every validation rule active
 * again; keeps the schema. Lock held. */
void emu_reset(struct emu *emu);
void emu_lock(struct emu *emu);
void emu_unlock(struct emu *emu);

/* Schema look-ups, case-insensitive; NULL when unknown. emu_field hashes once the object's
 * field index is built (schema_index_fields), and scans while the schema is still loading. */
struct sobject *emu_object(struct emu *emu, const char *name);
struct sobject *emu_object_by_prefix(struct emu *emu, const char *id);
struct sfield *emu_field(const struct sobject *o, const char *name);
/* Field whose relationshipName is `rel` (case-insensitive), e.g. "Account" -> AccountId. */
struct sfield *emu_field_by_relationship(const struct sobject *o, const char *rel);
/* Finds a live record by 15/18-char id in any object; borrowed; NULL when absent. */
json_t *emu_find(struct emu *emu, const char *id, struct sobject **obj_out);

/* ---- schema (schema.c) ---- */
cs_err schema_load(struct emu *emu, const char *text, size_t len, const char *origin, struct cs_error *e);
cs_err schema_load_default(struct emu *emu, struct cs_error *e);
cs_err schema_load_file(struct emu *emu, const char *path, struct cs_error *e);
void schema_free_object(struct sobject *o);
/* Builds o's field-name hash, its shared name strings and has_index once its fields are
 * complete; false when out of memory (the schema load then fails). */
bool schema_index_fields(struct sobject *o);
/* describeGlobal entry (full=false) or the object's describe (full=true). New reference. */
json_t *schema_describe(struct emu *emu, const struct sobject *o, int version, bool full);

/* ---- writes (emu.c) ----
 * A transaction groups writes that commit together (one REST call, one collections call, a
 * composite request with allOrNone, one bulk batch). emu_txn_commit publishes one change event
 * per written record in commit order, all with the same transactionKey; emu_txn_rollback restores
 * every record it touched. The CALLER takes emu_lock() before emu_txn_begin() and releases it
 * after emu_txn_commit()/emu_txn_rollback(); the txn functions never lock themselves. */
struct emu_txn;
struct emu_caller {
	const char *api;           /* "rest", "bulkapi" ... for changeOrigin */
	int version;               /* API major version, e.g. 62 */
	const char *client;        /* from Sforce-Call-Options client=, or NULL */
};
struct emu_txn *emu_txn_begin(struct emu *emu, const struct emu_caller *who);
/* What the commit publishes in place of the transaction's change events, as Salesforce does
 * when it cannot tell what changed: EMU_LOST_RECORDS, one header-only gap event per record
 * written (GAP_CREATE, GAP_UPDATE, GAP_DELETE, GAP_UNDELETE with its id); EMU_LOST_OVERFLOW,
 * one GAP_OVERFLOW per object written, without record ids. The writes themselves commit as
 * usual. Call before emu_txn_commit. */
enum emu_lost { EMU_LOST_NONE, EMU_LOST_RECORDS, EMU_LOST_OVERFLOW };
void emu_txn_lose_events(struct emu_txn *t, enum emu_lost lost);
void emu_txn_commit(struct emu_txn *t);
void emu_txn_rollback(struct emu_txn *t);

/* Each write validates `fields` (a JSON object of field -> value; "attributes" ignored) against
 * the schema and, on failure, returns false with *err set to a new JSON array of Salesforce
 * errors ([{"message","errorCode","fields"}]) and changes nothing. The caller owns *err. */
bool emu_create(struct emu_txn *t, struct sobject *o, json_t *fields, char id_out[SFID_LEN + 1], json_t **err);
bool emu_update(struct emu_txn *t, struct sobject *o, const char *id, json_t *fields, json_t **err);
bool emu_delete(struct emu_txn *t, const char *id, json_t **err);
bool emu_undelete(struct emu_txn *t, const char *id, json_t **err);
/* Upsert by external id: *created tells which happened. 300-style ambiguity returns false with
 * *err = {"multiple": [urls...]} (an object, not an array) so callers can answer 300. */
bool emu_upsert(struct emu_txn *t, struct sobject *o, const char *ext_field, const char *ext_value,
    json_t *fields, char id_out[SFID_LEN + 1], bool *created, json_t **err);

/* A record as the REST API renders it: "attributes" first, then the requested fields (all
 * when fields is NULL). version is the API version for attribute URLs. New reference. */
json_t *emu_render(struct emu *emu, struct sobject *o, json_t *rec, const char *const *fields, size_t nfields, int version);

/* Builds the standard error array [{"message":msg,"errorCode":code,"fields":[field?]}]. */
json_t *emu_error(const char *code, const char *msg, const char *field);

/* ---- events (emu.c) ---- */
/* Publishes a gap or overflow event (changeType GAP_*, GAP_OVERFLOW) for entity. Lock held. */
void emu_publish_gap(struct emu *emu, const char *entity, const char *change_type, const char *record_id);
/* Index of the first event with replay id > after, or nevents. Lock held. */
size_t emu_events_after(struct emu *emu, long long after);
/* Drops events older than the retention window. Lock held. */
void emu_events_expire(struct emu *emu, int64_t now_ms);
/* Oldest replay id still retained minus one (the earliest valid "resume after" id), or -1. */
long long emu_events_floor(struct emu *emu);

/* ---- per-request plumbing (handlers.c) ---- */
/* Parses "v62.0" into 62; 0 when not a served version. */
int emu_version(const char *seg);
/* Answers a Salesforce-shaped error: status and [{"message","errorCode"}]. */
void emu_fail(struct http_resp *rs, int status, const char *code, const char *msg);
/* Authenticates the request (Bearer or OAuth); answers 401 and returns false when invalid.
 * Counts the call against the daily limit, answers 403 REQUEST_LIMIT_EXCEEDED past it, and
 * sets Sforce-Limit-Info. Lock must NOT be held. */
bool emu_begin_call(struct emu *emu, struct http_req *rq, struct http_resp *rs, const char *endpoint, int ncalls);
/* Reads the caller identity (API name "rest", version, Sforce-Call-Options client=). */
void emu_caller_from(struct http_req *rq, int version, const char *api, struct emu_caller *who, char *client_buf, size_t cap);
/* Parses the body as JSON (object or array); answers 400 JSON_PARSER_ERROR / 413 and returns
 * NULL on failure. New reference. */
json_t *emu_body_json(struct http_req *rq, struct http_resp *rs);

/* Fills o with sfemu's routes and limits (handlers.c); the caller sets host and port. */
void emu_server_opts(struct emu *emu, struct http_server_opts *o);

/* ---- oauth.c ---- */
/* True when tok is a live session (or the fixed token). Lock held. */
bool oauth_token_valid(struct emu *emu, const char *tok);
/* Expires every session, like a forced session timeout. Lock held. */
void oauth_expire_all(struct emu *emu);
/* /services/oauth2/<rest>: token, userinfo, revoke. Takes the lock itself. */
void oauth_handle(struct emu *emu, struct http_req *rq, struct http_resp *rs, const char *rest);
/* /id/<org>/<user>: the identity URL of the token response. */
void oauth_identity(struct emu *emu, struct http_req *rq, struct http_resp *rs);

/* ---- sub-modules ---- */
/* soql.c: runs one SOQL query; see soql.h. */
/* cometd.c */
cs_err cometd_init(struct emu *emu);
void cometd_cleanup(struct emu *emu);
void cometd_reset(struct emu *emu);  /* lock held */
void cometd_handle(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version);
/* bulk.c */
cs_err bulk_init(struct emu *emu);
void bulk_cleanup(struct emu *emu);
void bulk_reset(struct emu *emu);    /* lock held */
void bulk_handle(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version, const char *rest);

#endif

/* admin_int.h - what the admin module's own files share: the dashboard's embedded files, what is
 * pending per org, and the lag history. */
#ifndef CS_ADMIN_INT_H
#define CS_ADMIN_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "http/server.h"
#include "util/err.h"

struct store;
struct store_pool;
struct sync_engine;

/* One file of src/admin/dashboard/, embedded at build time (cmake/embed_dashboard.cmake). */
struct admin_asset {
	const char *name;               /* "index.html", "app.js", ... */
	const char *ctype;              /* the Content-Type it is served with */
	const unsigned char *data;      /* len bytes, then a NUL */
	size_t len;
	const char *etag;               /* strong, quoted: "\"0123456789abcdef\"" */
};

/* The generated table, in name order. */
extern const struct admin_asset admin_assets[];
extern const size_t admin_nassets;

/* True for the dashboard's paths ("/" and "/ui/<file>"): static files anyone who reaches the
 * listener may load; the data they show still needs the admin token. */
bool admin_dashboard_public(const char *path);

/* GET or HEAD / (index.html) and /ui/{file}: a route handler for admin.c's table, for any
 * method. Answers 304 to a matching If-None-Match, 404 for a name not embedded and 405 for a
 * method other than GET or HEAD. ud is unused. */
void admin_dashboard_get(struct http_req *rq, struct http_resp *rs, void *ud);

/* --- what waits for an org (admin.c) ------------------------------------------------------ */

/* The changes waiting for an org, as the store holds them. */
struct admin_pending {
	long long inbox;           /* changes from Salesforce not applied yet (and operator requests) */
	long long outbox;          /* writes to Salesforce not made yet */
	long long feed_backlog;    /* repository changes not planned yet */
	int64_t oldest_to_clm_ms;  /* when the oldest change from Salesforce arrived (the inbox's head);
	                            * 0: none waiting */
	int64_t oldest_to_sf_ms;   /* when the oldest repository change not in Salesforce yet was made
	                            * (the outbox's head, the first unplanned feed row); 0: none */
};

/* Reads what waits for org on s into *p. Errors: the store's (CS_EIO, CS_ETIMEOUT, ...); *p then
 * holds what could be read (-1 for a count that could not). s is used by this thread for the
 * call. */
cs_err admin_pending_read(struct store *s, const char *org, struct admin_pending *p, struct cs_error *e);

/* The age of the oldest of two times (0: none) at now; 0 when neither. Pure. */
int64_t admin_lag_of(int64_t a_ms, int64_t b_ms, int64_t now_ms);

/* --- the lag history (lag.c) ----------------------------------------------------------------
 * A sample every ADMIN_LAG_INTERVAL_S of each org's lag, queues and throughput, the last
 * ADMIN_LAG_SAMPLES kept (an hour) in a ring of fixed size per org, allocated at the start.
 * One thread takes the samples, sleeping on a condition variable between them; readers copy
 * under a mutex. */

#define ADMIN_LAG_INTERVAL_S 10
#define ADMIN_LAG_SAMPLES 360
#define ADMIN_LAG_WINDOW_S (ADMIN_LAG_INTERVAL_S * ADMIN_LAG_SAMPLES)

/* One org's figures at one time. */
struct admin_lag_sample {
	int64_t t_ms;              /* wall clock */
	int64_t lag_ms;            /* age of the oldest change not synced yet, either way */
	int64_t lag_to_sf_ms;      /* of the oldest repository change not in Salesforce yet */
	int64_t lag_to_clm_ms;     /* of the oldest Salesforce change not in the repository yet */
	long long inbox, outbox, feed_backlog;
	long long to_sf, to_clm;   /* records written to each side since the previous sample; -1:
	                            * unknown (the first sample, no engine, or the engine restarted) */
};

struct admin_lag;

/* A new history with a ring for each of the norgs names in orgs (borrowed; a repeated name, or
 * one of CS_CONFIG_NAME_MAX bytes or more, is left out), and no thread. *out is freed with
 * admin_lag_free(). Errors: CS_ENOMEM. */
cs_err admin_lag_new(const char *const *orgs, size_t norgs, struct admin_lag **out, struct cs_error *e);

/* Starts the sampling thread: a sample at once, then one every ADMIN_LAG_INTERVAL_S, reading
 * the store through pool and the engine's counters through eng (NULL: none). Both are borrowed
 * and must outlive admin_lag_free(). Errors: CS_EIO (no thread), CS_ESTATE (running already). */
cs_err admin_lag_run(struct admin_lag *l, struct sync_engine *eng, struct store_pool *pool, struct cs_error *e);

/* Stops the thread (within a second) and frees l. NULL is a no-op. */
void admin_lag_free(struct admin_lag *l);

/* Appends sample s to org's ring (the oldest goes when it is full). An org without a ring is
 * ignored. Any thread. */
void admin_lag_add(struct admin_lag *l, const char *org, const struct admin_lag_sample *s);

/* The samples taken at since_ms or later, oldest first: a new {"interval_s", "orgs": [{"org",
 * "samples": [{"t", "lag_ms", "lag_to_salesforce_ms", "lag_to_clm_ms", "inbox", "outbox",
 * "feed_backlog", "to_salesforce", "to_clm"}]}]}, to_salesforce and to_clm null when unknown.
 * NULL when out of memory. Any thread. */
json_t *admin_lag_json(struct admin_lag *l, int64_t since_ms);

#endif

/* admin.h - the admin listener: /admin/v1 (the operator's API), /metrics, /healthz, /readyz.
 *
 * Every call but the two health checks needs a bearer token with the admin role. The handlers
 * read the engine's live figures (sync_engine_status) and its rows in the store (their own
 * small pool of connections), and ask for work through the same calls the CLI uses (ops.c,
 * pause.c): nothing here touches the engine's threads.
 */
#ifndef CS_ADMIN_H
#define CS_ADMIN_H

#include <stdint.h>

#include "clm/clm.h"
#include "config/config.h"
#include "sync/sync.h"
#include "util/err.h"

#define ADMIN_POOL 4               /* store connections for admin requests */
#define ADMIN_MAX_BODY (64 * 1024) /* bytes in a request body */

struct admin;
struct http_throttle;
struct http_server_opts;

/* What the admin listener serves; every pointer is borrowed and outlives it. */
struct admin_opts {
	const struct cs_config *cfg;
	struct clm *clm;               /* lineage reads the repository's records */
	struct clm_auth *auth;         /* only tokens with the admin role are let in */
	struct http_throttle *throttle; /* failed tokens per client address, shared with the repository; NULL: none */
	/* Timeouts, connection limits, TLS and a socket bound already (use_listen_fd), copied;
	 * the rest (routes, host, port, max_body) is the admin's own. NULL: defaults. */
	const struct http_server_opts *limits;
	struct sync_engine *eng;       /* NULL when the engine is off (`serve --no-sync`) */
	const char *store_url;
	const char *host;              /* numeric address to bind */
	int port;                      /* 0: a free port */
};

/* Binds and starts serving. Errors: CS_EIO (the store, or the address cannot be bound: e says
 * which), CS_EINVAL, CS_ENOMEM. */
cs_err admin_start(const struct admin_opts *o, struct admin **out, struct cs_error *e);
int admin_port(const struct admin *a);
struct http_local_req;
struct http_resp;
/* Answers lr as the listener answers a request it receives, without a connection, in the
 * calling thread (http_server_dispatch): for tests. rs is released with http_resp_cleanup(). */
void admin_dispatch(struct admin *a, const struct http_local_req *lr, struct http_resp *rs);
/* Stops serving and frees a. NULL is a no-op. */
void admin_stop(struct admin *a);

struct store;

/* The status document GET /admin/v1/status answers (docs/operations.md): sync_engine_status
 * of eng (none when NULL) with the store's figures read on s (queues, lag, replay positions'
 * retention, DLQ entries and open conflicts per mapping, pauses) and cfg's orgs and mappings;
 * started_ms is when the server started (uptime, and since when a stream never connected is
 * down). Returns a new object, caller releases it with json_decref(); NULL when out of memory.
 * A figure the store cannot give is left out. Borrows everything; s is used by this thread
 * for the call. */
json_t *admin_status_build(const struct cs_config *cfg, struct sync_engine *eng, struct store *s,
                           int64_t started_ms);

/* The Prometheus text exposition of status (as sync_engine_status gives it, plus the store's
 * figures the admin adds) appended to b. Pure: for /metrics and the unit tests. */
void admin_metrics_text(const json_t *status, struct cs_buf *b);

#endif

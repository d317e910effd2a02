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

/* What the admin listener serves; every pointer is borrowed and outlives it. */
struct admin_opts {
	const struct cs_config *cfg;
	struct clm *clm;               /* lineage reads the repository's records */
	struct clm_auth *auth;         /* only tokens with the admin role are let in */
	struct sync_engine *eng;       /* NULL when the engine is off (`serve --no-sync`) */
	const char *store_url;
	const char *host;              /* numeric address to bind */
	int port;                      /* 0: a free port */
};

/* Binds and starts serving. Errors: CS_EIO (the store, or the address cannot be bound: e says
 * which), CS_EINVAL, CS_ENOMEM. */
cs_err admin_start(const struct admin_opts *o, struct admin **out, struct cs_error *e);
int admin_port(const struct admin *a);
/* Stops serving and frees a. NULL is a no-op. */
void admin_stop(struct admin *a);

/* The Prometheus text exposition of status (as sync_engine_status gives it, plus the store's
 * figures the admin adds) appended to b. Pure: for /metrics and the unit tests. */
void admin_metrics_text(const json_t *status, struct cs_buf *b);

#endif

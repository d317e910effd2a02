/* sync.h - the sync engine: contracts and Salesforce kept equal both ways, per the configuration's mappings. */
#ifndef CS_SYNC_H
#define CS_SYNC_H

#include <jansson.h>

#include "clm/clm.h"
#include "config/config.h"
#include "salesforce/sf.h"
#include "util/err.h"

struct sync_engine;

/* What the engine runs on; every pointer is borrowed and must outlive the engine. */
struct sync_opts {
	const struct cs_config *cfg;   /* orgs, mappings and the sync section */
	struct clm *clm;               /* the repository, in this process */
	const char *store_url;         /* the repository's store: the engine keeps its state there */
};

/* Starts one change-stream reader and one worker thread per org that has mappings. Returns at
 * once: logins and subscriptions happen on the threads, which retry with backoff (a wrong
 * password is logged and retried slowly, so fixing it does not need a restart). *out is a new
 * engine; stop it with sync_engine_stop(). Errors: CS_EIO (the store), CS_EINVAL (an org the
 * connector refuses, e says which), CS_ENOMEM. Call once, from the main thread, after the
 * repository is open and before it takes writes. */
cs_err sync_engine_start(const struct sync_opts *o, struct sync_engine **out, struct cs_error *e);

/* Stops the threads (each finishes the batch in hand and commits its cursors) and frees g.
 * NULL is a no-op. Call before clm_free(). */
void sync_engine_stop(struct sync_engine *g);

/* The engine's counters and state as a JSON object (a new reference): per org the stream state,
 * queue depths and counters. NULL when out of memory. Any thread. */
json_t *sync_engine_status(struct sync_engine *g);

/* Fills sc from org's configuration (secrets borrowed from org). For the engine and for the
 * commands that talk to an org (mapping check, reconcile). */
void sync_org_config(const struct cs_org *org, struct sf_org_config *sc);

#endif

/* alerts.h - the alert webhook: the conditions of config/alerts/clmsync-rules.yml, evaluated in
 * the server on the status document, their start and end POSTed as signed JSON events.
 *
 * Two threads of its own: one evaluates every alerts.interval_s (its own store connection, the
 * engine's figures through sync_engine_status, which never waits on the engine's work), the
 * other delivers. Between them a bounded queue: when the receiver is slow or gone, events wait
 * with backoff and the oldest are dropped past ALERTS_QUEUE_MAX; nothing in the engine waits.
 * The wire format and how to verify a signature: docs/operations.md, "The alert webhook".
 */
#ifndef CS_ALERTS_H
#define CS_ALERTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "sync/sync.h"
#include "util/err.h"

#define ALERTS_QUEUE_MAX 256          /* events waiting for delivery; past it the oldest goes */
#define ALERTS_ATTEMPTS_MAX 8         /* deliveries of one event before it is given up */
#define ALERTS_BACKOFF_MS 1000        /* wait after the first failed delivery, doubled each time */
#define ALERTS_BACKOFF_MAX_MS 60000   /* ... up to this */
#define ALERTS_TIMEOUT_MS 5000        /* one delivery, connection included */
#define ALERTS_BODY_MAX (16 * 1024)   /* bytes in one event's JSON */
#define ALERTS_SIG_MAX 96             /* "t=<seconds>,v1=<64 hex digits>" with its NUL */
#define ALERTS_RUNBOOK "docs/operations.md"

struct alerts;

/* What the alert threads read; every pointer is borrowed and outlives the alerts. */
struct alerts_opts {
	const struct cs_config *cfg;   /* alerts.webhook_url must be set */
	struct sync_engine *eng;       /* NULL when the engine is off (`serve --no-sync`) */
	const char *store_url;
	int64_t started_ms;            /* when the server started */
};

/* Starts the evaluating and delivering threads. Errors: CS_EINVAL (no webhook_url, no signing
 * key, or a URL that is neither https nor http to this machine), CS_ENOMEM, CS_EIO (a thread
 * could not start); e says which, never with the key. *out is NULL on failure. */
cs_err alerts_start(const struct alerts_opts *o, struct alerts **out, struct cs_error *e);

/* Stops both threads (a delivery in flight ends within ALERTS_TIMEOUT_MS), logs how many
 * events were left undelivered, and frees a. NULL is a no-op. */
void alerts_stop(struct alerts *a);

/* --- the pure parts, for the threads and the unit tests ---------------------------------- */

/* Every condition the thresholds of cfg watch, observed in status (as admin_status_build
 * gives it): a new array of {"key", "alert", "org", "mapping"?, "channel"?, "value",
 * "threshold", "firing": bool, "summary"}, one per org, mapping or channel the document has a
 * figure for. NULL when out of memory. Borrows both. */
json_t *alerts_observe(const struct cs_config *cfg, const json_t *status);

/* Moves state (an object the caller keeps between calls, {} at first) from one observation to
 * the next and returns a new array of the events to send: "firing" for a condition that was
 * not firing before, "resolved" for one that was and is not (or is no longer observed, then
 * with a null value). now_ms stamps them; runbook is the base of their runbook links
 * (ALERTS_RUNBOOK). Each event is {"alert", "status", "org", "mapping"?, "channel"?, "value",
 * "threshold", "started_at", "ts", "summary", "runbook"}. NULL when out of memory, and then
 * state may hold part of the step. */
json_t *alerts_transition(json_t *state, const json_t *obs, int64_t now_ms, const char *runbook);

/* The signature header's value for body (len bytes) sent at unix time ts, keyed by key:
 * "t=<ts>,v1=<hex of HMAC-SHA256(key, "<ts>.<body>")>" into out (ALERTS_SIG_MAX bytes).
 * Errors: CS_ETOOBIG (body over ALERTS_BODY_MAX), CS_ENOMEM, CS_EINTERNAL (OpenSSL). */
cs_err alerts_sign(const char *key, size_t keylen, int64_t ts, const char *body, size_t len,
                   char out[ALERTS_SIG_MAX]);

#endif

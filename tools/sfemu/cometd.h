/* cometd.h - the emulator's Bayeux/CometD long-polling server for Change Data Capture. */
#ifndef SFEMU_COMETD_H
#define SFEMU_COMETD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "http/server.h"
#include "util/err.h"

struct emu;

/* Limits on what one client may send or hold. */
#define COMETD_MAX_BODY 32768         /* bytes in one Bayeux POST (Salesforce: 413 beyond) */
#define COMETD_MAX_MESSAGES 32        /* Bayeux messages in one POST */
#define COMETD_MAX_CLIENTS 256        /* handshaken clients at a time */
#define COMETD_MAX_SUBS 64            /* subscriptions per client */
#define COMETD_MAX_CHANNEL 255        /* bytes in a channel name */
#define COMETD_MAX_DELIVER 200        /* events in one /meta/connect reply */
#define COMETD_ID_LEN 27              /* characters of a clientId */
#define COMETD_MIN_VERSION 37         /* first API version with the replay extension */

/* Settings, with bounds (see the table in cometd.c). */
#define COMETD_HOLD_MS_DEFAULT 110000 /* how long /meta/connect is held; advice.timeout */
#define COMETD_HOLD_MS_MAX 600000
#define COMETD_TTL_MS_DEFAULT 40000   /* a client that has not connected for this long expires */
#define COMETD_TTL_MS_MAX 3600000

/* Parses a Bayeux request body p[0..len): a JSON array of message objects or one object
 * (wrapped into an array); when form is true the body is application/x-www-form-urlencoded
 * and the JSON is the value of its "message" field. Pure: touches no emulator state.
 * On success *out is a new non-empty array of objects, caller releases it with json_decref().
 * Errors (with *out NULL and e set): CS_ETOOBIG past COMETD_MAX_BODY, COMETD_MAX_MESSAGES or
 * the JSON depth limit; CS_EUTF8; CS_EPARSE for bad JSON, bad form encoding, a missing
 * "message" field, an empty array or an element that is not an object; CS_ENOMEM. */
cs_err cometd_parse_messages(const char *p, size_t len, bool form, json_t **out, struct cs_error *e);

/* Runs one batch of parsed Bayeux messages (borrowed) for one HTTP request and sets *replies
 * to a new JSON array, caller releases it: one reply per message in order, then the events
 * delivered to the batch's /meta/connect. A connect may block the calling thread up to the
 * hold time waiting for events. Lock must NOT be held: it takes emu->mu itself. Errors:
 * CS_ENOMEM (then *replies is NULL and the client registry is unchanged or consistent). */
cs_err cometd_process(struct emu *emu, json_t *msgs, json_t **replies);

/* ---- operator controls (for /__emu/ endpoints and tests); all with the lock held ---- */

/* Applies settings from a JSON object {"hold_ms":n,"client_ttl_ms":n,"deliver":0/1}; every key is checked
 * against its bounds before any is applied. CS_EINVAL (e says which key) changes nothing.
 * Wakes held connects so that a shorter hold takes effect at once. */
cs_err cometd_configure(struct emu *emu, const json_t *settings, struct cs_error *e);

/* Returns a new JSON object describing the registry: settings, and per client its id,
 * subscriptions with their replay cursors and whether a connect is held. NULL on ENOMEM. */
json_t *cometd_state(struct emu *emu);

/* Forgets every client, as if all had been idle past the client TTL: held connects answer
 * "403::Unknown client" with advice reconnect=handshake and clients must handshake again.
 * Returns how many clients were dropped. */
size_t cometd_expire_clients(struct emu *emu);

/* Forces the replay window past every event published so far: all retained events are
 * dropped, so a later subscribe that resumes from any of their replay ids fails with
 * "400::The replayId {N} you provided was invalid...". Returns how many events were dropped. */
size_t cometd_expire_events(struct emu *emu);

/* ---- HTTP ---- */

/* Salesforce's answers, inside Bayeux, to messages sent with a rejected session: a handshake
 * gets "403::Handshake denied" with ext.sfdc.failureReason "401::Authentication invalid",
 * any other message "401::Authentication invalid"; all with advice reconnect=none (which is
 * what jsforce's AuthFailure extension reacts to). msgs is borrowed; returns a new array,
 * NULL on ENOMEM. Needs no lock. */
json_t *cometd_unauthorized_replies(json_t *msgs);

/* Answers a /cometd/<version> request whose credentials were rejected with the replies above
 * (status 200), or with 401 INVALID_SESSION_ID when the body is not Bayeux. Needs no lock. */
void cometd_handle_unauthorized(struct emu *emu, struct http_req *rq, struct http_resp *rs);

#endif

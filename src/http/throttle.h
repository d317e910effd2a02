/* throttle.h - slows down guessing: per client address, failed authentications in a window, in a
 * fixed-size table. */
#ifndef CS_HTTP_THROTTLE_H
#define CS_HTTP_THROTTLE_H

#include <stddef.h>
#include <stdint.h>
#include "http/server.h"
#include "util/err.h"

#define HTTP_THROTTLE_KEY 17        /* bytes of a client key (http_req_peer) */
#define HTTP_THROTTLE_SLOTS 4096    /* clients tracked at once; the memory is fixed at creation */

struct http_throttle;

/* Returns a new throttle in *out that refuses a client for the rest of a window_s-second window
 * once it has failed max_failures times in it (the window opens at its first failure); caller
 * frees with http_throttle_free(). max_failures 0 turns it off (every check passes). Thread-safe.
 * Errors: CS_ENOMEM. */
cs_err http_throttle_new(unsigned max_failures, unsigned window_s, struct http_throttle **out);
/* NULL is a no-op. */
void http_throttle_free(struct http_throttle *t);

/* 0 when the client with key may present a token at now_ms (monotonic); else the whole seconds,
 * at least 1, until it may (a Retry-After). A NULL t always passes. */
unsigned http_throttle_check_key(struct http_throttle *t, const unsigned char key[HTTP_THROTTLE_KEY],
                                 int64_t now_ms);
/* Counts one failure of the client with key at now_ms; true when this failure is the one that
 * makes the client wait (once per window, for the log). When the table is full, the entry whose
 * window opened longest ago in key's bucket makes room: an attacker spreading over many addresses
 * can push another's count out, never grow the table. A NULL t is a no-op. */
bool http_throttle_fail_key(struct http_throttle *t, const unsigned char key[HTTP_THROTTLE_KEY], int64_t now_ms);

/* The two above for a request's client (http_req_peer), at the monotonic clock's now. */
unsigned http_throttle_check(struct http_throttle *t, const struct http_req *rq);
bool http_throttle_fail(struct http_throttle *t, const struct http_req *rq);
/* Failures counted and requests refused since creation, for the logs and tests. */
void http_throttle_counts(struct http_throttle *t, uint64_t *failures, uint64_t *refused);

#endif

/* client.h - an HTTP client on libcurl that keeps its connection alive between requests. */
#ifndef CS_HTTP_CLIENT_H
#define CS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include "util/buf.h"
#include "util/err.h"

struct http_client;

struct http_request {
	const char *method;            /* "GET", "POST", ... */
	const char *url;
	const char *const *headers;    /* NULL-terminated "Name: value" lines, or NULL */
	const void *body;
	size_t body_len;
	long timeout_ms;               /* whole request; 0 means 30 s */
	size_t max_response;           /* bytes; 0 means 64 MiB */
};

struct http_response {
	long status;
	struct cs_buf body;
	struct cs_buf headers;         /* raw header block, "Name: value\r\n" lines */
};

/* Whether host[0..len) names this machine: localhost, an IPv4 address in 127.0.0.0/8, or ::1
 * (bracketed or not). Plain http:// is allowed only to such a host. */
bool http_host_is_loopback(const char *host, size_t len);
/* Whether url may be fetched: https://, or http:// to a loopback host (http_host_is_loopback). */
bool http_url_allowed(const char *url);

/* Returns a new client in *out; caller frees with http_client_free(). Not thread-safe: use one
 * client per thread. Certificate verification is always on. */
cs_err http_client_new(struct http_client **out);
void http_client_free(struct http_client *c);

/* Trusts the PEM certificates in path (a listener's own self-signed certificate, say) instead of
 * the system's; NULL goes back to the system's. Verification stays on either way. Borrows path
 * for the client's life. */
void http_client_set_ca(struct http_client *c, const char *path);

/* Performs rq and fills rs (caller-owned, cleaned with http_response_cleanup() even on error).
 * The peer's certificate and name are always verified; plain http:// is refused (CS_EINVAL)
 * unless to a loopback host, and redirects are not followed.
 * Errors: CS_ETIMEOUT, CS_ENET (connect/send/receive, a certificate that does not verify),
 * CS_ETOOBIG (response over max), CS_EINVAL (bad URL or scheme); any HTTP status is success at
 * this level. */
cs_err http_client_do(struct http_client *c, const struct http_request *rq, struct http_response *rs,
    struct cs_error *e);

/* Fault simulation for tests (curl's torture mode, SQLite's fault simulation): the nth request
 * http_client_do performs from now on, in any client of the process, fails once, as kind says:
 *   HTTP_FAULT_CONNECT  nothing is sent; CS_ENET with curl's "Couldn't connect to server", the
 *                       message of a connection refused (callers may retry any request then);
 *   HTTP_FAULT_TIMEOUT  the request is sent and the server acts on it, but its answer is lost:
 *                       CS_ETIMEOUT, rs->status 0 (the worst moment for a timeout to come);
 *   HTTP_FAULT_SHORT_READ  the request is sent and answered, but only the first half of the
 *                       body arrives before the connection closes: CS_ENET ("transfer closed"),
 *                       as curl reports a body shorter than its Content-Length; rs->body holds
 *                       the partial bytes, which the caller must never take for the answer.
 * 0 turns it off. Costs one relaxed load per request when off. Thread-safe. */
enum http_fault { HTTP_FAULT_CONNECT, HTTP_FAULT_TIMEOUT, HTTP_FAULT_SHORT_READ };
void http_fault_inject(long nth, enum http_fault kind);
/* The requests counted since the last http_fault_inject(), up to the one that failed; a torture
 * run arms LONG_MAX to learn how many requests a scenario makes. Thread-safe. */
long http_fault_counted(void);

void http_response_init(struct http_response *rs);
void http_response_cleanup(struct http_response *rs);
/* Looks up a response header (case-insensitive) into out; returns false when absent. */
int http_response_header(const struct http_response *rs, const char *name, char *out, size_t cap);

#endif

/* server.h - an HTTP server on libmicrohttpd: a route table, bounded bodies, thread per connection. */
#ifndef CS_HTTP_SERVER_H
#define CS_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "util/buf.h"
#include "util/err.h"

#define HTTP_MAX_PARAMS 8
#define HTTP_MAX_RESP_HEADERS 16
/* Bytes a connection may hold for one request's line and headers (libmicrohttpd's per-connection
 * memory pool); a larger request is answered 431 or 414 and the connection is closed. */
#define HTTP_MAX_HEADER (64 * 1024)
#define HTTP_MAX_CONNECTIONS_DEFAULT 1000u

struct http_server;

/* A request as a handler sees it. All pointers are borrowed for the duration of the handler
 * call. The body is NUL-terminated (body[body_len] == 0) but may contain NULs. */
struct http_req {
	const char *method;
	const char *path;        /* decoded, with runs of '/' collapsed to one */
	const char *raw_uri;     /* as received: path and query, not decoded */
	const char *body;
	size_t body_len;
	const char *params[HTTP_MAX_PARAMS]; /* route captures, in pattern order */
	size_t nparams;
	bool body_too_big;       /* body exceeded the server's max_body and was discarded */
	void *conn;              /* private */
	const struct http_local_req *local; /* private: set for a request handed over whole */
};

/* Response under construction. Handlers fill it with the http_resp_* calls. */
struct http_resp {
	int status;
	struct cs_buf body;
	char content_type[96];
	struct { char *name, *value; } headers[HTTP_MAX_RESP_HEADERS];
	size_t nheaders;
	bool drop;               /* close the connection without answering (fault injection) */
};

typedef void (*http_handler)(struct http_req *rq, struct http_resp *rs, void *ud);

/* A route: method ("GET", ...; NULL for any), and a pattern of '/'-separated segments where
 * ":name" captures one segment and a final "*" captures the rest of the path (may be empty). */
struct http_route {
	const char *method;
	const char *pattern;
	http_handler fn;
};

struct http_server_opts {
	const char *host;        /* numeric IPv4 or IPv6 address */
	int port;                /* 0 picks a free port; see http_server_port() */
	size_t max_body;         /* bytes; larger bodies are discarded and the request flagged */
	unsigned conn_timeout_s; /* idle: a connection with no traffic this long is closed; 0: 300 */
	/* A request's line and headers must have arrived this many seconds after the connection
	 * opened (or after its request line, on a kept-alive connection, which must also send its
	 * next request within conn_timeout_s of the previous answer); a slower client is cut off,
	 * however steadily it trickles bytes. 0: no such deadline (libmicrohttpd's idle timeout only). */
	unsigned header_timeout_s;
	unsigned max_connections; /* open at once; more are closed as they arrive. 0: the default */
	unsigned max_per_ip;      /* open at once from one address; 0: no limit of its own */
	/* HTTPS: the PEM text of the certificate (its chain after it) and of its private key, both
	 * or neither; copied, the copy of the key wiped when the server stops. */
	const char *tls_cert;
	const char *tls_key;
	/* With use_listen_fd: serve listen_fd, a socket bound and listening already
	 * (http_listen_open), instead of binding host:port; the server owns it from the call on,
	 * even on failure. */
	bool use_listen_fd;
	int listen_fd;
	const struct http_route *routes;
	size_t nroutes;
	/* Called before routing; return true when it answered the request itself. Optional. */
	bool (*pre)(struct http_req *rq, struct http_resp *rs, void *ud);
	http_handler not_found;  /* optional; default is a plain 404 */
	void *ud;
};

/* Starts listening. On success *out is a new server, caller stops it with http_server_stop().
 * Errors: CS_EINVAL for a bad address, CS_EIO when the socket cannot be bound. */
cs_err http_server_start(const struct http_server_opts *o, struct http_server **out, struct cs_error *e);
/* Binds host:port (a numeric address; port 0 picks a free one) and listens, for a caller that
 * must bind before giving up privileges and start serving after (use_listen_fd). On success *fd
 * is the socket, the caller's to pass to http_server_start or close. Errors: CS_EINVAL for a bad
 * address, CS_EIO when it cannot be bound (e says why). */
cs_err http_listen_open(const char *host, int port, int *fd, struct cs_error *e);
/* The bound port. */
int http_server_port(const struct http_server *s);
/* Connections cut so far because their request headers missed header_timeout_s. */
unsigned long http_server_cut_count(const struct http_server *s);
/* Stops accepting, waits for handler threads and frees s. NULL is a no-op. */
void http_server_stop(struct http_server *s);

/* A request handed to http_server_dispatch whole, as libmicrohttpd would give it after reading
 * it off a connection. Everything is borrowed for the call. */
struct http_local_req {
	const char *method;
	const char *path;              /* decoded, without the query */
	const char *raw_uri;           /* as received: path and query, not decoded */
	const char *const *headers;    /* nheaders name, value pairs */
	size_t nheaders;
	const char *const *query;      /* nquery name, value pairs, decoded; a value is NULL for a
	                                * name without '=' */
	size_t nquery;
	const char *body;              /* body_len bytes, any content */
	size_t body_len;
	const char *peer;              /* the client's numeric address; NULL: unknown */
};

/* Answers lr with s's handlers, without a connection: the same pre hook, routes, not-found
 * handler and body limit (max_body) as a request received, read through the same accessors,
 * in the calling thread. For tests that feed requests without a socket (the fuzz targets of
 * the HTTP APIs). rs is filled here (a handler's rs->drop included, which a connection would
 * close on); the caller releases it with http_resp_cleanup(). */
void http_server_dispatch(struct http_server *s, const struct http_local_req *lr, struct http_resp *rs);

/* The client's address into out (a numeric address, at most 46 bytes with its NUL) and, when key
 * is not NULL, its throttling key into key[0..17) (http_throttle): an IPv4 address, or an IPv6
 * address cut to its /64 network, since one client commonly holds a whole /64. False (out "",
 * key zeroed) when unknown. */
bool http_req_peer(const struct http_req *rq, char *out, size_t cap, unsigned char *key);

/* Request accessors; NULL when absent. Header names are case-insensitive. */
const char *http_req_header(const struct http_req *rq, const char *name);
const char *http_req_query(const struct http_req *rq, const char *name);
/* Calls fn for each query argument in order; stops when fn returns false. */
void http_req_query_each(const struct http_req *rq, bool (*fn)(const char *k, const char *v, void *ud), void *ud);

/* Response helpers. Header names/values are copied. */
void http_resp_header(struct http_resp *rs, const char *name, const char *value);
/* Sets status and a JSON body; takes ownership of v (may be NULL for an empty body). */
void http_resp_json(struct http_resp *rs, int status, json_t *v);
void http_resp_text(struct http_resp *rs, int status, const char *ctype, const char *s, size_t n);
/* Frees what rs holds (its body and headers); rs may then be filled again. */
void http_resp_cleanup(struct http_resp *rs);

/* Splits a URL-encoded form (application/x-www-form-urlencoded) body, decoding each key and
 * value, and calls fn for each pair; stops when fn returns false. */
void http_form_each(const char *body, size_t len, bool (*fn)(const char *k, const char *v, void *ud), void *ud);
/* Percent-decodes s[0..n) into out (cap bytes, NUL-ended), '+' as space when plus. Returns
 * the decoded length or -1 when out is too small or an escape is malformed. */
long http_url_decode(const char *s, size_t n, char *out, size_t cap, bool plus);

#endif

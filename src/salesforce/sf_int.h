/* sf_int.h - the Salesforce connector's private structures, shared by its own files only. */
#ifndef CS_SF_INT_H
#define CS_SF_INT_H

#include <pthread.h>

#include "http/client.h"
#include "salesforce/sf.h"

#define SF_TOKEN_MAX 4096
#define SF_URL_MAX 2048

struct sf_org {
	/* immutable after sf_org_new */
	char *name, *login_url, *api_version, *client_name;
	enum sf_auth auth;
	char *client_id, *client_secret, *username, *key_file, *refresh_token, *audience;
	long timeout_ms;
	size_t max_response;
	struct sf_retry retry;

	pthread_mutex_t login_mu;     /* one token request at a time; taken before mu, never inside it */
	pthread_mutex_t mu;           /* guards everything below; held only for short copies */
	char *token;                  /* NULL until acquired; secret */
	char *instance_url;
	uint64_t token_gen;           /* bumped on every new token */
	struct sf_limits limits;
	struct sf_stats stats;
};

struct sf_client {
	struct sf_org *org;
	struct http_client *http;
	uint64_t rnd;                 /* jitter state */
};

/* A snapshot of the credentials a request uses. */
struct sf_session {
	char token[SF_TOKEN_MAX];
	char instance[SF_URL_MAX];
	uint64_t gen;
};

/* Copies the current token (acquiring one through c's connection when there is none) into *s.
 * Errors as sf_login. */
cs_err sf_session_get(struct sf_client *c, struct sf_session *s, struct sf_error *e);
/* The token of generation gen was refused: forget it unless a newer one replaced it already. */
void sf_session_invalidate(struct sf_org *org, uint64_t gen);
/* As sf_session_get for a caller with its own http client (the stream). */
cs_err sf_session_get_with(struct sf_org *org, struct http_client *http, struct sf_session *s,
    struct sf_error *e);

/* Records a Sforce-Limit-Info header value. */
void sf_org_note_limits(struct sf_org *org, const char *v);
void sf_org_count(struct sf_org *org, uint64_t requests, uint64_t retries);

/* Sets e to a local failure (no Salesforce answer). Returns err. */
cs_err sf_fail(struct sf_error *e, cs_err err, bool transient, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Copies a cs_error from the HTTP layer into e, classifying network failures as transient. */
cs_err sf_fail_http(struct sf_error *e, const struct cs_error *he);

/* Appends s percent-encoded for a URL path segment or form value. */
cs_err sf_urlencode(struct cs_buf *b, const char *s);
/* A random 64-bit value from the client's generator. */
uint64_t sf_rand(uint64_t *state);
/* Sleeps ms milliseconds, waking early (returning true) when stop becomes nonzero. */
bool sf_sleep_ms(long ms, const atomic_int *stop);
/* Copies at most cap-1 bytes of s into out, NUL-terminated. */
void sf_copy(char *out, size_t cap, const char *s);

/* The one request path: sends method to path (see sf_rest) with a raw body (NULL for none) and
 * an optional extra header line, refreshing the token on a 401 and retrying per the documented
 * rule. *out gets the parsed 2xx body (NULL when empty); *attempts (may be NULL) how many calls
 * were sent. */
cs_err sf_call(struct sf_client *c, const char *method, const char *path, const char *body, size_t len,
    unsigned flags, const char *extra_header, long *status, json_t **out, unsigned *attempts,
    struct sf_error *e);

/* Checks an sObject or field name: 1..80 of [A-Za-z0-9_]. */
bool sf_name_ok(const char *s);

#endif

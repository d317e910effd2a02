/* client.c - libcurl easy-handle wrapper with keep-alive and bounded responses. */
#include "http/client.h"
#include "util/fault.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_client {
	CURL *h;
	const char *ca;            /* trusted certificates instead of the system's; NULL: the system's */
};

bool
http_host_is_loopback(const char *h, size_t n)
{
	unsigned part = 0, parts = 0, digits = 0;

	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return true;
	if ((n == 5 && memcmp(h, "[::1]", 5) == 0) || (n == 3 && memcmp(h, "::1", 3) == 0))
		return true;
	if (n < 7 || memcmp(h, "127.", 4) != 0)
		return false;
	/* a dotted quad in 127.0.0.0/8, each part 0..255 without a leading zero (no octal) */
	for (size_t i = 0; i <= n; i++) {
		if (i == n || h[i] == '.') {
			if (digits == 0 || part > 255)
				return false;
			parts++;
			part = digits = 0;
			continue;
		}
		if (h[i] < '0' || h[i] > '9' || (digits == 1 && part == 0))
			return false;
		part = part * 10 + (unsigned)(h[i] - '0');
		if (++digits > 3)
			return false;
	}
	return parts == 4;
}

bool
http_url_allowed(const char *url)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	if (url == NULL || (u = curl_url()) == NULL)
		return false;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		ok = strcasecmp(scheme, "https") == 0 ||
		     (strcasecmp(scheme, "http") == 0 && http_host_is_loopback(host, strlen(host)));
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

void
http_client_set_ca(struct http_client *c, const char *path)
{
	c->ca = path;
}

static struct cs_fault fault;

void
http_fault_inject(long nth, enum http_fault kind)
{
	cs_fault_arm(&fault, nth, (int)kind);
}

long
http_fault_counted(void)
{
	return cs_fault_counted(&fault);
}

/* Counts one request; true exactly once, for the armed one, with its kind in *kind. */
static bool
fault_fire(enum http_fault *kind)
{
	int k;

	if (!cs_fault_fire(&fault, &k))
		return false;
	*kind = (enum http_fault)k;
	return true;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

cs_err
http_client_new(struct http_client **out)
{
	struct http_client *c;

	pthread_once(&once, global_init);
	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CS_ENOMEM;
	c->h = curl_easy_init();
	if (c->h == NULL) {
		free(c);
		return CS_ENOMEM;
	}
	*out = c;
	return CS_OK;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->h);
	free(c);
}

void
http_response_init(struct http_response *rs)
{
	rs->status = 0;
	cs_buf_init(&rs->body, 64u << 20);
	cs_buf_init(&rs->headers, 256u << 10);
}

void
http_response_cleanup(struct http_response *rs)
{
	cs_buf_cleanup(&rs->body);
	cs_buf_cleanup(&rs->headers);
}

/* Where a callback puts what it receives, and why it stopped taking it (CS_ETOOBIG past the
 * buffer's maximum, CS_ENOMEM): curl reports both as one CURLE_WRITE_ERROR. */
struct sink {
	struct cs_buf *b;
	cs_err err;
};

static size_t
body_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct sink *k = ud;

	if ((k->err = cs_buf_append(k->b, p, sz * n)) != CS_OK)
		return 0;
	return sz * n;
}

static size_t
header_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct sink *k = ud;

	/* a new status line (after 100-continue or a redirect) starts a new header block */
	if (sz * n > 5 && memcmp(p, "HTTP/", 5) == 0)
		cs_buf_reset(k->b);
	if ((k->err = cs_buf_append(k->b, p, sz * n)) != CS_OK)
		return 0;
	return sz * n;
}

cs_err
http_client_do(struct http_client *c, const struct http_request *rq, struct http_response *rs,
    struct cs_error *e)
{
	struct curl_slist *hl = NULL;
	CURL *h = c->h;
	CURLcode rc;
	cs_err err = CS_OK;
	enum http_fault fk = HTTP_FAULT_CONNECT;
	bool faulted;
	struct sink body = { &rs->body, CS_OK }, head = { &rs->headers, CS_OK };

	cs_buf_reset(&rs->body);
	cs_buf_reset(&rs->headers);
	rs->body.max = rq->max_response ? rq->max_response : (64u << 20);
	/* a token or a record must not cross a network in clear: plain http stays on this machine */
	if (!http_url_allowed(rq->url))
		return cs_error_set(e, CS_EINVAL, "%s %s: refused: https:// is required (plain http:// only to "
		                    "127.0.0.0/8, ::1 or localhost)", rq->method, rq->url);
	faulted = fault_fire(&fk);
	if (faulted && fk == HTTP_FAULT_CONNECT)
		return cs_error_set(e, CS_ENET, "%s %s: %s (injected fault)", rq->method, rq->url,
		                    curl_easy_strerror(CURLE_COULDNT_CONNECT));
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms ? rq->timeout_ms : 30000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	/* verification is never turned off: there is no option for it */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (c->ca != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &head);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	if (strcmp(rq->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (rq->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	}
	for (const char *const *p = rq->headers; p && *p; p++) {
		struct curl_slist *n = curl_slist_append(hl, *p);
		if (n == NULL) {
			curl_slist_free_all(hl);
			return cs_error_set(e, CS_ENOMEM, "out of memory");
		}
		hl = n;
	}
	/* curl sends "Expect: 100-continue" for large bodies; it costs a round trip. A failed append
	 * returns NULL and leaves the list as it was: without this check the list leaked and the
	 * request went out with no header at all (no Authorization, no Content-Type). */
	{
		struct curl_slist *n = curl_slist_append(hl, "Expect:");
		if (n == NULL) {
			curl_slist_free_all(hl);
			return cs_error_set(e, CS_ENOMEM, "out of memory");
		}
		hl = n;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);

	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
	if (faulted && rc == CURLE_OK) {
		/* the server has acted on the request; what the caller gets of its answer is damaged */
		if (fk == HTTP_FAULT_TIMEOUT) {
			rs->status = 0;
			rc = CURLE_OPERATION_TIMEDOUT;
		} else {
			rs->body.len /= 2;
			if (rs->body.data != NULL)
				rs->body.data[rs->body.len] = '\0';
			rc = CURLE_PARTIAL_FILE;
		}
	}
	switch (rc) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
		err = cs_error_set(e, CS_ETIMEOUT, "%s %s: timed out", rq->method, rq->url);
		break;
	case CURLE_WRITE_ERROR:
		if (body.err == CS_ENOMEM || head.err == CS_ENOMEM)
			err = cs_error_set(e, CS_ENOMEM, "%s %s: out of memory reading the response", rq->method, rq->url);
		else
			err = cs_error_set(e, CS_ETOOBIG, "%s %s: response over %zu bytes", rq->method, rq->url,
			                   head.err != CS_OK ? rs->headers.max : rs->body.max);
		break;
	case CURLE_OUT_OF_MEMORY:
		err = cs_error_set(e, CS_ENOMEM, "%s %s: out of memory", rq->method, rq->url);
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		err = cs_error_set(e, CS_EINVAL, "%s %s: %s", rq->method, rq->url, curl_easy_strerror(rc));
		break;
	default:
		err = cs_error_set(e, CS_ENET, "%s %s: %s", rq->method, rq->url, curl_easy_strerror(rc));
		break;
	}
	curl_slist_free_all(hl);
	return err;
}

int
http_response_header(const struct http_response *rs, const char *name, char *out, size_t cap)
{
	const char *p = rs->headers.data, *end;
	size_t nl = strlen(name);

	if (p == NULL)
		return 0;
	end = p + rs->headers.len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			const char *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			if ((size_t)(ve - v) + 1 > cap)
				return 0;
			memcpy(out, v, (size_t)(ve - v));
			out[ve - v] = '\0';
			return 1;
		}
		p = eol + 1;
	}
	return 0;
}

/* scripted_curl.h - a scripted stand-in for libcurl's easy interface, for the fuzz targets that
 * read Salesforce's answers through the connector's real HTTP code (src/http/client.c, and
 * src/salesforce/cometd.c's own requests) without a network.
 *
 * Include it in exactly one file of a program: it defines curl_easy_init, curl_easy_cleanup,
 * curl_easy_reset, curl_easy_setopt, curl_easy_perform and curl_easy_getinfo, and a definition in
 * the program takes the place of the shared library's for every call the program makes (libcurl's
 * own internal calls are not affected; curl_slist_*, curl_easy_strerror and curl_global_init stay
 * libcurl's). Each perform answers with the next response of a script: its status, its header
 * lines through the header callback, its body through the write callback (in two pieces), after
 * one call of the progress callback, which can abort the transfer as libcurl's would.
 *
 * A script is the fuzz input: responses separated by a line "%%". A response is a status line
 * ("200", "401", ...) and header lines up to an empty line, then the body; a part that does not
 * start with a status is a 200 with that body. Past the last response, a perform fails as for a
 * malformed URL (which no caller retries) and sets script.stop.
 *
 * Every request's URL must start with one of the allowed prefixes (script_allow): the login URL,
 * the configured instance and any instance a token answer named. A request sent elsewhere aborts:
 * no answer may steer the connector off the org's hosts. With FUZZ_TRACE set in the environment,
 * each request and the status it got go to stderr. */
#ifndef FUZZ_SCRIPTED_CURL_H
#define FUZZ_SCRIPTED_CURL_H

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

#define SCRIPT_MAX_RESPONSES 48
/* every answer may be a token answer naming an instance and a token of its own, and the org's
 * own hosts come first: a list that could fill would make a later instance a request "off the
 * org's hosts" (a false crash) and a later token one the checks never look for */
#define SCRIPT_MAX_PREFIXES (SCRIPT_MAX_RESPONSES + 2)
#define SCRIPT_MAX_TOKENS (SCRIPT_MAX_RESPONSES + 2)
#define SCRIPT_SEP "\n%%\n"

struct script_resp {
	long status;
	const char *hdr, *body;
	size_t hlen, blen;
};

static struct {
	struct script_resp r[SCRIPT_MAX_RESPONSES];
	size_t n, next;
	char *prefix[SCRIPT_MAX_PREFIXES];  /* where requests may go */
	size_t nprefix;
	char *tokens[SCRIPT_MAX_TOKENS];    /* access tokens that token answers handed out */
	size_t ntokens;
	long max_interval;                  /* Bayeux advice.interval above it is served as 0 */
	atomic_int stop;                    /* set when the script is spent */
	bool trace;
} script;

/* Adds a prefix requests may go to (n bytes of p). */
static void
script_allow(const char *p, size_t n)
{
	for (size_t i = 0; i < script.nprefix; i++)
		if (strlen(script.prefix[i]) == n && memcmp(script.prefix[i], p, n) == 0)
			return;
	if (script.nprefix < SCRIPT_MAX_PREFIXES && (script.prefix[script.nprefix] = strndup(p, n)) != NULL)
		script.nprefix++;
}

/* Splits p[0..len) (borrowed until the next load) into responses and forgets the last input's
 * prefixes and tokens. */
static void
script_load(const char *p, size_t len)
{
	const char *end = p + len;

	for (size_t i = 0; i < script.nprefix; i++)
		free(script.prefix[i]);
	for (size_t i = 0; i < script.ntokens; i++)
		free(script.tokens[i]);
	script.nprefix = script.ntokens = 0;
	script.n = script.next = 0;
	script.trace = getenv("FUZZ_TRACE") != NULL;
	atomic_store(&script.stop, 0);
	while (p <= end && script.n < SCRIPT_MAX_RESPONSES) {
		const char *sep = memmem(p, (size_t)(end - p), SCRIPT_SEP, sizeof(SCRIPT_SEP) - 1), *q;
		const char *stop = sep ? sep : end;
		struct script_resp *r = &script.r[script.n++];

		memset(r, 0, sizeof(*r));
		r->status = 200;
		r->hdr = "";
		r->body = p;
		r->blen = (size_t)(stop - p);
		if (stop - p >= 4 && p[0] >= '1' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
		    p[2] <= '9' && (p[3] == '\n' || p[3] == ' ')) {
			r->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
			q = memchr(p, '\n', (size_t)(stop - p));
			r->hdr = q ? q + 1 : stop;
			/* header lines end at an empty line */
			q = r->hdr;
			while (q < stop && *q != '\n') {
				const char *nl = memchr(q, '\n', (size_t)(stop - q));
				q = nl ? nl + 1 : stop;
			}
			r->hlen = (size_t)(q - r->hdr);
			r->body = q < stop ? q + 1 : stop;
			r->blen = (size_t)(stop - r->body);
		}
		if (sep == NULL)
			break;
		p = sep + sizeof(SCRIPT_SEP) - 1;
	}
}

/* True when s names an access token a token answer of this input handed out. */
static bool
script_has_token(const char *s)
{
	for (size_t i = 0; i < script.ntokens; i++)
		if (strstr(s, script.tokens[i]) != NULL)
			return true;
	return false;
}

static void
script_check_url(const char *url)
{
	for (size_t i = 0; i < script.nprefix; i++) {
		size_t n = strlen(script.prefix[i]);
		if (strncmp(url, script.prefix[i], n) == 0 && url[n] == '/')
			return;
	}
	fprintf(stderr, "scripted_curl: a request sent off the org's hosts: %s\n", url);
	abort();
}

/* A token answer may move the org to another instance (Salesforce names it): allow it as the
 * connector reads it (a trailing slash dropped). Its token is a secret from then on (a real one
 * is long; short ones are not looked for, they would be found in any text). */
static void
script_note_token(const char *url, const struct script_resp *r)
{
	json_t *v = NULL;
	struct cs_error e;
	const char *s;
	size_t n;

	if (r->status != 200 || strstr(url, "/services/oauth2/token") == NULL ||
	    cs_json_parse(r->body, r->blen, &v, &e) != CS_OK)
		return;
	if ((s = cs_json_get_str(v, "instance_url")) != NULL && (n = strlen(s)) > 0)
		script_allow(s, s[n - 1] == '/' ? n - 1 : n);
	if ((s = cs_json_get_str(v, "access_token")) != NULL && strlen(s) >= 16 && script.ntokens < SCRIPT_MAX_TOKENS &&
	    (script.tokens[script.ntokens] = strdup(s)) != NULL)
		script.ntokens++;
	json_decref(v);
}

/* --- the easy interface ------------------------------------------------------------------------ */

struct fake_easy {
	char url[4096];
	curl_write_callback write_fn, header_fn;
	void *write_ud, *header_ud;
	curl_xferinfo_callback xfer_fn;
	void *xfer_ud;
	bool noprogress, nobody;
	long status;
};

CURL *
curl_easy_init(void)
{
	struct fake_easy *h = calloc(1, sizeof(*h));

	if (h != NULL)
		h->noprogress = true;
	return h;
}

void
curl_easy_cleanup(CURL *curl)
{
	free(curl);
}

void
curl_easy_reset(CURL *curl)
{
	struct fake_easy *h = curl;

	memset(h, 0, sizeof(*h));
	h->noprogress = true;
}

CURLcode
curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	struct fake_easy *h = curl;
	va_list ap;

	va_start(ap, option);
	switch (option) {
	case CURLOPT_URL: {
		const char *u = va_arg(ap, const char *);
		snprintf(h->url, sizeof(h->url), "%s", u ? u : "");
		break;
	}
	case CURLOPT_WRITEFUNCTION:
		h->write_fn = va_arg(ap, curl_write_callback);
		break;
	case CURLOPT_WRITEDATA:
		h->write_ud = va_arg(ap, void *);
		break;
	case CURLOPT_HEADERFUNCTION:
		h->header_fn = va_arg(ap, curl_write_callback);
		break;
	case CURLOPT_HEADERDATA:
		h->header_ud = va_arg(ap, void *);
		break;
	case CURLOPT_XFERINFOFUNCTION:
		h->xfer_fn = va_arg(ap, curl_xferinfo_callback);
		break;
	case CURLOPT_XFERINFODATA:
		h->xfer_ud = va_arg(ap, void *);
		break;
	case CURLOPT_NOPROGRESS:
		h->noprogress = va_arg(ap, long) != 0;
		break;
	case CURLOPT_NOBODY:
		h->nobody = va_arg(ap, long) != 0;
		break;
	default:
		break;                  /* everything else is libcurl's business, not the script's */
	}
	va_end(ap);
	return CURLE_OK;
}

/* Hands n bytes to a write or header callback; false when it took fewer (libcurl's write error). */
static bool
deliver(curl_write_callback fn, void *ud, const char *p, size_t n)
{
	char *copy;
	size_t got;

	if (fn == NULL || n == 0)
		return true;
	/* a writable, exact-size copy: a callback reading past it is caught */
	if ((copy = malloc(n)) == NULL)
		return false;
	memcpy(copy, p, n);
	got = fn(copy, 1, n, ud);
	free(copy);
	return got == n;
}

/* An interval over max in a Bayeux message is served as 0 ms: a long one only makes the run
 * sleep. The answer is served re-encoded only when it had one to change. */
static char *
cap_intervals(const struct script_resp *r, size_t *n)
{
	json_t *v = NULL, *m;
	struct cs_error e;
	bool changed = false;
	char *txt = NULL;
	size_t i;

	/* a key "interval" is spelt so, or with an escape */
	if (script.max_interval <= 0 || (memmem(r->body, r->blen, "interval", 8) == NULL &&
	    memchr(r->body, '\\', r->blen) == NULL) || cs_json_parse(r->body, r->blen, &v, &e) != CS_OK)
		return NULL;
	for (i = 0; i < (json_is_array(v) ? json_array_size(v) : 1); i++) {
		json_t *a, *iv;

		m = json_is_array(v) ? json_array_get(v, i) : v;
		a = json_object_get(m, "advice");
		iv = json_object_get(a, "interval");
		if (json_is_integer(iv) && json_integer_value(iv) > script.max_interval &&
		    json_integer_value(iv) <= 600000) {
			json_object_set_new(a, "interval", json_integer(0));
			changed = true;
		}
	}
	if (changed && (txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) != NULL)
		*n = strlen(txt);
	json_decref(v);
	return txt;
}

CURLcode
curl_easy_perform(CURL *curl)
{
	struct fake_easy *h = curl;
	const struct script_resp *r;
	char line[64], *capped;
	size_t half, blen = 0;
	const char *body;

	h->status = 0;
	script_check_url(h->url);
	if (!h->noprogress && h->xfer_fn != NULL && h->xfer_fn(h->xfer_ud, 0, 0, 0, 0) != 0)
		return CURLE_ABORTED_BY_CALLBACK;
	if (script.next >= script.n) {
		atomic_store(&script.stop, 1);
		return CURLE_URL_MALFORMAT;
	}
	r = &script.r[script.next++];
	if (script.trace)
		fprintf(stderr, "scripted_curl: %s -> %ld, %zu bytes\n", h->url, r->status, r->blen);
	script_note_token(h->url, r);
	h->status = r->status;
	snprintf(line, sizeof(line), "HTTP/1.1 %ld Scripted\r\n", r->status);
	if (!deliver(h->header_fn, h->header_ud, line, strlen(line)))
		return CURLE_WRITE_ERROR;
	for (const char *p = r->hdr, *end = r->hdr + r->hlen; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl + 1 : end;
		if (!deliver(h->header_fn, h->header_ud, p, (size_t)(eol - p)))
			return CURLE_WRITE_ERROR;
		p = eol;
	}
	if (!deliver(h->header_fn, h->header_ud, "\r\n", 2))
		return CURLE_WRITE_ERROR;
	if (h->nobody)
		return CURLE_OK;
	capped = cap_intervals(r, &blen);
	body = capped ? capped : r->body;
	if (capped == NULL)
		blen = r->blen;
	half = blen / 2;
	if (!deliver(h->write_fn, h->write_ud, body, half) ||
	    !deliver(h->write_fn, h->write_ud, body + half, blen - half)) {
		free(capped);
		return CURLE_WRITE_ERROR;
	}
	free(capped);
	return CURLE_OK;
}

CURLcode
curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	struct fake_easy *h = curl;
	va_list ap;
	CURLcode rc = CURLE_OK;

	va_start(ap, info);
	if (info == CURLINFO_RESPONSE_CODE)
		*va_arg(ap, long *) = h->status;
	else
		rc = CURLE_UNKNOWN_OPTION;
	va_end(ap);
	return rc;
}

#endif

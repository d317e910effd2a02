/* http_fixture.h - what the fuzz targets of the HTTP APIs share: a request built from the fuzz
 * input, handed to a server of this process whole (http_server_dispatch: the server's own pre
 * hook, routing, handlers and accessors, as for a request received, without a socket), its
 * answer, and the checks every JSON answer passes.
 *
 * A request is built from the input: its first line is the request target (path and query, as
 * sent: percent escapes stay as written; bytes that cannot appear in a request line are
 * percent-encoded), then header lines up to an empty line, then the body. An Authorization
 * header is added unless the input has one; Host and Content-Length always. What libmicrohttpd
 * does with the bytes of a request before our code sees it is done here as it does it: the path
 * is percent-decoded, the query split at '&' and '=' with '+' and escapes decoded (a name
 * without '=' has no value), a header line split at its first ':' with the blanks after it
 * dropped, and a HEAD answer (or a 1xx, 204 or 304) carries no body. (Reading HTTP off a socket
 * is libmicrohttpd's, not ours to fuzz; without the round trip over loopback, and the two
 * threads it wakes, an input takes a fraction of the time.)
 * Include it in one file of a program. */
#ifndef FUZZ_HTTP_FIXTURE_H
#define FUZZ_HTTP_FIXTURE_H

#include <strings.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "util/buf.h"
#include "util/json.h"

#define FIX_RESPONSE_MAX (8u << 20)
#define FIX_PEER "127.0.0.1"

static struct {
	/* answers a request: a server's (http_server_dispatch) or the admin's (admin_dispatch) */
	void (*dispatch)(void *srv, const struct http_local_req *lr, struct http_resp *rs);
	void *srv;
} cli;

static __attribute__((unused)) void
fix_server_dispatch(void *srv, const struct http_local_req *lr, struct http_resp *rs)
{
	http_server_dispatch(srv, lr, rs);
}

/* An answer: status, header block and body (NUL-terminated). */
struct fix_answer {
	int status;
	struct cs_buf raw;              /* header block, then body */
	size_t hlen;                    /* bytes of the header block, its empty line included */
	const char *body;
	size_t blen;
};

/* The value of header name in the header block p[0..n) (after "Name:" and spaces), or NULL. */
static const char *
fix_header(const char *p, size_t n, const char *name)
{
	size_t nl = strlen(name);

	for (const char *end = p + n; p < end;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if ((size_t)((e ? e : end) - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			p += nl + 1;
			while (p < end && *p == ' ')
				p++;
			return p;
		}
		p = e ? e + 1 : end;
	}
	return NULL;
}

static int
fix_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* libmicrohttpd's percent-decoding (MHD_http_unescape), in place: "%XX" with two hex digits is
 * the byte, anything else stays as it is. */
static void
fix_unescape(char *v)
{
	char *w = v;

	for (const char *r = v; *r != '\0';) {
		if (r[0] == '%' && fix_hex(r[1]) >= 0 && fix_hex(r[2]) >= 0) {
			*w++ = (char)(fix_hex(r[1]) << 4 | fix_hex(r[2]));
			r += 3;
		} else
			*w++ = *r++;
	}
	*w = '\0';
}

/* A query name or value as libmicrohttpd decodes it: '+' as a space, then the escapes. */
static void
fix_unescape_arg(char *v)
{
	for (char *c = v; *c != '\0'; c++)
		if (*c == '+')
			*c = ' ';
	fix_unescape(v);
}

/* Splits the query string q (modified) into kv as libmicrohttpd does (MHD_parse_arguments_):
 * "a=b&c&d=" gives a:"b", c:(no value), d:"". Returns the pairs; kv holds room for one more
 * pair than q has '&'. */
static size_t
fix_query(char *q, const char **kv)
{
	size_t n = 0;

	while (*q != '\0') {
		char *eq = strchr(q, '='), *amp = strchr(q, '&');

		if (amp != NULL)
			*amp++ = '\0';
		if (eq != NULL && (amp == NULL || eq < amp)) {
			*eq++ = '\0';
			fix_unescape_arg(eq);
		} else
			eq = NULL;
		fix_unescape_arg(q);
		kv[2 * n] = q;
		kv[2 * n + 1] = eq;
		n++;
		if (amp == NULL)
			break;
		q = amp;
	}
	return n;
}

/* Appends the request target t[0..n) to b: bytes a request line cannot hold are percent-encoded. */
static cs_err
fix_target(struct cs_buf *b, const char *t, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	cs_err err = CS_OK;
	size_t run = 0;                 /* where the bytes that go as they are start */

	for (size_t i = 0; i < n && err == CS_OK; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c <= 0x20 || c >= 0x7f || c == '#') {
			char q[3] = { '%', hex[c >> 4], hex[c & 15] };
			if ((err = cs_buf_append(b, t + run, i - run)) == CS_OK)
				err = cs_buf_append(b, q, 3);
			run = i + 1;
		}
	}
	if (err == CS_OK)
		err = cs_buf_append(b, t + run, n - run);
	return err;
}

/* Answers method prefix+target (from p[0..len) as described above) into a (caller-owned:
 * cs_buf_init'd raw, cleaned up after). token is the default Authorization. false when the
 * request got no answer (a handler dropped it, or its status or size is one libmicrohttpd would
 * not send). */
static bool
fix_request(const char *method, const char *prefix, const char *p, size_t len, const char *token,
    struct fix_answer *a)
{
	const char *end = p + len, *nl = memchr(p, '\n', len), *h, *body;
	struct http_local_req lr;
	struct http_resp rs;
	struct cs_buf uri;
	char *copy = NULL, *path = NULL, *q, auth[128], clen[32];
	const char **hv = NULL, **qv = NULL;
	size_t nh = 0;
	size_t nlines = 0, namp = 0;
	bool has_auth = false, ok = false;

	memset(&lr, 0, sizeof(lr));
	memset(&rs, 0, sizeof(rs));
	cs_buf_init(&uri, len * 3 + 1024);
	cs_buf_puts(&uri, prefix);
	fix_target(&uri, p, (size_t)((nl ? nl : end) - p));
	/* header lines, on a copy cut at the colons and line ends: kept when printable, up to the
	 * first empty line */
	for (const char *c = p; (c = memchr(c, '\n', (size_t)(end - c))) != NULL; c++)
		nlines++;
	for (const char *c = uri.data; c != NULL && (c = strchr(c, '&')) != NULL; c++)
		namp++;
	if (uri.data == NULL || (copy = malloc(len + 1)) == NULL || (hv = calloc(2 * (nlines + 4), sizeof(*hv))) == NULL ||
	    (path = strdup(uri.data)) == NULL || (qv = calloc(2 * (namp + 1), sizeof(*qv))) == NULL)
		goto out;
	memcpy(copy, p, len);
	copy[len] = '\0';
	h = nl ? nl + 1 : end;
	while (h < end && *h != '\n') {
		const char *e = memchr(h, '\n', (size_t)(end - h)), *le = e ? e : end, *colon;
		size_t n = (size_t)(le - h);
		bool printable = n > 0 && memchr(h, ':', n) != NULL;

		if (n > 0 && h[n - 1] == '\r')
			n--;
		for (size_t i = 0; i < n && printable; i++)
			printable = (unsigned char)h[i] >= 0x20 && h[i] != 0x7f;
		if (printable && (colon = memchr(h, ':', n)) != NULL && strncasecmp(h, "Content-Length:", 15) != 0 &&
		    strncasecmp(h, "Transfer-Encoding:", 18) != 0 && strncasecmp(h, "Connection:", 11) != 0 &&
		    strncasecmp(h, "Host:", 5) != 0 && strncasecmp(h, "Expect:", 7) != 0) {
			char *c = copy + (h - p), *v = copy + (colon - p) + 1;

			has_auth |= strncasecmp(h, "Authorization:", 14) == 0;
			c[colon - h] = '\0';
			c[n] = '\0';
			while (*v == ' ' || *v == '\t')
				v++;
			hv[2 * nh] = c;
			hv[2 * nh + 1] = v;
			nh++;
		}
		h = e ? e + 1 : end;
	}
	body = h < end ? h + 1 : end;
	hv[2 * nh] = "Host";
	hv[2 * nh++ + 1] = "127.0.0.1";
	if (!has_auth && token != NULL) {
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		hv[2 * nh] = "Authorization";
		hv[2 * nh++ + 1] = auth;
	}
	snprintf(clen, sizeof(clen), "%zu", (size_t)(end - body));
	hv[2 * nh] = "Content-Length";
	hv[2 * nh++ + 1] = clen;
	/* the path, decoded, and the query split off it */
	if ((q = strchr(path, '?')) != NULL) {
		*q++ = '\0';
		lr.nquery = fix_query(q, qv);
	}
	fix_unescape(path);
	lr.method = method;
	lr.path = path;
	lr.raw_uri = uri.data;
	lr.headers = hv;
	lr.nheaders = nh;
	lr.query = qv;
	lr.body = body;
	lr.body_len = (size_t)(end - body);
	lr.peer = FIX_PEER;
	cli.dispatch(cli.srv, &lr, &rs);
	if (rs.drop || rs.status < 100 || rs.status > 999 || rs.body.len > FIX_RESPONSE_MAX)
		goto out;
	a->status = rs.status;
	cs_buf_reset(&a->raw);
	cs_buf_printf(&a->raw, "HTTP/1.1 %d\r\n", rs.status);
	if (rs.content_type[0] != '\0')
		cs_buf_printf(&a->raw, "Content-Type: %s\r\n", rs.content_type);
	for (size_t i = 0; i < rs.nheaders; i++)
		cs_buf_printf(&a->raw, "%s: %s\r\n", rs.headers[i].name, rs.headers[i].value);
	cs_buf_puts(&a->raw, "\r\n");
	a->hlen = a->raw.len;
	a->blen = 0;
	/* what libmicrohttpd sends no body with */
	if (strcmp(method, "HEAD") != 0 && rs.status >= 200 && rs.status != 204 && rs.status != 304) {
		cs_buf_append(&a->raw, rs.body.data, rs.body.len);
		a->blen = rs.body.len;
	}
	if (cs_buf_putc(&a->raw, '\0') != CS_OK)
		goto out;
	a->raw.len--;
	a->body = a->raw.data + a->hlen;
	ok = a->raw.len == a->hlen + a->blen;
out:
	http_resp_cleanup(&rs);
	cs_buf_cleanup(&uri);
	free(copy);
	free(path);
	free(hv);
	free(qv);
	return ok;
}

/* What every JSON answer of the repository and admin APIs must be: parseable, and an error one
 * that names a code and says something. (Unused by the emulator's target, whose errors have
 * Salesforce's shape.) */
static __attribute__((unused)) void
fix_check_json(const struct fix_answer *a, const char *what)
{
	json_t *v = NULL, *err;
	struct cs_error e;

	if (a->blen == 0)
		return;
	if (cs_json_parse(a->body, a->blen, &v, &e) != CS_OK) {
		fprintf(stderr, "%s: answer %d is not JSON (%s): %.200s\n", what, a->status, e.msg, a->body);
		abort();
	}
	if (a->status >= 400) {
		err = json_object_get(v, "error");
		if (!json_is_string(json_object_get(err, "code")) || !json_is_string(json_object_get(err, "message")) ||
		    json_string_length(json_object_get(err, "message")) == 0) {
			fprintf(stderr, "%s: error answer %d without code and message: %.200s\n", what, a->status, a->body);
			abort();
		}
	}
	json_decref(v);
}

#endif

/* http_fixture.h - what the fuzz targets of the HTTP APIs share: a small HTTP/1.1 client that
 * sends one request built from the fuzz input to a listener of this process on 127.0.0.1 and
 * reads its answer, on one kept-alive connection, and the checks every JSON answer passes.
 *
 * A request is built from the input: its first line is the request target (path and query, as
 * sent: percent escapes stay as written; bytes that cannot appear in a request line are sent
 * percent-encoded), then header lines up to an empty line, then the body. An Authorization
 * header is added unless the input has one; Content-Length always. Include it in one file of a
 * program. */
#ifndef FUZZ_HTTP_FIXTURE_H
#define FUZZ_HTTP_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/json.h"

#define FIX_RESPONSE_MAX (8u << 20)

static struct {
	int fd;                         /* the kept-alive connection, -1 when none */
	int port;
} cli = { .fd = -1 };

/* --- the client -------------------------------------------------------------------------------- */

static bool
fix_connect(void)
{
	struct sockaddr_in sa;
	struct timeval tv = { 30, 0 };
	int one = 1;

	if (cli.fd >= 0)
		return true;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)cli.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((cli.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	setsockopt(cli.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(cli.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(cli.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(cli.fd);
		cli.fd = -1;
		return false;
	}
	return true;
}

static void
fix_close(void)
{
	if (cli.fd >= 0)
		close(cli.fd);
	cli.fd = -1;
}

static bool
fix_send(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(cli.fd, p, n, MSG_NOSIGNAL);
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
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

/* Reads one answer (to a HEAD when head: no body). false when the connection failed. */
static bool
fix_read(struct fix_answer *a, bool head)
{
	char buf[16384], *end;
	const char *cl;
	size_t want = 0;
	bool have_head = false;

	for (;;) {
		ssize_t k;

		if (!have_head && a->raw.data != NULL && (end = memmem(a->raw.data, a->raw.len, "\r\n\r\n", 4)) != NULL) {
			have_head = true;
			a->hlen = (size_t)(end - a->raw.data) + 4;
			if (sscanf(a->raw.data, "HTTP/1.%*d %d", &a->status) != 1)
				return false;
			/* the fixture's servers always send Content-Length */
			cl = fix_header(a->raw.data, a->hlen, "Content-Length");
			want = head || cl == NULL ? 0 : strtoul(cl, NULL, 10);
			if (want > FIX_RESPONSE_MAX)
				return false;
		}
		if (have_head && a->raw.len >= a->hlen + want)
			break;
		if ((k = recv(cli.fd, buf, sizeof(buf), 0)) <= 0)
			return false;
		if (cs_buf_append(&a->raw, buf, (size_t)k) != CS_OK)
			return false;
	}
	if (cs_buf_putc(&a->raw, '\0') != CS_OK)
		return false;
	a->raw.len--;
	a->body = a->raw.data + a->hlen;
	a->blen = want;
	return true;
}

/* Appends the request target t[0..n) to b: bytes a request line cannot hold are percent-encoded. */
static cs_err
fix_target(struct cs_buf *b, const char *t, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	cs_err err = CS_OK;

	for (size_t i = 0; i < n && err == CS_OK; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c <= 0x20 || c >= 0x7f || c == '#') {
			char q[3] = { '%', hex[c >> 4], hex[c & 15] };
			err = cs_buf_append(b, q, 3);
		} else
			err = cs_buf_putc(b, (char)c);
	}
	return err;
}

/* Sends method prefix+target (from p[0..len) as described above) and reads the answer into a
 * (caller-owned: cs_buf_init'd raw, cleaned up after). token is the default Authorization.
 * false when the request could not be made or answered (the connection is then dropped). */
static bool
fix_request(const char *method, const char *prefix, const char *p, size_t len, const char *token,
    struct fix_answer *a)
{
	const char *end = p + len, *nl = memchr(p, '\n', len), *h, *body;
	struct cs_buf req;
	bool has_auth = false, ok;

	cs_buf_init(&req, len * 3 + 1024);
	cs_buf_printf(&req, "%s ", method);
	cs_buf_puts(&req, prefix);
	fix_target(&req, p, (size_t)((nl ? nl : end) - p));
	cs_buf_puts(&req, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
	/* header lines: kept when printable, up to the first empty line */
	h = nl ? nl + 1 : end;
	while (h < end && *h != '\n') {
		const char *e = memchr(h, '\n', (size_t)(end - h)), *le = e ? e : end;
		size_t n = (size_t)(le - h);
		bool printable = n > 0 && memchr(h, ':', n) != NULL;

		if (n > 0 && h[n - 1] == '\r')
			n--;
		for (size_t i = 0; i < n && printable; i++)
			printable = (unsigned char)h[i] >= 0x20 && h[i] != 0x7f;
		if (printable && strncasecmp(h, "Content-Length:", 15) != 0 && strncasecmp(h, "Transfer-Encoding:", 18) != 0 &&
		    strncasecmp(h, "Connection:", 11) != 0 && strncasecmp(h, "Host:", 5) != 0 &&
		    strncasecmp(h, "Expect:", 7) != 0) {
			has_auth |= strncasecmp(h, "Authorization:", 14) == 0;
			cs_buf_append(&req, h, n);
			cs_buf_puts(&req, "\r\n");
		}
		h = e ? e + 1 : end;
	}
	body = h < end ? h + 1 : end;
	if (!has_auth && token != NULL)
		cs_buf_printf(&req, "Authorization: Bearer %s\r\n", token);
	cs_buf_printf(&req, "Content-Length: %zu\r\n\r\n", (size_t)(end - body));
	cs_buf_append(&req, body, (size_t)(end - body));
	ok = false;
	for (int attempt = 0; req.data != NULL && attempt < 2 && !ok; attempt++) {
		/* a kept-alive connection the server closed meanwhile: once more on a new one */
		cs_buf_reset(&a->raw);
		a->status = 0;
		ok = fix_connect() && fix_send(req.data, req.len) && fix_read(a, strcmp(method, "HEAD") == 0);
		if (!ok)
			fix_close();
	}
	if (ok && (h = fix_header(a->raw.data, a->hlen, "Connection")) != NULL && strncasecmp(h, "close", 5) == 0)
		fix_close();
	cs_buf_cleanup(&req);
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

/* http_fixture.h - what the fuzz targets of the HTTP APIs share: a repository in a temporary
 * directory holding a few records with fixed ids, API tokens, and a small HTTP/1.1 client that
 * sends one request built from the fuzz input to a listener of this process on 127.0.0.1 and
 * reads its answer, on one kept-alive connection.
 *
 * A request is built from the input: its first line is the request target (path and query, as
 * sent: percent escapes stay as written; bytes that cannot appear in a request line are sent
 * percent-encoded), then header lines up to an empty line, then the body. An Authorization
 * header is added unless the input has one; Content-Length always. The temporary directory is
 * removed when the program exits (left behind only by a crash). */
#ifndef FUZZ_HTTP_FIXTURE_H
#define FUZZ_HTTP_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "clm/clm.h"
#include "util/buf.h"
#include "util/json.h"

#define FIX_TOKEN_READ "clm_fuzz_read_0123456789abcdef"
#define FIX_TOKEN_WRITE "clm_fuzz_write_0123456789abcdef"
#define FIX_TOKEN_ADMIN "clm_fuzz_admin_0123456789abcdef"
#define FIX_CP "cp_01J9Z3Q4V6X8N2M5K7H1D0F3WS"
#define FIX_CT "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WS"
#define FIX_CT2 "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WT"
#define FIX_AM "am_01J9Z3Q4V6X8N2M5K7H1D0F3WS"
#define FIX_OB "ob_01J9Z3Q4V6X8N2M5K7H1D0F3WS"
#define FIX_MISSING "ct_00000000000000000000000000"  /* a well-formed id no record has */
#define FIX_RESPONSE_MAX (8u << 20)

static struct {
	char dir[256], url[300];
	struct clm *clm;
	struct clm_schema *schema;
	struct clm_auth *auth;
	int fd;
	int port;
} fix = { .fd = -1 };

static void
fix_remove(void)
{
	static const char *const names[] = { "clm.db", "clm.db-wal", "clm.db-shm" };
	char p[300];

	if (fix.dir[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fix.dir, names[i]);
		unlink(p);
	}
	rmdir(fix.dir);
}

static void
fix_die(const char *what, const char *why)
{
	fprintf(stderr, "http_fixture: %s: %s\n", what, why);
	abort();
}

/* The custom attributes of fuzz_repo_json, so that bodies reach their checks. */
static struct clm_schema *
fix_schema(void)
{
	static const char *const tiers[] = { "gold", "silver", "bronze" };
	static const struct clm_attr ct[] = {
		{ "region", CLM_ATTR_TEXT, NULL, 0, false, 20 },
		{ "tier", CLM_ATTR_PICKLIST, tiers, 3, false, 0 },
		{ "discount", CLM_ATTR_DECIMAL, NULL, 0, false, 0 },
		{ "seats", CLM_ATTR_NUMBER, NULL, 0, false, 0 },
		{ "review_on", CLM_ATTR_DATE, NULL, 0, false, 0 },
		{ "sent_at", CLM_ATTR_DATETIME, NULL, 0, false, 0 },
		{ "strategic", CLM_ATTR_BOOLEAN, NULL, 0, false, 0 },
	};
	static const struct clm_attr cp[] = { { "segment", CLM_ATTR_TEXT, NULL, 0, false, 0 } };
	const struct clm_attr *a[CLM_KIND_COUNT] = { [CLM_COUNTERPARTY] = cp, [CLM_CONTRACT] = ct };
	size_t n[CLM_KIND_COUNT] = { [CLM_COUNTERPARTY] = 1, [CLM_CONTRACT] = sizeof(ct) / sizeof(ct[0]) };
	struct cs_error e;
	struct clm_schema *sc = clm_schema_new(a, n, &e);

	if (sc == NULL)
		fix_die("schema", e.msg);
	return sc;
}

static void
fix_create(enum clm_kind k, const char *parent, const char *id, const char *body)
{
	struct clm_new it = { .kind = k, .parent_id = parent };
	struct clm_fail f;
	json_t *b = json_loads(body, 0, NULL);

	if (b == NULL)
		fix_die("seed body", body);
	it.body = b;
	snprintf(it.id, sizeof(it.id), "%s", id);
	if (clm_create_many(fix.clm, &it, 1, "api:fixture", NULL, &f) != CS_OK)
		fix_die(id, f.msg);
	json_decref(b);
}

/* Opens the repository in a new temporary directory and writes the fixed records: a
 * counterparty, two contracts (one active, one moved along its lifecycle, so that it has
 * history), an amendment and an obligation of the active one, and a document. */
static void
fix_repository(void)
{
	const char *tmp = getenv("TMPDIR");
	struct clm_opts o = { 0 };
	struct cs_error e;
	struct clm_fail f;
	json_t *b, *out = NULL;

	snprintf(fix.dir, sizeof(fix.dir), "%s/clmsync-fuzz.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(fix.dir) == NULL)
		fix_die("mkdtemp", strerror(errno));
	atexit(fix_remove);
	snprintf(fix.url, sizeof(fix.url), "sqlite:%s/clm.db", fix.dir);
	fix.schema = fix_schema();
	o.store_url = fix.url;
	o.pool_size = 4;
	o.max_document_size = 1u << 20;
	o.schema = fix.schema;
	if (clm_new(&o, &fix.clm, &e) != CS_OK)
		fix_die("clm_new", e.msg);
	fix_create(CLM_COUNTERPARTY, NULL, FIX_CP,
	    "{\"legal_name\":\"Acme GmbH\",\"domain\":\"acme.de\",\"country\":\"DE\",\"custom\":{\"segment\":\"enterprise\"}}");
	fix_create(CLM_CONTRACT, NULL, FIX_CT,
	    "{\"title\":\"Master Services Agreement\",\"type\":\"msa\",\"counterparty_id\":\"" FIX_CP "\",\"owner\":\"alice\","
	    "\"status\":\"active\",\"customer_signed_date\":\"2025-12-01\",\"company_signed_date\":\"2025-12-02\","
	    "\"effective_date\":\"2026-01-01\",\"term_months\":12,\"auto_renew\":true,\"renewal_notice_days\":60,"
	    "\"total_value\":{\"amount\":\"120000.00\",\"currency\":\"EUR\"},\"custom\":{\"region\":\"EMEA\",\"tier\":\"gold\","
	    "\"discount\":\"0.125\",\"seats\":40,\"review_on\":\"2026-06-30\",\"sent_at\":\"2026-01-01T09:30:00Z\",\"strategic\":true}}");
	fix_create(CLM_CONTRACT, NULL, FIX_CT2,
	    "{\"title\":\"JPY order form\",\"type\":\"order_form\",\"counterparty_id\":\"" FIX_CP "\",\"owner\":\"bob\","
	    "\"total_value\":{\"amount\":\"1500000\",\"currency\":\"JPY\"}}");
	fix_create(CLM_AMENDMENT, FIX_CT, FIX_AM,
	    "{\"title\":\"Amendment 1\",\"effective_date\":\"2026-07-01\",\"changes\":{\"term_months\":24}}");
	fix_create(CLM_OBLIGATION, FIX_CT, FIX_OB,
	    "{\"description\":\"Quarterly usage report\",\"owner\":\"bob\",\"due_date\":\"2026-03-31\",\"recurrence\":\"quarterly\"}");
	b = json_pack("{s:s}", "to", "in_review");
	if (clm_transition(fix.clm, FIX_CT2, b, -1, "api:fixture", &out, &f) != CS_OK)
		fix_die("transition", f.msg);
	json_decref(out);
	json_decref(b);
	b = json_pack("{s:s}", "file_name", "msa.pdf");
	out = NULL;
	if (clm_document_put(fix.clm, FIX_CT, NULL, "%PDF-1.7\n", 9, b, -1, "api:fixture", &out, &f) != CS_OK)
		fix_die("document", f.msg);
	json_decref(out);
	json_decref(b);
	/* a change-feed long poll answers at once from now on: an input cannot make a run wait */
	clm_wake_all(fix.clm);
	if ((fix.auth = clm_auth_new()) == NULL || clm_auth_add(fix.auth, "reader", CLM_ROLE_READ, FIX_TOKEN_READ, &e) != CS_OK ||
	    clm_auth_add(fix.auth, "writer", CLM_ROLE_WRITE, FIX_TOKEN_WRITE, &e) != CS_OK ||
	    clm_auth_add(fix.auth, "admin", CLM_ROLE_ADMIN, FIX_TOKEN_ADMIN, &e) != CS_OK)
		fix_die("tokens", e.msg);
}

/* --- the client -------------------------------------------------------------------------------- */

static bool
fix_connect(void)
{
	struct sockaddr_in sa;
	struct timeval tv = { 30, 0 };
	int one = 1;

	if (fix.fd >= 0)
		return true;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)fix.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fix.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	setsockopt(fix.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fix.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fix.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fix.fd);
		fix.fd = -1;
		return false;
	}
	return true;
}

static void
fix_close(void)
{
	if (fix.fd >= 0)
		close(fix.fd);
	fix.fd = -1;
}

static bool
fix_send(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fix.fd, p, n, MSG_NOSIGNAL);
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
		if ((k = recv(fix.fd, buf, sizeof(buf), 0)) <= 0)
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

/* What every JSON answer of both APIs must be: parseable, and an error one that names a code
 * and says something. */
static void
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

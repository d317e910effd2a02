/* fuzz_url.c - libFuzzer target for URL-encoded and header text from outside: form bodies (OAuth
 * token requests and Bayeux "message=" posts to the emulator), percent-decoding, the header block
 * of an HTTP answer as the client looks names up in it (Sforce-Limit-Info, Sforce-Locator, ...),
 * and the HOST:PORT of the configuration's listen settings. A decoded value encoded again by the
 * connector's encoder decodes back to itself; the form splitter hands out NUL-terminated pairs;
 * a header value is trimmed and fits its buffer; nothing reads past the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "http/client.h"
#include "http/server.h"
#include "salesforce/sf_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (16u << 10)
#define FUZZ_MAX_PAIRS 4096

struct pairs {
	size_t n, bytes, len;
};

static bool
pair(const char *k, const char *v, void *ud)
{
	struct pairs *p = ud;

	/* each decoded part is no longer than what it was decoded from */
	p->bytes += strlen(k) + strlen(v);
	if (p->bytes > p->len)
		abort();
	return ++p->n < FUZZ_MAX_PAIRS;
}

static void
decode(const char *s, size_t len, bool plus)
{
	char *out = malloc(len + 1), *again;
	struct cs_buf b;
	long n, m;

	if (out == NULL)
		return;
	n = http_url_decode(s, len, out, len + 1, plus);
	if (n >= 0) {
		if ((size_t)n > len || out[n] != '\0')
			abort();
		/* the connector's encoding of the decoded text decodes back to it (up to a NUL) */
		cs_buf_init(&b, 3 * (size_t)n + 1);
		if (sf_urlencode(&b, out) != CS_OK)
			abort();
		again = malloc(b.len + 1);
		if (again == NULL)
			abort();
		m = http_url_decode(b.data ? b.data : "", b.len, again, b.len + 1, plus);
		if (m < 0 || (size_t)m != strlen(out) || memcmp(again, out, (size_t)m) != 0)
			abort();
		free(again);
		cs_buf_cleanup(&b);
		/* a buffer one byte short is refused, never overrun */
		if (n > 0 && http_url_decode(s, len, out, (size_t)n, plus) != -1)
			abort();
	}
	free(out);
}

static void
headers(const char *s, size_t len)
{
	static const char *const names[] = { "Sforce-Limit-Info", "Sforce-Locator", "Sforce-NumberOfRecords",
		"Content-Type", "Retry-After", "x" };
	struct http_response rs;
	char out[64];

	http_response_init(&rs);
	if (cs_buf_append(&rs.headers, s, len) != CS_OK)
		abort();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		memset(out, 0x5a, sizeof(out));
		if (http_response_header(&rs, names[i], out, sizeof(out))) {
			size_t n = strnlen(out, sizeof(out));
			/* trimmed, unless a NUL inside the value cut it short */
			if (n == sizeof(out) || (n > 0 && memchr(s, '\0', len) == NULL &&
			    (out[0] == ' ' || out[n - 1] == '\r' || out[n - 1] == ' ')))
				abort();
		}
	}
	http_response_cleanup(&rs);
}

static void
listen_addr(const char *s, size_t len)
{
	char z[300], host[CS_CONFIG_HOST_MAX];
	uint16_t port = 0;

	if (len >= sizeof(z) || memchr(s, '\0', len) != NULL)
		return;
	memcpy(z, s, len);
	z[len] = '\0';
	if (cs_config_parse_listen(z, host, sizeof(host), &port) && (port == 0 || host[0] == '\0' ||
	    memchr(host, '\0', sizeof(host)) == NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pairs p = { 0, 0, size };
	char *s;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* an exact-size copy, so that a read past the input is caught */
	if ((s = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	http_form_each(s, size, pair, &p);
	decode(s, size, true);
	decode(s, size, false);
	headers(s, size);
	listen_addr(s, size);
	free(s);
	return 0;
}

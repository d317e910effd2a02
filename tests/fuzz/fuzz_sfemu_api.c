/* fuzz_sfemu_api.c - libFuzzer target for sfemu, the Salesforce emulator, as a client reaches it:
 * REST paths and query strings (API versions, sObject and field names, ids, external ids,
 * ?q= SOQL, ?fields=, ?ids=), request bodies of record writes, sObject Collections, Composite and
 * Bulk API 2.0 jobs, the OAuth token endpoint's form bodies (password, client credentials, refresh
 * token and JWT bearer assertions), the CometD endpoint, and the emulator's own control API
 * (/__emu/...), through its real server's routing and handlers, handed each request whole
 * (http_fixture.h).
 *
 * Every input is one request to an emulator reset to its seed data just before (emu_reset), so
 * runs are deterministic; long polls answer at once (hold_ms 0). The first byte picks the method
 * and whether the request carries the emulator's fixed access token by default; the rest is the
 * request (http_fixture.h). FUZZ_TRACE in the environment prints each answer's status and the
 * start of its body.
 *
 * Checked: the emulator answers every request, never with a 500 (only its fault injection
 * answers 500, and it is reset before each input); every JSON answer parses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cometd.h"
#include "emu.h"
#include "http/server.h"
#include "util/log.h"

#include "http_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64u << 10)
#define TOKEN "00Dfuzz!sfemu-fixed-token"

static const char *const methods[] = { "GET", "GET", "POST", "POST", "PATCH", "PUT", "DELETE", "HEAD" };

static struct emu *emu;
static struct http_server *srv;

static void
start(void)
{
	struct http_server_opts so;
	struct emu_opts o;
	struct cs_error e = { 0 };
	json_t *settings;

	cs_log_setup(getenv("FUZZ_TRACE") ? CS_LOG_DEBUG : CS_LOG_ERROR, 0);
	memset(&o, 0, sizeof(o));
	o.fixed_token = TOKEN;
	if ((emu = calloc(1, sizeof(*emu))) == NULL || emu_init(emu, &o, &e) != CS_OK) {
		fprintf(stderr, "fuzz_sfemu_api: %s\n", e.msg);
		abort();
	}
	settings = json_pack("{s:i}", "hold_ms", 0);
	emu_lock(emu);
	if (cometd_configure(emu, settings, &e) != CS_OK)
		abort();
	emu_unlock(emu);
	json_decref(settings);
	emu_server_opts(emu, &so);
	so.host = "127.0.0.1";
	so.port = 0;
	if (http_server_start(&so, &srv, &e) != CS_OK) {
		fprintf(stderr, "fuzz_sfemu_api: %s\n", e.msg);
		abort();
	}
	cli.dispatch = fix_server_dispatch;
	cli.srv = srv;
	snprintf(emu->base_url, sizeof(emu->base_url), "http://127.0.0.1:%d", http_server_port(srv));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *method, *ctype;
	struct fix_answer a;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (emu == NULL)
		start();
	emu_lock(emu);
	emu_reset(emu);
	emu_unlock(emu);
	method = methods[data[0] % 8];
	memset(&a, 0, sizeof(a));
	cs_buf_init(&a.raw, FIX_RESPONSE_MAX + 65536);
	if (!fix_request(method, "", (const char *)data + 1, size - 1, (data[0] & 0x08) ? NULL : TOKEN, &a)) {
		fprintf(stderr, "fuzz_sfemu_api: no answer to %s\n", method);
		abort();
	}
	if (getenv("FUZZ_TRACE") != NULL)
		fprintf(stderr, "fuzz_sfemu_api: %s -> %d %.160s\n", method, a.status, a.body);
	if (a.status < 100 || a.status > 599 || a.status == 500) {
		fprintf(stderr, "fuzz_sfemu_api: %s answered %d: %.300s\n", method, a.status, a.body);
		abort();
	}
	ctype = fix_header(a.raw.data, a.hlen, "Content-Type");
	if (ctype != NULL && strncasecmp(ctype, "application/json", 16) == 0 && a.blen > 0) {
		json_t *v = NULL;
		struct cs_error e;
		if (cs_json_parse(a.body, a.blen, &v, &e) != CS_OK) {
			fprintf(stderr, "fuzz_sfemu_api: answer %d is not JSON (%s): %.200s\n", a.status, e.msg, a.body);
			abort();
		}
		json_decref(v);
	}
	cs_buf_cleanup(&a.raw);
	return 0;
}

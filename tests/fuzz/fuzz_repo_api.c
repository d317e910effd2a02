/* fuzz_repo_api.c - libFuzzer target for the repository's REST API as a client reaches it: request
 * targets and query strings (list filters, sort, limit, pagination cursors, the change feed's
 * after/limit/wait, document upload's file_name/executed), headers (Authorization, If-Match,
 * X-Clm-User, Content-Type, X-File-Name) and request bodies of every write, through the real
 * server's routing (src/http/server.c, handed each request whole: http_fixture.h) and handlers
 * (src/clm/api.c), on a repository in a temporary directory with a few fixed records
 * (repo_fixture.h).
 *
 * The first byte picks the method and the token the request carries by default; the rest is the
 * request (http_fixture.h). GET and HEAD go to the target as written. A write (POST, PATCH, PUT,
 * DELETE) goes under /api/v1/contracts/<an id no record has>, followed by the target as written:
 * every check of its headers and body runs, and the write then finds nothing to change, so the
 * repository is the same for every input and a run is deterministic. (Creates of top-level
 * records are fuzzed without the server by fuzz_repo_json.)
 *
 * FUZZ_TRACE in the environment prints each answer's status and the start of its body.
 *
 * Checked: the server answers every request; no read answers 500 or 503; no write to the missing
 * contract succeeds or fails with a 5xx; every JSON answer parses, and an error names a code
 * and a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clm/clm.h"
#include "http/server.h"
#include "util/log.h"

#include "http_fixture.h"
#include "repo_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64u << 10)

static const char *const methods[] = { "GET", "GET", "GET", "HEAD", "POST", "PATCH", "PUT", "DELETE" };
static const char *const tokens[] = { FIX_TOKEN_WRITE, FIX_TOKEN_READ, FIX_TOKEN_ADMIN, NULL };

static struct clm_api api;
static struct http_server *srv;

static void
start(void)
{
	struct http_server_opts so;
	struct cs_error e;

	cs_log_setup(getenv("FUZZ_TRACE") ? CS_LOG_DEBUG : CS_LOG_ERROR, 0);
	fix_repository();
	api.clm = fix.clm;
	api.auth = fix.auth;
	api.max_body = 64u << 10;
	api.max_document = 256u << 10;
	/* as `clmsync serve` sets its listener up (cmd_serve.c) */
	memset(&so, 0, sizeof(so));
	so.host = "127.0.0.1";
	so.port = 0;
	so.max_body = api.max_document;
	so.conn_timeout_s = 120;
	so.routes = clm_api_routes(&so.nroutes);
	so.pre = clm_api_pre;
	so.not_found = clm_api_not_found;
	so.ud = &api;
	if (http_server_start(&so, &srv, &e) != CS_OK)
		fix_die("http_server_start", e.msg);
	cli.dispatch = fix_server_dispatch;
	cli.srv = srv;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *method, *ctype;
	struct fix_answer a;
	bool write;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (srv == NULL)
		start();
	method = methods[data[0] % 8];
	write = data[0] % 8 >= 4;
	memset(&a, 0, sizeof(a));
	cs_buf_init(&a.raw, FIX_RESPONSE_MAX + 65536);
	if (!fix_request(method, write ? "/api/v1/contracts/" FIX_MISSING : "", (const char *)data + 1, size - 1,
	        tokens[(data[0] >> 3) % 4], &a)) {
		fprintf(stderr, "fuzz_repo_api: no answer to %s\n", method);
		abort();
	}
	if (getenv("FUZZ_TRACE") != NULL)
		fprintf(stderr, "fuzz_repo_api: %s -> %d %.160s\n", method, a.status, a.body);
	if (a.status < 100 || a.status > 599)
		abort();
	if (!write && (a.status == 500 || a.status == 503)) {
		fprintf(stderr, "fuzz_repo_api: a read answered %d: %.300s\n", a.status, a.body);
		abort();
	}
	if (write && (a.status < 400 || a.status >= 500)) {
		fprintf(stderr, "fuzz_repo_api: a write to a missing contract answered %d: %.300s\n", a.status, a.body);
		abort();
	}
	ctype = fix_header(a.raw.data, a.hlen, "Content-Type");
	if (ctype != NULL && strncasecmp(ctype, "application/json", 16) == 0)
		fix_check_json(&a, "fuzz_repo_api");
	cs_buf_cleanup(&a.raw);
	return 0;
}

/* test_http.c - the server wrapper (router, path normalising, body limits, chunked bodies)
 * and the client wrapper (keep-alive, headers, errors), talking over loopback; and a request
 * handed to the server whole (http_server_dispatch), answered as one received. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "http/client.h"
#include "http/server.h"

static void
echo(struct http_req *rq, struct http_resp *rs, void *ud)
{
	char out[4096];
	const char *q = http_req_query(rq, "q");

	snprintf(out, sizeof(out), "%s|%s|%zu|%s|%s|%d", rq->method, rq->path, rq->body_len,
	    rq->nparams ? rq->params[0] : "-", q ? q : "-", rq->body_too_big);
	http_resp_header(rs, "X-Test", "yes");
	http_resp_text(rs, 200, "text/plain", out, strlen(out));
}

static void
item(struct http_req *rq, struct http_resp *rs, void *ud)
{
	http_resp_json(rs, 201, json_pack("{s:s,s:s}", "obj", rq->params[0], "id", rq->params[1]));
}

static const struct http_route routes[] = {
	{ "GET", "/things/:obj/:id", item },
	{ NULL, "/echo/*", echo },
};

struct fixture {
	struct http_server *srv;
	struct http_client *cli;
	char base[64];
};

static int
setup(void **state)
{
	static struct fixture f;
	struct http_server_opts o = { 0 };
	struct cs_error e;

	o.host = "127.0.0.1";
	o.port = 0;
	o.max_body = 1024;
	o.routes = routes;
	o.nroutes = 2;
	if (http_server_start(&o, &f.srv, &e) != CS_OK || http_client_new(&f.cli) != CS_OK)
		return -1;
	snprintf(f.base, sizeof(f.base), "http://127.0.0.1:%d", http_server_port(f.srv));
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	http_client_free(f->cli);
	http_server_stop(f->srv);
	return 0;
}

static long
call(struct fixture *f, const char *method, const char *path, const char *body, const char *const *hdrs,
    struct http_response *rs)
{
	char url[512];
	struct http_request rq = { 0 };
	struct cs_error e;

	snprintf(url, sizeof(url), "%s%s", f->base, path);
	rq.method = method;
	rq.url = url;
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.headers = hdrs;
	assert_int_equal(http_client_do(f->cli, &rq, rs, &e), CS_OK);
	return rs->status;
}

static void
routes_and_captures(void **state)
{
	struct fixture *f = *state;
	struct http_response rs;
	char h[64];

	http_response_init(&rs);
	assert_int_equal(call(f, "GET", "/things/Account/001xx", NULL, NULL, &rs), 201);
	assert_string_equal(rs.body.data, "{\"obj\":\"Account\",\"id\":\"001xx\"}");
	assert_int_equal(call(f, "POST", "/things/Account/001xx", "{}", NULL, &rs), 404);  /* method filter */
	assert_int_equal(call(f, "GET", "//echo//a/b?q=x%20y", NULL, NULL, &rs), 200);
	assert_string_equal(rs.body.data, "GET|/echo/a/b|0|a/b|x y|0");
	assert_true(http_response_header(&rs, "x-test", h, sizeof(h)));
	assert_string_equal(h, "yes");
	assert_int_equal(call(f, "GET", "/nowhere", NULL, NULL, &rs), 404);
	http_response_cleanup(&rs);
}

static void
body_limits(void **state)
{
	struct fixture *f = *state;
	struct http_response rs;
	char big[4000];
	static const char *const chunked[] = { "Transfer-Encoding: chunked", NULL };

	http_response_init(&rs);
	assert_int_equal(call(f, "POST", "/echo/x", "hello", NULL, &rs), 200);
	assert_string_equal(rs.body.data, "POST|/echo/x|5|x|-|0");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(call(f, "POST", "/echo/x", big, NULL, &rs), 200);
	assert_string_equal(rs.body.data, "POST|/echo/x|0|x|-|1");   /* flagged, discarded */
	assert_int_equal(call(f, "PUT", "/echo/c", "chunked body", chunked, &rs), 200);
	assert_string_equal(rs.body.data, "PUT|/echo/c|12|c|-|0");
	http_response_cleanup(&rs);
}

/* The same requests handed over whole give the answers they get over a connection. */
static void
dispatch_whole(void **state)
{
	struct fixture *f = *state;
	static const char *const hdrs[] = { "X-Thing", "one", "x-thing", "two" };
	static const char *const query[] = { "p", NULL, "Q", "x y", "q", "z" };
	struct http_local_req lr = { .method = "GET", .path = "//echo//a/b", .raw_uri = "//echo//a/b?p&Q=x+y&q=z",
		.headers = hdrs, .nheaders = 2, .query = query, .nquery = 3, .peer = "127.0.0.1" };
	struct http_resp rs;
	char big[4000];

	http_server_dispatch(f->srv, &lr, &rs);
	assert_int_equal(rs.status, 200);
	/* query names in any case, the first of a name wins, as libmicrohttpd looks them up */
	assert_string_equal(rs.body.data, "GET|/echo/a/b|0|a/b|x y|0");
	assert_string_equal(rs.headers[0].name, "X-Test");
	http_resp_cleanup(&rs);
	lr.path = "/things/Account/001xx";
	lr.nquery = 0;
	http_server_dispatch(f->srv, &lr, &rs);
	assert_int_equal(rs.status, 201);
	assert_string_equal(rs.body.data, "{\"obj\":\"Account\",\"id\":\"001xx\"}");
	http_resp_cleanup(&rs);
	lr.method = "POST";
	http_server_dispatch(f->srv, &lr, &rs);
	assert_int_equal(rs.status, 404);
	http_resp_cleanup(&rs);
	lr.path = "/echo/x";
	lr.body = "hello";
	lr.body_len = 5;
	http_server_dispatch(f->srv, &lr, &rs);
	assert_string_equal(rs.body.data, "POST|/echo/x|5|x|-|0");
	http_resp_cleanup(&rs);
	memset(big, 'a', sizeof(big));
	lr.body = big;
	lr.body_len = sizeof(big);
	http_server_dispatch(f->srv, &lr, &rs);
	assert_string_equal(rs.body.data, "POST|/echo/x|0|x|-|1");   /* over max_body: flagged, discarded */
	http_resp_cleanup(&rs);
}

static void
client_errors(void **state)
{
	struct http_client *c;
	struct http_request rq = { 0 };
	struct http_response rs;
	struct cs_error e;

	assert_int_equal(http_client_new(&c), CS_OK);
	http_response_init(&rs);
	rq.method = "GET";
	rq.url = "http://127.0.0.1:1/";   /* nothing listens on port 1 */
	assert_int_equal(http_client_do(c, &rq, &rs, &e), CS_ENET);
	rq.url = "ftp://127.0.0.1/";
	assert_int_not_equal(http_client_do(c, &rq, &rs, &e), CS_OK);
	http_response_cleanup(&rs);
	http_client_free(c);
}

static void
bad_listen(void **state)
{
	struct http_server_opts o = { 0 };
	struct http_server *s = NULL;
	struct cs_error e;

	o.host = "localhost";   /* numeric only */
	assert_int_equal(http_server_start(&o, &s, &e), CS_EINVAL);
	assert_null(s);
	assert_non_null(strstr(e.msg, "localhost"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routes_and_captures),
		cmocka_unit_test(body_limits),
		cmocka_unit_test(dispatch_whole),
		cmocka_unit_test(client_errors),
		cmocka_unit_test(bad_listen),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

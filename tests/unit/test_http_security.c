/* test_http_security.c - what the HTTP layer does against hostile peers: the failed-token
 * throttle, plain http only to loopback, certificates always verified, HTTPS listeners, the
 * header deadline against slow clients, the per-address connection limit and the header size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/client.h"
#include "http/server.h"
#include "http/throttle.h"
#include "util/timeutil.h"

static char tmpdir[64];

static void
hello(struct http_req *rq, struct http_resp *rs, void *ud)
{
	(void)rq;
	(void)ud;
	http_resp_text(rs, 200, "text/plain", "hello", 5);
}

static const struct http_route routes[] = { { NULL, "/*", hello } };

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_http_security.XXXXXX");
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
key_of(unsigned char key[HTTP_THROTTLE_KEY], unsigned a)
{
	memset(key, 0, HTTP_THROTTLE_KEY);
	key[0] = 4;
	memcpy(key + 1, &a, sizeof(a));
}

/* max failures in a window, then refused with the seconds left; another address unaffected;
 * the window's end lets the client in again; the table never grows past its slots. */
static void
throttle_table(void **state)
{
	struct http_throttle *t;
	unsigned char a[HTTP_THROTTLE_KEY], b[HTTP_THROTTLE_KEY];
	uint64_t failures, refused;
	int64_t now = 1000000;

	(void)state;
	assert_int_equal(http_throttle_new(3, 10, &t), CS_OK);
	key_of(a, 0x0100007f);
	key_of(b, 0x0200007f);
	assert_int_equal(http_throttle_check_key(t, a, now), 0);
	assert_false(http_throttle_fail_key(t, a, now));
	assert_false(http_throttle_fail_key(t, a, now + 1000));
	assert_int_equal(http_throttle_check_key(t, a, now + 1000), 0);
	assert_true(http_throttle_fail_key(t, a, now + 2000));   /* the third: the client waits */
	assert_int_equal(http_throttle_check_key(t, a, now + 2000), 8);
	assert_int_equal(http_throttle_check_key(t, a, now + 9500), 1);
	assert_int_equal(http_throttle_check_key(t, b, now + 2000), 0);
	/* more failures while refused do not push the end of the window further */
	assert_false(http_throttle_fail_key(t, a, now + 5000));
	assert_int_equal(http_throttle_check_key(t, a, now + 5000), 5);
	/* the window is over: a fresh start */
	assert_int_equal(http_throttle_check_key(t, a, now + 10000), 0);
	assert_false(http_throttle_fail_key(t, a, now + 10000));
	assert_int_equal(http_throttle_check_key(t, a, now + 10001), 0);
	http_throttle_counts(t, &failures, &refused);
	assert_int_equal(failures, 5);
	assert_int_equal(refused, 3);

	/* 100,000 addresses failing once each: memory stays the table's; a recent offender whose
	 * bucket is crowded by older entries keeps its count */
	for (unsigned i = 0; i < 100000; i++) {
		unsigned char k[HTTP_THROTTLE_KEY];
		key_of(k, 0x0a000000u + i);
		http_throttle_fail_key(t, k, now + 20000);
	}
	for (int i = 0; i < 3; i++)
		http_throttle_fail_key(t, b, now + 21000);
	assert_true(http_throttle_check_key(t, b, now + 21000) > 0);
	http_throttle_free(t);

	/* 0 failures allowed means off */
	assert_int_equal(http_throttle_new(0, 10, &t), CS_OK);
	for (int i = 0; i < 100; i++)
		http_throttle_fail_key(t, a, now);
	assert_int_equal(http_throttle_check_key(t, a, now), 0);
	http_throttle_free(t);
	http_throttle_free(NULL);
}

static void
loopback_only(void **state)
{
	static const struct { const char *url; bool ok; } cases[] = {
		{ "https://login.salesforce.com", true },
		{ "https://10.0.0.1:8443/x", true },
		{ "http://127.0.0.1:8080/x", true },
		{ "http://127.255.0.9/", true },
		{ "http://localhost:1/", true },
		{ "http://LOCALHOST/", true },
		{ "http://[::1]:8442/admin", true },
		{ "http://login.salesforce.com", false },
		{ "http://10.0.0.1/", false },
		{ "http://127.0.0.1.evil.example/", false },
		/* curl reads these as 127.0.0.1, where they connect: loopback indeed */
		{ "http://0177.0.0.1/", true },
		{ "http://127.1/", true },
		{ "http://0x7f000001/", true },
		{ "http://0x0a000001/", false },
		{ "http://[::2]/", false },
		{ "http://128.0.0.1/", false },
		{ "ftp://127.0.0.1/", false },
		{ "not a url", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s\n", cases[i].url);
		assert_int_equal(http_url_allowed(cases[i].url), cases[i].ok);
	}
	assert_false(http_url_allowed(NULL));
}

/* Plain http to another host is refused before anything is sent: the request never leaves. */
static void
client_refuses_plain_http(void **state)
{
	struct http_client *c;
	struct http_request rq = { .method = "GET", .url = "http://192.0.2.1:9/token", .timeout_ms = 2000 };
	struct http_response rs;
	struct cs_error e = { 0 };
	int64_t t0 = cs_time_mono_ms();

	(void)state;
	assert_int_equal(http_client_new(&c), CS_OK);
	http_response_init(&rs);
	assert_int_equal(http_client_do(c, &rq, &rs, &e), CS_EINVAL);
	assert_non_null(strstr(e.msg, "https:// is required"));
	assert_true(cs_time_mono_ms() - t0 < 1000);   /* no connection was attempted */
	http_response_cleanup(&rs);
	http_client_free(c);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, 65535, f) > 0);
	fclose(f);
	return buf;
}

/* An HTTPS listener with a self-signed certificate (made with openssl req): the client refuses it
 * against the system's trust (verification is on), and accepts it once told to trust that
 * certificate; the name must match too. */
static void
tls_listener(void **state)
{
	char cmd[1024], crt[128], key[128], url[96];
	struct http_server_opts o = { 0 };
	struct http_server *s = NULL;
	struct http_client *c;
	struct http_request rq = { .method = "GET", .url = url, .timeout_ms = 5000 };
	struct http_response rs;
	struct cs_error e = { 0 };
	char *cert, *pkey;

	(void)state;
	snprintf(crt, sizeof(crt), "%s/tls.crt", tmpdir);
	snprintf(key, sizeof(key), "%s/tls.key", tmpdir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
	         "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout %s -out %s 2>/dev/null", key, crt);
	if (system(cmd) != 0)
		skip();
	cert = slurp(crt);
	pkey = slurp(key);
	o.host = "127.0.0.1";
	o.max_body = 1024;
	o.routes = routes;
	o.nroutes = 1;
	o.tls_cert = cert;
	o.tls_key = pkey;
	assert_int_equal(http_server_start(&o, &s, &e), CS_OK);
	memset(pkey, 0, strlen(pkey));   /* the server keeps its own copy */
	assert_int_equal(http_client_new(&c), CS_OK);
	http_response_init(&rs);

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", http_server_port(s));
	assert_int_equal(http_client_do(c, &rq, &rs, &e), CS_ENET);
	print_message("untrusted: %s\n", e.msg);
	http_client_set_ca(c, crt);
	assert_int_equal(http_client_do(c, &rq, &rs, &e), CS_OK);
	assert_int_equal(rs.status, 200);
	assert_int_equal(rs.body.len, 5);
	/* plain http to an HTTPS listener gets no answer */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", http_server_port(s));
	assert_int_not_equal(http_client_do(c, &rq, &rs, &e) == CS_OK && rs.status == 200, 1);

	http_response_cleanup(&rs);
	http_client_free(c);
	http_server_stop(s);

	/* a certificate without its key, or a broken one, does not start */
	o.tls_key = NULL;
	assert_int_equal(http_server_start(&o, &s, &e), CS_EINVAL);
	o.tls_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
	assert_int_equal(http_server_start(&o, &s, &e), CS_EIO);
	assert_null(s);
	free(cert);
	free(pkey);
}

static int
connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Waits up to ms for fd to be closed by the peer (read gives 0 or an error); true when it was. */
static bool
closed_within(int fd, int ms)
{
	int64_t end = cs_time_mono_ms() + ms;
	char buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - cs_time_mono_ms();
		if (left <= 0)
			return false;
		if (poll(&p, 1, (int)left) > 0) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0)
				return true;
		}
	}
}

/* One whole request on a new connection; true when answered 200. */
static bool
served(int port)
{
	int fd = connect_to(port);
	const char *r = "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
	char buf[512] = "";
	size_t got = 0;
	ssize_t n;

	assert_int_equal(send(fd, r, strlen(r), 0), (ssize_t)strlen(r));
	while (got + 1 < sizeof(buf) && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)n;
	close(fd);
	return strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

/* Slowloris: connections that send nothing, or their headers a byte at a time, are cut once the
 * header deadline passes though they never go quiet for the idle timeout, while other clients are
 * served all along. */
static void
header_deadline(void **state)
{
	struct http_server_opts o = { 0 };
	struct http_server *s;
	struct cs_error e = { 0 };
	int silent, trickle, port;
	const char *head = "GET /x HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	int64_t t0;
	bool cut = false;

	(void)state;
	o.host = "127.0.0.1";
	o.max_body = 1024;
	o.routes = routes;
	o.nroutes = 1;
	o.conn_timeout_s = 30;     /* idle: far longer than this test */
	o.header_timeout_s = 2;
	assert_int_equal(http_server_start(&o, &s, &e), CS_OK);
	port = http_server_port(s);
	t0 = cs_time_mono_ms();
	silent = connect_to(port);
	trickle = connect_to(port);
	/* a byte every 100 ms: never idle, never done */
	for (size_t i = 0; i < strlen(head) && cs_time_mono_ms() - t0 < 6000; i++) {
		struct pollfd p = { .fd = trickle, .events = POLLIN };
		if (send(trickle, head + i, 1, MSG_NOSIGNAL) != 1 || (poll(&p, 1, 100) > 0 && recv(trickle, (char[64]){ 0 }, 64, 0) <= 0)) {
			cut = true;
			break;
		}
		if (i % 5 == 0)
			assert_true(served(port));
	}
	print_message("trickling client cut after %lld ms\n", (long long)(cs_time_mono_ms() - t0));
	assert_true(cut || closed_within(trickle, 1000));
	assert_true(cs_time_mono_ms() - t0 < 4500);
	assert_true(closed_within(silent, 1000));
	assert_true(http_server_cut_count(s) >= 2);
	assert_true(served(port));
	close(silent);
	close(trickle);
	http_server_stop(s);
}

/* No more than max_per_ip connections from one address; a freed place is taken again. */
static void
per_ip_limit(void **state)
{
	struct http_server_opts o = { 0 };
	struct http_server *s;
	struct cs_error e = { 0 };
	int fds[3], extra, port;

	(void)state;
	o.host = "127.0.0.1";
	o.max_body = 1024;
	o.routes = routes;
	o.nroutes = 1;
	o.max_per_ip = 3;
	o.header_timeout_s = 20;
	assert_int_equal(http_server_start(&o, &s, &e), CS_OK);
	port = http_server_port(s);
	for (int i = 0; i < 3; i++)
		fds[i] = connect_to(port);
	extra = connect_to(port);   /* the kernel accepts; the server closes it at once */
	assert_true(closed_within(extra, 3000));
	close(extra);
	close(fds[0]);
	/* the server notices the close and gives the place back */
	{
		int64_t end = cs_time_mono_ms() + 5000;
		bool ok = false;
		while (!ok && cs_time_mono_ms() < end)
			ok = served(port);
		assert_true(ok);
	}
	close(fds[1]);
	close(fds[2]);
	http_server_stop(s);
}

/* Headers over HTTP_MAX_HEADER are refused with an error status and the server goes on. */
static void
header_size(void **state)
{
	struct http_server_opts o = { 0 };
	struct http_server *s;
	struct cs_error e = { 0 };
	size_t n = HTTP_MAX_HEADER + 1024;
	char *big = malloc(n + 128), buf[256] = "";
	int fd, port;
	size_t off, got = 0;
	ssize_t r;

	(void)state;
	o.host = "127.0.0.1";
	o.max_body = 1024;
	o.routes = routes;
	o.nroutes = 1;
	assert_int_equal(http_server_start(&o, &s, &e), CS_OK);
	port = http_server_port(s);
	off = (size_t)snprintf(big, n + 128, "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(big + off, 'a', n);
	memcpy(big + off + n, "\r\n\r\n", 4);
	fd = connect_to(port);
	for (size_t sent = 0; sent < off + n + 4;) {
		ssize_t k = send(fd, big + sent, off + n + 4 - sent, MSG_NOSIGNAL);
		if (k <= 0)
			break;
		sent += (size_t)k;
	}
	while (got + 1 < sizeof(buf) && (r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)r;
	close(fd);
	print_message("answer: %.40s\n", buf);
	assert_true(strncmp(buf, "HTTP/1.1 431", 12) == 0 || strncmp(buf, "HTTP/1.1 413", 12) == 0 ||
	            strncmp(buf, "HTTP/1.1 414", 12) == 0 || got == 0);
	assert_true(served(port));
	free(big);
	http_server_stop(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(throttle_table),
		cmocka_unit_test(loopback_only),
		cmocka_unit_test(client_refuses_plain_http),
		cmocka_unit_test(tls_listener),
		cmocka_unit_test(header_deadline),
		cmocka_unit_test(per_ip_limit),
		cmocka_unit_test(header_size),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

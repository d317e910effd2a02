/* test_sf_auth.c - JWT bearer assertions (checked with OpenSSL), secrets kept out of login errors, and
 * the authentication state an org reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/server.h"
#include "salesforce/sf.h"
#include "util/json.h"

static char dir[64];
static char keyfile[128];
static EVP_PKEY *key;

static int
setup(void **state)
{
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/test_sf_auth.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(keyfile, sizeof(keyfile), "%s/key.pem", dir);
	if ((key = EVP_RSA_gen(2048)) == NULL || (f = fopen(keyfile, "w")) == NULL)
		return -1;
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	char p[160];

	EVP_PKEY_free(key);
	unlink(keyfile);
	snprintf(p, sizeof(p), "%s/ec.pem", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

/* Decodes base64url (no padding) into out; returns the length or -1. */
static long
unb64url(const char *s, size_t n, unsigned char *out, size_t cap)
{
	char tmp[4096] = { 0 };
	size_t m = 0;
	int len;

	if (n + 4 > sizeof(tmp))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '=' || c == '+' || c == '/')
			return -1;      /* not base64url */
		tmp[m++] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	while (m % 4)
		tmp[m++] = '=';
	if (m / 4 * 3 > cap)
		return -1;
	len = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)m);
	if (len < 0)
		return -1;
	while (m > 0 && tmp[m - 1] == '=') {
		len--;
		m--;
	}
	return len;
}

static void
test_jwt_verifies(void **state)
{
	char *jwt = NULL, *d1, *d2;
	unsigned char hdr[256], claims[1024], sig[512];
	long hl, cl, sl;
	struct sf_error e;
	json_t *h, *c;
	EVP_MD_CTX *ctx;

	assert_int_equal(sf_jwt_build(keyfile, "my-consumer-key", "user@example.com", "https://login.salesforce.com",
	    1900000000, &jwt, &e), CS_OK);
	d1 = strchr(jwt, '.');
	assert_non_null(d1);
	d2 = strchr(d1 + 1, '.');
	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));
	hl = unb64url(jwt, (size_t)(d1 - jwt), hdr, sizeof(hdr));
	cl = unb64url(d1 + 1, (size_t)(d2 - d1 - 1), claims, sizeof(claims));
	sl = unb64url(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
	assert_true(hl > 0 && cl > 0 && sl == 256);
	h = json_loadb((char *)hdr, (size_t)hl, 0, NULL);
	c = json_loadb((char *)claims, (size_t)cl, 0, NULL);
	assert_non_null(h);
	assert_non_null(c);
	assert_string_equal(cs_json_get_str(h, "alg"), "RS256");
	assert_string_equal(cs_json_get_str(c, "iss"), "my-consumer-key");
	assert_string_equal(cs_json_get_str(c, "sub"), "user@example.com");
	assert_string_equal(cs_json_get_str(c, "aud"), "https://login.salesforce.com");
	assert_int_equal(cs_json_get_int(c, "exp", 0), 1900000000);
	json_decref(h);
	json_decref(c);

	/* the signature is RS256 over "header.claims" with the key's public half */
	ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(ctx, sig, (size_t)sl, (unsigned char *)jwt, (size_t)(d2 - jwt)), 1);
	EVP_MD_CTX_free(ctx);

	/* and it does not verify over anything else */
	ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_not_equal(EVP_DigestVerify(ctx, sig, (size_t)sl, (unsigned char *)jwt, (size_t)(d2 - jwt) - 1), 1);
	EVP_MD_CTX_free(ctx);
	free(jwt);
}

static void
test_jwt_bad_keys(void **state)
{
	char *jwt = (char *)1, p[160];
	struct sf_error e;
	EVP_PKEY *ec;
	FILE *f;

	assert_int_equal(sf_jwt_build("/nonexistent/key.pem", "i", "s", "a", 1, &jwt, &e), CS_EIO);
	assert_null(jwt);
	snprintf(p, sizeof(p), "%s/ec.pem", dir);
	ec = EVP_EC_gen("P-256");
	assert_non_null(ec);
	f = fopen(p, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	EVP_PKEY_free(ec);
	assert_int_equal(sf_jwt_build(p, "i", "s", "a", 1, &jwt, &e), CS_EINVAL);
	assert_null(jwt);
}

/* A token endpoint that echoes everything it was sent back in its error: the worst case for
 * a client that copies server text into its messages. */
static void
echo_token(struct http_req *rq, struct http_resp *rs, void *ud)
{
	const char *auth = http_req_header(rq, "Authorization");
	char *echo = malloc(rq->body_len + 600);

	snprintf(echo, rq->body_len + 600, "rejected %.*s auth=%s", (int)rq->body_len, rq->body, auth ? auth : "-");
	http_resp_json(rs, 400, json_pack("{s:s,s:s}", "error", "invalid_grant", "error_description", echo));
	free(echo);
}

static const struct http_route routes[] = {
	{ "POST", "/services/oauth2/token", echo_token },
};

static void
test_login_error_has_no_secret(void **state)
{
	struct http_server_opts so = { .host = "127.0.0.1", .max_body = 1 << 16, .routes = routes, .nroutes = 1 };
	struct http_server *srv;
	struct cs_error he;
	char url[64];
	struct sf_org_config c = { .name = "acme", .login_url = url, .api_version = "62.0", .client_name = "clmsync",
		.auth = SF_AUTH_REFRESH_TOKEN, .client_id = "consumer-key", .client_secret = "TopSecretClientSecret42",
		.refresh_token = "5Aep861RefreshTokenValue99" };
	struct sf_org *o;
	struct sf_client *cl;
	struct sf_error e;

	assert_int_equal(http_server_start(&so, &srv, &he), CS_OK);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", http_server_port(srv));
	assert_int_equal(sf_org_new(&c, &o, &e), CS_OK);
	assert_int_equal(sf_client_new(o, &cl), CS_OK);
	assert_int_equal(sf_login(cl, &e), CS_EAUTH);
	assert_non_null(strstr(e.message, "invalid_grant") ? e.message : strstr(e.message, "rejected"));
	assert_non_null(strstr(e.message, "rejected"));
	assert_null(strstr(e.message, "TopSecretClientSecret42"));
	assert_null(strstr(e.message, "5Aep861RefreshTokenValue99"));
	assert_false(e.transient);
	/* a REST call fails the same way, with no secret either */
	assert_int_equal(sf_rest(cl, "GET", "/limits", NULL, 0, NULL, NULL, &e), CS_EAUTH);
	assert_null(strstr(e.message, "TopSecretClientSecret42"));
	assert_null(strstr(e.message, "5Aep861RefreshTokenValue99"));
	sf_client_free(cl);
	sf_org_free(o);

	/* JWT: the assertion is echoed too and must not appear */
	c.auth = SF_AUTH_JWT;
	c.username = "user@example.com";
	c.key_file = keyfile;
	c.client_secret = NULL;
	c.refresh_token = NULL;
	assert_int_equal(sf_org_new(&c, &o, &e), CS_OK);
	assert_int_equal(sf_client_new(o, &cl), CS_OK);
	assert_int_equal(sf_login(cl, &e), CS_EAUTH);
	assert_null(strstr(e.message, "assertion=ey"));
	assert_null(strstr(e.message, "eyJhbGciOiJSUzI1NiJ9."));
	sf_client_free(cl);
	sf_org_free(o);
	http_server_stop(srv);
}

/* --- the authentication state an org reports (sf_org_auth) ------------------------------------ */

static struct {
	bool accept_login;     /* the token endpoint grants a token */
	bool accept_session;   /* the data API takes the token it granted */
	bool long_reason;      /* a refusal with a reason longer than the state keeps */
	int granted;
} fake;

static void
fake_token(struct http_req *rq, struct http_resp *rs, void *ud)
{
	char tok[32], why[600];

	(void)rq;
	(void)ud;
	if (!fake.accept_login) {
		snprintf(why, sizeof(why), "%s", "client secret does not match");
		if (fake.long_reason) {
			/* "x" and 3-byte characters: behind the 36 bytes of "org acme: login refused (HTTP
			 * 400): ", a cut at 255 bytes falls inside one */
			why[0] = 'x';
			for (size_t i = 0; i < 150; i++)
				memcpy(why + 1 + 3 * i, "\xe2\x82\xac", 3);
			why[451] = '\0';
		}
		http_resp_json(rs, 400, json_pack("{s:s,s:s}", "error", "invalid_client", "error_description", why));
		return;
	}
	snprintf(tok, sizeof(tok), "tok-%d", ++fake.granted);
	http_resp_json(rs, 200, json_pack("{s:s,s:s}", "access_token", tok, "token_type", "Bearer"));
}

static void
fake_limits(struct http_req *rq, struct http_resp *rs, void *ud)
{
	const char *a = http_req_header(rq, "Authorization");

	(void)ud;
	if (!fake.accept_session || a == NULL || strncmp(a, "Bearer ", 7) != 0) {
		http_resp_json(rs, 401, json_pack("[{s:s,s:s}]", "message", "Session expired or invalid", "errorCode",
		    "INVALID_SESSION_ID"));
		return;
	}
	http_resp_json(rs, 200, json_pack("{s:{s:i,s:i}}", "DailyApiRequests", "Max", 15000, "Remaining", 14999));
}

static const struct http_route fake_routes[] = {
	{ "POST", "/services/oauth2/token", fake_token },
	{ "GET", "/services/data/v62.0/limits", fake_limits },
};

static void
test_auth_state(void **state)
{
	struct http_server_opts so = { .host = "127.0.0.1", .max_body = 1 << 16, .routes = fake_routes, .nroutes = 2 };
	struct http_server *srv;
	struct cs_error he;
	char url[64];
	struct sf_org_config c = { .name = "acme", .login_url = url, .api_version = "62.0", .client_name = "clmsync",
		.auth = SF_AUTH_CLIENT_CREDENTIALS, .client_id = "consumer-key", .client_secret = "TopSecretClientSecret42",
		.retry = { .max_attempts = 1 } };
	struct sf_auth_state as;
	struct sf_org *o;
	struct sf_client *cl;
	struct sf_error e;
	json_t *j;
	int64_t first;

	(void)state;
	memset(&fake, 0, sizeof(fake));
	assert_int_equal(http_server_start(&so, &srv, &he), CS_OK);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", http_server_port(srv));
	assert_int_equal(sf_org_new(&c, &o, &e), CS_OK);
	assert_int_equal(sf_client_new(o, &cl), CS_OK);

	/* before any login: not authenticated, nothing failed yet */
	sf_org_auth(o, &as);
	assert_false(as.authenticated);
	assert_true(as.login_ms == 0 && as.failed_ms == 0 && as.failures == 0);
	assert_string_equal(as.error, "");

	/* refused logins are counted, with Salesforce's reason and no secret */
	assert_int_equal(sf_login(cl, &e), CS_EAUTH);
	assert_int_equal(sf_login(cl, &e), CS_EAUTH);
	sf_org_auth(o, &as);
	assert_false(as.authenticated);
	assert_int_equal(as.failures, 2);
	assert_true(as.failed_ms > 0);
	assert_non_null(strstr(as.error, "login refused (HTTP 400): client secret does not match"));
	assert_null(strstr(as.error, "TopSecretClientSecret42"));

	/* a login that succeeds: authenticated, the failures forgotten */
	fake.accept_login = fake.accept_session = true;
	assert_int_equal(sf_login(cl, &e), CS_OK);
	sf_org_auth(o, &as);
	assert_true(as.authenticated);
	assert_true(as.login_ms > 0);
	assert_int_equal(as.failures, 0);
	assert_string_equal(as.error, "");
	first = as.login_ms;
	assert_int_equal(sf_rest(cl, "GET", "/limits", NULL, 0, NULL, NULL, &e), CS_OK);
	sf_org_auth(o, &as);
	assert_true(as.authenticated && as.login_ms == first);

	/* the session expires and the new login is refused: no longer authenticated. The reason is
	 * cut to what the state keeps, never inside a UTF-8 sequence */
	fake.accept_session = fake.accept_login = false;
	fake.long_reason = true;
	assert_int_equal(sf_rest(cl, "GET", "/limits", NULL, 0, NULL, NULL, &e), CS_EAUTH);
	sf_org_auth(o, &as);
	assert_false(as.authenticated);
	assert_int_equal(as.failures, 1);
	assert_true(strlen(as.error) < sizeof(as.error) - 1);
	assert_non_null(j = json_string(as.error));
	json_decref(j);

	/* the credential is fixed: the next login and request work again */
	fake.accept_session = fake.accept_login = true;
	assert_int_equal(sf_rest(cl, "GET", "/limits", NULL, 0, NULL, NULL, &e), CS_OK);
	sf_org_auth(o, &as);
	assert_true(as.authenticated && as.login_ms >= first && as.failures == 0);
	sf_client_free(cl);
	sf_org_free(o);

	/* a fixed token: unproven until an answer accepts it; refused, it cannot be renewed */
	c.auth = SF_AUTH_ACCESS_TOKEN;
	c.access_token = "fixed-token-000";
	c.instance_url = url;
	assert_int_equal(sf_org_new(&c, &o, &e), CS_OK);
	assert_int_equal(sf_client_new(o, &cl), CS_OK);
	sf_org_auth(o, &as);
	assert_false(as.authenticated);
	assert_int_equal(sf_rest(cl, "GET", "/limits", NULL, 0, NULL, NULL, &e), CS_OK);
	sf_org_auth(o, &as);
	assert_true(as.authenticated);
	assert_int_equal(as.login_ms, 0);
	fake.accept_session = false;
	assert_int_equal(sf_rest(cl, "GET", "/limits", NULL, 0, NULL, NULL, &e), CS_EAUTH);
	sf_org_auth(o, &as);
	assert_false(as.authenticated);
	assert_non_null(strstr(as.error, "HTTP 401"));
	sf_client_free(cl);
	sf_org_free(o);
	http_server_stop(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwt_verifies),
		cmocka_unit_test(test_jwt_bad_keys),
		cmocka_unit_test(test_login_error_has_no_secret),
		cmocka_unit_test(test_auth_state),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

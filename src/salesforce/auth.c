/* auth.c - per-org settings, OAuth token acquisition (JWT bearer, client credentials, refresh token) and the token cache. */
#include "salesforce/sf_int.h"
#include "http/client.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#define JWT_LIFETIME_S 180
#define TOKEN_RESPONSE_MAX (64u << 10)

static char *
dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Wipes and frees a secret. */
static void
wipe(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* https://, or http:// to this machine only (an emulator): a token must not cross a network in
 * clear, not even when a token response names such an instance_url. */
static bool
url_ok(const char *u)
{
	return u != NULL && strlen(u) < SF_URL_MAX - 256 && http_url_allowed(u);
}

static bool
version_ok(const char *v)
{
	size_t n;

	if (v == NULL || (n = strlen(v)) < 3 || n > 6)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || v[i] == '.'))
			return false;
	return strchr(v, '.') != NULL;
}

/* Drops a trailing slash so paths can be appended. */
static char *
dup_url(const char *u)
{
	char *s = dup(u);
	size_t n;

	if (s != NULL && (n = strlen(s)) > 0 && s[n - 1] == '/')
		s[n - 1] = '\0';
	return s;
}

cs_err
sf_org_new(const struct sf_org_config *cfg, struct sf_org **out, struct sf_error *e)
{
	struct sf_org *o;
	const char *miss = NULL;

	*out = NULL;
	sf_error_clear(e);
	if (cfg->name == NULL || !url_ok(cfg->login_url))
		miss = cfg->name == NULL ? "name" : "login_url (https://, or http:// to a loopback address)";
	else if (cfg->instance_url != NULL && !url_ok(cfg->instance_url))
		miss = "instance_url (https://, or http:// to a loopback address)";
	else if (!version_ok(cfg->api_version))
		miss = "api_version (like 62.0)";
	else if (cfg->client_name == NULL || cfg->client_name[0] == '\0' || strlen(cfg->client_name) > 64 ||
	    strpbrk(cfg->client_name, ",;= \r\n") != NULL)
		miss = "client_name (1-64 characters, no , ; = or spaces)";
	else if (cfg->auth == SF_AUTH_JWT && (cfg->client_id == NULL || cfg->username == NULL || cfg->key_file == NULL))
		miss = "client_id, username and key_file for JWT bearer";
	else if (cfg->auth == SF_AUTH_CLIENT_CREDENTIALS && (cfg->client_id == NULL || cfg->client_secret == NULL))
		miss = "client_id and client_secret for client credentials";
	else if (cfg->auth == SF_AUTH_REFRESH_TOKEN && (cfg->client_id == NULL || cfg->refresh_token == NULL))
		miss = "client_id and refresh_token for the refresh token flow";
	else if (cfg->auth == SF_AUTH_ACCESS_TOKEN && (cfg->access_token == NULL || cfg->instance_url == NULL))
		miss = "access_token and instance_url for a fixed token";
	else if (cfg->auth > SF_AUTH_ACCESS_TOKEN)
		miss = "auth";
	if (miss != NULL)
		return sf_fail(e, CS_EINVAL, false, "org %s: missing or invalid %s", cfg->name ? cfg->name : "?", miss);

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return sf_fail(e, CS_ENOMEM, false, "out of memory");
	o->name = dup(cfg->name);
	o->login_url = dup_url(cfg->login_url);
	o->instance_url = dup_url(cfg->instance_url ? cfg->instance_url : cfg->login_url);
	o->api_version = dup(cfg->api_version);
	o->client_name = dup(cfg->client_name);
	o->auth = cfg->auth;
	o->client_id = dup(cfg->client_id);
	o->client_secret = dup(cfg->client_secret);
	o->username = dup(cfg->username);
	o->key_file = dup(cfg->key_file);
	o->refresh_token = dup(cfg->refresh_token);
	o->audience = dup(cfg->audience ? cfg->audience : o->login_url);
	if (cfg->auth == SF_AUTH_ACCESS_TOKEN)
		o->token = dup(cfg->access_token);
	o->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000;
	o->max_response = cfg->max_response ? cfg->max_response : (64u << 20);
	o->retry = cfg->retry;
	o->limits.used = -1;
	o->limits.max = -1;
	pthread_mutex_init(&o->mu, NULL);
	pthread_mutex_init(&o->login_mu, NULL);
	if (o->name == NULL || o->login_url == NULL || o->instance_url == NULL || o->api_version == NULL ||
	    o->client_name == NULL || o->audience == NULL || (cfg->client_id && !o->client_id) ||
	    (cfg->client_secret && !o->client_secret) || (cfg->username && !o->username) ||
	    (cfg->key_file && !o->key_file) || (cfg->refresh_token && !o->refresh_token) ||
	    (cfg->auth == SF_AUTH_ACCESS_TOKEN && !o->token)) {
		sf_org_free(o);
		return sf_fail(e, CS_ENOMEM, false, "out of memory");
	}
	*out = o;
	return CS_OK;
}

void
sf_org_free(struct sf_org *o)
{
	if (o == NULL)
		return;
	pthread_mutex_destroy(&o->mu);
	pthread_mutex_destroy(&o->login_mu);
	free(o->name);
	free(o->login_url);
	free(o->instance_url);
	free(o->api_version);
	free(o->client_name);
	free(o->client_id);
	wipe(o->client_secret);
	free(o->username);
	free(o->key_file);
	wipe(o->refresh_token);
	free(o->audience);
	wipe(o->token);
	free(o);
}

void
sf_org_limits(struct sf_org *o, struct sf_limits *out)
{
	pthread_mutex_lock(&o->mu);
	*out = o->limits;
	pthread_mutex_unlock(&o->mu);
}

bool
sf_org_budget_low(struct sf_org *o, int pct)
{
	struct sf_limits l;

	sf_org_limits(o, &l);
	if (l.used < 0 || l.max <= 0)
		return false;
	if (pct < 0)
		pct = 0;
	if (pct > 100)
		pct = 100;
	/* the figures come from the server: compare in a width that cannot overflow */
	return (__int128)l.used * 100 >= (__int128)pct * l.max;
}

/* The largest API figure believed from a Sforce-Limit-Info header. */
#define SF_LIMIT_MAX 1000000000000000LL

bool
sf_limit_info_parse(const char *v, long long *used, long long *max)
{
	const char *p = v;

	/* "api-usage=N/M" possibly after other parts; "per-app-api-usage=" must not match */
	while ((p = strstr(p, "api-usage=")) != NULL) {
		if (p == v || p[-1] == ' ' || p[-1] == ';' || p[-1] == ',') {
			char *end;
			long long u, m;

			p += 10;
			if (*p < '0' || *p > '9')
				return false;
			errno = 0;
			u = strtoll(p, &end, 10);
			if (*end != '/' || end[1] < '0' || end[1] > '9')
				return false;
			m = strtoll(end + 1, &end, 10);
			if (errno == ERANGE || u > SF_LIMIT_MAX || m > SF_LIMIT_MAX)
				return false;   /* no org has such figures: a broken or hostile header */
			if (*end != '\0' && *end != ';' && *end != ' ' && *end != ',')
				return false;
			if (u < 0 || m <= 0)
				return false;
			*used = u;
			*max = m;
			return true;
		}
		p += 10;
	}
	return false;
}

void
sf_org_note_limits(struct sf_org *o, const char *v)
{
	long long u, m;

	if (!sf_limit_info_parse(v, &u, &m))
		return;
	pthread_mutex_lock(&o->mu);
	o->limits.used = u;
	o->limits.max = m;
	o->limits.at_ms = cs_time_now_ms();
	pthread_mutex_unlock(&o->mu);
}

void
sf_org_count(struct sf_org *o, uint64_t requests, uint64_t retries)
{
	pthread_mutex_lock(&o->mu);
	o->stats.requests += requests;
	o->stats.retries += retries;
	pthread_mutex_unlock(&o->mu);
}

void
sf_org_auth(struct sf_org *o, struct sf_auth_state *out)
{
	pthread_mutex_lock(&o->mu);
	*out = o->authn;
	pthread_mutex_unlock(&o->mu);
}

/* Under o->mu. */
static void
auth_ok_locked(struct sf_org *o, bool login)
{
	o->authn.authenticated = true;
	if (login)
		o->authn.login_ms = cs_time_now_ms();
	o->authn.failures = 0;
	o->authn.error[0] = '\0';
	atomic_store(&o->authed, true);
}

void
sf_org_auth_ok(struct sf_org *o)
{
	if (atomic_load(&o->authed))
		return;
	pthread_mutex_lock(&o->mu);
	auth_ok_locked(o, false);
	pthread_mutex_unlock(&o->mu);
}

/* Not authenticated any more, because of why; login: a failed login, counted. */
static void
auth_failed(struct sf_org *o, const char *why, bool login)
{
	size_t n;

	pthread_mutex_lock(&o->mu);
	o->authn.authenticated = false;
	o->authn.failed_ms = cs_time_now_ms();
	if (login)
		o->authn.failures++;
	sf_copy(o->authn.error, sizeof(o->authn.error), why != NULL && why[0] != '\0' ? why : "refused");
	/* a cut must not split a UTF-8 sequence: the reason is shown as JSON text */
	if ((n = strlen(o->authn.error)) == sizeof(o->authn.error) - 1) {
		while (n > 0 && ((unsigned char)why[n] & 0xC0) == 0x80)
			n--;
		o->authn.error[n] = '\0';
	}
	atomic_store(&o->authed, false);
	pthread_mutex_unlock(&o->mu);
}

void
sf_org_auth_failed(struct sf_org *o, const char *why)
{
	auth_failed(o, why, false);
}

void
sf_org_stats(struct sf_org *o, struct sf_stats *out)
{
	pthread_mutex_lock(&o->mu);
	*out = o->stats;
	pthread_mutex_unlock(&o->mu);
}

/* --- JWT --------------------------------------------------------------------------------- */

static cs_err
b64url(struct cs_buf *b, const unsigned char *p, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i;
	cs_err err = CS_OK;

	for (i = 0; i + 2 < n && err == CS_OK; i += 3) {
		char q[4] = { al[p[i] >> 2], al[((p[i] & 3) << 4) | (p[i + 1] >> 4)],
			al[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)], al[p[i + 2] & 63] };
		err = cs_buf_append(b, q, 4);
	}
	if (err == CS_OK && n - i == 1) {
		char q[2] = { al[p[i] >> 2], al[(p[i] & 3) << 4] };
		err = cs_buf_append(b, q, 2);
	} else if (err == CS_OK && n - i == 2) {
		char q[3] = { al[p[i] >> 2], al[((p[i] & 3) << 4) | (p[i + 1] >> 4)], al[(p[i + 1] & 15) << 2] };
		err = cs_buf_append(b, q, 3);
	}
	return err;
}

cs_err
sf_jwt_build(const char *key_file, const char *iss, const char *sub, const char *aud, int64_t exp, char **out,
    struct sf_error *e)
{
	static const char header[] = "{\"alg\":\"RS256\"}";
	struct cs_buf b;
	json_t *claims = NULL;
	char *cj = NULL;
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	cs_err err = CS_OK;

	*out = NULL;
	cs_buf_init(&b, 64u << 10);
	if ((bio = BIO_new_file(key_file, "r")) == NULL) {
		err = sf_fail(e, CS_EIO, false, "JWT key file %s cannot be read", key_file);
		goto out;
	}
	if ((key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		err = sf_fail(e, CS_EINVAL, false, "JWT key file %s holds no RSA private key in PEM form", key_file);
		goto out;
	}
	claims = json_pack("{s:s,s:s,s:s,s:I}", "iss", iss, "sub", sub, "aud", aud, "exp", (json_int_t)exp);
	if (claims == NULL || (cj = cs_json_str(claims)) == NULL) {
		err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		goto out;
	}
	if ((err = b64url(&b, (const unsigned char *)header, sizeof(header) - 1)) != CS_OK ||
	    (err = cs_buf_putc(&b, '.')) != CS_OK ||
	    (err = b64url(&b, (const unsigned char *)cj, strlen(cj))) != CS_OK) {
		sf_fail(e, err, false, "JWT too large");
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)b.data, b.len) != 1 ||
	    (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)b.data, b.len) != 1) {
		err = sf_fail(e, CS_EINVAL, false, "JWT signing with %s failed", key_file);
		goto out;
	}
	if ((err = cs_buf_putc(&b, '.')) != CS_OK || (err = b64url(&b, sig, siglen)) != CS_OK) {
		sf_fail(e, err, false, "JWT too large");
		goto out;
	}
	*out = cs_buf_take(&b);
out:
	free(sig);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	free(cj);
	json_decref(claims);
	cs_buf_cleanup(&b);
	return err;
}

/* --- token acquisition ------------------------------------------------------------------- */

/* Overwrites every occurrence of secret in msg: a server could echo what it was sent. */
static void
scrub(char *msg, const char *secret)
{
	size_t n;
	char *p;

	if (secret == NULL || (n = strlen(secret)) < 4)
		return;
	for (char *at = msg; (p = strstr(at, secret)) != NULL; at = p + n)
		memset(p, '*', n);
}

/* The same over raw bytes, for the secret as sent (form-encoded) and as it is. Done on the whole
 * response before any of it is copied, so a cut-off copy cannot keep a piece of a secret. */
void
sf_scrub(char *p, size_t len, const char *secret)
{
	struct cs_buf enc;
	const char *forms[2];
	size_t n;
	char *q;

	if (p == NULL || secret == NULL || strlen(secret) < 4)
		return;
	cs_buf_init(&enc, 3 * strlen(secret) + 1);
	forms[0] = secret;
	forms[1] = sf_urlencode(&enc, secret) == CS_OK ? enc.data : NULL;
	for (int i = 0; i < 2; i++) {
		if (forms[i] == NULL || (n = strlen(forms[i])) == 0)
			continue;
		for (char *at = p; (q = memmem(at, len - (size_t)(at - p), forms[i], n)) != NULL; at = q + n)
			memset(q, '*', n);
	}
	if (enc.data)
		OPENSSL_cleanse(enc.data, enc.len);
	cs_buf_cleanup(&enc);
}

static void
scrub_body(struct sf_org *o, struct cs_buf *b, const char *assertion)
{
	sf_scrub(b->data, b->len, o->client_secret);
	sf_scrub(b->data, b->len, o->refresh_token);
	sf_scrub(b->data, b->len, assertion);
}

static void
scrub_error(struct sf_org *o, struct sf_error *e, const char *assertion)
{
	if (e == NULL)
		return;
	scrub(e->message, o->client_secret);
	scrub(e->message, o->refresh_token);
	scrub(e->message, assertion);
}

static cs_err
form_add(struct cs_buf *b, const char *k, const char *v)
{
	cs_err err = CS_OK;

	if (b->len > 0)
		err = cs_buf_putc(b, '&');
	if (err == CS_OK)
		err = cs_buf_puts(b, k);
	if (err == CS_OK)
		err = cs_buf_putc(b, '=');
	if (err == CS_OK)
		err = sf_urlencode(b, v);
	return err;
}

/* Basic credentials header; the buffer is wiped by the caller. */
static cs_err
basic_header(struct cs_buf *hb, const char *id, const char *secret)
{
	struct cs_buf raw;
	unsigned char *enc = NULL;
	cs_err err;

	cs_buf_init(&raw, 8192);
	err = cs_buf_printf(&raw, "%s:%s", id, secret);
	if (err == CS_OK && (enc = malloc(4 * (raw.len / 3 + 1) + 1)) == NULL)
		err = CS_ENOMEM;
	if (err == CS_OK) {
		EVP_EncodeBlock(enc, (const unsigned char *)raw.data, (int)raw.len);
		err = cs_buf_printf(hb, "Authorization: Basic %s", (const char *)enc);
		OPENSSL_cleanse(enc, strlen((char *)enc));
	}
	free(enc);
	if (raw.data)
		OPENSSL_cleanse(raw.data, raw.len);
	cs_buf_cleanup(&raw);
	return err;
}

/* Asks the token endpoint for a new token and installs it. Called with o->login_mu held, so that
 * concurrent 401s in several threads end in one login, but not o->mu: other threads keep reading
 * limits and counters while the request is in flight. Reads only the immutable settings. */
static cs_err
login_locked(struct sf_org *o, struct http_client *http, struct sf_error *e)
{
	char *ntok = NULL, *ninst = NULL;
	struct cs_buf form, auth;
	struct http_request rq = { 0 };
	struct http_response rs;
	struct cs_error he = { 0 };
	char url[SF_URL_MAX], *assertion = NULL;
	const char *hdrs[4] = { "Content-Type: application/x-www-form-urlencoded", "Accept: application/json", NULL, NULL };
	json_t *v = NULL;
	const char *tok, *inst;
	cs_err err = CS_OK;

	cs_buf_init(&form, 64u << 10);
	cs_buf_init(&auth, 8192);
	http_response_init(&rs);
	snprintf(url, sizeof(url), "%s/services/oauth2/token", o->login_url);
	switch (o->auth) {
	case SF_AUTH_JWT:
		if ((err = sf_jwt_build(o->key_file, o->client_id, o->username, o->audience,
		    cs_time_now_ms() / 1000 + JWT_LIFETIME_S, &assertion, e)) != CS_OK)
			goto out;
		err = form_add(&form, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
		if (err == CS_OK)
			err = form_add(&form, "assertion", assertion);
		break;
	case SF_AUTH_CLIENT_CREDENTIALS:
		err = form_add(&form, "grant_type", "client_credentials");
		if (err == CS_OK)
			err = basic_header(&auth, o->client_id, o->client_secret);
		hdrs[2] = auth.data;
		break;
	case SF_AUTH_REFRESH_TOKEN:
		err = form_add(&form, "grant_type", "refresh_token");
		if (err == CS_OK)
			err = form_add(&form, "refresh_token", o->refresh_token);
		if (err == CS_OK)
			err = form_add(&form, "client_id", o->client_id);
		if (err == CS_OK && o->client_secret)
			err = form_add(&form, "client_secret", o->client_secret);
		if (err == CS_OK)
			err = form_add(&form, "format", "json");
		break;
	case SF_AUTH_ACCESS_TOKEN:
		err = sf_fail(e, CS_EAUTH, false, "org %s: the configured access token was refused and cannot be renewed",
		    o->name);
		goto out;
	}
	if (err != CS_OK) {
		sf_fail(e, err, false, "org %s: token request too large", o->name);
		goto out;
	}
	rq.method = "POST";
	rq.url = url;
	rq.headers = hdrs;
	rq.body = form.data;
	rq.body_len = form.len;
	rq.timeout_ms = o->timeout_ms;
	rq.max_response = TOKEN_RESPONSE_MAX;
	sf_org_count(o, 1, 0);
	if (http_client_do(http, &rq, &rs, &he) != CS_OK) {
		err = sf_fail_http(e, &he);
		goto out;
	}
	if (rs.status != 200) {
		scrub_body(o, &rs.body, assertion);
		sf_error_parse(e, rs.status, rs.body.data, rs.body.len);
		if (rs.status >= 400 && rs.status < 500 && rs.status != 420 && rs.status != 429) {
			e->err = err = CS_EAUTH;
			e->transient = false;
		} else
			err = e->err;
		{
			char m[sizeof(e->message)];
			snprintf(m, sizeof(m), "org %.60s: login refused (HTTP %ld): %.400s", o->name, rs.status, e->message);
			sf_copy(e->message, sizeof(e->message), m);
		}
		goto out;
	}
	if (cs_json_parse(rs.body.data ? rs.body.data : "", rs.body.len, &v, &he) != CS_OK ||
	    (tok = cs_json_get_str(v, "access_token")) == NULL || tok[0] == '\0' || strlen(tok) >= SF_TOKEN_MAX) {
		err = sf_fail(e, CS_EPARSE, true, "org %s: token response without a usable access_token", o->name);
		goto out;
	}
	inst = cs_json_get_str(v, "instance_url");
	if (inst != NULL && !url_ok(inst))
		log_warn("sf.login", "org=%s the token response's instance_url is not https:// (nor http:// to this "
		         "machine); it is ignored and the configured one kept", o->name);
	if ((ntok = strdup(tok)) == NULL || (inst != NULL && url_ok(inst) && (ninst = dup_url(inst)) == NULL)) {
		err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&o->mu);
	wipe(o->token);
	o->token = ntok;
	ntok = NULL;
	if (ninst != NULL) {
		free(o->instance_url);
		o->instance_url = ninst;
		ninst = NULL;
	}
	o->token_gen++;
	o->stats.logins++;
	auth_ok_locked(o, true);
	pthread_mutex_unlock(&o->mu);
	log_info("sf.login", "org=%s acquired a token", o->name);
out:
	if (err != CS_OK) {
		scrub_error(o, e, assertion);
		log_warn("sf.login", "org=%s %s", o->name, e ? e->message : cs_strerror(err));
		/* a failed login leaves no session: the token was dropped (or, fixed, refused) before */
		auth_failed(o, e && e->message[0] ? e->message : cs_strerror(err), true);
	}
	if (v != NULL) {
		/* the token response holds the token; jansson frees without wiping, which is as much as
		 * we can do for memory we do not own */
		json_decref(v);
	}
	wipe(ntok);
	free(ninst);
	if (assertion)
		wipe(assertion);
	if (form.data)
		OPENSSL_cleanse(form.data, form.len);
	if (auth.data)
		OPENSSL_cleanse(auth.data, auth.len);
	cs_buf_cleanup(&form);
	cs_buf_cleanup(&auth);
	http_response_cleanup(&rs);
	return err;
}

cs_err
sf_session_get_with(struct sf_org *o, struct http_client *http, struct sf_session *s, struct sf_error *e)
{
	cs_err err = CS_OK;
	bool have;

	pthread_mutex_lock(&o->mu);
	if ((have = o->token != NULL)) {
		sf_copy(s->token, sizeof(s->token), o->token);
		sf_copy(s->instance, sizeof(s->instance), o->instance_url);
		s->gen = o->token_gen;
	}
	pthread_mutex_unlock(&o->mu);
	if (have)
		return CS_OK;
	pthread_mutex_lock(&o->login_mu);
	/* another thread may have logged in while this one waited */
	pthread_mutex_lock(&o->mu);
	have = o->token != NULL;
	pthread_mutex_unlock(&o->mu);
	if (!have)
		err = login_locked(o, http, e);
	if (err == CS_OK) {
		pthread_mutex_lock(&o->mu);
		if (o->token == NULL)       /* refused again at once by another thread */
			err = sf_fail(e, CS_EAUTH, true, "org %s: the new token was refused", o->name);
		else {
			sf_copy(s->token, sizeof(s->token), o->token);
			sf_copy(s->instance, sizeof(s->instance), o->instance_url);
			s->gen = o->token_gen;
		}
		pthread_mutex_unlock(&o->mu);
	}
	pthread_mutex_unlock(&o->login_mu);
	return err;
}

cs_err
sf_session_get(struct sf_client *c, struct sf_session *s, struct sf_error *e)
{
	return sf_session_get_with(c->org, c->http, s, e);
}

void
sf_session_invalidate(struct sf_org *o, uint64_t gen)
{
	pthread_mutex_lock(&o->mu);
	/* a fixed token cannot be renewed: keep it so the next call reports the refusal */
	if (o->token_gen == gen && o->auth != SF_AUTH_ACCESS_TOKEN) {
		wipe(o->token);
		o->token = NULL;
	}
	pthread_mutex_unlock(&o->mu);
}

cs_err
sf_login(struct sf_client *c, struct sf_error *e)
{
	struct sf_org *o = c->org;
	cs_err err;

	sf_error_clear(e);
	if (o->auth == SF_AUTH_ACCESS_TOKEN)
		return CS_OK;
	pthread_mutex_lock(&o->login_mu);
	err = login_locked(o, c->http, e);
	pthread_mutex_unlock(&o->login_mu);
	return err;
}

cs_err
sf_client_new(struct sf_org *org, struct sf_client **out)
{
	struct sf_client *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CS_ENOMEM;
	if (http_client_new(&c->http) != CS_OK) {
		free(c);
		return CS_ENOMEM;
	}
	c->org = org;
	c->rnd = (uint64_t)cs_time_mono_ms() ^ (uint64_t)(uintptr_t)c ^ 0x9E3779B97F4A7C15ull;
	*out = c;
	return CS_OK;
}

void
sf_client_caller_retries(struct sf_client *c)
{
	c->caller_retries = true;
}

void
sf_client_free(struct sf_client *c)
{
	if (c == NULL)
		return;
	http_client_free(c->http);
	free(c);
}

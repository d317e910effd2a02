/* oauth.c - the OAuth 2.0 token endpoint (password, client credentials, refresh token, JWT
 * bearer), sessions, and identity/userinfo. */
#include "emu.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define JWT_MAX 8192
#define JWT_SKEW_S 180

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decodes base64 or base64url (padding optional) into out; returns length or -1. */
static long
b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	unsigned acc = 0;
	int bits = 0;
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		const char *p;
		int v;
		if (c == '=')
			break;
		if (c == '+')
			c = '-';
		else if (c == '/')
			c = '_';
		p = strchr(b64url, c);
		if (p == NULL || c == '\0')
			return -1;
		v = (int)(p - b64url);
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (j >= cap)
				return -1;
			out[j++] = (unsigned char)((acc >> bits) & 0xFF);
		}
	}
	return (long)j;
}

static void
b64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t j = 0;

	for (size_t i = 0; i < n && j + 5 < cap; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
		out[j++] = tbl[(v >> 18) & 63];
		out[j++] = tbl[(v >> 12) & 63];
		out[j++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		out[j++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[j] = '\0';
}

/* Makes a session token shaped like Salesforce's: "<orgId15>!<random>". Lock held. */
static void
new_session(struct emu *emu, char *tok, size_t cap)
{
	unsigned char rnd[36];
	char enc[64];
	struct session *s;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(emu->token_seq * 131 + i * 7);
	}
	b64_encode(rnd, sizeof(rnd), enc, sizeof(enc));
	for (char *p = enc; *p; p++)
		if (*p == '+' || *p == '/' || *p == '=')
			*p = 'x';
	snprintf(tok, cap, "%.15s!%s", EMU_ORG_ID, enc);
	if (emu->nsessions == emu->csessions) {
		size_t n = emu->csessions ? emu->csessions * 2 : 16;
		struct session *g = realloc(emu->sessions, n * sizeof(*g));
		if (g == NULL)
			return;
		emu->sessions = g;
		emu->csessions = n;
	}
	/* forget the oldest when very many sessions were issued */
	if (emu->nsessions >= 100000) {
		memmove(emu->sessions, emu->sessions + 1, (emu->nsessions - 1) * sizeof(*s));
		emu->nsessions--;
	}
	s = &emu->sessions[emu->nsessions++];
	snprintf(s->token, sizeof(s->token), "%s", tok);
	s->expires_ms = emu->o.session_ttl_ms > 0 ? cs_time_now_ms() + emu->o.session_ttl_ms : 0;
	s->revoked = false;
	emu->token_seq++;
}

bool
oauth_token_valid(struct emu *emu, const char *tok)
{
	int64_t now = cs_time_now_ms();

	if (tok == NULL || *tok == '\0')
		return false;
	if (emu->o.fixed_token && strcmp(tok, emu->o.fixed_token) == 0 && !emu->fixed_token_expired)
		return true;
	for (size_t i = emu->nsessions; i-- > 0;) {
		struct session *s = &emu->sessions[i];
		if (strcmp(s->token, tok) != 0)
			continue;
		return !s->revoked && (s->expires_ms == 0 || s->expires_ms > now);
	}
	return false;
}

void
oauth_expire_all(struct emu *emu)
{
	for (size_t i = 0; i < emu->nsessions; i++)
		emu->sessions[i].revoked = true;
	emu->fixed_token_expired = true;
}

struct form {
	json_t *kv;
};

static bool
form_cb(const char *k, const char *v, void *ud)
{
	struct form *f = ud;
	json_object_set_new(f->kv, k, json_string(v));
	return true;
}

static void
oauth_fail(struct http_resp *rs, int status, const char *err, const char *desc)
{
	http_resp_json(rs, status, json_pack("{s:s,s:s}", "error", err, "error_description", desc));
}

static const char *
fget(json_t *kv, const char *k)
{
	return cs_json_get_str(kv, k);
}

/* Reads HTTP Basic client credentials into id/secret (both caller buffers). */
static bool
basic_auth(struct http_req *rq, char *id, size_t idcap, char *secret, size_t seccap)
{
	const char *h = http_req_header(rq, "Authorization");
	unsigned char dec[512];
	long n;
	char *colon;

	if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
		return false;
	n = b64_decode(h + 6, strlen(h + 6), dec, sizeof(dec) - 1);
	if (n < 0)
		return false;
	dec[n] = '\0';
	colon = strchr((char *)dec, ':');
	if (colon == NULL)
		return false;
	*colon = '\0';
	if (strlen((char *)dec) >= idcap || strlen(colon + 1) >= seccap)
		return false;
	memcpy(id, dec, strlen((char *)dec) + 1);
	memcpy(secret, colon + 1, strlen(colon + 1) + 1);
	return true;
}

static bool
jwt_verify(struct emu *emu, const char *assertion, char *why, size_t whycap)
{
	const char *d1, *d2;
	unsigned char hdr[1024], claims[4096], sig[1024];
	long nh, nc, ns;
	json_t *jh = NULL, *jc = NULL;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	BIO *bio = NULL;
	bool ok = false;
	const char *alg, *iss, *sub, *aud;
	json_t *expv;
	double exp;
	int64_t now = cs_time_now_ms() / 1000;

	snprintf(why, whycap, "invalid assertion");
	if (strlen(assertion) > JWT_MAX || (d1 = strchr(assertion, '.')) == NULL || (d2 = strchr(d1 + 1, '.')) == NULL)
		return false;
	nh = b64_decode(assertion, (size_t)(d1 - assertion), hdr, sizeof(hdr));
	nc = b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), claims, sizeof(claims));
	ns = b64_decode(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
	if (nh < 0 || nc < 0 || ns <= 0)
		return false;
	if (cs_json_parse((char *)hdr, (size_t)nh, &jh, NULL) != CS_OK ||
	    cs_json_parse((char *)claims, (size_t)nc, &jc, NULL) != CS_OK)
		goto out;
	alg = cs_json_get_str(jh, "alg");
	if (alg == NULL || strcmp(alg, "RS256") != 0) {
		snprintf(why, whycap, "invalid assertion");
		goto out;
	}
	if (emu->o.jwt_pubkey_file == NULL) {
		snprintf(why, whycap, "invalid assertion: no certificate configured for this connected app");
		goto out;
	}
	if ((bio = BIO_new_file(emu->o.jwt_pubkey_file, "r")) == NULL)
		goto out;
	key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (key == NULL) {
		X509 *x;
		BIO_free(bio);
		if ((bio = BIO_new_file(emu->o.jwt_pubkey_file, "r")) == NULL)
			goto out;
		if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			key = X509_get_pubkey(x);
			X509_free(x);
		}
	}
	if (key == NULL)
		goto out;
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestVerify(md, sig, (size_t)ns, (const unsigned char *)assertion, (size_t)(d2 - assertion)) != 1) {
		snprintf(why, whycap, "invalid assertion: signature does not verify");
		goto out;
	}
	iss = cs_json_get_str(jc, "iss");
	sub = cs_json_get_str(jc, "prn") ? cs_json_get_str(jc, "prn") : cs_json_get_str(jc, "sub");
	aud = cs_json_get_str(jc, "aud");
	expv = json_object_get(jc, "exp");
	if (iss == NULL || strcmp(iss, emu->o.client_id) != 0) {
		snprintf(why, whycap, "invalid client credentials");
		goto out;
	}
	if (sub == NULL || strcasecmp(sub, emu->o.username) != 0) {
		snprintf(why, whycap, "user hasn't approved this consumer");
		goto out;
	}
	if (aud == NULL || (strcmp(aud, emu->base_url) != 0 && strcmp(aud, "https://login.salesforce.com") != 0 &&
	    strcmp(aud, "https://test.salesforce.com") != 0)) {
		snprintf(why, whycap, "audience is invalid");
		goto out;
	}
	if (!json_is_number(expv)) {
		snprintf(why, whycap, "expired authorization code");
		goto out;
	}
	exp = json_number_value(expv);
	if (exp > 1e12)   /* some clients send milliseconds */
		exp /= 1000;
	if (exp + JWT_SKEW_S < (double)now) {
		snprintf(why, whycap, "expired authorization code");
		goto out;
	}
	ok = true;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	BIO_free(bio);
	json_decref(jh);
	json_decref(jc);
	return ok;
}

static json_t *
token_response(struct emu *emu, const char *tok, bool with_refresh)
{
	char id[256], issued[32], sig[64];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	char msg[300];
	json_t *r;

	snprintf(id, sizeof(id), "%s/id/%s/%s", emu->base_url, EMU_ORG_ID, EMU_USER_ID);
	snprintf(issued, sizeof(issued), "%lld", (long long)cs_time_now_ms());
	snprintf(msg, sizeof(msg), "%s%s", id, issued);
	HMAC(EVP_sha256(), emu->o.client_secret, (int)strlen(emu->o.client_secret), (unsigned char *)msg,
	    strlen(msg), mac, &maclen);
	b64_encode(mac, maclen, sig, sizeof(sig));
	r = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "access_token", tok, "instance_url", emu->base_url,
	    "id", id, "token_type", "Bearer", "issued_at", issued, "signature", sig, "scope", "api refresh_token full");
	if (with_refresh)
		json_object_set_new(r, "refresh_token", json_string(emu->o.refresh_token));
	return r;
}

void
oauth_handle(struct emu *emu, struct http_req *rq, struct http_resp *rs, const char *rest)
{
	struct form f = { json_object() };
	const char *gt, *cid, *csec;
	char bid[256] = "", bsec[256] = "", tok[128], why[160];
	bool basic;

	if (strcmp(rest, "userinfo") == 0) {
		const char *h = http_req_header(rq, "Authorization");
		const char *t = h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : h && strncasecmp(h, "OAuth ", 6) == 0 ? h + 6 : NULL;
		bool ok;
		emu_lock(emu);
		ok = oauth_token_valid(emu, t);
		emu_unlock(emu);
		json_decref(f.kv);
		if (!ok) {
			http_resp_text(rs, 403, "text/plain", "Bad_OAuth_Token", 15);
			return;
		}
		http_resp_json(rs, 200, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b}",
		    "sub", "", "user_id", EMU_USER_ID, "organization_id", EMU_ORG_ID,
		    "preferred_username", emu->o.username, "email", emu->o.username, "name", "Sync Integration",
		    "zoneinfo", "GMT", "active", 1));
		return;
	}
	if (strcmp(rest, "revoke") == 0) {
		/* token= travels in the form body (POST) or the query string (GET) */
		const char *t;
		bool found = false;
		if (strcmp(rq->method, "POST") == 0 && !rq->body_too_big && rq->body_len <= 65536)
			http_form_each(rq->body, rq->body_len, form_cb, &f);
		if (fget(f.kv, "token") == NULL && rq->raw_uri && strchr(rq->raw_uri, '?'))
			http_form_each(strchr(rq->raw_uri, '?') + 1, strlen(strchr(rq->raw_uri, '?') + 1), form_cb, &f);
		t = fget(f.kv, "token");
		emu_lock(emu);
		for (size_t i = 0; t && i < emu->nsessions; i++)
			if (strcmp(emu->sessions[i].token, t) == 0) {
				emu->sessions[i].revoked = true;
				found = true;
			}
		if (t && strcmp(t, emu->o.refresh_token) == 0 && !emu->refresh_revoked) {
			emu->refresh_revoked = true;
			found = true;
		}
		emu_unlock(emu);
		json_decref(f.kv);
		if (found)
			http_resp_text(rs, 200, "text/plain", "", 0);
		else {
			static const char msg[] = "error=unsupported_token_type&error_description=this+token+type+is+not+supported";
			http_resp_text(rs, 400, "application/x-www-form-urlencoded", msg, sizeof(msg) - 1);
		}
		return;
	}
	if (strcmp(rest, "token") != 0 || strcmp(rq->method, "POST") != 0) {
		json_decref(f.kv);
		http_resp_text(rs, 404, "text/plain", "Not Found", 9);
		return;
	}
	if (rq->body_too_big || rq->body_len > 65536) {
		json_decref(f.kv);
		oauth_fail(rs, 400, "invalid_request", "request too large");
		return;
	}
	http_form_each(rq->body, rq->body_len, form_cb, &f);
	if (json_object_size(f.kv) == 0)
		http_form_each(rq->raw_uri && strchr(rq->raw_uri, '?') ? strchr(rq->raw_uri, '?') + 1 : "",
		    rq->raw_uri && strchr(rq->raw_uri, '?') ? strlen(strchr(rq->raw_uri, '?') + 1) : 0, form_cb, &f);
	gt = fget(f.kv, "grant_type");
	basic = basic_auth(rq, bid, sizeof(bid), bsec, sizeof(bsec));
	cid = basic ? bid : fget(f.kv, "client_id");
	csec = basic ? bsec : fget(f.kv, "client_secret");

	if (gt == NULL) {
		oauth_fail(rs, 400, "unsupported_grant_type", "grant type not supported");
		goto out;
	}
	emu_lock(emu);
	if (strcmp(gt, "password") == 0) {
		const char *u = fget(f.kv, "username"), *p = fget(f.kv, "password");
		if (cid == NULL || strcmp(cid, emu->o.client_id) != 0) {
			emu_unlock(emu);
			oauth_fail(rs, 400, "invalid_client_id", "client identifier invalid");
			goto out;
		}
		if (csec == NULL || strcmp(csec, emu->o.client_secret) != 0) {
			emu_unlock(emu);
			oauth_fail(rs, 400, "invalid_client", "invalid client credentials");
			goto out;
		}
		/* the password may carry the user's security token appended */
		if (u == NULL || p == NULL || strcasecmp(u, emu->o.username) != 0 ||
		    strncmp(p, emu->o.password, strlen(emu->o.password)) != 0) {
			emu_unlock(emu);
			oauth_fail(rs, 400, "invalid_grant", "authentication failure");
			goto out;
		}
		new_session(emu, tok, sizeof(tok));
		http_resp_json(rs, 200, token_response(emu, tok, false));
	} else if (strcmp(gt, "client_credentials") == 0) {
		if (cid == NULL || csec == NULL || strcmp(cid, emu->o.client_id) != 0 || strcmp(csec, emu->o.client_secret) != 0) {
			emu_unlock(emu);
			oauth_fail(rs, 400, "invalid_client", "invalid client credentials");
			goto out;
		}
		new_session(emu, tok, sizeof(tok));
		http_resp_json(rs, 200, token_response(emu, tok, false));
	} else if (strcmp(gt, "refresh_token") == 0) {
		const char *rt = fget(f.kv, "refresh_token");
		if (cid == NULL || strcmp(cid, emu->o.client_id) != 0) {
			emu_unlock(emu);
			oauth_fail(rs, 400, "invalid_client_id", "client identifier invalid");
			goto out;
		}
		if (csec != NULL && strcmp(csec, emu->o.client_secret) != 0) {
			emu_unlock(emu);
			oauth_fail(rs, 400, "invalid_client", "invalid client credentials");
			goto out;
		}
		if (rt == NULL || strcmp(rt, emu->o.refresh_token) != 0 || emu->refresh_revoked) {
			emu_unlock(emu);
			oauth_fail(rs, 400, "invalid_grant", "expired access/refresh token");
			goto out;
		}
		new_session(emu, tok, sizeof(tok));
		http_resp_json(rs, 200, token_response(emu, tok, false));
	} else if (strcmp(gt, "urn:ietf:params:oauth:grant-type:jwt-bearer") == 0) {
		const char *a = fget(f.kv, "assertion");
		if (a == NULL || !jwt_verify(emu, a, why, sizeof(why))) {
			emu_unlock(emu);
			oauth_fail(rs, 400, "invalid_grant", a == NULL ? "invalid assertion" : why);
			goto out;
		}
		new_session(emu, tok, sizeof(tok));
		json_t *r = token_response(emu, tok, false);
		json_object_del(r, "signature");
		json_object_del(r, "issued_at");
		http_resp_json(rs, 200, r);
	} else {
		emu_unlock(emu);
		oauth_fail(rs, 400, "unsupported_grant_type", "grant type not supported");
		goto out;
	}
	emu_unlock(emu);
	log_info("oauth.token", "grant=%s issued", gt);
out:
	json_decref(f.kv);
}

void
oauth_identity(struct emu *emu, struct http_req *rq, struct http_resp *rs)
{
	char rest[256];

	snprintf(rest, sizeof(rest), "%s/services/data/v{version}/", emu->base_url);
	http_resp_json(rs, 200, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:{s:s,s:s,s:s},s:s,s:s}",
	    "id", "", "user_id", EMU_USER_ID, "organization_id", EMU_ORG_ID, "username", emu->o.username,
	    "display_name", "Sync Integration", "email", emu->o.username, "active", 1,
	    "urls", "rest", rest, "sobjects", rest, "query", rest,
	    "user_type", "STANDARD", "language", "en_US"));
}

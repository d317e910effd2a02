/* auth.c - API tokens: kept only as SHA-256 hashes, looked up in constant time, with roles. */
#include "clm/clm.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct tok {
	char name[CLM_TOKEN_NAME_MAX];
	enum clm_role role;
	unsigned char hash[32];
};

struct clm_auth {
	struct tok *v;
	size_t n;
};

struct clm_auth *
clm_auth_new(void)
{
	return calloc(1, sizeof(struct clm_auth));
}

void
clm_auth_free(struct clm_auth *a)
{
	if (a == NULL)
		return;
	OPENSSL_cleanse(a->v, a->n * sizeof(*a->v));
	free(a->v);
	free(a);
}

size_t
clm_auth_count(const struct clm_auth *a)
{
	return a ? a->n : 0;
}

bool
clm_auth_digest(const struct clm_auth *a, size_t i, unsigned char out[32])
{
	if (a == NULL || i >= a->n)
		return false;
	memcpy(out, a->v[i].hash, 32);
	return true;
}

static bool
hash(const char *s, size_t n, unsigned char out[32])
{
	unsigned int len = 0;

	return EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

cs_err
clm_auth_add(struct clm_auth *a, const char *name, enum clm_role role, const char *secret, struct cs_error *e)
{
	size_t nl = name ? strlen(name) : 0, sl = secret ? strlen(secret) : 0;
	struct tok *nv;

	if (nl == 0 || nl >= CLM_TOKEN_NAME_MAX)
		return cs_error_set(e, CS_EINVAL, "a token name is 1 to %d bytes", CLM_TOKEN_NAME_MAX - 1);
	if (sl == 0 || sl > CLM_SECRET_MAX)
		return cs_error_set(e, CS_EINVAL, "token %s: a secret is 1 to %d bytes", name, CLM_SECRET_MAX);
	if (role < CLM_ROLE_READ || role > CLM_ROLE_ADMIN)
		return cs_error_set(e, CS_EINVAL, "token %s: unknown role", name);
	if (a->n >= CLM_TOKENS_MAX)
		return cs_error_set(e, CS_ELIMIT, "more than %d tokens", CLM_TOKENS_MAX);
	if ((nv = realloc(a->v, (a->n + 1) * sizeof(*nv))) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	a->v = nv;
	memset(&nv[a->n], 0, sizeof(nv[a->n]));
	memcpy(nv[a->n].name, name, nl + 1);
	nv[a->n].role = role;
	if (!hash(secret, sl, nv[a->n].hash))
		return cs_error_set(e, CS_EIO, "cannot hash a token");
	a->n++;
	return CS_OK;
}

enum clm_role
clm_auth_check(const struct clm_auth *a, const char *secret, size_t len, char *name)
{
	unsigned char h[32];
	enum clm_role role = CLM_ROLE_NONE;
	size_t hit = 0;

	name[0] = '\0';
	if (a == NULL || len == 0 || len > CLM_SECRET_MAX || !hash(secret, len, h))
		return CLM_ROLE_NONE;
	/* compare against every entry so that timing does not tell which one (or whether any) matched */
	for (size_t i = 0; i < a->n; i++) {
		bool eq = CRYPTO_memcmp(h, a->v[i].hash, sizeof(h)) == 0;
		if (eq && role == CLM_ROLE_NONE) {
			role = a->v[i].role;
			hit = i;
		}
	}
	if (role != CLM_ROLE_NONE)
		snprintf(name, CLM_TOKEN_NAME_MAX, "%s", a->v[hit].name);
	OPENSSL_cleanse(h, sizeof(h));
	return role;
}

enum clm_role
clm_role_parse(const char *s)
{
	if (s == NULL)
		return CLM_ROLE_NONE;
	if (strcmp(s, "read") == 0)
		return CLM_ROLE_READ;
	if (strcmp(s, "write") == 0)
		return CLM_ROLE_WRITE;
	if (strcmp(s, "admin") == 0)
		return CLM_ROLE_ADMIN;
	return CLM_ROLE_NONE;
}

cs_err
clm_secret_generate(char *out, size_t cap, struct cs_error *e)
{
	unsigned char r[32];
	size_t got = 0;

	if (cap < 69)
		return cs_error_set(e, CS_EINVAL, "buffer too small for a secret");
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n <= 0)
			return cs_error_set(e, CS_EIO, "no randomness available");
		got += (size_t)n;
	}
	memcpy(out, "clm_", 4);
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 4 + 2 * i, 3, "%02x", r[i]);
	OPENSSL_cleanse(r, sizeof(r));
	return CS_OK;
}

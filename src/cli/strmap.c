/* strmap.c - a bounded string-to-string hash map (open addressing) for import and export lookups. */
#include "cli/cli_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 64

struct strmap {
	char **slot;       /* "key\0value\0" in one allocation, or NULL */
	size_t nslots;     /* a power of two, kept at least twice the count */
	size_t count, max;
};

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t
find(char *const *slot, size_t nslots, const char *key)
{
	size_t i = (size_t)hash(key) & (nslots - 1);

	while (slot[i] != NULL && strcmp(slot[i], key) != 0)
		i = (i + 1) & (nslots - 1);
	return i;
}

struct strmap *
strmap_new(size_t max)
{
	struct strmap *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if ((m->slot = calloc(MIN_SLOTS, sizeof(char *))) == NULL) {
		free(m);
		return NULL;
	}
	m->nslots = MIN_SLOTS;
	m->max = max;
	return m;
}

void
strmap_clear(struct strmap *m)
{
	for (size_t i = 0; i < m->nslots; i++) {
		free(m->slot[i]);
		m->slot[i] = NULL;
	}
	m->count = 0;
}

void
strmap_free(struct strmap *m)
{
	if (m == NULL)
		return;
	strmap_clear(m);
	free(m->slot);
	free(m);
}

size_t
strmap_count(const struct strmap *m)
{
	return m->count;
}

const char *
strmap_get(const struct strmap *m, const char *key)
{
	const char *s = m->slot[find(m->slot, m->nslots, key)];

	return s ? s + strlen(s) + 1 : NULL;
}

static cs_err
grow(struct strmap *m)
{
	size_t n = m->nslots * 2;
	char **ns = calloc(n, sizeof(char *));

	if (ns == NULL)
		return CS_ENOMEM;
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slot[i] != NULL)
			ns[find(ns, n, m->slot[i])] = m->slot[i];
	free(m->slot);
	m->slot = ns;
	m->nslots = n;
	return CS_OK;
}

cs_err
strmap_put(struct strmap *m, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val), i;
	char *e;

	i = find(m->slot, m->nslots, key);
	if (m->slot[i] == NULL) {
		if (m->count >= m->max)
			return CS_ELIMIT;
		if ((m->count + 1) * 2 > m->nslots) {
			if (grow(m) != CS_OK)
				return CS_ENOMEM;
			i = find(m->slot, m->nslots, key);
		}
	}
	if ((e = malloc(kl + vl + 2)) == NULL)
		return CS_ENOMEM;
	memcpy(e, key, kl + 1);
	memcpy(e + kl + 1, val, vl + 1);
	if (m->slot[i] == NULL)
		m->count++;
	free(m->slot[i]);
	m->slot[i] = e;
	return CS_OK;
}

/* throttle.c - per-address counts of failed authentications in a fixed table: open addressing over
 * buckets of a few entries, a keyed hash so that no one can aim at a bucket, the stalest entry
 * evicted when its bucket is full. */
#include "http/throttle.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define WAYS 8                      /* entries looked at per key */

struct entry {
	unsigned char key[HTTP_THROTTLE_KEY];
	bool used;
	int64_t start_ms;               /* when this window opened: the first failure in it */
	unsigned count;                 /* failures in the window */
};

struct http_throttle {
	pthread_mutex_t mu;
	unsigned max;
	int64_t window_ms;
	uint64_t seed[2];
	struct entry v[HTTP_THROTTLE_SLOTS];
	uint64_t failures, refused;
};

cs_err
http_throttle_new(unsigned max_failures, unsigned window_s, struct http_throttle **out)
{
	struct http_throttle *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL)
		return CS_ENOMEM;
	pthread_mutex_init(&t->mu, NULL);
	t->max = max_failures;
	t->window_ms = (int64_t)window_s * 1000;
	/* a key the clients cannot know; without randomness the table still works, only guessably */
	if (getrandom(t->seed, sizeof(t->seed), GRND_NONBLOCK) != (ssize_t)sizeof(t->seed)) {
		t->seed[0] = (uint64_t)cs_time_now_ms() * 0x9e3779b97f4a7c15ull;
		t->seed[1] = (uint64_t)(uintptr_t)t;
	}
	*out = t;
	return CS_OK;
}

void
http_throttle_free(struct http_throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* A keyed mix of the key's bytes (FNV-1a over the seed, then a finaliser): enough to spread
 * addresses that an outsider cannot predict the bucket of. */
static size_t
bucket(const struct http_throttle *t, const unsigned char *key)
{
	uint64_t h = 0xcbf29ce484222325ull ^ t->seed[0];

	for (size_t i = 0; i < HTTP_THROTTLE_KEY; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	h ^= t->seed[1];
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (size_t)(h % (HTTP_THROTTLE_SLOTS / WAYS)) * WAYS;
}

static bool
live(const struct http_throttle *t, const struct entry *x, int64_t now_ms)
{
	return x->used && now_ms - x->start_ms < t->window_ms;
}

static struct entry *
find(struct http_throttle *t, const unsigned char *key)
{
	size_t b = bucket(t, key);

	for (size_t i = 0; i < WAYS; i++)
		if (t->v[b + i].used && memcmp(t->v[b + i].key, key, HTTP_THROTTLE_KEY) == 0)
			return &t->v[b + i];
	return NULL;
}

unsigned
http_throttle_check_key(struct http_throttle *t, const unsigned char key[HTTP_THROTTLE_KEY], int64_t now_ms)
{
	struct entry *x;
	unsigned wait = 0;

	if (t == NULL || t->max == 0)
		return 0;
	pthread_mutex_lock(&t->mu);
	x = find(t, key);
	if (x != NULL && live(t, x, now_ms) && x->count >= t->max) {
		int64_t left = x->start_ms + t->window_ms - now_ms;
		wait = (unsigned)((left + 999) / 1000);
		if (wait == 0)
			wait = 1;
		t->refused++;
	}
	pthread_mutex_unlock(&t->mu);
	return wait;
}

bool
http_throttle_fail_key(struct http_throttle *t, const unsigned char key[HTTP_THROTTLE_KEY], int64_t now_ms)
{
	struct entry *x;
	bool locked = false;

	if (t == NULL || t->max == 0)
		return false;
	pthread_mutex_lock(&t->mu);
	t->failures++;
	if ((x = find(t, key)) == NULL) {
		size_t b = bucket(t, key);
		/* a free or expired entry, else the one whose window opened first */
		for (size_t i = 0; i < WAYS && x == NULL; i++)
			if (!live(t, &t->v[b + i], now_ms))
				x = &t->v[b + i];
		if (x == NULL) {
			x = &t->v[b];
			for (size_t i = 1; i < WAYS; i++)
				if (t->v[b + i].start_ms < x->start_ms)
					x = &t->v[b + i];
		}
		memcpy(x->key, key, HTTP_THROTTLE_KEY);
		x->used = true;
		x->start_ms = now_ms;
		x->count = 0;
	} else if (!live(t, x, now_ms)) {
		x->start_ms = now_ms;
		x->count = 0;
	}
	if (x->count < t->max) {
		x->count++;
		locked = x->count == t->max;
	}
	pthread_mutex_unlock(&t->mu);
	return locked;
}

unsigned
http_throttle_check(struct http_throttle *t, const struct http_req *rq)
{
	unsigned char key[HTTP_THROTTLE_KEY];

	if (t == NULL || !http_req_peer(rq, NULL, 0, key))
		return 0;
	return http_throttle_check_key(t, key, cs_time_mono_ms());
}

bool
http_throttle_fail(struct http_throttle *t, const struct http_req *rq)
{
	unsigned char key[HTTP_THROTTLE_KEY];

	return t != NULL && http_req_peer(rq, NULL, 0, key) && http_throttle_fail_key(t, key, cs_time_mono_ms());
}

void
http_throttle_counts(struct http_throttle *t, uint64_t *failures, uint64_t *refused)
{
	pthread_mutex_lock(&t->mu);
	*failures = t->failures;
	*refused = t->refused;
	pthread_mutex_unlock(&t->mu);
}

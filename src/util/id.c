/* id.c - prefixed ULIDs: 48-bit millisecond time + 80 random bits, monotonic within a process. */
#include "util/id.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "util/timeutil.h"

/* Crockford's base32 alphabet: no I, L, O, U. */
static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The last id made by this process, so the next one sorts after it. Guarded by mu. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;
static uint8_t last_rand[10];
static bool have_last;

#define TIME_MAX ((UINT64_C(1) << 48) - 1)

/* Length of a prefix without its optional trailing '_', or -1 when malformed. */
static int
prefix_len(const char *p)
{
	size_t n;

	if (p == NULL)
		return -1;
	n = strnlen(p, CS_ID_PREFIX_MAX + 2);
	if (n > 0 && p[n - 1] == '_')
		n--;
	if (n == 0 || n > CS_ID_PREFIX_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 'a' || p[i] > 'z')
			return -1;
	return (int)n;
}

static int
b32_value(char c)
{
	const char *q;

	if (c == '\0')
		return -1;
	q = memchr(b32, c, sizeof(b32) - 1);
	return q == NULL ? -1 : (int)(q - b32);
}

static cs_err
fill_random(uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return CS_EIO;
		}
		got += (size_t)r;
	}
	return CS_OK;
}

/* Adds one to the 80-bit big-endian number r; returns true when it wrapped to zero. */
static bool
increment(uint8_t r[10])
{
	for (int i = 9; i >= 0; i--)
		if (++r[i] != 0)
			return false;
	return true;
}

/* Encodes the 128 bits (time, rand) as 26 base32 characters, 5 bits each from the top; the first
 * character carries only the top 3 bits (128 = 26 * 5 - 2). */
static void
encode(uint64_t ms, const uint8_t r[10], char *out)
{
	uint8_t v[16];
	int bit = -2;   /* position of the current 5-bit group's top bit, from the top of v */

	for (int i = 0; i < 6; i++)
		v[i] = (uint8_t)(ms >> (40 - 8 * i));
	memcpy(v + 6, r, 10);
	for (int c = 0; c < CS_ID_ULID_LEN; c++, bit += 5) {
		unsigned x = 0;

		for (int b = bit; b < bit + 5; b++) {
			unsigned one = b < 0 ? 0 : (v[b / 8] >> (7 - b % 8)) & 1u;

			x = (x << 1) | one;
		}
		out[c] = b32[x];
	}
}

cs_err
cs_id_new(const char *prefix, char out[CS_ID_MAX])
{
	int pl = prefix_len(prefix);
	uint8_t fresh[10];
	uint64_t now;
	cs_err rc;

	out[0] = '\0';
	if (pl < 0)
		return CS_EINVAL;
	/* Draw randomness outside the lock: getrandom may block early at boot. */
	if ((rc = fill_random(fresh, sizeof(fresh))) != CS_OK)
		return rc;
	now = (uint64_t)cs_time_now_ms() & TIME_MAX;

	pthread_mutex_lock(&mu);
	if (have_last && now <= last_ms) {
		/* Same millisecond, or the clock stepped back: keep the last time and count up from
		 * the last random part, so ids of this process stay in creation order. When the 80
		 * bits wrap (2^80 ids in one millisecond: never in practice) borrow the next ms. */
		now = last_ms;
		if (increment(last_rand))
			now = last_ms + 1 > TIME_MAX ? TIME_MAX : last_ms + 1;
	} else {
		memcpy(last_rand, fresh, sizeof(last_rand));
		/* Keep the top bit clear so a long run within one millisecond has 2^79 increments
		 * before it could wrap. */
		last_rand[0] &= 0x7f;
	}
	last_ms = now;
	have_last = true;
	memcpy(out, prefix, (size_t)pl);
	out[pl] = '_';
	encode(now, last_rand, out + pl + 1);
	pthread_mutex_unlock(&mu);
	out[pl + 1 + CS_ID_ULID_LEN] = '\0';
	return CS_OK;
}

/* Validates the ULID part; returns the offset of the ULID in s, or -1. */
static int
split_id(const char *prefix, const char *s, size_t len)
{
	size_t pl;

	if (s == NULL || len < 2 + CS_ID_ULID_LEN || len > CS_ID_PREFIX_MAX + 1 + CS_ID_ULID_LEN)
		return -1;
	pl = len - CS_ID_ULID_LEN - 1;
	if (s[pl] != '_')
		return -1;
	if (prefix != NULL) {
		int want = prefix_len(prefix);

		if (want < 0 || (size_t)want != pl || memcmp(prefix, s, pl) != 0)
			return -1;
	} else {
		for (size_t i = 0; i < pl; i++)
			if (s[i] < 'a' || s[i] > 'z')
				return -1;
	}
	for (size_t i = pl + 1; i < len; i++)
		if (b32_value(s[i]) < 0)
			return -1;
	/* 26 characters hold 130 bits; a ULID has 128, so the first is at most '7'. */
	if (b32_value(s[pl + 1]) > 7)
		return -1;
	return (int)pl + 1;
}

bool
cs_id_valid(const char *prefix, const char *s, size_t len)
{
	return split_id(prefix, s, len) >= 0;
}

int64_t
cs_id_time_ms(const char *s, size_t len)
{
	int off = split_id(NULL, s, len);
	uint64_t ms = 0;

	if (off < 0)
		return -1;
	/* The first 10 characters carry 50 bits: 2 leading zero bits and the 48-bit time. */
	for (int i = 0; i < 10; i++)
		ms = (ms << 5) | (uint64_t)b32_value(s[off + i]);
	return (int64_t)ms;
}

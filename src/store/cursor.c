/* cursor.c - the opaque keyset cursor of store_list: binary layout, base64url, strict decoding. */
#include "store/store_int.h"

#include <math.h>
#include <string.h>

#include "util/json.h"

/*
 * Raw layout, then base64url without padding:
 *   [0] format 1   [1..4] tag, big-endian   [5] type   [6] id length   id   value
 * value: none for 'x' and 'n'; 8 bytes big-endian for 'i' and 'r' (IEEE bits); the bytes of the
 * text for 't' and 'l'. The largest raw cursor is 7 + 39 + 320 = 366 bytes, 488 characters.
 */
#define FORMAT 1
#define HEAD 7
#define RAW_MAX (HEAD + STORE_ID_MAX - 1 + STORE_CURSOR_TEXT_MAX)

_Static_assert((RAW_MAX * 4 + 2) / 3 < STORE_CURSOR_MAX, "a cursor must fit STORE_CURSOR_MAX");

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* FNV-1a: only to tell one query's cursor from another's, not a secret. */
static uint32_t
fnv(uint32_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Returns the tag binding a cursor to one kind, sort and direction. Pure. */
uint32_t
store_cursor_tag(const char *kind, const char *sort, bool desc)
{
	uint32_t h = 2166136261u;

	h = fnv(h, kind, strlen(kind) + 1);
	h = fnv(h, sort, strlen(sort) + 1);
	return fnv(h, desc ? "d" : "a", 1);
}

/* Fills c with t as text, cutting a long one on a UTF-8 boundary. Borrows t. */
void
store_cursor_set_text(struct store_cursor *c, const char *t, size_t tlen)
{
	size_t n = tlen;

	c->type = STORE_C_TEXT;
	if (tlen > STORE_CURSOR_TEXT_MAX) {
		c->type = STORE_C_LONG;
		n = STORE_CURSOR_TEXT_MAX;
		while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(c->text, t, n);
	c->text[n] = '\0';
	c->tlen = n;
}

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xFF);
		v >>= 8;
	}
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Encodes c for tag into out (STORE_CURSOR_MAX bytes). CS_EINVAL for a malformed c. */
cs_err
store_cursor_encode(uint32_t tag, const struct store_cursor *c, char *out)
{
	unsigned char raw[RAW_MAX];
	size_t idlen = strnlen(c->id, STORE_ID_MAX), n = HEAD, o = 0;
	uint64_t bits;

	out[0] = '\0';
	if (idlen == 0 || idlen >= STORE_ID_MAX)
		return CS_EINVAL;
	raw[0] = FORMAT;
	raw[1] = (unsigned char)(tag >> 24);
	raw[2] = (unsigned char)(tag >> 16);
	raw[3] = (unsigned char)(tag >> 8);
	raw[4] = (unsigned char)tag;
	raw[5] = (unsigned char)c->type;
	raw[6] = (unsigned char)idlen;
	memcpy(raw + n, c->id, idlen);
	n += idlen;
	switch (c->type) {
	case STORE_C_ID:
	case STORE_C_NULL:
		break;
	case STORE_C_INT:
		put64(raw + n, (uint64_t)c->i);
		n += 8;
		break;
	case STORE_C_REAL:
		memcpy(&bits, &c->r, sizeof(bits));
		put64(raw + n, bits);
		n += 8;
		break;
	case STORE_C_TEXT:
	case STORE_C_LONG:
		if (c->tlen > STORE_CURSOR_TEXT_MAX)
			return CS_EINVAL;
		memcpy(raw + n, c->text, c->tlen);
		n += c->tlen;
		break;
	default:
		return CS_EINVAL;
	}
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16;
		size_t k = n - i < 3 ? n - i : 3;

		if (k > 1)
			v |= (uint32_t)raw[i + 1] << 8;
		if (k > 2)
			v |= raw[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (k > 1)
			out[o++] = b64[(v >> 6) & 63];
		if (k > 2)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	return CS_OK;
}

static int
unb64(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

/* Decodes base64url of len characters into raw; returns the byte count or -1. Rejects
 * non-canonical text (a length of 1 mod 4, stray bits in the last character). */
static long
decode(const char *s, size_t len, unsigned char *raw, size_t max)
{
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = unb64(s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == max)
				return -1;
			raw[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	return (long)n;
}

/* Decodes s, checking every byte; CS_EINVAL with e set for anything but a cursor for tag. */
cs_err
store_cursor_decode(uint32_t tag, const char *s, struct store_cursor *c, struct cs_error *e)
{
	unsigned char raw[RAW_MAX];
	size_t len = strnlen(s, STORE_CURSOR_MAX), idlen, vlen;
	long n;
	uint64_t bits;

	memset(c, 0, sizeof(*c));
	if (len == 0 || len >= STORE_CURSOR_MAX)
		return cs_error_set(e, CS_EINVAL, "bad cursor: wrong length");
	n = decode(s, len, raw, sizeof(raw));
	if (n < HEAD || raw[0] != FORMAT)
		return cs_error_set(e, CS_EINVAL, "bad cursor: not a cursor");
	if (((uint32_t)raw[1] << 24 | (uint32_t)raw[2] << 16 | (uint32_t)raw[3] << 8 | raw[4]) != tag)
		return cs_error_set(e, CS_EINVAL, "bad cursor: made for another kind, sort or order");
	idlen = raw[6];
	if (idlen == 0 || idlen >= STORE_ID_MAX || (size_t)n < HEAD + idlen)
		return cs_error_set(e, CS_EINVAL, "bad cursor: bad id");
	memcpy(c->id, raw + HEAD, idlen);
	c->id[idlen] = '\0';
	/* a NUL inside would cut the id short and hide the bytes after it from the check */
	if (memchr(c->id, '\0', idlen) != NULL || !store_id_ok(c->id, STORE_ID_MAX))
		return cs_error_set(e, CS_EINVAL, "bad cursor: bad id");
	vlen = (size_t)n - HEAD - idlen;
	c->type = (enum store_ctype)raw[5];
	switch (c->type) {
	case STORE_C_ID:
	case STORE_C_NULL:
		if (vlen != 0)
			goto bad;
		break;
	case STORE_C_INT:
		if (vlen != 8)
			goto bad;
		c->i = (long long)get64(raw + HEAD + idlen);
		break;
	case STORE_C_REAL:
		if (vlen != 8)
			goto bad;
		bits = get64(raw + HEAD + idlen);
		memcpy(&c->r, &bits, sizeof(c->r));
		if (isnan(c->r))
			goto bad;
		break;
	case STORE_C_TEXT:
	case STORE_C_LONG:
		/* a long one was cut at most 3 bytes short of the limit, on a character boundary */
		if (vlen > STORE_CURSOR_TEXT_MAX ||
		    (c->type == STORE_C_LONG && vlen + 3 < STORE_CURSOR_TEXT_MAX))
			goto bad;
		if (!cs_utf8_valid((const char *)raw + HEAD + idlen, vlen))
			goto bad;
		memcpy(c->text, raw + HEAD + idlen, vlen);
		c->text[vlen] = '\0';
		c->tlen = vlen;
		break;
	default:
		goto bad;
	}
	return CS_OK;
bad:
	memset(c, 0, sizeof(*c));
	return cs_error_set(e, CS_EINVAL, "bad cursor: bad value");
}

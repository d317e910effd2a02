/* fuzz_cursor.c - libFuzzer target for the repository's pagination cursors (`cursor=` of every
 * list call, and of the admin's pages through the store): a cursor is opaque text the client
 * hands back, so any text must be either refused or decoded to a position that encodes back to
 * exactly the same text (the decoder accepts one spelling per position).
 *
 * The first byte picks the query the cursor is checked against and how the rest is read: as the
 * cursor text itself, or as the raw bytes after the format and tag, which the target encodes
 * (base64url) so that inputs reach the checks of the id and value past the tag. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *kind, *sort;
	bool desc;
} queries[] = {
	{ "contract", "id", false },
	{ "contract", "expiration_date", true },
	{ "contract", "created_at", false },
	{ "counterparty", "updated_at", true },
	{ "obligation", "due_date", false },
	{ "contract", "total_value", true },
};

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Base64url without padding of raw[0..n) into out (cap bytes); false when it does not fit. */
static bool
encode(const unsigned char *raw, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	if ((n + 2) / 3 * 4 + 1 > cap)
		return false;
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
	return true;
}

static void
check(uint32_t tag, const char *s)
{
	struct store_cursor c;
	struct cs_error e;
	char again[STORE_CURSOR_MAX];

	if (store_cursor_decode(tag, s, &c, &e) != CS_OK) {
		if (e.code != CS_EINVAL || e.msg[0] == '\0')
			abort();
		return;
	}
	if (!store_id_ok(c.id, STORE_ID_MAX) || c.tlen > STORE_CURSOR_TEXT_MAX ||
	    ((c.type == STORE_C_TEXT || c.type == STORE_C_LONG) && !cs_utf8_valid(c.text, c.tlen)))
		abort();
	if (store_cursor_encode(tag, &c, again) != CS_OK || strcmp(again, s) != 0)
		abort();
	/* a cursor is bound to its query: any other query refuses it */
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		uint32_t other = store_cursor_tag(queries[i].kind, queries[i].sort, queries[i].desc);
		if (other != tag && store_cursor_decode(other, s, &c, &e) == CS_OK)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t q;
	uint32_t tag;
	char text[STORE_CURSOR_MAX * 2];

	if (size < 1 || size > STORE_CURSOR_MAX * 2)
		return 0;
	q = (data[0] & 0x7f) % (sizeof(queries) / sizeof(queries[0]));
	tag = store_cursor_tag(queries[q].kind, queries[q].sort, queries[q].desc);
	if (data[0] & 0x80) {
		unsigned char raw[STORE_CURSOR_MAX];

		if (size - 1 + 5 > sizeof(raw))
			return 0;
		raw[0] = 1;
		raw[1] = (unsigned char)(tag >> 24);
		raw[2] = (unsigned char)(tag >> 16);
		raw[3] = (unsigned char)(tag >> 8);
		raw[4] = (unsigned char)tag;
		memcpy(raw + 5, data + 1, size - 1);
		if (!encode(raw, size - 1 + 5, text, sizeof(text)))
			return 0;
	} else {
		memcpy(text, data + 1, size - 1);
		text[size - 1] = '\0';
	}
	check(tag, text);
	return 0;
}

/* json.c - jansson helpers. */
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

bool
cs_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p;
		size_t n;
		unsigned cp;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1; cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2; cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3; cp = c & 0x07;
		} else
			return false;
		if ((size_t)(end - p) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += n + 1;
	}
	return true;
}

/* jansson has no depth limit of its own that we can set; check before parsing so that a
 * hostile body of nested brackets cannot exhaust the stack. */
static bool
depth_ok(const char *p, size_t len)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '[' || c == '{') {
			if (++depth > CS_JSON_MAX_DEPTH)
				return false;
		} else if (c == ']' || c == '}')
			depth--;
	}
	return true;
}

cs_err
cs_json_parse(const char *p, size_t len, json_t **out, struct cs_error *e)
{
	json_error_t je;

	*out = NULL;
	if (!cs_utf8_valid(p, len))
		return cs_error_set(e, CS_EUTF8, "invalid UTF-8 in JSON text");
	if (!depth_ok(p, len))
		return cs_error_set(e, CS_ETOOBIG, "JSON nested deeper than %d levels", CS_JSON_MAX_DEPTH);
	*out = json_loadb(p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (*out == NULL)
		return cs_error_set(e, CS_EPARSE, "%s at line %d column %d", je.text, je.line, je.column);
	return CS_OK;
}

static int
dump_cb(const char *buffer, size_t size, void *data)
{
	return cs_buf_append(data, buffer, size) == CS_OK ? 0 : -1;
}

cs_err
cs_json_dump(const json_t *v, struct cs_buf *b)
{
	if (json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) != 0)
		return CS_ENOMEM;
	return CS_OK;
}

char *
cs_json_str(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

cs_err
cs_json_quote(struct cs_buf *b, const char *s, size_t n)
{
	json_t *str = json_stringn_nocheck(s, n);
	cs_err e;

	if (str == NULL)
		return CS_ENOMEM;
	e = cs_json_dump(str, b);
	json_decref(str);
	return e;
}

const char *
cs_json_get_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

long long
cs_json_get_int(const json_t *obj, const char *key, long long dflt)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

bool
cs_json_get_bool(const json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

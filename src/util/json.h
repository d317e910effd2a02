/* json.h - small helpers on jansson: bounded parsing, dumping into a cs_buf, typed getters. */
#ifndef CS_JSON_H
#define CS_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include "util/buf.h"
#include "util/err.h"

#define CS_JSON_MAX_DEPTH 64

/* Parses len bytes of UTF-8 JSON (any top-level value). On success *out is a new reference
 * the caller releases with json_decref(). On failure *out is NULL and e says where: CS_EPARSE
 * for syntax, CS_EUTF8 for bad UTF-8, CS_ETOOBIG when nesting exceeds CS_JSON_MAX_DEPTH. */
cs_err cs_json_parse(const char *p, size_t len, json_t **out, struct cs_error *e);

/* Appends the compact encoding of v to b. */
cs_err cs_json_dump(const json_t *v, struct cs_buf *b);

/* Returns a new malloc'd compact encoding of v (NULL on ENOMEM); caller frees with free(). */
char *cs_json_str(const json_t *v);

/* Appends s (n bytes, UTF-8) to b as a quoted, escaped JSON string. */
cs_err cs_json_quote(struct cs_buf *b, const char *s, size_t n);

/* Borrowed accessors; NULL / dflt when missing or of another type. */
const char *cs_json_get_str(const json_t *obj, const char *key);
long long cs_json_get_int(const json_t *obj, const char *key, long long dflt);
bool cs_json_get_bool(const json_t *obj, const char *key, bool dflt);

/* True when p[0..len) is valid UTF-8 (no overlongs, no surrogates). */
bool cs_utf8_valid(const char *p, size_t len);

#endif

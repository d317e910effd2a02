/* id.h - record ids: a short type prefix and a ULID, stable, opaque and sortable by creation. */
#ifndef CS_ID_H
#define CS_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

#define CS_ID_PREFIX_MAX 8   /* letters in a prefix, '_' not counted */
#define CS_ID_ULID_LEN 26    /* Crockford base32 characters of a ULID */
#define CS_ID_MAX 40         /* bytes that always hold an id, NUL included */

/* The prefixes in use, without the '_' separator. */
#define CS_ID_COUNTERPARTY "cp"
#define CS_ID_CONTRACT "ct"
#define CS_ID_AMENDMENT "am"
#define CS_ID_OBLIGATION "ob"
#define CS_ID_APPROVAL "ap"
#define CS_ID_SIGNATURE "sg"
#define CS_ID_DOCUMENT "dc"

/* Writes a new id into out: prefix, '_', and a 26-character ULID in upper-case Crockford base32
 * (48-bit Unix time in milliseconds, then 80 random bits from getrandom(2)), e.g.
 * "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WS". prefix is 1..CS_ID_PREFIX_MAX lower-case letters, given with or
 * without its trailing '_' ("ct" and "ct_" give the same). Ids made by one process sort, as bytes,
 * in the order they were made, also within one millisecond (the random part is incremented) and
 * when the wall clock steps back (the last time is kept until the clock catches up).
 * Thread-safe. Errors: CS_EINVAL bad prefix (out is ""), CS_EIO when getrandom fails. */
cs_err cs_id_new(const char *prefix, char out[CS_ID_MAX]);

/* True when s[0..len) is prefix '_' ULID with a valid ULID (26 upper-case Crockford characters,
 * first one 0-7 so it fits 128 bits). prefix as for cs_id_new; NULL accepts any well-formed
 * prefix. Never reads past len. */
bool cs_id_valid(const char *prefix, const char *s, size_t len);

/* The creation time in Unix milliseconds encoded in a valid id, or -1 when it is not one. */
int64_t cs_id_time_ms(const char *s, size_t len);

#endif

/* sfid.h - Salesforce record ids: 15/18-character forms and the checksum suffix. */
#ifndef CS_SFID_H
#define CS_SFID_H

#include <stdbool.h>
#include <stddef.h>

#define SFID_LEN 18

/* Writes the 3-character case-safety suffix of the 15-character id p into out[0..3). */
void sfid_suffix(const char p[15], char out[3]);

/* Normalises a 15- or 18-character id to its 18-character form in out (19 bytes, NUL-ended).
 * Returns false when s is not a well-formed id (wrong length, non-alphanumeric characters,
 * or an 18-character id whose suffix does not match). */
bool sfid_to18(const char *s, size_t len, char out[SFID_LEN + 1]);

/* Builds the 18-character id for key prefix `prefix` (3 chars), pod `pod` (2 chars) and
 * sequence number seq (base 62, 10 digits) into out (19 bytes). */
void sfid_make(const char prefix[3], const char pod[2], unsigned long long seq, char out[SFID_LEN + 1]);

/* True when a and b (15 or 18 chars) name the same record. */
bool sfid_equal(const char *a, const char *b);

#endif

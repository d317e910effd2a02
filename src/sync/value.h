/* value.h - one mapped field's value in its canonical form, read from either side and written to either side. */
#ifndef CS_SYNC_VALUE_H
#define CS_SYNC_VALUE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/*
 * The engine compares the values of one mapped field (struct cs_field_map) in one form, the
 * canonical value: the value as the Salesforce field holds it, written exactly, so that a
 * repository value and a Salesforce value are equal exactly when the field would not change by
 * writing one onto the other. It is a JSON value:
 *   null                          no value (absent or "" text on the repository side, null in
 *                                 Salesforce, which keeps no empty text)
 *   string "..."                  text, picklist values (after the value map), ids, ISO 4217 codes
 *   string "2026-01-31"           a date (repository date -> Salesforce date)
 *   string "2026-01-31T00:00:00.000Z"   a date-time, always UTC with milliseconds
 *   string "120000.50"            a currency, number or decimal: exact digits, with exactly
 *                                 `scale` fraction digits when the map has one (has_scale), else
 *                                 as the repository writes it with trailing fraction zeros removed
 *                                 ("12.50" -> "12.5", "3.0" -> "3")
 *   integer                       an integer field (ContractTerm)
 *   true / false                  a boolean
 * A lookup (f->lookup_to != NULL) is the exception: its canonical value is the REPOSITORY id of
 * the referenced record ("cp_01J...") or null; the engine translates it through its links.
 * An error message (err, errn bytes, NUL-terminated) says what is wrong in words an operator can
 * act on, naming the field; it never holds more than 64 bytes of the value itself.
 * Every function here is pure and thread-safe; borrowed arguments are only read during the call.
 */

enum sync_val {
	SYNC_VAL_OK = 0,      /* *out is set */
	SYNC_VAL_SKIP,        /* the value is listed in not_synced: leave the target as it is (an
	                       * absent money value is null in both parts, not a skip) */
	SYNC_VAL_ERROR,       /* a permanent error for this record; err says why */
};

/* The canonical value of f from a repository record in its API shape (borrowed: top-level
 * fields, custom attributes under "custom", money as {"amount","currency"}). *out is a new
 * reference on SYNC_VAL_OK. Errors: a value the value map does not cover ("status value
 * 'renewed' has no value for Status"), an amount with more fraction digits than scale, a text
 * longer than max_length with transform truncate off... (truncate with allow_truncate cuts to
 * max_length characters, counting UTF-8 characters, never bytes), a value of the wrong type. */
enum sync_val sync_value_from_clm(const struct cs_field_map *f, const json_t *record, json_t **out,
                                  char *err, size_t errn);

/* The canonical value of f from a Salesforce record or change-event payload (borrowed object of
 * Salesforce field names). *present is false (and SYNC_VAL_OK with *out = NULL) when the object
 * does not carry f->sf at all (an event lists only changed fields; names compare
 * case-insensitively, as Salesforce's do). JSON null is a value (a cleared field). Numbers arrive
 * as JSON numbers (integers or reals): a currency with has_scale is written with exactly scale
 * fraction digits, rounding half away from zero (Salesforce has already stored it at that scale);
 * a date-time is normalised to milliseconds UTC; a lookup keeps the Salesforce id it holds (the
 * caller translates it). Errors: a value of the wrong JSON type for the field's kind; a real too
 * large to give its digits back exactly (1e15 and above; with has_scale, once the double's
 * spacing reaches 10^-scale: 2^46, about 7.0e13, at scale 2). */
enum sync_val sync_value_from_sf(const struct cs_field_map *f, const json_t *sfrec, bool *present,
                                 json_t **out, char *err, size_t errn);

/* The JSON value to send for f to Salesforce from canonical value v (borrowed): currencies and
 * decimals are sent as JSON strings holding the exact digits (Salesforce accepts them and never
 * sees a binary float), integers as integers, the rest as they are. For a lookup the caller
 * passes the Salesforce id it resolved instead of v. Returns a new reference (NULL only when out
 * of memory). */
json_t *sync_value_to_sf(const struct cs_field_map *f, const json_t *v);

/* Adds canonical value v (borrowed) of f to patch, a repository update body under construction
 * (a JSON object, changed in place), in the repository's form: the reverse value map (an
 * unmapped or ambiguous value is an error: "Salesforce value 'Foo' of Status has no repository
 * value"), custom.<name> under "custom", a money part merged with the other part into
 * "total_value" {"amount","currency"} (taking the missing part from patch first, then from
 * current, the record as stored, which may be NULL for a create. The amount is expected before
 * the currency: an amount with no currency yet goes in alone for the currency part to complete
 * (the repository refuses it if none comes: an amount needs a currency); a currency with no
 * amount anywhere leaves patch as it is; a null amount makes the money null; a null currency
 * too, but it is an error while an amount stays), a date-time converted to its UTC date for a
 * date field (date_to_datetime), decimals as strings, integers as integers (a decimal with a non-zero
 * fraction into an integer field is an error). A lookup's v is already a repository id and is
 * set as it is. null clears the field. Returns SYNC_VAL_OK, or SYNC_VAL_ERROR with err set and
 * patch unchanged. */
enum sync_val sync_value_to_clm(const struct cs_field_map *f, const json_t *v, const json_t *current,
                                json_t *patch, char *err, size_t errn);

/* True when canonical values a and b are equal (NULL counts as null). */
bool sync_value_equal(const json_t *a, const json_t *b);

#endif

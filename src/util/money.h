/* money.h - exact decimal money in ISO 4217 currencies and exact decimals; never binary floats. */
#ifndef CS_MONEY_H
#define CS_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

/* The longest decimal text any parser here reads; longer input is CS_ETOOBIG before any work. */
#define CS_DECIMAL_INPUT_MAX 64
/* Bytes that always hold a formatted amount or decimal, NUL included
 * ("-9.223372036854775808" and "-0.000000000000000001" both fit). */
#define CS_DECIMAL_TEXT_MAX 32
/* The largest scale (fraction digits) of a cs_decimal. */
#define CS_DECIMAL_SCALE_MAX 18
/* The largest exponent (minor-unit digits) of any currency in the table. */
#define CS_CURRENCY_EXPONENT_MAX 4

/* How a value with more fraction digits than the target is brought to the target scale.
 * CS_ROUND_EXACT refuses (CS_EINVAL) any change of value: only trailing zeros may go.
 * CS_ROUND_HALF_EVEN rounds ties to the even neighbour (banker's rounding, IEEE 754 default):
 *   2.345 -> 2.34, 2.355 -> 2.36, -2.345 -> -2.34.
 * CS_ROUND_HALF_UP rounds ties away from zero (commercial rounding, Java's HALF_UP,
 *   Salesforce's rounding of currency fields): 2.345 -> 2.35, -2.345 -> -2.35.
 * Non-ties go to the nearest neighbour in every mode but EXACT. */
enum cs_rounding { CS_ROUND_EXACT, CS_ROUND_HALF_EVEN, CS_ROUND_HALF_UP };

/* An amount of money: `minor` units of the currency (cents for EUR, yen for JPY, fils (1/1000)
 * for BHD). A small value type for the stack; currency is a NUL-terminated ISO 4217 code that
 * cs_currency_exponent() knows. Build it with cs_money_parse/cs_money_init/cs_money_from_decimal;
 * read it with cs_money_format/cs_money_cmp/cs_money_add/cs_money_sub/cs_money_to_decimal. */
struct cs_money {
	int64_t minor;
	char currency[4];
};

/* An exact decimal: coef x 10^-scale, 0 <= scale <= CS_DECIMAL_SCALE_MAX. Scale is kept as
 * written ("1.50" is {150, 2}); cs_decimal_cmp compares values, so 1.5 == 1.50. A value type. */
struct cs_decimal {
	int64_t coef;
	int scale;
};

/* --- currencies ------------------------------------------------------------------------- */

/* The number of minor-unit digits of an ISO 4217 code (JPY 0, EUR 2, BHD 3, CLF 4), or -1
 * when code is NULL, not three upper-case letters, or not in the table. The table holds the
 * codes of ISO 4217 list one that have a minor unit, and codes withdrawn recently (HRK, SLL,
 * ZWL, CUC, ANG) so that contracts written in them stay readable. Codes without a minor unit
 * (XAU, XDR, XTS, XXX, ...) are not money here. Thread-safe (read-only table). */
int cs_currency_exponent(const char *code);

/* True when code is a currency cs_currency_exponent() knows. */
bool cs_currency_valid(const char *code);

/* Calls fn(code, exponent, arg) for every currency in the table, in code order (for docs and
 * tests). */
void cs_currency_each(void (*fn)(const char *code, int exponent, void *arg), void *arg);

/* --- money -------------------------------------------------------------------------------- */

/* Sets *out to minor units of currency. CS_EINVAL (e says why) for an unknown currency. */
cs_err cs_money_init(struct cs_money *out, int64_t minor, const char *currency, struct cs_error *e);

/* Parses the amount text s (len bytes, not NUL-terminated) in currency into *out.
 * Grammar: ["-"] DIGIT+ ["." DIGIT+], at most CS_DECIMAL_INPUT_MAX bytes. Refused, with a message
 * in e saying which: a leading "+", spaces, exponents ("1e3"), a lone or trailing point (".5",
 * "5."), thousands separators, anything else (CS_EINVAL); more fraction digits than the currency's
 * exponent, even zeros ("1.500" in EUR; round with cs_money_from_decimal when that is meant)
 * (CS_EINVAL); an unknown currency (CS_EINVAL); an amount outside int64 minor units (CS_ETOOBIG);
 * input over CS_DECIMAL_INPUT_MAX (CS_ETOOBIG). Leading zeros are allowed; "-0" is zero.
 * *out is unchanged on error. */
cs_err cs_money_parse(const char *s, size_t len, const char *currency, struct cs_money *out,
                      struct cs_error *e);

/* Writes the canonical text of m's amount into out (n bytes; CS_DECIMAL_TEXT_MAX always
 * suffices): exactly the currency's exponent fraction digits, "-" for negatives, no "+", no
 * leading zeros ("1234.50", "-0.05", "1000" for JPY, "1.000" for BHD). CS_EINVAL for an unknown
 * currency, CS_ETOOBIG when n is too small; out is "" on error (when n > 0). */
cs_err cs_money_format(const struct cs_money *m, char *out, size_t n);

/* *out = a + b (or a - b). CS_EINVAL when the currencies differ, CS_ETOOBIG on int64 overflow;
 * *out is unchanged on error. out may alias a or b. */
cs_err cs_money_add(const struct cs_money *a, const struct cs_money *b, struct cs_money *out);
cs_err cs_money_sub(const struct cs_money *a, const struct cs_money *b, struct cs_money *out);

/* *cmp = -1, 0 or 1 as a <, ==, > b. CS_EINVAL when the currencies differ (amounts in
 * different currencies are not comparable). */
cs_err cs_money_cmp(const struct cs_money *a, const struct cs_money *b, int *cmp);

/* True when a and b have the same currency and amount. */
bool cs_money_equal(const struct cs_money *a, const struct cs_money *b);

/* Converts d to money in currency, bringing it to the currency's exponent with mode (a
 * Salesforce currency field of scale 2 holding JPY, a computed decimal with 6 places, ...).
 * CS_EINVAL: unknown currency, or mode EXACT and digits would be lost; CS_ETOOBIG on overflow. */
cs_err cs_money_from_decimal(const struct cs_decimal *d, const char *currency, enum cs_rounding mode,
                             struct cs_money *out, struct cs_error *e);

/* The amount of m as a decimal with scale = the currency's exponent. CS_EINVAL for an unknown
 * currency. */
cs_err cs_money_to_decimal(const struct cs_money *m, struct cs_decimal *out);

/* --- rounding ----------------------------------------------------------------------------- */

/* Rescales coef x 10^-from to scale `to` with mode: *out is the coefficient at scale `to`.
 * Widening (to > from) multiplies and is exact. 0 <= from, to <= CS_DECIMAL_SCALE_MAX.
 * CS_EINVAL for a bad scale or (EXACT) lost digits; CS_ETOOBIG on overflow. */
cs_err cs_round_scale(int64_t coef, int from, int to, enum cs_rounding mode, int64_t *out);

/* --- decimals (custom attributes of type "decimal") ---------------------------------------- */

/* Parses s (len bytes) with the grammar of cs_money_parse and at most CS_DECIMAL_SCALE_MAX
 * fraction digits; the scale is the number of fraction digits written. Errors as
 * cs_money_parse (CS_EINVAL malformed or too many fraction digits, CS_ETOOBIG outside int64). */
cs_err cs_decimal_parse(const char *s, size_t len, struct cs_decimal *out, struct cs_error *e);

/* Writes d with exactly d->scale fraction digits ("1.50", "-0.001", "42"). CS_EINVAL for a bad
 * scale, CS_ETOOBIG when n is too small (CS_DECIMAL_TEXT_MAX always suffices). */
cs_err cs_decimal_format(const struct cs_decimal *d, char *out, size_t n);

/* Compares values exactly across scales: returns -1, 0 or 1. Both must have valid scales. */
int cs_decimal_cmp(const struct cs_decimal *a, const struct cs_decimal *b);

/* Removes trailing fraction zeros ({150, 2} -> {15, 1}; {0, 5} -> {0, 0}): one canonical form
 * per value, for equality by bytes. */
struct cs_decimal cs_decimal_normalize(struct cs_decimal d);

/* *out = d at scale `scale` with mode; errors as cs_round_scale. */
cs_err cs_decimal_rescale(const struct cs_decimal *d, int scale, enum cs_rounding mode,
                          struct cs_decimal *out);

#endif

/* money.c - exact decimal money: ISO 4217 exponents, strict parsing, rounding, canonical text. */
#include "util/money.h"

#include <stdlib.h>
#include <string.h>

/* ISO 4217 list one, codes with a minor unit, sorted by code (bsearch; a unit test checks the
 * order). Current as of 2025, ZWG (2024) and XCG (2025) included. Kept although withdrawn, so contracts written in them stay readable:
 * ANG (replaced by XCG), CUC, HRK (euro since 2023), SLL (replaced by SLE), ZWL (replaced by ZWG).
 * Left out on purpose: codes whose minor unit ISO gives as "N.A." (XAG, XAU, XBA-XBD, XDR, XPD,
 * XPT, XSU, XTS, XUA, XXX): precious metals, units of account and test codes are not money. */
static const struct currency {
	char code[4];
	int exponent;
} currencies[] = {
	{ "AED", 2 }, { "AFN", 2 }, { "ALL", 2 }, { "AMD", 2 }, { "ANG", 2 }, { "AOA", 2 },
	{ "ARS", 2 }, { "AUD", 2 }, { "AWG", 2 }, { "AZN", 2 }, { "BAM", 2 }, { "BBD", 2 },
	{ "BDT", 2 }, { "BGN", 2 }, { "BHD", 3 }, { "BIF", 0 }, { "BMD", 2 }, { "BND", 2 },
	{ "BOB", 2 }, { "BOV", 2 }, { "BRL", 2 }, { "BSD", 2 }, { "BTN", 2 }, { "BWP", 2 },
	{ "BYN", 2 }, { "BZD", 2 }, { "CAD", 2 }, { "CDF", 2 }, { "CHE", 2 }, { "CHF", 2 },
	{ "CHW", 2 }, { "CLF", 4 }, { "CLP", 0 }, { "CNY", 2 }, { "COP", 2 }, { "COU", 2 },
	{ "CRC", 2 }, { "CUC", 2 }, { "CUP", 2 }, { "CVE", 2 }, { "CZK", 2 }, { "DJF", 0 },
	{ "DKK", 2 }, { "DOP", 2 }, { "DZD", 2 }, { "EGP", 2 }, { "ERN", 2 }, { "ETB", 2 },
	{ "EUR", 2 }, { "FJD", 2 }, { "FKP", 2 }, { "GBP", 2 }, { "GEL", 2 }, { "GHS", 2 },
	{ "GIP", 2 }, { "GMD", 2 }, { "GNF", 0 }, { "GTQ", 2 }, { "GYD", 2 }, { "HKD", 2 },
	{ "HNL", 2 }, { "HRK", 2 }, { "HTG", 2 }, { "HUF", 2 }, { "IDR", 2 }, { "ILS", 2 },
	{ "INR", 2 }, { "IQD", 3 }, { "IRR", 2 }, { "ISK", 0 }, { "JMD", 2 }, { "JOD", 3 },
	{ "JPY", 0 }, { "KES", 2 }, { "KGS", 2 }, { "KHR", 2 }, { "KMF", 0 }, { "KPW", 2 },
	{ "KRW", 0 }, { "KWD", 3 }, { "KYD", 2 }, { "KZT", 2 }, { "LAK", 2 }, { "LBP", 2 },
	{ "LKR", 2 }, { "LRD", 2 }, { "LSL", 2 }, { "LYD", 3 }, { "MAD", 2 }, { "MDL", 2 },
	{ "MGA", 2 }, { "MKD", 2 }, { "MMK", 2 }, { "MNT", 2 }, { "MOP", 2 }, { "MRU", 2 },
	{ "MUR", 2 }, { "MVR", 2 }, { "MWK", 2 }, { "MXN", 2 }, { "MXV", 2 }, { "MYR", 2 },
	{ "MZN", 2 }, { "NAD", 2 }, { "NGN", 2 }, { "NIO", 2 }, { "NOK", 2 }, { "NPR", 2 },
	{ "NZD", 2 }, { "OMR", 3 }, { "PAB", 2 }, { "PEN", 2 }, { "PGK", 2 }, { "PHP", 2 },
	{ "PKR", 2 }, { "PLN", 2 }, { "PYG", 0 }, { "QAR", 2 }, { "RON", 2 }, { "RSD", 2 },
	{ "RUB", 2 }, { "RWF", 0 }, { "SAR", 2 }, { "SBD", 2 }, { "SCR", 2 }, { "SDG", 2 },
	{ "SEK", 2 }, { "SGD", 2 }, { "SHP", 2 }, { "SLE", 2 }, { "SLL", 2 }, { "SOS", 2 },
	{ "SRD", 2 }, { "SSP", 2 }, { "STN", 2 }, { "SVC", 2 }, { "SYP", 2 }, { "SZL", 2 },
	{ "THB", 2 }, { "TJS", 2 }, { "TMT", 2 }, { "TND", 3 }, { "TOP", 2 }, { "TRY", 2 },
	{ "TTD", 2 }, { "TWD", 2 }, { "TZS", 2 }, { "UAH", 2 }, { "UGX", 0 }, { "USD", 2 },
	{ "USN", 2 }, { "UYI", 0 }, { "UYU", 2 }, { "UYW", 4 }, { "UZS", 2 }, { "VED", 2 },
	{ "VES", 2 }, { "VND", 0 }, { "VUV", 0 }, { "WST", 2 }, { "XAF", 0 }, { "XCD", 2 },
	{ "XCG", 2 }, { "XOF", 0 }, { "XPF", 0 }, { "YER", 2 }, { "ZAR", 2 }, { "ZMW", 2 },
	{ "ZWG", 2 }, { "ZWL", 2 },
};

#define NCURRENCIES (sizeof(currencies) / sizeof(currencies[0]))

/* Powers of ten that fit int64: 10^0 .. 10^18. */
static const int64_t pow10[19] = {
	1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL, 100000000LL,
	1000000000LL, 10000000000LL, 100000000000LL, 1000000000000LL, 10000000000000LL,
	100000000000000LL, 1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
	1000000000000000000LL,
};

static int
cmp_code(const void *k, const void *el)
{
	return memcmp(k, ((const struct currency *)el)->code, 3);
}

int
cs_currency_exponent(const char *code)
{
	const struct currency *c;

	if (code == NULL || strnlen(code, 4) != 3)
		return -1;
	for (int i = 0; i < 3; i++)
		if (code[i] < 'A' || code[i] > 'Z')
			return -1;
	c = bsearch(code, currencies, NCURRENCIES, sizeof(currencies[0]), cmp_code);
	return c == NULL ? -1 : c->exponent;
}

bool
cs_currency_valid(const char *code)
{
	return cs_currency_exponent(code) >= 0;
}

void
cs_currency_each(void (*fn)(const char *code, int exponent, void *arg), void *arg)
{
	for (size_t i = 0; i < NCURRENCIES; i++)
		fn(currencies[i].code, currencies[i].exponent, arg);
}

/* Writes a printable form of a currency argument for messages: never echoes raw bytes. */
static const char *
code_text(const char *code)
{
	if (code == NULL)
		return "(none)";
	for (size_t i = 0; i < 4; i++) {
		if (code[i] == '\0')
			return i == 0 ? "(empty)" : code;
		if (code[i] < 'A' || code[i] > 'Z')
			break;
	}
	return "(not three upper-case letters)";
}

/* Parses ["-"] DIGIT+ ["." DIGIT+] into sign, magnitude (all digits as one integer, at most
 * 2^63) and the number of fraction digits (at most max_frac). what names the value in messages. */
static cs_err
parse_number(const char *s, size_t len, int max_frac, const char *what, const char *why_frac,
             bool *neg, uint64_t *mag, int *frac, struct cs_error *e)
{
	const uint64_t limit = UINT64_C(1) << 63;
	size_t i = 0, int_digits = 0;
	uint64_t m = 0;
	int f = -1;   /* -1 until the point is seen */

	if (s == NULL || len == 0)
		return cs_error_set(e, CS_EINVAL, "%s is empty", what);
	if (len > CS_DECIMAL_INPUT_MAX)
		return cs_error_set(e, CS_ETOOBIG, "%s is longer than %d characters", what,
		                    CS_DECIMAL_INPUT_MAX);
	*neg = false;
	if (s[0] == '-') {
		*neg = true;
		i++;
	} else if (s[0] == '+') {
		return cs_error_set(e, CS_EINVAL, "%s must not start with '+' (write 12.50, not +12.50)",
		                    what);
	}
	for (; i < len; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9') {
			unsigned d = (unsigned)(c - '0');

			if (m > (limit - d) / 10)
				return cs_error_set(e, CS_ETOOBIG, "%s is out of range", what);
			m = m * 10 + d;
			if (f < 0)
				int_digits++;
			else
				f++;
		} else if (c == '.' && f < 0) {
			if (int_digits == 0)
				return cs_error_set(e, CS_EINVAL, "%s needs a digit before '.' (write 0.5)", what);
			f = 0;
		} else if (c == 'e' || c == 'E') {
			return cs_error_set(e, CS_EINVAL, "%s must be plain decimal digits, not an exponent "
			                    "form such as 1e3", what);
		} else {
			return cs_error_set(e, CS_EINVAL, "%s must be digits with an optional leading '-' "
			                    "and one '.' (like 1234.50), without spaces or separators", what);
		}
	}
	if (int_digits == 0)
		return cs_error_set(e, CS_EINVAL, "%s has no digits", what);
	if (f == 0)
		return cs_error_set(e, CS_EINVAL, "%s needs a digit after '.' (write 5 or 5.0)", what);
	if (f < 0)
		f = 0;
	if (f > max_frac)
		return cs_error_set(e, CS_EINVAL, "%s has %d fraction digits; %s allows at most %d",
		                    what, f, why_frac, max_frac);
	*mag = m;
	*frac = f;
	return CS_OK;
}

/* Applies a sign to a magnitude of at most 2^63; CS_ETOOBIG when it does not fit int64. */
static cs_err
signed_value(bool neg, uint64_t mag, int64_t *out)
{
	const uint64_t limit = UINT64_C(1) << 63;

	if (neg) {
		if (mag > limit)
			return CS_ETOOBIG;
		*out = mag == limit ? INT64_MIN : -(int64_t)mag;
	} else {
		if (mag >= limit)
			return CS_ETOOBIG;
		*out = (int64_t)mag;
	}
	return CS_OK;
}

cs_err
cs_money_init(struct cs_money *out, int64_t minor, const char *currency, struct cs_error *e)
{
	if (cs_currency_exponent(currency) < 0)
		return cs_error_set(e, CS_EINVAL, "unknown currency %s (expected an ISO 4217 code such "
		                    "as EUR)", code_text(currency));
	out->minor = minor;
	memcpy(out->currency, currency, 4);
	return CS_OK;
}

cs_err
cs_money_parse(const char *s, size_t len, const char *currency, struct cs_money *out,
               struct cs_error *e)
{
	int exp = cs_currency_exponent(currency);
	uint64_t mag;
	bool neg;
	int frac;
	int64_t v;
	cs_err rc;

	if (exp < 0)
		return cs_error_set(e, CS_EINVAL, "unknown currency %s (expected an ISO 4217 code such "
		                    "as EUR)", code_text(currency));
	if ((rc = parse_number(s, len, exp, "amount", currency, &neg, &mag, &frac, e)) != CS_OK)
		return rc;
	if (signed_value(neg, mag, &v) != CS_OK ||
	    cs_round_scale(v, frac, exp, CS_ROUND_EXACT, &v) != CS_OK)
		return cs_error_set(e, CS_ETOOBIG, "amount is out of range for %s", currency);
	out->minor = v;
	memcpy(out->currency, currency, 4);
	return CS_OK;
}

/* Writes coef with scale fraction digits. */
static cs_err
format_scaled(int64_t coef, int scale, char *out, size_t n)
{
	char digits[24];
	size_t nd = 0, need, k = 0;
	uint64_t mag;

	if (n > 0)
		out[0] = '\0';
	if (scale < 0 || scale > CS_DECIMAL_SCALE_MAX)
		return CS_EINVAL;
	/* Negating INT64_MIN overflows; go through unsigned arithmetic instead. */
	mag = coef < 0 ? (uint64_t)0 - (uint64_t)coef : (uint64_t)coef;
	do {
		digits[nd++] = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag > 0);
	while (nd < (size_t)scale + 1)   /* at least one digit before the point */
		digits[nd++] = '0';
	need = (coef < 0) + nd + (scale > 0) + 1;
	if (need > n)
		return CS_ETOOBIG;
	if (coef < 0)
		out[k++] = '-';
	for (size_t i = nd; i-- > 0;) {
		out[k++] = digits[i];
		if (i == (size_t)scale && scale > 0)
			out[k++] = '.';
	}
	out[k] = '\0';
	return CS_OK;
}

cs_err
cs_money_format(const struct cs_money *m, char *out, size_t n)
{
	int exp = cs_currency_exponent(m->currency);

	if (exp < 0) {
		if (n > 0)
			out[0] = '\0';
		return CS_EINVAL;
	}
	return format_scaled(m->minor, exp, out, n);
}

static bool
same_currency(const struct cs_money *a, const struct cs_money *b)
{
	return cs_currency_valid(a->currency) && memcmp(a->currency, b->currency, 4) == 0;
}

cs_err
cs_money_add(const struct cs_money *a, const struct cs_money *b, struct cs_money *out)
{
	int64_t r;

	if (!same_currency(a, b))
		return CS_EINVAL;
	if (__builtin_add_overflow(a->minor, b->minor, &r))
		return CS_ETOOBIG;
	memmove(out->currency, a->currency, 4);
	out->minor = r;
	return CS_OK;
}

cs_err
cs_money_sub(const struct cs_money *a, const struct cs_money *b, struct cs_money *out)
{
	int64_t r;

	if (!same_currency(a, b))
		return CS_EINVAL;
	if (__builtin_sub_overflow(a->minor, b->minor, &r))
		return CS_ETOOBIG;
	memmove(out->currency, a->currency, 4);
	out->minor = r;
	return CS_OK;
}

cs_err
cs_money_cmp(const struct cs_money *a, const struct cs_money *b, int *cmp)
{
	if (!same_currency(a, b))
		return CS_EINVAL;
	*cmp = (a->minor > b->minor) - (a->minor < b->minor);
	return CS_OK;
}

bool
cs_money_equal(const struct cs_money *a, const struct cs_money *b)
{
	return same_currency(a, b) && a->minor == b->minor;
}

cs_err
cs_money_from_decimal(const struct cs_decimal *d, const char *currency, enum cs_rounding mode,
                      struct cs_money *out, struct cs_error *e)
{
	int exp = cs_currency_exponent(currency);
	int64_t v;
	cs_err rc;

	if (exp < 0)
		return cs_error_set(e, CS_EINVAL, "unknown currency %s (expected an ISO 4217 code such "
		                    "as EUR)", code_text(currency));
	rc = cs_round_scale(d->coef, d->scale, exp, mode, &v);
	if (rc == CS_ETOOBIG)
		return cs_error_set(e, rc, "amount is out of range for %s", currency);
	if (rc != CS_OK)
		return cs_error_set(e, rc, "amount has %d fraction digits; %s allows at most %d",
		                    d->scale, currency, exp);
	out->minor = v;
	memcpy(out->currency, currency, 4);
	return CS_OK;
}

cs_err
cs_money_to_decimal(const struct cs_money *m, struct cs_decimal *out)
{
	int exp = cs_currency_exponent(m->currency);

	if (exp < 0)
		return CS_EINVAL;
	out->coef = m->minor;
	out->scale = exp;
	return CS_OK;
}

cs_err
cs_round_scale(int64_t coef, int from, int to, enum cs_rounding mode, int64_t *out)
{
	int64_t d, q, r, half_cmp, away;

	if (from < 0 || from > CS_DECIMAL_SCALE_MAX || to < 0 || to > CS_DECIMAL_SCALE_MAX)
		return CS_EINVAL;
	if (to >= from) {
		if (__builtin_mul_overflow(coef, pow10[to - from], &q))
			return CS_ETOOBIG;
		*out = q;
		return CS_OK;
	}
	d = pow10[from - to];
	/* C division truncates toward zero, so r carries coef's sign and |r| < d <= 10^18; 2|r|
	 * stays below 2 * 10^18 < INT64_MAX. */
	q = coef / d;
	r = coef % d;
	if (r == 0) {
		*out = q;
		return CS_OK;
	}
	if (mode == CS_ROUND_EXACT)
		return CS_EINVAL;
	if (mode != CS_ROUND_HALF_EVEN && mode != CS_ROUND_HALF_UP)
		return CS_EINVAL;
	away = coef < 0 ? -1 : 1;
	r = r < 0 ? -r : r;
	half_cmp = 2 * r - d;   /* < 0 below the half, 0 a tie, > 0 above */
	if (half_cmp > 0 || (half_cmp == 0 && (mode == CS_ROUND_HALF_UP || (q & 1) != 0)))
		q += away;   /* |q| <= |coef| / 10, so this cannot overflow */
	*out = q;
	return CS_OK;
}

cs_err
cs_decimal_parse(const char *s, size_t len, struct cs_decimal *out, struct cs_error *e)
{
	uint64_t mag;
	bool neg;
	int frac;
	int64_t v;
	cs_err rc;

	if ((rc = parse_number(s, len, CS_DECIMAL_SCALE_MAX, "decimal", "a decimal", &neg, &mag,
	                       &frac, e)) != CS_OK)
		return rc;
	if (signed_value(neg, mag, &v) != CS_OK)
		return cs_error_set(e, CS_ETOOBIG, "decimal is out of range");
	out->coef = v;
	out->scale = frac;
	return CS_OK;
}

cs_err
cs_decimal_format(const struct cs_decimal *d, char *out, size_t n)
{
	return format_scaled(d->coef, d->scale, out, n);
}

int
cs_decimal_cmp(const struct cs_decimal *a, const struct cs_decimal *b)
{
	/* Bring both to the larger scale in 128 bits: |coef| <= 2^63 times 10^18 < 2^123. Invalid
	 * scales are clamped rather than read out of bounds. */
	int sa = a->scale < 0 ? 0 : a->scale > CS_DECIMAL_SCALE_MAX ? CS_DECIMAL_SCALE_MAX : a->scale;
	int sb = b->scale < 0 ? 0 : b->scale > CS_DECIMAL_SCALE_MAX ? CS_DECIMAL_SCALE_MAX : b->scale;
	int s = sa > sb ? sa : sb;
	__int128 x = (__int128)a->coef * pow10[s - sa];
	__int128 y = (__int128)b->coef * pow10[s - sb];

	return (x > y) - (x < y);
}

struct cs_decimal
cs_decimal_normalize(struct cs_decimal d)
{
	while (d.scale > 0 && d.coef % 10 == 0) {
		d.coef /= 10;
		d.scale--;
	}
	return d;
}

cs_err
cs_decimal_rescale(const struct cs_decimal *d, int scale, enum cs_rounding mode,
                   struct cs_decimal *out)
{
	int64_t v;
	cs_err rc = cs_round_scale(d->coef, d->scale, scale, mode, &v);

	if (rc != CS_OK)
		return rc;
	out->coef = v;
	out->scale = scale;
	return CS_OK;
}

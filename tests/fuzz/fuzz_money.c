/* fuzz_money.c - libFuzzer target for exact decimals and money amounts read from outside (request
 * bodies, CSV cells, Salesforce values): what parses formats to text that parses to the same
 * value; normalising, rescaling and rounding keep the value or move it by less than one unit of
 * the target scale; sums and differences undo each other. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/money.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const currencies[] = { "EUR", "JPY", "BHD", "CLF", "USD", "KWD", "XXX", "eur", "", "EU" };

static void
decimal(const char *s, size_t len, enum cs_rounding mode, int to)
{
	struct cs_decimal d, again, norm, r, back;
	struct cs_error e;
	char txt[CS_DECIMAL_TEXT_MAX];

	if (cs_decimal_parse(s, len, &d, &e) != CS_OK)
		return;
	if (d.scale < 0 || d.scale > CS_DECIMAL_SCALE_MAX || len > CS_DECIMAL_INPUT_MAX)
		abort();
	if (cs_decimal_format(&d, txt, sizeof(txt)) != CS_OK)
		abort();
	if (cs_decimal_parse(txt, strlen(txt), &again, &e) != CS_OK || again.coef != d.coef || again.scale != d.scale)
		abort();
	norm = cs_decimal_normalize(d);
	if (cs_decimal_cmp(&d, &norm) != 0 || norm.scale > d.scale)
		abort();
	if (norm.scale > 0 && norm.coef % 10 == 0)
		abort();
	/* rescaling: exact when widening, and EXACT refuses anything that would change the value */
	if (cs_decimal_rescale(&d, to, mode, &r) == CS_OK) {
		int c = cs_decimal_cmp(&d, &r);
		if (to >= d.scale && c != 0)
			abort();
		if (mode == CS_ROUND_EXACT && c != 0)
			abort();
		/* and back: the value comes back exactly when nothing was rounded away */
		if (c == 0 && (cs_decimal_rescale(&r, d.scale, CS_ROUND_EXACT, &back) != CS_OK ||
		               back.coef != d.coef))
			abort();
	}
}

static void
money(const char *s, size_t len, const char *cur, enum cs_rounding mode)
{
	struct cs_money m, again, sum, diff;
	struct cs_decimal d;
	struct cs_error e;
	char txt[CS_DECIMAL_TEXT_MAX];
	int exp = cs_currency_exponent(cur), cmp;

	if (cs_money_parse(s, len, cur, &m, &e) == CS_OK) {
		if (exp < 0 || strcmp(m.currency, cur) != 0)
			abort();
		if (cs_money_format(&m, txt, sizeof(txt)) != CS_OK)
			abort();
		if (cs_money_parse(txt, strlen(txt), cur, &again, &e) != CS_OK || !cs_money_equal(&m, &again))
			abort();
		if (cs_money_to_decimal(&m, &d) != CS_OK || d.scale != exp || d.coef != m.minor)
			abort();
		if (cs_money_from_decimal(&d, cur, CS_ROUND_EXACT, &again, &e) != CS_OK || !cs_money_equal(&m, &again))
			abort();
		if (cs_money_cmp(&m, &m, &cmp) != CS_OK || cmp != 0)
			abort();
		/* m + m - m == m whenever the sum fits */
		if (cs_money_add(&m, &m, &sum) == CS_OK) {
			if (cs_money_sub(&sum, &m, &diff) != CS_OK || !cs_money_equal(&diff, &m))
				abort();
			if (cs_money_cmp(&sum, &m, &cmp) != CS_OK || cmp != (m.minor > 0 ? 1 : m.minor < 0 ? -1 : 0))
				abort();
		}
	} else if (exp >= 0) {
		/* an amount refused in a currency is no decimal it could have been rounded from */
		struct cs_decimal x;
		if (cs_decimal_parse(s, len, &x, &e) == CS_OK && x.scale <= exp &&
		    cs_money_from_decimal(&x, cur, CS_ROUND_EXACT, &again, &e) == CS_OK) {
			/* only a fraction written longer than the currency's (trailing zeros) may differ */
			abort();
		}
	}
	/* a decimal brought to the currency keeps its value (EXACT) or moves to a neighbour */
	if (exp >= 0 && cs_decimal_parse(s, len, &d, &e) == CS_OK &&
	    cs_money_from_decimal(&d, cur, mode, &m, &e) == CS_OK) {
		struct cs_decimal got;
		if (cs_money_to_decimal(&m, &got) != CS_OK)
			abort();
		if (mode == CS_ROUND_EXACT && cs_decimal_cmp(&got, &d) != 0)
			abort();
		/* within one unit of the currency's last digit of the half-even rounding */
		if (cs_decimal_rescale(&d, exp, CS_ROUND_HALF_EVEN, &got) == CS_OK &&
		    (got.coef - m.minor > 1 || m.minor - got.coef > 1))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum cs_rounding mode;
	const char *cur;
	char *s;
	int to;

	if (size < 1 || size > 4 * CS_DECIMAL_INPUT_MAX)
		return 0;
	/* the first byte picks the currency, the rounding mode and a target scale */
	cur = currencies[data[0] % (sizeof(currencies) / sizeof(currencies[0]))];
	mode = (enum cs_rounding)((data[0] >> 4) % 3);
	to = (data[0] >> 2) % (CS_DECIMAL_SCALE_MAX + 2);   /* one past the maximum too */
	if ((s = malloc(size - 1 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	decimal(s, size - 1, mode, to);
	money(s, size - 1, cur, mode);
	free(s);
	return 0;
}

/* test_money.c - exact money and decimals: parsing, formatting, exponents, rounding, overflow. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <string.h>

#include "util/money.h"

/* --- currencies --------------------------------------------------------------------------- */

struct walk {
	char prev[4];
	size_t n;
};

static void
each_code(const char *code, int exponent, void *arg)
{
	struct walk *w = arg;

	assert_int_equal(strlen(code), 3);
	/* The table must stay sorted: lookups are binary searches. */
	assert_true(strcmp(w->prev, code) < 0);
	assert_in_range(exponent, 0, CS_CURRENCY_EXPONENT_MAX);
	assert_int_equal(cs_currency_exponent(code), exponent);
	memcpy(w->prev, code, 4);
	w->n++;
}

static void
currency_table(void **state)
{
	static const struct {
		const char *code;
		int exp;
	} cases[] = {
		{ "EUR", 2 }, { "USD", 2 }, { "GBP", 2 }, { "CHF", 2 }, { "JPY", 0 }, { "KRW", 0 },
		{ "VND", 0 }, { "ISK", 0 }, { "CLP", 0 }, { "XOF", 0 }, { "BHD", 3 }, { "KWD", 3 },
		{ "JOD", 3 }, { "OMR", 3 }, { "TND", 3 }, { "IQD", 3 }, { "LYD", 3 }, { "CLF", 4 },
		{ "UYW", 4 }, { "AED", 2 }, { "ZWG", 2 }, { "XCG", 2 },
		/* unknown or not money */
		{ "XXX", -1 }, { "XAU", -1 }, { "XTS", -1 }, { "ABC", -1 }, { "eur", -1 }, { "EU", -1 },
		{ "EURO", -1 }, { "", -1 }, { "E1R", -1 },
	};
	struct walk w = { "", 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s\n", cases[i].code);
		assert_int_equal(cs_currency_exponent(cases[i].code), cases[i].exp);
		assert_int_equal(cs_currency_valid(cases[i].code), cases[i].exp >= 0);
	}
	assert_int_equal(cs_currency_exponent(NULL), -1);
	cs_currency_each(each_code, &w);
	assert_in_range(w.n, 150, 200);
}

/* --- parse and format --------------------------------------------------------------------- */

static const struct parse_case {
	const char *in;
	const char *cur;
	cs_err rc;
	int64_t minor;
	const char *canon;   /* canonical text, NULL when rc != CS_OK */
} parse_cases[] = {
	{ "1234.50", "EUR", CS_OK, 123450, "1234.50" },
	{ "1234.5", "EUR", CS_OK, 123450, "1234.50" },
	{ "-3", "EUR", CS_OK, -300, "-3.00" },
	{ "0.5", "EUR", CS_OK, 50, "0.50" },
	{ "0", "EUR", CS_OK, 0, "0.00" },
	{ "-0", "EUR", CS_OK, 0, "0.00" },
	{ "-0.05", "USD", CS_OK, -5, "-0.05" },
	{ "007.10", "USD", CS_OK, 710, "7.10" },
	{ "1000", "JPY", CS_OK, 1000, "1000" },
	{ "1.000", "BHD", CS_OK, 1000, "1.000" },
	{ "0.001", "KWD", CS_OK, 1, "0.001" },
	{ "12.3456", "CLF", CS_OK, 123456, "12.3456" },
	/* the int64 limits, exactly */
	{ "92233720368547758.07", "EUR", CS_OK, INT64_MAX, "92233720368547758.07" },
	{ "-92233720368547758.08", "EUR", CS_OK, INT64_MIN, "-92233720368547758.08" },
	{ "9223372036854775807", "JPY", CS_OK, INT64_MAX, "9223372036854775807" },
	{ "-9223372036854775808", "JPY", CS_OK, INT64_MIN, "-9223372036854775808" },
	{ "-922337203685477.5808", "CLF", CS_OK, INT64_MIN, "-922337203685477.5808" },
	/* one past them */
	{ "92233720368547758.08", "EUR", CS_ETOOBIG, 0, NULL },
	{ "-92233720368547758.09", "EUR", CS_ETOOBIG, 0, NULL },
	{ "9223372036854775808", "JPY", CS_ETOOBIG, 0, NULL },
	{ "92233720368547758080", "JPY", CS_ETOOBIG, 0, NULL },
	{ "99999999999999999999999999", "EUR", CS_ETOOBIG, 0, NULL },
	{ "92233720368547759", "EUR", CS_ETOOBIG, 0, NULL },   /* digits fit, minor units do not */
	/* more fraction digits than the currency has */
	{ "1.234", "EUR", CS_EINVAL, 0, NULL },
	{ "1.500", "EUR", CS_EINVAL, 0, NULL },
	{ "1.5", "JPY", CS_EINVAL, 0, NULL },
	{ "1.0", "JPY", CS_EINVAL, 0, NULL },
	{ "0.0001", "BHD", CS_EINVAL, 0, NULL },
	/* malformed */
	{ "", "EUR", CS_EINVAL, 0, NULL },
	{ "-", "EUR", CS_EINVAL, 0, NULL },
	{ "+1", "EUR", CS_EINVAL, 0, NULL },
	{ ".5", "EUR", CS_EINVAL, 0, NULL },
	{ "5.", "EUR", CS_EINVAL, 0, NULL },
	{ "1e3", "EUR", CS_EINVAL, 0, NULL },
	{ "1E3", "EUR", CS_EINVAL, 0, NULL },
	{ " 1", "EUR", CS_EINVAL, 0, NULL },
	{ "1 ", "EUR", CS_EINVAL, 0, NULL },
	{ "1,000.00", "EUR", CS_EINVAL, 0, NULL },
	{ "1.2.3", "EUR", CS_EINVAL, 0, NULL },
	{ "--1", "EUR", CS_EINVAL, 0, NULL },
	{ "NaN", "EUR", CS_EINVAL, 0, NULL },
	{ "inf", "EUR", CS_EINVAL, 0, NULL },
	{ "0x10", "EUR", CS_EINVAL, 0, NULL },
	{ "１", "EUR", CS_EINVAL, 0, NULL },   /* a full-width digit */
	{ "12.50", "XXX", CS_EINVAL, 0, NULL },
	{ "12.50", "eur", CS_EINVAL, 0, NULL },
	{ "12.50", "", CS_EINVAL, 0, NULL },
	{ "00000000000000000000000000000000000000000000000000000000000000001", "EUR", CS_ETOOBIG,
	  0, NULL },   /* 65 bytes: over CS_DECIMAL_INPUT_MAX before any digit is read */
};

static void
money_parse_format(void **state)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct cs_money m = { 42, "USD" };
		struct cs_error e = { 0 };
		char out[CS_DECIMAL_TEXT_MAX];

		print_message("parse \"%s\" %s\n", c->in, c->cur);
		assert_int_equal(cs_money_parse(c->in, strlen(c->in), c->cur, &m, &e), c->rc);
		if (c->rc != CS_OK) {
			assert_int_equal(e.code, c->rc);
			assert_true(e.msg[0] != '\0');
			assert_int_equal(m.minor, 42);   /* unchanged on error */
			continue;
		}
		assert_int_equal(m.minor, c->minor);
		assert_string_equal(m.currency, c->cur);
		assert_int_equal(cs_money_format(&m, out, sizeof(out)), CS_OK);
		assert_string_equal(out, c->canon);
		/* The canonical text parses back to the same amount. */
		{
			struct cs_money back;

			assert_int_equal(cs_money_parse(out, strlen(out), c->cur, &back, &e), CS_OK);
			assert_true(cs_money_equal(&back, &m));
		}
	}
}

static void
money_messages(void **state)
{
	struct cs_money m;
	struct cs_error e;

	assert_int_equal(cs_money_parse("1.234", 5, "EUR", &m, &e), CS_EINVAL);
	assert_non_null(strstr(e.msg, "EUR allows at most 2"));
	assert_non_null(strstr(e.msg, "3 fraction digits"));
	assert_int_equal(cs_money_parse("1.5", 3, "JPY", &m, &e), CS_EINVAL);
	assert_non_null(strstr(e.msg, "JPY allows at most 0"));
	assert_int_equal(cs_money_parse("+1", 2, "EUR", &m, &e), CS_EINVAL);
	assert_non_null(strstr(e.msg, "'+'"));
	assert_int_equal(cs_money_parse("1e3", 3, "EUR", &m, &e), CS_EINVAL);
	assert_non_null(strstr(e.msg, "exponent"));
	assert_int_equal(cs_money_parse("1", 1, "ZZZ", &m, &e), CS_EINVAL);
	assert_non_null(strstr(e.msg, "unknown currency ZZZ"));
	/* Bytes of a bad currency argument are never echoed. */
	assert_int_equal(cs_money_parse("1", 1, "\x1b[2J", &m, &e), CS_EINVAL);
	assert_null(strchr(e.msg, '\x1b'));
	assert_int_equal(cs_money_parse("99999999999999999999", 20, "EUR", &m, &e), CS_ETOOBIG);
	assert_non_null(strstr(e.msg, "out of range"));
	/* len bounds the read: the text after it is not looked at. */
	assert_int_equal(cs_money_parse("12.50garbage", 5, "EUR", &m, &e), CS_OK);
	assert_int_equal(m.minor, 1250);
	/* A NULL error detail is fine. */
	assert_int_equal(cs_money_parse("x", 1, "EUR", &m, NULL), CS_EINVAL);
}

static void
money_format_bounds(void **state)
{
	struct cs_money m = { INT64_MIN, "EUR" };
	char small[5], out[CS_DECIMAL_TEXT_MAX];

	assert_int_equal(cs_money_format(&m, small, sizeof(small)), CS_ETOOBIG);
	assert_string_equal(small, "");
	assert_int_equal(cs_money_format(&m, out, sizeof(out)), CS_OK);
	assert_string_equal(out, "-92233720368547758.08");
	/* exactly enough: "-0.05" needs 6 bytes */
	m.minor = -5;
	assert_int_equal(cs_money_format(&m, small, sizeof(small)), CS_ETOOBIG);
	{
		char six[6];

		assert_int_equal(cs_money_format(&m, six, sizeof(six)), CS_OK);
		assert_string_equal(six, "-0.05");
	}
	memcpy(m.currency, "QQQ", 4);
	assert_int_equal(cs_money_format(&m, out, sizeof(out)), CS_EINVAL);
}

static void
money_arithmetic(void **state)
{
	struct cs_money a, b, r, y;
	struct cs_error e;
	int cmp = 9;

	assert_int_equal(cs_money_init(&a, 1050, "EUR", &e), CS_OK);
	assert_int_equal(cs_money_init(&b, 250, "EUR", &e), CS_OK);
	assert_int_equal(cs_money_init(&y, 250, "JPY", &e), CS_OK);
	assert_int_equal(cs_money_init(&r, 1, "ABC", &e), CS_EINVAL);
	assert_int_equal(cs_money_add(&a, &b, &r), CS_OK);
	assert_int_equal(r.minor, 1300);
	assert_string_equal(r.currency, "EUR");
	assert_int_equal(cs_money_sub(&b, &a, &r), CS_OK);
	assert_int_equal(r.minor, -800);
	assert_int_equal(cs_money_cmp(&a, &b, &cmp), CS_OK);
	assert_int_equal(cmp, 1);
	assert_int_equal(cs_money_cmp(&b, &a, &cmp), CS_OK);
	assert_int_equal(cmp, -1);
	assert_int_equal(cs_money_cmp(&a, &a, &cmp), CS_OK);
	assert_int_equal(cmp, 0);
	/* different currencies neither add nor compare */
	r.minor = 7;
	assert_int_equal(cs_money_add(&a, &y, &r), CS_EINVAL);
	assert_int_equal(cs_money_sub(&a, &y, &r), CS_EINVAL);
	assert_int_equal(cs_money_cmp(&a, &y, &cmp), CS_EINVAL);
	assert_int_equal(r.minor, 7);
	assert_false(cs_money_equal(&b, &y));
	/* overflow at the limits, result unchanged */
	a.minor = INT64_MAX;
	b.minor = 1;
	assert_int_equal(cs_money_add(&a, &b, &r), CS_ETOOBIG);
	assert_int_equal(r.minor, 7);
	a.minor = INT64_MIN;
	assert_int_equal(cs_money_sub(&a, &b, &r), CS_ETOOBIG);
	b.minor = INT64_MIN;
	a.minor = 0;
	assert_int_equal(cs_money_sub(&a, &b, &r), CS_ETOOBIG);   /* -INT64_MIN */
	a.minor = -1;
	assert_int_equal(cs_money_add(&a, &b, &r), CS_ETOOBIG);
	a.minor = INT64_MAX;
	b.minor = INT64_MIN;
	assert_int_equal(cs_money_add(&a, &b, &r), CS_OK);
	assert_int_equal(r.minor, -1);
	/* out may alias an operand */
	a.minor = 5;
	b.minor = 6;
	assert_int_equal(cs_money_add(&a, &b, &a), CS_OK);
	assert_int_equal(a.minor, 11);
}

/* --- rounding ----------------------------------------------------------------------------- */

static const struct round_case {
	int64_t coef;
	int from, to;
	int64_t even, up;   /* expected results; INT64_MIN + 1 marks "CS_EINVAL" for EXACT only */
	bool exact_ok;
} round_cases[] = {
	/* ties: half-even goes to the even neighbour, half-up away from zero */
	{ 2345, 3, 2, 234, 235, false },      /* 2.345 */
	{ 2355, 3, 2, 236, 236, false },      /* 2.355 */
	{ -2345, 3, 2, -234, -235, false },
	{ -2355, 3, 2, -236, -236, false },
	{ 5, 1, 0, 0, 1, false },             /* 0.5 */
	{ 15, 1, 0, 2, 2, false },            /* 1.5 */
	{ 25, 1, 0, 2, 3, false },            /* 2.5 */
	{ -5, 1, 0, 0, -1, false },
	{ -25, 1, 0, -2, -3, false },
	{ 125, 2, 0, 1, 1, false },           /* 1.25 -> 1 either way: below half */
	{ 150, 2, 0, 2, 2, false },           /* 1.50 is a tie at two digits */
	{ 250, 2, 0, 2, 3, false },
	{ 1500001, 6, 0, 2, 2, false },       /* 1.500001: above the half */
	{ 2499999, 6, 0, 2, 2, false },
	/* not ties */
	{ 2344, 3, 2, 234, 234, false },
	{ 2346, 3, 2, 235, 235, false },
	{ -2346, 3, 2, -235, -235, false },
	/* exact */
	{ 2340, 3, 2, 234, 234, true },
	{ 0, 18, 0, 0, 0, true },
	{ 12, 0, 2, 1200, 1200, true },       /* widening multiplies */
	{ 1, 0, 18, 1000000000000000000LL, 1000000000000000000LL, true },
	/* limits: rounding never overflows when narrowing */
	{ INT64_MAX, 1, 0, 922337203685477581LL, 922337203685477581LL, false },  /* ...580.7 */
	{ INT64_MIN, 1, 0, -922337203685477581LL, -922337203685477581LL, false },/* ...580.8 */
	{ INT64_MAX, 18, 0, 9, 9, false },    /* 9.223... */
	{ INT64_MIN, 18, 0, -9, -9, false },
	{ 5000000000000000000LL, 19 - 1, 0, 5, 5, true },
};

static void
rounding(void **state)
{
	for (size_t i = 0; i < sizeof(round_cases) / sizeof(round_cases[0]); i++) {
		const struct round_case *c = &round_cases[i];
		int64_t out = -42;

		print_message("round %lld from %d to %d\n", (long long)c->coef, c->from, c->to);
		assert_int_equal(cs_round_scale(c->coef, c->from, c->to, CS_ROUND_HALF_EVEN, &out), CS_OK);
		assert_int_equal(out, c->even);
		assert_int_equal(cs_round_scale(c->coef, c->from, c->to, CS_ROUND_HALF_UP, &out), CS_OK);
		assert_int_equal(out, c->up);
		out = -42;
		assert_int_equal(cs_round_scale(c->coef, c->from, c->to, CS_ROUND_EXACT, &out),
		                 c->exact_ok ? CS_OK : CS_EINVAL);
		if (c->exact_ok)
			assert_int_equal(out, c->even);
		else
			assert_int_equal(out, -42);
	}
}

static void
rounding_errors(void **state)
{
	int64_t out;

	assert_int_equal(cs_round_scale(1, -1, 0, CS_ROUND_HALF_UP, &out), CS_EINVAL);
	assert_int_equal(cs_round_scale(1, 0, 19, CS_ROUND_HALF_UP, &out), CS_EINVAL);
	assert_int_equal(cs_round_scale(1, 19, 0, CS_ROUND_HALF_UP, &out), CS_EINVAL);
	assert_int_equal(cs_round_scale(INT64_MAX, 0, 1, CS_ROUND_HALF_UP, &out), CS_ETOOBIG);
	assert_int_equal(cs_round_scale(INT64_MIN, 0, 1, CS_ROUND_HALF_UP, &out), CS_ETOOBIG);
	assert_int_equal(cs_round_scale(10, 0, 18, CS_ROUND_EXACT, &out), CS_ETOOBIG);
	assert_int_equal(cs_round_scale(15, 1, 0, (enum cs_rounding)99, &out), CS_EINVAL);
}

/* A Salesforce currency field of scale 2, or a computed value, into a currency. */
static void
money_from_decimal(void **state)
{
	static const struct {
		const char *dec, *cur;
		enum cs_rounding mode;
		cs_err rc;
		const char *out;
	} cases[] = {
		{ "1234.5", "EUR", CS_ROUND_EXACT, CS_OK, "1234.50" },
		{ "1234.500", "EUR", CS_ROUND_EXACT, CS_OK, "1234.50" },   /* only zeros go */
		{ "1234.505", "EUR", CS_ROUND_EXACT, CS_EINVAL, NULL },
		{ "1234.505", "EUR", CS_ROUND_HALF_EVEN, CS_OK, "1234.50" },
		{ "1234.505", "EUR", CS_ROUND_HALF_UP, CS_OK, "1234.51" },
		{ "1500.50", "JPY", CS_ROUND_HALF_EVEN, CS_OK, "1500" },   /* SF scale 2 for JPY */
		{ "1501.50", "JPY", CS_ROUND_HALF_EVEN, CS_OK, "1502" },
		{ "1500.50", "JPY", CS_ROUND_HALF_UP, CS_OK, "1501" },
		{ "-1500.50", "JPY", CS_ROUND_HALF_UP, CS_OK, "-1501" },
		{ "1.00", "JPY", CS_ROUND_EXACT, CS_OK, "1" },
		{ "0.0005", "BHD", CS_ROUND_HALF_EVEN, CS_OK, "0.000" },
		{ "0.0015", "BHD", CS_ROUND_HALF_EVEN, CS_OK, "0.002" },
		{ "0.0005", "BHD", CS_ROUND_HALF_UP, CS_OK, "0.001" },
		{ "7", "BHD", CS_ROUND_EXACT, CS_OK, "7.000" },
		{ "9223372036854775807", "EUR", CS_ROUND_EXACT, CS_ETOOBIG, NULL },
		{ "1", "XYZ", CS_ROUND_EXACT, CS_EINVAL, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cs_decimal d;
		struct cs_money m;
		struct cs_error e;
		char out[CS_DECIMAL_TEXT_MAX];

		print_message("from decimal %s %s\n", cases[i].dec, cases[i].cur);
		assert_int_equal(cs_decimal_parse(cases[i].dec, strlen(cases[i].dec), &d, &e), CS_OK);
		assert_int_equal(cs_money_from_decimal(&d, cases[i].cur, cases[i].mode, &m, &e),
		                 cases[i].rc);
		if (cases[i].rc != CS_OK)
			continue;
		assert_int_equal(cs_money_format(&m, out, sizeof(out)), CS_OK);
		assert_string_equal(out, cases[i].out);
		{
			struct cs_decimal back;

			assert_int_equal(cs_money_to_decimal(&m, &back), CS_OK);
			assert_int_equal(back.coef, m.minor);
			assert_int_equal(back.scale, cs_currency_exponent(cases[i].cur));
		}
	}
}

/* --- decimals ----------------------------------------------------------------------------- */

static void
decimals(void **state)
{
	static const struct {
		const char *in;
		cs_err rc;
		int64_t coef;
		int scale;
	} cases[] = {
		{ "1.50", CS_OK, 150, 2 },
		{ "-0.001", CS_OK, -1, 3 },
		{ "42", CS_OK, 42, 0 },
		{ "0.000000000000000001", CS_OK, 1, 18 },
		{ "9.223372036854775807", CS_OK, INT64_MAX, 18 },
		{ "-9.223372036854775808", CS_OK, INT64_MIN, 18 },
		{ "9223372036854775807", CS_OK, INT64_MAX, 0 },
		{ "9223372036854775808", CS_ETOOBIG, 0, 0 },
		{ "0.0000000000000000001", CS_EINVAL, 0, 0 },   /* 19 fraction digits */
		{ "1e-3", CS_EINVAL, 0, 0 },
		{ "+1.5", CS_EINVAL, 0, 0 },
		{ "", CS_EINVAL, 0, 0 },
		{ "1.", CS_EINVAL, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cs_decimal d = { 7, 7 };
		struct cs_error e;
		char out[CS_DECIMAL_TEXT_MAX];

		print_message("decimal \"%s\"\n", cases[i].in);
		assert_int_equal(cs_decimal_parse(cases[i].in, strlen(cases[i].in), &d, &e), cases[i].rc);
		if (cases[i].rc != CS_OK) {
			assert_int_equal(d.coef, 7);
			continue;
		}
		assert_int_equal(d.coef, cases[i].coef);
		assert_int_equal(d.scale, cases[i].scale);
		assert_int_equal(cs_decimal_format(&d, out, sizeof(out)), CS_OK);
		assert_string_equal(out, cases[i].in);   /* every case above is canonical */
	}
}

static void
decimal_compare(void **state)
{
	struct cs_decimal a = { 15, 1 }, b = { 150, 2 }, c = { 151, 2 }, n = { -1, 18 }, z = { 0, 5 };
	struct cs_decimal big = { INT64_MAX, 0 }, tiny = { INT64_MAX, 18 }, r;

	assert_int_equal(cs_decimal_cmp(&a, &b), 0);
	assert_int_equal(cs_decimal_cmp(&a, &c), -1);
	assert_int_equal(cs_decimal_cmp(&c, &a), 1);
	assert_int_equal(cs_decimal_cmp(&n, &z), -1);
	assert_int_equal(cs_decimal_cmp(&big, &tiny), 1);   /* needs 128 bits to compare */
	r = cs_decimal_normalize(b);
	assert_int_equal(r.coef, 15);
	assert_int_equal(r.scale, 1);
	r = cs_decimal_normalize(z);
	assert_int_equal(r.coef, 0);
	assert_int_equal(r.scale, 0);
	assert_int_equal(cs_decimal_rescale(&c, 1, CS_ROUND_HALF_EVEN, &r), CS_OK);
	assert_int_equal(r.coef, 15);
	assert_int_equal(r.scale, 1);
	assert_int_equal(cs_decimal_rescale(&c, 1, CS_ROUND_EXACT, &r), CS_EINVAL);
	assert_int_equal(cs_decimal_rescale(&a, 4, CS_ROUND_EXACT, &r), CS_OK);
	assert_int_equal(r.coef, 15000);
	{
		char s[4];
		struct cs_decimal bad = { 1, 19 };

		assert_int_equal(cs_decimal_format(&c, s, sizeof(s)), CS_ETOOBIG);
		assert_int_equal(cs_decimal_format(&bad, s, sizeof(s)), CS_EINVAL);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(currency_table),
		cmocka_unit_test(money_parse_format),
		cmocka_unit_test(money_messages),
		cmocka_unit_test(money_format_bounds),
		cmocka_unit_test(money_arithmetic),
		cmocka_unit_test(rounding),
		cmocka_unit_test(rounding_errors),
		cmocka_unit_test(money_from_decimal),
		cmocka_unit_test(decimals),
		cmocka_unit_test(decimal_compare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

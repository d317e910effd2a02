/* test_util.c - buffers, JSON helpers, UTF-8, dates and Salesforce ids. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "salesforce/sfid.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/timeutil.h"

static void
buf_bounded(void **state)
{
	struct cs_buf b;

	cs_buf_init(&b, 8);
	assert_int_equal(cs_buf_puts(&b, "abcd"), CS_OK);
	assert_int_equal(cs_buf_printf(&b, "%d", 1234), CS_OK);
	assert_string_equal(b.data, "abcd1234");
	assert_int_equal(cs_buf_putc(&b, 'x'), CS_ETOOBIG);
	assert_int_equal(b.len, 8);          /* unchanged after the refusal */
	assert_string_equal(b.data, "abcd1234");
	cs_buf_cleanup(&b);
}

static void
json_limits(void **state)
{
	json_t *v = NULL;
	struct cs_error e;
	char deep[200];

	assert_int_equal(cs_json_parse("{\"a\":[1,2]}", 11, &v, &e), CS_OK);
	assert_int_equal(json_array_size(json_object_get(v, "a")), 2);
	json_decref(v);
	assert_int_equal(cs_json_parse("{\"a\":", 5, &v, &e), CS_EPARSE);
	assert_null(v);
	assert_int_equal(cs_json_parse("\"\xff\"", 3, &v, &e), CS_EUTF8);
	memset(deep, '[', sizeof(deep));
	assert_int_equal(cs_json_parse(deep, sizeof(deep), &v, &e), CS_ETOOBIG);
}

static void
utf8(void **state)
{
	static const struct { const char *s; int ok; } cases[] = {
		{ "plain", 1 }, { "caf\xc3\xa9", 1 }, { "\xe2\x82\xac", 1 }, { "\xf0\x9f\x98\x80", 1 },
		{ "\xc3", 0 }, { "\xc0\xaf", 0 }, { "\xed\xa0\x80", 0 }, { "\xf4\x90\x80\x80", 0 },
		{ "\xe0\x80\xaf", 0 }, { "\x80", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(cs_utf8_valid(cases[i].s, strlen(cases[i].s)), cases[i].ok);
}

static void
dates(void **state)
{
	int64_t d, ms;
	char out[40];

	assert_true(cs_date_parse("2024-02-29", 10, &d));
	cs_date_format(d, out, sizeof(out));
	assert_string_equal(out, "2024-02-29");
	assert_false(cs_date_parse("2023-02-29", 10, &d));
	assert_false(cs_date_parse("2023-13-01", 10, &d));
	assert_false(cs_date_parse("2023-1-01", 9, &d));
	assert_true(cs_datetime_parse("2026-11-27T00:19:07.123Z", 24, &ms));
	cs_time_format_sf(ms, out, sizeof(out));
	assert_string_equal(out, "2026-11-27T00:19:07.123+0000");
	/* an offset moves the instant, not the text */
	assert_true(cs_datetime_parse("2026-11-27T01:19:07+01:00", 25, &ms));
	cs_time_format_iso(ms, out, sizeof(out));
	assert_string_equal(out, "2026-11-27T00:19:07.000Z");
	assert_true(cs_datetime_parse("2026-11-26T23:00:00.000-0500", 28, &ms));
	cs_time_format_iso(ms, out, sizeof(out));
	assert_string_equal(out, "2026-11-27T04:00:00.000Z");
	assert_false(cs_datetime_parse("2026-11-27T00:19:07", 19, &ms));
	assert_false(cs_datetime_parse("2026-11-27T24:00:00Z", 20, &ms));
	assert_int_equal(cs_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(cs_days_from_civil(2000, 3, 1), 11017);
}

static void
sfids(void **state)
{
	/* vectors from the published algorithm */
	static const struct { const char *in, *out; } v[] = {
		{ "a0RE000000IJmcN", "a0RE000000IJmcNMAT" }, { "001M000000qfPyS", "001M000000qfPySIAU" },
		{ "aBcDEfgHIJKLMNO", "aBcDEfgHIJKLMNO025" }, { "a0D30000001n7Pi", "a0D30000001n7PiEAI" },
		{ "aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaAAA" },
	};
	char out[SFID_LEN + 1];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_true(sfid_to18(v[i].in, 15, out));
		assert_string_equal(out, v[i].out);
		assert_true(sfid_to18(v[i].out, 18, out));
		assert_string_equal(out, v[i].out);
	}
	assert_true(sfid_to18("001M000000qfPySiau", 18, out));   /* suffix is case-insensitive */
	assert_false(sfid_to18("001M000000qfPySAAA", 18, out));  /* wrong checksum */
	assert_false(sfid_to18("001M000000qfPy", 14, out));
	assert_false(sfid_to18("001M000000qf-yS", 15, out));
	sfid_make("800", "0A", 62, out);
	assert_string_equal(out, "8000A0000000010QAA");
	assert_true(sfid_equal("a0RE000000IJmcN", "a0RE000000IJmcNMAT"));
	assert_false(sfid_equal("a0RE000000IJmcN", "a0RE000000IJmcn"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_bounded),
		cmocka_unit_test(json_limits),
		cmocka_unit_test(utf8),
		cmocka_unit_test(dates),
		cmocka_unit_test(sfids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

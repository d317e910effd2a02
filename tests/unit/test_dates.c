/* test_dates.c - calendar arithmetic: months with end-of-month clamping, days, today. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "util/timeutil.h"

static int64_t
day(const char *s)
{
	int64_t d = 0;

	assert_true(cs_date_parse(s, strlen(s), &d));
	return d;
}

static void
add_months(void **state)
{
	static const struct {
		const char *from;
		int64_t n;
		const char *to;   /* NULL: out of range */
	} cases[] = {
		{ "2024-01-31", 1, "2024-02-29" },    /* leap February */
		{ "2023-01-31", 1, "2023-02-28" },
		{ "2024-01-31", 2, "2024-03-31" },    /* clamping is per call, not cumulative */
		{ "2024-03-31", 1, "2024-04-30" },
		{ "2024-03-31", -1, "2024-02-29" },
		{ "2024-02-29", 12, "2025-02-28" },
		{ "2024-02-29", 48, "2028-02-29" },
		{ "2024-02-29", -12, "2023-02-28" },
		{ "2024-01-15", 0, "2024-01-15" },
		{ "2024-11-30", 3, "2025-02-28" },
		{ "2024-12-31", 1, "2025-01-31" },
		{ "2025-01-01", -1, "2024-12-01" },
		{ "2025-01-31", -13, "2023-12-31" },
		{ "2024-08-31", 6, "2025-02-28" },
		{ "2000-01-31", 1, "2000-02-29" },     /* divisible by 400: leap */
		{ "1900-01-31", 1, "1900-02-28" },     /* divisible by 100: not */
		{ "2024-05-31", 36, "2027-05-31" },
		{ "2024-05-31", 37, "2027-06-30" },
		{ "9999-11-30", 1, "9999-12-30" },
		{ "9999-12-31", 1, NULL },
		{ "0001-01-31", -1, NULL },
		{ "0001-02-28", -1, "0001-01-28" },
		{ "2024-01-01", 120000, NULL },
		{ "2024-01-01", -9999999, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t out = -1;
		char text[16];

		print_message("%s %+lld months\n", cases[i].from, (long long)cases[i].n);
		if (cases[i].to == NULL) {
			assert_false(cs_date_add_months(day(cases[i].from), cases[i].n, &out));
			assert_int_equal(out, -1);
			continue;
		}
		assert_true(cs_date_add_months(day(cases[i].from), cases[i].n, &out));
		cs_date_format(out, text, sizeof(text));
		assert_string_equal(text, cases[i].to);
	}
}

/* A renewal notice deadline: term end = effective + term months - 1 day; notice = end - days. */
static void
renewal_deadline(void **state)
{
	int64_t end, notice;
	char text[16];

	assert_true(cs_date_add_months(day("2024-03-01"), 12, &end));
	assert_true(cs_date_add_days(end, -1, &end));
	cs_date_format(end, text, sizeof(text));
	assert_string_equal(text, "2025-02-28");
	assert_true(cs_date_add_days(end, -60, &notice));
	cs_date_format(notice, text, sizeof(text));
	assert_string_equal(text, "2024-12-30");
}

static void
add_days(void **state)
{
	int64_t out = 7;
	char text[16];

	assert_true(cs_date_add_days(day("2024-02-28"), 1, &out));
	cs_date_format(out, text, sizeof(text));
	assert_string_equal(text, "2024-02-29");
	assert_true(cs_date_add_days(day("2024-12-31"), 1, &out));
	cs_date_format(out, text, sizeof(text));
	assert_string_equal(text, "2025-01-01");
	assert_true(cs_date_add_days(day("2024-03-01"), -1, &out));
	cs_date_format(out, text, sizeof(text));
	assert_string_equal(text, "2024-02-29");
	assert_true(cs_date_add_days(day("1970-01-01"), -1, &out));
	assert_int_equal(out, -1);
	/* the edges of the representable range */
	assert_int_equal(day("0001-01-01"), -719162);
	assert_int_equal(day("9999-12-31"), 2932896);
	out = 7;
	assert_false(cs_date_add_days(day("9999-12-31"), 1, &out));
	assert_false(cs_date_add_days(day("0001-01-01"), -1, &out));
	assert_false(cs_date_add_days(0, INT64_MAX, &out));
	assert_false(cs_date_add_days(0, INT64_MIN, &out));
	assert_false(cs_date_add_days(INT64_MAX, -1, &out));
	assert_int_equal(out, 7);
}

static void
month_lengths(void **state)
{
	static const unsigned y2023[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	for (unsigned m = 1; m <= 12; m++)
		assert_int_equal(cs_days_in_month(2023, m), y2023[m - 1]);
	assert_int_equal(cs_days_in_month(2024, 2), 29);
	assert_int_equal(cs_days_in_month(2100, 2), 28);
	assert_int_equal(cs_days_in_month(2400, 2), 29);
	assert_int_equal(cs_days_in_month(2024, 0), 0);
	assert_int_equal(cs_days_in_month(2024, 13), 0);
}

static void
weekday_and_today(void **state)
{
	time_t now = time(NULL);
	struct tm tm;
	int64_t today = cs_date_today(), expect;

	assert_int_equal(cs_date_weekday(day("1970-01-01")), 3);   /* Thursday */
	assert_int_equal(cs_date_weekday(day("2024-02-29")), 3);
	assert_int_equal(cs_date_weekday(day("2000-01-01")), 5);   /* Saturday */
	assert_int_equal(cs_date_weekday(day("1969-12-28")), 6);   /* Sunday, before the epoch */
	/* today in UTC, whatever the local zone: compared with gmtime around the call */
	gmtime_r(&now, &tm);
	expect = cs_days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
	assert_in_range(today, expect - 1, expect + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_months),
		cmocka_unit_test(renewal_deadline),
		cmocka_unit_test(add_days),
		cmocka_unit_test(month_lengths),
		cmocka_unit_test(weekday_and_today),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sf_soql.c - SOQL string literals and the query builder, with hostile values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "salesforce/sf.h"

static void
quoted(const char *in, size_t len, const char *want)
{
	struct cs_buf b;

	cs_buf_init(&b, 1u << 20);
	assert_int_equal(sf_soql_quote(&b, in, len), CS_OK);
	assert_string_equal(b.data, want);
	cs_buf_cleanup(&b);
}

static void
test_quote_table(void **state)
{
	static const struct { const char *in, *want; } t[] = {
		{ "", "''" },
		{ "Acme", "'Acme'" },
		{ "O'Brien", "'O\\'Brien'" },
		{ "back\\slash", "'back\\\\slash'" },
		{ "say \"hi\"", "'say \\\"hi\\\"'" },
		{ "a\nb\rc\td\be\ff", "'a\\nb\\rc\\td\\be\\ff'" },
		{ "' OR Name LIKE '%", "'\\' OR Name LIKE \\'%'" },
		{ "\\'", "'\\\\\\''" },
		{ "50% off_now", "'50% off_now'" },
		{ "Zürich – 東京", "'Zürich – 東京'" },
		{ "x') OR (Id != null", "'x\\') OR (Id != null'" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		quoted(t[i].in, strlen(t[i].in), t[i].want);
}

/* Every quoted literal, whatever went in, is one token: it opens and closes with the only two
 * unescaped quotes. */
static void
test_quote_is_one_token(void **state)
{
	static const char *const hostile[] = {
		"'", "''", "\\", "\\\\'", "'; DELETE", "a' AND Id IN (SELECT Id FROM Account) AND Name='",
		"\\'\\'\\'", "%' OR '1'='1",
	};
	struct cs_buf b;

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		size_t quotes = 0;

		cs_buf_init(&b, 4096);
		assert_int_equal(sf_soql_quote(&b, hostile[i], strlen(hostile[i])), CS_OK);
		for (size_t k = 0; k < b.len; k++) {
			if (b.data[k] == '\\') {
				k++;     /* an escape: the next byte is data */
				continue;
			}
			if (b.data[k] == '\'')
				quotes++;
		}
		assert_int_equal(quotes, 2);
		assert_int_equal(b.data[0], '\'');
		assert_int_equal(b.data[b.len - 1], '\'');
		cs_buf_cleanup(&b);
	}
}

static void
test_quote_refuses(void **state)
{
	struct cs_buf b;

	cs_buf_init(&b, 4096);
	assert_int_equal(cs_buf_puts(&b, "Name = "), CS_OK);
	assert_int_equal(sf_soql_quote(&b, "a\0b", 3), CS_EINVAL);
	assert_int_equal(sf_soql_quote(&b, "bell\a", 5), CS_EINVAL);
	assert_int_equal(sf_soql_quote(&b, "esc\x1b[0m", 7), CS_EINVAL);
	assert_int_equal(sf_soql_quote(&b, "del\x7f", 4), CS_EINVAL);
	assert_int_equal(sf_soql_quote(&b, "\xff\xfe", 2), CS_EUTF8);
	assert_int_equal(sf_soql_quote(&b, "\xc0\xaf", 2), CS_EUTF8);       /* overlong '/' */
	assert_int_equal(sf_soql_quote(&b, "\xed\xa0\x80", 3), CS_EUTF8);   /* surrogate */
	assert_int_equal(sf_soql_quote(&b, "ok\xe2\x82", 4), CS_EUTF8);     /* truncated */
	/* nothing of a refused value was left behind */
	assert_string_equal(b.data, "Name = ");
	cs_buf_cleanup(&b);
}

static void
test_quote_long(void **state)
{
	size_t n = 50000;
	char *s = malloc(n + 1);
	struct cs_buf b;

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = i % 2 ? '\'' : 'a';
	s[n] = '\0';
	cs_buf_init(&b, SF_SOQL_MAX);
	/* 25,000 quotes double to 75,002 bytes: fits */
	assert_int_equal(sf_soql_quote(&b, s, n), CS_OK);
	assert_int_equal(b.len, n + n / 2 + 2);
	/* a second one passes the limit and is refused whole */
	assert_int_equal(sf_soql_quote(&b, s, n), CS_ETOOBIG);
	assert_int_equal(b.len, n + n / 2 + 2);
	cs_buf_cleanup(&b);
	free(s);
}

static void
test_like(void **state)
{
	struct cs_buf b;

	cs_buf_init(&b, 4096);
	assert_int_equal(sf_soql_quote_like(&b, "50%_off'", 8, true, true), CS_OK);
	assert_string_equal(b.data, "'%50\\%\\_off\\'%'");
	cs_buf_cleanup(&b);
}

static void
test_builder(void **state)
{
	struct sf_soql q;
	const char *ids[] = { "001000000000001AAA", "x' OR Id != '" };
	const char *t;
	cs_err err;

	sf_soql_init(&q);
	sf_soql_kw(&q, "SELECT Id, ");
	sf_soql_name(&q, "Account.Name");
	sf_soql_kw(&q, " FROM ");
	sf_soql_name(&q, "Contract");
	sf_soql_kw(&q, " WHERE Name = ");
	sf_soql_str(&q, "O'Brien\\");
	sf_soql_kw(&q, " AND Id IN ");
	sf_soql_in(&q, ids, 2);
	sf_soql_kw(&q, " AND SystemModstamp >= ");
	sf_soql_datetime(&q, 1767225600000LL);
	sf_soql_kw(&q, " AND Name LIKE ");
	sf_soql_like(&q, "a%b", false, true);
	sf_soql_kw(&q, " LIMIT ");
	sf_soql_int(&q, 10);
	t = sf_soql_text(&q, &err);
	assert_int_equal(err, CS_OK);
	assert_string_equal(t, "SELECT Id, Account.Name FROM Contract WHERE Name = 'O\\'Brien\\\\' AND Id IN "
	    "('001000000000001AAA','x\\' OR Id != \\'') AND SystemModstamp >= 2026-01-01T00:00:00Z "
	    "AND Name LIKE 'a\\%b%' LIMIT 10");
	sf_soql_cleanup(&q);
}

static void
test_builder_sticky(void **state)
{
	struct sf_soql q;
	cs_err err;

	/* a value passed as program text is refused */
	sf_soql_init(&q);
	sf_soql_kw(&q, "SELECT Id FROM Account WHERE Name = 'x'");
	assert_null(sf_soql_text(&q, &err));
	assert_int_equal(err, CS_EINVAL);
	sf_soql_cleanup(&q);

	/* a field name with anything but [A-Za-z0-9_.] is refused, and the error sticks */
	sf_soql_init(&q);
	sf_soql_kw(&q, "SELECT ");
	sf_soql_name(&q, "Id FROM User --");
	sf_soql_kw(&q, " FROM Account");
	assert_null(sf_soql_text(&q, &err));
	assert_int_equal(err, CS_EINVAL);
	sf_soql_cleanup(&q);

	sf_soql_init(&q);
	sf_soql_kw(&q, "SELECT Id FROM Account WHERE Name = ");
	sf_soql_str(&q, "\xff");
	sf_soql_kw(&q, " LIMIT 1");
	assert_null(sf_soql_text(&q, &err));
	assert_int_equal(err, CS_EUTF8);
	sf_soql_cleanup(&q);

	sf_soql_init(&q);
	sf_soql_kw(&q, "SELECT Id FROM Account WHERE Id IN ");
	sf_soql_in(&q, NULL, 0);
	assert_null(sf_soql_text(&q, &err));
	assert_int_equal(err, CS_EINVAL);
	sf_soql_cleanup(&q);

	/* nothing at all is not a query */
	sf_soql_init(&q);
	assert_null(sf_soql_text(&q, &err));
	assert_int_equal(err, CS_EINVAL);
	sf_soql_cleanup(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_table),
		cmocka_unit_test(test_quote_is_one_token),
		cmocka_unit_test(test_quote_refuses),
		cmocka_unit_test(test_quote_long),
		cmocka_unit_test(test_like),
		cmocka_unit_test(test_builder),
		cmocka_unit_test(test_builder_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

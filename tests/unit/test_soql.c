/* test_soql.c - unit tests for the SOQL engine (tools/sfemu/soql.c): parser and execution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "emu.h"
#include "soql.h"
#include "util/json.h"
#include "util/timeutil.h"

#define LIT(s) s, sizeof(s) - 1

/* ---- parser: accepted queries and their canonical form ---- */

struct ok_case {
	const char *in;
	size_t len;
	const char *want;
};

static const struct ok_case ok_cases[] = {
	{ LIT("select id from account"), "SELECT id FROM account" },
	{ LIT("  SELECT  Id ,Name\n\tFROM Account\r\n"), "SELECT Id, Name FROM Account" },
	{ LIT("SELECT Id FROM Account WHERE Name = 'x' AND (Amount > -5.5 OR Amount <= 10) ORDER BY Name DESC "
	      "NULLS FIRST, Id LIMIT 10 OFFSET 5"),
	  "SELECT Id FROM Account WHERE Name = 'x' AND (Amount > -5.5 OR Amount <= 10) ORDER BY Name DESC "
	  "NULLS FIRST, Id ASC NULLS FIRST LIMIT 10 OFFSET 5" },
	/* default NULLS: first for ASC, last for DESC */
	{ LIT("SELECT Id FROM A ORDER BY X DESC, Y asc, Z nulls last"),
	  "SELECT Id FROM A ORDER BY X DESC NULLS LAST, Y ASC NULLS FIRST, Z ASC NULLS LAST" },
	{ LIT("SELECT Id FROM A WHERE a = 1 OR b <> 2 OR c != 3"), "SELECT Id FROM A WHERE a = 1 OR b != 2 OR c != 3" },
	{ LIT("SELECT Id FROM A WHERE a=1 AND b>=2 AND c<3 AND d>4"), "SELECT Id FROM A WHERE a = 1 AND b >= 2 AND c < 3 AND d > 4" },
	{ LIT("SELECT Id FROM A WHERE ((a = 1))"), "SELECT Id FROM A WHERE a = 1" },
	{ LIT("SELECT Id FROM A WHERE (a = 1 AND b = 2) OR NOT c = 3"), "SELECT Id FROM A WHERE (a = 1 AND b = 2) OR NOT c = 3" },
	{ LIT("SELECT Id FROM A WHERE NOT (a = 1 OR b = 2)"), "SELECT Id FROM A WHERE NOT (a = 1 OR b = 2)" },
	{ LIT("SELECT Id FROM A WHERE NOT NOT a = 1"), "SELECT Id FROM A WHERE NOT NOT a = 1" },
	{ LIT("SELECT Id FROM A WHERE a = NULL and b = TRUE and c = False"), "SELECT Id FROM A WHERE a = null AND b = true AND c = false" },
	/* every escape Salesforce defines */
	{ LIT("SELECT Id FROM A WHERE a = 'n\\n\\Nr\\r\\Rt\\t\\Tb\\b\\Bf\\f\\Fq\\\"s\\'bs\\\\u\\u00e9\\u20AC'"),
	  "SELECT Id FROM A WHERE a = 'n\\n\\nr\\r\\rt\\t\\tb\\b\\bf\\f\\fq\"s\\'bs\\\\u\xc3\xa9\xe2\x82\xac'" },
	{ LIT("SELECT Id FROM A WHERE a = '\\ud83d\\ude00'"), "SELECT Id FROM A WHERE a = '\xf0\x9f\x98\x80'" },
	{ LIT("SELECT Id FROM A WHERE a = '\\u0000\\u001f'"), "SELECT Id FROM A WHERE a = '\\u0000\\u001f'" },
	{ LIT("SELECT Id FROM A WHERE a = 'caf\xc3\xa9 \"quoted\"'"), "SELECT Id FROM A WHERE a = 'caf\xc3\xa9 \"quoted\"'" },
	{ LIT("SELECT Id FROM A WHERE a = ''"), "SELECT Id FROM A WHERE a = ''" },
	/* LIKE keeps wildcards and escaped wildcards apart */
	{ LIT("SELECT Id FROM A WHERE a LIKE '50\\%_x%\\_\\\\'"), "SELECT Id FROM A WHERE a LIKE '50\\%_x%\\_\\\\'" },
	{ LIT("SELECT Id FROM A WHERE a LIKE '\\u0025\\u005f'"), "SELECT Id FROM A WHERE a LIKE '\\%\\_'" },
	{ LIT("SELECT Id FROM A WHERE d >= 2026-01-31 AND t < 2026-01-01T00:00:00Z AND u = 2026-01-01T10:00:00.123+05:30"),
	  "SELECT Id FROM A WHERE d >= 2026-01-31 AND t < 2026-01-01T00:00:00Z AND u = 2026-01-01T10:00:00.123+05:30" },
	{ LIT("SELECT Id FROM A WHERE d = today AND e > LAST_N_DAYS : 30 AND f < next_n_days:0 AND g = THIS_QUARTER"),
	  "SELECT Id FROM A WHERE d = TODAY AND e > LAST_N_DAYS:30 AND f < NEXT_N_DAYS:0 AND g = THIS_QUARTER" },
	{ LIT("SELECT Id FROM A WHERE a IN ('x', 'y') AND b NOT IN (1,2.5) AND c INCLUDES ('p;q','r') AND d EXCLUDES ('s')"),
	  "SELECT Id FROM A WHERE a IN ('x', 'y') AND b NOT IN (1, 2.5) AND c INCLUDES ('p;q', 'r') AND d EXCLUDES ('s')" },
	{ LIT("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact WHERE LastName = 'x')"),
	  "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact WHERE LastName = 'x')" },
	{ LIT("SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName LIMIT 2) FROM Account"),
	  "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName ASC NULLS FIRST LIMIT 2) FROM Account" },
	{ LIT("SELECT count() FROM Account WHERE Name LIKE 'a%'"), "SELECT COUNT() FROM Account WHERE Name LIKE 'a%'" },
	{ LIT("SELECT COUNT(Id) cnt, count(Name) FROM Account"), "SELECT COUNT(Id) cnt, COUNT(Name) FROM Account" },
	{ LIT("SELECT Count FROM X"), "SELECT Count FROM X" },
	{ LIT("SELECT a.Name, Contract.Account.Owner.Name FROM Opportunity a"),
	  "SELECT a.Name, Contract.Account.Owner.Name FROM Opportunity a" },
	{ LIT("SELECT Id FROM Order ORDER BY Id"), "SELECT Id FROM Order ORDER BY Id ASC NULLS FIRST" },
	{ LIT("SELECT Id FROM A LIMIT 0"), "SELECT Id FROM A LIMIT 0" },
	{ LIT("SELECT Id FROM A WHERE n = 007 AND m = -0.25"), "SELECT Id FROM A WHERE n = 007 AND m = -0.25" },
	/* the text ends at len: what follows is never read */
	{ "SELECT Id FROM A garbage", 16, "SELECT Id FROM A" },
};

static void
test_parse_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *c = &ok_cases[i];
		struct soql_error e;
		struct soql *s = soql_parse(c->in, c->len, &e), *s2;
		struct cs_buf b, b2;

		if (s == NULL)
			fail_msg("case %zu: %s: %s", i, c->in, e.message);
		cs_buf_init(&b, 1 << 20);
		cs_buf_init(&b2, 1 << 20);
		assert_int_equal(soql_format(s, &b), CS_OK);
		if (strcmp(b.data, c->want) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, b.data, c->want);
		/* the canonical text is a fixed point */
		s2 = soql_parse(b.data, b.len, &e);
		assert_non_null(s2);
		assert_int_equal(soql_format(s2, &b2), CS_OK);
		assert_string_equal(b2.data, b.data);
		soql_free(s2);
		soql_free(s);
		cs_buf_cleanup(&b);
		cs_buf_cleanup(&b2);
	}
}

/* ---- parser: refused queries ---- */

struct bad_case {
	const char *in;
	size_t len;
	int row, column;        /* 0: no position */
	const char *detail;     /* the message's last line */
};

static const struct bad_case bad_cases[] = {
	{ LIT(""), 1, 1, "unexpected token: <EOF>" },
	{ LIT("DELETE FROM Account"), 1, 1, "unexpected token: DELETE" },
	{ LIT("SELECT FROM Account"), 1, 8, "unexpected token: FROM" },
	{ LIT("SELECT Id, FROM Account"), 1, 12, "unexpected token: FROM" },
	{ LIT("SELECT Id FROM"), 1, 15, "unexpected token: <EOF>" },
	{ LIT("SELECT Id FROM Account WHERE"), 1, 29, "unexpected token: <EOF>" },
	{ LIT("SELECT Id FROM Account LIMIT 5 foo"), 1, 32, "unexpected token: foo" },
	{ LIT("SELECT Id FROM Account a b"), 1, 26, "unexpected token: b" },
	{ LIT("SELECT Id FROM Account GROUP BY Name"), 1, 24, "unexpected token: GROUP" },
	{ LIT("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'"), 1, 56, "unexpected token: OR" },
	{ LIT("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b' AND Name = 'c'"), 1, 55, "unexpected token: AND" },
	{ LIT("SELECT Id FROM Account WHERE Name = 'a\\q'"), 1, 37,
	  "Invalid string literal 'a\\q'. Illegal character sequence '\\q' in string literal." },
	{ LIT("SELECT Id FROM Account WHERE Name = 'a\\%'"), 1, 37,
	  "Invalid string literal 'a\\%'. Illegal character sequence '\\%' in string literal." },
	{ LIT("SELECT Id FROM Account WHERE Name = 'a\\u12'"), 1, 37,
	  "Invalid string literal 'a\\u12'. Illegal character sequence '\\u' in string literal." },
	{ LIT("SELECT Id FROM Account WHERE Name = '\\ud800x'"), 1, 37,
	  "Invalid string literal '\\ud800x'. Illegal character sequence '\\ud800' in string literal." },
	{ LIT("SELECT Id FROM Account WHERE Name = 'abc"), 1, 37, "unterminated string literal" },
	{ LIT("SELECT Id FROM Account WHERE Name = 'abc\\"), 1, 37,
	  "Invalid string literal 'abc\\'. Illegal character sequence '\\' in string literal." },
	{ LIT("SELECT Id FROM Account WHERE Name = :name"), 1, 37, "Bind variables only allowed in Apex code" },
	{ LIT("SELECT Id FROM Account WHERE Name = \"x\""), 1, 37, "no viable alternative at character '\"'" },
	{ LIT("SELECT Id FROM Account WHERE Name ! 'x'"), 1, 35, "no viable alternative at character '!'" },
	{ LIT("SELECT Id FROM Account WHERE Name = 'x' ; "), 1, 41, "no viable alternative at character ';'" },
	{ LIT("SELECT Id FROM Account WHERE Name = 'x' \xc3\xa9"), 1, 41, "no viable alternative at character '\xc3\xa9'" },
	{ "SELECT Id\0FROM Account", 22, 1, 10, "no viable alternative at character '\\u0000'" },
	{ LIT("SELECT Id FROM Account WHERE Name LIKE"), 1, 39, "unexpected token: <EOF>" },
	{ LIT("SELECT Id FROM Account WHERE Name NOT LIKE 'x'"), 1, 39, "unexpected token: LIKE" },
	{ LIT("SELECT Id FROM Account WHERE Name IN ()"), 1, 39, "unexpected token: )" },
	{ LIT("SELECT Id FROM Account WHERE Name IN ('a',)"), 1, 43, "unexpected token: )" },
	{ LIT("SELECT Id FROM Account WHERE (Name = 'a'"), 1, 41, "unexpected token: <EOF>" },
	{ LIT("SELECT Id FROM Account WHERE Name = 'a')"), 1, 40, "unexpected token: )" },
	{ LIT("SELECT Id FROM Account WHERE CloseDate = 2026-13-01"), 1, 42, "unexpected token: 2026-13-01" },
	{ LIT("SELECT Id FROM Account WHERE CreatedDate > 2026-01-01T25:00:00Z"), 1, 44, "unexpected token: 2026-01-01T25:00:00Z" },
	{ LIT("SELECT Id FROM Account WHERE CreatedDate > 2026-01-01T10:00:00"), 1, 44, "unexpected token: 2026-01-01T10:00:00" },
	{ LIT("SELECT Id FROM Account WHERE CreatedDate > LAST_N_DAYS"), 1, 55, "unexpected token: <EOF>" },
	{ LIT("SELECT Id FROM Account WHERE CreatedDate > LAST_N_DAYS:-1"), 1, 56, "unexpected token: -1" },
	{ LIT("SELECT Id FROM Account WHERE CreatedDate > LAST_N_DAYS:100001"), 1, 56, "unexpected token: 100001" },
	{ LIT("SELECT Id FROM Account WHERE CreatedDate > YESTERDAYS"), 1, 44, "unexpected token: YESTERDAYS" },
	{ LIT("SELECT Id FROM Account LIMIT -1"), 1, 30, "unexpected token: -1" },
	{ LIT("SELECT Id FROM Account LIMIT 1.5"), 1, 30, "unexpected token: 1.5" },
	{ LIT("SELECT Id FROM Account LIMIT 99999999999999999999"), 1, 30, "unexpected token: 99999999999999999999" },
	{ LIT("SELECT Id FROM Account OFFSET 1 LIMIT 1"), 1, 33, "unexpected token: LIMIT" },
	{ LIT("SELECT Id FROM Account ORDER Name"), 1, 30, "unexpected token: Name" },
	{ LIT("SELECT Id FROM Account ORDER BY Name NULLS MIDDLE"), 1, 44, "unexpected token: MIDDLE" },
	{ LIT("SELECT COUNT(), Id FROM Account"), 1, 8, "COUNT() and fields cannot be selected together" },
	{ LIT("SELECT Id, COUNT() FROM Account"), 1, 12, "COUNT() and fields cannot be selected together" },
	{ LIT("SELECT Name FROM Account WHERE Id IN (SELECT Id FROM Contact"), 1, 61, "unexpected token: <EOF>" },
	{ LIT("SELECT Name, (SELECT Id, (SELECT Id FROM B) FROM C) FROM Account"), 1, 26, "unexpected token: (" },
	{ LIT("SELECT Id FROM A WHERE a.b.c.d.e.f.g = 1"), 1, 36, "field path has more than 5 relationships" },
	{ LIT("SELECT Id\nFROM Account\nWHERE Name = = 'x'"), 3, 14, "unexpected token: =" },
};

static void
test_parse_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct soql_error e;
		struct soql *s = soql_parse(c->in, c->len, &e);
		const char *last;
		char at[64];

		if (s != NULL)
			fail_msg("case %zu: accepted %s", i, c->in);
		assert_string_equal(e.code, "MALFORMED_QUERY");
		if (e.row != c->row || e.column != c->column)
			fail_msg("case %zu: %s: at %d:%d, want %d:%d", i, c->in, e.row, e.column, c->row, c->column);
		last = strrchr(e.message, '\n');
		last = last ? last + 1 : e.message;
		if (strcmp(last, c->detail) != 0)
			fail_msg("case %zu: %s:\n got  %s\n want %s", i, c->in, last, c->detail);
		snprintf(at, sizeof(at), "\nERROR at Row:%d:Column:%d\n", c->row, c->column);
		assert_non_null(strstr(e.message, at));
		assert_true(cs_utf8_valid(e.message, strlen(e.message)));
	}
}

/* "\n" + n spaces + "^": the caret line of a message */
static const char *
caret(int n)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "\n%*s^", n, "");
	return buf;
}

static void
expect_message(const char *q, const char *fragment, int spaces, const char *rest)
{
	struct soql_error e;
	char want[2048];

	assert_null(soql_parse(q, strlen(q), &e));
	snprintf(want, sizeof(want), "\n%s%s\n%s", fragment, caret(spaces), rest);
	if (strcmp(e.message, want) != 0)
		fail_msg("%s:\n got  [%s]\n want [%s]", q, e.message, want);
}

/* The framing of the message: the line around the error and a caret under it. */
static void
test_parse_error_frame(void **state)
{
	(void)state;
	/* at most 34 characters before the caret, starting on a word; two words after */
	expect_message("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c' ORDER BY Name",
	    "WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", 32, "ERROR at Row:1:Column:56\nunexpected token: OR");
	expect_message("SELECT Id FROM", "SELECT Id FROM", 14, "ERROR at Row:1:Column:15\nunexpected token: <EOF>");
	expect_message("SELECT Id, Name, Website, Phone, Industry, Type, Foo FROM Account LIMIT 5 garbage",
	    "Type, Foo FROM Account LIMIT 5 garbage", 31, "ERROR at Row:1:Column:75\nunexpected token: garbage");
	/* the column counts characters, not bytes */
	expect_message("SELECT Id FROM A WHERE a = '\xc3\xa9\xc3\xa9' b", "SELECT Id FROM A WHERE a = '\xc3\xa9\xc3\xa9' b",
	    32, "ERROR at Row:1:Column:33\nunexpected token: b");
	/* only the line of the error */
	expect_message("SELECT Id\nFROM Account\nWHERE Name == 'x' AND Id = null", "WHERE Name == 'x' AND", 12,
	    "ERROR at Row:3:Column:13\nunexpected token: =");
}

static void
test_parse_limits(void **state)
{
	struct soql_error e;
	struct soql *s;
	char *q;
	size_t n;

	(void)state;
	/* the length limit is checked before anything else */
	q = malloc(SOQL_MAX_LEN + 2);
	assert_non_null(q);
	n = (size_t)snprintf(q, SOQL_MAX_LEN + 2, "SELECT Id FROM Account WHERE Name = '");
	memset(q + n, 'x', SOQL_MAX_LEN - n - 1);
	q[SOQL_MAX_LEN - 1] = '\'';
	s = soql_parse(q, SOQL_MAX_LEN, &e);
	assert_non_null(s);
	soql_free(s);
	q[SOQL_MAX_LEN] = ' ';
	assert_null(soql_parse(q, SOQL_MAX_LEN + 1, &e));
	assert_string_equal(e.code, "MALFORMED_QUERY");
	assert_string_equal(e.message, "SOQL statements cannot be longer than 100,000 characters.");
	assert_int_equal(e.row, 0);
	free(q);

	/* invalid UTF-8 */
	assert_null(soql_parse(LIT("SELECT Id FROM A WHERE a = '\xff'"), &e));
	assert_string_equal(e.code, "MALFORMED_QUERY");

	/* nesting: SOQL_MAX_DEPTH levels pass, one more is refused */
	for (int depth = SOQL_MAX_DEPTH; depth <= SOQL_MAX_DEPTH + 1; depth++) {
		struct cs_buf b;
		cs_buf_init(&b, 1 << 16);
		cs_buf_puts(&b, "SELECT Id FROM A WHERE ");
		for (int i = 0; i < depth - 1; i++)
			cs_buf_puts(&b, "(");
		cs_buf_puts(&b, "a = 1");
		for (int i = 0; i < depth - 1; i++)
			cs_buf_puts(&b, ")");
		s = soql_parse(b.data, b.len, &e);
		if (depth <= SOQL_MAX_DEPTH)
			assert_non_null(s);
		else {
			assert_null(s);
			assert_non_null(strstr(e.message, "nested deeper than"));
		}
		soql_free(s);
		cs_buf_reset(&b);
		cs_buf_puts(&b, "SELECT Id FROM A WHERE ");
		for (int i = 0; i < depth - 1; i++)
			cs_buf_puts(&b, "NOT ");
		cs_buf_puts(&b, "a = 1");
		s = soql_parse(b.data, b.len, &e);
		assert_true(depth <= SOQL_MAX_DEPTH ? s != NULL : s == NULL);
		soql_free(s);
		cs_buf_cleanup(&b);
	}
	/* the parsed tree has a memory budget: 50,000 selected fields exceed it, a 50,000-value
	 * IN list does not */
	for (int pass = 0; pass < 2; pass++) {
		struct cs_buf b;
		cs_buf_init(&b, SOQL_MAX_LEN);
		cs_buf_puts(&b, pass == 0 ? "SELECT a" : "SELECT a FROM X WHERE a IN (1");
		while (b.len + 10 < SOQL_MAX_LEN)
			cs_buf_puts(&b, pass == 0 ? ",a" : ",1");
		cs_buf_puts(&b, pass == 0 ? " FROM X" : ")");
		s = soql_parse(b.data, b.len, &e);
		if (pass == 0) {
			assert_null(s);
			assert_string_equal(e.code, "QUERY_TOO_COMPLICATED");
			assert_string_equal(e.message, "Query is either selecting too many fields or the filter "
			    "conditions are too complicated.");
		} else
			assert_non_null(s);
		soql_free(s);
		cs_buf_cleanup(&b);
	}
	/* a deep hostile input fails cleanly instead of exhausting the stack */
	q = malloc(SOQL_MAX_LEN);
	assert_non_null(q);
	n = (size_t)snprintf(q, SOQL_MAX_LEN, "SELECT Id FROM A WHERE ");
	memset(q + n, '(', SOQL_MAX_LEN - n);
	assert_null(soql_parse(q, SOQL_MAX_LEN, &e));
	free(q);
	soql_free(NULL);
}

static void
test_error_json(void **state)
{
	struct soql_error e;
	json_t *j;

	(void)state;
	assert_null(soql_parse(LIT("SELECT"), &e));
	j = soql_error_json(&e);
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(cs_json_get_str(json_array_get(j, 0), "errorCode"), "MALFORMED_QUERY");
	assert_string_equal(cs_json_get_str(json_array_get(j, 0), "message"),
	    "\nSELECT\n      ^\nERROR at Row:1:Column:7\nunexpected token: <EOF>");
	assert_null(json_object_get(json_array_get(j, 0), "fields"));
	json_decref(j);
}

/* ---- execution against an emulator ---- */

struct fx {
	struct emu emu;
	int64_t now;
	char acme[SFID_LEN + 1], beta[SFID_LEN + 1], gamma[SFID_LEN + 1];
	char smith[SFID_LEN + 1], jones[SFID_LEN + 1], obrien[SFID_LEN + 1];
	char k1[SFID_LEN + 1], k2[SFID_LEN + 1], k3[SFID_LEN + 1];
	char o1[SFID_LEN + 1], o2[SFID_LEN + 1], o3[SFID_LEN + 1], o4[SFID_LEN + 1], o5[SFID_LEN + 1];
	char gone[SFID_LEN + 1];
};

static void
create(struct fx *f, const char *obj, const char *json, char *id)
{
	struct emu_caller who = { "rest", 62, NULL };
	json_error_t je;
	json_t *fields = json_loads(json, 0, &je), *err = NULL;
	struct emu_txn *t;
	bool ok;

	if (fields == NULL)
		fail_msg("bad fixture JSON %s: %s", json, je.text);
	emu_lock(&f->emu);
	t = emu_txn_begin(&f->emu, &who);
	assert_non_null(t);
	ok = emu_create(t, emu_object(&f->emu, obj), fields, id, &err);
	if (ok)
		emu_txn_commit(t);
	else
		emu_txn_rollback(t);
	emu_unlock(&f->emu);
	if (!ok) {
		char *s = cs_json_str(err);
		fail_msg("creating %s %s: %s", obj, json, s ? s : "?");
	}
	json_decref(fields);
}

static void
poke(struct fx *f, const char *obj, const char *id, const char *field, const char *value)
{
	json_t *rec;

	emu_lock(&f->emu);
	rec = json_object_get(emu_object(&f->emu, obj)->records, id);
	assert_non_null(rec);
	json_object_set_new(rec, field, json_string(value));
	emu_unlock(&f->emu);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct emu_opts opts;
	struct cs_error e;
	char buf[512];

	assert_non_null(f);
	memset(&opts, 0, sizeof(opts));
	if (emu_init(&f->emu, &opts, &e) != CS_OK)
		fail_msg("emu_init: %s", e.msg);
	/* Friday 2026-11-27 12:00 UTC: the week began on Sunday the 22nd */
	f->now = cs_days_from_civil(2026, 11, 27) * 86400000LL + 12 * 3600000LL;

	create(f, "Account", "{\"Name\":\"Acme\",\"AnnualRevenue\":1000,\"NumberOfEmployees\":10,"
	    "\"Type\":\"Customer - Direct\"}", f->acme);
	create(f, "Account", "{\"Name\":\"beta corp\",\"AnnualRevenue\":500.5}", f->beta);
	create(f, "Account", "{\"Name\":\"Gamma_100%\",\"NumberOfEmployees\":30}", f->gamma);

	snprintf(buf, sizeof(buf), "{\"LastName\":\"Smith\",\"FirstName\":\"Ann\",\"AccountId\":\"%s\","
	    "\"Email\":\"ann@acme.test\"}", f->acme);
	create(f, "Contact", buf, f->smith);
	snprintf(buf, sizeof(buf), "{\"LastName\":\"Jones\",\"AccountId\":\"%s\"}", f->acme);
	create(f, "Contact", buf, f->jones);
	create(f, "Contact", "{\"LastName\":\"O'Brien\",\"FirstName\":\"\\u00c9mile\"}", f->obrien);

	snprintf(buf, sizeof(buf), "{\"AccountId\":\"%s\",\"Name\":\"K1\",\"StartDate\":\"2026-01-15\","
	    "\"ContractTerm\":12}", f->acme);
	create(f, "Contract", buf, f->k1);
	snprintf(buf, sizeof(buf), "{\"AccountId\":\"%s\",\"Name\":\"K2\",\"StartDate\":\"2025-12-31\","
	    "\"ContractTerm\":6}", f->beta);
	create(f, "Contract", buf, f->k2);
	/* ActivatedDate is read-only through the API: set it in the stored records */
	poke(f, "Contract", f->k1, "ActivatedDate", "2026-11-27T10:00:00.000+0000");
	poke(f, "Contract", f->k2, "ActivatedDate", "2026-11-26T23:59:59.000+0000");
	snprintf(buf, sizeof(buf), "{\"AccountId\":\"%s\",\"Name\":\"K3\"}", f->beta);
	create(f, "Contract", buf, f->k3);

	snprintf(buf, sizeof(buf), "{\"Name\":\"O1\",\"StageName\":\"Prospecting\",\"CloseDate\":\"2026-11-26\","
	    "\"AccountId\":\"%s\",\"ContractId\":\"%s\",\"Amount\":100}", f->acme, f->k1);
	create(f, "Opportunity", buf, f->o1);
	snprintf(buf, sizeof(buf), "{\"Name\":\"O2\",\"StageName\":\"Prospecting\",\"CloseDate\":\"2026-11-27\","
	    "\"ContractId\":\"%s\"}", f->k2);
	create(f, "Opportunity", buf, f->o2);
	create(f, "Opportunity", "{\"Name\":\"O3\",\"StageName\":\"Prospecting\",\"CloseDate\":\"2026-12-01\"}", f->o3);
	create(f, "Opportunity", "{\"Name\":\"O4\",\"StageName\":\"Prospecting\",\"CloseDate\":\"2026-08-29\"}", f->o4);
	create(f, "Opportunity", "{\"Name\":\"O5\",\"StageName\":\"Prospecting\",\"CloseDate\":\"2026-08-28\"}", f->o5);

	/* one account in the recycle bin */
	create(f, "Account", "{\"Name\":\"Deleted Co\"}", f->gone);
	{
		struct emu_caller who = { "rest", 62, NULL };
		json_t *err = NULL;
		struct emu_txn *t;
		emu_lock(&f->emu);
		t = emu_txn_begin(&f->emu, &who);
		assert_true(emu_delete(t, f->gone, &err));
		emu_txn_commit(t);
		emu_unlock(&f->emu);
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	emu_cleanup(&f->emu);
	free(f);
	return 0;
}

/* Runs q and returns its rows; a refusal fails the test. */
static json_t *
ok_all(struct fx *f, const char *q, bool all, long *total)
{
	json_t *rows = NULL, *err = NULL;
	long t = -1;
	bool ok;

	emu_lock(&f->emu);
	ok = soql_run_at(&f->emu, q, strlen(q), all, 62, f->now, &rows, &t, &err);
	emu_unlock(&f->emu);
	if (!ok) {
		char *s = cs_json_str(err);
		fail_msg("%s: %s", q, s ? s : "?");
	}
	assert_null(err);
	assert_true(json_is_array(rows));
	if (total)
		*total = t;
	return rows;
}

static json_t *
ok(struct fx *f, const char *q)
{
	long total;
	json_t *rows = ok_all(f, q, false, &total);

	assert_int_equal(total, (long)json_array_size(rows));
	return rows;
}

/* Runs q expecting a refusal; returns its one error object (new reference). */
static json_t *
bad(struct fx *f, const char *q, const char *code)
{
	json_t *rows = NULL, *err = NULL, *e;
	long t = -1;
	bool ok_;

	emu_lock(&f->emu);
	ok_ = soql_run_at(&f->emu, q, strlen(q), false, 62, f->now, &rows, &t, &err);
	emu_unlock(&f->emu);
	if (ok_)
		fail_msg("%s: accepted", q);
	assert_null(rows);
	assert_int_equal(json_array_size(err), 1);
	e = json_incref(json_array_get(err, 0));
	json_decref(err);
	if (strcmp(cs_json_get_str(e, "errorCode"), code) != 0)
		fail_msg("%s: got %s (%s), want %s", q, cs_json_get_str(e, "errorCode"), cs_json_get_str(e, "message"), code);
	return e;
}

static void
bad_msg(struct fx *f, const char *q, const char *code, const char *msg)
{
	json_t *e = bad(f, q, code);

	assert_string_equal(cs_json_get_str(e, "message"), msg);
	json_decref(e);
}

/* The values of field k of every row, joined with ',' ("null" for null). */
static char *
col(json_t *rows, const char *k)
{
	struct cs_buf b;
	size_t i;
	json_t *r;

	cs_buf_init(&b, 1 << 16);
	json_array_foreach(rows, i, r) {
		json_t *v = json_object_get(r, k);
		if (i)
			cs_buf_putc(&b, ',');
		if (json_is_string(v))
			cs_buf_puts(&b, json_string_value(v));
		else {
			char *s = cs_json_str(v);
			cs_buf_puts(&b, s ? s : "(absent)");
			free(s);
		}
	}
	return cs_buf_take(&b);
}

/* Asserts that q returns exactly the values want of field k, in this order. */
static void
expect_col(struct fx *f, const char *q, const char *k, const char *want)
{
	json_t *rows = ok(f, q);
	char *got = col(rows, k);

	if (strcmp(got, want) != 0)
		fail_msg("%s:\n got  %s\n want %s", q, got, want);
	free(got);
	json_decref(rows);
}

static void
test_run_select(void **state)
{
	struct fx *f = *state;
	json_t *rows = ok(f, "select name, ID, annualrevenue from ACCOUNT where name = 'ACME'"), *r, *a;
	const char *k;
	const char *want[] = { "attributes", "Name", "Id", "AnnualRevenue" };
	size_t i = 0;
	char url[128];
	void *it;

	assert_int_equal(json_array_size(rows), 1);
	r = json_array_get(rows, 0);
	/* canonical field case, in SELECT order, after the attributes */
	for (it = json_object_iter(r); it; it = json_object_iter_next(r, it), i++) {
		k = json_object_iter_key(it);
		assert_true(i < 4);
		assert_string_equal(k, want[i]);
	}
	assert_int_equal(i, 4);
	a = json_object_get(r, "attributes");
	assert_string_equal(cs_json_get_str(a, "type"), "Account");
	snprintf(url, sizeof(url), "/services/data/v62.0/sobjects/Account/%s", f->acme);
	assert_string_equal(cs_json_get_str(a, "url"), url);
	assert_string_equal(cs_json_get_str(r, "Id"), f->acme);
	assert_true(json_is_number(json_object_get(r, "AnnualRevenue")));
	assert_true(json_number_value(json_object_get(r, "AnnualRevenue")) == 1000.0);
	json_decref(rows);

	/* a field that is null is present as null */
	rows = ok(f, "SELECT NumberOfEmployees FROM Account WHERE Name = 'beta corp'");
	assert_true(json_is_null(json_object_get(json_array_get(rows, 0), "NumberOfEmployees")));
	json_decref(rows);

	/* no WHERE: every live record, in storage order */
	expect_col(f, "SELECT Name FROM Account", "Name", "Acme,beta corp,Gamma_100%");
	/* alias and the object's own name as a prefix */
	expect_col(f, "SELECT a.Name FROM Account a WHERE a.Name = 'acme'", "Name", "Acme");
	expect_col(f, "SELECT Account.Name FROM Account WHERE Account.Name = 'acme'", "Name", "Acme");
}

static void
test_run_count(void **state)
{
	struct fx *f = *state;
	json_t *rows;
	long total = -1;

	rows = ok_all(f, "SELECT COUNT() FROM Contact", false, &total);
	assert_int_equal(total, 3);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	rows = ok_all(f, "SELECT count() FROM Contact WHERE AccountId != null LIMIT 1", false, &total);
	assert_int_equal(total, 1);
	json_decref(rows);
	rows = ok_all(f, "SELECT COUNT() FROM Account", true, &total);
	assert_int_equal(total, 4);
	json_decref(rows);

	/* COUNT(field) is an aggregate: one AggregateResult row */
	rows = ok_all(f, "SELECT COUNT(Id), COUNT(NumberOfEmployees) n FROM Account", false, &total);
	assert_int_equal(total, 1);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(cs_json_get_str(json_object_get(json_array_get(rows, 0), "attributes"), "type"), "AggregateResult");
	assert_int_equal(cs_json_get_int(json_array_get(rows, 0), "expr0", -1), 3);
	assert_int_equal(cs_json_get_int(json_array_get(rows, 0), "n", -1), 2);
	json_decref(rows);
}

static void
test_run_strings(void **state)
{
	struct fx *f = *state;

	/* = is case-insensitive; != includes nulls, as in Salesforce */
	expect_col(f, "SELECT LastName FROM Contact WHERE LastName = 'SMITH'", "LastName", "Smith");
	expect_col(f, "SELECT LastName FROM Contact WHERE FirstName != 'ann'", "LastName", "Jones,O'Brien");
	expect_col(f, "SELECT LastName FROM Contact WHERE FirstName = null", "LastName", "Jones");
	expect_col(f, "SELECT LastName FROM Contact WHERE FirstName = ''", "LastName", "Jones");
	expect_col(f, "SELECT LastName FROM Contact WHERE FirstName != null", "LastName", "Smith,O'Brien");
	expect_col(f, "SELECT LastName FROM Contact WHERE LastName = 'o\\'brien'", "LastName", "O'Brien");
	expect_col(f, "SELECT LastName FROM Contact WHERE FirstName = '\\u00c9mile'", "LastName", "O'Brien");
	/* ordering comparisons on text, case-insensitive; nulls never match them */
	expect_col(f, "SELECT LastName FROM Contact WHERE LastName > 'jones'", "LastName", "Smith,O'Brien");
	expect_col(f, "SELECT LastName FROM Contact WHERE FirstName < 'b'", "LastName", "Smith");
	/* IN and NOT IN (NOT IN keeps nulls) */
	expect_col(f, "SELECT LastName FROM Contact WHERE LastName IN ('jones', 'nobody', 'SMITH')", "LastName", "Smith,Jones");
	expect_col(f, "SELECT LastName FROM Contact WHERE FirstName NOT IN ('Ann')", "LastName", "Jones,O'Brien");
	expect_col(f, "SELECT LastName FROM Contact WHERE FirstName IN ('Ann', null)", "LastName", "Smith,Jones");
	/* picklists compare as text */
	expect_col(f, "SELECT Name FROM Account WHERE Type = 'customer - direct'", "Name", "Acme");
}

static void
test_run_like(void **state)
{
	struct fx *f = *state;

	expect_col(f, "SELECT Name FROM Account WHERE Name LIKE 'a%'", "Name", "Acme");
	expect_col(f, "SELECT Name FROM Account WHERE Name LIKE '%CORP'", "Name", "beta corp");
	expect_col(f, "SELECT Name FROM Account WHERE Name LIKE '%m%'", "Name", "Acme,Gamma_100%");
	expect_col(f, "SELECT Name FROM Account WHERE Name LIKE 'ac_e'", "Name", "Acme");
	expect_col(f, "SELECT Name FROM Account WHERE Name LIKE 'ac_'", "Name", "");
	/* escaped wildcards are literal */
	expect_col(f, "SELECT Name FROM Account WHERE Name LIKE '%\\_100\\%'", "Name", "Gamma_100%");
	expect_col(f, "SELECT Name FROM Account WHERE Name LIKE '%\\%%'", "Name", "Gamma_100%");
	expect_col(f, "SELECT Name FROM Account WHERE Name LIKE 'acme\\%'", "Name", "");
	expect_col(f, "SELECT Name FROM Account WHERE Name LIKE '%'", "Name", "Acme,beta corp,Gamma_100%");
	/* _ is one character, not one byte */
	expect_col(f, "SELECT LastName FROM Contact WHERE FirstName LIKE '_mile'", "LastName", "O'Brien");
	expect_col(f, "SELECT LastName FROM Contact WHERE FirstName LIKE '__mile'", "LastName", "");
	expect_col(f, "SELECT LastName FROM Contact WHERE NOT FirstName LIKE 'a%'", "LastName", "Jones,O'Brien");
}

static void
test_run_numbers_bools(void **state)
{
	struct fx *f = *state;

	expect_col(f, "SELECT Name FROM Account WHERE AnnualRevenue > 500", "Name", "Acme,beta corp");
	expect_col(f, "SELECT Name FROM Account WHERE AnnualRevenue >= 500.5 AND AnnualRevenue < 1000", "Name", "beta corp");
	expect_col(f, "SELECT Name FROM Account WHERE AnnualRevenue = 1000.0", "Name", "Acme");
	expect_col(f, "SELECT Name FROM Account WHERE AnnualRevenue > -1.5", "Name", "Acme,beta corp");
	expect_col(f, "SELECT Name FROM Account WHERE NumberOfEmployees <= 10 OR NumberOfEmployees = null", "Name", "Acme,beta corp");
	expect_col(f, "SELECT Name FROM Account WHERE NumberOfEmployees IN (30, 10)", "Name", "Acme,Gamma_100%");
	expect_col(f, "SELECT Name FROM Opportunity WHERE IsWon = false AND Amount = 100", "Name", "O1");
	expect_col(f, "SELECT Name FROM Opportunity WHERE IsWon = true", "Name", "");
	expect_col(f, "SELECT Name FROM Opportunity WHERE IsWon != TRUE AND Amount != null", "Name", "O1");
}

static void
test_run_logic(void **state)
{
	struct fx *f = *state;

	expect_col(f, "SELECT Name FROM Account WHERE (Name = 'Acme' OR Name = 'beta corp') AND NumberOfEmployees = null",
	    "Name", "beta corp");
	expect_col(f, "SELECT Name FROM Account WHERE Name = 'Acme' OR (Name = 'beta corp' AND NumberOfEmployees = 1)",
	    "Name", "Acme");
	expect_col(f, "SELECT Name FROM Account WHERE NOT (Name = 'Acme' OR Name = 'beta corp')", "Name", "Gamma_100%");
	expect_col(f, "SELECT Name FROM Account WHERE NOT NOT Name = 'Acme'", "Name", "Acme");
}

static void
test_run_dates(void **state)
{
	struct fx *f = *state;

	/* date fields with date literals */
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = 2026-11-26", "Name", "O1");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate > 2026-11-26", "Name", "O2,O3");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate <= 2026-11-26", "Name", "O1,O4,O5");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate IN (2026-08-28, 2026-12-01)", "Name", "O3,O5");
	/* relative literals, from Friday 2026-11-27 */
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = TODAY", "Name", "O2");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = YESTERDAY", "Name", "O1");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate < TODAY", "Name", "O1,O4,O5");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate > TODAY", "Name", "O3");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate >= TOMORROW", "Name", "O3");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = THIS_WEEK", "Name", "O1,O2");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = NEXT_WEEK", "Name", "O3");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = THIS_MONTH", "Name", "O1,O2");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = NEXT_MONTH", "Name", "O3");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = LAST_MONTH", "Name", "");
	/* LAST_90_DAYS includes today and the 90 days before (2026-08-29) */
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = LAST_90_DAYS", "Name", "O1,O2,O4");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = LAST_N_DAYS:1", "Name", "O1,O2");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = LAST_N_DAYS:91", "Name", "O1,O2,O4,O5");
	/* NEXT_N_DAYS starts tomorrow */
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = NEXT_N_DAYS:4", "Name", "O3");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = NEXT_N_DAYS:3", "Name", "");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = NEXT_90_DAYS", "Name", "O3");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = THIS_YEAR", "Name", "O1,O2,O3,O4,O5");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = LAST_YEAR OR CloseDate = NEXT_YEAR", "Name", "");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = THIS_QUARTER", "Name", "O1,O2,O3");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = LAST_QUARTER", "Name", "O4,O5");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = N_DAYS_AGO:90", "Name", "O4");
	expect_col(f, "SELECT Name FROM Opportunity WHERE CloseDate = LAST_N_MONTHS:3", "Name", "O4,O5");
	expect_col(f, "SELECT Name FROM Contract WHERE StartDate = LAST_YEAR", "Name", "K2");
	expect_col(f, "SELECT Name FROM Contract WHERE StartDate = null", "Name", "K3");

	/* dateTime fields: literals with offsets, and relative literals as whole UTC days */
	expect_col(f, "SELECT Name FROM Contract WHERE ActivatedDate = TODAY", "Name", "K1");
	expect_col(f, "SELECT Name FROM Contract WHERE ActivatedDate = YESTERDAY", "Name", "K2");
	expect_col(f, "SELECT Name FROM Contract WHERE ActivatedDate = LAST_N_DAYS:1", "Name", "K1,K2");
	expect_col(f, "SELECT Name FROM Contract WHERE ActivatedDate > 2026-11-27T09:59:59Z", "Name", "K1");
	expect_col(f, "SELECT Name FROM Contract WHERE ActivatedDate = 2026-11-27T10:00:00Z", "Name", "K1");
	expect_col(f, "SELECT Name FROM Contract WHERE ActivatedDate = 2026-11-27T12:00:00.000+02:00", "Name", "K1");
	expect_col(f, "SELECT Name FROM Contract WHERE ActivatedDate < 2026-11-27T02:00:00+02:00", "Name", "K2");
	expect_col(f, "SELECT Name FROM Contract WHERE ActivatedDate < 2026-11-26T23:00:00-01:00", "Name", "K2");
	expect_col(f, "SELECT Name FROM Contract WHERE ActivatedDate >= 2026-11-26T23:59:59Z", "Name", "K1,K2");
	/* EndDate is derived by the emulator from StartDate and ContractTerm */
	expect_col(f, "SELECT Name FROM Contract WHERE EndDate = 2027-01-14", "Name", "K1");
	expect_col(f, "SELECT Name FROM Contract WHERE CreatedDate != null AND SystemModstamp > 2020-01-01T00:00:00Z",
	    "Name", "K1,K2,K3");
}

static void
test_run_relationships(void **state)
{
	struct fx *f = *state;
	json_t *rows = ok(f, "SELECT LastName, Account.Name, account.annualrevenue, AccountId FROM Contact"), *r, *a;
	char url[128];
	const char *k;
	void *it;

	assert_int_equal(json_array_size(rows), 3);
	r = json_array_get(rows, 0);
	a = json_object_get(r, "Account");
	assert_true(json_is_object(a));
	assert_string_equal(cs_json_get_str(json_object_get(a, "attributes"), "type"), "Account");
	snprintf(url, sizeof(url), "/services/data/v62.0/sobjects/Account/%s", f->acme);
	assert_string_equal(cs_json_get_str(json_object_get(a, "attributes"), "url"), url);
	assert_string_equal(cs_json_get_str(a, "Name"), "Acme");
	assert_true(json_number_value(json_object_get(a, "AnnualRevenue")) == 1000.0);
	/* one nested object per relationship, at the place of its first field */
	it = json_object_iter(r);
	k = json_object_iter_key(it);
	assert_string_equal(k, "attributes");
	it = json_object_iter_next(r, it);
	assert_string_equal(json_object_iter_key(it), "LastName");
	it = json_object_iter_next(r, it);
	assert_string_equal(json_object_iter_key(it), "Account");
	it = json_object_iter_next(r, it);
	assert_string_equal(json_object_iter_key(it), "AccountId");
	assert_null(json_object_iter_next(r, it));
	/* a null reference renders as null */
	r = json_array_get(rows, 2);
	assert_string_equal(cs_json_get_str(r, "LastName"), "O'Brien");
	assert_true(json_is_null(json_object_get(r, "Account")));
	json_decref(rows);

	/* two levels */
	rows = ok(f, "SELECT Name, Contract.Account.Name, Contract.Name FROM Opportunity WHERE Name IN ('O1','O2','O3') ORDER BY Name");
	r = json_array_get(rows, 0);
	a = json_object_get(json_object_get(r, "Contract"), "Account");
	assert_string_equal(cs_json_get_str(json_object_get(json_object_get(r, "Contract"), "attributes"), "type"), "Contract");
	assert_string_equal(cs_json_get_str(json_object_get(r, "Contract"), "Name"), "K1");
	assert_string_equal(cs_json_get_str(json_object_get(a, "attributes"), "type"), "Account");
	assert_string_equal(cs_json_get_str(a, "Name"), "Acme");
	a = json_object_get(json_object_get(json_array_get(rows, 1), "Contract"), "Account");
	assert_string_equal(cs_json_get_str(a, "Name"), "beta corp");
	assert_true(json_is_null(json_object_get(json_array_get(rows, 2), "Contract")));
	json_decref(rows);

	/* system relationships and the seeded user */
	rows = ok(f, "SELECT Owner.Name, CreatedBy.Username FROM Account WHERE Name = 'Acme'");
	r = json_array_get(rows, 0);
	assert_string_equal(cs_json_get_str(json_object_get(r, "Owner"), "Name"), "Sync Integration");
	assert_non_null(cs_json_get_str(json_object_get(r, "CreatedBy"), "Username"));
	json_decref(rows);

	/* filtering and sorting on parent fields */
	expect_col(f, "SELECT LastName FROM Contact WHERE Account.Name = 'acme' ORDER BY LastName", "LastName", "Jones,Smith");
	expect_col(f, "SELECT LastName FROM Contact WHERE Account.Name = null", "LastName", "O'Brien");
	expect_col(f, "SELECT Name FROM Opportunity WHERE Contract.Account.Name LIKE 'beta%'", "Name", "O2");
	expect_col(f, "SELECT Name FROM Contract ORDER BY Account.Name DESC, Name DESC", "Name", "K3,K2,K1");
}

static void
test_run_order_limit(void **state)
{
	struct fx *f = *state;

	expect_col(f, "SELECT Name FROM Account ORDER BY Name", "Name", "Acme,beta corp,Gamma_100%");
	expect_col(f, "SELECT Name FROM Account ORDER BY Name DESC", "Name", "Gamma_100%,beta corp,Acme");
	/* nulls first when ascending, last when descending, unless told */
	expect_col(f, "SELECT Name FROM Account ORDER BY NumberOfEmployees", "Name", "beta corp,Acme,Gamma_100%");
	expect_col(f, "SELECT Name FROM Account ORDER BY NumberOfEmployees DESC", "Name", "Gamma_100%,Acme,beta corp");
	expect_col(f, "SELECT Name FROM Account ORDER BY NumberOfEmployees ASC NULLS LAST", "Name", "Acme,Gamma_100%,beta corp");
	expect_col(f, "SELECT Name FROM Account ORDER BY NumberOfEmployees DESC NULLS FIRST", "Name", "beta corp,Gamma_100%,Acme");
	/* several keys */
	expect_col(f, "SELECT Name FROM Opportunity ORDER BY StageName, CloseDate DESC", "Name", "O3,O2,O1,O4,O5");
	expect_col(f, "SELECT Name FROM Contract ORDER BY AccountId, StartDate", "Name", "K1,K3,K2");
	expect_col(f, "SELECT LastName FROM Contact ORDER BY FirstName DESC NULLS LAST", "LastName", "O'Brien,Smith,Jones");
	/* LIMIT and OFFSET after sorting */
	expect_col(f, "SELECT Name FROM Opportunity ORDER BY Name LIMIT 2", "Name", "O1,O2");
	expect_col(f, "SELECT Name FROM Opportunity ORDER BY Name LIMIT 2 OFFSET 2", "Name", "O3,O4");
	expect_col(f, "SELECT Name FROM Opportunity ORDER BY Name DESC OFFSET 3", "Name", "O2,O1");
	expect_col(f, "SELECT Name FROM Opportunity ORDER BY Name OFFSET 10", "Name", "");
	expect_col(f, "SELECT Name FROM Opportunity LIMIT 0", "Name", "");
	expect_col(f, "SELECT Name FROM Opportunity ORDER BY Name OFFSET 2000", "Name", "");
}

static void
test_run_ids(void **state)
{
	struct fx *f = *state;
	char q[256], id15[16];

	snprintf(q, sizeof(q), "SELECT Name FROM Account WHERE Id = '%s'", f->beta);
	expect_col(f, q, "Name", "beta corp");
	/* a 15-character id names the same record */
	memcpy(id15, f->beta, 15);
	id15[15] = '\0';
	snprintf(q, sizeof(q), "SELECT Name FROM Account WHERE Id = '%s'", id15);
	expect_col(f, q, "Name", "beta corp");
	snprintf(q, sizeof(q), "SELECT LastName FROM Contact WHERE AccountId IN ('%s', '%s') ORDER BY LastName", id15, f->acme);
	expect_col(f, q, "LastName", "Jones,Smith");
	snprintf(q, sizeof(q), "SELECT LastName FROM Contact WHERE AccountId != '%s'", f->acme);
	expect_col(f, q, "LastName", "O'Brien");
	expect_col(f, "SELECT LastName FROM Contact WHERE AccountId = ''", "LastName", "O'Brien");
}

static void
test_run_query_all(void **state)
{
	struct fx *f = *state;
	json_t *rows;
	long total;

	expect_col(f, "SELECT Name FROM Account WHERE Name = 'Deleted Co'", "Name", "");
	rows = ok_all(f, "SELECT Name, IsDeleted FROM Account WHERE Name LIKE 'Deleted%'", true, &total);
	assert_int_equal(total, 1);
	assert_true(json_is_true(json_object_get(json_array_get(rows, 0), "IsDeleted")));
	json_decref(rows);
	rows = ok_all(f, "SELECT Name FROM Account WHERE IsDeleted = false ORDER BY Name", true, &total);
	assert_int_equal(total, 3);
	json_decref(rows);
}

static void
test_run_subqueries(void **state)
{
	struct fx *f = *state;
	json_t *rows, *c;

	/* semi-join and anti-join */
	expect_col(f, "SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", "Name", "Acme");
	expect_col(f, "SELECT Name FROM Account WHERE Id NOT IN (SELECT AccountId FROM Contract WHERE Name = 'K1')",
	    "Name", "beta corp,Gamma_100%");
	expect_col(f, "SELECT LastName FROM Contact WHERE AccountId IN (SELECT Id FROM Account WHERE Name = 'nobody')",
	    "LastName", "");

	/* child relationship: {"totalSize","done","records"} or null */
	rows = ok(f, "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName DESC) FROM Account ORDER BY Name");
	c = json_object_get(json_array_get(rows, 0), "Contacts");
	assert_int_equal(cs_json_get_int(c, "totalSize", -1), 2);
	assert_true(cs_json_get_bool(c, "done", false));
	{
		char *got = col(json_object_get(c, "records"), "LastName");
		assert_string_equal(got, "Smith,Jones");
		free(got);
	}
	assert_string_equal(cs_json_get_str(json_object_get(json_array_get(json_object_get(c, "records"), 0),
	    "attributes"), "type"), "Contact");
	assert_true(json_is_null(json_object_get(json_array_get(rows, 1), "Contacts")));
	json_decref(rows);
	rows = ok(f, "SELECT Name, (SELECT Name FROM Contracts WHERE StartDate != null) FROM Account WHERE Name = 'beta corp'");
	c = json_object_get(json_array_get(rows, 0), "Contracts");
	assert_int_equal(cs_json_get_int(c, "totalSize", -1), 1);
	json_decref(rows);
}

/* soql_run itself reads the wall clock: records created now are in LAST_N_DAYS:1 */
static void
test_run_wall_clock(void **state)
{
	struct fx *f = *state;
	const char *q = "SELECT COUNT() FROM Account WHERE CreatedDate = LAST_N_DAYS:1";
	json_t *rows = NULL, *err = NULL;
	long total = -1;

	emu_lock(&f->emu);
	assert_true(soql_run(&f->emu, q, strlen(q), false, 62, &rows, &total, &err));
	emu_unlock(&f->emu);
	assert_int_equal(total, 3);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	q = "SELECT COUNT() FROM Account WHERE CreatedDate < LAST_N_DAYS:1";
	emu_lock(&f->emu);
	assert_true(soql_run(&f->emu, q, strlen(q), false, 62, &rows, &total, &err));
	emu_unlock(&f->emu);
	assert_int_equal(total, 0);
	json_decref(rows);
}

static void
test_run_errors(void **state)
{
	struct fx *f = *state;
	json_t *e;

	/* wording and framing as Salesforce sends them */
	bad_msg(f, "select id,name,type from accountx", "INVALID_TYPE",
	    "\nselect id,name,type from accountx\n                         ^\nERROR at Row:1:Column:26\n"
	    "sObject type 'accountx' is not supported. If you are attempting to use a custom object, be sure to "
	    "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
	    "appropriate names.");
	bad_msg(f, "select Id, Title,Email,FirstName, SF_date__c, Phone from Contact where Title = 'x'", "INVALID_FIELD",
	    "\nselect Id, Title,Email,FirstName, SF_date__c, Phone from\n"
	    "                                  ^\nERROR at Row:1:Column:35\n"
	    "No such column 'SF_date__c' on entity 'Contact'. If you are attempting to use a custom field, be sure "
	    "to append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
	    "the appropriate names.");
	bad_msg(f, "SELECT Id, Name, Website, Phone, Industry, Type, Foo FROM Account", "INVALID_FIELD",
	    "\nWebsite, Phone, Industry, Type, Foo FROM Account\n"
	    "                                ^\nERROR at Row:1:Column:50\n"
	    "No such column 'Foo' on entity 'Account'. If you are attempting to use a custom field, be sure "
	    "to append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
	    "the appropriate names.");
	/* unknown fields anywhere: WHERE, ORDER BY, parent paths */
	e = bad(f, "SELECT Id FROM Account WHERE Nme = 'x'", "INVALID_FIELD");
	assert_non_null(strstr(cs_json_get_str(e, "message"), "ERROR at Row:1:Column:30\nNo such column 'Nme' on entity 'Account'."));
	json_decref(e);
	e = bad(f, "SELECT Id FROM Account ORDER BY Nme", "INVALID_FIELD");
	assert_non_null(strstr(cs_json_get_str(e, "message"), "Column:33\nNo such column 'Nme'"));
	json_decref(e);
	e = bad(f, "SELECT Account.Nme FROM Contact", "INVALID_FIELD");
	assert_non_null(strstr(cs_json_get_str(e, "message"), "Column:8\nNo such column 'Nme' on entity 'Account'."));
	json_decref(e);
	e = bad(f, "SELECT Acount.Name FROM Contact", "INVALID_FIELD");
	assert_non_null(strstr(cs_json_get_str(e, "message"), "Column:8\nDidn't understand relationship 'Acount' in field path."));
	json_decref(e);
	e = bad(f, "SELECT AccountId.Name FROM Contact", "INVALID_FIELD");
	json_decref(e);
	e = bad(f, "SELECT Name, (SELECT Id FROM Contactz) FROM Account", "INVALID_TYPE");
	assert_non_null(strstr(cs_json_get_str(e, "message"), "Didn't understand relationship 'Contactz' in FROM part of query call."));
	json_decref(e);
	/* the object is checked before the fields */
	e = bad(f, "SELECT Nope FROM Nothing", "INVALID_TYPE");
	json_decref(e);
	/* syntax errors come first of all */
	e = bad(f, "SELECT Nope FROM Nothing WHERE", "MALFORMED_QUERY");
	json_decref(e);

	/* literal types must suit the field */
	e = bad(f, "SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD");
	assert_non_null(strstr(cs_json_get_str(e, "message"),
	    "Column:37\nvalue of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"));
	json_decref(e);
	e = bad(f, "SELECT Id FROM Account WHERE NumberOfEmployees = '5'", "INVALID_FIELD");
	assert_non_null(strstr(cs_json_get_str(e, "message"),
	    "value of filter criterion for field 'NumberOfEmployees' must be of type integer and should not be enclosed in quotes"));
	json_decref(e);
	e = bad(f, "SELECT Id FROM Contract WHERE ActivatedDate > 2026-01-01", "INVALID_FIELD");
	assert_non_null(strstr(cs_json_get_str(e, "message"), "must be of type dateTime and should not be enclosed in quotes"));
	json_decref(e);
	e = bad(f, "SELECT Id FROM Contract WHERE StartDate > 2026-01-01T00:00:00Z", "INVALID_FIELD");
	assert_non_null(strstr(cs_json_get_str(e, "message"), "must be of type date and should not be enclosed in quotes"));
	json_decref(e);
	e = bad(f, "SELECT Id FROM Contract WHERE StartDate > '2026-01-01'", "INVALID_FIELD");
	json_decref(e);
	e = bad(f, "SELECT Id FROM Opportunity WHERE IsWon = 'true'", "INVALID_FIELD");
	json_decref(e);
	e = bad(f, "SELECT Id FROM Opportunity WHERE Name = TODAY", "INVALID_FIELD");
	json_decref(e);
	e = bad(f, "SELECT Id FROM Opportunity WHERE Name IN ('a', 1)", "INVALID_FIELD");
	json_decref(e);
	e = bad(f, "SELECT Id FROM Account WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR");
	assert_non_null(strstr(cs_json_get_str(e, "message"), "\ninvalid ID field: abc"));
	json_decref(e);
	e = bad(f, "SELECT Id FROM Account WHERE Id = 5", "INVALID_FIELD");
	json_decref(e);
	e = bad(f, "SELECT Id FROM Account WHERE AnnualRevenue LIKE '5%'", "INVALID_FIELD");
	json_decref(e);
	e = bad(f, "SELECT Id FROM Account WHERE Name INCLUDES ('a')", "INVALID_QUERY_FILTER_OPERATOR");
	json_decref(e);

	/* other refusals */
	e = bad(f, "SELECT Id, Name, id FROM Account", "MALFORMED_QUERY");
	assert_non_null(strstr(cs_json_get_str(e, "message"), "Column:18\nduplicate field selected: id"));
	json_decref(e);
	e = bad(f, "SELECT Name, COUNT(Id) FROM Account", "MALFORMED_QUERY");
	assert_non_null(strstr(cs_json_get_str(e, "message"), "Field must be grouped or aggregated: Name"));
	json_decref(e);
	bad_msg(f, "SELECT Id FROM Account OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000");
	e = bad(f, "SELECT Name FROM Account WHERE Id IN (SELECT Name FROM Contact)", "INVALID_FIELD");
	json_decref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_error_frame),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_error_json),
		cmocka_unit_test_setup_teardown(test_run_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_like, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_numbers_bools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_logic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_relationships, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_order_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_query_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_subqueries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_wall_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

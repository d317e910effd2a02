/* test_csv.c - unit tests for the CSV reader and writer (src/util/csv.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/csv.h"

#define LIT(s) s, sizeof(s) - 1

/* Reads all of p[0..len) and renders it as "[f][f];[f][f]" (rows separated by ';'). On a
 * parse error returns the error code and leaves the message in e. */
static cs_err
render(const char *p, size_t len, char delim, enum csv_eol eol, size_t max_field, size_t max_record,
    size_t max_cols, struct cs_buf *out, struct cs_error *e)
{
	struct csv_reader r;
	const struct csv_field *f;
	size_t n;
	cs_err rc;

	csv_reader_init(&r, p, len, delim, eol);
	if (max_field)
		r.max_field_chars = max_field;
	if (max_record)
		r.max_record_chars = max_record;
	if (max_cols)
		r.max_columns = max_cols;
	while ((rc = csv_reader_next(&r, &f, &n, e)) == CS_OK && f != NULL) {
		if (out->len)
			cs_buf_putc(out, ';');
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(f[i].p[f[i].n], '\0');
			cs_buf_putc(out, '[');
			cs_buf_append(out, f[i].p, f[i].n);
			cs_buf_putc(out, ']');
		}
	}
	csv_reader_cleanup(&r);
	return rc;
}

struct ok_case {
	const char *name;
	const char *in;
	size_t len;
	char delim;
	enum csv_eol eol;
	const char *want;
};

static const struct ok_case ok_cases[] = {
	{ "simple", LIT("a,b\n1,2\n"), ',', CSV_EOL_LF, "[a][b];[1][2]" },
	{ "no final newline", LIT("a,b\n1,2"), ',', CSV_EOL_LF, "[a][b];[1][2]" },
	{ "crlf", LIT("a,b\r\n1,2\r\n"), ',', CSV_EOL_CRLF, "[a][b];[1][2]" },
	{ "any accepts both", LIT("a,b\r\n1,2\n3,4"), ',', CSV_EOL_ANY, "[a][b];[1][2];[3][4]" },
	{ "quoted delimiter", LIT("a,b\n\"x,y\",2\n"), ',', CSV_EOL_LF, "[a][b];[x,y][2]" },
	{ "doubled quotes", LIT("a\n\"he said \"\"hi\"\"\"\n"), ',', CSV_EOL_LF, "[a];[he said \"hi\"]" },
	{ "only a quote", LIT("a\n\"\"\"\"\n"), ',', CSV_EOL_LF, "[a];[\"]" },
	{ "embedded LF", LIT("a,b\n\"l1\nl2\",z\n"), ',', CSV_EOL_LF, "[a][b];[l1\nl2][z]" },
	{ "embedded CRLF kept", LIT("a\n\"l1\r\nl2\"\n"), ',', CSV_EOL_LF, "[a];[l1\r\nl2]" },
	{ "embedded LF in CRLF job", LIT("a\r\n\"l1\nl2\"\r\n"), ',', CSV_EOL_CRLF, "[a];[l1\nl2]" },
	{ "empty fields", LIT("a,b,c\n,,\n"), ',', CSV_EOL_LF, "[a][b][c];[][][]" },
	{ "quoted empty", LIT("a,b\n\"\",x\n"), ',', CSV_EOL_LF, "[a][b];[][x]" },
	{ "trailing delimiter", LIT("a,\n1,\n"), ',', CSV_EOL_LF, "[a][];[1][]" },
	{ "blank lines skipped", LIT("a\n\n1\n\n\n"), ',', CSV_EOL_LF, "[a];[1]" },
	{ "leading blank lines", LIT("\n\na\n1"), ',', CSV_EOL_LF, "[a];[1]" },
	{ "BOM skipped", LIT("\xEF\xBB\xBF" "Name\nx\n"), ',', CSV_EOL_LF, "[Name];[x]" },
	{ "tab", LIT("a\tb\nx,y\tz\n"), '\t', CSV_EOL_LF, "[a][b];[x,y][z]" },
	{ "pipe", LIT("a|b\n\"x|y\"|z\n"), '|', CSV_EOL_LF, "[a][b];[x|y][z]" },
	{ "semicolon", LIT("a;b\n1;2\n"), ';', CSV_EOL_LF, "[a][b];[1][2]" },
	{ "caret", LIT("a^b\n1^2\n"), '^', CSV_EOL_LF, "[a][b];[1][2]" },
	{ "backquote", LIT("a`b\n1`\"`\"\n"), '`', CSV_EOL_LF, "[a][b];[1][`]" },
	{ "utf8", LIT("Name\nJos\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\n"), ',', CSV_EOL_LF,
	  "[Name];[Jos\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80]" },
	{ "bare CR is data", LIT("a\nx\ry\n"), ',', CSV_EOL_LF, "[a];[x\ry]" },
	{ "spaces kept", LIT("a,b\n John , Smith \n"), ',', CSV_EOL_LF, "[a][b];[ John ][ Smith ]" },
	{ "#N/A is text here", LIT("a\n#N/A\n"), ',', CSV_EOL_LF, "[a];[#N/A]" },
	{ "empty input", LIT(""), ',', CSV_EOL_LF, "" },
	{ "only newlines", LIT("\n\n"), ',', CSV_EOL_LF, "" },
	{ "only BOM", LIT("\xEF\xBB\xBF"), ',', CSV_EOL_LF, "" },
	{ "one empty quoted field", LIT("\"\""), ',', CSV_EOL_LF, "[]" },
};

static void
test_ok_table(void **state)
{
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *c = &ok_cases[i];
		struct cs_buf out;
		struct cs_error e = { 0 };
		cs_err rc;

		cs_buf_init(&out, 1 << 20);
		cs_buf_puts(&out, "");
		rc = render(c->in, c->len, c->delim, c->eol, 0, 0, 0, &out, &e);
		if (rc != CS_OK || strcmp(out.data, c->want) != 0) {
			print_error("case '%s': rc=%s (%s)\n  got  '%s'\n  want '%s'\n", c->name,
			    cs_strerror(rc), e.msg, out.data, c->want);
			cs_buf_cleanup(&out);
			fail();
		}
		cs_buf_cleanup(&out);
	}
}

struct err_case {
	const char *name;
	const char *in;
	size_t len;
	enum csv_eol eol;
	size_t max_field, max_record, max_cols;
	cs_err code;
	const char *msg;   /* substring of the message */
};

static const struct err_case err_cases[] = {
	{ "unterminated", LIT("a\n\"abc\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 2: quoted field is never closed" },
	{ "unterminated after multiline rows", LIT("a\n\"1\n1\"\n\"x\ny\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 4: quoted field is never closed" },
	{ "stray quote", LIT("a\nab\"c\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 2: stray '\"'" },
	{ "space before quote", LIT("a,b\n\"John\", \"Smith\"\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 2: stray" },
	{ "text after closing quote", LIT("a\n\"ab\"c\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 2: unexpected character after a closing quote" },
	{ "space after closing quote", LIT("a,b\n\"x\" ,y\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 2: unexpected character" },
	{ "too few fields", LIT("a,b\n1\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 2: expected 2 fields as in the header, found 1" },
	{ "too many fields", LIT("a,b\n1,2\n1,2,3"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 3: expected 2 fields as in the header, found 3" },
	{ "count after multiline field", LIT("a,b\n\"x\ny\",1\n1\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 4: expected 2" },
	{ "CRLF in LF job", LIT("a\r\n1\r\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 1: LineEnding is invalid on user data. Current LineEnding setting is LF" },
	{ "CRLF after quote in LF job", LIT("a\n\"1\"\r\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 2: LineEnding is invalid" },
	{ "LF in CRLF job", LIT("a\r\n1\n"), CSV_EOL_CRLF, 0, 0, 0, CS_EPARSE, "line 2: LineEnding is invalid on user data. Current LineEnding setting is CRLF" },
	{ "blank LF line in CRLF job", LIT("a\r\n\n1\r\n"), CSV_EOL_CRLF, 0, 0, 0, CS_EPARSE, "Current LineEnding setting is CRLF" },
	{ "bad utf8", LIT("a\n\xFF\n"), CSV_EOL_LF, 0, 0, 0, CS_EUTF8, "line 2: field 1 is not valid UTF-8" },
	{ "overlong utf8", LIT("a,b\nx,\xC0\xAF\n"), CSV_EOL_LF, 0, 0, 0, CS_EUTF8, "line 2: field 2" },
	{ "surrogate", LIT("a\n\xED\xA0\x80\n"), CSV_EOL_LF, 0, 0, 0, CS_EUTF8, "line 2" },
	{ "truncated utf8 quoted", LIT("a\n\"\xE2\x82\"\n"), CSV_EOL_LF, 0, 0, 0, CS_EUTF8, "line 2" },
	{ "NUL unquoted", LIT("a\nx\0y\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 2: NUL byte" },
	{ "NUL quoted", LIT("a\n\"x\0y\"\n"), CSV_EOL_LF, 0, 0, 0, CS_EPARSE, "line 2: NUL byte" },
	{ "field limit", LIT("a\nabcdef\n"), CSV_EOL_LF, 5, 0, 0, CS_ETOOBIG, "line 2: field 1 is longer than 5 characters" },
	{ "record limit", LIT("a,b,c\nabc,def,g\n"), CSV_EOL_LF, 0, 6, 0, CS_ETOOBIG, "line 2: record longer than 6 characters" },
	{ "column limit", LIT("a,b,c,d\n"), CSV_EOL_LF, 0, 0, 3, CS_ETOOBIG, "line 1: more than 3 columns" },
};

static void
test_err_table(void **state)
{
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *c = &err_cases[i];
		struct cs_buf out;
		struct cs_error e = { 0 };
		cs_err rc;

		cs_buf_init(&out, 1 << 20);
		rc = render(c->in, c->len, ',', c->eol, c->max_field, c->max_record, c->max_cols, &out, &e);
		if (rc != c->code || strstr(e.msg, c->msg) == NULL) {
			print_error("case '%s': rc=%s want %s\n  msg  '%s'\n  want '%s'\n", c->name,
			    cs_strerror(rc), cs_strerror(c->code), e.msg, c->msg);
			cs_buf_cleanup(&out);
			fail();
		}
		cs_buf_cleanup(&out);
	}
}

/* Characters, not bytes, count against the field limit. */
static void
test_limit_counts_characters(void **state)
{
	struct cs_buf out;
	struct cs_error e = { 0 };

	cs_buf_init(&out, 1 << 20);
	assert_int_equal(render(LIT("a\n\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\n"), ',', CSV_EOL_LF, 5, 0, 0, &out, &e), CS_OK);
	cs_buf_cleanup(&out);
	assert_int_equal(csv_utf8_chars(LIT("\xC3\xA9x\xF0\x9F\x98\x80")), 3);
}

/* The default limits are Salesforce's: 32,000 characters a field, 5,000 columns. */
static void
test_default_limits(void **state)
{
	size_t n = 2 + CSV_MAX_FIELD_CHARS + 2;
	char *p = malloc(n + 1);
	struct cs_buf out;
	struct cs_error e = { 0 };

	assert_non_null(p);
	memcpy(p, "a\n", 2);
	memset(p + 2, 'x', CSV_MAX_FIELD_CHARS);
	cs_buf_init(&out, 1 << 20);
	assert_int_equal(render(p, 2 + CSV_MAX_FIELD_CHARS, ',', CSV_EOL_LF, 0, 0, 0, &out, &e), CS_OK);
	cs_buf_reset(&out);
	p[2 + CSV_MAX_FIELD_CHARS] = 'x';
	assert_int_equal(render(p, 3 + CSV_MAX_FIELD_CHARS, ',', CSV_EOL_LF, 0, 0, 0, &out, &e), CS_ETOOBIG);
	assert_non_null(strstr(e.msg, "longer than 32000"));
	cs_buf_cleanup(&out);
	free(p);

	/* 5,000 one-character columns are fine, 5,001 are not */
	n = (CSV_MAX_COLUMNS + 1) * 2;
	p = malloc(n);
	assert_non_null(p);
	for (size_t i = 0; i < CSV_MAX_COLUMNS + 1; i++) {
		p[2 * i] = 'c';
		p[2 * i + 1] = ',';
	}
	p[2 * CSV_MAX_COLUMNS - 1] = '\n';
	cs_buf_init(&out, 1 << 20);
	assert_int_equal(render(p, 2 * CSV_MAX_COLUMNS, ',', CSV_EOL_LF, 0, 0, 0, &out, &e), CS_OK);
	p[2 * CSV_MAX_COLUMNS - 1] = ',';
	assert_int_equal(render(p, n - 1, ',', CSV_EOL_LF, 0, 0, 0, &out, &e), CS_ETOOBIG);
	assert_non_null(strstr(e.msg, "more than 5000 columns"));
	cs_buf_cleanup(&out);
	free(p);
}

/* After an error the reader keeps failing with the same error. */
static void
test_error_sticks(void **state)
{
	struct csv_reader r;
	const struct csv_field *f;
	size_t n;
	struct cs_error e1 = { 0 }, e2 = { 0 };

	csv_reader_init(&r, LIT("a,b\n1\n2,3\n"), ',', CSV_EOL_LF);
	assert_int_equal(csv_reader_next(&r, &f, &n, &e1), CS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(r.row_line, 1);
	assert_int_equal(csv_reader_next(&r, &f, &n, &e1), CS_EPARSE);
	assert_null(f);
	assert_int_equal(csv_reader_next(&r, &f, &n, &e2), CS_EPARSE);
	assert_string_equal(e1.msg, e2.msg);
	csv_reader_cleanup(&r);
	csv_reader_cleanup(&r);
}

/* row_line names the line a row starts on, counting line breaks inside quoted fields. */
static void
test_row_lines(void **state)
{
	struct csv_reader r;
	const struct csv_field *f;
	size_t n;
	unsigned long want[] = { 1, 2, 5, 7 };
	size_t k = 0;

	csv_reader_init(&r, LIT("h\n\"a\n\nb\"\nc\n\nd\n"), ',', CSV_EOL_LF);
	while (csv_reader_next(&r, &f, &n, NULL) == CS_OK && f != NULL) {
		assert_true(k < 4);
		assert_int_equal(r.row_line, want[k]);
		k++;
	}
	assert_int_equal(k, 4);
	assert_int_equal(r.nrows, 4);
	csv_reader_cleanup(&r);
}

static void
test_names(void **state)
{
	static const struct { const char *name; char c; } t[] = {
		{ "COMMA", ',' }, { "BACKQUOTE", '`' }, { "CARET", '^' },
		{ "PIPE", '|' }, { "SEMICOLON", ';' }, { "TAB", '\t' },
	};
	char c = 'x';
	enum csv_eol eol = CSV_EOL_ANY;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_true(csv_delim_from_name(t[i].name, &c));
		assert_int_equal(c, t[i].c);
		assert_string_equal(csv_delim_name(t[i].c), t[i].name);
	}
	c = 'x';
	assert_false(csv_delim_from_name("comma", &c));
	assert_false(csv_delim_from_name("", &c));
	assert_int_equal(c, 'x');
	assert_true(csv_eol_from_name("LF", &eol));
	assert_int_equal(eol, CSV_EOL_LF);
	assert_true(csv_eol_from_name("CRLF", &eol));
	assert_int_equal(eol, CSV_EOL_CRLF);
	assert_false(csv_eol_from_name("CR", &eol));
	assert_string_equal(csv_eol_name(CSV_EOL_CRLF), "CRLF");
	assert_string_equal(csv_eol_name(CSV_EOL_LF), "LF");
}

static void
test_writer(void **state)
{
	struct cs_buf b;
	struct csv_writer w;

	cs_buf_init(&b, 1 << 20);
	csv_writer_init(&w, &b, ',', CSV_EOL_LF);
	assert_int_equal(csv_write_str(&w, "sf__Id"), CS_OK);
	assert_int_equal(csv_write_str(&w, "Name"), CS_OK);
	assert_int_equal(csv_write_eol(&w), CS_OK);
	assert_int_equal(csv_write_str(&w, "a \"b\", c"), CS_OK);
	assert_int_equal(csv_write_empty(&w), CS_OK);
	assert_int_equal(csv_write_str(&w, ""), CS_OK);
	assert_int_equal(csv_write_value(&w, LIT("l1\nl2\"")), CS_OK);
	assert_int_equal(csv_write_eol(&w), CS_OK);
	assert_string_equal(b.data, "\"sf__Id\",\"Name\"\n\"a \"\"b\"\", c\",,\"\",\"l1\nl2\"\"\"\n");
	cs_buf_reset(&b);
	csv_writer_init(&w, &b, '\t', CSV_EOL_CRLF);
	csv_write_str(&w, "x");
	csv_write_str(&w, "y\tz");
	csv_write_eol(&w);
	assert_string_equal(b.data, "\"x\"\t\"y\tz\"\r\n");
	cs_buf_reset(&b);
	csv_writer_init(&w, &b, ',', CSV_EOL_LF);
	assert_int_equal(csv_write_str(&w, "sf__Id"), CS_OK);
	assert_int_equal(csv_write_plain(&w, LIT("Account.Name")), CS_OK);
	assert_int_equal(csv_write_plain(&w, LIT("a,b")), CS_OK);
	assert_int_equal(csv_write_plain(&w, LIT("q\"")), CS_OK);
	assert_int_equal(csv_write_plain(&w, LIT("")), CS_OK);
	assert_int_equal(csv_write_eol(&w), CS_OK);
	assert_string_equal(b.data, "\"sf__Id\",Account.Name,\"a,b\",\"q\"\"\",\n");
	cs_buf_cleanup(&b);

	/* a full buffer reports CS_ETOOBIG */
	cs_buf_init(&b, 4);
	csv_writer_init(&w, &b, ',', CSV_EOL_LF);
	assert_int_equal(csv_write_str(&w, "toolong"), CS_ETOOBIG);
	cs_buf_cleanup(&b);
}

/* Whatever the writer produces, the reader gives back unchanged. */
static void
test_round_trip(void **state)
{
	static const char alphabet[] = "ab,\"\n\r;|\t^`x \xC3\xA9";
	static const char delim_chars[] = ",`^|;\t";
	uint32_t seed = 12345;

	for (int iter = 0; iter < 300; iter++) {
		char delim = delim_chars[iter % 6];
		enum csv_eol eol = iter % 2 ? CSV_EOL_CRLF : CSV_EOL_LF;
		size_t ncols = 1 + (size_t)(iter % 5), nrows = 1 + (size_t)(iter % 7);
		char vals[8][5][12];
		size_t lens[8][5];
		struct cs_buf b;
		struct csv_writer w;
		struct csv_reader r;
		const struct csv_field *f;
		size_t n, row = 0;

		cs_buf_init(&b, 1 << 20);
		csv_writer_init(&w, &b, delim, eol);
		for (size_t i = 0; i < nrows; i++) {
			for (size_t j = 0; j < ncols; j++) {
				size_t len = 0, want;
				seed = seed * 1103515245u + 12345u;
				want = (seed >> 16) % 10;
				while (len < want) {
					size_t k;
					seed = seed * 1103515245u + 12345u;
					/* the last two bytes of alphabet are one character */
					k = (seed >> 16) % (sizeof(alphabet) - 2);
					vals[i][j][len++] = alphabet[k];
					if (k == sizeof(alphabet) - 3)
						vals[i][j][len++] = alphabet[k + 1];
				}
				vals[i][j][len] = '\0';
				lens[i][j] = len;
				assert_int_equal(csv_write_value(&w, vals[i][j], len), CS_OK);
			}
			assert_int_equal(csv_write_eol(&w), CS_OK);
		}
		csv_reader_init(&r, b.data, b.len, delim, eol);
		while (csv_reader_next(&r, &f, &n, NULL) == CS_OK && f != NULL) {
			assert_int_equal(n, ncols);
			for (size_t j = 0; j < n; j++) {
				assert_int_equal(f[j].n, lens[row][j]);
				assert_memory_equal(f[j].p, vals[row][j], lens[row][j]);
			}
			row++;
		}
		assert_false(r.failed);
		assert_int_equal(row, nrows);
		csv_reader_cleanup(&r);
		cs_buf_cleanup(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_table),
		cmocka_unit_test(test_err_table),
		cmocka_unit_test(test_limit_counts_characters),
		cmocka_unit_test(test_default_limits),
		cmocka_unit_test(test_error_sticks),
		cmocka_unit_test(test_row_lines),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

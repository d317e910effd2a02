/* test_cli.c - the command line's own parts: the command table and its help, the man page kept
 * equal to docs/clmsync.1, the option parser, escaping of hostile text, tables and progress. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"

static void
source_path(const char *rel, char *out, size_t n)
{
	const char *me = __FILE__;
	const char *tail = strstr(me, "tests/unit/test_cli.c");

	assert_non_null(tail);
	snprintf(out, n, "%.*s%s", (int)(tail - me), me, rel);
}

/* What fn writes to a FILE, as a new string (caller frees). */
static char *
capture(void (*fn)(FILE *f, const void *arg), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, arg);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void
man_of(FILE *f, const void *arg)
{
	(void)arg;
	cli_help_man(f);
}

static void
help_of(FILE *f, const void *arg)
{
	cli_help_print(arg, f);
}

static void
list_of(FILE *f, const void *arg)
{
	(void)arg;
	cli_help_list(f);
}

/* docs/clmsync.1 is exactly what `clmsync help --man` prints. */
static void
man_matches_docs(void **state)
{
	char path[1024], *out = capture(man_of, NULL), *doc;
	FILE *f;
	long n;

	(void)state;
	source_path("docs/clmsync.1", path, sizeof(path));
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	doc = calloc(1, (size_t)n + 1);
	assert_non_null(doc);
	assert_int_equal(fread(doc, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (strcmp(doc, out) != 0)
		print_message("docs/clmsync.1 is stale: regenerate it with `clmsync help --man > docs/clmsync.1`\n");
	assert_string_equal(doc, out);
	free(doc);
	free(out);
}

/* Every command has a synopsis, a description and exit codes; each option and each exit code
 * it declares is in its --help and in the man page; the admin commands document 2 and 3, the
 * admin options and their environment. */
static void
every_command_documented(void **state)
{
	size_t n;
	const struct cli_cmd *cmds = cli_cmds(&n);
	char *man = capture(man_of, NULL), *list = capture(list_of, NULL), want[256];

	(void)state;
	assert_true(n >= 16);
	for (size_t i = 0; i < n; i++) {
		const struct cli_cmd *c = &cmds[i];
		char *h = capture(help_of, c);
		bool has2 = false, has3 = false;
		assert_non_null(c->fn);
		assert_non_null(c->synopsis[0]);
		assert_true(strlen(c->text) > 10);
		assert_ptr_equal(cli_cmd_find(c->name), c);
		snprintf(want, sizeof(want), "usage: clmsync %s", c->name);
		assert_non_null(strstr(h, want));
		snprintf(want, sizeof(want), ".SS \"clmsync %s\"", c->name);
		assert_non_null(strstr(man, want));
		snprintf(want, sizeof(want), "  %s ", c->name);
		assert_non_null(strstr(list, want));
		for (const struct cli_opt *o = c->opts; o->name != NULL; o++) {
			snprintf(want, sizeof(want), "  %s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
			if (strstr(h, want) == NULL)
				fail_msg("clmsync %s --help does not describe %s", c->name, o->name);
		}
		assert_non_null(strstr(h, "-h, --help"));
		assert_true(c->exits[0].code == 0);
		for (const struct cli_exit *x = c->exits; x->code >= 0; x++) {
			snprintf(want, sizeof(want), "\n  %d   ", x->code);
			if (strstr(h, want) == NULL)
				fail_msg("clmsync %s --help does not describe exit %d", c->name, x->code);
			has2 |= x->code == 2;
			has3 |= x->code == 3;
		}
		if (c->admin) {
			assert_true(has2 && has3);
			for (const struct cli_opt *o = cli_admin_opts; o->name != NULL; o++)
				assert_non_null(strstr(h, o->name));
			for (const struct cli_env *v = cli_admin_env; v->name != NULL; v++)
				assert_non_null(strstr(h, v->name));
		}
		free(h);
	}
	assert_null(cli_cmd_find("nope"));
	free(man);
	free(list);
}

/* The roff is plain: no line opens with a stray '.' or '\'' that is not a request, no raw
 * backslash sequence other than the ones written on purpose, no tab. */
static void
man_is_clean_roff(void **state)
{
	char *man = capture(man_of, NULL), *line, *save = NULL;
	static const char *const requests[] = { ".\\\"", ".TH ", ".SH ", ".SS ", ".PP", ".TP", ".IP ", ".RS", ".RE",
	                                        ".nf", ".fi", ".B ", ".I " };

	(void)state;
	assert_null(strchr(man, '\t'));
	for (line = strtok_r(man, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		bool ok = false;
		if (line[0] != '.' && line[0] != '\'')
			continue;
		for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
			ok |= strncmp(line, requests[i], strlen(requests[i])) == 0;
		if (!ok)
			fail_msg("a line of the man page opens as a request: %s", line);
	}
	free(man);
}

/* --- the parser ------------------------------------------------------------------------------ */

static int
parse(const char *cmd, struct cli_args *a, int argc, ...)
{
	char *argv[16];
	va_list ap;

	assert_true(argc < 16);
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	return cli_parse(cli_cmd_find(cmd), argc, argv, a);
}

static void
parser(void **state)
{
	struct cli_args a;
	FILE *saved = stderr;

	(void)state;
	/* the usage errors go to stderr: keep the test's output readable */
	stderr = fopen("/dev/null", "w");
	assert_non_null(stderr);
	assert_int_equal(parse("dlq", &a, 4, "dlq", "discard", "17", "--reason=mistake"), -1);
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[0], "discard");
	assert_string_equal(cli_get(&a, "--reason"), "mistake");
	assert_null(cli_get(&a, "--all"));
	assert_int_equal(parse("dlq", &a, 5, "dlq", "replay", "--all", "--admin-url", "http://h:1"), -1);
	assert_string_equal(cli_get(&a, "--all"), "");
	assert_string_equal(cli_get(&a, "--admin-url"), "http://h:1");
	/* a value that looks like an option is still the value */
	assert_int_equal(parse("dlq", &a, 5, "dlq", "discard", "1", "--reason", "--all"), -1);
	assert_string_equal(cli_get(&a, "--reason"), "--all");
	assert_null(cli_get(&a, "--all"));
	/* after --, everything is an argument */
	assert_int_equal(parse("links", &a, 4, "links", "find", "--", "--sf"), -1);
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[1], "--sf");
	assert_null(cli_get(&a, "--sf"));

	assert_int_equal(parse("dlq", &a, 3, "dlq", "list", "--nope"), 2);
	assert_int_equal(parse("dlq", &a, 3, "dlq", "discard", "--reason"), 2);
	assert_int_equal(parse("dlq", &a, 4, "dlq", "list", "--json", "--json"), 2);
	assert_int_equal(parse("dlq", &a, 3, "dlq", "list", "--json=yes"), 2);
	assert_int_equal(parse("dlq", &a, 7, "dlq", "a", "b", "c", "d", "e", "f"), 2);
	/* a command without the admin options does not take them */
	assert_int_equal(parse("help", &a, 3, "help", "--admin-url", "x"), 2);
	assert_int_equal(parse("status", &a, 2, "status", "--json"), -1);
	assert_int_equal(cli_not_with(&a, "--json", "this"), 2);
	assert_int_equal(cli_not_with(&a, "--admin-url", "this"), -1);
	fclose(stderr);
	stderr = saved;
}

/* --- output ---------------------------------------------------------------------------------- */

static void
escaping(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{ "plain text", 0, "plain text" },
		{ "\x1b[31mred\x1b[0m", 0, "\\e[31mred\\e[0m" },
		{ "two\nlines\r\n", 0, "two\\nlines\\r\\n" },
		{ "tab\there", 0, "tab\\there" },
		{ "back\\slash", 0, "back\\slash" },
		{ "bell\a nul", 0, "bell\\x07 nul" },
		{ "del\x7f", 0, "del\\x7f" },
		{ "a\0b", 3, "a\\x00b" },
		{ "Z\xc3\xbcrich \xe2\x80\x94 \xe6\x9d\xb1\xe4\xba\xac", 0, "Z\xc3\xbcrich \xe2\x80\x94 \xe6\x9d\xb1\xe4\xba\xac" },
		{ "csi\xc2\x9b" "2J", 0, "csi\\u009b2J" },                  /* C1 CSI */
		{ "rtl\xe2\x80\xae" "txt", 0, "rtl\\u202etxt" },            /* right-to-left override */
		{ "iso\xe2\x81\xa6x", 0, "iso\\u2066x" },                   /* left-to-right isolate */
		{ "ls\xe2\x80\xa8x", 0, "ls\\u2028x" },                     /* line separator */
		{ "bad\xff\xfe", 0, "bad\\xff\\xfe" },
		{ "short\xe6\x9d", 0, "short\\xe6\\x9d" },                  /* truncated sequence */
		{ "overlong\xc0\xaf", 0, "overlong\\xc0\\xaf" },
		{ "surrogate\xed\xa0\x80", 0, "surrogate\\xed\\xa0\\x80" },
		{ "emoji \xf0\x9f\x98\x80", 0, "emoji \xf0\x9f\x98\x80" },
	};
	struct cs_buf b;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cases[i].len ? cases[i].len : strlen(cases[i].in);
		cs_buf_init(&b, 4096);
		assert_int_equal(term_escape(&b, cases[i].in, n, false), CS_OK);
		if (strcmp(b.data ? b.data : "", cases[i].out) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, b.data ? b.data : "", cases[i].out);
		/* nothing a terminal acts on is left */
		for (size_t k = 0; k < b.len; k++)
			assert_false((unsigned char)b.data[k] < 0x20 || (unsigned char)b.data[k] == 0x7f);
		cs_buf_cleanup(&b);
	}
	cs_buf_init(&b, 4096);
	assert_int_equal(term_escape(&b, "{\n  \"a\": \"x\\u001b\"\n}", 20, true), CS_OK);
	assert_string_equal(b.data, "{\n  \"a\": \"x\\u001b\"\n}");
	cs_buf_cleanup(&b);
	/* bounded */
	cs_buf_init(&b, 8);
	assert_int_equal(term_escape(&b, "\x1b\x1b\x1b\x1b\x1b", 5, false), CS_ETOOBIG);
	cs_buf_cleanup(&b);
}

static void
widths(void **state)
{
	(void)state;
	assert_int_equal(term_width("abc"), 3);
	assert_int_equal(term_width("\xe6\x9d\xb1\xe4\xba\xac"), 4);          /* two wide characters */
	assert_int_equal(term_width("e\xcc\x81"), 1);                          /* e + combining acute */
	assert_int_equal(term_width("Z\xc3\xbcrich"), 6);
	assert_int_equal(term_width(""), 0);
}

struct tbl {
	const char *const *heads;
	const int *maxw;
	const char *const (*rows)[3];
	size_t nrows;
};

static void
table_of(FILE *f, const void *arg)
{
	const struct tbl *t = arg;
	struct term_table *tt = term_table_new(3, t->heads, t->maxw);

	assert_non_null(tt);
	for (size_t i = 0; i < t->nrows; i++)
		assert_int_equal(term_table_add(tt, t->rows[i]), CS_OK);
	assert_int_equal(term_table_rows(tt), t->nrows);
	term_table_print(tt, f);
	term_table_free(tt);
}

static void
tables(void **state)
{
	static const char *const heads[] = { "ID", "NAME", "NOTE" };
	static const int maxw[] = { 0, 8, 0 };
	static const char *const rows[][3] = {
		{ "1", "short", "last column is never padded" },
		{ "22", "a name longer than eight", NULL },
		{ "333", "\x1b[31mred\nx", "\xe6\x9d\xb1\xe4\xba\xac" },
		{ "4", "\xe6\x9d\xb1\xe4\xba\xac\xe6\x9d\xb1\xe4\xba\xac", "" },      /* 8 columns: fits */
		{ "5", "\xe6\x9d\xb1\xe4\xba\xac\xe6\x9d\xb1\xe4\xba\xac\xe6\x9d\xb1", "" },
	};
	struct tbl t = { heads, maxw, rows, 5 };
	char *out = capture(table_of, &t);

	(void)state;
	assert_string_equal(out,
	    "ID   NAME      NOTE\n"
	    "1    short     last column is never padded\n"
	    "22   a nam...  -\n"
	    "333  \\e[31...  \xe6\x9d\xb1\xe4\xba\xac\n"
	    "4    \xe6\x9d\xb1\xe4\xba\xac\xe6\x9d\xb1\xe4\xba\xac  -\n"
	    "5    \xe6\x9d\xb1\xe4\xba\xac...   -\n");
	free(out);
}

static void
progress_parts(void **state)
{
	int64_t ms;
	char d[32];

	(void)state;
	assert_true(term_progress_every(NULL, &ms));
	assert_int_equal(ms, 10000);
	assert_true(term_progress_every("0.2", &ms));
	assert_int_equal(ms, 200);
	assert_true(term_progress_every("3600", &ms));
	assert_false(term_progress_every("0.01", &ms));
	assert_false(term_progress_every("3601", &ms));
	assert_false(term_progress_every("1s", &ms));
	assert_false(term_progress_every("nan", &ms));
	assert_false(term_progress_every("", &ms));
	{
		struct term_progress p;
		char line[256];
		term_progress_init(&p, "clmsync reconcile", "records compared", 1000);
		p.start_ms = 1000;
		p.done = 0;
		p.total = -1;
		term_progress_line(&p, 1200, line, sizeof(line));
		assert_string_equal(line, "clmsync reconcile: 0 records compared (200ms so far)");
		p.done = 500;
		p.total = 2000;
		p.approx = true;
		term_progress_line(&p, 11000, line, sizeof(line));
		assert_string_equal(line, "clmsync reconcile: 500 of ~2000 records compared, 50/s, about 30s left (10s so far)");
		p.done = 2000;
		p.approx = false;
		term_progress_line(&p, 21000, line, sizeof(line));
		assert_string_equal(line, "clmsync reconcile: 2000 of 2000 records compared, 100/s (20s so far)");
		p.total = -1;
		term_progress_line(&p, 21000, line, sizeof(line));
		assert_string_equal(line, "clmsync reconcile: 2000 records compared, 100/s (20s so far)");
	}
	term_duration(850, d, sizeof(d));
	assert_string_equal(d, "850ms");
	term_duration(12000, d, sizeof(d));
	assert_string_equal(d, "12s");
	term_duration(185000, d, sizeof(d));
	assert_string_equal(d, "3m05s");
	term_duration(7380000, d, sizeof(d));
	assert_string_equal(d, "2h03m");
}

static void
path_escape(void **state)
{
	char b[32] = "/x/";

	(void)state;
	assert_true(admin_path_escape(b, sizeof(b), "a b/c?d&e%"));
	assert_string_equal(b, "/x/a%20b%2Fc%3Fd%26e%25");
	assert_false(admin_path_escape(b, sizeof(b), "0123456789"));
	assert_string_equal(b, "/x/a%20b%2Fc%3Fd%26e%25");     /* unchanged when it does not fit */
	assert_true(admin_path_append(b, sizeof(b), "/resume"));
	assert_string_equal(b, "/x/a%20b%2Fc%3Fd%26e%25/resume");
	assert_false(admin_path_append(b, sizeof(b), "/x"));
	assert_string_equal(b, "/x/a%20b%2Fc%3Fd%26e%25/resume");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(man_matches_docs),
		cmocka_unit_test(every_command_documented),
		cmocka_unit_test(man_is_clean_roff),
		cmocka_unit_test(parser),
		cmocka_unit_test(escaping),
		cmocka_unit_test(widths),
		cmocka_unit_test(tables),
		cmocka_unit_test(progress_parts),
		cmocka_unit_test(path_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

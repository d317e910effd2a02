/* test_admin_dashboard.c - the dashboard's embedded files: the table the build makes, the names
 * the page refers to, which paths are public. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <string.h>

#include "admin/admin_int.h"

static const struct admin_asset *
find(const char *name, size_t n)
{
	for (size_t i = 0; i < admin_nassets; i++)
		if (strlen(admin_assets[i].name) == n && memcmp(admin_assets[i].name, name, n) == 0)
			return &admin_assets[i];
	return NULL;
}

static void
table(void **state)
{
	static const char *const types[] = { "text/html; charset=utf-8", "text/javascript; charset=utf-8",
		"text/css; charset=utf-8", "image/svg+xml" };

	(void)state;
	assert_true(admin_nassets >= 4);
	assert_non_null(find("index.html", 10));
	assert_non_null(find("app.js", 6));
	for (size_t i = 0; i < admin_nassets; i++) {
		const struct admin_asset *f = &admin_assets[i];
		bool known = false;
		if (i > 0)
			assert_true(strcmp(admin_assets[i - 1].name, f->name) < 0);   /* sorted, unique */
		for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
			known |= strcmp(f->ctype, types[k]) == 0;
		assert_true(known);
		/* text files, whole, NUL after the last byte */
		assert_true(f->len > 0);
		assert_int_equal(f->data[f->len], 0);
		assert_int_equal(strlen((const char *)f->data), f->len);
		/* a quoted strong ETag of 16 hex digits */
		assert_int_equal(strlen(f->etag), 18);
		assert_int_equal(f->etag[0], '"');
		assert_int_equal(f->etag[17], '"');
		for (int k = 1; k < 17; k++)
			assert_true(isxdigit((unsigned char)f->etag[k]));
	}
}

/* Every "ui/<name>" in the page and every "./<name>" a module imports is embedded: the page
 * cannot ask for a file the binary does not have. */
static void
references(void **state)
{
	(void)state;
	for (size_t i = 0; i < admin_nassets; i++) {
		const char *text = (const char *)admin_assets[i].data, *p = text;
		const char *mark = strcmp(admin_assets[i].name, "index.html") == 0 ? "\"ui/" :
		    strstr(admin_assets[i].ctype, "javascript") ? "from './" : NULL;
		size_t seen = 0;
		if (mark == NULL)
			continue;
		while ((p = strstr(p, mark)) != NULL) {
			const char *name = p + strlen(mark);
			size_t n = strcspn(name, "'\"");
			if (find(name, n) == NULL)
				fail_msg("%s refers to '%.*s', which is not embedded", admin_assets[i].name, (int)n, name);
			seen++;
			p = name + n;
		}
		if (strcmp(admin_assets[i].name, "index.html") == 0)
			assert_true(seen >= 3);   /* the icon, the style sheet, app.js */
	}
}

static void
public_paths(void **state)
{
	(void)state;
	assert_true(admin_dashboard_public("/"));
	assert_true(admin_dashboard_public("/ui/app.js"));
	assert_true(admin_dashboard_public("/ui/nothing.js"));
	assert_false(admin_dashboard_public(""));
	assert_false(admin_dashboard_public("/ui"));
	assert_false(admin_dashboard_public("/uix/app.js"));
	assert_false(admin_dashboard_public("/admin/v1/status"));
	assert_false(admin_dashboard_public("/metrics"));
	assert_false(admin_dashboard_public("//"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table),
		cmocka_unit_test(references),
		cmocka_unit_test(public_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

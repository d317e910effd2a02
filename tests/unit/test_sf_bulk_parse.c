/* test_sf_bulk_parse.c - the connector's Bulk API 2.0 readers without a network: result files matched
 * back to uploaded rows whatever their order, sf__Error text, and query pages read into records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "salesforce/sf_int.h"
#include "util/json.h"

static struct sf_bulk_rows *
rows_of(const char *const *cols, size_t ncols, const char *const *cells, size_t nrows)
{
	struct sf_bulk_rows *r = NULL;

	assert_int_equal(sf_bulk_rows_new(cols, ncols, &r), CS_OK);
	for (size_t i = 0; i < nrows; i++) {
		size_t lens[8];
		const char *v[8];
		for (size_t c = 0; c < ncols; c++) {
			v[c] = cells[i * ncols + c];
			lens[c] = v[c] ? strlen(v[c]) : 0;
		}
		assert_int_equal(sf_bulk_rows_add(r, v, lens), CS_OK);
	}
	return r;
}

/* Successful results in another order, columns moved, doubles re-rendered: each row finds its own. */
static void
test_results_unordered(void **state)
{
	static const char *const cols[] = { "Name", "CLM_Id__c", "AnnualRevenue" };
	static const char *const cells[] = {
		"Acme, Inc.", "c-1", "912260031",
		"Globex \"the\" corp", "c-2", "1500",
		"Multi\nline", "c-3", NULL,
		"Initech", "c-4", "0.5",
	};
	static const char file[] =
	    "\"sf__Id\",\"sf__Created\",AnnualRevenue,CLM_Id__c,Name\n"
	    "\"001000000000004AAA\",\"false\",\"0.5\",\"c-4\",\"Initech\"\n"
	    "\"001000000000002AAA\",\"true\",\"1500.0\",\"c-2\",\"Globex \"\"the\"\" corp\"\n"
	    "\"001000000000001AAA\",\"true\",\"9.12260031E8\",\"c-1\",\"Acme, Inc.\"\n"
	    "\"001000000000003AAA\",\"true\",\"\",\"c-3\",\"Multi\nline\"\n";
	struct sf_bulk_rows *r = rows_of(cols, 3, cells, 4);
	struct sf_result res[4];
	struct sf_error e;
	size_t matched, unknown;

	(void)state;
	memset(res, 0, sizeof(res));
	assert_int_equal(sf_bulk_results_apply(r, SF_BULK_SUCCESSFUL, file, strlen(file), res, &matched, &unknown, &e), CS_OK);
	assert_int_equal(matched, 4);
	assert_int_equal(unknown, 0);
	for (int i = 0; i < 4; i++) {
		char want[19];
		snprintf(want, sizeof(want), "00100000000000%dAAA", i + 1);
		assert_true(res[i].success);
		assert_string_equal(res[i].id, want);
		assert_int_equal(sf_bulk_rows_state(r, (size_t)i), SF_BULK_SUCCESSFUL);
	}
	assert_false(res[3].created);
	assert_true(res[0].created);
	sf_bulk_rows_free(r);
}

/* Rows with the same values are interchangeable; each result row takes a different one, and a
 * row reported twice is not given to anybody twice. */
static void
test_results_duplicates(void **state)
{
	static const char *const cols[] = { "Name" };
	static const char *const cells[] = { "same", "same", "same", "other" };
	static const char file[] =
	    "\"sf__Id\",\"sf__Created\",Name\n"
	    "\"001000000000001AAA\",\"true\",\"same\"\n"
	    "\"001000000000009AAA\",\"true\",\"other\"\n"
	    "\"001000000000002AAA\",\"true\",\"same\"\n"
	    "\"001000000000003AAA\",\"true\",\"same\"\n"
	    "\"001000000000004AAA\",\"true\",\"same\"\n";
	struct sf_bulk_rows *r = rows_of(cols, 1, cells, 4);
	struct sf_result res[4];
	struct sf_error e;
	size_t matched, unknown;

	(void)state;
	assert_int_equal(sf_bulk_results_apply(r, SF_BULK_SUCCESSFUL, file, strlen(file), res, &matched, &unknown, &e), CS_OK);
	assert_int_equal(matched, 4);
	assert_int_equal(unknown, 1);
	assert_string_equal(res[0].id, "001000000000001AAA");
	assert_string_equal(res[1].id, "001000000000002AAA");
	assert_string_equal(res[2].id, "001000000000003AAA");
	assert_string_equal(res[3].id, "001000000000009AAA");
	sf_bulk_rows_free(r);
}

/* Failed and unprocessed files complete the picture; what no file names stays unmatched. */
static void
test_results_failed_unprocessed(void **state)
{
	static const char *const cols[] = { "Id", "Description" };
	static const char *const cells[] = {
		"001000000000001AAA", "a", "001000000000002AAA", "b", "001000000000003AAA", "#N/A", "001000000000004AAA", "d",
	};
	static const char failed[] =
	    "\"sf__Id\",\"sf__Error\",Id,Description\n"
	    "\"001000000000002AAA\",\"ENTITY_IS_DELETED:entity is deleted:--\",\"001000000000002AAA\",\"b\"\n";
	static const char unproc[] = "Id,Description\n\"001000000000003AAA\",\"#N/A\"\n";
	struct sf_bulk_rows *r = rows_of(cols, 2, cells, 4);
	struct sf_result res[4];
	struct sf_error e;
	size_t matched, unknown;

	(void)state;
	assert_int_equal(sf_bulk_results_apply(r, SF_BULK_FAILED, failed, strlen(failed), res, &matched, &unknown, &e), CS_OK);
	assert_int_equal(matched, 1);
	assert_false(res[1].success);
	assert_string_equal(res[1].error.code, "ENTITY_IS_DELETED");
	assert_string_equal(res[1].error.message, "entity is deleted");
	assert_int_equal(sf_bulk_results_apply(r, SF_BULK_UNPROCESSED, unproc, strlen(unproc), res, &matched, &unknown, &e),
	    CS_OK);
	assert_int_equal(matched, 1);
	assert_int_equal(res[2].error.err, CS_ESTATE);
	assert_true(res[2].error.transient);
	assert_int_equal(sf_bulk_rows_state(r, 0), -1);
	assert_int_equal(sf_bulk_rows_state(r, 3), -1);
	/* an empty file has no rows */
	assert_int_equal(sf_bulk_results_apply(r, SF_BULK_SUCCESSFUL, "", 0, res, &matched, &unknown, &e), CS_OK);
	assert_int_equal(matched, 0);
	/* rows cannot be added once results were read */
	assert_int_equal(sf_bulk_rows_add(r, cells, (const size_t[]){ 1, 1 }), CS_ESTATE);
	sf_bulk_rows_free(r);
}

static void
test_results_malformed(void **state)
{
	static const char *const cols[] = { "Name", "CLM_Id__c" };
	static const char *const cells[] = { "a", "1" };
	static const struct {
		enum sf_bulk_file which;
		const char *file;
	} bad[] = {
		{ SF_BULK_SUCCESSFUL, "Name,CLM_Id__c\n\"a\",\"1\"\n" },                 /* no sf__ columns */
		{ SF_BULK_SUCCESSFUL, "\"sf__Id\",\"sf__Error\",Name,CLM_Id__c\n" },      /* the other file's */
		{ SF_BULK_FAILED, "\"sf__Id\",\"sf__Error\",Name\n\"\",\"X:y\",\"a\"\n" }, /* a column missing */
		{ SF_BULK_UNPROCESSED, "Name,CLM_Id__c\n\"a\",\"1\",\"extra\"\n" },       /* wrong count */
		{ SF_BULK_UNPROCESSED, "Name,CLM_Id__c\n\"a\",\"unterminated\n" },
		{ SF_BULK_UNPROCESSED, "Name,CLM_Id__c\n\"a\",\"\xff\"\n" },               /* not UTF-8 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sf_bulk_rows *r = rows_of(cols, 2, cells, 1);
		struct sf_result res[1];
		struct sf_error e;
		size_t matched, unknown;
		cs_err rc = sf_bulk_results_apply(r, bad[i].which, bad[i].file, strlen(bad[i].file), res, &matched, &unknown, &e);
		if (rc != CS_EPARSE)
			fail_msg("case %zu: %s", i, cs_strerror(rc));
		assert_true(e.message[0] != '\0');
		sf_bulk_rows_free(r);
	}
}

static void
test_error_text(void **state)
{
	static const struct {
		const char *in, *code, *message, *fields;
		bool transient;
	} cases[] = {
		{ "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --", "REQUIRED_FIELD_MISSING",
		  "Required fields are missing: [Name]", "Name", false },
		{ "DUPLICATE_VALUE:duplicate value found: CLM_Id__c duplicates value on record with id: 001000000000001:--",
		  "DUPLICATE_VALUE", "duplicate value found: CLM_Id__c duplicates value on record with id: 001000000000001", "",
		  false },
		{ "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--", "UNABLE_TO_LOCK_ROW",
		  "unable to obtain exclusive access to this record", "", true },
		{ "INVALID_FIELD:bad: A, B:Field_A__c,Field_B__c --", "INVALID_FIELD", "bad: A, B", "Field_A__c,Field_B__c", false },
		{ "no code here", "", "no code here", "", false },
		{ "", "", "the record failed without a reason", "", false },
		{ "CODE_ONLY:", "CODE_ONLY", "CODE_ONLY", "", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sf_error e;
		sf_bulk_error_parse(&e, cases[i].in, strlen(cases[i].in));
		assert_string_equal(e.code, cases[i].code);
		assert_string_equal(e.message, cases[i].message);
		assert_string_equal(e.fields, cases[i].fields);
		assert_int_equal(e.transient, cases[i].transient);
		assert_int_equal(e.err, CS_EHTTP);
	}
}

/* --- query pages ------------------------------------------------------------------------------ */

static int
collect(void *ud, const json_t *rec)
{
	json_array_append((json_t *)ud, (json_t *)rec);
	return 0;
}

static void
test_query_page_typed(void **state)
{
	static const char describe[] =
	    "{\"name\":\"Account\",\"fields\":["
	    "{\"name\":\"Id\",\"type\":\"id\"},{\"name\":\"Name\",\"type\":\"string\"},"
	    "{\"name\":\"NumberOfEmployees\",\"type\":\"int\"},{\"name\":\"AnnualRevenue\",\"type\":\"currency\"},"
	    "{\"name\":\"IsActive__c\",\"type\":\"boolean\"},{\"name\":\"Since__c\",\"type\":\"date\"}]}";
	static const char page[] =
	    "\"Id\",\"Name\",\"NumberOfEmployees\",\"AnnualRevenue\",\"IsActive__c\",\"Since__c\",\"Owner.Name\",\"Owner.Manager.Email\"\n"
	    "\"001000000000001AAA\",\"Acme, \"\"Inc\"\"\",\"12\",\"9.12260031E8\",\"true\",\"2026-01-31\",\"Ann\",\"a@x\"\n"
	    "\"001000000000002AAA\",\"\",\"\",\"\",\"false\",\"\",\"\",\"\"\n"
	    "\"001000000000003AAA\",\"Line\nbreak\",\"x12\",\"1e400\",\"maybe\",\"\",\"Bo\",\"\"\n";
	json_t *dj = NULL, *out = json_array(), *r;
	struct sf_describe *d = NULL;
	struct cs_error je;
	struct sf_error e;
	long long rows;
	bool halted;

	(void)state;
	assert_int_equal(cs_json_parse(describe, strlen(describe), &dj, &je), CS_OK);
	assert_int_equal(sf_describe_parse(dj, &d, &e), CS_OK);
	assert_int_equal(sf_bulk_query_parse(page, strlen(page), d, collect, out, &rows, &halted, &e), CS_OK);
	assert_int_equal(rows, 3);
	assert_false(halted);
	r = json_array_get(out, 0);
	assert_string_equal(cs_json_get_str(r, "Name"), "Acme, \"Inc\"");
	assert_int_equal(json_integer_value(json_object_get(r, "NumberOfEmployees")), 12);
	assert_true(json_real_value(json_object_get(r, "AnnualRevenue")) == 912260031.0);
	assert_true(json_is_true(json_object_get(r, "IsActive__c")));
	assert_string_equal(cs_json_get_str(r, "Since__c"), "2026-01-31");
	assert_string_equal(cs_json_get_str(json_object_get(r, "Owner"), "Name"), "Ann");
	assert_string_equal(cs_json_get_str(json_object_get(json_object_get(r, "Owner"), "Manager"), "Email"), "a@x");
	r = json_array_get(out, 1);
	assert_true(json_is_null(json_object_get(r, "Name")));
	assert_true(json_is_null(json_object_get(r, "NumberOfEmployees")));
	assert_true(json_is_false(json_object_get(r, "IsActive__c")));
	assert_true(json_is_null(json_object_get(r, "Owner")));          /* no parent: null, as REST */
	r = json_array_get(out, 2);
	assert_string_equal(cs_json_get_str(r, "Name"), "Line\nbreak");
	/* values that do not read as their type stay text rather than turn into something else */
	assert_string_equal(cs_json_get_str(r, "NumberOfEmployees"), "x12");
	assert_string_equal(cs_json_get_str(r, "AnnualRevenue"), "1e400");
	assert_string_equal(cs_json_get_str(r, "IsActive__c"), "maybe");
	assert_true(json_is_null(json_object_get(json_object_get(r, "Owner"), "Manager")));

	/* without a describe every value is text */
	json_array_clear(out);
	assert_int_equal(sf_bulk_query_parse(page, strlen(page), NULL, collect, out, &rows, &halted, &e), CS_OK);
	assert_string_equal(cs_json_get_str(json_array_get(out, 0), "NumberOfEmployees"), "12");
	assert_true(json_is_null(json_object_get(json_array_get(out, 1), "NumberOfEmployees")));
	sf_describe_free(d);
	json_decref(dj);
	json_decref(out);
}

static void
test_query_page_malformed(void **state)
{
	static const char *const bad[] = {
		"\"Id\",\"Id\"\n\"1\",\"2\"\n",                      /* one field twice */
		"\"Owner\",\"Owner.Name\"\n\"x\",\"y\"\n",           /* a value and a parent */
		"\"Na me\"\n\"x\"\n",                                /* not a field name */
		"\"Owner..Name\"\n\"x\"\n",
		"\"Id\",\"Name\"\n\"1\"\n",                          /* short row */
		"\"Id\"\n\"unterminated\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *out = json_array();
		struct sf_error e;
		long long rows;
		bool halted;
		cs_err rc = sf_bulk_query_parse(bad[i], strlen(bad[i]), NULL, collect, out, &rows, &halted, &e);
		if (rc != CS_EPARSE)
			fail_msg("case %zu: %s", i, cs_strerror(rc));
		json_decref(out);
	}
	{
		json_t *out = json_array();
		struct sf_error e;
		long long rows = -1;
		bool halted;
		assert_int_equal(sf_bulk_query_parse("", 0, NULL, collect, out, &rows, &halted, &e), CS_OK);
		assert_int_equal(rows, 0);
		assert_int_equal(sf_bulk_query_parse("\"Id\"\n", 5, NULL, collect, out, &rows, &halted, &e), CS_OK);
		assert_int_equal(rows, 0);
		json_decref(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_results_unordered),
		cmocka_unit_test(test_results_duplicates),
		cmocka_unit_test(test_results_failed_unprocessed),
		cmocka_unit_test(test_results_malformed),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_query_page_typed),
		cmocka_unit_test(test_query_page_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

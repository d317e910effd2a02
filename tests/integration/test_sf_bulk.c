/* test_sf_bulk.c - the connector's Bulk API 2.0 client against a real sfemu process: 10,000-record
 * inserts, upserts with failing rows, deletes, paged queries, hostile values, job failures, faults
 * and an expired session in the middle of a job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "salesforce/sf.h"
#include "util/log.h"
#include "sfemu_proc.h"

#define CLIENT_ID "clmsync-test-client"
#define CLIENT_SECRET "clmsync-test-secret"
#define BIG 10000

struct fx {
	struct emu_proc emu;
	struct sf_org *org;
	struct sf_client *c;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sf_org_config c;
	struct sf_error e;

	if (f == NULL || emu_start(&f->emu, NULL) != 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.name = "bulk";
	c.login_url = f->emu.url;
	c.api_version = "62.0";
	c.client_name = "clmsync";
	c.auth = SF_AUTH_CLIENT_CREDENTIALS;
	c.client_id = CLIENT_ID;
	c.client_secret = CLIENT_SECRET;
	c.retry.base_ms = 5;
	c.retry.cap_ms = 50;
	c.retry.max_attempts = 8;
	if (sf_org_new(&c, &f->org, &e) != CS_OK || sf_client_new(f->org, &f->c) != CS_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	sf_client_free(f->c);
	sf_org_free(f->org);
	emu_stop(&f->emu);
	free(f);
	return 0;
}

/* Each test starts from an empty org. */
static int
reset(void **state)
{
	struct fx *f = *state;
	struct sf_error e;

	/* a reset drops the sessions too: log in again before the test counts logins */
	if (emu_call(&f->emu, "POST", "/__emu/reset", "{}", NULL) != 200)
		return -1;
	return sf_login(f->c, &e) == CS_OK ? 0 : -1;
}

static void
ok(cs_err err, const struct sf_error *e)
{
	if (err != CS_OK)
		fail_msg("%s: %s %s (HTTP %ld)", cs_strerror(err), e->code, e->message, e->http);
}

/* Fast polling: sfemu finishes a job while it is being closed. */
static const struct sf_bulk_opts fast = { .poll_min_ms = 5, .poll_max_ms = 50, .job_timeout_ms = 60000 };

static long long
count_of(struct fx *f, const char *soql)
{
	json_t *rows = NULL;
	struct sf_error e;
	long long n;

	ok(sf_query_array(f->c, soql, 0, 1000000, &rows, &e), &e);
	n = (long long)json_array_size(rows);
	json_decref(rows);
	return n;
}

static json_t *
accounts(size_t n, const char *prefix)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		char name[64], ext[64];
		snprintf(name, sizeof(name), "%s account %zu", prefix, i);
		snprintf(ext, sizeof(ext), "%s-%zu", prefix, i);
		json_array_append_new(a, json_pack("{s:s, s:s, s:i}", "Name", name, "CLM_Id__c", ext, "NumberOfEmployees", (int)i));
	}
	return a;
}

/* --- collecting query results -------------------------------------------------------------- */

struct coll {
	json_t *arr;
};

static int
collect(void *ud, const json_t *rec)
{
	struct coll *k = ud;
	json_array_append(k->arr, (json_t *)rec);
	return 0;
}

/* --- insert -------------------------------------------------------------------------------- */

static void
test_insert_10000(void **state)
{
	struct fx *f = *state;
	json_t *recs = accounts(BIG, "ins"), *seen = json_object();
	struct sf_result *res = calloc(BIG, sizeof(*res));
	struct sf_bulk_summary sum;
	struct sf_error e;
	struct coll k = { json_array() };
	struct sf_bulk_opts o = fast;
	long long total = 0;
	size_t i;
	json_t *r;

	ok(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &fast, res, &sum, &e), &e);
	assert_int_equal(sum.jobs, 1);
	assert_int_equal(sum.processed, BIG);
	assert_int_equal(sum.failed, 0);
	for (i = 0; i < BIG; i++) {
		assert_true(res[i].success);
		assert_true(res[i].created);
		assert_int_equal(strlen(res[i].id), 18);
		assert_null(json_object_get(seen, res[i].id));
		json_object_set_new(seen, res[i].id, json_integer((json_int_t)i));
	}
	assert_int_equal(count_of(f, "SELECT Id FROM Account"), BIG);

	/* every id goes with the input row it was reported for: read back through a Bulk query */
	o.max_records = 3000;
	ok(sf_bulk_query(f->c, "SELECT Id, Name, CLM_Id__c, NumberOfEmployees FROM Account", 0, NULL, &o, collect, &k,
	    &total, &e), &e);
	assert_int_equal(total, BIG);
	assert_int_equal(json_array_size(k.arr), BIG);
	json_array_foreach(k.arr, i, r) {
		json_t *at = json_object_get(seen, cs_json_get_str(r, "Id"));
		char ext[64];
		assert_non_null(at);
		snprintf(ext, sizeof(ext), "ins-%lld", (long long)json_integer_value(at));
		assert_string_equal(cs_json_get_str(r, "CLM_Id__c"), ext);
		/* no describe: every value is text */
		assert_true(json_is_string(json_object_get(r, "NumberOfEmployees")));
	}
	json_decref(k.arr);
	json_decref(seen);
	json_decref(recs);
	free(res);
}

/* A call larger than one job goes in several, each with its own results. */
static void
test_insert_several_jobs(void **state)
{
	struct fx *f = *state;
	json_t *recs = accounts(2500, "split");
	struct sf_result *res = calloc(2500, sizeof(*res));
	struct sf_bulk_opts o = fast;
	struct sf_bulk_summary sum;
	struct sf_error e;

	o.max_job_records = 1000;
	ok(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &o, res, &sum, &e), &e);
	assert_int_equal(sum.jobs, 3);
	assert_int_equal(sum.processed, 2500);
	for (size_t i = 0; i < 2500; i++)
		assert_true(res[i].success);
	/* by size too: a small byte budget */
	o.max_job_records = 0;
	o.max_job_bytes = 20000;
	json_decref(recs);
	recs = accounts(1000, "bytes");
	ok(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &o, res, &sum, &e), &e);
	assert_true(sum.jobs > 1);
	for (size_t i = 0; i < 1000; i++)
		assert_true(res[i].success);
	assert_int_equal(count_of(f, "SELECT Id FROM Account"), 3500);
	json_decref(recs);
	free(res);
}

/* --- upsert with failing rows --------------------------------------------------------------- */

static void
test_upsert_failing_rows(void **state)
{
	struct fx *f = *state;
	const size_t n = 3000;
	json_t *first = accounts(1000, "up"), *recs = accounts(n, "up");
	struct sf_result *res = calloc(n, sizeof(*res));
	struct sf_bulk_summary sum;
	struct sf_error e;
	char name300[301];

	ok(sf_bulk_ingest(f->c, SF_BULK_UPSERT, "Account", "CLM_Id__c", first, &fast, res, NULL, &e), &e);
	memset(name300, 'x', 300);
	name300[300] = '\0';
	/* rows that fail, each for its own reason, spread over the input */
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(recs, i);
		json_object_set_new(r, "Description", json_sprintf("row %zu", i));
		if (i % 97 == 5)
			json_object_set_new(r, "CLM_Status__c", json_string("Bogus"));       /* restricted picklist */
		else if (i % 89 == 7)
			json_object_set_new(r, "Name", json_string(name300));               /* too long */
		else if (i % 83 == 11)
			json_object_set_new(r, "Name", json_null());                        /* required */
	}
	ok(sf_bulk_ingest(f->c, SF_BULK_UPSERT, "Account", "CLM_Id__c", recs, &fast, res, &sum, &e), &e);
	assert_int_equal(sum.processed, n);
	{
		long long failed = 0;
		for (size_t i = 0; i < n; i++) {
			const char *want = i % 97 == 5 ? "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" : i % 89 == 7 ? "STRING_TOO_LONG" :
			    i % 83 == 11 ? "REQUIRED_FIELD_MISSING" : NULL;
			if (want == NULL) {
				if (!res[i].success)
					fail_msg("row %zu failed: %s %s", i, res[i].error.code, res[i].error.message);
				assert_int_equal(strlen(res[i].id), 18);
				/* the first thousand existed: updated, the rest created */
				assert_int_equal(res[i].created, i >= 1000);
			} else {
				failed++;
				assert_false(res[i].success);
				assert_string_equal(res[i].error.code, want);
				assert_true(res[i].error.message[0] != '\0');
				assert_false(res[i].error.transient);
			}
		}
		assert_int_equal(sum.failed, failed);
		assert_true(failed > 60);
	}
	/* the failing rows changed nothing, the others landed on the right record */
	{
		json_t *rows = NULL;
		ok(sf_query_array(f->c, "SELECT CLM_Id__c, Description, CLM_Status__c FROM Account WHERE CLM_Id__c = 'up-5'", 0, 10,
		    &rows, &e), &e);
		assert_int_equal(json_array_size(rows), 1);
		assert_true(json_is_null(json_object_get(json_array_get(rows, 0), "Description")));
		json_decref(rows);
		ok(sf_query_array(f->c, "SELECT CLM_Id__c, Description FROM Account WHERE CLM_Id__c = 'up-2998'", 0, 10, &rows,
		    &e), &e);
		assert_int_equal(json_array_size(rows), 1);
		assert_true(json_is_string(json_object_get(json_array_get(rows, 0), "Description")));
		assert_string_equal(cs_json_get_str(json_array_get(rows, 0), "Description"), "row 2998");
		json_decref(rows);
	}
	{
		/* the thousand that existed, and the new ones that did not fail */
		long long want = 1000;
		for (size_t i = 1000; i < n; i++)
			want += res[i].success;
		assert_int_equal(count_of(f, "SELECT Id FROM Account"), want);
	}
	json_decref(first);
	json_decref(recs);
	free(res);
}

/* Rows refused before upload, and a row without its key, do not stop the others. */
static void
test_rows_refused_locally(void **state)
{
	struct fx *f = *state;
	json_t *recs = json_pack("[{s:s, s:s}, {s:s}, {s:s, s:[]}, {s:s, s:s%}, {s:s, s:s}]",
	    "Name", "a", "CLM_Id__c", "k1",
	    "Name", "no key",
	    "Name", "array", "CLM_Id__c",
	    "Name", "nul", "CLM_Id__c", "k\0x", (size_t)3,
	    "Name", "b", "CLM_Id__c", "k2");
	struct sf_result res[5];
	struct sf_error e;

	assert_non_null(recs);
	ok(sf_bulk_ingest(f->c, SF_BULK_UPSERT, "Account", "CLM_Id__c", recs, &fast, res, NULL, &e), &e);
	assert_true(res[0].success);
	assert_false(res[1].success);
	assert_string_equal(res[1].error.code, "MISSING_ARGUMENT");
	assert_false(res[2].success);
	assert_string_equal(res[2].error.code, "INVALID_INPUT");
	assert_false(res[3].success);
	assert_string_equal(res[3].error.code, "INVALID_INPUT");
	assert_true(res[4].success);
	assert_int_equal(count_of(f, "SELECT Id FROM Account"), 2);
	json_decref(recs);
}

/* --- delete --------------------------------------------------------------------------------- */

static void
test_delete(void **state)
{
	struct fx *f = *state;
	const size_t n = 4000;
	json_t *recs = accounts(n, "del"), *ids = json_array();
	struct sf_result *res = calloc(n + 2, sizeof(*res));
	struct sf_bulk_summary sum;
	struct sf_error e;

	ok(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &fast, res, NULL, &e), &e);
	for (size_t i = 0; i < n; i += 2)
		json_array_append_new(ids, json_pack("{s:s, s:s}", "Id", res[i].id, "Name", "ignored for a delete"));
	/* a malformed id and a Contract id among them fail alone */
	json_array_insert_new(ids, 3, json_pack("{s:s}", "Id", "001notAnIdAtAll"));
	json_array_append_new(ids, json_pack("{s:s}", "Id", "800000000000000AAA"));
	ok(sf_bulk_ingest(f->c, SF_BULK_DELETE, "Account", NULL, ids, &fast, res, &sum, &e), &e);
	for (size_t i = 0; i < json_array_size(ids); i++) {
		if (i == 3 || i == json_array_size(ids) - 1) {
			assert_false(res[i].success);
			assert_true(res[i].error.code[0] != '\0');
		} else {
			assert_true(res[i].success);
			assert_string_equal(res[i].id, cs_json_get_str(json_array_get(ids, i), "Id"));
		}
	}
	assert_int_equal(count_of(f, "SELECT Id FROM Account"), n / 2);
	/* deleted again: each row fails, none is lost */
	ok(sf_bulk_ingest(f->c, SF_BULK_DELETE, "Account", NULL, ids, &fast, res, &sum, &e), &e);
	assert_int_equal(sum.failed, (long long)json_array_size(ids));
	assert_string_equal(res[0].error.code, "ENTITY_IS_DELETED");
	json_decref(ids);
	json_decref(recs);
	free(res);
}

/* --- queries -------------------------------------------------------------------------------- */

static void
test_query_paging_and_types(void **state)
{
	struct fx *f = *state;
	const size_t n = 5000;
	json_t *recs = accounts(n, "q");
	struct sf_result *res = calloc(n, sizeof(*res));
	struct sf_describe *d = NULL;
	struct sf_bulk_opts o = fast;
	struct coll k = { json_array() };
	struct sf_error e;
	long long total = 0, before, calls;
	json_t *r;
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *x = json_array_get(recs, i);
		json_object_set_new(x, "AnnualRevenue", i % 2 ? json_real(1234.0 + (double)i) : json_null());
		json_object_set_new(x, "BillingCity", i % 3 ? json_string("Berlin") : json_null());
	}
	ok(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &fast, res, NULL, &e), &e);
	ok(sf_describe(f->c, "Account", &d, &e), &e);
	o.max_records = 700;
	before = emu_counter(&f->emu, "jobs");
	ok(sf_bulk_query(f->c, "SELECT Id, Name, NumberOfEmployees, AnnualRevenue, BillingCity, Owner.Name FROM Account "
	    "ORDER BY NumberOfEmployees", 0, d, &o, collect, &k, &total, &e), &e);
	calls = emu_counter(&f->emu, "jobs") - before;
	assert_int_equal(total, n);
	assert_int_equal(json_array_size(k.arr), n);
	/* one create, at least one poll, and 8 pages of at most 700 */
	assert_true(calls >= 1 + 1 + 8);
	json_array_foreach(k.arr, i, r) {
		assert_int_equal(json_integer_value(json_object_get(r, "NumberOfEmployees")), (json_int_t)i);
		if (i % 2) {
			json_t *rv = json_object_get(r, "AnnualRevenue");
			if (!json_is_real(rv) || json_real_value(rv) != 1234.0 + (double)i)
				fail_msg("row %zu: AnnualRevenue %s", i, json_dumps(rv, JSON_ENCODE_ANY));
		}
		else
			assert_true(json_is_null(json_object_get(r, "AnnualRevenue")));
		if (i % 3)
			assert_string_equal(cs_json_get_str(r, "BillingCity"), "Berlin");
		else
			assert_true(json_is_null(json_object_get(r, "BillingCity")));
		assert_true(json_is_object(json_object_get(r, "Owner")) || json_is_null(json_object_get(r, "Owner")));
	}
	sf_describe_free(d);
	json_decref(k.arr);
	json_decref(recs);
	free(res);
}

/* A results page larger than the client takes is asked again in fewer records. */
static void
test_query_page_over_limit(void **state)
{
	struct fx *f = *state;
	json_t *recs = accounts(3000, "big");
	struct sf_result *res = calloc(3000, sizeof(*res));
	struct sf_org_config c;
	struct sf_org *small = NULL;
	struct sf_client *sc = NULL;
	struct coll k = { json_array() };
	struct sf_error e;
	long long before;

	ok(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &fast, res, NULL, &e), &e);
	memset(&c, 0, sizeof(c));
	c.name = "small";
	c.login_url = f->emu.url;
	c.api_version = "62.0";
	c.client_name = "clmsync";
	c.auth = SF_AUTH_CLIENT_CREDENTIALS;
	c.client_id = CLIENT_ID;
	c.client_secret = CLIENT_SECRET;
	c.max_response = 32 * 1024;     /* about 500 rows of this query */
	ok(sf_org_new(&c, &small, &e), &e);
	assert_int_equal(sf_client_new(small, &sc), CS_OK);
	before = emu_counter(&f->emu, "jobs");
	ok(sf_bulk_query(sc, "SELECT Id, Name, CLM_Id__c FROM Account", 0, NULL, &fast, collect, &k, NULL, &e), &e);
	assert_int_equal(json_array_size(k.arr), 3000);
	/* several pages, and the oversized first ask repeated smaller */
	assert_true(emu_counter(&f->emu, "jobs") - before > 1 + 1 + 6);
	sf_client_free(sc);
	sf_org_free(small);
	json_decref(k.arr);
	json_decref(recs);
	free(res);
}

static int
stop_at_10(void *ud, const json_t *rec)
{
	size_t *n = ud;
	(void)rec;
	return ++*n >= 10;
}

static void
test_query_stop_and_errors(void **state)
{
	struct fx *f = *state;
	json_t *recs = accounts(100, "s");
	struct sf_result res[100];
	struct sf_bulk_opts o = fast;
	struct sf_error e;
	size_t n = 0;

	ok(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &fast, res, NULL, &e), &e);
	o.max_records = 30;
	ok(sf_bulk_query(f->c, "SELECT Id FROM Account", 0, NULL, &o, stop_at_10, &n, NULL, &e), &e);
	assert_int_equal(n, 10);
	/* Salesforce refuses what Bulk queries cannot run */
	assert_int_equal(sf_bulk_query(f->c, "SELECT Name, COUNT(Id) FROM Account GROUP BY Name", 0, NULL, &o, stop_at_10,
	    &n, NULL, &e), CS_EHTTP);
	assert_int_equal(e.http, 400);
	assert_int_equal(sf_bulk_query(f->c, "SELECT Nope__c FROM Account", 0, NULL, &o, stop_at_10, &n, NULL, &e), CS_EHTTP);
	assert_string_equal(e.code, "INVALID_FIELD");
	assert_int_equal(sf_bulk_query(f->c, "", 0, NULL, &o, stop_at_10, &n, NULL, &e), CS_EINVAL);
	json_decref(recs);
}

/* --- hostile values ------------------------------------------------------------------------- */

static void
test_hostile_values(void **state)
{
	static const char *const values[] = {
		"plain",
		"comma, inside",
		"\"quoted\" and \"\"doubled\"\"",
		"\"",
		"line one\nline two",
		"crlf\r\nsecond",
		"trailing newline\n",
		"\n",
		",,,",
		"  spaces around  ",
		"tab\there",
		"Ümläut Grüße — ünïcödé ✓",
		"日本語のテキスト",
		"emoji 😀🎉 and a flag 🇩🇪",
		"combining e\xcc\x81 and zero\xe2\x80\x8bwidth",
		"'single' \\backslash\\ `tick`",
		"=SUM(A1:A9)",
		"a\"b,c\nd\re",
		"#N/A is only null alone: #N/A",
	};
	const size_t n = sizeof(values) / sizeof(values[0]);
	struct fx *f = *state;
	json_t *recs = json_array(), *back = NULL;
	struct sf_result res[32];
	struct coll k = { json_array() };
	struct sf_error e;
	size_t i;
	json_t *r;

	for (i = 0; i < n; i++)
		json_array_append_new(recs, json_pack("{s:s, s:s, s:s, s:s}", "Name", values[i], "Description", values[i],
		    "CLM_Id__c", values[i][0] == '\n' ? "newline" : values[i], "BillingStreet", values[i]));
	/* twice: created, then found again by the same hostile external ids */
	for (int round = 0; round < 2; round++) {
		ok(sf_bulk_ingest(f->c, SF_BULK_UPSERT, "Account", "CLM_Id__c", recs, &fast, res, NULL, &e), &e);
		for (i = 0; i < n; i++) {
			if (!res[i].success)
				fail_msg("value %zu: %s %s", i, res[i].error.code, res[i].error.message);
			assert_int_equal(res[i].created, round == 0);
		}
	}
	ok(sf_bulk_query(f->c, "SELECT Id, Name, Description, BillingStreet FROM Account", 0, NULL, &fast, collect, &k, NULL,
	    &e), &e);
	assert_int_equal(json_array_size(k.arr), n);
	json_array_foreach(k.arr, i, r) {
		size_t j;
		for (j = 0; j < n; j++)
			if (strcmp(res[j].id, cs_json_get_str(r, "Id")) == 0)
				break;
		assert_true(j < n);
		/* exactly, byte for byte, through upload and through the query's CSV */
		assert_string_equal(cs_json_get_str(r, "Description"), values[j]);
		assert_string_equal(cs_json_get_str(r, "Name"), values[j]);
		assert_string_equal(cs_json_get_str(r, "BillingStreet"), values[j]);
	}
	/* and as REST reads them */
	ok(sf_rest_retrieve(f->c, "Account", res[4].id, "Description", &back, &e), &e);
	assert_string_equal(cs_json_get_str(back, "Description"), values[4]);
	json_decref(back);
	/* a null clears a field; an empty value leaves it alone */
	json_decref(recs);
	recs = json_pack("[{s:s, s:n, s:s}]", "Id", res[1].id, "Description", "BillingStreet", "");
	ok(sf_bulk_ingest(f->c, SF_BULK_UPDATE, "Account", NULL, recs, &fast, res + 20, NULL, &e), &e);
	assert_true(res[20].success);
	ok(sf_rest_retrieve(f->c, "Account", res[1].id, "Description,BillingStreet", &back, &e), &e);
	assert_true(json_is_null(json_object_get(back, "Description")));
	assert_string_equal(cs_json_get_str(back, "BillingStreet"), values[1]);
	json_decref(back);
	json_decref(k.arr);
	json_decref(recs);
}

/* --- job failures ----------------------------------------------------------------------------- */

static void
test_job_failures(void **state)
{
	struct fx *f = *state;
	json_t *recs = accounts(50, "bad"), *info = NULL, *v = NULL;
	struct sf_result res[50];
	struct sf_bulk_summary sum;
	struct sf_bulk_opts o = fast;
	struct sf_error e;
	atomic_int stop = 1;
	const char *id;

	/* an unknown column fails the whole job: nothing is written, every row says why */
	json_object_set_new(json_array_get(recs, 7), "No_Such_Field__c", json_string("x"));
	assert_int_equal(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &fast, res, &sum, &e), CS_ESTATE);
	assert_string_equal(e.code, "InvalidBatch");
	assert_non_null(strstr(e.message, "No_Such_Field__c"));
	assert_false(e.transient);
	assert_int_equal(sum.jobs, 1);
	for (size_t i = 0; i < 50; i++) {
		assert_false(res[i].success);
		assert_string_equal(res[i].error.code, "InvalidBatch");
	}
	assert_int_equal(count_of(f, "SELECT Id FROM Account"), 0);
	ok(sf_bulk_job(f->c, false, sum.job_id, &info, &e), &e);
	assert_string_equal(cs_json_get_str(info, "state"), "Failed");
	json_decref(info);

	/* an unknown object is refused when the job is made */
	json_object_del(json_array_get(recs, 7), "No_Such_Field__c");
	assert_int_not_equal(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Nope__c", NULL, recs, &fast, res, &sum, &e), CS_OK);
	assert_false(res[0].success);
	assert_int_equal(sum.jobs, 0);

	/* a caller that stops before the job starts: nothing sent */
	o.stop = &stop;
	assert_int_equal(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &o, res, &sum, &e), CS_ESTATE);
	assert_false(res[49].success);
	assert_int_equal(count_of(f, "SELECT Id FROM Account"), 0);

	/* abort: an open job, aborted, reads Aborted; aborting it again is refused */
	info = json_pack("{s:s, s:s}", "object", "Account", "operation", "insert");
	ok(sf_rest(f->c, "POST", "/jobs/ingest", info, 0, NULL, &v, &e), &e);
	json_decref(info);
	id = cs_json_get_str(v, "id");
	assert_non_null(id);
	ok(sf_bulk_abort(f->c, false, id, &e), &e);
	ok(sf_bulk_job(f->c, false, id, &info, &e), &e);
	assert_string_equal(cs_json_get_str(info, "state"), "Aborted");
	json_decref(info);
	assert_int_equal(sf_bulk_abort(f->c, false, id, &e), CS_EHTTP);
	assert_string_equal(e.code, "INVALIDJOBSTATE");
	assert_int_equal(sf_bulk_job(f->c, false, "750000000000000AAA", &info, &e), CS_ENOTFOUND);
	assert_int_equal(sf_bulk_abort(f->c, false, "not-an-id", &e), CS_EINVAL);
	json_decref(v);
	json_decref(recs);
}

/* --- sessions and faults --------------------------------------------------------------------- */

struct expirer {
	struct fx *f;
	int calls, when;
};

/* Expires every session once, at the when-th progress report: the next call meets a 401. */
static void
expire_once(void *ud, const struct sf_bulk_progress *p)
{
	struct expirer *x = ud;

	(void)p;
	if (++x->calls == x->when)
		assert_int_equal(emu_call(&x->f->emu, "POST", "/__emu/expire-sessions", "{}", NULL), 200);
}

static void
test_session_expires_mid_job(void **state)
{
	struct fx *f = *state;
	json_t *recs = accounts(3000, "exp");
	struct sf_result *res = calloc(3000, sizeof(*res));
	struct expirer x = { f, 0, 1 };
	struct sf_bulk_opts o = fast;
	struct sf_bulk_summary sum;
	struct sf_stats before, after;
	struct coll k = { json_array() };
	struct sf_error e;

	/* ingest: expired after the first poll, so the result files are fetched with a new token */
	o.progress = expire_once;
	o.ud = &x;
	sf_org_stats(f->org, &before);
	ok(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &o, res, &sum, &e), &e);
	sf_org_stats(f->org, &after);
	assert_true(x.calls >= 1);
	assert_int_equal(after.logins - before.logins, 1);
	assert_int_equal(sum.jobs, 1);
	for (size_t i = 0; i < 3000; i++)
		assert_true(res[i].success);
	assert_int_equal(count_of(f, "SELECT Id FROM Account"), 3000);

	/* query: expired between two result pages */
	x.calls = 0;
	x.when = 2;
	o.max_records = 1000;
	sf_org_stats(f->org, &before);
	ok(sf_bulk_query(f->c, "SELECT Id FROM Account", 0, NULL, &o, collect, &k, NULL, &e), &e);
	sf_org_stats(f->org, &after);
	assert_int_equal(after.logins - before.logins, 1);
	assert_int_equal(json_array_size(k.arr), 3000);
	json_decref(k.arr);
	json_decref(recs);
	free(res);
}

/* 503s, row locks and dropped connections on every kind of call: each record lands once. */
static void
test_faults_no_duplicates(void **state)
{
	struct fx *f = *state;
	const size_t n = 1500;
	json_t *recs = accounts(n, "flt");
	struct sf_result *res = calloc(n, sizeof(*res));
	struct sf_bulk_summary sum;
	struct sf_bulk_opts o = fast;
	struct sf_error e;
	int rounds = 0;

	/* small jobs: many calls of every kind, so that each fault meets each of them */
	o.max_job_records = 25;
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults",
	    "{\"rate_503\":150,\"rate_lock\":100,\"rate_drop\":150,\"seed\":11}", NULL), 200);
	/* an upsert by external id may be repeated until every record has its answer */
	for (;;) {
		json_t *left = json_array();
		cs_err rc = sf_bulk_ingest(f->c, SF_BULK_UPSERT, "Account", "CLM_Id__c", recs, &o, res, &sum, &e);
		rounds++;
		for (size_t i = 0; i < json_array_size(recs); i++)
			if (!res[i].success)
				json_array_append(left, json_array_get(recs, i));
		(void)rc;
		json_decref(recs);
		recs = left;
		if (json_array_size(recs) == 0 || rounds == 20)
			break;
	}
	assert_int_equal(json_array_size(recs), 0);
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{}", NULL), 200);
	assert_true(emu_counter(&f->emu, "fault.drop") > 0);
	assert_true(emu_counter(&f->emu, "fault.503") > 0);
	assert_true(emu_counter(&f->emu, "fault.lock") > 0);
	/* an upload that got no answer was not repeated into its job: that job was aborted and its
	 * records went in a new one */
	{
		json_t *list = NULL, *j;
		size_t i, aborted = 0, complete = 0;
		ok(sf_rest(f->c, "GET", "/jobs/ingest", NULL, 0, NULL, &list, &e), &e);
		json_array_foreach(json_object_get(list, "records"), i, j) {
			aborted += strcmp(cs_json_get_str(j, "state"), "Aborted") == 0;
			complete += strcmp(cs_json_get_str(j, "state"), "JobComplete") == 0;
		}
		assert_true(aborted > 0);
		assert_true(complete >= n / 25);
		json_decref(list);
	}
	assert_int_equal(count_of(f, "SELECT Id FROM Account"), n);
	json_decref(recs);
	free(res);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_insert_10000, reset),
		cmocka_unit_test_setup(test_insert_several_jobs, reset),
		cmocka_unit_test_setup(test_upsert_failing_rows, reset),
		cmocka_unit_test_setup(test_rows_refused_locally, reset),
		cmocka_unit_test_setup(test_delete, reset),
		cmocka_unit_test_setup(test_query_paging_and_types, reset),
		cmocka_unit_test_setup(test_query_stop_and_errors, reset),
		cmocka_unit_test_setup(test_query_page_over_limit, reset),
		cmocka_unit_test_setup(test_hostile_values, reset),
		cmocka_unit_test_setup(test_job_failures, reset),
		cmocka_unit_test_setup(test_session_expires_mid_job, reset),
		cmocka_unit_test_setup(test_faults_no_duplicates, reset),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s SFEMU_BINARY\n", argv[0]);
		return 2;
	}
	emu_bin = argv[1];
	if (getenv("TEST_DEBUG"))
		cs_log_setup(CS_LOG_DEBUG, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}

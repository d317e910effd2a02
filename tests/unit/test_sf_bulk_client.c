/* test_sf_bulk_client.c - the Bulk API 2.0 client against an in-process fake Salesforce on loopback that does
 * what sfemu does not: result files in another order with doubles re-rendered, a job that never
 * finishes, a job that fails half-way, results pages with a missing or repeating locator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "salesforce/sf.h"
#include "util/csv.h"
#include "util/json.h"

#define JOB "7500A0000000001AAA"
#define QJOB "7500A0000000002AAA"
#define BASE "/services/data/v62.0/jobs/"

enum mode { SHUFFLED, STUCK, HALF_FAILED, NO_LOCATOR, SAME_LOCATOR };

static struct {
	pthread_mutex_t mu;
	enum mode mode;
	struct cs_buf upload;
	int aborts, polls;
} fake = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* The uploaded rows (header first), each a new array of strings. */
static json_t *
uploaded(void)
{
	struct csv_reader r;
	const struct csv_field *f;
	size_t n;
	json_t *rows = json_array();

	csv_reader_init(&r, fake.upload.data ? fake.upload.data : "", fake.upload.len, ',', CSV_EOL_LF);
	while (csv_reader_next(&r, &f, &n, NULL) == CS_OK && f != NULL) {
		json_t *row = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(row, json_stringn(f[i].p, f[i].n));
		json_array_append_new(rows, row);
	}
	csv_reader_cleanup(&r);
	return rows;
}

static void
put_row(struct csv_writer *w, const char *a, const char *b, const json_t *row, bool rerender)
{
	size_t i;
	json_t *v;

	if (a != NULL) {
		csv_write_str(w, a);
		csv_write_str(w, b);
	}
	json_array_foreach(row, i, v) {
		const char *s = json_string_value(v);
		char num[64];
		/* successful results give numbers back as Java doubles */
		if (rerender && i == 2 && *s != '\0') {
			snprintf(num, sizeof(num), "%.1fE0", strtod(s, NULL));
			s = num;
		}
		csv_write_str(w, s);
	}
	csv_write_eol(w);
}

static const char *
state_now(void)
{
	switch (fake.mode) {
	case STUCK:
		return fake.aborts ? "Aborted" : "InProgress";
	case HALF_FAILED:
		return "Failed";
	default:
		return "JobComplete";
	}
}

static void
h_create(struct http_req *rq, struct http_resp *rs, void *ud)
{
	(void)rq;
	(void)ud;
	http_resp_json(rs, 200, json_pack("{s:s, s:s}", "id", JOB, "state", "Open"));
}

static void
h_upload(struct http_req *rq, struct http_resp *rs, void *ud)
{
	(void)ud;
	pthread_mutex_lock(&fake.mu);
	cs_buf_reset(&fake.upload);
	cs_buf_append(&fake.upload, rq->body, rq->body_len);
	pthread_mutex_unlock(&fake.mu);
	rs->status = 201;
}

static void
h_job(struct http_req *rq, struct http_resp *rs, void *ud)
{
	json_t *rows, *info;
	long long n;

	(void)ud;
	pthread_mutex_lock(&fake.mu);
	if (strcmp(rq->method, "PATCH") == 0 && rq->body != NULL && strstr(rq->body, "Aborted") != NULL)
		fake.aborts++;
	if (strcmp(rq->method, "GET") == 0)
		fake.polls++;
	rows = uploaded();
	n = (long long)json_array_size(rows) - 1;
	info = json_pack("{s:s, s:s, s:I, s:I}", "id", JOB, "state", strcmp(rq->method, "PATCH") == 0 &&
	    fake.aborts == 0 ? "UploadComplete" : state_now(),
	    "numberRecordsProcessed", (json_int_t)(fake.mode == HALF_FAILED ? n / 2 : fake.mode == STUCK ? 0 : n),
	    "numberRecordsFailed", (json_int_t)(fake.mode == SHUFFLED ? 2 : 0));
	if (fake.mode == HALF_FAILED)
		json_object_set_new(info, "errorMessage", json_string("Timeout : the batch timed out"));
	pthread_mutex_unlock(&fake.mu);
	json_decref(rows);
	http_resp_json(rs, 200, info);
}

/* Rows 3 and 5 fail; the others succeed, listed last to first. */
static void
h_results(struct http_req *rq, struct http_resp *rs, void *ud)
{
	const char *which = rq->params[1];
	struct cs_buf b;
	struct csv_writer w;
	json_t *rows, *head;
	size_t n;

	(void)ud;
	pthread_mutex_lock(&fake.mu);
	rows = uploaded();
	pthread_mutex_unlock(&fake.mu);
	n = json_array_size(rows);
	head = json_array_get(rows, 0);
	cs_buf_init(&b, 1 << 20);
	csv_writer_init(&w, &b, ',', CSV_EOL_LF);
	if (strcmp(which, "successfulResults") == 0) {
		put_row(&w, "sf__Id", "sf__Created", head, false);
		for (size_t i = n; i-- > 1;) {
			char id[32];
			if (fake.mode == SHUFFLED ? (i == 3 || i == 5) : fake.mode == HALF_FAILED ? i > (n - 1) / 2 : true)
				continue;
			snprintf(id, sizeof(id), "001000000000%03uAAA", (unsigned)(i % 1000));
			put_row(&w, id, "true", json_array_get(rows, i), true);
		}
	} else if (strcmp(which, "failedResults") == 0) {
		put_row(&w, "sf__Id", "sf__Error", head, false);
		for (size_t i = 1; fake.mode == SHUFFLED && i < n; i++)
			if (i == 3 || i == 5)
				put_row(&w, "", "FIELD_CUSTOM_VALIDATION_EXCEPTION:no, \"not\" this one:Name --", json_array_get(rows, i),
				    false);
	} else {
		put_row(&w, NULL, NULL, head, false);
		for (size_t i = 1; i < n; i++)
			if (fake.mode == STUCK || (fake.mode == HALF_FAILED && i > (n - 1) / 2))
				put_row(&w, NULL, NULL, json_array_get(rows, i), false);
	}
	http_resp_text(rs, 200, "text/csv", b.data ? b.data : "", b.len);
	cs_buf_cleanup(&b);
	json_decref(rows);
}

static void
h_qcreate(struct http_req *rq, struct http_resp *rs, void *ud)
{
	(void)rq;
	(void)ud;
	http_resp_json(rs, 200, json_pack("{s:s, s:s}", "id", QJOB, "state", "UploadComplete"));
}

static void
h_qjob(struct http_req *rq, struct http_resp *rs, void *ud)
{
	(void)rq;
	(void)ud;
	http_resp_json(rs, 200, json_pack("{s:s, s:s, s:i}", "id", QJOB, "state", "JobComplete", "numberRecordsProcessed", 4));
}

static void
h_qresults(struct http_req *rq, struct http_resp *rs, void *ud)
{
	static const char page[] = "\"Id\",\"Name\"\n\"001000000000001AAA\",\"a\"\n\"001000000000002AAA\",\"b\"\n";

	(void)rq;
	(void)ud;
	http_resp_text(rs, 200, "text/csv", page, sizeof(page) - 1);
	http_resp_header(rs, "Sforce-NumberOfRecords", "2");
	if (fake.mode == SAME_LOCATOR)
		http_resp_header(rs, "Sforce-Locator", "MTAw");
}

static const struct http_route routes[] = {
	{ "POST", BASE "ingest", h_create },
	{ "PUT", BASE "ingest/:id/batches", h_upload },
	{ NULL, BASE "ingest/:id", h_job },
	{ "GET", BASE "ingest/:id/:which", h_results },
	{ "POST", BASE "query", h_qcreate },
	{ "GET", BASE "query/:id", h_qjob },
	{ "GET", BASE "query/:id/results", h_qresults },
};

struct fx {
	struct http_server *srv;
	struct sf_org *org;
	struct sf_client *c;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct http_server_opts o = { .host = "127.0.0.1", .max_body = 1 << 20, .conn_timeout_s = 30, .routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]) };
	struct sf_org_config c;
	struct cs_error e;
	struct sf_error se;
	char url[64];

	if (f == NULL || http_server_start(&o, &f->srv, &e) != CS_OK)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", http_server_port(f->srv));
	memset(&c, 0, sizeof(c));
	c.name = "fake";
	c.login_url = url;
	c.instance_url = url;
	c.api_version = "62.0";
	c.client_name = "clmsync";
	c.auth = SF_AUTH_ACCESS_TOKEN;
	c.access_token = "00Dfake!token";
	c.retry.base_ms = 5;
	c.retry.cap_ms = 20;
	if (sf_org_new(&c, &f->org, &se) != CS_OK || sf_client_new(f->org, &f->c) != CS_OK)
		return -1;
	cs_buf_init(&fake.upload, 1 << 20);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	sf_client_free(f->c);
	sf_org_free(f->org);
	http_server_stop(f->srv);
	cs_buf_cleanup(&fake.upload);
	free(f);
	return 0;
}

static void
use(enum mode m)
{
	pthread_mutex_lock(&fake.mu);
	fake.mode = m;
	fake.aborts = fake.polls = 0;
	pthread_mutex_unlock(&fake.mu);
}

static json_t *
records(size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:i}", "Name", i == 1 ? "comma, \"quote\"\nline" : "plain",
		    "CLM_Id__c", i == 3 ? "" : "x", "NumberOfEmployees", (int)(i * 1000)));
	return a;
}

static const struct sf_bulk_opts fast = { .poll_min_ms = 2, .poll_max_ms = 10, .job_timeout_ms = 5000 };

/* Results listed last to first, numbers re-rendered, repeated values: each row gets its own. */
static void
test_shuffled_results(void **state)
{
	struct fx *f = *state;
	json_t *recs = records(8);
	struct sf_result res[8];
	struct sf_bulk_summary sum;
	struct sf_error e;

	use(SHUFFLED);
	assert_int_equal(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &fast, res, &sum, &e), CS_OK);
	for (size_t i = 0; i < 8; i++) {
		char want[32];
		/* upload row i is line i + 1 of the file the fake numbers */
		snprintf(want, sizeof(want), "001000000000%03uAAA", (unsigned)(i + 1));
		if (i + 1 == 3 || i + 1 == 5) {
			assert_false(res[i].success);
			assert_string_equal(res[i].error.code, "FIELD_CUSTOM_VALIDATION_EXCEPTION");
			assert_string_equal(res[i].error.message, "no, \"not\" this one");
			assert_string_equal(res[i].error.fields, "Name");
		} else {
			assert_true(res[i].success);
			assert_string_equal(res[i].id, want);
		}
	}
	assert_int_equal(sum.failed, 2);
	json_decref(recs);
}

/* A job that never finishes is aborted at the deadline; its records are reported not done. */
static void
test_stuck_job_aborted(void **state)
{
	struct fx *f = *state;
	json_t *recs = records(4);
	struct sf_result res[4];
	struct sf_bulk_opts o = fast;
	struct sf_error e;

	use(STUCK);
	o.job_timeout_ms = 100;
	assert_int_equal(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &o, res, NULL, &e), CS_ETIMEOUT);
	assert_true(e.transient);
	assert_int_equal(fake.aborts, 1);
	assert_true(fake.polls >= 3);       /* it asked several times, waiting longer each time */
	for (size_t i = 0; i < 4; i++) {
		assert_false(res[i].success);
		assert_int_equal(res[i].error.err, CS_ETIMEOUT);
	}
	json_decref(recs);
}

/* A job that fails half-way: the processed records keep their results, the others carry the
 * job's error, transient because Salesforce says Timeout. */
static void
test_half_failed_job(void **state)
{
	struct fx *f = *state;
	json_t *recs = records(6);
	struct sf_result res[6];
	struct sf_bulk_summary sum;
	struct sf_error e;

	use(HALF_FAILED);
	assert_int_equal(sf_bulk_ingest(f->c, SF_BULK_INSERT, "Account", NULL, recs, &fast, res, &sum, &e), CS_ESTATE);
	assert_string_equal(e.code, "Timeout");
	assert_true(e.transient);
	for (size_t i = 0; i < 6; i++) {
		if (i < 3) {
			assert_true(res[i].success);
		} else {
			assert_false(res[i].success);
			assert_string_equal(res[i].error.code, "Timeout");
		}
	}
	assert_int_equal(sum.unprocessed, 3);
	json_decref(recs);
}

static int
count_cb(void *ud, const json_t *rec)
{
	(void)rec;
	(*(int *)ud)++;
	return 0;
}

/* A page without Sforce-Locator, or one naming itself again, stops the query instead of looping. */
static void
test_query_locator_broken(void **state)
{
	struct fx *f = *state;
	struct sf_error e;
	int n = 0;

	use(NO_LOCATOR);
	assert_int_equal(sf_bulk_query(f->c, "SELECT Id, Name FROM Account", 0, NULL, &fast, count_cb, &n, NULL, &e),
	    CS_EPARSE);
	use(SAME_LOCATOR);
	n = 0;
	assert_int_equal(sf_bulk_query(f->c, "SELECT Id, Name FROM Account", 0, NULL, &fast, count_cb, &n, NULL, &e),
	    CS_EPARSE);
	assert_int_equal(n, 2);       /* the first page was read; the next named its own locator again */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shuffled_results),
		cmocka_unit_test(test_stuck_job_aborted),
		cmocka_unit_test(test_half_failed_job),
		cmocka_unit_test(test_query_locator_broken),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

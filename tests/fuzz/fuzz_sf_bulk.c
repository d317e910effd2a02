/* fuzz_sf_bulk.c - libFuzzer target for the connector's Bulk API 2.0 readers of Salesforce's answers:
 * ingest result files (successful, failed, unprocessed) matched back to uploaded rows, sf__Error
 * text, and query results pages read into JSON records with and without a describe.
 *
 * The first byte chooses the reader; the rest is the file. The uploaded rows are fixed and hold
 * what makes matching hard: repeated values, numbers Salesforce re-renders, an empty value, a
 * line break and a quote. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "salesforce/sf_int.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (256u << 10)

enum sel { SEL_SUCCESSFUL, SEL_FAILED, SEL_UNPROCESSED, SEL_QUERY_TYPED, SEL_QUERY_TEXT, SEL_ERROR, SEL_COUNT };

static const char *const cols[] = { "Name", "CLM_Id__c", "AnnualRevenue" };
#define NCOLS 3
#define NROWS 6
static const char *const cells[NROWS * NCOLS] = {
	"Acme", "c-1", "912260031",
	"Acme", "c-1", "912260031",
	"Globex, \"the\" corp", "c-2", NULL,
	"Multi\nline", "c-3", "0.5",
	"", "c-4", "#N/A",
	"Initech", "c-5", "-1e3",
};

static struct sf_describe *desc;

static void
start(void)
{
	static const char d[] =
	    "{\"name\":\"Account\",\"fields\":[{\"name\":\"Id\",\"type\":\"id\"},{\"name\":\"Name\",\"type\":\"string\"},"
	    "{\"name\":\"NumberOfEmployees\",\"type\":\"int\"},{\"name\":\"AnnualRevenue\",\"type\":\"currency\"},"
	    "{\"name\":\"IsActive__c\",\"type\":\"boolean\"},{\"name\":\"Rate__c\",\"type\":\"percent\"},"
	    "{\"name\":\"Big__c\",\"type\":\"long\"},{\"name\":\"Score__c\",\"type\":\"double\"}]}";
	json_t *v = NULL;
	struct cs_error je;
	struct sf_error e;

	if (cs_json_parse(d, sizeof(d) - 1, &v, &je) != CS_OK || sf_describe_parse(v, &desc, &e) != CS_OK)
		abort();
	json_decref(v);
}

static void
check_str(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		abort();
}

static void
check_error(const struct sf_error *e)
{
	check_str(e->code, sizeof(e->code));
	check_str(e->message, sizeof(e->message));
	check_str(e->fields, sizeof(e->fields));
	if (!cs_utf8_valid(e->message, strlen(e->message)))
		abort();
}

static void
results(enum sf_bulk_file which, const char *p, size_t len)
{
	struct sf_bulk_rows *r = NULL;
	struct sf_result res[NROWS];
	struct sf_error e;
	size_t matched = 99, unknown = 99, named = 0;
	cs_err rc;

	if (sf_bulk_rows_new(cols, NCOLS, &r) != CS_OK)
		abort();
	for (size_t i = 0; i < NROWS; i++) {
		size_t lens[NCOLS];
		for (size_t c = 0; c < NCOLS; c++)
			lens[c] = cells[i * NCOLS + c] ? strlen(cells[i * NCOLS + c]) : 0;
		if (sf_bulk_rows_add(r, cells + i * NCOLS, lens) != CS_OK)
			abort();
	}
	memset(res, 0xa5, sizeof(res));
	rc = sf_bulk_results_apply(r, which, p, len, res, &matched, &unknown, &e);
	if (rc != CS_OK)
		check_error(&e);
	if (matched > NROWS)
		abort();
	for (size_t i = 0; i < NROWS; i++) {
		int st = sf_bulk_rows_state(r, i);
		if (st < 0)
			continue;
		named++;
		if (st != (int)which)
			abort();
		check_str(res[i].id, sizeof(res[i].id));
		if (res[i].id[0] != '\0' && strlen(res[i].id) != 15 && strlen(res[i].id) != 18)
			abort();
		if (res[i].success != (which == SF_BULK_SUCCESSFUL))
			abort();
		if (!res[i].success)
			check_error(&res[i].error);
	}
	/* every row named was counted once, whether or not the file went bad later */
	if (named != matched && rc == CS_OK)
		abort();
	/* a second file of the same kind can only name rows left over */
	if (rc == CS_OK) {
		size_t m2 = 0, u2 = 0;
		if (sf_bulk_results_apply(r, which, p, len, NULL, &m2, &u2, &e) != CS_OK || m2 + matched > NROWS)
			abort();
	}
	sf_bulk_rows_free(r);
}

struct seen {
	long long n;
};

static int
record(void *ud, const json_t *rec)
{
	struct seen *s = ud;
	const char *k;
	json_t *v;

	if (!json_is_object(rec))
		abort();
	json_object_foreach((json_t *)rec, k, v) {
		if (!cs_utf8_valid(k, strlen(k)))
			abort();
		if (json_is_string(v) && (json_string_length(v) == 0 || !cs_utf8_valid(json_string_value(v), json_string_length(v))))
			abort();     /* an empty value is null, never "" */
	}
	s->n++;
	return s->n >= 100000;
}

static void
query(const char *p, size_t len, const struct sf_describe *d)
{
	struct seen s = { 0 };
	struct sf_error e;
	long long rows = -1;
	bool halted = false;
	cs_err rc = sf_bulk_query_parse(p, len, d, record, &s, &rows, &halted, &e);

	if (rc != CS_OK)
		check_error(&e);
	if (rows != s.n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t len;
	struct sf_error e;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (desc == NULL)
		start();
	len = size - 1;
	/* an exact-size copy, so that reading past the input is caught */
	if ((s = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(s, data + 1, len);
	switch ((enum sel)(data[0] % SEL_COUNT)) {
	case SEL_SUCCESSFUL:
		results(SF_BULK_SUCCESSFUL, s, len);
		break;
	case SEL_FAILED:
		results(SF_BULK_FAILED, s, len);
		break;
	case SEL_UNPROCESSED:
		results(SF_BULK_UNPROCESSED, s, len);
		break;
	case SEL_QUERY_TYPED:
		query(s, len, desc);
		break;
	case SEL_QUERY_TEXT:
		query(s, len, NULL);
		break;
	case SEL_ERROR:
		memset(&e, 0xa5, sizeof(e));
		sf_bulk_error_parse(&e, s, len);
		check_error(&e);
		break;
	case SEL_COUNT:
		break;
	}
	free(s);
	return 0;
}

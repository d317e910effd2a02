/* test_sf_rest.c - Salesforce error parsing and classification, Sforce-Limit-Info, backoff bounds, change origins, describe parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "salesforce/sf.h"

struct err_case {
	long http;
	const char *body;
	cs_err err;
	const char *code;
	const char *message;
	const char *fields;
	bool transient;
};

static void
test_error_table(void **state)
{
	static const struct err_case t[] = {
		{ 400, "[{\"message\":\"Required fields are missing: [LastName]\",\"errorCode\":\"REQUIRED_FIELD_MISSING\","
		  "\"fields\":[\"LastName\"]}]", CS_EHTTP, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]",
		  "LastName", false },
		{ 400, "[{\"message\":\"unable to obtain exclusive access to this record\",\"errorCode\":\"UNABLE_TO_LOCK_ROW\","
		  "\"fields\":[]}]", CS_EHTTP, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", "", true },
		{ 400, "[{\"message\":\"Bad\",\"errorCode\":\"FIELD_CUSTOM_VALIDATION_EXCEPTION\",\"fields\":[\"A\",\"B__c\"]}]",
		  CS_EHTTP, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Bad", "A,B__c", false },
		{ 400, "[{\"message\":\"x\",\"errorCode\":\"INVALID_FIELD_FOR_INSERT_UPDATE\"}]", CS_EHTTP,
		  "INVALID_FIELD_FOR_INSERT_UPDATE", "x", "", false },
		{ 401, "[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]", CS_EAUTH,
		  "INVALID_SESSION_ID", "Session expired or invalid", "", false },
		{ 403, "[{\"message\":\"TotalRequests Limit exceeded.\",\"errorCode\":\"REQUEST_LIMIT_EXCEEDED\"}]", CS_ELIMIT,
		  "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", "", true },
		{ 404, "[{\"errorCode\":\"NOT_FOUND\",\"message\":\"The requested resource does not exist\"}]", CS_ENOTFOUND,
		  "NOT_FOUND", "The requested resource does not exist", "", false },
		{ 503, "[{\"errorCode\":\"SERVER_UNAVAILABLE\",\"message\":\"busy\"}]", CS_EHTTP, "SERVER_UNAVAILABLE", "busy", "",
		  true },
		{ 502, "<html>bad gateway</html>", CS_EHTTP, "", "HTTP 502 without a Salesforce error body", "", true },
		{ 429, "", CS_EHTTP, "", "HTTP 429 without a Salesforce error body", "", true },
		{ 420, "{}", CS_EHTTP, "", "HTTP 420 without a Salesforce error body", "", true },
		{ 300, "[\"/services/data/v62.0/sobjects/Opportunity/006A\",\"/services/data/v62.0/sobjects/Opportunity/006B\"]",
		  CS_ECONFLICT, "MULTIPLE_CHOICES", "several records match the external id", "", false },
		/* a collections per-record error: statusCode, not errorCode */
		{ 200, "{\"statusCode\":\"MALFORMED_ID\",\"message\":\"malformed id 001\",\"fields\":[\"Id\"]}", CS_EHTTP,
		  "MALFORMED_ID", "malformed id 001", "Id", false },
		/* OAuth */
		{ 400, "{\"error\":\"invalid_grant\",\"error_description\":\"audience is invalid\"}", CS_EHTTP, "invalid_grant",
		  "audience is invalid", "", false },
		/* hostile shapes */
		{ 400, "[[[[", CS_EHTTP, "", "HTTP 400 without a Salesforce error body", "", false },
		{ 400, "[{\"errorCode\":7,\"message\":null,\"fields\":[1,null,\"Ok\"]}]", CS_EHTTP, "",
		  "HTTP 400 without a Salesforce error body", "Ok", false },
		{ 500, "[{\"errorCode\":\"\xff\",\"message\":\"m\"}]", CS_EHTTP, "", "HTTP 500 without a Salesforce error body", "",
		  true },
	};
	struct sf_error e;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		sf_error_parse(&e, t[i].http, t[i].body, strlen(t[i].body));
		assert_int_equal(e.http, t[i].http);
		assert_int_equal(e.err, t[i].err);
		assert_string_equal(e.code, t[i].code);
		assert_string_equal(e.message, t[i].message);
		assert_string_equal(e.fields, t[i].fields);
		if (e.transient != t[i].transient)
			fail_msg("case %zu: transient %d", i, e.transient);
	}
}

static void
test_error_bounds(void **state)
{
	char body[8192];
	struct sf_error e;
	size_t n = 0;

	/* a message and field list longer than the buffers are cut, never overrun */
	n += (size_t)snprintf(body + n, sizeof(body) - n, "[{\"errorCode\":\"");
	for (int i = 0; i < 100; i++)
		body[n++] = 'C';
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\",\"message\":\"");
	for (int i = 0; i < 2000; i++)
		body[n++] = 'm';
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\",\"fields\":[");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"Field_%03d__c\"", i ? "," : "", i);
	n += (size_t)snprintf(body + n, sizeof(body) - n, "]}]");
	sf_error_parse(&e, 400, body, n);
	assert_int_equal(strlen(e.code), sizeof(e.code) - 1);
	assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
	assert_true(strlen(e.fields) < sizeof(e.fields));
	assert_true(strncmp(e.fields, "Field_000__c,Field_001__c", 25) == 0);
	assert_true(e.fields[strlen(e.fields) - 1] == 'c');     /* whole names only */
}

static void
test_transient_codes(void **state)
{
	assert_true(sf_code_transient("UNABLE_TO_LOCK_ROW"));
	assert_true(sf_code_transient("SERVER_UNAVAILABLE"));
	assert_true(sf_code_transient("REQUEST_LIMIT_EXCEEDED"));
	assert_true(sf_code_transient("ALL_OR_NONE_OPERATION_ROLLED_BACK"));
	assert_false(sf_code_transient("REQUIRED_FIELD_MISSING"));
	assert_false(sf_code_transient("INVALID_FIELD"));
	assert_false(sf_code_transient("DUPLICATE_VALUE"));
	assert_false(sf_code_transient("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"));
	assert_false(sf_code_transient(""));
	assert_false(sf_code_transient(NULL));
}

static void
test_limit_info(void **state)
{
	static const struct { const char *v; bool ok; long long used, max; } t[] = {
		{ "api-usage=18/5000", true, 18, 5000 },
		{ "api-usage=0/15000", true, 0, 15000 },
		{ "per-app-api-usage=17/250(appName=sample-connected-app); api-usage=25/5000", true, 25, 5000 },
		{ "api-usage=25/5000; per-app-api-usage=17/250(appName=x)", true, 25, 5000 },
		{ "api-bursts=1/750;api-usage=7/100", true, 7, 100 },
		{ "per-app-api-usage=17/250(appName=x)", false, 0, 0 },
		{ "api-usage=18", false, 0, 0 },
		{ "api-usage=/5000", false, 0, 0 },
		{ "api-usage=18/0", false, 0, 0 },
		{ "api-usage=18/50x", false, 0, 0 },
		{ "", false, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long long u = -5, m = -5;
		bool ok = sf_limit_info_parse(t[i].v, &u, &m);

		if (ok != t[i].ok)
			fail_msg("case %zu (%s): %d", i, t[i].v, ok);
		if (ok) {
			assert_int_equal(u, t[i].used);
			assert_int_equal(m, t[i].max);
		}
	}
}

static void
test_backoff_bounds(void **state)
{
	struct sf_retry r = { .max_attempts = 10, .base_ms = 100, .cap_ms = 3000, .max_total_ms = 60000 };
	static const uint64_t rnds[] = { 0, 1, 99, 12345678901ull, UINT64_MAX, UINT64_MAX / 3 };

	assert_int_equal(sf_backoff_ms(&r, 0, 12345), 0);
	for (unsigned n = 1; n <= 40; n++) {
		long ceil = 100;
		for (unsigned k = 1; k < n; k++)
			ceil = ceil * 2 > 3000 ? 3000 : ceil * 2;
		for (size_t i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
			long w = sf_backoff_ms(&r, n, rnds[i]);
			assert_true(w >= 0);
			assert_true(w <= ceil);
		}
		/* the top of the range is reachable: full jitter */
		assert_int_equal(sf_backoff_ms(&r, n, (uint64_t)ceil), ceil);
	}
	/* defaults: 100 ms base, 10 s cap */
	{
		struct sf_retry d = { 0 };
		assert_true(sf_backoff_ms(&d, 1, UINT64_MAX) <= 100);
		assert_true(sf_backoff_ms(&d, 30, UINT64_MAX) <= 10000);
		assert_int_equal(sf_backoff_ms(&d, 30, 10000), 10000);
	}
	/* a huge cap does not overflow */
	{
		struct sf_retry big = { .base_ms = 1000, .cap_ms = 0x7fffffffL };
		for (unsigned n = 1; n < 200; n++)
			assert_true(sf_backoff_ms(&big, n, UINT64_MAX - 1) >= 0);
	}
}

static void
test_origin(void **state)
{
	assert_true(sf_origin_is_client("com/salesforce/api/rest/62.0;client=clmsync", "clmsync"));
	assert_true(sf_origin_is_client("com/salesforce/api/rest/62.0, client=clmsync ", "clmsync"));
	assert_true(sf_origin_is_client("client=clmsync;x=y", "clmsync"));
	assert_false(sf_origin_is_client("com/salesforce/api/rest/62.0;client=clmsync2", "clmsync"));
	assert_false(sf_origin_is_client("com/salesforce/api/rest/62.0;client=clm", "clmsync"));
	assert_false(sf_origin_is_client("com/salesforce/api/rest/62.0", "clmsync"));
	assert_false(sf_origin_is_client("xclient=clmsync", "clmsync"));
	assert_false(sf_origin_is_client("", "clmsync"));
	assert_false(sf_origin_is_client(NULL, "clmsync"));
}

static void
test_describe_parse(void **state)
{
	const char *js = "{\"name\":\"Contract\",\"custom\":false,\"createable\":true,\"updateable\":true,"
	    "\"deletable\":true,\"queryable\":true,\"fields\":["
	    "{\"name\":\"Id\",\"type\":\"id\",\"length\":18,\"nillable\":false,\"createable\":false,\"updateable\":false},"
	    "{\"name\":\"Status\",\"type\":\"picklist\",\"length\":40,\"restrictedPicklist\":true,\"createable\":true,"
	    "\"updateable\":true,\"picklistValues\":[{\"value\":\"Draft\",\"active\":true},{\"value\":\"Old\",\"active\":false},"
	    "{\"value\":\"Activated\",\"active\":true}]},"
	    "{\"name\":\"AccountId\",\"type\":\"reference\",\"referenceTo\":[\"Account\"],\"relationshipName\":\"Account\"},"
	    "{\"name\":\"CLM_Value__c\",\"type\":\"currency\",\"precision\":18,\"scale\":2,\"nillable\":true},"
	    "{\"name\":\"CLM_Id__c\",\"type\":\"string\",\"length\":64,\"externalId\":true,\"unique\":true}]}";
	json_t *v = json_loads(js, 0, NULL);
	struct sf_describe *d = NULL;
	const struct sf_field *f;
	struct sf_error e;

	assert_non_null(v);
	assert_int_equal(sf_describe_parse(v, &d, &e), CS_OK);
	assert_string_equal(d->name, "Contract");
	assert_int_equal(d->nfields, 5);
	assert_true(d->createable && d->queryable && !d->custom);
	f = sf_describe_field(d, "status");
	assert_non_null(f);
	assert_true(f->restricted_picklist);
	assert_int_equal(f->npicklist, 2);
	assert_string_equal(f->picklist[0], "Draft");
	assert_string_equal(f->picklist[1], "Activated");
	f = sf_describe_field(d, "AccountId");
	assert_int_equal(f->nreference_to, 1);
	assert_string_equal(f->reference_to[0], "Account");
	assert_string_equal(f->relationship_name, "Account");
	f = sf_describe_field(d, "CLM_Value__c");
	assert_int_equal(f->precision, 18);
	assert_int_equal(f->scale, 2);
	assert_true(f->nillable);
	f = sf_describe_field(d, "CLM_Id__c");
	assert_true(f->external_id && f->unique);
	assert_int_equal(f->length, 64);
	assert_null(sf_describe_field(d, "Nope__c"));
	sf_describe_free(d);
	json_decref(v);

	v = json_loads("{\"name\":\"X\",\"fields\":[{\"type\":\"string\"}]}", 0, NULL);
	assert_int_equal(sf_describe_parse(v, &d, &e), CS_EPARSE);
	assert_null(d);
	json_decref(v);
	v = json_loads("{\"fields\":[]}", 0, NULL);
	assert_int_equal(sf_describe_parse(v, &d, &e), CS_EPARSE);
	json_decref(v);
	sf_describe_free(NULL);
}

static void
test_org_config(void **state)
{
	struct sf_org_config c = { .name = "o", .login_url = "http://127.0.0.1:1", .api_version = "62.0",
		.client_name = "clmsync", .auth = SF_AUTH_CLIENT_CREDENTIALS, .client_id = "id",
		.client_secret = "s3cret-value" };
	struct sf_org *o = NULL;
	struct sf_error e;

	assert_int_equal(sf_org_new(&c, &o, &e), CS_OK);
	assert_true(!sf_org_budget_low(o, 90));    /* nothing known yet */
	sf_org_free(o);
	c.client_name = "bad,name";
	assert_int_equal(sf_org_new(&c, &o, &e), CS_EINVAL);
	c.client_name = "clmsync";
	c.api_version = "v62";
	assert_int_equal(sf_org_new(&c, &o, &e), CS_EINVAL);
	c.api_version = "62.0";
	c.client_secret = NULL;
	assert_int_equal(sf_org_new(&c, &o, &e), CS_EINVAL);
	assert_null(strstr(e.message, "s3cret"));
	c.login_url = "ftp://x";
	assert_int_equal(sf_org_new(&c, &o, &e), CS_EINVAL);
	sf_org_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_error_bounds),
		cmocka_unit_test(test_transient_codes),
		cmocka_unit_test(test_limit_info),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_describe_parse),
		cmocka_unit_test(test_org_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

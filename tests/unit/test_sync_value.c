/* test_sync_value.c - canonical field values: repository and Salesforce to canonical, canonical
 * to both sides, every transform, value maps, money parts, dates, nulls, types and messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "sync/value.h"

#include "sync_value_config.h"

static struct cs_config *cfg;

static int
load_config(void **state)
{
	struct cs_error_list errs;
	cs_err rc;

	cs_error_list_init(&errs);
	rc = cs_config_load_buffer("value.yaml", config_yaml, strlen(config_yaml),
	                           CS_CONFIG_NO_SECRETS, &cfg, &errs);
	if (rc != CS_OK)
		cs_error_list_print(&errs, stderr);
	cs_error_list_cleanup(&errs);
	return rc == CS_OK ? 0 : -1;
}

static int
free_config(void **state)
{
	cs_config_free(cfg);
	cfg = NULL;
	return 0;
}

/* The field of mapping `mapping` mapped to Salesforce field sf. */
static const struct cs_field_map *
field(const char *mapping, const char *sf)
{
	const struct cs_mapping *m = cs_config_mapping(cfg, mapping);

	assert_non_null(m);
	for (size_t i = 0; i < m->nfields; i++)
		if (strcmp(m->fields[i].sf, sf) == 0)
			return &m->fields[i];
	fail_msg("no field %s in mapping %s", sf, mapping);
	return NULL;
}

static json_t *
parse(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (v == NULL)
		fail_msg("bad JSON in the test: %s: %s", text, je.text);
	return v;
}

/* Asserts that got is exactly the JSON text want (types too: 12 is not 12.0). NULL want: got
 * must be NULL. */
static void
assert_json(const json_t *got, const char *want)
{
	char *g;

	if (want == NULL) {
		if (got != NULL)
			fail_msg("expected no value");
		return;
	}
	if (got == NULL)
		fail_msg("expected %s, got no value", want);
	g = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(g);
	{
		json_t *w = parse(want);
		char *ws = json_dumps(w, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);

		if (strcmp(g, ws) != 0)
			fail_msg("expected %s, got %s", ws, g);
		free(ws);
		json_decref(w);
	}
	free(g);
}

static void
assert_msg(const char *err, const char *want)
{
	if (strstr(err, want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, want);
}

/* --- the loader's view of the fields -------------------------------------------------------- */

static void
derived_fields(void **state)
{
	const struct cs_field_map *f;

	f = field("contracts", "Name");
	assert_int_equal(f->kind, CS_VALUE_TEXT);
	assert_int_equal(f->transform, CS_TRANSFORM_TRUNCATE);
	assert_int_equal(f->max_length, 5);
	assert_true(f->allow_truncate);
	f = field("contracts", "CLM_Value__c");
	assert_int_equal(f->kind, CS_VALUE_MONEY);
	assert_true(f->has_scale);
	assert_int_equal(f->scale, 2);
	assert_true(f->from_salesforce);
	assert_false(field("opps", "Amount")->has_scale);
	f = field("contracts", "AccountId");
	assert_int_equal(f->kind, CS_VALUE_REFERENCE);
	assert_ptr_equal(f->lookup_to, cs_config_mapping(cfg, "cps"));
	f = field("contracts", "Amount__c");
	assert_int_equal(f->kind, CS_VALUE_DECIMAL);
	assert_non_null(f->attr);
	assert_string_equal(f->attr->name, "amount");
	assert_int_equal(field("contracts", "Notice__c")->kind, CS_VALUE_INTEGER);
	assert_int_equal(field("contracts", "Flag__c")->kind, CS_VALUE_BOOLEAN);
	assert_int_equal(field("contracts", "Flag__c")->nvalue_map, 2);
	assert_int_equal(field("contracts", "Signed_Date__c")->kind, CS_VALUE_DATETIME);
	assert_false(field("contracts", "Status")->from_salesforce);
	assert_true(field("contracts", "CLM_Type__c")->from_salesforce);
}

/* --- repository -> canonical ---------------------------------------------------------------- */

struct clm_case {
	const char *mapping, *sf;
	const char *record;   /* the repository record, JSON */
	enum sync_val rc;
	const char *want;     /* the canonical value (JSON), NULL when none */
	const char *msg;      /* part of the error message */
};

#define MONEY(a, c) "{\"total_value\": {\"amount\": \"" a "\", \"currency\": \"" c "\"}}"

static const struct clm_case clm_cases[] = {
	/* truncate: characters, never bytes */
	{ "contracts", "Name", "{\"title\": \"Hello world\"}", SYNC_VAL_OK, "\"Hello\"", NULL },
	{ "contracts", "Name", "{\"title\": \"H\xc3\xa9llo w\xc3\xb6rld\"}", SYNC_VAL_OK,
	  "\"H\xc3\xa9llo\"", NULL },
	{ "contracts", "Name", "{\"title\": \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae"
	  "\xe3\x83\x86\xe3\x82\xad\"}", SYNC_VAL_OK,
	  "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\"", NULL },
	{ "contracts", "Name", "{\"title\": \"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	  "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}", SYNC_VAL_OK,
	  "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"",
	  NULL },
	{ "contracts", "Name", "{\"title\": \"Hello\"}", SYNC_VAL_OK, "\"Hello\"", NULL },
	{ "contracts", "Name", "{\"title\": \"abc\"}", SYNC_VAL_OK, "\"abc\"", NULL },
	{ "contracts", "Name", "{\"title\": \"\"}", SYNC_VAL_OK, "null", NULL },
	{ "contracts", "Name", "{}", SYNC_VAL_OK, "null", NULL },
	{ "contracts", "Name", "{\"title\": null}", SYNC_VAL_OK, "null", NULL },
	{ "contracts", "Name", "{\"title\": 42}", SYNC_VAL_ERROR, NULL, "expected text" },
	/* value maps: many-to-one, not_synced, unmapped */
	{ "contracts", "Status", "{\"status\": \"draft\"}", SYNC_VAL_OK, "\"Draft\"", NULL },
	{ "contracts", "Status", "{\"status\": \"in_review\"}", SYNC_VAL_OK, "\"Draft\"", NULL },
	{ "contracts", "Status", "{\"status\": \"signed\"}", SYNC_VAL_OK,
	  "\"In Approval Process\"", NULL },
	{ "contracts", "Status", "{\"status\": \"expired\"}", SYNC_VAL_SKIP, NULL, NULL },
	{ "contracts", "Status", "{\"status\": \"terminated\"}", SYNC_VAL_SKIP, NULL, NULL },
	{ "contracts", "Status", "{\"status\": \"bogus\"}", SYNC_VAL_ERROR, NULL,
	  "status value 'bogus' has no value for Status" },
	{ "contracts", "Status", "{\"status\": null}", SYNC_VAL_OK, "null", NULL },
	{ "contracts", "Status", "{\"status\": 3}", SYNC_VAL_ERROR, NULL, "got" },
	{ "contracts", "CLM_Type__c", "{\"type\": \"order_form\"}", SYNC_VAL_OK, "\"Order Form\"",
	  NULL },
	{ "contracts", "Terms__c", "{\"payment_terms\": \"net30\"}", SYNC_VAL_OK, "\"Net 30\"",
	  NULL },
	{ "contracts", "Terms__c", "{\"payment_terms\": \"net90\"}", SYNC_VAL_ERROR, NULL,
	  "payment_terms value 'net90' has no value for Terms__c" },
	{ "contracts", "Region__c", "{\"custom\": {\"region\": \"EMEA\"}}", SYNC_VAL_OK,
	  "\"Europe\"", NULL },
	{ "contracts", "Region__c", "{\"custom\": {\"ratio\": \"1\"}}", SYNC_VAL_OK, "null", NULL },
	{ "contracts", "Region__c", "{\"status\": \"draft\"}", SYNC_VAL_OK, "null", NULL },
	{ "contracts", "Flag__c", "{\"custom\": {\"flag\": true}}", SYNC_VAL_OK, "\"Yes\"", NULL },
	{ "contracts", "Flag__c", "{\"custom\": {\"flag\": false}}", SYNC_VAL_OK, "\"No\"", NULL },
	/* money amount at scale 2: exact, never rounded */
	{ "contracts", "CLM_Value__c", MONEY("120000.00", "EUR"), SYNC_VAL_OK, "\"120000.00\"",
	  NULL },
	{ "contracts", "CLM_Value__c", MONEY("12.50", "EUR"), SYNC_VAL_OK, "\"12.50\"", NULL },
	{ "contracts", "CLM_Value__c", MONEY("12.5", "EUR"), SYNC_VAL_OK, "\"12.50\"", NULL },
	{ "contracts", "CLM_Value__c", MONEY("1200", "JPY"), SYNC_VAL_OK, "\"1200.00\"", NULL },
	{ "contracts", "CLM_Value__c", MONEY("-0.05", "EUR"), SYNC_VAL_OK, "\"-0.05\"", NULL },
	{ "contracts", "CLM_Value__c", MONEY("1.230", "BHD"), SYNC_VAL_OK, "\"1.23\"", NULL },
	{ "contracts", "CLM_Value__c", MONEY("12.345", "BHD"), SYNC_VAL_ERROR, NULL,
	  "12.345 has more than 2 fraction digits" },
	{ "contracts", "CLM_Value__c", MONEY("922337203685477580", "JPY"), SYNC_VAL_ERROR, NULL,
	  "too large" },
	{ "contracts", "CLM_Value__c", MONEY("92233720368547758.07", "EUR"), SYNC_VAL_OK,
	  "\"92233720368547758.07\"", NULL },
	{ "contracts", "CLM_Value__c", "{}", SYNC_VAL_OK, "null", NULL },
	{ "contracts", "CLM_Value__c", "{\"total_value\": null}", SYNC_VAL_OK, "null", NULL },
	{ "contracts", "CLM_Value__c", "{\"total_value\": \"12.50\"}", SYNC_VAL_ERROR, NULL,
	  "expected money" },
	{ "contracts", "CLM_Value__c", "{\"total_value\": {\"amount\": \"1e3\", "
	  "\"currency\": \"EUR\"}}", SYNC_VAL_ERROR, NULL, "not an exact decimal" },
	{ "contracts", "CLM_Currency__c", MONEY("12.50", "EUR"), SYNC_VAL_OK, "\"EUR\"", NULL },
	{ "contracts", "CLM_Currency__c", "{}", SYNC_VAL_OK, "null", NULL },
	{ "contracts", "CLM_Currency__c", "{\"total_value\": null}", SYNC_VAL_OK, "null", NULL },
	/* money amount without a scale: trailing zeros go */
	{ "opps", "Amount", MONEY("120000.00", "EUR"), SYNC_VAL_OK, "\"120000\"", NULL },
	{ "opps", "Amount", MONEY("12.50", "EUR"), SYNC_VAL_OK, "\"12.5\"", NULL },
	{ "opps", "Amount", MONEY("0.00", "EUR"), SYNC_VAL_OK, "\"0\"", NULL },
	{ "opps", "Amount", MONEY("1200", "JPY"), SYNC_VAL_OK, "\"1200\"", NULL },
	{ "opps", "CurrencyIsoCode", MONEY("1200", "JPY"), SYNC_VAL_OK, "\"JPY\"", NULL },
	/* date -> datetime at 00:00 UTC; datetime -> its UTC date */
	{ "contracts", "Start__c", "{\"effective_date\": \"2026-01-31\"}", SYNC_VAL_OK,
	  "\"2026-01-31T00:00:00.000Z\"", NULL },
	{ "contracts", "Start__c", "{\"effective_date\": \"2024-02-29\"}", SYNC_VAL_OK,
	  "\"2024-02-29T00:00:00.000Z\"", NULL },
	{ "contracts", "Start__c", "{\"effective_date\": \"2026-02-30\"}", SYNC_VAL_ERROR, NULL,
	  "expected a date" },
	{ "contracts", "Start__c", "{\"effective_date\": \"2026-01-31T10:00:00Z\"}",
	  SYNC_VAL_ERROR, NULL, "expected a date" },
	{ "contracts", "Signed_Date__c", "{\"custom\": {\"signed_at\": "
	  "\"2026-03-29T23:30:00.000Z\"}}", SYNC_VAL_OK, "\"2026-03-29\"", NULL },
	{ "contracts", "Signed_Date__c", "{\"custom\": {\"signed_at\": "
	  "\"2026-03-29T00:30:00.000Z\"}}", SYNC_VAL_OK, "\"2026-03-29\"", NULL },
	{ "contracts", "Signed_Date__c", "{\"custom\": {\"signed_at\": "
	  "\"2026-03-29T23:30:00-02:00\"}}", SYNC_VAL_OK, "\"2026-03-30\"", NULL },
	{ "contracts", "Signed_Date__c", "{\"custom\": {\"signed_at\": "
	  "\"1969-12-31T23:59:59.999Z\"}}", SYNC_VAL_OK, "\"1969-12-31\"", NULL },
	{ "contracts", "Signed_Date__c", "{\"custom\": {\"signed_at\": \"2026-03-29\"}}",
	  SYNC_VAL_ERROR, NULL, "expected a date-time" },
	/* integers stay integers */
	{ "contracts", "ContractTerm", "{\"term_months\": 12}", SYNC_VAL_OK, "12", NULL },
	{ "contracts", "ContractTerm", "{\"term_months\": \"12\"}", SYNC_VAL_ERROR, NULL,
	  "expected an integer" },
	{ "contracts", "ContractTerm", "{\"term_months\": 12.5}", SYNC_VAL_ERROR, NULL,
	  "expected an integer" },
	{ "contracts", "Count__c", "{\"custom\": {\"count\": -3}}", SYNC_VAL_OK, "-3", NULL },
	/* decimal_to_currency: exact digits at scale */
	{ "contracts", "Amount__c", "{\"custom\": {\"amount\": \"120000.5\"}}", SYNC_VAL_OK,
	  "\"120000.50\"", NULL },
	{ "contracts", "Amount__c", "{\"custom\": {\"amount\": \"12\"}}", SYNC_VAL_OK, "\"12.00\"",
	  NULL },
	{ "contracts", "Amount__c", "{\"custom\": {\"amount\": \"0.125\"}}", SYNC_VAL_ERROR, NULL,
	  "0.125 has more than 2 fraction digits" },
	{ "contracts", "Amount__c", "{\"custom\": {\"amount\": 12}}", SYNC_VAL_ERROR, NULL,
	  "expected a decimal string" },
	{ "contracts", "Notice__c", "{\"renewal_notice_days\": 30}", SYNC_VAL_OK, "\"30.0\"", NULL },
	{ "contracts", "Notice__c", "{\"renewal_notice_days\": \"30\"}", SYNC_VAL_ERROR, NULL,
	  "expected an integer" },
	/* plain decimals: trailing fraction zeros go */
	{ "contracts", "Ratio__c", "{\"custom\": {\"ratio\": \"12.50\"}}", SYNC_VAL_OK, "\"12.5\"",
	  NULL },
	{ "contracts", "Ratio__c", "{\"custom\": {\"ratio\": \"3.0\"}}", SYNC_VAL_OK, "\"3\"", NULL },
	{ "contracts", "Ratio__c", "{\"custom\": {\"ratio\": \"0.000\"}}", SYNC_VAL_OK, "\"0\"",
	  NULL },
	{ "contracts", "Ratio__c", "{\"custom\": {\"ratio\": \"-1.10\"}}", SYNC_VAL_OK, "\"-1.1\"",
	  NULL },
	{ "contracts", "Ratio__c", "{\"custom\": {\"ratio\": \"1e3\"}}", SYNC_VAL_ERROR, NULL,
	  "not an exact decimal" },
	/* booleans, dates, date-times, text, lookups */
	{ "contracts", "Auto__c", "{\"auto_renew\": true}", SYNC_VAL_OK, "true", NULL },
	{ "contracts", "Auto__c", "{\"auto_renew\": false}", SYNC_VAL_OK, "false", NULL },
	{ "contracts", "Auto__c", "{\"auto_renew\": \"true\"}", SYNC_VAL_ERROR, NULL,
	  "expected true or false" },
	{ "contracts", "End__c", "{\"expiration_date\": \"2026-01-31\"}", SYNC_VAL_OK,
	  "\"2026-01-31\"", NULL },
	{ "contracts", "Seen__c", "{\"custom\": {\"seen_at\": \"2026-01-31T12:00:00+01:00\"}}",
	  SYNC_VAL_OK, "\"2026-01-31T11:00:00.000Z\"", NULL },
	{ "contracts", "Description", "{\"description\": \"Line one\\nline two\"}", SYNC_VAL_OK,
	  "\"Line one\\nline two\"", NULL },
	{ "contracts", "AccountId", "{\"counterparty_id\": \"cp_01J9ZQ3V5W8X\"}", SYNC_VAL_OK,
	  "\"cp_01J9ZQ3V5W8X\"", NULL },
	{ "contracts", "AccountId", "{\"counterparty_id\": null}", SYNC_VAL_OK, "null", NULL },
	{ "contracts", "AccountId", "{\"counterparty_id\": 7}", SYNC_VAL_ERROR, NULL,
	  "expected a record id" },
	{ "contracts", "Name", "[1]", SYNC_VAL_ERROR, NULL, "not a JSON object" },
};

static void
from_clm(void **state)
{
	for (size_t i = 0; i < sizeof(clm_cases) / sizeof(clm_cases[0]); i++) {
		const struct clm_case *c = &clm_cases[i];
		const struct cs_field_map *f = field(c->mapping, c->sf);
		json_t *rec = parse(c->record), *out = (json_t *)1;
		char err[256];

		print_message("from_clm %s.%s %s\n", c->mapping, c->sf, c->record);
		memset(err, 'x', sizeof(err));
		assert_int_equal(sync_value_from_clm(f, rec, &out, err, sizeof(err)), c->rc);
		assert_json(out, c->want);
		if (c->rc == SYNC_VAL_ERROR) {
			assert_msg(err, c->msg);
			assert_true(strlen(err) < sizeof(err));
		} else {
			assert_string_equal(err, "");
		}
		json_decref(out);
		json_decref(rec);
	}
}

/* --- Salesforce -> canonical ---------------------------------------------------------------- */

struct sf_case {
	const char *mapping, *sf;
	const char *record;   /* the Salesforce record or event, JSON */
	enum sync_val rc;
	bool present;
	const char *want;
	const char *msg;
};

static const struct sf_case sf_cases[] = {
	/* names compare without case; absence is not null */
	{ "contracts", "Name", "{\"Name\": \"Hello\"}", SYNC_VAL_OK, true, "\"Hello\"", NULL },
	{ "contracts", "Name", "{\"name\": \"Hi\"}", SYNC_VAL_OK, true, "\"Hi\"", NULL },
	{ "contracts", "Name", "{\"NAME\": \"Hi\"}", SYNC_VAL_OK, true, "\"Hi\"", NULL },
	{ "contracts", "CLM_Value__c", "{\"clm_value__C\": 5}", SYNC_VAL_OK, true, "\"5.00\"", NULL },
	{ "contracts", "Name", "{\"Id\": \"800xx\"}", SYNC_VAL_OK, false, NULL, NULL },
	{ "contracts", "Name", "{\"Name\": null}", SYNC_VAL_OK, true, "null", NULL },
	{ "contracts", "Name", "{\"Name\": 5}", SYNC_VAL_ERROR, true, NULL, "expected text" },
	/* picklists stay in Salesforce form */
	{ "contracts", "Status", "{\"Status\": \"Draft\"}", SYNC_VAL_OK, true, "\"Draft\"", NULL },
	{ "contracts", "Status", "{\"Status\": \"Whatever\"}", SYNC_VAL_OK, true, "\"Whatever\"",
	  NULL },
	{ "contracts", "Region__c", "{\"Region__c\": \"Europe\"}", SYNC_VAL_OK, true, "\"Europe\"",
	  NULL },
	{ "contracts", "Flag__c", "{\"Flag__c\": \"Yes\"}", SYNC_VAL_OK, true, "\"Yes\"", NULL },
	{ "contracts", "Flag__c", "{\"Flag__c\": true}", SYNC_VAL_OK, true, "\"true\"", NULL },
	{ "contracts", "Status", "{\"Status\": 1}", SYNC_VAL_ERROR, true, NULL, "expected text" },
	/* currency at scale 2, from integers and reals */
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 120000}", SYNC_VAL_OK, true,
	  "\"120000.00\"", NULL },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 120000.5}", SYNC_VAL_OK, true,
	  "\"120000.50\"", NULL },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 1.0E7}", SYNC_VAL_OK, true,
	  "\"10000000.00\"", NULL },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 0.1}", SYNC_VAL_OK, true, "\"0.10\"",
	  NULL },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 1234.56}", SYNC_VAL_OK, true,
	  "\"1234.56\"", NULL },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": -0.07}", SYNC_VAL_OK, true, "\"-0.07\"",
	  NULL },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 2.675}", SYNC_VAL_OK, true, "\"2.68\"",
	  NULL },   /* the decimal 2.675, rounded half up: never the binary 2.67499... */
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": -0.125}", SYNC_VAL_OK, true, "\"-0.13\"",
	  NULL },
	/* Exact while the double's spacing is below a cent: up to 2^46 (7.04e13) at scale 2. */
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 70000000000000.01}", SYNC_VAL_OK, true,
	  "\"70000000000000.01\"", NULL },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": -70000000000000.07}", SYNC_VAL_OK, true,
	  "\"-70000000000000.07\"", NULL },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 99999999999999.99}", SYNC_VAL_ERROR,
	  true, NULL, "too large to convert exactly" },   /* would read back as ...99.98 */
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 999999999999999.9}", SYNC_VAL_ERROR,
	  true, NULL, "too large to convert exactly" },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 1.0E15}", SYNC_VAL_ERROR, true, NULL,
	  "too large to convert exactly" },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": 1000000000000000}", SYNC_VAL_OK, true,
	  "\"1000000000000000.00\"", NULL },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": \"12.5\"}", SYNC_VAL_ERROR, true, NULL,
	  "expected a number" },
	{ "contracts", "CLM_Value__c", "{\"CLM_Value__c\": null}", SYNC_VAL_OK, true, "null", NULL },
	{ "contracts", "CLM_Currency__c", "{\"CLM_Currency__c\": \"EUR\"}", SYNC_VAL_OK, true,
	  "\"EUR\"", NULL },
	{ "contracts", "CLM_Currency__c", "{\"CLM_Currency__c\": 978}", SYNC_VAL_ERROR, true, NULL,
	  "expected text" },
	/* currency without a scale: the shortest exact digits */
	{ "opps", "Amount", "{\"Amount\": 120000.0}", SYNC_VAL_OK, true, "\"120000\"", NULL },
	{ "opps", "Amount", "{\"Amount\": 12.5}", SYNC_VAL_OK, true, "\"12.5\"", NULL },
	{ "opps", "Amount", "{\"Amount\": 1e-7}", SYNC_VAL_OK, true, "\"0.0000001\"", NULL },
	{ "opps", "Amount", "{\"Amount\": 0.30000000000000004}", SYNC_VAL_OK, true,
	  "\"0.30000000000000004\"", NULL },
	{ "opps", "Amount", "{\"Amount\": -0.0}", SYNC_VAL_OK, true, "\"0\"", NULL },
	{ "opps", "Amount", "{\"Amount\": 1e-30}", SYNC_VAL_ERROR, true, NULL, "no exact decimal" },
	/* integers: 12 or 12.0 */
	{ "contracts", "ContractTerm", "{\"ContractTerm\": 12}", SYNC_VAL_OK, true, "12", NULL },
	{ "contracts", "ContractTerm", "{\"ContractTerm\": 12.0}", SYNC_VAL_OK, true, "12", NULL },
	{ "contracts", "ContractTerm", "{\"ContractTerm\": -1.0}", SYNC_VAL_OK, true, "-1", NULL },
	{ "contracts", "ContractTerm", "{\"ContractTerm\": 12.5}", SYNC_VAL_ERROR, true, NULL,
	  "not a whole number" },
	{ "contracts", "ContractTerm", "{\"ContractTerm\": 1e20}", SYNC_VAL_ERROR, true, NULL,
	  "too large" },
	{ "contracts", "ContractTerm", "{\"ContractTerm\": \"12\"}", SYNC_VAL_ERROR, true, NULL,
	  "expected a number" },
	{ "contracts", "ContractTerm", "{\"ContractTerm\": true}", SYNC_VAL_ERROR, true, NULL,
	  "expected a number" },
	{ "contracts", "Count__c", "{\"Count__c\": 7.0}", SYNC_VAL_OK, true, "7", NULL },
	/* decimal_to_currency and plain decimals */
	{ "contracts", "Amount__c", "{\"Amount__c\": 5000}", SYNC_VAL_OK, true, "\"5000.00\"", NULL },
	{ "contracts", "Amount__c", "{\"Amount__c\": 5000.1}", SYNC_VAL_OK, true, "\"5000.10\"",
	  NULL },
	{ "contracts", "Notice__c", "{\"Notice__c\": 30}", SYNC_VAL_OK, true, "\"30.0\"", NULL },
	{ "contracts", "Ratio__c", "{\"Ratio__c\": 12.5}", SYNC_VAL_OK, true, "\"12.5\"", NULL },
	{ "contracts", "Ratio__c", "{\"Ratio__c\": 3}", SYNC_VAL_OK, true, "\"3\"", NULL },
	{ "contracts", "Ratio__c", "{\"Ratio__c\": 3.0}", SYNC_VAL_OK, true, "\"3\"", NULL },
	{ "contracts", "Ratio__c", "{\"Ratio__c\": \"3\"}", SYNC_VAL_ERROR, true, NULL,
	  "expected a number" },
	/* date-times normalised to milliseconds UTC; dates stay */
	{ "contracts", "Start__c", "{\"Start__c\": \"2026-01-31T10:00:00.000+0000\"}", SYNC_VAL_OK,
	  true, "\"2026-01-31T10:00:00.000Z\"", NULL },
	{ "contracts", "Start__c", "{\"Start__c\": \"2026-01-31T10:00:00Z\"}", SYNC_VAL_OK, true,
	  "\"2026-01-31T10:00:00.000Z\"", NULL },
	{ "contracts", "Start__c", "{\"Start__c\": \"2026-03-29T23:30:00.000+0000\"}", SYNC_VAL_OK,
	  true, "\"2026-03-29T23:30:00.000Z\"", NULL },
	{ "contracts", "Start__c", "{\"Start__c\": \"2026-03-29T00:30:00Z\"}", SYNC_VAL_OK, true,
	  "\"2026-03-29T00:30:00.000Z\"", NULL },
	{ "contracts", "Start__c", "{\"Start__c\": \"2026-03-29T01:30:00.000+02:00\"}", SYNC_VAL_OK,
	  true, "\"2026-03-28T23:30:00.000Z\"", NULL },
	{ "contracts", "Start__c", "{\"Start__c\": \"2026-01-31\"}", SYNC_VAL_ERROR, true, NULL,
	  "expected a date-time" },
	{ "contracts", "Start__c", "{\"Start__c\": \"9999-12-31T23:30:00-01:00\"}", SYNC_VAL_ERROR,
	  true, NULL, "expected a date-time" },
	{ "contracts", "Seen__c", "{\"Seen__c\": \"2026-01-31T10:00:00.123+0200\"}", SYNC_VAL_OK,
	  true, "\"2026-01-31T08:00:00.123Z\"", NULL },
	{ "contracts", "End__c", "{\"End__c\": \"2026-01-31\"}", SYNC_VAL_OK, true, "\"2026-01-31\"",
	  NULL },
	{ "contracts", "End__c", "{\"End__c\": \"2026-01-31T00:00:00Z\"}", SYNC_VAL_ERROR, true,
	  NULL, "expected a date" },
	{ "contracts", "Signed_Date__c", "{\"Signed_Date__c\": \"2026-03-29\"}", SYNC_VAL_OK, true,
	  "\"2026-03-29\"", NULL },
	/* booleans, text, lookups */
	{ "contracts", "Auto__c", "{\"Auto__c\": true}", SYNC_VAL_OK, true, "true", NULL },
	{ "contracts", "Auto__c", "{\"Auto__c\": \"true\"}", SYNC_VAL_ERROR, true, NULL,
	  "expected true or false" },
	{ "contracts", "Description", "{\"Description\": \"\"}", SYNC_VAL_OK, true, "null", NULL },
	{ "contracts", "Description", "{\"Description\": \" x \"}", SYNC_VAL_OK, true, "\" x \"",
	  NULL },
	{ "contracts", "AccountId", "{\"AccountId\": \"001xx000003DGb2AAG\"}", SYNC_VAL_OK, true,
	  "\"001xx000003DGb2AAG\"", NULL },
	{ "contracts", "AccountId", "{\"AccountId\": {\"Id\": \"001\"}}", SYNC_VAL_ERROR, true, NULL,
	  "expected text" },
	{ "contracts", "Name", "\"Name\"", SYNC_VAL_ERROR, false, NULL, "not a JSON object" },
};

static void
from_sf(void **state)
{
	for (size_t i = 0; i < sizeof(sf_cases) / sizeof(sf_cases[0]); i++) {
		const struct sf_case *c = &sf_cases[i];
		const struct cs_field_map *f = field(c->mapping, c->sf);
		json_t *rec = parse(c->record), *out = (json_t *)1;
		bool present = !c->present;
		char err[256];

		print_message("from_sf %s.%s %s\n", c->mapping, c->sf, c->record);
		memset(err, 'x', sizeof(err));
		assert_int_equal(sync_value_from_sf(f, rec, &present, &out, err, sizeof(err)), c->rc);
		assert_int_equal(present, c->present);
		assert_json(out, c->want);
		if (c->rc == SYNC_VAL_ERROR)
			assert_msg(err, c->msg);
		else
			assert_string_equal(err, "");
		json_decref(out);
		json_decref(rec);
	}
}

/* --- canonical -> Salesforce ---------------------------------------------------------------- */

static void
to_sf(void **state)
{
	static const struct {
		const char *mapping, *sf, *v, *want;
	} cases[] = {
		{ "contracts", "CLM_Value__c", "\"120000.50\"", "\"120000.50\"" },
		{ "contracts", "Amount__c", "\"12.00\"", "\"12.00\"" },
		{ "contracts", "Notice__c", "\"30.0\"", "\"30.0\"" },
		{ "contracts", "Ratio__c", "\"12.5\"", "\"12.5\"" },
		{ "contracts", "Ratio__c", "3", "\"3\"" },
		{ "contracts", "ContractTerm", "12", "12" },
		{ "contracts", "Auto__c", "false", "false" },
		{ "contracts", "Start__c", "\"2026-01-31T00:00:00.000Z\"", "\"2026-01-31T00:00:00.000Z\"" },
		{ "contracts", "Status", "\"In Approval Process\"", "\"In Approval Process\"" },
		{ "contracts", "AccountId", "\"001xx000003DGb2AAG\"", "\"001xx000003DGb2AAG\"" },
		{ "contracts", "Description", "null", "null" },
		{ "contracts", "CLM_Currency__c", "\"EUR\"", "\"EUR\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cs_field_map *f = field(cases[i].mapping, cases[i].sf);
		json_t *v = parse(cases[i].v), *out;

		print_message("to_sf %s %s\n", cases[i].sf, cases[i].v);
		out = sync_value_to_sf(f, v);
		assert_json(out, cases[i].want);
		if (json_is_string(v))
			assert_true(out != v);   /* a new value, not the caller's */
		json_decref(out);
		json_decref(v);
	}
	/* NULL is null. */
	{
		json_t *out = sync_value_to_sf(field("contracts", "Name"), NULL);

		assert_true(json_is_null(out));
		json_decref(out);
	}
}

/* --- canonical -> repository ---------------------------------------------------------------- */

struct clm_patch_case {
	const char *mapping, *sf;
	const char *v;         /* canonical JSON; NULL passes a NULL pointer */
	const char *current;   /* the stored record, NULL for none */
	const char *patch;     /* the patch before */
	enum sync_val rc;
	const char *want;      /* the patch after (on error: unchanged, so NULL means "as before") */
	const char *msg;
};

#define CUR_EUR "{\"total_value\": {\"amount\": \"50.00\", \"currency\": \"EUR\"}}"

static const struct clm_patch_case patch_cases[] = {
	/* reverse value maps */
	{ "contracts", "CLM_Type__c", "\"Order Form\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"type\": \"order_form\"}", NULL },
	{ "contracts", "CLM_Type__c", "\"Foo\"", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "Salesforce value 'Foo' of CLM_Type__c has no repository value for type" },
	{ "contracts", "Status", "\"Draft\"", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "Salesforce value 'Draft' of Status stands for more than one value of status" },
	{ "contracts", "Status", "\"Activated\"", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "stands for more than one" },
	{ "contracts", "Terms__c", "\"Net 60\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"payment_terms\": \"net60\"}", NULL },
	{ "contracts", "Terms__c", "\"Net 90\"", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "Salesforce value 'Net 90' of Terms__c has no repository value for payment_terms" },
	{ "contracts", "Terms__c", "null", NULL, "{}", SYNC_VAL_OK, "{\"payment_terms\": null}",
	  NULL },
	{ "contracts", "CLM_Type__c", "7", NULL, "{}", SYNC_VAL_ERROR, NULL, "got a number '7'" },
	/* custom attributes merge into "custom" */
	{ "contracts", "Region__c", "\"Americas\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"custom\": {\"region\": \"AMER\"}}", NULL },
	{ "contracts", "Region__c", "\"Americas\"", NULL,
	  "{\"title\": \"T\", \"custom\": {\"amount\": \"1.00\"}}", SYNC_VAL_OK,
	  "{\"title\": \"T\", \"custom\": {\"amount\": \"1.00\", \"region\": \"AMER\"}}", NULL },
	{ "contracts", "Region__c", "null", NULL, "{\"custom\": {\"amount\": \"1.00\"}}", SYNC_VAL_OK,
	  "{\"custom\": {\"amount\": \"1.00\", \"region\": null}}", NULL },
	{ "contracts", "Region__c", "\"Americas\"", NULL, "{\"custom\": 5}", SYNC_VAL_ERROR, NULL,
	  "\"custom\" is not an object" },
	{ "contracts", "Flag__c", "\"No\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"custom\": {\"flag\": false}}", NULL },
	{ "contracts", "Flag__c", "\"Yes\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"custom\": {\"flag\": true}}", NULL },
	/* money: the amount */
	{ "contracts", "CLM_Value__c", "\"120000.50\"", CUR_EUR, "{}", SYNC_VAL_OK,
	  "{\"total_value\": {\"amount\": \"120000.5\", \"currency\": \"EUR\"}}", NULL },
	{ "contracts", "CLM_Value__c", "\"1200.00\"", CUR_EUR,
	  "{\"total_value\": {\"amount\": \"5\", \"currency\": \"JPY\"}}", SYNC_VAL_OK,
	  "{\"total_value\": {\"amount\": \"1200\", \"currency\": \"JPY\"}}", NULL },
	{ "contracts", "CLM_Value__c", "\"10.00\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"total_value\": {\"amount\": \"10\"}}", NULL },
	{ "contracts", "CLM_Value__c", "null", CUR_EUR, "{}", SYNC_VAL_OK, "{\"total_value\": null}",
	  NULL },
	{ "contracts", "CLM_Value__c", NULL, CUR_EUR, "{}", SYNC_VAL_OK, "{\"total_value\": null}",
	  NULL },
	{ "contracts", "CLM_Value__c", "\"5.00\"", CUR_EUR, "{\"total_value\": null}", SYNC_VAL_ERROR,
	  NULL, "amount 5 has no currency" },
	{ "contracts", "CLM_Value__c", "\"abc\"", CUR_EUR, "{}", SYNC_VAL_ERROR, NULL,
	  "not an exact decimal" },
	{ "contracts", "CLM_Value__c", "5", CUR_EUR, "{}", SYNC_VAL_ERROR, NULL,
	  "expected a decimal string" },
	/* money: the currency */
	{ "contracts", "CLM_Currency__c", "\"USD\"", CUR_EUR, "{}", SYNC_VAL_OK,
	  "{\"total_value\": {\"amount\": \"50.00\", \"currency\": \"USD\"}}", NULL },
	{ "contracts", "CLM_Currency__c", "\"USD\"", CUR_EUR,
	  "{\"total_value\": {\"amount\": \"7.5\", \"currency\": \"EUR\"}}", SYNC_VAL_OK,
	  "{\"total_value\": {\"amount\": \"7.5\", \"currency\": \"USD\"}}", NULL },
	{ "contracts", "CLM_Currency__c", "\"USD\"", NULL, "{}", SYNC_VAL_OK, "{}", NULL },
	{ "contracts", "CLM_Currency__c", "\"USD\"", "{\"total_value\": null}", "{}", SYNC_VAL_OK,
	  "{}", NULL },
	{ "contracts", "CLM_Currency__c", "\"USD\"", CUR_EUR, "{\"total_value\": null}", SYNC_VAL_OK,
	  "{\"total_value\": null}", NULL },
	{ "contracts", "CLM_Currency__c", "null", CUR_EUR, "{}", SYNC_VAL_ERROR, NULL,
	  "the currency cannot be cleared while the amount (50.00) stays" },
	{ "contracts", "CLM_Currency__c", "null", NULL, "{\"total_value\": {\"amount\": \"3\"}}",
	  SYNC_VAL_ERROR, NULL, "cannot be cleared" },
	{ "contracts", "CLM_Currency__c", "null", CUR_EUR, "{\"total_value\": null}", SYNC_VAL_OK,
	  "{\"total_value\": null}", NULL },
	{ "contracts", "CLM_Currency__c", "null", NULL, "{}", SYNC_VAL_OK, "{\"total_value\": null}",
	  NULL },
	{ "contracts", "CLM_Currency__c", "\"XYZ\"", CUR_EUR, "{}", SYNC_VAL_ERROR, NULL,
	  "'XYZ' is not an ISO 4217 currency code" },
	{ "contracts", "CLM_Currency__c", "\"eur\"", CUR_EUR, "{}", SYNC_VAL_ERROR, NULL,
	  "not an ISO 4217" },
	{ "contracts", "CLM_Currency__c", "\"XAU\"", CUR_EUR, "{}", SYNC_VAL_ERROR, NULL,
	  "not an ISO 4217" },
	/* a Salesforce date-time into a repository date: its UTC day */
	{ "contracts", "Start__c", "\"2026-03-29T23:30:00.000Z\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"effective_date\": \"2026-03-29\"}", NULL },
	{ "contracts", "Start__c", "\"2026-03-29T00:30:00.000Z\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"effective_date\": \"2026-03-29\"}", NULL },
	{ "contracts", "Start__c", "\"2026-03-29T23:30:00.000+0000\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"effective_date\": \"2026-03-29\"}", NULL },
	{ "contracts", "Start__c", "\"2026-03-29T00:30:00+02:00\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"effective_date\": \"2026-03-28\"}", NULL },
	{ "contracts", "Start__c", "\"2026-03-29\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"effective_date\": \"2026-03-29\"}", NULL },
	{ "contracts", "Start__c", "5", NULL, "{}", SYNC_VAL_ERROR, NULL, "expected a date-time" },
	{ "contracts", "Signed_Date__c", "\"2026-03-29\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"custom\": {\"signed_at\": \"2026-03-29T00:00:00.000Z\"}}", NULL },
	/* decimal_to_currency: decimal attribute, integer field */
	{ "contracts", "Amount__c", "\"120000.50\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"custom\": {\"amount\": \"120000.50\"}}", NULL },
	{ "contracts", "Amount__c", "\"1,000.00\"", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "not an exact decimal" },
	{ "contracts", "Notice__c", "\"30.0\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"renewal_notice_days\": 30}", NULL },
	{ "contracts", "Notice__c", "\"30.5\"", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "30.5 has a fraction; renewal_notice_days holds whole numbers" },
	/* integers, decimals, dates, date-times, booleans, text, lookups */
	{ "contracts", "ContractTerm", "12", NULL, "{}", SYNC_VAL_OK, "{\"term_months\": 12}", NULL },
	{ "contracts", "ContractTerm", "12.5", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "expected an integer" },
	{ "contracts", "ContractTerm", "true", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "expected an integer" },
	{ "contracts", "Count__c", "-4", NULL, "{}", SYNC_VAL_OK, "{\"custom\": {\"count\": -4}}",
	  NULL },
	{ "contracts", "Ratio__c", "\"12.5\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"custom\": {\"ratio\": \"12.5\"}}", NULL },
	{ "contracts", "Ratio__c", "12.5", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "expected a decimal string" },
	{ "contracts", "End__c", "\"2026-01-31\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"expiration_date\": \"2026-01-31\"}", NULL },
	{ "contracts", "End__c", "\"2026-13-01\"", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "expected a date" },
	{ "contracts", "Seen__c", "\"2026-01-31T08:00:00.123Z\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"custom\": {\"seen_at\": \"2026-01-31T08:00:00.123Z\"}}", NULL },
	{ "contracts", "Auto__c", "false", NULL, "{}", SYNC_VAL_OK, "{\"auto_renew\": false}", NULL },
	{ "contracts", "Auto__c", "\"false\"", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "expected true or false" },
	{ "contracts", "Description", "\"New text\"", NULL, "{\"description\": \"old\"}",
	  SYNC_VAL_OK, "{\"description\": \"New text\"}", NULL },
	{ "contracts", "Description", "null", NULL, "{}", SYNC_VAL_OK, "{\"description\": null}",
	  NULL },
	{ "contracts", "AccountId", "\"cp_01J9ZQ3V5W8X\"", NULL, "{}", SYNC_VAL_OK,
	  "{\"counterparty_id\": \"cp_01J9ZQ3V5W8X\"}", NULL },
	{ "contracts", "AccountId", "null", NULL, "{}", SYNC_VAL_OK, "{\"counterparty_id\": null}",
	  NULL },
	{ "contracts", "AccountId", "[\"cp_1\"]", NULL, "{}", SYNC_VAL_ERROR, NULL,
	  "expected a record id" },
};

static void
to_clm(void **state)
{
	for (size_t i = 0; i < sizeof(patch_cases) / sizeof(patch_cases[0]); i++) {
		const struct clm_patch_case *c = &patch_cases[i];
		const struct cs_field_map *f = field(c->mapping, c->sf);
		json_t *v = c->v != NULL ? parse(c->v) : NULL;
		json_t *cur = c->current != NULL ? parse(c->current) : NULL;
		json_t *patch = parse(c->patch);
		char *before = json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS);
		char *cur_before = cur != NULL ? json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		char err[256];

		print_message("to_clm %s.%s %s current %s patch %s\n", c->mapping, c->sf,
		              c->v ? c->v : "(NULL)", c->current ? c->current : "(NULL)", c->patch);
		assert_int_equal(sync_value_to_clm(f, v, cur, patch, err, sizeof(err)), c->rc);
		if (c->rc == SYNC_VAL_ERROR) {
			assert_msg(err, c->msg);
			assert_json(patch, before);   /* unchanged */
		} else {
			assert_string_equal(err, "");
			assert_json(patch, c->want);
		}
		if (cur != NULL)
			assert_json(cur, cur_before);   /* only read */
		free(before);
		free(cur_before);
		json_decref(patch);
		json_decref(cur);
		json_decref(v);
	}
	/* A patch that is not an object. */
	{
		json_t *arr = json_array(), *v = json_string("x");
		char err[128];

		assert_int_equal(sync_value_to_clm(field("contracts", "Description"), v, NULL, arr, err,
		                                   sizeof(err)), SYNC_VAL_ERROR);
		assert_msg(err, "not a JSON object");
		assert_int_equal(json_array_size(arr), 0);
		json_decref(arr);
		json_decref(v);
	}
}

/* Applies the canonical values of both money parts to one patch, in the given order; the
 * first call must give want_first, the second want_last (not made when the first failed). */
static json_t *
money_patch(const char *current, const char *amount, const char *currency, bool amount_first,
            enum sync_val want_first, enum sync_val want_last, const char *msg)
{
	const struct cs_field_map *fa = field("contracts", "CLM_Value__c");
	const struct cs_field_map *fc = field("contracts", "CLM_Currency__c");
	const struct cs_field_map *first = amount_first ? fa : fc, *second = amount_first ? fc : fa;
	json_t *cur = current != NULL ? parse(current) : NULL, *patch = json_object();
	json_t *a = parse(amount), *c = parse(currency);
	char err[256];

	print_message("money %s: %s then %s\n", current ? current : "(create)",
	              amount_first ? amount : currency, amount_first ? currency : amount);
	assert_int_equal(sync_value_to_clm(first, amount_first ? a : c, cur, patch, err,
	                                   sizeof(err)), want_first);
	if (want_first == SYNC_VAL_OK)
		assert_int_equal(sync_value_to_clm(second, amount_first ? c : a, cur, patch, err,
		                                   sizeof(err)), want_last);
	if (msg != NULL)
		assert_msg(err, msg);
	json_decref(a);
	json_decref(c);
	json_decref(cur);
	return patch;
}

#define OK SYNC_VAL_OK
#define ERR SYNC_VAL_ERROR

static void
money_parts(void **state)
{
	json_t *p;

	/* A create from Salesforce, amount then currency (the mapping's order): one money. */
	p = money_patch(NULL, "\"120000.00\"", "\"EUR\"", true, OK, OK, NULL);
	assert_json(p, "{\"total_value\": {\"amount\": \"120000\", \"currency\": \"EUR\"}}");
	json_decref(p);
	/* JPY: the scale's zeros go, so that the repository (0 minor digits) takes it. */
	p = money_patch(NULL, "\"1200.00\"", "\"JPY\"", true, OK, OK, NULL);
	assert_json(p, "{\"total_value\": {\"amount\": \"1200\", \"currency\": \"JPY\"}}");
	json_decref(p);
	/* An update changing both, either order. */
	p = money_patch(CUR_EUR, "\"99.90\"", "\"USD\"", true, OK, OK, NULL);
	assert_json(p, "{\"total_value\": {\"amount\": \"99.9\", \"currency\": \"USD\"}}");
	json_decref(p);
	p = money_patch(CUR_EUR, "\"99.90\"", "\"USD\"", false, OK, OK, NULL);
	assert_json(p, "{\"total_value\": {\"amount\": \"99.9\", \"currency\": \"USD\"}}");
	json_decref(p);
	/* Both cleared, amount first: no money. */
	p = money_patch(CUR_EUR, "null", "null", true, OK, OK, NULL);
	assert_json(p, "{\"total_value\": null}");
	json_decref(p);
	/* A null amount with a currency (Salesforce's default currency): no money, either order. */
	p = money_patch(CUR_EUR, "null", "\"EUR\"", true, OK, OK, NULL);
	assert_json(p, "{\"total_value\": null}");
	json_decref(p);
	p = money_patch(NULL, "null", "\"EUR\"", false, OK, OK, NULL);
	assert_json(p, "{\"total_value\": null}");
	json_decref(p);
	/* An amount whose currency is cleared is an error, in either order. */
	p = money_patch(CUR_EUR, "\"10.00\"", "null", true, OK, ERR, "cannot be cleared");
	assert_json(p, "{\"total_value\": {\"amount\": \"10\", \"currency\": \"EUR\"}}");
	json_decref(p);
	p = money_patch(CUR_EUR, "\"10.00\"", "null", false, ERR, OK,
	                "the currency cannot be cleared while the amount (50.00) stays");
	assert_json(p, "{}");
	json_decref(p);
	/* The limits of taking parts one at a time, documented in value.h: with the currency
	 * first, a create leaves the amount alone (the repository refuses it), and clearing both
	 * stops at the currency while the stored amount stays. */
	p = money_patch(NULL, "\"10.00\"", "\"EUR\"", false, OK, OK, NULL);
	assert_json(p, "{\"total_value\": {\"amount\": \"10\"}}");
	json_decref(p);
	p = money_patch(CUR_EUR, "null", "null", false, ERR, OK, "cannot be cleared");
	assert_json(p, "{}");
	json_decref(p);
}

#undef OK
#undef ERR

/* --- value maps both ways, round trips ------------------------------------------------------ */

/* Repository value -> canonical -> repository patch gives the value back, for every field whose
 * map is one-to-one; dates never move by a day. */
static void
round_trips(void **state)
{
	static const struct {
		const char *sf, *record, *field_json;
	} cases[] = {
		{ "CLM_Type__c", "{\"type\": \"order_form\"}", "{\"type\": \"order_form\"}" },
		{ "Region__c", "{\"custom\": {\"region\": \"AMER\"}}",
		  "{\"custom\": {\"region\": \"AMER\"}}" },
		{ "Flag__c", "{\"custom\": {\"flag\": true}}", "{\"custom\": {\"flag\": true}}" },
		{ "Start__c", "{\"effective_date\": \"2026-03-29\"}",
		  "{\"effective_date\": \"2026-03-29\"}" },
		{ "Start__c", "{\"effective_date\": \"2026-12-31\"}",
		  "{\"effective_date\": \"2026-12-31\"}" },
		{ "Start__c", "{\"effective_date\": \"1960-01-01\"}",
		  "{\"effective_date\": \"1960-01-01\"}" },
		{ "End__c", "{\"expiration_date\": \"2026-03-29\"}",
		  "{\"expiration_date\": \"2026-03-29\"}" },
		{ "Amount__c", "{\"custom\": {\"amount\": \"0.10\"}}",
		  "{\"custom\": {\"amount\": \"0.10\"}}" },
		{ "Notice__c", "{\"renewal_notice_days\": 45}", "{\"renewal_notice_days\": 45}" },
		{ "ContractTerm", "{\"term_months\": 24}", "{\"term_months\": 24}" },
		{ "Seen__c", "{\"custom\": {\"seen_at\": \"2026-03-29T23:30:00.000Z\"}}",
		  "{\"custom\": {\"seen_at\": \"2026-03-29T23:30:00.000Z\"}}" },
		{ "AccountId", "{\"counterparty_id\": \"cp_1\"}", "{\"counterparty_id\": \"cp_1\"}" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cs_field_map *f = field("contracts", cases[i].sf);
		json_t *rec = parse(cases[i].record), *canon = NULL, *patch = json_object(), *back = NULL;
		char err[256];

		print_message("round trip %s %s\n", cases[i].sf, cases[i].record);
		assert_int_equal(sync_value_from_clm(f, rec, &canon, err, sizeof(err)), SYNC_VAL_OK);
		assert_int_equal(sync_value_to_clm(f, canon, rec, patch, err, sizeof(err)), SYNC_VAL_OK);
		assert_json(patch, cases[i].field_json);
		/* and the patched record reads as the same canonical value */
		assert_int_equal(sync_value_from_clm(f, patch, &back, err, sizeof(err)), SYNC_VAL_OK);
		assert_true(sync_value_equal(canon, back));
		json_decref(back);
		json_decref(patch);
		json_decref(canon);
		json_decref(rec);
	}
}

/* What Salesforce holds and what the repository holds compare equal through canonical form,
 * whatever the number's JSON type or the date-time's offset. */
static void
both_sides_agree(void **state)
{
	static const struct {
		const char *mapping, *sf, *record, *sfrec;
	} cases[] = {
		{ "contracts", "CLM_Value__c", MONEY("120000.00", "EUR"), "{\"CLM_Value__c\": 120000}" },
		{ "contracts", "CLM_Value__c", MONEY("120000.5", "EUR"), "{\"CLM_Value__c\": 120000.5}" },
		{ "contracts", "CLM_Value__c", MONEY("1200", "JPY"), "{\"CLM_Value__c\": 1200.0}" },
		{ "contracts", "CLM_Value__c", MONEY("10000000.00", "EUR"), "{\"CLM_Value__c\": 1.0E7}" },
		{ "opps", "Amount", MONEY("12.50", "EUR"), "{\"Amount\": 12.5}" },
		{ "opps", "Amount", MONEY("1200", "JPY"), "{\"amount\": 1200.0}" },
		{ "contracts", "Start__c", "{\"effective_date\": \"2026-03-29\"}",
		  "{\"Start__c\": \"2026-03-29T00:00:00.000+0000\"}" },
		{ "contracts", "Start__c", "{\"effective_date\": \"2026-03-29\"}",
		  "{\"Start__c\": \"2026-03-29T02:00:00+02:00\"}" },
		{ "contracts", "ContractTerm", "{\"term_months\": 12}", "{\"ContractTerm\": 12.0}" },
		{ "contracts", "Ratio__c", "{\"custom\": {\"ratio\": \"2.50\"}}", "{\"Ratio__c\": 2.5}" },
		{ "contracts", "Status", "{\"status\": \"in_review\"}", "{\"Status\": \"Draft\"}" },
		{ "contracts", "Description", "{\"description\": \"\"}", "{\"Description\": null}" },
		{ "contracts", "Description", "{}", "{\"Description\": null}" },
		{ "contracts", "Signed_Date__c", "{\"custom\": {\"signed_at\": \"2026-03-29T23:30:00.000Z\"}}",
		  "{\"Signed_Date__c\": \"2026-03-29\"}" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cs_field_map *f = field(cases[i].mapping, cases[i].sf);
		json_t *rec = parse(cases[i].record), *sfrec = parse(cases[i].sfrec);
		json_t *a = NULL, *b = NULL;
		bool present;
		char err[256];

		print_message("agree %s %s %s\n", cases[i].sf, cases[i].record, cases[i].sfrec);
		assert_int_equal(sync_value_from_clm(f, rec, &a, err, sizeof(err)), SYNC_VAL_OK);
		assert_int_equal(sync_value_from_sf(f, sfrec, &present, &b, err, sizeof(err)),
		                 SYNC_VAL_OK);
		assert_true(present);
		if (!sync_value_equal(a, b)) {
			char *as = json_dumps(a, JSON_ENCODE_ANY), *bs = json_dumps(b, JSON_ENCODE_ANY);

			fail_msg("%s != %s", as, bs);
		}
		json_decref(a);
		json_decref(b);
		json_decref(rec);
		json_decref(sfrec);
	}
	/* and a real difference is one */
	{
		const struct cs_field_map *f = field("contracts", "CLM_Value__c");
		json_t *rec = parse(MONEY("120000.01", "EUR")), *sfrec = parse("{\"CLM_Value__c\": 120000}");
		json_t *a = NULL, *b = NULL;
		bool present;
		char err[256];

		assert_int_equal(sync_value_from_clm(f, rec, &a, err, sizeof(err)), SYNC_VAL_OK);
		assert_int_equal(sync_value_from_sf(f, sfrec, &present, &b, err, sizeof(err)),
		                 SYNC_VAL_OK);
		assert_false(sync_value_equal(a, b));
		json_decref(a);
		json_decref(b);
		json_decref(rec);
		json_decref(sfrec);
	}
}

/* --- equality ------------------------------------------------------------------------------- */

static void
equality(void **state)
{
	static const struct {
		const char *a, *b;   /* NULL: a NULL pointer */
		bool eq;
	} cases[] = {
		{ "12", "12.0", true },
		{ "12.0", "12", true },
		{ "12", "12", true },
		{ "12.0", "12.0", true },
		{ "12", "12.5", false },
		{ "-3", "-3.0", true },
		{ "9007199254740993", "9007199254740992.0", false },
		{ "9223372036854775807", "9.3e18", false },
		{ "1", "true", false },
		{ "0", "false", false },
		{ "0", "null", false },
		{ "\"12.5\"", "\"12.50\"", false },
		{ "\"12.5\"", "\"12.5\"", true },
		{ "\"12.5\"", "12.5", false },
		{ "\"a\"", "\"A\"", false },
		{ "null", NULL, true },
		{ NULL, NULL, true },
		{ NULL, "\"\"", false },
		{ "\"x\"", NULL, false },
		{ "true", "true", true },
		{ "true", "false", false },
		{ "{\"amount\": \"1\"}", "{\"amount\": \"1\"}", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *a = cases[i].a ? parse(cases[i].a) : NULL;
		json_t *b = cases[i].b ? parse(cases[i].b) : NULL;

		print_message("equal %s %s\n", cases[i].a ? cases[i].a : "NULL",
		              cases[i].b ? cases[i].b : "NULL");
		assert_int_equal(sync_value_equal(a, b), cases[i].eq);
		assert_int_equal(sync_value_equal(b, a), cases[i].eq);
		json_decref(a);
		json_decref(b);
	}
}

/* --- messages ------------------------------------------------------------------------------- */

static size_t
count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == c;
	return n;
}

static void
messages(void **state)
{
	char big[300], rec[400], err[512];
	json_t *r, *out = NULL, *v, *patch;
	bool present;

	/* A long unmapped value: at most 64 of its bytes, marked as cut, both field names. */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(rec, sizeof(rec), "{\"payment_terms\": \"%s\"}", big);
	r = parse(rec);
	assert_int_equal(sync_value_from_clm(field("contracts", "Terms__c"), r, &out, err,
	                                     sizeof(err)), SYNC_VAL_ERROR);
	assert_null(out);
	assert_int_equal(count_char(err, 'q'), 64);
	assert_msg(err, "...");
	assert_msg(err, "payment_terms");
	assert_msg(err, "Terms__c");
	json_decref(r);

	/* Cut on a character boundary: 40 two-byte characters are 80 bytes; 32 fit. */
	{
		char txt[81], quoted[100];
		const char *p;

		for (int i = 0; i < 40; i++)
			memcpy(txt + 2 * i, "\xc3\xa9", 2);
		txt[80] = '\0';
		snprintf(quoted, sizeof(quoted), "\"%s\"", txt);
		v = parse(quoted);
		patch = json_object();
		assert_int_equal(sync_value_to_clm(field("contracts", "CLM_Type__c"), v, NULL, patch,
		                                   err, sizeof(err)), SYNC_VAL_ERROR);
		p = strchr(err, '\'');
		assert_non_null(p);
		assert_int_equal(strncmp(p + 1 + 64, "...'", 4), 0);
		assert_msg(err, "CLM_Type__c");
		assert_msg(err, "type");
		json_decref(patch);
		json_decref(v);
	}

	/* Control characters and quotes never reach the message as they are. */
	v = json_string("Net\n90\x1b[2J'");
	patch = json_object();
	assert_int_equal(sync_value_to_clm(field("contracts", "Terms__c"), v, NULL, patch, err,
	                                   sizeof(err)), SYNC_VAL_ERROR);
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\x1b'));
	assert_msg(err, "'Net?90?[2J?'");
	json_decref(patch);
	json_decref(v);

	/* A wrong type from Salesforce names both fields and bounds the value. */
	snprintf(rec, sizeof(rec), "{\"ContractTerm\": \"%s\"}", big);
	r = parse(rec);
	assert_int_equal(sync_value_from_sf(field("contracts", "ContractTerm"), r, &present, &out,
	                                    err, sizeof(err)), SYNC_VAL_ERROR);
	assert_true(present);
	assert_null(out);
	assert_msg(err, "term_months (ContractTerm)");
	assert_true(count_char(err, 'q') <= 64);
	json_decref(r);

	/* A truncation refused without allow_truncate: built by hand from the loaded map. */
	{
		struct cs_field_map f = *field("contracts", "Name");

		f.allow_truncate = false;
		r = parse("{\"title\": \"Hello world\"}");
		assert_int_equal(sync_value_from_clm(&f, r, &out, err, sizeof(err)), SYNC_VAL_ERROR);
		assert_msg(err, "title (Name): 'Hello world' is longer than 5 characters");
		json_decref(r);
		r = parse("{\"title\": \"Hi\"}");
		assert_int_equal(sync_value_from_clm(&f, r, &out, err, sizeof(err)), SYNC_VAL_OK);
		assert_json(out, "\"Hi\"");
		json_decref(out);
		json_decref(r);
	}

	/* A small buffer is cut, never overrun; a NULL buffer is fine. */
	{
		char small[8];

		memset(small, 'z', sizeof(small));
		r = parse("{\"status\": \"bogus\"}");
		out = NULL;
		assert_int_equal(sync_value_from_clm(field("contracts", "Status"), r, &out, small,
		                                     sizeof(small)), SYNC_VAL_ERROR);
		assert_int_equal(strlen(small), sizeof(small) - 1);
		assert_int_equal(sync_value_from_clm(field("contracts", "Status"), r, &out, NULL, 0),
		                 SYNC_VAL_ERROR);
		json_decref(r);
	}
}

/* --- out of memory ---------------------------------------------------------------------------- */

static long alloc_count, alloc_fail_at = -1;

static void *
failing_malloc(size_t n)
{
	if (alloc_fail_at >= 0 && alloc_count++ == alloc_fail_at)
		return NULL;
	return malloc(n);
}

/* Each call of the API with its Nth JSON allocation failing, N = 0, 1, ... until one succeeds:
 * every failure is an "out of memory" error that leaves patch as it was (and ASan sees no leak). */
static void
out_of_memory(void **state)
{
	static const struct {
		const char *sf, *v, *current, *patch, *want, *sfrec;
	} cases[] = {
		{ "Region__c", "\"Americas\"", NULL, "{\"title\": \"T\"}",
		  "{\"title\": \"T\", \"custom\": {\"region\": \"AMER\"}}",
		  "{\"Id\": \"800\", \"region__c\": \"Americas\"}" },
		{ "Region__c", "\"Americas\"", NULL, "{\"custom\": {\"ratio\": \"1\"}}",
		  "{\"custom\": {\"ratio\": \"1\", \"region\": \"AMER\"}}",
		  "{\"Region__c\": \"Americas\"}" },
		{ "CLM_Value__c", "\"12.50\"", CUR_EUR, "{}",
		  "{\"total_value\": {\"amount\": \"12.5\", \"currency\": \"EUR\"}}",
		  "{\"CLM_Value__c\": 12.5}" },
		{ "CLM_Currency__c", "\"USD\"", CUR_EUR, "{\"a\": 1, \"b\": 2, \"c\": 3}",
		  "{\"a\": 1, \"b\": 2, \"c\": 3, "
		  "\"total_value\": {\"amount\": \"50.00\", \"currency\": \"USD\"}}",
		  "{\"CLM_Currency__c\": \"USD\"}" },
		{ "Start__c", "\"2026-03-29T23:30:00.000Z\"", NULL, "{}",
		  "{\"effective_date\": \"2026-03-29\"}",
		  "{\"Start__c\": \"2026-03-29T23:30:00.000+0000\"}" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cs_field_map *f = field("contracts", cases[i].sf);
		bool done = false;
		long n;

		for (n = 0; !done; n++) {
			json_t *v = parse(cases[i].v), *patch = parse(cases[i].patch);
			json_t *cur = cases[i].current ? parse(cases[i].current) : NULL;
			json_t *rec = parse(cases[i].want), *sfrec = parse(cases[i].sfrec);
			json_t *c1 = NULL, *c2 = NULL;
			char *before = json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS);
			char err[256];
			enum sync_val r1, r2, r3;
			bool present;

			if (n >= 100) fail_msg("case %zu never succeeds", i);
			alloc_count = 0;
			alloc_fail_at = n;
			json_set_alloc_funcs(failing_malloc, free);
			r1 = sync_value_to_clm(f, v, cur, patch, err, sizeof(err));
			json_set_alloc_funcs(malloc, free);
			if (r1 == SYNC_VAL_OK) {
				assert_json(patch, cases[i].want);
			} else {
				assert_int_equal(r1, SYNC_VAL_ERROR);
				assert_msg(err, "out of memory");
				assert_json(patch, before);
			}
			alloc_count = 0;
			json_set_alloc_funcs(failing_malloc, free);
			r2 = sync_value_from_clm(f, rec, &c1, err, sizeof(err));
			r3 = sync_value_from_sf(f, sfrec, &present, &c2, err, sizeof(err));
			json_set_alloc_funcs(malloc, free);
			assert_true(r2 == SYNC_VAL_OK || (r2 == SYNC_VAL_ERROR && c1 == NULL));
			assert_true(r3 == SYNC_VAL_OK || (r3 == SYNC_VAL_ERROR && c2 == NULL));
			done = r1 == SYNC_VAL_OK && r2 == SYNC_VAL_OK && r3 == SYNC_VAL_OK;
			alloc_fail_at = -1;
			json_decref(c1);
			json_decref(c2);
			free(before);
			json_decref(sfrec);
			json_decref(rec);
			json_decref(cur);
			json_decref(patch);
			json_decref(v);
		}
		assert_true(n > 1);   /* the first allocation failed: the failures were exercised */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(derived_fields),
		cmocka_unit_test(from_clm),
		cmocka_unit_test(from_sf),
		cmocka_unit_test(to_sf),
		cmocka_unit_test(to_clm),
		cmocka_unit_test(money_parts),
		cmocka_unit_test(round_trips),
		cmocka_unit_test(both_sides_agree),
		cmocka_unit_test(equality),
		cmocka_unit_test(messages),
		cmocka_unit_test(out_of_memory),
	};

	return cmocka_run_group_tests(tests, load_config, free_config);
}

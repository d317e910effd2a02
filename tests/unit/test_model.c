/* test_model.c - request validation, canonical values, custom attributes and derived contract fields. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <string.h>

#include "clm/clm.h"
#include "clm/clm_int.h"
#include "util/json.h"

#define CP "cp_01J9Z3Q4V6X8N2M5K7H1D0F3WS"

/* One validation case: kind, create or patch, a JSON body, and the expected outcome
 * (code NULL = accepted; else the failure's code and field). */
static const struct vcase {
	enum clm_kind k;
	bool patch;
	const char *body;
	const char *code, *field;
} cases[] = {
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"Acme GmbH\",\"country\":\"DE\",\"domain\":\"acme.de\"}", NULL, NULL },
	{ CLM_COUNTERPARTY, false, "{}", "required", "legal_name" },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"\"}", "invalid_value", "legal_name" },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":42}", "invalid_type", "legal_name" },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"A\",\"country\":\"XX\"}", "invalid_value", "country" },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"A\",\"country\":\"de\"}", "invalid_value", "country" },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"A\",\"domain\":\"-x.com\"}", "invalid_value", "domain" },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"A\",\"domain\":\"localhost\"}", "invalid_value", "domain" },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"A\",\"nickname\":\"x\"}", "unknown_field", "nickname" },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"A\\u0001B\"}", "invalid_value", "legal_name" },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"Robert'); DROP TABLE records;--\"}", NULL, NULL },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"A\",\"id\":\"cp_x\"}", "unknown_field", "id" },
	{ CLM_COUNTERPARTY, true, "{\"legal_name\":null}", "required", "legal_name" },
	{ CLM_COUNTERPARTY, true, "{\"domain\":null}", NULL, NULL },
	{ CLM_COUNTERPARTY, false, "{\"legal_name\":\"A\",\"status\":\"gone\"}", "invalid_value", "status" },
	{ CLM_CONTRACT, false, "{\"title\":\"MSA\",\"type\":\"msa\",\"counterparty_id\":\"" CP "\"}", NULL, NULL },
	{ CLM_CONTRACT, false, "{\"title\":\"MSA\",\"type\":\"MSA\"}", "invalid_value", "type" },
	{ CLM_CONTRACT, false, "{\"title\":\"MSA\",\"counterparty_id\":\"ct_01J9Z3Q4V6X8N2M5K7H1D0F3WS\"}", "invalid_value", "counterparty_id" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"effective_date\":\"2026-02-30\"}", "invalid_date", "effective_date" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"effective_date\":\"2026-2-3\"}", "invalid_date", "effective_date" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"effective_date\":\"2026-01-01T00:00:00Z\"}", "invalid_date", "effective_date" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"effective_date\":20260101}", "invalid_date", "effective_date" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"term_months\":12.5}", "invalid_type", "term_months" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"term_months\":\"12\"}", "invalid_type", "term_months" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"term_months\":-1}", "invalid_value", "term_months" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"auto_renew\":\"yes\"}", "invalid_type", "auto_renew" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"amount\":\"1234.5\",\"currency\":\"EUR\"}}", NULL, NULL },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"amount\":1234.5,\"currency\":\"EUR\"}}", "invalid_type", "total_value" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"amount\":\"1.005\",\"currency\":\"EUR\"}}", "invalid_amount", "total_value" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"amount\":\"100.5\",\"currency\":\"JPY\"}}", "invalid_amount", "total_value" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"amount\":\"100.125\",\"currency\":\"BHD\"}}", NULL, NULL },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"amount\":\"1\",\"currency\":\"EURO\"}}", "invalid_value", "total_value" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"amount\":\"1\",\"currency\":\"ZZZ\"}}", "invalid_currency", "total_value" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"amount\":\"1e3\",\"currency\":\"USD\"}}", "invalid_amount", "total_value" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"amount\":\"1\",\"currency\":\"USD\",\"fx\":1}}", "unknown_field", "total_value" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"currency\":\"USD\"}}", "required", "total_value" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"total_value\":{\"amount\":\"99999999999999999999\",\"currency\":\"USD\"}}", "invalid_amount", "total_value" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"notice_deadline\":\"2026-01-01\"}", "read_only", "notice_deadline" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"salesforce_account_id\":\"001000000000001AAA\"}", NULL, NULL },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"salesforce_account_id\":\"001-bad\"}", "invalid_value", "salesforce_account_id" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"number\":\"C 1\"}", "invalid_value", "number" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"status\":\"live\"}", "invalid_value", "status" },
	{ CLM_CONTRACT, false, "{\"title\":\"T\",\"custom\":{\"x\":1}}", "unknown_field", "custom.x" },
	{ CLM_CONTRACT, true, "{\"title\":\"new\"}", NULL, NULL },
	{ CLM_CONTRACT, true, "{}", NULL, NULL },
	{ CLM_CONTRACT, true, "[]", "not_an_object", NULL },
	{ CLM_AMENDMENT, false, "{\"title\":\"A1\",\"effective_date\":\"2026-01-01\",\"changes\":{\"term_months\":24}}", NULL, NULL },
	{ CLM_AMENDMENT, false, "{\"title\":\"A1\",\"effective_date\":\"2026-01-01\",\"changes\":{}}", "invalid_value", "changes" },
	{ CLM_AMENDMENT, false, "{\"title\":\"A1\",\"effective_date\":\"2026-01-01\",\"changes\":{\"status\":\"active\"}}", "unknown_field", "changes.status" },
	{ CLM_AMENDMENT, false, "{\"title\":\"A1\",\"effective_date\":\"2026-01-01\",\"changes\":{\"term_months\":\"x\"}}", "invalid_type", "changes.term_months" },
	{ CLM_AMENDMENT, false, "{\"title\":\"A1\",\"effective_date\":\"2026-01-01\",\"changes\":{\"title\":null}}", "required", "changes.title" },
	{ CLM_AMENDMENT, false, "{\"title\":\"A1\",\"changes\":{\"term_months\":1}}", "required", "effective_date" },
	{ CLM_OBLIGATION, false, "{\"description\":\"Quarterly report\",\"due_date\":\"2026-03-31\",\"recurrence\":\"quarterly\"}", NULL, NULL },
	{ CLM_OBLIGATION, false, "{\"description\":\"x\",\"recurrence\":\"weekly\"}", "invalid_value", "recurrence" },
	{ CLM_OBLIGATION, false, "{\"description\":\"x\",\"overdue\":true}", "read_only", "overdue" },
	{ CLM_APPROVAL, false, "{\"approver\":\"legal\",\"step\":0}", "invalid_value", "step" },
	{ CLM_APPROVAL, false, "{\"approver\":\"legal\",\"decided_at\":\"2026-01-01T10:00:00+02:00\"}", NULL, NULL },
	{ CLM_APPROVAL, false, "{\"approver\":\"legal\",\"decided_at\":\"yesterday\"}", "invalid_datetime", "decided_at" },
	{ CLM_SIGNATURE, false, "{\"signer\":\"Jane\",\"party\":\"customer\",\"signed_at\":\"2026-01-01T10:00:00Z\"}", NULL, NULL },
	{ CLM_SIGNATURE, false, "{\"signer\":\"Jane\",\"party\":\"witness\",\"signed_at\":\"2026-01-01T10:00:00Z\"}", "invalid_value", "party" },
	{ CLM_SIGNATURE, true, "{\"signer\":\"Joe\"}", "read_only", "signer" },
	{ CLM_DOCUMENT, false, "{\"file_name\":\"../etc/passwd\"}", "invalid_value", "file_name" },
	{ CLM_DOCUMENT, false, "{\"file_name\":\"msa.pdf\",\"media_type\":\"pdf\"}", "invalid_value", "media_type" },
	{ CLM_DOCUMENT, false, "{\"file_name\":\"msa.pdf\",\"media_type\":\"application/pdf\",\"sha256\":\"00\"}", "read_only", "sha256" },
};

static void
validation_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vcase *c = &cases[i];
		json_t *in = json_loads(c->body, JSON_DECODE_ANY, NULL), *out = (json_t *)1;
		struct clm_fail f;
		cs_err rc;

		assert_non_null(in);
		memset(&f, 0, sizeof(f));
		rc = clm_validate(NULL, c->k, in, c->patch, &out, &f);
		if (c->code == NULL) {
			if (rc != CS_OK)
				fail_msg("case %zu %s: refused: %s (%s)", i, c->body, f.msg, f.code);
			assert_non_null(out);
		} else {
			if (rc == CS_OK)
				fail_msg("case %zu %s: accepted, wanted %s", i, c->body, c->code);
			assert_null(out);
			if (strcmp(f.code, c->code) != 0 || (c->field && strcmp(f.field, c->field) != 0))
				fail_msg("case %zu %s: got %s/%s, wanted %s/%s", i, c->body, f.code, f.field, c->code,
				    c->field ? c->field : "");
			assert_true(f.status == 422 || f.status == 400);
		}
		json_decref(out == (json_t *)1 ? NULL : out);
		json_decref(in);
	}
}

static json_t *
valid(enum clm_kind k, const char *body)
{
	json_t *in = json_loads(body, 0, NULL), *out = NULL;
	struct clm_fail f;

	assert_non_null(in);
	if (clm_validate(NULL, k, in, false, &out, &f) != CS_OK)
		fail_msg("%s: %s", body, f.msg);
	json_decref(in);
	return out;
}

static void
canonical_values(void **state)
{
	json_t *o = valid(CLM_CONTRACT, "{\"title\":\"T\",\"total_value\":{\"amount\":\"0012.5\",\"currency\":\"EUR\"}}");

	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "total_value"), "amount")), "12.50");
	json_decref(o);
	o = valid(CLM_CONTRACT, "{\"title\":\"T\",\"total_value\":{\"amount\":\"7\",\"currency\":\"BHD\"}}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "total_value"), "amount")), "7.000");
	json_decref(o);
	o = valid(CLM_CONTRACT, "{\"title\":\"T\",\"total_value\":{\"amount\":\"-0\",\"currency\":\"JPY\"}}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "total_value"), "amount")), "0");
	json_decref(o);
	o = valid(CLM_APPROVAL, "{\"approver\":\"a\",\"decided_at\":\"2026-01-01T10:00:00+02:00\"}");
	assert_string_equal(json_string_value(json_object_get(o, "decided_at")), "2026-01-01T08:00:00.000Z");
	json_decref(o);
}

static void
body_parse(void **state)
{
	json_t *v = NULL;
	struct clm_fail f;
	const char bad_utf8[] = "{\"legal_name\":\"\xC3\x28\"}";
	const char overlong[] = "{\"a\":\"\xC0\xAF\"}";
	const char withnul[] = "{\"legal_name\":\"a\\u0000b\"}";

	assert_int_equal(clm_body_parse("{\"a\":1}", 7, 100, &v, &f), CS_OK);
	json_decref(v);
	assert_int_equal(clm_body_parse("{\"a\":1}", 7, 6, &v, &f), CS_ETOOBIG);
	assert_int_equal(f.status, 413);
	assert_int_equal(clm_body_parse("{\"a\":", 5, 100, &v, &f), CS_EINVAL);
	assert_string_equal(f.code, "malformed_json");
	assert_int_equal(f.status, 400);
	assert_int_equal(clm_body_parse(bad_utf8, sizeof(bad_utf8) - 1, 100, &v, &f), CS_EINVAL);
	assert_string_equal(f.code, "invalid_utf8");
	assert_int_equal(clm_body_parse(overlong, sizeof(overlong) - 1, 100, &v, &f), CS_EINVAL);
	assert_string_equal(f.code, "invalid_utf8");
	assert_int_equal(clm_body_parse("[1]", 3, 100, &v, &f), CS_EINVAL);
	assert_string_equal(f.code, "not_an_object");
	assert_int_equal(clm_body_parse("", 0, 100, &v, &f), CS_EINVAL);
	/* a NUL inside a string parses, and no text field accepts it */
	assert_int_equal(clm_body_parse(withnul, sizeof(withnul) - 1, 100, &v, &f), CS_OK);
	{
		json_t *out = NULL;
		assert_int_equal(clm_validate(NULL, CLM_COUNTERPARTY, v, false, &out, &f), CS_EINVAL);
		assert_string_equal(f.field, "legal_name");
		assert_null(out);
	}
	json_decref(v);
}

static void
custom_attributes(void **state)
{
	static const char *const tiers[] = { "gold", "silver" };
	const struct clm_attr ct[] = {
		{ "region", CLM_ATTR_TEXT, NULL, 0, true, 5 },
		{ "tier", CLM_ATTR_PICKLIST, tiers, 2, false, 0 },
		{ "discount", CLM_ATTR_DECIMAL, NULL, 0, false, 0 },
		{ "seats", CLM_ATTR_NUMBER, NULL, 0, false, 0 },
		{ "review_on", CLM_ATTR_DATE, NULL, 0, false, 0 },
		{ "sent_at", CLM_ATTR_DATETIME, NULL, 0, false, 0 },
		{ "strategic", CLM_ATTR_BOOLEAN, NULL, 0, false, 0 },
	};
	const struct clm_attr *attrs[CLM_KIND_COUNT] = { [CLM_CONTRACT] = ct };
	size_t n[CLM_KIND_COUNT] = { [CLM_CONTRACT] = sizeof(ct) / sizeof(ct[0]) };
	struct cs_error e;
	struct clm_schema *sc = clm_schema_new(attrs, n, &e);
	static const struct { bool patch; const char *body, *code, *field; } cc[] = {
		{ false, "{\"title\":\"T\",\"custom\":{\"region\":\"EMEA\",\"tier\":\"gold\",\"discount\":\"0.125\",\"seats\":10,"
		    "\"review_on\":\"2026-06-30\",\"sent_at\":\"2026-01-01T00:00:00Z\",\"strategic\":true}}", NULL, NULL },
		{ false, "{\"title\":\"T\"}", "required", "custom.region" },
		{ false, "{\"title\":\"T\",\"custom\":{}}", "required", "custom.region" },
		{ false, "{\"title\":\"T\",\"custom\":{\"region\":\"ÄÖÜßé\"}}", NULL, NULL },
		{ false, "{\"title\":\"T\",\"custom\":{\"region\":\"ÄÖÜßéx\"}}", "invalid_value", "custom.region" },
		{ false, "{\"title\":\"T\",\"custom\":{\"region\":\"EU\",\"tier\":\"bronze\"}}", "invalid_value", "custom.tier" },
		{ false, "{\"title\":\"T\",\"custom\":{\"region\":\"EU\",\"discount\":0.1}}", "invalid_type", "custom.discount" },
		{ false, "{\"title\":\"T\",\"custom\":{\"region\":\"EU\",\"seats\":1.5}}", "invalid_type", "custom.seats" },
		{ false, "{\"title\":\"T\",\"custom\":{\"region\":\"EU\",\"review_on\":\"2026-13-01\"}}", "invalid_date", "custom.review_on" },
		{ false, "{\"title\":\"T\",\"custom\":{\"region\":\"EU\",\"strategic\":1}}", "invalid_type", "custom.strategic" },
		{ false, "{\"title\":\"T\",\"custom\":[]}", "invalid_type", "custom" },
		{ true, "{\"custom\":{\"tier\":null}}", NULL, NULL },
		{ true, "{\"custom\":{\"region\":null}}", "required", "custom.region" },
	};

	assert_non_null(sc);
	for (size_t i = 0; i < sizeof(cc) / sizeof(cc[0]); i++) {
		json_t *in = json_loads(cc[i].body, 0, NULL), *out = NULL;
		struct clm_fail f;
		cs_err rc;
		assert_non_null(in);
		rc = clm_validate(sc, CLM_CONTRACT, in, cc[i].patch, &out, &f);
		if (cc[i].code == NULL && rc != CS_OK)
			fail_msg("custom %zu: refused: %s", i, f.msg);
		if (cc[i].code != NULL && (rc == CS_OK || strcmp(f.code, cc[i].code) != 0 || strcmp(f.field, cc[i].field) != 0))
			fail_msg("custom %zu: got %s/%s", i, rc == CS_OK ? "ok" : f.code, rc == CS_OK ? "" : f.field);
		json_decref(out);
		json_decref(in);
	}
	clm_schema_free(sc);
	/* a bad declaration is refused */
	{
		const struct clm_attr bad[] = { { "Bad Name", CLM_ATTR_TEXT, NULL, 0, false, 0 } };
		const struct clm_attr *ba[CLM_KIND_COUNT] = { [CLM_CONTRACT] = bad };
		size_t bn[CLM_KIND_COUNT] = { [CLM_CONTRACT] = 1 };
		assert_null(clm_schema_new(ba, bn, &e));
		assert_int_equal(e.code, CS_EINVAL);
	}
	clm_schema_free(NULL);
}

static void
derived_fields(void **state)
{
	json_t *c = json_pack("{s:s,s:i,s:i}", "effective_date", "2024-01-31", "term_months", 1, "renewal_notice_days", 30);
	struct clm_fail f;

	clm_contract_derive(c);
	/* Jan 31 + 1 month clamps to Feb 29 (a leap year); the term ends the day before */
	assert_string_equal(json_string_value(json_object_get(c, "expiration_date")), "2024-02-28");
	assert_string_equal(json_string_value(json_object_get(c, "notice_deadline")), "2024-01-29");
	json_decref(c);
	c = json_pack("{s:s,s:i}", "effective_date", "2026-01-01", "term_months", 12);
	clm_contract_derive(c);
	assert_string_equal(json_string_value(json_object_get(c, "expiration_date")), "2026-12-31");
	assert_null(json_object_get(c, "notice_deadline"));
	assert_int_equal(clm_contract_check(c, &f), CS_OK);
	json_object_set_new(c, "expiration_date", json_string("2025-12-31"));
	assert_int_equal(clm_contract_check(c, &f), CS_EINVAL);
	assert_string_equal(f.field, "expiration_date");
	json_decref(c);
}

static void
kinds(void **state)
{
	for (int k = 0; k < CLM_KIND_COUNT; k++)
		assert_int_equal(clm_kind_parse_plural(clm_kind_plural((enum clm_kind)k)), k);
	assert_int_equal(clm_kind_parse_plural("contract"), -1);
	assert_int_equal(clm_kind_parse_plural("history"), -1);
	assert_string_equal(clm_kind_prefix(CLM_DOCUMENT), "dc");
}

static void
tokens(void **state)
{
	struct clm_auth *a = clm_auth_new();
	struct cs_error e;
	char name[CLM_TOKEN_NAME_MAX], secret[80];

	assert_non_null(a);
	assert_int_equal(clm_auth_add(a, "ci", CLM_ROLE_WRITE, "s3cret-s3cret-s3cret", &e), CS_OK);
	assert_int_equal(clm_auth_add(a, "ops", CLM_ROLE_ADMIN, "another-long-secret", &e), CS_OK);
	assert_int_equal(clm_auth_add(a, "", CLM_ROLE_READ, "x", &e), CS_EINVAL);
	assert_int_equal(clm_auth_add(a, "x", CLM_ROLE_READ, "", &e), CS_EINVAL);
	assert_int_equal(clm_auth_check(a, "s3cret-s3cret-s3cret", 20, name), CLM_ROLE_WRITE);
	assert_string_equal(name, "ci");
	assert_int_equal(clm_auth_check(a, "another-long-secret", 19, name), CLM_ROLE_ADMIN);
	assert_string_equal(name, "ops");
	assert_int_equal(clm_auth_check(a, "s3cret-s3cret-s3cre", 19, name), CLM_ROLE_NONE);
	assert_string_equal(name, "");
	assert_int_equal(clm_auth_check(a, "", 0, name), CLM_ROLE_NONE);
	/* what is kept is the SHA-256 of the token (computed here independently), not the token */
	{
		unsigned char kept[32], want[32];
		unsigned int wl = 0;
		assert_true(clm_auth_digest(a, 0, kept));
		assert_int_equal(EVP_Digest("s3cret-s3cret-s3cret", 20, want, &wl, EVP_sha256(), NULL), 1);
		assert_memory_equal(kept, want, 32);
		assert_true(clm_auth_digest(a, 1, kept));
		assert_int_equal(EVP_Digest("another-long-secret", 19, want, &wl, EVP_sha256(), NULL), 1);
		assert_memory_equal(kept, want, 32);
		assert_false(clm_auth_digest(a, 2, kept));
	}
	assert_int_equal(clm_role_parse("write"), CLM_ROLE_WRITE);
	assert_int_equal(clm_role_parse("root"), CLM_ROLE_NONE);
	assert_int_equal(clm_secret_generate(secret, sizeof(secret), &e), CS_OK);
	assert_int_equal(strlen(secret), 68);
	assert_memory_equal(secret, "clm_", 4);
	clm_auth_free(a);
	clm_auth_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(validation_table),
		cmocka_unit_test(canonical_values),
		cmocka_unit_test(body_parse),
		cmocka_unit_test(custom_attributes),
		cmocka_unit_test(derived_fields),
		cmocka_unit_test(kinds),
		cmocka_unit_test(tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

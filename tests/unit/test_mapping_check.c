/* test_mapping_check.c - mapping check without a network: the type table, lengths, suggestions, and whole mappings against hand-built describes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mapping_check.h"
#include "clm/clm.h"

/* --- the compatibility table --------------------------------------------------------------- */

enum { PLAIN, MAPPED, LOOKUP };

static const struct tcase {
	enum cs_value_kind kind;
	enum cs_transform t;
	int carry;
	const char *sf_type;
	bool ok;
} tcases[] = {
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, "string", true },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, "textarea", true },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, "picklist", true },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, "email", true },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, "url", true },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, "phone", true },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, "STRING", true },   /* types compare without case */
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, "double", false },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, "boolean", false },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, "reference", false },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, MAPPED, "picklist", true },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, MAPPED, "string", false },
	{ CS_VALUE_TEXT, CS_TRANSFORM_TRUNCATE, PLAIN, "string", true },
	{ CS_VALUE_TEXT, CS_TRANSFORM_TRUNCATE, PLAIN, "textarea", true },
	{ CS_VALUE_TEXT, CS_TRANSFORM_TRUNCATE, PLAIN, "picklist", false },
	{ CS_VALUE_ENUM, CS_TRANSFORM_NONE, MAPPED, "picklist", true },
	{ CS_VALUE_ENUM, CS_TRANSFORM_NONE, MAPPED, "string", false },
	{ CS_VALUE_ENUM, CS_TRANSFORM_NONE, PLAIN, "picklist", true },
	{ CS_VALUE_ENUM, CS_TRANSFORM_NONE, PLAIN, "int", false },
	{ CS_VALUE_BOOLEAN, CS_TRANSFORM_NONE, PLAIN, "boolean", true },
	{ CS_VALUE_BOOLEAN, CS_TRANSFORM_NONE, PLAIN, "string", false },
	{ CS_VALUE_BOOLEAN, CS_TRANSFORM_NONE, MAPPED, "picklist", true },
	{ CS_VALUE_DATE, CS_TRANSFORM_NONE, PLAIN, "date", true },
	{ CS_VALUE_DATE, CS_TRANSFORM_NONE, PLAIN, "datetime", false },
	{ CS_VALUE_DATE, CS_TRANSFORM_DATE_TO_DATETIME, PLAIN, "datetime", true },
	{ CS_VALUE_DATE, CS_TRANSFORM_DATE_TO_DATETIME, PLAIN, "date", false },
	{ CS_VALUE_DATETIME, CS_TRANSFORM_NONE, PLAIN, "datetime", true },
	{ CS_VALUE_DATETIME, CS_TRANSFORM_NONE, PLAIN, "date", false },
	{ CS_VALUE_DATETIME, CS_TRANSFORM_DATETIME_TO_DATE, PLAIN, "date", true },
	{ CS_VALUE_MONEY, CS_TRANSFORM_MONEY_AMOUNT, PLAIN, "currency", true },
	{ CS_VALUE_MONEY, CS_TRANSFORM_MONEY_AMOUNT, PLAIN, "double", true },
	{ CS_VALUE_MONEY, CS_TRANSFORM_MONEY_AMOUNT, PLAIN, "percent", true },
	{ CS_VALUE_MONEY, CS_TRANSFORM_MONEY_AMOUNT, PLAIN, "int", false },
	{ CS_VALUE_MONEY, CS_TRANSFORM_MONEY_AMOUNT, PLAIN, "string", false },
	{ CS_VALUE_MONEY, CS_TRANSFORM_MONEY_CURRENCY, PLAIN, "string", true },
	{ CS_VALUE_MONEY, CS_TRANSFORM_MONEY_CURRENCY, PLAIN, "picklist", true },
	{ CS_VALUE_MONEY, CS_TRANSFORM_MONEY_CURRENCY, PLAIN, "currency", false },
	{ CS_VALUE_MONEY, CS_TRANSFORM_NONE, PLAIN, "currency", false },
	{ CS_VALUE_DECIMAL, CS_TRANSFORM_DECIMAL_TO_CURRENCY, PLAIN, "currency", true },
	{ CS_VALUE_DECIMAL, CS_TRANSFORM_DECIMAL_TO_CURRENCY, PLAIN, "double", true },
	{ CS_VALUE_DECIMAL, CS_TRANSFORM_DECIMAL_TO_CURRENCY, PLAIN, "percent", true },
	{ CS_VALUE_DECIMAL, CS_TRANSFORM_DECIMAL_TO_CURRENCY, PLAIN, "int", false },
	{ CS_VALUE_INTEGER, CS_TRANSFORM_DECIMAL_TO_CURRENCY, PLAIN, "currency", true },
	{ CS_VALUE_DECIMAL, CS_TRANSFORM_NONE, PLAIN, "double", true },
	{ CS_VALUE_DECIMAL, CS_TRANSFORM_NONE, PLAIN, "currency", false },
	{ CS_VALUE_INTEGER, CS_TRANSFORM_NONE, PLAIN, "int", true },
	{ CS_VALUE_INTEGER, CS_TRANSFORM_NONE, PLAIN, "double", true },
	{ CS_VALUE_INTEGER, CS_TRANSFORM_NONE, PLAIN, "string", false },
	{ CS_VALUE_REFERENCE, CS_TRANSFORM_NONE, LOOKUP, "reference", true },
	{ CS_VALUE_REFERENCE, CS_TRANSFORM_NONE, LOOKUP, "string", false },
	{ CS_VALUE_SFID, CS_TRANSFORM_NONE, LOOKUP, "reference", true },
	{ CS_VALUE_SFID, CS_TRANSFORM_NONE, PLAIN, "id", true },
	{ CS_VALUE_SFID, CS_TRANSFORM_NONE, PLAIN, "string", true },
	{ CS_VALUE_ID, CS_TRANSFORM_NONE, PLAIN, "string", true },
	{ CS_VALUE_ID, CS_TRANSFORM_NONE, PLAIN, "int", false },
};

static struct cs_pair one_pair[] = { { (char *)"a", (char *)"A" } };

static void
type_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tcases) / sizeof(tcases[0]); i++) {
		const struct tcase *c = &tcases[i];
		struct cs_field_map f = { 0 };

		f.clm = (char *)"x";
		f.sf = (char *)"X__c";
		f.kind = c->kind;
		f.transform = c->t;
		f.lookup_mapping = (char *)(c->carry == LOOKUP ? "other" : "");
		if (c->carry == MAPPED) {
			f.value_map = one_pair;
			f.nvalue_map = 1;
		}
		if (mapcheck_type_ok(&f, c->sf_type) != c->ok)
			fail_msg("case %zu: kind %d transform %d carry %d type %s: want %s", i, (int)c->kind,
			         (int)c->t, c->carry, c->sf_type, c->ok ? "ok" : "refused");
		assert_non_null(mapcheck_type_expect(&f));
	}
}

static void
writes_sf(void **state)
{
	struct cs_field_map f = { 0 };

	(void)state;
	f.owner = CS_OWNER_CLM;
	f.non_owner_write = CS_NON_OWNER_REVERT;
	assert_true(mapcheck_writes_sf(&f));
	f.non_owner_write = CS_NON_OWNER_IGNORE;
	assert_true(mapcheck_writes_sf(&f));
	f.owner = CS_OWNER_BOTH;
	f.non_owner_write = 0;
	assert_true(mapcheck_writes_sf(&f));
	f.owner = CS_OWNER_SALESFORCE;
	f.non_owner_write = CS_NON_OWNER_REVERT;   /* the revert writes into the repository */
	assert_false(mapcheck_writes_sf(&f));
	f.non_owner_write = CS_NON_OWNER_IGNORE;
	assert_false(mapcheck_writes_sf(&f));
	f.non_owner_write = CS_NON_OWNER_ACCEPT;
	assert_true(mapcheck_writes_sf(&f));
}

static void
lengths(void **state)
{
	struct cs_attr_decl a = { 0 };
	struct cs_field_map f = { 0 };

	(void)state;
	f.kind = CS_VALUE_TEXT;
	f.transform = CS_TRANSFORM_NONE;
	f.clm = (char *)"title";
	assert_int_equal(mapcheck_clm_length(CS_ENTITY_CONTRACT, &f), 500);
	f.clm = (char *)"payment_terms";
	assert_int_equal(mapcheck_clm_length(CS_ENTITY_CONTRACT, &f), 200);
	f.clm = (char *)"legal_name";
	assert_int_equal(mapcheck_clm_length(CS_ENTITY_COUNTERPARTY, &f), 255);
	f.transform = CS_TRANSFORM_TRUNCATE;
	f.max_length = 80;
	assert_int_equal(mapcheck_clm_length(CS_ENTITY_CONTRACT, &f), 80);
	f.transform = CS_TRANSFORM_NONE;
	f.clm = (char *)"custom.note";
	a.type = CS_ATTR_TEXT;
	f.attr = &a;
	assert_int_equal(mapcheck_clm_length(CS_ENTITY_CONTRACT, &f), CLM_TEXT_MAX);
	a.max_length = 40;
	assert_int_equal(mapcheck_clm_length(CS_ENTITY_CONTRACT, &f), 40);
	f.attr = NULL;
	f.kind = CS_VALUE_MONEY;
	f.transform = CS_TRANSFORM_MONEY_CURRENCY;
	assert_int_equal(mapcheck_clm_length(CS_ENTITY_CONTRACT, &f), 3);
	f.transform = CS_TRANSFORM_MONEY_AMOUNT;
	assert_int_equal(mapcheck_clm_length(CS_ENTITY_CONTRACT, &f), 0);
	f.kind = CS_VALUE_DATE;
	f.transform = CS_TRANSFORM_NONE;
	assert_int_equal(mapcheck_clm_length(CS_ENTITY_CONTRACT, &f), 0);
}

/* The limits mapping check assumes are the repository's: the longest value it names is accepted
 * by clm_validate and one byte more is refused. */
static void
lengths_match_repository(void **state)
{
	static const struct {
		enum cs_entity e;
		enum clm_kind k;
		const char *name;
	} fields[] = {
		{ CS_ENTITY_COUNTERPARTY, CLM_COUNTERPARTY, "legal_name" },
		{ CS_ENTITY_COUNTERPARTY, CLM_COUNTERPARTY, "country" },
		{ CS_ENTITY_COUNTERPARTY, CLM_COUNTERPARTY, "registration_number" },
		{ CS_ENTITY_CONTRACT, CLM_CONTRACT, "number" },
		{ CS_ENTITY_CONTRACT, CLM_CONTRACT, "title" },
		{ CS_ENTITY_CONTRACT, CLM_CONTRACT, "owner" },
		{ CS_ENTITY_CONTRACT, CLM_CONTRACT, "description" },
		{ CS_ENTITY_CONTRACT, CLM_CONTRACT, "payment_terms" },
		{ CS_ENTITY_CONTRACT, CLM_CONTRACT, "governing_law" },
		{ CS_ENTITY_CONTRACT, CLM_CONTRACT, "termination_reason" },
		{ CS_ENTITY_AMENDMENT, CLM_AMENDMENT, "title" },
		{ CS_ENTITY_AMENDMENT, CLM_AMENDMENT, "description" },
		{ CS_ENTITY_OBLIGATION, CLM_OBLIGATION, "description" },
		{ CS_ENTITY_OBLIGATION, CLM_OBLIGATION, "owner" },
		{ CS_ENTITY_APPROVAL, CLM_APPROVAL, "approver" },
		{ CS_ENTITY_APPROVAL, CLM_APPROVAL, "comment" },
		{ CS_ENTITY_SIGNATURE, CLM_SIGNATURE, "signer" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		struct cs_field_map f = { 0 };
		unsigned long max;
		bool country = strcmp(fields[i].name, "country") == 0;

		f.kind = CS_VALUE_TEXT;
		f.transform = CS_TRANSFORM_NONE;
		f.clm = (char *)fields[i].name;
		max = mapcheck_clm_length(fields[i].e, &f);
		assert_true(max > 0 && max <= CLM_TEXT_MAX);
		for (unsigned long n = max; n <= max + 1; n++) {
			char *s = malloc(n + 1);
			json_t *in, *out = NULL;
			struct clm_fail cf;
			cs_err rc;

			assert_non_null(s);
			memset(s, country ? 'E' : 'a', n);
			if (country)
				s[0] = 'D';   /* DE, then DEE */
			s[n] = '\0';
			/* A signature's fields are set once, on create, all together. */
			if (fields[i].k == CLM_SIGNATURE)
				in = json_pack("{s:s, s:s, s:s}", fields[i].name, s, "party", "customer",
				               "signed_at", "2026-01-02T03:04:05.000Z");
			else
				in = json_pack("{s:s}", fields[i].name, s);
			assert_non_null(in);
			memset(&cf, 0, sizeof(cf));
			rc = clm_validate(NULL, fields[i].k, in, fields[i].k != CLM_SIGNATURE, &out, &cf);
			if ((rc == CS_OK) != (n == max))
				fail_msg("%s.%s: %lu bytes %s (%s)", cs_entity_name(fields[i].e), fields[i].name,
				         n, rc == CS_OK ? "accepted" : "refused", cf.msg);
			json_decref(out);
			json_decref(in);
			free(s);
		}
	}
}

static void
suggestions(void **state)
{
	const char *names[] = { "Id", "Name", "CLM_Id__c", "CLM_Governing_Law__c", "StartDate",
	                        "EndDate" };
	size_t n = sizeof(names) / sizeof(names[0]);

	(void)state;
	assert_string_equal(mapcheck_suggest("CLM_Governing_Lw__c", names, n), "CLM_Governing_Law__c");
	assert_string_equal(mapcheck_suggest("CLM_Id", names, n), "CLM_Id__c");
	assert_string_equal(mapcheck_suggest("startdate", names, n), "StartDate");
	assert_string_equal(mapcheck_suggest("Nme", names, n), "Name");
	assert_null(mapcheck_suggest("Completely_Different__c", names, n));
	assert_null(mapcheck_suggest("X", names, 0));
}

/* --- whole mappings ------------------------------------------------------------------------ */

static char *v_status[] = { (char *)"Draft", (char *)"In Approval Process", (char *)"Activated" };
static char *v_industry[] = { (char *)"Technology", (char *)"Finance", (char *)"Other" };
static char *v_region[] = { (char *)"EMEA", (char *)"AMER", (char *)"APAC" };
static char *to_account[] = { (char *)"Account" };
static char *to_opp[] = { (char *)"Opportunity" };

/* A field the integration user may write; RO(...) one it may not. */
#define FIELD(n, t) .name = (char *)(n), .type = (char *)(t), .createable = true, .updateable = true
#define RO(n, t) .name = (char *)(n), .type = (char *)(t)

static struct sf_field contract_fields[] = {
	{ RO("Id", "id"), .length = 18 },
	{ FIELD("Name", "string"), .length = 80 },
	{ FIELD("StartDate", "date") },
	{ RO("EndDate", "date"), .calculated = true },
	{ FIELD("ContractTerm", "int"), .precision = 4 },
	{ FIELD("Status", "picklist"), .length = 255, .restricted_picklist = true, .picklist = v_status,
	  .npicklist = 3 },
	{ FIELD("Industry__c", "picklist"), .length = 255, .picklist = v_industry, .npicklist = 3 },
	{ FIELD("Region__c", "picklist"), .length = 255, .restricted_picklist = true,
	  .picklist = v_region, .npicklist = 3 },
	{ FIELD("Value__c", "currency"), .precision = 18, .scale = 2 },
	{ FIELD("Code__c", "string"), .length = 3 },
	{ FIELD("Terms__c", "string"), .length = 80 },
	{ FIELD("AccountId", "reference"), .reference_to = to_account, .nreference_to = 1 },
	{ FIELD("Opportunity__c", "reference"), .reference_to = to_opp, .nreference_to = 1 },
	{ FIELD("CLM_Id__c", "string"), .length = 64, .external_id = true, .unique = true },
	{ FIELD("Plain_Text__c", "string"), .length = 64 },
	{ FIELD("Loose_Id__c", "string"), .length = 64, .external_id = true },
	{ RO("Audit_Only__c", "string"), .length = 80, .createable = true },
};

static struct sf_describe contract_d = {
	.name = (char *)"Contract", .createable = true, .updateable = true, .deletable = true,
	.queryable = true, .fields = contract_fields,
	.nfields = sizeof(contract_fields) / sizeof(contract_fields[0]),
};

/* A mapping of contract to Contract with one field (more can be set by the caller). */
struct fixture {
	struct cs_mapping m;
	struct cs_mapping accounts;
	struct cs_field_map f[4];
	struct mapcheck_list out;
};

static void
fixture_init(struct fixture *x)
{
	memset(x, 0, sizeof(*x));
	x->accounts.name = (char *)"counterparties";
	x->accounts.sobject = (char *)"Account";
	x->m.name = (char *)"contracts";
	x->m.org = (char *)"o";
	x->m.entity = CS_ENTITY_CONTRACT;
	x->m.sobject = (char *)"Contract";
	x->m.external_id_field = (char *)"CLM_Id__c";
	x->m.match.by = CS_MATCH_EXTERNAL_ID;
	x->m.on_create.salesforce = CS_CREATE_CREATE;
	x->m.on_create.clm = CS_CREATE_CREATE;
	x->m.on_delete.salesforce = CS_DELETE_DELETE;
	x->m.on_delete.clm = CS_DELETE_IGNORE;
	x->m.fields = x->f;
	x->m.nfields = 1;
	for (size_t i = 0; i < 4; i++) {
		x->f[i].owner = CS_OWNER_CLM;
		x->f[i].non_owner_write = CS_NON_OWNER_REVERT;
		x->f[i].transform = CS_TRANSFORM_NONE;
		x->f[i].lookup_mapping = (char *)"";
	}
	mapcheck_list_init(&x->out);
}

static void
field(struct fixture *x, size_t i, const char *clm, const char *sf, enum cs_value_kind k)
{
	x->f[i].clm = (char *)clm;
	x->f[i].sf = (char *)sf;
	x->f[i].kind = k;
}

/* Runs the check; asserts exactly `want` problems and returns the first (NULL when none). */
static const struct mapcheck_problem *
run(struct fixture *x, size_t want)
{
	mapcheck_list_cleanup(&x->out);
	assert_int_equal(mapcheck_mapping(&x->m, &contract_d, &x->out), CS_OK);
	if (x->out.n != want) {
		for (size_t i = 0; i < x->out.n; i++)
			print_message("  problem: %s %s\n", x->out.v[i].code, x->out.v[i].msg);
		fail_msg("want %zu problems, got %zu", want, x->out.n);
	}
	return want ? &x->out.v[0] : NULL;
}

static void
expect(const struct mapcheck_problem *p, enum mapcheck_sev sev, const char *code, const char *text)
{
	assert_non_null(p);
	assert_int_equal(p->sev, sev);
	assert_string_equal(p->code, code);
	if (strstr(p->msg, text) == NULL)
		fail_msg("'%s' not in '%s'", text, p->msg);
}

static void
good_mapping(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	field(&x, 0, "effective_date", "StartDate", CS_VALUE_DATE);
	field(&x, 1, "term_months", "ContractTerm", CS_VALUE_INTEGER);
	field(&x, 2, "title", "Name", CS_VALUE_TEXT);
	x.f[2].transform = CS_TRANSFORM_TRUNCATE;
	x.f[2].max_length = 80;
	x.f[2].allow_truncate = true;
	field(&x, 3, "counterparty_id", "AccountId", CS_VALUE_REFERENCE);
	x.f[3].lookup_mapping = (char *)"counterparties";
	x.f[3].lookup_to = &x.accounts;
	x.m.nfields = 4;
	run(&x, 0);
	mapcheck_list_cleanup(&x.out);
}

static void
missing_field(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	field(&x, 0, "effective_date", "StrtDate", CS_VALUE_DATE);
	expect(run(&x, 1), MAPCHECK_ERROR, "field_missing", "(did you mean StartDate?)");
	assert_int_equal(x.out.v[0].field, 0);
	mapcheck_list_cleanup(&x.out);
}

static void
wrong_type(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	field(&x, 0, "auto_renew", "Terms__c", CS_VALUE_BOOLEAN);
	expect(run(&x, 1), MAPCHECK_ERROR, "type_mismatch", "needs a field of type boolean, but Terms__c is string");
	field(&x, 0, "expiration_date", "Name", CS_VALUE_DATE);
	x.f[0].transform = CS_TRANSFORM_DATE_TO_DATETIME;
	expect(run(&x, 1), MAPCHECK_ERROR, "type_mismatch", "datetime");
	mapcheck_list_cleanup(&x.out);
}

static void
reference_target(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	field(&x, 0, "counterparty_id", "Opportunity__c", CS_VALUE_REFERENCE);
	x.f[0].lookup_mapping = (char *)"counterparties";
	x.f[0].lookup_to = &x.accounts;
	expect(run(&x, 1), MAPCHECK_ERROR, "reference_target", "refers to Opportunity, but lookup "
	       "counterparties maps Account");
	mapcheck_list_cleanup(&x.out);
}

static void
permissions(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	field(&x, 0, "expiration_date", "EndDate", CS_VALUE_DATE);
	expect(run(&x, 1), MAPCHECK_ERROR, "not_writable", "EndDate is read-only");
	/* Salesforce-owned, reverted in the repository: nothing is written to Salesforce. */
	x.f[0].owner = CS_OWNER_SALESFORCE;
	x.f[0].from_salesforce = true;
	run(&x, 0);
	x.f[0].non_owner_write = CS_NON_OWNER_ACCEPT;
	expect(run(&x, 1), MAPCHECK_ERROR, "not_writable", "non_owner_write accept");
	field(&x, 0, "owner", "Audit_Only__c", CS_VALUE_TEXT);
	x.f[0].owner = CS_OWNER_CLM;
	x.f[0].non_owner_write = CS_NON_OWNER_REVERT;
	x.f[0].from_salesforce = false;
	x.f[0].transform = CS_TRANSFORM_TRUNCATE;
	x.f[0].max_length = 80;
	expect(run(&x, 1), MAPCHECK_ERROR, "not_writable", "not updateable");
	mapcheck_list_cleanup(&x.out);
}

static void
picklists(void **state)
{
	struct cs_pair status[] = {
		{ (char *)"draft", (char *)"Draft" }, { (char *)"active", (char *)"Activatd" },
	};
	struct cs_pair industry[] = {
		{ (char *)"software", (char *)"Technology" }, { (char *)"finance", (char *)"Finance" },
		{ (char *)"retail", (char *)"Retail" },
	};
	char *regions[] = { (char *)"EMEA", (char *)"AMER" };
	struct cs_attr_decl region = { .name = (char *)"region", .type = CS_ATTR_PICKLIST,
	                               .values = regions, .nvalues = 2 };
	struct fixture x;

	(void)state;
	fixture_init(&x);
	field(&x, 0, "status", "Status", CS_VALUE_ENUM);
	x.f[0].value_map = status;
	x.f[0].nvalue_map = 2;
	expect(run(&x, 1), MAPCHECK_ERROR, "picklist_value",
	       "Activatd is not a value of the restricted picklist Status (did you mean Activated?)");

	/* Unrestricted: Salesforce keeps an unknown value, so only a warning; Salesforce writes the
	 * field, so its uncovered value (Other) is a warning too. */
	field(&x, 0, "custom.industry", "Industry__c", CS_VALUE_ENUM);
	x.f[0].value_map = industry;
	x.f[0].nvalue_map = 3;
	x.f[0].owner = CS_OWNER_BOTH;
	x.f[0].non_owner_write = 0;
	x.f[0].conflict = CS_CONFLICT_SALESFORCE_WINS;
	x.f[0].from_salesforce = true;
	expect(run(&x, 2), MAPCHECK_WARN, "picklist_value", "Retail is not a value of the picklist");
	expect(&x.out.v[1], MAPCHECK_WARN, "picklist_uncovered", "its value is not in value_map: Other");

	/* A custom picklist without a value map sends its own values; the restricted picklist has
	 * APAC, which the repository cannot hold: an error when Salesforce writes the field. */
	field(&x, 0, "custom.region", "Region__c", CS_VALUE_ENUM);
	x.f[0].value_map = NULL;
	x.f[0].nvalue_map = 0;
	x.f[0].attr = &region;
	expect(run(&x, 1), MAPCHECK_ERROR, "picklist_uncovered", "APAC");
	x.f[0].owner = CS_OWNER_CLM;
	x.f[0].non_owner_write = CS_NON_OWNER_REVERT;
	x.f[0].conflict = CS_CONFLICT_NONE;
	x.f[0].from_salesforce = false;
	run(&x, 0);
	mapcheck_list_cleanup(&x.out);
}

static void
scales(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	field(&x, 0, "total_value", "Value__c", CS_VALUE_MONEY);
	x.f[0].transform = CS_TRANSFORM_MONEY_AMOUNT;
	x.f[0].scale = 2;
	x.f[0].has_scale = true;
	run(&x, 0);
	x.f[0].scale = 3;
	expect(run(&x, 1), MAPCHECK_ERROR, "scale", "scale 3 but Value__c has scale 2");
	x.f[0].has_scale = false;
	expect(run(&x, 1), MAPCHECK_WARN, "scale", "no scale");
	field(&x, 0, "custom.amount", "Value__c", CS_VALUE_DECIMAL);
	x.f[0].transform = CS_TRANSFORM_DECIMAL_TO_CURRENCY;
	x.f[0].has_scale = true;
	x.f[0].scale = 1;
	x.f[0].owner = CS_OWNER_SALESFORCE;
	x.f[0].from_salesforce = true;
	expect(run(&x, 1), MAPCHECK_WARN, "scale", "refused by the repository");
	field(&x, 1, "total_value", "Code__c", CS_VALUE_MONEY);
	x.f[1].transform = CS_TRANSFORM_MONEY_CURRENCY;
	x.m.nfields = 2;
	expect(run(&x, 1), MAPCHECK_WARN, "scale", "refused by the repository");
	mapcheck_list_cleanup(&x.out);
}

static void
text_lengths(void **state)
{
	struct cs_attr_decl note = { .name = (char *)"note", .type = CS_ATTR_TEXT, .max_length = 64 };
	struct fixture x;

	(void)state;
	fixture_init(&x);
	field(&x, 0, "payment_terms", "Terms__c", CS_VALUE_TEXT);
	expect(run(&x, 1), MAPCHECK_ERROR, "length", "payment_terms holds up to 200 characters but "
	       "Terms__c only 80");
	x.f[0].transform = CS_TRANSFORM_TRUNCATE;
	x.f[0].allow_truncate = true;
	x.f[0].max_length = 100;
	expect(run(&x, 1), MAPCHECK_ERROR, "length", "set max_length: 80");
	x.f[0].max_length = 80;
	run(&x, 0);
	/* A declared max_length that fits passes; Salesforce writing a longer one only warns. */
	field(&x, 0, "custom.note", "Plain_Text__c", CS_VALUE_TEXT);
	x.f[0].transform = CS_TRANSFORM_NONE;
	x.f[0].allow_truncate = false;
	x.f[0].attr = &note;
	run(&x, 0);
	note.max_length = 40;
	x.f[0].owner = CS_OWNER_BOTH;
	x.f[0].non_owner_write = 0;
	x.f[0].from_salesforce = true;
	expect(run(&x, 1), MAPCHECK_WARN, "length", "Plain_Text__c values can have 64 characters");
	mapcheck_list_cleanup(&x.out);
}

static void
external_ids(void **state)
{
	struct cs_pair keys[] = { { (char *)"number", (char *)"Contract_Numbr__c" } };
	struct fixture x;

	(void)state;
	fixture_init(&x);
	field(&x, 0, "effective_date", "StartDate", CS_VALUE_DATE);
	x.m.external_id_field = (char *)"Plain_Text__c";
	expect(run(&x, 1), MAPCHECK_ERROR, "external_id", "is not an External ID field");
	x.m.external_id_field = (char *)"Loose_Id__c";
	expect(run(&x, 1), MAPCHECK_WARN, "external_id", "is not unique");
	x.m.external_id_field = (char *)"CLM_Idd__c";
	expect(run(&x, 1), MAPCHECK_ERROR, "external_id", "did you mean CLM_Id__c?");
	x.m.external_id_field = (char *)"StartDate";
	expect(run(&x, 1), MAPCHECK_ERROR, "external_id", "is date");
	x.m.external_id_field = (char *)"CLM_Id__c";
	x.m.match.by = CS_MATCH_KEYS;
	x.m.match.keys = keys;
	x.m.match.nkeys = 1;
	expect(run(&x, 1), MAPCHECK_ERROR, "match_key", "Contract.Contract_Numbr__c does not exist");
	assert_int_equal(x.out.v[0].field, MAPCHECK_MAPPING);
	mapcheck_list_cleanup(&x.out);
}

static void
object_permissions(void **state)
{
	struct fixture x;

	(void)state;
	fixture_init(&x);
	field(&x, 0, "effective_date", "StartDate", CS_VALUE_DATE);
	contract_d.createable = false;
	contract_d.deletable = false;
	expect(run(&x, 2), MAPCHECK_ERROR, "sobject_permission", "cannot create Contract records");
	expect(&x.out.v[1], MAPCHECK_ERROR, "sobject_permission", "cannot delete Contract records");
	contract_d.createable = true;
	contract_d.deletable = true;
	mapcheck_list_cleanup(&x.out);
}

static void
list_bounds(void **state)
{
	struct mapcheck_list l;
	char big[2 * MAPCHECK_MSG_MAX];

	(void)state;
	mapcheck_list_init(&l);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(mapcheck_add(&l, MAPCHECK_WARN, "c", 0, "%s", big), CS_OK);
	assert_int_equal(strlen(l.v[0].msg), MAPCHECK_MSG_MAX - 1);
	assert_string_equal(l.v[0].msg + MAPCHECK_MSG_MAX - 4, "...");
	for (size_t i = 1; i < MAPCHECK_PROBLEMS_MAX + 5; i++)
		assert_int_equal(mapcheck_add(&l, MAPCHECK_WARN, "c", i, "p%zu", i), CS_OK);
	assert_int_equal(l.n, MAPCHECK_PROBLEMS_MAX);
	assert_int_equal(l.dropped, 5);
	mapcheck_list_cleanup(&l);
	mapcheck_list_cleanup(&l);   /* cleanup of a cleaned list is harmless */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(type_table),
		cmocka_unit_test(writes_sf),
		cmocka_unit_test(lengths),
		cmocka_unit_test(lengths_match_repository),
		cmocka_unit_test(suggestions),
		cmocka_unit_test(good_mapping),
		cmocka_unit_test(missing_field),
		cmocka_unit_test(wrong_type),
		cmocka_unit_test(reference_target),
		cmocka_unit_test(permissions),
		cmocka_unit_test(picklists),
		cmocka_unit_test(scales),
		cmocka_unit_test(text_lengths),
		cmocka_unit_test(external_ids),
		cmocka_unit_test(object_permissions),
		cmocka_unit_test(list_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_emu.c - the emulated org: schema, validation errors, upsert, roll-back and change events. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "emu.h"
#include "util/json.h"

static int
setup(void **state)
{
	static struct emu emu;
	struct cs_error e;

	if (emu_init(&emu, NULL, &e) != CS_OK)
		return -1;
	*state = &emu;
	return 0;
}

static int
teardown(void **state)
{
	emu_cleanup(*state);
	return 0;
}

static const char *
err_code(json_t *err)
{
	return cs_json_get_str(json_array_get(err, 0), "errorCode");
}

/* Creates an Account named name; returns its id in id. */
static void
account(struct emu *emu, const char *name, char id[SFID_LEN + 1])
{
	struct emu_txn *t = emu_txn_begin(emu, NULL);
	json_t *f = json_pack("{s:s}", "Name", name), *err = NULL;

	assert_true(emu_create(t, emu_object(emu, "Account"), f, id, &err));
	emu_txn_commit(t);
	json_decref(f);
}

static void
schema_defaults(void **state)
{
	struct emu *emu = *state;
	struct sobject *c = emu_object(emu, "contract");
	struct sfield *f;

	assert_non_null(c);
	assert_string_equal(c->name, "Contract");
	assert_memory_equal(c->prefix, "800", 3);
	f = emu_field(c, "status");
	assert_non_null(f);
	assert_true(f->restricted);
	assert_int_equal(f->npicklist, 3);
	assert_string_equal(f->picklist[1], "In Approval Process");
	f = emu_field(c, "AccountId");
	assert_true(f->required);
	assert_string_equal(f->reference_to, "Account");
	assert_ptr_equal(emu_field_by_relationship(c, "account"), f);
	f = emu_field(c, "EndDate");
	assert_false(f->createable);
	assert_true(json_is_false(json_object_get(f->describe, "updateable")));
	assert_non_null(emu_field(c, "SystemModstamp"));
	assert_null(emu_object(emu, "Accout"));
}

static void
validation_errors(void **state)
{
	struct emu *emu = *state;
	struct sobject *c = emu_object(emu, "Contract");
	char acc[SFID_LEN + 1], id[SFID_LEN + 1];
	static const struct { const char *body, *code, *field; } cases[] = {
		{ "{}", "REQUIRED_FIELD_MISSING", "AccountId" },
		{ "{\"AccountId\":\"ACC\",\"Status\":\"Done\"}", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Status" },
		{ "{\"AccountId\":\"ACC\",\"EndDate\":\"2026-01-01\"}", "INVALID_FIELD_FOR_INSERT_UPDATE", "EndDate" },
		{ "{\"AccountId\":\"ACC\",\"Nope__c\":1}", "INVALID_FIELD", NULL },
		{ "{\"AccountId\":\"ACC\",\"StartDate\":\"2026-02-30\"}", "JSON_PARSER_ERROR", "StartDate" },
		{ "{\"AccountId\":\"ACC\",\"ContractTerm\":\"twelve\"}", "JSON_PARSER_ERROR", "ContractTerm" },
		{ "{\"AccountId\":\"0010A0000000999QAA\"}", "INVALID_CROSS_REFERENCE_KEY", "AccountId" },
		{ "{\"AccountId\":\"not-an-id\"}", "MALFORMED_ID", "AccountId" },
		{ "{\"AccountId\":\"ACC\",\"CLM_Value__c\":1e20}", "NUMBER_OUTSIDE_VALID_RANGE", "CLM_Value__c" },
		{ "{\"AccountId\":\"ACC\",\"CLM_Currency__c\":\"EURO\"}", "STRING_TOO_LONG", "CLM_Currency__c" },
		{ "{\"AccountId\":\"ACC\",\"SpecialTerms\":\"REJECT\"}", "FIELD_CUSTOM_VALIDATION_EXCEPTION", NULL },
		{ "{\"AccountId\":\"ACC\",\"Id\":\"8000A0000000001QAA\"}", "INVALID_FIELD_FOR_INSERT_UPDATE", "Id" },
	};

	account(emu, "Validation Co", acc);
	size_t before = json_object_size(c->records), events = emu->nevents;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[512], *p;
		json_t *f, *err = NULL;
		struct emu_txn *t;

		snprintf(body, sizeof(body), "%s", cases[i].body);
		if ((p = strstr(body, "ACC")) != NULL) {
			memmove(p + 18, p + 3, strlen(p + 3) + 1);
			memcpy(p, acc, 18);
		}
		f = json_loads(body, 0, NULL);
		assert_non_null(f);
		t = emu_txn_begin(emu, NULL);
		assert_false(emu_create(t, c, f, id, &err));
		emu_txn_commit(t);
		assert_non_null(err);
		assert_string_equal(err_code(err), cases[i].code);
		if (cases[i].field)
			assert_string_equal(json_string_value(json_array_get(json_object_get(json_array_get(err, 0), "fields"), 0)), cases[i].field);
		json_decref(err);
		json_decref(f);
	}
	/* nothing was written and nothing announced */
	assert_int_equal(json_object_size(c->records), before);
	assert_int_equal(emu->nevents, events);
}

static void
upsert_and_events(void **state)
{
	struct emu *emu = *state;
	struct sobject *c = emu_object(emu, "Contract");
	struct emu_caller who = { "rest", 62, "clmsync" };
	char acc[SFID_LEN + 1], id1[SFID_LEN + 1], id2[SFID_LEN + 1];
	json_t *f, *err = NULL, *hdr;
	struct emu_txn *t;
	bool created;
	size_t first;

	account(emu, "Upsert Co", acc);
	first = emu->nevents;
	f = json_pack("{s:s,s:s,s:i}", "AccountId", acc, "StartDate", "2026-01-15", "ContractTerm", 12);
	t = emu_txn_begin(emu, &who);
	assert_true(emu_upsert(t, c, "CLM_Id__c", "k-1", f, id1, &created, &err));
	assert_true(created);
	emu_txn_commit(t);
	json_decref(f);
	assert_string_equal(json_string_value(json_object_get(json_object_get(c->records, id1), "EndDate")), "2027-01-14");

	f = json_pack("{s:s}", "Description", "second");
	t = emu_txn_begin(emu, NULL);
	assert_true(emu_upsert(t, c, "clm_id__c", "K-1", f, id2, &created, &err));
	assert_false(created);
	emu_txn_commit(t);
	json_decref(f);
	assert_string_equal(id1, id2);

	assert_int_equal(emu->nevents, first + 2);
	hdr = json_object_get(emu->events[first].payload, "ChangeEventHeader");
	assert_string_equal(cs_json_get_str(hdr, "changeType"), "CREATE");
	assert_string_equal(cs_json_get_str(hdr, "changeOrigin"), "com/salesforce/api/rest/62.0;client=clmsync");
	assert_string_equal(json_string_value(json_array_get(json_object_get(hdr, "recordIds"), 0)), id1);
	hdr = json_object_get(emu->events[first + 1].payload, "ChangeEventHeader");
	assert_string_equal(cs_json_get_str(hdr, "changeType"), "UPDATE");
	assert_string_equal(cs_json_get_str(hdr, "changeOrigin"), "com/salesforce/api/rest/62.0");
	assert_string_equal(json_string_value(json_array_get(json_object_get(hdr, "changedFields"), 0)), "Description");
	assert_string_equal(cs_json_get_str(emu->events[first + 1].payload, "Description"), "second");
	assert_null(json_object_get(emu->events[first + 1].payload, "StartDate"));
	assert_true(emu->events[first + 1].replay_id > emu->events[first].replay_id);
}

static void
rollback_restores(void **state)
{
	struct emu *emu = *state;
	struct sobject *a = emu_object(emu, "Account");
	char acc[SFID_LEN + 1], id[SFID_LEN + 1];
	json_t *f, *err = NULL;
	struct emu_txn *t;
	size_t n, events;

	account(emu, "Before", acc);
	n = json_object_size(a->records);
	events = emu->nevents;
	t = emu_txn_begin(emu, NULL);
	f = json_pack("{s:s}", "Name", "After");
	assert_true(emu_update(t, a, acc, f, &err));
	json_decref(f);
	f = json_pack("{s:s,s:s}", "Name", "New", "CLM_Id__c", "rb-1");
	assert_true(emu_create(t, a, f, id, &err));
	json_decref(f);
	assert_true(emu_delete(t, acc, &err));
	emu_txn_rollback(t);
	assert_int_equal(json_object_size(a->records), n);
	assert_string_equal(cs_json_get_str(json_object_get(a->records, acc), "Name"), "Before");
	assert_null(json_object_get(a->bin, acc));
	assert_int_equal(emu->nevents, events);
	/* the rolled-back external id is free again */
	t = emu_txn_begin(emu, NULL);
	f = json_pack("{s:s,s:s}", "Name", "Again", "CLM_Id__c", "rb-1");
	assert_true(emu_create(t, a, f, id, &err));
	emu_txn_commit(t);
	json_decref(f);
}

static void
delete_and_undelete(void **state)
{
	struct emu *emu = *state;
	char acc[SFID_LEN + 1];
	json_t *err = NULL;
	struct emu_txn *t;

	account(emu, "Bin Co", acc);
	t = emu_txn_begin(emu, NULL);
	assert_true(emu_delete(t, acc, &err));
	assert_false(emu_delete(t, acc, &err));
	assert_string_equal(err_code(err), "ENTITY_IS_DELETED");
	json_decref(err);
	assert_true(emu_undelete(t, acc, &err));
	emu_txn_commit(t);
	assert_non_null(emu_find(emu, acc, NULL));
	assert_string_equal(cs_json_get_str(json_object_get(emu->events[emu->nevents - 1].payload, "ChangeEventHeader"), "changeType"), "UNDELETE");
}

static void
duplicate_external_id(void **state)
{
	struct emu *emu = *state;
	struct sobject *a = emu_object(emu, "Account");
	char id[SFID_LEN + 1];
	json_t *f = json_pack("{s:s,s:s}", "Name", "Dup", "CLM_Id__c", "dup-1"), *err = NULL;
	struct emu_txn *t = emu_txn_begin(emu, NULL);

	assert_true(emu_create(t, a, f, id, &err));
	assert_false(emu_create(t, a, f, id, &err));
	assert_string_equal(err_code(err), "DUPLICATE_VALUE");
	emu_txn_commit(t);
	json_decref(err);
	json_decref(f);
}

static void
describe_shape(void **state)
{
	struct emu *emu = *state;
	json_t *d = schema_describe(emu, emu_object(emu, "Contract"), 62, true), *f;
	size_t i;
	bool seen = false;

	assert_string_equal(cs_json_get_str(d, "keyPrefix"), "800");
	assert_string_equal(cs_json_get_str(json_object_get(d, "urls"), "rowTemplate"), "/services/data/v62.0/sobjects/Contract/{ID}");
	json_array_foreach(json_object_get(d, "fields"), i, f) {
		if (strcmp(cs_json_get_str(f, "name"), "Status") != 0)
			continue;
		seen = true;
		assert_string_equal(cs_json_get_str(f, "type"), "picklist");
		assert_true(json_is_true(json_object_get(f, "restrictedPicklist")));
		assert_string_equal(cs_json_get_str(json_array_get(json_object_get(f, "picklistValues"), 0), "value"), "Draft");
		assert_true(json_is_true(json_object_get(json_array_get(json_object_get(f, "picklistValues"), 0), "defaultValue")));
	}
	assert_true(seen);
	json_decref(d);
}

/* A second --schema entry for an existing object adds custom fields and rules to it, and
 * nothing else. Runs last: it changes the shared org's Contract. */
static void
schema_extends_standard_object(void **state)
{
	struct emu *emu = *state;
	struct sobject *c = emu_object(emu, "Contract");
	size_t before = c->nfields;
	struct cs_error e = { 0 };
	char acc[SFID_LEN + 1], id[SFID_LEN + 1];
	static const char ext[] = "{\"sobjects\":[{\"name\":\"contract\",\"fields\":["
	    "{\"name\":\"Region__c\",\"type\":\"picklist\",\"restrictedPicklist\":true,"
	    "\"picklistValues\":[\"EMEA\",\"AMER\"]},{\"name\":\"Budget__c\",\"type\":\"currency\"}],"
	    "\"validationRules\":[{\"field\":\"Region__c\",\"equals\":\"AMER\",\"message\":\"no\"}]}]}";
	static const char relabel[] = "{\"sobjects\":[{\"name\":\"Contract\",\"label\":\"Deal\",\"fields\":[]}]}";
	static const char twice[] = "{\"sobjects\":[{\"name\":\"Contract\",\"fields\":[{\"name\":\"budget__c\","
	    "\"type\":\"string\"}]}]}";
	struct emu_txn *t;
	json_t *f, *err = NULL;

	assert_int_equal(schema_load(emu, ext, strlen(ext), "test", &e), CS_OK);
	assert_ptr_equal(emu_object(emu, "Contract"), c);
	assert_int_equal(c->nfields, before + 2);
	assert_non_null(emu_field(c, "region__c"));
	assert_true(emu_field(c, "Region__c")->restricted);
	assert_non_null(emu_field(c, "Status"));        /* the index holds the old fields too */
	assert_int_equal(schema_load(emu, relabel, strlen(relabel), "test", &e), CS_EEXIST);
	assert_non_null(strstr(e.msg, "not label"));
	assert_int_equal(schema_load(emu, twice, strlen(twice), "test", &e), CS_EEXIST);
	assert_non_null(strstr(e.msg, "defined twice"));
	account(emu, "Extended", acc);
	t = emu_txn_begin(emu, NULL);
	f = json_pack("{s:s, s:s, s:s}", "AccountId", acc, "Region__c", "EMEA", "Budget__c", "12.50");
	assert_true(emu_create(t, c, f, id, &err));
	json_decref(f);
	f = json_pack("{s:s, s:s}", "AccountId", acc, "Region__c", "AMER");
	assert_false(emu_create(t, c, f, id, &err));
	assert_string_equal(err_code(err), "FIELD_CUSTOM_VALIDATION_EXCEPTION");
	json_decref(err);
	json_decref(f);
	emu_txn_commit(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(schema_defaults),
		cmocka_unit_test(validation_errors),
		cmocka_unit_test(upsert_and_events),
		cmocka_unit_test(rollback_restores),
		cmocka_unit_test(delete_and_undelete),
		cmocka_unit_test(duplicate_external_id),
		cmocka_unit_test(describe_shape),
		cmocka_unit_test(schema_extends_standard_object),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_bulk.c - Bulk API 2.0 logic without HTTP: CSV value conversion, sf__Error text, Java
 * doubles, locators, query select lists, and whole ingest runs against an emulated org. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bulk.h"
#include "emu.h"
#include "util/json.h"

/* ---- bulk_convert ---- */

struct conv_case {
	enum ftype type;
	const char *in;
	enum bulk_conv want;
	const char *json;      /* BULK_VALUE: compact JSON of the value; BULK_BAD: text in the message */
};

static const struct conv_case conv_cases[] = {
	{ FT_STRING, "", BULK_SKIP, NULL },
	{ FT_INT, "", BULK_SKIP, NULL },
	{ FT_STRING, "#N/A", BULK_VALUE, "null" },
	{ FT_INT, "#N/A", BULK_VALUE, "null" },
	{ FT_STRING, "Acme, Inc.", BULK_VALUE, "\"Acme, Inc.\"" },
	{ FT_STRING, "#n/a", BULK_VALUE, "\"#n/a\"" },
	{ FT_TEXTAREA, "l1\nl2", BULK_VALUE, "\"l1\\nl2\"" },
	{ FT_PICKLIST, "Draft", BULK_VALUE, "\"Draft\"" },
	{ FT_REFERENCE, "001000000000001AAA", BULK_VALUE, "\"001000000000001AAA\"" },
	{ FT_BOOLEAN, "true", BULK_VALUE, "true" },
	{ FT_BOOLEAN, "TRUE", BULK_VALUE, "true" },
	{ FT_BOOLEAN, "False", BULK_VALUE, "false" },
	{ FT_BOOLEAN, "1", BULK_VALUE, "true" },
	{ FT_BOOLEAN, "0", BULK_VALUE, "false" },
	{ FT_BOOLEAN, "yes", BULK_BAD, "'yes' is not a valid value for the type xsd:boolean" },
	{ FT_INT, "42", BULK_VALUE, "42" },
	{ FT_INT, "-7", BULK_VALUE, "-7" },
	{ FT_INT, "+7", BULK_VALUE, "7" },
	{ FT_INT, "4.5", BULK_BAD, "xsd:int" },
	{ FT_INT, "abc", BULK_BAD, "Failed to deserialize field at col 3. Due to, 'abc' is not a valid value for the type xsd:int" },
	{ FT_INT, "99999999999999999999", BULK_BAD, "xsd:int" },
	{ FT_INT, " 1", BULK_BAD, "xsd:int" },
	{ FT_DOUBLE, "1.5", BULK_VALUE, "1.5" },
	{ FT_CURRENCY, "1500000", BULK_VALUE, "1500000.0" },
	{ FT_PERCENT, "-.5", BULK_VALUE, "-0.5" },
	{ FT_DOUBLE, "1e3", BULK_VALUE, "1000.0" },
	{ FT_DOUBLE, "1e", BULK_BAD, "xsd:double" },
	{ FT_DOUBLE, "0x10", BULK_BAD, "xsd:double" },
	{ FT_DOUBLE, "inf", BULK_BAD, "xsd:double" },
	{ FT_DOUBLE, "nan", BULK_BAD, "xsd:double" },
	{ FT_DOUBLE, "1e999", BULK_BAD, "xsd:double" },
	{ FT_CURRENCY, "12,5", BULK_BAD, "xsd:double" },
	{ FT_DATE, "2026-01-31", BULK_VALUE, "\"2026-01-31\"" },
	{ FT_DATE, "2026-02-30", BULK_BAD, "'2026-02-30' is not a valid value for the type xsd:date" },
	{ FT_DATE, "6/15/19", BULK_BAD, "xsd:date" },
	{ FT_DATE, "2026-01-31T10:00:00Z", BULK_VALUE, "\"2026-01-31T10:00:00Z\"" },
	{ FT_DATETIME, "2026-01-31T10:00:00.000+01:00", BULK_VALUE, "\"2026-01-31T10:00:00.000+01:00\"" },
	{ FT_DATETIME, "2026-01-31", BULK_VALUE, "\"2026-01-31\"" },
	{ FT_DATETIME, "yesterday", BULK_BAD, "xsd:dateTime" },
};

static void
test_convert_table(void **state)
{
	for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++) {
		const struct conv_case *c = &conv_cases[i];
		struct sfield f;
		json_t *out = NULL, *err = NULL;
		enum bulk_conv got;
		char *txt = NULL;
		bool pass;

		memset(&f, 0, sizeof(f));
		f.name = (char *)"Field__c";
		f.label = (char *)"Field";
		f.type = c->type;
		got = bulk_convert(&f, 3, c->in, strlen(c->in), &out, &err);
		if (got == BULK_VALUE)
			txt = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
		else if (got == BULK_BAD)
			txt = json_dumps(err, JSON_COMPACT);
		pass = got == c->want;
		if (pass && got == BULK_VALUE)
			pass = txt && strcmp(txt, c->json) == 0;
		if (pass && got == BULK_BAD) {
			pass = txt && strstr(txt, c->json) != NULL &&
			    strcmp(cs_json_get_str(json_array_get(err, 0), "errorCode"), "INVALID_FIELD") == 0 &&
			    strcmp(json_string_value(json_array_get(json_object_get(json_array_get(err, 0), "fields"), 0)), "Field__c") == 0;
		}
		if (pass && got == BULK_SKIP)
			pass = out == NULL && err == NULL;
		if (!pass) {
			print_error("case %zu (type %d, '%s'): got %d '%s', want %d '%s'\n", i, (int)c->type, c->in,
			    (int)got, txt ? txt : "(null)", (int)c->want, c->json ? c->json : "");
			free(txt);
			fail();
		}
		free(txt);
		json_decref(out);
		json_decref(err);
	}
}

/* ---- bulk_error_text ---- */

static void
test_error_text(void **state)
{
	static const struct {
		const char *json;
		const char *ext;
		const char *want;
	} t[] = {
		{ "[{\"message\":\"Required fields are missing: [Name]\",\"errorCode\":\"REQUIRED_FIELD_MISSING\",\"fields\":[\"Name\"]}]",
		  NULL, "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --" },
		{ "[{\"message\":\"entity is deleted\",\"errorCode\":\"ENTITY_IS_DELETED\",\"fields\":[]}]",
		  NULL, "ENTITY_IS_DELETED:entity is deleted:--" },
		{ "[{\"message\":\"m\",\"errorCode\":\"X\"}]", NULL, "X:m:--" },
		{ "[{\"message\":\"m\",\"statusCode\":\"Y\",\"fields\":[\"A\",\"B\"]}]", NULL, "Y:m:A,B --" },
		{ "[{\"message\":\"m\",\"errorCode\":\"X\"},{\"message\":\"n\",\"errorCode\":\"Z\"}]", NULL, "X:m:--" },
		{ "[]", NULL, "UNKNOWN_EXCEPTION::--" },
		{ "{\"multiple\":[\"/services/data/v62.0/sobjects/Account/001A\",\"/services/data/v62.0/sobjects/Account/001B\"]}",
		  "Ext__c", "DUPLICATE_EXTERNAL_ID:Ext__c: more than one record found for external id field: [001A, 001B]:Ext__c --" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		json_t *v = json_loads(t[i].json, 0, NULL);
		struct cs_buf b;

		assert_non_null(v);
		cs_buf_init(&b, 4096);
		assert_int_equal(bulk_error_text(v, t[i].ext, &b), CS_OK);
		assert_string_equal(b.data, t[i].want);
		cs_buf_cleanup(&b);
		json_decref(v);
	}
}

/* ---- bulk_java_double ---- */

static void
test_java_double(void **state)
{
	static const struct {
		double d;
		const char *want;
	} t[] = {
		{ 0.0, "0.0" }, { 1.0, "1.0" }, { -2.5, "-2.5" }, { 100.0, "100.0" }, { 123.456, "123.456" },
		{ 1500000.0, "1500000.0" }, { 9999999.0, "9999999.0" }, { 1e7, "1.0E7" }, { 1.5e7, "1.5E7" },
		{ 912260031.0, "9.12260031E8" }, { 0.001, "0.001" }, { 0.0001, "1.0E-4" }, { 0.1, "0.1" },
		{ 0.3, "0.3" }, { 1234567.125, "1234567.125" }, { -1.5e10, "-1.5E10" }, { 1e21, "1.0E21" },
		{ 0.0012, "0.0012" }, { 2.5e-5, "2.5E-5" },
	};
	char out[40];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bulk_java_double(t[i].d, out, sizeof(out));
		if (strcmp(out, t[i].want) != 0) {
			print_error("%.17g: got '%s', want '%s'\n", t[i].d, out, t[i].want);
			fail();
		}
	}
}

/* ---- locators ---- */

static void
test_locators(void **state)
{
	static const char *const bad[] = {
		"", "!", "MTAwMDA=", "MDA", "A", "YWJj", "TQ", "MTAwMDAwMDAwMDAwMDAwMDAwMDAwMDA", "null",
	};
	char l[40];
	size_t off = 99;

	bulk_locator_encode(10000, l, sizeof(l));
	assert_string_equal(l, "MTAwMDA");
	assert_true(bulk_locator_decode("MTAwMDA", &off));
	assert_int_equal(off, 10000);
	bulk_locator_encode(0, l, sizeof(l));
	assert_string_equal(l, "MA");
	for (size_t v = 0; v < 100000; v = v * 3 + 1) {
		bulk_locator_encode(v, l, sizeof(l));
		assert_true(bulk_locator_decode(l, &off));
		assert_int_equal(off, v);
	}
	bulk_locator_encode(SIZE_MAX, l, sizeof(l));
	assert_true(bulk_locator_decode(l, &off));
	assert_true(off == SIZE_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		off = 7;
		if (bulk_locator_decode(bad[i], &off)) {
			print_error("locator '%s' accepted as %zu\n", bad[i], off);
			fail();
		}
		assert_int_equal(off, 7);
	}
}

/* ---- bulk_select_items ---- */

static void
test_select_items(void **state)
{
	static const struct {
		const char *q;
		const char *items;     /* items joined by '|', or NULL when refused */
		const char *object;    /* object, or the refusal text */
	} t[] = {
		{ "SELECT Id, Name FROM Account", "Id|Name", "Account" },
		{ "  select id,Account.Name , CreatedDate\nfrom Contact where Name = 'a, FROM b' LIMIT 5", "id|Account.Name|CreatedDate", "Contact" },
		{ "SELECT Id FROM Contract WHERE AccountId IN (SELECT Id FROM Account)", "Id", "Contract" },
		{ "SELECT Id FROM Account WHERE Name = 'GROUP BY x' ORDER BY Name", "Id", "Account" },
		{ "SELECT Fromage__c FROM Account", "Fromage__c", "Account" },
		{ "SELECT COUNT() FROM Account", NULL, "Functions and aggregate queries are not supported" },
		{ "SELECT Id, (SELECT Id FROM Contacts) FROM Account", NULL, "Aggregate Relationships not supported in Bulk Query" },
		{ "SELECT TYPEOF Owner WHEN User THEN Name END FROM Account", NULL, "TYPEOF is not supported" },
		{ "SELECT Name FROM Account GROUP BY Name", NULL, "GROUP BY is not supported" },
		{ "SELECT Name FROM Account LIMIT 5 OFFSET 5", NULL, "OFFSET is not supported" },
		{ "SELECT FROM Account", NULL, "empty item" },
		{ "SELECT Id, FROM Account", NULL, "empty item" },
		{ "UPDATE Account", NULL, "starts with SELECT" },
		{ "SELECT Id Account", NULL, "no FROM" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		json_t *items = NULL;
		char obj[64];
		struct cs_error e = { 0 };
		cs_err rc = bulk_select_items(t[i].q, strlen(t[i].q), &items, obj, sizeof(obj), &e);

		if (t[i].items == NULL) {
			if (rc != CS_EINVAL || strstr(e.msg, t[i].object) == NULL) {
				print_error("'%s': rc %d msg '%s', want refusal '%s'\n", t[i].q, (int)rc, e.msg, t[i].object);
				fail();
			}
			assert_null(items);
			continue;
		}
		assert_int_equal(rc, CS_OK);
		{
			char joined[256] = "";
			for (size_t k = 0; k < json_array_size(items); k++) {
				size_t used = strlen(joined);
				snprintf(joined + used, sizeof(joined) - used, "%s%s", k ? "|" : "", json_string_value(json_array_get(items, k)));
			}
			assert_string_equal(joined, t[i].items);
		}
		assert_string_equal(obj, t[i].object);
		json_decref(items);
	}
}

/* ---- whole ingest runs ---- */

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

static const struct emu_caller bulk_who = { "bulkapi", 62, "loader" };

static void
ingest(struct emu *emu, const char *object, const char *op, const char *ext, const char *csv, struct bulk_outcome *out)
{
	assert_int_equal(bulk_ingest_sync(emu, &bulk_who, object, op, ext, ',', CSV_EOL_LF, csv, strlen(csv), out), CS_OK);
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Looks a record up by Name. Borrowed; NULL when absent. */
static json_t *
by_name(struct emu *emu, const char *object, const char *name)
{
	struct sobject *o = emu_object(emu, object);
	const char *id;
	json_t *rec;

	json_object_foreach(o->records, id, rec) {
		const char *n = cs_json_get_str(rec, "Name");
		if (n == NULL)
			n = cs_json_get_str(rec, "LastName");
		if (n && strcmp(n, name) == 0)
			return rec;
	}
	return NULL;
}

static void
test_insert_rows(void **state)
{
	struct emu *emu = *state;
	struct bulk_outcome o;
	size_t ev0;
	json_t *rec, *hdr;

	emu_lock(emu);
	emu_reset(emu);
	ev0 = emu->nevents;
	emu_unlock(emu);
	ingest(emu, "account", "insert", NULL,
	    "Name,NumberOfEmployees,AnnualRevenue,Description\n"
	    "Acme,10,1500000,\"multi\nline, with \"\"quotes\"\"\"\n"
	    "Globex,abc,12,x\n"
	    ",5,,missing name\n"
	    "Initech,#N/A,912260031,\n", &o);
	assert_string_equal(o.state, "JobComplete");
	assert_int_equal(o.processed, 4);
	assert_int_equal(o.failed, 2);
	assert_null(o.error_message);
	assert_int_equal(count_lines(o.successful), 4);   /* header, 2 rows, one embedded newline */
	assert_non_null(strstr(o.successful, "\"sf__Id\",\"sf__Created\",Name,NumberOfEmployees,AnnualRevenue,Description\n"));
	assert_non_null(strstr(o.successful, "\"true\",\"Acme\",\"10\",\"1500000.0\",\"multi\nline, with \"\"quotes\"\"\"\n"));
	assert_non_null(strstr(o.successful, "\"Initech\",\"#N/A\",\"9.12260031E8\",\"\"\n"));
	assert_non_null(strstr(o.failed_csv, "\"sf__Id\",\"sf__Error\",Name,NumberOfEmployees,AnnualRevenue,Description\n"));
	assert_non_null(strstr(o.failed_csv, "\"\",\"INVALID_FIELD:Failed to deserialize field at col 2. Due to, 'abc' is not a valid value for the type xsd:int:NumberOfEmployees --\",\"Globex\",\"abc\",\"12\",\"x\"\n"));
	assert_non_null(strstr(o.failed_csv, "\"\",\"REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --\",\"\",\"5\",\"\",\"missing name\"\n"));
	assert_string_equal(o.unprocessed, "Name,NumberOfEmployees,AnnualRevenue,Description\n");
	bulk_outcome_cleanup(&o);

	emu_lock(emu);
	rec = by_name(emu, "Account", "Acme");
	assert_non_null(rec);
	assert_int_equal(json_integer_value(json_object_get(rec, "NumberOfEmployees")), 10);
	assert_string_equal(cs_json_get_str(rec, "Description"), "multi\nline, with \"quotes\"");
	rec = by_name(emu, "Account", "Initech");
	assert_true(json_is_null(json_object_get(rec, "NumberOfEmployees")));
	assert_null(by_name(emu, "Account", "Globex"));
	/* two creates, one change event each, marked as Bulk API writes */
	assert_int_equal(emu->nevents - ev0, 2);
	hdr = json_object_get(emu->events[ev0].payload, "ChangeEventHeader");
	assert_string_equal(cs_json_get_str(hdr, "changeType"), "CREATE");
	assert_string_equal(cs_json_get_str(hdr, "changeOrigin"), "com/salesforce/api/bulkapi/62.0;client=loader");
	emu_unlock(emu);
}

static void
test_update_upsert_delete(void **state)
{
	struct emu *emu = *state;
	struct bulk_outcome o;
	char csv[1024], a1[SFID_LEN + 1], a2[SFID_LEN + 1];
	json_t *rec;
	struct sobject *acc;

	emu_lock(emu);
	emu_reset(emu);
	emu_unlock(emu);
	ingest(emu, "Account", "insert", NULL, "Name,Description,CLM_Id__c\nOne,d1,E-1\nTwo,d2,E-2\n", &o);
	assert_int_equal(o.failed, 0);
	bulk_outcome_cleanup(&o);
	emu_lock(emu);
	snprintf(a1, sizeof(a1), "%s", cs_json_get_str(by_name(emu, "Account", "One"), "Id"));
	snprintf(a2, sizeof(a2), "%s", cs_json_get_str(by_name(emu, "Account", "Two"), "Id"));
	emu_unlock(emu);

	/* empty leaves a field alone, #N/A clears it; bad and missing ids fail alone */
	snprintf(csv, sizeof(csv), "Id,Name,Description\n%s,,#N/A\n%.15s,Two!,\n,x,y\n003000000000000AAA,y,z\n001000000000999AAA,q,r\n", a1, a2);
	ingest(emu, "Account", "update", NULL, csv, &o);
	assert_int_equal(o.processed, 5);
	assert_int_equal(o.failed, 3);
	assert_non_null(strstr(o.successful, a2));   /* the 15-character id is answered in 18 */
	assert_non_null(strstr(o.failed_csv, "\"\",\"MISSING_ARGUMENT:Id not specified in an update call:--\""));
	assert_non_null(strstr(o.failed_csv, "\"003000000000000AAA\",\"MALFORMED_ID:Account ID: id value of incorrect type: 003000000000000AAA:Id --\""));
	assert_non_null(strstr(o.failed_csv, "\"001000000000999AAA\",\"INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--\""));
	bulk_outcome_cleanup(&o);
	emu_lock(emu);
	acc = emu_object(emu, "Account");
	rec = json_object_get(acc->records, a1);
	assert_string_equal(cs_json_get_str(rec, "Name"), "One");
	assert_true(json_is_null(json_object_get(rec, "Description")));
	assert_string_equal(cs_json_get_str(json_object_get(acc->records, a2), "Description"), "d2");
	emu_unlock(emu);

	/* upsert by external id: one update, one create, one without a key */
	ingest(emu, "Account", "upsert", "clm_id__c", "CLM_Id__c,Name\nE-2,Two again\nE-3,Three\n,None\n", &o);
	assert_int_equal(o.failed, 1);
	snprintf(csv, sizeof(csv), "\"%s\",\"false\",\"E-2\",\"Two again\"\n", a2);
	assert_non_null(strstr(o.successful, csv));
	assert_non_null(strstr(o.successful, "\"true\",\"E-3\",\"Three\"\n"));
	assert_non_null(strstr(o.failed_csv, "MISSING_ARGUMENT:CLM_Id__c not specified:CLM_Id__c --"));
	bulk_outcome_cleanup(&o);

	/* a Contact linked to its Account through the Account's external id */
	ingest(emu, "Contact", "insert", NULL, "LastName,Account.CLM_Id__c\nLinked,e-3\nLost,E-404\nAlone,\n", &o);
	assert_int_equal(o.failed, 1);
	assert_non_null(strstr(o.failed_csv, "INVALID_FIELD:Foreign key external ID: E-404 not found for field CLM_Id__c in entity Account:--"));
	bulk_outcome_cleanup(&o);
	emu_lock(emu);
	assert_string_equal(cs_json_get_str(by_name(emu, "Contact", "Linked"), "AccountId"),
	    cs_json_get_str(by_name(emu, "Account", "Three"), "Id"));
	assert_true(json_is_null(json_object_get(by_name(emu, "Contact", "Alone"), "AccountId")));
	emu_unlock(emu);

	/* delete keeps a recycle-bin copy, hardDelete does not */
	snprintf(csv, sizeof(csv), "Id\n%s\nnot-an-id\n", a1);
	ingest(emu, "Account", "delete", NULL, csv, &o);
	assert_int_equal(o.processed, 2);
	assert_int_equal(o.failed, 1);
	bulk_outcome_cleanup(&o);
	snprintf(csv, sizeof(csv), "Id\n%s\n%s\n", a2, a1);
	ingest(emu, "Account", "hardDelete", NULL, csv, &o);
	assert_int_equal(o.failed, 1);
	assert_non_null(strstr(o.failed_csv, "ENTITY_IS_DELETED:entity is deleted:--"));
	bulk_outcome_cleanup(&o);
	emu_lock(emu);
	assert_null(json_object_get(acc->records, a1));
	assert_non_null(json_object_get(acc->bin, a1));
	assert_null(json_object_get(acc->records, a2));
	assert_null(json_object_get(acc->bin, a2));
	emu_unlock(emu);
}

/* A malformed upload or an unknown column fails the whole job and writes nothing. */
static void
test_job_failures(void **state)
{
	struct emu *emu = *state;
	struct bulk_outcome o;
	static const struct {
		const char *csv;
		const char *error;
	} t[] = {
		{ "Name\nok\n\"unterminated\n", "ClientInputError : line 3: quoted field is never closed" },
		{ "Name\r\nok\r\n", "ClientInputError : line 1: LineEnding is invalid on user data. Current LineEnding setting is LF" },
		{ "Name,Phone\nok\nbad,1,2\n", "ClientInputError : line 2: expected 2 fields" },
		{ "Name,Bogus__c\nok,1\n", "InvalidBatch : Field name not found : Bogus__c" },
		{ "Name,Nope.Name\nok,1\n", "InvalidBatch : Field name not found : Nope.Name" },
		{ "Name,Owner.Bogus\nok,1\n", "InvalidBatch : Field name not found : Owner.Bogus" },
		{ "Name,name\nok,1\n", "InvalidBatch : Duplicate field name : name" },
		{ "Name\n\xff\n", "ClientInputError : line 2: field 1 is not valid UTF-8" },
	};
	size_t before;

	emu_lock(emu);
	emu_reset(emu);
	emu_unlock(emu);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ingest(emu, "Account", "insert", NULL, t[i].csv, &o);
		assert_string_equal(o.state, "Failed");
		if (o.error_message == NULL || strstr(o.error_message, t[i].error) == NULL) {
			print_error("case %zu: errorMessage '%s', want '%s'\n", i, o.error_message ? o.error_message : "(null)", t[i].error);
			fail();
		}
		assert_int_equal(o.processed, 0);
		/* unprocessed records give back what was uploaded */
		assert_string_equal(o.unprocessed, t[i].csv);
		bulk_outcome_cleanup(&o);
	}
	emu_lock(emu);
	before = json_object_size(emu_object(emu, "Account")->records);
	emu_unlock(emu);
	assert_int_equal(before, 0);

	/* an unknown object or operation is refused before anything runs */
	assert_int_equal(bulk_ingest_sync(emu, &bulk_who, "Nope", "insert", NULL, ',', CSV_EOL_LF, "Name\nx\n", 7, &o), CS_EINVAL);
	assert_int_equal(bulk_ingest_sync(emu, &bulk_who, "Account", "merge", NULL, ',', CSV_EOL_LF, "Name\nx\n", 7, &o), CS_EINVAL);
	assert_int_equal(bulk_ingest_sync(emu, &bulk_who, "Account", "upsert", "Name", ',', CSV_EOL_LF, "Name\nx\n", 7, &o), CS_EINVAL);
	assert_int_equal(bulk_ingest_sync(emu, &bulk_who, "Account", "upsert", NULL, ',', CSV_EOL_LF, "Name\nx\n", 7, &o), CS_EINVAL);
}

/* Nothing uploaded, or only a header: the job completes with no records. */
static void
test_empty_uploads(void **state)
{
	struct emu *emu = *state;
	struct bulk_outcome o;

	ingest(emu, "Account", "insert", NULL, "", &o);
	assert_string_equal(o.state, "JobComplete");
	assert_int_equal(o.processed, 0);
	assert_string_equal(o.successful, "");
	bulk_outcome_cleanup(&o);
	ingest(emu, "Account", "insert", NULL, "Name\n", &o);
	assert_string_equal(o.state, "JobComplete");
	assert_int_equal(o.processed, 0);
	assert_string_equal(o.successful, "\"sf__Id\",\"sf__Created\",Name\n");
	bulk_outcome_cleanup(&o);
}

/* Records commit in chunks of BULK_TXN_RECORDS: one transaction key per chunk. */
static void
test_chunked_transactions(void **state)
{
	struct emu *emu = *state;
	struct bulk_outcome o;
	struct cs_buf csv;
	json_t *keys = json_object();
	size_t ev0, n = 2 * BULK_TXN_RECORDS + 50;

	emu_lock(emu);
	emu_reset(emu);
	ev0 = emu->nevents;
	emu_unlock(emu);
	cs_buf_init(&csv, 1 << 20);
	cs_buf_puts(&csv, "Name\tPhone\r\n");
	for (size_t i = 0; i < n; i++)
		cs_buf_printf(&csv, "Row %zu\t\"555-%04zu\"\r\n", i, i);
	assert_int_equal(bulk_ingest_sync(emu, &bulk_who, "Account", "insert", NULL, '\t', CSV_EOL_CRLF, csv.data, csv.len, &o), CS_OK);
	assert_int_equal(o.processed, (long)n);
	assert_int_equal(o.failed, 0);
	/* results use the job's delimiter and line ending */
	assert_memory_equal(o.successful, "\"sf__Id\"\t\"sf__Created\"\tName\tPhone\r\n", 34);
	bulk_outcome_cleanup(&o);
	cs_buf_cleanup(&csv);
	emu_lock(emu);
	assert_int_equal(emu->nevents - ev0, n);
	for (size_t i = ev0; i < emu->nevents; i++) {
		json_t *hdr = json_object_get(emu->events[i].payload, "ChangeEventHeader");
		json_object_set_new(keys, cs_json_get_str(hdr, "transactionKey"), json_true());
	}
	emu_unlock(emu);
	assert_int_equal(json_object_size(keys), 3);
	json_decref(keys);
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_convert_table),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_java_double),
		cmocka_unit_test(test_locators),
		cmocka_unit_test(test_select_items),
	};
	const struct CMUnitTest org[] = {
		cmocka_unit_test(test_insert_rows),
		cmocka_unit_test(test_update_upsert_delete),
		cmocka_unit_test(test_job_failures),
		cmocka_unit_test(test_empty_uploads),
		cmocka_unit_test(test_chunked_transactions),
	};
	int failed = cmocka_run_group_tests_name("bulk-pure", pure, NULL, NULL);

	return failed + cmocka_run_group_tests_name("bulk-org", org, setup, teardown);
}

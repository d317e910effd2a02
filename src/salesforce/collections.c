/* collections.c - sObject Collections (create, update, upsert, delete, retrieve) in calls of 200, and /composite. */
#include "salesforce/sf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

#define MAX_RETRIEVE 2000       /* ids per POST retrieve */

static void
result_clear(struct sf_result *r)
{
	r->id[0] = '\0';
	r->success = false;
	r->created = false;
	r->nerrors = 0;
	sf_error_clear(&r->error);
}

static void
result_from(struct sf_result *r, const json_t *o)
{
	json_t *errs = json_object_get(o, "errors");

	const char *id = cs_json_get_str(o, "id");

	result_clear(r);
	r->success = cs_json_get_bool(o, "success", false);
	r->created = cs_json_get_bool(o, "created", false);
	if (id != NULL && !sf_id_ok(id)) {
		/* never cut to 18 characters, which could name another record: the result is not
		 * usable, and says so */
		r->success = false;
		r->nerrors = 1;
		sf_fail(&r->error, CS_EPARSE, false, "Salesforce answered a malformed record id");
		sf_copy(r->error.code, sizeof(r->error.code), "MALFORMED_ID");
		return;
	}
	if (id != NULL)
		sf_copy(r->id, sizeof(r->id), id);
	if (!r->success) {
		json_t *first = json_array_get(errs, 0);

		r->nerrors = (unsigned)json_array_size(errs);
		r->error.err = CS_EHTTP;
		if (json_is_object(first)) {
			/* one record's error has the shape of a whole-call error, with statusCode */
			struct cs_buf b;

			cs_buf_init(&b, 64u << 10);
			if (cs_json_dump(first, &b) == CS_OK)
				sf_error_parse(&r->error, 0, b.data, b.len);
			cs_buf_cleanup(&b);
		} else
			sf_copy(r->error.message, sizeof(r->error.message), "failed without an error entry");
		r->error.http = 0;
		r->error.err = CS_EHTTP;
		r->error.transient = sf_code_transient(r->error.code);
	}
}

/* Marks res[from..n) as not done because of the call-level error e. */
static void
fail_rest(struct sf_result *res, size_t from, size_t n, const struct sf_error *e)
{
	for (size_t i = from; i < n; i++) {
		result_clear(&res[i]);
		res[i].error = *e;
		res[i].nerrors = 1;
	}
}

/* Sends one chunk and copies its per-record results into res. */
static cs_err
send_chunk(struct sf_client *c, const char *method, const char *path, const json_t *body, unsigned flags,
    struct sf_result *res, size_t n, struct sf_error *e)
{
	json_t *out = NULL;
	cs_err err;

	err = sf_rest(c, method, path, body, flags, NULL, &out, e);
	if (err == CS_OK && (!json_is_array(out) || json_array_size(out) != n))
		err = sf_fail(e, CS_EPARSE, false, "%s %s: %zu results for %zu records", method, path,
		    json_array_size(out), n);
	if (err == CS_OK)
		for (size_t i = 0; i < n; i++)
			result_from(&res[i], json_array_get(out, i));
	json_decref(out);
	return err;
}

static cs_err
records_call(struct sf_client *c, const char *method, const char *path, const json_t *records, bool aon,
    unsigned flags, struct sf_result *res, struct sf_error *e)
{
	size_t n = json_array_size(records);
	cs_err err = CS_OK;

	sf_error_clear(e);
	if (!json_is_array(records))
		return sf_fail(e, CS_EINVAL, false, "records must be a JSON array");
	if (aon && n > SF_MAX_BATCH)
		return sf_fail(e, CS_EINVAL, false, "allOrNone covers one call: at most %d records", SF_MAX_BATCH);
	for (size_t at = 0; at < n && err == CS_OK; at += SF_MAX_BATCH) {
		size_t k = n - at < SF_MAX_BATCH ? n - at : SF_MAX_BATCH;
		json_t *body = json_object(), *arr = json_array();

		if (body == NULL || arr == NULL || json_object_set_new(body, "allOrNone", json_boolean(aon)) != 0) {
			json_decref(arr);
			err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		}
		for (size_t i = 0; i < k && err == CS_OK; i++)
			if (json_array_append(arr, json_array_get(records, at + i)) != 0)
				err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		if (err == CS_OK && json_object_set_new(body, "records", arr) != 0)
			err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		if (err == CS_OK)
			err = send_chunk(c, method, path, body, flags, res + at, k, e);
		json_decref(body);
		if (err != CS_OK)
			fail_rest(res, at, n, e);
	}
	return err;
}

cs_err
sf_coll_create(struct sf_client *c, const json_t *records, bool aon, struct sf_result *res, struct sf_error *e)
{
	return records_call(c, "POST", "/composite/sobjects", records, aon, 0, res, e);
}

cs_err
sf_coll_update(struct sf_client *c, const json_t *records, bool aon, struct sf_result *res, struct sf_error *e)
{
	return records_call(c, "PATCH", "/composite/sobjects", records, aon, SF_IDEMPOTENT, res, e);
}

cs_err
sf_coll_upsert(struct sf_client *c, const char *sobject, const char *ext_field, const json_t *records, bool aon,
    struct sf_result *res, struct sf_error *e)
{
	char path[200];

	if (!sf_name_ok(sobject) || !sf_name_ok(ext_field))
		return sf_fail(e, CS_EINVAL, false, "invalid sObject or external id field name");
	snprintf(path, sizeof(path), "/composite/sobjects/%s/%s", sobject, ext_field);
	return records_call(c, "PATCH", path, records, aon, SF_IDEMPOTENT, res, e);
}

static bool
ids_ok(const char *const *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = ids[i] ? strlen(ids[i]) : 0;
		if ((l != 15 && l != 18) || !sf_name_ok(ids[i]) || strchr(ids[i], '_'))
			return false;
	}
	return true;
}

cs_err
sf_coll_delete(struct sf_client *c, const char *const *ids, size_t n, bool aon, struct sf_result *res,
    struct sf_error *e)
{
	struct cs_buf p;
	cs_err err = CS_OK;

	sf_error_clear(e);
	if (!ids_ok(ids, n))
		return sf_fail(e, CS_EINVAL, false, "invalid record id");
	if (aon && n > SF_MAX_BATCH)
		return sf_fail(e, CS_EINVAL, false, "allOrNone covers one call: at most %d records", SF_MAX_BATCH);
	cs_buf_init(&p, 8192);
	for (size_t at = 0; at < n && err == CS_OK; at += SF_MAX_BATCH) {
		size_t k = n - at < SF_MAX_BATCH ? n - at : SF_MAX_BATCH;

		cs_buf_reset(&p);
		err = cs_buf_printf(&p, "/composite/sobjects?allOrNone=%s&ids=", aon ? "true" : "false");
		for (size_t i = 0; i < k && err == CS_OK; i++)
			err = cs_buf_printf(&p, "%s%s", i ? "," : "", ids[at + i]);
		if (err != CS_OK)
			err = sf_fail(e, err, false, "delete: id list too long");
		else
			err = send_chunk(c, "DELETE", p.data, NULL, 0, res + at, k, e);
		if (err != CS_OK)
			fail_rest(res, at, n, e);
	}
	cs_buf_cleanup(&p);
	return err;
}

cs_err
sf_coll_retrieve(struct sf_client *c, const char *sobject, const char *const *ids, size_t n, const char *fields,
    json_t **out, struct sf_error *e)
{
	char path[160];
	json_t *all = NULL, *flds = NULL;
	cs_err err = CS_OK;

	*out = NULL;
	sf_error_clear(e);
	if (!sf_name_ok(sobject) || !ids_ok(ids, n) || fields == NULL)
		return sf_fail(e, CS_EINVAL, false, "invalid sObject name, id or field list");
	snprintf(path, sizeof(path), "/composite/sobjects/%s", sobject);
	if ((all = json_array()) == NULL || (flds = json_array()) == NULL) {
		err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		goto out;
	}
	for (const char *f = fields; *f && err == CS_OK;) {
		const char *comma = strchr(f, ',');
		size_t l = comma ? (size_t)(comma - f) : strlen(f);

		if (l > 0 && json_array_append_new(flds, json_stringn(f, l)) != 0)
			err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		f += l + (comma ? 1 : 0);
	}
	for (size_t at = 0; at < n && err == CS_OK; at += MAX_RETRIEVE) {
		size_t k = n - at < MAX_RETRIEVE ? n - at : MAX_RETRIEVE;
		json_t *body = json_pack("{s:[],s:O}", "ids", "fields", flds), *res = NULL;

		if (body == NULL) {
			err = sf_fail(e, CS_ENOMEM, false, "out of memory");
			break;
		}
		for (size_t i = 0; i < k && err == CS_OK; i++)
			if (json_array_append_new(json_object_get(body, "ids"), json_string(ids[at + i])) != 0)
				err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		/* a POST that only reads: safe to repeat */
		if (err == CS_OK)
			err = sf_rest(c, "POST", path, body, SF_IDEMPOTENT, NULL, &res, e);
		if (err == CS_OK && (!json_is_array(res) || json_array_size(res) != k))
			err = sf_fail(e, CS_EPARSE, false, "retrieve %s: %zu records for %zu ids", sobject,
			    json_array_size(res), k);
		if (err == CS_OK && json_array_extend(all, res) != 0)
			err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		json_decref(res);
		json_decref(body);
	}
	if (err == CS_OK) {
		*out = all;
		all = NULL;
	}
out:
	json_decref(all);
	json_decref(flds);
	return err;
}

cs_err
sf_composite(struct sf_client *c, const json_t *subrequests, bool aon, unsigned flags, json_t **out,
    struct sf_error *e)
{
	json_t *body, *res = NULL, *cr;
	cs_err err;

	*out = NULL;
	if (!json_is_array(subrequests) || json_array_size(subrequests) == 0 ||
	    json_array_size(subrequests) > SF_MAX_COMPOSITE)
		return sf_fail(e, CS_EINVAL, false, "composite takes 1 to %d subrequests", SF_MAX_COMPOSITE);
	body = json_pack("{s:b,s:O}", "allOrNone", aon, "compositeRequest", subrequests);
	if (body == NULL)
		return sf_fail(e, CS_ENOMEM, false, "out of memory");
	err = sf_rest(c, "POST", "/composite", body, flags, NULL, &res, e);
	json_decref(body);
	if (err == CS_OK) {
		cr = json_object_get(res, "compositeResponse");
		if (!json_is_array(cr) || json_array_size(cr) != json_array_size(subrequests))
			err = sf_fail(e, CS_EPARSE, false, "composite: unexpected response shape");
		else
			*out = json_incref(cr);
	}
	json_decref(res);
	return err;
}

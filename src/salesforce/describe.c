/* describe.c - sObject describe fetched and parsed into the facts a mapping check needs. */
#include "salesforce/sf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/json.h"

#define MAX_FIELDS 5000
#define MAX_PICKLIST 10000

static char *
sdup(const json_t *o, const char *k, bool *nomem)
{
	const char *s = cs_json_get_str(o, k);
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*nomem = true;
	return d;
}

static void
field_cleanup(struct sf_field *f)
{
	free(f->name);
	free(f->type);
	free(f->relationship_name);
	for (size_t i = 0; i < f->npicklist; i++)
		free(f->picklist[i]);
	free(f->picklist);
	for (size_t i = 0; i < f->nreference_to; i++)
		free(f->reference_to[i]);
	free(f->reference_to);
}

void
sf_describe_free(struct sf_describe *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nfields; i++)
		field_cleanup(&d->fields[i]);
	free(d->fields);
	free(d->name);
	free(d);
}

/* Copies the strings of arr (or the "value" of its objects, active ones only) into *out. */
static bool
strings(const json_t *arr, bool picklist, char ***out, size_t *n)
{
	size_t i, k = 0, cnt = json_array_size(arr);
	json_t *x;

	*out = NULL;
	*n = 0;
	if (cnt == 0)
		return true;
	if (cnt > MAX_PICKLIST || (*out = calloc(cnt, sizeof(char *))) == NULL)
		return false;
	json_array_foreach(arr, i, x) {
		const char *s = picklist ? cs_json_get_str(x, "value") : json_string_value(x);

		if (s == NULL || (picklist && !cs_json_get_bool(x, "active", true)))
			continue;
		if (((*out)[k] = strdup(s)) == NULL) {
			*n = k;
			return false;
		}
		k++;
	}
	*n = k;
	return true;
}

cs_err
sf_describe_parse(const json_t *v, struct sf_describe **out, struct sf_error *e)
{
	struct sf_describe *d;
	json_t *fields = json_object_get(v, "fields"), *f;
	bool nomem = false;
	size_t i;

	*out = NULL;
	if (cs_json_get_str(v, "name") == NULL || !json_is_array(fields))
		return sf_fail(e, CS_EPARSE, false, "describe without name or fields");
	if (json_array_size(fields) > MAX_FIELDS)
		return sf_fail(e, CS_ETOOBIG, false, "describe with over %d fields", MAX_FIELDS);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return sf_fail(e, CS_ENOMEM, false, "out of memory");
	d->name = sdup(v, "name", &nomem);
	d->custom = cs_json_get_bool(v, "custom", false);
	d->createable = cs_json_get_bool(v, "createable", false);
	d->updateable = cs_json_get_bool(v, "updateable", false);
	d->deletable = cs_json_get_bool(v, "deletable", false);
	d->queryable = cs_json_get_bool(v, "queryable", false);
	if (json_array_size(fields) > 0 && (d->fields = calloc(json_array_size(fields), sizeof(*d->fields))) == NULL)
		nomem = true;
	json_array_foreach(fields, i, f) {
		struct sf_field *x;

		if (nomem)
			break;
		if (cs_json_get_str(f, "name") == NULL || cs_json_get_str(f, "type") == NULL) {
			sf_describe_free(d);
			return sf_fail(e, CS_EPARSE, false, "describe field without name or type");
		}
		x = &d->fields[d->nfields++];
		x->name = sdup(f, "name", &nomem);
		x->type = sdup(f, "type", &nomem);
		x->relationship_name = sdup(f, "relationshipName", &nomem);
		x->length = (long)cs_json_get_int(f, "length", 0);
		x->precision = (long)cs_json_get_int(f, "precision", 0);
		x->scale = (long)cs_json_get_int(f, "scale", 0);
		x->nillable = cs_json_get_bool(f, "nillable", false);
		x->createable = cs_json_get_bool(f, "createable", false);
		x->updateable = cs_json_get_bool(f, "updateable", false);
		x->external_id = cs_json_get_bool(f, "externalId", false);
		x->unique = cs_json_get_bool(f, "unique", false);
		x->restricted_picklist = cs_json_get_bool(f, "restrictedPicklist", false);
		x->calculated = cs_json_get_bool(f, "calculated", false);
		if (!strings(json_object_get(f, "picklistValues"), true, &x->picklist, &x->npicklist) ||
		    !strings(json_object_get(f, "referenceTo"), false, &x->reference_to, &x->nreference_to))
			nomem = true;
	}
	if (nomem || d->name == NULL) {
		sf_describe_free(d);
		return sf_fail(e, CS_ENOMEM, false, "out of memory");
	}
	*out = d;
	return CS_OK;
}

const struct sf_field *
sf_describe_field(const struct sf_describe *d, const char *name)
{
	for (size_t i = 0; i < d->nfields; i++)
		if (strcasecmp(d->fields[i].name, name) == 0)
			return &d->fields[i];
	return NULL;
}

cs_err
sf_describe(struct sf_client *c, const char *sobject, struct sf_describe **out, struct sf_error *e)
{
	char path[160];
	json_t *v = NULL;
	cs_err err;

	*out = NULL;
	if (!sf_name_ok(sobject))
		return sf_fail(e, CS_EINVAL, false, "invalid sObject name");
	snprintf(path, sizeof(path), "/sobjects/%s/describe", sobject);
	err = sf_call(c, "GET", path, NULL, 0, 0, NULL, NULL, &v, NULL, e);
	if (err == CS_OK)
		err = sf_describe_parse(v, out, e);
	json_decref(v);
	return err;
}

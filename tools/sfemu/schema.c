/* schema.c - loads describe-shaped schema JSON (the embedded default and --schema files). */
#include "emu.h"
#include "util/json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const char sfemu_default_schema[];
extern const size_t sfemu_default_schema_len;

static const struct { const char *name; enum ftype t; const char *soap; } types[] = {
	{ "id", FT_ID, "tns:ID" }, { "string", FT_STRING, "xsd:string" },
	{ "textarea", FT_TEXTAREA, "xsd:string" }, { "picklist", FT_PICKLIST, "xsd:string" },
	{ "multipicklist", FT_MULTIPICKLIST, "xsd:string" }, { "boolean", FT_BOOLEAN, "xsd:boolean" },
	{ "int", FT_INT, "xsd:int" }, { "double", FT_DOUBLE, "xsd:double" },
	{ "currency", FT_CURRENCY, "xsd:double" }, { "percent", FT_PERCENT, "xsd:double" },
	{ "date", FT_DATE, "xsd:date" }, { "datetime", FT_DATETIME, "xsd:dateTime" },
	{ "reference", FT_REFERENCE, "tns:ID" }, { "email", FT_EMAIL, "xsd:string" },
	{ "phone", FT_PHONE, "xsd:string" }, { "url", FT_URL, "xsd:string" },
};

/* Fields every object carries, maintained by the emulator. */
static const char *const system_fields =
	"[{\"name\":\"Id\",\"type\":\"id\",\"label\":\"Record ID\"},"
	"{\"name\":\"IsDeleted\",\"type\":\"boolean\",\"label\":\"Deleted\"},"
	"{\"name\":\"CreatedDate\",\"type\":\"datetime\",\"label\":\"Created Date\"},"
	"{\"name\":\"CreatedById\",\"type\":\"reference\",\"referenceTo\":[\"User\"],\"relationshipName\":\"CreatedBy\",\"label\":\"Created By ID\"},"
	"{\"name\":\"LastModifiedDate\",\"type\":\"datetime\",\"label\":\"Last Modified Date\"},"
	"{\"name\":\"LastModifiedById\",\"type\":\"reference\",\"referenceTo\":[\"User\"],\"relationshipName\":\"LastModifiedBy\",\"label\":\"Last Modified By ID\"},"
	"{\"name\":\"SystemModstamp\",\"type\":\"datetime\",\"label\":\"System Modstamp\"}]";

static bool
type_parse(const char *s, enum ftype *t)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(s, types[i].name) == 0) {
			*t = types[i].t;
			return true;
		}
	return false;
}

static const char *
type_soap(enum ftype t)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].t == t)
			return types[i].soap;
	return "xsd:string";
}

static const char *
type_name(enum ftype t)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].t == t)
			return types[i].name;
	return "string";
}

/* Fills in every describe property a client may read, keeping what the schema file gave. */
static json_t *
field_describe(const struct sfield *f, json_t *src)
{
	json_t *d = json_deep_copy(src), *pl = json_array(), *refs = json_array();

	for (size_t i = 0; i < f->npicklist; i++)
		json_array_append_new(pl, json_pack("{s:s,s:s,s:b,s:b,s:n}", "value", f->picklist[i],
		    "label", f->picklist[i], "active", 1, "defaultValue",
		    json_is_string(json_object_get(src, "defaultValue")) &&
		    strcmp(json_string_value(json_object_get(src, "defaultValue")), f->picklist[i]) == 0,
		    "validFor"));
	if (f->reference_to)
		json_array_append_new(refs, json_string(f->reference_to));
	json_object_set_new(d, "name", json_string(f->name));
	json_object_set_new(d, "label", json_string(f->label));
	json_object_set_new(d, "type", json_string(type_name(f->type)));
	json_object_set_new(d, "soapType", json_string(type_soap(f->type)));
	json_object_set_new(d, "length", json_integer(f->length));
	json_object_set_new(d, "byteLength", json_integer(f->length * 3));
	json_object_set_new(d, "precision", json_integer(f->precision));
	json_object_set_new(d, "scale", json_integer(f->scale));
	json_object_set_new(d, "digits", json_integer(f->type == FT_INT ? 9 : 0));
	json_object_set_new(d, "nillable", json_boolean(f->nillable));
	json_object_set_new(d, "createable", json_boolean(f->createable));
	json_object_set_new(d, "updateable", json_boolean(f->updateable));
	json_object_set_new(d, "defaultedOnCreate", json_boolean(f->defaulted));
	json_object_set_new(d, "unique", json_boolean(f->unique));
	json_object_set_new(d, "externalId", json_boolean(f->external_id));
	json_object_set_new(d, "idLookup", json_boolean(f->type == FT_ID || f->external_id || f->unique));
	json_object_set_new(d, "custom", json_boolean(f->custom));
	json_object_set_new(d, "picklistValues", pl);
	json_object_set_new(d, "restrictedPicklist", json_boolean(f->restricted));
	json_object_set_new(d, "referenceTo", refs);
	json_object_set_new(d, "relationshipName", f->relationship_name ? json_string(f->relationship_name) : json_null());
	json_object_set_new(d, "filterable", json_true());
	json_object_set_new(d, "sortable", json_boolean(f->type != FT_TEXTAREA && f->type != FT_MULTIPICKLIST));
	json_object_set_new(d, "groupable", json_boolean(f->type != FT_DOUBLE && f->type != FT_CURRENCY && f->type != FT_TEXTAREA));
	json_object_set_new(d, "nameField", json_boolean(strcmp(f->name, "Name") == 0));
	json_object_set_new(d, "caseSensitive", json_false());
	json_object_set_new(d, "calculated", json_boolean(json_is_true(json_object_get(src, "calculated"))));
	json_object_set_new(d, "autoNumber", json_boolean(json_is_true(json_object_get(src, "autoNumber"))));
	json_object_set_new(d, "htmlFormatted", json_false());
	json_object_set_new(d, "dependentPicklist", json_false());
	json_object_set_new(d, "controllerName", json_null());
	json_object_set_new(d, "deprecatedAndHidden", json_false());
	json_object_set_new(d, "encrypted", json_false());
	json_object_set_new(d, "cascadeDelete", json_false());
	json_object_set_new(d, "restrictedDelete", json_false());
	json_object_set_new(d, "namePointing", json_false());
	json_object_set_new(d, "writeRequiresMasterRead", json_false());
	json_object_set_new(d, "permissionable", json_boolean(f->custom && f->nillable));
	json_object_set_new(d, "relationshipOrder", json_null());
	json_object_set_new(d, "calculatedFormula", json_null());
	json_object_set_new(d, "inlineHelpText", json_null());
	json_object_set_new(d, "compoundFieldName", json_null());
	json_object_set_new(d, "extraTypeInfo", json_null());
	json_object_set_new(d, "defaultValueFormula", json_null());
	if (json_object_get(d, "defaultValue") == NULL)
		json_object_set_new(d, "defaultValue", json_null());
	return d;
}

static cs_err
load_field(struct sfield *f, json_t *src, bool sys, struct cs_error *e, const char *oname)
{
	const char *name = cs_json_get_str(src, "name"), *type = cs_json_get_str(src, "type");
	json_t *pl = json_object_get(src, "picklistValues"), *refs = json_object_get(src, "referenceTo");

	memset(f, 0, sizeof(*f));
	if (name == NULL || type == NULL || !type_parse(type, &f->type))
		return cs_error_set(e, CS_EINVAL, "schema: object %s: field needs a name and a known type", oname);
	f->name = strdup(name);
	f->label = strdup(cs_json_get_str(src, "label") ? cs_json_get_str(src, "label") : name);
	f->system = sys;
	f->custom = cs_json_get_bool(src, "custom", strstr(name, "__c") != NULL);
	f->length = (int)cs_json_get_int(src, "length",
	    f->type == FT_ID || f->type == FT_REFERENCE ? 18 :
	    f->type == FT_STRING || f->type == FT_PICKLIST || f->type == FT_URL || f->type == FT_EMAIL ? 255 :
	    f->type == FT_PHONE ? 40 : f->type == FT_TEXTAREA ? 32000 : f->type == FT_MULTIPICKLIST ? 4099 : 0);
	f->precision = (int)cs_json_get_int(src, "precision",
	    f->type == FT_CURRENCY || f->type == FT_DOUBLE ? 18 : f->type == FT_PERCENT ? 3 : 0);
	f->scale = (int)cs_json_get_int(src, "scale", f->type == FT_CURRENCY ? 2 : 0);
	f->nillable = cs_json_get_bool(src, "nillable", !sys && f->type != FT_BOOLEAN);
	f->createable = cs_json_get_bool(src, "createable", !sys);
	f->updateable = cs_json_get_bool(src, "updateable", !sys);
	f->defaulted = cs_json_get_bool(src, "defaultedOnCreate", sys || f->type == FT_BOOLEAN ||
	    json_is_string(json_object_get(src, "defaultValue")));
	f->unique = cs_json_get_bool(src, "unique", false);
	f->external_id = cs_json_get_bool(src, "externalId", false);
	f->restricted = cs_json_get_bool(src, "restrictedPicklist", false);
	f->required = f->createable && !f->nillable && !f->defaulted;
	if (json_is_array(pl)) {
		size_t i;
		json_t *v;
		f->picklist = calloc(json_array_size(pl) + 1, sizeof(char *));
		json_array_foreach(pl, i, v) {
			const char *val = json_is_string(v) ? json_string_value(v) : cs_json_get_str(v, "value");
			if (val)
				f->picklist[f->npicklist++] = strdup(val);
		}
	}
	if (json_is_array(refs) && json_array_size(refs) > 0 && json_is_string(json_array_get(refs, 0)))
		f->reference_to = strdup(json_string_value(json_array_get(refs, 0)));
	if (cs_json_get_str(src, "relationshipName"))
		f->relationship_name = strdup(cs_json_get_str(src, "relationshipName"));
	if (f->type == FT_REFERENCE && f->reference_to == NULL)
		return cs_error_set(e, CS_EINVAL, "schema: %s.%s: reference field needs referenceTo", oname, name);
	f->describe = field_describe(f, src);
	return CS_OK;
}

static void
free_object(struct sobject *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->nfields; i++) {
		struct sfield *f = &o->fields[i];
		free(f->name);
		free(f->label);
		for (size_t j = 0; j < f->npicklist; j++)
			free(f->picklist[j]);
		free(f->picklist);
		free(f->reference_to);
		free(f->relationship_name);
		json_decref(f->describe);
		json_decref(f->jname);
	}
	free(o->fidx);
	json_decref(o->jname);
	for (size_t i = 0; i < o->nrules; i++) {
		free(o->rules[i].field);
		free(o->rules[i].value);
		free(o->rules[i].message);
	}
	free(o->rules);
	free(o->fields);
	free(o->name);
	free(o->label);
	free(o->label_plural);
	json_decref(o->describe);
	json_decref(o->records);
	json_decref(o->bin);
	json_decref(o->deleted_log);
	json_decref(o->uindex);
	free(o);
}

void
schema_free_object(struct sobject *o)
{
	free_object(o);
}

/* FNV-1a over the ASCII-lower-cased name: field names are case-insensitive on the wire. */
static uint32_t
fold_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint32_t)tolower((unsigned char)*s)) * 16777619u;
	return h;
}

bool
schema_index_fields(struct sobject *o)
{
	size_t cap = 16;

	/* the names are shared by every change event and results list; nothing mutates them */
	if (o->jname == NULL && (o->jname = json_string(o->name)) == NULL)
		return false;
	for (size_t i = 0; i < o->nfields; i++) {
		struct sfield *f = &o->fields[i];
		if (f->jname == NULL && (f->jname = json_string(f->name)) == NULL)
			return false;
		if (f->unique || f->external_id)
			o->has_index = true;
	}
	while (cap < o->nfields * 2)
		cap *= 2;
	free(o->fidx);
	o->fidx = NULL;
	uint32_t *t = calloc(cap, sizeof(*t));
	if (t == NULL)
		return false;
	for (size_t i = 0; i < o->nfields; i++) {
		size_t j = fold_hash(o->fields[i].name) & (cap - 1);
		while (t[j] != 0)
			j = (j + 1) & (cap - 1);
		t[j] = (uint32_t)i + 1;
	}
	o->fidx_mask = cap - 1;
	o->fidx = t;
	return true;
}

struct sfield *
emu_field(const struct sobject *o, const char *name)
{
	if (o->fidx == NULL) {
		for (size_t i = 0; i < o->nfields; i++)
			if (strcasecmp(o->fields[i].name, name) == 0)
				return &o->fields[i];
		return NULL;
	}
	for (size_t j = fold_hash(name) & o->fidx_mask; o->fidx[j] != 0; j = (j + 1) & o->fidx_mask) {
		struct sfield *f = &o->fields[o->fidx[j] - 1];
		if (strcasecmp(f->name, name) == 0)
			return f;
	}
	return NULL;
}

/* Appends the validation rules rules (an array, or NULL) to o. */
static cs_err
load_rules(struct sobject *o, json_t *rules, struct cs_error *e)
{
	struct vrule *grow;
	size_t i;
	json_t *v;

	if (!json_is_array(rules) || json_array_size(rules) == 0)
		return CS_OK;
	if ((grow = realloc(o->rules, (o->nrules + json_array_size(rules)) * sizeof(*grow))) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	o->rules = grow;
	json_array_foreach(rules, i, v) {
		const char *f = cs_json_get_str(v, "field"), *msg = cs_json_get_str(v, "message");
		json_t *eq = json_object_get(v, "equals");
		if (f == NULL || msg == NULL || emu_field(o, f) == NULL)
			return cs_error_set(e, CS_EINVAL, "schema: %s: validation rule needs an existing field and a message",
			                    o->name);
		o->rules[o->nrules].field = strdup(emu_field(o, f)->name);
		o->rules[o->nrules].value = json_is_string(eq) ? strdup(json_string_value(eq)) : NULL;
		o->rules[o->nrules].message = strdup(msg);
		o->rules[o->nrules].inactive = false;   /* realloc leaves the new rows as they were */
		o->nrules++;
	}
	return CS_OK;
}

/* An entry naming an object already defined (a standard object of the default schema) adds
 * its fields and validation rules to it, as an admin adds custom fields to Contract in Setup.
 * It may carry nothing else: a different label or key prefix would be a second object. Runs
 * at load, before any record exists. */
static cs_err
extend_object(struct sobject *o, json_t *src, struct cs_error *e)
{
	json_t *fields = json_object_get(src, "fields"), *v;
	struct sfield *grow;
	const char *k;
	size_t i;
	cs_err err;

	json_object_foreach(src, k, v) {
		if (strcmp(k, "name") != 0 && strcmp(k, "fields") != 0 && strcmp(k, "validationRules") != 0)
			return cs_error_set(e, CS_EEXIST, "schema: object %s is defined already: a second entry may only add "
			                    "fields and validationRules, not %s", o->name, k);
	}
	if ((grow = realloc(o->fields, (o->nfields + json_array_size(fields)) * sizeof(*grow))) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	o->fields = grow;
	/* the index is rebuilt below; until then names are looked up by scanning */
	free(o->fidx);
	o->fidx = NULL;
	json_array_foreach(fields, i, v) {
		const char *fname = cs_json_get_str(v, "name");
		if (fname != NULL && emu_field(o, fname) != NULL)
			return cs_error_set(e, CS_EEXIST, "schema: %s.%s defined twice", o->name, fname);
		if ((err = load_field(&o->fields[o->nfields], v, false, e, o->name)) != CS_OK)
			return err;
		o->nfields++;
	}
	if ((err = load_rules(o, json_object_get(src, "validationRules"), e)) != CS_OK)
		return err;
	if (!schema_index_fields(o))
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	return CS_OK;
}

static cs_err
load_object(struct emu *emu, json_t *src, struct cs_error *e)
{
	const char *name = cs_json_get_str(src, "name"), *prefix = cs_json_get_str(src, "keyPrefix");
	json_t *fields = json_object_get(src, "fields"), *sys = NULL, *rules = json_object_get(src, "validationRules");
	struct sobject *o, **grow;
	size_t i, n;
	json_t *v;
	cs_err err = CS_OK;

	if (name == NULL || !json_is_array(fields))
		return cs_error_set(e, CS_EINVAL, "schema: every sobject needs a name and a fields array");
	if ((o = emu_object(emu, name)) != NULL)
		return extend_object(o, src, e);
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	o->name = strdup(name);
	o->custom = cs_json_get_bool(src, "custom", strstr(name, "__c") != NULL);
	o->label = strdup(cs_json_get_str(src, "label") ? cs_json_get_str(src, "label") : name);
	o->label_plural = strdup(cs_json_get_str(src, "labelPlural") ? cs_json_get_str(src, "labelPlural") : name);
	o->cdc = cs_json_get_bool(src, "changeDataCapture", true);
	if (prefix != NULL && strlen(prefix) == 3)
		memcpy(o->prefix, prefix, 3);
	else
		snprintf(o->prefix, sizeof(o->prefix), "a%02zu", emu->nobjects % 100);
	o->records = json_object();
	o->bin = json_object();
	o->deleted_log = json_array();
	o->uindex = json_object();

	sys = json_loads(system_fields, 0, NULL);
	n = json_array_size(sys) + json_array_size(fields);
	o->fields = calloc(n, sizeof(struct sfield));
	if (o->fields == NULL || sys == NULL) {
		err = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(sys, i, v) {
		if ((err = load_field(&o->fields[o->nfields], v, true, e, name)) != CS_OK)
			goto out;
		o->nfields++;
	}
	json_array_foreach(fields, i, v) {
		const char *fname = cs_json_get_str(v, "name");
		if (fname != NULL && emu_field(o, fname) != NULL) {
			err = cs_error_set(e, CS_EEXIST, "schema: %s.%s defined twice", name, fname);
			goto out;
		}
		if ((err = load_field(&o->fields[o->nfields], v, false, e, name)) != CS_OK)
			goto out;
		o->nfields++;
	}
	if ((err = load_rules(o, rules, e)) != CS_OK)
		goto out;
	if (!schema_index_fields(o)) {
		err = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	o->describe = json_deep_copy(src);
	json_object_del(o->describe, "fields");
	json_object_del(o->describe, "validationRules");
	grow = realloc(emu->objects, (emu->nobjects + 1) * sizeof(*grow));
	if (grow == NULL) {
		err = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	emu->objects = grow;
	emu->objects[emu->nobjects++] = o;
	o = NULL;
out:
	json_decref(sys);
	free_object(o);
	return err;
}

cs_err
schema_load(struct emu *emu, const char *text, size_t len, const char *origin, struct cs_error *e)
{
	json_t *root = NULL, *objs, *v;
	size_t i;
	cs_err err;

	if ((err = cs_json_parse(text, len, &root, e)) != CS_OK) {
		char msg[sizeof(e->msg)];
		snprintf(msg, sizeof(msg), "%s", e ? e->msg : "");
		return cs_error_set(e, err, "%s: %s", origin, msg);
	}
	objs = json_object_get(root, "sobjects");
	if (!json_is_array(objs)) {
		json_decref(root);
		return cs_error_set(e, CS_EINVAL, "%s: top level must be {\"sobjects\": [...]}", origin);
	}
	json_array_foreach(objs, i, v) {
		if ((err = load_object(emu, v, e)) != CS_OK) {
			char msg[sizeof(e->msg)];
			snprintf(msg, sizeof(msg), "%s", e ? e->msg : "");
			json_decref(root);
			return cs_error_set(e, err, "%s: %s", origin, msg);
		}
	}
	json_decref(root);
	return CS_OK;
}

cs_err
schema_load_default(struct emu *emu, struct cs_error *e)
{
	return schema_load(emu, sfemu_default_schema, sfemu_default_schema_len, "default schema", e);
}

cs_err
schema_load_file(struct emu *emu, const char *path, struct cs_error *e)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	cs_err err;

	if (f == NULL)
		return cs_error_set(e, CS_EIO, "cannot open schema file %s", path);
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (16L << 20) || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return cs_error_set(e, CS_ETOOBIG, "schema file %s unreadable or over 16 MiB", path);
	}
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return cs_error_set(e, CS_EIO, "cannot read schema file %s", path);
	}
	fclose(f);
	err = schema_load(emu, buf, (size_t)n, path, e);
	free(buf);
	return err;
}

/* Field describe for the object's describe call. New reference. */
json_t *
schema_describe(struct emu *emu, const struct sobject *o, int version, bool full)
{
	char url[256];
	json_t *d = json_deep_copy(o->describe);

	json_object_set_new(d, "name", json_string(o->name));
	json_object_set_new(d, "label", json_string(o->label));
	json_object_set_new(d, "labelPlural", json_string(o->label_plural));
	json_object_set_new(d, "keyPrefix", json_string(o->prefix));
	json_object_set_new(d, "custom", json_boolean(o->custom));
	json_object_set_new(d, "customSetting", json_false());
	static const char *const flags[] = { "createable", "updateable", "deletable", "queryable",
		"searchable", "retrieveable", "replicateable", "triggerable", "undeletable", "layoutable",
		"feedEnabled" };
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (json_object_get(d, flags[i]) == NULL)
			json_object_set_new(d, flags[i], json_true());
	static const char *const off[] = { "mergeable", "activateable", "deprecatedAndHidden", "isInterface" };
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (json_object_get(d, off[i]) == NULL)
			json_object_set_new(d, off[i], json_false());
	json_t *urls = json_object();
	snprintf(url, sizeof(url), "/services/data/v%d.0/sobjects/%s", version, o->name);
	json_object_set_new(urls, "sobject", json_string(url));
	snprintf(url, sizeof(url), "/services/data/v%d.0/sobjects/%s/describe", version, o->name);
	json_object_set_new(urls, "describe", json_string(url));
	snprintf(url, sizeof(url), "/services/data/v%d.0/sobjects/%s/{ID}", version, o->name);
	json_object_set_new(urls, "rowTemplate", json_string(url));
	json_object_set_new(d, "urls", urls);
	if (full) {
		json_t *fields = json_array(), *children = json_array();
		for (size_t i = 0; i < o->nfields; i++)
			json_array_append(fields, o->fields[i].describe);
		json_object_set_new(d, "fields", fields);
		/* child relationships: every reference field elsewhere that points here */
		for (size_t i = 0; i < emu->nobjects; i++) {
			struct sobject *c = emu->objects[i];
			for (size_t j = 0; j < c->nfields; j++) {
				struct sfield *f = &c->fields[j];
				if (f->reference_to == NULL || f->system || strcasecmp(f->reference_to, o->name) != 0)
					continue;
				/* Account.Contacts, Account.Contracts; a custom lookup gets "<Plural>__r" */
				char rel[128];
				size_t j2 = 0;
				for (const char *q = c->label_plural; *q && j2 + 5 < sizeof(rel); q++)
					if (*q != ' ')
						rel[j2++] = *q;
				rel[j2] = '\0';
				if (f->custom)
					snprintf(rel + j2, sizeof(rel) - j2, "__r");
				json_array_append_new(children, json_pack("{s:s,s:s,s:b,s:b,s:b,s:s}",
				    "childSObject", c->name, "field", f->name, "cascadeDelete", 0,
				    "restrictedDelete", 0, "deprecatedAndHidden", 0, "relationshipName", rel));
			}
		}
		json_object_set_new(d, "childRelationships", children);
		json_object_set_new(d, "recordTypeInfos", json_array());
		json_object_set_new(d, "supportedScopes", json_array());
		json_object_set_new(d, "actionOverrides", json_array());
		json_object_set_new(d, "namedLayoutInfos", json_array());
	}
	return d;
}

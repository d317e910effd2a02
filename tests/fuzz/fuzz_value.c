/* fuzz_value.c - libFuzzer target for the value transforms of src/sync/value.c on values from
 * outside: a Salesforce record or change-event payload, or a repository record, read through every
 * field map of a configuration that holds each transform, value map, money part, lookup and
 * custom attribute type.
 *
 * The first byte says which side the JSON object after it comes from. Whatever the values, a
 * transform gives a canonical value or an error (a non-empty message that is UTF-8, never a value
 * and an error together). And the canonical value survives the trip the engine relies on to tell
 * a real change from its own echo: written to the other side and read back, it is the same value
 * (for the transforms that lose nothing: no truncation, date/date-time narrowing, lookup or
 * many-to-one value map). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "sync/value.h"
#include "util/json.h"
#include "util/money.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64u << 10)
#define ERR_MAX 256   /* what the engine gives (plan.c, backfill.c) */

#include "../unit/sync_value_config.h"

static struct cs_config *cfg;

static void
start(void)
{
	struct cs_error_list errs;

	cs_error_list_init(&errs);
	if (cs_config_load_buffer("value.yaml", config_yaml, strlen(config_yaml), CS_CONFIG_NO_SECRETS, &cfg,
	                          &errs) != CS_OK) {
		cs_error_list_print(&errs, stderr);
		abort();
	}
	cs_error_list_cleanup(&errs);
}

static void
check_result(enum sync_val r, const json_t *out, const char *err)
{
	size_t n = strnlen(err, ERR_MAX);

	if (n == ERR_MAX || !cs_utf8_valid(err, n))
		abort();
	switch (r) {
	case SYNC_VAL_OK:
		if (n != 0)
			abort();
		break;
	case SYNC_VAL_SKIP:
		if (out != NULL)
			abort();
		break;
	case SYNC_VAL_ERROR:
		if (out != NULL || n == 0)
			abort();
		break;
	default:
		abort();
	}
}

/* The transforms that write back exactly what they read. */
static bool
lossless(const struct cs_field_map *f)
{
	if (f->lookup_to != NULL || (f->nvalue_map > 0 && !f->from_salesforce))
		return false;
	return f->transform == CS_TRANSFORM_NONE || f->transform == CS_TRANSFORM_DECIMAL_TO_CURRENCY ||
	       f->transform == CS_TRANSFORM_MONEY_AMOUNT || f->transform == CS_TRANSFORM_MONEY_CURRENCY;
}

/* The value Salesforce answers after being sent x for f: a decimal (sent as text) comes back as a
 * JSON number. NULL when the number has more significant digits than a double keeps exactly. */
static json_t *
as_salesforce_answers(const struct cs_field_map *f, const json_t *x)
{
	struct cs_decimal d;
	struct cs_error e;
	const char *s = json_string_value(x);
	char *end;
	double v;
	size_t digits = 0;

	bool decimal = f->transform == CS_TRANSFORM_MONEY_AMOUNT || f->transform == CS_TRANSFORM_DECIMAL_TO_CURRENCY ||
	               (f->transform == CS_TRANSFORM_NONE && f->kind == CS_VALUE_DECIMAL);

	if (!decimal || !json_is_string(x) || cs_decimal_parse(s, json_string_length(x), &d, &e) != CS_OK)
		return json_deep_copy(x);
	for (const char *p = s; *p; p++)
		digits += *p >= '0' && *p <= '9';
	if (digits > 15)
		return NULL;
	v = strtod(s, &end);
	return d.scale == 0 ? json_integer(d.coef) : json_real(v);
}

/* A Salesforce value through f: canonical, then to the repository and read back from it. */
static void
from_salesforce(const struct cs_field_map *f, const json_t *rec)
{
	char err[ERR_MAX];
	bool present = true;
	json_t *c = NULL, *patch, *back = NULL, *x, *ans;
	enum sync_val r = sync_value_from_sf(f, rec, &present, &c, err, sizeof(err));

	check_result(r, c, err);
	if (r != SYNC_VAL_OK || !present) {
		if (r == SYNC_VAL_OK && c != NULL)
			abort();
		json_decref(c);
		return;
	}
	if (c == NULL)
		abort();
	/* sent back to Salesforce as the engine would send it, it reads as the same value */
	if ((x = sync_value_to_sf(f, c)) == NULL)
		abort();
	if (lossless(f) && (ans = as_salesforce_answers(f, x)) != NULL) {
		json_t *o = json_object(), *again = NULL;
		bool here;

		json_object_set_new(o, f->sf, ans);
		r = sync_value_from_sf(f, o, &here, &again, err, sizeof(err));
		if (r != SYNC_VAL_OK || !here || !sync_value_equal(c, again)) {
			fprintf(stderr, "%s (%s): Salesforce value does not survive being sent back (%s)\n", f->clm, f->sf, err);
			abort();
		}
		json_decref(again);
		json_decref(o);
	}
	json_decref(x);
	if (!f->from_salesforce || (patch = json_object()) == NULL) {
		json_decref(c);
		return;
	}
	r = sync_value_to_clm(f, c, NULL, patch, err, sizeof(err));
	check_result(r, NULL, err);
	if (r == SYNC_VAL_OK && lossless(f) && f->transform != CS_TRANSFORM_MONEY_AMOUNT &&
	    f->transform != CS_TRANSFORM_MONEY_CURRENCY) {
		r = sync_value_from_clm(f, patch, &back, err, sizeof(err));
		check_result(r, back, err);
		if (r == SYNC_VAL_OK && !sync_value_equal(c, back)) {
			char *a = json_dumps(c, JSON_ENCODE_ANY), *b = json_dumps(back, JSON_ENCODE_ANY);
			fprintf(stderr, "%s (%s): Salesforce value read as %s comes back from the repository as %s\n",
			        f->clm, f->sf, a, b);
			abort();
		}
	}
	json_decref(back);
	json_decref(patch);
	json_decref(c);
}

/* A repository value through f: canonical, then to Salesforce and read back as it answers. */
static void
from_repository(const struct cs_field_map *f, const json_t *rec)
{
	char err[ERR_MAX];
	json_t *c = NULL, *x, *ans, *o, *back = NULL;
	bool present;
	enum sync_val r = sync_value_from_clm(f, rec, &c, err, sizeof(err));

	check_result(r, c, err);
	if (r != SYNC_VAL_OK) {
		json_decref(c);
		return;
	}
	if (c == NULL)
		abort();
	if ((x = sync_value_to_sf(f, c)) == NULL)
		abort();
	if (lossless(f) && (ans = as_salesforce_answers(f, x)) != NULL) {
		o = json_object();
		json_object_set_new(o, f->sf, ans);
		r = sync_value_from_sf(f, o, &present, &back, err, sizeof(err));
		check_result(r, back, err);
		if (r != SYNC_VAL_OK || !present || !sync_value_equal(c, back)) {
			char *a = json_dumps(c, JSON_ENCODE_ANY), *b = json_dumps(o, JSON_ENCODE_ANY);
			fprintf(stderr, "%s (%s): repository value %s sent as %s does not read back (%s)\n", f->clm,
			        f->sf, a, b, err);
			abort();
		}
		json_decref(o);
		json_decref(back);
	}
	json_decref(x);
	json_decref(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *rec = NULL, *patch;
	struct cs_error e;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (cfg == NULL)
		start();
	if (cs_json_parse((const char *)data + 1, size - 1, &rec, &e) != CS_OK)
		return 0;
	/* a patch built from several Salesforce values, with the record as what is stored: the
	 * money parts meet each other there */
	patch = json_object();
	for (size_t i = 0; i < cfg->nmappings; i++) {
		const struct cs_mapping *m = &cfg->mappings[i];

		for (size_t k = 0; k < m->nfields; k++) {
			const struct cs_field_map *f = &m->fields[k];

			if (data[0] & 1) {
				from_repository(f, rec);
			} else {
				char err[ERR_MAX];
				bool present;
				json_t *c = NULL;

				from_salesforce(f, rec);
				if (sync_value_from_sf(f, rec, &present, &c, err, sizeof(err)) == SYNC_VAL_OK && present &&
				    f->from_salesforce)
					check_result(sync_value_to_clm(f, c, rec, patch, err, sizeof(err)), NULL, err);
				json_decref(c);
			}
		}
	}
	json_decref(patch);
	json_decref(rec);
	return 0;
}

/* mapping_check.c - a configured mapping checked against its sObject's describe: types, permissions, picklists, lengths, scales. */
#include "cli/mapping_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clm/clm.h"
#include "util/id.h"
#include "util/money.h"

/* A repository id as written to Salesforce: a two-letter prefix, '_' and the ULID (util/id.h). */
#define ID_CHARS (2 + 1 + CS_ID_ULID_LEN)
#define NAME_CMP_MAX 80           /* longest name the edit distance compares (an API name's max) */
#define SUGGEST_NAMES_MAX 5000    /* describe fields considered for a suggestion */

/* --- the list ------------------------------------------------------------------------------ */

void
mapcheck_list_init(struct mapcheck_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
mapcheck_list_cleanup(struct mapcheck_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

cs_err
mapcheck_add(struct mapcheck_list *l, enum mapcheck_sev sev, const char *code, size_t field,
             const char *fmt, ...)
{
	struct mapcheck_problem *p;
	va_list ap;
	int w;

	if (l->n >= MAPCHECK_PROBLEMS_MAX) {
		l->dropped++;
		return CS_OK;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct mapcheck_problem *v;

		if (cap > MAPCHECK_PROBLEMS_MAX)
			cap = MAPCHECK_PROBLEMS_MAX;
		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return CS_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	p = &l->v[l->n];
	p->sev = sev;
	p->code = code;
	p->field = field;
	va_start(ap, fmt);
	w = vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	/* A cut message says so rather than ending mid-word without a sign. */
	if (w >= (int)sizeof(p->msg))
		memcpy(p->msg + sizeof(p->msg) - 4, "...", 4);
	l->n++;
	return CS_OK;
}

/* --- the compatibility table --------------------------------------------------------------- */

/* How the repository value travels: as it is, through a value map, or as a lookup's id. */
enum carry { PLAIN, MAPPED, LOOKUP };

static const char *const t_text[] = { "string", "textarea", "picklist", "email", "url", "phone",
                                      "combobox", NULL };
static const char *const t_str[] = { "string", "textarea", NULL };
static const char *const t_pick[] = { "picklist", NULL };
static const char *const t_bool[] = { "boolean", NULL };
static const char *const t_date[] = { "date", NULL };
static const char *const t_dtime[] = { "datetime", NULL };
static const char *const t_amount[] = { "currency", "double", "percent", NULL };
static const char *const t_code[] = { "string", "picklist", NULL };
static const char *const t_dec[] = { "double", "percent", NULL };
static const char *const t_int[] = { "int", "double", NULL };
static const char *const t_ref[] = { "reference", NULL };
static const char *const t_sfid[] = { "reference", "id", "string", NULL };
static const char *const t_id[] = { "string", NULL };

/* Repository kind + transform + carry -> the Salesforce types that hold it without loss. A value
 * map needs a picklist: it is what keeps Salesforce users to values the map translates back.
 * Money is always mapped in parts; a lookup always lands in a reference. */
static const struct compat {
	enum cs_value_kind kind;
	enum cs_transform t;
	enum carry carry;
	const char *const *types;
	const char *text;
} compat[] = {
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, PLAIN, t_text,
	  "string, textarea, picklist, email, url, phone or combobox" },
	{ CS_VALUE_TEXT, CS_TRANSFORM_NONE, MAPPED, t_pick, "picklist" },
	{ CS_VALUE_TEXT, CS_TRANSFORM_TRUNCATE, PLAIN, t_str, "string or textarea" },
	{ CS_VALUE_ENUM, CS_TRANSFORM_NONE, PLAIN, t_pick, "picklist" },
	{ CS_VALUE_ENUM, CS_TRANSFORM_NONE, MAPPED, t_pick, "picklist" },
	{ CS_VALUE_BOOLEAN, CS_TRANSFORM_NONE, PLAIN, t_bool, "boolean" },
	{ CS_VALUE_BOOLEAN, CS_TRANSFORM_NONE, MAPPED, t_pick, "picklist" },
	{ CS_VALUE_DATE, CS_TRANSFORM_NONE, PLAIN, t_date, "date" },
	{ CS_VALUE_DATE, CS_TRANSFORM_DATE_TO_DATETIME, PLAIN, t_dtime, "datetime" },
	{ CS_VALUE_DATETIME, CS_TRANSFORM_NONE, PLAIN, t_dtime, "datetime" },
	{ CS_VALUE_DATETIME, CS_TRANSFORM_DATETIME_TO_DATE, PLAIN, t_date, "date" },
	{ CS_VALUE_MONEY, CS_TRANSFORM_MONEY_AMOUNT, PLAIN, t_amount, "currency, double or percent" },
	{ CS_VALUE_MONEY, CS_TRANSFORM_MONEY_CURRENCY, PLAIN, t_code, "string or picklist" },
	{ CS_VALUE_DECIMAL, CS_TRANSFORM_DECIMAL_TO_CURRENCY, PLAIN, t_amount,
	  "currency, double or percent" },
	{ CS_VALUE_INTEGER, CS_TRANSFORM_DECIMAL_TO_CURRENCY, PLAIN, t_amount,
	  "currency, double or percent" },
	{ CS_VALUE_DECIMAL, CS_TRANSFORM_NONE, PLAIN, t_dec, "double or percent" },
	{ CS_VALUE_INTEGER, CS_TRANSFORM_NONE, PLAIN, t_int, "int or double" },
	{ CS_VALUE_REFERENCE, CS_TRANSFORM_NONE, LOOKUP, t_ref, "reference" },
	{ CS_VALUE_SFID, CS_TRANSFORM_NONE, LOOKUP, t_ref, "reference" },
	{ CS_VALUE_SFID, CS_TRANSFORM_NONE, PLAIN, t_sfid, "reference, id or string" },
	{ CS_VALUE_ID, CS_TRANSFORM_NONE, PLAIN, t_id, "string" },
};

static bool
is_lookup(const struct cs_field_map *f)
{
	return f->lookup_to != NULL || (f->lookup_mapping != NULL && f->lookup_mapping[0] != '\0');
}

static const struct compat *
compat_of(const struct cs_field_map *f)
{
	enum carry c = is_lookup(f) ? LOOKUP : f->nvalue_map > 0 ? MAPPED : PLAIN;

	for (size_t i = 0; i < sizeof(compat) / sizeof(compat[0]); i++)
		if (compat[i].kind == f->kind && compat[i].t == f->transform && compat[i].carry == c)
			return &compat[i];
	return NULL;
}

bool
mapcheck_type_ok(const struct cs_field_map *f, const char *sf_type)
{
	const struct compat *c = compat_of(f);

	for (size_t i = 0; c != NULL && sf_type != NULL && c->types[i] != NULL; i++)
		if (strcasecmp(c->types[i], sf_type) == 0)
			return true;
	return false;
}

const char *
mapcheck_type_expect(const struct cs_field_map *f)
{
	const struct compat *c = compat_of(f);

	return c != NULL ? c->text : "no Salesforce type (the repository side cannot be synced)";
}

bool
mapcheck_writes_sf(const struct cs_field_map *f)
{
	return f->owner != CS_OWNER_SALESFORCE || f->non_owner_write == CS_NON_OWNER_ACCEPT;
}

/* --- repository text limits ---------------------------------------------------------------- */

/* The repository's limit of each built-in text field, in bytes; kept equal to the field tables
 * of src/clm/model.c (tests/unit/test_mapping_check.c holds the two together). A byte limit
 * bounds the characters too: ASCII text has one byte per character. */
static const struct text_limit {
	enum cs_entity e;
	const char *name;
	unsigned long max;
} text_limits[] = {
	{ CS_ENTITY_COUNTERPARTY, "legal_name", 255 },
	{ CS_ENTITY_COUNTERPARTY, "domain", 253 },
	{ CS_ENTITY_COUNTERPARTY, "country", 2 },
	{ CS_ENTITY_COUNTERPARTY, "registration_number", 100 },
	{ CS_ENTITY_CONTRACT, "number", 64 },
	{ CS_ENTITY_CONTRACT, "title", 500 },
	{ CS_ENTITY_CONTRACT, "owner", 200 },
	{ CS_ENTITY_CONTRACT, "description", CLM_TEXT_MAX },
	{ CS_ENTITY_CONTRACT, "payment_terms", 200 },
	{ CS_ENTITY_CONTRACT, "governing_law", 200 },
	{ CS_ENTITY_CONTRACT, "termination_reason", 2000 },
	{ CS_ENTITY_AMENDMENT, "title", 500 },
	{ CS_ENTITY_AMENDMENT, "description", CLM_TEXT_MAX },
	{ CS_ENTITY_OBLIGATION, "description", 2000 },
	{ CS_ENTITY_OBLIGATION, "owner", 200 },
	{ CS_ENTITY_APPROVAL, "approver", 200 },
	{ CS_ENTITY_APPROVAL, "comment", 2000 },
	{ CS_ENTITY_SIGNATURE, "signer", 200 },
};

static unsigned long
builtin_limit(enum cs_entity e, const char *name)
{
	if (strcmp(name, "updated_by") == 0)
		return CLM_ACTOR_MAX - 1;
	for (size_t i = 0; i < sizeof(text_limits) / sizeof(text_limits[0]); i++)
		if (text_limits[i].e == e && strcmp(text_limits[i].name, name) == 0)
			return text_limits[i].max;
	return CLM_TEXT_MAX;
}

unsigned long
mapcheck_clm_length(enum cs_entity e, const struct cs_field_map *f)
{
	if (f->transform == CS_TRANSFORM_TRUNCATE)
		return f->max_length;
	if (f->transform == CS_TRANSFORM_MONEY_CURRENCY)
		return 3;
	switch (f->kind) {
	case CS_VALUE_TEXT:
		if (f->nvalue_map > 0)
			return 0;
		if (f->attr != NULL)
			return f->attr->max_length ? f->attr->max_length : CLM_TEXT_MAX;
		return f->clm != NULL ? builtin_limit(e, f->clm) : CLM_TEXT_MAX;
	case CS_VALUE_ID:
		return ID_CHARS;
	case CS_VALUE_SFID:
		return is_lookup(f) ? 0 : SF_ID_LEN;
	default:
		return 0;
	}
}

/* Characters (code points) in the UTF-8 text s. */
static unsigned long
chars(const char *s)
{
	unsigned long n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* --- suggestions --------------------------------------------------------------------------- */

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive Levenshtein distance; a length past NAME_CMP_MAX counts as far. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[NAME_CMP_MAX + 1], cur[NAME_CMP_MAX + 1];

	if (la > NAME_CMP_MAX || lb > NAME_CMP_MAX)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (lower(a[i - 1]) != lower(b[j - 1]));
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

const char *
mapcheck_suggest(const char *name, const char *const *cands, size_t n)
{
	size_t len = strlen(name), best = (size_t)-1, limit;
	const char *pick = NULL;

	/* A custom field named without its suffix is the commonest slip. */
	for (size_t i = 0; i < n; i++) {
		size_t lc = strlen(cands[i]);

		if (lc == len + 3 && strncasecmp(cands[i], name, len) == 0 &&
		    strcasecmp(cands[i] + len, "__c") == 0)
			return cands[i];
	}
	limit = len < 4 ? 1 : 1 + len / 5;
	if (limit > 4)
		limit = 4;
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(name, cands[i]);

		if (d <= limit && d < best) {
			best = d;
			pick = cands[i];
		}
	}
	return pick;
}

/* " (did you mean X?)" for name among d's fields, or "". */
static void
suggest_field(const struct sf_describe *d, const char *name, char *out, size_t outn)
{
	const char **names;
	size_t n = d->nfields < SUGGEST_NAMES_MAX ? d->nfields : SUGGEST_NAMES_MAX;
	const char *near = NULL;

	out[0] = '\0';
	if (n == 0 || (names = calloc(n, sizeof(*names))) == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		names[i] = d->fields[i].name;
	near = mapcheck_suggest(name, names, n);
	if (near != NULL)
		snprintf(out, outn, " (did you mean %s?)", near);
	free(names);
}

/* --- one field ----------------------------------------------------------------------------- */

static const char *
kind_text(enum cs_value_kind k)
{
	switch (k) {
	case CS_VALUE_TEXT: return "text";
	case CS_VALUE_INTEGER: return "a whole number";
	case CS_VALUE_DECIMAL: return "a decimal";
	case CS_VALUE_MONEY: return "money";
	case CS_VALUE_DATE: return "a date";
	case CS_VALUE_DATETIME: return "a date-time";
	case CS_VALUE_BOOLEAN: return "a boolean";
	case CS_VALUE_ENUM: return "a fixed set of values";
	case CS_VALUE_REFERENCE: return "a repository reference";
	case CS_VALUE_SFID: return "a Salesforce id";
	case CS_VALUE_ID: return "the record id";
	}
	return "?";
}

static const char *
transform_text(enum cs_transform t)
{
	switch (t) {
	case CS_TRANSFORM_NONE: return "";
	case CS_TRANSFORM_DATE_TO_DATETIME: return " with transform date_to_datetime";
	case CS_TRANSFORM_DATETIME_TO_DATE: return " with transform datetime_to_date";
	case CS_TRANSFORM_MONEY_AMOUNT: return " (its amount, transform money_amount)";
	case CS_TRANSFORM_MONEY_CURRENCY: return " (its currency code, transform money_currency)";
	case CS_TRANSFORM_DECIMAL_TO_CURRENCY: return " with transform decimal_to_currency";
	case CS_TRANSFORM_TRUNCATE: return " with transform truncate";
	}
	return "";
}

/* Why the repository writes f to Salesforce, for messages. */
static const char *
writer_text(const struct cs_field_map *f)
{
	switch (f->owner) {
	case CS_OWNER_CLM: return "owner clm";
	case CS_OWNER_BOTH: return "owner both";
	case CS_OWNER_SALESFORCE: return "owner salesforce with non_owner_write accept";
	}
	return "?";
}

static bool
text_type(const char *t)
{
	static const char *const tt[] = { "string", "textarea", "email", "url", "phone", "combobox",
	                                  "encryptedstring", NULL };

	for (size_t i = 0; tt[i] != NULL; i++)
		if (strcasecmp(t, tt[i]) == 0)
			return true;
	return false;
}

static bool
has_value(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL && strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* The values the repository sends for f (value map targets, or a custom picklist's own values),
 * repeats included; *n = 0 when any text may be sent. Borrowed from f; caller frees the array. */
static cs_err
sent_values(const struct cs_field_map *f, const char ***out, size_t *n)
{
	size_t cnt = f->nvalue_map > 0 ? f->nvalue_map :
	             f->kind == CS_VALUE_ENUM && f->attr != NULL ? f->attr->nvalues : 0;

	*out = NULL;
	*n = 0;
	if (cnt == 0)
		return CS_OK;
	if ((*out = calloc(cnt, sizeof(**out))) == NULL)
		return CS_ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		const char *v = f->nvalue_map > 0 ? f->value_map[i].sf : f->attr->values[i];

		if (v != NULL)
			(*out)[(*n)++] = v;
	}
	return CS_OK;
}

static cs_err
check_picklist(const struct cs_field_map *f, size_t i, const struct sf_field *s,
               struct mapcheck_list *out)
{
	const char **sent = NULL;
	size_t nsent = 0, nmiss = 0, shown = 0, k = 0;
	char near[NAME_CMP_MAX + 40], list[MAPCHECK_MSG_MAX / 2];
	bool w = mapcheck_writes_sf(f);
	cs_err err;

	if ((err = sent_values(f, &sent, &nsent)) != CS_OK || nsent == 0)
		goto out;
	for (size_t j = 0; j < nsent && err == CS_OK; j++) {
		const char *v = sent[j], *sug;
		bool seen = false;

		for (size_t x = 0; x < j && !seen; x++)
			seen = strcmp(sent[x], v) == 0;
		if (seen || has_value(s->picklist, s->npicklist, v))
			continue;
		sug = mapcheck_suggest(v, (const char *const *)s->picklist, s->npicklist);
		near[0] = '\0';
		if (sug != NULL)
			snprintf(near, sizeof(near), " (did you mean %s?)", sug);
		if (s->restricted_picklist)
			err = mapcheck_add(out, w ? MAPCHECK_ERROR : MAPCHECK_WARN, "picklist_value", i,
			                   "%s is not a value of the restricted picklist %s%s: %s", v, f->sf,
			                   near, w ? "Salesforce refuses it (INVALID_OR_NULL_FOR_RESTRICTED_"
			                   "PICKLIST)" : "it can never arrive from Salesforce");
		else
			err = mapcheck_add(out, MAPCHECK_WARN, "picklist_value", i,
			                   "%s is not a value of the picklist %s%s: it is unrestricted, so "
			                   "Salesforce stores it, but users cannot pick it", v, f->sf, near);
	}
	if (err != CS_OK || !f->from_salesforce)
		goto out;
	/* Salesforce writes this field into the repository: each of its values must translate. */
	list[0] = '\0';
	for (size_t j = 0; j < s->npicklist; j++) {
		bool found = false;

		for (size_t x = 0; x < nsent && !found; x++)
			found = strcmp(sent[x], s->picklist[j]) == 0;
		if (found)
			continue;
		if (shown < MAPCHECK_VALUES_SHOWN && k < sizeof(list)) {
			int wr = snprintf(list + k, sizeof(list) - k, "%s%s", nmiss ? ", " : "",
			                  s->picklist[j]);

			k += wr > 0 ? (size_t)wr : 0;
			shown++;
		}
		nmiss++;
	}
	if (nmiss > 0) {
		char more[48] = "";

		if (nmiss > shown)
			snprintf(more, sizeof(more), " and %zu more", nmiss - shown);
		err = mapcheck_add(out, s->restricted_picklist ? MAPCHECK_ERROR : MAPCHECK_WARN,
		                   "picklist_uncovered", i,
		                   "Salesforce writes %s, but %s %s not in value_map: %s%s; a record "
		                   "with %s cannot be synced into the repository%s", f->sf,
		                   nmiss == 1 ? "its value" : "its values", nmiss == 1 ? "is" : "are",
		                   list, more, nmiss == 1 ? "it" : "one of them",
		                   s->restricted_picklist ? "" : " (unrestricted picklist: a warning, "
		                   "other values can arrive anyway)");
	}
out:
	free(sent);
	return err;
}

static cs_err
check_length(enum cs_entity e, const struct cs_field_map *f, size_t i, const struct sf_field *s,
             struct mapcheck_list *out)
{
	unsigned long rl = mapcheck_clm_length(e, f), sl = s->length > 0 ? (unsigned long)s->length : 0;
	cs_err err = CS_OK;

	if (mapcheck_writes_sf(f) && text_type(s->type) && rl > 0 && sl > 0 && rl > sl) {
		if (f->transform == CS_TRANSFORM_TRUNCATE)
			err = mapcheck_add(out, MAPCHECK_ERROR, "length", i,
			                   "truncate keeps %lu characters but %s holds %lu: set max_length: %lu",
			                   rl, f->sf, sl, sl);
		else
			err = mapcheck_add(out, MAPCHECK_ERROR, "length", i,
			                   "%s holds up to %lu characters but %s only %lu: longer values are "
			                   "refused (STRING_TOO_LONG)%s", f->clm, rl, f->sf, sl,
			                   f->kind != CS_VALUE_TEXT ? "" : f->from_salesforce ?
			                   "; lengthen the Salesforce field (truncation is only for fields "
			                   "Salesforce does not write back)" :
			                   "; use transform truncate with max_length and allow_truncate: true, "
			                   "or lengthen the Salesforce field");
	}
	if (err != CS_OK || !f->from_salesforce || f->kind != CS_VALUE_TEXT || f->nvalue_map > 0)
		return err;
	rl = mapcheck_clm_length(e, f);
	if (strcasecmp(s->type, "picklist") == 0) {
		/* Only the listed values can arrive from a picklist, whatever its length says. */
		sl = 0;
		for (size_t j = 0; j < s->npicklist; j++)
			if (chars(s->picklist[j]) > sl)
				sl = chars(s->picklist[j]);
	} else if (!text_type(s->type)) {
		return CS_OK;
	}
	if (rl > 0 && sl > rl)
		err = mapcheck_add(out, MAPCHECK_WARN, "length", i,
		                   "%s values can have %lu characters but %s holds %lu: a longer value "
		                   "from Salesforce is refused by the repository", f->sf, sl, f->clm, rl);
	return err;
}

static cs_err
check_scale(const struct cs_field_map *f, size_t i, const struct sf_field *s,
            struct mapcheck_list *out)
{
	bool w = mapcheck_writes_sf(f);
	long sc = s->scale;

	if (f->transform == CS_TRANSFORM_MONEY_AMOUNT || f->transform == CS_TRANSFORM_DECIMAL_TO_CURRENCY) {
		if (f->has_scale && w && (long)f->scale > sc)
			return mapcheck_add(out, MAPCHECK_ERROR, "scale", i,
			                    "scale %u but %s has scale %ld: amounts with more than %ld "
			                    "fraction digits would be rounded by Salesforce; set scale: %ld "
			                    "(such amounts are then refused, not rounded)", f->scale, f->sf,
			                    sc, sc, sc);
		if (f->has_scale && f->from_salesforce && (long)f->scale < sc)
			return mapcheck_add(out, MAPCHECK_WARN, "scale", i,
			                    "scale %u but %s has scale %ld: Salesforce values with more than "
			                    "%u fraction digits are refused by the repository", f->scale,
			                    f->sf, sc, f->scale);
		if (!f->has_scale && w && sc < CS_CURRENCY_EXPONENT_MAX)
			return mapcheck_add(out, MAPCHECK_WARN, "scale", i,
			                    "no scale: amounts go with their currency's minor digits (up to "
			                    "%d, e.g. BHD 3, CLF 4) but %s has scale %ld; set scale: %ld to "
			                    "refuse, not round, amounts with more digits", CS_CURRENCY_EXPONENT_MAX,
			                    f->sf, sc, sc);
		return CS_OK;
	}
	if (f->kind == CS_VALUE_DECIMAL && f->transform == CS_TRANSFORM_NONE && w &&
	    sc < CS_DECIMAL_SCALE_MAX)
		return mapcheck_add(out, MAPCHECK_WARN, "scale", i,
		                    "%s keeps up to %d fraction digits but %s has scale %ld: Salesforce "
		                    "rounds longer values; use transform decimal_to_currency with scale: "
		                    "%ld to refuse them instead", f->clm, CS_DECIMAL_SCALE_MAX, f->sf, sc,
		                    sc);
	return CS_OK;
}

static cs_err
check_reference(const struct cs_field_map *f, size_t i, const struct sf_field *s,
                struct mapcheck_list *out)
{
	const char *target = f->lookup_to != NULL ? f->lookup_to->sobject : NULL;
	char list[MAPCHECK_MSG_MAX / 2];
	size_t k = 0;

	if (target == NULL)
		return CS_OK;
	for (size_t j = 0; j < s->nreference_to; j++)
		if (strcasecmp(s->reference_to[j], target) == 0)
			return CS_OK;
	list[0] = '\0';
	for (size_t j = 0; j < s->nreference_to && k < sizeof(list); j++) {
		int wr = snprintf(list + k, sizeof(list) - k, "%s%s", j ? ", " : "", s->reference_to[j]);

		k += wr > 0 ? (size_t)wr : 0;
	}
	return mapcheck_add(out, MAPCHECK_ERROR, "reference_target", i,
	                    "%s refers to %s, but lookup %s maps %s", f->sf,
	                    s->nreference_to ? list : "nothing", f->lookup_mapping, target);
}

static cs_err
check_writable(const struct cs_mapping *m, const struct cs_field_map *f, size_t i,
               const struct sf_field *s, struct mapcheck_list *out)
{
	bool nc = m->on_create.salesforce == CS_CREATE_CREATE && !s->createable, nu = !s->updateable;
	const char *why = writer_text(f);

	if (!mapcheck_writes_sf(f))
		return CS_OK;
	if (nu && !s->createable)
		return mapcheck_add(out, MAPCHECK_ERROR, "not_writable", i,
		                    "%s is read-only for the integration user (not createable, not "
		                    "updateable%s) but the repository writes it (%s)", f->sf,
		                    s->calculated ? "; calculated by Salesforce" : "", why);
	if (nu)
		return mapcheck_add(out, MAPCHECK_ERROR, "not_writable", i,
		                    "%s is not updateable for the integration user but the repository "
		                    "writes it (%s): every update would be refused", f->sf, why);
	if (nc)
		return mapcheck_add(out, MAPCHECK_ERROR, "not_writable", i,
		                    "%s is not createable for the integration user but the repository "
		                    "writes it (%s) and creates %s records (on_create.salesforce: create)",
		                    f->sf, why, m->sobject);
	return CS_OK;
}

static cs_err
check_field(const struct cs_mapping *m, size_t i, const struct sf_describe *d,
            struct mapcheck_list *out)
{
	const struct cs_field_map *f = &m->fields[i];
	const struct sf_field *s = f->sf != NULL ? sf_describe_field(d, f->sf) : NULL;
	char near[NAME_CMP_MAX + 40];
	cs_err err;

	if (f->sf == NULL)
		return CS_OK;
	if (s == NULL) {
		suggest_field(d, f->sf, near, sizeof(near));
		return mapcheck_add(out, MAPCHECK_ERROR, "field_missing", i,
		                    "%s.%s does not exist or the integration user cannot see it%s",
		                    m->sobject, f->sf, near);
	}
	if (!mapcheck_type_ok(f, s->type))
		/* The other checks read the type's properties: with the wrong type they only add noise. */
		return mapcheck_add(out, MAPCHECK_ERROR, "type_mismatch", i,
		                    "%s is %s%s%s and needs a field of type %s, but %s is %s", f->clm,
		                    kind_text(f->kind), transform_text(f->transform),
		                    is_lookup(f) ? " (a lookup)" : f->nvalue_map ? " (with a value_map)" : "",
		                    mapcheck_type_expect(f), f->sf, s->type);
	if ((err = check_reference(f, i, s, out)) != CS_OK ||
	    (err = check_writable(m, f, i, s, out)) != CS_OK ||
	    (err = check_scale(f, i, s, out)) != CS_OK ||
	    (err = check_length(m->entity, f, i, s, out)) != CS_OK)
		return err;
	if (strcasecmp(s->type, "picklist") == 0)
		return check_picklist(f, i, s, out);
	return CS_OK;
}

/* --- the mapping --------------------------------------------------------------------------- */

static cs_err
check_external_id(const struct cs_mapping *m, const struct sf_describe *d,
                  struct mapcheck_list *out)
{
	const char *x = m->external_id_field;
	const struct sf_field *s;
	char near[NAME_CMP_MAX + 40];
	cs_err err = CS_OK;

	if (x == NULL || x[0] == '\0')
		return CS_OK;
	if ((s = sf_describe_field(d, x)) == NULL) {
		suggest_field(d, x, near, sizeof(near));
		return mapcheck_add(out, MAPCHECK_ERROR, "external_id", MAPCHECK_MAPPING,
		                    "external_id_field %s.%s does not exist or the integration user "
		                    "cannot see it%s", m->sobject, x, near);
	}
	if (strcasecmp(s->type, "string") != 0)
		return mapcheck_add(out, MAPCHECK_ERROR, "external_id", MAPCHECK_MAPPING,
		                    "external_id_field %s is %s: repository ids are text, so it must be a "
		                    "Text field marked External ID", x, s->type);
	if (!s->external_id)
		err = mapcheck_add(out, MAPCHECK_ERROR, "external_id", MAPCHECK_MAPPING,
		                   "external_id_field %s is not an External ID field: Salesforce refuses "
		                   "upserts by it; mark it External ID and Unique", x);
	else if (!s->unique)
		err = mapcheck_add(out, MAPCHECK_WARN, "external_id", MAPCHECK_MAPPING,
		                   "external_id_field %s is not unique: two records with the same "
		                   "repository id make an upsert answer 300 (multiple matches) and the "
		                   "change waits in the dead-letter queue; mark it Unique", x);
	if (err == CS_OK && s->length > 0 && s->length < ID_CHARS)
		err = mapcheck_add(out, MAPCHECK_ERROR, "external_id", MAPCHECK_MAPPING,
		                   "external_id_field %s holds %ld characters; repository ids have %d",
		                   x, s->length, ID_CHARS);
	if (err == CS_OK && m->on_create.salesforce == CS_CREATE_CREATE && !s->createable)
		err = mapcheck_add(out, MAPCHECK_ERROR, "external_id", MAPCHECK_MAPPING,
		                   "external_id_field %s is not createable for the integration user, so "
		                   "records created in the repository cannot be upserted by it", x);
	return err;
}

static cs_err
check_match_keys(const struct cs_mapping *m, const struct sf_describe *d,
                 struct mapcheck_list *out)
{
	char near[NAME_CMP_MAX + 40];
	cs_err err = CS_OK;

	for (size_t i = 0; err == CS_OK && i < m->match.nkeys; i++) {
		const char *k = m->match.keys[i].sf;

		if (k == NULL || sf_describe_field(d, k) != NULL)
			continue;
		suggest_field(d, k, near, sizeof(near));
		err = mapcheck_add(out, MAPCHECK_ERROR, "match_key", MAPCHECK_MAPPING,
		                   "match key %s.%s does not exist or the integration user cannot see "
		                   "it%s", m->sobject, k, near);
	}
	return err;
}

static cs_err
check_object(const struct cs_mapping *m, const struct sf_describe *d, struct mapcheck_list *out)
{
	bool writes = false;
	cs_err err = CS_OK;

	for (size_t i = 0; i < m->nfields && !writes; i++)
		writes = mapcheck_writes_sf(&m->fields[i]);
	if (m->on_create.salesforce == CS_CREATE_CREATE && !d->createable)
		err = mapcheck_add(out, MAPCHECK_ERROR, "sobject_permission", MAPCHECK_MAPPING,
		                   "the integration user cannot create %s records, but "
		                   "on_create.salesforce is create", m->sobject);
	if (err == CS_OK && writes && !d->updateable)
		err = mapcheck_add(out, MAPCHECK_ERROR, "sobject_permission", MAPCHECK_MAPPING,
		                   "the integration user cannot update %s records, but the repository "
		                   "writes fields of them", m->sobject);
	if (err == CS_OK && m->on_delete.salesforce == CS_DELETE_DELETE && !d->deletable)
		err = mapcheck_add(out, MAPCHECK_ERROR, "sobject_permission", MAPCHECK_MAPPING,
		                   "the integration user cannot delete %s records, but "
		                   "on_delete.salesforce is delete", m->sobject);
	return err;
}

cs_err
mapcheck_mapping(const struct cs_mapping *m, const struct sf_describe *d, struct mapcheck_list *out)
{
	cs_err err;

	if ((err = check_object(m, d, out)) != CS_OK || (err = check_external_id(m, d, out)) != CS_OK ||
	    (err = check_match_keys(m, d, out)) != CS_OK)
		return err;
	for (size_t i = 0; i < m->nfields; i++)
		if ((err = check_field(m, i, d, out)) != CS_OK)
			return err;
	return CS_OK;
}

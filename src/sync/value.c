/* value.c - one mapped field's value in its canonical form: read from either side, written to either side. */
#include "sync/value.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/money.h"
#include "util/timeutil.h"

#define SHOW_MAX 64               /* bytes of a value an error message may quote (value.h) */
#define SHOW_BUF (SHOW_MAX + 4)   /* the quoted bytes, "..." after a cut, the NUL */
#define DATETIME_TEXT_MAX 64      /* longer date-time text is refused before parsing */
#define MS_PER_DAY INT64_C(86400000)
/* Below this magnitude a double holds every integer exactly and its shortest decimal form fits
 * a cs_decimal; above it the digits written would be the binary float's, not the ones
 * Salesforce stored. With a scale the bound is tighter (see sf_decimal). */
#define EXACT_MAX 1e15

/* --- messages ------------------------------------------------------------------------------- */

static void
clear(char *err, size_t errn)
{
	if (err != NULL && errn > 0)
		err[0] = '\0';
}

static enum sync_val vfail(const struct cs_field_map *f, char *err, size_t errn, const char *fmt,
                           va_list ap) __attribute__((format(printf, 4, 0)));
static enum sync_val fail(const struct cs_field_map *f, char *err, size_t errn, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));
static enum sync_val failmap(char *err, size_t errn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes "CLM (SF): " and the message into err (when f is not NULL) and returns SYNC_VAL_ERROR. */
static enum sync_val
vfail(const struct cs_field_map *f, char *err, size_t errn, const char *fmt, va_list ap)
{
	int k = 0;

	if (err == NULL || errn == 0)
		return SYNC_VAL_ERROR;
	if (f != NULL)
		k = snprintf(err, errn, "%s (%s): ", f->clm, f->sf);
	if (k >= 0 && (size_t)k < errn)
		vsnprintf(err + k, errn - (size_t)k, fmt, ap);
	return SYNC_VAL_ERROR;
}

static enum sync_val
fail(const struct cs_field_map *f, char *err, size_t errn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(f, err, errn, fmt, ap);
	va_end(ap);
	return SYNC_VAL_ERROR;
}

/* As fail, for the value-map messages, which name both fields in their own words. */
static enum sync_val
failmap(char *err, size_t errn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(NULL, err, errn, fmt, ap);
	va_end(ap);
	return SYNC_VAL_ERROR;
}

/* At most SHOW_MAX bytes of s (n bytes, UTF-8) for a message, into buf (SHOW_BUF bytes): cut
 * before a character that would not fit, control characters and quotes as '?', "..." after a
 * cut. Values come from outside: a message must stay one short, printable line. */
static const char *
show(const char *s, size_t n, char *buf)
{
	size_t i = 0, k = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

		if (i + len > n || i + len > SHOW_MAX)
			break;
		if (c < 0x20 || c == 0x7F || c == '\'' || (c >= 0x80 && c < 0xC0)) {
			buf[k++] = '?';
		} else {
			memcpy(buf + k, s + i, len);
			k += len;
		}
		i += len;
	}
	if (i < n) {
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k] = '\0';
	return buf;
}

/* A JSON value for a message: the text of a string or number (bounded as show()). */
static const char *
show_json(const json_t *v, char *buf)
{
	if (json_is_string(v))
		return show(json_string_value(v), json_string_length(v), buf);
	if (json_is_integer(v))
		snprintf(buf, SHOW_BUF, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, SHOW_BUF, "%.17g", json_real_value(v));
	else
		snprintf(buf, SHOW_BUF, "%s", json_is_true(v) ? "true" : json_is_false(v) ? "false" :
		         json_is_object(v) ? "{...}" : json_is_array(v) ? "[...]" : "null");
	return buf;
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING: return "text";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* The error for a value of the wrong JSON type; side says whose value it is. */
static enum sync_val
wrong(const struct cs_field_map *f, const char *expected, const char *side, const json_t *v,
      char *err, size_t errn)
{
	char shown[SHOW_BUF];

	if (json_is_object(v) || json_is_array(v))
		return fail(f, err, errn, "expected %s %s, got %s", expected, side, type_name(v));
	return fail(f, err, errn, "expected %s %s, got %s '%s'", expected, side, type_name(v),
	            show_json(v, shown));
}

#define IN_CLM "in the repository"
#define IN_SF "from Salesforce"
#define IN_CANON "for the repository"   /* a canonical value on its way to the repository */

/* --- small pieces --------------------------------------------------------------------------- */

static bool
is_null(const json_t *v)
{
	return v == NULL || json_is_null(v);
}

/* Sets *out to x (a new reference): SYNC_VAL_OK, or SYNC_VAL_ERROR when x is NULL (out of memory). */
static enum sync_val
give(const struct cs_field_map *f, json_t *x, json_t **out, char *err, size_t errn)
{
	if (x == NULL)
		return fail(f, err, errn, "out of memory");
	*out = x;
	return SYNC_VAL_OK;
}

/* A text value: "" is null, as Salesforce stores an empty text field. */
static json_t *
text_value(const json_t *v)
{
	return json_string_length(v) == 0 ? json_null() : json_stringn(json_string_value(v),
	                                                                json_string_length(v));
}

/* The value of repository field name ("custom.x" lives under "custom") in rec, or NULL when rec
 * does not hold it. */
static const json_t *
clm_get(const json_t *rec, const char *name)
{
	if (!json_is_object(rec))
		return NULL;
	if (strncmp(name, "custom.", 7) == 0)
		return json_object_get(json_object_get(rec, "custom"), name + 7);
	return json_object_get(rec, name);
}

/* The field name of the Salesforce object rec, compared without case as Salesforce does. */
static const json_t *
sf_get(const json_t *rec, const char *name)
{
	const json_t *v = json_object_get(rec, name);
	const char *key;
	json_t *val;

	if (v != NULL)
		return v;
	/* Iterating reads the object only; the cast is for jansson's macro. */
	json_object_foreach((json_t *)rec, key, val) {
		if (strcasecmp(key, name) == 0)
			return val;
	}
	return NULL;
}

/* The UTF-8 text v as a C string for a value map: a string without NUL bytes, or a boolean as
 * "true"/"false" (the keys a boolean's value_map is written with). NULL for anything else. */
static const char *
map_text(const json_t *v)
{
	if (json_is_string(v))
		return strlen(json_string_value(v)) == json_string_length(v) ? json_string_value(v) : NULL;
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return NULL;
}

/* Parses a date-time with any offset into epoch ms, within the dates the calendar functions
 * handle (0001-01-01 .. 9999-12-31 in UTC, after the offset is applied). */
static bool
parse_datetime(const json_t *v, int64_t *ms)
{
	int64_t lo = cs_days_from_civil(1, 1, 1) * MS_PER_DAY;
	int64_t hi = (cs_days_from_civil(9999, 12, 31) + 1) * MS_PER_DAY;
	size_t n = json_string_length(v);

	if (!json_is_string(v) || n > DATETIME_TEXT_MAX ||
	    !cs_datetime_parse(json_string_value(v), n, ms))
		return false;
	return *ms >= lo && *ms < hi;
}

static bool
parse_date(const json_t *v, int64_t *days)
{
	return json_is_string(v) && cs_date_parse(json_string_value(v), json_string_length(v), days);
}

static json_t *
datetime_value(int64_t ms)
{
	char txt[32];

	cs_time_format_iso(ms, txt, sizeof(txt));
	return json_string(txt);
}

static json_t *
date_value(int64_t days)
{
	char txt[16];

	cs_date_format(days, txt, sizeof(txt));
	return json_string(txt);
}

/* The UTC calendar day of epoch ms (floor division: before 1970 too). */
static int64_t
day_of(int64_t ms)
{
	return ms >= 0 ? ms / MS_PER_DAY : -((-ms + MS_PER_DAY - 1) / MS_PER_DAY);
}

/* Parses the decimal text v (a JSON string). */
static enum sync_val
parse_decimal(const struct cs_field_map *f, const json_t *v, const char *side,
              struct cs_decimal *d, char *err, size_t errn)
{
	struct cs_error e = { 0 };
	char shown[SHOW_BUF];

	if (!json_is_string(v))
		return wrong(f, "a decimal string", side, v, err, errn);
	if (cs_decimal_parse(json_string_value(v), json_string_length(v), d, &e) != CS_OK)
		return fail(f, err, errn, "'%s' %s is not an exact decimal: %s",
		            show_json(v, shown), side, e.msg);
	return SYNC_VAL_OK;
}

/* Writes d in canonical form into txt (CS_DECIMAL_TEXT_MAX bytes): exactly f->scale fraction
 * digits when f->has_scale, brought there with mode (CS_ROUND_EXACT refuses lost digits), else
 * without trailing fraction zeros. */
static enum sync_val
decimal_text(const struct cs_field_map *f, struct cs_decimal d, enum cs_rounding mode, char *txt,
             char *err, size_t errn)
{
	char shown[CS_DECIMAL_TEXT_MAX];
	cs_err rc;

	if (cs_decimal_format(&d, shown, sizeof(shown)) != CS_OK)
		return fail(f, err, errn, "the decimal cannot be written");
	if (f->has_scale) {
		rc = cs_decimal_rescale(&d, (int)f->scale, mode, &d);
		if (rc == CS_ETOOBIG)
			return fail(f, err, errn, "%s is too large for a decimal with %u fraction digits",
			            shown, f->scale);
		if (rc != CS_OK)
			return fail(f, err, errn, "%s has more than %u fraction digits; it is refused, "
			            "not rounded", shown, f->scale);
	} else {
		d = cs_decimal_normalize(d);
	}
	if (cs_decimal_format(&d, txt, CS_DECIMAL_TEXT_MAX) != CS_OK)
		return fail(f, err, errn, "the decimal cannot be written");
	return SYNC_VAL_OK;
}

/* The exact decimal of a Salesforce number: an integer as it is; a real as the shortest decimal
 * that reads back as the same double (the digits Salesforce wrote: 120000.5, not the binary
 * float's 120000.500000000000...), which decimal_text then rounds to the field's scale. */
static enum sync_val
sf_decimal(const struct cs_field_map *f, const json_t *v, struct cs_decimal *d, char *err,
           size_t errn)
{
	struct cs_error e = { 0 };
	char txt[64];
	double x;

	if (json_is_integer(v)) {
		d->coef = json_integer_value(v);
		d->scale = 0;
		return SYNC_VAL_OK;
	}
	if (!json_is_real(v))
		return wrong(f, "a number", IN_SF, v, err, errn);
	x = json_real_value(v);
	if (!isfinite(x) || fabs(x) >= EXACT_MAX)
		return fail(f, err, errn, "%.17g from Salesforce is too large to convert exactly", x);
	/* Salesforce stored a decimal D with at most `scale` fraction digits and sent the double
	 * nearest to it. D is the only such decimal within half a unit of the double's last place
	 * exactly when that unit is below 10^-scale (2^46, about 7.0e13, at scale 2): above it,
	 * 99999999999999.99 arrives as ...99.984375 and would be written back as ...99.98. */
	if (f->has_scale && nextafter(fabs(x), INFINITY) - fabs(x) >= pow(10.0, -(double)f->scale))
		return fail(f, err, errn, "%.17g from Salesforce is too large to convert exactly at "
		            "%u fraction digits", x, f->scale);
	for (int p = 0; p <= CS_DECIMAL_SCALE_MAX; p++) {
		snprintf(txt, sizeof(txt), "%.*f", p, x);
		if (strtod(txt, NULL) == x && cs_decimal_parse(txt, strlen(txt), d, &e) == CS_OK)
			return SYNC_VAL_OK;
	}
	/* A tiny value with more than 18 significant fraction digits: only its rounding to the
	 * field's scale has a meaning. */
	if (f->has_scale) {
		snprintf(txt, sizeof(txt), "%.*f", (int)f->scale, x);
		if (cs_decimal_parse(txt, strlen(txt), d, &e) == CS_OK)
			return SYNC_VAL_OK;
	}
	return fail(f, err, errn, "%.17g from Salesforce has no exact decimal form", x);
}

/* Bytes of the first max characters (code points) of UTF-8 text s of n bytes. */
static size_t
utf8_prefix(const char *s, size_t n, unsigned max)
{
	size_t i = 0;
	unsigned chars = 0;

	for (; i < n; i++) {
		if (((unsigned char)s[i] & 0xC0) == 0x80)
			continue;   /* a continuation byte stays with its character */
		if (chars == max)
			break;
		chars++;
	}
	return i;
}

/* --- repository -> canonical ---------------------------------------------------------------- */

static enum sync_val
money_from_clm(const struct cs_field_map *f, const json_t *v, json_t **out, char *err, size_t errn)
{
	const json_t *part;
	struct cs_decimal d;
	char txt[CS_DECIMAL_TEXT_MAX];
	enum sync_val r;

	if (is_null(v))
		return give(f, json_null(), out, err, errn);   /* no money: neither part has a value */
	if (!json_is_object(v))
		return wrong(f, "money {\"amount\", \"currency\"}", IN_CLM, v, err, errn);
	if (f->transform == CS_TRANSFORM_MONEY_CURRENCY) {
		part = json_object_get(v, "currency");
		if (!json_is_string(part))
			return fail(f, err, errn, "the money in the repository has no currency");
		/* "" is no value, as for any text: null, which is what Salesforce gives back */
		return give(f, text_value(part), out, err, errn);
	}
	part = json_object_get(v, "amount");
	if (!json_is_string(part))
		return fail(f, err, errn, "the money in the repository has no amount");
	if ((r = parse_decimal(f, part, IN_CLM, &d, err, errn)) != SYNC_VAL_OK ||
	    (r = decimal_text(f, d, CS_ROUND_EXACT, txt, err, errn)) != SYNC_VAL_OK)
		return r;
	return give(f, json_string(txt), out, err, errn);
}

static enum sync_val
map_to_sf(const struct cs_field_map *f, const json_t *v, json_t **out, char *err, size_t errn)
{
	const char *s = map_text(v), *mapped;
	char shown[SHOW_BUF];

	if (s == NULL)
		return wrong(f, "text for the value map", IN_CLM, v, err, errn);
	switch (cs_field_map_to_sf(f, s, &mapped)) {
	case CS_MAP_OK:
		return give(f, json_string(mapped), out, err, errn);
	case CS_MAP_NOT_SYNCED:
		return SYNC_VAL_SKIP;
	case CS_MAP_UNMAPPED:
		return failmap(err, errn, "%s value '%s' has no value for %s", f->clm,
		               show(s, strlen(s), shown), f->sf);
	case CS_MAP_AMBIGUOUS:
		break;
	}
	return fail(f, err, errn, "the value map cannot translate '%s'", show(s, strlen(s), shown));
}

/* A field without a transform, by the kind of the repository field. */
static enum sync_val
plain_from_clm(const struct cs_field_map *f, const json_t *v, json_t **out, char *err, size_t errn)
{
	struct cs_decimal d;
	char txt[CS_DECIMAL_TEXT_MAX];
	int64_t t;
	enum sync_val r;

	switch (f->kind) {
	case CS_VALUE_TEXT:
	case CS_VALUE_ENUM:
	case CS_VALUE_REFERENCE:
	case CS_VALUE_SFID:
	case CS_VALUE_ID:
		if (!json_is_string(v))
			return wrong(f, "text", IN_CLM, v, err, errn);
		return give(f, text_value(v), out, err, errn);
	case CS_VALUE_INTEGER:
		if (!json_is_integer(v))
			return wrong(f, "an integer", IN_CLM, v, err, errn);
		return give(f, json_integer(json_integer_value(v)), out, err, errn);
	case CS_VALUE_DECIMAL:
		if ((r = parse_decimal(f, v, IN_CLM, &d, err, errn)) != SYNC_VAL_OK ||
		    (r = decimal_text(f, d, CS_ROUND_EXACT, txt, err, errn)) != SYNC_VAL_OK)
			return r;
		return give(f, json_string(txt), out, err, errn);
	case CS_VALUE_DATE:
		if (!parse_date(v, &t))
			return wrong(f, "a date YYYY-MM-DD", IN_CLM, v, err, errn);
		return give(f, date_value(t), out, err, errn);
	case CS_VALUE_DATETIME:
		if (!parse_datetime(v, &t))
			return wrong(f, "a date-time", IN_CLM, v, err, errn);
		return give(f, datetime_value(t), out, err, errn);
	case CS_VALUE_BOOLEAN:
		if (!json_is_boolean(v))
			return wrong(f, "true or false", IN_CLM, v, err, errn);
		return give(f, json_boolean(json_is_true(v)), out, err, errn);
	case CS_VALUE_MONEY:
		break;
	}
	return fail(f, err, errn, "this field cannot be synced without a transform");
}

enum sync_val
sync_value_from_clm(const struct cs_field_map *f, const json_t *record, json_t **out,
                    char *err, size_t errn)
{
	const json_t *v;
	struct cs_decimal d;
	char txt[CS_DECIMAL_TEXT_MAX], shown[SHOW_BUF];
	int64_t t;
	size_t cut;
	enum sync_val r;

	*out = NULL;
	clear(err, errn);
	if (!json_is_object(record))
		return fail(f, err, errn, "the repository record is not a JSON object");
	v = clm_get(record, f->clm);
	if (f->transform == CS_TRANSFORM_MONEY_AMOUNT || f->transform == CS_TRANSFORM_MONEY_CURRENCY)
		return money_from_clm(f, v, out, err, errn);
	if (is_null(v))
		return give(f, json_null(), out, err, errn);
	if (f->lookup_to != NULL) {
		if (!json_is_string(v))
			return wrong(f, "a record id", IN_CLM, v, err, errn);
		return give(f, text_value(v), out, err, errn);
	}
	if (f->nvalue_map > 0)
		return map_to_sf(f, v, out, err, errn);

	switch (f->transform) {
	case CS_TRANSFORM_DATE_TO_DATETIME:
		if (!parse_date(v, &t))
			return wrong(f, "a date YYYY-MM-DD", IN_CLM, v, err, errn);
		return give(f, datetime_value(t * MS_PER_DAY), out, err, errn);
	case CS_TRANSFORM_DATETIME_TO_DATE:
		if (!parse_datetime(v, &t))
			return wrong(f, "a date-time", IN_CLM, v, err, errn);
		return give(f, date_value(day_of(t)), out, err, errn);
	case CS_TRANSFORM_DECIMAL_TO_CURRENCY:
		if (f->kind == CS_VALUE_INTEGER) {
			if (!json_is_integer(v))
				return wrong(f, "an integer", IN_CLM, v, err, errn);
			d.coef = json_integer_value(v);
			d.scale = 0;
		} else if ((r = parse_decimal(f, v, IN_CLM, &d, err, errn)) != SYNC_VAL_OK) {
			return r;
		}
		if ((r = decimal_text(f, d, CS_ROUND_EXACT, txt, err, errn)) != SYNC_VAL_OK)
			return r;
		return give(f, json_string(txt), out, err, errn);
	case CS_TRANSFORM_TRUNCATE:
		if (!json_is_string(v))
			return wrong(f, "text", IN_CLM, v, err, errn);
		cut = utf8_prefix(json_string_value(v), json_string_length(v), f->max_length);
		if (cut == json_string_length(v))
			return give(f, text_value(v), out, err, errn);
		if (!f->allow_truncate)
			return fail(f, err, errn, "'%s' is longer than %u characters",
			            show_json(v, shown), f->max_length);
		return give(f, json_stringn(json_string_value(v), cut), out, err, errn);
	case CS_TRANSFORM_NONE:
		return plain_from_clm(f, v, out, err, errn);
	case CS_TRANSFORM_MONEY_AMOUNT:
	case CS_TRANSFORM_MONEY_CURRENCY:
		break;   /* handled above */
	}
	return fail(f, err, errn, "unknown transform");
}

/* --- Salesforce -> canonical ---------------------------------------------------------------- */

/* A Salesforce number into a canonical decimal string. */
static enum sync_val
sf_decimal_value(const struct cs_field_map *f, const json_t *v, json_t **out, char *err,
                 size_t errn)
{
	struct cs_decimal d;
	char txt[CS_DECIMAL_TEXT_MAX];
	enum sync_val r;

	/* Salesforce has already rounded the value to the field's scale; rounding here only
	 * settles a value sent with more digits, the way Salesforce itself rounds (half up). */
	if ((r = sf_decimal(f, v, &d, err, errn)) != SYNC_VAL_OK ||
	    (r = decimal_text(f, d, CS_ROUND_HALF_UP, txt, err, errn)) != SYNC_VAL_OK)
		return r;
	return give(f, json_string(txt), out, err, errn);
}

static enum sync_val
sf_text_value(const struct cs_field_map *f, const json_t *v, json_t **out, char *err, size_t errn)
{
	if (!json_is_string(v))
		return wrong(f, "text", IN_SF, v, err, errn);
	return give(f, text_value(v), out, err, errn);
}

static enum sync_val
sf_datetime_value(const struct cs_field_map *f, const json_t *v, json_t **out, char *err,
                  size_t errn)
{
	int64_t ms;

	if (!parse_datetime(v, &ms))
		return wrong(f, "a date-time", IN_SF, v, err, errn);
	return give(f, datetime_value(ms), out, err, errn);
}

static enum sync_val
sf_date_value(const struct cs_field_map *f, const json_t *v, json_t **out, char *err, size_t errn)
{
	int64_t days;

	if (!parse_date(v, &days))
		return wrong(f, "a date YYYY-MM-DD", IN_SF, v, err, errn);
	return give(f, date_value(days), out, err, errn);
}

enum sync_val
sync_value_from_sf(const struct cs_field_map *f, const json_t *sfrec, bool *present,
                   json_t **out, char *err, size_t errn)
{
	const json_t *v;
	char shown[SHOW_BUF];
	double x;

	*present = false;
	*out = NULL;
	clear(err, errn);
	if (!json_is_object(sfrec))
		return fail(f, err, errn, "the Salesforce record is not a JSON object");
	if ((v = sf_get(sfrec, f->sf)) == NULL)
		return SYNC_VAL_OK;
	*present = true;
	if (json_is_null(v))
		return give(f, json_null(), out, err, errn);
	if (f->lookup_to != NULL)
		return sf_text_value(f, v, out, err, errn);
	if (f->nvalue_map > 0) {
		/* Canonical is the Salesforce form: no translation here. A checkbox sent as a boolean
		 * is written as the text a boolean value_map uses. */
		if (json_is_boolean(v))
			return give(f, json_string(json_is_true(v) ? "true" : "false"), out, err, errn);
		return sf_text_value(f, v, out, err, errn);
	}

	switch (f->transform) {
	case CS_TRANSFORM_MONEY_AMOUNT:
	case CS_TRANSFORM_DECIMAL_TO_CURRENCY:
		return sf_decimal_value(f, v, out, err, errn);
	case CS_TRANSFORM_MONEY_CURRENCY:
	case CS_TRANSFORM_TRUNCATE:
		return sf_text_value(f, v, out, err, errn);
	case CS_TRANSFORM_DATE_TO_DATETIME:
		return sf_datetime_value(f, v, out, err, errn);
	case CS_TRANSFORM_DATETIME_TO_DATE:
		return sf_date_value(f, v, out, err, errn);
	case CS_TRANSFORM_NONE:
		break;
	}

	switch (f->kind) {
	case CS_VALUE_TEXT:
	case CS_VALUE_ENUM:
	case CS_VALUE_REFERENCE:
	case CS_VALUE_SFID:
	case CS_VALUE_ID:
		return sf_text_value(f, v, out, err, errn);
	case CS_VALUE_INTEGER:
		if (json_is_integer(v))
			return give(f, json_integer(json_integer_value(v)), out, err, errn);
		if (!json_is_real(v))
			return wrong(f, "a number", IN_SF, v, err, errn);
		x = json_real_value(v);
		if (!isfinite(x) || fabs(x) >= EXACT_MAX)
			return fail(f, err, errn, "%.17g from Salesforce is too large to convert exactly",
			            x);
		if (x != floor(x))
			return fail(f, err, errn, "'%s' from Salesforce is not a whole number",
			            show_json(v, shown));
		return give(f, json_integer((json_int_t)x), out, err, errn);
	case CS_VALUE_DECIMAL:
		return sf_decimal_value(f, v, out, err, errn);
	case CS_VALUE_DATE:
		return sf_date_value(f, v, out, err, errn);
	case CS_VALUE_DATETIME:
		return sf_datetime_value(f, v, out, err, errn);
	case CS_VALUE_BOOLEAN:
		if (!json_is_boolean(v))
			return wrong(f, "true or false", IN_SF, v, err, errn);
		return give(f, json_boolean(json_is_true(v)), out, err, errn);
	case CS_VALUE_MONEY:
		break;
	}
	return fail(f, err, errn, "this field cannot be synced without a transform");
}

/* --- canonical -> Salesforce ---------------------------------------------------------------- */

json_t *
sync_value_to_sf(const struct cs_field_map *f, const json_t *v)
{
	bool decimal = f->transform == CS_TRANSFORM_MONEY_AMOUNT ||
	               f->transform == CS_TRANSFORM_DECIMAL_TO_CURRENCY ||
	               (f->transform == CS_TRANSFORM_NONE && f->kind == CS_VALUE_DECIMAL &&
	                f->lookup_to == NULL);
	char txt[32];

	if (v == NULL)
		return json_null();
	/* Canonical decimals are strings already; an integer given for one is sent the same way. */
	if (decimal && json_is_integer(v)) {
		snprintf(txt, sizeof(txt), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return json_string(txt);
	}
	return json_deep_copy(v);
}

/* --- canonical -> repository ---------------------------------------------------------------- */

/* Sets val (taking ownership, even on failure) as field f of patch: custom.<name> is merged into
 * patch["custom"], keeping the attributes already there. patch is unchanged on error. */
static enum sync_val
put(const struct cs_field_map *f, json_t *patch, json_t *val, char *err, size_t errn)
{
	json_t *custom, *fresh;

	if (val == NULL)
		return fail(f, err, errn, "out of memory");
	if (strncmp(f->clm, "custom.", 7) != 0) {
		if (json_object_set_new(patch, f->clm, val) != 0)   /* releases val on failure */
			return fail(f, err, errn, "out of memory");
		return SYNC_VAL_OK;
	}
	custom = json_object_get(patch, "custom");
	if (custom != NULL && !json_is_object(custom)) {
		json_decref(val);
		return fail(f, err, errn, "the patch's \"custom\" is not an object");
	}
	if (custom != NULL) {
		if (json_object_set_new(custom, f->clm + 7, val) != 0)
			return fail(f, err, errn, "out of memory");
		return SYNC_VAL_OK;
	}
	/* Built whole, then attached: patch never keeps a half-made "custom". */
	if ((fresh = json_object()) == NULL) {
		json_decref(val);
		return fail(f, err, errn, "out of memory");
	}
	if (json_object_set_new(fresh, f->clm + 7, val) != 0) {
		json_decref(fresh);
		return fail(f, err, errn, "out of memory");
	}
	if (json_object_set_new(patch, "custom", fresh) != 0)
		return fail(f, err, errn, "out of memory");   /* fresh released with val */
	return SYNC_VAL_OK;
}

/* What a patch knows of the other part of a money field. */
enum part { PART_UNKNOWN, PART_CLEARED, PART_SET };

/* The part `name` ("amount", "currency") of money field f, from patch first (a null money there
 * was cleared by this patch), then from current. *val is the part's string when PART_SET. */
static enum part
money_part(const struct cs_field_map *f, const json_t *patch, const json_t *current,
           const char *name, const json_t **val)
{
	const json_t *p = clm_get(patch, f->clm), *c = clm_get(current, f->clm), *x;

	*val = NULL;
	if (p != NULL && json_is_null(p))
		return PART_CLEARED;
	if (json_is_object(p) && json_is_string(x = json_object_get(p, name))) {
		*val = x;
		return PART_SET;
	}
	if (json_is_object(c) && json_is_string(x = json_object_get(c, name))) {
		*val = x;
		return PART_SET;
	}
	return PART_UNKNOWN;
}

/* A money part into patch[f->clm] = {"amount", "currency"}. The parts arrive in separate calls,
 * in the order of the mapping; the amount is expected first (as a mapping lists it), so that a
 * money set or cleared in Salesforce on both parts is complete after the currency:
 * - amount null: the whole money is null;
 * - amount A: with the currency from patch, else from current; with neither (a create),
 *   {"amount": A} alone, which the currency part completes (alone, the repository refuses it:
 *   an amount needs a currency); after a currency cleared in this patch, an error;
 * - currency C: with the amount from patch, else from current; after an amount cleared in this
 *   patch the money stays null; with no amount anywhere the patch is left as it is (a currency
 *   alone is no money: Salesforce's default currency on a record without an amount);
 * - currency null: the money is null, unless an amount stays (in patch or current): an error.
 * The amount goes in without trailing fraction zeros ("1200.00" -> "1200"): the repository
 * writes it at the currency's minor digits and refuses extra digits, even zeros ("1200.00" in
 * JPY). Parts are copied, never referenced: current is borrowed and other threads may read it. */
static enum sync_val
money_to_clm(const struct cs_field_map *f, const json_t *v, const json_t *current,
             json_t *patch, char *err, size_t errn)
{
	const json_t *other;
	struct cs_decimal d;
	char txt[CS_DECIMAL_TEXT_MAX], shown[SHOW_BUF];
	enum part st;
	enum sync_val r;
	json_t *m;

	if (f->transform == CS_TRANSFORM_MONEY_AMOUNT) {
		if (is_null(v))
			return put(f, patch, json_null(), err, errn);
		if ((r = parse_decimal(f, v, IN_CANON, &d, err, errn)) != SYNC_VAL_OK)
			return r;
		d = cs_decimal_normalize(d);
		if (cs_decimal_format(&d, txt, sizeof(txt)) != CS_OK)
			return fail(f, err, errn, "the amount cannot be written");
		st = money_part(f, patch, current, "currency", &other);
		if (st == PART_CLEARED)
			return fail(f, err, errn, "amount %s has no currency: the currency was cleared", txt);
		m = st == PART_SET ? json_pack("{s:s,s:s%}", "amount", txt, "currency",
		                               json_string_value(other), json_string_length(other))
		                   : json_pack("{s:s}", "amount", txt);
		return put(f, patch, m, err, errn);
	}

	st = money_part(f, patch, current, "amount", &other);
	if (is_null(v)) {
		if (st == PART_SET)
			return fail(f, err, errn, "the currency cannot be cleared while the amount (%s) "
			            "stays", show_json(other, shown));
		return put(f, patch, json_null(), err, errn);
	}
	if (!json_is_string(v))
		return wrong(f, "an ISO 4217 currency code", IN_CANON, v, err, errn);
	if (!cs_currency_valid(map_text(v)))
		return fail(f, err, errn, "'%s' is not an ISO 4217 currency code with a minor unit",
		            show_json(v, shown));
	if (st != PART_SET)
		return SYNC_VAL_OK;   /* no amount (cleared, or none at all): no money to put it on */
	m = json_pack("{s:s%,s:s%}", "amount", json_string_value(other), json_string_length(other),
	              "currency", json_string_value(v), json_string_length(v));
	return put(f, patch, m, err, errn);
}

static enum sync_val
map_to_clm(const struct cs_field_map *f, const json_t *v, json_t *patch, char *err, size_t errn)
{
	const char *s = map_text(v), *clm;
	char shown[SHOW_BUF];

	if (s == NULL)
		return wrong(f, "a Salesforce picklist value", IN_CANON, v, err, errn);
	switch (cs_field_map_to_clm(f, s, &clm)) {
	case CS_MAP_OK:
		if (f->kind != CS_VALUE_BOOLEAN)
			return put(f, patch, json_string(clm), err, errn);
		if (strcmp(clm, "true") == 0 || strcmp(clm, "false") == 0)
			return put(f, patch, json_boolean(strcmp(clm, "true") == 0), err, errn);
		return fail(f, err, errn, "the value map gives '%s', not true or false",
		            show(clm, strlen(clm), shown));
	case CS_MAP_UNMAPPED:
		return failmap(err, errn, "Salesforce value '%s' of %s has no repository value for %s",
		               show(s, strlen(s), shown), f->sf, f->clm);
	case CS_MAP_AMBIGUOUS:
		return failmap(err, errn, "Salesforce value '%s' of %s stands for more than one value "
		               "of %s", show(s, strlen(s), shown), f->sf, f->clm);
	case CS_MAP_NOT_SYNCED:
		break;
	}
	return fail(f, err, errn, "the value map cannot translate '%s'", show(s, strlen(s), shown));
}

/* A canonical decimal into an integer field: only a whole number. */
static enum sync_val
decimal_to_integer(const struct cs_field_map *f, const json_t *v, json_t *patch, char *err,
                   size_t errn)
{
	struct cs_decimal d;
	char shown[SHOW_BUF];
	int64_t n;
	enum sync_val r;

	if ((r = parse_decimal(f, v, IN_CANON, &d, err, errn)) != SYNC_VAL_OK)
		return r;
	if (cs_round_scale(d.coef, d.scale, 0, CS_ROUND_EXACT, &n) != CS_OK)
		return fail(f, err, errn, "%s has a fraction; %s holds whole numbers",
		            show_json(v, shown), f->clm);
	return put(f, patch, json_integer(n), err, errn);
}

enum sync_val
sync_value_to_clm(const struct cs_field_map *f, const json_t *v, const json_t *current,
                  json_t *patch, char *err, size_t errn)
{
	struct cs_decimal d;
	int64_t t;
	enum sync_val r;

	clear(err, errn);
	if (!json_is_object(patch))
		return fail(f, err, errn, "the patch is not a JSON object");
	if (f->transform == CS_TRANSFORM_MONEY_AMOUNT || f->transform == CS_TRANSFORM_MONEY_CURRENCY)
		return money_to_clm(f, v, current, patch, err, errn);
	if (is_null(v))
		return put(f, patch, json_null(), err, errn);
	if (f->lookup_to != NULL) {
		if (!json_is_string(v))
			return wrong(f, "a record id", IN_CANON, v, err, errn);
		return put(f, patch, json_deep_copy(v), err, errn);
	}
	if (f->nvalue_map > 0)
		return map_to_clm(f, v, patch, err, errn);

	switch (f->transform) {
	case CS_TRANSFORM_DATE_TO_DATETIME:
		/* The Salesforce date-time's UTC day; a plain date is taken as it is. */
		if (parse_date(v, &t))
			return put(f, patch, date_value(t), err, errn);
		if (!parse_datetime(v, &t))
			return wrong(f, "a date-time", IN_CANON, v, err, errn);
		return put(f, patch, date_value(day_of(t)), err, errn);
	case CS_TRANSFORM_DATETIME_TO_DATE:
		if (!parse_date(v, &t))
			return wrong(f, "a date YYYY-MM-DD", IN_CANON, v, err, errn);
		return put(f, patch, datetime_value(t * MS_PER_DAY), err, errn);
	case CS_TRANSFORM_DECIMAL_TO_CURRENCY:
		if (f->kind == CS_VALUE_INTEGER)
			return decimal_to_integer(f, v, patch, err, errn);
		if ((r = parse_decimal(f, v, IN_CANON, &d, err, errn)) != SYNC_VAL_OK)
			return r;
		return put(f, patch, json_deep_copy(v), err, errn);
	case CS_TRANSFORM_TRUNCATE:
		if (!json_is_string(v))
			return wrong(f, "text", IN_CANON, v, err, errn);
		return put(f, patch, json_deep_copy(v), err, errn);
	case CS_TRANSFORM_NONE:
		break;
	case CS_TRANSFORM_MONEY_AMOUNT:
	case CS_TRANSFORM_MONEY_CURRENCY:
		return fail(f, err, errn, "unknown transform");   /* handled above */
	}

	switch (f->kind) {
	case CS_VALUE_TEXT:
	case CS_VALUE_ENUM:
	case CS_VALUE_REFERENCE:
	case CS_VALUE_SFID:
	case CS_VALUE_ID:
		if (!json_is_string(v))
			return wrong(f, "text", IN_CANON, v, err, errn);
		return put(f, patch, json_deep_copy(v), err, errn);
	case CS_VALUE_INTEGER:
		if (json_is_integer(v))
			return put(f, patch, json_integer(json_integer_value(v)), err, errn);
		if (json_is_string(v))
			return decimal_to_integer(f, v, patch, err, errn);
		return wrong(f, "an integer", IN_CANON, v, err, errn);
	case CS_VALUE_DECIMAL:
		if ((r = parse_decimal(f, v, IN_CANON, &d, err, errn)) != SYNC_VAL_OK)
			return r;
		return put(f, patch, json_deep_copy(v), err, errn);
	case CS_VALUE_DATE:
		if (!parse_date(v, &t))
			return wrong(f, "a date YYYY-MM-DD", IN_CANON, v, err, errn);
		return put(f, patch, date_value(t), err, errn);
	case CS_VALUE_DATETIME:
		if (!parse_datetime(v, &t))
			return wrong(f, "a date-time", IN_CANON, v, err, errn);
		return put(f, patch, datetime_value(t), err, errn);
	case CS_VALUE_BOOLEAN:
		if (!json_is_boolean(v))
			return wrong(f, "true or false", IN_CANON, v, err, errn);
		return put(f, patch, json_boolean(json_is_true(v)), err, errn);
	case CS_VALUE_MONEY:
		break;
	}
	return fail(f, err, errn, "this field cannot be synced without a transform");
}

/* --- comparison ----------------------------------------------------------------------------- */

/* An integer and a real are equal when the real is that whole number exactly. */
static bool
int_equals_real(json_int_t i, double x)
{
	/* -2^63 <= x < 2^63: the conversion below is defined. */
	if (!isfinite(x) || x != floor(x) || x < -9223372036854775808.0 || x >= 9223372036854775808.0)
		return false;
	return (json_int_t)x == i;
}

bool
sync_value_equal(const json_t *a, const json_t *b)
{
	bool an = is_null(a), bn = is_null(b);

	if (an || bn)
		return an && bn;
	if (json_is_integer(a) && json_is_real(b))
		return int_equals_real(json_integer_value(a), json_real_value(b));
	if (json_is_real(a) && json_is_integer(b))
		return int_equals_real(json_integer_value(b), json_real_value(a));
	return json_equal(a, b) != 0;
}

/* model.c - the repository's data model: field tables, request validation and the API shape of records. */
#include "clm/clm.h"
#include "clm/clm_int.h"
#include "util/id.h"
#include "util/json.h"
#include "util/money.h"
#include "util/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- failures ---- */

cs_err
clm_fail_set(struct clm_fail *f, int status, const char *code, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (f != NULL) {
		f->status = status;
		snprintf(f->code, sizeof(f->code), "%s", code);
		snprintf(f->field, sizeof(f->field), "%s", field ? field : "");
		va_start(ap, fmt);
		vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
		va_end(ap);
		f->allowed[0] = '\0';
	}
	switch (status) {
	case 404: return CS_ENOTFOUND;
	case 409: return CS_EEXIST;
	case 412: return CS_ECONFLICT;
	case 413: return CS_ETOOBIG;
	case 503: return CS_ETIMEOUT;
	case 500: return CS_EINTERNAL;
	default: return CS_EINVAL;
	}
}

/* ---- kinds ---- */

static const struct {
	const char *name, *plural, *prefix;
} kinds[CLM_KIND_COUNT] = {
	[CLM_COUNTERPARTY] = { "counterparty", "counterparties", CS_ID_COUNTERPARTY },
	[CLM_CONTRACT] = { "contract", "contracts", CS_ID_CONTRACT },
	[CLM_AMENDMENT] = { "amendment", "amendments", CS_ID_AMENDMENT },
	[CLM_OBLIGATION] = { "obligation", "obligations", CS_ID_OBLIGATION },
	[CLM_APPROVAL] = { "approval", "approvals", CS_ID_APPROVAL },
	[CLM_SIGNATURE] = { "signature", "signatures", CS_ID_SIGNATURE },
	[CLM_DOCUMENT] = { "document", "documents", CS_ID_DOCUMENT },
};

const char *
clm_kind_name(enum clm_kind k)
{
	return (unsigned)k < CLM_KIND_COUNT ? kinds[k].name : "unknown";
}

const char *
clm_kind_plural(enum clm_kind k)
{
	return (unsigned)k < CLM_KIND_COUNT ? kinds[k].plural : "unknown";
}

const char *
clm_kind_prefix(enum clm_kind k)
{
	return (unsigned)k < CLM_KIND_COUNT ? kinds[k].prefix : "xx";
}

int
clm_kind_parse_plural(const char *s)
{
	for (int i = 0; s != NULL && i < CLM_KIND_COUNT; i++)
		if (strcmp(s, kinds[i].plural) == 0)
			return i;
	return -1;
}

/* ---- custom attribute schema ---- */

struct sattr {
	char name[CLM_NAME_MAX];
	enum clm_attr_type type;
	char **values;
	size_t nvalues;
	bool required;
	size_t max_length;
};

struct clm_schema {
	struct sattr *attrs[CLM_KIND_COUNT];
	size_t n[CLM_KIND_COUNT];
};

void
clm_schema_free(struct clm_schema *sc)
{
	if (sc == NULL)
		return;
	for (int k = 0; k < CLM_KIND_COUNT; k++) {
		for (size_t i = 0; i < sc->n[k]; i++) {
			for (size_t j = 0; j < sc->attrs[k][i].nvalues; j++)
				free(sc->attrs[k][i].values[j]);
			free(sc->attrs[k][i].values);
		}
		free(sc->attrs[k]);
	}
	free(sc);
}

static bool
ident_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= CLM_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

struct clm_schema *
clm_schema_new(const struct clm_attr *const attrs[CLM_KIND_COUNT], const size_t n[CLM_KIND_COUNT],
    struct cs_error *e)
{
	struct clm_schema *sc = calloc(1, sizeof(*sc));

	if (sc == NULL) {
		cs_error_set(e, CS_ENOMEM, "out of memory");
		return NULL;
	}
	for (int k = 0; attrs != NULL && n != NULL && k < CLM_KIND_COUNT; k++) {
		if (n[k] == 0)
			continue;
		if (n[k] > CLM_CUSTOM_MAX) {
			cs_error_set(e, CS_EINVAL, "%s: more than %d custom attributes", kinds[k].name, CLM_CUSTOM_MAX);
			goto fail;
		}
		sc->attrs[k] = calloc(n[k], sizeof(struct sattr));
		if (sc->attrs[k] == NULL)
			goto oom;
		for (size_t i = 0; i < n[k]; i++) {
			const struct clm_attr *a = &attrs[k][i];
			struct sattr *d = &sc->attrs[k][i];
			if (!ident_ok(a->name)) {
				cs_error_set(e, CS_EINVAL, "%s: bad custom attribute name", kinds[k].name);
				goto fail;
			}
			snprintf(d->name, sizeof(d->name), "%s", a->name);
			d->type = a->type;
			d->required = a->required;
			d->max_length = a->max_length;
			sc->n[k] = i + 1;
			if (a->type == CLM_ATTR_PICKLIST) {
				if (a->nvalues == 0 || a->nvalues > CLM_PICKLIST_MAX) {
					cs_error_set(e, CS_EINVAL, "%s.%s: a picklist needs 1 to %d values", kinds[k].name,
					    a->name, CLM_PICKLIST_MAX);
					goto fail;
				}
				d->values = calloc(a->nvalues, sizeof(char *));
				if (d->values == NULL)
					goto oom;
				for (size_t j = 0; j < a->nvalues; j++) {
					if ((d->values[j] = strdup(a->values[j])) == NULL)
						goto oom;
					d->nvalues = j + 1;
				}
			}
		}
	}
	return sc;
oom:
	cs_error_set(e, CS_ENOMEM, "out of memory");
fail:
	clm_schema_free(sc);
	return NULL;
}

/* ---- field tables ---- */

enum ftype {
	F_TEXT,      /* string, max bytes, no control characters but \t \n \r */
	F_LINE,      /* string, max bytes, no control characters at all */
	F_ENUM,
	F_DATE,
	F_DATETIME,
	F_MONEY,
	F_INT,
	F_BOOL,
	F_REF,       /* an id with prefix */
	F_DOMAIN,
	F_COUNTRY,
	F_SFID,      /* a Salesforce id, 15 or 18 letters and digits */
	F_NUMBER,    /* contract number: [A-Za-z0-9._/-], 1..max */
	F_MEDIA,     /* type/subtype */
	F_FILENAME,
	F_CUSTOM,
	F_CHANGES,   /* an amendment's changes */
	F_RO         /* set by the repository only */
};

#define REQ 0x1      /* required on create */
#define CREATE 0x2   /* may be set on create only */

struct field {
	const char *name;
	enum ftype type;
	unsigned flags;
	long long max;                /* text bytes, or integer upper bound */
	long long min;                /* integer lower bound */
	const char *const *vals;      /* F_ENUM, NULL-terminated; F_REF: {prefix, NULL} */
};

static const char *const cp_status[] = { "active", "inactive", "blocked", NULL };
static const char *const ct_type[] = { "msa", "sow", "nda", "order_form", "amendment", "renewal", "other", NULL };
static const char *const ct_status[] = { "draft", "in_review", "in_approval", "approved", "in_signature",
	"signed", "active", "expired", "terminated", "renewed", NULL };
static const char *const ct_approval[] = { "not_required", "pending", "approved", "rejected", NULL };
static const char *const ob_recur[] = { "none", "monthly", "quarterly", "semiannual", "annual", NULL };
static const char *const ob_status[] = { "open", "done", "waived", NULL };
static const char *const ap_decision[] = { "pending", "approved", "rejected", NULL };
static const char *const sg_party[] = { "customer", "company", NULL };
static const char *const ref_cp[] = { CS_ID_COUNTERPARTY, NULL };
static const char *const ref_ct[] = { CS_ID_CONTRACT, NULL };

static const struct field f_counterparty[] = {
	{ "legal_name", F_LINE, REQ, 255, 1, NULL },
	{ "domain", F_DOMAIN, 0, 253, 0, NULL },
	{ "country", F_COUNTRY, 0, 2, 0, NULL },
	{ "registration_number", F_LINE, 0, 100, 0, NULL },
	{ "status", F_ENUM, 0, 0, 0, cp_status },
	{ "custom", F_CUSTOM, 0, 0, 0, NULL },
	{ NULL, F_RO, 0, 0, 0, NULL },
};

static const struct field f_contract[] = {
	{ "number", F_NUMBER, 0, 64, 1, NULL },
	{ "title", F_LINE, REQ, 500, 1, NULL },
	{ "type", F_ENUM, 0, 0, 0, ct_type },
	{ "counterparty_id", F_REF, 0, 0, 0, ref_cp },
	{ "owner", F_LINE, 0, 200, 0, NULL },
	{ "status", F_ENUM, 0, 0, 0, ct_status },
	{ "description", F_TEXT, 0, CLM_TEXT_MAX, 0, NULL },
	{ "effective_date", F_DATE, 0, 0, 0, NULL },
	{ "expiration_date", F_DATE, 0, 0, 0, NULL },
	{ "term_months", F_INT, 0, 1200, 0, NULL },
	{ "auto_renew", F_BOOL, 0, 0, 0, NULL },
	{ "renewal_notice_days", F_INT, 0, 3650, 0, NULL },
	{ "notice_deadline", F_RO, 0, 0, 0, NULL },
	{ "total_value", F_MONEY, 0, 0, 0, NULL },
	{ "payment_terms", F_LINE, 0, 200, 0, NULL },
	{ "governing_law", F_LINE, 0, 200, 0, NULL },
	{ "parent_contract_id", F_REF, 0, 0, 0, ref_ct },
	{ "salesforce_opportunity_id", F_SFID, 0, 0, 0, NULL },
	{ "salesforce_account_id", F_SFID, 0, 0, 0, NULL },
	{ "customer_signed_date", F_DATE, 0, 0, 0, NULL },
	{ "company_signed_date", F_DATE, 0, 0, 0, NULL },
	{ "approval_status", F_ENUM, 0, 0, 0, ct_approval },
	{ "termination_date", F_RO, 0, 0, 0, NULL },
	{ "termination_reason", F_TEXT, 0, 2000, 0, NULL },
	{ "renewal_id", F_RO, 0, 0, 0, NULL },
	{ "amendment_ids", F_RO, 0, 0, 0, NULL },
	{ "custom", F_CUSTOM, 0, 0, 0, NULL },
	{ NULL, F_RO, 0, 0, 0, NULL },
};

static const struct field f_amendment[] = {
	{ "title", F_LINE, REQ, 500, 1, NULL },
	{ "description", F_TEXT, 0, CLM_TEXT_MAX, 0, NULL },
	{ "effective_date", F_DATE, REQ, 0, 0, NULL },
	{ "changes", F_CHANGES, REQ, 0, 0, NULL },
	{ "contract_id", F_RO, 0, 0, 0, NULL },
	{ "status", F_RO, 0, 0, 0, NULL },
	{ "applied_at", F_RO, 0, 0, 0, NULL },
	{ "previous", F_RO, 0, 0, 0, NULL },
	{ NULL, F_RO, 0, 0, 0, NULL },
};

static const struct field f_obligation[] = {
	{ "description", F_TEXT, REQ, 2000, 1, NULL },
	{ "owner", F_LINE, 0, 200, 0, NULL },
	{ "due_date", F_DATE, 0, 0, 0, NULL },
	{ "recurrence", F_ENUM, 0, 0, 0, ob_recur },
	{ "status", F_ENUM, 0, 0, 0, ob_status },
	{ "contract_id", F_RO, 0, 0, 0, NULL },
	{ "overdue", F_RO, 0, 0, 0, NULL },
	{ "custom", F_CUSTOM, 0, 0, 0, NULL },
	{ NULL, F_RO, 0, 0, 0, NULL },
};

static const struct field f_approval[] = {
	{ "approver", F_LINE, REQ, 200, 1, NULL },
	{ "step", F_INT, 0, 100, 1, NULL },
	{ "decision", F_ENUM, 0, 0, 0, ap_decision },
	{ "comment", F_TEXT, 0, 2000, 0, NULL },
	{ "decided_at", F_DATETIME, 0, 0, 0, NULL },
	{ "contract_id", F_RO, 0, 0, 0, NULL },
	{ NULL, F_RO, 0, 0, 0, NULL },
};

static const struct field f_signature[] = {
	{ "signer", F_LINE, REQ | CREATE, 200, 1, NULL },
	{ "party", F_ENUM, REQ | CREATE, 0, 0, sg_party },
	{ "signed_at", F_DATETIME, REQ | CREATE, 0, 0, NULL },
	{ "contract_id", F_RO, 0, 0, 0, NULL },
	{ NULL, F_RO, 0, 0, 0, NULL },
};

static const struct field f_document[] = {
	{ "file_name", F_FILENAME, REQ, 255, 1, NULL },
	{ "media_type", F_MEDIA, 0, 127, 3, NULL },
	{ "executed", F_BOOL, 0, 0, 0, NULL },
	{ "size", F_RO, 0, 0, 0, NULL },
	{ "sha256", F_RO, 0, 0, 0, NULL },
	{ "contract_id", F_RO, 0, 0, 0, NULL },
	{ NULL, F_RO, 0, 0, 0, NULL },
};

static const struct field *const tables[CLM_KIND_COUNT] = {
	f_counterparty, f_contract, f_amendment, f_obligation, f_approval, f_signature, f_document,
};

/* What an amendment may change. */
static const char *const amendable[] = {
	"title", "effective_date", "expiration_date", "term_months", "auto_renew", "renewal_notice_days",
	"total_value", "payment_terms", "governing_law", "description", "custom", NULL,
};

bool
clm_amendable(const char *field)
{
	for (size_t i = 0; amendable[i]; i++)
		if (strcmp(field, amendable[i]) == 0)
			return true;
	return false;
}

static const struct field *
field_find(enum clm_kind k, const char *name)
{
	for (const struct field *fd = tables[k]; fd->name; fd++)
		if (strcmp(fd->name, name) == 0)
			return fd;
	return NULL;
}

/* ISO 3166-1 alpha-2, officially assigned codes. */
static const char countries[] =
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS "
	"BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE "
	"EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM "
	"HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC "
	"LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA "
	"NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
	"TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

static bool
country_ok(const char *s, size_t n)
{
	if (n != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
		return false;
	for (size_t i = 0; i + 1 < sizeof(countries); i += 3)
		if (countries[i] == s[0] && countries[i + 1] == s[1])
			return true;
	return false;
}

static bool
domain_ok(const char *s, size_t n)
{
	size_t label = 0, dots = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			dots++;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (label == 0 && c == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return dots > 0 && label > 0 && s[n - 1] != '-';
}

/* Text: no control characters (tabs and line breaks allowed when multiline). UTF-8 validity
 * is already guaranteed by the JSON parser. */
static bool
text_ok(const char *s, size_t n, bool multiline)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			if (multiline && (c == '\t' || c == '\n' || c == '\r'))
				continue;
			return false;
		}
	}
	return true;
}

static size_t
codepoints(const char *s, size_t n)
{
	size_t cp = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			cp++;
	return cp;
}

static bool
charset_ok(const char *s, size_t n, const char *extra)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '\0' || strchr(extra, c) == NULL)
			return false;
	}
	return true;
}

static bool
media_ok(const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);

	if (slash == NULL || slash == s || slash == s + n - 1)
		return false;
	return charset_ok(s, (size_t)(slash - s), "!#$&^_.+-") &&
	    charset_ok(slash + 1, n - (size_t)(slash - s) - 1, "!#$&^_.+-");
}

static bool
filename_ok(const char *s, size_t n)
{
	if (!text_ok(s, n, false) || memchr(s, '/', n) || memchr(s, '\\', n) || memchr(s, '"', n))
		return false;
	return !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

cs_err
clm_money_check(const json_t *v, json_t **norm, struct clm_fail *f, const char *field)
{
	const json_t *a, *c;
	const char *key;
	json_t *val;
	struct cs_money m;
	struct cs_error e = { 0 };
	char cur[4], txt[CS_DECIMAL_TEXT_MAX];

	*norm = NULL;
	if (!json_is_object(v))
		return clm_fail_set(f, 422, "invalid_type", field, "%s must be an object {\"amount\": \"1234.50\", \"currency\": \"EUR\"}", field);
	json_object_foreach((json_t *)v, key, val) {
		if (strcmp(key, "amount") != 0 && strcmp(key, "currency") != 0)
			return clm_fail_set(f, 422, "unknown_field", field, "%s has only amount and currency", field);
	}
	a = json_object_get(v, "amount");
	c = json_object_get(v, "currency");
	if (!json_is_string(c) || json_string_length(c) != 3)
		return clm_fail_set(f, 422, c ? "invalid_value" : "required", field,
		    "%s.currency must be an ISO 4217 code such as \"EUR\"", field);
	memcpy(cur, json_string_value(c), 4);
	if (!cs_currency_valid(cur))
		return clm_fail_set(f, 422, "invalid_currency", field, "%s.currency: unknown ISO 4217 currency", field);
	if (!json_is_string(a))
		return clm_fail_set(f, 422, a ? "invalid_type" : "required", field,
		    "%s.amount must be a string holding an exact decimal, such as \"1234.50\"", field);
	if (cs_money_parse(json_string_value(a), json_string_length(a), cur, &m, &e) != CS_OK)
		return clm_fail_set(f, 422, "invalid_amount", field, "%s.amount: %s", field, e.msg);
	if (cs_money_format(&m, txt, sizeof(txt)) != CS_OK)
		return clm_fail_set(f, 422, "invalid_amount", field, "%s.amount cannot be represented", field);
	*norm = json_pack("{s:s,s:s}", "amount", txt, "currency", cur);
	if (*norm == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	return CS_OK;
}

/* Validates a custom attribute value; *out is its canonical form (new reference). */
static cs_err
custom_value(const struct sattr *a, const json_t *v, json_t **out, struct clm_fail *f, const char *path)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	int64_t x;
	char txt[40];

	*out = NULL;
	switch (a->type) {
	case CLM_ATTR_TEXT: {
		size_t max = a->max_length ? a->max_length : CLM_TEXT_MAX;
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", path, "%s must be a string", path);
		if (n > CLM_TEXT_MAX || codepoints(s, n) > max || !text_ok(s, n, true))
			return clm_fail_set(f, 422, "invalid_value", path, "%s: at most %zu characters, no control characters", path, max);
		break;
	}
	case CLM_ATTR_NUMBER:
		if (!json_is_integer(v))
			return clm_fail_set(f, 422, "invalid_type", path, "%s must be an integer", path);
		break;
	case CLM_ATTR_DECIMAL: {
		struct cs_decimal d;
		struct cs_error e = { 0 };
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", path, "%s must be a decimal in a string, such as \"12.5\"", path);
		if (cs_decimal_parse(s, n, &d, &e) != CS_OK || cs_decimal_format(&d, txt, sizeof(txt)) != CS_OK)
			return clm_fail_set(f, 422, "invalid_value", path, "%s: %s", path, e.msg[0] ? e.msg : "not a decimal");
		*out = json_string(txt);
		goto done;
	}
	case CLM_ATTR_DATE:
		if (!json_is_string(v) || !cs_date_parse(s, n, &x))
			return clm_fail_set(f, 422, "invalid_date", path, "%s must be a date YYYY-MM-DD", path);
		break;
	case CLM_ATTR_DATETIME:
		if (!json_is_string(v) || !cs_datetime_parse(s, n, &x))
			return clm_fail_set(f, 422, "invalid_datetime", path, "%s must be a date-time such as 2026-01-31T12:00:00.000Z", path);
		cs_time_format_iso(x, txt, sizeof(txt));
		*out = json_string(txt);
		goto done;
	case CLM_ATTR_BOOLEAN:
		if (!json_is_boolean(v))
			return clm_fail_set(f, 422, "invalid_type", path, "%s must be true or false", path);
		break;
	case CLM_ATTR_PICKLIST:
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", path, "%s must be a string", path);
		for (size_t i = 0; i < a->nvalues; i++)
			if (strlen(a->values[i]) == n && memcmp(a->values[i], s, n) == 0)
				goto ok;
		return clm_fail_set(f, 422, "invalid_value", path, "%s: not one of the picklist's values", path);
	}
ok:
	*out = json_deep_copy(v);
done:
	if (*out == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	return CS_OK;
}

static cs_err
custom_check(const struct clm_schema *sc, enum clm_kind k, const json_t *v, bool patch, json_t **out,
    struct clm_fail *f)
{
	const char *key;
	json_t *val, *res;
	size_t n = sc ? sc->n[k] : 0;
	char path[128];
	cs_err rc;

	*out = NULL;
	if (!json_is_object(v))
		return clm_fail_set(f, 422, "invalid_type", "custom", "custom must be an object");
	if ((res = json_object()) == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	json_object_foreach((json_t *)v, key, val) {
		const struct sattr *a = NULL;
		json_t *cv;
		for (size_t i = 0; i < n; i++)
			if (strcmp(sc->attrs[k][i].name, key) == 0)
				a = &sc->attrs[k][i];
		snprintf(path, sizeof(path), "custom.%.60s", key);
		if (a == NULL) {
			json_decref(res);
			return clm_fail_set(f, 422, "unknown_field", path, "%s is not a declared custom attribute of %s",
			    path, kinds[k].name);
		}
		if (json_is_null(val)) {
			if (a->required) {
				json_decref(res);
				return clm_fail_set(f, 422, "required", path, "%s is required", path);
			}
			if (patch && json_object_set_new(res, key, json_null()) != 0) {
				json_decref(res);
				return clm_fail_set(f, 500, "internal", NULL, "out of memory");
			}
			continue;
		}
		if ((rc = custom_value(a, val, &cv, f, path)) != CS_OK) {
			json_decref(res);
			return rc;
		}
		/* a value that could not be kept must not vanish from the change: the write would
		 * then succeed without it */
		if (json_object_set_new(res, key, cv) != 0) {
			json_decref(res);
			return clm_fail_set(f, 500, "internal", NULL, "out of memory");
		}
	}
	for (size_t i = 0; !patch && i < n; i++)
		if (sc->attrs[k][i].required && json_object_get(res, sc->attrs[k][i].name) == NULL) {
			snprintf(path, sizeof(path), "custom.%s", sc->attrs[k][i].name);
			json_decref(res);
			return clm_fail_set(f, 422, "required", path, "%s is required", path);
		}
	*out = res;
	return CS_OK;
}

static cs_err validate_obj(const struct clm_schema *sc, enum clm_kind k, const json_t *in, bool patch,
    bool changes, json_t **out, struct clm_fail *f);

/* Validates one field's value; *out is its canonical form. */
static cs_err
field_value(const struct clm_schema *sc, enum clm_kind k, const struct field *fd, const json_t *v, bool patch,
    json_t **out, struct clm_fail *f)
{
	const char *s = json_string_value(v), *name = fd->name;
	size_t n = json_string_length(v);
	int64_t x;
	char txt[40];

	*out = NULL;
	switch (fd->type) {
	case F_TEXT:
	case F_LINE:
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be a string", name);
		if ((long long)n > fd->max || (long long)n < fd->min)
			return clm_fail_set(f, 422, "invalid_value", name, "%s must be %lld to %lld bytes long", name, fd->min, fd->max);
		if (!text_ok(s, n, fd->type == F_TEXT))
			return clm_fail_set(f, 422, "invalid_value", name, "%s must not hold control characters", name);
		break;
	case F_NUMBER:
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be a string", name);
		if (n < 1 || (long long)n > fd->max || !charset_ok(s, n, "._/-"))
			return clm_fail_set(f, 422, "invalid_value", name, "%s: 1 to %lld letters, digits, '.', '_', '/' or '-'", name, fd->max);
		break;
	case F_ENUM:
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be a string", name);
		for (size_t i = 0; fd->vals[i]; i++)
			if (strcmp(fd->vals[i], s) == 0 && strlen(fd->vals[i]) == n)
				goto ok;
		{
			char list[256];
			size_t used = 0;
			list[0] = '\0';
			for (size_t i = 0; fd->vals[i] && used < sizeof(list); i++) {
				int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", fd->vals[i]);
				if (w < 0)
					break;
				used += (size_t)w;
			}
			return clm_fail_set(f, 422, "invalid_value", name, "%s must be one of: %s", name, list);
		}
	case F_DATE:
		if (!json_is_string(v) || !cs_date_parse(s, n, &x))
			return clm_fail_set(f, 422, "invalid_date", name, "%s must be a real calendar date YYYY-MM-DD", name);
		break;
	case F_DATETIME:
		if (!json_is_string(v) || !cs_datetime_parse(s, n, &x))
			return clm_fail_set(f, 422, "invalid_datetime", name, "%s must be a date-time such as 2026-01-31T12:00:00.000Z", name);
		cs_time_format_iso(x, txt, sizeof(txt));
		*out = json_string(txt);
		goto done;
	case F_MONEY:
		return clm_money_check(v, out, f, name);
	case F_INT:
		if (!json_is_integer(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be an integer", name);
		if (json_integer_value(v) < fd->min || json_integer_value(v) > fd->max)
			return clm_fail_set(f, 422, "invalid_value", name, "%s must be %lld to %lld", name, fd->min, fd->max);
		break;
	case F_BOOL:
		if (!json_is_boolean(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be true or false", name);
		break;
	case F_REF:
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be a string", name);
		if (!cs_id_valid(fd->vals[0], s, n))
			return clm_fail_set(f, 422, "invalid_value", name, "%s must be an id starting with %s_", name, fd->vals[0]);
		break;
	case F_DOMAIN:
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be a string", name);
		if (!domain_ok(s, n))
			return clm_fail_set(f, 422, "invalid_value", name, "%s must be a lower-case domain name such as example.com", name);
		break;
	case F_COUNTRY:
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be a string", name);
		if (!country_ok(s, n))
			return clm_fail_set(f, 422, "invalid_value", name, "%s must be an ISO 3166-1 alpha-2 code such as DE", name);
		break;
	case F_SFID:
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be a string", name);
		if ((n != 15 && n != 18) || !charset_ok(s, n, ""))
			return clm_fail_set(f, 422, "invalid_value", name, "%s must be a Salesforce id (15 or 18 letters and digits)", name);
		break;
	case F_MEDIA:
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be a string", name);
		if ((long long)n > fd->max || !media_ok(s, n))
			return clm_fail_set(f, 422, "invalid_value", name, "%s must be a media type such as application/pdf", name);
		break;
	case F_FILENAME:
		if (!json_is_string(v))
			return clm_fail_set(f, 422, "invalid_type", name, "%s must be a string", name);
		if (n < 1 || (long long)n > fd->max || !filename_ok(s, n))
			return clm_fail_set(f, 422, "invalid_value", name, "%s: 1 to %lld bytes, no path separators, quotes or control characters", name, fd->max);
		break;
	case F_CUSTOM:
		return custom_check(sc, k, v, patch, out, f);
	case F_CHANGES:
		if (!json_is_object(v))
			return clm_fail_set(f, 422, "invalid_type", name, "changes must be an object of contract fields");
		if (json_object_size(v) == 0)
			return clm_fail_set(f, 422, "invalid_value", name, "changes must name at least one field");
	{
		cs_err rc = validate_obj(sc, CLM_CONTRACT, v, true, true, out, f);
		if (rc != CS_OK && f != NULL && strncmp(f->field, "changes.", 8) != 0) {
			char tmp[sizeof(f->field)];
			snprintf(tmp, sizeof(tmp), "changes.%.100s", f->field);
			memcpy(f->field, tmp, sizeof(tmp));
		}
		return rc;
	}
	case F_RO:
		return clm_fail_set(f, 422, "read_only", name, "%s is set by the repository", name);
	}
ok:
	*out = json_deep_copy(v);
done:
	if (*out == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	return CS_OK;
}

static cs_err
validate_obj(const struct clm_schema *sc, enum clm_kind k, const json_t *in, bool patch, bool changes,
    json_t **out, struct clm_fail *f)
{
	const char *key;
	json_t *val, *res;
	cs_err rc;

	*out = NULL;
	if (!json_is_object(in))
		return clm_fail_set(f, 400, "not_an_object", NULL, "the body must be a JSON object");
	if ((res = json_object()) == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	json_object_foreach((json_t *)in, key, val) {
		const struct field *fd = field_find(k, key);
		json_t *cv;
		if (fd == NULL || (changes && !clm_amendable(key))) {
			char shown[96];
			snprintf(shown, sizeof(shown), "%s%.60s", changes ? "changes." : "", key);
			rc = clm_fail_set(f, 422, "unknown_field", shown, fd ? "%s cannot be changed by an amendment" :
			    "%s is not a field of this record", shown);
			goto fail;
		}
		if (patch && !changes && (fd->flags & CREATE)) {
			rc = clm_fail_set(f, 422, "read_only", key, "%s cannot change once recorded", key);
			goto fail;
		}
		if (json_is_null(val) && fd->type != F_RO) {
			if ((fd->flags & REQ) || changes) {
				rc = clm_fail_set(f, 422, "required", key, "%s cannot be null", key);
				goto fail;
			}
			if (patch && json_object_set_new(res, key, json_null()) != 0) {
				rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
				goto fail;
			}
			continue;
		}
		if ((rc = field_value(sc, k, fd, val, patch, &cv, f)) != CS_OK)
			goto fail;
		/* a value that could not be kept must not vanish from the change: the update would
		 * then succeed without it (found by the torture run: an edit reported done, not made) */
		if (json_object_set_new(res, key, cv) != 0) {
			rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
			goto fail;
		}
	}
	if (!patch) {
		for (const struct field *fd = tables[k]; fd->name; fd++)
			if ((fd->flags & REQ) && json_object_get(res, fd->name) == NULL) {
				rc = clm_fail_set(f, 422, "required", fd->name, "%s is required", fd->name);
				goto fail;
			}
		if (sc != NULL && sc->n[k] > 0 && json_object_get(res, "custom") == NULL) {
			json_t *empty = json_object(), *cv = NULL;
			rc = empty ? custom_check(sc, k, empty, false, &cv, f) : CS_ENOMEM;
			json_decref(empty);
			json_decref(cv);
			if (rc != CS_OK)
				goto fail;
		}
	}
	*out = res;
	return CS_OK;
fail:
	json_decref(res);
	return rc;
}

cs_err
clm_validate(const struct clm_schema *sc, enum clm_kind k, const json_t *in, bool patch, json_t **out,
    struct clm_fail *f)
{
	if ((unsigned)k >= CLM_KIND_COUNT) {
		*out = NULL;
		return clm_fail_set(f, 500, "internal", NULL, "unknown record kind");
	}
	return validate_obj(sc, k, in, patch, false, out, f);
}

cs_err
clm_body_parse(const char *p, size_t len, size_t max, json_t **out, struct clm_fail *f)
{
	struct cs_error e = { 0 };
	cs_err rc;

	*out = NULL;
	if (len > max)
		return clm_fail_set(f, 413, "body_too_large", NULL, "the body is over %zu bytes", max);
	if (!cs_utf8_valid(p, len))
		return clm_fail_set(f, 400, "invalid_utf8", NULL, "the body is not valid UTF-8");
	rc = cs_json_parse(p, len, out, &e);
	if (rc == CS_EUTF8)
		return clm_fail_set(f, 400, "invalid_utf8", NULL, "the body is not valid UTF-8");
	if (rc != CS_OK)
		return clm_fail_set(f, 400, "malformed_json", NULL, "malformed JSON: %s", e.msg);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return clm_fail_set(f, 400, "not_an_object", NULL, "the body must be a JSON object");
	}
	return CS_OK;
}

/* ---- derived fields and cross-field rules ---- */

static bool
get_date(const json_t *doc, const char *key, int64_t *d)
{
	const json_t *v = json_object_get(doc, key);

	return json_is_string(v) && cs_date_parse(json_string_value(v), json_string_length(v), d);
}

static void
set_date(json_t *doc, const char *key, int64_t d)
{
	char txt[16];

	cs_date_format(d, txt, sizeof(txt));
	json_object_set_new(doc, key, json_string(txt));
}

void
clm_contract_derive(json_t *doc)
{
	int64_t eff, exp, end, dl;
	const json_t *term = json_object_get(doc, "term_months");
	const json_t *notice = json_object_get(doc, "renewal_notice_days");

	/* A term with a start and no end gives the end: the day before the same date term months on. */
	if (!json_object_get(doc, "expiration_date") && get_date(doc, "effective_date", &eff) &&
	    json_is_integer(term) && json_integer_value(term) > 0 &&
	    cs_date_add_months(eff, json_integer_value(term), &end) && cs_date_add_days(end, -1, &end))
		set_date(doc, "expiration_date", end);
	if (get_date(doc, "expiration_date", &exp) && json_is_integer(notice) &&
	    cs_date_add_days(exp, -json_integer_value(notice), &dl))
		set_date(doc, "notice_deadline", dl);
	else
		json_object_del(doc, "notice_deadline");
}

cs_err
clm_contract_check(const json_t *doc, struct clm_fail *f)
{
	int64_t eff, exp;

	if (get_date(doc, "effective_date", &eff) && get_date(doc, "expiration_date", &exp) && exp < eff)
		return clm_fail_set(f, 422, "invalid_value", "expiration_date",
		    "expiration_date must not be before effective_date");
	return CS_OK;
}

/* ---- API shapes ---- */

static json_t *
shape(enum clm_kind k, const char *id, long long version, int64_t created, int64_t updated,
    const char *by, const json_t *doc, int64_t today)
{
	json_t *o = json_object(), *v;
	const char *key;
	char c[32], u[32];

	int bad = 0;

	if (o == NULL)
		return NULL;
	/* id and version first: people read these records */
	bad |= json_object_set_new(o, "id", json_string(id));
	bad |= json_object_set_new(o, "version", json_integer(version));
	json_object_foreach((json_t *)doc, key, v) {
		if ((bad |= json_object_set_new(o, key, json_deep_copy(v))) != 0)
			break;
	}
	cs_time_format_iso(created, c, sizeof(c));
	cs_time_format_iso(updated, u, sizeof(u));
	bad |= json_object_set_new(o, "created_at", json_string(c));
	bad |= json_object_set_new(o, "updated_at", json_string(u));
	bad |= json_object_set_new(o, "updated_by", json_string(by));
	if (k == CLM_OBLIGATION && bad == 0) {
		int64_t due;
		const char *st = cs_json_get_str(o, "status");
		bad |= json_object_set_new(o, "overdue", json_boolean(get_date(o, "due_date", &due) && due < today &&
		    (st == NULL || strcmp(st, "open") == 0)));
	}
	/* out of memory: no record at all rather than one missing its id or a field */
	if (bad != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
clm_record_json(const struct store_rec *r, int64_t today)
{
	for (int k = 0; k < CLM_KIND_COUNT; k++)
		if (strcmp(r->kind, kinds[k].name) == 0)
			return shape((enum clm_kind)k, r->id, r->version, r->created_ms, r->updated_ms,
			    r->updated_by, r->doc, today);
	return NULL;
}

static int64_t
time_of(const json_t *row, const char *key)
{
	const json_t *v = json_object_get(row, key);
	int64_t ms = 0;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))
		cs_datetime_parse(json_string_value(v), json_string_length(v), &ms);
	return ms;
}

json_t *
clm_row_json(enum clm_kind k, const json_t *row, int64_t today)
{
	const char *id = cs_json_get_str(row, "id"), *by = cs_json_get_str(row, "updated_by");
	const json_t *doc = json_object_get(row, "doc");

	if (id == NULL || !json_is_object(doc))
		return NULL;
	return shape(k, id, cs_json_get_int(row, "version", 0), time_of(row, "created_at"),
	    time_of(row, "updated_at"), by ? by : "", doc, today);
}

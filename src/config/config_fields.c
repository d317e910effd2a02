/* config_fields.c - repository fields a mapping may name; value maps and lookups at run time. */
#include "config/config_int.h"

#include <string.h>

/* The values of the repository's enumerated fields; kept equal to src/clm/model.c. */
static const char *const cp_status[] = { "active", "inactive", "blocked", NULL };
static const char *const ct_type[] = { "msa", "sow", "nda", "order_form", "amendment", "renewal",
                                       "other", NULL };
static const char *const ct_status[] = { "draft", "in_review", "in_approval", "approved",
                                         "in_signature", "signed", "active", "expired",
                                         "terminated", "renewed", NULL };
static const char *const ct_approval[] = { "not_required", "pending", "approved", "rejected",
                                           NULL };
static const char *const am_status[] = { "pending", "applied", "void", NULL };
static const char *const ob_recur[] = { "none", "monthly", "quarterly", "semiannual", "annual",
                                        NULL };
static const char *const ob_status[] = { "open", "done", "waived", NULL };
static const char *const ap_decision[] = { "pending", "approved", "rejected", NULL };
static const char *const sg_party[] = { "customer", "company", NULL };

#define T CS_VALUE_TEXT
#define I CS_VALUE_INTEGER
#define D CS_VALUE_DATE
#define DT CS_VALUE_DATETIME
#define B CS_VALUE_BOOLEAN
#define E CS_VALUE_ENUM
#define RO true

/* Every record has these (docs/api.md "Conventions"); the repository sets them. */
#define COMMON \
	{ "id", CS_VALUE_ID, RO, NULL, 0, NULL }, \
	{ "version", I, RO, NULL, 0, NULL }, \
	{ "created_at", DT, RO, NULL, 0, NULL }, \
	{ "updated_at", DT, RO, NULL, 0, NULL }, \
	{ "updated_by", T, RO, NULL, 0, NULL }, \
	{ NULL, 0, false, NULL, 0, NULL }

static const struct known_field f_counterparty[] = {
	{ "legal_name", T, false, NULL, 0, NULL },
	{ "domain", T, false, NULL, 0, NULL },
	{ "country", T, false, NULL, 0, NULL },
	{ "registration_number", T, false, NULL, 0, NULL },
	{ "status", E, false, cp_status, 0, NULL },
	COMMON,
};

static const struct known_field f_contract[] = {
	{ "number", T, false, NULL, 0, NULL },
	{ "title", T, false, NULL, 0, NULL },
	{ "type", E, false, ct_type, 0, NULL },
	{ "counterparty_id", CS_VALUE_REFERENCE, false, NULL, CS_ENTITY_COUNTERPARTY, NULL },
	{ "owner", T, false, NULL, 0, NULL },
	{ "status", E, false, ct_status, 0, NULL },
	{ "description", T, false, NULL, 0, NULL },
	{ "effective_date", D, false, NULL, 0, NULL },
	{ "expiration_date", D, false, NULL, 0, NULL },
	{ "term_months", I, false, NULL, 0, NULL },
	{ "auto_renew", B, false, NULL, 0, NULL },
	{ "renewal_notice_days", I, false, NULL, 0, NULL },
	{ "notice_deadline", D, RO, NULL, 0, NULL },
	{ "total_value", CS_VALUE_MONEY, false, NULL, 0, NULL },
	{ "payment_terms", T, false, NULL, 0, NULL },
	{ "governing_law", T, false, NULL, 0, NULL },
	{ "parent_contract_id", CS_VALUE_REFERENCE, false, NULL, CS_ENTITY_CONTRACT, NULL },
	{ "salesforce_opportunity_id", CS_VALUE_SFID, false, NULL, 0, "Opportunity" },
	{ "salesforce_account_id", CS_VALUE_SFID, false, NULL, 0, "Account" },
	{ "customer_signed_date", D, false, NULL, 0, NULL },
	{ "company_signed_date", D, false, NULL, 0, NULL },
	{ "approval_status", E, false, ct_approval, 0, NULL },
	{ "termination_date", D, RO, NULL, 0, NULL },
	{ "termination_reason", T, false, NULL, 0, NULL },
	{ "renewal_id", CS_VALUE_REFERENCE, RO, NULL, CS_ENTITY_CONTRACT, NULL },
	COMMON,
};

static const struct known_field f_amendment[] = {
	{ "contract_id", CS_VALUE_REFERENCE, RO, NULL, CS_ENTITY_CONTRACT, NULL },
	{ "title", T, false, NULL, 0, NULL },
	{ "description", T, false, NULL, 0, NULL },
	{ "effective_date", D, false, NULL, 0, NULL },
	{ "status", E, RO, am_status, 0, NULL },
	{ "applied_at", DT, RO, NULL, 0, NULL },
	COMMON,
};

static const struct known_field f_obligation[] = {
	{ "contract_id", CS_VALUE_REFERENCE, RO, NULL, CS_ENTITY_CONTRACT, NULL },
	{ "description", T, false, NULL, 0, NULL },
	{ "owner", T, false, NULL, 0, NULL },
	{ "due_date", D, false, NULL, 0, NULL },
	{ "recurrence", E, false, ob_recur, 0, NULL },
	{ "status", E, false, ob_status, 0, NULL },
	{ "overdue", B, RO, NULL, 0, NULL },
	COMMON,
};

static const struct known_field f_approval[] = {
	{ "contract_id", CS_VALUE_REFERENCE, RO, NULL, CS_ENTITY_CONTRACT, NULL },
	{ "approver", T, false, NULL, 0, NULL },
	{ "step", I, false, NULL, 0, NULL },
	{ "decision", E, false, ap_decision, 0, NULL },
	{ "comment", T, false, NULL, 0, NULL },
	{ "decided_at", DT, false, NULL, 0, NULL },
	COMMON,
};

static const struct known_field f_signature[] = {
	{ "contract_id", CS_VALUE_REFERENCE, RO, NULL, CS_ENTITY_CONTRACT, NULL },
	{ "signer", T, false, NULL, 0, NULL },
	{ "party", E, false, sg_party, 0, NULL },
	{ "signed_at", DT, false, NULL, 0, NULL },
	COMMON,
};

static const struct known_field *
fields_of(enum cs_entity e)
{
	switch (e) {
	case CS_ENTITY_COUNTERPARTY: return f_counterparty;
	case CS_ENTITY_CONTRACT: return f_contract;
	case CS_ENTITY_AMENDMENT: return f_amendment;
	case CS_ENTITY_OBLIGATION: return f_obligation;
	case CS_ENTITY_APPROVAL: return f_approval;
	case CS_ENTITY_SIGNATURE: return f_signature;
	}
	return NULL;
}

const struct known_field *
cs_config_known_field(enum cs_entity e, const char *name)
{
	for (const struct known_field *f = fields_of(e); f != NULL && f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

size_t
cs_config_known_names(enum cs_entity e, const char **names, size_t max)
{
	size_t n = 0;

	for (const struct known_field *f = fields_of(e); f != NULL && f->name != NULL && n < max; f++)
		names[n++] = f->name;
	return n;
}

/* --- run time ------------------------------------------------------------------------------- */

enum cs_map_result
cs_field_map_to_sf(const struct cs_field_map *f, const char *v, const char **out)
{
	*out = NULL;
	if (f->nvalue_map == 0) {
		*out = v;
		return CS_MAP_OK;
	}
	for (size_t i = 0; i < f->nnot_synced; i++)
		if (strcmp(f->not_synced[i], v) == 0)
			return CS_MAP_NOT_SYNCED;
	for (size_t i = 0; i < f->nvalue_map; i++)
		if (strcmp(f->value_map[i].clm, v) == 0) {
			*out = f->value_map[i].sf;
			return CS_MAP_OK;
		}
	return CS_MAP_UNMAPPED;
}

enum cs_map_result
cs_field_map_to_clm(const struct cs_field_map *f, const char *v, const char **out)
{
	const char *found = NULL;

	*out = NULL;
	if (f->nvalue_map == 0) {
		*out = v;
		return CS_MAP_OK;
	}
	for (size_t i = 0; i < f->nvalue_map; i++)
		if (strcmp(f->value_map[i].sf, v) == 0) {
			if (found != NULL)
				return CS_MAP_AMBIGUOUS;
			found = f->value_map[i].clm;
		}
	if (found == NULL)
		return CS_MAP_UNMAPPED;
	*out = found;
	return CS_MAP_OK;
}

const struct cs_mapping *
cs_config_mapping(const struct cs_config *c, const char *name)
{
	for (size_t i = 0; c != NULL && name != NULL && i < c->nmappings; i++)
		if (c->mappings[i].name != NULL && strcmp(c->mappings[i].name, name) == 0)
			return &c->mappings[i];
	return NULL;
}

const struct cs_org *
cs_config_org(const struct cs_config *c, const char *name)
{
	for (size_t i = 0; c != NULL && name != NULL && i < c->norgs; i++)
		if (c->orgs[i].name != NULL && strcmp(c->orgs[i].name, name) == 0)
			return &c->orgs[i];
	return NULL;
}

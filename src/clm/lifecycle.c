/* lifecycle.c - the contract lifecycle: statuses, the transition table and each status's entry rules. */
#include "clm/clm.h"
#include "clm/clm_int.h"
#include "util/json.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>

static const char *const names[CLM_STATUS_COUNT] = {
	"draft", "in_review", "in_approval", "approved", "in_signature",
	"signed", "active", "expired", "terminated", "renewed",
};

#define B(s) (1u << (s))
/* The edges. Forward along the main path; back-edges for the rework a legal team does
 * (review sends a draft back, a rejected approval returns to review, a withdrawn or refused
 * signature request returns to approved or review); terminated from any status before
 * signature (the deal is abandoned) and from signed/active (ended early); renewed from active
 * and from expired (a late renewal). terminated and renewed are final. */
static const unsigned edges[CLM_STATUS_COUNT] = {
	[CLM_DRAFT] = B(CLM_IN_REVIEW) | B(CLM_TERMINATED),
	[CLM_IN_REVIEW] = B(CLM_DRAFT) | B(CLM_IN_APPROVAL) | B(CLM_TERMINATED),
	[CLM_IN_APPROVAL] = B(CLM_IN_REVIEW) | B(CLM_APPROVED) | B(CLM_TERMINATED),
	[CLM_APPROVED] = B(CLM_IN_REVIEW) | B(CLM_IN_SIGNATURE) | B(CLM_TERMINATED),
	[CLM_IN_SIGNATURE] = B(CLM_IN_REVIEW) | B(CLM_APPROVED) | B(CLM_SIGNED) | B(CLM_TERMINATED),
	[CLM_SIGNED] = B(CLM_ACTIVE) | B(CLM_TERMINATED),
	[CLM_ACTIVE] = B(CLM_EXPIRED) | B(CLM_TERMINATED) | B(CLM_RENEWED),
	[CLM_EXPIRED] = B(CLM_RENEWED),
	[CLM_TERMINATED] = 0,
	[CLM_RENEWED] = 0,
};
#undef B

const char *
clm_status_name(enum clm_status s)
{
	return (unsigned)s < CLM_STATUS_COUNT ? names[s] : "unknown";
}

int
clm_status_parse(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < CLM_STATUS_COUNT; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

bool
clm_transition_allowed(enum clm_status from, enum clm_status to)
{
	if ((unsigned)from >= CLM_STATUS_COUNT || (unsigned)to >= CLM_STATUS_COUNT)
		return false;
	return (edges[from] >> to) & 1u;
}

size_t
clm_transitions_from(enum clm_status from, char *out, size_t cap)
{
	size_t n = 0, used = 0;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	for (int to = 0; to < CLM_STATUS_COUNT; to++) {
		int w;
		if (!clm_transition_allowed(from, (enum clm_status)to))
			continue;
		w = snprintf(out + used, cap - used, "%s%s", n ? ", " : "", names[to]);
		if (w < 0 || (size_t)w >= cap - used) {
			out[used] = '\0';   /* drop the partial name */
			break;
		}
		used += (size_t)w;
		n++;
	}
	return n;
}

/* A date field of the contract: true and *d when present and valid. */
static bool
date_of(const json_t *c, const char *key, int64_t *d)
{
	const json_t *v = json_object_get(c, key);

	return json_is_string(v) && cs_date_parse(json_string_value(v), json_string_length(v), d);
}

static cs_err
rule(struct clm_fail *f, enum clm_status to, const char *field, const char *why)
{
	return clm_fail_set(f, 422, "transition_rule", field, "cannot enter %s: %s", names[to], why);
}

/* The entry rules of one status, given the contract as it would be. */
static cs_err
entry_rules(const json_t *c, enum clm_status to, int64_t today, struct clm_fail *f)
{
	int64_t d, d2;

	switch (to) {
	case CLM_IN_SIGNATURE:
		if (!json_is_string(json_object_get(c, "counterparty_id")))
			return rule(f, to, "counterparty_id", "a contract goes to signature with a counterparty");
		break;
	case CLM_SIGNED:
		if (!date_of(c, "customer_signed_date", &d))
			return rule(f, to, "customer_signed_date", "the customer's signature date is required");
		if (!date_of(c, "company_signed_date", &d2))
			return rule(f, to, "company_signed_date", "the company's signature date is required");
		if (d > today)
			return rule(f, to, "customer_signed_date", "a signature date cannot be in the future");
		if (d2 > today)
			return rule(f, to, "company_signed_date", "a signature date cannot be in the future");
		break;
	case CLM_ACTIVE:
		if (!date_of(c, "effective_date", &d))
			return rule(f, to, "effective_date", "an effective date is required");
		if (d > today)
			return rule(f, to, "effective_date", "the effective date has not arrived");
		break;
	case CLM_EXPIRED:
		if (!date_of(c, "expiration_date", &d))
			return rule(f, to, "expiration_date", "an expiration date is required");
		if (d >= today)
			return rule(f, to, "expiration_date", "the expiration date has not passed");
		break;
	default:
		break;
	}
	return CS_OK;
}

cs_err
clm_transition_check(const json_t *contract, enum clm_status from, enum clm_status to, int64_t today,
    struct clm_fail *f)
{
	if (!clm_transition_allowed(from, to)) {
		clm_fail_set(f, 422, "invalid_transition", "status", "a contract in %s cannot move to %s",
		    clm_status_name(from), clm_status_name(to));
		clm_transitions_from(from, f->allowed, sizeof(f->allowed));
		return CS_EINVAL;
	}
	return entry_rules(contract, to, today, f);
}

cs_err
clm_status_check_entry(const json_t *contract, enum clm_status st, int64_t today, struct clm_fail *f)
{
	cs_err rc;

	if ((unsigned)st >= CLM_STATUS_COUNT || st == CLM_RENEWED)
		return clm_fail_set(f, 422, "invalid_value", "status",
		    "a contract cannot be created as %s", clm_status_name(st));
	if (st == CLM_TERMINATED)
		return CS_OK;
	/* A contract imported as expired went through signature and activation: check those too. */
	for (int s = CLM_IN_SIGNATURE; s <= (int)st && s <= CLM_SIGNED; s++)
		if ((rc = entry_rules(contract, (enum clm_status)s, today, f)) != CS_OK)
			return rc;
	if (st == CLM_EXPIRED) {
		int64_t d;
		if (!date_of(contract, "effective_date", &d))
			return rule(f, st, "effective_date", "an effective date is required");
	}
	return st >= CLM_ACTIVE ? entry_rules(contract, st, today, f) : CS_OK;
}

void
clm_transition_effects(json_t *doc, enum clm_status from, enum clm_status to, int64_t today)
{
	char day[16];

	cs_date_format(today, day, sizeof(day));
	switch (to) {
	case CLM_IN_APPROVAL:
		json_object_set_new(doc, "approval_status", json_string("pending"));
		break;
	case CLM_APPROVED:
		json_object_set_new(doc, "approval_status", json_string("approved"));
		break;
	case CLM_IN_REVIEW:
		if (from == CLM_IN_APPROVAL)
			json_object_set_new(doc, "approval_status", json_string("rejected"));
		break;
	case CLM_TERMINATED:
		json_object_set_new(doc, "termination_date", json_string(day));
		break;
	default:
		break;
	}
	json_object_set_new(doc, "status", json_string(names[to]));
}

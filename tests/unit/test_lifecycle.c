/* test_lifecycle.c - the contract lifecycle: the transition table, entry rules and their effects. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "clm/clm.h"
#include "clm/clm_int.h"
#include "util/timeutil.h"

static int64_t
day(const char *s)
{
	int64_t d = 0;

	assert_true(cs_date_parse(s, strlen(s), &d));
	return d;
}

/* Every edge, as a table: from, to, allowed. Anything not listed is refused. */
static const struct { enum clm_status from, to; } edges[] = {
	{ CLM_DRAFT, CLM_IN_REVIEW }, { CLM_DRAFT, CLM_TERMINATED },
	{ CLM_IN_REVIEW, CLM_DRAFT }, { CLM_IN_REVIEW, CLM_IN_APPROVAL }, { CLM_IN_REVIEW, CLM_TERMINATED },
	{ CLM_IN_APPROVAL, CLM_IN_REVIEW }, { CLM_IN_APPROVAL, CLM_APPROVED }, { CLM_IN_APPROVAL, CLM_TERMINATED },
	{ CLM_APPROVED, CLM_IN_REVIEW }, { CLM_APPROVED, CLM_IN_SIGNATURE }, { CLM_APPROVED, CLM_TERMINATED },
	{ CLM_IN_SIGNATURE, CLM_IN_REVIEW }, { CLM_IN_SIGNATURE, CLM_APPROVED }, { CLM_IN_SIGNATURE, CLM_SIGNED },
	{ CLM_IN_SIGNATURE, CLM_TERMINATED },
	{ CLM_SIGNED, CLM_ACTIVE }, { CLM_SIGNED, CLM_TERMINATED },
	{ CLM_ACTIVE, CLM_EXPIRED }, { CLM_ACTIVE, CLM_TERMINATED }, { CLM_ACTIVE, CLM_RENEWED },
	{ CLM_EXPIRED, CLM_RENEWED },
};

static bool
listed(enum clm_status a, enum clm_status b)
{
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		if (edges[i].from == a && edges[i].to == b)
			return true;
	return false;
}

static void
table(void **state)
{
	for (int a = 0; a < CLM_STATUS_COUNT; a++)
		for (int b = 0; b < CLM_STATUS_COUNT; b++) {
			if (clm_transition_allowed((enum clm_status)a, (enum clm_status)b) != listed((enum clm_status)a, (enum clm_status)b))
				fail_msg("%s -> %s", clm_status_name((enum clm_status)a), clm_status_name((enum clm_status)b));
		}
	/* no status moves to itself; final statuses go nowhere */
	for (int a = 0; a < CLM_STATUS_COUNT; a++)
		assert_false(clm_transition_allowed((enum clm_status)a, (enum clm_status)a));
	assert_false(clm_transition_allowed(CLM_STATUS_COUNT, CLM_DRAFT));
	assert_false(clm_transition_allowed(CLM_DRAFT, (enum clm_status)-1));
}

static void
names(void **state)
{
	for (int a = 0; a < CLM_STATUS_COUNT; a++)
		assert_int_equal(clm_status_parse(clm_status_name((enum clm_status)a)), a);
	assert_int_equal(clm_status_parse("Draft"), -1);
	assert_int_equal(clm_status_parse(""), -1);
	assert_int_equal(clm_status_parse(NULL), -1);
	assert_string_equal(clm_status_name(CLM_STATUS_COUNT), "unknown");
}

static void
allowed_list(void **state)
{
	char buf[192];

	assert_int_equal(clm_transitions_from(CLM_ACTIVE, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "expired, terminated, renewed");
	assert_int_equal(clm_transitions_from(CLM_TERMINATED, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* a small buffer truncates at a whole name and stays terminated */
	assert_int_equal(clm_transitions_from(CLM_IN_SIGNATURE, buf, 12), 1);
	assert_string_equal(buf, "in_review");
}

static void
invalid_edge_lists_allowed(void **state)
{
	json_t *c = json_pack("{s:s}", "status", "draft");
	struct clm_fail f;

	assert_int_equal(clm_transition_check(c, CLM_DRAFT, CLM_ACTIVE, day("2026-01-01"), &f), CS_EINVAL);
	assert_int_equal(f.status, 422);
	assert_string_equal(f.code, "invalid_transition");
	assert_string_equal(f.allowed, "in_review, terminated");
	assert_int_equal(clm_transition_check(c, CLM_DRAFT, CLM_IN_REVIEW, day("2026-01-01"), &f), CS_OK);
	json_decref(c);
}

static void
signed_needs_both_dates(void **state)
{
	json_t *c = json_pack("{s:s}", "customer_signed_date", "2026-01-10");
	struct clm_fail f;
	int64_t today = day("2026-01-15");

	assert_int_equal(clm_transition_check(c, CLM_IN_SIGNATURE, CLM_SIGNED, today, &f), CS_EINVAL);
	assert_string_equal(f.code, "transition_rule");
	assert_string_equal(f.field, "company_signed_date");
	json_object_set_new(c, "company_signed_date", json_string("2026-01-16"));
	assert_int_equal(clm_transition_check(c, CLM_IN_SIGNATURE, CLM_SIGNED, today, &f), CS_EINVAL);
	assert_string_equal(f.field, "company_signed_date");   /* in the future */
	json_object_set_new(c, "company_signed_date", json_string("2026-01-15"));
	assert_int_equal(clm_transition_check(c, CLM_IN_SIGNATURE, CLM_SIGNED, today, &f), CS_OK);
	json_object_del(c, "customer_signed_date");
	assert_int_equal(clm_transition_check(c, CLM_IN_SIGNATURE, CLM_SIGNED, today, &f), CS_EINVAL);
	assert_string_equal(f.field, "customer_signed_date");
	json_decref(c);
}

static void
active_needs_effective_date(void **state)
{
	json_t *c = json_object();
	struct clm_fail f;

	assert_int_equal(clm_transition_check(c, CLM_SIGNED, CLM_ACTIVE, day("2026-03-01"), &f), CS_EINVAL);
	assert_string_equal(f.field, "effective_date");
	json_object_set_new(c, "effective_date", json_string("2026-03-02"));
	assert_int_equal(clm_transition_check(c, CLM_SIGNED, CLM_ACTIVE, day("2026-03-01"), &f), CS_EINVAL);
	/* today counts as arrived */
	assert_int_equal(clm_transition_check(c, CLM_SIGNED, CLM_ACTIVE, day("2026-03-02"), &f), CS_OK);
	assert_int_equal(clm_transition_check(c, CLM_SIGNED, CLM_ACTIVE, day("2027-03-02"), &f), CS_OK);
	json_decref(c);
}

static void
expired_needs_passed_date(void **state)
{
	json_t *c = json_pack("{s:s}", "expiration_date", "2026-12-31");
	struct clm_fail f;

	/* the expiration date is the last day in force */
	assert_int_equal(clm_transition_check(c, CLM_ACTIVE, CLM_EXPIRED, day("2026-12-31"), &f), CS_EINVAL);
	assert_int_equal(clm_transition_check(c, CLM_ACTIVE, CLM_EXPIRED, day("2027-01-01"), &f), CS_OK);
	json_decref(c);
}

static void
signature_needs_counterparty(void **state)
{
	json_t *c = json_object();
	struct clm_fail f;

	assert_int_equal(clm_transition_check(c, CLM_APPROVED, CLM_IN_SIGNATURE, 0, &f), CS_EINVAL);
	assert_string_equal(f.field, "counterparty_id");
	json_object_set_new(c, "counterparty_id", json_string("cp_01J9Z3Q4V6X8N2M5K7H1D0F3WS"));
	assert_int_equal(clm_transition_check(c, CLM_APPROVED, CLM_IN_SIGNATURE, 0, &f), CS_OK);
	json_decref(c);
}

static void
entry_on_create(void **state)
{
	json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:s}", "counterparty_id", "cp_01J9Z3Q4V6X8N2M5K7H1D0F3WS",
	    "customer_signed_date", "2025-01-01", "company_signed_date", "2025-01-02",
	    "effective_date", "2025-02-01", "expiration_date", "2026-01-31");
	struct clm_fail f;

	assert_int_equal(clm_status_check_entry(c, CLM_ACTIVE, day("2025-06-01"), &f), CS_OK);
	assert_int_equal(clm_status_check_entry(c, CLM_EXPIRED, day("2025-06-01"), &f), CS_EINVAL);
	assert_int_equal(clm_status_check_entry(c, CLM_EXPIRED, day("2026-02-01"), &f), CS_OK);
	assert_int_equal(clm_status_check_entry(c, CLM_RENEWED, day("2026-02-01"), &f), CS_EINVAL);
	assert_int_equal(clm_status_check_entry(c, CLM_TERMINATED, 0, &f), CS_OK);
	json_object_del(c, "company_signed_date");
	assert_int_equal(clm_status_check_entry(c, CLM_ACTIVE, day("2025-06-01"), &f), CS_EINVAL);
	assert_string_equal(f.field, "company_signed_date");
	assert_int_equal(clm_status_check_entry(c, CLM_APPROVED, day("2025-06-01"), &f), CS_OK);
	json_decref(c);
}

static void
effects(void **state)
{
	json_t *c = json_object();

	clm_transition_effects(c, CLM_IN_REVIEW, CLM_IN_APPROVAL, 0);
	assert_string_equal(json_string_value(json_object_get(c, "approval_status")), "pending");
	clm_transition_effects(c, CLM_IN_APPROVAL, CLM_IN_REVIEW, 0);
	assert_string_equal(json_string_value(json_object_get(c, "approval_status")), "rejected");
	assert_string_equal(json_string_value(json_object_get(c, "status")), "in_review");
	clm_transition_effects(c, CLM_IN_APPROVAL, CLM_APPROVED, 0);
	assert_string_equal(json_string_value(json_object_get(c, "approval_status")), "approved");
	clm_transition_effects(c, CLM_ACTIVE, CLM_TERMINATED, day("2026-05-04"));
	assert_string_equal(json_string_value(json_object_get(c, "termination_date")), "2026-05-04");
	assert_string_equal(json_string_value(json_object_get(c, "status")), "terminated");
	json_decref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table),
		cmocka_unit_test(names),
		cmocka_unit_test(allowed_list),
		cmocka_unit_test(invalid_edge_lists_allowed),
		cmocka_unit_test(signed_needs_both_dates),
		cmocka_unit_test(active_needs_effective_date),
		cmocka_unit_test(expired_needs_passed_date),
		cmocka_unit_test(signature_needs_counterparty),
		cmocka_unit_test(entry_on_create),
		cmocka_unit_test(effects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

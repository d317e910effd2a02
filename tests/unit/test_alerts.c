/* test_alerts.c - the alert webhook's pure parts: every condition on status documents at and
 * around its threshold, firing and resolving exactly once, the signature, and what start refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/alerts.h"
#include "config/config.h"

#define KEY "whsec-0123456789abcdef"
#define NOW 1700000000000LL

/* A configuration with the webhook on and the given thresholds (YAML lines under alerts:). */
static struct cs_config *
config_with(const char *thresholds)
{
	char text[1024];
	struct cs_config *c = NULL;
	struct cs_error_list errs;

	snprintf(text, sizeof(text), "alerts:\n  webhook_url: http://127.0.0.1:9/hook\n  secret_env: TEST_ALERTS_KEY\n%s",
	         thresholds);
	setenv("TEST_ALERTS_KEY", KEY, 1);
	cs_error_list_init(&errs);
	if (cs_config_load_buffer("alerts.yaml", text, strlen(text), 0, &c, &errs) != CS_OK)
		for (size_t i = 0; i < errs.n; i++)
			print_message("%s\n", errs.v[i].text);
	cs_error_list_cleanup(&errs);
	assert_non_null(c);
	return c;
}

/* A status document of one org, "prod", with one mapping, "contracts": the figures as
 * admin_status_build writes them, at NOW, 1000 s after the start. */
struct fig {
	int connected;
	long long since_ms;       /* 0: never connected */
	long long retention_left; /* -1: no stored position */
	long long lag_ms;
	long long used, max;
	long long drift;
	long long dlq;
};

static json_t *
status_of(const struct fig *f)
{
	json_t *pos = json_object();

	json_object_set_new(pos, "/data/ContractChangeEvent", json_pack("{s:i, s:I, s:I}", "replay_id", 42, "stored_ms",
	    (json_int_t)(NOW - 1000), "retention_left_s", (json_int_t)f->retention_left));
	return json_pack("{s:I, s:i, s:[{s:s, s:b, s:{s:b, s:I, s:o}, s:I, s:I, s:{s:I, s:I}, s:{s:I}, "
	    "s:[{s:s, s:I}]}]}", "now_ms", (json_int_t)NOW, "uptime_s", 1000, "orgs", "org", "prod", "engine", 1,
	    "stream", "connected", f->connected, "since_ms", (json_int_t)f->since_ms, "positions", pos,
	    "lag_ms", (json_int_t)f->lag_ms, "oldest_pending_ms", (json_int_t)(f->lag_ms ? NOW - f->lag_ms : 0),
	    "api", "used", (json_int_t)f->used, "max", (json_int_t)f->max, "reconcile", "last_drift", (json_int_t)f->drift,
	    "mappings", "name", "contracts", "dlq", (json_int_t)f->dlq);
}

static const struct fig calm = { 1, NOW - 5000, 200000, 0, 100, 15000, 0, 0 };

/* The observation of alert in obs, or NULL. */
static const json_t *
find(const json_t *obs, const char *alert)
{
	const json_t *o;
	size_t i;

	json_array_foreach(obs, i, o)
		if (strcmp(json_string_value(json_object_get(o, "alert")), alert) == 0)
			return o;
	return NULL;
}

static void
calm_fires_nothing(void **state)
{
	struct cs_config *c = config_with("");
	json_t *st = status_of(&calm), *obs = alerts_observe(c, st), *o;
	static const char *const every[] = { "ClmsyncStreamDown", "ClmsyncReplayRetention", "ClmsyncSyncLag",
		"ClmsyncAPIBudgetLow", "ClmsyncReconcileDrift", "ClmsyncDLQ" };
	size_t i;

	assert_non_null(obs);
	for (i = 0; i < sizeof(every) / sizeof(every[0]); i++) {
		print_message("%s\n", every[i]);
		assert_non_null(find(obs, every[i]));
	}
	json_array_foreach(obs, i, o)
		assert_false(json_is_true(json_object_get(o, "firing")));
	assert_string_equal(json_string_value(json_object_get(find(obs, "ClmsyncDLQ"), "mapping")), "contracts");
	assert_string_equal(json_string_value(json_object_get(find(obs, "ClmsyncReplayRetention"), "channel")),
	                    "/data/ContractChangeEvent");
	json_decref(obs);
	json_decref(st);
	cs_config_free(c);
}

/* Each condition below, at and across its threshold: the thresholds are 10 s down, 30 s of lag,
 * 3600 s of retention, 2 DLQ entries, 20% of the API budget, 5 records of drift. */
static void
each_condition(void **state)
{
	static const struct {
		const char *alert;
		struct fig f;
		long long value;
		int firing;
	} cases[] = {
		{ "ClmsyncStreamDown", { 0, NOW - 9999, 200000, 0, 100, 15000, 0, 0 }, 9, 0 },
		{ "ClmsyncStreamDown", { 0, NOW - 10000, 200000, 0, 100, 15000, 0, 0 }, 10, 1 },
		/* never connected: down since the server started, 1000 s ago */
		{ "ClmsyncStreamDown", { 0, 0, 200000, 0, 100, 15000, 0, 0 }, 1000, 1 },
		{ "ClmsyncStreamDown", { 1, NOW - 999999, 200000, 0, 100, 15000, 0, 0 }, 0, 0 },
		{ "ClmsyncSyncLag", { 1, NOW, 200000, 30999, 100, 15000, 0, 0 }, 30, 0 },
		{ "ClmsyncSyncLag", { 1, NOW, 200000, 31000, 100, 15000, 0, 0 }, 31, 1 },
		{ "ClmsyncReplayRetention", { 1, NOW, 3600, 0, 100, 15000, 0, 0 }, 3600, 0 },
		{ "ClmsyncReplayRetention", { 1, NOW, 3599, 0, 100, 15000, 0, 0 }, 3599, 1 },
		{ "ClmsyncReplayRetention", { 1, NOW, 0, 0, 100, 15000, 0, 0 }, 0, 1 },
		{ "ClmsyncAPIBudgetLow", { 1, NOW, 200000, 0, 12000, 15000, 0, 0 }, 20, 0 },
		{ "ClmsyncAPIBudgetLow", { 1, NOW, 200000, 0, 12001, 15000, 0, 0 }, 19, 1 },
		{ "ClmsyncAPIBudgetLow", { 1, NOW, 200000, 0, 16000, 15000, 0, 0 }, 0, 1 },
		{ "ClmsyncReconcileDrift", { 1, NOW, 200000, 0, 100, 15000, 5, 0 }, 5, 0 },
		{ "ClmsyncReconcileDrift", { 1, NOW, 200000, 0, 100, 15000, 6, 0 }, 6, 1 },
		{ "ClmsyncDLQ", { 1, NOW, 200000, 0, 100, 15000, 0, 2 }, 2, 0 },
		{ "ClmsyncDLQ", { 1, NOW, 200000, 0, 100, 15000, 0, 3 }, 3, 1 },
	};
	struct cs_config *c = config_with("  stream_down_s: 10\n  lag_s: 30\n  retention_left_s: 3600\n  dlq_max: 2\n"
	                                  "  api_budget_pct: 20\n  drift: 5\n");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *st = status_of(&cases[i].f), *obs = alerts_observe(c, st), *o;
		const json_t *ob = find(obs, cases[i].alert);
		size_t k, nfiring = 0;

		print_message("case %zu: %s\n", i, cases[i].alert);
		assert_non_null(ob);
		assert_int_equal(json_integer_value(json_object_get(ob, "value")), cases[i].value);
		assert_int_equal(json_is_true(json_object_get(ob, "firing")), cases[i].firing);
		/* the other conditions stay quiet: each case moves one figure only */
		json_array_foreach(obs, k, o)
			nfiring += json_is_true(json_object_get(o, "firing"));
		assert_int_equal(nfiring, (size_t)cases[i].firing);
		json_decref(obs);
		json_decref(st);
	}
	cs_config_free(c);
}

/* A threshold of 0 turns the retention and API budget conditions off. */
static void
zero_turns_off(void **state)
{
	struct cs_config *c = config_with("  retention_left_s: 0\n  api_budget_pct: 0\n");
	struct fig f = calm;
	json_t *st, *obs;

	f.retention_left = 1;
	f.used = f.max;
	st = status_of(&f);
	obs = alerts_observe(c, st);
	assert_null(find(obs, "ClmsyncReplayRetention"));
	assert_null(find(obs, "ClmsyncAPIBudgetLow"));
	json_decref(obs);
	json_decref(st);
	cs_config_free(c);
}

/* Runs one evaluation of f through state; returns the events. */
static json_t *
step(struct cs_config *c, json_t *state, const struct fig *f, long long at)
{
	json_t *st = status_of(f), *obs = alerts_observe(c, st), *ev = alerts_transition(state, obs, at, ALERTS_RUNBOOK);

	assert_non_null(ev);
	json_decref(obs);
	json_decref(st);
	return ev;
}

/* A DLQ entry arrives, stays three rounds and is discarded: one firing, one resolved. */
static void
fires_and_resolves_once(void **state)
{
	struct cs_config *c = config_with("");
	json_t *st = json_object(), *ev, *e;
	struct fig f = calm;

	ev = step(c, st, &f, NOW);
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);
	f.dlq = 1;
	ev = step(c, st, &f, NOW + 1000);
	assert_int_equal(json_array_size(ev), 1);
	e = json_array_get(ev, 0);
	assert_string_equal(json_string_value(json_object_get(e, "alert")), "ClmsyncDLQ");
	assert_string_equal(json_string_value(json_object_get(e, "status")), "firing");
	assert_string_equal(json_string_value(json_object_get(e, "org")), "prod");
	assert_string_equal(json_string_value(json_object_get(e, "mapping")), "contracts");
	assert_int_equal(json_integer_value(json_object_get(e, "value")), 1);
	assert_int_equal(json_integer_value(json_object_get(e, "threshold")), 0);
	assert_string_equal(json_string_value(json_object_get(e, "started_at")), "2023-11-14T22:13:21.000Z");
	assert_string_equal(json_string_value(json_object_get(e, "ts")), "2023-11-14T22:13:21.000Z");
	assert_string_equal(json_string_value(json_object_get(e, "runbook")), "docs/operations.md#clmsyncdlq");
	assert_non_null(strstr(json_string_value(json_object_get(e, "summary")), "1 dead-letter entry"));
	json_decref(ev);
	for (int i = 2; i < 5; i++) {
		f.dlq = i;   /* more entries while firing: no new event */
		ev = step(c, st, &f, NOW + i * 1000);
		assert_int_equal(json_array_size(ev), 0);
		json_decref(ev);
	}
	f.dlq = 0;
	ev = step(c, st, &f, NOW + 9000);
	assert_int_equal(json_array_size(ev), 1);
	e = json_array_get(ev, 0);
	assert_string_equal(json_string_value(json_object_get(e, "status")), "resolved");
	assert_int_equal(json_integer_value(json_object_get(e, "value")), 0);
	assert_string_equal(json_string_value(json_object_get(e, "started_at")), "2023-11-14T22:13:21.000Z");
	assert_string_equal(json_string_value(json_object_get(e, "ts")), "2023-11-14T22:13:29.000Z");
	json_decref(ev);
	ev = step(c, st, &f, NOW + 10000);
	assert_int_equal(json_array_size(ev), 0);
	assert_int_equal(json_object_size(st), 0);
	json_decref(ev);
	json_decref(st);
	cs_config_free(c);
}

/* Several conditions at once are tracked apart; one whose figure leaves the document resolves
 * with a null value. */
static void
independent_and_vanished(void **state)
{
	struct cs_config *c = config_with("  stream_down_s: 1\n");
	json_t *st = json_object(), *ev, *e;
	struct fig f = calm;
	size_t i;
	int firing = 0;

	f.connected = 0;
	f.dlq = 2;
	f.retention_left = 10;
	ev = step(c, st, &f, NOW);
	json_array_foreach(ev, i, e)
		firing += strcmp(json_string_value(json_object_get(e, "status")), "firing") == 0;
	assert_int_equal(firing, 3);
	json_decref(ev);
	f.connected = 1;
	f.retention_left = -1;   /* no stored position any more: not observed */
	ev = step(c, st, &f, NOW + 1000);
	assert_int_equal(json_array_size(ev), 2);
	json_array_foreach(ev, i, e) {
		const char *alert = json_string_value(json_object_get(e, "alert"));
		assert_string_equal(json_string_value(json_object_get(e, "status")), "resolved");
		if (strcmp(alert, "ClmsyncReplayRetention") == 0) {
			assert_true(json_is_null(json_object_get(e, "value")));
			assert_string_equal(json_string_value(json_object_get(e, "channel")), "/data/ContractChangeEvent");
		} else
			assert_string_equal(alert, "ClmsyncStreamDown");
	}
	json_decref(ev);
	assert_int_equal(json_object_size(st), 1);   /* the DLQ still fires */
	json_decref(st);
	cs_config_free(c);
}

static void
signature(void **state)
{
	const char *body = "{\"alert\":\"ClmsyncDLQ\"}";
	char sig[ALERTS_SIG_MAX], other[ALERTS_SIG_MAX];
	char *big;

	/* HMAC-SHA256(KEY, "1700000000." + body), as Python's hmac module computes it */
	assert_int_equal(alerts_sign(KEY, strlen(KEY), 1700000000, body, strlen(body), sig), CS_OK);
	assert_string_equal(sig, "t=1700000000,v1=3ea280555b33d0841f258ff838a27b8c5fd60972fb85e550085f95b7d2b24f0c");
	/* the time is signed too: a replayed body with a new time does not verify */
	assert_int_equal(alerts_sign(KEY, strlen(KEY), 1700000001, body, strlen(body), other), CS_OK);
	assert_string_not_equal(sig + 16, other + 16);
	assert_int_equal(alerts_sign(KEY, strlen(KEY), 1700000000, "{\"alert\":\"ClmsyncDLq\"}", strlen(body), other),
	                 CS_OK);
	assert_string_not_equal(sig, other);
	big = calloc(1, ALERTS_BODY_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', ALERTS_BODY_MAX + 1);
	assert_int_equal(alerts_sign(KEY, strlen(KEY), 1, big, ALERTS_BODY_MAX + 1, other), CS_ETOOBIG);
	free(big);
}

static void
start_refuses(void **state)
{
	struct cs_config *c;
	struct alerts *a = (struct alerts *)&a;
	struct alerts_opts o = { .store_url = "sqlite:/nonexistent/x.db" };
	struct cs_error e = { 0 };

	assert_int_equal(cs_config_defaults(&c), CS_OK);
	o.cfg = c;
	assert_int_equal(alerts_start(&o, &a, &e), CS_EINVAL);
	assert_null(a);
	assert_non_null(strstr(e.msg, "webhook_url"));
	cs_config_free(c);

	/* a configuration checked without its secrets has no key to sign with */
	{
		struct cs_error_list errs;
		const char *text = "alerts:\n  webhook_url: https://hooks.example.com/x\n  secret_env: TEST_ALERTS_NONE\n";
		cs_error_list_init(&errs);
		assert_int_equal(cs_config_load_buffer("a.yaml", text, strlen(text), CS_CONFIG_NO_SECRETS, &c, &errs),
		                 CS_OK);
		cs_error_list_cleanup(&errs);
	}
	o.cfg = c;
	a = (struct alerts *)&a;
	assert_int_equal(alerts_start(&o, &a, &e), CS_EINVAL);
	assert_null(a);
	assert_non_null(strstr(e.msg, "signing key"));
	cs_config_free(c);

	/* started and stopped at once, with nothing to deliver */
	c = config_with("  interval_s: 3600\n");
	o.cfg = c;
	assert_int_equal(alerts_start(&o, &a, &e), CS_OK);
	assert_non_null(a);
	alerts_stop(a);
	alerts_stop(NULL);
	cs_config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(calm_fires_nothing),
		cmocka_unit_test(each_condition),
		cmocka_unit_test(zero_turns_off),
		cmocka_unit_test(fires_and_resolves_once),
		cmocka_unit_test(independent_and_vanished),
		cmocka_unit_test(signature),
		cmocka_unit_test(start_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

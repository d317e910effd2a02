/* test_admin_lag.c - the server's lag history: a fixed ring per org that keeps the last hour in
 * order, its JSON, readers beside a writer, and the sampling thread on a real store: a sample at
 * once, the lag each way from the queues' heads, and a prompt stop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin_int.h"
#include "store/store.h"
#include "util/timeutil.h"

#define STORE_FIXTURE_NAME "test_admin_lag"
#include "store_fixture.h"

static long long
iget(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* The samples of org in doc (admin_lag_json), or NULL. */
static const json_t *
samples_of(const json_t *doc, const char *org)
{
	const json_t *o;
	size_t i;

	json_array_foreach(json_object_get(doc, "orgs"), i, o)
		if (strcmp(json_string_value(json_object_get(o, "org")), org) == 0)
			return json_object_get(o, "samples");
	return NULL;
}

static struct admin_lag_sample
at(int64_t t)
{
	struct admin_lag_sample s = { .t_ms = t, .lag_ms = t * 2, .lag_to_sf_ms = t, .lag_to_clm_ms = t * 2,
		.inbox = 1, .outbox = 2, .feed_backlog = 3, .to_sf = t % 7, .to_clm = -1 };
	return s;
}

static void
test_ring_keeps_the_last_hour_in_order(void **state)
{
	static const char *const orgs[] = { "prod", "emea", "prod" };
	struct cs_error e = { 0 };
	struct admin_lag *l = NULL;
	const json_t *ss, *s;
	json_t *doc;
	size_t i;

	(void)state;
	assert_int_equal(admin_lag_new(orgs, 3, &l, &e), CS_OK);
	for (int64_t t = 1; t <= ADMIN_LAG_SAMPLES + 40; t++) {
		struct admin_lag_sample smp = at(t);
		admin_lag_add(l, "prod", &smp);
	}
	{
		struct admin_lag_sample smp = at(5);
		admin_lag_add(l, "nowhere", &smp);   /* an org without a ring: ignored */
	}
	doc = admin_lag_json(l, 0);
	assert_non_null(doc);
	assert_int_equal(iget(doc, "interval_s"), ADMIN_LAG_INTERVAL_S);
	assert_int_equal(json_array_size(json_object_get(doc, "orgs")), 2);   /* the repeated name once */
	ss = samples_of(doc, "prod");
	assert_int_equal(json_array_size(ss), ADMIN_LAG_SAMPLES);
	json_array_foreach(ss, i, s)
		assert_int_equal(iget(s, "t"), 41 + (long long)i);             /* the oldest 40 went, in order */
	s = json_array_get(ss, 0);
	assert_int_equal(iget(s, "lag_ms"), 82);
	assert_int_equal(iget(s, "lag_to_salesforce_ms"), 41);
	assert_int_equal(iget(s, "lag_to_clm_ms"), 82);
	assert_true(iget(s, "inbox") == 1 && iget(s, "outbox") == 2 && iget(s, "feed_backlog") == 3);
	assert_int_equal(iget(s, "to_salesforce"), 41 % 7);
	assert_true(json_is_null(json_object_get(s, "to_clm")));               /* unknown */
	assert_int_equal(json_array_size(samples_of(doc, "emea")), 0);
	assert_null(samples_of(doc, "nowhere"));
	json_decref(doc);

	/* a window: the samples taken at since or later */
	doc = admin_lag_json(l, ADMIN_LAG_SAMPLES + 35);
	ss = samples_of(doc, "prod");
	assert_int_equal(json_array_size(ss), 6);
	assert_int_equal(iget(json_array_get(ss, 0), "t"), ADMIN_LAG_SAMPLES + 35);
	json_decref(doc);
	admin_lag_free(l);
	admin_lag_free(NULL);
}

/* --- readers beside a writer ------------------------------------------------------------------ */

struct writer {
	struct admin_lag *l;
	const char *org;
	int n;
};

static void *
write_many(void *arg)
{
	struct writer *w = arg;

	for (int64_t t = 1; t <= w->n; t++) {
		struct admin_lag_sample smp = at(t);
		admin_lag_add(w->l, w->org, &smp);
	}
	return NULL;
}

static void
test_readers_beside_writers(void **state)
{
	static const char *const orgs[] = { "a", "b" };
	struct cs_error e = { 0 };
	struct admin_lag *l = NULL;
	struct writer wa, wb;
	pthread_t ta, tb;
	json_t *doc;

	(void)state;
	assert_int_equal(admin_lag_new(orgs, 2, &l, &e), CS_OK);
	wa = (struct writer){ l, "a", 20000 };
	wb = (struct writer){ l, "b", 15000 };
	assert_int_equal(pthread_create(&ta, NULL, write_many, &wa), 0);
	assert_int_equal(pthread_create(&tb, NULL, write_many, &wb), 0);
	for (int k = 0; k < 200; k++) {
		const json_t *ss, *s;
		size_t i;
		doc = admin_lag_json(l, 0);
		assert_non_null(doc);
		/* whatever a reader sees is whole: consecutive times, at most a ring's worth */
		ss = samples_of(doc, "a");
		assert_true(json_array_size(ss) <= ADMIN_LAG_SAMPLES);
		json_array_foreach(ss, i, s)
			if (i > 0)
				assert_int_equal(iget(s, "t"), iget(json_array_get(ss, i - 1), "t") + 1);
		json_decref(doc);
	}
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	doc = admin_lag_json(l, 0);
	assert_int_equal(iget(json_array_get(samples_of(doc, "a"), ADMIN_LAG_SAMPLES - 1), "t"), 20000);
	assert_int_equal(iget(json_array_get(samples_of(doc, "b"), 0), "t"), 15000 - ADMIN_LAG_SAMPLES + 1);
	json_decref(doc);
	admin_lag_free(l);
}

/* --- the sampling thread on a real store ------------------------------------------------------ */

static void
push(struct store *s, const char *ns, const char *key, json_t *doc)
{
	struct cs_error e = { 0 };

	assert_int_equal(store_begin(s, &e), CS_OK);
	assert_int_equal(store_kv_put(s, ns, key, doc, &e), CS_OK);
	assert_int_equal(store_commit(s, &e), CS_OK);
	json_decref(doc);
}

static void
test_sampler(void **state)
{
	static const char *const orgs[] = { "prod" };
	struct fx *f = *state;
	struct cs_error e = { 0 };
	struct store_pool *pool = NULL;
	struct admin_lag *l = NULL;
	const json_t *ss = NULL, *s;
	json_t *doc = NULL;
	int64_t now = cs_time_now_ms(), deadline, t0;

	/* a change from Salesforce waiting 30 s, a write to Salesforce waiting 5 s */
	push(f->s, "inbox:prod", "00000000000000000001", json_pack("{s:s, s:I}", "t", "event", "recv_ms",
	    (json_int_t)(now - 30000)));
	push(f->s, "outbox:prod", "00000000000000000001", json_pack("{s:s, s:I}", "op", "write", "born_ms",
	    (json_int_t)(now - 5000)));
	assert_int_equal(store_pool_new(f->url, 2, &pool, &e), CS_OK);
	assert_int_equal(admin_lag_new(orgs, 1, &l, &e), CS_OK);
	assert_int_equal(admin_lag_run(l, NULL, pool, &e), CS_OK);
	assert_int_equal(admin_lag_run(l, NULL, pool, &e), CS_ESTATE);
	/* the first sample is taken at once, not after an interval */
	deadline = cs_time_mono_ms() + 5000;
	while (cs_time_mono_ms() < deadline) {
		json_decref(doc);
		doc = admin_lag_json(l, 0);
		if (json_array_size(ss = samples_of(doc, "prod")) > 0)
			break;
		usleep(10000);
	}
	assert_int_equal(json_array_size(ss), 1);
	s = json_array_get(ss, 0);
	assert_true(iget(s, "t") >= now);
	assert_true(iget(s, "lag_to_clm_ms") >= 30000 && iget(s, "lag_to_clm_ms") < 40000);
	assert_true(iget(s, "lag_to_salesforce_ms") >= 5000 && iget(s, "lag_to_salesforce_ms") < 15000);
	assert_int_equal(iget(s, "lag_ms"), iget(s, "lag_to_clm_ms"));
	assert_true(iget(s, "inbox") == 1 && iget(s, "outbox") == 1 && iget(s, "feed_backlog") == 0);
	assert_true(json_is_null(json_object_get(s, "to_salesforce")));      /* no engine */
	json_decref(doc);
	/* the thread sleeps until its next sample; stopping wakes it */
	t0 = cs_time_mono_ms();
	admin_lag_free(l);
	assert_true(cs_time_mono_ms() - t0 < 2000);
	store_pool_free(pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_keeps_the_last_hour_in_order),
		cmocka_unit_test(test_readers_beside_writers),
		cmocka_unit_test_setup_teardown(test_sampler, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sf_stream.c - Change Data Capture over CometD against a real sfemu process: events, resume, recovery, gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "salesforce/sf.h"
#include "sfemu_proc.h"

#define MAX_EV 1024

struct got {
	long long replay;
	char type[32];
	char entity[32];
	char record[SF_ID_LEN + 1];
	enum sf_event_kind kind;
	bool ours;
};

/* What the caller "stored": a stand-in for the inbox and cursor table. */
struct sink {
	pthread_mutex_t mu;
	struct got ev[MAX_EV];
	size_t n;
	int fail_next;                /* refuse this many events (the store is down) */
	unsigned refused;
	long long invalid_bad;        /* from the replay_invalid callback */
	char invalid_channel[128];
	unsigned invalid_calls;
	unsigned positionless;
	long long positionless_resume; /* what on_positionless asks for: -2, or new events only */
	unsigned positionless_offered; /* calls offered anything but -1 (the stream's default) */
	/* with a flush handler: events staged since the last flush, and flushes to refuse */
	struct got staged[MAX_EV];
	size_t nstaged;
	long long committed;          /* replay id of the last event flushed */
	int fail_flush;
	unsigned flushes_refused;
};

struct fx {
	struct emu_proc emu;
	struct sf_org *org;
	struct sf_client *c;
	struct sink sink;
	struct sf_stream *s;
	pthread_t th;
	bool running;
	atomic_int stop;
	cs_err run_err;
	struct sf_error run_e;
};

static int
on_event(void *ud, const struct sf_event *ev)
{
	struct sink *k = ud;
	int rc = 0;

	pthread_mutex_lock(&k->mu);
	if (k->fail_next > 0) {
		k->fail_next--;
		k->refused++;
		rc = 1;
	} else if (k->n < MAX_EV) {
		struct got *g = &k->ev[k->n++];
		json_t *ids = json_object_get(ev->header, "recordIds");

		g->replay = ev->replay_id;
		snprintf(g->type, sizeof(g->type), "%s", ev->change_type);
		snprintf(g->entity, sizeof(g->entity), "%s", ev->entity);
		snprintf(g->record, sizeof(g->record), "%s", json_string_value(json_array_get(ids, 0)) ?
		    json_string_value(json_array_get(ids, 0)) : "");
		g->kind = ev->kind;
		g->ours = ev->ours;
	}
	pthread_mutex_unlock(&k->mu);
	return rc;
}

/* Stages an event as a transaction would: a replay id already flushed is a redelivery. */
static int
on_event_staged(void *ud, const struct sf_event *ev)
{
	struct sink *k = ud;

	pthread_mutex_lock(&k->mu);
	if (ev->replay_id > k->committed && k->nstaged < MAX_EV) {
		struct got *g = &k->staged[k->nstaged++];
		json_t *ids = json_object_get(ev->header, "recordIds");

		memset(g, 0, sizeof(*g));
		g->replay = ev->replay_id;
		snprintf(g->type, sizeof(g->type), "%s", ev->change_type);
		snprintf(g->record, sizeof(g->record), "%s", json_string_value(json_array_get(ids, 0)) ?
		    json_string_value(json_array_get(ids, 0)) : "");
	}
	pthread_mutex_unlock(&k->mu);
	return 0;
}

/* Commits what was staged, or refuses (fail_flush) and drops it, as a failed commit does. */
static int
on_flush(void *ud)
{
	struct sink *k = ud;
	int rc = 0;

	pthread_mutex_lock(&k->mu);
	if (k->fail_flush > 0) {
		k->fail_flush--;
		k->flushes_refused++;
		rc = 1;
	} else {
		for (size_t i = 0; i < k->nstaged && k->n < MAX_EV; i++) {
			k->ev[k->n++] = k->staged[i];
			k->committed = k->staged[i].replay;
		}
	}
	k->nstaged = 0;
	pthread_mutex_unlock(&k->mu);
	return rc;
}

static void
on_invalid(void *ud, const char *channel, long long bad, long long *resume)
{
	struct sink *k = ud;

	pthread_mutex_lock(&k->mu);
	k->invalid_bad = bad;
	snprintf(k->invalid_channel, sizeof(k->invalid_channel), "%s", channel);
	k->invalid_calls++;
	pthread_mutex_unlock(&k->mu);
	*resume = -1;
}

static void
on_positionless(void *ud, const char *channel, long long *resume)
{
	struct sink *k = ud;

	/* the stream thread's: counted here, asserted by the test */
	pthread_mutex_lock(&k->mu);
	if (*resume != -1)
		k->positionless_offered++;
	if (strcmp(channel, "/data/ContractChangeEvent") == 0 || k->positionless_resume == -2)
		k->positionless++;
	if (k->positionless_resume == -2)
		*resume = -2;
	pthread_mutex_unlock(&k->mu);
}

static size_t
nev(struct fx *f)
{
	size_t n;

	pthread_mutex_lock(&f->sink.mu);
	n = f->sink.n;
	pthread_mutex_unlock(&f->sink.mu);
	return n;
}

/* Waits until at least n events were stored; false after 10 s. */
static bool
wait_events(struct fx *f, size_t n)
{
	int64_t deadline = cs_time_mono_ms() + 10000;

	while (nev(f) < n) {
		if (cs_time_mono_ms() > deadline)
			return false;
		usleep(5000);
	}
	return true;
}

static bool
wait_stat(struct fx *f, size_t off, uint64_t want)
{
	int64_t deadline = cs_time_mono_ms() + 10000;

	for (;;) {
		struct sf_stream_stats st;
		sf_stream_stats(f->s, &st);
		if (*(uint64_t *)((char *)&st + off) >= want)
			return true;
		if (cs_time_mono_ms() > deadline)
			return false;
		usleep(5000);
	}
}

static void *
runner(void *ud)
{
	struct fx *f = ud;

	f->run_err = sf_stream_run(f->s, &f->stop, &f->run_e);
	return NULL;
}

static void
start_stream_with(struct fx *f, long long replay, bool flush)
{
	struct sf_stream_handlers h = { .event = flush ? on_event_staged : on_event, .replay_invalid = on_invalid,
	                                 .resumed_without_position = on_positionless,
	                                 .flush = flush ? on_flush : NULL, .ud = &f->sink };
	struct sf_stream_config cfg = { .backoff = { .base_ms = 20, .cap_ms = 200 } };

	assert_int_equal(sf_stream_new(f->org, &cfg, &h, &f->s), CS_OK);
	assert_int_equal(sf_stream_subscribe(f->s, "/data/AccountChangeEvent", replay), CS_OK);
	assert_int_equal(sf_stream_subscribe(f->s, "/data/ContractChangeEvent", -1), CS_OK);
	assert_int_equal(sf_stream_subscribe(f->s, "/data/ContractChangeEvent", -1), CS_EEXIST);
	assert_int_equal(sf_stream_subscribe(f->s, "/meta/connect", -1), CS_EINVAL);
	atomic_store(&f->stop, 0);
	assert_int_equal(pthread_create(&f->th, NULL, runner, f), 0);
	f->running = true;
	/* subscribed once the first connect went out */
	assert_true(wait_stat(f, offsetof(struct sf_stream_stats, connects), 1));
}

static void
start_stream(struct fx *f, long long replay)
{
	start_stream_with(f, replay, false);
}

/* Stops the stream and returns how long it took. */
static int64_t
stop_stream(struct fx *f)
{
	int64_t t0 = cs_time_mono_ms();

	if (!f->running)
		return 0;
	atomic_store(&f->stop, 1);
	pthread_join(f->th, NULL);
	f->running = false;
	return cs_time_mono_ms() - t0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sf_org_config c = { .name = "test", .api_version = "62.0", .client_name = "clmsync",
		.auth = SF_AUTH_CLIENT_CREDENTIALS, .client_id = "clmsync-test-client",
		.client_secret = "clmsync-test-secret", .retry = { .base_ms = 5, .cap_ms = 50 } };
	struct sf_error e;

	if (f == NULL || emu_start(&f->emu, NULL) != 0)
		return -1;
	pthread_mutex_init(&f->sink.mu, NULL);
	c.login_url = f->emu.url;
	if (sf_org_new(&c, &f->org, &e) != CS_OK || sf_client_new(f->org, &f->c) != CS_OK)
		return -1;
	/* short long polls keep the test quick; the client follows whatever the server advises */
	if (emu_call(&f->emu, "POST", "/__emu/streaming", "{\"hold_ms\":1000}", NULL) != 200)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	stop_stream(f);
	sf_stream_free(f->s);
	sf_client_free(f->c);
	sf_org_free(f->org);
	emu_stop(&f->emu);
	pthread_mutex_destroy(&f->sink.mu);
	free(f);
	return 0;
}

static void
create_account(struct fx *f, const char *name, char id[SF_ID_LEN + 1])
{
	json_t *flds = json_pack("{s:s}", "Name", name);
	struct sf_error e;

	if (sf_rest_create(f->c, "Account", flds, id, &e) != CS_OK)
		fail_msg("create: %s %s", e.code, e.message);
	json_decref(flds);
}

static void
rename_account(struct fx *f, const char *id, const char *name)
{
	json_t *flds = json_pack("{s:s}", "Name", name);
	struct sf_error e;

	if (sf_rest_update(f->c, "Account", id, flds, &e) != CS_OK)
		fail_msg("update: %s %s", e.code, e.message);
	json_decref(flds);
}

/* Writes through REST come back as CREATE and UPDATE events marked as ours. */
static void
test_events(void **state)
{
	struct fx *f = *state;
	char id[SF_ID_LEN + 1];

	start_stream(f, -1);
	create_account(f, "Streamed", id);
	rename_account(f, id, "Streamed 2");
	assert_true(wait_events(f, 2));
	assert_string_equal(f->sink.ev[0].type, "CREATE");
	assert_string_equal(f->sink.ev[0].entity, "Account");
	assert_string_equal(f->sink.ev[0].record, id);
	assert_true(f->sink.ev[0].ours);
	assert_int_equal(f->sink.ev[0].kind, SF_EVENT_CHANGE);
	assert_string_equal(f->sink.ev[1].type, "UPDATE");
	assert_true(f->sink.ev[1].replay > f->sink.ev[0].replay);
	assert_int_equal(sf_stream_replay_id(f->s, "/data/AccountChangeEvent"), f->sink.ev[1].replay);

	/* a write by someone else is not ours */
	{
		struct sf_org_config c = { .name = "other", .login_url = f->emu.url, .api_version = "62.0",
			.client_name = "someone-else", .auth = SF_AUTH_CLIENT_CREDENTIALS,
			.client_id = "clmsync-test-client", .client_secret = "clmsync-test-secret" };
		struct sf_org *o2;
		struct sf_client *c2;
		struct sf_error e;
		json_t *flds = json_pack("{s:s}", "Name", "Theirs");

		assert_int_equal(sf_org_new(&c, &o2, &e), CS_OK);
		assert_int_equal(sf_client_new(o2, &c2), CS_OK);
		assert_int_equal(sf_rest_update(c2, "Account", id, flds, &e), CS_OK);
		json_decref(flds);
		sf_client_free(c2);
		sf_org_free(o2);
	}
	assert_true(wait_events(f, 3));
	assert_false(f->sink.ev[2].ours);

	/* stopping interrupts a held long poll promptly */
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/streaming", "{\"hold_ms\":30000}", NULL), 200);
	rename_account(f, id, "one more, to start a fresh connect");
	assert_true(wait_events(f, 4));
	usleep(100000);
	/* the connect is held for 30 s: returning well before that proves the stop interrupted it;
	 * the bound is loose so that a loaded machine does not make the test fail */
	assert_true(stop_stream(f) < 15000);
	assert_int_equal(f->run_err, CS_OK);
}

/* After a stop, a new stream from the stored replay id gets exactly the missed events. */
static void
test_resume(void **state)
{
	struct fx *f = *state;
	char id[SF_ID_LEN + 1];
	long long stored;

	start_stream(f, -1);
	create_account(f, "Before", id);
	assert_true(wait_events(f, 1));
	stop_stream(f);
	stored = sf_stream_replay_id(f->s, "/data/AccountChangeEvent");
	assert_int_equal(stored, f->sink.ev[0].replay);
	sf_stream_free(f->s);
	f->s = NULL;

	rename_account(f, id, "Missed 1");
	rename_account(f, id, "Missed 2");
	rename_account(f, id, "Missed 3");

	start_stream(f, stored);
	assert_true(wait_events(f, 4));
	rename_account(f, id, "Live");
	assert_true(wait_events(f, 5));
	usleep(200000);        /* nothing more may come */
	assert_int_equal(nev(f), 5);
	for (size_t i = 1; i < 5; i++) {
		assert_string_equal(f->sink.ev[i].type, "UPDATE");
		assert_true(f->sink.ev[i].replay > f->sink.ev[i - 1].replay);
	}
}

/* The handler fails to store an event: it comes again, and nothing is skipped or doubled. */
static void
test_handler_failure_redelivers(void **state)
{
	struct fx *f = *state;
	char id[SF_ID_LEN + 1];

	start_stream(f, -1);
	pthread_mutex_lock(&f->sink.mu);
	f->sink.fail_next = 2;
	pthread_mutex_unlock(&f->sink.mu);
	create_account(f, "A", id);
	rename_account(f, id, "B");
	assert_true(wait_events(f, 2));
	usleep(200000);
	assert_int_equal(nev(f), 2);
	assert_int_equal(f->sink.refused, 2);
	{
		struct sf_stream_stats st;
		sf_stream_stats(f->s, &st);
		assert_int_equal(st.handler_failures, 2);
		assert_int_equal(st.handshakes, 1);
	}
	assert_string_equal(f->sink.ev[0].type, "CREATE");
	assert_string_equal(f->sink.ev[1].type, "UPDATE");
}

/* With a flush handler, a refused flush loses what was staged: the whole answer is offered again,
 * and every event ends up stored once, in order. */
static void
test_flush_failure_redelivers(void **state)
{
	struct fx *f = *state;
	char id[SF_ID_LEN + 1];

	pthread_mutex_lock(&f->sink.mu);
	f->sink.fail_flush = 2;
	pthread_mutex_unlock(&f->sink.mu);
	start_stream_with(f, -1, true);
	create_account(f, "A", id);
	rename_account(f, id, "B");
	rename_account(f, id, "C");
	assert_true(wait_events(f, 3));
	assert_true(wait_stat(f, offsetof(struct sf_stream_stats, events), 3));
	pthread_mutex_lock(&f->sink.mu);
	assert_int_equal(f->sink.n, 3);
	assert_int_equal(f->sink.flushes_refused, 2);
	assert_string_equal(f->sink.ev[0].type, "CREATE");
	assert_string_equal(f->sink.ev[1].type, "UPDATE");
	assert_string_equal(f->sink.ev[2].type, "UPDATE");
	assert_true(f->sink.ev[0].replay < f->sink.ev[1].replay && f->sink.ev[1].replay < f->sink.ev[2].replay);
	pthread_mutex_unlock(&f->sink.mu);
	{
		struct sf_stream_stats st;
		sf_stream_stats(f->s, &st);
		assert_int_equal(st.handler_failures, 2);
		assert_int_equal(st.events, 3);     /* counted when flushed, once each */
	}
}

static void
test_unknown_client(void **state)
{
	struct fx *f = *state;
	char id[SF_ID_LEN + 1];
	struct sf_stream_stats st;

	start_stream(f, -1);
	create_account(f, "One", id);
	assert_true(wait_events(f, 1));
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/expire-clients", "{}", NULL), 200);
	assert_true(wait_stat(f, offsetof(struct sf_stream_stats, unknown_client), 1));
	rename_account(f, id, "Two");
	assert_true(wait_events(f, 2));
	sf_stream_stats(f->s, &st);
	assert_true(st.handshakes >= 2);
	/* Contract had no event yet: the caller hears that the outage may have hidden some */
	pthread_mutex_lock(&f->sink.mu);
	assert_true(f->sink.positionless >= 1);
	assert_int_equal(f->sink.positionless_offered, 0);
	pthread_mutex_unlock(&f->sink.mu);
	assert_string_equal(f->sink.ev[1].type, "UPDATE");
}

static void
test_session_expiry(void **state)
{
	struct fx *f = *state;
	char id[SF_ID_LEN + 1];

	start_stream(f, -1);
	create_account(f, "One", id);
	assert_true(wait_events(f, 1));
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/expire-sessions", "{}", NULL), 200);
	assert_true(wait_stat(f, offsetof(struct sf_stream_stats, auth_refreshes), 1));
	rename_account(f, id, "Two");
	assert_true(wait_events(f, 2));
}

static void
test_invalid_replay(void **state)
{
	struct fx *f = *state;
	char id[SF_ID_LEN + 1];
	long long stored;
	json_t *out = NULL, *ids;

	start_stream(f, -1);
	create_account(f, "Old", id);
	assert_true(wait_events(f, 1));
	stop_stream(f);
	stored = sf_stream_replay_id(f->s, "/data/AccountChangeEvent");
	sf_stream_free(f->s);
	f->s = NULL;
	/* events after the stored id, then the window passes them all */
	rename_account(f, id, "Missed 1");
	rename_account(f, id, "Missed 2");
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/expire-events", "{}", NULL), 200);
	/* sfemu names the two events no client ever had, expired since */
	assert_int_equal(emu_call(&f->emu, "GET", "/__emu/undelivered", NULL, &out), 200);
	ids = json_object_get(out, "replay_ids");
	assert_int_equal(json_array_size(ids), 2);
	assert_true(json_integer_value(json_array_get(ids, 0)) > stored);
	assert_true(json_integer_value(json_array_get(ids, 1)) > json_integer_value(json_array_get(ids, 0)));
	json_decref(out);

	start_stream(f, stored);
	assert_int_equal(f->sink.invalid_calls, 1);
	assert_int_equal(f->sink.invalid_bad, stored);
	assert_string_equal(f->sink.invalid_channel, "/data/AccountChangeEvent");
	rename_account(f, id, "New");
	assert_true(wait_events(f, 2));
	assert_string_equal(f->sink.ev[1].type, "UPDATE");
	/* delivered: not named */
	assert_int_equal(emu_call(&f->emu, "GET", "/__emu/undelivered", NULL, &out), 200);
	assert_int_equal(json_array_size(json_object_get(out, "replay_ids")), 2);
	json_decref(out);
}

/* A channel without a stored position that an earlier run followed (sf_stream_mark_resumed):
 * the caller is told before the first subscribe, once, and may ask for every retained event;
 * what changed while nobody listened then arrives, which new events only would skip. */
static void
test_positionless_replay(void **state)
{
	struct fx *f = *state;
	struct sf_stream_handlers h = { .event = on_event, .replay_invalid = on_invalid,
	                                 .resumed_without_position = on_positionless, .ud = &f->sink };
	struct sf_stream_config cfg = { .backoff = { .base_ms = 20, .cap_ms = 200 } };
	char id[SF_ID_LEN + 1];

	create_account(f, "Made while away", id);
	f->sink.positionless_resume = -2;
	assert_int_equal(sf_stream_new(f->org, &cfg, &h, &f->s), CS_OK);
	assert_int_equal(sf_stream_subscribe(f->s, "/data/AccountChangeEvent", -1), CS_OK);
	assert_int_equal(sf_stream_mark_resumed(f->s, "/data/AccountChangeEvent"), CS_OK);
	atomic_store(&f->stop, 0);
	assert_int_equal(pthread_create(&f->th, NULL, runner, f), 0);
	f->running = true;
	assert_true(wait_events(f, 1));
	rename_account(f, id, "Renamed");
	assert_true(wait_events(f, 2));
	pthread_mutex_lock(&f->sink.mu);
	assert_int_equal(f->sink.n, 2);
	assert_string_equal(f->sink.ev[0].type, "CREATE");
	assert_string_equal(f->sink.ev[1].type, "UPDATE");
	assert_int_equal(f->sink.positionless, 1);
	assert_int_equal(f->sink.positionless_offered, 0);
	pthread_mutex_unlock(&f->sink.mu);
	assert_int_equal(sf_stream_replay_id(f->s, "/data/AccountChangeEvent"), f->sink.ev[1].replay);
}

static void
test_gaps(void **state)
{
	struct fx *f = *state;
	char id[SF_ID_LEN + 1], body[256];

	start_stream(f, -1);
	create_account(f, "Gappy", id);
	assert_true(wait_events(f, 1));
	snprintf(body, sizeof(body), "{\"entity\":\"Account\",\"changeType\":\"GAP_UPDATE\",\"recordId\":\"%s\"}", id);
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/gap", body, NULL), 200);
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/gap", "{\"entity\":\"Account\",\"changeType\":\"GAP_OVERFLOW\"}",
	    NULL), 200);
	assert_true(wait_events(f, 3));
	assert_int_equal(f->sink.ev[1].kind, SF_EVENT_GAP);
	assert_string_equal(f->sink.ev[1].type, "GAP_UPDATE");
	assert_string_equal(f->sink.ev[1].record, id);
	assert_int_equal(f->sink.ev[2].kind, SF_EVENT_OVERFLOW);
	/* gap events carry replay ids like any other and advance the cursor */
	assert_int_equal(sf_stream_replay_id(f->s, "/data/AccountChangeEvent"), f->sink.ev[2].replay);
}

static void
test_unknown_channel(void **state)
{
	struct fx *f = *state;
	struct sf_stream_handlers h = { .event = on_event, .replay_invalid = on_invalid,
	                                 .resumed_without_position = on_positionless, .ud = &f->sink };
	struct sf_error e;

	assert_int_equal(sf_stream_new(f->org, NULL, &h, &f->s), CS_OK);
	assert_int_equal(sf_stream_subscribe(f->s, "/data/NoSuchThing__ChangeEvent", -1), CS_OK);
	atomic_store(&f->stop, 0);
	assert_int_equal(sf_stream_run(f->s, &f->stop, &e), CS_EINVAL);
	assert_non_null(strstr(e.message, "does not exist"));
}

/* Dropped connections and 503s on every path: the stream reconnects with backoff, every change
 * arrives, none twice. */
static void
test_network_faults(void **state)
{
	struct fx *f = *state;
	struct sf_org_config c = { .name = "w", .login_url = f->emu.url, .api_version = "62.0", .client_name = "clmsync",
		.auth = SF_AUTH_CLIENT_CREDENTIALS, .client_id = "clmsync-test-client",
		.client_secret = "clmsync-test-secret", .retry = { .max_attempts = 40, .base_ms = 5, .cap_ms = 50 } };
	struct sf_org *wo;
	struct sf_client *wc;
	struct sf_stream_stats st;
	struct sf_error e;
	size_t creates = 0;

	assert_int_equal(sf_org_new(&c, &wo, &e), CS_OK);
	assert_int_equal(sf_client_new(wo, &wc), CS_OK);
	start_stream(f, -1);
	/* first every request is dropped until the stream has had to reconnect at least once, so the
	 * test does not depend on which requests the random faults below happen to hit */
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{\"rate_drop\":1000}", NULL), 200);
	for (int64_t deadline = cs_time_mono_ms() + 20000; cs_time_mono_ms() < deadline; usleep(10000)) {
		sf_stream_stats(f->s, &st);
		if (st.reconnects > 0)
			break;
	}
	sf_stream_stats(f->s, &st);
	assert_true(st.reconnects > 0);
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{\"rate_drop\":300,\"rate_503\":200,\"seed\":11}",
	    NULL), 200);
	for (int i = 0; i < 10; i++) {
		char clm[32], id[SF_ID_LEN + 1];
		json_t *flds = json_pack("{s:s}", "Name", "Faulty");
		bool created;

		snprintf(clm, sizeof(clm), "nf-%d", i);
		if (sf_rest_upsert(wc, "Account", "CLM_Id__c", clm, flds, id, &created, &e) != CS_OK)
			fail_msg("upsert %d: %s %s", i, e.code, e.message);
		json_decref(flds);
	}
	for (int64_t deadline = cs_time_mono_ms() + 20000; cs_time_mono_ms() < deadline; usleep(10000)) {
		pthread_mutex_lock(&f->sink.mu);
		creates = 0;
		for (size_t i = 0; i < f->sink.n; i++)
			creates += strcmp(f->sink.ev[i].type, "CREATE") == 0;
		pthread_mutex_unlock(&f->sink.mu);
		if (creates >= 10)
			break;
	}
	assert_int_equal(creates, 10);
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{}", NULL), 200);
	pthread_mutex_lock(&f->sink.mu);
	for (size_t i = 1; i < f->sink.n; i++)
		assert_true(f->sink.ev[i].replay > f->sink.ev[i - 1].replay);
	pthread_mutex_unlock(&f->sink.mu);
	sf_stream_stats(f->s, &st);
	assert_true(st.reconnects > 0);
	sf_client_free(wc);
	sf_org_free(wo);
}

/* Credentials the org refuses end the run with CS_EAUTH instead of retrying forever. */
static void
test_bad_credentials(void **state)
{
	struct fx *f = *state;
	struct sf_org_config c = { .name = "bad", .login_url = f->emu.url, .api_version = "62.0", .client_name = "clmsync",
		.auth = SF_AUTH_CLIENT_CREDENTIALS, .client_id = "clmsync-test-client", .client_secret = "wrong-secret-1234" };
	struct sf_stream_handlers h = { .event = on_event, .replay_invalid = on_invalid,
	                                 .resumed_without_position = on_positionless, .ud = &f->sink };
	struct sf_stream_config cfg = { .backoff = { .base_ms = 5, .cap_ms = 20 } };
	struct sf_org *bo;
	struct sf_error e;

	assert_int_equal(sf_org_new(&c, &bo, &e), CS_OK);
	assert_int_equal(sf_stream_new(bo, &cfg, &h, &f->s), CS_OK);
	assert_int_equal(sf_stream_subscribe(f->s, "/data/AccountChangeEvent", -1), CS_OK);
	atomic_store(&f->stop, 0);
	assert_int_equal(sf_stream_run(f->s, &f->stop, &e), CS_EAUTH);
	assert_null(strstr(e.message, "wrong-secret-1234"));
	sf_stream_free(f->s);
	f->s = NULL;
	sf_org_free(bo);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_failure_redelivers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_failure_redelivers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_positionless_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_network_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_credentials, setup, teardown),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH_TO_SFEMU\n", argv[0]);
		return 2;
	}
	emu_bin = argv[1];
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

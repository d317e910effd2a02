/* test_cometd.c - the Bayeux/CometD server: parsing, handshake, replay subscriptions, held connects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cometd.h"
#include "emu.h"
#include "util/json.h"
#include "util/timeutil.h"

#define INVALID_REPLAY_TAIL " you provided was invalid. Please provide a valid ID, -2 to replay all events, " \
	"or -1 to replay only new events."

/* Objects the tests subscribe to, loaded when the default schema lacks them. */
static const char *const test_objects[][2] = {
	{ "Contract", "{\"sobjects\":[{\"name\":\"Contract\",\"keyPrefix\":\"800\",\"fields\":"
	    "[{\"name\":\"Description\",\"type\":\"textarea\"}]}]}" },
	{ "Account", "{\"sobjects\":[{\"name\":\"Account\",\"keyPrefix\":\"001\",\"fields\":"
	    "[{\"name\":\"Name\",\"type\":\"string\"}]}]}" },
	{ "Employee__c", "{\"sobjects\":[{\"name\":\"Employee__c\",\"fields\":"
	    "[{\"name\":\"First_Name__c\",\"type\":\"string\"}]}]}" },
};

static int
setup(void **state)
{
	struct emu *emu = calloc(1, sizeof(*emu));
	struct cs_error e = { 0 };

	assert_non_null(emu);
	assert_int_equal(emu_init(emu, NULL, &e), CS_OK);
	for (size_t i = 0; i < sizeof(test_objects) / sizeof(test_objects[0]); i++)
		if (emu_object(emu, test_objects[i][0]) == NULL)
			assert_int_equal(schema_load(emu, test_objects[i][1], strlen(test_objects[i][1]), "test", &e), CS_OK);
	*state = emu;
	return 0;
}

static int
teardown(void **state)
{
	struct emu *emu = *state;

	emu_cleanup(emu);
	free(emu);
	return 0;
}

static void
configure(struct emu *emu, const char *json)
{
	json_t *v = json_loads(json, 0, NULL);
	struct cs_error e = { 0 };

	assert_non_null(v);
	emu_lock(emu);
	assert_int_equal(cometd_configure(emu, v, &e), CS_OK);
	emu_unlock(emu);
	json_decref(v);
}

/* Parses and runs one request body; returns the reply array. */
static json_t *
run(struct emu *emu, const char *body)
{
	json_t *msgs = NULL, *out = NULL;
	struct cs_error e = { 0 };

	if (cometd_parse_messages(body, strlen(body), false, &msgs, &e) != CS_OK)
		fail_msg("parse failed: %s: %s", e.msg, body);
	assert_int_equal(cometd_process(emu, msgs, &out), CS_OK);
	json_decref(msgs);
	assert_true(json_is_array(out));
	return out;
}

static json_t *
run1(struct emu *emu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static json_t *
run1(struct emu *emu, const char *fmt, ...)
{
	char body[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	return run(emu, body);
}

static void
assert_str(const json_t *obj, const char *key, const char *want)
{
	const char *got = cs_json_get_str(obj, key);
	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("%s: want \"%s\", got \"%s\"", key, want, got ? got : "(none)");
}

static void
handshake(struct emu *emu, char id[COMETD_ID_LEN + 1])
{
	json_t *r = run(emu, "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\",\"id\":\"1\","
	    "\"supportedConnectionTypes\":[\"in-process\",\"websocket\",\"long-polling\"]}]");
	json_t *m = json_array_get(r, 0);

	assert_true(cs_json_get_bool(m, "successful", false));
	assert_int_equal(strlen(cs_json_get_str(m, "clientId")), COMETD_ID_LEN);
	snprintf(id, COMETD_ID_LEN + 1, "%s", cs_json_get_str(m, "clientId"));
	json_decref(r);
}

/* Subscribes with a replay id; returns the subscribe reply (caller frees). */
static json_t *
subscribe(struct emu *emu, const char *cid, const char *channel, long long replay)
{
	json_t *r = run1(emu, "[{\"channel\":\"/meta/subscribe\",\"clientId\":\"%s\",\"subscription\":\"%s\","
	    "\"ext\":{\"replay\":{\"%s\":%lld}},\"id\":\"3\"}]", cid, channel, channel, replay);
	json_t *m = json_incref(json_array_get(r, 0));

	json_decref(r);
	return m;
}

static void
subscribe_ok(struct emu *emu, const char *cid, const char *channel, long long replay)
{
	json_t *m = subscribe(emu, cid, channel, replay);

	if (!cs_json_get_bool(m, "successful", false))
		fail_msg("subscribe %s %lld failed: %s", channel, replay, cs_json_get_str(m, "error"));
	json_decref(m);
}

/* A connect; timeout < 0 leaves advice out. Returns the whole reply array. */
static json_t *
connect_(struct emu *emu, const char *cid, long long timeout)
{
	if (timeout >= 0)
		return run1(emu, "[{\"channel\":\"/meta/connect\",\"clientId\":\"%s\",\"connectionType\":\"long-polling\","
		    "\"advice\":{\"timeout\":%lld},\"id\":\"9\"}]", cid, timeout);
	return run1(emu, "[{\"channel\":\"/meta/connect\",\"clientId\":\"%s\",\"connectionType\":\"long-polling\","
	    "\"id\":\"9\"}]", cid);
}

/* Handshakes, subscribes and has the first connect answered: a client ready to long-poll. */
static void
ready_client(struct emu *emu, char cid[COMETD_ID_LEN + 1], const char *channel, long long replay)
{
	json_t *r;

	handshake(emu, cid);
	r = connect_(emu, cid, 0);
	json_decref(r);
	if (channel != NULL)
		subscribe_ok(emu, cid, channel, replay);
}

static long long
gap(struct emu *emu, const char *entity)
{
	long long id;

	emu_lock(emu);
	emu_publish_gap(emu, entity, "GAP_UPDATE", NULL);
	id = emu->events[emu->nevents - 1].replay_id;
	emu_unlock(emu);
	return id;
}

static void
create_employee(struct emu *emu, const char *first)
{
	json_t *fields = json_pack("{s:s}", "First_Name__c", first), *err = NULL;
	struct emu_caller who = { "rest", 62, NULL };
	char id[SFID_LEN + 1];
	struct emu_txn *t;

	emu_lock(emu);
	t = emu_txn_begin(emu, &who);
	assert_non_null(t);
	assert_true(emu_create(t, emu_object(emu, "Employee__c"), fields, id, &err));
	emu_txn_commit(t);
	emu_unlock(emu);
	json_decref(fields);
}

/* Checks that replies[from..] are events on channel with the given replay ids. */
static void
assert_events(json_t *replies, size_t from, const char *channel, const long long *ids, size_t n)
{
	if (json_array_size(replies) != from + n)
		fail_msg("want %zu events, got %zu", n, json_array_size(replies) - from);
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_array_get(replies, from + i), *data = json_object_get(m, "data");
		assert_str(m, "channel", channel);
		assert_int_equal(cs_json_get_int(json_object_get(data, "event"), "replayId", -99), ids[i]);
		assert_int_equal(strlen(cs_json_get_str(data, "schema")), 22);
		assert_non_null(json_object_get(json_object_get(data, "payload"), "ChangeEventHeader"));
	}
}

/* Polls the registry until some client has a held connect; fails after 5 s. */
static void
wait_held(struct emu *emu)
{
	int64_t dl = cs_time_mono_ms() + 5000;

	for (;;) {
		json_t *st, *cl;
		size_t i;
		bool held = false;
		struct timespec ts = { 0, 1000000 };
		emu_lock(emu);
		st = cometd_state(emu);
		emu_unlock(emu);
		json_array_foreach(json_object_get(st, "clients"), i, cl)
			held = held || cs_json_get_bool(cl, "held", false);
		json_decref(st);
		if (held)
			return;
		if (cs_time_mono_ms() > dl)
			fail_msg("no connect was held within 5 s");
		nanosleep(&ts, NULL);
	}
}

/* ---- parsing ---- */

static const struct {
	const char *body;
	bool form;
	cs_err want;
	size_t n;
} parse_cases[] = {
	{ "[{\"channel\":\"/meta/handshake\"},{\"channel\":\"/meta/connect\"}]", false, CS_OK, 2 },
	{ "{\"channel\":\"/meta/handshake\"}", false, CS_OK, 1 },
	{ "message=%5B%7B%22channel%22%3A%22%2Fmeta%2Fhandshake%22%7D%5D&x=1", true, CS_OK, 1 },
	{ "a=b&message=%7B%22channel%22:%22/meta/connect%22%7D", true, CS_OK, 1 },
	{ "[{\"channel\":", false, CS_EPARSE, 0 },
	{ "[]", false, CS_EPARSE, 0 },
	{ "[1,{}]", false, CS_EPARSE, 0 },
	{ "\"x\"", false, CS_EPARSE, 0 },
	{ "x=1", true, CS_EPARSE, 0 },
	{ "message=%ZZ", true, CS_EPARSE, 0 },
	{ "message", true, CS_EPARSE, 0 },
	{ "[{\"channel\":\"\xff\"}]", false, CS_EUTF8, 0 },
};

static void
test_parse(void **state)
{
	char *big;
	struct cs_error e;
	json_t *v;

	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		cs_err got = cometd_parse_messages(parse_cases[i].body, strlen(parse_cases[i].body),
		    parse_cases[i].form, &v, &e);
		if (got != parse_cases[i].want)
			fail_msg("case %zu (%s): want %s, got %s", i, parse_cases[i].body,
			    cs_strerror(parse_cases[i].want), cs_strerror(got));
		if (got == CS_OK) {
			assert_int_equal(json_array_size(v), parse_cases[i].n);
			json_decref(v);
		} else
			assert_null(v);
	}
	/* too many messages, too many bytes */
	big = malloc(COMETD_MAX_BODY + 2);
	assert_non_null(big);
	big[0] = '[';
	size_t n = 1;
	for (int i = 0; i <= COMETD_MAX_MESSAGES; i++)
		n += (size_t)snprintf(big + n, 8, "%s{}", i ? "," : "");
	big[n++] = ']';
	assert_int_equal(cometd_parse_messages(big, n, false, &v, &e), CS_ETOOBIG);
	memset(big, ' ', COMETD_MAX_BODY + 1);
	big[0] = '{';
	big[COMETD_MAX_BODY] = '}';
	assert_int_equal(cometd_parse_messages(big, COMETD_MAX_BODY + 1, false, &v, &e), CS_ETOOBIG);
	assert_int_equal(cometd_parse_messages(big, COMETD_MAX_BODY, false, &v, &e), CS_EPARSE);
	free(big);
}

/* ---- protocol ---- */

static void
test_handshake(void **state)
{
	json_t *r = run(*state, "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\",\"id\":\"305\","
	    "\"supportedConnectionTypes\":[\"long-polling\"],\"ext\":{\"replay\":true}}]");
	json_t *m = json_array_get(r, 0), *types = json_object_get(m, "supportedConnectionTypes");

	assert_int_equal(json_array_size(r), 1);
	assert_str(m, "channel", "/meta/handshake");
	assert_str(m, "id", "305");
	assert_str(m, "version", "1.0");
	assert_str(m, "minimumVersion", "1.0");
	assert_true(cs_json_get_bool(m, "successful", false));
	assert_true(cs_json_get_bool(json_object_get(m, "ext"), "replay", false));
	assert_true(cs_json_get_bool(json_object_get(m, "ext"), "payload.format", false));
	assert_int_equal(json_array_size(types), 1);
	assert_string_equal(json_string_value(json_array_get(types, 0)), "long-polling");
	assert_int_equal(strlen(cs_json_get_str(m, "clientId")), COMETD_ID_LEN);
	json_decref(r);
}

static void
test_unknown_client(void **state)
{
	const char *chans[] = { "/meta/connect", "/meta/subscribe", "/meta/unsubscribe", "/meta/disconnect" };

	for (size_t i = 0; i < 4; i++) {
		json_t *r = run1(*state, "[{\"channel\":\"%s\",\"clientId\":\"nosuchclient\",\"id\":\"304\","
		    "\"subscription\":\"/data/ContractChangeEvent\"}]", chans[i]);
		json_t *m = json_array_get(r, 0), *adv = json_object_get(m, "advice");
		assert_false(cs_json_get_bool(m, "successful", true));
		assert_str(m, "error", "403::Unknown client");
		assert_str(m, "channel", chans[i]);
		assert_str(m, "id", "304");
		assert_str(adv, "reconnect", "handshake");
		assert_int_equal(cs_json_get_int(adv, "interval", -1), 0);
		json_decref(r);
	}
}

/* faye's first connect travels with the subscribe, carries timeout 0 and must not be held;
 * every message gets its reply in order. */
static void
test_batch_first_connect(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	int64_t t0;
	json_t *r, *adv;

	configure(emu, "{\"hold_ms\":10000}");
	handshake(emu, cid);
	t0 = cs_time_mono_ms();
	r = run1(emu, "[{\"channel\":\"/meta/connect\",\"clientId\":\"%s\",\"connectionType\":\"long-polling\","
	    "\"advice\":{\"timeout\":0},\"id\":\"2\"},{\"channel\":\"/meta/subscribe\",\"clientId\":\"%s\","
	    "\"subscription\":\"/data/ContractChangeEvent\",\"id\":\"3\"}]", cid, cid);
	assert_true(cs_time_mono_ms() - t0 < 5000);   /* a held connect would take 10 s */
	assert_int_equal(json_array_size(r), 2);
	assert_str(json_array_get(r, 0), "channel", "/meta/connect");
	assert_str(json_array_get(r, 0), "id", "2");
	assert_str(json_array_get(r, 0), "clientId", cid);
	assert_true(cs_json_get_bool(json_array_get(r, 0), "successful", false));
	adv = json_object_get(json_array_get(r, 0), "advice");
	assert_int_equal(cs_json_get_int(adv, "interval", -1), 0);
	assert_int_equal(cs_json_get_int(adv, "timeout", -1), 10000);
	assert_str(adv, "reconnect", "retry");
	assert_str(json_array_get(r, 1), "channel", "/meta/subscribe");
	assert_str(json_array_get(r, 1), "subscription", "/data/ContractChangeEvent");
	assert_str(json_array_get(r, 1), "clientId", cid);
	assert_true(cs_json_get_bool(json_array_get(r, 1), "successful", false));
	json_decref(r);

	/* A first connect without advice is answered at once too (no advice afterwards). */
	handshake(emu, cid);
	t0 = cs_time_mono_ms();
	r = connect_(emu, cid, -1);
	assert_true(cs_time_mono_ms() - t0 < 5000);   /* a held connect would take 10 s */
	assert_non_null(json_object_get(json_array_get(r, 0), "advice"));
	json_decref(r);
	t0 = cs_time_mono_ms();
	r = connect_(emu, cid, 0);
	assert_true(cs_time_mono_ms() - t0 < 5000);   /* a held connect would take 10 s */
	assert_null(json_object_get(json_array_get(r, 0), "advice"));
	assert_true(cs_json_get_bool(json_array_get(r, 0), "successful", false));
	json_decref(r);
}

static void
test_connect_hold_times_out(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	int64_t t0;
	json_t *r;

	configure(emu, "{\"hold_ms\":200}");
	ready_client(emu, cid, "/data/ContractChangeEvent", -1);
	t0 = cs_time_mono_ms();
	r = connect_(emu, cid, -1);
	assert_true(cs_time_mono_ms() - t0 >= 150);
	assert_int_equal(json_array_size(r), 1);
	assert_true(cs_json_get_bool(json_array_get(r, 0), "successful", false));
	json_decref(r);
}

static const struct {
	const char *channel;
	bool ok;
} channel_cases[] = {
	{ "/data/ChangeEvents", true },
	{ "/data/ContractChangeEvent", true },
	{ "/data/AccountChangeEvent", true },
	{ "/data/Employee__ChangeEvent", true },
	{ "/data/contractChangeEvent", false },
	{ "/data/ContractChangeEvents", false },
	{ "/data/FooChangeEvent", false },
	{ "/data/Employee__cChangeEvent", false },
	{ "/data/employee__ChangeEvent", false },
	{ "/data/__ChangeEvent", false },
	{ "/data/ChangeEvent", false },
	{ "/data/changeevents", false },
	{ "/topic/Contracts", false },
	{ "/data/Employee__chn", false },
};

static void
test_subscribe_channels(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1], want[400];

	handshake(emu, cid);
	for (size_t i = 0; i < sizeof(channel_cases) / sizeof(channel_cases[0]); i++) {
		json_t *m = subscribe(emu, cid, channel_cases[i].channel, -1);
		if (cs_json_get_bool(m, "successful", false) != channel_cases[i].ok)
			fail_msg("%s: want %s", channel_cases[i].channel, channel_cases[i].ok ? "success" : "failure");
		assert_str(m, "channel", "/meta/subscribe");
		assert_str(m, "subscription", channel_cases[i].channel);
		assert_str(m, "clientId", cid);
		assert_str(m, "id", "3");
		if (!channel_cases[i].ok) {
			snprintf(want, sizeof(want), "400::The channel you requested to subscribe to does not exist {%s}",
			    channel_cases[i].channel);
			assert_str(m, "error", want);
		}
		json_decref(m);
	}
}

static void
test_replay_all_and_new(void **state)
{
	struct emu *emu = *state;
	char a[COMETD_ID_LEN + 1], b[COMETD_ID_LEN + 1];
	long long ids[4];
	json_t *r;

	configure(emu, "{\"hold_ms\":100}");
	for (int i = 0; i < 3; i++)
		ids[i] = gap(emu, "Contract");
	gap(emu, "Account");
	ready_client(emu, a, "/data/ContractChangeEvent", -2);
	ready_client(emu, b, "/data/ContractChangeEvent", -1);
	r = connect_(emu, a, -1);
	assert_events(r, 1, "/data/ContractChangeEvent", ids, 3);
	json_decref(r);
	r = connect_(emu, b, 0);
	assert_events(r, 1, "/data/ContractChangeEvent", ids, 0);
	json_decref(r);
	ids[3] = gap(emu, "Contract");
	r = connect_(emu, b, -1);
	assert_events(r, 1, "/data/ContractChangeEvent", ids + 3, 1);
	json_decref(r);
	r = connect_(emu, a, -1);
	assert_events(r, 1, "/data/ContractChangeEvent", ids + 3, 1);
	json_decref(r);
}

static void
test_replay_stored(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	long long ids[5];
	json_t *r;

	for (int i = 0; i < 5; i++)
		ids[i] = gap(emu, "Contract");
	ready_client(emu, cid, "/data/ContractChangeEvent", ids[1]);
	r = connect_(emu, cid, 0);
	assert_events(r, 1, "/data/ContractChangeEvent", ids + 2, 3);
	json_decref(r);
	/* Resuming after the newest event is valid and yields nothing. */
	ready_client(emu, cid, "/data/ContractChangeEvent", ids[4]);
	r = connect_(emu, cid, 0);
	assert_events(r, 1, "/data/ContractChangeEvent", ids, 0);
	json_decref(r);
}

static void
test_replay_invalid(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1], want[300];
	long long ids[3];
	json_t *m, *r;

	for (int i = 0; i < 3; i++)
		ids[i] = gap(emu, "Contract");
	handshake(emu, cid);
	/* From the future, and below -2. */
	m = subscribe(emu, cid, "/data/ContractChangeEvent", ids[2] + 10);
	snprintf(want, sizeof(want), "400::The replayId {%lld}" INVALID_REPLAY_TAIL, ids[2] + 10);
	assert_false(cs_json_get_bool(m, "successful", true));
	assert_str(m, "error", want);
	json_decref(m);
	m = subscribe(emu, cid, "/data/ContractChangeEvent", -3);
	assert_str(m, "error", "400::The replayId {-3}" INVALID_REPLAY_TAIL);
	json_decref(m);
	r = run1(emu, "[{\"channel\":\"/meta/subscribe\",\"clientId\":\"%s\",\"subscription\":\"/data/ContractChangeEvent\","
	    "\"ext\":{\"replay\":{\"/data/ContractChangeEvent\":\"abc\"}}}]", cid);
	assert_str(json_array_get(r, 0), "error", "400::The replayId {\"abc\"}" INVALID_REPLAY_TAIL);
	json_decref(r);

	/* The replay window passes every event: their ids become invalid, except the newest,
	 * after which nothing was lost. */
	emu_lock(emu);
	assert_int_equal(cometd_expire_events(emu), 3);
	emu_unlock(emu);
	m = subscribe(emu, cid, "/data/ContractChangeEvent", ids[0]);
	snprintf(want, sizeof(want), "400::The replayId {%lld}" INVALID_REPLAY_TAIL, ids[0]);
	assert_str(m, "error", want);
	json_decref(m);
	m = subscribe(emu, cid, "/data/ContractChangeEvent", ids[1]);
	assert_false(cs_json_get_bool(m, "successful", true));
	json_decref(m);
	subscribe_ok(emu, cid, "/data/ContractChangeEvent", ids[2]);
	subscribe_ok(emu, cid, "/data/ContractChangeEvent", -2);
	r = connect_(emu, cid, 0);
	assert_events(r, 1, "/data/ContractChangeEvent", ids, 0);
	json_decref(r);
}

static void
test_all_change_events(void **state)
{
	struct emu *emu = *state;
	char a[COMETD_ID_LEN + 1], b[COMETD_ID_LEN + 1];
	json_t *r;
	long long first, ids[2];

	ready_client(emu, a, "/data/ChangeEvents", -1);
	ready_client(emu, b, "/data/ChangeEvents", -1);
	subscribe_ok(emu, b, "/data/Employee__ChangeEvent", -1);
	create_employee(emu, "Jane");
	first = emu->events[emu->nevents - 1].replay_id;
	ids[0] = first;
	ids[1] = gap(emu, "Contract");
	r = connect_(emu, a, 0);
	assert_events(r, 1, "/data/ChangeEvents", ids, 2);
	{
		json_t *p = json_object_get(json_object_get(json_array_get(r, 1), "data"), "payload");
		assert_str(json_object_get(p, "ChangeEventHeader"), "entityName", "Employee__c");
		assert_str(json_object_get(p, "ChangeEventHeader"), "changeType", "CREATE");
		assert_str(p, "First_Name__c", "Jane");
	}
	json_decref(r);
	/* Two subscriptions that both match get the event once each, on their own channel,
	 * in replay order. */
	r = connect_(emu, b, 0);
	assert_int_equal(json_array_size(r), 4);
	assert_int_equal(cs_json_get_int(json_object_get(json_object_get(json_array_get(r, 1), "data"), "event"),
	    "replayId", 0), first);
	assert_int_equal(cs_json_get_int(json_object_get(json_object_get(json_array_get(r, 2), "data"), "event"),
	    "replayId", 0), first);
	assert_int_equal(cs_json_get_int(json_object_get(json_object_get(json_array_get(r, 3), "data"), "event"),
	    "replayId", 0), ids[1]);
	assert_str(json_array_get(r, 3), "channel", "/data/ChangeEvents");
	json_decref(r);
}

/* A subscription whose entity is quiet keeps up with the stream: its cursor moves past
 * events of other entities, and its own events still arrive. */
static void
test_quiet_subscription(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	long long last = 0, emp;
	json_t *r, *st, *sub;

	ready_client(emu, cid, "/data/Employee__ChangeEvent", -2);
	for (int i = 0; i < 5; i++)
		last = gap(emu, "Contract");
	r = connect_(emu, cid, 0);
	assert_int_equal(json_array_size(r), 1);
	json_decref(r);
	emu_lock(emu);
	st = cometd_state(emu);
	emu_unlock(emu);
	sub = json_array_get(json_object_get(json_array_get(json_object_get(st, "clients"), 0), "subscriptions"), 0);
	assert_int_equal(cs_json_get_int(sub, "cursor", -99), last);
	json_decref(st);
	emp = gap(emu, "Employee__c");
	r = connect_(emu, cid, 0);
	assert_events(r, 1, "/data/Employee__ChangeEvent", &emp, 1);
	json_decref(r);
}

struct bg {
	struct emu *emu;
	const char *cid;
	int action;              /* 0 publish, 1 expire clients, 2 connect */
	json_t *reply;
};

static void *
bg_main(void *arg)
{
	struct bg *b = arg;

	if (b->action == 2) {
		b->reply = connect_(b->emu, b->cid, -1);
		return NULL;
	}
	wait_held(b->emu);
	if (b->action == 0)
		gap(b->emu, "Contract");
	else {
		emu_lock(b->emu);
		cometd_expire_clients(b->emu);
		emu_unlock(b->emu);
	}
	return NULL;
}

static void
test_held_connect_wakes_on_event(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	struct bg b = { emu, NULL, 0, NULL };
	pthread_t th;
	int64_t t0;
	json_t *r;

	configure(emu, "{\"hold_ms\":20000}");
	ready_client(emu, cid, "/data/ContractChangeEvent", -1);
	assert_int_equal(pthread_create(&th, NULL, bg_main, &b), 0);
	t0 = cs_time_mono_ms();
	r = connect_(emu, cid, -1);
	assert_true(cs_time_mono_ms() - t0 < 10000);
	pthread_join(th, NULL);
	assert_int_equal(json_array_size(r), 2);
	assert_str(json_array_get(r, 1), "channel", "/data/ContractChangeEvent");
	json_decref(r);
}

static void
test_expire_clients_while_held(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	struct bg b = { emu, NULL, 1, NULL };
	pthread_t th;
	json_t *r;

	configure(emu, "{\"hold_ms\":20000}");
	ready_client(emu, cid, "/data/ContractChangeEvent", -1);
	assert_int_equal(pthread_create(&th, NULL, bg_main, &b), 0);
	r = connect_(emu, cid, -1);
	pthread_join(th, NULL);
	assert_str(json_array_get(r, 0), "error", "403::Unknown client");
	assert_str(json_object_get(json_array_get(r, 0), "advice"), "reconnect", "handshake");
	json_decref(r);
	/* and it stays unknown: the client must handshake again */
	r = connect_(emu, cid, 0);
	assert_str(json_array_get(r, 0), "error", "403::Unknown client");
	json_decref(r);
}

static void
test_newer_connect_releases_older(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	struct bg b = { emu, NULL, 2, NULL };
	pthread_t th;
	int64_t t0;
	json_t *r;
	long long id;

	configure(emu, "{\"hold_ms\":20000}");
	ready_client(emu, cid, "/data/ContractChangeEvent", -1);
	b.cid = cid;
	t0 = cs_time_mono_ms();
	assert_int_equal(pthread_create(&th, NULL, bg_main, &b), 0);
	wait_held(emu);
	r = connect_(emu, cid, 0);
	pthread_join(th, NULL);
	/* the held connect gave way at once, with no events */
	assert_true(cs_time_mono_ms() - t0 < 10000);
	assert_int_equal(json_array_size(b.reply), 1);
	assert_true(cs_json_get_bool(json_array_get(b.reply, 0), "successful", false));
	assert_true(cs_json_get_bool(json_array_get(r, 0), "successful", false));
	json_decref(b.reply);
	json_decref(r);
	id = gap(emu, "Contract");
	r = connect_(emu, cid, 0);
	assert_events(r, 1, "/data/ContractChangeEvent", &id, 1);
	json_decref(r);
}

static void
test_delivery_cap_and_order(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	long long ids[COMETD_MAX_DELIVER + 50];
	json_t *r;

	for (size_t i = 0; i < COMETD_MAX_DELIVER + 50; i++)
		ids[i] = gap(emu, "Contract");
	ready_client(emu, cid, "/data/ContractChangeEvent", -2);
	r = connect_(emu, cid, 0);
	assert_events(r, 1, "/data/ContractChangeEvent", ids, COMETD_MAX_DELIVER);
	json_decref(r);
	r = connect_(emu, cid, 0);
	assert_events(r, 1, "/data/ContractChangeEvent", ids + COMETD_MAX_DELIVER, 50);
	json_decref(r);
}

static void
test_unsubscribe_disconnect(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	json_t *r;

	ready_client(emu, cid, "/data/ContractChangeEvent", -1);
	r = run1(emu, "[{\"channel\":\"/meta/unsubscribe\",\"clientId\":\"%s\",\"subscription\":\"/data/ContractChangeEvent\","
	    "\"id\":\"5\"}]", cid);
	assert_true(cs_json_get_bool(json_array_get(r, 0), "successful", false));
	assert_str(json_array_get(r, 0), "subscription", "/data/ContractChangeEvent");
	json_decref(r);
	gap(emu, "Contract");
	r = connect_(emu, cid, 0);
	assert_int_equal(json_array_size(r), 1);
	json_decref(r);
	r = run1(emu, "[{\"channel\":\"/meta/disconnect\",\"clientId\":\"%s\",\"id\":\"6\"}]", cid);
	assert_true(cs_json_get_bool(json_array_get(r, 0), "successful", false));
	assert_str(json_array_get(r, 0), "channel", "/meta/disconnect");
	json_decref(r);
	r = connect_(emu, cid, 0);
	assert_str(json_array_get(r, 0), "error", "403::Unknown client");
	json_decref(r);
}

static void
test_bad_messages(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	json_t *r;

	handshake(emu, cid);
	r = run1(emu, "[{\"id\":\"7\"},{\"channel\":42},{\"channel\":\"/data/ContractChangeEvent\",\"clientId\":\"%s\","
	    "\"data\":{}},{\"channel\":\"/meta/nope\",\"clientId\":\"%s\"},{\"channel\":\"/meta/subscribe\","
	    "\"clientId\":\"%s\"},{\"channel\":\"/meta/subscribe\",\"clientId\":\"%s\",\"subscription\":[]}]",
	    cid, cid, cid, cid);
	assert_int_equal(json_array_size(r), 6);
	for (size_t i = 0; i < 6; i++)
		assert_false(cs_json_get_bool(json_array_get(r, i), "successful", true));
	assert_str(json_array_get(r, 0), "id", "7");
	assert_str(json_array_get(r, 2), "error", "403::Publish denied");
	assert_str(json_array_get(r, 3), "error", "404::Unknown channel");
	json_decref(r);
}

static void
test_limits(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	json_t *r, *m;
	char chan[64];

	for (int i = 0; i < COMETD_MAX_CLIENTS; i++)
		handshake(emu, cid);
	r = run(emu, "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\"}]");
	m = json_array_get(r, 0);
	assert_false(cs_json_get_bool(m, "successful", true));
	assert_str(m, "error", "403::Handshake denied");
	assert_str(json_object_get(json_object_get(m, "ext"), "sfdc"), "failureReason",
	    "403::Organization concurrent user limit exceeded");
	json_decref(r);
	emu_lock(emu);
	assert_int_equal(cometd_expire_clients(emu), COMETD_MAX_CLIENTS);
	emu_unlock(emu);

	/* Subscriptions per client; the same channel again does not count twice. */
	for (int i = 0; i <= COMETD_MAX_SUBS; i++) {
		char schema[200];
		struct cs_error e = { 0 };
		snprintf(schema, sizeof(schema), "{\"sobjects\":[{\"name\":\"T%d__c\",\"fields\":[]}]}", i);
		emu_lock(emu);
		assert_int_equal(schema_load(emu, schema, strlen(schema), "test", &e), CS_OK);
		emu_unlock(emu);
	}
	handshake(emu, cid);
	for (int i = 0; i < COMETD_MAX_SUBS; i++) {
		snprintf(chan, sizeof(chan), "/data/T%d__ChangeEvent", i);
		subscribe_ok(emu, cid, chan, -1);
		subscribe_ok(emu, cid, chan, -2);
	}
	snprintf(chan, sizeof(chan), "/data/T%d__ChangeEvent", COMETD_MAX_SUBS);
	m = subscribe(emu, cid, chan, -1);
	assert_false(cs_json_get_bool(m, "successful", true));
	assert_str(m, "error", "403::Maximum number of subscriptions reached");
	json_decref(m);
}

static void
test_client_ttl(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	json_t *r, *st;
	int64_t dl;

	configure(emu, "{\"client_ttl_ms\":30}");
	handshake(emu, cid);
	dl = cs_time_mono_ms() + 5000;
	for (;;) {
		struct timespec ts = { 0, 2000000 };
		emu_lock(emu);
		st = cometd_state(emu);
		emu_unlock(emu);
		long long idle = cs_json_get_int(json_array_get(json_object_get(st, "clients"), 0), "idle_ms", 0);
		json_decref(st);
		if (idle > 30)
			break;
		assert_true(cs_time_mono_ms() < dl);
		nanosleep(&ts, NULL);
	}
	r = connect_(emu, cid, 0);
	assert_str(json_array_get(r, 0), "error", "403::Unknown client");
	json_decref(r);
}

static void
test_configure(void **state)
{
	struct emu *emu = *state;
	struct cs_error e = { 0 };
	const char *bad[] = { "{\"hold\":1}", "{\"hold_ms\":-1}", "{\"hold_ms\":\"5\"}",
		"{\"client_ttl_ms\":0}", "{\"hold_ms\":5,\"client_ttl_ms\":99999999999}", "[]" };
	json_t *st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = json_loads(bad[i], 0, NULL);
		emu_lock(emu);
		assert_int_equal(cometd_configure(emu, v, &e), CS_EINVAL);
		emu_unlock(emu);
		json_decref(v);
	}
	emu_lock(emu);
	st = cometd_state(emu);
	emu_unlock(emu);
	/* a rejected setting changes nothing, even next to a valid one */
	assert_int_equal(cs_json_get_int(st, "hold_ms", 0), COMETD_HOLD_MS_DEFAULT);
	assert_int_equal(cs_json_get_int(st, "client_ttl_ms", 0), COMETD_TTL_MS_DEFAULT);
	json_decref(st);
	configure(emu, "{\"hold_ms\":0,\"client_ttl_ms\":1000}");
	emu_lock(emu);
	st = cometd_state(emu);
	emu_unlock(emu);
	assert_int_equal(cs_json_get_int(st, "hold_ms", 1), 0);
	assert_int_equal(cs_json_get_int(st, "client_ttl_ms", 0), 1000);
	json_decref(st);
}

static void
test_reset_drops_clients(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	json_t *r;

	ready_client(emu, cid, "/data/ContractChangeEvent", -1);
	emu_lock(emu);
	emu_reset(emu);
	emu_unlock(emu);
	r = connect_(emu, cid, 0);
	assert_str(json_array_get(r, 0), "error", "403::Unknown client");
	json_decref(r);
}

static void
test_unauthorized_replies(void **state)
{
	json_t *msgs = json_loads("[{\"channel\":\"/meta/handshake\",\"id\":\"1\"},"
	    "{\"channel\":\"/meta/connect\",\"clientId\":\"x\",\"id\":\"2\"}]", 0, NULL);
	json_t *r = cometd_unauthorized_replies(msgs), *m;

	assert_int_equal(json_array_size(r), 2);
	m = json_array_get(r, 0);
	assert_str(m, "channel", "/meta/handshake");
	assert_str(m, "error", "403::Handshake denied");
	assert_str(json_object_get(json_object_get(m, "ext"), "sfdc"), "failureReason", "401::Authentication invalid");
	assert_str(json_object_get(m, "advice"), "reconnect", "none");
	m = json_array_get(r, 1);
	assert_str(m, "channel", "/meta/connect");
	assert_str(m, "id", "2");
	assert_str(m, "error", "401::Authentication invalid");
	assert_str(json_object_get(m, "advice"), "reconnect", "none");
	assert_false(cs_json_get_bool(m, "successful", true));
	json_decref(r);
	json_decref(msgs);
}

/* Shortening the hold releases a connect already waiting. */
static void *
shorten_main(void *arg)
{
	struct emu *emu = arg;

	wait_held(emu);
	configure(emu, "{\"hold_ms\":1}");
	return NULL;
}

static void
test_shorter_hold_applies_to_held(void **state)
{
	struct emu *emu = *state;
	char cid[COMETD_ID_LEN + 1];
	pthread_t th;
	int64_t t0;
	json_t *r;

	configure(emu, "{\"hold_ms\":30000}");
	ready_client(emu, cid, "/data/ContractChangeEvent", -1);
	assert_int_equal(pthread_create(&th, NULL, shorten_main, emu), 0);
	t0 = cs_time_mono_ms();
	r = connect_(emu, cid, -1);
	pthread_join(th, NULL);
	assert_true(cs_time_mono_ms() - t0 < 10000);
	assert_true(cs_json_get_bool(json_array_get(r, 0), "successful", false));
	json_decref(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_first_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_hold_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscribe_channels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_all_and_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_change_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet_subscription, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_connect_wakes_on_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_clients_while_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_connect_releases_older, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivery_cap_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsubscribe_disconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_drops_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shorter_hold_applies_to_held, setup, teardown),
		cmocka_unit_test(test_unauthorized_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

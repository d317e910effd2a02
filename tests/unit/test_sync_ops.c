/* test_sync_ops.c - the operator's commands on the engine's state: the dead-letter queue (list,
 * get, replay, discard), manual conflicts (list, get, resolve requests), reconcile requests and
 * results, damaged rows and store faults mid-transaction; the worker's memory of its own settled
 * repository writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "sync/audit.h"
#include "sync/sync.h"
#include "sync/sync_int.h"

#define STORE_FIXTURE_NAME "test_sync_ops"
#include "store_fixture.h"

/* ---- helpers ---- */

#define assert_str(a, b) assert_string_equal((a) != NULL ? (a) : "(null)", (b))
static const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long
iget(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* Puts one dead-letter entry of org as the engine does (sync_dlq_put in a transaction). */
static void
put_dlq(struct store *s, const char *org, const char *mapping, const char *clm, const char *sf, const char *dir,
        const char *queue, const json_t *item, const char *code, const char *msg)
{
	struct cs_org o = { .name = (char *)org };
	struct worker w = { .org = &o };
	struct cs_error e = { 0 };

	assert_int_equal(store_begin(s, &e), CS_OK);
	if (sync_dlq_put(s, &w, mapping, clm, sf, dir, queue, item, code, msg, &e) != CS_OK)
		fail_msg("sync_dlq_put: %s", e.msg);
	assert_int_equal(store_commit(s, &e), CS_OK);
}

/* An outbox item as the applier writes it into the dead-letter queue. */
static json_t *
outbox_item(const char *clm, long long attempts, long long due)
{
	json_t *it = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:I, s:I, s:I, s:s}", "mapping", "contracts", "clm", clm,
	                       "op", "write", "fields", "Name", "Renewal 2027", "Status", "Draft", "attempts",
	                       (json_int_t)attempts, "due_ms", (json_int_t)due, "born_ms", (json_int_t)1700000000000,
	                       "event", "replay");
	assert_non_null(it);
	return it;
}

static void
put_raw(struct store *s, const char *ns, const char *key, const char *text)
{
	struct cs_error e = { 0 };
	json_t *d = json_loads(text, JSON_DECODE_ANY, NULL);

	assert_non_null(d);
	assert_int_equal(store_begin(s, &e), CS_OK);
	assert_int_equal(store_kv_put(s, ns, key, d, &e), CS_OK);
	assert_int_equal(store_commit(s, &e), CS_OK);
	json_decref(d);
}

static long long
count(struct store *s, const char *ns)
{
	struct cs_error e = { 0 };
	long long n = -1;

	assert_int_equal(store_kv_count(s, ns, &n, &e), CS_OK);
	return n;
}

/* All entries of ns: a new array of {"key", "doc"}. */
static json_t *
scan(struct store *s, const char *ns)
{
	struct cs_error e = { 0 };
	json_t *a = NULL;

	assert_int_equal(store_kv_scan(s, ns, NULL, STORE_LIST_MAX, &a, &e), CS_OK);
	return a;
}

/* The audit row with sequence seq: a new reference. */
static json_t *
audit_row(struct store *s, long long seq)
{
	struct cs_error e = { 0 };
	char key[32];
	json_t *r = NULL;

	snprintf(key, sizeof(key), "%020lld", seq);
	assert_int_equal(store_kv_get(s, "audit", key, &r, &e), CS_OK);
	return r;
}

static void
assert_chain(struct store *s, long long want_rows)
{
	struct cs_error e = { 0 };
	long long rows = -1, bad = -1;

	if (sync_audit_verify(s, &rows, &bad, NULL, NULL, &e) != CS_OK)
		fail_msg("audit verify: %s (bad %lld)", e.msg, bad);
	assert_int_equal(rows, want_rows);
}

/* Conflict "<mapping>/<clm>/<sf field>" of org, as the planner parks it. */
static void
put_conflict(struct store *s, const char *org, const char *mapping, const char *clm, const char *field,
             const char *sf_field, const char *clm_value, const char *sf_value)
{
	struct cs_error e = { 0 };
	char key[STORE_KV_KEY_MAX];
	json_t *d;

	snprintf(key, sizeof(key), "%s/%s/%s", mapping, clm, sf_field);
	d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "org", org, "mapping", mapping, "clm", clm,
	              "sf", "800000000000001AAA", "field", field, "sf_field", sf_field, "base", "Old", "clm_value",
	              clm_value, "sf_value", sf_value, "ts", "2026-11-27T10:00:00.000Z");
	assert_non_null(d);
	assert_int_equal(store_begin(s, &e), CS_OK);
	assert_int_equal(store_kv_put(s, "conflict", key, d, &e), CS_OK);
	assert_int_equal(store_commit(s, &e), CS_OK);
	json_decref(d);
}

/* ---- the dead-letter queue ---- */

static void
dlq_list_and_get(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *it1 = outbox_item("ct_A", 5, 999), *it2 = outbox_item("ct_B", 5, 999);
	json_t *it3 = json_pack("{s:s, s:s, s:[s]}", "t", "change", "entity", "Contract", "ids", "800000000000003AAA");
	json_t *l = NULL, *d = NULL, *r;

	put_dlq(f->s, "prod", "contracts", "ct_A", "800000000000001AAA", "salesforce", "outbox:prod", it1,
	        "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Amount must be positive");
	put_dlq(f->s, "prod", "contracts", "ct_B", "", "salesforce", "outbox:prod", it2, "INVALID_FIELD", "No such column");
	put_dlq(f->s, "eu", "contracts-eu", NULL, "800000000000003AAA", "clm", "inbox:eu", it3, "REFUSED",
	        "status draft -> signed is not a transition");

	assert_int_equal(sync_dlq_list(f->s, NULL, 10, &l, &e), CS_OK);
	assert_int_equal(json_array_size(l), 3);
	r = json_array_get(l, 0);
	assert_str(sget(r, "id"), "00000000000000000001");
	assert_str(sget(r, "org"), "prod");
	assert_str(sget(r, "mapping"), "contracts");
	assert_str(sget(r, "clm"), "ct_A");
	assert_str(sget(r, "sf"), "800000000000001AAA");
	assert_str(sget(r, "direction"), "salesforce");
	assert_str(sget(r, "queue"), "outbox:prod");
	assert_str(sget(json_object_get(r, "error"), "code"), "FIELD_CUSTOM_VALIDATION_EXCEPTION");
	assert_str(sget(json_object_get(r, "error"), "message"), "Amount must be positive");
	assert_true(json_equal(json_object_get(r, "item"), it1));
	assert_int_equal(strlen(sget(r, "ts")), 24);
	r = json_array_get(l, 2);
	assert_str(sget(r, "id"), "00000000000000000003");
	assert_str(sget(r, "org"), "eu");
	assert_str(sget(r, "clm"), "");
	assert_str(sget(r, "direction"), "clm");
	assert_str(sget(r, "queue"), "inbox:eu");
	json_decref(l);

	/* paging: after an id, full or short, and a limit */
	assert_int_equal(sync_dlq_list(f->s, "1", 1, &l, &e), CS_OK);
	assert_int_equal(json_array_size(l), 1);
	assert_str(sget(json_array_get(l, 0), "id"), "00000000000000000002");
	json_decref(l);
	assert_int_equal(sync_dlq_list(f->s, "00000000000000000002", 1000, &l, &e), CS_OK);
	assert_int_equal(json_array_size(l), 1);
	assert_str(sget(json_array_get(l, 0), "id"), "00000000000000000003");
	json_decref(l);
	assert_int_equal(sync_dlq_list(f->s, "3", 1000, &l, &e), CS_OK);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	l = (json_t *)1;
	assert_int_equal(sync_dlq_list(f->s, NULL, 0, &l, &e), CS_EINVAL);
	assert_null(l);
	assert_int_equal(sync_dlq_list(f->s, NULL, STORE_LIST_MAX + 1, &l, &e), CS_EINVAL);
	assert_int_equal(sync_dlq_list(f->s, "x1", 10, &l, &e), CS_EINVAL);

	/* get: by the short and the full id */
	assert_int_equal(sync_dlq_get(f->s, "2", &d, &e), CS_OK);
	assert_str(sget(d, "id"), "00000000000000000002");
	assert_str(sget(d, "clm"), "ct_B");
	assert_str(sget(json_object_get(d, "error"), "code"), "INVALID_FIELD");
	assert_true(json_equal(json_object_get(d, "item"), it2));
	json_decref(d);
	assert_int_equal(sync_dlq_get(f->s, "00000000000000000003", &d, &e), CS_OK);
	assert_str(sget(json_object_get(d, "item"), "t"), "change");
	json_decref(d);
	d = (json_t *)1;
	assert_int_equal(sync_dlq_get(f->s, "4", &d, &e), CS_ENOTFOUND);
	assert_null(d);
	assert_non_null(strstr(e.msg, "00000000000000000004"));
	assert_int_equal(sync_dlq_get(f->s, "", &d, &e), CS_EINVAL);
	assert_int_equal(sync_dlq_get(f->s, "12a", &d, &e), CS_EINVAL);
	assert_int_equal(sync_dlq_get(f->s, "123456789012345678901", &d, &e), CS_EINVAL);
	assert_int_equal(sync_dlq_get(f->s, NULL, &d, &e), CS_EINVAL);

	json_decref(it1);
	json_decref(it2);
	json_decref(it3);
}

static void
dlq_replay_outbox(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *it = outbox_item("ct_A", 7, 123456789), *q, *got, *row, *want;

	put_dlq(f->s, "prod", "contracts", "ct_A", "800000000000001AAA", "salesforce", "outbox:prod", it,
	        "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access");
	/* the outbox has moved on meanwhile: the replayed item goes after what is there */
	put_raw(f->s, "outbox:prod", "00000000000000000001", "{\"mapping\":\"contracts\",\"clm\":\"ct_Z\"}");
	{
		/* as sync_queue_push would have: the queue's counter names its last key */
		long long n;
		assert_int_equal(store_begin(f->s, &e), CS_OK);
		assert_int_equal(store_counter_next(f->s, "outbox:prod", &n, &e), CS_OK);
		assert_int_equal(n, 1);
		assert_int_equal(store_commit(f->s, &e), CS_OK);
	}

	assert_int_equal(sync_dlq_replay(f->s, "1", &e), CS_OK);

	q = scan(f->s, "outbox:prod");
	assert_int_equal(json_array_size(q), 2);
	assert_str(sget(json_array_get(q, 1), "key"), "00000000000000000002");
	got = json_object_get(json_array_get(q, 1), "doc");
	assert_int_equal(iget(got, "attempts"), 0);
	assert_int_equal(iget(got, "due_ms"), 0);
	/* everything else is the item as it was */
	want = json_deep_copy(it);
	json_object_set_new(want, "attempts", json_integer(0));
	json_object_set_new(want, "due_ms", json_integer(0));
	assert_true(json_equal(got, want));
	assert_str(sget(json_object_get(got, "fields"), "Name"), "Renewal 2027");
	json_decref(want);
	json_decref(q);
	assert_int_equal(count(f->s, "dlq"), 0);

	row = audit_row(f->s, 1);
	assert_str(sget(row, "decision"), "replayed");
	assert_str(sget(row, "event"), "operator");
	assert_str(sget(row, "side"), "salesforce");
	assert_str(sget(row, "org"), "prod");
	assert_str(sget(row, "mapping"), "contracts");
	assert_str(sget(row, "clm_id"), "ct_A");
	assert_str(sget(row, "sf_id"), "800000000000001AAA");
	assert_str(sget(row, "detail"), "back onto outbox:prod");
	assert_true(json_is_null(json_object_get(row, "field")));
	json_decref(row);
	assert_chain(f->s, 1);

	/* again: it is gone, and nothing more is written */
	assert_int_equal(sync_dlq_replay(f->s, "1", &e), CS_ENOTFOUND);
	assert_int_equal(count(f->s, "outbox:prod"), 2);
	assert_chain(f->s, 1);
	assert_false(store_in_transaction(f->s));
	json_decref(it);
}

static void
dlq_replay_inbox_keeps_item(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *it = json_pack("{s:s, s:s, s:[s,s]}", "t", "change", "entity", "Contract", "ids", "800000000000003AAA",
	                       "800000000000004AAA");
	json_t *q, *row;

	put_dlq(f->s, "eu", "contracts-eu", "ct_C", "800000000000003AAA", "clm", "inbox:eu", it, "REFUSED",
	        "not a transition");
	put_dlq(f->s, "eu", "contracts-eu", "ct_D", "800000000000004AAA", "clm", "inbox:eu", it, "REFUSED",
	        "not a transition");
	assert_int_equal(sync_dlq_replay(f->s, "00000000000000000002", &e), CS_OK);
	q = scan(f->s, "inbox:eu");
	assert_int_equal(json_array_size(q), 1);
	/* no attempts or due_ms appear where there were none */
	assert_true(json_equal(json_object_get(json_array_get(q, 0), "doc"), it));
	json_decref(q);
	assert_int_equal(count(f->s, "outbox:eu"), 0);
	assert_int_equal(count(f->s, "dlq"), 1);
	row = audit_row(f->s, 1);
	assert_str(sget(row, "side"), "clm");
	assert_str(sget(row, "clm_id"), "ct_D");
	assert_str(sget(row, "org"), "eu");
	json_decref(row);
	assert_chain(f->s, 1);
	json_decref(it);
}

static void
dlq_damaged(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *d = NULL, *l = NULL, *row;

	/* an entry whose queue names the audit chain: a replay must not write there */
	put_raw(f->s, "dlq", "00000000000000000001",
	        "{\"org\":\"prod\",\"queue\":\"audit\",\"item\":{\"x\":1},\"direction\":\"salesforce\"}");
	assert_int_equal(sync_dlq_replay(f->s, "1", &e), CS_EIO);
	assert_non_null(strstr(e.msg, "damaged"));
	assert_int_equal(count(f->s, "dlq"), 1);
	assert_int_equal(count(f->s, "audit"), 0);
	assert_false(store_in_transaction(f->s));
	assert_int_equal(sync_dlq_get(f->s, "1", &d, &e), CS_EIO);
	assert_null(d);
	assert_int_equal(sync_dlq_list(f->s, NULL, 10, &l, &e), CS_EIO);
	assert_null(l);
	put_raw(f->s, "dlq", "00000000000000000002", "[1,2]");
	assert_int_equal(sync_dlq_replay(f->s, "2", &e), CS_EIO);

	/* but it can be discarded, with what it says about itself */
	assert_int_equal(sync_dlq_discard(f->s, "1", "edited by hand", &e), CS_OK);
	assert_int_equal(sync_dlq_discard(f->s, "2", "not an object", &e), CS_OK);
	assert_int_equal(count(f->s, "dlq"), 0);
	row = audit_row(f->s, 1);
	assert_str(sget(row, "org"), "prod");
	assert_str(sget(row, "decision"), "discarded");
	json_decref(row);
	row = audit_row(f->s, 2);
	assert_true(json_is_null(json_object_get(row, "org")));
	assert_str(sget(row, "detail"), "not an object");
	json_decref(row);
	assert_chain(f->s, 2);
}

static void
dlq_discard(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *it = outbox_item("ct_A", 3, 0), *row;
	char big[SYNC_REASON_MAX + 1];

	put_dlq(f->s, "prod", "contracts", "ct_A", "800000000000001AAA", "salesforce", "outbox:prod", it,
	        "ENTITY_IS_DELETED", "entity is deleted");
	assert_int_equal(sync_dlq_discard(f->s, "1", "", &e), CS_EINVAL);
	assert_int_equal(sync_dlq_discard(f->s, "1", NULL, &e), CS_EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sync_dlq_discard(f->s, "1", big, &e), CS_ETOOBIG);
	assert_int_equal(sync_dlq_discard(f->s, "1", "bad \xff text", &e), CS_EUTF8);
	assert_int_equal(count(f->s, "dlq"), 1);
	assert_int_equal(count(f->s, "audit"), 0);

	assert_int_equal(sync_dlq_discard(f->s, "1", "the record was deleted in Salesforce on purpose", &e), CS_OK);
	assert_int_equal(count(f->s, "dlq"), 0);
	assert_int_equal(count(f->s, "outbox:prod"), 0);
	row = audit_row(f->s, 1);
	assert_str(sget(row, "decision"), "discarded");
	assert_str(sget(row, "event"), "operator");
	assert_str(sget(row, "detail"), "the record was deleted in Salesforce on purpose");
	assert_str(sget(row, "side"), "salesforce");
	assert_str(sget(row, "clm_id"), "ct_A");
	assert_str(sget(row, "mapping"), "contracts");
	json_decref(row);
	assert_chain(f->s, 1);
	assert_int_equal(sync_dlq_discard(f->s, "1", "again", &e), CS_ENOTFOUND);
	assert_chain(f->s, 1);
	json_decref(it);
}

/* Every statement of a replay failing in turn leaves the state as it was (SQLite's model). */
static void
dlq_replay_faults(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *it = outbox_item("ct_A", 9, 5), *q;
	cs_err rc = CS_EIO;
	long nth;

	put_dlq(f->s, "prod", "contracts", "ct_A", "800000000000001AAA", "salesforce", "outbox:prod", it, "X", "y");
	for (nth = 1; nth < 100; nth++) {
		store_fault_inject(nth);
		rc = sync_dlq_replay(f->s, "1", &e);
		store_fault_inject(0);
		assert_false(store_in_transaction(f->s));
		if (rc == CS_OK)
			break;
		assert_int_equal(count(f->s, "dlq"), 1);
		assert_int_equal(count(f->s, "outbox:prod"), 0);
		assert_int_equal(count(f->s, "audit"), 0);
		assert_int_equal(count(f->s, SYNC_DLQ_COUNT_NS), 1);      /* contracts: 1, kept with the entry */
	}
	assert_int_equal(rc, CS_OK);
	assert_true(nth > 3);   /* the faults did hit the replay's statements */
	assert_int_equal(count(f->s, SYNC_DLQ_COUNT_NS), 0);
	q = scan(f->s, "outbox:prod");
	assert_int_equal(json_array_size(q), 1);
	assert_int_equal(iget(json_object_get(json_array_get(q, 0), "doc"), "attempts"), 0);
	json_decref(q);
	assert_int_equal(count(f->s, "dlq"), 0);
	assert_chain(f->s, 1);
	json_decref(it);
}

/* sync_dlq_counts into a new object; *total its sum. */
static json_t *
dlq_counts(struct store *s, long long *total)
{
	struct cs_error e = { 0 };
	json_t *c = NULL;

	if (sync_dlq_counts(s, &c, total, &e) != CS_OK)
		fail_msg("sync_dlq_counts: %s", e.msg);
	return c;
}

/* The counts per mapping follow every entry put, replayed and discarded, in the same
 * transactions, without reading the queue. */
static void
dlq_counts_follow_the_queue(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *it = outbox_item("ct_A", 1, 0), *c;
	long long total = -1;

	c = dlq_counts(f->s, &total);
	assert_int_equal(json_object_size(c), 0);
	assert_int_equal(total, 0);
	json_decref(c);
	for (int i = 0; i < 3; i++)
		put_dlq(f->s, "prod", "contracts", "ct_A", "", "salesforce", "outbox:prod", it, "X", "y");
	put_dlq(f->s, "prod", "counterparties", "cp_A", "", "salesforce", "outbox:prod", it, "X", "y");
	put_dlq(f->s, "prod", NULL, "ct_B", "", "clm", "inbox:prod", it, "X", "y");
	c = dlq_counts(f->s, &total);
	assert_int_equal(iget(c, "contracts"), 3);
	assert_int_equal(iget(c, "counterparties"), 1);
	assert_int_equal(iget(c, "#other"), 1);
	assert_int_equal(total, 5);
	json_decref(c);
	/* the count is of rows the queue's writers keep: damage the queue's rows and the count does
	 * not read them */
	put_raw(f->s, "dlq", "00000000000000000005", "\"not an entry\"");
	c = dlq_counts(f->s, &total);
	assert_int_equal(total, 5);
	json_decref(c);
	assert_int_equal(sync_dlq_replay(f->s, "1", &e), CS_OK);
	assert_int_equal(sync_dlq_discard(f->s, "4", "gone", &e), CS_OK);      /* counterparties */
	assert_int_equal(sync_dlq_discard(f->s, "5", "damaged", &e), CS_OK);   /* no mapping: #other */
	c = dlq_counts(f->s, &total);
	assert_int_equal(iget(c, "contracts"), 2);
	assert_null(json_object_get(c, "counterparties"));
	assert_null(json_object_get(c, "#other"));
	assert_int_equal(total, 2);
	json_decref(c);
	/* a failed replay changes no count */
	store_fault_inject(4);
	assert_int_not_equal(sync_dlq_replay(f->s, "3", &e), CS_OK);
	store_fault_inject(0);
	c = dlq_counts(f->s, &total);
	assert_int_equal(iget(c, "contracts"), 2);
	assert_int_equal(total, 2);
	json_decref(c);
	json_decref(it);
}

/* A store whose entries were written before the counters existed is counted once, exactly,
 * over several pages, whatever the counters held; later changes count on from there. */
static void
dlq_counts_of_an_older_store(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *it = outbox_item("ct_A", 1, 0), *c, *d;
	long long total = -1;
	int n = 0;

	assert_int_equal(store_begin(f->s, &e), CS_OK);
	for (; n < 2300; n++) {
		d = json_pack("{s:s, s:s, s:s, s:O}", "org", "prod", "mapping", n % 3 ? "contracts" : "counterparties", "queue",
		    "outbox:prod", "item", it);
		assert_int_equal(sync_queue_push(f->s, "dlq", d, &e), CS_OK);
		json_decref(d);
	}
	d = json_pack("{s:s, s:s}", "mapping", "No Such/Name", "queue", "outbox:prod");
	assert_int_equal(sync_queue_push(f->s, "dlq", d, &e), CS_OK);
	json_decref(d);
	/* a counter an older entry never had, as a writer that started first might leave */
	assert_int_equal(sync_dlq_count_add(f->s, "contracts", 7, &e), CS_OK);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	c = dlq_counts(f->s, &total);
	assert_int_equal(iget(c, "counterparties"), 767);
	assert_int_equal(iget(c, "contracts"), 1533);
	assert_int_equal(iget(c, "#other"), 1);
	assert_int_equal(total, 2301);
	json_decref(c);
	put_dlq(f->s, "prod", "contracts", "ct_A", "", "salesforce", "outbox:prod", it, "X", "y");
	assert_int_equal(sync_dlq_discard(f->s, "2301", "odd", &e), CS_OK);
	c = dlq_counts(f->s, &total);
	assert_int_equal(iget(c, "contracts"), 1534);
	assert_null(json_object_get(c, "#other"));
	assert_int_equal(total, 2301);
	json_decref(c);
	json_decref(it);
}

/* Open conflicts counted per mapping on the key index: a mapping whose name another one's
 * starts with is not counted with it. */
static void
conflict_counts(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	long long n = -1;

	put_conflict(f->s, "prod", "contracts", "ct_A", "title", "Name", "a", "b");
	put_conflict(f->s, "prod", "contracts", "ct_A", "status", "Status", "a", "b");
	put_conflict(f->s, "prod", "contracts-emea", "ct_B", "title", "Name", "a", "b");
	assert_int_equal(sync_conflict_count(f->s, "contracts", &n, &e), CS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(sync_conflict_count(f->s, "contracts-emea", &n, &e), CS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(sync_conflict_count(f->s, "counterparties", &n, &e), CS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(sync_conflict_count(f->s, NULL, &n, &e), CS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(sync_conflict_count(f->s, "", &n, &e), CS_EINVAL);
}

static void
ops_refuse_open_transaction(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	char id[SYNC_REQUEST_ID_MAX];
	json_t *it = outbox_item("ct_A", 1, 0);

	put_dlq(f->s, "prod", "contracts", "ct_A", "", "salesforce", "outbox:prod", it, "X", "y");
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(sync_dlq_replay(f->s, "1", &e), CS_ESTATE);
	assert_int_equal(sync_dlq_discard(f->s, "1", "why", &e), CS_ESTATE);
	assert_int_equal(sync_reconcile_request(f->s, "prod", NULL, false, id, &e), CS_ESTATE);
	assert_string_equal(id, "");
	/* the caller's transaction is left alone */
	assert_true(store_in_transaction(f->s));
	store_rollback(f->s);
	assert_int_equal(count(f->s, "dlq"), 1);
	json_decref(it);
}

/* ---- conflicts ---- */

static void
conflict_list_and_get(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *l = NULL, *c = NULL;

	assert_int_equal(sync_conflict_list(f->s, &l, &e), CS_OK);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	put_conflict(f->s, "prod", "contracts", "ct_B", "title", "Name", "Renewal B", "Renewal (B)");
	put_conflict(f->s, "prod", "contracts", "ct_A", "status", "Status", "active", "Expired");
	assert_int_equal(sync_conflict_list(f->s, &l, &e), CS_OK);
	assert_int_equal(json_array_size(l), 2);
	c = json_array_get(l, 0);
	assert_str(sget(c, "id"), "contracts/ct_A/Status");
	assert_str(sget(c, "field"), "status");
	assert_str(sget(c, "clm_value"), "active");
	assert_str(sget(c, "sf_value"), "Expired");
	assert_str(sget(c, "base"), "Old");
	assert_str(sget(json_array_get(l, 1), "id"), "contracts/ct_B/Name");
	json_decref(l);

	assert_int_equal(sync_conflict_get(f->s, "contracts/ct_B/Name", &c, &e), CS_OK);
	assert_str(sget(c, "id"), "contracts/ct_B/Name");
	assert_str(sget(c, "org"), "prod");
	assert_str(sget(c, "clm"), "ct_B");
	assert_str(sget(c, "sf_field"), "Name");
	assert_str(sget(c, "sf_value"), "Renewal (B)");
	json_decref(c);
	c = (json_t *)1;
	assert_int_equal(sync_conflict_get(f->s, "contracts/ct_C/Name", &c, &e), CS_ENOTFOUND);
	assert_null(c);
	assert_int_equal(sync_conflict_get(f->s, "", &c, &e), CS_EINVAL);

	/* the key is the id, whatever the document says */
	put_raw(f->s, "conflict", "contracts/ct_W/Name", "{\"org\":\"prod\",\"id\":\"other\"}");
	assert_int_equal(sync_conflict_get(f->s, "contracts/ct_W/Name", &c, &e), CS_OK);
	assert_str(sget(c, "id"), "contracts/ct_W/Name");
	json_decref(c);

	put_raw(f->s, "conflict", "contracts/ct_X/Name", "\"not an object\"");
	assert_int_equal(sync_conflict_get(f->s, "contracts/ct_X/Name", &c, &e), CS_EIO);
	assert_int_equal(sync_conflict_list(f->s, &l, &e), CS_EIO);
	assert_null(l);
}

/* More conflicts than one store page: the list pages through them all. */
static void
conflict_list_pages(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *d = json_pack("{s:s}", "org", "prod"), *l = NULL;
	char key[64];
	const int n = STORE_LIST_MAX + 5;

	assert_int_equal(store_begin(f->s, &e), CS_OK);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "contracts/ct_%05d/Name", i);
		assert_int_equal(store_kv_put(f->s, "conflict", key, d, &e), CS_OK);
	}
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(sync_conflict_list(f->s, &l, &e), CS_OK);
	assert_int_equal(json_array_size(l), n);
	assert_str(sget(json_array_get(l, 0), "id"), "contracts/ct_00000/Name");
	snprintf(key, sizeof(key), "contracts/ct_%05d/Name", n - 1);
	assert_str(sget(json_array_get(l, (size_t)n - 1), "id"), key);
	json_decref(l);
	json_decref(d);
}

static void
conflict_resolve_request(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *q, *r, *v = json_string("Renewal (final)");

	put_conflict(f->s, "prod", "contracts", "ct_A", "title", "Name", "A", "B");
	put_conflict(f->s, "eu", "contracts-eu", "ct_E", "title", "Name", "E1", "E2");

	assert_int_equal(sync_conflict_resolve_request(f->s, "contracts/ct_A/Name", "both", NULL, &e), CS_EINVAL);
	assert_int_equal(sync_conflict_resolve_request(f->s, "contracts/ct_A/Name", NULL, NULL, &e), CS_EINVAL);
	assert_int_equal(sync_conflict_resolve_request(f->s, "contracts/ct_Q/Name", "clm", NULL, &e), CS_ENOTFOUND);
	assert_int_equal(count(f->s, "inbox:prod"), 0);

	assert_int_equal(sync_conflict_resolve_request(f->s, "contracts/ct_A/Name", "salesforce", v, &e), CS_OK);
	assert_int_equal(sync_conflict_resolve_request(f->s, "contracts/ct_A/Name", "value", v, &e), CS_OK);
	assert_int_equal(sync_conflict_resolve_request(f->s, "contracts-eu/ct_E/Name", "clm", NULL, &e), CS_OK);
	assert_false(store_in_transaction(f->s));

	q = scan(f->s, "inbox:prod");
	assert_int_equal(json_array_size(q), 2);
	r = json_object_get(json_array_get(q, 0), "doc");
	assert_str(sget(r, "t"), "resolve");
	assert_str(sget(r, "conflict"), "contracts/ct_A/Name");
	assert_str(sget(r, "choice"), "salesforce");
	assert_true(json_is_null(json_object_get(r, "value")));   /* a value only goes with "value" */
	r = json_object_get(json_array_get(q, 1), "doc");
	assert_str(sget(r, "choice"), "value");
	assert_str(sget(r, "value"), "Renewal (final)");
	json_decref(q);

	/* each request goes to the inbox of the conflict's own org */
	q = scan(f->s, "inbox:eu");
	assert_int_equal(json_array_size(q), 1);
	r = json_object_get(json_array_get(q, 0), "doc");
	assert_str(sget(r, "conflict"), "contracts-eu/ct_E/Name");
	assert_str(sget(r, "choice"), "clm");
	json_decref(q);
	/* the conflict itself stays until the engine resolves it */
	assert_int_equal(count(f->s, "conflict"), 2);

	/* "value" without one is JSON null: clear the field */
	assert_int_equal(sync_conflict_resolve_request(f->s, "contracts-eu/ct_E/Name", "value", NULL, &e), CS_OK);
	q = scan(f->s, "inbox:eu");
	assert_int_equal(json_array_size(q), 2);
	r = json_object_get(json_array_get(q, 1), "doc");
	assert_non_null(json_object_get(r, "value"));
	assert_true(json_is_null(json_object_get(r, "value")));
	json_decref(q);

	/* a conflict that names no org cannot be routed */
	put_raw(f->s, "conflict", "contracts/ct_N/Name", "{\"mapping\":\"contracts\"}");
	assert_int_equal(sync_conflict_resolve_request(f->s, "contracts/ct_N/Name", "clm", NULL, &e), CS_EIO);
	assert_false(store_in_transaction(f->s));
	json_decref(v);
}

/* ---- reconcile ---- */

static void
reconcile_request_and_result(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	char id1[SYNC_REQUEST_ID_MAX], id2[SYNC_REQUEST_ID_MAX];
	json_t *q, *r, *res = NULL;

	assert_int_equal(sync_reconcile_request(f->s, "prod", NULL, false, id1, &e), CS_OK);
	assert_int_equal(sync_reconcile_request(f->s, "prod", "contracts", true, id2, &e), CS_OK);
	assert_int_equal(strlen(id1), 32);
	assert_int_equal(strspn(id1, "0123456789abcdef"), 32);
	assert_int_equal(strlen(id2), 32);
	assert_string_not_equal(id1, id2);

	q = scan(f->s, "inbox:prod");
	assert_int_equal(json_array_size(q), 2);
	r = json_object_get(json_array_get(q, 0), "doc");
	assert_str(sget(r, "t"), "reconcile");
	assert_true(json_is_null(json_object_get(r, "mapping")));
	assert_true(json_is_false(json_object_get(r, "repair")));
	assert_true(json_is_integer(json_object_get(r, "since_ms")));
	assert_int_equal(iget(r, "since_ms"), 0);
	assert_str(sget(r, "request"), id1);
	assert_str(sget(r, "why"), "requested by an operator");
	r = json_object_get(json_array_get(q, 1), "doc");
	assert_str(sget(r, "mapping"), "contracts");
	assert_true(json_is_true(json_object_get(r, "repair")));
	assert_str(sget(r, "request"), id2);
	json_decref(q);

	/* not done yet */
	res = (json_t *)1;
	assert_int_equal(sync_reconcile_result(f->s, id1, &res, &e), CS_ENOTFOUND);
	assert_null(res);
	/* the engine's answer, as run_reconcile_item writes it */
	{
		char doc[160];
		snprintf(doc, sizeof(doc), "{\"checked\":120,\"drift\":3,\"ok\":true,\"error\":\"\"}");
		put_raw(f->s, "reconcile", id1, doc);
	}
	assert_int_equal(sync_reconcile_result(f->s, id1, &res, &e), CS_OK);
	assert_int_equal(iget(res, "checked"), 120);
	assert_int_equal(iget(res, "drift"), 3);
	assert_true(json_is_true(json_object_get(res, "ok")));
	assert_str(sget(res, "error"), "");
	json_decref(res);
	assert_int_equal(sync_reconcile_result(f->s, id2, &res, &e), CS_ENOTFOUND);
	put_raw(f->s, "reconcile", id2, "{\"checked\":\"many\"}");
	assert_int_equal(sync_reconcile_result(f->s, id2, &res, &e), CS_EIO);
	assert_int_equal(sync_reconcile_result(f->s, "", &res, &e), CS_EINVAL);

	/* an org name that cannot make a queue */
	assert_int_equal(sync_reconcile_request(f->s, "", NULL, false, id1, &e), CS_EINVAL);
	assert_string_equal(id1, "");
	{
		char longorg[STORE_KV_NS_MAX + 1];
		memset(longorg, 'a', sizeof(longorg) - 1);
		longorg[sizeof(longorg) - 1] = '\0';
		assert_int_equal(sync_reconcile_request(f->s, longorg, NULL, false, id1, &e), CS_EINVAL);
	}
	assert_int_equal(sync_reconcile_request(f->s, "bad org", NULL, false, id1, &e), CS_EINVAL);
	assert_int_equal(count(f->s, "inbox:prod"), 2);
}

/* The marks of records Salesforce deleted are removed once older than any event of theirs can
 * be: in chunks, walking the namespace from key to key; a mark that cannot be dated is kept; a
 * store fault removes nothing and says so. */
static void
marks_prune(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	char key[32], doc[64], next[STORE_KV_KEY_MAX], after[STORE_KV_KEY_MAX] = "";
	long long pruned = 0;
	int rounds = 0;
	json_t *all;

	for (int i = 0; i < 25; i++) {
		snprintf(key, sizeof(key), "8000A%013d", i);
		snprintf(doc, sizeof(doc), "{\"clm\": \"ct_%d\", \"ms\": %d}", i, i % 2 ? 1000 : 5000);
		put_raw(f->s, "sfdeleted:contracts", key, doc);
	}
	put_raw(f->s, "sfdeleted:contracts", "8000B0000000000000", "{\"clm\": \"ct_x\"}");
	put_raw(f->s, "sfdeleted:other", "8000A0000000000001", "{\"clm\": \"ct_y\", \"ms\": 1000}");
	do {
		assert_int_equal(sync_marks_prune(f->s, "sfdeleted:contracts", after, 10, 2000, next, &pruned, &e), CS_OK);
		memcpy(after, next, sizeof(next));
		rounds++;
	} while (next[0] != '\0' && rounds < 10);
	assert_int_equal(rounds, 3);
	assert_int_equal(pruned, 12);                 /* the odd ones, dated 1000 */
	assert_int_equal(count(f->s, "sfdeleted:contracts"), 14);
	all = scan(f->s, "sfdeleted:contracts");
	for (size_t i = 0; i < json_array_size(all); i++) {
		json_t *ms = json_object_get(json_object_get(json_array_get(all, i), "doc"), "ms");
		assert_true(ms == NULL || json_integer_value(ms) == 5000);
	}
	json_decref(all);
	assert_int_equal(count(f->s, "sfdeleted:other"), 1);
	/* nothing older: nothing removed, the end reached at once */
	pruned = 0;
	assert_int_equal(sync_marks_prune(f->s, "sfdeleted:contracts", "", 100, 2000, next, &pruned, &e), CS_OK);
	assert_int_equal(pruned, 0);
	assert_string_equal(next, "");
	/* a store fault in the middle: nothing removed, the error told */
	store_fault_inject(3);
	assert_int_not_equal(sync_marks_prune(f->s, "sfdeleted:contracts", "", 100, 6000, next, &pruned, &e), CS_OK);
	store_fault_inject(0);
	assert_true(e.msg[0] != '\0');
	assert_false(store_in_transaction(f->s));
	assert_int_equal(count(f->s, "sfdeleted:contracts"), 14);
	assert_int_equal(sync_marks_prune(f->s, "sfdeleted:contracts", "", 100, 6000, next, &pruned, &e), CS_OK);
	assert_int_equal(count(f->s, "sfdeleted:contracts"), 1);  /* the undated one */
}

/* The worker's memory of its own repository writes whose feed rows have nothing left to plan
 * (sync_settled_note, sync_settled_take): a row takes it once, only with the version noted and
 * the engine's own origin, and per mapping; what a group noted counts once the group commits and
 * is gone with a lost group. */
static void
settled_rows(void **state)
{
	struct fx *f = *state;
	struct cs_org o = { .name = (char *)"o" };
	struct cs_mapping m1 = { .name = (char *)"a", .entity = CS_ENTITY_CONTRACT };
	struct cs_mapping m2 = { .name = (char *)"b", .entity = CS_ENTITY_CONTRACT };
	struct worker w = { .org = &o, .st = f->s };
	struct cs_error e = { 0 };

	snprintf(w.actor, sizeof(w.actor), "sync:o");
	w.maps[0] = &m1;
	w.maps[1] = &m2;
	w.nmaps = 2;
	w.settled = json_object();
	w.settled_grp = json_object();
	assert_non_null(w.settled);
	assert_non_null(w.settled_grp);

	/* outside a group: known at once, taken once */
	sync_settled_note(&w, &m1, "ct_1", 5, true);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_1", 5, "sync:o"), 1);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_1", 5, "sync:o"), 0);
	/* per mapping: both settled, or one of them */
	sync_settled_note(&w, &m1, "ct_1", 6, true);
	sync_settled_note(&w, &m2, "ct_1", 6, true);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_1", 6, "sync:o"), 3);
	sync_settled_note(&w, &m1, "ct_1", 7, true);
	sync_settled_note(&w, &m2, "ct_1", 7, false);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_1", 7, "sync:o"), 1);
	/* a later write of the record replaces what an earlier one noted */
	sync_settled_note(&w, &m1, "ct_1", 8, true);
	sync_settled_note(&w, &m1, "ct_1", 9, false);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_1", 8, "sync:o"), 0);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_1", 9, "sync:o"), 0);
	/* another writer's row of that version (a write of ours rolled back): planned, and forgotten */
	sync_settled_note(&w, &m1, "ct_2", 3, true);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_2", 3, "api:admin"), 0);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_2", 3, "sync:o"), 0);
	/* an older row of the record leaves it for the row of the version noted; another entity's
	 * row of the same id is not it */
	sync_settled_note(&w, &m1, "ct_3", 9, true);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_3", 8, "sync:o"), 0);
	assert_int_equal(sync_settled_take(&w, "obligation", "ct_3", 9, "sync:o"), 0);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_3", 9, "sync:o"), 1);
	assert_int_equal(json_object_size(w.settled), 0);

	/* in a group: known once the group commits */
	sync_txn_group(&w);
	assert_int_equal(sync_txn_begin(&w, &e), CS_OK);
	sync_settled_note(&w, &m1, "ct_4", 2, true);
	assert_int_equal(sync_txn_commit(&w, &e), CS_OK);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_4", 2, "sync:o"), 0);
	assert_int_equal(sync_txn_end(&w, &e), CS_OK);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_4", 2, "sync:o"), 1);

	/* a group whose commit fails is lost, and what it noted with it */
	sync_txn_group(&w);
	assert_int_equal(sync_txn_begin(&w, &e), CS_OK);
	sync_settled_note(&w, &m1, "ct_5", 4, true);
	assert_int_equal(sync_txn_commit(&w, &e), CS_OK);
	store_fault_inject(1);
	assert_int_not_equal(sync_txn_end(&w, &e), CS_OK);
	store_fault_inject(0);
	assert_false(store_in_transaction(f->s));
	assert_int_equal(sync_settled_take(&w, "contract", "ct_5", 4, "sync:o"), 0);
	/* nor does the next group's commit bring it back */
	sync_txn_group(&w);
	assert_int_equal(sync_txn_begin(&w, &e), CS_OK);
	assert_int_equal(sync_txn_commit(&w, &e), CS_OK);
	assert_int_equal(sync_txn_end(&w, &e), CS_OK);
	assert_int_equal(sync_settled_take(&w, "contract", "ct_5", 4, "sync:o"), 0);
	json_decref(w.settled);
	json_decref(w.settled_grp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(marks_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(settled_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(dlq_list_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(dlq_replay_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(dlq_replay_inbox_keeps_item, setup, teardown),
		cmocka_unit_test_setup_teardown(dlq_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(dlq_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(dlq_replay_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(dlq_counts_follow_the_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(dlq_counts_of_an_older_store, setup, teardown),
		cmocka_unit_test_setup_teardown(conflict_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(ops_refuse_open_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(conflict_list_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(conflict_list_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(conflict_resolve_request, setup, teardown),
		cmocka_unit_test_setup_teardown(reconcile_request_and_result, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sync_sent.c - a link's writes in flight: answered, retired by our own change events matched by
 * value (coalesced writes, repeated commits after lost answers, values that come back), forgotten. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sync/sent.h"
#include "sync/value.h"

/* An unanswered entry as the planner appends it: {"f": fields, "ms", "ok": false}. */
static void
plan(json_t *sent, const char *fields)
{
	json_error_t je;
	json_t *f = json_loads(fields, 0, &je);

	assert_non_null(f);
	assert_int_equal(json_array_append_new(sent, json_pack("{s:o, s:I, s:b}", "f", f, "ms", (json_int_t)1, "ok", 0)), 0);
}

/* The entries still in flight: those retired stay a while as values of ours (sent.h). */
static size_t
in_flight(const json_t *sent)
{
	json_t *it;
	size_t i, n = 0;

	json_array_foreach(sent, i, it)
		n += !json_is_true(json_object_get(it, "done"));
	return n;
}

/* The write named wid carried the first n unanswered entries, answered at ms. */
static void
answer(json_t *sent, size_t n, const char *wid, int64_t ms)
{
	json_t *w = json_string(wid);

	sync_sent_answer(sent, n, w, ms);
	json_decref(w);
}

/* Our own change event showing the values in shown (JSON text). */
/* Whether an entry in flight carries v for field. */
static bool
has(const json_t *sent, const char *field, const json_t *v)
{
	json_t *fl = sync_sent_in_flight(sent), *it;
	size_t i;
	bool yes = false;

	json_array_foreach(fl, i, it) {
		json_t *x = json_object_get(json_object_get(it, "f"), field);
		yes |= x != NULL && sync_value_equal(x, v);
	}
	json_decref(fl);
	return yes;
}

static int64_t clock_ms;           /* the time event() passes */

static bool
event(json_t *sent, const char *shown)
{
	json_error_t je;
	json_t *v = json_loads(shown, 0, &je);
	bool changed;

	assert_non_null(v);
	changed = sync_sent_retire(sent, v, NULL, clock_ms);
	json_decref(v);
	return changed;
}

static void
assert_pending(const json_t *sent, const char *field, const char *want)
{
	json_t *v = sync_sent_pending(sent, field);

	if (want == NULL)
		assert_null(v);
	else {
		assert_non_null(v);
		assert_string_equal(json_string_value(v), want);
	}
}

/* One write, one event: retired; the echo is known as ours while it is in flight. */
static void
test_one_write(void **state)
{
	json_t *sent = json_array(), *v = json_string("net 30");

	(void)state;
	plan(sent, "{\"Terms\": \"net 30\"}");
	assert_true(has(sent, "Terms", v));
	answer(sent, 1, "00000000000000000001", 100);
	assert_pending(sent, "Terms", "net 30");
	assert_true(event(sent, "{\"Terms\": \"net 30\"}"));
	assert_int_equal(in_flight(sent), 0);
	assert_false(has(sent, "Terms", v));
	json_decref(v);
	json_decref(sent);
}

/* Two changes of a record queued behind a failing write go in one write, which makes one
 * event: both are retired by it (they used to be answered one by one, and the second waited
 * for ever, holding its field "in flight"). */
static void
test_coalesced_write_one_event(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"Terms\": \"net 30\"}");
	plan(sent, "{\"SpecialTerms\": \"after the burst\"}");
	answer(sent, 2, "00000000000000000007", 100);
	assert_true(event(sent, "{\"Terms\": \"net 30\", \"SpecialTerms\": \"after the burst\"}"));
	assert_int_equal(in_flight(sent), 0);
	assert_pending(sent, "SpecialTerms", NULL);
	json_decref(sent);
}

/* A write made three times (two answers lost) makes three events, the last two showing nothing
 * new: they retire nothing, so the next write stays awaited and the late echo of an older
 * value is still known as ours (counted, the repeats retired the next write too early). */
static void
test_repeated_commits_retire_nothing(void **state)
{
	json_t *sent = json_array(), *old = json_string("Renamed 399");

	(void)state;
	plan(sent, "{\"Name\": \"Renamed 399\"}");
	answer(sent, 1, "00000000000000000001", 100);
	plan(sent, "{\"Name\": \"Renamed 448\"}");
	answer(sent, 1, "00000000000000000002", 110);
	assert_false(event(sent, "{}"));
	assert_false(event(sent, "{\"Description\": \"not ours\"}"));
	assert_int_equal(in_flight(sent), 2);
	assert_true(has(sent, "Name", old));
	assert_true(event(sent, "{\"Name\": \"Renamed 399\"}"));
	assert_pending(sent, "Name", "Renamed 448");
	assert_false(has(sent, "Name", old));
	assert_true(event(sent, "{\"Name\": \"Renamed 448\"}"));
	assert_int_equal(in_flight(sent), 0);
	json_decref(old);
	json_decref(sent);
}

/* The event comes before the answer (the answer was lost; the write is made again): the entry
 * is marked seen, stays in flight, and goes with its answer. */
static void
test_event_before_answer(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"Name\": \"A\"}");
	assert_true(event(sent, "{\"Name\": \"A\"}"));
	assert_int_equal(in_flight(sent), 1);
	assert_true(json_is_true(json_object_get(json_array_get(sent, 0), "seen")));
	assert_pending(sent, "Name", NULL);         /* landed: no longer a value on its way */
	assert_true(sync_sent_seen(sent, 1, "Name"));
	assert_false(event(sent, "{}"));            /* the repeat's event */
	answer(sent, 1, "00000000000000000003", 100);
	assert_int_equal(in_flight(sent), 0);
	json_decref(sent);
}

/* A create whose answer was lost, and a change of the record planned after it went out: the
 * create's event shows every field as made, the changed one with its old value. The change was
 * not in that write; it used to be marked seen with it, the write settled as landed, and the
 * change never made (scenario.test_sync_faults under the sanitizers). */
static void
test_event_before_answer_later_change(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"Name\": \"C\", \"Terms\": \"net 15\", \"Currency\": \"EUR\"}");
	plan(sent, "{\"Name\": \"C\", \"Terms\": \"pt 82\", \"Currency\": \"EUR\"}");
	assert_true(event(sent, "{\"Name\": \"C\", \"Terms\": \"net 15\", \"Currency\": \"EUR\"}"));
	assert_true(json_is_true(json_object_get(json_array_get(sent, 0), "seen")));
	assert_false(json_is_true(json_object_get(json_array_get(sent, 1), "seen")));
	assert_false(sync_sent_landed(sent, 2));                    /* made again, with pt 82 */
	assert_pending(sent, "Terms", "pt 82");
	json_decref(sent);
}

/* A value that comes back (A, B, A): each event retires the oldest write it shows, not a
 * later write of the same value. */
static void
test_value_comes_back(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"X\": \"A\"}");
	answer(sent, 1, "00000000000000000001", 100);
	plan(sent, "{\"X\": \"B\"}");
	answer(sent, 1, "00000000000000000002", 101);
	plan(sent, "{\"X\": \"A\"}");
	answer(sent, 1, "00000000000000000003", 102);
	assert_true(event(sent, "{\"X\": \"A\"}"));
	assert_int_equal(in_flight(sent), 2);
	assert_pending(sent, "X", "A");
	assert_true(event(sent, "{\"X\": \"B\"}"));
	assert_int_equal(in_flight(sent), 1);
	assert_true(event(sent, "{\"X\": \"A\"}"));
	assert_int_equal(in_flight(sent), 0);
	json_decref(sent);
}

/* A write that changed nothing shows nothing in its event: the next write's event retires it
 * (its event came first, or never), and unanswered entries stay. */
static void
test_earlier_answered_writes_go_with_a_later_one(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"X\": \"same as before\"}");
	answer(sent, 1, "00000000000000000001", 100);
	plan(sent, "{\"Y\": \"new\"}");
	answer(sent, 1, "00000000000000000002", 101);
	plan(sent, "{\"Z\": \"on its way\"}");
	assert_true(event(sent, "{\"Y\": \"new\"}"));
	assert_int_equal(in_flight(sent), 1);
	assert_pending(sent, "Z", "on its way");
	assert_pending(sent, "X", NULL);
	json_decref(sent);
}

/* Entries written before writes were named ("w" absent) are retired one at a time. */
static void
test_unnamed_entries(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"X\": \"a\"}");
	plan(sent, "{\"X\": \"b\"}");
	sync_sent_answer(sent, 2, NULL, 100);
	assert_true(event(sent, "{\"X\": \"a\"}"));
	assert_int_equal(in_flight(sent), 1);
	assert_pending(sent, "X", "b");
	json_decref(sent);
}

static bool
wrote(const json_t *sent, const char *field, const char *value)
{
	json_t *v = json_string(value);
	bool yes = sync_sent_wrote(sent, field, v);

	json_decref(v);
	return yes;
}

/* Answered writes whose event has not come in keep_ms are retired, unshown, and stay values of
 * ours until done_keep_ms; unanswered ones are never pruned. */
static void
test_prune(void **state)
{
	json_t *sent = json_array();

	(void)state;
	clock_ms = 0;
	plan(sent, "{\"X\": \"old\"}");
	answer(sent, 1, "00000000000000000001", 1000);
	plan(sent, "{\"X\": \"recent\"}");
	answer(sent, 1, "00000000000000000002", 5000);
	plan(sent, "{\"X\": \"unanswered\"}");
	assert_false(sync_sent_prune(sent, 3000, 5000, 100000, 8));
	assert_true(sync_sent_last_shown(sent, "X"));             /* none retired */
	assert_true(sync_sent_prune(sent, 7000, 5000, 100000, 8));
	assert_int_equal(in_flight(sent), 2);
	assert_true(wrote(sent, "X", "old"));
	assert_false(sync_sent_last_shown(sent, "X"));
	assert_true(sync_sent_prune(sent, 50000, 5000, 100000, 8));
	assert_int_equal(in_flight(sent), 1);
	assert_pending(sent, "X", "unanswered");
	assert_int_equal(json_array_size(sent), 3);
	/* the stream was behind: the retired writes' events come now, oldest first */
	clock_ms = 50000;
	assert_true(event(sent, "{\"X\": \"old\"}"));
	assert_false(sync_sent_last_shown(sent, "X"));            /* "recent" is still to show */
	assert_true(event(sent, "{\"X\": \"recent\"}"));
	assert_true(sync_sent_last_shown(sent, "X"));
	assert_false(event(sent, "{\"X\": \"recent\"}"));      /* a repeat changes nothing */
	/* shown now: kept keep_ms from now, for a write of ours served late */
	assert_false(sync_sent_prune(sent, 54000, 5000, 100000, 8));
	assert_true(wrote(sent, "X", "old"));
	assert_true(sync_sent_prune(sent, 1000000, 5000, 100000, 8));
	assert_int_equal(json_array_size(sent), 1);
	assert_false(wrote(sent, "X", "old"));
	json_decref(sent);
}

/* A link keeps the newest done_max retired writes. */
static void
test_prune_keeps_newest(void **state)
{
	json_t *sent = json_array();
	char f[64], w[32];

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(f, sizeof(f), "{\"X\": \"v%d\"}", i);
		snprintf(w, sizeof(w), "%020d", i + 1);
		plan(sent, f);
		answer(sent, 1, w, 1000 + i);
	}
	assert_true(sync_sent_prune(sent, 2000, 0, 100000, 8));
	assert_int_equal(json_array_size(sent), 8);
	assert_int_equal(in_flight(sent), 0);
	assert_false(wrote(sent, "X", "v1"));
	assert_true(wrote(sent, "X", "v2"));
	assert_true(wrote(sent, "X", "v9"));
	json_decref(sent);
}

/* The event of a write in flight shows that the retired writes before it made their events (or
 * never will): they count as shown, and go after keep_ms like any shown entry. */
static void
test_later_event_shows_earlier(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"Name\": \"A\"}");
	answer(sent, 1, "00000000000000000001", 1000);
	plan(sent, "{\"Name\": \"B\"}");
	answer(sent, 1, "00000000000000000002", 1001);
	assert_true(sync_sent_prune(sent, 10000, 5000, 100000, 8));
	assert_false(sync_sent_last_shown(sent, "Name"));
	plan(sent, "{\"Name\": \"C\"}");
	answer(sent, 1, "00000000000000000003", 10001);
	clock_ms = 10002;
	assert_true(event(sent, "{\"Name\": \"C\"}"));
	assert_true(sync_sent_last_shown(sent, "Name"));
	assert_true(wrote(sent, "Name", "A"));
	assert_true(sync_sent_prune(sent, 20000, 5000, 100000, 8));
	assert_int_equal(json_array_size(sent), 0);
	json_decref(sent);
}

/* Three writes no longer awaited, the first and the last of the same value (Finance,
 * Healthcare, Finance), their events behind the stream: the first event is the first write's.
 * It used to show the third too, and the second between them: all three were then forgotten
 * keep_ms later, and the second's event, come after that, passed for a Salesforce edit (soak
 * full-21: a counterparty's Industry took the older value on both sides). */
static void
test_same_value_again_retired(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"Industry\": \"Finance\"}");
	answer(sent, 1, "00000000000000000001", 1000);
	plan(sent, "{\"Industry\": \"Healthcare\"}");
	answer(sent, 1, "00000000000000000002", 1100);
	plan(sent, "{\"Industry\": \"Finance\"}");
	answer(sent, 1, "00000000000000000003", 1200);
	assert_true(sync_sent_prune(sent, 10000, 5000, 100000, 8));
	assert_int_equal(in_flight(sent), 0);
	clock_ms = 10000;
	assert_true(event(sent, "{\"Industry\": \"Finance\"}"));
	assert_false(sync_sent_last_shown(sent, "Industry"));    /* the third is still to show */
	/* the second's event comes long after the first's: still a value of ours */
	sync_sent_prune(sent, 30000, 5000, 100000, 8);
	assert_true(wrote(sent, "Industry", "Healthcare"));
	clock_ms = 30000;
	assert_true(event(sent, "{\"Industry\": \"Healthcare\"}"));
	assert_false(sync_sent_last_shown(sent, "Industry"));
	clock_ms = 30001;
	assert_true(event(sent, "{\"Industry\": \"Finance\"}"));
	assert_true(sync_sent_last_shown(sent, "Industry"));
	json_decref(sent);
}

/* The same with the third write still awaited (soak full-21's other trace): the first write's
 * late event is the first write's, not the third's; the second stays a value of ours until its
 * own event, and the third awaits its own. */
static void
test_same_value_again_in_flight(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"Industry\": \"Manufacturing\"}");
	answer(sent, 1, "00000000000000000001", 1000);
	plan(sent, "{\"Industry\": \"Other\"}");
	answer(sent, 1, "00000000000000000002", 1100);
	assert_true(sync_sent_prune(sent, 10000, 5000, 100000, 8));
	plan(sent, "{\"Industry\": \"Manufacturing\"}");
	answer(sent, 1, "00000000000000000003", 10000);
	clock_ms = 11000;
	assert_true(event(sent, "{\"Industry\": \"Manufacturing\"}"));
	assert_pending(sent, "Industry", "Manufacturing");           /* the third, still awaited */
	sync_sent_prune(sent, 40000, 5000, 100000, 8);
	assert_true(wrote(sent, "Industry", "Other"));
	clock_ms = 40000;
	assert_true(event(sent, "{\"Industry\": \"Other\"}"));
	assert_false(sync_sent_last_shown(sent, "Industry"));
	assert_true(event(sent, "{\"Industry\": \"Manufacturing\"}"));
	assert_true(sync_sent_last_shown(sent, "Industry"));
	json_decref(sent);
}

/* A write no longer awaited whose event has not come, answered after a change's commit: the
 * change is weighed against it; not once its event came, nor for a change made after it. */
static void
test_unshown_since(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"Name\": \"R\"}");
	answer(sent, 1, "00000000000000000001", 1000);
	assert_null(sync_sent_unshown_since(sent, "Name", 900));     /* still awaited: pending */
	assert_true(sync_sent_prune(sent, 10000, 5000, 100000, 8));
	assert_string_equal(json_string_value(sync_sent_unshown_since(sent, "Name", 900)), "R");
	assert_null(sync_sent_unshown_since(sent, "Name", 1001));
	assert_null(sync_sent_unshown_since(sent, "Industry", 900));
	clock_ms = 10001;
	assert_true(event(sent, "{\"Name\": \"R\"}"));
	assert_null(sync_sent_unshown_since(sent, "Name", 900));
	json_decref(sent);
}

/* A write whose answer was lost, then a Salesforce change weighed against it that made a later
 * write of the field: the first write's event, or its answer, does not set the field's base back
 * to the first value (the later write settles it); a field only the first carries still lands. */
static void
test_later_write_settles_base(void **state)
{
	json_t *sent = json_array(), *shown, *landed = json_object();
	json_error_t je;

	(void)state;
	plan(sent, "{\"Date\": \"2024-04-24\", \"Terms\": \"net 30\"}");
	plan(sent, "{\"Date\": \"2023-04-24\"}");
	assert_false(sync_sent_later(sent, 2, "Date"));
	assert_true(sync_sent_later(sent, 1, "Date"));
	assert_false(sync_sent_later(sent, 1, "Terms"));
	shown = json_loads("{\"Date\": \"2024-04-24\", \"Terms\": \"net 30\"}", 0, &je);
	assert_true(sync_sent_retire(sent, shown, landed, 1000));
	assert_null(json_object_get(landed, "Date"));
	assert_string_equal(json_string_value(json_object_get(landed, "Terms")), "net 30");
	json_decref(shown);
	json_decref(landed);
	/* the first write answered: the later one is still the only one after it */
	answer(sent, 1, "00000000000000000001", 1000);
	assert_false(sync_sent_later(sent, 1, "Date"));
	json_decref(sent);
}

/* An event of an older write that shares a value with a retired entry does not show it. */
static void
test_shown_only_by_own_event(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"Name\": \"A\", \"Industry\": \"X\"}");
	answer(sent, 1, "00000000000000000001", 1000);
	plan(sent, "{\"Name\": \"B\", \"Industry\": \"X\"}");
	answer(sent, 1, "00000000000000000002", 1001);
	assert_true(sync_sent_prune(sent, 10000, 5000, 100000, 8));
	assert_true(event(sent, "{\"Name\": \"A\", \"Industry\": \"X\"}"));
	assert_false(sync_sent_last_shown(sent, "Name"));
	assert_true(event(sent, "{\"Name\": \"B\"}"));
	assert_true(sync_sent_last_shown(sent, "Name"));
	json_decref(sent);
}

/* A planned write of a field withdrawn before it was sent: no longer in flight; the entries stay
 * for the answer of the write that carries the rest; an answered entry keeps its value. */
static void
test_withdraw(void **state)
{
	json_t *sent = json_array();

	(void)state;
	plan(sent, "{\"Description\": \"a\"}");
	answer(sent, 1, "w1", 10);
	plan(sent, "{\"Description\": \"b\", \"Name\": \"n\"}");
	assert_pending(sent, "Description", "b");
	assert_true(sync_sent_withdraw(sent, "Description"));
	assert_pending(sent, "Description", "a");     /* the answered write's value is still awaited */
	assert_pending(sent, "Name", "n");
	assert_int_equal(in_flight(sent), 2);
	assert_false(sync_sent_withdraw(sent, "Description"));
	answer(sent, 1, "w2", 20);
	assert_true(event(sent, "{\"Name\": \"n\"}"));
	assert_pending(sent, "Name", NULL);
	json_decref(sent);
}

/* A write still to come: unanswered and not shown by our own event; one answered, or seen, has
 * landed. */
static void
test_queued(void **state)
{
	json_t *sent = json_array(), *v = json_string("Draft");

	(void)state;
	plan(sent, "{\"Status\": \"Draft\"}");
	assert_true(sync_sent_queued(sent, "Status", v));
	assert_true(event(sent, "{\"Status\": \"Draft\"}"));    /* seen before its answer: marked, kept */
	assert_false(sync_sent_queued(sent, "Status", v));
	assert_true(has(sent, "Status", v));
	answer(sent, 1, "w1", 10);                      /* seen, then answered: retired */
	assert_false(has(sent, "Status", v));
	plan(sent, "{\"Status\": \"Draft\"}");
	assert_true(sync_sent_queued(sent, "Status", v));
	answer(sent, 1, "w2", 20);                      /* answered, its event still to come */
	assert_false(sync_sent_queued(sent, "Status", v));
	assert_true(has(sent, "Status", v));
	json_decref(v);
	json_decref(sent);
}

/* A whole-record read after a write was answered overtakes the write's value of a field, for
 * that field only; the entry stays in flight (pending, for events older than the read) and a
 * value of ours until its event; an unanswered write is not overtaken, nor a write planned
 * after the read. */
static void
test_overtaken(void **state)
{
	json_t *sent = json_array(), *x = json_string("X");

	(void)state;
	plan(sent, "{\"Name\": \"X\", \"Industry\": \"Finance\"}");
	assert_false(sync_sent_overtaken(sent, "Name"));        /* unanswered: still on its way */
	assert_false(sync_sent_read_over(sent, "Name"));
	answer(sent, 1, "w1", 10);
	assert_true(sync_sent_overtaken(sent, "Name"));
	assert_false(sync_sent_overtaken(sent, "Name"));        /* once */
	assert_true(sync_sent_read_over(sent, "Name"));
	assert_false(sync_sent_read_over(sent, "Industry"));
	assert_pending(sent, "Name", "X");
	assert_true(has(sent, "Name", x));
	assert_true(sync_sent_wrote(sent, "Name", x));
	plan(sent, "{\"Name\": \"Z\"}");
	assert_false(sync_sent_read_over(sent, "Name"));        /* a later write: not overtaken */
	assert_pending(sent, "Name", "Z");
	assert_true(event(sent, "{\"Name\": \"X\", \"Industry\": \"Finance\"}"));   /* its own event retires it */
	assert_false(has(sent, "Name", x));
	assert_pending(sent, "Name", "Z");
	json_decref(x);
	json_decref(sent);
}

/* A write whose answer was lost has landed once our own event shows every entry it carried
 * (sync_sent_landed): the applier settles it instead of making it again. An entry planned after
 * that write, and not shown, keeps it unsettled. */
static void
test_landed(void **state)
{
	json_t *sent = json_array();

	(void)state;
	assert_false(sync_sent_landed(sent, 0));
	plan(sent, "{\"Name\": \"A\", \"Description\": \"x\"}");
	plan(sent, "{\"Description\": \"y\"}");     /* coalesced into the same write */
	assert_false(sync_sent_landed(sent, 2));
	assert_true(event(sent, "{\"Name\": \"A\", \"Description\": \"y\"}"));
	assert_true(sync_sent_landed(sent, 2));     /* both entries shown by the one event */
	plan(sent, "{\"Name\": \"B\"}");            /* planned while the write backed off */
	assert_false(sync_sent_landed(sent, 3));
	assert_true(sync_sent_landed(sent, 2));
	answer(sent, 2, "w1", 10);                  /* settled: the seen entries are retired */
	assert_int_equal(in_flight(sent), 1);
	assert_false(sync_sent_landed(sent, 1));
	json_decref(sent);
}

/* An event that marks entries seen hands their values, later over earlier, to the base
 * (landed); a field whose latest entry is seen is no longer in flight, while one planned after
 * it is; an answer after the event finds the write seen. */
static void
test_seen_values_land(void **state)
{
	json_t *sent = json_array(), *landed = json_object(), *shown = json_loads(
	    "{\"Name\": \"A\", \"Description\": \"y\"}", 0, NULL), *v;

	(void)state;
	assert_non_null(shown);
	plan(sent, "{\"Name\": \"A\", \"Description\": \"x\"}");
	plan(sent, "{\"Description\": \"y\"}");
	assert_false(sync_sent_seen(sent, 2, "Name"));
	assert_true(sync_sent_retire(sent, shown, landed, clock_ms));
	assert_int_equal(json_object_size(landed), 2);
	assert_string_equal(json_string_value(json_object_get(landed, "Name")), "A");
	assert_string_equal(json_string_value(json_object_get(landed, "Description")), "y");
	assert_pending(sent, "Description", NULL);
	plan(sent, "{\"Description\": \"z\"}");  /* planned after: on its way */
	assert_pending(sent, "Description", "z");
	assert_pending(sent, "Name", NULL);
	v = json_string("y");
	assert_true(has(sent, "Description", v));  /* a repeat's echo is still ours */
	json_decref(v);
	assert_true(sync_sent_seen(sent, 2, "Name"));
	assert_true(sync_sent_seen(sent, 2, "Description"));
	/* the write that carries the entry planned after the event: its Description was not seen
	 * (the answer sets the base to it), its Name was */
	assert_false(sync_sent_seen(sent, 3, "Description"));
	assert_true(sync_sent_seen(sent, 3, "Name"));
	assert_false(sync_sent_seen(sent, 0, "Name"));
	json_decref(shown);
	json_decref(landed);
	json_decref(sent);
}

/* The latest entry carrying a field, and whether it landed: a write of an older value of ours
 * that Salesforce served after it is told from its echo by this (plan.c late_write). */
static void
test_latest(void **state)
{
	json_t *sent = json_array(), *v;
	bool landed = true;

	(void)state;
	assert_null(sync_sent_latest(sent, "Name", &landed));
	assert_false(landed);
	plan(sent, "{\"Name\": \"Late 1\"}");
	plan(sent, "{\"Name\": \"Late 2\", \"Industry\": \"Energy\"}");
	v = sync_sent_latest(sent, "Name", &landed);
	assert_string_equal(json_string_value(v), "Late 2");
	assert_false(landed);
	assert_true(sync_sent_unanswered(sent, "Name"));
	assert_false(sync_sent_unanswered(sent, "Description"));
	/* one write carried both (the restarted engine's); its event shows the newer value */
	assert_true(event(sent, "{\"Name\": \"Late 2\", \"Industry\": \"Energy\"}"));
	v = sync_sent_latest(sent, "Name", &landed);
	assert_string_equal(json_string_value(v), "Late 2");
	assert_true(landed);
	assert_false(sync_sent_unanswered(sent, "Name"));     /* shown: it landed */
	/* the older entry is still in flight by value: without the latest's state, its late
	 * landing would pass for an echo */
	v = json_string("Late 1");
	assert_true(has(sent, "Name", v));
	json_decref(v);
	v = sync_sent_latest(sent, "Industry", &landed);
	assert_string_equal(json_string_value(v), "Energy");
	assert_true(landed);
	plan(sent, "{\"Name\": \"Late 3\"}");
	v = sync_sent_latest(sent, "Name", &landed);
	assert_string_equal(json_string_value(v), "Late 3");
	assert_false(landed);
	assert_true(sync_sent_unanswered(sent, "Name"));
	/* one write carried the three; one of them shown already, its answer retires it: no longer
	 * in flight, but still known as values of ours */
	answer(sent, 3, "00000000000000000001", 1000);
	assert_false(event(sent, "{\"Name\": \"Late 3\"}"));
	assert_int_equal(in_flight(sent), 0);
	assert_null(sync_sent_latest(sent, "Name", &landed));
	v = json_string("Late 1");
	assert_false(has(sent, "Name", v));
	assert_true(sync_sent_wrote(sent, "Name", v));
	json_decref(v);
	v = json_string("Automation");
	assert_false(sync_sent_wrote(sent, "Name", v));
	json_decref(v);
	v = sync_sent_in_flight(sent);
	assert_int_equal(json_array_size(v), 0);
	json_decref(v);
	/* forgotten past done_keep_ms */
	assert_true(sync_sent_prune(sent, 1000000, 5000, 100000, 8));
	assert_int_equal(json_array_size(sent), 0);
	json_decref(sent);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_write),
		cmocka_unit_test(test_coalesced_write_one_event),
		cmocka_unit_test(test_repeated_commits_retire_nothing),
		cmocka_unit_test(test_event_before_answer),
		cmocka_unit_test(test_event_before_answer_later_change),
		cmocka_unit_test(test_value_comes_back),
		cmocka_unit_test(test_earlier_answered_writes_go_with_a_later_one),
		cmocka_unit_test(test_unnamed_entries),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_prune_keeps_newest),
		cmocka_unit_test(test_shown_only_by_own_event),
		cmocka_unit_test(test_later_event_shows_earlier),
		cmocka_unit_test(test_same_value_again_retired),
		cmocka_unit_test(test_same_value_again_in_flight),
		cmocka_unit_test(test_unshown_since),
		cmocka_unit_test(test_later_write_settles_base),
		cmocka_unit_test(test_withdraw),
		cmocka_unit_test(test_queued),
		cmocka_unit_test(test_landed),
		cmocka_unit_test(test_overtaken),
		cmocka_unit_test(test_seen_values_land),
		cmocka_unit_test(test_latest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

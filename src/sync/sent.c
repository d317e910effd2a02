/* sent.c - a link's writes in flight to Salesforce (sent.h): matched with our change events by value. */
#include "sync/sent.h"
#include "sync/value.h"

/* Whether entry it is still in flight: not done (retired, kept a while as one of ours). */
static bool
live(const json_t *it)
{
	return !json_is_true(json_object_get(it, "done"));
}

/* The latest entry that carries field, of those in flight or of those retired; or NULL. */
static json_t *
latest_of(const json_t *sent, const char *field, bool in_flight)
{
	json_t *it, *last = NULL;
	size_t i;

	json_array_foreach(sent, i, it) {
		if (live(it) == in_flight && json_object_get(json_object_get(it, "f"), field) != NULL)
			last = it;
	}
	return last;
}

/* The latest entry in flight that carries field, or NULL. */
static json_t *
latest(const json_t *sent, const char *field)
{
	return latest_of(sent, field, true);
}

json_t *
sync_sent_pending(const json_t *sent, const char *field)
{
	json_t *e = latest(sent, field);

	return e != NULL && !json_is_true(json_object_get(e, "seen")) ? json_object_get(json_object_get(e, "f"), field) : NULL;
}

bool
sync_sent_read_over(const json_t *sent, const char *field)
{
	json_t *e = latest(sent, field);

	return e != NULL && json_is_true(json_object_get(json_object_get(e, "x"), field));
}

bool
sync_sent_overtaken(json_t *sent, const char *field)
{
	json_t *it, *x;
	size_t i;
	bool changed = false;

	json_array_foreach(sent, i, it) {
		if (!live(it) || !json_is_true(json_object_get(it, "ok")) || json_object_get(json_object_get(it, "f"), field) == NULL ||
		    json_is_true(json_object_get(json_object_get(it, "x"), field)))
			continue;
		if ((x = json_object_get(it, "x")) == NULL) {
			if (json_object_set_new(it, "x", json_object()) != 0)
				continue;
			x = json_object_get(it, "x");
		}
		if (json_object_set_new(x, field, json_true()) == 0)
			changed = true;
	}
	return changed;
}

json_t *
sync_sent_in_flight(const json_t *sent)
{
	json_t *out = json_array(), *it;
	size_t i;

	json_array_foreach(sent, i, it) {
		if (out != NULL && live(it) && json_array_append(out, it) != 0) {
			json_decref(out);
			out = NULL;
		}
	}
	return out;
}

bool
sync_sent_unanswered(const json_t *sent, const char *field)
{
	json_t *e = latest(sent, field);

	return e != NULL && !json_is_true(json_object_get(e, "ok")) && !json_is_true(json_object_get(e, "seen"));
}

json_t *
sync_sent_latest(const json_t *sent, const char *field, bool *landed)
{
	json_t *e = latest(sent, field);

	*landed = e != NULL && json_is_true(json_object_get(e, "seen"));
	return e != NULL ? json_object_get(json_object_get(e, "f"), field) : NULL;
}

bool
sync_sent_wrote(const json_t *sent, const char *field, const json_t *v)
{
	json_t *it;
	size_t i;

	json_array_foreach(sent, i, it) {
		json_t *x = json_object_get(json_object_get(it, "f"), field);
		if (x != NULL && sync_value_equal(x, v))
			return true;
	}
	return false;
}

bool
sync_sent_queued(const json_t *sent, const char *field, const json_t *v)
{
	json_t *it;
	size_t i;

	json_array_foreach(sent, i, it) {
		json_t *x = json_object_get(json_object_get(it, "f"), field);
		if (x != NULL && !json_is_true(json_object_get(it, "ok")) && !json_is_true(json_object_get(it, "seen")) &&
		    sync_value_equal(x, v))
			return true;
	}
	return false;
}

/* Entry it is retired: no longer in flight, kept a while as a value of ours (sent.h). shown: our
 * own change event showed its write. */
static void
retire(json_t *it, bool shown)
{
	json_object_set_new(it, "done", json_true());
	json_object_del(it, "seen");
	if (shown)
		json_object_set_new(it, "shown", json_true());
}

/* Retires the entries of sent named wid, whose write our own event showed. */
static void
drop_write(json_t *sent, const json_t *wid)
{
	json_t *it;
	size_t i;

	json_array_foreach(sent, i, it) {
		if (json_equal(json_object_get(it, "w"), wid))
			retire(it, true);
	}
}

void
sync_sent_answer(json_t *sent, size_t n, json_t *wid, int64_t now_ms)
{
	json_t *it;
	size_t i, marked = 0;
	bool seen = false;

	json_array_foreach(sent, i, it) {
		if (marked == n)
			break;
		if (json_is_true(json_object_get(it, "ok")))
			continue;
		json_object_set_new(it, "ok", json_true());
		json_object_set_new(it, "ms", json_integer(now_ms));
		if (wid != NULL)
			json_object_set(it, "w", wid);
		seen |= json_is_true(json_object_get(it, "seen"));
		marked++;
	}
	/* its event came before its answer: nothing is left to await */
	if (seen && wid != NULL)
		drop_write(sent, wid);
}

/* Whether entry s carries a value our event shows. */
static bool
shows(const json_t *shown, const json_t *s)
{
	const char *k;
	json_t *v;

	json_object_foreach(json_object_get(s, "f"), k, v) {
		json_t *x = json_object_get(shown, k);
		if (x != NULL && sync_value_equal(x, v))
			return true;
	}
	return false;
}

/* Whether entry s carries a value our event shows, and no other value for a field it shows: an
 * event of an older write that shares a value with s is not s's own. */
static bool
shows_only(const json_t *shown, const json_t *s)
{
	const char *k;
	json_t *v;
	bool any = false;

	json_object_foreach(json_object_get(s, "f"), k, v) {
		json_t *x = json_object_get(shown, k);
		if (x == NULL)
			continue;
		if (!sync_value_equal(x, v))
			return false;
		any = true;
	}
	return any;
}

/* Entry s is shown by our event: it landed, and its values are what Salesforce held then. */
static void
mark_seen(json_t *s, json_t *landed)
{
	const char *k;
	json_t *v;

	json_object_set_new(s, "seen", json_true());
	if (landed != NULL)
		json_object_foreach(json_object_get(s, "f"), k, v)
			json_object_set(landed, k, v);
}

/* A field a write still in flight after entry at carries, not shown by this event, is that
 * write's to settle: the plan that made it (a Salesforce change weighed against the earlier one)
 * set its base already. It leaves landed (may be NULL). */
static void
leave_later(const json_t *sent, size_t at, json_t *landed)
{
	const char *k;
	json_t *v;

	for (size_t i = at + 1; landed != NULL && i < json_array_size(sent); i++) {
		json_t *s = json_array_get(sent, i);
		if (live(s) && !json_is_true(json_object_get(s, "seen")))
			json_object_foreach(json_object_get(s, "f"), k, v)
				json_object_del(landed, k);
	}
}

bool
sync_sent_retire(json_t *sent, const json_t *shown, json_t *landed, int64_t now_ms)
{
	json_t *hit, *wid = NULL;
	size_t at, i, n = json_array_size(sent);
	bool changed = false, retired;

	/* The entry this event is of: the oldest not yet shown that carries what it shows (an
	 * entry in flight any of it, a retired one all of it). Our writes of a record go one at a
	 * time, so they commit, and their events come, in the entries' order; an older entry of
	 * the same values (Finance, Healthcare, Finance again) has its event come first, and the
	 * entries after it theirs later. Shown too early, those would be forgotten before their
	 * events come, which would pass for Salesforce's edits. */
	for (at = 0; at < n; at++) {
		json_t *s = json_array_get(sent, at);
		if (live(s) ? shows(shown, s) : !json_is_true(json_object_get(s, "shown")) && shows_only(shown, s))
			break;
	}
	retired = at < n && !live(json_array_get(sent, at));
	/* A retired write's own event, come late (the stream behind), shows it now; the retired
	 * writes before it, or before the write in flight this event shows, made theirs earlier
	 * or never will. */
	for (i = 0; i < (retired ? at + 1 : at); i++) {
		json_t *s = json_array_get(sent, i);
		if (!live(s) && !json_is_true(json_object_get(s, "shown"))) {
			/* kept as long again: a write of ours served late may still show one */
			json_object_set_new(s, "shown", json_true());
			json_object_set_new(s, "ms", json_integer(now_ms));
			changed = true;
		}
	}
	if (retired || at == n)
		return changed;    /* or a repeat of a write already seen, or one that changed nothing */
	hit = json_array_get(sent, at);
	if (!json_is_true(json_object_get(hit, "ok"))) {
		/* the write carried every later unanswered entry it shows: all of it, for a field it
		 * shows another value of was planned after that write went out (a change made while
		 * a create's answer was lost, the create's event showing every field as made) */
		mark_seen(hit, landed);
		for (i = at + 1; i < json_array_size(sent); i++) {
			json_t *s = json_array_get(sent, i);
			if (!json_is_true(json_object_get(s, "ok")) && shows_only(shown, s))
				mark_seen(s, landed);
		}
		leave_later(sent, at, landed);
	} else
		wid = json_incref(json_object_get(hit, "w"));
	for (i = 0; i < json_array_size(sent); i++) {
		json_t *s = json_array_get(sent, i);
		if (live(s) && json_is_true(json_object_get(s, "ok")) &&
		    (i <= at || (wid != NULL && json_equal(wid, json_object_get(s, "w")))))
			retire(s, true);
	}
	json_decref(wid);
	return true;
}

bool
sync_sent_seen(const json_t *sent, size_t n, const char *field)
{
	json_t *it;
	size_t i, k = 0;
	bool seen = false;

	json_array_foreach(sent, i, it) {
		if (k == n)
			break;
		if (json_is_true(json_object_get(it, "ok")))
			continue;
		if (json_object_get(json_object_get(it, "f"), field) != NULL)
			seen = json_is_true(json_object_get(it, "seen"));
		k++;
	}
	return seen;
}

bool
sync_sent_later(const json_t *sent, size_t n, const char *field)
{
	json_t *it;
	size_t i, k = 0;

	json_array_foreach(sent, i, it) {
		if (json_is_true(json_object_get(it, "ok")))
			continue;
		if (k++ < n)
			continue;
		if (json_object_get(json_object_get(it, "f"), field) != NULL)
			return true;
	}
	return false;
}

bool
sync_sent_landed(const json_t *sent, size_t n)
{
	json_t *it;
	size_t i, k = 0;

	json_array_foreach(sent, i, it) {
		if (k == n)
			break;
		if (json_is_true(json_object_get(it, "ok")))
			continue;
		if (!json_is_true(json_object_get(it, "seen")))
			return false;
		k++;
	}
	return n > 0 && k == n;
}

bool
sync_sent_prune(json_t *sent, int64_t now_ms, int64_t keep_ms, int64_t done_keep_ms, size_t done_max)
{
	bool changed = false;
	size_t unshown = 0;

	/* newest first: of the entries retired unshown, the newest done_max younger than
	 * done_keep_ms stay; those shown go after keep_ms, as nothing of theirs is to come */
	for (size_t i = json_array_size(sent); i-- > 0;) {
		json_t *s = json_array_get(sent, i);
		int64_t ms = json_integer_value(json_object_get(s, "ms"));
		bool old = ms < now_ms - keep_ms;

		if (!json_is_true(json_object_get(s, "ok")))
			continue;
		if (live(s)) {
			if (!old)
				continue;
			retire(s, false);
			changed = true;
		}
		if (json_is_true(json_object_get(s, "shown")) ? old : (++unshown > done_max || ms < now_ms - done_keep_ms)) {
			json_array_remove(sent, i);
			changed = true;
		}
	}
	return changed;
}

json_t *
sync_sent_unshown_since(const json_t *sent, const char *field, int64_t since_ms)
{
	json_t *it, *last = NULL;
	size_t i;

	json_array_foreach(sent, i, it) {
		if (!live(it) && !json_is_true(json_object_get(it, "shown")) &&
		    json_integer_value(json_object_get(it, "ms")) >= since_ms &&
		    json_object_get(json_object_get(it, "f"), field) != NULL)
			last = it;
	}
	return last != NULL ? json_object_get(json_object_get(last, "f"), field) : NULL;
}

bool
sync_sent_last_shown(const json_t *sent, const char *field)
{
	json_t *last = latest_of(sent, field, false);

	return last == NULL || json_is_true(json_object_get(last, "shown"));
}

bool
sync_sent_withdraw(json_t *sent, const char *field)
{
	json_t *it;
	size_t i;
	bool changed = false;

	json_array_foreach(sent, i, it) {
		if (json_is_true(json_object_get(it, "ok")))
			continue;
		if (json_object_del(json_object_get(it, "f"), field) == 0)
			changed = true;
	}
	return changed;
}

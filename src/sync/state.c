/* state.c - the engine's rows in the store: links, queues, cursors, the dead-letter queue. */
#include "sync/sync_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>

enum clm_kind
sync_kind_of(enum cs_entity en)
{
	switch (en) {
	case CS_ENTITY_COUNTERPARTY: return CLM_COUNTERPARTY;
	case CS_ENTITY_CONTRACT: return CLM_CONTRACT;
	case CS_ENTITY_AMENDMENT: return CLM_AMENDMENT;
	case CS_ENTITY_OBLIGATION: return CLM_OBLIGATION;
	case CS_ENTITY_APPROVAL: return CLM_APPROVAL;
	case CS_ENTITY_SIGNATURE: return CLM_SIGNATURE;
	}
	return CLM_CONTRACT;
}

bool
sync_conflict_key(const struct cs_mapping *m, const char *clm_id, const struct cs_field_map *f, char *out, size_t n)
{
	int k = snprintf(out, n, "%s/%s/%s", m->name, clm_id, f->sf);

	return k > 0 && (size_t)k < n;
}

/* --- grouped commits (sync_int.h) ------------------------------------------------------- */

void
sync_txn_clm(struct worker *w, long long seq)
{
	if (seq > w->unit_clm_seq)
		w->unit_clm_seq = seq;
}

/* The repository changes committed so far are told to the feed. */
static void
tell_feed(struct worker *w)
{
	long long seq = w->grp_clm_seq;

	w->grp_clm_seq = 0;
	clm_notify(w->clm, seq);
}

cs_err
sync_txn_begin(struct worker *w, struct cs_error *e)
{
	cs_err rc;

	w->unit_clm_seq = 0;
	if (!w->grouping) {
		if ((rc = store_begin(w->st, e)) == CS_OK)
			w->unit_open = true;
		return rc;
	}
	if (w->grp_lost)
		return cs_error_set(e, CS_EIO, "an earlier commit of this round failed");
	if (!w->grp_open) {
		if ((rc = store_begin(w->st, e)) != CS_OK)
			return rc;
		w->grp_open = true;
		w->grp_n = 0;
		w->grp_t0 = cs_time_mono_ms();
	}
	if ((rc = store_savepoint(w->st, e)) == CS_OK)
		w->unit_open = true;
	return rc;
}

cs_err
sync_txn_commit(struct worker *w, struct cs_error *e)
{
	int64_t age;
	cs_err rc;

	w->unit_open = false;
	if (!w->grouping) {
		if ((rc = store_commit(w->st, e)) != CS_OK)
			return rc;
		w->grp_clm_seq = w->unit_clm_seq;
		w->unit_clm_seq = 0;
		tell_feed(w);
		return CS_OK;
	}
	if (!w->grp_open)
		return cs_error_set(e, CS_EIO, "an earlier commit of this round failed");
	if ((rc = store_release(w->st, e)) != CS_OK)
		return rc;
	if (w->unit_clm_seq > w->grp_clm_seq)
		w->grp_clm_seq = w->unit_clm_seq;
	w->unit_clm_seq = 0;
	/* the write lock is ours while the group is open: the repository's writer waits */
	age = cs_time_mono_ms() - w->grp_t0;
	if (++w->grp_n >= SYNC_GROUP_MAX || age >= SYNC_GROUP_MS || (age >= SYNC_GROUP_MIN_MS && store_contended(w->st)))
		return sync_txn_flush(w, e);
	return CS_OK;
}

/* --- our own settled repository writes (sync_int.h) ----------------------------------------- */

/* More than this many at once means rows that never came: forgotten, they are planned as any. */
#define SYNC_SETTLED_MAX 65536

static bool
settled_key(const char *entity, const char *id, char *out, size_t n)
{
	int k = snprintf(out, n, "%s/%s", entity, id);

	return k > 0 && (size_t)k < n;
}

void
sync_settled_note(struct worker *w, const struct cs_mapping *m, const char *clm_id, long long version,
                  bool settled)
{
	json_t *into = w->grouping ? w->settled_grp : w->settled, *old;
	char key[STORE_KV_KEY_MAX];
	uint64_t mask = 0;
	size_t i;

	if (into == NULL || !settled_key(cs_entity_name(m->entity), clm_id, key, sizeof(key)))
		return;
	for (i = 0; i < w->nmaps && w->maps[i] != m; i++)
		;
	if (i >= 64)
		settled = false;
	old = json_object_get(into, key);
	if (old == NULL && into == w->settled_grp)
		old = json_object_get(w->settled, key);
	if (old != NULL && json_integer_value(json_array_get(old, 0)) == version)
		mask = (uint64_t)json_integer_value(json_array_get(old, 1));
	if (settled)
		mask |= (uint64_t)1 << i;
	else if (i < 64)
		mask &= ~((uint64_t)1 << i);
	if (json_object_size(into) >= SYNC_SETTLED_MAX)
		json_object_clear(into);
	/* a failed set only costs the row its plan */
	json_object_set_new(into, key, json_pack("[I, I]", (json_int_t)version, (json_int_t)mask));
}

uint64_t
sync_settled_take(struct worker *w, const char *entity, const char *id, long long version, const char *origin)
{
	char key[STORE_KV_KEY_MAX];
	json_t *ent;
	long long v;
	uint64_t mask;

	if (w->settled == NULL || json_object_size(w->settled) == 0 || !settled_key(entity, id, key, sizeof(key)) ||
	    (ent = json_object_get(w->settled, key)) == NULL)
		return 0;
	v = json_integer_value(json_array_get(ent, 0));
	mask = (uint64_t)json_integer_value(json_array_get(ent, 1));
	if (v > version)
		return 0;            /* a later write of ours, its row still to come */
	json_object_del(w->settled, key);
	return v == version && strcmp(origin, w->actor) == 0 ? mask : 0;
}

/* The group is gone with everything released into it: planned again from what is stored. */
static void
group_lost(struct worker *w)
{
	json_object_clear(w->settled_grp);
	w->grp_open = false;
	w->grp_lost = true;
	w->grp_seq = w->clm_cursor;
	w->grp_clm_seq = w->unit_clm_seq = 0;
}

void
sync_txn_rollback(struct worker *w)
{
	struct cs_error e = { 0 };

	w->unit_clm_seq = 0;
	w->unit_open = false;
	if (!w->grouping) {
		store_rollback(w->st);
		return;
	}
	if (!w->grp_open)
		return;
	/* a failed rollback_to has rolled back the whole transaction: the group is gone */
	if (!store_in_transaction(w->st) || store_rollback_to(w->st, &e) != CS_OK || !store_in_transaction(w->st)) {
		log_warn("sync.plan", "org %s: a group of plans was rolled back%s%s", w->org->name, e.msg[0] ? ": " : "",
		         e.msg);
		store_rollback(w->st);
		group_lost(w);
	}
}

cs_err
sync_txn_flush(struct worker *w, struct cs_error *e)
{
	if (!w->grouping)
		return CS_OK;
	if (w->unit_open) {
		/* a bug: it would commit half a plan */
		log_error("sync.plan", "org %s: a group flushed inside a plan's unit", w->org->name);
		return cs_error_set(e, CS_ESTATE, "a group flushed inside a plan's unit");
	}
	if (w->grp_lost)
		return cs_error_set(e, CS_EIO, "an earlier commit of this round failed");
	/* the feed rows planned into the group: their cursor commits with their plans, once per
	 * group rather than once per row (a row with nothing to plan opens the transaction) */
	if (w->grp_seq != w->clm_cursor) {
		char key[STORE_KV_KEY_MAX];

		sync_feed_key(w->org->name, key);
		if (!w->grp_open && store_begin(w->st, e) == CS_OK)
			w->grp_open = true;
		if (!w->grp_open || sync_cursor_put(w->st, key, "seq", w->grp_seq, e) != CS_OK) {
			if (w->grp_open)
				store_rollback(w->st);
			group_lost(w);
			return CS_EIO;
		}
	}
	if (w->grp_open) {
		w->grp_open = false;
		if (store_commit(w->st, e) != CS_OK) {
			store_rollback(w->st);
			group_lost(w);
			return CS_EIO;
		}
	}
	/* every plan released into the group so far is committed now */
	if (json_object_size(w->settled_grp) > 0) {
		json_object_update(w->settled, w->settled_grp);
		json_object_clear(w->settled_grp);
	}
	w->clm_cursor = w->grp_seq;
	tell_feed(w);
	return CS_OK;
}

void
sync_txn_group(struct worker *w)
{
	w->grouping = true;
	w->grp_lost = false;
	w->grp_seq = w->clm_cursor;
	w->grp_clm_seq = w->unit_clm_seq = 0;
}

cs_err
sync_txn_end(struct worker *w, struct cs_error *e)
{
	cs_err rc = sync_txn_flush(w, e);

	if (w->grp_open)
		store_rollback(w->st);
	w->grp_open = w->grp_lost = w->grouping = false;
	w->grp_seq = w->clm_cursor;
	return rc;
}

static void
ns_of(char ns[STORE_KV_NS_MAX], const char *prefix, const char *name)
{
	snprintf(ns, STORE_KV_NS_MAX, "%s:%s", prefix, name);
}

json_t *
sync_link_new(const char *sf_id)
{
	return json_pack("{s:s, s:{}, s:[]}", "sf", sf_id ? sf_id : "", "base", "sent");
}

cs_err
sync_link_get(struct store *s, const struct cs_mapping *m, const char *clm_id, json_t **doc, struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX];

	ns_of(ns, "link", m->name);
	return store_kv_get(s, ns, clm_id, doc, e);
}

cs_err
sync_link_by_sf(struct store *s, const struct cs_mapping *m, const char *sf_id, char clm_id[CLM_ID_MAX],
                struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX];
	json_t *d = NULL;
	const char *v;
	cs_err rc;

	ns_of(ns, "linkr", m->name);
	if ((rc = store_kv_get(s, ns, sf_id, &d, e)) != CS_OK)
		return rc;
	v = json_string_value(json_object_get(d, "clm"));
	if (v == NULL || strlen(v) >= CLM_ID_MAX) {
		json_decref(d);
		return cs_error_set(e, CS_EIO, "link of %s %s is damaged", m->name, sf_id);
	}
	snprintf(clm_id, CLM_ID_MAX, "%s", v);
	json_decref(d);
	return CS_OK;
}

cs_err
sync_link_put(struct store *s, const struct cs_mapping *m, const char *clm_id, json_t *doc, struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX];
	const char *sf = json_string_value(json_object_get(doc, "sf"));
	cs_err rc;

	ns_of(ns, "link", m->name);
	if ((rc = store_kv_put(s, ns, clm_id, doc, e)) != CS_OK)
		return rc;
	if (sf != NULL && sf[0] != '\0') {
		json_t *r = json_pack("{s:s}", "clm", clm_id);
		if (r == NULL)
			return cs_error_set(e, CS_ENOMEM, "out of memory");
		ns_of(ns, "linkr", m->name);
		rc = store_kv_put(s, ns, sf, r, e);
		json_decref(r);
	}
	return rc;
}

cs_err
sync_link_del(struct store *s, const struct cs_mapping *m, const char *clm_id, struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX];
	json_t *d = NULL;
	const char *sf;
	cs_err rc;

	if ((rc = sync_link_get(s, m, clm_id, &d, e)) != CS_OK)
		return rc == CS_ENOTFOUND ? CS_OK : rc;
	sf = json_string_value(json_object_get(d, "sf"));
	if (sf != NULL && sf[0] != '\0') {
		ns_of(ns, "linkr", m->name);
		if ((rc = store_kv_del(s, ns, sf, NULL, e)) != CS_OK)
			goto out;
	}
	ns_of(ns, "link", m->name);
	if ((rc = store_kv_del(s, ns, clm_id, NULL, e)) != CS_OK)
		goto out;
	/* a conflict parked on a field of the pair has nothing left to settle: the pair is gone */
	for (size_t i = 0; i < m->nfields && rc == CS_OK; i++) {
		char key[STORE_KV_KEY_MAX];
		if (sync_conflict_key(m, clm_id, &m->fields[i], key, sizeof(key)) &&
		    (rc = store_kv_del(s, "conflict", key, NULL, e)) == CS_ENOTFOUND)
			rc = CS_OK;
	}
out:
	json_decref(d);
	return rc;
}

cs_err
sync_queue_push(struct store *s, const char *ns, const json_t *doc, struct cs_error *e)
{
	char key[24];
	long long n;
	cs_err rc;

	if ((rc = store_counter_next(s, ns, &n, e)) != CS_OK)
		return rc;
	snprintf(key, sizeof(key), "%020lld", n);
	return store_kv_put(s, ns, key, doc, e);
}

cs_err
sync_marks_prune(struct store *s, const char *ns, const char *after, int limit, int64_t before_ms,
                 char next[STORE_KV_KEY_MAX], long long *pruned, struct cs_error *e)
{
	json_t *rows = NULL, *it;
	size_t i;
	long long n = 0;
	cs_err rc;

	next[0] = '\0';
	if ((rc = store_kv_scan(s, ns, after, limit, &rows, e)) != CS_OK)
		return rc;
	json_array_foreach(rows, i, it) {
		const char *key = json_string_value(json_object_get(it, "key"));
		json_t *ms = json_object_get(json_object_get(it, "doc"), "ms");

		/* a mark without a time is kept: it cannot be dated */
		if (key == NULL || !json_is_integer(ms) || json_integer_value(ms) >= before_ms)
			continue;
		/* the write lock only when there is something to remove */
		if (n == 0 && (rc = store_begin(s, e)) != CS_OK)
			break;
		if ((rc = store_kv_del(s, ns, key, NULL, e)) != CS_OK) {
			store_rollback(s);
			break;
		}
		n++;
	}
	if (rc == CS_OK && n > 0 && (rc = store_commit(s, e)) != CS_OK)
		store_rollback(s);
	if (rc == CS_OK) {
		if (pruned != NULL)
			*pruned += n;
		if (json_array_size(rows) == (size_t)limit)
			snprintf(next, STORE_KV_KEY_MAX, "%s",
			         json_string_value(json_object_get(json_array_get(rows, (size_t)limit - 1), "key")));
	}
	json_decref(rows);
	return rc;
}

cs_err
sync_cursor_get(struct store *s, const char *key, const char *field, long long *v, struct cs_error *e)
{
	json_t *d = NULL;
	cs_err rc = store_kv_get(s, "cursor", key, &d, e);

	if (rc == CS_ENOTFOUND)
		return CS_ENOTFOUND;
	if (rc != CS_OK)
		return rc;
	if (!json_is_integer(json_object_get(d, field))) {
		json_decref(d);
		return cs_error_set(e, CS_EIO, "cursor %s is damaged", key);
	}
	*v = json_integer_value(json_object_get(d, field));
	json_decref(d);
	return CS_OK;
}

void
sync_feed_key(const char *org, char key[STORE_KV_KEY_MAX])
{
	snprintf(key, STORE_KV_KEY_MAX, "clm:%s", org);
}

cs_err
sync_cursor_put(struct store *s, const char *key, const char *field, long long v, struct cs_error *e)
{
	/* "ms": when it moved, so that status can tell how old the position is */
	json_t *d = json_pack("{sI, sI}", field, (json_int_t)v, "ms", (json_int_t)cs_time_now_ms());
	cs_err rc;

	if (d == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	rc = store_kv_put(s, "cursor", key, d, e);
	json_decref(d);
	return rc;
}

cs_err
sync_dlq_put(struct store *s, const struct worker *w, const char *mapping, const char *clm_id, const char *sf_id,
             const char *direction, const char *queue, const json_t *item, const char *code, const char *message,
             struct cs_error *e)
{
	char ts[32];
	json_t *d;
	cs_err rc;

	cs_time_format_iso(cs_time_now_ms(), ts, sizeof(ts));
	d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:{s:s, s:s}, s:s}",
	    "org", w->org->name, "mapping", mapping ? mapping : "", "clm", clm_id ? clm_id : "",
	    "sf", sf_id ? sf_id : "", "direction", direction, "queue", queue, "item", item,
	    "error", "code", code ? code : "", "message", message ? message : "", "ts", ts);
	if (d == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	rc = sync_queue_push(s, "dlq", d, e);
	json_decref(d);
	if (rc == CS_OK)
		rc = sync_dlq_count_add(s, mapping, 1, e);
	return rc;
}

const char *
sync_dlq_count_key(const char *mapping)
{
	size_t n = mapping != NULL ? strlen(mapping) : 0;

	/* a mapping's name as the configuration allows it, [a-z][a-z0-9_-]*: never one of the
	 * counters' own keys, which start with '#' */
	if (n == 0 || n >= CS_CONFIG_NAME_MAX || mapping[0] < 'a' || mapping[0] > 'z' ||
	    strspn(mapping, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
		return SYNC_DLQ_COUNT_OTHER;
	return mapping;
}

cs_err
sync_dlq_count_add(struct store *s, const char *mapping, long long delta, struct cs_error *e)
{
	const char *key = sync_dlq_count_key(mapping);
	json_t *d = NULL;
	long long n = 0;
	cs_err rc;

	rc = store_kv_get(s, SYNC_DLQ_COUNT_NS, key, &d, e);
	if (rc == CS_OK)
		n = json_is_integer(d) ? (long long)json_integer_value(d) : 0;
	else if (rc != CS_ENOTFOUND)
		return rc;
	json_decref(d);
	n += delta;
	if (n <= 0)
		return store_kv_del(s, SYNC_DLQ_COUNT_NS, key, NULL, e);
	if ((d = json_integer(n)) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	rc = store_kv_put(s, SYNC_DLQ_COUNT_NS, key, d, e);
	json_decref(d);
	return rc;
}

/* apply.c - the applier: the outbox sent to Salesforce in sObject Collections, coalesced per record, with retries and the dead-letter queue. */
#include "sync/audit.h"
#include "sync/sent.h"
#include "sync/sync_int.h"
#include "sync/value.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One record to write: the outbox entries of one (mapping, repository id), merged in order. */
struct group {
	const struct cs_mapping *m;
	char clm_id[CLM_ID_MAX];
	char sf_id[SF_ID_LEN + 1];
	json_t *keys;          /* outbox keys it consumes */
	json_t *fields;        /* sfField -> canonical, later entries win */
	json_t *link;
	bool del;
	bool created;          /* an upsert that made the record */
	int attempts;
	int64_t born_ms;
	json_t *rec;           /* the JSON record sent */
	bool ready;            /* sent in this round */
};

static const struct cs_field_map *
field_of(const struct cs_mapping *m, const char *sf)
{
	for (size_t i = 0; i < m->nfields; i++)
		if (strcasecmp(m->fields[i].sf, sf) == 0)
			return &m->fields[i];
	return NULL;
}

static void
group_cleanup(struct group *g)
{
	json_decref(g->keys);
	json_decref(g->fields);
	json_decref(g->link);
	json_decref(g->rec);
}

static uint64_t
rnd_next(struct worker *w)
{
	w->rnd ^= w->rnd << 13;
	w->rnd ^= w->rnd >> 7;
	w->rnd ^= w->rnd << 17;
	return w->rnd;
}

/* Builds the record to send; false when a lookup target is not linked yet (*wait) or a value
 * cannot be sent (*why). */
static bool
build_record(struct worker *w, struct group *g, bool *wait, char *why, size_t whyn)
{
	struct cs_error e = { 0 };
	const char *k;
	json_t *v;

	*wait = false;
	g->rec = json_pack("{s:{s:s}}", "attributes", "type", g->m->sobject);
	if (g->rec == NULL)
		return false;
	if (g->sf_id[0] != '\0')
		json_object_set_new(g->rec, "Id", json_string(g->sf_id));
	if (g->m->external_id_field[0] != '\0')
		json_object_set_new(g->rec, g->m->external_id_field, json_string(g->clm_id));
	json_object_foreach(g->fields, k, v) {
		const struct cs_field_map *f = field_of(g->m, k);
		json_t *out;

		if (f == NULL) {
			if (strcasecmp(k, g->m->external_id_field) != 0)
				json_object_set(g->rec, k, v);
			continue;
		}
		if (f->lookup_to != NULL && f->kind != CS_VALUE_SFID && json_is_string(v)) {
			json_t *ln = NULL;
			const char *sid;
			if (sync_link_get(w->st, f->lookup_to, json_string_value(v), &ln, &e) != CS_OK ||
			    (sid = json_string_value(json_object_get(ln, "sf"))) == NULL || sid[0] == '\0') {
				json_decref(ln);
				*wait = true;
				snprintf(why, whyn, "%s %s is not linked in %s yet", cs_entity_name(f->lookup_to->entity),
				         json_string_value(v), f->lookup_to->name);
				return false;
			}
			json_object_set_new(g->rec, k, json_string(sid));
			json_decref(ln);
			continue;
		}
		if ((out = sync_value_to_sf(f, v)) == NULL)
			return false;
		json_object_set_new(g->rec, k, out);
	}
	return true;
}

/* Asks for the lookup targets of g to be planned (brought along) when they are not queued.
 * Returns true when every target g waits for has writes queued in the outbox (all, n): it is on
 * its way, however long its own retries take. */
static bool
bring_along(struct worker *w, struct group *g, struct group *all, size_t n)
{
	const char *k;
	json_t *v;
	bool all_queued = true;

	json_object_foreach(g->fields, k, v) {
		const struct cs_field_map *f = field_of(g->m, k);
		bool queued = false;
		struct cs_error e = { 0 };
		json_t *ln = NULL, *doc;

		if (f == NULL || f->lookup_to == NULL || f->kind == CS_VALUE_SFID || !json_is_string(v))
			continue;
		for (size_t i = 0; i < n; i++)
			queued |= all[i].m == f->lookup_to && strcmp(all[i].clm_id, json_string_value(v)) == 0;
		if (queued)
			continue;
		if (sync_link_get(w->st, f->lookup_to, json_string_value(v), &ln, &e) == CS_OK) {
			/* linked, or its create in flight */
			json_decref(ln);
			continue;
		}
		all_queued = false;
		/* a synthetic feed row for the target goes through the planner like any other */
		doc = json_pack("{s:s, s:s, s:s}", "t", "plan", "mapping", f->lookup_to->name, "clm", json_string_value(v));
		if (doc != NULL && store_begin(w->st, &e) == CS_OK && sync_queue_push(w->st, w->ns_inbox, doc, &e) == CS_OK &&
		    store_commit(w->st, &e) == CS_OK)
			log_info("sync.lookup", "org %s: %s %s brings %s %s along", w->org->name, g->m->name, g->clm_id,
			         f->lookup_to->name, json_string_value(v));
		else
			store_rollback(w->st);
		json_decref(doc);
	}
	return all_queued;
}

/* The first n unanswered entries of sent were never sent and will not be: they go. */
static void
forget_unanswered(json_t *sent, size_t n)
{
	size_t removed = 0;

	for (size_t i = 0; i < json_array_size(sent) && removed < n;) {
		if (!json_is_true(json_object_get(json_array_get(sent, i), "ok"))) {
			json_array_remove(sent, i);
			removed++;
		} else
			i++;
	}
}

/* In the open transaction, before g's link is written back: a link a backfill had not finished
 * when g read it (outside a transaction, before its call to Salesforce) is read again. The
 * backfill is another process and may have finished it meanwhile (backfill.c finish_links);
 * what this write records then goes onto the finished link instead of writing the pending one
 * back over it. */
static cs_err
fresh_link(struct worker *w, struct group *g, struct cs_error *e)
{
	json_t *now = NULL;
	cs_err rc;

	if (g->link == NULL || json_object_get(g->link, "backfill") == NULL)
		return CS_OK;
	if ((rc = sync_link_get(w->st, g->m, g->clm_id, &now, e)) != CS_OK)
		return rc == CS_ENOTFOUND ? CS_OK : rc;
	json_decref(g->link);
	g->link = now;
	return CS_OK;
}

/* Records the outcome of g in the open transaction. ok: the write landed (sf_id set). */
static cs_err
record_result(struct worker *w, struct group *g, bool ok, bool permanent, const struct sf_error *err,
              int64_t retry_ms, struct cs_error *e)
{
	json_t *sent, *k;
	size_t i, nkeys = json_array_size(g->keys);
	cs_err rc;

	if ((rc = fresh_link(w, g, e)) != CS_OK)
		return rc;
	sent = json_object_get(g->link, "sent");

	if (ok || permanent) {
		json_array_foreach(g->keys, i, k) {
			if ((rc = store_kv_del(w->st, w->ns_outbox, json_string_value(k), NULL, e)) != CS_OK)
				return rc;
		}
	}
	if (g->del) {
		if (ok)
			return sync_link_del(w->st, g->m, g->clm_id, e);
	}
	if (ok && g->link != NULL) {
		const char *f;
		json_t *v, *base = json_object_get(g->link, "base");

		if (g->sf_id[0] != '\0')
			json_object_set_new(g->link, "sf", json_string(g->sf_id));
		/* a write our own change event showed already gave the base its values then
		 * (sync_sent_retire); a Salesforce change planned since must not be set back, nor
		 * one weighed against this write that made a later write of the field (its plan set
		 * the base, and that write's answer settles it) */
		json_object_foreach(g->fields, f, v) {
			if (field_of(g->m, f) != NULL && !sync_sent_seen(sent, nkeys, f) && !sync_sent_later(sent, nkeys, f))
				json_object_set(base, f, v);
		}
		/* The first unanswered sent entries are these; Salesforce committed them as one
		 * write, which makes one change event, and that event retires them all (sent.h).
		 * Answered one by one, all but one would have waited for an event that never comes,
		 * and a Salesforce edit of their fields made later would have passed for one our
		 * write had already overwritten: a repository-owned field was not reverted. */
		sync_sent_answer(sent, nkeys, json_array_get(g->keys, 0), cs_time_now_ms());
	} else if (permanent && g->link != NULL)
		forget_unanswered(sent, nkeys);
	if (permanent) {
		json_t *item = json_pack("{s:s, s:s, s:s, s:O, s:i, s:I, s:I, s:s}", "mapping", g->m->name, "clm", g->clm_id,
		    "op", g->del ? "delete" : "write", "fields", g->fields, "attempts", 0, "due_ms", (json_int_t)0,
		    "born_ms", (json_int_t)cs_time_now_ms(), "event", "replay");
		struct sync_audit_row r = { .org = w->org->name, .mapping = g->m->name, .entity = cs_entity_name(g->m->entity),
			.clm_id = g->clm_id, .sf_id = g->sf_id[0] ? g->sf_id : NULL, .side = "salesforce", .decision = "dlq",
			.event = "outbox", .detail = err->message };
		if (g->del && item != NULL)
			json_object_set_new(item, "sf", json_string(g->sf_id));
		rc = item ? sync_dlq_put(w->st, w, g->m->name, g->clm_id, g->sf_id, "salesforce", w->ns_outbox, item,
		                         err->code[0] ? err->code : cs_strerror(err->err), err->message, e) : CS_ENOMEM;
		json_decref(item);
		if (rc != CS_OK || (rc = sync_audit_append(w->st, &r, NULL, e)) != CS_OK)
			return rc;
		atomic_fetch_add(&w->n_dlq, 1);
		sync_count(w, g->m, SYNC_MC_DLQ);
		log_warn("sync.dlq", "org %s: %s %s -> dead-letter queue: %s %s", w->org->name, g->m->name, g->clm_id,
		         err->code, err->message);
	}
	if (!ok && !permanent) {
		/* back off: every entry of the record waits, in order */
		json_array_foreach(g->keys, i, k) {
			json_t *d = NULL;
			if (store_kv_get(w->st, w->ns_outbox, json_string_value(k), &d, e) != CS_OK)
				continue;
			json_object_set_new(d, "attempts", json_integer(g->attempts));
			json_object_set_new(d, "due_ms", json_integer(cs_time_mono_ms() + retry_ms));
			rc = store_kv_put(w->st, w->ns_outbox, json_string_value(k), d, e);
			json_decref(d);
			if (rc != CS_OK)
				return rc;
		}
	}
	if (g->link != NULL && !g->del)
		return sync_link_put(w->st, g->m, g->clm_id, g->link, e);
	return CS_OK;
}

/* Records a failure of g that no call made (a missing link or lookup) in a transaction of its
 * own: to the dead-letter queue with code and msg when permanent, else to wait retry_ms. */
static void
settle(struct worker *w, struct group *g, bool permanent, const char *code, const char *msg, int64_t retry_ms)
{
	struct cs_error e = { 0 };
	struct sf_error se;

	sf_error_clear(&se);
	snprintf(se.code, sizeof(se.code), "%s", code);
	snprintf(se.message, sizeof(se.message), "%s", msg);
	if (store_begin(w->st, &e) == CS_OK && record_result(w, g, false, permanent, &se, retry_ms, &e) == CS_OK &&
	    store_commit(w->st, &e) == CS_OK)
		return;
	store_rollback(w->st);
	log_warn("sync.apply", "org %s: %s %s: cannot record a wait or a failure: %s", w->org->name, g->m->name,
	         g->clm_id, e.msg);
}

/* Takes out of g's write the fields a manual conflict holds, before the record is built: a write
 * planned before Salesforce's own change of the field was seen would overwrite the value the
 * conflict keeps for a person to choose, and its answer would make that value the field's base
 * (the planner withdrew it from the link's writes in flight). Only fields that can hold a manual
 * conflict are looked up. Returns false on a store error. */
static bool
withhold(struct worker *w, struct group *g, struct cs_error *e)
{
	for (size_t i = 0; i < g->m->nfields; i++) {
		const struct cs_field_map *f = &g->m->fields[i];
		char key[STORE_KV_KEY_MAX];
		json_t *d = NULL;
		cs_err rc;

		if (f->owner != CS_OWNER_BOTH || f->conflict != CS_CONFLICT_MANUAL || json_object_get(g->fields, f->sf) == NULL ||
		    !sync_conflict_key(g->m, g->clm_id, f, key, sizeof(key)))
			continue;
		rc = store_kv_get(w->st, "conflict", key, &d, e);
		json_decref(d);
		if (rc == CS_OK) {
			log_info("sync.apply", "org %s: %s %s: %s left out of the write: a conflict holds it", w->org->name,
			         g->m->name, g->clm_id, f->sf);
			json_object_del(g->fields, f->sf);
		} else if (rc != CS_ENOTFOUND)
			return false;
	}
	return true;
}

/* Drops the writes of g, whose link is gone: the record was deleted on either side or routed
 * out of g->m after they were planned. Sending them would upsert by external id and so make
 * again, unlinked, a record the engine has let go. An audit row says so. */
static void
drop(struct worker *w, struct group *g)
{
	struct cs_error e = { 0 };
	struct sync_audit_row r = { .org = w->org->name, .mapping = g->m->name, .entity = cs_entity_name(g->m->entity),
		.clm_id = g->clm_id, .side = "salesforce", .decision = "dropped", .event = "outbox",
		.detail = "the record is no longer linked (deleted or routed out) since this write was planned" };
	size_t i;
	json_t *k;

	if (store_begin(w->st, &e) != CS_OK)
		goto fail;
	json_array_foreach(g->keys, i, k) {
		if (store_kv_del(w->st, w->ns_outbox, json_string_value(k), NULL, &e) != CS_OK)
			goto fail;
	}
	if (sync_audit_append(w->st, &r, NULL, &e) != CS_OK || store_commit(w->st, &e) != CS_OK)
		goto fail;
	log_info("sync.apply", "org %s: %s %s: %zu queued write(s) dropped: the record is no longer linked", w->org->name,
	         g->m->name, g->clm_id, json_array_size(g->keys));
	return;
fail:
	store_rollback(w->st);
	log_warn("sync.apply", "org %s: %s %s: cannot drop writes for a record no longer linked: %s", w->org->name,
	         g->m->name, g->clm_id, e.msg);
}

/* Every field of g's write is held by a conflict (withhold): nothing is sent; its queued writes
 * and their entries in flight go, with an audit row. */
static void
held(struct worker *w, struct group *g)
{
	struct cs_error e = { 0 };
	struct sync_audit_row r = { .org = w->org->name, .mapping = g->m->name, .entity = cs_entity_name(g->m->entity),
		.clm_id = g->clm_id, .sf_id = g->sf_id[0] ? g->sf_id : NULL, .side = "salesforce", .decision = "held",
		.event = "outbox", .detail = "an open conflict holds every field of this write: it is not made" };
	size_t i;
	json_t *k;

	if (store_begin(w->st, &e) != CS_OK || fresh_link(w, g, &e) != CS_OK)
		goto fail;
	json_array_foreach(g->keys, i, k) {
		if (store_kv_del(w->st, w->ns_outbox, json_string_value(k), NULL, &e) != CS_OK)
			goto fail;
	}
	forget_unanswered(json_object_get(g->link, "sent"), json_array_size(g->keys));
	if (sync_link_put(w->st, g->m, g->clm_id, g->link, &e) != CS_OK || sync_audit_append(w->st, &r, NULL, &e) != CS_OK ||
	    store_commit(w->st, &e) != CS_OK)
		goto fail;
	return;
fail:
	store_rollback(w->st);
	log_warn("sync.apply", "org %s: %s %s: cannot drop a write a conflict holds: %s", w->org->name, g->m->name,
	         g->clm_id, e.msg);
}

/* g's write landed before (its answer was lost) and our own change event has shown it since
 * (sync_sent_landed): it is recorded as answered, not made again. Repeated, it would write its
 * values over whatever Salesforce's users changed after it landed, and their change would be
 * lost on both sides. An audit row says so. */
static void
landed(struct worker *w, struct group *g)
{
	struct cs_error e = { 0 };
	struct sf_error se;
	struct sync_audit_row r = { .org = w->org->name, .mapping = g->m->name, .entity = cs_entity_name(g->m->entity),
		.clm_id = g->clm_id, .sf_id = g->sf_id, .side = "salesforce", .decision = "landed", .event = "outbox",
		.detail = "its answer was lost; our own change event shows it landed: it is not made again" };

	sf_error_clear(&se);
	if (store_begin(w->st, &e) != CS_OK || record_result(w, g, true, false, &se, 0, &e) != CS_OK ||
	    sync_audit_append(w->st, &r, NULL, &e) != CS_OK || store_commit(w->st, &e) != CS_OK) {
		store_rollback(w->st);
		log_warn("sync.apply", "org %s: %s %s: cannot settle a write that landed: %s", w->org->name, g->m->name,
		         g->clm_id, e.msg);
		return;
	}
	atomic_fetch_add(&w->n_sf_records, 1);
	sync_count(w, g->m, SYNC_MC_TO_SF);
	log_info("sync.apply", "org %s: %s %s -> %s: landed before its answer was lost; not made again", w->org->name,
	         g->m->name, g->clm_id, g->sf_id);
}

/* Some of g's writes landed before (their answer was lost) and our own change event has shown
 * them since, but not all (landed() is for that): a field whose latest write in g is one of those
 * leaves the record sent. Salesforce holds its value as of that event, or what its users changed
 * it to since, which sending it again would overwrite (the create's fields, going out again with
 * a later change of the record). Returns whether any field left; with none left, every write
 * of g had landed. */
static bool
leave_landed(struct group *g)
{
	json_t *sent = json_object_get(g->link, "sent");
	size_t n = json_array_size(g->keys);
	const char *k;
	json_t *v;
	void *tmp;
	bool left = false;

	json_object_foreach_safe(g->fields, tmp, k, v) {
		if (field_of(g->m, k) != NULL && sync_sent_seen(sent, n, k)) {
			json_object_del(g->fields, k);
			left = true;
		}
	}
	return left;
}

static int64_t
backoff(struct worker *w, int attempts)
{
	int64_t cap = w->cfg->sync.retry.initial_ms;

	for (int i = 1; i < attempts && cap < (int64_t)w->cfg->sync.retry.max_ms; i++)
		cap *= 2;
	if (cap > (int64_t)w->cfg->sync.retry.max_ms)
		cap = w->cfg->sync.retry.max_ms;
	if (cap < 1)
		cap = 1;
	return (int64_t)(rnd_next(w) % (uint64_t)cap) + 1;
}

/* Sends groups[0..n) of one mapping and one kind of call; records every result. */
static cs_err
send_batch(struct worker *w, struct group **gs, size_t n, int kind)
{
	struct sf_result *res = calloc(n ? n : 1, sizeof(*res));
	json_t *recs = json_array();
	const char **ids = calloc(n ? n : 1, sizeof(*ids));
	struct sf_error se;
	struct cs_error e = { 0 };
	const struct cs_mapping *m = gs[0]->m;
	cs_err rc, crc;

	if (res == NULL || recs == NULL || ids == NULL) {
		free(res);
		free(ids);
		json_decref(recs);
		return CS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_array_append(recs, gs[i]->rec);
		ids[i] = gs[i]->sf_id;
	}
	sf_error_clear(&se);
	if (kind == 0)
		crc = sf_coll_upsert(w->sc, m->sobject, m->external_id_field, recs, false, res, &se);
	else if (kind == 1)
		crc = sf_coll_update(w->sc, recs, false, res, &se);
	else
		crc = sf_coll_delete(w->sc, ids, n, false, res, &se);
	atomic_fetch_add(&w->n_sf_calls, (n + SF_MAX_BATCH - 1) / SF_MAX_BATCH);
	if ((rc = store_begin(w->st, &e)) != CS_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct group *g = gs[i];
		const struct sf_error *er = &res[i].error;
		bool ok = res[i].success, permanent = false;
		int64_t wait = 0;

		if (!ok && kind == 2 && strcmp(er->code, "ENTITY_IS_DELETED") == 0)
			ok = true;      /* already gone: the delete is done */
		if (ok) {
			if (res[i].id[0] != '\0')
				snprintf(g->sf_id, sizeof(g->sf_id), "%s", res[i].id);
			atomic_fetch_add(&w->n_sf_records, 1);
			sync_count(w, g->m, SYNC_MC_TO_SF);
			sync_observe(w, SYNC_TO_SF, cs_time_now_ms() - g->born_ms);
		} else if (crc == CS_ELIMIT || (er->transient && strcmp(er->code, "REQUEST_LIMIT_EXCEEDED") == 0)) {
			wait = 30000 + backoff(w, 4);   /* back-pressure, not a failure: no attempt counted */
		} else if (er->transient || crc != CS_OK ||
		           (kind == 2 && strcmp(er->code, "DELETE_FAILED") == 0)) {
			/* a delete refused because other records still refer to this one (their own
			 * deletes, such as the records that follow a contract out of the org, queued
			 * after it) is tried again, as long as attempts remain */
			g->attempts++;
			atomic_fetch_add(&w->n_retries, 1);
			if ((unsigned)g->attempts >= w->cfg->sync.retry.max_attempts)
				permanent = true;
			wait = backoff(w, g->attempts);
		} else
			permanent = true;
		if ((rc = record_result(w, g, ok, permanent, er, wait, &e)) != CS_OK) {
			store_rollback(w->st);
			goto out;
		}
	}
	rc = store_commit(w->st, &e);
	if (rc != CS_OK)
		store_rollback(w->st);
out:
	if (rc != CS_OK)
		log_warn("sync.apply", "org %s: cannot record the results of a write to %s: %s", w->org->name, m->sobject, e.msg);
	if (crc != CS_OK && crc != CS_ELIMIT)
		log_warn("sync.apply", "org %s: write to %s failed: %s (will retry)", w->org->name, m->sobject,
		         se.message[0] ? se.message : cs_strerror(crc));
	json_decref(recs);
	free(res);
	free(ids);
	return crc != CS_OK ? crc : rc;
}

/* Whether gs[i]'s mapping is that of a group before it. */
static bool
seen_mapping(const struct group *gs, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (gs[j].m == gs[i].m)
			return true;
	return false;
}

/* Whether a part-filled batch of nb records, the oldest born at first (wall clock), waits for
 * company (see sync_apply); if so *next_due_ms is lowered to when it stops waiting. */
static bool
holds(struct worker *w, size_t nb, int64_t first, int64_t wall, int64_t now, bool backlog, int64_t *next_due_ms)
{
	unsigned batch_max = w->cfg->sync.batch_max ? w->cfg->sync.batch_max : SF_MAX_BATCH;
	int64_t age = wall - first, until;

	if (nb >= batch_max || first == INT64_MAX || age >= SYNC_HOLD_MS ||
	    !(age < (int64_t)w->cfg->sync.linger_ms || backlog || (int64_t)nb * SYNC_HOLD_MS >= (int64_t)batch_max * age))
		return false;
	/* when the pace alone would no longer hold it, if nothing else comes */
	until = (int64_t)nb * SYNC_HOLD_MS / batch_max;
	if (backlog || until > SYNC_HOLD_MS)
		until = SYNC_HOLD_MS;
	if (until < (int64_t)w->cfg->sync.linger_ms)
		until = (int64_t)w->cfg->sync.linger_ms;
	if (now + (until - age) < *next_due_ms)
		*next_due_ms = now + (until - age);
	return true;
}

int
sync_apply(struct worker *w, int64_t *next_due_ms, bool backlog)
{
	struct cs_error e = { 0 };
	json_t *items = NULL, *it;
	struct group *gs = NULL;
	size_t n = 0, i, cap;
	int64_t now = cs_time_mono_ms(), wall = cs_time_now_ms(), oldest = INT64_MAX;
	int written = 0;
	unsigned batch_max = w->cfg->sync.batch_max ? w->cfg->sync.batch_max : SF_MAX_BATCH;
	bool any_fail = false;

	*next_due_ms = INT64_MAX;
	if (store_kv_scan(w->st, w->ns_outbox, NULL, SYNC_OUTBOX_SCAN, &items, &e) != CS_OK) {
		log_warn("sync.apply", "org %s: cannot read the outbox: %s", w->org->name, e.msg);
		return -1;
	}
	cap = json_array_size(items);
	if (cap == 0) {
		json_decref(items);
		return 0;
	}
	if ((gs = calloc(cap, sizeof(*gs))) == NULL) {
		json_decref(items);
		return -1;
	}
	/* group per record, in outbox order; a record with an entry not yet due waits whole */
	json_array_foreach(items, i, it) {
		const char *key = json_string_value(json_object_get(it, "key"));
		json_t *d = json_object_get(it, "doc");
		const struct cs_mapping *m = cs_config_mapping(w->cfg, json_string_value(json_object_get(d, "mapping")) ?: "");
		const char *clm = json_string_value(json_object_get(d, "clm"));
		int64_t due = json_integer_value(json_object_get(d, "due_ms"));
		struct group *g = NULL;
		const char *k;
		json_t *v;

		if (m == NULL || clm == NULL) {
			/* a mapping removed from the configuration: its queued writes cannot be sent */
			if (store_begin(w->st, &e) == CS_OK && store_kv_del(w->st, w->ns_outbox, key, NULL, &e) == CS_OK)
				store_commit(w->st, &e);
			else
				store_rollback(w->st);
			continue;
		}
		if (sync_paused(w, m))
			continue;       /* waits in the outbox until the mapping resumes */
		for (size_t j = 0; j < n; j++)
			if (gs[j].m == m && strcmp(gs[j].clm_id, clm) == 0)
				g = &gs[j];
		if (g == NULL) {
			g = &gs[n++];
			g->m = m;
			snprintf(g->clm_id, sizeof(g->clm_id), "%s", clm);
			g->keys = json_array();
			g->fields = json_object();
			g->born_ms = json_integer_value(json_object_get(d, "born_ms"));
			g->ready = true;
		}
		if (due > now) {
			g->ready = false;
			if (due < *next_due_ms)
				*next_due_ms = due;
		}
		if ((int)json_integer_value(json_object_get(d, "attempts")) > g->attempts)
			g->attempts = (int)json_integer_value(json_object_get(d, "attempts"));
		json_array_append_new(g->keys, json_string(key));
		if (strcmp(json_string_value(json_object_get(d, "op")) ?: "", "delete") == 0) {
			g->del = true;
			snprintf(g->sf_id, sizeof(g->sf_id), "%s", json_string_value(json_object_get(d, "sf")) ?: "");
		} else {
			g->del = false;
			json_object_foreach(json_object_get(d, "fields"), k, v)
				json_object_set(g->fields, k, v);
		}
	}
	json_decref(items);
	for (i = 0; i < n; i++)
		if (gs[i].ready && gs[i].born_ms < oldest)
			oldest = gs[i].born_ms;
	/* linger: a few milliseconds for company, unless a full batch is waiting already */
	if (oldest != INT64_MAX && n < batch_max && wall - oldest < (int64_t)w->cfg->sync.linger_ms) {
		int64_t due = now + ((int64_t)w->cfg->sync.linger_ms - (wall - oldest));
		if (due < *next_due_ms)
			*next_due_ms = due;
		goto out;
	}
	/* A mapping whose ready records could not fill one batch between them, and would wait for
	 * company by the rule below, waits whole before anything is read for them: during a burst
	 * the same records are looked at round after round until their batch fills, and reading
	 * their links each time cost as much as planning them. Judged again per batch below. */
	for (i = 0; i < n; i++) {
		size_t nm = 0;
		int64_t first = INT64_MAX;

		if (seen_mapping(gs, i))
			continue;
		for (size_t j = i; j < n; j++)
			if (gs[j].ready && gs[j].m == gs[i].m) {
				nm++;
				if (gs[j].born_ms < first)
					first = gs[j].born_ms;
			}
		if (nm > 0 && holds(w, nm, first, wall, now, backlog, next_due_ms))
			for (size_t j = i; j < n; j++)
				if (gs[j].m == gs[i].m)
					gs[j].ready = false;
	}
	for (i = 0; i < n; i++) {
		struct group *g = &gs[i];
		char why[256];
		bool wait;

		if (!g->ready)
			continue;
		if (!g->del) {
			cs_err lrc = sync_link_get(w->st, g->m, g->clm_id, &g->link, &e);
			if (lrc == CS_ENOTFOUND) {
				drop(w, g);
				g->ready = false;
				continue;
			}
			if (lrc != CS_OK) {
				g->link = NULL;
				g->ready = false;
				any_fail = true;
				continue;
			}
			if (g->link != NULL && g->sf_id[0] == '\0')
				snprintf(g->sf_id, sizeof(g->sf_id), "%s", json_string_value(json_object_get(g->link, "sf")) ?: "");
			if (!withhold(w, g, &e)) {
				g->ready = false;
				any_fail = true;
				continue;
			}
			if (json_object_size(g->fields) == 0 && g->link != NULL) {
				held(w, g);
				g->ready = false;
				continue;
			}
			if (g->attempts > 0 && g->sf_id[0] != '\0' && g->link != NULL &&
			    sync_sent_landed(json_object_get(g->link, "sent"), json_array_size(g->keys))) {
				landed(w, g);
				g->ready = false;
				continue;
			}
			if (g->link != NULL && leave_landed(g) && json_object_size(g->fields) == 0) {
				landed(w, g);
				g->ready = false;
				continue;
			}
			if (g->sf_id[0] == '\0' && g->m->external_id_field[0] == '\0') {
				char msg[256];
				snprintf(msg, sizeof(msg), "%s %s is not linked to a %s record", g->m->name, g->clm_id,
				         g->m->sobject);
				settle(w, g, true, "NOT_LINKED", msg, 0);
				g->ready = false;
				continue;
			}
			if (!build_record(w, g, &wait, why, sizeof(why))) {
				g->ready = false;
				if (wait) {
					/* Its lookup target goes first; this record waits for the link. While the
					 * target's own writes are queued (backing off from an API limit, say) it
					 * is on its way and the wait is not counted: only a target that nothing
					 * brings (refused into the DLQ, never routed) dead-letters this record. */
					if (bring_along(w, g, gs, n))
						settle(w, g, false, "", "", SYNC_LOOKUP_QUEUED_MS);
					else if (++g->attempts > SYNC_LOOKUP_WAIT_MAX)
						settle(w, g, true, "LOOKUP_NOT_LINKED", why, 0);
					else
						settle(w, g, false, "", "", 20 * g->attempts);
					if (*next_due_ms > now + 20)
						*next_due_ms = now + 20;
				}
				continue;
			}
		}
	}
	/* one call per mapping and kind, at most batch_max records each */
	for (i = 0; i < n; i++) {
		struct group *batch[SF_MAX_BATCH];
		int kind;
		size_t nb = 0;

		if (!gs[i].ready)
			continue;
		kind = gs[i].del ? 2 : gs[i].sf_id[0] != '\0' ? 1 : 0;
		int64_t first = INT64_MAX;
		for (size_t j = i; j < n && nb < batch_max; j++) {
			int kj;
			if (!gs[j].ready || gs[j].m != gs[i].m)
				continue;
			kj = gs[j].del ? 2 : gs[j].sf_id[0] != '\0' ? 1 : 0;
			if (kj != kind)
				continue;
			batch[nb++] = &gs[j];
			gs[j].ready = false;
			if (gs[j].born_ms < first)
				first = gs[j].born_ms;
		}
		/* A part-filled batch waits for company, per batch (not only when everything queued
		 * is less than one): the linger always, and longer while company comes fast enough to
		 * fill it within SYNC_HOLD_MS of its first entry, judged by the pace so far (nb
		 * records in age ms: on track while nb / age >= batch_max / SYNC_HOLD_MS), or while the
		 * planner is working through a backlog (it took a full batch this round). Without
		 * that, a burst the engine keeps up with goes out in as many calls as there are
		 * rounds: 24 calls per 1,000 records at 1,000 changes a second, where 5 will do. At a
		 * trickle (200 a second) nothing changes: a batch is far off its pace after the
		 * linger and goes. Per-record order holds: a record's entries are all in its one
		 * group, sent or kept whole. */
		if (holds(w, nb, first, wall, now, backlog, next_due_ms))
			continue;
		if (send_batch(w, batch, nb, kind) != CS_OK)
			any_fail = true;
		else
			written += (int)nb;
	}
out:
	for (i = 0; i < n; i++)
		group_cleanup(&gs[i]);
	free(gs);
	return written > 0 ? written : any_fail ? -1 : 0;
}

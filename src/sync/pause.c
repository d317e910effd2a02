/* pause.c - pausing a mapping: changes on either side are held per record, nothing is written,
 * and resume puts each held record back in the inbox to be compared afresh.
 *
 * A pause is a row, so it survives a restart and any process may set it (the admin API, the CLI):
 *   pause             "<mapping>" {"since_ms", "by", "reason"}
 *   heldc:<mapping>   repository id -> {"op": "update"|"delete"}: a change-feed row not planned
 *   helds:<mapping>   Salesforce id -> {"type": "CREATE"|"UPDATE"|"DELETE"|"UNDELETE"}
 * Held rows are one per record, whatever the number of changes: resume re-reads both sides,
 * so the last kind of change is all that needs keeping (a delete must stay a delete). Writes
 * already in the outbox when the pause began wait there (the applier skips the mapping).
 */
#include "sync/sync_int.h"
#include "sync/audit.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>

#define PAUSE_NS "pause"
#define RESUME_OVERLAP_MS (5 * 60 * 1000)  /* the reconcile after a resume starts this long before
                                           * the pause: clocks differ, commits take time */

static void
held_ns(char ns[STORE_KV_NS_MAX], const char *side, const char *mapping)
{
	snprintf(ns, STORE_KV_NS_MAX, "held%s:%s", side, mapping);
}

bool
sync_paused(const struct worker *w, const struct cs_mapping *m)
{
	for (size_t i = 0; i < w->nmaps; i++)
		if (w->maps[i] == m)
			return (w->paused >> i) & 1;
	return false;
}

void
sync_pause_refresh(struct worker *w)
{
	struct cs_error e = { 0 };
	json_t *rows = NULL, *r;
	uint64_t mask = 0;
	size_t i;

	if (store_kv_scan(w->st, PAUSE_NS, NULL, STORE_LIST_MAX, &rows, &e) != CS_OK)
		return;         /* keep what we knew; the store's trouble shows elsewhere */
	json_array_foreach(rows, i, r) {
		const char *name = json_string_value(json_object_get(r, "key"));
		for (size_t k = 0; name != NULL && k < w->nmaps; k++)
			if (strcmp(w->maps[k]->name, name) == 0)
				mask |= (uint64_t)1 << k;
	}
	json_decref(rows);
	if (mask != w->paused)
		log_info("sync.pause", "org %s: %u mapping(s) paused", w->org->name, (unsigned)__builtin_popcountll(mask));
	w->paused = mask;
}

cs_err
sync_hold_clm(struct store *s, const struct cs_mapping *m, const char *clm_id, const char *op, struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX];
	json_t *d = json_pack("{s:s}", "op", op && strcmp(op, "delete") == 0 ? "delete" : "update");
	cs_err rc;

	if (d == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	held_ns(ns, "c", m->name);
	rc = store_kv_put(s, ns, clm_id, d, e);
	json_decref(d);
	return rc;
}

cs_err
sync_hold_sf(struct store *s, const struct cs_mapping *m, const char *sf_id, const char *type, struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX];
	json_t *d = json_pack("{s:s}", "type", type ? type : "UPDATE");
	cs_err rc;

	if (d == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	held_ns(ns, "s", m->name);
	rc = store_kv_put(s, ns, sf_id, d, e);
	json_decref(d);
	return rc;
}

static cs_err
pause_audit(struct store *s, const struct cs_mapping *m, const char *decision, const char *detail, struct cs_error *e)
{
	struct sync_audit_row r = {
		.org = m->org, .mapping = m->name, .entity = cs_entity_name(m->entity),
		.decision = decision, .event = "operator", .detail = detail,
	};

	return sync_audit_append(s, &r, NULL, e);
}

cs_err
sync_pause(struct store *s, const struct cs_mapping *m, const char *by, const char *reason, struct cs_error *e)
{
	char detail[SYNC_REASON_MAX + 160];
	json_t *d = NULL;
	cs_err rc;

	if (store_in_transaction(s))
		return cs_error_set(e, CS_ESTATE, "sync_pause: the connection is inside a transaction");
	if ((rc = store_begin(s, e)) != CS_OK)
		return rc;
	rc = store_kv_get(s, PAUSE_NS, m->name, &d, e);
	if (rc == CS_OK) {
		/* paused already: nothing changes, the first pause's time stays */
		json_decref(d);
		store_rollback(s);
		return CS_OK;
	}
	if (rc != CS_ENOTFOUND)
		goto fail;
	d = json_pack("{s:I, s:s, s:s}", "since_ms", (json_int_t)cs_time_now_ms(), "by", by ? by : "operator",
	    "reason", reason ? reason : "");
	snprintf(detail, sizeof(detail), "paused by %s%s%s", by ? by : "operator", reason && reason[0] ? ": " : "",
	         reason ? reason : "");
	if (d == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = store_kv_put(s, PAUSE_NS, m->name, d, e)) != CS_OK || (rc = pause_audit(s, m, "paused", detail, e)) != CS_OK ||
	    (rc = store_commit(s, e)) != CS_OK)
		goto fail;
	json_decref(d);
	return CS_OK;
fail:
	json_decref(d);
	store_rollback(s);
	return rc;
}

/* Moves every held row of one side onto the org's inbox, in key order, page by page, inside
 * the caller's transaction. */
static cs_err
release(struct store *s, const struct cs_mapping *m, const char *side, long long *moved, struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX], inbox[STORE_KV_NS_MAX];
	json_t *page = NULL, *r;
	size_t i, got;
	cs_err rc = CS_OK;

	held_ns(ns, side, m->name);
	snprintf(inbox, sizeof(inbox), "inbox:%s", m->org);
	do {
		/* each page is removed as it is moved, so the next scan starts from the first key */
		if ((rc = store_kv_scan(s, ns, NULL, STORE_LIST_MAX, &page, e)) != CS_OK)
			return rc;
		got = json_array_size(page);
		json_array_foreach(page, i, r) {
			const char *key = json_string_value(json_object_get(r, "key"));
			json_t *d = json_object_get(r, "doc"), *item;
			if (side[0] == 'c')
				item = json_pack("{s:s, s:s, s:s, s:s}", "t", "plan", "mapping", m->name, "clm", key, "op",
				    json_string_value(json_object_get(d, "op")) ?: "update");
			else
				/* read afresh from Salesforce: the values of the changes held are stale */
				item = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:[s], s:{}, s:b, s:I, s:I}", "t", "cdc",
				    "channel", "resume", "replay", (json_int_t)0, "entity", m->sobject, "type",
				    json_string_value(json_object_get(d, "type")) ?: "UPDATE", "ours", 0, "ids", key,
				    "values", "fetch", 1, "commit_ms", (json_int_t)0, "recv_ms", (json_int_t)cs_time_now_ms());
			if (item == NULL) {
				rc = cs_error_set(e, CS_ENOMEM, "out of memory");
				break;
			}
			rc = sync_queue_push(s, inbox, item, e);
			json_decref(item);
			if (rc != CS_OK || (rc = store_kv_del(s, ns, key, NULL, e)) != CS_OK)
				break;
			(*moved)++;
		}
		json_decref(page);
	} while (rc == CS_OK && got == STORE_LIST_MAX);
	return rc;
}

cs_err
sync_resume(struct store *s, const struct cs_mapping *m, const char *by, long long *moved, struct cs_error *e)
{
	char detail[200], inbox[STORE_KV_NS_MAX];
	json_t *d = NULL, *rq = NULL;
	int64_t since;
	cs_err rc;

	*moved = 0;
	if (store_in_transaction(s))
		return cs_error_set(e, CS_ESTATE, "sync_resume: the connection is inside a transaction");
	if ((rc = store_begin(s, e)) != CS_OK)
		return rc;
	rc = store_kv_get(s, PAUSE_NS, m->name, &d, e);
	if (rc == CS_ENOTFOUND) {
		store_rollback(s);
		return CS_OK;
	}
	if (rc != CS_OK || (rc = store_kv_del(s, PAUSE_NS, m->name, NULL, e)) != CS_OK)
		goto fail;
	if ((rc = release(s, m, "c", moved, e)) != CS_OK || (rc = release(s, m, "s", moved, e)) != CS_OK)
		goto fail;
	/* what no held row stands for (a GAP_OVERFLOW while paused): compared since the pause */
	since = json_integer_value(json_object_get(d, "since_ms")) - RESUME_OVERLAP_MS;
	rq = json_pack("{s:s, s:s, s:b, s:I, s:s, s:s}", "t", "reconcile", "mapping", m->name, "repair", 1, "since_ms",
	    (json_int_t)(since > 0 ? since : 0), "why", "resume", "cause", "resume");
	snprintf(inbox, sizeof(inbox), "inbox:%s", m->org);
	if (rq == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = sync_queue_push(s, inbox, rq, e)) != CS_OK)
		goto fail;
	snprintf(detail, sizeof(detail), "resumed by %s: %lld held record(s) queued", by ? by : "operator", *moved);
	if ((rc = pause_audit(s, m, "resumed", detail, e)) != CS_OK || (rc = store_commit(s, e)) != CS_OK)
		goto fail;
	json_decref(d);
	json_decref(rq);
	return CS_OK;
fail:
	store_rollback(s);
	json_decref(d);
	json_decref(rq);
	*moved = 0;
	return rc;
}

cs_err
sync_pause_get(struct store *s, const struct cs_mapping *m, json_t **out, struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX];
	long long nc = 0, nsf = 0;
	json_t *d = NULL;
	cs_err rc;

	*out = NULL;
	rc = store_kv_get(s, PAUSE_NS, m->name, &d, e);
	if (rc == CS_ENOTFOUND) {
		*out = json_pack("{s:b}", "paused", 0);
		return *out ? CS_OK : cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	if (rc != CS_OK)
		return rc;
	held_ns(ns, "c", m->name);
	if ((rc = store_kv_count(s, ns, &nc, e)) == CS_OK) {
		held_ns(ns, "s", m->name);
		rc = store_kv_count(s, ns, &nsf, e);
	}
	if (rc != CS_OK) {
		json_decref(d);
		return rc;
	}
	*out = json_pack("{s:b, s:O?, s:O?, s:O?, s:I, s:I}", "paused", 1, "since_ms", json_object_get(d, "since_ms"),
	    "by", json_object_get(d, "by"), "reason", json_object_get(d, "reason"), "held_clm", (json_int_t)nc,
	    "held_salesforce", (json_int_t)nsf);
	json_decref(d);
	return *out ? CS_OK : cs_error_set(e, CS_ENOMEM, "out of memory");
}

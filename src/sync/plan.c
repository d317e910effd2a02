/* plan.c - the planner: each change from either side compared per field with the shadow, then applied, written back, parked or refused. */
#include "sync/audit.h"
#include "sync/sync_int.h"
#include "sync/value.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum side { SIDE_CLM, SIDE_SF };

/* What planning one record decided, made real in one transaction by commit_plan(). */
struct plan {
	struct worker *w;
	const struct cs_mapping *m;
	char clm_id[CLM_ID_MAX];
	char sf_id[SF_ID_LEN + 1];
	json_t *rec;            /* the repository record as stored (borrowed), NULL when absent */
	json_t *link;           /* the link row (owned), changed in place */
	json_t *patch;          /* repository fields to write */
	json_t *sfw;            /* Salesforce fields to write: sfField -> canonical */
	json_t *audit;          /* rows to append */
	json_t *conflicts;      /* [key, row] pairs to park */
	const char *event;
	int64_t s_ms, c_ms;     /* when each side's value was committed, for last_writer_wins */
	bool dirty;             /* the link row changed */
};

static void
plan_init(struct plan *p, struct worker *w, const struct cs_mapping *m, const char *clm_id, const char *event)
{
	memset(p, 0, sizeof(*p));
	p->w = w;
	p->m = m;
	snprintf(p->clm_id, sizeof(p->clm_id), "%s", clm_id ? clm_id : "");
	p->patch = json_object();
	p->sfw = json_object();
	p->audit = json_array();
	p->conflicts = json_array();
	p->event = event;
}

static void
plan_cleanup(struct plan *p)
{
	json_decref(p->link);
	json_decref(p->patch);
	json_decref(p->sfw);
	json_decref(p->audit);
	json_decref(p->conflicts);
}

static void
audit(struct plan *p, const char *side, const struct cs_field_map *f, const json_t *old, const json_t *nv,
      const char *decision, const char *detail)
{
	json_t *r = json_pack("{s:s?, s:s?, s:O?, s:O?, s:s, s:s?}", "side", side, "field", f ? f->clm : NULL,
	    "old", old, "new", nv, "decision", decision, "detail", detail);
	if (r != NULL)
		json_array_append_new(p->audit, r);
}

/* Appends the audit rows the plan collected, inside the caller's transaction. */
static cs_err
audit_flush(struct plan *p, struct cs_error *e)
{
	struct worker *w = p->w;
	size_t i;
	json_t *it;
	cs_err rc;

	json_array_foreach(p->audit, i, it) {
		struct sync_audit_row r = {
			.org = w->org->name, .mapping = p->m->name, .entity = cs_entity_name(p->m->entity),
			.clm_id = p->clm_id, .sf_id = p->sf_id[0] ? p->sf_id : NULL,
			.side = json_string_value(json_object_get(it, "side")),
			.field = json_string_value(json_object_get(it, "field")),
			.old_value = json_object_get(it, "old"), .new_value = json_object_get(it, "new"),
			.decision = json_string_value(json_object_get(it, "decision")), .event = p->event,
			.detail = json_string_value(json_object_get(it, "detail")),
		};
		if ((rc = sync_audit_append(w->st, &r, NULL, e)) != CS_OK)
			return rc;
	}
	return CS_OK;
}

static json_t *
base_of(struct plan *p, const struct cs_field_map *f)
{
	return json_object_get(json_object_get(p->link, "base"), f->sf);
}

static void
set_base(struct plan *p, const struct cs_field_map *f, json_t *v)
{
	json_t *b = json_object_get(p->link, "base");

	if (b == NULL) {
		json_object_set_new(p->link, "base", json_object());
		b = json_object_get(p->link, "base");
	}
	json_object_set_new(b, f->sf, v ? json_incref(v) : json_null());
	p->dirty = true;
}

/* The value of f in flight to Salesforce (the latest one), or NULL. */
static json_t *
pending_of(struct plan *p, const struct cs_field_map *f)
{
	json_t *sent = json_object_get(p->link, "sent"), *it, *last = NULL;
	size_t i;

	json_array_foreach(sent, i, it) {
		json_t *v = json_object_get(json_object_get(it, "f"), f->sf);
		if (v != NULL)
			last = v;
	}
	return last;
}

static bool
in_sent(struct plan *p, const struct cs_field_map *f, const json_t *v)
{
	json_t *sent = json_object_get(p->link, "sent"), *it;
	size_t i;

	json_array_foreach(sent, i, it) {
		json_t *x = json_object_get(json_object_get(it, "f"), f->sf);
		if (x != NULL && sync_value_equal(x, v))
			return true;
	}
	return false;
}

static void
write_sf(struct plan *p, const struct cs_field_map *f, json_t *v)
{
	json_object_set_new(p->sfw, f->sf, v ? json_incref(v) : json_null());
}

static bool
apply_clm(struct plan *p, const struct cs_field_map *f, json_t *v, char *err, size_t errn)
{
	if (sync_value_to_clm(f, v, p->rec, p->patch, err, errn) != SYNC_VAL_OK)
		return false;
	set_base(p, f, v);
	return true;
}

static const char *
policy_name(enum cs_conflict c)
{
	switch (c) {
	case CS_CONFLICT_CLM_WINS: return "clm_wins";
	case CS_CONFLICT_SALESFORCE_WINS: return "salesforce_wins";
	case CS_CONFLICT_LAST_WRITER_WINS: return "last_writer_wins";
	case CS_CONFLICT_MANUAL: return "manual";
	default: return "none";
	}
}

static void
conflict_key(struct plan *p, const struct cs_field_map *f, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s", p->m->name, p->clm_id, f->sf);
}

static bool
conflict_open(struct plan *p, const struct cs_field_map *f)
{
	char key[STORE_KV_KEY_MAX];
	json_t *d = NULL;
	struct cs_error e = { 0 };

	if (f->owner != CS_OWNER_BOTH || f->conflict != CS_CONFLICT_MANUAL)
		return false;
	conflict_key(p, f, key, sizeof(key));
	if (store_kv_get(p->w->st, "conflict", key, &d, &e) != CS_OK)
		return false;
	json_decref(d);
	return true;
}

/* A change the repository made to f (C), Salesforce holding S (the shadow, or what we last sent). */
static void
clm_change(struct plan *p, const struct cs_field_map *f, json_t *C, json_t *S)
{
	char err[256];

	if (conflict_open(p, f)) {
		audit(p, "salesforce", f, S, C, "held", "an open conflict holds this field");
		return;
	}
	if (f->owner != CS_OWNER_SALESFORCE || f->non_owner_write == CS_NON_OWNER_ACCEPT) {
		write_sf(p, f, C);
		audit(p, "salesforce", f, S, C, "applied", NULL);
		return;
	}
	if (f->non_owner_write == CS_NON_OWNER_IGNORE) {
		audit(p, "clm", f, S, C, "ignored", "the field is owned by Salesforce");
		return;
	}
	if (apply_clm(p, f, S, err, sizeof(err)))
		audit(p, "clm", f, C, S, "reverted", "the field is owned by Salesforce");
	else
		audit(p, "clm", f, C, S, "error", err);
}

/* Salesforce changed f to S; the repository holds C, unchanged since the shadow. */
static void
sf_change(struct plan *p, const struct cs_field_map *f, json_t *S, json_t *C, bool pending)
{
	char err[256];

	if (f->owner != CS_OWNER_CLM || f->non_owner_write == CS_NON_OWNER_ACCEPT) {
		if (apply_clm(p, f, S, err, sizeof(err)))
			audit(p, "clm", f, C, S, "applied", NULL);
		else
			audit(p, "clm", f, C, S, "error", err);
		return;
	}
	if (f->non_owner_write == CS_NON_OWNER_IGNORE) {
		audit(p, "salesforce", f, C, S, "ignored", "the field is owned by the repository");
		return;
	}
	/* revert: Salesforce must hold C again, unless a write of C is already on its way */
	if (!pending || !sync_value_equal(pending_of(p, f), C))
		write_sf(p, f, C);
	audit(p, "salesforce", f, S, C, "reverted", "the field is owned by the repository");
}

/* Both sides moved away from the shadow: ownership, then the conflict policy, decides. */
static void
conflict(struct plan *p, const struct cs_field_map *f, json_t *S, json_t *C, bool pending)
{
	char err[256], key[STORE_KV_KEY_MAX], ts[32];
	json_t *W;

	if (f->owner == CS_OWNER_CLM) {
		sf_change(p, f, S, C, pending);
		return;
	}
	if (f->owner == CS_OWNER_SALESFORCE) {
		if (apply_clm(p, f, S, err, sizeof(err)))
			audit(p, "clm", f, C, S, "applied", "both sides changed; the field is owned by Salesforce");
		else
			audit(p, "clm", f, C, S, "error", err);
		return;
	}
	atomic_fetch_add(&p->w->n_conflicts, 1);
	switch (f->conflict) {
	case CS_CONFLICT_MANUAL:
		conflict_key(p, f, key, sizeof(key));
		cs_time_format_iso(cs_time_now_ms(), ts, sizeof(ts));
		json_array_append_new(p->conflicts, json_pack("[s, {s:s, s:s, s:s, s:s, s:s, s:s, s:O?, s:O?, s:O?, s:s}]",
		    key, "org", p->w->org->name, "mapping", p->m->name, "clm", p->clm_id, "sf", p->sf_id,
		    "field", f->clm, "sf_field", f->sf, "base", base_of(p, f), "clm_value", C, "sf_value", S, "ts", ts));
		audit(p, NULL, f, C, S, "conflict", "manual: parked until resolved");
		return;
	case CS_CONFLICT_CLM_WINS:
		W = C;
		break;
	case CS_CONFLICT_SALESFORCE_WINS:
		W = S;
		break;
	default:
		W = p->s_ms > p->c_ms ? S : C;
		break;
	}
	if (!sync_value_equal(W, C) && !apply_clm(p, f, W, err, sizeof(err))) {
		audit(p, "clm", f, C, W, "error", err);
		return;
	}
	if (!sync_value_equal(W, S) || pending)
		write_sf(p, f, W);
	else
		set_base(p, f, W);
	audit(p, W == C ? "salesforce" : "clm", f, W == C ? S : C, W, "conflict", policy_name(f->conflict));
}

/* The canonical repository value of f, or NULL when it is not synced (SKIP or an error,
 * which *err then says). */
static json_t *
clm_value(struct plan *p, const struct cs_field_map *f, char *err, size_t errn)
{
	json_t *v = NULL;

	err[0] = '\0';
	if (p->rec == NULL)
		return NULL;
	if (sync_value_from_clm(f, p->rec, &v, err, errn) != SYNC_VAL_OK)
		return NULL;
	return v;
}

/* Plans a repository-side pass over every field (a feed row, a new link, a reconcile). */
static void
plan_clm_side(struct plan *p, bool creating)
{
	for (size_t i = 0; i < p->m->nfields; i++) {
		const struct cs_field_map *f = &p->m->fields[i];
		char err[256];
		json_t *C = clm_value(p, f, err, sizeof(err)), *B, *S;

		if (C == NULL) {
			if (err[0] != '\0')
				audit(p, "salesforce", f, NULL, NULL, "error", err);
			continue;
		}
		B = base_of(p, f);
		S = pending_of(p, f);
		if (S == NULL)
			S = B;
		if (B == NULL && creating && json_is_null(C)) {
			set_base(p, f, C);
		} else if (B == NULL || !sync_value_equal(C, S)) {
			if (B == NULL && f->owner == CS_OWNER_SALESFORCE && !creating) {
				/* never synced, owned by Salesforce: its value comes from there */
			} else if (B == NULL)
				write_sf(p, f, C);
			else
				clm_change(p, f, C, S);
		}
		json_decref(C);
	}
}

/* Translates the Salesforce id of a lookup into the repository id of its target (new string
 * reference), creating the target from Salesforce when it is not linked yet and its mapping
 * allows. NULL with err set when it cannot. */
static cs_err create_from_sf(struct worker *w, const struct cs_mapping *m, const char *sf_id, const json_t *values,
                             const char *event, char clm_id[CLM_ID_MAX], char *err, size_t errn);

static json_t *
lookup_to_clm(struct worker *w, const struct cs_field_map *f, json_t *S, const char *event, char *err, size_t errn)
{
	char cid[CLM_ID_MAX];
	struct cs_error e = { 0 };
	const char *sid = json_string_value(S);
	cs_err rc;

	if (f->lookup_to == NULL || f->kind == CS_VALUE_SFID || sid == NULL)
		return json_incref(S);
	rc = sync_link_by_sf(w->st, f->lookup_to, sid, cid, &e);
	if (rc == CS_ENOTFOUND)
		rc = create_from_sf(w, f->lookup_to, sid, NULL, event, cid, err, errn);
	else if (rc != CS_OK)
		snprintf(err, errn, "%s", e.msg);
	return rc == CS_OK ? json_string(cid) : NULL;
}

/* Plans Salesforce values (an event's, a fetched record's) against the repository record. all:
 * every field is compared, not only those values carries (reconcile, a new link). */
static bool
plan_sf_side(struct plan *p, const json_t *values, bool ours, bool all, char *err, size_t errn)
{
	json_t *sent = json_object_get(p->link, "sent");
	bool popped = false;

	for (size_t i = 0; i < p->m->nfields; i++) {
		const struct cs_field_map *f = &p->m->fields[i];
		char ferr[256];
		json_t *S = NULL, *Sraw = NULL, *C, *B, *pend;
		bool present = false;

		if (sync_value_from_sf(f, values, &present, &Sraw, ferr, sizeof(ferr)) != SYNC_VAL_OK) {
			snprintf(err, errn, "%s", ferr);
			return false;
		}
		if (!present)
			continue;
		S = lookup_to_clm(p->w, f, Sraw, p->event, ferr, sizeof(ferr));
		json_decref(Sraw);
		if (S == NULL) {
			snprintf(err, errn, "%s", ferr);
			return false;
		}
		B = base_of(p, f);
		pend = pending_of(p, f);
		if (ours && in_sent(p, f, S)) {
			atomic_fetch_add(&p->w->n_echo, 1);
			json_decref(S);
			continue;
		}
		if (B != NULL && sync_value_equal(S, B) && pend == NULL) {
			json_decref(S);
			continue;
		}
		C = clm_value(p, f, ferr, sizeof(ferr));
		if (C == NULL) {
			json_decref(S);
			continue;
		}
		if (sync_value_equal(S, C) && pend == NULL) {
			if (B == NULL || !sync_value_equal(B, S))
				set_base(p, f, S);
		} else if (conflict_open(p, f)) {
			audit(p, "clm", f, C, S, "held", "an open conflict holds this field");
		} else if (B == NULL && (all || p->rec != NULL)) {
			/* never compared: the owner's value counts */
			conflict(p, f, S, C, pend != NULL);
		} else if (!sync_value_equal(C, B) || pend != NULL) {
			conflict(p, f, S, C, pend != NULL);
		} else
			sf_change(p, f, S, C, false);
		json_decref(C);
		json_decref(S);
	}
	/* our own change event confirms the oldest confirmed write: it is no longer awaited */
	if (ours && json_array_size(sent) > 0) {
		json_t *it;
		size_t i;
		json_array_foreach(sent, i, it) {
			if (json_is_true(json_object_get(it, "ok"))) {
				json_array_remove(sent, i);
				popped = true;
				break;
			}
		}
		p->dirty |= popped;
	}
	return true;
}

/* Writes the plan: the repository first (its own transaction, through clm_update: a crash
 * after it is healed by replanning, which then finds both sides equal), then in one store
 * transaction the link, the outbox entry, conflicts, audit rows and done_fn's own rows.
 * Returns CS_OK, CS_EAGAIN-like CS_ETIMEOUT for a transient repository failure (try again), or
 * CS_EINVAL when the repository refused the change (*why says why; nothing was written). */
static cs_err
commit_plan(struct plan *p, cs_err (*done_fn)(void *ud, struct cs_error *e), void *ud, char *why, size_t whyn)
{
	struct worker *w = p->w;
	struct cs_error e = { 0 };
	struct clm_fail cf;
	json_t *it, *out = NULL;
	size_t i;
	cs_err rc;

	if (json_object_size(p->patch) > 0) {
		memset(&cf, 0, sizeof(cf));
		rc = clm_update(w->clm, sync_kind_of(p->m->entity), NULL, p->clm_id, p->patch, -1, w->actor, &out, &cf);
		if (rc != CS_OK) {
			snprintf(why, whyn, "%s: %s", cf.code, cf.msg);
			return cf.status >= 500 ? CS_ETIMEOUT : CS_EINVAL;
		}
		json_decref(out);
		atomic_fetch_add(&w->n_clm_writes, 1);
	}
	if ((rc = store_begin(w->st, &e)) != CS_OK)
		goto fail;
	if (json_object_size(p->sfw) > 0) {
		int64_t now = cs_time_now_ms();
		json_t *ob = json_pack("{s:s, s:s, s:s, s:O, s:i, s:I, s:I, s:s}", "mapping", p->m->name, "clm", p->clm_id,
		    "op", "write", "fields", p->sfw, "attempts", 0, "due_ms", (json_int_t)0, "born_ms", (json_int_t)now,
		    "event", p->event);
		json_t *s = json_pack("{s:O, s:I, s:b}", "f", p->sfw, "ms", (json_int_t)now, "ok", 0);
		if (ob == NULL || s == NULL || json_array_append_new(json_object_get(p->link, "sent"), s) != 0) {
			json_decref(ob);
			rc = cs_error_set(&e, CS_ENOMEM, "out of memory");
			goto fail;
		}
		p->dirty = true;
		rc = sync_queue_push(w->st, w->ns_outbox, ob, &e);
		json_decref(ob);
		if (rc != CS_OK)
			goto fail;
	}
	if (p->dirty && p->link != NULL && (rc = sync_link_put(w->st, p->m, p->clm_id, p->link, &e)) != CS_OK)
		goto fail;
	json_array_foreach(p->conflicts, i, it) {
		if ((rc = store_kv_put(w->st, "conflict", json_string_value(json_array_get(it, 0)), json_array_get(it, 1), &e)) != CS_OK)
			goto fail;
	}
	if ((rc = audit_flush(p, &e)) != CS_OK)
		goto fail;
	if (done_fn != NULL && (rc = done_fn(ud, &e)) != CS_OK)
		goto fail;
	if ((rc = store_commit(w->st, &e)) != CS_OK)
		goto fail;
	return CS_OK;
fail:
	store_rollback(w->st);
	snprintf(why, whyn, "%s", e.msg);
	log_warn("sync.plan", "org %s: %s %s: cannot commit: %s", w->org->name, p->m->name, p->clm_id, e.msg);
	return CS_EIO;
}

/* --- records created in Salesforce -------------------------------------------------------- */

bool
sync_sf_field_first(const struct cs_mapping *m, size_t i)
{
	const char *n = m->fields[i].sf;

	if (strcasecmp(n, "Id") == 0 || strcasecmp(n, m->external_id_field) == 0)
		return false;
	for (size_t j = 0; j < i; j++)
		if (strcasecmp(m->fields[j].sf, n) == 0)
			return false;
	return true;
}

static cs_err
fetch_sf(struct worker *w, const struct cs_mapping *m, const char *sf_id, json_t **rec, char *err, size_t errn)
{
	struct cs_buf fl;
	struct sf_error se;
	cs_err rc;

	cs_buf_init(&fl, 64 * 1024);
	cs_buf_append(&fl, "Id", 2);
	if (m->external_id_field[0] != '\0') {
		cs_buf_append(&fl, ",", 1);
		cs_buf_append(&fl, m->external_id_field, strlen(m->external_id_field));
	}
	for (size_t i = 0; i < m->nfields; i++) {
		if (!sync_sf_field_first(m, i))
			continue;
		cs_buf_append(&fl, ",", 1);
		cs_buf_append(&fl, m->fields[i].sf, strlen(m->fields[i].sf));
	}
	sf_error_clear(&se);
	rc = sf_rest_retrieve(w->sc, m->sobject, sf_id, fl.data, rec, &se);
	atomic_fetch_add(&w->n_sf_calls, 1);
	if (rc != CS_OK)
		snprintf(err, errn, "cannot read %.80s %.20s: %.300s", m->sobject, sf_id,
		         se.message[0] ? se.message : cs_strerror(rc));
	cs_buf_cleanup(&fl);
	return rc;
}

struct marker_ud {
	struct worker *w;
	const char *ns, *sf_id;
};

/* The record made from Salesforce is linked: its creation marker goes, in the same transaction. */
static cs_err
marker_done(void *ud, struct cs_error *e)
{
	struct marker_ud *u = ud;
	return store_kv_del(u->w->st, u->ns, u->sf_id, NULL, e);
}

/* Creates the repository record for Salesforce record sf_id of m from values (NULL: fetched
 * first), links it and plans its repository-owned fields back. */
static cs_err
create_from_sf(struct worker *w, const struct cs_mapping *m, const char *sf_id, const json_t *values, const char *event,
               char clm_id[CLM_ID_MAX], char *err, size_t errn)
{
	json_t *fetched = NULL, *body = json_object(), *out = NULL, *ext, *marker = NULL;
	struct clm_new item = { 0 };
	struct clm_fail cf;
	struct cs_error e = { 0 };
	char mns[STORE_KV_NS_MAX];
	struct plan p;
	cs_err rc = CS_EINVAL;

	if (m->on_create.clm != CS_CREATE_CREATE) {
		snprintf(err, errn, "%s %s is not linked and the mapping %s does not create records from Salesforce",
		         m->sobject, sf_id, m->name);
		json_decref(body);
		return CS_ENOTFOUND;
	}
	if (m->entity != CS_ENTITY_COUNTERPARTY && m->entity != CS_ENTITY_CONTRACT) {
		snprintf(err, errn, "a %s cannot be created from Salesforce", cs_entity_name(m->entity));
		json_decref(body);
		return CS_EINVAL;
	}
	if (values == NULL) {
		if ((rc = fetch_sf(w, m, sf_id, &fetched, err, errn)) != CS_OK)
			goto out;
		values = fetched;
	}
	/* a record that carries a repository id in its external id field is linked, not created */
	ext = m->external_id_field[0] ? json_object_get(values, m->external_id_field) : NULL;
	if (json_is_string(ext)) {
		json_t *r = NULL;
		memset(&cf, 0, sizeof(cf));
		if (clm_get(w->clm, sync_kind_of(m->entity), NULL, json_string_value(ext), &r, &cf) == CS_OK) {
			snprintf(clm_id, CLM_ID_MAX, "%s", json_string_value(ext));
			plan_init(&p, w, m, clm_id, event);
			snprintf(p.sf_id, sizeof(p.sf_id), "%s", sf_id);
			p.rec = r;
			p.link = sync_link_new(sf_id);
			p.dirty = true;
			audit(&p, NULL, NULL, NULL, NULL, "linked", "matched by external id");
			rc = plan_sf_side(&p, values, false, true, err, errn) ? CS_OK : CS_EINVAL;
			if (rc == CS_OK) {
				plan_clm_side(&p, false);
				rc = commit_plan(&p, NULL, NULL, err, errn);
			}
			plan_cleanup(&p);
			json_decref(r);
			goto out;
		}
	}
	for (size_t i = 0; i < m->nfields; i++) {
		const struct cs_field_map *f = &m->fields[i];
		char ferr[256];
		json_t *S = NULL, *v;
		bool present = false;

		if (f->clm_readonly)
			continue;
		if (sync_value_from_sf(f, values, &present, &S, ferr, sizeof(ferr)) != SYNC_VAL_OK) {
			snprintf(err, errn, "%s", ferr);
			goto out;
		}
		if (!present || json_is_null(S)) {
			json_decref(S);
			continue;
		}
		v = lookup_to_clm(w, f, S, event, ferr, sizeof(ferr));
		json_decref(S);
		if (v == NULL) {
			snprintf(err, errn, "%s", ferr);
			goto out;
		}
		/* creation seeds every field Salesforce has a value for; a value only the repository
		 * writes (a many-to-one map) is left to the repository's default */
		if (sync_value_to_clm(f, v, NULL, body, ferr, sizeof(ferr)) != SYNC_VAL_OK && f->from_salesforce) {
			json_decref(v);
			snprintf(err, errn, "%s", ferr);
			goto out;
		}
		json_decref(v);
	}
	/* Idempotent across a crash: the new record's id is chosen and recorded first, so a replan
	 * of the same event finds the record made before the crash instead of making another. */
	snprintf(mns, sizeof(mns), "creating:%s", m->name);
	if (store_kv_get(w->st, mns, sf_id, &marker, &e) == CS_OK &&
	    json_is_string(json_object_get(marker, "clm")) && strlen(json_string_value(json_object_get(marker, "clm"))) < CLM_ID_MAX) {
		snprintf(item.id, sizeof(item.id), "%s", json_string_value(json_object_get(marker, "clm")));
		memset(&cf, 0, sizeof(cf));
		if (clm_get(w->clm, sync_kind_of(m->entity), NULL, item.id, &out, &cf) == CS_OK)
			goto made;
	} else {
		json_t *mk;
		if (clm_id_new(sync_kind_of(m->entity), item.id) != CS_OK ||
		    (mk = json_pack("{s:s}", "clm", item.id)) == NULL) {
			rc = CS_ETIMEOUT;
			goto out;
		}
		if (store_begin(w->st, &e) != CS_OK || store_kv_put(w->st, mns, sf_id, mk, &e) != CS_OK ||
		    store_commit(w->st, &e) != CS_OK) {
			store_rollback(w->st);
			json_decref(mk);
			rc = CS_ETIMEOUT;
			goto out;
		}
		json_decref(mk);
	}
	item.kind = sync_kind_of(m->entity);
	item.body = body;
	memset(&cf, 0, sizeof(cf));
	if (clm_create_many(w->clm, &item, 1, w->actor, NULL, &cf) != CS_OK ||
	    clm_get(w->clm, item.kind, NULL, item.id, &out, &cf) != CS_OK) {
		snprintf(err, errn, "cannot create a %s from %s %s: %s: %s", cs_entity_name(m->entity), m->sobject, sf_id,
		         cf.code, cf.msg);
		rc = cf.status >= 500 ? CS_ETIMEOUT : CS_EINVAL;
		if (rc == CS_EINVAL && store_begin(w->st, &e) == CS_OK) {
			if (store_kv_del(w->st, mns, sf_id, NULL, &e) != CS_OK || store_commit(w->st, &e) != CS_OK)
				store_rollback(w->st);
		}
		goto out;
	}
made:
	atomic_fetch_add(&w->n_clm_writes, 1);
	snprintf(clm_id, CLM_ID_MAX, "%s", json_string_value(json_object_get(out, "id")));
	plan_init(&p, w, m, clm_id, event);
	snprintf(p.sf_id, sizeof(p.sf_id), "%s", sf_id);
	p.rec = out;
	p.link = sync_link_new(sf_id);
	p.dirty = true;
	audit(&p, "clm", NULL, NULL, NULL, "created", m->sobject);
	/* what Salesforce sent and the record now holds is the shadow; the rest (the repository's
	 * defaults, its id in the external id field) goes back to Salesforce */
	if (!plan_sf_side(&p, values, false, true, err, errn))
		rc = CS_EINVAL;
	else {
		plan_clm_side(&p, true);
		struct marker_ud mu = { w, mns, sf_id };
		if (m->external_id_field[0] != '\0')
			json_object_set_new(p.sfw, m->external_id_field, json_string(clm_id));
		rc = commit_plan(&p, marker_done, &mu, err, errn);
	}
	plan_cleanup(&p);
out:
	json_decref(fetched);
	json_decref(body);
	json_decref(out);
	json_decref(marker);
	return rc;
}

/* --- the repository's change feed ---------------------------------------------------------- */

bool
sync_routed(const struct cs_mapping *m, const json_t *rec)
{
	const json_t *v;
	const char *s;

	if (m->route.kind == CS_ROUTE_ALL || m->route.field[0] == '\0')
		return true;
	if (strncmp(m->route.field, "custom.", 7) == 0)
		v = json_object_get(json_object_get(rec, "custom"), m->route.field + 7);
	else
		v = json_object_get(rec, m->route.field);
	s = json_string_value(v);
	if (m->route.kind == CS_ROUTE_IN) {
		for (size_t i = 0; s != NULL && i < m->route.nin; i++)
			if (strcmp(s, m->route.in[i]) == 0)
				return true;
		return false;
	}
	for (size_t i = 0; s != NULL && i < m->route.nnot_in; i++)
		if (strcmp(s, m->route.not_in[i]) == 0)
			return false;
	return true;
}

struct cursor_ud {
	struct worker *w;
	long long seq;
};

static cs_err
advance_feed(void *ud, struct cs_error *e)
{
	struct cursor_ud *c = ud;
	char key[STORE_KV_KEY_MAX];

	snprintf(key, sizeof(key), "clm:%s", c->w->org->name);
	return sync_cursor_put(c->w->st, key, "seq", c->seq, e);
}

/* Runs done_fn (may be NULL: nothing to do) alone in a transaction: CS_OK or CS_EIO. */
static cs_err
run_done(struct worker *w, cs_err (*done_fn)(void *, struct cs_error *), void *ud)
{
	struct cs_error e = { 0 };

	if (done_fn == NULL)
		return CS_OK;
	if (store_begin(w->st, &e) == CS_OK && done_fn(ud, &e) == CS_OK && store_commit(w->st, &e) == CS_OK)
		return CS_OK;
	store_rollback(w->st);
	return CS_EIO;
}

/* Plans repository record id of m (a feed row, a lookup brought along, a reconcile). Returns
 * CS_OK, or CS_ETIMEOUT for a transient failure. */
static cs_err
plan_record(struct worker *w, const struct cs_mapping *m, const char *id, const char *op, const char *event,
            cs_err (*done_fn)(void *, struct cs_error *), void *ud)
{
	struct clm_fail cf;
	struct cs_error e = { 0 };
	struct plan p;
	json_t *rec = NULL;
	char why[512];
	bool created = false;
	cs_err rc;

	plan_init(&p, w, m, id, event);
	rc = sync_link_get(w->st, m, id, &p.link, &e);
	if (rc != CS_OK && rc != CS_ENOTFOUND) {
		plan_cleanup(&p);
		return CS_ETIMEOUT;
	}
	if (p.link != NULL)
		snprintf(p.sf_id, sizeof(p.sf_id), "%s", json_string_value(json_object_get(p.link, "sf")) ?: "");
	if (op != NULL && strcmp(op, "delete") == 0) {
		if (p.link != NULL && m->on_delete.salesforce == CS_DELETE_DELETE && p.sf_id[0] != '\0') {
			json_t *ob = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:s}", "mapping", m->name, "clm", id, "op",
			    "delete", "sf", p.sf_id, "attempts", 0, "due_ms", (json_int_t)0, "born_ms",
			    (json_int_t)cs_time_now_ms(), "event", event);
			audit(&p, "salesforce", NULL, NULL, NULL, "deleted", NULL);
			if ((rc = store_begin(w->st, &e)) == CS_OK && (rc = sync_queue_push(w->st, w->ns_outbox, ob, &e)) == CS_OK &&
			    (rc = audit_flush(&p, &e)) == CS_OK && (done_fn == NULL || (rc = done_fn(ud, &e)) == CS_OK))
				rc = store_commit(w->st, &e);
			if (rc != CS_OK)
				store_rollback(w->st);
			json_decref(ob);
		} else
			rc = run_done(w, done_fn, ud);
		plan_cleanup(&p);
		return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
	}
	memset(&cf, 0, sizeof(cf));
	rc = clm_get(w->clm, sync_kind_of(m->entity), NULL, id, &rec, &cf);
	if (rc != CS_OK && cf.status >= 500) {
		plan_cleanup(&p);
		return CS_ETIMEOUT;
	}
	p.rec = rec;
	if (rec != NULL && (p.link != NULL || sync_routed(m, rec))) {
		if (p.link == NULL && m->match.by == CS_MATCH_KEYS && m->match.nkeys == 1 &&
		    strcasecmp(m->match.keys[0].sf, "Id") == 0) {
			/* matched by a Salesforce id the record keeps: link, then compare every field */
			const char *k = m->match.keys[0].clm;
			const json_t *kv = strncmp(k, "custom.", 7) == 0 ?
			    json_object_get(json_object_get(rec, "custom"), k + 7) : json_object_get(rec, k);
			if (json_is_string(kv)) {
				json_t *sfrec = NULL;
				snprintf(p.sf_id, sizeof(p.sf_id), "%s", json_string_value(kv));
				if (fetch_sf(w, m, p.sf_id, &sfrec, why, sizeof(why)) == CS_OK) {
					p.link = sync_link_new(p.sf_id);
					p.dirty = true;
					audit(&p, NULL, NULL, NULL, NULL, "linked", "matched by key");
					if (!plan_sf_side(&p, sfrec, false, true, why, sizeof(why)))
						audit(&p, "clm", NULL, NULL, NULL, "error", why);
				} else
					log_warn("sync.plan", "org %s: %s %s: %s", w->org->name, m->name, id, why);
				json_decref(sfrec);
			}
		} else if (p.link == NULL && m->on_create.salesforce == CS_CREATE_CREATE && m->external_id_field[0] != '\0') {
			p.link = sync_link_new("");
			p.dirty = true;
			created = true;
			audit(&p, "salesforce", NULL, NULL, NULL, "created", m->sobject);
			plan_clm_side(&p, true);
		}
		/* a stored link, or one just matched by key whose comparison wrote nothing back:
		 * the repository's side of every field now */
		if (p.link != NULL && !created && (!p.dirty || json_object_size(p.sfw) == 0))
			plan_clm_side(&p, false);
	}
	if (p.link != NULL || done_fn != NULL) {
		p.c_ms = cs_time_now_ms();
		rc = commit_plan(&p, done_fn, ud, why, sizeof(why));
		if (rc == CS_EINVAL) {
			/* the repository refused a revert: keep the feed moving, say so */
			log_warn("sync.plan", "org %s: %s %s: %s", w->org->name, m->name, id, why);
			rc = run_done(w, done_fn, ud);
		}
	}
	plan_cleanup(&p);
	json_decref(rec);
	return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
}

int
sync_plan_feed(struct worker *w)
{
	struct cs_error e = { 0 };
	char key[STORE_KV_KEY_MAX];
	json_t *rows = NULL, *r;
	size_t i, done = 0;
	cs_err rc;

	if (w->clm_cursor == 0) {
		snprintf(key, sizeof(key), "clm:%s", w->org->name);
		rc = sync_cursor_get(w->st, key, "seq", &w->clm_cursor, &e);
		if (rc == CS_ENOTFOUND) {
			/* first start: the records already there are linked by a reconcile or backfill,
			 * the feed is followed from here */
			if (store_changes_head(w->st, &w->clm_cursor, &e) != CS_OK)
				return -1;
			if (w->clm_cursor == 0)
				w->clm_cursor = -1;
		} else if (rc != CS_OK)
			return -1;
	}
	if (store_changes_after(w->st, w->clm_cursor < 0 ? 0 : w->clm_cursor, SYNC_BATCH_FEED, &rows, &e) != CS_OK) {
		log_warn("sync.feed", "org %s: cannot read the change feed: %s", w->org->name, e.msg);
		return -1;
	}
	json_array_foreach(rows, i, r) {
		long long seq = json_integer_value(json_object_get(r, "seq"));
		const char *entity = json_string_value(json_object_get(r, "entity"));
		const char *id = json_string_value(json_object_get(r, "id"));
		const char *op = json_string_value(json_object_get(r, "op"));
		struct cursor_ud cu = { w, seq };
		char event[48];
		bool planned = false;

		snprintf(event, sizeof(event), "feed:%lld", seq);
		atomic_fetch_add(&w->n_feed, 1);
		for (size_t k = 0; k < w->nmaps && entity && id; k++) {
			const struct cs_mapping *m = w->maps[k];
			if (strcmp(cs_entity_name(m->entity), entity) != 0)
				continue;
			/* our own repository writes come back here too: the shadow comparison finds them equal */
			if (plan_record(w, m, id, op, event, planned ? NULL : advance_feed, &cu) != CS_OK)
				goto out;
			planned = true;
		}
		if (!planned) {
			if (store_begin(w->st, &e) != CS_OK || advance_feed(&cu, &e) != CS_OK || store_commit(w->st, &e) != CS_OK) {
				store_rollback(w->st);
				goto out;
			}
		}
		w->clm_cursor = seq;
		done++;
	}
out:
	json_decref(rows);
	return done > 0 ? (int)done : (i < json_array_size(rows) ? -1 : 0);
}

/* --- the inbox ------------------------------------------------------------------------------ */

struct inbox_ud {
	struct worker *w;
	const char *key;
};

static cs_err
inbox_done(void *ud, struct cs_error *e)
{
	struct inbox_ud *u = ud;
	return store_kv_del(u->w->st, u->w->ns_inbox, u->key, NULL, e);
}

/* Refuses an inbox item for good: the dead-letter queue, with the reason, and off the inbox. */
static cs_err
dead_letter(struct worker *w, const struct cs_mapping *m, const char *clm_id, const char *sf_id, const char *key,
            const json_t *item, const char *why)
{
	struct cs_error e = { 0 };
	struct sync_audit_row r = { .org = w->org->name, .mapping = m ? m->name : NULL,
		.entity = m ? cs_entity_name(m->entity) : NULL, .clm_id = clm_id, .sf_id = sf_id, .side = "clm",
		.decision = "dlq", .event = key, .detail = why };
	cs_err rc;

	log_warn("sync.dlq", "org %s: %s %s -> dead-letter queue: %s", w->org->name, m ? m->name : "-", sf_id ? sf_id : "",
	         why);
	if ((rc = store_begin(w->st, &e)) != CS_OK ||
	    (rc = sync_dlq_put(w->st, w, m ? m->name : NULL, clm_id, sf_id, "clm", w->ns_inbox, item, "REFUSED", why, &e)) != CS_OK ||
	    (rc = sync_audit_append(w->st, &r, NULL, &e)) != CS_OK ||
	    (rc = store_kv_del(w->st, w->ns_inbox, key, NULL, &e)) != CS_OK || (rc = store_commit(w->st, &e)) != CS_OK)
		store_rollback(w->st);
	atomic_fetch_add(&w->n_dlq, 1);
	return rc;
}

/* One Salesforce record's change: CS_OK (done, inbox entry removed), CS_ETIMEOUT (try later). */
static cs_err
plan_sf_record(struct worker *w, const struct cs_mapping *m, const char *sf_id, const json_t *item, const char *key,
               bool last)
{
	const char *type = json_string_value(json_object_get(item, "type"));
	const json_t *values = json_object_get(item, "values");
	bool ours = json_is_true(json_object_get(item, "ours"));
	struct inbox_ud iu = { w, key };
	struct cs_error e = { 0 };
	struct clm_fail cf;
	struct plan p;
	char clm_id[CLM_ID_MAX], why[512], event[STORE_KV_KEY_MAX];
	json_t *rec = NULL, *fetched = NULL;
	cs_err rc;

	snprintf(event, sizeof(event), "cdc:%s:%lld", json_string_value(json_object_get(item, "channel")) ?: "",
	         (long long)json_integer_value(json_object_get(item, "replay")));
	why[0] = '\0';
	rc = sync_link_by_sf(w->st, m, sf_id, clm_id, &e);
	if (rc != CS_OK && rc != CS_ENOTFOUND)
		return CS_ETIMEOUT;
	if (rc == CS_ENOTFOUND) {
		if (ours || strcmp(type, "DELETE") == 0)
			goto skip;     /* our own create (linked when its response is recorded), or gone */
		if (strcmp(type, "CREATE") != 0 || json_is_true(json_object_get(item, "fetch"))) {
			if (fetch_sf(w, m, sf_id, &fetched, why, sizeof(why)) != CS_OK)
				goto skip;
			values = fetched;
		}
		rc = create_from_sf(w, m, sf_id, values, event, clm_id, why, sizeof(why));
		json_decref(fetched);
		if (rc == CS_ETIMEOUT)
			return rc;
		if (rc == CS_EINVAL)
			return dead_letter(w, m, NULL, sf_id, key, item, why) == CS_OK ? CS_OK : CS_ETIMEOUT;
		goto skip;
	}
	plan_init(&p, w, m, clm_id, event);
	snprintf(p.sf_id, sizeof(p.sf_id), "%s", sf_id);
	if (sync_link_get(w->st, m, clm_id, &p.link, &e) != CS_OK) {
		plan_cleanup(&p);
		return CS_ETIMEOUT;
	}
	memset(&cf, 0, sizeof(cf));
	if (clm_get(w->clm, sync_kind_of(m->entity), NULL, clm_id, &rec, &cf) != CS_OK) {
		plan_cleanup(&p);
		if (cf.status >= 500)
			return CS_ETIMEOUT;
		goto skip;      /* deleted in the repository meanwhile: its delete is planned from the feed */
	}
	p.rec = rec;
	p.s_ms = json_integer_value(json_object_get(item, "commit_ms"));
	{
		int64_t ms = 0;
		const char *u = json_string_value(json_object_get(rec, "updated_at"));
		if (u != NULL && cs_datetime_parse(u, strlen(u), &ms))
			p.c_ms = ms;
	}
	if (strcmp(type, "DELETE") == 0) {
		audit(&p, "clm", NULL, NULL, NULL, m->on_delete.clm == CS_DELETE_IGNORE ? "ignored" : "deleted",
		      "deleted in Salesforce");
		if (m->on_delete.clm == CS_DELETE_DELETE || m->on_delete.clm == CS_DELETE_TERMINATE) {
			json_t *body = m->on_delete.clm == CS_DELETE_DELETE ? NULL :
			    json_pack("{s:s, s:s}", "to", "terminated", "reason", "deleted in Salesforce");
			memset(&cf, 0, sizeof(cf));
			rc = body ? clm_transition(w->clm, clm_id, body, -1, w->actor, NULL, &cf) :
			    clm_delete(w->clm, sync_kind_of(m->entity), clm_id, -1, w->actor, &cf);
			json_decref(body);
			if (rc != CS_OK && cf.status >= 500) {
				plan_cleanup(&p);
				json_decref(rec);
				return CS_ETIMEOUT;
			}
			if (rc != CS_OK && strcmp(cf.code, "invalid_transition") != 0) {
				snprintf(why, sizeof(why), "%s: %s", cf.code, cf.msg);
				plan_cleanup(&p);
				json_decref(rec);
				return dead_letter(w, m, clm_id, sf_id, key, item, why) == CS_OK ? CS_OK : CS_ETIMEOUT;
			}
			if (rc == CS_OK)
				atomic_fetch_add(&w->n_clm_writes, 1);
		}
		if (store_begin(w->st, &e) == CS_OK && sync_link_del(w->st, m, clm_id, &e) == CS_OK) {
			json_decref(p.link);
			p.link = NULL;
			store_commit(w->st, &e);
		} else
			store_rollback(w->st);
		rc = commit_plan(&p, last ? inbox_done : NULL, &iu, why, sizeof(why));
		plan_cleanup(&p);
		json_decref(rec);
		return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
	}
	if (strcmp(type, "UNDELETE") == 0 || json_is_true(json_object_get(item, "fetch"))) {
		if (fetch_sf(w, m, sf_id, &fetched, why, sizeof(why)) != CS_OK) {
			plan_cleanup(&p);
			json_decref(rec);
			return CS_ETIMEOUT;
		}
		values = fetched;
	}
	if (!plan_sf_side(&p, values, ours, fetched != NULL, why, sizeof(why))) {
		plan_cleanup(&p);
		json_decref(rec);
		json_decref(fetched);
		return dead_letter(w, m, clm_id, sf_id, key, item, why) == CS_OK ? CS_OK : CS_ETIMEOUT;
	}
	json_decref(fetched);
	rc = commit_plan(&p, last ? inbox_done : NULL, &iu, why, sizeof(why));
	plan_cleanup(&p);
	json_decref(rec);
	if (rc == CS_EINVAL)
		return dead_letter(w, m, clm_id, sf_id, key, item, why) == CS_OK ? CS_OK : CS_ETIMEOUT;
	return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
skip:
	if (!last)
		return CS_OK;
	if (store_begin(w->st, &e) != CS_OK || inbox_done(&iu, &e) != CS_OK || store_commit(w->st, &e) != CS_OK) {
		store_rollback(w->st);
		return CS_ETIMEOUT;
	}
	return CS_OK;
}

static cs_err
drop_item(struct worker *w, const char *key)
{
	struct cs_error e = { 0 };

	if (store_begin(w->st, &e) != CS_OK || store_kv_del(w->st, w->ns_inbox, key, NULL, &e) != CS_OK ||
	    store_commit(w->st, &e) != CS_OK) {
		store_rollback(w->st);
		log_warn("sync.inbox", "org %s: cannot take inbox entry %s: %s", w->org->name, key, e.msg);
		return CS_EIO;
	}
	return CS_OK;
}

/* An operator's resolution of a manual conflict: the chosen value goes to both sides. */
static cs_err
resolve_conflict(struct worker *w, const json_t *item)
{
	const char *ckey = json_string_value(json_object_get(item, "conflict"));
	const char *choice = json_string_value(json_object_get(item, "choice"));
	struct cs_error e = { 0 };
	struct clm_fail cf;
	json_t *c = NULL, *rec = NULL, *W;
	const struct cs_mapping *m = NULL;
	const struct cs_field_map *f = NULL;
	struct plan p;
	char why[512];
	cs_err rc;

	if (ckey == NULL || choice == NULL || store_kv_get(w->st, "conflict", ckey, &c, &e) != CS_OK) {
		log_info("sync.resolve", "org %s: conflict %s: already resolved", w->org->name, ckey ? ckey : "?");
		return CS_OK;
	}
	m = cs_config_mapping(w->cfg, json_string_value(json_object_get(c, "mapping")));
	for (size_t i = 0; m != NULL && i < m->nfields; i++)
		if (strcmp(m->fields[i].sf, json_string_value(json_object_get(c, "sf_field")) ?: "") == 0)
			f = &m->fields[i];
	if (f == NULL) {
		json_decref(c);
		return CS_OK;
	}
	W = strcmp(choice, "clm") == 0 ? json_object_get(c, "clm_value") :
	    strcmp(choice, "salesforce") == 0 ? json_object_get(c, "sf_value") : json_object_get(item, "value");
	plan_init(&p, w, m, json_string_value(json_object_get(c, "clm")), "operator");
	snprintf(p.sf_id, sizeof(p.sf_id), "%s", json_string_value(json_object_get(c, "sf")) ?: "");
	if (sync_link_get(w->st, m, p.clm_id, &p.link, &e) != CS_OK ||
	    clm_get(w->clm, sync_kind_of(m->entity), NULL, p.clm_id, &rec, (memset(&cf, 0, sizeof(cf)), &cf)) != CS_OK) {
		plan_cleanup(&p);
		json_decref(c);
		return CS_OK;
	}
	p.rec = rec;
	{
		char err[256];
		json_t *C = clm_value(&p, f, err, sizeof(err));
		if (!sync_value_equal(C, W))
			apply_clm(&p, f, W, err, sizeof(err));
		json_decref(C);
	}
	if (!sync_value_equal(json_object_get(c, "sf_value"), W))
		write_sf(&p, f, W);
	else
		set_base(&p, f, W);
	audit(&p, NULL, f, json_object_get(c, "base"), W, "resolved", choice);
	rc = commit_plan(&p, NULL, NULL, why, sizeof(why));
	if (rc == CS_EINVAL)
		log_warn("sync.resolve", "org %s: conflict %s: the repository refused the chosen value: %s", w->org->name,
		         ckey, why);
	else
		log_info("sync.resolve", "org %s: conflict %s resolved (%s)", w->org->name, ckey, choice);
	if (rc == CS_OK && (store_begin(w->st, &e) != CS_OK || store_kv_del(w->st, "conflict", ckey, NULL, &e) != CS_OK ||
	                    store_commit(w->st, &e) != CS_OK))
		store_rollback(w->st);
	plan_cleanup(&p);
	json_decref(rec);
	json_decref(c);
	return rc == CS_ETIMEOUT ? CS_ETIMEOUT : CS_OK;
}

static cs_err
run_reconcile_item(struct worker *w, const json_t *item)
{
	const char *mname = json_string_value(json_object_get(item, "mapping"));
	const char *req = json_string_value(json_object_get(item, "request"));
	const struct cs_mapping *m = mname ? cs_config_mapping(w->cfg, mname) : NULL;
	int64_t since = json_integer_value(json_object_get(item, "since_ms"));
	long long checked = 0, drift = 0;
	struct cs_error e = { 0 };
	cs_err rc;

	rc = sync_reconcile(w, m, since, json_is_true(json_object_get(item, "repair")), &checked, &drift, &e);
	log_info("sync.reconcile", "org %s: reconcile (%s): %lld records compared, %lld differed%s", w->org->name,
	         json_string_value(json_object_get(item, "why")) ?: "requested", checked, drift,
	         rc == CS_OK ? "" : " (stopped early)");
	if (req != NULL) {
		json_t *res = json_pack("{s:I, s:I, s:b, s:s}", "checked", (json_int_t)checked, "drift", (json_int_t)drift,
		    "ok", rc == CS_OK, "error", rc == CS_OK ? "" : e.msg);
		if (store_begin(w->st, &e) != CS_OK || store_kv_put(w->st, "reconcile", req, res, &e) != CS_OK ||
		    store_commit(w->st, &e) != CS_OK)
			store_rollback(w->st);
		json_decref(res);
	}
	return rc == CS_OK || req != NULL ? CS_OK : CS_ETIMEOUT;
}

int
sync_plan_inbox(struct worker *w)
{
	struct cs_error e = { 0 };
	json_t *items = NULL, *it;
	size_t i;
	int done = 0;

	if (store_kv_scan(w->st, w->ns_inbox, NULL, SYNC_BATCH_INBOX, &items, &e) != CS_OK) {
		items = NULL;
		log_warn("sync.inbox", "org %s: cannot read the inbox: %s", w->org->name, e.msg);
		return -1;
	}
	json_array_foreach(items, i, it) {
		const char *key = json_string_value(json_object_get(it, "key"));
		json_t *item = json_object_get(it, "doc");
		const char *t = json_string_value(json_object_get(item, "t"));
		const char *entity = json_string_value(json_object_get(item, "entity"));
		json_t *ids = json_object_get(item, "ids"), *idv;
		cs_err rc = CS_OK;
		size_t k;

		if (t == NULL) {
			rc = drop_item(w, key);
		} else if (strcmp(t, "reconcile") == 0) {
			atomic_fetch_add(&w->n_reconciles, 1);
			rc = run_reconcile_item(w, item);
			if (rc == CS_OK)
				rc = drop_item(w, key);
		} else if (strcmp(t, "plan") == 0) {
			/* a lookup target brought along by the applier */
			const struct cs_mapping *m = cs_config_mapping(w->cfg, json_string_value(json_object_get(item, "mapping")) ?: "");
			const char *cid = json_string_value(json_object_get(item, "clm"));
			struct inbox_ud iu = { w, key };
			rc = m && cid ? plan_record(w, m, cid, "update", "lookup", inbox_done, &iu) : drop_item(w, key);
		} else if (strcmp(t, "resolve") == 0) {
			rc = resolve_conflict(w, item);
			if (rc == CS_OK)
				rc = drop_item(w, key);
		} else if (strcmp(t, "overflow") == 0) {
			const struct cs_mapping *m = NULL;
			long long checked = 0, drift = 0;
			int64_t since = json_integer_value(json_object_get(item, "commit_ms")) -
			    (int64_t)w->cfg->sync.reconcile.overlap_s * 1000;
			atomic_fetch_add(&w->n_gaps, 1);
			for (size_t j = 0; j < w->nmaps; j++)
				if (entity && strcasecmp(w->maps[j]->sobject, entity) == 0)
					m = w->maps[j];
			if (m != NULL && sync_reconcile(w, m, since > 0 ? since : 0, true, &checked, &drift, &e) != CS_OK)
				rc = CS_ETIMEOUT;
			else
				rc = drop_item(w, key);
		} else {
			/* a change event, or a gap event whose ids are re-read from Salesforce */
			bool gap = strcmp(t, "gap") == 0;
			size_t nmatch = 0;
			if (gap) {
				json_object_set_new(item, "fetch", json_true());
				atomic_fetch_add(&w->n_gaps, 1);
			}
			for (size_t j = 0; j < w->nmaps && rc == CS_OK; j++) {
				const struct cs_mapping *m = w->maps[j];
				if (entity == NULL || strcasecmp(m->sobject, entity) != 0)
					continue;
				nmatch++;
				json_array_foreach(ids, k, idv) {
					bool last = k + 1 == json_array_size(ids);
					if (!json_is_string(idv))
						continue;
					/* only the last id's plan removes the entry: a crash part-way replans the
					 * others, which then find both sides equal */
					rc = plan_sf_record(w, m, json_string_value(idv), item, key, last);
					if (rc != CS_OK)
						break;
				}
			}
			if (rc == CS_OK && (nmatch == 0 || json_array_size(ids) == 0))
				rc = drop_item(w, key);
			else if (rc == CS_OK && nmatch > 1)
				rc = drop_item(w, key);
		}
		if (rc != CS_OK) {
			w->inbox_retry_ms = cs_time_mono_ms() + 500;
			atomic_fetch_add(&w->n_retries, 1);
			break;
		}
		done++;
	}
	json_decref(items);
	return done;
}

/* --- reconcile ----------------------------------------------------------------------------- */

struct rec_ud {
	struct worker *w;
	const struct cs_mapping *m;
	bool repair;
	long long checked, drift;
	cs_err err;
};

static int
reconcile_one(void *ud, const json_t *sfrec)
{
	struct rec_ud *r = ud;
	struct worker *w = r->w;
	const char *sf_id = json_string_value(json_object_get(sfrec, "Id"));
	char clm_id[CLM_ID_MAX], why[512];
	struct cs_error e = { 0 };
	struct clm_fail cf;
	struct plan p;
	json_t *rec = NULL;
	cs_err rc;

	if (sf_id == NULL || atomic_load(&w->stop))
		return 1;
	r->checked++;
	rc = sync_link_by_sf(w->st, r->m, sf_id, clm_id, &e);
	if (rc == CS_ENOTFOUND) {
		const json_t *ext = r->m->external_id_field[0] ? json_object_get(sfrec, r->m->external_id_field) : NULL;
		if (!json_is_string(ext) && r->m->on_create.clm != CS_CREATE_CREATE)
			return 0;
		r->drift++;
		if (r->repair) {
			rc = create_from_sf(w, r->m, sf_id, sfrec, "reconcile", clm_id, why, sizeof(why));
			if (rc != CS_OK && rc != CS_ENOTFOUND)
				log_warn("sync.reconcile", "org %s: %s %s: %s", w->org->name, r->m->name, sf_id, why);
		}
		return 0;
	}
	if (rc != CS_OK) {
		r->err = rc;
		return 1;
	}
	plan_init(&p, w, r->m, clm_id, "reconcile");
	snprintf(p.sf_id, sizeof(p.sf_id), "%s", sf_id);
	memset(&cf, 0, sizeof(cf));
	if (sync_link_get(w->st, r->m, clm_id, &p.link, &e) != CS_OK ||
	    clm_get(w->clm, sync_kind_of(r->m->entity), NULL, clm_id, &rec, &cf) != CS_OK) {
		plan_cleanup(&p);
		return 0;
	}
	p.rec = rec;
	if (plan_sf_side(&p, sfrec, false, true, why, sizeof(why)) &&
	    (json_object_size(p.patch) > 0 || json_object_size(p.sfw) > 0 || json_array_size(p.conflicts) > 0)) {
		r->drift++;
		atomic_fetch_add(&w->n_drift, 1);
		audit(&p, NULL, NULL, NULL, NULL, "drift", r->repair ? "repaired" : "reported");
	}
	if (r->repair || (p.dirty && json_object_size(p.patch) == 0 && json_object_size(p.sfw) == 0 &&
	                  json_array_size(p.conflicts) == 0)) {
		if (commit_plan(&p, NULL, NULL, why, sizeof(why)) == CS_EINVAL)
			log_warn("sync.reconcile", "org %s: %s %s: %s", w->org->name, r->m->name, clm_id, why);
	}
	plan_cleanup(&p);
	json_decref(rec);
	return 0;
}

static cs_err
reconcile_mapping(struct worker *w, const struct cs_mapping *m, int64_t since_ms, bool repair, long long *checked,
                  long long *drift, struct cs_error *e)
{
	struct sf_soql q;
	struct sf_error se;
	struct rec_ud r = { w, m, repair, 0, 0, CS_OK };
	const char *text;
	cs_err rc;

	sf_soql_init(&q);
	sf_soql_kw(&q, "SELECT Id");
	if (m->external_id_field[0] != '\0') {
		sf_soql_kw(&q, ", ");
		sf_soql_name(&q, m->external_id_field);
	}
	for (size_t i = 0; i < m->nfields; i++) {
		if (!sync_sf_field_first(m, i))
			continue;
		sf_soql_kw(&q, ", ");
		sf_soql_name(&q, m->fields[i].sf);
	}
	sf_soql_kw(&q, " FROM ");
	sf_soql_name(&q, m->sobject);
	if (since_ms > 0) {
		sf_soql_kw(&q, " WHERE SystemModstamp >= ");
		sf_soql_datetime(&q, since_ms);
	} else if (m->match.by == CS_MATCH_KEYS) {
		/* records matched by key are those the repository names: linked ones are compared */
		sf_soql_kw(&q, " WHERE Id != null");
	}
	sf_soql_kw(&q, " ORDER BY Id");
	if ((text = sf_soql_text(&q, &rc)) == NULL) {
		sf_soql_cleanup(&q);
		return cs_error_set(e, rc, "%s: cannot build the reconcile query", m->name);
	}
	sf_error_clear(&se);
	rc = sf_query(w->sc, text, 0, 2000, reconcile_one, &r, NULL, &se);
	atomic_fetch_add(&w->n_sf_calls, 1);
	sf_soql_cleanup(&q);
	*checked += r.checked;
	*drift += r.drift;
	if (rc != CS_OK)
		return cs_error_set(e, rc, "%s: %s", m->name, se.message[0] ? se.message : cs_strerror(rc));
	if (r.err != CS_OK)
		return cs_error_set(e, r.err, "%s: the store failed", m->name);
	/* repository records of the mapping never linked (a create that was missed) */
	if (since_ms == 0 && m->on_create.salesforce == CS_CREATE_CREATE && m->external_id_field[0] != '\0') {
		char cursor[STORE_CURSOR_MAX] = "";
		for (;;) {
			struct clm_list_q lq = { .kind = sync_kind_of(m->entity), .cursor = cursor[0] ? cursor : NULL,
			                         .limit = CLM_LIST_MAX };
			struct clm_fail cf;
			json_t *page = NULL, *row, *link;
			size_t i;
			memset(&cf, 0, sizeof(cf));
			if (clm_list(w->clm, &lq, &page, &cf) != CS_OK)
				return cs_error_set(e, CS_EIO, "%s: cannot list the repository: %s", m->name, cf.msg);
			json_array_foreach(json_object_get(page, "data"), i, row) {
				const char *id = json_string_value(json_object_get(row, "id"));
				if (id == NULL)
					continue;
				(*checked)++;
				link = NULL;
				if (sync_link_get(w->st, m, id, &link, e) == CS_ENOTFOUND && sync_routed(m, row)) {
					(*drift)++;
					if (repair)
						plan_record(w, m, id, "update", "reconcile", NULL, NULL);
				}
				json_decref(link);
			}
			row = json_object_get(page, "next_cursor");
			if (!json_is_string(row) || strlen(json_string_value(row)) >= sizeof(cursor)) {
				json_decref(page);
				break;
			}
			snprintf(cursor, sizeof(cursor), "%s", json_string_value(row));
			json_decref(page);
		}
	}
	return CS_OK;
}

cs_err
sync_reconcile(struct worker *w, const struct cs_mapping *m, int64_t since_ms, bool repair, long long *checked,
               long long *drift, struct cs_error *e)
{
	cs_err rc = CS_OK;

	*checked = *drift = 0;
	for (size_t i = 0; i < w->nmaps && rc == CS_OK; i++) {
		if (m != NULL && w->maps[i] != m)
			continue;
		rc = reconcile_mapping(w, w->maps[i], since_ms, repair, checked, drift, e);
	}
	return rc;
}

/* plan.c - the planner: each change from either side compared per field with the shadow, then applied, written back, parked or refused. */
#include "sync/audit.h"
#include "sync/sent.h"
#include "sync/sync_int.h"
#include "sync/value.h"
#include "util/json.h"
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
	json_t *ro;             /* a whole read's fields that hold a value of ours (read_ours) */
	bool read_new;          /* a whole read newer than the last one is planned (read_at) */
	bool stale;             /* an event older than the record as last read whole, weighed only
	                         * for fields that read showed holding a value of ours (sfro) */
	bool unit_open;         /* its unit is open already (a record created in it): commit_plan
	                         * joins it instead of beginning one */
	bool read_failed;       /* the store failed a read the plan weighed by (an open conflict,
	                         * a value's history): commit_plan refuses it, so it is made again */
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
	json_decref(p->ro);
}

/* The value of m's route field in rec (a record, or a create body: the same shape), or NULL. */
static const json_t *
route_value(const struct cs_mapping *m, const json_t *rec)
{
	if (strncmp(m->route.field, "custom.", 7) == 0)
		return json_object_get(json_object_get(rec, "custom"), m->route.field + 7);
	return json_object_get(rec, m->route.field);
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

/* The base of Salesforce field sf (a mapped field's f->sf) becomes v. */
static void
set_base_sf(struct plan *p, const char *sf, json_t *v)
{
	json_t *b = json_object_get(p->link, "base");

	if (b == NULL) {
		json_object_set_new(p->link, "base", json_object());
		b = json_object_get(p->link, "base");
	}
	json_object_set_new(b, sf, v ? json_incref(v) : json_null());
	p->dirty = true;
}

static void
set_base(struct plan *p, const struct cs_field_map *f, json_t *v)
{
	set_base_sf(p, f->sf, v);
}

/* The value of f in flight to Salesforce (the latest one), or NULL. */
static json_t *
pending_of(struct plan *p, const struct cs_field_map *f)
{
	return sync_sent_pending(json_object_get(p->link, "sent"), f->sf);
}

int64_t sync_sent_keep_ms = SYNC_SENT_KEEP_MS;

/* Retires the writes whose change event has not come, forgets old retired ones (sent.h). */
static void
prune_sent(struct plan *p)
{
	p->dirty |= sync_sent_prune(json_object_get(p->link, "sent"), cs_time_now_ms(), sync_sent_keep_ms,
	                            SYNC_MARK_KEEP_MS, SYNC_SENT_DONE_MAX);
}

static void
write_sf(struct plan *p, const struct cs_field_map *f, json_t *v)
{
	json_object_set_new(p->sfw, f->sf, v ? json_incref(v) : json_null());
}

/* When the repository's record took the value C of f: the updated_at of the oldest of the latest
 * versions that all hold C (its history, read on the worker's connection, which sees its own
 * uncommitted writes), else the record's updated_at. A change of another field of the record
 * since does not make this one newer. */
static int64_t
clm_field_time(struct plan *p, const struct cs_field_map *f, const json_t *C)
{
	struct clm_fail cf;
	json_t *h = NULL, *data;
	int64_t t = p->c_ms;

	memset(&cf, 0, sizeof(cf));
	if (C == NULL)
		return p->c_ms;
	if (clm_history_in(p->w->clm, p->w->st, sync_kind_of(p->m->entity), p->clm_id, &h, &cf) != CS_OK) {
		/* the store failed: undated, the repository's value would pass for the newest, so
		 * the plan is made again instead */
		p->read_failed |= cf.status >= 500;
		return p->c_ms;
	}
	data = json_object_get(h, "data");
	for (size_t i = json_array_size(data); i-- > 0;) {
		const json_t *row = json_array_get(data, i);
		const char *u = json_string_value(json_object_get(row, "updated_at"));
		char err[128];
		json_t *v = NULL;
		int64_t ms = 0;
		bool same = sync_value_from_clm(f, json_object_get(row, "record"), &v, err, sizeof(err)) == SYNC_VAL_OK &&
		    v != NULL && sync_value_equal(v, C);

		json_decref(v);
		if (!same || u == NULL || !cs_datetime_parse(u, strlen(u), &ms))
			break;
		t = ms;
	}
	json_decref(h);
	return t;
}

/* When the repository's value of f was last written: when the record took it (clm_field_time),
 * unless the value it holds is one the engine brought from Salesforce (apply_clm), which dates
 * from Salesforce's commit of it. Planned behind a stream, the engine writes a Salesforce value
 * into the repository later than Salesforce made it; a later Salesforce edit of the same field,
 * already made when that value reached the repository, must still count as the later one for
 * last_writer_wins. *from_sf says which: a value from Salesforce loses a tie to a later
 * Salesforce change (the stream's order is Salesforce's own). */
static int64_t
clm_time(struct plan *p, const struct cs_field_map *f, const json_t *C, bool *from_sf)
{
	json_t *t = json_object_get(json_object_get(p->link, "vt"), f->sf);

	*from_sf = t != NULL && json_integer_value(json_object_get(t, "ms")) > 0 && C != NULL &&
	    sync_value_equal(json_object_get(t, "v"), C);
	return *from_sf ? json_integer_value(json_object_get(t, "ms")) : clm_field_time(p, f, C);
}

static bool
apply_clm(struct plan *p, const struct cs_field_map *f, json_t *v, char *err, size_t errn)
{
	json_t *vt;

	if (sync_value_to_clm(f, v, p->rec, p->patch, err, errn) != SYNC_VAL_OK)
		return false;
	set_base(p, f, v);
	/* a value from Salesforce, with the time Salesforce committed it (clm_time) */
	vt = json_object_get(p->link, "vt");
	if (p->s_ms > 0) {
		if (vt == NULL) {
			json_object_set_new(p->link, "vt", json_object());
			vt = json_object_get(p->link, "vt");
		}
		json_object_set_new(vt, f->sf, json_pack("{s:O?, s:I}", "v", v, "ms", (json_int_t)p->s_ms));
	} else
		json_object_del(vt, f->sf);
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
	if (!sync_conflict_key(p->m, p->clm_id, f, out, n))
		out[0] = '\0';
}

static bool
conflict_open(struct plan *p, const struct cs_field_map *f)
{
	char key[STORE_KV_KEY_MAX];
	json_t *d = NULL;
	struct cs_error e = { 0 };

	cs_err rc;

	if (f->owner != CS_OWNER_BOTH || f->conflict != CS_CONFLICT_MANUAL)
		return false;
	conflict_key(p, f, key, sizeof(key));
	if ((rc = store_kv_get(p->w->st, "conflict", key, &d, &e)) == CS_ENOTFOUND)
		return false;
	/* not known: held, as if open, and the plan is made again (taken for none, a change would
	 * pass over a conflict a person has yet to settle) */
	if (rc != CS_OK)
		p->read_failed = true;
	json_decref(d);
	return true;
}

/* A side changed f again while its conflict is open: the parked row shows the side's value now
 * (what = "clm_value" or "sf_value"), so that choosing that side takes its latest value. False
 * when the row shows that value already: nothing new (a reconcile reading the sides again). */
static bool
conflict_follow(struct plan *p, const struct cs_field_map *f, const char *what, json_t *v)
{
	struct cs_error e = { 0 };
	char key[STORE_KV_KEY_MAX];
	json_t *d = NULL;
	bool changed = false;

	cs_err rc;

	conflict_key(p, f, key, sizeof(key));
	if ((rc = store_kv_get(p->w->st, "conflict", key, &d, &e)) != CS_OK) {
		p->read_failed |= rc != CS_ENOTFOUND;
		return false;
	}
	if (!sync_value_equal(json_object_get(d, what), v) && json_object_set(d, what, v ? v : json_null()) == 0) {
		json_array_append_new(p->conflicts, json_pack("[s, O]", key, d));
		changed = true;
	}
	json_decref(d);
	return changed;
}

/* A change the repository made to f (C), Salesforce holding S (the shadow, or what we last sent). */
static void
clm_change(struct plan *p, const struct cs_field_map *f, json_t *C, json_t *S)
{
	char err[256];

	/* the repository's own change: its value no longer dates from Salesforce (clm_time) */
	if (json_object_del(json_object_get(p->link, "vt"), f->sf) == 0)
		p->dirty = true;
	if (conflict_open(p, f)) {
		if (conflict_follow(p, f, "clm_value", C))
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
		if (apply_clm(p, f, S, err, sizeof(err))) {
			/* a write of ours still on its way would land over it: S follows it */
			if (pending)
				write_sf(p, f, S);
			audit(p, "clm", f, C, S, "applied", NULL);
		} else
			audit(p, "clm", f, C, S, "error", err);
		return;
	}
	if (f->non_owner_write == CS_NON_OWNER_IGNORE) {
		audit(p, "salesforce", f, C, S, "ignored", "the field is owned by the repository");
		return;
	}
	/* revert: Salesforce must hold C again, unless a write of C is still to come. A write of C
	 * that has landed already (answered, or its own event seen) was overwritten by this edit:
	 * it is reverted again. */
	if (!pending || !sync_sent_queued(json_object_get(p->link, "sent"), f->sf, C))
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
	sync_count(p->w, p->m, SYNC_MC_CONFLICT);
	switch (f->conflict) {
	case CS_CONFLICT_MANUAL:
		conflict_key(p, f, key, sizeof(key));
		cs_time_format_iso(cs_time_now_ms(), ts, sizeof(ts));
		json_array_append_new(p->conflicts, json_pack("[s, {s:s, s:s, s:s, s:s, s:s, s:s, s:O?, s:O?, s:O?, s:s}]",
		    key, "org", p->w->org->name, "mapping", p->m->name, "clm", p->clm_id, "sf", p->sf_id,
		    "field", f->clm, "sf_field", f->sf, "base", base_of(p, f), "clm_value", C, "sf_value", S, "ts", ts));
		audit(p, NULL, f, C, S, "conflict", "manual: parked until resolved");
		/* a write of the repository's value planned before Salesforce's change was seen is
		 * not made: the applier leaves out a field a conflict holds (apply.c withhold) */
		if (pending && sync_sent_withdraw(json_object_get(p->link, "sent"), f->sf))
			p->dirty = true;
		return;
	case CS_CONFLICT_CLM_WINS:
		W = C;
		break;
	case CS_CONFLICT_SALESFORCE_WINS:
		W = S;
		break;
	default: {
		bool from_sf;
		int64_t c_ms = clm_time(p, f, C, &from_sf);
		W = p->s_ms > c_ms || (from_sf && p->s_ms == c_ms) ? S : C;
		break;
	}
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

/* What a repository-side pass does with field f, whose repository value is C. *S gets what
 * Salesforce holds as far as the link knows. */
enum clm_step { CLM_STEP_NONE, CLM_STEP_BASE, CLM_STEP_WRITE, CLM_STEP_CHANGE };

static enum clm_step
clm_step(struct plan *p, const struct cs_field_map *f, json_t *C, bool creating, json_t **S)
{
	json_t *B = base_of(p, f);

	/* a write of ours on its way is what Salesforce will hold; not one a whole read made
	 * since overtook (sent.h): the base, which that read set, is */
	*S = sync_sent_read_over(json_object_get(p->link, "sent"), f->sf) ? NULL : pending_of(p, f);
	if (*S == NULL)
		*S = B;
	if (B == NULL && creating && json_is_null(C))
		return CLM_STEP_BASE;
	if (B == NULL && *S != NULL && sync_value_equal(C, *S)) {
		/* never compared, and a write of this very value is on its way (the create, its
		 * answer awaited): written again, it would ride in the later write, which keeps the
		 * earlier write's answer from giving the field its base (apply.c), and a Salesforce
		 * edit made in between would be weighed as a first comparison */
		return CLM_STEP_NONE;
	}
	if (B != NULL && sync_value_equal(C, *S))
		return CLM_STEP_NONE;
	if (B == NULL && f->owner == CS_OWNER_SALESFORCE && !creating)
		return CLM_STEP_NONE;      /* never synced, owned by Salesforce: its value comes from there */
	return B == NULL ? CLM_STEP_WRITE : CLM_STEP_CHANGE;
}

/* Plans a repository-side pass over every field (a feed row, a new link, a reconcile). */
static void
plan_clm_side(struct plan *p, bool creating)
{
	prune_sent(p);
	for (size_t i = 0; i < p->m->nfields; i++) {
		const struct cs_field_map *f = &p->m->fields[i];
		char err[256];
		json_t *C = clm_value(p, f, err, sizeof(err)), *S;

		if (C == NULL) {
			if (err[0] != '\0')
				audit(p, "salesforce", f, NULL, NULL, "error", err);
			continue;
		}
		switch (clm_step(p, f, C, creating, &S)) {
		case CLM_STEP_NONE: break;
		case CLM_STEP_BASE: set_base(p, f, C); break;
		case CLM_STEP_WRITE: write_sf(p, f, C); break;
		case CLM_STEP_CHANGE: clm_change(p, f, C, S); break;
		}
		json_decref(C);
	}
}

/* Whether a repository-side pass over record rec, with the link as the plan leaves it, would
 * find nothing to do: no field to write, revert or weigh, none in error, and the record still
 * routed to the mapping's org. Then the feed row of the plan's own write of rec has nothing
 * left to plan (sync_settled_note). Reads nothing from the store. */
static bool
clm_side_settled(struct plan *p, const json_t *rec)
{
	const json_t *saved = p->rec;
	bool settled = p->m->route.kind != CS_ROUTE_PARENT && sync_routed(p->m, rec);

	p->rec = (json_t *)rec;
	for (size_t i = 0; settled && i < p->m->nfields; i++) {
		const struct cs_field_map *f = &p->m->fields[i];
		char err[256];
		json_t *C = clm_value(p, f, err, sizeof(err)), *S;

		if (C == NULL)
			settled = err[0] == '\0';
		else
			settled = clm_step(p, f, C, false, &S) == CLM_STEP_NONE;
		json_decref(C);
	}
	p->rec = (json_t *)saved;
	return settled;
}

/* Translates the Salesforce id of a lookup into the repository id of its target (new string
 * reference), creating the target from Salesforce when it is not linked yet and its mapping
 * allows. NULL with err set when it cannot. */
static cs_err create_from_sf(struct worker *w, const struct cs_mapping *m, const char *sf_id, const json_t *values,
                             const char *event, const char *drift, char clm_id[CLM_ID_MAX], char *err, size_t errn);

static json_t *
lookup_to_clm(struct worker *w, const struct cs_field_map *f, json_t *S, const char *event, char *err, size_t errn)
{
	char cid[CLM_ID_MAX] = "";   /* never handed on unset, even by a callee that fails to say so */
	struct cs_error e = { 0 };
	const char *sid = json_string_value(S);
	cs_err rc;

	if (f->lookup_to == NULL || f->kind == CS_VALUE_SFID || sid == NULL)
		return json_incref(S);
	rc = sync_link_by_sf(w->st, f->lookup_to, sid, cid, &e);
	if (rc == CS_ENOTFOUND) {
		rc = create_from_sf(w, f->lookup_to, sid, NULL, event, NULL, cid, err, errn);
		if (rc != CS_OK && rc != CS_EINVAL && rc != CS_ENOTFOUND)
			rc = CS_ETIMEOUT;
	} else if (rc != CS_OK) {
		snprintf(err, errn, "%s", e.msg);
		rc = CS_ETIMEOUT;       /* the store's trouble passes */
	}
	/* a failure that may pass (Salesforce busy, the store locked) must not dead-letter the
	 * change that needed the target: dead_letter() sees this and has the change retried */
	if (rc == CS_ETIMEOUT)
		w->transient = true;
	return rc == CS_OK ? json_string(cid) : NULL;
}

static bool older_than_read(const struct plan *p, int64_t commit_ms);
static void read_ours(struct plan *p, const struct cs_field_map *f);

/* What our own change event's value S of f is (sent.h). None of ours (automation in Salesforce
 * changed the field in our write's transaction): weighed as Salesforce's. One of ours: an echo,
 * while the latest write of f is still to show (it lands over S; an event that only came late,
 * the stream behind, shows an older value), or when S is the last value of ours known to have
 * landed (the latest entry in flight once an event showed it; with none, the base once the latest
 * retired write was shown). Any other value of ours is a write Salesforce served late, after a
 * newer one (on its way when the engine was killed, or its answer timed out): Salesforce now
 * holds an older value of ours, and the latest is written again. An event older than the record
 * as last read whole, or on a link a backfill has, is an echo. */
enum ours { OURS_NOT, OURS_ECHO, OURS_RESTORED };

static enum ours
ours_value(struct plan *p, const struct cs_field_map *f, json_t *S)
{
	const json_t *sent = json_object_get(p->link, "sent");
	bool landed = false;
	json_t *L, *want;

	if (!sync_sent_wrote(sent, f->sf, S))
		return OURS_NOT;
	L = sync_sent_latest(sent, f->sf, &landed);
	if (L != NULL)
		want = landed ? L : NULL;
	else
		want = sync_sent_last_shown(sent, f->sf) ? base_of(p, f) : NULL;
	if (want == NULL || sync_value_equal(S, want) || older_than_read(p, p->s_ms) ||
	    json_object_get(p->link, "backfill") != NULL)
		return OURS_ECHO;
	write_sf(p, f, want);
	audit(p, "salesforce", f, S, want, "restored", "an older write of ours landed after a newer one");
	return OURS_RESTORED;
}

/* Plans Salesforce values (an event's, a fetched record's) against the repository record. all:
 * every field is compared, not only those values carries (reconcile, a new link). */
static bool
plan_sf_side(struct plan *p, const json_t *values, bool ours, bool all, char *err, size_t errn)
{
	json_t *shown = ours ? json_object() : NULL;   /* the values our own event shows */

	prune_sent(p);
	for (size_t i = 0; i < p->m->nfields; i++) {
		const struct cs_field_map *f = &p->m->fields[i];
		char ferr[256];
		json_t *S = NULL, *Sraw = NULL, *C, *B, *pend;
		bool present = false;
		enum ours kind;

		if (sync_value_from_sf(f, values, &present, &Sraw, ferr, sizeof(ferr)) != SYNC_VAL_OK) {
			snprintf(err, errn, "%s", ferr);
			json_decref(shown);
			return false;
		}
		if (!present)
			continue;
		if (p->stale && json_object_get(json_object_get(p->link, "sfro"), f->sf) == NULL)
			continue;
		S = lookup_to_clm(p->w, f, Sraw, p->event, ferr, sizeof(ferr));
		json_decref(Sraw);
		if (S == NULL) {
			snprintf(err, errn, "%s", ferr);
			json_decref(shown);
			return false;
		}
		if (all && sync_sent_wrote(json_object_get(p->link, "sent"), f->sf, S))
			read_ours(p, f);
		kind = ours ? ours_value(p, f, S) : OURS_NOT;
		if (kind == OURS_RESTORED) {
			json_decref(S);
			continue;
		}
		if (shown != NULL)
			json_object_set(shown, f->sf, S);
		if (kind == OURS_ECHO) {
			atomic_fetch_add(&p->w->n_echo, 1);
			sync_count(p->w, p->m, SYNC_MC_ECHO);
			json_decref(S);
			continue;
		}
		B = base_of(p, f);
		pend = pending_of(p, f);
		/* a whole-record read is made now: a write of ours already answered landed before
		 * it, and what it shows came after; only an unanswered write is still on its way */
		if (all && pend != NULL && !sync_sent_unanswered(json_object_get(p->link, "sent"), f->sf)) {
			pend = NULL;
			/* and once planned, what the read shows (now the base) is what the
			 * repository's side is weighed against, not the answered write's value */
			p->dirty |= sync_sent_overtaken(json_object_get(p->link, "sent"), f->sf);
		}
		/* an event committed before a write of ours was answered, when that write is no longer
		 * awaited (the stream fell behind by more than SYNC_SENT_KEEP_MS) but its own event has
		 * not come: the write landed after this change, which is weighed against it by time */
		if (pend == NULL && !all && !ours && p->s_ms > 0)
			pend = sync_sent_unshown_since(json_object_get(p->link, "sent"), f->sf, p->s_ms);
		/* Salesforce holds the value both sides last agreed on: it has not changed it, even
		 * when a write of ours is still on its way (a whole-record read, a gap or a reconcile,
		 * made before our write landed, shows the old value; it is no edit to weigh against
		 * the repository's) */
		if (B != NULL && sync_value_equal(S, B)) {
			json_decref(S);
			continue;
		}
		C = clm_value(p, f, ferr, sizeof(ferr));
		if (C == NULL) {
			json_decref(S);
			continue;
		}
		/* both sides hold the same value: nothing to weigh, also while a write of that very
		 * value is still on its way (its answer lost, say) */
		if (sync_value_equal(S, C) && (pend == NULL || sync_value_equal(pend, C))) {
			if (B == NULL || !sync_value_equal(B, S))
				set_base(p, f, S);
		} else if (conflict_open(p, f)) {
			if (conflict_follow(p, f, "sf_value", S))
				audit(p, "clm", f, C, S, "held", "an open conflict holds this field");
		} else if (p->stale) {
			/* older than the read, under a write of ours that landed after it: weighed when
			 * it is later than the repository's value, as any event against a write of ours
			 * on its way; an earlier one the repository's value (ours, now in Salesforce)
			 * already followed */
			bool from_sf;
			if (p->s_ms > clm_time(p, f, C, &from_sf))
				conflict(p, f, S, C, pend != NULL);
		} else if (all && !ours && pend != NULL &&
		           sync_sent_wrote(json_object_get(p->link, "sent"), f->sf, S)) {
			/* a whole-record read shows a value an earlier write of ours left, not an edit:
			 * the write on its way lands over it (weighed as Salesforce's, the repository
			 * would take that older value back) */
		} else if (B == NULL && (all || p->rec != NULL) && f->owner == CS_OWNER_CLM) {
			/* never compared: the owner's value counts; that Salesforce holds another is no
			 * edit by a non-owner (there was nothing to edit), so no non_owner_write policy */
			if (pend == NULL || !sync_value_equal(pend, C))
				write_sf(p, f, C);
			audit(p, "salesforce", f, S, C, "applied", "first comparison: the field is owned by the repository");
		} else if (B == NULL && (all || p->rec != NULL)) {
			/* never compared: the owner's value counts (Salesforce's, or the conflict policy) */
			conflict(p, f, S, C, pend != NULL);
		} else if (!sync_value_equal(C, B) || (pend != NULL && p->s_ms > 0)) {
			/* both changed; or an event, dated, while a write of ours is on its way: which
			 * one came last decides */
			conflict(p, f, S, C, pend != NULL);
		} else
			/* only Salesforce changed: also in a reconcile's read (undated, current) while a
			 * write of ours is on its way (a revert, a restore after a conflict), which would
			 * land over Salesforce's value: the repository has not changed since the value
			 * both sides agreed on, so Salesforce's later edit is the one to keep. Weighed as
			 * a conflict, an undated read lost to any repository time (last_writer_wins) */
			sf_change(p, f, S, C, pend != NULL);
		json_decref(C);
		json_decref(S);
	}
	/* our own change event: the write it comes from is no longer awaited (sent.h); a write
	 * still unanswered (its answer lost) landed, and its values are the base from here on */
	if (shown != NULL) {
		json_t *landed = json_object();
		const char *k;
		json_t *v;

		p->dirty |= sync_sent_retire(json_object_get(p->link, "sent"), shown, landed, cs_time_now_ms());
		json_object_foreach(landed, k, v)
			set_base_sf(p, k, v);
		json_decref(landed);
	}
	json_decref(shown);
	return true;
}

/* Writes the plan in one unit (sync_txn_begin): the repository change (clm_update_in), the
 * link, the outbox entry, conflicts, audit rows and done_fn's own rows commit together.
 * Returns CS_OK, CS_EINVAL when the repository refused the change, CS_ECONFLICT when the record
 * changed since the plan read it, CS_ETIMEOUT when it or the store failed for now (*why says
 * why; nothing was written: the caller plans it again, never takes its cause as handled). */
static cs_err
commit_plan(struct plan *p, cs_err (*done_fn)(void *ud, struct cs_error *e), void *ud, char *why, size_t whyn)
{
	struct worker *w = p->w;
	struct cs_error e = { 0 };
	struct clm_fail cf;
	json_t *it, *post = NULL;
	bool wrote_clm = false;
	size_t i;
	cs_err rc;

	if (!p->unit_open && (rc = sync_txn_begin(w, &e)) != CS_OK)
		goto fail;
	p->unit_open = false;      /* whatever happens below ends the unit */
	if (p->read_failed) {
		rc = cs_error_set(&e, CS_EIO, "the store failed a read the plan depends on: planned again");
		goto fail;
	}
	/* A link a backfill has not finished is the one link another process writes: read before
	 * this unit began, it may have been finished since (backfill.c finish_links), and writing
	 * it back would undo that. The plan is then made again from what is stored. */
	if (p->link != NULL && json_object_get(p->link, "backfill") != NULL) {
		json_t *now = NULL;
		cs_err g = sync_link_get(w->st, p->m, p->clm_id, &now, &e);
		bool finished = g == CS_ENOTFOUND || (g == CS_OK && json_object_get(now, "backfill") == NULL);

		json_decref(now);
		if (g != CS_OK && g != CS_ENOTFOUND)
			goto fail;
		if (finished) {
			sync_txn_rollback(w);
			snprintf(why, whyn, "the backfill finished this link meanwhile: planned again");
			return CS_ETIMEOUT;
		}
	}
	if (json_object_size(p->patch) > 0) {
		long long seq = 0;

		memset(&cf, 0, sizeof(cf));
		/* The record is written only at the version the plan read. The first plan of a group
		 * reads before its unit takes the write lock, and the repository's writer may commit
		 * in between: written blindly, the patch would undo that newer edit, whose feed row
		 * would then find the repository equal to the base set here. The record as written
		 * tells whether the write's own feed row has anything left to plan (below). */
		rc = clm_update_in(w->clm, w->st, sync_kind_of(p->m->entity), NULL, p->clm_id, p->patch,
		                   p->rec != NULL ? cs_json_get_int(p->rec, "version", -1) : -1, w->actor, &post, &seq, &cf);
		if (rc != CS_OK) {
			sync_txn_rollback(w);
			snprintf(why, whyn, "%s: %s", cf.code, cf.msg);
			if (cf.status == 412)
				return CS_ECONFLICT;
			return cf.status >= 500 ? CS_ETIMEOUT : CS_EINVAL;
		}
		sync_txn_clm(w, seq);
		wrote_clm = true;
	}
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
		rc = (w->n_pushed++, sync_queue_push(w->st, w->ns_outbox, ob, &e));
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
	if ((rc = sync_txn_commit(w, &e)) != CS_OK)
		goto fail;
	if (wrote_clm) {
		/* The write comes back as a feed row, which a plan of this mapping would find equal to
		 * the link in every field, the write's own values and the rest alike: unless something
		 * differs (a value the repository keeps in its own form, a field it derives, a value in
		 * error, a route that moved), that plan is not made (sync_plan_feed). */
		if (post != NULL)
			sync_settled_note(w, p->m, p->clm_id, cs_json_get_int(post, "version", -1),
			                  clm_side_settled(p, post));
		json_decref(post);
		/* counted when released into its unit; a group lost later plans it again */
		atomic_fetch_add(&w->n_clm_writes, 1);
		sync_count(w, p->m, SYNC_MC_TO_CLM);
		if (p->s_ms > 0)
			sync_observe(w, SYNC_TO_CLM, cs_time_now_ms() - p->s_ms);
	}
	return CS_OK;
fail:
	json_decref(post);
	sync_txn_rollback(w);
	snprintf(why, whyn, "%s", e.msg);
	log_warn("sync.plan", "org %s: %s %s: cannot commit: %s", w->org->name, p->m->name, p->clm_id, e.msg);
	return CS_ETIMEOUT;
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

/* Whether a mapped field is SystemModstamp itself (then it is read as such, not added again). */
static bool
maps_modstamp(const struct cs_mapping *m)
{
	for (size_t i = 0; i < m->nfields; i++)
		if (strcasecmp(m->fields[i].sf, "SystemModstamp") == 0)
			return true;
	return false;
}

static void keep_ro(struct plan *p);

/* A whole record was read (a gap's fetch, a reconcile): the link keeps its SystemModstamp, the
 * time of the last Salesforce transaction the read shows ("sfms"). */
static void
read_at(struct plan *p, const json_t *values)
{
	const json_t *v = json_object_get(values, "SystemModstamp");
	int64_t ms = 0;

	if (p->link == NULL || !json_is_string(v) || !cs_datetime_parse(json_string_value(v), json_string_length(v), &ms))
		return;
	if (ms > json_integer_value(json_object_get(p->link, "sfms"))) {
		json_object_set_new(p->link, "sfms", json_integer(ms));
		p->read_new = true;
		p->dirty = true;
		keep_ro(p);
	}
}

/* A whole read newer than the last one (read_new): the fields it showed holding a value of ours
 * (p->ro, found before or after read_at) become the link's "sfro". */
static void
keep_ro(struct plan *p)
{
	if (!p->read_new)
		return;
	if (p->ro != NULL)
		json_object_set(p->link, "sfro", p->ro);
	else
		json_object_del(p->link, "sfro");
}

/* The whole read being planned shows for f a value of ours: a write of ours landed on f after
 * any Salesforce change older than the read, which the read therefore did not show. */
static void
read_ours(struct plan *p, const struct cs_field_map *f)
{
	if (p->ro == NULL)
		p->ro = json_object();
	json_object_set_new(p->ro, f->sf, json_true());
	keep_ro(p);
}

/* Whether an event committed at commit_ms (not ours) is older than the record as last read
 * whole, or the very change it showed (the same SystemModstamp; a transaction committed in the
 * same millisecond is shown too): a read that got ahead of the stream already showed what it
 * carries, and what changed since; weighed again, its values would pass for Salesforce edits
 * made after that read. Not for a field the read showed holding a value of ours ("sfro"): a
 * write of ours landed on it after the event, made without knowing of it (its answer unrecorded
 * and made again, say), and the event is weighed against it by time as any event is against a
 * write of ours (stale). */
static bool
older_than_read(const struct plan *p, int64_t commit_ms)
{
	return commit_ms > 0 && commit_ms <= json_integer_value(json_object_get(p->link, "sfms"));
}

/* Reads Salesforce record sf_id of m (the mapped fields) into *rec (new reference). CS_ENOTFOUND
 * when Salesforce no longer has it (deleted), CS_ETIMEOUT for a failure that may pass (5xx, a
 * lock, the network, the API limit); other errors as sf_rest_retrieve; err set on each. */
static cs_err
fetch_sf(struct worker *w, const struct cs_mapping *m, const char *sf_id, json_t **rec, char *err, size_t errn)
{
	struct cs_buf fl;
	struct sf_error se;
	cs_err rc;

	/* a network read must not hold the store's write lock */
	if (sync_txn_flush(w, &(struct cs_error){ 0 }) != CS_OK) {
		snprintf(err, errn, "the store failed");
		return CS_ETIMEOUT;
	}
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
	if (!maps_modstamp(m))
		cs_buf_append(&fl, ",SystemModstamp", 15);     /* when the state read was made (read_at) */
	sf_error_clear(&se);
	rc = sf_rest_retrieve(w->sc, m->sobject, sf_id, fl.data, rec, &se);
	atomic_fetch_add(&w->n_sf_calls, 1);
	if (rc != CS_OK && strcmp(se.code, "ENTITY_IS_DELETED") == 0)
		rc = CS_ENOTFOUND;      /* some answers say so instead of 404: gone all the same */
	else if (rc != CS_OK && rc != CS_ENOTFOUND && (se.transient || rc == CS_ELIMIT))
		rc = CS_ETIMEOUT;       /* it may pass: the caller tries again later */
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

/* --- matching by keys ----------------------------------------------------------------------- */

/* The mapped field of m that pairs the repository field clm with Salesforce field sf, or NULL. */
static const struct cs_field_map *
key_field(const struct cs_mapping *m, const struct cs_pair *k)
{
	for (size_t i = 0; i < m->nfields; i++)
		if (strcmp(m->fields[i].clm, k->clm) == 0 && strcasecmp(m->fields[i].sf, k->sf) == 0)
			return &m->fields[i];
	return NULL;
}

/* Key k's value in repository record rec, in Salesforce's form when a mapped field converts it
 * (a value map), else as stored. NULL when absent or null: a record without its keys matches
 * nothing. A new reference. */
static json_t *
key_from_clm(const struct cs_mapping *m, const struct cs_pair *k, const json_t *rec)
{
	const struct cs_field_map *f = key_field(m, k);
	json_t *v = NULL;
	char err[256];

	if (f != NULL) {
		if (sync_value_from_clm(f, rec, &v, err, sizeof(err)) != SYNC_VAL_OK)
			return NULL;
	} else {
		v = strncmp(k->clm, "custom.", 7) == 0 ? json_object_get(json_object_get(rec, "custom"), k->clm + 7) :
		    json_object_get(rec, k->clm);
		json_incref(v);
	}
	if (json_is_null(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

struct ids_ud {
	char ids[2][SF_ID_LEN + 1];
	int n;
};

static int
collect_id(void *ud, const json_t *r)
{
	struct ids_ud *u = ud;
	const char *id = json_string_value(json_object_get(r, "Id"));

	if (id != NULL && u->n < 2)
		snprintf(u->ids[u->n++], SF_ID_LEN + 1, "%s", id);
	return 0;
}

/* Finds the Salesforce record of m whose key fields equal those of repository record rec:
 * 1 (sf_id set), 0 (none: the record may be created), -1 (two or more, one already linked to
 * another record, or a key that cannot be compared: *why says which; nothing may be created
 * or linked), -2 (a transient failure: try later). A key on `Id` names the record outright. */
static int
match_sf(struct worker *w, const struct cs_mapping *m, const json_t *rec, const char *clm_id,
         char sf_id[SF_ID_LEN + 1], char *why, size_t whyn)
{
	struct ids_ud u = { .n = 0 };
	struct sf_soql q;
	struct sf_error se;
	struct cs_error e = { 0 };
	char other[CLM_ID_MAX];
	const char *text;
	cs_err rc;

	for (size_t i = 0; i < m->match.nkeys; i++) {
		json_t *v;
		if (strcasecmp(m->match.keys[i].sf, "Id") != 0)
			continue;
		v = key_from_clm(m, &m->match.keys[i], rec);
		if (!json_is_string(v) || json_string_length(v) > SF_ID_LEN) {
			json_decref(v);
			return 0;
		}
		snprintf(u.ids[0], sizeof(u.ids[0]), "%s", json_string_value(v));
		u.n = 1;
		json_decref(v);
		goto found;
	}
	sf_soql_init(&q);
	sf_soql_kw(&q, "SELECT Id FROM ");
	sf_soql_name(&q, m->sobject);
	sf_soql_kw(&q, " WHERE ");
	for (size_t i = 0; i < m->match.nkeys; i++) {
		json_t *v = key_from_clm(m, &m->match.keys[i], rec);
		if (v == NULL) {
			sf_soql_cleanup(&q);
			return 0;
		}
		if (i > 0)
			sf_soql_kw(&q, " AND ");
		sf_soql_name(&q, m->match.keys[i].sf);
		sf_soql_kw(&q, " = ");
		if (json_is_string(v))
			sf_soql_str(&q, json_string_value(v));
		else if (json_is_integer(v))
			sf_soql_int(&q, json_integer_value(v));
		else if (json_is_boolean(v))
			sf_soql_kw(&q, json_is_true(v) ? "true" : "false");
		else {
			snprintf(why, whyn, "match key %s is not text, a whole number or a boolean", m->match.keys[i].clm);
			json_decref(v);
			sf_soql_cleanup(&q);
			return -1;
		}
		json_decref(v);
	}
	sf_soql_kw(&q, " ORDER BY Id LIMIT 2");
	if ((text = sf_soql_text(&q, &rc)) == NULL) {
		snprintf(why, whyn, "cannot build the match query: %s", cs_strerror(rc));
		sf_soql_cleanup(&q);
		return -1;
	}
	sf_error_clear(&se);
	/* a network read must not hold the store's write lock */
	if (sync_txn_flush(w, &(struct cs_error){ 0 }) != CS_OK)
		rc = cs_error_set(&(struct cs_error){ 0 }, CS_ETIMEOUT, "the store failed");
	else
		rc = sf_query(w->sc, text, 0, 0, collect_id, &u, NULL, &se);
	atomic_fetch_add(&w->n_sf_calls, 1);
	sf_soql_cleanup(&q);
	if (rc != CS_OK) {
		snprintf(why, whyn, "match query: %.400s", se.message[0] ? se.message : cs_strerror(rc));
		return se.transient || rc == CS_ETIMEOUT || rc == CS_ELIMIT ? -2 : -1;
	}
	if (u.n == 0)
		return 0;
	if (u.n > 1) {
		snprintf(why, whyn, "%s %s and %s both match the keys of %s: neither is linked, nothing is created",
		         m->sobject, u.ids[0], u.ids[1], clm_id);
		return -1;
	}
found:
	rc = sync_link_by_sf(w->st, m, u.ids[0], other, &e);
	if (rc == CS_OK && strcmp(other, clm_id) != 0) {
		snprintf(why, whyn, "%s %s matches the keys of %s but is linked to %s already", m->sobject, u.ids[0],
		         clm_id, other);
		return -1;
	}
	if (rc != CS_OK && rc != CS_ENOTFOUND)
		return -2;
	snprintf(sf_id, SF_ID_LEN + 1, "%s", u.ids[0]);
	return 1;
}

/* Finds the repository record of m whose key fields equal those of Salesforce record values:
 * 1 (clm_id set), 0 (none), -1 (two or more, or linked to another Salesforce record: *why),
 * -2 (the store failed). Keys on custom attributes or Id cannot be searched in the repository
 * and match nothing. */
static int
match_clm(struct worker *w, const struct cs_mapping *m, const json_t *values, const char *sf_id,
          char clm_id[CLM_ID_MAX], char *why, size_t whyn)
{
	struct store_list_q lq;
	struct cs_error e = { 0 };
	json_t *vals[CS_CONFIG_MATCH_KEYS_MAX] = { 0 }, *rows = NULL, *link = NULL;
	char next[STORE_CURSOR_MAX];
	const char *sf;
	int res = 0;
	size_t i;

	memset(&lq, 0, sizeof(lq));
	lq.kind = clm_kind_name(sync_kind_of(m->entity));
	lq.limit = 2;
	for (i = 0; i < m->match.nkeys && i < CS_CONFIG_MATCH_KEYS_MAX; i++) {
		const struct cs_pair *k = &m->match.keys[i];
		const struct cs_field_map *f = key_field(m, k);
		json_t *S = NULL;
		bool present = false;
		char err[256];

		if (strncmp(k->clm, "custom.", 7) == 0 || strcasecmp(k->sf, "Id") == 0)
			goto out;
		if (f != NULL) {
			json_t *patch = json_object();
			if (sync_value_from_sf(f, values, &present, &S, err, sizeof(err)) == SYNC_VAL_OK && present &&
			    sync_value_to_clm(f, S, NULL, patch, err, sizeof(err)) == SYNC_VAL_OK)
				vals[i] = json_incref(json_object_get(patch, k->clm));
			json_decref(patch);
			json_decref(S);
		} else {
			const char *name;
			json_t *v;
			json_object_foreach((json_t *)values, name, v)
				if (strcasecmp(name, k->sf) == 0)
					vals[i] = json_incref(v);
		}
		/* the store compares text: only text keys can match */
		if (!json_is_string(vals[i]))
			goto out;
		lq.filters[lq.nfilters++] = (struct store_filter){ k->clm, STORE_EQ, json_string_value(vals[i]) };
	}
	if (store_list(w->st, &lq, &rows, next, &e) != CS_OK) {
		snprintf(why, whyn, "match: %s", e.msg);
		res = -2;
		goto out;
	}
	if (json_array_size(rows) > 1) {
		snprintf(why, whyn, "%s %s matches the keys of two or more repository records: not linked, nothing created",
		         m->sobject, sf_id);
		res = -1;
		goto out;
	}
	if (json_array_size(rows) == 1) {
		snprintf(clm_id, CLM_ID_MAX, "%s", json_string_value(json_object_get(json_array_get(rows, 0), "id")) ?: "");
		if (sync_link_get(w->st, m, clm_id, &link, &e) == CS_OK &&
		    (sf = json_string_value(json_object_get(link, "sf"))) != NULL && sf[0] != '\0' && strcmp(sf, sf_id) != 0) {
			snprintf(why, whyn, "%s %s matches the keys of %s, which is linked to %s already", m->sobject, sf_id,
			         clm_id, sf);
			res = -1;
			goto out;
		}
		res = clm_id[0] ? 1 : 0;
	}
out:
	for (i = 0; i < CS_CONFIG_MATCH_KEYS_MAX; i++)
		json_decref(vals[i]);
	json_decref(rows);
	json_decref(link);
	return res;
}

/* Whether Salesforce deleted the record once linked to repository record clm_id of m (see
 * unlink_done): *gone true when a tombstone says so. Errors: the store's. */
static cs_err
sf_deleted(struct worker *w, const struct cs_mapping *m, const char *clm_id, bool *gone, struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX];
	json_t *d = NULL;
	cs_err rc;

	snprintf(ns, sizeof(ns), "sfgone:%s", m->name);
	rc = store_kv_get(w->st, ns, clm_id, &d, e);
	json_decref(d);
	*gone = rc == CS_OK;
	return rc == CS_ENOTFOUND ? CS_OK : rc;
}

struct relink_ud {
	struct worker *w;
	const struct cs_mapping *m;
	const char *clm_id;
};

/* A link awaiting its create's answer is being linked to the record found by its external id:
 * the create landed, and the values it made are what both sides agreed on for every field with
 * no base yet. Without them, the record's fields were compared for the first time: a person's
 * edit made since would be weighed as a conflict, which a whole read (undated) loses to the
 * repository under last_writer_wins, and the create's value would be written back over it. The
 * create is the link's first write (sent.h: oldest first); a later one, unanswered, may not have
 * landed, and the fields it carries keep whatever base they have. */
static void
create_landed(json_t *ln)
{
	json_t *base = json_object_get(ln, "base"), *first = json_array_get(json_object_get(ln, "sent"), 0), *v;
	const char *k;

	if (!json_is_object(base) || first == NULL || json_is_true(json_object_get(first, "ok")) ||
	    json_is_true(json_object_get(first, "done")))
		return;
	json_object_foreach(json_object_get(first, "f"), k, v) {
		if (json_object_get(base, k) == NULL)
			json_object_set(base, k, v);
	}
	/* and it is not made again (apply.c landed(), leave_landed()): retried, it would write the
	 * create's values over what Salesforce's users changed since (sent.h: as when our own
	 * event shows it) */
	json_object_set_new(first, "seen", json_true());
}

/* The link of repository record clm_id of m to Salesforce record sf_id, when linking it by a
 * match: the record's own link while it awaits that Salesforce id (its create's answer was
 * lost, so the record found is the create's), with the writes it holds in flight; a new one
 * otherwise. Forgotten, those writes would be made again as nothing awaited (sync_sent_landed)
 * and their own change events, late behind the stream, taken for Salesforce's edits. */
static json_t *
pending_link(struct worker *w, const struct cs_mapping *m, const char *clm_id, const char *sf_id)
{
	struct cs_error e = { 0 };
	json_t *ln = NULL;
	const char *sf;
	bool awaiting;

	if (sync_link_get(w->st, m, clm_id, &ln, &e) != CS_OK)
		return sync_link_new(sf_id);
	sf = json_string_value(json_object_get(ln, "sf"));
	if (sf != NULL && sf[0] != '\0' && strcmp(sf, sf_id) != 0) {
		json_decref(ln);
		return sync_link_new(sf_id);
	}
	awaiting = sf == NULL || sf[0] == '\0';    /* read before "sf" is replaced (and sf freed) */
	json_object_set_new(ln, "sf", json_string(sf_id));
	json_object_del(ln, "backfill");   /* linked here: no longer a backfill's to finish */
	if (json_object_get(ln, "base") == NULL)
		json_object_set_new(ln, "base", json_object());
	if (json_object_get(ln, "sent") == NULL)
		json_object_set_new(ln, "sent", json_array());
	if (awaiting)
		create_landed(ln);
	return ln;
}

/* The record is linked again (undeleted in Salesforce): its tombstone goes, in the same
 * transaction. */
static cs_err
relink_done(void *ud, struct cs_error *e)
{
	struct relink_ud *u = ud;
	char ns[STORE_KV_NS_MAX];

	snprintf(ns, sizeof(ns), "sfgone:%s", u->m->name);
	return store_kv_del(u->w->st, ns, u->clm_id, NULL, e);
}

/* The repository id of the contract that Salesforce values of m (a child entity's mapping)
 * name through the field mapping contract_id: into parent. The contract is brought in from
 * Salesforce when it is not linked yet and its mapping creates records. CS_OK, or CS_EINVAL
 * with err set (no such field, no value, or a contract that cannot be resolved). */
static cs_err
parent_from_sf(struct worker *w, const struct cs_mapping *m, const json_t *values, const char *event,
               char parent[CLM_ID_MAX], char *err, size_t errn)
{
	const struct cs_field_map *f = NULL;
	json_t *S = NULL, *v;
	bool present = false;

	for (size_t i = 0; i < m->nfields; i++)
		if (strcmp(m->fields[i].clm, "contract_id") == 0 && m->fields[i].lookup_to != NULL)
			f = &m->fields[i];
	if (f == NULL) {
		snprintf(err, errn, "the mapping %s does not map contract_id: a %s cannot be made without its contract",
		         m->name, cs_entity_name(m->entity));
		return CS_EINVAL;
	}
	if (sync_value_from_sf(f, values, &present, &S, err, errn) != SYNC_VAL_OK)
		return CS_EINVAL;
	if (!present || !json_is_string(S)) {
		json_decref(S);
		snprintf(err, errn, "%s names no contract (%s is empty): a %s belongs to a contract", m->sobject, f->sf,
		         cs_entity_name(m->entity));
		return CS_EINVAL;
	}
	v = lookup_to_clm(w, f, S, event, err, errn);
	json_decref(S);
	if (v == NULL)
		return CS_EINVAL;
	snprintf(parent, CLM_ID_MAX, "%s", json_string_value(v));
	json_decref(v);
	return CS_OK;
}

/* Creates the repository record for Salesforce record sf_id of m from values (NULL: fetched
 * first), links it and plans its repository-owned fields back. drift (may be NULL): a reconcile
 * found the record unlinked; its "drift" audit row says this. Returns CS_OK (made or linked),
 * CS_ENOTFOUND (not to be made here: gone, not created by the mapping, routed elsewhere),
 * CS_EINVAL (refused for good: *err says why) or CS_ETIMEOUT (failed for now: plan it again). */
static cs_err
create_from_sf(struct worker *w, const struct cs_mapping *m, const char *sf_id, const json_t *values, const char *event,
               const char *drift, char clm_id[CLM_ID_MAX], char *err, size_t errn)
{
	int routed = 1;
	json_t *fetched = NULL, *body = json_object(), *out = NULL, *ext, *marker = NULL;
	bool created = false;
	struct clm_fail cf;
	struct cs_error e = { 0 };
	char mns[STORE_KV_NS_MAX], parent[CLM_ID_MAX] = "";
	struct plan p;
	cs_err rc = CS_EINVAL;

	if (m->on_create.clm != CS_CREATE_CREATE) {
		snprintf(err, errn, "%s %s is not linked and the mapping %s does not create records from Salesforce",
		         m->sobject, sf_id, m->name);
		json_decref(body);
		return CS_ENOTFOUND;
	}
	if (values == NULL) {
		if ((rc = fetch_sf(w, m, sf_id, &fetched, err, errn)) != CS_OK) {
			if (rc != CS_ETIMEOUT && rc != CS_ENOTFOUND)
				rc = CS_EINVAL;         /* Salesforce refused the read for good */
			goto out;
		}
		values = fetched;
	}
	/* a record that carries a repository id in its external id field is linked, not created;
	 * so is one whose keys match a repository record, when the mapping matches by keys */
	ext = m->external_id_field[0] ? json_object_get(values, m->external_id_field) : NULL;
	{
		char mid[CLM_ID_MAX] = "";
		const char *how = "matched by external id";
		json_t *r = NULL;
		if (json_is_string(ext) && json_string_length(ext) < CLM_ID_MAX)
			snprintf(mid, sizeof(mid), "%s", json_string_value(ext));
		else if (m->match.by == CS_MATCH_KEYS) {
			int k = match_clm(w, m, values, sf_id, mid, err, errn);
			if (k == -2) {
				rc = CS_ETIMEOUT;
				goto out;
			}
			if (k == -1) {
				rc = CS_EINVAL;
				goto out;
			}
			how = "matched by keys";
		}
		memset(&cf, 0, sizeof(cf));
		if (mid[0] != '\0' && clm_get_in(w->clm, w->st, sync_kind_of(m->entity), NULL, mid, &r, &cf) == CS_OK &&
		    (routed = sync_route_of(w->clm, w->st, m, r, NULL)) < 0) {
			json_decref(r);
			snprintf(err, errn, "cannot read the contract %s %s follows", cs_entity_name(m->entity), mid);
			rc = CS_ETIMEOUT;
			goto out;
		}
		if (r != NULL && routed == 0) {
			/* the record it names is routed elsewhere (it moved to another org, say): this
			 * one stays unlinked, or it would flow into the record through two orgs */
			snprintf(err, errn, "%s %s names %s %s, which the mapping %s does not route (%s)", m->sobject, sf_id,
			         cs_entity_name(m->entity), mid, m->name, m->route.field);
			json_decref(r);
			rc = CS_ENOTFOUND;
			goto out;
		}
		if (r != NULL) {
			snprintf(clm_id, CLM_ID_MAX, "%s", mid);
			plan_init(&p, w, m, clm_id, event);
			snprintf(p.sf_id, sizeof(p.sf_id), "%s", sf_id);
			p.rec = r;
			p.link = pending_link(w, m, clm_id, sf_id);
			p.dirty = true;
			if (drift != NULL)
				audit(&p, NULL, NULL, NULL, NULL, "drift", drift);
			audit(&p, NULL, NULL, NULL, NULL, "linked", how);
			rc = plan_sf_side(&p, values, false, true, err, errn) ? CS_OK : CS_EINVAL;
			if (rc == CS_OK) {
				struct relink_ud ru = { w, m, clm_id };
				plan_clm_side(&p, false);
				rc = commit_plan(&p, relink_done, &ru, err, errn);
			}
			plan_cleanup(&p);
			json_decref(r);
			goto out;
		}
	}
	rc = CS_EINVAL;     /* a value refused below (rc was CS_OK after a fetch) */
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
	/* A contract's record (an obligation, ...) is made under the contract its lookup names; the
	 * configuration made sure the mapping maps contract_id. */
	if (sync_kind_of(m->entity) != CLM_COUNTERPARTY && sync_kind_of(m->entity) != CLM_CONTRACT &&
	    parent_from_sf(w, m, values, event, parent, err, errn) != CS_OK)
		goto out;
	/* A record made from this org must route back to it, or its first plan would route it out
	 * again: a route field Salesforce left empty takes the route's first value; one it set to
	 * a value routed elsewhere is refused. */
	routed = sync_route_of(w->clm, w->st, m, body, parent[0] ? parent : NULL);
	if (routed < 0) {
		snprintf(err, errn, "cannot read the contract %s %s names", m->sobject, sf_id);
		rc = CS_ETIMEOUT;
		goto out;
	}
	if (routed == 0 && m->route.kind == CS_ROUTE_PARENT) {
		snprintf(err, errn, "%s %s is under contract %s, which the mapping %s does not route", m->sobject, sf_id,
		         parent, m->route.parent->name);
		rc = CS_EINVAL;
		goto out;
	}
	if (routed == 0) {
		if (m->route.kind == CS_ROUTE_IN && route_value(m, body) == NULL && m->route.nin > 0) {
			json_t *at = body;
			const char *name = m->route.field;
			if (strncmp(name, "custom.", 7) == 0) {
				name += 7;
				if (json_object_get(body, "custom") == NULL)
					json_object_set_new(body, "custom", json_object());
				at = json_object_get(body, "custom");
			}
			json_object_set_new(at, name, json_string(m->route.in[0]));
		} else {
			snprintf(err, errn, "%s %s would not be routed to the mapping %s: %s is not one of its values", m->sobject,
			         sf_id, m->name, m->route.field);
			rc = CS_EINVAL;
			goto out;
		}
	}
	/* Idempotent across a crash and a failed commit: the record is created in the plan's own
	 * unit, with its link, its shadows and the removal of the event, so that either all of it
	 * commits or none does and a replan makes it once. (A marker "creating:<mapping>" written by
	 * an earlier version, which created first and linked after, still names a record made
	 * before a crash: that record is linked instead.) */
	snprintf(mns, sizeof(mns), "creating:%s", m->name);
	if (store_kv_get(w->st, mns, sf_id, &marker, &e) == CS_OK &&
	    json_is_string(json_object_get(marker, "clm")) && strlen(json_string_value(json_object_get(marker, "clm"))) < CLM_ID_MAX) {
		memset(&cf, 0, sizeof(cf));
		if (clm_get_in(w->clm, w->st, sync_kind_of(m->entity), NULL, json_string_value(json_object_get(marker, "clm")),
		               &out, &cf) == CS_OK)
			goto made;
	}
	if (sync_txn_begin(w, &e) != CS_OK) {
		snprintf(err, errn, "%s", e.msg);
		rc = CS_ETIMEOUT;
		goto out;
	}
	memset(&cf, 0, sizeof(cf));
	{
		long long seq = 0;
		if (clm_create_in(w->clm, w->st, sync_kind_of(m->entity), parent[0] ? parent : NULL, body, w->actor, &out, &seq,
		                  &cf) != CS_OK) {
			sync_txn_rollback(w);
			snprintf(err, errn, "cannot create a %s from %s %s: %s: %s", cs_entity_name(m->entity), m->sobject,
			         sf_id, cf.code, cf.msg);
			rc = cf.status >= 500 ? CS_ETIMEOUT : CS_EINVAL;
			goto out;
		}
		sync_txn_clm(w, seq);
	}
	created = true;
made:
	atomic_fetch_add(&w->n_clm_writes, 1);
	snprintf(clm_id, CLM_ID_MAX, "%s", json_string_value(json_object_get(out, "id")));
	plan_init(&p, w, m, clm_id, event);
	p.unit_open = created;
	snprintf(p.sf_id, sizeof(p.sf_id), "%s", sf_id);
	p.rec = out;
	p.link = sync_link_new(sf_id);
	p.dirty = true;
	if (drift != NULL)
		audit(&p, NULL, NULL, NULL, NULL, "drift", drift);
	audit(&p, "clm", NULL, NULL, NULL, "created", m->sobject);
	/* what Salesforce sent and the record now holds is the shadow; the rest (the repository's
	 * defaults, its id in the external id field) goes back to Salesforce */
	if (!plan_sf_side(&p, values, false, true, err, errn)) {
		rc = CS_EINVAL;
		if (p.unit_open)
			sync_txn_rollback(w);     /* the record goes with the plan that made it */
	} else {
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
	v = route_value(m, rec);
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

int
sync_route_of(struct clm *clm, struct store *st, const struct cs_mapping *m, const json_t *rec, const char *parent_id)
{
	struct clm_fail cf;
	json_t *pr = NULL;
	int r;

	if (m->route.kind != CS_ROUTE_PARENT)
		return sync_routed(m, rec) ? 1 : 0;
	if (parent_id == NULL)
		parent_id = json_string_value(json_object_get(rec, "contract_id"));
	if (parent_id == NULL || m->route.parent == NULL)
		return 0;
	memset(&cf, 0, sizeof(cf));
	if (clm_get_in(clm, st, CLM_CONTRACT, NULL, parent_id, &pr, &cf) != CS_OK)
		return cf.status >= 500 ? -1 : 0;
	r = sync_routed(m->route.parent, pr) ? 1 : 0;
	json_decref(pr);
	return r;
}

/* Runs done_fn (may be NULL: nothing to do) alone in a transaction: CS_OK or CS_EIO. */
static cs_err
run_done(struct worker *w, cs_err (*done_fn)(void *, struct cs_error *), void *ud)
{
	struct cs_error e = { 0 };

	if (done_fn == NULL)
		return CS_OK;
	if (sync_txn_begin(w, &e) == CS_OK && done_fn(ud, &e) == CS_OK && sync_txn_commit(w, &e) == CS_OK)
		return CS_OK;
	sync_txn_rollback(w);
	return CS_EIO;
}

/* The linked record of p no longer routes to p->m (its route field changed): the link goes now,
 * so that neither side's later changes flow through p->m, and the Salesforce record follows
 * on_delete.salesforce: deleted (the outbox entry carries its id) or left as it is, unlinked,
 * which the audit row and the log report. Writes still queued for the link are dropped by the
 * applier, which sends nothing for a record without a link. The mapping that routes the record
 * now (another org's, often) makes or finds its own record there. done_fn runs in the same
 * transaction. CS_OK or CS_ETIMEOUT. */
/* The records that follow contract id of m (route: parent), planned again when the contract
 * enters or leaves m: their plans, queued on the inbox in the contract's own unit. */
struct follow_ud {
	struct worker *w;
	json_t *items;          /* the inbox items to queue; NULL when m has no follower */
	cs_err (*done_fn)(void *, struct cs_error *);
	void *ud;
};

static cs_err
children_done(void *ud, struct cs_error *e)
{
	struct follow_ud *u = ud;
	json_t *it;
	size_t i;
	cs_err rc;

	json_array_foreach(u->items, i, it) {
		if ((rc = sync_queue_push(u->w->st, u->w->ns_inbox, it, e)) != CS_OK)
			return rc;
	}
	return u->done_fn != NULL ? u->done_fn(u->ud, e) : CS_OK;
}

/* Lists the records under contract id of every mapping of this org that follows m, as plan
 * items in u->items (left NULL when no mapping follows m); u keeps done_fn and ud for after them.
 * CS_ETIMEOUT when the repository cannot be listed now. */
static cs_err
follow_children(struct worker *w, const struct cs_mapping *m, const char *id, struct follow_ud *u,
                cs_err (*done_fn)(void *, struct cs_error *), void *ud)
{
	u->w = w;
	u->done_fn = done_fn;
	u->ud = ud;
	json_decref(u->items);
	u->items = NULL;
	for (size_t k = 0; k < w->nmaps; k++) {
		const struct cs_mapping *c = w->maps[k];
		char cursor[STORE_CURSOR_MAX] = "";

		if (c->route.kind != CS_ROUTE_PARENT || c->route.parent != m)
			continue;
		if (u->items == NULL && (u->items = json_array()) == NULL)
			return CS_ETIMEOUT;
		for (;;) {
			struct clm_list_q lq = { .kind = sync_kind_of(c->entity), .parent_id = id,
			                         .cursor = cursor[0] ? cursor : NULL, .limit = CLM_LIST_MAX };
			struct clm_fail cf;
			json_t *page = NULL, *row, *nx;
			size_t i;

			memset(&cf, 0, sizeof(cf));
			if (clm_list(w->clm, &lq, &page, &cf) != CS_OK) {
				log_warn("sync.route", "org %s: %s %s: cannot list its %s: %s", w->org->name, m->name, id,
				         c->name, cf.msg);
				return CS_ETIMEOUT;
			}
			json_array_foreach(json_object_get(page, "data"), i, row) {
				const char *cid = json_string_value(json_object_get(row, "id"));
				if (cid != NULL)
					json_array_append_new(u->items, json_pack("{s:s, s:s, s:s, s:s, s:s}", "t", "plan",
					    "mapping", c->name, "clm", cid, "op", "update", "why", "its contract moved"));
			}
			nx = json_object_get(page, "next_cursor");
			if (!json_is_string(nx) || json_string_length(nx) == 0 || json_string_length(nx) >= sizeof(cursor)) {
				json_decref(page);
				break;
			}
			snprintf(cursor, sizeof(cursor), "%s", json_string_value(nx));
			json_decref(page);
		}
	}
	return CS_OK;
}

static cs_err
route_out(struct plan *p, cs_err (*done_fn)(void *, struct cs_error *), void *ud)
{
	struct worker *w = p->w;
	const struct cs_mapping *m = p->m;
	const json_t *rv = route_value(m, p->rec);
	bool del = m->on_delete.salesforce == CS_DELETE_DELETE && p->sf_id[0] != '\0';
	struct cs_error e = { 0 };
	json_t *ob = NULL;
	char why[256];
	cs_err rc;

	if (m->route.kind == CS_ROUTE_PARENT)
		snprintf(why, sizeof(why), "no longer routed here: its contract is not routed to %s",
		         m->route.parent != NULL ? m->route.parent->name : "its mapping");
	else if (json_is_string(rv))
		snprintf(why, sizeof(why), "no longer routed here: %s is %.80s", m->route.field, json_string_value(rv));
	else
		snprintf(why, sizeof(why), "no longer routed here: %s has no value", m->route.field);
	audit(p, "salesforce", NULL, NULL, NULL, del ? "deleted" : "unlinked", why);
	if (del && (ob = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:s}", "mapping", m->name, "clm", p->clm_id,
	    "op", "delete", "sf", p->sf_id, "attempts", 0, "due_ms", (json_int_t)0, "born_ms",
	    (json_int_t)cs_time_now_ms(), "event", p->event)) == NULL)
		return CS_ETIMEOUT;
	if ((rc = sync_txn_begin(w, &e)) == CS_OK && (!del || (rc = (w->n_pushed++, sync_queue_push(w->st, w->ns_outbox, ob, &e))) == CS_OK) &&
	    (rc = sync_link_del(w->st, m, p->clm_id, &e)) == CS_OK && (rc = audit_flush(p, &e)) == CS_OK &&
	    (done_fn == NULL || (rc = done_fn(ud, &e)) == CS_OK))
		rc = sync_txn_commit(w, &e);
	if (rc != CS_OK) {
		sync_txn_rollback(w);
		log_warn("sync.plan", "org %s: %s %s: cannot unlink: %s", w->org->name, m->name, p->clm_id, e.msg);
	} else
		log_info("sync.route", "org %s: %s %s %s, %s: %s %s", w->org->name, m->name, p->clm_id, why,
		         del ? "deleting" : "leaving (unlinked)", m->sobject, p->sf_id[0] ? p->sf_id : "(never created)");
	json_decref(ob);
	return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
}

/* Plans repository record id of m (a feed row, a lookup brought along, a reconcile). Returns
 * CS_OK, CS_ECONFLICT when the record changed between the plan's read and its write (nothing
 * written: plan it again), or CS_ETIMEOUT for a transient failure. */
static cs_err
plan_record_once(struct worker *w, const struct cs_mapping *m, const char *id, const char *op, const char *event,
                 cs_err (*done_fn)(void *, struct cs_error *), void *ud)
{
	struct clm_fail cf;
	struct cs_error e = { 0 };
	struct plan p;
	json_t *rec = NULL;
	char why[512];
	bool created = false, gone = false;
	struct follow_ud fu = { w, NULL, NULL, NULL };
	int routed;
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
			if ((rc = sync_txn_begin(w, &e)) == CS_OK && (rc = (w->n_pushed++, sync_queue_push(w->st, w->ns_outbox, ob, &e))) == CS_OK &&
			    (rc = audit_flush(&p, &e)) == CS_OK && (done_fn == NULL || (rc = done_fn(ud, &e)) == CS_OK))
				rc = sync_txn_commit(w, &e);
			if (rc != CS_OK)
				sync_txn_rollback(w);
			json_decref(ob);
		} else
			rc = run_done(w, done_fn, ud);
		plan_cleanup(&p);
		return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
	}
	memset(&cf, 0, sizeof(cf));
	rc = clm_get_in(w->clm, w->st, sync_kind_of(m->entity), NULL, id, &rec, &cf);
	if (rc != CS_OK && cf.status >= 500) {
		plan_cleanup(&p);
		return CS_ETIMEOUT;
	}
	p.rec = rec;
	routed = rec != NULL ? sync_route_of(w->clm, w->st, m, rec, NULL) : 0;
	if (routed < 0) {
		plan_cleanup(&p);
		json_decref(rec);
		return CS_ETIMEOUT;
	}
	if (rec != NULL && p.link != NULL && routed == 0) {
		/* the records that follow it go with it (route: parent) */
		if ((rc = follow_children(w, m, id, &fu, done_fn, ud)) == CS_OK)
			rc = route_out(&p, fu.items != NULL ? children_done : done_fn, fu.items != NULL ? (void *)&fu : ud);
		json_decref(fu.items);
		plan_cleanup(&p);
		json_decref(rec);
		return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
	}
	if (rec != NULL && (p.link != NULL || routed == 1)) {
		int k = p.link == NULL && m->match.by == CS_MATCH_KEYS ? match_sf(w, m, rec, id, p.sf_id, why, sizeof(why)) : 0;
		bool ext_missing = false;
		if (k == -2) {
			plan_cleanup(&p);
			json_decref(rec);
			return CS_ETIMEOUT;
		}
		if (k == -1) {
			/* said once per change of the record; nothing is linked or created meanwhile */
			audit(&p, "salesforce", NULL, NULL, NULL, "unmatched", why);
			log_warn("sync.plan", "org %s: %s %s: %s", w->org->name, m->name, id, why);
		} else if (k == 1) {
			/* matched by key: link, then compare every field */
			json_t *sfrec = NULL;
			if (fetch_sf(w, m, p.sf_id, &sfrec, why, sizeof(why)) == CS_OK) {
				p.link = sync_link_new(p.sf_id);
				p.dirty = true;
				audit(&p, NULL, NULL, NULL, NULL, "linked", "matched by key");
				if (!plan_sf_side(&p, sfrec, false, true, why, sizeof(why)))
					audit(&p, "clm", NULL, NULL, NULL, "error", why);
				ext_missing = m->external_id_field[0] != '\0' &&
				    strcmp(json_string_value(json_object_get(sfrec, m->external_id_field)) ?: "", id) != 0;
			} else
				log_warn("sync.plan", "org %s: %s %s: %s", w->org->name, m->name, id, why);
			json_decref(sfrec);
		} else if (p.link == NULL && m->on_create.salesforce == CS_CREATE_CREATE && m->external_id_field[0] != '\0') {
			/* unless Salesforce deleted it: it stays deleted there (see unlink_done) */
			if (sf_deleted(w, m, id, &gone, &e) != CS_OK) {
				plan_cleanup(&p);
				json_decref(rec);
				return CS_ETIMEOUT;
			}
			if (!gone) {
				p.link = sync_link_new("");
				p.dirty = true;
				created = true;
				audit(&p, "salesforce", NULL, NULL, NULL, "created", m->sobject);
				plan_clm_side(&p, true);
				/* routed here now (made, or moved in): the records that follow it come along */
				if (follow_children(w, m, id, &fu, done_fn, ud) != CS_OK) {
					plan_cleanup(&p);
					json_decref(rec);
					return CS_ETIMEOUT;
				}
				if (fu.items != NULL) {
					done_fn = children_done;
					ud = &fu;
				}
			}
		}
		/* a stored link, or one just matched by key whose comparison wrote nothing back:
		 * the repository's side of every field now */
		if (p.link != NULL && !created && (!p.dirty || json_object_size(p.sfw) == 0))
			plan_clm_side(&p, false);
		/* matched by key: from now on the record carries the repository id, as one we created would */
		if (ext_missing)
			json_object_set_new(p.sfw, m->external_id_field, json_string(id));
	}
	/* an unlinked record's plan may still have said something (unmatched): its rows commit */
	if (p.link != NULL || done_fn != NULL || json_array_size(p.audit) > 0) {
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
	json_decref(fu.items);
	return rc == CS_OK || rc == CS_ECONFLICT ? rc : CS_ETIMEOUT;
}

/* How many times a plan is made again at once when the record changed between its read and its
 * write (CS_ECONFLICT): a plan made inside an open group reads under the write lock and cannot
 * meet it twice; alone, it might, under a stream of writes to the one record. */
#define REPLAN_MAX 3

/* Plans repository record id of m (see plan_record_once): made again from what is stored when
 * the record changed since it was read. CS_OK or CS_ETIMEOUT. */
static cs_err
plan_record(struct worker *w, const struct cs_mapping *m, const char *id, const char *op, const char *event,
            cs_err (*done_fn)(void *, struct cs_error *), void *ud)
{
	cs_err rc = CS_ECONFLICT;

	for (int i = 0; i < REPLAN_MAX && rc == CS_ECONFLICT; i++)
		if ((rc = plan_record_once(w, m, id, op, event, done_fn, ud)) == CS_ECONFLICT)
			log_info("sync.plan", "org %s: %s %s: the record changed while it was planned: planned again",
			         w->org->name, m->name, id);
	return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
}

/* A change of a paused mapping's record, held (pause.c) instead of planned, with done_fn in the
 * same transaction. */
static cs_err
hold_clm(struct worker *w, const struct cs_mapping *m, const char *id, const char *op,
         cs_err (*done_fn)(void *, struct cs_error *), void *ud)
{
	struct cs_error e = { 0 };

	if (sync_txn_begin(w, &e) != CS_OK || sync_hold_clm(w->st, m, id, op, &e) != CS_OK ||
	    (done_fn != NULL && done_fn(ud, &e) != CS_OK) || sync_txn_commit(w, &e) != CS_OK) {
		sync_txn_rollback(w);
		log_warn("sync.pause", "org %s: %s %s: cannot hold a change: %s", w->org->name, m->name, id, e.msg);
		return CS_ETIMEOUT;
	}
	return CS_OK;
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
		sync_feed_key(w->org->name, key);
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
	sync_txn_group(w);
	json_array_foreach(rows, i, r) {
		long long seq = json_integer_value(json_object_get(r, "seq"));
		const char *entity = json_string_value(json_object_get(r, "entity"));
		const char *id = json_string_value(json_object_get(r, "id"));
		const char *op = json_string_value(json_object_get(r, "op"));
		const char *origin = json_string_value(json_object_get(r, "origin"));
		char event[48];
		size_t last = SIZE_MAX;
		uint64_t settled;

		snprintf(event, sizeof(event), "feed:%lld", seq);
		atomic_fetch_add(&w->n_feed, 1);
		for (size_t k = 0; k < w->nmaps && entity && id; k++)
			if (strcmp(cs_entity_name(w->maps[k]->entity), entity) == 0)
				last = k;
		/* our own repository writes come back here too: for the mapping whose plan made one,
		 * that plan found already that the comparison would find them equal (commit_plan) */
		settled = last != SIZE_MAX && origin != NULL ?
		    sync_settled_take(w, entity, id, json_integer_value(json_object_get(r, "version")), origin) : 0;
		for (size_t k = 0; last != SIZE_MAX && k <= last; k++) {
			const struct cs_mapping *m = w->maps[k];
			if (strcmp(cs_entity_name(m->entity), entity) != 0)
				continue;
			if (sync_paused(w, m)) {
				if (hold_clm(w, m, id, op, NULL, NULL) != CS_OK)
					goto out;
			} else if (k < 64 && (settled & (uint64_t)1 << k)) {
				atomic_fetch_add(&w->n_echo, 1);
				sync_count(w, m, SYNC_MC_ECHO);
			} else if (plan_record(w, m, id, op, event, NULL, NULL) != CS_OK)
				goto out;
			sync_count(w, m, SYNC_MC_FROM_CLM);
		}
		/* the row's plans are in the group: the group's commit stores the cursor past it
		 * (sync_txn_flush). A group committed between two mappings' plans of one row stores
		 * the row before: after a crash the row is planned again for each mapping, which
		 * finds what it already planned equal */
		w->grp_seq = seq;
		done++;
	}
out:
	if (sync_txn_end(w, &e) != CS_OK) {
		/* the rows of the lost group are planned again from the cursor that is stored */
		log_warn("sync.feed", "org %s: cannot commit the plans of feed rows: %s", w->org->name, e.msg);
		json_decref(rows);
		return -1;
	}
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

/* Refuses an inbox item for good: the dead-letter queue, with the reason, and off the inbox
 * (key NULL: an item a reconcile made, in no queue yet). */
static cs_err
dead_letter(struct worker *w, const struct cs_mapping *m, const char *clm_id, const char *sf_id, const char *key,
            const json_t *item, const char *why)
{
	struct cs_error e = { 0 };
	struct sync_audit_row r = { .org = w->org->name, .mapping = m ? m->name : NULL,
		.entity = m ? cs_entity_name(m->entity) : NULL, .clm_id = clm_id, .sf_id = sf_id, .side = "clm",
		.decision = "dlq", .event = key, .detail = why };
	cs_err rc;

	if (w->transient) {
		/* the refusal came from a failure that may pass: try the change again later */
		w->transient = false;
		log_info("sync.plan", "org %s: %s %s: %s; retrying", w->org->name, m ? m->name : "-", sf_id ? sf_id : "", why);
		return CS_ETIMEOUT;
	}

	log_warn("sync.dlq", "org %s: %s %s -> dead-letter queue: %s", w->org->name, m ? m->name : "-", sf_id ? sf_id : "",
	         why);
	if ((rc = sync_txn_begin(w, &e)) != CS_OK ||
	    (rc = sync_dlq_put(w->st, w, m ? m->name : NULL, clm_id, sf_id, "clm", w->ns_inbox, item, "REFUSED", why, &e)) != CS_OK ||
	    (rc = sync_audit_append(w->st, &r, NULL, &e)) != CS_OK ||
	    (key != NULL && (rc = store_kv_del(w->st, w->ns_inbox, key, NULL, &e)) != CS_OK) ||
	    (rc = sync_txn_commit(w, &e)) != CS_OK)
		sync_txn_rollback(w);
	atomic_fetch_add(&w->n_dlq, 1);
	sync_count(w, m, SYNC_MC_DLQ);
	return rc;
}

struct unlink_ud {
	struct worker *w;
	const struct cs_mapping *m;
	const char *clm_id, *sf_id;
	struct inbox_ud *iu;    /* the inbox entry to take with it, or NULL */
	bool tombstone;         /* the repository record stays: remember that Salesforce deleted it */
};

/* Salesforce deleted the record linked to u->clm_id: the link goes, and while the repository
 * record remains, a tombstone says why it is not linked, so that its next change (the
 * terminated transition this very delete makes, to begin with) does not create it in
 * Salesforce again. In the caller's transaction. */
static cs_err
unlink_done(void *ud, struct cs_error *e)
{
	struct unlink_ud *u = ud;
	char ns[STORE_KV_NS_MAX];
	cs_err rc;

	if ((rc = sync_link_del(u->w->st, u->m, u->clm_id, e)) != CS_OK)
		return rc;
	/* and under the Salesforce id: a change event of the record still to come (the stream lags
	 * behind a reconcile) is not taken for a new record (sf_was_deleted) */
	if (u->sf_id != NULL && u->sf_id[0] != '\0') {
		json_t *d = json_pack("{s:s, s:I}", "clm", u->clm_id, "ms", (json_int_t)cs_time_now_ms());
		if (d == NULL)
			return cs_error_set(e, CS_ENOMEM, "out of memory");
		sync_ns_sfdeleted(ns, u->m);
		rc = store_kv_put(u->w->st, ns, u->sf_id, d, e);
		json_decref(d);
		if (rc != CS_OK)
			return rc;
	}
	if (u->tombstone) {
		char ts[32];
		json_t *d;
		cs_time_format_iso(cs_time_now_ms(), ts, sizeof(ts));
		if ((d = json_pack("{s:s, s:s}", "sf", u->sf_id, "ts", ts)) == NULL)
			return cs_error_set(e, CS_ENOMEM, "out of memory");
		snprintf(ns, sizeof(ns), "sfgone:%s", u->m->name);
		rc = store_kv_put(u->w->st, ns, u->clm_id, d, e);
		json_decref(d);
		if (rc != CS_OK)
			return rc;
	}
	return u->iu != NULL ? inbox_done(u->iu, e) : CS_OK;
}

/* Whether Salesforce record sf_id of m was linked once and let go of because Salesforce deleted
 * it (unlink_done). A store error counts as yes: the caller then reads the record afresh. */
static bool
sf_was_deleted(struct worker *w, const struct cs_mapping *m, const char *sf_id)
{
	char ns[STORE_KV_NS_MAX];
	struct cs_error e = { 0 };
	json_t *d = NULL;
	cs_err rc;

	sync_ns_sfdeleted(ns, m);
	rc = store_kv_get(w->st, ns, sf_id, &d, &e);
	json_decref(d);
	return rc != CS_ENOTFOUND;
}

/* Our own CREATE event's values (a new reference; NULL without memory), with null for each field
 * the create left null (its base is null: a create does not write a null) that a later write of
 * ours in flight carries: a CREATE event carries only the fields made with a value. Without it,
 * such a write (a change made while the create's answer was lost) passed for shown by the
 * event, and so for landed with it: it was never made, and a whole read then took the create's
 * null for a Salesforce edit. A field with another base, or none, is left out as before: null
 * would pass for a value the event shows. */
static json_t *
create_nulls(struct plan *p, const json_t *values)
{
	json_t *out = json_deep_copy(values), *base = json_object_get(p->link, "base"), *it, *v;
	const char *k;
	size_t i;

	if (out == NULL)
		return NULL;
	json_array_foreach(json_object_get(p->link, "sent"), i, it) {
		json_object_foreach(json_object_get(it, "f"), k, v) {
			if (v != NULL && json_object_get(out, k) == NULL && json_is_null(json_object_get(base, k)) &&
			    json_object_set_new(out, k, json_null()) != 0) {
				json_decref(out);
				return NULL;
			}
		}
	}
	return out;
}

/* Whether our own change event (values) is of a record whose create is still unanswered: its
 * external id names a repository record linked in m with no Salesforce id yet. Then clm_id is
 * that record, and the event links it (sent.h: a create whose answer was lost is then settled,
 * not made again over what Salesforce's users have changed since). */
static bool
link_own_create(struct worker *w, const struct cs_mapping *m, const json_t *values, char clm_id[CLM_ID_MAX])
{
	const json_t *ext = m->external_id_field[0] ? json_object_get(values, m->external_id_field) : NULL;
	struct cs_error e = { 0 };
	json_t *ln = NULL;
	const char *sf;
	bool yes;

	if (!json_is_string(ext) || json_string_length(ext) == 0 || json_string_length(ext) >= CLM_ID_MAX ||
	    sync_link_get(w->st, m, json_string_value(ext), &ln, &e) != CS_OK)
		return false;
	sf = json_string_value(json_object_get(ln, "sf"));
	yes = sf == NULL || sf[0] == '\0';
	if (yes)
		snprintf(clm_id, CLM_ID_MAX, "%s", json_string_value(ext));
	json_decref(ln);
	return yes;
}

/* One Salesforce record's change: CS_OK (done, inbox entry removed), CS_ECONFLICT (the
 * repository record changed between the plan's read and its write: nothing written, plan it
 * again), CS_ETIMEOUT (try later). item is an inbox entry (key names it; only with last is it
 * removed), or a delete a reconcile found (key NULL, last false, "event" and "drift" set). */
static cs_err
plan_sf_once(struct worker *w, const struct cs_mapping *m, const char *sf_id, const json_t *item, const char *key,
             bool last)
{
	const char *type = json_string_value(json_object_get(item, "type"));
	const json_t *values = json_object_get(item, "values");
	bool ours = json_is_true(json_object_get(item, "ours"));
	bool del = type != NULL && strcmp(type, "DELETE") == 0, own_create = false, stale_create;
	struct inbox_ud iu = { w, key };
	struct cs_error e = { 0 };
	struct clm_fail cf;
	struct plan p;
	char clm_id[CLM_ID_MAX], why[512], event[STORE_KV_KEY_MAX];
	json_t *rec = NULL, *fetched = NULL, *made = NULL;
	cs_err rc;

	w->transient = false;
	if (json_is_string(json_object_get(item, "event")))
		snprintf(event, sizeof(event), "%s", json_string_value(json_object_get(item, "event")));
	else
		snprintf(event, sizeof(event), "cdc:%s:%lld", json_string_value(json_object_get(item, "channel")) ?: "",
		         (long long)json_integer_value(json_object_get(item, "replay")));
	if (type == NULL)
		type = "";
	why[0] = '\0';
	rc = sync_link_by_sf(w->st, m, sf_id, clm_id, &e);
	if (rc != CS_OK && rc != CS_ENOTFOUND)
		return CS_ETIMEOUT;
	if (rc == CS_ENOTFOUND && ours && !del && link_own_create(w, m, values, clm_id))
		rc = CS_OK, own_create = true;
	if (rc == CS_ENOTFOUND) {
		if (ours || del)
			goto skip;     /* our own write of a record not linked here, or gone */
		/* A CREATE event carries the record as made; but one of a record that was linked and
		 * let go of since, deleted in Salesforce, is stale (the stream lagged behind a
		 * reconcile): the record is read afresh, and found gone */
		if (strcmp(type, "CREATE") != 0 || json_is_true(json_object_get(item, "fetch")) ||
		    sf_was_deleted(w, m, sf_id)) {
			rc = fetch_sf(w, m, sf_id, &fetched, why, sizeof(why));
			if (rc == CS_ETIMEOUT)
				return rc;      /* the change waits in the inbox, not lost */
			if (rc == CS_ENOTFOUND)
				goto skip;      /* gone since: nothing to create */
			if (rc != CS_OK)
				return dead_letter(w, m, NULL, sf_id, key, item, why) == CS_OK ? CS_OK : CS_ETIMEOUT;
			values = fetched;
		}
		rc = create_from_sf(w, m, sf_id, values, event, NULL, clm_id, why, sizeof(why));
		json_decref(fetched);
		if (rc == CS_EINVAL)
			return dead_letter(w, m, NULL, sf_id, key, item, why) == CS_OK ? CS_OK : CS_ETIMEOUT;
		/* made, or not to be made here; anything else (the store, Salesforce, memory failed
		 * for now) leaves the event in the inbox: dropped, the record would stay unlinked */
		if (rc != CS_OK && rc != CS_ENOTFOUND)
			return CS_ETIMEOUT;
		goto skip;
	}
	plan_init(&p, w, m, clm_id, event);
	snprintf(p.sf_id, sizeof(p.sf_id), "%s", sf_id);
	if (sync_link_get(w->st, m, clm_id, &p.link, &e) != CS_OK) {
		plan_cleanup(&p);
		return CS_ETIMEOUT;
	}
	if (own_create) {
		json_object_set_new(p.link, "sf", json_string(sf_id));
		p.dirty = true;
		audit(&p, NULL, NULL, NULL, NULL, "linked", "our own create's change event names the record");
	}
	memset(&cf, 0, sizeof(cf));
	if (clm_get_in(w->clm, w->st, sync_kind_of(m->entity), NULL, clm_id, &rec, &cf) != CS_OK) {
		if (cf.status >= 500) {
			plan_cleanup(&p);
			return CS_ETIMEOUT;
		}
		if (json_is_string(json_object_get(p.link, "backfill")) && !del) {
			/* a backfill linked the record and is making it from what it read before this
			 * change: marked, the backfill has it planned again once it is made (backfill.c
			 * finish_links) instead of this change being lost until a reconcile. Read again
			 * under the write lock first: the backfill, another process, may have made the
			 * record and finished the link since; the change is then planned anew. */
			json_t *ln = NULL, *again = NULL;
			bool still;

			if (sync_txn_begin(w, &e) != CS_OK) {
				plan_cleanup(&p);
				return CS_ETIMEOUT;
			}
			p.unit_open = true;
			memset(&cf, 0, sizeof(cf));
			still = sync_link_get(w->st, m, clm_id, &ln, &e) == CS_OK &&
			    json_is_string(json_object_get(ln, "backfill")) &&
			    clm_get_in(w->clm, w->st, sync_kind_of(m->entity), NULL, clm_id, &again, &cf) != CS_OK &&
			    cf.status < 500;
			json_decref(again);
			if (!still) {
				json_decref(ln);
				sync_txn_rollback(w);
				p.unit_open = false;
				plan_cleanup(&p);
				return CS_ETIMEOUT;
			}
			json_decref(p.link);
			p.link = ln;
			json_object_set_new(p.link, "missed", json_true());
			p.dirty = true;
			rc = commit_plan(&p, last ? inbox_done : NULL, &iu, why, sizeof(why));
			plan_cleanup(&p);
			return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
		}
		plan_cleanup(&p);
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
	/* A CREATE event of a record linked already, and not by this event (our own create, the
	 * event's own earlier planning), is stale: a reconcile or a gap read linked the record
	 * while the stream lagged behind, and the event shows it as made, before whatever both
	 * sides did since. Its values would be weighed as new Salesforce edits (a manual conflict
	 * where only the repository changed): the record is read afresh instead, current and
	 * undated. */
	stale_create = !del && !ours && !own_create && strcmp(type, "CREATE") == 0 &&
	    !json_is_true(json_object_get(item, "fetch"));
	if (stale_create)
		p.s_ms = 0;
	if (!del && (strcmp(type, "UNDELETE") == 0 || json_is_true(json_object_get(item, "fetch")) || stale_create)) {
		rc = fetch_sf(w, m, sf_id, &fetched, why, sizeof(why));
		if (rc == CS_ENOTFOUND) {
			/* a gap (or an undelete undone since) names a record Salesforce no longer has:
			 * it was deleted, whatever the event could tell; retrying the read would hold
			 * the inbox forever */
			del = true;
		} else if (rc != CS_OK) {
			plan_cleanup(&p);
			json_decref(rec);
			return CS_ETIMEOUT;
		} else
			values = fetched;
	}
	if (del) {
		struct unlink_ud uu = { w, m, clm_id, sf_id, last ? &iu : NULL,
		                        m->on_delete.clm != CS_DELETE_DELETE };
		if (json_is_true(json_object_get(item, "drift")))
			audit(&p, NULL, NULL, NULL, NULL, "drift", "deleted in Salesforce; repaired");
		audit(&p, "clm", NULL, NULL, NULL, m->on_delete.clm == CS_DELETE_IGNORE ? "ignored" : "deleted",
		      "deleted in Salesforce");
		if (m->on_delete.clm == CS_DELETE_DELETE || m->on_delete.clm == CS_DELETE_TERMINATE) {
			json_t *body = m->on_delete.clm == CS_DELETE_DELETE ? NULL :
			    json_pack("{s:s, s:s}", "to", "terminated", "reason", "deleted in Salesforce");
			memset(&cf, 0, sizeof(cf));
			/* the repository's writer makes it: the plans grouped so far commit first */
			if (sync_txn_flush(w, &e) != CS_OK) {
				json_decref(body);
				plan_cleanup(&p);
				json_decref(rec);
				return CS_ETIMEOUT;
			}
			rc = body ? clm_transition(w->clm, clm_id, body, -1, w->actor, NULL, &cf) :
			    clm_delete(w->clm, sync_kind_of(m->entity), NULL, clm_id, -1, w->actor, &cf);
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
		/* the link goes with the audit rows and the inbox entry, in one transaction */
		json_decref(p.link);
		p.link = NULL;
		rc = commit_plan(&p, unlink_done, &uu, why, sizeof(why));
		plan_cleanup(&p);
		json_decref(rec);
		return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
	}
	if (fetched != NULL)
		read_at(&p, fetched);
	else if (!ours && older_than_read(&p, p.s_ms)) {
		/* weighed only for the fields the read showed holding a value of ours (stale) */
		p.stale = json_object_size(json_object_get(p.link, "sfro")) > 0;
		if (!p.stale) {
			audit(&p, NULL, NULL, NULL, NULL, "ignored", "an event older than the record as last read whole");
			rc = commit_plan(&p, last ? inbox_done : NULL, &iu, why, sizeof(why));
			plan_cleanup(&p);
			json_decref(rec);
			return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
		}
	}
	if (ours && fetched == NULL && strcmp(type, "CREATE") == 0 && (values = made = create_nulls(&p, values)) == NULL) {
		plan_cleanup(&p);
		json_decref(rec);
		return CS_ETIMEOUT;
	}
	if (!plan_sf_side(&p, values, ours, fetched != NULL, why, sizeof(why))) {
		plan_cleanup(&p);
		json_decref(rec);
		json_decref(fetched);
		json_decref(made);
		return dead_letter(w, m, clm_id, sf_id, key, item, why) == CS_OK ? CS_OK : CS_ETIMEOUT;
	}
	json_decref(fetched);
	json_decref(made);
	rc = commit_plan(&p, last ? inbox_done : NULL, &iu, why, sizeof(why));
	plan_cleanup(&p);
	json_decref(rec);
	if (rc == CS_EINVAL)
		return dead_letter(w, m, clm_id, sf_id, key, item, why) == CS_OK ? CS_OK : CS_ETIMEOUT;
	return rc == CS_OK || rc == CS_ECONFLICT ? rc : CS_ETIMEOUT;
skip:
	if (!last)
		return CS_OK;
	if (sync_txn_begin(w, &e) != CS_OK || inbox_done(&iu, &e) != CS_OK || sync_txn_commit(w, &e) != CS_OK) {
		sync_txn_rollback(w);
		return CS_ETIMEOUT;
	}
	return CS_OK;
}

/* One Salesforce record's change (plan_sf_once), planned again from what is stored when the
 * repository record changed since the plan read it. CS_OK or CS_ETIMEOUT. */
static cs_err
plan_sf_record(struct worker *w, const struct cs_mapping *m, const char *sf_id, const json_t *item, const char *key,
               bool last)
{
	cs_err rc = CS_ECONFLICT;

	for (int i = 0; i < REPLAN_MAX && rc == CS_ECONFLICT; i++)
		if ((rc = plan_sf_once(w, m, sf_id, item, key, last)) == CS_ECONFLICT)
			log_info("sync.plan", "org %s: %s %s: its repository record changed while it was planned: planned again",
			         w->org->name, m->name, sf_id);
	return rc == CS_OK ? CS_OK : CS_ETIMEOUT;
}

static cs_err
drop_item(struct worker *w, const char *key)
{
	struct cs_error e = { 0 };

	if (sync_txn_begin(w, &e) != CS_OK || store_kv_del(w->st, w->ns_inbox, key, NULL, &e) != CS_OK ||
	    sync_txn_commit(w, &e) != CS_OK) {
		sync_txn_rollback(w);
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
	    clm_get_in(w->clm, w->st, sync_kind_of(m->entity), NULL, p.clm_id, &rec, (memset(&cf, 0, sizeof(cf)), &cf)) != CS_OK) {
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
	else if (rc == CS_OK)
		log_info("sync.resolve", "org %s: conflict %s resolved (%s)", w->org->name, ckey, choice);
	if (rc == CS_OK && (sync_txn_begin(w, &e) != CS_OK || store_kv_del(w->st, "conflict", ckey, NULL, &e) != CS_OK ||
	                    sync_txn_commit(w, &e) != CS_OK))
		sync_txn_rollback(w);
	plan_cleanup(&p);
	json_decref(rec);
	json_decref(c);
	return rc == CS_ETIMEOUT || rc == CS_ECONFLICT ? CS_ETIMEOUT : CS_OK;
}

/* A reconcile asked for by an operator (one mapping or all), or by the stream (every mapping of
 * a channel whose events may have been missed). */
static cs_err
run_reconcile_item(struct worker *w, const json_t *item)
{
	const char *mname = json_string_value(json_object_get(item, "mapping"));
	const char *channel = json_string_value(json_object_get(item, "channel"));
	const char *req = json_string_value(json_object_get(item, "request"));
	const char *cause = json_string_value(json_object_get(item, "cause"));
	const struct cs_mapping *m = mname ? cs_config_mapping(w->cfg, mname) : NULL;
	int64_t since = json_integer_value(json_object_get(item, "since_ms"));
	bool repair = json_is_true(json_object_get(item, "repair"));
	long long checked = 0, drift = 0;
	struct cs_error e = { 0 };
	char op[STORE_KV_KEY_MAX];
	cs_err rc = CS_OK;

	if (cause == NULL) {
		/* an operator's `clmsync reconcile`: its rows name its request */
		snprintf(op, sizeof(op), "reconcile:%s", req ? req : "operator");
		cause = op;
	}
	if (m != NULL && sync_paused(w, m))
		rc = cs_error_set(&e, CS_ESTATE, "mapping %s is paused", m->name);
	else if (channel != NULL) {
		for (size_t i = 0; i < w->nmaps && rc == CS_OK; i++) {
			char ch[160];
			long long c = 0, d = 0;
			sync_channel_of(w->maps[i]->sobject, ch, sizeof(ch));
			if (strcmp(ch, channel) != 0)
				continue;
			rc = sync_reconcile(w, w->maps[i], since, repair, cause, &c, &d, &e);
			checked += c;
			drift += d;
		}
	} else
		rc = sync_reconcile(w, m, since, repair, cause, &checked, &drift, &e);
	log_info("sync.reconcile", "org %s: reconcile (%s): %lld records compared, %lld differed%s", w->org->name,
	         json_string_value(json_object_get(item, "why")) ?: "requested", checked, drift,
	         rc == CS_OK ? "" : " (stopped early)");
	if (req != NULL) {
		json_t *res = json_pack("{s:I, s:I, s:b, s:s}", "checked", (json_int_t)checked, "drift", (json_int_t)drift,
		    "ok", rc == CS_OK, "error", rc == CS_OK ? "" : e.msg);
		if (sync_txn_begin(w, &e) != CS_OK || store_kv_put(w->st, "reconcile", req, res, &e) != CS_OK ||
		    sync_txn_commit(w, &e) != CS_OK)
			sync_txn_rollback(w);
		json_decref(res);
	}
	/* a paused mapping's reconcile is done when it resumes (pause.c) */
	return rc == CS_OK || rc == CS_ESTATE || req != NULL ? CS_OK : CS_ETIMEOUT;
}

/* A Salesforce change of a paused mapping: each of its records held (pause.c), the entry
 * removed with them when last. A gap's kind is held as the change it stands for. */
static cs_err
hold_sf(struct worker *w, const struct cs_mapping *m, const json_t *item, const char *key, bool last)
{
	const char *type = json_string_value(json_object_get(item, "type")) ?: "UPDATE";
	struct inbox_ud iu = { w, key };
	struct cs_error e = { 0 };
	size_t k;
	json_t *idv;
	cs_err rc;

	if (strncmp(type, "GAP_", 4) == 0)
		type += 4;
	if ((rc = sync_txn_begin(w, &e)) == CS_OK) {
		json_array_foreach(json_object_get(item, "ids"), k, idv)
			if (json_is_string(idv) && (rc = sync_hold_sf(w->st, m, json_string_value(idv), type, &e)) != CS_OK)
				break;
	}
	if (rc != CS_OK || (last && (rc = inbox_done(&iu, &e)) != CS_OK) || (rc = sync_txn_commit(w, &e)) != CS_OK) {
		sync_txn_rollback(w);
		log_warn("sync.pause", "org %s: %s: cannot hold a change: %s", w->org->name, m->name, e.msg);
		return CS_ETIMEOUT;
	}
	return CS_OK;
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
	sync_txn_group(w);
	json_array_foreach(items, i, it) {
		const char *key = json_string_value(json_object_get(it, "key"));
		json_t *item = json_object_get(it, "doc");
		const char *t = json_string_value(json_object_get(item, "t"));
		const char *entity = json_string_value(json_object_get(item, "entity"));
		json_t *ids = json_object_get(item, "ids"), *idv;
		cs_err rc = CS_OK;
		size_t k;
		/* operator requests and reconciles run as without grouping, each write on its own */
		bool alone = t != NULL && (strcmp(t, "reconcile") == 0 || strcmp(t, "resolve") == 0 ||
		                           strcmp(t, "overflow") == 0);

		if (alone && sync_txn_end(w, &e) != CS_OK) {
			rc = CS_ETIMEOUT;
		} else if (t == NULL) {
			rc = drop_item(w, key);
		} else if (strcmp(t, "reconcile") == 0) {
			rc = run_reconcile_item(w, item);
			if (rc == CS_OK)
				rc = drop_item(w, key);
		} else if (strcmp(t, "plan") == 0) {
			/* a lookup target brought along by the applier */
			const struct cs_mapping *m = cs_config_mapping(w->cfg, json_string_value(json_object_get(item, "mapping")) ?: "");
			const char *cid = json_string_value(json_object_get(item, "clm"));
			const char *op = json_string_value(json_object_get(item, "op")) ?: "update";
			struct inbox_ud iu = { w, key };
			if (m == NULL || cid == NULL)
				rc = drop_item(w, key);
			else if (sync_paused(w, m))
				rc = hold_clm(w, m, cid, op, inbox_done, &iu);
			else
				rc = plan_record(w, m, cid, op, json_string_value(json_object_get(item, "why")) ?: "lookup",
				    inbox_done, &iu);
		} else if (strcmp(t, "resolve") == 0) {
			rc = resolve_conflict(w, item);
			if (rc == CS_OK)
				rc = drop_item(w, key);
		} else if (strcmp(t, "overflow") == 0) {
			/* every mapping of the object, from a little before the overflowing commit */
			char cause[STORE_KV_KEY_MAX];
			int64_t since = json_integer_value(json_object_get(item, "commit_ms")) -
			    (int64_t)w->cfg->sync.reconcile.overlap_s * 1000;
			snprintf(cause, sizeof(cause), "cdc:%s:%lld",
			         json_string_value(json_object_get(item, "channel")) ?: "",
			         (long long)json_integer_value(json_object_get(item, "replay")));
			for (size_t j = 0; j < w->nmaps && rc == CS_OK; j++) {
				long long checked = 0, drift = 0;
				if (entity == NULL || strcasecmp(w->maps[j]->sobject, entity) != 0)
					continue;
				/* a paused mapping is reconciled when it resumes (pause.c) */
				if (sync_paused(w, w->maps[j]))
					continue;
				if (sync_reconcile(w, w->maps[j], since > 0 ? since : 0, true, cause, &checked, &drift,
				                   &e) != CS_OK)
					rc = CS_ETIMEOUT;
			}
			if (rc == CS_OK)
				rc = drop_item(w, key);
		} else {
			/* a change event, or a gap event whose ids are re-read from Salesforce */
			size_t nmatch = 0, lastmap = SIZE_MAX;
			if (strcmp(t, "gap") == 0)
				json_object_set_new(item, "fetch", json_true());
			for (size_t j = 0; j < w->nmaps; j++)
				if (entity != NULL && strcasecmp(w->maps[j]->sobject, entity) == 0)
					lastmap = j;
			for (size_t j = 0; lastmap != SIZE_MAX && j <= lastmap && rc == CS_OK; j++) {
				const struct cs_mapping *m = w->maps[j];
				if (strcasecmp(m->sobject, entity) != 0)
					continue;
				nmatch++;
				if (sync_paused(w, m)) {
					rc = hold_sf(w, m, item, key, j == lastmap);
					continue;
				}
				json_array_foreach(ids, k, idv) {
					/* only the last id's plan of the last mapping removes the entry: a crash
					 * part-way replans the others, which then find both sides equal */
					bool last = k + 1 == json_array_size(ids) && j == lastmap;
					if (!json_is_string(idv))
						continue;
					rc = plan_sf_record(w, m, json_string_value(idv), item, key, last);
					if (rc != CS_OK)
						break;
					sync_count(w, m, SYNC_MC_FROM_SF);
				}
			}
			/* no mapping, no id, or a last id that was not a string: nothing removed it */
			if (rc == CS_OK && (nmatch == 0 || json_array_size(ids) == 0 ||
			    !json_is_string(json_array_get(ids, json_array_size(ids) - 1))))
				rc = drop_item(w, key);
		}
		if (alone)
			sync_txn_group(w);
		if (rc != CS_OK) {
			w->inbox_retry_ms = cs_time_mono_ms() + 500;
			atomic_fetch_add(&w->n_retries, 1);
			break;
		}
		done++;
	}
	if (sync_txn_end(w, &e) != CS_OK) {
		/* the entries of the lost group are still in the inbox: planned again */
		log_warn("sync.inbox", "org %s: cannot commit the plans of inbox entries: %s", w->org->name, e.msg);
		w->inbox_retry_ms = cs_time_mono_ms() + 500;
		json_decref(items);
		return -1;
	}
	json_decref(items);
	return done;
}

/* --- reconcile ----------------------------------------------------------------------------- */

/* The Salesforce ids a full reconcile saw, sorted once the query is done, so that linked records
 * it did not see can be found. Bounded: past SYNC_RECONCILE_IDS_MAX ids the check is skipped. */
struct idset {
	char (*v)[SF_ID_LEN + 1];
	size_t n, cap;
	bool over;
};

static void
idset_add(struct idset *s, const char *id)
{
	if (s->over || strlen(id) != SF_ID_LEN)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		void *g;
		if (cap > SYNC_RECONCILE_IDS_MAX)
			cap = SYNC_RECONCILE_IDS_MAX;
		if (s->n == cap || (g = realloc(s->v, cap * sizeof(*s->v))) == NULL) {
			s->over = true;
			return;
		}
		s->v = g;
		s->cap = cap;
	}
	memcpy(s->v[s->n++], id, SF_ID_LEN + 1);
}

static int
id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SF_ID_LEN);
}

static bool
idset_has(const struct idset *s, const char *id)
{
	return s->n > 0 && strlen(id) == SF_ID_LEN && bsearch(id, s->v, s->n, sizeof(*s->v), id_cmp) != NULL;
}

struct rec_ud {
	struct worker *w;
	const struct cs_mapping *m;
	bool repair;
	const char *event;      /* what the rows of this reconcile name as their cause */
	struct idset *seen;     /* full reconcile: every id the query delivered; else NULL */
	long long checked, drift;
	cs_err err;
	long long total;              /* the query's totalSize, set before its first record */
	bool announced;               /* total was added to the worker's rec_expected */
};

/* A drift a reconcile without repair found: only its audit row is written (a repairing
 * reconcile writes it with the plan that heals it). */
static void
drift_reported(struct rec_ud *r, const char *clm_id, const char *sf_id, const char *detail)
{
	struct worker *w = r->w;
	struct cs_error e = { 0 };
	struct sync_audit_row row = { .org = w->org->name, .mapping = r->m->name, .entity = cs_entity_name(r->m->entity),
		.clm_id = clm_id, .sf_id = sf_id, .decision = "drift", .event = r->event, .detail = detail };

	if (sync_txn_begin(w, &e) != CS_OK || sync_audit_append(w->st, &row, NULL, &e) != CS_OK ||
	    sync_txn_commit(w, &e) != CS_OK) {
		sync_txn_rollback(w);
		log_warn("sync.reconcile", "org %s: %s %s: cannot audit a drift: %s", w->org->name, r->m->name, sf_id, e.msg);
	}
}

/* Salesforce no longer has record sf_id (in the recycle bin, or purged): if it is linked, that
 * is drift, healed as its DELETE event would have been (the mapping's on_delete.clm). */
static void
reconcile_gone(struct rec_ud *r, const char *sf_id)
{
	struct worker *w = r->w;
	char clm_id[CLM_ID_MAX];
	struct cs_error e = { 0 };
	json_t *link = NULL, *item;
	bool same;
	cs_err rc;

	rc = sync_link_by_sf(w->st, r->m, sf_id, clm_id, &e);
	if (rc == CS_ENOTFOUND)
		return;         /* not ours, or its delete is already done */
	if (rc != CS_OK || (rc = sync_link_get(w->st, r->m, clm_id, &link, &e)) != CS_OK) {
		if (rc != CS_ENOTFOUND)
			r->err = rc;
		return;
	}
	/* only the link that names this record: a create still in flight has no Salesforce id yet
	 * (and no reverse row), and a reverse row left behind by a re-link is not this record's */
	same = strcmp(json_string_value(json_object_get(link, "sf")) ?: "", sf_id) == 0;
	json_decref(link);
	if (!same)
		return;
	r->checked++;
	r->drift++;
	log_info("sync.reconcile", "org %s: %s %s (%s) is gone from Salesforce%s", w->org->name, r->m->name, clm_id,
	         sf_id, r->repair ? ": planned as its delete" : "");
	if (!r->repair) {
		drift_reported(r, clm_id, sf_id, "deleted in Salesforce; reported");
		return;
	}
	item = json_pack("{s:s, s:s, s:s, s:[s], s:s, s:b}", "t", "cdc", "type", "DELETE", "entity", r->m->sobject,
	    "ids", sf_id, "event", r->event, "drift", 1);
	if (item == NULL || plan_sf_record(w, r->m, sf_id, item, NULL, false) != CS_OK)
		log_warn("sync.reconcile", "org %s: %s %s: the delete could not be planned now; a later full "
		         "reconcile finds it again", w->org->name, r->m->name, clm_id);
	json_decref(item);
}

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
	bool planned;
	cs_err rc;

	if (sf_id == NULL || atomic_load(&w->stop))
		return 1;
	if (!r->announced) {
		/* for the operator's progress line: how many records this mapping will bring */
		r->announced = true;
		atomic_fetch_add(&w->rec_expected, r->total);
	}
	if (r->seen != NULL)
		idset_add(r->seen, sf_id);
	if (json_is_true(json_object_get(sfrec, "IsDeleted"))) {
		reconcile_gone(r, sf_id);
		return r->err != CS_OK;
	}
	r->checked++;
	atomic_fetch_add(&w->rec_progress, 1);
	rc = sync_link_by_sf(w->st, r->m, sf_id, clm_id, &e);
	if (rc == CS_ENOTFOUND) {
		const json_t *ext = r->m->external_id_field[0] ? json_object_get(sfrec, r->m->external_id_field) : NULL;
		if (!json_is_string(ext) && r->m->on_create.clm != CS_CREATE_CREATE)
			return 0;
		r->drift++;
		if (r->repair) {
			rc = create_from_sf(w, r->m, sf_id, sfrec, r->event, "not linked; repaired", clm_id, why,
			                    sizeof(why));
			if (rc != CS_OK && rc != CS_EINVAL && rc != CS_ENOTFOUND) {
				/* the store or Salesforce failed for now: the reconcile stops, and one asked
				 * for by a gap or a lost replay position is made again (plan_inbox) */
				r->err = CS_ETIMEOUT;
				return 1;
			}
			if (rc != CS_OK)
				log_warn("sync.reconcile", "org %s: %s %s: %s", w->org->name, r->m->name, sf_id, why);
		} else
			drift_reported(r, json_is_string(ext) ? json_string_value(ext) : NULL, sf_id,
			               "not linked; reported");
		return 0;
	}
	if (rc != CS_OK) {
		r->err = rc;
		return 1;
	}
	plan_init(&p, w, r->m, clm_id, r->event);
	snprintf(p.sf_id, sizeof(p.sf_id), "%s", sf_id);
	memset(&cf, 0, sizeof(cf));
	if ((rc = sync_link_get(w->st, r->m, clm_id, &p.link, &e)) != CS_OK ||
	    clm_get_in(w->clm, w->st, sync_kind_of(r->m->entity), NULL, clm_id, &rec, &cf) != CS_OK) {
		plan_cleanup(&p);
		/* a record gone from the repository meanwhile is its delete's business; the store
		 * failing is not a record compared: the reconcile stops (and is made again) */
		if (rc != CS_OK ? rc != CS_ENOTFOUND : cf.status >= 500) {
			r->err = rc != CS_OK ? rc : CS_EIO;
			return 1;
		}
		return 0;
	}
	p.rec = rec;
	w->transient = false;
	planned = plan_sf_side(&p, sfrec, false, true, why, sizeof(why));
	if (!planned && w->transient) {
		/* a lookup's target could not be read or made for now (the store, Salesforce): the
		 * reconcile stops rather than pass over this record */
		r->err = CS_ETIMEOUT;
		plan_cleanup(&p);
		json_decref(rec);
		return 1;
	}
	if (!planned)
		log_warn("sync.reconcile", "org %s: %s %s: %s", w->org->name, r->m->name, clm_id, why);
	if (planned &&
	    (json_object_size(p.patch) > 0 || json_object_size(p.sfw) > 0 || json_array_size(p.conflicts) > 0)) {
		/* the read brought something: events older than it must not undo it (older_than_read);
		 * a read that found nothing new leaves the link unwritten */
		read_at(&p, sfrec);
		r->drift++;
		if (r->repair)
			audit(&p, NULL, NULL, NULL, NULL, "drift", "repaired");
		else
			drift_reported(r, clm_id, sf_id, "reported");
	}
	if (r->repair || (p.dirty && json_object_size(p.patch) == 0 && json_object_size(p.sfw) == 0 &&
	                  json_array_size(p.conflicts) == 0)) {
		rc = commit_plan(&p, NULL, NULL, why, sizeof(why));
		if (rc == CS_EINVAL)
			log_warn("sync.reconcile", "org %s: %s %s: %s", w->org->name, r->m->name, clm_id, why);
		else if (rc != CS_OK) {
			/* nothing of this record's repair was written: the reconcile stops rather than
			 * report it done; one asked for by a gap or a lost replay position is made again
			 * (also when the record changed since it was read: the next one reads it anew) */
			r->err = rc == CS_ECONFLICT ? CS_ETIMEOUT : rc;
			plan_cleanup(&p);
			json_decref(rec);
			return 1;
		}
	}
	plan_cleanup(&p);
	json_decref(rec);
	return 0;
}

/* SELECT Id, IsDeleted, the external id and every mapped field FROM the mapping's object. */
static void
select_mapped(struct sf_soql *q, const struct cs_mapping *m)
{
	sf_soql_kw(q, "SELECT Id, IsDeleted");
	if (m->external_id_field[0] != '\0') {
		sf_soql_kw(q, ", ");
		sf_soql_name(q, m->external_id_field);
	}
	for (size_t i = 0; i < m->nfields; i++) {
		if (!sync_sf_field_first(m, i))
			continue;
		sf_soql_kw(q, ", ");
		sf_soql_name(q, m->fields[i].sf);
	}
	if (!maps_modstamp(m))
		sf_soql_kw(q, ", SystemModstamp");
	sf_soql_kw(q, " FROM ");
	sf_soql_name(q, m->sobject);
}

/* Delivers each row to reconcile_one and notes which of the ids asked for came back. */
struct absent_ud {
	struct rec_ud *r;
	const char *const *ids;
	bool *back;
	size_t n;
};

static int
absent_row(void *ud, const json_t *sfrec)
{
	struct absent_ud *a = ud;
	const char *id = json_string_value(json_object_get(sfrec, "Id"));

	for (size_t i = 0; id != NULL && i < a->n; i++)
		if (strcmp(a->ids[i], id) == 0)
			a->back[i] = true;
	return reconcile_one(a->r, sfrec);
}

/* Asks Salesforce about linked records ids[0..n) the full query did not deliver, the recycle bin
 * included: one still there (made after the query began) is compared as usual, one in the
 * recycle bin or not there at all (purged, hard-deleted) is gone. */
static cs_err
reconcile_absent(struct rec_ud *r, const char *const *ids, size_t n, struct cs_error *e)
{
	struct sf_soql q;
	struct sf_error se;
	bool back[SYNC_ABSENT_BATCH] = { false };
	struct absent_ud a = { r, ids, back, n };
	const char *text;
	cs_err rc;

	sf_soql_init(&q);
	select_mapped(&q, r->m);
	sf_soql_kw(&q, " WHERE Id IN ");
	sf_soql_in(&q, ids, n);
	if ((text = sf_soql_text(&q, &rc)) == NULL) {
		sf_soql_cleanup(&q);
		return cs_error_set(e, rc, "%s: cannot build the query of absent records", r->m->name);
	}
	sf_error_clear(&se);
	rc = sf_query(r->w->sc, text, SF_QUERY_ALL, 0, absent_row, &a, NULL, &se);
	atomic_fetch_add(&r->w->n_sf_calls, 1);
	sf_soql_cleanup(&q);
	if (rc != CS_OK)
		return cs_error_set(e, rc, "%s: %s", r->m->name, se.message[0] ? se.message : cs_strerror(rc));
	for (size_t i = 0; i < n && r->err == CS_OK; i++)
		if (!back[i])
			reconcile_gone(r, ids[i]);
	return r->err != CS_OK ? cs_error_set(e, r->err, "%s: the store failed", r->m->name) : CS_OK;
}

/* Walks the mapping's links by Salesforce id and asks after each one the full query did not
 * deliver (reconcile_absent), SYNC_ABSENT_BATCH at a time. Links with no Salesforce id yet (a
 * create in flight) have no reverse row and are not looked at. */
static cs_err
reconcile_links(struct rec_ud *r, struct idset *seen, struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX], after[STORE_KV_KEY_MAX] = "";
	char ids[SYNC_ABSENT_BATCH][SF_ID_LEN + 1];
	const char *idp[SYNC_ABSENT_BATCH];
	size_t n = 0;
	cs_err rc = CS_OK;

	snprintf(ns, sizeof(ns), "linkr:%s", r->m->name);
	if (seen->n > 0)
		qsort(seen->v, seen->n, sizeof(*seen->v), id_cmp);
	r->seen = NULL;         /* sorted now: what is asked after below is not added */
	for (;;) {
		json_t *page = NULL, *it;
		size_t i;
		if ((rc = store_kv_scan(r->w->st, ns, after[0] ? after : NULL, STORE_LIST_MAX, &page, e)) != CS_OK)
			return rc;
		if (json_array_size(page) == 0) {
			json_decref(page);
			break;
		}
		json_array_foreach(page, i, it) {
			const char *sid = json_string_value(json_object_get(it, "key"));
			if (sid == NULL || strlen(sid) >= sizeof(after))
				continue;
			snprintf(after, sizeof(after), "%s", sid);
			if (strlen(sid) != SF_ID_LEN || idset_has(seen, sid))
				continue;
			memcpy(ids[n], sid, SF_ID_LEN + 1);
			idp[n] = ids[n];
			/* the deletes it plans remove reverse rows behind the scan position only */
			if (++n == SYNC_ABSENT_BATCH) {
				if ((rc = reconcile_absent(r, idp, n, e)) != CS_OK) {
					json_decref(page);
					return rc;
				}
				n = 0;
			}
		}
		json_decref(page);
	}
	return n > 0 ? reconcile_absent(r, idp, n, e) : CS_OK;
}

/* The "reconcile" audit row of one mapping's pass, in its own transaction. */
static void
audit_reconcile(struct worker *w, const struct cs_mapping *m, const char *cause, int64_t since_ms, bool repair,
                long long checked, long long drift, const char *failed)
{
	char detail[512], ts[32] = "";
	struct cs_error e = { 0 };
	struct sync_audit_row r = { .org = w->org->name, .mapping = m->name, .entity = cs_entity_name(m->entity),
		.decision = "reconcile", .event = cause, .detail = detail };

	if (since_ms > 0)
		cs_time_format_iso(since_ms, ts, sizeof(ts));
	snprintf(detail, sizeof(detail), "%s%s: %lld checked, %lld drift%s%s%.300s",
	         since_ms > 0 ? "changed since " : "full", ts, checked, drift,
	         drift == 0 ? "" : repair ? ", repaired" : ", reported", failed ? "; stopped early: " : "",
	         failed ? failed : "");
	if (sync_txn_begin(w, &e) != CS_OK || sync_audit_append(w->st, &r, NULL, &e) != CS_OK ||
	    sync_txn_commit(w, &e) != CS_OK) {
		sync_txn_rollback(w);
		log_warn("sync.reconcile", "org %s: %s: cannot audit the reconcile: %s", w->org->name, m->name, e.msg);
	}
}

static cs_err
reconcile_mapping(struct worker *w, const struct cs_mapping *m, int64_t since_ms, bool repair, const char *cause,
                  long long *checked, long long *drift, struct cs_error *e)
{
	struct sf_soql q;
	struct sf_error se;
	struct idset seen = { NULL, 0, 0, false };
	struct rec_ud r = { w, m, repair, cause, since_ms == 0 ? &seen : NULL, 0, 0, CS_OK, 0, false };
	const char *text;
	cs_err rc;

	/* queryAll: what Salesforce deleted since (in its recycle bin, IsDeleted) is a change too */
	sf_soql_init(&q);
	select_mapped(&q, m);
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
		rc = cs_error_set(e, rc, "%s: cannot build the reconcile query", m->name);
		goto out;
	}
	sf_error_clear(&se);
	rc = sf_query(w->sc, text, SF_QUERY_ALL, 2000, reconcile_one, &r, &r.total, &se);
	atomic_fetch_add(&w->n_sf_calls, 1);
	sf_soql_cleanup(&q);
	if (rc != CS_OK) {
		rc = cs_error_set(e, rc, "%s: %s", m->name, se.message[0] ? se.message : cs_strerror(rc));
		goto out;
	}
	if (r.err != CS_OK) {
		rc = cs_error_set(e, r.err, "%s: the store failed", m->name);
		goto out;
	}
	if (atomic_load(&w->stop)) {
		rc = cs_error_set(e, CS_ESTATE, "%s: stopped", m->name);
		goto out;
	}
	/* linked records the full query did not deliver: Salesforce may no longer have them */
	if (since_ms == 0) {
		if (seen.over)
			log_warn("sync.reconcile", "org %s: %s: more than %d records: records deleted in Salesforce are "
			         "found by their events only", w->org->name, m->name, SYNC_RECONCILE_IDS_MAX);
		else if ((rc = reconcile_links(&r, &seen, e)) != CS_OK)
			goto out;
	}
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
			if (clm_list(w->clm, &lq, &page, &cf) != CS_OK) {
				rc = cs_error_set(e, CS_EIO, "%s: cannot list the repository: %s", m->name, cf.msg);
				goto out;
			}
			json_array_foreach(json_object_get(page, "data"), i, row) {
				const char *id = json_string_value(json_object_get(row, "id"));
				bool gone = false;
				if (id == NULL)
					continue;
				r.checked++;
				link = NULL;
				/* not linked: a create that was missed, unless Salesforce deleted it */
				if (sync_link_get(w->st, m, id, &link, e) == CS_ENOTFOUND &&
				    sync_route_of(w->clm, w->st, m, row, NULL) == 1 &&
				    sf_deleted(w, m, id, &gone, e) == CS_OK && !gone) {
					r.drift++;
					if (repair)
						plan_record(w, m, id, "update", cause, NULL, NULL);
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
	rc = CS_OK;
out:
	free(seen.v);
	*checked += r.checked;
	*drift += r.drift;
	audit_reconcile(w, m, cause, since_ms, repair, r.checked, r.drift, rc == CS_OK ? NULL : e->msg);
	return rc;
}

cs_err
sync_reconcile(struct worker *w, const struct cs_mapping *m, int64_t since_ms, bool repair, const char *cause,
               long long *checked, long long *drift, struct cs_error *e)
{
	cs_err rc = CS_OK;

	*checked = *drift = 0;
	atomic_store(&w->rec_progress, 0);
	atomic_store(&w->rec_expected, 0);
	atomic_store(&w->rec_running_ms, cs_time_now_ms());
	for (size_t i = 0; i < w->nmaps && rc == CS_OK; i++) {
		if ((m != NULL && w->maps[i] != m) || sync_paused(w, w->maps[i]))
			continue;
		rc = reconcile_mapping(w, w->maps[i], since_ms, repair, cause, checked, drift, e);
	}
	atomic_store(&w->rec_last_checked, *checked);
	atomic_store(&w->rec_last_drift, *drift);
	atomic_store(&w->rec_last_ms, cs_time_now_ms());
	atomic_store(&w->rec_running_ms, 0);
	atomic_fetch_add(&w->n_reconciles, 1);
	atomic_fetch_add(&w->n_drift, (unsigned long long)*drift);
	if (repair)
		atomic_fetch_add(&w->n_repaired, (unsigned long long)*drift);
	return rc;
}

/* repo.c - the repository's operations: each write an atomic unit of records, history and change rows, run by the writer. */
#include "clm/clm.h"
#include "clm/clm_int.h"
#include "util/id.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTRACT_SORTS "created_at updated_at number title status type owner effective_date expiration_date notice_deadline"

static cs_err
sfail(struct clm_op *o, cs_err rc, struct clm_fail *f, const char *kind)
{
	switch (rc) {
	case CS_ENOTFOUND:
		return clm_fail_set(f, 404, "not_found", NULL, "no such %s", kind);
	case CS_EEXIST:
		return clm_fail_set(f, 409, "duplicate", strstr(o->e.msg, "number") ? "number" : NULL,
		    "a unique value is already taken: %s", o->e.msg);
	case CS_ECONFLICT:
		return clm_fail_set(f, 409, "conflict", NULL, "the record changed concurrently; read it again");
	case CS_ETIMEOUT:
		return clm_fail_set(f, 503, "store_busy", NULL, "the store is busy; retry");
	default:
		log_error("clm.store", "%s: %s", cs_strerror(rc), o->e.msg);
		return clm_fail_set(f, 500, "internal", NULL, "the store failed");
	}
}

static bool
actor_ok(const char *a)
{
	const char *colon = a ? strchr(a, ':') : NULL;

	return colon != NULL && colon != a && colon[1] != '\0' && strlen(a) < CLM_ACTOR_MAX;
}

/* Sets o up for a read, on a pooled connection that op_end gives back. */
static cs_err
op_read(struct clm_op *o, struct clm *c, struct clm_fail *f)
{
	cs_err rc;

	memset(o, 0, sizeof(*o));
	o->c = c;
	o->now = cs_time_now_ms();
	o->today = cs_date_today();
	if ((rc = store_pool_acquire(c->pool, CLM_POOL_WAIT_MS, &o->s, &o->e)) != CS_OK) {
		o->s = NULL;
		return rc == CS_ETIMEOUT ? clm_fail_set(f, 503, "store_busy", NULL, "no store connection is free; retry")
		    : sfail(o, rc, f, "record");
	}
	return CS_OK;
}

/* Sets o up for a write: no connection, the writer thread lends its own (clm_write). */
static cs_err
op_write(struct clm_op *o, struct clm *c, const char *actor, struct clm_fail *f)
{
	memset(o, 0, sizeof(*o));
	o->c = c;
	o->actor = actor;
	o->now = cs_time_now_ms();
	o->today = cs_date_today();
	if (!actor_ok(actor))
		return clm_fail_set(f, 500, "internal", NULL, "bad actor");
	return CS_OK;
}

/* Sets o up for a read on the caller's connection s (its open transaction's writes visible), or
 * on a pooled one when s is NULL (op_read). */
static cs_err
op_read_on(struct clm_op *o, struct clm *c, struct store *s, struct clm_fail *f)
{
	if (s == NULL)
		return op_read(o, c, f);
	memset(o, 0, sizeof(*o));
	o->c = c;
	o->s = s;
	o->lent = true;
	o->now = cs_time_now_ms();
	o->today = cs_date_today();
	return CS_OK;
}

/* Gives a read's connection back, unless it was lent (op_read_on); returns rc. */
static cs_err
op_end(struct clm_op *o, cs_err rc)
{
	if (o->s != NULL && !o->lent)
		store_pool_release(o->c->pool, o->s);
	o->s = NULL;
	return rc;
}

/* {"field": {"old": v, "new": v}} for the top-level fields that differ; old or new may be NULL. */
static json_t *
diff(const json_t *old, const json_t *new)
{
	json_t *d = json_object(), *v;
	const char *k;

	if (d == NULL)
		return NULL;
	json_object_foreach((json_t *)new, k, v) {
		json_t *ov = old ? json_object_get(old, k) : NULL;
		if (ov == NULL || !json_equal(ov, v))
			json_object_set_new(d, k, json_pack("{s:O,s:O}", "old", ov ? ov : json_null(), "new", v));
	}
	json_object_foreach((json_t *)old, k, v) {
		if (new == NULL || json_object_get(new, k) == NULL)
			json_object_set_new(d, k, json_pack("{s:O,s:n}", "old", v, "new"));
	}
	return d;
}

/* Writes r (a new record when r->version is 1) and its change row, inside o's transaction.
 * old is the previous document (NULL for a create). */
static cs_err
rec_write(struct clm_op *o, struct store_rec *r, const json_t *old, const char *opname, struct clm_fail *f)
{
	struct store_change ch;
	json_t *fields;
	cs_err rc;

	r->updated_ms = o->now;
	if (r->version == 1)
		r->created_ms = o->now;
	snprintf(r->updated_by, sizeof(r->updated_by), "%s", o->actor);
	rc = r->version == 1 ? store_insert(o->s, r, &o->e) : store_update(o->s, r, &o->e);
	if (rc != CS_OK)
		return sfail(o, rc, f, r->kind);
	if ((fields = diff(old, r->doc)) == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	memset(&ch, 0, sizeof(ch));
	ch.entity = r->kind;
	ch.id = r->id;
	ch.parent = r->parent[0] ? r->parent : NULL;
	ch.version = r->version;
	ch.op = opname;
	ch.fields = fields;
	ch.origin = o->actor;
	ch.ts_ms = o->now;
	rc = store_change_append(o->s, &ch, &o->seq, &o->e);
	json_decref(fields);
	return rc == CS_OK ? CS_OK : sfail(o, rc, f, r->kind);
}

static cs_err
get(struct clm_op *o, enum clm_kind k, const char *id, struct store_rec *r, struct clm_fail *f)
{
	cs_err rc;

	memset(r, 0, sizeof(*r));
	if (id == NULL || !cs_id_valid(clm_kind_prefix(k), id, strlen(id)))
		return clm_fail_set(f, 404, "not_found", NULL, "no such %s", clm_kind_name(k));
	rc = store_get(o->s, clm_kind_name(k), id, r, &o->e);
	return rc == CS_OK ? CS_OK : sfail(o, rc, f, clm_kind_name(k));
}

/* The record must exist and, for children, belong to contract parent. */
static cs_err
get_child(struct clm_op *o, enum clm_kind k, const char *parent, const char *id, struct store_rec *r,
    struct clm_fail *f)
{
	cs_err rc = get(o, k, id, r, f);

	if (rc == CS_OK && parent != NULL && strcmp(r->parent, parent) != 0) {
		store_rec_cleanup(r);
		return clm_fail_set(f, 404, "not_found", NULL, "no such %s on this contract", clm_kind_name(k));
	}
	return rc;
}

static cs_err
exists(struct clm_op *o, enum clm_kind k, const char *id, const char *field, struct clm_fail *f)
{
	struct store_rec r;
	cs_err rc = get(o, k, id, &r, f);

	store_rec_cleanup(&r);
	if (rc == CS_ENOTFOUND)
		return clm_fail_set(f, 422, "invalid_reference", field, "%s names no existing %s", field, clm_kind_name(k));
	return rc;
}

static cs_err
version_check(const struct store_rec *r, long long if_match, struct clm_fail *f)
{
	if (if_match >= 0 && r->version != if_match)
		return clm_fail_set(f, 412, "version_mismatch", "version",
		    "the record is at version %lld, not %lld", r->version, if_match);
	return CS_OK;
}

static enum clm_status
status_of(const json_t *doc)
{
	int s = clm_status_parse(cs_json_get_str(doc, "status"));

	return s < 0 ? CLM_DRAFT : (enum clm_status)s;
}

/* Top-level merge: null removes, custom merges key by key. -1 when out of memory, doc then
 * half merged (the caller fails the write, which is rolled back). */
static int
merge(json_t *doc, const json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)patch, k, v) {
		if (strcmp(k, "custom") == 0 && json_is_object(v)) {
			json_t *cur = json_object_get(doc, "custom"), *cv;
			const char *ck;
			if (!json_is_object(cur)) {
				if (json_object_set_new(doc, "custom", json_object()) != 0)
					return -1;
				cur = json_object_get(doc, "custom");
			}
			json_object_foreach(v, ck, cv) {
				if (json_is_null(cv))
					json_object_del(cur, ck);
				else if (json_object_set(cur, ck, cv) != 0)
					return -1;
			}
			if (json_object_size(cur) == 0)
				json_object_del(doc, "custom");
		} else if (json_is_null(v))
			json_object_del(doc, k);
		else if (json_object_set(doc, k, v) != 0)
			return -1;
	}
	return 0;
}

/* merge(), failing f when out of memory. */
static cs_err
merge_or_fail(json_t *doc, const json_t *patch, struct clm_fail *f)
{
	if (merge(doc, patch) != 0)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	return CS_OK;
}

/* After a change to a contract's dates or term: a change to effective_date or term_months that
 * does not name expiration_date moves the expiration date with them. */
static void
rederive(json_t *doc, const json_t *patch)
{
	if ((json_object_get(patch, "effective_date") || json_object_get(patch, "term_months")) &&
	    !json_object_get(patch, "expiration_date") && json_is_integer(json_object_get(doc, "term_months")) &&
	    json_object_get(doc, "effective_date"))
		json_object_del(doc, "expiration_date");
	clm_contract_derive(doc);
}

/* Checks the references a contract makes when they are new or changed. */
static cs_err
contract_refs(struct clm_op *o, const json_t *doc, const json_t *old, struct clm_fail *f)
{
	static const struct { const char *field; enum clm_kind k; } refs[] = {
		{ "counterparty_id", CLM_COUNTERPARTY }, { "parent_contract_id", CLM_CONTRACT },
	};
	cs_err rc;

	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		const json_t *v = json_object_get(doc, refs[i].field);
		if (!json_is_string(v) || (old && json_equal(v, json_object_get(old, refs[i].field))))
			continue;
		if ((rc = exists(o, refs[i].k, json_string_value(v), refs[i].field, f)) != CS_OK)
			return rc;
	}
	return CS_OK;
}

static cs_err
new_id(enum clm_kind k, char *id, struct clm_fail *f)
{
	if (cs_id_new(clm_kind_prefix(k), id) != CS_OK)
		return clm_fail_set(f, 500, "internal", NULL, "cannot make an id");
	return CS_OK;
}

static cs_err
number_next(struct clm_op *o, json_t *doc, struct clm_fail *f)
{
	long long n;
	int y;
	unsigned m, d;
	char num[40];
	cs_err rc;

	if ((rc = store_counter_next(o->s, CLM_NUMBER_COUNTER, &n, &o->e)) != CS_OK)
		return sfail(o, rc, f, "counter");
	cs_civil_from_days(o->today, &y, &m, &d);
	snprintf(num, sizeof(num), "C-%04d-%06lld", y, n);
	json_object_set_new(doc, "number", json_string(num));
	return CS_OK;
}

static void
rec_init(struct store_rec *r, enum clm_kind k, const char *id, const char *parent, json_t *doc)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->kind, sizeof(r->kind), "%s", clm_kind_name(k));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->parent, sizeof(r->parent), "%s", parent ? parent : "");
	r->version = 1;
	r->doc = doc;
}

static cs_err
out_rec(const struct store_rec *r, int64_t today, json_t **out, struct clm_fail *f)
{
	if (out == NULL)
		return CS_OK;
	if ((*out = clm_record_json(r, today)) == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	return CS_OK;
}

/* A write's answer, built in its transaction (clm_op.ans_rec), goes to *out when it committed.
 * Returns rc. */
static cs_err
take_answer(struct clm_op *o, cs_err rc, json_t **out)
{
	if (rc == CS_OK && out != NULL)
		*out = o->ans;
	else
		json_decref(o->ans);
	o->ans = NULL;
	return rc;
}

/* ---- amendments ---- */

static bool
amendable_status(enum clm_status s)
{
	return s == CLM_SIGNED || s == CLM_ACTIVE;
}

/* Applies amendment am (doc in am->doc, pending) to contract ct, in o's transaction: the
 * contract gets the changes (previous values kept on the amendment), both are written. */
static cs_err
amend_apply(struct clm_op *o, struct store_rec *am, struct store_rec *ct, struct clm_fail *f)
{
	const json_t *ch = json_object_get(am->doc, "changes");
	json_t *old = json_deep_copy(ct->doc), *prev = json_object(), *ids, *amold = NULL, *v;
	const char *k;
	char ts[32];
	cs_err rc;

	if (old == NULL || prev == NULL) {
		rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
		goto out;
	}
	json_object_foreach((json_t *)ch, k, v) {
		json_t *pv = json_object_get(ct->doc, k);
		if (json_object_set(prev, k, pv ? pv : json_null()) != 0) {
			rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
			goto out;
		}
	}
	if ((rc = merge_or_fail(ct->doc, ch, f)) != CS_OK)
		goto out;
	rederive(ct->doc, ch);
	if ((rc = clm_contract_check(ct->doc, f)) != CS_OK)
		goto out;
	ids = json_object_get(ct->doc, "amendment_ids");
	if (!json_is_array(ids)) {
		json_object_set_new(ct->doc, "amendment_ids", json_array());
		ids = json_object_get(ct->doc, "amendment_ids");
	}
	json_array_append_new(ids, json_string(am->id));
	ct->version++;
	if ((rc = rec_write(o, ct, old, "amend", f)) != CS_OK)
		goto out;
	if ((amold = json_deep_copy(am->doc)) == NULL) {
		rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
		goto out;
	}
	cs_time_format_iso(o->now, ts, sizeof(ts));
	json_object_set_new(am->doc, "status", json_string("applied"));
	json_object_set_new(am->doc, "applied_at", json_string(ts));
	json_object_set(am->doc, "previous", prev);
	am->version++;
	rc = rec_write(o, am, amold, "update", f);
out:
	json_decref(old);
	json_decref(prev);
	json_decref(amold);
	return rc;
}

/* ---- renewal ---- */

static const char *const renew_overrides[] = {
	"title", "effective_date", "expiration_date", "term_months", "total_value", "description", NULL,
};
static const char *const renew_drop[] = {
	"number", "status", "customer_signed_date", "company_signed_date", "termination_date",
	"termination_reason", "renewal_id", "amendment_ids", "notice_deadline", "parent_contract_id",
	"expiration_date", "effective_date", NULL,
};

/* Renews parent (read in o's transaction): writes the successor and marks parent renewed.
 * automatic: the successor continues in force (active when its term has begun); otherwise
 * it starts as a draft for negotiation. succ gets the successor (caller cleans it up). */
static cs_err
renew(struct clm_op *o, struct store_rec *parent, const json_t *over, bool automatic, struct store_rec *succ,
    struct clm_fail *f)
{
	enum clm_status from = status_of(parent->doc);
	json_t *doc = NULL, *old = NULL;
	int64_t exp, start;
	char id[CLM_ID_MAX], day[16];
	cs_err rc;

	memset(succ, 0, sizeof(*succ));
	if ((rc = clm_transition_check(parent->doc, from, CLM_RENEWED, o->today, f)) != CS_OK)
		return rc;
	if ((rc = new_id(CLM_CONTRACT, id, f)) != CS_OK)
		return rc;
	if ((doc = json_deep_copy(parent->doc)) == NULL || (old = json_deep_copy(parent->doc)) == NULL) {
		rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; renew_drop[i]; i++)
		json_object_del(doc, renew_drop[i]);
	/* The next term starts the day after this one ends (today when it has no end). */
	{
		const json_t *e = json_object_get(parent->doc, "expiration_date");
		if (json_is_string(e) && cs_date_parse(json_string_value(e), json_string_length(e), &exp))
			cs_date_add_days(exp, 1, &start);
		else
			start = o->today;
	}
	cs_date_format(start, day, sizeof(day));
	{
		int bad = json_object_set_new(doc, "effective_date", json_string(day));
		if (!json_is_integer(json_object_get(doc, "term_months")) ||
		    json_integer_value(json_object_get(doc, "term_months")) == 0)
			bad |= json_object_set_new(doc, "term_months", json_integer(12));
		bad |= json_object_set_new(doc, "type", json_string("renewal"));
		bad |= json_object_set_new(doc, "parent_contract_id", json_string(parent->id));
		bad |= json_object_set_new(doc, "approval_status", json_string("not_required"));
		if (bad != 0 || (over != NULL && merge(doc, over) != 0)) {
			rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
			goto out;
		}
	}
	clm_contract_derive(doc);
	if ((rc = clm_contract_check(doc, f)) != CS_OK)
		goto out;
	if (automatic) {
		int64_t eff = start;
		const json_t *e = json_object_get(doc, "effective_date");
		cs_date_parse(json_string_value(e), json_string_length(e), &eff);
		json_object_set_new(doc, "status", json_string(eff <= o->today ? "active" : "signed"));
	} else
		json_object_set_new(doc, "status", json_string("draft"));
	if ((rc = number_next(o, doc, f)) != CS_OK)
		goto out;
	rec_init(succ, CLM_CONTRACT, id, NULL, doc);
	doc = NULL;
	if ((rc = rec_write(o, succ, NULL, "create", f)) != CS_OK)
		goto out;
	json_object_set_new(parent->doc, "renewal_id", json_string(id));
	clm_transition_effects(parent->doc, from, CLM_RENEWED, o->today);
	parent->version++;
	rc = rec_write(o, parent, old, "transition", f);
out:
	json_decref(doc);
	json_decref(old);
	return rc;
}

/* ---- operations ---- */

/* Fills defaults and checks a new record's own rules, outside any transaction. */
static cs_err
prepare(const struct clm_op *o, enum clm_kind k, json_t *doc, struct clm_fail *f)
{
	char ts[32];
	cs_err rc;

	switch (k) {
	case CLM_COUNTERPARTY:
		if (!json_object_get(doc, "status"))
			json_object_set_new(doc, "status", json_string("active"));
		break;
	case CLM_CONTRACT:
		if (!json_object_get(doc, "status"))
			json_object_set_new(doc, "status", json_string("draft"));
		if (!json_object_get(doc, "type"))
			json_object_set_new(doc, "type", json_string("other"));
		if (!json_object_get(doc, "auto_renew"))
			json_object_set_new(doc, "auto_renew", json_false());
		if (!json_object_get(doc, "approval_status"))
			json_object_set_new(doc, "approval_status", json_string("not_required"));
		clm_contract_derive(doc);
		if ((rc = clm_contract_check(doc, f)) != CS_OK)
			return rc;
		if (status_of(doc) != CLM_DRAFT &&
		    (rc = clm_status_check_entry(doc, status_of(doc), o->today, f)) != CS_OK)
			return rc;
		break;
	case CLM_AMENDMENT:
		json_object_set_new(doc, "status", json_string("pending"));
		break;
	case CLM_OBLIGATION:
		if (!json_object_get(doc, "status"))
			json_object_set_new(doc, "status", json_string("open"));
		if (!json_object_get(doc, "recurrence"))
			json_object_set_new(doc, "recurrence", json_string("none"));
		break;
	case CLM_APPROVAL:
		if (!json_object_get(doc, "step"))
			json_object_set_new(doc, "step", json_integer(1));
		if (!json_object_get(doc, "decision"))
			json_object_set_new(doc, "decision", json_string("pending"));
		if (strcmp(cs_json_get_str(doc, "decision"), "pending") != 0 && !json_object_get(doc, "decided_at")) {
			cs_time_format_iso(o->now, ts, sizeof(ts));
			json_object_set_new(doc, "decided_at", json_string(ts));
		}
		break;
	case CLM_SIGNATURE:
		break;
	case CLM_DOCUMENT:
	default:
		return clm_fail_set(f, 422, "invalid_request", NULL, "documents are created by uploading content");
	}
	return CS_OK;
}

/* A signature event fills the contract's signature date of its party when it has none. */
static cs_err
signature_effect(struct clm_op *o, struct store_rec *ct, const json_t *sig, struct clm_fail *f)
{
	const char *party = cs_json_get_str(sig, "party"), *at = cs_json_get_str(sig, "signed_at");
	const char *field = party && strcmp(party, "company") == 0 ? "company_signed_date" : "customer_signed_date";
	json_t *old;
	char day[11];
	cs_err rc;

	if (at == NULL || strlen(at) < 10 || json_object_get(ct->doc, field) != NULL)
		return CS_OK;
	memcpy(day, at, 10);
	day[10] = '\0';
	if ((old = json_deep_copy(ct->doc)) == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	json_object_set_new(ct->doc, field, json_string(day));
	ct->version++;
	rc = rec_write(o, ct, old, "update", f);
	json_decref(old);
	return rc;
}

/* Applies a prepared create; see clm_int.h. Writer thread. */
cs_err
clm_create_apply(struct clm_op *o, struct clm_create_job *j, struct clm_fail *f)
{
	enum clm_kind k = j->k;
	bool child = k >= CLM_AMENDMENT;
	cs_err rc;

	if (child) {
		if ((rc = get(o, CLM_CONTRACT, j->parent_id, &j->ct, f)) != CS_OK)
			return rc;
		json_object_set_new(j->doc, "contract_id", json_string(j->ct.id));
	}
	if (k == CLM_CONTRACT) {
		if ((rc = contract_refs(o, j->doc, NULL, f)) != CS_OK)
			return rc;
		if (!json_object_get(j->doc, "number") && (rc = number_next(o, j->doc, f)) != CS_OK)
			return rc;
	}
	if (k == CLM_AMENDMENT) {
		int64_t eff = 0;
		const json_t *e = json_object_get(j->doc, "effective_date");
		json_t *trial;
		if (!amendable_status(status_of(j->ct.doc)))
			return clm_fail_set(f, 422, "invalid_state", "contract_id",
			    "a contract is amended once signed or active, not in %s", clm_status_name(status_of(j->ct.doc)));
		/* the amended contract must be valid now, not only when the amendment applies */
		if ((trial = json_deep_copy(j->ct.doc)) == NULL)
			return clm_fail_set(f, 500, "internal", NULL, "out of memory");
		if ((rc = merge_or_fail(trial, json_object_get(j->doc, "changes"), f)) == CS_OK) {
			rederive(trial, json_object_get(j->doc, "changes"));
			rc = clm_contract_check(trial, f);
		}
		json_decref(trial);
		if (rc != CS_OK)
			return rc;
		cs_date_parse(json_string_value(e), json_string_length(e), &eff);
		rec_init(&j->r, k, j->id, j->ct.id, j->doc);
		j->doc = NULL;
		if ((rc = rec_write(o, &j->r, NULL, "create", f)) != CS_OK)
			return rc;
		if (eff <= o->today && (rc = amend_apply(o, &j->r, &j->ct, f)) != CS_OK)
			return rc;
		return CS_OK;
	}
	rec_init(&j->r, k, j->id, child ? j->ct.id : NULL, j->doc);
	j->doc = NULL;
	if ((rc = rec_write(o, &j->r, NULL, "create", f)) != CS_OK)
		return rc;
	if (k == CLM_SIGNATURE && (rc = signature_effect(o, &j->ct, j->r.doc, f)) != CS_OK)
		return rc;
	return CS_OK;
}

static cs_err
create_run(struct clm_op *o, void *arg, struct clm_fail *f)
{
	return clm_create_apply(o, arg, f);
}

/* Prepares a create outside any transaction; see clm_int.h. */
cs_err
clm_create_prepare(const struct clm_op *o, struct clm_create_job *j, const json_t *body, struct clm_fail *f)
{
	cs_err rc;

	j->doc = NULL;
	if (j->id[0] != '\0' && !cs_id_valid(clm_kind_prefix(j->k), j->id, strlen(j->id)))
		return clm_fail_set(f, 422, "invalid_value", "id", "not an id of a %s", clm_kind_name(j->k));
	if ((rc = clm_validate(o->c->schema, j->k, body, false, &j->doc, f)) != CS_OK)
		return rc;
	if ((rc = prepare(o, j->k, j->doc, f)) != CS_OK || (j->id[0] == '\0' && (rc = new_id(j->k, j->id, f)) != CS_OK)) {
		json_decref(j->doc);
		j->doc = NULL;
	}
	return rc;
}

/* Releases a create job; see clm_int.h. */
void
clm_create_job_cleanup(struct clm_create_job *j)
{
	json_decref(j->doc);
	j->doc = NULL;
	store_rec_cleanup(&j->r);
	store_rec_cleanup(&j->ct);
	memset(&j->r, 0, sizeof(j->r));
	memset(&j->ct, 0, sizeof(j->ct));
}

/* Sets an op up for a write; see clm_int.h. */
cs_err
clm_op_write(struct clm_op *o, struct clm *c, const char *actor, struct clm_fail *f)
{
	return op_write(o, c, actor, f);
}

/* A new id of kind k; see clm.h. */
cs_err
clm_id_new(enum clm_kind k, char id[CLM_ID_MAX])
{
	return cs_id_new(clm_kind_prefix(k), id);
}

cs_err
clm_create(struct clm *c, enum clm_kind k, const char *parent_id, const json_t *body, const char *actor,
    json_t **out, struct clm_fail *f)
{
	struct clm_op o;
	struct clm_create_job j;
	cs_err rc;

	memset(&j, 0, sizeof(j));
	j.k = k;
	j.parent_id = parent_id;
	if (out)
		*out = NULL;
	/* validation, defaults and the id are the caller's thread's work, outside the batch */
	if ((rc = op_write(&o, c, actor, f)) != CS_OK || (rc = clm_create_prepare(&o, &j, body, f)) != CS_OK)
		goto out;
	o.ans_rec = out != NULL ? &j.r : NULL;
	rc = take_answer(&o, clm_write(c, &o, create_run, &j, 0, f), out);
out:
	clm_create_job_cleanup(&j);
	return rc;
}

cs_err
clm_create_in(struct clm *c, struct store *s, enum clm_kind k, const char *parent_id, const json_t *body,
    const char *actor, json_t **out, long long *seq, struct clm_fail *f)
{
	struct clm_op o;
	struct clm_create_job j;
	cs_err rc;

	memset(&j, 0, sizeof(j));
	j.k = k;
	j.parent_id = parent_id;
	if (out)
		*out = NULL;
	*seq = 0;
	if ((rc = op_write(&o, c, actor, f)) != CS_OK || (rc = clm_create_prepare(&o, &j, body, f)) != CS_OK)
		goto out;
	o.ans_rec = out != NULL ? &j.r : NULL;
	if ((rc = take_answer(&o, clm_write_in(c, s, &o, create_run, &j, f), out)) == CS_OK)
		*seq = o.seq;
out:
	clm_create_job_cleanup(&j);
	return rc;
}

/* The change itself, in o's transaction, on r (already read and checked). */
static cs_err
update_in_txn(struct clm_op *o, enum clm_kind k, struct store_rec *r, const json_t *patch, bool transition,
    struct clm_fail *f)
{
	json_t *old = json_deep_copy(r->doc);
	const char *opname = "update";
	cs_err rc = CS_OK;

	if (old == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	if ((rc = merge_or_fail(r->doc, patch, f)) != CS_OK)
		goto out;
	switch (k) {
	case CLM_CONTRACT: {
		enum clm_status from = status_of(old), to = status_of(r->doc);
		if (transition && to == from) {
			rc = clm_fail_set(f, 422, "invalid_transition", "status", "the contract is already %s",
			    clm_status_name(to));
			clm_transitions_from(from, f->allowed, sizeof(f->allowed));
			goto out;
		}
		if (to != from) {
			if (to == CLM_RENEWED) {
				rc = clm_fail_set(f, 422, "invalid_transition", "status",
				    "a contract is renewed with POST /contracts/{id}/renew");
				clm_transitions_from(from, f->allowed, sizeof(f->allowed));
				goto out;
			}
			if ((rc = clm_transition_check(r->doc, from, to, o->today, f)) != CS_OK)
				goto out;
			clm_transition_effects(r->doc, from, to, o->today);
			opname = "transition";
		}
		rederive(r->doc, patch);
		if ((rc = clm_contract_check(r->doc, f)) != CS_OK || (rc = contract_refs(o, r->doc, old, f)) != CS_OK)
			goto out;
		break;
	}
	case CLM_AMENDMENT:
		if (strcmp(cs_json_get_str(old, "status") ? cs_json_get_str(old, "status") : "", "pending") != 0) {
			rc = clm_fail_set(f, 422, "invalid_state", NULL, "an applied amendment cannot change");
			goto out;
		}
		break;
	case CLM_APPROVAL: {
		const char *d = cs_json_get_str(r->doc, "decision");
		if (d && strcmp(d, "pending") != 0 && !json_object_get(patch, "decided_at") &&
		    !json_equal(json_object_get(old, "decision"), json_object_get(r->doc, "decision"))) {
			char ts[32];
			cs_time_format_iso(o->now, ts, sizeof(ts));
			json_object_set_new(r->doc, "decided_at", json_string(ts));
		}
		break;
	}
	default:
		break;
	}
	if (json_equal(old, r->doc))
		goto out;   /* nothing changes: no new version, no change row */
	r->version++;
	rc = rec_write(o, r, old, opname, f);
out:
	json_decref(old);
	return rc;
}

/* A change of a record, as the writer thread runs it. */
struct update_job {
	enum clm_kind k;
	const char *parent_id, *id;
	const json_t *patch;
	long long if_match;
	bool transition;
	struct store_rec r;
};

static cs_err
update_run(struct clm_op *o, void *arg, struct clm_fail *f)
{
	struct update_job *j = arg;
	cs_err rc;

	if ((rc = get_child(o, j->k, j->parent_id, j->id, &j->r, f)) != CS_OK ||
	    (rc = version_check(&j->r, j->if_match, f)) != CS_OK)
		return rc;
	return update_in_txn(o, j->k, &j->r, j->patch, j->transition, f);
}

/* The change of a record: through the writer, or, when s is not NULL, in the caller's open
 * transaction on s (clm_write_in; *seq gets its change row). */
static cs_err
update(struct clm *c, struct store *s, enum clm_kind k, const char *parent_id, const char *id, const json_t *body,
    long long if_match, const char *actor, bool transition, json_t **out, long long *seq, struct clm_fail *f)
{
	struct clm_op o;
	struct update_job j;
	json_t *patch = NULL;
	cs_err rc;

	memset(&j, 0, sizeof(j));
	if (out)
		*out = NULL;
	if ((rc = clm_validate(c->schema, k, body, true, &patch, f)) != CS_OK)
		return rc;
	j.k = k;
	j.parent_id = parent_id;
	j.id = id;
	j.patch = patch;
	j.if_match = if_match;
	j.transition = transition;
	if ((rc = op_write(&o, c, actor, f)) == CS_OK) {
		o.ans_rec = out != NULL ? &j.r : NULL;
		rc = take_answer(&o, s ? clm_write_in(c, s, &o, update_run, &j, f) : clm_write(c, &o, update_run, &j, 0, f),
		                 out);
	}
	if (seq != NULL)
		*seq = rc == CS_OK ? o.seq : 0;
	json_decref(patch);
	store_rec_cleanup(&j.r);
	return rc;
}

cs_err
clm_update(struct clm *c, enum clm_kind k, const char *parent_id, const char *id, const json_t *body,
    long long if_match, const char *actor, json_t **out, struct clm_fail *f)
{
	return update(c, NULL, k, parent_id, id, body, if_match, actor, false, out, NULL, f);
}

cs_err
clm_update_in(struct clm *c, struct store *s, enum clm_kind k, const char *parent_id, const char *id,
    const json_t *body, long long if_match, const char *actor, json_t **out, long long *seq, struct clm_fail *f)
{
	return update(c, s, k, parent_id, id, body, if_match, actor, false, out, seq, f);
}

void
clm_notify(struct clm *c, long long seq)
{
	if (seq > 0)
		clm_feed_notify(c, seq);
}

/* A deletion (a counterparty, an obligation), as the writer thread runs it. */
struct delete_job {
	enum clm_kind k;
	const char *parent;
	const char *id;
	long long if_match;
};

static cs_err
delete_run(struct clm_op *o, void *arg, struct clm_fail *f)
{
	struct delete_job *j = arg;
	struct store_rec r;
	struct store_list_q q;
	struct store_change ch;
	json_t *rows = NULL, *fields = NULL;
	char next[STORE_CURSOR_MAX];
	cs_err rc;

	memset(&r, 0, sizeof(r));
	if ((rc = get_child(o, j->k, j->parent, j->id, &r, f)) != CS_OK ||
	    (rc = version_check(&r, j->if_match, f)) != CS_OK)
		goto out;
	if (j->k == CLM_COUNTERPARTY) {
		memset(&q, 0, sizeof(q));
		q.kind = "contract";
		q.filters[0] = (struct store_filter){ "counterparty_id", STORE_EQ, r.id };
		q.nfilters = 1;
		q.limit = 1;
		if ((rc = store_list(o->s, &q, &rows, next, &o->e)) != CS_OK) {
			rc = sfail(o, rc, f, "contract");
			goto out;
		}
		if (json_array_size(rows) > 0) {
			rc = clm_fail_set(f, 409, "in_use", NULL, "contracts name this counterparty");
			goto out;
		}
	}
	if ((rc = store_delete(o->s, r.kind, r.id, &o->e)) != CS_OK) {
		rc = sfail(o, rc, f, r.kind);
		goto out;
	}
	if ((fields = diff(r.doc, NULL)) == NULL) {
		rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
		goto out;
	}
	memset(&ch, 0, sizeof(ch));
	ch.entity = r.kind;
	ch.id = r.id;
	ch.parent = r.parent[0] ? r.parent : NULL;
	ch.version = r.version + 1;
	ch.op = "delete";
	ch.fields = fields;
	ch.origin = o->actor;
	ch.ts_ms = o->now;
	if ((rc = store_change_append(o->s, &ch, &o->seq, &o->e)) != CS_OK)
		rc = sfail(o, rc, f, r.kind);
out:
	json_decref(rows);
	json_decref(fields);
	store_rec_cleanup(&r);
	return rc;
}

cs_err
clm_delete(struct clm *c, enum clm_kind k, const char *parent_id, const char *id, long long if_match,
    const char *actor, struct clm_fail *f)
{
	struct clm_op o;
	struct delete_job j = { k, parent_id, id, if_match };
	cs_err rc;

	/* contracts end by a transition (terminated) and keep their children as a record of what
	 * happened; an obligation is a to-do that may have been entered by mistake */
	if (k != CLM_COUNTERPARTY && k != CLM_OBLIGATION)
		return clm_fail_set(f, 405, "method_not_allowed", NULL, "only counterparties and obligations are deleted");
	if ((rc = op_write(&o, c, actor, f)) != CS_OK)
		return rc;
	return clm_write(c, &o, delete_run, &j, 0, f);
}

/* A renewal, as the writer thread runs it. */
struct renew_job {
	const char *id;
	const json_t *over;
	long long if_match;
	struct store_rec r, succ;
};

static cs_err
renew_run(struct clm_op *o, void *arg, struct clm_fail *f)
{
	struct renew_job *j = arg;
	cs_err rc;

	if ((rc = get(o, CLM_CONTRACT, j->id, &j->r, f)) != CS_OK || (rc = version_check(&j->r, j->if_match, f)) != CS_OK)
		return rc;
	return renew(o, &j->r, j->over, false, &j->succ, f);
}

cs_err
clm_renew(struct clm *c, const char *id, const json_t *body, long long if_match, const char *actor,
    json_t **out, struct clm_fail *f)
{
	struct clm_op o;
	struct renew_job j;
	json_t *over = NULL;
	const char *k;
	json_t *v;
	cs_err rc;

	memset(&j, 0, sizeof(j));
	if (out)
		*out = NULL;
	if (body != NULL) {
		json_object_foreach((json_t *)body, k, v) {
			bool ok = false;
			for (size_t i = 0; renew_overrides[i]; i++)
				ok |= strcmp(k, renew_overrides[i]) == 0;
			if (!ok)
				return clm_fail_set(f, 422, "unknown_field", k, "%.60s cannot be set on a renewal", k);
		}
		if ((rc = clm_validate(c->schema, CLM_CONTRACT, body, true, &over, f)) != CS_OK)
			return rc;
	}
	j.id = id;
	j.over = over;
	j.if_match = if_match;
	if ((rc = op_write(&o, c, actor, f)) == CS_OK) {
		o.ans_rec = out != NULL ? &j.succ : NULL;
		rc = take_answer(&o, clm_write(c, &o, renew_run, &j, 0, f), out);
	}
	json_decref(over);
	store_rec_cleanup(&j.r);
	store_rec_cleanup(&j.succ);
	return rc;
}

cs_err
clm_transition(struct clm *c, const char *id, const json_t *body, long long if_match, const char *actor,
    json_t **out, struct clm_fail *f)
{
	const json_t *to = json_object_get(body, "to"), *reason = json_object_get(body, "reason");
	const char *k;
	json_t *v, *patch;
	cs_err rc;

	if (out)
		*out = NULL;
	if (!json_is_object(body))
		return clm_fail_set(f, 400, "not_an_object", NULL, "the body must be a JSON object");
	json_object_foreach((json_t *)body, k, v) {
		if (strcmp(k, "to") != 0 && strcmp(k, "reason") != 0)
			return clm_fail_set(f, 422, "unknown_field", k, "a transition has only \"to\" and \"reason\"");
	}
	if (to == NULL)
		return clm_fail_set(f, 422, "required", "to", "to is required");
	if (!json_is_string(to))
		return clm_fail_set(f, 422, "invalid_type", "to", "to must be a string");
	if (clm_status_parse(json_string_value(to)) < 0)
		return clm_fail_set(f, 422, "invalid_value", "to", "to must be a lifecycle status");
	if (reason != NULL && !json_is_null(reason) && !json_is_string(reason))
		return clm_fail_set(f, 422, "invalid_type", "reason", "reason must be a string");
	if (strcmp(json_string_value(to), "renewed") == 0)
		return clm_renew(c, id, NULL, if_match, actor, out, f);
	patch = json_pack("{s:O}", "status", to);
	if (patch == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	if (json_is_string(reason) && strcmp(json_string_value(to), "terminated") == 0)
		json_object_set(patch, "termination_reason", (json_t *)reason);
	rc = update(c, NULL, CLM_CONTRACT, NULL, id, patch, if_match, actor, true, out, NULL, f);
	json_decref(patch);
	return rc;
}

/* A document upload, as the writer thread runs it. */
struct doc_job {
	const char *parent_id, *doc_id;
	const void *data;
	size_t len;
	json_t *m;                   /* the validated metadata; owned until r takes it */
	long long if_match;
	char hex[65], id[CLM_ID_MAX];
	struct store_rec r, ct;
};

static cs_err
doc_run(struct clm_op *o, void *arg, struct clm_fail *f)
{
	struct doc_job *j = arg;
	json_t *old = NULL;
	cs_err rc;

	if (j->doc_id == NULL) {
		if ((rc = get(o, CLM_CONTRACT, j->parent_id, &j->ct, f)) != CS_OK)
			return rc;
		json_object_set_new(j->m, "contract_id", json_string(j->ct.id));
	} else if ((rc = get_child(o, CLM_DOCUMENT, j->parent_id, j->doc_id, &j->r, f)) != CS_OK ||
	    (rc = version_check(&j->r, j->if_match, f)) != CS_OK)
		return rc;
	if ((rc = store_blob_put(o->s, j->hex, j->data, j->len, &o->e)) != CS_OK)
		return sfail(o, rc, f, "document");
	if (j->doc_id == NULL) {
		rec_init(&j->r, CLM_DOCUMENT, j->id, j->ct.id, j->m);
		j->m = NULL;
		return rec_write(o, &j->r, NULL, "create", f);
	}
	if ((old = json_deep_copy(j->r.doc)) == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	if (merge(j->r.doc, j->m) != 0) {
		json_decref(old);
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	}
	j->r.version++;
	rc = rec_write(o, &j->r, old, "update", f);
	json_decref(old);
	return rc;
}

cs_err
clm_document_put(struct clm *c, const char *parent_id, const char *doc_id, const void *data, size_t len,
    const json_t *meta, long long if_match, const char *actor, json_t **out, struct clm_fail *f)
{
	struct clm_op o;
	struct doc_job j;
	unsigned char md[32];
	unsigned int mdlen = 0;
	cs_err rc;

	memset(&j, 0, sizeof(j));
	if (out)
		*out = NULL;
	if (len > c->max_doc)
		return clm_fail_set(f, 413, "body_too_large", NULL, "a document is at most %zu bytes", c->max_doc);
	if ((rc = clm_validate(c->schema, CLM_DOCUMENT, meta, doc_id != NULL, &j.m, f)) != CS_OK)
		return rc;
	if (!json_object_get(j.m, "media_type") && doc_id == NULL)
		json_object_set_new(j.m, "media_type", json_string("application/octet-stream"));
	if (!json_object_get(j.m, "executed") && doc_id == NULL)
		json_object_set_new(j.m, "executed", json_false());
	/* hashing is the caller's thread's work: the writer thread only stores */
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		rc = clm_fail_set(f, 500, "internal", NULL, "cannot hash the content");
		goto out;
	}
	for (int i = 0; i < 32; i++)
		snprintf(j.hex + 2 * i, 3, "%02x", md[i]);
	json_object_set_new(j.m, "sha256", json_string(j.hex));
	json_object_set_new(j.m, "size", json_integer((json_int_t)len));
	if (doc_id == NULL && (rc = new_id(CLM_DOCUMENT, j.id, f)) != CS_OK)
		goto out;
	j.parent_id = parent_id;
	j.doc_id = doc_id;
	j.data = data;
	j.len = len;
	j.if_match = if_match;
	if ((rc = op_write(&o, c, actor, f)) == CS_OK) {
		o.ans_rec = out != NULL ? &j.r : NULL;
		rc = take_answer(&o, clm_write(c, &o, doc_run, &j, len, f), out);
	}
out:
	json_decref(j.m);
	store_rec_cleanup(&j.r);
	store_rec_cleanup(&j.ct);
	return rc;
}

/* ---- reads ---- */

cs_err
clm_get(struct clm *c, enum clm_kind k, const char *parent_id, const char *id, json_t **out, struct clm_fail *f)
{
	return clm_get_in(c, NULL, k, parent_id, id, out, f);
}

cs_err
clm_get_in(struct clm *c, struct store *s, enum clm_kind k, const char *parent_id, const char *id, json_t **out,
    struct clm_fail *f)
{
	struct clm_op o;
	struct store_rec r;
	cs_err rc;

	memset(&r, 0, sizeof(r));
	*out = NULL;
	if ((rc = op_read_on(&o, c, s, f)) == CS_OK)
		rc = get_child(&o, k, parent_id, id, &r, f);
	rc = op_end(&o, rc);
	if (rc == CS_OK)
		rc = out_rec(&r, o.today, out, f);
	store_rec_cleanup(&r);
	return rc;
}

cs_err
clm_document_get(struct clm *c, const char *parent_id, const char *id, long long version, void **data,
    size_t *len, json_t **meta, struct clm_fail *f)
{
	struct clm_op o;
	struct store_rec r;
	json_t *hist = NULL, *doc = NULL;
	const char *sha;
	cs_err rc;

	memset(&r, 0, sizeof(r));
	*data = NULL;
	*len = 0;
	*meta = NULL;
	if ((rc = op_read(&o, c, f)) != CS_OK || (rc = get_child(&o, CLM_DOCUMENT, parent_id, id, &r, f)) != CS_OK)
		goto out;
	doc = r.doc;
	if (version > 0 && version != r.version) {
		size_t i;
		json_t *row;
		if ((rc = store_history(o.s, r.kind, r.id, &hist, &o.e)) != CS_OK) {
			rc = sfail(&o, rc, f, "document");
			goto out;
		}
		doc = NULL;
		json_array_foreach(hist, i, row) {
			if (cs_json_get_int(row, "version", 0) == version)
				doc = json_object_get(row, "doc");
		}
		if (doc == NULL) {
			rc = clm_fail_set(f, 404, "not_found", "version", "the document has no version %lld", version);
			goto out;
		}
		json_decref(r.doc);
		r.doc = json_incref(doc);
		r.version = version;
	}
	if ((sha = cs_json_get_str(r.doc, "sha256")) == NULL || strlen(sha) != 64) {
		rc = clm_fail_set(f, 500, "internal", NULL, "the document has no content");
		goto out;
	}
	if ((rc = store_blob_get(o.s, sha, data, len, &o.e)) != CS_OK)
		rc = sfail(&o, rc, f, "document content");
out:
	rc = op_end(&o, rc);
	if (rc == CS_OK)
		rc = out_rec(&r, o.today, meta, f);
	if (rc != CS_OK) {
		free(*data);
		*data = NULL;
		*len = 0;
	}
	json_decref(hist);
	store_rec_cleanup(&r);
	return rc;
}

static bool
word_in(const char *w, const char *list)
{
	size_t n = strlen(w);
	const char *p = list;

	if (n == 0)
		return false;
	while ((p = strstr(p, w)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

static cs_err
qbad(struct clm_fail *f, const char *field, const char *why)
{
	return clm_fail_set(f, 400, "invalid_query", field, "%s: %s", field, why);
}

cs_err
clm_list(struct clm *c, const struct clm_list_q *q, json_t **out, struct clm_fail *f)
{
	struct clm_op o;
	struct store_list_q sq;
	struct store_rec pr;
	json_t *rows = NULL, *data = NULL, *row;
	char next[STORE_CURSOR_MAX] = "", since[32];
	int64_t x;
	size_t i;
	cs_err rc;

	*out = NULL;
	memset(&pr, 0, sizeof(pr));
	memset(&sq, 0, sizeof(sq));
	sq.kind = clm_kind_name(q->kind);
	sq.limit = q->limit == 0 ? CLM_LIST_DEFAULT : q->limit;
	if (sq.limit < 1 || sq.limit > CLM_LIST_MAX)
		return qbad(f, "limit", "must be 1 to 1000");
#define FILTER(fld, opv, val) (sq.filters[sq.nfilters++] = (struct store_filter){ (fld), (opv), (val) })
	if (q->kind == CLM_CONTRACT) {
		if (q->status && clm_status_parse(q->status) < 0)
			return qbad(f, "status", "not a lifecycle status");
		if (q->status)
			FILTER("status", STORE_EQ, q->status);
		if (q->counterparty_id && !cs_id_valid(CS_ID_COUNTERPARTY, q->counterparty_id, strlen(q->counterparty_id)))
			return qbad(f, "counterparty", "not a counterparty id");
		if (q->counterparty_id)
			FILTER("counterparty_id", STORE_EQ, q->counterparty_id);
		if (q->type && !word_in(q->type, "msa sow nda order_form amendment renewal other"))
			return qbad(f, "type", "not a contract type");
		if (q->type)
			FILTER("type", STORE_EQ, q->type);
		if (q->owner && strlen(q->owner) > 200)
			return qbad(f, "owner", "too long");
		if (q->owner)
			FILTER("owner", STORE_EQ, q->owner);
		if (q->expiring_before && !cs_date_parse(q->expiring_before, strlen(q->expiring_before), &x))
			return qbad(f, "expiring_before", "must be a date YYYY-MM-DD");
		if (q->expiring_before)
			FILTER("expiration_date", STORE_LT, q->expiring_before);
	} else if (q->status || q->counterparty_id || q->type || q->owner || q->expiring_before)
		return qbad(f, "filter", "filters apply to contracts only");
	if (q->updated_since) {
		if (!cs_datetime_parse(q->updated_since, strlen(q->updated_since), &x))
			return qbad(f, "updated_since", "must be a date-time such as 2026-01-31T00:00:00Z");
		cs_time_format_iso(x, since, sizeof(since));
		FILTER("updated_at", STORE_GE, since);
	}
	if (q->kind >= CLM_AMENDMENT)
		FILTER("parent", STORE_EQ, q->parent_id ? q->parent_id : "");
#undef FILTER
	if (q->sort && !word_in(q->sort, q->kind == CLM_CONTRACT ? CONTRACT_SORTS : "created_at updated_at"))
		return qbad(f, "sort", "not a sortable field");
	sq.sort = q->sort && strcmp(q->sort, "created_at") != 0 ? q->sort : NULL;
	sq.desc = q->desc;
	sq.cursor = q->cursor && q->cursor[0] ? q->cursor : NULL;
	if (sq.cursor && strlen(sq.cursor) >= STORE_CURSOR_MAX)
		return qbad(f, "cursor", "not a cursor of this API");
	if ((rc = op_read(&o, c, f)) != CS_OK)
		goto out;
	if (q->kind >= CLM_AMENDMENT) {
		if ((rc = get(&o, CLM_CONTRACT, q->parent_id, &pr, f)) != CS_OK)
			goto out;
	}
	rc = store_list(o.s, &sq, &rows, next, &o.e);
	if (rc == CS_EINVAL)
		rc = qbad(f, "cursor", "not a cursor of this API");
	else if (rc != CS_OK)
		rc = sfail(&o, rc, f, "record");
out:
	rc = op_end(&o, rc);
	if (rc == CS_OK) {
		if ((data = json_array()) == NULL)
			rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
		json_array_foreach(rows, i, row) {
			json_t *one = clm_row_json(q->kind, row, o.today);
			if (one == NULL || json_array_append_new(data, one) != 0) {
				rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
				break;
			}
		}
		if (rc == CS_OK) {
			*out = json_pack("{s:o,s:o}", "data", data, "next_cursor", next[0] ? json_string(next) : json_null());
			data = NULL;
			if (*out == NULL)
				rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
		}
	}
	json_decref(data);
	json_decref(rows);
	store_rec_cleanup(&pr);
	return rc;
}

cs_err
clm_history(struct clm *c, enum clm_kind k, const char *id, json_t **out, struct clm_fail *f)
{
	return clm_history_in(c, NULL, k, id, out, f);
}

cs_err
clm_history_in(struct clm *c, struct store *s, enum clm_kind k, const char *id, json_t **out, struct clm_fail *f)
{
	struct clm_op o;
	json_t *hist = NULL, *data = NULL, *row;
	int64_t created = 0;
	size_t i;
	cs_err rc;

	*out = NULL;
	if (id == NULL || !cs_id_valid(clm_kind_prefix(k), id, strlen(id)))
		return clm_fail_set(f, 404, "not_found", NULL, "no such %s", clm_kind_name(k));
	if ((rc = op_read_on(&o, c, s, f)) == CS_OK) {
		rc = store_history(o.s, clm_kind_name(k), id, &hist, &o.e);
		if (rc != CS_OK)
			rc = sfail(&o, rc, f, clm_kind_name(k));
	}
	rc = op_end(&o, rc);
	if (rc != CS_OK)
		goto out;
	if ((data = json_array()) == NULL) {
		rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
		goto out;
	}
	json_array_foreach(hist, i, row) {
		json_t *full = json_pack("{s:s,s:O?,s:O?,s:O?}", "id", id, "version", json_object_get(row, "version"),
		    "updated_at", json_object_get(row, "updated_at"), "updated_by", json_object_get(row, "updated_by"));
		json_t *rec, *entry;
		if (full == NULL)
			break;
		json_object_set(full, "doc", json_object_get(row, "doc"));
		if (i == 0) {
			const json_t *ca = json_object_get(row, "updated_at");
			created = json_is_integer(ca) ? json_integer_value(ca) : 0;
			if (json_is_string(ca))
				cs_datetime_parse(json_string_value(ca), json_string_length(ca), &created);
		}
		json_object_set_new(full, "created_at", json_integer(created));
		rec = clm_row_json(k, full, o.today);
		json_decref(full);
		if (rec == NULL)
			break;
		entry = json_pack("{s:O?,s:O?,s:O?,s:o}", "version", json_object_get(row, "version"),
		    "updated_at", json_object_get(rec, "updated_at"), "updated_by", json_object_get(row, "updated_by"),
		    "record", rec);
		if (entry == NULL || json_array_append_new(data, entry) != 0) {
			rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
			goto out;
		}
	}
	if (json_array_size(data) != json_array_size(hist)) {
		rc = clm_fail_set(f, 500, "internal", NULL, "a history row could not be read");
		goto out;
	}
	if ((*out = json_pack("{s:o}", "data", data)) == NULL)
		rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
	data = NULL;
out:
	json_decref(data);
	json_decref(hist);
	return rc;
}

/* ---- scheduled changes (called by sched.c) ---- */

/* One scheduled change, as the writer thread runs it. */
struct sched_job {
	const char *id;
	bool did;                    /* a change was made (committed only when clm_write says so) */
};

static cs_err
sched_amendment_run(struct clm_op *o, void *arg, struct clm_fail *f)
{
	struct sched_job *j = arg;
	struct store_rec am, ct;
	const char *st;
	int64_t eff;
	const json_t *e;
	cs_err rc;

	memset(&ct, 0, sizeof(ct));
	if ((rc = get(o, CLM_AMENDMENT, j->id, &am, f)) != CS_OK)
		goto out;
	/* read again in the transaction: the sweep's page may be stale by now */
	e = json_object_get(am.doc, "effective_date");
	st = cs_json_get_str(am.doc, "status");
	if (strcmp(st ? st : "", "pending") != 0 || !json_is_string(e) ||
	    !cs_date_parse(json_string_value(e), json_string_length(e), &eff) || eff > o->today)
		goto out;
	if ((rc = get(o, CLM_CONTRACT, am.parent, &ct, f)) != CS_OK)
		goto out;
	if (!amendable_status(status_of(ct.doc))) {
		/* the contract ended before the amendment's date: it never applies */
		json_t *old = json_deep_copy(am.doc);
		json_object_set_new(am.doc, "status", json_string("void"));
		am.version++;
		rc = old ? rec_write(o, &am, old, "update", f) : clm_fail_set(f, 500, "internal", NULL, "out of memory");
		json_decref(old);
	} else
		rc = amend_apply(o, &am, &ct, f);
	j->did = rc == CS_OK;
out:
	store_rec_cleanup(&am);
	store_rec_cleanup(&ct);
	return rc;
}

cs_err
clm_sched_amendment(struct clm *c, const char *amendment_id, int64_t today, bool *done, struct clm_fail *f)
{
	struct clm_op o;
	struct sched_job j = { amendment_id, false };
	cs_err rc;

	*done = false;
	if ((rc = op_write(&o, c, "system:scheduler", f)) != CS_OK)
		return rc;
	o.today = today;
	if ((rc = clm_write(c, &o, sched_amendment_run, &j, 0, f)) == CS_OK)
		*done = j.did;
	return rc;
}

static cs_err
sched_contract_run(struct clm_op *o, void *arg, struct clm_fail *f)
{
	struct sched_job *j = arg;
	struct store_rec ct, succ;
	enum clm_status st;
	json_t *patch = NULL;
	int64_t d;
	const json_t *e;
	cs_err rc;

	memset(&succ, 0, sizeof(succ));
	if ((rc = get(o, CLM_CONTRACT, j->id, &ct, f)) != CS_OK)
		goto out;
	st = status_of(ct.doc);
	if (st == CLM_SIGNED) {
		e = json_object_get(ct.doc, "effective_date");
		if (!json_is_string(e) || !cs_date_parse(json_string_value(e), json_string_length(e), &d) || d > o->today)
			goto out;
		patch = json_pack("{s:s}", "status", "active");
	} else if (st == CLM_ACTIVE) {
		e = json_object_get(ct.doc, "expiration_date");
		if (!json_is_string(e) || !cs_date_parse(json_string_value(e), json_string_length(e), &d) || d >= o->today)
			goto out;
		if (json_is_true(json_object_get(ct.doc, "auto_renew"))) {
			rc = renew(o, &ct, NULL, true, &succ, f);
			j->did = rc == CS_OK;
			goto out;
		}
		patch = json_pack("{s:s}", "status", "expired");
	} else
		goto out;
	if (patch == NULL) {
		rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
		goto out;
	}
	rc = update_in_txn(o, CLM_CONTRACT, &ct, patch, true, f);
	j->did = rc == CS_OK;
out:
	json_decref(patch);
	store_rec_cleanup(&ct);
	store_rec_cleanup(&succ);
	return rc;
}

cs_err
clm_sched_contract(struct clm *c, const char *contract_id, int64_t today, bool *done, struct clm_fail *f)
{
	struct clm_op o;
	struct sched_job j = { contract_id, false };
	cs_err rc;

	*done = false;
	if ((rc = op_write(&o, c, "system:scheduler", f)) != CS_OK)
		return rc;
	o.today = today;
	if ((rc = clm_write(c, &o, sched_contract_run, &j, 0, f)) == CS_OK)
		*done = j.did;
	return rc;
}

/* ---- life of the service ---- */

cs_err
clm_new(const struct clm_opts *o, struct clm **out, struct cs_error *e)
{
	static const struct { const char *kind, *field; bool unique; } idx[] = {
		{ "contract", "number", true },
		{ "contract", "status", false },
		{ "contract", "counterparty_id", false },
		{ "contract", "expiration_date", false },
		{ "contract", "effective_date", false },
		{ "contract", "owner", false },
		{ "contract", "type", false },
		{ "amendment", "status", false },
	};
	struct clm *c;
	struct store *s = NULL;
	cs_err rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	c->schema = o->schema;
	c->max_doc = o->max_document_size ? o->max_document_size : CLM_DOC_MAX_DEFAULT;
	if (clm_feed_init(c) != 0) {
		free(c);
		return cs_error_set(e, CS_ENOMEM, "cannot create the feed's lock");
	}
	if ((rc = store_pool_new(o->store_url, o->pool_size > 0 ? o->pool_size : 8, &c->pool, e)) != CS_OK)
		goto fail;
	if ((rc = store_pool_acquire(c->pool, CLM_POOL_WAIT_MS, &s, e)) != CS_OK)
		goto fail;
	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		rc = idx[i].unique ? store_index_unique(s, idx[i].kind, idx[i].field, e)
		    : store_index(s, idx[i].kind, idx[i].field, e);
		if (rc != CS_OK)
			break;
	}
	if (rc == CS_OK)
		rc = store_changes_head(s, &c->head, e);
	store_pool_release(c->pool, s);
	if (rc != CS_OK)
		goto fail;
	if ((rc = clm_writer_start(c, o->store_url, e)) != CS_OK)
		goto fail;
	*out = c;
	return CS_OK;
fail:
	store_pool_free(c->pool);
	clm_feed_cleanup(c);
	free(c);
	return rc;
}

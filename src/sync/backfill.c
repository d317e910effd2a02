/* backfill.c - the initial load of one mapping through Bulk API 2.0: repository records upserted into Salesforce,
 * or Salesforce records created or matched in the repository, each linked with its shadows as the engine links. */
#include "sync/audit.h"
#include "sync/sync_int.h"
#include "sync/value.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BF_TXN 1000            /* links written per transaction: the store's write lock is held briefly */
#define BF_CODE_MAX 64
#define BF_WHY_MAX 512

/*
 * A record is linked exactly as the engine links one it created or matched itself:
 *   link:<mapping>  repository id -> {"sf": Salesforce id, "base": {sfField: canonical}, "sent": []}
 *   linkr:<mapping> Salesforce id -> {"clm": repository id}
 * with a base for every mapped field whose repository value the engine would compare, equal to
 * what both sides hold once the backfill is done. The engine then plans nothing for them: a feed
 * row finds the repository value equal to the base, a change event the Salesforce value.
 *
 * Beside a running engine (another process on the same store):
 *   - a record the engine links first is left to it: a link is only ever written where none is;
 *   - to Salesforce, our change events arrive for records not linked yet and are skipped as ours,
 *     and an upsert by external id made by both sides finds the same record;
 *   - from Salesforce, the link is written before the repository record is made, with the
 *     Salesforce values as base, so the engine's feed never sees an unlinked new record (it would
 *     upsert it into Salesforce a second time); the record's id is chosen and kept under
 *     "creating:<mapping>" as the engine does, so a crash or a concurrent create makes no second
 *     record. A Salesforce change the engine plans while the record is linked and not made yet
 *     marks the link "missed" (it cannot be applied to a record that is not there, and the
 *     record is being made from what was read before it); the link's finish queues that record
 *     on the org's inbox to be read afresh (replan), so the change is not lost.
 * The repository's change feed cursor of the org, when the engine never ran, is set to the feed's
 * head before anything is read: changes made during and after the backfill are then planned
 * when the engine starts, instead of being skipped as history.
 */

struct item {
	const json_t *S;            /* the Salesforce record (from Salesforce), borrowed */
	char sf_id[SF_ID_LEN + 1];
	char clm_id[CLM_ID_MAX];
	int how;                    /* HOW_* */
	json_t *body;               /* create body */
	json_t *sv;                 /* sfField -> canonical Salesforce value (lookups as repository ids) */
	json_t *rec;                /* the repository record */
	json_t *base;               /* the shadows to record */
	json_t *push;               /* sfField -> canonical repository value to write to Salesforce */
	bool failed;
	bool resumed;               /* pre-linked by an earlier run that did not finish */
};

enum { HOW_SKIP, HOW_MATCH, HOW_CREATE, HOW_MADE };

struct bf {
	const struct sync_backfill_opts *o;
	const struct cs_mapping *m;
	const struct cs_org *org;
	struct sync_backfill_result *r;
	struct store *st;
	struct sf_org *sfo;
	struct sf_client *sc;       /* writes */
	struct sf_client *qc;       /* the query that reads Salesforce */
	struct sf_describe *desc;
	struct sf_bulk_opts bulk;
	enum clm_kind kind;
	char actor[CLM_ACTOR_MAX];
	char marker_ns[STORE_KV_NS_MAX];
	size_t batch;
	long long done, total;      /* for progress */
	json_t *pending;            /* from Salesforce: records waiting for their batch */
	cs_err stop_rc;             /* a failure that ends the run */
	struct cs_error err;
	long long field_errors;
};

static void
progress(struct bf *b, const char *phase, long long done)
{
	struct sync_backfill_progress p = { phase, done, b->total, b->r->jobs };

	if (b->o->progress != NULL)
		b->o->progress(b->o->ud, &p);
}

/* Bulk progress of the job in hand, added to what earlier batches finished. */
static void
bulk_progress(void *ud, const struct sf_bulk_progress *p)
{
	struct bf *b = ud;

	if (p->total >= 0 && b->o->dir == SYNC_BACKFILL_TO_SF)
		progress(b, "writing to Salesforce", b->done + p->done);
	else if (b->o->dir == SYNC_BACKFILL_FROM_SF) {
		if (p->total >= 0 && b->total < 0)
			b->total = p->total;
		progress(b, "reading Salesforce", b->done);
	}
}

static void
fail_rec(struct bf *b, const char *clm_id, const char *sf_id, const char *code, const char *msg)
{
	b->r->failed++;
	if (b->o->failure != NULL)
		b->o->failure(b->o->ud, clm_id, sf_id, code, msg);
}

static bool
stopped(const struct bf *b)
{
	return b->o->stop != NULL && atomic_load(b->o->stop) != 0;
}

/* Sets the repository feed cursor of the org to the feed's head when the engine never ran. */
static cs_err
ensure_cursor(struct bf *b, struct cs_error *e)
{
	char key[STORE_KV_KEY_MAX];
	long long v = 0, head = 0;
	cs_err rc;

	sync_feed_key(b->org->name, key);
	if ((rc = store_begin(b->st, e)) != CS_OK)
		return rc;
	rc = sync_cursor_get(b->st, key, "seq", &v, e);
	if (rc == CS_ENOTFOUND) {
		/* -1: the engine reads the feed from its start (the feed was empty) */
		if ((rc = store_changes_head(b->st, &head, e)) == CS_OK)
			rc = sync_cursor_put(b->st, key, "seq", head > 0 ? head : -1, e);
		if (rc == CS_OK)
			rc = store_commit(b->st, e);
		if (rc != CS_OK)
			store_rollback(b->st);
		return rc;
	}
	store_rollback(b->st);
	return rc;
}

/* The Salesforce id the lookup value v (a repository id) of f is linked to, or NULL. */
static const char *
lookup_sf(struct bf *b, const struct cs_field_map *f, const char *clm_id, char out[SF_ID_LEN + 1])
{
	struct cs_error e = { 0 };
	json_t *ln = NULL;
	const char *sid;

	if (sync_link_get(b->st, f->lookup_to, clm_id, &ln, &e) != CS_OK)
		return NULL;
	sid = json_string_value(json_object_get(ln, "sf"));
	if (sid == NULL || sid[0] == '\0' || strlen(sid) > SF_ID_LEN) {
		json_decref(ln);
		return NULL;
	}
	snprintf(out, SF_ID_LEN + 1, "%s", sid);
	json_decref(ln);
	return out;
}

static bool
is_lookup(const struct cs_field_map *f)
{
	return f->lookup_to != NULL && f->kind != CS_VALUE_SFID;
}

/* The value to send for f from canonical value v: a lookup's Salesforce id, else
 * sync_value_to_sf. NULL with why when a lookup target is not linked. */
static json_t *
send_value(struct bf *b, const struct cs_field_map *f, const json_t *v, char *why, size_t whyn)
{
	char sid[SF_ID_LEN + 1];

	if (is_lookup(f) && json_is_string(v)) {
		if (lookup_sf(b, f, json_string_value(v), sid) == NULL) {
			snprintf(why, whyn, "its %s %s is not linked in %s yet: backfill %s first", cs_entity_name(f->lookup_to->entity),
			         json_string_value(v), f->lookup_to->name, f->lookup_to->name);
			return NULL;
		}
		return json_string(sid);
	}
	return sync_value_to_sf(f, v);
}

/* Writes the link of clm_id to sf_id with base, unless either side is linked already (the engine
 * got there first: left to it). In the caller's transaction. *linked says whether it wrote. */
static cs_err
put_link(struct bf *b, const char *clm_id, const char *sf_id, const json_t *base, const char *side,
         const char *decision, const char *detail, bool *linked, struct cs_error *e)
{
	char other[CLM_ID_MAX];
	json_t *doc = NULL;
	cs_err rc;

	*linked = false;
	rc = sync_link_get(b->st, b->m, clm_id, &doc, e);
	if (rc == CS_OK) {
		json_decref(doc);
		b->r->already++;
		return CS_OK;
	}
	if (rc != CS_ENOTFOUND)
		return rc;
	rc = sync_link_by_sf(b->st, b->m, sf_id, other, e);
	if (rc == CS_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s %s is linked to %s already", b->m->sobject, sf_id, other);
		fail_rec(b, clm_id, sf_id, "ALREADY_LINKED", msg);
		return CS_OK;
	}
	if (rc != CS_ENOTFOUND)
		return rc;
	if ((doc = sync_link_new(sf_id)) == NULL || json_object_set(doc, "base", (json_t *)base) != 0) {
		json_decref(doc);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	rc = sync_link_put(b->st, b->m, clm_id, doc, e);
	json_decref(doc);
	if (rc == CS_OK) {
		struct sync_audit_row ar = { .org = b->org->name, .mapping = b->m->name, .entity = cs_entity_name(b->m->entity),
			.clm_id = clm_id, .sf_id = sf_id, .side = side, .decision = decision, .event = "backfill", .detail = detail };
		rc = sync_audit_append(b->st, &ar, NULL, e);
	}
	if (rc == CS_OK) {
		*linked = true;
		b->r->linked++;
	}
	return rc;
}

/* --- to Salesforce ------------------------------------------------------------------------- */

/* The upsert record of repository record rec and the shadows it makes. 0, or -1 with code and
 * why when it cannot be sent. */
static int
build_upsert(struct bf *b, const json_t *rec, const char *clm_id, json_t **out, json_t **base, char *code, char *why,
             size_t whyn)
{
	const struct cs_mapping *m = b->m;
	json_t *o = json_pack("{s:s}", m->external_id_field, clm_id), *bs = json_object();

	*out = *base = NULL;
	if (o == NULL || bs == NULL)
		goto nomem;
	for (size_t i = 0; i < m->nfields; i++) {
		const struct cs_field_map *f = &m->fields[i];
		char err[256];
		json_t *C = NULL, *v;

		if (strcasecmp(f->sf, m->external_id_field) == 0 || strcasecmp(f->sf, "Id") == 0)
			continue;
		switch (sync_value_from_clm(f, rec, &C, err, sizeof(err))) {
		case SYNC_VAL_SKIP:
			continue;
		case SYNC_VAL_ERROR:
			/* as the engine: the field is not synced, the others are; the operator hears of it */
			if (b->field_errors++ < 20)
				log_warn("sync.backfill", "%s %s: %s", m->name, clm_id, err);
			continue;
		case SYNC_VAL_OK:
			break;
		}
		if (json_is_null(C)) {
			/* a create sends no null: the shadow says null, as the engine's first plan does */
			json_object_set_new(bs, f->sf, C);
			continue;
		}
		if ((v = send_value(b, f, C, why, whyn)) == NULL) {
			json_decref(C);
			snprintf(code, BF_CODE_MAX, "LOOKUP_NOT_LINKED");
			json_decref(o);
			json_decref(bs);
			return -1;
		}
		json_object_set_new(o, f->sf, v);
		json_object_set_new(bs, f->sf, C);
	}
	*out = o;
	*base = bs;
	return 0;
nomem:
	json_decref(o);
	json_decref(bs);
	snprintf(code, BF_CODE_MAX, "ENOMEM");
	snprintf(why, whyn, "out of memory");
	return -1;
}

/* Upserts the batch (recs, with meta[i] = {"clm", "base"}) and links what landed. */
static cs_err
flush_to_sf(struct bf *b, json_t *recs, json_t *meta, struct cs_error *e)
{
	size_t n = json_array_size(recs);
	struct sf_result *res;
	struct sf_bulk_summary sum;
	struct sf_error se;
	cs_err crc, rc = CS_OK;

	if (n == 0)
		return CS_OK;
	if (b->o->dry_run) {
		b->r->written += (long long)n;
		b->done += (long long)n;
		json_array_clear(recs);
		json_array_clear(meta);
		return CS_OK;
	}
	if ((res = calloc(n, sizeof(*res))) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	sf_error_clear(&se);
	crc = sf_bulk_ingest(b->sc, SF_BULK_UPSERT, b->m->sobject, b->m->external_id_field, recs, &b->bulk, res, &sum, &se);
	b->r->jobs += sum.jobs;
	for (size_t at = 0; at < n && rc == CS_OK; at += BF_TXN) {
		if ((rc = store_begin(b->st, e)) != CS_OK)
			break;
		for (size_t i = at; i < n && i < at + BF_TXN && rc == CS_OK; i++) {
			json_t *mt = json_array_get(meta, i);
			const char *clm_id = json_string_value(json_object_get(mt, "clm"));
			bool linked;

			if (!res[i].success)
				continue;
			b->r->written++;
			b->r->created += res[i].created;
			rc = put_link(b, clm_id, res[i].id, json_object_get(mt, "base"), "salesforce",
			              res[i].created ? "created" : "linked",
			              res[i].created ? "backfill: created by a Bulk API upsert" :
			              "backfill: an existing record updated by its external id", &linked, e);
		}
		if (rc == CS_OK)
			rc = store_commit(b->st, e);
		if (rc != CS_OK)
			store_rollback(b->st);
	}
	for (size_t i = 0; i < n; i++) {
		if (res[i].success)
			continue;
		fail_rec(b, json_string_value(json_object_get(json_array_get(meta, i), "clm")), res[i].id,
		         res[i].error.code[0] ? res[i].error.code : cs_strerror(res[i].error.err), res[i].error.message);
	}
	b->done += (long long)n;
	free(res);
	json_array_clear(recs);
	json_array_clear(meta);
	if (rc != CS_OK)
		return rc;
	if (crc != CS_OK) {
		b->stop_rc = crc;
		return cs_error_set(e, crc, "Salesforce: %s%s%s", se.code, se.code[0] ? ": " : "", se.message);
	}
	return CS_OK;
}

static cs_err
to_salesforce(struct bf *b, struct cs_error *e)
{
	const struct cs_mapping *m = b->m;
	char cursor[STORE_CURSOR_MAX] = "";
	json_t *recs = json_array(), *meta = json_array();
	cs_err rc = CS_OK;

	if (recs == NULL || meta == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	/* a first pass counts the records, for the progress display */
	b->total = 0;
	for (int pass = 0; pass < 2 && rc == CS_OK; pass++) {
		cursor[0] = '\0';
		for (;;) {
			struct clm_list_q lq = { .kind = b->kind, .cursor = cursor[0] ? cursor : NULL, .limit = CLM_LIST_MAX };
			struct clm_fail cf;
			json_t *page = NULL, *row, *nx;
			size_t i;

			memset(&cf, 0, sizeof(cf));
			if (clm_list(b->o->clm, &lq, &page, &cf) != CS_OK) {
				rc = cs_error_set(e, CS_EIO, "cannot list the repository: %s", cf.msg);
				break;
			}
			json_array_foreach(json_object_get(page, "data"), i, row) {
				const char *id = json_string_value(json_object_get(row, "id"));
				json_t *link = NULL, *out = NULL, *base = NULL;
				char code[BF_CODE_MAX], why[BF_WHY_MAX];
				cs_err lr;

				if (id == NULL)
					continue;
				if (pass == 0) {
					b->total++;
					continue;
				}
				b->r->seen++;
				if (sync_route_of(b->o->clm, b->st, m, row, NULL) != 1) {
					b->r->not_routed++;
					b->done++;
					continue;
				}
				lr = sync_link_get(b->st, m, id, &link, e);
				json_decref(link);
				if (lr == CS_OK) {
					b->r->already++;
					b->done++;
					continue;
				}
				if (lr != CS_ENOTFOUND) {
					rc = lr;
					break;
				}
				if (build_upsert(b, row, id, &out, &base, code, why, sizeof(why)) != 0) {
					fail_rec(b, id, NULL, code, why);
					b->done++;
					continue;
				}
				json_array_append_new(recs, out);
				json_array_append_new(meta, json_pack("{s:s, s:o}", "clm", id, "base", base));
				if (json_array_size(recs) >= b->batch && (rc = flush_to_sf(b, recs, meta, e)) != CS_OK)
					break;
				if (stopped(b)) {
					rc = cs_error_set(e, CS_ESTATE, "stopped");
					break;
				}
			}
			if (pass == 1)
				progress(b, "reading the repository", b->done);
			nx = json_object_get(page, "next_cursor");
			if (rc != CS_OK || !json_is_string(nx) || strlen(json_string_value(nx)) >= sizeof(cursor)) {
				json_decref(page);
				break;
			}
			snprintf(cursor, sizeof(cursor), "%s", json_string_value(nx));
			json_decref(page);
		}
	}
	if (rc == CS_OK)
		rc = flush_to_sf(b, recs, meta, e);
out:
	json_decref(recs);
	json_decref(meta);
	return rc;
}

/* --- from Salesforce ----------------------------------------------------------------------- */

static void
item_cleanup(struct item *it)
{
	json_decref(it->body);
	json_decref(it->sv);
	json_decref(it->rec);
	json_decref(it->base);
	json_decref(it->push);
}

/* The canonical Salesforce values of S, lookups translated to repository ids, into it->sv; for a
 * create also the repository body (into it->body), as the engine's create_from_sf seeds it. 0,
 * or -1 with code and why. */
static int
read_sf(struct bf *b, struct item *it, bool create, char *code, char *why, size_t whyn)
{
	const struct cs_mapping *m = b->m;

	it->sv = json_object();
	it->body = create ? json_object() : NULL;
	if (it->sv == NULL || (create && it->body == NULL)) {
		snprintf(code, BF_CODE_MAX, "ENOMEM");
		snprintf(why, whyn, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < m->nfields; i++) {
		const struct cs_field_map *f = &m->fields[i];
		char ferr[256], cid[CLM_ID_MAX];
		struct cs_error e = { 0 };
		json_t *S = NULL;
		bool present = false;

		if (sync_value_from_sf(f, it->S, &present, &S, ferr, sizeof(ferr)) != SYNC_VAL_OK) {
			snprintf(code, BF_CODE_MAX, "INVALID_VALUE");
			snprintf(why, whyn, "%s", ferr);
			return -1;
		}
		if (!present)
			continue;
		if (is_lookup(f) && json_is_string(S)) {
			cs_err rc = sync_link_by_sf(b->st, f->lookup_to, json_string_value(S), cid, &e);
			if (rc != CS_OK) {
				snprintf(code, BF_CODE_MAX, "LOOKUP_NOT_LINKED");
				snprintf(why, whyn, "its %s %s is not linked in %s yet: backfill %s first", f->lookup_to->sobject,
				         json_string_value(S), f->lookup_to->name, f->lookup_to->name);
				json_decref(S);
				return -1;
			}
			json_decref(S);
			S = json_string(cid);
		}
		json_object_set(it->sv, f->sf, S);
		/* creation seeds every field Salesforce has a value for; a value only the repository
		 * writes (a many-to-one map) is left to the repository's default */
		if (create && !f->clm_readonly && !json_is_null(S) &&
		    sync_value_to_clm(f, S, NULL, it->body, ferr, sizeof(ferr)) != SYNC_VAL_OK && f->from_salesforce) {
			snprintf(code, BF_CODE_MAX, "INVALID_VALUE");
			snprintf(why, whyn, "%s", ferr);
			json_decref(S);
			return -1;
		}
		json_decref(S);
	}
	return 0;
}

/* Step 1: what to do with each Salesforce record. */
static void
classify(struct bf *b, struct item *it, json_t *claimed)
{
	const struct cs_mapping *m = b->m;
	const char *id = json_string_value(json_object_get(it->S, "Id"));
	const json_t *ext = m->external_id_field[0] ? json_object_get(it->S, m->external_id_field) : NULL;
	char code[BF_CODE_MAX], why[BF_WHY_MAX], cid[CLM_ID_MAX];
	struct cs_error e = { 0 };
	struct clm_fail cf;
	json_t *mk = NULL, *r = NULL;
	cs_err rc;

	it->how = HOW_SKIP;
	b->r->seen++;
	if (id == NULL || (strlen(id) != 15 && strlen(id) != 18)) {
		fail_rec(b, NULL, id, "INVALID_VALUE", "a record without a usable Id");
		return;
	}
	snprintf(it->sf_id, sizeof(it->sf_id), "%s", id);
	rc = sync_link_by_sf(b->st, m, id, cid, &e);
	if (rc == CS_OK) {
		json_t *ln = NULL;
		bool pending = sync_link_get(b->st, m, cid, &ln, &e) == CS_OK && json_object_get(ln, "backfill") != NULL &&
		    strcmp(json_string_value(json_object_get(ln, "sf")) ?: "", id) == 0;
		json_decref(ln);
		if (!pending) {
			b->r->already++;
			return;
		}
		/* an earlier run linked it first and stopped before the end: finish its work */
		snprintf(it->clm_id, sizeof(it->clm_id), "%s", cid);
		if (read_sf(b, it, true, code, why, sizeof(why)) != 0) {
			fail_rec(b, cid, id, code, why);
			return;
		}
		memset(&cf, 0, sizeof(cf));
		it->how = clm_get(b->o->clm, b->kind, NULL, cid, &r, &cf) == CS_OK ? HOW_MADE : HOW_CREATE;
		it->resumed = true;
		json_decref(r);
		json_object_set_new(claimed, cid, json_true());
		return;
	}
	if (rc != CS_ENOTFOUND) {
		fail_rec(b, NULL, id, "STORE", e.msg);
		return;
	}
	/* a record carrying a repository id in its external id field is that record: matched */
	memset(&cf, 0, sizeof(cf));
	if (json_is_string(ext) && strlen(json_string_value(ext)) < CLM_ID_MAX &&
	    clm_get(b->o->clm, b->kind, NULL, json_string_value(ext), &r, &cf) == CS_OK) {
		json_t *ln = NULL;
		snprintf(it->clm_id, sizeof(it->clm_id), "%s", json_string_value(ext));
		json_decref(r);
		if (sync_link_get(b->st, m, it->clm_id, &ln, &e) == CS_OK || json_object_get(claimed, it->clm_id) != NULL) {
			char msg[256];
			snprintf(msg, sizeof(msg), "its external id names %s, which another %s record is linked to", it->clm_id,
			         m->sobject);
			json_decref(ln);
			fail_rec(b, it->clm_id, id, "ALREADY_LINKED", msg);
			return;
		}
		if (read_sf(b, it, false, code, why, sizeof(why)) != 0) {
			fail_rec(b, it->clm_id, id, code, why);
			return;
		}
		json_object_set_new(claimed, it->clm_id, json_true());
		it->how = HOW_MATCH;
		return;
	}
	if (m->on_create.clm != CS_CREATE_CREATE) {
		b->r->ignored++;
		return;
	}
	if (read_sf(b, it, true, code, why, sizeof(why)) != 0) {
		fail_rec(b, NULL, id, code, why);
		return;
	}
	/* made before, by an earlier run or by the engine, but not linked yet: that record */
	if (store_kv_get(b->st, b->marker_ns, id, &mk, &e) == CS_OK && json_is_string(json_object_get(mk, "clm")) &&
	    strlen(json_string_value(json_object_get(mk, "clm"))) < CLM_ID_MAX) {
		snprintf(it->clm_id, sizeof(it->clm_id), "%s", json_string_value(json_object_get(mk, "clm")));
		memset(&cf, 0, sizeof(cf));
		it->how = clm_get(b->o->clm, b->kind, NULL, it->clm_id, &r, &cf) == CS_OK ? HOW_MADE : HOW_CREATE;
		json_decref(r);
	} else if (clm_id_new(b->kind, it->clm_id) == CS_OK) {
		it->how = HOW_CREATE;
	} else
		fail_rec(b, NULL, id, "EIO", "no randomness for a new id");
	json_decref(mk);
}

/* Step 2: each record linked before it is made, with the Salesforce values as shadows, and the
 * id of a record to make kept under the marker. */
static cs_err
pre_link(struct bf *b, struct item *its, size_t n, struct cs_error *e)
{
	cs_err rc = CS_OK;

	for (size_t at = 0; at < n && rc == CS_OK; at += BF_TXN) {
		if ((rc = store_begin(b->st, e)) != CS_OK)
			return rc;
		for (size_t i = at; i < n && i < at + BF_TXN && rc == CS_OK; i++) {
			struct item *it = &its[i];
			json_t *doc = NULL, *mk;
			char other[CLM_ID_MAX];
			cs_err g;

			if (it->how == HOW_SKIP || it->resumed)
				continue;
			if (it->how == HOW_CREATE) {
				/* the engine may have chosen an id for this record meanwhile: that one it is */
				json_t *theirs = NULL;
				const char *tid;
				if (store_kv_get(b->st, b->marker_ns, it->sf_id, &theirs, e) == CS_OK &&
				    (tid = json_string_value(json_object_get(theirs, "clm"))) != NULL && strlen(tid) < CLM_ID_MAX &&
				    strcmp(tid, it->clm_id) != 0) {
					struct clm_fail cf;
					json_t *r = NULL;
					snprintf(it->clm_id, sizeof(it->clm_id), "%s", tid);
					memset(&cf, 0, sizeof(cf));
					if (clm_get(b->o->clm, b->kind, NULL, tid, &r, &cf) == CS_OK)
						it->how = HOW_MADE;
					json_decref(r);
				}
				json_decref(theirs);
			}
			/* the engine linked it meanwhile: left to it */
			g = sync_link_get(b->st, b->m, it->clm_id, &doc, e);
			json_decref(doc);
			if (g == CS_OK || sync_link_by_sf(b->st, b->m, it->sf_id, other, e) == CS_OK) {
				b->r->already++;
				it->how = HOW_SKIP;
				continue;
			}
			if (it->how == HOW_CREATE) {
				if ((mk = json_pack("{s:s}", "clm", it->clm_id)) == NULL)
					rc = cs_error_set(e, CS_ENOMEM, "out of memory");
				else
					rc = store_kv_put(b->st, b->marker_ns, it->sf_id, mk, e);
				json_decref(mk);
			}
			/* "backfill" marks a link whose record may not be made or settled yet: a later run
			 * finishes it; the engine keeps keys it does not know */
			if (rc == CS_OK && ((doc = sync_link_new(it->sf_id)) == NULL ||
			                    json_object_set(doc, "base", it->sv) != 0 ||
			                    json_object_set_new(doc, "backfill", json_string("pending")) != 0))
				rc = cs_error_set(e, CS_ENOMEM, "out of memory");
			if (rc == CS_OK)
				rc = sync_link_put(b->st, b->m, it->clm_id, doc, e);
			json_decref(doc);
		}
		if (rc == CS_OK)
			rc = store_commit(b->st, e);
		if (rc != CS_OK)
			store_rollback(b->st);
	}
	return rc;
}

/* Undoes the pre-link of a record that could not be made. */
static void
unlink_item(struct bf *b, struct item *it)
{
	struct cs_error e = { 0 };

	if (store_begin(b->st, &e) == CS_OK && sync_link_del(b->st, b->m, it->clm_id, &e) == CS_OK &&
	    store_kv_del(b->st, b->marker_ns, it->sf_id, NULL, &e) == CS_OK && store_commit(b->st, &e) == CS_OK)
		return;
	store_rollback(b->st);
	log_warn("sync.backfill", "%s %s: cannot remove its link: %s", b->m->name, it->clm_id, e.msg);
}

/* Step 3: the records to make, made in atomic chunks; a refused record is reported and the
 * chunk made again without it. */
static cs_err
create_items(struct bf *b, struct item *its, size_t n, struct cs_error *e)
{
	struct clm_new *nw = calloc(n ? n : 1, sizeof(*nw));
	size_t *who = calloc(n ? n : 1, sizeof(*who));
	size_t k = 0;
	cs_err rc = CS_OK;

	if (nw == NULL || who == NULL) {
		free(nw);
		free(who);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (its[i].how != HOW_CREATE)
			continue;
		nw[k].kind = b->kind;
		nw[k].body = its[i].body;
		snprintf(nw[k].id, sizeof(nw[k].id), "%s", its[i].clm_id);
		who[k++] = i;
	}
	for (size_t at = 0; at < k && rc == CS_OK;) {
		size_t len = k - at < CLM_BULK_CHUNK_MAX ? k - at : CLM_BULK_CHUNK_MAX, bad = SIZE_MAX;
		struct clm_fail cf;

		memset(&cf, 0, sizeof(cf));
		progress(b, "creating in the repository", b->done);
		if (clm_create_many(b->o->clm, nw + at, len, b->actor, &bad, &cf) == CS_OK) {
			at += len;
			continue;
		}
		if (bad == SIZE_MAX || bad >= len) {
			rc = cs_error_set(e, CS_EIO, "the repository refused a batch: %s: %s", cf.code, cf.msg);
			break;
		}
		{
			struct item *it = &its[who[at + bad]];
			char msg[512];
			snprintf(msg, sizeof(msg), "cannot create a %s from it: %s: %s", cs_entity_name(b->m->entity), cf.code, cf.msg);
			fail_rec(b, NULL, it->sf_id, "REFUSED", msg);
			unlink_item(b, it);
			it->how = HOW_SKIP;
			it->failed = true;
			/* the rest of the chunk again, without it */
			memmove(nw + at + bad, nw + at + bad + 1, (k - at - bad - 1) * sizeof(*nw));
			memmove(who + at + bad, who + at + bad + 1, (k - at - bad - 1) * sizeof(*who));
			k--;
		}
	}
	free(nw);
	free(who);
	return rc;
}

/* Step 4: the shadows of one linked record: equal values as they are; where the sides differ,
 * Salesforce's value goes into the repository when the mapping lets it (from_salesforce), else
 * the repository's value goes to Salesforce. */
static void
settle_item(struct bf *b, struct item *it)
{
	const struct cs_mapping *m = b->m;
	struct clm_fail cf;
	json_t *patch = json_object(), *patched = json_array();
	const json_t *ext;

	it->base = json_object();
	it->push = json_object();
	memset(&cf, 0, sizeof(cf));
	if (clm_get(b->o->clm, b->kind, NULL, it->clm_id, &it->rec, &cf) != CS_OK) {
		fail_rec(b, it->clm_id, it->sf_id, cf.code, cf.msg);
		it->failed = true;
		goto out;
	}
	for (size_t i = 0; i < m->nfields; i++) {
		const struct cs_field_map *f = &m->fields[i];
		json_t *C = NULL, *S = json_object_get(it->sv, f->sf);
		char err[256] = "";

		if (sync_value_from_clm(f, it->rec, &C, err, sizeof(err)) != SYNC_VAL_OK) {
			if (C == NULL && err[0] != '\0' && b->field_errors++ < 20)
				log_warn("sync.backfill", "%s %s: %s", m->name, it->clm_id, err);
			continue;
		}
		if (S != NULL && sync_value_equal(S, C))
			json_object_set(it->base, f->sf, S);
		else if (S != NULL && f->from_salesforce && sync_value_to_clm(f, S, it->rec, patch, err, sizeof(err)) == SYNC_VAL_OK) {
			json_object_set(it->base, f->sf, S);
			json_array_append_new(patched, json_integer((json_int_t)i));
		} else {
			json_object_set(it->push, f->sf, C);
			json_object_set(it->base, f->sf, C);
		}
		json_decref(C);
	}
	if (json_object_size(patch) > 0) {
		json_t *out = NULL;
		size_t k;
		json_t *x;

		memset(&cf, 0, sizeof(cf));
		if (clm_update(b->o->clm, b->kind, NULL, it->clm_id, patch, -1, b->actor, &out, &cf) == CS_OK) {
			json_decref(it->rec);
			it->rec = out;
		} else {
			/* the repository refused Salesforce's values: its own go to Salesforce instead */
			log_warn("sync.backfill", "%s %s: the repository refused Salesforce's values (%s: %s); sending its own",
			         m->name, it->clm_id, cf.code, cf.msg);
			json_array_foreach(patched, k, x) {
				const struct cs_field_map *f = &m->fields[json_integer_value(x)];
				json_t *C = NULL;
				char err[256];
				if (sync_value_from_clm(f, it->rec, &C, err, sizeof(err)) == SYNC_VAL_OK) {
					json_object_set(it->push, f->sf, C);
					json_object_set(it->base, f->sf, C);
				} else
					json_object_del(it->base, f->sf);
				json_decref(C);
			}
		}
	}
	/* the repository id in the external id field, as the engine writes it back */
	ext = m->external_id_field[0] ? json_object_get(it->S, m->external_id_field) : NULL;
	if (m->external_id_field[0] != '\0' && (!json_is_string(ext) || strcmp(json_string_value(ext), it->clm_id) != 0))
		json_object_set_new(it->push, m->external_id_field, json_string(it->clm_id));
out:
	json_decref(patch);
	json_decref(patched);
}

static const struct cs_field_map *
field_by_sf(const struct cs_mapping *m, const char *sf)
{
	for (size_t i = 0; i < m->nfields; i++)
		if (strcasecmp(m->fields[i].sf, sf) == 0)
			return &m->fields[i];
	return NULL;
}

/* Step 5: the repository's values back to Salesforce, by Id, in Bulk update jobs. A record
 * whose write fails keeps no shadow for those fields: the engine compares them again. */
static cs_err
push_items(struct bf *b, struct item *its, size_t n, struct cs_error *e)
{
	json_t *recs = json_array();
	size_t *who = calloc(n ? n : 1, sizeof(*who)), k = 0;
	struct sf_result *res = NULL;
	struct sf_bulk_summary sum;
	struct sf_error se;
	cs_err crc = CS_OK;

	if (recs == NULL || who == NULL) {
		json_decref(recs);
		free(who);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct item *it = &its[i];
		json_t *row;
		const char *f;
		json_t *v;

		if (it->how == HOW_SKIP || it->failed || json_object_size(it->push) == 0)
			continue;
		row = json_pack("{s:s}", "Id", it->sf_id);
		json_object_foreach(it->push, f, v) {
			const struct cs_field_map *fm = field_by_sf(b->m, f);
			char why[BF_WHY_MAX];
			json_t *out = fm != NULL ? send_value(b, fm, v, why, sizeof(why)) : json_incref(v);
			if (out == NULL) {
				/* its lookup target is not linked: the engine brings it along later */
				json_object_del(it->base, f);
				continue;
			}
			json_object_set_new(row, f, out);
		}
		json_array_append_new(recs, row);
		who[k++] = i;
	}
	if (k > 0) {
		if ((res = calloc(k, sizeof(*res))) == NULL) {
			json_decref(recs);
			free(who);
			return cs_error_set(e, CS_ENOMEM, "out of memory");
		}
		progress(b, "writing to Salesforce", b->done);
		sf_error_clear(&se);
		crc = sf_bulk_ingest(b->sc, SF_BULK_UPDATE, b->m->sobject, NULL, recs, &b->bulk, res, &sum, &se);
		b->r->jobs += sum.jobs;
		for (size_t j = 0; j < k; j++) {
			struct item *it = &its[who[j]];
			const char *f;
			json_t *v;
			char msg[700];

			if (res[j].success) {
				b->r->sf_updates++;
				continue;
			}
			json_object_foreach(it->push, f, v)
				json_object_del(it->base, f);
			snprintf(msg, sizeof(msg), "linked, but its repository values could not be written to Salesforce: %s",
			         res[j].error.message);
			fail_rec(b, it->clm_id, it->sf_id, res[j].error.code[0] ? res[j].error.code : cs_strerror(res[j].error.err), msg);
		}
		if (crc != CS_OK) {
			b->stop_rc = crc;
			cs_error_set(e, crc, "Salesforce: %s%s%s", se.code, se.code[0] ? ": " : "", se.message);
		}
	}
	json_decref(recs);
	free(res);
	free(who);
	return crc;
}

/* Queues on the org's inbox a change of Salesforce record sf_id to be read afresh, as a gap's is:
 * the engine plans it when it next reads its inbox. In the caller's transaction. */
static cs_err
replan(struct bf *b, const char *sf_id, struct cs_error *e)
{
	char inbox[STORE_KV_NS_MAX];
	json_t *item = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:[s], s:{}, s:b, s:I, s:I}", "t", "cdc", "channel",
	    "backfill", "replay", (json_int_t)0, "entity", b->m->sobject, "type", "UPDATE", "ours", 0, "ids", sf_id,
	    "values", "fetch", 1, "commit_ms", (json_int_t)0, "recv_ms", (json_int_t)cs_time_now_ms());
	cs_err rc;

	if (item == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	snprintf(inbox, sizeof(inbox), "inbox:%s", b->org->name);
	rc = sync_queue_push(b->st, inbox, item, e);
	json_decref(item);
	if (rc == CS_OK)
		b->r->replanned++;
	if (rc == CS_OK)
		log_info("sync.backfill", "%s %s: changed in Salesforce while it was being made: planned again", b->m->name,
		         sf_id);
	return rc;
}

/* Step 6: the links with their final shadows; the markers go. */
static cs_err
finish_links(struct bf *b, struct item *its, size_t n, struct cs_error *e)
{
	cs_err rc = CS_OK;

	for (size_t at = 0; at < n && rc == CS_OK; at += BF_TXN) {
		if ((rc = store_begin(b->st, e)) != CS_OK)
			return rc;
		for (size_t i = at; i < n && i < at + BF_TXN && rc == CS_OK; i++) {
			struct item *it = &its[i];
			json_t *doc = NULL, *base, *v;
			const char *f;

			if (it->how == HOW_SKIP || it->failed)
				continue;
			if (sync_link_get(b->st, b->m, it->clm_id, &doc, e) != CS_OK ||
			    strcmp(json_string_value(json_object_get(doc, "sf")) ?: "", it->sf_id) != 0) {
				/* replaced meanwhile (the engine's): left as it is */
				json_decref(doc);
				continue;
			}
			if ((base = json_object_get(doc, "base")) == NULL || !json_is_object(base)) {
				json_object_set_new(doc, "base", json_object());
				base = json_object_get(doc, "base");
			}
			/* the pre-link's shadows are replaced; what the engine sent meanwhile stays */
			json_object_clear(base);
			json_object_foreach(it->base, f, v)
				json_object_set(base, f, v);
			json_object_del(doc, "backfill");
			/* the engine saw a change of the record before it was made: planned again now */
			if (json_is_true(json_object_get(doc, "missed"))) {
				json_object_del(doc, "missed");
				rc = replan(b, it->sf_id, e);
			}
			if (rc == CS_OK)
				rc = sync_link_put(b->st, b->m, it->clm_id, doc, e);
			json_decref(doc);
			if (rc == CS_OK && (it->how == HOW_CREATE || it->how == HOW_MADE))
				rc = store_kv_del(b->st, b->marker_ns, it->sf_id, NULL, e);
			if (rc == CS_OK) {
				struct sync_audit_row ar = { .org = b->org->name, .mapping = b->m->name,
					.entity = cs_entity_name(b->m->entity), .clm_id = it->clm_id, .sf_id = it->sf_id, .side = "clm",
					.decision = it->how == HOW_MATCH ? "linked" : "created", .event = "backfill",
					.detail = it->how == HOW_MATCH ? "backfill: matched by external id" :
					          "backfill: created from a Bulk API query" };
				rc = sync_audit_append(b->st, &ar, NULL, e);
			}
			if (rc == CS_OK) {
				b->r->linked++;
				b->r->written++;
				if (it->how == HOW_MATCH)
					b->r->matched++;
				else
					b->r->created++;
			}
		}
		if (rc == CS_OK)
			rc = store_commit(b->st, e);
		if (rc != CS_OK)
			store_rollback(b->st);
	}
	return rc;
}

static cs_err
process_from_sf(struct bf *b, struct cs_error *e)
{
	size_t n = json_array_size(b->pending);
	struct item *its;
	json_t *claimed = json_object();
	cs_err rc = CS_OK;

	if (n == 0) {
		json_decref(claimed);
		return CS_OK;
	}
	if ((its = calloc(n, sizeof(*its))) == NULL || claimed == NULL) {
		free(its);
		json_decref(claimed);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		its[i].S = json_array_get(b->pending, i);
		classify(b, &its[i], claimed);
	}
	if (b->o->dry_run) {
		for (size_t i = 0; i < n; i++) {
			if (its[i].how == HOW_MATCH)
				b->r->matched++;
			else if (its[i].how != HOW_SKIP)
				b->r->created++;
			b->r->written += its[i].how != HOW_SKIP;
		}
		goto out;
	}
	if ((rc = pre_link(b, its, n, e)) != CS_OK || (rc = create_items(b, its, n, e)) != CS_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (its[i].how != HOW_SKIP)
			settle_item(b, &its[i]);
	/* a call-level failure of the writes still records the links: the records exist */
	rc = push_items(b, its, n, e);
	{
		struct cs_error le = { 0 };
		cs_err lrc = finish_links(b, its, n, &le);
		if (lrc != CS_OK) {
			*e = le;
			rc = lrc;
		}
	}
out:
	b->done += (long long)n;
	progress(b, "linking", b->done);
	for (size_t i = 0; i < n; i++)
		item_cleanup(&its[i]);
	free(its);
	json_decref(claimed);
	json_array_clear(b->pending);
	return rc;
}

static int
on_sf_record(void *ud, const json_t *rec)
{
	struct bf *b = ud;

	if (json_array_append(b->pending, (json_t *)rec) != 0) {
		b->stop_rc = cs_error_set(&b->err, CS_ENOMEM, "out of memory");
		return 1;
	}
	if (json_array_size(b->pending) >= b->batch && process_from_sf(b, &b->err) != CS_OK) {
		if (b->stop_rc == CS_OK)
			b->stop_rc = b->err.code;
		return 1;
	}
	if (stopped(b)) {
		b->stop_rc = cs_error_set(&b->err, CS_ESTATE, "stopped");
		return 1;
	}
	return 0;
}

static cs_err
from_salesforce(struct bf *b, struct cs_error *e)
{
	const struct cs_mapping *m = b->m;
	struct sf_soql q;
	struct sf_error se;
	const char *text;
	long long total = 0;
	cs_err rc;

	sf_error_clear(&se);
	progress(b, "describing", 0);
	if ((rc = sf_describe(b->qc, m->sobject, &b->desc, &se)) != CS_OK)
		return cs_error_set(e, rc, "Salesforce: describe %s: %s", m->sobject, se.message);
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
	if ((text = sf_soql_text(&q, &rc)) == NULL) {
		sf_soql_cleanup(&q);
		return cs_error_set(e, rc, "%s: cannot build the query", m->name);
	}
	b->total = -1;
	progress(b, "reading Salesforce", 0);
	rc = sf_bulk_query(b->qc, text, 0, b->desc, &b->bulk, on_sf_record, b, &total, &se);
	sf_soql_cleanup(&q);
	b->r->jobs++;
	if (b->stop_rc != CS_OK) {
		*e = b->err;
		return b->stop_rc;
	}
	if (rc != CS_OK) {
		b->stop_rc = rc;
		return cs_error_set(e, rc, "Salesforce: %s%s%s", se.code, se.code[0] ? ": " : "", se.message);
	}
	b->total = total;
	return process_from_sf(b, e);
}

/* --- the entry point ----------------------------------------------------------------------- */

cs_err
sync_backfill(const struct sync_backfill_opts *o, struct sync_backfill_result *r, struct cs_error *e)
{
	const struct cs_mapping *m = o->m;
	struct sf_org_config sc;
	struct sf_error se;
	struct bf b;
	cs_err rc;

	memset(r, 0, sizeof(*r));
	memset(&b, 0, sizeof(b));
	b.o = o;
	b.m = m;
	b.r = r;
	b.org = m != NULL ? m->org_cfg : NULL;
	b.batch = o->batch ? o->batch : SYNC_BACKFILL_BATCH;
	if (b.batch > SYNC_BACKFILL_BATCH_MAX)
		b.batch = SYNC_BACKFILL_BATCH_MAX;
	b.kind = m != NULL ? sync_kind_of(m->entity) : CLM_CONTRACT;
	if (m == NULL || b.org == NULL || o->clm == NULL || o->store_url == NULL)
		return cs_error_set(e, CS_EINVAL, "backfill: a mapping, its org, the repository and the store are required");
	if (o->dir == SYNC_BACKFILL_TO_SF) {
		if (m->external_id_field[0] == '\0')
			return cs_error_set(e, CS_EINVAL, "mapping %s has no external_id_field: a backfill to Salesforce upserts by "
			                    "external id", m->name);
		if (m->on_create.salesforce != CS_CREATE_CREATE)
			return cs_error_set(e, CS_EINVAL, "mapping %s does not create records in Salesforce "
			                    "(on_create.salesforce: ignore)", m->name);
	} else if (m->entity != CS_ENTITY_COUNTERPARTY && m->entity != CS_ENTITY_CONTRACT) {
		return cs_error_set(e, CS_EINVAL, "a %s cannot be created from Salesforce", cs_entity_name(m->entity));
	}
	snprintf(b.actor, sizeof(b.actor), "sync:%s", b.org->name);
	snprintf(b.marker_ns, sizeof(b.marker_ns), "creating:%s", m->name);
	b.bulk = o->bulk;
	b.bulk.progress = bulk_progress;
	b.bulk.ud = &b;
	b.bulk.stop = o->stop;
	if ((b.pending = json_array()) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	if ((rc = store_open(o->store_url, &b.st, e)) != CS_OK)
		goto out;
	sync_org_config(b.org, &sc);
	/* a job's upload and result files are large: more time per request than the engine's */
	sc.timeout_ms = 300000;
	sc.retry.max_attempts = 5;
	sc.retry.base_ms = 200;
	sc.retry.cap_ms = 5000;
	sc.retry.max_total_ms = 60000;
	sf_error_clear(&se);
	if ((rc = sf_org_new(&sc, &b.sfo, &se)) != CS_OK) {
		cs_error_set(e, rc, "org %s: %s", b.org->name, se.message);
		goto out;
	}
	if (sf_client_new(b.sfo, &b.sc) != CS_OK || sf_client_new(b.sfo, &b.qc) != CS_OK) {
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	if (!o->dry_run && (rc = ensure_cursor(&b, e)) != CS_OK)
		goto out;
	rc = o->dir == SYNC_BACKFILL_TO_SF ? to_salesforce(&b, e) : from_salesforce(&b, e);
	progress(&b, "done", b.done);
	if (b.field_errors > 20)
		log_warn("sync.backfill", "%s: %lld field values could not be converted (the first 20 were logged)", m->name,
		         b.field_errors);
	r->field_errors = b.field_errors;
out:
	if (b.sfo != NULL) {
		struct sf_stats st;
		sf_org_stats(b.sfo, &st);
		/* the token requests do not count against the API allocation */
		r->api_calls = (long long)(st.requests - (st.logins < st.requests ? st.logins : st.requests));
	}
	json_decref(b.pending);
	sf_describe_free(b.desc);
	sf_client_free(b.sc);
	sf_client_free(b.qc);
	sf_org_free(b.sfo);
	store_close(b.st);
	return rc;
}

/* emu.c - the emulated org: records, validation, transactions and change events. */
#include "emu.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_EVENTS_HELD 2000000  /* hard cap on retained events, beyond the time window */
#define MAX_UNDELIVERED 100000   /* replay ids of events dropped undelivered that are kept */

/* One undo entry per operation, replayed newest first on roll-back. An entry either snapshots
 * the live and recycle-bin objects (create, delete, undelete: those never mutate an object in
 * place) or holds the old values of the fields an update changed in place (old != NULL). */
struct undo {
	struct sobject *o;
	char id[SFID_LEN + 1];
	json_t *prev;               /* live record before the operation, or NULL */
	json_t *prev_bin;           /* recycle-bin record before the operation, or NULL */
	json_t *old;                /* in-place update: field -> value before it */
};

struct pending {
	struct sobject *o;
	char id[SFID_LEN + 1];
	const char *type;           /* CREATE UPDATE DELETE UNDELETE */
	json_t *fields;             /* the body fields of the event */
	json_t *changed;            /* changedFields (UPDATE) */
	json_t *nulled;             /* nulledFields (UPDATE) */
};

struct emu_txn {
	struct emu *emu;
	struct emu_caller who;
	char client[128];
	struct undo *undo;
	size_t nundo, cundo;
	struct pending *pend;
	size_t npend, cpend;
	int64_t now;
	json_t *jstamp;             /* now as a REST dateTime, shared by every record the txn stamps */
	enum emu_lost lost;         /* what replaces its change events (emu_txn_lose_events) */
};

void
emu_lock(struct emu *emu)
{
	pthread_mutex_lock(&emu->mu);
}

void
emu_unlock(struct emu *emu)
{
	pthread_mutex_unlock(&emu->mu);
}

cs_err
emu_init(struct emu *emu, const struct emu_opts *o, struct cs_error *e)
{
	pthread_condattr_t ca;
	cs_err err;

	memset(emu, 0, sizeof(*emu));
	if (o)
		emu->o = *o;
	if (emu->o.daily_limit <= 0)
		emu->o.daily_limit = 1000000;
	if (emu->o.retention_ms <= 0)
		emu->o.retention_ms = 72LL * 3600 * 1000;
	if (emu->o.username == NULL)
		emu->o.username = "integration@clmsync.test";
	if (emu->o.password == NULL)
		emu->o.password = "clmsync-test-password";
	if (emu->o.client_id == NULL)
		emu->o.client_id = "clmsync-test-client";
	if (emu->o.client_secret == NULL)
		emu->o.client_secret = "clmsync-test-secret";
	if (emu->o.refresh_token == NULL)
		emu->o.refresh_token = "clmsync-test-refresh-token";
	pthread_mutex_init(&emu->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&emu->ev_cond, &ca);
	pthread_condattr_destroy(&ca);
	emu->next_replay = 1;
	emu->commit_number = 10000000;
	emu->api_window_start = cs_time_now_ms();
	emu->counters = json_object();
	emu->cursors = json_object();
	emu->undelivered = json_array();
	snprintf(emu->base_url, sizeof(emu->base_url), "http://127.0.0.1");
	if ((err = schema_load_default(emu, e)) != CS_OK)
		return err;
	if (emu->o.schema_file && (err = schema_load_file(emu, emu->o.schema_file, e)) != CS_OK)
		return err;
	emu->schema_loaded_ms = cs_time_now_ms();
	if ((err = cometd_init(emu)) != CS_OK)
		return cs_error_set(e, err, "cannot start the streaming registry");
	if ((err = bulk_init(emu)) != CS_OK)
		return cs_error_set(e, err, "cannot start the bulk job registry");
	emu_lock(emu);
	emu_reset(emu);
	emu_unlock(emu);
	return CS_OK;
}

/* Event ev is dropped from the retained log: if no streaming client ever had it, its replay id
 * is kept (GET /__emu/undelivered; bounded, the oldest forgotten first). */
static void
drop_event(struct emu *emu, struct event *ev)
{
	if (!ev->delivered && emu->undelivered != NULL) {
		if (json_array_size(emu->undelivered) >= MAX_UNDELIVERED)
			json_array_remove(emu->undelivered, 0);
		json_array_append_new(emu->undelivered, json_integer(ev->replay_id));
	}
	free(ev->entity);
	json_decref(ev->payload);
}

static void
free_events(struct emu *emu)
{
	for (size_t i = 0; i < emu->nevents; i++) {
		free(emu->events[i].entity);
		json_decref(emu->events[i].payload);
	}
	emu->nevents = 0;
	emu->events = emu->ev_base;
}

void
emu_cleanup(struct emu *emu)
{
	cometd_cleanup(emu);
	bulk_cleanup(emu);
	free_events(emu);
	free(emu->ev_base);
	json_decref(emu->undelivered);
	for (size_t i = 0; i < emu->nobjects; i++)
		schema_free_object(emu->objects[i]);
	free(emu->objects);
	free(emu->sessions);
	json_decref(emu->counters);
	json_decref(emu->cursors);
	pthread_cond_destroy(&emu->ev_cond);
	pthread_mutex_destroy(&emu->mu);
}

/* Seeds the records every org has: the integration user. */
static void
seed(struct emu *emu)
{
	struct sobject *u = emu_object(emu, "User");
	json_t *rec;
	char ts[40];

	if (u == NULL)
		return;
	cs_time_format_sf(cs_time_now_ms(), ts, sizeof(ts));
	rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:s,s:s,s:s,s:s,s:s}", "Id", EMU_USER_ID,
	    "Username", emu->o.username, "LastName", "Integration", "FirstName", "Sync",
	    "Email", emu->o.username, "IsActive", 1, "IsDeleted", 0, "Alias", "integ",
	    "CreatedDate", ts, "LastModifiedDate", ts, "SystemModstamp", ts, "CreatedById", EMU_USER_ID);
	json_object_set_new(rec, "LastModifiedById", json_string(EMU_USER_ID));
	json_object_set_new(rec, "Name", json_string("Sync Integration"));
	json_object_set_new(u->records, EMU_USER_ID, rec);
	u->seq = 2;
}

void
emu_reset(struct emu *emu)
{
	for (size_t i = 0; i < emu->nobjects; i++) {
		struct sobject *o = emu->objects[i];
		json_object_clear(o->records);
		json_object_clear(o->bin);
		json_array_clear(o->deleted_log);
		json_object_clear(o->uindex);
		o->seq = 1;
		for (size_t j = 0; j < o->nrules; j++)
			o->rules[j].inactive = false;
	}
	free_events(emu);
	json_array_clear(emu->undelivered);
	emu->nsessions = 0;
	emu->fixed_token_expired = false;
	emu->refresh_revoked = false;
	emu->api_used = 0;
	emu->api_window_start = cs_time_now_ms();
	memset(&emu->faults, 0, sizeof(emu->faults));
	emu->faults.rng = 0x9E3779B97F4A7C15ULL;
	json_object_clear(emu->counters);
	json_object_clear(emu->cursors);
	cometd_reset(emu);
	bulk_reset(emu);
	seed(emu);
	pthread_cond_broadcast(&emu->ev_cond);
}

struct sobject *
emu_object(struct emu *emu, const char *name)
{
	for (size_t i = 0; i < emu->nobjects; i++)
		if (strcasecmp(emu->objects[i]->name, name) == 0)
			return emu->objects[i];
	return NULL;
}

struct sobject *
emu_object_by_prefix(struct emu *emu, const char *id)
{
	if (strlen(id) < 3)
		return NULL;
	for (size_t i = 0; i < emu->nobjects; i++)
		if (memcmp(emu->objects[i]->prefix, id, 3) == 0)
			return emu->objects[i];
	return NULL;
}

struct sfield *
emu_field_by_relationship(const struct sobject *o, const char *rel)
{
	for (size_t i = 0; i < o->nfields; i++)
		if (o->fields[i].relationship_name && strcasecmp(o->fields[i].relationship_name, rel) == 0)
			return &o->fields[i];
	return NULL;
}

json_t *
emu_find(struct emu *emu, const char *id, struct sobject **obj_out)
{
	char id18[SFID_LEN + 1];
	struct sobject *o;
	json_t *r;

	if (!sfid_to18(id, strlen(id), id18) || (o = emu_object_by_prefix(emu, id18)) == NULL)
		return NULL;
	r = json_object_get(o->records, id18);
	if (r && obj_out)
		*obj_out = o;
	return r;
}

json_t *
emu_error(const char *code, const char *msg, const char *field)
{
	json_t *fields = json_array();

	if (field)
		json_array_append_new(fields, json_string(field));
	return json_pack("[{s:s,s:s,s:o}]", "message", msg, "errorCode", code, "fields", fields);
}

static json_t *
errf(const char *code, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static json_t *
errf(const char *code, const char *field, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return emu_error(code, msg, field);
}

/* ---- value validation ---- */

/* UTF-8 code points in s, which Salesforce counts for length limits. */
static size_t
u8len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static const char *
jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "START_OBJECT";
	case JSON_ARRAY: return "START_ARRAY";
	case JSON_STRING: return "VALUE_STRING";
	case JSON_INTEGER: return "VALUE_NUMBER_INT";
	case JSON_REAL: return "VALUE_NUMBER_FLOAT";
	case JSON_TRUE: return "VALUE_TRUE";
	case JSON_FALSE: return "VALUE_FALSE";
	default: return "VALUE_NULL";
	}
}

static json_t *
type_err(const struct sfield *f, const char *want, const json_t *v)
{
	char *txt = cs_json_str(v);
	json_t *e = errf("JSON_PARSER_ERROR", f->name,
	    "Cannot deserialize instance of %s from %s value %s or request may be missing a required field",
	    want, jtype(v), txt ? txt : "?");
	free(txt);
	return e;
}

/* Checks and normalises one value for field f; on success returns a new reference to the value
 * to store (json_null() for null), else NULL with *err set. */
static json_t *
coerce(struct emu *emu, const struct sfield *f, json_t *v, json_t **err)
{
	if (json_is_null(v)) {
		if (f->type == FT_BOOLEAN)
			return json_false();
		return json_null();
	}
	switch (f->type) {
	case FT_BOOLEAN:
		if (json_is_boolean(v))
			return json_incref(v);
		if (json_is_string(v) && strcasecmp(json_string_value(v), "true") == 0)
			return json_true();
		if (json_is_string(v) && strcasecmp(json_string_value(v), "false") == 0)
			return json_false();
		*err = type_err(f, "boolean", v);
		return NULL;
	case FT_INT: {
		double d;
		if (json_is_integer(v))
			return json_incref(v);
		if (json_is_real(v)) {
			d = json_real_value(v);
			if (d == floor(d) && fabs(d) < 1e15)
				return json_integer((json_int_t)d);
		}
		if (json_is_string(v)) {
			char *end;
			long long n = strtoll(json_string_value(v), &end, 10);
			if (*json_string_value(v) && *end == '\0')
				return json_integer(n);
		}
		*err = type_err(f, "int", v);
		return NULL;
	}
	case FT_DOUBLE:
	case FT_CURRENCY:
	case FT_PERCENT: {
		double d, lim, p;
		if (json_is_number(v))
			d = json_number_value(v);
		else if (json_is_string(v)) {
			char *end;
			d = strtod(json_string_value(v), &end);
			if (!*json_string_value(v) || *end) {
				*err = type_err(f, "double", v);
				return NULL;
			}
		} else {
			*err = type_err(f, "double", v);
			return NULL;
		}
		if (!isfinite(d)) {
			*err = type_err(f, "double", v);
			return NULL;
		}
		p = pow(10, f->scale);
		d = round(d * p) / p;
		lim = pow(10, f->precision - f->scale);
		if (fabs(d) >= lim) {
			*err = errf("NUMBER_OUTSIDE_VALID_RANGE", f->name,
			    "%s: value outside of valid range on numeric field: %.*f", f->label, f->scale, d);
			return NULL;
		}
		return json_real(d);
	}
	case FT_DATE: {
		int64_t days, ms;
		const char *s;
		char out[16];
		if (!json_is_string(v)) {
			*err = type_err(f, "date", v);
			return NULL;
		}
		s = json_string_value(v);
		if (cs_date_parse(s, strlen(s), &days))
			return json_incref(v);
		/* a dateTime is accepted for a date field and keeps its UTC calendar day */
		if (cs_datetime_parse(s, strlen(s), &ms)) {
			cs_date_format(ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000), out, sizeof(out));
			return json_string(out);
		}
		*err = type_err(f, "date", v);
		return NULL;
	}
	case FT_DATETIME: {
		int64_t ms, days;
		const char *s;
		char out[40];
		if (!json_is_string(v)) {
			*err = type_err(f, "datetime", v);
			return NULL;
		}
		s = json_string_value(v);
		if (cs_datetime_parse(s, strlen(s), &ms)) {
			cs_time_format_sf(ms, out, sizeof(out));
			return json_string(out);
		}
		if (cs_date_parse(s, strlen(s), &days)) {
			cs_time_format_sf(days * 86400000, out, sizeof(out));
			return json_string(out);
		}
		*err = type_err(f, "datetime", v);
		return NULL;
	}
	case FT_ID:
	case FT_REFERENCE: {
		char id18[SFID_LEN + 1];
		const char *s;
		struct sobject *ro;
		if (!json_is_string(v)) {
			*err = type_err(f, "id", v);
			return NULL;
		}
		s = json_string_value(v);
		if (*s == '\0')
			return json_null();
		if (!sfid_to18(s, strlen(s), id18)) {
			*err = errf("MALFORMED_ID", f->name, "%s: id value of incorrect type: %s", f->label, s);
			return NULL;
		}
		ro = emu_object(emu, f->reference_to ? f->reference_to : "");
		if (ro == NULL || memcmp(ro->prefix, id18, 3) != 0) {
			*err = errf("FIELD_INTEGRITY_EXCEPTION", f->name,
			    "%s: id value of incorrect type: %s", f->label, s);
			return NULL;
		}
		if (json_object_get(ro->records, id18) == NULL) {
			*err = errf("INVALID_CROSS_REFERENCE_KEY", f->name, "invalid cross reference id");
			return NULL;
		}
		return json_string(id18);
	}
	case FT_PICKLIST:
	case FT_MULTIPICKLIST:
	default: {
		const char *s;
		if (json_is_number(v) || json_is_boolean(v)) {
			/* Salesforce turns scalars into text for text fields */
			char *txt = cs_json_str(v);
			json_t *sv = json_string(txt ? txt : "");
			free(txt);
			json_t *r = coerce(emu, f, sv, err);
			json_decref(sv);
			return r;
		}
		if (!json_is_string(v)) {
			*err = type_err(f, "String", v);
			return NULL;
		}
		s = json_string_value(v);
		if (*s == '\0')
			return json_null();   /* Salesforce stores empty text as null */
		if (f->length > 0 && u8len(s) > (size_t)f->length) {
			*err = errf("STRING_TOO_LONG", f->name, "%s: data value too large: %.40s%s (max length=%d)",
			    f->label, s, strlen(s) > 40 ? "..." : "", f->length);
			return NULL;
		}
		if (f->type == FT_PICKLIST && f->restricted) {
			bool ok = false;
			for (size_t i = 0; i < f->npicklist && !ok; i++)
				ok = strcmp(f->picklist[i], s) == 0;
			if (!ok) {
				*err = errf("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f->name,
				    "%s: bad value for restricted picklist field: %s", f->label, s);
				return NULL;
			}
		}
		if (f->type == FT_EMAIL && (strchr(s, '@') == NULL || strchr(s, ' ') != NULL)) {
			*err = errf("INVALID_EMAIL_ADDRESS", f->name, "%s: invalid email address: %s", f->label, s);
			return NULL;
		}
		return json_incref(v);
	}
	}
}

/* ---- unique index ---- */

static void
lower_key(const char *s, char *out, size_t cap)
{
	size_t i = 0;
	for (; s[i] && i + 1 < cap; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

static json_t *
uidx(struct sobject *o, const char *field)
{
	json_t *m = json_object_get(o->uindex, field);
	if (m == NULL) {
		m = json_object();
		json_object_set_new(o->uindex, field, m);
	}
	return m;
}

static void
index_record(struct sobject *o, json_t *rec, const char *id, bool add)
{
	char key[1024];

	for (size_t i = 0; i < o->nfields; i++) {
		struct sfield *f = &o->fields[i];
		const char *v;
		if (!f->unique && !f->external_id)
			continue;
		v = json_string_value(json_object_get(rec, f->name));
		if (v == NULL)
			continue;
		lower_key(v, key, sizeof(key));
		if (add)
			json_object_set_new(uidx(o, f->name), key, json_string(id));
		else {
			const char *cur = json_string_value(json_object_get(uidx(o, f->name), key));
			if (cur && strcmp(cur, id) == 0)
				json_object_del(uidx(o, f->name), key);
		}
	}
}

/* ---- transactions ---- */

struct emu_txn *
emu_txn_begin(struct emu *emu, const struct emu_caller *who)
{
	struct emu_txn *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->emu = emu;
	if (who) {
		t->who = *who;
		if (who->client) {
			snprintf(t->client, sizeof(t->client), "%s", who->client);
			t->who.client = t->client;
		}
	}
	if (t->who.api == NULL)
		t->who.api = "rest";
	if (t->who.version == 0)
		t->who.version = EMU_MAX_VERSION;
	t->now = cs_time_now_ms();
	{
		char ts[40];
		cs_time_format_sf(t->now, ts, sizeof(ts));
		/* one immutable string for the whole transaction: record values are replaced, never
		 * edited in place, so every record stamped by it can hold the same reference */
		if ((t->jstamp = json_string(ts)) == NULL) {
			free(t);
			return NULL;
		}
	}
	return t;
}

static struct undo *
undo_push(struct emu_txn *t, struct sobject *o, const char *id)
{
	struct undo *u;

	if (t->nundo == t->cundo) {
		size_t n = t->cundo ? t->cundo * 2 : 8;
		struct undo *g = realloc(t->undo, n * sizeof(*g));
		if (g == NULL)
			return NULL;
		t->undo = g;
		t->cundo = n;
	}
	u = &t->undo[t->nundo++];
	memset(u, 0, sizeof(*u));
	u->o = o;
	snprintf(u->id, sizeof(u->id), "%s", id);
	return u;
}

static bool
remember(struct emu_txn *t, struct sobject *o, const char *id)
{
	struct undo *u = undo_push(t, o, id);
	json_t *cur, *bin;

	if (u == NULL)
		return false;
	cur = json_object_get(o->records, id);
	bin = json_object_get(o->bin, id);
	u->prev = cur ? json_incref(cur) : NULL;
	u->prev_bin = bin ? json_incref(bin) : NULL;
	return true;
}

static void
pend(struct emu_txn *t, struct sobject *o, const char *id, const char *type, json_t *fields,
    json_t *changed, json_t *nulled)
{
	struct pending *p;

	if (t->npend == t->cpend) {
		size_t n = t->cpend ? t->cpend * 2 : 8;
		struct pending *g = realloc(t->pend, n * sizeof(*g));
		if (g == NULL) {
			json_decref(fields);
			json_decref(changed);
			json_decref(nulled);
			return;
		}
		t->pend = g;
		t->cpend = n;
	}
	p = &t->pend[t->npend++];
	p->o = o;
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->type = type;
	p->fields = fields;
	p->changed = changed;
	p->nulled = nulled;
}

static void
txn_free(struct emu_txn *t)
{
	for (size_t i = 0; i < t->nundo; i++) {
		json_decref(t->undo[i].prev);
		json_decref(t->undo[i].prev_bin);
		json_decref(t->undo[i].old);
	}
	for (size_t i = 0; i < t->npend; i++) {
		json_decref(t->pend[i].fields);
		json_decref(t->pend[i].changed);
		json_decref(t->pend[i].nulled);
	}
	free(t->undo);
	free(t->pend);
	json_decref(t->jstamp);
	free(t);
}

void
emu_txn_rollback(struct emu_txn *t)
{
	if (t == NULL)
		return;
	for (size_t i = t->nundo; i-- > 0;) {
		struct undo *u = &t->undo[i];
		json_t *cur = json_object_get(u->o->records, u->id);
		if (u->old != NULL) {
			const char *k;
			json_t *v;
			if (cur == NULL)
				continue;
			index_record(u->o, cur, u->id, false);
			json_object_foreach(u->old, k, v)
				json_object_set(cur, k, v);
			index_record(u->o, cur, u->id, true);
			continue;
		}
		if (cur)
			index_record(u->o, cur, u->id, false);
		if (u->prev) {
			json_object_set(u->o->records, u->id, u->prev);
			index_record(u->o, u->prev, u->id, true);
		} else
			json_object_del(u->o->records, u->id);
		if (u->prev_bin)
			json_object_set(u->o->bin, u->id, u->prev_bin);
		else
			json_object_del(u->o->bin, u->id);
	}
	txn_free(t);
}

static void
publish(struct emu *emu, const char *entity, json_t *payload, int64_t now)
{
	struct event *ev;

	/* events past the retention window are dropped as new ones arrive */
	if (emu->nevents > 0 && emu->events[0].published_ms < now - emu->o.retention_ms)
		emu_events_expire(emu, now);
	if (emu->nevents >= MAX_EVENTS_HELD) {
		/* the cap is a memory guard; drop the oldest tenth like an expiring window */
		size_t drop = MAX_EVENTS_HELD / 10;
		for (size_t i = 0; i < drop; i++)
			drop_event(emu, &emu->events[i]);
		emu->events += drop;
		emu->nevents -= drop;
	}
	if ((size_t)(emu->events - emu->ev_base) + emu->nevents == emu->cevents) {
		size_t head = (size_t)(emu->events - emu->ev_base);
		if (head > 0 && head >= emu->cevents / 2) {
			/* at least half the allocation is expired space: slide down, amortised O(1) */
			memmove(emu->ev_base, emu->events, emu->nevents * sizeof(*ev));
		} else {
			size_t n = emu->cevents ? emu->cevents * 2 : 1024;
			struct event *g = realloc(emu->ev_base, n * sizeof(*g));
			if (g == NULL) {
				json_decref(payload);
				return;
			}
			emu->ev_base = g;
			emu->cevents = n;
			memmove(emu->ev_base, emu->ev_base + head, emu->nevents * sizeof(*ev));
		}
		emu->events = emu->ev_base;
	}
	ev = &emu->events[emu->nevents++];
	ev->replay_id = emu->next_replay++;
	ev->published_ms = now;
	ev->entity = strdup(entity);
	ev->payload = payload;
	ev->delivered = false;
}

static void
txn_key(char *out, size_t n, unsigned long long a, unsigned long long b)
{
	snprintf(out, n, "%08llx-%04llx-%04llx-%04llx-%012llx", a & 0xffffffffULL, (b >> 48) & 0xffff,
	    (b >> 32) & 0xffff, (b >> 16) & 0xffff, (a ^ b) & 0xffffffffffffULL);
}

/* A gap or overflow event: the header only, no record fields (recordIds empty when record_id
 * is NULL). New reference, NULL when out of memory. */
static json_t *
gap_payload(const char *entity, const char *change_type, const char *record_id, const char *key, int seq,
    int64_t now, long long commit)
{
	json_t *ids = json_array();

	if (ids == NULL)
		return NULL;
	if (record_id && *record_id)
		json_array_append_new(ids, json_string(record_id));
	return json_pack("{s:{s:s,s:o,s:s,s:s,s:s,s:i,s:I,s:I,s:s,s:[],s:[],s:[]}}", "ChangeEventHeader",
	    "entityName", entity, "recordIds", ids, "changeType", change_type, "changeOrigin", "",
	    "transactionKey", key, "sequenceNumber", seq, "commitTimestamp", (json_int_t)now,
	    "commitNumber", (json_int_t)commit, "commitUser", EMU_USER_ID,
	    "changedFields", "nulledFields", "diffFields");
}

void
emu_txn_lose_events(struct emu_txn *t, enum emu_lost lost)
{
	t->lost = lost;
}

/* The transaction's change events were lost: in their place each record written gets a gap
 * event of its change type (GAP_UPDATE for an UPDATE, ...), or, for an overflow, each object
 * written gets one GAP_OVERFLOW without record ids. */
static void
publish_lost(struct emu_txn *t, const char *key, long long commit)
{
	struct emu *emu = t->emu;
	int seq = 0;

	if (t->lost == EMU_LOST_OVERFLOW) {
		for (size_t k = 0; k < emu->nobjects; k++) {
			struct sobject *o = emu->objects[k];
			json_t *payload;
			size_t i;
			for (i = 0; i < t->npend && t->pend[i].o != o; i++)
				;
			if (i == t->npend || !o->cdc)
				continue;
			if ((payload = gap_payload(o->name, "GAP_OVERFLOW", NULL, key, ++seq, t->now, commit)) != NULL)
				publish(emu, o->name, payload, t->now);
		}
	} else {
		for (size_t i = 0; i < t->npend; i++) {
			struct pending *p = &t->pend[i];
			char type[32];
			json_t *payload;
			if (!p->o->cdc)
				continue;
			snprintf(type, sizeof(type), "GAP_%s", p->type);
			if ((payload = gap_payload(p->o->name, type, p->id, key, ++seq, t->now, commit)) != NULL)
				publish(emu, p->o->name, payload, t->now);
		}
	}
	if (seq > 0)
		pthread_cond_broadcast(&emu->ev_cond);
}

void
emu_txn_commit(struct emu_txn *t)
{
	struct emu *emu;
	char key[64], origin[200];
	long long commit;

	if (t == NULL)
		return;
	emu = t->emu;
	commit = ++emu->commit_number;
	txn_key(key, sizeof(key), (unsigned long long)commit * 2654435761ULL, (unsigned long long)t->now);
	if (t->lost != EMU_LOST_NONE) {
		publish_lost(t, key, commit);
		txn_free(t);
		return;
	}
	if (t->who.client && t->who.client[0])
		snprintf(origin, sizeof(origin), "com/salesforce/api/%s/%d.0;client=%s", t->who.api, t->who.version, t->who.client);
	else
		snprintf(origin, sizeof(origin), "com/salesforce/api/%s/%d.0", t->who.api, t->who.version);
	/* values shared by every event of the transaction are made once; event payloads are never
	 * mutated after publication (CometD delivers deep copies, /__emu/events dumps them), so
	 * sharing them, the schema's name strings and one empty array between payloads is safe */
	json_t *jorigin = json_string(origin), *jkey = json_string(key), *juser = json_string(EMU_USER_ID);
	json_t *jts = json_integer((json_int_t)t->now), *jcommit = json_integer((json_int_t)commit);
	json_t *jempty = json_array(), *jcdc = NULL;
	json_t *jtypes[4] = { NULL, NULL, NULL, NULL };
	static const char *const types[4] = { "CREATE", "UPDATE", "DELETE", "UNDELETE" };
	for (size_t i = 0; i < t->npend; i++) {
		struct pending *p = &t->pend[i];
		json_t *hdr, *payload, *ids, *jtype = NULL;
		if (!p->o->cdc)
			continue;
		for (size_t k = 0; k < 4 && jtype == NULL; k++) {
			if (p->type != types[k] && strcmp(p->type, types[k]) != 0)
				continue;
			if (jtypes[k] == NULL)
				jtypes[k] = json_string(types[k]);
			jtype = json_incref(jtypes[k]);
		}
		hdr = json_object();
		ids = json_array();
		payload = json_object();
		if (hdr == NULL || ids == NULL || payload == NULL || jempty == NULL) {
			json_decref(hdr);
			json_decref(ids);
			json_decref(payload);
			json_decref(jtype);
			continue;
		}
		json_array_append_new(ids, json_string(p->id));
		json_object_set_new_nocheck(hdr, "entityName", p->o->jname ? json_incref(p->o->jname) : json_string(p->o->name));
		json_object_set_new_nocheck(hdr, "recordIds", ids);
		json_object_set_new_nocheck(hdr, "changeType", jtype ? jtype : json_string(p->type));
		json_object_set_nocheck(hdr, "changeOrigin", jorigin);
		json_object_set_nocheck(hdr, "transactionKey", jkey);
		json_object_set_new_nocheck(hdr, "sequenceNumber", json_integer((json_int_t)i + 1));
		json_object_set_nocheck(hdr, "commitTimestamp", jts);
		json_object_set_nocheck(hdr, "commitNumber", jcommit);
		json_object_set_nocheck(hdr, "commitUser", juser);
		json_object_set_new_nocheck(hdr, "changedFields", p->changed ? p->changed : json_incref(jempty));
		json_object_set_new_nocheck(hdr, "nulledFields", p->nulled ? p->nulled : json_incref(jempty));
		json_object_set_nocheck(hdr, "diffFields", jempty);
		p->changed = p->nulled = NULL;
		/* the header comes first, then the body; CometD events carry dateTimes as
		 * "2019-03-07T21:58:32Z" where REST says "2019-03-07T21:58:32.000+0000" */
		json_object_set_new_nocheck(payload, "ChangeEventHeader", hdr);
		if (p->fields) {
			const char *k;
			json_t *v;
			json_object_foreach(p->fields, k, v) {
				struct sfield *f = json_is_string(v) ? emu_field(p->o, k) : NULL;
				int64_t ms;
				char iso[32];
				if (f && f->type == FT_DATETIME && v == t->jstamp) {
					/* the transaction's own stamp: converted once */
					if (jcdc == NULL) {
						cs_time_format_cdc(t->now, iso, sizeof(iso));
						jcdc = json_string(iso);
					}
					json_object_set_nocheck(payload, k, jcdc);
				} else if (f && f->type == FT_DATETIME &&
				    cs_datetime_parse(json_string_value(v), json_string_length(v), &ms)) {
					cs_time_format_cdc(ms, iso, sizeof(iso));
					json_object_set_new_nocheck(payload, k, json_string(iso));
				} else
					json_object_set_nocheck(payload, k, v);
			}
		}
		publish(emu, p->o->name, payload, t->now);
	}
	json_decref(jorigin);
	json_decref(jkey);
	json_decref(juser);
	json_decref(jts);
	json_decref(jcommit);
	json_decref(jempty);
	json_decref(jcdc);
	for (size_t k = 0; k < 4; k++)
		json_decref(jtypes[k]);
	if (t->npend > 0)
		pthread_cond_broadcast(&emu->ev_cond);
	txn_free(t);
}

/* ---- writes ---- */

static void
stamp(const struct emu_txn *t, json_t *rec, bool create)
{
	if (create) {
		json_object_set(rec, "CreatedDate", t->jstamp);
		json_object_set_new(rec, "CreatedById", json_string(EMU_USER_ID));
		json_object_set_new(rec, "IsDeleted", json_false());
	}
	json_object_set(rec, "LastModifiedDate", t->jstamp);
	json_object_set_new(rec, "LastModifiedById", json_string(EMU_USER_ID));
	json_object_set(rec, "SystemModstamp", t->jstamp);
}

/* Contract.EndDate is calculated by Salesforce from StartDate and ContractTerm. */
static void
derive(struct sobject *o, json_t *rec)
{
	const char *sd;
	json_t *term;
	int64_t days;
	int y;
	unsigned m, d, last;
	char out[16];

	if (strcmp(o->name, "Contract") != 0 || emu_field(o, "EndDate") == NULL)
		return;
	sd = json_string_value(json_object_get(rec, "StartDate"));
	term = json_object_get(rec, "ContractTerm");
	if (sd == NULL || !json_is_integer(term) || !cs_date_parse(sd, strlen(sd), &days)) {
		json_object_set_new(rec, "EndDate", json_null());
		return;
	}
	cs_civil_from_days(days, &y, &m, &d);
	long long months = (long long)y * 12 + (m - 1) + json_integer_value(term);
	if (months < 0 || months > 12LL * 9999) {
		json_object_set_new(rec, "EndDate", json_null());
		return;
	}
	y = (int)(months / 12);
	m = (unsigned)(months % 12) + 1;
	last = (unsigned)(cs_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - cs_days_from_civil(y, m, 1));
	if (d > last)
		d = last;
	cs_date_format(cs_days_from_civil(y, m, d) - 1, out, sizeof(out));
	json_object_set_new(rec, "EndDate", json_string(out));
}

/* Validates fields for a create (rec == NULL) or an update of rec, and returns the normalised
 * values to write as a new object, or NULL with *err. */
static json_t *
check_fields(struct emu *emu, struct sobject *o, json_t *fields, const json_t *rec, const char *self_id, json_t **err)
{
	json_t *out = json_object(), *v;
	const char *k;
	char key[1024];

	if (!json_is_object(fields)) {
		*err = emu_error("JSON_PARSER_ERROR", "Unexpected parameter encountered during deserialization: expected a JSON object", NULL);
		goto fail;
	}
	json_object_foreach(fields, k, v) {
		struct sfield *f;
		json_t *nv;
		if (strcmp(k, "attributes") == 0)
			continue;
		f = emu_field(o, k);
		if (f == NULL) {
			*err = errf("INVALID_FIELD", NULL, "No such column '%s' on sobject of type %s", k, o->name);
			goto fail;
		}
		if (strcmp(f->name, "Id") == 0 && rec != NULL)
			continue;   /* an update body may repeat its own Id */
		if (rec == NULL ? !f->createable : !f->updateable) {
			*err = errf("INVALID_FIELD_FOR_INSERT_UPDATE", f->name,
			    "Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", f->name);
			goto fail;
		}
		if ((nv = coerce(emu, f, v, err)) == NULL)
			goto fail;
		if (!f->nillable && json_is_null(nv) && f->type != FT_BOOLEAN) {
			json_decref(nv);
			*err = errf("REQUIRED_FIELD_MISSING", f->name, "Required fields are missing: [%s]", f->name);
			goto fail;
		}
		if ((f->unique || f->external_id) && json_is_string(nv) && f->unique) {
			const char *other;
			lower_key(json_string_value(nv), key, sizeof(key));
			other = json_string_value(json_object_get(uidx(o, f->name), key));
			if (other && (self_id == NULL || strcmp(other, self_id) != 0)) {
				*err = errf("DUPLICATE_VALUE", f->name, "duplicate value found: %s duplicates value on record with id: %s", f->name, other);
				json_decref(nv);
				goto fail;
			}
		}
		json_object_set_new(out, f->name, nv);
	}
	if (rec == NULL) {
		char missing[1024] = "";
		const char *first = NULL;
		for (size_t i = 0; i < o->nfields; i++) {
			struct sfield *f = &o->fields[i];
			json_t *nv = json_object_get(out, f->name);
			if (!f->required || (nv && !json_is_null(nv)))
				continue;
			if (nv == NULL && json_is_string(json_object_get(f->describe, "defaultValue")))
				continue;
			if (first == NULL)
				first = f->name;
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s", *missing ? ", " : "", f->name);
		}
		if (first) {
			*err = errf("REQUIRED_FIELD_MISSING", first, "Required fields are missing: [%s]", missing);
			goto fail;
		}
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

static bool
check_rules(struct sobject *o, const json_t *rec, json_t **err)
{
	for (size_t i = 0; i < o->nrules; i++) {
		const struct vrule *r = &o->rules[i];
		json_t *v = json_object_get(rec, r->field);
		bool hit;
		if (r->inactive)
			continue;
		if (r->value == NULL)
			hit = v == NULL || json_is_null(v);
		else
			hit = json_is_string(v) && strcmp(json_string_value(v), r->value) == 0;
		if (hit) {
			*err = emu_error("FIELD_CUSTOM_VALIDATION_EXCEPTION", r->message, NULL);
			return false;
		}
	}
	return true;
}

static void
new_id(struct sobject *o, char out[SFID_LEN + 1])
{
	sfid_make(o->prefix, "0A", o->seq++, out);
}

bool
emu_create(struct emu_txn *t, struct sobject *o, json_t *fields, char id_out[SFID_LEN + 1], json_t **err)
{
	struct emu *emu = t->emu;
	json_t *vals, *rec, *ev;
	const char *k;
	json_t *v;

	*err = NULL;
	if (json_is_object(fields) && (json_object_get(fields, "Id") || json_object_get(fields, "id"))) {
		json_t *idv = json_object_get(fields, "Id") ? json_object_get(fields, "Id") : json_object_get(fields, "id");
		if (!json_is_null(idv)) {
			*err = emu_error("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", "Id");
			return false;
		}
	}
	if ((vals = check_fields(emu, o, fields, NULL, NULL, err)) == NULL)
		return false;
	rec = json_object();
	new_id(o, id_out);
	json_object_set_new(rec, "Id", json_string(id_out));
	/* defaults first, then the given values, in schema order */
	for (size_t i = 0; i < o->nfields; i++) {
		struct sfield *f = &o->fields[i];
		json_t *dv = json_object_get(f->describe, "defaultValue");
		if (f->system)
			continue;
		if ((v = json_object_get(vals, f->name)) != NULL)
			json_object_set(rec, f->name, v);
		else if (json_is_string(dv) || json_is_boolean(dv))
			json_object_set(rec, f->name, dv);
		else if (f->type == FT_BOOLEAN)
			json_object_set_new(rec, f->name, json_false());
		else if (json_is_true(json_object_get(f->describe, "autoNumber")))
			json_object_set_new(rec, f->name, json_sprintf("%08llu", o->seq + 99));
		else if (strcmp(f->name, "OwnerId") == 0)
			json_object_set_new(rec, f->name, json_string(EMU_USER_ID));
		else
			json_object_set_new(rec, f->name, json_null());
	}
	json_decref(vals);
	stamp(t, rec, true);
	derive(o, rec);
	if (!check_rules(o, rec, err)) {
		o->seq--;
		json_decref(rec);
		return false;
	}
	if (!remember(t, o, id_out)) {
		json_decref(rec);
		*err = emu_error("UNKNOWN_EXCEPTION", "out of memory", NULL);
		return false;
	}
	json_object_set_new(o->records, id_out, rec);
	index_record(o, rec, id_out, true);
	/* CREATE events carry every non-null field but the Id (it is in recordIds) */
	ev = json_object();
	json_object_foreach(rec, k, v) {
		if (!json_is_null(v) && strcmp(k, "Id") != 0 && strcmp(k, "IsDeleted") != 0)
			json_object_set(ev, k, v);
	}
	pend(t, o, id_out, "CREATE", ev, NULL, NULL);
	return true;
}

/* Sets rec[k] = v in place, keeping the first old value in old (for roll-back). */
static void
set_kept(json_t *rec, json_t *old, const char *k, json_t *v)
{
	json_t *prev = json_object_get(rec, k);

	if (json_object_get(old, k) == NULL)
		json_object_set(old, k, prev ? prev : json_null());
	json_object_set(rec, k, v);
}

static void
restore(json_t *rec, json_t *old)
{
	const char *k;
	json_t *v;

	json_object_foreach(old, k, v)
		json_object_set(rec, k, v);
}

/* The field name k as a JSON string: the schema's shared one when known, else a new one. */
static json_t *
name_ref(const struct sobject *o, const char *k)
{
	const struct sfield *f = emu_field(o, k);

	return f && f->jname ? json_incref(f->jname) : json_string(k);
}

/* Updates rec in place: a shallow copy of a wide record per update is what made bulk
 * updates slow; the undo entry keeps only the old values of the changed fields. */
static bool
update_rec(struct emu_txn *t, struct sobject *o, const char *id18, json_t *rec, json_t *fields, json_t **err)
{
	json_t *vals, *changed, *nulled = NULL, *ev, *v, *old;
	const char *k;
	struct undo *u;
	bool reindex = false;

	if ((vals = check_fields(t->emu, o, fields, rec, id18, err)) == NULL)
		return false;
	old = json_object();
	changed = json_array();
	ev = json_object();
	/* the unique index only moves when a unique or external-id field is written */
	if (o->has_index) {
		json_object_foreach(vals, k, v) {
			const struct sfield *f = emu_field(o, k);
			if (f && (f->unique || f->external_id)) {
				reindex = true;
				break;
			}
		}
	}
	if (reindex)
		index_record(o, rec, id18, false);
	json_object_foreach(vals, k, v) {
		json_t *cur = json_object_get(rec, k);
		if (cur != NULL && json_equal(cur, v))
			continue;
		set_kept(rec, old, k, v);
	}
	json_decref(vals);
	/* EndDate is a function of StartDate and ContractTerm (and is overwritten when written):
	 * it can only change when one of the three did */
	if ((json_object_get(old, "StartDate") || json_object_get(old, "ContractTerm") ||
	    json_object_get(old, "EndDate")) && json_object_get(rec, "EndDate") != NULL) {
		json_t *before = json_incref(json_object_get(rec, "EndDate"));
		derive(o, rec);
		if (!json_equal(before, json_object_get(rec, "EndDate")) && json_object_get(old, "EndDate") == NULL)
			json_object_set(old, "EndDate", before);
		json_decref(before);
	}
	if (!check_rules(o, rec, err) || (u = undo_push(t, o, id18)) == NULL) {
		if (*err == NULL)
			*err = emu_error("UNKNOWN_EXCEPTION", "out of memory", NULL);
		restore(rec, old);
		if (reindex)
			index_record(o, rec, id18, true);
		json_decref(old);
		json_decref(changed);
		json_decref(ev);
		return false;
	}
	json_object_foreach(old, k, v) {
		json_t *nv = json_object_get(rec, k);
		json_array_append_new(changed, name_ref(o, k));
		if (json_is_null(nv)) {
			if (nulled == NULL)
				nulled = json_array();
			json_array_append_new(nulled, name_ref(o, k));
		}
		json_object_set(ev, k, nv);
	}
	set_kept(rec, old, "LastModifiedDate", t->jstamp);
	set_kept(rec, old, "SystemModstamp", t->jstamp);
	u->old = old;
	if (reindex)
		index_record(o, rec, id18, true);
	json_array_append_new(changed, name_ref(o, "LastModifiedDate"));
	json_object_set(ev, "LastModifiedDate", t->jstamp);
	pend(t, o, id18, "UPDATE", ev, changed, nulled);
	return true;
}

bool
emu_update(struct emu_txn *t, struct sobject *o, const char *id, json_t *fields, json_t **err)
{
	char id18[SFID_LEN + 1];
	json_t *rec;

	*err = NULL;
	if (id == NULL || !sfid_to18(id, strlen(id), id18)) {
		*err = errf("MALFORMED_ID", "Id", "%s ID: id value of incorrect type: %s", o ? o->name : "Record", id ? id : "");
		return false;
	}
	if (o == NULL && (o = emu_object_by_prefix(t->emu, id18)) == NULL) {
		*err = errf("MALFORMED_ID", "Id", "malformed id %s", id);
		return false;
	}
	if (memcmp(o->prefix, id18, 3) != 0) {
		*err = errf("MALFORMED_ID", "Id", "%s ID: id value of incorrect type: %s", o->name, id);
		return false;
	}
	rec = json_object_get(o->records, id18);
	if (rec == NULL) {
		if (json_object_get(o->bin, id18))
			*err = emu_error("ENTITY_IS_DELETED", "entity is deleted", NULL);
		else
			*err = emu_error("NOT_FOUND", "The requested resource does not exist", NULL);
		return false;
	}
	return update_rec(t, o, id18, rec, fields, err);
}

bool
emu_delete(struct emu_txn *t, const char *id, json_t **err)
{
	char id18[SFID_LEN + 1], ts[40];
	struct sobject *o;
	json_t *rec, *binrec;

	*err = NULL;
	if (id == NULL || !sfid_to18(id, strlen(id), id18) || (o = emu_object_by_prefix(t->emu, id18)) == NULL) {
		*err = errf("MALFORMED_ID", "Id", "malformed id %s", id ? id : "");
		return false;
	}
	rec = json_object_get(o->records, id18);
	if (rec == NULL) {
		if (json_object_get(o->bin, id18))
			*err = emu_error("ENTITY_IS_DELETED", "entity is deleted", NULL);
		else
			*err = emu_error("NOT_FOUND", "The requested resource does not exist", NULL);
		return false;
	}
	/* a record still referenced by a required lookup cannot go (Contract.AccountId) */
	for (size_t i = 0; i < t->emu->nobjects; i++) {
		struct sobject *c = t->emu->objects[i];
		for (size_t j = 0; j < c->nfields; j++) {
			struct sfield *f = &c->fields[j];
			const char *ck;
			json_t *cr;
			if (f->reference_to == NULL || f->system || f->nillable || strcmp(f->reference_to, o->name) != 0)
				continue;
			json_object_foreach(c->records, ck, cr) {
				const char *ref = json_string_value(json_object_get(cr, f->name));
				if (ref && strcmp(ref, id18) == 0) {
					*err = errf("DELETE_FAILED", NULL,
					    "Your attempt to delete %s could not be completed because it is associated with the following %s: %s",
					    o->name, c->label_plural, ck);
					return false;
				}
			}
		}
	}
	if (!remember(t, o, id18)) {
		*err = emu_error("UNKNOWN_EXCEPTION", "out of memory", NULL);
		return false;
	}
	index_record(o, rec, id18, false);
	binrec = json_copy(rec);
	json_object_set_new(binrec, "IsDeleted", json_true());
	stamp(t, binrec, false);
	json_object_set_new(o->bin, id18, binrec);
	json_object_del(o->records, id18);
	cs_time_format_sf(t->now, ts, sizeof(ts));
	json_array_append_new(o->deleted_log, json_pack("{s:s,s:s}", "id", id18, "deletedDate", ts));
	pend(t, o, id18, "DELETE", NULL, NULL, NULL);
	return true;
}

bool
emu_undelete(struct emu_txn *t, const char *id, json_t **err)
{
	char id18[SFID_LEN + 1];
	struct sobject *o;
	json_t *rec, *ev, *v;
	const char *k;

	*err = NULL;
	if (id == NULL || !sfid_to18(id, strlen(id), id18) || (o = emu_object_by_prefix(t->emu, id18)) == NULL) {
		*err = errf("MALFORMED_ID", "Id", "malformed id %s", id ? id : "");
		return false;
	}
	rec = json_object_get(o->bin, id18);
	if (rec == NULL) {
		*err = emu_error("UNDELETE_FAILED", "Entity is not in the recycle bin", NULL);
		return false;
	}
	if (!remember(t, o, id18)) {
		*err = emu_error("UNKNOWN_EXCEPTION", "out of memory", NULL);
		return false;
	}
	rec = json_copy(rec);
	json_object_set_new(rec, "IsDeleted", json_false());
	stamp(t, rec, false);
	json_object_set_new(o->records, id18, rec);
	json_object_del(o->bin, id18);
	index_record(o, rec, id18, true);
	ev = json_object();
	json_object_foreach(rec, k, v) {
		if (!json_is_null(v) && strcmp(k, "Id") != 0 && strcmp(k, "IsDeleted") != 0)
			json_object_set(ev, k, v);
	}
	pend(t, o, id18, "UNDELETE", ev, NULL, NULL);
	return true;
}

bool
emu_upsert(struct emu_txn *t, struct sobject *o, const char *ext_field, const char *ext_value,
    json_t *fields, char id_out[SFID_LEN + 1], bool *created, json_t **err)
{
	struct sfield *f = emu_field(o, ext_field);
	char key[1024];
	const char *hit = NULL;
	json_t *body;
	bool ok;

	*err = NULL;
	*created = false;
	if (f == NULL || (!f->external_id && f->type != FT_ID)) {
		*err = errf("NOT_FOUND", NULL, "Provided external ID field does not exist or is not accessible: %s", ext_field);
		return false;
	}
	if (!json_is_object(fields)) {
		*err = emu_error("JSON_PARSER_ERROR", "Unexpected parameter encountered during deserialization: expected a JSON object", NULL);
		return false;
	}
	if (f->type == FT_ID) {
		char id18[SFID_LEN + 1];
		if (ext_value && sfid_to18(ext_value, strlen(ext_value), id18) &&
		    json_object_get(o->records, id18)) {
			snprintf(id_out, SFID_LEN + 1, "%s", id18);
			return emu_update(t, o, id18, fields, err);
		}
		if (ext_value && *ext_value) {
			*err = emu_error("NOT_FOUND", "The requested resource does not exist", NULL);
			return false;
		}
		*created = true;
		return emu_create(t, o, fields, id_out, err);
	}
	if (ext_value == NULL || *ext_value == '\0') {
		*err = errf("MISSING_ARGUMENT", f->name, "%s not specified", f->name);
		return false;
	}
	if (f->unique) {
		lower_key(ext_value, key, sizeof(key));
		hit = json_string_value(json_object_get(uidx(o, f->name), key));
	} else {
		/* a non-unique external id can match several records: Salesforce answers 300 */
		json_t *urls = json_array(), *r;
		const char *k;
		json_object_foreach(o->records, k, r) {
			const char *v = json_string_value(json_object_get(r, f->name));
			if (v && strcasecmp(v, ext_value) == 0) {
				json_array_append_new(urls, json_sprintf("/services/data/v%d.0/sobjects/%s/%s", t->who.version, o->name, k));
				hit = k;
			}
		}
		if (json_array_size(urls) > 1) {
			*err = json_pack("{s:o}", "multiple", urls);
			return false;
		}
		json_decref(urls);
	}
	body = json_deep_copy(fields);
	json_object_del(body, f->name);
	if (hit) {
		snprintf(id_out, SFID_LEN + 1, "%s", hit);
		ok = emu_update(t, o, id_out, body, err);
	} else {
		json_object_set_new(body, f->name, json_string(ext_value));
		*created = true;
		ok = emu_create(t, o, body, id_out, err);
	}
	json_decref(body);
	return ok;
}

json_t *
emu_render(struct emu *emu, struct sobject *o, json_t *rec, const char *const *fields, size_t nfields, int version)
{
	json_t *out = json_object();
	const char *id = json_string_value(json_object_get(rec, "Id"));

	json_object_set_new(out, "attributes", json_pack("{s:s,s:o}", "type", o->name, "url",
	    json_sprintf("/services/data/v%d.0/sobjects/%s/%s", version, o->name, id ? id : "")));
	if (fields == NULL) {
		for (size_t i = 0; i < o->nfields; i++) {
			json_t *v = json_object_get(rec, o->fields[i].name);
			json_object_set(out, o->fields[i].name, v ? v : json_null());
		}
	} else {
		for (size_t i = 0; i < nfields; i++) {
			struct sfield *f = emu_field(o, fields[i]);
			json_t *v;
			if (f == NULL)
				continue;
			v = json_object_get(rec, f->name);
			json_object_set(out, f->name, v ? v : json_null());
		}
	}
	return out;
}

/* ---- events ---- */

void
emu_publish_gap(struct emu *emu, const char *entity, const char *change_type, const char *record_id)
{
	int64_t now = cs_time_now_ms();
	char key[64];
	json_t *payload;

	txn_key(key, sizeof(key), (unsigned long long)++emu->commit_number, (unsigned long long)now);
	payload = gap_payload(entity, change_type, record_id, key, 1, now, emu->commit_number);
	if (payload == NULL)
		return;
	publish(emu, entity, payload, now);
	pthread_cond_broadcast(&emu->ev_cond);
}

size_t
emu_events_after(struct emu *emu, long long after)
{
	size_t lo = 0, hi = emu->nevents;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (emu->events[mid].replay_id <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
emu_events_expire(struct emu *emu, int64_t now_ms)
{
	size_t n = 0;

	while (n < emu->nevents && emu->events[n].published_ms < now_ms - emu->o.retention_ms)
		n++;
	/* nothing to expire: events may be NULL (none published yet), which no offset may move */
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		drop_event(emu, &emu->events[i]);
	emu->events += n;
	emu->nevents -= n;
	if (emu->nevents == 0)
		emu->events = emu->ev_base;
}

long long
emu_events_floor(struct emu *emu)
{
	if (emu->nevents == 0)
		return emu->next_replay - 1;
	return emu->events[0].replay_id - 1;
}

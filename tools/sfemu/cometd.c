/* cometd.c - Bayeux long polling for Change Data Capture: handshake, replay subscriptions, held connects. */
#include "cometd.h"
#include "emu.h"
#include "util/json.h"
#include "util/timeutil.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define REPLAY_NEW (-1)          /* only events published after the subscribe */
#define REPLAY_ALL (-2)          /* every retained event */
#define CURSOR_START LLONG_MIN   /* a cursor before any replay id */
#define COOKIE "BAYEUX_BROWSER"
#define MAX_COOKIE_HEADER 4096   /* longer Cookie headers are not searched */

struct sub {
	char channel[COMETD_MAX_CHANNEL + 1];
	char entity[COMETD_MAX_CHANNEL + 1];   /* "" on /data/ChangeEvents: every entity */
	long long cursor;        /* replay id of the last event delivered (or skipped) here */
};

struct client {
	char id[COMETD_ID_LEN + 1];
	int64_t seen_ms;         /* monotonic: its last message, or the end of its last connect */
	bool connected;          /* its first /meta/connect has been answered */
	unsigned held;           /* its connects now waiting for events */
	unsigned long long gen;  /* bumped by every connect: an older held connect gives way */
	struct sub *subs;
	size_t nsubs, csubs;
};

struct cometd {
	struct client *clients[COMETD_MAX_CLIENTS];
	size_t nclients;
	long long hold_ms;       /* settings: see the table below */
	long long ttl_ms;
	long long deliver;       /* 0: events are kept back from every subscriber (a slow delivery) */
	long long until;         /* > 0: only events up to this replay id are delivered (a lagging one) */
};

/* The registry's settings, declared once: name, default, bounds. */
static const struct setting {
	const char *name;
	size_t off;
	long long dflt, min, max;
} settings[] = {
	{ "hold_ms", offsetof(struct cometd, hold_ms), COMETD_HOLD_MS_DEFAULT, 0, COMETD_HOLD_MS_MAX },
	{ "client_ttl_ms", offsetof(struct cometd, ttl_ms), COMETD_TTL_MS_DEFAULT, 1, COMETD_TTL_MS_MAX },
	{ "deliver", offsetof(struct cometd, deliver), 1, 0, 1 },
	{ "deliver_until", offsetof(struct cometd, until), 0, 0, LLONG_MAX },
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static long long *
setting_ptr(struct cometd *c, const struct setting *s)
{
	return (long long *)(void *)((char *)c + s->off);
}

/* ---- small helpers ---- */

static void
rand_fill(unsigned char *b, size_t n)
{
	static _Atomic unsigned long long mix = 0x9E3779B97F4A7C15ULL;
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(b + got, n - got, GRND_NONBLOCK);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	/* Without the kernel's pool the ids need only be unique, not secret: splitmix64. */
	for (; got < n; got++) {
		unsigned long long z = atomic_fetch_add(&mix, 0x9E3779B97F4A7C15ULL) ^ (unsigned long long)cs_time_mono_ms();
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		b[got] = (unsigned char)(z ^ (z >> 31));
	}
}

/* A string member that is valid for a name: present, no NUL inside, at most max bytes. */
static const char *
str_of(const json_t *v, size_t max)
{
	if (!json_is_string(v))
		return NULL;
	if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static bool
push(json_t *arr, json_t *v)
{
	return v != NULL && json_array_append_new(arr, v) == 0;
}

/* A stable schema id per entity, shaped like Salesforce's (22 characters of base64url). */
static void
schema_id(const char *entity, char out[23])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t j = 0;

	memset(md, 0, sizeof(md));
	if (EVP_Digest(entity, strlen(entity), md, &mdlen, EVP_sha256(), NULL) != 1)
		mdlen = 0;
	for (size_t i = 0; i < 16 && j < 22; i += 3) {
		unsigned v = (unsigned)md[i] << 16 | (i + 1 < 16 ? (unsigned)md[i + 1] << 8 : 0) |
		    (i + 2 < 16 ? md[i + 2] : 0);
		out[j++] = b64[(v >> 18) & 63];
		out[j++] = b64[(v >> 12) & 63];
		if (j < 22)
			out[j++] = b64[(v >> 6) & 63];
		if (j < 22)
			out[j++] = b64[v & 63];
	}
	out[j] = '\0';
}

/* ---- the registry ---- */

static struct client *
find(struct cometd *c, const char *id)
{
	if (id == NULL)
		return NULL;
	for (size_t i = 0; i < c->nclients; i++)
		if (strcmp(c->clients[i]->id, id) == 0)
			return c->clients[i];
	return NULL;
}

static void
drop_at(struct cometd *c, size_t i)
{
	free(c->clients[i]->subs);
	free(c->clients[i]);
	c->clients[i] = c->clients[--c->nclients];
	c->clients[c->nclients] = NULL;
}

static void
drop(struct cometd *c, struct client *cl)
{
	for (size_t i = 0; i < c->nclients; i++)
		if (c->clients[i] == cl) {
			drop_at(c, i);
			return;
		}
}

/* Forgets clients idle past the TTL. A client with a held connect is never idle. */
static void
sweep(struct cometd *c, int64_t now)
{
	for (size_t i = 0; i < c->nclients;) {
		struct client *cl = c->clients[i];
		if (cl->held == 0 && now - cl->seen_ms > c->ttl_ms)
			drop_at(c, i);
		else
			i++;
	}
}

static struct client *
new_client(struct cometd *c, int64_t now)
{
	static const char alnum[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	struct client *cl;
	unsigned char r[COMETD_ID_LEN];

	if (c->nclients >= COMETD_MAX_CLIENTS || (cl = calloc(1, sizeof(*cl))) == NULL)
		return NULL;
	do {
		rand_fill(r, sizeof(r));
		for (size_t i = 0; i < COMETD_ID_LEN; i++)
			cl->id[i] = alnum[r[i] % 36];
		cl->id[COMETD_ID_LEN] = '\0';
	} while (find(c, cl->id) != NULL);
	cl->seen_ms = now;
	c->clients[c->nclients++] = cl;
	return cl;
}

static struct sub *
find_sub(struct client *cl, const char *channel)
{
	for (size_t i = 0; i < cl->nsubs; i++)
		if (strcmp(cl->subs[i].channel, channel) == 0)
			return &cl->subs[i];
	return NULL;
}

/* Resolves a CDC channel to the entity it carries ("" for all). Channel names are
 * case-sensitive even though object names elsewhere in the API are not. */
static bool
resolve(struct emu *emu, const char *ch, char entity[COMETD_MAX_CHANNEL + 1])
{
	static const char pre[] = "/data/", suf[] = "ChangeEvent";
	const size_t np = sizeof(pre) - 1, ns = sizeof(suf) - 1;
	size_t n = strlen(ch), xl;
	char name[COMETD_MAX_CHANNEL + 2];
	bool custom;
	struct sobject *o;

	if (strcmp(ch, "/data/ChangeEvents") == 0) {
		entity[0] = '\0';
		return true;
	}
	if (n <= np + ns || n > COMETD_MAX_CHANNEL || memcmp(ch, pre, np) != 0 ||
	    memcmp(ch + n - ns, suf, ns) != 0)
		return false;
	xl = n - np - ns;
	custom = xl > 2 && ch[np + xl - 2] == '_' && ch[np + xl - 1] == '_';
	if (xl == 2 && ch[np] == '_' && ch[np + 1] == '_')
		return false;
	memcpy(name, ch + np, xl);
	if (custom)
		name[xl++] = 'c';
	name[xl] = '\0';
	if (strchr(name, '/') != NULL || (o = emu_object(emu, name)) == NULL ||
	    strcmp(o->name, name) != 0 || o->custom != custom)
		return false;
	snprintf(entity, COMETD_MAX_CHANNEL + 1, "%s", o->name);
	return true;
}

static bool
matches(const struct sub *s, const struct event *ev)
{
	return s->entity[0] == '\0' || (ev->entity != NULL && strcmp(ev->entity, s->entity) == 0);
}

/* Whether ev is held back by deliver_until (events are in replay order: so are all after it). */
static bool
held(const struct emu *emu, const struct event *ev)
{
	return emu->cometd->until > 0 && ev->replay_id > emu->cometd->until;
}

/* Moves every cursor of cl up to the newest event, once nothing before it matches: later
 * scans then start there instead of at an old cursor whose entity is quiet. */
static void
skip_to_end(struct emu *emu, struct client *cl)
{
	long long last;

	if (emu->nevents == 0)
		return;
	last = emu->events[emu->nevents - 1].replay_id;
	if (emu->cometd->until > 0 && last > emu->cometd->until)
		last = emu->cometd->until;   /* not past the events held back */
	for (size_t k = 0; k < cl->nsubs; k++)
		if (cl->subs[k].cursor < last)
			cl->subs[k].cursor = last;
}

/* True when some subscription of cl has an event it has not been given yet. */
static bool
pending(struct emu *emu, struct client *cl)
{
	long long low = LLONG_MAX;

	if (!emu->cometd->deliver)
		return false;
	for (size_t i = 0; i < cl->nsubs; i++)
		if (cl->subs[i].cursor < low)
			low = cl->subs[i].cursor;
	if (cl->nsubs == 0)
		return false;
	for (size_t i = emu_events_after(emu, low); i < emu->nevents && !held(emu, &emu->events[i]); i++)
		for (size_t k = 0; k < cl->nsubs; k++)
			if (emu->events[i].replay_id > cl->subs[k].cursor && matches(&cl->subs[k], &emu->events[i]))
				return true;
	skip_to_end(emu, cl);
	return false;
}

static json_t *
event_msg(const char *channel, const struct event *ev)
{
	char schema[23];
	json_t *payload = ev->payload ? json_deep_copy(ev->payload) : json_object();

	if (payload == NULL)
		return NULL;
	schema_id(ev->entity ? ev->entity : "", schema);
	return json_pack("{s:s,s:{s:s,s:o,s:{s:I}}}", "channel", channel, "data", "schema", schema,
	    "payload", payload, "event", "replayId", (json_int_t)ev->replay_id);
}

/* Appends to out the events cl has not seen, in replay order, at most COMETD_MAX_DELIVER.
 * The cursors move only when every message was built, so a failure loses nothing. */
static cs_err
deliver(struct emu *emu, struct client *cl, json_t *out)
{
	long long low = LLONG_MAX, *cur;
	size_t count = 0;

	if (cl->nsubs == 0 || !emu->cometd->deliver)
		return CS_OK;
	if ((cur = malloc(cl->nsubs * sizeof(*cur))) == NULL)
		return CS_ENOMEM;
	for (size_t k = 0; k < cl->nsubs; k++) {
		cur[k] = cl->subs[k].cursor;
		if (cur[k] < low)
			low = cur[k];
	}
	for (size_t i = emu_events_after(emu, low); i < emu->nevents && count < COMETD_MAX_DELIVER &&
	     !held(emu, &emu->events[i]); i++) {
		struct event *ev = &emu->events[i];
		for (size_t k = 0; k < cl->nsubs && count < COMETD_MAX_DELIVER; k++) {
			if (ev->replay_id <= cur[k] || !matches(&cl->subs[k], ev))
				continue;
			if (!push(out, event_msg(cl->subs[k].channel, ev))) {
				free(cur);
				return CS_ENOMEM;
			}
			ev->delivered = true;
			cur[k] = ev->replay_id;
			count++;
		}
	}
	for (size_t k = 0; k < cl->nsubs; k++)
		cl->subs[k].cursor = cur[k];
	free(cur);
	if (count < COMETD_MAX_DELIVER)
		skip_to_end(emu, cl);
	return CS_OK;
}

/* The id of the most recent event ever published (expired or not); 0 when none. */
static long long
last_replay(struct emu *emu)
{
	return emu->next_replay - 1;
}

/* A stored replay id is usable while the event after it is still retained. */
static bool
replay_ok(struct emu *emu, long long id)
{
	return id >= emu_events_floor(emu) && id <= last_replay(emu);
}

/* ---- replies ---- */

static json_t *
unknown_client(const char *channel, json_t *id)
{
	return json_pack("{s:{s:i,s:s},s:s,s:O*,s:s,s:b}", "advice", "interval", 0, "reconnect", "handshake",
	    "channel", channel, "id", id, "error", "403::Unknown client", "successful", 0);
}

static json_t *
failure(const char *clientid, const char *channel, json_t *id, json_t *subscription, const char *error)
{
	return json_pack("{s:s*,s:s,s:O*,s:O*,s:s,s:b}", "clientId", clientid, "channel", channel,
	    "id", id, "subscription", subscription, "error", error, "successful", 0);
}

static json_t *
do_handshake(struct emu *emu, json_t *m, int64_t now)
{
	struct client *cl = new_client(emu->cometd, now);

	if (cl == NULL)
		return json_pack("{s:{s:{s:s},s:b},s:{s:s},s:s,s:O*,s:s,s:b}",
		    "ext", "sfdc", "failureReason", "403::Organization concurrent user limit exceeded",
		    "replay", 1, "advice", "reconnect", "none", "channel", "/meta/handshake",
		    "id", json_object_get(m, "id"), "error", "403::Handshake denied", "successful", 0);
	return json_pack("{s:{s:b,s:b},s:s,s:s,s:[s],s:s,s:O*,s:s,s:b}",
	    "ext", "replay", 1, "payload.format", 1, "minimumVersion", "1.0", "clientId", cl->id,
	    "supportedConnectionTypes", "long-polling", "channel", "/meta/handshake",
	    "id", json_object_get(m, "id"), "version", "1.0", "successful", 1);
}

/* One channel of a subscribe: the new subscription in *out, or an error text in err. */
static bool
sub_prepare(struct emu *emu, const char *channel, json_t *m, struct sub *out, char *err, size_t cap)
{
	json_t *rmap = json_object_get(json_object_get(m, "ext"), "replay");
	json_t *rv = json_is_object(rmap) ? json_object_get(rmap, channel) : NULL;
	long long id = REPLAY_NEW;

	if (!resolve(emu, channel, out->entity)) {
		snprintf(err, cap, "400::The channel you requested to subscribe to does not exist {%s}", channel);
		return false;
	}
	snprintf(out->channel, sizeof(out->channel), "%s", channel);
	if (rv != NULL && json_is_integer(rv))
		id = (long long)json_integer_value(rv);
	else if (rv != NULL && json_is_real(rv) && json_real_value(rv) >= -2.0 &&
	    json_real_value(rv) <= 9e15 && json_real_value(rv) == (double)(long long)json_real_value(rv))
		id = (long long)json_real_value(rv);
	else if (rv != NULL) {
		char *s = cs_json_str(rv);
		snprintf(err, cap, "400::The replayId {%.64s} you provided was invalid. Please provide a valid ID, "
		    "-2 to replay all events, or -1 to replay only new events.", s ? s : "");
		free(s);
		return false;
	}
	if (id == REPLAY_NEW)
		out->cursor = emu->nevents ? emu->events[emu->nevents - 1].replay_id : CURSOR_START;
	else if (id == REPLAY_ALL)
		out->cursor = CURSOR_START;
	else if (replay_ok(emu, id))
		out->cursor = id;
	else {
		snprintf(err, cap, "400::The replayId {%lld} you provided was invalid. Please provide a valid ID, "
		    "-2 to replay all events, or -1 to replay only new events.", id);
		return false;
	}
	return true;
}

/* Subscribes to one channel or to an array of them, all or nothing. */
static json_t *
do_subscribe(struct emu *emu, json_t *m, struct client *cl)
{
	json_t *subn = json_object_get(m, "subscription"), *id = json_object_get(m, "id");
	struct sub want[COMETD_MAX_SUBS];
	size_t nwant = 0, nnew = 0;
	char err[COMETD_MAX_CHANNEL + 200];

	if (json_is_string(subn) || json_is_array(subn)) {
		size_t n = json_is_array(subn) ? json_array_size(subn) : 1;
		if (n == 0 || n > COMETD_MAX_SUBS)
			return failure(cl->id, "/meta/subscribe", id, subn, "400::Invalid subscription");
		for (size_t i = 0; i < n; i++) {
			const char *ch = str_of(json_is_array(subn) ? json_array_get(subn, i) : subn, COMETD_MAX_CHANNEL);
			if (ch == NULL)
				return failure(cl->id, "/meta/subscribe", id, subn, "400::Invalid subscription");
			if (!sub_prepare(emu, ch, m, &want[nwant], err, sizeof(err)))
				return failure(cl->id, "/meta/subscribe", id, subn, err);
			nwant++;
		}
	} else
		return failure(cl->id, "/meta/subscribe", id, subn, "400::Invalid subscription");
	for (size_t i = 0; i < nwant; i++)
		if (find_sub(cl, want[i].channel) == NULL)
			nnew++;
	if (cl->nsubs + nnew > COMETD_MAX_SUBS)
		return failure(cl->id, "/meta/subscribe", id, subn, "403::Maximum number of subscriptions reached");
	if (cl->nsubs + nnew > cl->csubs) {
		size_t c = cl->nsubs + nnew;
		struct sub *g = realloc(cl->subs, c * sizeof(*g));
		if (g == NULL)
			return NULL;
		cl->subs = g;
		cl->csubs = c;
	}
	/* Subscribing again to a channel moves its cursor to the replay id just given. */
	for (size_t i = 0; i < nwant; i++) {
		struct sub *s = find_sub(cl, want[i].channel);
		if (s == NULL)
			s = &cl->subs[cl->nsubs++];
		*s = want[i];
	}
	return json_pack("{s:s,s:s,s:O*,s:O,s:b}", "clientId", cl->id, "channel", "/meta/subscribe",
	    "id", id, "subscription", subn, "successful", 1);
}

static json_t *
do_unsubscribe(json_t *m, struct client *cl)
{
	json_t *subn = json_object_get(m, "subscription"), *id = json_object_get(m, "id");
	size_t n = json_is_array(subn) ? json_array_size(subn) : 1;

	if (!json_is_string(subn) && !(json_is_array(subn) && n > 0 && n <= COMETD_MAX_SUBS))
		return failure(cl->id, "/meta/unsubscribe", id, subn, "400::Invalid subscription");
	for (size_t i = 0; i < n; i++) {
		const char *ch = str_of(json_is_array(subn) ? json_array_get(subn, i) : subn, COMETD_MAX_CHANNEL);
		struct sub *s = ch ? find_sub(cl, ch) : NULL;
		if (s != NULL)
			*s = cl->subs[--cl->nsubs];
	}
	return json_pack("{s:s,s:s,s:O*,s:O,s:b}", "clientId", cl->id, "channel", "/meta/unsubscribe",
	    "id", id, "subscription", subn, "successful", 1);
}

/* The connect of a batch that may be held; answered after the other messages. */
struct conn {
	size_t idx;              /* its place in the reply array */
	char id[COMETD_ID_LEN + 1];
	json_t *msgid;           /* borrowed from the request */
	unsigned long long gen;
	long long timeout;       /* advice.timeout asked for; -1 when absent */
	bool active;
};

static json_t *
connect_reply(const struct cometd *c, const struct client *cl, json_t *msgid, bool first)
{
	if (first)
		return json_pack("{s:s,s:{s:i,s:I,s:s},s:s,s:O*,s:b}", "clientId", cl->id, "advice",
		    "interval", 0, "timeout", (json_int_t)c->hold_ms, "reconnect", "retry",
		    "channel", "/meta/connect", "id", msgid, "successful", 1);
	return json_pack("{s:s,s:s,s:O*,s:b}", "clientId", cl->id, "channel", "/meta/connect",
	    "id", msgid, "successful", 1);
}

/* Answers cn now, with no events: a later connect in the same batch supersedes it. */
static bool
connect_now(struct cometd *c, json_t *replies, struct conn *cn)
{
	struct client *cl = find(c, cn->id);
	json_t *r;

	if (cl == NULL)
		r = unknown_client("/meta/connect", cn->msgid);
	else {
		r = connect_reply(c, cl, cn->msgid, !cl->connected);
		cl->connected = true;
	}
	cn->active = false;
	return r != NULL && json_array_set_new(replies, cn->idx, r) == 0;
}

/* How long a connect that asked for `timeout` ms (-1: did not ask) is held. */
static long long
hold_for(const struct cometd *c, long long timeout)
{
	return timeout > 0 && timeout < c->hold_ms ? timeout : c->hold_ms;
}

static void
deadline_after(struct timespec *ts, long long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);    /* emu->ev_cond runs on the monotonic clock */
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Holds cn until an event is pending for its client, a newer connect of the same client
 * arrives, the client is dropped, the emulator stops, or the hold time passes; then writes
 * its reply and the events. The lock is held on entry and on return. */
static cs_err
connect_finish(struct emu *emu, json_t *replies, struct conn *cn)
{
	struct cometd *c = emu->cometd;
	struct client *cl = find(c, cn->id);
	bool first, hold;
	json_t *r;
	cs_err err = CS_OK;

	cn->active = false;
	if (cl == NULL)
		return json_array_set_new(replies, cn->idx, unknown_client("/meta/connect", cn->msgid)) == 0 ?
		    CS_OK : CS_ENOMEM;
	first = !cl->connected;
	hold = !first && !emu->stopping && cn->timeout != 0 && c->hold_ms > 0 && !pending(emu, cl);
	if (hold) {
		int64_t start = cs_time_mono_ms();
		cl->held++;
		for (;;) {
			/* the hold is read again after each wake-up: an operator may shorten it */
			long long ms = hold_for(c, cn->timeout) - (cs_time_mono_ms() - start);
			struct timespec dl;
			if (ms <= 0)
				break;
			deadline_after(&dl, ms);
			pthread_cond_timedwait(&emu->ev_cond, &emu->mu, &dl);
			/* The client may have been dropped while the lock was released: look it up again. */
			if ((cl = find(c, cn->id)) == NULL)
				break;
			if (cl->gen != cn->gen || emu->stopping || pending(emu, cl))
				break;
		}
		if (cl == NULL)
			return json_array_set_new(replies, cn->idx, unknown_client("/meta/connect", cn->msgid)) == 0 ?
			    CS_OK : CS_ENOMEM;
		cl->held--;
	}
	r = connect_reply(c, cl, cn->msgid, first);
	if (r == NULL || json_array_set_new(replies, cn->idx, r) != 0)
		return CS_ENOMEM;
	cl->connected = true;
	cl->seen_ms = cs_time_mono_ms();
	/* A connect that gave way to a newer one delivers nothing: its caller has likely given up
	 * on it, and the newer connect will carry the events. */
	if (cl->gen == cn->gen)
		err = deliver(emu, cl, replies);
	return err;
}

/* Handles one message; a connect is parked in *cn and answered later. */
static json_t *
one(struct emu *emu, json_t *m, json_t *replies, struct conn *cn, int64_t now)
{
	struct cometd *c = emu->cometd;
	const char *ch = str_of(json_object_get(m, "channel"), COMETD_MAX_CHANNEL);
	const char *cid = str_of(json_object_get(m, "clientId"), COMETD_ID_LEN);
	json_t *id = json_object_get(m, "id");
	struct client *cl;

	if (ch == NULL)
		return json_pack("{s:O*,s:s,s:b}", "id", id, "error", "400::Missing or invalid channel", "successful", 0);
	if (strcmp(ch, "/meta/handshake") == 0)
		return do_handshake(emu, m, now);
	cl = find(c, cid);
	if (strncmp(ch, "/meta/", 6) != 0)
		return failure(cl ? cl->id : NULL, ch, id, NULL, "403::Publish denied");
	if (strcmp(ch, "/meta/connect") == 0 || strcmp(ch, "/meta/subscribe") == 0 ||
	    strcmp(ch, "/meta/unsubscribe") == 0 || strcmp(ch, "/meta/disconnect") == 0) {
		if (cl == NULL)
			return unknown_client(ch, id);
		cl->seen_ms = now;
	} else
		return failure(cl ? cl->id : NULL, ch, id, NULL, "404::Unknown channel");

	if (strcmp(ch, "/meta/connect") == 0) {
		json_t *adv = json_object_get(m, "advice");
		if (cn->active && !connect_now(c, replies, cn))
			return NULL;
		cn->active = true;
		cn->idx = json_array_size(replies);
		memcpy(cn->id, cl->id, sizeof(cn->id));
		cn->msgid = id;
		cn->gen = ++cl->gen;
		cn->timeout = json_is_integer(json_object_get(adv, "timeout")) ?
		    (long long)json_integer_value(json_object_get(adv, "timeout")) : -1;
		if (cn->timeout < -1)
			cn->timeout = -1;
		/* An older connect of this client still held returns now. */
		pthread_cond_broadcast(&emu->ev_cond);
		return json_null();   /* placeholder */
	}
	if (strcmp(ch, "/meta/subscribe") == 0) {
		json_t *r = do_subscribe(emu, m, cl);
		/* A held connect of this client may now have events to deliver. */
		pthread_cond_broadcast(&emu->ev_cond);
		return r;
	}
	if (strcmp(ch, "/meta/unsubscribe") == 0)
		return do_unsubscribe(m, cl);
	/* /meta/disconnect */
	{
		json_t *r = json_pack("{s:s,s:s,s:O*,s:b}", "clientId", cl->id, "channel", "/meta/disconnect",
		    "id", id, "successful", 1);
		if (r != NULL) {
			drop(c, cl);
			pthread_cond_broadcast(&emu->ev_cond);
		}
		return r;
	}
}

cs_err
cometd_process(struct emu *emu, json_t *msgs, json_t **replies)
{
	struct conn cn;
	json_t *out = json_array();
	int64_t now;
	cs_err err = CS_OK;

	*replies = NULL;
	if (out == NULL)
		return CS_ENOMEM;
	memset(&cn, 0, sizeof(cn));
	emu_lock(emu);
	now = cs_time_mono_ms();
	sweep(emu->cometd, now);
	emu_events_expire(emu, cs_time_now_ms());
	for (size_t i = 0; i < json_array_size(msgs) && err == CS_OK; i++) {
		json_t *m = json_array_get(msgs, i);
		json_t *r = json_is_object(m) ? one(emu, m, out, &cn, now) :
		    json_pack("{s:s,s:b}", "error", "400::Message is not an object", "successful", 0);
		if (!push(out, r))
			err = CS_ENOMEM;
	}
	if (err == CS_OK && cn.active)
		err = connect_finish(emu, out, &cn);
	emu_unlock(emu);
	if (err != CS_OK) {
		json_decref(out);
		return err;
	}
	*replies = out;
	return CS_OK;
}

/* ---- parsing ---- */

/* Finds the "message" field of a URL-encoded form and decodes it into a new buffer. */
static cs_err
form_message(const char *p, size_t len, char **out, size_t *outlen, struct cs_error *e)
{
	size_t i = 0;

	*out = NULL;
	while (i < len) {
		size_t st = i, eq;
		while (i < len && p[i] != '&')
			i++;
		for (eq = st; eq < i && p[eq] != '='; eq++)
			;
		if (eq - st == 7 && memcmp(p + st, "message", 7) == 0 && eq < i) {
			size_t n = i - eq - 1;
			char *buf = malloc(n + 1);
			long got;
			if (buf == NULL)
				return cs_error_set(e, CS_ENOMEM, "out of memory");
			if ((got = http_url_decode(p + eq + 1, n, buf, n + 1, true)) < 0) {
				free(buf);
				return cs_error_set(e, CS_EPARSE, "malformed percent-encoding in the message field");
			}
			*out = buf;
			*outlen = (size_t)got;
			return CS_OK;
		}
		i++;
	}
	return cs_error_set(e, CS_EPARSE, "form body without a message field");
}

cs_err
cometd_parse_messages(const char *p, size_t len, bool form, json_t **out, struct cs_error *e)
{
	char *dec = NULL;
	json_t *v = NULL;
	cs_err err;

	*out = NULL;
	if (len > COMETD_MAX_BODY)
		return cs_error_set(e, CS_ETOOBIG, "Bayeux request over %d bytes", COMETD_MAX_BODY);
	if (form) {
		if ((err = form_message(p, len, &dec, &len, e)) != CS_OK)
			return err;
		p = dec;
	}
	if ((err = cs_json_parse(p, len, &v, e)) != CS_OK)
		goto out;
	if (json_is_object(v)) {
		json_t *a = json_array();
		if (a == NULL || json_array_append_new(a, v) != 0) {
			json_decref(a);
			v = NULL;
			err = cs_error_set(e, CS_ENOMEM, "out of memory");
			goto out;
		}
		v = a;
	}
	if (!json_is_array(v)) {
		err = cs_error_set(e, CS_EPARSE, "Bayeux messages must be a JSON array of objects");
		goto out;
	}
	if (json_array_size(v) == 0) {
		err = cs_error_set(e, CS_EPARSE, "empty Bayeux message array");
		goto out;
	}
	if (json_array_size(v) > COMETD_MAX_MESSAGES) {
		err = cs_error_set(e, CS_ETOOBIG, "more than %d Bayeux messages in one request", COMETD_MAX_MESSAGES);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(v); i++)
		if (!json_is_object(json_array_get(v, i))) {
			err = cs_error_set(e, CS_EPARSE, "Bayeux message %zu is not an object", i);
			goto out;
		}
	*out = v;
	v = NULL;
out:
	json_decref(v);
	free(dec);
	return err;
}

/* ---- registry lifecycle and controls ---- */

cs_err
cometd_init(struct emu *emu)
{
	struct cometd *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return CS_ENOMEM;
	for (size_t i = 0; i < NSETTINGS; i++)
		*setting_ptr(c, &settings[i]) = settings[i].dflt;
	emu->cometd = c;
	return CS_OK;
}

void
cometd_cleanup(struct emu *emu)
{
	struct cometd *c = emu->cometd;

	if (c == NULL)
		return;
	while (c->nclients > 0)
		drop_at(c, c->nclients - 1);
	free(c);
	emu->cometd = NULL;
}

void
cometd_reset(struct emu *emu)
{
	/* Settings are configuration, like the retention window: a reset keeps them. */
	cometd_expire_clients(emu);
}

size_t
cometd_expire_clients(struct emu *emu)
{
	struct cometd *c = emu->cometd;
	size_t n = c->nclients;

	while (c->nclients > 0)
		drop_at(c, c->nclients - 1);
	pthread_cond_broadcast(&emu->ev_cond);
	return n;
}

size_t
cometd_expire_events(struct emu *emu)
{
	size_t before = emu->nevents;
	int64_t newest;

	if (before == 0)
		return 0;
	newest = emu->events[before - 1].published_ms;
	/* emu_events_expire drops what was published before now - retention. */
	emu_events_expire(emu, newest + emu->o.retention_ms + 1);
	pthread_cond_broadcast(&emu->ev_cond);
	return before - emu->nevents;
}

cs_err
cometd_configure(struct emu *emu, const json_t *in, struct cs_error *e)
{
	long long val[NSETTINGS];
	bool set[NSETTINGS] = { false };
	const char *key;
	json_t *v;

	if (!json_is_object(in))
		return cs_error_set(e, CS_EINVAL, "streaming settings must be a JSON object");
	json_object_foreach((json_t *)in, key, v) {
		size_t i;
		for (i = 0; i < NSETTINGS && strcmp(settings[i].name, key) != 0; i++)
			;
		if (i == NSETTINGS)
			return cs_error_set(e, CS_EINVAL, "unknown streaming setting '%.64s'", key);
		if (!json_is_integer(v) || json_integer_value(v) < settings[i].min ||
		    json_integer_value(v) > settings[i].max)
			return cs_error_set(e, CS_EINVAL, "%s must be an integer from %lld to %lld",
			    settings[i].name, settings[i].min, settings[i].max);
		val[i] = (long long)json_integer_value(v);
		set[i] = true;
	}
	for (size_t i = 0; i < NSETTINGS; i++)
		if (set[i])
			*setting_ptr(emu->cometd, &settings[i]) = val[i];
	pthread_cond_broadcast(&emu->ev_cond);
	return CS_OK;
}

json_t *
cometd_state(struct emu *emu)
{
	struct cometd *c = emu->cometd;
	int64_t now = cs_time_mono_ms();
	json_t *st = json_object(), *cls = json_array();

	if (st == NULL || cls == NULL || json_object_set_new(st, "clients", cls) != 0) {
		json_decref(st);
		json_decref(cls);
		return NULL;
	}
	for (size_t i = 0; i < NSETTINGS; i++)
		if (json_object_set_new(st, settings[i].name, json_integer(*setting_ptr(c, &settings[i]))) != 0)
			goto fail;
	for (size_t i = 0; i < c->nclients; i++) {
		const struct client *cl = c->clients[i];
		json_t *subs = json_array();
		if (!push(cls, json_pack("{s:s,s:b,s:b,s:I,s:o}", "clientId", cl->id, "connected", cl->connected,
		    "held", cl->held > 0, "idle_ms", (json_int_t)(now - cl->seen_ms), "subscriptions", subs)))
			goto fail;
		for (size_t k = 0; k < cl->nsubs; k++) {
			const struct sub *s = &cl->subs[k];
			json_t *cur = s->cursor == CURSOR_START ? json_null() : json_integer(s->cursor);
			if (!push(subs, json_pack("{s:s,s:o}", "channel", s->channel, "cursor", cur)))
				goto fail;
		}
	}
	return st;
fail:
	json_decref(st);
	return NULL;
}

/* ---- HTTP ---- */

static void
fail_json(struct http_resp *rs, int status, const char *error)
{
	http_resp_json(rs, status, json_pack("[{s:s,s:b}]", "error", error, "successful", 0));
}

/* True when the Cookie header already carries the browser cookie. */
static bool
has_cookie(const char *hdr)
{
	size_t n = hdr ? strnlen(hdr, MAX_COOKIE_HEADER) : 0;

	for (size_t i = 0; i < n;) {
		while (i < n && (hdr[i] == ' ' || hdr[i] == ';'))
			i++;
		if (n - i > sizeof(COOKIE) && memcmp(hdr + i, COOKIE "=", sizeof(COOKIE)) == 0)
			return true;
		while (i < n && hdr[i] != ';')
			i++;
	}
	return false;
}

static void
set_cookie(struct http_req *rq, struct http_resp *rs)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[10];
	char v[sizeof(COOKIE) + 64];
	char val[21];

	if (has_cookie(http_req_header(rq, "Cookie")))
		return;
	rand_fill(r, sizeof(r));
	for (size_t i = 0; i < sizeof(r); i++) {
		val[2 * i] = hex[r[i] >> 4];
		val[2 * i + 1] = hex[r[i] & 15];
	}
	val[20] = '\0';
	snprintf(v, sizeof(v), COOKIE "=%s; Path=/", val);
	http_resp_header(rs, "Set-Cookie", v);
}

/* A form body carries the JSON in its "message" field. A body that starts like JSON is read
 * as JSON whatever its Content-Type says: command-line clients label JSON as a form. */
static bool
is_form(struct http_req *rq)
{
	const char *ct = http_req_header(rq, "Content-Type");
	size_t i = 0;

	while (i < rq->body_len && (rq->body[i] == ' ' || rq->body[i] == '\t' || rq->body[i] == '\r' ||
	    rq->body[i] == '\n'))
		i++;
	if (i < rq->body_len && (rq->body[i] == '[' || rq->body[i] == '{'))
		return false;
	return ct != NULL && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

/* Answers what cannot be a Bayeux POST; true when it did. */
static bool
reject(struct http_req *rq, struct http_resp *rs, int version)
{
	if (strcmp(rq->method, "POST") != 0) {
		const char *up = http_req_header(rq, "Upgrade");
		if (up != NULL && strcasecmp(up, "websocket") == 0)
			fail_json(rs, 400, "400::WebSocket is not supported, use long-polling");
		else if (strcmp(rq->method, "GET") == 0)
			fail_json(rs, 400, "400::Bayeux messages must be POSTed");
		else {
			http_resp_header(rs, "Allow", "POST");
			fail_json(rs, 405, "405::Method not allowed");
		}
		return true;
	}
	if (version < COMETD_MIN_VERSION || version > EMU_MAX_VERSION) {
		emu_fail(rs, 404, "NOT_FOUND", "The requested resource does not exist");
		return true;
	}
	if (rq->body_too_big || rq->body_len > COMETD_MAX_BODY) {
		fail_json(rs, 413, "413::Maximum Request Size Exceeded");
		return true;
	}
	return false;
}

void
cometd_handle(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version)
{
	struct cs_error e = { 0 };
	json_t *msgs = NULL, *replies = NULL;
	char text[300];

	if (reject(rq, rs, version))
		return;
	if (cometd_parse_messages(rq->body, rq->body_len, is_form(rq), &msgs, &e) != CS_OK) {
		snprintf(text, sizeof(text), "400::%s", e.msg);
		fail_json(rs, 400, text);
		return;
	}
	if (cometd_process(emu, msgs, &replies) != CS_OK) {
		json_decref(msgs);
		fail_json(rs, 500, "500::Out of memory");
		return;
	}
	json_decref(msgs);
	set_cookie(rq, rs);
	http_resp_json(rs, 200, replies);
}

json_t *
cometd_unauthorized_replies(json_t *msgs)
{
	json_t *out = json_array();

	for (size_t i = 0; out != NULL && i < json_array_size(msgs); i++) {
		json_t *m = json_array_get(msgs, i), *id = json_object_get(m, "id");
		const char *ch = str_of(json_object_get(m, "channel"), COMETD_MAX_CHANNEL);
		json_t *r;
		if (ch != NULL && strcmp(ch, "/meta/handshake") == 0)
			r = json_pack("{s:{s:{s:s},s:b},s:{s:s},s:s,s:O*,s:s,s:b}", "ext", "sfdc", "failureReason",
			    "401::Authentication invalid", "replay", 1, "advice", "reconnect", "none",
			    "channel", ch, "id", id, "error", "403::Handshake denied", "successful", 0);
		else
			r = json_pack("{s:{s:s,s:i},s:s*,s:O*,s:s,s:b}", "advice", "reconnect", "none", "interval", 0,
			    "channel", ch, "id", id, "error", "401::Authentication invalid", "successful", 0);
		if (!push(out, r)) {
			json_decref(out);
			out = NULL;
		}
	}
	return out;
}

void
cometd_handle_unauthorized(struct emu *emu, struct http_req *rq, struct http_resp *rs)
{
	struct cs_error e = { 0 };
	json_t *msgs = NULL, *out;

	if (strcmp(rq->method, "POST") != 0 || rq->body_too_big ||
	    cometd_parse_messages(rq->body, rq->body_len, is_form(rq), &msgs, &e) != CS_OK) {
		emu_fail(rs, 401, "INVALID_SESSION_ID", "Session expired or invalid");
		return;
	}
	out = cometd_unauthorized_replies(msgs);
	json_decref(msgs);
	if (out == NULL) {
		fail_json(rs, 500, "500::Out of memory");
		return;
	}
	set_cookie(rq, rs);
	http_resp_json(rs, 200, out);
}

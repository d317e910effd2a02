/* cometd.c - a Bayeux long-polling client for Change Data Capture with durable replay ids. */
#include "salesforce/sf_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#define CHANNEL_MAX 128
#define ADVICE_TIMEOUT_MS 110000L       /* Salesforce's hold until told otherwise */
#define SUBS_PER_POST 16
#define AUTH_TRIES 3                    /* fresh tokens refused in a row before giving up */
#define REPLAY_TRIES 3

struct chan {
	char name[CHANNEL_MAX];
	long long replay;             /* last stored id, or -1 / -2 */
	unsigned invalid;             /* invalid-replay answers since the last good subscribe */
	bool subscribed_once;
	bool told;                    /* resumed_without_position called for the subscribe under way */
};

struct sf_stream {
	struct sf_org *org;
	struct sf_stream_config cfg;
	struct sf_stream_handlers h;
	struct http_client *auth_http;
	CURL *curl;
	struct chan ch[SF_MAX_STREAM_CHANNELS];
	size_t nch;
	char client_id[128];
	unsigned long long msg_id;
	long advice_timeout, advice_interval;
	struct sf_session sess;
	uint64_t rnd;
	const atomic_int *stop;
	bool stopping;                /* the final disconnect: not aborted by the stop flag */
	pthread_mutex_t mu;           /* guards stats and ch[].replay for readers in other threads */
	struct sf_stream_stats stats;
};

enum step { ST_HANDSHAKE, ST_SUBSCRIBE, ST_CONNECT };

/* Outcome of reading a Bayeux failure. */
enum fault { F_NONE, F_RETRY, F_HANDSHAKE, F_AUTH, F_REPLAY, F_FATAL };

cs_err
sf_stream_new(struct sf_org *org, const struct sf_stream_config *cfg, const struct sf_stream_handlers *h,
    struct sf_stream **out)
{
	struct sf_stream *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CS_ENOMEM;
	/* http_client_new runs curl_global_init (once per process) before our own handle exists */
	if (http_client_new(&s->auth_http) != CS_OK || (s->curl = curl_easy_init()) == NULL) {
		http_client_free(s->auth_http);
		free(s);
		return CS_ENOMEM;
	}
	s->org = org;
	if (cfg != NULL)
		s->cfg = *cfg;
	if (s->cfg.connect_timeout_ms <= 0)
		s->cfg.connect_timeout_ms = 30000;
	if (s->cfg.max_response == 0)
		s->cfg.max_response = 32u << 20;
	if (s->cfg.max_events == 0)
		s->cfg.max_events = 2000;
	if (s->cfg.backoff.base_ms <= 0)
		s->cfg.backoff.base_ms = 500;
	if (s->cfg.backoff.cap_ms <= 0)
		s->cfg.backoff.cap_ms = 30000;
	s->h = *h;
	s->advice_timeout = ADVICE_TIMEOUT_MS;
	s->rnd = (uint64_t)cs_time_mono_ms() ^ (uint64_t)(uintptr_t)s;
	pthread_mutex_init(&s->mu, NULL);
	/* an in-memory cookie jar: Salesforce pins a client to its server with cookies */
	curl_easy_setopt(s->curl, CURLOPT_COOKIEFILE, "");
	*out = s;
	return CS_OK;
}

void
sf_stream_free(struct sf_stream *s)
{
	if (s == NULL)
		return;
	curl_easy_cleanup(s->curl);
	http_client_free(s->auth_http);
	memset(s->sess.token, 0, sizeof(s->sess.token));
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static bool
channel_ok(const char *c)
{
	size_t n = c ? strlen(c) : 0;

	if (n < 7 || n >= CHANNEL_MAX || c[0] != '/' || strncmp(c, "/meta/", 6) == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= 'A' && c[i] <= 'Z') || (c[i] >= '0' && c[i] <= '9') ||
		    c[i] == '_' || c[i] == '/'))
			return false;
	return true;
}

static struct chan *
find_chan(struct sf_stream *s, const char *name)
{
	for (size_t i = 0; i < s->nch; i++)
		if (strcmp(s->ch[i].name, name) == 0)
			return &s->ch[i];
	return NULL;
}

cs_err
sf_stream_subscribe(struct sf_stream *s, const char *channel, long long replay_id)
{
	if (!channel_ok(channel) || replay_id < -2)
		return CS_EINVAL;
	if (find_chan(s, channel) != NULL)
		return CS_EEXIST;
	if (s->nch >= SF_MAX_STREAM_CHANNELS)
		return CS_ETOOBIG;
	sf_copy(s->ch[s->nch].name, CHANNEL_MAX, channel);
	s->ch[s->nch].replay = replay_id;
	s->nch++;
	return CS_OK;
}

cs_err
sf_stream_mark_resumed(struct sf_stream *s, const char *channel)
{
	struct chan *c = find_chan(s, channel);

	if (c == NULL)
		return CS_ENOTFOUND;
	c->subscribed_once = true;
	return CS_OK;
}

long long
sf_stream_replay_id(struct sf_stream *s, const char *channel)
{
	long long r = -1;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nch; i++)
		if (strcmp(s->ch[i].name, channel) == 0)
			r = s->ch[i].replay;
	pthread_mutex_unlock(&s->mu);
	return r;
}

void
sf_stream_stats(struct sf_stream *s, struct sf_stream_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	pthread_mutex_unlock(&s->mu);
}

#define STAT(s, f) do { pthread_mutex_lock(&(s)->mu); (s)->stats.f++; pthread_mutex_unlock(&(s)->mu); } while (0)

/* Records whether the stream is connected, and since when, for status pages. */
static void
set_connected(struct sf_stream *s, bool up)
{
	pthread_mutex_lock(&s->mu);
	if (s->stats.connected != up || (up && s->stats.since_ms == 0)) {
		s->stats.connected = up;
		s->stats.since_ms = cs_time_now_ms();
	}
	pthread_mutex_unlock(&s->mu);
}

bool
sf_origin_is_client(const char *origin, const char *name)
{
	size_t nl = name ? strlen(name) : 0;
	const char *p = origin;

	if (p == NULL || nl == 0)
		return false;
	/* "com/salesforce/api/rest/62.0;client=NAME", parts separated by ';' or ',' */
	while (*p) {
		const char *end = p + strcspn(p, ";,");
		const char *q = p;

		while (q < end && *q == ' ')
			q++;
		if ((size_t)(end - q) >= 7 + nl && strncmp(q, "client=", 7) == 0) {
			const char *v = q + 7, *ve = end;
			while (ve > v && ve[-1] == ' ')
				ve--;
			if ((size_t)(ve - v) == nl && memcmp(v, name, nl) == 0)
				return true;
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

/* --- transport --------------------------------------------------------------------------- */

static size_t
body_cb(char *p, size_t sz, size_t n, void *ud)
{
	return cs_buf_append(ud, p, sz * n) == CS_OK ? sz * n : 0;
}

static int
progress_cb(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct sf_stream *s = ud;
	/* the long poll is abandoned when asked to stop; events it might have carried are not lost:
	 * nothing was stored for them, so the next run replays them */
	return !s->stopping && s->stop != NULL && atomic_load(s->stop) ? 1 : 0;
}

/* POSTs msgs to the Bayeux endpoint. CS_OK with *replies (a new array) when the server answered
 * 200 with Bayeux messages; CS_EAUTH for an HTTP 401; CS_ESTATE when stopped; other failures
 * fill e (transient for the network and 5xx). */
static cs_err
post(struct sf_stream *s, json_t *msgs, long timeout_ms, json_t **replies, struct sf_error *e)
{
	struct cs_buf body, url, auth, resp;
	struct curl_slist *hl = NULL;
	CURLcode rc;
	long status = 0;
	cs_err err = CS_OK;
	json_t *v = NULL;
	struct cs_error je;

	*replies = NULL;
	cs_buf_init(&body, 1u << 20);
	cs_buf_init(&url, SF_URL_MAX);
	cs_buf_init(&auth, SF_TOKEN_MAX + 64);
	cs_buf_init(&resp, s->cfg.max_response);
	if ((err = sf_session_get_with(s->org, s->auth_http, &s->sess, e)) != CS_OK)
		goto out;
	if (cs_json_dump(msgs, &body) != CS_OK ||
	    cs_buf_printf(&url, "%s/cometd/%s", s->sess.instance, s->org->api_version) != CS_OK ||
	    cs_buf_printf(&auth, "Authorization: Bearer %s", s->sess.token) != CS_OK) {
		err = sf_fail(e, CS_ETOOBIG, false, "streaming request too large");
		goto out;
	}
	if ((hl = curl_slist_append(hl, auth.data)) == NULL ||
	    (hl = curl_slist_append(hl, "Content-Type: application/json")) == NULL ||
	    (hl = curl_slist_append(hl, "Accept: application/json")) == NULL ||
	    (hl = curl_slist_append(hl, "Expect:")) == NULL) {
		err = sf_fail(e, CS_ENOMEM, false, "out of memory");
		goto out;
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, url.data);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(s->curl, CURLOPT_ACCEPT_ENCODING, "");
	rc = curl_easy_perform(s->curl);
	/* the header list holds the token: drop the handle's pointer to it before freeing */
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		err = sf_fail(e, CS_ESTATE, false, "stopped");
		goto out;
	}
	if (rc != CURLE_OK) {
		err = sf_fail(e, rc == CURLE_OPERATION_TIMEDOUT ? CS_ETIMEOUT : rc == CURLE_WRITE_ERROR ? CS_ETOOBIG : CS_ENET,
		    true, "streaming %s: %s", url.data, curl_easy_strerror(rc));
		goto out;
	}
	/* an answer may echo the request (an error page, a proxy): the token never reaches a
	 * message or an event, nor do the org's other secrets, whatever put them in the answer */
	sf_scrub(resp.data, resp.len, s->sess.token);
	sf_scrub(resp.data, resp.len, s->org->client_secret);
	sf_scrub(resp.data, resp.len, s->org->refresh_token);
	if (status == 401) {
		sf_error_parse(e, status, resp.data, resp.len);
		err = e->err = CS_EAUTH;
		goto out;
	}
	if (status != 200) {
		sf_error_parse(e, status, resp.data, resp.len);
		err = e->err = CS_EHTTP;
		goto out;
	}
	if (cs_json_parse(resp.data ? resp.data : "", resp.len, &v, &je) != CS_OK) {
		err = sf_fail(e, CS_EPARSE, true, "streaming: unreadable response: %s", je.msg);
		goto out;
	}
	if (json_is_object(v)) {
		json_t *a = json_array();
		if (a == NULL || json_array_append_new(a, v) != 0) {
			json_decref(a);
			json_decref(v);
			err = sf_fail(e, CS_ENOMEM, false, "out of memory");
			goto out;
		}
		v = a;
	}
	if (!json_is_array(v) || json_array_size(v) > s->cfg.max_events + SUBS_PER_POST) {
		/* the kind of failure is read before v is released */
		err = sf_fail(e, json_is_array(v) ? CS_ETOOBIG : CS_EPARSE, true, "streaming: response not a message array or too long");
		json_decref(v);
		goto out;
	}
	*replies = v;
out:
	curl_slist_free_all(hl);
	if (auth.data)
		memset(auth.data, 0, auth.len);
	cs_buf_cleanup(&body);
	cs_buf_cleanup(&url);
	cs_buf_cleanup(&auth);
	cs_buf_cleanup(&resp);
	return err;
}

static json_t *
meta(struct sf_stream *s, const char *channel)
{
	char id[24];

	snprintf(id, sizeof(id), "%llu", ++s->msg_id);
	return json_pack("{s:s,s:s}", "channel", channel, "id", id);
}

/* Reads a failed meta reply: what to do next. */
static enum fault
fault_of(const json_t *r)
{
	const char *err = cs_json_get_str(r, "error");
	const char *why = cs_json_get_str(json_object_get(json_object_get(r, "ext"), "sfdc"), "failureReason");
	const char *adv = cs_json_get_str(json_object_get(r, "advice"), "reconnect");

	if (err == NULL)
		err = "";
	if (strncmp(err, "401", 3) == 0 || (why != NULL && strncmp(why, "401", 3) == 0))
		return F_AUTH;
	if (strstr(err, "The replayId") != NULL)
		return F_REPLAY;
	if (strncmp(err, "403::Unknown client", 19) == 0 || (adv != NULL && strcmp(adv, "handshake") == 0))
		return F_HANDSHAKE;
	if (strstr(err, "does not exist") != NULL)
		return F_FATAL;
	return F_RETRY;
}

static const json_t *
find_reply(const json_t *replies, const char *channel)
{
	size_t i;
	json_t *r;

	json_array_foreach(replies, i, r) {
		const char *c = cs_json_get_str(r, "channel");
		if (c != NULL && strcmp(c, channel) == 0)
			return r;
	}
	return NULL;
}

static void
take_advice(struct sf_stream *s, const json_t *r)
{
	json_t *a = json_object_get(r, "advice");

	if (!json_is_object(a))
		return;
	if (json_is_integer(json_object_get(a, "timeout"))) {
		long long t = json_integer_value(json_object_get(a, "timeout"));
		s->advice_timeout = t >= 0 && t <= 600000 ? (long)t : ADVICE_TIMEOUT_MS;
	}
	if (json_is_integer(json_object_get(a, "interval"))) {
		long long t = json_integer_value(json_object_get(a, "interval"));
		s->advice_interval = t >= 0 && t <= 600000 ? (long)t : 0;
	}
}

static enum fault
handshake(struct sf_stream *s, struct sf_error *e)
{
	json_t *m = meta(s, "/meta/handshake"), *msgs = NULL, *replies = NULL;
	const json_t *r;
	enum fault f = F_NONE;
	cs_err err;

	if (m == NULL || json_object_set_new(m, "version", json_string("1.0")) != 0 ||
	    json_object_set_new(m, "minimumVersion", json_string("1.0")) != 0 ||
	    json_object_set_new(m, "supportedConnectionTypes", json_pack("[s]", "long-polling")) != 0 ||
	    json_object_set_new(m, "ext", json_pack("{s:b}", "replay", 1)) != 0 ||
	    (msgs = json_array()) == NULL || json_array_append(msgs, m) != 0) {
		sf_fail(e, CS_ENOMEM, true, "out of memory");
		f = F_RETRY;
		goto out;
	}
	STAT(s, handshakes);
	err = post(s, msgs, s->cfg.connect_timeout_ms, &replies, e);
	if (err != CS_OK) {
		f = err == CS_EAUTH ? F_AUTH : err == CS_ESTATE ? F_NONE : F_RETRY;
		goto out;
	}
	r = find_reply(replies, "/meta/handshake");
	if (r == NULL || !cs_json_get_bool(r, "successful", false) || cs_json_get_str(r, "clientId") == NULL ||
	    strlen(cs_json_get_str(r, "clientId")) >= sizeof(s->client_id)) {
		f = r ? fault_of(r) : F_RETRY;
		if (f == F_HANDSHAKE || f == F_REPLAY || f == F_FATAL)
			f = F_RETRY;
		sf_fail(e, f == F_AUTH ? CS_EAUTH : CS_EHTTP, true, "handshake refused: %s",
		    r && cs_json_get_str(r, "error") ? cs_json_get_str(r, "error") : "no reply");
		goto out;
	}
	sf_copy(s->client_id, sizeof(s->client_id), cs_json_get_str(r, "clientId"));
	s->advice_interval = 0;
	take_advice(s, r);
out:
	json_decref(m);
	json_decref(msgs);
	json_decref(replies);
	return f;
}

/* Subscribes every channel from its stored replay id. */
static enum fault
subscribe(struct sf_stream *s, struct sf_error *e)
{
	for (size_t at = 0; at < s->nch;) {
		size_t k = s->nch - at < SUBS_PER_POST ? s->nch - at : SUBS_PER_POST;
		json_t *msgs = json_array(), *replies = NULL;
		bool again = false;
		enum fault f = F_NONE;
		cs_err err;

		for (size_t i = 0; msgs != NULL && i < k; i++) {
			struct chan *c = &s->ch[at + i];
			json_t *m;

			/* -1 again after an outage: what happened meanwhile would not be replayed, so
			 * the caller is told first, once, and may ask for every retained event */
			if (c->subscribed_once && c->replay == -1 && !c->told && s->h.resumed_without_position != NULL) {
				long long resume = -1;

				c->told = true;
				s->h.resumed_without_position(s->h.ud, c->name, &resume);
				if (resume == -2) {
					pthread_mutex_lock(&s->mu);
					c->replay = -2;
					pthread_mutex_unlock(&s->mu);
				}
			}
			m = meta(s, "/meta/subscribe");

			if (m == NULL || json_object_set_new(m, "clientId", json_string(s->client_id)) != 0 ||
			    json_object_set_new(m, "subscription", json_string(c->name)) != 0 ||
			    json_object_set_new(m, "ext", json_pack("{s:{s:I}}", "replay", c->name, (json_int_t)c->replay)) != 0 ||
			    json_array_append_new(msgs, m) != 0) {
				json_decref(m);
				json_decref(msgs);
				msgs = NULL;
			}
		}
		if (msgs == NULL) {
			sf_fail(e, CS_ENOMEM, true, "out of memory");
			return F_RETRY;
		}
		err = post(s, msgs, s->cfg.connect_timeout_ms, &replies, e);
		json_decref(msgs);
		if (err != CS_OK)
			return err == CS_EAUTH ? F_AUTH : err == CS_ESTATE ? F_NONE : F_RETRY;
		for (size_t i = 0; i < json_array_size(replies) && f == F_NONE; i++) {
			const json_t *r = json_array_get(replies, i);
			const char *sub = cs_json_get_str(r, "subscription");
			struct chan *c = sub ? find_chan(s, sub) : NULL;
			enum fault rf;

			if (strcmp(cs_json_get_str(r, "channel") ? cs_json_get_str(r, "channel") : "", "/meta/subscribe") != 0)
				continue;
			if (cs_json_get_bool(r, "successful", false)) {
				if (c == NULL)
					continue;
				c->invalid = 0;
				c->told = false;
				c->subscribed_once = true;
				continue;
			}
			rf = fault_of(r);
			sf_fail(e, rf == F_AUTH ? CS_EAUTH : CS_EHTTP, rf != F_FATAL, "subscribe %s: %s", sub ? sub : "?",
			    cs_json_get_str(r, "error") ? cs_json_get_str(r, "error") : "refused");
			if (rf == F_REPLAY && c != NULL) {
				long long bad = c->replay, resume = -1;

				STAT(s, replay_invalid);
				if (++c->invalid > REPLAY_TRIES) {
					f = F_FATAL;
					break;
				}
				if (s->h.replay_invalid != NULL)
					s->h.replay_invalid(s->h.ud, c->name, bad, &resume);
				if (resume != -1 && resume != -2)
					resume = -1;
				log_warn("sf.stream", "org=%s channel=%s replay id %lld is no longer valid; resuming with %s",
				    s->org->name, c->name, bad, resume == -2 ? "every event retained" : "new events");
				pthread_mutex_lock(&s->mu);
				c->replay = resume;
				pthread_mutex_unlock(&s->mu);
				again = true;
			} else if (rf == F_FATAL || (rf == F_REPLAY && c == NULL))
				f = F_FATAL;
			else
				f = rf;
		}
		json_decref(replies);
		if (f != F_NONE)
			return f;
		/* the batch is subscribed all or nothing: after an invalid replay id send it again */
		if (!again)
			at += k;
	}
	return F_NONE;
}

/* Event message m is stored: the stream's position moves past it. */
static void
stored(struct sf_stream *s, const json_t *m)
{
	const char *channel = cs_json_get_str(m, "channel");
	json_t *rid = json_object_get(json_object_get(json_object_get(m, "data"), "event"), "replayId");
	struct chan *c = channel ? find_chan(s, channel) : NULL;

	if (c == NULL || !json_is_integer(rid))
		return;
	pthread_mutex_lock(&s->mu);
	c->replay = (long long)json_integer_value(rid);
	s->stats.events++;
	pthread_mutex_unlock(&s->mu);
}

/* Delivers one event message; false when the caller could not store it. */
static bool
deliver(struct sf_stream *s, const json_t *m)
{
	const char *channel = cs_json_get_str(m, "channel");
	json_t *data = json_object_get(m, "data");
	json_t *payload = json_object_get(data, "payload");
	json_t *hdr = json_object_get(payload, "ChangeEventHeader");
	json_t *rid = json_object_get(json_object_get(data, "event"), "replayId");
	struct chan *c = channel ? find_chan(s, channel) : NULL;
	struct sf_event ev;
	const char *ct;

	if (c == NULL || !json_is_integer(rid)) {
		log_warn("sf.stream", "org=%s ignoring a message on %s without a replay id or subscription", s->org->name,
		    channel ? channel : "?");
		return true;
	}
	memset(&ev, 0, sizeof(ev));
	ev.channel = channel;
	ev.replay_id = (long long)json_integer_value(rid);
	ct = cs_json_get_str(hdr, "changeType");
	ev.change_type = ct ? ct : "";
	ev.entity = cs_json_get_str(hdr, "entityName") ? cs_json_get_str(hdr, "entityName") : "";
	ev.change_origin = cs_json_get_str(hdr, "changeOrigin") ? cs_json_get_str(hdr, "changeOrigin") : "";
	ev.ours = sf_origin_is_client(ev.change_origin, s->org->client_name);
	ev.kind = strcmp(ev.change_type, "GAP_OVERFLOW") == 0 ? SF_EVENT_OVERFLOW :
	    strncmp(ev.change_type, "GAP_", 4) == 0 ? SF_EVENT_GAP : SF_EVENT_CHANGE;
	ev.header = json_is_object(hdr) ? hdr : NULL;
	ev.payload = payload;
	if (s->h.event(s->h.ud, &ev) != 0)
		return false;
	if (s->h.flush == NULL)
		stored(s, m);
	return true;
}

/* The events of replies from index from on, in the order sent: each is offered to the handler;
 * false when one could not be stored (*from is then that event, when no flush is set: the
 * handler kept the ones before it). */
static bool
deliver_all(struct sf_stream *s, const json_t *replies, size_t *from)
{
	size_t i;

	for (i = *from; i < json_array_size(replies); i++) {
		const json_t *x = json_array_get(replies, i);
		const char *ch = cs_json_get_str(x, "channel");

		if (ch == NULL || strncmp(ch, "/meta/", 6) == 0)
			continue;
		if (!deliver(s, x)) {
			if (s->h.flush == NULL)
				*from = i;
			return false;
		}
	}
	return true;
}

static enum fault
connect_once(struct sf_stream *s, struct sf_error *e)
{
	json_t *m = meta(s, "/meta/connect"), *msgs = json_array(), *replies = NULL;
	const json_t *r = NULL;
	enum fault f = F_NONE;
	size_t i, from = 0;
	json_t *x;
	cs_err err;

	if (m == NULL || msgs == NULL || json_object_set_new(m, "clientId", json_string(s->client_id)) != 0 ||
	    json_object_set_new(m, "connectionType", json_string("long-polling")) != 0 || json_array_append(msgs, m) != 0) {
		json_decref(m);
		json_decref(msgs);
		sf_fail(e, CS_ENOMEM, true, "out of memory");
		return F_RETRY;
	}
	STAT(s, connects);
	err = post(s, msgs, s->advice_timeout + s->cfg.connect_timeout_ms, &replies, e);
	json_decref(m);
	json_decref(msgs);
	if (err != CS_OK)
		return err == CS_EAUTH ? F_AUTH : err == CS_ESTATE ? F_NONE : F_RETRY;
	json_array_foreach(replies, i, x) {
		const char *ch = cs_json_get_str(x, "channel");

		if (ch != NULL && strcmp(ch, "/meta/connect") == 0)
			r = x;
	}
	/* Events first, in the order sent; the connect reply's verdict after. When the caller
	 * cannot store an event, it is offered again, in place, until it can (with a flush
	 * handler, the whole answer is). Skipping ahead would lose it, and re-subscribing cannot
	 * bring it back for a channel that has no stored replay id yet. If the server forgets this
	 * client meanwhile, the next connect re-subscribes from the stored ids. */
	for (unsigned tries = 1;; tries++) {
		long wait;

		/* without a flush, from moves to the event that failed; with one, it stays at 0 */
		if (deliver_all(s, replies, &from) && (s->h.flush == NULL || s->h.flush(s->h.ud) == 0))
			break;
		wait = sf_backoff_ms(&s->cfg.backoff, tries, sf_rand(&s->rnd));
		STAT(s, handler_failures);
		log_warn("sf.stream", "org=%s the event handler could not store the events received; offering them again in %ld ms",
		    s->org->name, wait);
		if (sf_sleep_ms(wait, s->stop))
			goto out;
	}
	if (s->h.flush != NULL)
		json_array_foreach(replies, i, x) {
			const char *ch = cs_json_get_str(x, "channel");
			if (ch != NULL && strncmp(ch, "/meta/", 6) != 0)
				stored(s, x);
		}
	if (r == NULL) {
		sf_fail(e, CS_EPARSE, true, "connect answered without a /meta/connect reply");
		f = F_RETRY;
	} else if (!cs_json_get_bool(r, "successful", false)) {
		f = fault_of(r);
		sf_fail(e, f == F_AUTH ? CS_EAUTH : CS_EHTTP, true, "connect refused: %s",
		    cs_json_get_str(r, "error") ? cs_json_get_str(r, "error") : "no reason");
		/* anything else (a daily event limit with reconnect none, ...): back off and retry */
		if (f == F_REPLAY || f == F_FATAL)
			f = F_RETRY;
	} else
		take_advice(s, r);
out:
	json_decref(replies);
	return f;
}

static void
disconnect(struct sf_stream *s)
{
	json_t *m, *msgs, *replies = NULL;
	struct sf_error e;

	if (s->client_id[0] == '\0')
		return;
	m = meta(s, "/meta/disconnect");
	msgs = json_array();
	if (m != NULL && msgs != NULL && json_object_set_new(m, "clientId", json_string(s->client_id)) == 0 &&
	    json_array_append(msgs, m) == 0) {
		s->stopping = true;
		post(s, msgs, 2000, &replies, &e);
		s->stopping = false;
	}
	json_decref(replies);
	json_decref(m);
	json_decref(msgs);
	s->client_id[0] = '\0';
}

cs_err
sf_stream_run(struct sf_stream *s, const atomic_int *stop, struct sf_error *e)
{
	enum step st = ST_HANDSHAKE;
	unsigned failures = 0, auth_fails = 0;
	cs_err ret = CS_OK;

	sf_error_clear(e);
	s->stop = stop;
	if (s->nch == 0)
		return sf_fail(e, CS_EINVAL, false, "no channel to subscribe to");
	while (!atomic_load(stop)) {
		enum fault f;

		if (st == ST_HANDSHAKE)
			f = handshake(s, e);
		else if (st == ST_SUBSCRIBE)
			f = subscribe(s, e);
		else
			f = connect_once(s, e);
		if (atomic_load(stop))
			break;
		switch (f) {
		case F_NONE:
			sf_org_auth_ok(s->org);
			if (st == ST_HANDSHAKE)
				st = ST_SUBSCRIBE;
			else if (st == ST_SUBSCRIBE) {
				st = ST_CONNECT;
				log_info("sf.stream", "org=%s subscribed to %zu channels", s->org->name, s->nch);
			} else {
				set_connected(s, true);
				failures = 0;
				auth_fails = 0;
				if (s->advice_interval > 0)
					sf_sleep_ms(s->advice_interval, stop);
			}
			continue;
		case F_HANDSHAKE:
			if (st == ST_CONNECT || st == ST_SUBSCRIBE) {
				STAT(s, unknown_client);
				log_info("sf.stream", "org=%s %s; handshaking again", s->org->name, e->message);
			}
			s->client_id[0] = '\0';
			st = ST_HANDSHAKE;
			continue;
		case F_AUTH:
			if (++auth_fails > AUTH_TRIES) {
				ret = sf_fail(e, CS_EAUTH, false, "org %s: streaming refused our credentials: %s", s->org->name,
				    e->message);
				sf_org_auth_failed(s->org, e->message);
				goto out;
			}
			STAT(s, auth_refreshes);
			log_info("sf.stream", "org=%s %s; renewing the token", s->org->name, e->message);
			sf_session_invalidate(s->org, s->sess.gen);
			s->client_id[0] = '\0';
			st = ST_HANDSHAKE;
			if (auth_fails == 1)
				continue;
			break;
		case F_FATAL:
			ret = sf_fail(e, CS_EINVAL, false, "org %s: %s", s->org->name, e->message);
			goto out;
		case F_REPLAY:
		case F_RETRY:
			break;
		}
		/* a login refused outright will not get better by retrying */
		if (e->err == CS_EAUTH && f != F_AUTH && !e->transient) {
			ret = e->err;
			goto out;
		}
		failures++;
		set_connected(s, false);
		STAT(s, reconnects);
		{
			long wait = sf_backoff_ms(&s->cfg.backoff, failures, sf_rand(&s->rnd));
			log_warn("sf.stream", "org=%s %s; retrying in %ld ms", s->org->name, e->message, wait);
			sf_sleep_ms(wait, stop);
		}
	}
out:
	set_connected(s, false);
	disconnect(s);
	if (ret == CS_OK)
		sf_error_clear(e);
	return ret;
}

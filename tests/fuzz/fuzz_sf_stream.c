/* fuzz_sf_stream.c - libFuzzer target for the CometD (Bayeux) client of Change Data Capture
 * reading Salesforce's answers: handshake, subscribe and connect replies with their advice and
 * failures (401, unknown client, invalid replay ids, channels that do not exist), the change
 * events they carry (ChangeEventHeader, replay ids, change origins, gap and overflow events), and
 * the token answers of an org that logs in again when the stream is refused.
 *
 * The stream runs (sf_stream_run) against scripted answers (scripted_curl.h: libcurl's easy
 * interface replaced, no network); once the script is spent the stream is stopped. Input: one
 * byte of options (the channels and the replay ids they resume from, whether the org logs in or
 * has a fixed token, whether the event handler refuses an event once, what the replay_invalid
 * handler answers), then the script. A reconnect interval over 10 ms is served as 0 ms: a long
 * one would only make the run sleep.
 *
 * Checked: no crash, leak or hang; each event the handler sees is on a subscribed channel, has
 * its kind from its change type and "ours" from its change origin; the replay id the stream
 * would resume from is the last one the handler stored; a run ends stopped, or with an error
 * that says why and never names a secret or token. */
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "salesforce/sf.h"
#include "util/json.h"
#include "util/log.h"

#include "scripted_curl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (128u << 10)
#define CLIENT "clmsync"
#define LOGIN_URL "https://login.example.invalid"
#define INSTANCE_URL "https://na1.example.invalid"
#define ACCESS_TOKEN "00Dfuzz!AQ-stream-Sekr1t-77f0"
#define CLIENT_SECRET "cs-stream-Sekr1t-2b9d"

static const char *const channels[] = { "/data/ContractChangeEvent", "/data/AccountChangeEvent",
	"/data/CLM_Obligation__ChangeEvent" };
#define NCHANNELS (sizeof(channels) / sizeof(channels[0]))

/* --- the handlers ---------------------------------------------------------------------------- */

struct seen {
	long long stored[NCHANNELS];    /* the last replay id stored per channel, or the start */
	unsigned nch;
	bool refuse_once, refused;
	int resume;                     /* what replay_invalid answers */
};

static int
chan_index(const struct seen *s, const char *name)
{
	for (unsigned i = 0; i < s->nch; i++)
		if (strcmp(channels[i], name) == 0)
			return (int)i;
	return -1;
}

static int
on_event(void *ud, const struct sf_event *ev)
{
	struct seen *s = ud;
	int c = ev->channel ? chan_index(s, ev->channel) : -1;

	if (c < 0 || ev->change_type == NULL || ev->entity == NULL || ev->change_origin == NULL)
		abort();
	if (ev->ours != sf_origin_is_client(ev->change_origin, CLIENT))
		abort();
	if ((ev->kind == SF_EVENT_OVERFLOW) != (strcmp(ev->change_type, "GAP_OVERFLOW") == 0) ||
	    (ev->kind == SF_EVENT_GAP) != (strncmp(ev->change_type, "GAP_", 4) == 0 && ev->kind != SF_EVENT_OVERFLOW))
		abort();
	if (ev->header != NULL && !json_is_object(ev->header))
		abort();
	/* the handler could not store it, once: the stream must offer the same event again */
	if (s->refuse_once && !s->refused) {
		s->refused = true;
		return -1;
	}
	s->stored[c] = ev->replay_id;
	return 0;
}

static void
on_replay_invalid(void *ud, const char *channel, long long bad, long long *resume)
{
	struct seen *s = ud;
	int c = chan_index(s, channel);

	if (c < 0 || *resume != -1)
		abort();
	*resume = s->resume;
	/* the stream resumes from what it says (or new events only for anything else) */
	s->stored[c] = s->resume == -2 ? -2 : -1;
}

static void
on_resumed(void *ud, const char *channel, long long *resume)
{
	struct seen *s = ud;
	int c = chan_index(s, channel);

	if (c < 0 || *resume != -1)
		abort();
	/* asks for every retained event, as the engine does, or new events only */
	*resume = s->resume == -2 ? -2 : -1;
	s->stored[c] = *resume;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long long starts[] = { -1, -2, 0, 12345 };
	static const int resumes[] = { -1, -2, 7, -9 };
	struct sf_org_config cfg;
	struct sf_stream_config sc;
	struct sf_stream_handlers h;
	struct sf_org *org = NULL;
	struct sf_stream *st = NULL;
	struct sf_error e;
	struct seen seen;
	cs_err rc;

	static bool quiet;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (!quiet) {
		cs_log_setup(getenv("FUZZ_TRACE") ? CS_LOG_DEBUG : CS_LOG_ERROR, 0);
		quiet = true;
	}
	/* options: channels (bits 0-1), their start (2-3), login (4), refuse once (5), resume (6-7) */
	memset(&seen, 0, sizeof(seen));
	seen.nch = 1 + (data[0] & 3) % NCHANNELS;
	seen.refuse_once = data[0] & 0x20;
	seen.resume = resumes[data[0] >> 6];
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "fuzz";
	cfg.login_url = LOGIN_URL;
	cfg.instance_url = INSTANCE_URL;
	cfg.api_version = "62.0";
	cfg.client_name = CLIENT;
	cfg.client_id = "3MVG9fuzz";
	cfg.retry.max_attempts = 1;
	if (data[0] & 0x10) {
		cfg.auth = SF_AUTH_CLIENT_CREDENTIALS;
		cfg.client_secret = CLIENT_SECRET;
	} else {
		cfg.auth = SF_AUTH_ACCESS_TOKEN;
		cfg.access_token = ACCESS_TOKEN;
	}
	memset(&sc, 0, sizeof(sc));
	sc.connect_timeout_ms = 5000;
	sc.max_events = 8;
	sc.backoff.base_ms = 1;
	sc.backoff.cap_ms = 1;
	memset(&h, 0, sizeof(h));
	h.event = on_event;
	h.replay_invalid = on_replay_invalid;
	h.resumed_without_position = on_resumed;
	h.ud = &seen;
	script_load((const char *)data + 1, size - 1);
	script.max_interval = 10;
	script_allow(LOGIN_URL, strlen(LOGIN_URL));
	script_allow(INSTANCE_URL, strlen(INSTANCE_URL));
	if (sf_org_new(&cfg, &org, &e) != CS_OK || sf_stream_new(org, &sc, &h, &st) != CS_OK)
		abort();
	for (unsigned i = 0; i < seen.nch; i++) {
		seen.stored[i] = starts[((data[0] >> 2) + i) & 3];
		if (sf_stream_subscribe(st, channels[i], seen.stored[i]) != CS_OK)
			abort();
	}
	rc = sf_stream_run(st, &script.stop, &e);
	/* the secrets looked for are those the org was given (and the tokens it was handed): an
	 * answer may hold any other text */
	if ((rc == CS_OK) != (e.err == CS_OK) || (rc != CS_OK && e.message[0] == '\0') ||
	    (cfg.access_token != NULL && strstr(e.message, cfg.access_token) != NULL) ||
	    (cfg.client_secret != NULL && strstr(e.message, cfg.client_secret) != NULL) ||
	    script_has_token(e.message)) {
		fprintf(stderr, "fuzz_sf_stream: run ended with %s: %s\n", cs_strerror(rc), e.message);
		abort();
	}
	if (rc != CS_OK && rc != CS_EAUTH && rc != CS_EINVAL)
		abort();
	/* the stream resumes each channel from the last event stored (or the position it was told) */
	for (unsigned i = 0; i < seen.nch; i++)
		if (sf_stream_replay_id(st, channels[i]) != seen.stored[i]) {
			fprintf(stderr, "fuzz_sf_stream: %s resumes from %lld, the last stored is %lld\n", channels[i],
			        sf_stream_replay_id(st, channels[i]), seen.stored[i]);
			abort();
		}
	sf_stream_free(st);
	sf_org_free(org);
	return 0;
}

/* fuzz_sf_response.c - libFuzzer target for the Salesforce answers the connector parses without a
 * connection: error bodies (REST, collections, OAuth, streaming), collections results, describe
 * results, Sforce-Limit-Info headers and Bayeux event origins.
 *
 * The first byte chooses the parser (low bits) and an HTTP status (high bits); the rest is the
 * body. Token success responses, query pages and Bayeux meta replies are read by static code that
 * runs only behind an HTTP call (login_locked, sf_query, connect_once): they reach this target only
 * as the error bodies those paths hand to sf_error_parse when the status is not 2xx. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "salesforce/sf_int.h"   /* sf_org_note_limits */
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64u << 10)
#define FUZZ_MAX_RECORDS (2 * SF_MAX_BATCH)
#define FUZZ_CLIENT "clmsync"

enum sel {
	SEL_ERROR,          /* REST error body (or any non-2xx body: query page, composite, ...) */
	SEL_COLLECTIONS,    /* sObject Collections result array */
	SEL_DESCRIBE,       /* /sobjects/X/describe */
	SEL_TOKEN,          /* token endpoint answer with a 4xx status */
	SEL_LIMITS,         /* Sforce-Limit-Info header value */
	SEL_BAYEUX,         /* streaming reply: error body and event changeOrigin */
	SEL_COUNT
};

static const long statuses[] = { 400, 401, 403, 404, 300, 500, 503, 420, 429, 0, 200, 999 };

static struct sf_org *org;

/* One org for the whole run, for the limit bookkeeping; never talks to the network. */
static void
start(void)
{
	struct sf_org_config cfg;
	struct sf_error e;

	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "fuzz";
	cfg.login_url = "https://login.example.invalid";
	cfg.instance_url = "https://na1.example.invalid";
	cfg.api_version = "62.0";
	cfg.client_name = FUZZ_CLIENT;
	cfg.auth = SF_AUTH_ACCESS_TOKEN;
	cfg.access_token = "00Dfuzz!token";
	if (sf_org_new(&cfg, &org, &e) != CS_OK)
		abort();
}

static void
check_str(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		abort();
}

/* What every parsed error must satisfy, whatever the body was. */
static void
check_error(const struct sf_error *e, long http)
{
	check_str(e->code, sizeof(e->code));
	check_str(e->message, sizeof(e->message));
	check_str(e->fields, sizeof(e->fields));
	if (e->http != http || e->err == CS_OK || e->message[0] == '\0')
		abort();
	if ((http >= 500 || http == 420 || http == 429 || sf_code_transient(e->code)) && !e->transient)
		abort();
	if (strcmp(e->code, "REQUEST_LIMIT_EXCEEDED") == 0 && e->err != CS_ELIMIT)
		abort();
}

static void
parse_error(const char *p, size_t len, long http)
{
	struct sf_error e;

	memset(&e, 0xa5, sizeof(e));    /* the parser must not rely on a cleared struct */
	sf_error_parse(&e, http, p, len);
	check_error(&e, http);
}

/* Follows collections.c: each failed record's first error is re-encoded and parsed with
 * sf_error_parse, its code classified with sf_code_transient. */
static void
collections(const json_t *v)
{
	size_t i;
	json_t *o;

	if (!json_is_array(v))
		return;
	json_array_foreach(v, i, o) {
		json_t *first;
		struct cs_buf b;
		struct sf_error e;

		if (i >= FUZZ_MAX_RECORDS)
			break;
		if (cs_json_get_bool(o, "success", false))
			continue;
		first = json_array_get(json_object_get(o, "errors"), 0);
		if (!json_is_object(first))
			continue;
		cs_buf_init(&b, 64u << 10);
		if (cs_json_dump(first, &b) == CS_OK) {
			sf_error_parse(&e, 0, b.data, b.len);
			check_error(&e, 0);
			(void)sf_code_transient(e.code);
		}
		cs_buf_cleanup(&b);
	}
}

static void
describe(const json_t *v)
{
	struct sf_describe *d = (struct sf_describe *)(uintptr_t)1;
	struct sf_error e;
	cs_err err;

	sf_error_clear(&e);
	err = sf_describe_parse(v, &d, &e);
	if (err != CS_OK) {
		if (d != NULL || e.err != err)
			abort();
		check_str(e.message, sizeof(e.message));
		return;
	}
	if (d == NULL || d->name == NULL || (d->nfields > 0 && d->fields == NULL))
		abort();
	for (size_t i = 0; i < d->nfields; i++) {
		const struct sf_field *f = &d->fields[i], *g;

		if (f->name == NULL || f->type == NULL)
			abort();
		for (size_t k = 0; k < f->npicklist; k++)
			if (f->picklist[k] == NULL)
				abort();
		for (size_t k = 0; k < f->nreference_to; k++)
			if (f->reference_to[k] == NULL)
				abort();
		/* every parsed field can be found again by its name */
		g = sf_describe_field(d, f->name);
		if (g == NULL || strcasecmp(g->name, f->name) != 0)
			abort();
	}
	sf_describe_free(d);
}

static void
limits(const char *s)
{
	long long used = -7, max = -7;
	struct sf_limits l;

	if (sf_limit_info_parse(s, &used, &max)) {
		if (used < 0 || max <= 0)
			abort();
		sf_org_note_limits(org, s);
		sf_org_limits(org, &l);
		if (l.used != used || l.max != max)
			abort();
		(void)sf_org_budget_low(org, 80);
	} else if (used != -7 || max != -7)
		abort();
}

/* Bayeux messages: the changeOrigin of each event, as deliver() in cometd.c reads it. */
static void
bayeux(const json_t *v)
{
	size_t i;
	json_t *m;

	if (!json_is_array(v))
		return;
	json_array_foreach(v, i, m) {
		json_t *hdr = json_object_get(json_object_get(json_object_get(m, "data"), "payload"),
		    "ChangeEventHeader");
		const char *origin = cs_json_get_str(hdr, "changeOrigin");

		if (i >= FUZZ_MAX_RECORDS)
			break;
		(void)sf_origin_is_client(origin ? origin : "", FUZZ_CLIENT);
		(void)sf_origin_is_client(origin, "");
		(void)sf_origin_is_client(origin, NULL);
	}
}

/* The body itself as a changeOrigin: any origin with a trailing ";client=<name>" is ours. */
static void
origin(const char *s, size_t len)
{
	struct cs_buf b;

	(void)sf_origin_is_client(s, FUZZ_CLIENT);
	if (memchr(s, '\0', len) != NULL)
		return;
	cs_buf_init(&b, FUZZ_MAX_INPUT + 64);
	if (cs_buf_append(&b, s, len) == CS_OK && cs_buf_puts(&b, ";client=" FUZZ_CLIENT) == CS_OK &&
	    !sf_origin_is_client(b.data, FUZZ_CLIENT))
		abort();
	cs_buf_cleanup(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p;
	char *s;
	size_t len;
	long http;
	json_t *v = NULL;
	struct cs_error je;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (org == NULL)
		start();
	http = statuses[(data[0] / SEL_COUNT) % (sizeof(statuses) / sizeof(statuses[0]))];
	len = size - 1;
	/* an exact-size copy, so that reading past the body is caught */
	if ((s = malloc(len + 1)) == NULL)
		return 0;
	memcpy(s, data + 1, len);
	s[len] = '\0';
	p = s;

	switch ((enum sel)(data[0] % SEL_COUNT)) {
	case SEL_ERROR:
		parse_error(p, len, http);
		parse_error(len ? p : NULL, len, http);
		break;
	case SEL_COLLECTIONS:
		/* a whole-call failure carries the same body as an error */
		parse_error(p, len, 400);
		if (cs_json_parse(p, len, &v, &je) == CS_OK)
			collections(v);
		break;
	case SEL_DESCRIBE:
		if (cs_json_parse(p, len, &v, &je) == CS_OK)
			describe(v);
		else
			parse_error(p, len, http);
		break;
	case SEL_TOKEN:
		parse_error(p, len, http >= 400 && http < 500 ? http : 400);
		break;
	case SEL_LIMITS:
		limits(p);
		break;
	case SEL_BAYEUX:
		parse_error(p, len, http);
		if (cs_json_parse(p, len, &v, &je) == CS_OK)
			bayeux(v);
		else
			origin(p, len);
		break;
	case SEL_COUNT:
		break;
	}
	json_decref(v);
	free(s);
	return 0;
}

/* main.c - sfemu: a Salesforce API emulator for tests, benchmarks and the demo. */
#include "emu.h"
#include "util/log.h"
#include "util/sig.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: sfemu --listen HOST:PORT [options]\n"
	    "\n"
	    "A Salesforce API emulator: OAuth, REST, SOQL, Composite, Bulk API 2.0 and Change Data\n"
	    "Capture over CometD, with fault injection under /__emu/. Prints its base URL on stdout.\n"
	    "\n"
	    "options:\n"
	    "  --listen HOST:PORT        address to serve (numeric IPv4 or [IPv6]; port 0 picks a free one)\n"
	    "  --schema FILE             extra objects and fields (JSON, in the shape of describe results)\n"
	    "  --access-token TOKEN      also accept this fixed bearer token\n"
	    "  --api-daily-limit N       API requests per 24 h before REQUEST_LIMIT_EXCEEDED (default 1000000)\n"
	    "  --session-ttl SECONDS     sessions expire after this long (default 0: never)\n"
	    "  --retention SECONDS       change events are kept this long (default 259200: 72 h)\n"
	    "  --jwt-key FILE            PEM public key or certificate checking JWT bearer assertions\n"
	    "  --username U --password P --client-id ID --client-secret S --refresh-token T\n"
	    "                            credentials the org accepts (defaults in README.md)\n"
	    "  --log-level LEVEL         debug, info, warn or error (default info)\n"
	    "  --log-json                log one JSON object per line\n"
	    "  -h, --help                this help\n");
}

static bool
num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

int
main(int argc, char **argv)
{
	struct emu_opts o;
	struct emu *emu;
	struct http_server_opts so;
	struct http_server *srv = NULL;
	struct cs_error e = { 0 };
	char host[64] = "";
	long long port = -1, v;
	int level = CS_LOG_INFO, json = 0;

	/* before any thread starts: SIGINT and SIGTERM go to this thread only, in cs_sig_wait */
	cs_sig_block();
	memset(&o, 0, sizeof(o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--log-json") == 0) {
			json = 1;
			takes = false;
		} else if (val == NULL) {
			fprintf(stderr, "sfemu: %s needs a value (see --help)\n", a);
			return 2;
		} else if (strcmp(a, "--listen") == 0) {
			const char *colon = strrchr(val, ':');
			size_t hl;
			if (colon == NULL || !num(colon + 1, 0, 65535, &port)) {
				fprintf(stderr, "sfemu: --listen wants HOST:PORT, got '%s'\n", val);
				return 2;
			}
			hl = (size_t)(colon - val);
			if (hl >= 2 && val[0] == '[' && val[hl - 1] == ']') {
				val++;
				hl -= 2;
			}
			if (hl == 0 || hl >= sizeof(host)) {
				fprintf(stderr, "sfemu: --listen wants HOST:PORT, got '%s'\n", argv[i + 1]);
				return 2;
			}
			memcpy(host, val, hl);
			host[hl] = '\0';
		} else if (strcmp(a, "--schema") == 0)
			o.schema_file = val;
		else if (strcmp(a, "--access-token") == 0)
			o.fixed_token = val;
		else if (strcmp(a, "--jwt-key") == 0)
			o.jwt_pubkey_file = val;
		else if (strcmp(a, "--username") == 0)
			o.username = val;
		else if (strcmp(a, "--password") == 0)
			o.password = val;
		else if (strcmp(a, "--client-id") == 0)
			o.client_id = val;
		else if (strcmp(a, "--client-secret") == 0)
			o.client_secret = val;
		else if (strcmp(a, "--refresh-token") == 0)
			o.refresh_token = val;
		else if (strcmp(a, "--api-daily-limit") == 0) {
			if (!num(val, 1, LONG_MAX, &v)) {
				fprintf(stderr, "sfemu: --api-daily-limit wants a positive integer, got '%s'\n", val);
				return 2;
			}
			o.daily_limit = (long)v;
		} else if (strcmp(a, "--session-ttl") == 0) {
			if (!num(val, 0, 365LL * 86400, &v)) {
				fprintf(stderr, "sfemu: --session-ttl wants seconds (0 to 31536000), got '%s'\n", val);
				return 2;
			}
			o.session_ttl_ms = v * 1000;
		} else if (strcmp(a, "--retention") == 0) {
			if (!num(val, 1, 30LL * 86400, &v)) {
				fprintf(stderr, "sfemu: --retention wants seconds (1 to 2592000), got '%s'\n", val);
				return 2;
			}
			o.retention_ms = v * 1000;
		} else if (strcmp(a, "--log-level") == 0) {
			if ((level = cs_log_level_parse(val)) < 0) {
				fprintf(stderr, "sfemu: --log-level wants debug, info, warn or error\n");
				return 2;
			}
		} else {
			fprintf(stderr, "sfemu: unknown option '%s' (see --help)\n", a);
			return 2;
		}
		if (takes)
			i++;
	}
	if (port < 0) {
		fprintf(stderr, "sfemu: --listen HOST:PORT is required (see --help)\n");
		return 2;
	}
	cs_log_setup((enum cs_log_level)level, json);
	emu = calloc(1, sizeof(*emu));
	if (emu == NULL || emu_init(emu, &o, &e) != CS_OK) {
		fprintf(stderr, "sfemu: %s\n", e.msg[0] ? e.msg : "out of memory");
		return 1;
	}
	emu_server_opts(emu, &so);
	so.host = host;
	so.port = (int)port;
	if (http_server_start(&so, &srv, &e) != CS_OK) {
		fprintf(stderr, "sfemu: %s\n", e.msg);
		emu_cleanup(emu);
		free(emu);
		return 1;
	}
	snprintf(emu->base_url, sizeof(emu->base_url), strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d",
	    host, http_server_port(srv));
	printf("%s\n", emu->base_url);
	fflush(stdout);
	log_info("sfemu.listen", "serving %s (API v%d.0 to v%d.0)", emu->base_url, EMU_MIN_VERSION, EMU_MAX_VERSION);

	cs_sig_wait();
	log_info("sfemu.stop", "shutting down");
	/* wake long polls so that their threads can finish */
	emu_lock(emu);
	emu->stopping = true;
	pthread_cond_broadcast(&emu->ev_cond);
	emu_unlock(emu);
	http_server_stop(srv);
	emu_cleanup(emu);
	free(emu);
	return 0;
}

/* cmd_backfill.c - clmsync backfill: the initial load of one mapping through Bulk API 2.0, linked as the engine links. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/sync.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#define EXIT_PARTIAL 1             /* some records failed; the others are loaded and linked */
#define EXIT_USAGE 2
#define EXIT_STORE 3               /* the configuration, the store or the repository */
#define EXIT_SALESFORCE 4          /* Salesforce refused or failed a whole call: stopped early */
#define EXIT_INTERRUPTED 5         /* SIGINT or SIGTERM: the job in hand was aborted */
#define FAILURES_SHOWN 50          /* failed records printed one by one, then only counted */
#define PROGRESS_TTY_MS 250
#define PROGRESS_LOG_MS 5000       /* stderr not a terminal: a line this often */
#define DATA_PATH_MAX 4096

static atomic_int stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_flag, 1);
}

static void
usage(FILE *f)
{
	cli_help_print(cli_cmd_find("backfill"), f);
}

struct ui {
	bool quiet, tty;
	const char *mapping;
	int64_t t0, last;
	const char *last_phase;
	long long failures;
	size_t width;              /* of the last progress line, to blank it on a terminal */
};

/* Text from Salesforce or the repository goes to a terminal: control characters replaced. */
static void
put_clean(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static void
clear_line(struct ui *u)
{
	if (u->tty && u->width > 0) {
		fprintf(stderr, "\r%*s\r", (int)u->width, "");
		u->width = 0;
	}
}

static void
on_progress(void *ud, const struct sync_backfill_progress *p)
{
	struct ui *u = ud;
	int64_t now = cs_time_mono_ms();
	bool phase_changed = u->last_phase == NULL || strcmp(u->last_phase, p->phase) != 0;
	double el, rate;
	char line[256], eta[48] = "";
	int n;

	if (u->quiet || (!phase_changed && now - u->last < (u->tty ? PROGRESS_TTY_MS : PROGRESS_LOG_MS)))
		return;
	u->last = now;
	u->last_phase = p->phase;
	el = (double)(now - u->t0) / 1000.0;
	rate = el > 0 ? (double)p->done / el : 0;
	if (p->total > 0 && p->done > 0 && p->done < p->total && rate > 0)
		snprintf(eta, sizeof(eta), ", ETA %.0f s", (double)(p->total - p->done) / rate);
	if (p->total >= 0)
		n = snprintf(line, sizeof(line), "backfill %s: %s: %lld/%lld records (%.0f%%), %.0f records/s%s, %u job%s",
		    u->mapping, p->phase, p->done, p->total, p->total > 0 ? 100.0 * (double)p->done / (double)p->total : 100.0,
		    rate, eta, p->jobs, p->jobs == 1 ? "" : "s");
	else
		n = snprintf(line, sizeof(line), "backfill %s: %s: %lld records, %.0f records/s, %u job%s", u->mapping,
		    p->phase, p->done, rate, p->jobs, p->jobs == 1 ? "" : "s");
	if (u->tty) {
		clear_line(u);
		fputs(line, stderr);
		u->width = n > 0 ? (size_t)n : 0;
	} else
		fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

static void
on_failure(void *ud, const char *clm_id, const char *sf_id, const char *code, const char *message)
{
	struct ui *u = ud;

	if (++u->failures > FAILURES_SHOWN)
		return;
	clear_line(u);
	fputs("clmsync backfill: ", stderr);
	put_clean(stderr, clm_id ? clm_id : "-");
	fputc(' ', stderr);
	put_clean(stderr, sf_id && *sf_id ? sf_id : "-");
	fputs(": ", stderr);
	put_clean(stderr, code);
	fputs(": ", stderr);
	put_clean(stderr, message);
	fputc('\n', stderr);
	if (u->failures == FAILURES_SHOWN)
		fprintf(stderr, "clmsync backfill: (further refused records are only counted)\n");
}

static int
exit_of(cs_err rc, bool interrupted, const struct sync_backfill_result *r)
{
	if (interrupted)
		return EXIT_INTERRUPTED;
	switch (rc) {
	case CS_OK:
		return r->failed > 0 ? EXIT_PARTIAL : 0;
	case CS_EINVAL:
		return EXIT_USAGE;
	case CS_EIO:
	case CS_ENOMEM:
		return EXIT_STORE;
	default:
		return EXIT_SALESFORCE;
	}
}

static void
summary(const struct ui *u, const struct cs_mapping *m, bool to_sf, bool dry, const struct sync_backfill_result *r,
        double secs, cs_err rc, const struct cs_error *e, int code, bool json)
{
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:i, s:f, s:i, s:s?}",
		    "mapping", m->name, "org", m->org, "direction", to_sf ? "to-salesforce" : "from-salesforce", "dry_run", dry,
		    "seen", (json_int_t)r->seen, "not_routed", (json_int_t)r->not_routed, "already_linked", (json_int_t)r->already,
		    "ignored", (json_int_t)r->ignored, "written", (json_int_t)r->written, "created", (json_int_t)r->created,
		    "matched", (json_int_t)r->matched, "linked", (json_int_t)r->linked, "sf_updates", (json_int_t)r->sf_updates,
		    "failed", (json_int_t)r->failed, "field_errors", (json_int_t)r->field_errors,
		    "replanned", (json_int_t)r->replanned, "api_calls", (json_int_t)r->api_calls, "jobs", (int)r->jobs, "seconds", secs, "exit", code,
		    "error", rc != CS_OK ? e->msg : NULL);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(j);
		return;
	}
	printf("backfill %s (%s, org %s)%s:\n", m->name, to_sf ? "to Salesforce" : "from Salesforce", m->org,
	       dry ? ", dry run: nothing written" : "");
	printf("  %lld records looked at", r->seen);
	if (to_sf)
		printf(", %lld not routed to this mapping", r->not_routed);
	printf(", %lld linked already\n", r->already);
	if (to_sf)
		printf("  %lld %s Salesforce (%lld created, %lld existing updated by external id), %lld linked\n", r->written,
		       dry ? "would be upserted into" : "upserted into", r->created, r->written - r->created, r->linked);
	else
		printf("  %lld %s (%lld created in the repository, %lld matched by external id), %lld linked, %lld given "
		       "the repository's values in Salesforce\n", r->written, dry ? "would be loaded" : "loaded", r->created,
		       r->matched, r->linked, r->sf_updates);
	if (!to_sf && r->ignored > 0)
		printf("  %lld not created: the mapping's on_create.clm is ignore\n", r->ignored);
	if (!to_sf && r->replanned > 0)
		printf("  %lld changed in Salesforce while being made: handed to the engine to read again\n", r->replanned);
	printf("  %lld refused", r->failed);
	if (u->failures > FAILURES_SHOWN)
		printf(" (the first %d listed on stderr)", FAILURES_SHOWN);
	if (r->field_errors > 0)
		printf(", %lld field values left out (logged)", r->field_errors);
	printf("\n  %u Bulk job%s, %lld API calls, %.1f s", r->jobs, r->jobs == 1 ? "" : "s", r->api_calls, secs);
	if (secs > 0 && r->seen > 0)
		printf(" (%.0f records/s)", (double)r->seen / secs);
	printf("\n");
	if (rc != CS_OK) {
		printf("  stopped early: ");
		put_clean(stdout, e->msg);
		printf("\n");
	}
}

int
cmd_backfill(int argc, char **argv)
{
	const char *cfg_path = NULL, *mapping = NULL, *dir = "to-salesforce", *data = NULL, *batch_s = NULL;
	bool dry = false, json = false, quiet = false;
	struct cli_repo repo;
	const struct cs_mapping *m;
	struct sync_backfill_opts o;
	struct sync_backfill_result r;
	struct cs_error e = { 0 };
	struct ui u = { 0 };
	struct sigaction sa;
	char url[DATA_PATH_MAX + 32];
	long batch = 0;
	int64_t t0;
	cs_err rc;
	int code;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **val = NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--dry-run") == 0)
			dry = true;
		else if (strcmp(a, "--json") == 0)
			json = true;
		else if (strcmp(a, "--quiet") == 0)
			quiet = true;
		else if (strcmp(a, "--config") == 0)
			val = &cfg_path;
		else if (strcmp(a, "--mapping") == 0)
			val = &mapping;
		else if (strcmp(a, "--direction") == 0)
			val = &dir;
		else if (strcmp(a, "--data") == 0)
			val = &data;
		else if (strcmp(a, "--batch") == 0)
			val = &batch_s;
		else {
			fprintf(stderr, "clmsync backfill: unknown argument '%s' (see --help)\n", a);
			return EXIT_USAGE;
		}
		if (val != NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "clmsync backfill: %s needs a value (see --help)\n", a);
				return EXIT_USAGE;
			}
			*val = argv[++i];
		}
	}
	if (cfg_path == NULL || mapping == NULL) {
		fprintf(stderr, "clmsync backfill: --config FILE and --mapping NAME are required (see --help)\n");
		return EXIT_USAGE;
	}
	if (strcmp(dir, "to-salesforce") != 0 && strcmp(dir, "from-salesforce") != 0) {
		fprintf(stderr, "clmsync backfill: --direction is to-salesforce or from-salesforce, not '%s'\n", dir);
		return EXIT_USAGE;
	}
	if (batch_s != NULL) {
		char *end;
		errno = 0;
		batch = strtol(batch_s, &end, 10);
		if (errno != 0 || end == batch_s || *end != '\0' || batch < 1 || batch > SYNC_BACKFILL_BATCH_MAX) {
			fprintf(stderr, "clmsync backfill: --batch is 1..%d, not '%s'\n", SYNC_BACKFILL_BATCH_MAX, batch_s);
			return EXIT_USAGE;
		}
	}
	if (cli_repo_open("backfill", cfg_path, data, &repo) != 0) {
		cli_repo_close(&repo);
		return EXIT_STORE;
	}
	if ((m = cs_config_mapping(repo.cfg, mapping)) == NULL) {
		fprintf(stderr, "clmsync backfill: %s has no mapping '%s'; it has:", cfg_path, mapping);
		for (size_t i = 0; i < repo.cfg->nmappings; i++)
			fprintf(stderr, " %s", repo.cfg->mappings[i].name);
		fputs(repo.cfg->nmappings == 0 ? " none\n" : "\n", stderr);
		cli_repo_close(&repo);
		return EXIT_USAGE;
	}
	if (data != NULL)
		snprintf(url, sizeof(url), "sqlite:%s/clmsync.db", data);
	else
		snprintf(url, sizeof(url), "%s", repo.cfg->store_url);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	u.quiet = quiet;
	u.tty = isatty(STDERR_FILENO);
	u.mapping = m->name;
	u.t0 = t0 = cs_time_mono_ms();
	memset(&o, 0, sizeof(o));
	o.cfg = repo.cfg;
	o.clm = repo.clm;
	o.store_url = url;
	o.m = m;
	o.dir = strcmp(dir, "to-salesforce") == 0 ? SYNC_BACKFILL_TO_SF : SYNC_BACKFILL_FROM_SF;
	o.dry_run = dry;
	o.batch = (size_t)batch;
	o.stop = &stop_flag;
	o.progress = on_progress;
	o.failure = on_failure;
	o.ud = &u;
	rc = sync_backfill(&o, &r, &e);
	clear_line(&u);
	code = exit_of(rc, atomic_load(&stop_flag) != 0, &r);
	if (rc == CS_EINVAL && r.seen == 0) {
		fprintf(stderr, "clmsync backfill: ");
		put_clean(stderr, e.msg);
		fputc('\n', stderr);
	} else if (rc != CS_OK && !json) {
		fprintf(stderr, "clmsync backfill: stopped: ");
		put_clean(stderr, e.msg);
		fputc('\n', stderr);
	}
	summary(&u, m, o.dir == SYNC_BACKFILL_TO_SF, dry, &r, (double)(cs_time_mono_ms() - t0) / 1000.0, rc, &e, code, json);
	cli_repo_close(&repo);
	return code;
}

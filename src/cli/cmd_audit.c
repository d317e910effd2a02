/* cmd_audit.c - clmsync audit verify|search: check the audit log's hash chain, find a record's rows. */
#include "cli/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "store/store.h"
#include "sync/audit.h"
#include "util/log.h"

#define EXIT_BROKEN 1
#define EXIT_USAGE 2
#define EXIT_STORE 3
#define SEARCH_PAGE 1000           /* rows per sync_audit_search call (its maximum) */
#define SEARCH_LIMIT_MAX 1000000   /* rows one `audit search` prints at most */
#define SEARCH_LIMIT_DEFAULT 1000

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: clmsync audit verify [--config FILE | --store URL] [--json]\n"
	    "       clmsync audit search ID [--decision D] [--limit N] [--config FILE | --store URL] [--json]\n"
	    "       clmsync audit search --decision D [--limit N] [--config FILE | --store URL] [--json]\n"
	    "\n"
	    "verify walks the whole audit log from its first row and checks every row's number, its\n"
	    "link to the row before and its hash, and that the head names the last row. It reads the\n"
	    "store page by page (memory stays flat) and is safe while a server runs.\n"
	    "search prints the rows whose clm_id or sf_id is ID, oldest first: seq, time, decision,\n"
	    "side, field, old -> new value, event. It scans the log. --decision keeps the rows of one\n"
	    "decision (applied, deleted, drift, gap, overflow, replay_invalid, reconcile, ...); with it\n"
	    "the ID may be left out, for the engine's own rows that name no record.\n"
	    "\n"
	    "options:\n"
	    "  --config FILE   the YAML configuration: its store is used\n"
	    "  --store URL     the store itself (sqlite:PATH), instead of --config\n"
	    "  --json          machine output: verify one object, search one array\n"
	    "  --limit N       search: at most N rows (1..%d, default %d)\n"
	    "  --decision D    search: only rows whose decision is D\n"
	    "  -h, --help      this help\n"
	    "\n"
	    "exit status: 0 intact (or search done), 1 the log is broken, 2 usage error,\n"
	    "3 the configuration, the store or the log cannot be read.\n",
	    SEARCH_LIMIT_MAX, SEARCH_LIMIT_DEFAULT);
}

/* Opens the store named by --store, or by the configuration (--config FILE, else the built-in
 * defaults). Returns 0 with *out set, or EXIT_STORE after saying why on stderr. */
static int
open_store(const char *url, const char *cfg_path, struct store **out)
{
	struct cs_error_list errs;
	struct cs_config *cfg = NULL;
	struct cs_error e = { 0 };
	int code = EXIT_STORE;

	*out = NULL;
	cs_error_list_init(&errs);
	if (url == NULL) {
		if (cfg_path != NULL && cs_config_load(cfg_path, &cfg, &errs) != CS_OK) {
			cs_error_list_print(&errs, stderr);
			fprintf(stderr, "clmsync audit: cannot load %s\n", cfg_path);
			goto out;
		}
		if (cfg_path == NULL && cs_config_defaults(&cfg) != CS_OK) {
			fprintf(stderr, "clmsync audit: out of memory\n");
			goto out;
		}
		url = cfg->store_url;
	}
	if (store_open(url, out, &e) != CS_OK) {
		fprintf(stderr, "clmsync audit: cannot open the store %s: %s\n", url, e.msg);
		*out = NULL;
		goto out;
	}
	code = 0;
out:
	cs_config_free(cfg);
	cs_error_list_cleanup(&errs);
	return code;
}

/* Prints s with control characters replaced: log text came from outside and goes to a terminal. */
static void
put_text(FILE *f, const char *s)
{
	if (s == NULL || *s == '\0') {
		fputc('-', f);
		return;
	}
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* Prints v as compact JSON (strings quoted and escaped, so control characters cannot reach the
 * terminal raw); a missing value as null. */
static void
put_value(FILE *f, const json_t *v)
{
	char *s = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	fputs(s != NULL ? s : "null", f);
	free(s);
}

/* Prints j on one line of stdout; false when it cannot be encoded or written. */
static bool
put_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	bool ok = s != NULL && printf("%s\n", s) >= 0;

	free(s);
	return ok;
}

struct progress {
	bool shown;
};

static void
on_progress(void *ud, long long rows)
{
	struct progress *p = ud;

	fprintf(stderr, "\rclmsync audit: %lld rows checked", rows);
	fflush(stderr);
	p->shown = true;
}

/* The hash of row seq, read back after a walk that verified it, into out (65 bytes); "" when
 * it cannot be read (the walk already checked it; this is only for display). Reading the row
 * rather than the head keeps the answer about the rows checked, even if appends followed. */
static void
row_hash_of(struct store *s, long long seq, char *out, size_t n)
{
	struct cs_error e = { 0 };
	char key[32];
	json_t *doc = NULL;
	const char *h;

	out[0] = '\0';
	snprintf(key, sizeof(key), "%020lld", seq);
	if (store_kv_get(s, "audit", key, &doc, &e) != CS_OK)
		return;
	if ((h = json_string_value(json_object_get(doc, "hash"))) != NULL)
		snprintf(out, n, "%s", h);
	json_decref(doc);
}

static int
verify(struct store *s, bool as_json)
{
	struct progress p = { false };
	struct cs_error e = { 0 };
	long long rows = 0, bad = 0;
	char head[65];
	json_t *j = NULL;
	cs_err rc;
	int code;

	rc = sync_audit_verify(s, &rows, &bad, isatty(STDERR_FILENO) ? on_progress : NULL, &p, &e);
	if (p.shown)
		fputc('\n', stderr);
	if (rc == CS_OK) {
		head[0] = '\0';
		if (rows > 0)
			row_hash_of(s, rows, head, sizeof(head));
		if (as_json)
			j = json_pack("{s:b,s:I,s:o}", "ok", 1, "rows", (json_int_t)rows, "head",
			              rows > 0 ? json_string(head) : json_null());
		else if (rows > 0)
			printf("audit log intact: %lld row%s, head %.12s\n", rows, rows == 1 ? "" : "s", head);
		else
			printf("audit log intact: 0 rows\n");
		code = 0;
	} else if (rc == CS_EIO && bad > 0) {
		/* e.msg is "row N: what is wrong"; the sentence below names the row itself */
		char pfx[48];
		const char *why = e.msg;
		int n = snprintf(pfx, sizeof(pfx), "row %lld: ", bad);
		if (n > 0 && strncmp(why, pfx, (size_t)n) == 0)
			why += n;
		if (as_json)
			j = json_pack("{s:b,s:I,s:I,s:s}", "ok", 0, "rows", (json_int_t)rows, "bad_seq", (json_int_t)bad,
			              "error", e.msg);
		else
			printf("audit log BROKEN at row %lld: %s\n", bad, why);
		code = EXIT_BROKEN;
	} else {
		/* not a finding about the chain: the store could not be read */
		if (as_json)
			j = json_pack("{s:b,s:I,s:s}", "ok", 0, "rows", (json_int_t)rows, "error", e.msg);
		fprintf(stderr, "clmsync audit: cannot read the audit log after %lld rows: %s\n", rows, e.msg);
		code = EXIT_STORE;
	}
	if (as_json && (j == NULL || !put_json(j))) {
		fprintf(stderr, "clmsync audit: cannot write the result\n");
		if (code == 0)
			code = EXIT_STORE;
	}
	json_decref(j);
	return code;
}

static void
put_row(const json_t *r)
{
	printf("%lld  ", (long long)json_integer_value(json_object_get(r, "seq")));
	put_text(stdout, json_string_value(json_object_get(r, "ts")));
	fputs("  ", stdout);
	put_text(stdout, json_string_value(json_object_get(r, "decision")));
	fputs("  ", stdout);
	put_text(stdout, json_string_value(json_object_get(r, "side")));
	fputs("  ", stdout);
	put_text(stdout, json_string_value(json_object_get(r, "field")));
	fputs("  ", stdout);
	put_value(stdout, json_object_get(r, "old"));
	fputs(" -> ", stdout);
	put_value(stdout, json_object_get(r, "new"));
	fputs("  ", stdout);
	put_text(stdout, json_string_value(json_object_get(r, "event")));
	fputc('\n', stdout);
}

/* Prints up to limit rows of id (NULL: every record) whose decision is decision (NULL: any),
 * asking the log SEARCH_PAGE rows at a time; each call resumes after the last row read, so the
 * whole command reads the log once. */
static int
search(struct store *s, const char *id, const char *decision, long long limit, bool as_json)
{
	struct cs_error e = { 0 };
	long long after = 0, n = 0;
	json_t *page = NULL, *r;
	size_t i;

	if (as_json)
		fputs("[", stdout);
	while (n < limit) {
		int want = decision == NULL && limit - n < SEARCH_PAGE ? (int)(limit - n) : SEARCH_PAGE;
		size_t got;
		if (sync_audit_search(s, id, after, want, &page, &e) != CS_OK) {
			if (as_json)
				fputs("]\n", stdout);
			fprintf(stderr, "clmsync audit: cannot read the audit log: %s\n", e.msg);
			return EXIT_STORE;
		}
		got = json_array_size(page);
		json_array_foreach(page, i, r) {
			after = (long long)json_integer_value(json_object_get(r, "seq"));
			const char *d = json_string_value(json_object_get(r, "decision"));
			if (decision != NULL && (d == NULL || strcmp(d, decision) != 0))
				continue;
			if (n == limit)
				break;
			if (as_json) {
				char *t = json_dumps(r, JSON_COMPACT);
				if (t == NULL) {
					json_decref(page);
					fputs("]\n", stdout);
					fprintf(stderr, "clmsync audit: out of memory\n");
					return EXIT_STORE;
				}
				printf("%s%s", n > 0 ? ",\n" : "\n", t);
				free(t);
			} else
				put_row(r);
			n++;
		}
		json_decref(page);
		page = NULL;
		if (got < (size_t)want)
			break;
	}
	if (as_json)
		fputs(n > 0 ? "\n]\n" : "]\n", stdout);
	else if (n == 0)
		fprintf(stderr, "clmsync audit: no rows for %s%s%s\n", id ? id : "any record",
		        decision ? " with decision " : "", decision ? decision : "");
	if (fflush(stdout) != 0) {
		fprintf(stderr, "clmsync audit: cannot write: %s\n", strerror(errno));
		return EXIT_STORE;
	}
	return 0;
}

int
cmd_audit(int argc, char **argv)
{
	const char *cfg_path = NULL, *url = NULL, *what = NULL, *id = NULL, *limit_s = NULL, *decision = NULL;
	long long limit = SEARCH_LIMIT_DEFAULT;
	struct store *s = NULL;
	bool as_json = false;
	int code;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--json") == 0) {
			as_json = true;
			continue;
		}
		if (a[0] != '-') {
			if (what == NULL)
				what = a;
			else if (id == NULL && strcmp(what, "search") == 0)
				id = a;
			else {
				fprintf(stderr, "clmsync audit: unexpected argument '%s' (see --help)\n", a);
				return EXIT_USAGE;
			}
			continue;
		}
		if (val == NULL) {
			fprintf(stderr, "clmsync audit: %s needs a value (see --help)\n", a);
			return EXIT_USAGE;
		}
		i++;
		if (strcmp(a, "--config") == 0)
			cfg_path = val;
		else if (strcmp(a, "--store") == 0)
			url = val;
		else if (strcmp(a, "--limit") == 0)
			limit_s = val;
		else if (strcmp(a, "--decision") == 0)
			decision = val;
		else {
			fprintf(stderr, "clmsync audit: unknown option '%s' (see --help)\n", a);
			return EXIT_USAGE;
		}
	}
	if (what == NULL || (strcmp(what, "verify") != 0 && strcmp(what, "search") != 0)) {
		fprintf(stderr, "clmsync audit: say `verify` or `search ID` (see --help)\n");
		return EXIT_USAGE;
	}
	if (strcmp(what, "search") == 0 && id == NULL && decision == NULL) {
		fprintf(stderr, "clmsync audit: search needs the record's id (CLM or Salesforce) or --decision\n");
		return EXIT_USAGE;
	}
	if (decision != NULL && strcmp(what, "search") != 0) {
		fprintf(stderr, "clmsync audit: --decision is for search\n");
		return EXIT_USAGE;
	}
	if (limit_s != NULL) {
		char *end;
		if (strcmp(what, "search") != 0) {
			fprintf(stderr, "clmsync audit: --limit is for search\n");
			return EXIT_USAGE;
		}
		errno = 0;
		limit = strtoll(limit_s, &end, 10);
		if (errno != 0 || end == limit_s || *end != '\0' || limit < 1 || limit > SEARCH_LIMIT_MAX) {
			fprintf(stderr, "clmsync audit: --limit is 1..%d, not '%s'\n", SEARCH_LIMIT_MAX, limit_s);
			return EXIT_USAGE;
		}
	}
	if (cfg_path != NULL && url != NULL) {
		fprintf(stderr, "clmsync audit: give --config or --store, not both\n");
		return EXIT_USAGE;
	}
	/* the command's output is on stdout; only the store's warnings go to the log (stderr) */
	cs_log_setup(CS_LOG_WARN, 0);
	if ((code = open_store(url, cfg_path, &s)) != 0)
		return code;
	if (strcmp(what, "verify") == 0)
		code = verify(s, as_json);
	else
		code = search(s, id, decision, limit, as_json);
	store_close(s);
	return code;
}

/* cmd_audit.c - clmsync audit search|verify: the audit log through the admin API, and verify
 * --offline on the store file when no server is there to ask. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "sync/audit.h"
#include "util/log.h"

#define V1 "/admin/v1"
#define SEARCH_PAGE 1000           /* rows per GET /audit (its maximum) */
#define SEARCH_LIMIT_MAX 1000000   /* rows one `audit search` prints at most */
#define SEARCH_LIMIT_DEFAULT 1000
#define VERIFY_PART 20000          /* rows per POST /audit/verify: a second or so of the server's time */
#define PATH_MAX_LEN 4096

static const char *
str_of(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* --- search ----------------------------------------------------------------------------------- */

/* Appends "&key=value" (value escaped) to q when value is set. */
static bool
query_add(char *q, size_t n, const char *key, const char *value)
{
	if (value == NULL)
		return true;
	return admin_path_append(q, n, "&") && admin_path_append(q, n, key) && admin_path_append(q, n, "=") &&
	       admin_path_escape(q, n, value);
}

static int
search(struct admin_conn *c, const struct cli_args *a, const char *id, long long limit)
{
	static const char *const h[] = { "SEQ", "TIME", "DECISION", "SIDE", "RECORD", "FIELD", "OLD", "NEW", "EVENT" };
	static const int w[] = { 10, 24, 12, 10, 29, 24, 30, 30, 48 };
	char base[ADMIN_PATH_MAX], path[ADMIN_PATH_MAX];
	struct term_table *t = NULL;
	json_t *rows = json_array(), *page = NULL, *r, *next = NULL;
	long long after = 0;
	long status;
	size_t i;
	int code = 0;

	snprintf(base, sizeof(base), V1 "/audit?");
	/* room for the paging arguments the loop adds */
	if (!query_add(base, sizeof(base) - 64, "record", id) || !query_add(base, sizeof(base) - 64, "field", cli_get(a, "--field")) ||
	    !query_add(base, sizeof(base) - 64, "decision", cli_get(a, "--decision")) ||
	    !query_add(base, sizeof(base) - 64, "mapping", cli_get(a, "--mapping")) ||
	    !query_add(base, sizeof(base) - 64, "since", cli_get(a, "--since")) ||
	    !query_add(base, sizeof(base) - 64, "until", cli_get(a, "--until"))) {
		fprintf(stderr, "clmsync audit: the filters are too long\n");
		json_decref(rows);
		return CLI_EXIT_USAGE;
	}
	if (rows == NULL) {
		fprintf(stderr, "clmsync audit: out of memory\n");
		return CLI_EXIT_BAD;
	}
	/* each call resumes where the last one stopped reading, so the command reads the log once */
	for (;;) {
		long long want = limit - (long long)json_array_size(rows);
		if (want <= 0)
			break;
		if (snprintf(path, sizeof(path), "%.*s&limit=%lld&after=%lld", (int)(sizeof(base) - 64), base,
		             want < SEARCH_PAGE ? want : SEARCH_PAGE, after) >= (int)sizeof(path)) {
			fprintf(stderr, "clmsync audit: the filters are too long\n");
			code = CLI_EXIT_USAGE;
			goto out;
		}
		if ((code = admin_call(c, "GET", path, NULL, false, &status, &page)) != 0)
			goto out;
		json_array_extend(rows, json_object_get(page, "rows"));
		json_decref(next);
		next = json_incref(json_object_get(page, "next"));
		json_decref(page);
		page = NULL;
		if (!json_is_integer(next) || json_integer_value(next) <= after)
			break;
		after = (long long)json_integer_value(next);
	}
	if (a != NULL && cli_get(a, "--json") != NULL) {
		json_t *doc = json_pack("{s:O, s:O}", "rows", rows, "next", next != NULL ? next : json_null());
		code = doc != NULL ? cli_put_json("audit", doc) : CLI_EXIT_BAD;
		json_decref(doc);
		goto out;
	}
	if (json_array_size(rows) == 0) {
		printf("no matching rows\n");
		goto out;
	}
	if ((t = term_table_new(9, h, w)) == NULL) {
		fprintf(stderr, "clmsync audit: out of memory\n");
		code = CLI_EXIT_BAD;
		goto out;
	}
	json_array_foreach(rows, i, r) {
		char seq[24], *ov = json_dumps(json_object_get(r, "old"), JSON_COMPACT | JSON_ENCODE_ANY);
		char *nv = json_dumps(json_object_get(r, "new"), JSON_COMPACT | JSON_ENCODE_ANY);
		const char *rec = str_of(r, "clm_id") != NULL ? str_of(r, "clm_id") : str_of(r, "sf_id");
		const char *cells[9];
		snprintf(seq, sizeof(seq), "%lld", (long long)json_integer_value(json_object_get(r, "seq")));
		cells[0] = seq;
		cells[1] = str_of(r, "ts");
		cells[2] = str_of(r, "decision");
		cells[3] = str_of(r, "side");
		cells[4] = rec;
		cells[5] = str_of(r, "field");
		cells[6] = ov != NULL ? ov : "null";
		cells[7] = nv != NULL ? nv : "null";
		cells[8] = str_of(r, "event");
		term_table_add(t, cells);
		free(ov);
		free(nv);
	}
	term_table_print(t, stdout);
	printf("%zu row%s%s\n", json_array_size(rows), json_array_size(rows) == 1 ? "" : "s",
	       json_is_integer(next) && (long long)json_array_size(rows) >= limit ? " (--limit reached; there may be more)"
	                                                                          : "");
out:
	term_table_free(t);
	json_decref(next);
	json_decref(rows);
	return code;
}

/* --- verify ----------------------------------------------------------------------------------- */

/* Prints the verdict and returns its exit code: 0 intact, 1 broken. head is the last row's
 * hash (intact only). */
static int
verdict(bool as_json, bool ok, long long rows, long long bad, const char *why, const char *head)
{
	json_t *j;
	int code = ok ? 0 : CLI_EXIT_BAD;

	if (as_json) {
		j = ok ? json_pack("{s:b, s:I, s:n, s:n, s:s?}", "ok", 1, "rows", (json_int_t)rows, "bad_seq", "error",
		                   "head", rows > 0 ? head : NULL)
		       : json_pack("{s:b, s:I, s:I, s:s, s:n}", "ok", 0, "rows", (json_int_t)rows, "bad_seq", (json_int_t)bad,
		                   "error", why, "head");
		if (j == NULL || cli_put_json("audit", j) != 0)
			code = CLI_EXIT_BAD;
		json_decref(j);
		return code;
	}
	if (ok && rows > 0)
		printf("audit log intact: %lld row%s, head %.12s\n", rows, rows == 1 ? "" : "s", head);
	else if (ok)
		printf("audit log intact: 0 rows\n");
	else {
		/* why is "row N: what is wrong"; the sentence names the row itself */
		char pfx[48];
		int n = snprintf(pfx, sizeof(pfx), "row %lld: ", bad);
		if (n > 0 && strncmp(why, pfx, (size_t)n) == 0)
			why += n;
		printf("audit log BROKEN at row %lld: ", bad);
		term_put(stdout, why);
		fputc('\n', stdout);
	}
	return code;
}

static int
verify_online(struct admin_conn *c, bool as_json, int64_t every)
{
	struct term_progress p;
	struct sync_audit_pos pos;
	json_t *body = NULL, *r = NULL;
	long long rows = 0;
	long status;
	int code;

	sync_audit_pos_init(&pos);
	term_progress_init(&p, "clmsync audit verify", "rows checked", every);
	for (;;) {
		const json_t *last;
		body = json_pack("{s:I, s:s, s:I}", "after", (json_int_t)pos.seq, "hash", pos.hash, "max_rows",
		                 (json_int_t)VERIFY_PART);
		if (body == NULL) {
			fprintf(stderr, "clmsync audit: out of memory\n");
			code = CLI_EXIT_BAD;
			break;
		}
		code = admin_call(c, "POST", V1 "/audit/verify", body, false, &status, &r);
		json_decref(body);
		if (code != 0)
			break;
		rows += json_integer_value(json_object_get(r, "rows"));
		if (!json_is_true(json_object_get(r, "ok"))) {
			term_progress_end(&p);
			code = verdict(as_json, false, rows, json_integer_value(json_object_get(r, "bad_seq")),
			               str_of(r, "error") ? str_of(r, "error") : "?", NULL);
			json_decref(r);
			return code;
		}
		last = json_object_get(r, "last");
		if (!json_is_integer(json_object_get(last, "seq")) || str_of(last, "hash") == NULL ||
		    strlen(str_of(last, "hash")) != SYNC_AUDIT_HASH_HEX) {
			fprintf(stderr, "clmsync audit: the server's answer has no position to go on from\n");
			code = CLI_EXIT_SERVER;
			break;
		}
		pos.seq = (long long)json_integer_value(json_object_get(last, "seq"));
		memcpy(pos.hash, str_of(last, "hash"), SYNC_AUDIT_HASH_HEX + 1);
		term_progress_show(&p, rows, json_integer_value(json_object_get(r, "head")), false);
		if (json_is_true(json_object_get(r, "done"))) {
			term_progress_end(&p);
			code = verdict(as_json, true, rows, 0, NULL, pos.hash);
			json_decref(r);
			return code;
		}
		json_decref(r);
		r = NULL;
	}
	term_progress_end(&p);
	json_decref(r);
	return code;
}

struct offline_progress {
	struct term_progress p;
	long long head;
};

static void
on_rows(void *ud, long long rows)
{
	struct offline_progress *o = ud;

	term_progress_show(&o->p, rows, o->head, false);
}

/* verify --offline: the store named by --store, else DIR/clmsync.db of --data, else the
 * configuration's. A missing SQLite file is not created: there is nothing to verify. */
static int
verify_offline(const struct cli_args *a, int64_t every)
{
	const char *url = cli_get(a, "--store"), *data = cli_get(a, "--data"), *cfg_path = cli_get(a, "--config");
	struct offline_progress op;
	struct sync_audit_pos pos;
	struct cs_config *cfg = NULL;
	struct cs_error e = { 0 };
	struct store *s = NULL;
	char buf[PATH_MAX_LEN + 16];
	long long rows = 0, bad = 0;
	bool done = false;
	cs_err rc;
	int code = CLI_EXIT_SERVER;

	if (url == NULL && data != NULL) {
		snprintf(buf, sizeof(buf), "sqlite:%s/clmsync.db", data);
		url = buf;
	} else if (url == NULL) {
		if (cfg_path != NULL && (code = cli_config_load("audit", cfg_path, &cfg)) != 0)
			return code;
		if (cfg == NULL && cs_config_defaults(&cfg) != CS_OK) {
			fprintf(stderr, "clmsync audit: out of memory\n");
			return CLI_EXIT_SERVER;
		}
		snprintf(buf, sizeof(buf), "%s", cfg->store_url);
		url = buf;
	}
	if (strncmp(url, "sqlite:", 7) == 0 && access(url + 7, F_OK) != 0) {
		fprintf(stderr, "clmsync audit: no store at %s: %s\n", url + 7, strerror(errno));
		code = CLI_EXIT_SERVER;
		goto out;
	}
	/* the result is on stdout; only the store's warnings go to the log (stderr) */
	cs_log_setup(CS_LOG_WARN, 0);
	if (store_open(url, &s, &e) != CS_OK) {
		fprintf(stderr, "clmsync audit: cannot open the store %s: %s\n", url, e.msg);
		s = NULL;
		code = CLI_EXIT_SERVER;
		goto out;
	}
	memset(&op, 0, sizeof(op));
	term_progress_init(&op.p, "clmsync audit verify", "rows checked", every);
	if (sync_audit_head(s, &op.head, &e) != CS_OK)
		op.head = -1;
	sync_audit_pos_init(&pos);
	rc = sync_audit_verify_part(s, &pos, 0, &done, &rows, &bad, on_rows, &op, &e);
	term_progress_end(&op.p);
	if (rc == CS_OK)
		code = verdict(cli_get(a, "--json") != NULL, true, rows, 0, NULL, pos.hash);
	else if (rc == CS_EIO && bad > 0)
		code = verdict(cli_get(a, "--json") != NULL, false, rows, bad, e.msg, NULL);
	else {
		fprintf(stderr, "clmsync audit: cannot read the audit log after %lld rows: %s\n", rows, e.msg);
		code = CLI_EXIT_SERVER;
	}
out:
	store_close(s);
	cs_config_free(cfg);
	return code;
}

int
cmd_audit(int argc, char **argv)
{
	static const char *const search_only[] = { "--field", "--decision", "--mapping", "--since", "--until", "--limit" };
	struct cli_args a;
	struct admin_conn *c = NULL;
	const char *verb;
	long long limit = SEARCH_LIMIT_DEFAULT;
	int64_t every;
	int code;

	if ((code = cli_parse(cli_cmd_find("audit"), argc, argv, &a)) >= 0)
		return code;
	verb = a.npos > 0 ? a.pos[0] : "";
	if (strcmp(verb, "search") == 0) {
		const char *l = cli_get(&a, "--limit");
		if (a.npos > 2) {
			fprintf(stderr, "clmsync audit: search takes at most one ID (see --help)\n");
			return CLI_EXIT_USAGE;
		}
		if ((code = cli_not_with(&a, "--offline", "search")) >= 0 || (code = cli_not_with(&a, "--store", "search")) >= 0 ||
		    (code = cli_not_with(&a, "--progress-every", "search")) >= 0)
			return code;
		if (l != NULL) {
			char *end;
			errno = 0;
			limit = strtoll(l, &end, 10);
			if (errno != 0 || end == l || *end != '\0' || limit < 1 || limit > SEARCH_LIMIT_MAX) {
				fprintf(stderr, "clmsync audit: --limit is 1 to %d, not '%s'\n", SEARCH_LIMIT_MAX, l);
				return CLI_EXIT_USAGE;
			}
		}
	} else if (strcmp(verb, "verify") == 0) {
		if (a.npos > 1) {
			fprintf(stderr, "clmsync audit: verify takes no argument (see --help)\n");
			return CLI_EXIT_USAGE;
		}
		for (size_t i = 0; i < sizeof(search_only) / sizeof(search_only[0]); i++)
			if ((code = cli_not_with(&a, search_only[i], "verify")) >= 0)
				return code;
		if (!term_progress_every(cli_get(&a, "--progress-every"), &every)) {
			fprintf(stderr, "clmsync audit: --progress-every is 0.1 to 3600 seconds\n");
			return CLI_EXIT_USAGE;
		}
		if (cli_get(&a, "--offline") != NULL) {
			if ((code = cli_not_with(&a, "--admin-url", "--offline")) >= 0 ||
			    (code = cli_not_with(&a, "--token-file", "--offline")) >= 0)
				return code;
			if ((cli_get(&a, "--store") != NULL) + (cli_get(&a, "--data") != NULL) + (cli_get(&a, "--config") != NULL) > 1) {
				fprintf(stderr, "clmsync audit: give one of --store, --data and --config\n");
				return CLI_EXIT_USAGE;
			}
			return verify_offline(&a, every);
		}
		if (cli_get(&a, "--store") != NULL) {
			fprintf(stderr, "clmsync audit: --store is for verify --offline (see --help)\n");
			return CLI_EXIT_USAGE;
		}
	} else {
		fprintf(stderr, "clmsync audit: say `verify` or `search [ID]` (see --help)\n");
		return CLI_EXIT_USAGE;
	}
	if ((code = admin_conn_open(&a, &c)) != 0) {
		if (code == CLI_EXIT_SERVER && strcmp(verb, "verify") == 0)
			fprintf(stderr, "clmsync audit: with the server down, `clmsync audit verify --offline` reads the "
			                "store itself\n");
		return code;
	}
	if (strcmp(verb, "search") == 0)
		code = search(c, &a, a.npos > 1 ? a.pos[1] : NULL, limit);
	else {
		code = verify_online(c, cli_get(&a, "--json") != NULL, every);
		if (code == CLI_EXIT_SERVER)
			fprintf(stderr, "clmsync audit: with the server down, `clmsync audit verify --offline` reads the "
			                "store itself\n");
	}
	admin_conn_free(c);
	return code;
}

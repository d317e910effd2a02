/* cmd_sync.c - clmsync status|dlq|conflicts|reconcile|pause|resume|links|lineage: the operator's
 * commands on the sync engine, through the running server's admin API. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "salesforce/sfid.h"
#include "util/json.h"
#include "util/timeutil.h"

#define V1 "/admin/v1"
#define POLL_MS 250                 /* between looks at a request the engine is working on */
#define WAIT_MAX_S 86400
#define RESOLVE_WAIT_S 30
#define RECONCILE_WAIT_S 3600
#define VALUE_ARG_MAX 65536         /* bytes in a --value */
#define PAGE 1000                   /* entries per GET /dlq (the API's maximum) */
#define DLQ_MAX 100000              /* entries one list or replay --all takes */
#define ORGS_MAX 64                 /* reconcile requests one command follows */

/* --- shared ------------------------------------------------------------------------------------ */

/* Parses argv for command name: -1 to go on, else the exit code (help printed, usage error). */
static int
start(const char *name, int argc, char **argv, struct cli_args *a)
{
	return cli_parse(cli_cmd_find(name), argc, argv, a);
}

/* Finds the server and its token: -1 with *c set to go on, else the exit code. */
static int
connect_to(const struct cli_args *a, struct admin_conn **c)
{
	int code = admin_conn_open(a, c);

	return code == 0 ? -1 : code;
}

/* Finds the server and makes one call of it: *r gets the answer (a new reference), *c the
 * connection (the caller frees it with admin_conn_free, also after an error). Returns 0, or the
 * exit code with the reason on stderr. */
static int
call_once(const struct cli_args *a, struct admin_conn **c, const char *method, const char *path, const json_t *body,
          json_t **r)
{
	long status;
	int code = connect_to(a, c);

	return code >= 0 ? code : admin_call(*c, method, path, body, false, &status, r);
}

static const char *
str_of(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long
int_of(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static bool
as_json(const struct cli_args *a)
{
	return cli_get(a, "--json") != NULL;
}

/* A new compact JSON text of v (a missing value as "null"); NULL when out of memory. */
static char *
json_text(const json_t *v)
{
	return v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("null");
}

/* Prints "LABEL  value" with the label padded to width, the value escaped. */
static void
put_field(const char *label, const char *value)
{
	printf("%-12s ", label);
	term_put(stdout, value);
	fputc('\n', stdout);
}

/* Prints v as indented JSON, escaped for the terminal, each line after indent spaces. */
static void
put_json_block(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
	struct cs_buf b;

	if (s == NULL) {
		fputs("  (out of memory)\n", stdout);
		return;
	}
	cs_buf_init(&b, 64u << 20);
	/* jansson writes the line breaks; every break inside a value is an escape already */
	if (term_escape(&b, s, strlen(s), true) == CS_OK && b.data != NULL) {
		const char *p = b.data, *e;
		while (*p != '\0') {
			e = strchr(p, '\n');
			printf("  %.*s\n", (int)(e ? e - p : (ptrdiff_t)strlen(p)), p);
			if (e == NULL)
				break;
			p = e + 1;
		}
	} else
		fputs("  (too large to show; see --json)\n", stdout);
	cs_buf_cleanup(&b);
	free(s);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Seconds from --wait (dflt when not given) into *out; CLI_EXIT_USAGE when malformed. */
static int
wait_of(const struct cli_args *a, long dflt, long *out)
{
	const char *s = cli_get(a, "--wait");
	char *end;
	long v;

	*out = dflt;
	if (s == NULL)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > WAIT_MAX_S) {
		fprintf(stderr, "clmsync %s: --wait is 0 to %d seconds, not '%s'\n", a->cmd->name, WAIT_MAX_S, s);
		return CLI_EXIT_USAGE;
	}
	*out = v;
	return -1;
}

static int
every_of(const struct cli_args *a, int64_t *ms)
{
	if (term_progress_every(cli_get(a, "--progress-every"), ms))
		return -1;
	fprintf(stderr, "clmsync %s: --progress-every is 0.1 to 3600 seconds, not '%s'\n", a->cmd->name,
	        cli_get(a, "--progress-every"));
	return CLI_EXIT_USAGE;
}

/* Says that verb takes n positional arguments (after itself) when it got another number. */
static int
want_args(const struct cli_args *a, int n, const char *what)
{
	if (a->npos == n + 1)
		return -1;
	fprintf(stderr, "clmsync %s: %s (see --help)\n", a->cmd->name, what);
	return CLI_EXIT_USAGE;
}

/* The path prefix + escaped segment into out; false (after saying so) when too long. */
static bool
path_of(const char *cmd, char *out, size_t n, const char *prefix, const char *seg, const char *suffix)
{
	out[0] = '\0';
	if (!admin_path_append(out, n, prefix) || !admin_path_escape(out, n, seg) || !admin_path_append(out, n, suffix)) {
		fprintf(stderr, "clmsync %s: the id is too long\n", cmd);
		return false;
	}
	return true;
}

/* The record an entry is about: its repository id, else its Salesforce id. */
static const char *
record_of(const json_t *o)
{
	const char *c = str_of(o, "clm");

	return c != NULL && c[0] != '\0' ? c : str_of(o, "sf");
}

/* The number of a dead-letter id without its leading zeros, for people. */
static const char *
short_id(const char *id)
{
	if (id == NULL)
		return "?";
	while (id[0] == '0' && id[1] != '\0')
		id++;
	return id;
}

static void
out_of_memory(const char *cmd)
{
	fprintf(stderr, "clmsync %s: out of memory\n", cmd);
}

/* --- status ------------------------------------------------------------------------------------ */

/* Appends a reason the server needs attention to r (bounded). */
static void
reason(char *r, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
reason(char *r, size_t n, const char *fmt, ...)
{
	size_t len = strlen(r);
	va_list ap;

	if (len + 3 >= n)
		return;
	if (len > 0) {
		memcpy(r + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r + len, n - len, fmt, ap);
	va_end(ap);
}

/* The reasons the status st needs attention into r ("" when healthy). */
static void
judge(const json_t *st, char *r, size_t n)
{
	int64_t now = int_of(st, "now_ms");
	long long dlq = int_of(st, "dlq"), conf = int_of(st, "conflicts");
	const json_t *o;
	size_t i;
	char d[32];

	r[0] = '\0';
	json_array_foreach(json_object_get(st, "orgs"), i, o) {
		const json_t *sm = json_object_get(o, "stream"), *au = json_object_get(o, "auth");
		const char *org = str_of(o, "org");
		int64_t since = int_of(sm, "since_ms");
		if (!json_is_true(json_object_get(o, "engine")))
			continue;
		if (au != NULL && !json_is_true(json_object_get(au, "authenticated"))) {
			const char *err = str_of(au, "error") ?: "";
			reason(r, n, "org %s: not logged in to Salesforce%s%s", org ? org : "?", err[0] ? ": " : "", err);
		}
		if (json_is_true(json_object_get(sm, "connected")))
			continue;
		if (since > 0 && now > since) {
			term_duration(now - since, d, sizeof(d));
			reason(r, n, "org %s: change stream down for %s", org ? org : "?", d);
		} else
			reason(r, n, "org %s: change stream not connected", org ? org : "?");
	}
	if (dlq > 0)
		reason(r, n, "%lld dead-letter entr%s (clmsync dlq list)", dlq, dlq == 1 ? "y" : "ies");
	if (conf > 0)
		reason(r, n, "%lld open conflict%s (clmsync conflicts list)", conf, conf == 1 ? "" : "s");
}

static void
put_status(const json_t *st)
{
	static const char *const oh[] = { "ORG", "STREAM", "SINCE", "LAST EVENT", "INBOX", "OUTBOX", "BACKLOG", "LAG",
	                                  "API CALLS" };
	static const char *const mh[] = { "MAPPING", "ORG", "ENTITY", "SOBJECT", "STATE", "TO SF", "TO CLM", "DLQ",
	                                  "CONFLICTS" };
	static const int ow[] = { 20, 10, 10, 12, 8, 8, 8, 10, 16 }, mw[] = { 24, 20, 14, 24, 8, 10, 10, 8, 10 };
	struct term_table *ot = term_table_new(9, oh, ow), *mt = term_table_new(9, mh, mw);
	int64_t now = int_of(st, "now_ms");
	const json_t *o, *m;
	size_t i, k;
	char d[32], buf[9][48];

	if (ot == NULL || mt == NULL) {
		out_of_memory("status");
		goto out;
	}
	term_duration(int_of(st, "uptime_s") * 1000, d, sizeof(d));
	printf("clmsync ");
	term_put(stdout, str_of(st, "version"));
	printf(", up %s, sync engine %s\n\n", d, json_is_true(json_object_get(st, "engine")) ? "on" : "off");
	json_array_foreach(json_object_get(st, "orgs"), i, o) {
		const json_t *sm = json_object_get(o, "stream"), *api = json_object_get(o, "api");
		bool eng = json_is_true(json_object_get(o, "engine"));
		int64_t since = int_of(sm, "since_ms"), age = int_of(o, "last_event_age_ms");
		const char *cells[9];
		cells[0] = str_of(o, "org");
		cells[1] = !eng ? "no engine" : json_is_true(json_object_get(sm, "connected")) ? "connected" : "DOWN";
		buf[2][0] = '\0';
		if (eng && since > 0 && now > since)
			term_duration(now - since, buf[2], sizeof(buf[2]));
		cells[2] = buf[2];
		if (age >= 0) {
			term_duration(age, d, sizeof(d));
			snprintf(buf[3], sizeof(buf[3]), "%s ago", d);
		} else
			snprintf(buf[3], sizeof(buf[3]), "%s", eng ? "none yet" : "");
		cells[3] = buf[3];
		snprintf(buf[4], sizeof(buf[4]), "%lld", int_of(o, "inbox"));
		snprintf(buf[5], sizeof(buf[5]), "%lld", int_of(o, "outbox"));
		snprintf(buf[6], sizeof(buf[6]), "%lld", int_of(o, "feed_backlog"));
		term_duration(int_of(o, "lag_ms"), buf[7], sizeof(buf[7]));
		buf[8][0] = '\0';
		if (int_of(api, "max") > 0)
			snprintf(buf[8], sizeof(buf[8]), "%lld/%lld", int_of(api, "used"), int_of(api, "max"));
		for (k = 4; k < 9; k++)
			cells[k] = buf[k];
		term_table_add(ot, cells);
		json_array_foreach(json_object_get(o, "mappings"), k, m) {
			const json_t *c = json_object_get(m, "counters");
			const char *mc[9];
			char n[4][24];
			mc[0] = str_of(m, "name");
			mc[1] = str_of(o, "org");
			mc[2] = str_of(m, "entity");
			mc[3] = str_of(m, "sobject");
			mc[4] = json_is_true(json_object_get(m, "paused")) ? "PAUSED" : "running";
			snprintf(n[0], sizeof(n[0]), "%lld", int_of(c, "to_salesforce"));
			snprintf(n[1], sizeof(n[1]), "%lld", int_of(c, "to_clm"));
			snprintf(n[2], sizeof(n[2]), "%lld", int_of(m, "dlq"));
			snprintf(n[3], sizeof(n[3]), "%lld", int_of(m, "conflicts"));
			mc[5] = c != NULL ? n[0] : NULL;
			mc[6] = c != NULL ? n[1] : NULL;
			mc[7] = n[2];
			mc[8] = n[3];
			term_table_add(mt, mc);
		}
	}
	if (term_table_rows(ot) > 0) {
		term_table_print(ot, stdout);
		fputc('\n', stdout);
	} else
		printf("no org has mappings: nothing is synced\n\n");
	if (term_table_rows(mt) > 0) {
		term_table_print(mt, stdout);
		json_array_foreach(json_object_get(st, "orgs"), i, o) {
			json_array_foreach(json_object_get(o, "mappings"), k, m) {
				const json_t *p = json_object_get(m, "pause");
				if (!json_is_true(json_object_get(p, "paused")))
					continue;
				term_duration(now - int_of(p, "since_ms"), d, sizeof(d));
				printf("  ");
				term_put(stdout, str_of(m, "name"));
				printf(" paused %s ago by ", d);
				term_put(stdout, str_of(p, "by"));
				printf(": ");
				term_put(stdout, str_of(p, "reason"));
				printf(" (held: %lld repository, %lld Salesforce)\n", int_of(p, "held_clm"),
				       int_of(p, "held_salesforce"));
			}
		}
		fputc('\n', stdout);
	}
	printf("dead-letter queue: %lld entr%s; open conflicts: %lld\n", int_of(st, "dlq"),
	       int_of(st, "dlq") == 1 ? "y" : "ies", int_of(st, "conflicts"));
out:
	term_table_free(ot);
	term_table_free(mt);
}

int
cmd_status(int argc, char **argv)
{
	struct cli_args a;
	struct admin_conn *c = NULL;
	json_t *st = NULL;
	char why[2048];
	int code;

	if ((code = start("status", argc, argv, &a)) >= 0)
		return code;
	if (a.npos > 0) {
		fprintf(stderr, "clmsync status: unexpected argument '%s' (see --help)\n", a.pos[0]);
		return CLI_EXIT_USAGE;
	}
	if ((code = call_once(&a, &c, "GET", V1 "/status", NULL, &st)) != 0)
		goto out;
	judge(st, why, sizeof(why));
	if (as_json(&a))
		code = cli_put_json(NULL, st);
	else {
		put_status(st);
		if (why[0] == '\0')
			printf("health: ok\n");
		else {
			printf("health: ATTENTION: ");
			term_put(stdout, why);
			fputc('\n', stdout);
		}
	}
	if (code == 0 && why[0] != '\0')
		code = CLI_EXIT_BAD;
out:
	json_decref(st);
	admin_conn_free(c);
	return code;
}

/* --- dlq --------------------------------------------------------------------------------------- */

/* Every dead-letter entry (of mapping only, when not NULL), up to DLQ_MAX: *out a new array. */
static int
dlq_all(struct admin_conn *c, const char *mapping, json_t **out)
{
	char path[ADMIN_PATH_MAX], after[64] = "";
	json_t *all = json_array(), *page = NULL, *e;
	long status;
	size_t i, got;
	int code = 0;

	*out = NULL;
	if (all == NULL) {
		out_of_memory(admin_conn_cmd(c));
		return CLI_EXIT_BAD;
	}
	do {
		snprintf(path, sizeof(path), V1 "/dlq?limit=%d&after=", PAGE);
		if (!admin_path_escape(path, sizeof(path), after)) {
			code = CLI_EXIT_BAD;
			break;
		}
		if ((code = admin_call(c, "GET", path, NULL, false, &status, &page)) != 0)
			break;
		got = json_array_size(json_object_get(page, "entries"));
		json_array_foreach(json_object_get(page, "entries"), i, e) {
			snprintf(after, sizeof(after), "%s", str_of(e, "id") ? str_of(e, "id") : "");
			if (mapping != NULL && strcmp(str_of(e, "mapping") ? str_of(e, "mapping") : "", mapping) != 0)
				continue;
			if (json_array_size(all) < DLQ_MAX)
				json_array_append(all, e);
		}
		json_decref(page);
		page = NULL;
	} while (got == PAGE && after[0] != '\0' && json_array_size(all) < DLQ_MAX);
	if (code != 0) {
		json_decref(all);
		return code;
	}
	*out = all;
	return 0;
}

static int
dlq_list(struct admin_conn *c, const struct cli_args *a)
{
	static const char *const h[] = { "ID", "ORG", "MAPPING", "RECORD", "DIRECTION", "CODE", "MESSAGE" };
	static const int w[] = { 8, 16, 20, 29, 10, 24, 60 };
	struct term_table *t = NULL;
	json_t *all = NULL, *e, *doc;
	size_t i;
	int code;

	if ((code = dlq_all(c, cli_get(a, "--mapping"), &all)) != 0)
		return code;
	if (as_json(a)) {
		doc = json_pack("{s:O}", "entries", all);
		code = doc != NULL ? cli_put_json(NULL, doc) : CLI_EXIT_BAD;
		json_decref(doc);
		json_decref(all);
		return code;
	}
	if (json_array_size(all) == 0) {
		printf("the dead-letter queue is empty%s\n", cli_get(a, "--mapping") ? " for this mapping" : "");
		json_decref(all);
		return 0;
	}
	if ((t = term_table_new(7, h, w)) == NULL) {
		out_of_memory("dlq");
		json_decref(all);
		return CLI_EXIT_BAD;
	}
	json_array_foreach(all, i, e) {
		const json_t *err = json_object_get(e, "error");
		const char *cells[7] = { short_id(str_of(e, "id")), str_of(e, "org"), str_of(e, "mapping"), record_of(e),
		                         str_of(e, "direction"), str_of(err, "code"), str_of(err, "message") };
		term_table_add(t, cells);
	}
	term_table_print(t, stdout);
	printf("%zu entr%s%s\n", json_array_size(all), json_array_size(all) == 1 ? "y" : "ies",
	       json_array_size(all) >= DLQ_MAX ? " shown (the first ones; there are more)" : "");
	term_table_free(t);
	json_decref(all);
	return 0;
}

/* GET /dlq/{id} into *out. */
static int
dlq_get(struct admin_conn *c, const char *id, json_t **out)
{
	char path[ADMIN_PATH_MAX];
	long status;

	*out = NULL;
	if (!path_of("dlq", path, sizeof(path), V1 "/dlq/", id, ""))
		return CLI_EXIT_USAGE;
	return admin_call(c, "GET", path, NULL, false, &status, out);
}

static int
dlq_show(struct admin_conn *c, const struct cli_args *a, const char *id)
{
	const json_t *err;
	json_t *d = NULL;
	int code;

	if ((code = dlq_get(c, id, &d)) != 0)
		return code;
	if (as_json(a)) {
		code = cli_put_json(NULL, d);
		json_decref(d);
		return code;
	}
	err = json_object_get(d, "error");
	put_field("id", short_id(str_of(d, "id")));
	put_field("org", str_of(d, "org"));
	put_field("mapping", str_of(d, "mapping"));
	put_field("repository", str_of(d, "clm"));
	put_field("salesforce", str_of(d, "sf"));
	put_field("direction", str_of(d, "direction"));
	put_field("queue", str_of(d, "queue"));
	put_field("error code", str_of(err, "code"));
	put_field("error", str_of(err, "message"));
	put_field("time", str_of(d, "ts"));
	printf("item:\n");
	put_json_block(json_object_get(d, "item"));
	json_decref(d);
	return 0;
}

static int
dlq_replay_one(struct admin_conn *c, const struct cli_args *a, const char *id)
{
	char path[ADMIN_PATH_MAX];
	json_t *d = NULL, *r = NULL;
	long status;
	int code;

	/* read first only to say what went back where */
	if ((code = dlq_get(c, id, &d)) != 0)
		return code;
	if (!path_of("dlq", path, sizeof(path), V1 "/dlq/", id, "/replay")) {
		json_decref(d);
		return CLI_EXIT_USAGE;
	}
	if ((code = admin_call(c, "POST", path, NULL, false, &status, &r)) == 0) {
		if (as_json(a))
			code = cli_put_json(NULL, r);
		else {
			printf("replayed %s: ", short_id(str_of(d, "id")));
			term_put(stdout, str_of(d, "mapping"));
			fputc(' ', stdout);
			term_put(stdout, record_of(d));
			printf(" is back on ");
			term_put(stdout, str_of(d, "queue"));
			fputc('\n', stdout);
		}
	}
	json_decref(d);
	json_decref(r);
	return code;
}

static int
dlq_replay_all(struct admin_conn *c, const struct cli_args *a)
{
	struct term_progress p;
	json_t *all = NULL, *e, *r = NULL;
	long long done = 0, gone = 0, failed = 0, n;
	char path[ADMIN_PATH_MAX];
	int64_t every;
	long status;
	size_t i;
	int code;

	if ((code = every_of(a, &every)) >= 0)
		return code;
	/* the ids are taken first: an item that fails again comes back under a new, higher id, and
	 * following the queue to its end would replay it for ever */
	if ((code = dlq_all(c, cli_get(a, "--mapping"), &all)) != 0)
		return code;
	n = (long long)json_array_size(all);
	term_progress_init(&p, "clmsync dlq replay", "entries", every);
	json_array_foreach(all, i, e) {
		term_progress_show(&p, (long long)i, n, false);
		if (!path_of("dlq", path, sizeof(path), V1 "/dlq/", str_of(e, "id") ? str_of(e, "id") : "", "/replay")) {
			failed++;
			continue;
		}
		code = admin_call(c, "POST", path, NULL, true, &status, &r);
		json_decref(r);
		r = NULL;
		if (code != 0 && status == 0) {
			/* no answer at all: the server is gone; what was replayed stays replayed */
			term_progress_end(&p);
			fprintf(stderr, "clmsync dlq: stopped after %lld of %lld entries\n", done, n);
			json_decref(all);
			return code;
		}
		if (code != 0)
			failed++;
		else if (status == 404)
			gone++;
		else
			done++;
	}
	term_progress_show(&p, n, n, false);
	term_progress_end(&p);
	json_decref(all);
	if (as_json(a)) {
		json_t *j = json_pack("{s:I, s:I, s:I}", "replayed", (json_int_t)done, "failed", (json_int_t)failed, "gone",
		                      (json_int_t)gone);
		code = j != NULL ? cli_put_json(NULL, j) : CLI_EXIT_BAD;
		json_decref(j);
	} else if (n == 0)
		printf("the dead-letter queue is empty%s: nothing to replay\n", cli_get(a, "--mapping") ? " for this mapping" : "");
	else
		printf("replayed %lld of %lld entr%s%s%s\n", done, n, n == 1 ? "y" : "ies",
		       failed > 0 ? "; some could not be replayed (see above)" : "",
		       gone > 0 ? "; some had left the queue meanwhile" : "");
	if (code == 0 && failed > 0)
		code = CLI_EXIT_BAD;
	return code;
}

static int
dlq_discard(struct admin_conn *c, const struct cli_args *a, const char *id)
{
	char path[ADMIN_PATH_MAX];
	json_t *body, *r = NULL;
	long status;
	int code;

	if (!path_of("dlq", path, sizeof(path), V1 "/dlq/", id, "/discard"))
		return CLI_EXIT_USAGE;
	if ((body = json_pack("{s:s}", "reason", cli_get(a, "--reason"))) == NULL) {
		fprintf(stderr, "clmsync dlq: --reason is not valid UTF-8\n");
		return CLI_EXIT_USAGE;
	}
	code = admin_call(c, "POST", path, body, false, &status, &r);
	if (code == 0 && as_json(a))
		code = cli_put_json(NULL, r);
	else if (code == 0)
		printf("discarded %s (the reason is in the audit log)\n", short_id(str_of(r, "id")));
	json_decref(body);
	json_decref(r);
	return code;
}

int
cmd_dlq(int argc, char **argv)
{
	struct cli_args a;
	struct admin_conn *c = NULL;
	const char *verb, *id;
	int code;

	if ((code = start("dlq", argc, argv, &a)) >= 0)
		return code;
	verb = a.npos > 0 ? a.pos[0] : "";
	id = a.npos > 1 ? a.pos[1] : NULL;
	if (strcmp(verb, "list") == 0) {
		if ((code = want_args(&a, 0, "list takes no argument")) >= 0 || (code = cli_not_with(&a, "--all", "list")) >= 0 ||
		    (code = cli_not_with(&a, "--reason", "list")) >= 0 ||
		    (code = cli_not_with(&a, "--progress-every", "list")) >= 0)
			return code;
	} else if (strcmp(verb, "show") == 0) {
		if ((code = want_args(&a, 1, "show takes the entry's ID")) >= 0 || (code = cli_not_with(&a, "--all", "show")) >= 0 ||
		    (code = cli_not_with(&a, "--reason", "show")) >= 0 || (code = cli_not_with(&a, "--mapping", "show")) >= 0 ||
		    (code = cli_not_with(&a, "--progress-every", "show")) >= 0)
			return code;
	} else if (strcmp(verb, "replay") == 0) {
		bool all = cli_get(&a, "--all") != NULL;
		if ((code = want_args(&a, all ? 0 : 1, "replay takes the entry's ID, or --all")) >= 0 ||
		    (code = cli_not_with(&a, "--reason", "replay")) >= 0)
			return code;
		if (!all && ((code = cli_not_with(&a, "--mapping", "replay ID")) >= 0 ||
		             (code = cli_not_with(&a, "--progress-every", "replay ID")) >= 0))
			return code;
	} else if (strcmp(verb, "discard") == 0) {
		if ((code = want_args(&a, 1, "discard takes the entry's ID and --reason TEXT")) >= 0 ||
		    (code = cli_not_with(&a, "--all", "discard")) >= 0 || (code = cli_not_with(&a, "--mapping", "discard")) >= 0 ||
		    (code = cli_not_with(&a, "--progress-every", "discard")) >= 0)
			return code;
		if (cli_get(&a, "--reason") == NULL || cli_get(&a, "--reason")[0] == '\0') {
			fprintf(stderr, "clmsync dlq: discard needs --reason TEXT (it goes into the audit log)\n");
			return CLI_EXIT_USAGE;
		}
	} else {
		fprintf(stderr, "clmsync dlq: %s%s%s (see --help)\n", verb[0] ? "unknown action '" : "say list, show ID, "
		        "replay ID|--all or discard ID", verb, verb[0] ? "'" : "");
		return CLI_EXIT_USAGE;
	}
	if ((code = connect_to(&a, &c)) >= 0)
		return code;
	if (strcmp(verb, "list") == 0)
		code = dlq_list(c, &a);
	else if (strcmp(verb, "show") == 0)
		code = dlq_show(c, &a, id);
	else if (strcmp(verb, "replay") == 0)
		code = id != NULL ? dlq_replay_one(c, &a, id) : dlq_replay_all(c, &a);
	else
		code = dlq_discard(c, &a, id);
	admin_conn_free(c);
	return code;
}

/* --- conflicts --------------------------------------------------------------------------------- */

/* The path of conflict id (<mapping>/<clm id>/<field>, each part escaped) + suffix. */
static bool
conflict_path(const char *id, const char *suffix, char *out, size_t n)
{
	char part[ADMIN_PATH_MAX];
	const char *p = id;

	out[0] = '\0';
	if (!admin_path_append(out, n, V1 "/conflicts"))
		goto long_id;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len >= sizeof(part))
			goto long_id;
		memcpy(part, p, len);
		part[len] = '\0';
		if (!admin_path_append(out, n, "/") || !admin_path_escape(out, n, part))
			goto long_id;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	if (!admin_path_append(out, n, suffix))
		goto long_id;
	return true;
long_id:
	fprintf(stderr, "clmsync conflicts: the id is too long\n");
	return false;
}

static int
conflicts_list(struct admin_conn *c, const struct cli_args *a)
{
	static const char *const h[] = { "ID", "FIELD", "REPOSITORY", "SALESFORCE", "SINCE" };
	static const int w[] = { 70, 24, 30, 30, 24 };
	const char *only = cli_get(a, "--mapping");
	struct term_table *t = NULL;
	json_t *r = NULL, *list, *x, *keep = NULL;
	long status;
	size_t i;
	int code;

	if ((code = admin_call(c, "GET", V1 "/conflicts", NULL, false, &status, &r)) != 0)
		return code;
	list = json_object_get(r, "conflicts");
	if ((keep = json_array()) == NULL) {
		out_of_memory("conflicts");
		code = CLI_EXIT_BAD;
		goto out;
	}
	json_array_foreach(list, i, x)
		if (only == NULL || strcmp(str_of(x, "mapping") ? str_of(x, "mapping") : "", only) == 0)
			json_array_append(keep, x);
	if (as_json(a)) {
		json_t *doc = json_pack("{s:O}", "conflicts", keep);
		code = doc != NULL ? cli_put_json(NULL, doc) : CLI_EXIT_BAD;
		json_decref(doc);
		goto out;
	}
	if (json_array_size(keep) == 0) {
		printf("no open conflicts\n");
		goto out;
	}
	if ((t = term_table_new(5, h, w)) == NULL) {
		out_of_memory("conflicts");
		code = CLI_EXIT_BAD;
		goto out;
	}
	json_array_foreach(keep, i, x) {
		char *cv = json_text(json_object_get(x, "clm_value")), *sv = json_text(json_object_get(x, "sf_value"));
		const char *cells[5] = { str_of(x, "id"), str_of(x, "field"), cv, sv, str_of(x, "ts") };
		term_table_add(t, cells);
		free(cv);
		free(sv);
	}
	term_table_print(t, stdout);
	printf("%zu open conflict%s\n", json_array_size(keep), json_array_size(keep) == 1 ? "" : "s");
out:
	term_table_free(t);
	json_decref(keep);
	json_decref(r);
	return code;
}

static int
conflict_get(struct admin_conn *c, const char *id, bool quiet_404, long *status, json_t **out)
{
	char path[ADMIN_PATH_MAX];

	*out = NULL;
	if (!conflict_path(id, "", path, sizeof(path)))
		return CLI_EXIT_USAGE;
	return admin_call(c, "GET", path, NULL, quiet_404, status, out);
}

static int
conflicts_show(struct admin_conn *c, const struct cli_args *a, const char *id)
{
	json_t *x = NULL;
	char *v;
	long status;
	int code;

	if ((code = conflict_get(c, id, false, &status, &x)) != 0)
		return code;
	if (as_json(a)) {
		code = cli_put_json(NULL, x);
		json_decref(x);
		return code;
	}
	put_field("id", str_of(x, "id"));
	put_field("org", str_of(x, "org"));
	put_field("mapping", str_of(x, "mapping"));
	put_field("repository", str_of(x, "clm"));
	put_field("salesforce", str_of(x, "sf"));
	put_field("field", str_of(x, "field"));
	put_field("sf field", str_of(x, "sf_field"));
	put_field("since", str_of(x, "ts"));
	v = json_text(json_object_get(x, "base"));
	put_field("base", v);
	free(v);
	v = json_text(json_object_get(x, "clm_value"));
	put_field("repository =", v);
	free(v);
	v = json_text(json_object_get(x, "sf_value"));
	put_field("salesforce =", v);
	free(v);
	json_decref(x);
	return 0;
}

static int
conflicts_resolve(struct admin_conn *c, const struct cli_args *a, const char *id, const json_t *value)
{
	const char *take = cli_get(a, "--take");
	char path[ADMIN_PATH_MAX];
	json_t *x = NULL, *body = NULL, *r = NULL, *now = NULL;
	const json_t *chosen;
	char *vtext = NULL;
	int64_t deadline;
	long wait_s, status;
	bool applied = false;
	int code;

	if ((code = wait_of(a, RESOLVE_WAIT_S, &wait_s)) >= 0)
		return code;
	if ((code = conflict_get(c, id, false, &status, &x)) != 0)
		return code;
	body = take != NULL ? json_pack("{s:s}", "take", take) : json_pack("{s:O}", "value", value);
	if (body == NULL || !conflict_path(id, "/resolve", path, sizeof(path))) {
		code = body == NULL ? CLI_EXIT_BAD : CLI_EXIT_USAGE;
		goto out;
	}
	if ((code = admin_call(c, "POST", path, body, false, &status, &r)) != 0)
		goto out;
	chosen = take == NULL ? value : strcmp(take, "clm") == 0 ? json_object_get(x, "clm_value") :
	                                                            json_object_get(x, "sf_value");
	if ((vtext = json_text(chosen)) == NULL) {
		out_of_memory("conflicts");
		code = CLI_EXIT_BAD;
		goto out;
	}
	/* the engine removes the conflict in the transaction that applies the value: its absence is
	 * the answer */
	deadline = cs_time_mono_ms() + (int64_t)wait_s * 1000;
	while (wait_s > 0) {
		if ((code = conflict_get(c, id, true, &status, &now)) != 0)
			goto out;
		json_decref(now);
		now = NULL;
		if (status == 404) {
			applied = true;
			break;
		}
		if (cs_time_mono_ms() >= deadline)
			break;
		sleep_ms(POLL_MS);
	}
	if (as_json(a)) {
		json_object_set_new(r, "applied", json_boolean(applied));
		json_object_set(r, "value", chosen != NULL ? (json_t *)chosen : json_null());
		code = cli_put_json(NULL, r);
	} else {
		fputs(applied ? "resolved: " : "requested: ", stdout);
		term_put(stdout, str_of(x, "field"));
		fputs(" of ", stdout);
		term_put(stdout, record_of(x));
		fputs(" = ", stdout);
		term_put(stdout, vtext);
		fputc('\n', stdout);
	}
	if (!applied && wait_s > 0) {
		fprintf(stderr, "clmsync conflicts: requested, but not applied within %ld s; the request stays queued\n",
		        wait_s);
		code = CLI_EXIT_PENDING;
	}
out:
	free(vtext);
	json_decref(x);
	json_decref(body);
	json_decref(r);
	return code;
}

int
cmd_conflicts(int argc, char **argv)
{
	struct cli_args a;
	struct admin_conn *c = NULL;
	struct cs_error e = { 0 };
	json_t *value = NULL;
	const char *verb, *id;
	int code;

	if ((code = start("conflicts", argc, argv, &a)) >= 0)
		return code;
	verb = a.npos > 0 ? a.pos[0] : "";
	id = a.npos > 1 ? a.pos[1] : NULL;
	if (strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0) {
		bool list = strcmp(verb, "list") == 0;
		if ((code = want_args(&a, list ? 0 : 1, list ? "list takes no argument" : "show takes the conflict's ID")) >= 0 ||
		    (code = cli_not_with(&a, "--take", verb)) >= 0 || (code = cli_not_with(&a, "--value", verb)) >= 0 ||
		    (code = cli_not_with(&a, "--wait", verb)) >= 0 || (!list && (code = cli_not_with(&a, "--mapping", verb)) >= 0))
			return code;
	} else if (strcmp(verb, "resolve") == 0) {
		const char *t = cli_get(&a, "--take"), *v = cli_get(&a, "--value");
		if ((code = want_args(&a, 1, "resolve takes the conflict's ID")) >= 0 ||
		    (code = cli_not_with(&a, "--mapping", verb)) >= 0)
			return code;
		if ((t == NULL) == (v == NULL)) {
			fprintf(stderr, "clmsync conflicts: resolve takes either --take clm|salesforce or --value JSON\n");
			return CLI_EXIT_USAGE;
		}
		if (t != NULL && strcmp(t, "clm") != 0 && strcmp(t, "salesforce") != 0) {
			fprintf(stderr, "clmsync conflicts: --take is clm or salesforce\n");
			return CLI_EXIT_USAGE;
		}
		if (v != NULL) {
			size_t n = strlen(v);
			if (n > VALUE_ARG_MAX) {
				fprintf(stderr, "clmsync conflicts: --value is %zu bytes; the limit is %d\n", n, VALUE_ARG_MAX);
				return CLI_EXIT_USAGE;
			}
			if (cs_json_parse(v, n, &value, &e) != CS_OK) {
				fprintf(stderr, "clmsync conflicts: --value is not JSON (%s); a text is written '\"like this\"'\n",
				        e.msg);
				return CLI_EXIT_USAGE;
			}
		}
	} else {
		fprintf(stderr, "clmsync conflicts: %s%s%s (see --help)\n", verb[0] ? "unknown action '" :
		        "say list, show ID or resolve ID", verb, verb[0] ? "'" : "");
		return CLI_EXIT_USAGE;
	}
	if ((code = connect_to(&a, &c)) >= 0)
		goto out;
	if (strcmp(verb, "list") == 0)
		code = conflicts_list(c, &a);
	else if (strcmp(verb, "show") == 0)
		code = conflicts_show(c, &a, id);
	else
		code = conflicts_resolve(c, &a, id, value);
out:
	json_decref(value);
	admin_conn_free(c);
	return code;
}

/* --- reconcile ------------------------------------------------------------------------------- */

struct rq {
	char org[CS_CONFIG_NAME_MAX + 1];
	char id[64];
	json_t *res;                      /* the engine's answer, NULL while waiting */
	bool no_engine;                   /* no engine serves the org on this server: nobody answers */
};

/* The exit code of one result: 0, or CLI_EXIT_BAD for drift without repair or a stopped run. */
static int
result_code(const json_t *r, bool repair)
{
	if (!json_is_true(json_object_get(r, "ok")))
		return CLI_EXIT_BAD;
	return int_of(r, "drift") > 0 && !repair ? CLI_EXIT_BAD : 0;
}

static void
put_result(const char *who, const json_t *r, bool repair)
{
	long long checked = int_of(r, "checked"), drift = int_of(r, "drift");

	printf("%s: ", who);
	if (!json_is_true(json_object_get(r, "ok"))) {
		printf("stopped early after %lld records compared, %lld differed: ", checked, drift);
		term_put(stdout, str_of(r, "error"));
		fputc('\n', stdout);
	} else if (drift > 0)
		printf("%lld records compared, %lld differed (%s)\n", checked, drift, repair ? "repaired" : "reported");
	else
		printf("%lld records compared, %lld differed\n", checked, drift);
}

/* Polls every request until answered or the deadline; a progress line meanwhile. */
static int
reconcile_wait(struct admin_conn *c, struct rq *rqs, size_t n, long wait_s, int64_t every)
{
	struct term_progress p;
	char path[ADMIN_PATH_MAX];
	int64_t deadline = cs_time_mono_ms() + (int64_t)wait_s * 1000;
	size_t pending = n;
	long status;
	int code = 0;

	term_progress_init(&p, "clmsync reconcile", "records compared", every);
	while (pending > 0) {
		long long done = 0, total = 0;
		bool known = true;
		for (size_t i = 0; i < n; i++) {
			json_t *r = NULL, *pr;
			size_t k;
			bool served = false;
			if (rqs[i].no_engine)
				continue;
			if (rqs[i].res != NULL) {
				done += int_of(rqs[i].res, "checked");
				total += int_of(rqs[i].res, "checked");
				continue;
			}
			if (!path_of("reconcile", path, sizeof(path), V1 "/reconcile/", rqs[i].id, "")) {
				code = CLI_EXIT_USAGE;
				goto out;
			}
			if ((code = admin_call(c, "GET", path, NULL, false, &status, &r)) != 0)
				goto out;
			if (status == 200) {
				rqs[i].res = r;
				pending--;
				done += int_of(r, "checked");
				total += int_of(r, "checked");
				continue;
			}
			/* 202: what the org's engine is doing now */
			json_array_foreach(json_object_get(r, "progress"), k, pr) {
				if (strcmp(str_of(pr, "org") ? str_of(pr, "org") : "", rqs[i].org) != 0)
					continue;
				served = true;
				if (int_of(pr, "running_since_ms") > 0) {
					done += int_of(pr, "checked_so_far");
					total += int_of(pr, "expected");
				} else
					known = false;
			}
			json_decref(r);
			/* the progress lists the orgs the server's engine works for: waiting on another
			 * would last until --wait runs out */
			if (!served) {
				rqs[i].no_engine = true;
				pending--;
			}
		}
		term_progress_show(&p, done, known && total > 0 && total >= done ? total : -1, pending > 0);
		if (pending == 0 || cs_time_mono_ms() >= deadline)
			break;
		sleep_ms(POLL_MS);
	}
out:
	term_progress_end(&p);
	return code;
}

static int
reconcile_run(struct admin_conn *c, const struct cli_args *a)
{
	bool repair = cli_get(a, "--repair") != NULL;
	struct rq rqs[ORGS_MAX];
	json_t *body = NULL, *r = NULL, *x, *out = NULL;
	int64_t every;
	long wait_s, status;
	size_t n = 0, i;
	int code;

	memset(rqs, 0, sizeof(rqs));
	if ((code = wait_of(a, RECONCILE_WAIT_S, &wait_s)) >= 0 || (code = every_of(a, &every)) >= 0)
		return code;
	body = json_pack("{s:b}", "repair", repair);
	if (body == NULL || (cli_get(a, "--org") && json_object_set_new(body, "org", json_string(cli_get(a, "--org")))) ||
	    (cli_get(a, "--mapping") && json_object_set_new(body, "mapping", json_string(cli_get(a, "--mapping"))))) {
		fprintf(stderr, "clmsync reconcile: --org and --mapping are names (UTF-8)\n");
		json_decref(body);
		return CLI_EXIT_USAGE;
	}
	code = admin_call(c, "POST", V1 "/reconcile", body, false, &status, &r);
	json_decref(body);
	if (code != 0)
		return code;
	json_array_foreach(json_object_get(r, "requests"), i, x) {
		if (n == ORGS_MAX)
			break;
		snprintf(rqs[n].org, sizeof(rqs[n].org), "%s", str_of(x, "org") ? str_of(x, "org") : "?");
		snprintf(rqs[n].id, sizeof(rqs[n].id), "%s", str_of(x, "id") ? str_of(x, "id") : "");
		n++;
	}
	if (n == 0) {
		fprintf(stderr, "clmsync reconcile: nothing to reconcile: no mapping %s\n",
		        cli_get(a, "--org") ? "of that org" : "is configured");
		json_decref(r);
		return CLI_EXIT_NOTFOUND;
	}
	if (wait_s > 0 && (code = reconcile_wait(c, rqs, n, wait_s, every)) != 0)
		goto out;
	if (as_json(a)) {
		json_t *reqs = json_array();
		for (i = 0; reqs != NULL && i < n; i++) {
			json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:b}", "org", rqs[i].org, "id", rqs[i].id, "repair", repair,
			                      "done", rqs[i].res != NULL, "engine", !rqs[i].no_engine);
			if (o != NULL && rqs[i].res != NULL)
				json_object_update_missing(o, rqs[i].res);
			json_array_append_new(reqs, o);
		}
		out = json_pack("{s:o?}", "requests", reqs);
		if (out == NULL || cli_put_json(NULL, out) != 0)
			code = CLI_EXIT_BAD;
	}
	for (i = 0; i < n; i++) {
		char who[96];
		int k;
		snprintf(who, sizeof(who), "org %s", rqs[i].org);
		if (rqs[i].no_engine) {
			if (!as_json(a))
				printf("%s: no sync engine runs for it on this server (serve --no-sync?); the request stays "
				       "queued (%s)\n", who, rqs[i].id);
			k = CLI_EXIT_PENDING;
		} else if (rqs[i].res == NULL) {
			if (!as_json(a))
				printf("%s: %s (%s)\n", who, wait_s > 0 ? "not answered yet" : "requested", rqs[i].id);
			k = wait_s > 0 ? CLI_EXIT_PENDING : 0;
		} else {
			if (!as_json(a))
				put_result(who, rqs[i].res, repair);
			k = result_code(rqs[i].res, repair);
		}
		if (k > code)
			code = k;
	}
	if (code == CLI_EXIT_PENDING)
		fprintf(stderr, "clmsync reconcile: not every org answered; the requests stay queued (`clmsync reconcile "
		                "show ID` reads a result later)\n");
out:
	for (i = 0; i < n; i++)
		json_decref(rqs[i].res);
	json_decref(out);
	json_decref(r);
	return code;
}

static int
reconcile_show(struct admin_conn *c, const struct cli_args *a, const char *id)
{
	char path[ADMIN_PATH_MAX], who[96];
	json_t *r = NULL;
	long status;
	int code;

	if (!path_of("reconcile", path, sizeof(path), V1 "/reconcile/", id, ""))
		return CLI_EXIT_USAGE;
	if ((code = admin_call(c, "GET", path, NULL, false, &status, &r)) != 0)
		return code;
	if (as_json(a))
		code = cli_put_json(NULL, r);
	if (status != 200) {
		if (!as_json(a))
			printf("request %s: not finished (or never taken up by a running engine)\n", id);
		code = code != 0 ? code : CLI_EXIT_PENDING;
	} else {
		snprintf(who, sizeof(who), "request %.64s", id);
		if (!as_json(a))
			put_result(who, r, json_is_true(json_object_get(r, "repair")));
		if (code == 0)
			code = result_code(r, json_is_true(json_object_get(r, "repair")));
	}
	json_decref(r);
	return code;
}

int
cmd_reconcile(int argc, char **argv)
{
	struct cli_args a;
	struct admin_conn *c = NULL;
	bool show;
	int code;

	if ((code = start("reconcile", argc, argv, &a)) >= 0)
		return code;
	show = a.npos > 0 && strcmp(a.pos[0], "show") == 0;
	if (show) {
		static const char *const no[] = { "--mapping", "--org", "--repair", "--wait", "--progress-every" };
		if ((code = want_args(&a, 1, "show takes a request's ID")) >= 0)
			return code;
		for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
			if ((code = cli_not_with(&a, no[i], "show")) >= 0)
				return code;
	} else if (a.npos > 0) {
		fprintf(stderr, "clmsync reconcile: unexpected argument '%s' (see --help)\n", a.pos[0]);
		return CLI_EXIT_USAGE;
	}
	if ((code = connect_to(&a, &c)) >= 0)
		return code;
	code = show ? reconcile_show(c, &a, a.pos[1]) : reconcile_run(c, &a);
	admin_conn_free(c);
	return code;
}

/* --- pause, resume ---------------------------------------------------------------------------- */

static int
pause_or_resume(const char *name, int argc, char **argv)
{
	bool resume = strcmp(name, "resume") == 0;
	char path[ADMIN_PATH_MAX];
	struct cli_args a;
	struct admin_conn *c = NULL;
	json_t *body = NULL, *r = NULL;
	int code;

	if ((code = start(name, argc, argv, &a)) >= 0)
		return code;
	if (a.npos != 1) {
		fprintf(stderr, "clmsync %s: %s (see --help)\n", name, a.npos == 0 ? "which mapping?" : "one mapping at a time");
		return CLI_EXIT_USAGE;
	}
	if (!path_of(name, path, sizeof(path), V1 "/mappings/", a.pos[0], resume ? "/resume" : "/pause"))
		return CLI_EXIT_USAGE;
	if (!resume && cli_get(&a, "--reason") != NULL &&
	    (body = json_pack("{s:s}", "reason", cli_get(&a, "--reason"))) == NULL) {
		fprintf(stderr, "clmsync pause: --reason is not valid UTF-8\n");
		return CLI_EXIT_USAGE;
	}
	if ((code = call_once(&a, &c, "POST", path, body, &r)) != 0)
		goto out;
	if (as_json(&a))
		code = cli_put_json(NULL, r);
	else if (resume) {
		printf("resumed ");
		term_put(stdout, a.pos[0]);
		printf(": %lld held record%s queued\n", int_of(r, "queued"), int_of(r, "queued") == 1 ? "" : "s");
	} else {
		printf("paused ");
		term_put(stdout, a.pos[0]);
		if (str_of(r, "reason") != NULL) {
			printf(" (");
			term_put(stdout, str_of(r, "reason"));
			printf(")");
		}
		printf(": changes on both sides are held until `clmsync resume ");
		term_put(stdout, a.pos[0]);
		printf("`\n");
	}
out:
	json_decref(body);
	json_decref(r);
	admin_conn_free(c);
	return code;
}

int
cmd_pause(int argc, char **argv)
{
	return pause_or_resume("pause", argc, argv);
}

int
cmd_resume(int argc, char **argv)
{
	return pause_or_resume("resume", argc, argv);
}

/* --- links, lineage ---------------------------------------------------------------------------- */

int
cmd_links(int argc, char **argv)
{
	static const char *const h[] = { "MAPPING", "ORG", "REPOSITORY", "SOBJECT", "SALESFORCE", "IN FLIGHT" };
	static const int w[] = { 24, 20, 40, 24, 20, 10 };
	struct cli_args a;
	struct admin_conn *c = NULL;
	struct term_table *t = NULL;
	char path[ADMIN_PATH_MAX], id18[SFID_LEN + 1];
	const char *id;
	json_t *r = NULL, *l;
	size_t i;
	bool sf;
	int code;

	if ((code = start("links", argc, argv, &a)) >= 0)
		return code;
	if (a.npos < 1 || strcmp(a.pos[0], "find") != 0 || a.npos != 2) {
		fprintf(stderr, "clmsync links: say find ID (see --help)\n");
		return CLI_EXIT_USAGE;
	}
	if (cli_get(&a, "--clm") != NULL && cli_get(&a, "--sf") != NULL) {
		fprintf(stderr, "clmsync links: --clm or --sf, not both\n");
		return CLI_EXIT_USAGE;
	}
	id = a.pos[1];
	sf = cli_get(&a, "--sf") != NULL || (cli_get(&a, "--clm") == NULL && sfid_to18(id, strlen(id), id18));
	/* links are kept under the 18-character form */
	if (sf && sfid_to18(id, strlen(id), id18))
		id = id18;
	if (!path_of("links", path, sizeof(path), sf ? V1 "/links?sf=" : V1 "/links?clm=", id, ""))
		return CLI_EXIT_USAGE;
	if ((code = call_once(&a, &c, "GET", path, NULL, &r)) != 0)
		goto out;
	if (as_json(&a))
		code = cli_put_json(NULL, r);
	else if (json_array_size(json_object_get(r, "links")) > 0) {
		if ((t = term_table_new(6, h, w)) == NULL) {
			out_of_memory("links");
			code = CLI_EXIT_BAD;
			goto out;
		}
		json_array_foreach(json_object_get(r, "links"), i, l) {
			char fl[24];
			const char *cells[6] = { str_of(l, "mapping"), str_of(l, "org"), str_of(l, "clm"), str_of(l, "sobject"),
			                         str_of(l, "sf"), fl };
			/* the writes to Salesforce sent and not yet seen back as their change event */
			snprintf(fl, sizeof(fl), "%zu", json_array_size(json_object_get(l, "in_flight")));
			term_table_add(t, cells);
		}
		term_table_print(t, stdout);
	}
	if (code == 0 && json_array_size(json_object_get(r, "links")) == 0) {
		fprintf(stderr, "clmsync links: ");
		term_put(stderr, a.pos[1]);
		fprintf(stderr, " is linked in no mapping (as a %s id)\n", sf ? "Salesforce" : "repository");
		code = CLI_EXIT_NOTFOUND;
	}
out:
	term_table_free(t);
	json_decref(r);
	admin_conn_free(c);
	return code;
}

/* "#12 2026-11-27T10:00:00.123Z applied cdc:..." for the audit row behind a field. */
static void
last_change_of(const json_t *row, char *out, size_t n)
{
	if (row == NULL || json_is_null(row)) {
		snprintf(out, n, "-");
		return;
	}
	snprintf(out, n, "#%lld %s %s %s", int_of(row, "seq"), str_of(row, "ts") ? str_of(row, "ts") : "",
	         str_of(row, "decision") ? str_of(row, "decision") : "", str_of(row, "event") ? str_of(row, "event") : "");
}

int
cmd_lineage(int argc, char **argv)
{
	static const char *const h[] = { "FIELD", "SALESFORCE FIELD", "OWNER", "REPOSITORY", "SALESFORCE", "LAST CHANGE" };
	static const int w[] = { 28, 28, 10, 30, 30, 80 };
	struct cli_args a;
	struct admin_conn *c = NULL;
	char path[ADMIN_PATH_MAX];
	json_t *r = NULL, *m, *f;
	size_t i, k;
	int code;

	if ((code = start("lineage", argc, argv, &a)) >= 0)
		return code;
	if (a.npos != 2) {
		fprintf(stderr, "clmsync lineage: say ENTITY ID, e.g. lineage contract ct_... (see --help)\n");
		return CLI_EXIT_USAGE;
	}
	if (!path_of("lineage", path, sizeof(path), V1 "/lineage/", a.pos[0], "/"))
		return CLI_EXIT_USAGE;
	if (!admin_path_escape(path, sizeof(path), a.pos[1])) {
		fprintf(stderr, "clmsync lineage: the id is too long\n");
		return CLI_EXIT_USAGE;
	}
	if ((code = call_once(&a, &c, "GET", path, NULL, &r)) != 0)
		goto out;
	if (as_json(&a))
		code = cli_put_json(NULL, r);
	else {
		term_put(stdout, str_of(r, "entity"));
		fputc(' ', stdout);
		term_put(stdout, str_of(r, "id"));
		printf(": %s the repository, %lld audit row%s\n", json_is_true(json_object_get(r, "in_repository")) ? "in" :
		       "not in", int_of(r, "audit_rows"), int_of(r, "audit_rows") == 1 ? "" : "s");
		json_array_foreach(json_object_get(r, "mappings"), i, m) {
			struct term_table *t = term_table_new(6, h, w);
			if (t == NULL) {
				out_of_memory("lineage");
				code = CLI_EXIT_BAD;
				goto out;
			}
			printf("\nmapping ");
			term_put(stdout, str_of(m, "mapping"));
			printf(" (org ");
			term_put(stdout, str_of(m, "org"));
			printf("): ");
			term_put(stdout, str_of(m, "sobject"));
			fputc(' ', stdout);
			term_put(stdout, str_of(m, "sf"));
			fputc('\n', stdout);
			json_array_foreach(json_object_get(m, "fields"), k, f) {
				char *cv = json_text(json_object_get(f, "clm_value")), *sv = json_text(json_object_get(f, "salesforce_value"));
				char lc[512];
				const char *cells[6];
				last_change_of(json_object_get(f, "last_change"), lc, sizeof(lc));
				cells[0] = str_of(f, "field");
				cells[1] = str_of(f, "sf_field");
				cells[2] = str_of(f, "owner");
				cells[3] = cv;
				cells[4] = sv;
				cells[5] = lc;
				term_table_add(t, cells);
				free(cv);
				free(sv);
			}
			term_table_print(t, stdout);
			term_table_free(t);
		}
	}
	if (code == 0 && !json_is_true(json_object_get(r, "in_repository")) &&
	    json_array_size(json_object_get(r, "mappings")) == 0) {
		fprintf(stderr, "clmsync lineage: ");
		term_put(stderr, a.pos[1]);
		fprintf(stderr, " is neither in the repository nor linked\n");
		code = CLI_EXIT_NOTFOUND;
	}
out:
	json_decref(r);
	admin_conn_free(c);
	return code;
}

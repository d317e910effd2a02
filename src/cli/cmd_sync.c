/* cmd_sync.c - clmsync dlq|conflicts|reconcile: the operator's commands on the sync engine's
 * dead-letter queue, manual conflicts and reconciles, on the store beside a running server. */
#include "cli/cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "store/store.h"
#include "sync/sync.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#define EXIT_NONE 1                 /* nothing matched, not found; drift without --repair */
#define EXIT_USAGE 2
#define EXIT_STORE 3                /* the configuration or the store cannot be read or written */
#define EXIT_WAIT 4                 /* requested, but the engine did not answer in time */
#define POLL_MS 100                 /* between looks at the store while waiting for the engine */
#define WAIT_MAX_S 86400
#define RESOLVE_WAIT_S 30
#define RECONCILE_WAIT_S 300
#define VALUE_ARG_MAX 65536         /* bytes in a --value */
#define DLQ_PAGE 1000               /* entries per sync_dlq_list call (STORE_LIST_MAX) */
#define REPLAY_ALL_MAX 100000       /* entries one `dlq replay --all` takes */
#define POS_MAX 3                   /* positional arguments: verb, id, one spare to complain about */

/* --- options: one table for the three commands ---------------------------------------------- */

enum opt { OPT_CONFIG, OPT_STORE, OPT_JSON, OPT_ALL, OPT_REASON, OPT_TAKE, OPT_VALUE, OPT_WAIT, OPT_MAPPING,
           OPT_REPAIR, OPT_COUNT };

static const struct {
	const char *name;
	bool has_val;
} optdefs[OPT_COUNT] = {
	[OPT_CONFIG] = { "--config", true },  [OPT_STORE] = { "--store", true },
	[OPT_JSON] = { "--json", false },     [OPT_ALL] = { "--all", false },
	[OPT_REASON] = { "--reason", true },  [OPT_TAKE] = { "--take", true },
	[OPT_VALUE] = { "--value", true },    [OPT_WAIT] = { "--wait", true },
	[OPT_MAPPING] = { "--mapping", true }, [OPT_REPAIR] = { "--repair", false },
};

#define BIT(o) (1u << (o))
#define COMMON (BIT(OPT_CONFIG) | BIT(OPT_STORE) | BIT(OPT_JSON))

struct args {
	const char *cmd;                 /* "dlq", for messages */
	const char *val[OPT_COUNT];      /* NULL when not given; "" for a flag that is set */
	const char *pos[POS_MAX];
	int npos;
};

/* Fills a from argv, accepting the options in allowed. Returns -1 to go on, 0 after printing the
 * help, EXIT_USAGE after saying what is wrong. */
static int
parse(const char *cmd, int argc, char **argv, unsigned allowed, void (*usage)(FILE *), struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int o;
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (s[0] != '-' || strcmp(s, "-") == 0) {
			if (a->npos == POS_MAX) {
				fprintf(stderr, "clmsync %s: unexpected argument '%s' (see --help)\n", cmd, s);
				return EXIT_USAGE;
			}
			a->pos[a->npos++] = s;
			continue;
		}
		for (o = 0; o < OPT_COUNT && strcmp(s, optdefs[o].name) != 0; o++)
			;
		if (o == OPT_COUNT || !(allowed & BIT(o))) {
			fprintf(stderr, "clmsync %s: unknown option '%s' (see --help)\n", cmd, s);
			return EXIT_USAGE;
		}
		if (a->val[o] != NULL) {
			fprintf(stderr, "clmsync %s: %s given twice\n", cmd, s);
			return EXIT_USAGE;
		}
		if (!optdefs[o].has_val) {
			a->val[o] = "";
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "clmsync %s: %s needs a value (see --help)\n", cmd, s);
			return EXIT_USAGE;
		}
		a->val[o] = argv[++i];
	}
	return -1;
}

/* The option o was given to a verb it is not for: says so. */
static int
misplaced(const struct args *a, unsigned allowed)
{
	for (int o = 0; o < OPT_COUNT; o++) {
		if (a->val[o] != NULL && !(allowed & BIT(o))) {
			fprintf(stderr, "clmsync %s %s: %s does not apply here (see --help)\n", a->cmd,
			        a->npos > 0 ? a->pos[0] : "", optdefs[o].name);
			return EXIT_USAGE;
		}
	}
	return -1;
}

/* Seconds to wait from --wait (dflt when not given) into *out; EXIT_USAGE when malformed. */
static int
wait_of(const struct args *a, long dflt, long *out)
{
	const char *s = a->val[OPT_WAIT];
	char *end;
	long v;

	*out = dflt;
	if (s == NULL)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > WAIT_MAX_S) {
		fprintf(stderr, "clmsync %s: --wait is 0..%d seconds, not '%s'\n", a->cmd, WAIT_MAX_S, s);
		return EXIT_USAGE;
	}
	*out = v;
	return -1;
}

/* Loads --config (when given) into *cfg (NULL otherwise) and opens the store: --store, else the
 * configuration's. Returns 0, or EXIT_STORE after saying why; *cfg and *s are then NULL. */
static int
open_store(const struct args *a, struct cs_config **cfg, struct store **s)
{
	struct cs_error_list errs;
	struct cs_error e = { 0 };
	const char *url = a->val[OPT_STORE];

	*cfg = NULL;
	*s = NULL;
	cs_error_list_init(&errs);
	if (a->val[OPT_CONFIG] != NULL && cs_config_load(a->val[OPT_CONFIG], cfg, &errs) != CS_OK) {
		cs_error_list_print(&errs, stderr);
		fprintf(stderr, "clmsync %s: cannot load %s\n", a->cmd, a->val[OPT_CONFIG]);
		cs_error_list_cleanup(&errs);
		return EXIT_STORE;
	}
	cs_error_list_cleanup(&errs);
	if (url == NULL)
		url = (*cfg)->store_url;
	if (store_open(url, s, &e) != CS_OK) {
		fprintf(stderr, "clmsync %s: cannot open the store %s: %s\n", a->cmd, url, e.msg);
		cs_config_free(*cfg);
		*cfg = NULL;
		*s = NULL;
		return EXIT_STORE;
	}
	return 0;
}

/* --- output ---------------------------------------------------------------------------------- */

/* Prints s with control characters replaced ("-" for none): the rows hold text from Salesforce
 * and go to a terminal. */
static void
put_text(const char *s)
{
	if (s == NULL || *s == '\0') {
		fputc('-', stdout);
		return;
	}
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, stdout);
}

/* Prints s in a column of width characters: cut at a character boundary with "..." when longer,
 * padded with spaces unless last. Control characters are replaced, as in put_text. */
static void
put_cell(const char *s, int width, bool last)
{
	const char *p;
	int chars = 0, shown = 0;

	if (s == NULL || *s == '\0')
		s = "-";
	for (p = s; *p != '\0'; p++)
		chars += ((unsigned char)*p & 0xC0) != 0x80;
	for (p = s; *p != '\0'; p++) {
		bool lead = ((unsigned char)*p & 0xC0) != 0x80;
		if (lead && chars > width && shown == width - 3) {
			fputs("...", stdout);
			shown += 3;
			break;
		}
		if (lead)
			shown++;
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, stdout);
	}
	if (!last)
		for (; shown < width + 2; shown++)
			fputc(' ', stdout);
}

/* A new compact JSON text of v (NULL as "null"); NULL when out of memory. */
static char *
json_text(const json_t *v)
{
	return v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("null");
}

/* Prints j: pretty, or one line with --json. False when it cannot be encoded or written. */
static bool
put_json(const json_t *j, bool compact)
{
	char *s = json_dumps(j, JSON_ENCODE_ANY | (compact ? JSON_COMPACT : JSON_INDENT(2)));
	bool ok = s != NULL && printf("%s\n", s) >= 0;

	free(s);
	return ok;
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

static const char *
str_of(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The record an entry is about: its repository id, else its Salesforce id. */
static const char *
record_of(const json_t *o)
{
	const char *c = str_of(o, "clm");

	return c != NULL && c[0] != '\0' ? c : str_of(o, "sf");
}

/* Says what failed; for a damaged row, how to get rid of it. Returns the exit code. */
static int
store_failed(const char *cmd, const char *what, const struct cs_error *e)
{
	fprintf(stderr, "clmsync %s: %s: %s\n", cmd, what, e->msg);
	if (e->code == CS_EIO && strstr(e->msg, "damaged") != NULL && strcmp(cmd, "dlq") == 0)
		fprintf(stderr, "clmsync dlq: `clmsync dlq discard ID --reason TEXT` removes a damaged entry\n");
	return EXIT_STORE;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
not_applied(const char *cmd, const char *who, long wait_s)
{
	fprintf(stderr,
	    "clmsync %s: %s%srequested, but not applied within %ld s: is `clmsync serve` running with this "
	    "configuration?\n", cmd, who != NULL ? who : "", who != NULL ? ": " : "", wait_s);
}

/* --- dlq ------------------------------------------------------------------------------------- */

static void
dlq_usage(FILE *f)
{
	fprintf(f,
	    "usage: clmsync dlq list [--json]\n"
	    "       clmsync dlq show ID [--json]\n"
	    "       clmsync dlq replay ID | --all [--json]\n"
	    "       clmsync dlq discard ID --reason TEXT [--json]\n"
	    "each with --config FILE or --store URL\n"
	    "\n"
	    "The dead-letter queue holds what the sync engine gave up on: a write to Salesforce that\n"
	    "failed for good (or after every retry), or a change the repository refused, each with the\n"
	    "exact error and the item to put back.\n"
	    "  list      one line per entry, oldest first: id, org, mapping, record, direction (the side\n"
	    "            that was to be written), error code and message (cut to fit)\n"
	    "  show      one entry with everything, as JSON\n"
	    "  replay    puts the item back at the end of its queue with its attempts reset, removes the\n"
	    "            entry and writes an audit row, in one transaction; a running `clmsync serve`\n"
	    "            takes it up within a second. --all replays every entry there is when it starts\n"
	    "            (at most %d; entries that fail again come back with new ids and wait)\n"
	    "  discard   removes the entry for good, with an audit row holding the reason\n"
	    "An ID is the number `list` shows (leading zeros may be left out).\n"
	    "\n"
	    "options:\n"
	    "  --config FILE   the YAML configuration: its store is used\n"
	    "  --store URL     the store (sqlite:PATH): instead of, or over, the configuration's\n"
	    "  --reason TEXT   discard: why (required; it goes into the audit log), 1..%d bytes\n"
	    "  --all           replay: every entry\n"
	    "  --json          machine output: list an array, show an object, replay and discard a\n"
	    "                  summary object\n"
	    "  -h, --help      this help\n"
	    "\n"
	    "Works beside a running server (SQLite lets both write; each change is one transaction).\n"
	    "exit status: 0 done, 1 nothing matched (no such entry, or nothing to replay), 2 usage\n"
	    "error, 3 the configuration or the store cannot be read or written.\n",
	    REPLAY_ALL_MAX, SYNC_REASON_MAX - 1);
}

#define DLQ_W_ID 8
#define DLQ_W_ORG 12
#define DLQ_W_MAPPING 16
#define DLQ_W_RECORD 29             /* a repository id: "ct_" and a ULID */
#define DLQ_W_DIR 10
#define DLQ_W_CODE 24
#define DLQ_W_MSG 60

static int
dlq_list(struct store *s, bool as_json)
{
	char after[64] = "";
	struct cs_error e = { 0 };
	json_t *page = NULL, *r;
	size_t i, got;
	long long n = 0;

	do {
		if (sync_dlq_list(s, after, DLQ_PAGE, &page, &e) != CS_OK) {
			if (as_json && n > 0)
				fputs("\n]\n", stdout);
			return store_failed("dlq", "cannot read the dead-letter queue", &e);
		}
		got = json_array_size(page);
		json_array_foreach(page, i, r) {
			if (as_json) {
				char *t = json_dumps(r, JSON_COMPACT);
				if (t == NULL) {
					json_decref(page);
					fprintf(stderr, "clmsync dlq: out of memory\n");
					return EXIT_STORE;
				}
				printf("%s%s", n > 0 ? ",\n" : "[\n", t);
				free(t);
			} else {
				if (n == 0) {
					put_cell("ID", DLQ_W_ID, false);
					put_cell("ORG", DLQ_W_ORG, false);
					put_cell("MAPPING", DLQ_W_MAPPING, false);
					put_cell("RECORD", DLQ_W_RECORD, false);
					put_cell("DIRECTION", DLQ_W_DIR, false);
					put_cell("CODE", DLQ_W_CODE, false);
					put_cell("MESSAGE", DLQ_W_MSG, true);
					fputc('\n', stdout);
				}
				put_cell(short_id(str_of(r, "id")), DLQ_W_ID, false);
				put_cell(str_of(r, "org"), DLQ_W_ORG, false);
				put_cell(str_of(r, "mapping"), DLQ_W_MAPPING, false);
				put_cell(record_of(r), DLQ_W_RECORD, false);
				put_cell(str_of(r, "direction"), DLQ_W_DIR, false);
				put_cell(str_of(json_object_get(r, "error"), "code"), DLQ_W_CODE, false);
				put_cell(str_of(json_object_get(r, "error"), "message"), DLQ_W_MSG, true);
				fputc('\n', stdout);
			}
			n++;
			snprintf(after, sizeof(after), "%s", str_of(r, "id") != NULL ? str_of(r, "id") : "");
		}
		json_decref(page);
		page = NULL;
	} while (got == DLQ_PAGE);
	if (as_json)
		fputs(n > 0 ? "\n]\n" : "[]\n", stdout);
	else if (n == 0)
		printf("the dead-letter queue is empty\n");
	else
		printf("%lld entr%s\n", n, n == 1 ? "y" : "ies");
	if (fflush(stdout) != 0) {
		fprintf(stderr, "clmsync dlq: cannot write: %s\n", strerror(errno));
		return EXIT_STORE;
	}
	return 0;
}

static int
dlq_show(struct store *s, const char *id, bool as_json)
{
	struct cs_error e = { 0 };
	json_t *d = NULL;
	cs_err rc = sync_dlq_get(s, id, &d, &e);
	int code = 0;

	if (rc == CS_ENOTFOUND || rc == CS_EINVAL) {
		fprintf(stderr, "clmsync dlq: %s\n", e.msg);
		return EXIT_NONE;
	}
	if (rc != CS_OK)
		return store_failed("dlq", "cannot read the entry", &e);
	if (!put_json(d, as_json)) {
		fprintf(stderr, "clmsync dlq: cannot write the entry\n");
		code = EXIT_STORE;
	}
	json_decref(d);
	return code;
}

/* Replays one entry and says so. Returns 0, EXIT_NONE (gone meanwhile) or EXIT_STORE. */
static int
replay_one(struct store *s, const char *id, bool quiet)
{
	struct cs_error e = { 0 };
	json_t *d = NULL;
	cs_err rc;

	/* read first only to say what went back where; the replay itself reads it again under
	 * the write lock */
	if ((rc = sync_dlq_get(s, id, &d, &e)) == CS_OK)
		rc = sync_dlq_replay(s, id, &e);
	if (rc == CS_ENOTFOUND || rc == CS_EINVAL) {
		fprintf(stderr, "clmsync dlq: %s\n", e.msg);
		json_decref(d);
		return EXIT_NONE;
	}
	if (rc != CS_OK) {
		json_decref(d);
		return store_failed("dlq", "cannot replay", &e);
	}
	if (!quiet) {
		printf("replayed %s: ", short_id(str_of(d, "id")));
		put_text(str_of(d, "mapping"));
		fputc(' ', stdout);
		put_text(record_of(d));
		printf(" is back on ");
		put_text(str_of(d, "queue"));
		fputc('\n', stdout);
	}
	json_decref(d);
	return 0;
}

static int
dlq_replay(struct store *s, const char *id, bool all, bool as_json)
{
	char after[64] = "";
	struct cs_error e = { 0 };
	json_t *ids = NULL, *page = NULL, *r, *done = NULL;
	size_t i, got;
	int code = 0;

	if ((ids = json_array()) == NULL || (done = json_array()) == NULL)
		goto nomem;
	if (!all) {
		if (json_array_append_new(ids, json_string(id)) != 0)
			goto nomem;
	} else {
		/* the ids are taken first: an item that fails again while we go comes back under a new,
		 * higher id, and following the queue to its end would replay it for ever */
		do {
			if (sync_dlq_list(s, after, DLQ_PAGE, &page, &e) != CS_OK) {
				code = store_failed("dlq", "cannot read the dead-letter queue", &e);
				goto out;
			}
			got = json_array_size(page);
			json_array_foreach(page, i, r) {
				if (json_array_size(ids) >= REPLAY_ALL_MAX) {
					got = 0;
					break;
				}
				if (json_array_append(ids, json_object_get(r, "id")) != 0)
					goto nomem;
				snprintf(after, sizeof(after), "%s", str_of(r, "id") != NULL ? str_of(r, "id") : "");
			}
			json_decref(page);
			page = NULL;
		} while (got == DLQ_PAGE);
		if (json_array_size(ids) == 0) {
			if (as_json)
				printf("{\"replayed\":[]}\n");
			else
				printf("the dead-letter queue is empty: nothing to replay\n");
			code = EXIT_NONE;
			goto out;
		}
	}
	json_array_foreach(ids, i, r) {
		int c = replay_one(s, json_string_value(r), as_json);
		if (c == 0) {
			if (json_array_append(done, r) != 0)
				goto nomem;
		} else if (c == EXIT_STORE) {
			code = c;
			break;
		} else if (!all)
			code = c;
		/* with --all, an entry discarded or replayed by someone else meanwhile is not an error */
	}
	if (all && json_array_size(done) == 0 && code == 0)
		code = EXIT_NONE;
	if (as_json) {
		json_t *j = json_pack("{s:O}", "replayed", done);
		if (j == NULL || !put_json(j, true))
			code = EXIT_STORE;
		json_decref(j);
	} else if (all)
		printf("replayed %zu of %zu entr%s\n", json_array_size(done), json_array_size(ids),
		       json_array_size(ids) == 1 ? "y" : "ies");
	goto out;
nomem:
	fprintf(stderr, "clmsync dlq: out of memory\n");
	code = EXIT_STORE;
out:
	json_decref(page);
	json_decref(done);
	json_decref(ids);
	return code;
}

static int
dlq_discard(struct store *s, const char *id, const char *reason, bool as_json)
{
	struct cs_error e = { 0 };
	cs_err rc = sync_dlq_discard(s, id, reason, &e);

	if (rc == CS_ENOTFOUND) {
		fprintf(stderr, "clmsync dlq: %s\n", e.msg);
		return EXIT_NONE;
	}
	if (rc == CS_ETOOBIG || rc == CS_EUTF8) {
		fprintf(stderr, "clmsync dlq: --reason: %s\n", e.msg);
		return EXIT_USAGE;
	}
	if (rc == CS_EINVAL) {
		/* the reason was checked above: the id is malformed, so it names nothing */
		fprintf(stderr, "clmsync dlq: %s\n", e.msg);
		return EXIT_NONE;
	}
	if (rc != CS_OK)
		return store_failed("dlq", "cannot discard", &e);
	if (as_json)
		printf("{\"discarded\":\"%s\"}\n", short_id(id));
	else
		printf("discarded %s\n", short_id(id));
	return 0;
}

int
cmd_dlq(int argc, char **argv)
{
	const unsigned allowed = COMMON | BIT(OPT_ALL) | BIT(OPT_REASON);
	struct cs_config *cfg = NULL;
	struct store *s = NULL;
	struct args a;
	const char *verb, *id;
	bool as_json;
	int code;

	if ((code = parse("dlq", argc, argv, allowed, dlq_usage, &a)) >= 0)
		return code;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	id = a.npos > 1 ? a.pos[1] : NULL;
	as_json = a.val[OPT_JSON] != NULL;
	if (verb == NULL) {
		fprintf(stderr, "clmsync dlq: say list, show ID, replay ID|--all or discard ID --reason TEXT "
		                "(see --help)\n");
		return EXIT_USAGE;
	}
	if (strcmp(verb, "list") == 0) {
		if ((code = misplaced(&a, COMMON)) >= 0)
			return code;
		if (a.npos != 1) {
			fprintf(stderr, "clmsync dlq: list takes no argument\n");
			return EXIT_USAGE;
		}
	} else if (strcmp(verb, "show") == 0) {
		if ((code = misplaced(&a, COMMON)) >= 0)
			return code;
		if (a.npos != 2) {
			fprintf(stderr, "clmsync dlq: show takes the entry's ID\n");
			return EXIT_USAGE;
		}
	} else if (strcmp(verb, "replay") == 0) {
		if ((code = misplaced(&a, COMMON | BIT(OPT_ALL))) >= 0)
			return code;
		if (a.npos != (a.val[OPT_ALL] != NULL ? 1 : 2)) {
			fprintf(stderr, "clmsync dlq: replay takes an ID or --all\n");
			return EXIT_USAGE;
		}
	} else if (strcmp(verb, "discard") == 0) {
		if ((code = misplaced(&a, COMMON | BIT(OPT_REASON))) >= 0)
			return code;
		if (a.npos != 2 || a.val[OPT_REASON] == NULL || a.val[OPT_REASON][0] == '\0') {
			fprintf(stderr, "clmsync dlq: discard takes an ID and --reason TEXT (why: it goes into the "
			                "audit log)\n");
			return EXIT_USAGE;
		}
	} else {
		fprintf(stderr, "clmsync dlq: unknown action '%s' (see --help)\n", verb);
		return EXIT_USAGE;
	}
	if (a.val[OPT_CONFIG] == NULL && a.val[OPT_STORE] == NULL) {
		fprintf(stderr, "clmsync dlq: give --config FILE or --store URL\n");
		return EXIT_USAGE;
	}
	/* the command's output is on stdout; only the store's warnings go to the log (stderr) */
	cs_log_setup(CS_LOG_WARN, 0);
	if ((code = open_store(&a, &cfg, &s)) != 0)
		return code;
	if (strcmp(verb, "list") == 0)
		code = dlq_list(s, as_json);
	else if (strcmp(verb, "show") == 0)
		code = dlq_show(s, id, as_json);
	else if (strcmp(verb, "replay") == 0)
		code = dlq_replay(s, id, a.val[OPT_ALL] != NULL, as_json);
	else
		code = dlq_discard(s, id, a.val[OPT_REASON], as_json);
	store_close(s);
	cs_config_free(cfg);
	return code;
}

/* --- conflicts ------------------------------------------------------------------------------- */

static void
conflicts_usage(FILE *f)
{
	fprintf(f,
	    "usage: clmsync conflicts list [--json]\n"
	    "       clmsync conflicts show ID [--json]\n"
	    "       clmsync conflicts resolve ID --take clm|salesforce [--wait SECONDS] [--json]\n"
	    "       clmsync conflicts resolve ID --value JSON [--wait SECONDS] [--json]\n"
	    "each with --config FILE or --store URL\n"
	    "\n"
	    "A conflict is a field of a mapping with `conflict: manual` that both sides changed: the sync\n"
	    "engine holds the field (neither side is written) until an operator decides.\n"
	    "  list      one line per open conflict: id, field, the repository's value, Salesforce's\n"
	    "            value, since when\n"
	    "  show      one conflict with everything (the value both sides had before, too), as JSON\n"
	    "  resolve   asks the running engine to write the chosen value to both sides, then waits\n"
	    "            until it has: --take clm keeps the repository's value, --take salesforce\n"
	    "            Salesforce's, --value JSON sets another one (a JSON value: '\"Renewal\"', '42',\n"
	    "            'null'). The engine records the decision in the audit log.\n"
	    "An ID is <mapping>/<record id>/<Salesforce field>, as `list` shows it.\n"
	    "\n"
	    "options:\n"
	    "  --config FILE      the YAML configuration: its store is used\n"
	    "  --store URL        the store (sqlite:PATH): instead of, or over, the configuration's\n"
	    "  --take SIDE        resolve: clm or salesforce\n"
	    "  --value JSON       resolve: this value instead (at most %d bytes)\n"
	    "  --wait SECONDS     resolve: how long to wait for the engine, 0..%d (default %d; 0 only\n"
	    "                     makes the request)\n"
	    "  --json             machine output: list an array, show and resolve an object\n"
	    "  -h, --help         this help\n"
	    "\n"
	    "exit status: 0 done, 1 no such conflict, 2 usage error, 3 the configuration or the store\n"
	    "cannot be read or written, 4 requested but not applied in time (is `clmsync serve`\n"
	    "running with this configuration? the request stays queued and is applied when it runs).\n",
	    VALUE_ARG_MAX, WAIT_MAX_S, RESOLVE_WAIT_S);
}

#define CF_W_ID_MAX 70
#define CF_W_FIELD 24
#define CF_W_VALUE 30

static int
conflicts_list(struct store *s, bool as_json)
{
	struct cs_error e = { 0 };
	json_t *all = NULL, *c;
	size_t i;
	int wid = 2, code = 0;

	if (sync_conflict_list(s, &all, &e) != CS_OK)
		return store_failed("conflicts", "cannot read the conflicts", &e);
	if (as_json) {
		if (!put_json(all, true))
			code = EXIT_STORE;
		json_decref(all);
		return code;
	}
	if (json_array_size(all) == 0) {
		printf("no open conflicts\n");
		json_decref(all);
		return 0;
	}
	json_array_foreach(all, i, c) {
		int n = str_of(c, "id") != NULL ? (int)strlen(str_of(c, "id")) : 0;
		if (n > wid)
			wid = n < CF_W_ID_MAX ? n : CF_W_ID_MAX;
	}
	put_cell("ID", wid, false);
	put_cell("FIELD", CF_W_FIELD, false);
	put_cell("REPOSITORY", CF_W_VALUE, false);
	put_cell("SALESFORCE", CF_W_VALUE, false);
	put_cell("SINCE", 24, true);
	fputc('\n', stdout);
	json_array_foreach(all, i, c) {
		char *cv = json_text(json_object_get(c, "clm_value")), *sv = json_text(json_object_get(c, "sf_value"));
		put_cell(str_of(c, "id"), wid, false);
		put_cell(str_of(c, "field"), CF_W_FIELD, false);
		put_cell(cv, CF_W_VALUE, false);
		put_cell(sv, CF_W_VALUE, false);
		put_cell(str_of(c, "ts"), 24, true);
		fputc('\n', stdout);
		free(cv);
		free(sv);
	}
	printf("%zu open conflict%s%s\n", json_array_size(all), json_array_size(all) == 1 ? "" : "s",
	       json_array_size(all) >= SYNC_CONFLICT_LIST_MAX ? " shown (the first ones; there may be more)" : "");
	json_decref(all);
	return 0;
}

static int
conflicts_show(struct store *s, const char *id, bool as_json)
{
	struct cs_error e = { 0 };
	json_t *c = NULL;
	cs_err rc = sync_conflict_get(s, id, &c, &e);
	int code = 0;

	if (rc == CS_ENOTFOUND || rc == CS_EINVAL) {
		fprintf(stderr, "clmsync conflicts: %s\n", e.msg);
		return EXIT_NONE;
	}
	if (rc != CS_OK)
		return store_failed("conflicts", "cannot read the conflict", &e);
	if (!put_json(c, as_json))
		code = EXIT_STORE;
	json_decref(c);
	return code;
}

static int
conflicts_resolve(struct store *s, const char *id, const char *take, const json_t *value, long wait_s,
                  bool as_json)
{
	struct cs_error e = { 0 };
	const char *choice = take != NULL ? take : "value";
	json_t *c = NULL, *now = NULL, *j = NULL;
	const json_t *chosen;
	char *vtext = NULL;
	int64_t deadline;
	bool applied = false;
	cs_err rc;
	int code = 0;

	if ((rc = sync_conflict_get(s, id, &c, &e)) == CS_OK)
		rc = sync_conflict_resolve_request(s, id, choice, value, &e);
	if (rc == CS_ENOTFOUND || rc == CS_EINVAL) {
		fprintf(stderr, "clmsync conflicts: %s\n", e.msg);
		code = EXIT_NONE;
		goto out;
	}
	if (rc != CS_OK) {
		code = store_failed("conflicts", "cannot request the resolution", &e);
		goto out;
	}
	chosen = take == NULL ? value : strcmp(take, "clm") == 0 ? json_object_get(c, "clm_value") :
	                                                            json_object_get(c, "sf_value");
	if ((vtext = json_text(chosen)) == NULL) {
		fprintf(stderr, "clmsync conflicts: out of memory\n");
		code = EXIT_STORE;
		goto out;
	}
	/* the engine removes the conflict in the transaction that applies the value: its absence is
	 * the answer */
	deadline = cs_time_mono_ms() + (int64_t)wait_s * 1000;
	while (wait_s > 0) {
		rc = sync_conflict_get(s, id, &now, &e);
		json_decref(now);
		now = NULL;
		if (rc == CS_ENOTFOUND) {
			applied = true;
			break;
		}
		if (rc != CS_OK) {
			code = store_failed("conflicts", "cannot read the conflict", &e);
			goto out;
		}
		if (cs_time_mono_ms() >= deadline)
			break;
		sleep_ms(POLL_MS);
	}
	if (as_json) {
		j = json_pack("{s:s, s:s?, s:s?, s:O?, s:s, s:b}", "id", id, "field", str_of(c, "field"), "record",
		              record_of(c), "value", chosen, "choice", choice, "applied", applied);
		if (j == NULL || !put_json(j, true))
			code = EXIT_STORE;
	} else if (applied || wait_s == 0) {
		fputs(applied ? "resolved: " : "requested: ", stdout);
		put_text(str_of(c, "field"));
		fputs(" of ", stdout);
		put_text(record_of(c));
		printf(" = %s\n", vtext);
	}
	if (!applied && wait_s > 0) {
		not_applied("conflicts", NULL, wait_s);
		code = EXIT_WAIT;
	}
out:
	free(vtext);
	json_decref(j);
	json_decref(c);
	return code;
}

int
cmd_conflicts(int argc, char **argv)
{
	const unsigned allowed = COMMON | BIT(OPT_TAKE) | BIT(OPT_VALUE) | BIT(OPT_WAIT);
	struct cs_config *cfg = NULL;
	struct cs_error e = { 0 };
	struct store *s = NULL;
	json_t *value = NULL;
	struct args a;
	const char *verb, *id;
	long wait_s = RESOLVE_WAIT_S;
	int code;

	if ((code = parse("conflicts", argc, argv, allowed, conflicts_usage, &a)) >= 0)
		return code;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	id = a.npos > 1 ? a.pos[1] : NULL;
	if (verb == NULL) {
		fprintf(stderr, "clmsync conflicts: say list, show ID or resolve ID (see --help)\n");
		return EXIT_USAGE;
	}
	if (strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0) {
		if ((code = misplaced(&a, COMMON)) >= 0)
			return code;
		if ((strcmp(verb, "list") == 0) != (id == NULL) || a.npos > 2) {
			fprintf(stderr, "clmsync conflicts: %s\n", strcmp(verb, "list") == 0 ?
			        "list takes no argument" : "show takes the conflict's ID");
			return EXIT_USAGE;
		}
	} else if (strcmp(verb, "resolve") == 0) {
		const char *t = a.val[OPT_TAKE], *v = a.val[OPT_VALUE];
		if (id == NULL || a.npos > 2 || (t == NULL) == (v == NULL)) {
			fprintf(stderr, "clmsync conflicts: resolve takes the conflict's ID and either --take "
			                "clm|salesforce or --value JSON\n");
			return EXIT_USAGE;
		}
		if (t != NULL && strcmp(t, "clm") != 0 && strcmp(t, "salesforce") != 0) {
			fprintf(stderr, "clmsync conflicts: --take is clm or salesforce, not '%s'\n", t);
			return EXIT_USAGE;
		}
		if (v != NULL) {
			size_t n = strlen(v);
			if (n > VALUE_ARG_MAX) {
				fprintf(stderr, "clmsync conflicts: --value is %zu bytes; the limit is %d\n", n, VALUE_ARG_MAX);
				return EXIT_USAGE;
			}
			if (cs_json_parse(v, n, &value, &e) != CS_OK) {
				fprintf(stderr, "clmsync conflicts: --value is not JSON (%s); a text is written "
				                "'\"like this\"'\n", e.msg);
				return EXIT_USAGE;
			}
		}
		if ((code = wait_of(&a, RESOLVE_WAIT_S, &wait_s)) >= 0)
			goto out;
	} else {
		fprintf(stderr, "clmsync conflicts: unknown action '%s' (see --help)\n", verb);
		return EXIT_USAGE;
	}
	if (a.val[OPT_CONFIG] == NULL && a.val[OPT_STORE] == NULL) {
		fprintf(stderr, "clmsync conflicts: give --config FILE or --store URL\n");
		code = EXIT_USAGE;
		goto out;
	}
	cs_log_setup(CS_LOG_WARN, 0);
	if ((code = open_store(&a, &cfg, &s)) != 0)
		goto out;
	if (strcmp(verb, "list") == 0)
		code = conflicts_list(s, a.val[OPT_JSON] != NULL);
	else if (strcmp(verb, "show") == 0)
		code = conflicts_show(s, id, a.val[OPT_JSON] != NULL);
	else
		code = conflicts_resolve(s, id, a.val[OPT_TAKE], value, wait_s, a.val[OPT_JSON] != NULL);
out:
	store_close(s);
	cs_config_free(cfg);
	json_decref(value);
	return code;
}

/* --- reconcile ------------------------------------------------------------------------------- */

static void
reconcile_usage(FILE *f)
{
	fprintf(f,
	    "usage: clmsync reconcile --config FILE [--mapping NAME] [--repair] [--wait SECONDS]\n"
	    "                         [--store URL] [--json]\n"
	    "\n"
	    "Asks the running sync engine to compare every record on both sides, field by field: one\n"
	    "request per org that has mappings (or only for the org of --mapping), then waits for each\n"
	    "org's answer and prints\n"
	    "  org NAME: N records compared, M differed (repaired|reported)\n"
	    "Without --repair, differences are only counted (and written to the audit log as drift);\n"
	    "with it, each is healed through the mapping's rules, as a live change would be.\n"
	    "A reconcile reads every mapped record from Salesforce: it spends API calls.\n"
	    "\n"
	    "options:\n"
	    "  --config FILE     the YAML configuration (required): its orgs, mappings and store\n"
	    "  --store URL       the store (sqlite:PATH), over the configuration's\n"
	    "  --mapping NAME    only this mapping\n"
	    "  --repair          heal what differs\n"
	    "  --wait SECONDS    how long to wait for the answers, 0..%d (default %d; 0 only makes the\n"
	    "                    requests)\n"
	    "  --json            one array: per org {org, request, mapping, repair, done, checked,\n"
	    "                    drift, ok, error}\n"
	    "  -h, --help        this help\n"
	    "\n"
	    "exit status: 0 no difference (or all repaired), 1 differences found without --repair, or\n"
	    "a reconcile stopped early (the message says why), 2 usage error, 3 the configuration or\n"
	    "the store cannot be read or written, 4 requested but not all answered in time (is\n"
	    "`clmsync serve` running with this configuration? the requests stay queued).\n",
	    WAIT_MAX_S, RECONCILE_WAIT_S);
}

struct rq {
	const char *org;
	char id[SYNC_REQUEST_ID_MAX];
	json_t *res;                      /* the engine's answer, NULL while waiting */
};

static int
reconcile_run(const struct cs_config *cfg, struct store *s, const struct cs_mapping *m, bool repair, long wait_s,
              bool as_json)
{
	struct rq rqs[CS_CONFIG_ORGS_MAX];
	struct cs_error e = { 0 };
	size_t n = 0, pending;
	int64_t deadline;
	json_t *out = NULL;
	int code = 0;

	for (size_t i = 0; i < cfg->norgs && n < CS_CONFIG_ORGS_MAX; i++) {
		bool has = false;
		for (size_t k = 0; k < cfg->nmappings && !has; k++)
			has = m != NULL ? &cfg->mappings[k] == m && m->org_index == i : cfg->mappings[k].org_index == i;
		if (has)
			rqs[n++] = (struct rq){ .org = cfg->orgs[i].name };
	}
	if (n == 0) {
		fprintf(stderr, "clmsync reconcile: the configuration has no mappings: nothing to reconcile\n");
		return EXIT_NONE;
	}
	for (size_t i = 0; i < n; i++) {
		if (sync_reconcile_request(s, rqs[i].org, m != NULL ? m->name : NULL, repair, rqs[i].id, &e) != CS_OK) {
			fprintf(stderr, "clmsync reconcile: org %s: cannot make the request: %s\n", rqs[i].org, e.msg);
			if (i > 0)
				fprintf(stderr, "clmsync reconcile: the requests made before stay queued\n");
			return EXIT_STORE;
		}
	}
	deadline = cs_time_mono_ms() + (int64_t)wait_s * 1000;
	pending = wait_s > 0 ? n : 0;
	while (pending > 0) {
		for (size_t i = 0; i < n; i++) {
			cs_err rc;
			if (rqs[i].res != NULL)
				continue;
			rc = sync_reconcile_result(s, rqs[i].id, &rqs[i].res, &e);
			if (rc == CS_OK)
				pending--;
			else if (rc != CS_ENOTFOUND) {
				code = store_failed("reconcile", "cannot read the result", &e);
				goto out;
			}
		}
		if (pending == 0 || cs_time_mono_ms() >= deadline)
			break;
		sleep_ms(POLL_MS);
	}
	if (as_json && (out = json_array()) == NULL) {
		fprintf(stderr, "clmsync reconcile: out of memory\n");
		code = EXIT_STORE;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *r = rqs[i].res;
		long long checked = json_integer_value(json_object_get(r, "checked"));
		long long drift = json_integer_value(json_object_get(r, "drift"));
		bool ok = json_is_true(json_object_get(r, "ok"));
		const char *err = str_of(r, "error");
		int c = 0;

		if (r == NULL)
			c = wait_s > 0 ? EXIT_WAIT : 0;
		else if (!ok || (drift > 0 && !repair))
			c = EXIT_NONE;
		if (c > code)
			code = c;
		if (as_json) {
			json_t *o = json_pack("{s:s, s:s, s:s?, s:b, s:b}", "org", rqs[i].org, "request", rqs[i].id, "mapping",
			                      m != NULL ? m->name : NULL, "repair", repair, "done", r != NULL);
			if (o != NULL && r != NULL)
				json_object_update_missing(o, r);
			if (o == NULL || json_array_append_new(out, o) != 0) {
				fprintf(stderr, "clmsync reconcile: out of memory\n");
				code = EXIT_STORE;
				goto out;
			}
			continue;
		}
		if (r == NULL && wait_s == 0) {
			printf("org %s: requested (%s)\n", rqs[i].org, rqs[i].id);
		} else if (r == NULL) {
			char who[96];
			snprintf(who, sizeof(who), "org %s", rqs[i].org);
			not_applied("reconcile", who, wait_s);
		} else if (!ok) {
			printf("org %s: stopped early after %lld records compared, %lld differed: ", rqs[i].org, checked, drift);
			put_text(err);
			fputc('\n', stdout);
		} else if (drift > 0)
			printf("org %s: %lld records compared, %lld differed (%s)\n", rqs[i].org, checked, drift,
			       repair ? "repaired" : "reported");
		else
			printf("org %s: %lld records compared, %lld differed\n", rqs[i].org, checked, drift);
	}
	if (as_json && !put_json(out, true))
		code = EXIT_STORE;
out:
	for (size_t i = 0; i < n; i++)
		json_decref(rqs[i].res);
	json_decref(out);
	return code;
}

int
cmd_reconcile(int argc, char **argv)
{
	const unsigned allowed = COMMON | BIT(OPT_MAPPING) | BIT(OPT_REPAIR) | BIT(OPT_WAIT);
	const struct cs_mapping *m = NULL;
	struct cs_config *cfg = NULL;
	struct store *s = NULL;
	struct args a;
	long wait_s;
	int code;

	if ((code = parse("reconcile", argc, argv, allowed, reconcile_usage, &a)) >= 0)
		return code;
	if (a.npos > 0) {
		fprintf(stderr, "clmsync reconcile: unexpected argument '%s' (see --help)\n", a.pos[0]);
		return EXIT_USAGE;
	}
	if ((code = wait_of(&a, RECONCILE_WAIT_S, &wait_s)) >= 0)
		return code;
	if (a.val[OPT_CONFIG] == NULL) {
		fprintf(stderr, "clmsync reconcile: --config FILE is required (it names the orgs and mappings)\n");
		return EXIT_USAGE;
	}
	cs_log_setup(CS_LOG_WARN, 0);
	if ((code = open_store(&a, &cfg, &s)) != 0)
		return code;
	if (a.val[OPT_MAPPING] != NULL && (m = cs_config_mapping(cfg, a.val[OPT_MAPPING])) == NULL) {
		fprintf(stderr, "clmsync reconcile: %s has no mapping '%s'; it has:", a.val[OPT_CONFIG], a.val[OPT_MAPPING]);
		for (size_t i = 0; i < cfg->nmappings; i++)
			fprintf(stderr, " %s", cfg->mappings[i].name);
		fputs(cfg->nmappings == 0 ? " none\n" : "\n", stderr);
		code = EXIT_USAGE;
	} else
		code = reconcile_run(cfg, s, m, a.val[OPT_REPAIR] != NULL, wait_s, a.val[OPT_JSON] != NULL);
	store_close(s);
	cs_config_free(cfg);
	return code;
}

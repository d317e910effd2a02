/* torture.c - the torture run: each scenario's every store statement, VFS write and sync, HTTP
 * request and allocation failed in turn, each trial in a forked child (curl's torture tests,
 * SQLite's anomaly tests).
 *
 * For a scenario and a fault kind it first runs the scenario once with the fault armed "never"
 * to count the calls C it makes, then for N = 1..C runs it again in a fresh child with call N
 * failing, and requires of every trial:
 *   - a clean outcome: each operation either succeeded (possibly by retrying) with the right
 *     result, or returned an error the caller can act on (never a success with a wrong result,
 *     never a partial answer parsed as whole, never an out-of-memory or I/O failure reported as
 *     the client's mistake);
 *   - no crash and no hang: a signal or the trial's deadline (TRIAL_SECONDS) is reported;
 *   - no leak: every block the child allocated is freed once the scenario is torn down
 *     (alloc_fault.c records them); under CS_SANITIZE, LeakSanitizer checks the count runs too;
 *   - no corrupt store: PRAGMA integrity_check, the store's own invariants (every record has
 *     its history row, every history row its change-feed row and no change row announces a
 *     write that is not there) and the scenario's (a record exists iff its create reported
 *     success; a failed update leaves the previous version).
 *
 * Usage: torture [--scenario NAME[,NAME]] [--kind KIND] [--n N] [--sfemu PATH] [--max-trials M]
 * With --n, only trial N runs (of --kind, or of every kind), with its log on stderr: the line a
 * failure prints is the command that reproduces it. --max-trials bounds the trials of one walk
 * by striding N evenly (the default walks every N). TORTURE_NO_FORK=1 with --n runs that trial
 * in the torture process itself, for a debugger.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc_fault.h"
#include "vfs_fault.h"

#include "clm/clm.h"
#include "config/config.h"
#include "http/client.h"
#include "salesforce/sf.h"
#include <curl/curl.h>
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

#include "../integration/sfemu_proc.h"

#define TRIAL_SECONDS 30             /* a trial still running after this is a hang */
#define WHY_MAX 512

enum kind {
	K_STORE_IO,                      /* the Nth store statement: an I/O error */
	K_STORE_BUSY,                    /* the Nth store statement: locked past the busy timeout */
	K_STORE_SHORT,                   /* the Nth VFS write: half written, SQLITE_IOERR_WRITE */
	K_STORE_SYNC,                    /* the Nth VFS sync: SQLITE_IOERR_FSYNC */
	K_HTTP_CONNECT,                  /* the Nth HTTP request: connection refused, nothing sent */
	K_HTTP_TIMEOUT,                  /* the Nth HTTP request: done by the server, answer lost */
	K_HTTP_SHORT,                    /* the Nth HTTP request: its answer's body cut in half */
	K_ALLOC,                         /* the Nth allocation: NULL, ENOMEM */
	K_COUNT
};

static const char *const kind_names[K_COUNT] = {
	"store_io", "store_busy", "store_short_write", "store_sync", "http_connect", "http_timeout",
	"http_short_read", "alloc",
};

/* One trial's state: made by setup, filled by run, read by check, released by cleanup. */
struct trial {
	enum kind kind;
	long n;                          /* the call that fails; 0 none */
	char why[WHY_MAX];               /* what went wrong, when something did */
	char note[WHY_MAX];              /* a known weakness met, reported without failing */
	char dir[64], db[128], url[200];
	/* repo */
	bool opened, cp_ok, ct_ok, upd_ok, tr_ok, ob_ok, sync_ok;
	char cp[CLM_ID_MAX], ct[CLM_ID_MAX];
	/* config */
	char *dump;                      /* the loaded configuration, dumped after the window */
	/* sf */
	char tag[48];
	bool login_ok, a_ok, b_ok, upd_a_ok, c_ok[2];
	char a[SF_ID_LEN + 1], b[SF_ID_LEN + 1], c[2][SF_ID_LEN + 1];
};

struct scenario {
	const char *name;
	unsigned kinds;                  /* bit per enum kind */
	bool needs_emu;
	int (*setup)(struct trial *t);
	int (*run)(struct trial *t);     /* in the window: 0, or -1 with t->why for an unclean outcome */
	int (*check)(struct trial *t);   /* after it: 0, or -1 with t->why */
	void (*cleanup)(struct trial *t);
};

static struct emu_proc emu;
static bool emu_up;
static char *config_want;            /* the dump of the unarmed configuration load */

static int failf(struct trial *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
failf(struct trial *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- arming ---- */

static void
arm(enum kind k, long n)
{
	/* n 0 counts without failing: each hook counts while armed with a number above zero */
	long at = n > 0 ? n : LONG_MAX;

	switch (k) {
	case K_STORE_IO: store_fault_inject_kind(at, STORE_FAULT_IO); break;
	case K_STORE_BUSY: store_fault_inject_kind(at, STORE_FAULT_BUSY); break;
	case K_STORE_SHORT: vfs_fault_arm(n, VFS_FAULT_SHORT_WRITE); break;
	case K_STORE_SYNC: vfs_fault_arm(n, VFS_FAULT_SYNC); break;
	case K_HTTP_CONNECT: http_fault_inject(at, HTTP_FAULT_CONNECT); break;
	case K_HTTP_TIMEOUT: http_fault_inject(at, HTTP_FAULT_TIMEOUT); break;
	case K_HTTP_SHORT: http_fault_inject(at, HTTP_FAULT_SHORT_READ); break;
	case K_ALLOC: alloc_fault_arm(n); break;
	case K_COUNT: break;
	}
}

/* Disarms k; returns the calls it counted. */
static long
disarm(enum kind k)
{
	long c = 0;

	switch (k) {
	case K_STORE_IO:
	case K_STORE_BUSY:
		c = store_fault_counted();
		store_fault_inject(0);
		break;
	case K_STORE_SHORT:
	case K_STORE_SYNC:
		c = vfs_fault_disarm();
		break;
	case K_HTTP_CONNECT:
	case K_HTTP_TIMEOUT:
	case K_HTTP_SHORT:
		c = http_fault_counted();
		http_fault_inject(0, HTTP_FAULT_CONNECT);
		break;
	case K_ALLOC:
		c = alloc_fault_disarm();
		break;
	case K_COUNT:
		break;
	}
	return c;
}

/* ---- temporary directories ---- */

static int
tmpdir(struct trial *t, const char *name)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/torture-%s.XXXXXX", name);
	if (mkdtemp(t->dir) == NULL)
		return failf(t, "mkdtemp: %s", strerror(errno));
	snprintf(t->db, sizeof(t->db), "%s/clm.db", t->dir);
	snprintf(t->url, sizeof(t->url), "sqlite:%s", t->db);
	return 0;
}

static void
rmtmp(struct trial *t)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[200];

	if (t->dir[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", t->db, sfx[i]);
		unlink(p);
	}
	rmdir(t->dir);
	t->dir[0] = '\0';
}

/* ---- scenario: the repository ---- */

/* A request body, as a handler has it before calling the repository: made outside the fault
 * window, since the scenario's own input is not what is tested. */
static json_t *
J(const char *text)
{
	json_t *v;

	alloc_fault_pause();
	v = json_loads(text, 0, NULL);
	alloc_fault_resume();
	return v;
}

/* A failed repository call is clean when it says why as the API would, and does not blame the
 * client for a failure of the store or of memory: a 5xx. */
static int
clean_fail(struct trial *t, const char *what, cs_err err, const struct clm_fail *f)
{
	if (f->status < 500 || f->code[0] == '\0')
		return failf(t, "%s failed as %d %s (%s: %s): a store or memory failure must be a 5xx", what,
		             f->status, f->code, cs_strerror(err), f->msg);
	return 0;
}

static int
repo_setup(struct trial *t)
{
	return tmpdir(t, "repo");
}

/* clm_new, then what the REST handlers do for a new deal: a counterparty, its contract, an edit,
 * a lifecycle move, an obligation; the sync engine's write of a repository change inside its own
 * transaction (clm_update_in); reads; clm_free. */
static int
repo_run(struct trial *t)
{
	struct clm_opts o = { .store_url = t->url, .pool_size = 2 };
	struct clm *c = NULL;
	struct clm_fail f;
	struct cs_error e;
	struct store *s = NULL;
	json_t *body = NULL, *out = NULL;
	char text[256];
	cs_err err;
	int rc = 0;

	if ((err = clm_new(&o, &c, &e)) != CS_OK) {
		if (err == CS_EINVAL)
			return failf(t, "clm_new: %s: %s", cs_strerror(err), e.msg);
		return 0;
	}
	t->opened = true;

#define STEP(expr, what, okflag)                                                                  \
	do {                                                                                      \
		memset(&f, 0, sizeof(f));                                                         \
		err = (expr);                                                                     \
		if (err == CS_OK)                                                                 \
			okflag = true;                                                            \
		else if (rc == 0 && clean_fail(t, what, err, &f) != 0)                            \
			rc = -1;                                                                  \
		json_decref(body);                                                                \
		body = NULL;                                                                      \
	} while (0)

	body = J("{\"legal_name\":\"Acme GmbH\",\"country\":\"DE\"}");
	STEP(clm_create(c, CLM_COUNTERPARTY, NULL, body, "api:torture", &out, &f), "create counterparty", t->cp_ok);
	if (t->cp_ok && out != NULL)
		snprintf(t->cp, sizeof(t->cp), "%s", json_string_value(json_object_get(out, "id")));
	json_decref(out);
	out = NULL;
	if (t->cp_ok && t->cp[0] != '\0') {
		snprintf(text, sizeof(text), "{\"title\":\"MSA\",\"type\":\"msa\",\"counterparty_id\":\"%s\","
		         "\"total_value\":{\"amount\":\"1200.5\",\"currency\":\"EUR\"}}", t->cp);
		body = J(text);
		STEP(clm_create(c, CLM_CONTRACT, NULL, body, "api:torture", &out, &f), "create contract", t->ct_ok);
		if (t->ct_ok && out != NULL)
			snprintf(t->ct, sizeof(t->ct), "%s", json_string_value(json_object_get(out, "id")));
		json_decref(out);
		out = NULL;
	}
	if (t->ct_ok && t->ct[0] != '\0') {
		body = J("{\"title\":\"MSA v2\"}");
		STEP(clm_update(c, CLM_CONTRACT, NULL, t->ct, body, -1, "api:torture", NULL, &f), "update contract",
		     t->upd_ok);
		body = J("{\"to\":\"in_review\",\"reason\":\"ready\"}");
		STEP(clm_transition(c, t->ct, body, -1, "api:torture", NULL, &f), "transition contract", t->tr_ok);
		body = J("{\"description\":\"Quarterly report\",\"due_date\":\"2026-03-31\",\"recurrence\":\"quarterly\"}");
		STEP(clm_create(c, CLM_OBLIGATION, t->ct, body, "api:torture", NULL, &f), "create obligation", t->ob_ok);
	}
	if (t->ct_ok && t->ct[0] != '\0' && store_open(t->url, &s, &e) == CS_OK) {
		/* the sync engine's path: a repository change committed with the engine's own state */
		long long seq = 0;
		bool in_ok = false;

		if (store_begin(s, &e) == CS_OK) {
			body = J("{\"description\":\"synced\"}");
			STEP(clm_update_in(c, s, CLM_CONTRACT, NULL, t->ct, body, -1, "sync:torture", NULL, &seq, &f),
			     "update contract in a transaction", in_ok);
			if (in_ok && store_commit(s, &e) == CS_OK) {
				t->sync_ok = true;
				clm_notify(c, seq);
			}
			store_rollback(s);
		}
		store_close(s);
	}
	if (t->ct_ok && t->ct[0] != '\0') {
		memset(&f, 0, sizeof(f));
		if ((err = clm_get(c, CLM_CONTRACT, NULL, t->ct, &out, &f)) == CS_OK) {
			const char *title = json_string_value(json_object_get(out, "title"));
			const char *st = json_string_value(json_object_get(out, "status"));

			/* a failed write may not show; a reported one must */
			if (rc == 0 && t->upd_ok && (title == NULL || strcmp(title, "MSA v2") != 0))
				rc = failf(t, "read back: title '%s' after a reported update", title ? title : "(none)");
			if (rc == 0 && t->tr_ok && (st == NULL || strcmp(st, "in_review") != 0))
				rc = failf(t, "read back: status '%s' after a reported transition", st ? st : "(none)");
		} else if (rc == 0 && err == CS_ENOTFOUND) {
			rc = failf(t, "read back: the contract created is not found");
		}
		json_decref(out);
		out = NULL;
	}
	memset(&f, 0, sizeof(f));
	if (clm_changes(c, 0, 100, 0, &out, &f) == CS_OK) {
		size_t want = (size_t)t->cp_ok + t->ct_ok + t->upd_ok + t->tr_ok + t->ob_ok + t->sync_ok;
		if (rc == 0 && json_array_size(json_object_get(out, "data")) < want)
			rc = failf(t, "change feed: %zu rows for %zu reported writes",
			           json_array_size(json_object_get(out, "data")), want);
	}
	json_decref(out);
	clm_free(c);
#undef STEP
	return rc;
}

static int
sql_int(sqlite3 *db, const char *sql, long long *v)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The checks on a store file any scenario can run: integrity, and the store's own invariants. */
static int
store_invariants(struct trial *t, sqlite3 *db)
{
	static const struct { const char *sql, *what; } inv[] = {
		{ "SELECT count(*) FROM records r WHERE NOT EXISTS"
		  " (SELECT 1 FROM history h WHERE h.id = r.id AND h.version = r.version)",
		  "records without their history row" },
		{ "SELECT count(*) FROM history h WHERE NOT EXISTS"
		  " (SELECT 1 FROM changes c WHERE c.id = h.id AND c.version = h.version)",
		  "versions without their change-feed row" },
		{ "SELECT count(*) FROM changes c WHERE c.op <> 'delete' AND NOT EXISTS"
		  " (SELECT 1 FROM history h WHERE h.id = c.id AND h.version = c.version)",
		  "change-feed rows announcing a write that is not there" },
	};
	sqlite3_stmt *st = NULL;
	const char *res = NULL;
	long long n;

	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
		return failf(t, "integrity_check: %s", sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		res = (const char *)sqlite3_column_text(st, 0);
	if (res == NULL || strcmp(res, "ok") != 0) {
		failf(t, "integrity_check: %s", res ? res : sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < sizeof(inv) / sizeof(inv[0]); i++) {
		if (sql_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'changes'", &n) != 0)
			return failf(t, "schema: %s", sqlite3_errmsg(db));
		if (n == 0)
			return 0;                /* migrations never ran: nothing else to check */
		if (sql_int(db, inv[i].sql, &n) != 0)
			return failf(t, "%s: %s", inv[i].what, sqlite3_errmsg(db));
		if (n != 0)
			return failf(t, "%lld %s", n, inv[i].what);
	}
	return 0;
}

static int
repo_check(struct trial *t)
{
	static const struct { const char *kind; size_t flag; } counts[] = {
		{ "counterparty", offsetof(struct trial, cp_ok) },
		{ "contract", offsetof(struct trial, ct_ok) },
		{ "obligation", offsetof(struct trial, ob_ok) },
	};
	struct clm_opts o = { .store_url = t->url, .pool_size = 1 };
	struct clm *c = NULL;
	struct clm_fail f;
	struct cs_error e;
	struct stat sb;
	sqlite3 *db = NULL;
	json_t *rec = NULL;
	char sql[128];
	long long n, writes;
	int rc = -1;

	if (stat(t->db, &sb) != 0)
		return t->cp_ok ? failf(t, "the store file is gone after a reported write") : 0;
	if (sqlite3_open_v2(t->db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		failf(t, "cannot open the store file: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (store_invariants(t, db) != 0)
		goto out;
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		bool want = *(const bool *)((const char *)t + counts[i].flag);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE kind = '%s'", counts[i].kind);
		if (sql_int(db, sql, &n) != 0)
			n = 0;                   /* no table: migrations never ran */
		if (n != (want ? 1 : 0)) {
			failf(t, "%lld %s records, but its create reported %s", n, counts[i].kind,
			      want ? "success" : "failure");
			goto out;
		}
	}
	writes = (long long)t->cp_ok + t->ct_ok + t->upd_ok + t->tr_ok + t->ob_ok + t->sync_ok;
	if (sql_int(db, "SELECT count(*) FROM changes", &n) != 0)
		n = 0;
	if (n != writes) {
		failf(t, "%lld change-feed rows for %lld reported writes", n, writes);
		goto out;
	}
	sqlite3_close(db);
	db = NULL;
	/* it opens again as the repository, and reads back as written */
	if (clm_new(&o, &c, &e) != CS_OK) {
		failf(t, "the store does not open again: %s", e.msg);
		goto out;
	}
	if (t->ct_ok && t->ct[0] != '\0') {
		const char *title, *st, *desc;

		memset(&f, 0, sizeof(f));
		if (clm_get(c, CLM_CONTRACT, NULL, t->ct, &rec, &f) != CS_OK) {
			failf(t, "contract read back: %d %s %s", f.status, f.code, f.msg);
			goto out;
		}
		title = json_string_value(json_object_get(rec, "title"));
		st = json_string_value(json_object_get(rec, "status"));
		desc = json_string_value(json_object_get(rec, "description"));
		if (title == NULL || strcmp(title, t->upd_ok ? "MSA v2" : "MSA") != 0 ||
		    st == NULL || strcmp(st, t->tr_ok ? "in_review" : "draft") != 0 ||
		    (t->sync_ok ? desc == NULL || strcmp(desc, "synced") != 0 : desc != NULL) ||
		    json_integer_value(json_object_get(rec, "version")) != 1 + t->upd_ok + t->tr_ok + t->sync_ok) {
			failf(t, "contract read back as title '%s', status '%s', description '%s', version %lld; reported: "
			      "update %s, transition %s, synced change %s", title ? title : "", st ? st : "",
			      desc ? desc : "", (long long)json_integer_value(json_object_get(rec, "version")),
			      t->upd_ok ? "ok" : "failed", t->tr_ok ? "ok" : "failed", t->sync_ok ? "ok" : "failed");
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(rec);
	clm_free(c);
	if (db != NULL)
		sqlite3_close(db);
	return rc;
}

static void
repo_cleanup(struct trial *t)
{
	rmtmp(t);
}

/* ---- scenario: the configuration ----
 *
 * libfyaml (0.8, Debian 12) does not survive a failed allocation: its document builder
 * dereferences the NULL (fy_document_builder_process_event, SIGSEGV; fy_parser_set_string in
 * fy_parse_input_append likewise), fy_parser_create leaks on one, and its parser reports
 * what it could not allocate as a syntax error or an empty stream. So the alloc walk of this
 * scenario fails the allocations of the project's code only: the torture binary wraps those three
 * libfyaml calls and pauses the fault window while they run (the allocations it makes are still
 * recorded for leaks). What the project makes of a parser that fails or returns nothing is
 * walked all the same, through the allocations libfyaml's other calls make. */
#include <dlfcn.h>
#include <libfyaml.h>

struct fy_document *
fy_parse_load_document(struct fy_parser *fyp)
{
	static struct fy_document *(*real)(struct fy_parser *);
	struct fy_document *d;

	if (real == NULL)
		real = (struct fy_document *(*)(struct fy_parser *))dlsym(RTLD_NEXT, "fy_parse_load_document");
	alloc_fault_pause();
	d = real(fyp);
	alloc_fault_resume();
	return d;
}

/* fy_parser_create leaks what it had allocated when a later allocation fails (in
 * fy_parse_setup: fy_document_state_default). */
struct fy_parser *
fy_parser_create(const struct fy_parse_cfg *cfg)
{
	static struct fy_parser *(*real)(const struct fy_parse_cfg *);
	struct fy_parser *p;

	if (real == NULL)
		real = (struct fy_parser *(*)(const struct fy_parse_cfg *))dlsym(RTLD_NEXT, "fy_parser_create");
	alloc_fault_pause();
	p = real(cfg);
	alloc_fault_resume();
	return p;
}

/* fy_parser_set_string dereferences what it failed to allocate too (fy_parse_input_append). */
int
fy_parser_set_string(struct fy_parser *fyp, const char *str, size_t len)
{
	static int (*real)(struct fy_parser *, const char *, size_t);
	int rc;

	if (real == NULL)
		real = (int (*)(struct fy_parser *, const char *, size_t))dlsym(RTLD_NEXT, "fy_parser_set_string");
	alloc_fault_pause();
	rc = real(fyp, str, len);
	alloc_fault_resume();
	return rc;
}

static const char *
config_path(void)
{
	return TORTURE_SOURCE_DIR "/config/examples/demo.yaml";
}

static int
config_setup(struct trial *t)
{
	return 0;
}

static int
config_run(struct trial *t)
{
	struct cs_config *c = NULL;
	struct cs_error_list errs;
	struct cs_buf b;
	cs_err err;
	int rc = 0;

	cs_error_list_init(&errs);
	err = cs_config_load(config_path(), &c, &errs);
	if (err == CS_OK && c == NULL)
		rc = failf(t, "load: success without a configuration");
	else if (err != CS_OK && c != NULL)
		rc = failf(t, "load: %s with a configuration", cs_strerror(err));
	else if (err != CS_OK && err != CS_ENOMEM && t->kind == K_ALLOC)
		/* libfyaml tells no out-of-memory from a syntax error (its parser just fails): a note,
		 * not a failure */
		snprintf(t->note, sizeof(t->note), "out of memory reported as %s (%s)", cs_strerror(err),
		         errs.n > 0 && errs.v[0].text ? errs.v[0].text : "no message");
	cs_error_list_cleanup(&errs);
	alloc_fault_disarm();
	if (c != NULL) {
		cs_buf_init(&b, 1u << 20);
		if (cs_config_dump(c, &b) == CS_OK)
			t->dump = cs_buf_take(&b);
		cs_buf_cleanup(&b);
		cs_config_free(c);
		if (rc == 0 && t->dump == NULL)
			rc = failf(t, "dump failed");
	}
	return rc;
}

static int
config_check(struct trial *t)
{
	if (t->dump != NULL && config_want != NULL && strcmp(t->dump, config_want) != 0)
		return failf(t, "the configuration loaded differs from the one loaded without faults");
	return 0;
}

static void
config_cleanup(struct trial *t)
{
	free(t->dump);
	t->dump = NULL;
}

/* ---- scenario: the Salesforce connector against sfemu ---- */

static void
org_config(struct sf_org_config *c)
{
	memset(c, 0, sizeof(*c));
	c->name = "torture";
	c->login_url = emu.url;
	c->api_version = "62.0";
	c->client_name = "clmsync";
	c->auth = SF_AUTH_CLIENT_CREDENTIALS;
	c->client_id = "clmsync-test-client";
	c->client_secret = "clmsync-test-secret";
	c->retry.base_ms = 1;
	c->retry.cap_ms = 5;
}

static int
sf_setup(struct trial *t)
{
	static unsigned long seq;

	/* each trial's own records: the emulator is shared by the whole walk */
	snprintf(t->tag, sizeof(t->tag), "T%ld-%lu-%d", (long)time(NULL) % 100000, ++seq, (int)getpid());
	return 0;
}

/* Evaluates e, a scenario's own input, outside the fault window. */
#define IN(e) (alloc_fault_pause(), in_value = (e), alloc_fault_resume(), in_value)
static json_t *in_value;

/* An error from a call under an HTTP fault is clean unless it shows a partial answer was read. */
static int
sf_clean(struct trial *t, const char *what, cs_err err, const struct sf_error *e)
{
	if (err == CS_EPARSE && t->kind == K_HTTP_SHORT)
		return failf(t, "%s: a cut answer was parsed (%s)", what, e->message);
	if (err == CS_EINTERNAL)
		return failf(t, "%s: %s", what, e->message);
	return 0;
}

/* Login, a create (never retried after an ambiguous failure), an upsert by external id, an
 * update, a query, a Collections upsert and a retrieve. */
static int
sf_run(struct trial *t)
{
	struct sf_org_config oc;
	struct sf_org *org = NULL;
	struct sf_client *c = NULL;
	struct sf_error e;
	struct sf_result res[2];
	json_t *v = NULL, *rows = NULL;
	char name[96], ext[96], soql[256];
	cs_err err;
	int rc = 0;

	org_config(&oc);
	if (sf_org_new(&oc, &org, &e) != CS_OK || sf_client_new(org, &c) != CS_OK)
		goto out;

#define CHECK(what)                                                                               \
	do {                                                                                      \
		if (err != CS_OK && rc == 0)                                                      \
			rc = sf_clean(t, what, err, &e);                                          \
	} while (0)

	err = sf_login(c, &e);
	t->login_ok = err == CS_OK;
	CHECK("login");

	snprintf(name, sizeof(name), "Torture %s A", t->tag);
	v = IN(json_pack("{ss}", "Name", name));
	err = v ? sf_rest_create(c, "Account", v, t->a, &e) : CS_ENOMEM;
	t->a_ok = err == CS_OK;
	CHECK("create");
	json_decref(v);

	snprintf(name, sizeof(name), "Torture %s B", t->tag);
	snprintf(ext, sizeof(ext), "%s-B", t->tag);
	v = IN(json_pack("{ss}", "Name", name));
	err = v ? sf_rest_upsert(c, "Account", "CLM_Id__c", ext, v, t->b, NULL, &e) : CS_ENOMEM;
	t->b_ok = err == CS_OK;
	CHECK("upsert");
	json_decref(v);

	if (t->a_ok) {
		snprintf(name, sizeof(name), "Torture %s A2", t->tag);
		v = IN(json_pack("{ss}", "Name", name));
		err = v ? sf_rest_update(c, "Account", t->a, v, &e) : CS_ENOMEM;
		t->upd_a_ok = err == CS_OK;
		CHECK("update");
		json_decref(v);
	}

	snprintf(soql, sizeof(soql), "SELECT Id, Name, CLM_Id__c FROM Account WHERE Name LIKE 'Torture %s %%'", t->tag);
	err = sf_query_array(c, soql, 0, 100, &rows, &e);
	CHECK("query");
	if (err == CS_OK && rc == 0) {
		/* what the calls before reported done is there */
		size_t i;
		json_t *r;
		bool seen_a = false, seen_b = false;

		json_array_foreach(rows, i, r) {
			const char *id = json_string_value(json_object_get(r, "Id"));
			if (id != NULL && t->a_ok && strcmp(id, t->a) == 0)
				seen_a = true;
			if (id != NULL && t->b_ok && strcmp(id, t->b) == 0)
				seen_b = true;
		}
		if (t->b_ok && t->b[0] == '\0')
			seen_b = true;           /* no id to look for: sf_check looks for it by external id */
		if ((t->a_ok && !seen_a) || (t->b_ok && !seen_b)) {
			char *d = json_dumps(rows, JSON_COMPACT);
			rc = failf(t, "query: Account %s is missing from %.300s", t->a_ok && !seen_a ? t->a : t->b,
			           d ? d : "?");
			free(d);
		}
	}
	json_decref(rows);
	rows = NULL;

	alloc_fault_pause();
	v = json_array();
	for (int i = 0; i < 2 && v != NULL; i++) {
		snprintf(name, sizeof(name), "Torture %s C%d", t->tag, i);
		snprintf(ext, sizeof(ext), "%s-C%d", t->tag, i);
		json_array_append_new(v, json_pack("{s{ss}ssss}", "attributes", "type", "Account", "Name", name,
		                                   "CLM_Id__c", ext));
	}
	alloc_fault_resume();
	memset(res, 0, sizeof(res));
	err = v ? sf_coll_upsert(c, "Account", "CLM_Id__c", v, false, res, &e) : CS_ENOMEM;
	CHECK("collections upsert");
	for (int i = 0; i < 2; i++) {
		t->c_ok[i] = err == CS_OK && res[i].success;
		if (t->c_ok[i])
			memcpy(t->c[i], res[i].id, sizeof(t->c[i]));   /* both SF_ID_LEN + 1, NUL-ended */
	}
	json_decref(v);

	if (t->a_ok) {
		err = sf_rest_retrieve(c, "Account", t->a, "Id,Name", &v, &e);
		CHECK("retrieve");
		if (err == CS_OK && rc == 0) {
			const char *nm = json_string_value(json_object_get(v, "Name"));
			snprintf(name, sizeof(name), "Torture %s A2", t->tag);
			if (t->upd_a_ok && (nm == NULL || strcmp(nm, name) != 0))
				rc = failf(t, "retrieve: Name '%s' after a reported update", nm ? nm : "(none)");
		}
		json_decref(v);
	}
#undef CHECK
out:
	sf_client_free(c);
	sf_org_free(org);
	return rc;
}

/* Counts the Accounts whose field equals value, with a client no fault touches. */
static int
sf_count(struct sf_client *c, const char *field, const char *value, long long *n, char first[SF_ID_LEN + 1])
{
	char soql[256];
	json_t *rows = NULL;
	struct sf_error e;

	snprintf(soql, sizeof(soql), "SELECT Id FROM Account WHERE %s = '%s'", field, value);
	if (sf_query_array(c, soql, 0, 100, &rows, &e) != CS_OK)
		return -1;
	*n = (long long)json_array_size(rows);
	snprintf(first, SF_ID_LEN + 1, "%s", *n > 0 ? json_string_value(json_object_get(json_array_get(rows, 0), "Id")) : "");
	json_decref(rows);
	return 0;
}

static int
sf_check(struct trial *t)
{
	struct sf_org_config oc;
	struct sf_org *org = NULL;
	struct sf_client *c = NULL;
	struct sf_error e;
	struct {
		const char *field;
		char value[96];
		bool ok;
		const char *id;
	} want[4];
	char first[SF_ID_LEN + 1];
	long long n;
	int rc = 0;

	org_config(&oc);
	if (sf_org_new(&oc, &org, &e) != CS_OK || sf_client_new(org, &c) != CS_OK) {
		rc = failf(t, "check: no client");
		goto out;
	}
	/* A was created under this name, then maybe renamed: look for both */
	want[0].field = "Name";
	snprintf(want[0].value, sizeof(want[0].value), "Torture %s A", t->tag);
	want[0].ok = false;              /* renamed, perhaps, by an update whose answer was lost: below */
	want[0].id = t->a;
	want[1].field = "CLM_Id__c";
	snprintf(want[1].value, sizeof(want[1].value), "%s-B", t->tag);
	want[1].ok = t->b_ok;
	want[1].id = t->b;
	if (t->b_ok && t->b[0] == '\0') {
		/* jansson, out of memory while parsing the answer, handed back an object without its
		 * "id" (see the report of the walk): success without an id is what the caller sees */
		snprintf(t->note, sizeof(t->note), "upsert answered success without an id");
	}
	for (int i = 0; i < 2; i++) {
		want[2 + i].field = "CLM_Id__c";
		snprintf(want[2 + i].value, sizeof(want[2 + i].value), "%s-C%d", t->tag, i);
		want[2 + i].ok = t->c_ok[i];
		want[2 + i].id = t->c[i];
	}
	for (int i = 0; i < 4 && rc == 0; i++) {
		if (sf_count(c, want[i].field, want[i].value, &n, first) != 0)
			rc = failf(t, "check: query failed");
		else if (n > 1)
			rc = failf(t, "%lld Accounts with %s = '%s': a duplicate", n, want[i].field, want[i].value);
		else if (want[i].ok && (n != 1 || (want[i].id[0] != '\0' && strcmp(first, want[i].id) != 0)))
			rc = failf(t, "no Account %s with %s = '%s', reported written", want[i].id, want[i].field,
			           want[i].value);
	}
	if (rc == 0) {
		long long n2;
		char v2[96];

		/* one Account A at most, under either name: a create is never repeated */
		snprintf(v2, sizeof(v2), "Torture %s A2", t->tag);
		if (sf_count(c, "Name", v2, &n2, first) != 0 || sf_count(c, "Name", want[0].value, &n, first) != 0)
			rc = failf(t, "check: query failed");
		else if (n + n2 > 1)
			rc = failf(t, "%lld Accounts A: the create was repeated", n + n2);
		else if (t->a_ok && n + n2 != 1)
			rc = failf(t, "Account A reported created is not there");
		else if (t->upd_a_ok && n2 != 1)
			rc = failf(t, "Account A not renamed though the update reported success");
	}
out:
	sf_client_free(c);
	sf_org_free(org);
	return rc;
}

static void
sf_cleanup(struct trial *t)
{
}

/* libcurl's curl_easy_reset returns nothing, so an allocation failing inside it (it copies the
 * default CA path) goes unseen and leaves the handle half set up: in the walk, the POST made
 * with it next reached the server twice (two Accounts from one sf_rest_create). Nothing the
 * caller can check exists, so the alloc walk does not fail allocations inside it. */
void
curl_easy_reset(CURL *h)
{
	static void (*real)(CURL *);

	if (real == NULL)
		real = (void (*)(CURL *))dlsym(RTLD_NEXT, "curl_easy_reset");
	alloc_fault_pause();
	real(h);
	alloc_fault_resume();
}

/* libcurl (7.88) does not always free what it had allocated for a transfer when a later
 * allocation inside curl_easy_perform fails (a block is left after curl_easy_cleanup). A leak
 * after a failure inside it is reported as a note; every other leak fails the trial. */
CURLcode
curl_easy_perform(CURL *h)
{
	static CURLcode (*real)(CURL *);
	CURLcode rc;

	if (real == NULL)
		real = (CURLcode (*)(CURL *))dlsym(RTLD_NEXT, "curl_easy_perform");
	alloc_fault_lib_enter();
	rc = real(h);
	alloc_fault_lib_leave();
	return rc;
}

/* ---- the walk ---- */

#define KB(k) (1u << (k))
static const struct scenario scenarios[] = {
	{ "repo", KB(K_STORE_IO) | KB(K_STORE_BUSY) | KB(K_STORE_SHORT) | KB(K_STORE_SYNC) | KB(K_ALLOC), false,
	  repo_setup, repo_run, repo_check, repo_cleanup },
	{ "config", KB(K_ALLOC), false, config_setup, config_run, config_check, config_cleanup },
	{ "sf", KB(K_HTTP_CONNECT) | KB(K_HTTP_TIMEOUT) | KB(K_HTTP_SHORT) | KB(K_ALLOC), true,
	  sf_setup, sf_run, sf_check, sf_cleanup },
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

/* Runs one trial in this process: setup, the window with call n of kind k failing, the checks,
 * cleanup and the leak count. *calls gets the calls the window counted. Returns 0 or -1 (t->why). */
static int
trial_run(const struct scenario *sc, struct trial *t, long *calls)
{
	long leaked;
	int rc;

	alloc_track_start();
	if (sc->setup(t) != 0)
		return -1;
	arm(t->kind, t->n);
	rc = sc->run(t);
	*calls = disarm(t->kind);
	if (rc == 0)
		rc = sc->check(t);
	sc->cleanup(t);
	if ((leaked = alloc_track_outstanding()) > 0 && rc == 0 && t->kind == K_ALLOC && alloc_fault_fired_in_lib()) {
		snprintf(t->note, sizeof(t->note), "libcurl leaked %ld blocks after a failed allocation inside "
		         "curl_easy_perform", leaked);
	} else if (leaked != 0) {
		if (rc == 0) {
			if (leaked < 0)
				failf(t, "too many blocks to count leaks");
			else
				failf(t, "%ld blocks leaked", leaked);
		}
		alloc_track_dump(10);
		rc = -1;
	}
	return rc;
}

/* Runs a trial in a forked child: 0 clean, -1 failed (described on stderr). *calls as trial_run. */
static long notes;                   /* trials of the current walk with a note */
static char first_note[WHY_MAX + 32];

static int
trial_fork(const struct scenario *sc, enum kind k, long n, long *calls, bool quiet)
{
	int fd[2], st;
	pid_t pid;
	struct {
		long calls;
		char why[WHY_MAX];
		char note[WHY_MAX];
	} msg = { 0, "", "" };

	if (pipe(fd) != 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		struct trial t;
		int rc;

		close(fd[0]);
		if (quiet) {
			/* the errors a walk provokes are expected; a failure is told by the parent, and
			 * --n N runs the trial again with its log */
			int nul = open("/dev/null", O_WRONLY);
			if (nul >= 0) {
				dup2(nul, 2);
				close(nul);
			}
		}
		memset(&t, 0, sizeof(t));
		t.kind = k;
		t.n = n;
		alarm(TRIAL_SECONDS);
		rc = trial_run(sc, &t, &msg.calls);
		snprintf(msg.why, sizeof(msg.why), "%s", rc == 0 ? "" : t.why[0] ? t.why : "failed");
		snprintf(msg.note, sizeof(msg.note), "%s", t.note);
		(void)!write(fd[1], &msg, sizeof(msg));
		/* _exit: the parent's atexit handlers are not this child's to run */
		_exit(rc == 0 ? 0 : 1);
	}
	close(fd[1]);
	if (read(fd[0], &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		snprintf(msg.why, sizeof(msg.why), "no report");
	close(fd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*calls = msg.calls;
	if (msg.note[0] != '\0' && notes++ == 0)
		snprintf(first_note, sizeof(first_note), "N=%ld: %s", n, msg.note);
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "torture: FAIL %s %s N=%ld: %s (signal %d)\n", sc->name, kind_names[k], n,
		        WTERMSIG(st) == SIGALRM ? "hang" : "crash", WTERMSIG(st));
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "torture: FAIL %s %s N=%ld: %s\n", sc->name, kind_names[k], n, msg.why);
		return -1;
	}
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Walks kind k over scenario sc: counts, then fails each call in turn. Returns failures. */
static int
walk(const struct scenario *sc, enum kind k, long only, long max_trials)
{
	double t0 = now_s();
	long calls = 0, c, trials = 0, stride = 1;
	int failures = 0;

	notes = 0;
	if (only > 0 && getenv("TORTURE_NO_FORK") != NULL) {
		/* under a debugger: the one trial in this process */
		struct trial t;

		memset(&t, 0, sizeof(t));
		t.kind = k;
		t.n = only;
		if (trial_run(sc, &t, &c) != 0) {
			fprintf(stderr, "torture: FAIL %s %s N=%ld: %s\n", sc->name, kind_names[k], only, t.why);
			return 1;
		}
		return 0;
	}
	if (trial_fork(sc, k, 0, &calls, false) != 0) {
		fprintf(stderr, "torture: FAIL %s %s: the run without faults failed\n", sc->name, kind_names[k]);
		return 1;
	}
	if (only > 0) {
		failures += trial_fork(sc, k, only, &c, false) != 0;
		printf("torture: %s %s N=%ld of %ld: %s\n", sc->name, kind_names[k], only, calls, failures ? "FAIL" : "ok");
		return failures;
	}
	if (max_trials > 0 && calls > max_trials)
		stride = (calls + max_trials - 1) / max_trials;
	for (long n = 1; n <= calls; n += stride) {
		trials++;
		if (trial_fork(sc, k, n, &c, true) != 0) {
			failures++;
			fprintf(stderr, "torture:   reproduce: torture --scenario %s --kind %s --n %ld\n", sc->name,
			        kind_names[k], n);
			if (failures >= 20) {
				fprintf(stderr, "torture: %s %s: stopping after 20 failures\n", sc->name, kind_names[k]);
				break;
			}
		}
	}
	printf("torture: %-6s %-17s %6ld calls, %6ld trials%s, %d failed (%.1f s)\n", sc->name, kind_names[k],
	       calls, trials, stride > 1 ? " (strided)" : "", failures, now_s() - t0);
	if (notes > 0)
		printf("torture:   note: %ld trials met a known weakness, first %s\n", notes, first_note);
	fflush(stdout);
	return failures;
}

/* Runs sc once in this process without faults, before any child is forked: what libraries set
 * up once per process (glibc's cache of thread stacks and their TLS, libcurl's and OpenSSL's
 * global state, SQLite's) is then there in every child, and not counted as its leak. */
static int
warm_up(const struct scenario *sc)
{
	struct trial t;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = sc->setup(&t);
	if (rc == 0)
		rc = sc->run(&t);
	if (rc == 0)
		rc = sc->check(&t);
	if (rc == 0 && sc->run == config_run && config_want == NULL) {
		/* what a load without faults gives, for the trials to compare with */
		config_want = t.dump;
		t.dump = NULL;
	}
	sc->cleanup(&t);
	if (rc != 0)
		fprintf(stderr, "torture: FAIL %s: the run without faults failed: %s\n", sc->name, t.why);
	return rc;
}

static int
usage(void)
{
	fprintf(stderr, "usage: torture [--scenario NAME[,NAME]] [--kind KIND] [--n N] [--sfemu PATH] [--max-trials M]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *only_sc = NULL, *only_kind = NULL;
	long only_n = 0, max_trials = 0;
	int failures = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc)
			only_sc = argv[++i];
		else if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc)
			only_kind = argv[++i];
		else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
			only_n = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--sfemu") == 0 && i + 1 < argc)
			emu_bin = argv[++i];
		else if (strcmp(argv[i], "--max-trials") == 0 && i + 1 < argc)
			max_trials = strtol(argv[++i], NULL, 10);
		else
			return usage();
	}
	cs_log_setup(only_n > 0 ? CS_LOG_DEBUG : CS_LOG_ERROR, 0);
	/* the demo configuration's client secret comes from the environment */
	setenv("CLMSYNC_DEMO_SECRET", "clmsync-test-secret", 1);
	if (vfs_fault_install() != 0) {
		fprintf(stderr, "torture: cannot install the fault VFS\n");
		return 1;
	}
	for (size_t s = 0; s < NSCEN; s++) {
		const struct scenario *sc = &scenarios[s];
		char list[128];
		bool picked = only_sc == NULL;

		if (only_sc != NULL) {
			snprintf(list, sizeof(list), ",%s,", only_sc);
			char want[40];
			snprintf(want, sizeof(want), ",%s,", sc->name);
			picked = strstr(list, want) != NULL;
		}
		if (!picked)
			continue;
		if (sc->needs_emu && !emu_up) {
			if (emu_bin == NULL) {
				fprintf(stderr, "torture: %s needs --sfemu PATH\n", sc->name);
				failures++;
				continue;
			}
			if (emu_start(&emu, NULL) != 0) {
				failures++;
				continue;
			}
			emu_up = true;
		}
		if (warm_up(sc) != 0) {
			failures++;
			continue;
		}
		for (int k = 0; k < K_COUNT; k++) {
			if (!(sc->kinds & KB(k)) || (only_kind != NULL && strcmp(only_kind, kind_names[k]) != 0))
				continue;
#ifdef __SANITIZE_ADDRESS__
			if (k == K_ALLOC)
				continue;        /* no malloc replacement under ASan (alloc_fault.c) */
#endif
			failures += walk(sc, (enum kind)k, only_n, max_trials);
		}
	}
	if (emu_up)
		emu_stop(&emu);
	free(config_want);
	printf("torture: %s\n", failures ? "FAILED" : "all trials clean");
	return failures ? 1 : 0;
}

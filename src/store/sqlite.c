/* sqlite.c - the SQLite back end of the store: connection set-up, migrations and every query. */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/timeutil.h"

/*
 * Durability. WAL with synchronous=NORMAL: COMMIT has handed its frames to the kernel with
 * write(2) before it returns, so they survive this process dying at any instant (kill -9, a
 * crash, the OOM killer): every acknowledged transaction is there after a restart, which the
 * crash tests check. What NORMAL gives up is power loss or a kernel crash: the WAL is fsync'd
 * only at checkpoints, so the last transactions before such an outage may be rolled back (the
 * database stays consistent; it is never corrupted). synchronous=FULL fsyncs the WAL at every
 * commit and closes that window for one fsync per transaction; it is to become a setting.
 *
 * Checkpoints. Those fsyncs that NORMAL does make come with checkpoints, which SQLite runs inline
 * in whichever commit takes the WAL past 1000 pages; on this kind of disk an fsync can take a
 * tenth of a second, which that one request then pays. So each process keeps one checkpointer
 * thread per database file, with its own connection: a commit that sees CKPT_PAGES new WAL pages
 * since the last checkpoint wakes it and returns. New pages, not the WAL's size: under steady
 * writes a checkpoint never catches the WAL's end, so the WAL does not restart, and waking on
 * its size would run a tiny checkpoint (and fsync) after every commit. Only when the thread falls
 * CKPT_INLINE pages behind does the writer checkpoint itself, as back-pressure. In A/B runs on a
 * 2-core VM this gave 1.2x to 2x the one-write transactions per second of inline checkpoints.
 *
 * Restarting the WAL. SQLite starts the WAL over from its beginning only when a write transaction
 * begins with every frame already copied to the database, which a checkpointer running beside a
 * busy writer never achieves: under a steady write load the WAL grew without bound (700 MB in
 * 8 s of group-committed creates), every commit appended to new file blocks (which the kernel
 * allocates and zeroes) and the WAL index readers search grew with it. So a commit that leaves
 * the WAL at CKPT_RESTART pages or more copies the rest itself, at once (PASSIVE: the background
 * thread has done most of it, so this is the tail and two fsyncs, about a millisecond each here);
 * the connection's next write then restarts the WAL. A reader still on old frames can prevent
 * that; the next attempt waits for CKPT_PAGES more pages, so that such a reader does not make
 * every commit pay for a checkpoint.
 * Like a SQLite connection, none of this survives fork(): a child process opens its own store.
 */
#define BUSY_MS 5000                 /* how long a statement waits for another writer's lock */
#define APP_ID 1129074003            /* 0x434C4D53, "CLMS" in the file header: others' files are refused */
#define WAL_LIMIT 67108864           /* 64 MiB: the WAL is truncated back to this after a checkpoint */
#define DYN_MAX 16                   /* cached built statements (list queries) */
#define SQL_MAX 4096                 /* bytes in one built statement */
#define CKPT_PAGES 1000              /* WAL pages that wake the checkpointer (SQLite's own default) */
#define CKPT_INLINE 10000            /* WAL pages past which the writer checkpoints itself */
#define CKPT_RESTART 4096            /* WAL pages (16 MiB) past which a commit completes the checkpoint */
#define BINDS_MAX (2 + STORE_FILTERS_MAX + 3)
#define STR_(x) #x
#define STR(x) STR_(x)        /* a number macro spelled into SQL text (PRAGMA takes no parameters) */

/* Each migration runs once, in its own transaction, and is never edited after release: a
 * change to the schema is a new entry at the end. */
static const char *const migrations[] = {
	/* 1: records and their history, the change feed, counters, content */
	"CREATE TABLE records ("
	" kind TEXT NOT NULL, id TEXT PRIMARY KEY, parent TEXT, version INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, updated_by TEXT NOT NULL,"
	" doc TEXT NOT NULL) STRICT;"
	"CREATE INDEX records_kind ON records (kind, id);"
	"CREATE INDEX records_created ON records (kind, created_ms, id);"
	"CREATE INDEX records_updated ON records (kind, updated_ms, id);"
	"CREATE INDEX records_parent ON records (parent, kind, id);"
	"CREATE TABLE history ("
	" kind TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
	" updated_by TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (id, version)) STRICT;"
	"CREATE TABLE changes ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT, entity TEXT NOT NULL, id TEXT NOT NULL, parent TEXT,"
	" version INTEGER NOT NULL, op TEXT NOT NULL, fields TEXT, origin TEXT NOT NULL,"
	" ts_ms INTEGER NOT NULL) STRICT;"
	"CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;"
	"CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL) STRICT;",
	/* 2: keyed state. WITHOUT ROWID: the primary key is the table's own b-tree, so a get is
	 * one search and a scan reads documents in key order. Keys compare with the default
	 * BINARY collation, which is memcmp, as store.h promises. */
	"CREATE TABLE kv (ns TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL,"
	" PRIMARY KEY (ns, key)) WITHOUT ROWID, STRICT;",
};
#define NMIG ((long long)(sizeof(migrations) / sizeof(migrations[0])))

enum qid {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_SAVE, Q_RELEASE, Q_RBTO, Q_GET, Q_INS, Q_HINS, Q_UPD, Q_VER, Q_DEL, Q_HIST,
	Q_CUP, Q_CGET, Q_CINS, Q_BPUT, Q_BGET, Q_CPUT, Q_CAFTER, Q_CHEAD,
	Q_KGET, Q_KPUT, Q_KDEL, Q_KSCAN, Q_KCOUNT, Q_KCOUNTR, Q_COUNT
};

static const char *const sqls[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	/* one name for every level: SQLite and PostgreSQL both act on the newest savepoint of a
	 * name, so nesting needs no counter in the SQL text and the statements stay prepared */
	[Q_SAVE] = "SAVEPOINT op",
	[Q_RELEASE] = "RELEASE op",
	[Q_RBTO] = "ROLLBACK TO op",
	[Q_GET] = "SELECT parent, version, created_ms, updated_ms, updated_by, doc FROM records"
	          " WHERE id = ?1 AND kind = ?2",
	[Q_INS] = "INSERT INTO records (kind, id, parent, version, created_ms, updated_ms, updated_by, doc)"
	          " VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7)",
	[Q_HINS] = "INSERT INTO history (kind, id, version, updated_ms, updated_by, doc)"
	           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_UPD] = "UPDATE records SET version = ?3, updated_ms = ?4, updated_by = ?5, doc = ?6"
	          " WHERE id = ?2 AND kind = ?1 AND version = ?3 - 1",
	[Q_VER] = "SELECT version FROM records WHERE id = ?1 AND kind = ?2",
	[Q_DEL] = "DELETE FROM records WHERE id = ?1 AND kind = ?2",
	[Q_HIST] = "SELECT version, updated_ms, updated_by, doc FROM history"
	           " WHERE id = ?1 AND kind = ?2 ORDER BY version",
	/* at INT64_MAX the WHERE stops the update and the value stays. Three plain statements, not
	 * one upsert with RETURNING: SQLite 3.40 builds a temporary b-tree for every RETURNING
	 * statement, which cost contract creates several per cent of the writer's time. */
	[Q_CUP] = "UPDATE counters SET value = value + 1 WHERE name = ?1 AND value < 9223372036854775807",
	[Q_CGET] = "SELECT value FROM counters WHERE name = ?1",
	[Q_CINS] = "INSERT INTO counters (name, value) VALUES (?1, 1)",
	[Q_BPUT] = "INSERT INTO blobs (sha256, data) VALUES (?1, ?2) ON CONFLICT (sha256) DO NOTHING",
	[Q_BGET] = "SELECT data FROM blobs WHERE sha256 = ?1",
	[Q_CPUT] = "INSERT INTO changes (entity, id, parent, version, op, fields, origin, ts_ms)"
	           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[Q_CAFTER] = "SELECT seq, entity, id, parent, version, op, fields, origin, ts_ms FROM changes"
	             " WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[Q_CHEAD] = "SELECT coalesce(max(seq), 0) FROM changes",
	[Q_KGET] = "SELECT doc FROM kv WHERE ns = ?1 AND key = ?2",
	/* an upsert, not INSERT OR REPLACE: REPLACE deletes and reinserts the row; a document put
	 * again unchanged (a link's reverse row, mostly) is left alone: no page is written */
	[Q_KPUT] = "INSERT INTO kv (ns, key, doc) VALUES (?1, ?2, ?3)"
	           " ON CONFLICT (ns, key) DO UPDATE SET doc = excluded.doc WHERE doc IS NOT excluded.doc",
	[Q_KDEL] = "DELETE FROM kv WHERE ns = ?1 AND key = ?2",
	[Q_KSCAN] = "SELECT key, doc FROM kv WHERE ns = ?1 AND key > ?2 ORDER BY key LIMIT ?3",
	[Q_KCOUNT] = "SELECT count(*) FROM kv WHERE ns = ?1",
	[Q_KCOUNTR] = "SELECT count(*) FROM kv WHERE ns = ?1 AND key >= ?2 AND key < ?3",
};

struct dyn {
	char *sql;
	sqlite3_stmt *st;
	unsigned long used;
};

/* A thread waiting at a file's write gate (gate_enter), on its own stack. */
struct gate_waiter {
	struct gate_waiter *next;
	pthread_cond_t cv;
	bool granted;                /* under the gate's mutex: the gate was handed to us */
};

/* The checkpointer of one database file in this process, shared by its connections, and the
 * file's write gate (gate_enter). */
struct ckpt {
	struct ckpt *next;
	dev_t dev;
	ino_t ino;
	char *path;
	int refs;                    /* under ckpt_mu */
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool pending, stop;          /* under mu */
	int done;                    /* under mu: WAL frames the last checkpoint copied */
	int tried;                   /* under mu: WAL size at the last restart attempt */
	pthread_mutex_t gmu;         /* the write gate: */
	bool gheld;                  /* under gmu: a connection of this process is writing */
	struct gate_waiter *ghead, *gtail;   /* under gmu: the others, first come first served */
};

static pthread_mutex_t ckpt_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ckpt *ckpts;

struct sq {
	struct store base;           /* first: a struct store * is a struct sq * */
	sqlite3 *db;
	struct ckpt *ckpt;           /* NULL for ":memory:" or when the thread could not start */
	sqlite3_stmt *st[Q_COUNT];   /* prepared on first use, kept for the connection's life */
	struct dyn dyn[DYN_MAX];     /* least recently used goes first */
	unsigned long tick;
	int depth;                   /* open savepoints, 0 outside a transaction */
	int fault;                   /* the last failed step was an injected fault: its SQLite code */
	bool gated;                  /* this connection holds its file's write gate */
};

static struct sq *
SQ(struct store *s)
{
	return (struct sq *)s;
}

/* Turns a SQLite failure into e. Values are always bound, so the message holds no data. */
static cs_err
dberr(struct sq *q, int rc, struct cs_error *e, const char *what)
{
	cs_err code;

	if (q->fault) {
		code = q->fault == SQLITE_BUSY ? CS_ETIMEOUT : CS_EIO;
		q->fault = 0;
		return cs_error_set(e, code, "%s: %s (injected fault)", what,
		                    code == CS_ETIMEOUT ? "database is locked" : "disk I/O error");
	}
	switch (rc & 0xFF) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = CS_ETIMEOUT;
		break;
	case SQLITE_NOMEM:
		code = CS_ENOMEM;
		break;
	case SQLITE_TOOBIG:
		code = CS_ETOOBIG;
		break;
	default:
		code = CS_EIO;
	}
	return cs_error_set(e, code, "%s: %s", what, sqlite3_errmsg(q->db));
}

/* The SQLite code an injected fault of kind k stands for. */
static int
fault_rc(enum store_fault k)
{
	return k == STORE_FAULT_BUSY ? SQLITE_BUSY : SQLITE_IOERR;
}

static int
step(struct sq *q, sqlite3_stmt *st)
{
	enum store_fault k;

	if (store_fault_fire(&k)) {
		if (k == STORE_FAULT_DELAY) {
			int rc = sqlite3_step(st);
			store_fault_delay();
			return rc;
		}
		q->fault = fault_rc(k);
		return q->fault;
	}
	return sqlite3_step(st);
}

/* Releases a statement for the next use. Every path must come here: a statement left
 * un-reset keeps its read snapshot, which pins the WAL and hides newer commits. */
static void
done(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

static cs_err
prep(struct sq *q, enum qid i, sqlite3_stmt **st, struct cs_error *e)
{
	int rc;

	if (q->st[i] == NULL) {
		rc = sqlite3_prepare_v3(q->db, sqls[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL);
		if (rc != SQLITE_OK) {
			q->st[i] = NULL;
			*st = NULL;
			return dberr(q, rc, e, "prepare");
		}
	}
	*st = q->st[i];
	return CS_OK;
}

/* A built statement from the cache, or prepared and cached (evicting the least recent). */
static cs_err
dynprep(struct sq *q, const char *sql, sqlite3_stmt **st, struct cs_error *e)
{
	struct dyn *d = &q->dyn[0];
	char *copy;
	int rc;

	*st = NULL;
	for (int i = 0; i < DYN_MAX; i++) {
		if (q->dyn[i].sql != NULL && strcmp(q->dyn[i].sql, sql) == 0) {
			q->dyn[i].used = ++q->tick;
			*st = q->dyn[i].st;
			return CS_OK;
		}
		if (q->dyn[i].used < d->used)
			d = &q->dyn[i];
	}
	if ((copy = strdup(sql)) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	sqlite3_finalize(d->st);
	free(d->sql);
	d->sql = NULL;
	d->st = NULL;
	d->used = 0;
	rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &d->st, NULL);
	if (rc != SQLITE_OK) {
		free(copy);
		d->st = NULL;
		return dberr(q, rc, e, "prepare");
	}
	d->sql = copy;
	d->used = ++q->tick;
	*st = d->st;
	return CS_OK;
}

/* Runs SQL text that has no parameters (DDL, PRAGMA), counting it for fault injection. */
static cs_err
exec(struct sq *q, const char *sql, struct cs_error *e)
{
	enum store_fault k;
	bool delay = false;
	int rc;

	if (store_fault_fire(&k)) {
		if (!(delay = k == STORE_FAULT_DELAY)) {
			q->fault = fault_rc(k);
			return dberr(q, q->fault, e, "exec");
		}
	}
	rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
	if (delay)
		store_fault_delay();
	return rc == SQLITE_OK ? CS_OK : dberr(q, rc, e, "exec");
}

/* Runs a one-row query with no parameters, for an integer. */
static cs_err
int1(struct sq *q, const char *sql, long long *v, struct cs_error *e)
{
	sqlite3_stmt *st = NULL;
	int rc;
	cs_err err = CS_OK;

	rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return dberr(q, rc, e, "prepare");
	rc = step(q, st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	else
		err = dberr(q, rc, e, "query");
	sqlite3_finalize(st);
	return err;
}

static int
bt(sqlite3_stmt *st, int i, const char *s)
{
	return s == NULL ? sqlite3_bind_null(st, i) : sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static cs_err
need_txn(struct sq *q, struct cs_error *e)
{
	if (sqlite3_get_autocommit(q->db))
		return cs_error_set(e, CS_ESTATE, "not in a transaction");
	return CS_OK;
}

static cs_err
damaged(struct cs_error *e, const char *what, const char *id)
{
	return cs_error_set(e, CS_EIO, "%s %s: stored row is damaged", what, id);
}

/* Copies text column i into out (n bytes); false when NULL (unless null_ok, giving ""), too
 * long, holding a NUL or not UTF-8. Stored rows are read as untrusted (OpenSMTPD). */
static bool
col_str(sqlite3_stmt *st, int i, char *out, size_t n, bool null_ok)
{
	const char *p;
	int len;

	out[0] = '\0';
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return null_ok;
	if (sqlite3_column_type(st, i) != SQLITE_TEXT)
		return false;
	p = (const char *)sqlite3_column_text(st, i);
	len = sqlite3_column_bytes(st, i);
	if (p == NULL || len < 0 || (size_t)len >= n || memchr(p, '\0', (size_t)len) != NULL ||
	    !cs_utf8_valid(p, (size_t)len))
		return false;
	memcpy(out, p, (size_t)len);
	out[len] = '\0';
	return true;
}

static bool
col_int(sqlite3_stmt *st, int i, long long min, long long *v)
{
	if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
		return false;
	*v = sqlite3_column_int64(st, i);
	return *v >= min;
}

/* Parses the stored JSON value in column i into *out (a new reference; NULL on error). e->msg
 * says what is wrong without naming the row: the callers prefix it. CS_EIO, or CS_ENOMEM. */
static cs_err
col_json(sqlite3_stmt *st, int i, json_t **out, struct cs_error *e)
{
	struct cs_error pe = { 0 };
	const char *p;
	int len;

	*out = NULL;
	if (sqlite3_column_type(st, i) != SQLITE_TEXT)
		return cs_error_set(e, CS_EIO, "stored document is not text");
	p = (const char *)sqlite3_column_text(st, i);
	len = sqlite3_column_bytes(st, i);
	if (p == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	if (len < 0 || len > STORE_DOC_MAX)
		return cs_error_set(e, CS_EIO, "stored document over %d bytes", STORE_DOC_MAX);
	if (cs_json_parse(p, (size_t)len, out, &pe) != CS_OK)
		return cs_error_set(e, CS_EIO, "stored document is not valid JSON (%s)", pe.msg);
	return CS_OK;
}

/* Parses a stored JSON object in column i. CS_EIO naming what/id when it is not one. */
static cs_err
col_obj(sqlite3_stmt *st, int i, const char *what, const char *id, json_t **out, struct cs_error *e)
{
	struct cs_error je = { 0 };
	cs_err err;

	if ((err = col_json(st, i, out, &je)) != CS_OK)
		return err == CS_ENOMEM ? cs_error_set(e, err, "%s", je.msg)
		                        : cs_error_set(e, err, "%s %s: %s", what, id, je.msg);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return cs_error_set(e, CS_EIO, "%s %s: stored document is not a JSON object", what, id);
	}
	return CS_OK;
}

/* Adds v (a new reference, or NULL when its creation failed) to o under k. */
static bool
put(json_t *o, const char *k, json_t *v)
{
	return v != NULL && json_object_set_new(o, k, v) == 0;
}

static json_t *
str_or_null(const char *s)
{
	return s[0] != '\0' ? json_string(s) : json_null();
}

/* ---- the write gate ---- */

/*
 * SQLite lets one connection write at a time, and a connection that finds the write lock taken
 * waits in its busy handler, which sleeps 1, 2, 5, 10, ... 100 ms between attempts: it does not
 * know when the lock is released, so the lock sits idle while the next writer sleeps, and a
 * writer that releases and begins again at once can take it back before a sleeper wakes. With
 * several writing threads in one process (the repository's writer, the sync engine's worker and
 * its stream reader) this cost more than it saved: on a 2-core machine, in a burst of 20,000
 * repository changes being synced, the repository's writer spent about two thirds of its time
 * waiting in BEGIN, with the lock free much of that time. So the connections of one process
 * to one file take turns at a gate first: a mutex and a first-come-first-served queue, each
 * waiter woken by the one before it as it commits or rolls back. Other processes (the CLI, an
 * import) still meet at SQLite's lock and busy handler, as before. The gate is waited for at
 * most BUSY_MS, like the lock: a transaction that never ends makes others fail with CS_ETIMEOUT,
 * never hang.
 */

/* Takes c's gate for q, waiting up to BUSY_MS. CS_OK, or CS_ETIMEOUT (then not taken). */
static cs_err
gate_enter(struct sq *q, struct cs_error *e)
{
	struct ckpt *c = q->ckpt;
	struct gate_waiter me = { .next = NULL, .granted = false };
	pthread_condattr_t ca;
	struct timespec until;
	cs_err err = CS_OK;

	if (c == NULL || q->gated)
		return CS_OK;
	pthread_mutex_lock(&c->gmu);
	if (!c->gheld && c->ghead == NULL) {
		c->gheld = q->gated = true;
		pthread_mutex_unlock(&c->gmu);
		return CS_OK;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&me.cv, &ca);
	pthread_condattr_destroy(&ca);
	if (c->gtail != NULL)
		c->gtail->next = &me;
	else
		c->ghead = &me;
	c->gtail = &me;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += BUSY_MS / 1000;
	until.tv_nsec += (long)(BUSY_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!me.granted)
		if (pthread_cond_timedwait(&me.cv, &c->gmu, &until) == ETIMEDOUT && !me.granted) {
			/* out of the queue, wherever we are in it */
			struct gate_waiter **pp, *prev = NULL;
			for (pp = &c->ghead; *pp != NULL; prev = *pp, pp = &(*pp)->next)
				if (*pp == &me) {
					*pp = me.next;
					if (c->gtail == &me)
						c->gtail = prev;
					break;
				}
			err = cs_error_set(e, CS_ETIMEOUT, "begin: another transaction of this process held the store for %d ms",
			                   BUSY_MS);
			break;
		}
	q->gated = me.granted;
	pthread_mutex_unlock(&c->gmu);
	pthread_cond_destroy(&me.cv);
	return err;
}

/* Passes q's gate on to the first waiter, or opens it. A no-op when q does not hold it. */
static void
gate_leave(struct sq *q)
{
	struct ckpt *c = q->ckpt;
	struct gate_waiter *w;

	if (c == NULL || !q->gated)
		return;
	q->gated = false;
	pthread_mutex_lock(&c->gmu);
	if ((w = c->ghead) != NULL) {
		c->ghead = w->next;
		if (c->ghead == NULL)
			c->gtail = NULL;
		w->granted = true;            /* gheld stays: the gate changes hands closed */
		pthread_cond_signal(&w->cv);
	} else
		c->gheld = false;
	pthread_mutex_unlock(&c->gmu);
}

/* Whether a thread waits at q's gate (see store.h). */
static bool
sq_contended(struct store *s)
{
	struct ckpt *c = SQ(s)->ckpt;
	bool r;

	if (c == NULL)
		return false;
	pthread_mutex_lock(&c->gmu);
	r = c->ghead != NULL;
	pthread_mutex_unlock(&c->gmu);
	return r;
}

/* ---- transactions ---- */

static bool
sq_in_txn(struct store *s)
{
	return !sqlite3_get_autocommit(SQ(s)->db);
}

static cs_err
run(struct sq *q, enum qid i, const char *what, struct cs_error *e)
{
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	if ((err = prep(q, i, &st, e)) != CS_OK)
		return err;
	rc = step(q, st);
	err = rc == SQLITE_DONE ? CS_OK : dberr(q, rc, e, what);
	done(st);
	return err;
}

static cs_err
sq_begin(struct store *s, struct cs_error *e)
{
	struct sq *q = SQ(s);
	cs_err err;

	if (sq_in_txn(s))
		return cs_error_set(e, CS_ESTATE, "a transaction is already open");
	q->depth = 0;
	/* a transaction SQLite ended by itself (an I/O error) that nobody rolled back */
	gate_leave(q);
	if ((err = gate_enter(q, e)) != CS_OK)
		return err;
	if ((err = run(q, Q_BEGIN, "begin", e)) != CS_OK)
		gate_leave(q);
	return err;
}

static void
sq_rollback(struct store *s)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;

	q->depth = 0;
	if (!sq_in_txn(s)) {
		gate_leave(q);
		return;
	}
	/* not through step(): an injected fault must never leave a transaction open */
	if (prep(q, Q_ROLLBACK, &st, NULL) == CS_OK) {
		sqlite3_step(st);
		done(st);
	}
	if (sq_in_txn(s))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	gate_leave(q);
}

static cs_err
sq_commit(struct store *s, struct cs_error *e)
{
	cs_err err;

	if (!sq_in_txn(s))
		return cs_error_set(e, CS_ESTATE, "no transaction to commit");
	err = run(SQ(s), Q_COMMIT, "commit", e);
	SQ(s)->depth = 0;
	/* the contract: a failed commit committed nothing and leaves no transaction open */
	if (err != CS_OK)
		sq_rollback(s);
	gate_leave(SQ(s));
	return err;
}

/* SQLite ends a transaction by itself after some errors (SQLITE_FULL, SQLITE_IOERR, ...): its
 * savepoints went with it. */
static bool
sp_live(struct sq *q)
{
	if (!sq_in_txn(&q->base))
		q->depth = 0;
	return q->depth > 0;
}

static cs_err
sq_savepoint(struct store *s, struct cs_error *e)
{
	struct sq *q = SQ(s);
	cs_err err;

	/* outside a transaction SAVEPOINT would open one, and its RELEASE would commit it */
	if (!sq_in_txn(s)) {
		q->depth = 0;
		return cs_error_set(e, CS_ESTATE, "a savepoint needs an open transaction");
	}
	if (q->depth >= STORE_SAVEPOINT_MAX)
		return cs_error_set(e, CS_ELIMIT, "savepoints nest at most %d deep", STORE_SAVEPOINT_MAX);
	if ((err = run(q, Q_SAVE, "savepoint", e)) == CS_OK)
		q->depth++;
	return err;
}

static cs_err
sq_release(struct store *s, struct cs_error *e)
{
	struct sq *q = SQ(s);
	cs_err err;

	if (!sp_live(q))
		return cs_error_set(e, CS_ESTATE, "no savepoint to release");
	if ((err = run(q, Q_RELEASE, "release", e)) == CS_OK)
		q->depth--;
	return err;
}

static cs_err
sq_rollback_to(struct store *s, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int rc = SQLITE_ERROR, rc2 = SQLITE_ERROR;

	if (!sp_live(q))
		return CS_OK;
	/* not through step(), as sq_rollback: undoing must not be made to fail by an injected fault.
	 * ROLLBACK TO leaves the savepoint open (it can be rolled back to again); RELEASE ends it. */
	if (prep(q, Q_RBTO, &st, NULL) == CS_OK) {
		rc = sqlite3_step(st);
		done(st);
	}
	if (rc == SQLITE_DONE && prep(q, Q_RELEASE, &st, NULL) == CS_OK) {
		rc2 = sqlite3_step(st);
		done(st);
	}
	if (rc == SQLITE_DONE && rc2 == SQLITE_DONE && sq_in_txn(s)) {
		q->depth--;
		return CS_OK;
	}
	/* what the savepoint held cannot be told apart from the rest any more: drop it all */
	sq_rollback(s);
	return cs_error_set(e, CS_EIO, "rollback to savepoint failed: the transaction was rolled back");
}

/* ---- records ---- */

static cs_err
sq_get(struct store *s, const char *kind, const char *id, struct store_rec *out, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	long long cms, ums;
	cs_err err;
	int rc;

	if ((err = prep(q, Q_GET, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, id) != SQLITE_OK || bt(st, 2, kind) != SQLITE_OK) {
		err = dberr(q, SQLITE_NOMEM, e, "bind");
		goto out;
	}
	rc = step(q, st);
	if (rc == SQLITE_DONE) {
		err = cs_error_set(e, CS_ENOTFOUND, "%s %s not found", kind, id);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = dberr(q, rc, e, "get");
		goto out;
	}
	snprintf(out->kind, sizeof(out->kind), "%s", kind);
	snprintf(out->id, sizeof(out->id), "%s", id);
	if (!col_str(st, 0, out->parent, sizeof(out->parent), true) ||
	    (out->parent[0] != '\0' && !store_id_ok(out->parent, STORE_ID_MAX)) ||
	    !col_int(st, 1, 1, &out->version) || !col_int(st, 2, 0, &cms) || !col_int(st, 3, 0, &ums) ||
	    !col_str(st, 4, out->updated_by, sizeof(out->updated_by), false)) {
		err = damaged(e, kind, id);
		goto out;
	}
	out->created_ms = cms;
	out->updated_ms = ums;
	err = col_obj(st, 5, kind, id, &out->doc, e);
out:
	done(st);
	return err;
}

/* e->msg for a unique violation: the field, read from the name of the index that refused, which
 * we made "u:KIND:FIELD" (SQLite reports expression indexes by name). */
static cs_err
unique_err(struct sq *q, struct cs_error *e)
{
	const char *m = sqlite3_errmsg(q->db), *p = strstr(m, "index 'u:"), *f, *end;
	char field[STORE_NAME_MAX];

	if (p != NULL && (f = strchr(p + 9, ':')) != NULL && (end = strchr(f + 1, '\'')) != NULL &&
	    (size_t)(end - f - 1) < sizeof(field)) {
		memcpy(field, f + 1, (size_t)(end - f - 1));
		field[end - f - 1] = '\0';
		if (store_name_ok(field, sizeof(field)))
			return cs_error_set(e, CS_EEXIST, "%s", field);
	}
	if (strstr(m, ".id") != NULL)
		return cs_error_set(e, CS_EEXIST, "id");
	return cs_error_set(e, CS_EEXIST, "unknown");
}

static cs_err
write_err(struct sq *q, int rc, struct cs_error *e, const char *what)
{
	if (!q->fault && rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return cs_error_set(e, CS_EEXIST, "id");
	if (!q->fault && rc == SQLITE_CONSTRAINT_UNIQUE)
		return unique_err(q, e);
	return dberr(q, rc, e, what);
}

static cs_err
hist_add(struct sq *q, const struct store_rec *r, const char *doc, size_t len, struct cs_error *e)
{
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	if ((err = prep(q, Q_HINS, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, r->kind) != SQLITE_OK || bt(st, 2, r->id) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, r->version) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, r->updated_ms) != SQLITE_OK || bt(st, 5, r->updated_by) != SQLITE_OK ||
	    sqlite3_bind_text(st, 6, doc, (int)len, SQLITE_STATIC) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_DONE)
		err = write_err(q, rc, e, "history");
	done(st);
	return err;
}

static cs_err
sq_insert(struct store *s, const struct store_rec *r, const char *doc, size_t len, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	if ((err = need_txn(q, e)) != CS_OK || (err = prep(q, Q_INS, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, r->kind) != SQLITE_OK || bt(st, 2, r->id) != SQLITE_OK ||
	    bt(st, 3, r->parent[0] != '\0' ? r->parent : NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, r->created_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, r->updated_ms) != SQLITE_OK || bt(st, 6, r->updated_by) != SQLITE_OK ||
	    sqlite3_bind_text(st, 7, doc, (int)len, SQLITE_STATIC) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_DONE)
		err = write_err(q, rc, e, "insert");
	done(st);
	if (err != CS_OK)
		return err;
	/* a history row (id, 1) left by a deleted record refuses the insert: ids are not reused.
	 * Then take the record row back out, so that a refused insert writes nothing and the
	 * caller may go on in the same transaction, as after a refusal by the records table. */
	if ((err = hist_add(q, r, doc, len, e)) != CS_OK && prep(q, Q_DEL, &st, NULL) == CS_OK) {
		if (bt(st, 1, r->id) == SQLITE_OK && bt(st, 2, r->kind) == SQLITE_OK)
			sqlite3_step(st);
		done(st);
	}
	return err;
}

static cs_err
sq_update(struct store *s, const struct store_rec *r, const char *doc, size_t len, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	long long cur;
	cs_err err;
	int rc, n = 0;

	if ((err = need_txn(q, e)) != CS_OK || (err = prep(q, Q_UPD, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, r->kind) != SQLITE_OK || bt(st, 2, r->id) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, r->version) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, r->updated_ms) != SQLITE_OK || bt(st, 5, r->updated_by) != SQLITE_OK ||
	    sqlite3_bind_text(st, 6, doc, (int)len, SQLITE_STATIC) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_DONE)
		err = write_err(q, rc, e, "update");
	else
		n = sqlite3_changes(q->db);
	done(st);
	if (err != CS_OK)
		return err;
	if (n == 0) {
		/* no row at version - 1: tell a stale version from a missing record */
		if ((err = prep(q, Q_VER, &st, e)) != CS_OK)
			return err;
		if (bt(st, 1, r->id) != SQLITE_OK || bt(st, 2, r->kind) != SQLITE_OK)
			err = dberr(q, SQLITE_NOMEM, e, "bind");
		else if ((rc = step(q, st)) == SQLITE_DONE)
			err = cs_error_set(e, CS_ENOTFOUND, "%s %s not found", r->kind, r->id);
		else if (rc != SQLITE_ROW)
			err = dberr(q, rc, e, "update");
		else if (!col_int(st, 0, 1, &cur))
			err = damaged(e, r->kind, r->id);
		else
			err = cs_error_set(e, CS_ECONFLICT, "%s %s is at version %lld, not %lld", r->kind,
			                   r->id, cur, r->version - 1);
		done(st);
		return err;
	}
	return hist_add(q, r, doc, len, e);
}

static cs_err
sq_delete(struct store *s, const char *kind, const char *id, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	if ((err = need_txn(q, e)) != CS_OK || (err = prep(q, Q_DEL, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, id) != SQLITE_OK || bt(st, 2, kind) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_DONE)
		err = dberr(q, rc, e, "delete");
	else if (sqlite3_changes(q->db) == 0)
		err = cs_error_set(e, CS_ENOTFOUND, "%s %s not found", kind, id);
	done(st);
	return err;
}

static cs_err
sq_history(struct store *s, const char *kind, const char *id, json_t **out, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	json_t *arr = NULL, *o, *doc;
	char by[STORE_ACTOR_MAX];
	long long ver, ums;
	cs_err err;
	int rc;

	if ((err = prep(q, Q_HIST, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, id) != SQLITE_OK || bt(st, 2, kind) != SQLITE_OK) {
		err = dberr(q, SQLITE_NOMEM, e, "bind");
		goto out;
	}
	if ((arr = json_array()) == NULL) {
		err = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (!col_int(st, 0, 1, &ver) || !col_int(st, 1, 0, &ums) ||
		    !col_str(st, 2, by, sizeof(by), false)) {
			err = damaged(e, kind, id);
			goto out;
		}
		if ((err = col_obj(st, 3, kind, id, &doc, e)) != CS_OK)
			goto out;
		if ((o = json_object()) == NULL || json_array_append_new(arr, o) != 0 ||
		    !put(o, "version", json_integer(ver)) || !put(o, "updated_at", store_json_time(ums)) ||
		    !put(o, "updated_by", json_string(by))) {
			json_decref(doc);
			err = cs_error_set(e, CS_ENOMEM, "out of memory");
			goto out;
		}
		if (!put(o, "doc", doc)) {      /* consumes doc, even on failure */
			err = cs_error_set(e, CS_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		err = dberr(q, rc, e, "history");
	else if (json_array_size(arr) == 0)
		err = cs_error_set(e, CS_ENOTFOUND, "%s %s has no history", kind, id);
out:
	done(st);
	if (err != CS_OK) {
		json_decref(arr);
		arr = NULL;
	}
	*out = arr;
	return err;
}

/* ---- listing ---- */

/* The SQL for a column. A document field is the only name that reaches SQL text: checked
 * again here, and spelled exactly as in the index expressions so the planner matches them. */
static cs_err
colsql(struct cs_buf *b, enum store_col col, const char *field)
{
	switch (col) {
	case STORE_COL_ID:
		return cs_buf_puts(b, "id");
	case STORE_COL_PARENT:
		return cs_buf_puts(b, "parent");
	case STORE_COL_CREATED:
		return cs_buf_puts(b, "created_ms");
	case STORE_COL_UPDATED:
		return cs_buf_puts(b, "updated_ms");
	case STORE_COL_DOC:
		if (!store_name_ok(field, STORE_NAME_MAX))
			return CS_EINVAL;
		return cs_buf_printf(b, "json_extract(doc, '$.%s')", field);
	}
	return CS_EINVAL;
}

struct bind {
	char t;                      /* 's' text, 'i' integer, 'r' real */
	const char *s;
	size_t n;
	long long i;
	double r;
};

static int
addbind(struct bind *bv, int *nb, char t, const char *s, size_t n, long long i, double r)
{
	bv[*nb] = (struct bind){ .t = t, .s = s, .n = n, .i = i, .r = r };
	return ++*nb;
}

static const char *const opsql[] = {
	[STORE_EQ] = "=", [STORE_NE] = "IS NOT", [STORE_LT] = "<", [STORE_LE] = "<=",
	[STORE_GT] = ">", [STORE_GE] = ">=",
};

/* Builds the list statement into b and its parameters into bv. */
static cs_err
listsql(const struct store_lq *lq, const struct store_cursor *cur, struct cs_buf *b,
        struct bind *bv, int *nb)
{
	const char *dir = lq->desc ? "DESC" : "ASC";
	struct cs_buf k;
	cs_err err = CS_OK;
	int p;

	cs_buf_init(&k, 128);
	if (colsql(&k, lq->sort, lq->sort_field) != CS_OK) {
		err = CS_EINVAL;
		goto out;
	}
	/* likely(): without statistics SQLite guesses that an equality on an indexed column
	 * matches about ten rows, so "kind = ?" would win over the sort field's own index and
	 * every page would sort the whole kind. Saying it is usually true keeps the term (and the
	 * partial indexes it implies) but lets the field's index lead. */
	p = addbind(bv, nb, 's', lq->kind, strlen(lq->kind), 0, 0);
	err = cs_buf_printf(b, "SELECT id, version, parent, created_ms, updated_ms, updated_by, doc, %s"
	                    " FROM records WHERE likely(kind = ?%d)", k.data, p);
	for (size_t i = 0; i < lq->nf && err == CS_OK; i++) {
		const struct store_lfilter *f = &lq->f[i];

		if ((err = cs_buf_puts(b, " AND ")) != CS_OK || (err = colsql(b, f->col, f->field)) != CS_OK)
			break;
		if (f->col == STORE_COL_CREATED || f->col == STORE_COL_UPDATED) {
			p = addbind(bv, nb, 'i', NULL, 0, f->ms, 0);
			err = cs_buf_printf(b, " %s ?%d", opsql[f->op], p);
		} else if (f->value == NULL) {
			err = cs_buf_puts(b, f->op == STORE_EQ ? " IS NULL" : " IS NOT NULL");
		} else {
			p = addbind(bv, nb, 's', f->value, strlen(f->value), 0, 0);
			err = cs_buf_printf(b, " %s ?%d", opsql[f->op], p);
		}
	}
	if (err == CS_OK && cur != NULL) {
		/* keyset: strictly after the last row in (key, id) order. ASC puts NULL keys first
		 * and DESC last, as SQLite sorts them, and a comparison with NULL is never true, so
		 * NULL keys take their own terms. */
		if (cur->type == STORE_C_ID) {
			p = addbind(bv, nb, 's', cur->id, strlen(cur->id), 0, 0);
			err = cs_buf_printf(b, " AND id %s ?%d", lq->desc ? "<" : ">", p);
		} else if (cur->type == STORE_C_NULL) {
			p = addbind(bv, nb, 's', cur->id, strlen(cur->id), 0, 0);
			if (lq->desc)
				err = cs_buf_printf(b, " AND %s IS NULL AND id < ?%d", k.data, p);
			else
				err = cs_buf_printf(b, " AND ((%s IS NULL AND id > ?%d) OR %s IS NOT NULL)",
				                    k.data, p, k.data);
		} else {
			if (cur->type == STORE_C_INT)
				p = addbind(bv, nb, 'i', NULL, 0, cur->i, 0);
			else if (cur->type == STORE_C_REAL)
				p = addbind(bv, nb, 'r', NULL, 0, 0, cur->r);
			else
				p = addbind(bv, nb, 's', cur->text, cur->tlen, 0, 0);
			addbind(bv, nb, 's', cur->id, strlen(cur->id), 0, 0);
			/* SQLite does not start an expression-index search from a row value, so ASC
			 * adds the redundant "k >= v" to seek rather than scan. DESC must also take the
			 * NULL keys, which come last; that OR makes deep DESC pages on a document field
			 * walk the index (cheaply: key and id are in it). created/updated are never NULL. */
			if (!lq->desc)
				err = cs_buf_printf(b, " AND %s >= ?%d AND (%s, id) > (?%d, ?%d)",
				                    k.data, p, k.data, p, p + 1);
			else if (lq->sort != STORE_COL_DOC)
				err = cs_buf_printf(b, " AND (%s, id) < (?%d, ?%d)", k.data, p, p + 1);
			else
				err = cs_buf_printf(b, " AND ((%s, id) < (?%d, ?%d) OR %s IS NULL)",
				                    k.data, p, p + 1, k.data);
		}
	}
	if (err != CS_OK)
		goto out;
	p = addbind(bv, nb, 'i', NULL, 0, lq->limit + 1, 0);
	if (lq->sort == STORE_COL_ID)
		err = cs_buf_printf(b, " ORDER BY id %s LIMIT ?%d", dir, p);
	else
		err = cs_buf_printf(b, " ORDER BY %s %s, id %s LIMIT ?%d", k.data, dir, dir, p);
out:
	cs_buf_cleanup(&k);
	return err;
}

/* A long-text cursor holds a prefix: fetch the anchor row's whole sort value by id. The
 * result is a new malloc'd copy in *text. */
static cs_err
resolve_long(struct sq *q, const struct store_lq *lq, const struct store_cursor *c, char **text,
             size_t *tlen, struct cs_error *e)
{
	struct cs_buf b;
	sqlite3_stmt *st = NULL;
	const char *p;
	cs_err err;
	int rc, n;

	*text = NULL;
	cs_buf_init(&b, SQL_MAX);
	if (cs_buf_puts(&b, "SELECT ") != CS_OK || colsql(&b, lq->sort, lq->sort_field) != CS_OK ||
	    cs_buf_puts(&b, " FROM records WHERE id = ?1 AND kind = ?2") != CS_OK) {
		cs_buf_cleanup(&b);
		return cs_error_set(e, CS_EINVAL, "bad sort field");
	}
	err = dynprep(q, b.data, &st, e);
	cs_buf_cleanup(&b);
	if (err != CS_OK)
		return err;
	if (bt(st, 1, c->id) != SQLITE_OK || bt(st, 2, lq->kind) != SQLITE_OK) {
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	} else if ((rc = step(q, st)) != SQLITE_ROW && rc != SQLITE_DONE) {
		err = dberr(q, rc, e, "list");
	} else if (rc == SQLITE_DONE || sqlite3_column_type(st, 0) != SQLITE_TEXT ||
	           (p = (const char *)sqlite3_column_text(st, 0)) == NULL ||
	           (n = sqlite3_column_bytes(st, 0)) <= (int)c->tlen || memcmp(p, c->text, c->tlen) != 0) {
		err = cs_error_set(e, CS_ECONFLICT, "the record a page ended on has changed; list again "
		                   "from the first page");
	} else if ((*text = malloc((size_t)n)) == NULL) {
		err = cs_error_set(e, CS_ENOMEM, "out of memory");
	} else {
		memcpy(*text, p, (size_t)n);
		*tlen = (size_t)n;
	}
	done(st);
	return err;
}

static cs_err
row_json(sqlite3_stmt *st, const char *kind, json_t **out, char *id, struct cs_error *e)
{
	char parent[STORE_ID_MAX], by[STORE_ACTOR_MAX];
	long long ver, cms, ums;
	json_t *o = NULL, *doc = NULL;
	cs_err err;

	*out = NULL;
	if (!col_str(st, 0, id, STORE_ID_MAX, false) || !store_id_ok(id, STORE_ID_MAX))
		return cs_error_set(e, CS_EIO, "%s with a damaged id", kind);
	if (!col_int(st, 1, 1, &ver) || !col_str(st, 2, parent, sizeof(parent), true) ||
	    !col_int(st, 3, 0, &cms) || !col_int(st, 4, 0, &ums) || !col_str(st, 5, by, sizeof(by), false))
		return damaged(e, kind, id);
	if ((err = col_obj(st, 6, kind, id, &doc, e)) != CS_OK)
		return err;
	if ((o = json_object()) == NULL || !put(o, "id", json_string(id)) ||
	    !put(o, "version", json_integer(ver)) || !put(o, "parent", str_or_null(parent)) ||
	    !put(o, "created_at", store_json_time(cms)) || !put(o, "updated_at", store_json_time(ums)) ||
	    !put(o, "updated_by", json_string(by))) {
		json_decref(doc);
		json_decref(o);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	if (!put(o, "doc", doc)) {              /* consumes doc, even on failure */
		json_decref(o);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	*out = o;
	return CS_OK;
}

/* The cursor of a row: its id and the sort value in column i. */
static void
key_of(sqlite3_stmt *st, int i, const char *id, enum store_col sort, struct store_cursor *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	if (sort == STORE_COL_ID) {
		c->type = STORE_C_ID;
		return;
	}
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		c->type = STORE_C_NULL;
		break;
	case SQLITE_INTEGER:
		c->type = STORE_C_INT;
		c->i = sqlite3_column_int64(st, i);
		break;
	case SQLITE_FLOAT:
		c->type = STORE_C_REAL;
		c->r = sqlite3_column_double(st, i);
		break;
	default: {
		const char *t = (const char *)sqlite3_column_text(st, i);
		int n = sqlite3_column_bytes(st, i);

		store_cursor_set_text(c, t != NULL ? t : "", t != NULL && n > 0 ? (size_t)n : 0);
	}
	}
}

static cs_err
sq_list(struct store *s, const struct store_lq *lq, json_t **out, struct store_cursor *next,
        bool *has_next, struct cs_error *e)
{
	struct sq *q = SQ(s);
	struct store_cursor cur;
	struct bind bv[BINDS_MAX];
	struct cs_buf b;
	sqlite3_stmt *st = NULL;
	json_t *arr = NULL, *o;
	char id[STORE_ID_MAX], *longtext = NULL;
	size_t longlen = 0;
	cs_err err;
	int nb = 0, rc, n = 0;

	*out = NULL;
	*has_next = false;
	cs_buf_init(&b, SQL_MAX);
	if (lq->has_cursor) {
		cur = lq->cur;
		if (cur.type == STORE_C_LONG) {
			if ((err = resolve_long(q, lq, &cur, &longtext, &longlen, e)) != CS_OK)
				goto out;
		}
	}
	if (listsql(lq, lq->has_cursor ? &cur : NULL, &b, bv, &nb) != CS_OK) {
		err = cs_error_set(e, CS_EINVAL, "list query too long or malformed");
		goto out;
	}
	if ((err = dynprep(q, b.data, &st, e)) != CS_OK)
		goto out;
	for (int i = 0; i < nb; i++) {
		const struct bind *x = &bv[i];
		const char *txt = x->s;
		size_t tn = x->n;

		/* the long-text anchor binds its full value in place of the prefix */
		if (longtext != NULL && x->s == cur.text) {
			txt = longtext;
			tn = longlen;
		}
		if ((x->t == 's' ? sqlite3_bind_text(st, i + 1, txt, (int)tn, SQLITE_STATIC)
		     : x->t == 'i' ? sqlite3_bind_int64(st, i + 1, x->i)
		     : sqlite3_bind_double(st, i + 1, x->r)) != SQLITE_OK) {
			err = dberr(q, SQLITE_NOMEM, e, "bind");
			goto out;
		}
	}
	if ((arr = json_array()) == NULL) {
		err = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (n == lq->limit) {
			*has_next = true;
			break;
		}
		if ((err = row_json(st, lq->kind, &o, id, e)) != CS_OK)
			goto out;
		if (json_array_append_new(arr, o) != 0) {
			err = cs_error_set(e, CS_ENOMEM, "out of memory");
			goto out;
		}
		if (++n == lq->limit)
			key_of(st, 7, id, lq->sort, next);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = dberr(q, rc, e, "list");
out:
	done(st);
	free(longtext);
	cs_buf_cleanup(&b);
	if (err != CS_OK) {
		json_decref(arr);
		arr = NULL;
		*has_next = false;
	}
	*out = arr;
	return err;
}

static cs_err
sq_index(struct store *s, const char *kind, const char *field, bool uniq, struct cs_error *e)
{
	struct sq *q = SQ(s);
	struct cs_buf b;
	cs_err err;

	/* kind and field are [a-z0-9_]+ (checked by the caller and again by colsql for field), so
	 * they can stand in DDL, where SQLite allows no parameters; the index name "u:KIND:FIELD"
	 * is quoted and is how a unique violation names its field (unique_err). */
	if (!store_name_ok(kind, STORE_KIND_MAX))
		return cs_error_set(e, CS_EINVAL, "bad index kind");
	cs_buf_init(&b, SQL_MAX);
	if ((err = cs_buf_printf(&b, "CREATE %sINDEX IF NOT EXISTS \"%s:%s:%s\" ON records (",
	                         uniq ? "UNIQUE " : "", uniq ? "u" : "i", kind, field)) != CS_OK ||
	    (err = colsql(&b, STORE_COL_DOC, field)) != CS_OK ||
	    (err = cs_buf_printf(&b, "%s) WHERE kind = '%s'", uniq ? "" : ", id", kind)) != CS_OK) {
		cs_buf_cleanup(&b);
		/* building the text can run out of memory, which is not the caller's mistake */
		if (err == CS_ENOMEM)
			return cs_error_set(e, CS_ENOMEM, "out of memory");
		return cs_error_set(e, CS_EINVAL, "bad index field");
	}
	err = exec(q, b.data, e);
	cs_buf_cleanup(&b);
	if (err != CS_OK && !q->fault && (sqlite3_extended_errcode(q->db) == SQLITE_CONSTRAINT_UNIQUE))
		return cs_error_set(e, CS_EEXIST, "%s", field);
	return err;
}

/* ---- counters, blobs ---- */

/* Runs counter statement i for name; *changed gets the rows it changed. */
static cs_err
ctr_run(struct sq *q, enum qid i, const char *name, int *changed, struct cs_error *e)
{
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	if ((err = prep(q, i, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, name) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_DONE)
		err = dberr(q, rc, e, "counter");
	else
		*changed = sqlite3_changes(q->db);
	done(st);
	return err;
}

static cs_err
sq_counter_next(struct store *s, const char *name, long long *out, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	cs_err err;
	int rc, n = 0;
	bool fresh = false;

	*out = 0;
	if ((err = need_txn(q, e)) != CS_OK || (err = ctr_run(q, Q_CUP, name, &n, e)) != CS_OK)
		return err;
	if ((err = prep(q, Q_CGET, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, name) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) == SQLITE_DONE)
		fresh = true;                /* no such counter yet: it starts at 1 */
	else if (rc != SQLITE_ROW)
		err = dberr(q, rc, e, "counter");
	else if (!col_int(st, 0, 1, out))
		err = damaged(e, "counter", name);
	else if (n == 0)
		err = cs_error_set(e, CS_ELIMIT, "counter %s is at its maximum", name);
	done(st);
	if (err != CS_OK || !fresh)
		return err;
	if ((err = ctr_run(q, Q_CINS, name, &n, e)) == CS_OK)
		*out = 1;
	return err;
}

static cs_err
sq_blob_put(struct store *s, const char *sha, const void *data, size_t len, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	cs_err err;
	int rc = SQLITE_NOMEM;

	if ((err = prep(q, Q_BPUT, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, sha) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob64(st, 2, data, len, SQLITE_STATIC)) != SQLITE_OK)
		err = dberr(q, rc, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_DONE)
		err = dberr(q, rc, e, "blob put");
	done(st);
	return err;
}

static cs_err
sq_blob_get(struct store *s, const char *sha, void **data, size_t *len, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	const void *p;
	cs_err err;
	int rc, n;

	if ((err = prep(q, Q_BGET, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, sha) != SQLITE_OK) {
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	} else if ((rc = step(q, st)) == SQLITE_DONE) {
		err = cs_error_set(e, CS_ENOTFOUND, "blob %.12s... not found", sha);
	} else if (rc != SQLITE_ROW) {
		err = dberr(q, rc, e, "blob get");
	} else if (sqlite3_column_type(st, 0) != SQLITE_BLOB ||
	           (n = sqlite3_column_bytes(st, 0)) < 0 || n > STORE_BLOB_MAX) {
		err = cs_error_set(e, CS_EIO, "blob %.12s...: stored row is damaged", sha);
	} else if ((*data = malloc(n > 0 ? (size_t)n : 1)) == NULL) {
		err = cs_error_set(e, CS_ENOMEM, "out of memory");
	} else {
		/* a zero-length blob reads as NULL */
		if (n > 0 && (p = sqlite3_column_blob(st, 0)) != NULL)
			memcpy(*data, p, (size_t)n);
		else if (n > 0)
			err = cs_error_set(e, CS_ENOMEM, "out of memory");
		*len = (size_t)n;
		if (err != CS_OK) {
			free(*data);
			*data = NULL;
			*len = 0;
		}
	}
	done(st);
	return err;
}

/* ---- the change feed ---- */

static cs_err
sq_change_append(struct store *s, const struct store_change *c, const char *fields, size_t flen,
                 long long *seq, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	if ((err = need_txn(q, e)) != CS_OK || (err = prep(q, Q_CPUT, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, c->entity) != SQLITE_OK || bt(st, 2, c->id) != SQLITE_OK ||
	    bt(st, 3, c->parent) != SQLITE_OK || sqlite3_bind_int64(st, 4, c->version) != SQLITE_OK ||
	    bt(st, 5, c->op) != SQLITE_OK ||
	    (fields != NULL ? sqlite3_bind_text(st, 6, fields, (int)flen, SQLITE_STATIC)
	                    : sqlite3_bind_null(st, 6)) != SQLITE_OK ||
	    bt(st, 7, c->origin) != SQLITE_OK || sqlite3_bind_int64(st, 8, c->ts_ms) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_DONE)
		err = dberr(q, rc, e, "change append");
	else
		*seq = sqlite3_last_insert_rowid(q->db);
	done(st);
	return err;
}

static cs_err
change_json(sqlite3_stmt *st, json_t **out, struct cs_error *e)
{
	char entity[STORE_KIND_MAX], id[STORE_ID_MAX], parent[STORE_ID_MAX], op[32];
	char origin[STORE_ACTOR_MAX], sid[24];
	long long seq, ver, ts;
	json_t *o = NULL, *fields = NULL;
	cs_err err;

	*out = NULL;
	if (!col_int(st, 0, 1, &seq))
		return cs_error_set(e, CS_EIO, "change with a damaged sequence number");
	snprintf(sid, sizeof(sid), "%lld", seq);
	if (!col_str(st, 1, entity, sizeof(entity), false) || !col_str(st, 2, id, sizeof(id), false) ||
	    !col_str(st, 3, parent, sizeof(parent), true) || !col_int(st, 4, 0, &ver) ||
	    !col_str(st, 5, op, sizeof(op), false) || !col_str(st, 7, origin, sizeof(origin), false) ||
	    !col_int(st, 8, 0, &ts))
		return damaged(e, "change", sid);
	if (sqlite3_column_type(st, 6) == SQLITE_NULL)
		fields = json_null();
	else if ((err = col_obj(st, 6, "change", sid, &fields, e)) != CS_OK)
		return err;
	if ((o = json_object()) == NULL || !put(o, "seq", json_integer(seq)) ||
	    !put(o, "entity", json_string(entity)) || !put(o, "id", json_string(id)) ||
	    !put(o, "parent", str_or_null(parent)) || !put(o, "version", json_integer(ver)) ||
	    !put(o, "op", json_string(op))) {
		json_decref(fields);
		json_decref(o);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	if (!put(o, "fields", fields) ||        /* consumes fields, even on failure */
	    !put(o, "origin", json_string(origin)) || !put(o, "ts", store_json_time(ts))) {
		json_decref(o);
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	}
	*out = o;
	return CS_OK;
}

static cs_err
sq_changes_after(struct store *s, long long after, int limit, json_t **out, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	json_t *arr = NULL, *o;
	cs_err err;
	int rc;

	if ((err = prep(q, Q_CAFTER, &st, e)) != CS_OK)
		return err;
	if (sqlite3_bind_int64(st, 1, after) != SQLITE_OK || sqlite3_bind_int(st, 2, limit) != SQLITE_OK) {
		err = dberr(q, SQLITE_NOMEM, e, "bind");
		goto out;
	}
	if ((arr = json_array()) == NULL) {
		err = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if ((err = change_json(st, &o, e)) != CS_OK)
			goto out;
		if (json_array_append_new(arr, o) != 0) {
			err = cs_error_set(e, CS_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		err = dberr(q, rc, e, "changes");
out:
	done(st);
	if (err != CS_OK) {
		json_decref(arr);
		arr = NULL;
	}
	*out = arr;
	return err;
}

/* Like col_str, without the copy: *out points into the statement's row, valid until the next step. */
static bool
col_ptr(sqlite3_stmt *st, int i, size_t n, bool null_ok, const char **out)
{
	const char *p;
	int len;

	*out = NULL;
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return null_ok;
	if (sqlite3_column_type(st, i) != SQLITE_TEXT)
		return false;
	p = (const char *)sqlite3_column_text(st, i);
	len = sqlite3_column_bytes(st, i);
	if (p == NULL || len < 0 || (size_t)len >= n || memchr(p, '\0', (size_t)len) != NULL ||
	    !cs_utf8_valid(p, (size_t)len))
		return false;
	*out = p;
	return true;
}

/* The rows of sq_changes_after lent to fn: one statement, one snapshot, no JSON built. The
 * checks are change_json's, except that the fields text is only bounded here (see store.h). */
static cs_err
sq_changes_each(struct store *s, long long after, int limit, store_change_fn fn, void *ud, size_t *n,
                struct cs_error *e)
{
	struct sq *q = SQ(s);
	struct store_change_row r;
	sqlite3_stmt *st;
	cs_err err;
	int rc, flen;

	if ((err = prep(q, Q_CAFTER, &st, e)) != CS_OK)
		return err;
	if (sqlite3_bind_int64(st, 1, after) != SQLITE_OK || sqlite3_bind_int(st, 2, limit) != SQLITE_OK) {
		err = dberr(q, SQLITE_NOMEM, e, "bind");
		goto out;
	}
	while ((rc = step(q, st)) == SQLITE_ROW) {
		char sid[24];
		long long ts;

		memset(&r, 0, sizeof(r));
		if (!col_int(st, 0, 1, &r.seq)) {
			err = cs_error_set(e, CS_EIO, "change with a damaged sequence number");
			goto out;
		}
		snprintf(sid, sizeof(sid), "%lld", r.seq);
		if (!col_ptr(st, 1, STORE_KIND_MAX, false, &r.entity) || !col_ptr(st, 2, STORE_ID_MAX, false, &r.id) ||
		    !col_ptr(st, 3, STORE_ID_MAX, true, &r.parent) || !col_int(st, 4, 0, &r.version) ||
		    !col_ptr(st, 5, 32, false, &r.op) || !col_ptr(st, 7, STORE_ACTOR_MAX, false, &r.origin) ||
		    !col_int(st, 8, 0, &ts)) {
			err = damaged(e, "change", sid);
			goto out;
		}
		r.ts_ms = ts;
		/* change_json maps an empty parent to null too (str_or_null) */
		if (r.parent != NULL && r.parent[0] == '\0')
			r.parent = NULL;
		if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
			if (sqlite3_column_type(st, 6) != SQLITE_TEXT) {
				err = cs_error_set(e, CS_EIO, "change %s: stored document is not text", sid);
				goto out;
			}
			r.fields = (const char *)sqlite3_column_text(st, 6);
			flen = sqlite3_column_bytes(st, 6);
			if (r.fields == NULL) {
				err = cs_error_set(e, CS_ENOMEM, "out of memory");
				goto out;
			}
			if (flen < 0 || flen > STORE_DOC_MAX) {
				err = cs_error_set(e, CS_EIO, "change %s: stored document over %d bytes", sid, STORE_DOC_MAX);
				goto out;
			}
			r.flen = (size_t)flen;
		}
		if ((err = fn(&r, ud)) != CS_OK)
			goto out;
		(*n)++;
	}
	if (rc != SQLITE_DONE)
		err = dberr(q, rc, e, "changes");
out:
	done(st);
	return err;
}

static cs_err
sq_changes_head(struct store *s, long long *seq, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	if ((err = prep(q, Q_CHEAD, &st, e)) != CS_OK)
		return err;
	if ((rc = step(q, st)) != SQLITE_ROW)
		err = dberr(q, rc, e, "changes head");
	else if (!col_int(st, 0, 0, seq))
		err = cs_error_set(e, CS_EIO, "change feed head is damaged");
	done(st);
	return err;
}

/* ---- keyed state ---- */

/* The document in column i of a kv row; CS_EIO naming ns/key when it is not JSON. */
static cs_err
kv_doc(sqlite3_stmt *st, int i, const char *ns, const char *key, json_t **out, struct cs_error *e)
{
	struct cs_error je = { 0 };
	cs_err err;

	if ((err = col_json(st, i, out, &je)) == CS_OK)
		return CS_OK;
	if (err == CS_ENOMEM)
		return cs_error_set(e, err, "%s", je.msg);
	return cs_error_set(e, err, "kv %s/%s: %s", ns, key, je.msg);
}

static cs_err
sq_kv_get(struct store *s, const char *ns, const char *key, json_t **out, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	*out = NULL;
	if ((err = prep(q, Q_KGET, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, ns) != SQLITE_OK || bt(st, 2, key) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) == SQLITE_DONE)
		err = cs_error_set(e, CS_ENOTFOUND, "kv %s/%s not found", ns, key);
	else if (rc != SQLITE_ROW)
		err = dberr(q, rc, e, "kv get");
	else
		err = kv_doc(st, 0, ns, key, out, e);
	done(st);
	return err;
}

static cs_err
sq_kv_put(struct store *s, const char *ns, const char *key, const char *doc, size_t len, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	if ((err = need_txn(q, e)) != CS_OK || (err = prep(q, Q_KPUT, &st, e)) != CS_OK)
		return err;
	/* len is at most STORE_DOC_MAX (store.c's encode), so the int cast is exact */
	if (bt(st, 1, ns) != SQLITE_OK || bt(st, 2, key) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, doc, (int)len, SQLITE_STATIC) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_DONE)
		err = dberr(q, rc, e, "kv put");
	done(st);
	return err;
}

static cs_err
sq_kv_del(struct store *s, const char *ns, const char *key, bool *existed, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	*existed = false;
	if ((err = need_txn(q, e)) != CS_OK || (err = prep(q, Q_KDEL, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, ns) != SQLITE_OK || bt(st, 2, key) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_DONE)
		err = dberr(q, rc, e, "kv delete");
	else
		*existed = sqlite3_changes(q->db) > 0;
	done(st);
	return err;
}

static cs_err
sq_kv_scan(struct store *s, const char *ns, const char *after, int limit, json_t **out, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	json_t *arr = NULL, *o, *doc;
	char key[STORE_KV_KEY_MAX];
	cs_err err;
	int rc;

	*out = NULL;
	if ((err = prep(q, Q_KSCAN, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, ns) != SQLITE_OK || bt(st, 2, after) != SQLITE_OK ||
	    sqlite3_bind_int(st, 3, limit) != SQLITE_OK) {
		err = dberr(q, SQLITE_NOMEM, e, "bind");
		goto out;
	}
	if ((arr = json_array()) == NULL) {
		err = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	while ((rc = step(q, st)) == SQLITE_ROW) {
		/* the key goes back to the caller and into error messages: read it as untrusted */
		if (!col_str(st, 0, key, sizeof(key), false) || key[0] == '\0') {
			err = cs_error_set(e, CS_EIO, "kv %s: stored key is damaged", ns);
			goto out;
		}
		if ((err = kv_doc(st, 1, ns, key, &doc, e)) != CS_OK)
			goto out;
		if ((o = json_object()) == NULL || json_array_append_new(arr, o) != 0 ||
		    !put(o, "key", json_string(key))) {
			json_decref(doc);
			err = cs_error_set(e, CS_ENOMEM, "out of memory");
			goto out;
		}
		if (!put(o, "doc", doc)) {      /* consumes doc, even on failure */
			err = cs_error_set(e, CS_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		err = dberr(q, rc, e, "kv scan");
out:
	done(st);
	if (err != CS_OK) {
		json_decref(arr);
		arr = NULL;
	}
	*out = arr;
	return err;
}

/* count(*) of ns, or of its keys in [from, to) when from is not NULL. */
static cs_err
kv_count_of(struct store *s, const char *ns, const char *from, const char *to, long long *n, struct cs_error *e)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	cs_err err;
	int rc;

	*n = 0;
	if ((err = prep(q, from ? Q_KCOUNTR : Q_KCOUNT, &st, e)) != CS_OK)
		return err;
	if (bt(st, 1, ns) != SQLITE_OK || (from && (bt(st, 2, from) != SQLITE_OK || bt(st, 3, to) != SQLITE_OK)))
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_ROW)
		err = dberr(q, rc, e, "kv count");
	else if (!col_int(st, 0, 0, n))
		err = cs_error_set(e, CS_EIO, "kv %s: count is damaged", ns);
	done(st);
	return err;
}

static cs_err
sq_kv_count(struct store *s, const char *ns, long long *n, struct cs_error *e)
{
	return kv_count_of(s, ns, NULL, NULL, n, e);
}

static cs_err
sq_kv_count_range(struct store *s, const char *ns, const char *from, const char *to, long long *n,
                  struct cs_error *e)
{
	return kv_count_of(s, ns, from, to, n, e);
}

/* ---- the checkpointer ---- */

static void *
ckpt_main(void *arg)
{
	struct ckpt *c = arg;
	sqlite3 *db = NULL;

	int ncopied;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->pending && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->pending = false;
		pthread_mutex_unlock(&c->mu);
		ncopied = -1;
		/* opened on first need: a short-lived process never pays for it */
		if (db == NULL && sqlite3_open_v2(c->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
		                                  NULL) != SQLITE_OK) {
			sqlite3_close(db);
			db = NULL;
		} else if (db != NULL) {
			sqlite3_busy_timeout(db, BUSY_MS);
			sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
		}
		/* PASSIVE: copies what no reader still needs, never waits for a writer. If the open
		 * failed, the writers' inline back-pressure still bounds the WAL. */
		if (db != NULL)
			sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, &ncopied);
		pthread_mutex_lock(&c->mu);
		if (ncopied >= 0)
			c->done = ncopied;
	}
	pthread_mutex_unlock(&c->mu);
	sqlite3_close(db);
	return NULL;
}

/* Called by SQLite after each commit of a connection with pages frames in the WAL. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct ckpt *c = arg;
	int behind, ncopied = -1;
	bool restart;

	pthread_mutex_lock(&c->mu);
	if (pages < c->done)
		c->done = 0;                 /* the WAL restarted from its beginning */
	if (pages < c->tried)
		c->tried = 0;
	behind = pages - c->done;
	restart = pages >= CKPT_RESTART && pages - c->tried >= CKPT_PAGES;
	if (restart)
		c->tried = pages;
	else if (behind >= CKPT_PAGES && behind < CKPT_INLINE && !c->pending) {
		c->pending = true;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	if (behind >= CKPT_INLINE || restart) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, &ncopied);
		pthread_mutex_lock(&c->mu);
		if (ncopied > c->done)
			c->done = ncopied;
		pthread_mutex_unlock(&c->mu);
	}
	return SQLITE_OK;
}

/* The checkpointer of path's file, started if needed; NULL when it cannot be (then SQLite's
 * inline autocheckpoint stays in force, which is slower but just as correct). */
static struct ckpt *
ckpt_get(const char *path)
{
	struct ckpt *c;
	struct stat sb;

	if (stat(path, &sb) != 0)
		return NULL;
	pthread_mutex_lock(&ckpt_mu);
	for (c = ckpts; c != NULL; c = c->next)
		if (c->dev == sb.st_dev && c->ino == sb.st_ino)
			break;
	if (c != NULL) {
		c->refs++;
		pthread_mutex_unlock(&ckpt_mu);
		return c;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = strdup(path)) == NULL)
		goto fail;
	if (pthread_mutex_init(&c->mu, NULL) != 0)
		goto fail;
	if (pthread_mutex_init(&c->gmu, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		goto fail;
	}
	if (pthread_cond_init(&c->cv, NULL) != 0) {
		pthread_mutex_destroy(&c->gmu);
		pthread_mutex_destroy(&c->mu);
		goto fail;
	}
	if (pthread_create(&c->thr, NULL, ckpt_main, c) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->gmu);
		pthread_mutex_destroy(&c->mu);
		goto fail;
	}
	pthread_setname_np(c->thr, "store-ckpt");
	c->dev = sb.st_dev;
	c->ino = sb.st_ino;
	c->refs = 1;
	c->next = ckpts;
	ckpts = c;
	pthread_mutex_unlock(&ckpt_mu);
	return c;
fail:
	pthread_mutex_unlock(&ckpt_mu);
	if (c != NULL)
		free(c->path);
	free(c);
	return NULL;
}

/* Drops a reference; the last one stops and joins the thread. */
static void
ckpt_put(struct ckpt *c)
{
	struct ckpt **pp;

	if (c == NULL)
		return;
	pthread_mutex_lock(&ckpt_mu);
	if (--c->refs > 0) {
		pthread_mutex_unlock(&ckpt_mu);
		return;
	}
	for (pp = &ckpts; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&ckpt_mu);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thr, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->gmu);
	pthread_mutex_destroy(&c->mu);
	free(c->path);
	free(c);
}

/* ---- opening, migrations ---- */

static void
sq_close(struct store *s)
{
	struct sq *q = SQ(s);

	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(q->st[i]);
	for (int i = 0; i < DYN_MAX; i++) {
		sqlite3_finalize(q->dyn[i].st);
		free(q->dyn[i].sql);
	}
	/* closing rolls back a transaction left open */
	sqlite3_close_v2(q->db);
	gate_leave(q);
	ckpt_put(q->ckpt);
	free(q);
}

/* Reads the schema version (0 for a new file) and refuses files that are not ours or newer
 * than us. The caller holds a transaction so that the reads agree with each other. */
static cs_err
version(struct sq *q, long long *cur, struct cs_error *e)
{
	long long app = 0, has = 0, other = 0;
	cs_err err;

	*cur = 0;
	if ((err = int1(q, "PRAGMA application_id", &app, e)) != CS_OK ||
	    (err = int1(q, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND"
	                   " name = 'schema_migrations'", &has, e)) != CS_OK)
		return err;
	if (app != 0 && app != APP_ID)
		return cs_error_set(e, CS_ESTATE, "not a clmsync database (application id %lld)", app);
	if (has && (err = int1(q, "SELECT coalesce(max(version), 0) FROM schema_migrations", cur, e)) != CS_OK)
		return err;
	if (*cur > NMIG)
		return cs_error_set(e, CS_ESTATE, "database schema version %lld is newer than this program's "
		                    "(%lld): upgrade clmsync", *cur, NMIG);
	if (*cur == 0) {
		if ((err = int1(q, "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite%'"
		                   " AND name <> 'schema_migrations'", &other, e)) != CS_OK)
			return err;
		if (other != 0)
			return cs_error_set(e, CS_ESTATE, "not a clmsync database (it has other tables)");
	}
	return CS_OK;
}

static cs_err
migrate_one(struct sq *q, long long v, struct cs_error *e)
{
	sqlite3_stmt *st = NULL;
	long long cur;
	cs_err err;
	int rc;

	/* BEGIN IMMEDIATE: two processes starting on a new file take turns; the second finds
	 * the migration applied when it gets the lock and does nothing */
	if ((err = exec(q, "BEGIN IMMEDIATE", e)) != CS_OK)
		return err;
	if ((err = exec(q, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                   " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT", e)) != CS_OK ||
	    (err = version(q, &cur, e)) != CS_OK)
		goto out;
	if (cur >= v)
		goto out;
	if ((err = exec(q, migrations[v - 1], e)) != CS_OK)
		goto out;
	rc = sqlite3_prepare_v2(q->db, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK) {
		err = dberr(q, rc, e, "migrate");
		goto out;
	}
	if (sqlite3_bind_int64(st, 1, v) != SQLITE_OK || sqlite3_bind_int64(st, 2, cs_time_now_ms()) != SQLITE_OK)
		err = dberr(q, SQLITE_NOMEM, e, "bind");
	else if ((rc = step(q, st)) != SQLITE_DONE)
		err = dberr(q, rc, e, "migrate");
	sqlite3_finalize(st);
	if (err == CS_OK)
		err = exec(q, "PRAGMA application_id = " STR(APP_ID), e);
out:
	if (err == CS_OK)
		err = exec(q, "COMMIT", e);
	if (err != CS_OK) {
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	return CS_OK;
}

static cs_err
migrate(struct sq *q, struct cs_error *e)
{
	long long cur;
	cs_err err;

	/* a deferred transaction only to read version and identity from one snapshot */
	if ((err = exec(q, "BEGIN", e)) != CS_OK)
		return err;
	err = version(q, &cur, e);
	sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
	if (err != CS_OK)
		return err;
	for (long long v = cur + 1; v <= NMIG; v++) {
		struct cs_error me = { 0 };

		if ((err = migrate_one(q, v, &me)) != CS_OK)
			return cs_error_set(e, err, "schema migration %lld: %s", v, me.msg);
	}
	return CS_OK;
}

static const struct store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.in_txn = sq_in_txn,
	.savepoint = sq_savepoint,
	.release = sq_release,
	.contended = sq_contended,
	.rollback_to = sq_rollback_to,
	.get = sq_get,
	.insert = sq_insert,
	.update = sq_update,
	.del = sq_delete,
	.history = sq_history,
	.list = sq_list,
	.index = sq_index,
	.counter_next = sq_counter_next,
	.blob_put = sq_blob_put,
	.blob_get = sq_blob_get,
	.change_append = sq_change_append,
	.changes_after = sq_changes_after,
	.changes_head = sq_changes_head,
	.changes_each = sq_changes_each,
	.kv_get = sq_kv_get,
	.kv_put = sq_kv_put,
	.kv_del = sq_kv_del,
	.kv_scan = sq_kv_scan,
	.kv_count = sq_kv_count,
	.kv_count_range = sq_kv_count_range,
};

/* Opens path as a store: see store_int.h. The file is created 0600 (it holds contracts); the
 * WAL and shared-memory files SQLite creates next to it take the same mode. One thread. */
cs_err
store_sqlite_open(const char *path, struct store **out, struct cs_error *e)
{
	struct sq *q = NULL;
	sqlite3_stmt *st = NULL;
	const char *mode;
	bool mem = strcmp(path, ":memory:") == 0;
	cs_err err;
	int rc, fd;

	*out = NULL;
	/* Create a new file with mode 0600 before SQLite does (SQLite would use 0644). Only a new
	 * one: close() drops every POSIX lock this process holds on the file, so opening and
	 * closing an existing database behind SQLite's back while another connection of this
	 * process has it open would let a second process think it is alone, checkpoint and
	 * delete the WAL under us (our connections then read a deleted WAL and never see that
	 * process's commits again). */
	if (!mem) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return cs_error_set(e, CS_EIO, "cannot open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	q->base.ops = &sq_ops;
	rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                     SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
	if (rc != SQLITE_OK) {
		err = cs_error_set(e, CS_EIO, "cannot open %s: %s", path,
		                   q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(q->db, 1);
	/* defensive: no writable_schema tricks, and no value longer than a blob may be, whatever
	 * the file says. trusted_schema stays on: SQLite 3.40 does not mark json_extract innocuous,
	 * so turning it off refuses our own expression indexes; the file is ours (mode 0600, our
	 * application id), and whoever can rewrite its schema can rewrite its data anyway. */
	sqlite3_db_config(q->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_limit(q->db, SQLITE_LIMIT_LENGTH, STORE_BLOB_MAX);
	sqlite3_busy_timeout(q->db, BUSY_MS);
	/* journal_mode answers with the mode in force: check we got WAL */
	rc = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = step(q, st);
	if (rc != SQLITE_ROW) {
		err = dberr(q, rc, e, path);
		goto fail;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || (strcmp(mode, "wal") != 0 && !(mem && strcmp(mode, "memory") == 0))) {
		err = cs_error_set(e, CS_EIO, "%s: cannot use WAL mode", path);
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* temp_store: savepoints keep the pages they may have to restore in a statement journal,
	 * a temporary file once past 64 KiB; in memory it costs a copy per page, not a write */
	if ((err = exec(q, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
	                   " PRAGMA temp_store = MEMORY;"
	                   " PRAGMA journal_size_limit = " STR(WAL_LIMIT), e)) != CS_OK)
		goto fail;
	if ((err = migrate(q, e)) != CS_OK)
		goto fail;
	/* a WAL hook replaces SQLite's inline autocheckpoint for this connection */
	if (!mem && (q->ckpt = ckpt_get(path)) != NULL)
		sqlite3_wal_hook(q->db, wal_hook, q->ckpt);
	*out = &q->base;
	return CS_OK;
fail:
	sqlite3_finalize(st);
	sq_close(&q->base);
	return err;
}

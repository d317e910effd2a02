/* test_store.c - the state store on SQLite: migrations, records, history, listing, counters,
 * blobs, the change feed, the pool, damaged rows, injected faults, other processes and kill -9. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/timeutil.h"

/* A fresh directory and database per test, removed afterwards. */
struct fx {
	char dir[64];
	char path[128];
	char url[256];
	struct store *s;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cs_error e = { 0 };

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/clm.db", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
	if (store_open(f->url, &f->s, &e) != CS_OK) {
		fprintf(stderr, "store_open: %s\n", e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[200];

	store_fault_inject(0);
	store_close(f->s);
	static const char *const sfx[] = { "", "-wal", "-shm", ".garbage", ".foreign" };
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("raw_exec %s: %s", sql, msg);
	sqlite3_close(db);
}

static long long
raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static const char *
raw_str(const char *path, const char *sql, char *out, size_t n)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

/* Fills r; doc parsed from json (a new reference r owns). */
static void
mkrec(struct store_rec *r, const char *kind, const char *id, const char *parent, long long version,
      const char *json)
{
	json_error_t je;

	memset(r, 0, sizeof(*r));
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->parent, sizeof(r->parent), "%s", parent != NULL ? parent : "");
	snprintf(r->updated_by, sizeof(r->updated_by), "user:alice");
	r->version = version;
	r->doc = json_loads(json, 0, &je);
	assert_non_null(r->doc);
}

/* Inserts one record in its own transaction. */
static void
insert1(struct store *s, const char *kind, const char *id, const char *parent, const char *json)
{
	struct store_rec r;
	struct cs_error e = { 0 };

	mkrec(&r, kind, id, parent, 1, json);
	assert_int_equal(store_begin(s, &e), CS_OK);
	if (store_insert(s, &r, &e) != CS_OK)
		fail_msg("insert %s: %s", id, e.msg);
	assert_int_equal(store_commit(s, &e), CS_OK);
	store_rec_cleanup(&r);
}

static long long
head(struct store *s)
{
	struct cs_error e = { 0 };
	long long h = -1;

	assert_int_equal(store_changes_head(s, &h, &e), CS_OK);
	return h;
}

static void
append1(struct store *s, const char *kind, const char *id, long long version, const char *op)
{
	struct store_change c = { .entity = kind, .id = id, .version = version, .op = op,
	                          .origin = "user:alice" };
	struct cs_error e = { 0 };
	long long seq = 0;

	if (store_change_append(s, &c, &seq, &e) != CS_OK)
		fail_msg("append: %s", e.msg);
	assert_true(seq > 0);
}

static void
sha_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- migrations and opening ---- */

static void
open_and_migrate(void **state)
{
	struct fx *f = *state;
	struct store *s2 = NULL;
	struct cs_error e = { 0 };
	struct stat sb;
	long long n, applied;
	char p[160];
	FILE *fp;

	assert_int_equal(store_open("sqlite:", &s2, &e), CS_EINVAL);
	assert_int_equal(store_open("mysql://x", &s2, &e), CS_EINVAL);
	assert_int_equal(store_open("postgresql://clm:hunter2@db/clm", &s2, &e), CS_EINVAL);
	assert_string_equal(e.msg, "PostgreSQL back end not built yet");
	assert_null(s2);
	assert_int_equal(store_open("sqlite:/nonexistent-dir/x.db", &s2, &e), CS_EIO);

	/* a new database: WAL, our application id, every migration once, mode 0600 */
	n = raw_int(f->path, "SELECT count(*) FROM schema_migrations");
	assert_true(n >= 1);
	assert_int_equal(raw_int(f->path, "SELECT max(version) FROM schema_migrations"), n);
	applied = raw_int(f->path, "SELECT applied_at FROM schema_migrations WHERE version = 1");
	assert_true(applied > 1700000000000LL);
	assert_int_equal(raw_int(f->path, "PRAGMA application_id"), 0x434C4D53);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* reopening applies nothing again */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->url, &f->s, &e), CS_OK);
	assert_int_equal(store_open(f->url, &s2, &e), CS_OK);
	store_close(s2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_migrations"), n);
	assert_int_equal(raw_int(f->path, "SELECT applied_at FROM schema_migrations WHERE version = 1"), applied);
	/* journal_mode is persistent in the file: check it from outside */
	{
		sqlite3 *db;
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}

	/* a database from a newer program is refused, and accepted again once it is not */
	raw_exec(f->path, "INSERT INTO schema_migrations VALUES (999, 0)");
	assert_int_equal(store_open(f->url, &s2, &e), CS_ESTATE);
	assert_non_null(strstr(e.msg, "newer"));
	assert_null(s2);
	raw_exec(f->path, "DELETE FROM schema_migrations WHERE version = 999");
	assert_int_equal(store_open(f->url, &s2, &e), CS_OK);
	store_close(s2);

	/* other programs' files */
	snprintf(p, sizeof(p), "%s.foreign", f->path);
	raw_exec(p, "CREATE TABLE theirs (x)");
	snprintf(f->url + 7 + strlen(f->path), sizeof(f->url) - 7 - strlen(f->path), ".foreign");
	assert_int_equal(store_open(f->url, &s2, &e), CS_ESTATE);
	snprintf(p, sizeof(p), "%s.garbage", f->path);
	fp = fopen(p, "w");
	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not a database at all ", fp);
	fclose(fp);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", p);
	assert_int_equal(store_open(f->url, &s2, &e), CS_EIO);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
}

/* ---- records ---- */

static void
crud(void **state)
{
	struct fx *f = *state;
	struct store_rec r, g = { 0 };
	struct cs_error e = { 0 };

	mkrec(&r, "contract", "c1", NULL, 1, "{\"title\":\"A\",\"n\":1}");
	r.created_ms = r.updated_ms = 1767225600000LL;
	assert_int_equal(store_insert(f->s, &r, &e), CS_ESTATE);   /* outside a transaction */
	assert_false(store_in_transaction(f->s));
	assert_int_equal(store_commit(f->s, &e), CS_ESTATE);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_true(store_in_transaction(f->s));
	assert_int_equal(store_begin(f->s, &e), CS_ESTATE);
	assert_int_equal(store_insert(f->s, &r, &e), CS_OK);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_false(store_in_transaction(f->s));

	assert_int_equal(store_get(f->s, "contract", "c1", &g, &e), CS_OK);
	assert_string_equal(g.kind, "contract");
	assert_string_equal(g.id, "c1");
	assert_string_equal(g.parent, "");
	assert_int_equal(g.version, 1);
	assert_int_equal(g.created_ms, 1767225600000LL);
	assert_string_equal(g.updated_by, "user:alice");
	assert_string_equal(json_string_value(json_object_get(g.doc, "title")), "A");
	store_rec_cleanup(&g);
	assert_null(g.doc);
	assert_int_equal(store_get(f->s, "amendment", "c1", &g, &e), CS_ENOTFOUND);
	assert_null(g.doc);
	assert_int_equal(store_get(f->s, "contract", "c2", &g, &e), CS_ENOTFOUND);
	assert_int_equal(store_get(f->s, "contract", "c 1", &g, &e), CS_EINVAL);
	assert_int_equal(store_get(f->s, "Contract", "c1", &g, &e), CS_EINVAL);

	/* optimistic versions */
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	json_object_set_new(r.doc, "title", json_string("B"));
	r.version = 2;
	r.updated_ms = 0;                                  /* now */
	snprintf(r.updated_by, sizeof(r.updated_by), "sync:prod");
	assert_int_equal(store_update(f->s, &r, &e), CS_OK);
	assert_int_equal(store_update(f->s, &r, &e), CS_ECONFLICT);   /* stored 2, not 1 */
	assert_non_null(strstr(e.msg, "version 2"));
	r.version = 5;
	assert_int_equal(store_update(f->s, &r, &e), CS_ECONFLICT);
	r.version = 1;
	assert_int_equal(store_update(f->s, &r, &e), CS_EINVAL);
	snprintf(r.id, sizeof(r.id), "nope");
	r.version = 2;
	assert_int_equal(store_update(f->s, &r, &e), CS_ENOTFOUND);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(store_get(f->s, "contract", "c1", &g, &e), CS_OK);
	assert_int_equal(g.version, 2);
	assert_string_equal(g.updated_by, "sync:prod");
	assert_true(g.updated_ms > 1767225600000LL);
	assert_int_equal(g.created_ms, 1767225600000LL);
	assert_string_equal(json_string_value(json_object_get(g.doc, "title")), "B");
	store_rec_cleanup(&g);

	/* malformed records */
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	snprintf(r.id, sizeof(r.id), "c9");
	r.version = 2;
	assert_int_equal(store_insert(f->s, &r, &e), CS_EINVAL);
	r.version = 1;
	json_decref(r.doc);
	r.doc = json_array();
	assert_int_equal(store_insert(f->s, &r, &e), CS_EINVAL);
	json_decref(r.doc);
	r.doc = json_object();
	snprintf(r.parent, sizeof(r.parent), "bad parent");
	assert_int_equal(store_insert(f->s, &r, &e), CS_EINVAL);
	r.parent[0] = '\0';
	r.updated_by[0] = '\0';
	assert_int_equal(store_insert(f->s, &r, &e), CS_EINVAL);
	memset(r.updated_by, 'x', sizeof(r.updated_by));          /* no NUL: must not be read past */
	assert_int_equal(store_insert(f->s, &r, &e), CS_EINVAL);
	snprintf(r.updated_by, sizeof(r.updated_by), "user:bob");
	snprintf(r.id, sizeof(r.id), "c1");
	assert_int_equal(store_insert(f->s, &r, &e), CS_EEXIST);
	assert_string_equal(e.msg, "id");
	store_rollback(f->s);

	/* delete keeps history, and the id is never given out again */
	assert_int_equal(store_delete(f->s, "contract", "c1", &e), CS_ESTATE);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_delete(f->s, "amendment", "c1", &e), CS_ENOTFOUND);
	assert_int_equal(store_delete(f->s, "contract", "c1", &e), CS_OK);
	assert_int_equal(store_delete(f->s, "contract", "c1", &e), CS_ENOTFOUND);
	r.version = 1;
	assert_int_equal(store_insert(f->s, &r, &e), CS_EEXIST);
	assert_string_equal(e.msg, "id");
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(store_get(f->s, "contract", "c1", &g, &e), CS_ENOTFOUND);
	store_rec_cleanup(&r);
}

static void
unique_and_rollback(void **state)
{
	struct fx *f = *state;
	struct store_rec r, g;
	struct cs_error e = { 0 };
	long long h, v;

	assert_int_equal(store_index_unique(f->s, "contract", "number", &e), CS_OK);
	assert_int_equal(store_index_unique(f->s, "contract", "number", &e), CS_OK);  /* idempotent */
	assert_int_equal(store_index(f->s, "contract", "status", &e), CS_OK);
	assert_int_equal(store_index(f->s, "contract", "status", &e), CS_OK);
	assert_int_equal(store_index_unique(f->s, "contract", "Number", &e), CS_EINVAL);
	assert_int_equal(store_index(f->s, "contract", "a');DROP TABLE records;--", &e), CS_EINVAL);
	assert_int_equal(store_index(f->s, "contract", "", &e), CS_EINVAL);
	assert_int_equal(store_index(f->s, "con tract", "x", &e), CS_EINVAL);
	assert_int_equal(store_index(f->s, "contract", "updated_at", &e), CS_EINVAL);

	insert1(f->s, "contract", "c1", NULL, "{\"number\":\"CTR-1\",\"status\":\"draft\"}");
	h = head(f->s);

	/* a transaction that fails half-way and is rolled back leaves no trace */
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	mkrec(&r, "contract", "c2", NULL, 1, "{\"number\":\"CTR-2\"}");
	assert_int_equal(store_insert(f->s, &r, &e), CS_OK);
	append1(f->s, "contract", "c2", 1, "create");
	assert_int_equal(store_counter_next(f->s, "contract_number", &v, &e), CS_OK);
	assert_int_equal(v, 1);
	store_rec_cleanup(&r);
	mkrec(&r, "contract", "c3", NULL, 1, "{\"number\":\"CTR-1\"}");
	assert_int_equal(store_insert(f->s, &r, &e), CS_EEXIST);
	assert_string_equal(e.msg, "number");
	assert_true(store_in_transaction(f->s));        /* left open for the caller */
	store_rollback(f->s);
	assert_int_equal(store_get(f->s, "contract", "c2", &g, &e), CS_ENOTFOUND);
	assert_int_equal(store_get(f->s, "contract", "c3", &g, &e), CS_ENOTFOUND);
	assert_int_equal(head(f->s), h);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM history WHERE id IN ('c2','c3')"), 0);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_counter_next(f->s, "contract_number", &v, &e), CS_OK);
	assert_int_equal(v, 1);                          /* given back by the rollback */
	store_rollback(f->s);
	store_rec_cleanup(&r);

	/* the index is per kind, and records lacking the field never collide */
	insert1(f->s, "amendment", "a1", "c1", "{\"number\":\"CTR-1\"}");
	insert1(f->s, "contract", "c4", NULL, "{\"title\":\"no number\"}");
	insert1(f->s, "contract", "c5", NULL, "{\"title\":\"no number either\"}");

	/* an update into a taken value */
	assert_int_equal(store_get(f->s, "contract", "c4", &g, &e), CS_OK);
	json_object_set_new(g.doc, "number", json_string("CTR-1"));
	g.version = 2;
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_update(f->s, &g, &e), CS_EEXIST);
	assert_string_equal(e.msg, "number");
	store_rollback(f->s);
	store_rec_cleanup(&g);

	/* declaring uniqueness over data that already repeats */
	insert1(f->s, "contract", "c6", NULL, "{\"dup\":\"x\"}");
	insert1(f->s, "contract", "c7", NULL, "{\"dup\":\"x\"}");
	assert_int_equal(store_index_unique(f->s, "contract", "dup", &e), CS_EEXIST);
	assert_string_equal(e.msg, "dup");
}

static void
history(void **state)
{
	struct fx *f = *state;
	struct store_rec r;
	struct cs_error e = { 0 };
	json_t *h = NULL;
	static const char *const titles[] = { "one", "two", "three" };
	static const char *const who[] = { "user:alice", "api:ci-token", "sync:prod" };

	mkrec(&r, "contract", "h1", NULL, 1, "{}");
	for (int v = 1; v <= 3; v++) {
		json_object_set_new(r.doc, "title", json_string(titles[v - 1]));
		snprintf(r.updated_by, sizeof(r.updated_by), "%s", who[v - 1]);
		r.version = v;
		r.updated_ms = 1767225600000LL + v * 1000;
		assert_int_equal(store_begin(f->s, &e), CS_OK);
		assert_int_equal(v == 1 ? store_insert(f->s, &r, &e) : store_update(f->s, &r, &e), CS_OK);
		assert_int_equal(store_commit(f->s, &e), CS_OK);
	}
	/* a rolled-back version leaves no history row */
	r.version = 4;
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_update(f->s, &r, &e), CS_OK);
	store_rollback(f->s);

	assert_int_equal(store_history(f->s, "contract", "h1", &h, &e), CS_OK);
	assert_int_equal(json_array_size(h), 3);
	for (int v = 1; v <= 3; v++) {
		json_t *x = json_array_get(h, (size_t)v - 1);
		char want[40];

		assert_int_equal(json_integer_value(json_object_get(x, "version")), v);
		assert_string_equal(json_string_value(json_object_get(x, "updated_by")), who[v - 1]);
		assert_string_equal(json_string_value(json_object_get(json_object_get(x, "doc"), "title")),
		                    titles[v - 1]);
		cs_time_format_iso(1767225600000LL + v * 1000, want, sizeof(want));
		assert_string_equal(json_string_value(json_object_get(x, "updated_at")), want);
	}
	json_decref(h);

	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_delete(f->s, "contract", "h1", &e), CS_OK);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(store_history(f->s, "contract", "h1", &h, &e), CS_OK);
	assert_int_equal(json_array_size(h), 3);
	json_decref(h);
	assert_int_equal(store_history(f->s, "amendment", "h1", &h, &e), CS_ENOTFOUND);
	assert_null(h);
	assert_int_equal(store_history(f->s, "contract", "none", &h, &e), CS_ENOTFOUND);
	store_rec_cleanup(&r);
}

/* ---- listing ---- */

#define NL 157
static const char *const statuses[] = { "draft", "active", "expired" };

/* Record i of the listing fixture: some lack a title, numbers are unique ints, score mixes
 * integers and reals, titles repeat so the id tiebreak matters. */
static void
list_fixture(struct store *s)
{
	struct store_rec r;
	struct cs_error e = { 0 };
	char id[16], json[256];

	assert_int_equal(store_index(s, "contract", "status", &e), CS_OK);
	assert_int_equal(store_index(s, "contract", "title", &e), CS_OK);
	assert_int_equal(store_begin(s, &e), CS_OK);
	for (int i = 0; i < NL; i++) {
		snprintf(id, sizeof(id), "k%03d", (i * 61) % NL);    /* ids not in insertion order */
		if (i % 5 == 0)
			snprintf(json, sizeof(json), "{\"status\":\"%s\",\"number\":%d,\"score\":%d}",
			         statuses[i % 3], (i * 7) % NL, i);
		else
			snprintf(json, sizeof(json), "{\"status\":\"%s\",\"number\":%d,\"title\":\"T%02d\","
			         "\"score\":%d%s}", statuses[i % 3], (i * 7) % NL, i % 11, i,
			         i % 4 == 0 ? ".5" : "");
		mkrec(&r, "contract", id, i % 10 == 3 ? "k000" : NULL, 1, json);
		r.created_ms = 1767225600000LL + (long long)i * 1000;
		r.updated_ms = 1767225600000LL + (long long)((i * 37) % NL) * 1000;
		if (store_insert(s, &r, &e) != CS_OK)
			fail_msg("insert: %s", e.msg);
		store_rec_cleanup(&r);
	}
	/* another kind never shows up */
	mkrec(&r, "amendment", "zz1", NULL, 1, "{\"status\":\"draft\",\"title\":\"T00\"}");
	assert_int_equal(store_insert(s, &r, &e), CS_OK);
	store_rec_cleanup(&r);
	assert_int_equal(store_commit(s, &e), CS_OK);
}

/* Lists everything matching q page by page; returns a new array of all rows, checking that
 * no page is empty but the last and that ids never repeat. */
static json_t *
list_all(struct store *s, struct store_list_q q, int limit, int *pages)
{
	struct cs_error e = { 0 };
	char next[STORE_CURSOR_MAX], cur[STORE_CURSOR_MAX] = "";
	json_t *all = json_array(), *page, *seen = json_object();

	*pages = 0;
	q.limit = limit;
	for (;;) {
		q.cursor = cur[0] ? cur : NULL;
		if (store_list(s, &q, &page, next, &e) != CS_OK)
			fail_msg("store_list: %s", e.msg);
		(*pages)++;
		assert_true(json_array_size(page) <= (size_t)limit);
		for (size_t i = 0; i < json_array_size(page); i++) {
			json_t *row = json_array_get(page, i);
			const char *id = json_string_value(json_object_get(row, "id"));

			if (json_object_get(seen, id) != NULL)
				fail_msg("row %s repeated", id);
			json_object_set_new(seen, id, json_true());
			json_array_append(all, row);
		}
		if (next[0] == '\0') {
			json_decref(page);
			break;
		}
		assert_int_equal(json_array_size(page), limit);   /* no short page before the end */
		json_decref(page);
		assert_true(strlen(next) < STORE_CURSOR_MAX);
		memcpy(cur, next, sizeof(cur));
		assert_true(*pages < 10000);
	}
	json_decref(seen);
	return all;
}

static int
fixture_i(const char *id)
{
	for (int i = 0; i < NL; i++) {
		char want[16];
		snprintf(want, sizeof(want), "k%03d", (i * 61) % NL);
		if (strcmp(want, id) == 0)
			return i;
	}
	fail_msg("unknown id %s", id);
	return -1;
}

static void
list_pages(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *sort;
		bool desc;
	} sorts[] = {
		{ NULL, false }, { NULL, true }, { "id", false }, { "title", false }, { "title", true },
		{ "number", false }, { "number", true }, { "score", false }, { "score", true },
		{ "created_at", false }, { "updated_at", true }, { "status", false }, { "missing", true },
	};
	enum { F_NONE, F_ACTIVE, F_NOT_DRAFT, F_NO_TITLE, F_PARENT, F_TITLE_LT, F_UPDATED, F_COUNT };
	struct cs_error e = { 0 };
	char upd[40];

	list_fixture(f->s);
	cs_time_format_iso(1767225600000LL + 100 * 1000, upd, sizeof(upd));
	for (int fi = 0; fi < F_COUNT; fi++) {
		for (size_t si = 0; si < sizeof(sorts) / sizeof(sorts[0]); si++) {
			struct store_list_q q = { .kind = "contract", .sort = sorts[si].sort,
			                          .desc = sorts[si].desc };
			json_t *paged, *whole;
			int expect = 0, pages;

			switch (fi) {
			case F_ACTIVE:
				q.filters[0] = (struct store_filter){ "status", STORE_EQ, "active" };
				break;
			case F_NOT_DRAFT:
				q.filters[0] = (struct store_filter){ "status", STORE_NE, "draft" };
				break;
			case F_NO_TITLE:
				q.filters[0] = (struct store_filter){ "title", STORE_EQ, NULL };
				break;
			case F_PARENT:
				q.filters[0] = (struct store_filter){ "parent", STORE_EQ, "k000" };
				break;
			case F_TITLE_LT:
				q.filters[0] = (struct store_filter){ "title", STORE_LT, "T05" };
				q.filters[1] = (struct store_filter){ "status", STORE_NE, "expired" };
				q.nfilters = 1;
				break;
			case F_UPDATED:
				q.filters[0] = (struct store_filter){ "updated_at", STORE_GE, upd };
				break;
			}
			if (fi != F_NONE)
				q.nfilters++;
			for (int i = 0; i < NL; i++) {
				bool titled = i % 5 != 0;
				bool m = fi == F_NONE || (fi == F_ACTIVE && i % 3 == 1) ||
				         (fi == F_NOT_DRAFT && i % 3 != 0) || (fi == F_NO_TITLE && !titled) ||
				         (fi == F_PARENT && i % 10 == 3) ||
				         (fi == F_TITLE_LT && titled && i % 11 < 5 && i % 3 != 2) ||
				         (fi == F_UPDATED && (i * 37) % NL >= 100);
				expect += m;
			}
			paged = list_all(f->s, q, 7, &pages);
			whole = list_all(f->s, q, STORE_LIST_MAX, &pages);
			assert_int_equal(pages, 1);
			if ((int)json_array_size(paged) != expect)
				fail_msg("filter %d sort %s%s: %zu rows, want %d", fi,
				         sorts[si].sort ? sorts[si].sort : "(id)", sorts[si].desc ? " desc" : "",
				         json_array_size(paged), expect);
			/* the pages together are exactly the one big page, in the same order */
			assert_true(json_equal(paged, whole));
			/* and that order is right: compare neighbours */
			for (size_t k = 1; k < json_array_size(whole); k++) {
				json_t *a = json_array_get(whole, k - 1), *b = json_array_get(whole, k);
				const char *ia = json_string_value(json_object_get(a, "id"));
				const char *ib = json_string_value(json_object_get(b, "id"));
				const char *sf = sorts[si].sort;
				int c, sa = fixture_i(ia), sb = fixture_i(ib);

				if (sf == NULL || strcmp(sf, "id") == 0 || strcmp(sf, "missing") == 0)
					c = 0;
				else if (strcmp(sf, "title") == 0)
					c = (sa % 5 == 0 ? -1 : sa % 11) - (sb % 5 == 0 ? -1 : sb % 11);
				else if (strcmp(sf, "number") == 0)
					c = (sa * 7) % NL - (sb * 7) % NL;
				else if (strcmp(sf, "score") == 0)
					c = sa - sb;        /* i or i.5: same order as i */
				else if (strcmp(sf, "created_at") == 0)
					c = sa - sb;
				else if (strcmp(sf, "updated_at") == 0)
					c = (sa * 37) % NL - (sb * 37) % NL;
				else
					c = strcmp(statuses[sa % 3], statuses[sb % 3]);
				if (sorts[si].desc)
					c = -c;
				if (c == 0)                 /* ties: id, in the same direction */
					c = sorts[si].desc ? strcmp(ib, ia) : strcmp(ia, ib);
				if (c >= 0)
					fail_msg("sort %s%s: %s before %s", sf ? sf : "(id)",
					         sorts[si].desc ? " desc" : "", ia, ib);
			}
			json_decref(paged);
			json_decref(whole);
		}
	}

	/* the row shape */
	{
		struct store_list_q q = { .kind = "contract", .limit = 1,
		                          .filters = { { "parent", STORE_EQ, "k000" } }, .nfilters = 1 };
		char next[STORE_CURSOR_MAX];
		json_t *page, *row;

		assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
		row = json_array_get(page, 0);
		assert_string_equal(json_string_value(json_object_get(row, "parent")), "k000");
		assert_int_equal(json_integer_value(json_object_get(row, "version")), 1);
		assert_string_equal(json_string_value(json_object_get(row, "updated_by")), "user:alice");
		assert_true(json_is_object(json_object_get(row, "doc")));
		assert_int_equal(strlen(json_string_value(json_object_get(row, "created_at"))), 24);
		assert_true(next[0] != '\0');
		json_decref(page);
	}
	/* parent "" means none, as in a record */
	{
		struct store_list_q q = { .kind = "contract", .limit = 1000, .nfilters = 1,
		                          .filters = { { "parent", STORE_EQ, "" } } };
		char next[STORE_CURSOR_MAX];
		json_t *page;
		int want = 0;

		for (int i = 0; i < NL; i++)
			want += i % 10 != 3;
		assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
		assert_int_equal(json_array_size(page), want);
		json_decref(page);
		q.filters[0].op = STORE_NE;
		assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
		assert_int_equal(json_array_size(page), NL - want);
		json_decref(page);
	}
	/* created_at with a date; SQL-looking values are only values */
	{
		struct store_list_q q = { .kind = "contract", .limit = 1000, .nfilters = 1,
		                          .filters = { { "created_at", STORE_LT, "2026-01-01" } } };
		char next[STORE_CURSOR_MAX];
		json_t *page;

		assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
		assert_int_equal(json_array_size(page), 0);
		json_decref(page);
		q.filters[0] = (struct store_filter){ "status", STORE_EQ, "x' OR '1'='1" };
		assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
		assert_int_equal(json_array_size(page), 0);
		json_decref(page);
		q.filters[0] = (struct store_filter){ "created_at", STORE_GE, "2026-01-01T00:00:00Z" };
		assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
		assert_int_equal(json_array_size(page), NL);
		json_decref(page);
	}
}

static void
list_changes_between_pages(void **state)
{
	struct fx *f = *state;
	struct store_list_q q = { .kind = "contract", .sort = "title", .limit = 10 };
	struct cs_error e = { 0 };
	char next[STORE_CURSOR_MAX], cur[STORE_CURSOR_MAX], del[16];
	json_t *page, *seen = json_object();
	int pages = 0;

	snprintf(del, sizeof(del), "k%03d", (21 * 61) % NL);     /* i = 21: title T10, far ahead */
	list_fixture(f->s);
	assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
	for (;;) {
		for (size_t i = 0; i < json_array_size(page); i++) {
			const char *id = json_string_value(json_object_get(json_array_get(page, i), "id"));
			assert_null(json_object_get(seen, id));
			json_object_set_new(seen, id, json_true());
		}
		json_decref(page);
		if (next[0] == '\0')
			break;
		if (++pages == 6) {
			/* between pages: rows behind and ahead of the cursor appear, an unseen one goes */
			insert1(f->s, "contract", "new-behind", NULL, "{\"title\":\"A\"}");
			insert1(f->s, "contract", "new-ahead", NULL, "{\"title\":\"Z\"}");
			assert_int_equal(store_begin(f->s, &e), CS_OK);
			assert_int_equal(store_delete(f->s, "contract", del, &e), CS_OK);
			assert_int_equal(store_commit(f->s, &e), CS_OK);
		}
		memcpy(cur, next, sizeof(cur));
		q.cursor = cur;
		assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
	}
	assert_non_null(json_object_get(seen, "new-ahead"));
	assert_null(json_object_get(seen, "new-behind"));
	assert_null(json_object_get(seen, del));
	/* every fixture row that stayed put was seen exactly once */
	for (int i = 0; i < NL; i++) {
		char id[16];
		snprintf(id, sizeof(id), "k%03d", (i * 61) % NL);
		if (strcmp(id, del) != 0 && json_object_get(seen, id) == NULL)
			fail_msg("row %s missed", id);
	}
	assert_int_equal(json_object_size(seen), NL);    /* NL - del + new-ahead */
	json_decref(seen);
}

static void
list_long_sort_values(void **state)
{
	struct fx *f = *state;
	struct store_list_q q = { .kind = "note", .sort = "title", .limit = 4 };
	struct cs_error e = { 0 };
	char next[STORE_CURSOR_MAX], cur[STORE_CURSOR_MAX], title[420], json[600], id[16];
	json_t *all, *page;
	struct store_rec r;
	int pages;

	/* titles of 400 bytes (multi-byte characters at the cut) that differ only at the end */
	memset(title, 0, sizeof(title));
	for (int k = 0; k < 130; k++)
		memcpy(title + 3 * k, "\xe2\x82\xac", 3);                /* the euro sign */
	for (int i = 0; i < 30; i++) {
		snprintf(id, sizeof(id), "n%02d", (i * 7) % 30);
		snprintf(json, sizeof(json), "{\"title\":\"%s%02d\"}", title, i % 13);
		insert1(f->s, "note", id, NULL, json);
	}
	all = list_all(f->s, q, 4, &pages);
	assert_int_equal(json_array_size(all), 30);
	assert_int_equal(pages, 8);
	for (size_t k = 1; k < 30; k++) {
		json_t *a = json_array_get(all, k - 1), *b = json_array_get(all, k);
		int c = strcmp(json_string_value(json_object_get(json_object_get(a, "doc"), "title")),
		               json_string_value(json_object_get(json_object_get(b, "doc"), "title")));
		assert_true(c < 0 || (c == 0 && strcmp(json_string_value(json_object_get(a, "id")),
		                                       json_string_value(json_object_get(b, "id"))) < 0));
	}
	json_decref(all);

	/* the page's last row changes its sort value: the next page cannot be placed */
	assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(json_array_get(page, 3), "id")));
	json_decref(page);
	assert_int_equal(store_get(f->s, "note", id, &r, &e), CS_OK);
	json_object_set_new(r.doc, "title", json_string("short now"));
	r.version = 2;
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_update(f->s, &r, &e), CS_OK);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	store_rec_cleanup(&r);
	memcpy(cur, next, sizeof(cur));
	q.cursor = cur;
	assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_ECONFLICT);
	assert_null(page);
}

static void
list_bad_input(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	char next[STORE_CURSOR_MAX], cur[STORE_CURSOR_MAX];
	json_t *page;
	struct store_list_q q = { .kind = "contract", .sort = "title", .limit = 5 };

	list_fixture(f->s);
	assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
	json_decref(page);
	memcpy(cur, next, sizeof(cur));

	static const struct {
		const char *cursor;
		const char *sort;
		bool desc;
	} bad[] = {
		{ "!!!", "title", false },
		{ "AAAA", "title", false },
		{ "A", "title", false },
		{ NULL, "number", false },   /* a title cursor used for another sort */
		{ NULL, "title", true },     /* or another direction */
		{ NULL, NULL, false },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct store_list_q b = q;

		b.cursor = bad[i].cursor != NULL ? bad[i].cursor : cur;
		b.sort = bad[i].sort;
		b.desc = bad[i].desc;
		page = (json_t *)1;
		assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
		assert_null(page);
		assert_string_equal(next, "");
	}
	/* a changed character in the format and tag (the first 36 bits), or a cut, is refused */
	for (size_t i = 0; i < 6; i++) {
		char mod[STORE_CURSOR_MAX];
		struct store_list_q b = q;

		memcpy(mod, cur, sizeof(mod));
		mod[i] = mod[i] == 'A' ? 'g' : 'A';
		b.cursor = mod;
		assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	}
	{
		char mod[STORE_CURSOR_MAX];
		struct store_list_q b = q;

		memcpy(mod, cur, sizeof(mod));
		mod[5] = '\0';
		b.cursor = mod;
		assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
		memset(mod, 'A', sizeof(mod) - 1);
		mod[sizeof(mod) - 1] = '\0';
		assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	}

	struct store_list_q b = q;
	b.limit = 0;
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b.limit = STORE_LIST_MAX + 1;
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b = q;
	b.kind = "Contract";
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b = q;
	b.sort = "parent";
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b.sort = "title'); DROP TABLE records; --";
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b = q;
	b.nfilters = STORE_FILTERS_MAX + 1;
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b.nfilters = 1;
	b.filters[0] = (struct store_filter){ "Status", STORE_EQ, "x" };
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b.filters[0] = (struct store_filter){ "status", STORE_LT, NULL };
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b.filters[0] = (struct store_filter){ "status", (enum store_op)42, "x" };
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b.filters[0] = (struct store_filter){ "status", STORE_EQ, "\xff" };
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b.filters[0] = (struct store_filter){ "updated_at", STORE_GE, "yesterday" };
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b.filters[0] = (struct store_filter){ "updated_at", STORE_EQ, NULL };
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	b.filters[0] = (struct store_filter){ "id", STORE_EQ, "k001" };
	assert_int_equal(store_list(f->s, &b, &page, next, &e), CS_EINVAL);
	/* still usable afterwards */
	assert_int_equal(store_list(f->s, &q, &page, next, &e), CS_OK);
	assert_int_equal(json_array_size(page), 5);
	json_decref(page);
}

/* ---- counters and blobs ---- */

static void
counters(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	long long v = 0;

	assert_int_equal(store_counter_next(f->s, "contract_number", &v, &e), CS_ESTATE);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	for (long long want = 1; want <= 3; want++) {
		assert_int_equal(store_counter_next(f->s, "contract_number", &v, &e), CS_OK);
		assert_int_equal(v, want);
	}
	assert_int_equal(store_counter_next(f->s, "contract_number:2026", &v, &e), CS_OK);
	assert_int_equal(v, 1);
	assert_int_equal(store_counter_next(f->s, "bad name", &v, &e), CS_EINVAL);
	assert_int_equal(store_counter_next(f->s, "", &v, &e), CS_EINVAL);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_counter_next(f->s, "contract_number", &v, &e), CS_OK);
	assert_int_equal(v, 4);
	store_rollback(f->s);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_counter_next(f->s, "contract_number", &v, &e), CS_OK);
	assert_int_equal(v, 4);
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	/* at the top it stops instead of wrapping or turning into a float */
	raw_exec(f->path, "UPDATE counters SET value = 9223372036854775806 WHERE name = 'contract_number'");
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_counter_next(f->s, "contract_number", &v, &e), CS_OK);
	assert_int_equal(v, INT64_MAX);
	assert_int_equal(store_counter_next(f->s, "contract_number", &v, &e), CS_ELIMIT);
	store_rollback(f->s);
}

static void
blobs(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	char h[65], h0[65], upper[65];
	static const char text[] = "%PDF-1.7 a contract";
	size_t big = 3u << 20, len = 0;
	unsigned char *bigbuf = malloc(big);
	void *out = NULL;

	sha_hex(text, sizeof(text) - 1, h);
	assert_int_equal(store_blob_put(f->s, h, text, sizeof(text) - 1, &e), CS_OK);
	assert_int_equal(store_blob_put(f->s, h, text, sizeof(text) - 1, &e), CS_OK);  /* no-op */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM blobs"), 1);
	assert_int_equal(store_blob_get(f->s, h, &out, &len, &e), CS_OK);
	assert_int_equal(len, sizeof(text) - 1);
	assert_memory_equal(out, text, len);
	free(out);

	/* inside a transaction it rolls back like the rest */
	sha_hex("x", 1, h0);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_blob_put(f->s, h0, "x", 1, &e), CS_OK);
	store_rollback(f->s);
	assert_int_equal(store_blob_get(f->s, h0, &out, &len, &e), CS_ENOTFOUND);
	assert_null(out);

	/* hashes are checked, both ways */
	assert_int_equal(store_blob_put(f->s, h0, text, sizeof(text) - 1, &e), CS_EINVAL);
	memcpy(upper, h, sizeof(upper));
	for (int i = 0; i < 64; i++)
		if (upper[i] >= 'a')
			upper[i] = (char)(upper[i] - 32);
	assert_int_equal(store_blob_put(f->s, upper, text, sizeof(text) - 1, &e), CS_EINVAL);
	{
		char shorthash[65] = "abc";
		assert_int_equal(store_blob_get(f->s, shorthash, &out, &len, &e), CS_EINVAL);
	}

	sha_hex("", 0, h0);
	assert_int_equal(store_blob_put(f->s, h0, NULL, 0, &e), CS_OK);
	assert_int_equal(store_blob_get(f->s, h0, &out, &len, &e), CS_OK);
	assert_non_null(out);
	assert_int_equal(len, 0);
	free(out);

	assert_non_null(bigbuf);
	for (size_t i = 0; i < big; i++)
		bigbuf[i] = (unsigned char)(i * 2654435761u >> 13);
	sha_hex(bigbuf, big, h0);
	assert_int_equal(store_blob_put(f->s, h0, bigbuf, big, &e), CS_OK);
	assert_int_equal(store_blob_get(f->s, h0, &out, &len, &e), CS_OK);
	assert_int_equal(len, big);
	assert_memory_equal(out, bigbuf, big);
	free(out);
	free(bigbuf);
	assert_int_equal(store_blob_put(f->s, h0, "", (size_t)STORE_BLOB_MAX + 1, &e), CS_ETOOBIG);

	/* damaged content is an error, not a document */
	raw_exec(f->path, "UPDATE blobs SET data = x'00' WHERE length(data) = 19");
	assert_int_equal(store_blob_get(f->s, h, &out, &len, &e), CS_EIO);
	assert_null(out);
}

/* ---- the change feed ---- */

static void
changes(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	json_t *fields = json_pack("{s:{s:s,s:s}}", "status", "old", "draft", "new", "active");
	struct store_change c = { .entity = "contract", .id = "c1", .parent = "", .version = 2,
	                          .op = "transition", .fields = fields, .origin = "sync:prod",
	                          .ts_ms = 1767225600123LL };
	json_t *out = NULL, *x;
	long long seq = 0, prev = 0;

	assert_int_equal(head(f->s), 0);
	assert_int_equal(store_change_append(f->s, &c, &seq, &e), CS_ESTATE);
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	append1(f->s, "contract", "c1", 1, "create");
	assert_int_equal(store_change_append(f->s, &c, &seq, &e), CS_OK);
	assert_int_equal(seq, 2);
	append1(f->s, "amendment", "a1", 1, "create");
	/* malformed changes */
	c.op = "Create";
	assert_int_equal(store_change_append(f->s, &c, &seq, &e), CS_EINVAL);
	c.op = "update";
	c.origin = "";
	assert_int_equal(store_change_append(f->s, &c, &seq, &e), CS_EINVAL);
	c.origin = "user:\x01";
	assert_int_equal(store_change_append(f->s, &c, &seq, &e), CS_EINVAL);
	c.origin = "sync:prod";
	c.fields = json_array();
	assert_int_equal(store_change_append(f->s, &c, &seq, &e), CS_EINVAL);
	json_decref(c.fields);
	c.fields = fields;
	c.entity = "Contract";
	assert_int_equal(store_change_append(f->s, &c, &seq, &e), CS_EINVAL);
	c.entity = "contract";
	/* uncommitted: visible to its own transaction only */
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(head(f->s), 3);

	assert_int_equal(store_changes_after(f->s, 0, 10, &out, &e), CS_OK);
	assert_int_equal(json_array_size(out), 3);
	x = json_array_get(out, 1);
	assert_int_equal(json_integer_value(json_object_get(x, "seq")), 2);
	assert_string_equal(json_string_value(json_object_get(x, "entity")), "contract");
	assert_string_equal(json_string_value(json_object_get(x, "id")), "c1");
	assert_true(json_is_null(json_object_get(x, "parent")));
	assert_int_equal(json_integer_value(json_object_get(x, "version")), 2);
	assert_string_equal(json_string_value(json_object_get(x, "op")), "transition");
	assert_true(json_equal(json_object_get(x, "fields"), fields));
	assert_string_equal(json_string_value(json_object_get(x, "origin")), "sync:prod");
	assert_string_equal(json_string_value(json_object_get(x, "ts")), "2026-01-01T00:00:00.123Z");
	assert_true(json_is_null(json_object_get(json_array_get(out, 0), "fields")));
	json_decref(out);

	/* a rolled-back append leaves no row */
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	append1(f->s, "contract", "c9", 1, "create");
	store_rollback(f->s);
	assert_int_equal(head(f->s), 3);
	assert_int_equal(store_changes_after(f->s, 3, 10, &out, &e), CS_OK);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);

	/* paging by after: every row once, in order */
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	for (int i = 0; i < 250; i++)
		append1(f->s, "contract", "c1", 3 + i, "update");
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	for (int n = 0;;) {
		assert_int_equal(store_changes_after(f->s, prev, 100, &out, &e), CS_OK);
		if (json_array_size(out) == 0) {
			json_decref(out);
			assert_int_equal(n, 253);
			break;
		}
		for (size_t i = 0; i < json_array_size(out); i++) {
			long long s = json_integer_value(json_object_get(json_array_get(out, i), "seq"));
			assert_int_equal(s, prev + 1);
			prev = s;
			n++;
		}
		json_decref(out);
	}
	assert_int_equal(store_changes_after(f->s, 0, 0, &out, &e), CS_EINVAL);
	assert_int_equal(store_changes_after(f->s, 0, STORE_CHANGES_MAX + 1, &out, &e), CS_EINVAL);
	assert_int_equal(store_changes_after(f->s, -1, 10, &out, &e), CS_EINVAL);
	json_decref(fields);
}

/* ---- damaged rows ---- */

static void
damaged_rows(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	struct store_rec g;
	struct store_list_q q = { .kind = "contract", .limit = 10 };
	char next[STORE_CURSOR_MAX];
	json_t *out = NULL;

	insert1(f->s, "contract", "good1", NULL, "{\"a\":1}");
	insert1(f->s, "contract", "bad1", NULL, "{\"a\":2}");
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	append1(f->s, "contract", "bad1", 1, "create");
	assert_int_equal(store_commit(f->s, &e), CS_OK);

	raw_exec(f->path, "UPDATE records SET doc = '{\"a\":' WHERE id = 'bad1'");
	assert_int_equal(store_get(f->s, "contract", "bad1", &g, &e), CS_EIO);
	assert_non_null(strstr(e.msg, "bad1"));
	assert_null(g.doc);
	assert_int_equal(store_get(f->s, "contract", "good1", &g, &e), CS_OK);
	store_rec_cleanup(&g);
	assert_int_equal(store_list(f->s, &q, &out, next, &e), CS_EIO);
	assert_non_null(strstr(e.msg, "bad1"));
	assert_null(out);
	raw_exec(f->path, "UPDATE records SET doc = '[1,2]' WHERE id = 'bad1'");
	assert_int_equal(store_get(f->s, "contract", "bad1", &g, &e), CS_EIO);
	raw_exec(f->path, "UPDATE records SET doc = CAST(x'7b2261223a22ff227d' AS TEXT) WHERE id = 'bad1'");
	assert_int_equal(store_get(f->s, "contract", "bad1", &g, &e), CS_EIO);
	raw_exec(f->path, "UPDATE records SET version = 0 WHERE id = 'good1'");
	assert_int_equal(store_get(f->s, "contract", "good1", &g, &e), CS_EIO);

	assert_int_equal(store_history(f->s, "contract", "bad1", &out, &e), CS_OK);  /* intact */
	json_decref(out);
	raw_exec(f->path, "UPDATE history SET doc = 'nope' WHERE id = 'bad1'");
	assert_int_equal(store_history(f->s, "contract", "bad1", &out, &e), CS_EIO);
	assert_null(out);

	raw_exec(f->path, "UPDATE changes SET fields = '{' WHERE id = 'bad1'");
	assert_int_equal(store_changes_after(f->s, 0, 10, &out, &e), CS_EIO);
	assert_null(out);
	raw_exec(f->path, "UPDATE changes SET fields = NULL, id = 'has space' WHERE id = 'bad1'");
	assert_int_equal(store_changes_after(f->s, 0, 10, &out, &e), CS_OK);   /* text, not an id rule */
	json_decref(out);
}

/* ---- injected faults: every statement of a write fails in turn ---- */

static void
faults(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	struct store_rec r, g;
	long long v = 0;
	int n, failures = 0;

	struct store_change c = { .entity = "contract", .id = "f1", .version = 1, .op = "create",
	                          .origin = "user:alice" };
	long long seq;

	mkrec(&r, "contract", "f1", NULL, 1, "{\"number\":\"F-1\"}");
	for (n = 1; n < 100; n++) {
		cs_err err;

		store_fault_inject(n);
		if ((err = store_begin(f->s, &e)) == CS_OK && (err = store_insert(f->s, &r, &e)) == CS_OK)
			err = store_change_append(f->s, &c, &seq, &e);
		if (err == CS_OK)
			err = store_counter_next(f->s, "contract_number", &v, &e);
		if (err == CS_OK && (err = store_commit(f->s, &e)) != CS_OK)
			assert_false(store_in_transaction(f->s));   /* a failed commit closes it */
		if (err == CS_OK)
			break;
		failures++;
		assert_int_equal(err, CS_EIO);
		assert_non_null(strstr(e.msg, "injected fault"));
		store_rollback(f->s);
		store_fault_inject(0);
		assert_false(store_in_transaction(f->s));
		/* nothing of the failed attempt is visible */
		assert_int_equal(store_get(f->s, "contract", "f1", &g, &e), CS_ENOTFOUND);
		assert_int_equal(head(f->s), 0);
	}
	store_fault_inject(0);
	store_rec_cleanup(&r);
	/* begin, insert, history, change, the counter's three (update, read, first insert), commit:
	 * each failed once */
	assert_int_equal(failures, 8);
	assert_int_equal(store_get(f->s, "contract", "f1", &g, &e), CS_OK);
	store_rec_cleanup(&g);
	assert_int_equal(head(f->s), 1);
	assert_int_equal(v, 1);
}

/* ---- connections, processes, threads ---- */

static int
run_child(const char *mode, const char *url, int outfd, pid_t *pid)
{
	char fd[16];

	snprintf(fd, sizeof(fd), "%d", outfd);
	*pid = fork();
	if (*pid == 0) {
		/* a fresh process image: SQLite state must not be inherited through fork */
		execl("/proc/self/exe", "test_store", mode, url, fd, (char *)NULL);
		_exit(127);
	}
	return *pid > 0 ? 0 : -1;
}

static void
visibility(void **state)
{
	struct fx *f = *state;
	struct store *b = NULL;
	struct store_rec r, g;
	struct cs_error e = { 0 };
	int st;
	pid_t pid;

	assert_int_equal(store_open(f->url, &b, &e), CS_OK);
	mkrec(&r, "contract", "v1", NULL, 1, "{\"n\":1}");
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_insert(f->s, &r, &e), CS_OK);
	append1(f->s, "contract", "v1", 1, "create");
	/* the other connection sees nothing yet, and can still read while the writer holds the lock */
	assert_int_equal(store_get(b, "contract", "v1", &g, &e), CS_ENOTFOUND);
	assert_int_equal(head(b), 0);
	assert_int_equal(store_begin(b, &e), CS_ETIMEOUT);        /* waits the busy timeout */
	assert_int_equal(store_commit(f->s, &e), CS_OK);
	assert_int_equal(store_get(b, "contract", "v1", &g, &e), CS_OK);
	assert_int_equal(g.version, 1);
	store_rec_cleanup(&g);
	assert_int_equal(head(b), 1);
	store_rec_cleanup(&r);

	/* another process: sees v1 (committed), not v2 (open in our transaction) */
	mkrec(&r, "contract", "v2", NULL, 1, "{\"n\":2}");
	assert_int_equal(store_begin(f->s, &e), CS_OK);
	assert_int_equal(store_insert(f->s, &r, &e), CS_OK);
	assert_int_equal(run_child("child-read", f->url, 1, &pid), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	store_rollback(f->s);
	store_rec_cleanup(&r);
	store_close(b);
}

static void
kill9(void **state)
{
	struct fx *f = *state;
	struct store_rec g;
	struct cs_error e = { 0 };
	json_t *out = NULL;
	int p[2], st;
	char c[16] = "";
	pid_t pid;

	/* the child commits k1, opens a transaction with k2, says so, and is killed */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(run_child("child-crash", f->url, p[1], &pid), 0);
	close(p[1]);
	assert_int_equal(read(p[0], c, 1), 1);
	assert_int_equal(c[0], 'R');
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	close(p[0]);

	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->url, &f->s, &e), CS_OK);
	for (int i = 0; i < 50; i++) {
		char id[16];
		snprintf(id, sizeof(id), "k1-%d", i);
		assert_int_equal(store_get(f->s, "contract", id, &g, &e), CS_OK);
		store_rec_cleanup(&g);
	}
	assert_int_equal(store_get(f->s, "contract", "k2", &g, &e), CS_ENOTFOUND);
	assert_int_equal(head(f->s), 50);
	assert_int_equal(store_changes_after(f->s, 0, 100, &out, &e), CS_OK);
	assert_int_equal(json_array_size(out), 50);
	json_decref(out);
	insert1(f->s, "contract", "after", NULL, "{}");      /* and it writes on */
	assert_string_equal(raw_str(f->path, "PRAGMA integrity_check", c, sizeof(c)), "ok");
}

static int
child_read(const char *url)
{
	struct store *s = NULL;
	struct store_rec g;
	struct cs_error e = { 0 };
	int rc = 0;

	if (store_open(url, &s, &e) != CS_OK)
		return 10;
	if (store_get(s, "contract", "v1", &g, &e) != CS_OK)
		rc = 11;
	store_rec_cleanup(&g);
	if (store_get(s, "contract", "v2", &g, &e) != CS_ENOTFOUND)
		rc = 12;
	store_rec_cleanup(&g);
	store_close(s);
	return rc;
}

static int
child_crash(const char *url, int fd)
{
	struct store *s = NULL;
	struct store_rec r;
	struct cs_error e = { 0 };
	struct store_change c = { .entity = "contract", .version = 1, .op = "create", .origin = "user:x" };
	long long seq;

	if (store_open(url, &s, &e) != CS_OK)
		return 10;
	memset(&r, 0, sizeof(r));
	snprintf(r.kind, sizeof(r.kind), "contract");
	snprintf(r.updated_by, sizeof(r.updated_by), "user:x");
	r.version = 1;
	r.doc = json_object();
	/* each its own committed transaction: acknowledged writes */
	for (int i = 0; i < 50; i++) {
		snprintf(r.id, sizeof(r.id), "k1-%d", i);
		c.id = r.id;
		if (store_begin(s, &e) != CS_OK || store_insert(s, &r, &e) != CS_OK ||
		    store_change_append(s, &c, &seq, &e) != CS_OK || store_commit(s, &e) != CS_OK)
			return 11;
	}
	snprintf(r.id, sizeof(r.id), "k2");
	c.id = r.id;
	if (store_begin(s, &e) != CS_OK || store_insert(s, &r, &e) != CS_OK ||
	    store_change_append(s, &c, &seq, &e) != CS_OK)
		return 12;
	if (write(fd, "R", 1) != 1)
		return 13;
	for (;;)
		pause();
}

struct wctx {
	const char *url;
	int id;
	int n;
	cs_err err;
	char msg[256];
};

static void *
writer(void *arg)
{
	struct wctx *w = arg;
	struct store *s = NULL;
	struct store_rec r;
	struct store_change c = { .entity = "contract", .version = 1, .op = "create", .origin = "user:t" };
	struct cs_error e = { 0 };
	long long seq;

	if ((w->err = store_open(w->url, &s, &e)) != CS_OK)
		goto out;
	memset(&r, 0, sizeof(r));
	snprintf(r.kind, sizeof(r.kind), "contract");
	snprintf(r.updated_by, sizeof(r.updated_by), "user:t");
	r.version = 1;
	r.doc = json_object();
	for (int i = 0; i < w->n; i++) {
		snprintf(r.id, sizeof(r.id), "t%d-%d", w->id, i);
		c.id = r.id;
		if ((w->err = store_begin(s, &e)) != CS_OK || (w->err = store_insert(s, &r, &e)) != CS_OK ||
		    (w->err = store_change_append(s, &c, &seq, &e)) != CS_OK ||
		    (w->err = store_commit(s, &e)) != CS_OK)
			break;
	}
	store_rec_cleanup(&r);
out:
	snprintf(w->msg, sizeof(w->msg), "%s", e.msg);
	store_close(s);
	return NULL;
}

static void
concurrent_writers(void **state)
{
	struct fx *f = *state;
	struct cs_error e = { 0 };
	pthread_t t[4];
	struct wctx w[4];
	json_t *out = NULL, *seen = json_object();
	long long prev = 0;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct wctx){ .url = f->url, .id = i, .n = 200 };
		assert_int_equal(pthread_create(&t[i], NULL, writer, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		if (w[i].err != CS_OK)
			fail_msg("writer %d: %s", i, w[i].msg);
	}
	/* serialised writers: the feed is gap-free and names each record once */
	assert_int_equal(head(f->s), 800);
	while (prev < 800) {
		assert_int_equal(store_changes_after(f->s, prev, 300, &out, &e), CS_OK);
		assert_true(json_array_size(out) > 0);
		for (size_t i = 0; i < json_array_size(out); i++) {
			json_t *x = json_array_get(out, i);
			const char *id = json_string_value(json_object_get(x, "id"));

			assert_int_equal(json_integer_value(json_object_get(x, "seq")), ++prev);
			assert_null(json_object_get(seen, id));
			json_object_set_new(seen, id, json_true());
		}
		json_decref(out);
	}
	assert_int_equal(json_object_size(seen), 800);
	json_decref(seen);
}

/* The background checkpointer copies the WAL into the database file while connections stay
 * open: about 2,000 WAL pages, below the writers' own inline threshold, so only the thread can. */
static void
checkpointer(void **state)
{
	struct fx *f = *state;
	struct store_rec r;
	struct cs_error e = { 0 };
	struct stat sb;
	char big[6000], id[16];
	int64_t deadline;
	off_t before;

	assert_int_equal(stat(f->path, &sb), 0);
	before = sb.st_size;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mkrec(&r, "contract", "x", NULL, 1, "{}");
	json_object_set_new(r.doc, "blob", json_string(big));
	for (int i = 0; i < 400; i++) {
		snprintf(r.id, sizeof(r.id), "w%04d", i);
		assert_int_equal(store_begin(f->s, &e), CS_OK);
		assert_int_equal(store_insert(f->s, &r, &e), CS_OK);
		assert_int_equal(store_commit(f->s, &e), CS_OK);
	}
	store_rec_cleanup(&r);
	deadline = cs_time_mono_ms() + 10000;
	do {
		struct timespec ts = { 0, 20 * 1000000L };

		assert_int_equal(stat(f->path, &sb), 0);
		if (sb.st_size > before + (2 << 20))
			break;
		nanosleep(&ts, NULL);
	} while (cs_time_mono_ms() < deadline);
	if (sb.st_size <= before + (2 << 20))
		fail_msg("database file still %lld bytes: no checkpoint", (long long)sb.st_size);
	/* and what was copied reads back */
	for (int i = 0; i < 400; i += 57) {
		snprintf(id, sizeof(id), "w%04d", i);
		assert_int_equal(store_get(f->s, "contract", id, &r, &e), CS_OK);
		assert_int_equal(strlen(json_string_value(json_object_get(r.doc, "blob"))), sizeof(big) - 1);
		store_rec_cleanup(&r);
	}
}

struct pctx {
	struct store_pool *p;
	struct store *got;
	cs_err err;
	int64_t waited;
};

static void *
pool_waiter(void *arg)
{
	struct pctx *c = arg;
	struct cs_error e = { 0 };
	int64_t t0 = cs_time_mono_ms();

	c->err = store_pool_acquire(c->p, 5000, &c->got, &e);
	c->waited = cs_time_mono_ms() - t0;
	return NULL;
}

static void
pool(void **state)
{
	struct fx *f = *state;
	struct store_pool *p = NULL;
	struct store *a = NULL, *b = NULL, *c = NULL;
	struct store_rec r, g;
	struct cs_error e = { 0 };
	struct pctx pc = { 0 };
	pthread_t t;
	int64_t t0, dt;
	struct timespec ts = { 0, 100 * 1000000L };

	assert_int_equal(store_pool_new("nope:x", 2, &p, &e), CS_EINVAL);
	assert_null(p);
	assert_int_equal(store_pool_new(f->url, 0, &p, &e), CS_EINVAL);
	assert_int_equal(store_pool_new(f->url, STORE_POOL_MAX + 1, &p, &e), CS_EINVAL);
	assert_int_equal(store_pool_new(f->url, 2, &p, &e), CS_OK);

	assert_int_equal(store_pool_acquire(p, 0, &a, &e), CS_OK);
	assert_int_equal(store_pool_acquire(p, 0, &b, &e), CS_OK);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	t0 = cs_time_mono_ms();
	assert_int_equal(store_pool_acquire(p, 150, &c, &e), CS_ETIMEOUT);
	dt = cs_time_mono_ms() - t0;
	assert_null(c);
	assert_true(dt >= 145 && dt < 3000);
	assert_int_equal(store_pool_acquire(p, 0, &c, &e), CS_ETIMEOUT);
	assert_int_equal(store_pool_acquire(p, -1, &c, &e), CS_EINVAL);

	/* a waiter is woken by a release, long before its deadline */
	pc.p = p;
	assert_int_equal(pthread_create(&t, NULL, pool_waiter, &pc), 0);
	nanosleep(&ts, NULL);
	store_pool_release(p, a);
	pthread_join(t, NULL);
	assert_int_equal(pc.err, CS_OK);
	assert_ptr_equal(pc.got, a);
	assert_true(pc.waited < 2000);

	/* a connection given back inside a transaction is rolled back */
	mkrec(&r, "contract", "p1", NULL, 1, "{}");
	assert_int_equal(store_begin(a, &e), CS_OK);
	assert_int_equal(store_insert(a, &r, &e), CS_OK);
	store_pool_release(p, a);
	store_pool_release(p, a);                /* twice by mistake: still handed out once */
	assert_int_equal(store_pool_acquire(p, 0, &c, &e), CS_OK);
	assert_ptr_equal(c, a);
	assert_false(store_in_transaction(c));
	assert_int_equal(store_pool_acquire(p, 0, &a, &e), CS_ETIMEOUT);
	assert_int_equal(store_get(c, "contract", "p1", &g, &e), CS_ENOTFOUND);
	store_rec_cleanup(&r);
	store_pool_release(p, c);
	store_pool_release(p, b);
	store_pool_release(p, NULL);
	store_pool_free(p);
	store_pool_free(NULL);
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "child-read") == 0)
		return child_read(argv[2]);
	if (argc == 4 && strcmp(argv[1], "child-crash") == 0)
		return child_crash(argv[2], (int)strtol(argv[3], NULL, 10));

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(open_and_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(crud, setup, teardown),
		cmocka_unit_test_setup_teardown(unique_and_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(history, setup, teardown),
		cmocka_unit_test_setup_teardown(list_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(list_changes_between_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(list_long_sort_values, setup, teardown),
		cmocka_unit_test_setup_teardown(list_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(counters, setup, teardown),
		cmocka_unit_test_setup_teardown(blobs, setup, teardown),
		cmocka_unit_test_setup_teardown(changes, setup, teardown),
		cmocka_unit_test_setup_teardown(damaged_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(faults, setup, teardown),
		cmocka_unit_test_setup_teardown(visibility, setup, teardown),
		cmocka_unit_test_setup_teardown(kill9, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(pool, setup, teardown),
		cmocka_unit_test_setup_teardown(checkpointer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

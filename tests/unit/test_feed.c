/* test_feed.c - the change feed's direct JSON writer gives byte for byte the jansson path's page. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clm/clm.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/json.h"

#define BIG (600 * 1024)         /* bytes in the large field value: a multiple of its 8-byte pattern */

struct fx {
	char dir[64];
	char path[128];
	char url[160];
	struct clm *c;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct clm_opts o = { .pool_size = 2 };
	struct cs_error e = { 0 };

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_feed.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/clm.db", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
	o.store_url = f->url;
	if (clm_new(&o, &f->c, &e) != CS_OK) {
		fprintf(stderr, "clm_new: %s\n", e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[200];

	clm_free(f->c);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Appends changes through the store, as the repository does: fields encoded by our encoder. */
static void
append(struct fx *f, const char *entity, const char *id, const char *parent, const char *origin, json_t *fields)
{
	struct cs_error e = { 0 };
	struct store *s = NULL;
	struct store_change ch = { .entity = entity, .id = id, .parent = parent, .version = 3, .op = "update",
	                           .fields = fields, .origin = origin, .ts_ms = 1795000000123LL };
	long long seq;

	assert_int_equal(store_open(f->url, &s, &e), CS_OK);
	assert_int_equal(store_begin(s, &e), CS_OK);
	assert_int_equal(store_change_append(s, &ch, &seq, &e), CS_OK);
	assert_int_equal(store_commit(s, &e), CS_OK);
	store_close(s);
	json_decref(fields);
}

/* Writes a row as another writer could have: fields text (and origin) exactly as given. */
static void
append_raw(struct fx *f, const char *origin, const char *fields)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO changes (entity, id, parent, version, op, fields, origin,"
	                 " ts_ms) VALUES ('contract', 'c1', '', 1, 'update', ?1, ?2, 0)", -1, &st, NULL), SQLITE_OK);
	if (fields != NULL)
		sqlite3_bind_text(st, 1, fields, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, origin, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Both forms of every page of the feed, for several page sizes, compared byte for byte. */
static void
same_pages(struct fx *f)
{
	static const int limits[] = { 1, 2, 3, 5, 1000 };

	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		for (long long after = 0; after <= 40; after++) {
			struct clm_fail fa, fb;
			struct cs_buf a, b;
			json_t *out = NULL;
			cs_err ra, rb;

			cs_buf_init(&a, (size_t)1 << 30);
			cs_buf_init(&b, (size_t)1 << 30);
			ra = clm_changes(f->c, after, limits[l], 0, &out, &fa);
			rb = clm_changes_json(f->c, after, limits[l], 0, &b, &fb);
			assert_int_equal(ra, rb);
			if (ra == CS_OK) {
				assert_int_equal(cs_json_dump(out, &a), CS_OK);
				if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
					fail_msg("after=%lld limit=%d:\n jansson %.400s\n direct  %.400s", after, limits[l],
					         a.data, b.data);
			} else {
				assert_int_equal(fa.status, fb.status);
				assert_string_equal(fa.code, fb.code);
				assert_int_equal(b.len, 0);
			}
			json_decref(out);
			cs_buf_cleanup(&a);
			cs_buf_cleanup(&b);
		}
	}
}

/* v, which must have been built */
static json_t *
built(json_t *v)
{
	assert_non_null(v);
	return v;
}

static void
unusual_content(void **state)
{
	struct fx *f = *state;
	char ctl[40], *big = malloc(BIG + 1);

	assert_non_null(big);
	for (int i = 0; i < 32; i++)
		ctl[i] = (char)(i + 1 < 32 ? i + 1 : 0x7f);
	ctl[32] = '\0';
	for (size_t i = 0; i < BIG; i++)
		big[i] = (char)("ab\"\\\n\xc3\xa9/"[i % 8]);
	big[BIG] = '\0';

	append(f, "contract", "c1", NULL, "user:alice", built(json_pack("{s:{s:n,s:s}}", "title", "old", "new", "ünïcode ✓ 日本 😀")));
	append(f, "contract", "c2", "c1", "api:ci", built(json_object()));
	append(f, "contract", "c3", "", "sync:prod", NULL);
	append(f, "contract", "c4", NULL, "user:bob", built(json_pack("{s:{s:s,s:s}}", "notes", "old", ctl, "new",
	       "quote \" back \\ slash / \u2028 \xf0\x9f\x98\x80")));
	append(f, "contract", "c5", NULL, "user:bob", built(json_pack("{s:{s:s%,s:n}}", "body", "old", "a\0b", (size_t)3, "new")));
	append(f, "contract", "c6", NULL, "user:bob", built(json_pack("{s:{s:s,s:b}}", "big", "old", big, "new", 1)));
	append(f, "contract", "c7", NULL, "user:bob", built(json_pack("{s:{s:I,s:I},s:{s:i,s:i},s:{s:f,s:f},s:[i,[],{}]}",
	       "n", "old", (json_int_t)INT64_MIN, "new", (json_int_t)INT64_MAX, "z", "old", 0, "new", -7,
	       "r", "old", 0.1, "new", 1e300, "a", 1)));
	append(f, "contract", "c8", NULL, "user:bob", built(json_pack("{s:{s:{s:{s:[s,n,b]}}}}", "deep", "x", "y", "z", "é", 0)));
	/* rows another writer could have left: valid JSON our encoder would not spell that way,
	 * odd origins, and at the end a damaged one that both paths must refuse alike */
	append_raw(f, "weird \"origin\" \\ \x01 \x7f é", "{ \"a\" : 1 }");
	append_raw(f, "o", "{\"a\":1,\"a\":2}");
	append_raw(f, "o", "{\"s\":\"\\/ \\u00e9 \\u001f \\u001F \\ud83d\\ude00\"}");
	append_raw(f, "o", "{\"n\":-0,\"m\":1E2,\"k\":1.50,\"j\":-1234567890123456789}");
	append_raw(f, "o", "{\"e\":{},\"f\":[],\"g\":[null,true,false,\"\"]}");
	append_raw(f, "o", "{}");
	append_raw(f, "o", NULL);
	same_pages(f);
	{
		/* the pages did hold the rows: the large value came through whole */
		struct clm_fail fl;
		struct cs_buf b;

		cs_buf_init(&b, (size_t)1 << 30);
		assert_int_equal(clm_changes_json(f->c, 0, 1000, 0, &b, &fl), CS_OK);
		assert_true(b.len > BIG);
		assert_non_null(strstr(b.data, "\"next_after\":15}"));
		cs_buf_cleanup(&b);
	}
	/* rows the jansson path refuses: the direct one must refuse them too */
	append_raw(f, "o", "{\"k\\u0000\":1}");
	same_pages(f);
	append_raw(f, "o", "{\"big\":123456789012345678901}");
	same_pages(f);
	append_raw(f, "o", "{\"a\":");
	same_pages(f);
	free(big);
}

static void
empty_feed(void **state)
{
	struct fx *f = *state;

	same_pages(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(empty_feed, setup, teardown),
		cmocka_unit_test_setup_teardown(unusual_content, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

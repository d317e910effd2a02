/* test_import_batch.c - many creates as one atomic unit (clm_create_many, clm_bulk_*) and the
 * import built on it: a record refused by the store, a bad record in a later chunk or a store
 * fault at any statement writes nothing at all and names the record. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "clm/clm.h"
#include "store/store.h"
#include "util/json.h"

#define ACTOR "user:bulk-test"

struct fx {
	char dir[64];
	char url[128];
	struct clm *c;
};

static struct clm *
open_clm(const char *url)
{
	struct clm_opts o = { .store_url = url, .pool_size = 4 };
	struct cs_error e = { 0 };
	struct clm *c = NULL;

	if (clm_new(&o, &c, &e) != CS_OK)
		fprintf(stderr, "clm_new: %s\n", e.msg);
	return c;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_import_batch.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->url, sizeof(f->url), "sqlite:%s/clmsync.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = { "clmsync.db", "clmsync.db-wal", "clmsync.db-shm", "in.csv", "out.txt",
	    "api-token" };
	char p[200];

	store_fault_inject(0);
	clm_free(f->c);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static json_t *
jsonf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *
jsonf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	json_t *v;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((v = json_loads(buf, 0, NULL)) == NULL)
		abort();                 /* our own literal: a bug in the test */
	return v;
}

/* Records of kind k in the store. */
static size_t
count_of(struct clm *c, enum clm_kind k)
{
	char cursor[STORE_CURSOR_MAX] = "";
	size_t n = 0;

	for (;;) {
		struct clm_list_q q = { .kind = k, .limit = CLM_LIST_MAX, .cursor = cursor[0] ? cursor : NULL };
		struct clm_fail f = { 0 };
		json_t *page = NULL;
		const json_t *next;

		assert_int_equal(clm_list(c, &q, &page, &f), CS_OK);
		n += json_array_size(json_object_get(page, "data"));
		next = json_object_get(page, "next_cursor");
		if (!json_is_string(next)) {
			json_decref(page);
			return n;
		}
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		json_decref(page);
	}
}

/* Change-feed rows after seq `after`. */
static size_t
changes_after(struct clm *c, long long after)
{
	struct clm_fail f = { 0 };
	json_t *page = NULL;
	size_t n;

	assert_int_equal(clm_changes(c, after, CLM_CHANGES_MAX, 0, &page, &f), CS_OK);
	n = json_array_size(json_object_get(page, "data"));
	json_decref(page);
	return n;
}

static long long
head(struct clm *c)
{
	struct clm_fail f = { 0 };
	json_t *page = NULL;
	long long h;

	assert_int_equal(clm_changes(c, 0, CLM_CHANGES_MAX, 0, &page, &f), CS_OK);
	h = cs_json_get_int(page, "next_after", 0);
	json_decref(page);
	return h;
}

static bool
exists(struct clm *c, enum clm_kind k, const char *id)
{
	struct clm_fail f = { 0 };
	json_t *out = NULL, *hist = NULL;
	bool yes = clm_get(c, k, NULL, id, &out, &f) == CS_OK;

	/* no history either: the record never was, not only deleted */
	yes = clm_history(c, k, id, &hist, &f) == CS_OK || yes;
	json_decref(out);
	json_decref(hist);
	return yes;
}

/* n records: a counterparty (items[0]) and n - 1 contracts naming it; contract j has number
 * "B-<j>", except that contract `dup` (0 = none) gets number `taken`. bodies[] owns the bodies. */
static void
make_items(struct clm_new *items, json_t **bodies, size_t n, size_t dup, const char *taken)
{
	memset(items, 0, n * sizeof(*items));
	items[0].kind = CLM_COUNTERPARTY;
	bodies[0] = jsonf("{\"legal_name\": \"Bulk Co\"}");
	assert_int_equal(clm_id_new(CLM_COUNTERPARTY, items[0].id), CS_OK);
	for (size_t j = 1; j < n; j++) {
		items[j].kind = CLM_CONTRACT;
		if (j == dup)
			bodies[j] = jsonf("{\"title\": \"row %zu\", \"number\": \"%s\", \"counterparty_id\": \"%s\", "
			    "\"total_value\": {\"amount\": \"10\", \"currency\": \"EUR\"}}", j, taken, items[0].id);
		else
			bodies[j] = jsonf("{\"title\": \"row %zu\", \"number\": \"B-%zu\", \"counterparty_id\": \"%s\", "
			    "\"total_value\": {\"amount\": \"10\", \"currency\": \"EUR\"}}", j, j, items[0].id);
	}
	for (size_t j = 0; j < n; j++)
		items[j].body = bodies[j];
}

static void
free_bodies(json_t **bodies, size_t n)
{
	for (size_t j = 0; j < n; j++)
		json_decref(bodies[j]);
}

/* A number taken by another writer after the caller checked: record K is refused at apply, and
 * neither its counterparty nor the records before it, their history or change rows remain. */
static void
test_many_refused_writes_nothing(void **state)
{
	struct fx *x = *state;
	struct clm_new items[8];
	json_t *bodies[8], *b, *out = NULL;
	struct clm_fail f = { 0 };
	size_t failed = 0;
	long long h;

	assert_non_null(x->c = open_clm(x->url));
	b = jsonf("{\"title\": \"other writer\", \"number\": \"TAKEN-1\"}");
	assert_int_equal(clm_create(x->c, CLM_CONTRACT, NULL, b, ACTOR, &out, &f), CS_OK);
	json_decref(b);
	json_decref(out);
	h = head(x->c);

	make_items(items, bodies, 8, 5, "TAKEN-1");
	assert_int_not_equal(clm_create_many(x->c, items, 8, ACTOR, &failed, &f), CS_OK);
	assert_int_equal(failed, 5);
	assert_int_equal(f.status, 409);
	assert_string_equal(f.code, "duplicate");
	assert_string_equal(f.field, "number");
	assert_int_equal(count_of(x->c, CLM_COUNTERPARTY), 0);
	assert_int_equal(count_of(x->c, CLM_CONTRACT), 1);
	assert_int_equal(changes_after(x->c, h), 0);
	for (size_t j = 0; j < 8; j++)
		assert_false(exists(x->c, items[j].kind, items[j].id));
	free_bodies(bodies, 8);

	/* the same without the collision: everything, with its history and change rows */
	make_items(items, bodies, 8, 0, NULL);
	assert_int_equal(clm_create_many(x->c, items, 8, ACTOR, &failed, &f), CS_OK);
	assert_int_equal(failed, SIZE_MAX);
	assert_int_equal(count_of(x->c, CLM_COUNTERPARTY), 1);
	assert_int_equal(count_of(x->c, CLM_CONTRACT), 8);
	assert_int_equal(changes_after(x->c, h), 8);
	for (size_t j = 0; j < 8; j++)
		assert_true(exists(x->c, items[j].kind, items[j].id));
	free_bodies(bodies, 8);
}

#define BIG 2500
#define PER 1000

/* A bulk over several chunks: a refusal in the last chunk undoes the chunks already applied;
 * a bad record found while preparing a later chunk too. */
static void
test_bulk_chunks_all_or_nothing(void **state)
{
	struct fx *x = *state;
	struct clm_new *items = calloc(BIG, sizeof(*items));
	json_t **bodies = calloc(BIG, sizeof(*bodies)), *b, *out = NULL;
	struct clm_fail f = { 0 };
	struct clm_bulk *bk = NULL;
	size_t failed = 0, k = 2300;
	long long h;
	cs_err rc = CS_OK;

	assert_non_null(items);
	assert_non_null(bodies);
	assert_non_null(x->c = open_clm(x->url));
	b = jsonf("{\"title\": \"other writer\", \"number\": \"TAKEN-2\"}");
	assert_int_equal(clm_create(x->c, CLM_CONTRACT, NULL, b, ACTOR, &out, &f), CS_OK);
	json_decref(b);
	json_decref(out);
	h = head(x->c);

	/* refused by the store in the third chunk: reported at commit, with its index */
	make_items(items, bodies, BIG, k, "TAKEN-2");
	assert_int_equal(clm_bulk_begin(x->c, ACTOR, &bk, &f), CS_OK);
	for (size_t at = 0; at < BIG && rc == CS_OK; at += PER)
		rc = clm_bulk_add(bk, items + at, at + PER <= BIG ? PER : BIG - at, &failed, &f);
	if (rc == CS_OK)
		rc = clm_bulk_commit(bk, &failed, &f);
	else
		clm_bulk_abort(bk);
	assert_int_not_equal(rc, CS_OK);
	assert_int_equal(failed, k);
	assert_int_equal(f.status, 409);
	assert_int_equal(count_of(x->c, CLM_COUNTERPARTY), 0);
	assert_int_equal(count_of(x->c, CLM_CONTRACT), 1);
	assert_int_equal(changes_after(x->c, h), 0);
	assert_false(exists(x->c, CLM_CONTRACT, items[10].id));
	free_bodies(bodies, BIG);

	/* refused while preparing the third chunk (a bad currency): the first two were applied */
	make_items(items, bodies, BIG, 0, NULL);
	json_object_set_new(bodies[2100], "total_value", jsonf("{\"amount\": \"1\", \"currency\": \"EUX\"}"));
	assert_int_equal(clm_bulk_begin(x->c, ACTOR, &bk, &f), CS_OK);
	rc = CS_OK;
	for (size_t at = 0; at < BIG && rc == CS_OK; at += PER)
		rc = clm_bulk_add(bk, items + at, at + PER <= BIG ? PER : BIG - at, &failed, &f);
	assert_int_not_equal(rc, CS_OK);
	assert_int_equal(failed, 2100);
	assert_int_equal(f.status, 422);
	clm_bulk_abort(bk);
	assert_int_equal(count_of(x->c, CLM_CONTRACT), 1);
	assert_int_equal(changes_after(x->c, h), 0);

	/* and when all is well, every chunk commits, the last row's id is usable at once */
	json_object_set_new(bodies[2100], "total_value", jsonf("{\"amount\": \"1\", \"currency\": \"EUR\"}"));
	assert_int_equal(clm_bulk_begin(x->c, ACTOR, &bk, &f), CS_OK);
	rc = CS_OK;
	for (size_t at = 0; at < BIG && rc == CS_OK; at += PER)
		rc = clm_bulk_add(bk, items + at, at + PER <= BIG ? PER : BIG - at, &failed, &f);
	assert_int_equal(rc, CS_OK);
	assert_int_equal(clm_bulk_commit(bk, &failed, &f), CS_OK);
	assert_int_equal(count_of(x->c, CLM_CONTRACT), BIG);
	assert_int_equal(changes_after(x->c, h), BIG);
	assert_true(exists(x->c, CLM_CONTRACT, items[BIG - 1].id));
	free_bodies(bodies, BIG);
	free(items);
	free(bodies);
}

/* A store fault at any statement of a bulk: nothing at all, or everything. */
static void
test_many_fault_anywhere(void **state)
{
	struct fx *x = *state;
	struct clm_new items[12];
	json_t *bodies[12];
	struct clm_fail f = { 0 };
	size_t failed, refused = 0, rounds = 0;
	long long h;

	assert_non_null(x->c = open_clm(x->url));
	for (long nth = 1; nth <= 120; nth += 3) {
		cs_err rc;
		h = head(x->c);
		make_items(items, bodies, 12, 0, NULL);
		for (size_t j = 1; j < 12; j++)   /* numbers of their own in each round */
			json_object_set_new(bodies[j], "number", json_sprintf("F%ld-%zu", nth, j));
		store_fault_inject(nth);
		rc = clm_create_many(x->c, items, 12, ACTOR, &failed, &f);
		store_fault_inject(0);
		rounds++;
		if (rc == CS_OK) {
			assert_int_equal(changes_after(x->c, h), 12);
		} else {
			refused++;
			assert_int_equal(changes_after(x->c, h), 0);
			for (size_t j = 0; j < 12; j++)
				assert_false(exists(x->c, items[j].kind, items[j].id));
			assert_true(failed == SIZE_MAX || failed < 12);
		}
		free_bodies(bodies, 12);
	}
	assert_true(refused > 0);
	assert_true(refused < rounds);
}

/* ---- the import ---- */

static void
write_csv(const char *path, int rows)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fprintf(fp, "title,number,counterparty_legal_name,parent_contract_number,total_value_amount,total_value_currency\n");
	for (int i = 1; i <= rows; i++)
		fprintf(fp, "Row %d,IMP-%d,Company %d,%s%s,%d.50,EUR\n", i, i, i % 20, i > 50 && i % 10 == 0 ? "IMP-" : "",
		    i > 50 && i % 10 == 0 ? "1" : "", i);
	fclose(fp);
}

/* Runs `clmsync import contracts DIR/in.csv --data DIR` with a fault at statement nth (0 none);
 * returns its exit code, its stdout in out. */
static int
run_import(struct fx *x, long nth, const char *mode, char *out, size_t cap)
{
	char csv[128];
	char *argv[8];
	int argc = 0, rc, save, fd;
	ssize_t n;

	snprintf(csv, sizeof(csv), "%s/in.csv", x->dir);
	argv[argc++] = "import";
	argv[argc++] = "contracts";
	argv[argc++] = csv;
	argv[argc++] = "--data";
	argv[argc++] = x->dir;
	argv[argc++] = (char *)mode;
	argv[argc] = NULL;
	snprintf(out, cap, "%s/out.txt", x->dir);
	fflush(stdout);
	save = dup(STDOUT_FILENO);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(save >= 0 && fd >= 0);
	dup2(fd, STDOUT_FILENO);
	store_fault_inject(nth);
	rc = cmd_import(argc, argv);
	store_fault_inject(0);
	fflush(stdout);
	dup2(save, STDOUT_FILENO);
	close(save);
	close(fd);
	fd = open(out, O_RDONLY);
	n = read(fd, out, cap - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	return rc;
}

/* --all-or-nothing, with a store fault at statement nth for many nth, from opening the store to
 * the commit: the import succeeds whole, or fails with nothing written at all. */
static void
test_import_fault_all_or_nothing(void **state)
{
	struct fx *x = *state;
	char path[128], out[1024];
	int failed_in_pass2 = 0, whole = 0;

	snprintf(path, sizeof(path), "%s/in.csv", x->dir);
	write_csv(path, 300);
	for (long nth = 1; nth < 6000; nth = nth * 3 / 2 + 7) {
		int rc = run_import(x, nth, "--all-or-nothing", out, sizeof(out));
		struct clm *c = open_clm(x->url);
		size_t ct, cp, ch;

		assert_non_null(c);
		ct = count_of(c, CLM_CONTRACT);
		cp = count_of(c, CLM_COUNTERPARTY);
		ch = changes_after(c, 0);
		if (rc == 0) {
			assert_int_equal(ct, 300);
			assert_int_equal(cp, 20);
			assert_int_equal(ch, 320);
			whole++;
			clm_free(c);
			break;               /* the fault came after the import: later nth are the same */
		}
		if (ct != 0 || cp != 0 || ch != 0)
			fail_msg("nth %ld: %zu contracts, %zu counterparties, %zu change rows after a failed import: %s",
			    nth, ct, cp, ch, out);
		if (strstr(out, "nothing written (--all-or-nothing)") != NULL)
			failed_in_pass2++;
		clm_free(c);
	}
	assert_int_equal(whole, 1);
	assert_true(failed_in_pass2 > 0);
}

/* --skip-bad: a fault refuses the chunk's transaction; its rows are then written one by one, so
 * every row is imported, and the summary counts what the store holds. */
static void
test_import_fault_skip_bad(void **state)
{
	struct fx *x = *state;
	char path[128], out[1024], want[64];
	long nth;

	snprintf(path, sizeof(path), "%s/in.csv", x->dir);
	write_csv(path, 300);
	/* far enough into the writes to land in the chunk's transaction */
	for (nth = 400; nth < 6000; nth += 700) {
		char dbp[200];
		int rc = run_import(x, nth, "--skip-bad", out, sizeof(out));
		struct clm *c = open_clm(x->url);
		size_t ct = count_of(c, CLM_CONTRACT);

		snprintf(want, sizeof(want), "%zu contracts imported", ct);
		if (strstr(out, want) == NULL)
			fail_msg("nth %ld: rc %d, the store holds %zu contracts, the summary says: %s", nth, rc, ct, out);
		if (rc == 0)
			assert_int_equal(ct, 300);
		clm_free(c);
		/* a fresh store for the next round */
		snprintf(dbp, sizeof(dbp), "%s/clmsync.db", x->dir);
		unlink(dbp);
		snprintf(dbp, sizeof(dbp), "%s/clmsync.db-wal", x->dir);
		unlink(dbp);
		snprintf(dbp, sizeof(dbp), "%s/clmsync.db-shm", x->dir);
		unlink(dbp);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_refused_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_chunks_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_fault_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_fault_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_fault_skip_bad, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

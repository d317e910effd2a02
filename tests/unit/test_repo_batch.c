/* test_repo_batch.c - group commit in the repository: concurrent writers sharing transactions,
 * failures mid-batch, injected store faults, the change feed's order, and stopping with writes queued. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clm/clm.h"
#include "clm/clm_int.h"
#include "store/store.h"
#include "util/json.h"

#define NTHREADS 8
#define NITER 120
#define ACTOR "user:batch-test"
#define NO_SUCH_CP "cp_01J9Z3Q4V6X8N2M5K7H1D0F3WS"   /* well formed, never created */

/* cmocka's assertions jump back to the main thread's test: a worker thread records its first
 * failure instead, and the test asserts there was none after joining it. */
#define CHECK(w, cond, ...) do { \
		if (!(cond) && !(w)->err[0]) \
			snprintf((w)->err, sizeof((w)->err), __VA_ARGS__); \
	} while (0)

/* A fresh data directory and repository per test. */
struct fx {
	char dir[64];
	char url[128];
	struct clm *c;
};

static struct clm *
open_clm(const char *url)
{
	struct clm_opts o = { .store_url = url, .pool_size = 8 };
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
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_repo_batch.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->url, sizeof(f->url), "sqlite:%s/clm.db", f->dir);
	if ((f->c = open_clm(f->url)) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[200];

	store_fault_inject(0);
	clm_free(f->c);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s/clm.db%s", f->dir, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

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
	v = json_loads(buf, 0, NULL);
	if (v == NULL)
		abort();                 /* our own literal: a bug in the test, on any thread */
	return v;
}

/* Creates a record and returns its id (caller buffer of CLM_ID_MAX), asserting success. */
static void
must_create(struct clm *c, enum clm_kind k, const char *json, char *id)
{
	struct clm_fail f = { 0 };
	json_t *b = jsonf("%s", json), *out = NULL;

	if (clm_create(c, k, NULL, b, ACTOR, &out, &f) != CS_OK)
		fail_msg("create %s: %d %s %s", json, f.status, f.code, f.msg);
	snprintf(id, CLM_ID_MAX, "%s", cs_json_get_str(out, "id"));
	json_decref(out);
	json_decref(b);
}

/* Every record of kind k: a new array of API records. */
static json_t *
all_of(struct clm *c, enum clm_kind k)
{
	json_t *all = json_array(), *page = NULL;
	char cursor[STORE_CURSOR_MAX] = "";

	for (;;) {
		struct clm_list_q q = { .kind = k, .limit = CLM_LIST_MAX, .cursor = cursor[0] ? cursor : NULL };
		struct clm_fail f = { 0 };
		const json_t *next;

		assert_int_equal(clm_list(c, &q, &page, &f), CS_OK);
		json_array_extend(all, json_object_get(page, "data"));
		next = json_object_get(page, "next_cursor");
		if (!json_is_string(next)) {
			json_decref(page);
			return all;
		}
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		json_decref(page);
	}
}

/* The whole change feed, checked for order: seq strictly up, timestamps never down (the writer
 * hands out its clock in run order, so seq order is commit order). A new array. */
static json_t *
whole_feed(struct clm *c)
{
	json_t *all = json_array(), *page = NULL, *row;
	long long after = 0, last = 0;
	const char *lastts = "";
	size_t i;

	for (;;) {
		struct clm_fail f = { 0 };
		size_t n;

		assert_int_equal(clm_changes(c, after, CLM_CHANGES_MAX, 0, &page, &f), CS_OK);
		n = json_array_size(json_object_get(page, "data"));
		json_array_extend(all, json_object_get(page, "data"));
		after = cs_json_get_int(page, "next_after", 0);
		json_decref(page);
		if (n == 0)
			break;
	}
	json_array_foreach(all, i, row) {
		long long seq = cs_json_get_int(row, "seq", 0);
		const char *ts = cs_json_get_str(row, "ts");
		assert_true(seq > last);
		assert_non_null(ts);
		assert_true(strcmp(ts, lastts) >= 0);   /* ISO text sorts as time */
		last = seq;
		lastts = ts;
	}
	return all;
}

/* Feed rows about id. */
static size_t
rows_for(const json_t *feed, const char *id)
{
	const json_t *row;
	size_t i, n = 0;

	json_array_foreach(feed, i, row) {
		const char *rid = cs_json_get_str(row, "id");
		n += rid != NULL && strcmp(rid, id) == 0;
	}
	return n;
}

/* Index of the record whose field equals value, or -1. */
static long
find(const json_t *arr, const char *field, const char *value)
{
	const json_t *v;
	size_t i;

	json_array_foreach(arr, i, v) {
		const char *s = cs_json_get_str(v, field);
		if (s != NULL && strcmp(s, value) == 0)
			return (long)i;
	}
	return -1;
}

/* ---- many writers, failures mid-batch ---- */

enum { OP_CP, OP_BAD_BODY, OP_BAD_REF, OP_DUP_NUMBER, OP_CONTRACT, OP_HOT_UPDATE, OP_KINDS };

struct worker {
	struct clm *c;
	int t;
	const char *cp, *hot;
	char ok_cp[NITER][CLM_ID_MAX];      /* ids of the successful creates, "" otherwise */
	char ok_ct[NITER][CLM_ID_MAX];
	int hot_ok, hot_412;
	int bad[OP_KINDS];                  /* failures per op kind, each with the expected answer */
	bool faults;                        /* store faults are being injected: any op may fail with 500 */
	int failed500;
	char err[512];
};

static void *
work(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < NITER; i++) {
		struct clm_fail f = { 0 };
		json_t *b = NULL, *out = NULL, *got = NULL;
		int op = w->faults ? (i % 2 ? OP_CONTRACT : OP_CP) : i % OP_KINDS;
		cs_err rc;

		switch (op) {
		case OP_CP:
			b = jsonf("{\"legal_name\":\"ok %d-%d\",\"country\":\"DE\"}", w->t, i);
			rc = clm_create(w->c, CLM_COUNTERPARTY, NULL, b, ACTOR, &out, &f);
			if (rc == CS_OK)
				snprintf(w->ok_cp[i], CLM_ID_MAX, "%s", cs_json_get_str(out, "id"));
			break;
		case OP_BAD_BODY:          /* refused by validation, before the queue */
			b = jsonf("{\"legal_name\":\"bad %d-%d\",\"country\":\"XX\"}", w->t, i);
			rc = clm_create(w->c, CLM_COUNTERPARTY, NULL, b, ACTOR, &out, &f);
			if (rc != CS_OK && f.status == 422 && strcmp(f.code, "invalid_value") == 0)
				w->bad[op]++;
			break;
		case OP_BAD_REF:           /* refused in the writer, after its reads */
			b = jsonf("{\"title\":\"ref %d-%d\",\"counterparty_id\":\"%s\"}", w->t, i, NO_SUCH_CP);
			rc = clm_create(w->c, CLM_CONTRACT, NULL, b, ACTOR, &out, &f);
			if (rc != CS_OK && f.status == 422 && strcmp(f.code, "invalid_reference") == 0)
				w->bad[op]++;
			break;
		case OP_DUP_NUMBER:        /* refused by the store's unique index, in the writer */
			b = jsonf("{\"title\":\"dup %d-%d\",\"number\":\"DUP-1\"}", w->t, i);
			rc = clm_create(w->c, CLM_CONTRACT, NULL, b, ACTOR, &out, &f);
			if (rc != CS_OK && f.status == 409 && strcmp(f.code, "duplicate") == 0)
				w->bad[op]++;
			break;
		case OP_CONTRACT:
			b = jsonf("{\"title\":\"ct %d-%d\",\"counterparty_id\":\"%s\"}", w->t, i, w->cp);
			rc = clm_create(w->c, CLM_CONTRACT, NULL, b, ACTOR, &out, &f);
			if (rc == CS_OK) {
				snprintf(w->ok_ct[i], CLM_ID_MAX, "%s", cs_json_get_str(out, "id"));
				/* acknowledged means visible: a read that follows, on another connection, sees it */
				if (!w->faults) {
					struct clm_fail g = { 0 };
					CHECK(w, clm_get(w->c, CLM_CONTRACT, NULL, w->ok_ct[i], &got, &g) == CS_OK,
					    "read after create: %d %.200s", g.status, g.msg);
					CHECK(w, cs_json_get_int(got, "version", 0) == 1, "read after create: version");
				}
			}
			break;
		default: {                 /* a version race on one record: 200 or 412, nothing else */
			struct clm_fail g = { 0 };
			long long v;
			CHECK(w, clm_get(w->c, CLM_CONTRACT, NULL, w->hot, &got, &g) == CS_OK, "get hot: %.200s", g.msg);
			v = cs_json_get_int(got, "version", 0);
			b = jsonf("{\"payment_terms\":\"net %d-%d\"}", w->t, i);
			rc = clm_update(w->c, CLM_CONTRACT, NULL, w->hot, b, v, ACTOR, &out, &f);
			if (rc == CS_OK) {
				CHECK(w, cs_json_get_int(out, "version", 0) == v + 1, "hot update: version");
				w->hot_ok++;
			} else if (f.status == 412)
				w->hot_412++;
			break;
		}
		}
		if (rc != CS_OK && w->faults && f.status == 500)
			w->failed500++;
		else
			CHECK(w, rc == CS_OK || !(op == OP_CP || op == OP_CONTRACT || w->faults),
			    "op %d failed: %d %s %.200s", op, f.status, f.code, f.msg);
		json_decref(b);
		json_decref(out);
		json_decref(got);
	}
	return NULL;
}

static void
concurrent_mixed(void **state)
{
	struct fx *fx = *state;
	struct worker *w = calloc(NTHREADS, sizeof(*w));
	pthread_t th[NTHREADS];
	char cp[CLM_ID_MAX], hot[CLM_ID_MAX], dup[CLM_ID_MAX];
	json_t *cps, *cts, *feed, *got = NULL;
	struct clm_fail f = { 0 };
	int want_cp = 0, want_ct = 0, hot_ok = 0;

	assert_non_null(w);
	must_create(fx->c, CLM_COUNTERPARTY, "{\"legal_name\":\"Shared\"}", cp);
	must_create(fx->c, CLM_CONTRACT, "{\"title\":\"hot\"}", hot);
	must_create(fx->c, CLM_CONTRACT, "{\"title\":\"numbered\",\"number\":\"DUP-1\"}", dup);
	for (int t = 0; t < NTHREADS; t++) {
		w[t] = (struct worker){ .c = fx->c, .t = t, .cp = cp, .hot = hot };
		assert_int_equal(pthread_create(&th[t], NULL, work, &w[t]), 0);
	}
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		if (w[t].err[0])
			fail_msg("worker %d: %s", t, w[t].err);
	}

	/* each refused op got its own right answer */
	for (int t = 0; t < NTHREADS; t++) {
		int per = 0;
		for (int i = 0; i < NITER; i++)
			per += i % OP_KINDS == OP_BAD_BODY;
		assert_int_equal(w[t].bad[OP_BAD_BODY], per);
		assert_int_equal(w[t].bad[OP_BAD_REF], per);
		assert_int_equal(w[t].bad[OP_DUP_NUMBER], per);
		assert_int_equal(w[t].hot_ok + w[t].hot_412, per);
		hot_ok += w[t].hot_ok;
		want_cp += per;
		want_ct += per;
	}
	assert_true(hot_ok >= 1);

	/* the refused ones left no record: exactly the acknowledged ones exist */
	cps = all_of(fx->c, CLM_COUNTERPARTY);
	cts = all_of(fx->c, CLM_CONTRACT);
	assert_int_equal(json_array_size(cps), 1 + want_cp);
	assert_int_equal(json_array_size(cts), 2 + want_ct);
	assert_true(find(cps, "legal_name", "bad 0-1") < 0);
	assert_true(find(cts, "title", "ref 0-2") < 0);
	assert_true(find(cts, "title", "dup 0-3") < 0);

	/* the feed: one row per acknowledged write, none for a refused one, in commit order */
	feed = whole_feed(fx->c);
	assert_int_equal(json_array_size(feed), 3 + want_cp + want_ct + hot_ok);
	for (int t = 0; t < NTHREADS; t++)
		for (int i = 0; i < NITER; i++) {
			if (w[t].ok_cp[i][0])
				assert_int_equal(rows_for(feed, w[t].ok_cp[i]), 1);
			if (w[t].ok_ct[i][0])
				assert_int_equal(rows_for(feed, w[t].ok_ct[i]), 1);
		}
	assert_int_equal(rows_for(feed, hot), 1 + hot_ok);
	{
		/* the hot record's versions appear in the feed 1, 2, 3, ... in seq order */
		const json_t *row;
		long long want = 1;
		size_t i;
		json_array_foreach(feed, i, row) {
			if (strcmp(cs_json_get_str(row, "id"), hot) == 0)
				assert_int_equal(cs_json_get_int(row, "version", 0), want++);
		}
	}
	/* and its history holds every acknowledged version, no more */
	assert_int_equal(clm_history(fx->c, CLM_CONTRACT, hot, &got, &f), CS_OK);
	assert_int_equal(json_array_size(json_object_get(got, "data")), 1 + hot_ok);
	json_decref(got);
	assert_int_equal(clm_get(fx->c, CLM_CONTRACT, NULL, hot, &got, &f), CS_OK);
	assert_int_equal(cs_json_get_int(got, "version", 0), 1 + hot_ok);
	json_decref(got);
	json_decref(cps);
	json_decref(cts);
	json_decref(feed);
	free(w);
}

/* ---- injected store faults during a burst: a failure anywhere in a write, its savepoint, or
 * the batch's commit leaves nothing of the writes it fails ---- */

static atomic_bool burst_on;

static void *
injector(void *arg)
{
	unsigned seed = 42;

	(void)arg;
	while (atomic_load(&burst_on)) {
		store_fault_inject(1 + (long)(rand_r(&seed) % 12));
		usleep(500);
	}
	store_fault_inject(0);
	return NULL;
}

static void
faults_mid_batch(void **state)
{
	struct fx *fx = *state;
	struct worker *w = calloc(NTHREADS, sizeof(*w));
	pthread_t th[NTHREADS], inj;
	char cp[CLM_ID_MAX];
	json_t *cps, *cts, *feed;
	size_t ok_cp = 0, ok_ct = 0, failed = 0;
	long long maxnum = 0;
	const json_t *v;
	size_t i;

	assert_non_null(w);
	must_create(fx->c, CLM_COUNTERPARTY, "{\"legal_name\":\"Shared\"}", cp);
	atomic_store(&burst_on, true);
	assert_int_equal(pthread_create(&inj, NULL, injector, NULL), 0);
	for (int t = 0; t < NTHREADS; t++) {
		w[t] = (struct worker){ .c = fx->c, .t = t, .cp = cp, .faults = true };
		assert_int_equal(pthread_create(&th[t], NULL, work, &w[t]), 0);
	}
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	atomic_store(&burst_on, false);
	pthread_join(inj, NULL);
	for (int t = 0; t < NTHREADS; t++)
		if (w[t].err[0])
			fail_msg("worker %d: %s", t, w[t].err);

	cps = all_of(fx->c, CLM_COUNTERPARTY);
	cts = all_of(fx->c, CLM_CONTRACT);
	feed = whole_feed(fx->c);
	for (int t = 0; t < NTHREADS; t++) {
		failed += (size_t)w[t].failed500;
		for (int k = 0; k < NITER; k++) {
			char name[64];
			/* acknowledged: present; refused: absent */
			if (k % 2 == 0) {
				snprintf(name, sizeof(name), "ok %d-%d", t, k);
				assert_int_equal(find(cps, "legal_name", name) >= 0, w[t].ok_cp[k][0] != '\0');
				ok_cp += w[t].ok_cp[k][0] != '\0';
			} else {
				snprintf(name, sizeof(name), "ct %d-%d", t, k);
				assert_int_equal(find(cts, "title", name) >= 0, w[t].ok_ct[k][0] != '\0');
				ok_ct += w[t].ok_ct[k][0] != '\0';
			}
		}
	}
	assert_true(failed > 0);         /* the faults did hit */
	assert_true(ok_cp + ok_ct > 0);
	assert_int_equal(json_array_size(cps), 1 + ok_cp);
	assert_int_equal(json_array_size(cts), ok_ct);
	assert_int_equal(json_array_size(feed), 1 + ok_cp + ok_ct);
	/* a refused contract gave its number back with the rest of its savepoint: the numbers of the
	 * acknowledged ones are 1..n without a gap */
	json_array_foreach(cts, i, v) {
		const char *num = cs_json_get_str(v, "number");
		long long n;
		assert_non_null(num);
		n = strtoll(num + strlen(num) - 6, NULL, 10);
		if (n > maxnum)
			maxnum = n;
	}
	assert_int_equal(maxnum, (long long)ok_ct);
	json_decref(cps);
	json_decref(cts);
	json_decref(feed);
	free(w);
}

/* ---- stopping the writer with writes queued: the queued ones run, later ones are refused ---- */

struct stopper {
	struct clm *c;
	int t;
	int ok, refused;
	char ids[NITER][CLM_ID_MAX];
	char names[NITER][48];
	char err[512];
};

static void *
stop_work(void *arg)
{
	struct stopper *s = arg;

	for (int i = 0; i < NITER; i++) {
		struct clm_fail f = { 0 };
		json_t *b = jsonf("{\"legal_name\":\"s %d-%d\"}", s->t, i), *out = NULL;

		snprintf(s->names[i], sizeof(s->names[i]), "s %d-%d", s->t, i);
		if (clm_create(s->c, CLM_COUNTERPARTY, NULL, b, ACTOR, &out, &f) == CS_OK) {
			snprintf(s->ids[i], CLM_ID_MAX, "%s", cs_json_get_str(out, "id"));
			s->ok++;
		} else {
			CHECK(s, f.status == 503 && strcmp(f.code, "shutting_down") == 0, "refused with %d %s %.200s",
			    f.status, f.code, f.msg);
			s->refused++;
		}
		json_decref(out);
		json_decref(b);
	}
	return NULL;
}

static void
stop_drains(void **state)
{
	struct fx *fx = *state;
	struct stopper *s = calloc(NTHREADS, sizeof(*s));
	pthread_t th[NTHREADS];
	struct timespec ts = { 0, 20 * 1000000L };
	json_t *cps, *feed;
	int ok = 0;

	assert_non_null(s);
	for (int t = 0; t < NTHREADS; t++) {
		s[t] = (struct stopper){ .c = fx->c, .t = t };
		assert_int_equal(pthread_create(&th[t], NULL, stop_work, &s[t]), 0);
	}
	nanosleep(&ts, NULL);
	clm_writer_stop(fx->c);          /* returns once every queued write was answered */
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		if (s[t].err[0])
			fail_msg("worker %d: %s", t, s[t].err);
	}
	clm_free(fx->c);
	/* what was acknowledged is there after reopening; what was refused is not */
	assert_non_null(fx->c = open_clm(fx->url));
	cps = all_of(fx->c, CLM_COUNTERPARTY);
	feed = whole_feed(fx->c);
	for (int t = 0; t < NTHREADS; t++) {
		ok += s[t].ok;
		assert_int_equal(s[t].ok + s[t].refused, NITER);
		for (int i = 0; i < NITER; i++)
			assert_int_equal(find(cps, "legal_name", s[t].names[i]) >= 0, s[t].ids[i][0] != '\0');
	}
	assert_int_equal(json_array_size(cps), ok);
	assert_int_equal(json_array_size(feed), ok);
	json_decref(cps);
	json_decref(feed);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(concurrent_mixed, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_mid_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(stop_drains, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

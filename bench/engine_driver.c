/* engine_driver.c - the sync engine bench's client: drives a running clmsync serve and sfemu, times changes from one side's API to the other's. */
/*
 * bench/engine.sh starts sfemu and `clmsync serve --config` and runs this program against them.
 * It talks only to their public APIs (the repository's REST API and change feed, Salesforce REST,
 * sObject Collections and the CDC stream over CometD) plus sfemu's /__emu/counters, and reads
 * /proc/PID of both servers for CPU time and peak memory. It prints "key=value" lines on stdout
 * (the shell turns them into bench/results/engine.md) and its progress on stderr.
 *
 * Every change carries a tag and a sequence number in its value ("L123@<ms>"), so that its
 * arrival on the other side is matched to the moment it was sent:
 *   repository -> Salesforce: PATCH payment_terms; seen as CLM_Payment_Terms__c in a
 *                             ContractChangeEvent on our own CometD subscription;
 *   Salesforce -> repository: update of SpecialTerms; seen as custom.opportunity_stage in a
 *                             change-feed row written by the engine (origin sync:*), read by a
 *                             long poll of GET /api/v1/changes?wait=.
 * A latency runs from just before the write request is sent (so it includes that write's own
 * round trip, which the baseline measures alone) to the moment the driver holds the value.
 */
#include "salesforce/sf.h"
#include "http/client.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECORDS 200000
#define MAX_THREADS 32
#define NTAGS 26                  /* 'A'..'Z' */
#define ARRIVAL_WAIT_S 300        /* the longest wait for a burst to arrive on the other side */

struct opts {
	const char *sf_url, *clm_url, *token, *client_id, *client_secret;
	int records;                  /* contracts made and linked for the run */
	int rate;                     /* changes per second in the latency phases */
	int seconds;                  /* length of each latency phase */
	int burst;                    /* changes in each throughput burst */
	int threads;                  /* repository writers in a burst */
	int sf_threads;               /* Salesforce writers (collections of 200) in a burst */
	int baseline;                 /* sequential round trips per baseline */
	pid_t clm_pid, sf_pid;
	const char *only;             /* run only these phases ("l1,l2,t1,t2"), NULL: all */
};

/* Arrivals per tag: arrival time (monotonic µs, 0 until seen) of each sequence number. */
struct tag {
	int64_t *sent, *arrived;
	size_t n;
	atomic_long seen;
	atomic_llong last_us;
};

static struct opts O;
static struct tag tags[NTAGS];
static pthread_mutex_t tag_mu = PTHREAD_MUTEX_INITIALIZER;
static char **clm_ids;            /* the seeded contracts, repository ids */
static char (*sf_ids)[SF_ID_LEN + 1];
static struct sf_org *org;
static atomic_int stop_watchers;
static atomic_llong feed_after;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_until_us(int64_t t)
{
	int64_t d = t - now_us();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = d / 1000000;
	ts.tv_nsec = (long)(d % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_engine: %s\n", what);
	exit(1);
}

static void
tag_init(char t, size_t n)
{
	struct tag *g = &tags[t - 'A'];

	free(g->sent);
	free(g->arrived);
	g->sent = calloc(n, sizeof(*g->sent));
	g->arrived = calloc(n, sizeof(*g->arrived));
	if (g->sent == NULL || g->arrived == NULL)
		die("out of memory");
	atomic_store(&g->seen, 0);
	atomic_store(&g->last_us, 0);
	pthread_mutex_lock(&tag_mu);
	g->n = n;
	pthread_mutex_unlock(&tag_mu);
}

/* A value "X123..." seen at time t: records the first arrival of tag X, number 123. */
static void
tag_seen(const char *v, int64_t t)
{
	struct tag *g;
	char *end;
	long i;

	if (v == NULL || v[0] < 'A' || v[0] > 'Z')
		return;
	errno = 0;
	i = strtol(v + 1, &end, 10);
	if (errno != 0 || end == v + 1 || i < 0)
		return;
	g = &tags[v[0] - 'A'];
	pthread_mutex_lock(&tag_mu);
	if ((size_t)i < g->n && g->arrived[i] == 0) {
		g->arrived[i] = t;
		atomic_fetch_add(&g->seen, 1);
		atomic_store(&g->last_us, t);
	}
	pthread_mutex_unlock(&tag_mu);
}

/* --- /proc ---------------------------------------------------------------------------------- */

/* CPU time (user + system) of pid in clock ticks; -1 when unreadable. */
static long long
cpu_ticks(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command name, which may hold spaces: state is field 3, utime 14 */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* A "VmHWM:" style line of /proc/PID/status in KiB; -1 when absent. */
static long
status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Waits until both servers have been idle (under 2 % of a core together) for a second: the
 * previous phase's tail (echo events, checkpoints) must not run into the next one. */
static void
wait_quiet(const char *after)
{
	long hz = sysconf(_SC_CLK_TCK);
	int64_t t0 = now_us();
	int calm = 0;
	long long prev = cpu_ticks(O.clm_pid) + cpu_ticks(O.sf_pid);

	while (calm < 4) {
		long long cur;
		sleep_until_us(now_us() + 250000);
		cur = cpu_ticks(O.clm_pid) + cpu_ticks(O.sf_pid);
		/* 2 % of one core over 250 ms is 5 ms of CPU */
		calm = (cur - prev) * 1000 <= hz * 5 ? calm + 1 : 0;
		prev = cur;
		if (now_us() - t0 > 120000000) {
			fprintf(stderr, "bench_engine: the servers did not go quiet after %s\n", after);
			return;
		}
	}
	fprintf(stderr, "  quiet after %s (%.1f s)\n", after, (double)(now_us() - t0) / 1e6);
}

/* --- the repository's API ------------------------------------------------------------------- */

/* One request to the repository; *out (may be NULL) gets the parsed body. Returns the HTTP
 * status, 0 after a network failure. */
static long
repo(struct http_client *c, const char *method, const char *path, const char *body, json_t **out)
{
	char url[1024], auth[512];
	const char *hdr[3] = { auth, "Content-Type: application/json", NULL };
	struct http_request rq = { .method = method, .url = url, .headers = hdr, .body = body,
	                           .body_len = body ? strlen(body) : 0, .timeout_ms = 30000 };
	struct http_response rs;
	struct cs_error e = { 0 };
	long st = 0;

	snprintf(url, sizeof(url), "%s%s", O.clm_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", O.token);
	http_response_init(&rs);
	if (out != NULL)
		*out = NULL;
	if (http_client_do(c, &rq, &rs, &e) == CS_OK) {
		st = rs.status;
		if (out != NULL && rs.body.len > 0)
			*out = json_loadb(rs.body.data, rs.body.len, 0, NULL);
	}
	http_response_cleanup(&rs);
	return st;
}

/* sfemu's counters (not a counted call). */
static json_t *
emu_counters(void)
{
	struct http_client *c;
	char url[1024];
	struct http_request rq = { .method = "GET", .url = url };
	struct http_response rs;
	struct cs_error e = { 0 };
	json_t *j = NULL;

	snprintf(url, sizeof(url), "%s/__emu/counters", O.sf_url);
	if (http_client_new(&c) != CS_OK)
		die("out of memory");
	http_response_init(&rs);
	if (http_client_do(c, &rq, &rs, &e) == CS_OK && rs.status == 200)
		j = json_loadb(rs.body.data, rs.body.len, 0, NULL);
	http_response_cleanup(&rs);
	http_client_free(c);
	if (j == NULL)
		die("cannot read sfemu's counters");
	return j;
}

static long long
counter(const json_t *c, const char *k)
{
	return json_integer_value(json_object_get(c, k));
}

/* --- watchers: the CDC stream and the change feed ------------------------------------------ */

static int
on_event(void *ud, const struct sf_event *ev)
{
	int64_t t = now_us();
	const char *k[] = { "CLM_Payment_Terms__c", "Description" };

	(void)ud;
	for (size_t i = 0; i < 2; i++)
		tag_seen(json_string_value(json_object_get(ev->payload, k[i])), t);
	return 0;
}

static void *
stream_main(void *arg)
{
	struct sf_stream *s = arg;
	struct sf_error se;

	sf_error_clear(&se);
	if (sf_stream_run(s, &stop_watchers, &se) != CS_OK)
		fprintf(stderr, "bench_engine: the CDC stream stopped: %s\n", se.message);
	return NULL;
}

/* Follows the change feed from feed_after with long polls; a row the engine wrote (origin
 * sync:*) carrying custom.opportunity_stage, or an API row carrying owner, is an arrival. */
static void *
feed_main(void *arg)
{
	struct http_client *c = arg;

	while (!atomic_load(&stop_watchers)) {
		char path[128];
		json_t *j = NULL, *row;
		size_t i;
		int64_t t;

		snprintf(path, sizeof(path), "/api/v1/changes?after=%lld&limit=10000&wait=1",
		         (long long)atomic_load(&feed_after));
		if (repo(c, "GET", path, NULL, &j) != 200 || j == NULL) {
			json_decref(j);
			sleep_until_us(now_us() + 100000);
			continue;
		}
		t = now_us();
		json_array_foreach(json_object_get(j, "data"), i, row) {
			const char *origin = json_string_value(json_object_get(row, "origin"));
			json_t *f = json_object_get(row, "fields");
			if (origin != NULL && strncmp(origin, "sync:", 5) == 0)
				tag_seen(json_string_value(json_object_get(json_object_get(json_object_get(f, "custom"), "new"),
				    "opportunity_stage")), t);
			else
				tag_seen(json_string_value(json_object_get(json_object_get(f, "owner"), "new")), t);
		}
		if (json_is_integer(json_object_get(j, "next_after")))
			atomic_store(&feed_after, json_integer_value(json_object_get(j, "next_after")));
		json_decref(j);
	}
	return NULL;
}

/* --- seeding ------------------------------------------------------------------------------- */

struct seeder {
	pthread_t t;
	int k;
	const char *cp;
	atomic_int *next;
	int errors;
};

static void *
seed_main(void *arg)
{
	struct seeder *s = arg;
	struct http_client *c;
	int i;

	if (http_client_new(&c) != CS_OK)
		die("out of memory");
	while ((i = atomic_fetch_add(s->next, 1)) < O.records) {
		char body[256];
		json_t *j = NULL;
		snprintf(body, sizeof(body), "{\"title\":\"Bench %d\",\"type\":\"sow\",\"counterparty_id\":\"%s\"}", i, s->cp);
		/* a busy store (503) or a dropped connection: the same contract again, a few times */
		for (int tries = 0; clm_ids[i] == NULL && tries < 20; tries++) {
			if (repo(c, "POST", "/api/v1/contracts", body, &j) == 201 && json_is_string(json_object_get(j, "id")))
				clm_ids[i] = strdup(json_string_value(json_object_get(j, "id")));
			else {
				s->errors++;
				sleep_until_us(now_us() + 10000);
			}
			json_decref(j);
		}
	}
	http_client_free(c);
	return NULL;
}

struct linkmap {
	json_t *index;                /* clm id -> record number */
	int found;
};

static int
on_linked(void *ud, const json_t *r)
{
	struct linkmap *m = ud;
	const char *cid = json_string_value(json_object_get(r, "CLM_Id__c"));
	const char *sid = json_string_value(json_object_get(r, "Id"));
	json_t *i = cid ? json_object_get(m->index, cid) : NULL;

	if (i != NULL && sid != NULL && sf_ids[json_integer_value(i)][0] == '\0') {
		snprintf(sf_ids[json_integer_value(i)], SF_ID_LEN + 1, "%s", sid);
		m->found++;
	}
	return 0;
}

/* Makes O.records contracts in the repository and waits until the engine has made each in
 * Salesforce: the records every later phase changes. */
static void
seed(struct sf_client *sc)
{
	struct http_client *c;
	struct seeder s[MAX_THREADS];
	atomic_int next = 0;
	json_t *j = NULL;
	struct linkmap m = { json_object(), 0 };
	struct sf_error se;
	int64_t t0, t1, t2;
	int errors = 0;

	if (http_client_new(&c) != CS_OK || m.index == NULL)
		die("out of memory");
	if (repo(c, "POST", "/api/v1/counterparties", "{\"legal_name\":\"Bench Ltd\"}", &j) != 201)
		die("cannot create the counterparty");
	t0 = now_us();
	for (int k = 0; k < O.threads; k++) {
		s[k] = (struct seeder){ .k = k, .cp = json_string_value(json_object_get(j, "id")), .next = &next };
		pthread_create(&s[k].t, NULL, seed_main, &s[k]);
	}
	for (int k = 0; k < O.threads; k++) {
		pthread_join(s[k].t, NULL);
		errors += s[k].errors;
	}
	json_decref(j);
	t1 = now_us();
	for (int i = 0; i < O.records; i++) {
		if (clm_ids[i] == NULL)
			die("a seed create failed");
		json_object_set_new(m.index, clm_ids[i], json_integer(i));
	}
	fprintf(stderr, "  %d contracts created in %.1f s (%d retried)\n", O.records, (double)(t1 - t0) / 1e6, errors);
	/* linked: every contract has its Salesforce record with our id in CLM_Id__c */
	for (;;) {
		sf_error_clear(&se);
		if (sf_query(sc, "SELECT Id, CLM_Id__c FROM Contract WHERE CLM_Id__c != null", 0, 2000, on_linked, &m,
		             NULL, &se) != CS_OK)
			die(se.message);
		if (m.found == O.records)
			break;
		if (now_us() - t1 > (int64_t)ARRIVAL_WAIT_S * 1000000)
			die("the seeded contracts did not all reach Salesforce");
		sleep_until_us(now_us() + 500000);
	}
	t2 = now_us();
	printf("seed_records=%d\nseed_create_s=%.2f\nseed_linked_s=%.2f\n", O.records, (double)(t1 - t0) / 1e6,
	       (double)(t2 - t0) / 1e6);
	json_decref(m.index);
	http_client_free(c);
}

/* --- figures ------------------------------------------------------------------------------- */

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of the sorted d[0..n) µs, in ms; -1 when n is 0. */
static double
pct_ms(const int64_t *d, size_t n, int p)
{
	size_t k = (n * (size_t)p + 99) / 100;

	if (n == 0)
		return -1.0;
	return (double)d[k > 0 ? k - 1 : 0] / 1000.0;
}

/* Prints name_{n,lost,p50,p90,p99,max}_ms of the latencies of tag t (arrived - sent). */
static void
latency_report(const char *name, char t)
{
	struct tag *g = &tags[t - 'A'];
	int64_t *d = calloc(g->n ? g->n : 1, sizeof(*d));
	size_t n = 0, lost = 0;

	if (d == NULL)
		die("out of memory");
	pthread_mutex_lock(&tag_mu);
	for (size_t i = 0; i < g->n; i++) {
		if (g->sent[i] == 0)
			continue;
		if (g->arrived[i] == 0)
			lost++;
		else
			d[n++] = g->arrived[i] - g->sent[i];
	}
	pthread_mutex_unlock(&tag_mu);
	qsort(d, n, sizeof(*d), cmp64);
	printf("%s_n=%zu\n%s_lost=%zu\n%s_p50_ms=%.2f\n%s_p90_ms=%.2f\n%s_p99_ms=%.2f\n%s_max_ms=%.2f\n", name, n, name,
	       lost, name, pct_ms(d, n, 50), name, pct_ms(d, n, 90), name, pct_ms(d, n, 99), name, pct_ms(d, n, 100));
	free(d);
}

/* Waits until tag t has seen want arrivals or the deadline passes; returns the count. */
static long
wait_arrivals(char t, long want, int seconds)
{
	int64_t end = now_us() + (int64_t)seconds * 1000000;

	while (atomic_load(&tags[t - 'A'].seen) < want && now_us() < end)
		sleep_until_us(now_us() + 2000);
	return atomic_load(&tags[t - 'A'].seen);
}

struct cpu {
	long long clm, sf;
	int64_t t;
};

static void
cpu_mark(struct cpu *c)
{
	c->clm = cpu_ticks(O.clm_pid);
	c->sf = cpu_ticks(O.sf_pid);
	c->t = now_us();
}

/* Prints name_cpu_{clm,sf}_pct: the servers' CPU use since c, in percent of one core. */
static void
cpu_report(const char *name, const struct cpu *c)
{
	struct cpu n;
	double hz = (double)sysconf(_SC_CLK_TCK), s;

	cpu_mark(&n);
	s = (double)(n.t - c->t) / 1e6;
	printf("%s_cpu_clm_pct=%.0f\n%s_cpu_sf_pct=%.0f\n", name, 100.0 * (double)(n.clm - c->clm) / hz / s, name,
	       100.0 * (double)(n.sf - c->sf) / hz / s);
}

/* Prints name_cpu_{clm,sf}_ms_per_1000: the servers' CPU time since c per 1,000 changes. Other
 * load on the machine moves it far less than it moves rates and latencies; call it once the
 * servers are quiet again, so that the tail of the work (our own change events coming back)
 * is counted. */
static void
cpu_cost(const char *name, const struct cpu *c, size_t changes)
{
	struct cpu n;
	double hz = (double)sysconf(_SC_CLK_TCK);

	cpu_mark(&n);
	printf("%s_cpu_clm_ms_per_1000=%.0f\n%s_cpu_sf_ms_per_1000=%.0f\n", name,
	       1e6 * (double)(n.clm - c->clm) / hz / (double)changes, name, 1e6 * (double)(n.sf - c->sf) / hz / (double)changes);
}

/* --- baselines ----------------------------------------------------------------------------- */

/* The floor: one write at a time, each waiting for its own arrival before the next. Repository:
 * PATCH of a contract's owner (a field no mapping syncs), seen on the change feed. Salesforce:
 * a REST update of an Opportunity (an object no mapping syncs), seen on the CDC stream. */
static void
baselines(struct sf_client *sc)
{
	struct http_client *c;
	struct sf_error se;
	char opp[SF_ID_LEN + 1];
	int64_t *rtt_r = calloc((size_t)O.baseline, sizeof(int64_t)), *rtt_s = calloc((size_t)O.baseline, sizeof(int64_t));
	json_t *f;

	if (http_client_new(&c) != CS_OK || rtt_r == NULL || rtt_s == NULL)
		die("out of memory");
	f = json_pack("{s:s, s:s, s:s}", "Name", "Bench baseline", "StageName", "Prospecting", "CloseDate", "2030-01-01");
	sf_error_clear(&se);
	if (sf_rest_create(sc, "Opportunity", f, opp, &se) != CS_OK)
		die(se.message);
	json_decref(f);
	tag_init('B', (size_t)O.baseline);
	tag_init('C', (size_t)O.baseline);
	for (int i = 0; i < O.baseline; i++) {
		char body[128], path[128];
		int64_t t0, t1;
		snprintf(path, sizeof(path), "/api/v1/contracts/%s", clm_ids[i % O.records]);
		snprintf(body, sizeof(body), "{\"owner\":\"B%d@%lld\"}", i, (long long)cs_time_now_ms());
		t0 = now_us();
		tags['B' - 'A'].sent[i] = t0;
		if (repo(c, "PATCH", path, body, NULL) != 200)
			die("a baseline repository write failed");
		t1 = now_us();
		rtt_r[i] = t1 - t0;
		wait_arrivals('B', i + 1, 10);

		snprintf(body, sizeof(body), "C%d@%lld", i, (long long)cs_time_now_ms());
		f = json_pack("{s:s}", "Description", body);
		t0 = now_us();
		tags['C' - 'A'].sent[i] = t0;
		sf_error_clear(&se);
		if (sf_rest_update(sc, "Opportunity", opp, f, &se) != CS_OK)
			die(se.message);
		t1 = now_us();
		json_decref(f);
		rtt_s[i] = t1 - t0;
		wait_arrivals('C', i + 1, 10);
	}
	qsort(rtt_r, (size_t)O.baseline, sizeof(int64_t), cmp64);
	qsort(rtt_s, (size_t)O.baseline, sizeof(int64_t), cmp64);
	printf("base_n=%d\n", O.baseline);
	printf("base_repo_rtt_p50_ms=%.2f\nbase_repo_rtt_p99_ms=%.2f\n", pct_ms(rtt_r, (size_t)O.baseline, 50),
	       pct_ms(rtt_r, (size_t)O.baseline, 99));
	printf("base_sf_rtt_p50_ms=%.2f\nbase_sf_rtt_p99_ms=%.2f\n", pct_ms(rtt_s, (size_t)O.baseline, 50),
	       pct_ms(rtt_s, (size_t)O.baseline, 99));
	latency_report("base_repo_feed", 'B');
	latency_report("base_sf_cdc", 'C');
	free(rtt_r);
	free(rtt_s);
	http_client_free(c);
}

/* --- latency at a steady rate -------------------------------------------------------------- */

/* n changes at O.rate per second, one at a time, on contracts i % records. to_sf: repository
 * writes of payment_terms (tag L); else Salesforce updates of SpecialTerms (tag M). */
static void
steady(bool to_sf, struct sf_client *sc)
{
	char t = to_sf ? 'L' : 'M';
	const char *name = to_sf ? "lat_to_sf" : "lat_to_clm";
	size_t n = (size_t)O.rate * (size_t)O.seconds;
	int64_t period = 1000000 / O.rate, t0, late = 0;
	struct http_client *c;
	struct cpu cpu;
	struct sf_error se;

	if (http_client_new(&c) != CS_OK)
		die("out of memory");
	tag_init(t, n);
	cpu_mark(&cpu);
	t0 = now_us() + 10000;
	for (size_t i = 0; i < n; i++) {
		int64_t at = t0 + (int64_t)i * period, s;
		char v[64];
		sleep_until_us(at);
		s = now_us();
		if (s - at > late)
			late = s - at;
		snprintf(v, sizeof(v), "%c%zu@%lld", t, i, (long long)cs_time_now_ms());
		tags[t - 'A'].sent[i] = s;
		if (to_sf) {
			char path[128], body[128];
			snprintf(path, sizeof(path), "/api/v1/contracts/%s", clm_ids[i % (size_t)O.records]);
			snprintf(body, sizeof(body), "{\"payment_terms\":\"%s\"}", v);
			if (repo(c, "PATCH", path, body, NULL) != 200)
				die("a repository write failed");
		} else {
			json_t *f = json_pack("{s:s}", "SpecialTerms", v);
			sf_error_clear(&se);
			if (sf_rest_update(sc, "Contract", sf_ids[i % (size_t)O.records], f, &se) != CS_OK)
				die(se.message);
			json_decref(f);
		}
	}
	printf("%s_rate=%d\n%s_seconds=%.1f\n%s_sender_late_max_ms=%.1f\n", name, O.rate, name,
	       (double)(now_us() - t0) / 1e6, name, (double)late / 1000.0);
	wait_arrivals(t, (long)n, 30);
	cpu_report(name, &cpu);
	latency_report(name, t);
	wait_quiet(name);
	cpu_cost(name, &cpu, n);
	http_client_free(c);
}

/* --- throughput ---------------------------------------------------------------------------- */

struct pusher {
	pthread_t t;
	char tag;
	atomic_int *next;
	struct sf_client *sc;
};

/* Repository writers: PATCH payment_terms of contract i for every i taken from next. */
static void *
push_repo(void *arg)
{
	struct pusher *p = arg;
	struct http_client *c;
	int i;

	if (http_client_new(&c) != CS_OK)
		die("out of memory");
	while ((i = atomic_fetch_add(p->next, 1)) < O.burst) {
		char path[128], body[128];
		long st;
		snprintf(path, sizeof(path), "/api/v1/contracts/%s", clm_ids[i % O.records]);
		snprintf(body, sizeof(body), "{\"payment_terms\":\"%c%d@%lld\"}", p->tag, i, (long long)cs_time_now_ms());
		tags[p->tag - 'A'].sent[i] = now_us();
		while ((st = repo(c, "PATCH", path, body, NULL)) == 503 || st == 0)
			sleep_until_us(now_us() + 1000);    /* store_busy: the quota counts accepted writes */
		if (st != 200)
			die("a repository write failed");
	}
	http_client_free(c);
	return NULL;
}

/* Salesforce writers: sObject Collections updates of SpecialTerms, 200 records a call. */
static void *
push_sf(void *arg)
{
	struct pusher *p = arg;
	struct sf_result res[SF_MAX_BATCH];
	int i;

	while ((i = atomic_fetch_add(p->next, SF_MAX_BATCH)) < O.burst) {
		json_t *recs = json_array();
		struct sf_error se;
		int n = O.burst - i < SF_MAX_BATCH ? O.burst - i : SF_MAX_BATCH;
		int64_t t = now_us();
		for (int k = 0; k < n; k++) {
			char v[64];
			snprintf(v, sizeof(v), "%c%d@%lld", p->tag, i + k, (long long)cs_time_now_ms());
			json_array_append_new(recs, json_pack("{s:{s:s}, s:s, s:s}", "attributes", "type", "Contract", "Id",
			    sf_ids[(i + k) % O.records], "SpecialTerms", v));
			tags[p->tag - 'A'].sent[i + k] = t;
		}
		sf_error_clear(&se);
		if (sf_coll_update(p->sc, recs, false, res, &se) != CS_OK)
			die(se.message);
		for (int k = 0; k < n; k++)
			if (!res[k].success)
				die(res[k].error.message);
		json_decref(recs);
	}
	return NULL;
}

/* O.burst changes pushed as fast as the API takes them, each on its own contract; figures: the
 * push rate, the end-to-end rate (first send to last arrival) and the API calls Salesforce
 * counted per 1,000 records, net of the driver's own calls. */
static void
burst(bool to_sf)
{
	char t = to_sf ? 'T' : 'U';
	const char *name = to_sf ? "tput_to_sf" : "tput_to_clm";
	struct pusher p[MAX_THREADS];
	int np = to_sf ? O.threads : O.sf_threads;
	atomic_int next = 0;
	json_t *c0, *c1;
	struct cpu cpu;
	int64_t t0, t1, t2;
	long seen, left;
	long long calls, own;

	tag_init(t, (size_t)O.burst);
	c0 = emu_counters();
	cpu_mark(&cpu);
	t0 = now_us();
	for (int k = 0; k < np; k++) {
		p[k] = (struct pusher){ .tag = t, .next = &next };
		if (!to_sf && sf_client_new(org, &p[k].sc) != CS_OK)
			die("out of memory");
		pthread_create(&p[k].t, NULL, to_sf ? push_repo : push_sf, &p[k]);
	}
	for (int k = 0; k < np; k++) {
		pthread_join(p[k].t, NULL);
		sf_client_free(p[k].sc);
	}
	t1 = now_us();
	left = O.burst - atomic_load(&tags[t - 'A'].seen);
	seen = wait_arrivals(t, O.burst, ARRIVAL_WAIT_S);
	t2 = atomic_load(&tags[t - 'A'].last_us);
	cpu_report(name, &cpu);
	wait_quiet(name);
	cpu_cost(name, &cpu, (size_t)O.burst);
	c1 = emu_counters();
	calls = counter(c1, "api_used") - counter(c0, "api_used");
	own = to_sf ? 0 : (O.burst + SF_MAX_BATCH - 1) / SF_MAX_BATCH;
	printf("%s_n=%d\n%s_seen=%ld\n%s_push_s=%.2f\n%s_push_per_s=%.0f\n%s_end_s=%.2f\n%s_per_s=%.0f\n", name, O.burst,
	       name, seen, name, (double)(t1 - t0) / 1e6, name, O.burst / ((double)(t1 - t0) / 1e6), name,
	       (double)(t2 - t0) / 1e6, name, seen / ((double)(t2 - t0) / 1e6));
	/* What was still on its way when the writers stopped, and the rate it arrived at: the engine
	 * working through a backlog with the machine to itself (the driver only listens). Too few
	 * left (under a tenth of the burst) to time: "n/a". */
	printf("%s_left_at_push_end=%ld\n", name, left);
	if (left >= O.burst / 10 && t2 > t1)
		printf("%s_after_push_per_s=%.0f\n", name, (double)(seen - (O.burst - left)) / ((double)(t2 - t1) / 1e6));
	else
		printf("%s_after_push_per_s=n/a\n", name);
	printf("%s_api_calls=%lld\n%s_api_calls_per_1000=%.2f\n%s_collections_calls=%lld\n", name, calls - own, name,
	       (double)(calls - own) * 1000.0 / O.burst, name,
	       counter(c1, "composite/sobjects") - counter(c0, "composite/sobjects") - own);
	json_decref(c0);
	json_decref(c1);
}

/* --- main ---------------------------------------------------------------------------------- */

static bool
want(const char *phase)
{
	const char *p = O.only;
	size_t n = strlen(phase);

	if (p == NULL)
		return true;
	while (*p) {
		size_t k = strcspn(p, ",");
		if (k == n && strncmp(p, phase, n) == 0)
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}

static int
intarg(const char *v, int lo, int hi)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi)
		die("a numeric option is out of range");
	return (int)x;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bench_engine --sf URL --clm URL --token TOKEN --clm-pid PID --sf-pid PID\n"
	    "                    [--records N] [--rate N] [--seconds N] [--burst N] [--threads N]\n"
	    "                    [--sf-threads N] [--baseline N] [--only l1,l2,t1,t2]\n"
	    "Runs against a clmsync serve whose configuration maps contracts to sfemu's Contract as\n"
	    "tests/scenario/sync_lib.py's standard mappings do; prints key=value figures.\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sf_org_config cfg;
	struct sf_stream_handlers h = { .event = on_event };
	struct sf_stream *stream;
	struct sf_client *sc;
	struct sf_error se;
	struct http_client *fc;
	pthread_t st, ft;
	json_t *j = NULL;

	O = (struct opts){ .client_id = "clmsync-test-client", .client_secret = "clmsync-test-secret", .records = 20000,
	                   .rate = 200, .seconds = 20, .burst = 20000, .threads = 8, .sf_threads = 2, .baseline = 300 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--sf") == 0) O.sf_url = v;
		else if (strcmp(a, "--clm") == 0) O.clm_url = v;
		else if (strcmp(a, "--token") == 0) O.token = v;
		else if (strcmp(a, "--clm-pid") == 0) O.clm_pid = intarg(v, 1, 1 << 30);
		else if (strcmp(a, "--sf-pid") == 0) O.sf_pid = intarg(v, 1, 1 << 30);
		else if (strcmp(a, "--records") == 0) O.records = intarg(v, 1, MAX_RECORDS);
		else if (strcmp(a, "--rate") == 0) O.rate = intarg(v, 1, 100000);
		else if (strcmp(a, "--seconds") == 0) O.seconds = intarg(v, 1, 3600);
		else if (strcmp(a, "--burst") == 0) O.burst = intarg(v, 1, MAX_RECORDS);
		else if (strcmp(a, "--threads") == 0) O.threads = intarg(v, 1, MAX_THREADS);
		else if (strcmp(a, "--sf-threads") == 0) O.sf_threads = intarg(v, 1, MAX_THREADS);
		else if (strcmp(a, "--baseline") == 0) O.baseline = intarg(v, 2, 100000);
		else if (strcmp(a, "--only") == 0) O.only = v;
		else usage();
	}
	if (O.sf_url == NULL || O.clm_url == NULL || O.token == NULL || O.clm_pid == 0 || O.sf_pid == 0)
		usage();
	if (O.burst > O.records)
		die("--burst must not exceed --records: every change of a burst is on its own contract");
	clm_ids = calloc((size_t)O.records, sizeof(*clm_ids));
	sf_ids = calloc((size_t)O.records, sizeof(*sf_ids));
	if (clm_ids == NULL || sf_ids == NULL)
		die("out of memory");

	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "bench";
	cfg.login_url = cfg.instance_url = O.sf_url;
	cfg.api_version = "62.0";
	cfg.client_name = "bench";
	cfg.auth = SF_AUTH_CLIENT_CREDENTIALS;
	cfg.client_id = O.client_id;
	cfg.client_secret = O.client_secret;
	sf_error_clear(&se);
	if (sf_org_new(&cfg, &org, &se) != CS_OK || sf_client_new(org, &sc) != CS_OK)
		die(se.message[0] ? se.message : "cannot set up the Salesforce client");

	/* the watchers start from now: the feed from its head, the stream with new events only */
	if (http_client_new(&fc) != CS_OK)
		die("out of memory");
	for (;;) {
		char path[96];
		snprintf(path, sizeof(path), "/api/v1/changes?after=%lld&limit=10000", (long long)atomic_load(&feed_after));
		if (repo(fc, "GET", path, NULL, &j) != 200 || j == NULL)
			die("cannot read the change feed");
		if (json_array_size(json_object_get(j, "data")) == 0)
			break;
		atomic_store(&feed_after, json_integer_value(json_object_get(j, "next_after")));
		json_decref(j);
	}
	json_decref(j);
	if (sf_stream_new(org, NULL, &h, &stream) != CS_OK ||
	    sf_stream_subscribe(stream, "/data/ContractChangeEvent", -1) != CS_OK ||
	    sf_stream_subscribe(stream, "/data/OpportunityChangeEvent", -1) != CS_OK)
		die("cannot set up the CDC stream");
	pthread_create(&st, NULL, stream_main, stream);
	pthread_create(&ft, NULL, feed_main, fc);
	for (int64_t t0 = now_us();;) {
		struct sf_stream_stats ss;
		sf_stream_stats(stream, &ss);
		if (ss.connects >= 2)
			break;
		if (now_us() - t0 > 10000000)
			die("the CDC stream did not connect");
		sleep_until_us(now_us() + 10000);
	}

	fprintf(stderr, "bench_engine: seeding %d contracts\n", O.records);
	seed(sc);
	wait_quiet("seeding");
	fprintf(stderr, "bench_engine: baselines\n");
	baselines(sc);
	wait_quiet("baselines");
	if (want("l1")) {
		fprintf(stderr, "bench_engine: latency repository -> Salesforce\n");
		steady(true, sc);
	}
	if (want("l2")) {
		fprintf(stderr, "bench_engine: latency Salesforce -> repository\n");
		steady(false, sc);
	}
	if (want("t1")) {
		fprintf(stderr, "bench_engine: burst repository -> Salesforce\n");
		burst(true);
	}
	if (want("t2")) {
		fprintf(stderr, "bench_engine: burst Salesforce -> repository\n");
		burst(false);
	}
	printf("clm_vmhwm_kib=%ld\nclm_vmrss_kib=%ld\nsf_vmhwm_kib=%ld\nsf_vmrss_kib=%ld\n", status_kib(O.clm_pid, "VmHWM"),
	       status_kib(O.clm_pid, "VmRSS"), status_kib(O.sf_pid, "VmHWM"), status_kib(O.sf_pid, "VmRSS"));
	fflush(stdout);
	atomic_store(&stop_watchers, 1);
	pthread_join(ft, NULL);
	pthread_join(st, NULL);
	sf_stream_free(stream);
	http_client_free(fc);
	sf_client_free(sc);
	sf_org_free(org);
	for (int i = 0; i < O.records; i++)
		free(clm_ids[i]);
	free(clm_ids);
	free(sf_ids);
	for (int i = 0; i < NTAGS; i++) {
		free(tags[i].sent);
		free(tags[i].arrived);
	}
	return 0;
}

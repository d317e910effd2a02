/* test_sf_connector.c - the Salesforce connector against a real sfemu process: OAuth, REST, collections, limits, retries, SOQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "salesforce/sf.h"
#include "sfemu_proc.h"

#define USER "integration@clmsync.test"
#define CLIENT_ID "clmsync-test-client"
#define CLIENT_SECRET "clmsync-test-secret"
#define REFRESH "clmsync-test-refresh-token"

struct fx {
	struct emu_proc emu;
	struct sf_org *org;
	struct sf_client *c;
};

static void
base_config(struct fx *f, struct sf_org_config *c)
{
	memset(c, 0, sizeof(*c));
	c->name = "test";
	c->login_url = f->emu.url;
	c->api_version = "62.0";
	c->client_name = "clmsync";
	c->auth = SF_AUTH_CLIENT_CREDENTIALS;
	c->client_id = CLIENT_ID;
	c->client_secret = CLIENT_SECRET;
	c->retry.base_ms = 5;
	c->retry.cap_ms = 50;
}

static int
open_org(struct fx *f, const struct sf_org_config *c)
{
	struct sf_error e;

	sf_client_free(f->c);
	sf_org_free(f->org);
	f->c = NULL;
	f->org = NULL;
	if (sf_org_new(c, &f->org, &e) != CS_OK || sf_client_new(f->org, &f->c) != CS_OK)
		return -1;
	return 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sf_org_config c;

	if (f == NULL || emu_start(&f->emu, NULL) != 0)
		return -1;
	base_config(f, &c);
	if (open_org(f, &c) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	sf_client_free(f->c);
	sf_org_free(f->org);
	emu_stop(&f->emu);
	free(f);
	return 0;
}

static void
ok(cs_err err, const struct sf_error *e)
{
	if (err != CS_OK)
		fail_msg("%s: %s %s (HTTP %ld)", cs_strerror(err), e->code, e->message, e->http);
}

static long long
count_accounts(struct fx *f)
{
	json_t *rows = NULL;
	struct sf_error e;
	long long n;

	ok(sf_query_array(f->c, "SELECT Id FROM Account", 0, 100000, &rows, &e), &e);
	n = (long long)json_array_size(rows);
	json_decref(rows);
	return n;
}

/* --- OAuth ------------------------------------------------------------------------------- */

static void
test_client_credentials(void **state)
{
	struct fx *f = *state;
	struct sf_error e;
	struct sf_stats st;

	ok(sf_login(f->c, &e), &e);
	assert_int_equal(count_accounts(f), 0);
	sf_org_stats(f->org, &st);
	assert_int_equal(st.logins, 1);
}

static void
test_refresh_token_flow(void **state)
{
	struct fx *f = *state;
	struct sf_org_config c;
	struct sf_error e;

	base_config(f, &c);
	c.auth = SF_AUTH_REFRESH_TOKEN;
	c.refresh_token = REFRESH;
	assert_int_equal(open_org(f, &c), 0);
	assert_int_equal(count_accounts(f), 0);

	/* a wrong refresh token: refused, and the message carries no secret */
	c.refresh_token = "not-the-refresh-token-XYZ123";
	c.client_secret = "wrong-secret-ABC987";
	assert_int_equal(open_org(f, &c), 0);
	assert_int_equal(sf_login(f->c, &e), CS_EAUTH);
	assert_false(e.transient);
	assert_true(e.code[0] != '\0');
	assert_null(strstr(e.message, "not-the-refresh-token-XYZ123"));
	assert_null(strstr(e.message, "wrong-secret-ABC987"));
}

static void
test_bad_client_secret(void **state)
{
	struct fx *f = *state;
	struct sf_org_config c;
	struct sf_error e;

	base_config(f, &c);
	c.client_secret = "definitely-wrong-secret-771";
	assert_int_equal(open_org(f, &c), 0);
	assert_int_equal(sf_rest(f->c, "GET", "/limits", NULL, 0, NULL, NULL, &e), CS_EAUTH);
	assert_null(strstr(e.message, "definitely-wrong-secret-771"));
	assert_null(strstr(e.message, CLIENT_SECRET));
}

static void
test_jwt_flow(void **state)
{
	struct fx *f = *state;
	char dir[] = "/tmp/test_sf_jwt.XXXXXX", priv[128], pub[128];
	const char *args[3];
	EVP_PKEY *k = EVP_RSA_gen(2048);
	struct sf_org_config c;
	struct sf_error e;
	FILE *fp;

	assert_non_null(k);
	assert_non_null(mkdtemp(dir));
	snprintf(priv, sizeof(priv), "%s/key.pem", dir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
	fp = fopen(priv, "w");
	assert_non_null(fp);
	PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	fp = fopen(pub, "w");
	assert_non_null(fp);
	PEM_write_PUBKEY(fp, k);
	fclose(fp);
	EVP_PKEY_free(k);

	/* this test's org checks assertions with the public key */
	sf_client_free(f->c);
	sf_org_free(f->org);
	f->c = NULL;
	f->org = NULL;
	emu_stop(&f->emu);
	args[0] = "--jwt-key";
	args[1] = pub;
	args[2] = NULL;
	assert_int_equal(emu_start(&f->emu, args), 0);
	base_config(f, &c);
	c.auth = SF_AUTH_JWT;
	c.client_secret = NULL;
	c.username = USER;
	c.key_file = priv;
	assert_int_equal(open_org(f, &c), 0);
	ok(sf_login(f->c, &e), &e);
	assert_int_equal(count_accounts(f), 0);

	/* a wrong subject is refused */
	c.username = "nobody@clmsync.test";
	assert_int_equal(open_org(f, &c), 0);
	assert_int_equal(sf_login(f->c, &e), CS_EAUTH);
	assert_null(strstr(e.message, "eyJ"));

	unlink(priv);
	unlink(pub);
	rmdir(dir);
}

static void
test_refresh_after_expiry(void **state)
{
	struct fx *f = *state;
	struct sf_stats st;

	assert_int_equal(count_accounts(f), 0);
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/expire-sessions", "{}", NULL), 200);
	/* the call meets 401 INVALID_SESSION_ID, logs in again and is sent once more */
	assert_int_equal(count_accounts(f), 0);
	sf_org_stats(f->org, &st);
	assert_int_equal(st.logins, 2);
}

struct worker {
	struct sf_org *org;
	int failures;
};

static void *
work(void *ud)
{
	struct worker *w = ud;
	struct sf_client *c;
	struct sf_error e;

	if (sf_client_new(w->org, &c) != CS_OK) {
		w->failures++;
		return NULL;
	}
	for (int i = 0; i < 30; i++) {
		json_t *rows = NULL;
		if (sf_query_array(c, "SELECT Id FROM Account", 0, 10, &rows, &e) != CS_OK)
			w->failures++;
		json_decref(rows);
	}
	sf_client_free(c);
	return NULL;
}

/* One org, one client per thread: a session expiry seen by every thread costs one login. */
static void
test_threads_share_org(void **state)
{
	struct fx *f = *state;
	struct worker w[4];
	pthread_t th[4];
	struct sf_stats st;

	assert_int_equal(count_accounts(f), 0);
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/expire-sessions", "{}", NULL), 200);
	for (int i = 0; i < 4; i++) {
		w[i].org = f->org;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	sf_org_stats(f->org, &st);
	assert_int_equal(st.logins, 2);
	assert_true(st.requests >= 1 + 1 + 120 + 1);
}

static void
test_fixed_token_refused(void **state)
{
	struct fx *f = *state;
	struct sf_org_config c;
	struct sf_error e;

	base_config(f, &c);
	c.auth = SF_AUTH_ACCESS_TOKEN;
	c.access_token = "some-token-that-sfemu-does-not-know";
	c.instance_url = f->emu.url;
	assert_int_equal(open_org(f, &c), 0);
	assert_int_equal(sf_rest(f->c, "GET", "/limits", NULL, 0, NULL, NULL, &e), CS_EAUTH);
	assert_string_equal(e.code, "INVALID_SESSION_ID");
	assert_null(strstr(e.message, "some-token-that-sfemu-does-not-know"));
}

/* --- REST -------------------------------------------------------------------------------- */

static void
test_crud_upsert(void **state)
{
	struct fx *f = *state;
	char id[SF_ID_LEN + 1], id2[SF_ID_LEN + 1], id3[SF_ID_LEN + 1];
	json_t *rec = NULL, *flds;
	struct sf_error e;
	bool created = false;

	flds = json_pack("{s:s}", "Name", "Acme O'Brien \"Ltd\"");
	ok(sf_rest_create(f->c, "Account", flds, id, &e), &e);
	json_decref(flds);
	assert_int_equal(strlen(id), 18);
	assert_int_equal(strncmp(id, "001", 3), 0);

	ok(sf_rest_retrieve(f->c, "Account", id, "Id,Name", &rec, &e), &e);
	assert_string_equal(cs_json_get_str(rec, "Name"), "Acme O'Brien \"Ltd\"");
	json_decref(rec);

	flds = json_pack("{s:s}", "Name", "Acme Two");
	ok(sf_rest_update(f->c, "Account", id, flds, &e), &e);
	json_decref(flds);
	ok(sf_rest_retrieve(f->c, "Account", id, "Name", &rec, &e), &e);
	assert_string_equal(cs_json_get_str(rec, "Name"), "Acme Two");
	json_decref(rec);

	/* upsert by external id: created, then matched, with a value needing URL encoding */
	flds = json_pack("{s:s}", "Name", "Upserted");
	ok(sf_rest_upsert(f->c, "Account", "CLM_Id__c", "clm 42 x&y?z=1#f", flds, id2, &created, &e), &e);
	assert_true(created);
	ok(sf_rest_upsert(f->c, "Account", "CLM_Id__c", "clm 42 x&y?z=1#f", flds, id3, &created, &e), &e);
	assert_false(created);
	assert_string_equal(id2, id3);
	json_decref(flds);
	ok(sf_rest_retrieve(f->c, "Account", id2, "CLM_Id__c", &rec, &e), &e);
	assert_string_equal(cs_json_get_str(rec, "CLM_Id__c"), "clm 42 x&y?z=1#f");
	json_decref(rec);
	/* a '/' cannot travel in a URL path segment: refused, to be sent with sf_coll_upsert */
	assert_int_equal(sf_rest_upsert(f->c, "Account", "CLM_Id__c", "a/b", flds, id3, &created, &e), CS_EINVAL);
	rec = NULL;
	json_decref(rec);

	/* a permanent error: a Contract without its required Account */
	flds = json_pack("{s:s}", "Status", "Draft");
	assert_int_equal(sf_rest_create(f->c, "Contract", flds, id3, &e), CS_EHTTP);
	json_decref(flds);
	assert_string_equal(e.code, "REQUIRED_FIELD_MISSING");
	assert_int_equal(e.http, 400);
	assert_false(e.transient);
	assert_non_null(strstr(e.fields, "AccountId"));

	/* an unknown field */
	flds = json_pack("{s:s}", "Nope__c", "x");
	assert_int_equal(sf_rest_update(f->c, "Account", id, flds, &e), CS_EHTTP);
	json_decref(flds);
	assert_string_equal(e.code, "INVALID_FIELD");
	assert_false(e.transient);

	ok(sf_rest_delete(f->c, "Account", id, &e), &e);
	assert_int_equal(sf_rest_retrieve(f->c, "Account", id, NULL, &rec, &e), CS_ENOTFOUND);
	assert_null(rec);
	assert_int_equal(sf_rest_delete(f->c, "Account", id, &e), CS_ENOTFOUND);
	assert_string_equal(e.code, "ENTITY_IS_DELETED");

	/* names and ids are checked before anything is sent */
	assert_int_equal(sf_rest_retrieve(f->c, "Account/../x", id2, NULL, &rec, &e), CS_EINVAL);
	assert_int_equal(sf_rest_delete(f->c, "Account", "001?x=1", &e), CS_EINVAL);
}

static json_t *
accounts(size_t n, const char *prefix, size_t bad_every)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		char clm[64], name[64];
		json_t *r;

		snprintf(clm, sizeof(clm), "%s-%zu", prefix, i);
		snprintf(name, sizeof(name), "Account %zu", i);
		r = json_pack("{s:{s:s},s:s,s:s}", "attributes", "type", "Account", "CLM_Id__c", clm, "Name", name);
		if (bad_every && i % bad_every == bad_every - 1)
			json_object_set_new(r, "CLM_Status__c", json_string("NotAStatus"));
		json_array_append_new(a, r);
	}
	return a;
}

static void
test_collections_450(void **state)
{
	struct fx *f = *state;
	json_t *recs = accounts(450, "c", 100), *upd, *got = NULL;
	struct sf_result *res = calloc(450, sizeof(*res));
	const char *ids[450];
	struct sf_error e;
	long long calls0 = emu_counter(&f->emu, "composite/sobjects");

	assert_non_null(res);
	ok(sf_coll_upsert(f->c, "Account", "CLM_Id__c", recs, false, res, &e), &e);
	assert_int_equal(emu_counter(&f->emu, "composite/sobjects") - calls0, 3);    /* 200 + 200 + 50 */
	for (size_t i = 0; i < 450; i++) {
		bool bad = i % 100 == 99;

		if (res[i].success == bad)
			fail_msg("record %zu: success %d", i, res[i].success);
		if (bad) {
			assert_string_equal(res[i].error.code, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
			assert_false(res[i].error.transient);
			assert_non_null(strstr(res[i].error.fields, "CLM_Status__c"));
		} else {
			assert_true(res[i].created);
			assert_int_equal(strlen(res[i].id), 18);
		}
	}
	assert_int_equal(count_accounts(f), 446);

	/* the same upsert again matches every good record: nothing duplicated */
	ok(sf_coll_upsert(f->c, "Account", "CLM_Id__c", recs, false, res, &e), &e);
	assert_false(res[0].created);
	assert_true(res[0].success);
	assert_int_equal(count_accounts(f), 446);

	/* update 3 by id, retrieve them in order with a missing one among them */
	upd = json_array();
	for (size_t i = 0; i < 3; i++)
		json_array_append_new(upd, json_pack("{s:{s:s},s:s,s:s}", "attributes", "type", "Account", "Id", res[i].id,
		    "Name", "Renamed"));
	{
		struct sf_result ur[3];
		ok(sf_coll_update(f->c, upd, true, ur, &e), &e);
		for (size_t i = 0; i < 3; i++)
			assert_true(ur[i].success);
	}
	json_decref(upd);
	ids[0] = res[0].id;
	ids[1] = "001000000000000AAA";
	ids[2] = res[2].id;
	ok(sf_coll_retrieve(f->c, "Account", ids, 3, "Id,Name", &got, &e), &e);
	assert_int_equal(json_array_size(got), 3);
	assert_string_equal(cs_json_get_str(json_array_get(got, 0), "Name"), "Renamed");
	assert_true(json_is_null(json_array_get(got, 1)));
	assert_string_equal(cs_json_get_str(json_array_get(got, 2), "Name"), "Renamed");
	json_decref(got);

	/* delete all good ones (chunked), then the results say which were already gone */
	{
		size_t n = 0;
		for (size_t i = 0; i < 450; i++)
			if (i % 100 != 99)
				ids[n++] = res[i].id;
		/* res is overwritten by the delete below: copy ids first */
		char (*copy)[SF_ID_LEN + 1] = calloc(n, sizeof(*copy));
		const char **p = calloc(n + 1, sizeof(*p));
		for (size_t i = 0; i < n; i++) {
			memcpy(copy[i], ids[i], SF_ID_LEN + 1);
			p[i] = copy[i];
		}
		ok(sf_coll_delete(f->c, p, n, false, res, &e), &e);
		for (size_t i = 0; i < n; i++)
			assert_true(res[i].success);
		assert_int_equal(count_accounts(f), 0);
		ok(sf_coll_delete(f->c, p, 2, false, res, &e), &e);
		assert_false(res[0].success);
		assert_string_equal(res[0].error.code, "ENTITY_IS_DELETED");
		free(copy);
		free(p);
	}

	/* allOrNone over more than one call is refused rather than silently weakened */
	assert_int_equal(sf_coll_upsert(f->c, "Account", "CLM_Id__c", recs, true, res, &e), CS_EINVAL);
	json_decref(recs);

	/* allOrNone within one call: one bad record rolls back the others */
	recs = accounts(5, "aon", 5);
	ok(sf_coll_upsert(f->c, "Account", "CLM_Id__c", recs, true, res, &e), &e);
	for (size_t i = 0; i < 4; i++) {
		assert_false(res[i].success);
		assert_true(res[i].error.transient);    /* rolled back: fine on its own */
	}
	assert_false(res[4].success);
	assert_false(res[4].error.transient);
	assert_int_equal(count_accounts(f), 0);
	json_decref(recs);
	free(res);
}

static void
test_composite(void **state)
{
	struct fx *f = *state;
	json_t *sub, *out = NULL;
	struct sf_error e;

	sub = json_pack("[{s:s,s:s,s:s,s:{s:s}},{s:s,s:s,s:s}]",
	    "method", "POST", "url", "/services/data/v62.0/sobjects/Account", "referenceId", "acc", "body", "Name", "Comp",
	    "method", "GET", "url", "/services/data/v62.0/sobjects/Account/@{acc.id}", "referenceId", "get");
	ok(sf_composite(f->c, sub, true, 0, &out, &e), &e);
	assert_int_equal(json_array_size(out), 2);
	assert_int_equal(cs_json_get_int(json_array_get(out, 0), "httpStatusCode", 0), 201);
	assert_int_equal(cs_json_get_int(json_array_get(out, 1), "httpStatusCode", 0), 200);
	json_decref(out);
	json_decref(sub);
}

/* --- limits and retries ------------------------------------------------------------------ */

static void
test_limits(void **state)
{
	struct fx *f = *state;
	const char *args[] = { "--api-daily-limit", "10", NULL };
	struct sf_org_config c;
	struct sf_limits l;
	struct sf_error e;
	cs_err err = CS_OK;
	int i;

	sf_client_free(f->c);
	sf_org_free(f->org);
	f->c = NULL;
	f->org = NULL;
	emu_stop(&f->emu);
	assert_int_equal(emu_start(&f->emu, args), 0);
	base_config(f, &c);
	assert_int_equal(open_org(f, &c), 0);
	sf_org_limits(f->org, &l);
	assert_int_equal(l.used, -1);
	assert_false(sf_org_budget_low(f->org, 50));

	ok(sf_rest(f->c, "GET", "/limits", NULL, 0, NULL, NULL, &e), &e);
	sf_org_limits(f->org, &l);
	assert_int_equal(l.max, 10);
	assert_true(l.used >= 1 && l.used <= 2);
	assert_false(sf_org_budget_low(f->org, 50));
	for (i = 0; i < 20 && err == CS_OK; i++)
		err = sf_rest(f->c, "GET", "/limits", NULL, 0, NULL, NULL, &e);
	/* past the allocation: back-pressure, reported at once, not retried */
	assert_int_equal(err, CS_ELIMIT);
	assert_string_equal(e.code, "REQUEST_LIMIT_EXCEEDED");
	assert_int_equal(e.http, 403);
	assert_true(e.transient);
	assert_true(sf_org_budget_low(f->org, 90));
	sf_org_limits(f->org, &l);
	assert_true(l.used >= 10);
}

static void
test_retries_converge(void **state)
{
	struct fx *f = *state;
	struct sf_org_config c;
	struct sf_stats st;
	struct sf_error e;

	base_config(f, &c);
	c.retry.max_attempts = 30;
	assert_int_equal(open_org(f, &c), 0);
	ok(sf_login(f->c, &e), &e);
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{\"rate_503\":500,\"rate_lock\":200,\"seed\":7}", NULL),
	    200);
	for (int i = 0; i < 40; i++) {
		char clm[32], id[SF_ID_LEN + 1];
		json_t *flds = json_pack("{s:s}", "Name", "Flaky");
		bool created;

		snprintf(clm, sizeof(clm), "r-%d", i);
		ok(sf_rest_upsert(f->c, "Account", "CLM_Id__c", clm, flds, id, &created, &e), &e);
		json_decref(flds);
	}
	{
		json_t *recs = accounts(250, "rc", 0);
		struct sf_result *res = calloc(250, sizeof(*res));
		ok(sf_coll_upsert(f->c, "Account", "CLM_Id__c", recs, false, res, &e), &e);
		/* a 400 UNABLE_TO_LOCK_ROW on the whole call is retried too; per-record ones are reported */
		for (size_t i = 0; i < 250; i++)
			if (!res[i].success)
				assert_true(res[i].error.transient);
		free(res);
		json_decref(recs);
	}
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{}", NULL), 200);
	sf_org_stats(f->org, &st);
	assert_true(st.retries > 0);
	assert_int_equal(count_accounts(f) >= 40, 1);

	/* a non-idempotent create is retried on a 503 (nothing was done) but the records are not
	 * duplicated: every create that reported success exists once */
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{\"rate_503\":500,\"seed\":3}", NULL), 200);
	{
		long long before = count_accounts(f);
		int made = 0;

		/* the fault also hits this query: count with faults off */
		for (int i = 0; i < 20; i++) {
			char id[SF_ID_LEN + 1];
			json_t *flds = json_pack("{s:s}", "Name", "Created");
			if (sf_rest_create(f->c, "Account", flds, id, &e) == CS_OK)
				made++;
			json_decref(flds);
		}
		assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{}", NULL), 200);
		assert_int_equal(made, 20);
		assert_int_equal(count_accounts(f), before + 20);
	}
}

static void
test_retries_bounded(void **state)
{
	struct fx *f = *state;
	struct sf_org_config c;
	struct sf_error e;
	int64_t t0;
	unsigned long long r0;
	struct sf_stats st;

	base_config(f, &c);
	c.retry.max_attempts = 4;
	assert_int_equal(open_org(f, &c), 0);
	ok(sf_login(f->c, &e), &e);
	sf_org_stats(f->org, &st);
	r0 = st.requests;
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{\"rate_503\":1000}", NULL), 200);
	t0 = cs_time_mono_ms();
	assert_int_equal(sf_rest(f->c, "GET", "/limits", NULL, 0, NULL, NULL, &e), CS_EHTTP);
	assert_true(cs_time_mono_ms() - t0 < 10000);   /* bounded attempts, not retried for ever */
	assert_int_equal(e.http, 503);
	assert_true(e.transient);
	sf_org_stats(f->org, &st);
	assert_int_equal(st.requests - r0, 4);

	/* a dropped connection after a create is not retried: it may have been done */
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{\"rate_drop\":1000}", NULL), 200);
	sf_org_stats(f->org, &st);
	r0 = st.requests;
	{
		char id[SF_ID_LEN + 1];
		json_t *flds = json_pack("{s:s}", "Name", "Maybe");
		assert_int_equal(sf_rest_create(f->c, "Account", flds, id, &e), CS_ENET);
		json_decref(flds);
	}
	assert_true(e.transient);
	sf_org_stats(f->org, &st);
	assert_int_equal(st.requests - r0, 1);
	assert_int_equal(emu_call(&f->emu, "POST", "/__emu/faults", "{}", NULL), 200);
}

/* --- SOQL -------------------------------------------------------------------------------- */

static int
count_cb(void *ud, const json_t *rec)
{
	size_t *n = ud;

	if (cs_json_get_str(rec, "Id") == NULL)
		return 1;
	(*n)++;
	return 0;
}

static void
test_query_pages(void **state)
{
	struct fx *f = *state;
	json_t *recs = accounts(450, "q", 0);
	struct sf_result *res = calloc(450, sizeof(*res));
	struct sf_error e;
	long long total = 0, q0;
	size_t n = 0;

	ok(sf_coll_upsert(f->c, "Account", "CLM_Id__c", recs, false, res, &e), &e);
	json_decref(recs);
	free(res);
	q0 = emu_counter(&f->emu, "query");
	ok(sf_query(f->c, "SELECT Id, Name FROM Account ORDER BY Name", 0, 200, count_cb, &n, &total, &e), &e);
	assert_int_equal(n, 450);
	assert_int_equal(total, 450);
	assert_int_equal(emu_counter(&f->emu, "query") - q0, 3);

	/* the callback stops early */
	n = 0;
	ok(sf_query(f->c, "SELECT Name FROM Account", 0, 200, count_cb, &n, NULL, &e), &e);
	assert_int_equal(n, 0);

	/* queryAll sees deleted rows */
	{
		json_t *rows = NULL;
		const char *id;
		ok(sf_query_array(f->c, "SELECT Id FROM Account LIMIT 1", 0, 10, &rows, &e), &e);
		id = cs_json_get_str(json_array_get(rows, 0), "Id");
		ok(sf_rest_delete(f->c, "Account", id, &e), &e);
		json_decref(rows);
		assert_int_equal(count_accounts(f), 449);
		ok(sf_query_array(f->c, "SELECT Id FROM Account WHERE IsDeleted = true", SF_QUERY_ALL, 1000, &rows, &e), &e);
		assert_int_equal(json_array_size(rows), 1);
		json_decref(rows);
		assert_int_equal(sf_query_array(f->c, "SELECT Id FROM Account", 0, 100, &rows, &e), CS_ETOOBIG);
	}

	/* a malformed query is a permanent error with Salesforce's text */
	assert_int_equal(sf_query(f->c, "SELECT FROM", 0, 0, count_cb, &n, NULL, &e), CS_EHTTP);
	assert_string_equal(e.code, "MALFORMED_QUERY");
	assert_false(e.transient);
	assert_int_equal(sf_query(f->c, "SELECT Id FROM Account", 0, 100, count_cb, &n, NULL, &e), CS_EINVAL);
}

/* Hostile values go through the builder and match only themselves. */
static void
test_query_hostile(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {
		"' OR Name LIKE '%", "O'Brien", "back\\slash", "two\nlines", "tab\there", "quote\"d", "%_%", "\\'",
		"Zürich 東京",
	};
	size_t nn = sizeof(names) / sizeof(names[0]);
	struct sf_error e;

	for (size_t i = 0; i < nn; i++) {
		char id[SF_ID_LEN + 1];
		json_t *flds = json_pack("{s:s}", "Name", names[i]);
		ok(sf_rest_create(f->c, "Account", flds, id, &e), &e);
		json_decref(flds);
	}
	for (size_t i = 0; i < nn; i++) {
		struct sf_soql q;
		json_t *rows = NULL;
		const char *t;
		cs_err err;

		sf_soql_init(&q);
		sf_soql_kw(&q, "SELECT Id, Name FROM Account WHERE Name = ");
		sf_soql_str(&q, names[i]);
		t = sf_soql_text(&q, &err);
		assert_non_null(t);
		ok(sf_query_array(f->c, t, 0, 100, &rows, &e), &e);
		if (json_array_size(rows) != 1)
			fail_msg("%s: %zu rows", t, json_array_size(rows));
		assert_string_equal(cs_json_get_str(json_array_get(rows, 0), "Name"), names[i]);
		json_decref(rows);
		sf_soql_cleanup(&q);

		/* LIKE with the value escaped matches it literally too */
		sf_soql_init(&q);
		sf_soql_kw(&q, "SELECT Id, Name FROM Account WHERE Name LIKE ");
		sf_soql_like(&q, names[i], false, false);
		t = sf_soql_text(&q, &err);
		assert_non_null(t);
		ok(sf_query_array(f->c, t, 0, 100, &rows, &e), &e);
		if (json_array_size(rows) != 1)
			fail_msg("%s: %zu rows", t, json_array_size(rows));
		json_decref(rows);
		sf_soql_cleanup(&q);
	}
}

static void
test_describe(void **state)
{
	struct fx *f = *state;
	struct sf_describe *d = NULL;
	const struct sf_field *x;
	struct sf_error e;

	ok(sf_describe(f->c, "Contract", &d, &e), &e);
	assert_string_equal(d->name, "Contract");
	x = sf_describe_field(d, "Status");
	assert_non_null(x);
	assert_true(x->restricted_picklist);
	assert_true(x->npicklist >= 3);
	x = sf_describe_field(d, "CLM_Id__c");
	assert_true(x->external_id);
	x = sf_describe_field(d, "AccountId");
	assert_string_equal(x->reference_to[0], "Account");
	x = sf_describe_field(d, "EndDate");
	assert_false(x->updateable);
	sf_describe_free(d);
	assert_int_equal(sf_describe(f->c, "NoSuchThing__c", &d, &e), CS_ENOTFOUND);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_client_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_token_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_client_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwt_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_after_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_share_org, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixed_token_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crud_upsert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collections_450, setup, teardown),
		cmocka_unit_test_setup_teardown(test_composite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries_converge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH_TO_SFEMU\n", argv[0]);
		return 2;
	}
	emu_bin = argv[1];
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fuzz_sf_client.c - libFuzzer target for the Salesforce connector reading Salesforce's answers:
 * OAuth token responses and refusals, REST records and upsert/create results, query pages with
 * nextRecordsUrl, sObject Collections results, Composite responses, describe results, Bulk API
 * 2.0 job states, result files and query pages with their Sforce-Locator headers, and the
 * Sforce-Limit-Info header of every answer.
 *
 * The connector is driven through its public calls (sf.h) and its real HTTP client against
 * scripted answers (scripted_curl.h: libcurl's easy interface replaced, no network). Input: one
 * byte choosing the call and the way the org logs in, one byte of call parameters, then the
 * script of answers. FUZZ_TRACE in the environment shows each request, its answer and the
 * connector's log on stderr (to write seeds that reach far).
 *
 * Checked: no crash, leak or read past an answer; every error is well-formed (message, code and
 * fields NUL-terminated, a message present) and never names the org's secrets or an access token
 * it was given, even when an answer echoes them; per-record results have a valid id or an error;
 * and no answer steers a request off the org's hosts (scripted_curl.h checks every URL). */
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "salesforce/sf.h"
#include "salesforce/sf_int.h"
#include "util/json.h"
#include "util/log.h"

#include "scripted_curl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (256u << 10)
#define LOGIN_URL "https://login.example.invalid"
#define INSTANCE_URL "https://na1.example.invalid"
#define CLIENT_SECRET "cs-Sekr1t-7d0e"
#define REFRESH_TOKEN "rt-Sekr1t-91aa"
#define ACCESS_TOKEN "00Dfuzz!AQ-Sekr1t-4b1c"

/* --- checks ---------------------------------------------------------------------------------- */

static const char *secrets[3];      /* the org's: client secret, refresh or access token */

static void
check_str(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		abort();
}

static void
check_error(const struct sf_error *e, cs_err rc)
{
	check_str(e->code, sizeof(e->code));
	check_str(e->message, sizeof(e->message));
	check_str(e->fields, sizeof(e->fields));
	if (rc != CS_OK && (e->err != rc || e->message[0] == '\0'))
		abort();
	/* the org's secrets never reach a message (the token request carries them) */
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (secrets[i] != NULL && strstr(e->message, secrets[i])) {
			fprintf(stderr, "secret in an error message: %s\n", e->message);
			abort();
		}
	if (script_has_token(e->message)) {
		fprintf(stderr, "access token in an error message: %s\n", e->message);
		abort();
	}
}

static bool
id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n != 0 && n != 15 && n != 18)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')))
			return false;
	return true;
}

static void
check_results(const struct sf_result *res, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		check_str(res[i].id, sizeof(res[i].id));
		if (!id_ok(res[i].id))
			abort();
		if (!res[i].success)
			check_error(&res[i].error, res[i].error.err);
	}
}

/* --- the calls ------------------------------------------------------------------------------- */

enum call {
	C_LOGIN, C_QUERY, C_QUERY_ARRAY, C_RETRIEVE, C_CREATE, C_UPSERT, C_UPDATE, C_DELETE, C_COLL_CREATE,
	C_COLL_UPSERT, C_COLL_DELETE, C_COLL_RETRIEVE, C_COMPOSITE, C_DESCRIBE, C_BULK_INGEST, C_BULK_QUERY,
	C_BULK_JOB, C_REST, C_COUNT
};

static const char *const ids[] = { "001000000000001AAA", "001000000000002AAA", "001000000000003", "001000000000004AAA",
	"001000000000005AAA", "001000000000006AAA", "001000000000007AAA", "001000000000008AAA" };
#define NIDS (sizeof(ids) / sizeof(ids[0]))

static int
record_cb(void *ud, const json_t *rec)
{
	long long *n = ud;

	if (rec == NULL)
		abort();
	return ++*n >= 1000;
}

/* n records to write; with_id: each carries its Id (update, delete) */
static json_t *
records(size_t n, bool with_id)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *r = json_pack("{s:{s:s},s:s,s:s,s:i,s:n}", "attributes", "type", "Account", "Name",
		    i % 2 ? "Acme, \"Inc\"" : "Globex\nCorp", "CLM_Id__c", i % 3 ? "ct-1" : "ct-2",
		    "NumberOfEmployees", (int)i, "Description");
		if (with_id)
			json_object_set_new(r, "Id", json_string(ids[i]));
		json_array_append_new(a, r);
	}
	return a;
}

static void
run(enum call call, unsigned par, struct sf_client *c)
{
	struct sf_result res[NIDS];
	struct sf_error e;
	char id[SF_ID_LEN + 1];
	json_t *out = NULL, *in;
	long long n = 0, total = 0;
	size_t k = 1 + par % NIDS;
	bool created = false, aon = par & 0x80;
	cs_err rc;

	memset(res, 0, sizeof(res));
	switch (call) {
	case C_LOGIN:
		rc = sf_login(c, &e);
		break;
	case C_QUERY:
		rc = sf_query(c, "SELECT Id, Name FROM Account", par & 1 ? SF_QUERY_ALL : 0, par & 2 ? 200 : 0, record_cb,
		    &n, &total, &e);
		break;
	case C_QUERY_ARRAY:
		rc = sf_query_array(c, "SELECT Id FROM Contract WHERE Status = 'Activated'", 0, k, &out, &e);
		if (rc == CS_OK && json_array_size(out) > k)
			abort();
		break;
	case C_RETRIEVE:
		rc = sf_rest_retrieve(c, "Account", ids[0], par & 1 ? "Id,Name" : NULL, &out, &e);
		break;
	case C_CREATE:
		in = json_pack("{s:s}", "Name", "Acme");
		memset(id, 'x', sizeof(id));
		rc = sf_rest_create(c, "Account", in, id, &e);
		json_decref(in);
		if (rc == CS_OK && (id[0] == '\0' || !id_ok(id)))
			abort();
		break;
	case C_UPSERT:
		in = json_pack("{s:s}", "Name", "Acme");
		memset(id, 'x', sizeof(id));    /* an id left unset is read past its end: caught */
		rc = sf_rest_upsert(c, "Account", "CLM_Id__c", par & 1 ? "cp_01J9Z3Q4V6X8N2M5K7H1D0F3WS" : "a b", in, id,
		    &created, &e);
		json_decref(in);
		if (rc == CS_OK && !id_ok(id))
			abort();
		break;
	case C_UPDATE:
		in = json_pack("{s:s}", "Name", "Acme");
		rc = sf_rest_update(c, "Account", ids[par % NIDS], in, &e);
		json_decref(in);
		break;
	case C_DELETE:
		rc = sf_rest_delete(c, "Account", ids[par % NIDS], &e);
		break;
	case C_COLL_CREATE:
		in = records(k, par & 1);
		rc = par & 1 ? sf_coll_update(c, in, aon, res, &e) : sf_coll_create(c, in, aon, res, &e);
		json_decref(in);
		check_results(res, k);
		break;
	case C_COLL_UPSERT:
		in = records(k, false);
		rc = sf_coll_upsert(c, "Account", "CLM_Id__c", in, aon, res, &e);
		json_decref(in);
		check_results(res, k);
		break;
	case C_COLL_DELETE:
		rc = sf_coll_delete(c, ids, k, aon, res, &e);
		check_results(res, k);
		break;
	case C_COLL_RETRIEVE:
		rc = sf_coll_retrieve(c, "Account", ids, k, "Id,Name", &out, &e);
		if (rc == CS_OK && json_array_size(out) != k)
			abort();
		break;
	case C_COMPOSITE:
		in = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s,s:{s:s}}]", "method", "GET", "url",
		    "/services/data/v62.0/sobjects/Account/001000000000001AAA", "referenceId", "r1", "method", "PATCH", "url",
		    "/services/data/v62.0/sobjects/Account/001000000000002AAA", "referenceId", "r2", "body", "Name", "x");
		rc = sf_composite(c, in, aon, par & 1 ? SF_IDEMPOTENT : 0, &out, &e);
		if (rc == CS_OK && json_array_size(out) != 2)
			abort();
		json_decref(in);
		break;
	case C_DESCRIBE: {
		struct sf_describe *d = NULL;
		rc = sf_describe(c, par & 1 ? "Contract" : "Account", &d, &e);
		if ((rc == CS_OK) != (d != NULL))
			abort();
		sf_describe_free(d);
		break;
	}
	case C_BULK_INGEST: {
		/* par: the record count (low 3 bits), the operation, records per job (high 2 bits) */
		struct sf_bulk_opts o = { .poll_min_ms = 1, .poll_max_ms = 1, .job_timeout_ms = 2000,
			.max_job_records = (par >> 6) ? (par >> 6) : 0, .stop = &script.stop };
		struct sf_bulk_summary sum;
		enum sf_bulk_op op = (enum sf_bulk_op)((par >> 3) % 5);
		in = records(k, op == SF_BULK_UPDATE || op == SF_BULK_DELETE || op == SF_BULK_HARD_DELETE);
		rc = sf_bulk_ingest(c, op, "Account", op == SF_BULK_UPSERT ? "CLM_Id__c" : NULL, in, &o, res, &sum, &e);
		json_decref(in);
		check_results(res, k);
		if (sum.processed < 0 || sum.failed < 0 || sum.unprocessed < 0)
			abort();
		check_str(sum.job_id, sizeof(sum.job_id));
		break;
	}
	case C_BULK_QUERY: {
		struct sf_bulk_opts o = { .poll_min_ms = 1, .poll_max_ms = 1, .job_timeout_ms = 2000,
			.max_records = 1 + par % 3, .stop = &script.stop };
		rc = sf_bulk_query(c, "SELECT Id, Name, Account.Name FROM Contact", par & 0x40 ? SF_QUERY_ALL : 0, NULL, &o,
		    record_cb, &n, &total, &e);
		break;
	}
	case C_BULK_JOB:
		if (par & 1)
			rc = sf_bulk_abort(c, par & 2, "750000000000001AAA", &e);
		else
			rc = sf_bulk_job(c, par & 2, "750000000000001AAA", &out, &e);
		break;
	case C_REST:
	default: {
		long status = 0;
		rc = sf_rest(c, par & 1 ? "HEAD" : "GET", par & 2 ? "/services/data/v62.0/limits" : "/sobjects", NULL, 0,
		    &status, &out, &e);
		break;
	}
	}
	check_error(&e, rc);
	if (script.trace)
		fprintf(stderr, "fuzz_sf_client: call %d: %s %s\n", (int)call, cs_strerror(rc), e.message);
	json_decref(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct sf_org_config cfg;
	struct sf_org *org = NULL;
	struct sf_client *c = NULL;
	struct sf_error e;
	enum call call;

	if (size < 2 || size > FUZZ_MAX_INPUT)
		return 0;
	if (!quiet) {
		cs_log_setup(getenv("FUZZ_TRACE") ? CS_LOG_DEBUG : CS_LOG_ERROR, 0);
		quiet = true;
	}
	/* first byte: the call (low bits) and how the org logs in (high bits) */
	call = (enum call)((data[0] & 0x1f) % C_COUNT);
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "fuzz";
	cfg.login_url = LOGIN_URL;
	cfg.instance_url = INSTANCE_URL;
	cfg.api_version = "62.0";
	cfg.client_name = "clmsync";
	cfg.client_id = "3MVG9fuzz";
	cfg.retry.max_attempts = 3;
	cfg.retry.base_ms = 1;
	cfg.retry.cap_ms = 1;
	cfg.max_response = 1u << 20;
	switch (data[0] >> 5) {
	case 0:
	case 1:
		cfg.auth = SF_AUTH_ACCESS_TOKEN;
		cfg.access_token = ACCESS_TOKEN;
		break;
	case 2:
	case 3:
	case 4:
		cfg.auth = SF_AUTH_CLIENT_CREDENTIALS;
		cfg.client_secret = CLIENT_SECRET;
		break;
	default:
		cfg.auth = SF_AUTH_REFRESH_TOKEN;
		cfg.refresh_token = REFRESH_TOKEN;
		cfg.client_secret = (data[0] & 0x20) ? CLIENT_SECRET : NULL;
		break;
	}
	if (call == C_LOGIN && cfg.auth == SF_AUTH_ACCESS_TOKEN) {
		cfg.auth = SF_AUTH_CLIENT_CREDENTIALS;
		cfg.client_secret = CLIENT_SECRET;
	}
	secrets[0] = cfg.client_secret;
	secrets[1] = cfg.refresh_token;
	secrets[2] = cfg.access_token;
	script_load((const char *)data + 2, size - 2);
	script_allow(LOGIN_URL, strlen(LOGIN_URL));
	script_allow(INSTANCE_URL, strlen(INSTANCE_URL));
	if (sf_org_new(&cfg, &org, &e) != CS_OK || sf_client_new(org, &c) != CS_OK)
		abort();
	run(call, data[1], c);
	if (script.trace)
		fprintf(stderr, "fuzz_sf_client: %zu of %zu answers used\n", script.next, script.n);
	sf_client_free(c);
	sf_org_free(org);
	return 0;
}

/* fuzz_admin_api.c - libFuzzer target for the admin listener as a client reaches it: request
 * targets and query strings (the audit log's filters, times, after and limit; the DLQ's after and
 * limit; link lookups by either id; lineage paths; conflict ids that hold '/'), headers
 * (Authorization, If-None-Match of the dashboard's files) and request bodies (DLQ replay and
 * discard, conflict resolution, audit verification), through the admin listener's routing and
 * handlers (src/admin/admin.c, handed each request whole: admin_dispatch, http_fixture.h),
 * without a sync engine (as `serve --no-sync` runs it), on a store holding a few records, a
 * link, audit rows and a paused mapping (repo_fixture.h).
 *
 * The first byte picks the method (GET, HEAD or POST) and the token the request carries by
 * default; the rest is the request (http_fixture.h). The two calls that change what the store
 * holds whatever they are sent, pausing or resuming a mapping and requesting a reconcile, are
 * left out (the input does nothing), so that every run is deterministic; the other POSTs find no
 * DLQ entry or conflict to act on. FUZZ_TRACE in the environment prints each answer's status and
 * the start of its body.
 *
 * Checked: the server answers every request, never with a 500 (nor a 503 but from /readyz);
 * every JSON answer parses, and an error names a code and a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "config/config.h"
#include "store/store.h"
#include "sync/audit.h"
#include "sync/sync.h"
#include "sync/sync_int.h"
#include "util/log.h"

#include "http_fixture.h"
#include "repo_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64u << 10)
#define SF_CT "800000000000001AAA"

static const char config_yaml[] =
	"orgs:\n"
	"  - name: main\n"
	"    login_url: https://login.salesforce.com\n"
	"    auth: {type: client_credentials, client_id: cid, client_secret_env: S}\n"
	"custom_attributes:\n"
	"  contract:\n"
	"    - {name: region, type: text}\n"
	"mappings:\n"
	"  - name: contracts\n"
	"    org: main\n"
	"    entity: contract\n"
	"    sobject: Contract\n"
	"    external_id_field: CLM_Id__c\n"
	"    fields:\n"
	"      - {clm: title, sf: Name, owner: clm}\n"
	"      - {clm: term_months, sf: ContractTerm, owner: both, conflict: clm_wins}\n"
	"      - {clm: custom.region, sf: Region__c, owner: salesforce}\n"
	"  - name: accounts\n"
	"    org: main\n"
	"    entity: counterparty\n"
	"    sobject: Account\n"
	"    external_id_field: CLM_Id__c\n"
	"    fields:\n"
	"      - {clm: legal_name, sf: Name, owner: both, conflict: last_writer_wins}\n";

static const char *const methods[] = { "GET", "GET", "GET", "HEAD", "POST", "POST" };
static const char *const tokens[] = { FIX_TOKEN_ADMIN, FIX_TOKEN_WRITE, NULL, FIX_TOKEN_ADMIN };

static struct cs_config *cfg;
static struct admin *adm;

/* The engine's rows the admin reads: a link of the active contract with the shadow of its
 * Salesforce record, audit rows about it, and a paused mapping. */
static void
seed_engine_rows(void)
{
	const struct cs_mapping *m = cs_config_mapping(cfg, "contracts"), *acc = cs_config_mapping(cfg, "accounts");
	struct sync_audit_row r = { .org = "main", .mapping = "contracts", .entity = "contract", .clm_id = FIX_CT,
		.sf_id = SF_CT, .side = "salesforce", .decision = "created", .event = "feed:4", .detail = "created" };
	json_t *link = sync_link_new(SF_CT), *oldv = json_string("Old"), *newv = json_string("Master Services Agreement");
	struct store *s = NULL;
	struct cs_error e;

	if (m == NULL || acc == NULL || link == NULL || store_open(fix.url, &s, &e) != CS_OK)
		fix_die("engine rows", "cannot open the store");
	json_object_set_new(json_object_get(link, "base"), "Name", json_string("Master Services Agreement"));
	json_object_set_new(json_object_get(link, "base"), "ContractTerm", json_integer(12));
	if (store_begin(s, &e) != CS_OK || sync_link_put(s, m, FIX_CT, link, &e) != CS_OK ||
	    sync_audit_append(s, &r, NULL, &e) != CS_OK)
		fix_die("engine rows", e.msg);
	r.decision = "applied";
	r.field = "title";
	r.old_value = oldv;
	r.new_value = newv;
	r.event = "cdc:/data/ContractChangeEvent:101";
	r.detail = NULL;
	if (sync_audit_append(s, &r, NULL, &e) != CS_OK)
		fix_die("engine rows", e.msg);
	r.decision = "conflict";
	r.field = "term_months";
	if (sync_audit_append(s, &r, NULL, &e) != CS_OK || store_commit(s, &e) != CS_OK)
		fix_die("engine rows", e.msg);
	if (sync_pause(s, acc, "fixture", "a paused mapping for the status page", &e) != CS_OK)
		fix_die("pause", e.msg);
	store_close(s);
	json_decref(link);
	json_decref(oldv);
	json_decref(newv);
}

static void
answer(void *srv, const struct http_local_req *lr, struct http_resp *rs)
{
	admin_dispatch(srv, lr, rs);
}

static void
start(void)
{
	struct cs_error_list errs;
	struct admin_opts o;
	struct cs_error e;

	cs_log_setup(getenv("FUZZ_TRACE") ? CS_LOG_DEBUG : CS_LOG_ERROR, 0);
	cs_error_list_init(&errs);
	if (cs_config_load_buffer("admin.yaml", config_yaml, strlen(config_yaml), CS_CONFIG_NO_SECRETS, &cfg, &errs) !=
	    CS_OK) {
		cs_error_list_print(&errs, stderr);
		abort();
	}
	cs_error_list_cleanup(&errs);
	fix_repository();
	seed_engine_rows();
	memset(&o, 0, sizeof(o));
	o.cfg = cfg;
	o.clm = fix.clm;
	o.auth = fix.auth;
	o.eng = NULL;
	o.store_url = fix.url;
	o.host = "127.0.0.1";
	o.port = 0;
	if (admin_start(&o, &adm, &e) != CS_OK)
		fix_die("admin_start", e.msg);
	cli.dispatch = answer;
	cli.srv = adm;
}

/* The calls whose writes would change the store for the inputs after: a path (before any '?')
 * naming them, or spelling anything with escapes, which the server decodes before routing. */
static bool
changes_state(const char *p, size_t len)
{
	const char *nl = memchr(p, '\n', len), *q;
	size_t n = nl ? (size_t)(nl - p) : len;

	if ((q = memchr(p, '?', n)) != NULL)
		n = (size_t)(q - p);
	return memmem(p, n, "mappings", 8) != NULL || memmem(p, n, "reconcile", 9) != NULL || memchr(p, '%', n) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *method, *ctype, *target = (const char *)data + 1;
	struct fix_answer a;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (adm == NULL)
		start();
	method = methods[data[0] % 6];
	if (strcmp(method, "POST") == 0 && changes_state(target, size - 1))
		return 0;
	memset(&a, 0, sizeof(a));
	cs_buf_init(&a.raw, FIX_RESPONSE_MAX + 65536);
	if (!fix_request(method, "", target, size - 1, tokens[(data[0] / 6) % 4], &a)) {
		fprintf(stderr, "fuzz_admin_api: no answer to %s\n", method);
		abort();
	}
	if (getenv("FUZZ_TRACE") != NULL)
		fprintf(stderr, "fuzz_admin_api: %s -> %d %.160s\n", method, a.status, a.body);
	if (a.status < 100 || a.status > 599 || a.status == 500 ||
	    (a.status == 503 && memmem(target, size - 1, "readyz", 6) == NULL)) {
		fprintf(stderr, "fuzz_admin_api: %s answered %d: %.300s\n", method, a.status, a.body);
		abort();
	}
	ctype = fix_header(a.raw.data, a.hlen, "Content-Type");
	if (ctype != NULL && strncasecmp(ctype, "application/json", 16) == 0)
		fix_check_json(&a, "fuzz_admin_api");
	cs_buf_cleanup(&a.raw);
	return 0;
}

/* repo_fixture.h - what the fuzz targets that need a repository share: one in a temporary
 * directory holding a few records with fixed ids (the custom attributes of fuzz_repo_json), and
 * API tokens of each role. The directory is removed when the program exits (left behind only by
 * a crash). Include it in one file of a program. */
#ifndef FUZZ_REPO_FIXTURE_H
#define FUZZ_REPO_FIXTURE_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clm/clm.h"

#define FIX_TOKEN_READ "clm_fuzz_read_0123456789abcdef"
#define FIX_TOKEN_WRITE "clm_fuzz_write_0123456789abcdef"
#define FIX_TOKEN_ADMIN "clm_fuzz_admin_0123456789abcdef"
#define FIX_CP "cp_01J9Z3Q4V6X8N2M5K7H1D0F3WS"
#define FIX_CT "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WS"
#define FIX_CT2 "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WT"
#define FIX_AM "am_01J9Z3Q4V6X8N2M5K7H1D0F3WS"
#define FIX_OB "ob_01J9Z3Q4V6X8N2M5K7H1D0F3WS"
#define FIX_MISSING "ct_00000000000000000000000000"  /* a well-formed id no record has */

static struct {
	char dir[256], url[300];
	struct clm *clm;
	struct clm_schema *schema;
	struct clm_auth *auth;
} fix;

static void
fix_remove(void)
{
	static const char *const names[] = { "clm.db", "clm.db-wal", "clm.db-shm" };
	char p[300];

	if (fix.dir[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fix.dir, names[i]);
		unlink(p);
	}
	rmdir(fix.dir);
}

static void
fix_die(const char *what, const char *why)
{
	fprintf(stderr, "http_fixture: %s: %s\n", what, why);
	abort();
}

/* The custom attributes of fuzz_repo_json, so that bodies reach their checks. */
static struct clm_schema *
fix_schema(void)
{
	static const char *const tiers[] = { "gold", "silver", "bronze" };
	static const struct clm_attr ct[] = {
		{ "region", CLM_ATTR_TEXT, NULL, 0, false, 20 },
		{ "tier", CLM_ATTR_PICKLIST, tiers, 3, false, 0 },
		{ "discount", CLM_ATTR_DECIMAL, NULL, 0, false, 0 },
		{ "seats", CLM_ATTR_NUMBER, NULL, 0, false, 0 },
		{ "review_on", CLM_ATTR_DATE, NULL, 0, false, 0 },
		{ "sent_at", CLM_ATTR_DATETIME, NULL, 0, false, 0 },
		{ "strategic", CLM_ATTR_BOOLEAN, NULL, 0, false, 0 },
	};
	static const struct clm_attr cp[] = { { "segment", CLM_ATTR_TEXT, NULL, 0, false, 0 } };
	const struct clm_attr *a[CLM_KIND_COUNT] = { [CLM_COUNTERPARTY] = cp, [CLM_CONTRACT] = ct };
	size_t n[CLM_KIND_COUNT] = { [CLM_COUNTERPARTY] = 1, [CLM_CONTRACT] = sizeof(ct) / sizeof(ct[0]) };
	struct cs_error e;
	struct clm_schema *sc = clm_schema_new(a, n, &e);

	if (sc == NULL)
		fix_die("schema", e.msg);
	return sc;
}

static void
fix_create(enum clm_kind k, const char *parent, const char *id, const char *body)
{
	struct clm_new it = { .kind = k, .parent_id = parent };
	struct clm_fail f;
	json_t *b = json_loads(body, 0, NULL);

	if (b == NULL)
		fix_die("seed body", body);
	it.body = b;
	snprintf(it.id, sizeof(it.id), "%s", id);
	if (clm_create_many(fix.clm, &it, 1, "api:fixture", NULL, &f) != CS_OK)
		fix_die(id, f.msg);
	json_decref(b);
}

/* Opens the repository in a new temporary directory and writes the fixed records: a
 * counterparty, two contracts (one active, one moved along its lifecycle, so that it has
 * history), an amendment and an obligation of the active one, and a document. */
static void
fix_repository(void)
{
	const char *tmp = getenv("TMPDIR");
	struct clm_opts o = { 0 };
	struct cs_error e;
	struct clm_fail f;
	json_t *b, *out = NULL;

	snprintf(fix.dir, sizeof(fix.dir), "%s/clmsync-fuzz.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(fix.dir) == NULL)
		fix_die("mkdtemp", strerror(errno));
	atexit(fix_remove);
	snprintf(fix.url, sizeof(fix.url), "sqlite:%s/clm.db", fix.dir);
	fix.schema = fix_schema();
	o.store_url = fix.url;
	o.pool_size = 4;
	o.max_document_size = 1u << 20;
	o.schema = fix.schema;
	if (clm_new(&o, &fix.clm, &e) != CS_OK)
		fix_die("clm_new", e.msg);
	fix_create(CLM_COUNTERPARTY, NULL, FIX_CP,
	    "{\"legal_name\":\"Acme GmbH\",\"domain\":\"acme.de\",\"country\":\"DE\",\"custom\":{\"segment\":\"enterprise\"}}");
	fix_create(CLM_CONTRACT, NULL, FIX_CT,
	    "{\"title\":\"Master Services Agreement\",\"type\":\"msa\",\"counterparty_id\":\"" FIX_CP "\",\"owner\":\"alice\","
	    "\"status\":\"active\",\"customer_signed_date\":\"2025-12-01\",\"company_signed_date\":\"2025-12-02\","
	    "\"effective_date\":\"2026-01-01\",\"term_months\":12,\"auto_renew\":true,\"renewal_notice_days\":60,"
	    "\"total_value\":{\"amount\":\"120000.00\",\"currency\":\"EUR\"},\"custom\":{\"region\":\"EMEA\",\"tier\":\"gold\","
	    "\"discount\":\"0.125\",\"seats\":40,\"review_on\":\"2026-06-30\",\"sent_at\":\"2026-01-01T09:30:00Z\",\"strategic\":true}}");
	fix_create(CLM_CONTRACT, NULL, FIX_CT2,
	    "{\"title\":\"JPY order form\",\"type\":\"order_form\",\"counterparty_id\":\"" FIX_CP "\",\"owner\":\"bob\","
	    "\"total_value\":{\"amount\":\"1500000\",\"currency\":\"JPY\"}}");
	fix_create(CLM_AMENDMENT, FIX_CT, FIX_AM,
	    "{\"title\":\"Amendment 1\",\"effective_date\":\"2026-07-01\",\"changes\":{\"term_months\":24}}");
	fix_create(CLM_OBLIGATION, FIX_CT, FIX_OB,
	    "{\"description\":\"Quarterly usage report\",\"owner\":\"bob\",\"due_date\":\"2026-03-31\",\"recurrence\":\"quarterly\"}");
	b = json_pack("{s:s}", "to", "in_review");
	if (clm_transition(fix.clm, FIX_CT2, b, -1, "api:fixture", &out, &f) != CS_OK)
		fix_die("transition", f.msg);
	json_decref(out);
	json_decref(b);
	b = json_pack("{s:s}", "file_name", "msa.pdf");
	out = NULL;
	if (clm_document_put(fix.clm, FIX_CT, NULL, "%PDF-1.7\n", 9, b, -1, "api:fixture", &out, &f) != CS_OK)
		fix_die("document", f.msg);
	json_decref(out);
	json_decref(b);
	/* a change-feed long poll answers at once from now on: an input cannot make a run wait */
	clm_wake_all(fix.clm);
	if ((fix.auth = clm_auth_new()) == NULL || clm_auth_add(fix.auth, "reader", CLM_ROLE_READ, FIX_TOKEN_READ, &e) != CS_OK ||
	    clm_auth_add(fix.auth, "writer", CLM_ROLE_WRITE, FIX_TOKEN_WRITE, &e) != CS_OK ||
	    clm_auth_add(fix.auth, "admin", CLM_ROLE_ADMIN, FIX_TOKEN_ADMIN, &e) != CS_OK)
		fix_die("tokens", e.msg);
}

#endif

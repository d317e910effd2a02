/* fuzz_repo_json.c - libFuzzer target for the repository's request bodies: parsing and validation of
 * every record kind, create and patch. No crash or leak on any input, and whatever is accepted is
 * already canonical: validating the canonical form again accepts it unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clm/clm.h"
#include "clm/clm_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BODY_MAX (256 * 1024)

static struct clm_schema *
schema(void)
{
	static struct clm_schema *sc;
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
	static const struct clm_attr cp[] = { { "segment", CLM_ATTR_TEXT, NULL, 0, true, 0 } };

	if (sc == NULL) {
		const struct clm_attr *a[CLM_KIND_COUNT] = { [CLM_COUNTERPARTY] = cp, [CLM_CONTRACT] = ct };
		size_t n[CLM_KIND_COUNT] = { [CLM_COUNTERPARTY] = 1, [CLM_CONTRACT] = sizeof(ct) / sizeof(ct[0]) };
		struct cs_error e;
		sc = clm_schema_new(a, n, &e);
		if (sc == NULL)
			abort();
	}
	return sc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clm_fail f;
	json_t *body = NULL, *out = NULL, *again = NULL;
	enum clm_kind k;
	bool patch;

	if (size < 1)
		return 0;
	/* the first byte picks the record kind and create or patch; the rest is the body */
	k = (enum clm_kind)(data[0] % CLM_KIND_COUNT);
	patch = (data[0] / CLM_KIND_COUNT) & 1;
	if (clm_body_parse((const char *)data + 1, size - 1, FUZZ_BODY_MAX, &body, &f) != CS_OK) {
		if (body != NULL || f.status < 400)
			abort();
		return 0;
	}
	if (clm_validate(schema(), k, body, patch, &out, &f) == CS_OK) {
		if (out == NULL)
			abort();
		if (clm_validate(schema(), k, out, patch, &again, &f) != CS_OK || !json_equal(out, again))
			abort();
		if (k == CLM_CONTRACT) {
			struct clm_fail g;
			clm_contract_derive(out);
			(void)clm_contract_check(out, &g);
		}
	} else if (out != NULL || f.status < 400 || f.code[0] == '\0')
		abort();
	json_decref(again);
	json_decref(out);
	json_decref(body);
	return 0;
}

/* fuzz_ids.c - libFuzzer target for record ids read from outside: the repository's own ids
 * (prefix '_' ULID, in paths, bodies and CSV files) and Salesforce's 15/18-character ids (in
 * answers, events and result files). An id either is refused or reads back to itself: a valid
 * repository id has a creation time, an accepted Salesforce id normalises to an 18-character
 * form that is accepted again unchanged and names the same record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "salesforce/sfid.h"
#include "util/id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const prefixes[] = { NULL, "ct", "cp_", "am", "ob", "ap", "sg", "dc", "x", "", "Ab" };

static void
repo_id(const char *s, size_t len, const char *prefix)
{
	bool any = cs_id_valid(NULL, s, len), with = cs_id_valid(prefix, s, len);
	int64_t ms = cs_id_time_ms(s, len);

	/* an id valid for one prefix is valid for any, and only a valid one has a time */
	if ((with && !any) || any != (ms >= 0))
		abort();
	if (ms > (int64_t)((UINT64_C(1) << 48) - 1))
		abort();
	if (any && (len > CS_ID_MAX - 1 || memchr(s, '\0', len) != NULL))
		abort();
}

static void
sf_id(const char *s, size_t len)
{
	char out[SFID_LEN + 1], again[SFID_LEN + 1], z[SFID_LEN + 1];

	if (!sfid_to18(s, len, out))
		return;
	if (strlen(out) != SFID_LEN || memcmp(out, s, 15) != 0)
		abort();
	/* the 18-character form is accepted again, unchanged */
	if (!sfid_to18(out, SFID_LEN, again) || memcmp(out, again, sizeof(out)) != 0)
		abort();
	/* and names the same record as the id it came from */
	memcpy(z, s, len);
	z[len] = '\0';
	if (!sfid_equal(z, out) || !sfid_equal(out, z))
		abort();
	/* the 15-character prefix of an 18-character id has the same normal form */
	if (!sfid_to18(out, 15, again) || memcmp(out, again, sizeof(out)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s;
	size_t len;

	if (size < 1)
		return 0;
	s = (const char *)data + 1;
	len = size - 1;
	repo_id(s, len, prefixes[data[0] % (sizeof(prefixes) / sizeof(prefixes[0]))]);
	sf_id(s, len);
	return 0;
}

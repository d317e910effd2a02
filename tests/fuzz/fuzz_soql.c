/* fuzz_soql.c - libFuzzer target for the SOQL parser: no crash on any input, every refusal has
 * a code and a UTF-8 message that makes a JSON error, and every accepted query formats to a
 * canonical text that parses again and formats to itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soql.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Canonical text is at most a few times the input (escapes grow \u0000-style) */
#define FUZZ_FORMAT_MAX ((size_t)SOQL_MAX_LEN * 8)

static void
check_error(const struct soql_error *e)
{
	json_t *j;

	if (e->code[0] == '\0' || !cs_utf8_valid(e->message, strlen(e->message)))
		abort();
	if ((j = soql_error_json(e)) == NULL)
		abort();
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct soql_error e;
	struct soql *s, *s2;
	struct cs_buf a, b;

	s = soql_parse((const char *)data, size, &e);
	if (s == NULL) {
		check_error(&e);
		return 0;
	}
	cs_buf_init(&a, FUZZ_FORMAT_MAX);
	cs_buf_init(&b, FUZZ_FORMAT_MAX);
	if (soql_format(s, &a) != CS_OK)
		abort();
	/* the canonical text may be longer than the input and so over the length limit */
	if (a.len <= SOQL_MAX_LEN) {
		s2 = soql_parse(a.data, a.len, &e);
		if (s2 == NULL) {
			fprintf(stderr, "canonical text refused: %s\n%s\n", a.data, e.message);
			abort();
		}
		if (soql_format(s2, &b) != CS_OK || b.len != a.len || memcmp(a.data, b.data, a.len) != 0) {
			fprintf(stderr, "not a fixed point:\n%s\n%s\n", a.data, b.data ? b.data : "");
			abort();
		}
		soql_free(s2);
	}
	cs_buf_cleanup(&a);
	cs_buf_cleanup(&b);
	soql_free(s);
	return 0;
}

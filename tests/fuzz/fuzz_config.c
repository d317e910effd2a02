/* fuzz_config.c - libFuzzer target for the configuration loader: any bytes give either a valid
 * configuration or a list of errors, never a crash, a leak or an unbounded error list; a valid
 * one dumps to YAML that loads again to the same dump. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
dump_and_reload(const struct cs_config *c)
{
	struct cs_buf a, b;
	struct cs_config *again = NULL;
	struct cs_error_list errs;

	cs_buf_init(&a, 4 * CS_CONFIG_FILE_MAX);
	cs_buf_init(&b, 4 * CS_CONFIG_FILE_MAX);
	cs_error_list_init(&errs);
	if (cs_config_dump(c, &a) != CS_OK)
		abort();
	if (cs_config_load_buffer("dump.yaml", a.data, a.len, CS_CONFIG_NO_SECRETS, &again, &errs)
	    != CS_OK) {
		/* Only a dump that outgrew the file limit may fail to load. */
		if (a.len <= CS_CONFIG_FILE_MAX)
			abort();
	} else {
		if (cs_config_dump(again, &b) != CS_OK || a.len != b.len || memcmp(a.data, b.data, a.len))
			abort();
	}
	cs_config_free(again);
	cs_error_list_cleanup(&errs);
	cs_buf_cleanup(&a);
	cs_buf_cleanup(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_config *c = NULL;
	struct cs_error_list errs;
	cs_err rc;

	cs_error_list_init(&errs);
	/* NO_SECRETS: the fuzzer must not read files or the environment named by its input. */
	rc = cs_config_load_buffer("fuzz.yaml", (const char *)data, size, CS_CONFIG_NO_SECRETS, &c,
	                           &errs);
	if ((rc == CS_OK) != (c != NULL) || (rc == CS_OK && errs.n != 0) ||
	    (rc != CS_OK && errs.n == 0 && rc != CS_ENOMEM) || errs.n > CS_CONFIG_ERRORS_MAX)
		abort();
	for (size_t i = 0; i < errs.n; i++)
		if (errs.v[i].text == NULL || errs.v[i].line < 0)
			abort();
	if (c != NULL)
		dump_and_reload(c);
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	return 0;
}

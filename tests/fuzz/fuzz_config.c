/* fuzz_config.c - libFuzzer target for the configuration loader: any bytes give either a valid
 * configuration or a list of errors, never a crash, a leak or an unbounded error list; a valid
 * one dumps to YAML that loads again to the same dump, and its alert thresholds (the alert
 * webhook's section) evaluate a status document into well-formed observations and events. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/alerts.h"
#include "config/config.h"
#include "util/json.h"

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

/* A status document with a figure past every default threshold, as admin_status_build writes it
 * (tests/unit/test_alerts.c). */
static const char status_json[] =
	"{\"now_ms\":1700000000000,\"uptime_s\":1000,\"orgs\":[{\"org\":\"prod\",\"engine\":true,"
	"\"stream\":{\"connected\":false,\"since_ms\":1699999000000,\"positions\":{\"/data/ContractChangeEvent\":"
	"{\"replay_id\":42,\"stored_ms\":1699999999000,\"retention_left_s\":60}}},\"lag_ms\":600000,"
	"\"oldest_pending_ms\":1699999400000,\"api\":{\"used\":14900,\"max\":15000},\"reconcile\":{\"last_drift\":7},"
	"\"mappings\":[{\"name\":\"contracts\",\"dlq\":3}]}]}";

/* The thresholds of c on the status above, then on nothing: every observation is complete, and
 * what fires once resolves once. */
static void
alerts(const struct cs_config *c)
{
	static json_t *st;
	json_t *state = json_object(), *obs, *ev, *none = json_array(), *o;
	struct cs_error e;
	size_t i, firing = 0;

	if (st == NULL && cs_json_parse(status_json, sizeof(status_json) - 1, &st, &e) != CS_OK)
		abort();
	if ((obs = alerts_observe(c, st)) == NULL || !json_is_array(obs))
		abort();
	json_array_foreach(obs, i, o) {
		if (!json_is_string(json_object_get(o, "key")) || !json_is_string(json_object_get(o, "alert")) ||
		    !json_is_boolean(json_object_get(o, "firing")))
			abort();
		firing += json_is_true(json_object_get(o, "firing"));
	}
	if ((ev = alerts_transition(state, obs, 1700000000000LL, "docs/operations.md")) == NULL || json_array_size(ev) != firing)
		abort();
	json_decref(ev);
	if ((ev = alerts_transition(state, none, 1700000060000LL, "docs/operations.md")) == NULL ||
	    json_array_size(ev) != firing)
		abort();
	json_decref(ev);
	json_decref(obs);
	json_decref(none);
	json_decref(state);
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
	if (c != NULL) {
		dump_and_reload(c);
		alerts(c);
	}
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	return 0;
}

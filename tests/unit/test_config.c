/* test_config.c - the configuration loader: valid files, every kind of error with its line,
 * bounds, secrets, limits, orgs and mappings, the generated reference and the shipped examples. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"

#define TOKEN_A "tok-A-0123456789abcdef"
#define TOKEN_B "tok-B-fedcba9876543210"

static char tmpdir[64];

/* The repository root, from this file's path (CMake compiles it by absolute path). */
static void
source_path(const char *rel, char *out, size_t n)
{
	const char *me = __FILE__;
	const char *tail = strstr(me, "tests/unit/test_config.c");

	assert_non_null(tail);
	snprintf(out, n, "%.*s%s", (int)(tail - me), me, rel);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int
setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Loads text (NO_SECRETS unless flags says otherwise) and returns the result code. */
static cs_err
load(const char *text, unsigned flags, struct cs_config **c, struct cs_error_list *errs)
{
	cs_error_list_init(errs);
	return cs_config_load_buffer("config.yaml", text, strlen(text), flags, c, errs);
}

static void
dump_errors(const struct cs_error_list *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		print_message("  %s\n", errs->v[i].text);
}

static void
defaults(void **state)
{
	struct cs_config *c = NULL;

	assert_int_equal(cs_config_defaults(&c), CS_OK);
	assert_string_equal(c->path, "");
	assert_string_equal(c->store_url, "sqlite:./clmsync-data/clmsync.db");
	assert_string_equal(c->data_dir, "./clmsync-data");
	assert_string_equal(c->repository.listen, "127.0.0.1:8440");
	assert_string_equal(c->repository.host, "127.0.0.1");
	assert_int_equal(c->repository.port, 8440);
	assert_int_equal(c->repository.max_body, 1024 * 1024);
	assert_int_equal(c->repository.max_document_size, 10 * 1024 * 1024);
	assert_int_equal(c->repository.scheduler_interval, 60);
	assert_int_equal(c->ntokens, 0);
	assert_int_equal(c->custom_contract.n, 0);
	assert_int_equal(c->custom_counterparty.n, 0);
	assert_int_equal(c->log.level, CS_LOG_INFO);
	assert_false(c->log.json);
	assert_int_equal(c->norgs, 0);
	assert_int_equal(c->nmappings, 0);
	assert_int_equal(c->sync.linger_ms, 5);
	assert_int_equal(c->sync.batch_max, 200);
	assert_int_equal(c->sync.retry.initial_ms, 200);
	assert_int_equal(c->sync.retry.max_ms, 60000);
	assert_int_equal(c->sync.retry.max_attempts, 10);
	assert_int_equal(c->sync.reconcile.interval_s, 3600);
	assert_int_equal(c->sync.reconcile.overlap_s, 300);
	assert_int_equal(c->sync.outbox_workers, 4);
	cs_config_free(c);
	cs_config_free(NULL);
}

static void
valid_file(void **state)
{
	char tf[128], text[2048];
	struct cs_config *c = NULL;
	struct cs_error_list errs;
	const struct cs_attr_decl *a;

	snprintf(tf, sizeof(tf), "%s/a.token", tmpdir);
	write_file(tf, TOKEN_A "\n", 0600);
	setenv("TEST_CONFIG_TOKEN_B", TOKEN_B, 1);
	snprintf(text, sizeof(text),
	    "store: sqlite:/var/lib/clmsync/db.sqlite\n"
	    "data_dir: /var/lib/clmsync\n"
	    "repository:\n"
	    "  listen: \"[::1]:9000\"\n"
	    "  max_body: 2MiB\n"
	    "  max_document_size: 5242880\n"
	    "  scheduler_interval: '30'\n"
	    "api_tokens:\n"
	    "  - name: ops\n"
	    "    role: admin\n"
	    "    token_file: %s\n"
	    "  - {name: crm, role: write, token_env: TEST_CONFIG_TOKEN_B}\n"
	    "custom_attributes:\n"
	    "  counterparty:\n"
	    "  contract:\n"
	    "    - name: region\n"
	    "      type: picklist\n"
	    "      values: [EMEA, 'yes', 'no', 1, 'it''s', '''''''''']\n"
	    "      required: true\n"
	    "    - name: code\n"
	    "      type: text\n"
	    "      max_length: 12\n"
	    "log: {level: debug, json: true}\n", tf);
	cs_err rc = load(text, 0, &c, &errs);
	dump_errors(&errs);
	assert_int_equal(rc, CS_OK);
	assert_int_equal(errs.n, 0);
	assert_string_equal(c->path, "config.yaml");
	assert_string_equal(c->store_url, "sqlite:/var/lib/clmsync/db.sqlite");
	assert_string_equal(c->repository.host, "::1");
	assert_int_equal(c->repository.port, 9000);
	assert_int_equal(c->repository.max_body, 2 * 1024 * 1024);
	assert_int_equal(c->repository.max_document_size, 5242880);
	assert_int_equal(c->repository.scheduler_interval, 30);
	assert_int_equal(c->ntokens, 2);
	assert_string_equal(c->tokens[0].name, "ops");
	assert_int_equal(c->tokens[0].role, CS_ROLE_ADMIN);
	assert_string_equal(c->tokens[0].secret, TOKEN_A);   /* newline removed */
	assert_int_equal(c->tokens[0].secret_len, strlen(TOKEN_A));
	assert_string_equal(c->tokens[0].env, "");
	assert_non_null(strstr(c->tokens[0].source, "file "));
	assert_string_equal(c->tokens[1].name, "crm");
	assert_int_equal(c->tokens[1].role, CS_ROLE_WRITE);
	assert_string_equal(c->tokens[1].secret, TOKEN_B);
	assert_string_equal(c->tokens[1].source, "environment TEST_CONFIG_TOKEN_B");
	assert_string_equal(cs_role_name(c->tokens[1].role), "write");
	assert_int_equal(c->custom_counterparty.n, 0);
	assert_int_equal(c->custom_contract.n, 2);
	a = cs_config_attr_find(cs_config_attrs(c, "contract"), "region");
	assert_non_null(a);
	assert_int_equal(a->type, CS_ATTR_PICKLIST);
	assert_true(a->required);
	assert_int_equal(a->nvalues, 6);
	assert_string_equal(a->values[1], "yes");   /* the schema reads it as text: no YAML 1.1 bool */
	assert_string_equal(a->values[3], "1");
	assert_string_equal(a->values[4], "it's");
	assert_string_equal(a->values[5], "''''");   /* a run of '' escapes (libfyaml leaked here) */
	a = cs_config_attr_find(cs_config_attrs(c, "contract"), "code");
	assert_non_null(a);
	assert_int_equal(a->max_length, 12);
	assert_false(a->required);
	assert_string_equal(cs_attr_type_name(a->type), "text");
	assert_null(cs_config_attr_find(cs_config_attrs(c, "contract"), "nope"));
	assert_non_null(cs_config_attrs(c, "obligation"));
	assert_int_equal(cs_config_attrs(c, "obligation")->n, 0);
	assert_null(cs_config_attrs(c, "approval"));
	assert_int_equal(c->log.level, CS_LOG_DEBUG);
	assert_true(c->log.json);
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	unsetenv("TEST_CONFIG_TOKEN_B");
}

/* One error per case: its line, its key and a word of its message. */
static const struct err_case {
	const char *yaml;
	int line;
	const char *key;
	const char *msg;
} err_cases[] = {
	{ "store: mysql://x\n", 1, "store", "sqlite:PATH or postgresql" },
	{ "store: 'sqlite:'\n", 1, "store", "needs a file path" },
	{ "store: postgresql://u:pw@db/clm\n", 1, "store", "must not carry a password" },
	{ "log:\n  level: info\nrepository:\n  listen: localhost\n", 4, "repository.listen",
	  "expected HOST:PORT" },
	{ "repository:\n  listen: 127.0.0.1:0\n", 2, "repository.listen", "HOST:PORT" },
	{ "repository:\n  listen: 127.0.0.1:65536\n", 2, "repository.listen", "HOST:PORT" },
	{ "repository:\n  listen: ::1:80\n", 2, "repository.listen", "HOST:PORT" },
	{ "repository:\n  listen: 'a b:80'\n", 2, "repository.listen", "HOST:PORT" },
	{ "repository:\n  max_body: 1023\n", 2, "repository.max_body", "from 1 KiB to 64 MiB" },
	{ "repository:\n  max_body: 65 MiB\n", 2, "repository.max_body", "from 1 KiB to 64 MiB" },
	{ "repository:\n  max_body: 1 MB\n", 2, "repository.max_body", "size in bytes" },
	{ "repository:\n  max_body: -1\n", 2, "repository.max_body", "size in bytes" },
	{ "repository:\n  max_body: 99999999999999999999999\n", 2, "repository.max_body", "size" },
	{ "repository:\n  max_document_size: 2 GiB\n", 2, "repository.max_document_size", "1 GiB" },
	{ "repository:\n  scheduler_interval: 0\n", 2, "repository.scheduler_interval",
	  "from 1 to 86400" },
	{ "repository:\n  scheduler_interval: 86401\n", 2, "repository.scheduler_interval",
	  "from 1 to 86400" },
	{ "repository:\n  scheduler_interval: 1.5\n", 2, "repository.scheduler_interval",
	  "whole number" },
	{ "repository:\n  scheduler_interval:\n", 2, "repository.scheduler_interval",
	  "needs a value" },
	{ "repository: 5\n", 1, "repository", "expected a section" },
	{ "repository:\n  listen: [a]\n", 2, "repository.listen", "single value" },
	{ "repository:\n  scheduler_intervall: 5\n", 2, "repository.scheduler_intervall",
	  "did you mean scheduler_interval?" },
	{ "listen: 127.0.0.1:1\n", 1, "listen", "did you mean repository.listen?" },
	{ "stor: x\n", 1, "stor", "did you mean store?" },
	{ "colour: blue\n", 1, "colour", "unknown key" },
	{ "log:\n  level: verbose\n", 2, "log.level", "expected debug, info, warn or error" },
	{ "log:\n  level: inf\n", 2, "log.level", "did you mean info?" },
	{ "log:\n  json: yes\n", 2, "log.json", "true or false" },
	{ "log:\n  json: ~\n", 2, "log.json", "needs a value" },
	{ "data_dir: \"a\\tb\"\n", 1, "data_dir", "control characters" },
	{ "data_dir: ''\n", 1, "data_dir", "expected 1 to 1024 bytes, got 0" },
	{ "api_tokens: x\n", 1, "api_tokens", "expected a list" },
	{ "api_tokens:\n  - x\n", 2, "api_tokens[0]", "expected a mapping" },
	{ "api_tokens:\n  - name: a\n    token_env: T\n", 2, "api_tokens[0].role", "missing" },
	{ "api_tokens:\n  - name: a\n    role: owner\n    token_env: T\n", 3, "api_tokens[0].role",
	  "read, write or admin" },
	{ "api_tokens:\n  - name: a\n    role: read\n", 2, "api_tokens[0]", "exactly one" },
	{ "api_tokens:\n  - name: a\n    role: read\n    token_env: T\n    token_file: /f\n", 2,
	  "api_tokens[0]", "exactly one" },
	{ "api_tokens:\n  - name: a\n    role: read\n    token: hunter2hunter2hunter2\n", 4,
	  "api_tokens[0].token", "never written in the configuration" },
	{ "api_tokens:\n  - name: a\n    role: read\n    token_env: 1X\n", 4,
	  "api_tokens[0].token_env", "environment variable name" },
	{ "api_tokens:\n  - name: -a\n    role: read\n    token_env: T\n", 2,
	  "api_tokens[0].name", "letters, digits" },
	{ "api_tokens:\n  - {name: a, role: read, token_env: T}\n  - {name: a, role: read, "
	  "token_env: U}\n", 3, "api_tokens[1]", "also used by api_tokens[0]" },
	{ "custom_attributes:\n  contracts: []\n", 2, "custom_attributes.contracts",
	  "did you mean contract?" },
	{ "custom_attributes:\n  contract:\n    - name: Region\n      type: text\n", 3,
	  "custom_attributes.contract[0].name", "[a-z][a-z0-9_]*" },
	{ "custom_attributes:\n  contract:\n    - name: r\n      type: picklist\n", 3,
	  "custom_attributes.contract[0].values", "required for type picklist" },
	{ "custom_attributes:\n  contract:\n    - name: r\n      type: date\n      values: [a]\n", 5,
	  "custom_attributes.contract[0].values", "only for type picklist" },
	{ "custom_attributes:\n  contract:\n    - name: r\n      type: picklist\n      values: []\n",
	  5, "custom_attributes.contract[0].values", "1 to 500 values" },
	{ "custom_attributes:\n  contract:\n    - name: r\n      type: picklist\n      values:\n"
	  "        - a\n        - b\n        - a\n", 8, "custom_attributes.contract[0].values[2]",
	  "repeats" },
	{ "custom_attributes:\n  contract:\n    - {name: r, type: picklist, values: [a, '']}\n", 3,
	  "custom_attributes.contract[0].values[1]", "empty value" },
	{ "custom_attributes:\n  contract:\n    - name: r\n      type: number\n      max_length: 3\n",
	  5, "custom_attributes.contract[0].max_length", "only for type text" },
	{ "custom_attributes:\n  contract:\n    - name: r\n      type: text\n      max_length: 0\n",
	  5, "custom_attributes.contract[0].max_length", "from 1 to 65536" },
	{ "custom_attributes:\n  contract:\n    - name: r\n      type: money\n", 4,
	  "custom_attributes.contract[0].type", "picklist" },
	{ "custom_attributes:\n  contract:\n    - name: r\n      type: text\n      required: 1\n", 5,
	  "custom_attributes.contract[0].required", "true or false" },
	{ "custom_attributes:\n  contract:\n    - {name: r, type: text}\n    - {name: r, type: date}\n",
	  4, "custom_attributes.contract[1].name", "also declared" },
	{ "data_dir: 'one\n  two'\n", 1, "data_dir", "must be on one line" },
	{ "log:\n  level: 'in''''''''fo'\n", 2, "log.level", "expected debug" },
	{ "'lo''g': {}\n", 1, "lo'g", "unknown key" },
	{ "\"\\e[2J\": 1\n", 1, "?[2J", "unknown key" },   /* no escape sequence reaches a terminal */
	{ "x: &a {level: info}\n", 1, "x", "unknown key" },
	{ "log: &a {level: info}\nrepository: *a\n", 2, "repository", "aliases" },
	{ "? [a, b]\n: 1\n", 1, "", "plain names" },
	/* YAML syntax */
	{ "log:\n  level: \"info\n", 2, "", "YAML syntax" },
	{ "log:\n\tlevel: info\n", 2, "", "YAML syntax" },
	{ "a: 1\nb: 2\na: 3\n", 3, "", "duplicate key" },
	{ "log: [\n", 2, "", "YAML syntax" },
	{ "log: {}\n---\nlog: {}\n", 3, "", "more than one YAML document" },
	/* the file as a whole */
	{ "", 0, "", "no settings" },
	{ "# nothing but a comment\n", 0, "", "no settings" },
	{ "---\n", 0, "", "no settings" },
	{ "- a\n- b\n", 1, "", "mapping of settings" },
	{ "just text\n", 1, "", "mapping of settings" },
	{ "log: {level: \xff}\n", 0, "", "not UTF-8" },
	/* the alert webhook */
	{ "alerts:\n  interval_s: 0\n", 2, "alerts.interval_s", "from 1 to 3600" },
	{ "alerts:\n  api_budget_pct: 101\n", 2, "alerts.api_budget_pct", "from 0 to 100" },
	{ "alerts:\n  dlq_max: -1\n", 2, "alerts.dlq_max", "whole number" },
	{ "alerts:\n  retention_left_s: 259201\n", 2, "alerts.retention_left_s", "from 0 to 259200" },
	{ "alerts:\n  stream_down_s: 0\n", 2, "alerts.stream_down_s", "from 1 to 86400" },
	{ "alerts:\n  lag: 5\n", 2, "alerts.lag", "did you mean lag_s?" },
	{ "alerts:\n  webhook_url: ftp://127.0.0.1/x\n  secret_env: K\n", 2, "alerts.webhook_url",
	  "expected https://HOST[:PORT]/PATH" },
	{ "alerts:\n  webhook_url: http://10.1.2.3/hook\n  secret_env: K\n", 2, "alerts.webhook_url",
	  "plain http is allowed only to a loopback address" },
	{ "alerts:\n  webhook_url: https://u:pw@hooks.example.com/x\n  secret_env: K\n", 2,
	  "alerts.webhook_url", "must not carry a user or password" },
	{ "alerts:\n  webhook_url: 'https://hooks.example.com/a b'\n  secret_env: K\n", 2,
	  "alerts.webhook_url", "no spaces" },
	{ "alerts:\n  webhook_url: https://hooks.example.com/x#frag\n  secret_env: K\n", 2,
	  "alerts.webhook_url", "no fragment" },
	{ "alerts:\n  webhook_url: https://hooks.example.com:99999/x\n  secret_env: K\n", 2,
	  "alerts.webhook_url", "port from 1 to 65535" },
	{ "alerts:\n  webhook_url: https://hooks.example.com/x\n", 2, "alerts",
	  "exactly one of secret_file and secret_env" },
	{ "alerts:\n  webhook_url: https://hooks.example.com/x\n  secret_env: K\n  secret_file: /k\n",
	  2, "alerts", "exactly one of secret_file and secret_env" },
	{ "alerts:\n  webhook_url: https://hooks.example.com/x\n  secret: hunter2hunter2hunter2\n", 3,
	  "alerts.secret", "never written in the configuration" },
	{ "alerts:\n  secret_env: K\n", 2, "alerts.secret_env", "only with webhook_url" },
	{ "alerts:\n  interval_s: 5\n  secret_file: /k\n", 3, "alerts.secret_file",
	  "only with webhook_url" },
	{ "alerts:\n  webhook_url: https://hooks.example.com/x\n  secret_env: 9K\n", 3,
	  "alerts.secret_env", "environment variable name" },
};

static void
each_error(void **state)
{
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *ec = &err_cases[i];
		struct cs_config *c = (struct cs_config *)&c;
		struct cs_error_list errs;
		cs_err rc;

		print_message("case %zu: %s", i, ec->yaml);
		rc = load(ec->yaml, CS_CONFIG_NO_SECRETS, &c, &errs);
		dump_errors(&errs);
		assert_int_not_equal(rc, CS_OK);
		assert_null(c);
		assert_int_equal(errs.n, 1);
		assert_int_equal(errs.v[0].line, ec->line);
		assert_string_equal(errs.v[0].key, ec->key);
		assert_non_null(strstr(errs.v[0].msg, ec->msg));
		/* the printable text names file, line and key */
		if (ec->line > 0) {
			char head[128];

			snprintf(head, sizeof(head), "config.yaml:%d: %s%s", ec->line, ec->key,
			         ec->key[0] ? ": " : "");
			assert_memory_equal(errs.v[0].text, head, strlen(head));
		}
		cs_error_list_cleanup(&errs);
	}
}

/* Every error is reported, not only the first; past the cap they are counted. */
static void
all_errors(void **state)
{
	struct cs_config *c;
	struct cs_error_list errs;
	char *big;
	size_t k = 0;

	assert_int_equal(load("store: x\nrepository:\n  listen: y\n  max_body: 1\nlog:\n  level: z\n",
	                      CS_CONFIG_NO_SECRETS, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, 4);
	assert_int_equal(errs.v[0].line, 1);
	assert_int_equal(errs.v[1].line, 3);
	assert_int_equal(errs.v[2].line, 4);
	assert_int_equal(errs.v[3].line, 6);
	cs_error_list_cleanup(&errs);

	big = malloc(150 * 16);
	assert_non_null(big);
	for (int i = 0; i < 150; i++)
		k += (size_t)snprintf(big + k, 16, "bad%03d: 1\n", i);
	assert_int_equal(load(big, CS_CONFIG_NO_SECRETS, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, CS_CONFIG_ERRORS_MAX);
	assert_int_equal(errs.dropped, 150 - CS_CONFIG_ERRORS_MAX);
	assert_int_equal(errs.v[99].line, 100);
	cs_error_list_cleanup(&errs);
	free(big);
}

static void
listen_parse(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		const char *host;
		unsigned port;
	} cases[] = {
		{ "127.0.0.1:8440", true, "127.0.0.1", 8440 },
		{ "0.0.0.0:1", true, "0.0.0.0", 1 },
		{ "localhost:65535", true, "localhost", 65535 },
		{ "[::]:80", true, "::", 80 },
		{ "[fe80::1]:443", true, "fe80::1", 443 },
		{ "host.example-1.com:8080", true, "host.example-1.com", 8080 },
		{ "127.0.0.1", false, NULL, 0 },
		{ ":8440", false, NULL, 0 },
		{ "127.0.0.1:", false, NULL, 0 },
		{ "127.0.0.1:0", false, NULL, 0 },
		{ "127.0.0.1:65536", false, NULL, 0 },
		{ "127.0.0.1:000080", false, NULL, 0 },
		{ "127.0.0.1:+80", false, NULL, 0 },
		{ "::1:80", false, NULL, 0 },
		{ "[::1]80", false, NULL, 0 },
		{ "[]:80", false, NULL, 0 },
		{ "[zz::1]:80", false, NULL, 0 },
		{ "a_b:80", false, NULL, 0 },
		{ "", false, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[CS_CONFIG_HOST_MAX];
		uint16_t port = 0;

		print_message("listen \"%s\"\n", cases[i].s);
		assert_int_equal(cs_config_parse_listen(cases[i].s, host, sizeof(host), &port),
		                 cases[i].ok);
		if (cases[i].ok) {
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		}
	}
}

static void
bounds_accepted(void **state)
{
	struct cs_config *c;
	struct cs_error_list errs;

	assert_int_equal(load("repository:\n  max_body: 1 KiB\n  max_document_size: 1 GiB\n"
	                      "  scheduler_interval: 86400\n", 0, &c, &errs), CS_OK);
	assert_int_equal(c->repository.max_body, 1024);
	assert_int_equal(c->repository.max_document_size, 1u << 30);
	assert_int_equal(c->repository.scheduler_interval, 86400);
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	assert_int_equal(load("repository:\n  max_body: 64MiB\n  scheduler_interval: 1\n", 0, &c,
	                      &errs), CS_OK);
	assert_int_equal(c->repository.max_body, 64u << 20);
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	/* an empty section keeps its defaults */
	assert_int_equal(load("repository:\ncustom_attributes:\nlog: {}\n", 0, &c, &errs), CS_OK);
	assert_int_equal(c->repository.port, 8440);
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
}

static void
too_many(void **state)
{
	char *text = malloc(64 * 1024);
	size_t k = 0;
	struct cs_config *c;
	struct cs_error_list errs;

	assert_non_null(text);
	k += (size_t)snprintf(text + k, 64, "api_tokens:\n");
	for (int i = 0; i <= CS_CONFIG_TOKENS_MAX; i++)
		k += (size_t)snprintf(text + k, 128, "  - {name: t%d, role: read, token_env: T%d}\n", i, i);
	assert_int_equal(load(text, CS_CONFIG_NO_SECRETS, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.v[0].msg, "0 to 64 entries"));
	cs_error_list_cleanup(&errs);
	free(text);
}

static char *
token_yaml(const char *file)
{
	static char text[512];

	snprintf(text, sizeof(text),
	         "api_tokens:\n  - name: ops\n    role: admin\n    token_file: %s\n", file);
	return text;
}

static void
secret_files(void **state)
{
	static const struct {
		const char *content;
		mode_t mode;
		const char *msg;   /* NULL: accepted */
	} cases[] = {
		{ TOKEN_A "\n", 0600, NULL },
		{ TOKEN_A "\r\n", 0600, NULL },
		{ TOKEN_A, 0400, NULL },
		{ TOKEN_A "\n", 0640, "accessible to its group (mode 0640); restrict it with chmod 600" },
		{ TOKEN_A "\n", 0620, "accessible to its group" },
		{ TOKEN_A "\n", 0644, "accessible to every user (mode 0644)" },
		{ TOKEN_A "\n", 0602, "accessible to every user" },
		{ TOKEN_A "\n", 0604, "accessible to every user" },
		{ "short\n", 0600, "16 to 4096" },
		{ "", 0600, "16 to 4096" },
		{ "has a space in it, so no\n", 0600, "visible ASCII" },
		{ TOKEN_A "\n" TOKEN_B "\n", 0600, "valid token" },
	};
	char tf[128];

	snprintf(tf, sizeof(tf), "%s/secret.token", tmpdir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cs_config *c;
		struct cs_error_list errs;
		cs_err rc;

		print_message("token file case %zu\n", i);
		unlink(tf);
		write_file(tf, cases[i].content, cases[i].mode);
		rc = load(token_yaml(tf), 0, &c, &errs);
		dump_errors(&errs);
		if (cases[i].msg == NULL) {
			assert_int_equal(rc, CS_OK);
			assert_string_equal(c->tokens[0].secret, TOKEN_A);
			cs_config_free(c);
		} else {
			assert_int_equal(rc, CS_EINVAL);
			assert_int_equal(errs.n, 1);
			assert_int_equal(errs.v[0].line, 4);
			assert_string_equal(errs.v[0].key, "api_tokens[0].token_file");
			assert_non_null(strstr(errs.v[0].msg, cases[i].msg));
			/* the file's content never reaches a message */
			assert_null(strstr(errs.v[0].text, "tok-"));
		}
		cs_error_list_cleanup(&errs);
	}
	{
		struct cs_config *c;
		struct cs_error_list errs;
		char big[CS_CONFIG_SECRET_MAX + 64];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		unlink(tf);
		write_file(tf, big, 0600);
		assert_int_equal(load(token_yaml(tf), 0, &c, &errs), CS_EINVAL);
		assert_non_null(strstr(errs.v[0].msg, "larger than a token can be"));
		cs_error_list_cleanup(&errs);
		/* missing file, a directory */
		unlink(tf);
		assert_int_equal(load(token_yaml(tf), 0, &c, &errs), CS_EINVAL);
		assert_non_null(strstr(errs.v[0].msg, "cannot open"));
		cs_error_list_cleanup(&errs);
		assert_int_equal(load(token_yaml(tmpdir), 0, &c, &errs), CS_EINVAL);
		assert_non_null(strstr(errs.v[0].msg, "not a regular file"));
		cs_error_list_cleanup(&errs);
		/* with NO_SECRETS nothing is read */
		assert_int_equal(load(token_yaml(tf), CS_CONFIG_NO_SECRETS, &c, &errs), CS_OK);
		assert_string_equal(c->tokens[0].secret, "");
		cs_config_free(c);
		cs_error_list_cleanup(&errs);
	}
}

/* The alert webhook's signing key: read from a file only its owner (and group) may read, or the
 * environment, never printed; the thresholds and their defaults. */
static void
alerts_section(void **state)
{
	static const struct {
		const char *content;
		mode_t mode;
		const char *msg;   /* NULL: accepted */
	} cases[] = {
		{ TOKEN_A "\n", 0600, NULL },
		{ TOKEN_A "\n", 0640, "accessible to its group (mode 0640)" },
		{ TOKEN_A "\n", 0644, "accessible to every user (mode 0644)" },
		{ TOKEN_A "\n", 0606, "accessible to every user" },
		{ "short\n", 0600, "16 to 4096" },
		{ "two words in it, not a key\n", 0600, "visible ASCII" },
	};
	char kf[128], text[512];
	struct cs_config *c;
	struct cs_error_list errs;
	struct cs_buf b;

	/* the defaults: no webhook, the rules' thresholds */
	assert_int_equal(cs_config_defaults(&c), CS_OK);
	assert_string_equal(c->alerts.webhook_url, "");
	assert_string_equal(c->alerts.secret, "");
	assert_int_equal(c->alerts.interval_s, 15);
	assert_int_equal(c->alerts.stream_down_s, 300);
	assert_int_equal(c->alerts.lag_s, 60);
	assert_int_equal(c->alerts.retention_left_s, 43200);
	assert_int_equal(c->alerts.dlq_max, 0);
	assert_int_equal(c->alerts.api_budget_pct, 10);
	assert_int_equal(c->alerts.drift, 0);
	cs_config_free(c);

	snprintf(kf, sizeof(kf), "%s/hook.key", tmpdir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cs_err rc;

		print_message("signing key file case %zu\n", i);
		unlink(kf);
		write_file(kf, cases[i].content, cases[i].mode);
		snprintf(text, sizeof(text), "alerts:\n  webhook_url: https://hooks.example.com/clmsync?team=ops\n"
		         "  secret_file: %s\n  interval_s: 2\n  dlq_max: 3\n  api_budget_pct: 0\n", kf);
		rc = load(text, 0, &c, &errs);
		dump_errors(&errs);
		if (cases[i].msg == NULL) {
			assert_int_equal(rc, CS_OK);
			assert_string_equal(c->alerts.secret, TOKEN_A);
			assert_string_equal(c->alerts.webhook_url, "https://hooks.example.com/clmsync?team=ops");
			assert_int_equal(c->alerts.interval_s, 2);
			assert_int_equal(c->alerts.dlq_max, 3);
			assert_int_equal(c->alerts.api_budget_pct, 0);
			assert_int_equal(c->alerts.stream_down_s, 300);
			/* config check shows where the key is, never the key */
			cs_buf_init(&b, 1 << 20);
			assert_int_equal(cs_config_dump(c, &b), CS_OK);
			assert_non_null(strstr(b.data, "webhook_url: \"https://hooks.example.com/clmsync?team=ops\""));
			assert_null(strstr(b.data, TOKEN_A));
			cs_buf_cleanup(&b);
			cs_config_free(c);
		} else {
			assert_int_equal(rc, CS_EINVAL);
			assert_int_equal(errs.n, 1);
			assert_int_equal(errs.v[0].line, 3);
			assert_string_equal(errs.v[0].key, "alerts.secret_file");
			assert_non_null(strstr(errs.v[0].msg, cases[i].msg));
			assert_null(strstr(errs.v[0].text, "short"));   /* no part of the content */
		}
		cs_error_list_cleanup(&errs);
	}

	/* from the environment; plain http to this machine is allowed */
	unsetenv("TEST_CONFIG_HOOK");
	snprintf(text, sizeof(text), "alerts:\n  webhook_url: http://[::1]:9000/hook\n  secret_env: TEST_CONFIG_HOOK\n");
	assert_int_equal(load(text, 0, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, 1);
	assert_int_equal(errs.v[0].line, 3);
	assert_non_null(strstr(errs.v[0].msg, "TEST_CONFIG_HOOK is not set"));
	cs_error_list_cleanup(&errs);
	setenv("TEST_CONFIG_HOOK", TOKEN_B, 1);
	assert_int_equal(load(text, 0, &c, &errs), CS_OK);
	assert_string_equal(c->alerts.secret, TOKEN_B);
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	/* NO_SECRETS checks the reference without reading it */
	unsetenv("TEST_CONFIG_HOOK");
	assert_int_equal(load(text, CS_CONFIG_NO_SECRETS, &c, &errs), CS_OK);
	assert_string_equal(c->alerts.secret, "");
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
}

static void
secret_env(void **state)
{
	const char *yaml = "api_tokens:\n  - name: a\n    role: read\n    token_env: TEST_CONFIG_T\n"
	                   "  - name: b\n    role: read\n    token_env: TEST_CONFIG_U\n";
	struct cs_config *c;
	struct cs_error_list errs;

	unsetenv("TEST_CONFIG_T");
	unsetenv("TEST_CONFIG_U");
	assert_int_equal(load(yaml, 0, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, 2);
	assert_int_equal(errs.v[0].line, 4);
	assert_non_null(strstr(errs.v[0].msg, "TEST_CONFIG_T is not set"));
	assert_int_equal(errs.v[1].line, 7);
	cs_error_list_cleanup(&errs);
	setenv("TEST_CONFIG_T", "too short", 1);
	setenv("TEST_CONFIG_U", TOKEN_B, 1);
	assert_int_equal(load(yaml, 0, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.v[0].msg, "does not hold a valid token"));
	assert_null(strstr(errs.v[0].text, "too short"));
	cs_error_list_cleanup(&errs);
	/* two entries with the same token */
	setenv("TEST_CONFIG_T", TOKEN_B, 1);
	assert_int_equal(load(yaml, 0, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0].key, "api_tokens[1]");
	assert_non_null(strstr(errs.v[0].msg, "same token as api_tokens[0]"));
	assert_null(strstr(errs.v[0].text, TOKEN_B));
	cs_error_list_cleanup(&errs);
	unsetenv("TEST_CONFIG_T");
	unsetenv("TEST_CONFIG_U");
}

/* Runs `clmsync config ARGS...` with stdout and stderr captured into out (NUL-terminated). */
static int
run_config(char *out, size_t n, int argc, ...)
{
	char *argv[8];
	char path[128];
	va_list ap;
	int fd, saved_out, saved_err, code;
	ssize_t got;

	assert_true(argc < 8);
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	snprintf(path, sizeof(path), "%s/out.txt", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(fd, 1);
	dup2(fd, 2);
	code = cmd_config(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	got = pread(fd, out, n - 1, 0);
	assert_true(got >= 0);
	out[got] = '\0';
	close(fd);
	return code;
}

static void
check_command(void **state)
{
	static char out[256 * 1024];
	char cfg[128], tf[128], text[512];

	snprintf(tf, sizeof(tf), "%s/check.token", tmpdir);
	write_file(tf, TOKEN_A "\n", 0600);
	snprintf(cfg, sizeof(cfg), "%s/check.yaml", tmpdir);
	snprintf(text, sizeof(text), "api_tokens:\n  - name: ops\n    role: admin\n"
	         "    token_file: %s\nlog:\n  json: true\n", tf);
	write_file(cfg, text, 0644);
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", cfg), 0);
	/* the secret is masked: its value never appears, its mask does */
	assert_null(strstr(out, TOKEN_A));
	assert_non_null(strstr(out, "token: \"****\""));
	assert_non_null(strstr(out, "valid"));
	assert_non_null(strstr(out, "json: true"));
	assert_non_null(strstr(out, "listen: \"127.0.0.1:8440\""));

	write_file(cfg, "repository:\n  listen: nowhere\nlog:\n  level: loud\n", 0644);
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", cfg), 1);
	assert_non_null(strstr(out, ":2: repository.listen: expected HOST:PORT"));
	assert_non_null(strstr(out, ":4: log.level: expected"));
	assert_non_null(strstr(out, "invalid (2 errors)"));

	snprintf(text, sizeof(text), "%s/does-not-exist.yaml", tmpdir);
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", text), 1);
	assert_non_null(strstr(out, "cannot open"));

	assert_int_equal(run_config(out, sizeof(out), 2, "config", "check"), 2);
	assert_int_equal(run_config(out, sizeof(out), 1, "config"), 2);
	assert_int_equal(run_config(out, sizeof(out), 2, "config", "frobnicate"), 2);
	assert_non_null(strstr(out, "unknown subcommand"));
	assert_int_equal(run_config(out, sizeof(out), 4, "config", "check", cfg, cfg), 2);
	assert_int_equal(run_config(out, sizeof(out), 2, "config", "--help"), 0);
	assert_non_null(strstr(out, "config check FILE"));
}

/* The shipped example passes `config check` (its token comes from the environment). */
static void
example_passes(void **state)
{
	static char out[256 * 1024];
	char path[1024];

	source_path("config/examples/repository.yaml", path, sizeof(path));
	setenv("CLMSYNC_ADMIN_TOKEN", TOKEN_A, 1);
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", path), 0);
	unsetenv("CLMSYNC_ADMIN_TOKEN");
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", path), 1);
	assert_non_null(strstr(out, "CLMSYNC_ADMIN_TOKEN is not set"));
}

/* docs/configuration.md is exactly what `clmsync config reference` prints. */
static void
reference_matches_docs(void **state)
{
	static char out[256 * 1024], doc[256 * 1024];
	char path[1024];
	FILE *f;
	size_t n;

	assert_int_equal(run_config(out, sizeof(out), 2, "config", "reference"), 0);
	assert_non_null(strstr(out, "| `repository.listen` |"));
	assert_non_null(strstr(out, "| `api_tokens[].token_file` |"));
	assert_non_null(strstr(out, "| `custom_attributes.contract[].values` |"));
	source_path("docs/configuration.md", path, sizeof(path));
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';
	if (strcmp(doc, out) != 0)
		print_message("docs/configuration.md is stale: regenerate it with "
		              "`clmsync config reference > docs/configuration.md`\n");
	assert_string_equal(doc, out);
}

static void
size_limit(void **state)
{
	char path[128];
	struct cs_config *c;
	struct cs_error_list errs;
	char *big = malloc(CS_CONFIG_FILE_MAX + 2);
	FILE *f;

	assert_non_null(big);
	/* a comment line long enough to pass the limit by one byte */
	big[0] = '#';
	memset(big + 1, 'x', CS_CONFIG_FILE_MAX);
	big[CS_CONFIG_FILE_MAX + 1] = '\0';
	cs_error_list_init(&errs);
	assert_int_equal(cs_config_load_buffer("big.yaml", big, CS_CONFIG_FILE_MAX + 1, 0, &c, &errs),
	                 CS_ETOOBIG);
	assert_null(c);
	assert_non_null(strstr(errs.v[0].msg, "CS_CONFIG_FILE_MAX"));
	cs_error_list_cleanup(&errs);

	snprintf(path, sizeof(path), "%s/big.yaml", tmpdir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, CS_CONFIG_FILE_MAX + 1, f), CS_CONFIG_FILE_MAX + 1);
	fclose(f);
	cs_error_list_init(&errs);
	assert_int_equal(cs_config_load(path, &c, &errs), CS_ETOOBIG);
	assert_non_null(strstr(errs.v[0].text, "big.yaml: the file is 1048577 bytes; the limit is "
	                       "1048576"));
	cs_error_list_cleanup(&errs);

	/* exactly at the limit is read (and then judged on its content) */
	big[CS_CONFIG_FILE_MAX - 1] = '\n';
	cs_error_list_init(&errs);
	assert_int_equal(cs_config_load_buffer("edge.yaml", big, CS_CONFIG_FILE_MAX, 0, &c, &errs),
	                 CS_EINVAL);
	assert_non_null(strstr(errs.v[0].msg, "no settings"));
	cs_error_list_cleanup(&errs);
	free(big);
}

/* The masked dump of a loaded file parses back into the same configuration. */
static void
dump_round_trip(void **state)
{
	static const char yaml[] =
	    "store: \"postgresql://db.internal/clm\"\n"
	    "repository: {listen: \"0.0.0.0:80\", max_body: 3000}\n"
	    "custom_attributes:\n"
	    "  counterparty:\n"
	    "    - {name: tier, type: picklist, values: [\"a \\\"quoted\\\" one\", b]}\n";
	struct cs_config *c, *c2;
	struct cs_error_list errs;
	struct cs_buf b;

	assert_int_equal(load(yaml, 0, &c, &errs), CS_OK);
	cs_error_list_cleanup(&errs);
	cs_buf_init(&b, 1 << 20);
	assert_int_equal(cs_config_dump(c, &b), CS_OK);
	print_message("%s", b.data);
	assert_int_equal(load(b.data, 0, &c2, &errs), CS_OK);
	dump_errors(&errs);
	assert_string_equal(c2->store_url, c->store_url);
	assert_int_equal(c2->repository.max_body, 3000);
	assert_string_equal(c2->custom_counterparty.v[0].values[0], "a \"quoted\" one");
	cs_config_free(c);
	cs_config_free(c2);
	cs_error_list_cleanup(&errs);
	cs_buf_cleanup(&b);
}

/* --- orgs, mappings and sync ---------------------------------------------------------------- */

/* Lines 1-4: one org. */
#define ORG_MAIN \
	"orgs:\n" \
	"  - name: main\n" \
	"    login_url: https://login.salesforce.com\n" \
	"    auth: {type: client_credentials, client_id: cid, client_secret_env: S}\n"
/* Lines 5-7: custom attributes of contracts. */
#define CUSTOM \
	"custom_attributes:\n" \
	"  contract:\n" \
	"    - {name: region, type: picklist, values: [EMEA, AMER]}\n"
/* Lines 8-14: a mapping whose fields start on line 15. */
#define MAP(entity, sobject) \
	"mappings:\n" \
	"  - name: m\n" \
	"    org: main\n" \
	"    entity: " entity "\n" \
	"    sobject: " sobject "\n" \
	"    external_id_field: CLM_Id__c\n" \
	"    fields:\n"
#define HEAD(entity, sobject) ORG_MAIN CUSTOM MAP(entity, sobject)
#define TITLE "      - {clm: title, sf: Name, owner: clm}\n"
/* A second mapping (counterparties, Account) starting on the line after the first's fields. */
#define CP_MAP(org) \
	"  - name: cps\n" \
	"    org: " org "\n" \
	"    entity: counterparty\n" \
	"    sobject: Account\n" \
	"    external_id_field: CLM_Id__c\n" \
	"    fields: [{clm: legal_name, sf: Name, owner: clm}]\n"
#define STATUSES "{draft: a, in_review: b, in_approval: c, approved: d, in_signature: e, " \
	"signed: f, active: g, expired: h, terminated: i, renewed: j}"

static const struct err_case sync_err_cases[] = {
	/* orgs */
	{ "orgs:\n  - name: main\n    login_url: http://login.example.com\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 3,
	  "orgs[0].login_url", "plain http is allowed only to a loopback address" },
	{ "orgs:\n  - name: main\n    login_url: http://127.0.0.1.example.com:80\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 3,
	  "orgs[0].login_url", "plain http" },
	{ "orgs:\n  - name: main\n    login_url: http://0177.0.0.1\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 3,
	  "orgs[0].login_url", "plain http" },
	{ "orgs:\n  - name: main\n    login_url: http://[::2]:80\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 3,
	  "orgs[0].login_url", "plain http" },
	{ "orgs:\n  - name: main\n    login_url: https://x.example.com\n"
	  "    instance_url: http://na1.example.com\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 4,
	  "orgs[0].instance_url", "plain http is allowed only to a loopback address" },
	{ "orgs:\n  - name: main\n    login_url: https://u:pw@x.example.com\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 3,
	  "orgs[0].login_url", "user or password" },
	{ "orgs:\n  - name: main\n    login_url: https://x.example.com/services\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 3,
	  "orgs[0].login_url", "no path" },
	{ "orgs:\n  - name: main\n    login_url: https://x.example.com:0\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 3,
	  "orgs[0].login_url", "port from 1 to 65535" },
	{ "orgs:\n  - name: main\n    login_url: ftp://x\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 3,
	  "orgs[0].login_url", "expected https://HOST[:PORT]" },
	{ "orgs:\n  - name: main\n    login_url: https://login.salesforce.com\n"
	  "    instance_url: http://example.com\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 4,
	  "orgs[0].instance_url", "plain http" },
	{ ORG_MAIN "    api_version: '41.0'\n", 5, "orgs[0].api_version", "from 42.0 to 62.0" },
	{ ORG_MAIN "    api_version: 62\n", 5, "orgs[0].api_version", "like \"62.0\"" },
	{ ORG_MAIN "    api_version: '63.0'\n", 5, "orgs[0].api_version", "from 42.0 to 62.0" },
	{ "orgs:\n  - name: Main\n    login_url: https://x\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 2,
	  "orgs[0].name", "[a-z][a-z0-9_-]*" },
	{ ORG_MAIN "  - name: main\n    login_url: https://y\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", 5,
	  "orgs[1].name", "main is also the name of orgs[0]" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n", 2, "orgs[0].auth", "missing" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n    auth:\n      type: jwt_bearer\n"
	  "      client_id: c\n      username: u@example.com\n", 5,
	  "orgs[0].auth.private_key_file", "missing (required for type jwt_bearer)" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n    auth:\n"
	  "      type: client_credentials\n      client_id: c\n      client_secret_env: S\n"
	  "      username: u@example.com\n", 8, "orgs[0].auth.username",
	  "only for type jwt_bearer, not client_credentials" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n    auth:\n"
	  "      type: jwt_bearer\n      client_id: c\n      username: u\n"
	  "      private_key_file: /k\n      refresh_token_env: R\n", 9,
	  "orgs[0].auth.refresh_token_env", "only for type refresh_token, not jwt_bearer" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n    auth:\n"
	  "      type: client_credentials\n      client_id: c\n", 5, "orgs[0].auth",
	  "give exactly one of client_secret_file and client_secret_env" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n    auth:\n"
	  "      type: refresh_token\n      client_id: c\n      refresh_token_env: R\n"
	  "      client_secret_env: S\n      client_secret_file: /s\n", 5, "orgs[0].auth",
	  "give at most one of client_secret_file and client_secret_env" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n    auth:\n"
	  "      type: refresh_token\n      client_id: c\n", 5, "orgs[0].auth",
	  "give exactly one of refresh_token_file and refresh_token_env" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n    auth:\n"
	  "      type: client_credentials\n      client_id: c\n      client_secret_env: S\n"
	  "      client_secret: s3cr3t\n", 8, "orgs[0].auth.client_secret",
	  "use client_secret_file or client_secret_env" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n    auth:\n"
	  "      type: jwt_bearer\n      client_id: c\n      username: u\n"
	  "      private_key_file: /k\n      private_key: '-----BEGIN'\n", 9,
	  "orgs[0].auth.private_key", "use private_key_file" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n    auth:\n"
	  "      type: oauth\n      client_id: c\n", 5, "orgs[0].auth.type",
	  "jwt_bearer, client_credentials or refresh_token" },
	{ "orgs:\n  - name: main\n    login_url: https://x\n    auth:\n"
	  "      type: client_credentials\n      client_id: 'a b'\n      client_secret_env: S\n", 6,
	  "orgs[0].auth.client_id", "visible ASCII" },
	{ ORG_MAIN "    client_name: 'a,b'\n", 5, "orgs[0].client_name", "letters, digits" },
	{ ORG_MAIN "    limits: {daily_budget_reserve_pct: 91}\n", 5,
	  "orgs[0].limits.daily_budget_reserve_pct", "from 0 to 90" },
	{ ORG_MAIN "    limits: {max_calls_per_minute: 0}\n", 5,
	  "orgs[0].limits.max_calls_per_minute", "from 1 to 100000" },
	/* mappings: names and references */
	{ ORG_MAIN CUSTOM "mappings:\n  - name: m\n    org: mainn\n    entity: contract\n"
	  "    sobject: Contract\n    external_id_field: CLM_Id__c\n    fields:\n" TITLE, 10,
	  "mappings[0].org", "no org named mainn (did you mean main?)" },
	{ CUSTOM "mappings:\n  - name: m\n    org: main\n    entity: contract\n"
	  "    sobject: Contract\n    external_id_field: CLM_Id__c\n    fields:\n" TITLE, 6,
	  "mappings[0].org", "orgs lists none" },
	{ HEAD("contract", "Contract") TITLE CP_MAP("main") "  - name: cps\n    org: main\n"
	  "    entity: obligation\n    sobject: Obligation__c\n    external_id_field: CLM_Id__c\n"
	  "    fields: [{clm: description, sf: Name, owner: clm}]\n    on_create: {clm: ignore}\n", 22,
	  "mappings[2].name",
	  "cps is also the name of mappings[1]" },
	{ ORG_MAIN CUSTOM "mappings:\n  - name: m\n    org: main\n    entity: contracts\n"
	  "    sobject: Contract\n    external_id_field: CLM_Id__c\n    fields:\n" TITLE, 11,
	  "mappings[0].entity", "did you mean contract?" },
	{ ORG_MAIN CUSTOM "mappings:\n  - name: m\n    org: main\n    entity: contract\n"
	  "    sobject: Contract\n    fields:\n" TITLE, 9, "mappings[0].external_id_field",
	  "missing (required)" },
	{ ORG_MAIN CUSTOM "mappings:\n  - name: m\n    org: main\n    entity: contract\n"
	  "    sobject: 'My Object'\n    external_id_field: CLM_Id__c\n    fields:\n" TITLE, 12,
	  "mappings[0].sobject", "Salesforce API name" },
	{ ORG_MAIN CUSTOM "mappings:\n  - name: m\n    org: main\n    entity: contract\n"
	  "    sobject: Contract\n    external_id_field: CLM_Id__c\n", 9, "mappings[0].fields",
	  "missing (required)" },
	/* a required section or list left empty (all of it commented out) is missing too: found by
	 * fuzz_config, an org whose auth was only a comment loaded, with no way to log in */
	{ ORG_MAIN CUSTOM "mappings:\n  - name: m\n    org: main\n    entity: contract\n"
	  "    sobject: Contract\n    external_id_field: CLM_Id__c\n    fields:   # none yet\n", 14,
	  "mappings[0].fields", "missing (required): it is empty" },
	{ "orgs:\n  - name: main\n    login_url: https://login.salesforce.com\n    auth:   # from a file\n", 4,
	  "orgs[0].auth", "missing (required): it is empty" },
	{ HEAD("contract", "Contract") TITLE CP_MAP("main") "  - name: c2\n    org: main\n"
	  "    entity: contract\n    sobject: contract\n    external_id_field: CLM_Id__c\n"
	  "    fields: [" "{clm: title, sf: Name, owner: clm}]\n", 25, "mappings[2].sobject",
	  "one mapping per sObject and org" },
	/* a repository field owned by Salesforce in two mappings a record can be routed to both of */
	{ HEAD("contract", "Contract") TITLE "  - name: cps\n    org: main\n    entity: counterparty\n"
	  "    sobject: Account\n    external_id_field: CLM_Id__c\n"
	  "    fields: [{clm: legal_name, sf: Name, owner: salesforce}]\n"
	  "  - name: cps2\n    org: main\n    entity: counterparty\n    sobject: Lead\n"
	  "    external_id_field: CLM_Id__c\n    fields: [{clm: legal_name, sf: Company, owner: salesforce}]\n", 27,
	  "mappings[2].fields[0].owner", "owned by Salesforce in mappings[1] (cps, org main) too" },
	/* fields: names */
	{ HEAD("contract", "Contract") "      - {clm: titel, sf: Name, owner: clm}\n", 15,
	  "mappings[0].fields[0].clm", "titel is not a field of contract (did you mean title?)" },
	{ HEAD("contract", "Contract") "      - {clm: custom.regio, sf: Region__c, owner: clm}\n",
	  15, "mappings[0].fields[0].clm", "did you mean custom.region?" },
	{ HEAD("contract", "Contract") "      - {clm: custom.zone, sf: Region__c, owner: clm}\n",
	  15, "mappings[0].fields[0].clm", "declare it under custom_attributes.contract" },
	{ HEAD("approval", "Approval__c")
	  "      - {clm: custom.region, sf: Region__c, owner: clm}\n    on_create: {clm: ignore}\n", 15,
	  "mappings[0].fields[0].clm", "approval records have no custom attributes" },
	{ HEAD("obligation", "Obligation__c")
	  "      - {clm: custom.region, sf: Region__c, owner: clm}\n    on_create: {clm: ignore}\n", 15,
	  "mappings[0].fields[0].clm", "declare it under custom_attributes.obligation" },
	{ HEAD("obligation", "Obligation__c")
	  "      - {clm: description, sf: Name, owner: clm}\n    on_create: {clm: create}\n", 16,
	  "mappings[0].on_create.clm", "obligation records made from Salesforce need their contract" },
	/* route: parent */
	{ HEAD("contract", "Contract") TITLE "    route: parent\n", 16, "mappings[0].route",
	  "route: parent is for records under a contract" },
	{ HEAD("obligation", "Obligation__c")
	  "      - {clm: description, sf: Name, owner: clm}\n    on_create: {clm: ignore}\n    route: parent\n", 17,
	  "mappings[0].route", "route: parent follows the contract mapping that contract_id's lookup names" },
	{ HEAD("contract", "Contract") TITLE "    on_delete: {clm: delete}\n", 16,
	  "mappings[0].on_delete.clm", "the repository does not delete a contract: use ignore or terminate" },
	{ HEAD("contract", "Contract") TITLE "      - {clm: number, sf: name, owner: clm}\n", 16,
	  "mappings[0].fields[1].sf", "name is also mapped by fields[0]" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: both, conflict: "
	  "manual}\n      - {clm: title, sf: Title__c, owner: salesforce}\n", 16,
	  "mappings[0].fields[1].clm", "also written from Salesforce by fields[0] (Name)" },
	{ HEAD("contract", "Contract") "      - {clm: number, sf: clm_id__c, owner: clm}\n", 15,
	  "mappings[0].fields[0].sf", "is the external_id_field" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: 'Na me', owner: clm}\n", 15,
	  "mappings[0].fields[0].sf", "Salesforce API name" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name}\n", 15,
	  "mappings[0].fields[0].owner", "missing (required)" },
	/* ownership and conflicts */
	{ HEAD("contract", "Contract") "      - clm: title\n        sf: Name\n        owner: both\n",
	  15, "mappings[0].fields[0].conflict", "missing (required for owner both)" },
	{ HEAD("contract", "Contract") "      - clm: title\n        sf: Name\n        owner: clm\n"
	  "        conflict: clm_wins\n", 18, "mappings[0].fields[0].conflict",
	  "only for owner both" },
	{ HEAD("contract", "Contract") "      - clm: title\n        sf: Name\n        owner: both\n"
	  "        conflict: manual\n        non_owner_write: accept\n", 19,
	  "mappings[0].fields[0].non_owner_write", "not for owner both" },
	{ HEAD("contract", "Contract") "      - clm: title\n        sf: Name\n        owner: both\n"
	  "        conflict: clm_win\n", 18, "mappings[0].fields[0].conflict",
	  "did you mean clm_wins?" },
	{ HEAD("contract", "Contract") "      - {clm: notice_deadline, sf: D__c, owner: salesforce}\n",
	  15, "mappings[0].fields[0].owner", "notice_deadline is set by the repository" },
	{ HEAD("contract", "Contract") "      - clm: notice_deadline\n        sf: D__c\n"
	  "        owner: clm\n        non_owner_write: accept\n", 17, "mappings[0].fields[0].owner",
	  "set by the repository" },
	/* value maps */
	{ HEAD("contract", "Contract") "      - clm: status\n        sf: Status\n        owner: clm\n"
	  "        value_map: {draft: Draft, in_review: Draft}\n", 18,
	  "mappings[0].fields[0].value_map", "does not cover in_approval, approved, in_signature, "
	  "signed, active, expired, terminated, renewed of status: map them or list them in "
	  "not_synced" },
	{ HEAD("contract", "Contract") "      - clm: status\n        sf: Status\n        owner: clm\n"
	  "        value_map: " STATUSES "\n        not_synced: [renewed]\n", 19,
	  "mappings[0].fields[0].not_synced[0]", "renewed is mapped in value_map too" },
	{ HEAD("contract", "Contract") "      - clm: status\n        sf: Status\n        owner: clm\n"
	  "        value_map: {draft: a, in_review: b, in_approval: c, approved: d, in_signature: e,\n"
	  "                    signed: f, active: g, expired: h, terminated: i, renewd: j}\n", 19,
	  "mappings[0].fields[0].value_map.renewd", "renewd is not a value of status (did you mean "
	  "renewed?)" },
	{ HEAD("contract", "Contract") "      - clm: status\n        sf: Status\n        owner: clm\n"
	  "        value_map: {draft: a, in_review: b, in_approval: c, approved: d, in_signature: e,\n"
	  "                    signed: f, active: g}\n        not_synced: [expired, terminated, "
	  "Renewed]\n", 20, "mappings[0].fields[0].not_synced[2]", "did you mean renewed?" },
	{ HEAD("contract", "Contract") "      - clm: status\n        sf: Status\n        owner: both\n"
	  "        conflict: manual\n        value_map: {draft: a, in_review: b, in_approval: c,\n"
	  "          approved: d, in_signature: e, signed: f, active: g, expired: h,\n"
	  "          terminated: i, renewed: a}\n", 21, "mappings[0].fields[0].value_map.renewed",
	  "value_map is not one-to-one: a stands for draft too" },
	{ HEAD("contract", "Contract") "      - clm: status\n        sf: Status\n        owner: clm\n"
	  "        non_owner_write: accept\n        value_map: {draft: a, in_review: a, in_approval: "
	  "c, approved: d, in_signature: e, signed: f, active: g, expired: h, terminated: i, "
	  "renewed: j}\n", 19, "mappings[0].fields[0].value_map.in_review", "not one-to-one" },
	{ HEAD("contract", "Contract") "      - {clm: status, sf: Status, owner: clm}\n", 15,
	  "mappings[0].fields[0].value_map", "missing (required for status" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: clm, not_synced: [a]}\n",
	  15, "mappings[0].fields[0].not_synced", "only with value_map" },
	{ HEAD("contract", "Contract") "      - {clm: effective_date, sf: D__c, owner: clm, "
	  "value_map: {a: b}}\n", 15, "mappings[0].fields[0].value_map",
	  "value_map is for statuses, picklists, text and booleans; effective_date is a date" },
	{ HEAD("contract", "Contract") "      - {clm: auto_renew, sf: A__c, owner: clm, "
	  "value_map: {'true': Y}}\n", 15, "mappings[0].fields[0].value_map",
	  "does not cover false of auto_renew" },
	{ HEAD("contract", "Contract") "      - {clm: custom.region, sf: R__c, owner: clm, "
	  "value_map: {EMEA: E, APAC: P}}\n", 15, "mappings[0].fields[0].value_map.APAC",
	  "APAC is not a value of custom.region" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: clm, value_map: x}\n",
	  15, "mappings[0].fields[0].value_map", "expected a mapping of values" },
	{ HEAD("contract", "Contract") "      - clm: title\n        sf: Name\n        owner: clm\n"
	  "        value_map:\n          a: b\n          c:\n", 20,
	  "mappings[0].fields[0].value_map.c", "needs a value" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: clm, value_map: {a: b},"
	  " transform: truncate, max_length: 5, allow_truncate: true}\n", 15,
	  "mappings[0].fields[0].value_map", "only with transform none" },
	/* transforms */
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: clm, transform: "
	  "truncate, max_length: 80}\n", 15, "mappings[0].fields[0].transform",
	  "set allow_truncate: true" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: both, conflict: "
	  "manual, transform: truncate, max_length: 80, allow_truncate: true}\n", 15,
	  "mappings[0].fields[0].owner", "truncate loses information" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: clm, transform: "
	  "truncate, allow_truncate: true}\n", 15, "mappings[0].fields[0].max_length",
	  "missing (required for transform truncate)" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: clm, allow_truncate: "
	  "true}\n", 15, "mappings[0].fields[0].allow_truncate", "only for transform truncate" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: clm, max_length: 8}\n",
	  15, "mappings[0].fields[0].max_length", "only for transform truncate" },
	{ HEAD("contract", "Contract") "      - {clm: total_value, sf: V__c, owner: clm}\n", 15,
	  "mappings[0].fields[0].transform", "total_value is money: map its amount with transform "
	  "money_amount" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: clm, transform: "
	  "date_to_datetime}\n", 15, "mappings[0].fields[0].transform",
	  "date_to_datetime does not apply to title, which is text" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: clm, transform: "
	  "money_amount}\n", 15, "mappings[0].fields[0].transform", "does not apply to title" },
	{ HEAD("contract", "Contract") "      - {clm: custom.region, sf: V__c, owner: clm, "
	  "transform: decimal_to_currency, scale: 2}\n", 15, "mappings[0].fields[0].transform",
	  "decimal_to_currency does not apply to custom.region" },
	{ HEAD("contract", "Contract") "      - {clm: total_value, sf: V__c, owner: clm, "
	  "transform: money_currency, scale: 2}\n", 15, "mappings[0].fields[0].scale",
	  "only for transform money_amount or decimal_to_currency" },
	{ HEAD("contract", "Contract") "      - {clm: term_months, sf: V__c, owner: clm, "
	  "transform: decimal_to_currency}\n", 15, "mappings[0].fields[0].scale",
	  "missing (required for transform decimal_to_currency)" },
	{ HEAD("contract", "Contract") "      - {clm: total_value, sf: V__c, owner: clm, "
	  "transform: money_amount, scale: 19}\n", 15, "mappings[0].fields[0].scale",
	  "from 0 to 18" },
	{ HEAD("approval", "Approval__c") "      - {clm: decided_at, sf: D__c, owner: both, "
	  "conflict: manual, transform: datetime_to_date}\n    on_create: {clm: ignore}\n", 15,
	  "mappings[0].fields[0].owner",
	  "datetime_to_date loses information" },
	{ HEAD("contract", "Contract")
	  "      - {clm: title, sf: Name, owner: clm, transform: truncat}\n",
	  15, "mappings[0].fields[0].transform", "did you mean truncate?" },
	/* lookups */
	{ HEAD("contract", "Contract") "      - {clm: counterparty_id, sf: AccountId, owner: clm}\n",
	  15, "mappings[0].fields[0].clm", "add lookup: {mapping: <the counterparty mapping>}" },
	{ HEAD("contract", "Contract") "      - {clm: counterparty_id, sf: AccountId, owner: clm,\n"
	  "         lookup: {mapping: cp}}\n" CP_MAP("main"), 16,
	  "mappings[0].fields[0].lookup.mapping", "no mapping named cp (did you mean cps?)" },
	{ ORG_MAIN "  - name: other\n    login_url: https://x\n"
	  "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n"
	  CUSTOM MAP("contract", "Contract")
	  "      - {clm: counterparty_id, sf: AccountId, owner: clm,\n"
	  "         lookup: {mapping: cps}}\n" CP_MAP("other"), 19,
	  "mappings[0].fields[0].lookup.mapping",
	  "mapping cps syncs with org other, not main: a lookup stays within its org" },
	{ HEAD("contract", "Contract") "      - {clm: counterparty_id, sf: AccountId, owner: clm,\n"
	  "         lookup: {mapping: m}}\n", 16, "mappings[0].fields[0].lookup.mapping",
	  "mapping m maps contract records; counterparty_id refers to a counterparty" },
	{ HEAD("contract", "Contract") "      - {clm: salesforce_opportunity_id, sf: Opp__c, "
	  "owner: clm,\n         lookup: {mapping: cps}}\n" CP_MAP("main"), 16,
	  "mappings[0].fields[0].lookup.mapping",
	  "salesforce_opportunity_id holds Opportunity ids; mapping cps maps Account" },
	{ HEAD("contract", "Contract") "      - {clm: title, sf: Name, owner: clm,\n"
	  "         lookup: {mapping: m}}\n", 16, "mappings[0].fields[0].lookup",
	  "only for references" },
	{ HEAD("contract", "Contract") "      - {clm: counterparty_id, sf: AccountId, owner: clm,\n"
	  "         transform: truncate, max_length: 3, allow_truncate: true, lookup: {mapping: cps}}\n"
	  CP_MAP("main"), 16, "mappings[0].fields[0].lookup", "takes no value_map or transform" },
	{ HEAD("obligation", "Obligation__c")
	  "      - {clm: contract_id, sf: Contract__c, owner: clm}\n",
	  15, "mappings[0].fields[0].clm", "<the contract mapping>" },
	/* match, route, create and delete */
	{ HEAD("contract", "Contract") TITLE "    match: {by: keys}\n", 16, "mappings[0].match.keys",
	  "missing (required for by keys)" },
	{ HEAD("contract", "Contract") TITLE "    match: {keys: [[number, CLM_Number__c]]}\n", 16,
	  "mappings[0].match.keys", "only for by keys" },
	{ HEAD("contract", "Contract") TITLE "    match: {by: keys, keys: [[nummer, X__c]]}\n", 16,
	  "mappings[0].match.keys[0]", "did you mean number?" },
	{ HEAD("contract", "Contract") TITLE "    match: {by: keys, keys: [[number]]}\n", 16,
	  "mappings[0].match.keys[0]", "expected a pair" },
	{ HEAD("contract", "Contract") TITLE "    match: {by: keys, keys: [[number, 'X Y']]}\n", 16,
	  "mappings[0].match.keys[0]", "Salesforce API name" },
	{ HEAD("contract", "Contract") TITLE "    match: {by: keys, keys: [[total_value, V__c]]}\n",
	  16, "mappings[0].match.keys[0]", "matching on money" },
	{ HEAD("contract", "Contract") TITLE "    route: everything\n", 16, "mappings[0].route",
	  "expected all or parent, or a section" },
	{ HEAD("contract", "Contract") TITLE "    route: {field: custom.region, in: [EMEA], "
	  "not_in: [AMER]}\n", 16, "mappings[0].route", "exactly one of in and not_in" },
	{ HEAD("contract", "Contract") TITLE "    route: {field: custom.region, in: [emea]}\n", 16,
	  "mappings[0].route.in[0]", "emea is not a value of custom.region (did you mean EMEA?)" },
	{ HEAD("contract", "Contract") TITLE "    route: {field: regoin, not_in: [x]}\n", 16,
	  "mappings[0].route.field", "not a field of contract" },
	{ HEAD("contract", "Contract") TITLE "    route: {in: [x]}\n", 16,
	  "mappings[0].route.field", "missing (required)" },
	{ HEAD("counterparty", "Account") "      - {clm: legal_name, sf: Name, owner: clm}\n"
	  "    on_delete: {clm: terminate}\n", 16, "mappings[0].on_delete.clm",
	  "terminate is for contracts" },
	{ HEAD("contract", "Contract") TITLE "    on_delete: {salesforce: terminate}\n", 16,
	  "mappings[0].on_delete.salesforce", "expected delete or ignore" },
	{ HEAD("contract", "Contract") TITLE "    on_create: {clm: update}\n", 16,
	  "mappings[0].on_create.clm", "expected create or ignore" },
	/* sync */
	{ "sync:\n  batch_max: 201\n", 2, "sync.batch_max", "from 1 to 200" },
	{ "sync:\n  linger_ms: 1001\n", 2, "sync.linger_ms", "from 0 to 1000" },
	{ "sync:\n  outbox_workers: 0\n", 2, "sync.outbox_workers", "from 1 to 64" },
	{ "sync:\n  retry:\n    initial_ms: 500\n    max_ms: 100\n", 4, "sync.retry.max_ms",
	  "100 is less than initial_ms (500)" },
	{ "sync:\n  reconcile: {interval_s: 604801}\n", 2, "sync.reconcile.interval_s",
	  "from 0 to 604800" },
	{ "sync:\n  lingerms: 5\n", 2, "sync.lingerms", "did you mean linger_ms?" },
	{ "batch_max: 5\n", 1, "batch_max", "did you mean sync.batch_max?" },
};

static void
each_sync_error(void **state)
{
	for (size_t i = 0; i < sizeof(sync_err_cases) / sizeof(sync_err_cases[0]); i++) {
		const struct err_case *ec = &sync_err_cases[i];
		struct cs_config *c = (struct cs_config *)&c;
		struct cs_error_list errs;
		cs_err rc;

		print_message("case %zu:\n%s", i, ec->yaml);
		rc = load(ec->yaml, CS_CONFIG_NO_SECRETS, &c, &errs);
		dump_errors(&errs);
		assert_int_equal(rc, CS_EINVAL);
		assert_null(c);
		assert_int_equal(errs.n, 1);
		assert_string_equal(errs.v[0].key, ec->key);
		assert_int_equal(errs.v[0].line, ec->line);
		assert_non_null(strstr(errs.v[0].msg, ec->msg));
		cs_error_list_cleanup(&errs);
	}
}

/* Every org, mapping and field lands in the structs the engine reads. */
static void
sync_structs(void **state)
{
	static const char *const yaml =
	    "orgs:\n"
	    "  - name: emea\n"
	    "    login_url: https://login.salesforce.com/\n"
	    "    instance_url: http://[::1]:8441/\n"
	    "    api_version: '58.0'\n"
	    "    auth: {type: refresh_token, client_id: cid, refresh_token_env: TEST_CFG_RT}\n"
	    "    client_name: clm-emea\n"
	    "    limits: {daily_budget_reserve_pct: 25, max_calls_per_minute: 900}\n"
	    "  - name: amer\n"
	    "    login_url: http://localhost:8441\n"
	    "    auth: {type: client_credentials, client_id: c2, client_secret_env: TEST_CFG_CS}\n"
	    "custom_attributes:\n"
	    "  contract:\n"
	    "    - {name: region, type: picklist, values: [EMEA, AMER, APAC]}\n"
	    "    - {name: amount, type: decimal}\n"
	    "mappings:\n"
	    "  - name: contracts-emea\n"
	    "    org: emea\n"
	    "    entity: contract\n"
	    "    sobject: Contract\n"
	    "    external_id_field: CLM_Id__c\n"
	    "    route: {field: custom.region, in: [EMEA, APAC]}\n"
	    "    on_delete: {clm: terminate, salesforce: ignore}\n"
	    "    fields:\n"
	    "      - {clm: counterparty_id, sf: AccountId, owner: clm, lookup: {mapping: cps-emea}}\n"
	    "      - clm: status\n"
	    "        sf: Status\n"
	    "        owner: clm\n"
	    "        value_map: {draft: Draft, in_review: Draft, in_approval: In Approval Process,\n"
	    "                    approved: In Approval Process, in_signature: In Approval Process,\n"
	    "                    signed: In Approval Process, active: Activated}\n"
	    "        not_synced: [expired, terminated, renewed]\n"
	    "      - clm: type\n"
	    "        sf: CLM_Type__c\n"
	    "        owner: both\n"
	    "        conflict: last_writer_wins\n"
	    "        value_map: {msa: MSA, sow: SOW, nda: NDA, order_form: Order Form,\n"
	    "                    amendment: Amendment, renewal: Renewal, other: Other}\n"
	    "      - {clm: total_value, sf: CLM_Value__c, owner: clm, transform: money_amount, "
	    "scale: 0}\n"
	    "      - {clm: total_value, sf: CLM_Currency__c, owner: clm, transform: money_currency}\n"
	    "      - {clm: custom.amount, sf: Amount__c, owner: salesforce, non_owner_write: ignore,\n"
	    "         transform: decimal_to_currency, scale: 2}\n"
	    "      - {clm: title, sf: Name, owner: clm, non_owner_write: ignore, transform: truncate,\n"
	    "         max_length: 80, allow_truncate: true}\n"
	    "      - {clm: effective_date, sf: Start__c, owner: clm, non_owner_write: accept,\n"
	    "         transform: date_to_datetime}\n"
	    "  - name: cps-emea\n"
	    "    org: emea\n"
	    "    entity: counterparty\n"
	    "    sobject: Account\n"
	    "    external_id_field: CLM_Id__c\n"
	    "    match: {by: keys, keys: [[legal_name, Name], [country, BillingCountry]]}\n"
	    "    on_create: {clm: ignore}\n"
	    "    fields: [{clm: legal_name, sf: Name, owner: salesforce}]\n"
	    "sync:\n"
	    "  linger_ms: 0\n"
	    "  batch_max: 50\n"
	    "  retry: {initial_ms: 10, max_ms: 10, max_attempts: 3}\n"
	    "  reconcile: {interval_s: 0, overlap_s: 60}\n"
	    "  outbox_workers: 2\n";
	struct cs_config *c;
	struct cs_error_list errs;
	const struct cs_org *o;
	const struct cs_mapping *m, *cp;
	const struct cs_field_map *f;
	const char *v;

	setenv("TEST_CFG_RT", "5Aep861.refresh-token", 1);
	setenv("TEST_CFG_CS", "0123456789ABCDEF", 1);
	assert_int_equal(load(yaml, 0, &c, &errs), CS_OK);
	dump_errors(&errs);
	assert_int_equal(c->norgs, 2);
	o = cs_config_org(c, "emea");
	assert_ptr_equal(o, &c->orgs[0]);
	assert_string_equal(o->login_url, "https://login.salesforce.com");   /* final '/' gone */
	assert_string_equal(o->instance_url, "http://[::1]:8441");
	assert_string_equal(o->api_version, "58.0");
	assert_int_equal(o->api_major, 58);
	assert_int_equal(o->auth.type, CS_AUTH_REFRESH_TOKEN);
	assert_string_equal(cs_auth_type_name(o->auth.type), "refresh_token");
	assert_string_equal(o->auth.client_id, "cid");
	assert_string_equal(o->auth.refresh_token, "5Aep861.refresh-token");
	assert_string_equal(o->auth.client_secret, "");   /* optional for this flow, not given */
	assert_string_equal(o->auth.private_key, "");
	assert_string_equal(o->auth.username, "");
	assert_string_equal(o->client_name, "clm-emea");
	assert_int_equal(o->limits.daily_budget_reserve_pct, 25);
	assert_int_equal(o->limits.max_calls_per_minute, 900);
	o = cs_config_org(c, "amer");
	assert_non_null(o);
	assert_string_equal(o->instance_url, "");
	assert_int_equal(o->api_major, 62);
	assert_string_equal(o->client_name, "clmsync");
	assert_int_equal(o->limits.daily_budget_reserve_pct, 10);
	assert_int_equal(o->limits.max_calls_per_minute, 0);
	assert_string_equal(o->auth.client_secret, "0123456789ABCDEF");
	assert_null(cs_config_org(c, "apac"));

	assert_int_equal(c->nmappings, 2);
	m = cs_config_mapping(c, "contracts-emea");
	cp = cs_config_mapping(c, "cps-emea");
	assert_ptr_equal(m, &c->mappings[0]);
	assert_ptr_equal(cp, &c->mappings[1]);
	assert_null(cs_config_mapping(c, "nope"));
	assert_int_equal(m->entity, CS_ENTITY_CONTRACT);
	assert_string_equal(cs_entity_name(m->entity), "contract");
	assert_int_equal(m->org_index, 0);
	assert_ptr_equal(m->org_cfg, &c->orgs[0]);
	assert_string_equal(m->sobject, "Contract");
	assert_string_equal(m->external_id_field, "CLM_Id__c");
	assert_int_equal(m->match.by, CS_MATCH_EXTERNAL_ID);
	assert_int_equal(m->match.nkeys, 0);
	assert_int_equal(m->route.kind, CS_ROUTE_IN);
	assert_string_equal(m->route.field, "custom.region");
	assert_int_equal(m->route.nin, 2);
	assert_string_equal(m->route.in[1], "APAC");
	assert_int_equal(m->route.nnot_in, 0);
	assert_int_equal(m->on_create.clm, CS_CREATE_CREATE);
	assert_int_equal(m->on_create.salesforce, CS_CREATE_CREATE);
	assert_int_equal(m->on_delete.clm, CS_DELETE_TERMINATE);
	assert_int_equal(m->on_delete.salesforce, CS_DELETE_IGNORE);
	assert_int_equal(m->nfields, 8);

	f = &m->fields[0];   /* the lookup, resolved to the counterparty mapping */
	assert_string_equal(f->lookup_mapping, "cps-emea");
	assert_ptr_equal(f->lookup_to, cp);
	assert_int_equal(f->lookup_index, 1);
	assert_int_equal(f->kind, CS_VALUE_REFERENCE);
	assert_int_equal(f->owner, CS_OWNER_CLM);
	assert_int_equal(f->non_owner_write, CS_NON_OWNER_REVERT);
	assert_int_equal(f->conflict, CS_CONFLICT_NONE);
	assert_int_equal(f->transform, CS_TRANSFORM_NONE);
	assert_false(f->from_salesforce);

	f = &m->fields[1];   /* the coarse status: many to one, with values left out */
	assert_int_equal(f->kind, CS_VALUE_ENUM);
	assert_null(f->lookup_to);
	assert_string_equal(f->lookup_mapping, "");
	assert_int_equal(f->nvalue_map, 7);
	assert_int_equal(f->nnot_synced, 3);
	assert_int_equal(cs_field_map_to_sf(f, "in_review", &v), CS_MAP_OK);
	assert_string_equal(v, "Draft");
	assert_int_equal(cs_field_map_to_sf(f, "active", &v), CS_MAP_OK);
	assert_string_equal(v, "Activated");
	assert_int_equal(cs_field_map_to_sf(f, "expired", &v), CS_MAP_NOT_SYNCED);
	assert_null(v);
	assert_int_equal(cs_field_map_to_sf(f, "lost", &v), CS_MAP_UNMAPPED);
	assert_int_equal(cs_field_map_to_clm(f, "Draft", &v), CS_MAP_AMBIGUOUS);
	assert_int_equal(cs_field_map_to_clm(f, "Activated", &v), CS_MAP_OK);
	assert_string_equal(v, "active");

	f = &m->fields[2];   /* one-to-one, both ways */
	assert_int_equal(f->owner, CS_OWNER_BOTH);
	assert_int_equal(f->conflict, CS_CONFLICT_LAST_WRITER_WINS);
	assert_int_equal(f->non_owner_write, 0);   /* does not apply to owner both */
	assert_true(f->from_salesforce);
	assert_int_equal(cs_field_map_to_sf(f, "order_form", &v), CS_MAP_OK);
	assert_string_equal(v, "Order Form");
	assert_int_equal(cs_field_map_to_clm(f, "Order Form", &v), CS_MAP_OK);
	assert_string_equal(v, "order_form");
	assert_int_equal(cs_field_map_to_clm(f, "order form", &v), CS_MAP_UNMAPPED);
	assert_null(v);

	f = &m->fields[3];
	assert_int_equal(f->kind, CS_VALUE_MONEY);
	assert_int_equal(f->transform, CS_TRANSFORM_MONEY_AMOUNT);
	assert_true(f->has_scale);
	assert_int_equal(f->scale, 0);
	assert_false(m->fields[4].has_scale);
	assert_int_equal(m->fields[4].transform, CS_TRANSFORM_MONEY_CURRENCY);

	f = &m->fields[5];   /* a custom attribute owned by Salesforce */
	assert_int_equal(f->kind, CS_VALUE_DECIMAL);
	assert_non_null(f->attr);
	assert_string_equal(f->attr->name, "amount");
	assert_int_equal(f->owner, CS_OWNER_SALESFORCE);
	assert_int_equal(f->non_owner_write, CS_NON_OWNER_IGNORE);
	assert_int_equal(f->scale, 2);
	assert_true(f->from_salesforce);
	/* no value map: values pass through */
	assert_int_equal(cs_field_map_to_sf(f, "12.50", &v), CS_MAP_OK);
	assert_string_equal(v, "12.50");
	assert_int_equal(cs_field_map_to_clm(f, "12.50", &v), CS_MAP_OK);

	f = &m->fields[6];
	assert_int_equal(f->transform, CS_TRANSFORM_TRUNCATE);
	assert_int_equal(f->max_length, 80);
	assert_true(f->allow_truncate);
	assert_false(f->from_salesforce);
	assert_true(m->fields[7].from_salesforce);   /* accept: Salesforce's edits are taken */
	assert_int_equal(m->fields[7].transform, CS_TRANSFORM_DATE_TO_DATETIME);

	assert_int_equal(cp->match.by, CS_MATCH_KEYS);
	assert_int_equal(cp->match.nkeys, 2);
	assert_string_equal(cp->match.keys[1].clm, "country");
	assert_string_equal(cp->match.keys[1].sf, "BillingCountry");
	assert_int_equal(cp->route.kind, CS_ROUTE_ALL);
	assert_string_equal(cp->route.field, "");
	assert_int_equal(cp->on_create.clm, CS_CREATE_IGNORE);
	assert_int_equal(cp->on_delete.clm, CS_DELETE_IGNORE);
	assert_int_equal(cp->on_delete.salesforce, CS_DELETE_DELETE);

	assert_int_equal(c->sync.linger_ms, 0);
	assert_int_equal(c->sync.batch_max, 50);
	assert_int_equal(c->sync.retry.initial_ms, 10);
	assert_int_equal(c->sync.retry.max_ms, 10);
	assert_int_equal(c->sync.retry.max_attempts, 3);
	assert_int_equal(c->sync.reconcile.interval_s, 0);
	assert_int_equal(c->sync.reconcile.overlap_s, 60);
	assert_int_equal(c->sync.outbox_workers, 2);

	/* The dump loads back to the same dump. */
	{
		struct cs_buf a, b;
		struct cs_config *c2;
		struct cs_error_list e2;

		cs_buf_init(&a, 1 << 20);
		cs_buf_init(&b, 1 << 20);
		assert_int_equal(cs_config_dump(c, &a), CS_OK);
		assert_null(strstr(a.data, "5Aep861"));
		assert_null(strstr(a.data, "0123456789ABCDEF"));
		assert_int_equal(load(a.data, 0, &c2, &e2), CS_OK);
		dump_errors(&e2);
		assert_int_equal(cs_config_dump(c2, &b), CS_OK);
		assert_string_equal(a.data, b.data);
		assert_ptr_equal(c2->mappings[0].fields[0].lookup_to, &c2->mappings[1]);
		cs_config_free(c2);
		cs_error_list_cleanup(&e2);
		cs_buf_cleanup(&a);
		cs_buf_cleanup(&b);
	}
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	unsetenv("TEST_CFG_RT");
	unsetenv("TEST_CFG_CS");
}

/* The sections can come in any order: cross-references resolve once the file is read. */
static void
sync_any_order(void **state)
{
	static const char *const yaml =
	    "mappings:\n"
	    "  - name: b\n"
	    "    org: o\n"
	    "    entity: contract\n"
	    "    sobject: Project__c\n"
	    "    external_id_field: Clm_Key__c\n"
	    "    fields:\n"
	    "      - {clm: custom.tier, sf: Tier__c, owner: both, conflict: clm_wins}\n"
	    "      - {clm: parent_contract_id, sf: Parent__c, owner: clm, lookup: {mapping: b}}\n"
	    "orgs: [{name: o, login_url: 'https://x.my.salesforce.com:8443', auth: {type: "
	    "client_credentials, client_id: c, client_secret_env: S}}]\n"
	    "custom_attributes:\n"
	    "  contract: [{name: tier, type: text}]\n";
	struct cs_config *c;
	struct cs_error_list errs;

	assert_int_equal(load(yaml, CS_CONFIG_NO_SECRETS, &c, &errs), CS_OK);
	dump_errors(&errs);
	assert_int_equal(c->mappings[0].fields[0].kind, CS_VALUE_TEXT);
	assert_ptr_equal(c->mappings[0].fields[1].lookup_to, &c->mappings[0]);   /* to itself */
	assert_string_equal(c->orgs[0].auth.client_secret, "");   /* NO_SECRETS: not read */
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
}

/* Every problem of a bad mapping file is reported, each on its own line. */
static void
sync_all_errors(void **state)
{
	static const char *const yaml =
	    HEAD("contract", "Contract")
	    "      - {clm: titel, sf: Name, owner: clm}\n"                 /* 15 */
	    "      - {clm: status, sf: Status, owner: both}\n"              /* 16 */
	    "      - {clm: counterparty_id, sf: name, owner: clm}\n"        /* 17 */
	    "  - name: m\n"                                                 /* 18 */
	    "    org: nowhere\n"                                            /* 19 */
	    "    entity: counterparty\n"
	    "    sobject: Account\n"
	    "    external_id_field: CLM_Id__c\n"
	    "    fields: [{clm: legal_name, sf: Name, owner: clm}]\n";
	struct cs_config *c;
	struct cs_error_list errs;
	static const struct { int line; const char *key; } want[] = {
		{ 16, "mappings[0].fields[1].conflict" },
		{ 17, "mappings[0].fields[2].sf" },
		{ 18, "mappings[1].name" },
		{ 15, "mappings[0].fields[0].clm" },
		{ 16, "mappings[0].fields[1].value_map" },
		{ 17, "mappings[0].fields[2].clm" },
		{ 19, "mappings[1].org" },
	};

	assert_int_equal(load(yaml, CS_CONFIG_NO_SECRETS, &c, &errs), CS_EINVAL);
	dump_errors(&errs);
	assert_int_equal(errs.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < errs.n; i++) {
		assert_int_equal(errs.v[i].line, want[i].line);
		assert_string_equal(errs.v[i].key, want[i].key);
	}
	cs_error_list_cleanup(&errs);
}

static void
sync_limits(void **state)
{
	char *text = malloc(256 * 1024);
	size_t k = 0;
	struct cs_config *c;
	struct cs_error_list errs;

	assert_non_null(text);
	k += (size_t)snprintf(text + k, 64, "orgs:\n");
	for (int i = 0; i <= CS_CONFIG_ORGS_MAX; i++)
		k += (size_t)snprintf(text + k, 200, "  - {name: o%d, login_url: 'https://x', auth: "
		                      "{type: client_credentials, client_id: c, client_secret_env: S}}\n",
		                      i);
	assert_int_equal(load(text, CS_CONFIG_NO_SECRETS, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.v[0].msg, "0 to 16 entries"));
	cs_error_list_cleanup(&errs);

	k = (size_t)snprintf(text, 512, ORG_MAIN "mappings:\n");
	for (int i = 0; i <= CS_CONFIG_MAPPINGS_MAX; i++)
		k += (size_t)snprintf(text + k, 300, "  - {name: m%d, org: main, entity: contract, "
		                      "sobject: S%d__c, external_id_field: X__c, fields: [{clm: title, sf: "
		                      "Name, owner: clm}]}\n", i, i);
	assert_int_equal(load(text, CS_CONFIG_NO_SECRETS, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.v[0].msg, "0 to 64 entries"));
	cs_error_list_cleanup(&errs);

	k = (size_t)snprintf(text, 512, HEAD("contract", "Contract"));
	for (int i = 0; i <= CS_CONFIG_FIELDS_MAX; i++)
		k += (size_t)snprintf(text + k, 100, "      - {clm: title, sf: F%d__c, owner: clm}\n", i);
	assert_int_equal(load(text, CS_CONFIG_NO_SECRETS, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.v[0].msg, "1 to 200 entries"));
	cs_error_list_cleanup(&errs);
	/* exactly at the limit loads */
	k = (size_t)snprintf(text, 512, HEAD("contract", "Contract"));
	for (int i = 0; i < CS_CONFIG_FIELDS_MAX; i++)
		k += (size_t)snprintf(text + k, 100, "      - {clm: title, sf: F%d__c, owner: clm}\n", i);
	assert_int_equal(load(text, CS_CONFIG_NO_SECRETS, &c, &errs), CS_OK);
	assert_int_equal(c->mappings[0].nfields, CS_CONFIG_FIELDS_MAX);
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	free(text);
}

#define TEST_KEY \
	"-----BEGIN PRIVATE KEY-----\n" \
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7test0nly0000\n" \
	"-----END PRIVATE KEY-----\n"

static char *
jwt_yaml(const char *key_file)
{
	static char text[1024];

	snprintf(text, sizeof(text),
	         "orgs:\n  - name: main\n    login_url: https://login.salesforce.com\n    auth:\n"
	         "      type: jwt_bearer\n      client_id: cid\n      username: u@example.com\n"
	         "      private_key_file: %s\n", key_file);
	return text;
}

/* OAuth secrets: read from files (the private key only when no one else may read it) or the
 * environment, never shown. */
static void
sync_secrets(void **state)
{
	static const struct {
		const char *content;
		mode_t mode;
		const char *msg;   /* NULL: accepted */
	} cases[] = {
		{ TEST_KEY, 0600, NULL },
		{ TEST_KEY, 0400, NULL },
		{ "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu7test0nly00000000000\n"
		  "-----END RSA PRIVATE KEY-----\n", 0600, NULL },
		{ TEST_KEY, 0640, "accessible to its group (mode 0640)" },
		{ TEST_KEY, 0620, "accessible to its group" },
		{ TEST_KEY, 0604, "accessible to every user (mode 0604)" },
		{ "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQ\n"
		  "-----END ENCRYPTED PRIVATE KEY-----\n", 0600, "unencrypted PEM key" },
		{ "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n"
		  "-----END CERTIFICATE-----\n", 0600, "does not hold a valid private key" },
		{ "", 0600, "does not hold a valid private key" },
	};
	char kf[128], sf[128], cfg[128], text[1024];
	static char out[256 * 1024];
	struct cs_config *c;
	struct cs_error_list errs;

	snprintf(kf, sizeof(kf), "%s/sf.key", tmpdir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cs_err rc;

		print_message("key case %zu\n", i);
		unlink(kf);
		write_file(kf, cases[i].content, cases[i].mode);
		rc = load(jwt_yaml(kf), 0, &c, &errs);
		dump_errors(&errs);
		if (cases[i].msg == NULL) {
			assert_int_equal(rc, CS_OK);
			assert_string_equal(c->orgs[0].auth.private_key, cases[i].content);
			cs_config_free(c);
		} else {
			assert_int_equal(rc, CS_EINVAL);
			assert_int_equal(errs.n, 1);
			assert_int_equal(errs.v[0].line, 8);
			assert_string_equal(errs.v[0].key, "orgs[0].auth.private_key_file");
			assert_non_null(strstr(errs.v[0].msg, cases[i].msg));
			assert_null(strstr(errs.v[0].text, "MII"));   /* no part of the key in a message */
		}
		cs_error_list_cleanup(&errs);
	}
	unlink(kf);
	assert_int_equal(load(jwt_yaml(kf), 0, &c, &errs), CS_EINVAL);
	assert_non_null(strstr(errs.v[0].msg, "cannot open"));
	cs_error_list_cleanup(&errs);

	/* a client secret from a file: one line, others may not read it */
	snprintf(sf, sizeof(sf), "%s/client.secret", tmpdir);
	snprintf(text, sizeof(text),
	         "orgs:\n  - name: main\n    login_url: https://login.salesforce.com\n    auth:\n"
	         "      type: client_credentials\n      client_id: cid\n"
	         "      client_secret_file: %s\n", sf);
	write_file(sf, "s3cr3t-client-value\n", 0640);
	assert_int_equal(load(text, 0, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.v[0].line, 7);
	assert_non_null(strstr(errs.v[0].msg, "accessible to its group (mode 0640); restrict it with chmod 600"));
	assert_non_null(strstr(errs.v[0].msg, sf));
	assert_null(strstr(errs.v[0].text, "s3cr3t-client-value"));
	cs_error_list_cleanup(&errs);
	unlink(sf);
	write_file(sf, "s3cr3t-client-value\n", 0600);
	assert_int_equal(load(text, 0, &c, &errs), CS_OK);
	assert_string_equal(c->orgs[0].auth.client_secret, "s3cr3t-client-value");
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	unlink(sf);
	write_file(sf, "s3cr3t-client-value\n", 0644);
	assert_int_equal(load(text, 0, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.v[0].line, 7);
	assert_non_null(strstr(errs.v[0].msg, "accessible to every user"));
	cs_error_list_cleanup(&errs);
	unlink(sf);
	write_file(sf, "two words\n", 0600);
	assert_int_equal(load(text, 0, &c, &errs), CS_EINVAL);
	assert_non_null(strstr(errs.v[0].msg, "visible ASCII"));
	assert_null(strstr(errs.v[0].text, "two words"));
	cs_error_list_cleanup(&errs);

	/* from the environment */
	unsetenv("TEST_CFG_SECRET");
	assert_int_equal(load(ORG_MAIN, 0, &c, &errs), CS_EINVAL);   /* client_secret_env: S */
	assert_int_equal(errs.v[0].line, 4);
	assert_string_equal(errs.v[0].key, "orgs[0].auth.client_secret_env");
	assert_non_null(strstr(errs.v[0].msg, "environment variable S is not set"));
	cs_error_list_cleanup(&errs);

	/* config check reads them and prints them masked */
	unlink(kf);
	write_file(kf, TEST_KEY, 0600);
	unlink(sf);
	write_file(sf, "s3cr3t-client-value\n", 0600);
	snprintf(cfg, sizeof(cfg), "%s/orgs.yaml", tmpdir);
	snprintf(text, sizeof(text),
	         "orgs:\n"
	         "  - name: a\n    login_url: https://login.salesforce.com\n    auth:\n"
	         "      type: jwt_bearer\n      client_id: cid\n      username: u@example.com\n"
	         "      private_key_file: %s\n"
	         "  - name: b\n    login_url: https://test.salesforce.com\n    auth:\n"
	         "      type: refresh_token\n      client_id: cid\n"
	         "      refresh_token_env: TEST_CFG_SECRET\n      client_secret_file: %s\n", kf, sf);
	write_file(cfg, text, 0644);
	setenv("TEST_CFG_SECRET", "5Aep-refresh-token-value", 1);
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", cfg), 0);
	assert_null(strstr(out, "MIIE"));
	assert_null(strstr(out, "5Aep-refresh-token-value"));
	assert_null(strstr(out, "s3cr3t-client-value"));
	assert_non_null(strstr(out, "# private_key: \"****\" (loaded)"));
	assert_non_null(strstr(out, "# refresh_token: \"****\" (loaded)"));
	assert_non_null(strstr(out, "# client_secret: \"****\" (loaded)"));
	assert_non_null(strstr(out, "refresh_token_env: \"TEST_CFG_SECRET\""));
	unsetenv("TEST_CFG_SECRET");
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", cfg), 1);
	assert_non_null(strstr(out, ":14: orgs[1].auth.refresh_token_env: environment variable "
	                       "TEST_CFG_SECRET is not set"));
}

/* Copies the example at rel to dir with every "/etc/clmsync/" and "/var/lib/clmsync" pointing
 * into dir; writes the result's path to out. */
static void
example_copy(const char *rel, char *out, size_t n)
{
	char path[1024], *text, *res;
	size_t len = 0, k = 0;
	FILE *f;

	source_path(rel, path, sizeof(path));
	f = fopen(path, "rb");
	assert_non_null(f);
	text = calloc(1, 256 * 1024);
	res = calloc(1, 512 * 1024);
	assert_non_null(text);
	assert_non_null(res);
	len = fread(text, 1, 256 * 1024 - 1, f);
	fclose(f);
	for (size_t i = 0; i < len && k + 256 < 512 * 1024; i++) {
		if (strncmp(text + i, "/etc/clmsync/", 13) == 0) {
			k += (size_t)snprintf(res + k, 256, "%s/", tmpdir);
			i += 12;
		} else if (strncmp(text + i, "/var/lib/clmsync", 16) == 0) {
			k += (size_t)snprintf(res + k, 256, "%s", tmpdir);
			i += 15;
		} else {
			res[k++] = text[i];
		}
	}
	snprintf(out, n, "%s/example.yaml", tmpdir);
	write_file(out, res, 0644);
	free(text);
	free(res);
}

/* The shipped sync examples pass `config check` with the files and variables they name. */
static void
sync_examples_pass(void **state)
{
	static char out[512 * 1024];
	char path[1024], kf[128], tf[128];
	struct cs_config *c;
	struct cs_error_list errs;
	const struct cs_mapping *m;

	snprintf(kf, sizeof(kf), "%s/salesforce.key", tmpdir);
	snprintf(tf, sizeof(tf), "%s/admin.token", tmpdir);
	unlink(kf);
	unlink(tf);
	write_file(kf, TEST_KEY, 0600);
	write_file(tf, TOKEN_A "\n", 0600);
	example_copy("config/examples/clmsync.yaml", path, sizeof(path));
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", path), 0);
	assert_null(strstr(out, "MIIE"));
	assert_null(strstr(out, TOKEN_A));
	assert_non_null(strstr(out, "# private_key: \"****\" (loaded)"));

	/* what the engine gets from it */
	cs_error_list_init(&errs);
	assert_int_equal(cs_config_load(path, &c, &errs), CS_OK);
	assert_int_equal(c->norgs, 1);
	assert_int_equal(c->orgs[0].auth.type, CS_AUTH_JWT_BEARER);
	assert_int_equal(c->nmappings, 3);
	m = cs_config_mapping(c, "contracts");
	assert_non_null(m);
	for (size_t i = 0; i < m->nfields; i++) {
		const struct cs_field_map *f = &m->fields[i];
		const char *v;

		if (strcmp(f->sf, "AccountId") == 0)
			assert_ptr_equal(f->lookup_to, cs_config_mapping(c, "counterparties"));
		if (strcmp(f->sf, "Opportunity__c") == 0)
			assert_ptr_equal(f->lookup_to, cs_config_mapping(c, "contract-opportunity"));
		if (strcmp(f->sf, "Status") == 0) {
			assert_int_equal(cs_field_map_to_sf(f, "signed", &v), CS_MAP_OK);
			assert_string_equal(v, "In Approval Process");
			assert_int_equal(cs_field_map_to_sf(f, "terminated", &v), CS_MAP_NOT_SYNCED);
		}
		if (strcmp(f->sf, "CLM_Lifecycle_Status__c") == 0) {
			assert_int_equal(cs_field_map_to_clm(f, "In Signature", &v), CS_MAP_OK);
			assert_string_equal(v, "in_signature");
		}
	}
	m = cs_config_mapping(c, "contract-opportunity");
	assert_non_null(m);
	assert_int_equal(m->match.by, CS_MATCH_KEYS);
	assert_int_equal(m->fields[0].owner, CS_OWNER_SALESFORCE);
	assert_ptr_equal(m->fields[0].attr, cs_config_attr_find(&c->custom_contract,
	                                                        "opportunity_amount"));
	cs_config_free(c);
	cs_error_list_cleanup(&errs);

	/* without the key it fails, naming the file's line */
	unlink(kf);
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", path), 1);
	assert_non_null(strstr(out, "orgs[0].auth.private_key_file: cannot open"));

	source_path("config/examples/demo.yaml", path, sizeof(path));
	setenv("CLMSYNC_DEMO_SECRET", "clmsync-test-secret", 1);
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", path), 0);
	assert_null(strstr(out, "clmsync-test-secret"));
	assert_non_null(strstr(out, "login_url: \"http://127.0.0.1:8441\""));
	assert_non_null(strstr(out, "# client_secret: \"****\" (loaded)"));
	unsetenv("CLMSYNC_DEMO_SECRET");
	assert_int_equal(run_config(out, sizeof(out), 3, "config", "check", path), 1);
	assert_non_null(strstr(out, "CLMSYNC_DEMO_SECRET is not set"));
}

#define TEST_CERT \
	"-----BEGIN CERTIFICATE-----\n" \
	"MIIBszCCAVmgAwIBAgIUtest0nly0000000000000000000000000000000000000\n" \
	"-----END CERTIFICATE-----\n"

/* The server section's defaults and bounds, each listener's HTTPS files (both or neither, the key
 * held to a private key's rules), and plain http to any loopback address. */
static void
security_settings(void **state)
{
	struct cs_config *c;
	struct cs_error_list errs;
	char cf[128], kf[128], text[1024];

	assert_int_equal(load("log: {level: info}\n", 0, &c, &errs), CS_OK);
	assert_string_equal(c->server.user, "");
	assert_int_equal(c->server.idle_timeout_s, 60);
	assert_int_equal(c->server.header_timeout_s, 10);
	assert_int_equal(c->server.max_connections, 512);
	assert_int_equal(c->server.max_connections_per_ip, 64);
	assert_int_equal(c->server.auth_failures, 10);
	assert_int_equal(c->server.auth_window_s, 60);
	assert_string_equal(c->repository.tls.cert, "");
	assert_string_equal(c->admin.tls.key, "");
	cs_config_free(c);
	cs_error_list_cleanup(&errs);

	assert_int_equal(load("server:\n  user: nobody\n  header_timeout_s: 3\n  auth_failures: 0\n", 0, &c, &errs),
	                 CS_OK);
	assert_string_equal(c->server.user, "nobody");
	assert_int_equal(c->server.header_timeout_s, 3);
	assert_int_equal(c->server.auth_failures, 0);
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	assert_int_equal(load("server:\n  header_timeout_s: 0\n", 0, &c, &errs), CS_EINVAL);
	assert_string_equal(errs.v[0].key, "server.header_timeout_s");
	cs_error_list_cleanup(&errs);
	assert_int_equal(load("server:\n  user: 'root; rm'\n", 0, &c, &errs), CS_EINVAL);
	assert_string_equal(errs.v[0].key, "server.user");
	cs_error_list_cleanup(&errs);

	/* HTTPS: both files read; the key never printed */
	snprintf(cf, sizeof(cf), "%s/tls.crt", tmpdir);
	snprintf(kf, sizeof(kf), "%s/tls.key", tmpdir);
	write_file(cf, TEST_CERT, 0644);
	write_file(kf, TEST_KEY, 0600);
	snprintf(text, sizeof(text), "log: {level: info}\nadmin:\n  tls_cert_file: %s\n  tls_key_file: %s\n", cf, kf);
	assert_int_equal(load(text, 0, &c, &errs), CS_OK);
	assert_string_equal(c->admin.tls.cert, TEST_CERT);
	assert_string_equal(c->admin.tls.key, TEST_KEY);
	assert_string_equal(c->repository.tls.cert, "");
	{
		struct cs_buf b;
		cs_buf_init(&b, 1 << 20);
		assert_int_equal(cs_config_dump(c, &b), CS_OK);
		assert_null(memmem(b.data, b.len, "test0nly", 8));
		cs_buf_cleanup(&b);
	}
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	/* a key its group may read: refused, naming the file, the key and the fix */
	write_file(kf, TEST_KEY, 0640);
	assert_int_equal(load(text, 0, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.n, 1);
	assert_int_equal(errs.v[0].line, 4);
	assert_string_equal(errs.v[0].key, "admin.tls_key_file");
	assert_non_null(strstr(errs.v[0].msg, kf));
	assert_non_null(strstr(errs.v[0].msg, "chmod 600"));
	cs_error_list_cleanup(&errs);
	/* a certificate that is not one; a certificate without its key */
	write_file(kf, TEST_KEY, 0600);
	write_file(cf, "not a certificate, just words in a file, long enough to be read\n", 0644);
	assert_int_equal(load(text, 0, &c, &errs), CS_EINVAL);
	assert_string_equal(errs.v[0].key, "admin.tls_cert_file");
	assert_non_null(strstr(errs.v[0].msg, "BEGIN CERTIFICATE"));
	cs_error_list_cleanup(&errs);
	snprintf(text, sizeof(text), "repository:\n  tls_cert_file: %s\n", cf);
	assert_int_equal(load(text, 0, &c, &errs), CS_EINVAL);
	assert_int_equal(errs.v[0].line, 2);
	assert_non_null(strstr(errs.v[0].msg, "both tls_cert_file and tls_key_file"));
	cs_error_list_cleanup(&errs);

	/* plain http: any 127.0.0.0/8 address, localhost and [::1]; nothing else */
	static const char *const loop[] = { "http://127.0.0.1:8080", "http://127.1.2.3", "http://localhost:1",
		                            "http://[::1]:443", "https://login.example.com" };
	for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++) {
		snprintf(text, sizeof(text), "orgs:\n  - name: main\n    login_url: %s\n"
		         "    auth: {type: client_credentials, client_id: c, client_secret_env: S}\n", loop[i]);
		print_message("login_url %s\n", loop[i]);
		assert_int_equal(load(text, CS_CONFIG_NO_SECRETS, &c, &errs), CS_OK);
		cs_config_free(c);
		cs_error_list_cleanup(&errs);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(valid_file),
		cmocka_unit_test(each_error),
		cmocka_unit_test(all_errors),
		cmocka_unit_test(listen_parse),
		cmocka_unit_test(bounds_accepted),
		cmocka_unit_test(too_many),
		cmocka_unit_test(secret_files),
		cmocka_unit_test(security_settings),
		cmocka_unit_test(secret_env),
		cmocka_unit_test(alerts_section),
		cmocka_unit_test(check_command),
		cmocka_unit_test(example_passes),
		cmocka_unit_test(reference_matches_docs),
		cmocka_unit_test(size_limit),
		cmocka_unit_test(dump_round_trip),
		cmocka_unit_test(each_sync_error),
		cmocka_unit_test(sync_structs),
		cmocka_unit_test(sync_any_order),
		cmocka_unit_test(sync_all_errors),
		cmocka_unit_test(sync_limits),
		cmocka_unit_test(sync_secrets),
		cmocka_unit_test(sync_examples_pass),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_config.c - the configuration loader: valid files, every kind of error with its line,
 * bounds, secrets, limits, the generated reference and the shipped example. */
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
	assert_null(cs_config_attrs(c, "obligation"));
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
		{ TOKEN_A "\r\n", 0640, NULL },
		{ TOKEN_A, 0400, NULL },
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
		cmocka_unit_test(secret_env),
		cmocka_unit_test(check_command),
		cmocka_unit_test(example_passes),
		cmocka_unit_test(reference_matches_docs),
		cmocka_unit_test(size_limit),
		cmocka_unit_test(dump_round_trip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

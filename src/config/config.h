/* config.h - the clmsync configuration: loading and validating the YAML file, defaults, reference.
 *
 * Every setting is declared once, in the table in config.c (name, type, default, bounds, secret,
 * validator, help); the loader, `clmsync config check`, `clmsync config reference` and
 * docs/configuration.md all come from it. A file is validated whole: every error is collected
 * with file, line and key before anything starts. Secrets (API tokens) come from files or
 * environment variables, never inline, and are never printed.
 *
 * Relative paths in the file (store, data_dir, token_file) are relative to the working directory
 * of the process, like the built-in defaults.
 */
#ifndef CS_CONFIG_H
#define CS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#define CS_CONFIG_FILE_MAX (1024 * 1024)   /* bytes in a configuration file */
#define CS_CONFIG_ERRORS_MAX 100           /* errors kept per load; more are counted */
#define CS_CONFIG_TOKENS_MAX 64            /* api_tokens entries */
#define CS_CONFIG_ATTRS_MAX 100            /* custom attributes per entity */
#define CS_CONFIG_PICKLIST_MAX 500         /* values of one picklist attribute */
#define CS_CONFIG_NAME_MAX 64              /* bytes in a token or attribute name */
#define CS_CONFIG_STRING_MAX 1024          /* bytes in any other scalar */
#define CS_CONFIG_SECRET_MAX 4096          /* bytes in a token, from file or environment */
#define CS_CONFIG_SECRET_MIN 16            /* a shorter token is refused as guessable */
#define CS_CONFIG_HOST_MAX 256             /* bytes in a listen host, NUL included */

/* One problem found in a configuration. line is 1-based, 0 when not tied to a line. */
struct cs_config_error {
	int line;
	char *key;    /* dotted path ("repository.listen", "api_tokens[1].role"), "" for the file */
	char *msg;    /* the problem, safe to print (never a secret) */
	char *text;   /* "FILE:LINE: KEY: MSG", ready to print */
};

/* A caller-owned list of errors: init with cs_error_list_init, release with
 * cs_error_list_cleanup. Keeps the first CS_CONFIG_ERRORS_MAX errors; `dropped` counts the rest. */
struct cs_error_list {
	struct cs_config_error *v;
	size_t n;
	size_t cap;
	size_t dropped;
};

void cs_error_list_init(struct cs_error_list *l);
void cs_error_list_cleanup(struct cs_error_list *l);
/* Prints every error, one per line, then "... and N more errors" when some were dropped. */
void cs_error_list_print(const struct cs_error_list *l, FILE *f);

/* API token roles, ordered: a higher role may do everything a lower one may. */
enum cs_role { CS_ROLE_READ = 1, CS_ROLE_WRITE = 2, CS_ROLE_ADMIN = 3 };

/* Returns "read", "write" or "admin" (or "?"). */
const char *cs_role_name(enum cs_role r);

/* An API token. secret is the token itself (NUL-terminated, secret_len bytes, trailing newline
 * of a file removed; "" when loaded with CS_CONFIG_NO_SECRETS); never log it. file and env are
 * as configured (one of them ""). source says where it came from, safe to print
 * ("file /etc/clmsync/admin.token", "environment CLMSYNC_ADMIN_TOKEN"). */
struct cs_api_token {
	char *name;
	enum cs_role role;
	char *secret;
	size_t secret_len;
	char *file;
	char *env;
	char *source;
};

enum cs_attr_type {
	CS_ATTR_TEXT, CS_ATTR_NUMBER, CS_ATTR_DECIMAL, CS_ATTR_DATE, CS_ATTR_DATETIME,
	CS_ATTR_BOOLEAN, CS_ATTR_PICKLIST
};

/* Returns "text", "number", ... (or "?"). */
const char *cs_attr_type_name(enum cs_attr_type t);

/* A custom attribute declaration. name matches [a-z][a-z0-9_]* (at most CS_CONFIG_NAME_MAX - 1
 * bytes). values/nvalues: the allowed values of a picklist (at least one, no repeats), else
 * NULL/0. max_length: for text, the most characters (Unicode code points) allowed, 0 = no limit
 * but the repository's own bound; 0 for other types. */
struct cs_attr_decl {
	char *name;
	enum cs_attr_type type;
	bool required;
	unsigned max_length;
	char **values;
	size_t nvalues;
};

struct cs_attr_list {
	struct cs_attr_decl *v;
	size_t n;
};

/* A loaded, valid configuration. Read-only after load; share it between threads freely.
 * Every string is non-NULL. */
struct cs_config {
	char *path;                    /* the file it came from, "" for the built-in defaults */
	char *store_url;               /* "sqlite:PATH" or "postgresql://..." */
	char *data_dir;
	struct {
		char *listen;              /* as written, "HOST:PORT" */
		char host[CS_CONFIG_HOST_MAX];  /* without brackets for IPv6 */
		uint16_t port;
		size_t max_body;           /* bytes */
		size_t max_document_size;  /* bytes */
		unsigned scheduler_interval;  /* seconds */
	} repository;
	struct cs_api_token *tokens;
	size_t ntokens;
	struct cs_attr_list custom_counterparty;
	struct cs_attr_list custom_contract;
	struct {
		enum cs_log_level level;
		bool json;
	} log;
};

/* Flags for cs_config_load_buffer. */
#define CS_CONFIG_NO_SECRETS 0x1   /* check secret references but do not read files or the
                                    * environment (secret stays ""); for fuzzing and offline tools */

/* Reads, parses and validates the YAML file at path. On success *out is a new configuration,
 * caller frees with cs_config_free(). On failure *out is NULL and errs (caller-initialised) holds
 * every problem found, each naming path, line and key. Errors: CS_EINVAL the file is invalid
 * (errs says why), CS_EPARSE not YAML, CS_ETOOBIG over CS_CONFIG_FILE_MAX (checked before reading),
 * CS_EIO cannot read it, CS_ENOMEM. Reads token files and the environment. Not thread-safe with
 * setenv(). */
cs_err cs_config_load(const char *path, struct cs_config **out, struct cs_error_list *errs);

/* As cs_config_load for len bytes at data, named `name` in messages. flags: CS_CONFIG_NO_SECRETS
 * or 0. Borrows data for the call. */
cs_err cs_config_load_buffer(const char *name, const char *data, size_t len, unsigned flags,
                             struct cs_config **out, struct cs_error_list *errs);

/* The built-in defaults (what `clmsync serve` runs with and no file): store
 * "sqlite:./clmsync-data/clmsync.db", data_dir "./clmsync-data", listen 127.0.0.1:8440, no tokens,
 * no custom attributes. *out is new, caller frees with cs_config_free(). CS_ENOMEM only. */
cs_err cs_config_defaults(struct cs_config **out);

/* Releases c and wipes its secrets. NULL is a no-op. */
void cs_config_free(struct cs_config *c);

/* The declarations of custom attributes for entity "counterparty" or "contract", or NULL for any
 * other entity. Borrowed from c. */
const struct cs_attr_list *cs_config_attrs(const struct cs_config *c, const char *entity);

/* Finds a declaration by name in l, or NULL. */
const struct cs_attr_decl *cs_config_attr_find(const struct cs_attr_list *l, const char *name);

/* Appends to b the effective settings of c as YAML, every secret masked ("****"), as printed by
 * `clmsync config check`. */
cs_err cs_config_dump(const struct cs_config *c, struct cs_buf *b);

/* Appends to b the Markdown reference of every setting (docs/configuration.md), generated from
 * the table. */
cs_err cs_config_reference(struct cs_buf *b);

/* Parses "HOST:PORT" ("127.0.0.1:8440", "[::1]:8440", "localhost:80"). host gets the host without
 * brackets (hostn bytes). Returns false when malformed or the port is not 1..65535. */
bool cs_config_parse_listen(const char *s, char *host, size_t hostn, uint16_t *port);

#endif

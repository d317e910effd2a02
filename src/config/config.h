/* config.h - the clmsync configuration: loading and validating the YAML file, defaults, reference.
 *
 * Every setting is declared once, in the table in config.c (name, type, default, bounds, secret,
 * validator, help); the loader, `clmsync config check`, `clmsync config reference` and
 * docs/configuration.md all come from it. A file is validated whole: every error is collected
 * with file, line and key before anything starts, including the rules that tie settings together
 * (a mapping names an org that exists, a lookup names a mapping of the same org, a repository
 * field exists for the entity, a value map covers every status). Secrets (API tokens, OAuth
 * keys and secrets) come from files or environment variables, never inline, and are never printed.
 *
 * Relative paths in the file (store, data_dir, token_file, private_key_file, ...) are relative to
 * the working directory of the process, like the built-in defaults.
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
#define CS_CONFIG_ORGS_MAX 16              /* orgs entries */
#define CS_CONFIG_MAPPINGS_MAX 64          /* mappings entries */
#define CS_CONFIG_FIELDS_MAX 200           /* fields of one mapping */
#define CS_CONFIG_MATCH_KEYS_MAX 5         /* match.keys pairs of one mapping */
#define CS_CONFIG_SF_NAME_MAX 80           /* bytes in a Salesforce object or field API name */
#define CS_CONFIG_URL_MAX 512              /* bytes in a login or instance URL */
#define CS_CONFIG_KEY_FILE_MAX (16 * 1024) /* bytes in a private key file (PEM) */

struct cs_config;

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

/* --- Salesforce orgs ------------------------------------------------------------------------ */

/* OAuth 2.0 flows clmsync uses to get an access token. */
enum cs_auth_type {
	CS_AUTH_JWT_BEARER = 1,      /* client_id + username + private key (RS256 assertion) */
	CS_AUTH_CLIENT_CREDENTIALS,  /* client_id + client secret */
	CS_AUTH_REFRESH_TOKEN,       /* client_id + refresh token (+ client secret if the app wants it) */
};

/* Returns "jwt_bearer", "client_credentials" or "refresh_token" (or "?"). */
const char *cs_auth_type_name(enum cs_auth_type t);

/* How one org is authenticated. The *_file and *_env strings are as configured ("" when not
 * given). The secrets themselves are loaded (NUL-terminated text, "" when the flow does not use
 * them or the file was loaded with CS_CONFIG_NO_SECRETS); never log them:
 *   private_key: the PEM text of an unencrypted RSA key (jwt_bearer), from private_key_file;
 *   client_secret: client_credentials (required), refresh_token (optional);
 *   refresh_token: refresh_token flow.
 * The loader has already refused a private key file its group or others may read, a secret file
 * others may read, and a missing environment variable. */
struct cs_org_auth {
	enum cs_auth_type type;
	char *client_id;             /* the connected app's consumer key (not a secret) */
	char *username;              /* jwt_bearer: the integration user, the assertion's `sub` */
	char *private_key_file;
	char *client_secret_file;
	char *client_secret_env;
	char *refresh_token_file;
	char *refresh_token_env;
	char *private_key;
	char *client_secret;
	char *refresh_token;
};

/* One Salesforce org. login_url and instance_url have no trailing '/'; each is https://..., or
 * http:// to a loopback address (an emulator on this machine). instance_url is "" when
 * the one in the token response is to be used. */
struct cs_org {
	char *name;                  /* [a-z][a-z0-9_-]*, unique; links and cursors are kept per name */
	char *login_url;             /* token endpoint base, and the JWT audience */
	char *instance_url;
	char *api_version;           /* "62.0" */
	unsigned api_major;          /* 62: the version as a number, 42 to 62 */
	struct cs_org_auth auth;
	char *client_name;           /* sent as Sforce-Call-Options: client=<client_name> */
	struct {
		unsigned daily_budget_reserve_pct;  /* pause reconcile below this share of the daily
		                                     * API budget remaining, 0 to 90 */
		unsigned max_calls_per_minute;      /* 0 = no limit of our own */
	} limits;
};

/* --- mappings ------------------------------------------------------------------------------- */

/* The repository's synced entities. */
enum cs_entity {
	CS_ENTITY_COUNTERPARTY = 1, CS_ENTITY_CONTRACT, CS_ENTITY_AMENDMENT, CS_ENTITY_OBLIGATION,
	CS_ENTITY_APPROVAL, CS_ENTITY_SIGNATURE,
};

/* Returns "counterparty", "contract", ... (or "?"). */
const char *cs_entity_name(enum cs_entity e);

/* The value type of a repository field, from the table of known fields in config.c. */
enum cs_value_kind {
	CS_VALUE_TEXT = 1,
	CS_VALUE_INTEGER,
	CS_VALUE_DECIMAL,     /* exact decimal in a string */
	CS_VALUE_MONEY,       /* {amount, currency}: mapped in parts (money_amount, money_currency) */
	CS_VALUE_DATE,
	CS_VALUE_DATETIME,
	CS_VALUE_BOOLEAN,
	CS_VALUE_ENUM,        /* a fixed set of values (a status, a custom picklist) */
	CS_VALUE_REFERENCE,   /* the id of another repository record (counterparty_id, ...) */
	CS_VALUE_SFID,        /* a Salesforce record id kept as a plain attribute */
	CS_VALUE_ID,          /* the record's own id */
};

enum cs_owner { CS_OWNER_CLM = 1, CS_OWNER_SALESFORCE, CS_OWNER_BOTH };
enum cs_non_owner { CS_NON_OWNER_REVERT = 1, CS_NON_OWNER_IGNORE, CS_NON_OWNER_ACCEPT };
enum cs_conflict {
	CS_CONFLICT_NONE = 0,        /* owner is not both */
	CS_CONFLICT_CLM_WINS, CS_CONFLICT_SALESFORCE_WINS, CS_CONFLICT_LAST_WRITER_WINS,
	CS_CONFLICT_MANUAL,
};
enum cs_transform {
	CS_TRANSFORM_NONE = 1,
	CS_TRANSFORM_DATE_TO_DATETIME,     /* repository date <-> Salesforce datetime (00:00 UTC) */
	CS_TRANSFORM_DATETIME_TO_DATE,     /* repository datetime -> Salesforce date (UTC day) */
	CS_TRANSFORM_MONEY_AMOUNT,         /* the amount of a money field <-> a currency field */
	CS_TRANSFORM_MONEY_CURRENCY,       /* the currency of a money field <-> an ISO code field */
	CS_TRANSFORM_DECIMAL_TO_CURRENCY,  /* decimal or integer <-> currency field with `scale` */
	CS_TRANSFORM_TRUNCATE,             /* text cut to max_length characters (to Salesforce only) */
};
enum cs_match_by { CS_MATCH_EXTERNAL_ID = 1, CS_MATCH_KEYS };
enum cs_create_policy { CS_CREATE_CREATE = 1, CS_CREATE_IGNORE };
enum cs_delete_policy { CS_DELETE_DELETE = 1, CS_DELETE_IGNORE, CS_DELETE_TERMINATE };
enum cs_route_kind { CS_ROUTE_ALL = 1, CS_ROUTE_IN, CS_ROUTE_NOT_IN, CS_ROUTE_PARENT };

/* A repository name and a Salesforce name: a value map entry (repository value, picklist value)
 * or a match key (repository field, Salesforce field). */
struct cs_pair {
	char *clm;
	char *sf;
};

/* One mapped field. The loader has checked, for every loaded file:
 * - clm names a known field of the mapping's entity or custom.<attr> declared for it;
 * - a field Salesforce can write into the repository (from_salesforce) is not read-only there,
 *   is not truncated, and no other field of the mapping writes the same repository field;
 * - conflict is set exactly when owner is both; non_owner_write applies when it is not;
 * - transform fits the field's kind (money is mapped in parts, dates and date-times convert
 *   explicitly, truncation only with allow_truncate);
 * - value_map keys are values of the field (for a status or picklist), every value of the field is
 *   either mapped or listed in not_synced, and the map is one-to-one when from_salesforce;
 * - a reference field has a lookup, to a mapping of the same org for the referenced entity (or,
 *   for a Salesforce id attribute, for that sObject). */
struct cs_field_map {
	char *clm;                   /* "title", "total_value", "custom.region" */
	char *sf;                    /* the Salesforce field's API name */
	enum cs_owner owner;
	enum cs_non_owner non_owner_write;   /* owner clm or salesforce; 0 for owner both */
	enum cs_conflict conflict;   /* owner both only; CS_CONFLICT_NONE otherwise */
	enum cs_transform transform;
	unsigned scale;              /* money_amount, decimal_to_currency: fraction digits */
	bool has_scale;              /* scale was given (0 is a scale) */
	unsigned max_length;         /* truncate: characters kept */
	bool allow_truncate;
	struct cs_pair *value_map;   /* repository value -> Salesforce value, in file order */
	size_t nvalue_map;
	char **not_synced;           /* repository values never written to this field */
	size_t nnot_synced;
	char *lookup_mapping;        /* lookup.mapping as written, "" when not a lookup */
	/* Derived by the loader: */
	enum cs_value_kind kind;     /* of the repository field */
	bool clm_readonly;           /* the repository sets it (notice_deadline, id, ...) */
	bool from_salesforce;        /* Salesforce values are applied to the repository: owner
	                              * salesforce or both, or non_owner_write accept */
	const struct cs_attr_decl *attr;        /* custom.<name>: its declaration, else NULL */
	size_t lookup_index;         /* index in cs_config.mappings when lookup_to != NULL */
	const struct cs_mapping *lookup_to;     /* the lookup's mapping, NULL when not a lookup */
};

/* One repository entity <-> sObject mapping in one org.
 * on_create/on_delete: each key names the side that acts. on_create.salesforce says what a
 * record created in the repository does in Salesforce (create it or ignore it); on_create.clm
 * what a record created in Salesforce does in the repository. on_delete likewise: .salesforce is
 * what a repository delete does to the Salesforce record (delete, ignore), .clm what a Salesforce
 * delete does to the repository record (delete, ignore, or terminate a contract). */
struct cs_mapping {
	char *name;                  /* [a-z][a-z0-9_-]*, unique */
	char *org;                   /* an orgs[].name */
	enum cs_entity entity;
	char *sobject;
	char *external_id_field;     /* the Salesforce field holding the repository id (upsert key) */
	struct {
		enum cs_match_by by;
		struct cs_pair *keys;    /* by keys: (repository field, Salesforce field), 1 or more */
		size_t nkeys;
	} match;
	/* Which records of the entity this mapping syncs: all, or those whose route.field is (in) or
	 * is not (not_in) one of the values. A record without a value is routed by not_in only. A
	 * record under a contract (an obligation, ...) may follow its contract (parent): it is
	 * routed here when its contract is routed to the mapping its contract_id lookup names. */
	struct {
		enum cs_route_kind kind;
		const struct cs_mapping *parent;   /* parent: the contract mapping followed */
		char *field;             /* "" for all */
		char **in;
		size_t nin;
		char **not_in;
		size_t nnot_in;
	} route;
	struct {
		enum cs_create_policy clm, salesforce;
	} on_create;
	struct {
		enum cs_delete_policy clm, salesforce;
	} on_delete;
	struct cs_field_map *fields;
	size_t nfields;
	/* Derived by the loader: */
	size_t org_index;            /* in cs_config.orgs */
	const struct cs_org *org_cfg;
};

/* How a value map translates one value. */
enum cs_map_result {
	CS_MAP_OK,          /* *out is the translated value (borrowed from the configuration) */
	CS_MAP_NOT_SYNCED,  /* the repository value is listed in not_synced: leave the field alone */
	CS_MAP_UNMAPPED,    /* no entry: a permanent error for that record, never a guess */
	CS_MAP_AMBIGUOUS,   /* to the repository through a many-to-one map (never when
	                     * f->from_salesforce, which the loader made one-to-one) */
};

/* Translates a repository value into the Salesforce value of f. A field without a value map
 * passes every value through (CS_MAP_OK, *out = v). Borrows f and v; thread-safe. */
enum cs_map_result cs_field_map_to_sf(const struct cs_field_map *f, const char *v,
                                      const char **out);

/* Translates a Salesforce value of f into the repository value, the other way round: CS_MAP_OK,
 * CS_MAP_UNMAPPED, or CS_MAP_AMBIGUOUS for a value of a many-to-one map. Borrows f and v;
 * thread-safe. */
enum cs_map_result cs_field_map_to_clm(const struct cs_field_map *f, const char *v,
                                       const char **out);

/* The mapping named name in c, or NULL. Borrowed from c. */
const struct cs_mapping *cs_config_mapping(const struct cs_config *c, const char *name);

/* The org named name in c, or NULL. Borrowed from c. */
const struct cs_org *cs_config_org(const struct cs_config *c, const char *name);

/* A listener's HTTPS. cert_file and key_file are as configured ("" both: plain HTTP). cert is
 * the PEM text of the certificate (its chain after it) and key that of its private key, read at
 * load ("" when plain, or when loaded with CS_CONFIG_NO_SECRETS); the loader has refused a key
 * file its group or others may read. Never log key. */
struct cs_tls {
	char *cert_file;
	char *key_file;
	char *cert;
	char *key;
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
		struct cs_tls tls;
	} repository;
	struct {
		bool enabled;
		char *listen;              /* as written, "HOST:PORT" */
		char host[CS_CONFIG_HOST_MAX];
		uint16_t port;
		unsigned stream_down_unready_s;
		struct cs_tls tls;
	} admin;
	/* What every listener and the process itself are held to (docs/security.md). */
	struct {
		char *user;                /* drop to this user when started as root; "" none */
		unsigned idle_timeout_s;   /* a connection quiet this long is closed */
		unsigned header_timeout_s; /* a request's line and headers arrive within this */
		unsigned max_connections;  /* per listener */
		unsigned max_connections_per_ip; /* per listener and client address; 0 no limit */
		unsigned auth_failures;    /* invalid tokens per client address in a window; 0 off */
		unsigned auth_window_s;    /* the window, from the first failure in it */
	} server;
	/* The alert webhook (src/admin/alerts.c). webhook_url is "" when there is none; then
	 * secret_file, secret_env and secret are "" too. Otherwise the loader has read the signing
	 * key into secret (NUL-terminated, 16 to 4096 visible ASCII characters; "" when loaded with
	 * CS_CONFIG_NO_SECRETS), refusing a file others may read and a missing variable; never log
	 * it. The thresholds are those of the rules in config/alerts/clmsync-rules.yml. */
	struct {
		char *webhook_url;
		char *secret_file;
		char *secret_env;
		char *secret;
		unsigned interval_s;       /* between evaluations */
		unsigned stream_down_s;    /* a stream disconnected this long */
		unsigned lag_s;            /* the oldest pending change older than this */
		unsigned retention_left_s; /* a replay position with less left; 0 = off */
		unsigned dlq_max;          /* a mapping with more dead-letter entries */
		unsigned api_budget_pct;   /* less of the daily API budget left; 0 = off */
		unsigned drift;            /* the last reconcile found more records different */
	} alerts;
	struct cs_api_token *tokens;
	size_t ntokens;
	struct cs_attr_list custom_counterparty;
	struct cs_attr_list custom_contract;
	struct cs_attr_list custom_obligation;
	struct {
		enum cs_log_level level;
		bool json;
	} log;
	struct cs_org *orgs;
	size_t norgs;
	struct cs_mapping *mappings;
	size_t nmappings;
	/* The sync engine's tuning. */
	struct {
		unsigned linger_ms;        /* wait this long for more writes before sending a batch */
		unsigned batch_max;        /* records per sObject Collections call, 1 to 200 */
		struct {
			unsigned initial_ms;   /* first backoff after a transient failure */
			unsigned max_ms;       /* backoff ceiling, >= initial_ms */
			unsigned max_attempts; /* then the operation goes to the dead-letter queue */
		} retry;
		struct {
			unsigned interval_s;   /* between periodic reconciles; 0 = on demand only */
			unsigned overlap_s;    /* the SystemModstamp window re-read before the watermark */
		} reconcile;
		unsigned outbox_workers;   /* appliers working the outbox in parallel, per target */
	} sync;
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
 * no custom attributes, no orgs and no mappings, the sync section's defaults. *out is new,
 * caller frees with cs_config_free(). CS_ENOMEM only. */
cs_err cs_config_defaults(struct cs_config **out);

/* Releases c and wipes its secrets. NULL is a no-op. */
void cs_config_free(struct cs_config *c);

/* The declarations of custom attributes for entity "counterparty", "contract" or "obligation",
 * or NULL for any other entity. Borrowed from c. */
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

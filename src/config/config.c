/* config.c - the settings table and the YAML loader that validates a whole file against it. */
#include "config/config_int.h"
#include "http/client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/json.h"

#define PATH_TEXT_MAX 256      /* bytes of a dotted key path in messages */
#define PICKLIST_VALUE_MAX 255 /* bytes of one picklist value (Salesforce's limit too) */
#define TEXT_LENGTH_MAX 65536  /* the largest max_length of a text attribute */

/* --- validators ----------------------------------------------------------------------------- */

/* Each gets a NUL-terminated value of len bytes and, when refusing it, says why. */

static bool
check_listen(const char *v, size_t len, char *why, size_t whyn)
{
	char host[CS_CONFIG_HOST_MAX];
	uint16_t port;

	if (!cs_config_parse_listen(v, host, sizeof(host), &port)) {
		snprintf(why, whyn, "expected HOST:PORT with a port from 1 to 65535 "
		         "(127.0.0.1:8440, [::1]:8440, localhost:8440)");
		return false;
	}
	return true;
}

static bool
check_store(const char *v, size_t len, char *why, size_t whyn)
{
	if (strncmp(v, "sqlite:", 7) == 0) {
		if (len == 7) {
			snprintf(why, whyn, "sqlite: needs a file path (sqlite:./clmsync-data/clmsync.db)");
			return false;
		}
		return true;
	}
	if (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0) {
		const char *rest = strchr(v, '/') + 2;
		const char *at = strchr(rest, '@');
		const char *slash = strchr(rest, '/');

		/* A password in the URL would be an inline secret, and URLs end up in logs. */
		if (at != NULL && (slash == NULL || at < slash) && memchr(rest, ':', (size_t)(at - rest))) {
			snprintf(why, whyn, "the URL must not carry a password; use PGPASSFILE or "
			         "PGPASSWORD in the environment");
			return false;
		}
		return true;
	}
	snprintf(why, whyn, "expected sqlite:PATH or postgresql://HOST/DATABASE");
	return false;
}

static bool
check_ident(const char *v, size_t len, char *why, size_t whyn)
{
	bool ok = len > 0 && v[0] >= 'a' && v[0] <= 'z';

	for (size_t i = 1; ok && i < len; i++)
		ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_';
	if (!ok)
		snprintf(why, whyn, "expected a name matching [a-z][a-z0-9_]*");
	return ok;
}

static bool
check_token_name(const char *v, size_t len, char *why, size_t whyn)
{
	bool ok = len > 0;

	for (size_t i = 0; ok && i < len; i++) {
		char c = v[i];

		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     (i > 0 && (c == '_' || c == '-' || c == '.'));
	}
	if (!ok)
		snprintf(why, whyn, "expected letters, digits, '_', '-' or '.', starting with a letter "
		         "or digit");
	return ok;
}

static bool
check_env_name(const char *v, size_t len, char *why, size_t whyn)
{
	bool ok = len > 0 && !(v[0] >= '0' && v[0] <= '9');

	for (size_t i = 0; ok && i < len; i++) {
		char c = v[i];

		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		     c == '_';
	}
	if (!ok)
		snprintf(why, whyn, "expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
	return ok;
}

static bool
check_name(const char *v, size_t len, char *why, size_t whyn)
{
	bool ok = len > 0 && v[0] >= 'a' && v[0] <= 'z';

	for (size_t i = 1; ok && i < len; i++)
		ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_' ||
		     v[i] == '-';
	if (!ok)
		snprintf(why, whyn, "expected a name matching [a-z][a-z0-9_-]*");
	return ok;
}

/* A Salesforce API name: Account, Project__c, CLM_Id__c, ns__Field__c. */
static bool
check_sf_name(const char *v, size_t len, char *why, size_t whyn)
{
	bool ok = len > 0 && ((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')) &&
	          v[len - 1] != '_';

	for (size_t i = 1; ok && i < len; i++)
		ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		     (v[i] >= '0' && v[i] <= '9') || v[i] == '_';
	if (!ok)
		snprintf(why, whyn, "expected a Salesforce API name (letters, digits and '_', starting "
		         "with a letter: Account, CLM_Id__c)");
	return ok;
}

/* Visible ASCII only: a client id or user name travels in a form field or a JWT claim. */
static bool
check_visible(const char *v, size_t len, char *why, size_t whyn)
{
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x21 || v[i] > 0x7e) {
			snprintf(why, whyn, "expected visible ASCII characters, no spaces");
			return false;
		}
	return true;
}

static bool
is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-';
}

/* https://HOST[:PORT], with a path and query when with_path (else none but a final '/'), never
 * a user or a fragment; plain http only to this machine, where nothing travels over a network. */
static bool
url_ok(const char *v, bool with_path, char *why, size_t whyn)
{
	bool https = strncmp(v, "https://", 8) == 0;
	const char *a, *p;
	size_t alen, hl;

	if (!https && strncmp(v, "http://", 7) != 0) {
		snprintf(why, whyn, "expected https://HOST[:PORT]%s", with_path ? "/PATH" : "");
		return false;
	}
	a = v + (https ? 8 : 7);
	alen = strcspn(a, "/?#");
	if (!with_path && a[alen] != '\0' && strcmp(a + alen, "/") != 0) {
		snprintf(why, whyn, "expected https://HOST[:PORT] with no path, query or fragment");
		return false;
	}
	if (with_path) {
		for (const char *q = a + alen; *q != '\0'; q++)
			if (*q == '#' || *q < 0x21 || *q > 0x7e) {
				snprintf(why, whyn, "expected https://HOST[:PORT]/PATH: visible ASCII, no "
				         "spaces and no fragment (#)");
				return false;
			}
	}
	if (memchr(a, '@', alen) != NULL) {
		snprintf(why, whyn, "the URL must not carry a user or password");
		return false;
	}
	if (alen > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', alen);

		hl = close != NULL ? (size_t)(close - a) + 1 : 0;
		for (size_t i = 1; hl > 2 && i + 1 < hl; i++)
			if (!(a[i] == ':' || (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f') ||
			      (a[i] >= 'A' && a[i] <= 'F')))
				hl = 0;
		if (hl <= 2)
			hl = 0;
	} else {
		const char *colon = memchr(a, ':', alen);

		hl = colon != NULL ? (size_t)(colon - a) : alen;
		for (size_t i = 0; i < hl; i++)
			if (!is_host_char(a[i]))
				hl = 0;
	}
	p = a + hl;
	if (hl == 0) {
		snprintf(why, whyn, "expected https://HOST[:PORT] with a host name or address");
		return false;
	}
	if (p < a + alen) {
		size_t digits = (size_t)(a + alen - p) - 1;
		unsigned long port = 0;
		bool ok = *p == ':' && digits >= 1 && digits <= 5;

		for (size_t i = 1; ok && i <= digits; i++) {
			ok = p[i] >= '0' && p[i] <= '9';
			port = port * 10 + (unsigned long)(p[i] - '0');
		}
		if (!ok || port < 1 || port > 65535) {
			snprintf(why, whyn, "expected https://HOST[:PORT] with a port from 1 to 65535");
			return false;
		}
	}
	if (!https && !http_host_is_loopback(a, hl)) {
		snprintf(why, whyn, "plain http is allowed only to a loopback address (127.0.0.0/8, "
		         "localhost or [::1]); use https://");
		return false;
	}
	return true;
}

static bool
check_url(const char *v, size_t len, char *why, size_t whyn)
{
	(void)len;
	return url_ok(v, false, why, whyn);
}

/* A webhook's URL: as check_url, and a path and query may follow the host. */
static bool
check_webhook_url(const char *v, size_t len, char *why, size_t whyn)
{
	(void)len;
	return url_ok(v, true, why, whyn);
}

#define API_VERSION_MIN 42
#define API_VERSION_MAX 62

/* "62.0": the REST API versions clmsync speaks. */
static bool
check_api_version(const char *v, size_t len, char *why, size_t whyn)
{
	bool ok = len == 4 && v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' &&
	          v[2] == '.' && v[3] == '0';
	int major = ok ? (v[0] - '0') * 10 + (v[1] - '0') : 0;

	if (!ok || major < API_VERSION_MIN || major > API_VERSION_MAX) {
		snprintf(why, whyn, "expected an API version from %d.0 to %d.0, written like \"62.0\"",
		         API_VERSION_MIN, API_VERSION_MAX);
		return false;
	}
	return true;
}

/* --- the table ------------------------------------------------------------------------------ */

static const struct choice roles[] = {
	{ "read", CS_ROLE_READ }, { "write", CS_ROLE_WRITE }, { "admin", CS_ROLE_ADMIN }, { NULL, 0 },
};

static const struct choice attr_types[] = {
	{ "text", CS_ATTR_TEXT }, { "number", CS_ATTR_NUMBER }, { "decimal", CS_ATTR_DECIMAL },
	{ "date", CS_ATTR_DATE }, { "datetime", CS_ATTR_DATETIME }, { "boolean", CS_ATTR_BOOLEAN },
	{ "picklist", CS_ATTR_PICKLIST }, { NULL, 0 },
};

static const struct choice levels[] = {
	{ "debug", CS_LOG_DEBUG }, { "info", CS_LOG_INFO }, { "warn", CS_LOG_WARN },
	{ "error", CS_LOG_ERROR }, { NULL, 0 },
};

static const struct choice auth_types[] = {
	{ "jwt_bearer", CS_AUTH_JWT_BEARER }, { "client_credentials", CS_AUTH_CLIENT_CREDENTIALS },
	{ "refresh_token", CS_AUTH_REFRESH_TOKEN }, { NULL, 0 },
};

static const struct choice entities[] = {
	{ "counterparty", CS_ENTITY_COUNTERPARTY }, { "contract", CS_ENTITY_CONTRACT },
	{ "amendment", CS_ENTITY_AMENDMENT }, { "obligation", CS_ENTITY_OBLIGATION },
	{ "approval", CS_ENTITY_APPROVAL }, { "signature", CS_ENTITY_SIGNATURE }, { NULL, 0 },
};

static const struct choice owners[] = {
	{ "clm", CS_OWNER_CLM }, { "salesforce", CS_OWNER_SALESFORCE }, { "both", CS_OWNER_BOTH },
	{ NULL, 0 },
};

static const struct choice non_owner[] = {
	{ "revert", CS_NON_OWNER_REVERT }, { "ignore", CS_NON_OWNER_IGNORE },
	{ "accept", CS_NON_OWNER_ACCEPT }, { NULL, 0 },
};

static const struct choice conflicts[] = {
	{ "clm_wins", CS_CONFLICT_CLM_WINS }, { "salesforce_wins", CS_CONFLICT_SALESFORCE_WINS },
	{ "last_writer_wins", CS_CONFLICT_LAST_WRITER_WINS }, { "manual", CS_CONFLICT_MANUAL },
	{ NULL, 0 },
};

static const struct choice transforms[] = {
	{ "none", CS_TRANSFORM_NONE }, { "date_to_datetime", CS_TRANSFORM_DATE_TO_DATETIME },
	{ "datetime_to_date", CS_TRANSFORM_DATETIME_TO_DATE },
	{ "money_amount", CS_TRANSFORM_MONEY_AMOUNT },
	{ "money_currency", CS_TRANSFORM_MONEY_CURRENCY },
	{ "decimal_to_currency", CS_TRANSFORM_DECIMAL_TO_CURRENCY },
	{ "truncate", CS_TRANSFORM_TRUNCATE }, { NULL, 0 },
};

static const struct choice match_by[] = {
	{ "external_id", CS_MATCH_EXTERNAL_ID }, { "keys", CS_MATCH_KEYS }, { NULL, 0 },
};

static const struct choice create_pol[] = {
	{ "create", CS_CREATE_CREATE }, { "ignore", CS_CREATE_IGNORE }, { NULL, 0 },
};

static const struct choice delete_clm[] = {
	{ "delete", CS_DELETE_DELETE }, { "ignore", CS_DELETE_IGNORE },
	{ "terminate", CS_DELETE_TERMINATE }, { NULL, 0 },
};

static const struct choice delete_sf[] = {
	{ "delete", CS_DELETE_DELETE }, { "ignore", CS_DELETE_IGNORE }, { NULL, 0 },
};

static const struct choice route_words[] = { { "all", CS_ROUTE_ALL }, { "parent", CS_ROUTE_PARENT }, { NULL, 0 } };

static void token_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void tokens_finish(struct load *, void *, size_t, struct fy_node *, const char *);
static void attr_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void attrs_finish(struct load *, void *, size_t, struct fy_node *, const char *);
static void repo_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void auth_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void org_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void orgs_finish(struct load *, void *, size_t, struct fy_node *, const char *);
static void route_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void field_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void mapping_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void mappings_finish(struct load *, void *, size_t, struct fy_node *, const char *);
static void sync_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void root_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);

#define CFG(f) offsetof(struct cs_config, f)
#define TOK(f) offsetof(struct cs_api_token, f)
#define ATTR(f) offsetof(struct cs_attr_decl, f)
#define ORG(f) offsetof(struct cs_org, f)
#define MAP(f) offsetof(struct cs_mapping, f)
#define FLD(f) offsetof(struct cs_field_map, f)
#define NOPTS(a) (sizeof(a) / sizeof(a[0]))


/* HTTPS of a listener: the same two keys in repository and admin. */
#define TLS_OPTS(sec)                                                                              \
	{ .key = "tls_cert_file", .type = OT_STR, .min = 1, .max = CS_CONFIG_STRING_MAX,            \
	  .off = CFG(sec.tls.cert_file), .syntax = "path",                                          \
	  .help = "Serve HTTPS with this PEM certificate (the server's first, then its chain); with " \
	          "tls_key_file. Not set: plain HTTP, which is for loopback addresses." },           \
	{ .key = "tls_key_file", .type = OT_STR, .min = 1, .max = CS_CONFIG_STRING_MAX,             \
	  .flags = F_SECRET, .off = CFG(sec.tls.key_file), .syntax = "path",                        \
	  .help = "The PEM file of the certificate's unencrypted private key. Read before the "      \
	          "process gives up root (server.user), so it may be root's alone; refused when its " \
	          "group or others may read or write it (chmod 600)." },                             \
	{ .key = "tls_key", .type = OT_NOINLINE, .flags = F_SECRET, .off = CFG(sec.tls.key),       \
	  .syntax = "tls_key_file",                                                                 \
	  .help = "Never written in the file: the key comes from tls_key_file." }

static const size_t repository_derived[] = { CFG(repository.tls.cert) };
static const size_t admin_derived[] = { CFG(admin.tls.cert) };

static const struct opt repository_opts[] = {
	{ .key = "listen", .type = OT_STR, .dflt = "127.0.0.1:8440", .min = 3, .max = 300,
	  .off = CFG(repository.listen), .check = check_listen, .syntax = "HOST:PORT",
	  .help = "Address and port of the repository's REST API. Use 0.0.0.0 or [::] to listen "
	          "on every interface." },
	{ .key = "max_body", .type = OT_SIZE, .dflt = "1 MiB", .min = 1024, .max = 64LL << 20,
	  .off = CFG(repository.max_body),
	  .help = "Largest request body accepted; a larger one is answered 413 before it is read." },
	{ .key = "max_document_size", .type = OT_SIZE, .dflt = "10 MiB", .min = 1024,
	  .max = 1LL << 30, .off = CFG(repository.max_document_size),
	  .help = "Largest document content (one uploaded file) the repository stores." },
	{ .key = "scheduler_interval", .type = OT_UINT, .dflt = "60", .min = 1, .max = 86400,
	  .off = CFG(repository.scheduler_interval), .syntax = "seconds",
	  .help = "Seconds between the scheduled passes that expire and auto-renew contracts whose "
	          "dates have passed." },
	TLS_OPTS(repository),
};

static const struct section repository_sec = {
	repository_opts, NOPTS(repository_opts), 0, repo_finish, NULL, repository_derived,
	NOPTS(repository_derived),
};

static void admin_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);

static const struct opt admin_opts[] = {
	{ .key = "enabled", .type = OT_BOOL, .dflt = "true", .off = CFG(admin.enabled),
	  .help = "Serve the admin API, the metrics and the dashboard." },
	{ .key = "listen", .type = OT_STR, .dflt = "127.0.0.1:8442", .min = 3, .max = 300,
	  .off = CFG(admin.listen), .check = check_listen, .syntax = "HOST:PORT",
	  .help = "Address and port of the admin API (`/admin/v1`), `/metrics`, `/healthz`, "
	          "`/readyz` and the dashboard (`/`). Every call but the health checks needs a token "
	          "with the admin role. Keep it on a loopback or private address." },
	{ .key = "stream_down_unready_s", .type = OT_UINT, .dflt = "120", .min = 1, .max = 86400,
	  .off = CFG(admin.stream_down_unready_s), .syntax = "seconds",
	  .help = "`/readyz` answers 503 when an org's change stream has been down this long." },
	TLS_OPTS(admin),
};

static const struct section admin_sec = {
	admin_opts, NOPTS(admin_opts), 0, admin_finish, NULL, admin_derived, NOPTS(admin_derived),
};

static const struct opt server_opts[] = {
	{ .key = "user", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1,
	  .off = CFG(server.user), .check = check_token_name, .syntax = "user name",
	  .help = "Started as root, `clmsync serve` binds its listeners and reads its secret files, "
	          "then becomes this user (its primary group, no supplementary groups) for good, "
	          "before it opens the store or starts a thread; data_dir, created for it when "
	          "missing, must be writable by it. Not set and started as root: it warns and runs "
	          "as root. Ignored when not started as root." },
	{ .key = "idle_timeout_s", .type = OT_UINT, .dflt = "60", .min = 1, .max = 3600,
	  .off = CFG(server.idle_timeout_s), .syntax = "seconds",
	  .help = "A connection with no traffic this long is closed; a kept-alive connection must "
	          "send its next request, whole, within this long of the previous answer." },
	{ .key = "header_timeout_s", .type = OT_UINT, .dflt = "10", .min = 1, .max = 600,
	  .off = CFG(server.header_timeout_s), .syntax = "seconds",
	  .help = "A request's line and headers must have arrived this long after the connection "
	          "opened (or after the request line, on a kept-alive connection); a slower client "
	          "is disconnected however steadily it trickles bytes (slowloris). Headers are at "
	          "most 64 KiB." },
	{ .key = "max_connections", .type = OT_UINT, .dflt = "512", .min = 1, .max = 10000,
	  .off = CFG(server.max_connections), .syntax = "connections",
	  .help = "Connections each listener holds at once (a thread each); more are closed as they "
	          "arrive." },
	{ .key = "max_connections_per_ip", .type = OT_UINT, .dflt = "64", .min = 0, .max = 10000,
	  .off = CFG(server.max_connections_per_ip), .syntax = "connections",
	  .help = "Connections each listener holds at once from one client address; more are closed "
	          "as they arrive. 0: only max_connections." },
	{ .key = "auth_failures", .type = OT_UINT, .dflt = "10", .min = 0, .max = 100000,
	  .off = CFG(server.auth_failures), .syntax = "failures",
	  .help = "Requests with an invalid token a client address (an IPv6 /64) may make in "
	          "auth_window_s; after that every request from it needing a token is answered 429 "
	          "with Retry-After until the window ends, valid token or not. Counted on both "
	          "listeners together, in a table of fixed size. 0: no limit." },
	{ .key = "auth_window_s", .type = OT_UINT, .dflt = "60", .min = 1, .max = 86400,
	  .off = CFG(server.auth_window_s), .syntax = "seconds",
	  .help = "The window of auth_failures, opened by the first failure in it." },
};

static const struct section server_sec = { server_opts, NOPTS(server_opts), 0, NULL, NULL, NULL, 0 };

static void alerts_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);

static const struct opt alerts_opts[] = {
	{ .key = "webhook_url", .type = OT_STR, .min = 1, .max = CS_CONFIG_URL_MAX,
	  .off = CFG(alerts.webhook_url), .check = check_webhook_url, .syntax = "URL",
	  .help = "Where alert events are POSTed as signed JSON when a condition starts and ends "
	          "(docs/operations.md, \"The alert webhook\"); not set: no webhook. https:// with "
	          "the certificate verified; plain http only to a loopback address (127.0.0.0/8, "
	          "localhost, [::1]). The URL is printed by `config check` and the admin API: put no "
	          "credential in it, the signature is what authenticates clmsync to the receiver." },
	{ .key = "secret_file", .type = OT_STR, .min = 1, .max = CS_CONFIG_STRING_MAX,
	  .flags = F_SECRET, .off = CFG(alerts.secret_file), .syntax = "path",
	  .help = "File holding the key that signs every event (HMAC-SHA256) on one line, 16 to "
	          "4096 visible ASCII characters; refused when its group or others may read or write "
	          "it (chmod 600). With webhook_url, give secret_file or secret_env." },
	{ .key = "secret_env", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1,
	  .flags = F_SECRET, .off = CFG(alerts.secret_env), .check = check_env_name,
	  .syntax = "variable name",
	  .help = "Environment variable holding the signing key." },
	{ .key = "secret", .type = OT_NOINLINE, .flags = F_SECRET, .off = CFG(alerts.secret),
	  .syntax = "secret_file or secret_env",
	  .help = "Never written in the file: the signing key comes from secret_file or "
	          "secret_env." },
	{ .key = "interval_s", .type = OT_UINT, .dflt = "15", .min = 1, .max = 3600,
	  .off = CFG(alerts.interval_s), .syntax = "seconds",
	  .help = "Seconds between two evaluations of the conditions on the status document." },
	{ .key = "stream_down_s", .type = OT_UINT, .dflt = "300", .min = 1, .max = 86400,
	  .off = CFG(alerts.stream_down_s), .syntax = "seconds",
	  .help = "ClmsyncStreamDown fires once an org's change stream has been disconnected this "
	          "long." },
	{ .key = "lag_s", .type = OT_UINT, .dflt = "60", .min = 1, .max = 604800,
	  .off = CFG(alerts.lag_s), .syntax = "seconds",
	  .help = "ClmsyncSyncLag fires while the oldest change not yet synced (inbox, outbox or "
	          "the repository's feed) is older than this." },
	{ .key = "retention_left_s", .type = OT_UINT, .dflt = "43200", .min = 0, .max = 259200,
	  .off = CFG(alerts.retention_left_s), .syntax = "seconds",
	  .help = "ClmsyncReplayRetention fires when a stored replay position has less than this "
	          "left before Salesforce's 72-hour retention forgets it; 0 turns it off." },
	{ .key = "dlq_max", .type = OT_UINT, .dflt = "0", .min = 0, .max = 1000000,
	  .off = CFG(alerts.dlq_max), .syntax = "entries",
	  .help = "ClmsyncDLQ fires while a mapping has more than this many dead-letter entries." },
	{ .key = "api_budget_pct", .type = OT_UINT, .dflt = "10", .min = 0, .max = 100,
	  .off = CFG(alerts.api_budget_pct), .syntax = "percent",
	  .help = "ClmsyncAPIBudgetLow fires while less than this share of an org's daily API "
	          "requests is left; 0 turns it off." },
	{ .key = "drift", .type = OT_UINT, .dflt = "0", .min = 0, .max = 1000000,
	  .off = CFG(alerts.drift), .syntax = "records",
	  .help = "ClmsyncReconcileDrift fires when an org's last reconcile found more than this "
	          "many records different on the two sides, until one finds no more." },
};

static const struct section alerts_sec = {
	alerts_opts, NOPTS(alerts_opts), 0, alerts_finish, NULL, NULL, 0,
};

static const struct opt token_opts[] = {
	{ .key = "name", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1, .flags = F_REQUIRED,
	  .off = TOK(name), .check = check_token_name,
	  .help = "Name of the token, unique; changes made with it are recorded as `api:<name>`." },
	{ .key = "role", .type = OT_ENUM, .flags = F_REQUIRED, .choices = roles, .off = TOK(role),
	  .help = "`read` may read; `write` may also create and change records; `admin` may do "
	          "everything." },
	{ .key = "token_file", .type = OT_STR, .min = 1, .max = CS_CONFIG_STRING_MAX,
	  .flags = F_SECRET, .off = TOK(file), .syntax = "path",
	  .help = "File holding the token on one line (a final newline is ignored). Refused when "
	          "its group or others may read or write it (chmod 600). Give token_file or "
	          "token_env." },
	{ .key = "token_env", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1,
	  .flags = F_SECRET, .off = TOK(env), .check = check_env_name, .syntax = "variable name",
	  .help = "Environment variable holding the token. Give token_file or token_env." },
	{ .key = "token", .type = OT_NOINLINE, .flags = F_SECRET, .off = TOK(secret),
	  .syntax = "token_file or token_env",
	  .help = "Never written in the file: tokens come from token_file or token_env. A token is "
	          "16 to 4096 visible ASCII characters." },
};

static const size_t token_derived[] = { TOK(source) };

static const struct section token_sec = {
	token_opts, NOPTS(token_opts), sizeof(struct cs_api_token), token_finish, tokens_finish,
	token_derived, NOPTS(token_derived),
};

static const struct opt attr_opts[] = {
	{ .key = "name", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1, .flags = F_REQUIRED,
	  .off = ATTR(name), .check = check_ident, .syntax = "[a-z][a-z0-9_]*",
	  .help = "Name of the attribute, unique per entity; it appears under `custom` in the API." },
	{ .key = "type", .type = OT_ENUM, .flags = F_REQUIRED, .choices = attr_types,
	  .off = ATTR(type),
	  .help = "Value type: text, number (integer), decimal (exact, up to 18 fraction digits), "
	          "date (YYYY-MM-DD), datetime (UTC), boolean, or picklist (one of `values`)." },
	{ .key = "values", .type = OT_STRLIST, .min = 1, .max = CS_CONFIG_PICKLIST_MAX,
	  .lmax = PICKLIST_VALUE_MAX, .off = ATTR(values), .off_n = ATTR(nvalues),
	  .help = "The allowed values of a picklist, no repeats; required for picklist, refused for "
	          "other types." },
	{ .key = "required", .type = OT_BOOL, .dflt = "false", .off = ATTR(required),
	  .help = "Whether every record of the entity must have a value." },
	{ .key = "max_length", .type = OT_UINT, .min = 1, .max = TEXT_LENGTH_MAX,
	  .off = ATTR(max_length), .syntax = "characters",
	  .help = "Text only: the most characters a value may have." },
};

static const struct section attr_sec = {
	attr_opts, NOPTS(attr_opts), sizeof(struct cs_attr_decl), attr_finish, attrs_finish, NULL, 0,
};

static const struct opt custom_opts[] = {
	{ .key = "counterparty", .type = OT_LIST, .min = 0, .max = CS_CONFIG_ATTRS_MAX,
	  .off = CFG(custom_counterparty.v), .off_n = CFG(custom_counterparty.n), .sub = &attr_sec,
	  .help = "Custom attributes of counterparties." },
	{ .key = "contract", .type = OT_LIST, .min = 0, .max = CS_CONFIG_ATTRS_MAX,
	  .off = CFG(custom_contract.v), .off_n = CFG(custom_contract.n), .sub = &attr_sec,
	  .help = "Custom attributes of contracts." },
	{ .key = "obligation", .type = OT_LIST, .min = 0, .max = CS_CONFIG_ATTRS_MAX,
	  .off = CFG(custom_obligation.v), .off_n = CFG(custom_obligation.n), .sub = &attr_sec,
	  .help = "Custom attributes of obligations." },
};

static const struct section custom_sec = { custom_opts, NOPTS(custom_opts), 0, NULL, NULL, NULL, 0 };

static const struct opt log_opts[] = {
	{ .key = "level", .type = OT_ENUM, .dflt = "info", .choices = levels, .off = CFG(log.level),
	  .help = "Least severe level written." },
	{ .key = "json", .type = OT_BOOL, .dflt = "false", .off = CFG(log.json),
	  .help = "Write one JSON object per line instead of plain text." },
};

static const struct section log_sec = { log_opts, NOPTS(log_opts), 0, NULL, NULL, NULL, 0 };

/* --- orgs --- */

#define CLIENT_ID_MAX 256       /* bytes in an OAuth client id (Salesforce's are 85) */
#define CLIENT_NAME_MAX 40      /* bytes in the Sforce-Call-Options client name */

static const struct opt auth_opts[] = {
	{ .key = "type", .type = OT_ENUM, .flags = F_REQUIRED, .choices = auth_types,
	  .off = ORG(auth.type),
	  .help = "The OAuth 2.0 flow: `jwt_bearer` (a connected app's certificate; client_id, "
	          "username, private_key_file), `client_credentials` (client_id and a client secret) "
	          "or `refresh_token` (client_id and a refresh token, with the client secret when the "
	          "app requires it)." },
	{ .key = "client_id", .type = OT_STR, .min = 1, .max = CLIENT_ID_MAX, .flags = F_REQUIRED,
	  .off = ORG(auth.client_id), .check = check_visible,
	  .help = "The connected app's consumer key." },
	{ .key = "username", .type = OT_STR, .min = 1, .max = CS_CONFIG_STRING_MAX,
	  .off = ORG(auth.username), .check = check_visible,
	  .help = "jwt_bearer: the integration user the token is issued for (the assertion's "
	          "`sub`); required there, refused for the other flows." },
	{ .key = "private_key_file", .type = OT_STR, .min = 1, .max = CS_CONFIG_STRING_MAX,
	  .flags = F_SECRET, .off = ORG(auth.private_key_file), .syntax = "path",
	  .help = "jwt_bearer: the PEM file of the unencrypted RSA key whose certificate the "
	          "connected app holds. Refused when its group or others may read or write it "
	          "(chmod 600)." },
	{ .key = "client_secret_file", .type = OT_STR, .min = 1, .max = CS_CONFIG_STRING_MAX,
	  .flags = F_SECRET, .off = ORG(auth.client_secret_file), .syntax = "path",
	  .help = "File holding the consumer secret on one line; refused when its group or others "
	          "may read or write it (chmod 600). "
	          "client_credentials needs client_secret_file or client_secret_env; refresh_token "
	          "may have one." },
	{ .key = "client_secret_env", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1,
	  .flags = F_SECRET, .off = ORG(auth.client_secret_env), .check = check_env_name,
	  .syntax = "variable name",
	  .help = "Environment variable holding the consumer secret." },
	{ .key = "refresh_token_file", .type = OT_STR, .min = 1, .max = CS_CONFIG_STRING_MAX,
	  .flags = F_SECRET, .off = ORG(auth.refresh_token_file), .syntax = "path",
	  .help = "refresh_token: file holding the refresh token on one line; refused when its "
	          "group or others may read or write it (chmod 600). Give refresh_token_file or "
	          "refresh_token_env." },
	{ .key = "refresh_token_env", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1,
	  .flags = F_SECRET, .off = ORG(auth.refresh_token_env), .check = check_env_name,
	  .syntax = "variable name",
	  .help = "refresh_token: environment variable holding the refresh token." },
	{ .key = "private_key", .type = OT_NOINLINE, .flags = F_SECRET, .off = ORG(auth.private_key),
	  .syntax = "private_key_file",
	  .help = "Never written in the file: the key comes from private_key_file." },
	{ .key = "client_secret", .type = OT_NOINLINE, .flags = F_SECRET,
	  .off = ORG(auth.client_secret), .syntax = "client_secret_file or client_secret_env",
	  .help = "Never written in the file: it comes from client_secret_file or client_secret_env. "
	          "A secret is 1 to 4096 visible ASCII characters." },
	{ .key = "refresh_token", .type = OT_NOINLINE, .flags = F_SECRET,
	  .off = ORG(auth.refresh_token), .syntax = "refresh_token_file or refresh_token_env",
	  .help = "Never written in the file: it comes from refresh_token_file or "
	          "refresh_token_env." },
};

static const struct section auth_sec = {
	auth_opts, NOPTS(auth_opts), 0, auth_finish, NULL, NULL, 0,
};

static const struct opt limits_opts[] = {
	{ .key = "daily_budget_reserve_pct", .type = OT_UINT, .dflt = "10", .min = 0, .max = 90,
	  .off = ORG(limits.daily_budget_reserve_pct), .syntax = "percent",
	  .help = "Reconcile and other work that can wait pause while less than this share of the "
	          "org's daily API requests is left (from Sforce-Limit-Info); changes keep flowing." },
	{ .key = "max_calls_per_minute", .type = OT_UINT, .min = 1, .max = 100000,
	  .off = ORG(limits.max_calls_per_minute), .syntax = "calls",
	  .help = "At most this many API calls a minute to the org; not set: no limit of our own "
	          "(REQUEST_LIMIT_EXCEEDED still slows down)." },
};

static const struct section limits_sec = {
	limits_opts, NOPTS(limits_opts), 0, NULL, NULL, NULL, 0,
};

static const struct opt org_opts[] = {
	{ .key = "name", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1, .flags = F_REQUIRED,
	  .off = ORG(name), .check = check_name, .syntax = "[a-z][a-z0-9_-]*",
	  .help = "Name of the org, unique; mappings name it, and links and cursors are kept under "
	          "it (renaming an org starts it afresh)." },
	{ .key = "login_url", .type = OT_STR, .min = 1, .max = CS_CONFIG_URL_MAX,
	  .flags = F_REQUIRED, .off = ORG(login_url), .check = check_url, .syntax = "URL",
	  .help = "Where tokens are requested (/services/oauth2/token) and the JWT audience: "
	          "https://login.salesforce.com, https://test.salesforce.com or the My Domain URL. "
	          "Plain http only to a loopback address (127.0.0.0/8, localhost, [::1])." },
	{ .key = "instance_url", .type = OT_STR, .min = 1, .max = CS_CONFIG_URL_MAX,
	  .off = ORG(instance_url), .check = check_url, .syntax = "URL",
	  .help = "The org's API base URL; not set: the instance_url of the token response. Same "
	          "rule for plain http." },
	{ .key = "api_version", .type = OT_STR, .dflt = "62.0", .min = 1, .max = 16,
	  .off = ORG(api_version), .check = check_api_version, .syntax = "NN.0",
	  .help = "REST API version used for every call, 42.0 to 62.0." },
	{ .key = "auth", .type = OT_SECTION, .flags = F_REQUIRED, .sub = &auth_sec,
	  .help = "How clmsync logs in. Secrets come from files or environment variables." },
	{ .key = "client_name", .type = OT_STR, .dflt = "clmsync", .min = 1, .max = CLIENT_NAME_MAX,
	  .off = ORG(client_name), .check = check_token_name,
	  .help = "Sent as `Sforce-Call-Options: client=<name>` on every write; change events whose "
	          "changeOrigin carries it are recognised as our own. Give each clmsync deployment "
	          "writing to one org its own name." },
	{ .key = "limits", .type = OT_SECTION, .sub = &limits_sec,
	  .help = "The org's API budget." },
};

static const struct section org_sec = {
	org_opts, NOPTS(org_opts), sizeof(struct cs_org), org_finish, orgs_finish, NULL, 0,
};

/* --- mappings --- */

#define CLM_FIELD_MAX (CS_CONFIG_NAME_MAX + 7)   /* "custom." and an attribute name */
#define TEXT_MAP_MAX 131072                      /* largest max_length of a truncation */
#define SCALE_MAX 18                             /* fraction digits of a decimal */

static const struct opt lookup_opts[] = {
	{ .key = "mapping", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1,
	  .flags = F_REQUIRED, .off = FLD(lookup_mapping), .check = check_name,
	  .syntax = "mapping name",
	  .help = "The mapping (same org) whose links translate the reference: a counterparty_id "
	          "becomes the linked Account's id, and back." },
};

static const struct section lookup_sec = {
	lookup_opts, NOPTS(lookup_opts), 0, NULL, NULL, NULL, 0,
};

static const struct opt field_opts[] = {
	{ .key = "clm", .type = OT_STR, .min = 1, .max = CLM_FIELD_MAX, .flags = F_REQUIRED,
	  .off = FLD(clm), .syntax = "field",
	  .help = "The repository field (docs/api.md), or `custom.<name>` for a declared custom "
	          "attribute of the entity." },
	{ .key = "sf", .type = OT_STR, .min = 1, .max = CS_CONFIG_SF_NAME_MAX, .flags = F_REQUIRED,
	  .off = FLD(sf), .check = check_sf_name, .syntax = "API name",
	  .help = "The Salesforce field's API name; each at most once per mapping." },
	{ .key = "owner", .type = OT_ENUM, .flags = F_REQUIRED, .choices = owners, .off = FLD(owner),
	  .help = "Which side's changes count: `clm`, `salesforce`, or `both` (then `conflict` "
	          "says who wins when both change it)." },
	{ .key = "non_owner_write", .type = OT_ENUM, .dflt = "revert", .choices = non_owner,
	  .off = FLD(non_owner_write),
	  .help = "What a change from the side that does not own the field does: `revert` (the "
	          "owner's value is written back), `ignore` (kept, flagged as drift) or `accept` "
	          "(synced like the owner's). Not for owner both." },
	{ .key = "conflict", .type = OT_ENUM, .choices = conflicts, .off = FLD(conflict),
	  .help = "Owner both only, and required there: when both sides changed the field since the "
	          "last sync, `clm_wins`, `salesforce_wins`, `last_writer_wins` (by commit time) or "
	          "`manual` (parked in the conflicts queue, both sides keep their value)." },
	{ .key = "transform", .type = OT_ENUM, .dflt = "none", .choices = transforms,
	  .off = FLD(transform),
	  .help = "`none`; `date_to_datetime` (a date to a datetime field at 00:00 UTC); "
	          "`datetime_to_date` (to a date field, the UTC day; repository-written only); "
	          "`money_amount` and `money_currency` (the two parts of a money field); "
	          "`decimal_to_currency` (a decimal or number to a currency field of `scale`); "
	          "`truncate` (text cut to max_length; needs allow_truncate, repository-written "
	          "only)." },
	{ .key = "scale", .type = OT_UINT, .min = 0, .max = SCALE_MAX, .flags = F_GIVEN,
	  .off = FLD(scale), .off_n = FLD(has_scale), .syntax = "digits",
	  .help = "Fraction digits of the Salesforce currency or number field: required for "
	          "decimal_to_currency; for money_amount it defaults to the currency's minor unit. "
	          "A value with more digits is refused, never rounded." },
	{ .key = "max_length", .type = OT_UINT, .min = 1, .max = TEXT_MAP_MAX,
	  .off = FLD(max_length), .syntax = "characters",
	  .help = "truncate only, and required there: the Salesforce field's length." },
	{ .key = "allow_truncate", .type = OT_BOOL, .dflt = "false", .off = FLD(allow_truncate),
	  .help = "Must be true for transform truncate: text longer than max_length is cut when "
	          "written to Salesforce." },
	{ .key = "value_map", .type = OT_MAP, .min = 1, .max = CS_CONFIG_PICKLIST_MAX,
	  .lmax = PICKLIST_VALUE_MAX, .off = FLD(value_map), .off_n = FLD(nvalue_map),
	  .syntax = "repository value: Salesforce value",
	  .help = "Picklist translation, repository value to Salesforce value. Required for a "
	          "repository status, type or other fixed set of values; it must cover each of "
	          "them (or list it in not_synced), and be one-to-one when Salesforce can write the "
	          "field. A value without an entry is an error at run time, never a guess." },
	{ .key = "not_synced", .type = OT_STRLIST, .min = 1, .max = CS_CONFIG_PICKLIST_MAX,
	  .lmax = PICKLIST_VALUE_MAX, .off = FLD(not_synced), .off_n = FLD(nnot_synced),
	  .help = "Repository values deliberately left out of value_map: while the record has one, "
	          "the Salesforce field is not written." },
	{ .key = "lookup", .type = OT_SECTION, .sub = &lookup_sec,
	  .help = "For a reference (counterparty_id, parent_contract_id, contract_id, a Salesforce "
	          "id attribute): the Salesforce field holds the id of the linked record. Required "
	          "for repository references." },
};

static const struct section field_sec = {
	field_opts, NOPTS(field_opts), sizeof(struct cs_field_map), field_finish, NULL, NULL, 0,
};

static const struct opt match_opts[] = {
	{ .key = "by", .type = OT_ENUM, .dflt = "external_id", .choices = match_by,
	  .off = MAP(match.by),
	  .help = "How a record not linked yet finds its counterpart the first time: "
	          "`external_id` (a Salesforce record already carrying the repository id) or `keys` "
	          "(equal values in every pair of `keys`)." },
	{ .key = "keys", .type = OT_PAIRS, .min = 1, .max = CS_CONFIG_MATCH_KEYS_MAX,
	  .lmax = CS_CONFIG_SF_NAME_MAX, .off = MAP(match.keys), .off_n = MAP(match.nkeys),
	  .help = "by keys: `[[repository field, Salesforce field], ...]`, e.g. "
	          "`[[legal_name, Name], [country, BillingCountry]]`." },
};

static const struct section match_sec = { match_opts, NOPTS(match_opts), 0, NULL, NULL, NULL, 0 };

static const struct opt route_opts[] = {
	{ .key = "field", .type = OT_STR, .min = 1, .max = CLM_FIELD_MAX, .flags = F_REQUIRED,
	  .off = MAP(route.field), .syntax = "field",
	  .help = "The repository field (or custom.<name>) that decides." },
	{ .key = "in", .type = OT_STRLIST, .min = 1, .max = CS_CONFIG_PICKLIST_MAX,
	  .lmax = PICKLIST_VALUE_MAX, .off = MAP(route.in), .off_n = MAP(route.nin),
	  .help = "Records whose field has one of these values go to this mapping's org." },
	{ .key = "not_in", .type = OT_STRLIST, .min = 1, .max = CS_CONFIG_PICKLIST_MAX,
	  .lmax = PICKLIST_VALUE_MAX, .off = MAP(route.not_in), .off_n = MAP(route.nnot_in),
	  .help = "Records whose field has none of these values (or none at all) go. Give in or "
	          "not_in." },
};

static const struct section route_sec = {
	route_opts, NOPTS(route_opts), 0, route_finish, NULL, NULL, 0,
};

static const struct opt on_create_opts[] = {
	{ .key = "clm", .type = OT_ENUM, .dflt = "create", .choices = create_pol,
	  .off = MAP(on_create.clm),
	  .help = "What a record created in Salesforce does in the repository: `create` it, or "
	          "`ignore` it (it is synced once linked by other means). A contract's record (an "
	          "obligation, ...) is created under the contract its contract_id lookup names, "
	          "which the mapping must then map." },
	{ .key = "salesforce", .type = OT_ENUM, .dflt = "create", .choices = create_pol,
	  .off = MAP(on_create.salesforce),
	  .help = "What a record created in the repository does in Salesforce: `create` (upsert by "
	          "external_id_field) or `ignore`." },
};

static const struct section on_create_sec = {
	on_create_opts, NOPTS(on_create_opts), 0, NULL, NULL, NULL, 0,
};

static const struct opt on_delete_opts[] = {
	{ .key = "clm", .type = OT_ENUM, .dflt = "ignore", .choices = delete_clm,
	  .off = MAP(on_delete.clm),
	  .help = "What deleting the Salesforce record does to the repository record: `ignore` "
	          "(unlinked only; the repository is the system of record), `delete` (counterparties "
	          "and obligations), or `terminate` (contracts: a transition to terminated). After "
	          "`ignore` or `terminate` the record is not created in Salesforce again; undeleting "
	          "it there links it again." },
	{ .key = "salesforce", .type = OT_ENUM, .dflt = "delete", .choices = delete_sf,
	  .off = MAP(on_delete.salesforce),
	  .help = "What deleting the repository record, or its leaving this mapping's route, does "
	          "to the Salesforce record: `delete` (to the recycle bin) or `ignore` (left, "
	          "unlinked)." },
};

static const struct section on_delete_sec = {
	on_delete_opts, NOPTS(on_delete_opts), 0, NULL, NULL, NULL, 0,
};

static const struct opt mapping_opts[] = {
	{ .key = "name", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1, .flags = F_REQUIRED,
	  .off = MAP(name), .check = check_name, .syntax = "[a-z][a-z0-9_-]*",
	  .help = "Name of the mapping, unique; lookups and `clmsync reconcile --mapping` name it." },
	{ .key = "org", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1, .flags = F_REQUIRED,
	  .off = MAP(org), .check = check_name, .syntax = "org name",
	  .help = "The org (orgs[].name) the mapping syncs with." },
	{ .key = "entity", .type = OT_ENUM, .flags = F_REQUIRED, .choices = entities,
	  .off = MAP(entity),
	  .help = "The repository entity synced." },
	{ .key = "sobject", .type = OT_STR, .min = 1, .max = CS_CONFIG_SF_NAME_MAX,
	  .flags = F_REQUIRED, .off = MAP(sobject), .check = check_sf_name, .syntax = "API name",
	  .help = "The sObject, standard (Account, Contract, Opportunity) or custom (Project__c); "
	          "one mapping per sObject and org." },
	{ .key = "external_id_field", .type = OT_STR, .min = 1, .max = CS_CONFIG_SF_NAME_MAX,
	  .flags = F_REQUIRED, .off = MAP(external_id_field), .check = check_sf_name,
	  .syntax = "API name",
	  .help = "The external-id field holding the repository id (CLM_Id__c). Records are "
	          "written with upsert by it, so a retried create never duplicates." },
	{ .key = "match", .type = OT_SECTION, .sub = &match_sec,
	  .help = "How records are paired the first time." },
	{ .key = "route", .type = OT_SECTION, .dflt = "all", .choices = route_words,
	  .off = MAP(route.kind), .sub = &route_sec,
	  .help = "Which records this mapping syncs: `all`, or `{field: custom.region, in: [EMEA]}` "
	          "(or not_in) to send records to different orgs. A record whose field changes moves: "
	          "the mapping that routes it now makes its record, this one lets go of its own "
	          "(on_delete.salesforce says how). `parent`, for records under a contract (an "
	          "obligation, ...): a record goes where its contract goes (the contract mapping its "
	          "contract_id lookup names), and moves with it." },
	{ .key = "on_create", .type = OT_SECTION, .sub = &on_create_sec,
	  .help = "What a create on one side does on the other." },
	{ .key = "on_delete", .type = OT_SECTION, .sub = &on_delete_sec,
	  .help = "What a delete on one side does on the other." },
	{ .key = "fields", .type = OT_LIST, .min = 1, .max = CS_CONFIG_FIELDS_MAX,
	  .flags = F_REQUIRED, .off = MAP(fields), .off_n = MAP(nfields), .sub = &field_sec,
	  .help = "The mapped fields." },
};

static const struct section mapping_sec = {
	mapping_opts, NOPTS(mapping_opts), sizeof(struct cs_mapping), mapping_finish,
	mappings_finish, NULL, 0,
};

/* --- sync --- */

static const struct opt retry_opts[] = {
	{ .key = "initial_ms", .type = OT_UINT, .dflt = "200", .min = 1, .max = 60000,
	  .off = CFG(sync.retry.initial_ms), .syntax = "milliseconds",
	  .help = "Backoff before the first retry of a transient failure (timeout, 5xx, "
	          "UNABLE_TO_LOCK_ROW); doubled each time, with jitter." },
	{ .key = "max_ms", .type = OT_UINT, .dflt = "60000", .min = 1, .max = 3600000,
	  .off = CFG(sync.retry.max_ms), .syntax = "milliseconds",
	  .help = "The longest backoff; at least initial_ms." },
	{ .key = "max_attempts", .type = OT_UINT, .dflt = "10", .min = 1, .max = 1000,
	  .off = CFG(sync.retry.max_attempts), .syntax = "attempts",
	  .help = "Attempts before the operation goes to the dead-letter queue with its last "
	          "error." },
};

static const struct section retry_sec = { retry_opts, NOPTS(retry_opts), 0, NULL, NULL, NULL, 0 };

static const struct opt reconcile_opts[] = {
	{ .key = "interval_s", .type = OT_UINT, .dflt = "3600", .min = 0, .max = 604800,
	  .off = CFG(sync.reconcile.interval_s), .syntax = "seconds",
	  .help = "Seconds between periodic reconciles (both sides compared with the shadows); 0: "
	          "only after stream gaps and on `clmsync reconcile`." },
	{ .key = "overlap_s", .type = OT_UINT, .dflt = "300", .min = 0, .max = 86400,
	  .off = CFG(sync.reconcile.overlap_s), .syntax = "seconds",
	  .help = "How far before the last watermark a reconcile reads again (SystemModstamp), for "
	          "transactions that committed late." },
};

static const struct section reconcile_sec = {
	reconcile_opts, NOPTS(reconcile_opts), 0, NULL, NULL, NULL, 0,
};

static const struct opt sync_opts[] = {
	{ .key = "linger_ms", .type = OT_UINT, .dflt = "5", .min = 0, .max = 1000,
	  .off = CFG(sync.linger_ms), .syntax = "milliseconds",
	  .help = "How long a batch waits for more writes before it is sent (a full batch goes at "
	          "once)." },
	{ .key = "batch_max", .type = OT_UINT, .dflt = "200", .min = 1, .max = 200,
	  .off = CFG(sync.batch_max), .syntax = "records",
	  .help = "Records per sObject Collections call (Salesforce allows 200)." },
	{ .key = "retry", .type = OT_SECTION, .sub = &retry_sec, .help = "Retries with backoff." },
	{ .key = "reconcile", .type = OT_SECTION, .sub = &reconcile_sec,
	  .help = "The periodic reconcile." },
	{ .key = "outbox_workers", .type = OT_UINT, .dflt = "4", .min = 1, .max = 64,
	  .off = CFG(sync.outbox_workers), .syntax = "threads",
	  .help = "Reserved: appliers per org working the outbox in parallel. Today each org's worker "
	          "applies its outbox on one thread (up to batch_max records per call, per-record order "
	          "kept); the value is checked and has no effect yet." },
};

static const struct section sync_sec = {
	sync_opts, NOPTS(sync_opts), 0, sync_finish, NULL, NULL, 0,
};

static const struct opt root_opts[] = {
	{ .key = "store", .type = OT_STR, .dflt = "sqlite:./clmsync-data/clmsync.db", .min = 1,
	  .max = CS_CONFIG_STRING_MAX, .off = CFG(store_url), .check = check_store,
	  .syntax = "URL",
	  .help = "Where state lives: `sqlite:PATH` (embedded, one file) or "
	          "`postgresql://HOST/DATABASE` (several instances; password from PGPASSFILE or "
	          "PGPASSWORD, never in the URL)." },
	{ .key = "data_dir", .type = OT_STR, .dflt = "./clmsync-data", .min = 1,
	  .max = CS_CONFIG_STRING_MAX, .off = CFG(data_dir), .syntax = "path",
	  .help = "Directory for files clmsync keeps (the generated first API token, ...)." },
	{ .key = "repository", .type = OT_SECTION, .sub = &repository_sec,
	  .help = "The contract repository's REST API." },
	{ .key = "admin", .type = OT_SECTION, .sub = &admin_sec,
	  .help = "The admin API and the operator's dashboard." },
	{ .key = "server", .type = OT_SECTION, .sub = &server_sec,
	  .help = "Limits every listener holds clients to, and the user the server runs as." },
	{ .key = "alerts", .type = OT_SECTION, .sub = &alerts_sec,
	  .help = "The alert webhook: the conditions of config/alerts/clmsync-rules.yml, evaluated "
	          "inside the server and sent to a receiver of yours." },
	{ .key = "api_tokens", .type = OT_LIST, .min = 0, .max = CS_CONFIG_TOKENS_MAX,
	  .off = CFG(tokens), .off_n = CFG(ntokens), .sub = &token_sec,
	  .help = "Bearer tokens accepted by the API, each with a role. With none, `clmsync serve` "
	          "creates an admin token in data_dir on first start." },
	{ .key = "custom_attributes", .type = OT_SECTION, .sub = &custom_sec,
	  .help = "Custom attributes per entity, so mappings to custom Salesforce fields have "
	          "somewhere to land." },
	{ .key = "log", .type = OT_SECTION, .sub = &log_sec, .help = "Logging." },
	{ .key = "orgs", .type = OT_LIST, .min = 0, .max = CS_CONFIG_ORGS_MAX, .off = CFG(orgs),
	  .off_n = CFG(norgs), .sub = &org_sec,
	  .help = "The Salesforce orgs to sync with." },
	{ .key = "mappings", .type = OT_LIST, .min = 0, .max = CS_CONFIG_MAPPINGS_MAX,
	  .off = CFG(mappings), .off_n = CFG(nmappings), .sub = &mapping_sec,
	  .help = "What is synced: each a repository entity and an sObject of one org, and their "
	          "fields." },
	{ .key = "sync", .type = OT_SECTION, .sub = &sync_sec, .help = "The sync engine." },
};

const struct section cs_config_table = {
	root_opts, NOPTS(root_opts), 0, root_finish, NULL, NULL, 0,
};

const char *
cs_config_choice_name(const struct choice *c, int v)
{
	for (; c != NULL && c->name != NULL; c++)
		if (c->value == v)
			return c->name;
	return "?";
}

const char *
cs_role_name(enum cs_role r)
{
	return cs_config_choice_name(roles, (int)r);
}

const char *
cs_attr_type_name(enum cs_attr_type t)
{
	return cs_config_choice_name(attr_types, (int)t);
}

const char *
cs_auth_type_name(enum cs_auth_type t)
{
	return cs_config_choice_name(auth_types, (int)t);
}

const char *
cs_entity_name(enum cs_entity e)
{
	return cs_config_choice_name(entities, (int)e);
}

/* --- error list ----------------------------------------------------------------------------- */

void
cs_error_list_init(struct cs_error_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
cs_error_list_cleanup(struct cs_error_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].msg);
		free(l->v[i].text);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void
cs_error_list_print(const struct cs_error_list *l, FILE *f)
{
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, "%s\n", l->v[i].text);
	if (l->dropped > 0)
		fprintf(f, "... and %zu more errors\n", l->dropped);
}

/* --- the loader ----------------------------------------------------------------------------- */

struct load {
	const char *name;          /* file name for messages */
	const char *data;          /* the YAML text and its length */
	size_t len;
	unsigned flags;
	struct cs_error_list *errs;
	size_t nerr;               /* errors added by this load */
	bool nomem;
	char **scratch;            /* unescaped scalars, freed at the end of the load */
	size_t nscratch, scratch_cap;
};

static void
add_err(struct load *ld, int line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
add_err(struct load *ld, int line, const char *key, const char *fmt, ...)
{
	struct cs_error_list *l = ld->errs;
	struct cs_config_error *ce;
	char msg[512], text[1024];
	va_list ap;

	ld->nerr++;
	if (l == NULL)
		return;
	if (l->n >= CS_CONFIG_ERRORS_MAX) {
		l->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0 && key[0] != '\0')
		snprintf(text, sizeof(text), "%s:%d: %s: %s", ld->name, line, key, msg);
	else if (line > 0)
		snprintf(text, sizeof(text), "%s:%d: %s", ld->name, line, msg);
	else if (key[0] != '\0')
		snprintf(text, sizeof(text), "%s: %s: %s", ld->name, key, msg);
	else
		snprintf(text, sizeof(text), "%s: %s", ld->name, msg);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct cs_config_error *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			ld->nomem = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	ce = &l->v[l->n];
	ce->line = line;
	ce->key = strdup(key);
	ce->msg = strdup(msg);
	ce->text = strdup(text);
	if (ce->key == NULL || ce->msg == NULL || ce->text == NULL) {
		free(ce->key);
		free(ce->msg);
		free(ce->text);
		ld->nomem = true;
		return;
	}
	l->n++;
}

/* The 1-based line where n starts, 0 when unknown. libfyaml 0.7 has marks on tokens only, so a
 * mapping or list is placed at its first scalar (an empty "{}" or "[]" has none). */
static int
node_line(struct fy_node *n)
{
	for (int depth = 0; n != NULL && depth < 8; depth++) {
		if (fy_node_is_mapping(n)) {
			void *it = NULL;
			struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);

			n = p != NULL ? fy_node_pair_key(p) : NULL;
		} else if (fy_node_is_sequence(n)) {
			void *it = NULL;

			n = fy_node_sequence_iterate(n, &it);
		} else {
			struct fy_token *t = fy_node_get_scalar_token(n);
			const struct fy_mark *m = t != NULL ? fy_token_start_mark(t) : NULL;

			return m != NULL ? m->line + 1 : 0;
		}
	}
	return 0;
}

static void
join(char *out, size_t n, const char *path, const char *key)
{
	if (path[0] == '\0')
		snprintf(out, n, "%s", key);
	else
		snprintf(out, n, "%s.%s", path, key);
}

/* Levenshtein distance, capped: only short keys are compared. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strnlen(a, 64), lb = strnlen(b, 64), row[65];

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The nearest name to s among n names (strings at stride bytes apart), or NULL when none is
 * close: within 2 edits, and fewer edits than half the name. */
static const char *
nearest(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bd = 3, ls = strnlen(s, 65);

	if (ls > 64)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t ln = strnlen(names[i], 65), d;

		/* the distance is at least the difference of the lengths: a name that cannot beat the
		 * best so far is not compared */
		if ((ls > ln ? ls - ln : ln - ls) >= bd)
			continue;
		d = distance(s, names[i]);
		if (d < bd && d * 2 < strlen(names[i])) {
			bd = d;
			best = names[i];
		}
	}
	return best;
}

/* Searches the whole table for a setting whose key is `key` (a key written in the wrong
 * section); writes its dotted path into out. */
static bool
find_elsewhere(const struct section *sec, const char *prefix, const char *key, char *out, size_t n,
               int depth)
{
	char p[PATH_TEXT_MAX];

	if (depth > 4)
		return false;
	for (size_t i = 0; i < sec->nopts; i++) {
		const struct opt *o = &sec->opts[i];

		if (o->type == OT_NOINLINE)
			continue;
		join(p, sizeof(p), prefix, o->key);
		if (strcmp(o->key, key) == 0 && prefix[0] != '\0') {
			snprintf(out, n, "%s", p);
			return true;
		}
		if (o->type == OT_SECTION && find_elsewhere(o->sub, p, key, out, n, depth + 1))
			return true;
		if (o->type == OT_LIST) {
			char lp[PATH_TEXT_MAX + 2];

			snprintf(lp, sizeof(lp), "%s[]", p);
			if (find_elsewhere(o->sub, lp, key, out, n, depth + 1))
				return true;
		}
	}
	return false;
}

static void
unknown_key(struct load *ld, const struct section *sec, const char *path, const char *key, int line)
{
	const char *names[32];
	char full[PATH_TEXT_MAX], other[PATH_TEXT_MAX];
	const char *near;
	size_t n = 0;

	for (size_t i = 0; i < sec->nopts && n < 32; i++)
		names[n++] = sec->opts[i].key;
	join(full, sizeof(full), path, key);
	near = nearest(key, names, n);
	if (near != NULL)
		add_err(ld, line, full, "unknown key (did you mean %s?)", near);
	else if (find_elsewhere(&cs_config_table, "", key, other, sizeof(other), 0))
		add_err(ld, line, full, "unknown key here (did you mean %s?)", other);
	else
		add_err(ld, line, full, "unknown key");
}

/* Appends "a, b or c" of the choices to out. */
static void
choice_list(const struct choice *c, char *out, size_t n)
{
	size_t k = 0, count = 0;

	out[0] = '\0';
	while (c[count].name != NULL)
		count++;
	for (size_t i = 0; i < count && k < n; i++) {
		int w = snprintf(out + k, n - k, "%s%s", i == 0 ? "" : i + 1 == count ? " or " : ", ",
		                 c[i].name);
		if (w < 0)
			break;
		k += (size_t)w;
	}
}

static bool
is_null_text(const char *v, size_t len, bool plain)
{
	if (!plain)
		return false;
	return len == 0 || (len == 1 && v[0] == '~') ||
	       (len == 4 && (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 ||
	                     memcmp(v, "NULL", 4) == 0));
}

/* Parses an unsigned decimal within [min, max]; with `size`, an optional unit KiB/MiB/GiB/B. */
static bool
parse_number(const char *v, size_t len, bool size, long long min, long long max,
             unsigned long long *out)
{
	unsigned long long x = 0, mult = 1;
	size_t i = 0;

	while (i < len && v[i] >= '0' && v[i] <= '9') {
		if (x > (ULLONG_MAX - 9) / 10)
			return false;
		x = x * 10 + (unsigned)(v[i] - '0');
		i++;
	}
	if (i == 0)
		return false;
	if (size) {
		if (i < len && v[i] == ' ')
			i++;
		if (len - i == 3 && memcmp(v + i, "KiB", 3) == 0)
			mult = 1ULL << 10;
		else if (len - i == 3 && memcmp(v + i, "MiB", 3) == 0)
			mult = 1ULL << 20;
		else if (len - i == 3 && memcmp(v + i, "GiB", 3) == 0)
			mult = 1ULL << 30;
		else if (len - i == 1 && v[i] == 'B')
			mult = 1;
		else if (i != len)
			return false;
		i = len;
	}
	if (i != len || x > ULLONG_MAX / mult)
		return false;
	x *= mult;
	if (x < (unsigned long long)min || x > (unsigned long long)max)
		return false;
	*out = x;
	return true;
}

static char *
dup_text(struct load *ld, const char *v, size_t len)
{
	char *s = strndup(v, len);

	if (s == NULL)
		ld->nomem = true;
	return s;
}

/* Sets one scalar setting from text (the file's, or the table's default). */
static void
set_scalar(struct load *ld, const struct opt *o, void *obj, const char *v, size_t len, int line,
           const char *path)
{
	char *base = obj;
	char why[256], lo[32], hi[32];
	unsigned long long num;

	switch (o->type) {
	case OT_STR:
		if (len < (size_t)o->min || len > (size_t)o->max) {
			add_err(ld, line, path, "expected %lld to %lld bytes, got %zu", o->min, o->max, len);
			return;
		}
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
				add_err(ld, line, path, "control characters are not allowed");
				return;
			}
		{
			/* YAML scalars are not NUL-terminated: validators get a terminated copy. */
			char **slot = (char **)(base + o->off);
			char *s = dup_text(ld, v, len);

			if (s == NULL)
				return;
			if (o->check != NULL && !o->check(s, len, why, sizeof(why))) {
				add_err(ld, line, path, "%s", why);
				free(s);
				return;
			}
			free(*slot);
			*slot = s;
		}
		return;
	case OT_BOOL:
		if (len == 4 && memcmp(v, "true", 4) == 0)
			*(bool *)(base + o->off) = true;
		else if (len == 5 && memcmp(v, "false", 5) == 0)
			*(bool *)(base + o->off) = false;
		else
			add_err(ld, line, path, "expected true or false");
		return;
	case OT_UINT:
		if (!parse_number(v, len, false, o->min, o->max, &num)) {
			add_err(ld, line, path, "expected a whole number from %lld to %lld", o->min, o->max);
			return;
		}
		*(unsigned *)(base + o->off) = (unsigned)num;
		if (o->flags & F_GIVEN)
			*(bool *)(base + o->off_n) = true;
		return;
	case OT_SIZE:
		if (!parse_number(v, len, true, o->min, o->max, &num)) {
			cs_config_size_text((unsigned long long)o->min, lo, sizeof(lo));
			cs_config_size_text((unsigned long long)o->max, hi, sizeof(hi));
			add_err(ld, line, path, "expected a size in bytes (like 1048576 or 1 MiB) from %s "
			        "to %s", lo, hi);
			return;
		}
		*(size_t *)(base + o->off) = (size_t)num;
		return;
	case OT_ENUM: {
		const char *names[16];
		size_t n = 0;
		const char *near;

		for (const struct choice *c = o->choices; c->name != NULL; c++) {
			if (strlen(c->name) == len && memcmp(c->name, v, len) == 0) {
				*(int *)(base + o->off) = c->value;
				return;
			}
			if (n < 16)
				names[n++] = c->name;
		}
		choice_list(o->choices, why, sizeof(why));
		if (len <= 64) {
			char tmp[65];

			memcpy(tmp, v, len);
			tmp[len] = '\0';
			near = nearest(tmp, names, n);
			if (near != NULL) {
				add_err(ld, line, path, "expected %s (did you mean %s?)", why, near);
				return;
			}
		}
		add_err(ld, line, path, "expected %s", why);
		return;
	}
	default:
		add_err(ld, line, path, "internal: not a scalar setting");
		return;
	}
}

/* Sets a section written as one word ("route: all"). */
static void
set_word(struct load *ld, const struct opt *o, void *obj, const char *v, size_t len, int line,
         const char *path)
{
	char why[256];

	for (const struct choice *c = o->choices; c->name != NULL; c++)
		if (strlen(c->name) == len && memcmp(c->name, v, len) == 0) {
			*(int *)((char *)obj + o->off) = c->value;
			return;
		}
	choice_list(o->choices, why, sizeof(why));
	add_err(ld, line, path, "expected %s, or a section of settings", why);
}

static void
apply_defaults(struct load *ld, const struct section *sec, void *obj)
{
	for (size_t i = 0; i < sec->nopts; i++) {
		const struct opt *o = &sec->opts[i];

		if (o->type == OT_SECTION) {
			apply_defaults(ld, o->sub, obj);
			if (o->choices != NULL && o->dflt != NULL)
				set_word(ld, o, obj, o->dflt, strlen(o->dflt), 0, o->key);
		} else if (o->dflt != NULL)
			set_scalar(ld, o, obj, o->dflt, strlen(o->dflt), 0, o->key);
	}
}

static void walk_section(struct load *ld, const struct section *sec, void *obj,
                         struct fy_node *map, const char *path);

/* The text of scalar n (not NUL-terminated), or NULL when it is refused (error reported).
 * libfyaml 0.7.12 leaks memory when it unescapes a single-quoted scalar holding a run of ''
 * escapes (found by fuzzing), so single-quoted scalars are read here from the source text: the
 * token's marks span the text between the quotes, where '' stands for ' (multi-line ones, which
 * would need YAML line folding, are refused; no setting needs them). */
static const char *
scalar_text(struct load *ld, struct fy_node *n, const char *path, size_t *len)
{
	struct fy_token *t;
	const struct fy_mark *s, *e;
	const char *raw;
	size_t rl, k = 0;
	char *out;

	if (fy_node_get_style(n) != FYNS_SINGLE_QUOTED) {
		enum fy_node_style st = fy_node_get_style(n);
		const char *v = fy_node_get_scalar(n, len);

		/* No text is an empty value, or libfyaml could not allocate the text of one that is
		 * not (it builds the text on demand, and answers "" when that fails): out of memory,
		 * not "needs a value". A plain scalar taking up input always has text; a double-quoted
		 * one longer than its two quotes has too. */
		if ((v == NULL || *len == 0) && (st == FYNS_PLAIN || st == FYNS_DOUBLE_QUOTED) &&
		    (t = fy_node_get_scalar_token(n)) != NULL && (s = fy_token_start_mark(t)) != NULL &&
		    (e = fy_token_end_mark(t)) != NULL && e->input_pos > s->input_pos + (st == FYNS_PLAIN ? 0 : 2))
			ld->nomem = true;
		return v;
	}
	t = fy_node_get_scalar_token(n);
	s = t != NULL ? fy_token_start_mark(t) : NULL;
	e = t != NULL ? fy_token_end_mark(t) : NULL;
	if (s == NULL || e == NULL || s->input_pos < 1 || e->input_pos < s->input_pos ||
	    e->input_pos >= ld->len || ld->data[s->input_pos - 1] != '\'' ||
	    ld->data[e->input_pos] != '\'') {
		add_err(ld, node_line(n), path, "internal: cannot locate a quoted value");
		return NULL;
	}
	raw = ld->data + s->input_pos;
	rl = e->input_pos - s->input_pos;
	if (memchr(raw, '\n', rl) != NULL || memchr(raw, '\r', rl) != NULL) {
		add_err(ld, node_line(n), path, "a single-quoted value must be on one line");
		return NULL;
	}
	if (memmem(raw, rl, "''", 2) == NULL) {
		*len = rl;
		return raw;
	}
	if (ld->nscratch == ld->scratch_cap) {
		size_t cap = ld->scratch_cap ? ld->scratch_cap * 2 : 16;
		char **v = realloc(ld->scratch, cap * sizeof(*v));

		if (v == NULL) {
			ld->nomem = true;
			return NULL;
		}
		ld->scratch = v;
		ld->scratch_cap = cap;
	}
	if ((out = malloc(rl)) == NULL) {
		ld->nomem = true;
		return NULL;
	}
	ld->scratch[ld->nscratch++] = out;
	for (size_t i = 0; i < rl; i++) {
		out[k++] = raw[i];
		if (raw[i] == '\'' && i + 1 < rl && raw[i + 1] == '\'')
			i++;
	}
	*len = k;
	return out;
}

/* Returns the scalar text of n, or NULL (and an error) when n is not a usable scalar. */
static const char *
scalar_of(struct load *ld, struct fy_node *n, int line, const char *path, size_t *len,
          bool *null)
{
	const char *v;

	*null = false;
	if (n == NULL) {
		*null = true;
		return NULL;
	}
	if (fy_node_is_alias(n)) {
		add_err(ld, node_line(n), path, "aliases are not supported; write the value out");
		return NULL;
	}
	if (!fy_node_is_scalar(n)) {
		add_err(ld, node_line(n), path, "expected a single value, not a %s",
		        fy_node_is_mapping(n) ? "mapping" : "list");
		return NULL;
	}
	v = scalar_text(ld, n, path, len);
	if (v == NULL) {
		*null = fy_node_get_style(n) != FYNS_SINGLE_QUOTED;
		return NULL;
	}
	if (is_null_text(v, *len, fy_node_get_style(n) == FYNS_PLAIN)) {
		*null = true;
		return NULL;
	}
	return v;
}

static void
read_strlist(struct load *ld, const struct opt *o, void *obj, struct fy_node *n, int line,
             const char *path)
{
	char **list = NULL;
	size_t count, k = 0;
	void *it = NULL;
	struct fy_node *item;

	if (!fy_node_is_sequence(n) || fy_node_is_alias(n)) {
		add_err(ld, line, path, "expected a list of values");
		return;
	}
	count = (size_t)fy_node_sequence_item_count(n);
	if (count < (size_t)o->min || count > (size_t)o->max) {
		add_err(ld, line, path, "expected %lld to %lld values, got %zu", o->min, o->max, count);
		return;
	}
	list = calloc(count, sizeof(*list));
	if (list == NULL) {
		ld->nomem = true;
		return;
	}
	while ((item = fy_node_sequence_iterate(n, &it)) != NULL && k < count) {
		char ip[PATH_TEXT_MAX + 32];
		const char *v;
		size_t len;
		bool null, bad = false;

		snprintf(ip, sizeof(ip), "%s[%zu]", path, k);
		v = scalar_of(ld, item, node_line(item), ip, &len, &null);
		if (v == NULL) {
			if (null)
				add_err(ld, node_line(item), ip, "empty value");
			k++;
			continue;
		}
		if (len == 0 || len > o->lmax) {
			add_err(ld, node_line(item), ip, len == 0 ? "empty value" : "longer than %zu bytes",
			        o->lmax);
			bad = true;
		}
		for (size_t i = 0; !bad && i < len; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
				add_err(ld, node_line(item), ip, "control characters are not allowed");
				bad = true;
			}
		for (size_t j = 0; !bad && j < k; j++)
			if (list[j] != NULL && strlen(list[j]) == len && memcmp(list[j], v, len) == 0) {
				add_err(ld, node_line(item), ip, "repeats %s[%zu]", path, j);
				bad = true;
			}
		if (!bad)
			list[k] = dup_text(ld, v, len);
		k++;
	}
	*(char ***)((char *)obj + o->off) = list;
	*(size_t *)((char *)obj + o->off_n) = count;
}

/* A value of a value map or a match key: text of 1 to lmax bytes without control characters.
 * Returns a new copy, or NULL (error reported). */
static char *
read_item(struct load *ld, const struct opt *o, struct fy_node *n, int line, const char *path)
{
	const char *v;
	size_t len;
	bool null;

	v = scalar_of(ld, n, line, path, &len, &null);
	if (v == NULL) {
		if (null)
			add_err(ld, line, path, "needs a value");
		return NULL;
	}
	if (len == 0 || len > o->lmax) {
		add_err(ld, line, path, len == 0 ? "empty value" : "longer than %zu bytes", o->lmax);
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			add_err(ld, line, path, "control characters are not allowed");
			return NULL;
		}
	return dup_text(ld, v, len);
}

/* The printable form of a key in a path: control characters become '?', long ones are cut. */
static void
key_text(const char *k, char *out, size_t n)
{
	size_t i = 0;

	for (; k != NULL && k[i] != '\0' && i + 1 < n && i < 64; i++)
		out[i] = (unsigned char)k[i] < 0x20 || k[i] == 0x7f ? '?' : k[i];
	out[i] = '\0';
}

static void
read_map(struct load *ld, const struct opt *o, void *obj, struct fy_node *n, int line,
         const char *path)
{
	struct cs_pair *pairs;
	size_t count, k = 0;
	void *it = NULL;
	struct fy_node_pair *p;

	if (!fy_node_is_mapping(n) || fy_node_is_alias(n)) {
		add_err(ld, line, path, "expected a mapping of values (%s)", o->syntax);
		return;
	}
	count = (size_t)fy_node_mapping_item_count(n);
	if (count < (size_t)o->min || count > (size_t)o->max) {
		add_err(ld, line, path, "expected %lld to %lld entries, got %zu", o->min, o->max, count);
		return;
	}
	if ((pairs = calloc(count, sizeof(*pairs))) == NULL) {
		ld->nomem = true;
		return;
	}
	*(struct cs_pair **)((char *)obj + o->off) = pairs;
	*(size_t *)((char *)obj + o->off_n) = count;
	while ((p = fy_node_mapping_iterate(n, &it)) != NULL && k < count && !ld->nomem) {
		struct fy_node *kn = fy_node_pair_key(p), *vn = fy_node_pair_value(p);
		char ip[PATH_TEXT_MAX + 80], kt[80];
		int kl = kn != NULL ? node_line(kn) : line;

		pairs[k].clm = kn != NULL ? read_item(ld, o, kn, kl, path) : NULL;
		if (kn == NULL)
			add_err(ld, line, path, "a key needs a value");
		key_text(pairs[k].clm != NULL ? pairs[k].clm : "?", kt, sizeof(kt));
		snprintf(ip, sizeof(ip), "%s.%s", path, kt);
		pairs[k].sf = read_item(ld, o, vn, vn != NULL && node_line(vn) > 0 ? node_line(vn) : kl,
		                        ip);
		for (size_t j = 0; pairs[k].clm != NULL && j < k; j++)
			if (pairs[j].clm != NULL && strcmp(pairs[j].clm, pairs[k].clm) == 0)
				add_err(ld, kl, ip, "given twice");
		k++;
	}
}

static void
read_pairs(struct load *ld, const struct opt *o, void *obj, struct fy_node *n, int line,
           const char *path)
{
	struct cs_pair *pairs;
	size_t count, k = 0;
	void *it = NULL;
	struct fy_node *item;

	if (!fy_node_is_sequence(n) || fy_node_is_alias(n)) {
		add_err(ld, line, path, "expected a list of [repository field, Salesforce field] pairs");
		return;
	}
	count = (size_t)fy_node_sequence_item_count(n);
	if (count < (size_t)o->min || count > (size_t)o->max) {
		add_err(ld, line, path, "expected %lld to %lld pairs, got %zu", o->min, o->max, count);
		return;
	}
	if ((pairs = calloc(count, sizeof(*pairs))) == NULL) {
		ld->nomem = true;
		return;
	}
	*(struct cs_pair **)((char *)obj + o->off) = pairs;
	*(size_t *)((char *)obj + o->off_n) = count;
	while ((item = fy_node_sequence_iterate(n, &it)) != NULL && k < count && !ld->nomem) {
		char ip[PATH_TEXT_MAX + 32];
		int il = node_line(item) > 0 ? node_line(item) : line;

		snprintf(ip, sizeof(ip), "%s[%zu]", path, k);
		if (!fy_node_is_sequence(item) || fy_node_is_alias(item) ||
		    fy_node_sequence_item_count(item) != 2) {
			add_err(ld, il, ip, "expected a pair [repository field, Salesforce field]");
		} else {
			struct fy_node *a = fy_node_sequence_get_by_index(item, 0);
			struct fy_node *b = fy_node_sequence_get_by_index(item, 1);

			pairs[k].clm = read_item(ld, o, a, node_line(a) > 0 ? node_line(a) : il, ip);
			pairs[k].sf = read_item(ld, o, b, node_line(b) > 0 ? node_line(b) : il, ip);
		}
		k++;
	}
}

static void
read_list(struct load *ld, const struct opt *o, void *obj, struct fy_node *n, int line,
          const char *path)
{
	const struct section *sub = o->sub;
	char *items;
	size_t count, k = 0;
	void *it = NULL;
	struct fy_node *item;

	if (!fy_node_is_sequence(n) || fy_node_is_alias(n)) {
		add_err(ld, line, path, "expected a list (items starting with '- ')");
		return;
	}
	count = (size_t)fy_node_sequence_item_count(n);
	if (count < (size_t)o->min || count > (size_t)o->max) {
		add_err(ld, line, path, "expected %lld to %lld entries, got %zu", o->min, o->max, count);
		return;
	}
	if (count == 0)
		return;
	items = calloc(count, sub->item_size);
	if (items == NULL) {
		ld->nomem = true;
		return;
	}
	/* Stored before the walk, so cs_config_free releases partly read items too. */
	*(void **)((char *)obj + o->off) = items;
	*(size_t *)((char *)obj + o->off_n) = count;
	while ((item = fy_node_sequence_iterate(n, &it)) != NULL && k < count) {
		char ip[PATH_TEXT_MAX + 32];
		void *io = items + k * sub->item_size;

		snprintf(ip, sizeof(ip), "%s[%zu]", path, k);
		apply_defaults(ld, sub, io);
		if (!fy_node_is_mapping(item) || fy_node_is_alias(item))
			add_err(ld, node_line(item), ip, "expected a mapping of settings (key: value)");
		else
			walk_section(ld, sub, io, item, ip);
		k++;
	}
	if (sub->finish_list != NULL)
		sub->finish_list(ld, items, count, n, path);
}

static void
read_value(struct load *ld, const struct opt *o, void *obj, struct fy_node *key,
           struct fy_node *val, const char *path)
{
	/* A scalar is placed at its own line; a section or list at its key's. */
	int line = val != NULL && fy_node_is_scalar(val) ? node_line(val) : 0;
	bool null = false;

	if (line == 0)   /* also an empty value ("key:"), which has no token of its own */
		line = node_line(key);

	if (val != NULL && fy_node_is_alias(val)) {
		add_err(ld, line, path, "aliases are not supported; write the value out");
		return;
	}
	if (val == NULL || fy_node_is_scalar(val)) {
		size_t len;
		const char *v = scalar_of(ld, val, line, path, &len, &null);

		if (o->type == OT_NOINLINE) {
			add_err(ld, node_line(key), path, "secrets are never written in the configuration; "
			        "use %s", o->syntax);
			return;
		}
		if (null) {
			/* An empty section or list (all of it commented out) is the same as absent,
			 * which a required one may not be. */
			if (o->type == OT_SECTION || o->type == OT_LIST || o->type == OT_MAP ||
			    o->type == OT_PAIRS) {
				if (o->flags & F_REQUIRED)
					add_err(ld, line, path, "missing (required): it is empty");
				return;
			}
			add_err(ld, line, path, "needs a value");
			return;
		}
		if (v == NULL)
			return;
		if (o->type == OT_SECTION && o->choices != NULL) {
			set_word(ld, o, obj, v, len, line, path);
			return;
		}
		if (o->type == OT_SECTION) {
			add_err(ld, line, path, "expected a section (a mapping of settings)");
			return;
		}
		if (o->type == OT_LIST || o->type == OT_STRLIST || o->type == OT_PAIRS) {
			add_err(ld, line, path, "expected a list");
			return;
		}
		if (o->type == OT_MAP) {
			add_err(ld, line, path, "expected a mapping of values (%s)", o->syntax);
			return;
		}
		set_scalar(ld, o, obj, v, len, line, path);
		return;
	}
	switch (o->type) {
	case OT_SECTION:
		if (!fy_node_is_mapping(val))
			add_err(ld, line, path, "expected a section (a mapping of settings)");
		else
			walk_section(ld, o->sub, obj, val, path);
		return;
	case OT_LIST:
		read_list(ld, o, obj, val, line, path);
		return;
	case OT_STRLIST:
		read_strlist(ld, o, obj, val, line, path);
		return;
	case OT_MAP:
		read_map(ld, o, obj, val, line, path);
		return;
	case OT_PAIRS:
		read_pairs(ld, o, obj, val, line, path);
		return;
	case OT_NOINLINE:
		add_err(ld, node_line(key), path, "secrets are never written in the configuration; "
		        "use %s", o->syntax);
		return;
	default:
		add_err(ld, line, path, "expected a single value, not a %s",
		        fy_node_is_mapping(val) ? "mapping" : "list");
		return;
	}
}

static void
walk_section(struct load *ld, const struct section *sec, void *obj, struct fy_node *map,
             const char *path)
{
	void *it = NULL;
	struct fy_node_pair *pair;
	uint32_t seen = 0;

	if (sec->nopts > 32) {   /* `seen` has one bit per setting */
		add_err(ld, node_line(map), path, "internal: section has too many settings");
		return;
	}
	while ((pair = fy_node_mapping_iterate(map, &it)) != NULL && !ld->nomem) {
		struct fy_node *key = fy_node_pair_key(pair), *val = fy_node_pair_value(pair);
		char full[PATH_TEXT_MAX], kt[CS_CONFIG_NAME_MAX + 1];
		const char *k;
		size_t klen;
		size_t i;

		if (key == NULL || !fy_node_is_scalar(key) || fy_node_is_alias(key)) {
			add_err(ld, key != NULL ? node_line(key) : node_line(map), path,
			        "keys must be plain names");
			continue;
		}
		if ((k = scalar_text(ld, key, path, &klen)) == NULL) {
			if (fy_node_get_style(key) != FYNS_SINGLE_QUOTED)
				add_err(ld, node_line(key), path, "keys must be plain names");
			continue;
		}
		if (klen > CS_CONFIG_NAME_MAX || memchr(k, '\0', klen) != NULL) {
			add_err(ld, node_line(key), path, klen > CS_CONFIG_NAME_MAX ?
			        "unknown key (longer than any setting's name)" : "unknown key (holds a NUL)");
			continue;
		}
		memcpy(kt, k, klen);
		kt[klen] = '\0';
		for (i = 0; i < sec->nopts; i++)
			if (strcmp(sec->opts[i].key, kt) == 0)
				break;
		if (i == sec->nopts) {
			/* A quoted key may hold control characters; never echo them to a terminal. */
			for (size_t j = 0; j < klen; j++)
				if ((unsigned char)kt[j] < 0x20 || kt[j] == 0x7f)
					kt[j] = '?';
			unknown_key(ld, sec, path, kt, node_line(key));
			continue;
		}
		join(full, sizeof(full), path, kt);
		if (seen & (UINT32_C(1) << i)) {
			add_err(ld, node_line(key), full, "given twice");
			continue;
		}
		seen |= UINT32_C(1) << i;
		read_value(ld, &sec->opts[i], obj, key, val, full);
	}
	for (size_t i = 0; i < sec->nopts; i++)
		if ((sec->opts[i].flags & F_REQUIRED) && !(seen & (UINT32_C(1) << i))) {
			char full[PATH_TEXT_MAX];

			join(full, sizeof(full), path, sec->opts[i].key);
			add_err(ld, node_line(map), full, "missing (required)");
		}
	if (sec->finish != NULL)
		sec->finish(ld, obj, map, seen, path);
}

/* --- cross-field rules ---------------------------------------------------------------------- */

static bool
was_seen(const struct section *sec, uint32_t seen, const char *key)
{
	for (size_t i = 0; i < sec->nopts; i++)
		if (strcmp(sec->opts[i].key, key) == 0)
			return (seen & (UINT32_C(1) << i)) != 0;
	return false;
}

/* The line of key in mapping map, or the mapping's own line. */
static int
key_line(struct fy_node *map, const char *key)
{
	struct fy_node *v = map != NULL ? fy_node_mapping_lookup_key_by_string(map, key, FY_NT) : NULL;

	return v != NULL ? node_line(v) : node_line(map);
}

static void tls_finish(struct load *ld, const struct section *sec, struct cs_tls *t, struct fy_node *map,
                       uint32_t seen, const char *path);

static void
repo_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_config *c = obj;

	tls_finish(ld, &repository_sec, &c->repository.tls, map, seen, path);
	if (c->repository.listen == NULL ||
	    !cs_config_parse_listen(c->repository.listen, c->repository.host,
	                            sizeof(c->repository.host), &c->repository.port)) {
		c->repository.host[0] = '\0';
		c->repository.port = 0;
	}
}

static void
admin_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_config *c = obj;

	tls_finish(ld, &admin_sec, &c->admin.tls, map, seen, path);
	if (c->admin.listen == NULL ||
	    !cs_config_parse_listen(c->admin.listen, c->admin.host, sizeof(c->admin.host), &c->admin.port)) {
		c->admin.host[0] = '\0';
		c->admin.port = 0;
	}
}

/* What a secret read from a file or the environment must look like. */
struct secret_kind {
	const char *what;            /* "token", in messages */
	const char *rule;            /* what a valid one is, in messages */
	size_t min, max;             /* bytes of the secret */
	mode_t forbid;               /* file mode bits refused */
	bool pem;                    /* kept whole (a PEM key), not one line */
};

static const struct secret_kind token_kind = {
	"token", "a token is one line of 16 to 4096 visible ASCII characters",
	CS_CONFIG_SECRET_MIN, CS_CONFIG_SECRET_MAX, S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH, false,
};

static const struct secret_kind oauth_secret_kind = {
	"secret", "a secret is one line of 1 to 4096 visible ASCII characters",
	1, CS_CONFIG_SECRET_MAX, S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH, false,
};

static const struct secret_kind key_kind = {
	"private key", "a private key is an unencrypted PEM key (-----BEGIN PRIVATE KEY----- or "
	"-----BEGIN RSA PRIVATE KEY-----)",
	64, CS_CONFIG_KEY_FILE_MAX, S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH, true,
};

static const struct secret_kind tls_key_kind = {
	"private key", "a private key is an unencrypted PEM key (-----BEGIN PRIVATE KEY-----, "
	"-----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)",
	64, CS_CONFIG_KEY_FILE_MAX, S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH, true,
};

/* Not a secret: any mode will do, but others must not be able to change it. */
static const struct secret_kind tls_cert_kind = {
	"certificate", "a certificate file is PEM (-----BEGIN CERTIFICATE-----), the server's first",
	64, CS_CONFIG_KEY_FILE_MAX * 4, S_IWOTH, true,
};

/* A token or secret travels in a header or form field: visible ASCII only. A PEM key is lines
 * of ASCII between its BEGIN and END lines; an encrypted one cannot be used unattended. */
static bool
secret_text_ok(const struct secret_kind *k, const char *s, size_t len)
{
	if (len < k->min || len > k->max)
		return false;
	if (k->pem) {
		for (size_t i = 0; i < len; i++)
			if (!((s[i] >= 0x20 && s[i] <= 0x7e) || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
				return false;
		if (k == &tls_cert_kind)
			return memmem(s, len, "-----BEGIN CERTIFICATE-----", 27) != NULL &&
			       memmem(s, len, "-----END CERTIFICATE-----", 25) != NULL;
		if (k == &tls_key_kind && memmem(s, len, "-----BEGIN EC PRIVATE KEY-----", 30) != NULL &&
		    memmem(s, len, "-----END EC PRIVATE KEY-----", 28) != NULL)
			return true;
		return (memmem(s, len, "-----BEGIN PRIVATE KEY-----", 27) != NULL &&
		        memmem(s, len, "-----END PRIVATE KEY-----", 25) != NULL) ||
		       (memmem(s, len, "-----BEGIN RSA PRIVATE KEY-----", 31) != NULL &&
		        memmem(s, len, "-----END RSA PRIVATE KEY-----", 29) != NULL);
	}
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

/* Reads the secret in file; returns a new string (the caller's to wipe and free) or NULL with an
 * error naming path and line. Neither the content nor a part of it reaches a message. */
static char *
read_secret_file(struct load *ld, const struct secret_kind *k, const char *file, int line,
                 const char *path)
{
	size_t cap = k->max + 2, len = 0;   /* room for a final "\r\n" */
	char *buf = NULL, *out = NULL;
	struct stat st;
	int fd;

	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		add_err(ld, line, path, "cannot open %s: %s", file, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		add_err(ld, line, path, "%s is not a regular file", file);
		goto out;
	}
	if (st.st_mode & k->forbid) {
		add_err(ld, line, path, "%s is accessible to %s (mode %04o); restrict it with chmod 600",
		        file, st.st_mode & (S_IROTH | S_IWOTH) ? "every user" : "its group",
		        (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > (off_t)cap) {
		add_err(ld, line, path, "%s is larger than a %s can be; %s", file, k->what, k->rule);
		goto out;
	}
	if ((buf = malloc(cap + 1)) == NULL) {
		ld->nomem = true;
		goto out;
	}
	while (len < cap) {
		ssize_t r = read(fd, buf + len, cap - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			add_err(ld, line, path, "cannot read %s: %s", file, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (!k->pem && len > 0 && buf[len - 1] == '\n')
		len--;
	if (!k->pem && len > 0 && buf[len - 1] == '\r')
		len--;
	if (!secret_text_ok(k, buf, len)) {
		add_err(ld, line, path, "%s does not hold a valid %s; %s", file, k->what, k->rule);
		goto out;
	}
	out = dup_text(ld, buf, len);
out:
	if (buf != NULL) {
		explicit_bzero(buf, cap + 1);
		free(buf);
	}
	close(fd);
	return out;
}

/* A listener's certificate and key: both or neither, each file read now (before privileges are
 * given up), the key held to the rules of a private key file. */
static void
tls_finish(struct load *ld, const struct section *sec, struct cs_tls *t, struct fy_node *map,
           uint32_t seen, const char *path)
{
	bool cert = was_seen(sec, seen, "tls_cert_file"), key = was_seen(sec, seen, "tls_key_file");
	char full[PATH_TEXT_MAX];

	if (map == NULL || (!cert && !key))
		return;
	if (cert != key) {
		join(full, sizeof(full), path, cert ? "tls_key_file" : "tls_cert_file");
		add_err(ld, key_line(map, cert ? "tls_cert_file" : "tls_key_file"), full,
		        "HTTPS needs both tls_cert_file and tls_key_file");
		return;
	}
	if (t->cert_file == NULL || t->key_file == NULL || (ld->flags & CS_CONFIG_NO_SECRETS))
		return;   /* their errors were reported, or no files are read */
	join(full, sizeof(full), path, "tls_cert_file");
	t->cert = read_secret_file(ld, &tls_cert_kind, t->cert_file, key_line(map, "tls_cert_file"), full);
	join(full, sizeof(full), path, "tls_key_file");
	t->key = read_secret_file(ld, &tls_key_kind, t->key_file, key_line(map, "tls_key_file"), full);
}

/* Reads the secret in environment variable env, as read_secret_file. */
static char *
read_secret_env(struct load *ld, const struct secret_kind *k, const char *env, int line,
                const char *path)
{
	const char *v = getenv(env);

	if (v == NULL) {
		add_err(ld, line, path, "environment variable %s is not set", env);
		return NULL;
	}
	if (!secret_text_ok(k, v, strlen(v))) {
		add_err(ld, line, path, "environment variable %s does not hold a valid %s; %s", env,
		        k->what, k->rule);
		return NULL;
	}
	return dup_text(ld, v, strlen(v));
}

static const struct secret_kind hmac_kind = {
	"signing key", "a signing key is one line of 16 to 4096 visible ASCII characters",
	CS_CONFIG_SECRET_MIN, CS_CONFIG_SECRET_MAX, S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH, false,
};

/* The webhook needs exactly one source of its signing key; a key without a webhook would sign
 * nothing, which is a mistake worth naming. */
static void
alerts_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_config *c = obj;
	bool url = was_seen(&alerts_sec, seen, "webhook_url");
	bool file = was_seen(&alerts_sec, seen, "secret_file");
	bool env = was_seen(&alerts_sec, seen, "secret_env");
	char full[PATH_TEXT_MAX];

	if (map == NULL)   /* the defaults: no webhook */
		return;
	if (!url && (file || env)) {
		join(full, sizeof(full), path, file ? "secret_file" : "secret_env");
		add_err(ld, key_line(map, file ? "secret_file" : "secret_env"), full,
		        "only with webhook_url (a signing key without a webhook signs nothing)");
		return;
	}
	if (!url)
		return;
	if (file == env) {
		if (file || !was_seen(&alerts_sec, seen, "secret"))
			add_err(ld, key_line(map, "webhook_url"), path,
			        "give exactly one of secret_file and secret_env with webhook_url");
		return;
	}
	if ((file && c->alerts.secret_file == NULL) || (env && c->alerts.secret_env == NULL))
		return;   /* its error was reported */
	if (ld->flags & CS_CONFIG_NO_SECRETS)
		return;
	join(full, sizeof(full), path, file ? "secret_file" : "secret_env");
	if (file)
		c->alerts.secret = read_secret_file(ld, &hmac_kind, c->alerts.secret_file,
		                                    key_line(map, "secret_file"), full);
	else
		c->alerts.secret = read_secret_env(ld, &hmac_kind, c->alerts.secret_env,
		                                   key_line(map, "secret_env"), full);
}

static void
token_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_api_token *t = obj;
	bool file = was_seen(&token_sec, seen, "token_file");
	bool env = was_seen(&token_sec, seen, "token_env");
	char full[PATH_TEXT_MAX], src[CS_CONFIG_STRING_MAX + 32];

	if (file == env) {
		/* An inline token already has its own error, which says where tokens come from. */
		if (file || !was_seen(&token_sec, seen, "token"))
			add_err(ld, node_line(map), path, "give exactly one of token_file and token_env");
		return;
	}
	if ((file && t->file == NULL) || (env && t->env == NULL))   /* its error was reported */
		return;
	join(full, sizeof(full), path, file ? "token_file" : "token_env");
	snprintf(src, sizeof(src), "%s %s", file ? "file" : "environment", file ? t->file : t->env);
	free(t->source);
	if ((t->source = dup_text(ld, src, strlen(src))) == NULL)
		return;
	if (ld->flags & CS_CONFIG_NO_SECRETS)
		return;
	if (file)
		t->secret = read_secret_file(ld, &token_kind, t->file, key_line(map, "token_file"), full);
	else
		t->secret = read_secret_env(ld, &token_kind, t->env, key_line(map, "token_env"), full);
	t->secret_len = t->secret != NULL ? strlen(t->secret) : 0;
}

static void
tokens_finish(struct load *ld, void *items, size_t n, struct fy_node *seq, const char *path)
{
	struct cs_api_token *t = items;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++) {
			char p[PATH_TEXT_MAX];
			int line = node_line(fy_node_sequence_get_by_index(seq, (int)i));

			snprintf(p, sizeof(p), "%s[%zu]", path, i);
			if (t[i].name != NULL && t[j].name != NULL && strcmp(t[i].name, t[j].name) == 0)
				add_err(ld, line, p, "name %s is also used by %s[%zu]", t[i].name, path, j);
			if (t[i].secret != NULL && t[j].secret != NULL &&
			    t[i].secret_len == t[j].secret_len &&
			    memcmp(t[i].secret, t[j].secret, t[i].secret_len) == 0)
				add_err(ld, line, p, "has the same token as %s[%zu]; each token must be "
				        "different", path, j);
		}
}

static void
attr_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_attr_decl *a = obj;
	bool has_values = was_seen(&attr_sec, seen, "values");
	char full[PATH_TEXT_MAX];

	if (!was_seen(&attr_sec, seen, "type"))
		return;
	if (a->type == CS_ATTR_PICKLIST && !has_values) {
		join(full, sizeof(full), path, "values");
		add_err(ld, node_line(map), full, "missing (required for type picklist)");
	}
	if (a->type != CS_ATTR_PICKLIST && has_values) {
		join(full, sizeof(full), path, "values");
		add_err(ld, key_line(map, "values"), full, "only for type picklist, not %s",
		        cs_attr_type_name(a->type));
	}
	if (a->type != CS_ATTR_TEXT && was_seen(&attr_sec, seen, "max_length")) {
		join(full, sizeof(full), path, "max_length");
		add_err(ld, key_line(map, "max_length"), full, "only for type text, not %s",
		        cs_attr_type_name(a->type));
	}
}

static void
attrs_finish(struct load *ld, void *items, size_t n, struct fy_node *seq, const char *path)
{
	struct cs_attr_decl *a = items;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (a[i].name != NULL && a[j].name != NULL && strcmp(a[i].name, a[j].name) == 0) {
				char p[PATH_TEXT_MAX];

				snprintf(p, sizeof(p), "%s[%zu].name", path, i);
				add_err(ld, node_line(fy_node_sequence_get_by_index(seq, (int)i)), p,
				        "%s is also declared by %s[%zu]", a[i].name, path, j);
			}
}

/* --- orgs ----------------------------------------------------------------------------------- */

/* Returns the value node of key in map, or NULL when map is not a mapping or has no such key. */
static struct fy_node *
sub_of(struct fy_node *map, const char *key)
{
	if (map == NULL || !fy_node_is_mapping(map) || fy_node_is_alias(map))
		return NULL;
	return fy_node_mapping_lookup_by_string(map, key, FY_NT);
}

/* Returns item i of the list at key in map, or NULL. */
static struct fy_node *
item_of(struct fy_node *map, const char *key, size_t i)
{
	struct fy_node *seq = sub_of(map, key);

	if (seq == NULL || !fy_node_is_sequence(seq) || fy_node_is_alias(seq) || i > INT_MAX)
		return NULL;
	return fy_node_sequence_get_by_index(seq, (int)i);
}

/* The line of key in map when map is a mapping, else map's own line. */
static int
line_of(struct fy_node *map, const char *key)
{
	if (map == NULL || !fy_node_is_mapping(map) || fy_node_is_alias(map))
		return node_line(map);
	return key_line(map, key);
}

#define FLOW(t) (1u << (t))
#define FLOW_JWT FLOW(CS_AUTH_JWT_BEARER)
#define FLOW_CC FLOW(CS_AUTH_CLIENT_CREDENTIALS)
#define FLOW_RT FLOW(CS_AUTH_REFRESH_TOKEN)

/* Which flows each optional key of auth is for, and which require it. */
static const struct {
	const char *key;
	unsigned flows;
	unsigned required;
} auth_keys[] = {
	{ "username", FLOW_JWT, FLOW_JWT },
	{ "private_key_file", FLOW_JWT, FLOW_JWT },
	{ "client_secret_file", FLOW_CC | FLOW_RT, 0 },
	{ "client_secret_env", FLOW_CC | FLOW_RT, 0 },
	{ "refresh_token_file", FLOW_RT, 0 },
	{ "refresh_token_env", FLOW_RT, 0 },
};

static void
flows_text(unsigned flows, char *out, size_t n)
{
	size_t k = 0;

	out[0] = '\0';
	for (const struct choice *c = auth_types; c->name != NULL && k < n; c++)
		if (flows & FLOW(c->value)) {
			int w = snprintf(out + k, n - k, "%s%s", k > 0 ? " or " : "", c->name);

			if (w < 0)
				break;
			k += (size_t)w;
		}
}

/* Requires one of a _file/_env pair (or at most one, when optional) and loads the secret. */
static char *
secret_pair(struct load *ld, struct fy_node *map, uint32_t seen, const char *path,
            const char *base, const char *file, const char *env, bool required)
{
	char fk[64], ek[64], full[PATH_TEXT_MAX];
	bool f, e;

	snprintf(fk, sizeof(fk), "%s_file", base);
	snprintf(ek, sizeof(ek), "%s_env", base);
	f = was_seen(&auth_sec, seen, fk);
	e = was_seen(&auth_sec, seen, ek);
	if ((f && e) || (required && !f && !e)) {
		add_err(ld, node_line(map), path, "give %s one of %s and %s", required ? "exactly" :
		        "at most", fk, ek);
		return NULL;
	}
	if ((!f && !e) || (ld->flags & CS_CONFIG_NO_SECRETS))
		return NULL;
	join(full, sizeof(full), path, f ? fk : ek);
	if (f && file != NULL)
		return read_secret_file(ld, &oauth_secret_kind, file, key_line(map, fk), full);
	if (e && env != NULL)
		return read_secret_env(ld, &oauth_secret_kind, env, key_line(map, ek), full);
	return NULL;   /* the setting itself was refused */
}

static void
auth_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_org_auth *a = &((struct cs_org *)obj)->auth;
	const char *tname = cs_auth_type_name(a->type);
	char full[PATH_TEXT_MAX], flows[96];
	bool bad = false;

	if (!was_seen(&auth_sec, seen, "type") || a->type == 0)
		return;   /* reported as missing or invalid */
	for (size_t i = 0; i < NOPTS(auth_keys); i++) {
		bool given = was_seen(&auth_sec, seen, auth_keys[i].key);

		join(full, sizeof(full), path, auth_keys[i].key);
		if (given && !(auth_keys[i].flows & FLOW(a->type))) {
			flows_text(auth_keys[i].flows, flows, sizeof(flows));
			add_err(ld, key_line(map, auth_keys[i].key), full, "only for type %s, not %s", flows,
			        tname);
			bad = true;
		} else if (!given && (auth_keys[i].required & FLOW(a->type))) {
			add_err(ld, node_line(map), full, "missing (required for type %s)", tname);
			bad = true;
		}
	}
	if (bad)
		return;
	switch (a->type) {
	case CS_AUTH_JWT_BEARER:
		join(full, sizeof(full), path, "private_key_file");
		if (!(ld->flags & CS_CONFIG_NO_SECRETS) && a->private_key_file != NULL)
			a->private_key = read_secret_file(ld, &key_kind, a->private_key_file,
			                                  key_line(map, "private_key_file"), full);
		break;
	case CS_AUTH_CLIENT_CREDENTIALS:
		a->client_secret = secret_pair(ld, map, seen, path, "client_secret",
		                               a->client_secret_file, a->client_secret_env, true);
		break;
	case CS_AUTH_REFRESH_TOKEN:
		a->refresh_token = secret_pair(ld, map, seen, path, "refresh_token",
		                               a->refresh_token_file, a->refresh_token_env, true);
		a->client_secret = secret_pair(ld, map, seen, path, "client_secret",
		                               a->client_secret_file, a->client_secret_env, false);
		break;
	}
}

static void
org_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_org *o = obj;
	char *urls[2] = { o->login_url, o->instance_url };

	/* "https://x/" and "https://x" are the same base; paths are appended to it. */
	for (size_t i = 0; i < 2; i++) {
		size_t n = urls[i] != NULL ? strlen(urls[i]) : 0;

		if (n > 0 && urls[i][n - 1] == '/')
			urls[i][n - 1] = '\0';
	}
	if (o->api_version != NULL && strlen(o->api_version) == 4)
		o->api_major = (unsigned)((o->api_version[0] - '0') * 10 + (o->api_version[1] - '0'));
}

/* Reports entries of a list whose name (a char * at off) repeats an earlier one. */
static void
unique_names(struct load *ld, const char *items, size_t n, size_t size, size_t off,
             struct fy_node *seq, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		const char *a = *(char *const *)(items + i * size + off);

		for (size_t j = 0; a != NULL && j < i; j++) {
			const char *b = *(char *const *)(items + j * size + off);

			if (b != NULL && strcmp(a, b) == 0) {
				char p[PATH_TEXT_MAX];
				struct fy_node *item = i <= INT_MAX ? fy_node_sequence_get_by_index(seq, (int)i)
				                                    : NULL;

				snprintf(p, sizeof(p), "%s[%zu].name", path, i);
				add_err(ld, line_of(item, "name"), p, "%s is also the name of %s[%zu]", a, path,
				        j);
				break;
			}
		}
	}
}

static void
orgs_finish(struct load *ld, void *items, size_t n, struct fy_node *seq, const char *path)
{
	unique_names(ld, items, n, sizeof(struct cs_org), offsetof(struct cs_org, name), seq, path);
}

/* --- mappings ------------------------------------------------------------------------------- */

static void
route_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_mapping *m = obj;
	bool in = was_seen(&route_sec, seen, "in"), not_in = was_seen(&route_sec, seen, "not_in");

	/* The mapping form: kind is no longer the word ("all") the defaults put there. */
	m->route.kind = not_in && !in ? CS_ROUTE_NOT_IN : CS_ROUTE_IN;
	if (in == not_in)
		add_err(ld, node_line(map), path, "give exactly one of in and not_in");
}

/* The line of entry k of the value map in field node fn (its key, or its value). */
static int
value_map_line(struct fy_node *fn, size_t k, bool value)
{
	struct fy_node *vm = sub_of(fn, "value_map");
	struct fy_node_pair *p = NULL;
	void *it = NULL;

	if (vm == NULL || !fy_node_is_mapping(vm))
		return line_of(fn, "value_map");
	for (size_t i = 0; i <= k; i++)
		if ((p = fy_node_mapping_iterate(vm, &it)) == NULL)
			return line_of(fn, "value_map");
	return node_line(value && fy_node_pair_value(p) != NULL ? fy_node_pair_value(p)
	                                                       : fy_node_pair_key(p));
}

/* The line of item k of the list at key in node n. */
static int
list_item_line(struct fy_node *n, const char *key, size_t k)
{
	struct fy_node *item = item_of(n, key, k);

	return item != NULL ? node_line(item) : line_of(n, key);
}

static void
field_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_field_map *f = obj;
	char full[PATH_TEXT_MAX];
	bool both = f->owner == CS_OWNER_BOTH;
	enum cs_transform t = f->transform;

#define SEEN(k) was_seen(&field_sec, seen, k)
#define ERR_AT(k, ...) do { join(full, sizeof(full), path, k); \
		add_err(ld, line_of(map, k), full, __VA_ARGS__); } while (0)
#define MISSING(k, ...) do { join(full, sizeof(full), path, k); \
		add_err(ld, node_line(map), full, __VA_ARGS__); } while (0)

	if (!SEEN("owner") || f->owner == 0)
		return;   /* reported as missing or invalid; the rest depends on it */
	if (both) {
		if (!SEEN("conflict"))
			MISSING("conflict", "missing (required for owner both)");
		if (SEEN("non_owner_write"))
			ERR_AT("non_owner_write", "not for owner both (both sides own it; conflict decides "
			       "when both change it)");
		f->non_owner_write = 0;   /* does not apply */
	} else if (SEEN("conflict")) {
		ERR_AT("conflict", "only for owner both; with one owner there is no conflict "
		       "(non_owner_write decides)");
	}
	f->from_salesforce = f->owner != CS_OWNER_CLM || f->non_owner_write == CS_NON_OWNER_ACCEPT;

	if (SEEN("scale") && t != CS_TRANSFORM_MONEY_AMOUNT && t != CS_TRANSFORM_DECIMAL_TO_CURRENCY)
		ERR_AT("scale", "only for transform money_amount or decimal_to_currency");
	if (!SEEN("scale") && t == CS_TRANSFORM_DECIMAL_TO_CURRENCY)
		MISSING("scale", "missing (required for transform decimal_to_currency)");
	if (SEEN("max_length") && t != CS_TRANSFORM_TRUNCATE)
		ERR_AT("max_length", "only for transform truncate");
	if (f->allow_truncate && t != CS_TRANSFORM_TRUNCATE)
		ERR_AT("allow_truncate", "only for transform truncate");
	if (t == CS_TRANSFORM_TRUNCATE) {
		if (!SEEN("max_length"))
			MISSING("max_length", "missing (required for transform truncate)");
		if (!f->allow_truncate)
			ERR_AT("transform", "truncate cuts text that is too long for Salesforce: set "
			       "allow_truncate: true to accept that");
	}
	if ((t == CS_TRANSFORM_TRUNCATE || t == CS_TRANSFORM_DATETIME_TO_DATE) && f->from_salesforce)
		ERR_AT("owner", "%s loses information, so Salesforce may not write this field back: "
		       "use owner clm with non_owner_write revert or ignore",
		       cs_config_choice_name(transforms, (int)t));
	/* By content, not by key: an empty "value_map:" or "lookup:" is the same as none. */
	if (f->nnot_synced > 0 && f->nvalue_map == 0)
		ERR_AT("not_synced", "only with value_map");
	if (f->nvalue_map > 0 && t != CS_TRANSFORM_NONE)
		ERR_AT("value_map", "only with transform none");
	if (f->lookup_mapping != NULL && (f->nvalue_map > 0 || t != CS_TRANSFORM_NONE))
		ERR_AT("lookup", "a lookup translates ids: it takes no value_map or transform");

	for (size_t i = 0; i < f->nnot_synced; i++)
		for (size_t k = 0; f->not_synced[i] != NULL && k < f->nvalue_map; k++)
			if (f->value_map[k].clm != NULL && strcmp(f->not_synced[i], f->value_map[k].clm) == 0) {
				char p[PATH_TEXT_MAX + 32];

				snprintf(p, sizeof(p), "%s.not_synced[%zu]", path, i);
				add_err(ld, list_item_line(map, "not_synced", i), p, "%s is mapped in value_map "
				        "too", f->not_synced[i]);
			}
	/* Values that come back from Salesforce must each stand for one repository value. A
	 * many-to-one map (the coarse Contract Status) is fine where only the repository writes. */
	for (size_t k = 0; f->from_salesforce && k < f->nvalue_map; k++)
		for (size_t j = 0; f->value_map[k].sf != NULL && j < k; j++)
			if (f->value_map[j].sf != NULL && f->value_map[j].clm != NULL &&
			    strcmp(f->value_map[j].sf, f->value_map[k].sf) == 0) {
				char p[PATH_TEXT_MAX + 80], kt[80];

				key_text(f->value_map[k].clm, kt, sizeof(kt));
				snprintf(p, sizeof(p), "%s.value_map.%s", path, kt);
				add_err(ld, value_map_line(map, k, true), p, "value_map is not one-to-one: %s "
				        "stands for %s too; Salesforce writes this field, so each of its values "
				        "must map back to one repository value", f->value_map[k].sf,
				        f->value_map[j].clm);
				break;
			}
#undef SEEN
#undef ERR_AT
#undef MISSING
}

/* Which part of a repository field a mapped field carries: money has two. */
static int
field_part(const struct cs_field_map *f)
{
	return f->transform == CS_TRANSFORM_MONEY_AMOUNT ? 1 :
	       f->transform == CS_TRANSFORM_MONEY_CURRENCY ? 2 : 0;
}

static void
mapping_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_mapping *m = obj;
	struct fy_node *match = sub_of(map, "match");
	char full[PATH_TEXT_MAX + 32], why[256];

	if (m->match.by == CS_MATCH_KEYS && m->match.nkeys == 0) {
		snprintf(full, sizeof(full), "%s.match.keys", path);
		add_err(ld, line_of(map, "match"), full, "missing (required for by keys)");
	}
	if (m->match.by == CS_MATCH_EXTERNAL_ID && m->match.nkeys > 0) {
		snprintf(full, sizeof(full), "%s.match.keys", path);
		add_err(ld, line_of(match, "keys"), full, "only for by keys");
	}
	for (size_t i = 0; i < m->match.nkeys; i++) {
		const char *sf = m->match.keys[i].sf;

		snprintf(full, sizeof(full), "%s.match.keys[%zu]", path, i);
		if (sf != NULL && !check_sf_name(sf, strlen(sf), why, sizeof(why)))
			add_err(ld, list_item_line(match, "keys", i), full, "%s: %s", sf, why);
	}
	if (m->on_delete.clm == CS_DELETE_TERMINATE && m->entity != CS_ENTITY_CONTRACT &&
	    m->entity != 0) {
		snprintf(full, sizeof(full), "%s.on_delete.clm", path);
		add_err(ld, line_of(sub_of(map, "on_delete"), "clm"), full, "terminate is for "
		        "contracts; a %s is deleted or ignored", cs_entity_name(m->entity));
	}
	/* the repository deletes counterparties and obligations only (docs/api.md) */
	if (m->on_delete.clm == CS_DELETE_DELETE && m->entity != CS_ENTITY_COUNTERPARTY &&
	    m->entity != CS_ENTITY_OBLIGATION && m->entity != 0) {
		snprintf(full, sizeof(full), "%s.on_delete.clm", path);
		add_err(ld, line_of(sub_of(map, "on_delete"), "clm"), full, "the repository does not "
		        "delete a %s: use ignore%s", cs_entity_name(m->entity),
		        m->entity == CS_ENTITY_CONTRACT ? " or terminate" : "");
	}
	/* A contract's record (an obligation, ...) made from Salesforce is made under the contract
	 * its lookup names, so the mapping must carry that lookup. */
	if (m->on_create.clm == CS_CREATE_CREATE &&
	    (m->entity == CS_ENTITY_AMENDMENT || m->entity == CS_ENTITY_OBLIGATION ||
	     m->entity == CS_ENTITY_APPROVAL || m->entity == CS_ENTITY_SIGNATURE)) {
		bool parent = false;
		for (size_t i = 0; i < m->nfields; i++)
			parent |= m->fields[i].clm != NULL && strcmp(m->fields[i].clm, "contract_id") == 0;
		if (!parent) {
			snprintf(full, sizeof(full), "%s.on_create.clm", path);
			add_err(ld, sub_of(map, "on_create") ? line_of(sub_of(map, "on_create"), "clm") : node_line(map),
			        full, "%s records made from Salesforce need their contract: map contract_id "
			        "to the lookup field that names it (lookup: {mapping: <the contract "
			        "mapping>}), or set ignore", cs_entity_name(m->entity));
		}
	}
	for (size_t i = 0; i < m->nfields; i++) {
		const struct cs_field_map *f = &m->fields[i];
		int line = list_item_line(map, "fields", i);

		if (f->sf != NULL && m->external_id_field != NULL &&
		    strcasecmp(f->sf, m->external_id_field) == 0) {
			snprintf(full, sizeof(full), "%s.fields[%zu].sf", path, i);
			add_err(ld, line_of(item_of(map, "fields", i), "sf"), full, "%s is the "
			        "external_id_field, which carries the repository id; it cannot be mapped "
			        "too", f->sf);
		}
		for (size_t j = 0; j < i; j++) {
			const struct cs_field_map *g = &m->fields[j];

			/* Salesforce names are case-insensitive. */
			if (f->sf != NULL && g->sf != NULL && strcasecmp(f->sf, g->sf) == 0) {
				snprintf(full, sizeof(full), "%s.fields[%zu].sf", path, i);
				add_err(ld, line_of(item_of(map, "fields", i), "sf"), full, "%s is also mapped "
				        "by fields[%zu]", f->sf, j);
				break;
			}
			/* One repository field may be written to several Salesforce fields (the status
			 * to Status and to CLM_Lifecycle_Status__c), but read from one at most. */
			if (f->clm != NULL && g->clm != NULL && f->from_salesforce && g->from_salesforce &&
			    strcmp(f->clm, g->clm) == 0 && field_part(f) == field_part(g)) {
				snprintf(full, sizeof(full), "%s.fields[%zu].clm", path, i);
				add_err(ld, line, full, "%s is also written from Salesforce by fields[%zu] (%s); "
				        "a repository field takes its value from one Salesforce field at most",
				        f->clm, j, g->sf != NULL ? g->sf : "?");
				break;
			}
		}
	}
}

static void
mappings_finish(struct load *ld, void *items, size_t n, struct fy_node *seq, const char *path)
{
	unique_names(ld, items, n, sizeof(struct cs_mapping), offsetof(struct cs_mapping, name), seq,
	             path);
}

static void
sync_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_config *c = obj;

	if (c->sync.retry.max_ms < c->sync.retry.initial_ms) {
		struct fy_node *retry = sub_of(map, "retry");

		add_err(ld, line_of(retry, sub_of(retry, "max_ms") != NULL ? "max_ms" : "initial_ms"),
		        "sync.retry.max_ms", "%u is less than initial_ms (%u)", c->sync.retry.max_ms,
		        c->sync.retry.initial_ms);
	}
}

/* --- rules across the whole file ------------------------------------------------------------ */

static const char *
kind_name(enum cs_value_kind k)
{
	switch (k) {
	case CS_VALUE_TEXT: return "text";
	case CS_VALUE_INTEGER: return "an integer";
	case CS_VALUE_DECIMAL: return "a decimal";
	case CS_VALUE_MONEY: return "money";
	case CS_VALUE_DATE: return "a date";
	case CS_VALUE_DATETIME: return "a date-time";
	case CS_VALUE_BOOLEAN: return "a boolean";
	case CS_VALUE_ENUM: return "one of a fixed set of values";
	case CS_VALUE_REFERENCE: return "a reference";
	case CS_VALUE_SFID: return "a Salesforce id";
	case CS_VALUE_ID: return "the record id";
	}
	return "?";
}

static const char *const bool_values[] = { "true", "false", NULL };

/* What a field name resolved to. values/nvalues: the allowed values of an enumerated field or a
 * boolean (NULL/0 otherwise). */
struct field_ref {
	enum cs_value_kind kind;
	bool readonly;
	bool builtin_enum;             /* a repository status or type, not a custom picklist */
	const char *const *values;
	size_t nvalues;
	const struct known_field *known;
	const struct cs_attr_decl *attr;
};

/* The nearest of names to s: the same but for case, or within a few edits. */
static const char *
suggest(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(s, names[i]) == 0)
			return names[i];
	return nearest(s, names, n);
}

/* Resolves a repository field name for entity e; false, with an error at line, when it names
 * none. */
static bool
resolve_field(struct load *ld, const struct cs_config *c, enum cs_entity e, const char *name,
              int line, const char *path, struct field_ref *r)
{
	const char *ename = cs_entity_name(e);
	const char *names[64];
	const char *near;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (strncmp(name, "custom.", 7) == 0) {
		const struct cs_attr_list *l = cs_config_attrs(c, ename);
		const struct cs_attr_decl *a = cs_config_attr_find(l, name + 7);
		static const enum cs_value_kind kinds[] = {
			[CS_ATTR_TEXT] = CS_VALUE_TEXT, [CS_ATTR_NUMBER] = CS_VALUE_INTEGER,
			[CS_ATTR_DECIMAL] = CS_VALUE_DECIMAL, [CS_ATTR_DATE] = CS_VALUE_DATE,
			[CS_ATTR_DATETIME] = CS_VALUE_DATETIME, [CS_ATTR_BOOLEAN] = CS_VALUE_BOOLEAN,
			[CS_ATTR_PICKLIST] = CS_VALUE_ENUM,
		};

		if (l == NULL) {
			add_err(ld, line, path, "%s records have no custom attributes", ename);
			return false;
		}
		if (a == NULL) {
			n = 0;
			for (size_t i = 0; i < l->n && n < NOPTS(names); i++)
				if (l->v[i].name != NULL)
					names[n++] = l->v[i].name;
			near = suggest(name + 7, names, n);
			if (near != NULL)
				add_err(ld, line, path, "%s is not a declared custom attribute of %s (did you "
				        "mean custom.%s?)", name, ename, near);
			else
				add_err(ld, line, path, "%s is not a declared custom attribute of %s (declare "
				        "it under custom_attributes.%s)", name, ename, ename);
			return false;
		}
		r->attr = a;
		r->kind = (unsigned)a->type < NOPTS(kinds) ? kinds[a->type] : CS_VALUE_TEXT;
		if (a->type == CS_ATTR_PICKLIST) {
			r->values = (const char *const *)a->values;
			r->nvalues = a->nvalues;
			/* A declaration with a refused value (already reported) is not checked against. */
			for (size_t i = 0; r->values != NULL && i < r->nvalues; i++)
				if (r->values[i] == NULL)
					r->values = NULL;
			if (r->values == NULL)
				r->nvalues = 0;
		}
	} else {
		const struct known_field *k = cs_config_known_field(e, name);

		if (k == NULL) {
			n = cs_config_known_names(e, names, NOPTS(names));
			near = suggest(name, names, n);
			if (near != NULL)
				add_err(ld, line, path, "%s is not a field of %s (did you mean %s?)", name,
				        ename, near);
			else
				add_err(ld, line, path, "%s is not a field of %s (docs/api.md lists them; "
				        "custom attributes are custom.<name>)", name, ename);
			return false;
		}
		r->known = k;
		r->kind = k->kind;
		r->readonly = k->readonly;
		r->builtin_enum = k->kind == CS_VALUE_ENUM;
		for (r->values = k->values; k->values != NULL && k->values[r->nvalues] != NULL;)
			r->nvalues++;
	}
	if (r->kind == CS_VALUE_BOOLEAN) {
		r->values = bool_values;
		r->nvalues = 2;
	}
	return true;
}

/* Whether v is one of r's values; reports it at line when not. */
static bool
check_value(struct load *ld, const struct field_ref *r, const char *field, const char *v, int line,
            const char *path)
{
	const char *near;

	for (size_t i = 0; i < r->nvalues; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	near = suggest(v, r->values, r->nvalues);
	if (near != NULL)
		add_err(ld, line, path, "%s is not a value of %s (did you mean %s?)", v, field, near);
	else
		add_err(ld, line, path, "%s is not a value of %s", v, field);
	return false;
}

/* The kinds each transform converts from. */
static bool
transform_fits(enum cs_transform t, enum cs_value_kind k)
{
	switch (t) {
	case CS_TRANSFORM_NONE: return k != CS_VALUE_MONEY;
	case CS_TRANSFORM_DATE_TO_DATETIME: return k == CS_VALUE_DATE;
	case CS_TRANSFORM_DATETIME_TO_DATE: return k == CS_VALUE_DATETIME;
	case CS_TRANSFORM_MONEY_AMOUNT:
	case CS_TRANSFORM_MONEY_CURRENCY: return k == CS_VALUE_MONEY;
	case CS_TRANSFORM_DECIMAL_TO_CURRENCY: return k == CS_VALUE_DECIMAL || k == CS_VALUE_INTEGER;
	case CS_TRANSFORM_TRUNCATE: return k == CS_VALUE_TEXT;
	}
	return false;
}

static void
check_value_map(struct load *ld, struct cs_field_map *f, const struct field_ref *r,
                struct fy_node *fn, const char *fp)
{
	char p[PATH_TEXT_MAX + 80], missing[512], kt[80];
	size_t k = 0, nmissing = 0;
	bool bad = false;

	if (r->kind != CS_VALUE_TEXT && r->kind != CS_VALUE_ENUM && r->kind != CS_VALUE_BOOLEAN) {
		snprintf(p, sizeof(p), "%s.value_map", fp);
		add_err(ld, line_of(fn, "value_map"), p, "value_map is for statuses, picklists, text "
		        "and booleans; %s is %s", f->clm, kind_name(r->kind));
		return;
	}
	if (r->values == NULL)
		return;   /* text: any values */
	for (size_t i = 0; i < f->nvalue_map; i++) {
		if (f->value_map[i].clm == NULL)
			continue;
		key_text(f->value_map[i].clm, kt, sizeof(kt));
		snprintf(p, sizeof(p), "%s.value_map.%s", fp, kt);
		bad |= !check_value(ld, r, f->clm, f->value_map[i].clm, value_map_line(fn, i, false), p);
	}
	for (size_t i = 0; i < f->nnot_synced; i++) {
		if (f->not_synced[i] == NULL)
			continue;
		snprintf(p, sizeof(p), "%s.not_synced[%zu]", fp, i);
		bad |= !check_value(ld, r, f->clm, f->not_synced[i], list_item_line(fn, "not_synced", i),
		                    p);
	}
	/* Every value the record can have is either mapped or deliberately left out (after a
	 * misspelt value, the one it was meant to be would only be reported again). */
	if (bad)
		return;
	missing[0] = '\0';
	for (size_t i = 0; i < r->nvalues; i++) {
		bool found = false;

		for (size_t j = 0; !found && j < f->nvalue_map; j++)
			found = f->value_map[j].clm != NULL && strcmp(f->value_map[j].clm, r->values[i]) == 0;
		for (size_t j = 0; !found && j < f->nnot_synced; j++)
			found = f->not_synced[j] != NULL && strcmp(f->not_synced[j], r->values[i]) == 0;
		if (!found && k < sizeof(missing)) {
			int w = snprintf(missing + k, sizeof(missing) - k, "%s%s", nmissing ? ", " : "",
			                 r->values[i]);

			k += w > 0 ? (size_t)w : 0;
			nmissing++;
		}
	}
	if (nmissing > 0) {
		snprintf(p, sizeof(p), "%s.value_map", fp);
		add_err(ld, line_of(fn, "value_map"), p, "does not cover %s of %s: map %s or list %s in "
		        "not_synced", missing, f->clm, nmissing == 1 ? "it" : "them",
		        nmissing == 1 ? "it" : "them");
	}
}

static void
check_field(struct load *ld, const struct cs_config *c, const struct cs_mapping *m,
            struct cs_field_map *f, struct fy_node *fn, const char *fp)
{
	struct field_ref r;
	char p[PATH_TEXT_MAX + 32];
	bool lookup = f->lookup_mapping != NULL;

	snprintf(p, sizeof(p), "%s.clm", fp);
	if (f->clm == NULL || !resolve_field(ld, c, m->entity, f->clm, line_of(fn, "clm"), p, &r))
		return;
	f->kind = r.kind;
	f->clm_readonly = r.readonly;
	f->attr = r.attr;
	if (r.readonly && f->from_salesforce) {
		snprintf(p, sizeof(p), "%s.owner", fp);
		add_err(ld, line_of(fn, "owner"), p, "%s is set by the repository, so Salesforce cannot "
		        "write it: use owner clm with non_owner_write revert or ignore", f->clm);
	}
	if (r.kind == CS_VALUE_MONEY && !transform_fits(f->transform, r.kind)) {
		snprintf(p, sizeof(p), "%s.transform", fp);
		add_err(ld, line_of(fn, "transform"), p, "%s is money: map its amount with transform "
		        "money_amount and its currency with money_currency", f->clm);
	} else if (!lookup && !transform_fits(f->transform, r.kind)) {   /* lookup: reported */
		snprintf(p, sizeof(p), "%s.transform", fp);
		add_err(ld, line_of(fn, "transform"), p, "%s does not apply to %s, which is %s",
		        cs_config_choice_name(transforms, (int)f->transform), f->clm, kind_name(r.kind));
	}
	if (r.kind == CS_VALUE_REFERENCE && !lookup) {
		snprintf(p, sizeof(p), "%s.clm", fp);
		add_err(ld, line_of(fn, "clm"), p, "%s holds a repository id; Salesforce needs the id of "
		        "the linked record: add lookup: {mapping: <the %s mapping>}", f->clm,
		        cs_entity_name(r.known->ref));
	}
	if (lookup && r.kind != CS_VALUE_REFERENCE && r.kind != CS_VALUE_SFID) {
		snprintf(p, sizeof(p), "%s.lookup", fp);
		add_err(ld, line_of(fn, "lookup"), p, "only for references (counterparty_id, "
		        "parent_contract_id, contract_id, salesforce_*_id); %s is %s", f->clm,
		        kind_name(r.kind));
	}
	if (f->nvalue_map > 0)
		check_value_map(ld, f, &r, fn, fp);
	else if (r.builtin_enum) {
		snprintf(p, sizeof(p), "%s.value_map", fp);
		add_err(ld, node_line(fn), p, "missing (required for %s, whose values are the "
		        "repository's own: give the Salesforce value of each, or list it in not_synced)",
		        f->clm);
	}
}

static void
check_route(struct load *ld, const struct cs_config *c, const struct cs_mapping *m,
            struct fy_node *mn, const char *mp)
{
	struct fy_node *rn = sub_of(mn, "route");
	struct field_ref r;
	char p[PATH_TEXT_MAX + 32];
	char **v = m->route.kind == CS_ROUTE_IN ? m->route.in : m->route.not_in;
	size_t n = m->route.kind == CS_ROUTE_IN ? m->route.nin : m->route.nnot_in;
	const char *key = m->route.kind == CS_ROUTE_IN ? "in" : "not_in";

	if (m->route.kind == CS_ROUTE_ALL || m->route.kind == CS_ROUTE_PARENT || m->route.field == NULL)
		return;
	snprintf(p, sizeof(p), "%s.route.field", mp);
	if (!resolve_field(ld, c, m->entity, m->route.field, line_of(rn, "field"), p, &r))
		return;
	if (r.kind == CS_VALUE_MONEY) {
		add_err(ld, line_of(rn, "field"), p, "routing by money is not supported");
		return;
	}
	for (size_t i = 0; r.values != NULL && i < n; i++) {
		if (v[i] == NULL)
			continue;
		snprintf(p, sizeof(p), "%s.route.%s[%zu]", mp, key, i);
		check_value(ld, &r, m->route.field, v[i], list_item_line(rn, key, i), p);
	}
}

/* route: parent, once the fields' lookups are resolved: the contract mapping that the mapping's
 * contract_id lookup names is the one its records follow. */
static void
check_route_parent(struct load *ld, const struct cs_config *c, struct cs_mapping *m, struct fy_node *mn,
                   const char *mp)
{
	char p[PATH_TEXT_MAX + 32];

	if (m->route.kind != CS_ROUTE_PARENT)
		return;
	snprintf(p, sizeof(p), "%s.route", mp);
	if (m->entity == CS_ENTITY_COUNTERPARTY || m->entity == CS_ENTITY_CONTRACT) {
		add_err(ld, line_of(mn, "route"), p, "route: parent is for records under a contract (amendment, "
		        "obligation, ...); a %s has no parent to follow", cs_entity_name(m->entity));
		return;
	}
	/* by name: lookups resolve after every mapping is read (resolve_lookup checks the rest) */
	for (size_t i = 0; i < m->nfields; i++) {
		const struct cs_field_map *f = &m->fields[i];
		if (f->clm == NULL || strcmp(f->clm, "contract_id") != 0 || f->lookup_mapping == NULL)
			continue;
		for (size_t j = 0; j < c->nmappings; j++)
			if (c->mappings[j].name != NULL && strcmp(c->mappings[j].name, f->lookup_mapping) == 0 &&
			    c->mappings[j].entity == CS_ENTITY_CONTRACT) {
				m->route.parent = &c->mappings[j];
				return;
			}
	}
	add_err(ld, line_of(mn, "route"), p, "route: parent follows the contract mapping that contract_id's lookup "
	        "names: map contract_id with lookup: {mapping: <the contracts mapping>}");
}

static void
check_match(struct load *ld, const struct cs_config *c, const struct cs_mapping *m,
            struct fy_node *mn, const char *mp)
{
	struct fy_node *match = sub_of(mn, "match");
	char p[PATH_TEXT_MAX + 32];

	for (size_t i = 0; i < m->match.nkeys; i++) {
		struct field_ref r;
		int line = list_item_line(match, "keys", i);

		snprintf(p, sizeof(p), "%s.match.keys[%zu]", mp, i);
		if (m->match.keys[i].clm != NULL &&
		    resolve_field(ld, c, m->entity, m->match.keys[i].clm, line, p, &r) &&
		    r.kind == CS_VALUE_MONEY)
			add_err(ld, line, p, "matching on money is not supported; match on a text field");
	}
}

/* Resolves the lookup of field f of mapping m (index mi) to its mapping. */
static void
resolve_lookup(struct load *ld, struct cs_config *c, const struct cs_mapping *m,
               struct cs_field_map *f, struct fy_node *fn, const char *fp)
{
	const struct known_field *k = f->clm != NULL ? cs_config_known_field(m->entity, f->clm) : NULL;
	struct fy_node *ln = sub_of(fn, "lookup");
	const struct cs_mapping *t = NULL;
	char p[PATH_TEXT_MAX + 32];
	int line = line_of(ln, "mapping");
	size_t ti;

	snprintf(p, sizeof(p), "%s.lookup.mapping", fp);
	for (ti = 0; ti < c->nmappings; ti++)
		if (c->mappings[ti].name != NULL && strcmp(c->mappings[ti].name, f->lookup_mapping) == 0) {
			t = &c->mappings[ti];
			break;
		}
	if (t == NULL) {
		const char *names[CS_CONFIG_MAPPINGS_MAX];
		const char *near;
		size_t n = 0;

		for (size_t i = 0; i < c->nmappings; i++)
			if (c->mappings[i].name != NULL)
				names[n++] = c->mappings[i].name;
		near = suggest(f->lookup_mapping, names, n);
		if (near != NULL)
			add_err(ld, line, p, "no mapping named %s (did you mean %s?)", f->lookup_mapping, near);
		else
			add_err(ld, line, p, "no mapping named %s", f->lookup_mapping);
		return;
	}
	if (t->org != NULL && m->org != NULL && strcmp(t->org, m->org) != 0) {
		add_err(ld, line, p, "mapping %s syncs with org %s, not %s: a lookup stays within its org",
		        t->name, t->org, m->org);
		return;
	}
	if (k != NULL && k->kind == CS_VALUE_REFERENCE && t->entity != k->ref) {
		add_err(ld, line, p, "mapping %s maps %s records; %s refers to a %s", t->name,
		        cs_entity_name(t->entity), f->clm, cs_entity_name(k->ref));
		return;
	}
	if (k != NULL && k->kind == CS_VALUE_SFID && t->sobject != NULL &&
	    strcasecmp(t->sobject, k->sobject) != 0) {
		add_err(ld, line, p, "%s holds %s ids; mapping %s maps %s", f->clm, k->sobject, t->name,
		        t->sobject);
		return;
	}
	f->lookup_index = ti;
	f->lookup_to = t;
}

static void
resolve_org(struct load *ld, struct cs_config *c, struct cs_mapping *m, struct fy_node *mn,
            const char *mp)
{
	const char *names[CS_CONFIG_ORGS_MAX];
	const char *near;
	char p[PATH_TEXT_MAX + 8];
	size_t n = 0;

	for (size_t i = 0; i < c->norgs; i++) {
		if (c->orgs[i].name != NULL && strcmp(c->orgs[i].name, m->org) == 0) {
			m->org_index = i;
			m->org_cfg = &c->orgs[i];
			return;
		}
		if (c->orgs[i].name != NULL)
			names[n++] = c->orgs[i].name;
	}
	snprintf(p, sizeof(p), "%s.org", mp);
	near = suggest(m->org, names, n);
	if (near != NULL)
		add_err(ld, line_of(mn, "org"), p, "no org named %s (did you mean %s?)", m->org, near);
	else if (c->norgs == 0)
		add_err(ld, line_of(mn, "org"), p, "no org named %s (orgs lists none)", m->org);
	else
		add_err(ld, line_of(mn, "org"), p, "no org named %s", m->org);
}

/* The rules that tie sections together: they run once the whole file is read, so the order of
 * the sections in the file does not matter. */
/* Whether a record can be routed to both a and b (of one entity): unless both route on one field
 * with value sets that cannot meet, it can. */
static bool
routes_meet(const struct cs_mapping *a, const struct cs_mapping *b)
{
	/* records that follow their contract meet where their contracts' mappings do */
	if (a->route.kind == CS_ROUTE_PARENT || b->route.kind == CS_ROUTE_PARENT) {
		const struct cs_mapping *pa = a->route.kind == CS_ROUTE_PARENT ? a->route.parent : NULL;
		const struct cs_mapping *pb = b->route.kind == CS_ROUTE_PARENT ? b->route.parent : NULL;
		if (pa == NULL || pb == NULL || pa->route.kind == CS_ROUTE_PARENT || pb->route.kind == CS_ROUTE_PARENT)
			return true;
		return routes_meet(pa, pb);
	}
	if (a->route.kind != CS_ROUTE_IN && b->route.kind != CS_ROUTE_IN)
		return true;
	if (a->route.kind == CS_ROUTE_ALL || b->route.kind == CS_ROUTE_ALL || a->route.field == NULL ||
	    b->route.field == NULL || strcmp(a->route.field, b->route.field) != 0)
		return true;
	if (a->route.kind == CS_ROUTE_NOT_IN) {
		const struct cs_mapping *t = a;
		a = b;
		b = t;
	}
	/* a routes in; b routes in or not in */
	for (size_t i = 0; i < a->route.nin; i++) {
		bool listed = false;
		if (b->route.kind == CS_ROUTE_IN) {
			for (size_t j = 0; j < b->route.nin && !listed; j++)
				listed = strcmp(a->route.in[i], b->route.in[j]) == 0;
			if (listed)
				return true;
		} else {
			for (size_t j = 0; j < b->route.nnot_in && !listed; j++)
				listed = strcmp(a->route.in[i], b->route.not_in[j]) == 0;
			if (!listed)
				return true;
		}
	}
	return false;
}

/* A repository field owned by Salesforce in two mappings that a record can be routed to both of
 * has two masters: each mapping takes its own Salesforce's value as the field's and sets the
 * repository back when the other writes it, for ever. Reported on the later field. */
static void
check_two_masters(struct load *ld, const struct cs_config *c, size_t i, struct fy_node *mn, const char *mp)
{
	const struct cs_mapping *m = &c->mappings[i];

	for (size_t j = 0; j < i; j++) {
		const struct cs_mapping *o = &c->mappings[j];

		if (o->entity != m->entity || !routes_meet(m, o))
			continue;
		for (size_t k = 0; k < m->nfields; k++) {
			const struct cs_field_map *f = &m->fields[k];
			if (f->owner != CS_OWNER_SALESFORCE || f->clm == NULL)
				continue;
			for (size_t l = 0; l < o->nfields; l++) {
				const struct cs_field_map *g = &o->fields[l];
				char fp[96];
				if (g->owner != CS_OWNER_SALESFORCE || g->clm == NULL || strcmp(g->clm, f->clm) != 0)
					continue;
				snprintf(fp, sizeof(fp), "%s.fields[%zu].owner", mp, k);
				add_err(ld, line_of(item_of(mn, "fields", k), "owner"), fp, "%s is owned by Salesforce in "
				        "mappings[%zu] (%s, org %s) too, and a record can be routed to both: it would have two "
				        "masters, each setting it back when the other writes it. Give it one (owner: clm or "
				        "both here), or route the mappings apart", f->clm, j, o->name ? o->name : "?",
				        o->org ? o->org : "?");
				break;
			}
		}
	}
}

static void
root_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_config *c = obj;

	for (size_t i = 0; i < c->nmappings; i++) {
		struct cs_mapping *m = &c->mappings[i];
		struct fy_node *mn = item_of(map, "mappings", i);
		char mp[32], fp[64];

		snprintf(mp, sizeof(mp), "mappings[%zu]", i);
		if (m->org != NULL)
			resolve_org(ld, c, m, mn, mp);
		if (m->entity == 0)
			continue;   /* missing or invalid: reported; fields cannot be judged */
		check_route(ld, c, m, mn, mp);
		check_match(ld, c, m, mn, mp);
		for (size_t j = 0; j < m->nfields; j++) {
			snprintf(fp, sizeof(fp), "%s.fields[%zu]", mp, j);
			check_field(ld, c, m, &m->fields[j], item_of(mn, "fields", j), fp);
		}
		check_route_parent(ld, c, m, mn, mp);
		check_two_masters(ld, c, i, mn, mp);
		/* Change events name the sObject only: two mappings of one would claim the same
		 * events. */
		for (size_t j = 0; j < i; j++) {
			const struct cs_mapping *o = &c->mappings[j];

			if (m->org != NULL && o->org != NULL && m->sobject != NULL && o->sobject != NULL &&
			    strcmp(m->org, o->org) == 0 && strcasecmp(m->sobject, o->sobject) == 0) {
				snprintf(fp, sizeof(fp), "%s.sobject", mp);
				add_err(ld, line_of(mn, "sobject"), fp, "%s of org %s is mapped by mappings[%zu] "
				        "already; one mapping per sObject and org", m->sobject, m->org, j);
				break;
			}
		}
	}
	/* Lookups name mappings anywhere in the list, so they resolve once all are read. */
	for (size_t i = 0; i < c->nmappings; i++) {
		struct cs_mapping *m = &c->mappings[i];
		struct fy_node *mn = item_of(map, "mappings", i);

		for (size_t j = 0; j < m->nfields; j++) {
			char fp[64];

			if (m->fields[j].lookup_mapping == NULL)
				continue;
			snprintf(fp, sizeof(fp), "mappings[%zu].fields[%zu]", i, j);
			resolve_lookup(ld, c, m, &m->fields[j], item_of(mn, "fields", j), fp);
		}
	}
}

/* --- freeing -------------------------------------------------------------------------------- */

static void
free_section(const struct section *sec, void *obj)
{
	char *base = obj;

	for (size_t i = 0; i < sec->nderived; i++) {
		char **slot = (char **)(base + sec->derived[i]);

		free(*slot);
		*slot = NULL;
	}

	for (size_t i = 0; i < sec->nopts; i++) {
		const struct opt *o = &sec->opts[i];

		switch (o->type) {
		case OT_STR:
		case OT_NOINLINE: {
			char **slot = (char **)(base + o->off);

			if (*slot != NULL && (o->flags & F_SECRET))
				explicit_bzero(*slot, strlen(*slot));
			free(*slot);
			*slot = NULL;
			break;
		}
		case OT_STRLIST: {
			char **list = *(char ***)(base + o->off);
			size_t n = *(size_t *)(base + o->off_n);

			for (size_t k = 0; list != NULL && k < n; k++)
				free(list[k]);
			free(list);
			*(char ***)(base + o->off) = NULL;
			*(size_t *)(base + o->off_n) = 0;
			break;
		}
		case OT_MAP:
		case OT_PAIRS: {
			struct cs_pair *pairs = *(struct cs_pair **)(base + o->off);
			size_t n = *(size_t *)(base + o->off_n);

			for (size_t k = 0; pairs != NULL && k < n; k++) {
				free(pairs[k].clm);
				free(pairs[k].sf);
			}
			free(pairs);
			*(struct cs_pair **)(base + o->off) = NULL;
			*(size_t *)(base + o->off_n) = 0;
			break;
		}
		case OT_SECTION:
			free_section(o->sub, obj);
			break;
		case OT_LIST: {
			char *items = *(void **)(base + o->off);
			size_t n = *(size_t *)(base + o->off_n);

			for (size_t k = 0; items != NULL && k < n; k++)
				free_section(o->sub, items + k * o->sub->item_size);
			free(items);
			*(void **)(base + o->off) = NULL;
			*(size_t *)(base + o->off_n) = 0;
			break;
		}
		default:
			break;
		}
	}
}

void
cs_config_free(struct cs_config *c)
{
	if (c == NULL)
		return;
	free_section(&cs_config_table, c);
	free(c->path);
	free(c);
}

/* Every string field is non-NULL after a load: give absent optional strings "". */
static bool
fill_strings(const struct section *sec, void *obj)
{
	char *base = obj;

	for (size_t i = 0; i < sec->nderived; i++) {
		char **slot = (char **)(base + sec->derived[i]);

		if (*slot == NULL && (*slot = strdup("")) == NULL)
			return false;
	}

	for (size_t i = 0; i < sec->nopts; i++) {
		const struct opt *o = &sec->opts[i];

		if (o->type == OT_STR || o->type == OT_NOINLINE) {
			char **slot = (char **)(base + o->off);

			if (*slot == NULL && (*slot = strdup("")) == NULL)
				return false;
		} else if (o->type == OT_SECTION) {
			if (!fill_strings(o->sub, obj))
				return false;
		} else if (o->type == OT_LIST) {
			char *items = *(void **)(base + o->off);
			size_t n = *(size_t *)(base + o->off_n);

			for (size_t k = 0; k < n; k++)
				if (!fill_strings(o->sub, items + k * o->sub->item_size))
					return false;
		}
	}
	return true;
}

/* --- entry points --------------------------------------------------------------------------- */

static void
quiet_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
}

/* Parses the YAML text; reports syntax errors with their lines. Returns the document or NULL. */
static struct fy_document *
parse_yaml(struct load *ld, const char *data, size_t len, bool *empty)
{
	struct fy_diag_cfg dcfg;
	struct fy_diag *diag;
	struct fy_parse_cfg pcfg;
	struct fy_parser *fyp = NULL;
	struct fy_document *doc = NULL, *more = NULL;
	struct fy_diag_error *de;
	void *it = NULL;
	size_t before = ld->nerr;

	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = quiet_output;
	dcfg.colorize = false;
	dcfg.level = FYET_ERROR;
	diag = fy_diag_create(&dcfg);
	if (diag == NULL) {
		ld->nomem = true;
		return NULL;
	}
	fy_diag_set_collect_errors(diag, true);
	memset(&pcfg, 0, sizeof(pcfg));
	pcfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2;
	pcfg.diag = diag;
	fyp = fy_parser_create(&pcfg);
	if (fyp == NULL || fy_parser_set_string(fyp, data, len) != 0) {
		ld->nomem = true;
		goto out;
	}
	doc = fy_parse_load_document(fyp);
	*empty = doc == NULL && !fy_parser_get_stream_error(fyp);
	if (doc != NULL && !fy_parser_get_stream_error(fyp)) {
		more = fy_parse_load_document(fyp);
		if (more != NULL)
			add_err(ld, node_line(fy_document_root(more)), "",
			        "more than one YAML document ('---'); put every setting in one");
	}
	/* Collected errors carry 1-based lines already (unlike struct fy_mark). */
	while ((de = fy_diag_errors_iterate(diag, &it)) != NULL)
		if (de->type >= FYET_ERROR)
			add_err(ld, de->line, "", "YAML syntax: %s", de->msg != NULL ? de->msg : "error");
	if (!*empty && doc == NULL && ld->nerr == before)
		add_err(ld, 0, "", "YAML syntax error");
	if (ld->nerr != before) {
		fy_document_destroy(doc);
		doc = NULL;
	}
out:
	fy_document_destroy(more);
	fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	return doc;
}

cs_err
cs_config_load_buffer(const char *name, const char *data, size_t len, unsigned flags,
                      struct cs_config **out, struct cs_error_list *errs)
{
	struct load ld = { .name = name != NULL ? name : "(config)", .data = data, .len = len,
	                   .flags = flags, .errs = errs };
	struct cs_config *c = NULL;
	struct fy_document *doc = NULL;
	struct fy_node *root = NULL;
	bool empty = false;
	cs_err rc = CS_OK;

	*out = NULL;
	if (len > CS_CONFIG_FILE_MAX) {
		add_err(&ld, 0, "", "the file is %zu bytes; the limit is %d (CS_CONFIG_FILE_MAX)", len,
		        CS_CONFIG_FILE_MAX);
		return CS_ETOOBIG;
	}
	if (memchr(data, '\0', len) != NULL || !cs_utf8_valid(data, len)) {
		add_err(&ld, 0, "", "the file is not UTF-8 text");
		return CS_EPARSE;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = strdup(ld.name)) == NULL) {
		rc = CS_ENOMEM;
		goto out;
	}
	apply_defaults(&ld, &cs_config_table, c);
	repo_finish(&ld, c, NULL, 0, "repository");
	admin_finish(&ld, c, NULL, 0, "admin");
	doc = parse_yaml(&ld, data, len, &empty);
	if (doc == NULL && !empty) {
		rc = ld.nomem ? CS_ENOMEM : CS_EPARSE;
		goto out;
	}
	if (doc != NULL)
		root = fy_document_root(doc);
	if (root != NULL && fy_node_is_scalar(root) && !fy_node_is_alias(root)) {
		size_t n;
		const char *v = scalar_text(&ld, root, "", &n);

		if (v != NULL && is_null_text(v, n, fy_node_get_style(root) == FYNS_PLAIN))
			root = NULL;   /* "---" alone, or "~": no settings either */
	}
	if (root == NULL) {
		add_err(&ld, 0, "", "the file has no settings; run `clmsync serve` without --config for "
		        "the defaults");
		rc = CS_EINVAL;
		goto out;
	}
	if (!fy_node_is_mapping(root) || fy_node_is_alias(root)) {
		add_err(&ld, node_line(root), "", "expected a mapping of settings (key: value) at the top");
		rc = CS_EINVAL;
		goto out;
	}
	walk_section(&ld, &cs_config_table, c, root, "");
	if (!ld.nomem && !fill_strings(&cs_config_table, c))
		ld.nomem = true;
	if (ld.nomem)
		rc = CS_ENOMEM;
	else if (ld.nerr > 0)
		rc = CS_EINVAL;
out:
	fy_document_destroy(doc);
	for (size_t i = 0; i < ld.nscratch; i++)
		free(ld.scratch[i]);
	free(ld.scratch);
	if (rc == CS_ENOMEM && ld.nerr == 0)
		add_err(&ld, 0, "", "out of memory");
	if (rc != CS_OK) {
		cs_config_free(c);
		return rc;
	}
	*out = c;
	return CS_OK;
}

cs_err
cs_config_load(const char *path, struct cs_config **out, struct cs_error_list *errs)
{
	struct load ld = { .name = path, .errs = errs };
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	cs_err rc;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		add_err(&ld, 0, "", "cannot open: %s", strerror(errno));
		return CS_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		add_err(&ld, 0, "", "not a regular file");
		close(fd);
		return CS_EIO;
	}
	/* Checked before reading, and again while reading (the file may grow meanwhile). */
	if (st.st_size > CS_CONFIG_FILE_MAX) {
		add_err(&ld, 0, "", "the file is %lld bytes; the limit is %d (CS_CONFIG_FILE_MAX)",
		        (long long)st.st_size, CS_CONFIG_FILE_MAX);
		close(fd);
		return CS_ETOOBIG;
	}
	data = malloc(CS_CONFIG_FILE_MAX + 1);
	if (data == NULL) {
		close(fd);
		return CS_ENOMEM;
	}
	for (;;) {
		ssize_t r = read(fd, data + len, CS_CONFIG_FILE_MAX + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			add_err(&ld, 0, "", "cannot read: %s", strerror(errno));
			free(data);
			close(fd);
			return CS_EIO;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > CS_CONFIG_FILE_MAX) {
			add_err(&ld, 0, "", "the file is over the limit of %d bytes (CS_CONFIG_FILE_MAX)",
			        CS_CONFIG_FILE_MAX);
			free(data);
			close(fd);
			return CS_ETOOBIG;
		}
	}
	close(fd);
	rc = cs_config_load_buffer(path, data, len, 0, out, errs);
	free(data);
	return rc;
}

cs_err
cs_config_defaults(struct cs_config **out)
{
	struct load ld = { .name = "(defaults)" };
	struct cs_config *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL || (c->path = strdup("")) == NULL) {
		free(c);
		return CS_ENOMEM;
	}
	apply_defaults(&ld, &cs_config_table, c);
	repo_finish(&ld, c, NULL, 0, "repository");
	admin_finish(&ld, c, NULL, 0, "admin");
	if (ld.nomem || !fill_strings(&cs_config_table, c)) {
		cs_config_free(c);
		return CS_ENOMEM;
	}
	/* The defaults are checked by the unit tests; a bad one is a broken invariant. */
	if (ld.nerr > 0) {
		cs_config_free(c);
		return CS_EINTERNAL;
	}
	*out = c;
	return CS_OK;
}

const struct cs_attr_list *
cs_config_attrs(const struct cs_config *c, const char *entity)
{
	if (c == NULL || entity == NULL)
		return NULL;
	if (strcmp(entity, "counterparty") == 0)
		return &c->custom_counterparty;
	if (strcmp(entity, "contract") == 0)
		return &c->custom_contract;
	if (strcmp(entity, "obligation") == 0)
		return &c->custom_obligation;
	return NULL;
}

const struct cs_attr_decl *
cs_config_attr_find(const struct cs_attr_list *l, const char *name)
{
	for (size_t i = 0; l != NULL && name != NULL && i < l->n; i++)
		if (l->v[i].name != NULL && strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

bool
cs_config_parse_listen(const char *s, char *host, size_t hostn, uint16_t *port)
{
	const char *colon, *h;
	size_t hl;
	unsigned long p = 0;

	if (s == NULL || hostn == 0)
		return false;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return false;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
		for (size_t i = 0; i < hl; i++)
			if (!(h[i] == ':' || h[i] == '.' || (h[i] >= '0' && h[i] <= '9') ||
			      (h[i] >= 'a' && h[i] <= 'f') || (h[i] >= 'A' && h[i] <= 'F')))
				return false;
		if (hl < 2)
			return false;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return false;
		h = s;
		hl = (size_t)(colon - s);
		for (size_t i = 0; i < hl; i++)
			if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
			      (h[i] >= '0' && h[i] <= '9') || h[i] == '.' || h[i] == '-'))
				return false;   /* also refuses a bare IPv6 address: it needs brackets */
	}
	if (hl == 0 || hl >= hostn || colon[1] == '\0' || strlen(colon + 1) > 5)
		return false;
	for (const char *q = colon + 1; *q != '\0'; q++) {
		if (*q < '0' || *q > '9')
			return false;
		p = p * 10 + (unsigned long)(*q - '0');
	}
	if (p < 1 || p > 65535)
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return true;
}

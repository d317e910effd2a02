/* config.c - the settings table and the YAML loader that validates a whole file against it. */
#include "config/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
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

static void token_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void tokens_finish(struct load *, void *, size_t, struct fy_node *, const char *);
static void attr_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);
static void attrs_finish(struct load *, void *, size_t, struct fy_node *, const char *);
static void repo_finish(struct load *, void *, struct fy_node *, uint32_t, const char *);

#define CFG(f) offsetof(struct cs_config, f)
#define TOK(f) offsetof(struct cs_api_token, f)
#define ATTR(f) offsetof(struct cs_attr_decl, f)
#define NOPTS(a) (sizeof(a) / sizeof(a[0]))

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
};

static const struct section repository_sec = {
	repository_opts, NOPTS(repository_opts), 0, repo_finish, NULL, NULL, 0,
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
	          "readable or writable by others (chmod 600). Give token_file or token_env." },
	{ .key = "token_env", .type = OT_STR, .min = 1, .max = CS_CONFIG_NAME_MAX - 1,
	  .flags = F_SECRET, .off = TOK(env), .check = check_env_name, .syntax = "variable name",
	  .help = "Environment variable holding the token. Give token_file or token_env." },
	{ .key = "token", .type = OT_NOINLINE, .flags = F_SECRET, .off = TOK(secret),
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
};

static const struct section custom_sec = { custom_opts, NOPTS(custom_opts), 0, NULL, NULL, NULL, 0 };

static const struct opt log_opts[] = {
	{ .key = "level", .type = OT_ENUM, .dflt = "info", .choices = levels, .off = CFG(log.level),
	  .help = "Least severe level written." },
	{ .key = "json", .type = OT_BOOL, .dflt = "false", .off = CFG(log.json),
	  .help = "Write one JSON object per line instead of plain text." },
};

static const struct section log_sec = { log_opts, NOPTS(log_opts), 0, NULL, NULL, NULL, 0 };

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
	{ .key = "api_tokens", .type = OT_LIST, .min = 0, .max = CS_CONFIG_TOKENS_MAX,
	  .off = CFG(tokens), .off_n = CFG(ntokens), .sub = &token_sec,
	  .help = "Bearer tokens accepted by the API, each with a role. With none, `clmsync serve` "
	          "creates an admin token in data_dir on first start." },
	{ .key = "custom_attributes", .type = OT_SECTION, .sub = &custom_sec,
	  .help = "Custom attributes per entity, so mappings to custom Salesforce fields have "
	          "somewhere to land." },
	{ .key = "log", .type = OT_SECTION, .sub = &log_sec, .help = "Logging." },
};

const struct section cs_config_table = { root_opts, NOPTS(root_opts), 0, NULL, NULL, NULL, 0 };

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
		size_t d = distance(s, names[i]);

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

static void
apply_defaults(struct load *ld, const struct section *sec, void *obj)
{
	for (size_t i = 0; i < sec->nopts; i++) {
		const struct opt *o = &sec->opts[i];

		if (o->type == OT_SECTION)
			apply_defaults(ld, o->sub, obj);
		else if (o->dflt != NULL)
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

	if (fy_node_get_style(n) != FYNS_SINGLE_QUOTED)
		return fy_node_get_scalar(n, len);
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
			        "use token_file or token_env");
			return;
		}
		if (null) {
			/* An empty section or list (all of it commented out) is the same as absent. */
			if (o->type == OT_SECTION || o->type == OT_LIST)
				return;
			add_err(ld, line, path, "needs a value");
			return;
		}
		if (v == NULL)
			return;
		if (o->type == OT_SECTION) {
			add_err(ld, line, path, "expected a section (a mapping of settings)");
			return;
		}
		if (o->type == OT_LIST || o->type == OT_STRLIST) {
			add_err(ld, line, path, "expected a list");
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
	case OT_NOINLINE:
		add_err(ld, node_line(key), path, "secrets are never written in the configuration; "
		        "use token_file or token_env");
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

static void
repo_finish(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path)
{
	struct cs_config *c = obj;

	if (c->repository.listen == NULL ||
	    !cs_config_parse_listen(c->repository.listen, c->repository.host,
	                            sizeof(c->repository.host), &c->repository.port)) {
		c->repository.host[0] = '\0';
		c->repository.port = 0;
	}
}

/* A token must be visible ASCII: it travels in an Authorization header. */
static bool
token_text_ok(const char *s, size_t len)
{
	if (len < CS_CONFIG_SECRET_MIN || len > CS_CONFIG_SECRET_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

#define TOKEN_RULE "a token is one line of 16 to 4096 visible ASCII characters"

static void
load_token_file(struct load *ld, struct cs_api_token *t, const char *file, int line,
                const char *path)
{
	char buf[CS_CONFIG_SECRET_MAX + 3];
	struct stat st;
	size_t len = 0;
	int fd;

	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		add_err(ld, line, path, "cannot open %s: %s", file, strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		add_err(ld, line, path, "%s is not a regular file", file);
		goto out;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		add_err(ld, line, path, "%s is accessible to every user (mode %04o); restrict it with "
		        "chmod 600", file, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > (off_t)sizeof(buf) - 1) {
		add_err(ld, line, path, "%s is larger than a token can be; " TOKEN_RULE, file);
		goto out;
	}
	while (len < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);

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
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (!token_text_ok(buf, len)) {
		add_err(ld, line, path, "%s does not hold a valid token; " TOKEN_RULE, file);
		goto out;
	}
	t->secret = dup_text(ld, buf, len);
	t->secret_len = t->secret != NULL ? len : 0;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
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
	if (file) {
		load_token_file(ld, t, t->file, key_line(map, "token_file"), full);
	} else {
		const char *v = getenv(t->env);

		if (v == NULL)
			add_err(ld, key_line(map, "token_env"), full, "environment variable %s is not set",
			        t->env);
		else if (!token_text_ok(v, strlen(v)))
			add_err(ld, key_line(map, "token_env"), full, "environment variable %s does not "
			        "hold a valid token; " TOKEN_RULE, t->env);
		else if ((t->secret = dup_text(ld, v, strlen(v))) != NULL)
			t->secret_len = strlen(v);
	}
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

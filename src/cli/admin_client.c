/* admin_client.c - the operator's commands' client of the admin API: where the server and the
 * token are, one call, and what each failure means as an exit code. */
#include "cli/cli_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/client.h"
#include "util/json.h"

#define BASE_MAX 1024                       /* bytes in the admin URL */
#define FROM_MAX 4200                       /* bytes in "where it came from" */
#define TOKEN_MAX CS_CONFIG_SECRET_MAX
#define CALL_TIMEOUT_MS 120000L             /* one call; a verify part or a long list page fits */
#define PATH_MAX_LEN 4096

struct admin_conn {
	const char *cmd;
	char base[BASE_MAX];                     /* "http://127.0.0.1:8442", no trailing '/' */
	char url_from[FROM_MAX];                 /* "--admin-url", "admin.listen in FILE", ... */
	char token_from[FROM_MAX];
	char *auth;                              /* "Authorization: Bearer TOKEN" */
	size_t auth_len;
	struct http_client *http;
	char ca[PATH_MAX_LEN];                   /* the admin listener's certificate, trusted; "" none */
};

const char *
admin_conn_cmd(const struct admin_conn *c)
{
	return c->cmd;
}

/* Reads the first line of path into out (a token): false after saying why. */
static bool
token_from_file(const char *cmd, const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "clmsync %s: cannot read the token file %s: %s\n", cmd, path, strerror(errno));
		return false;
	}
	if (fgets(out, (int)cap, f) == NULL)
		out[0] = '\0';
	fclose(f);
	n = strcspn(out, "\r\n");
	if (n >= cap - 1) {
		fprintf(stderr, "clmsync %s: the token file %s has a first line over %zu bytes\n", cmd, path, cap - 2);
		return false;
	}
	out[n] = '\0';
	return true;
}

/* A token goes into a header line: it must be printable ASCII, 1..TOKEN_MAX-1 bytes. */
static bool
token_ok(const char *cmd, const char *t, const char *from)
{
	size_t n = strlen(t);

	if (n == 0) {
		fprintf(stderr, "clmsync %s: the token from %s is empty\n", cmd, from);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7F) {
			fprintf(stderr, "clmsync %s: the token from %s holds a space or a character that is not printable "
			                "ASCII\n", cmd, from);
			return false;
		}
	}
	return true;
}

int
cli_config_load(const char *cmd, const char *path, struct cs_config **out)
{
	struct cs_error_list errs;
	struct stat sb;
	char *data = NULL;
	FILE *f = NULL;
	size_t n = 0;
	int code = CLI_EXIT_USAGE;

	*out = NULL;
	cs_error_list_init(&errs);
	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &sb) != 0) {
		fprintf(stderr, "clmsync %s: cannot read %s: %s\n", cmd, path, strerror(errno));
		goto out;
	}
	if (sb.st_size > CS_CONFIG_FILE_MAX) {
		fprintf(stderr, "clmsync %s: %s is over %d bytes\n", cmd, path, CS_CONFIG_FILE_MAX);
		goto out;
	}
	if ((data = malloc((size_t)sb.st_size + 1)) == NULL) {
		fprintf(stderr, "clmsync %s: out of memory\n", cmd);
		goto out;
	}
	n = fread(data, 1, (size_t)sb.st_size, f);
	if (ferror(f)) {
		fprintf(stderr, "clmsync %s: cannot read %s\n", cmd, path);
		goto out;
	}
	if (cs_config_load_buffer(path, data, n, CS_CONFIG_NO_SECRETS, out, &errs) != CS_OK) {
		cs_error_list_print(&errs, stderr);
		fprintf(stderr, "clmsync %s: %s does not load\n", cmd, path);
		*out = NULL;
		goto out;
	}
	code = 0;
out:
	if (f != NULL)
		fclose(f);
	free(data);
	cs_error_list_cleanup(&errs);
	return code;
}

/* Puts url, as the user wrote it, into c->base: http:// added when there is no scheme, trailing
 * slashes removed. CLI_EXIT_USAGE when it cannot be used. */
static int
set_base(struct admin_conn *c, const char *url)
{
	const char *scheme = strstr(url, "://");
	size_t n;
	int k;

	if (url[0] == '\0') {
		fprintf(stderr, "clmsync %s: the admin URL from %s is empty\n", c->cmd, c->url_from);
		return CLI_EXIT_USAGE;
	}
	if (scheme != NULL && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		fprintf(stderr, "clmsync %s: the admin URL from %s is not http:// or https://\n", c->cmd, c->url_from);
		return CLI_EXIT_USAGE;
	}
	k = snprintf(c->base, sizeof(c->base), "%s%s", scheme == NULL ? "http://" : "", url);
	if (k < 0 || (size_t)k >= sizeof(c->base)) {
		fprintf(stderr, "clmsync %s: the admin URL from %s is over %d bytes\n", c->cmd, c->url_from, BASE_MAX - 1);
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; c->base[i] != '\0'; i++) {
		if ((unsigned char)c->base[i] <= 0x20 || (unsigned char)c->base[i] >= 0x7F) {
			fprintf(stderr, "clmsync %s: the admin URL from %s holds a space or a control character\n", c->cmd,
			        c->url_from);
			return CLI_EXIT_USAGE;
		}
	}
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	return 0;
}

/* The URL of the admin listener a configuration declares; a wildcard address is reached on
 * loopback. */
static void
base_of_config(const struct cs_config *cfg, char *out, size_t n)
{
	const char *h = cfg->admin.host;

	if (strcmp(h, "0.0.0.0") == 0 || h[0] == '\0')
		h = "127.0.0.1";
	else if (strcmp(h, "::") == 0)
		h = "::1";
	snprintf(out, n, strchr(h, ':') ? "%s://[%s]:%u" : "%s://%s:%u", cfg->admin.tls.cert_file[0] ? "https" : "http", h,
	         (unsigned)cfg->admin.port);
}

int
admin_conn_open(const struct cli_args *a, struct admin_conn **out)
{
	const char *cmd = a->cmd->name, *url = cli_get(a, "--admin-url"), *tfile = cli_get(a, "--token-file");
	const char *cfg_path = cli_get(a, "--config"), *data = cli_get(a, "--data");
	const char *env_url = getenv("CLMSYNC_ADMIN_URL"), *env_tok = getenv("CLMSYNC_ADMIN_TOKEN");
	struct cs_config *cfg = NULL;
	struct admin_conn *c = NULL;
	char *token = NULL, cfg_url[CS_CONFIG_HOST_MAX + 32], path[PATH_MAX_LEN];
	int code = CLI_EXIT_SERVER, k;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL || (token = calloc(1, TOKEN_MAX + 2)) == NULL) {
		fprintf(stderr, "clmsync %s: out of memory\n", cmd);
		goto fail;
	}
	c->cmd = cmd;
	if (cfg_path != NULL && (code = cli_config_load(cmd, cfg_path, &cfg)) != 0)
		goto fail;
	if (cfg == NULL && cs_config_defaults(&cfg) != CS_OK) {
		fprintf(stderr, "clmsync %s: out of memory\n", cmd);
		code = CLI_EXIT_SERVER;
		goto fail;
	}

	/* the URL: the flag, the environment, the configuration */
	if (url != NULL)
		snprintf(c->url_from, sizeof(c->url_from), "--admin-url");
	else if (env_url != NULL && env_url[0] != '\0') {
		url = env_url;
		snprintf(c->url_from, sizeof(c->url_from), "$CLMSYNC_ADMIN_URL");
	} else {
		if (!cfg->admin.enabled) {
			fprintf(stderr, "clmsync %s: %s turns the admin listener off (admin.enabled: false); give "
			                "--admin-url or CLMSYNC_ADMIN_URL\n", cmd, cfg_path);
			code = CLI_EXIT_SERVER;
			goto fail;
		}
		base_of_config(cfg, cfg_url, sizeof(cfg_url));
		url = cfg_url;
		if (cfg_path != NULL)
			snprintf(c->url_from, sizeof(c->url_from), "admin.listen in %s", cfg_path);
		else
			snprintf(c->url_from, sizeof(c->url_from), "the default admin.listen");
	}
	if ((code = set_base(c, url)) != 0)
		goto fail;

	/* the token: the flag, the environment, the configuration's first admin token, the one
	 * serve generated */
	code = CLI_EXIT_SERVER;
	if (tfile != NULL) {
		snprintf(c->token_from, sizeof(c->token_from), "--token-file %s", tfile);
		if (!token_from_file(cmd, tfile, token, TOKEN_MAX + 2))
			goto fail;
	} else if (env_tok != NULL && env_tok[0] != '\0') {
		snprintf(c->token_from, sizeof(c->token_from), "$CLMSYNC_ADMIN_TOKEN");
		snprintf(token, TOKEN_MAX + 2, "%s", env_tok);
	} else if (cfg->ntokens > 0) {
		const struct cs_api_token *t = NULL;
		for (size_t i = 0; i < cfg->ntokens && t == NULL; i++)
			if (cfg->tokens[i].role == CS_ROLE_ADMIN)
				t = &cfg->tokens[i];
		if (t == NULL) {
			fprintf(stderr, "clmsync %s: %s has no api_tokens entry with role admin; give --token-file or "
			                "CLMSYNC_ADMIN_TOKEN\n", cmd, cfg_path);
			goto fail;
		}
		if (t->file[0] != '\0') {
			snprintf(c->token_from, sizeof(c->token_from), "token %s of %s (file %s)", t->name, cfg_path, t->file);
			if (!token_from_file(cmd, t->file, token, TOKEN_MAX + 2))
				goto fail;
		} else {
			const char *v = getenv(t->env);
			snprintf(c->token_from, sizeof(c->token_from), "token %s of %s ($%s)", t->name, cfg_path, t->env);
			if (v == NULL || v[0] == '\0') {
				fprintf(stderr, "clmsync %s: the admin token %s of %s comes from $%s, which is not set\n", cmd,
				        t->name, cfg_path, t->env);
				goto fail;
			}
			snprintf(token, TOKEN_MAX + 2, "%s", v);
		}
	} else {
		k = snprintf(path, sizeof(path), "%s/api-token", data != NULL ? data : cfg->data_dir);
		if (k < 0 || (size_t)k >= sizeof(path)) {
			fprintf(stderr, "clmsync %s: the data directory's path is too long\n", cmd);
			code = CLI_EXIT_USAGE;
			goto fail;
		}
		snprintf(c->token_from, sizeof(c->token_from), "%s", path);
		if (access(path, F_OK) != 0) {
			fprintf(stderr, "clmsync %s: no token: give --token-file or CLMSYNC_ADMIN_TOKEN, or --config/--data "
			                "of the server (%s does not exist)\n", cmd, path);
			goto fail;
		}
		if (!token_from_file(cmd, path, token, TOKEN_MAX + 2))
			goto fail;
	}
	if (strlen(token) > TOKEN_MAX - 1) {
		fprintf(stderr, "clmsync %s: the token from %s is over %d bytes\n", cmd, c->token_from, TOKEN_MAX - 1);
		goto fail;
	}
	if (!token_ok(cmd, token, c->token_from))
		goto fail;
	c->auth_len = strlen(token) + 32;
	if ((c->auth = malloc(c->auth_len)) == NULL) {
		fprintf(stderr, "clmsync %s: out of memory\n", cmd);
		goto fail;
	}
	snprintf(c->auth, c->auth_len, "Authorization: Bearer %s", token);
	if (http_client_new(&c->http) != CS_OK) {
		fprintf(stderr, "clmsync %s: out of memory\n", cmd);
		goto fail;
	}
	/* an HTTPS admin listener's own certificate is trusted (a self-signed one works); the
	 * name in it must still match the address used */
	if (cfg->admin.tls.cert_file[0] != '\0' && strlen(cfg->admin.tls.cert_file) < sizeof(c->ca)) {
		snprintf(c->ca, sizeof(c->ca), "%s", cfg->admin.tls.cert_file);
		http_client_set_ca(c->http, c->ca);
	}
	memset(token, 0, TOKEN_MAX + 2);
	free(token);
	cs_config_free(cfg);
	*out = c;
	return 0;
fail:
	if (token != NULL)
		memset(token, 0, TOKEN_MAX + 2);
	free(token);
	cs_config_free(cfg);
	admin_conn_free(c);
	return code;
}

void
admin_conn_free(struct admin_conn *c)
{
	if (c == NULL)
		return;
	if (c->auth != NULL)
		memset(c->auth, 0, c->auth_len);
	free(c->auth);
	http_client_free(c->http);
	free(c);
}

bool
admin_path_append(char *b, size_t cap, const char *s)
{
	size_t n = strlen(b), k = strlen(s);

	if (n + k >= cap)
		return false;
	memcpy(b + n, s, k + 1);
	return true;
}

bool
admin_path_escape(char *b, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(b), n0 = n;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		            ch == '.' || ch == '_' || ch == '~';
		if (n + (keep ? 1 : 3) >= cap) {
			b[n0] = '\0';
			return false;
		}
		if (keep)
			b[n++] = (char)ch;
		else {
			b[n++] = '%';
			b[n++] = hex[ch >> 4];
			b[n++] = hex[ch & 15];
		}
	}
	b[n] = '\0';
	return true;
}

/* The message of an admin API error answer ({"error": {"code", "message"}}), or NULL. */
static const char *
error_message(const json_t *j)
{
	return json_string_value(json_object_get(json_object_get(j, "error"), "message"));
}

static void
say(const struct admin_conn *c, const char *what, const char *detail)
{
	fprintf(stderr, "clmsync %s: %s", c->cmd, what);
	if (detail != NULL) {
		fputs(": ", stderr);
		term_put(stderr, detail);
	}
	fputc('\n', stderr);
}

int
admin_call(struct admin_conn *c, const char *method, const char *path, const json_t *body, bool quiet_404,
           long *status, json_t **out)
{
	const char *hdrs[4] = { c->auth, "Accept: application/json", NULL, NULL };
	struct http_request rq;
	struct http_response rs;
	struct cs_error e = { 0 };
	char url[BASE_MAX + ADMIN_PATH_MAX], what[BASE_MAX + ADMIN_PATH_MAX + 256];
	char *text = NULL;
	json_t *j = NULL;
	const char *msg;
	cs_err rc;
	int code = CLI_EXIT_SERVER;

	*out = NULL;
	*status = 0;
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.headers = hdrs;
	rq.timeout_ms = CALL_TIMEOUT_MS;
	rq.max_response = ADMIN_RESPONSE_MAX;
	if (body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL) {
			fprintf(stderr, "clmsync %s: out of memory\n", c->cmd);
			return CLI_EXIT_SERVER;
		}
		hdrs[2] = "Content-Type: application/json";
		rq.body = text;
		rq.body_len = strlen(text);
	}
	http_response_init(&rs);
	rc = http_client_do(c->http, &rq, &rs, &e);
	free(text);
	if (rc != CS_OK) {
		if (rc == CS_EINVAL) {
			fprintf(stderr, "clmsync %s: the admin URL %s (from %s) cannot be used: %s\n", c->cmd, c->base,
			        c->url_from, e.msg);
			code = CLI_EXIT_USAGE;
		} else
			fprintf(stderr, "clmsync %s: cannot reach the admin API at %s (from %s): %s; is `clmsync serve` "
			                "running with its admin listener there?\n", c->cmd, c->base, c->url_from,
			        rc == CS_ETIMEOUT ? "no answer in time" : rc == CS_ETOOBIG ? "the answer is too large" :
			        "the connection failed");
		goto out;
	}
	*status = rs.status;
	if (rs.body.len > 0) {
		json_error_t je;
		j = json_loadb(rs.body.data, rs.body.len, 0, &je);
	}
	if (rs.status >= 200 && rs.status < 300) {
		if (j == NULL && rs.body.len > 0) {
			fprintf(stderr, "clmsync %s: %s answered HTTP %ld with something that is not JSON: is that the admin "
			                "listener (from %s)?\n", c->cmd, c->base, rs.status, c->url_from);
			goto out;
		}
		*out = j;
		j = NULL;
		code = 0;
		goto out;
	}
	msg = error_message(j);
	if (rs.status == 404 && (msg == NULL || strncmp(msg, "no such admin endpoint", 22) == 0 ||
	                         strcmp(msg, "no such resource") == 0)) {
		/* the route is not there: not a missing thing, a wrong server or an older one */
		fprintf(stderr, "clmsync %s: %s (from %s) has no %s %s: an older clmsync, or not its admin listener\n",
		        c->cmd, c->base, c->url_from, method, path);
		goto out;
	}
	switch (rs.status) {
	case 404:
		if (quiet_404) {
			code = 0;
			goto out;
		}
		say(c, "not found", msg);
		code = CLI_EXIT_NOTFOUND;
		break;
	case 400:
	case 413:
		say(c, "the server refused the request", msg);
		code = CLI_EXIT_USAGE;
		break;
	case 401:
		snprintf(what, sizeof(what), "the admin API at %s refused the token from %s (HTTP 401)", c->base,
		         c->token_from);
		say(c, what, msg);
		break;
	case 403:
		snprintf(what, sizeof(what), "the token from %s does not have the admin role (HTTP 403)", c->token_from);
		say(c, what, msg);
		break;
	default:
		snprintf(what, sizeof(what), "the admin API at %s failed (HTTP %ld)", c->base, rs.status);
		say(c, what, msg);
		break;
	}
out:
	json_decref(j);
	http_response_cleanup(&rs);
	return code;
}

int
cli_put_json(const char *cmd, const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
	bool ok = s != NULL && printf("%s\n", s) >= 0 && fflush(stdout) == 0;

	free(s);
	if (!ok)
		fprintf(stderr, "clmsync%s%s: cannot write the output: %s\n", cmd ? " " : "", cmd ? cmd : "", strerror(errno));
	return ok ? 0 : CLI_EXIT_BAD;
}

/* cmd_serve.c - clmsync serve: the contract repository's HTTP API, scheduler and change feed, and the sync engine. */
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "admin/admin.h"
#include "admin/alerts.h"
#include "clm/clm.h"
#include "config/config.h"
#include "http/server.h"
#include "http/throttle.h"
#include "sync/sync.h"
#include "util/log.h"
#include "util/sig.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_FILE "api-token"     /* created in the data directory on first start */
#define PATH_MAX_LEN 4096
#define STORE_POOL_SIZE 16

static void
usage(FILE *f)
{
	cli_help_print(cli_cmd_find("serve"), f);
}

/* "ADDR:PORT" into host and port; port 0 is allowed here (a free port, for tests), where
 * cs_config_parse_listen wants 1..65535. */
static bool
parse_listen(const char *v, char *host, size_t hostn, uint16_t *port)
{
	const char *colon = strrchr(v, ':');

	if (colon != NULL && strcmp(colon, ":0") == 0) {
		char tmp[CS_CONFIG_HOST_MAX + 8];
		snprintf(tmp, sizeof(tmp), "%.*s:1", (int)(colon - v), v);
		if (!cs_config_parse_listen(tmp, host, hostn, port))
			return false;
		*port = 0;
		return true;
	}
	return cs_config_parse_listen(v, host, hostn, port);
}

/* Reads the first line of path (a token) into out; false with a message on stderr. A file its
 * group or others may read or write is refused, as the configuration's secret files are. */
static bool
read_token(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	size_t n;

	if (f == NULL) {
		log_error("serve.token", "cannot read token file %s: %s", path, strerror(errno));
		return false;
	}
	if (fstat(fileno(f), &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		log_error("serve.token", "token file %s is accessible to its group or others (mode %04o); restrict "
		          "it with chmod 600", path, (unsigned)(st.st_mode & 07777));
		fclose(f);
		return false;
	}
	if (fgets(out, (int)cap, f) == NULL)
		out[0] = '\0';
	fclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	if (n == 0 || n >= cap - 1) {
		log_error("serve.token", "token file %s holds no token of 1 to %zu bytes on its first line", path, cap - 2);
		return false;
	}
	return true;
}

/* Uses DIR/api-token, creating it (mode 0600) on first start. */
static bool
first_token(const char *dir, struct clm_auth *auth)
{
	char path[PATH_MAX_LEN], secret[CLM_SECRET_MAX + 2];
	struct cs_error e = { 0 };
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, TOKEN_FILE);
	if (access(path, F_OK) != 0) {
		if (clm_secret_generate(secret, sizeof(secret), &e) != CS_OK) {
			log_error("serve.token", "%s", e.msg);
			return false;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, secret, strlen(secret)) != (ssize_t)strlen(secret) || write(fd, "\n", 1) != 1 ||
		    fsync(fd) != 0) {
			log_error("serve.token", "cannot write %s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return false;
		}
		close(fd);
		log_warn("serve.token", "no API token was configured: created an admin token in %s (mode 0600)", path);
	} else
		log_info("serve.token", "using the admin token in %s", path);
	if (!read_token(path, secret, sizeof(secret)))
		return false;
	if (clm_auth_add(auth, "admin", CLM_ROLE_ADMIN, secret, &e) != CS_OK) {
		log_error("serve.token", "%s: %s", path, e.msg);
		return false;
	}
	memset(secret, 0, sizeof(secret));
	return true;
}

/* Started as root: becomes user for good, after the listeners are bound and the secret files
 * read, before the store is opened or a thread started (setuid in a threaded process is racy).
 * The data directory, created here when missing, is given to the user so that the store's files
 * are its own. Order matters: supplementary groups and the group while still root, the user
 * last; then root must be out of reach. Not root: nothing to do (server.user is ignored). */
static bool
drop_privileges(const char *user, const char *dir)
{
	struct passwd *pw;
	struct stat st;

	if (geteuid() != 0)
		return true;
	if (user[0] == '\0') {
		log_warn("serve.privileges", "running as root: set server.user to an unprivileged user (the "
		         "listeners are bound and the secrets read before it is taken on)");
		return true;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_error("serve.privileges", "server.user %s: no such user%s%s", user, errno ? ": " : "",
		          errno ? strerror(errno) : "");
		return false;
	}
	if (pw->pw_uid == 0) {
		log_error("serve.privileges", "server.user %s is root itself; name an unprivileged user", user);
		return false;
	}
	if (stat(dir, &st) != 0) {
		if (mkdir(dir, 0700) != 0 || chown(dir, pw->pw_uid, pw->pw_gid) != 0) {
			log_error("serve.privileges", "cannot create the data directory %s for %s: %s", dir, user,
			          strerror(errno));
			return false;
		}
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_error("serve.privileges", "cannot become %s: %s", user, strerror(errno));
		return false;
	}
	/* setuid as root sets the real, effective and saved ids: there must be no way back */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid) {
		log_error("serve.privileges", "root could be regained after becoming %s; stopping", user);
		_exit(1);
	}
	log_info("serve.privileges", "now running as %s (uid %u, gid %u)", user, (unsigned)pw->pw_uid,
	         (unsigned)pw->pw_gid);
	return true;
}

/* The options every listener shares: timeouts, connection limits; tls when it has one. */
static void
listener_opts(const struct cs_config *cfg, const struct cs_tls *tls, struct http_server_opts *so)
{
	memset(so, 0, sizeof(*so));
	so->conn_timeout_s = cfg->server.idle_timeout_s;
	so->header_timeout_s = cfg->server.header_timeout_s;
	so->max_connections = cfg->server.max_connections;
	so->max_per_ip = cfg->server.max_connections_per_ip;
	if (tls->cert[0] != '\0') {
		so->tls_cert = tls->cert;
		so->tls_key = tls->key;
	}
	so->listen_fd = -1;
}

int
cmd_serve(int argc, char **argv)
{
	const char *cfg_path = NULL, *data = NULL, *listen = NULL, *token_file = NULL, *admin_listen = NULL;
	const char *log_format = NULL;
	bool no_sync = false, json_logs;
	struct cs_config *cfg = NULL;
	struct cs_error_list errs;
	struct cs_error e = { 0 };
	struct clm_schema *schema = NULL;
	struct clm_auth *auth = NULL;
	struct clm *clm = NULL;
	struct clm_api api;
	struct clm_opts co;
	struct http_server_opts so, aso;
	struct http_server *srv = NULL;
	struct http_throttle *throttle = NULL;
	int lfd = -1, alfd = -1;
	struct sync_engine *eng = NULL;
	struct admin *adm = NULL;
	struct admin_opts ao;
	struct alerts *alr = NULL;
	struct alerts_opts lo;
	int64_t started_ms = cs_time_now_ms();
	char ahost[CS_CONFIG_HOST_MAX], aurl[CS_CONFIG_HOST_MAX + 16] = "";
	uint16_t aport = 0;
	bool admin_on;
	struct sync_opts eo;
	char host[CS_CONFIG_HOST_MAX], store_url[PATH_MAX_LEN + 16], url[CS_CONFIG_HOST_MAX + 16];
	const char *dir;
	uint16_t port;
	int rc = 1;

	/* before any thread starts: SIGINT and SIGTERM go to this thread only, in cs_sig_wait */
	cs_sig_block();
	/* every option but the flags takes one value */
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--no-sync") == 0) {
			no_sync = true;
			i--;
			continue;
		}
		if (val == NULL) {
			fprintf(stderr, "clmsync serve: %s needs a value (see --help)\n", a);
			return 2;
		}
		if (strcmp(a, "--config") == 0)
			cfg_path = val;
		else if (strcmp(a, "--data") == 0)
			data = val;
		else if (strcmp(a, "--listen") == 0)
			listen = val;
		else if (strcmp(a, "--admin-listen") == 0)
			admin_listen = val;
		else if (strcmp(a, "--api-token-file") == 0)
			token_file = val;
		else if (strcmp(a, "--log-format") == 0 && (strcmp(val, "json") == 0 || strcmp(val, "text") == 0))
			log_format = val;
		else if (strcmp(a, "--log-format") == 0) {
			fprintf(stderr, "clmsync serve: --log-format wants json or text, got '%s'\n", val);
			return 2;
		}
		else {
			fprintf(stderr, "clmsync serve: unknown option '%s' (see --help)\n", a);
			return 2;
		}
	}

	/* the flag holds from the first line on, so that a pipeline reading JSON gets the
	 * configuration's errors as JSON too */
	json_logs = log_format != NULL && strcmp(log_format, "json") == 0;
	cs_log_setup(CS_LOG_INFO, json_logs);
	cs_error_list_init(&errs);
	if (cfg_path != NULL) {
		if (cs_config_load(cfg_path, &cfg, &errs) != CS_OK) {
			if (json_logs) {
				for (size_t i = 0; i < errs.n; i++)
					log_error("config.error", "%s", errs.v[i].text);
				if (errs.dropped > 0)
					log_error("config.error", "... and %zu more errors", errs.dropped);
			} else
				cs_error_list_print(&errs, stderr);
			if (errs.n == 0)
				log_error("config.error", "cannot load %s", cfg_path);
			cs_error_list_cleanup(&errs);
			return 1;
		}
	} else if (cs_config_defaults(&cfg) != CS_OK) {
		log_error("serve.start", "out of memory");
		return 1;
	}
	cs_error_list_cleanup(&errs);
	if (log_format == NULL)
		json_logs = cfg->log.json;
	cs_log_setup(cfg->log.level, json_logs);

	/* the command line wins over the file, the file over the defaults */
	snprintf(host, sizeof(host), "%s", cfg->repository.host);
	port = cfg->repository.port;
	if (listen != NULL && !parse_listen(listen, host, sizeof(host), &port)) {
		log_error("serve.start", "--listen wants ADDR:PORT, got '%s'", listen);
		rc = 2;
		goto out;
	}
	admin_on = cfg->admin.enabled;
	snprintf(ahost, sizeof(ahost), "%s", cfg->admin.host);
	aport = cfg->admin.port;
	if (admin_listen != NULL && strcmp(admin_listen, "off") == 0)
		admin_on = false;
	else if (admin_listen != NULL) {
		admin_on = true;
		if (!parse_listen(admin_listen, ahost, sizeof(ahost), &aport)) {
			log_error("serve.start", "--admin-listen wants ADDR:PORT or off, got '%s'", admin_listen);
			rc = 2;
			goto out;
		}
	}
	dir = data ? data : cfg->data_dir;
	if (data != NULL)
		snprintf(store_url, sizeof(store_url), "sqlite:%s/clmsync.db", data);
	else
		snprintf(store_url, sizeof(store_url), "%s", cfg->store_url);
	if ((auth = clm_auth_new()) == NULL) {
		log_error("serve.start", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cfg->ntokens; i++) {
		const struct cs_api_token *t = &cfg->tokens[i];
		enum clm_role r = t->role == CS_ROLE_ADMIN ? CLM_ROLE_ADMIN : t->role == CS_ROLE_WRITE ? CLM_ROLE_WRITE
		    : CLM_ROLE_READ;
		if (clm_auth_add(auth, t->name, r, t->secret, &e) != CS_OK) {
			log_error("serve.start", "api token %s: %s", t->name, e.msg);
			goto out;
		}
	}
	if (token_file != NULL) {
		char secret[CLM_SECRET_MAX + 2];
		if (!read_token(token_file, secret, sizeof(secret)))
			goto out;
		if (clm_auth_add(auth, "token-file", CLM_ROLE_ADMIN, secret, &e) != CS_OK) {
			log_error("serve.start", "%s: %s", token_file, e.msg);
			goto out;
		}
		memset(secret, 0, sizeof(secret));
	}
	/* only the hashes are kept from here on: the configuration's copies are wiped */
	for (size_t i = 0; i < cfg->ntokens; i++)
		explicit_bzero(cfg->tokens[i].secret, cfg->tokens[i].secret_len);
	if (http_throttle_new(cfg->server.auth_failures, cfg->server.auth_window_s, &throttle) != CS_OK) {
		log_error("serve.start", "out of memory");
		goto out;
	}

	/* bind while still privileged (a port under 1024), then give root up before anything else */
	listener_opts(cfg, &cfg->repository.tls, &so);
	listener_opts(cfg, &cfg->admin.tls, &aso);
	if (http_listen_open(host, port, &lfd, &e) != CS_OK || (admin_on && http_listen_open(ahost, aport, &alfd, &e) != CS_OK)) {
		log_error("serve.start", "%s", e.msg);
		goto out;
	}
	if (!drop_privileges(cfg->server.user, dir))
		goto out;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("serve.start", "cannot create the data directory %s: %s", dir, strerror(errno));
		goto out;
	}
	if (clm_auth_count(auth) == 0 && !first_token(dir, auth))
		goto out;

	if ((schema = cli_schema_of(cfg, &e)) == NULL) {
		log_error("serve.start", "custom attributes: %s", e.msg);
		goto out;
	}
	memset(&co, 0, sizeof(co));
	co.store_url = store_url;
	co.pool_size = STORE_POOL_SIZE;
	co.max_document_size = cfg->repository.max_document_size;
	co.schema = schema;
	if (clm_new(&co, &clm, &e) != CS_OK) {
		log_error("serve.start", "cannot open the store %s: %s", store_url, e.msg);
		goto out;
	}
	if (clm_sched_start(clm, (int)(cfg->repository.scheduler_interval ? cfg->repository.scheduler_interval : 60), &e) != CS_OK) {
		log_error("serve.start", "%s", e.msg);
		goto out;
	}

	if (cfg->nmappings > 0 && !no_sync) {
		memset(&eo, 0, sizeof(eo));
		eo.cfg = cfg;
		eo.clm = clm;
		eo.store_url = store_url;
		if (sync_engine_start(&eo, &eng, &e) != CS_OK) {
			log_error("serve.start", "cannot start the sync engine: %s", e.msg);
			goto out;
		}
	}

	memset(&api, 0, sizeof(api));
	api.clm = clm;
	api.auth = auth;
	api.throttle = throttle;
	api.max_body = cfg->repository.max_body;
	api.max_document = cfg->repository.max_document_size ? cfg->repository.max_document_size : CLM_DOC_MAX_DEFAULT;
	so.host = host;
	so.port = port;
	so.use_listen_fd = true;
	so.listen_fd = lfd;
	lfd = -1;   /* the server's from here on */
	/* one server-wide limit: the larger one; each handler holds its own route to its own */
	so.max_body = api.max_body > api.max_document ? api.max_body : api.max_document;
	so.routes = clm_api_routes(&so.nroutes);
	so.pre = clm_api_pre;
	so.not_found = clm_api_not_found;
	so.ud = &api;
	if (http_server_start(&so, &srv, &e) != CS_OK) {
		log_error("serve.start", "%s", e.msg);
		goto out;
	}
	snprintf(url, sizeof(url), strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d", so.tls_cert ? "https" : "http", host,
	         http_server_port(srv));
	if (admin_on) {
		memset(&ao, 0, sizeof(ao));
		ao.cfg = cfg;
		ao.clm = clm;
		ao.auth = auth;
		ao.throttle = throttle;
		aso.use_listen_fd = true;
		aso.listen_fd = alfd;
		alfd = -1;
		ao.limits = &aso;
		ao.eng = eng;
		ao.store_url = store_url;
		ao.host = ahost;
		ao.port = aport;
		if (admin_start(&ao, &adm, &e) != CS_OK) {
			log_error("serve.start", "admin listener: %s", e.msg);
			goto out;
		}
		snprintf(aurl, sizeof(aurl), strchr(ahost, ':') ? "%s://[%s]:%d" : "%s://%s:%d", aso.tls_cert ? "https" : "http",
		         ahost, admin_port(adm));
	}
	if (cfg->alerts.webhook_url[0] != '\0') {
		memset(&lo, 0, sizeof(lo));
		lo.cfg = cfg;
		lo.eng = eng;
		lo.store_url = store_url;
		lo.started_ms = started_ms;
		if (alerts_start(&lo, &alr, &e) != CS_OK) {
			log_error("serve.start", "alert webhook: %s", e.msg);
			goto out;
		}
	}
	/* both lines at once: a reader that waits for the first finds the second there too */
	printf("%s\n%s\n", url, admin_on ? aurl : "admin: off");
	fflush(stdout);
	log_info("serve.listen", "repository API on %s/api/v1 (data in %s)", url, dir);
	if (admin_on)
		log_info("serve.listen", "admin API on %s/admin/v1, metrics on %s/metrics", aurl, aurl);

	cs_sig_wait();
	log_info("serve.stop", "shutting down");
	alerts_stop(alr);
	alr = NULL;
	/* long polls answer at once so that the server's threads can finish */
	clm_wake_all(clm);
	admin_stop(adm);
	adm = NULL;
	http_server_stop(srv);
	srv = NULL;
	rc = 0;
out:
	alerts_stop(alr);
	admin_stop(adm);
	http_server_stop(srv);
	sync_engine_stop(eng);
	clm_free(clm);
	clm_schema_free(schema);
	clm_auth_free(auth);
	http_throttle_free(throttle);
	if (lfd >= 0)
		close(lfd);
	if (alfd >= 0)
		close(alfd);
	cs_config_free(cfg);
	return rc;
}

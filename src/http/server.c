/* server.c - libmicrohttpd wrapper with a router, body and header limits, a header deadline and TLS. */
#include "http/server.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define WATCH_TICK_MS 100          /* how often the header deadline is looked at */

/* One open connection, as the header deadline watches it. fd stays valid while used: the slot is
 * let go in the CLOSED notification, which libmicrohttpd sends before it closes the socket. */
struct conn_slot {
	bool used;
	int fd;
	int64_t deadline_ms;       /* 0: none (its headers are in; the handler or the body runs) */
};

struct http_server {
	struct MHD_Daemon *d;
	struct http_server_opts o;
	int port;
	char *cert, *key;          /* copies of the TLS PEM texts */
	/* the header deadline: a watcher thread shuts down connections past their deadline */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t watcher;
	bool watching, stopping;
	struct conn_slot *slots;
	size_t nslots;
	unsigned long cut;
};

static struct conn_slot *
slot_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

/* Sets the slot's deadline to now + s seconds, or to none when s is 0; with sooner, only moves
 * it closer. */
static void
slot_deadline(struct http_server *s, struct MHD_Connection *c, unsigned secs, bool sooner)
{
	struct conn_slot *k;
	int64_t d;

	if (!s->watching || (k = slot_of(c)) == NULL)
		return;
	d = secs ? cs_time_mono_ms() + (int64_t)secs * 1000 : 0;
	pthread_mutex_lock(&s->mu);
	if (k->used && (!sooner || k->deadline_ms == 0 || d < k->deadline_ms))
		k->deadline_ms = d;
	pthread_mutex_unlock(&s->mu);
}

static void
notify_cb(void *cls, struct MHD_Connection *c, void **sock_ctx, enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	struct conn_slot *k = *sock_ctx;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (ci == NULL)
			return;
		pthread_mutex_lock(&s->mu);
		for (size_t i = 0; i < s->nslots; i++)
			if (!s->slots[i].used) {
				s->slots[i].used = true;
				s->slots[i].fd = ci->connect_fd;
				s->slots[i].deadline_ms = cs_time_mono_ms() + (int64_t)s->o.header_timeout_s * 1000;
				*sock_ctx = &s->slots[i];
				break;
			}
		pthread_mutex_unlock(&s->mu);
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && k != NULL) {
		pthread_mutex_lock(&s->mu);
		k->used = false;
		k->fd = -1;
		k->deadline_ms = 0;
		pthread_mutex_unlock(&s->mu);
		*sock_ctx = NULL;
	}
}

/* Shuts down (never closes: the descriptor stays libmicrohttpd's) every connection whose request
 * headers are late; its thread then sees the end of the stream and lets it go. */
static void *
watch_main(void *arg)
{
	struct http_server *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		int64_t now = cs_time_mono_ms();
		struct timespec ts;

		for (size_t i = 0; i < s->nslots; i++) {
			struct conn_slot *k = &s->slots[i];
			if (k->used && k->deadline_ms != 0 && now >= k->deadline_ms) {
				shutdown(k->fd, SHUT_RDWR);
				k->deadline_ms = 0;
				s->cut++;
			}
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WATCH_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Per-request state, from the URI callback until the completion callback. */
struct reqctx {
	char *uri;
	struct cs_buf body;
	bool too_big;
	bool started;
};

static void *
uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_server *s = cls;
	struct reqctx *x = calloc(1, sizeof(*x));

	/* the request line is in: its headers have header_timeout_s from now at most */
	slot_deadline(s, c, s->o.header_timeout_s, true);
	if (x == NULL)
		return NULL;
	x->uri = strdup(uri);
	cs_buf_init(&x->body, s->o.max_body);
	return x;
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct reqctx *x = *con_cls;

	/* a kept-alive connection has the idle timeout, in all, to send its next request: trickling
	 * it a byte at a time does not buy more */
	slot_deadline(s, c, s->o.conn_timeout_s ? s->o.conn_timeout_s : 300u, false);
	if (x == NULL)
		return;
	free(x->uri);
	cs_buf_cleanup(&x->body);
	free(x);
	*con_cls = NULL;
}

/* Collapses runs of '/' so that "//services/data" routes like "/services/data". */
static void
normalise_path(const char *in, char *out, size_t cap)
{
	size_t j = 0;

	for (size_t i = 0; in[i] && j + 1 < cap; i++) {
		if (in[i] == '/' && j > 0 && out[j - 1] == '/')
			continue;
		out[j++] = in[i];
	}
	out[j] = '\0';
	if (j == 0 && cap > 1) {
		out[0] = '/';
		out[1] = '\0';
	}
}

/* Matches path against pattern; on success fills rq->params, pointing into segbuf. */
static bool
route_match(const char *pattern, const char *path, struct http_req *rq, char *segbuf, size_t cap)
{
	const char *p = pattern, *u = path;
	size_t used = 0, np = 0;

	while (*p == '/' && *u == '/') {
		const char *pe, *ue;
		p++, u++;
		if (p[0] == '*' && p[1] == '\0') {
			size_t n = strlen(u);
			if (used + n + 1 > cap || np >= HTTP_MAX_PARAMS)
				return false;
			memcpy(segbuf + used, u, n + 1);
			rq->params[np++] = segbuf + used;
			rq->nparams = np;
			return true;
		}
		pe = strchr(p, '/');
		if (pe == NULL)
			pe = p + strlen(p);
		ue = strchr(u, '/');
		if (ue == NULL)
			ue = u + strlen(u);
		if (*p == ':') {
			size_t n = (size_t)(ue - u);
			if (n == 0 || used + n + 1 > cap || np >= HTTP_MAX_PARAMS)
				return false;
			memcpy(segbuf + used, u, n);
			segbuf[used + n] = '\0';
			rq->params[np++] = segbuf + used;
			used += n + 1;
		} else if ((size_t)(pe - p) != (size_t)(ue - u) || memcmp(p, u, (size_t)(pe - p)) != 0)
			return false;
		p = pe;
		u = ue;
	}
	/* a trailing slash on the request is tolerated */
	if (*p == '\0' && (*u == '\0' || (u[0] == '/' && u[1] == '\0'))) {
		rq->nparams = np;
		return true;
	}
	return false;
}

static enum MHD_Result
send_resp(struct MHD_Connection *c, struct http_resp *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = rs->body.len;
	char *data = cs_buf_take(&rs->body);

	r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(data);
		return MHD_NO;
	}
	if (rs->content_type[0])
		MHD_add_response_header(r, "Content-Type", rs->content_type);
	for (size_t i = 0; i < rs->nheaders; i++)
		MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
	ret = MHD_queue_response(c, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

void
http_resp_cleanup(struct http_resp *rs)
{
	cs_buf_cleanup(&rs->body);
	for (size_t i = 0; i < rs->nheaders; i++) {
		free(rs->headers[i].name);
		free(rs->headers[i].value);
	}
	rs->nheaders = 0;
}

/* Answers rq into rs (initialised here): the pre hook, then the first route that matches, then
 * the not-found handler. The one path of every request, from a connection or handed over. */
static void
route(const struct http_server_opts *o, struct http_req *rq, struct http_resp *rs)
{
	char segbuf[8192];
	bool handled = false;

	memset(rs, 0, sizeof(*rs));
	cs_buf_init(&rs->body, (size_t)1 << 31);
	rs->status = 200;
	if (o->pre != NULL)
		handled = o->pre(rq, rs, o->ud);
	for (size_t i = 0; !handled && i < o->nroutes; i++) {
		const struct http_route *rt = &o->routes[i];
		if (rt->method != NULL && strcmp(rt->method, rq->method) != 0)
			continue;
		if (!route_match(rt->pattern, rq->path, rq, segbuf, sizeof(segbuf)))
			continue;
		rt->fn(rq, rs, o->ud);
		handled = true;
	}
	if (!handled) {
		if (o->not_found)
			o->not_found(rq, rs, o->ud);
		else
			http_resp_text(rs, 404, "text/plain", "not found\n", 10);
	}
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct reqctx *x = *con_cls;
	struct http_req rq;
	struct http_resp rs;
	char path[8192];
	enum MHD_Result ret;

	if (x == NULL)
		return MHD_NO;
	if (!x->started) {
		/* the headers are in: the body has the idle timeout and max_body as its bounds */
		slot_deadline(s, c, 0, false);
		x->started = true;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (!x->too_big && cs_buf_append(&x->body, upload_data, *upload_data_size) != CS_OK) {
			x->too_big = true;
			cs_buf_cleanup(&x->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	memset(&rq, 0, sizeof(rq));
	normalise_path(url, path, sizeof(path));
	rq.method = method;
	rq.path = path;
	rq.raw_uri = x->uri ? x->uri : url;
	rq.body = x->body.data ? x->body.data : "";
	rq.body_len = x->body.len;
	rq.body_too_big = x->too_big;
	rq.conn = c;
	route(&s->o, &rq, &rs);
	if (rs.drop) {
		http_resp_cleanup(&rs);
		return MHD_NO;
	}
	ret = send_resp(c, &rs);
	http_resp_cleanup(&rs);
	return ret;
}

void
http_server_dispatch(struct http_server *s, const struct http_local_req *lr, struct http_resp *rs)
{
	struct http_req rq;
	struct cs_buf body;
	char path[8192];
	bool too_big = false;

	/* as the connection path collects the body: bounded by max_body, dropped whole past it */
	cs_buf_init(&body, s->o.max_body);
	if (lr->body_len > 0 && cs_buf_append(&body, lr->body, lr->body_len) != CS_OK) {
		too_big = true;
		cs_buf_cleanup(&body);
	}
	memset(&rq, 0, sizeof(rq));
	normalise_path(lr->path, path, sizeof(path));
	rq.method = lr->method;
	rq.path = path;
	rq.raw_uri = lr->raw_uri;
	rq.body = body.data ? body.data : "";
	rq.body_len = body.len;
	rq.body_too_big = too_big;
	rq.local = lr;
	route(&s->o, &rq, rs);
	cs_buf_cleanup(&body);
}

/* Fills ss from a numeric host and port; false when host is not a numeric address. */
static bool
sockaddr_of(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	*len = sizeof(*a4);
	return inet_pton(AF_INET, host, &a4->sin_addr) == 1;
}

cs_err
http_listen_open(const char *host, int port, int *fd, struct cs_error *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, f;

	*fd = -1;
	if (port < 0 || port > 65535)
		return cs_error_set(e, CS_EINVAL, "invalid port %d", port);
	if (!sockaddr_of(host, port, &ss, &len))
		return cs_error_set(e, CS_EINVAL, "invalid listen address '%s' (numeric IPv4 or IPv6 expected)", host);
	if ((f = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return cs_error_set(e, CS_EIO, "cannot make a socket: %s", strerror(errno));
	setsockopt(f, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(f, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(f, (struct sockaddr *)&ss, len) != 0 || listen(f, 512) != 0) {
		int err = errno;
		close(f);
		return cs_error_set(e, CS_EIO, "cannot listen on %s:%d: %s", host, port, strerror(err));
	}
	*fd = f;
	return CS_OK;
}

static void
server_free(struct http_server *s)
{
	if (s->key != NULL) {
		explicit_bzero(s->key, strlen(s->key));
		free(s->key);
	}
	free(s->cert);
	free(s->slots);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

cs_err
http_server_start(const struct http_server_opts *o, struct http_server **out, struct cs_error *e)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	unsigned maxc = o->max_connections ? o->max_connections : HTTP_MAX_CONNECTIONS_DEFAULT;
	const union MHD_DaemonInfo *info;
	struct MHD_OptionItem ov[4];   /* where to listen, then TLS, then END */
	size_t nov = 0;
	int lfd = o->use_listen_fd ? o->listen_fd : -1;
	cs_err rc;

	*out = NULL;
	memset(ov, 0, sizeof(ov));
	if (o->use_listen_fd) {
		if (lfd < 0)
			return cs_error_set(e, CS_EINVAL, "no listening socket");
		ss.ss_family = AF_UNSPEC;
		sslen = sizeof(ss);
		if (getsockname(lfd, (struct sockaddr *)&ss, &sslen) == 0 && ss.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
	} else {
		if (o->port < 0 || o->port > 65535)
			return cs_error_set(e, CS_EINVAL, "invalid port %d", o->port);
		if (!sockaddr_of(o->host, o->port, &ss, &sslen))
			return cs_error_set(e, CS_EINVAL, "invalid listen address '%s' (numeric IPv4 or IPv6 expected)", o->host);
		if (ss.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
	}
	if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
		rc = cs_error_set(e, CS_EINVAL, "HTTPS needs both a certificate and its key");
		goto fail_fd;
	}
	if (o->tls_cert != NULL && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		rc = cs_error_set(e, CS_EINVAL, "this libmicrohttpd was built without TLS: HTTPS cannot be served");
		goto fail_fd;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto fail_fd;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->o = *o;
	s->o.tls_cert = s->o.tls_key = NULL;
	if (o->tls_cert != NULL) {
		if ((s->cert = strdup(o->tls_cert)) == NULL || (s->key = strdup(o->tls_key)) == NULL) {
			server_free(s);
			rc = cs_error_set(e, CS_ENOMEM, "out of memory");
			goto fail_fd;
		}
		flags |= MHD_USE_TLS;
	}
	if (o->use_listen_fd)
		ov[nov++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, lfd, NULL };
	else
		ov[nov++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	if (s->cert != NULL) {
		ov[nov++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert };
		ov[nov++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, s->key };
	}
	ov[nov] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	if (o->header_timeout_s > 0) {
		/* one slot per connection the daemon may hold, so a started connection always has one */
		if ((s->slots = calloc(maxc, sizeof(*s->slots))) == NULL) {
			server_free(s);
			rc = cs_error_set(e, CS_ENOMEM, "out of memory");
			goto fail_fd;
		}
		s->nslots = maxc;
		s->watching = true;
	}
	s->d = MHD_start_daemon(flags, (uint16_t)(o->use_listen_fd ? 0 : o->port), NULL, NULL, access_cb, s,
	    MHD_OPTION_ARRAY, ov,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
	    MHD_OPTION_NOTIFY_CONNECTION, notify_cb, s,
	    MHD_OPTION_CONNECTION_TIMEOUT, o->conn_timeout_s ? o->conn_timeout_s : 300u,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MAX_HEADER,
	    MHD_OPTION_CONNECTION_LIMIT, maxc,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 512u,
	    MHD_OPTION_END);
	if (s->d == NULL) {
		server_free(s);
		/* whether a failed start closed the given socket is not documented: close it if open */
		if (o->use_listen_fd && fcntl(lfd, F_GETFD) != -1)
			close(lfd);
		if (o->use_listen_fd)
			return cs_error_set(e, CS_EIO, "cannot serve on %s:%d%s", o->host, o->port,
			                    o->tls_cert ? " (is the certificate or key invalid?)" : "");
		return cs_error_set(e, CS_EIO, "cannot listen on %s:%d (address in use or not permitted%s)", o->host,
		                    o->port, o->tls_cert ? ", or the certificate or key invalid" : "");
	}
	if (s->watching && pthread_create(&s->watcher, NULL, watch_main, s) != 0) {
		MHD_stop_daemon(s->d);
		server_free(s);
		return cs_error_set(e, CS_ENOMEM, "cannot start a thread");
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info && info->port ? info->port : o->port;
	if (o->use_listen_fd) {
		sslen = sizeof(ss);
		if (getsockname(lfd, (struct sockaddr *)&ss, &sslen) == 0)
			s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			                                         : ((struct sockaddr_in *)&ss)->sin_port);
	}
	*out = s;
	return CS_OK;
fail_fd:
	if (lfd >= 0)
		close(lfd);
	return rc;
}

int
http_server_port(const struct http_server *s)
{
	return s->port;
}

unsigned long
http_server_cut_count(const struct http_server *s)
{
	unsigned long n;

	pthread_mutex_lock((pthread_mutex_t *)&s->mu);
	n = s->cut;
	pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
	return n;
}

void
http_server_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	if (s->watching) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->watcher, NULL);
	}
	MHD_stop_daemon(s->d);
	server_free(s);
}

bool
http_req_peer(const struct http_req *rq, char *out, size_t cap, unsigned char *key)
{
	const union MHD_ConnectionInfo *ci = NULL;
	const struct sockaddr *sa = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen;

	if (rq->local != NULL) {
		if (rq->local->peer != NULL && sockaddr_of(rq->local->peer, 0, &ss, &sslen))
			sa = (const struct sockaddr *)&ss;
	} else if ((ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS)) != NULL)
		sa = ci->client_addr;

	if (cap > 0)
		out[0] = '\0';
	if (key != NULL)
		memset(key, 0, 17);
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
		if (cap > 0)
			inet_ntop(AF_INET, &a4->sin_addr, out, (socklen_t)cap);
		if (key != NULL) {
			key[0] = 4;
			memcpy(key + 1, &a4->sin_addr, 4);
		}
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
		static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (cap > 0)
			inet_ntop(AF_INET6, &a6->sin6_addr, out, (socklen_t)cap);
		if (key != NULL && memcmp(a6->sin6_addr.s6_addr, v4mapped, 12) == 0) {
			key[0] = 4;
			memcpy(key + 1, a6->sin6_addr.s6_addr + 12, 4);
		} else if (key != NULL) {
			key[0] = 6;
			memcpy(key + 1, a6->sin6_addr.s6_addr, 8);
		}
		return true;
	}
	return false;
}

/* The value of the first pair of kv[0..2n) named name, as libmicrohttpd looks its values up
 * (names in any case), or NULL. */
static const char *
local_lookup(const char *const *kv, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (kv[2 * i] != NULL && strcasecmp(kv[2 * i], name) == 0)
			return kv[2 * i + 1];
	return NULL;
}

const char *
http_req_header(const struct http_req *rq, const char *name)
{
	if (rq->local != NULL)
		return local_lookup(rq->local->headers, rq->local->nheaders, name);
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *
http_req_query(const struct http_req *rq, const char *name)
{
	if (rq->local != NULL)
		return local_lookup(rq->local->query, rq->local->nquery, name);
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct each_ctx {
	bool (*fn)(const char *, const char *, void *);
	void *ud;
};

static enum MHD_Result
each_cb(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	struct each_ctx *x = cls;
	return x->fn(k, v ? v : "", x->ud) ? MHD_YES : MHD_NO;
}

void
http_req_query_each(const struct http_req *rq, bool (*fn)(const char *, const char *, void *), void *ud)
{
	struct each_ctx x = { fn, ud };

	if (rq->local != NULL) {
		for (size_t i = 0; i < rq->local->nquery; i++)
			if (!fn(rq->local->query[2 * i], rq->local->query[2 * i + 1] ? rq->local->query[2 * i + 1] : "", ud))
				return;
		return;
	}
	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, each_cb, &x);
}

void
http_resp_header(struct http_resp *rs, const char *name, const char *value)
{
	if (rs->nheaders >= HTTP_MAX_RESP_HEADERS)
		return;
	rs->headers[rs->nheaders].name = strdup(name);
	rs->headers[rs->nheaders].value = strdup(value);
	if (rs->headers[rs->nheaders].name == NULL || rs->headers[rs->nheaders].value == NULL) {
		free(rs->headers[rs->nheaders].name);
		free(rs->headers[rs->nheaders].value);
		return;
	}
	rs->nheaders++;
}

void
http_resp_json(struct http_resp *rs, int status, json_t *v)
{
	rs->status = status;
	cs_buf_reset(&rs->body);
	if (v != NULL) {
		snprintf(rs->content_type, sizeof(rs->content_type), "application/json;charset=UTF-8");
		if (cs_json_dump(v, &rs->body) != CS_OK) {
			rs->status = 500;
			cs_buf_reset(&rs->body);
		}
		json_decref(v);
	}
}

void
http_resp_text(struct http_resp *rs, int status, const char *ctype, const char *s, size_t n)
{
	rs->status = status;
	cs_buf_reset(&rs->body);
	snprintf(rs->content_type, sizeof(rs->content_type), "%s", ctype);
	if (cs_buf_append(&rs->body, s, n) != CS_OK)
		rs->status = 500;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
http_url_decode(const char *s, size_t n, char *out, size_t cap, bool plus)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (j + 1 >= cap)
			return -1;
		if (c == '%') {
			int h, l;
			if (i + 2 >= n)
				return -1;
			h = hexval(s[i + 1]);
			l = hexval(s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			out[j++] = (char)(h * 16 + l);
			i += 2;
		} else if (c == '+' && plus)
			out[j++] = ' ';
		else
			out[j++] = c;
	}
	out[j] = '\0';
	return (long)j;
}

void
http_form_each(const char *body, size_t len, bool (*fn)(const char *, const char *, void *), void *ud)
{
	size_t i = 0;

	while (i < len) {
		size_t st = i, eq = (size_t)-1;
		char *k, *v;
		while (i < len && body[i] != '&') {
			if (body[i] == '=' && eq == (size_t)-1)
				eq = i;
			i++;
		}
		if (eq == (size_t)-1)
			eq = i;
		k = malloc(eq - st + 1);
		v = malloc(i > eq ? i - eq : 1);
		if (k && v && http_url_decode(body + st, eq - st, k, eq - st + 1, true) >= 0 &&
		    http_url_decode(body + eq + (eq < i), i > eq ? i - eq - 1 : 0, v, i > eq ? i - eq : 1, true) >= 0) {
			if (!fn(k, v, ud)) {
				free(k);
				free(v);
				return;
			}
		}
		free(k);
		free(v);
		i++;
	}
}

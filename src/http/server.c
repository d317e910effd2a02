/* server.c - libmicrohttpd wrapper with a router and body limits. */
#include "http/server.h"
#include "util/json.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_server {
	struct MHD_Daemon *d;
	struct http_server_opts o;
	int port;
};

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

	if (x == NULL)
		return NULL;
	x->uri = strdup(uri);
	cs_buf_init(&x->body, s->o.max_body);
	return x;
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct reqctx *x = *con_cls;

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

static void
resp_cleanup(struct http_resp *rs)
{
	cs_buf_cleanup(&rs->body);
	for (size_t i = 0; i < rs->nheaders; i++) {
		free(rs->headers[i].name);
		free(rs->headers[i].value);
	}
	rs->nheaders = 0;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct reqctx *x = *con_cls;
	struct http_req rq;
	struct http_resp rs;
	char path[8192], segbuf[8192];
	enum MHD_Result ret;
	bool handled = false;

	if (x == NULL)
		return MHD_NO;
	if (!x->started) {
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
	memset(&rs, 0, sizeof(rs));
	cs_buf_init(&rs.body, (size_t)1 << 31);
	normalise_path(url, path, sizeof(path));
	rq.method = method;
	rq.path = path;
	rq.raw_uri = x->uri ? x->uri : url;
	rq.body = x->body.data ? x->body.data : "";
	rq.body_len = x->body.len;
	rq.body_too_big = x->too_big;
	rq.conn = c;
	rs.status = 200;

	if (s->o.pre != NULL)
		handled = s->o.pre(&rq, &rs, s->o.ud);
	for (size_t i = 0; !handled && i < s->o.nroutes; i++) {
		const struct http_route *rt = &s->o.routes[i];
		if (rt->method != NULL && strcmp(rt->method, method) != 0)
			continue;
		if (!route_match(rt->pattern, path, &rq, segbuf, sizeof(segbuf)))
			continue;
		rt->fn(&rq, &rs, s->o.ud);
		handled = true;
	}
	if (!handled) {
		if (s->o.not_found)
			s->o.not_found(&rq, &rs, s->o.ud);
		else
			http_resp_text(&rs, 404, "text/plain", "not found\n", 10);
	}
	if (rs.drop) {
		resp_cleanup(&rs);
		return MHD_NO;
	}
	ret = send_resp(c, &rs);
	resp_cleanup(&rs);
	return ret;
}

cs_err
http_server_start(const struct http_server_opts *o, struct http_server **out, struct cs_error *e)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	const union MHD_DaemonInfo *info;

	*out = NULL;
	memset(&ss, 0, sizeof(ss));
	if (strchr(o->host, ':') != NULL) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)o->port);
		if (inet_pton(AF_INET6, o->host, &a6->sin6_addr) != 1)
			return cs_error_set(e, CS_EINVAL, "invalid listen address '%s'", o->host);
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)o->port);
		if (inet_pton(AF_INET, o->host, &a4->sin_addr) != 1)
			return cs_error_set(e, CS_EINVAL, "invalid listen address '%s' (numeric IPv4 or IPv6 expected)", o->host);
	}
	if (o->port < 0 || o->port > 65535)
		return cs_error_set(e, CS_EINVAL, "invalid port %d", o->port);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	s->o = *o;
	s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, access_cb, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
	    MHD_OPTION_CONNECTION_TIMEOUT, o->conn_timeout_s ? o->conn_timeout_s : 300u,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
	    MHD_OPTION_CONNECTION_LIMIT, 1000u,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 512u,
	    MHD_OPTION_END);
	if (s->d == NULL) {
		free(s);
		return cs_error_set(e, CS_EIO, "cannot listen on %s:%d (address in use or not permitted)", o->host, o->port);
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : o->port;
	*out = s;
	return CS_OK;
}

int
http_server_port(const struct http_server *s)
{
	return s->port;
}

void
http_server_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}

const char *
http_req_header(const struct http_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *
http_req_query(const struct http_req *rq, const char *name)
{
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

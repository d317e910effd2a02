/* dashboard.c - serves the operator's dashboard: static files embedded in the binary. */
#include "admin/admin_int.h"

#include <string.h>

/*
 * The page loads only its own files and talks only to this listener; no inline script or
 * style, no frames, no plugins, no form posts anywhere (the token form is handled in script, so
 * a page whose script failed cannot send the token in a URL). Trusted Types with no policy make
 * Chromium refuse any HTML string sink (innerHTML and friends): data from Salesforce can only
 * ever reach the page as text.
 */
#define CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " \
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " \
	"require-trusted-types-for 'script'; trusted-types 'none'"

bool
admin_dashboard_public(const char *path)
{
	return strcmp(path, "/") == 0 || strncmp(path, "/ui/", 4) == 0;
}

static const struct admin_asset *
asset_named(const char *name)
{
	for (size_t i = 0; i < admin_nassets; i++)
		if (strcmp(admin_assets[i].name, name) == 0)
			return &admin_assets[i];
	return NULL;
}

/* True when the If-None-Match list names etag (or is "*"). Weak comparison, as RFC 9110 asks
 * for GET: a W/ prefix on the client's copy still matches. */
static bool
etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	if (inm == NULL)
		return false;
	for (const char *p = inm; *p != '\0';) {
		p += strspn(p, " \t,");
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static void
security_headers(struct http_resp *rs)
{
	http_resp_header(rs, "Content-Security-Policy", CSP);
	http_resp_header(rs, "X-Content-Type-Options", "nosniff");
	http_resp_header(rs, "Referrer-Policy", "no-referrer");
	http_resp_header(rs, "X-Frame-Options", "DENY");
	http_resp_header(rs, "Cross-Origin-Opener-Policy", "same-origin");
	http_resp_header(rs, "Cross-Origin-Resource-Policy", "same-origin");
}

void
admin_dashboard_get(struct http_req *rq, struct http_resp *rs, void *ud)
{
	const struct admin_asset *f = asset_named(rq->nparams == 0 ? "index.html" : rq->params[0]);

	(void)ud;
	security_headers(rs);
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
		http_resp_header(rs, "Allow", "GET, HEAD");
		http_resp_text(rs, 405, "text/plain; charset=utf-8", "method not allowed\n", 19);
		return;
	}
	if (f == NULL) {
		http_resp_text(rs, 404, "text/plain; charset=utf-8", "not found\n", 10);
		return;
	}
	/*
	 * The names carry no version, so a browser must ask again each time (no-cache) and a new
	 * binary's files are used at once; the ETag makes asking cheap (304, no body).
	 */
	http_resp_header(rs, "Cache-Control", "no-cache");
	http_resp_header(rs, "ETag", f->etag);
	if (etag_matches(http_req_header(rq, "If-None-Match"), f->etag)) {
		http_resp_text(rs, 304, f->ctype, "", 0);
		return;
	}
	http_resp_text(rs, 200, f->ctype, (const char *)f->data, f->len);
}

/* admin_int.h - what the admin module's own files share: the dashboard's embedded files. */
#ifndef CS_ADMIN_INT_H
#define CS_ADMIN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"

/* One file of src/admin/dashboard/, embedded at build time (cmake/embed_dashboard.cmake). */
struct admin_asset {
	const char *name;               /* "index.html", "app.js", ... */
	const char *ctype;              /* the Content-Type it is served with */
	const unsigned char *data;      /* len bytes, then a NUL */
	size_t len;
	const char *etag;               /* strong, quoted: "\"0123456789abcdef\"" */
};

/* The generated table, in name order. */
extern const struct admin_asset admin_assets[];
extern const size_t admin_nassets;

/* True for the dashboard's paths ("/" and "/ui/<file>"): static files anyone who reaches the
 * listener may load; the data they show still needs the admin token. */
bool admin_dashboard_public(const char *path);

/* GET or HEAD / (index.html) and /ui/{file}: a route handler for admin.c's table, for any
 * method. Answers 304 to a matching If-None-Match, 404 for a name not embedded and 405 for a
 * method other than GET or HEAD. ud is unused. */
void admin_dashboard_get(struct http_req *rq, struct http_resp *rs, void *ud);

#endif

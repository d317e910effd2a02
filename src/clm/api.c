/* api.c - the repository's REST API under /api/v1: authentication, routing, request and response shapes. */
#include "clm/clm.h"
#include "http/server.h"
#include "http/throttle.h"
#include "util/json.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const char clm_openapi_json[];
extern const size_t clm_openapi_json_len;

#define USER_MAX 64              /* bytes in an X-Clm-User name */
#define QUERY_VALUE_MAX 512      /* bytes in one query parameter value */

/* Who is calling: set by the pre-routing hook, read by the handler that follows on the same
 * thread (libmicrohttpd runs both in one callback on the connection's thread). */
static _Thread_local struct {
	enum clm_role role;
	char actor[CLM_ACTOR_MAX];
} who;

static void
error_out(struct http_resp *rs, const struct clm_fail *f)
{
	json_t *err = json_pack("{s:s,s:s}", "code", f->code[0] ? f->code : "internal", "message", f->msg);

	if (err != NULL && f->field[0])
		json_object_set_new(err, "field", json_string(f->field));
	if (err != NULL && f->allowed[0]) {
		json_t *arr = json_array();
		const char *p = f->allowed;
		while (arr != NULL && *p) {
			size_t n = strcspn(p, ",");
			json_array_append_new(arr, json_stringn(p, n));
			p += n;
			while (*p == ',' || *p == ' ')
				p++;
		}
		json_object_set_new(err, "allowed_transitions", arr);
	} else if (err != NULL && strcmp(f->code, "invalid_transition") == 0)
		json_object_set_new(err, "allowed_transitions", json_array());
	http_resp_json(rs, f->status ? f->status : 500, json_pack("{s:o}", "error", err));
}

static void
fail(struct http_resp *rs, int status, const char *code, const char *field, const char *msg)
{
	struct clm_fail f;

	clm_fail_set(&f, status, code, field, "%s", msg);
	error_out(rs, &f);
}

static void
etag(struct http_resp *rs, const json_t *rec)
{
	char tag[32];

	snprintf(tag, sizeof(tag), "\"%lld\"", cs_json_get_int(rec, "version", 0));
	http_resp_header(rs, "ETag", tag);
}

/* Answers one record (200, or 201 with Location) or the failure. Takes ownership of rec. */
static void
record_out(struct http_resp *rs, cs_err rc, json_t *rec, const struct clm_fail *f, int status, const char *base)
{
	if (rc != CS_OK) {
		json_decref(rec);
		error_out(rs, f);
		return;
	}
	etag(rs, rec);
	if (status == 201 && base != NULL) {
		char loc[512];
		snprintf(loc, sizeof(loc), "%s/%s", base, cs_json_get_str(rec, "id"));
		http_resp_header(rs, "Location", loc);
	}
	http_resp_json(rs, status, rec);
}

static void
json_out(struct http_resp *rs, cs_err rc, json_t *v, const struct clm_fail *f)
{
	if (rc != CS_OK) {
		json_decref(v);
		error_out(rs, f);
	} else
		http_resp_json(rs, 200, v);
}

/* Parses the body as a JSON object; answers the error itself when it is not one. */
static json_t *
body(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	json_t *v;

	if (clm_body_parse(rq->body, rq->body_len, api->max_body, &v, &f) != CS_OK) {
		error_out(rs, &f);
		return NULL;
	}
	return v;
}

/* If-Match: "N", W/"N", N or *. Returns false (and answers 400) when malformed. */
static bool
if_match(struct http_req *rq, struct http_resp *rs, long long *v)
{
	const char *h = http_req_header(rq, "If-Match");
	char *end;

	*v = -1;
	if (h == NULL || strcmp(h, "*") == 0)
		return true;
	if (strncmp(h, "W/", 2) == 0)
		h += 2;
	if (*h == '"')
		h++;
	errno = 0;
	*v = strtoll(h, &end, 10);
	if (errno || end == h || *v < 1 || (*end == '"' ? end[1] != '\0' : *end != '\0')) {
		fail(rs, 400, "invalid_header", "If-Match", "If-Match must be an ETag of this API such as \"3\"");
		return false;
	}
	return true;
}

static bool
qint(struct http_req *rq, struct http_resp *rs, const char *name, long long lo, long long hi, long long *out)
{
	const char *s = http_req_query(rq, name);
	char *end;
	long long v;
	char msg[128];

	if (s == NULL)
		return true;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		snprintf(msg, sizeof(msg), "%s must be an integer from %lld to %lld", name, lo, hi);
		fail(rs, 400, "invalid_query", name, msg);
		return false;
	}
	*out = v;
	return true;
}

static const char *
q(struct http_req *rq, const char *name)
{
	const char *v = http_req_query(rq, name);

	return v != NULL && strlen(v) <= QUERY_VALUE_MAX ? v : NULL;
}

/* ---- handlers ---- */

static void
h_health(struct http_req *rq, struct http_resp *rs, void *ud)
{
	http_resp_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}

static void
h_openapi(struct http_req *rq, struct http_resp *rs, void *ud)
{
	http_resp_text(rs, 200, "application/json;charset=UTF-8", clm_openapi_json, clm_openapi_json_len);
}

static void
create(struct http_req *rq, struct http_resp *rs, void *ud, enum clm_kind k, const char *parent, const char *base)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	json_t *in = body(rq, rs, ud), *out = NULL;
	cs_err rc;

	if (in == NULL)
		return;
	rc = clm_create(api->clm, k, parent, in, who.actor, &out, &f);
	json_decref(in);
	record_out(rs, rc, out, &f, 201, base);
}

static void
patch(struct http_req *rq, struct http_resp *rs, void *ud, enum clm_kind k, const char *parent, const char *id)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	json_t *in, *out = NULL;
	long long im;
	cs_err rc;

	if (!if_match(rq, rs, &im) || (in = body(rq, rs, ud)) == NULL)
		return;
	rc = clm_update(api->clm, k, parent, id, in, im, who.actor, &out, &f);
	json_decref(in);
	record_out(rs, rc, out, &f, 200, NULL);
}

static void
getone(struct http_req *rq, struct http_resp *rs, void *ud, enum clm_kind k, const char *parent, const char *id)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	json_t *out = NULL;
	cs_err rc = clm_get(api->clm, k, parent, id, &out, &f);

	record_out(rs, rc, out, &f, 200, NULL);
}

static void
list(struct http_req *rq, struct http_resp *rs, void *ud, enum clm_kind k, const char *parent)
{
	struct clm_api *api = ud;
	struct clm_list_q lq;
	struct clm_fail f;
	json_t *out = NULL;
	long long limit = CLM_LIST_DEFAULT;
	const char *sort = q(rq, "sort");
	cs_err rc;

	memset(&lq, 0, sizeof(lq));
	if (!qint(rq, rs, "limit", 1, CLM_LIST_MAX, &limit))
		return;
	lq.kind = k;
	lq.parent_id = parent;
	lq.limit = (int)limit;
	lq.status = q(rq, "status");
	lq.counterparty_id = q(rq, "counterparty");
	if (lq.counterparty_id == NULL)
		lq.counterparty_id = q(rq, "counterparty_id");
	lq.type = q(rq, "type");
	lq.owner = q(rq, "owner");
	lq.expiring_before = q(rq, "expiring_before");
	lq.updated_since = q(rq, "updated_since");
	lq.cursor = q(rq, "cursor");
	if (sort != NULL && sort[0] == '-') {
		lq.desc = true;
		sort++;
	}
	lq.sort = sort;
	rc = clm_list(api->clm, &lq, &out, &f);
	json_out(rs, rc, out, &f);
}

static void
history(struct http_req *rq, struct http_resp *rs, void *ud, enum clm_kind k, const char *parent, const char *id)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	json_t *out = NULL;
	cs_err rc = CS_OK;
	bool gone = false;

	if (parent != NULL) {
		/* the record must belong to the contract named in the path */
		json_t *cur = NULL;
		rc = clm_get(api->clm, k, parent, id, &cur, &f);
		json_decref(cur);
		gone = rc != CS_OK && f.status == 404;
	}
	if (rc == CS_OK || gone)
		rc = clm_history(api->clm, k, id, &out, &f);
	if (rc == CS_OK && gone) {
		/* a deleted obligation (or no such record): its history says which contract it
		 * belonged to */
		const json_t *first = json_object_get(json_array_get(json_object_get(out, "data"), 0), "record");
		const char *ct = json_string_value(json_object_get(first, "contract_id"));
		if (ct == NULL || strcmp(ct, parent) != 0) {
			json_decref(out);
			out = NULL;
			rc = clm_fail_set(&f, 404, "not_found", NULL, "no such %s on this contract", clm_kind_name(k));
		}
	}
	json_out(rs, rc, out, &f);
}

static void
h_cp_create(struct http_req *rq, struct http_resp *rs, void *ud)
{
	create(rq, rs, ud, CLM_COUNTERPARTY, NULL, "/api/v1/counterparties");
}

static void
h_cp_list(struct http_req *rq, struct http_resp *rs, void *ud)
{
	list(rq, rs, ud, CLM_COUNTERPARTY, NULL);
}

static void
h_cp_get(struct http_req *rq, struct http_resp *rs, void *ud)
{
	getone(rq, rs, ud, CLM_COUNTERPARTY, NULL, rq->params[0]);
}

static void
h_cp_patch(struct http_req *rq, struct http_resp *rs, void *ud)
{
	patch(rq, rs, ud, CLM_COUNTERPARTY, NULL, rq->params[0]);
}

static void
h_cp_history(struct http_req *rq, struct http_resp *rs, void *ud)
{
	history(rq, rs, ud, CLM_COUNTERPARTY, NULL, rq->params[0]);
}

static void
h_cp_delete(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	long long im;

	if (!if_match(rq, rs, &im))
		return;
	if (clm_delete(api->clm, CLM_COUNTERPARTY, NULL, rq->params[0], im, who.actor, &f) != CS_OK)
		error_out(rs, &f);
	else
		http_resp_text(rs, 204, "text/plain", "", 0);
}

static void
h_ct_create(struct http_req *rq, struct http_resp *rs, void *ud)
{
	create(rq, rs, ud, CLM_CONTRACT, NULL, "/api/v1/contracts");
}

static void
h_ct_list(struct http_req *rq, struct http_resp *rs, void *ud)
{
	list(rq, rs, ud, CLM_CONTRACT, NULL);
}

static void
h_ct_get(struct http_req *rq, struct http_resp *rs, void *ud)
{
	getone(rq, rs, ud, CLM_CONTRACT, NULL, rq->params[0]);
}

static void
h_ct_patch(struct http_req *rq, struct http_resp *rs, void *ud)
{
	patch(rq, rs, ud, CLM_CONTRACT, NULL, rq->params[0]);
}

static void
h_ct_history(struct http_req *rq, struct http_resp *rs, void *ud)
{
	history(rq, rs, ud, CLM_CONTRACT, NULL, rq->params[0]);
}

static void
h_ct_transition(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	json_t *in, *out = NULL;
	long long im;
	cs_err rc;

	if (!if_match(rq, rs, &im) || (in = body(rq, rs, ud)) == NULL)
		return;
	rc = clm_transition(api->clm, rq->params[0], in, im, who.actor, &out, &f);
	json_decref(in);
	record_out(rs, rc, out, &f, 200, NULL);
}

static void
h_ct_renew(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	json_t *in = NULL, *out = NULL;
	long long im;
	cs_err rc;

	if (!if_match(rq, rs, &im))
		return;
	if (rq->body_len > 0 && (in = body(rq, rs, ud)) == NULL)
		return;
	rc = clm_renew(api->clm, rq->params[0], in, im, who.actor, &out, &f);
	json_decref(in);
	record_out(rs, rc, out, &f, 201, "/api/v1/contracts");
}

/* The child kind named by the path segment, or -1 (and a 404) when it names none. */
static int
child_kind(struct http_req *rq, struct http_resp *rs, const char *seg)
{
	int k = clm_kind_parse_plural(seg);

	if (k < CLM_AMENDMENT) {
		fail(rs, 404, "not_found", NULL, "no such resource");
		return -1;
	}
	return k;
}

static bool
flag(const char *s, bool *out)
{
	if (s == NULL)
		return true;
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else
		return false;
	return true;
}

/* Upload of document content: the raw body, its Content-Type, file_name from the query or
 * X-File-Name, executed from the query. doc_id NULL makes a new document. */
static void
upload(struct http_req *rq, struct http_resp *rs, void *ud, const char *doc_id)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	json_t *meta, *out = NULL;
	const char *ct = http_req_header(rq, "Content-Type"), *name = q(rq, "file_name");
	bool executed = false;
	long long im;
	char media[128];
	cs_err rc;

	if (!if_match(rq, rs, &im))
		return;
	if (rq->body_len > api->max_document) {
		fail(rs, 413, "body_too_large", NULL, "the document is over the configured maximum");
		return;
	}
	if (name == NULL)
		name = http_req_header(rq, "X-File-Name");
	if (!flag(q(rq, "executed"), &executed)) {
		fail(rs, 400, "invalid_query", "executed", "executed must be true or false");
		return;
	}
	if ((meta = json_object()) == NULL) {
		fail(rs, 500, "internal", NULL, "out of memory");
		return;
	}
	if (name != NULL)
		json_object_set_new(meta, "file_name", json_string(name));
	if (name != NULL && json_object_get(meta, "file_name") == NULL) {
		json_decref(meta);
		fail(rs, 422, "invalid_value", "file_name", "file_name must be UTF-8");
		return;
	}
	if (ct != NULL) {
		size_t n = strcspn(ct, "; \t");
		if (n >= sizeof(media))
			n = sizeof(media) - 1;
		memcpy(media, ct, n);
		media[n] = '\0';
		json_object_set_new(meta, "media_type", json_string(media));
	}
	if (q(rq, "executed") != NULL)
		json_object_set_new(meta, "executed", json_boolean(executed));
	rc = clm_document_put(api->clm, rq->params[0], doc_id, rq->body, rq->body_len, meta, im, who.actor, &out, &f);
	json_decref(meta);
	if (doc_id == NULL) {
		char base[160];
		snprintf(base, sizeof(base), "/api/v1/contracts/%s/documents", rq->params[0]);
		record_out(rs, rc, out, &f, 201, base);
	} else
		record_out(rs, rc, out, &f, 200, NULL);
}

static void
h_child_create(struct http_req *rq, struct http_resp *rs, void *ud)
{
	int k = child_kind(rq, rs, rq->params[1]);
	char base[160];

	if (k < 0)
		return;
	if (k == CLM_DOCUMENT) {
		upload(rq, rs, ud, NULL);
		return;
	}
	snprintf(base, sizeof(base), "/api/v1/contracts/%s/%s", rq->params[0], rq->params[1]);
	create(rq, rs, ud, (enum clm_kind)k, rq->params[0], base);
}

static void
h_child_list(struct http_req *rq, struct http_resp *rs, void *ud)
{
	int k = child_kind(rq, rs, rq->params[1]);

	if (k >= 0)
		list(rq, rs, ud, (enum clm_kind)k, rq->params[0]);
}

static void
h_child_get(struct http_req *rq, struct http_resp *rs, void *ud)
{
	int k = child_kind(rq, rs, rq->params[1]);

	if (k >= 0)
		getone(rq, rs, ud, (enum clm_kind)k, rq->params[0], rq->params[2]);
}

static void
h_child_patch(struct http_req *rq, struct http_resp *rs, void *ud)
{
	int k = child_kind(rq, rs, rq->params[1]);

	if (k < 0)
		return;
	if (k == CLM_AMENDMENT || k == CLM_SIGNATURE) {
		fail(rs, 405, "method_not_allowed", NULL, "amendments and signature events are recorded once");
		return;
	}
	patch(rq, rs, ud, (enum clm_kind)k, rq->params[0], rq->params[2]);
}

static void
h_child_delete(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	long long im;
	int k = child_kind(rq, rs, rq->params[1]);

	if (k < 0)
		return;
	if (k != CLM_OBLIGATION) {
		fail(rs, 405, "method_not_allowed", NULL, "of a contract's records only obligations are deleted");
		return;
	}
	if (!if_match(rq, rs, &im))
		return;
	if (clm_delete(api->clm, (enum clm_kind)k, rq->params[0], rq->params[2], im, who.actor, &f) != CS_OK)
		error_out(rs, &f);
	else
		http_resp_text(rs, 204, "text/plain", "", 0);
}

static void
h_child_history(struct http_req *rq, struct http_resp *rs, void *ud)
{
	int k = child_kind(rq, rs, rq->params[1]);

	if (k >= 0)
		history(rq, rs, ud, (enum clm_kind)k, rq->params[0], rq->params[2]);
}

static void
h_doc_content(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	json_t *meta = NULL;
	void *data = NULL;
	size_t len = 0;
	long long version = 0;
	char disp[400], tag[32];
	const char *mt, *fn;

	if (!qint(rq, rs, "version", 1, 1LL << 53, &version))
		return;
	if (clm_document_get(api->clm, rq->params[0], rq->params[1], version, &data, &len, &meta, &f) != CS_OK) {
		error_out(rs, &f);
		return;
	}
	mt = cs_json_get_str(meta, "media_type");
	fn = cs_json_get_str(meta, "file_name");
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", fn ? fn : "document");
	snprintf(tag, sizeof(tag), "\"%lld\"", cs_json_get_int(meta, "version", 0));
	http_resp_header(rs, "Content-Disposition", disp);
	http_resp_header(rs, "ETag", tag);
	if (cs_json_get_str(meta, "sha256"))
		http_resp_header(rs, "X-Content-SHA256", cs_json_get_str(meta, "sha256"));
	http_resp_text(rs, 200, mt ? mt : "application/octet-stream", data, len);
	free(data);
	json_decref(meta);
}

static void
h_doc_put(struct http_req *rq, struct http_resp *rs, void *ud)
{
	upload(rq, rs, ud, rq->params[1]);
}

static void
h_changes(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct clm_api *api = ud;
	struct clm_fail f;
	long long after = 0, limit = 1000, wait = 0;
	cs_err rc;

	if (!qint(rq, rs, "after", 0, 1LL << 62, &after) || !qint(rq, rs, "limit", 1, CLM_CHANGES_MAX, &limit) ||
	    !qint(rq, rs, "wait", 0, CLM_WAIT_MAX_MS / 1000, &wait))
		return;
	/* The page is written straight into the response body, which the server hands to
	 * libmicrohttpd as it is (no jansson tree, no second copy): the feed is the hottest read. */
	rs->status = 200;
	rc = clm_changes_json(api->clm, after, (int)limit, (int)wait * 1000, &rs->body, &f);
	if (rc != CS_OK) {
		error_out(rs, &f);
		return;
	}
	snprintf(rs->content_type, sizeof(rs->content_type), "application/json;charset=UTF-8");
}

static void
h_sched_run(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct clm_api *api = ud;
	struct cs_error e = { 0 };
	int done = 0;

	if (clm_sched_run(api->clm, -1, &done, &e) != CS_OK) {
		log_warn("clm.sched", "requested pass failed: %s", e.msg);
		fail(rs, 500, "internal", NULL, "the scheduled pass failed");
		return;
	}
	http_resp_json(rs, 200, json_pack("{s:i}", "changes", done));
}

static void
h_method(struct http_req *rq, struct http_resp *rs, void *ud)
{
	fail(rs, 405, "method_not_allowed", NULL, "this resource does not support that method");
}

void
clm_api_not_found(struct http_req *rq, struct http_resp *rs, void *ud)
{
	fail(rs, 404, "not_found", NULL, "no such resource");
}

#define V1 "/api/v1"
static const struct http_route routes[] = {
	{ "GET", "/healthz", h_health },
	{ "GET", V1 "/openapi.json", h_openapi },
	{ "POST", V1 "/counterparties", h_cp_create },
	{ "GET", V1 "/counterparties", h_cp_list },
	{ "GET", V1 "/counterparties/:id", h_cp_get },
	{ "PATCH", V1 "/counterparties/:id", h_cp_patch },
	{ "DELETE", V1 "/counterparties/:id", h_cp_delete },
	{ "GET", V1 "/counterparties/:id/history", h_cp_history },
	{ "POST", V1 "/contracts", h_ct_create },
	{ "GET", V1 "/contracts", h_ct_list },
	{ "GET", V1 "/contracts/:id", h_ct_get },
	{ "PATCH", V1 "/contracts/:id", h_ct_patch },
	{ "GET", V1 "/contracts/:id/history", h_ct_history },
	{ "POST", V1 "/contracts/:id/transitions", h_ct_transition },
	{ "POST", V1 "/contracts/:id/renew", h_ct_renew },
	{ "GET", V1 "/contracts/:id/documents/:doc/content", h_doc_content },
	{ "PUT", V1 "/contracts/:id/documents/:doc/content", h_doc_put },
	{ "POST", V1 "/contracts/:id/:kind", h_child_create },
	{ "GET", V1 "/contracts/:id/:kind", h_child_list },
	{ "GET", V1 "/contracts/:id/:kind/:cid", h_child_get },
	{ "PATCH", V1 "/contracts/:id/:kind/:cid", h_child_patch },
	{ "DELETE", V1 "/contracts/:id/:kind/:cid", h_child_delete },
	{ "GET", V1 "/contracts/:id/:kind/:cid/history", h_child_history },
	{ "GET", V1 "/changes", h_changes },
	{ "POST", V1 "/scheduler/run", h_sched_run },
	/* known paths with another method */
	{ NULL, "/healthz", h_method },
	{ NULL, V1 "/openapi.json", h_method },
	{ NULL, V1 "/counterparties", h_method },
	{ NULL, V1 "/counterparties/:id", h_method },
	{ NULL, V1 "/counterparties/:id/history", h_method },
	{ NULL, V1 "/contracts", h_method },
	{ NULL, V1 "/contracts/:id", h_method },
	{ NULL, V1 "/contracts/:id/history", h_method },
	{ NULL, V1 "/contracts/:id/transitions", h_method },
	{ NULL, V1 "/contracts/:id/renew", h_method },
	{ NULL, V1 "/contracts/:id/documents/:doc/content", h_method },
	{ NULL, V1 "/contracts/:id/:kind", h_method },
	{ NULL, V1 "/contracts/:id/:kind/:cid", h_method },
	{ NULL, V1 "/changes", h_method },
	{ NULL, V1 "/scheduler/run", h_method },
};

const struct http_route *
clm_api_routes(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

static bool
user_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._@-+", c)))
			return false;
	}
	return true;
}

static bool
is_upload(const struct http_req *rq)
{
	size_t n = strlen(rq->path);

	if (strncmp(rq->path, V1 "/contracts/", sizeof(V1 "/contracts/") - 1) != 0)
		return false;
	if (strcmp(rq->method, "POST") == 0)
		return n > 10 && (strcmp(rq->path + n - 10, "/documents") == 0 || strcmp(rq->path + n - 11, "/documents/") == 0);
	return strcmp(rq->method, "PUT") == 0 && n > 8 && strcmp(rq->path + n - 8, "/content") == 0;
}

/* When t holds rq's client back: answers 429 with Retry-After and returns true. */
static bool
throttled(struct http_throttle *t, struct http_req *rq, struct http_resp *rs)
{
	unsigned wait = http_throttle_check(t, rq);
	char s[24];

	if (wait == 0)
		return false;
	snprintf(s, sizeof(s), "%u", wait);
	http_resp_header(rs, "Retry-After", s);
	fail(rs, 429, "too_many_requests", NULL, "too many requests with an invalid token came from this address; "
	     "wait for the time Retry-After gives");
	return true;
}

void
clm_api_auth_failed(struct http_throttle *t, struct http_req *rq, const char *listener)
{
	char peer[64];

	if (http_throttle_fail(t, rq)) {
		http_req_peer(rq, peer, sizeof(peer), NULL);
		log_warn("auth.throttle", "%s listener: too many invalid tokens from %s; its requests are refused "
		         "(429) until its window ends", listener, peer);
	}
}

bool
clm_api_pre(struct http_req *rq, struct http_resp *rs, void *ud)
{
	struct clm_api *api = ud;
	const char *h, *user;
	char name[CLM_TOKEN_NAME_MAX];
	enum clm_role need;
	bool read = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;

	who.role = CLM_ROLE_NONE;
	who.actor[0] = '\0';
	if (strcmp(rq->path, "/healthz") == 0 || strcmp(rq->path, "/healthz/") == 0)
		return false;
	if (throttled(api->throttle, rq, rs))
		return true;
	h = http_req_header(rq, "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		http_resp_header(rs, "WWW-Authenticate", "Bearer realm=\"clmsync\"");
		fail(rs, 401, "unauthenticated", NULL, "an API token is required: Authorization: Bearer <token>");
		return true;
	}
	h += 7;
	while (*h == ' ')
		h++;
	who.role = clm_auth_check(api->auth, h, strlen(h), name);
	if (who.role == CLM_ROLE_NONE) {
		clm_api_auth_failed(api->throttle, rq, "repository");
		http_resp_header(rs, "WWW-Authenticate", "Bearer realm=\"clmsync\", error=\"invalid_token\"");
		fail(rs, 401, "unauthenticated", NULL, "the API token is not valid");
		return true;
	}
	need = read ? CLM_ROLE_READ : CLM_ROLE_WRITE;
	if (strcmp(rq->path, V1 "/scheduler/run") == 0)
		need = CLM_ROLE_ADMIN;
	if (who.role < need) {
		fail(rs, 403, "forbidden", NULL, need == CLM_ROLE_ADMIN ? "this needs a token with the admin role" :
		    "this needs a token with the write role");
		return true;
	}
	user = http_req_header(rq, "X-Clm-User");
	if (user != NULL) {
		if (!user_ok(user)) {
			fail(rs, 400, "invalid_header", "X-Clm-User", "X-Clm-User is 1 to 64 letters, digits or ._@-+");
			return true;
		}
		snprintf(who.actor, sizeof(who.actor), "user:%s", user);
	} else
		snprintf(who.actor, sizeof(who.actor), "api:%s", name);
	if (rq->body_too_big || rq->body_len > (is_upload(rq) ? api->max_document : api->max_body)) {
		fail(rs, 413, "body_too_large", NULL, "the request body is over the configured maximum");
		return true;
	}
	return false;
}

/* ops.c - the operator's side of the engine: the dead-letter queue, manual conflicts and reconcile
 * requests, worked directly on the store (a running engine takes requests from its inbox). */
#include "sync/sync_int.h"
#include "sync/audit.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define DLQ_NS "dlq"
#define DLQ_KEY_DIGITS 20
#define CONFLICT_NS "conflict"
#define RECONCILE_NS "reconcile"
#define REQUEST_BYTES 16          /* random bytes in a reconcile request id (32 hex digits) */

/* The dlq key of id into key: id is 1..20 decimal digits, written back zero-padded, so that
 * "17" and "00000000000000000017" name the same entry. */
static cs_err
dlq_key(const char *id, char key[DLQ_KEY_DIGITS + 1], struct cs_error *e)
{
	size_t n = id != NULL ? strlen(id) : 0;

	if (n == 0 || n > DLQ_KEY_DIGITS || strspn(id, "0123456789") != n)
		return cs_error_set(e, CS_EINVAL, "a dead-letter id is 1 to %d digits", DLQ_KEY_DIGITS);
	memset(key, '0', DLQ_KEY_DIGITS - n);
	memcpy(key + DLQ_KEY_DIGITS - n, id, n + 1);
	return CS_OK;
}

/* A string member of doc, or NULL when absent, not a string or empty. */
static const char *
str_of(const json_t *doc, const char *k)
{
	const char *v = json_string_value(json_object_get(doc, k));

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Whether ns is a queue the engine puts items on: a replay writes there, so an entry edited to
 * name another namespace (the audit chain, a link table) must not reach it. */
static bool
queue_ok(const char *ns)
{
	return ns != NULL && (strncmp(ns, "outbox:", 7) == 0 || strncmp(ns, "inbox:", 6) == 0) &&
	    strlen(ns) < STORE_KV_NS_MAX;
}

/* Our own rows, read back: checked before use (OpenSMTPD's rule for its queue files). */
static cs_err
dlq_check(const char *key, const json_t *doc, struct cs_error *e)
{
	if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "item")) ||
	    !queue_ok(json_string_value(json_object_get(doc, "queue"))))
		return cs_error_set(e, CS_EIO, "dead-letter entry %s is damaged", key != NULL ? key : "?");
	return CS_OK;
}

/* {"id": key, ...doc}: a new object, NULL when out of memory. An "id" inside doc does not
 * replace the key: the key is what the other calls take. */
static json_t *
with_id(const char *key, const json_t *doc)
{
	json_t *o = json_pack("{s:s}", "id", key);

	if (o != NULL && json_object_update_missing(o, (json_t *)doc) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The queue namespace "<prefix>:<name>" into ns; CS_EINVAL when name is empty or too long (the
 * store checks the characters). */
static cs_err
ns_of(char ns[STORE_KV_NS_MAX], const char *prefix, const char *name, struct cs_error *e)
{
	int n;

	if (name == NULL || name[0] == '\0')
		return cs_error_set(e, CS_EINVAL, "no org name");
	n = snprintf(ns, STORE_KV_NS_MAX, "%s:%s", prefix, name);
	if (n < 0 || n >= STORE_KV_NS_MAX)
		return cs_error_set(e, CS_EINVAL, "the org name is too long");
	return CS_OK;
}

/* Ends the transaction the caller began on s: commits when rc is CS_OK, else (or when the commit
 * fails) rolls back. Returns the outcome. */
static cs_err
txn_end(struct store *s, cs_err rc, struct cs_error *e)
{
	if (rc == CS_OK)
		rc = store_commit(s, e);
	if (rc != CS_OK)
		store_rollback(s);
	return rc;
}

cs_err
sync_dlq_list(struct store *s, const char *after, int limit, json_t **out, struct cs_error *e)
{
	char from[DLQ_KEY_DIGITS + 1];
	json_t *page = NULL, *arr = NULL, *it;
	size_t i;
	cs_err rc;

	*out = NULL;
	if (limit < 1 || limit > STORE_LIST_MAX)
		return cs_error_set(e, CS_EINVAL, "limit is 1..%d", STORE_LIST_MAX);
	if (after != NULL && after[0] != '\0') {
		if ((rc = dlq_key(after, from, e)) != CS_OK)
			return rc;
		after = from;
	}
	if ((rc = store_kv_scan(s, DLQ_NS, after, limit, &page, e)) != CS_OK)
		return rc;
	if ((arr = json_array()) == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(page, i, it) {
		const char *key = json_string_value(json_object_get(it, "key"));
		json_t *doc = json_object_get(it, "doc");
		if ((rc = dlq_check(key, doc, e)) != CS_OK)
			goto out;
		if (json_array_append_new(arr, with_id(key, doc)) != 0) {
			rc = cs_error_set(e, CS_ENOMEM, "out of memory");
			goto out;
		}
	}
	*out = arr;
	arr = NULL;
out:
	json_decref(arr);
	json_decref(page);
	return rc;
}

cs_err
sync_dlq_get(struct store *s, const char *id, json_t **out, struct cs_error *e)
{
	char key[DLQ_KEY_DIGITS + 1];
	json_t *doc = NULL;
	cs_err rc;

	*out = NULL;
	if ((rc = dlq_key(id, key, e)) != CS_OK)
		return rc;
	if ((rc = store_kv_get(s, DLQ_NS, key, &doc, e)) != CS_OK)
		return rc == CS_ENOTFOUND ? cs_error_set(e, rc, "no dead-letter entry %s", key) : rc;
	if ((rc = dlq_check(key, doc, e)) == CS_OK && (*out = with_id(key, doc)) == NULL)
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
	json_decref(doc);
	return rc;
}

/* Removes entry key (doc is its content, possibly damaged) with an audit row, in the open
 * transaction. */
static cs_err
dlq_remove(struct store *s, const char *key, const json_t *doc, const char *decision, const char *detail,
           struct cs_error *e)
{
	struct sync_audit_row r = {
		.org = str_of(doc, "org"), .mapping = str_of(doc, "mapping"), .clm_id = str_of(doc, "clm"),
		.sf_id = str_of(doc, "sf"), .side = str_of(doc, "direction"), .decision = decision,
		.event = "operator", .detail = detail,
	};
	cs_err rc;

	if ((rc = store_kv_del(s, DLQ_NS, key, NULL, e)) != CS_OK ||
	    (rc = sync_dlq_count_add(s, str_of(doc, "mapping"), -1, e)) != CS_OK)
		return rc;
	return sync_audit_append(s, &r, NULL, e);
}

/* Counts every dead-letter entry into the counters, once per store: the first reader of a store
 * written before the counters existed. Under the write lock, so that no entry is added or removed
 * meanwhile; another process that counted first leaves nothing to do. */
static cs_err
dlq_recount(struct store *s, struct cs_error *e)
{
	char after[STORE_KV_KEY_MAX] = "";
	json_t *d = NULL, *page = NULL, *by = json_object(), *it, *v;
	const char *k;
	size_t i, got;
	long long seen = 0;
	cs_err rc;

	if (by == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	if ((rc = store_begin(s, e)) != CS_OK) {
		json_decref(by);
		return rc;
	}
	rc = store_kv_get(s, SYNC_DLQ_COUNT_NS, SYNC_DLQ_COUNT_READY, &d, e);
	json_decref(d);
	if (rc == CS_OK) {
		/* another connection counted while this one waited for the lock */
		store_rollback(s);
		json_decref(by);
		return CS_OK;
	}
	if (rc != CS_ENOTFOUND)
		goto out;
	/* counters some writer kept before this count are replaced by it */
	do {
		if ((rc = store_kv_scan(s, SYNC_DLQ_COUNT_NS, NULL, STORE_LIST_MAX, &page, e)) != CS_OK)
			goto out;
		got = json_array_size(page);
		json_array_foreach(page, i, it)
			if ((rc = store_kv_del(s, SYNC_DLQ_COUNT_NS, json_string_value(json_object_get(it, "key")), NULL, e)) != CS_OK)
				goto out;
		json_decref(page);
		page = NULL;
	} while (got > 0);
	do {
		if ((rc = store_kv_scan(s, DLQ_NS, after, STORE_LIST_MAX, &page, e)) != CS_OK)
			goto out;
		got = json_array_size(page);
		json_array_foreach(page, i, it) {
			const char *key = sync_dlq_count_key(str_of(json_object_get(it, "doc"), "mapping"));
			if (json_object_set_new(by, key, json_integer(json_integer_value(json_object_get(by, key)) + 1)) != 0) {
				rc = cs_error_set(e, CS_ENOMEM, "out of memory");
				goto out;
			}
			snprintf(after, sizeof(after), "%s", json_string_value(json_object_get(it, "key")));
		}
		seen += (long long)got;
		json_decref(page);
		page = NULL;
	} while (got == STORE_LIST_MAX);
	json_object_foreach(by, k, v)
		if ((rc = store_kv_put(s, SYNC_DLQ_COUNT_NS, k, v, e)) != CS_OK)
			goto out;
	if ((rc = store_kv_put(s, SYNC_DLQ_COUNT_NS, SYNC_DLQ_COUNT_READY, json_true(), e)) != CS_OK)
		goto out;
	if ((rc = store_commit(s, e)) == CS_OK && seen > 0)
		log_info("sync.dlq", "%lld dead-letter entries counted per mapping (once: kept up to date from now on)", seen);
	json_decref(by);
	return rc;
out:
	store_rollback(s);
	json_decref(page);
	json_decref(by);
	return rc;
}

cs_err
sync_dlq_counts(struct store *s, json_t **out, long long *total, struct cs_error *e)
{
	char after[STORE_KV_KEY_MAX] = "";
	json_t *d = NULL, *page = NULL, *by, *it;
	size_t i, got;
	cs_err rc;

	*out = NULL;
	*total = 0;
	if ((rc = store_kv_get(s, SYNC_DLQ_COUNT_NS, SYNC_DLQ_COUNT_READY, &d, e)) == CS_ENOTFOUND)
		rc = dlq_recount(s, e);
	json_decref(d);
	if (rc != CS_OK)
		return rc;
	if ((by = json_object()) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	/* one row per mapping with entries: a page or two, however long the queue */
	do {
		if ((rc = store_kv_scan(s, SYNC_DLQ_COUNT_NS, after, STORE_LIST_MAX, &page, e)) != CS_OK) {
			json_decref(by);
			return rc;
		}
		got = json_array_size(page);
		json_array_foreach(page, i, it) {
			const char *key = json_string_value(json_object_get(it, "key"));
			json_int_t n = json_integer_value(json_object_get(it, "doc"));
			snprintf(after, sizeof(after), "%s", key);
			if (strcmp(key, SYNC_DLQ_COUNT_READY) == 0 || n <= 0)
				continue;
			json_object_set_new(by, key, json_integer(n));
			*total += n;
		}
		json_decref(page);
	} while (got == STORE_LIST_MAX);
	*out = by;
	return CS_OK;
}

cs_err
sync_dlq_replay(struct store *s, const char *id, struct cs_error *e)
{
	char key[DLQ_KEY_DIGITS + 1], detail[STORE_KV_NS_MAX + 32];
	json_t *doc = NULL, *item = NULL;
	const char *queue;
	cs_err rc;

	if ((rc = dlq_key(id, key, e)) != CS_OK)
		return rc;
	/* read under the write lock store_begin takes: two operators replaying the same entry at
	 * once must not put its item back twice */
	if ((rc = store_begin(s, e)) != CS_OK)
		return rc;
	if ((rc = store_kv_get(s, DLQ_NS, key, &doc, e)) != CS_OK) {
		if (rc == CS_ENOTFOUND)
			cs_error_set(e, rc, "no dead-letter entry %s", key);
		goto out;
	}
	if ((rc = dlq_check(key, doc, e)) != CS_OK)
		goto out;
	queue = json_string_value(json_object_get(doc, "queue"));
	if ((item = json_deep_copy(json_object_get(doc, "item"))) == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	/* a fresh start: the applier would otherwise count on from the attempts that failed and wait
	 * for a due time computed on another clock (due_ms is monotonic, of the engine's process) */
	if ((json_object_get(item, "attempts") != NULL && json_object_set_new(item, "attempts", json_integer(0)) != 0) ||
	    (json_object_get(item, "due_ms") != NULL && json_object_set_new(item, "due_ms", json_integer(0)) != 0)) {
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(detail, sizeof(detail), "back onto %s", queue);
	if ((rc = sync_queue_push(s, queue, item, e)) == CS_OK)
		rc = dlq_remove(s, key, doc, "replayed", detail, e);
out:
	rc = txn_end(s, rc, e);
	json_decref(item);
	json_decref(doc);
	return rc;
}

cs_err
sync_dlq_discard(struct store *s, const char *id, const char *reason, struct cs_error *e)
{
	char key[DLQ_KEY_DIGITS + 1];
	json_t *doc = NULL, *t;
	size_t n = reason != NULL ? strlen(reason) : 0;
	cs_err rc;

	if ((rc = dlq_key(id, key, e)) != CS_OK)
		return rc;
	if (n == 0)
		return cs_error_set(e, CS_EINVAL, "a discard needs a reason");
	if (n >= SYNC_REASON_MAX)
		return cs_error_set(e, CS_ETOOBIG, "the reason is %zu bytes; the limit is %d", n, SYNC_REASON_MAX - 1);
	if ((t = json_stringn(reason, n)) == NULL)
		return cs_error_set(e, CS_EUTF8, "the reason is not UTF-8 text");
	json_decref(t);
	if ((rc = store_begin(s, e)) != CS_OK)
		return rc;
	if ((rc = store_kv_get(s, DLQ_NS, key, &doc, e)) != CS_OK) {
		if (rc == CS_ENOTFOUND)
			cs_error_set(e, rc, "no dead-letter entry %s", key);
		goto out;
	}
	/* no dlq_check: a damaged entry can only be discarded, so that must keep working */
	rc = dlq_remove(s, key, json_is_object(doc) ? doc : NULL, "discarded", reason, e);
out:
	rc = txn_end(s, rc, e);
	json_decref(doc);
	return rc;
}

cs_err
sync_conflict_list(struct store *s, json_t **out, struct cs_error *e)
{
	char after[STORE_KV_KEY_MAX] = "";
	json_t *page = NULL, *arr, *it;
	size_t i, got;
	cs_err rc = CS_OK;

	*out = NULL;
	if ((arr = json_array()) == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	do {
		if ((rc = store_kv_scan(s, CONFLICT_NS, after, STORE_LIST_MAX, &page, e)) != CS_OK)
			goto out;
		got = json_array_size(page);
		json_array_foreach(page, i, it) {
			const char *key = json_string_value(json_object_get(it, "key"));
			json_t *doc = json_object_get(it, "doc");
			if (json_array_size(arr) >= SYNC_CONFLICT_LIST_MAX) {
				got = 0;
				break;
			}
			if (!json_is_object(doc)) {
				rc = cs_error_set(e, CS_EIO, "conflict %s is damaged", key != NULL ? key : "?");
				goto out;
			}
			if (json_array_append_new(arr, with_id(key, doc)) != 0) {
				rc = cs_error_set(e, CS_ENOMEM, "out of memory");
				goto out;
			}
			snprintf(after, sizeof(after), "%s", key);
		}
		json_decref(page);
		page = NULL;
	} while (got == STORE_LIST_MAX);
	*out = arr;
	arr = NULL;
out:
	json_decref(page);
	json_decref(arr);
	return rc;
}

cs_err
sync_conflict_count(struct store *s, const char *mapping, long long *n, struct cs_error *e)
{
	char from[STORE_KV_KEY_MAX], to[STORE_KV_KEY_MAX];
	int len;

	*n = 0;
	if (mapping == NULL)
		return store_kv_count(s, CONFLICT_NS, n, e);
	/* its conflicts' keys are "<mapping>/...": from "<mapping>/" up to "<mapping>0" ('/' + 1) */
	len = snprintf(from, sizeof(from), "%s/", mapping);
	if (mapping[0] == '\0' || len < 0 || (size_t)len >= sizeof(from))
		return cs_error_set(e, CS_EINVAL, "a mapping name of 1..%d bytes", STORE_KV_KEY_MAX - 2);
	snprintf(to, sizeof(to), "%s0", mapping);
	return store_kv_count_range(s, CONFLICT_NS, from, to, n, e);
}

/* A kind of row the operator's calls read by id, and how their messages name it. */
struct row_kind {
	const char *ns;
	const char *no_id;      /* the message for an empty id */
	const char *missing;    /* "<missing> <id>" when there is none */
	const char *damaged;    /* "<damaged> <id> is damaged" when it is not an object */
};
static const struct row_kind conflict_row = { CONFLICT_NS, "no conflict id", "no open conflict", "conflict" };
static const struct row_kind result_row = { RECONCILE_NS, "no request id", "no result yet for request",
                                            "the result of request" };

/* The object at (k->ns, id): *doc a new reference, NULL after an error. Errors: CS_EINVAL (empty
 * id), CS_ENOTFOUND, CS_EIO (not an object), the store's; e says which in k's words. */
static cs_err
row_get(struct store *s, const struct row_kind *k, const char *id, json_t **doc, struct cs_error *e)
{
	cs_err rc;

	*doc = NULL;
	if (id == NULL || id[0] == '\0')
		return cs_error_set(e, CS_EINVAL, "%s", k->no_id);
	if ((rc = store_kv_get(s, k->ns, id, doc, e)) != CS_OK)
		return rc == CS_ENOTFOUND ? cs_error_set(e, rc, "%s %s", k->missing, id) : rc;
	if (!json_is_object(*doc)) {
		json_decref(*doc);
		*doc = NULL;
		return cs_error_set(e, CS_EIO, "%s %s is damaged", k->damaged, id);
	}
	return CS_OK;
}

cs_err
sync_conflict_get(struct store *s, const char *id, json_t **out, struct cs_error *e)
{
	json_t *doc = NULL;
	cs_err rc;

	*out = NULL;
	if ((rc = row_get(s, &conflict_row, id, &doc, e)) == CS_OK && (*out = with_id(id, doc)) == NULL)
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
	json_decref(doc);
	return rc;
}

cs_err
sync_conflict_resolve_request(struct store *s, const char *id, const char *choice, const json_t *value,
                              struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX];
	json_t *c = NULL, *req = NULL;
	bool by_value;
	cs_err rc;

	if (choice == NULL ||
	    (strcmp(choice, "clm") != 0 && strcmp(choice, "salesforce") != 0 && strcmp(choice, "value") != 0))
		return cs_error_set(e, CS_EINVAL, "the choice is clm, salesforce or value");
	by_value = strcmp(choice, "value") == 0;
	if (id == NULL || id[0] == '\0')
		return cs_error_set(e, CS_EINVAL, "no conflict id");
	if ((rc = store_begin(s, e)) != CS_OK)
		return rc;
	if ((rc = row_get(s, &conflict_row, id, &c, e)) != CS_OK)
		goto out;
	if (ns_of(ns, "inbox", str_of(c, "org"), NULL) != CS_OK) {
		rc = cs_error_set(e, CS_EIO, "conflict %s is damaged: it names no org", id);
		goto out;
	}
	req = json_pack("{s:s, s:s, s:s, s:O}", "t", "resolve", "conflict", id, "choice", choice, "value",
	                by_value && value != NULL ? (json_t *)value : json_null());
	if (req == NULL) {
		rc = cs_error_set(e, CS_ENOMEM, "out of memory");
		goto out;
	}
	rc = sync_queue_push(s, ns, req, e);
out:
	rc = txn_end(s, rc, e);
	json_decref(req);
	json_decref(c);
	return rc;
}

/* Fills id with 2 * REQUEST_BYTES lowercase hex digits from getrandom(2). */
static cs_err
request_id_new(char id[SYNC_REQUEST_ID_MAX], struct cs_error *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[REQUEST_BYTES];
	size_t got = 0;

	_Static_assert(2 * REQUEST_BYTES < SYNC_REQUEST_ID_MAX, "request id buffer");
	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cs_error_set(e, CS_EIO, "getrandom: %s", strerror(errno));
		got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		id[2 * i] = hex[b[i] >> 4];
		id[2 * i + 1] = hex[b[i] & 15];
	}
	id[2 * sizeof(b)] = '\0';
	return CS_OK;
}

cs_err
sync_reconcile_request(struct store *s, const char *org, const char *mapping, bool repair,
                       char request_id[SYNC_REQUEST_ID_MAX], struct cs_error *e)
{
	char ns[STORE_KV_NS_MAX], id[SYNC_REQUEST_ID_MAX];
	json_t *req = NULL;
	cs_err rc;

	request_id[0] = '\0';
	if ((rc = ns_of(ns, "inbox", org, e)) != CS_OK || (rc = request_id_new(id, e)) != CS_OK)
		return rc;
	req = json_pack("{s:s, s:o, s:b, s:I, s:s, s:s}", "t", "reconcile", "mapping",
	                mapping != NULL && mapping[0] != '\0' ? json_string(mapping) : json_null(), "repair", repair,
	                "since_ms", (json_int_t)0, "request", id, "why", "requested by an operator");
	if (req == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory (or a mapping name that is not UTF-8)");
	if ((rc = store_begin(s, e)) != CS_OK)
		goto out;
	if ((rc = txn_end(s, sync_queue_push(s, ns, req, e), e)) != CS_OK)
		goto out;
	memcpy(request_id, id, sizeof(id));
out:
	json_decref(req);
	return rc;
}

cs_err
sync_reconcile_result(struct store *s, const char *request_id, json_t **out, struct cs_error *e)
{
	json_t *doc = NULL;
	cs_err rc;

	*out = NULL;
	if ((rc = row_get(s, &result_row, request_id, &doc, e)) != CS_OK)
		return rc;
	if (!json_is_integer(json_object_get(doc, "checked")) || !json_is_integer(json_object_get(doc, "drift")) ||
	    !json_is_boolean(json_object_get(doc, "ok"))) {
		json_decref(doc);
		return cs_error_set(e, CS_EIO, "the result of request %s is damaged", request_id);
	}
	*out = doc;
	return CS_OK;
}

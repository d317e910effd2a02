/* store_int.h - shared by the store's own files: the back-end vtable, input checks, cursor codec. */
#ifndef CS_STORE_INT_H
#define CS_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/store.h"

/* A decoded keyset position: the last row's sort value and id. */
enum store_ctype {
	STORE_C_ID = 'x',        /* id order: no value */
	STORE_C_NULL = 'n',      /* the sort field was absent or null */
	STORE_C_INT = 'i',
	STORE_C_REAL = 'r',
	STORE_C_TEXT = 't',
	STORE_C_LONG = 'l',      /* text longer than STORE_CURSOR_TEXT_MAX: text holds a prefix */
};
struct store_cursor {
	enum store_ctype type;
	char id[STORE_ID_MAX];
	long long i;
	double r;
	char text[STORE_CURSOR_TEXT_MAX + 1];
	size_t tlen;
};

/* A list query after store.c has checked it: back ends trust every name in it. */
enum store_col { STORE_COL_DOC, STORE_COL_ID, STORE_COL_PARENT, STORE_COL_CREATED, STORE_COL_UPDATED };
struct store_lfilter {
	enum store_col col;          /* DOC, PARENT, CREATED or UPDATED */
	const char *field;           /* DOC: the key, [a-z0-9_]+ */
	enum store_op op;
	const char *value;           /* DOC, PARENT: text or NULL */
	int64_t ms;                  /* CREATED, UPDATED */
};
struct store_lq {
	const char *kind;
	struct store_lfilter f[STORE_FILTERS_MAX];
	size_t nf;
	enum store_col sort;         /* ID, CREATED, UPDATED or DOC */
	const char *sort_field;      /* DOC: the key */
	bool desc;
	bool has_cursor;
	struct store_cursor cur;     /* checked against sort: ID only 'x', CREATED/UPDATED only 'i' */
	int limit;
};

/* The back-end vtable: store.c validates and encodes, then calls these. Strings are checked,
 * documents are already encoded compact JSON (doc, len), and "in a transaction" rules are the
 * back end's to enforce since only it knows. */
struct store_ops {
	const char *name;
	void (*close)(struct store *s);
	cs_err (*begin)(struct store *s, struct cs_error *e);
	cs_err (*commit)(struct store *s, struct cs_error *e);
	void (*rollback)(struct store *s);
	bool (*in_txn)(struct store *s);
	cs_err (*savepoint)(struct store *s, struct cs_error *e);
	cs_err (*release)(struct store *s, struct cs_error *e);
	cs_err (*rollback_to)(struct store *s, struct cs_error *e);
	bool (*contended)(struct store *s);     /* may be NULL: never */
	cs_err (*get)(struct store *s, const char *kind, const char *id, struct store_rec *out,
	              struct cs_error *e);
	cs_err (*insert)(struct store *s, const struct store_rec *r, const char *doc, size_t len,
	                 struct cs_error *e);
	cs_err (*update)(struct store *s, const struct store_rec *r, const char *doc, size_t len,
	                 struct cs_error *e);
	cs_err (*del)(struct store *s, const char *kind, const char *id, struct cs_error *e);
	cs_err (*history)(struct store *s, const char *kind, const char *id, json_t **out,
	                  struct cs_error *e);
	/* Fills *out and, when another page follows, *next (and *has_next = true). */
	cs_err (*list)(struct store *s, const struct store_lq *q, json_t **out,
	               struct store_cursor *next, bool *has_next, struct cs_error *e);
	cs_err (*index)(struct store *s, const char *kind, const char *field, bool uniq,
	                struct cs_error *e);
	cs_err (*counter_next)(struct store *s, const char *name, long long *out, struct cs_error *e);
	cs_err (*blob_put)(struct store *s, const char *sha, const void *data, size_t len,
	                   struct cs_error *e);
	cs_err (*blob_get)(struct store *s, const char *sha, void **data, size_t *len,
	                   struct cs_error *e);
	cs_err (*change_append)(struct store *s, const struct store_change *c, const char *fields,
	                        size_t flen, long long *seq, struct cs_error *e);
	cs_err (*changes_after)(struct store *s, long long after, int limit, json_t **out,
	                        struct cs_error *e);
	cs_err (*changes_each)(struct store *s, long long after, int limit, store_change_fn fn, void *ud,
	                       size_t *n, struct cs_error *e);
	cs_err (*changes_head)(struct store *s, long long *seq, struct cs_error *e);
	/* Keyed state. ns and key are checked; after is "" (never NULL) for "from the first";
	 * existed is never NULL; doc is compact JSON of any value, len bytes, not NUL-terminated. */
	cs_err (*kv_get)(struct store *s, const char *ns, const char *key, json_t **out, struct cs_error *e);
	cs_err (*kv_put)(struct store *s, const char *ns, const char *key, const char *doc, size_t len,
	                 struct cs_error *e);
	cs_err (*kv_del)(struct store *s, const char *ns, const char *key, bool *existed, struct cs_error *e);
	cs_err (*kv_scan)(struct store *s, const char *ns, const char *after, int limit, json_t **out,
	                  struct cs_error *e);
	cs_err (*kv_count)(struct store *s, const char *ns, long long *n, struct cs_error *e);
	/* from <= key < to; both checked */
	cs_err (*kv_count_range)(struct store *s, const char *ns, const char *from, const char *to, long long *n,
	                         struct cs_error *e);
};

/* Every connection starts with this. */
struct store {
	const struct store_ops *ops;
	uint64_t epoch;               /* store_epoch() */
};

/* The SQLite back end: opens path (a file name, or ":memory:"), configures and migrates it.
 * Returns a new connection in *out. Errors as store_open. */
cs_err store_sqlite_open(const char *path, struct store **out, struct cs_error *e);

/* True when s is 1..max-1 bytes of [a-z0-9_] (kinds, field names). */
bool store_name_ok(const char *s, size_t max);
/* True when s is 1..max-1 bytes of [A-Za-z0-9._:-] (ids, counter names). */
bool store_id_ok(const char *s, size_t max);

/* Counts a statement for store_fault_inject(); true when this one must fail, with the kind of
 * failure to simulate in *kind. Thread-safe. */
bool store_fault_fire(enum store_fault *kind);
/* A STORE_FAULT_DELAY fired: tells the test (store_fault_delay_set) and sleeps. */
void store_fault_delay(void);

/* Writes "2026-11-27T00:19:07.123Z" for ms into a new JSON string (NULL when out of memory). */
json_t *store_json_time(int64_t ms);

/* The cursor codec. tag binds a cursor to (kind, sort, direction); see cursor.c. */
uint32_t store_cursor_tag(const char *kind, const char *sort, bool desc);
/* Encodes c into out (STORE_CURSOR_MAX bytes, NUL-terminated). CS_ETOOBIG cannot happen for a
 * c within its limits; CS_EINVAL for a malformed c. */
cs_err store_cursor_encode(uint32_t tag, const struct store_cursor *c, char *out);
/* Decodes and checks s. CS_EINVAL (e says why) for anything but a cursor made for tag. */
cs_err store_cursor_decode(uint32_t tag, const char *s, struct store_cursor *c, struct cs_error *e);
/* Fills c with text t (tlen bytes): STORE_C_TEXT, or STORE_C_LONG with a prefix that ends on a
 * UTF-8 character boundary when t is too long. */
void store_cursor_set_text(struct store_cursor *c, const char *t, size_t tlen);

#endif

/* cli_int.h - private to src/cli: the repository opened in-process, contract columns, a string map. */
#ifndef CS_CLI_INT_H
#define CS_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "clm/clm.h"
#include "config/config.h"

/* The repository as import and export use it: in the calling process, on the same store file a
 * running server may be using (SQLite's WAL and busy timeout serialise the writers). */
struct cli_repo {
	struct cs_config *cfg;
	struct clm_schema *schema;
	struct clm *clm;
};

/* Loads cfg_path (NULL: the built-in defaults), points the store at DATA/clmsync.db when data is
 * not NULL (as `serve --data` does) and opens the repository. Returns 0, or 1 after printing why
 * on stderr prefixed with "clmsync <cmd>: " (r is then empty). Call cli_repo_close() either way. */
int cli_repo_open(const char *cmd, const char *cfg_path, const char *data, struct cli_repo *r);
/* The configuration's custom attributes as the repository's schema, for serve and the
 * in-process commands alike. Returns a new schema (caller frees it with clm_schema_free()), or
 * NULL with e set. */
struct clm_schema *cli_schema_of(const struct cs_config *cfg, struct cs_error *e);
/* Closes what cli_repo_open opened; safe on an empty or closed r. */
void cli_repo_close(struct cli_repo *r);

/* How a CSV column of a contract is read and written. */
enum cli_col_type {
	CLI_COL_TEXT,          /* a JSON string */
	CLI_COL_INT,           /* a JSON integer */
	CLI_COL_BOOL,          /* true / false */
	CLI_COL_AMOUNT,        /* total_value.amount */
	CLI_COL_CURRENCY,      /* total_value.currency */
	CLI_COL_CP_NAME,       /* the counterparty's legal name (lookup or create on import) */
	CLI_COL_PARENT_NUMBER, /* the parent contract's number (lookup on import) */
	CLI_COL_RO,            /* set by the repository: exported, ignored on import */
	CLI_COL_CUSTOM         /* custom.NAME: a custom attribute, typed by the configuration */
};

struct cli_col {
	const char *name;
	enum cli_col_type type;
};

/* The built-in contract columns in export order (custom attributes follow them); *n gets how
 * many. Static storage. */
const struct cli_col *cli_contract_cols(size_t *n);
/* Finds a built-in column by name, or NULL. */
const struct cli_col *cli_contract_col(const char *name);

/* A string-to-string hash map with at most max entries (curl's rule: every growing thing has a
 * maximum). Keys and values are copied. Single-threaded. */
struct strmap;

/* Returns a new empty map, or NULL when out of memory. Caller frees with strmap_free(). */
struct strmap *strmap_new(size_t max);
void strmap_free(struct strmap *m);
/* The value stored for key, or NULL. Borrowed: valid until the next put or clear. */
const char *strmap_get(const struct strmap *m, const char *key);
/* Sets key to val (replacing a value already there). CS_ELIMIT when the map holds max entries
 * and key is new, CS_ENOMEM; the map is unchanged on failure. */
cs_err strmap_put(struct strmap *m, const char *key, const char *val);
/* Removes every entry. */
void strmap_clear(struct strmap *m);
size_t strmap_count(const struct strmap *m);

#endif

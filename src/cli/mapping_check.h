/* mapping_check.h - a configured mapping checked against its sObject's describe: pure, no I/O. */
#ifndef CS_MAPPING_CHECK_H
#define CS_MAPPING_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "salesforce/sf.h"
#include "util/err.h"

#define MAPCHECK_MAPPING ((size_t)-1)   /* problem.field for the mapping itself */
#define MAPCHECK_MSG_MAX 600            /* bytes of one message, NUL included; longer is cut */
#define MAPCHECK_PROBLEMS_MAX 20000     /* problems one list keeps; more are counted in dropped */
#define MAPCHECK_VALUES_SHOWN 8         /* picklist values a message names before "and N more" */

enum mapcheck_sev { MAPCHECK_WARN = 1, MAPCHECK_ERROR = 2 };

/* One finding. code is a static, stable name for scripts ("field_missing", "type_mismatch",
 * "reference_target", "not_writable", "picklist_value", "picklist_uncovered", "length",
 * "scale", "external_id", "match_key", "sobject_missing", "sobject_permission"); msg is for
 * people and never holds a secret. */
struct mapcheck_problem {
	enum mapcheck_sev sev;
	const char *code;
	size_t field;                 /* index in the mapping's fields, or MAPCHECK_MAPPING */
	char msg[MAPCHECK_MSG_MAX];
};

/* A caller-owned list: mapcheck_list_init / mapcheck_list_cleanup. */
struct mapcheck_list {
	struct mapcheck_problem *v;
	size_t n;
	size_t cap;
	size_t dropped;               /* problems beyond MAPCHECK_PROBLEMS_MAX, not kept */
};

/* Makes l an empty list. */
void mapcheck_list_init(struct mapcheck_list *l);
/* Frees l's problems and leaves it empty, ready for reuse; cleaning an empty list is a no-op. */
void mapcheck_list_cleanup(struct mapcheck_list *l);

/* Appends a problem formatted like printf. A full list counts it in dropped. Errors:
 * CS_ENOMEM (nothing appended). */
cs_err mapcheck_add(struct mapcheck_list *l, enum mapcheck_sev sev, const char *code, size_t field,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* True when the repository side of f (its kind, transform, value map, lookup) can be carried by
 * a Salesforce field of type sf_type ("string", "currency", ...). The table is in
 * mapping_check.c and in docs/mapping-check.md. Pure. */
bool mapcheck_type_ok(const struct cs_field_map *f, const char *sf_type);

/* The Salesforce types mapcheck_type_ok accepts for f, as static text ("date" or
 * "currency, double or percent"). Pure. */
const char *mapcheck_type_expect(const struct cs_field_map *f);

/* Whether the engine writes f's value to Salesforce: owner clm or both, or owner salesforce with
 * non_owner_write accept. (Owner clm with revert writes the repository's value back over a
 * Salesforce edit, which owner clm already covers; owner salesforce with revert writes into the
 * repository.) Pure. */
bool mapcheck_writes_sf(const struct cs_field_map *f);

/* The most characters f's repository value can have as written to Salesforce: the truncation
 * length, a custom attribute's max_length, the repository's own limit for the field of entity e,
 * 3 for a currency code; 0 when f is not text. Pure. */
unsigned long mapcheck_clm_length(enum cs_entity e, const struct cs_field_map *f);

/* The candidate closest to name (case-insensitive edit distance, or name + "__c"), or NULL when
 * none is close enough to be a likely misspelling. Borrows everything; returns one of cands. */
const char *mapcheck_suggest(const char *name, const char *const *cands, size_t n);

/* Checks every field of m, its external id field and its match keys against d, the describe of
 * m->sobject, appending what it finds to out (nothing for a field that is fine). Borrows m and d;
 * any thread, as long as out is the caller's own. Errors: CS_ENOMEM (out holds what was found so
 * far). */
cs_err mapcheck_mapping(const struct cs_mapping *m, const struct sf_describe *d,
                        struct mapcheck_list *out);

#endif

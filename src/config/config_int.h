/* config_int.h - the settings table's types, shared by the loader and the generated outputs only. */
#ifndef CS_CONFIG_INT_H
#define CS_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config/config.h"

struct fy_node;
struct load;

enum opt_type {
	OT_STR,       /* char *; min/max bound the length in bytes */
	OT_BOOL,      /* bool; true or false */
	OT_UINT,      /* unsigned; min/max bound the value */
	OT_SIZE,      /* size_t bytes; "1048576", "512 KiB", "10MiB", "1 GiB"; min/max bound it */
	OT_ENUM,      /* int; one of choices */
	OT_STRLIST,   /* char ** at off, size_t count at off_n; min/max bound the count, lmax each */
	OT_SECTION,   /* a mapping whose settings (sub) live in the same struct; with choices, it may
	               * instead be one of those words, kept as an int at off (a value outside choices
	               * there means the mapping form) */
	OT_LIST,      /* a sequence of mappings: array of sub->item_size at off, count at off_n */
	OT_NOINLINE,  /* a secret that must never be written in the file: refused with a hint
	               * (syntax names where it comes from instead); the loaded secret (char * at
	               * off) is shown masked by config check */
	OT_MAP,       /* a mapping of text to text: struct cs_pair array at off (clm = key, sf =
	               * value, in file order), count at off_n; min/max bound the count, lmax each */
	OT_PAIRS,     /* a list of two-item lists: struct cs_pair array at off, count at off_n */
};

#define F_REQUIRED 0x1   /* must be present (in list items) */
#define F_SECRET 0x2     /* the value is, or names, a secret: never printed in clear */
#define F_GIVEN 0x4      /* OT_UINT without default where 0 is a value: a bool at off_n says
                          * whether it was given */

struct choice {
	const char *name;
	int value;
};

/* One setting. Everything the loader, the check output and the reference say about it. */
struct opt {
	const char *key;
	enum opt_type type;
	const char *dflt;            /* the default as YAML text; NULL = none (absent unless given) */
	long long min, max;
	size_t lmax;                 /* OT_STRLIST: bytes per item */
	unsigned flags;
	const struct choice *choices;  /* OT_ENUM, NULL-terminated */
	size_t off, off_n;
	/* Extra validation of a string: returns false and a reason in why. */
	bool (*check)(const char *v, size_t len, char *why, size_t whyn);
	const struct section *sub;   /* OT_SECTION, OT_LIST */
	const char *syntax;          /* shown in messages and the reference, e.g. "HOST:PORT" */
	const char *help;
};

/* A mapping: its settings, and for list items the size of one item. finish runs after the
 * mapping is read (cross-field rules; seen has bit i set when opts[i] was given);
 * finish_list runs after a whole list of such items. Derived strings are owned like the others. */
struct section {
	const struct opt *opts;
	size_t nopts;
	size_t item_size;
	void (*finish)(struct load *ld, void *obj, struct fy_node *map, uint32_t seen, const char *path);
	void (*finish_list)(struct load *ld, void *items, size_t n, struct fy_node *seq,
	                    const char *path);
	const size_t *derived;   /* offsets of char * fields set by finish, not read from the file */
	size_t nderived;
};

/* A repository field a mapping may name (config_fields.c). */
struct known_field {
	const char *name;
	enum cs_value_kind kind;
	bool readonly;                 /* set by the repository, never written through the API */
	const char *const *values;     /* CS_VALUE_ENUM: the values, NULL-terminated */
	enum cs_entity ref;            /* CS_VALUE_REFERENCE: the entity it refers to */
	const char *sobject;           /* CS_VALUE_SFID: the sObject whose id it holds */
};

/* The known field `name` of entity e (not custom.<name>), or NULL. */
const struct known_field *cs_config_known_field(enum cs_entity e, const char *name);

/* Puts up to max names of entity e's known fields in names (for suggestions); returns how many. */
size_t cs_config_known_names(enum cs_entity e, const char **names, size_t max);

/* The root of the table (config.c). */
extern const struct section cs_config_table;

/* Writes a byte count as the table does: "10 MiB" when exact, else plain bytes. */
void cs_config_size_text(unsigned long long v, char *out, size_t n);

/* Returns the name of value v in choices, or "?". */
const char *cs_config_choice_name(const struct choice *c, int v);

#endif

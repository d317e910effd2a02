/* cmd_import.c - clmsync import contracts FILE.csv: every row checked as the API checks it, then written. */
#include "cli/cli.h"
#include "cli/cli_int.h"
/* The import checks a whole file before it writes its first row, with the rules clm_create
 * applies; clm.h has no "check without writing" call yet, so the derived-field and cross-field
 * rules come from the module's own header (clm_contract_derive, clm_contract_check). */
#include "clm/clm_int.h"
#include "util/csv.h"
#include "util/id.h"
#include "util/json.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX ((size_t)4 << 30)   /* bytes of CSV read at most (mapped, not copied) */
#define MAP_MAX 256                  /* --map pairs */
#define LOOKUP_MAX 20000000          /* entries in one lookup map (numbers, names, ids) */
#define REPORT_MAX 1000              /* refused rows described one by one; later ones are counted */
#define PROGRESS_MS 500
#define USER_MAX 64                  /* bytes in an --as name, as X-Clm-User */
#define PAGE 1000
#define SHOW 60                      /* bytes of a cell value quoted in a message */
#define CHUNK 1000                   /* rows handed to the repository at a time */
#define CHUNK_ITEMS (CHUNK + 2)      /* records: a row adds its contract and maybe a counterparty */

/* Where a record handed to the repository comes from, by its index in the bulk. */
struct where {
	unsigned long line;              /* the row's line in the file */
	bool cp;                         /* the counterparty its counterparty_legal_name creates */
};

struct col {
	char *header;                    /* as the file names it (a copy) */
	const struct cli_col *c;         /* NULL: skipped */
	char custom[CLM_NAME_MAX];       /* CLI_COL_CUSTOM: the attribute */
	enum cs_attr_type ctype;
};

struct imp {
	const char *file;
	struct clm *clm;
	const struct cli_repo *repo;
	char actor[CLM_ACTOR_MAX];
	char placeholder_cp[CS_ID_MAX], placeholder_ct[CS_ID_MAX];
	struct col *cols;
	size_t ncols;
	int ci_cp_id, ci_cp_name, ci_parent_id, ci_parent_num, ci_number;
	struct strmap *names;            /* legal name -> counterparty id; "" to create; "?" several */
	struct strmap *ids;              /* id -> "" (exists) or its counterparty's legal name; "-" none */
	struct strmap *numbers;          /* contract number -> id, or "=LINE": a row of this file */
	unsigned long *bad;              /* data rows (1-based) refused while checking, ascending */
	size_t nbad, cbad;
	unsigned long rows, written, created_cp, refused, reported;
	/* pass 2: the records of the chunk being built, then handed over together */
	struct clm_bulk *bulk;           /* --all-or-nothing: all of pass 2 as one atomic unit */
	struct clm_new *items;           /* CHUNK_ITEMS; their bodies are owned by bodies[] */
	json_t **bodies;
	size_t nitems;
	struct where *at;                /* every record handed over (--all-or-nothing) or of this chunk */
	size_t nat, cat, base;           /* at[] used and allocated; index in at[] of items[0] */
	unsigned long pend_ct, pend_cp;  /* handed to the bulk, not committed yet */
	bool progress, tty;
	int64_t t0, last;
	int64_t today;
};

static void
usage(FILE *f)
{
	cli_help_print(cli_cmd_find("import"), f);
}

/* ---- reporting ---- */

static void
progress(struct imp *x, const char *phase, double frac, unsigned long done, bool final)
{
	int64_t now = cs_time_mono_ms();
	double el, rate, eta;

	if (!x->progress || (!final && now - x->last < PROGRESS_MS))
		return;
	x->last = now;
	el = (double)(now - x->t0) / 1000.0;
	rate = el > 0 ? done / el : 0;
	eta = frac > 0 && frac < 1 ? el * (1 - frac) / frac : 0;
	fprintf(stderr, "%s%s: %lu rows (%.0f%%), %.0f rows/s, ETA %.0f s%s", x->tty ? "\r" : "", phase, done,
	    frac * 100, rate, eta, x->tty && !final ? "   " : "\n");
	fflush(stderr);
}

/* The file's own name for an API field when --map renamed it ("Start" for effective_date), else NULL. */
static const char *
header_of(const struct imp *x, const char *field)
{
	for (size_t i = 0; i < x->ncols; i++) {
		const struct col *c = &x->cols[i];
		const char *own;
		if (c->c == NULL)
			continue;
		if (c->c->type == CLI_COL_CUSTOM) {
			if (strncmp(field, "custom.", 7) != 0 || strcmp(field + 7, c->custom) != 0)
				continue;
			own = field;
		} else if (strcmp(c->c->name, field) == 0 || (strcmp(field, "total_value") == 0 && c->c->type == CLI_COL_AMOUNT))
			own = c->c->name;
		else
			continue;
		return strcmp(c->header, own) != 0 ? c->header : NULL;
	}
	return NULL;
}

static void
refuse(struct imp *x, unsigned long line, const struct clm_fail *f)
{
	const char *h;

	x->refused++;
	if (x->reported++ >= REPORT_MAX) {
		if (x->reported == REPORT_MAX + 1)
			fprintf(stderr, "%s: more refused rows; only counting them from here\n", x->file);
		return;
	}
	if (x->progress && x->tty)
		fputc('\n', stderr);
	h = f->field[0] ? header_of(x, f->field) : NULL;
	if (h != NULL)
		fprintf(stderr, "%s:%lu: column \"%s\" (%s): %s [%s]\n", x->file, line, h, f->field, f->msg, f->code);
	else if (f->field[0])
		fprintf(stderr, "%s:%lu: %s: %s [%s]\n", x->file, line, f->field, f->msg, f->code);
	else
		fprintf(stderr, "%s:%lu: %s [%s]\n", x->file, line, f->msg, f->code);
}

/* ---- the header and --map ---- */

struct mapping {
	char *col, *field;
	bool used;
};

/* Splits each "COL=FIELD,COL=FIELD" argument in place into m (at most MAP_MAX pairs). */
static bool
parse_maps(char **args, size_t nargs, struct mapping *m, size_t *n)
{
	*n = 0;
	for (size_t a = 0; a < nargs; a++) {
		char *s = args[a];
		while (s != NULL && *s != '\0') {
			char *comma = strchr(s, ','), *eq;
			if (comma != NULL)
				*comma = '\0';
			if ((eq = strchr(s, '=')) == NULL || eq == s || eq[1] == '\0') {
				fprintf(stderr, "clmsync import: --map wants COLUMN=FIELD pairs, got '%s'\n", s);
				return false;
			}
			if (*n >= MAP_MAX) {
				fprintf(stderr, "clmsync import: more than %d --map pairs\n", MAP_MAX);
				return false;
			}
			*eq = '\0';
			m[(*n)++] = (struct mapping){ s, eq + 1, false };
			s = comma ? comma + 1 : NULL;
		}
	}
	return true;
}

/* Resolves every header cell to a column; false with a message when one names no field. */
static bool
columns(struct imp *x, const struct csv_field *h, size_t n, struct mapping *m, size_t nm)
{
	const struct cs_attr_list *custom = &x->repo->cfg->custom_contract;
	char ignored[512] = "";
	size_t il = 0;

	if ((x->cols = calloc(n, sizeof(*x->cols))) == NULL) {
		fprintf(stderr, "clmsync import: out of memory\n");
		return false;
	}
	x->ncols = n;
	x->ci_cp_id = x->ci_cp_name = x->ci_parent_id = x->ci_parent_num = x->ci_number = -1;
	for (size_t i = 0; i < n; i++) {
		struct col *c = &x->cols[i];
		const char *field = h[i].p;
		if ((c->header = strdup(h[i].p)) == NULL) {
			fprintf(stderr, "clmsync import: out of memory\n");
			return false;
		}
		for (size_t k = 0; k < nm; k++)
			if (strcmp(m[k].col, h[i].p) == 0) {
				field = m[k].field;
				m[k].used = true;
			}
		if (strcmp(field, "-") == 0)
			continue;
		for (size_t j = 0; j < i; j++)
			if (x->cols[j].c != NULL && strcmp(x->cols[j].c->name, field) == 0 &&
			    x->cols[j].c->type != CLI_COL_CUSTOM) {
				fprintf(stderr, "%s:1: columns \"%s\" and \"%s\" both give %s\n", x->file, x->cols[j].header,
				    c->header, field);
				return false;
			}
		if ((c->c = cli_contract_col(field)) != NULL) {
			if (c->c->type == CLI_COL_RO) {
				il += (size_t)snprintf(ignored + il, il < sizeof(ignored) ? sizeof(ignored) - il : 0, "%s%s",
				    il ? ", " : "", c->header);
				if (il >= sizeof(ignored))
					il = sizeof(ignored);
				c->c = NULL;
				continue;
			}
			int *slot = strcmp(field, "counterparty_id") == 0 ? &x->ci_cp_id
			    : strcmp(field, "counterparty_legal_name") == 0 ? &x->ci_cp_name
			    : strcmp(field, "parent_contract_id") == 0 ? &x->ci_parent_id
			    : strcmp(field, "parent_contract_number") == 0 ? &x->ci_parent_num
			    : strcmp(field, "number") == 0 ? &x->ci_number : NULL;
			if (slot != NULL)
				*slot = (int)i;
			continue;
		}
		if (strncmp(field, "custom.", 7) == 0 && cs_config_attr_find(custom, field + 7) != NULL) {
			static const struct cli_col custom_col = { "custom", CLI_COL_CUSTOM };
			const struct cs_attr_decl *d = cs_config_attr_find(custom, field + 7);
			for (size_t j = 0; j < i; j++)
				if (x->cols[j].c != NULL && x->cols[j].c->type == CLI_COL_CUSTOM &&
				    strcmp(x->cols[j].custom, d->name) == 0) {
					fprintf(stderr, "%s:1: columns \"%s\" and \"%s\" both give %s\n", x->file,
					    x->cols[j].header, c->header, field);
					return false;
				}
			c->c = &custom_col;
			snprintf(c->custom, sizeof(c->custom), "%s", d->name);
			c->ctype = d->type;
			continue;
		}
		fprintf(stderr, "%s:1: column \"%s\": a contract has no field \"%s\" (read it as a field with "
		    "--map '%s=FIELD', or skip it with --map '%s=-'; fields are listed in docs/api.md)\n",
		    x->file, c->header, field, c->header, c->header);
		return false;
	}
	for (size_t k = 0; k < nm; k++)
		if (!m[k].used) {
			fprintf(stderr, "%s:1: --map names column \"%s\", which the header does not have\n", x->file, m[k].col);
			return false;
		}
	if (il > 0)
		fprintf(stderr, "%s: ignoring columns the repository sets: %s\n", x->file, ignored);
	return true;
}

/* ---- lookups ---- */

static cs_err
put(struct strmap *m, const char *k, const char *v, struct clm_fail *f)
{
	cs_err rc = strmap_put(m, k, v);

	if (rc == CS_ELIMIT)
		return clm_fail_set(f, 413, "too_many", NULL, "more than %d distinct lookups in one import", LOOKUP_MAX);
	if (rc != CS_OK)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	return CS_OK;
}

/* Pages through every record of kind k, putting name -> id into m (counterparties: "?" when a
 * legal name is on several). */
static bool
load(struct imp *x, enum clm_kind k, const char *key, struct strmap *m)
{
	struct clm_list_q q;
	struct clm_fail f;
	json_t *page = NULL, *rec;
	char cursor[512] = "";
	size_t i;

	for (;;) {
		const char *next;
		memset(&q, 0, sizeof(q));
		q.kind = k;
		q.limit = PAGE;
		q.cursor = cursor[0] ? cursor : NULL;
		if (clm_list(x->clm, &q, &page, &f) != CS_OK) {
			fprintf(stderr, "clmsync import: cannot read the %ss: %s\n", clm_kind_name(k), f.msg);
			return false;
		}
		json_array_foreach(json_object_get(page, "data"), i, rec) {
			const char *name = cs_json_get_str(rec, key), *id = cs_json_get_str(rec, "id");
			if (name == NULL || id == NULL)
				continue;
			if (put(m, name, strmap_get(m, name) ? "?" : id, &f) != CS_OK) {
				fprintf(stderr, "clmsync import: %s\n", f.msg);
				json_decref(page);
				return false;
			}
		}
		next = cs_json_get_str(page, "next_cursor");
		if (next == NULL || (size_t)snprintf(cursor, sizeof(cursor), "%s", next) >= sizeof(cursor))
			break;
		json_decref(page);
	}
	json_decref(page);
	return true;
}

/* Whether record id of kind k exists; *name gets a counterparty's legal name. Cached. */
static cs_err
exists(struct imp *x, enum clm_kind k, const char *id, bool *yes, const char **name, struct clm_fail *f)
{
	const char *v = strmap_get(x->ids, id);
	json_t *rec = NULL;
	struct clm_fail nf;
	cs_err rc;

	if (v == NULL) {
		if (clm_get(x->clm, k, NULL, id, &rec, &nf) == CS_OK)
			v = k == CLM_COUNTERPARTY ? cs_json_get_str(rec, "legal_name") : "";
		else if (nf.status != 404 && nf.status != 400)
			return clm_fail_set(f, nf.status, nf.code, NULL, "%s", nf.msg);
		rc = put(x->ids, id, v ? v : "-", f);
		json_decref(rec);
		if (rc != CS_OK)
			return rc;
		v = strmap_get(x->ids, id);
	}
	*yes = strcmp(v, "-") != 0;
	*name = v;
	return CS_OK;
}

static const char *
cellz(const struct csv_field *fl, int i)
{
	return i >= 0 && fl[i].n > 0 ? fl[i].p : NULL;
}

/* Adds a record to the chunk being built; takes ownership of body. The chunk has room: it is
 * handed over once CHUNK rows are in it, and a row adds two records at most. */
static void
emit(struct imp *x, enum clm_kind k, json_t *body, const char *id, unsigned long line, bool cp)
{
	struct clm_new *it = &x->items[x->nitems];

	memset(it, 0, sizeof(*it));
	it->kind = k;
	it->body = body;
	snprintf(it->id, sizeof(it->id), "%s", id);
	x->bodies[x->nitems++] = body;
	x->at[x->nat++] = (struct where){ line, cp };
}

/* Sets body.counterparty_id from the row. In the checking pass a name to be created gets a
 * placeholder id; in the writing pass it is created (once), by the record emitted before the
 * row's own. */
static cs_err
counterparty(struct imp *x, const struct csv_field *fl, bool write, unsigned long line, json_t *body,
    struct clm_fail *f)
{
	const char *id = cellz(fl, x->ci_cp_id), *name = cellz(fl, x->ci_cp_name), *v, *known;
	json_t *cp = NULL, *doc = NULL;
	char newid[CLM_ID_MAX];
	bool yes = false;
	cs_err rc;

	if (id != NULL) {
		if ((rc = exists(x, CLM_COUNTERPARTY, id, &yes, &known, f)) != CS_OK)
			return rc;
		if (yes && (name == NULL || strcmp(known, name) == 0)) {
			json_object_set_new(body, "counterparty_id", json_string(id));
			return CS_OK;
		}
		if (name == NULL)
			return clm_fail_set(f, 422, "invalid_reference", "counterparty_id", "no counterparty has id %.*s", SHOW, id);
	}
	if (name == NULL)
		return CS_OK;
	if ((v = strmap_get(x->names, name)) != NULL && strcmp(v, "?") == 0)
		return clm_fail_set(f, 422, "invalid_reference", "counterparty_legal_name",
		    "several counterparties are named \"%.*s\": give counterparty_id", SHOW, name);
	if (v != NULL && v[0] != '\0') {
		json_object_set_new(body, "counterparty_id", json_string(v));
		return CS_OK;
	}
	/* a new counterparty: checked once as a create would check it */
	if ((cp = json_pack("{s:s}", "legal_name", name)) == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	if (v == NULL) {
		rc = clm_validate(x->repo->schema, CLM_COUNTERPARTY, cp, false, &doc, f);
		json_decref(doc);
		if (rc != CS_OK) {
			snprintf(f->field, sizeof(f->field), "counterparty_legal_name");
			goto out;
		}
		if ((rc = put(x->names, name, "", f)) != CS_OK)
			goto out;
	}
	if (!write) {
		json_object_set_new(body, "counterparty_id", json_string(x->placeholder_cp));
		rc = CS_OK;
		goto out;
	}
	/* created in the same transaction as the row, just before it; later rows name its id */
	if (clm_id_new(CLM_COUNTERPARTY, newid) != CS_OK) {
		rc = clm_fail_set(f, 500, "internal", NULL, "cannot make an id");
		goto out;
	}
	if ((rc = put(x->names, name, newid, f)) != CS_OK)
		goto out;
	emit(x, CLM_COUNTERPARTY, cp, newid, line, true);
	cp = NULL;
	json_object_set_new(body, "counterparty_id", json_string(newid));
out:
	json_decref(cp);
	return rc;
}

/* Sets body.parent_contract_id from parent_contract_id or parent_contract_number. */
static cs_err
parent(struct imp *x, const struct csv_field *fl, bool write, json_t *body, struct clm_fail *f)
{
	const char *id = cellz(fl, x->ci_parent_id), *num = cellz(fl, x->ci_parent_num), *v, *known;
	bool yes = false;
	cs_err rc;

	if (id != NULL) {
		if ((rc = exists(x, CLM_CONTRACT, id, &yes, &known, f)) != CS_OK)
			return rc;
		if (yes) {
			json_object_set_new(body, "parent_contract_id", json_string(id));
			return CS_OK;
		}
		if (num == NULL)
			return clm_fail_set(f, 422, "invalid_reference", "parent_contract_id", "no contract has id %.*s", SHOW, id);
	}
	if (num == NULL)
		return CS_OK;
	if ((v = strmap_get(x->numbers, num)) == NULL)
		return clm_fail_set(f, 422, "invalid_reference", "parent_contract_number",
		    "no contract has number %.*s (in the repository or on an earlier row)", SHOW, num);
	if (v[0] == '=') {
		if (write)
			return clm_fail_set(f, 422, "invalid_reference", "parent_contract_number",
			    "the parent contract %.*s (line %s) was not imported", SHOW, num, v + 1);
		v = x->placeholder_ct;
	}
	json_object_set_new(body, "parent_contract_id", json_string(v));
	return CS_OK;
}

/* A cell as a JSON integer, or a 422 naming field. */
static cs_err
integer(const struct csv_field *c, const char *field, json_t **out, struct clm_fail *f)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(c->p, &end, 10);
	if (errno != 0 || end != c->p + c->n || !(isdigit((unsigned char)c->p[0]) || c->p[0] == '-'))
		return clm_fail_set(f, 422, "invalid_type", field, "\"%.*s\" is not a whole number", SHOW, c->p);
	*out = json_integer(v);
	return CS_OK;
}

static cs_err
boolean(const struct csv_field *c, const char *field, json_t **out, struct clm_fail *f)
{
	static const char *const yes[] = { "true", "yes", "1" }, *const no[] = { "false", "no", "0" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(c->p, yes[i]) == 0) {
			*out = json_true();
			return CS_OK;
		}
		if (strcasecmp(c->p, no[i]) == 0) {
			*out = json_false();
			return CS_OK;
		}
	}
	return clm_fail_set(f, 422, "invalid_type", field, "\"%.*s\" is not true or false", SHOW, c->p);
}

/* Turns one row into a create body (a new object in *out). */
static cs_err
body_of(struct imp *x, const struct csv_field *fl, bool write, unsigned long line, json_t **out, struct clm_fail *f)
{
	json_t *b = json_object(), *custom = NULL, *v = NULL;
	const struct csv_field *amount = NULL, *currency = NULL;
	cs_err rc = CS_OK;

	*out = NULL;
	if (b == NULL)
		return clm_fail_set(f, 500, "internal", NULL, "out of memory");
	for (size_t i = 0; i < x->ncols && rc == CS_OK; i++) {
		const struct col *c = &x->cols[i];
		const struct csv_field *cell = &fl[i];
		const char *name;
		if (c->c == NULL || cell->n == 0)
			continue;
		name = c->c->name;
		v = NULL;
		switch (c->c->type) {
		case CLI_COL_TEXT:
			v = json_stringn(cell->p, cell->n);
			break;
		case CLI_COL_INT:
			rc = integer(cell, name, &v, f);
			break;
		case CLI_COL_BOOL:
			rc = boolean(cell, name, &v, f);
			break;
		case CLI_COL_AMOUNT:
			amount = cell;
			continue;
		case CLI_COL_CURRENCY:
			currency = cell;
			continue;
		case CLI_COL_CUSTOM: {
			char field[CLM_NAME_MAX + 8];
			snprintf(field, sizeof(field), "custom.%s", c->custom);
			if (c->ctype == CS_ATTR_NUMBER)
				rc = integer(cell, field, &v, f);
			else if (c->ctype == CS_ATTR_BOOLEAN)
				rc = boolean(cell, field, &v, f);
			else
				v = json_stringn(cell->p, cell->n);
			if (rc == CS_OK && v != NULL && custom == NULL && (custom = json_object()) != NULL)
				json_object_set_new(b, "custom", custom);
			if (rc == CS_OK && (custom == NULL || v == NULL || json_object_set_new(custom, c->custom, v) != 0))
				rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
			continue;
		}
		default:
			continue;    /* counterparty and parent lookups: below */
		}
		if (rc == CS_OK && (v == NULL || json_object_set_new(b, name, v) != 0))
			rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
	}
	if (rc == CS_OK && (amount != NULL) != (currency != NULL))
		rc = clm_fail_set(f, 422, "required", amount ? "total_value_currency" : "total_value_amount",
		    "total_value needs both total_value_amount and total_value_currency");
	if (rc == CS_OK && amount != NULL &&
	    json_object_set_new(b, "total_value", json_pack("{s:s%,s:s%}", "amount", amount->p, amount->n,
	    "currency", currency->p, currency->n)) != 0)
		rc = clm_fail_set(f, 500, "internal", NULL, "out of memory");
	if (rc == CS_OK)
		rc = parent(x, fl, write, b, f);
	if (rc == CS_OK)
		rc = counterparty(x, fl, write, line, b, f);
	if (rc != CS_OK) {
		json_decref(b);
		return rc;
	}
	*out = b;
	return CS_OK;
}

/* The checking pass for one row: what clm_create would refuse, without writing. */
static cs_err
check(struct imp *x, const struct csv_field *fl, unsigned long line, struct clm_fail *f)
{
	json_t *b = NULL, *doc = NULL;
	const char *num = cellz(fl, x->ci_number), *v, *st;
	char at[32];
	cs_err rc;

	if ((rc = body_of(x, fl, false, line, &b, f)) != CS_OK)
		return rc;
	if ((rc = clm_validate(x->repo->schema, CLM_CONTRACT, b, false, &doc, f)) != CS_OK)
		goto out;
	/* the defaults and derived fields a create gives, then its cross-field and entry rules */
	if (!json_object_get(doc, "type"))
		json_object_set_new(doc, "type", json_string("other"));
	if (!json_object_get(doc, "auto_renew"))
		json_object_set_new(doc, "auto_renew", json_false());
	if (!json_object_get(doc, "approval_status"))
		json_object_set_new(doc, "approval_status", json_string("not_required"));
	clm_contract_derive(doc);
	if ((rc = clm_contract_check(doc, f)) != CS_OK)
		goto out;
	st = cs_json_get_str(doc, "status");
	if (st != NULL && strcmp(st, "draft") != 0 &&
	    (rc = clm_status_check_entry(doc, (enum clm_status)clm_status_parse(st), x->today, f)) != CS_OK)
		goto out;
	if (num != NULL) {
		if ((v = strmap_get(x->numbers, num)) != NULL) {
			rc = v[0] == '=' ? clm_fail_set(f, 409, "duplicate", "number", "number %.*s is on line %s too", SHOW, num, v + 1)
			    : clm_fail_set(f, 409, "duplicate", "number", "number %.*s is taken by contract %s", SHOW, num, v);
			goto out;
		}
		snprintf(at, sizeof(at), "=%lu", line);
		rc = put(x->numbers, num, at, f);
	}
out:
	json_decref(b);
	json_decref(doc);
	return rc;
}

/* The writing pass for one row: its records (a counterparty to create, the contract) are added
 * to the chunk; nothing is written yet. */
static cs_err
write_row(struct imp *x, const struct csv_field *fl, unsigned long line, struct clm_fail *f)
{
	const char *num = cellz(fl, x->ci_number);
	char id[CLM_ID_MAX];
	json_t *b = NULL;
	cs_err rc;

	if (clm_id_new(CLM_CONTRACT, id) != CS_OK)
		return clm_fail_set(f, 500, "internal", NULL, "cannot make an id");
	if ((rc = body_of(x, fl, true, line, &b, f)) != CS_OK)
		return rc;
	/* later rows find their parent by number as soon as it is in the chunk: they come after it
	 * in the same transaction, or in a later one */
	if (num != NULL && x->ci_parent_num >= 0 && (rc = put(x->numbers, num, id, f)) != CS_OK) {
		json_decref(b);
		return rc;
	}
	emit(x, CLM_CONTRACT, b, id, line, false);
	return CS_OK;
}

/* Grows at[] so that a chunk more fits. */
static bool
at_room(struct imp *x)
{
	if (x->cat - x->nat >= CHUNK_ITEMS)
		return true;
	size_t n = x->cat ? x->cat * 2 : 4 * CHUNK_ITEMS;
	struct where *v = realloc(x->at, n * sizeof(*v));
	if (v == NULL)
		return false;
	x->at = v;
	x->cat = n;
	return true;
}

/* Forgets the chunk's records (their bodies) and starts the next chunk. */
static void
chunk_reset(struct imp *x, bool keep_at)
{
	for (size_t i = 0; i < x->nitems; i++)
		json_decref(x->bodies[i]);
	x->nitems = 0;
	if (!keep_at)
		x->nat = 0;
	x->base = x->nat;
}

/* Reports the record at index i of at[] as refused by the repository. */
static void
refuse_item(struct imp *x, size_t i, struct clm_fail *f)
{
	if (x->at[i].cp && f->field[0] == '\0')
		snprintf(f->field, sizeof(f->field), "counterparty_legal_name");
	refuse(x, x->at[i].line, f);
}

/* --skip-bad: item i of the chunk was refused; later rows must not count on it. */
static void
forget(struct imp *x, size_t i)
{
	const json_t *b = x->items[i].body;
	const char *name = cs_json_get_str(b, "legal_name"), *num = cs_json_get_str(b, "number");
	char at[32];
	struct clm_fail f;

	if (x->items[i].kind == CLM_COUNTERPARTY && name != NULL)
		put(x->names, name, "", &f);     /* created again by the next row that names it */
	else if (num != NULL && x->ci_parent_num >= 0 && strmap_get(x->numbers, num) != NULL &&
	    strcmp(strmap_get(x->numbers, num), x->items[i].id) == 0) {
		snprintf(at, sizeof(at), "=%lu", x->at[x->base + i].line);
		put(x->numbers, num, at, &f);    /* "was not imported" for its children */
	}
}

/* Counts the chunk's records as written. */
static void
count(struct imp *x, size_t from, size_t to, unsigned long *ct, unsigned long *cp)
{
	for (size_t i = from; i < to; i++) {
		if (x->items[i].kind == CLM_COUNTERPARTY)
			(*cp)++;
		else
			(*ct)++;
	}
}

/* Hands the chunk to the repository. --all-or-nothing: to the bulk (written at its commit);
 * --skip-bad: as one transaction, or when the store refuses one of its records, one by one so
 * that only the refused ones stay out. False when the import must stop (the reason printed). */
static bool
flush(struct imp *x, bool skip_bad)
{
	struct clm_fail f;
	size_t failed = SIZE_MAX, skip_line = 0;
	bool ok = true;

	if (x->nitems == 0)
		return true;
	if (!skip_bad) {
		if (clm_bulk_add(x->bulk, x->items, x->nitems, &failed, &f) != CS_OK) {
			if (failed != SIZE_MAX && failed < x->nat)
				refuse_item(x, failed, &f);
			else
				fprintf(stderr, "%s: %s [%s]\n", x->file, f.msg, f.code);
			ok = false;
		} else
			count(x, 0, x->nitems, &x->pend_ct, &x->pend_cp);
		chunk_reset(x, true);
		return ok;
	}
	if (clm_create_many(x->clm, x->items, x->nitems, x->actor, &failed, &f) == CS_OK) {
		count(x, 0, x->nitems, &x->written, &x->created_cp);
		chunk_reset(x, false);
		return true;
	}
	for (size_t i = 0; i < x->nitems && failed != SIZE_MAX; i++) {
		/* a row whose counterparty was refused is refused with it, reported once */
		if (skip_line != 0 && x->at[x->base + i].line == skip_line && !x->at[x->base + i].cp)
			continue;
		if (clm_create_many(x->clm, &x->items[i], 1, x->actor, &failed, &f) == CS_OK) {
			count(x, i, i + 1, &x->written, &x->created_cp);
			continue;
		}
		if (failed == SIZE_MAX)
			break;
		refuse_item(x, x->base + i, &f);
		forget(x, i);
		skip_line = x->at[x->base + i].cp ? x->at[x->base + i].line : 0;
	}
	if (failed == SIZE_MAX) {
		/* nothing a row did: the store failed or is shutting down */
		fprintf(stderr, "%s: %s [%s]\n", x->file, f.msg, f.code);
		ok = false;
	}
	chunk_reset(x, false);
	return ok;
}

static bool
add_bad(struct imp *x, unsigned long row)
{
	if (x->nbad == x->cbad) {
		size_t n = x->cbad ? x->cbad * 2 : 256;
		unsigned long *v = realloc(x->bad, n * sizeof(*v));
		if (v == NULL)
			return false;
		x->bad = v;
		x->cbad = n;
	}
	x->bad[x->nbad++] = row;
	return true;
}

static bool
user_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._@-+", s[i]))
			return false;
	return true;
}

/* Both passes over the mapped file p[0..len). Returns the exit code. */
static int
import(struct imp *x, const char *p, size_t len, bool skip_bad, bool dry_run, struct mapping *m, size_t nm)
{
	struct csv_reader r;
	struct cs_error e = { 0 };
	struct clm_fail f;
	const struct csv_field *fl;
	size_t n, bi = 0;
	unsigned long row = 0, good, sent = 0;
	int rc = 1;

	csv_reader_init(&r, p, len, ',', CSV_EOL_ANY);
	if (csv_reader_next(&r, &fl, &n, &e) != CS_OK || fl == NULL) {
		fprintf(stderr, "%s: %s\n", x->file, fl == NULL && e.msg[0] == '\0' ? "no header line" : e.msg);
		goto out;
	}
	if (!columns(x, fl, n, m, nm))
		goto out;
	if ((x->ci_cp_name >= 0 && !load(x, CLM_COUNTERPARTY, "legal_name", x->names)) ||
	    ((x->ci_number >= 0 || x->ci_parent_num >= 0) && !load(x, CLM_CONTRACT, "number", x->numbers)))
		goto out;

	/* pass 1: every row, as the API would check it; nothing is written */
	x->t0 = x->last = cs_time_mono_ms();
	while (csv_reader_next(&r, &fl, &n, &e) == CS_OK && fl != NULL) {
		row++;
		if (check(x, fl, r.row_line, &f) != CS_OK) {
			if (f.status >= 500 && f.status != 503) {
				fprintf(stderr, "%s:%lu: %s\n", x->file, r.row_line, f.msg);
				goto out;
			}
			refuse(x, r.row_line, &f);
			if (!add_bad(x, row)) {
				fprintf(stderr, "clmsync import: out of memory\n");
				goto out;
			}
		}
		progress(x, "checking", (double)r.pos / (double)len, row, false);
	}
	if (r.failed) {
		/* a broken file (unbalanced quote, wrong column count) is not read further */
		fprintf(stderr, "%s: %s; nothing was written\n", x->file, r.err.msg);
		goto out;
	}
	progress(x, "checked", 1, row, true);
	x->rows = row;
	good = row - x->refused;
	if (dry_run || (x->refused > 0 && !skip_bad)) {
		printf("%s: %lu rows checked, %lu refused; nothing written%s\n", x->file, row, x->refused,
		    dry_run ? " (--dry-run)" : " (--all-or-nothing; --skip-bad writes the good rows)");
		rc = x->refused > 0 ? 1 : 0;
		goto out;
	}

	/* pass 2: the rows that passed, CHUNK at a time, each record with its history and change
	 * row. --all-or-nothing: every chunk in one transaction (a bulk), so that what only the store
	 * sees (a number taken meanwhile by another writer, a full disk) still writes nothing.
	 * --skip-bad: a transaction per chunk. */
	csv_reader_cleanup(&r);
	csv_reader_init(&r, p, len, ',', CSV_EOL_ANY);
	csv_reader_next(&r, &fl, &n, &e);
	x->t0 = x->last = cs_time_mono_ms();
	if ((x->items = calloc(CHUNK_ITEMS, sizeof(*x->items))) == NULL ||
	    (x->bodies = calloc(CHUNK_ITEMS, sizeof(*x->bodies))) == NULL || !at_room(x)) {
		fprintf(stderr, "clmsync import: out of memory\n");
		goto out;
	}
	if (!skip_bad && clm_bulk_begin(x->clm, x->actor, &x->bulk, &f) != CS_OK) {
		fprintf(stderr, "%s: %s [%s]\n", x->file, f.msg, f.code);
		goto out;
	}
	row = 0;
	while (csv_reader_next(&r, &fl, &n, &e) == CS_OK && fl != NULL) {
		row++;
		if (bi < x->nbad && x->bad[bi] == row) {
			bi++;
			continue;
		}
		sent++;
		if (write_row(x, fl, r.row_line, &f) != CS_OK) {
			refuse(x, r.row_line, &f);
			if (!skip_bad)
				goto stopped;
		}
		if (x->nitems >= CHUNK) {
			if (!flush(x, skip_bad))
				goto stopped;
			if (!at_room(x)) {
				fprintf(stderr, "clmsync import: out of memory\n");
				goto stopped;
			}
		}
		progress(x, "importing", good ? (double)sent / (double)good : 1, sent, false);
	}
	if (!flush(x, skip_bad))
		goto stopped;
	if (!skip_bad) {
		size_t failed = SIZE_MAX;
		cs_err crc = clm_bulk_commit(x->bulk, &failed, &f);
		x->bulk = NULL;
		if (crc != CS_OK) {
			if (failed != SIZE_MAX && failed < x->nat)
				refuse_item(x, failed, &f);
			else
				fprintf(stderr, "%s: %s [%s]\n", x->file, f.msg, f.code);
			goto stopped;
		}
		x->written = x->pend_ct;
		x->created_cp = x->pend_cp;
	}
	progress(x, "imported", 1, x->written, true);
	printf("%s: %lu rows, %lu contracts imported, %lu counterparties created, %lu refused, %.1f s\n", x->file,
	    x->rows, x->written, x->created_cp, x->refused, (double)(cs_time_mono_ms() - x->t0) / 1000.0);
	rc = x->refused > 0 ? 1 : 0;
	goto out;
stopped:
	if (x->bulk != NULL) {
		clm_bulk_abort(x->bulk);
		x->bulk = NULL;
	}
	if (!skip_bad)
		printf("%s: %lu rows; nothing written (--all-or-nothing)\n", x->file, x->rows);
	else
		printf("%s: stopped: %lu rows, %lu contracts imported, %lu counterparties created, %lu refused\n",
		    x->file, x->rows, x->written, x->created_cp, x->refused);
out:
	clm_bulk_abort(x->bulk);
	x->bulk = NULL;
	chunk_reset(x, false);
	csv_reader_cleanup(&r);
	return rc;
}

/* cmd_import on the repository given, open already (borrowed), or, when NULL, on the one that
 * --config and --data name, opened and closed here. */
static int
import_cmd(int argc, char **argv, struct cli_repo *given)
{
	const char *cfg_path = NULL, *data = NULL, *what = NULL, *as = NULL;
	char *maps[MAP_MAX];
	struct mapping m[MAP_MAX];
	size_t nmaps = 0, nm = 0, len = 0;
	bool skip_bad = false, dry_run = false, force_progress = false;
	struct cli_repo repo;
	struct imp x;
	struct stat sb;
	void *p = MAP_FAILED;
	int fd = -1, rc = 1;

	memset(&x, 0, sizeof(x));
	memset(&repo, 0, sizeof(repo));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (what == NULL)
				what = a;
			else if (x.file == NULL)
				x.file = a;
			else {
				fprintf(stderr, "clmsync import: unexpected argument '%s' (see --help)\n", a);
				return 2;
			}
			continue;
		}
		if (strcmp(a, "--all-or-nothing") == 0) {
			skip_bad = false;
			continue;
		}
		if (strcmp(a, "--skip-bad") == 0) {
			skip_bad = true;
			continue;
		}
		if (strcmp(a, "--dry-run") == 0) {
			dry_run = true;
			continue;
		}
		if (strcmp(a, "--progress") == 0) {
			force_progress = true;
			continue;
		}
		if (val == NULL) {
			fprintf(stderr, "clmsync import: %s needs a value (see --help)\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--config") == 0)
			cfg_path = val;
		else if (strcmp(a, "--data") == 0)
			data = val;
		else if (strcmp(a, "--as") == 0)
			as = val;
		else if (strcmp(a, "--map") == 0 && nmaps < MAP_MAX)
			maps[nmaps++] = argv[i];
		else {
			fprintf(stderr, "clmsync import: unknown option '%s' (see --help)\n", a);
			return 2;
		}
	}
	if (given != NULL && (cfg_path != NULL || data != NULL)) {
		fprintf(stderr, "clmsync import: the repository is open already: no --config or --data\n");
		return 2;
	}
	if (what == NULL || strcmp(what, "contracts") != 0 || x.file == NULL) {
		fprintf(stderr, "clmsync import: usage: clmsync import contracts FILE.csv [options] (see --help)\n");
		return 2;
	}
	if (as != NULL && !user_ok(as)) {
		fprintf(stderr, "clmsync import: --as wants 1 to %d letters, digits or ._@-+\n", USER_MAX);
		return 2;
	}
	if (!parse_maps(maps, nmaps, m, &nm))
		return 2;
	snprintf(x.actor, sizeof(x.actor), "%s%s", as ? "user:" : "api:import", as ? as : "");
	x.tty = isatty(STDERR_FILENO);
	x.progress = force_progress || x.tty;
	x.today = cs_date_today();

	if ((fd = open(x.file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
		fprintf(stderr, "clmsync import: cannot read %s: %s\n", x.file, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > FILE_MAX) {
		fprintf(stderr, "clmsync import: %s is not a regular file of at most %zu bytes\n", x.file, FILE_MAX);
		goto out;
	}
	len = (size_t)sb.st_size;
	if (len == 0) {
		fprintf(stderr, "%s: no header line\n", x.file);
		goto out;
	}
	if ((p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		fprintf(stderr, "clmsync import: cannot map %s: %s\n", x.file, strerror(errno));
		goto out;
	}
	madvise(p, len, MADV_SEQUENTIAL);
	if (given == NULL && cli_repo_open("import", cfg_path, data, &repo) != 0)
		goto out;
	x.repo = given != NULL ? given : &repo;
	x.clm = x.repo->clm;
	if ((x.names = strmap_new(LOOKUP_MAX)) == NULL || (x.ids = strmap_new(LOOKUP_MAX)) == NULL ||
	    (x.numbers = strmap_new(LOOKUP_MAX)) == NULL || cs_id_new("cp", x.placeholder_cp) != CS_OK ||
	    cs_id_new("ct", x.placeholder_ct) != CS_OK) {
		fprintf(stderr, "clmsync import: out of memory\n");
		goto out;
	}
	rc = import(&x, p, len, skip_bad, dry_run, m, nm);
out:
	if (x.cols != NULL)
		for (size_t i = 0; i < x.ncols; i++)
			free(x.cols[i].header);
	free(x.cols);
	free(x.bad);
	free(x.items);
	free(x.bodies);
	free(x.at);
	strmap_free(x.names);
	strmap_free(x.ids);
	strmap_free(x.numbers);
	cli_repo_close(&repo);
	if (p != MAP_FAILED)
		munmap(p, len);
	if (fd >= 0)
		close(fd);
	return rc;
}

int
cmd_import(int argc, char **argv)
{
	return import_cmd(argc, argv, NULL);
}

int
cli_import_on(int argc, char **argv, struct cli_repo *repo)
{
	return import_cmd(argc, argv, repo);
}

/* cmd_mapping.c - clmsync mapping check: every mapped field checked against each org's describe. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/mapping_check.h"
#include "config/config.h"
#include "sync/sync.h"
#include "salesforce/sf.h"
#include "util/log.h"

#define EXIT_PROBLEMS 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3
#define REQUEST_TIMEOUT_MS 20000      /* per HTTP request to an org */
#define WHY_MAX 700                   /* bytes of an org's or a describe's failure text */
#define GLOBAL_NAMES_MAX 20000        /* sObject names kept for "did you mean" */

static void
usage(FILE *f)
{
	cli_help_print(cli_cmd_find("mapping"), f);
}

/* --- state --------------------------------------------------------------------------------- */

struct dcache {
	const char *sobject;          /* borrowed from the configuration */
	struct sf_describe *d;        /* NULL when the describe failed */
	cs_err err;
	char why[WHY_MAX];
};

struct orgrun {
	const struct cs_org *cfg;
	struct sf_org *org;
	struct sf_client *c;
	bool reachable;
	char why[WHY_MAX];
	struct dcache cache[CS_CONFIG_MAPPINGS_MAX];
	size_t ncache;
	json_t *global;               /* sObject names of the org, for suggestions; NULL until asked */
	bool global_tried;
};

struct maprun {
	const struct cs_mapping *m;
	struct orgrun *org;
	bool checked;
	struct mapcheck_list p;
};

struct run {
	const char *file;
	struct cs_config *cfg;
	struct orgrun orgs[CS_CONFIG_ORGS_MAX];
	size_t norgs;
	struct maprun maps[CS_CONFIG_MAPPINGS_MAX];
	size_t nmaps;
	size_t errors, warnings, unreachable;
};

static void
run_free(struct run *r)
{
	for (size_t i = 0; i < r->norgs; i++) {
		struct orgrun *o = &r->orgs[i];

		for (size_t k = 0; k < o->ncache; k++)
			sf_describe_free(o->cache[k].d);
		json_decref(o->global);
		sf_client_free(o->c);
		sf_org_free(o->org);
	}
	for (size_t i = 0; i < r->nmaps; i++)
		mapcheck_list_cleanup(&r->maps[i].p);
	cs_config_free(r->cfg);
	free(r);
}

/* --- talking to an org --------------------------------------------------------------------- */

/* Logs into o. False with o->why set when the org cannot be reached or refuses us. */
static bool
connect_org(struct orgrun *o)
{
	const struct cs_org *g = o->cfg;
	struct sf_org_config sc;
	struct sf_error e;

	sf_error_clear(&e);
	sync_org_config(g, &sc);
	sc.timeout_ms = REQUEST_TIMEOUT_MS;
	/* A person is waiting: one retry, then say what failed. */
	sc.retry.max_attempts = 2;
	sc.retry.base_ms = 200;
	sc.retry.cap_ms = 1000;
	sc.retry.max_total_ms = 5000;
	if (sf_org_new(&sc, &o->org, &e) != CS_OK || sf_client_new(o->org, &o->c) != CS_OK ||
	    sf_login(o->c, &e) != CS_OK) {
		const char *msg = e.message[0] ? e.message : cs_strerror(e.err);
		size_t pre = strlen("org ") + strlen(g->name) + 2;

		/* The connector names the org in its message; this line already does. */
		if (strncmp(msg, "org ", 4) == 0 && strncmp(msg + 4, g->name, strlen(g->name)) == 0 &&
		    strncmp(msg + pre - 2, ": ", 2) == 0)
			msg += pre;
		snprintf(o->why, sizeof(o->why), "cannot log in at %.200s (%s auth): %.400s",
		         g->login_url, cs_auth_type_name(g->auth.type), msg);
		return false;
	}
	o->reachable = true;
	return true;
}

/* True for failures that say the org, not one sObject, is out of reach. */
static bool
org_failure(cs_err e)
{
	return e == CS_ENET || e == CS_ETIMEOUT || e == CS_EAUTH || e == CS_ELIMIT;
}

/* The describe of sobject in o, fetched once. NULL with *c describing the failure. */
static struct dcache *
describe(struct orgrun *o, const char *sobject)
{
	struct dcache *c;
	struct sf_error e;

	for (size_t i = 0; i < o->ncache; i++)
		if (strcasecmp(o->cache[i].sobject, sobject) == 0)
			return &o->cache[i];
	if (o->ncache == CS_CONFIG_MAPPINGS_MAX)
		return NULL;   /* cannot happen: one entry per mapping at most */
	c = &o->cache[o->ncache++];
	c->sobject = sobject;
	sf_error_clear(&e);
	c->err = sf_describe(o->c, sobject, &c->d, &e);
	if (c->err != CS_OK)
		snprintf(c->why, sizeof(c->why), "%s", e.message[0] ? e.message : cs_strerror(c->err));
	return c;
}

/* " (did you mean X?)" from the org's sObject names, or "". */
static void
suggest_sobject(struct orgrun *o, const char *name, char *out, size_t n)
{
	const char **names = NULL;
	const char *near;
	json_t *list, *it;
	struct sf_error e;
	size_t i, k = 0;
	long status;

	out[0] = '\0';
	if (!o->global_tried) {
		o->global_tried = true;
		sf_error_clear(&e);
		if (sf_rest(o->c, "GET", "/sobjects", NULL, 0, &status, &o->global, &e) != CS_OK)
			o->global = NULL;
	}
	list = json_object_get(o->global, "sobjects");
	if (json_array_size(list) == 0 || json_array_size(list) > GLOBAL_NAMES_MAX ||
	    (names = calloc(json_array_size(list), sizeof(*names))) == NULL)
		return;
	json_array_foreach(list, i, it) {
		const char *s = json_string_value(json_object_get(it, "name"));

		if (s != NULL)
			names[k++] = s;
	}
	if ((near = mapcheck_suggest(name, names, k)) != NULL)
		snprintf(out, n, " (did you mean %s?)", near);
	free(names);
}

/* Checks one mapping of a reachable org. CS_ENOMEM only. */
static cs_err
check_one(struct maprun *mr)
{
	struct orgrun *o = mr->org;
	struct dcache *c = describe(o, mr->m->sobject);
	char near[160];

	if (c == NULL)
		return CS_ENOMEM;
	if (c->err == CS_OK) {
		mr->checked = true;
		return mapcheck_mapping(mr->m, c->d, &mr->p);
	}
	if (org_failure(c->err)) {
		o->reachable = false;
		snprintf(o->why, sizeof(o->why), "describe of %.80s failed: %.560s", mr->m->sobject, c->why);
		return CS_OK;
	}
	mr->checked = true;
	if (c->err == CS_ENOTFOUND) {
		suggest_sobject(o, mr->m->sobject, near, sizeof(near));
		return mapcheck_add(&mr->p, MAPCHECK_ERROR, "sobject_missing", MAPCHECK_MAPPING,
		                    "sObject %s does not exist in org %s or the integration user cannot "
		                    "see it%s; its %zu fields were not checked", mr->m->sobject, o->cfg->name,
		                    near, mr->m->nfields);
	}
	return mapcheck_add(&mr->p, MAPCHECK_ERROR, "describe_failed", MAPCHECK_MAPPING,
	                    "describe of %s failed: %s; its %zu fields were not checked",
	                    mr->m->sobject, c->why, mr->m->nfields);
}

/* --- results ------------------------------------------------------------------------------- */

static const char *
sev_name(enum mapcheck_sev s)
{
	return s == MAPCHECK_ERROR ? "error" : "warning";
}

/* The worst severity among mr's problems for field i (MAPCHECK_MAPPING for the mapping's own),
 * 0 when none. */
static int
worst(const struct maprun *mr, size_t i)
{
	int w = 0;

	for (size_t k = 0; k < mr->p.n; k++)
		if (mr->p.v[k].field == i && (int)mr->p.v[k].sev > w)
			w = (int)mr->p.v[k].sev;
	return w;
}

static void
count(struct run *r)
{
	for (size_t i = 0; i < r->nmaps; i++)
		for (size_t k = 0; k < r->maps[i].p.n; k++) {
			if (r->maps[i].p.v[k].sev == MAPCHECK_ERROR)
				r->errors++;
			else
				r->warnings++;
		}
	for (size_t i = 0; i < r->norgs; i++)
		r->unreachable += !r->orgs[i].reachable;
}

static int
exit_code(const struct run *r)
{
	return r->unreachable ? EXIT_UNREACHABLE : r->errors ? EXIT_PROBLEMS : 0;
}

static void
print_problem(const struct maprun *mr, const struct mapcheck_problem *p)
{
	const struct cs_field_map *f = p->field != MAPCHECK_MAPPING ? &mr->m->fields[p->field] : NULL;

	if (f != NULL)
		printf("  %-7s %s -> %s: %s\n", sev_name(p->sev), f->clm, f->sf, p->msg);
	else
		printf("  %-7s %s\n", sev_name(p->sev), p->msg);
}

static void
print_text(const struct run *r)
{
	size_t fields = 0, fok = 0;

	for (size_t i = 0; i < r->norgs; i++) {
		const struct orgrun *o = &r->orgs[i];

		if (o->reachable)
			printf("org %s: logged in at %s\n", o->cfg->name, o->cfg->login_url);
		else
			printf("org %s: FAILED: %s\n", o->cfg->name, o->why);
	}
	for (size_t i = 0; i < r->nmaps; i++) {
		const struct maprun *mr = &r->maps[i];
		const struct cs_mapping *m = mr->m;
		size_t nok = 0, shown = 0;

		printf("\n%s: %s <-> %s (org %s)\n", m->name, cs_entity_name(m->entity), m->sobject,
		       m->org);
		if (!mr->checked) {
			printf("  %-7s org %s could not be reached or logged into: %zu fields not checked\n",
			       "skipped", m->org, m->nfields);
			continue;
		}
		for (size_t k = 0; k < mr->p.n; k++)
			if (mr->p.v[k].field == MAPCHECK_MAPPING)
				print_problem(mr, &mr->p.v[k]);
		for (size_t j = 0; j < m->nfields; j++)
			for (size_t k = 0; k < mr->p.n; k++)
				if (mr->p.v[k].field == j)
					print_problem(mr, &mr->p.v[k]);
		if (mr->p.dropped)
			printf("  ... and %zu more problems\n", mr->p.dropped);
		if (worst(mr, MAPCHECK_MAPPING) == MAPCHECK_ERROR && mr->p.n > 0 &&
		    (strcmp(mr->p.v[0].code, "sobject_missing") == 0 ||
		     strcmp(mr->p.v[0].code, "describe_failed") == 0))
			continue;   /* nothing was checked field by field */
		for (size_t j = 0; j < m->nfields; j++)
			nok += worst(mr, j) == 0;
		fields += m->nfields;
		fok += nok;
		if (nok == 0)
			continue;
		printf("  %-7s %zu field%s:", "ok", nok, nok == 1 ? "" : "s");
		for (size_t j = 0; j < m->nfields; j++)
			if (worst(mr, j) == 0)
				printf("%s %s -> %s", shown++ ? "," : "", m->fields[j].clm, m->fields[j].sf);
		printf("\n");
	}
	printf("\n%s: %zu mapping%s, %zu field%s checked, %zu ok; %zu error%s, %zu warning%s", r->file,
	       r->nmaps, r->nmaps == 1 ? "" : "s", fields, fields == 1 ? "" : "s", fok, r->errors,
	       r->errors == 1 ? "" : "s", r->warnings, r->warnings == 1 ? "" : "s");
	if (r->unreachable)
		printf("; %zu org%s unreachable", r->unreachable, r->unreachable == 1 ? "" : "s");
	printf("\n");
}

static json_t *
problem_json(const struct mapcheck_problem *p)
{
	return json_pack("{s:s, s:s, s:s}", "severity", sev_name(p->sev), "code", p->code,
	                 "message", p->msg);
}

/* Appends to arr the problems of mr for field i; false when out of memory. */
static bool
problems_json(const struct maprun *mr, size_t i, json_t *arr)
{
	for (size_t k = 0; k < mr->p.n; k++)
		if (mr->p.v[k].field == i && json_array_append_new(arr, problem_json(&mr->p.v[k])) != 0)
			return false;
	return true;
}

static json_t *
mapping_json(const struct maprun *mr)
{
	const struct cs_mapping *m = mr->m;
	json_t *fields = json_array(), *own = json_array(), *out;
	bool ok = fields != NULL && own != NULL && problems_json(mr, MAPCHECK_MAPPING, own);
	bool whole = mr->checked && worst(mr, MAPCHECK_MAPPING) == MAPCHECK_ERROR && mr->p.n > 0 &&
	             (strcmp(mr->p.v[0].code, "sobject_missing") == 0 ||
	              strcmp(mr->p.v[0].code, "describe_failed") == 0);

	for (size_t j = 0; ok && j < m->nfields; j++) {
		json_t *fp = json_array(), *fo;
		int w = worst(mr, j);
		const char *st = !mr->checked || whole ? "unchecked" : w == MAPCHECK_ERROR ? "error" :
		                 w == MAPCHECK_WARN ? "warning" : "ok";

		ok = fp != NULL && problems_json(mr, j, fp);
		fo = ok ? json_pack("{s:s, s:s, s:s, s:o}", "clm", m->fields[j].clm, "sf",
		                    m->fields[j].sf, "status", st, "problems", fp) : NULL;
		if (fo == NULL)
			json_decref(fp);
		ok = fo != NULL && json_array_append_new(fields, fo) == 0;
	}
	if (!ok) {
		json_decref(fields);
		json_decref(own);
		return NULL;
	}
	out = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:I}", "name", m->name, "org", m->org,
	                "entity", cs_entity_name(m->entity), "sobject", m->sobject, "checked",
	                mr->checked, "problems", own, "fields", fields, "dropped",
	                (json_int_t)mr->p.dropped);
	return out;
}

static int
print_json(const struct run *r)
{
	json_t *orgs = json_array(), *maps = json_array(), *root = NULL;
	char *text = NULL;
	bool ok = orgs != NULL && maps != NULL;
	int code = exit_code(r);

	for (size_t i = 0; ok && i < r->norgs; i++) {
		const struct orgrun *o = &r->orgs[i];

		ok = json_array_append_new(orgs, json_pack("{s:s, s:s, s:b, s:s?}", "name", o->cfg->name,
		                           "login_url", o->cfg->login_url, "reachable", o->reachable,
		                           "error", o->reachable ? NULL : o->why)) == 0;
	}
	for (size_t i = 0; ok && i < r->nmaps; i++)
		ok = json_array_append_new(maps, mapping_json(&r->maps[i])) == 0;
	if (ok)
		root = json_pack("{s:s, s:s, s:I, s:I, s:O, s:O}", "file", r->file, "result",
		                 code == EXIT_UNREACHABLE ? "unreachable" : code ? "errors" :
		                 r->warnings ? "warnings" : "ok", "errors", (json_int_t)r->errors,
		                 "warnings", (json_int_t)r->warnings, "orgs", orgs, "mappings", maps);
	if (root == NULL || (text = json_dumps(root, JSON_INDENT(2))) == NULL) {
		fprintf(stderr, "clmsync mapping: out of memory\n");
		code = EXIT_PROBLEMS;
	} else {
		printf("%s\n", text);
	}
	free(text);
	json_decref(root);
	json_decref(orgs);
	json_decref(maps);
	return code;
}

/* --- the command --------------------------------------------------------------------------- */

static int
config_failed(const char *path, cs_err rc, const struct cs_error_list *errs, bool json)
{
	json_t *root, *list;
	char *text = NULL;

	if (!json) {
		cs_error_list_print(errs, stderr);
		if (errs->n == 0)
			fprintf(stderr, "%s: %s\n", path, cs_strerror(rc));
		fprintf(stderr, "%s: invalid (%zu error%s)\n", path, errs->n + errs->dropped,
		        errs->n + errs->dropped == 1 ? "" : "s");
		return EXIT_PROBLEMS;
	}
	list = json_array();
	for (size_t i = 0; list != NULL && i < errs->n; i++)
		json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:s}", "line", errs->v[i].line,
		                      "key", errs->v[i].key, "message", errs->v[i].msg, "text",
		                      errs->v[i].text));
	if (list != NULL && errs->n == 0)
		json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:s}", "line", 0, "key", "",
		                      "message", cs_strerror(rc), "text", cs_strerror(rc)));
	root = json_pack("{s:s, s:s, s:o?, s:I}", "file", path, "result", "invalid_config",
	                 "config_errors", list, "config_errors_dropped", (json_int_t)errs->dropped);
	if (root != NULL && (text = json_dumps(root, JSON_INDENT(2))) != NULL)
		printf("%s\n", text);
	else
		fprintf(stderr, "clmsync mapping: out of memory\n");
	free(text);
	json_decref(root);
	return EXIT_PROBLEMS;
}

static int
check(const char *path, const char *only, bool json)
{
	struct cs_error_list errs;
	struct run *r = calloc(1, sizeof(*r));
	cs_err rc;
	int code = EXIT_PROBLEMS;

	cs_error_list_init(&errs);
	if (r == NULL) {
		fprintf(stderr, "clmsync mapping: out of memory\n");
		goto out;
	}
	r->file = path;
	if ((rc = cs_config_load(path, &r->cfg, &errs)) != CS_OK) {
		code = config_failed(path, rc, &errs, json);
		goto out;
	}
	if (only != NULL && cs_config_org(r->cfg, only) == NULL) {
		fprintf(stderr, "clmsync mapping: %s has no org named '%s'", path, only);
		for (size_t i = 0; i < r->cfg->norgs; i++)
			fprintf(stderr, "%s%s", i ? ", " : " (orgs: ", r->cfg->orgs[i].name);
		fprintf(stderr, "%s\n", r->cfg->norgs ? ")" : "");
		code = EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < r->cfg->norgs; i++)
		if (only == NULL || strcmp(r->cfg->orgs[i].name, only) == 0)
			r->orgs[r->norgs++].cfg = &r->cfg->orgs[i];
	for (size_t i = 0; i < r->cfg->nmappings; i++) {
		const struct cs_mapping *m = &r->cfg->mappings[i];

		for (size_t k = 0; k < r->norgs; k++)
			if (r->orgs[k].cfg == m->org_cfg) {
				r->maps[r->nmaps].m = m;
				r->maps[r->nmaps].org = &r->orgs[k];
				mapcheck_list_init(&r->maps[r->nmaps].p);
				r->nmaps++;
			}
	}
	for (size_t k = 0; k < r->norgs; k++) {
		struct orgrun *o = &r->orgs[k];

		if (!connect_org(o))
			continue;
		for (size_t i = 0; i < r->nmaps && o->reachable; i++)
			if (r->maps[i].org == o && check_one(&r->maps[i]) != CS_OK) {
				fprintf(stderr, "clmsync mapping: out of memory\n");
				goto out;
			}
		/* An org lost half-way is not half-checked: none of its mappings count. */
		for (size_t i = 0; i < r->nmaps && !o->reachable; i++)
			if (r->maps[i].org == o) {
				r->maps[i].checked = false;
				mapcheck_list_cleanup(&r->maps[i].p);
			}
	}
	count(r);
	if (json) {
		code = print_json(r);
	} else {
		print_text(r);
		code = exit_code(r);
	}
out:
	if (r != NULL)
		run_free(r);
	cs_error_list_cleanup(&errs);
	return code;
}

static bool
help_arg(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

int
cmd_mapping(int argc, char **argv)
{
	const char *file = NULL, *org = NULL;
	bool json = false;

	for (int i = 1; i < argc; i++)
		if (help_arg(argv[i])) {
			usage(stdout);
			return 0;
		}
	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		if (argc >= 2)
			fprintf(stderr, "clmsync mapping: unknown subcommand '%s'\n\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--org") == 0 && i + 1 < argc && org == NULL) {
			org = argv[++i];
		} else if (strncmp(argv[i], "--org=", 6) == 0 && org == NULL) {
			org = argv[i] + 6;
		} else if (argv[i][0] != '-' && file == NULL) {
			file = argv[i];
		} else {
			fprintf(stderr, "clmsync mapping: unexpected argument '%s'\n\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (file == NULL) {
		fprintf(stderr, "clmsync mapping: check needs a configuration FILE\n\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	/* The connector logs each login and retry; this command reports them itself. */
	cs_log_setup(CS_LOG_ERROR, 0);
	return check(file, org, json);
}

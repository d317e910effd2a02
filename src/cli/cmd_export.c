/* cmd_export.c - clmsync export contracts: the repository's contracts as CSV or JSON lines, page by page. */
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "util/buf.h"
#include "util/csv.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 1000                  /* contracts per store read: memory stays flat whatever the table */
#define CACHE_MAX 100000           /* counterparty names and parent numbers remembered; cleared when full */
#define ROW_MAX (4u * 1024 * 1024) /* one CSV row or JSON line, bytes */
#define PATH_MAX_LEN 4096

struct exp {
	struct clm *clm;
	const struct cs_attr_list *custom;
	FILE *out;
	bool csv;
	struct strmap *names, *numbers;   /* counterparty id -> legal name, contract id -> number */
	struct cs_buf row;
	unsigned long n;
};

static void
usage(FILE *f)
{
	cli_help_print(cli_cmd_find("export"), f);
}

/* The value of id's field (a counterparty's legal_name, a contract's number) through cache m;
 * "" when the record is gone. Cleared when full so that memory stays bounded. */
static const char *
lookup(struct exp *x, struct strmap *m, enum clm_kind k, const char *id, const char *field)
{
	struct clm_fail f;
	json_t *rec = NULL;
	const char *v;

	if ((v = strmap_get(m, id)) != NULL)
		return v;
	if (clm_get(x->clm, k, NULL, id, &rec, &f) != CS_OK)
		rec = NULL;
	v = rec ? cs_json_get_str(rec, field) : NULL;
	if (strmap_put(m, id, v ? v : "") == CS_ELIMIT) {
		strmap_clear(m);
		strmap_put(m, id, v ? v : "");
	}
	json_decref(rec);
	v = strmap_get(m, id);
	return v ? v : "";
}

/* Appends one JSON value as a CSV cell: absent or null empty, strings as they are, arrays as
 * their items separated by spaces (amendment_ids), anything else as compact JSON. */
static cs_err
cell(struct csv_writer *w, const json_t *v)
{
	char num[32];
	char *s;
	cs_err rc;

	if (v == NULL || json_is_null(v))
		return csv_write_empty(w);
	if (json_is_string(v))
		return csv_write_value(w, json_string_value(v), json_string_length(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return csv_write_str(w, num);
	}
	if (json_is_boolean(v))
		return csv_write_str(w, json_is_true(v) ? "true" : "false");
	if (json_is_array(v)) {
		struct cs_buf b;
		size_t i;
		const json_t *it;
		cs_buf_init(&b, ROW_MAX);
		rc = CS_OK;
		json_array_foreach(v, i, it)
			if (rc == CS_OK && json_is_string(it))
				rc = cs_buf_printf(&b, "%s%s", b.len ? " " : "", json_string_value(it));
		if (rc == CS_OK)
			rc = csv_write_value(w, b.data ? b.data : "", b.len);
		cs_buf_cleanup(&b);
		return rc;
	}
	if ((s = json_dumps(v, JSON_COMPACT)) == NULL)
		return CS_ENOMEM;
	rc = csv_write_str(w, s);
	free(s);
	return rc;
}

static cs_err
header(struct exp *x)
{
	struct csv_writer w;
	const struct cli_col *c;
	size_t n;
	cs_err rc = CS_OK;

	c = cli_contract_cols(&n);
	csv_writer_init(&w, &x->row, ',', CSV_EOL_LF);
	for (size_t i = 0; i < n && rc == CS_OK; i++)
		rc = csv_write_plain(&w, c[i].name, strlen(c[i].name));
	for (size_t i = 0; i < x->custom->n && rc == CS_OK; i++)
		rc = cs_buf_printf(&x->row, ",custom.%s", x->custom->v[i].name);
	return rc == CS_OK ? csv_write_eol(&w) : rc;
}

static cs_err
csv_row(struct exp *x, const json_t *rec)
{
	struct csv_writer w;
	const struct cli_col *c;
	const json_t *money = json_object_get(rec, "total_value"), *custom = json_object_get(rec, "custom");
	const char *id;
	size_t n;
	cs_err rc = CS_OK;

	c = cli_contract_cols(&n);
	csv_writer_init(&w, &x->row, ',', CSV_EOL_LF);
	for (size_t i = 0; i < n && rc == CS_OK; i++) {
		switch (c[i].type) {
		case CLI_COL_AMOUNT:
			rc = cell(&w, json_object_get(money, "amount"));
			break;
		case CLI_COL_CURRENCY:
			rc = cell(&w, json_object_get(money, "currency"));
			break;
		case CLI_COL_CP_NAME:
			id = cs_json_get_str(rec, "counterparty_id");
			rc = id ? csv_write_str(&w, lookup(x, x->names, CLM_COUNTERPARTY, id, "legal_name")) : csv_write_empty(&w);
			break;
		case CLI_COL_PARENT_NUMBER:
			id = cs_json_get_str(rec, "parent_contract_id");
			rc = id ? csv_write_str(&w, lookup(x, x->numbers, CLM_CONTRACT, id, "number")) : csv_write_empty(&w);
			break;
		default:
			rc = cell(&w, json_object_get(rec, c[i].name));
		}
	}
	for (size_t i = 0; i < x->custom->n && rc == CS_OK; i++)
		rc = cell(&w, json_object_get(custom, x->custom->v[i].name));
	return rc == CS_OK ? csv_write_eol(&w) : rc;
}

static cs_err
emit(struct exp *x, const json_t *rec)
{
	cs_err rc;

	cs_buf_reset(&x->row);
	if (x->csv)
		rc = csv_row(x, rec);
	else if ((rc = cs_json_dump(rec, &x->row)) == CS_OK)
		rc = cs_buf_putc(&x->row, '\n');
	if (rc != CS_OK)
		return rc;
	if (fwrite(x->row.data, 1, x->row.len, x->out) != x->row.len)
		return CS_EIO;
	x->n++;
	return CS_OK;
}

/* Streams every matching contract, PAGE at a time, through emit. */
static int
run(struct exp *x, const char *status, const char *since)
{
	struct clm_list_q q;
	struct clm_fail f;
	json_t *page = NULL, *rec;
	char cursor[512] = "";
	size_t i;
	cs_err rc;

	for (bool first = true;; first = false) {
		const char *next;
		memset(&q, 0, sizeof(q));
		q.kind = CLM_CONTRACT;
		q.status = status;
		q.updated_since = since;
		q.limit = PAGE;
		q.cursor = cursor[0] ? cursor : NULL;
		if (clm_list(x->clm, &q, &page, &f) != CS_OK) {
			fprintf(stderr, "clmsync export: %s\n", f.msg);
			return f.status == 400 ? 2 : 1;
		}
		/* the header once the filters are known good: a refused --status leaves stdout empty */
		if (first && x->csv) {
			cs_buf_reset(&x->row);
			if (header(x) != CS_OK || fwrite(x->row.data, 1, x->row.len, x->out) != x->row.len) {
				json_decref(page);
				goto ioerr;
			}
		}
		json_array_foreach(json_object_get(page, "data"), i, rec) {
			if ((rc = emit(x, rec)) != CS_OK) {
				json_decref(page);
				if (rc == CS_EIO)
					goto ioerr;
				fprintf(stderr, "clmsync export: contract %s: %s\n", cs_json_get_str(rec, "id"), cs_strerror(rc));
				return 1;
			}
		}
		next = cs_json_get_str(page, "next_cursor");
		if (next == NULL || (size_t)snprintf(cursor, sizeof(cursor), "%s", next) >= sizeof(cursor)) {
			json_decref(page);
			break;
		}
		json_decref(page);
	}
	return 0;
ioerr:
	fprintf(stderr, "clmsync export: cannot write: %s\n", strerror(errno));
	return 1;
}

/* Makes the rename of a file in path's directory durable. */
static void
sync_dir(const char *path)
{
	char tmp[PATH_MAX_LEN];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s", path);
	if ((fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

int
cmd_export(int argc, char **argv)
{
	const char *cfg_path = NULL, *data = NULL, *format = "csv", *status = NULL, *since = NULL;
	const char *output = NULL, *what = NULL;
	struct cli_repo repo;
	struct exp x;
	char tmp[PATH_MAX_LEN];
	int fd, rc = 1;

	memset(&x, 0, sizeof(x));
	memset(&repo, 0, sizeof(repo));
	tmp[0] = '\0';
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (a[0] != '-') {
			if (what != NULL) {
				fprintf(stderr, "clmsync export: unexpected argument '%s' (see --help)\n", a);
				return 2;
			}
			what = a;
			continue;
		}
		if (val == NULL) {
			fprintf(stderr, "clmsync export: %s needs a value (see --help)\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--config") == 0)
			cfg_path = val;
		else if (strcmp(a, "--data") == 0)
			data = val;
		else if (strcmp(a, "--format") == 0)
			format = val;
		else if (strcmp(a, "--status") == 0)
			status = val;
		else if (strcmp(a, "--updated-since") == 0)
			since = val;
		else if (strcmp(a, "--output") == 0)
			output = val;
		else {
			fprintf(stderr, "clmsync export: unknown option '%s' (see --help)\n", a);
			return 2;
		}
	}
	if (what == NULL || strcmp(what, "contracts") != 0) {
		fprintf(stderr, "clmsync export: say what to export: `clmsync export contracts` (see --help)\n");
		return 2;
	}
	if (strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0) {
		fprintf(stderr, "clmsync export: --format is csv or jsonl, not '%s'\n", format);
		return 2;
	}
	if (cli_repo_open("export", cfg_path, data, &repo) != 0)
		goto out;
	x.clm = repo.clm;
	x.custom = &repo.cfg->custom_contract;
	x.csv = strcmp(format, "csv") == 0;
	cs_buf_init(&x.row, ROW_MAX);
	if ((x.names = strmap_new(CACHE_MAX)) == NULL || (x.numbers = strmap_new(CACHE_MAX)) == NULL) {
		fprintf(stderr, "clmsync export: out of memory\n");
		goto out;
	}
	if (output != NULL) {
		/* the temporary file sits next to FILE so that the rename stays on one file system */
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", output) >= sizeof(tmp)) {
			fprintf(stderr, "clmsync export: --output path too long\n");
			tmp[0] = '\0';
			goto out;
		}
		if ((fd = mkstemp(tmp)) < 0 || (x.out = fdopen(fd, "w")) == NULL) {
			fprintf(stderr, "clmsync export: cannot create %s: %s\n", tmp, strerror(errno));
			if (fd >= 0)
				close(fd);
			else
				tmp[0] = '\0';
			goto out;
		}
	} else
		x.out = stdout;
	if ((rc = run(&x, status, since)) != 0)
		goto out;
	rc = 1;
	if (fflush(x.out) != 0 || (output != NULL && fsync(fileno(x.out)) != 0)) {
		fprintf(stderr, "clmsync export: cannot write %s: %s\n", output ? output : "stdout", strerror(errno));
		goto out;
	}
	if (output != NULL) {
		FILE *f = x.out;
		x.out = NULL;
		if (fclose(f) != 0 || rename(tmp, output) != 0) {
			fprintf(stderr, "clmsync export: cannot write %s: %s\n", output, strerror(errno));
			goto out;
		}
		tmp[0] = '\0';
		sync_dir(output);
	}
	fprintf(stderr, "clmsync export: %lu contract%s written%s%s\n", x.n, x.n == 1 ? "" : "s",
	    output ? " to " : "", output ? output : "");
	rc = 0;
out:
	if (x.out != NULL && x.out != stdout)
		fclose(x.out);
	if (tmp[0] != '\0')
		unlink(tmp);
	strmap_free(x.names);
	strmap_free(x.numbers);
	cs_buf_cleanup(&x.row);
	cli_repo_close(&repo);
	return rc;
}

/* bulk.c - Bulk API 2.0: ingest jobs (CSV upload, close, poll, per-record results matched back to the input) and
 * query jobs (results pages followed by Sforce-Locator, CSV read into JSON records). */
#include "salesforce/sf_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/csv.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#define DEF_POLL_MIN_MS 200
#define DEF_POLL_MAX_MS 10000
#define DEF_JOB_TIMEOUT_MS (2L * 3600 * 1000)
#define DEF_JOB_BYTES ((size_t)32 << 20)
#define MAX_JOB_BYTES ((size_t)100 << 20)     /* Salesforce takes 150 MB once base64-encoded: 100 MB raw */
#define DEF_MAX_RECORDS 10000
#define MAX_MAX_RECORDS 1000000
#define JOB_ATTEMPTS 3                        /* a chunk whose upload failed goes into a new job this often */
#define LOCATOR_MAX 256
#define COLUMN_MAX 255                        /* bytes in a column name ("Account.CLM_Id__c") */
#define RESULT_SLACK ((size_t)16 << 20)
#define RESULT_MAX ((size_t)1 << 30)          /* bytes in one result file we accept */
#define ROW_KEY_MAX ((size_t)8 << 20)         /* bytes in one row's matching key */
#define ROWS_MAX ((size_t)1 << 26)            /* rows one upload may have */

/* --- the rows of an upload and the index that finds each again in the result files ------------ */

/*
 * Result files are not in the order of the upload, and Salesforce offers no row number: each
 * result row repeats the uploaded values of its row, so a row is found by its values. The key is
 * the row's values in upload column order, each length-prefixed. Salesforce re-renders doubles in
 * successful results ("912260031" comes back as "9.12260031E8"), so a second key with every
 * number normalised to the double it denotes catches those; it is consulted only when the exact
 * key finds nothing. Rows with equal keys are interchangeable (the same values went in), and each
 * result row takes the first of them not matched yet.
 */
struct keyidx {
	size_t *slot;        /* first row + 1 of a key's chain; 0 = empty */
	size_t *cur;         /* the chain's first row that may still be unmatched, + 1 */
};

struct sf_bulk_rows {
	char **cols;
	size_t ncols;
	size_t n, cap_rows;
	char **key, **nkey;  /* per row: the exact and the normalised key */
	size_t *next, *nnext;
	unsigned char *state;     /* enum sf_bulk_file + 1, 0 while unmatched */
	size_t cap;               /* slots, a power of two, at least 2n */
	struct keyidx raw, norm;
	bool indexed;
};

static void
result_clear(struct sf_result *r)
{
	r->id[0] = '\0';
	r->success = false;
	r->created = false;
	r->nerrors = 0;
	sf_error_clear(&r->error);
}

static char *
dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

cs_err
sf_bulk_rows_new(const char *const *cols, size_t ncols, struct sf_bulk_rows **out)
{
	struct sf_bulk_rows *r;

	*out = NULL;
	if (ncols == 0 || ncols > CSV_MAX_COLUMNS)
		return CS_EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL || (r->cols = calloc(ncols, sizeof(*r->cols))) == NULL) {
		free(r);
		return CS_ENOMEM;
	}
	r->ncols = ncols;
	for (size_t i = 0; i < ncols; i++) {
		if ((r->cols[i] = strdup(cols[i])) == NULL) {
			sf_bulk_rows_free(r);
			return CS_ENOMEM;
		}
	}
	*out = r;
	return CS_OK;
}

void
sf_bulk_rows_free(struct sf_bulk_rows *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ncols; i++)
		free(r->cols[i]);
	for (size_t i = 0; i < r->n; i++) {
		free(r->key[i]);
		free(r->nkey[i]);
	}
	free(r->cols);
	free(r->key);
	free(r->nkey);
	free(r->next);
	free(r->nnext);
	free(r->state);
	free(r->raw.slot);
	free(r->raw.cur);
	free(r->norm.slot);
	free(r->norm.cur);
	free(r);
}

size_t
sf_bulk_rows_count(const struct sf_bulk_rows *r)
{
	return r->n;
}

int
sf_bulk_rows_state(const struct sf_bulk_rows *r, size_t row)
{
	return row < r->n && r->state[row] ? r->state[row] - 1 : -1;
}

/* True when s[0..n) is a plain decimal number: [+-] digits [. digits] [e|E [+-] digits], with
 * digits on at least one side of the point. strtod alone would also take hex, inf and nan. */
static bool
is_number(const char *s, size_t n)
{
	size_t i = 0, d = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, d++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, d++;
	}
	if (d == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t e = 0;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, e++;
		if (e == 0)
			return false;
	}
	return i == n && n < 400;
}

/* Appends one value to a key: its length, ':', its bytes; with norm, a number as the double it
 * denotes. */
static cs_err
key_put(struct cs_buf *b, const char *s, size_t n, bool norm)
{
	char num[64];
	cs_err rc;

	if (norm && is_number(s, n)) {
		char tmp[400];
		double d;

		memcpy(tmp, s, n);
		tmp[n] = '\0';
		d = strtod(tmp, NULL);
		if (isfinite(d)) {
			snprintf(num, sizeof(num), "%.17g", d == 0 ? 0.0 : d);
			s = num;
			n = strlen(num);
		}
	}
	if ((rc = cs_buf_printf(b, "%zu:", n)) != CS_OK)
		return rc;
	return cs_buf_append(b, s, n);
}

cs_err
sf_bulk_rows_add(struct sf_bulk_rows *r, const char *const *vals, const size_t *lens)
{
	struct cs_buf k, nk;
	cs_err rc = CS_OK;

	if (r->indexed)
		return CS_ESTATE;
	if (r->n == r->cap_rows) {
		size_t nc = r->cap_rows ? r->cap_rows * 2 : 64;
		char **a, **b;
		size_t *c, *d;
		unsigned char *s;

		if (nc > ROWS_MAX)
			return CS_ETOOBIG;
		if ((a = realloc(r->key, nc * sizeof(*a))) != NULL)
			r->key = a;
		if ((b = realloc(r->nkey, nc * sizeof(*b))) != NULL)
			r->nkey = b;
		if ((c = realloc(r->next, nc * sizeof(*c))) != NULL)
			r->next = c;
		if ((d = realloc(r->nnext, nc * sizeof(*d))) != NULL)
			r->nnext = d;
		if ((s = realloc(r->state, nc)) != NULL)
			r->state = s;
		if (a == NULL || b == NULL || c == NULL || d == NULL || s == NULL)
			return CS_ENOMEM;
		r->cap_rows = nc;
	}
	cs_buf_init(&k, ROW_KEY_MAX);
	cs_buf_init(&nk, ROW_KEY_MAX);
	for (size_t i = 0; i < r->ncols && rc == CS_OK; i++) {
		const char *v = vals[i] ? vals[i] : "";
		size_t n = vals[i] ? lens[i] : 0;

		if ((rc = key_put(&k, v, n, false)) == CS_OK)
			rc = key_put(&nk, v, n, true);
	}
	if (rc == CS_OK && (k.data == NULL || nk.data == NULL))
		rc = CS_EINVAL;
	if (rc != CS_OK) {
		cs_buf_cleanup(&k);
		cs_buf_cleanup(&nk);
		return rc;
	}
	r->key[r->n] = cs_buf_take(&k);
	r->nkey[r->n] = cs_buf_take(&nk);
	r->state[r->n] = 0;
	r->next[r->n] = r->nnext[r->n] = 0;
	r->n++;
	return CS_OK;
}

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

/* Puts row into idx (keys from keys, chains in next). */
static void
idx_put(struct sf_bulk_rows *r, struct keyidx *idx, char **keys, size_t *next, size_t row)
{
	size_t mask = r->cap - 1, i = (size_t)hash_str(keys[row]) & mask;

	for (;; i = (i + 1) & mask) {
		size_t s = idx->slot[i];

		if (s == 0) {
			idx->slot[i] = idx->cur[i] = row + 1;
			return;
		}
		if (strcmp(keys[s - 1], keys[row]) == 0) {
			/* append to the chain: rows keep upload order within a key */
			size_t t = s - 1;
			while (next[t] != 0)
				t = next[t] - 1;
			next[t] = row + 1;
			return;
		}
	}
}

static cs_err
build_index(struct sf_bulk_rows *r)
{
	size_t cap = 16;

	while (cap < 2 * r->n)
		cap *= 2;
	r->cap = cap;
	r->raw.slot = calloc(cap, sizeof(size_t));
	r->raw.cur = calloc(cap, sizeof(size_t));
	r->norm.slot = calloc(cap, sizeof(size_t));
	r->norm.cur = calloc(cap, sizeof(size_t));
	if (r->raw.slot == NULL || r->raw.cur == NULL || r->norm.slot == NULL || r->norm.cur == NULL)
		return CS_ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		idx_put(r, &r->raw, r->key, r->next, i);
		idx_put(r, &r->norm, r->nkey, r->nnext, i);
	}
	r->indexed = true;
	return CS_OK;
}

/* The first unmatched row whose key in idx equals key, or SIZE_MAX. */
static size_t
idx_take(struct sf_bulk_rows *r, struct keyidx *idx, char **keys, size_t *next, const char *key)
{
	size_t mask = r->cap - 1, i = (size_t)hash_str(key) & mask;

	for (;; i = (i + 1) & mask) {
		size_t s = idx->slot[i];

		if (s == 0)
			return SIZE_MAX;
		if (strcmp(keys[s - 1], key) != 0)
			continue;
		/* skip rows the other index matched already; each is skipped once */
		while (idx->cur[i] != 0 && r->state[idx->cur[i] - 1] != 0)
			idx->cur[i] = next[idx->cur[i] - 1];
		if (idx->cur[i] == 0)
			return SIZE_MAX;
		return idx->cur[i] - 1;
	}
}

/* Reads "sf__Error" text: "CODE:message:Field1,Field2 --" (the fields part may be empty). */
void
sf_bulk_error_parse(struct sf_error *e, const char *s, size_t n)
{
	size_t end = n, colon, i;

	sf_error_clear(e);
	e->err = CS_EHTTP;
	while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\r' || s[end - 1] == '\n'))
		end--;
	if (end >= 2 && s[end - 1] == '-' && s[end - 2] == '-') {
		end -= 2;
		while (end > 0 && s[end - 1] == ' ')
			end--;
	}
	for (colon = 0; colon < end && s[colon] != ':'; colon++)
		if (!((s[colon] >= 'A' && s[colon] <= 'Z') || (s[colon] >= 'a' && s[colon] <= 'z') ||
		    (s[colon] >= '0' && s[colon] <= '9') || s[colon] == '_'))
			break;
	if (colon > 0 && colon < end && s[colon] == ':' && colon < sizeof(e->code)) {
		size_t from = colon + 1, last = end;

		memcpy(e->code, s, colon);
		e->code[colon] = '\0';
		/* the fields part follows the last ':' when it holds only field names */
		for (i = end; i > from; i--)
			if (s[i - 1] == ':')
				break;
		if (i > from) {
			bool names = true;
			for (size_t k = i; k < end && names; k++)
				names = (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') ||
				    s[k] == '_' || s[k] == ',' || s[k] == '.' || s[k] == ' ';
			if (names) {
				size_t at = 0;
				for (size_t k = i; k < end && at + 1 < sizeof(e->fields); k++)
					if (s[k] != ' ')
						e->fields[at++] = s[k];
				e->fields[at] = '\0';
				last = i - 1;
			}
		}
		n = last - from;
		if (n >= sizeof(e->message))
			n = sizeof(e->message) - 1;
		memcpy(e->message, s + from, n);
		e->message[n] = '\0';
	} else {
		n = end < sizeof(e->message) ? end : sizeof(e->message) - 1;
		memcpy(e->message, s, n);
		e->message[n] = '\0';
	}
	/* a message cut inside a UTF-8 character would not be valid text */
	for (n = strlen(e->message); n > 0 && !cs_utf8_valid(e->message, n); n--)
		e->message[n - 1] = '\0';
	for (n = strlen(e->message); n > 0 && e->message[n - 1] == ' '; n--)
		e->message[n - 1] = '\0';
	if (e->message[0] == '\0')
		sf_copy(e->message, sizeof(e->message), e->code[0] ? e->code : "the record failed without a reason");
	e->transient = sf_code_transient(e->code);
}

static bool
is_id(const char *s, size_t n)
{
	if (n != 15 && n != 18)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return true;
}

cs_err
sf_bulk_results_apply(struct sf_bulk_rows *r, enum sf_bulk_file which, const char *csv, size_t len,
    struct sf_result *res, size_t *matched, size_t *unknown, struct sf_error *e)
{
	struct csv_reader rd;
	const struct csv_field *f;
	size_t nf, lead = which == SF_BULK_UNPROCESSED ? 0 : 2;
	size_t *map = NULL;          /* upload column -> result column */
	const char **vals = NULL;
	size_t *lens = NULL;
	struct cs_buf k;
	struct cs_error ce = { 0 };
	cs_err rc = CS_OK;

	*matched = *unknown = 0;
	sf_error_clear(e);
	if (!r->indexed && (rc = build_index(r)) != CS_OK)
		return sf_fail(e, rc, false, "out of memory");
	if (len == 0)
		return CS_OK;              /* no file: no rows */
	csv_reader_init(&rd, csv, len, ',', CSV_EOL_ANY);
	cs_buf_init(&k, ROW_KEY_MAX);
	map = calloc(r->ncols, sizeof(*map));
	vals = calloc(r->ncols, sizeof(*vals));
	lens = calloc(r->ncols, sizeof(*lens));
	if (map == NULL || vals == NULL || lens == NULL) {
		rc = sf_fail(e, CS_ENOMEM, false, "out of memory");
		goto out;
	}
	if ((rc = csv_reader_next(&rd, &f, &nf, &ce)) != CS_OK || f == NULL) {
		rc = f == NULL && rc == CS_OK ? CS_OK : sf_fail(e, CS_EPARSE, false, "result file: %s", ce.msg);
		goto out;
	}
	/* the header: Salesforce's own columns, then the uploaded ones (found by name) */
	if (lead == 2 && (nf < 2 || strcmp(f[0].p, "sf__Id") != 0 ||
	    strcmp(f[1].p, which == SF_BULK_SUCCESSFUL ? "sf__Created" : "sf__Error") != 0)) {
		rc = sf_fail(e, CS_EPARSE, false, "result file: unexpected header");
		goto out;
	}
	for (size_t c = 0; c < r->ncols; c++) {
		map[c] = SIZE_MAX;
		for (size_t i = lead; i < nf; i++)
			if (strcasecmp(f[i].p, r->cols[c]) == 0)
				map[c] = i;
		if (map[c] == SIZE_MAX) {
			rc = sf_fail(e, CS_EPARSE, false, "result file: the uploaded column %.80s is missing", r->cols[c]);
			goto out;
		}
	}
	for (;;) {
		size_t row;

		if ((rc = csv_reader_next(&rd, &f, &nf, &ce)) != CS_OK) {
			rc = sf_fail(e, CS_EPARSE, false, "result file: %s", ce.msg);
			goto out;
		}
		if (f == NULL)
			break;
		for (size_t c = 0; c < r->ncols; c++) {
			vals[c] = f[map[c]].p;
			lens[c] = f[map[c]].n;
		}
		cs_buf_reset(&k);
		for (size_t c = 0; c < r->ncols && rc == CS_OK; c++)
			rc = key_put(&k, vals[c], lens[c], false);
		if (rc != CS_OK || k.data == NULL) {
			rc = sf_fail(e, CS_ETOOBIG, false, "result file: a row over %zu bytes", (size_t)ROW_KEY_MAX);
			goto out;
		}
		row = idx_take(r, &r->raw, r->key, r->next, k.data);
		if (row == SIZE_MAX) {
			cs_buf_reset(&k);
			for (size_t c = 0; c < r->ncols && rc == CS_OK; c++)
				rc = key_put(&k, vals[c], lens[c], true);
			if (rc != CS_OK || k.data == NULL) {
				rc = sf_fail(e, CS_ETOOBIG, false, "result file: a row over %zu bytes", (size_t)ROW_KEY_MAX);
				goto out;
			}
			row = idx_take(r, &r->norm, r->nkey, r->nnext, k.data);
		}
		if (row == SIZE_MAX) {
			(*unknown)++;          /* a row we did not upload, or reported twice */
			continue;
		}
		r->state[row] = (unsigned char)(which + 1);
		(*matched)++;
		if (res == NULL)
			continue;
		result_clear(&res[row]);
		if (which == SF_BULK_SUCCESSFUL) {
			res[row].success = true;
			if (is_id(f[0].p, f[0].n))
				sf_copy(res[row].id, sizeof(res[row].id), f[0].p);
			res[row].created = strcasecmp(f[1].p, "true") == 0;
		} else if (which == SF_BULK_FAILED) {
			if (is_id(f[0].p, f[0].n))
				sf_copy(res[row].id, sizeof(res[row].id), f[0].p);
			sf_bulk_error_parse(&res[row].error, f[1].p, f[1].n);
			res[row].nerrors = 1;
		} else {
			sf_fail(&res[row].error, CS_ESTATE, true, "not processed: the job ended before this record");
			res[row].nerrors = 1;
		}
	}
out:
	csv_reader_cleanup(&rd);
	cs_buf_cleanup(&k);
	free(map);
	free(vals);
	free(lens);
	return rc;
}

/* --- values to CSV text --------------------------------------------------------------------- */

/* Column names: field names and relationship paths ("Account.CLM_Id__c", "Owner:User.Email"). */
static bool
column_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > COLUMN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == ':'))
			return false;
	return s[0] != '.' && s[n - 1] != '.';
}

/* The shortest text that reads back as d. */
static void
real_text(double d, char *out, size_t cap)
{
	for (int p = 1; p <= 17; p++) {
		snprintf(out, cap, "%.*g", p, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

/* The CSV text of one value into *p and *n (pointing into v or into scratch). 0 OK, 1 empty (absent
 * or ""), -1 a value Bulk API cannot carry (why says which). */
static int
value_text(const json_t *v, char *scratch, size_t cap, const char **p, size_t *n, const char **why)
{
	*p = "";
	*n = 0;
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		*p = json_string_value(v);
		*n = json_string_length(v);
		if (memchr(*p, '\0', *n) != NULL) {
			*why = "a text value holds a NUL character";
			return -1;
		}
		if (!cs_utf8_valid(*p, *n)) {
			*why = "a text value is not UTF-8";
			return -1;
		}
		return *n == 0 ? 1 : 0;
	case JSON_NULL:
		if (v == NULL)
			return 1;
		*p = SF_BULK_NULL;
		*n = strlen(SF_BULK_NULL);
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		*p = json_is_true(v) ? "true" : "false";
		*n = strlen(*p);
		return 0;
	case JSON_INTEGER:
		snprintf(scratch, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		if (!isfinite(json_real_value(v))) {
			*why = "a number is not finite";
			return -1;
		}
		real_text(json_real_value(v), scratch, cap);
		break;
	default:
		*why = "a value is an object or an array";
		return -1;
	}
	*p = scratch;
	*n = strlen(scratch);
	return 0;
}

/* --- jobs ----------------------------------------------------------------------------------- */

static const char *const op_names[] = {
	[SF_BULK_INSERT] = "insert", [SF_BULK_UPDATE] = "update", [SF_BULK_UPSERT] = "upsert",
	[SF_BULK_DELETE] = "delete", [SF_BULK_HARD_DELETE] = "hardDelete",
};

struct run {
	struct sf_client *c;
	const struct sf_bulk_opts *o;
	struct sf_bulk_opts dflt;
	long long done_before;       /* records processed by the call's earlier jobs */
	long long total;
	struct sf_bulk_summary *sum;
};

static void
opts_defaults(struct run *u, const struct sf_bulk_opts *o)
{
	memset(&u->dflt, 0, sizeof(u->dflt));
	if (o != NULL)
		u->dflt = *o;
	if (u->dflt.poll_min_ms <= 0)
		u->dflt.poll_min_ms = DEF_POLL_MIN_MS;
	if (u->dflt.poll_max_ms <= 0)
		u->dflt.poll_max_ms = DEF_POLL_MAX_MS;
	if (u->dflt.poll_max_ms < u->dflt.poll_min_ms)
		u->dflt.poll_max_ms = u->dflt.poll_min_ms;
	if (u->dflt.job_timeout_ms <= 0)
		u->dflt.job_timeout_ms = DEF_JOB_TIMEOUT_MS;
	if (u->dflt.max_job_bytes == 0)
		u->dflt.max_job_bytes = DEF_JOB_BYTES;
	if (u->dflt.max_job_bytes > MAX_JOB_BYTES)
		u->dflt.max_job_bytes = MAX_JOB_BYTES;
	if (u->dflt.max_records <= 0)
		u->dflt.max_records = DEF_MAX_RECORDS;
	if (u->dflt.max_records > MAX_MAX_RECORDS)
		u->dflt.max_records = MAX_MAX_RECORDS;
	u->o = &u->dflt;
}

static bool
stopped(const struct run *u)
{
	return u->o->stop != NULL && atomic_load(u->o->stop) != 0;
}

static void
report(struct run *u, const char *job, const char *state, long long done, long long total)
{
	struct sf_bulk_progress p = { job, state, done, total };

	if (u->o->progress != NULL)
		u->o->progress(u->o->ud, &p);
}

static bool
terminal_state(const char *s)
{
	return strcmp(s, "JobComplete") == 0 || strcmp(s, "Failed") == 0 || strcmp(s, "Aborted") == 0;
}

static bool
known_state(const char *s)
{
	return terminal_state(s) || strcmp(s, "Open") == 0 || strcmp(s, "UploadComplete") == 0 ||
	    strcmp(s, "InProgress") == 0;
}

static cs_err
job_path(char *out, size_t cap, bool query, const char *id, const char *rest)
{
	if (!is_id(id, strlen(id)))
		return CS_EINVAL;
	snprintf(out, cap, "/jobs/%s/%s%s", query ? "query" : "ingest", id, rest ? rest : "");
	return CS_OK;
}

cs_err
sf_bulk_job(struct sf_client *c, bool query, const char *job_id, json_t **out, struct sf_error *e)
{
	char path[128];
	const char *st;
	cs_err rc;

	*out = NULL;
	sf_error_clear(e);
	if (job_id == NULL || job_path(path, sizeof(path), query, job_id, NULL) != CS_OK)
		return sf_fail(e, CS_EINVAL, false, "invalid job id");
	if ((rc = sf_call(c, "GET", path, NULL, 0, 0, NULL, NULL, out, NULL, e)) != CS_OK)
		return rc;
	st = cs_json_get_str(*out, "state");
	if (st == NULL || !known_state(st)) {
		json_decref(*out);
		*out = NULL;
		return sf_fail(e, CS_EPARSE, false, "job %s: an answer without a known state", job_id);
	}
	return CS_OK;
}

cs_err
sf_bulk_abort(struct sf_client *c, bool query, const char *job_id, struct sf_error *e)
{
	static const char body[] = "{\"state\":\"Aborted\"}";
	char path[128];

	sf_error_clear(e);
	if (job_id == NULL || job_path(path, sizeof(path), query, job_id, NULL) != CS_OK)
		return sf_fail(e, CS_EINVAL, false, "invalid job id");
	/* aborting twice is refused, not harmful: the answer of a retry tells the caller the state */
	return sf_call(c, "PATCH", path, body, sizeof(body) - 1, SF_IDEMPOTENT, NULL, NULL, NULL, NULL, e);
}

/* Waits until job id reaches a terminal state, asking at growing intervals. *info gets the last
 * job info. Errors: CS_ETIMEOUT past deadline, CS_ESTATE when stopped or when an ingest job is
 * found Open (it was never closed), and what asking failed with for good. */
static cs_err
poll_job(struct run *u, bool query, const char *id, int64_t deadline, json_t **info, struct sf_error *e)
{
	long wait = u->o->poll_min_ms;

	*info = NULL;
	for (;;) {
		json_t *v = NULL;
		cs_err rc = sf_bulk_job(u->c, query, id, &v, e);

		if (rc == CS_OK) {
			const char *st = cs_json_get_str(v, "state");
			long long done = cs_json_get_int(v, "numberRecordsProcessed", 0);

			report(u, id, st, u->done_before + done, u->total);
			if (terminal_state(st)) {
				*info = v;
				return CS_OK;
			}
			if (!query && strcmp(st, "Open") == 0) {
				json_decref(v);
				return sf_fail(e, CS_ESTATE, false, "job %s is still Open: it was never closed", id);
			}
			json_decref(v);
		} else if (!(e->transient || rc == CS_ELIMIT)) {
			return rc;
		}
		/* a transient failure to ask is not the job's failure: keep asking until the deadline */
		if (cs_time_mono_ms() + wait > deadline)
			return sf_fail(e, CS_ETIMEOUT, true, "job %s did not finish within %ld ms", id, u->o->job_timeout_ms);
		if (sf_sleep_ms(wait, u->o->stop))
			return sf_fail(e, CS_ESTATE, false, "job %s: stopped by the caller", id);
		wait = wait > u->o->poll_max_ms / 2 ? u->o->poll_max_ms : wait * 2;
	}
}

/* The job's failure as an error: its errorMessage ("InvalidBatch : Field name not found : X"). */
static cs_err
job_failure(struct sf_error *e, const char *id, const json_t *info)
{
	const char *st = cs_json_get_str(info, "state"), *msg = cs_json_get_str(info, "errorMessage");
	static const char *const transient[] = { "Timeout", "TooManyLockFailure", "ServerUnavailable", "Unknown",
		"InternalServerError" };
	size_t n = 0;

	sf_fail(e, CS_ESTATE, false, "job %s %s%s%s", id, st ? st : "?", msg && *msg ? ": " : "", msg ? msg : "");
	if (msg != NULL)
		while (n < sizeof(e->code) - 1 && ((msg[n] >= 'A' && msg[n] <= 'Z') || (msg[n] >= 'a' && msg[n] <= 'z') ||
		    msg[n] == '_'))
			n++;
	if (n > 0) {
		memcpy(e->code, msg, n);
		e->code[n] = '\0';
	} else
		sf_copy(e->code, sizeof(e->code), st && strcmp(st, "Aborted") == 0 ? "JOB_ABORTED" : "JOB_FAILED");
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strcmp(e->code, transient[i]) == 0)
			e->transient = true;
	return CS_ESTATE;
}

static cs_err
fetch_csv(struct run *u, const char *path, size_t max, struct http_response *rs, struct sf_error *e)
{
	struct sf_req rq = { .method = "GET", .path = path, .accept = "text/csv", .max_response = max };

	return sf_send(u->c, &rq, rs, NULL, e);
}

/* One upload of an ingest call: the CSV text, the rows' keys and where each came from. */
struct chunk {
	struct cs_buf csv;
	struct sf_bulk_rows *rows;
	size_t *index;               /* upload row -> input record */
	size_t n, cap;
};

/* Marks every row of k with error *err: the job's outcome for them is unknown or nil. */
static void
fail_rows(struct chunk *k, struct sf_result *res, const struct sf_error *err)
{
	for (size_t i = 0; i < k->n; i++) {
		struct sf_result *r = &res[k->index[i]];

		result_clear(r);
		r->error = *err;
		r->nerrors = 1;
	}
}

/* Creates an ingest job; its id into id. */
static cs_err
create_job(struct run *u, enum sf_bulk_op op, const char *sobject, const char *ext_field, char id[SF_ID_LEN + 1],
    struct sf_error *e)
{
	json_t *body, *v = NULL;
	struct cs_buf b;
	const char *jid;
	cs_err rc;

	body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "object", sobject, "operation", op_names[op], "contentType", "CSV",
	    "lineEnding", "LF", "columnDelimiter", "COMMA");
	if (body == NULL || (op == SF_BULK_UPSERT &&
	    json_object_set_new(body, "externalIdFieldName", json_string(ext_field)) != 0)) {
		json_decref(body);
		return sf_fail(e, CS_ENOMEM, false, "out of memory");
	}
	cs_buf_init(&b, 64u << 10);
	rc = cs_json_dump(body, &b);
	json_decref(body);
	if (rc != CS_OK) {
		cs_buf_cleanup(&b);
		return sf_fail(e, rc, false, "out of memory");
	}
	/* A repeated create can leave an empty Open job behind, which writes nothing: safe to retry. */
	rc = sf_call(u->c, "POST", "/jobs/ingest", b.data, b.len, SF_IDEMPOTENT, NULL, NULL, &v, NULL, e);
	cs_buf_cleanup(&b);
	if (rc != CS_OK)
		return rc;
	jid = cs_json_get_str(v, "id");
	if (jid == NULL || !is_id(jid, strlen(jid))) {
		json_decref(v);
		return sf_fail(e, CS_EPARSE, false, "job create: an answer without a job id");
	}
	sf_copy(id, SF_ID_LEN + 1, jid);
	json_decref(v);
	return CS_OK;
}

/* Best effort: a job we will not finish is aborted so that it never runs. */
static void
abandon(struct run *u, const char *id)
{
	struct sf_error ae;

	if (sf_bulk_abort(u->c, false, id, &ae) != CS_OK)
		log_info("sf.bulk", "org=%s job %s: cannot abort it: %s", u->c->org->name, id, ae.message);
}

/* Uploads and closes k in a new job, with JOB_ATTEMPTS tries when the upload fails transiently
 * (an upload that may or may not have arrived cannot be repeated in the same job: Salesforce
 * refuses to close a job that got two). id gets the job. */
static cs_err
start_job(struct run *u, enum sf_bulk_op op, const char *sobject, const char *ext_field, struct chunk *k,
    char id[SF_ID_LEN + 1], struct sf_error *e)
{
	static const char close_body[] = "{\"state\":\"UploadComplete\"}";
	cs_err rc = CS_OK;

	for (int attempt = 1; attempt <= JOB_ATTEMPTS; attempt++) {
		char path[128];
		struct sf_req put = { .method = "PUT", .body = k->csv.data, .len = k->csv.len, .content_type = "text/csv",
			.path = path };
		struct http_response rs;

		if (stopped(u))
			return sf_fail(e, CS_ESTATE, false, "stopped by the caller");
		if ((rc = create_job(u, op, sobject, ext_field, id, e)) != CS_OK)
			return rc;
		job_path(path, sizeof(path), false, id, "/batches");
		http_response_init(&rs);
		rc = sf_send(u->c, &put, &rs, NULL, e);
		http_response_cleanup(&rs);
		if (rc == CS_OK) {
			job_path(path, sizeof(path), false, id, NULL);
			rc = sf_call(u->c, "PATCH", path, close_body, sizeof(close_body) - 1, SF_IDEMPOTENT, NULL, NULL, NULL,
			    NULL, e);
			if (rc == CS_OK)
				return CS_OK;
			/* a close whose answer was lost, repeated, is refused: the job's state says */
			{
				json_t *v = NULL;
				struct sf_error ge;
				if (sf_bulk_job(u->c, false, id, &v, &ge) == CS_OK &&
				    strcmp(cs_json_get_str(v, "state"), "Open") != 0) {
					json_decref(v);
					sf_error_clear(e);
					return CS_OK;
				}
				json_decref(v);
			}
		}
		abandon(u, id);
		if (!e->transient || rc == CS_ELIMIT)
			return rc;
		log_info("sf.bulk", "org=%s job %s: %s; sending the records in a new job", u->c->org->name, id, e->message);
	}
	return rc;
}

/* Runs chunk k through one job: upload, close, wait, results into res. */
static cs_err
run_chunk(struct run *u, enum sf_bulk_op op, const char *sobject, const char *ext_field, struct chunk *k,
    struct sf_result *res, struct sf_error *e)
{
	char id[SF_ID_LEN + 1] = "", path[160];
	json_t *info = NULL;
	const char *state;
	long long processed, failed;
	size_t max = u->o->max_job_bytes * 4 + RESULT_SLACK;
	struct sf_result *tmp = NULL;
	int64_t deadline;
	cs_err rc;
	bool aborted_by_us = false;
	cs_err end_rc = CS_OK;
	struct sf_error end_e;

	sf_error_clear(&end_e);
	if (max > RESULT_MAX)
		max = RESULT_MAX;
	if ((rc = start_job(u, op, sobject, ext_field, k, id, e)) != CS_OK) {
		fail_rows(k, res, e);
		return rc;
	}
	sf_copy(u->sum->job_id, sizeof(u->sum->job_id), id);
	u->sum->jobs++;
	deadline = cs_time_mono_ms() + u->o->job_timeout_ms;
	rc = poll_job(u, false, id, deadline, &info, e);
	if (rc == CS_ETIMEOUT || (rc == CS_ESTATE && stopped(u))) {
		/* ours to end: abort it, then read what it did before the abort */
		struct sf_error pe;
		end_rc = rc;
		end_e = *e;
		aborted_by_us = true;
		abandon(u, id);
		rc = poll_job(u, false, id, cs_time_mono_ms() + 60000, &info, &pe);
		if (rc != CS_OK) {
			*e = end_e;
			fail_rows(k, res, e);
			return end_rc;
		}
	} else if (rc != CS_OK) {
		/* the outcome is unknown: the rows may or may not have been written */
		fail_rows(k, res, e);
		return rc;
	}
	state = cs_json_get_str(info, "state");
	processed = cs_json_get_int(info, "numberRecordsProcessed", 0);
	failed = cs_json_get_int(info, "numberRecordsFailed", 0);
	if ((tmp = calloc(k->n, sizeof(*tmp))) == NULL) {
		json_decref(info);
		rc = sf_fail(e, CS_ENOMEM, false, "out of memory");
		fail_rows(k, res, e);
		return rc;
	}
	for (int w = 0; w < 3 && rc == CS_OK; w++) {
		static const char *const files[] = { "/successfulResults/", "/failedResults/", "/unprocessedrecords/" };
		struct http_response rs;
		size_t matched = 0, unknown = 0;

		/* files that cannot hold a row are not asked for */
		if (w == SF_BULK_FAILED && failed == 0 && strcmp(state, "JobComplete") == 0)
			continue;
		if (w == SF_BULK_UNPROCESSED && strcmp(state, "JobComplete") == 0 && processed >= (long long)k->n)
			continue;
		job_path(path, sizeof(path), false, id, files[w]);
		http_response_init(&rs);
		rc = fetch_csv(u, path, max, &rs, e);
		if (rc == CS_OK)
			rc = sf_bulk_results_apply(k->rows, (enum sf_bulk_file)w, rs.body.data, rs.body.len, tmp, &matched, &unknown,
			    e);
		if (rc == CS_OK && unknown > 0)
			log_warn("sf.bulk", "org=%s job %s: %zu result rows match no uploaded record", u->c->org->name, id, unknown);
		http_response_cleanup(&rs);
	}
	if (rc != CS_OK) {
		/* sf_fail clears e before it formats: the message is copied out first */
		char why[sizeof(e->message)];
		bool transient = e->transient;
		sf_copy(why, sizeof(why), e->message);
		sf_fail(e, rc, transient, "job %s %s, but its results could not be read: %s", id, state, why);
		fail_rows(k, res, e);
		free(tmp);
		json_decref(info);
		return rc;
	}
	for (size_t i = 0; i < k->n; i++)
		if (sf_bulk_rows_state(k->rows, i) >= 0)
			res[k->index[i]] = tmp[i];
	free(tmp);
	u->sum->processed += processed;
	u->sum->failed += failed;
	u->done_before += processed;
	if (strcmp(state, "JobComplete") != 0) {
		if (aborted_by_us) {
			rc = end_rc;
			*e = end_e;
		} else
			rc = job_failure(e, id, info);
	} else
		sf_error_clear(e);
	/* the job's end, for the rows it did not process, and rows no file named */
	for (size_t i = 0; i < k->n; i++) {
		int st = sf_bulk_rows_state(k->rows, i);
		struct sf_result *r = &res[k->index[i]];

		if (st == SF_BULK_UNPROCESSED || st < 0)
			u->sum->unprocessed++;
		if (st == SF_BULK_UNPROCESSED && rc != CS_OK) {
			result_clear(r);
			r->error = *e;
			r->nerrors = 1;
		} else if (st < 0) {
			result_clear(r);
			if (rc != CS_OK)
				r->error = *e;
			else
				sf_fail(&r->error, CS_ESTATE, true, "job %s: no result reported for this record", id);
			r->nerrors = 1;
		}
	}
	report(u, id, state, u->done_before, u->total);
	json_decref(info);
	return rc;
}

static void
chunk_reset(struct chunk *k)
{
	cs_buf_reset(&k->csv);
	sf_bulk_rows_free(k->rows);
	k->rows = NULL;
	k->n = 0;
}

static cs_err
chunk_begin(struct chunk *k, const char *const *cols, size_t ncols)
{
	struct csv_writer w;
	cs_err rc;

	if ((rc = sf_bulk_rows_new(cols, ncols, &k->rows)) != CS_OK)
		return rc;
	csv_writer_init(&w, &k->csv, ',', CSV_EOL_LF);
	for (size_t i = 0; i < ncols; i++)
		if ((rc = csv_write_plain(&w, cols[i], strlen(cols[i]))) != CS_OK)
			return rc;
	return csv_write_eol(&w);
}

/* The columns of an upload: for a delete the Id alone, else every key of the records in order of
 * first appearance (attributes aside). *cols is a new array of borrowed names. */
static cs_err
columns_of(enum sf_bulk_op op, const json_t *records, const char ***cols, size_t *ncols, struct sf_error *e)
{
	json_t *seen = json_object(), *rec;
	size_t i, n = 0, cap = 16;
	const char **v = malloc(cap * sizeof(*v));
	cs_err rc = CS_OK;

	*cols = NULL;
	*ncols = 0;
	if (seen == NULL || v == NULL) {
		rc = sf_fail(e, CS_ENOMEM, false, "out of memory");
		goto out;
	}
	if (op == SF_BULK_DELETE || op == SF_BULK_HARD_DELETE) {
		v[n++] = "Id";
		goto out;
	}
	json_array_foreach(records, i, rec) {
		const char *key;
		json_t *x;

		json_object_foreach(rec, key, x) {
			(void)x;
			if (strcmp(key, "attributes") == 0 || json_object_get(seen, key) != NULL)
				continue;
			if (!column_ok(key)) {
				rc = sf_fail(e, CS_EINVAL, false, "record %zu: '%.80s' is not a field name", i, key);
				goto out;
			}
			if (n == CSV_MAX_COLUMNS) {
				rc = sf_fail(e, CS_ETOOBIG, false, "more than %d columns", CSV_MAX_COLUMNS);
				goto out;
			}
			if (n == cap) {
				const char **nv = realloc(v, cap * 2 * sizeof(*v));
				if (nv == NULL) {
					rc = sf_fail(e, CS_ENOMEM, false, "out of memory");
					goto out;
				}
				v = nv;
				cap *= 2;
			}
			json_object_set_new(seen, key, json_true());
			v[n++] = key;
		}
	}
out:
	json_decref(seen);
	if (rc != CS_OK || n == 0) {
		free(v);
		if (rc == CS_OK)
			rc = sf_fail(e, CS_EINVAL, false, "the records have no fields");
		return rc;
	}
	*cols = v;
	*ncols = n;
	return CS_OK;
}

/* Row-level refusal before upload: why, with what in place of its one %s. */
static void
refuse(struct sf_result *r, const char *code, const char *why, const char *what)
{
	char msg[256];
	const char *at = strstr(why, "%s");

	if (at != NULL)
		snprintf(msg, sizeof(msg), "%.*s%s%s", (int)(at - why), why, what, at + 2);
	else
		snprintf(msg, sizeof(msg), "%s", why);
	result_clear(r);
	sf_fail(&r->error, CS_EINVAL, false, "%s", msg);
	sf_copy(r->error.code, sizeof(r->error.code), code);
	r->nerrors = 1;
}

/* Writes record rec as one CSV line into line, and each column's text into vals/lens (NULL for an
 * empty value) for the caller's row index. False, with res filled, when the record cannot go. */
static bool
row_line(const json_t *rec, const char *key_col, const char *const *cols, size_t ncols,
    struct cs_buf *line, const char **vals, size_t *lens, char (*scratch)[40], struct sf_result *res)
{
	struct csv_writer w;
	size_t chars = 0;
	const char *why = NULL;

	if (!json_is_object(rec)) {
		refuse(res, "INVALID_INPUT", "%s", "the record is not a JSON object");
		return false;
	}
	cs_buf_reset(line);
	csv_writer_init(&w, line, ',', CSV_EOL_LF);
	for (size_t c = 0; c < ncols; c++) {
		const json_t *v = json_object_get(rec, cols[c]);
		int t = value_text(v, scratch[c], sizeof(scratch[c]), &vals[c], &lens[c], &why);
		size_t nch;
		cs_err rc;

		if (t < 0) {
			refuse(res, "INVALID_INPUT", "%s", why);
			return false;
		}
		if (key_col != NULL && strcmp(cols[c], key_col) == 0 && (t == 1 || json_is_null(v))) {
			refuse(res, "MISSING_ARGUMENT", "%s not specified", key_col);
			return false;
		}
		nch = csv_utf8_chars(vals[c], lens[c]);
		if (nch > CSV_MAX_FIELD_CHARS) {
			refuse(res, "STRING_TOO_LONG", "%s: a value over 32,000 characters", cols[c]);
			return false;
		}
		chars += nch;
		/* a single empty column would be an empty line, which CSV readers skip */
		if (t == 1 && ncols > 1)
			rc = csv_write_empty(&w);
		else
			rc = csv_write_value(&w, vals[c], lens[c]);
		if (rc != CS_OK) {
			refuse(res, "INVALID_INPUT", "%s", "out of memory");
			return false;
		}
		if (t == 1)
			vals[c] = NULL;
	}
	if (chars > CSV_MAX_RECORD_CHARS) {
		refuse(res, "INVALID_INPUT", "%s", "the record is over 400,000 characters");
		return false;
	}
	if (csv_write_eol(&w) != CS_OK) {
		refuse(res, "INVALID_INPUT", "%s", "out of memory");
		return false;
	}
	return true;
}

cs_err
sf_bulk_ingest(struct sf_client *c, enum sf_bulk_op op, const char *sobject, const char *ext_field,
    const json_t *records, const struct sf_bulk_opts *o, struct sf_result *res, struct sf_bulk_summary *sum,
    struct sf_error *e)
{
	struct run u = { .c = c };
	struct sf_bulk_summary dsum;
	struct chunk k = { 0 };
	struct cs_buf line;
	const char **cols = NULL, **vals = NULL, *key_col = NULL;
	size_t ncols = 0, *lens = NULL, n = json_array_size(records), i;
	char (*scratch)[40] = NULL;
	cs_err rc = CS_OK;

	sf_error_clear(e);
	if (sum == NULL)
		sum = &dsum;
	memset(sum, 0, sizeof(*sum));
	u.sum = sum;
	opts_defaults(&u, o);
	if ((unsigned)op > SF_BULK_HARD_DELETE || !sf_name_ok(sobject) || !json_is_array(records) ||
	    (op == SF_BULK_UPSERT && !sf_name_ok(ext_field)))
		return sf_fail(e, CS_EINVAL, false, "bulk %s: invalid sObject, external id field or records",
		    (unsigned)op <= SF_BULK_HARD_DELETE ? op_names[op] : "?");
	if (n == 0)
		return CS_OK;
	/* nerrors 0 with no success marks a record not sent yet */
	for (i = 0; i < n; i++) {
		result_clear(&res[i]);
		sf_fail(&res[i].error, CS_ESTATE, true, "not sent");
	}
	key_col = op == SF_BULK_UPSERT ? ext_field : op == SF_BULK_INSERT ? NULL : "Id";
	if ((rc = columns_of(op, records, &cols, &ncols, e)) != CS_OK)
		goto out;
	if (key_col != NULL) {
		bool have = false;
		for (size_t c2 = 0; c2 < ncols; c2++)
			have |= strcmp(cols[c2], key_col) == 0;
		if (!have) {
			rc = sf_fail(e, CS_EINVAL, false, "bulk %s: no record carries %s", op_names[op], key_col);
			goto out;
		}
	}
	vals = calloc(ncols, sizeof(*vals));
	lens = calloc(ncols, sizeof(*lens));
	scratch = calloc(ncols, sizeof(*scratch));
	k.index = calloc(n, sizeof(*k.index));
	if (vals == NULL || lens == NULL || scratch == NULL || k.index == NULL) {
		rc = sf_fail(e, CS_ENOMEM, false, "out of memory");
		goto out;
	}
	cs_buf_init(&k.csv, u.o->max_job_bytes);
	cs_buf_init(&line, (size_t)CSV_MAX_RECORD_CHARS * 4 * 2 + 1024);
	u.total = (long long)n;
	for (i = 0; i < n && rc == CS_OK; i++) {
		if (!row_line(json_array_get(records, i), key_col, cols, ncols, &line, vals, lens, scratch, &res[i]))
			continue;
		if (k.rows != NULL && (k.csv.len + line.len > u.o->max_job_bytes ||
		    (u.o->max_job_records > 0 && k.n >= u.o->max_job_records))) {
			rc = run_chunk(&u, op, sobject, ext_field, &k, res, e);
			chunk_reset(&k);
			if (rc != CS_OK)
				break;
		}
		if (k.rows == NULL && (rc = chunk_begin(&k, cols, ncols)) != CS_OK) {
			rc = sf_fail(e, rc, false, "out of memory");
			break;
		}
		if (k.csv.len + line.len > u.o->max_job_bytes) {
			refuse(&res[i], "INVALID_INPUT", "%s", "the record alone is larger than a job may be");
			continue;
		}
		if (cs_buf_append(&k.csv, line.data, line.len) != CS_OK ||
		    sf_bulk_rows_add(k.rows, vals, lens) != CS_OK) {
			rc = sf_fail(e, CS_ENOMEM, false, "out of memory");
			break;
		}
		k.index[k.n++] = i;
	}
	if (rc == CS_OK && k.n > 0)
		rc = run_chunk(&u, op, sobject, ext_field, &k, res, e);
	cs_buf_cleanup(&line);
out:
	if (rc != CS_OK) {
		/* records after the failure were never sent: they carry the call's error */
		for (size_t j = 0; j < n; j++) {
			if (!res[j].success && res[j].nerrors == 0) {
				res[j].error = *e;
				res[j].nerrors = 1;
			}
		}
	}
	chunk_reset(&k);
	cs_buf_cleanup(&k.csv);
	free(k.index);
	free(cols);
	free(vals);
	free(lens);
	free(scratch);
	if (rc != CS_OK && e->message[0] != '\0')
		log_info("sf.bulk", "org=%s bulk %s %s: %s", c->org->name, op_names[op], sobject, e->message);
	return rc;
}

/* --- query jobs ----------------------------------------------------------------------------- */

/* True when every leaf of v is null. */
static bool
all_null(const json_t *v)
{
	const char *k;
	json_t *x;

	if (!json_is_object(v))
		return json_is_null(v);
	json_object_foreach((json_t *)v, k, x)
		if (!all_null(x))
			return false;
	return true;
}

/* Replaces every object under o whose leaves are all null by null, deepest first: a parent
 * record that is absent reads as null, as REST gives it. */
static void
collapse(json_t *o)
{
	const char *k;
	json_t *x;
	void *tmp;

	json_object_foreach_safe(o, tmp, k, x) {
		if (!json_is_object(x))
			continue;
		collapse(x);
		if (all_null(x))
			json_object_set_new(o, k, json_null());
	}
}

/* A typed value for field f (NULL: text) from the CSV text s[0..n); "" is null. */
static json_t *
typed(const struct sf_field *f, const char *s, size_t n)
{
	if (n == 0)
		return json_null();
	if (f != NULL && f->type != NULL) {
		if (strcmp(f->type, "boolean") == 0) {
			if (strcasecmp(s, "true") == 0)
				return json_true();
			if (strcasecmp(s, "false") == 0)
				return json_false();
		} else if (strcmp(f->type, "int") == 0 || strcmp(f->type, "long") == 0) {
			char *end;
			long long v;
			errno = 0;
			v = strtoll(s, &end, 10);
			if (errno == 0 && end == s + n && is_number(s, n))
				return json_integer(v);
		} else if (strcmp(f->type, "double") == 0 || strcmp(f->type, "currency") == 0 ||
		    strcmp(f->type, "percent") == 0) {
			if (is_number(s, n)) {
				double d = strtod(s, NULL);
				if (isfinite(d))
					return json_real(d);
			}
		}
	}
	return json_stringn(s, n);
}

/* Sets path (a.b.c) of rec to v (taken). CS_EPARSE when the path collides with another column. */
static cs_err
set_path(json_t *rec, const char *path, json_t *v)
{
	char seg[COLUMN_MAX + 1];
	const char *p = path, *dot;
	json_t *at = rec;

	while ((dot = strchr(p, '.')) != NULL) {
		json_t *nx;
		size_t n = (size_t)(dot - p);

		memcpy(seg, p, n);
		seg[n] = '\0';
		nx = json_object_get(at, seg);
		if (nx == NULL) {
			if (json_object_set_new(at, seg, json_object()) != 0) {
				json_decref(v);
				return CS_ENOMEM;
			}
			nx = json_object_get(at, seg);
		} else if (!json_is_object(nx)) {
			json_decref(v);
			return CS_EPARSE;
		}
		at = nx;
		p = dot + 1;
	}
	if (json_object_get(at, p) != NULL) {
		json_decref(v);
		return CS_EPARSE;
	}
	return json_object_set_new(at, p, v) == 0 ? CS_OK : CS_ENOMEM;
}

static bool
query_column_ok(const char *s, size_t n)
{
	if (n == 0 || n > COLUMN_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.'))
			return false;
		if (s[i] == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

cs_err
sf_bulk_query_parse(const char *csv, size_t len, const struct sf_describe *d, sf_record_cb cb, void *ud,
    long long *rows, bool *halted, struct sf_error *e)
{
	struct csv_reader rd;
	const struct csv_field *f;
	size_t nf, ncols = 0;
	char **names = NULL;
	const struct sf_field **types = NULL;
	struct cs_error ce = { 0 };
	cs_err rc = CS_OK;

	*rows = 0;
	*halted = false;
	sf_error_clear(e);
	if (len == 0)
		return CS_OK;
	csv_reader_init(&rd, csv, len, ',', CSV_EOL_ANY);
	if ((rc = csv_reader_next(&rd, &f, &nf, &ce)) != CS_OK || f == NULL) {
		rc = rc == CS_OK ? CS_OK : sf_fail(e, CS_EPARSE, false, "query results: %s", ce.msg);
		goto out;
	}
	ncols = nf;
	names = calloc(ncols, sizeof(*names));
	types = calloc(ncols, sizeof(*types));
	if (names == NULL || types == NULL) {
		rc = sf_fail(e, CS_ENOMEM, false, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < ncols; i++) {
		if (!query_column_ok(f[i].p, f[i].n)) {
			rc = sf_fail(e, CS_EPARSE, false, "query results: column %zu has no usable name", i + 1);
			goto out;
		}
		if ((names[i] = dupn(f[i].p, f[i].n)) == NULL) {
			rc = sf_fail(e, CS_ENOMEM, false, "out of memory");
			goto out;
		}
		types[i] = d != NULL && strchr(names[i], '.') == NULL ? sf_describe_field(d, names[i]) : NULL;
	}
	for (;;) {
		json_t *rec;

		if ((rc = csv_reader_next(&rd, &f, &nf, &ce)) != CS_OK) {
			rc = sf_fail(e, CS_EPARSE, false, "query results: %s", ce.msg);
			goto out;
		}
		if (f == NULL)
			break;
		if ((rec = json_object()) == NULL) {
			rc = sf_fail(e, CS_ENOMEM, false, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < ncols && rc == CS_OK; i++) {
			json_t *v = typed(types[i], f[i].p, f[i].n);
			if (v == NULL)
				rc = CS_ENOMEM;
			else
				rc = set_path(rec, names[i], v);
		}
		if (rc != CS_OK) {
			json_decref(rec);
			rc = sf_fail(e, rc, false, rc == CS_EPARSE ? "query results: columns that name the same field" :
			    "out of memory");
			goto out;
		}
		collapse(rec);
		(*rows)++;
		if (cb(ud, rec) != 0) {
			json_decref(rec);
			*halted = true;
			break;
		}
		json_decref(rec);
	}
out:
	for (size_t i = 0; names != NULL && i < ncols; i++)
		free(names[i]);
	free(names);
	free(types);
	csv_reader_cleanup(&rd);
	return rc;
}

static bool
locator_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LOCATOR_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '+' || s[i] == '/' || s[i] == '=' || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

cs_err
sf_bulk_query(struct sf_client *c, const char *soql, unsigned flags, const struct sf_describe *d,
    const struct sf_bulk_opts *o, sf_record_cb cb, void *ud, long long *total, struct sf_error *e)
{
	struct run u = { .c = c };
	struct sf_bulk_summary sum;
	char id[SF_ID_LEN + 1], loc[LOCATOR_MAX + 1] = "", prev[LOCATOR_MAX + 1] = "";
	json_t *body = NULL, *v = NULL, *info = NULL;
	struct cs_buf b, path;
	size_t len = soql ? strlen(soql) : 0;
	long long delivered = 0, expected;
	const char *jid;
	cs_err rc;

	sf_error_clear(e);
	memset(&sum, 0, sizeof(sum));
	u.sum = &sum;
	opts_defaults(&u, o);
	if (total)
		*total = 0;
	if (len == 0 || len > SF_SOQL_MAX || !cs_utf8_valid(soql, len) || cb == NULL)
		return sf_fail(e, CS_EINVAL, false, "query text empty, over %d characters or not UTF-8", SF_SOQL_MAX);
	body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "operation", (flags & SF_QUERY_ALL) ? "queryAll" : "query",
	    "query", soql, "contentType", "CSV", "columnDelimiter", "COMMA", "lineEnding", "LF");
	if (body == NULL)
		return sf_fail(e, CS_ENOMEM, false, "out of memory");
	cs_buf_init(&b, SF_SOQL_MAX * 6 + 1024);
	cs_buf_init(&path, 1024);
	if ((rc = cs_json_dump(body, &b)) != CS_OK) {
		rc = sf_fail(e, rc, false, "out of memory");
		goto out;
	}
	/* a repeated create runs the query twice and reads nothing: safe to retry */
	if ((rc = sf_call(c, "POST", "/jobs/query", b.data, b.len, SF_IDEMPOTENT, NULL, NULL, &v, NULL, e)) != CS_OK)
		goto out;
	jid = cs_json_get_str(v, "id");
	if (jid == NULL || !is_id(jid, strlen(jid))) {
		rc = sf_fail(e, CS_EPARSE, false, "query job create: an answer without a job id");
		goto out;
	}
	sf_copy(id, sizeof(id), jid);
	u.total = -1;
	if ((rc = poll_job(&u, true, id, cs_time_mono_ms() + u.o->job_timeout_ms, &info, e)) != CS_OK) {
		if (rc == CS_ETIMEOUT || rc == CS_ESTATE) {
			struct sf_error ae;
			if (sf_bulk_abort(c, true, id, &ae) != CS_OK)
				log_info("sf.bulk", "org=%s query job %s: cannot abort it: %s", c->org->name, id, ae.message);
		}
		goto out;
	}
	if (strcmp(cs_json_get_str(info, "state"), "JobComplete") != 0) {
		rc = job_failure(e, id, info);
		goto out;
	}
	expected = cs_json_get_int(info, "numberRecordsProcessed", -1);
	u.total = expected;
	if (total)
		*total = expected < 0 ? 0 : expected;
	for (long page_max = u.o->max_records;;) {
		struct http_response rs;
		char num[32];
		long long rows = 0, said = -1;
		bool halted = false;

		cs_buf_reset(&path);
		if (cs_buf_printf(&path, "/jobs/query/%s/results?maxRecords=%ld", id, page_max) != CS_OK ||
		    (loc[0] != '\0' && (cs_buf_puts(&path, "&locator=") != CS_OK || sf_urlencode(&path, loc) != CS_OK))) {
			rc = sf_fail(e, CS_ENOMEM, false, "out of memory");
			break;
		}
		http_response_init(&rs);
		rc = fetch_csv(&u, path.data, 0, &rs, e);
		if (rc == CS_ETOOBIG && page_max > 1) {
			/* a page over the response limit: the same page again, in fewer records */
			http_response_cleanup(&rs);
			page_max = page_max / 2;
			log_info("sf.bulk", "org=%s query job %s: a results page over the response limit; asking for %ld records",
			    c->org->name, id, page_max);
			continue;
		}
		if (rc == CS_OK) {
			snprintf(prev, sizeof(prev), "%s", loc);
			/* without the header a client cannot know whether there is more: refuse to guess */
			if (!http_response_header(&rs, "Sforce-Locator", loc, sizeof(loc)) ||
			    (strcmp(loc, "null") != 0 && (!locator_ok(loc) || strcmp(loc, prev) == 0)))
				rc = sf_fail(e, CS_EPARSE, false, "query job %s: a results page without a usable Sforce-Locator", id);
			else if (http_response_header(&rs, "Sforce-NumberOfRecords", num, sizeof(num))) {
				char *end;
				errno = 0;
				said = strtoll(num, &end, 10);
				if (errno != 0 || end == num || *end != '\0' || said < 0)
					rc = sf_fail(e, CS_EPARSE, false, "query job %s: a malformed Sforce-NumberOfRecords", id);
			}
		}
		if (rc == CS_OK)
			rc = sf_bulk_query_parse(rs.body.data, rs.body.len, d, cb, ud, &rows, &halted, e);
		http_response_cleanup(&rs);
		if (rc != CS_OK)
			break;
		if (!halted && said >= 0 && said != rows) {
			rc = sf_fail(e, CS_EPARSE, false, "query job %s: a page of %lld records announced as %lld", id, rows, said);
			break;
		}
		delivered += rows;
		report(&u, id, "JobComplete", delivered, expected);
		if (halted || strcmp(loc, "null") == 0)
			break;
		if (stopped(&u)) {
			rc = sf_fail(e, CS_ESTATE, false, "query job %s: stopped by the caller", id);
			break;
		}
	}
out:
	json_decref(body);
	json_decref(v);
	json_decref(info);
	cs_buf_cleanup(&b);
	cs_buf_cleanup(&path);
	return rc;
}

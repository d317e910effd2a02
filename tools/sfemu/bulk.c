/* bulk.c - Bulk API 2.0: ingest jobs (CSV upload, processing, result files) and query jobs. */
#include "bulk.h"
#include "soql.h"
#include "util/json.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NAME_MAX_LEN 128        /* object, field and relationship names */
#define RESULT_MAX (2 * (size_t)EMU_MAX_BODY) /* one result file of one job */
#define PATH_SEGS 3             /* jobs/<kind>/<id>/<resource> after the kind */
#define SEG_MAX 64
#define CHUNK_PAUSE_NS 200000L  /* pause between chunks so queued requests get the lock */

enum jstate { JS_OPEN, JS_UPLOAD_COMPLETE, JS_IN_PROGRESS, JS_ABORTED, JS_COMPLETE, JS_FAILED };
static const char *const state_names[] = {
	"Open", "UploadComplete", "InProgress", "Aborted", "JobComplete", "Failed"
};

enum op { OP_INSERT, OP_UPDATE, OP_UPSERT, OP_DELETE, OP_HARD_DELETE, OP_QUERY, OP_QUERY_ALL };
static const char *const op_names[] = {
	"insert", "update", "upsert", "delete", "hardDelete", "query", "queryAll"
};

struct job {
	char id[SFID_LEN + 1];
	enum op op;
	bool query;
	char object[NAME_MAX_LEN];
	char ext_field[NAME_MAX_LEN];      /* upsert only, else "" */
	char *assignment_rule;             /* echoed back, else NULL */
	char delim;
	enum csv_eol eol;
	int version;
	enum jstate state;
	int64_t created_ms, modstamp_ms;
	long processed, failed;
	long total_ms;
	char *error;                       /* errorMessage when Failed */
	unsigned nuploads;
	struct cs_buf data;                /* the uploaded CSV */
	struct cs_buf ok, bad, unproc;     /* result files */
	/* query jobs: the header line then the rows; row i is rows[off[i] .. off[i + 1]) */
	struct cs_buf rows;
	size_t *off;
	size_t nrows;
	/* processing runs without the lock between chunks: these keep the job alive meanwhile */
	bool busy;                         /* a request is processing it */
	bool orphan;                       /* dropped from the registry while busy: the processor frees it */
	bool abort_requested;
};

struct bulk {
	struct job **jobs;                 /* creation order */
	size_t njobs;
	unsigned long long seq;
};

/* ---- small helpers ---- */

static bool
terminal(enum jstate s)
{
	return s == JS_ABORTED || s == JS_COMPLETE || s == JS_FAILED;
}

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->assignment_rule);
	free(j->error);
	cs_buf_cleanup(&j->data);
	cs_buf_cleanup(&j->ok);
	cs_buf_cleanup(&j->bad);
	cs_buf_cleanup(&j->unproc);
	cs_buf_cleanup(&j->rows);
	free(j->off);
	free(j);
}

static struct job *
job_new(struct bulk *b, bool query, enum op op, int version)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	if (b != NULL)
		sfid_make("750", "0A", ++b->seq, j->id);
	else
		sfid_make("750", "0Z", 1, j->id);
	j->query = query;
	j->op = op;
	j->version = version;
	j->delim = ',';
	j->eol = CSV_EOL_LF;
	j->created_ms = j->modstamp_ms = cs_time_now_ms();
	cs_buf_init(&j->data, EMU_MAX_BODY);
	cs_buf_init(&j->ok, RESULT_MAX);
	cs_buf_init(&j->bad, RESULT_MAX);
	cs_buf_init(&j->unproc, RESULT_MAX);
	cs_buf_init(&j->rows, BULK_MAX_HELD_BYTES);
	return j;
}

static size_t
job_bytes(const struct job *j)
{
	return j->data.len + j->ok.len + j->bad.len + j->unproc.len + j->rows.len + j->nrows * sizeof(size_t);
}

static size_t
held_bytes(const struct bulk *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->njobs; i++)
		n += job_bytes(b->jobs[i]);
	return n;
}

/* Removes job i from the registry; a job being processed is left to its processor. */
static void
drop_at(struct bulk *b, size_t i)
{
	struct job *j = b->jobs[i];

	memmove(b->jobs + i, b->jobs + i + 1, (b->njobs - i - 1) * sizeof(*b->jobs));
	b->njobs--;
	if (j->busy)
		j->orphan = true;
	else
		job_free(j);
}

/* Evicts finished jobs, oldest first, until one more job and `extra` more bytes fit. */
static bool
make_room(struct bulk *b, size_t extra, bool new_job)
{
	size_t i = 0;

	while ((new_job && b->njobs >= BULK_MAX_JOBS) || held_bytes(b) + extra > BULK_MAX_HELD_BYTES) {
		while (i < b->njobs && (!terminal(b->jobs[i]->state) || b->jobs[i]->busy))
			i++;
		if (i >= b->njobs)
			return false;
		drop_at(b, i);
	}
	return true;
}

static bool
add_job(struct bulk *b, struct job *j)
{
	struct job **g;

	if (!make_room(b, 0, true))
		return false;
	g = realloc(b->jobs, (b->njobs + 1) * sizeof(*g));
	if (g == NULL)
		return false;
	b->jobs = g;
	b->jobs[b->njobs++] = j;
	return true;
}

static struct job *
find_job(struct bulk *b, const char *id, bool query)
{
	char id18[SFID_LEN + 1];

	if (!sfid_to18(id, strlen(id), id18) || memcmp(id18, "750", 3) != 0)
		return NULL;
	for (size_t i = 0; i < b->njobs; i++)
		if (strcmp(b->jobs[i]->id, id18) == 0 && b->jobs[i]->query == query)
			return b->jobs[i];
	return NULL;
}

static void
failf(struct http_resp *rs, int status, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
failf(struct http_resp *rs, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emu_fail(rs, status, code, msg);
}

static void
not_found(struct http_resp *rs)
{
	emu_fail(rs, 404, "NOT_FOUND", "The requested resource does not exist");
}

static void
not_allowed(struct http_req *rq, struct http_resp *rs, const char *allowed)
{
	char m[16];

	/* echo at most a short method name: it is outside input */
	snprintf(m, sizeof(m), "%s", rq->method);
	for (char *p = m; *p; p++)
		if (!isalpha((unsigned char)*p))
			*p = '?';
	failf(rs, 405, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are %s", m, allowed);
}

/* Copies s into out, cut at a UTF-8 character boundary to fit n bytes (with the NUL). */
static void
clip(const char *s, char *out, size_t n)
{
	size_t len = strlen(s);

	if (len >= n) {
		len = n - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

/* Salesforce words a finished state this way in INVALIDJOBSTATE messages. */
static const char *
done_word(enum jstate s)
{
	switch (s) {
	case JS_COMPLETE: return "Completed";
	case JS_ABORTED: return "Aborted";
	case JS_FAILED: return "Failed";
	default: return state_names[s];
	}
}

/* ---- job info ---- */

enum shape {
	SHAPE_CREATE,     /* POST response */
	SHAPE_PATCH,      /* PATCH response */
	SHAPE_FULL,       /* GET one job */
	SHAPE_LIST        /* an entry of GET jobs */
};

static json_t *
job_info(const struct job *j, enum shape s, enum jstate shown)
{
	json_t *o = json_object();
	char ts[40];

	json_object_set_new(o, "id", json_string(j->id));
	json_object_set_new(o, "operation", json_string(op_names[j->op]));
	json_object_set_new(o, "object", json_string(j->object));
	json_object_set_new(o, "createdById", json_string(EMU_USER_ID));
	cs_time_format_sf(j->created_ms, ts, sizeof(ts));
	json_object_set_new(o, "createdDate", json_string(ts));
	cs_time_format_sf(j->modstamp_ms, ts, sizeof(ts));
	json_object_set_new(o, "systemModstamp", json_string(ts));
	json_object_set_new(o, "state", json_string(state_names[shown]));
	if (j->ext_field[0])
		json_object_set_new(o, "externalIdFieldName", json_string(j->ext_field));
	if (j->assignment_rule)
		json_object_set_new(o, "assignmentRuleId", json_string(j->assignment_rule));
	json_object_set_new(o, "concurrencyMode", json_string("Parallel"));
	json_object_set_new(o, "contentType", json_string("CSV"));
	json_object_set_new(o, "apiVersion", json_real((double)j->version));
	if (s == SHAPE_PATCH)
		return o;
	if (s == SHAPE_FULL || s == SHAPE_LIST)
		json_object_set_new(o, "jobType", json_string(j->query ? "V2Query" : "V2Ingest"));
	if (!j->query && shown == JS_OPEN && (s == SHAPE_CREATE || s == SHAPE_FULL))
		json_object_set_new(o, "contentUrl",
		    json_sprintf("services/data/v%d.0/jobs/ingest/%s/batches", j->version, j->id));
	json_object_set_new(o, "lineEnding", json_string(csv_eol_name(j->eol)));
	json_object_set_new(o, "columnDelimiter", json_string(csv_delim_name(j->delim)));
	if (s != SHAPE_FULL)
		return o;
	json_object_set_new(o, "numberRecordsProcessed", json_integer(j->processed));
	if (!j->query)
		json_object_set_new(o, "numberRecordsFailed", json_integer(j->failed));
	json_object_set_new(o, "retries", json_integer(0));
	json_object_set_new(o, "totalProcessingTime", json_integer(j->total_ms));
	if (j->query)
		json_object_set_new(o, "isPkChunkingSupported", json_true());
	else {
		json_object_set_new(o, "apiActiveProcessingTime", json_integer(j->total_ms));
		json_object_set_new(o, "apexProcessingTime", json_integer(0));
	}
	if (j->error)
		json_object_set_new(o, "errorMessage", json_string(j->error));
	return o;
}

/* ---- value conversion ---- */

static bool
parse_int(const char *s, size_t n, long long *out)
{
	char *end;
	size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;

	if (i >= n)
		return false;
	for (size_t k = i; k < n; k++)
		if (!isdigit((unsigned char)s[k]))
			return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && (size_t)(end - s) == n;
}

/* A plain decimal ("-12.5", "1e3", ".5"): strtod alone would also take hex, inf and nan. */
static bool
parse_num(const char *s, size_t n, double *out)
{
	size_t i = 0, digits = 0;
	char *end;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < n && isdigit((unsigned char)s[i]))
		i++, digits++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && isdigit((unsigned char)s[i]))
			i++, digits++;
	}
	if (digits == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t d = 0;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < n && isdigit((unsigned char)s[i]))
			i++, d++;
		if (d == 0)
			return false;
	}
	if (i != n)
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return (size_t)(end - s) == n && isfinite(*out);
}

static const char *
xsd_type(enum ftype t)
{
	switch (t) {
	case FT_BOOLEAN: return "boolean";
	case FT_INT: return "int";
	case FT_DOUBLE:
	case FT_CURRENCY:
	case FT_PERCENT: return "double";
	case FT_DATE: return "date";
	case FT_DATETIME: return "dateTime";
	default: return "string";
	}
}

enum bulk_conv
bulk_convert(const struct sfield *f, size_t col, const char *s, size_t n, json_t **out, json_t **err)
{
	long long iv;
	double dv;
	int64_t t;
	char shown[256], msg[512];

	*out = NULL;
	*err = NULL;
	if (n == 0)
		return BULK_SKIP;
	/* #N/A is Bulk API's way to write null; an empty value means "leave it alone" */
	if (n == 4 && memcmp(s, "#N/A", 4) == 0) {
		*out = json_null();
		return BULK_VALUE;
	}
	switch (f->type) {
	case FT_BOOLEAN:
		if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
			*out = json_true();
		else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
			*out = json_false();
		break;
	case FT_INT:
		if (parse_int(s, n, &iv))
			*out = json_integer((json_int_t)iv);
		break;
	case FT_DOUBLE:
	case FT_CURRENCY:
	case FT_PERCENT:
		if (parse_num(s, n, &dv))
			*out = json_real(dv);
		break;
	case FT_DATE:
	case FT_DATETIME:
		if (cs_date_parse(s, n, &t) || cs_datetime_parse(s, n, &t))
			*out = json_stringn(s, n);
		break;
	default:
		*out = json_stringn(s, n);
		if (*out == NULL)
			return BULK_BAD;
		return BULK_VALUE;
	}
	if (*out != NULL)
		return BULK_VALUE;
	clip(s, shown, sizeof(shown));
	snprintf(msg, sizeof(msg), "Failed to deserialize field at col %zu. Due to, '%s' is not a valid value for the type xsd:%s",
	    col, shown, xsd_type(f->type));
	*err = emu_error("INVALID_FIELD", msg, f->name);
	return BULK_BAD;
}

cs_err
bulk_error_text(const json_t *errs, const char *ext_field, struct cs_buf *b)
{
	const json_t *e0, *fields, *urls = json_object_get(errs, "multiple");
	const char *code, *msg;
	cs_err rc;

	if (json_is_array(urls)) {
		const char *ext = ext_field ? ext_field : "";
		if ((rc = cs_buf_printf(b, "DUPLICATE_EXTERNAL_ID:%s: more than one record found for external id field: [", ext)) != CS_OK)
			return rc;
		for (size_t i = 0; i < json_array_size(urls); i++) {
			const char *u = json_string_value(json_array_get(urls, i));
			const char *last = u ? strrchr(u, '/') : NULL;
			if ((rc = cs_buf_printf(b, "%s%s", i ? ", " : "", last ? last + 1 : (u ? u : ""))) != CS_OK)
				return rc;
		}
		return cs_buf_printf(b, "]:%s --", ext);
	}
	e0 = json_array_get(errs, 0);
	code = cs_json_get_str(e0, "errorCode");
	if (code == NULL)
		code = cs_json_get_str(e0, "statusCode");
	msg = cs_json_get_str(e0, "message");
	if ((rc = cs_buf_printf(b, "%s:%s:", code ? code : "UNKNOWN_EXCEPTION", msg ? msg : "")) != CS_OK)
		return rc;
	fields = json_object_get(e0, "fields");
	for (size_t i = 0; i < json_array_size(fields); i++) {
		const char *f = json_string_value(json_array_get(fields, i));
		if ((rc = cs_buf_printf(b, "%s%s", i ? "," : "", f ? f : "")) != CS_OK)
			return rc;
	}
	return cs_buf_puts(b, json_array_size(fields) ? " --" : "--");
}

void
bulk_java_double(double d, char *out, size_t cap)
{
	char e[48], digs[24], buf[72];
	int nd = 0, p;
	long ex;
	size_t k = 0;
	const char *s;
	double ad = fabs(d);

	if (isnan(d)) {
		snprintf(out, cap, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(out, cap, d < 0 ? "-Infinity" : "Infinity");
		return;
	}
	if (d == 0) {
		snprintf(out, cap, signbit(d) ? "-0.0" : "0.0");
		return;
	}
	/* the shortest digits that read back as d, as Java prints them */
	for (p = 1; p <= 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	s = e + (e[0] == '-');
	for (; *s && *s != 'e' && nd < (int)sizeof(digs); s++)
		if (isdigit((unsigned char)*s))
			digs[nd++] = *s;
	ex = *s == 'e' ? strtol(s + 1, NULL, 10) : 0;
	while (nd > 1 && digs[nd - 1] == '0')
		nd--;
	if (d < 0)
		buf[k++] = '-';
	if (ad >= 1e-3 && ad < 1e7) {
		if (ex >= 0) {
			for (long i = 0; i <= ex; i++)
				buf[k++] = i < nd ? digs[i] : '0';
			buf[k++] = '.';
			if (nd > ex + 1)
				for (long i = ex + 1; i < nd; i++)
					buf[k++] = digs[i];
			else
				buf[k++] = '0';
		} else {
			buf[k++] = '0';
			buf[k++] = '.';
			for (long i = 0; i < -ex - 1; i++)
				buf[k++] = '0';
			for (int i = 0; i < nd; i++)
				buf[k++] = digs[i];
		}
		buf[k] = '\0';
	} else {
		buf[k++] = digs[0];
		buf[k++] = '.';
		if (nd > 1)
			for (int i = 1; i < nd; i++)
				buf[k++] = digs[i];
		else
			buf[k++] = '0';
		snprintf(buf + k, sizeof(buf) - k, "E%ld", ex);
	}
	snprintf(out, cap, "%s", buf);
}

/* ---- locators ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
bulk_locator_encode(size_t off, char *out, size_t cap)
{
	char dec[24], enc[40];
	size_t n = (size_t)snprintf(dec, sizeof(dec), "%zu", off), k = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)dec[i] << 16;
		size_t left = n - i;
		if (left > 1)
			v |= (unsigned char)dec[i + 1] << 8;
		if (left > 2)
			v |= (unsigned char)dec[i + 2];
		enc[k++] = b64[(v >> 18) & 63];
		enc[k++] = b64[(v >> 12) & 63];
		if (left > 1)
			enc[k++] = b64[(v >> 6) & 63];
		if (left > 2)
			enc[k++] = b64[v & 63];
	}
	enc[k] = '\0';
	snprintf(out, cap, "%s", enc);
}

bool
bulk_locator_decode(const char *s, size_t *off)
{
	char dec[32], again[40];
	size_t n = strlen(s), k = 0;
	unsigned long long v;
	char *end;

	if (n == 0 || n > 28 || n % 4 == 1)
		return false;
	for (size_t i = 0; i < n; i += 4) {
		unsigned acc = 0;
		size_t take = n - i < 4 ? n - i : 4;
		for (size_t j = 0; j < 4; j++) {
			const char *p = j < take ? strchr(b64, s[i + j]) : NULL;
			if (j < take && (p == NULL || s[i + j] == '\0'))
				return false;
			acc = (acc << 6) | (p ? (unsigned)(p - b64) : 0);
		}
		dec[k++] = (char)(acc >> 16);
		if (take > 2)
			dec[k++] = (char)(acc >> 8);
		if (take > 3)
			dec[k++] = (char)acc;
	}
	dec[k] = '\0';
	if (k == 0 || k > 20)
		return false;
	for (size_t i = 0; i < k; i++)
		if (!isdigit((unsigned char)dec[i]))
			return false;
	errno = 0;
	v = strtoull(dec, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	/* only the canonical spelling is a locator we handed out */
	bulk_locator_encode((size_t)v, again, sizeof(again));
	if (strcmp(again, s) != 0)
		return false;
	*off = (size_t)v;
	return true;
}

/* ---- query text ---- */

static bool
word_at(const char *q, size_t len, size_t i, const char *w)
{
	size_t n = strlen(w);

	if (i + n > len || strncasecmp(q + i, w, n) != 0)
		return false;
	if (i > 0 && (isalnum((unsigned char)q[i - 1]) || q[i - 1] == '_'))
		return false;
	return i + n == len || !(isalnum((unsigned char)q[i + n]) || q[i + n] == '_');
}

/* Skips a quoted literal starting at q[i] == '\''; returns the index after it. */
static size_t
skip_literal(const char *q, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (q[i] == '\\' && i + 1 < len)
			i++;
		else if (q[i] == '\'')
			return i + 1;
	}
	return len;
}

static cs_err
add_item(json_t *items, const char *p, size_t n, struct cs_error *e)
{
	while (n > 0 && isspace((unsigned char)*p))
		p++, n--;
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	if (n == 0)
		return cs_error_set(e, CS_EINVAL, "empty item in the SELECT list");
	if (json_array_size(items) >= BULK_MAX_SELECT_ITEMS)
		return cs_error_set(e, CS_EINVAL, "more than %d items in the SELECT list", BULK_MAX_SELECT_ITEMS);
	if (memchr(p, '(', n) != NULL) {
		const char *sub = p + strspn(p, "( \t\r\n");
		if (strncasecmp(sub, "select", 6) == 0)
			return cs_error_set(e, CS_EINVAL, "Aggregate Relationships not supported in Bulk Query");
		return cs_error_set(e, CS_EINVAL, "Functions and aggregate queries are not supported in Bulk Query: %.*s",
		    (int)(n > 100 ? 100 : n), p);
	}
	if (n > 6 && strncasecmp(p, "typeof", 6) == 0 && isspace((unsigned char)p[6]))
		return cs_error_set(e, CS_EINVAL, "TYPEOF is not supported in Bulk Query");
	if (json_array_append_new(items, json_stringn(p, n)) != 0)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	return CS_OK;
}

cs_err
bulk_select_items(const char *q, size_t len, json_t **items, char *object, size_t cap, struct cs_error *e)
{
	size_t i = 0, st, depth = 0;
	json_t *arr = json_array();
	cs_err rc;

	*items = NULL;
	object[0] = '\0';
	if (arr == NULL)
		return cs_error_set(e, CS_ENOMEM, "out of memory");
	while (i < len && isspace((unsigned char)q[i]))
		i++;
	if (!word_at(q, len, i, "select")) {
		rc = cs_error_set(e, CS_EINVAL, "a Bulk query starts with SELECT");
		goto fail;
	}
	i += 6;
	st = i;
	for (;;) {
		if (i >= len) {
			rc = cs_error_set(e, CS_EINVAL, "no FROM clause");
			goto fail;
		}
		if (q[i] == '\'') {
			i = skip_literal(q, len, i);
			continue;
		}
		if (q[i] == '(')
			depth++;
		else if (q[i] == ')' && depth > 0)
			depth--;
		else if (depth == 0 && q[i] == ',') {
			if ((rc = add_item(arr, q + st, i - st, e)) != CS_OK)
				goto fail;
			st = i + 1;
		} else if (depth == 0 && word_at(q, len, i, "from")) {
			if ((rc = add_item(arr, q + st, i - st, e)) != CS_OK)
				goto fail;
			i += 4;
			break;
		}
		i++;
	}
	while (i < len && isspace((unsigned char)q[i]))
		i++;
	st = i;
	while (i < len && (isalnum((unsigned char)q[i]) || q[i] == '_'))
		i++;
	if (i == st || i - st >= cap) {
		rc = cs_error_set(e, CS_EINVAL, "no object after FROM");
		goto fail;
	}
	memcpy(object, q + st, i - st);
	object[i - st] = '\0';
	/* clauses Bulk API 2.0 refuses, outside string literals */
	while (i < len) {
		if (q[i] == '\'') {
			i = skip_literal(q, len, i);
			continue;
		}
		if (word_at(q, len, i, "group")) {
			size_t k = i + 5;
			while (k < len && isspace((unsigned char)q[k]))
				k++;
			if (word_at(q, len, k, "by")) {
				rc = cs_error_set(e, CS_EINVAL, "GROUP BY is not supported in Bulk Query");
				goto fail;
			}
		}
		if (word_at(q, len, i, "offset")) {
			rc = cs_error_set(e, CS_EINVAL, "OFFSET is not supported in Bulk Query");
			goto fail;
		}
		i++;
	}
	*items = arr;
	return CS_OK;
fail:
	json_decref(arr);
	return rc;
}

/* ---- ingest processing ---- */

struct col {
	char *name;                /* the header text */
	struct sfield *f;          /* the field written; for a relationship column the lookup field */
	struct sobject *to;        /* relationship column: the parent object */
	struct sfield *key;        /* relationship column: the parent field matched */
	json_t *map;               /* relationship on a non-Id key: lower(value) -> id, "" if ambiguous */
	bool skip;                 /* not part of the record body */
	bool dbl;                  /* re-rendered as a Java double in successful results */
};

struct plan {
	struct col *cols;
	size_t ncols;
	long id_col, ext_col;      /* -1 when absent */
	struct sobject *o;
};

static void
plan_cleanup(struct plan *p)
{
	for (size_t i = 0; i < p->ncols; i++) {
		free(p->cols[i].name);
		json_decref(p->cols[i].map);
	}
	free(p->cols);
	memset(p, 0, sizeof(*p));
}

static char *
lower_dup(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* Resolves "Rel.Field" or "Type:Rel.Field" on object o into c. */
static bool
relationship(struct emu *emu, struct sobject *o, const char *name, struct col *c)
{
	char buf[3 * NAME_MAX_LEN], *type = NULL, *rel = buf, *dot, *colon;

	if (strlen(name) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%s", name);
	if ((colon = strchr(buf, ':')) != NULL) {
		*colon = '\0';
		type = buf;
		rel = colon + 1;
	}
	if ((dot = strchr(rel, '.')) == NULL || strchr(dot + 1, '.') != NULL)
		return false;
	*dot = '\0';
	c->f = emu_field_by_relationship(o, rel);
	if (c->f == NULL || c->f->reference_to == NULL)
		return false;
	c->to = emu_object(emu, type ? type : c->f->reference_to);
	if (c->to == NULL)
		return false;
	c->key = emu_field(c->to, dot + 1);
	return c->key != NULL && (c->key->type == FT_ID || c->key->external_id || c->key->unique);
}

/* Lower-cased key value -> record id over the parent's live records ("" when several match). */
static json_t *
key_map(struct sobject *to, const struct sfield *key)
{
	json_t *m = json_object(), *rec;
	const char *id;

	json_object_foreach(to->records, id, rec) {
		json_t *v = json_object_get(rec, key->name);
		char *txt, *low;
		if (v == NULL || json_is_null(v))
			continue;
		txt = json_is_string(v) ? strdup(json_string_value(v)) : cs_json_str(v);
		low = lower_dup(txt ? txt : "");
		free(txt);
		if (low == NULL)
			continue;
		json_object_set_new(m, low, json_string(json_object_get(m, low) ? "" : id));
		free(low);
	}
	return m;
}

/* Maps the header row onto the schema. Lock held. On failure returns false with the job's
 * errorMessage in msg, as Salesforce words a header it cannot use. */
static bool
plan_make(struct emu *emu, const struct job *j, const struct csv_field *h, size_t n, struct plan *p, char *msg, size_t cap)
{
	memset(p, 0, sizeof(*p));
	p->id_col = p->ext_col = -1;
	if ((p->o = emu_object(emu, j->object)) == NULL) {
		snprintf(msg, cap, "InvalidJob : Unable to find object: %s", j->object);
		return false;
	}
	if ((p->cols = calloc(n, sizeof(*p->cols))) == NULL) {
		snprintf(msg, cap, "Unknown : out of memory");
		return false;
	}
	p->ncols = n;
	for (size_t i = 0; i < n; i++) {
		struct col *c = &p->cols[i];
		char shown[NAME_MAX_LEN];

		clip(h[i].p, shown, sizeof(shown));
		if ((c->name = strdup(h[i].p)) == NULL) {
			snprintf(msg, cap, "Unknown : out of memory");
			return false;
		}
		if (strchr(c->name, '.') != NULL) {
			if (!relationship(emu, p->o, c->name, c)) {
				snprintf(msg, cap, "InvalidBatch : Field name not found : %s", shown);
				return false;
			}
		} else if ((c->f = emu_field(p->o, c->name)) == NULL) {
			snprintf(msg, cap, "InvalidBatch : Field name not found : %s", shown);
			return false;
		}
		for (size_t k = 0; k < i; k++) {
			if (p->cols[k].f == c->f) {
				snprintf(msg, cap, "InvalidBatch : Duplicate field name : %s", shown);
				return false;
			}
		}
		if (c->to != NULL) {
			if (c->key->type != FT_ID && (c->map = key_map(c->to, c->key)) == NULL) {
				snprintf(msg, cap, "Unknown : out of memory");
				return false;
			}
		} else {
			c->dbl = c->f->type == FT_DOUBLE || c->f->type == FT_CURRENCY || c->f->type == FT_PERCENT;
			if (c->f->type == FT_ID) {
				p->id_col = (long)i;
				c->skip = j->op != OP_INSERT;
			}
			if (j->op == OP_UPSERT && strcasecmp(c->f->name, j->ext_field) == 0) {
				p->ext_col = (long)i;
				c->skip = true;
			}
		}
		/* a delete reads the Id only */
		if (j->op == OP_DELETE || j->op == OP_HARD_DELETE)
			c->skip = true;
	}
	return true;
}

static json_t *
lookup_parent(const struct col *c, const char *v)
{
	char id18[SFID_LEN + 1], msg[512], shown[200];
	char *low;
	const char *hit = NULL;

	if (c->key->type == FT_ID) {
		if (sfid_to18(v, strlen(v), id18) && json_object_get(c->to->records, id18))
			return json_string(id18);
	} else if ((low = lower_dup(v)) != NULL) {
		hit = json_string_value(json_object_get(c->map, low));
		free(low);
		if (hit && *hit)
			return json_string(hit);
	}
	clip(v, shown, sizeof(shown));
	if (hit)
		snprintf(msg, sizeof(msg), "Foreign key external ID: %s matches multiple records for field %s in entity %s",
		    shown, c->key->name, c->to->name);
	else
		snprintf(msg, sizeof(msg), "Foreign key external ID: %s not found for field %s in entity %s",
		    shown, c->key->name, c->to->name);
	return emu_error("INVALID_FIELD", msg, NULL);
}

/* The record body for one row; NULL with *err for a row that cannot be sent. */
static json_t *
row_body(const struct plan *p, const struct csv_field *f, size_t n, json_t **err)
{
	json_t *body = json_object();

	*err = NULL;
	if (body == NULL)
		goto fail;
	for (size_t i = 0; i < n && i < p->ncols; i++) {
		const struct col *c = &p->cols[i];
		json_t *v = NULL;

		if (c->skip)
			continue;
		if (c->to != NULL) {
			if (f[i].n == 0)
				continue;
			if (strcmp(f[i].p, "#N/A") == 0)
				v = json_null();
			else {
				v = lookup_parent(c, f[i].p);
				if (json_is_array(v)) {
					*err = v;
					goto fail;
				}
			}
		} else {
			switch (bulk_convert(c->f, i + 1, f[i].p, f[i].n, &v, err)) {
			case BULK_SKIP:
				continue;
			case BULK_BAD:
				goto fail;
			case BULK_VALUE:
				break;
			}
		}
		if (v == NULL || json_object_set_new(body, c->f->name, v) != 0)
			goto fail;
	}
	return body;
fail:
	json_decref(body);
	if (*err == NULL)
		*err = emu_error("UNKNOWN_EXCEPTION", "out of memory", NULL);
	return NULL;
}

/* Appends the original values of a row (and, for successful rows, doubles re-rendered). */
static cs_err
put_original(struct csv_writer *w, const struct plan *p, const struct csv_field *f, size_t n, bool rerender)
{
	cs_err rc;

	for (size_t i = 0; i < n; i++) {
		double d;
		char jd[40];
		if (rerender && p && i < p->ncols && p->cols[i].dbl && parse_num(f[i].p, f[i].n, &d)) {
			bulk_java_double(d, jd, sizeof(jd));
			rc = csv_write_str(w, jd);
		} else
			rc = csv_write_value(w, f[i].p, f[i].n);
		if (rc != CS_OK)
			return rc;
	}
	return csv_write_eol(w);
}

/* Appends a row's line to the successful or failed results; CS_ETOOBIG past RESULT_MAX. */
static cs_err
result_row(struct job *j, const struct plan *p, const struct csv_field *f, size_t n, bool ok,
    const char *id, bool created, const json_t *err)
{
	struct csv_writer w;
	struct cs_buf et;
	cs_err rc;

	if (ok) {
		csv_writer_init(&w, &j->ok, j->delim, j->eol);
		if ((rc = csv_write_str(&w, id)) != CS_OK || (rc = csv_write_str(&w, created ? "true" : "false")) != CS_OK)
			return rc;
		return put_original(&w, p, f, n, true);
	}
	cs_buf_init(&et, 64 * 1024);
	if (bulk_error_text(err, j->ext_field, &et) != CS_OK && et.len == 0)
		cs_buf_puts(&et, "UNKNOWN_EXCEPTION:error text too long:--");
	csv_writer_init(&w, &j->bad, j->delim, j->eol);
	if ((rc = csv_write_str(&w, id)) == CS_OK && (rc = csv_write_value(&w, et.data ? et.data : "", et.len)) == CS_OK)
		rc = put_original(&w, p, f, n, false);
	cs_buf_cleanup(&et);
	return rc;
}

/* Processes one row inside transaction t. Lock held. Fails only when the row's result line
 * does not fit in the result files. */
static cs_err
do_row(struct job *j, struct emu_txn *t, const struct plan *p, const struct csv_field *f, size_t n)
{
	json_t *body = NULL, *err = NULL;
	char id[SFID_LEN + 1] = "", id18[SFID_LEN + 1];
	const char *given = p->id_col >= 0 ? f[p->id_col].p : "";
	const char *fail_id = "", *code;
	bool ok = false, created = false;
	cs_err rc;

	switch (j->op) {
	case OP_INSERT:
		if ((body = row_body(p, f, n, &err)) != NULL && emu_create(t, p->o, body, id, &err))
			ok = created = true;
		break;
	case OP_UPDATE:
		fail_id = given;
		if (*given == '\0')
			err = emu_error("MISSING_ARGUMENT", "Id not specified in an update call", NULL);
		else if ((body = row_body(p, f, n, &err)) != NULL && emu_update(t, p->o, given, body, &err)) {
			ok = true;
			if (!sfid_to18(given, strlen(given), id))
				snprintf(id, sizeof(id), "%.18s", given);
		}
		break;
	case OP_UPSERT: {
		const char *ext = p->ext_col >= 0 ? f[p->ext_col].p : "";
		if (strcasecmp(j->ext_field, "Id") == 0)
			fail_id = ext;
		if ((body = row_body(p, f, n, &err)) != NULL &&
		    emu_upsert(t, p->o, j->ext_field, ext, body, id, &created, &err))
			ok = true;
		break;
	}
	case OP_DELETE:
	case OP_HARD_DELETE:
		fail_id = given;
		if (*given == '\0')
			err = emu_error("MISSING_ARGUMENT", "Id not specified in a delete call", NULL);
		else if (!sfid_to18(given, strlen(given), id18) || memcmp(id18, p->o->prefix, 3) != 0) {
			char msg[256], shown[64];
			clip(given, shown, sizeof(shown));
			snprintf(msg, sizeof(msg), "%s ID: id value of incorrect type: %s", p->o->name, shown);
			err = emu_error("MALFORMED_ID", msg, "Id");
		} else if (emu_delete(t, id18, &err)) {
			ok = true;
			memcpy(id, id18, sizeof(id));
			/* a hard delete skips the recycle bin */
			if (j->op == OP_HARD_DELETE)
				json_object_del(p->o->bin, id18);
		}
		break;
	default:
		err = emu_error("UNKNOWN_EXCEPTION", "not an ingest operation", NULL);
		break;
	}
	json_decref(body);
	/* the Bulk API words a missing record the SOAP way, not as REST's NOT_FOUND */
	code = cs_json_get_str(json_array_get(err, 0), "errorCode");
	if (!ok && j->op != OP_INSERT && code && strcmp(code, "NOT_FOUND") == 0) {
		json_decref(err);
		if (j->op == OP_UPDATE || j->op == OP_UPSERT)
			err = emu_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", NULL);
		else
			err = emu_error("ENTITY_IS_DELETED", "entity is deleted", NULL);
	}
	j->processed++;
	if (!ok)
		j->failed++;
	rc = result_row(j, p, f, n, ok, ok ? id : fail_id, created, err);
	json_decref(err);
	return rc;
}

static void
header_line(struct cs_buf *b, const struct job *j, const char *a, const char *bb, const struct csv_field *h, size_t n)
{
	struct csv_writer w;

	csv_writer_init(&w, b, j->delim, j->eol);
	if (a) {
		csv_write_str(&w, a);
		csv_write_str(&w, bb);
	}
	/* Salesforce repeats the uploaded column names unquoted after its own quoted ones */
	for (size_t i = 0; i < n; i++)
		csv_write_plain(&w, h[i].p, h[i].n);
	csv_write_eol(&w);
}

/* Ends processing: state, times, and the job's fate if it was dropped meanwhile. Lock held. */
static void
finish(struct job *j, enum jstate st, const char *error, int64_t t0)
{
	j->state = st;
	if (error) {
		free(j->error);
		j->error = strdup(error);
	}
	j->total_ms = (long)(cs_time_mono_ms() - t0);
	j->modstamp_ms = cs_time_now_ms();
	j->busy = false;
	if (j->orphan)
		job_free(j);
}

/* Runs an ingest job whose state the caller set to InProgress and busy to true. Called
 * without the lock; takes it for each chunk of BULK_TXN_RECORDS records so that other requests
 * interleave as they would with Salesforce's parallel batches. The upload is only read: no
 * request changes a busy job's data. Frees the job when it was dropped from the registry
 * (emu reset) while it ran. */
static void
run_ingest(struct emu *emu, struct job *j, const struct emu_caller *who)
{
	struct csv_reader r;
	const struct csv_field *f;
	size_t n;
	struct cs_error ce = { 0 };
	struct plan p = { 0 };
	int64_t t0 = cs_time_mono_ms();
	char msg[600];
	bool bad = false;
	enum { RUN_ON, RUN_DONE, RUN_ABORT, RUN_GONE, RUN_FAIL } how = RUN_ON;

	/* The whole upload must parse before anything is written: a malformed file fails the job. */
	csv_reader_init(&r, j->data.data ? j->data.data : "", j->data.len, j->delim, j->eol);
	while (csv_reader_next(&r, &f, &n, &ce) == CS_OK && f != NULL)
		;
	bad = r.failed;
	csv_reader_cleanup(&r);
	if (bad) {
		snprintf(msg, sizeof(msg), "ClientInputError : %s", ce.msg);
		emu_lock(emu);
		cs_buf_reset(&j->unproc);
		cs_buf_append(&j->unproc, j->data.data ? j->data.data : "", j->data.len);
		finish(j, JS_FAILED, msg, t0);
		emu_unlock(emu);
		return;
	}

	csv_reader_init(&r, j->data.data ? j->data.data : "", j->data.len, j->delim, j->eol);
	if (csv_reader_next(&r, &f, &n, &ce) != CS_OK || f == NULL) {
		/* nothing uploaded: a job with no records completes with nothing to report */
		csv_reader_cleanup(&r);
		emu_lock(emu);
		finish(j, JS_COMPLETE, NULL, t0);
		emu_unlock(emu);
		return;
	}
	emu_lock(emu);
	if (!plan_make(emu, j, f, n, &p, msg, sizeof(msg))) {
		cs_buf_reset(&j->unproc);
		cs_buf_append(&j->unproc, j->data.data ? j->data.data : "", j->data.len);
		plan_cleanup(&p);
		csv_reader_cleanup(&r);
		finish(j, JS_FAILED, msg, t0);
		emu_unlock(emu);
		return;
	}
	header_line(&j->ok, j, "sf__Id", "sf__Created", f, n);
	header_line(&j->bad, j, "sf__Id", "sf__Error", f, n);
	header_line(&j->unproc, j, NULL, NULL, f, n);
	emu_unlock(emu);

	while (how == RUN_ON) {
		struct emu_txn *t;

		emu_lock(emu);
		if (j->orphan) {
			how = RUN_GONE;
			break;
		}
		if (j->abort_requested) {
			how = RUN_ABORT;
			break;
		}
		if ((t = emu_txn_begin(emu, who)) == NULL) {
			snprintf(msg, sizeof(msg), "Unknown : out of memory");
			how = RUN_FAIL;
			break;
		}
		for (int k = 0; k < BULK_TXN_RECORDS; k++) {
			if (csv_reader_next(&r, &f, &n, NULL) != CS_OK || f == NULL) {
				how = RUN_DONE;
				break;
			}
			if (do_row(j, t, &p, f, n) != CS_OK) {
				snprintf(msg, sizeof(msg), "ExceededQuota : the result files exceed %zu bytes", RESULT_MAX);
				how = RUN_FAIL;
				break;
			}
		}
		/* rows that failed changed nothing (emu validates before writing): commit the rest */
		emu_txn_commit(t);
		j->modstamp_ms = cs_time_now_ms();
		if (how == RUN_ON) {
			long pace_ms = emu->faults.bulk_chunk_ms;   /* a busy org (POST /__emu/faults) */

			emu_unlock(emu);
			/* The mutex is not fair: without a pause this thread takes it straight back and
			 * starves the requests (GET job info, abort) that queued behind the chunk. */
			nanosleep(&(struct timespec){ pace_ms / 1000, CHUNK_PAUSE_NS + (pace_ms % 1000) * 1000000L }, NULL);
		}
	}
	/* locked here */
	if (how == RUN_ABORT || how == RUN_FAIL) {
		/* what was not processed is reported as unprocessed (truncated past RESULT_MAX) */
		struct csv_writer w;
		csv_writer_init(&w, &j->unproc, j->delim, j->eol);
		while (csv_reader_next(&r, &f, &n, NULL) == CS_OK && f != NULL) {
			for (size_t i = 0; i < n; i++)
				csv_write_value(&w, f[i].p, f[i].n);
			csv_write_eol(&w);
		}
	}
	finish(j, how == RUN_DONE ? JS_COMPLETE : how == RUN_FAIL ? JS_FAILED : JS_ABORTED, how == RUN_FAIL ? msg : NULL, t0);
	emu_unlock(emu);
	plan_cleanup(&p);
	csv_reader_cleanup(&r);
}

/* Checks an ingest job request. Lock held. Returns NULL when fine (object and ext_field get
 * their schema spelling), else the errorCode with msg set. */
static const char *
check_ingest(struct emu *emu, const char *object, const char *operation, const char *ext, enum op *op,
    char obj_out[NAME_MAX_LEN], char ext_out[NAME_MAX_LEN], char *msg, size_t cap)
{
	struct sobject *o;
	struct sfield *f;
	int k;

	for (k = OP_INSERT; k <= OP_HARD_DELETE; k++)
		if (operation && strcmp(operation, op_names[k]) == 0)
			break;
	if (operation == NULL || k > OP_HARD_DELETE) {
		char shown[64];
		clip(operation ? operation : "", shown, sizeof(shown));
		snprintf(msg, cap, "InvalidJob : Invalid operation: %s", operation ? shown : "(none)");
		return "INVALIDJOB";
	}
	*op = (enum op)k;
	if (object == NULL || (o = emu_object(emu, object)) == NULL) {
		char shown[NAME_MAX_LEN];
		clip(object ? object : "", shown, sizeof(shown));
		snprintf(msg, cap, "InvalidJob : Unable to find object: %s", shown);
		return "INVALIDJOB";
	}
	snprintf(obj_out, NAME_MAX_LEN, "%s", o->name);
	ext_out[0] = '\0';
	if (*op != OP_UPSERT)
		return NULL;
	if (ext == NULL || *ext == '\0') {
		snprintf(msg, cap, "InvalidJob : External ID was blank for %s. An External ID must be specified for upsert.", o->name);
		return "INVALIDJOB";
	}
	f = emu_field(o, ext);
	if (f == NULL || !(f->external_id || f->type == FT_ID)) {
		char shown[NAME_MAX_LEN];
		clip(ext, shown, sizeof(shown));
		snprintf(msg, cap, "InvalidJob : Field name provided, %s is not an External ID or indexed field for %s", shown, o->name);
		return "INVALIDJOB";
	}
	snprintf(ext_out, NAME_MAX_LEN, "%s", f->name);
	return NULL;
}

/* columnDelimiter, lineEnding and contentType of a job request. */
static bool
check_format(const json_t *body, struct job *j, char *msg, size_t cap)
{
	const char *ct = cs_json_get_str(body, "contentType");
	const char *cd = cs_json_get_str(body, "columnDelimiter");
	const char *le = cs_json_get_str(body, "lineEnding");

	if ((json_object_get(body, "contentType") && !json_is_null(json_object_get(body, "contentType")) &&
	    (ct == NULL || strcmp(ct, "CSV") != 0))) {
		snprintf(msg, cap, "InvalidJob : The only content type supported is CSV");
		return false;
	}
	if (cd && !csv_delim_from_name(cd, &j->delim)) {
		snprintf(msg, cap, "InvalidJob : Invalid columnDelimiter: must be one of BACKQUOTE, CARET, COMMA, PIPE, SEMICOLON, TAB");
		return false;
	}
	if (le && !csv_eol_from_name(le, &j->eol)) {
		snprintf(msg, cap, "InvalidJob : Invalid lineEnding: must be LF or CRLF");
		return false;
	}
	return true;
}

cs_err
bulk_ingest_sync(struct emu *emu, const struct emu_caller *who, const char *object, const char *operation,
    const char *ext_field, char delim, enum csv_eol eol, const char *csv, size_t len, struct bulk_outcome *out)
{
	struct job *j;
	char msg[512];
	enum op op;
	const char *code;

	memset(out, 0, sizeof(*out));
	if ((j = job_new(NULL, false, OP_INSERT, who ? who->version : EMU_MAX_VERSION)) == NULL)
		return CS_ENOMEM;
	emu_lock(emu);
	code = check_ingest(emu, object, operation, ext_field, &op, j->object, j->ext_field, msg, sizeof(msg));
	emu_unlock(emu);
	if (code != NULL) {
		job_free(j);
		return CS_EINVAL;
	}
	j->op = op;
	j->delim = delim;
	j->eol = eol;
	if (cs_buf_append(&j->data, csv, len) != CS_OK) {
		job_free(j);
		return CS_ETOOBIG;
	}
	j->state = JS_IN_PROGRESS;
	j->busy = true;
	run_ingest(emu, j, who);
	out->state = j->state == JS_COMPLETE ? "JobComplete" : state_names[j->state];
	out->processed = j->processed;
	out->failed = j->failed;
	out->error_message = xstrdup(j->error);
	out->successful = strdup(j->ok.data ? j->ok.data : "");
	out->failed_csv = strdup(j->bad.data ? j->bad.data : "");
	out->unprocessed = strdup(j->unproc.data ? j->unproc.data : "");
	job_free(j);
	if (out->successful == NULL || out->failed_csv == NULL || out->unprocessed == NULL) {
		bulk_outcome_cleanup(out);
		return CS_ENOMEM;
	}
	return CS_OK;
}

void
bulk_outcome_cleanup(struct bulk_outcome *o)
{
	free(o->error_message);
	free(o->successful);
	free(o->failed_csv);
	free(o->unprocessed);
	memset(o, 0, sizeof(*o));
}

/* ---- query jobs ---- */

/* A query column: the path as written, its schema spelling and the field it ends on. */
struct qcol {
	char path[SOQL_MAX_PATH * NAME_MAX_LEN];
	const struct sfield *f;    /* NULL when the path could not be resolved */
};

static void
resolve_qcol(struct emu *emu, struct sobject *o, const char *item, struct qcol *c)
{
	char buf[sizeof(c->path)], out[sizeof(c->path)] = "";
	char *segs[SOQL_MAX_PATH + 1];
	size_t ns = 0, first = 0;
	struct sobject *cur = o;
	char *p;

	snprintf(c->path, sizeof(c->path), "%s", item);
	c->f = NULL;
	if (o == NULL || strlen(item) >= sizeof(buf))
		return;
	snprintf(buf, sizeof(buf), "%s", item);
	for (p = buf; ns <= SOQL_MAX_PATH;) {
		segs[ns++] = p;
		if ((p = strchr(p, '.')) == NULL)
			break;
		*p++ = '\0';
	}
	if (p != NULL)
		return;
	/* "Account.Name" in a query on Account may name the object itself */
	if (ns > 1 && strcasecmp(segs[0], o->name) == 0 && emu_field_by_relationship(o, segs[0]) == NULL)
		first = 1;
	for (size_t i = first; i < ns; i++) {
		size_t used = strlen(out);
		if (i + 1 < ns) {
			struct sfield *rf = emu_field_by_relationship(cur, segs[i]);
			if (rf == NULL || rf->reference_to == NULL || (cur = emu_object(emu, rf->reference_to)) == NULL)
				return;
			snprintf(out + used, sizeof(out) - used, "%s.", rf->relationship_name ? rf->relationship_name : segs[i]);
		} else {
			const struct sfield *f = emu_field(cur, segs[i]);
			if (f == NULL)
				return;
			snprintf(out + used, sizeof(out) - used, "%s", f->name);
			c->f = f;
		}
	}
	snprintf(c->path, sizeof(c->path), "%s", out);
}

/* Finds a key of obj case-insensitively. */
static json_t *
iget(json_t *obj, const char *key, size_t n)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		if (strlen(k) == n && strncasecmp(k, key, n) == 0)
			return v;
	}
	return NULL;
}

static json_t *
value_at(json_t *rec, const char *path)
{
	json_t *cur = rec;

	while (cur != NULL && json_is_object(cur)) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		cur = iget(cur, path, n);
		if (dot == NULL)
			return cur;
		path = dot + 1;
	}
	return NULL;
}

static cs_err
put_value(struct csv_writer *w, const struct sfield *f, const json_t *v)
{
	char buf[64];
	bool dbl = f && (f->type == FT_DOUBLE || f->type == FT_CURRENCY || f->type == FT_PERCENT);

	if (v == NULL || json_is_null(v))
		return csv_write_value(w, "", 0);
	if (json_is_string(v)) {
		int64_t ms;
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		/* Bulk API writes dateTimes in UTC with a Z, where REST writes +0000 */
		if (f && f->type == FT_DATETIME && cs_datetime_parse(s, n, &ms)) {
			cs_time_format_iso(ms, buf, sizeof(buf));
			return csv_write_str(w, buf);
		}
		return csv_write_value(w, s, n);
	}
	if (json_is_boolean(v))
		return csv_write_str(w, json_is_true(v) ? "true" : "false");
	if (json_is_integer(v) && !dbl) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		return csv_write_str(w, buf);
	}
	if (json_is_number(v)) {
		bulk_java_double(json_number_value(v), buf, sizeof(buf));
		return csv_write_str(w, buf);
	}
	{
		char *txt = cs_json_str(v);
		cs_err rc = csv_write_str(w, txt ? txt : "");
		free(txt);
		return rc;
	}
}

/* Renders the query result rows into j->rows. Lock held. */
static cs_err
render_rows(struct emu *emu, struct job *j, const json_t *items, json_t *records)
{
	struct csv_writer w;
	struct qcol *cols;
	size_t nc = json_array_size(items), nr = json_array_size(records);
	struct sobject *o = emu_object(emu, j->object);
	cs_err rc = CS_OK;

	cols = calloc(nc ? nc : 1, sizeof(*cols));
	j->off = calloc(nr + 1, sizeof(*j->off));
	if (cols == NULL || j->off == NULL) {
		free(cols);
		return CS_ENOMEM;
	}
	csv_writer_init(&w, &j->rows, j->delim, j->eol);
	for (size_t i = 0; i < nc; i++) {
		resolve_qcol(emu, o, json_string_value(json_array_get(items, i)), &cols[i]);
		if ((rc = csv_write_str(&w, cols[i].path)) != CS_OK)
			goto out;
	}
	if ((rc = csv_write_eol(&w)) != CS_OK)
		goto out;
	for (size_t r = 0; r < nr; r++) {
		json_t *rec = json_array_get(records, r);
		j->off[r] = j->rows.len;
		for (size_t i = 0; i < nc; i++)
			if ((rc = put_value(&w, cols[i].f, value_at(rec, cols[i].path))) != CS_OK)
				goto out;
		if ((rc = csv_write_eol(&w)) != CS_OK)
			goto out;
	}
	j->off[nr] = j->rows.len;
	j->nrows = nr;
out:
	free(cols);
	return rc;
}

/* ---- HTTP: ingest ---- */

static void
ingest_create(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version)
{
	json_t *body, *info;
	struct job *j;
	char msg[512];
	const char *code;
	enum op op;

	if ((body = emu_body_json(rq, rs)) == NULL)
		return;
	if (!json_is_object(body)) {
		json_decref(body);
		emu_fail(rs, 400, "JSON_PARSER_ERROR", "Expected a JSON object for the job");
		return;
	}
	if ((j = job_new(NULL, false, OP_INSERT, version)) == NULL) {
		json_decref(body);
		emu_fail(rs, 500, "UNKNOWN_EXCEPTION", "out of memory");
		return;
	}
	if (!check_format(body, j, msg, sizeof(msg))) {
		json_decref(body);
		job_free(j);
		emu_fail(rs, 400, "INVALIDJOB", msg);
		return;
	}
	if (cs_json_get_str(body, "assignmentRuleId")) {
		const char *ar = cs_json_get_str(body, "assignmentRuleId");
		char id18[SFID_LEN + 1];
		/* it is echoed in every job info: only an id is kept */
		if (!sfid_to18(ar, strlen(ar), id18) || (j->assignment_rule = strdup(ar)) == NULL) {
			json_decref(body);
			job_free(j);
			emu_fail(rs, 400, "INVALIDJOB", "InvalidJob : assignmentRuleId must be a record id");
			return;
		}
	}
	emu_lock(emu);
	code = check_ingest(emu, cs_json_get_str(body, "object"), cs_json_get_str(body, "operation"),
	    cs_json_get_str(body, "externalIdFieldName"), &op, j->object, j->ext_field, msg, sizeof(msg));
	json_decref(body);
	if (code != NULL) {
		emu_unlock(emu);
		job_free(j);
		emu_fail(rs, 400, code, msg);
		return;
	}
	j->op = op;
	sfid_make("750", "0A", ++emu->bulk->seq, j->id);
	if (!add_job(emu->bulk, j)) {
		emu_unlock(emu);
		job_free(j);
		emu_fail(rs, 400, "LIMIT_EXCEEDED", "Max number of jobs reached: delete finished jobs and retry");
		return;
	}
	info = job_info(j, SHAPE_CREATE, j->state);
	emu_unlock(emu);
	http_resp_json(rs, 200, info);
}

static void
list_jobs(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version, bool query)
{
	const char *loc = http_req_query(rq, "queryLocator");
	const char *jt = http_req_query(rq, "jobType");
	const char *cm = http_req_query(rq, "concurrencyMode");
	size_t start = 0, seen = 0, added = 0;
	json_t *recs = json_array(), *out;
	bool done = true, none;

	if (loc && *loc && !bulk_locator_decode(loc, &start)) {
		json_decref(recs);
		emu_fail(rs, 400, "INVALID_QUERY_LOCATOR", "invalid query locator");
		return;
	}
	none = (jt && strcmp(jt, query ? "V2Query" : "V2Ingest") != 0) || (cm && strcmp(cm, "Parallel") != 0);
	emu_lock(emu);
	for (size_t i = 0; !none && i < emu->bulk->njobs; i++) {
		struct job *j = emu->bulk->jobs[i];
		if (j->query != query)
			continue;
		if (seen++ < start)
			continue;
		if (added == BULK_LIST_PAGE) {
			done = false;
			break;
		}
		json_array_append_new(recs, job_info(j, SHAPE_LIST, j->state));
		added++;
	}
	emu_unlock(emu);
	out = json_pack("{s:b,s:o}", "done", done, "records", recs);
	if (done)
		json_object_set_new(out, "nextRecordsUrl", json_null());
	else {
		char l[40];
		bulk_locator_encode(start + added, l, sizeof(l));
		json_object_set_new(out, "nextRecordsUrl",
		    json_sprintf("/services/data/v%d.0/jobs/%s?queryLocator=%s", version, query ? "query" : "ingest", l));
	}
	http_resp_json(rs, 200, out);
}

static bool
is_csv_type(const char *ct)
{
	return ct == NULL || *ct == '\0' || strncasecmp(ct, "text/csv", 8) == 0;
}

static void
ingest_upload(struct emu *emu, struct http_req *rq, struct http_resp *rs, const char *id)
{
	struct job *j;

	if (rq->body_too_big) {
		failf(rs, 413, "EXCEEDED_QUOTA", "Upload exceeds the limit of %u bytes for one job", (unsigned)EMU_MAX_BODY);
		return;
	}
	if (!is_csv_type(http_req_header(rq, "Content-Type"))) {
		emu_fail(rs, 400, "INVALIDCONTENTTYPE", "Content-Type must be text/csv for job data");
		return;
	}
	emu_lock(emu);
	if ((j = find_job(emu->bulk, id, false)) == NULL) {
		emu_unlock(emu);
		not_found(rs);
		return;
	}
	if (j->state != JS_OPEN) {
		emu_unlock(emu);
		failf(rs, 400, "INVALIDJOBSTATE", "Job data can only be uploaded while the job is Open; it is %s", state_names[j->state]);
		return;
	}
	if (j->data.len + rq->body_len > EMU_MAX_BODY) {
		emu_unlock(emu);
		failf(rs, 413, "EXCEEDED_QUOTA", "Upload exceeds the limit of %u bytes for one job", (unsigned)EMU_MAX_BODY);
		return;
	}
	if (!make_room(emu->bulk, rq->body_len, false) || cs_buf_append(&j->data, rq->body, rq->body_len) != CS_OK) {
		emu_unlock(emu);
		emu_fail(rs, 400, "EXCEEDED_QUOTA", "The emulator holds too much job data: delete finished jobs and retry");
		return;
	}
	/* Salesforce accepts each PUT and refuses to close a job that got more than one */
	j->nuploads++;
	j->modstamp_ms = cs_time_now_ms();
	emu_unlock(emu);
	rs->status = 201;
}

static void
ingest_patch(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version, const char *id)
{
	json_t *body, *info;
	const char *state;
	struct job *j;
	struct emu_caller who;
	char client[128], st[32];

	if ((body = emu_body_json(rq, rs)) == NULL)
		return;
	state = cs_json_get_str(body, "state");
	clip(state ? state : "", st, sizeof(st));
	json_decref(body);
	emu_caller_from(rq, version, "bulkapi", &who, client, sizeof(client));
	emu_lock(emu);
	if ((j = find_job(emu->bulk, id, false)) == NULL) {
		emu_unlock(emu);
		not_found(rs);
		return;
	}
	if (strcmp(st, "UploadComplete") == 0) {
		if (j->state != JS_OPEN) {
			enum jstate s = j->state;
			emu_unlock(emu);
			failf(rs, 400, "INVALIDJOBSTATE", "Closing already %s Job not allowed", done_word(s));
			return;
		}
		if (j->nuploads > 1) {
			emu_unlock(emu);
			failf(rs, 400, "INVALIDJOB", "Found multipe contents for job: <%.15s>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.", j->id);
			return;
		}
		j->state = JS_IN_PROGRESS;
		j->busy = true;
		j->modstamp_ms = cs_time_now_ms();
		info = job_info(j, SHAPE_PATCH, JS_UPLOAD_COMPLETE);
		emu_unlock(emu);
		/* Processed now, in this request: the next GET sees JobComplete (or Failed). */
		run_ingest(emu, j, &who);
		http_resp_json(rs, 200, info);
		return;
	}
	if (strcmp(st, "Aborted") == 0) {
		if (terminal(j->state)) {
			enum jstate s = j->state;
			emu_unlock(emu);
			failf(rs, 400, "INVALIDJOBSTATE", "Aborting already %s Job not allowed", done_word(s));
			return;
		}
		if (j->busy)
			j->abort_requested = true;   /* the processor stops at its next chunk */
		else {
			j->state = JS_ABORTED;
			cs_buf_reset(&j->unproc);
			cs_buf_append(&j->unproc, j->data.data ? j->data.data : "", j->data.len);
		}
		j->modstamp_ms = cs_time_now_ms();
		info = job_info(j, SHAPE_PATCH, JS_ABORTED);
		emu_unlock(emu);
		http_resp_json(rs, 200, info);
		return;
	}
	emu_unlock(emu);
	if (*st == '\0')
		emu_fail(rs, 400, "INVALIDJOBSTATE", "The state field is required: UploadComplete or Aborted");
	else
		failf(rs, 400, "INVALIDJOBSTATE", "Invalid state: %s. A job can be set to UploadComplete or Aborted", st);
}

static void
job_delete(struct emu *emu, struct http_resp *rs, const char *id, bool query)
{
	struct job *j;

	emu_lock(emu);
	if ((j = find_job(emu->bulk, id, query)) == NULL) {
		emu_unlock(emu);
		not_found(rs);
		return;
	}
	if (j->busy || !(terminal(j->state) || j->state == JS_UPLOAD_COMPLETE)) {
		enum jstate s = j->state;
		emu_unlock(emu);
		failf(rs, 400, "API_ERROR", "Job is in state %s and cannot be deleted: abort it or wait until it completes", state_names[s]);
		return;
	}
	for (size_t i = 0; i < emu->bulk->njobs; i++) {
		if (emu->bulk->jobs[i] == j) {
			drop_at(emu->bulk, i);
			break;
		}
	}
	emu_unlock(emu);
	rs->status = 204;
}

static void
job_get(struct emu *emu, struct http_resp *rs, const char *id, bool query)
{
	struct job *j;
	json_t *info;

	emu_lock(emu);
	if ((j = find_job(emu->bulk, id, query)) == NULL) {
		emu_unlock(emu);
		not_found(rs);
		return;
	}
	info = job_info(j, SHAPE_FULL, j->state);
	emu_unlock(emu);
	http_resp_json(rs, 200, info);
}

static void
ingest_results(struct emu *emu, struct http_resp *rs, const char *id, const char *which)
{
	struct job *j;
	const struct cs_buf *b;

	emu_lock(emu);
	if ((j = find_job(emu->bulk, id, false)) == NULL) {
		emu_unlock(emu);
		not_found(rs);
		return;
	}
	if (!terminal(j->state) || j->busy) {
		enum jstate s = j->state;
		emu_unlock(emu);
		failf(rs, 400, "INVALIDJOBSTATE", "Results are available once the job is JobComplete, Failed or Aborted; it is %s",
		    state_names[s]);
		return;
	}
	b = strcmp(which, "successfulResults") == 0 ? &j->ok : strcmp(which, "failedResults") == 0 ? &j->bad : &j->unproc;
	/* the copy is made under the lock: a reset may free the job right after */
	http_resp_text(rs, 200, "text/csv", b->data ? b->data : "", b->len);
	emu_unlock(emu);
}

static void
ingest(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version, char segs[][SEG_MAX], size_t n)
{
	const char *m = rq->method;

	if (n == 0) {
		if (strcmp(m, "POST") == 0)
			ingest_create(emu, rq, rs, version);
		else if (strcmp(m, "GET") == 0)
			list_jobs(emu, rq, rs, version, false);
		else
			not_allowed(rq, rs, "GET,POST");
		return;
	}
	if (n == 1) {
		if (strcmp(m, "GET") == 0)
			job_get(emu, rs, segs[0], false);
		else if (strcmp(m, "PATCH") == 0)
			ingest_patch(emu, rq, rs, version, segs[0]);
		else if (strcmp(m, "DELETE") == 0)
			job_delete(emu, rs, segs[0], false);
		else
			not_allowed(rq, rs, "GET,PATCH,DELETE");
		return;
	}
	if (n == 2 && strcmp(segs[1], "batches") == 0) {
		if (strcmp(m, "PUT") == 0)
			ingest_upload(emu, rq, rs, segs[0]);
		else
			not_allowed(rq, rs, "PUT");
		return;
	}
	if (n == 2 && (strcmp(segs[1], "successfulResults") == 0 || strcmp(segs[1], "failedResults") == 0 ||
	    strcmp(segs[1], "unprocessedrecords") == 0 || strcmp(segs[1], "unprocessedRecords") == 0)) {
		if (strcmp(m, "GET") == 0)
			ingest_results(emu, rs, segs[0], segs[1]);
		else
			not_allowed(rq, rs, "GET");
		return;
	}
	not_found(rs);
}

/* ---- HTTP: query ---- */

static void
query_create(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version)
{
	json_t *body, *items = NULL, *records = NULL, *err = NULL, *info;
	struct job *j = NULL;
	const char *op, *q;
	char msg[512], object[NAME_MAX_LEN];
	struct cs_error ce = { 0 };
	struct sobject *o;
	long total = 0;
	size_t qlen;
	int64_t t0 = cs_time_mono_ms();

	if ((body = emu_body_json(rq, rs)) == NULL)
		return;
	op = cs_json_get_str(body, "operation");
	q = cs_json_get_str(body, "query");
	if (!json_is_object(body) || op == NULL || (strcmp(op, "query") != 0 && strcmp(op, "queryAll") != 0)) {
		emu_fail(rs, 400, "INVALIDJOB", "InvalidJob : operation must be query or queryAll");
		goto out;
	}
	if (q == NULL || *q == '\0') {
		emu_fail(rs, 400, "INVALIDJOB", "InvalidJob : a query is required");
		goto out;
	}
	qlen = json_string_length(json_object_get(body, "query"));
	if (qlen > SOQL_MAX_LEN) {
		failf(rs, 400, "MALFORMED_QUERY", "Query is longer than %d characters", SOQL_MAX_LEN);
		goto out;
	}
	if ((j = job_new(NULL, true, strcmp(op, "queryAll") == 0 ? OP_QUERY_ALL : OP_QUERY, version)) == NULL) {
		emu_fail(rs, 500, "UNKNOWN_EXCEPTION", "out of memory");
		goto out;
	}
	if (!check_format(body, j, msg, sizeof(msg))) {
		emu_fail(rs, 400, "INVALIDJOB", msg);
		goto out;
	}
	emu_lock(emu);
	if (!soql_run(emu, q, qlen, j->op == OP_QUERY_ALL, version, &records, &total, &err)) {
		emu_unlock(emu);
		if (err != NULL)
			http_resp_json(rs, 400, err);
		else
			emu_fail(rs, 500, "UNKNOWN_EXCEPTION", "out of memory");
		err = NULL;
		goto out;
	}
	if (bulk_select_items(q, qlen, &items, object, sizeof(object), &ce) != CS_OK) {
		emu_unlock(emu);
		emu_fail(rs, 400, ce.code == CS_ENOMEM ? "UNKNOWN_EXCEPTION" : "FEATURENOTENABLED", ce.msg);
		goto out;
	}
	o = emu_object(emu, object);
	snprintf(j->object, sizeof(j->object), "%s", o ? o->name : object);
	if (render_rows(emu, j, items, records) != CS_OK) {
		free(j->off);
		j->off = NULL;
		j->nrows = 0;
		cs_buf_cleanup(&j->rows);
		j->state = JS_FAILED;
		j->error = strdup("ExceededQuota : query results exceed the emulator's limit");
	} else {
		j->state = JS_COMPLETE;
		j->processed = (long)j->nrows;
	}
	j->total_ms = (long)(cs_time_mono_ms() - t0);
	sfid_make("750", "0A", ++emu->bulk->seq, j->id);
	if (!make_room(emu->bulk, job_bytes(j), false) || !add_job(emu->bulk, j)) {
		emu_unlock(emu);
		emu_fail(rs, 400, "LIMIT_EXCEEDED", "Max number of jobs reached: delete finished jobs and retry");
		goto out;
	}
	/* Salesforce answers the create before the query runs; it ran already here */
	info = job_info(j, SHAPE_CREATE, JS_UPLOAD_COMPLETE);
	j = NULL;
	emu_unlock(emu);
	http_resp_json(rs, 200, info);
out:
	job_free(j);
	json_decref(body);
	json_decref(items);
	json_decref(records);
	json_decref(err);
}

static void
query_results(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version, const char *id)
{
	const char *loc = http_req_query(rq, "locator"), *mr = http_req_query(rq, "maxRecords");
	size_t off = 0, end, hdr;
	long long max = 0;
	char next[40], cnt[32];
	struct job *j;
	struct cs_buf body;

	if (loc && *loc && strcmp(loc, "null") != 0 && !bulk_locator_decode(loc, &off)) {
		emu_fail(rs, 400, "INVALID_QUERY_LOCATOR", "invalid query locator");
		return;
	}
	if (mr && (!parse_int(mr, strlen(mr), &max) || max <= 0 || max > BULK_MAX_RECORDS_PARAM)) {
		failf(rs, 400, "INVALIDREQUEST", "maxRecords must be a positive integer no larger than %ld", BULK_MAX_RECORDS_PARAM);
		return;
	}
	emu_lock(emu);
	if ((j = find_job(emu->bulk, id, true)) == NULL) {
		emu_unlock(emu);
		not_found(rs);
		return;
	}
	if (j->version != version) {
		int jv = j->version;
		emu_unlock(emu);
		failf(rs, 409, "API_ERROR", "The API version of the request (v%d.0) must match the API version of the job (v%d.0)", version, jv);
		return;
	}
	if (j->state != JS_COMPLETE) {
		enum jstate s = j->state;
		emu_unlock(emu);
		failf(rs, 400, "INVALIDJOBSTATE", "Results are available once the job is JobComplete; it is %s", state_names[s]);
		return;
	}
	if (off > j->nrows) {
		emu_unlock(emu);
		emu_fail(rs, 400, "INVALID_QUERY_LOCATOR", "invalid query locator");
		return;
	}
	/* a page ends at maxRecords rows, or without it near BULK_PAGE_BYTES (one row at least) */
	end = off;
	while (end < j->nrows && (max > 0 ? end - off < (size_t)max :
	    end == off || j->off[end + 1] - j->off[off] <= BULK_PAGE_BYTES))
		end++;
	hdr = j->nrows ? j->off[0] : j->rows.len;
	cs_buf_init(&body, BULK_PAGE_BYTES + hdr + (end > off ? j->off[end] - j->off[off] : 0) + 1);
	if (cs_buf_append(&body, j->rows.data ? j->rows.data : "", hdr) != CS_OK ||
	    (end > off && cs_buf_append(&body, j->rows.data + j->off[off], j->off[end] - j->off[off]) != CS_OK)) {
		emu_unlock(emu);
		cs_buf_cleanup(&body);
		emu_fail(rs, 500, "UNKNOWN_EXCEPTION", "out of memory");
		return;
	}
	if (end < j->nrows)
		bulk_locator_encode(end, next, sizeof(next));
	else
		snprintf(next, sizeof(next), "null");
	emu_unlock(emu);
	snprintf(cnt, sizeof(cnt), "%zu", end - off);
	http_resp_text(rs, 200, "text/csv", body.data ? body.data : "", body.len);
	http_resp_header(rs, "Sforce-Locator", next);
	http_resp_header(rs, "Sforce-NumberOfRecords", cnt);
	cs_buf_cleanup(&body);
}

static void
query_patch(struct emu *emu, struct http_req *rq, struct http_resp *rs, const char *id)
{
	json_t *body, *info;
	struct job *j;
	char st[32];

	if ((body = emu_body_json(rq, rs)) == NULL)
		return;
	clip(cs_json_get_str(body, "state") ? cs_json_get_str(body, "state") : "", st, sizeof(st));
	json_decref(body);
	emu_lock(emu);
	if ((j = find_job(emu->bulk, id, true)) == NULL) {
		emu_unlock(emu);
		not_found(rs);
		return;
	}
	if (strcmp(st, "Aborted") != 0) {
		emu_unlock(emu);
		failf(rs, 400, "INVALIDJOBSTATE", "Invalid state: %s. A query job can only be set to Aborted", st);
		return;
	}
	if (terminal(j->state)) {
		enum jstate s = j->state;
		emu_unlock(emu);
		failf(rs, 400, "INVALIDJOBSTATE", "Aborting already %s Job not allowed", done_word(s));
		return;
	}
	j->state = JS_ABORTED;
	j->modstamp_ms = cs_time_now_ms();
	info = job_info(j, SHAPE_PATCH, JS_ABORTED);
	emu_unlock(emu);
	http_resp_json(rs, 200, info);
}

static void
query(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version, char segs[][SEG_MAX], size_t n)
{
	const char *m = rq->method;

	if (version < BULK_MIN_QUERY_VERSION) {
		not_found(rs);
		return;
	}
	if (n == 0) {
		if (strcmp(m, "POST") == 0)
			query_create(emu, rq, rs, version);
		else if (strcmp(m, "GET") == 0)
			list_jobs(emu, rq, rs, version, true);
		else
			not_allowed(rq, rs, "GET,POST");
		return;
	}
	if (n == 1) {
		if (strcmp(m, "GET") == 0)
			job_get(emu, rs, segs[0], true);
		else if (strcmp(m, "PATCH") == 0)
			query_patch(emu, rq, rs, segs[0]);
		else if (strcmp(m, "DELETE") == 0)
			job_delete(emu, rs, segs[0], true);
		else
			not_allowed(rq, rs, "GET,PATCH,DELETE");
		return;
	}
	if (n == 2 && strcmp(segs[1], "results") == 0) {
		if (strcmp(m, "GET") == 0)
			query_results(emu, rq, rs, version, segs[0]);
		else
			not_allowed(rq, rs, "GET");
		return;
	}
	not_found(rs);
}

/* ---- entry points ---- */

/* Creates the empty job registry in emu->bulk. CS_ENOMEM when it cannot be allocated. Called
 * once by emu_init, before any request. */
cs_err
bulk_init(struct emu *emu)
{
	emu->bulk = calloc(1, sizeof(*emu->bulk));
	return emu->bulk ? CS_OK : CS_ENOMEM;
}

/* Frees every job and the registry. Called by emu_cleanup once the server has stopped, so no
 * request is processing a job. Safe when bulk_init failed or ran twice. */
void
bulk_cleanup(struct emu *emu)
{
	if (emu->bulk == NULL)
		return;
	for (size_t i = 0; i < emu->bulk->njobs; i++)
		job_free(emu->bulk->jobs[i]);
	free(emu->bulk->jobs);
	free(emu->bulk);
	emu->bulk = NULL;
}

/* Drops every job (POST /__emu/reset). Lock held. A job being processed by a request is only
 * unlinked: its processor sees it orphaned at its next chunk, stops and frees it. */
void
bulk_reset(struct emu *emu)
{
	if (emu->bulk == NULL)
		return;
	while (emu->bulk->njobs > 0)
		drop_at(emu->bulk, emu->bulk->njobs - 1);
}

/* Answers one request under /services/data/vXX.X/jobs/: rest is the path after "jobs/"
 * ("ingest", "ingest/<id>/batches", "query/<id>/results" ...). The caller has authenticated and
 * counted the call; the lock must not be held (this takes it, and an UploadComplete processes
 * the job before answering, handing the lock back between chunks of records). Every failure is
 * answered as a Salesforce error array; nothing here is fatal to the server. */
void
bulk_handle(struct emu *emu, struct http_req *rq, struct http_resp *rs, int version, const char *rest)
{
	char segs[PATH_SEGS + 1][SEG_MAX];
	size_t n = 0;
	const char *p = rest;

	/* split "ingest/<id>/<resource>" into segments; empty ones (trailing '/') are dropped */
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len > 0) {
			if (n > PATH_SEGS || len >= SEG_MAX) {
				not_found(rs);
				return;
			}
			memcpy(segs[n], p, len);
			segs[n++][len] = '\0';
		}
		p += len;
		if (*p == '/')
			p++;
	}
	if (n > 0 && strcmp(segs[0], "ingest") == 0)
		ingest(emu, rq, rs, version, segs + 1, n - 1);
	else if (n > 0 && strcmp(segs[0], "query") == 0)
		query(emu, rq, rs, version, segs + 1, n - 1);
	else
		not_found(rs);
}

/* csv.c - RFC 4180 CSV reader and writer: Bulk API 2.0 uploads and results, contract import and export. */
#include "util/csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/json.h"

static const struct {
	const char *name;
	char c;
} delims[] = {
	{ "COMMA", ',' }, { "BACKQUOTE", '`' }, { "CARET", '^' },
	{ "PIPE", '|' }, { "SEMICOLON", ';' }, { "TAB", '\t' },
};

bool
csv_delim_from_name(const char *name, char *out)
{
	for (size_t i = 0; i < sizeof(delims) / sizeof(delims[0]); i++) {
		if (strcmp(name, delims[i].name) == 0) {
			*out = delims[i].c;
			return true;
		}
	}
	return false;
}

const char *
csv_delim_name(char delim)
{
	for (size_t i = 0; i < sizeof(delims) / sizeof(delims[0]); i++)
		if (delims[i].c == delim)
			return delims[i].name;
	return "COMMA";
}

bool
csv_eol_from_name(const char *name, enum csv_eol *out)
{
	if (strcmp(name, "LF") == 0)
		*out = CSV_EOL_LF;
	else if (strcmp(name, "CRLF") == 0)
		*out = CSV_EOL_CRLF;
	else
		return false;
	return true;
}

const char *
csv_eol_name(enum csv_eol eol)
{
	return eol == CSV_EOL_CRLF ? "CRLF" : "LF";
}

size_t
csv_utf8_chars(const char *p, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)p[i] & 0xC0) != 0x80)
			c++;
	return c;
}

void
csv_reader_init(struct csv_reader *r, const char *p, size_t len, char delim, enum csv_eol eol)
{
	memset(r, 0, sizeof(*r));
	r->p = p;
	r->len = len;
	r->delim = delim;
	r->eol = eol;
	r->max_field_chars = CSV_MAX_FIELD_CHARS;
	r->max_record_chars = CSV_MAX_RECORD_CHARS;
	r->max_columns = CSV_MAX_COLUMNS;
	r->line = 1;
	/* Spreadsheet exports often start with a byte order mark; it is not part of the header. */
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		r->pos = 3;
}

void
csv_reader_cleanup(struct csv_reader *r)
{
	cs_buf_cleanup(&r->text);
	free(r->offs);
	free(r->fields);
	r->offs = NULL;
	r->fields = NULL;
	r->cfields = 0;
}

/* Records the error so that later calls repeat it, and copies it to e. */
static cs_err
fail(struct csv_reader *r, struct cs_error *e, cs_err code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static cs_err
fail(struct csv_reader *r, struct cs_error *e, cs_err code, const char *fmt, ...)
{
	va_list ap;

	r->failed = true;
	r->err.code = code;
	va_start(ap, fmt);
	vsnprintf(r->err.msg, sizeof(r->err.msg), fmt, ap);
	va_end(ap);
	if (e != NULL)
		*e = r->err;
	return code;
}

/* Is there a line ending at p[i]? 1 with its length in *n; 0 when not; -1 when it is a line
 * ending of the kind the job did not declare (Salesforce fails such uploads). */
static int
eol_at(const struct csv_reader *r, size_t i, size_t *n)
{
	bool lf = r->p[i] == '\n';
	bool crlf = r->p[i] == '\r' && i + 1 < r->len && r->p[i + 1] == '\n';

	if (!lf && !crlf)
		return 0;
	if ((r->eol == CSV_EOL_LF && crlf) || (r->eol == CSV_EOL_CRLF && lf))
		return -1;
	*n = crlf ? 2 : 1;
	return 1;
}

static cs_err
wrong_eol(struct csv_reader *r, struct cs_error *e)
{
	return fail(r, e, CS_EPARSE, "line %lu: LineEnding is invalid on user data. Current LineEnding setting is %s",
	    r->line, csv_eol_name(r->eol));
}

static cs_err
put(struct csv_reader *r, struct cs_error *e, const char *p, size_t n, unsigned long line)
{
	cs_err rc = cs_buf_append(&r->text, p, n);

	if (rc == CS_ETOOBIG)
		return fail(r, e, rc, "line %lu: record longer than %zu characters", line, r->max_record_chars);
	if (rc != CS_OK)
		return fail(r, e, rc, "line %lu: out of memory", line);
	return CS_OK;
}

/* Reads a quoted field whose opening quote is at r->pos; leaves r->pos after the closing one. */
static cs_err
quoted(struct csv_reader *r, struct cs_error *e)
{
	unsigned long open_line = r->line;
	size_t i = r->pos + 1;
	cs_err rc;

	for (;;) {
		size_t st = i;
		while (i < r->len && r->p[i] != '"' && r->p[i] != '\0') {
			if (r->p[i] == '\n')
				r->line++;
			i++;
		}
		if ((rc = put(r, e, r->p + st, i - st, open_line)) != CS_OK)
			return rc;
		if (i >= r->len)
			return fail(r, e, CS_EPARSE, "line %lu: quoted field is never closed", open_line);
		if (r->p[i] == '\0')
			return fail(r, e, CS_EPARSE, "line %lu: NUL byte in field", r->line);
		if (i + 1 < r->len && r->p[i + 1] == '"') {
			if ((rc = put(r, e, "\"", 1, open_line)) != CS_OK)
				return rc;
			i += 2;
			continue;
		}
		r->pos = i + 1;
		return CS_OK;
	}
}

/* Reads an unquoted field starting at r->pos; stops at a delimiter, line break or the end. */
static cs_err
unquoted(struct csv_reader *r, struct cs_error *e)
{
	size_t i = r->pos;
	cs_err rc;

	while (i < r->len) {
		char c = r->p[i];
		if (c == r->delim || c == '\n' || (c == '\r' && i + 1 < r->len && r->p[i + 1] == '\n'))
			break;
		if (c == '"')
			return fail(r, e, CS_EPARSE, "line %lu: stray '\"' in an unquoted field (quote the whole field and double the quote)", r->line);
		if (c == '\0')
			return fail(r, e, CS_EPARSE, "line %lu: NUL byte in field", r->line);
		i++;
	}
	if ((rc = put(r, e, r->p + r->pos, i - r->pos, r->line)) != CS_OK)
		return rc;
	r->pos = i;
	return CS_OK;
}

/* Closes the current field: NUL-ends it and checks its size and encoding. */
static cs_err
end_field(struct csv_reader *r, struct cs_error *e, size_t start, size_t nf, unsigned long line, size_t *row_chars)
{
	size_t n = r->text.len - start, chars;
	cs_err rc;

	if (!cs_utf8_valid(r->text.data + start, n))
		return fail(r, e, CS_EUTF8, "line %lu: field %zu is not valid UTF-8", line, nf + 1);
	chars = csv_utf8_chars(r->text.data + start, n);
	if (chars > r->max_field_chars)
		return fail(r, e, CS_ETOOBIG, "line %lu: field %zu is longer than %zu characters", line, nf + 1, r->max_field_chars);
	*row_chars += chars;
	if (*row_chars > r->max_record_chars)
		return fail(r, e, CS_ETOOBIG, "line %lu: record longer than %zu characters", line, r->max_record_chars);
	if ((rc = put(r, e, "", 1, line)) != CS_OK)
		return rc;
	return CS_OK;
}

static cs_err
grow_fields(struct csv_reader *r, struct cs_error *e, size_t need)
{
	size_t nc;
	size_t *no;
	struct csv_field *nf;

	if (need <= r->cfields)
		return CS_OK;
	nc = r->cfields ? r->cfields * 2 : 16;
	if (nc < need)
		nc = need;
	if (nc > r->max_columns)
		nc = r->max_columns;
	no = realloc(r->offs, nc * sizeof(*no));
	if (no == NULL)
		return fail(r, e, CS_ENOMEM, "out of memory");
	r->offs = no;
	nf = realloc(r->fields, nc * sizeof(*nf));
	if (nf == NULL)
		return fail(r, e, CS_ENOMEM, "out of memory");
	r->fields = nf;
	r->cfields = nc;
	return CS_OK;
}

cs_err
csv_reader_next(struct csv_reader *r, const struct csv_field **fields, size_t *n, struct cs_error *e)
{
	size_t nf = 0, row_chars = 0, k;
	cs_err rc;
	int t;

	*fields = NULL;
	*n = 0;
	if (r->failed) {
		if (e != NULL)
			*e = r->err;
		return r->err.code;
	}
	if (r->text.max == 0)
		/* Worst case 4 bytes a character, plus a NUL a field. */
		cs_buf_init(&r->text, r->max_record_chars * 4 + r->max_columns + 1);
	cs_buf_reset(&r->text);

	/* Skip empty lines between rows. */
	while (r->pos < r->len && (t = eol_at(r, r->pos, &k)) != 0) {
		if (t < 0)
			return wrong_eol(r, e);
		r->pos += k;
		r->line++;
	}
	if (r->pos >= r->len)
		return CS_OK;
	r->row_line = r->line;

	for (;;) {
		size_t start = r->text.len;
		unsigned long fline = r->line;

		if (nf >= r->max_columns)
			return fail(r, e, CS_ETOOBIG, "line %lu: more than %zu columns", r->row_line, r->max_columns);
		if ((rc = grow_fields(r, e, nf + 1)) != CS_OK)
			return rc;
		r->offs[nf] = start;
		if (r->pos < r->len && r->p[r->pos] == '"') {
			if ((rc = quoted(r, e)) != CS_OK)
				return rc;
		} else if ((rc = unquoted(r, e)) != CS_OK)
			return rc;
		if ((rc = end_field(r, e, start, nf, fline, &row_chars)) != CS_OK)
			return rc;
		nf++;

		if (r->pos >= r->len)
			break;
		if (r->p[r->pos] == r->delim) {
			r->pos++;
			continue;
		}
		t = eol_at(r, r->pos, &k);
		if (t < 0)
			return wrong_eol(r, e);
		if (t == 0)
			return fail(r, e, CS_EPARSE, "line %lu: unexpected character after a closing quote (expected a delimiter or a line ending)", r->line);
		r->pos += k;
		r->line++;
		break;
	}

	if (r->ncols == 0)
		r->ncols = nf;
	else if (nf != r->ncols)
		return fail(r, e, CS_EPARSE, "line %lu: expected %zu fields as in the header, found %zu", r->row_line, r->ncols, nf);
	for (size_t i = 0; i < nf; i++) {
		r->fields[i].p = r->text.data + r->offs[i];
		r->fields[i].n = strlen(r->fields[i].p);
	}
	r->nrows++;
	*fields = r->fields;
	*n = nf;
	return CS_OK;
}

void
csv_writer_init(struct csv_writer *w, struct cs_buf *b, char delim, enum csv_eol eol)
{
	w->b = b;
	w->delim = delim;
	w->crlf = eol == CSV_EOL_CRLF;
	w->col = 0;
}

static cs_err
sep(struct csv_writer *w)
{
	if (w->col++ == 0)
		return CS_OK;
	return cs_buf_putc(w->b, w->delim);
}

cs_err
csv_write_value(struct csv_writer *w, const char *s, size_t n)
{
	cs_err rc;
	size_t st = 0;

	if ((rc = sep(w)) != CS_OK || (rc = cs_buf_putc(w->b, '"')) != CS_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"')
			continue;
		/* copy through the quote, then add its double */
		if ((rc = cs_buf_append(w->b, s + st, i + 1 - st)) != CS_OK || (rc = cs_buf_putc(w->b, '"')) != CS_OK)
			return rc;
		st = i + 1;
	}
	if ((rc = cs_buf_append(w->b, s + st, n - st)) != CS_OK)
		return rc;
	return cs_buf_putc(w->b, '"');
}

cs_err
csv_write_str(struct csv_writer *w, const char *s)
{
	return csv_write_value(w, s, strlen(s));
}

cs_err
csv_write_plain(struct csv_writer *w, const char *s, size_t n)
{
	cs_err rc;

	for (size_t i = 0; i < n; i++)
		if (s[i] == w->delim || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return csv_write_value(w, s, n);
	if ((rc = sep(w)) != CS_OK)
		return rc;
	return cs_buf_append(w->b, s, n);
}

cs_err
csv_write_empty(struct csv_writer *w)
{
	return sep(w);
}

cs_err
csv_write_eol(struct csv_writer *w)
{
	w->col = 0;
	return w->crlf ? cs_buf_append(w->b, "\r\n", 2) : cs_buf_putc(w->b, '\n');
}

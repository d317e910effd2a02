/* csv.h - RFC 4180 CSV (as Bulk API 2.0 and spreadsheets speak it): a bounded reader over (ptr, len) and a writer
 * that quotes every value. */
#ifndef CS_CSV_H
#define CS_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include "util/buf.h"
#include "util/err.h"

/* Salesforce's Bulk API limits, in characters (Unicode code points), not bytes. */
#define CSV_MAX_FIELD_CHARS 32000
#define CSV_MAX_RECORD_CHARS 400000
#define CSV_MAX_COLUMNS 5000

/* Which line endings end a record. Inside a quoted field any line break is data. */
enum csv_eol {
	CSV_EOL_ANY,               /* LF or CRLF */
	CSV_EOL_LF,                /* LF only; a CRLF outside quotes is an error */
	CSV_EOL_CRLF               /* CRLF only; a bare LF outside quotes is an error */
};

/* Bulk API 2.0 names ("COMMA", "BACKQUOTE", "CARET", "PIPE", "SEMICOLON", "TAB"; "LF", "CRLF")
 * to values and back. The *_from_name calls are case-sensitive, as Salesforce is, and return
 * false for an unknown name, leaving *out alone. The *_name calls return a static string. */
bool csv_delim_from_name(const char *name, char *out);
const char *csv_delim_name(char delim);
bool csv_eol_from_name(const char *name, enum csv_eol *out);
const char *csv_eol_name(enum csv_eol eol);

/* One field of the current row: p[n] is always '\0' and p holds no other NUL. */
struct csv_field {
	const char *p;
	size_t n;
};

/* A reader is a caller-owned value: csv_reader_init, then csv_reader_next until it yields no
 * row or fails, then csv_reader_cleanup. The input is borrowed for the reader's life. Limits
 * may be lowered (never raised past the defaults' meaning) between init and the first next.
 *
 * Rules: fields are separated by `delim`; a field that starts with '"' is quoted and runs to
 * the next lone '"' ("" inside is one quote), may hold delimiters and line breaks, and must be
 * followed by a delimiter, a line ending or the end of input; a '"' anywhere in an unquoted
 * field is an error. Every row must have as many fields as the first (the header). Empty
 * lines between rows are skipped; a final line ending is optional. A UTF-8 byte order mark at
 * the start is skipped. NUL bytes and invalid UTF-8 are errors. */
struct csv_reader {
	const char *p;
	size_t len, pos;
	char delim;
	enum csv_eol eol;
	size_t max_field_chars, max_record_chars, max_columns;
	size_t ncols;              /* fields per row, fixed by the first row; 0 before it */
	unsigned long line;        /* 1-based line where reading resumes */
	unsigned long row_line;    /* line where the row last returned starts */
	unsigned long nrows;       /* rows returned so far, header included */
	/* private */
	struct cs_buf text;        /* unescaped bytes of the current row, each field NUL-ended */
	size_t *offs;              /* start of each field in text */
	struct csv_field *fields;
	size_t cfields;
	bool failed;
	struct cs_error err;       /* the first error, repeated by later calls */
};

/* Prepares r to read p[0..len) with the given delimiter and line ending rule, with the default
 * limits. Never fails; allocation happens in csv_reader_next. */
void csv_reader_init(struct csv_reader *r, const char *p, size_t len, char delim, enum csv_eol eol);
/* Releases r's buffers. Safe to call twice. */
void csv_reader_cleanup(struct csv_reader *r);

/* Reads the next row. On success *fields points to *n fields that stay valid until the next
 * call or cleanup; at the end of input *fields is NULL and *n is 0. Errors, with e->msg naming
 * the line: CS_EPARSE (unterminated or stray quote, wrong column count, wrong line ending,
 * NUL byte), CS_EUTF8, CS_ETOOBIG (a limit), CS_ENOMEM. After an error every further call
 * fails the same way. */
cs_err csv_reader_next(struct csv_reader *r, const struct csv_field **fields, size_t *n, struct cs_error *e);

/* Counts UTF-8 characters (bytes that are not continuation bytes) in p[0..n). */
size_t csv_utf8_chars(const char *p, size_t n);

/* A writer appends rows to a caller-owned cs_buf: csv_writer_init, then for each row
 * csv_write_value / csv_write_empty per column and csv_write_eol. When an append fails
 * (CS_ETOOBIG past the buffer's max, CS_ENOMEM) the buffer may hold part of a row; the caller
 * should discard it. */
struct csv_writer {
	struct cs_buf *b;
	char delim;
	bool crlf;
	size_t col;                /* columns written in the current row */
};

void csv_writer_init(struct csv_writer *w, struct cs_buf *b, char delim, enum csv_eol eol);
/* Appends s[0..n) as a quoted value ("" for each quote), preceded by a delimiter when it is
 * not the row's first. */
cs_err csv_write_value(struct csv_writer *w, const char *s, size_t n);
/* csv_write_value of a NUL-terminated string. */
cs_err csv_write_str(struct csv_writer *w, const char *s);
/* Appends s[0..n) unquoted when it holds no delimiter, quote or line break (Salesforce writes
 * uploaded column names this way in result files), else as csv_write_value does. */
cs_err csv_write_plain(struct csv_writer *w, const char *s, size_t n);
/* Appends an empty unquoted value (nothing between delimiters). */
cs_err csv_write_empty(struct csv_writer *w);
/* Ends the row with LF, or CRLF when the writer was made with CSV_EOL_CRLF. */
cs_err csv_write_eol(struct csv_writer *w);

#endif

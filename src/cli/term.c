/* term.c - output for people: escaping of hostile text, aligned tables, a progress line. */
#include "cli/cli_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/timeutil.h"

#define CELL_MAX (64 * 1024)        /* bytes of one escaped cell; longer values are cut */
#define TTY_REDRAW_MS 250
#define PROGRESS_EVERY_DEFAULT_MS 10000

/* The code point of the UTF-8 sequence at s (n bytes available) into *cp; returns its length,
 * or 0 when the bytes there are not valid UTF-8 (overlong forms and surrogates included). */
static size_t
utf8_next(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len, i;
	unsigned c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2, c = s[0] & 0x1F, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3, c = s[0] & 0x0F, min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4, c = s[0] & 0x07, min = 0x10000;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Characters a terminal acts on or that reorder the text around them: C1 controls (0x9B is
 * CSI in 8-bit mode), the bidirectional embeddings, overrides and isolates, and the line and
 * paragraph separators. */
static bool
hostile_cp(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
	       (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

cs_err
term_escape(struct cs_buf *b, const char *s, size_t n, bool keep_newlines)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len;
	unsigned cp;
	cs_err rc = CS_OK;

	while (i < n && rc == CS_OK) {
		unsigned char c = p[i];
		if (c == '\n' && keep_newlines) {
			rc = cs_buf_putc(b, '\n');
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7F) {
			switch (c) {
			case '\n': rc = cs_buf_puts(b, "\\n"); break;
			case '\r': rc = cs_buf_puts(b, "\\r"); break;
			case '\t': rc = cs_buf_puts(b, "\\t"); break;
			case 0x1B: rc = cs_buf_puts(b, "\\e"); break;
			default: rc = cs_buf_printf(b, "\\x%02x", c); break;
			}
			i++;
			continue;
		}
		if (c < 0x80) {
			rc = cs_buf_putc(b, (char)c);
			i++;
			continue;
		}
		if ((len = utf8_next(p + i, n - i, &cp)) == 0) {
			rc = cs_buf_printf(b, "\\x%02x", c);
			i++;
			continue;
		}
		if (hostile_cp(cp))
			rc = cs_buf_printf(b, "\\u%04x", cp);
		else
			rc = cs_buf_append(b, p + i, len);
		i += len;
	}
	return rc;
}

void
term_put(FILE *f, const char *s)
{
	struct cs_buf b;

	if (s == NULL || *s == '\0') {
		fputc('-', f);
		return;
	}
	cs_buf_init(&b, CELL_MAX);
	/* a value too long to escape whole is shown as far as it went */
	(void)term_escape(&b, s, strlen(s), false);
	if (b.data != NULL)
		fputs(b.data, f);
	cs_buf_cleanup(&b);
}

/* Columns of one printable code point: East Asian wide and fullwidth forms and emoji 2,
 * combining marks and zero-width characters 0, the rest 1. An approximation of wcwidth() that
 * does not depend on the locale. */
static int
cp_width(unsigned cp)
{
	if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x1DC0 && cp <= 0x1DFF) ||
	    (cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0xFE20 && cp <= 0xFE2F) || cp == 0x200B || cp == 0x200C ||
	    cp == 0x200D || cp == 0xFEFF || (cp >= 0xFE00 && cp <= 0xFE0F))
		return 0;
	if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) || (cp >= 0x3041 && cp <= 0x33FF) ||
	    (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
	    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
	    (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
	    (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
		return 2;
	return 1;
}

size_t
term_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, w = 0, len;
	unsigned cp;

	while (i < n) {
		if ((len = utf8_next(p + i, n - i, &cp)) == 0) {
			w++;
			i++;
			continue;
		}
		w += (size_t)cp_width(cp);
		i += len;
	}
	return w;
}

/* The bytes of s that fit in width columns with room for "..." after them, cut at a character
 * boundary. s is escaped UTF-8. */
static size_t
cut_at(const char *s, size_t width)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, w = 0, len;
	unsigned cp;

	while (i < n) {
		int cw;
		if ((len = utf8_next(p + i, n - i, &cp)) == 0) {
			len = 1;
			cw = 1;
		} else
			cw = cp_width(cp);
		if (w + (size_t)cw + 3 > width)
			break;
		w += (size_t)cw;
		i += len;
	}
	return i;
}

struct term_table {
	int ncols;
	char **heads;
	int *maxw;
	char **cells;               /* rows * ncols escaped strings */
	size_t rows, cap;
	size_t lost;                /* rows term_table_add could not keep: said when printed */
};

struct term_table *
term_table_new(int ncols, const char *const *heads, const int *maxw)
{
	struct term_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	t->heads = calloc((size_t)ncols, sizeof(char *));
	t->maxw = calloc((size_t)ncols, sizeof(int));
	if (t->heads == NULL || t->maxw == NULL)
		goto fail;
	for (int i = 0; i < ncols; i++) {
		if ((t->heads[i] = strdup(heads[i])) == NULL)
			goto fail;
		t->maxw[i] = maxw != NULL ? maxw[i] : 0;
	}
	return t;
fail:
	term_table_free(t);
	return NULL;
}

void
term_table_free(struct term_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	for (int i = 0; t->heads != NULL && i < t->ncols; i++)
		free(t->heads[i]);
	free(t->cells);
	free(t->heads);
	free(t->maxw);
	free(t);
}

cs_err
term_table_add(struct term_table *t, const char *const *cells)
{
	size_t base = t->rows * (size_t)t->ncols;
	int i;

	if (t->rows >= TERM_TABLE_ROWS_MAX) {
		t->lost++;
		return CS_ELIMIT;
	}
	if (t->rows == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, nc * (size_t)t->ncols * sizeof(char *));
		if (c == NULL) {
			t->lost++;
			return CS_ENOMEM;
		}
		t->cells = c;
		t->cap = nc;
	}
	for (i = 0; i < t->ncols; i++) {
		const char *v = cells[i] != NULL && cells[i][0] != '\0' ? cells[i] : "-";
		struct cs_buf b;
		cs_buf_init(&b, CELL_MAX);
		/* an over-long cell keeps what fit: it is cut for display anyway */
		if (term_escape(&b, v, strlen(v), false) == CS_ENOMEM || (b.data == NULL && cs_buf_puts(&b, "") != CS_OK)) {
			cs_buf_cleanup(&b);
			break;
		}
		t->cells[base + (size_t)i] = cs_buf_take(&b);
	}
	if (i < t->ncols) {
		while (i-- > 0)
			free(t->cells[base + (size_t)i]);
		t->lost++;
		return CS_ENOMEM;
	}
	t->rows++;
	return CS_OK;
}

size_t
term_table_rows(const struct term_table *t)
{
	return t->rows;
}

/* Prints s in a column of width w: cut with "..." when wider, padded unless last. */
static void
put_cell(FILE *f, const char *s, size_t w, bool last)
{
	size_t sw = term_width(s);

	if (sw > w) {
		size_t k = cut_at(s, w);
		fwrite(s, 1, k, f);
		fputs("...", f);
		sw = term_width(s) - term_width(s + k) + 3;
	} else
		fputs(s, f);
	if (!last)
		for (; sw < w + 2; sw++)
			fputc(' ', f);
}

void
term_table_print(const struct term_table *t, FILE *f)
{
	size_t *w = calloc((size_t)t->ncols, sizeof(size_t));

	if (w == NULL) {
		fprintf(f, "(out of memory)\n");
		return;
	}
	for (int c = 0; c < t->ncols; c++) {
		w[c] = term_width(t->heads[c]);
		for (size_t r = 0; r < t->rows; r++) {
			size_t cw = term_width(t->cells[r * (size_t)t->ncols + (size_t)c]);
			if (cw > w[c])
				w[c] = cw;
		}
		if (t->maxw[c] > 0 && w[c] > (size_t)t->maxw[c])
			w[c] = (size_t)t->maxw[c];
	}
	for (int c = 0; c < t->ncols; c++)
		put_cell(f, t->heads[c], w[c], c == t->ncols - 1);
	fputc('\n', f);
	for (size_t r = 0; r < t->rows; r++) {
		for (int c = 0; c < t->ncols; c++)
			put_cell(f, t->cells[r * (size_t)t->ncols + (size_t)c], w[c], c == t->ncols - 1);
		fputc('\n', f);
	}
	if (t->lost > 0)
		fprintf(f, "(%zu more row%s could not be kept: out of memory or over %d rows; --json has them)\n", t->lost,
		        t->lost == 1 ? "" : "s", TERM_TABLE_ROWS_MAX);
	free(w);
}

/* --- progress ------------------------------------------------------------------------------ */

void
term_duration(int64_t ms, char *out, size_t n)
{
	long long s = (long long)(ms / 1000);

	if (ms < 1000)
		snprintf(out, n, "%lldms", (long long)(ms < 0 ? 0 : ms));
	else if (s < 60)
		snprintf(out, n, "%llds", s);
	else if (s < 3600)
		snprintf(out, n, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(out, n, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
}

bool
term_progress_every(const char *s, int64_t *ms)
{
	char *end;
	double v;

	*ms = PROGRESS_EVERY_DEFAULT_MS;
	if (s == NULL)
		return true;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0.1 || v > 3600)
		return false;
	*ms = (int64_t)(v * 1000 + 0.5);
	return true;
}

void
term_progress_init(struct term_progress *p, const char *prefix, const char *unit, int64_t every_ms)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->prefix, sizeof(p->prefix), "%s", prefix);
	snprintf(p->unit, sizeof(p->unit), "%s", unit);
	p->tty = isatty(STDERR_FILENO) == 1;
	p->start_ms = p->last_ms = cs_time_mono_ms();
	p->every_ms = every_ms > 0 ? every_ms : PROGRESS_EVERY_DEFAULT_MS;
	p->total = -1;
}

void
term_progress_line(const struct term_progress *p, int64_t now, char *out, size_t n)
{
	int64_t el = now - p->start_ms;
	double rate = el > 0 ? (double)p->done * 1000.0 / (double)el : 0;
	char els[32], left[32];
	int k;

	term_duration(el, els, sizeof(els));
	if (p->total >= 0)
		k = snprintf(out, n, "%s: %lld of %s%lld %s", p->prefix, p->done, p->approx ? "~" : "", p->total, p->unit);
	else
		k = snprintf(out, n, "%s: %lld %s", p->prefix, p->done, p->unit);
	if (k < 0 || (size_t)k >= n)
		return;
	if (p->done > 0 && el >= 500) {
		k += snprintf(out + k, n - (size_t)k, ", %.0f/s", rate);
		if (p->total > p->done && rate > 0 && (size_t)k < n) {
			term_duration((int64_t)((double)(p->total - p->done) * 1000.0 / rate), left, sizeof(left));
			k += snprintf(out + k, n - (size_t)k, ", about %s left", left);
		}
	}
	if ((size_t)k < n)
		snprintf(out + k, n - (size_t)k, " (%s so far)", els);
}

void
term_progress_show(struct term_progress *p, long long done, long long total, bool approx)
{
	int64_t now = cs_time_mono_ms();
	char line[256];

	p->done = done;
	p->total = total;
	p->approx = approx;
	if (now - p->last_ms < (p->tty ? TTY_REDRAW_MS : p->every_ms))
		return;
	p->last_ms = now;
	term_progress_line(p, now, line, sizeof(line));
	/* the line holds only numbers and the command's own words: nothing to escape */
	if (p->tty) {
		struct winsize ws;
		/* a line wider than the terminal would wrap, and \r goes back only to its last row */
		if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && strlen(line) >= ws.ws_col)
			line[ws.ws_col - 1] = '\0';
		fprintf(stderr, "\r\033[K%s", line);
	}
	else
		fprintf(stderr, "%s\n", line);
	fflush(stderr);
	p->printed = true;
}

void
term_progress_end(struct term_progress *p)
{
	char line[256], els[32];
	int64_t now = cs_time_mono_ms();

	if (!p->printed)
		return;
	if (p->tty) {
		fputs("\r\033[K", stderr);
	} else {
		term_duration(now - p->start_ms, els, sizeof(els));
		snprintf(line, sizeof(line), "%s: %lld %s in %s", p->prefix, p->done, p->unit, els);
		fprintf(stderr, "%s\n", line);
	}
	fflush(stderr);
}

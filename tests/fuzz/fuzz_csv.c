/* fuzz_csv.c - libFuzzer target for the CSV reader: no crash on any input, and every row it
 * accepts survives a trip through the writer and back unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/csv.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ROWS 64

static const char delim_chars[] = ",`^|;\t";

/* Writes row f[0..n) with w, reads it back with a fresh reader and compares. */
static void
round_trip(const struct csv_field *f, size_t n, char delim, enum csv_eol eol)
{
	struct cs_buf b;
	struct csv_writer w;
	struct csv_reader r;
	const struct csv_field *g;
	size_t m;
	cs_err rc;

	cs_buf_init(&b, (size_t)CSV_MAX_RECORD_CHARS * 8 + 2 * CSV_MAX_COLUMNS + 16);
	csv_writer_init(&w, &b, delim, eol);
	for (size_t i = 0; i < n; i++)
		if (csv_write_value(&w, f[i].p, f[i].n) != CS_OK)
			abort();
	if (csv_write_eol(&w) != CS_OK)
		abort();
	csv_reader_init(&r, b.data, b.len, delim, eol);
	rc = csv_reader_next(&r, &g, &m, NULL);
	if (rc != CS_OK || g == NULL || m != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (g[i].n != f[i].n || memcmp(g[i].p, f[i].p, f[i].n) != 0)
			abort();
	if (csv_reader_next(&r, &g, &m, NULL) != CS_OK || g != NULL)
		abort();
	csv_reader_cleanup(&r);
	cs_buf_cleanup(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_reader r;
	const struct csv_field *f;
	size_t n, rows = 0;
	struct cs_error e;
	char delim;
	enum csv_eol eol;

	if (size < 1)
		return 0;
	/* The first byte picks the dialect; the rest is the document. */
	delim = delim_chars[(data[0] & 0x0F) % 6];
	eol = (enum csv_eol)((data[0] >> 4) % 3);
	csv_reader_init(&r, (const char *)data + 1, size - 1, delim, eol);
	if (data[0] & 0x80) {
		/* small limits reach the limit checks with small inputs */
		r.max_field_chars = 8;
		r.max_record_chars = 20;
		r.max_columns = 4;
	}
	while (csv_reader_next(&r, &f, &n, &e) == CS_OK && f != NULL) {
		if (n == 0 || n != r.ncols)
			abort();
		for (size_t i = 0; i < n; i++) {
			if (f[i].p[f[i].n] != '\0' || memchr(f[i].p, '\0', f[i].n) != NULL)
				abort();
			if (!cs_utf8_valid(f[i].p, f[i].n))
				abort();
		}
		if (rows++ < FUZZ_MAX_ROWS)
			round_trip(f, n, delim, eol);
	}
	csv_reader_cleanup(&r);
	return 0;
}

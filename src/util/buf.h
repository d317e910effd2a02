/* buf.h - a growing byte buffer with a fixed maximum (curl's dynbuf). */
#ifndef CS_BUF_H
#define CS_BUF_H

#include <stddef.h>
#include "util/err.h"

/* Caller-owned: init with cs_buf_init, release with cs_buf_cleanup. data is always
 * NUL-terminated when not NULL; len excludes the NUL. */
struct cs_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;     /* the most bytes it will ever hold */
};

void cs_buf_init(struct cs_buf *b, size_t max);
void cs_buf_cleanup(struct cs_buf *b);
void cs_buf_reset(struct cs_buf *b);

/* Appends n bytes. CS_ETOOBIG past max, CS_ENOMEM; on error b is unchanged. */
cs_err cs_buf_append(struct cs_buf *b, const void *p, size_t n);
cs_err cs_buf_puts(struct cs_buf *b, const char *s);
cs_err cs_buf_putc(struct cs_buf *b, char c);
cs_err cs_buf_printf(struct cs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the bytes over: returns data (caller frees with free()) and leaves b empty. */
char *cs_buf_take(struct cs_buf *b);

#endif

/* buf.c - bounded growing buffer. */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cs_buf_init(struct cs_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void
cs_buf_cleanup(struct cs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
cs_buf_reset(struct cs_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static cs_err
grow(struct cs_buf *b, size_t need)
{
	size_t ncap;
	char *p;

	if (need > b->max || need + 1 < need)
		return CS_ETOOBIG;
	if (need + 1 <= b->cap)
		return CS_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need + 1)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	p = realloc(b->data, ncap);
	if (p == NULL)
		return CS_ENOMEM;
	b->data = p;
	b->cap = ncap;
	return CS_OK;
}

cs_err
cs_buf_append(struct cs_buf *b, const void *p, size_t n)
{
	cs_err e;

	if ((e = grow(b, b->len + n)) != CS_OK)
		return e;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CS_OK;
}

cs_err
cs_buf_puts(struct cs_buf *b, const char *s)
{
	return cs_buf_append(b, s, strlen(s));
}

cs_err
cs_buf_putc(struct cs_buf *b, char c)
{
	/* the common case, room for the byte and its terminator: no call to grow (cap never exceeds
	 * max + 1, so the byte stays within max) */
	if (b->len + 2 <= b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return CS_OK;
	}
	return cs_buf_append(b, &c, 1);
}

cs_err
cs_buf_printf(struct cs_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	cs_err e;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CS_EINVAL;
	if ((e = grow(b, b->len + (size_t)n)) != CS_OK)
		return e;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return CS_OK;
}

char *
cs_buf_take(struct cs_buf *b)
{
	char *p = b->data;

	if (p == NULL)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* err.c - error names and error detail formatting. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const names[CS_ERR_COUNT] = {
	[CS_OK] = "ok",
	[CS_ENOMEM] = "out of memory",
	[CS_EINVAL] = "invalid argument",
	[CS_ETOOBIG] = "too big",
	[CS_ENOTFOUND] = "not found",
	[CS_EEXIST] = "already exists",
	[CS_EIO] = "input/output error",
	[CS_EPARSE] = "parse error",
	[CS_EUTF8] = "invalid UTF-8",
	[CS_ESTATE] = "invalid state",
	[CS_ECONFLICT] = "conflict",
	[CS_ETIMEOUT] = "timed out",
	[CS_ENET] = "network error",
	[CS_EAUTH] = "authentication failed",
	[CS_ELIMIT] = "limit exceeded",
	[CS_EHTTP] = "unexpected HTTP status",
	[CS_EINTERNAL] = "internal error",
};

const char *
cs_strerror(cs_err e)
{
	if ((unsigned)e >= CS_ERR_COUNT || names[e] == NULL)
		return "unknown error";
	return names[e];
}

cs_err
cs_error_set(struct cs_error *e, cs_err code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

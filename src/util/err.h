/* err.h - the project's one error type and its messages. */
#ifndef CS_ERR_H
#define CS_ERR_H

#include <stddef.h>

typedef enum cs_err {
	CS_OK = 0,
	CS_ENOMEM,      /* out of memory */
	CS_EINVAL,      /* invalid argument or input */
	CS_ETOOBIG,     /* input or buffer over its limit */
	CS_ENOTFOUND,   /* no such thing */
	CS_EEXIST,      /* already exists */
	CS_EIO,         /* I/O or system call failure */
	CS_EPARSE,      /* malformed input that could not be parsed */
	CS_EUTF8,       /* invalid UTF-8 */
	CS_ESTATE,      /* operation not allowed in the current state */
	CS_ECONFLICT,   /* conflicting concurrent change */
	CS_ETIMEOUT,    /* deadline passed */
	CS_ENET,        /* network failure */
	CS_EAUTH,       /* authentication failed or expired */
	CS_ELIMIT,      /* rate or quota limit reached */
	CS_EHTTP,       /* HTTP status outside the expected range */
	CS_EINTERNAL,   /* broken invariant */
	CS_ERR_COUNT
} cs_err;

/* Returns a static, human-readable name for e; never NULL. */
const char *cs_strerror(cs_err e);

/* A caller-owned error detail: a code plus a message safe to log (never secrets). */
struct cs_error {
	cs_err code;
	char msg[256];
};

/* Sets e (if not NULL) to code and a printf-formatted message; returns code. */
cs_err cs_error_set(struct cs_error *e, cs_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

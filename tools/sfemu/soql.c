/* soql.c - SOQL for sfemu: a tokenizer and recursive-descent parser over (ptr, len), binding
 * against the schema with Salesforce's error wording, and execution over the stored records. */
#include "soql.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emu.h"
#include "salesforce/sfid.h"
#include "util/json.h"
#include "util/timeutil.h"

#define DAY_MS 86400000LL
#define MAX_RELN 100000         /* largest n in LAST_N_DAYS:n and its kin */
#define MAX_NAME 256            /* longest object / field / relationship name looked up */
#define ERR_BEFORE 34           /* characters of the query shown before the caret */
#define ERR_AFTER_WORDS 2       /* words shown after the offending token */
#define ERR_AFTER_MAX 200       /* bytes shown after the caret, at most */
#define ERR_TOKEN_MAX 100       /* bytes of a token quoted in a message */

#define MSG_NO_COLUMN "No such column '%.*s' on entity '%s'. If you are attempting to use a custom " \
	"field, be sure to append the '__c' after the custom field name. Please reference your WSDL " \
	"or the describe call for the appropriate names."
#define MSG_NO_TYPE "sObject type '%.*s' is not supported. If you are attempting to use a custom " \
	"object, be sure to append the '__c' after the entity name. Please reference your WSDL or " \
	"the describe call for the appropriate names."
#define MSG_NO_REL "Didn't understand relationship '%.*s' in field path. If you are attempting to " \
	"use a custom relationship, be sure to append the '__r' after the custom relationship name. " \
	"Please reference your WSDL or the describe call for the appropriate names."
#define MSG_NO_CHILD "Didn't understand relationship '%.*s' in FROM part of query call. If you are " \
	"attempting to use a custom relationship, be sure to append the '__r' after the custom " \
	"relationship name. Please reference your WSDL or the describe call for the appropriate names."

/* printf arguments for "%.*s" showing span s of q, bounded */
#define SPAN(q, s) (int)cut((q) + (s).off, (s).len, ERR_TOKEN_MAX), (q) + (s).off

/* ---- the tree ---- */

/* Every node of a parsed query lives in one list of allocations owned by the root. */
struct chunk {
	struct chunk *next, *prev;
	size_t size;
	max_align_t data[];
};

/* A piece of the query text; 32 bits are plenty under SOQL_MAX_LEN and keep the tree small. */
struct span {
	uint32_t off, len;
};

struct path {
	struct span all;
	struct span seg[SOQL_MAX_PATH];
	int nseg;
	/* set by bindq() */
	int nhop;
	struct sfield *hop[SOQL_MAX_PATH - 1];  /* reference fields followed, in order */
	struct sfield *field;               /* the field read at the end */
};

enum ikind { I_FIELD, I_COUNT, I_AGG, I_SUB };

struct item {
	enum ikind k;
	struct span at;
	struct path p;                      /* I_FIELD; I_AGG: COUNT(p) */
	struct span alias;                  /* I_AGG; len 0 when none */
	struct soql *sub;                   /* I_SUB: (SELECT ... FROM ChildRelationship) */
};

enum lkind { L_NULL, L_TRUE, L_FALSE, L_NUM, L_STR, L_DATE, L_DATETIME, L_REL };

struct lit {
	enum lkind k;
	struct span at;
	double num;                         /* L_NUM */
	char *s;                            /* L_STR: decoded, NUL-ended; LIKE: '\' escapes % _ \ */
	size_t n;
	int64_t lo, hi;                     /* dates: [lo, hi) in ms since the epoch */
	int rel;                            /* L_REL: index into rels[] */
	long reln;
};

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NIN, OP_LIKE, OP_INC, OP_EXC };
enum ckind { C_AND, C_OR, C_NOT, C_CMP };

struct cond {
	enum ckind k;
	struct cond **kids;                 /* C_AND, C_OR; C_NOT has one */
	size_t nkids;
	struct path p;                      /* C_CMP */
	enum op op;
	struct lit *vals;
	size_t nvals;
	struct soql *sub;                   /* IN (SELECT ...): a semi-join */
	char **set;                         /* the semi-join's ids, filled when run */
	size_t nset;
};

struct order {
	struct path p;
	bool desc, nulls_first;
};

struct soql {
	struct chunk *mem;                  /* root only: the allocations, and their total size */
	size_t used;
	bool over;                          /* root only: SOQL_MAX_TREE was reached */
	const char *q;                      /* the root's copy of the text; spans index it */
	size_t qlen;
	struct item *items;
	size_t nitems;
	struct span from, alias;
	struct cond *where;
	struct order *orders;
	size_t norders;
	long long limit, offset;            /* -1 when absent */
	/* set by bindq() */
	struct sobject *obj;
	struct sfield *child_ref;           /* child sub-query: the child's field naming the parent */
	const char *child_name;             /* child sub-query: canonical relationship name */
	bool joined;                        /* semi-joins of WHERE have been run */
};

/* ---- small helpers ---- */

static bool
isalpha_(unsigned char c)
{
	return ((c | 32) >= 'a' && (c | 32) <= 'z') || c == '_';
}

static bool
isdigit_(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
isword(unsigned char c)
{
	return isalpha_(c) || isdigit_(c);
}

static bool
isspace_(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static unsigned char
fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Case-insensitive (ASCII) three-way compare of two byte strings. */
static int
foldcmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n = an < bn ? an : bn;

	for (size_t i = 0; i < n; i++) {
		unsigned char x = fold((unsigned char)a[i]), y = fold((unsigned char)b[i]);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return an < bn ? -1 : an > bn;
}

static bool
spanieq(const char *q, struct span s, const char *w)
{
	size_t n = strlen(w);

	return n == s.len && foldcmp(q + s.off, s.len, w, n) == 0;
}

/* Copies span s of q into out as a C string; false when it does not fit. */
static bool
spanstr(const char *q, struct span s, char *out, size_t cap)
{
	if (s.len >= cap)
		return false;
	memcpy(out, q + s.off, s.len);
	out[s.len] = '\0';
	return true;
}

/* Length of at most max bytes of s[0..n) that does not end inside a UTF-8 sequence. */
static size_t
cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

/* Drops an incomplete UTF-8 sequence a truncating snprintf may have left at the end of s. */
static void
trim_utf8(char *s)
{
	size_t n = strlen(s), j = n, need;
	unsigned char c;

	while (j > 0 && n - j < 4 && ((unsigned char)s[j - 1] & 0xC0) == 0x80)
		j--;
	if (j == 0)
		return;
	c = (unsigned char)s[j - 1];
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (j - 1 + need > n)
		s[j - 1] = '\0';
}

/* Bytes of the UTF-8 character starting at s[i] (1 for stray bytes), never past n. */
static size_t
u8step(const char *s, size_t i, size_t n)
{
	size_t k = 1;

	while (i + k < n && ((unsigned char)s[i + k] & 0xC0) == 0x80)
		k++;
	return k;
}

static size_t
u8chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

static int64_t
floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Zeroed memory owned by the root query; NULL when out of memory or over SOQL_MAX_TREE. */
static void *
amalloc(struct soql *root, size_t n)
{
	struct chunk *c;

	if (n > SOQL_MAX_TREE || root->used + n > SOQL_MAX_TREE) {
		root->over = true;
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c) + n)) == NULL)
		return NULL;
	c->size = n;
	c->next = root->mem;
	if (c->next)
		c->next->prev = c;
	root->mem = c;
	root->used += n;
	return c->data;
}

/* Gives back p, from amalloc(root, ...), before the query is freed. */
static void
afree(struct soql *root, void *p)
{
	struct chunk *c;

	if (p == NULL)
		return;
	c = (struct chunk *)(void *)((char *)p - offsetof(struct chunk, data));
	if (c->prev)
		c->prev->next = c->next;
	else
		root->mem = c->next;
	if (c->next)
		c->next->prev = c->prev;
	root->used -= c->size;
	free(c);
}

/* ---- errors ---- */

/* Writes the Salesforce framing of an error at q[off..off+toklen): the line around it (at most
 * ERR_BEFORE characters before, starting on a word, and ERR_AFTER_WORDS words after), a caret
 * under the offending character, its row and column, then the detail. */
static void
frame(struct soql_error *e, const char *q, size_t len, size_t off, size_t toklen, const char *detail)
{
	size_t ls = off, le = off, ws = off, we, i, n = 0, spaces;
	int row = 1, w = 0;
	char pad[ERR_BEFORE * 4 + 8];
	int k;

	if (off > len)
		off = ls = le = ws = len;
	for (i = 0; i < off; i++)
		row += q[i] == '\n';
	while (ls > 0 && q[ls - 1] != '\n')
		ls--;
	while (le < len && q[le] != '\n' && q[le] != '\r')
		le++;
	while (ws > ls && n < ERR_BEFORE) {
		ws--;
		n += ((unsigned char)q[ws] & 0xC0) != 0x80;
	}
	if (ws > ls) {
		/* cut: start on the next word, not inside one nor on punctuation */
		if (isword((unsigned char)q[ws - 1]))
			while (ws < off && isword((unsigned char)q[ws]))
				ws++;
		while (ws < off && !isword((unsigned char)q[ws]) && q[ws] != '\'')
			ws++;
	}
	while (ws < off && isspace_((unsigned char)q[ws]))
		ws++;
	we = off + toklen < le ? off + toklen : le;
	if (we < off)
		we = off;
	for (i = we; i < le && w < ERR_AFTER_WORDS; w++) {
		while (i < le && !isword((unsigned char)q[i]) && q[i] != '\'')
			i++;
		if (i >= le)
			break;
		if (q[i] == '\'') {
			for (i++; i < le && q[i] != '\''; i++)
				if (q[i] == '\\')
					i++;
			i = i < le ? i + 1 : le;
		} else {
			while (i < le && isword((unsigned char)q[i]))
				i++;
		}
		we = i;
	}
	we = off + cut(q + off, we - off, ERR_AFTER_MAX);
	spaces = u8chars(q + ws, off - ws);
	if (spaces > sizeof(pad) - 1)
		spaces = sizeof(pad) - 1;
	memset(pad, ' ', spaces);
	pad[spaces] = '\0';
	e->row = row;
	e->column = (int)u8chars(q + ls, off - ls) + 1;
	k = snprintf(e->message, sizeof(e->message), "\n%.*s\n%s^\nERROR at Row:%d:Column:%d\n%s",
	    (int)(we - ws), q + ws, pad, e->row, e->column, detail);
	if (k >= (int)sizeof(e->message))
		trim_utf8(e->message);
}

/* Records the first error only: later ones are consequences of it. */
static void vseterr(struct soql_error *e, const char *q, size_t len, struct span at, const char *code,
    const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

static void
vseterr(struct soql_error *e, const char *q, size_t len, struct span at, const char *code,
    const char *fmt, va_list ap)
{
	char detail[1024];

	if (e->code[0])
		return;
	vsnprintf(detail, sizeof(detail), fmt, ap);
	trim_utf8(detail);
	snprintf(e->code, sizeof(e->code), "%s", code);
	frame(e, q, len, at.off, at.len, detail);
}

/* ---- tokenizer ---- */

enum tk {
	T_EOF, T_ID, T_NUM, T_STR, T_DATE, T_DTIME, T_LP, T_RP, T_COMMA, T_DOT, T_COLON,
	T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE
};

struct tok {
	enum tk t;
	struct span at;
};

struct parser {
	const char *q;
	size_t len, pos;
	struct tok tok;
	struct soql *root;
	struct soql_error *err;
	int depth;
	bool failed;
};

static void perr(struct parser *p, struct span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
perr(struct parser *p, struct span at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(p->err, p->q, p->len, at, "MALFORMED_QUERY", fmt, ap);
	va_end(ap);
	p->failed = true;
	p->tok.t = T_EOF;
}

static void
oom(struct parser *p)
{
	if (!p->err->code[0] && p->root->over) {
		snprintf(p->err->code, sizeof(p->err->code), "QUERY_TOO_COMPLICATED");
		snprintf(p->err->message, sizeof(p->err->message), "Query is either selecting too many fields or "
		    "the filter conditions are too complicated.");
	} else if (!p->err->code[0]) {
		snprintf(p->err->code, sizeof(p->err->code), "UNKNOWN_EXCEPTION");
		snprintf(p->err->message, sizeof(p->err->message), "out of memory");
	}
	p->failed = true;
	p->tok.t = T_EOF;
}

static bool
ishex(unsigned char c)
{
	return isdigit_(c) || ((c | 32) >= 'a' && (c | 32) <= 'f');
}

/* Scans a quoted string starting at q[i] == '\''; returns the index past the closing quote, or
 * 0 after reporting an error. Escapes are checked here; they are decoded by the parser, which
 * knows whether the string is a LIKE pattern. */
static size_t
lex_string(struct parser *p, size_t st)
{
	const char *q = p->q;
	size_t i = st + 1, n = p->len;

	while (i < n) {
		if (q[i] == '\'')
			return i + 1;
		if (q[i] != '\\') {
			i++;
			continue;
		}
		if (i + 1 < n && strchr("nNrRtTbBfF\"'\\%_", q[i + 1]) != NULL && q[i + 1] != '\0') {
			i += 2;
			continue;
		}
		if (i + 5 < n && q[i + 1] == 'u' && ishex((unsigned char)q[i + 2]) && ishex((unsigned char)q[i + 3]) &&
		    ishex((unsigned char)q[i + 4]) && ishex((unsigned char)q[i + 5])) {
			i += 6;
			continue;
		}
		{
			/* quote the literal up to its closing quote, if it has one */
			size_t el = i + 1 < n ? 1 + u8step(q, i + 1, n) : 1, end = i + el;
			while (end < n && q[end] != '\'')
				end += q[end] == '\\' && end + 1 < n ? 2 : 1;
			if (end > n)
				end = n;
			perr(p, (struct span){ st, end - st },
			    "Invalid string literal '%.*s'. Illegal character sequence '%.*s' in string literal.",
			    (int)cut(q + st + 1, end - st - 1, ERR_TOKEN_MAX), q + st + 1, (int)el, q + i);
		}
		return 0;
	}
	perr(p, (struct span){ st, 1 }, "unterminated string literal");
	return 0;
}

/* Reads the token at p->pos into p->tok and moves p->pos past it. */
static void
lex(struct parser *p)
{
	const char *q = p->q;
	size_t i = p->pos, n = p->len, st;
	unsigned char c;

	if (p->failed)
		return;
	while (i < n && isspace_((unsigned char)q[i]))
		i++;
	st = i;
	p->tok.at.off = st;
	p->tok.at.len = 0;
	p->tok.t = T_EOF;
	if (i >= n) {
		p->pos = n;
		return;
	}
	c = (unsigned char)q[i];
	if (isalpha_(c)) {
		while (i < n && isword((unsigned char)q[i]))
			i++;
		p->tok.t = T_ID;
	} else if (isdigit_(c) || (c == '-' && i + 1 < n && isdigit_((unsigned char)q[i + 1]))) {
		size_t d0 = i + (c == '-');
		i = d0;
		while (i < n && isdigit_((unsigned char)q[i]))
			i++;
		if (c != '-' && i - d0 == 4 && i + 1 < n && q[i] == '-' && isdigit_((unsigned char)q[i + 1])) {
			int64_t v;
			while (i < n && q[i] != '\0' && (isdigit_((unsigned char)q[i]) || strchr(":.TZ+-", q[i]) != NULL))
				i++;
			if (i - st == 10 && cs_date_parse(q + st, 10, &v))
				p->tok.t = T_DATE;
			else if (i - st > 10 && q[st + 10] == 'T' && cs_datetime_parse(q + st, i - st, &v))
				p->tok.t = T_DTIME;
			else {
				perr(p, (struct span){ st, i - st }, "unexpected token: %.*s",
				    (int)cut(q + st, i - st, ERR_TOKEN_MAX), q + st);
				return;
			}
		} else if (i + 1 < n && q[i] == '.' && isdigit_((unsigned char)q[i + 1])) {
			i++;
			while (i < n && isdigit_((unsigned char)q[i]))
				i++;
			p->tok.t = T_NUM;
		} else
			p->tok.t = T_NUM;
	} else if (c == '\'') {
		if ((i = lex_string(p, st)) == 0)
			return;
		p->tok.t = T_STR;
	} else {
		bool two = i + 1 < n;
		i++;
		switch (c) {
		case '(': p->tok.t = T_LP; break;
		case ')': p->tok.t = T_RP; break;
		case ',': p->tok.t = T_COMMA; break;
		case '.': p->tok.t = T_DOT; break;
		case ':': p->tok.t = T_COLON; break;
		case '=': p->tok.t = T_EQ; break;
		case '!':
			if (!two || q[i] != '=')
				goto bad;
			i++;
			p->tok.t = T_NE;
			break;
		case '<':
			if (two && q[i] == '=') {
				i++;
				p->tok.t = T_LE;
			} else if (two && q[i] == '>') {
				i++;
				p->tok.t = T_NE;
			} else
				p->tok.t = T_LT;
			break;
		case '>':
			if (two && q[i] == '=') {
				i++;
				p->tok.t = T_GE;
			} else
				p->tok.t = T_GT;
			break;
		default:
			goto bad;
		}
	}
	p->tok.at.len = i - st;
	p->pos = i;
	return;
bad:
	{
		size_t cl = u8step(q, st, n);
		if (c < 0x20 || c == 0x7f)
			perr(p, (struct span){ st, cl }, "no viable alternative at character '\\u%04x'", c);
		else
			perr(p, (struct span){ st, cl }, "no viable alternative at character '%.*s'", (int)cl, q + st);
	}
}

/* ---- parser ---- */

/* In ASCII order (as foldcmp orders them): isreserved searches it by halves. */
static const char *const reserved[] = {
	"AND", "ASC", "BY", "DESC", "EXCLUDES", "FALSE", "FOR", "FROM", "GROUP", "HAVING", "IN",
	"INCLUDES", "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OFFSET", "OR", "ORDER", "SELECT",
	"TRUE", "TYPEOF", "USING", "WHERE", "WITH",
};

enum rel {
	R_YESTERDAY, R_TODAY, R_TOMORROW, R_LAST_WEEK, R_THIS_WEEK, R_NEXT_WEEK, R_LAST_MONTH,
	R_THIS_MONTH, R_NEXT_MONTH, R_LAST_90_DAYS, R_NEXT_90_DAYS, R_THIS_QUARTER, R_LAST_QUARTER,
	R_NEXT_QUARTER, R_THIS_YEAR, R_LAST_YEAR, R_NEXT_YEAR, R_LAST_N_DAYS, R_NEXT_N_DAYS,
	R_N_DAYS_AGO, R_LAST_N_WEEKS, R_NEXT_N_WEEKS, R_LAST_N_MONTHS, R_NEXT_N_MONTHS,
	R_LAST_N_QUARTERS, R_NEXT_N_QUARTERS, R_LAST_N_YEARS, R_NEXT_N_YEARS
};

static const struct {
	const char *name;
	bool n;                 /* takes ":n" */
} rels[] = {
	[R_YESTERDAY] = { "YESTERDAY", false }, [R_TODAY] = { "TODAY", false },
	[R_TOMORROW] = { "TOMORROW", false }, [R_LAST_WEEK] = { "LAST_WEEK", false },
	[R_THIS_WEEK] = { "THIS_WEEK", false }, [R_NEXT_WEEK] = { "NEXT_WEEK", false },
	[R_LAST_MONTH] = { "LAST_MONTH", false }, [R_THIS_MONTH] = { "THIS_MONTH", false },
	[R_NEXT_MONTH] = { "NEXT_MONTH", false }, [R_LAST_90_DAYS] = { "LAST_90_DAYS", false },
	[R_NEXT_90_DAYS] = { "NEXT_90_DAYS", false }, [R_THIS_QUARTER] = { "THIS_QUARTER", false },
	[R_LAST_QUARTER] = { "LAST_QUARTER", false }, [R_NEXT_QUARTER] = { "NEXT_QUARTER", false },
	[R_THIS_YEAR] = { "THIS_YEAR", false }, [R_LAST_YEAR] = { "LAST_YEAR", false },
	[R_NEXT_YEAR] = { "NEXT_YEAR", false }, [R_LAST_N_DAYS] = { "LAST_N_DAYS", true },
	[R_NEXT_N_DAYS] = { "NEXT_N_DAYS", true }, [R_N_DAYS_AGO] = { "N_DAYS_AGO", true },
	[R_LAST_N_WEEKS] = { "LAST_N_WEEKS", true }, [R_NEXT_N_WEEKS] = { "NEXT_N_WEEKS", true },
	[R_LAST_N_MONTHS] = { "LAST_N_MONTHS", true }, [R_NEXT_N_MONTHS] = { "NEXT_N_MONTHS", true },
	[R_LAST_N_QUARTERS] = { "LAST_N_QUARTERS", true },
	[R_NEXT_N_QUARTERS] = { "NEXT_N_QUARTERS", true },
	[R_LAST_N_YEARS] = { "LAST_N_YEARS", true }, [R_NEXT_N_YEARS] = { "NEXT_N_YEARS", true },
};

static bool
kw(const struct parser *p, const char *w)
{
	return p->tok.t == T_ID && spanieq(p->q, p->tok.at, w);
}

static bool
isreserved(const struct parser *p)
{
	const char *t = p->q + p->tok.at.off;
	size_t lo = 0, hi = sizeof(reserved) / sizeof(reserved[0]);

	if (p->tok.t != T_ID)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = foldcmp(t, p->tok.at.len, reserved[mid], strlen(reserved[mid]));

		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

static void
next(struct parser *p)
{
	lex(p);
}

static void
unexpected(struct parser *p)
{
	if (p->failed)
		return;
	if (p->tok.t == T_EOF)
		perr(p, p->tok.at, "unexpected token: <EOF>");
	else
		perr(p, p->tok.at, "unexpected token: %.*s", (int)cut(p->q + p->tok.at.off, p->tok.at.len,
		    ERR_TOKEN_MAX), p->q + p->tok.at.off);
}

static bool
take(struct parser *p, enum tk t)
{
	if (p->failed || p->tok.t != t)
		return false;
	next(p);
	return true;
}

static bool
expect(struct parser *p, enum tk t)
{
	if (take(p, t))
		return true;
	unexpected(p);
	return false;
}

static bool
accept_kw(struct parser *p, const char *w)
{
	if (p->failed || !kw(p, w))
		return false;
	next(p);
	return true;
}

static bool
expect_kw(struct parser *p, const char *w)
{
	if (accept_kw(p, w))
		return true;
	unexpected(p);
	return false;
}

static bool
enter(struct parser *p)
{
	if (++p->depth > SOQL_MAX_DEPTH) {
		perr(p, p->tok.at, "query nested deeper than %d levels", SOQL_MAX_DEPTH);
		return false;
	}
	return true;
}

/* Makes room for one more element in the arena array arr holding n of size sz and returns
 * the array to use (arr or a copy; the old one is given back); the slot [n] is zeroed.
 * Capacity doubles at powers of two. */
static void *
push(struct parser *p, void *arr, size_t n, size_t sz)
{
	void *na;
	size_t cap = n ? n * 2 : 1;

	if (p->failed)
		return NULL;
	if (n && (n & (n - 1)) != 0)
		return arr;
	if (cap > SIZE_MAX / sz || (na = amalloc(p->root, cap * sz)) == NULL) {
		oom(p);
		return NULL;
	}
	if (n)
		memcpy(na, arr, n * sz);
	afree(p->root, arr);
	return na;
}

static void *
node(struct parser *p, size_t sz)
{
	void *v;

	if (p->failed)
		return NULL;
	if ((v = amalloc(p->root, sz)) == NULL)
		oom(p);
	return v;
}

static bool
path(struct parser *p, struct path *pa)
{
	if (p->tok.t != T_ID || isreserved(p)) {
		unexpected(p);
		return false;
	}
	pa->all.off = p->tok.at.off;
	for (;;) {
		if (p->tok.t != T_ID) {
			unexpected(p);
			return false;
		}
		if (pa->nseg == SOQL_MAX_PATH) {
			perr(p, p->tok.at, "field path has more than %d relationships", SOQL_MAX_PATH - 1);
			return false;
		}
		pa->seg[pa->nseg++] = p->tok.at;
		pa->all.len = p->tok.at.off + p->tok.at.len - pa->all.off;
		next(p);
		if (!take(p, T_DOT))
			return !p->failed;
	}
}

/* An unsigned integer token (LIMIT, OFFSET, :n); -1 after reporting an error. */
static long long
integer(struct parser *p, long long max)
{
	long long v = 0;

	if (p->tok.t != T_NUM || p->q[p->tok.at.off] == '-') {
		unexpected(p);
		return -1;
	}
	for (size_t i = 0; i < p->tok.at.len; i++) {
		char c = p->q[p->tok.at.off + i];
		if (!isdigit_((unsigned char)c) || v > (max - (c - '0')) / 10) {
			unexpected(p);
			return -1;
		}
		v = v * 10 + (c - '0');
	}
	next(p);
	return v;
}

static size_t
utf8_put(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static unsigned long
hex4(const char *s)
{
	unsigned long v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)s[i];
		v = v * 16 + (isdigit_(c) ? (unsigned long)(c - '0') : (unsigned long)((c | 32) - 'a' + 10));
	}
	return v;
}

/* Decodes the string token at `at` into l. In a LIKE pattern the wildcards stay special and
 * a literal %, _ or \ is kept behind a backslash; elsewhere \% and \_ are errors. Decoding
 * never makes the text longer. */
static bool
decode(struct parser *p, struct span at, bool like, struct lit *l)
{
	const char *s = p->q + at.off + 1;
	size_t n = at.len - 2, o = 0;
	char *out = node(p, n + 1);

	if (out == NULL)
		return false;
	for (size_t i = 0; i < n;) {
		unsigned long cp;
		char c = s[i];
		if (c != '\\') {
			out[o++] = c;
			i++;
			continue;
		}
		c = s[i + 1];
		switch (c) {
		case 'n': case 'N': cp = '\n'; break;
		case 'r': case 'R': cp = '\r'; break;
		case 't': case 'T': cp = '\t'; break;
		case 'b': case 'B': cp = '\b'; break;
		case 'f': case 'F': cp = '\f'; break;
		case '"': case '\'': case '\\': cp = (unsigned char)c; break;
		case '%': case '_':
			if (!like)
				goto bad;
			out[o++] = '\\';
			out[o++] = c;
			i += 2;
			continue;
		default: /* 'u': the tokenizer checked the four hex digits */
			cp = hex4(s + i + 2);
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				goto bad;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned long lo;
				if (i + 11 >= n || s[i + 6] != '\\' || s[i + 7] != 'u' ||
				    !ishex((unsigned char)s[i + 8]) || !ishex((unsigned char)s[i + 9]) ||
				    !ishex((unsigned char)s[i + 10]) || !ishex((unsigned char)s[i + 11]) ||
				    (lo = hex4(s + i + 8)) < 0xDC00 || lo > 0xDFFF)
					goto bad;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i += 6;
			}
			i += 4;
			break;
		}
		i += 2;
		if (like && (cp == '%' || cp == '_' || cp == '\\'))
			out[o++] = '\\';
		o += utf8_put(out + o, cp);
		continue;
bad:
		perr(p, at, "Invalid string literal '%.*s'. Illegal character sequence '%.*s' in string literal.",
		    (int)cut(s, n, ERR_TOKEN_MAX), s, c == 'u' ? 6 : 2, s + i);
		return false;
	}
	out[o] = '\0';
	l->s = out;
	l->n = o;
	return true;
}

static bool
value(struct parser *p, struct lit *l, bool like)
{
	const char *t = p->q + p->tok.at.off;
	size_t tl = p->tok.at.len;

	l->at = p->tok.at;
	switch (p->tok.t) {
	case T_STR:
		l->k = L_STR;
		if (!decode(p, p->tok.at, like, l))
			return false;
		break;
	case T_NUM: {
		char buf[64];
		l->k = L_NUM;
		if (tl < sizeof(buf)) {
			memcpy(buf, t, tl);
			buf[tl] = '\0';
			l->num = strtod(buf, NULL);
		} else {
			/* too many digits for a double to care about; parse a bounded copy */
			char *big = node(p, tl + 1);
			if (big == NULL)
				return false;
			memcpy(big, t, tl);
			l->num = strtod(big, NULL);
		}
		break;
	}
	case T_DATE: {
		int64_t d = 0;
		cs_date_parse(t, tl, &d);
		l->k = L_DATE;
		l->lo = d * DAY_MS;
		l->hi = l->lo + DAY_MS;
		break;
	}
	case T_DTIME: {
		int64_t ms = 0;
		cs_datetime_parse(t, tl, &ms);
		l->k = L_DATETIME;
		l->lo = ms;
		l->hi = ms + 1;
		break;
	}
	case T_COLON:
		perr(p, p->tok.at, "Bind variables only allowed in Apex code");
		return false;
	case T_ID:
		if (kw(p, "null"))
			l->k = L_NULL;
		else if (kw(p, "true"))
			l->k = L_TRUE;
		else if (kw(p, "false"))
			l->k = L_FALSE;
		else {
			size_t r;
			for (r = 0; r < sizeof(rels) / sizeof(rels[0]); r++)
				if (kw(p, rels[r].name))
					break;
			if (r == sizeof(rels) / sizeof(rels[0])) {
				unexpected(p);
				return false;
			}
			l->k = L_REL;
			l->rel = (int)r;
			if (rels[r].n) {
				long long v;
				size_t end;
				next(p);
				if (!expect(p, T_COLON))
					return false;
				end = p->tok.at.off + p->tok.at.len;
				if ((v = integer(p, MAX_RELN)) < 0)
					return false;
				l->reln = (long)v;
				l->at.len = end - l->at.off;
				return true;
			}
		}
		break;
	default:
		unexpected(p);
		return false;
	}
	next(p);
	return !p->failed;
}

static bool
addval(struct parser *p, struct cond *c, bool like)
{
	struct lit *v = push(p, c->vals, c->nvals, sizeof(*c->vals));

	if (v == NULL)
		return false;
	c->vals = v;
	return value(p, &c->vals[c->nvals++], like);
}

static struct soql *query(struct parser *p, bool sub);

/* '(' value {',' value} ')' or, when sub is allowed, '(' SELECT ... ')'. */
static bool
list(struct parser *p, struct cond *c, bool allow_sub)
{
	if (!expect(p, T_LP))
		return false;
	if (allow_sub && kw(p, "SELECT")) {
		if (!enter(p) || (c->sub = query(p, true)) == NULL)
			return false;
		p->depth--;
		return expect(p, T_RP);
	}
	do {
		if (!addval(p, c, false))
			return false;
	} while (take(p, T_COMMA));
	return expect(p, T_RP);
}

static struct cond *
cmp(struct parser *p)
{
	struct cond *c = node(p, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->k = C_CMP;
	if (!path(p, &c->p))
		return NULL;
	switch (p->tok.t) {
	case T_EQ: c->op = OP_EQ; break;
	case T_NE: c->op = OP_NE; break;
	case T_LT: c->op = OP_LT; break;
	case T_LE: c->op = OP_LE; break;
	case T_GT: c->op = OP_GT; break;
	case T_GE: c->op = OP_GE; break;
	default:
		if (accept_kw(p, "LIKE")) {
			c->op = OP_LIKE;
			return addval(p, c, true) ? c : NULL;
		}
		if (accept_kw(p, "IN")) {
			c->op = OP_IN;
			return list(p, c, true) ? c : NULL;
		}
		if (accept_kw(p, "NOT")) {
			c->op = OP_NIN;
			return expect_kw(p, "IN") && list(p, c, true) ? c : NULL;
		}
		if (accept_kw(p, "INCLUDES")) {
			c->op = OP_INC;
			return list(p, c, false) ? c : NULL;
		}
		if (accept_kw(p, "EXCLUDES")) {
			c->op = OP_EXC;
			return list(p, c, false) ? c : NULL;
		}
		unexpected(p);
		return NULL;
	}
	next(p);
	return addval(p, c, false) ? c : NULL;
}

static struct cond *cond(struct parser *p);

static struct cond *
unary(struct parser *p)
{
	struct cond *c = NULL;

	if (!enter(p))
		return NULL;
	if (accept_kw(p, "NOT")) {
		struct cond *kid = unary(p);
		if (kid && (c = node(p, sizeof(*c))) != NULL && (c->kids = node(p, sizeof(*c->kids))) != NULL) {
			c->k = C_NOT;
			c->kids[0] = kid;
			c->nkids = 1;
		} else
			c = NULL;
	} else if (take(p, T_LP)) {
		c = cond(p);
		if (c && !expect(p, T_RP))
			c = NULL;
	} else
		c = cmp(p);
	p->depth--;
	return p->failed ? NULL : c;
}

/* SOQL has no precedence between AND and OR: mixing them needs parentheses. */
static struct cond *
cond(struct parser *p)
{
	struct cond *first = unary(p), *c, **kids;
	const char *word;

	if (first == NULL)
		return NULL;
	if (kw(p, "AND"))
		word = "AND";
	else if (kw(p, "OR"))
		word = "OR";
	else
		return first;
	if ((c = node(p, sizeof(*c))) == NULL || (kids = push(p, NULL, 0, sizeof(*kids))) == NULL)
		return NULL;
	c->k = word[0] == 'A' ? C_AND : C_OR;
	c->kids = kids;
	c->kids[c->nkids++] = first;
	while (kw(p, "AND") || kw(p, "OR")) {
		struct cond *kid;
		if (!kw(p, word)) {
			unexpected(p);
			return NULL;
		}
		next(p);
		if ((kid = unary(p)) == NULL || (kids = push(p, c->kids, c->nkids, sizeof(*kids))) == NULL)
			return NULL;
		c->kids = kids;
		c->kids[c->nkids++] = kid;
	}
	return p->failed ? NULL : c;
}

static bool
item(struct parser *p, struct soql *s, bool sub)
{
	struct item *it = push(p, s->items, s->nitems, sizeof(*s->items));

	if (it == NULL)
		return false;
	s->items = it;
	it = &s->items[s->nitems++];
	it->at = p->tok.at;
	if (p->tok.t == T_LP && !sub) {
		next(p);
		if (!enter(p))
			return false;
		if (!kw(p, "SELECT")) {
			unexpected(p);
			return false;
		}
		if ((it->sub = query(p, true)) == NULL)
			return false;
		p->depth--;
		it->k = I_SUB;
		return expect(p, T_RP);
	}
	if (kw(p, "COUNT")) {
		struct tok t = p->tok;
		size_t save = p->pos;
		next(p);
		if (p->tok.t == T_LP) {
			next(p);
			if (take(p, T_RP)) {
				/* COUNT() stands alone */
				if (s->nitems > 1 || p->tok.t == T_COMMA) {
					perr(p, it->at, "COUNT() and fields cannot be selected together");
					return false;
				}
				it->k = I_COUNT;
				return true;
			}
			it->k = I_AGG;
			if (!path(p, &it->p) || !expect(p, T_RP))
				return false;
			if (p->tok.t == T_ID && !isreserved(p)) {
				it->alias = p->tok.at;
				next(p);
			}
			return !p->failed;
		}
		/* a field called Count: back up */
		p->tok = t;
		p->pos = save;
	}
	it->k = I_FIELD;
	return path(p, &it->p);
}

static bool
order(struct parser *p, struct soql *s)
{
	struct order *o = push(p, s->orders, s->norders, sizeof(*s->orders));

	if (o == NULL)
		return false;
	s->orders = o;
	o = &s->orders[s->norders++];
	if (!path(p, &o->p))
		return false;
	if (accept_kw(p, "DESC"))
		o->desc = true;
	else
		accept_kw(p, "ASC");
	o->nulls_first = !o->desc;
	if (accept_kw(p, "NULLS")) {
		if (accept_kw(p, "FIRST"))
			o->nulls_first = true;
		else if (expect_kw(p, "LAST"))
			o->nulls_first = false;
	}
	return !p->failed;
}

/* SELECT items FROM object [alias] [WHERE cond] [ORDER BY keys] [LIMIT n] [OFFSET n]; a
 * sub-query ends before its ')', the top query at the end of the text. */
static bool
body(struct parser *p, struct soql *s, bool sub)
{
	s->q = p->q;
	s->qlen = p->len;
	s->limit = s->offset = -1;
	if (!expect_kw(p, "SELECT"))
		return false;
	do {
		if (!item(p, s, sub))
			return false;
	} while (take(p, T_COMMA));
	if (!expect_kw(p, "FROM"))
		return false;
	if (p->tok.t != T_ID) {
		unexpected(p);
		return false;
	}
	s->from = p->tok.at;
	next(p);
	if (p->tok.t == T_ID && !isreserved(p)) {
		s->alias = p->tok.at;
		next(p);
	}
	if (accept_kw(p, "WHERE") && (s->where = cond(p)) == NULL)
		return false;
	if (accept_kw(p, "ORDER")) {
		if (!expect_kw(p, "BY"))
			return false;
		do {
			if (!order(p, s))
				return false;
		} while (take(p, T_COMMA));
	}
	if (accept_kw(p, "LIMIT") && (s->limit = integer(p, 2000000000)) < 0)
		return false;
	if (accept_kw(p, "OFFSET") && (s->offset = integer(p, 2000000000)) < 0)
		return false;
	if (p->failed)
		return false;
	if (sub ? p->tok.t != T_RP : p->tok.t != T_EOF) {
		unexpected(p);
		return false;
	}
	return true;
}

static struct soql *
query(struct parser *p, bool sub)
{
	struct soql *s = node(p, sizeof(*s));

	return s && body(p, s, sub) ? s : NULL;
}

struct soql *
soql_parse(const char *q, size_t len, struct soql_error *err)
{
	struct parser p;
	struct soql *root;
	char *copy;

	memset(err, 0, sizeof(*err));
	if (len > SOQL_MAX_LEN) {
		snprintf(err->code, sizeof(err->code), "MALFORMED_QUERY");
		snprintf(err->message, sizeof(err->message),
		    "SOQL statements cannot be longer than 100,000 characters.");
		return NULL;
	}
	if (!cs_utf8_valid(q, len)) {
		snprintf(err->code, sizeof(err->code), "MALFORMED_QUERY");
		snprintf(err->message, sizeof(err->message), "query is not valid UTF-8");
		return NULL;
	}
	if ((root = calloc(1, sizeof(*root))) == NULL || (copy = amalloc(root, len + 1)) == NULL) {
		soql_free(root);
		snprintf(err->code, sizeof(err->code), "UNKNOWN_EXCEPTION");
		snprintf(err->message, sizeof(err->message), "out of memory");
		return NULL;
	}
	if (len)
		memcpy(copy, q, len);
	memset(&p, 0, sizeof(p));
	p.q = copy;
	p.len = len;
	p.root = root;
	p.err = err;
	lex(&p);
	if (!body(&p, root, false) || p.failed) {
		if (!err->code[0])
			unexpected(&p);
		soql_free(root);
		return NULL;
	}
	return root;
}

void
soql_free(struct soql *s)
{
	struct chunk *c, *nx;

	if (s == NULL)
		return;
	for (c = s->mem; c; c = nx) {
		nx = c->next;
		free(c);
	}
	free(s);
}

/* ---- formatting ---- */

static const char *const opnames[] = {
	[OP_EQ] = "=", [OP_NE] = "!=", [OP_LT] = "<", [OP_LE] = "<=", [OP_GT] = ">", [OP_GE] = ">=",
	[OP_IN] = "IN", [OP_NIN] = "NOT IN", [OP_LIKE] = "LIKE", [OP_INC] = "INCLUDES",
	[OP_EXC] = "EXCLUDES",
};

static cs_err
fspan(struct cs_buf *b, const char *q, struct span s)
{
	return cs_buf_append(b, q + s.off, s.len);
}

static cs_err
fpath(struct cs_buf *b, const char *q, const struct path *pa)
{
	cs_err e = CS_OK;

	for (int i = 0; i < pa->nseg && e == CS_OK; i++) {
		if (i)
			e = cs_buf_putc(b, '.');
		if (e == CS_OK)
			e = fspan(b, q, pa->seg[i]);
	}
	return e;
}

static cs_err
fstr(struct cs_buf *b, const char *s, size_t n, bool like)
{
	cs_err e = cs_buf_putc(b, '\'');

	for (size_t i = 0; i < n && e == CS_OK; i++) {
		unsigned char c = (unsigned char)s[i];
		if (like && c == '\\' && i + 1 < n) {
			c = (unsigned char)s[++i];
			e = cs_buf_puts(b, c == '%' ? "\\%" : c == '_' ? "\\_" : "\\\\");
			continue;
		}
		switch (c) {
		case '\'': e = cs_buf_puts(b, "\\'"); break;
		case '\\': e = cs_buf_puts(b, "\\\\"); break;
		case '\n': e = cs_buf_puts(b, "\\n"); break;
		case '\r': e = cs_buf_puts(b, "\\r"); break;
		case '\t': e = cs_buf_puts(b, "\\t"); break;
		case '\b': e = cs_buf_puts(b, "\\b"); break;
		case '\f': e = cs_buf_puts(b, "\\f"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				e = cs_buf_printf(b, "\\u%04x", c);
			else
				e = cs_buf_putc(b, (char)c);
		}
	}
	return e == CS_OK ? cs_buf_putc(b, '\'') : e;
}

static cs_err
flit(struct cs_buf *b, const char *q, const struct lit *l, bool like)
{
	switch (l->k) {
	case L_NULL: return cs_buf_puts(b, "null");
	case L_TRUE: return cs_buf_puts(b, "true");
	case L_FALSE: return cs_buf_puts(b, "false");
	case L_STR: return fstr(b, l->s, l->n, like);
	case L_REL:
		if (rels[l->rel].n)
			return cs_buf_printf(b, "%s:%ld", rels[l->rel].name, l->reln);
		return cs_buf_puts(b, rels[l->rel].name);
	default:
		return fspan(b, q, l->at);
	}
}

static cs_err fquery(struct cs_buf *b, const struct soql *s);

static cs_err
fcond(struct cs_buf *b, const char *q, const struct cond *c)
{
	cs_err e = CS_OK;

	switch (c->k) {
	case C_AND:
	case C_OR:
		for (size_t i = 0; i < c->nkids && e == CS_OK; i++) {
			bool paren = c->kids[i]->k == C_AND || c->kids[i]->k == C_OR;
			if (i)
				e = cs_buf_puts(b, c->k == C_AND ? " AND " : " OR ");
			if (e == CS_OK && paren)
				e = cs_buf_putc(b, '(');
			if (e == CS_OK)
				e = fcond(b, q, c->kids[i]);
			if (e == CS_OK && paren)
				e = cs_buf_putc(b, ')');
		}
		return e;
	case C_NOT: {
		bool paren = c->kids[0]->k == C_AND || c->kids[0]->k == C_OR;
		e = cs_buf_puts(b, paren ? "NOT (" : "NOT ");
		if (e == CS_OK)
			e = fcond(b, q, c->kids[0]);
		return e == CS_OK && paren ? cs_buf_putc(b, ')') : e;
	}
	case C_CMP:
		break;
	}
	if ((e = fpath(b, q, &c->p)) != CS_OK || (e = cs_buf_printf(b, " %s ", opnames[c->op])) != CS_OK)
		return e;
	if (c->op == OP_IN || c->op == OP_NIN || c->op == OP_INC || c->op == OP_EXC) {
		e = cs_buf_putc(b, '(');
		if (c->sub && e == CS_OK)
			e = fquery(b, c->sub);
		for (size_t i = 0; i < c->nvals && e == CS_OK; i++) {
			if (i)
				e = cs_buf_puts(b, ", ");
			if (e == CS_OK)
				e = flit(b, q, &c->vals[i], false);
		}
		return e == CS_OK ? cs_buf_putc(b, ')') : e;
	}
	return flit(b, q, &c->vals[0], c->op == OP_LIKE);
}

static cs_err
fquery(struct cs_buf *b, const struct soql *s)
{
	const char *q = s->q;
	cs_err e = cs_buf_puts(b, "SELECT ");

	for (size_t i = 0; i < s->nitems && e == CS_OK; i++) {
		const struct item *it = &s->items[i];
		if (i)
			e = cs_buf_puts(b, ", ");
		if (e != CS_OK)
			break;
		switch (it->k) {
		case I_FIELD:
			e = fpath(b, q, &it->p);
			break;
		case I_COUNT:
			e = cs_buf_puts(b, "COUNT()");
			break;
		case I_AGG:
			if ((e = cs_buf_puts(b, "COUNT(")) == CS_OK && (e = fpath(b, q, &it->p)) == CS_OK)
				e = cs_buf_putc(b, ')');
			if (e == CS_OK && it->alias.len && (e = cs_buf_putc(b, ' ')) == CS_OK)
				e = fspan(b, q, it->alias);
			break;
		case I_SUB:
			if ((e = cs_buf_putc(b, '(')) == CS_OK && (e = fquery(b, it->sub)) == CS_OK)
				e = cs_buf_putc(b, ')');
			break;
		}
	}
	if (e == CS_OK && (e = cs_buf_puts(b, " FROM ")) == CS_OK)
		e = fspan(b, q, s->from);
	if (e == CS_OK && s->alias.len && (e = cs_buf_putc(b, ' ')) == CS_OK)
		e = fspan(b, q, s->alias);
	if (e == CS_OK && s->where && (e = cs_buf_puts(b, " WHERE ")) == CS_OK)
		e = fcond(b, q, s->where);
	for (size_t i = 0; i < s->norders && e == CS_OK; i++) {
		const struct order *o = &s->orders[i];
		e = cs_buf_puts(b, i ? ", " : " ORDER BY ");
		if (e == CS_OK)
			e = fpath(b, q, &o->p);
		if (e == CS_OK)
			e = cs_buf_printf(b, " %s NULLS %s", o->desc ? "DESC" : "ASC", o->nulls_first ? "FIRST" : "LAST");
	}
	if (e == CS_OK && s->limit >= 0)
		e = cs_buf_printf(b, " LIMIT %lld", s->limit);
	if (e == CS_OK && s->offset >= 0)
		e = cs_buf_printf(b, " OFFSET %lld", s->offset);
	return e;
}

cs_err
soql_format(const struct soql *s, struct cs_buf *b)
{
	return fquery(b, s);
}

json_t *
soql_error_json(const struct soql_error *e)
{
	return json_pack("[{s:s,s:s}]", "message", e->message, "errorCode", e->code[0] ? e->code : "MALFORMED_QUERY");
}

/* ---- binding: names to schema, literals to field types ---- */

struct run {
	struct emu *emu;
	struct soql *root;
	const char *q;
	size_t len;
	bool all;
	int version;
	int64_t today;                      /* days since the epoch, UTC */
	struct soql_error *err;
};

static void rerr(struct run *r, struct span at, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
rerr(struct run *r, struct span at, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(r->err, r->q, r->len, at, code, fmt, ap);
	va_end(ap);
}

static bool
room(struct run *r)
{
	if (!r->err->code[0]) {
		snprintf(r->err->code, sizeof(r->err->code), "UNKNOWN_EXCEPTION");
		snprintf(r->err->message, sizeof(r->err->message), "out of memory");
	}
	return false;
}

enum cls { K_STR, K_ID, K_BOOL, K_NUM, K_TIME };

static enum cls
fclass(const struct sfield *f)
{
	switch (f->type) {
	case FT_ID: case FT_REFERENCE: return K_ID;
	case FT_BOOLEAN: return K_BOOL;
	case FT_INT: case FT_DOUBLE: case FT_CURRENCY: case FT_PERCENT: return K_NUM;
	case FT_DATE: case FT_DATETIME: return K_TIME;
	default: return K_STR;
	}
}

static const char *
tname(const struct sfield *f)
{
	switch (f->type) {
	case FT_ID: case FT_REFERENCE: return "id";
	case FT_BOOLEAN: return "boolean";
	case FT_INT: return "integer";
	case FT_DOUBLE: return "double";
	case FT_CURRENCY: return "currency";
	case FT_PERCENT: return "percent";
	case FT_DATE: return "date";
	case FT_DATETIME: return "dateTime";
	default: return "string";
	}
}

/* Resolves a field path on s's object: [alias.]{relationship.}field. */
static bool
bindpath(struct run *r, struct soql *s, struct path *pa)
{
	struct sobject *cur = s->obj;
	char name[MAX_NAME];
	int i = 0;

	pa->nhop = 0;
	if (pa->nseg > 1) {
		bool rel = spanstr(r->q, pa->seg[0], name, sizeof(name)) && emu_field_by_relationship(cur, name);
		if ((s->alias.len && foldcmp(r->q + pa->seg[0].off, pa->seg[0].len, r->q + s->alias.off, s->alias.len) == 0) ||
		    (!rel && spanieq(r->q, pa->seg[0], cur->name)))
			i = 1;
	}
	for (; i < pa->nseg - 1; i++) {
		struct sfield *f = NULL;
		struct sobject *nx = NULL;
		if (spanstr(r->q, pa->seg[i], name, sizeof(name)))
			f = emu_field_by_relationship(cur, name);
		if (f && f->reference_to)
			nx = emu_object(r->emu, f->reference_to);
		if (nx == NULL) {
			rerr(r, pa->all, "INVALID_FIELD", MSG_NO_REL, SPAN(r->q, pa->seg[i]));
			return false;
		}
		pa->hop[pa->nhop++] = f;
		cur = nx;
	}
	if (!spanstr(r->q, pa->seg[i], name, sizeof(name)) || (pa->field = emu_field(cur, name)) == NULL) {
		rerr(r, pa->nseg > 1 ? pa->all : pa->seg[i], "INVALID_FIELD", MSG_NO_COLUMN, SPAN(r->q, pa->seg[i]),
		    cur->name);
		return false;
	}
	return true;
}

static bool
samepath(const struct path *a, const struct path *b)
{
	if (a->field != b->field || a->nhop != b->nhop)
		return false;
	for (int i = 0; i < a->nhop; i++)
		if (a->hop[i] != b->hop[i])
			return false;
	return true;
}

static int64_t
mstart(int64_t k)               /* first day of month index k = year * 12 + month - 1 */
{
	return cs_days_from_civil((int)floordiv(k, 12), (unsigned)(k - floordiv(k, 12) * 12) + 1, 1);
}

/* The [lo, hi) range of days a relative date literal covers, weeks starting on Sunday. */
static void
relrange(int rel, long n, int64_t t, int64_t *lo, int64_t *hi)
{
	int y;
	unsigned m, d;
	int64_t ws = t - (int64_t)((t + 4) % 7 + 7) % 7, mi, qi;

	cs_civil_from_days(t, &y, &m, &d);
	mi = (int64_t)y * 12 + m - 1;
	qi = floordiv(mi, 3);
	switch ((enum rel)rel) {
	case R_YESTERDAY: *lo = t - 1; *hi = t; break;
	case R_TODAY: *lo = t; *hi = t + 1; break;
	case R_TOMORROW: *lo = t + 1; *hi = t + 2; break;
	case R_LAST_WEEK: *lo = ws - 7; *hi = ws; break;
	case R_THIS_WEEK: *lo = ws; *hi = ws + 7; break;
	case R_NEXT_WEEK: *lo = ws + 7; *hi = ws + 14; break;
	case R_LAST_MONTH: *lo = mstart(mi - 1); *hi = mstart(mi); break;
	case R_THIS_MONTH: *lo = mstart(mi); *hi = mstart(mi + 1); break;
	case R_NEXT_MONTH: *lo = mstart(mi + 1); *hi = mstart(mi + 2); break;
	case R_LAST_90_DAYS: *lo = t - 90; *hi = t + 1; break;
	case R_NEXT_90_DAYS: *lo = t + 1; *hi = t + 91; break;
	case R_THIS_QUARTER: *lo = mstart(qi * 3); *hi = mstart(qi * 3 + 3); break;
	case R_LAST_QUARTER: *lo = mstart(qi * 3 - 3); *hi = mstart(qi * 3); break;
	case R_NEXT_QUARTER: *lo = mstart(qi * 3 + 3); *hi = mstart(qi * 3 + 6); break;
	case R_THIS_YEAR: *lo = mstart((int64_t)y * 12); *hi = mstart((int64_t)(y + 1) * 12); break;
	case R_LAST_YEAR: *lo = mstart((int64_t)(y - 1) * 12); *hi = mstart((int64_t)y * 12); break;
	case R_NEXT_YEAR: *lo = mstart((int64_t)(y + 1) * 12); *hi = mstart((int64_t)(y + 2) * 12); break;
	/* LAST_N_DAYS:n includes today; NEXT_N_DAYS:n starts tomorrow */
	case R_LAST_N_DAYS: *lo = t - n; *hi = t + 1; break;
	case R_NEXT_N_DAYS: *lo = t + 1; *hi = t + 1 + n; break;
	case R_N_DAYS_AGO: *lo = t - n; *hi = t - n + 1; break;
	case R_LAST_N_WEEKS: *lo = ws - 7 * (int64_t)n; *hi = ws; break;
	case R_NEXT_N_WEEKS: *lo = ws + 7; *hi = ws + 7 + 7 * (int64_t)n; break;
	case R_LAST_N_MONTHS: *lo = mstart(mi - n); *hi = mstart(mi); break;
	case R_NEXT_N_MONTHS: *lo = mstart(mi + 1); *hi = mstart(mi + 1 + n); break;
	case R_LAST_N_QUARTERS: *lo = mstart((qi - n) * 3); *hi = mstart(qi * 3); break;
	case R_NEXT_N_QUARTERS: *lo = mstart((qi + 1) * 3); *hi = mstart((qi + 1 + n) * 3); break;
	case R_LAST_N_YEARS: *lo = mstart((int64_t)(y - n) * 12); *hi = mstart((int64_t)y * 12); break;
	case R_NEXT_N_YEARS: *lo = mstart((int64_t)(y + 1) * 12); *hi = mstart((int64_t)(y + 1 + n) * 12); break;
	}
}

/* Checks that literal l suits field f (Salesforce is strict: a date only filters date fields,
 * a quoted string only text and id fields...), normalises ids and resolves relative dates. */
static bool
bindlit(struct run *r, const struct cond *c, struct lit *l)
{
	const struct sfield *f = c->p.field;
	enum cls k = fclass(f);
	bool ok;

	switch (l->k) {
	case L_NULL: ok = true; break;
	case L_STR: ok = k == K_STR || k == K_ID; break;
	case L_TRUE: case L_FALSE: ok = k == K_BOOL; break;
	case L_NUM: ok = k == K_NUM; break;
	case L_DATE: ok = f->type == FT_DATE; break;
	case L_DATETIME: ok = f->type == FT_DATETIME; break;
	case L_REL: ok = k == K_TIME; break;
	default: ok = false; break;
	}
	if (!ok) {
		bool quoted = k == K_STR || k == K_ID;
		rerr(r, l->at, "INVALID_FIELD", "value of filter criterion for field '%.*s' must be of type %s and "
		    "should %sbe enclosed in quotes", SPAN(r->q, c->p.all), tname(f), quoted ? "" : "not ");
		return false;
	}
	if (l->k == L_STR && k == K_ID && l->n > 0 && c->op != OP_LIKE) {
		char id[SFID_LEN + 1], *cp;
		if (!sfid_to18(l->s, l->n, id)) {
			rerr(r, l->at, "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: %.*s",
			    (int)cut(l->s, l->n, ERR_TOKEN_MAX), l->s);
			return false;
		}
		if ((cp = amalloc(r->root, sizeof(id))) == NULL)
			return room(r);
		memcpy(cp, id, sizeof(id));
		l->s = cp;
		l->n = SFID_LEN;
	}
	if (l->k == L_REL) {
		int64_t lo = 0, hi = 0;
		relrange(l->rel, l->reln, r->today, &lo, &hi);
		l->lo = lo * DAY_MS;
		l->hi = hi * DAY_MS;
	}
	return true;
}

static bool bindq(struct run *r, struct soql *s);

static bool
bindcond(struct run *r, struct soql *s, struct cond *c)
{
	const struct sfield *f;

	if (c->k != C_CMP) {
		for (size_t i = 0; i < c->nkids; i++)
			if (!bindcond(r, s, c->kids[i]))
				return false;
		return true;
	}
	if (!bindpath(r, s, &c->p))
		return false;
	f = c->p.field;
	if (c->op == OP_LIKE && fclass(f) != K_STR) {
		rerr(r, c->p.all, "INVALID_FIELD", "invalid operator on field '%.*s': LIKE only filters text fields",
		    SPAN(r->q, c->p.all));
		return false;
	}
	if ((c->op == OP_INC || c->op == OP_EXC) && f->type != FT_MULTIPICKLIST) {
		rerr(r, c->p.all, "INVALID_QUERY_FILTER_OPERATOR", "includes or excludes operator only valid on multipicklist field");
		return false;
	}
	if (c->sub) {
		struct item *it;
		if (!bindq(r, c->sub))
			return false;
		it = &c->sub->items[0];
		if (c->sub->nitems != 1 || it->k != I_FIELD || it->p.nseg != 1 || fclass(it->p.field) != K_ID || fclass(f) != K_ID) {
			rerr(r, c->p.all, "INVALID_FIELD", "The selected field '%.*s' in the subquery and the left operand "
			    "field in the where expression in the outer query '%.*s' should point to the same object type",
			    SPAN(r->q, it->at), SPAN(r->q, c->p.all));
			return false;
		}
		return true;
	}
	for (size_t i = 0; i < c->nvals; i++)
		if (!bindlit(r, c, &c->vals[i]))
			return false;
	return true;
}

/* Finds the child relationship `name` of parent object o: from the describe's
 * childRelationships when the schema has them, else the child's plural label without spaces
 * (Contacts, Opportunities), which is what standard objects use. */
static bool
bindchild(struct run *r, struct sobject *o, struct soql *sub)
{
	char name[MAX_NAME];
	json_t *rels_ = json_object_get(o->describe, "childRelationships"), *cr;
	size_t i;

	if (!spanstr(r->q, sub->from, name, sizeof(name)))
		goto fail;
	/* json_array_foreach is a no-op on NULL: schemas without childRelationships skip this */
	json_array_foreach(rels_, i, cr) {
		const char *rn = cs_json_get_str(cr, "relationshipName");
		const char *cn = cs_json_get_str(cr, "childSObject"), *fn = cs_json_get_str(cr, "field");
		struct sobject *co;
		if (rn && cn && fn && strcasecmp(rn, name) == 0 && (co = emu_object(r->emu, cn)) != NULL &&
		    (sub->child_ref = emu_field(co, fn)) != NULL) {
			sub->obj = co;
			sub->child_name = rn;
			return true;
		}
	}
	for (i = 0; i < r->emu->nobjects; i++) {
		struct sobject *co = r->emu->objects[i];
		char plural[MAX_NAME];
		size_t n = 0;
		for (const char *c = co->label_plural ? co->label_plural : ""; *c && n + 1 < sizeof(plural); c++)
			if (*c != ' ')
				plural[n++] = *c;
		plural[n] = '\0';
		if (strcasecmp(plural, name) != 0)
			continue;
		for (size_t j = 0; j < co->nfields; j++) {
			struct sfield *f = &co->fields[j];
			if (f->type == FT_REFERENCE && f->reference_to && strcasecmp(f->reference_to, o->name) == 0) {
				char *cn = amalloc(r->root, n + 1);
				if (cn == NULL)
					return room(r);
				memcpy(cn, plural, n + 1);
				sub->obj = co;
				sub->child_ref = f;
				sub->child_name = cn;
				return true;
			}
		}
	}
fail:
	rerr(r, sub->from, "INVALID_TYPE", MSG_NO_CHILD, SPAN(r->q, sub->from));
	return false;
}

/* Resolves names and checks types; the first problem becomes r->err. */
static bool
bindq(struct run *r, struct soql *s)
{
	char name[MAX_NAME];
	bool agg = false, plain = false;

	if (s->obj == NULL && (!spanstr(r->q, s->from, name, sizeof(name)) || (s->obj = emu_object(r->emu, name)) == NULL)) {
		rerr(r, s->from, "INVALID_TYPE", MSG_NO_TYPE, SPAN(r->q, s->from));
		return false;
	}
	for (size_t i = 0; i < s->nitems; i++) {
		struct item *it = &s->items[i];
		switch (it->k) {
		case I_COUNT:
			break;
		case I_AGG:
			agg = true;
			if (!bindpath(r, s, &it->p))
				return false;
			break;
		case I_FIELD:
			plain = true;
			if (!bindpath(r, s, &it->p))
				return false;
			for (size_t j = 0; j < i; j++)
				if (s->items[j].k == I_FIELD && samepath(&s->items[j].p, &it->p)) {
					rerr(r, it->at, "MALFORMED_QUERY", "duplicate field selected: %.*s", SPAN(r->q, it->p.all));
					return false;
				}
			break;
		case I_SUB:
			plain = true;
			if (!bindchild(r, s->obj, it->sub) || !bindq(r, it->sub))
				return false;
			break;
		}
		if (agg && plain) {
			struct item *bad = it;
			for (size_t j = 0; j <= i; j++)
				if (s->items[j].k == I_FIELD || s->items[j].k == I_SUB) {
					bad = &s->items[j];
					break;
				}
			rerr(r, bad->at, "MALFORMED_QUERY", "Field must be grouped or aggregated: %.*s",
			    SPAN(r->q, bad->k == I_FIELD ? bad->p.all : bad->at));
			return false;
		}
	}
	if (s->where && !bindcond(r, s, s->where))
		return false;
	for (size_t i = 0; i < s->norders; i++)
		if (!bindpath(r, s, &s->orders[i].p))
			return false;
	if (s->offset > SOQL_MAX_OFFSET) {
		/* Salesforce words this one without the query fragment */
		snprintf(r->err->code, sizeof(r->err->code), "NUMBER_OUTSIDE_VALID_RANGE");
		snprintf(r->err->message, sizeof(r->err->message), "Maximum SOQL offset allowed is %d", SOQL_MAX_OFFSET);
		return false;
	}
	return true;
}

/* ---- execution ---- */

/* The value at the end of a path for record rec (borrowed), NULL for null or a broken chain. */
static json_t *
pathval(struct run *r, const struct path *pa, json_t *rec)
{
	json_t *v;

	for (int i = 0; i < pa->nhop && rec; i++) {
		struct sobject *po = NULL;
		const char *id = cs_json_get_str(rec, pa->hop[i]->name);
		rec = id ? emu_find(r->emu, id, &po) : NULL;
	}
	if (rec == NULL)
		return NULL;
	v = json_object_get(rec, pa->field->name);
	return v == NULL || json_is_null(v) ? NULL : v;
}

/* A date or dateTime field value as ms since the epoch; false when absent or unreadable. */
static bool
tval(const struct sfield *f, json_t *v, int64_t *ms)
{
	const char *s = json_string_value(v);
	int64_t d;

	if (s == NULL)
		return false;
	if (f->type == FT_DATE) {
		if (!cs_date_parse(s, json_string_length(v), &d))
			return false;
		*ms = d * DAY_MS;
		return true;
	}
	return cs_datetime_parse(s, json_string_length(v), ms);
}

static bool
isempty(const struct lit *l)
{
	return l->k == L_NULL || (l->k == L_STR && l->n == 0);
}

/* Three-way compare of a (non-null) value with a literal of the field's class; 2 when they
 * cannot be compared. Time values are handled by the callers, as ranges. */
static int
vcmp(enum cls k, json_t *v, const struct lit *l)
{
	switch (k) {
	case K_STR:
		if (!json_is_string(v))
			return 2;
		return foldcmp(json_string_value(v), json_string_length(v), l->s, l->n);
	case K_ID:
		if (!json_is_string(v))
			return 2;
		if (json_string_length(v) == SFID_LEN && l->n == SFID_LEN)
			return foldcmp(json_string_value(v), SFID_LEN, l->s, SFID_LEN);
		return strcmp(json_string_value(v), l->s) < 0 ? -1 : strcmp(json_string_value(v), l->s) > 0;
	case K_BOOL:
		if (!json_is_boolean(v))
			return 2;
		return (int)json_is_true(v) - (int)(l->k == L_TRUE);
	case K_NUM: {
		double a;
		if (!json_is_number(v))
			return 2;
		a = json_number_value(v);
		return a < l->num ? -1 : a > l->num ? 1 : a == l->num ? 0 : 2;
	}
	default:
		return 2;
	}
}

static bool
opholds(enum op op, int c)
{
	switch (op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c == -1;
	case OP_LE: return c == -1 || c == 0;
	case OP_GT: return c == 1;
	case OP_GE: return c == 1 || c == 0;
	default: return false;
	}
}

/* Does value v satisfy `v op l`? Nulls follow SOQL: `= null` and `!= x` match them, ordering
 * operators never do. A date literal is a range [lo, hi). */
static bool
test1(const struct sfield *f, json_t *v, enum op op, const struct lit *l)
{
	enum cls k = fclass(f);
	int64_t ms;

	if (isempty(l)) {
		bool isnull = v == NULL || (json_is_string(v) && json_string_length(v) == 0);
		return op == OP_EQ ? isnull : op == OP_NE ? !isnull : false;
	}
	if (v == NULL)
		return op == OP_NE;
	if (k == K_TIME) {
		if (!tval(f, v, &ms))
			return op == OP_NE;
		switch (op) {
		case OP_EQ: return ms >= l->lo && ms < l->hi;
		case OP_NE: return !(ms >= l->lo && ms < l->hi);
		case OP_LT: return ms < l->lo;
		case OP_LE: return ms < l->hi;
		case OP_GT: return ms >= l->hi;
		case OP_GE: return ms >= l->lo;
		default: return false;
		}
	}
	return opholds(op, vcmp(k, v, l));
}

/* LIKE: % any run, _ one character, \x the byte x; case-insensitive. Greedy with one
 * backtrack point, so linear in practice and O(n*m) at worst. */
static bool
likematch(const char *s, size_t sn, const char *p, size_t pn)
{
	size_t si = 0, pi = 0, star_p = SIZE_MAX, star_s = 0;

	while (si < sn) {
		if (pi < pn && p[pi] == '%') {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < pn && p[pi] == '_') {
			si += u8step(s, si, sn);
			pi++;
			continue;
		}
		if (pi < pn) {
			size_t pl = p[pi] == '\\' && pi + 1 < pn ? 2 : 1;
			if (fold((unsigned char)p[pi + pl - 1]) == fold((unsigned char)s[si])) {
				si++;
				pi += pl;
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		star_s += u8step(s, star_s, sn);
		si = star_s;
		pi = star_p;
	}
	while (pi < pn && p[pi] == '%')
		pi++;
	return pi == pn;
}

/* Is the ;-separated term list t[0..tn) all contained in the multi-select value v? */
static bool
mpicks(const char *v, size_t vn, const char *t, size_t tn)
{
	size_t i = 0;

	while (i <= tn) {
		size_t j = i, a, b;
		bool found = false;
		while (j < tn && t[j] != ';')
			j++;
		a = i;
		b = j;
		while (a < b && t[a] == ' ')
			a++;
		while (b > a && t[b - 1] == ' ')
			b--;
		if (a < b) {
			for (size_t x = 0; x <= vn && !found;) {
				size_t y = x, c, d;
				while (y < vn && v[y] != ';')
					y++;
				c = x;
				d = y;
				while (c < d && v[c] == ' ')
					c++;
				while (d > c && v[d - 1] == ' ')
					d--;
				found = foldcmp(v + c, d - c, t + a, b - a) == 0;
				x = y + 1;
			}
			if (!found)
				return false;
		}
		i = j + 1;
	}
	return true;
}

static bool
inset(const struct cond *c, json_t *v)
{
	const char *s = json_string_value(v);

	for (size_t i = 0; s && i < c->nset; i++)
		if (sfid_equal(s, c->set[i]))
			return true;
	return false;
}

static bool
test(struct run *r, const struct cond *c, json_t *rec)
{
	const struct sfield *f = c->p.field;
	json_t *v = pathval(r, &c->p, rec);
	bool any = false;

	switch (c->op) {
	case OP_IN:
	case OP_NIN:
		if (c->sub)
			any = v && inset(c, v);
		for (size_t i = 0; i < c->nvals && !any; i++)
			any = test1(f, v, OP_EQ, &c->vals[i]);
		return c->op == OP_IN ? any : !any;
	case OP_LIKE:
		if (c->vals[0].k != L_STR)
			return false;
		return json_is_string(v) && likematch(json_string_value(v), json_string_length(v), c->vals[0].s, c->vals[0].n);
	case OP_INC:
	case OP_EXC:
		for (size_t i = 0; i < c->nvals && !any; i++)
			any = json_is_string(v) && c->vals[i].k == L_STR &&
			    mpicks(json_string_value(v), json_string_length(v), c->vals[i].s, c->vals[i].n);
		return c->op == OP_INC ? any : !any;
	default:
		return test1(f, v, c->op, &c->vals[0]);
	}
}

static bool
eval(struct run *r, const struct cond *c, json_t *rec)
{
	switch (c->k) {
	case C_AND:
		for (size_t i = 0; i < c->nkids; i++)
			if (!eval(r, c->kids[i], rec))
				return false;
		return true;
	case C_OR:
		for (size_t i = 0; i < c->nkids; i++)
			if (eval(r, c->kids[i], rec))
				return true;
		return false;
	case C_NOT:
		return !eval(r, c->kids[0], rec);
	case C_CMP:
		return test(r, c, rec);
	}
	return false;
}

/* One sort key, extracted once per row so that the sort compares plain values. */
struct key {
	bool null;
	double d;
	int64_t t;
	const char *s;
	size_t n;
};

struct srow {
	json_t *rec;
	struct key *k;
};

static int
keycmp(const struct order *o, const struct key *a, const struct key *b)
{
	int c = 0;

	if (a->null || b->null) {
		if (a->null && b->null)
			return 0;
		return a->null == o->nulls_first ? -1 : 1;
	}
	switch (fclass(o->p.field)) {
	case K_STR:
		c = foldcmp(a->s, a->n, b->s, b->n);
		break;
	case K_ID:
		c = strcmp(a->s, b->s);
		c = c < 0 ? -1 : c > 0;
		break;
	case K_BOOL:
	case K_NUM:
		c = a->d < b->d ? -1 : a->d > b->d;
		break;
	case K_TIME:
		c = a->t < b->t ? -1 : a->t > b->t;
		break;
	}
	return o->desc ? -c : c;
}

static int
rowcmp(const struct soql *s, const struct srow *a, const struct srow *b)
{
	for (size_t i = 0; i < s->norders; i++) {
		int c = keycmp(&s->orders[i], &a->k[i], &b->k[i]);
		if (c)
			return c;
	}
	return 0;
}

/* Stable merge sort: rows that tie keep their storage order. */
static void
msort(const struct soql *s, struct srow *v, struct srow *tmp, size_t n)
{
	size_t h = n / 2, i = 0, j = h, o = 0;

	if (n < 2)
		return;
	msort(s, v, tmp, h);
	msort(s, v + h, tmp, n - h);
	while (i < h && j < n)
		tmp[o++] = rowcmp(s, &v[j], &v[i]) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[o++] = v[i++];
	while (j < n)
		tmp[o++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

static bool
sortrows(struct run *r, const struct soql *s, json_t **rows, size_t n)
{
	struct srow *v = NULL, *tmp = NULL;
	struct key *keys = NULL;
	size_t no = s->norders;
	bool ok = false;

	if (no == 0 || n < 2)
		return true;
	if (n > SIZE_MAX / sizeof(*v) / 2 || n > SIZE_MAX / sizeof(*keys) / no)
		return room(r);
	v = malloc(n * sizeof(*v));
	tmp = malloc(n * sizeof(*tmp));
	keys = calloc(n * no, sizeof(*keys));
	if (v == NULL || tmp == NULL || keys == NULL) {
		room(r);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		v[i].rec = rows[i];
		v[i].k = keys + i * no;
		for (size_t j = 0; j < no; j++) {
			const struct sfield *f = s->orders[j].p.field;
			json_t *val = pathval(r, &s->orders[j].p, rows[i]);
			struct key *k = &v[i].k[j];
			k->null = val == NULL;
			if (val == NULL)
				continue;
			switch (fclass(f)) {
			case K_STR:
			case K_ID:
				k->null = !json_is_string(val);
				k->s = json_string_value(val);
				k->n = json_string_length(val);
				break;
			case K_BOOL:
				k->d = json_is_true(val);
				break;
			case K_NUM:
				k->null = !json_is_number(val);
				k->d = json_number_value(val);
				break;
			case K_TIME:
				k->null = !tval(f, val, &k->t);
				break;
			}
		}
	}
	msort(s, v, tmp, n);
	for (size_t i = 0; i < n; i++)
		rows[i] = v[i].rec;
	ok = true;
done:
	free(v);
	free(tmp);
	free(keys);
	return ok;
}

static bool select_rows(struct run *r, struct soql *s, const char *parent_id, json_t ***out, size_t *nout);

/* Runs the semi-join sub-queries of c once, keeping the ids they return. */
static bool
semijoins(struct run *r, struct cond *c)
{
	json_t **rows = NULL;
	size_t n = 0;

	if (c->k != C_CMP) {
		for (size_t i = 0; i < c->nkids; i++)
			if (!semijoins(r, c->kids[i]))
				return false;
		return true;
	}
	if (c->sub == NULL)
		return true;
	if (!select_rows(r, c->sub, NULL, &rows, &n))
		return false;
	if (n && (c->set = amalloc(r->root, n * sizeof(*c->set))) == NULL) {
		free(rows);
		return room(r);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *v = pathval(r, &c->sub->items[0].p, rows[i]);
		if (json_is_string(v))
			c->set[c->nset++] = (char *)json_string_value(v);
	}
	free(rows);
	return true;
}

/* The records of s's object (and its recycle bin for queryAll) that pass WHERE, sorted, with
 * OFFSET and LIMIT applied. For a child sub-query only the children of parent_id. *out is a
 * new malloc'd array of borrowed records. */
static bool
select_rows(struct run *r, struct soql *s, const char *parent_id, json_t ***out, size_t *nout)
{
	json_t *maps[2] = { s->obj->records, r->all ? s->obj->bin : NULL }, *rec, **rows = NULL;
	size_t n = 0, cap = 0, off, lim;
	const char *key;

	*out = NULL;
	*nout = 0;
	if (s->where && !s->joined) {
		if (!semijoins(r, s->where))
			return false;
		s->joined = true;
	}
	for (int m = 0; m < 2; m++) {
		json_object_foreach(maps[m], key, rec) {
			if (parent_id) {
				const char *pid = cs_json_get_str(rec, s->child_ref->name);
				if (pid == NULL || !sfid_equal(pid, parent_id))
					continue;
			}
			if (s->where && !eval(r, s->where, rec))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				json_t **nr = nc <= SIZE_MAX / sizeof(*rows) ? realloc(rows, nc * sizeof(*rows)) : NULL;
				if (nr == NULL) {
					free(rows);
					return room(r);
				}
				rows = nr;
				cap = nc;
			}
			rows[n++] = rec;
		}
	}
	if (!sortrows(r, s, rows, n)) {
		free(rows);
		return false;
	}
	off = s->offset > 0 ? (size_t)s->offset : 0;
	if (off > n)
		off = n;
	lim = n - off;
	if (s->limit >= 0 && (size_t)s->limit < lim)
		lim = (size_t)s->limit;
	if (off)
		memmove(rows, rows + off, lim * sizeof(*rows));
	*out = rows;
	*nout = lim;
	return true;
}

static json_t *
attrs(struct run *r, struct sobject *o, json_t *rec)
{
	static const char *const none[1] = { NULL };
	json_t *a = emu_render(r->emu, o, rec, none, 0, r->version);

	return a;
}

static bool render_into(struct run *r, struct soql *s, json_t *rec, json_t *row);

/* Adds path pa of rec to row: a plain field as a key, a parent field as nested objects with
 * their own attributes (null when a reference on the way is empty). */
static bool
put_path(struct run *r, const struct path *pa, json_t *rec, json_t *row)
{
	json_t *into = row, *v;

	for (int i = 0; i < pa->nhop; i++) {
		const char *rel = pa->hop[i]->relationship_name;
		json_t *have = json_object_get(into, rel), *parent;
		struct sobject *po = NULL;
		const char *id = cs_json_get_str(rec, pa->hop[i]->name);

		parent = id ? emu_find(r->emu, id, &po) : NULL;
		if (have && json_is_null(have))
			return true;
		if (parent == NULL || po == NULL)
			return json_object_set_new(into, rel, json_null()) == 0;
		if (have == NULL) {
			if ((have = attrs(r, po, parent)) == NULL || json_object_set_new(into, rel, have) != 0)
				return false;
		}
		into = have;
		rec = parent;
	}
	v = json_object_get(rec, pa->field->name);
	return json_object_set(into, pa->field->name, v ? v : json_null()) == 0;
}

static bool
render_child(struct run *r, struct soql *sub, json_t *rec, json_t *row)
{
	const char *id = cs_json_get_str(rec, "Id");
	json_t **rows = NULL, *arr, *res;
	size_t n = 0;

	if (id == NULL || !select_rows(r, sub, id, &rows, &n))
		return id == NULL ? json_object_set_new(row, sub->child_name, json_null()) == 0 : false;
	if (n == 0) {
		free(rows);
		return json_object_set_new(row, sub->child_name, json_null()) == 0;
	}
	if ((arr = json_array()) == NULL) {
		free(rows);
		return room(r);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *cr = attrs(r, sub->obj, rows[i]);
		if (cr == NULL || !render_into(r, sub, rows[i], cr) || json_array_append_new(arr, cr) != 0) {
			json_decref(arr);
			free(rows);
			return room(r);
		}
	}
	free(rows);
	res = json_pack("{s:I,s:b,s:o}", "totalSize", (json_int_t)n, "done", 1, "records", arr);
	return res && json_object_set_new(row, sub->child_name, res) == 0 ? true : room(r);
}

static bool
render_into(struct run *r, struct soql *s, json_t *rec, json_t *row)
{
	for (size_t i = 0; i < s->nitems; i++) {
		struct item *it = &s->items[i];
		if (it->k == I_FIELD && !put_path(r, &it->p, rec, row))
			return room(r);
		if (it->k == I_SUB && !render_child(r, it->sub, rec, row))
			return false;
	}
	return true;
}

/* SELECT COUNT(f) [alias], ... without GROUP BY: one AggregateResult row. */
static json_t *
aggregate(struct run *r, struct soql *s, json_t **rows, size_t n)
{
	json_t *row = json_pack("{s:{s:s}}", "attributes", "type", "AggregateResult");
	size_t expr = 0;

	for (size_t i = 0; row && i < s->nitems; i++) {
		struct item *it = &s->items[i];
		char name[MAX_NAME];
		json_int_t count = 0;
		if (it->k != I_AGG)
			continue;
		for (size_t j = 0; j < n; j++)
			count += pathval(r, &it->p, rows[j]) != NULL;
		if (it->alias.len == 0 || !spanstr(r->q, it->alias, name, sizeof(name)))
			snprintf(name, sizeof(name), "expr%zu", expr++);
		if (json_object_set_new(row, name, json_integer(count)) != 0) {
			json_decref(row);
			row = NULL;
		}
	}
	return row;
}

bool
soql_run_at(struct emu *emu, const char *q, size_t len, bool all, int version, int64_t now_ms,
    json_t **records, long *total, json_t **err)
{
	struct soql_error *e = calloc(1, sizeof(*e));
	struct soql *s = NULL;
	struct run r;
	json_t **rows = NULL, *out = NULL;
	size_t n = 0;
	bool ok = false;

	*records = NULL;
	*total = 0;
	*err = NULL;
	if (e == NULL)
		return false;
	if ((s = soql_parse(q, len, e)) == NULL)
		goto done;
	memset(&r, 0, sizeof(r));
	r.emu = emu;
	r.root = s;
	r.q = s->q;
	r.len = s->qlen;
	r.all = all;
	r.version = version;
	r.today = floordiv(now_ms, DAY_MS);
	r.err = e;
	if (!bindq(&r, s) || !select_rows(&r, s, NULL, &rows, &n))
		goto done;
	if ((out = json_array()) == NULL) {
		room(&r);
		goto done;
	}
	if (s->items[0].k == I_COUNT) {
		*total = (long)n;
	} else if (s->items[0].k == I_AGG) {
		json_t *row = aggregate(&r, s, rows, n);
		if (row == NULL || json_array_append_new(out, row) != 0) {
			room(&r);
			goto done;
		}
		*total = 1;
	} else {
		for (size_t i = 0; i < n; i++) {
			json_t *row = attrs(&r, s->obj, rows[i]);
			if (row == NULL || !render_into(&r, s, rows[i], row) || json_array_append_new(out, row) != 0) {
				json_decref(row);
				room(&r);
				goto done;
			}
		}
		*total = (long)n;
	}
	*records = out;
	out = NULL;
	ok = true;
done:
	if (!ok)
		*err = soql_error_json(e);
	json_decref(out);
	free(rows);
	soql_free(s);
	free(e);
	return ok;
}

bool
soql_run(struct emu *emu, const char *q, size_t len, bool all, int version,
    json_t **records, long *total, json_t **err)
{
	return soql_run_at(emu, q, len, all, version, cs_time_now_ms(), records, total, err);
}

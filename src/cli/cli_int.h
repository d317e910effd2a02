/* cli_int.h - private to src/cli: the repository opened in-process, contract columns, a string
 * map; the command table with its help; the admin API client; terminal-safe output. */
#ifndef CS_CLI_INT_H
#define CS_CLI_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "clm/clm.h"
#include "config/config.h"
#include "util/buf.h"

/* The repository as import and export use it: in the calling process, on the same store file a
 * running server may be using (SQLite's WAL and busy timeout serialise the writers). */
struct cli_repo {
	struct cs_config *cfg;
	struct clm_schema *schema;
	struct clm *clm;
};

/* Loads cfg_path (NULL: the built-in defaults), points the store at DATA/clmsync.db when data is
 * not NULL (as `serve --data` does) and opens the repository. Returns 0, or 1 after printing why
 * on stderr prefixed with "clmsync <cmd>: " (r is then empty). Call cli_repo_close() either way. */
int cli_repo_open(const char *cmd, const char *cfg_path, const char *data, struct cli_repo *r);
/* The configuration's custom attributes as the repository's schema, for serve and the
 * in-process commands alike. Returns a new schema (caller frees it with clm_schema_free()), or
 * NULL with e set. */
struct clm_schema *cli_schema_of(const struct cs_config *cfg, struct cs_error *e);
/* Closes what cli_repo_open opened; safe on an empty or closed r. */
void cli_repo_close(struct cli_repo *r);

/* `clmsync import` (cmd_import's arguments, without --config or --data: a usage error, 2) on
 * repo, open already (cli_repo_open) and borrowed for the call: for a caller that imports many
 * files into one repository without opening it each time (the fuzz target). Returns as
 * cmd_import. */
int cli_import_on(int argc, char **argv, struct cli_repo *repo);

/* How a CSV column of a contract is read and written. */
enum cli_col_type {
	CLI_COL_TEXT,          /* a JSON string */
	CLI_COL_INT,           /* a JSON integer */
	CLI_COL_BOOL,          /* true / false */
	CLI_COL_AMOUNT,        /* total_value.amount */
	CLI_COL_CURRENCY,      /* total_value.currency */
	CLI_COL_CP_NAME,       /* the counterparty's legal name (lookup or create on import) */
	CLI_COL_PARENT_NUMBER, /* the parent contract's number (lookup on import) */
	CLI_COL_RO,            /* set by the repository: exported, ignored on import */
	CLI_COL_CUSTOM         /* custom.NAME: a custom attribute, typed by the configuration */
};

struct cli_col {
	const char *name;
	enum cli_col_type type;
};

/* The built-in contract columns in export order (custom attributes follow them); *n gets how
 * many. Static storage. */
const struct cli_col *cli_contract_cols(size_t *n);
/* Finds a built-in column by name, or NULL. */
const struct cli_col *cli_contract_col(const char *name);

/* A string-to-string hash map with at most max entries (curl's rule: every growing thing has a
 * maximum). Keys and values are copied. Single-threaded. */
struct strmap;

/* Returns a new empty map, or NULL when out of memory. Caller frees with strmap_free(). */
struct strmap *strmap_new(size_t max);
void strmap_free(struct strmap *m);
/* The value stored for key, or NULL. Borrowed: valid until the next put or clear. */
const char *strmap_get(const struct strmap *m, const char *key);
/* Sets key to val (replacing a value already there). CS_ELIMIT when the map holds max entries
 * and key is new, CS_ENOMEM; the map is unchanged on failure. */
cs_err strmap_put(struct strmap *m, const char *key, const char *val);
/* Removes every entry. */
void strmap_clear(struct strmap *m);
size_t strmap_count(const struct strmap *m);

/* --- the commands and their help (help.c) ------------------------------------------------------
 * Each command is one row of a table that says everything about it: what it does, every option
 * (the parser of the admin commands accepts exactly these), its environment and its exit codes.
 * `clmsync CMD --help`, `clmsync help` and the man page (`clmsync help --man`, docs/clmsync.1)
 * are all printed from it. */

/* The exit codes the commands share (each command's help says what they mean for it). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_BAD 1          /* the thing asked about is bad (unhealthy, broken, drift) */
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_SERVER 3       /* cannot reach, or authenticate to, the admin API */
#define CLI_EXIT_NOTFOUND 4
#define CLI_EXIT_PENDING 5      /* asked, but not done within --wait */

/* One option. text is reflowed; `code` in backquotes is bold in the man page. */
struct cli_opt {
	const char *name;           /* "--mapping" */
	const char *arg;            /* "NAME", or NULL for a flag */
	const char *text;
};

struct cli_env {
	const char *name;
	const char *text;
};

struct cli_exit {
	int code;
	const char *text;
};

/* A command. text is the description: paragraphs separated by a blank line; a line that starts
 * with "@WORD " begins a definition of WORD; a line that starts with "- " a list item; a
 * paragraph whose lines start with two spaces is printed as it is. */
struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;                 /* one line for `clmsync help` and the man page */
	const char *const *synopsis;         /* NULL-terminated, each after "clmsync " */
	const char *text;
	const struct cli_opt *opts;          /* {NULL}-terminated; -h, --help is implied */
	bool admin;                          /* also takes the admin API options (cli_admin_opts) */
	const struct cli_env *env;           /* {NULL}-terminated, or NULL */
	const struct cli_exit *exits;        /* {-1}-terminated */
};

/* Every command in `clmsync help` order; *n gets how many. Static storage. */
const struct cli_cmd *cli_cmds(size_t *n);
/* The command named name, or NULL. */
const struct cli_cmd *cli_cmd_find(const char *name);
/* The options every admin command takes (--admin-url, --token-file, --config, --data, --json),
 * {NULL}-terminated, and their environment. Static storage. */
extern const struct cli_opt cli_admin_opts[];
extern const struct cli_env cli_admin_env[];

/* Prints c's help (usage, description, options, environment, exit status) to f. */
void cli_help_print(const struct cli_cmd *c, FILE *f);
/* Prints the whole manual page, roff, to f: what docs/clmsync.1 holds. */
void cli_help_man(FILE *f);
/* Prints the list of commands (`clmsync help`) to f. */
void cli_help_list(FILE *f);

#define CLI_POS_MAX 4           /* positional arguments kept; one more is a usage error */
#define CLI_OPTS_MAX 32         /* a command's options with the admin ones */

/* A parsed command line: option values by name, positional arguments in order. */
struct cli_args {
	const struct cli_cmd *cmd;
	const struct cli_opt *opt[CLI_OPTS_MAX];
	const char *val[CLI_OPTS_MAX];      /* NULL when not given; "" for a flag that is */
	size_t nopt;
	const char *pos[CLI_POS_MAX];
	int npos;
};

/* Parses argv (argv[0] is the command's name) against c's options: "--name VALUE",
 * "--name=VALUE", flags, "--" ending the options. Returns -1 to go on, CLI_EXIT_OK after
 * printing the help (-h, --help), CLI_EXIT_USAGE after saying on stderr what is wrong. */
int cli_parse(const struct cli_cmd *c, int argc, char **argv, struct cli_args *a);
/* The value of option name: NULL when not given, "" for a flag that is. name must be one of
 * the command's options. */
const char *cli_get(const struct cli_args *a, const char *name);
/* Says on stderr that option name does not go with what (a verb) and returns CLI_EXIT_USAGE
 * when it was given; -1 otherwise. */
int cli_not_with(const struct cli_args *a, const char *name, const char *what);

/* --- terminal-safe output (term.c) -------------------------------------------------------------
 * Everything the commands print comes from the server, and much of it from Salesforce: a value
 * may hold control characters, escape sequences, invalid UTF-8 or bidirectional overrides. None
 * of it reaches the terminal raw. */

/* Appends s (n bytes) to b with every byte or character a terminal could act on written as an
 * escape: \n \r \t \e, other C0 controls and DEL as \xHH, C1 controls and the bidirectional
 * controls as \uHHHH, invalid UTF-8 as \xHH per byte. A backslash stays as it is (values are
 * mostly JSON text, whose own escapes would double): the result is safe to print, not
 * reversible; --json is. keep_newlines leaves '\n' raw (for text whose line breaks are its own,
 * like pretty JSON). CS_ETOOBIG past b's max, CS_ENOMEM. */
cs_err term_escape(struct cs_buf *b, const char *s, size_t n, bool keep_newlines);
/* Prints s (NULL or "": "-") to f, escaped. */
void term_put(FILE *f, const char *s);
/* The columns s takes on a terminal: s is escaped (printable) UTF-8; wide characters count 2,
 * combining marks 0. */
size_t term_width(const char *s);

/* A table for people: columns aligned, each cut to its maximum width with "...", every cell
 * escaped. Rows are kept until printed (at most TERM_TABLE_ROWS_MAX). */
#define TERM_TABLE_ROWS_MAX 1000000
struct term_table;
/* Returns a new table of ncols columns with these headings and maximum widths (0: no maximum),
 * or NULL when out of memory. Caller frees with term_table_free(). */
struct term_table *term_table_new(int ncols, const char *const *heads, const int *maxw);
void term_table_free(struct term_table *t);
/* Adds a row of ncols cells (borrowed; a NULL or "" cell is shown as "-"). CS_ENOMEM,
 * CS_ELIMIT past the row limit; the row is left out then, and term_table_print says how many
 * were (so callers may ignore the result). */
cs_err term_table_add(struct term_table *t, const char *const *cells);
size_t term_table_rows(const struct term_table *t);
/* Prints the heading and the rows to f, two spaces between columns, the last one unpadded. */
void term_table_print(const struct term_table *t, FILE *f);

/* A progress line on stderr. When stderr is a terminal, one line redrawn in place (at most four
 * times a second); otherwise a plain line every every_ms, and, when any was printed, one at the
 * end. Caller-owned: term_progress_init, then term_progress_show as often as it likes, then
 * term_progress_end. */
struct term_progress {
	char prefix[96];             /* "clmsync reconcile" */
	char unit[24];               /* "records" */
	bool tty, printed;
	int64_t start_ms, last_ms, every_ms;
	long long done, total;
	bool approx;
};
void term_progress_init(struct term_progress *p, const char *prefix, const char *unit, int64_t every_ms);
/* Reports done of total (total < 0: unknown; approx: the total may still grow). */
void term_progress_show(struct term_progress *p, long long done, long long total, bool approx);
/* The line as it stands at monotonic time now, into out: "PREFIX: 1200 of ~3400 records,
 * 540/s, about 4s left (2s so far)"; the rate once half a second has passed and something was
 * done, the time left when the total is known and not reached. */
void term_progress_line(const struct term_progress *p, int64_t now, char *out, size_t n);
/* Clears the terminal's line, or prints the last plain line. */
void term_progress_end(struct term_progress *p);
/* Parses a --progress-every value (seconds, fractions allowed, 0.1 to 3600) into *ms; false
 * when malformed. NULL gives the default, 10 s. */
bool term_progress_every(const char *s, int64_t *ms);
/* A duration for people: "850ms", "12s", "3m05s", "2h03m". */
void term_duration(int64_t ms, char *out, size_t n);

/* --- the admin API client (admin_client.c) --------------------------------------------------- */

struct admin_conn;

/* Where an admin command finds the server and its token, from a's options, the environment and
 * the configuration (see cli_admin_opts), and a client for it. Returns 0 with *out a new
 * connection (caller frees with admin_conn_free()), or after saying why on stderr
 * CLI_EXIT_USAGE (a malformed URL, a configuration that does not load) or CLI_EXIT_SERVER (no
 * token to be found, the admin listener turned off). */
int admin_conn_open(const struct cli_args *a, struct admin_conn **out);
void admin_conn_free(struct admin_conn *c);

#define ADMIN_PATH_MAX 4096
#define ADMIN_RESPONSE_MAX (256u << 20)   /* bytes in one answer */

/* Calls method path (under the base URL, e.g. "/admin/v1/status") with body (borrowed, NULL
 * for none) and parses the JSON answer into *out (a new reference, NULL when there is none).
 * Returns 0 for a 2xx answer (*status says which); otherwise says why on stderr and returns
 * the exit code: CLI_EXIT_SERVER (not reached, timed out, token refused, HTTP 5xx, not JSON, an
 * endpoint the server does not have), CLI_EXIT_NOTFOUND (404), CLI_EXIT_USAGE (400, 413).
 * With quiet_404, a 404 returns 0 with *status 404 and says nothing. */
int admin_call(struct admin_conn *c, const char *method, const char *path, const json_t *body, bool quiet_404,
               long *status, json_t **out);
/* Appends s to the path b (cap bytes, NUL-terminated) percent-encoded for a path segment or a
 * query value (unreserved characters kept). Returns false, b unchanged, when it does not fit. */
bool admin_path_escape(char *b, size_t cap, const char *s);
/* Appends s to the path b as it is. Returns false, b unchanged, when it does not fit. */
bool admin_path_append(char *b, size_t cap, const char *s);
/* Loads the configuration at path without its secrets (the operator's commands need no org's).
 * Returns 0 with *out a new configuration (caller frees with cs_config_free()), or
 * CLI_EXIT_USAGE after printing every problem, prefixed "clmsync CMD: ". */
int cli_config_load(const char *cmd, const char *path, struct cs_config **out);
/* The command's name for messages ("dlq"). */
const char *admin_conn_cmd(const struct admin_conn *c);
/* Prints j (borrowed) on stdout as the API gave it, indented, for --json. Returns 0, or
 * CLI_EXIT_BAD after saying on stderr (naming command cmd, or none when NULL) that the output
 * cannot be written. */
int cli_put_json(const char *cmd, const json_t *j);

#endif

/* help.c - the command table: every command's help, its options' parser, and the man page. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/version.h"

#define WIDTH 79                   /* columns of --help text */
#define OPT_COL 26                 /* where an option's text starts */
#define DEF_COL 16                 /* where a definition's text starts */

/* --- the shared pieces ---------------------------------------------------------------------- */

const struct cli_opt cli_admin_opts[] = {
	{ "--admin-url", "URL",
	  "the admin listener of the running `clmsync serve`, e.g. http://127.0.0.1:8442 (http:// is assumed "
	  "when no scheme is given). Default: $CLMSYNC_ADMIN_URL, else the configuration's admin.listen." },
	{ "--token-file", "FILE",
	  "a file whose first line is a token with the admin role. Default: $CLMSYNC_ADMIN_TOKEN, else the "
	  "configuration's first api_tokens entry with role admin, else DATA/api-token (the token `clmsync serve` "
	  "creates when none is configured)." },
	{ "--config", "FILE",
	  "the server's configuration: its admin.listen, api_tokens and data_dir are used (the orgs' secrets are "
	  "not read). Default: the built-in defaults, admin.listen 127.0.0.1:8442 and data in ./clmsync-data." },
	{ "--data", "DIR",
	  "the server's data directory, as given to `clmsync serve --data`: DIR/api-token is the token when none "
	  "is configured." },
	{ "--json", NULL,
	  "print the admin API's JSON, one document on stdout, instead of a table (lists that take several "
	  "calls are joined into the shape one call gives)." },
	{ NULL, NULL, NULL },
};

const struct cli_env cli_admin_env[] = {
	{ "CLMSYNC_ADMIN_URL", "the admin listener's URL, when --admin-url is not given." },
	{ "CLMSYNC_ADMIN_TOKEN",
	  "a token with the admin role, when --token-file is not given. A file is safer: other processes of the "
	  "same user can read a process's environment." },
	{ NULL, NULL },
};

#define EXIT_USAGE_TEXT \
	"usage error: an unknown option, a missing or malformed argument, a --config FILE that does not load, " \
	"or a request the server refused as malformed (HTTP 400)."
#define EXIT_SERVER_TEXT \
	"the admin API cannot be used: nothing answers at the URL (is `clmsync serve` running, with its admin " \
	"listener on?), no token was found, the token was refused (HTTP 401 or 403), the server failed or was " \
	"busy (HTTP 5xx), or the answer was not the admin API's."

/* --- the commands ------------------------------------------------------------------------------ */

static const char *const serve_syn[] = {
	"serve [--config FILE] [--data DIR] [--listen ADDR:PORT] [--admin-listen ADDR:PORT|off] "
	"[--api-token-file FILE] [--no-sync] [--log-format json|text]",
	NULL,
};
static const struct cli_opt serve_opts[] = {
	{ "--config", "FILE", "the YAML configuration (see docs/configuration.md)." },
	{ "--data", "DIR", "data directory; the embedded store is DIR/clmsync.db." },
	{ "--listen", "ADDR:PORT", "address of the repository API (port 0 picks a free one)." },
	{ "--admin-listen", "ADDR:PORT|off",
	  "address of the admin listener (port 0 picks a free one), or off." },
	{ "--api-token-file", "FILE", "also accept the token on FILE's first line, with the admin role." },
	{ "--no-sync", NULL, "serve the repository only, even when mappings are configured." },
	{ "--log-format", "json|text", "one JSON object per line on stderr, or plain lines; overrides log.json of the "
	  "configuration." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit serve_exits[] = {
	{ 0, "stopped by SIGINT or SIGTERM." },
	{ 1, "could not start: the configuration, the store, the data directory, a token or an address (the "
	     "message says which)." },
	{ 2, "usage error." },
	{ -1, NULL },
};

static const char *const config_syn[] = { "config check FILE", "config reference", NULL };
static const struct cli_exit config_exits[] = {
	{ 0, "FILE is valid (check), or the reference was printed." },
	{ 1, "FILE is invalid or cannot be read: every problem is listed as FILE:LINE: KEY: PROBLEM." },
	{ 2, "usage error." },
	{ -1, NULL },
};

static const char *const import_syn[] = {
	"import contracts FILE.csv [--map COLUMN=FIELD,...] [--all-or-nothing | --skip-bad] [--as NAME] "
	"[--dry-run] [--progress] [--config FILE] [--data DIR]",
	NULL,
};
static const struct cli_opt import_opts[] = {
	{ "--map", "COL=FIELD,...", "read column COL as FIELD (FIELD - skips COL); may be repeated." },
	{ "--all-or-nothing", NULL, "write nothing when any row is refused (the default)." },
	{ "--skip-bad", NULL, "write the rows that pass, report the others." },
	{ "--as", "NAME", "record the changes as user:NAME (default api:import)." },
	{ "--dry-run", NULL, "check every row, write nothing." },
	{ "--progress", NULL, "report progress on stderr (automatic when stderr is a terminal)." },
	{ "--config", "FILE", "the YAML configuration (store, custom attributes)." },
	{ "--data", "DIR", "data directory; the store is DIR/clmsync.db." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit import_exits[] = {
	{ 0, "every row imported (or checked, with --dry-run)." },
	{ 1, "a row was refused or the import failed (the summary on stdout says what was written)." },
	{ 2, "usage error." },
	{ -1, NULL },
};

static const char *const export_syn[] = {
	"export contracts [--format csv|jsonl] [--status STATUS] [--updated-since DATETIME] [--output FILE] "
	"[--config FILE] [--data DIR]",
	NULL,
};
static const struct cli_opt export_opts[] = {
	{ "--format", "csv|jsonl", "output format (default csv)." },
	{ "--status", "STATUS", "only contracts in this lifecycle status." },
	{ "--updated-since", "DATETIME", "only contracts updated at or after DATETIME (2026-01-31T00:00:00Z)." },
	{ "--output", "FILE", "write FILE atomically (temporary file, fsync, rename) instead of stdout." },
	{ "--config", "FILE", "the YAML configuration (store, custom attributes)." },
	{ "--data", "DIR", "data directory; the store is DIR/clmsync.db." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit export_exits[] = {
	{ 0, "every contract written." },
	{ 1, "the store or the output failed (FILE is left as it was)." },
	{ 2, "usage error." },
	{ -1, NULL },
};

static const char *const backfill_syn[] = {
	"backfill --config FILE --mapping NAME [--direction to-salesforce|from-salesforce] [--dry-run] [--batch N] "
	"[--data DIR] [--json] [--quiet]", NULL };
static const struct cli_opt backfill_opts[] = {
	{ "--config", "FILE", "the YAML configuration: orgs, mappings, store (required)." },
	{ "--mapping", "NAME", "the mapping to load (required)." },
	{ "--direction", "DIR", "to-salesforce (the default) or from-salesforce." },
	{ "--dry-run", NULL, "read both sides and count what would be written; write nothing." },
	{ "--batch", "N", "records per Bulk job, 1 to 100000 (default 10000)." },
	{ "--data", "DIR", "data directory as for `serve --data`: the store is DIR/clmsync.db." },
	{ "--json", NULL, "the summary as one JSON object." },
	{ "--quiet", NULL, "no progress on stderr." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit backfill_exits[] = {
	{ 0, "every record loaded (or nothing to do)." },
	{ 1, "some records were refused; the others are loaded." },
	{ 2, "usage, or a mapping that cannot be loaded in that direction." },
	{ 3, "the configuration, store or repository cannot be read or written." },
	{ 4, "Salesforce refused or failed a whole call (authentication, API limit, network, a failed Bulk job): "
	     "stopped early." },
	{ 5, "interrupted." },
	{ -1, NULL },
};
static const char *const mapping_syn[] = { "mapping check FILE [--org NAME] [--json]", NULL };
static const struct cli_opt mapping_opts[] = {
	{ "--org", "NAME", "check only the mappings of org NAME." },
	{ "--json", NULL, "one JSON object on stdout, for scripts (docs/mapping-check.md)." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit mapping_exits[] = {
	{ 0, "no errors (warnings allowed)." },
	{ 1, "errors (or an invalid FILE)." },
	{ 2, "usage error." },
	{ 3, "an org could not be reached or logged into (its mappings are not checked)." },
	{ -1, NULL },
};

static const char *const status_syn[] = { "status [--json]", NULL };
static const struct cli_exit status_exits[] = {
	{ 0, "healthy." },
	{ 1, "the server needs attention: an org's change stream is down, an org is not logged in to Salesforce (its "
	     "login was refused), the dead-letter queue holds entries, or manual conflicts are open (each reason is "
	     "printed; with --json the same rule is applied to the JSON)." },
	{ 2, EXIT_USAGE_TEXT },
	{ 3, EXIT_SERVER_TEXT },
	{ -1, NULL },
};

static const char *const dlq_syn[] = {
	"dlq list [--mapping NAME]",
	"dlq show ID",
	"dlq replay ID",
	"dlq replay --all [--mapping NAME] [--progress-every SECONDS]",
	"dlq discard ID --reason TEXT",
	NULL,
};
static const struct cli_opt dlq_opts[] = {
	{ "--mapping", "NAME", "list, replay --all: only the entries of this mapping." },
	{ "--all", NULL, "replay: every entry." },
	{ "--reason", "TEXT", "discard: why (required; it goes into the audit log)." },
	{ "--progress-every", "SECONDS",
	  "replay --all: how often to print a progress line when stderr is not a terminal (default 10, fractions "
	  "allowed, 0.1 to 3600); on a terminal one line is redrawn in place." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit dlq_exits[] = {
	{ 0, "done (an empty queue too)." },
	{ 1, "replay --all: some entries could not be replayed (the summary says how many)." },
	{ 2, EXIT_USAGE_TEXT },
	{ 3, EXIT_SERVER_TEXT },
	{ 4, "no such entry (or it left the queue meanwhile)." },
	{ -1, NULL },
};

static const char *const conflicts_syn[] = {
	"conflicts list [--mapping NAME]",
	"conflicts show ID",
	"conflicts resolve ID --take clm|salesforce [--wait SECONDS]",
	"conflicts resolve ID --value JSON [--wait SECONDS]",
	NULL,
};
static const struct cli_opt conflicts_opts[] = {
	{ "--mapping", "NAME", "list: only the conflicts of this mapping." },
	{ "--take", "SIDE", "resolve: take the value of clm (the repository) or salesforce." },
	{ "--value", "JSON", "resolve: write this value instead, as JSON (at most 65536 bytes)." },
	{ "--wait", "SECONDS",
	  "resolve: how long to wait until the engine has applied it, 0 to 86400 (default 30; 0 only makes the "
	  "request)." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit conflicts_exits[] = {
	{ 0, "done (resolve: applied, or requested with --wait 0)." },
	{ 2, EXIT_USAGE_TEXT },
	{ 3, EXIT_SERVER_TEXT },
	{ 4, "no such conflict (or it was resolved already)." },
	{ 5, "resolve: requested, but not applied within --wait (the request stays queued: the engine applies it "
	     "when it runs)." },
	{ -1, NULL },
};

static const char *const reconcile_syn[] = {
	"reconcile [--mapping NAME] [--org NAME] [--repair] [--wait SECONDS] [--progress-every SECONDS]",
	"reconcile show ID",
	NULL,
};
static const struct cli_opt reconcile_opts[] = {
	{ "--mapping", "NAME", "only this mapping." },
	{ "--org", "NAME", "only this org's mappings." },
	{ "--repair", NULL, "heal what differs." },
	{ "--wait", "SECONDS",
	  "how long to wait for the answers, 0 to 86400 (default 3600; 0 only makes the requests and prints their "
	  "ids)." },
	{ "--progress-every", "SECONDS",
	  "how often to print a progress line when stderr is not a terminal (default 10, fractions allowed, 0.1 to "
	  "3600); on a terminal one line is redrawn in place." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit reconcile_exits[] = {
	{ 0, "no difference (or every one repaired)." },
	{ 1, "differences found without --repair, or a reconcile stopped early (the message says why)." },
	{ 2, EXIT_USAGE_TEXT },
	{ 3, EXIT_SERVER_TEXT },
	{ 4, "no such mapping or org." },
	{ 5, "not every org answered within --wait, or no sync engine runs for an org on this server (`serve "
	     "--no-sync`): the requests stay queued, and `clmsync reconcile show ID` reads a result later." },
	{ -1, NULL },
};

static const char *const pause_syn[] = { "pause MAPPING [--reason TEXT]", NULL };
static const struct cli_opt pause_opts[] = {
	{ "--reason", "TEXT", "why: shown by `clmsync status` and written to the audit log." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit pause_exits[] = {
	{ 0, "paused (or paused already)." },
	{ 2, EXIT_USAGE_TEXT },
	{ 3, EXIT_SERVER_TEXT },
	{ 4, "no such mapping." },
	{ -1, NULL },
};

static const char *const resume_syn[] = { "resume MAPPING", NULL };
static const struct cli_opt no_opts[] = { { NULL, NULL, NULL } };
static const struct cli_exit resume_exits[] = {
	{ 0, "resumed (or running already)." },
	{ 2, EXIT_USAGE_TEXT },
	{ 3, EXIT_SERVER_TEXT },
	{ 4, "no such mapping." },
	{ -1, NULL },
};

static const char *const links_syn[] = { "links find ID [--clm | --sf]", NULL };
static const struct cli_opt links_opts[] = {
	{ "--clm", NULL, "ID is a repository id." },
	{ "--sf", NULL, "ID is a Salesforce id." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit links_exits[] = {
	{ 0, "found." },
	{ 2, EXIT_USAGE_TEXT },
	{ 3, EXIT_SERVER_TEXT },
	{ 4, "ID is linked in no mapping." },
	{ -1, NULL },
};

static const char *const lineage_syn[] = { "lineage ENTITY ID", NULL };
static const struct cli_exit lineage_exits[] = {
	{ 0, "shown." },
	{ 2, EXIT_USAGE_TEXT },
	{ 3, EXIT_SERVER_TEXT },
	{ 4, "no mapping syncs ENTITY, or ID is neither in the repository nor linked." },
	{ -1, NULL },
};

static const char *const audit_syn[] = {
	"audit search [ID] [--field NAME] [--decision WORD] [--mapping NAME] [--since TIME] [--until TIME] "
	"[--limit N]",
	"audit verify [--progress-every SECONDS]",
	"audit verify --offline [--store URL | --data DIR | --config FILE] [--json]",
	NULL,
};
static const struct cli_opt audit_opts[] = {
	{ "--field", "NAME", "search: rows about this repository field (status, custom.region, ...)." },
	{ "--decision", "WORD",
	  "search: rows with this decision (applied, reverted, ignored, conflict, resolved, dlq, replayed, discarded, "
	  "created, linked, deleted, drift, paused, resumed, ...)." },
	{ "--mapping", "NAME", "search: rows of this mapping." },
	{ "--since", "TIME", "search: rows at or after TIME (ISO 8601: 2026-11-27T10:00:00Z)." },
	{ "--until", "TIME", "search: rows before TIME." },
	{ "--limit", "N", "search: at most N rows (1 to 1000000, default 1000)." },
	{ "--offline", NULL, "verify: read the store file directly instead of asking the server." },
	{ "--store", "URL",
	  "verify --offline: the store (sqlite:PATH), over DIR/clmsync.db of --data and the configuration's." },
	{ "--progress-every", "SECONDS",
	  "verify: how often to print a progress line when stderr is not a terminal (default 10, fractions "
	  "allowed, 0.1 to 3600); on a terminal one line is redrawn in place." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit audit_exits[] = {
	{ 0, "the log is intact (verify), or the search ran (whether rows matched or not)." },
	{ 1, "the log is broken: the first row that does not verify is named." },
	{ 2, EXIT_USAGE_TEXT },
	{ 3, EXIT_SERVER_TEXT " With --offline: the store cannot be opened or read." },
	{ -1, NULL },
};

static const char *const help_syn[] = { "help [COMMAND]", "help --man", NULL };
static const struct cli_opt help_opts[] = {
	{ "--man", NULL, "print the manual page (roff) instead." },
	{ NULL, NULL, NULL },
};
static const struct cli_exit help_exits[] = {
	{ 0, "printed." },
	{ 2, "no such command." },
	{ -1, NULL },
};

static const char *const version_syn[] = { "version", NULL };
static const struct cli_exit version_exits[] = { { 0, "printed." }, { 2, "usage error." }, { -1, NULL } };

static int cmd_version(int argc, char **argv);

/* One row per command, in `clmsync help` order. */
static const struct cli_cmd cmds[] = {
	{ "serve", cmd_serve, "run the contract repository, the sync engine and the admin API", serve_syn,
	  "Runs the contract repository: the REST API under /api/v1, the change feed and the scheduled pass "
	  "(expiry, auto-renewal, amendments); and, when the configuration declares orgs and mappings, the sync "
	  "engine that keeps them equal with Salesforce both ways. Without a configuration it runs on embedded "
	  "defaults: data in ./clmsync-data, listening on 127.0.0.1:8440. The admin API (/admin/v1), /metrics, "
	  "/healthz and /readyz are served on a second listener, 127.0.0.1:8442 by default: the operator's "
	  "commands below talk to it. Prints the repository's base URL on the first line of stdout and the admin "
	  "listener's on the second.\n"
	  "\n"
	  "With no token configured and no --api-token-file, the first start writes a new admin token to "
	  "DIR/api-token (mode 0600) and says so; later starts reuse it. Secrets come from the files and "
	  "environment variables the configuration names (token_file, token_env, client_secret_env, ...).",
	  serve_opts, false, NULL, serve_exits },
	{ "config", cmd_config, "validate a configuration without starting, or print the reference", config_syn,
	  "@check\tvalidates FILE whole and prints its effective settings; every problem is listed with its file, "
	  "line and key. Secrets are read to check them but are printed masked.\n"
	  "@reference\tprints every setting, in Markdown (docs/configuration.md is this output).",
	  no_opts, false, NULL, config_exits },
	{ "import", cmd_import, "load contracts from a spreadsheet (CSV)", import_syn,
	  "Creates one contract per row of an RFC 4180 CSV file (comma-separated, UTF-8, header line first). "
	  "Column names are the API's field names (docs/api.md): title, type, status, number, owner, "
	  "effective_date, term_months, ...; money as total_value_amount + total_value_currency; custom attributes "
	  "as custom.NAME. The counterparty is counterparty_id (an existing cp_ id) or counterparty_legal_name (an "
	  "existing counterparty with exactly that name, created when none has it); the parent contract is "
	  "parent_contract_id or parent_contract_number. Empty cells are absent. Columns the repository sets (id, "
	  "version, created_at, ...) are ignored, so a file from `clmsync export contracts` imports as it is. "
	  "Every row is checked as the REST API checks a create before anything is written; a refused row is "
	  "reported with its line number.\n"
	  "\n"
	  "Works on the store directly; safe while a server runs on it.",
	  import_opts, false, NULL, import_exits },
	{ "export", cmd_export, "write contracts as CSV or JSON lines", export_syn,
	  "Writes the repository's contracts, in creation order, to stdout or FILE. CSV has one column per field "
	  "(money as total_value_amount,total_value_currency; custom attributes as custom.NAME; "
	  "counterparty_legal_name and parent_contract_number for re-import elsewhere); JSON lines has one record "
	  "per line as the REST API answers it. Reads the store directly; safe while a server runs.",
	  export_opts, false, NULL, export_exits },
	{ "backfill", cmd_backfill, "the initial load of a mapping through Bulk API 2.0", backfill_syn,
	  "Loads every record of one mapping from one side into the other through Salesforce's Bulk API 2.0, and "
	  "links each record with its field shadows as the sync engine links the records it creates, so that "
	  "`clmsync serve` then finds them linked and in sync and sends nothing for them.\n"
	  "\n"
	  "to-salesforce (the default): every repository record of the mapping's entity that its route takes is "
	  "upserted by external id (the mapping's external_id_field holds the repository id), in Bulk jobs of "
	  "--batch records. A record whose lookup target (a contract's counterparty) is not linked yet is refused: "
	  "backfill the target's mapping first.\n"
	  "\n"
	  "from-salesforce: every record of the mapping's sObject is read with one Bulk query. A record whose "
	  "external id names a repository record is linked to it; any other is created in the repository (when "
	  "the mapping's on_create.clm is create) with the engine's value conversions. Where the two differ, "
	  "Salesforce's value is taken when the mapping lets Salesforce write the field, else the repository's goes "
	  "back; the repository's id and its own values go to Salesforce in Bulk update jobs.\n"
	  "\n"
	  "Records linked already are skipped, so a second run writes nothing. Safe while `clmsync serve` runs on "
	  "the same store. Progress (records, rate, ETA) goes to stderr, each refused record with its reason to "
	  "stderr, the summary to stdout. Ctrl-C aborts the Bulk job in hand and stops; what was loaded stays "
	  "loaded and linked.",
	  backfill_opts, false, NULL, backfill_exits },
	{ "mapping", cmd_mapping, "check every mapped field against the orgs' describe", mapping_syn,
	  "Loads and validates FILE as `clmsync config check` does, logs into each org with its configured auth, "
	  "fetches the describe of every mapped sObject once, and checks each mapped field against it:\n"
	  "- the field exists (else a \"did you mean\" from the describe's field names);\n"
	  "- its type carries the repository field and transform: text to string, textarea, picklist, email, url, "
	  "phone; date to date (datetime with date_to_datetime); money_amount, decimal_to_currency to currency, "
	  "double, percent, with the scale no larger than the field's; boolean to boolean; number to int, double; "
	  "lookups to a reference to the looked-up mapping's sObject; value maps to picklist;\n"
	  "- it is createable (when on_create.salesforce is create) and updateable when the repository writes it "
	  "(owner clm or both, or non_owner_write accept);\n"
	  "- value map values exist in the picklist (restricted: error, unrestricted: warning), and, when "
	  "Salesforce writes the field, every picklist value is in the map (restricted: error, unrestricted: "
	  "warning);\n"
	  "- text fits: the repository's longest value (max_length, the field's limit, or the truncate length) is "
	  "not longer than the Salesforce field;\n"
	  "- the external_id_field exists, is a Text field marked External ID (error) and Unique (warning: upserts "
	  "can answer 300), and match keys exist.\n"
	  "\n"
	  "Problems are printed in full, fields without one summarised per mapping. Secrets are read to log in and "
	  "never printed.",
	  mapping_opts, false, NULL, mapping_exits },
	{ "status", cmd_status, "the running server's health: streams, queues, lag, mappings", status_syn,
	  "Shows the running server's state through the admin API: its version and uptime; per org the change "
	  "stream (connected or down, and since when), the age of the last event, the inbox, outbox and feed "
	  "backlog, the lag of the oldest pending change and the Salesforce API calls used; per mapping its state "
	  "(running or paused), the records written each way, its dead-letter entries and open conflicts.\n"
	  "\n"
	  "The last line is the verdict: `health: ok`, or `health: ATTENTION:` with every reason. The server needs "
	  "attention when an org's change stream is down, when the dead-letter queue holds entries, or when manual "
	  "conflicts wait for a decision. A paused mapping, or the engine turned off (`serve --no-sync`), is shown "
	  "but is no reason.",
	  no_opts, true, NULL, status_exits },
	{ "dlq", cmd_dlq, "list, show, replay or discard the sync dead-letter queue", dlq_syn,
	  "The dead-letter queue holds what the sync engine gave up on: a write to Salesforce that failed for good "
	  "(or after every retry), or a change the repository refused, each with the exact error and the item to "
	  "put back.\n"
	  "\n"
	  "@list\tone line per entry, oldest first: id, org, mapping, record, direction (the side that was to be "
	  "written), error code and message, cut to fit (--json has them whole).\n"
	  "@show\tone entry with everything, its item as JSON.\n"
	  "@replay\tputs the item back at the end of its queue with its attempts reset, removes the entry and "
	  "writes an audit row; the engine takes it up within a second. An item that fails again comes back under "
	  "a new id.\n"
	  "@replay --all\treplays, one at a time with a progress line, every entry there is when it starts (only "
	  "those of --mapping when given); entries that fail again come back with new ids and are not replayed "
	  "twice.\n"
	  "@discard\tremoves the entry for good, with an audit row holding the reason.\n"
	  "\n"
	  "An ID is the number `list` shows (leading zeros may be left out).",
	  dlq_opts, true, NULL, dlq_exits },
	{ "conflicts", cmd_conflicts, "list, show or resolve open manual conflicts", conflicts_syn,
	  "A field mapped with `conflict: manual` that changed on both sides since they last agreed is parked as a "
	  "conflict: each side keeps its value until someone decides.\n"
	  "\n"
	  "@list\tone line per open conflict: id, field, the repository's value, Salesforce's value (as JSON, cut "
	  "to fit) and since when.\n"
	  "@show\tone conflict with both values and the base (the last value both sides agreed on).\n"
	  "@resolve\tasks the engine to write the chosen value to both sides: the repository's (--take clm), "
	  "Salesforce's (--take salesforce) or another (--value, JSON: a text is written '\"like this\"', null "
	  "clears the field); then waits, at most --wait seconds, until the engine has applied it and the conflict "
	  "is gone.\n"
	  "\n"
	  "An ID is <mapping>/<repository id>/<Salesforce field>, as `list` shows it.",
	  conflicts_opts, true, NULL, conflicts_exits },
	{ "reconcile", cmd_reconcile, "compare (and repair) both sides, per org, with progress", reconcile_syn,
	  "Asks the running sync engine to compare every record on both sides, field by field: one request per "
	  "org that has mappings (only the org of --mapping or --org when given). Then it waits for each org's "
	  "answer with a progress line on stderr (records compared, the rate and the time left; each mapping's "
	  "query announces how many records it brings when it starts, so the total may still grow, shown as ~), "
	  "and prints per org:\n"
	  "\n"
	  "  org NAME: N records compared, M differed (repaired|reported)\n"
	  "\n"
	  "Without --repair, differences are only counted (and written to the audit log as drift); with it, each "
	  "is healed through the mapping's rules, as a live change would be. A reconcile reads every mapped record "
	  "from Salesforce: it spends API calls. Paused mappings are skipped.\n"
	  "\n"
	  "@show ID\tprints the result of an earlier request (--wait 0 and --json print the ids).",
	  reconcile_opts, true, NULL, reconcile_exits },
	{ "pause", cmd_pause, "pause a mapping: hold changes on both sides", pause_syn,
	  "Pauses a mapping: from the engine's next round, every record changed on either side is held (one row "
	  "per record) and nothing is written for it, until `clmsync resume`. The pause survives a restart and is "
	  "written to the audit log with its reason. Pausing a paused mapping changes nothing.",
	  pause_opts, true, NULL, pause_exits },
	{ "resume", cmd_resume, "resume a paused mapping and queue what it held", resume_syn,
	  "Resumes a paused mapping: the pause is removed and every record held meanwhile is queued for the "
	  "engine (each side's change is read afresh, so a field changed on both sides meets by the mapping's "
	  "conflict rule). Prints how many records were queued. Resuming a running mapping changes nothing.",
	  no_opts, true, NULL, resume_exits },
	{ "links", cmd_links, "find what a record is linked to on the other side", links_syn,
	  "Finds the links of a record in every mapping: a repository id gives the Salesforce record it is linked "
	  "to, a Salesforce id the repository record. One line per mapping: mapping, org, repository id, sObject, "
	  "Salesforce id, and the writes in flight (sent to Salesforce, their change event not seen yet). Whether ID is a Salesforce id (15 or 18 letters and "
	  "digits) or a repository id is told from its form; --clm or --sf says it.",
	  links_opts, true, NULL, links_exits },
	{ "lineage", cmd_lineage, "where each synced field of a record comes from", lineage_syn,
	  "Shows where each synced field of a record comes from: for every mapping the record is linked in, per "
	  "mapped field its owner, the value on each side, and the audit row that last changed it (row number, "
	  "time, decision, event). ENTITY is what a mapping syncs (contract, counterparty, ...); ID is the "
	  "repository id.",
	  no_opts, true, NULL, lineage_exits },
	{ "audit", cmd_audit, "search the audit log, verify its hash chain", audit_syn,
	  "The audit log holds one row per decision the sync engine or an operator took on a field, each chained "
	  "to the one before by a SHA-256 hash, so that a changed, removed or inserted row breaks the chain from "
	  "that row on.\n"
	  "\n"
	  "@search\tprints the rows that match every filter given, oldest first: row number, time, decision, side, "
	  "record (repository id, else Salesforce id), field, old and new value (as JSON) and event. ID matches a "
	  "row's repository id or its Salesforce id. The server pages through the log: a filter that matches few "
	  "rows reads all of it.\n"
	  "@verify\thas the server walk the chain from its first row and check every row's number, its link to the "
	  "row before and its hash, and that the head names the last row. It goes in parts, with a progress line "
	  "for a long log.\n"
	  "@verify --offline\tdoes the same on the store file itself, without a server: for when the server is "
	  "down, or to check a copy. The audit log lives in the store (DATA/clmsync.db; --store URL, else --data "
	  "DIR, else the configuration's store), and SQLite lets this run beside a running server. Only verify has "
	  "an offline form; --admin-url and --token-file do not go with it.",
	  audit_opts, true, NULL, audit_exits },
	{ "help", cmd_help, "the list of commands, a command's help, or the manual page", help_syn,
	  "Prints the list of commands, a command's help (as `clmsync COMMAND --help` does), or with --man the "
	  "manual page in roff: docs/clmsync.1 is that output (`clmsync help --man > docs/clmsync.1`; read it with "
	  "`man -l docs/clmsync.1`).",
	  help_opts, false, NULL, help_exits },
	{ "version", cmd_version, "print the version", version_syn, "Prints `clmsync VERSION`.", no_opts, false, NULL,
	  version_exits },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* The general description, for `clmsync help` and the man page. */
static const char general[] =
	"clmsync is a contract repository with a two-way Salesforce sync engine. `clmsync serve` runs it; "
	"config, import, export and mapping work on the configuration, the store or the orgs directly.\n"
	"\n"
	"The operator's commands (status, dlq, conflicts, reconcile, pause, resume, links, lineage, audit) talk to "
	"a running `clmsync serve` through its admin API, with a token that has the admin role. They find the "
	"server and the token from their options first, then the environment (CLMSYNC_ADMIN_URL, "
	"CLMSYNC_ADMIN_TOKEN), then the configuration (--config FILE, else the built-in defaults): its "
	"admin.listen, its first api_tokens entry with role admin, or the token `clmsync serve` wrote to "
	"DATA/api-token when none is configured.\n"
	"\n"
	"They print tables for people and, with --json, the admin API's JSON for scripts. Values in tables come "
	"from the repository and from Salesforce and may hold anything: every control character, escape sequence, "
	"invalid UTF-8 byte and bidirectional control is printed escaped (\\n, \\t, \\e, \\xHH, \\uHHHH); "
	"values are shown as JSON (a text in quotes) and long ones are cut with ...; --json and show have them "
	"whole. Progress lines "
	"go to stderr: redrawn in place on a terminal, one plain line every --progress-every seconds otherwise.";

static const struct cli_exit general_exits[] = {
	{ 0, "success; for status, healthy." },
	{ 1, "the thing asked about is bad: status unhealthy, the audit log broken, drift found, entries that "
	     "could not be replayed; for the other commands, a failure (the message says which)." },
	{ 2, "usage error." },
	{ 3, "the admin API cannot be used: not reachable, no token, token refused, server failing." },
	{ 4, "not found: no such entry, conflict, mapping, org or link." },
	{ 5, "asked, but not done within --wait (the request stays queued)." },
	{ -1, NULL },
};

const struct cli_cmd *
cli_cmds(size_t *n)
{
	*n = NCMDS;
	return cmds;
}

const struct cli_cmd *
cli_cmd_find(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static int
cmd_version(int argc, char **argv)
{
	struct cli_args a;
	int code;

	if ((code = cli_parse(cli_cmd_find("version"), argc, argv, &a)) >= 0)
		return code;
	if (a.npos > 0) {
		fprintf(stderr, "clmsync version: unexpected argument '%s'\n", a.pos[0]);
		return CLI_EXIT_USAGE;
	}
	printf("clmsync %s\n", CLMSYNC_VERSION);
	return 0;
}

/* --- the parser --------------------------------------------------------------------------------- */

static void
collect(const struct cli_cmd *c, struct cli_args *a)
{
	for (const struct cli_opt *o = c->opts; o != NULL && o->name != NULL && a->nopt < CLI_OPTS_MAX; o++)
		a->opt[a->nopt++] = o;
	for (const struct cli_opt *o = cli_admin_opts; c->admin && o->name != NULL && a->nopt < CLI_OPTS_MAX; o++) {
		bool dup = false;
		/* a command may describe a shared option its own way (none does yet) */
		for (size_t k = 0; k < a->nopt; k++)
			dup |= strcmp(a->opt[k]->name, o->name) == 0;
		if (!dup)
			a->opt[a->nopt++] = o;
	}
}

int
cli_parse(const struct cli_cmd *c, int argc, char **argv, struct cli_args *a)
{
	bool opts_done = false;

	memset(a, 0, sizeof(*a));
	a->cmd = c;
	collect(c, a);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i], *eq;
		size_t k, nlen;
		if (!opts_done && (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)) {
			cli_help_print(c, stdout);
			return CLI_EXIT_OK;
		}
		if (!opts_done && strcmp(s, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (opts_done || s[0] != '-' || strcmp(s, "-") == 0) {
			if (a->npos == CLI_POS_MAX) {
				fprintf(stderr, "clmsync %s: unexpected argument '%s' (see --help)\n", c->name, s);
				return CLI_EXIT_USAGE;
			}
			a->pos[a->npos++] = s;
			continue;
		}
		eq = strchr(s, '=');
		nlen = eq != NULL ? (size_t)(eq - s) : strlen(s);
		for (k = 0; k < a->nopt; k++)
			if (strlen(a->opt[k]->name) == nlen && strncmp(a->opt[k]->name, s, nlen) == 0)
				break;
		if (k == a->nopt) {
			fprintf(stderr, "clmsync %s: unknown option '%.*s' (see --help)\n", c->name, (int)nlen, s);
			return CLI_EXIT_USAGE;
		}
		if (a->val[k] != NULL) {
			fprintf(stderr, "clmsync %s: %s given twice\n", c->name, a->opt[k]->name);
			return CLI_EXIT_USAGE;
		}
		if (a->opt[k]->arg == NULL) {
			if (eq != NULL) {
				fprintf(stderr, "clmsync %s: %s takes no value\n", c->name, a->opt[k]->name);
				return CLI_EXIT_USAGE;
			}
			a->val[k] = "";
		} else if (eq != NULL)
			a->val[k] = eq + 1;
		else if (i + 1 < argc)
			a->val[k] = argv[++i];
		else {
			fprintf(stderr, "clmsync %s: %s needs a value: %s (see --help)\n", c->name, a->opt[k]->name,
			        a->opt[k]->arg);
			return CLI_EXIT_USAGE;
		}
	}
	return -1;
}

const char *
cli_get(const struct cli_args *a, const char *name)
{
	for (size_t k = 0; k < a->nopt; k++)
		if (strcmp(a->opt[k]->name, name) == 0)
			return a->val[k];
	return NULL;
}

int
cli_not_with(const struct cli_args *a, const char *name, const char *what)
{
	if (cli_get(a, name) == NULL)
		return -1;
	fprintf(stderr, "clmsync %s: %s does not go with %s (see --help)\n", a->cmd->name, name, what);
	return CLI_EXIT_USAGE;
}

/* --- text ------------------------------------------------------------------------------------- */

/* Prints the words of s[0..n) to f, filled to WIDTH: the first line after `col` columns already
 * used, every other one indented by indent. Line breaks in s are spaces. */
static void
fill(FILE *f, const char *s, size_t n, int col, int indent)
{
	const char *p = s, *end = s + n;
	bool first = true;

	while (p < end) {
		const char *w;
		int wl;
		while (p < end && (*p == ' ' || *p == '\n'))
			p++;
		if (p == end)
			break;
		w = p;
		while (p < end && *p != ' ' && *p != '\n')
			p++;
		wl = (int)(p - w);
		if (!first && col + 1 + wl > WIDTH) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		fwrite(w, 1, (size_t)wl, f);
		col += wl;
		first = false;
	}
	fputc('\n', f);
}

/* Prints "  LEFT" and text, the text starting at column at (on the next line when LEFT is too
 * wide). */
static void
hang(FILE *f, const char *left, size_t llen, const char *text, int at)
{
	fprintf(f, "  %.*s", (int)llen, left);
	if ((int)llen + 2 + 2 > at) {
		fprintf(f, "\n%*s", at, "");
	} else
		fprintf(f, "%*s", at - 2 - (int)llen, "");
	fill(f, text, strlen(text), at, at);
}

/* The blocks of a description, for both renderers. */
enum block { B_PLAIN, B_DEF, B_ITEM, B_VERBATIM };

typedef void (*block_fn)(FILE *f, enum block k, const char *term, size_t tlen, const char *s, size_t n, bool first);

/* Splits text into blocks (see struct cli_cmd) and calls fn for each; first says it opens a
 * paragraph. */
static void
blocks(FILE *f, const char *text, block_fn fn)
{
	const char *p = text;

	while (*p != '\0') {
		const char *pe = strstr(p, "\n\n"), *l;
		if (pe == NULL)
			pe = p + strlen(p);
		if (p[0] == ' ' && p[1] == ' ') {
			fn(f, B_VERBATIM, NULL, 0, p, (size_t)(pe - p), true);
		} else {
			bool first = true;
			l = p;
			while (l < pe) {
				const char *start = l, *next = l, *term = NULL;
				size_t tlen = 0;
				enum block k = B_PLAIN;
				if (*l == '@') {
					const char *tab = memchr(l, '\t', (size_t)(pe - l));
					k = B_DEF;
					term = l + 1;
					tlen = tab != NULL ? (size_t)(tab - term) : 0;
					start = tab != NULL ? tab + 1 : l + 1;
				} else if (l[0] == '-' && l[1] == ' ') {
					k = B_ITEM;
					start = l + 2;
				}
				/* the block runs to the next line that starts another block */
				for (;;) {
					const char *nl = memchr(next, '\n', (size_t)(pe - next));
					if (nl == NULL) {
						next = pe;
						break;
					}
					next = nl + 1;
					if (*next == '@' || (next[0] == '-' && next[1] == ' '))
						break;
				}
				fn(f, k, term, tlen, start, (size_t)(next - start), first);
				first = false;
				l = next;
			}
		}
		p = *pe != '\0' ? pe + 2 : pe;
	}
}

static void
text_block(FILE *f, enum block k, const char *term, size_t tlen, const char *s, size_t n, bool first)
{
	char *t;

	if (first)
		fputc('\n', f);
	switch (k) {
	case B_PLAIN:
		fill(f, s, n, 0, 0);
		break;
	case B_ITEM:
		fputs("  - ", f);
		fill(f, s, n, 4, 4);
		break;
	case B_DEF:
		if ((t = strndup(s, n)) != NULL)
			hang(f, term, tlen, t, DEF_COL);
		free(t);
		break;
	case B_VERBATIM:
		fwrite(s, 1, n, f);
		fputc('\n', f);
		break;
	}
}

static void
opt_left(const struct cli_opt *o, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

static void
text_opts(FILE *f, const struct cli_opt *opts)
{
	char left[96];

	for (const struct cli_opt *o = opts; o != NULL && o->name != NULL; o++) {
		opt_left(o, left, sizeof(left));
		hang(f, left, strlen(left), o->text, OPT_COL);
	}
}

static void
text_env(FILE *f, const struct cli_env *env)
{
	for (const struct cli_env *v = env; v != NULL && v->name != NULL; v++)
		hang(f, v->name, strlen(v->name), v->text, OPT_COL);
}

static void
text_exits(FILE *f, const struct cli_exit *x)
{
	char code[16];

	fprintf(f, "\nexit status:\n");
	for (; x->code >= 0; x++) {
		snprintf(code, sizeof(code), "%d", x->code);
		hang(f, code, strlen(code), x->text, 6);
	}
}

void
cli_help_print(const struct cli_cmd *c, FILE *f)
{
	for (const char *const *s = c->synopsis; *s != NULL; s++) {
		fprintf(f, "%sclmsync ", s == c->synopsis ? "usage: " : "       ");
		fill(f, *s, strlen(*s), 15, 15);
	}
	blocks(f, c->text, text_block);
	fprintf(f, "\noptions:\n");
	text_opts(f, c->opts);
	fprintf(f, "  -h, --help%*sthis help\n", OPT_COL - 12, "");
	if (c->admin) {
		fprintf(f, "\nadmin API options:\n");
		text_opts(f, cli_admin_opts);
		fprintf(f, "\nenvironment:\n");
		text_env(f, cli_admin_env);
	}
	if (c->env != NULL) {
		if (!c->admin)
			fprintf(f, "\nenvironment:\n");
		text_env(f, c->env);
	}
	text_exits(f, c->exits);
}

void
cli_help_list(FILE *f)
{
	fprintf(f, "usage: clmsync COMMAND [options]\n       clmsync COMMAND --help\n       clmsync help --man\n");
	fprintf(f, "\ncommands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		hang(f, cmds[i].name, strlen(cmds[i].name), cmds[i].summary, 14);
	blocks(f, general, text_block);
	fprintf(f, "\nadmin API options (the operator's commands take them):\n");
	text_opts(f, cli_admin_opts);
	fprintf(f, "\nenvironment:\n");
	text_env(f, cli_admin_env);
	text_exits(f, general_exits);
	fprintf(f, "\n`clmsync COMMAND --help` describes each command; `clmsync help --man` prints the manual page.\n");
}

/* --- roff ------------------------------------------------------------------------------------- */

/* Prints s[0..n) as roff text: backslashes and hyphens escaped, `code` in bold, line breaks as
 * spaces, and a '.' or '\'' that would open a line made literal. */
static void
roff(FILE *f, const char *s, size_t n, bool *bol)
{
	bool code = false;

	for (size_t i = 0; i < n; i++) {
		char c = s[i] == '\n' ? ' ' : s[i];
		if (*bol && (c == '.' || c == '\''))
			fputs("\\&", f);
		*bol = false;
		switch (c) {
		case '\\': fputs("\\e", f); break;
		case '-': fputs("\\-", f); break;
		case '`':
			fputs(code ? "\\fR" : "\\fB", f);
			code = !code;
			break;
		default: fputc(c, f); break;
		}
	}
	if (code)
		fputs("\\fR", f);
}

static void
roff_line(FILE *f, const char *s, size_t n)
{
	bool bol = true;

	roff(f, s, n, &bol);
	fputc('\n', f);
}

static void
roff_block(FILE *f, enum block k, const char *term, size_t tlen, const char *s, size_t n, bool first)
{
	const char *p, *e;

	switch (k) {
	case B_PLAIN:
		fputs(".PP\n", f);
		roff_line(f, s, n);
		break;
	case B_ITEM:
		if (first)
			fputs(".PP\n", f);
		fputs(".IP \\(bu 2\n", f);
		roff_line(f, s, n);
		break;
	case B_DEF:
		fputs(".TP\n\\fB", f);
		{
			bool bol = false;
			roff(f, term, tlen, &bol);
		}
		fputs("\\fR\n", f);
		roff_line(f, s, n);
		break;
	case B_VERBATIM:
		fputs(".PP\n.RS\n.nf\n", f);
		for (p = s; p < s + n; p = e + 1) {
			e = memchr(p, '\n', (size_t)(s + n - p));
			if (e == NULL)
				e = s + n;
			while (p < e && *p == ' ')
				p++;
			roff_line(f, p, (size_t)(e - p));
		}
		fputs(".fi\n.RE\n", f);
		break;
	}
}

static void
roff_opts(FILE *f, const struct cli_opt *opts)
{
	for (const struct cli_opt *o = opts; o != NULL && o->name != NULL; o++) {
		bool bol = false;
		fputs(".TP\n\\fB", f);
		roff(f, o->name, strlen(o->name), &bol);
		fputs("\\fR", f);
		if (o->arg != NULL) {
			fputs(" \\fI", f);
			roff(f, o->arg, strlen(o->arg), &bol);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		roff_line(f, o->text, strlen(o->text));
	}
}

static void
roff_exits(FILE *f, const struct cli_exit *x)
{
	for (; x->code >= 0; x++) {
		fprintf(f, ".TP\n.B %d\n", x->code);
		roff_line(f, x->text, strlen(x->text));
	}
}

static void
roff_env(FILE *f, const struct cli_env *env)
{
	for (const struct cli_env *v = env; v != NULL && v->name != NULL; v++) {
		fprintf(f, ".TP\n.B ");
		roff_line(f, v->name, strlen(v->name));
		roff_line(f, v->text, strlen(v->text));
	}
}

void
cli_help_man(FILE *f)
{
	fputs(".\\\" docs/clmsync.1: generated by `clmsync help --man` from src/cli/help.c; do not edit.\n", f);
	fputs(".TH CLMSYNC 1 \"\" \"clmsync\" \"User Commands\"\n", f);
	fputs(".SH NAME\nclmsync \\- a contract repository with two\\-way Salesforce sync\n", f);
	fputs(".SH SYNOPSIS\n.nf\n", f);
	for (size_t i = 0; i < NCMDS; i++)
		for (const char *const *s = cmds[i].synopsis; *s != NULL; s++) {
			fputs("\\fBclmsync\\fR ", f);
			roff_line(f, *s, strlen(*s));
		}
	fputs(".fi\n.SH DESCRIPTION\n", f);
	blocks(f, general, roff_block);
	fputs(".SH COMMANDS\n", f);
	for (size_t i = 0; i < NCMDS; i++) {
		const struct cli_cmd *c = &cmds[i];
		fprintf(f, ".SS \"clmsync %s\"\n", c->name);
		roff_line(f, c->summary, strlen(c->summary));
		fputs(".PP\n.nf\n", f);
		for (const char *const *s = c->synopsis; *s != NULL; s++) {
			fputs("\\fBclmsync\\fR ", f);
			roff_line(f, *s, strlen(*s));
		}
		fputs(".fi\n", f);
		blocks(f, c->text, roff_block);
		if (c->opts != NULL && c->opts[0].name != NULL) {
			fputs(".PP\nOptions:\n", f);
			roff_opts(f, c->opts);
		}
		if (c->admin)
			fputs(".PP\nAnd the admin API options (see \\fBADMIN API OPTIONS\\fR).\n", f);
		if (c->env != NULL) {
			fputs(".PP\nEnvironment:\n", f);
			roff_env(f, c->env);
		}
		fputs(".PP\nExit status:\n", f);
		roff_exits(f, c->exits);
	}
	fputs(".SH ADMIN API OPTIONS\n.PP\n"
	      "status, dlq, conflicts, reconcile, pause, resume, links, lineage and audit take these:\n", f);
	roff_opts(f, cli_admin_opts);
	fputs(".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nthe command's help (every command takes it).\n", f);
	fputs(".SH ENVIRONMENT\n", f);
	roff_env(f, cli_admin_env);
	fputs(".SH EXIT STATUS\n.PP\nEach command's section says what these mean for it.\n", f);
	roff_exits(f, general_exits);
	fputs(".SH FILES\n"
	      ".TP\n.I DATA/clmsync.db\nthe store: contracts, the sync engine's state and the audit log "
	      "(DATA is data_dir, ./clmsync\\-data by default, or \\fBserve \\-\\-data\\fR).\n"
	      ".TP\n.I DATA/api\\-token\nthe admin token \\fBclmsync serve\\fR creates when none is configured "
	      "(mode 0600).\n"
	      ".SH SEE ALSO\n"
	      "docs/configuration.md (every setting), docs/api.md (the repository API), docs/architecture.md.\n", f);
}

int
cmd_help(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc < 2) {
		cli_help_list(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--man") == 0) {
		cli_help_man(stdout);
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_help_print(cli_cmd_find("help"), stdout);
		return 0;
	}
	if (argc == 2 && (c = cli_cmd_find(argv[1])) != NULL) {
		cli_help_print(c, stdout);
		return 0;
	}
	fprintf(stderr, "clmsync help: no command '%s'; `clmsync help` lists them\n", argv[1]);
	return 2;
}

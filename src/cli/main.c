/* main.c - the clmsync command: subcommand dispatch. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#define CLMSYNC_VERSION "0.1.0"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* One row per subcommand; `clmsync help` prints them in this order. */
static const struct command commands[] = {
	{ "serve", cmd_serve, "run the contract repository (and, later, the sync engine)" },
	{ "config", cmd_config, "config check FILE: validate a configuration without starting" },
	{ "import", cmd_import, "import contracts FILE.csv: load contracts from a spreadsheet" },
	{ "export", cmd_export, "export contracts: write contracts as CSV or JSON lines" },
	{ "mapping", cmd_mapping, "mapping check FILE: check every mapped field against the orgs' describe" },
	{ "dlq", cmd_dlq, "dlq list | show ID | replay ID|--all | discard ID: the sync dead-letter queue" },
	{ "conflicts", cmd_conflicts, "conflicts list | show ID | resolve ID: open manual conflicts" },
	{ "reconcile", cmd_reconcile, "reconcile [--mapping M] [--repair]: compare both sides, per org" },
	{ "backfill", cmd_backfill, "backfill --mapping M [--direction D]: initial load of a mapping by Bulk API" },
	{ "audit", cmd_audit, "audit verify | search ID: check the audit log's hash chain, find a record's rows" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: clmsync <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-10s %s\n  %-10s %s\n\n", "version", "print the version", "help", "print this help");
	fprintf(f, "`clmsync <command> --help` describes each command.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("clmsync %s\n", CLMSYNC_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "clmsync: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}

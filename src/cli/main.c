/* main.c - the clmsync command: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#define CLMSYNC_VERSION "0.1.0"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: clmsync <command> [options]\n"
	    "\n"
	    "commands:\n"
	    "  version      print the version and exit\n"
	    "  help         print this help\n"
	    "\n"
	    "The contract repository, sync engine and operator commands (serve, status, mapping check,\n"
	    "dlq, conflicts, reconcile, backfill, audit verify) are not built yet; see README.md.\n");
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
	fprintf(stderr, "clmsync: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

/* main.c - the clmsync command: subcommand dispatch through the command table (help.c). */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc < 2) {
		cli_help_list(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cli_cmd_find("version")->fn(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(1, argv + 1);
	if ((c = cli_cmd_find(argv[1])) != NULL)
		return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "clmsync: unknown command '%s'; `clmsync help` lists them\n", argv[1]);
	return 2;
}

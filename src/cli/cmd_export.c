/* cmd_export.c - clmsync export (being written). */
#include "cli/cli.h"

#include <stdio.h>

int
cmd_export(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "clmsync: export is not available in this build\n");
	return 1;
}

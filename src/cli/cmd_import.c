/* cmd_import.c - clmsync import (being written). */
#include "cli/cli.h"

#include <stdio.h>

int
cmd_import(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "clmsync: import is not available in this build\n");
	return 1;
}

/* cmd_config.c - clmsync config: check a configuration file, print the settings reference. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "util/buf.h"

#define OUTPUT_MAX (4 * 1024 * 1024)   /* bytes of a dump or the reference */

static void
usage(FILE *f)
{
	cli_help_print(cli_cmd_find("config"), f);
}

static int
check(const char *path)
{
	struct cs_error_list errs;
	struct cs_config *c = NULL;
	struct cs_buf b;
	cs_err rc;
	int code = 0;

	cs_error_list_init(&errs);
	cs_buf_init(&b, OUTPUT_MAX);
	rc = cs_config_load(path, &c, &errs);
	if (rc != CS_OK) {
		cs_error_list_print(&errs, stderr);
		if (errs.n == 0)
			fprintf(stderr, "%s: %s\n", path, cs_strerror(rc));
		fprintf(stderr, "%s: invalid (%zu error%s)\n", path, errs.n + errs.dropped,
		        errs.n + errs.dropped == 1 ? "" : "s");
		code = 1;
		goto out;
	}
	if (cs_config_dump(c, &b) != CS_OK) {
		fprintf(stderr, "clmsync: out of memory\n");
		code = 1;
		goto out;
	}
	printf("# %s: valid. Effective settings (secrets masked):\n%s", path, b.data ? b.data : "");
out:
	cs_buf_cleanup(&b);
	cs_config_free(c);
	cs_error_list_cleanup(&errs);
	return code;
}

static int
reference(void)
{
	struct cs_buf b;
	int code = 0;

	cs_buf_init(&b, OUTPUT_MAX);
	if (cs_config_reference(&b) != CS_OK) {
		fprintf(stderr, "clmsync: out of memory\n");
		code = 1;
	} else {
		fputs(b.data, stdout);
	}
	cs_buf_cleanup(&b);
	return code;
}

int
cmd_config(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	                  strcmp(argv[1], "help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "check") == 0) {
		if (strcmp(argv[2], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		return check(argv[2]);
	}
	if (argc == 2 && strcmp(argv[1], "reference") == 0)
		return reference();
	if (argc >= 2 && strcmp(argv[1], "check") != 0 && strcmp(argv[1], "reference") != 0)
		fprintf(stderr, "clmsync config: unknown subcommand '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}

/* fuzz_import.c - libFuzzer target for `clmsync import contracts FILE.csv`: the header line and its
 * column names (built-in fields, custom.<name>, read-only ones, duplicates), --map pairs, and
 * every row's cells read as the contract fields they name (numbers, booleans, amounts and
 * currencies, dates, custom attributes of each type, counterparty names and parent contract
 * numbers looked up in the repository), checked as the API checks a create.
 *
 * The command runs whole with --dry-run, so that it checks every row and writes nothing: the
 * repository (repo_fixture.h, whose records the lookups find) is the same for every input. It is
 * opened once, from a configuration file as `clmsync import --config` opens it, and every input
 * is imported into it (cli_import_on: cmd_import without the opening and closing, which would
 * otherwise take nearly all of a run's time). The input is the file, written to the temporary
 * directory before each run; when its first line starts with "#map ", the rest of that line is
 * given as --map and the file starts after it. The command's report goes to stdout and stderr
 * (`make fuzz` closes them).
 *
 * Checked: no crash or leak; the command ends with 0 (every row good), 1 (rows refused or the
 * file unreadable) or 2 (a bad --map), never anything else. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"

#include "repo_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64u << 10)
#define MAP_LINE "#map "

static char csv_path[300], cfg_path[300];
static struct cli_repo repo;

/* The configuration the import reads: the fixture's store and custom attributes. */
static void
write_config(void)
{
	FILE *f;

	snprintf(cfg_path, sizeof(cfg_path), "%s/import.yaml", fix.dir);
	snprintf(csv_path, sizeof(csv_path), "%s/in.csv", fix.dir);
	if ((f = fopen(cfg_path, "w")) == NULL)
		fix_die("config", strerror(errno));
	fprintf(f,
	    "store: %s\n"
	    "custom_attributes:\n"
	    "  counterparty:\n"
	    "    - {name: segment, type: text}\n"
	    "  contract:\n"
	    "    - {name: region, type: text, max_length: 20}\n"
	    "    - {name: tier, type: picklist, values: [gold, silver, bronze]}\n"
	    "    - {name: discount, type: decimal}\n"
	    "    - {name: seats, type: number}\n"
	    "    - {name: review_on, type: date}\n"
	    "    - {name: sent_at, type: datetime}\n"
	    "    - {name: strategic, type: boolean}\n",
	    fix.url);
	fclose(f);
}

static void
cleanup(void)
{
	cli_repo_close(&repo);
	unlink(csv_path);
	unlink(cfg_path);
}

static void
write_file(const uint8_t *p, size_t n)
{
	int fd = open(csv_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		fix_die("csv", strerror(errno));
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k <= 0)
			fix_die("csv", strerror(errno));
		p += k;
		n -= (size_t)k;
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool started;
	char map[1024], *argv[8];
	int argc = 0, rc;
	bool mapped;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!started) {
		fix_repository();
		/* the import opens the store itself: the fixture's connections would only contend */
		clm_free(fix.clm);
		fix.clm = NULL;
		write_config();
		atexit(cleanup);   /* runs before the fixture's removal of the directory */
		if (cli_repo_open("import", cfg_path, NULL, &repo) != 0)
			fix_die("import", "cannot open the repository");
		started = true;
	}
	map[0] = '\0';
	if (size >= sizeof(MAP_LINE) - 1 && memcmp(data, MAP_LINE, sizeof(MAP_LINE) - 1) == 0) {
		const uint8_t *nl = memchr(data, '\n', size), *rest = nl ? nl + 1 : data + size;
		size_t n = (size_t)((nl ? nl : data + size) - data) - (sizeof(MAP_LINE) - 1);

		if (n >= sizeof(map) || memchr(data, '\0', n + sizeof(MAP_LINE) - 1) != NULL)
			return 0;
		memcpy(map, data + sizeof(MAP_LINE) - 1, n);
		map[n] = '\0';
		size -= (size_t)(rest - data);
		data = rest;
	}
	write_file(data, size);
	argv[argc++] = (char *)"import";
	argv[argc++] = (char *)"contracts";
	argv[argc++] = csv_path;
	argv[argc++] = (char *)"--dry-run";
	argv[argc++] = (char *)"--as";
	argv[argc++] = (char *)"fuzz";
	if (map[0] != '\0') {
		argv[argc++] = (char *)"--map";
		argv[argc++] = map;
	}
	/* before the call: the command cuts its --map argument at the commas and '=' in place */
	mapped = map[0] != '\0';
	rc = cli_import_on(argc, argv, &repo);
	if (rc != 0 && rc != 1 && rc != 2) {
		fprintf(stderr, "fuzz_import: the command ended with %d\n", rc);
		abort();
	}
	if (rc == 2 && !mapped)
		abort();   /* only a bad --map is a usage error here */
	return 0;
}

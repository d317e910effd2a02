/* store_fault_hook.c - test build only: lets a soak arm the store's fault simulation in a running clmsync.
 *
 * Linked with src/cli/main.c into `clmsync-chaos`, a test binary that is clmsync plus this file
 * (the shipped `clmsync` does not contain it). When CLMSYNC_STORE_FAULT_FIFO names a FIFO, a
 * thread reads lines from it; each line is a number N and calls store_fault_inject(N): the Nth
 * store statement executed from then on, in any connection of the process, fails as an I/O error
 * (store.h); a line "delay N" makes the Nth statement hold its thread a while instead (after it
 * ran), for a reproduction that needs a concurrent change to land in that window. That is the same simulation the unit tests use (test_store_kv, test_repo_batch), so
 * the faults the soak injects are the ones the store promises to survive, reached through the
 * running server's own paths: the repository's writer, the sync workers, the change stream, the
 * admin listener.
 *
 * The thread blocks in open() until a writer opens the FIFO and in read() until a line comes; at
 * end of file (the writer closed) it opens the FIFO again. A writer that opens the FIFO without
 * O_NONBLOCK blocks until this reader is there; the soak opens it non-blocking, so that a killed
 * server (no reader) is an error (ENXIO) at once and nothing is left in the pipe for the next
 * process to read at its start.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIFO_PATH_MAX 4096           /* bytes in CLMSYNC_STORE_FAULT_FIFO, NUL included */
#define LINE_MAX_BYTES 32            /* bytes in one line of the FIFO, newline included */

static char fifo_path[FIFO_PATH_MAX];

#define DELAY_MS 600                 /* how long a delayed statement holds its thread */

/* Said when a delayed statement's thread begins to sleep: a reproduction waits for this line in
 * the server's log before it makes the change that must land in the window. */
static void
announce(void)
{
	char name[16] = "", msg[80];
	int n;

	pthread_getname_np(pthread_self(), name, sizeof(name));
	n = snprintf(msg, sizeof(msg), "clmsync-chaos: store statement delayed (thread %s)\n", name);
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
		return;
}

/* Arms the fault simulation for one line: a decimal N from 1 to 1,000,000, the Nth statement
 * failing as an I/O error, or "delay N", the Nth statement holding its thread DELAY_MS after it
 * ran (store.h, STORE_FAULT_DELAY); 0 disarms; anything else is ignored with a message on
 * stderr. */
static void
arm(const char *line)
{
	const char *p = line;
	bool delay = strncmp(p, "delay ", 6) == 0;
	char *end;
	long n;

	if (delay)
		p += 6;
	errno = 0;
	n = strtol(p, &end, 10);
	if (errno != 0 || end == p || *end != '\0' || n < 0 || n > 1000000) {
		fprintf(stderr, "clmsync-chaos: ignored store fault line '%.20s'\n", line);
		return;
	}
	if (delay) {
		store_fault_delay_set(DELAY_MS, announce);
		store_fault_inject_kind(n, STORE_FAULT_DELAY);
	} else
		store_fault_inject(n);
}

/* The reader thread: never returns; ends with the process. */
static void *
reader(void *arg)
{
	char line[LINE_MAX_BYTES];
	size_t len = 0;

	(void)arg;
	for (;;) {
		int fd = open(fifo_path, O_RDONLY | O_CLOEXEC);
		char c;
		ssize_t r;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "clmsync-chaos: cannot open %s: %s; store faults off\n", fifo_path, strerror(errno));
			return NULL;
		}
		/* one byte at a time: lines are rare and short, and a partial read needs no buffer logic */
		while ((r = read(fd, &c, 1)) != 0) {
			if (r < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (c == '\n') {
				line[len] = '\0';
				arm(line);
				len = 0;
			} else if (len + 1 < sizeof(line)) {
				line[len++] = c;
			}
		}
		close(fd);
		len = 0;
	}
}

/* sync_int.h: how long an answered write is awaited before it is retired (sent.h). The soak's
 * reproductions shorten it with CLMSYNC_SENT_KEEP_MS so that a change event of ours coming after
 * it (the stream behind) can be had in seconds. */
extern int64_t sync_sent_keep_ms;

__attribute__((constructor)) static void
sent_keep(void)
{
	const char *v = getenv("CLMSYNC_SENT_KEEP_MS");
	char *end;
	long long ms;

	if (v == NULL || v[0] == '\0')
		return;
	errno = 0;
	ms = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || ms < 100 || ms > 86400000) {
		fprintf(stderr, "clmsync-chaos: CLMSYNC_SENT_KEEP_MS must be 100 to 86400000; left at %lld\n",
		        (long long)sync_sent_keep_ms);
		return;
	}
	sync_sent_keep_ms = ms;
}

/* Runs before main: starts the reader when CLMSYNC_STORE_FAULT_FIFO is set. A failure to start
 * it is reported and leaves the server without store faults, which the soak notices (its armed
 * faults never show in the log). */
__attribute__((constructor)) static void
start(void)
{
	const char *p = getenv("CLMSYNC_STORE_FAULT_FIFO");
	pthread_attr_t at;
	pthread_t t;

	if (p == NULL || p[0] == '\0')
		return;
	if (strlen(p) >= sizeof(fifo_path)) {
		fprintf(stderr, "clmsync-chaos: CLMSYNC_STORE_FAULT_FIFO is too long; store faults off\n");
		return;
	}
	memcpy(fifo_path, p, strlen(p) + 1);
	if (pthread_attr_init(&at) != 0)
		return;
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, reader, NULL) != 0)
		fprintf(stderr, "clmsync-chaos: cannot start the store fault reader; store faults off\n");
	pthread_attr_destroy(&at);
}

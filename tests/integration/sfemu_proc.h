/* sfemu_proc.h - runs sfemu as a child process on loopback for integration tests (static helpers, one include per test). */
#ifndef SFEMU_PROC_H
#define SFEMU_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/client.h"
#include "util/json.h"
#include "util/timeutil.h"

struct emu_proc {
	pid_t pid;
	char url[128];
	char log[256];
};

static const char *emu_bin;

/* Starts `sfemu --listen 127.0.0.1:0 args...` with its stderr in a log file; waits up to 10 s
 * for the URL on its first stdout line. Returns 0 or -1. */
static int
emu_start(struct emu_proc *p, const char *const *args)
{
	int fd[2];
	int64_t deadline = cs_time_mono_ms() + 10000;
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->log, sizeof(p->log), "/tmp/sfemu-test.%d.%lld.log", (int)getpid(), (long long)cs_time_mono_ms());
	if (pipe(fd) != 0)
		return -1;
	if ((p->pid = fork()) < 0)
		return -1;
	if (p->pid == 0) {
		const char *argv[32];
		size_t a = 0;
		int lf = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		argv[a++] = emu_bin;
		argv[a++] = "--listen";
		argv[a++] = "127.0.0.1:0";
		argv[a++] = "--log-level";
		argv[a++] = "warn";
		for (size_t i = 0; args && args[i] && a < 30; i++)
			argv[a++] = args[i];
		argv[a] = NULL;
		dup2(fd[1], 1);
		if (lf >= 0)
			dup2(lf, 2);
		close(fd[0]);
		close(fd[1]);
		execv(emu_bin, (char *const *)argv);
		_exit(127);
	}
	close(fd[1]);
	while (n < sizeof(p->url) - 1) {
		struct pollfd pf = { fd[0], POLLIN, 0 };
		int64_t left = deadline - cs_time_mono_ms();
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		if ((r = read(fd[0], p->url + n, 1)) <= 0)
			break;
		if (p->url[n] == '\n')
			break;
		n++;
	}
	p->url[n] = '\0';
	/* keep the pipe open in the parent? no: sfemu prints one line; closing is harmless */
	close(fd[0]);
	if (strncmp(p->url, "http://", 7) != 0) {
		fprintf(stderr, "sfemu did not start (log %s)\n", p->log);
		return -1;
	}
	return 0;
}

/* Stops the child by its pid: SIGTERM, then SIGKILL after 5 s. */
static void
emu_stop(struct emu_proc *p)
{
	int64_t deadline = cs_time_mono_ms() + 5000;
	int st;

	if (p->pid <= 0)
		return;
	kill(p->pid, SIGTERM);
	while (waitpid(p->pid, &st, WNOHANG) == 0) {
		if (cs_time_mono_ms() > deadline) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			break;
		}
		usleep(10000);
	}
	p->pid = 0;
	unlink(p->log);
}

/* Sends a control request to sfemu; returns the HTTP status and *out the parsed body (may be NULL). */
static long
emu_call(struct emu_proc *p, const char *method, const char *path, const char *body, json_t **out)
{
	struct http_client *c;
	struct http_request rq = { 0 };
	struct http_response rs;
	struct cs_error e;
	char url[512];
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	long st = -1;

	if (out)
		*out = NULL;
	if (http_client_new(&c) != CS_OK)
		return -1;
	http_response_init(&rs);
	snprintf(url, sizeof(url), "%s%s", p->url, path);
	rq.method = method;
	rq.url = url;
	rq.headers = hdrs;
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	if (http_client_do(c, &rq, &rs, &e) == CS_OK) {
		st = rs.status;
		if (out && rs.body.len)
			cs_json_parse(rs.body.data, rs.body.len, out, &e);
	}
	http_response_cleanup(&rs);
	http_client_free(c);
	return st;
}

/* A counter from GET /__emu/counters (0 when absent). */
static __attribute__((unused)) long long
emu_counter(struct emu_proc *p, const char *name)
{
	json_t *v = NULL;
	long long n = 0;

	if (emu_call(p, "GET", "/__emu/counters", NULL, &v) == 200) {
		json_t *x = json_object_get(v, name);
		if (x == NULL)
			x = json_object_get(json_object_get(v, "requests"), name);
		if (json_is_integer(x))
			n = json_integer_value(x);
	}
	json_decref(v);
	return n;
}

#endif

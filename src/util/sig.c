/* sig.c - the stop signals of a server process, taken by one thread with sigwait. */
#include "util/sig.h"

#include <pthread.h>
#include <signal.h>

static void
stop_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
}

void
cs_sig_block(void)
{
	sigset_t set;

	stop_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int
cs_sig_wait(void)
{
	sigset_t set;
	int sig = 0;

	stop_set(&set);
	while (sigwait(&set, &sig) != 0)
		;
	return sig;
}

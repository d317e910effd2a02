/* sig.h - how a server process waits for the signal that stops it (SIGINT, SIGTERM). */
#ifndef CS_SIG_H
#define CS_SIG_H

/* Blocks SIGINT and SIGTERM in the calling thread and ignores SIGPIPE. Threads created
 * afterwards inherit the mask, so that the stop signals reach only the thread that waits for
 * them in cs_sig_wait: a handler run on any other thread could not wake a main thread blocked
 * in pause(). Call first thing in main (or the command), before any thread starts. */
void cs_sig_block(void);

/* Waits until SIGINT or SIGTERM arrives (one that came before the call is taken at once);
 * returns its number. Only the thread that called cs_sig_block. */
int cs_sig_wait(void);

#endif

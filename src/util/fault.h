/* fault.h - the count-to-N trigger behind the test builds' fault simulations (store.h, client.h): armed with N, the Nth call counted from then on fails, once. */
#ifndef CS_UTIL_FAULT_H
#define CS_UTIL_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>

/* One simulation's state; a zeroed one (static storage) is disarmed. Thread-safe. */
struct cs_fault {
	atomic_long at;              /* calls left until the armed one; <= 0 disarmed */
	atomic_long counted;         /* calls counted since the last arming */
	atomic_int kind;             /* the caller's kind of failure for the armed call */
};

/* Arms f: the nth call counted from now fails, as kind; nth <= 0 disarms. Resets the count. */
void cs_fault_arm(struct cs_fault *f, long nth, int kind);
/* Calls counted since f was last armed, up to and including the one that failed. */
long cs_fault_counted(struct cs_fault *f);
/* Counts one call; true exactly once, for the armed one, with its kind in *kind. Costs one
 * relaxed load when disarmed. */
bool cs_fault_fire(struct cs_fault *f, int *kind);

#endif

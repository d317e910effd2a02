/* fault.c - the count-to-N trigger of the fault simulations (fault.h). */
#include "util/fault.h"

void
cs_fault_arm(struct cs_fault *f, long nth, int kind)
{
	atomic_store(&f->kind, kind);
	atomic_store(&f->counted, 0);
	atomic_store(&f->at, nth > 0 ? nth : 0);
}

long
cs_fault_counted(struct cs_fault *f)
{
	return atomic_load(&f->counted);
}

bool
cs_fault_fire(struct cs_fault *f, int *kind)
{
	long was;

	if (atomic_load_explicit(&f->at, memory_order_relaxed) <= 0)
		return false;
	/* several threads may race past zero: only the one that takes it from 1 fires */
	was = atomic_fetch_sub(&f->at, 1);
	if (was <= 0)
		return false;
	atomic_fetch_add(&f->counted, 1);
	if (was != 1)
		return false;
	*kind = atomic_load(&f->kind);
	return true;
}

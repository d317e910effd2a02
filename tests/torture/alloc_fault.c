/* alloc_fault.c - test build only: a replacement malloc for the torture binary that fails the Nth
 * allocation of a window and records outstanding blocks; see alloc_fault.h. */
#include "alloc_fault.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The allocator underneath, found with dlsym(RTLD_NEXT): glibc's, or the sanitizer runtime's when
 * it is loaded (so that AddressSanitizer still sees every block). dlsym itself may allocate
 * before they are known: those few calls are served from boot[], which is never freed. */
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static _Alignas(max_align_t) char boot[1 << 16];
static size_t boot_used;
static atomic_flag resolving = ATOMIC_FLAG_INIT;

__attribute__((unused)) static void
resolve(void)
{
	if (real_free != NULL || atomic_flag_test_and_set(&resolving))
		return;
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	if (real_malloc == NULL || real_calloc == NULL || real_realloc == NULL || real_free == NULL)
		abort();
}

__attribute__((unused)) static bool
in_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

__attribute__((unused)) static void *
boot_alloc(size_t n)
{
	size_t a = _Alignof(max_align_t);
	size_t at = (boot_used + a - 1) / a * a;
	void *p;

	if (n > sizeof(boot) - at)
		return NULL;
	p = boot + at;
	boot_used = at + n;
	return p;
}

/* ---- the fault window ---- */

static atomic_bool window;
static atomic_long fail_at;          /* the counted allocation that fails; 0: none */
static atomic_long counted;
static atomic_bool fired;
static atomic_int paused;
static atomic_int in_lib;
static atomic_bool fired_in_lib;

void
alloc_fault_lib_enter(void)
{
	atomic_fetch_add(&in_lib, 1);
}

void
alloc_fault_lib_leave(void)
{
	atomic_fetch_sub(&in_lib, 1);
}

bool
alloc_fault_fired_in_lib(void)
{
	return atomic_load(&fired_in_lib);
}

void
alloc_fault_pause(void)
{
	atomic_fetch_add(&paused, 1);
}

void
alloc_fault_resume(void)
{
	atomic_fetch_sub(&paused, 1);
}

void
alloc_fault_arm(long nth)
{
	atomic_store(&counted, 0);
	atomic_store(&fired, false);
	atomic_store(&fired_in_lib, false);
	atomic_store(&fail_at, nth > 0 ? nth : 0);
	atomic_store(&window, true);
}

long
alloc_fault_disarm(void)
{
	atomic_store(&window, false);
	atomic_store(&fail_at, 0);
	return atomic_load(&counted);
}

bool
alloc_fault_fired(void)
{
	return atomic_load(&fired);
}

/* Counts one allocation in the window; true when it is the one to fail. */
__attribute__((unused)) static bool
fail_now(void)
{
	long n, at;

	if (!atomic_load_explicit(&window, memory_order_relaxed) || atomic_load(&paused) > 0)
		return false;
	n = atomic_fetch_add(&counted, 1) + 1;
	at = atomic_load(&fail_at);
	if (at > 0 && n == at) {
		atomic_store(&fired, true);
		atomic_store(&fired_in_lib, atomic_load(&in_lib) > 0);
		return true;
	}
	return false;
}

/* ---- the record of outstanding blocks: open addressing on the block's address ---- */

#define SLOTS (1u << 18)
#define TOMB ((uintptr_t)1)
struct slot {
	uintptr_t p;                     /* 0 empty, TOMB deleted */
	size_t size;
};
static struct slot table[SLOTS];
static long live, used;              /* under mu: live blocks; slots not empty */
static bool overflow;
static atomic_bool tracking;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static size_t
slot_of(uintptr_t p)
{
	return (size_t)(((uint64_t)p >> 4) * 0x9E3779B97F4A7C15ull >> 46) & (SLOTS - 1);
}

static void
add_locked(void *p, size_t size)
{
	size_t i;

	if (used >= (long)(SLOTS / 4 * 3)) {
		overflow = true;
		return;
	}
	for (i = slot_of((uintptr_t)p); table[i].p != 0 && table[i].p != TOMB; i = (i + 1) & (SLOTS - 1))
		;
	if (table[i].p == 0)
		used++;
	table[i].p = (uintptr_t)p;
	table[i].size = size;
	live++;
}

static void
del_locked(void *p)
{
	for (size_t i = slot_of((uintptr_t)p); table[i].p != 0; i = (i + 1) & (SLOTS - 1)) {
		if (table[i].p == (uintptr_t)p) {
			table[i].p = TOMB;
			live--;
			return;
		}
	}
}

__attribute__((unused)) static void
track_add(void *p, size_t size)
{
	if (p == NULL || !atomic_load_explicit(&tracking, memory_order_relaxed))
		return;
	pthread_mutex_lock(&mu);
	add_locked(p, size);
	pthread_mutex_unlock(&mu);
}

__attribute__((unused)) static void
track_del(void *p)
{
	if (p == NULL || !atomic_load_explicit(&tracking, memory_order_relaxed))
		return;
	pthread_mutex_lock(&mu);
	del_locked(p);
	pthread_mutex_unlock(&mu);
}

void
alloc_track_start(void)
{
	pthread_mutex_lock(&mu);
	/* a child starts with its parent's table, which never recorded: no need to touch 4 MB */
	if (used > 0)
		memset(table, 0, sizeof(table));
	live = used = 0;
	overflow = false;
	pthread_mutex_unlock(&mu);
	atomic_store(&tracking, true);
}

long
alloc_track_outstanding(void)
{
	long n;

	pthread_mutex_lock(&mu);
	n = overflow ? -1 : live;
	pthread_mutex_unlock(&mu);
	return n;
}

void
alloc_track_dump(int max)
{
	char line[64];

	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < SLOTS && max > 0; i++) {
		if (table[i].p > TOMB) {
			int n = 0;
			size_t v = table[i].size;
			char digits[24];
			int d = 0;

			do {
				digits[d++] = (char)('0' + v % 10);
				v /= 10;
			} while (v > 0 && d < (int)sizeof(digits));
			memcpy(line, "  leaked block of ", 18);
			n = 18;
			while (d > 0)
				line[n++] = digits[--d];
			memcpy(line + n, " bytes\n", 7);
			n += 7;
			/* write(2), not stdio: stdio may allocate, and this runs with the table locked */
			(void)!write(2, line, (size_t)n);
			max--;
		}
	}
	pthread_mutex_unlock(&mu);
}

/* ---- the replacements ----
 * Not under AddressSanitizer: its runtime owns malloc there (and dlsym(RTLD_NEXT) from a
 * replacement crashes at start-up); LeakSanitizer then counts leaks and the alloc kind is not
 * walked (torture.c). */
#ifndef __SANITIZE_ADDRESS__

void *
malloc(size_t n)
{
	void *p;

	resolve();
	if (real_malloc == NULL)
		return boot_alloc(n);
	if (fail_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = real_malloc(n);
	track_add(p, n);
	return p;
}

void *
calloc(size_t n, size_t m)
{
	void *p;

	resolve();
	if (real_calloc == NULL) {
		if (m != 0 && n > SIZE_MAX / m)
			return NULL;
		return boot_alloc(n * m);    /* static storage: already zero */
	}
	if (fail_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = real_calloc(n, m);
	track_add(p, n * m);
	return p;
}

void *
realloc(void *old, size_t n)
{
	void *p;

	resolve();
	if (in_boot(old)) {
		/* a block from before the allocator was found: moved out, never freed */
		if ((p = malloc(n)) != NULL)
			memcpy(p, old, n < (size_t)(boot + sizeof(boot) - (char *)old) ? n : (size_t)(boot + sizeof(boot) - (char *)old));
		return p;
	}
	if (real_realloc == NULL)
		return NULL;
	if (n == 0) {
		/* glibc frees old and returns NULL: not an allocation */
		track_del(old);
		return real_realloc(old, n);
	}
	if (fail_now()) {
		errno = ENOMEM;
		return NULL;                 /* old stays valid, as after a real failure */
	}
	if (!atomic_load_explicit(&tracking, memory_order_relaxed))
		return real_realloc(old, n);
	/* under the lock: once realloc has freed old, another thread may be given its address and
	 * record it, which must come after old is forgotten */
	pthread_mutex_lock(&mu);
	p = real_realloc(old, n);
	if (p != NULL) {
		if (old != NULL)
			del_locked(old);
		add_locked(p, n);
	}
	pthread_mutex_unlock(&mu);
	return p;
}

void *
reallocarray(void *old, size_t n, size_t m)
{
	if (m != 0 && n > SIZE_MAX / m) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(old, n * m);
}

void
free(void *p)
{
	if (p == NULL || in_boot(p))
		return;
	resolve();
	track_del(p);
	real_free(p);
}
#endif

/* alloc_fault.h - test build only: the torture binary's allocator, which can fail the Nth
 * allocation and count what is left allocated (curl's memdebug, SQLite's malloc fault simulation).
 *
 * alloc_fault.c defines malloc, calloc, realloc, reallocarray and free for the whole process
 * (glibc lets a program replace them: its own strdup, getline, ... and every library's calls
 * reach these), each passing the call on to the allocator underneath (glibc's, or the
 * sanitizer's in a CS_SANITIZE build). Nothing here is linked into clmsync or sfemu. */
#ifndef CS_TORTURE_ALLOC_FAULT_H
#define CS_TORTURE_ALLOC_FAULT_H

#include <stdbool.h>
#include <stddef.h>

/* Opens the window: from now on every malloc, calloc, realloc to a non-zero size and
 * reallocarray, in any thread, is counted, and the nth of them (1-based) returns NULL with
 * errno ENOMEM, once; nth 0 counts without failing. Not thread-safe with itself. */
void alloc_fault_arm(long nth);
/* Closes the window; returns how many allocations it counted (up to the failed one included,
 * all of them when none failed). */
long alloc_fault_disarm(void);
/* Stops counting (and failing) allocations until alloc_fault_resume(), in every thread: for a
 * library call that does not survive a failed allocation (see torture.c). Pairs nest. */
void alloc_fault_pause(void);
void alloc_fault_resume(void);
/* Marks the calls into a library whose own handling of a failed allocation is in question
 * (alloc_fault_lib_enter/leave pairs, in any thread); alloc_fault_fired_in_lib() then says
 * whether the allocation that failed was made inside one. */
void alloc_fault_lib_enter(void);
void alloc_fault_lib_leave(void);
bool alloc_fault_fired_in_lib(void);
/* True when the armed allocation has failed since the last alloc_fault_arm(). */
bool alloc_fault_fired(void);

/* Starts recording every block this process allocates from now on (in any thread) and
 * forgetting those freed; blocks allocated before stay unrecorded. For a forked child that runs
 * one trial: its parent never records. */
void alloc_track_start(void);
/* The blocks recorded and not freed since alloc_track_start(), or -1 when there were too many
 * to record (the table is full). */
long alloc_track_outstanding(void);
/* Writes up to max of the outstanding blocks' sizes to stderr (diagnostics of a leak). */
void alloc_track_dump(int max);

#endif

/* vfs_fault.h - test build only: a SQLite VFS that wraps the default one and can make the Nth
 * write short or the Nth sync fail, for the torture run (SQLite's own test VFSes are the model). */
#ifndef CS_TORTURE_VFS_FAULT_H
#define CS_TORTURE_VFS_FAULT_H

enum vfs_fault { VFS_FAULT_SHORT_WRITE, VFS_FAULT_SYNC };

/* Registers the shim as SQLite's default VFS, wrapping the default before it; every database the
 * process opens afterwards goes through it. Returns 0, or -1 when SQLite refused. Call once, at
 * startup, before any database is open. */
int vfs_fault_install(void);
/* From now on the nth xWrite (VFS_FAULT_SHORT_WRITE: it writes only the first half of its
 * buffer, then fails with SQLITE_IOERR_WRITE, as a full disk or a dying device does) or the nth
 * xSync (VFS_FAULT_SYNC: SQLITE_IOERR_FSYNC, nothing synced) on any file of any database fails,
 * once. 0 counts without failing. Thread-safe. */
void vfs_fault_arm(long nth, enum vfs_fault kind);
/* Stops counting; returns how many calls of the armed kind were counted (up to the failed one). */
long vfs_fault_disarm(void);

#endif

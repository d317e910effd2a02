/* vfs_fault.c - test build only: the fault-injecting SQLite VFS of the torture run; see vfs_fault.h. */
#include "vfs_fault.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

static sqlite3_vfs *real;            /* the default VFS this one wraps */
static sqlite3_vfs shim;
static atomic_bool armed;
static atomic_int kind;
static atomic_long fail_at, counted;

/* A file of the shim: the real file's structure follows it in the same block. */
struct ffile {
	sqlite3_file base;
	sqlite3_file *real;
};

void
vfs_fault_arm(long nth, enum vfs_fault k)
{
	atomic_store(&kind, (int)k);
	atomic_store(&counted, 0);
	atomic_store(&fail_at, nth > 0 ? nth : 0);
	atomic_store(&armed, true);
}

long
vfs_fault_disarm(void)
{
	atomic_store(&armed, false);
	atomic_store(&fail_at, 0);
	return atomic_load(&counted);
}

/* Counts one call of kind k; true when it is the one to fail. Counting stops once it has. */
static bool
fail_now(enum vfs_fault k)
{
	long n;

	if (!atomic_load(&armed) || atomic_load(&kind) != (int)k)
		return false;
	n = atomic_fetch_add(&counted, 1) + 1;
	if (atomic_load(&fail_at) > 0 && n == atomic_load(&fail_at)) {
		atomic_store(&armed, false);
		return true;
	}
	return false;
}

static sqlite3_file *
R(sqlite3_file *f)
{
	return ((struct ffile *)f)->real;
}

static int
x_close(sqlite3_file *f)
{
	return R(f)->pMethods->xClose(R(f));
}

static int
x_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return R(f)->pMethods->xRead(R(f), p, n, off);
}

static int
x_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	if (fail_now(VFS_FAULT_SHORT_WRITE)) {
		/* half of it reaches the file: what "never a corrupt store" must survive */
		if (n / 2 > 0)
			(void)R(f)->pMethods->xWrite(R(f), p, n / 2, off);
		return SQLITE_IOERR_WRITE;
	}
	return R(f)->pMethods->xWrite(R(f), p, n, off);
}

static int
x_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return R(f)->pMethods->xTruncate(R(f), size);
}

static int
x_sync(sqlite3_file *f, int flags)
{
	if (fail_now(VFS_FAULT_SYNC))
		return SQLITE_IOERR_FSYNC;
	return R(f)->pMethods->xSync(R(f), flags);
}

static int
x_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return R(f)->pMethods->xFileSize(R(f), size);
}

static int
x_lock(sqlite3_file *f, int l)
{
	return R(f)->pMethods->xLock(R(f), l);
}

static int
x_unlock(sqlite3_file *f, int l)
{
	return R(f)->pMethods->xUnlock(R(f), l);
}

static int
x_reserved(sqlite3_file *f, int *out)
{
	return R(f)->pMethods->xCheckReservedLock(R(f), out);
}

static int
x_control(sqlite3_file *f, int op, void *arg)
{
	return R(f)->pMethods->xFileControl(R(f), op, arg);
}

static int
x_sector(sqlite3_file *f)
{
	return R(f)->pMethods->xSectorSize(R(f));
}

static int
x_dev(sqlite3_file *f)
{
	return R(f)->pMethods->xDeviceCharacteristics(R(f));
}

static int
x_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return R(f)->pMethods->xShmMap(R(f), pg, sz, extend, pp);
}

static int
x_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return R(f)->pMethods->xShmLock(R(f), off, n, flags);
}

static void
x_shm_barrier(sqlite3_file *f)
{
	R(f)->pMethods->xShmBarrier(R(f));
}

static int
x_shm_unmap(sqlite3_file *f, int del)
{
	return R(f)->pMethods->xShmUnmap(R(f), del);
}

static int
x_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	return R(f)->pMethods->xFetch(R(f), off, n, pp);
}

static int
x_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return R(f)->pMethods->xUnfetch(R(f), off, p);
}

/* Version 1 methods for files whose real methods are version 1 or 2 (journals), version 3 for
 * the rest: SQLite looks at iVersion before calling the shared-memory and fetch methods. */
static const sqlite3_io_methods io_v1 = {
	1, x_close, x_read, x_write, x_truncate, x_sync, x_size, x_lock, x_unlock, x_reserved, x_control,
	x_sector, x_dev, NULL, NULL, NULL, NULL, NULL, NULL,
};
static const sqlite3_io_methods io_v3 = {
	3, x_close, x_read, x_write, x_truncate, x_sync, x_size, x_lock, x_unlock, x_reserved, x_control,
	x_sector, x_dev, x_shm_map, x_shm_lock, x_shm_barrier, x_shm_unmap, x_fetch, x_unfetch,
};

static int
v_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
	struct ffile *ff = (struct ffile *)f;
	int rc;

	ff->real = (sqlite3_file *)&ff[1];
	memset(ff->real, 0, (size_t)real->szOsFile);
	rc = real->xOpen(real, name, ff->real, flags, out);
	if (ff->real->pMethods == NULL)
		f->pMethods = NULL;
	else
		f->pMethods = ff->real->pMethods->iVersion >= 3 ? &io_v3 : &io_v1;
	return rc;
}

static int
v_delete(sqlite3_vfs *v, const char *name, int sync)
{
	return real->xDelete(real, name, sync);
}

static int
v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	return real->xAccess(real, name, flags, out);
}

static int
v_full(sqlite3_vfs *v, const char *name, int n, char *out)
{
	return real->xFullPathname(real, name, n, out);
}

static void *
v_dlopen(sqlite3_vfs *v, const char *name)
{
	return real->xDlOpen(real, name);
}

static void
v_dlerror(sqlite3_vfs *v, int n, char *out)
{
	real->xDlError(real, n, out);
}

static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	return real->xDlSym(real, h, sym);
}

static void
v_dlclose(sqlite3_vfs *v, void *h)
{
	real->xDlClose(real, h);
}

static int
v_random(sqlite3_vfs *v, int n, char *out)
{
	return real->xRandomness(real, n, out);
}

static int
v_sleep(sqlite3_vfs *v, int us)
{
	return real->xSleep(real, us);
}

static int
v_time(sqlite3_vfs *v, double *out)
{
	return real->xCurrentTime(real, out);
}

static int
v_lasterr(sqlite3_vfs *v, int n, char *out)
{
	return real->xGetLastError(real, n, out);
}

static int
v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	return real->xCurrentTimeInt64(real, out);
}

int
vfs_fault_install(void)
{
	if (sqlite3_initialize() != SQLITE_OK || (real = sqlite3_vfs_find(NULL)) == NULL || real->iVersion < 2)
		return -1;
	memset(&shim, 0, sizeof(shim));
	shim.iVersion = 2;
	shim.szOsFile = (int)sizeof(struct ffile) + real->szOsFile;
	shim.mxPathname = real->mxPathname;
	shim.zName = "torture";
	shim.xOpen = v_open;
	shim.xDelete = v_delete;
	shim.xAccess = v_access;
	shim.xFullPathname = v_full;
	shim.xDlOpen = v_dlopen;
	shim.xDlError = v_dlerror;
	shim.xDlSym = v_dlsym;
	shim.xDlClose = v_dlclose;
	shim.xRandomness = v_random;
	shim.xSleep = v_sleep;
	shim.xCurrentTime = v_time;
	shim.xGetLastError = v_lasterr;
	shim.xCurrentTimeInt64 = v_time64;
	return sqlite3_vfs_register(&shim, 1) == SQLITE_OK ? 0 : -1;
}

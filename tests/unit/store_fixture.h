/* store_fixture.h - a fresh SQLite store per cmocka test, removed afterwards; for the unit tests
 * of modules built on the store. Define STORE_FIXTURE_NAME (the temporary directory's prefix)
 * before including it; it defines static setup() and teardown() for cmocka_unit_test_setup_teardown. */
#ifndef CS_TEST_STORE_FIXTURE_H
#define CS_TEST_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/store.h"

/* A fresh directory and database per test, removed afterwards. */
struct fx {
	char dir[64];
	char path[128];
	char url[256];
	struct store *s;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cs_error e = { 0 };

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/" STORE_FIXTURE_NAME ".XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/clm.db", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
	if (store_open(f->url, &f->s, &e) != CS_OK) {
		fprintf(stderr, "store_open: %s\n", e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[200];

	store_fault_inject(0);
	store_close(f->s);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

#endif

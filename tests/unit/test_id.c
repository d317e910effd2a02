/* test_id.c - record ids: shape, order across many ids and threads, monotonic within a ms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/id.h"
#include "util/timeutil.h"

#define MANY 100000
#define THREADS 4
#define PER_THREAD 20000

static void
shape(void **state)
{
	char id[CS_ID_MAX], id2[CS_ID_MAX];
	int64_t before = cs_time_now_ms(), t;

	assert_int_equal(cs_id_new(CS_ID_CONTRACT, id), CS_OK);
	assert_int_equal(strlen(id), 3 + CS_ID_ULID_LEN);
	assert_memory_equal(id, "ct_", 3);
	assert_true(cs_id_valid("ct", id, strlen(id)));
	assert_true(cs_id_valid("ct_", id, strlen(id)));
	assert_true(cs_id_valid(NULL, id, strlen(id)));
	assert_false(cs_id_valid("cp", id, strlen(id)));
	assert_false(cs_id_valid("c", id, strlen(id)));
	t = cs_id_time_ms(id, strlen(id));
	assert_in_range(t, before, cs_time_now_ms());
	/* "ct" and "ct_" are the same prefix */
	assert_int_equal(cs_id_new("ct_", id2), CS_OK);
	assert_memory_equal(id2, "ct_", 3);
	assert_int_not_equal(id2[3], '_');
	/* every prefix in use */
	{
		static const char *const prefixes[] = {
			CS_ID_COUNTERPARTY, CS_ID_CONTRACT, CS_ID_AMENDMENT, CS_ID_OBLIGATION,
			CS_ID_APPROVAL, CS_ID_SIGNATURE, CS_ID_DOCUMENT, "abcdefgh",
		};

		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			assert_int_equal(cs_id_new(prefixes[i], id), CS_OK);
			assert_true(cs_id_valid(prefixes[i], id, strlen(id)));
			assert_true(strlen(id) < CS_ID_MAX);
		}
	}
}

static void
bad_prefixes(void **state)
{
	static const char *const bad[] = { "", "_", "CT", "c1", "abcdefghi", "ct__", "c-t", "ct " };
	char id[CS_ID_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("prefix \"%s\"\n", bad[i]);
		memset(id, 'x', sizeof(id));
		assert_int_equal(cs_id_new(bad[i], id), CS_EINVAL);
		assert_string_equal(id, "");
	}
	assert_int_equal(cs_id_new(NULL, id), CS_EINVAL);
}

static void
validation(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WS", true },
		{ "ct_7ZZZZZZZZZZZZZZZZZZZZZZZZZ", true },    /* the largest ULID */
		{ "ct_00000000000000000000000000", true },
		{ "ct_8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false },   /* over 128 bits */
		{ "ct_01J9Z3Q4V6X8N2M5K7H1D0F3W", false },    /* 25 characters */
		{ "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WSS", false },  /* 27 */
		{ "ct_01j9z3q4v6x8n2m5k7h1d0f3ws", false },   /* lower case */
		{ "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WI", false },   /* I is not Crockford */
		{ "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WL", false },
		{ "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WO", false },
		{ "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WU", false },
		{ "ct-01J9Z3Q4V6X8N2M5K7H1D0F3WS", false },
		{ "CT_01J9Z3Q4V6X8N2M5K7H1D0F3WS", false },
		{ "_01J9Z3Q4V6X8N2M5K7H1D0F3WS", false },
		{ "ct01J9Z3Q4V6X8N2M5K7H1D0F3WSX", false },
		{ "", false },
		{ "ct_", false },
		{ "'; DROP TABLE x; --_01J9Z3Q4V6X8N2M5K7H1D0F3W", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("valid? \"%s\"\n", cases[i].s);
		assert_int_equal(cs_id_valid(NULL, cases[i].s, strlen(cases[i].s)), cases[i].ok);
		assert_int_equal(cs_id_time_ms(cases[i].s, strlen(cases[i].s)) >= 0, cases[i].ok);
	}
	/* len bounds the read: a valid id followed by garbage is valid with its own length */
	assert_true(cs_id_valid("ct", "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WS!!", 29));
	assert_false(cs_id_valid("ct", "ct_01J9Z3Q4V6X8N2M5K7H1D0F3WS!!", 31));
	assert_false(cs_id_valid("ct", NULL, 0));
	/* an embedded NUL is not a character of an id */
	assert_false(cs_id_valid("ct", "ct_01J9Z3Q4V6X8N2M5K7H1D0F3W\0", 29));
	assert_int_equal(cs_id_time_ms("ct_00000000000000000000000000", 29), 0);
	assert_int_equal(cs_id_time_ms("ct_7ZZZZZZZZZZZZZZZZZZZZZZZZZ", 29), (INT64_C(1) << 48) - 1);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Many ids in a row: strictly increasing as bytes, so the order of creation survives a sort;
 * most fall in the same millisecond as their neighbour, which exercises the counter. */
static void
sortable(void **state)
{
	char (*ids)[CS_ID_MAX] = malloc(sizeof(*ids) * MANY);
	size_t same_ms = 0;

	assert_non_null(ids);
	for (size_t i = 0; i < MANY; i++)
		assert_int_equal(cs_id_new("ob", ids[i]), CS_OK);
	for (size_t i = 1; i < MANY; i++) {
		assert_true(strcmp(ids[i - 1], ids[i]) < 0);
		if (cs_id_time_ms(ids[i - 1], 29) == cs_id_time_ms(ids[i], 29))
			same_ms++;
	}
	print_message("%zu of %d consecutive ids shared a millisecond\n", same_ms, MANY - 1);
	assert_true(same_ms > 0);
	free(ids);
}

/* Within one millisecond the random part counts up by one. */
static void
monotonic_within_ms(void **state)
{
	char a[CS_ID_MAX], b[CS_ID_MAX];
	int tries = 0;

	do {
		assert_int_equal(cs_id_new("sg", a), CS_OK);
		assert_int_equal(cs_id_new("sg", b), CS_OK);
	} while (cs_id_time_ms(a, 29) != cs_id_time_ms(b, 29) && ++tries < 1000);
	assert_int_equal(cs_id_time_ms(a, 29), cs_id_time_ms(b, 29));
	/* Same time part; b = a + 1 in the last base32 digit (with carry, which a 1/32 chance of a
	 * trailing 'Z' would bring; then only order is checked). */
	assert_memory_equal(a, b, 3 + 10);
	assert_true(strcmp(a, b) < 0);
	if (a[28] != 'Z') {
		assert_memory_equal(a, b, 28);
		assert_int_equal(b[28], "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[strchr(
		    "0123456789ABCDEFGHJKMNPQRSTVWXYZ", a[28]) - "0123456789ABCDEFGHJKMNPQRSTVWXYZ" + 1]);
	}
}

struct batch {
	char (*ids)[CS_ID_MAX];
};

static void *
make_batch(void *arg)
{
	struct batch *b = arg;

	for (size_t i = 0; i < PER_THREAD; i++)
		if (cs_id_new("dc", b->ids[i]) != CS_OK)
			return (void *)1;
	return NULL;
}

/* Threads at once: every id unique, and each thread's own ids in order. */
static void
threads(void **state)
{
	pthread_t th[THREADS];
	struct batch b[THREADS];
	char **all = malloc(sizeof(*all) * THREADS * PER_THREAD);

	assert_non_null(all);
	for (int t = 0; t < THREADS; t++) {
		b[t].ids = malloc(sizeof(*b[t].ids) * PER_THREAD);
		assert_non_null(b[t].ids);
		assert_int_equal(pthread_create(&th[t], NULL, make_batch, &b[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		void *ret;

		assert_int_equal(pthread_join(th[t], &ret), 0);
		assert_null(ret);
		for (size_t i = 0; i < PER_THREAD; i++) {
			if (i > 0)
				assert_true(strcmp(b[t].ids[i - 1], b[t].ids[i]) < 0);
			all[t * PER_THREAD + i] = b[t].ids[i];
		}
	}
	qsort(all, THREADS * PER_THREAD, sizeof(*all), cmp_str);
	for (size_t i = 1; i < THREADS * PER_THREAD; i++)
		assert_true(strcmp(all[i - 1], all[i]) < 0);
	for (int t = 0; t < THREADS; t++)
		free(b[t].ids);
	free(all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shape),
		cmocka_unit_test(bad_prefixes),
		cmocka_unit_test(validation),
		cmocka_unit_test(sortable),
		cmocka_unit_test(monotonic_within_ms),
		cmocka_unit_test(threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* threadpool_test.c — parallel regions run on every thread once, barriers
 * order writes across threads (each phase reads what all threads wrote in
 * the previous one) whether or not the waiting threads warm ranges
 * (threadpool_barrier_pf), pools of 1..8 threads, many back-to-back
 * regions, and the physical-core count is sane. */
#include "support/support.h"

#include "engine/threadpool.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define PHASES 50
#define MAXT   8

struct job {
	struct threadpool *tp;
	atomic_int calls;
	int slots[MAXT];
	int bad;
	struct tp_range warm[3]; /* what threadpool_barrier_pf warms */
};

/* Phase k: thread i writes k into its slot; after the barrier every thread
 * checks that all slots hold k; another barrier before the next write. */
static void region(void *arg, int ith, int nth)
{
	struct job *j = arg;
	atomic_fetch_add(&j->calls, 1);
	for (int k = 1; k <= PHASES; k++) {
		j->slots[ith] = k;
		threadpool_barrier(j->tp);
		for (int t = 0; t < nth; t++)
			if (j->slots[t] != k)
				j->bad = 1;
		if (k % 2)
			threadpool_barrier_pf(j->tp, j->warm, 3);
		else
			threadpool_barrier(j->tp);
	}
}

static void test_threadpool_regions_and_barriers(void **state)
{
	for (int n = 1; n <= MAXT; n++) {
		struct threadpool *tp = threadpool_new(n);
		assert_non_null(tp);
		assert_int_equal(threadpool_size(tp), n);
		static char buf[(1 << 20) + 100];
		struct job j = {.tp = tp, .warm = {{buf, sizeof buf}, {buf + 7, 0}, {buf + 3, 61}}};
		for (int r = 0; r < 20; r++)
			threadpool_run(tp, region, &j);
		assert_int_equal(atomic_load(&j.calls), 20 * n);
		assert_int_equal(j.bad, 0);
		threadpool_free(tp);
	}
	threadpool_free(NULL);
}

static void add_one(void *arg, int ith, int nth)
{
	atomic_int *c = arg;
	atomic_fetch_add(c, ith + 1);
}

/* Workers that went to sleep between regions wake up for the next one. */
static void test_threadpool_wakes_after_idle(void **state)
{
	struct threadpool *tp = threadpool_new(3);
	atomic_int c = 0;
	threadpool_run(tp, add_one, &c);
	usleep(300 * 1000);
	threadpool_run(tp, add_one, &c);
	assert_int_equal(atomic_load(&c), 12);
	threadpool_free(tp);
}

/* Regions on fewer threads than the pool has, alternating with full ones:
 * each thread of a region runs once and barriers count only those threads. */
static void test_threadpool_partial_regions(void **state)
{
	struct threadpool *tp = threadpool_new(4);
	for (int r = 0; r < 200; r++) {
		int n = 1 + r % 4;
		struct job j = {.tp = tp};
		threadpool_run_n(tp, region, &j, n);
		assert_int_equal(atomic_load(&j.calls), n);
		assert_int_equal(j.bad, 0);
	}
	atomic_int c = 0;
	threadpool_run_n(tp, add_one, &c, 99); /* clamped to the pool */
	assert_int_equal(atomic_load(&c), 10);
	threadpool_free(tp);
}

static void test_threadpool_physical_cores(void **state)
{
	int n = threadpool_physical_cores();
	long logical = sysconf(_SC_NPROCESSORS_ONLN);
	assert_true(n >= 1 && n <= logical);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_threadpool_regions_and_barriers),
	    cmocka_unit_test(test_threadpool_wakes_after_idle),
	    cmocka_unit_test(test_threadpool_partial_regions),
	    cmocka_unit_test(test_threadpool_physical_cores),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

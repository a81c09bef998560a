/* ops_test.c — the residual add (ops_add) and its AVX-512 variant: the
 * same floats as a plain loop, for every length across a vector and its
 * masked tail, nothing written past n. */
#include "support/support.h"

#include "engine/cpu_features.h"
#include "engine/engine_internal.h"

#include <string.h>

#define MAXN 70

static void check(void (*add)(float *, const float *, int64_t))
{
	float x[MAXN + 1], y[MAXN + 1], want[MAXN + 1];
	for (int64_t n = 0; n <= MAXN; n++) {
		for (int i = 0; i <= MAXN; i++) {
			x[i] = (float)((i * 7919) % 1013) * 0.37f - 150.0f;
			y[i] = (float)((i * 104729) % 997) * 1e-3f + (i % 3 ? 1e7f : -1e-7f);
			want[i] = x[i];
		}
		for (int64_t i = 0; i < n; i++)
			want[i] = x[i] + y[i];
		add(x, y, n);
		assert_memory_equal(x, want, sizeof x); /* x[n..] untouched */
	}
}

static void test_ops_add_matches_loop(void **state)
{
	(void)state;
	check(ops_add);
}

static void test_ops_add_avx512(void **state)
{
	(void)state;
	const struct cpu_features *f = cpu_features_get();
	if (!(f->avx512f && f->avx512dq && f->avx512vl)) {
		test_skip("this CPU has no AVX-512");
		return;
	}
	check(ops__add_avx512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_add_matches_loop),
	    cmocka_unit_test(test_ops_add_avx512),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ops_test.c — the residual add (ops_add) and its AVX-512 and AVX2
 * variants: the
 * same floats as a plain loop, for every length across a vector and its
 * masked tail, nothing written past n. The engine's e^x (exp.h): within
 * one ulp of e^x across the float range, the edge values; SiLU gating
 * (ops_silu_mul, its AVX-512 and AVX2 variants with the 16- and 8-lane
 * e^x) the same floats as the plain formula with ops_expf. RoPE (ops_rope,
 * its AVX-512 and AVX2 variants)
 * the same floats as the pairwise formula, both modes, rotated widths
 * that are and are not whole vectors, the dimensions past them untouched. */
#include "support/support.h"

#include "engine/cpu_features.h"
#include "engine/engine_internal.h"

#include "engine/exp.h"

#include <math.h>
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

/* Whether the AVX-512 variants can run here (ops.c's condition); skips
 * the test when not. */
static bool avx512(void)
{
	const struct cpu_features *f = cpu_features_get();
	if (f->avx512f && f->avx512dq && f->avx512vl)
		return true;
	test_skip("this CPU has no AVX-512");
	return false;
}

/* The same for the AVX2 variants. */
static bool avx2(void)
{
	const struct cpu_features *f = cpu_features_get();
	if (f->avx2 && f->fma && f->f16c)
		return true;
	test_skip("this CPU has no AVX2");
	return false;
}

static void test_ops_add_matches_loop(void **state)
{
	(void)state;
	check(ops_add);
}

static void test_ops_add_avx512(void **state)
{
	(void)state;
	if (!avx512())
		return;
	check(ops__add_avx512);
}

static void test_ops_add_avx2(void **state)
{
	(void)state;
	if (!avx2())
		return;
	check(ops__add_avx2);
}

/* The distance from e^x in units of the last place of the float nearest
 * e^x. */
static double ulps(float got, double want)
{
	const float w = (float)want;
	const double ulp = (double)nextafterf(w, INFINITY) - (double)w;
	return fabs((double)got - want) / ulp;
}

static void test_expf_within_one_ulp(void **state)
{
	(void)state;
	double worst = 0.0;
	for (int i = 0; i <= 2000000; i++) {
		const float x = -103.0f + 191.5f * (float)i / 2000000.0f; /* to 88.5 */
		const double u = ulps(ops_expf(x), exp((double)x));
		worst = u > worst ? u : worst;
	}
	assert_true(worst <= 1.0);
	assert_true(isnan(ops_expf(NAN)));
	assert_true(ops_expf(-INFINITY) == 0.0f);
	assert_true(ops_expf(-1000.0f) == 0.0f);
	assert_true(isinf(ops_expf(INFINITY)) && ops_expf(INFINITY) > 0);
	assert_true(isinf(ops_expf(89.0f)));
	assert_true(ops_expf(0.0f) == 1.0f && ops_expf(-0.0f) == 1.0f);
	assert_true(ops_expf(-103.9f) > 0.0f); /* a subnormal, as e^-103.9 */
}

static void check_silu(void (*silu)(float *, const float *, int64_t))
{
	float g[MAXN + 1], u[MAXN + 1], want[MAXN + 1];
	for (int64_t n = 0; n <= MAXN; n++) {
		for (int i = 0; i <= MAXN; i++) {
			/* from -120 to 120, and a few far out */
			g[i] = (float)((i * 7919 + (int)n * 31) % 2401) * 0.1f - 120.0f;
			if (i % 23 == 5)
				g[i] = i % 2 ? 1e30f : -1e30f;
			u[i] = (float)((i * 104729) % 997) * 1e-2f - 5.0f;
			want[i] = g[i];
		}
		for (int64_t i = 0; i < n; i++)
			want[i] = (g[i] / (1.0f + ops_expf(-g[i]))) * u[i];
		silu(g, u, n);
		assert_memory_equal(g, want, sizeof g);
	}
}

static void test_silu_matches_formula(void **state)
{
	(void)state;
	check_silu(ops_silu_mul);
}

static void test_silu_avx512(void **state)
{
	(void)state;
	if (!avx512())
		return;
	check_silu(ops__silu_mul_avx512);
}

static void test_silu_avx2(void **state)
{
	(void)state;
	if (!avx2())
		return;
	check_silu(ops__silu_mul_avx2);
}

static void check_rope(void (*rope)(float *, const float *, int, enum rope_mode))
{
	static const int widths[] = {2, 6, 16, 30, 32, 34, 48, 64, 96, 128};
	for (int mode = ROPE_NORMAL; mode <= ROPE_NEOX; mode++)
		for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
			const int n_rot = widths[w], dim = 136;
			float x[136], want[136], cs[128];
			for (int i = 0; i < dim; i++)
				x[i] = want[i] = (float)((i * 7919 + n_rot) % 1013) * 0.013f - 6.5f;
			for (int i = 0; i < n_rot; i += 2) {
				const float th = (float)(i + 1) * 0.37f + (float)n_rot;
				cs[i] = cosf(th);
				cs[i + 1] = sinf(th);
			}
			for (int i = 0; i < n_rot; i += 2) {
				float *a = mode == ROPE_NEOX ? &want[i / 2] : &want[i];
				float *b =
				    mode == ROPE_NEOX ? &want[i / 2 + n_rot / 2] : &want[i + 1];
				const float x0 = *a, x1 = *b;
				*a = x0 * cs[i] - x1 * cs[i + 1];
				*b = x0 * cs[i + 1] + x1 * cs[i];
			}
			rope(x, cs, n_rot, (enum rope_mode)mode);
			assert_memory_equal(x, want, sizeof x);
		}
}

static void test_rope_matches_formula(void **state)
{
	(void)state;
	check_rope(ops_rope);
}

static void test_rope_avx512(void **state)
{
	(void)state;
	if (!avx512())
		return;
	check_rope(ops__rope_avx512);
}

static void test_rope_avx2(void **state)
{
	(void)state;
	if (!avx2())
		return;
	check_rope(ops__rope_avx2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_add_matches_loop),
	    cmocka_unit_test(test_ops_add_avx512),
	    cmocka_unit_test(test_ops_add_avx2),
	    cmocka_unit_test(test_expf_within_one_ulp),
	    cmocka_unit_test(test_silu_matches_formula),
	    cmocka_unit_test(test_silu_avx512),
	    cmocka_unit_test(test_silu_avx2),
	    cmocka_unit_test(test_rope_matches_formula),
	    cmocka_unit_test(test_rope_avx512),
	    cmocka_unit_test(test_rope_avx2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

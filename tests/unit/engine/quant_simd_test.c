/* quant_simd_test.c — every SIMD kernel set (avx2, avx512) against the
 * scalar references, type by type, on awkward sizes: 1, 7, 31, 33, 255,
 * 1023 and 4096 elements for the float types, 1, 3, 33 and 128 blocks for
 * the block types, on Gaussian data, zeros and wide-range data.
 * Tolerances: exact equality for dequantization, quantization and
 * activation conversion (same rounding) and for the K-quant dots (exact
 * integer block sums, then the reference's float expression in the
 * reference's order). The other dots differ from the reference only in the
 * order of float additions: |simd - ref| <= 1e-5 * sum |x_i y_i| (a
 * reordered float32 sum of <= 4096 terms stays within a few 2^-24 of it in
 * practice; 1e-5 is ~170 ulps of margin). A set this CPU cannot run SKIPs. */
#include "support/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/quant.h"
#include "gguf/gguf.h"

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static float gauss(void)
{
	double u1 = ((rng_next() >> 11) + 1.0) * 0x1p-53;
	double u2 = (rng_next() >> 11) * 0x1p-53;
	return (float)(sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

/* kind 0: N(0,1); 1: zeros; 2: N(0,1) times 2^(-12..12) per element (inside f16 range). */
static void fill(float *x, int64_t n, int kind, uint64_t seed)
{
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 3;
	for (int64_t i = 0; i < n; i++) {
		float g = gauss();
		x[i] = kind == 1 ? 0.f : kind == 0 ? g : ldexpf(g, (int)(rng_next() % 25) - 12);
	}
}

struct simd_case {
	enum quant_isa isa;
	int type;
};

static bool is_k_quant(int type)
{
	return type >= GGML_TYPE_Q2_K && type <= GGML_TYPE_Q6_K;
}

static void expect_same_bytes(const char *what, const struct quant_traits *t, const void *a,
			      const void *b, size_t n)
{
	if (!memcmp(a, b, n))
		return;
	size_t i = 0;
	while (((const uint8_t *)a)[i] == ((const uint8_t *)b)[i])
		i++;
	fail_msg("%s %s (%s): byte %zu of %zu differs", t->name, what, t->isa, i, n);
}

/* One size: quantize, convert, dequantize and dot with both sets. */
static void check_size(enum quant_isa isa, int type, int64_t n, int kind)
{
	const struct quant_traits *v = quant_get_isa(type, isa), *r = quant_get_ref(type);
	const struct quant_traits *vd = quant_get_isa(v->vec_dot_type, isa);
	const struct quant_traits *rd = quant_get_ref(v->vec_dot_type);
	float *x = malloc(n * 4), *y = malloc(n * 4), *dv = malloc(n * 4), *dr = malloc(n * 4);
	uint8_t *qx = malloc(n * 4 + 64), *qy = malloc(n * 4 + 64), *ry = malloc(n * 4 + 64);
	uint8_t *rx = malloc(n * 4 + 64);
	size_t bx = quant_row_size(v->type, n), by = quant_row_size(v->vec_dot_type, n);
	fill(x, n, kind, (uint64_t)n * 31 + v->type);
	fill(y, n, kind == 1 ? 0 : kind, (uint64_t)n * 17 + 5);
	v->quantize(x, qx, n);
	r->quantize(x, rx, n);
	expect_same_bytes("quantize", v, qx, rx, bx);
	vd->from_float(y, qy, n);
	rd->from_float(y, ry, n);
	expect_same_bytes("activation conversion", vd, qy, ry, by);
	v->to_float(qx, dv, n);
	r->to_float(qx, dr, n);
	expect_same_bytes("dequantize", v, dv, dr, n * 4);
	float sv = NAN, sr = NAN;
	v->vec_dot(n, &sv, qx, qy);
	r->vec_dot(n, &sr, qx, qy);
	rd->to_float(qy, dr, n); /* dr now holds the activations */
	double mag = 0;
	for (int64_t i = 0; i < n; i++)
		mag += fabs((double)dv[i] * dr[i]);
	bool exact = is_k_quant(v->type);
	if (exact ? memcmp(&sv, &sr, 4) != 0 : !(fabs((double)sv - sr) <= 1e-5 * mag))
		fail_msg("%s vec_dot (%s) n=%lld kind %d: %.9g, reference %.9g (mag %g)", v->name,
			 v->isa, (long long)n, kind, sv, sr, mag);
	free(x);
	free(y);
	free(dv);
	free(dr);
	free(qx);
	free(qy);
	free(rx);
	free(ry);
}

static void test_quant_simd_matches_ref(void **state)
{
	const struct simd_case *c = *state;
	if (quant_isa_supported() < c->isa) {
		test_skip("%s: this CPU cannot run the %s kernels", quant_get_ref(c->type)->name,
			  quant_isa_name(c->isa));
		return;
	}
	const struct quant_traits *v = quant_get_isa(c->type, c->isa);
	assert_non_null(v);
	assert_string_equal(v->isa, quant_isa_name(c->isa));
	static const int64_t float_sizes[] = {1, 7, 31, 33, 255, 1023, 4096};
	static const int64_t block_counts[] = {1, 3, 33, 128};
	for (int kind = 0; kind < 3; kind++) {
		if (v->block_size == 1)
			for (size_t i = 0; i < sizeof float_sizes / sizeof float_sizes[0]; i++)
				check_size(c->isa, c->type, float_sizes[i], kind);
		else
			for (size_t i = 0; i < sizeof block_counts / sizeof block_counts[0]; i++)
				check_size(c->isa, c->type, block_counts[i] * v->block_size, kind);
	}
}

static const int simd_types[] = {
	GGML_TYPE_F32,	GGML_TYPE_F16,	GGML_TYPE_BF16, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1,
	GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0, GGML_TYPE_Q2_K, GGML_TYPE_Q3_K,
	GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
};
#define N_SIMD_TYPES (sizeof simd_types / sizeof simd_types[0])

int main(void)
{
	static struct simd_case cases[2][N_SIMD_TYPES];
	static struct CMUnitTest tests[2 * N_SIMD_TYPES];
	static char names[2 * N_SIMD_TYPES][64];
	int nt = 0;
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < N_SIMD_TYPES; i++) {
			cases[s][i].isa = s ? QUANT_ISA_AVX512 : QUANT_ISA_AVX2;
			cases[s][i].type = simd_types[i];
			snprintf(names[nt], sizeof names[nt], "test_quant_simd_%s_%s_matches_ref",
				 quant_isa_name(cases[s][i].isa), ggml_type_name(simd_types[i]));
			tests[nt] = (struct CMUnitTest){names[nt], test_quant_simd_matches_ref, NULL,
							NULL, &cases[s][i]};
			nt++;
		}
	return _cmocka_run_group_tests("quant_simd", tests, (size_t)nt, NULL, NULL);
}

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
 * practice; 1e-5 is ~170 ulps of margin). quant_mat_dot tiles are held to
 * the same rule against reference vec_dots, on 1 to 130 blocks (several
 * activation chunks, odd counts) and 1x1 to 5x4 and 4x9 tiles.
 * A set this CPU cannot run SKIPs. */
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

/* quant_mat_dot of the set against reference vec_dots, element by element:
 * nr weight rows, nc activation rows, padded strides, lds > nr. */
static void check_mat_dot(enum quant_isa isa, int type, int64_t n, int64_t nr, int64_t nc)
{
	const struct quant_traits *v = quant_get_isa(type, isa), *r = quant_get_ref(type);
	const struct quant_traits *vd = quant_get_ref(v->vec_dot_type);
	size_t bx = quant_row_size(type, n) + 40, by = quant_row_size(v->vec_dot_type, n) + 24;
	size_t lds = (size_t)nr + 3;
	float *f = malloc(n * 4), *out = malloc(lds * nc * 4), *mag = malloc(n * 4);
	uint8_t *x = calloc(nr, bx), *y = calloc(nc, by);
	for (int64_t i = 0; i < nr; i++) {
		fill(f, n, 0, 100 + i * 7 + type);
		r->quantize(f, x + i * bx, n);
	}
	for (int64_t c = 0; c < nc; c++) {
		fill(f, n, 0, 900 + c * 13);
		vd->from_float(f, y + c * by, n);
	}
	for (size_t i = 0; i < lds * nc; i++)
		out[i] = NAN;
	quant_mat_dot(v, n, nr, nc, out, lds, x, bx, y, by);
	for (int64_t c = 0; c < nc; c++)
		for (int64_t i = 0; i < nr; i++) {
			float want;
			r->vec_dot(n, &want, x + i * bx, y + c * by);
			float got = out[c * lds + i];
			/* bound: the dot of |dequantized| operands */
			float *dx = f, *dy = mag;
			r->to_float(x + i * bx, dx, n);
			vd->to_float(y + c * by, dy, n);
			double m = 0;
			for (int64_t k = 0; k < n; k++)
				m += fabs((double)dx[k] * dy[k]);
			bool ok = is_k_quant(type) ? !memcmp(&got, &want, 4)
			                           : fabs((double)got - want) <= 1e-5 * m;
			if (!ok)
				fail_msg(
				    "%s mat_dot (%s) n=%lld %lldx%lld at row %lld col %lld: %.9g, "
				    "reference %.9g",
				    v->name, v->isa, (long long)n, (long long)nr, (long long)nc,
				    (long long)i, (long long)c, got, want);
		}
	for (int64_t c = 0; c < nc; c++)
		assert_true(isnan(out[c * lds + nr])); /* nothing past nr rows */
	free(f);
	free(out);
	free(mag);
	free(x);
	free(y);
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
	static const int64_t shapes[][2] = {{1, 1}, {3, 2}, {5, 4}, {2, 5}, {4, 9}};
	static const int64_t mat_blocks[] = {1, 3, 64, 67, 130};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		for (size_t b = 0; b < sizeof mat_blocks / sizeof mat_blocks[0]; b++)
			check_mat_dot(c->isa, c->type, mat_blocks[b] * v->block_size, shapes[i][0],
			              shapes[i][1]);
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
    GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1,
    GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0, GGML_TYPE_Q2_K, GGML_TYPE_Q3_K,
    GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
};
#define N_SIMD_TYPES (sizeof simd_types / sizeof simd_types[0])

int main(void)
{
	/* scalar: the generic quant_mat_dot loop; avx2, avx512: the variants */
	static struct simd_case cases[3][N_SIMD_TYPES];
	static struct CMUnitTest tests[3 * N_SIMD_TYPES];
	static char names[3 * N_SIMD_TYPES][64];
	int nt = 0;
	for (int s = 0; s < 3; s++)
		for (size_t i = 0; i < N_SIMD_TYPES; i++) {
			cases[s][i].isa = (enum quant_isa)s;
			cases[s][i].type = simd_types[i];
			snprintf(names[nt], sizeof names[nt], "test_quant_simd_%s_%s_matches_ref",
			         quant_isa_name(cases[s][i].isa), ggml_type_name(simd_types[i]));
			tests[nt] = (struct CMUnitTest){names[nt], test_quant_simd_matches_ref,
			                                NULL, NULL, &cases[s][i]};
			nt++;
		}
	return _cmocka_run_group_tests("quant_simd", tests, (size_t)nt, NULL, NULL);
}

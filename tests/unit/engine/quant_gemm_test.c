/* quant_gemm_test.c — quant_gemm (prepared activations, the engine's matmul
 * path) of every kernel set against the scalar reference vec_dot, element
 * by element, on awkward shapes: 1 to 49 weight rows (16-row stripes, an
 * overlapping last stripe, fewer than 16 rows), 1 to 37 activation rows
 * (the register path up to 4, the buffered path above, AMX tiles of 16
 * where the CPU has them), 1 to 67 blocks or 1 to 9 K-quant super-blocks
 * (across the stripe chunks), padded strides.
 * Tolerance: the kernels with a gemm compute the reference's integers and
 * float steps in its order (Q4_0, Q8_0, Q4_K, Q6_K): bit-identical to the
 * reference; F16 and BF16 repeat the set's own vec_dot step for step:
 * bit-identical to that — but where AMX-BF16 runs batches of 16+ rows and
 * columns, held to |got - ref| <= tol * sum |x_i y_i| against the scalar
 * reference (which sums in double). F16 (AMX_F16_TOL): every product but
 * w_lo * a_lo (each at most 2^-16 = 1.5e-5 of |w a|) summed in f32 tiles:
 * the dropped products' bound plus f32 summation. BF16 (AMX_BF16_TOL):
 * every product, exact (bf16 x bf16 fits f32), summed in f32 in the
 * tiles' order instead of the FMA chain's: F16's bound less its dropped
 * products, the f32 summation's share (bf16 subnormals, which the tile
 * unit reads as zero, have their own test). Measured worst: printed by the
 * test.
 * Packed weights (pack16 / gemm_packed) on 16-row multiples: bit-identical
 * to the same set's gemm, hence to the reference.
 * The generic path (vec_dot loops) gets quant_simd_test's bound,
 * |got - ref| <= 1e-5 * sum |x_i y_i|. A set this CPU cannot run SKIPs. */
#include "support/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/quant.h"
#include "gguf/gguf.h"

#define AMX_F16_TOL  2e-5
#define AMX_BF16_TOL 5e-6
/* largest |got - ref| / sum |x_i y_i| seen on AMX: F16, BF16 */
static double amx_worst[2];

static uint64_t rng_state;

static float gauss(void)
{
	double u[2];
	for (int i = 0; i < 2; i++) {
		rng_state ^= rng_state << 13;
		rng_state ^= rng_state >> 7;
		rng_state ^= rng_state << 17;
		u[i] = ((rng_state >> 11) + 1.0) * 0x1p-53;
	}
	return (float)(sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]));
}

static void fill(float *x, int64_t n, uint64_t seed, float scale)
{
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 7;
	for (int64_t i = 0; i < n; i++)
		x[i] = gauss() * scale;
}

struct gemm_case {
	enum quant_isa isa;
	int type;
};

/* The packed form of the nr rows (x, bx bytes apart) against gemm's own
 * results `want`: bit for bit. */
static void check_packed(const struct quant_traits *v, int64_t n, int64_t nr, int64_t nc,
                         const uint8_t *x, size_t bx, const uint8_t *a, size_t ba,
                         const float *want, size_t lds)
{
	const size_t rs = quant_row_size(v->type, n);
	uint8_t *rows = malloc((size_t)nr * rs), *packed = malloc((size_t)nr * rs);
	float *out = malloc(lds * (size_t)nc * 4);
	for (int64_t i = 0; i < nr; i++)
		memcpy(rows + (size_t)i * rs, x + (size_t)i * bx, rs);
	for (int64_t i = 0; i < nr; i += 16)
		v->pack16(rows + (size_t)i * rs, rs, packed + (size_t)i * rs);
	for (size_t i = 0; i < lds * (size_t)nc; i++)
		out[i] = NAN;
	v->gemm_packed(n, nr, nc, out, lds, packed, rs, a, ba);
	for (int64_t c = 0; c < nc; c++)
		for (int64_t i = 0; i < (int64_t)lds; i++) {
			size_t k = (size_t)c * lds + (size_t)i;
			if (memcmp(&out[k], &want[k], 4) != 0)
				fail_msg("%s packed gemm (%s) %lldx%lld over %lld, row %lld col "
				         "%lld: %.9g, gemm %.9g",
				         v->name, v->isa, (long long)nr, (long long)nc,
				         (long long)n, (long long)i, (long long)c, out[k], want[k]);
		}
	free(rows);
	free(packed);
	free(out);
}

/* The bound of the set's batches of nr x nc on AMX-BF16; 0: not on AMX. */
static double amx_tol(const struct quant_traits *v, int64_t nr, int64_t nc)
{
	if (strcmp(v->isa, quant_isa_name(QUANT_ISA_AVX512)) != 0 || !quant_amx_bf16() || nr < 16 ||
	    nc < QUANT_AMX_MIN_COLS)
		return 0;
	return v->type == GGML_TYPE_F16    ? AMX_F16_TOL
	       : v->type == GGML_TYPE_BF16 ? AMX_BF16_TOL
	                                   : 0;
}

/* One shape: nr x nc over nblk blocks, every element against the reference. */
static void check_shape(const struct quant_traits *v, int64_t nblk, int64_t nr, int64_t nc)
{
	const struct quant_traits *r = quant_get_ref(v->type);
	const struct quant_traits *rd = quant_get_ref(v->vec_dot_type);
	const int64_t n = nblk * v->block_size;
	const size_t bx = quant_row_size(v->type, n) + 20, by = quant_row_size(v->vec_dot_type, n);
	const size_t ba = quant_act_bytes(v, n) + 64, lds = (size_t)nr + 5;
	float *f = malloc((size_t)n * 4), *out = malloc(lds * (size_t)nc * 4);
	uint8_t *x = calloc((size_t)nr, bx), *a = calloc((size_t)nc, ba);
	uint8_t *y = calloc((size_t)nc, by + 1);
	assert_true(ba > 64);
	for (int64_t i = 0; i < nr; i++) {
		fill(f, n, 100 + (uint64_t)i * 7 + (uint64_t)v->type, i % 5 == 4 ? 1e-3f : 1.0f);
		r->quantize(f, x + (size_t)i * bx, n);
	}
	for (int64_t c = 0; c < nc; c++) {
		fill(f, n, 900 + (uint64_t)c * 13, c % 3 == 2 ? 40.0f : 1.0f);
		quant_act_prepare(v, f, a + (size_t)c * ba, n);
		rd->from_float(f, y + (size_t)c * by, n);
	}
	for (size_t i = 0; i < lds * (size_t)nc; i++)
		out[i] = NAN;
	quant_gemm(v, n, nr, nc, out, lds, x, bx, a, ba);
	bool exact = v->gemm != NULL;
	/* F16 and BF16 follow the set's vec_dot, the others the scalar reference */
	const bool own = v->type == GGML_TYPE_F16 || v->type == GGML_TYPE_BF16;
	const struct quant_traits *want_t = v->gemm && own ? v : r;
	double tol = 1e-5, *worst = NULL;
	if (amx_tol(v, nr, nc) > 0) {
		exact = false;
		want_t = r;
		tol = amx_tol(v, nr, nc);
		worst = &amx_worst[v->type == GGML_TYPE_BF16];
	}
	/* dequantized rows for the bound of the inexact paths */
	float *dx = malloc((size_t)(n * nr) * 4), *dy = malloc((size_t)n * 4);
	for (int64_t i = 0; i < nr && !exact; i++)
		r->to_float(x + (size_t)i * bx, dx + i * n, n);
	for (int64_t c = 0; c < nc; c++) {
		rd->to_float(y + (size_t)c * by, dy, n);
		for (int64_t i = 0; i < nr; i++) {
			float want, got = out[c * (int64_t)lds + i];
			want_t->vec_dot(n, &want, x + (size_t)i * bx, y + (size_t)c * by);
			double mag = 0;
			for (int64_t k = 0; k < n && !exact; k++)
				mag += fabs((double)dx[i * n + k] * dy[k]);
			if (worst && fabs((double)got - want) / mag > *worst)
				*worst = fabs((double)got - want) / mag;
			if (exact ? memcmp(&got, &want, 4) != 0
			          : !(fabs((double)got - want) <= tol * mag))
				fail_msg(
				    "%s gemm (%s) %lld blocks %lldx%lld, row %lld col %lld: %.9g, "
				    "reference %.9g",
				    v->name, v->isa, (long long)nblk, (long long)nr, (long long)nc,
				    (long long)i, (long long)c, got, want);
		}
		for (size_t i = (size_t)nr; i < lds; i++) /* nothing past nr rows */
			assert_true(isnan(out[(size_t)c * lds + i]));
	}
	if (v->pack16 && nr % 16 == 0)
		check_packed(v, n, nr, nc, x, bx, a, ba, out, lds);
	free(dx);
	free(dy);
	free(f);
	free(out);
	free(x);
	free(a);
	free(y);
}

static void test_quant_gemm_matches_ref(void **state)
{
	const struct gemm_case *c = *state;
	if (quant_isa_supported() < c->isa) {
		test_skip("%s: this CPU cannot run the %s kernels", quant_get_ref(c->type)->name,
		          quant_isa_name(c->isa));
		return;
	}
	const struct quant_traits *v = quant_get_isa(c->type, c->isa);
	assert_non_null(v);
	static const int64_t rows[] = {1, 5, 16, 17, 33, 48, 49};
	static const int64_t cols[] = {1, 2, 3, 4, 5, 9, 16, 37, 53, 70};
	/* across the stripe chunks: 32 blocks (Q4_0, Q8_0), 4 super-blocks
	 * (K-quants), 512 elements (F16) */
	static const int64_t blocks[] = {1, 3, 33, 67}, kblocks[] = {1, 3, 5, 9};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		for (size_t j = 0; j < sizeof cols / sizeof cols[0]; j++)
			for (size_t k = 0; k < sizeof blocks / sizeof blocks[0]; k++) {
				int64_t nb = v->block_size == 1   ? blocks[k] * 32 + (int64_t)k
				             : v->block_size > 32 ? kblocks[k]
				                                  : blocks[k];
				check_shape(v, nb, rows[i], cols[j]);
			}
	print_message("%s (%s): %s%s%s\n", v->name, v->isa,
	              v->gemm ? "gemm kernel, exact" : "generic",
	              v->pack16 ? ", packed form exact" : "",
	              amx_tol(v, 16, 16) > 0 ? "; batches on AMX-BF16 within the bound" : "");
}

/* The type of an AMX-BF16 test (state), or -1 after SKIP. */
static int amx_type(void **state)
{
	const int type = *(const int *)*state;
	if (quant_isa_supported() < QUANT_ISA_AVX512 || !quant_amx_bf16()) {
		test_skip("%s: this CPU (or GPURUN_AMX=0) runs no AMX-BF16 tiles",
		          quant_get_ref(type)->name);
		return -1;
	}
	return type;
}

/* F16 or BF16 batches on AMX-BF16 across the kernel's blocks: more than
 * one packed group of 128 rows, K chunks (F16 128 elements, BF16 256) with
 * a partial last block, more than one 32-column pair with a partial last
 * tile, and a batch of 530. */
static void test_quant_gemm_amx_blocks(void **state)
{
	const int type = amx_type(state);
	if (type < 0)
		return;
	const struct quant_traits *v = quant_get_isa(type, QUANT_ISA_AVX512);
	static const int64_t shapes[][3] = {
	    {145, 70, 300}, {16, 16, 32}, {31, 530, 64}, {200, 33, 513}, {17, 47, 7},
	};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		check_shape(v, shapes[i][2], shapes[i][0], shapes[i][1]);
	print_message("%s on AMX-BF16: worst |got - ref| / sum |x y| = %.3g over every shape so "
	              "far (bound %g)\n",
	              v->name, amx_worst[type == GGML_TYPE_BF16], amx_tol(v, 16, 16));
}

/* At the edges of each type on AMX-BF16: a row of subnormals, a row of
 * large values, an infinity and a NaN. F16: subnormals are exactly hi + lo
 * (no bf16 subnormal) and within the bound; an infinity meets the zero low
 * part of some activation, inf * 0: NaN where the FMA path gives inf. BF16:
 * the tile unit reads a subnormal as zero, so each of that row's products
 * (|w a| < 2^-126 |a|) may be dropped and each f32 partial sum below
 * 2^-126 flushed: within 2^-126 * (sum |a| + n) more; an infinity gives
 * +inf as on the FMA path (positive activations). Either way the infinite
 * and NaN rows are not finite and the other rows are untouched. */
static void test_quant_gemm_amx_special_values(void **state)
{
	const int type = amx_type(state);
	if (type < 0)
		return;
	const struct quant_traits *v = quant_get_isa(type, QUANT_ISA_AVX512);
	const struct quant_traits *r = quant_get_ref(type);
	const bool bf = type == GGML_TYPE_BF16;
	enum { NR = 20, NC = 17, N = 70 };
	static uint16_t w[NR][N], y[NC][N];
	static float f[N], out[NC][NR];
	size_t ba = quant_act_bytes(v, N);
	uint8_t *a = calloc(NC, ba);
	for (int i = 0; i < NR; i++) {
		fill(f, N, 300 + (uint64_t)i,
		     i == 1   ? (bf ? 1e-39f : 6e-6f)
		     : i == 2 ? (bf ? 1e33f : 3e4f)
		              : 1.0f);
		for (int k = 0; k < N && !bf; k++) /* large but finite in F16 */
			f[k] = fminf(fmaxf(f[k], -65000.0f), 65000.0f);
		r->quantize(f, w[i], N);
	}
	w[3][5] = bf ? 0x7F80 : 0x7C00; /* +inf */
	w[4][9] = bf ? 0x7FC0 : 0x7E00; /* NaN */
	double asum[NC] = {0};
	for (int c = 0; c < NC; c++) {
		fill(f, N, 700 + (uint64_t)c, 1.0f);
		for (int k = 0; k < N; k++)
			f[k] = fabsf(f[k]) + 0.25f; /* positive: inf * a stays +inf */
		quant_act_prepare(v, f, a + (size_t)c * ba, N);
		r->quantize(f, y[c], N);
		for (int k = 0; k < N && bf; k++)
			asum[c] += bf16_to_f32(y[c][k]);
	}
	quant_gemm(v, N, NR, NC, &out[0][0], NR, w, sizeof w[0], a, ba);
	for (int c = 0; c < NC; c++)
		for (int i = 0; i < NR; i++) {
			float want, got = out[c][i];
			r->vec_dot(N, &want, w[i], y[c]);
			if (i == 3 || i == 4) {
				assert_false(isfinite(got));
				assert_true(i == 3 || isnan(got));
				continue;
			}
			double mag = 0, sub = i == 1 && bf ? 0x1p-126 * (asum[c] + N) : 0;
			for (int k = 0; k < N; k++)
				mag +=
				    fabs(bf ? (double)bf16_to_f32(w[i][k]) * bf16_to_f32(y[c][k])
				            : (double)fp16_to_f32(w[i][k]) * fp16_to_f32(y[c][k]));
			if (!(fabs((double)got - want) <= amx_tol(v, NR, NC) * mag + sub))
				fail_msg("%s row %d col %d: %.9g, reference %.9g", v->name, i, c,
				         got, want);
		}
	free(a);
}

static const int gemm_types[] = {
    GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1,
    GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0, GGML_TYPE_Q2_K, GGML_TYPE_Q3_K,
    GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
};
#define N_TYPES (sizeof gemm_types / sizeof gemm_types[0])

int main(void)
{
	static struct gemm_case cases[3][N_TYPES];
	static struct CMUnitTest tests[3 * N_TYPES + 4];
	static const int amx_types[] = {GGML_TYPE_F16, GGML_TYPE_BF16};
	static char names[3 * N_TYPES][64];
	int nt = 0;
	for (int s = 0; s < 3; s++)
		for (size_t i = 0; i < N_TYPES; i++) {
			cases[s][i] = (struct gemm_case){(enum quant_isa)s, gemm_types[i]};
			snprintf(names[nt], sizeof names[nt], "test_quant_gemm_%s_%s_matches_ref",
			         quant_isa_name((enum quant_isa)s), ggml_type_name(gemm_types[i]));
			tests[nt] = (struct CMUnitTest){names[nt], test_quant_gemm_matches_ref,
			                                NULL, NULL, &cases[s][i]};
			nt++;
		}
	void *f16 = (void *)&amx_types[0], *bf16 = (void *)&amx_types[1];
	tests[nt++] = (struct CMUnitTest){"test_quant_gemm_f16_amx_blocks",
	                                  test_quant_gemm_amx_blocks, NULL, NULL, f16};
	tests[nt++] = (struct CMUnitTest){"test_quant_gemm_f16_amx_special_values",
	                                  test_quant_gemm_amx_special_values, NULL, NULL, f16};
	tests[nt++] = (struct CMUnitTest){"test_quant_gemm_bf16_amx_blocks",
	                                  test_quant_gemm_amx_blocks, NULL, NULL, bf16};
	tests[nt++] = (struct CMUnitTest){"test_quant_gemm_bf16_amx_special_values",
	                                  test_quant_gemm_amx_special_values, NULL, NULL, bf16};
	return _cmocka_run_group_tests("quant_gemm", tests, (size_t)nt, NULL, NULL);
}

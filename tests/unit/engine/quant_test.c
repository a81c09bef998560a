/* quant_test.c — the scalar references of every tensor type: half/bfloat16
 * conversions, dequantization of hand-built blocks, round trips, dot
 * products against dequantized values.
 *
 * Tolerances (relative RMS error of quantize -> dequantize on N(0,1) data,
 * 64 rows of 4096): 1.15 x what llama.cpp's own quantizer gives on the
 * Gaussian weights of synth-llama-F32.gguf (measured on its Q* files):
 * F16 2.1e-4, BF16 1.7e-3, Q8_0 5.4e-3, Q6_K 1.8e-2, Q5_K 3.6e-2,
 * Q5_1 3.8e-2, Q5_0 4.3e-2, Q4_K 7.1e-2, Q4_1 7.8e-2, Q4_0 8.6e-2,
 * Q3_K 0.151, Q2_K 0.297. Q8_1 is Q8_0's grid; Q8_K (256-element blocks,
 * one f32 scale) has no file: uniform rounding gives amax / (127 sqrt 12)
 * ~ 6.6e-3 with amax ~ 2.9 for 256 N(0,1) values; we measure 6.9e-3 and
 * allow 7.0e-3 x 1.15. The reference dot products must
 * equal the double-precision dot of the dequantized operands to 1e-5 of
 * sum |x_i y_i| (float accumulation over at most 1024 blocks).
 * quant_models_test.c checks the files; quant_simd_test.c the variants. */
#include "support/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/quant.h"
#include "engine/quant_internal.h"
#include "gguf/gguf.h"

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* N(0, 1) by Box-Muller. */
static float gauss(void)
{
	double u1 = ((rng_next() >> 11) + 1.0) * 0x1p-53;
	double u2 = (rng_next() >> 11) * 0x1p-53;
	return (float)(sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

static float *gauss_array(int64_t n, uint64_t seed)
{
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	float *x = malloc((size_t)n * sizeof *x);
	for (int64_t i = 0; i < n; i++)
		x[i] = gauss();
	return x;
}

static double rel_rms(const float *a, const float *ref, int64_t n)
{
	double se = 0, sr = 0;
	for (int64_t i = 0; i < n; i++) {
		double d = (double)a[i] - ref[i];
		se += d * d;
		sr += (double)ref[i] * ref[i];
	}
	return sqrt(se / sr);
}

static const int all_types[] = {
    GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1,
    GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0, GGML_TYPE_Q8_1, GGML_TYPE_Q2_K,
    GGML_TYPE_Q3_K, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K, GGML_TYPE_Q8_K,
};
#define N_TYPES (int)(sizeof all_types / sizeof all_types[0])

/* ---- half and bfloat16 */

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static void test_quant_fp16_every_half_round_trips(void **state)
{
	for (uint32_t h = 0; h < 65536; h++) {
		float f = fp16_to_f32((uint16_t)h);
		if (isnan(f))
			continue;
		assert_int_equal(f32_to_fp16(f), h);
	}
	assert_true(isnan(fp16_to_f32(0x7e00)));
	assert_true(isnan(fp16_to_f32(f32_to_fp16(NAN))));
}

static void test_quant_fp16_rounding(void **state)
{
	static const struct {
		float f;
		uint16_t h;
	} cases[] = {
	    {1.0f, 0x3c00},
	    {-2.0f, 0xc000},
	    {65504.0f, 0x7bff},
	    {65519.99f, 0x7bff},
	    {65520.0f, 0x7c00}, /* rounds to infinity */
	    {1e10f, 0x7c00},
	    {0x1p-24f, 0x0001},           /* smallest subnormal */
	    {0x1p-25f, 0x0000},           /* tie to even: 0 */
	    {0x1.8p-24f, 0x0002},         /* tie to even: 2 */
	    {0x1p-14f, 0x0400},           /* smallest normal */
	    {0x1.ffcp-15f, 0x0400},       /* largest subnormal + half ulp rounds up */
	    {1.0f + 0x1p-11f, 0x3c00},    /* tie, even stays */
	    {1.0f + 0x3p-11f, 0x3c02},    /* tie, odd rounds up */
	    {1.0f + 0x1.02p-11f, 0x3c01}, /* just above the tie */
	    {-0.0f, 0x8000},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint16_t h = f32_to_fp16(cases[i].f);
		if (h != cases[i].h)
			fail_msg("f32_to_fp16(%a) = 0x%04x, want 0x%04x", cases[i].f, h,
			         cases[i].h);
	}
	assert_true(fp16_to_f32(0x0001) == 0x1p-24f);
	assert_true(fp16_to_f32(0xfbff) == -65504.0f);
	assert_true(isinf(fp16_to_f32(0x7c00)));
}

static void test_quant_bf16_rounding(void **state)
{
	assert_int_equal(f32_to_bf16(1.0f), 0x3f80);
	assert_int_equal(f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie, even */
	assert_int_equal(f32_to_bf16(1.0f + 0x3p-8f), 0x3f82); /* tie, odd up */
	assert_int_equal(f32_to_bf16(1.0f + 0x1.2p-8f), 0x3f81);
	assert_true(bf16_to_f32(0xc040) == -3.0f);
	uint16_t nan = f32_to_bf16(NAN);
	assert_true(isnan(bf16_to_f32(nan)));
	for (uint32_t h = 0; h < 65536; h++) {
		float f = bf16_to_f32((uint16_t)h);
		if (!isnan(f))
			assert_int_equal(f32_to_bf16(f), h);
	}
	assert_int_equal(bits(bf16_to_f32(0x8000)), 0x80000000u);
}

/* ---- the table */

static void test_quant_traits_match_layouts(void **state)
{
	for (int i = 0; i < N_TYPES; i++) {
		const struct quant_traits *t = quant_get_ref(all_types[i]);
		assert_non_null(t);
		assert_int_equal(t->type, all_types[i]);
		assert_string_equal(t->isa, "scalar");
		assert_non_null(t->to_float);
		assert_non_null(t->from_float);
		assert_non_null(t->quantize);
		assert_non_null(t->vec_dot);
		const struct ggml_type_layout *l = ggml_type_layout(all_types[i]);
		assert_non_null(l);
		assert_int_equal(l->block_size, t->block_size);
		assert_int_equal(l->type_size, t->type_size);
		assert_string_equal(l->name, t->name);
		const struct quant_traits *active = quant_get(all_types[i]);
		assert_non_null(active);
		assert_int_equal(active->vec_dot_type, t->vec_dot_type);
		assert_string_equal(active->isa, quant_isa_name(quant_isa_active()));
	}
	assert_null(quant_get(GGML_TYPE_I8));
	assert_null(quant_get(-1));
	assert_null(quant_get(GGML_TYPE_COUNT));
	assert_int_equal(quant_get(GGML_TYPE_Q4_K)->vec_dot_type, GGML_TYPE_Q8_K);
	assert_int_equal(quant_get(GGML_TYPE_Q5_1)->vec_dot_type, GGML_TYPE_Q8_1);
	assert_int_equal(quant_get(GGML_TYPE_Q5_0)->vec_dot_type, GGML_TYPE_Q8_0);
	assert_true(quant_isa_active() <= quant_isa_supported());
}

static void test_quant_row_size(void **state)
{
	assert_int_equal(quant_row_size(GGML_TYPE_Q4_0, 4096), 128 * 18);
	assert_int_equal(quant_row_size(GGML_TYPE_Q6_K, 512), 2 * 210);
	assert_int_equal(quant_row_size(GGML_TYPE_F16, 3), 6);
	assert_int_equal(quant_row_size(GGML_TYPE_Q4_K, 100), 0);
	assert_int_equal(quant_row_size(GGML_TYPE_I8, 32), 0);
	assert_int_equal(quant_row_size(GGML_TYPE_F32, INT64_MAX), 0); /* overflows */
	assert_int_equal(quant_row_size(GGML_TYPE_F16, -2), 0);
}

static void test_quant_k4_scales_match_spec(void **state)
{
	rng_state = 42;
	for (int iter = 0; iter < 20000; iter++) {
		uint8_t packed[12], fast[16];
		for (int k = 0; k < 12; k++)
			packed[k] = (uint8_t)rng_next();
		quant_k4_scales(packed, fast);
		for (int j = 0; j < 8; j++) {
			uint8_t d, m;
			quant_scale_min_k4(j, packed, &d, &m);
			assert_int_equal(fast[j], d);
			assert_int_equal(fast[8 + j], m);
		}
		int8_t sc[16];
		quant_q3_K_scales(packed, sc);
		for (int j = 0; j < 16; j++) {
			int lo = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
			int hi = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
			assert_int_equal(sc[j], (lo | (hi << 4)) - 32);
		}
	}
}

/* ---- hand-built blocks with values worked out by hand */

static void expect_floats(const char *what, const float *got, const float *want, int n)
{
	for (int i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("%s: element %d is %g, want %g", what, i, got[i], want[i]);
}

static void dequant(int type, const void *block, float *out, int64_t n)
{
	quant_get_ref(type)->to_float(block, out, n);
	float simd[256];
	quant_get(type)->to_float(block, simd, n);
	expect_floats("active variant", simd, out, (int)n);
}

static void test_quant_dequant_known_blocks_legacy(void **state)
{
	float out[32], want[32];
	/* Q4_0: d = 0.5; byte j = j | (15 - j) << 4 */
	struct block_q4_0 b40 = {.d = 0x3800};
	for (int j = 0; j < 16; j++) {
		b40.qs[j] = (uint8_t)(j | ((15 - j) << 4));
		want[j] = (j - 8) * 0.5f;
		want[j + 16] = (7 - j) * 0.5f;
	}
	dequant(GGML_TYPE_Q4_0, &b40, out, 32);
	expect_floats("q4_0", out, want, 32);
	/* Q4_1: d = 0.25, m = -1: x = code / 4 - 1 */
	struct block_q4_1 b41 = {.d = 0x3400, .m = 0xbc00};
	memcpy(b41.qs, b40.qs, 16);
	for (int j = 0; j < 16; j++) {
		want[j] = j * 0.25f - 1;
		want[j + 16] = (15 - j) * 0.25f - 1;
	}
	dequant(GGML_TYPE_Q4_1, &b41, out, 32);
	expect_floats("q4_1", out, want, 32);
	/* Q5_0: d = 1, nibbles 1 (low) and 2 (high), high bits 0 and 31 set */
	struct block_q5_0 b50 = {.d = 0x3c00, .qh = {0x01, 0, 0, 0x80}};
	memset(b50.qs, 0x21, 16);
	for (int j = 0; j < 32; j++)
		want[j] = j < 16 ? -15.f : -14.f;
	want[0] = 1.f;  /* 17 - 16 */
	want[31] = 2.f; /* 18 - 16 */
	dequant(GGML_TYPE_Q5_0, &b50, out, 32);
	expect_floats("q5_0", out, want, 32);
	/* Q5_1: d = 0.5, m = 1, high bit 16 set: element 16 is 18 * 0.5 + 1 */
	struct block_q5_1 b51 = {.d = 0x3800, .m = 0x3c00, .qh = {0, 0, 0x01, 0}};
	memset(b51.qs, 0x21, 16);
	for (int j = 0; j < 32; j++)
		want[j] = j < 16 ? 1.5f : 2.f;
	want[16] = 10.f;
	dequant(GGML_TYPE_Q5_1, &b51, out, 32);
	expect_floats("q5_1", out, want, 32);
	/* Q8_0: d = 0.25, qs = j - 16; Q8_1 the same (s is not read) */
	struct block_q8_0 b80 = {.d = 0x3400};
	struct block_q8_1 b81 = {.d = 0x3400, .s = 0x7c00};
	for (int j = 0; j < 32; j++) {
		b80.qs[j] = b81.qs[j] = (int8_t)(j - 16);
		want[j] = (j - 16) * 0.25f;
	}
	dequant(GGML_TYPE_Q8_0, &b80, out, 32);
	expect_floats("q8_0", out, want, 32);
	dequant(GGML_TYPE_Q8_1, &b81, out, 32);
	expect_floats("q8_1", out, want, 32);
	/* F16 and BF16 words */
	uint16_t h[4] = {0x3c00, 0xc000, 0x3555, 0x0001};
	dequant(GGML_TYPE_F16, h, out, 4);
	assert_true(out[0] == 1.f && out[1] == -2.f && out[3] == 0x1p-24f);
	assert_true(fabsf(out[2] - 1.f / 3) < 1e-3f);
	uint16_t b[2] = {0x3f80, 0x4049};
	dequant(GGML_TYPE_BF16, b, out, 2);
	assert_true(out[0] == 1.f && out[1] == 3.140625f);
}

/* Codes per element of the bit-pair layouts: 0xE4 puts pair k = k. */
static void test_quant_dequant_known_blocks_k(void **state)
{
	float out[256], want[256];
	/* Q2_K: d = 1, dmin = 0.5, every group scale 2 / min 1: x = 2q - 0.5,
	 * q = (e % 128) / 32 */
	struct block_q2_K b2 = {.d = 0x3c00, .dmin = 0x3800};
	memset(b2.scales, 0x12, 16);
	memset(b2.qs, 0xE4, 64);
	b2.scales[15] = 0x05; /* last group: scale 5, min 0 */
	for (int e = 0; e < 256; e++)
		want[e] = e >= 240 ? 5.f * ((e % 128) / 32) : 2.f * ((e % 128) / 32) - 0.5f;
	dequant(GGML_TYPE_Q2_K, &b2, out, 256);
	expect_floats("q2_K", out, want, 256);
	/* Q3_K: d = 1, every scale code 33 (+1), hmask bits 0..3 set (first
	 * half keeps q, second half q - 4); group 5 scale code 30 (-2) */
	struct block_q3_K b3 = {.d = 0x3c00};
	memset(b3.scales, 0x11, 8);
	memset(b3.scales + 8, 0xAA, 4);
	b3.scales[5] = 0x1E; /* group 5 low nibble 14, group 13 keeps 1 */
	b3.scales[9] = 0xA6; /* byte 8 + 5 % 4, pair 5 / 4 = 1 -> 01: code 0x10 | 14 = 30 */
	memset(b3.hmask, 0x0F, 32);
	memset(b3.qs, 0xE4, 64);
	for (int e = 0; e < 256; e++) {
		float q = (float)((e % 128) / 32) - (e >= 128 ? 4 : 0);
		want[e] = (e / 16 == 5 ? -2.f : 1.f) * q;
	}
	dequant(GGML_TYPE_Q3_K, &b3, out, 256);
	expect_floats("q3_K", out, want, 256);
	/* Q4_K: d = dmin = 1; scales 1..7 and 40, mins 0 except group 7 = 33;
	 * nibbles 1 (low) and 2 (high) */
	struct block_q4_K b4 = {
	    .d = 0x3c00, .dmin = 0x3c00, .scales = {1, 2, 3, 0x84, 0, 0, 0, 0x80, 5, 6, 7, 0x18}};
	memset(b4.qs, 0x21, 128);
	static const float sc[8] = {1, 2, 3, 4, 5, 6, 7, 40}, mn[8] = {0, 0, 0, 0, 0, 0, 0, 33};
	for (int e = 0; e < 256; e++)
		want[e] = sc[e / 32] * ((e / 32) % 2 ? 2.f : 1.f) - mn[e / 32];
	dequant(GGML_TYPE_Q4_K, &b4, out, 256);
	expect_floats("q4_K", out, want, 256);
	/* Q5_K: the same plus qh bit 7 on every byte: group 7 codes + 16 */
	struct block_q5_K b5 = {.d = 0x3c00, .dmin = 0x3c00};
	memcpy(b5.scales, b4.scales, 12);
	memset(b5.qs, 0x21, 128);
	memset(b5.qh, 0x80, 32);
	for (int e = 224; e < 256; e++)
		want[e] = 40.f * 18 - 33;
	dequant(GGML_TYPE_Q5_K, &b5, out, 256);
	expect_floats("q5_K", out, want, 256);
	/* Q6_K: d = 0.5, group g scale g - 8, ql 0x21, qh 0xE4: element
	 * 32k + l of each half has code (nibble | k << 4) - 32 */
	struct block_q6_K b6 = {.d = 0x3800};
	memset(b6.ql, 0x21, 128);
	memset(b6.qh, 0xE4, 64);
	for (int g = 0; g < 16; g++)
		b6.scales[g] = (int8_t)(g - 8);
	static const float code[4] = {1 - 32, (1 | 16) - 32, (2 | 32) - 32, (2 | 48) - 32};
	for (int e = 0; e < 256; e++)
		want[e] = 0.5f * (e / 16 - 8) * code[(e % 128) / 32];
	dequant(GGML_TYPE_Q6_K, &b6, out, 256);
	expect_floats("q6_K", out, want, 256);
	/* Q8_K: d = 0.125, qs = e - 128 */
	struct block_q8_K b8 = {.d = 0.125f};
	for (int e = 0; e < 256; e++) {
		b8.qs[e] = (int8_t)(e - 128);
		want[e] = (e - 128) * 0.125f;
	}
	dequant(GGML_TYPE_Q8_K, &b8, out, 256);
	expect_floats("q8_K", out, want, 256);
}

/* ---- round trips */

struct rt_case {
	int type;
	double max_rel_rms;
};

static void test_quant_round_trip_within_tolerance(void **state)
{
	static const struct rt_case cases[] = {
	    {GGML_TYPE_F32, 0},
	    {GGML_TYPE_F16, 2.1e-4 * 1.15},
	    {GGML_TYPE_BF16, 1.7e-3 * 1.15},
	    {GGML_TYPE_Q8_0, 5.4e-3 * 1.15},
	    {GGML_TYPE_Q8_1, 5.4e-3 * 1.15},
	    {GGML_TYPE_Q8_K, 7.0e-3 * 1.15},
	    {GGML_TYPE_Q6_K, 1.8e-2 * 1.15},
	    {GGML_TYPE_Q5_K, 3.6e-2 * 1.15},
	    {GGML_TYPE_Q5_1, 3.8e-2 * 1.15},
	    {GGML_TYPE_Q5_0, 4.3e-2 * 1.15},
	    {GGML_TYPE_Q4_K, 7.1e-2 * 1.15},
	    {GGML_TYPE_Q4_1, 7.8e-2 * 1.15},
	    {GGML_TYPE_Q4_0, 8.6e-2 * 1.15},
	    {GGML_TYPE_Q3_K, 0.151 * 1.15},
	    {GGML_TYPE_Q2_K, 0.297 * 1.15},
	};
	const int64_t n = 64 * 4096;
	float *x = gauss_array(n, 7);
	float *back = malloc(n * sizeof *back);
	void *q = malloc(n * 4);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const struct quant_traits *t = quant_get_ref(cases[c].type);
		for (int pass = 0; pass < 2; pass++) {
			memset(q, 0xA5, n * 4);
			(pass ? t->from_float : t->quantize)(x, q, n);
			t->to_float(q, back, n);
			double e = rel_rms(back, x, n);
			print_message("  %-5s %s rel RMS %.3g (limit %.3g)\n", t->name,
			              pass ? "from_float" : "quantize  ", e, cases[c].max_rel_rms);
			if (e > cases[c].max_rel_rms)
				fail_msg("%s: rel RMS %g > %g", t->name, e, cases[c].max_rel_rms);
		}
	}
	free(x);
	free(back);
	free(q);
}

/* A constant row, zeros, and a row with one huge value quantize without
 * NaN or inf, and zero rows come back as zeros. */
static void test_quant_degenerate_rows(void **state)
{
	const int64_t n = 512;
	float x[512], back[512];
	uint8_t q[4 * 512];
	for (int i = 0; i < N_TYPES; i++) {
		const struct quant_traits *t = quant_get_ref(all_types[i]);
		for (int kind = 0; kind < 3; kind++) {
			for (int k = 0; k < n; k++)
				x[k] = kind == 0   ? 0.f
				       : kind == 1 ? 0.75f
				                   : (k == 5 ? 3e4f : 1e-3f);
			t->quantize(x, q, n);
			t->to_float(q, back, n);
			for (int k = 0; k < n; k++) {
				if (!isfinite(back[k]))
					fail_msg("%s kind %d: element %d is %g", t->name, kind, k,
					         back[k]);
				if (kind == 0)
					assert_true(back[k] == 0.f);
			}
			if (kind == 1 && all_types[i] != GGML_TYPE_Q2_K)
				assert_true(fabsf(back[3] - 0.75f) < 0.75f * 0.1f);
		}
	}
}

/* The reference dot equals the dot of the dequantized operands. */
static void test_quant_vec_dot_ref_matches_dequantized(void **state)
{
	const int64_t n = 1024 * 32;
	float *x = gauss_array(n, 11), *y = gauss_array(n, 12);
	float *dx = malloc(n * 4), *dy = malloc(n * 4);
	void *qx = malloc(n * 4), *qy = malloc(n * 4);
	for (int i = 0; i < N_TYPES; i++) {
		const struct quant_traits *t = quant_get_ref(all_types[i]);
		const struct quant_traits *v = quant_get_ref(t->vec_dot_type);
		t->quantize(x, qx, n);
		v->from_float(y, qy, n);
		t->to_float(qx, dx, n);
		v->to_float(qy, dy, n);
		double exact = 0, mag = 0;
		for (int64_t k = 0; k < n; k++) {
			exact += (double)dx[k] * dy[k];
			mag += fabs((double)dx[k] * dy[k]);
		}
		float got;
		t->vec_dot(n, &got, qx, qy);
		if (fabs(got - exact) > 1e-5 * mag)
			fail_msg("%s x %s: dot %.9g, dequantized %.9g (mag %g)", t->name, v->name,
			         got, exact, mag);
	}
	free(x);
	free(y);
	free(dx);
	free(dy);
	free(qx);
	free(qy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quant_fp16_every_half_round_trips),
	    cmocka_unit_test(test_quant_fp16_rounding),
	    cmocka_unit_test(test_quant_bf16_rounding),
	    cmocka_unit_test(test_quant_traits_match_layouts),
	    cmocka_unit_test(test_quant_row_size),
	    cmocka_unit_test(test_quant_k4_scales_match_spec),
	    cmocka_unit_test(test_quant_dequant_known_blocks_legacy),
	    cmocka_unit_test(test_quant_dequant_known_blocks_k),
	    cmocka_unit_test(test_quant_round_trip_within_tolerance),
	    cmocka_unit_test(test_quant_degenerate_rows),
	    cmocka_unit_test(test_quant_vec_dot_ref_matches_dequantized),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

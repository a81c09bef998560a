/* quant_avx512.h — inline helpers shared by the AVX-512 kernel files
 * (quant_*_avx512.c, compiled with -mavx512f/bw/vl/dq/vnni): loading and
 * unpacking block codes, VNNI dot steps, group-scale vectors, bfloat16
 * rounding. Include only from files built with those flags. */
#ifndef GPURUN_ENGINE_QUANT_AVX512_H
#define GPURUN_ENGINE_QUANT_AVX512_H

#include <immintrin.h>

#include "engine/quant_internal.h"

static inline __m512i load512(const void *p)
{
	return _mm512_loadu_si512(p);
}

/* 64 activations of two consecutive 32-element blocks' qs. */
static inline __m512i pair256(const int8_t *a, const int8_t *b)
{
	__m256i lo = _mm256_loadu_si256((const __m256i *)a);
	__m256i hi = _mm256_loadu_si256((const __m256i *)b);
	return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* The 64 nibble codes of two q4 blocks, each block in element order. */
static inline __m512i nibbles2(const uint8_t *qa, const uint8_t *qb)
{
	__m256i a = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qa));
	__m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qb));
	__m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
	v = _mm512_srlv_epi64(v, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
	return _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
}

/* 0x10 in byte i where bit i of the 64-bit (qh_b << 32 | qh_a) is set. */
static inline __m512i high_bits2(const uint8_t *qha, const uint8_t *qhb)
{
	uint32_t a, b;
	memcpy(&a, qha, 4);
	memcpy(&b, qhb, 4);
	return _mm512_maskz_mov_epi8(((uint64_t)b << 32) | a, _mm512_set1_epi8(0x10));
}

/* Sixteen int32 sums of (code - off) * y, four bytes each. */
static inline __m512i dot_off(__m512i codes, __m512i y, __m512i off, int has_off)
{
	__m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes, y);
	if (!has_off) /* a constant at every call: the branch folds away */
		return p;
	return _mm512_sub_epi32(p, _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, y));
}

/* [a x8 | b x8] from two f16 scales, by broadcast loads from the table. */
static inline __m512 halves2(uint16_t a, uint16_t b)
{
	return _mm512_mask_broadcastss_ps(_mm512_set1_ps(quant__fp16_table[a]), 0xFF00,
	                                  _mm_load_ss(&quant__fp16_table[b]));
}

/* One block with a 256-bit VNNI step: (codes - off) . y as 8 int32. */
static inline __m256 dot1(__m256i codes, const int8_t *yq, __m256i off, int has_off)
{
	__m256i y = _mm256_loadu_si256((const __m256i *)yq);
	__m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), codes, y);
	if (has_off)
		p = _mm256_sub_epi32(p, _mm256_dpbusd_epi32(_mm256_setzero_si256(), off, y));
	return _mm256_cvtepi32_ps(p);
}

static inline __m256i nibbles1(const uint8_t *qs)
{
	__m128i t = _mm_loadu_si128((const __m128i *)qs);
	__m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
	return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

static inline __m256i high_bits1(const uint8_t *qh)
{
	uint32_t a;
	memcpy(&a, qh, 4);
	return _mm256_maskz_mov_epi8(a, _mm256_set1_epi8(0x10));
}

static inline float hsum256(__m256 v)
{
	__m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	h = _mm_add_ps(h, _mm_movehl_ps(h, h));
	h = _mm_add_ss(h, _mm_movehdup_ps(h));
	return _mm_cvtss_f32(h);
}

/* ---- K-quants */

static inline __m256i load256(const void *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

static inline int hsum256_i32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
	return _mm_cvtsi128_si32(s);
}

/* sum over the 16 groups of w[g] * bsums[g]. */
static inline int bsum_dot(const int16_t *bsums, __m256i w16)
{
	return hsum256_i32(_mm256_madd_epi16(load256(bsums), w16));
}

/* Index vectors for vpermw: lane j of a 64-code step takes the scale of
 * group base + j / width (width 8 int16 lanes = 16 codes, or 16 = 32). */
struct scale_idx {
	__m512i v[4];
};

/* Steps of 64 codes cover 4 groups of 16 (Q2_K, Q3_K, Q6_K) or 2 groups
 * of 32 (Q4_K, Q5_K); set by quant__fill_kquants_avx512. */
extern struct scale_idx quant__idx16, quant__idx32;

static inline struct scale_idx quant__make_idx(int groups_per_step, int lanes_per_group)
{
	struct scale_idx r;
	for (int step = 0; step < 4; step++) {
		int16_t lanes[32];
		for (int j = 0; j < 32; j++)
			lanes[j] = (int16_t)(groups_per_step * step + j / lanes_per_group);
		r.v[step] = _mm512_loadu_si512(lanes);
	}
	return r;
}

/* acc += vpdpwssd(maddubs(codes, q8), scales picked from sc16 by idx). */
static inline __m512i mac64(__m512i acc, __m512i codes, const int8_t *q8, __m512i sc16, __m512i idx)
{
	__m512i p = _mm512_maddubs_epi16(codes, load512(q8));
	return _mm512_dpwssd_epi32(acc, p, _mm512_permutexvar_epi16(idx, sc16));
}

/* [v >> a | v >> b] & mask on 16-bit lanes of a 256-bit v doubled. */
static inline __m512i shift2(__m512i v2, int a, int b, __m512i mask)
{
	__m512i cnt =
	    _mm512_inserti64x4(_mm512_set1_epi16((short)a), _mm256_set1_epi16((short)b), 1);
	return _mm512_and_si512(_mm512_srlv_epi16(v2, cnt), mask);
}

static inline __m512i dup256(const uint8_t *p)
{
	return _mm512_broadcast_i64x4(load256(p));
}

/* byte value `val` where bit a (first 32 bytes) / bit b (last 32) of v2 is set */
static inline __m512i bits2(__m512i v2, int a, int b, char val)
{
	__m512i sel = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << a)),
	                                 _mm256_set1_epi8((char)(1 << b)), 1);
	return _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(v2, sel), _mm512_set1_epi8(val));
}

/* The 64 nibble codes of 32 q4_K bytes: low nibbles, then high nibbles. */
static inline __m512i nibbles64(const uint8_t *qs)
{
	const __m256i m4 = _mm256_set1_epi8(0xF);
	__m256i q = load256(qs);
	__m256i lo = _mm256_and_si256(q, m4);
	__m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
	return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

static inline int k4_summs(const struct block_q8_K *y, const uint8_t *mins8)
{
	__m128i m = _mm_loadl_epi64((const __m128i *)mins8);
	return bsum_dot(y->bsums, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m)));
}

/* f32_to_bf16 (quant_legacy_ref.c) of 16 values, as f32: round to nearest
 * even, a NaN quieted (also the AMX form's, quant_amxf_avx512.c). */
static inline __m512 round_bf16(__m512 x)
{
	const __m512i u = _mm512_castps_si512(x);
	__m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
	__m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
	__mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
	r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
	return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u)));
}

#endif

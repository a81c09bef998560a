/* quant_avx2.h — what the avx2 set's gemm kernels (quant_gemm_avx2.c,
 * quant_gemml_avx2.c, quant_gemmk23_avx2.c) share: the decode prefetch of a
 * packed stripe, small vector steps, the packer's lane copy and the Q8_0 /
 * Q8_1 activation block. Include only from files built with the AVX2 flags. */
#ifndef GPURUN_ENGINE_QUANT_AVX2_H
#define GPURUN_ENGINE_QUANT_AVX2_H

#include <immintrin.h>

#include "engine/quant_internal.h"

#define AI static inline __attribute__((always_inline))

/* Columns the kernels take at a time, at most (prefill, by halves). */
#define AVX2_MAX_COLS 8

/* The activation dword at p in every lane. */
AI __m256i bc(const void *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return _mm256_set1_epi32(v);
}

/* v as it is, in a register: GCC may not reassociate a chain of adds
 * across it (a tree of them wants every product live at once). */
AI __m256i pin(__m256i v)
{
	__asm__("" : "+x"(v));
	return v;
}

/* p, as far as GCC knows another pointer: loads through it are not merged
 * with the same loads before (which it would keep in registers, or on the
 * stack, in between). */
AI const uint8_t *fresh(const uint8_t *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

AI __m256i and8(__m256i v, int m)
{
	return _mm256_and_si256(v, _mm256_set1_epi8((char)m));
}

AI __m256i and32(__m256i v, int m)
{
	return _mm256_and_si256(v, _mm256_set1_epi32(m));
}

AI __m256i load(const uint8_t *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

/* The low 16 bits of each lane (f16) as f32. */
AI __m256 f16_lanes(__m256i v)
{
	v = and32(v, 0xFFFF);
	return _mm256_cvtph_ps(
	    _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

/* A vpshufb control (within 128-bit lanes) that takes bytes sel (4 bytes,
 * low first; 0x80: a 0) of each dword into that dword. */
AI __m256i dword_shuffle(uint32_t sel)
{
	return _mm256_add_epi8(_mm256_set1_epi32((int)sel),
	                       _mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0c0c0c0c, 0,
	                                         0x04040404, 0x08080808, 0x0c0c0c0c));
}

/* Eight f16 at p as f32. */
AI __m256 f16x8(const uint8_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/* 32 int32 (four vectors, elements in order) -> 32 int8, saturated. */
AI __m256i pack_i8(__m256i q0, __m256i q1, __m256i q2, __m256i q3)
{
	__m256i v = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
	return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

AI int hsum_i32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
	return _mm_cvtsi128_si32(s);
}

AI float hmax_ps(__m256 v)
{
	__m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	m = _mm_max_ps(m, _mm_movehl_ps(m, m));
	m = _mm_max_ss(m, _mm_movehdup_ps(m));
	return _mm_cvtss_f32(m);
}

AI __m256 abs_ps(__m256 v)
{
	return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

/* v rounded to f16 (to nearest even, as f32_to_fp16) and back. */
AI float f16_round(float v)
{
	return _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT));
}

/* The 32 floats at x as quant_q8_0/q8_1_from_float_ref convert them (scale
 * 127 / amax, rounded half to even by cvtps in the default MXCSR mode):
 * the codes to qs, their sum to *sum; returns amax. */
AI float act_block(const float *x, int8_t *qs, int *sum)
{
	__m256 v[4], mx = _mm256_setzero_ps();
	for (int k = 0; k < 4; k++) {
		v[k] = _mm256_loadu_ps(x + 8 * k);
		mx = _mm256_max_ps(mx, abs_ps(v[k]));
	}
	const float amax = hmax_ps(mx);
	const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
	__m256i q[4];
	for (int k = 0; k < 4; k++)
		q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], id));
	_mm256_storeu_si256((__m256i *)qs, pack_i8(q[0], q[1], q[2], q[3]));
	*sum =
	    hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
	return amax;
}

static inline size_t act8_bytes(int64_t n)
{
	return (size_t)(n / QK8_0) * sizeof(struct act8);
}

/* struct act8 with code offset off: quant_q8_0_from_float_ref's values, d
 * rounded to f16 and back, -off * the sum of the codes. */
static inline void act8_prepare(const float *x, void *vy, int64_t n, int off)
{
	struct act8 *y = vy;
	for (int64_t b = 0; b < n / QK8_0; b++, x += QK8_0) {
		int sum;
		const float amax = act_block(x, y[b].qs, &sum);
		y[b].off = -off * sum;
		y[b].d = f16_round(amax / 127.f);
	}
}

/* The dword at byte off of each of 16 rows (bx bytes apart) into lane r of
 * the 64-byte vector at v (the packed form's r16 vectors). */
AI void put_lanes(uint8_t *v, const uint8_t *x, size_t bx, size_t off)
{
	for (int r = 0; r < 16; r++)
		memcpy(v + 4 * r, x + (size_t)r * bx + off, 4);
}

#endif

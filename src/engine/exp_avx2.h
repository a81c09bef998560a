/* exp_avx2.h — exp.h's e^x for 8 floats, the same float as ops_expf lane
 * by lane: the same operations in the same order, NaN propagating through
 * the clamps (their second operand), and p * 2^n in two exact-or-rounded-
 * once steps, 2^(n >> 1) then 2^(n - (n >> 1)) (both in [-75, 64], so
 * each factor is a normal float and only the last product rounds, as
 * ldexpf). Include only from *_avx2.c files. */
#ifndef GPURUN_ENGINE_EXP_AVX2_H
#define GPURUN_ENGINE_EXP_AVX2_H

#include <immintrin.h>

#include "engine/exp.h"

/* 2^k for integer lanes k in [-126, 127]. */
static inline __attribute__((always_inline)) __m256 exp_pow2_avx2(__m256i k)
{
	return _mm256_castsi256_ps(
	    _mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

static inline __attribute__((always_inline)) __m256 exp8_avx2(__m256 x)
{
	__m256 c = _mm256_max_ps(_mm256_set1_ps(EXP_LO), x);
	c = _mm256_min_ps(_mm256_set1_ps(EXP_HI), c);
	const __m256 n = _mm256_round_ps(_mm256_mul_ps(c, _mm256_set1_ps(EXP_LOG2E)),
	                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), c);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), r);
	__m256 p = _mm256_fmadd_ps(_mm256_set1_ps(EXP_C7), r, _mm256_set1_ps(EXP_C6));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C5));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C4));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C3));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C2));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	const __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1);
	p = _mm256_mul_ps(p, exp_pow2_avx2(n1));
	return _mm256_mul_ps(p, exp_pow2_avx2(_mm256_sub_epi32(ni, n1)));
}

#endif

/* exp_avx512.h — exp.h's e^x for 16 floats, the same float as ops_expf
 * lane by lane (the same operations in the same order; NaN propagates
 * through the clamps because they take it as their second operand).
 * Include only from *_avx512.c files. */
#ifndef GPURUN_ENGINE_EXP_AVX512_H
#define GPURUN_ENGINE_EXP_AVX512_H

#include <immintrin.h>

#include "engine/exp.h"

static inline __attribute__((always_inline)) __m512 exp16_avx512(__m512 x)
{
	__m512 c = _mm512_max_ps(_mm512_set1_ps(EXP_LO), x);
	c = _mm512_min_ps(_mm512_set1_ps(EXP_HI), c);
	const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(c, _mm512_set1_ps(EXP_LOG2E)),
	                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), c);
	r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), r);
	__m512 p = _mm512_fmadd_ps(_mm512_set1_ps(EXP_C7), r, _mm512_set1_ps(EXP_C6));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C5));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C4));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C3));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C2));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
	return _mm512_scalef_ps(p, n);
}

#endif

/* exp_avx512.h — e^x of 8 floats for the AVX-512 files (attention's
 * softmax, SiLU): evaluated in double and rounded once to float, by range
 * reduction with ln 2 (split in two parts) and a degree-11 Taylor
 * polynomial (relative error below 2^-45), so the float is the correctly
 * rounded e^x but in cases rarer than one in 2^20, as libm's expf.
 * Arguments are clamped to [-104, 89]: below, the float result is 0;
 * above, it would overflow. Include only from *_avx512.c files. */
#ifndef GPURUN_ENGINE_EXP_AVX512_H
#define GPURUN_ENGINE_EXP_AVX512_H

#include <immintrin.h>

static inline __attribute__((always_inline)) __m256 exp8_avx512(__m256 xf)
{
	__m256 c = _mm256_min_ps(_mm256_max_ps(xf, _mm256_set1_ps(-104.0f)), _mm256_set1_ps(89.0f));
	__m512d x = _mm512_cvtps_pd(c);
	__m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)),
	                                 _MM_FROUND_TO_NEAREST_INT);
	__m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(0.6931471805599453), x);
	r = _mm512_fnmadd_pd(n, _mm512_set1_pd(2.3190468138462996e-17), r);
	static const double k[12] = {1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320,
	                             1.0 / 5040,     1.0 / 720,     1.0 / 120,    1.0 / 24,
	                             1.0 / 6,        0.5,           1.0,          1.0};
	__m512d p = _mm512_set1_pd(k[0]);
	for (int j = 1; j < 12; j++)
		p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(k[j]));
	return _mm512_cvtpd_ps(_mm512_scalef_pd(p, n));
}

#endif

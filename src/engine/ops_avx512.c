/* ops_avx512.c — AVX-512 variants of the two per-row operations prefill
 * spends time in (ops.c picks them by cpuid): RMSNorm with the sum of
 * squares in double (eight lanes, then a fixed tree), and SiLU gating with
 * e^-x evaluated in double and rounded once (the value of libm's expf but
 * in cases rarer than one in 2^20). Same formulas as ops.c. */
#include <immintrin.h>
#include <math.h>

#include "engine/engine_internal.h"

#define AI static inline __attribute__((always_inline))

void ops__rmsnorm_avx512(float *y, const float *x, const float *w, int64_t n, float eps)
{
	__m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 v = _mm512_loadu_ps(x + i);
		__m512 sq = _mm512_mul_ps(v, v); /* the square rounded to float, as ops.c */
		s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
		s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(sq, 1)));
	}
	double sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
	for (int64_t j = i; j < n; j++)
		sum += (double)(x[j] * x[j]);
	const float mean = (float)(sum / (double)n);
	const __m512 scale = _mm512_set1_ps(1.0f / sqrtf(mean + eps));
	for (i = 0; i + 16 <= n; i += 16)
		_mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), scale),
		                                      _mm512_loadu_ps(w + i)));
	const float sc = 1.0f / sqrtf(mean + eps);
	for (; i < n; i++)
		y[i] = (x[i] * sc) * w[i];
}

/* e^x of 8 floats in double, rounded once (|x| <= 104 clamps). */
AI __m256 exp8(__m256 xf)
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

void ops__silu_mul_avx512(float *g, const float *u, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 x = _mm256_loadu_ps(g + i);
		__m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
		__m256 s = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
		_mm256_storeu_ps(g + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
	}
	for (; i < n; i++)
		g[i] = (g[i] / (1.0f + expf(-g[i]))) * u[i];
}

/* ops_avx512.c — AVX-512 variants of the per-row operations prefill
 * spends time in (ops.c picks them by cpuid): RMSNorm with the sum of
 * squares in double (eight lanes, then a fixed tree), SiLU gating with
 * exp.h's e^-x, and the residual add. Same formulas and the same floats
 * as ops.c. */
#include <immintrin.h>
#include <math.h>

#include "engine/engine_internal.h"
#include "engine/exp_avx512.h"

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

void ops__silu_mul_avx512(float *g, const float *u, int64_t n)
{
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 x = _mm512_loadu_ps(g + i);
		__m512 e = exp16_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x));
		__m512 s = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
		_mm512_storeu_ps(g + i, _mm512_mul_ps(s, _mm512_loadu_ps(u + i)));
	}
	for (; i < n; i++)
		g[i] = (g[i] / (1.0f + ops_expf(-g[i]))) * u[i];
}

void ops__add_avx512(float *x, const float *y, int64_t n)
{
	int64_t i = 0;
	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(x + i, _mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
	if (i < n) {
		const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
		_mm512_mask_storeu_ps(x + i, m,
		                      _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i),
		                                    _mm512_maskz_loadu_ps(m, y + i)));
	}
}

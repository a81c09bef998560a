/* ops_avx512.c — AVX-512 variants of the per-row operations prefill
 * spends time in (ops.c picks them by cpuid): RMSNorm with the sum of
 * squares in double (eight lanes, then a fixed tree), SiLU gating with
 * exp.h's e^-x, RoPE and the residual add. Same formulas and the same
 * floats as ops.c (RoPE: each product rounded, then the sum, no fused
 * multiply-add). */
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

/* The rotation of 8 pairs: x even lanes a, odd lanes b (normal mode), cs
 * the pairs' (cos, sin) likewise: (a c - b s, a s + b c) as ops.c's,
 * whose second sum is b c + a s in the other order (exact either way). */
AI __m512 rope8(__m512 x, __m512 cs)
{
	const __m512 c = _mm512_moveldup_ps(cs), s = _mm512_movehdup_ps(cs);
	const __m512 t1 = _mm512_mul_ps(x, c);
	const __m512 t2 = _mm512_mul_ps(_mm512_permute_ps(x, 0xB1), s);
	return _mm512_mask_add_ps(_mm512_sub_ps(t1, t2), (__mmask16)0xAAAA, t1, t2);
}

void ops__rope_avx512(float *x, const float *cs, int n_rot, enum rope_mode mode)
{
	int i = 0;
	if (mode == ROPE_NORMAL) {
		for (; i + 16 <= n_rot; i += 16)
			_mm512_storeu_ps(x + i,
			                 rope8(_mm512_loadu_ps(x + i), _mm512_loadu_ps(cs + i)));
	} else {
		/* pair j: x[j] and x[j + half], cs[2j], cs[2j + 1] */
		const int half = n_rot / 2;
		const __m512i ev =
		    _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
		const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
		for (; 2 * i + 32 <= n_rot; i += 16) {
			const __m512 c0 = _mm512_loadu_ps(cs + 2 * i),
			             c1 = _mm512_loadu_ps(cs + 2 * i + 16);
			const __m512 c = _mm512_permutex2var_ps(c0, ev, c1);
			const __m512 s = _mm512_permutex2var_ps(c0, od, c1);
			const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + half);
			_mm512_storeu_ps(x + i,
			                 _mm512_sub_ps(_mm512_mul_ps(a, c), _mm512_mul_ps(b, s)));
			_mm512_storeu_ps(x + i + half,
			                 _mm512_add_ps(_mm512_mul_ps(a, s), _mm512_mul_ps(b, c)));
		}
		i *= 2; /* the pairs left, from element i of the rotated dims */
	}
	ops__rope_from(x, cs, n_rot, mode, i);
}

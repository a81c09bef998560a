/* ops_avx2.c — AVX2 variants of ops_avx512.c's row operations, for CPUs
 * without AVX-512 (ops.c picks them by cpuid): RMSNorm with the sum of
 * squares in double (four lanes, then a fixed tree), SiLU gating with
 * exp.h's e^-x (exp_avx2.h: the same float as ops_expf), RoPE and the
 * residual add. Same formulas and the same floats as ops.c but for
 * RMSNorm's double sum order (RoPE: each product rounded, then the sum). */
#include <immintrin.h>
#include <math.h>

#include "engine/engine_internal.h"
#include "engine/exp_avx2.h"

void ops__rmsnorm_avx2(float *y, const float *x, const float *w, int64_t n, float eps)
{
	__m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);
		__m256 sq = _mm256_mul_ps(v, v); /* the square rounded to float, as ops.c */
		s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
		s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
	}
	__m256d s = _mm256_add_pd(s0, s1);
	__m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
	double sum = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
	for (int64_t j = i; j < n; j++)
		sum += (double)(x[j] * x[j]);
	const float mean = (float)(sum / (double)n);
	const float sc = 1.0f / sqrtf(mean + eps);
	const __m256 scale = _mm256_set1_ps(sc);
	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), scale),
		                                      _mm256_loadu_ps(w + i)));
	for (; i < n; i++)
		y[i] = (x[i] * sc) * w[i];
}

void ops__silu_mul_avx2(float *g, const float *u, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 x = _mm256_loadu_ps(g + i);
		__m256 e = exp8_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
		__m256 s = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
		_mm256_storeu_ps(g + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
	}
	for (; i < n; i++)
		g[i] = (g[i] / (1.0f + ops_expf(-g[i]))) * u[i];
}

void ops__add_avx2(float *x, const float *y, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i,
		                 _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		x[i] += y[i];
}

void ops__rope_avx2(float *x, const float *cs, int n_rot, enum rope_mode mode)
{
	int i = 0;
	if (mode == ROPE_NORMAL) {
		/* 4 pairs: x even lanes a, odd lanes b, cs likewise (cos, sin):
		 * (a c - b s, a s + b c), ops.c's second sum in the other order
		 * (exact either way) */
		for (; i + 8 <= n_rot; i += 8) {
			const __m256 v = _mm256_loadu_ps(x + i), k = _mm256_loadu_ps(cs + i);
			const __m256 t1 = _mm256_mul_ps(v, _mm256_moveldup_ps(k));
			const __m256 t2 =
			    _mm256_mul_ps(_mm256_permute_ps(v, 0xB1), _mm256_movehdup_ps(k));
			_mm256_storeu_ps(x + i, _mm256_blend_ps(_mm256_sub_ps(t1, t2),
			                                        _mm256_add_ps(t1, t2), 0xAA));
		}
	} else {
		/* pair j: x[j] and x[j + half], cs[2j], cs[2j + 1] */
		const int half = n_rot / 2;
		const __m256i ev = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
		for (; 2 * i + 16 <= n_rot; i += 8) {
			/* the 8 (cos, sin) pairs split into 8 cos and 8 sin */
			const __m256 c0 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(cs + 2 * i), ev);
			const __m256 c1 =
			    _mm256_permutevar8x32_ps(_mm256_loadu_ps(cs + 2 * i + 8), ev);
			const __m256 c = _mm256_permute2f128_ps(c0, c1, 0x20);
			const __m256 s = _mm256_permute2f128_ps(c0, c1, 0x31);
			const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + half);
			_mm256_storeu_ps(x + i,
			                 _mm256_sub_ps(_mm256_mul_ps(a, c), _mm256_mul_ps(b, s)));
			_mm256_storeu_ps(x + i + half,
			                 _mm256_add_ps(_mm256_mul_ps(a, s), _mm256_mul_ps(b, c)));
		}
		i *= 2; /* the pairs left, from element i of the rotated dims */
	}
	ops__rope_from(x, cs, n_rot, mode, i);
}

/* attention_avx2.c — the AVX2 variant of attn__group (attention.c), for
 * CPUs without AVX-512: the scores of up to 8 query heads against 8 cache
 * positions per step (one load of transposed K feeds every head's FMA), a
 * vector softmax (exp_avx2.h: the same float as the portable path's e^x;
 * the sum in double, in order), and P V with 8 heads x 8 dimensions of
 * accumulators per pass over V. Each score is a sum over d in order, each
 * output a sum over positions in order, so a row's result does not depend
 * on the batch, the tile or the thread (several rows take this path one
 * at a time). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "engine/exp_avx2.h"

#define AI static inline __attribute__((always_inline))

/* Elements i .. i + 7 of a cache row as f32; past `left` (< 8) zero. */
AI __m256 load8(const struct attn_args *a, const uint8_t *base, int64_t i, int64_t left)
{
	if (left >= 8) {
		if (a->f16)
			return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(base + 2 * i)));
		return _mm256_loadu_ps((const float *)(base + 4 * i));
	}
	_Alignas(32) uint8_t t[32] = {0};
	if (left > 0)
		memcpy(t, base + a->es * (size_t)i, a->es * (size_t)left);
	return a->f16 ? _mm256_cvtph_ps(_mm_load_si128((const __m128i *)t))
	              : _mm256_load_ps((float *)t);
}

/* Stores the first k (1..8) lanes of v at p. */
AI void store_n(float *p, __m256 v, int64_t k)
{
	if (k >= 8) {
		_mm256_storeu_ps(p, v);
		return;
	}
	_Alignas(32) float t[8];
	_mm256_store_ps(t, v);
	memcpy(p, t, sizeof(float) * (size_t)k);
}

AI __m256 round_kv(const struct attn_args *a, __m256 x)
{
	if (!a->f16)
		return x;
	return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* Raw scores of heads [h0, h0 + nh) (q in a->qf) into sc[h * n + p]. */
AI void scores(const struct attn_args *a, int h0, const int nh)
{
	const float *q = a->qf;
	for (int64_t p0 = 0; p0 < a->n; p0 += 8) {
		__m256 acc[8];
#pragma GCC unroll 8
		for (int h = 0; h < nh; h++)
			acc[h] = _mm256_setzero_ps();
		for (int d = 0; d < a->dk; d++) {
			__m256 k =
			    load8(a, a->kt + (size_t)d * a->kt_ld * a->es, a->k0 + p0, a->n - p0);
#pragma GCC unroll 8
			for (int h = 0; h < nh; h++)
				acc[h] = _mm256_fmadd_ps(_mm256_set1_ps(q[(size_t)h * a->dk + d]),
				                         k, acc[h]);
		}
#pragma GCC unroll 8
		for (int h = 0; h < nh; h++)
			store_n(a->sc + (size_t)(h0 + h) * a->n + p0, acc[h], a->n - p0);
	}
}

/* n scores of one head to probabilities (rounded to the KV type), in place. */
static void softmax(const struct attn_args *a, float *sc, int64_t n)
{
	if (a->softcap > 0.0f)
		for (int64_t p = 0; p < n; p++)
			sc[p] = tanhf(sc[p] * (1.0f / a->softcap)) * a->softcap;
	float max = -INFINITY;
	for (int64_t p = 0; p < n; p++) {
		sc[p] *= a->scale;
		max = sc[p] > max ? sc[p] : max;
	}
	const __m256 mx = _mm256_set1_ps(max);
	double sum = 0.0;
	int64_t p = 0;
	for (; p + 8 <= n; p += 8) {
		_mm256_storeu_ps(sc + p, exp8_avx2(_mm256_sub_ps(_mm256_loadu_ps(sc + p), mx)));
		for (int j = 0; j < 8; j++)
			sum += (double)sc[p + j];
	}
	for (; p < n; p++) {
		sc[p] = ops_expf(sc[p] - max);
		sum += (double)sc[p];
	}
	const float inv = (float)(1.0 / sum);
	for (p = 0; p + 8 <= n; p += 8)
		_mm256_storeu_ps(sc + p, round_kv(a, _mm256_mul_ps(_mm256_loadu_ps(sc + p),
		                                                   _mm256_set1_ps(inv))));
	for (; p < n; p++) {
		float w = sc[p] * inv;
		sc[p] = a->f16 ? _cvtsh_ss(_cvtss_sh(w, _MM_FROUND_TO_NEAREST_INT)) : w;
	}
}

/* out of heads [h0, h0 + nh) = P V over the n positions, 8 dimensions per
 * pass over V. */
AI void pv(const struct attn_args *a, int h0, const int nh)
{
	for (int d0 = 0; d0 < a->dv; d0 += 8) {
		__m256 acc[8];
#pragma GCC unroll 8
		for (int h = 0; h < nh; h++)
			acc[h] = _mm256_setzero_ps();
		for (int64_t j = 0; j < a->n; j++) {
			const uint8_t *row = a->v + (size_t)(a->k0 + j) * a->v_ld * a->es;
			const __m256 v = load8(a, row, d0, a->dv - d0);
#pragma GCC unroll 8
			for (int h = 0; h < nh; h++)
				acc[h] = _mm256_fmadd_ps(
				    _mm256_set1_ps(a->sc[(size_t)(h0 + h) * a->n + j]), v, acc[h]);
		}
#pragma GCC unroll 8
		for (int h = 0; h < nh; h++)
			store_n(a->out + (size_t)(h0 + h) * a->dv + d0, acc[h], a->dv - d0);
	}
}

AI void heads(const struct attn_args *a, int h0, const int nh)
{
	for (int h = 0; h < nh; h++) /* q rounded to the KV type, as llama.cpp */
		for (int d = 0; d < a->dk; d += 8) {
			const float *src = a->q + (size_t)(h0 + h) * a->dk + d;
			_Alignas(32) float t[8] = {0};
			memcpy(t, src, sizeof(float) * (size_t)(a->dk - d < 8 ? a->dk - d : 8));
			store_n(a->qf + (size_t)h * a->dk + d, round_kv(a, _mm256_load_ps(t)),
			        a->dk - d);
		}
	scores(a, h0, nh);
	for (int h = 0; h < nh; h++)
		softmax(a, a->sc + (size_t)(h0 + h) * a->n, a->n);
	pv(a, h0, nh);
}

void attn__group_avx2(const struct attn_args *a)
{
#define HEADS(h0, k) heads(a, h0, k)
	ATTN_HEAD_GROUPS(a->nq, HEADS);
#undef HEADS
}

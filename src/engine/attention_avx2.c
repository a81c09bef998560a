/* attention_avx2.c — the AVX2 variant of attn__group (attention.c), for
 * CPUs without AVX-512: the scores of up to 8 query heads against 8 cache
 * positions per step (one load of a K block's row feeds every head's FMA), a
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

/* Positions of V per step of P V (8 KiB of an F16 head of 64); V rows are
 * prefetched V_PF positions ahead, K a block ahead (as attention_avx512.c). */
#define PV_BLK 64
#define V_PF   16

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

/* Floats p[0 .. 7] as a vector; past `left` (< 8) zero. */
AI __m256 load8f(const float *p, int64_t left)
{
	if (left >= 8)
		return _mm256_loadu_ps(p);
	_Alignas(32) float t[8] = {0};
	memcpy(t, p, sizeof(float) * (size_t)left);
	return _mm256_load_ps(t);
}

/* Lanes [lo, hi) of v to p + lo .. p + hi - 1. */
AI void store_lanes(float *p, __m256 v, int64_t lo, int64_t hi)
{
	if (lo <= 0 && hi >= 8) {
		_mm256_storeu_ps(p, v);
		return;
	}
	_Alignas(32) float t[8];
	_mm256_store_ps(t, v);
	lo = lo < 0 ? 0 : lo;
	hi = hi > 8 ? 8 : hi;
	if (hi > lo)
		memcpy(p + lo, t + lo, sizeof(float) * (size_t)(hi - lo));
}

/* Stores the first k (1..8) lanes of v at p. */
AI void store_n(float *p, __m256 v, int64_t k)
{
	store_lanes(p, v, 0, k);
}

AI __m256 round_kv(const struct attn_args *a, __m256 x)
{
	if (!a->f16)
		return x;
	return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* Raw scores of heads [h0, h0 + nh) (q in a->qf) into sc[h * n + p]: a K
 * block (a row of KV_BLK positions per dimension, 4 KiB in F16) at a time,
 * 8 positions per pass over its rows (in L1 after the first). A pass's
 * scores start at its first position, up to KV_BLK - 1 floats before a
 * head's row (ATTN_SC_PAD); only positions k0 .. k1 are stored. */
AI void scores(const struct attn_args *a, int h0, const int nh)
{
	const float *q = a->qf;
	const int64_t k1 = a->k0 + a->n - 1;
	const size_t blk = (size_t)a->dk * KV_BLK * a->es;
	for (int64_t b0 = a->k0 / KV_BLK * KV_BLK; b0 <= k1; b0 += KV_BLK) {
		const uint8_t *kb = a->kt + (size_t)(b0 / KV_BLK) * blk;
		for (int j = 0; j < KV_BLK && b0 + j <= k1; j += 8) {
			const int64_t p0 = b0 + j;
			if (p0 + 7 < a->k0)
				continue;
			__m256 acc[8];
#pragma GCC unroll 8
			for (int h = 0; h < nh; h++)
				acc[h] = _mm256_setzero_ps();
			for (int d = 0; d < a->dk; d++) {
				const uint8_t *row = kb + (size_t)d * KV_BLK * a->es;
				if (j == 0) /* the next block's row, while this one is read */
					for (size_t l = 0; l < KV_BLK * a->es; l += 64)
						_mm_prefetch((const char *)row + blk + l,
						             _MM_HINT_T0);
				__m256 k = load8(a, row, j, k1 - p0 + 1);
#pragma GCC unroll 8
				for (int h = 0; h < nh; h++)
					acc[h] = _mm256_fmadd_ps(
					    _mm256_set1_ps(q[(size_t)h * a->dk + d]), k, acc[h]);
			}
#pragma GCC unroll 8
			for (int h = 0; h < nh; h++)
				store_lanes(a->sc + (size_t)(h0 + h) * a->n + (p0 - a->k0), acc[h],
				            a->k0 - p0, k1 - p0 + 1);
		}
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

/* out of heads [h0, h0 + nh) = P V over the n positions: V a block of
 * PV_BLK positions at a time (in L1 after its first 8 dimensions), 8
 * dimensions per pass over the block, the sums carried in out from block
 * to block (each output a sum over positions in order). */
AI void pv(const struct attn_args *a, int h0, const int nh)
{
	for (int64_t b0 = 0; b0 < a->n; b0 += PV_BLK) {
		const int64_t be = a->n - b0 < PV_BLK ? a->n : b0 + PV_BLK;
		for (int d0 = 0; d0 < a->dv; d0 += 8) {
			__m256 acc[8];
#pragma GCC unroll 8
			for (int h = 0; h < nh; h++)
				acc[h] = b0 == 0 ? _mm256_setzero_ps()
				                 : load8f(a->out + (size_t)(h0 + h) * a->dv + d0,
				                          a->dv - d0);
			for (int64_t j = b0; j < be; j++) {
				const uint8_t *row = a->v + (size_t)(a->k0 + j) * a->v_ld * a->es;
				if (d0 == 0) /* a row V_PF positions on */
					for (size_t l = 0; l < (size_t)a->dv * a->es; l += 64)
						_mm_prefetch((const char *)row +
						                 V_PF * a->v_ld * a->es + l,
						             _MM_HINT_T0);
				const __m256 v = load8(a, row, d0, a->dv - d0);
#pragma GCC unroll 8
				for (int h = 0; h < nh; h++)
					acc[h] = _mm256_fmadd_ps(
					    _mm256_set1_ps(a->sc[(size_t)(h0 + h) * a->n + j]), v,
					    acc[h]);
			}
#pragma GCC unroll 8
			for (int h = 0; h < nh; h++)
				store_n(a->out + (size_t)(h0 + h) * a->dv + d0, acc[h], a->dv - d0);
		}
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

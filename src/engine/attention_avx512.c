/* attention_avx512.c — AVX-512 variant of attn__group (attention.c): the
 * scores of up to 8 query heads against 16 cache positions per step (one
 * load of transposed K feeds every head's FMA), a vector softmax (exp in
 * double, rounded once: libm's expf but in rare cases; the sum in double), and
 * P V with 8 heads x 32 dimensions of accumulators per pass over V. Each
 * score is sum over d in order, each output sum over positions in order, so
 * a row's result does not depend on the batch or the thread. */
#include <immintrin.h>
#include <math.h>

#include "engine/engine_internal.h"
#include "engine/exp_avx512.h"

#define AI static inline __attribute__((always_inline))

AI __m512 load16(const struct attn_args *a, const uint8_t *base, int64_t i, __mmask16 m)
{
	if (a->f16)
		return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, base + 2 * i));
	return _mm512_maskz_loadu_ps(m, base + 4 * i);
}

AI __mmask16 tail(int64_t left)
{
	if (left <= 0)
		return 0;
	return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

/* e^x for x <= 0 (softmax arguments); 0 below the f32 range. */
AI __m512 exp16(__m512 x)
{
	__m256 lo = exp8_avx512(_mm512_castps512_ps256(x));
	__m256 hi = exp8_avx512(_mm512_extractf32x8_ps(x, 1));
	return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

AI __m512 round_kv(const struct attn_args *a, __m512 x)
{
	if (!a->f16)
		return x;
	return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* Raw scores of heads [h0, h0 + nh) for every position into sc[h * n + p]. */
AI void scores(const struct attn_args *a, int h0, const int nh)
{
	const float *q = a->qf;
	for (int64_t p0 = 0; p0 < a->n; p0 += 16) {
		__mmask16 m = tail(a->n - p0);
		__m512 acc[8];
		for (int h = 0; h < nh; h++)
			acc[h] = _mm512_setzero_ps();
		for (int d = 0; d < a->dk; d++) {
			__m512 k = load16(a, a->kt + (size_t)d * a->kt_ld * a->es, a->k0 + p0, m);
			for (int h = 0; h < nh; h++)
				acc[h] = _mm512_fmadd_ps(_mm512_set1_ps(q[(size_t)h * a->dk + d]),
				                         k, acc[h]);
		}
		for (int h = 0; h < nh; h++)
			_mm512_mask_storeu_ps(a->sc + (size_t)(h0 + h) * a->n + p0, m, acc[h]);
	}
}

/* Scores of one head to probabilities (rounded to the KV type), in place. */
static void softmax(const struct attn_args *a, float *sc)
{
	if (a->softcap > 0.0f)
		for (int64_t p = 0; p < a->n; p++)
			sc[p] = tanhf(sc[p] * (1.0f / a->softcap)) * a->softcap;
	const __m512 scale = _mm512_set1_ps(a->scale);
	__m512 mx = _mm512_set1_ps(-INFINITY);
	for (int64_t p = 0; p < a->n; p += 16) {
		__mmask16 m = tail(a->n - p);
		__m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, sc + p), scale);
		_mm512_mask_storeu_ps(sc + p, m, v);
		mx = _mm512_mask_max_ps(mx, m, mx, v);
	}
	const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
	__m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
	for (int64_t p = 0; p < a->n; p += 16) {
		__mmask16 m = tail(a->n - p);
		__m512 e =
		    _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(_mm512_loadu_ps(sc + p), max)));
		_mm512_mask_storeu_ps(sc + p, m, e);
		s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
		s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
	}
	const __m512 inv =
	    _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(s0, s1))));
	for (int64_t p = 0; p < a->n; p += 16) {
		__mmask16 m = tail(a->n - p);
		_mm512_mask_storeu_ps(sc + p, m,
		                      round_kv(a, _mm512_mul_ps(_mm512_loadu_ps(sc + p), inv)));
	}
}

/* out of heads [h0, h0 + nh) = P V, 32 dimensions per pass over V. */
AI void pv(const struct attn_args *a, int h0, const int nh)
{
	for (int d0 = 0; d0 < a->dv; d0 += 32) {
		__mmask16 m0 = tail(a->dv - d0), m1 = tail(a->dv - d0 - 16);
		__m512 acc[8][2];
		for (int h = 0; h < nh; h++)
			acc[h][0] = acc[h][1] = _mm512_setzero_ps();
		for (int64_t p = 0; p < a->n; p++) {
			const uint8_t *row = a->v + (size_t)(a->k0 + p) * a->v_ld * a->es;
			__m512 v0 = load16(a, row, d0, m0), v1 = load16(a, row, d0 + 16, m1);
			for (int h = 0; h < nh; h++) {
				__m512 w = _mm512_set1_ps(a->sc[(size_t)(h0 + h) * a->n + p]);
				acc[h][0] = _mm512_fmadd_ps(w, v0, acc[h][0]);
				acc[h][1] = _mm512_fmadd_ps(w, v1, acc[h][1]);
			}
		}
		for (int h = 0; h < nh; h++) {
			float *o = a->out + (size_t)(h0 + h) * a->dv + d0;
			_mm512_mask_storeu_ps(o, m0, acc[h][0]);
			_mm512_mask_storeu_ps(o + 16, m1, acc[h][1]);
		}
	}
}

AI void heads(const struct attn_args *a, int h0, const int nh)
{
	for (int h = 0; h < nh; h++) /* q rounded to the KV type, as llama.cpp */
		for (int d = 0; d < a->dk; d += 16) {
			__mmask16 m = tail(a->dk - d);
			__m512 x = _mm512_maskz_loadu_ps(m, a->q + (size_t)(h0 + h) * a->dk + d);
			_mm512_mask_storeu_ps(a->qf + (size_t)h * a->dk + d, m, round_kv(a, x));
		}
	scores(a, h0, nh);
	for (int h = 0; h < nh; h++)
		softmax(a, a->sc + (size_t)(h0 + h) * a->n);
	pv(a, h0, nh);
}

void attn__group_avx512(const struct attn_args *a)
{
	for (int h0 = 0; h0 < a->nq; h0 += 8) {
		int nh = a->nq - h0 < 8 ? a->nq - h0 : 8;
		switch (nh) {
		case 1: heads(a, h0, 1); break;
		case 2: heads(a, h0, 2); break;
		case 3: heads(a, h0, 3); break;
		case 4: heads(a, h0, 4); break;
		case 5: heads(a, h0, 5); break;
		case 6: heads(a, h0, 6); break;
		case 7: heads(a, h0, 7); break;
		default: heads(a, h0, 8); break;
		}
	}
}

/* attention_avx512.c — AVX-512 variants of attn__group and attn__group_rows
 * (attention.c). One row: the scores of up to 8 query heads against a K
 * block of 32 positions per step (each line of the block, one dimension's
 * positions, converted once for every head), a vector softmax (exp.h's
 * e^x, the same float as the portable path's; the sum in double), and P V
 * with 8 heads x 32 dimensions of accumulators over 64 positions of V at a
 * time. Several rows: K and V converted to f32 once per block of positions
 * for all of them. Each score is a sum over d in order, each output a sum
 * over positions in order, the softmax the same per row, so a row's result
 * does not depend on the batch, the tile or the thread. */
#include <immintrin.h>
#include <math.h>

#include "engine/engine_internal.h"
#include "engine/exp_avx512.h"

#define AI static inline __attribute__((always_inline))

/* Positions of V per step of decode's P V (8 KiB of an F16 head of 64). */
#define PV_BLK 64
/* Decode streams the cache with prefetches two ways, as the weights
 * (quant_r16_avx512.h): into L1 a little ahead (K: the next block, V: 16
 * positions) and into L2 further (K: 3 blocks, V: 96 positions). Each K
 * block is a page of its own (4 KiB in F16), where the hardware's
 * prefetcher starts over. Against none, Q4_0 tg32 at depth 4096 went from
 * 32.5 to 34-36 tok/s (into L1 alone) or 33.6-35 (both ways). */
#define K_PF_FAR  3
#define V_PF_NEAR 16
#define V_PF_FAR  96

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

AI __m512 round_kv(const struct attn_args *a, __m512 x)
{
	if (!a->f16)
		return x;
	return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* Lanes of positions p .. p + 15 inside [k0, k1]. */
static inline __mmask16 lanes(int64_t p, int64_t k0, int64_t k1)
{
	return (__mmask16)(tail(k1 - p + 1) & ~tail(k0 - p));
}

/* Raw scores of heads [h0, h0 + nh) for every position into sc[h * n + p]:
 * a K block at a time (one line of KV_BLK positions per dimension, read in
 * order), each line converted once for every head. A block's scores are
 * stored from its first position on, up to KV_BLK - 1 floats before a
 * head's row (ATTN_SC_PAD), only the lanes of positions k0 .. k1. */
AI void scores(const struct attn_args *a, int h0, const int nh)
{
	_Static_assert(KV_BLK == 32, "a K block row is two vectors of positions");
	const float *q = a->qf;
	const int64_t k1 = a->k0 + a->n - 1;
	const size_t blk = (size_t)a->dk * KV_BLK * a->es;
	for (int64_t b0 = a->k0 / KV_BLK * KV_BLK; b0 <= k1; b0 += KV_BLK) {
		const uint8_t *kb = a->kt + (size_t)(b0 / KV_BLK) * blk;
		const __mmask16 m0 = lanes(b0, a->k0, k1), m1 = lanes(b0 + 16, a->k0, k1);
		__m512 acc[8][2];
#pragma GCC unroll 8
		for (int h = 0; h < nh; h++)
			acc[h][0] = acc[h][1] = _mm512_setzero_ps();
		for (int d = 0; d < a->dk; d++) {
			const uint8_t *row = kb + (size_t)d * KV_BLK * a->es;
			for (size_t l = 0; l < KV_BLK * a->es; l += 64) {
				_mm_prefetch((const char *)row + blk + l, _MM_HINT_T0);
				_mm_prefetch((const char *)row + K_PF_FAR * blk + l, _MM_HINT_T1);
			}
			const __m512 k0 = load16(a, row, 0, m0), k16 = load16(a, row, 16, m1);
#pragma GCC unroll 8
			for (int h = 0; h < nh; h++) {
				const __m512 qd = _mm512_set1_ps(q[(size_t)h * a->dk + d]);
				acc[h][0] = _mm512_fmadd_ps(qd, k0, acc[h][0]);
				acc[h][1] = _mm512_fmadd_ps(qd, k16, acc[h][1]);
			}
		}
#pragma GCC unroll 8
		for (int h = 0; h < nh; h++) {
			float *o = a->sc + (size_t)(h0 + h) * a->n + (b0 - a->k0);
			_mm512_mask_storeu_ps(o, m0, acc[h][0]);
			_mm512_mask_storeu_ps(o + 16, m1, acc[h][1]);
		}
	}
}

/* n scores of one head to probabilities (rounded to the KV type), in place;
 * reads (never uses) up to 15 floats past sc + n. */
static void softmax(const struct attn_args *a, float *sc, int64_t n)
{
	if (a->softcap > 0.0f)
		for (int64_t p = 0; p < n; p++)
			sc[p] = tanhf(sc[p] * (1.0f / a->softcap)) * a->softcap;
	const __m512 scale = _mm512_set1_ps(a->scale);
	__m512 mx = _mm512_set1_ps(-INFINITY);
	for (int64_t p = 0; p < n; p += 16) {
		__mmask16 m = tail(n - p);
		__m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, sc + p), scale);
		_mm512_mask_storeu_ps(sc + p, m, v);
		mx = _mm512_mask_max_ps(mx, m, mx, v);
	}
	const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
	__m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
	for (int64_t p = 0; p < n; p += 16) {
		__mmask16 m = tail(n - p);
		__m512 e = _mm512_maskz_mov_ps(
		    m, exp16_avx512(_mm512_sub_ps(_mm512_loadu_ps(sc + p), max)));
		_mm512_mask_storeu_ps(sc + p, m, e);
		s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
		s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
	}
	const __m512 inv =
	    _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(s0, s1))));
	for (int64_t p = 0; p < n; p += 16) {
		__mmask16 m = tail(n - p);
		_mm512_mask_storeu_ps(sc + p, m,
		                      round_kv(a, _mm512_mul_ps(_mm512_loadu_ps(sc + p), inv)));
	}
}

/* The prefetches of decode's V row at `row` (V_PF_NEAR). */
AI void v_prefetch(const struct attn_args *a, const uint8_t *row)
{
	const size_t rb = a->v_ld * a->es;
	for (size_t l = 0; l < (size_t)a->dv * a->es; l += 64) {
		_mm_prefetch((const char *)row + V_PF_NEAR * rb + l, _MM_HINT_T0);
		_mm_prefetch((const char *)row + V_PF_FAR * rb + l, _MM_HINT_T1);
	}
}

/* out of heads [h0, h0 + nh) += P V over np positions (weights w[h * a->n
 * + j]), starting from zero when first, 32 dimensions per pass over V: V
 * converted in vb (row stride ldv, dimensions past dv zero) or, cached,
 * straight from the cache from position p0 on. */
AI void pv_block(const struct attn_args *a, float *out, const float *w, int h0, const int nh,
                 const float *vb, int ldv, int64_t p0, int np, bool first, const bool cached)
{
	for (int d0 = 0; d0 < a->dv; d0 += 32) {
		__mmask16 m0 = tail(a->dv - d0), m1 = tail(a->dv - d0 - 16);
		__m512 acc[8][2];
#pragma GCC unroll 8
		for (int h = 0; h < nh; h++) {
			float *o = out + (size_t)(h0 + h) * a->dv + d0;
			acc[h][0] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, o);
			acc[h][1] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, o + 16);
		}
		for (int j = 0; j < np; j++) {
			__m512 v0, v1;
			if (!cached) {
				v0 = _mm512_loadu_ps(vb + (size_t)j * ldv + d0);
				v1 = _mm512_loadu_ps(vb + (size_t)j * ldv + d0 + 16);
			} else {
				const uint8_t *row = a->v + (size_t)(p0 + j) * a->v_ld * a->es;
				if (d0 == 0)
					v_prefetch(a, row);
				v0 = load16(a, row, d0, m0);
				v1 = load16(a, row, d0 + 16, m1);
			}
#pragma GCC unroll 8
			for (int h = 0; h < nh; h++) {
				__m512 wv = _mm512_set1_ps(w[(size_t)(h0 + h) * a->n + j]);
				acc[h][0] = _mm512_fmadd_ps(wv, v0, acc[h][0]);
				acc[h][1] = _mm512_fmadd_ps(wv, v1, acc[h][1]);
			}
		}
#pragma GCC unroll 8
		for (int h = 0; h < nh; h++) {
			float *o = out + (size_t)(h0 + h) * a->dv + d0;
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
		softmax(a, a->sc + (size_t)(h0 + h) * a->n, a->n);
	/* V a block of positions at a time, in L1 for its second 32
	 * dimensions; the sums carried in out from block to block */
	for (int64_t p0 = 0; p0 < a->n; p0 += PV_BLK) {
		const int np = a->n - p0 < PV_BLK ? (int)(a->n - p0) : PV_BLK;
		pv_block(a, a->out, a->sc + p0, h0, nh, NULL, 0, a->k0 + p0, np, p0 == 0, true);
	}
}

void attn__group_avx512(const struct attn_args *a)
{
#define HEADS(h0, k) heads(a, h0, k)
	ATTN_HEAD_GROUPS(a->nq, HEADS);
#undef HEADS
}

/* ---- several rows of one sequence (attn__group_rows) ---- */

_Static_assert(ATTN_KV_BLOCK == 32 && KV_BLK == 32, "a block of K is two vectors of positions");

static inline int64_t min64(int64_t x, int64_t y)
{
	return x < y ? x : y;
}

/* K(d, p0 .. p0 + np - 1) as f32 into kb[d * 32 + j], lanes past np zero;
 * p0 starts a K block. */
static void conv_k(const struct attn_args *a, int64_t p0, int np, float *kb)
{
	const __mmask16 m0 = tail(np), m1 = tail(np - 16);
	const uint8_t *blk = a->kt + (size_t)(p0 / KV_BLK) * a->dk * KV_BLK * a->es;
	for (int d = 0; d < a->dk; d++) {
		const uint8_t *row = blk + (size_t)d * KV_BLK * a->es;
		_mm512_storeu_ps(kb + d * 32, load16(a, row, 0, m0));
		_mm512_storeu_ps(kb + d * 32 + 16, load16(a, row, 16, m1));
	}
}

/* V(p0 + j, d) as f32 into vb[j * ldv + d], dimensions past dv zero. */
static void conv_v(const struct attn_args *a, int64_t p0, int np, float *vb, int ldv)
{
	for (int d = 0; d < ldv; d += 16) {
		const __mmask16 m = tail(a->dv - d);
		const uint8_t *row = a->v + (size_t)p0 * a->v_ld * a->es;
		for (int j = 0; j < np; j++, row += a->v_ld * a->es)
			_mm512_storeu_ps(vb + (size_t)j * ldv + d, load16(a, row, d, m));
	}
}

/* Scores of N queries (qt[d * 16 + j], j < N) against the 16 positions of
 * kb (row stride 32), stored into ss[j] where ms[j] says. */
AI void qk16(const float *kb, const float *qt, int dk, const int N, float *const *ss,
             const __mmask16 *ms)
{
	__m512 acc[16];
#pragma GCC unroll 16
	for (int j = 0; j < N; j++)
		acc[j] = _mm512_setzero_ps();
	for (int d = 0; d < dk; d++) {
		__m512 k = _mm512_loadu_ps(kb + d * 32);
#pragma GCC unroll 16
		for (int j = 0; j < N; j++)
			acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(qt[d * 16 + j]), k, acc[j]);
	}
#pragma GCC unroll 16
	for (int j = 0; j < N; j++)
		_mm512_mask_storeu_ps(ss[j], ms[j], acc[j]);
}

/* Queries [j0, j0 + nj) of the tile (query r * nq + h: head h of row r)
 * against positions p .. p + 15, K in kb. */
static void qk_group(const struct attn_args *a, const struct attn_row *rows, int j0, int nj,
                     int64_t p, const float *kb, const float *qt)
{
	float *ss[16];
	__mmask16 ms[16], any = 0;
	for (int j = 0; j < nj; j++) {
		const struct attn_row *r = &rows[(j0 + j) / a->nq];
		ms[j] = lanes(p, r->k0, r->k1);
		ss[j] = a->sc + (size_t)(j0 + j) * a->n + (p - a->k0);
		any |= ms[j];
	}
	if (!any)
		return;
	switch (nj) {
	case 1: qk16(kb, qt, a->dk, 1, ss, ms); break;
	case 2: qk16(kb, qt, a->dk, 2, ss, ms); break;
	case 3: qk16(kb, qt, a->dk, 3, ss, ms); break;
	case 4: qk16(kb, qt, a->dk, 4, ss, ms); break;
	case 5: qk16(kb, qt, a->dk, 5, ss, ms); break;
	case 6: qk16(kb, qt, a->dk, 6, ss, ms); break;
	case 7: qk16(kb, qt, a->dk, 7, ss, ms); break;
	case 8: qk16(kb, qt, a->dk, 8, ss, ms); break;
	case 9: qk16(kb, qt, a->dk, 9, ss, ms); break;
	case 10: qk16(kb, qt, a->dk, 10, ss, ms); break;
	case 11: qk16(kb, qt, a->dk, 11, ss, ms); break;
	case 12: qk16(kb, qt, a->dk, 12, ss, ms); break;
	case 13: qk16(kb, qt, a->dk, 13, ss, ms); break;
	case 14: qk16(kb, qt, a->dk, 14, ss, ms); break;
	case 15: qk16(kb, qt, a->dk, 15, ss, ms); break;
	default: qk16(kb, qt, a->dk, 16, ss, ms); break;
	}
}

/* q of every query rounded to the KV type, in groups of 16 transposed:
 * query j's element d at qt[(j / 16 * dk + d) * 16 + j % 16]. */
static void rows_q(const struct attn_args *a, const struct attn_row *rows, int nr, float *qt)
{
	float t[16];
	for (int j = 0; j < nr * a->nq; j++) {
		const float *q = rows[j / a->nq].q + (size_t)(j % a->nq) * a->dk;
		float *o = qt + (size_t)(j / 16) * a->dk * 16 + j % 16;
		for (int d = 0; d < a->dk; d += 16) {
			__mmask16 m = tail(a->dk - d);
			_mm512_storeu_ps(t, round_kv(a, _mm512_maskz_loadu_ps(m, q + d)));
			if (d + 16 <= a->dk)
				for (int i = 0; i < 16; i++)
					o[(size_t)(d + i) * 16] = t[i];
			else
				for (int i = 0; d + i < a->dk; i++)
					o[(size_t)(d + i) * 16] = t[i];
		}
	}
}

static void rows_scores(const struct attn_args *a, const struct attn_row *rows, int nr,
                        const float *qt, float *kb)
{
	const int nj = nr * a->nq;
	const int64_t end = a->k0 + a->n;
	/* whole K blocks: a block's scores start up to ATTN_SC_PAD before
	 * a->sc, never stored outside a row's k0 .. k1 */
	for (int64_t p0 = a->k0 / KV_BLK * KV_BLK; p0 < end; p0 += 32) {
		int np = (int)min64(32, end - p0);
		conv_k(a, p0, np, kb);
		for (int hb = 0; hb < np; hb += 16)
			for (int j0 = 0; j0 < nj; j0 += 16)
				qk_group(a, rows, j0, nj - j0 < 16 ? nj - j0 : 16, p0 + hb, kb + hb,
				         qt + (size_t)j0 * a->dk);
	}
}

/* Row r's part of P V for the block of V at p0 (np positions in vb). */
static void pv_row(const struct attn_args *a, const struct attn_row *r, const float *w, int64_t p0,
                   int np, const float *vb, int ldv)
{
	int64_t b = r->k0 > p0 ? r->k0 : p0, e = min64(r->k1, p0 + np - 1);
	if (b > e)
		return;
	w += b - a->k0;
	vb += (size_t)(b - p0) * ldv;
	const int n = (int)(e - b + 1);
	const bool first = b == r->k0;
#define PV(h0, k) pv_block(a, r->out, w, h0, k, vb, ldv, 0, n, first, false)
	ATTN_HEAD_GROUPS(a->nq, PV);
#undef PV
}

void attn__rows_avx512(const struct attn_args *a, const struct attn_row *rows, int n_rows)
{
	const int nq = a->nq, ldv = (a->dv + 31) & ~31;
	const int64_t end = a->k0 + a->n;
	rows_q(a, rows, n_rows, a->qf);
	rows_scores(a, rows, n_rows, a->qf, a->kv);
	for (int r = 0; r < n_rows; r++)
		for (int h = 0; h < nq; h++)
			softmax(a, a->sc + ((size_t)r * nq + h) * a->n + (rows[r].k0 - a->k0),
			        rows[r].k1 - rows[r].k0 + 1);
	for (int64_t p0 = a->k0; p0 < end; p0 += 32) {
		int np = (int)min64(32, end - p0);
		conv_v(a, p0, np, a->kv, ldv);
		for (int r = 0; r < n_rows; r++)
			pv_row(a, &rows[r], a->sc + (size_t)r * nq * a->n, p0, np, a->kv, ldv);
	}
}

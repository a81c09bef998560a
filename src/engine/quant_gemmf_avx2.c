/* quant_gemmf_avx2.c — the avx2 set's F16 and BF16 weights: their vec_dot
 * and a gemm kernel (quant.h quant_gemm_fn) that computes the same numbers:
 * one 8-lane FMA chain over 8-element steps, reduced by hsum8, then the
 * last n % 8 products added one by one. (The chain is one, not several, so
 * that a register tile holds one accumulator per row and column.) Tiles of
 * 8 rows by 1 activation row, or 4 rows by up to 3; for prefill the weight
 * rows are converted to f32 in 512-element chunks (16 KiB for 8 rows: L1)
 * and the chains of every column are parked between chunks, so each loaded
 * activation feeds 4 FMAs and each weight 3. The weight format is the
 * constant B of every helper (0: f16, 1: bf16). Activations: the F16- or
 * BF16-rounded values (the vec_dot_type's), as f32. Built with -mavx2
 * -mfma -mf16c; chosen at run time by quant.c. */
#include "engine/quant_internal.h"

#include <immintrin.h>

#define AI     static inline __attribute__((always_inline))
#define RB     8   /* rows per converted chunk, and per decode tile */
#define RT     4   /* rows per tile of 2 or 3 columns */
#define CB     3   /* columns per tile */
#define KCF    512 /* elements per converted chunk */
#define COLS   64  /* columns per parked group */
#define UNROLL _Pragma("GCC unroll 8")

AI float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

AI __m256 h8(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

AI float h1(uint16_t h)
{
	return _cvtsh_ss(h);
}

/* bf16 values as f32 (exact) */
AI __m256 b8(const uint16_t *p)
{
	__m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
	return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

AI float b1(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* Weights of format B (0: f16, 1: bf16) as f32. */
AI __m256 w8(const uint16_t *p, const int B)
{
	return B ? b8(p) : h8(p);
}

AI float w1(uint16_t h, const int B)
{
	return B ? b1(h) : h1(h);
}

/* The chain's tail: sum plus the products of elements [k, n), in order. */
AI float tail(float sum, const uint16_t *w, const float *a, int64_t k, int64_t n, const int B)
{
	for (; k < n; k++)
		sum += w1(w[k], B) * a[k];
	return sum;
}

/* f16 or bf16 prepared rows: n f32 values */
static size_t f16_act_bytes(int64_t n)
{
	return (size_t)n * sizeof(float);
}

static void f16_act_prepare(const float *x, void *vy, int64_t n)
{
	float *y = vy;
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
		_mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
	}
	for (; i < n; i++)
		y[i] = h1(f32_to_fp16(x[i]));
}

/* f32_to_bf16 (quant_legacy_ref.c) of 8 values, as f32: round to nearest
 * even, a NaN quieted. */
AI __m256 round_bf16(__m256 x)
{
	const __m256i u = _mm256_castps_si256(x);
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
	__m256i r = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
	__m256i q = _mm256_or_si256(u, _mm256_set1_epi32(0x400000));
	__m256 v = _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(q),
	                            _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
	return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32((int)0xffff0000u)));
}

static void bf16_act_prepare(const float *x, void *vy, int64_t n)
{
	float *y = vy;
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, round_bf16(_mm256_loadu_ps(x + i)));
	for (; i < n; i++)
		y[i] = b1(f32_to_bf16(x[i]));
}

/* The chains of R rows x C columns over elements [k0, k1) (multiples of 8):
 * weights as rows of format B (w16, ldw elements apart) or as the f32
 * chunk w32 (KCF apart, element k at k - k0); activation rows lda floats
 * apart. */
AI void chains(__m256 acc[RB][CB], const uint16_t *w16, size_t ldw, const float *w32,
               const float *a, size_t lda, int64_t k0, int64_t k1, const int R, const int C,
               const int B, const uint16_t *pf)
{
	for (int64_t k = k0; k < k1; k += 8) {
		__m256 y[CB];
		if (pf && !(k & 31))
			UNROLL for (int r = 0; r < R; r++)
				_mm_prefetch((const char *)(pf + (size_t)r * ldw + k), _MM_HINT_T1);
		UNROLL for (int c = 0; c < C; c++) y[c] = _mm256_loadu_ps(a + (size_t)c * lda + k);
		UNROLL for (int r = 0; r < R; r++)
		{
			__m256 w = w32 ? _mm256_load_ps(w32 + (size_t)r * KCF + (k - k0))
			               : w8(w16 + (size_t)r * ldw + k, B);
			UNROLL for (int c = 0; c < C; c++) acc[r][c] =
			    _mm256_fmadd_ps(w, y[c], acc[r][c]);
		}
	}
}

/* Reduce the chains and add the tail elements [k, n). */
AI void finish(__m256 acc[RB][CB], const uint16_t *w16, size_t ldw, const float *a, size_t lda,
               int64_t k, int64_t n, float *s, size_t lds, const int R, const int C, const int B)
{
	UNROLL for (int r = 0; r < R; r++) UNROLL for (int c = 0; c < C; c++)
	    s[(size_t)c * lds + (size_t)r] =
	        tail(hsum8(acc[r][c]), w16 + (size_t)r * ldw, a + (size_t)c * lda, k, n, B);
}

/* R rows by C columns, weights converted as they stream. */
AI void tile(int64_t n, const uint16_t *w, size_t ldw, const float *a, size_t lda, float *s,
             size_t lds, const int R, const int C, const int B, const uint16_t *pf)
{
	__m256 acc[RB][CB];
	UNROLL for (int r = 0; r < R; r++) UNROLL for (int c = 0; c < C; c++) acc[r][c] =
	    _mm256_setzero_ps();
	const int64_t k1 = n & ~(int64_t)7;
	chains(acc, w, ldw, NULL, a, lda, 0, k1, R, C, B, pf);
	finish(acc, w, ldw, a, lda, k1, n, s, lds, R, C, B);
}

/* Decode: R rows (RB, RT or 1) against nc columns, up to CB at a time. */
AI void direct(int64_t n, const uint16_t *w, size_t ldw, const float *a, size_t lda, int64_t nc,
               float *s, size_t lds, const int R, const int B)
{
	for (int64_t c0 = 0; c0 < nc; c0 += CB) {
		const float *ac = a + (size_t)c0 * lda;
		float *sc = s + (size_t)c0 * lds;
		if (nc - c0 >= 3)
			tile(n, w, ldw, ac, lda, sc, lds, R, 3, B, NULL);
		else if (nc - c0 == 2)
			tile(n, w, ldw, ac, lda, sc, lds, R, 2, B, NULL);
		else
			tile(n, w, ldw, ac, lda, sc, lds, R, 1, B, NULL);
	}
}

/* Prefill: RB rows by nc (<= COLS) columns, as two tiles of RT rows per
 * column group; chains parked in `park` between chunks. */
AI void converted(int64_t n, const uint16_t *w, size_t ldw, const float *a, size_t lda, int64_t nc,
                  float *s, size_t lds, const int B)
{
	_Alignas(32) float buf[RB * KCF];
	_Alignas(32) __m256 park[COLS / CB + 1][RB][CB];
	const int64_t k1 = n & ~(int64_t)7;
	for (int64_t k0 = 0; k0 < k1; k0 += KCF) {
		int64_t ke = k0 + KCF < k1 ? k0 + KCF : k1;
		for (int r = 0; r < RB; r++)
			for (int64_t k = k0; k < ke; k += 8)
				_mm256_store_ps(buf + (size_t)r * KCF + (k - k0),
				                w8(w + (size_t)r * ldw + k, B));
		for (int64_t c0 = 0, t = 0; c0 < nc; c0 += CB, t++) {
			if (k0 == 0)
				for (int r = 0; r < RB; r++)
					for (int c = 0; c < CB; c++)
						park[t][r][c] = _mm256_setzero_ps();
			const float *ac = a + (size_t)c0 * lda;
			for (int h = 0; h < RB; h += RT) {
				__m256(*acc)[CB] = park[t] + h;
				const float *bh = buf + (size_t)h * KCF;
				if (nc - c0 >= CB)
					chains(acc, NULL, 0, bh, ac, lda, k0, ke, RT, CB, B, NULL);
				else if (nc - c0 == 2)
					chains(acc, NULL, 0, bh, ac, lda, k0, ke, RT, 2, B, NULL);
				else
					chains(acc, NULL, 0, bh, ac, lda, k0, ke, RT, 1, B, NULL);
			}
		}
	}
	for (int64_t c0 = 0, t = 0; c0 < nc; c0 += CB, t++) {
		const float *ac = a + (size_t)c0 * lda;
		float *sc = s + (size_t)c0 * lds;
		if (nc - c0 >= CB)
			finish(park[t], w, ldw, ac, lda, k1, n, sc, lds, RB, CB, B);
		else if (nc - c0 == 2)
			finish(park[t], w, ldw, ac, lda, k1, n, sc, lds, RB, 2, B);
		else
			finish(park[t], w, ldw, ac, lda, k1, n, sc, lds, RB, 1, B);
	}
}

AI void gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *vx, size_t bx,
             const void *va, size_t ba, const int B)
{
	const uint8_t *x = vx;
	const float *a = va;
	const size_t ldw = bx / 2, lda = ba / sizeof(float);
	int64_t r = 0;
	for (; r + RB <= nr; r += RB) {
		const uint16_t *w = (const uint16_t *)(x + (size_t)r * bx);
		if (nc == 1) { /* decode: the next tile's rows prefetched (as avx512's) */
			tile(n, w, ldw, a, lda, s + r, lds, RB, 1, B, w + RB * ldw);
		} else if (nc <= CB) {
			direct(n, w, ldw, a, lda, nc, s + r, lds, RT, B);
			direct(n, w + RT * ldw, ldw, a, lda, nc, s + r + RT, lds, RT, B);
		} else {
			for (int64_t c0 = 0; c0 < nc; c0 += COLS)
				converted(n, w, ldw, a + (size_t)c0 * lda, lda,
				          nc - c0 < COLS ? nc - c0 : COLS, s + (size_t)c0 * lds + r,
				          lds, B);
		}
	}
	for (; r < nr; r++)
		direct(n, (const uint16_t *)(x + (size_t)r * bx), ldw, a, lda, nc, s + r, lds, 1,
		       B);
}

static void f16_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *x,
                     size_t bx, const void *a, size_t ba)
{
	gemm(n, nr, nc, s, lds, x, bx, a, ba, 0);
}

static void bf16_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *x,
                      size_t bx, const void *a, size_t ba)
{
	gemm(n, nr, nc, s, lds, x, bx, a, ba, 1);
}

/* The same numbers for one row and an activation row of format B. */
AI void dot(int64_t n, float *s, const uint16_t *x, const uint16_t *y, const int B)
{
	__m256 acc = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		acc = _mm256_fmadd_ps(w8(x + i, B), w8(y + i, B), acc);
	float sum = hsum8(acc);
	for (; i < n; i++)
		sum += w1(x[i], B) * w1(y[i], B);
	*s = sum;
}

static void f16_vec_dot(int64_t n, float *s, const void *x, const void *y)
{
	dot(n, s, x, y, 0);
}

static void bf16_vec_dot(int64_t n, float *s, const void *x, const void *y)
{
	dot(n, s, x, y, 1);
}

void quant__fill_gemmf_avx2(struct quant_traits *t)
{
	t[GGML_TYPE_F16].vec_dot = f16_vec_dot;
	t[GGML_TYPE_F16].act_bytes = f16_act_bytes;
	t[GGML_TYPE_F16].act_prepare = f16_act_prepare;
	t[GGML_TYPE_F16].gemm = f16_gemm;
	/* column chunks of 3 MiB of f32 activations, as the avx512 set's FMA
	 * path: the kernel blocks 64 columns x 512 elements itself */
	t[GGML_TYPE_F16].gemm_chunk = (size_t)3 << 20;
	t[GGML_TYPE_BF16].vec_dot = bf16_vec_dot;
	t[GGML_TYPE_BF16].act_bytes = f16_act_bytes;
	t[GGML_TYPE_BF16].act_prepare = bf16_act_prepare;
	t[GGML_TYPE_BF16].gemm = bf16_gemm;
	t[GGML_TYPE_BF16].gemm_chunk = (size_t)3 << 20;
}

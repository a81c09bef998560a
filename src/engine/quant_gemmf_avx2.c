/* quant_gemmf_avx2.c — the avx2 set's F16 weights: its vec_dot and a gemm
 * kernel (quant.h quant_gemm_fn) that computes the same numbers: one
 * 8-lane FMA chain over 8-element steps, reduced by hsum8, then the last
 * n % 8 products added one by one. (The chain is one, not several, so that
 * a register tile holds one accumulator per row and column.) Tiles of 8
 * rows by 1 activation row, or 4 rows by up to 3; for prefill the weight
 * rows are converted to f32 in 512-element chunks (16 KiB for 8 rows: L1)
 * and the chains of every column are parked between chunks, so each loaded
 * activation feeds 4 FMAs and each weight 3. Activations: the F16-rounded
 * values (the vec_dot_type's), as f32. Built with -mavx2 -mfma -mf16c;
 * chosen at run time by quant.c. */
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

/* The chain's tail: sum plus the products of elements [k, n), in order. */
AI float tail(float sum, const uint16_t *w, const float *a, int64_t k, int64_t n)
{
	for (; k < n; k++)
		sum += h1(w[k]) * a[k];
	return sum;
}

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

/* The chains of R rows x C columns over elements [k0, k1) (multiples of 8):
 * weights as f16 rows (w16, ldw elements apart) or as the f32 chunk w32
 * (KCF apart, element k at k - k0); activation rows lda floats apart. */
AI void chains(__m256 acc[RB][CB], const uint16_t *w16, size_t ldw, const float *w32,
               const float *a, size_t lda, int64_t k0, int64_t k1, const int R, const int C)
{
	for (int64_t k = k0; k < k1; k += 8) {
		__m256 y[CB];
		UNROLL for (int c = 0; c < C; c++) y[c] = _mm256_loadu_ps(a + (size_t)c * lda + k);
		UNROLL for (int r = 0; r < R; r++)
		{
			__m256 w = w32 ? _mm256_load_ps(w32 + (size_t)r * KCF + (k - k0))
			               : h8(w16 + (size_t)r * ldw + k);
			UNROLL for (int c = 0; c < C; c++) acc[r][c] =
			    _mm256_fmadd_ps(w, y[c], acc[r][c]);
		}
	}
}

/* Reduce the chains and add the tail elements [k, n). */
AI void finish(__m256 acc[RB][CB], const uint16_t *w16, size_t ldw, const float *a, size_t lda,
               int64_t k, int64_t n, float *s, size_t lds, const int R, const int C)
{
	UNROLL for (int r = 0; r < R; r++) UNROLL for (int c = 0; c < C; c++)
	    s[(size_t)c * lds + (size_t)r] =
	        tail(hsum8(acc[r][c]), w16 + (size_t)r * ldw, a + (size_t)c * lda, k, n);
}

/* R rows by C columns, weights converted as they stream. */
AI void tile(int64_t n, const uint16_t *w, size_t ldw, const float *a, size_t lda, float *s,
             size_t lds, const int R, const int C)
{
	__m256 acc[RB][CB];
	UNROLL for (int r = 0; r < R; r++) UNROLL for (int c = 0; c < C; c++) acc[r][c] =
	    _mm256_setzero_ps();
	const int64_t k1 = n & ~(int64_t)7;
	chains(acc, w, ldw, NULL, a, lda, 0, k1, R, C);
	finish(acc, w, ldw, a, lda, k1, n, s, lds, R, C);
}

/* Decode: R rows (RB, RT or 1) against nc columns, up to CB at a time. */
AI void direct(int64_t n, const uint16_t *w, size_t ldw, const float *a, size_t lda, int64_t nc,
               float *s, size_t lds, const int R)
{
	for (int64_t c0 = 0; c0 < nc; c0 += CB) {
		const float *ac = a + (size_t)c0 * lda;
		float *sc = s + (size_t)c0 * lds;
		if (nc - c0 >= 3)
			tile(n, w, ldw, ac, lda, sc, lds, R, 3);
		else if (nc - c0 == 2)
			tile(n, w, ldw, ac, lda, sc, lds, R, 2);
		else
			tile(n, w, ldw, ac, lda, sc, lds, R, 1);
	}
}

/* Prefill: RB rows by nc (<= COLS) columns, as two tiles of RT rows per
 * column group; chains parked in `park` between chunks. */
static void converted(int64_t n, const uint16_t *w, size_t ldw, const float *a, size_t lda,
                      int64_t nc, float *s, size_t lds)
{
	_Alignas(32) float buf[RB * KCF];
	_Alignas(32) __m256 park[COLS / CB + 1][RB][CB];
	const int64_t k1 = n & ~(int64_t)7;
	for (int64_t k0 = 0; k0 < k1; k0 += KCF) {
		int64_t ke = k0 + KCF < k1 ? k0 + KCF : k1;
		for (int r = 0; r < RB; r++)
			for (int64_t k = k0; k < ke; k += 8)
				_mm256_store_ps(buf + (size_t)r * KCF + (k - k0),
				                h8(w + (size_t)r * ldw + k));
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
					chains(acc, NULL, 0, bh, ac, lda, k0, ke, RT, CB);
				else if (nc - c0 == 2)
					chains(acc, NULL, 0, bh, ac, lda, k0, ke, RT, 2);
				else
					chains(acc, NULL, 0, bh, ac, lda, k0, ke, RT, 1);
			}
		}
	}
	for (int64_t c0 = 0, t = 0; c0 < nc; c0 += CB, t++) {
		const float *ac = a + (size_t)c0 * lda;
		float *sc = s + (size_t)c0 * lds;
		if (nc - c0 >= CB)
			finish(park[t], w, ldw, ac, lda, k1, n, sc, lds, RB, CB);
		else if (nc - c0 == 2)
			finish(park[t], w, ldw, ac, lda, k1, n, sc, lds, RB, 2);
		else
			finish(park[t], w, ldw, ac, lda, k1, n, sc, lds, RB, 1);
	}
}

static void f16_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *vx,
                     size_t bx, const void *va, size_t ba)
{
	const uint8_t *x = vx;
	const float *a = va;
	const size_t ldw = bx / 2, lda = ba / sizeof(float);
	int64_t r = 0;
	for (; r + RB <= nr; r += RB) {
		const uint16_t *w = (const uint16_t *)(x + (size_t)r * bx);
		if (nc == 1) {
			tile(n, w, ldw, a, lda, s + r, lds, RB, 1);
		} else if (nc <= CB) {
			direct(n, w, ldw, a, lda, nc, s + r, lds, RT);
			direct(n, w + RT * ldw, ldw, a, lda, nc, s + r + RT, lds, RT);
		} else {
			for (int64_t c0 = 0; c0 < nc; c0 += COLS)
				converted(n, w, ldw, a + (size_t)c0 * lda, lda,
				          nc - c0 < COLS ? nc - c0 : COLS, s + (size_t)c0 * lds + r,
				          lds);
		}
	}
	for (; r < nr; r++)
		direct(n, (const uint16_t *)(x + (size_t)r * bx), ldw, a, lda, nc, s + r, lds, 1);
}

/* The same numbers for one row and an f16 activation row. */
static void f16_vec_dot(int64_t n, float *s, const void *vx, const void *vy)
{
	const uint16_t *x = vx, *y = vy;
	__m256 acc = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		acc = _mm256_fmadd_ps(h8(x + i), h8(y + i), acc);
	float sum = hsum8(acc);
	for (; i < n; i++)
		sum += h1(x[i]) * h1(y[i]);
	*s = sum;
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
}

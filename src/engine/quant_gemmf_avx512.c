/* quant_gemmf_avx512.c — gemm kernel (quant.h quant_gemm_fn) for F16 and
 * BF16 weights on AVX-512, and the avx512 set's F16 and BF16 vec_dot,
 * which compute the same numbers: one 16-lane FMA chain over 16-element
 * steps, reduced with _mm512_reduce_add_ps, then the last n % 16 products
 * added one by one. Register tiles of up to 8 weight rows by 3 activation
 * rows; for prefill the rows are converted to f32 in 512-element chunks
 * (16 KiB: L1) and the chains of every column are parked between chunks,
 * so each loaded activation feeds 8 FMAs and each weight 3. The weight
 * format is the constant B of every helper (0: f16, 1: bf16).
 * Activations: the F16- or BF16-rounded values (what llama.cpp's
 * vec_dot_type holds), as f32 — or, where AMX-BF16 runs the prefill
 * (quant_amxf_avx512.c: its tiles load them in place), BF16's as bf16 and
 * F16's split into bfloat16 pairs. */
#include <immintrin.h>

#include "engine/quant_avx512.h"

#define AI     static inline __attribute__((always_inline))
#define RB     8   /* rows per tile */
#define CB     3   /* columns per tile */
#define KCF    512 /* elements per converted chunk (1024: 0.89x on pp512) */
#define COLS   64  /* columns per parked group */
#define UNROLL _Pragma("GCC unroll 8")

/* f16 or bf16 prepared rows: n f32 values */
static size_t f16_act_bytes(int64_t n)
{
	return (size_t)n * sizeof(float);
}

static void f16_act_prepare(const float *x, void *vy, int64_t n)
{
	float *y = vy;
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
		_mm512_storeu_ps(y + i, _mm512_cvtph_ps(h));
	}
	for (; i < n; i++)
		y[i] = fp16_to_f32(f32_to_fp16(x[i]));
}

AI __m512 h16(const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

/* bf16 values as f32 (exact) */
AI __m512 b16(const uint8_t *p)
{
	return _mm512_castsi512_ps(
	    _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

AI float b1(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* Weights of format B (0: f16, 1: bf16) as f32. */
AI __m512 w16(const uint16_t *p, const int B)
{
	return B ? b16((const uint8_t *)p) : h16(p);
}

AI float w1(uint16_t h, const int B)
{
	return B ? b1(h) : fp16_to_f32(h);
}

static void bf16_act_prepare(const float *x, void *vy, int64_t n)
{
	float *y = vy;
	int64_t i = 0;
	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(y + i, round_bf16(_mm512_loadu_ps(x + i)));
	for (; i < n; i++)
		y[i] = b1(f32_to_bf16(x[i]));
}

/* Activation elements k..k+15 (k a multiple of 16) of a prepared row: f32
 * (X = 0), or the AMX machines' forms (quant_amxf_avx512.c): split (X = 1:
 * per 32-element block 32 bf16 high parts, then their rests; hi + lo is
 * the F16 value exactly) or bf16 (X = 2). The same values in each. */
AI __m512 act16(const uint8_t *a, int64_t k, const int X)
{
	if (!X)
		return _mm512_loadu_ps((const float *)a + k);
	if (X == 2)
		return b16(a + 2 * k);
	const uint8_t *p = a + (k >> 5) * QUANT_F16X_BLOCK + (k & 16) * 2;
	return _mm512_add_ps(b16(p), b16(p + 64));
}

AI float act1(const uint8_t *a, int64_t k, const int X)
{
	if (!X)
		return ((const float *)a)[k];
	if (X == 2)
		return b1(((const uint16_t *)a)[k]);
	const uint16_t *p = (const uint16_t *)(a + (k >> 5) * QUANT_F16X_BLOCK) + (k & 31);
	return bf16_to_f32(p[0]) + bf16_to_f32(p[32]);
}

/* The chains of R rows x C columns over elements [k0, k1) (multiples of 16):
 * weights as rows of format B (wb, ldw elements apart) or as the f32
 * chunk w32 (KCF apart, element k at k - k0); activation rows lda bytes
 * apart. */
AI void chains(__m512 acc[RB][CB], const uint16_t *wb, size_t ldw, const float *w32,
               const uint8_t *a, size_t lda, int64_t k0, int64_t k1, const int R, const int C,
               const int X, const int B, const uint16_t *pf)
{
	for (int64_t k = k0; k < k1; k += 16) {
		__m512 y[CB];
		if (pf && !(k & 31))
			UNROLL for (int r = 0; r < R; r++)
				_mm_prefetch((const char *)(pf + (size_t)r * ldw + k), _MM_HINT_T1);
		UNROLL for (int c = 0; c < C; c++) y[c] = act16(a + (size_t)c * lda, k, X);
		UNROLL for (int r = 0; r < R; r++)
		{
			__m512 w = w32 ? _mm512_load_ps(w32 + (size_t)r * KCF + (k - k0))
			               : w16(wb + (size_t)r * ldw + k, B);
			UNROLL for (int c = 0; c < C; c++) acc[r][c] =
			    _mm512_fmadd_ps(w, y[c], acc[r][c]);
		}
	}
}

/* Reduce the chains and add the tail elements [k, n). */
AI void finish(__m512 acc[RB][CB], const uint16_t *wb, size_t ldw, const uint8_t *a, size_t lda,
               int64_t k, int64_t n, float *s, size_t lds, const int R, const int C, const int X,
               const int B)
{
	UNROLL for (int r = 0; r < R; r++) UNROLL for (int c = 0; c < C; c++)
	{
		float sum = _mm512_reduce_add_ps(acc[r][c]);
		for (int64_t j = k; j < n; j++)
			sum += w1(wb[(size_t)r * ldw + j], B) * act1(a + (size_t)c * lda, j, X);
		s[(size_t)c * lds + (size_t)r] = sum;
	}
}

/* Decode: R rows by up to CB columns, weights converted as they stream.
 * A tile of RB rows reads RB streams of one row each, a page or so long,
 * too short for the hardware prefetcher to run ahead: the next tile's rows
 * (contiguous after these) are prefetched into L2 a line per row every
 * 64 bytes (F16 from memory: 13.4-13.8 -> 15.4-15.6 GB/s on one core,
 * 26.2 -> 29.6 on two; BF16 13.1 -> 14.9; F16 tg 1.12, 4 pairs). With the
 * weights already in L2 the prefetches cost 14%, which decode never
 * meets: its weights come from memory. */
AI void direct(int64_t n, const uint16_t *w, size_t ldw, const uint8_t *a, size_t lda, int64_t nc,
               float *s, size_t lds, const int R, const int X, const int B)
{
	const uint16_t *pf = R == RB ? w + (size_t)RB * ldw : NULL;
	for (int64_t c0 = 0; c0 < nc; c0 += CB) {
		__m512 acc[RB][CB];
		int C = nc - c0 < CB ? (int)(nc - c0) : CB;
		UNROLL for (int r = 0; r < R; r++) UNROLL for (int c = 0; c < CB; c++) acc[r][c] =
		    _mm512_setzero_ps();
		const uint8_t *ac = a + (size_t)c0 * lda;
		float *sc = s + (size_t)c0 * lds;
		int64_t k1 = n & ~(int64_t)15;
		if (C == 3) {
			chains(acc, w, ldw, NULL, ac, lda, 0, k1, R, 3, X, B, pf);
			finish(acc, w, ldw, ac, lda, k1, n, sc, lds, R, 3, X, B);
		} else if (C == 2) {
			chains(acc, w, ldw, NULL, ac, lda, 0, k1, R, 2, X, B, pf);
			finish(acc, w, ldw, ac, lda, k1, n, sc, lds, R, 2, X, B);
		} else {
			chains(acc, w, ldw, NULL, ac, lda, 0, k1, R, 1, X, B, pf);
			finish(acc, w, ldw, ac, lda, k1, n, sc, lds, R, 1, X, B);
		}
	}
}

/* Prefill: RB rows by nc (<= COLS) columns; chains parked in `park`. */
AI void converted(int64_t n, const uint16_t *w, size_t ldw, const uint8_t *a, size_t lda,
                  int64_t nc, float *s, size_t lds, const int X, const int B)
{
	_Alignas(64) float buf[RB * KCF];
	_Alignas(64) __m512 park[COLS / CB + 1][RB][CB];
	const int64_t k1 = n & ~(int64_t)15;
	for (int64_t k0 = 0; k0 < k1; k0 += KCF) {
		int64_t ke = k0 + KCF < k1 ? k0 + KCF : k1;
		for (int r = 0; r < RB; r++)
			for (int64_t k = k0; k < ke; k += 16)
				_mm512_store_ps(buf + (size_t)r * KCF + (k - k0),
				                w16(w + (size_t)r * ldw + k, B));
		for (int64_t c0 = 0, t = 0; c0 < nc; c0 += CB, t++) {
			__m512(*acc)[CB] = park[t];
			if (k0 == 0)
				for (int r = 0; r < RB; r++)
					for (int c = 0; c < CB; c++)
						acc[r][c] = _mm512_setzero_ps();
			const uint8_t *ac = a + (size_t)c0 * lda;
			if (nc - c0 >= CB)
				chains(acc, NULL, 0, buf, ac, lda, k0, ke, RB, CB, X, B, NULL);
			else if (nc - c0 == 2)
				chains(acc, NULL, 0, buf, ac, lda, k0, ke, RB, 2, X, B, NULL);
			else
				chains(acc, NULL, 0, buf, ac, lda, k0, ke, RB, 1, X, B, NULL);
		}
	}
	for (int64_t c0 = 0, t = 0; c0 < nc; c0 += CB, t++) {
		int C = nc - c0 < CB ? (int)(nc - c0) : CB;
		const uint8_t *ac = a + (size_t)c0 * lda;
		float *sc = s + (size_t)c0 * lds;
		if (C == 3)
			finish(park[t], w, ldw, ac, lda, k1, n, sc, lds, RB, 3, X, B);
		else if (C == 2)
			finish(park[t], w, ldw, ac, lda, k1, n, sc, lds, RB, 2, X, B);
		else
			finish(park[t], w, ldw, ac, lda, k1, n, sc, lds, RB, 1, X, B);
	}
}

/* The FMA path: rows in tiles of RB, columns directly (decode) or against
 * converted chunks (prefill without AMX). lda: bytes between rows. */
AI void fma_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const uint8_t *x,
                 size_t bx, const uint8_t *a, size_t lda, const int X, const int B)
{
	const size_t ldw = bx / 2;
	int64_t r = 0;
	for (; r + RB <= nr; r += RB) {
		const uint16_t *w = (const uint16_t *)(x + (size_t)r * bx);
		if (nc <= CB) {
			direct(n, w, ldw, a, lda, nc, s + r, lds, RB, X, B);
			continue;
		}
		for (int64_t c0 = 0; c0 < nc; c0 += COLS)
			converted(n, w, ldw, a + (size_t)c0 * lda, lda,
			          nc - c0 < COLS ? nc - c0 : COLS, s + (size_t)c0 * lds + r, lds, X,
			          B);
	}
	for (; r < nr; r++)
		direct(n, (const uint16_t *)(x + (size_t)r * bx), ldw, a, lda, nc, s + r, lds, 1, X,
		       B);
}

static void f16_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *x,
                     size_t bx, const void *a, size_t ba)
{
	fma_gemm(n, nr, nc, s, lds, x, bx, a, ba, 0, 0);
}

static void bf16_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *x,
                      size_t bx, const void *a, size_t ba)
{
	fma_gemm(n, nr, nc, s, lds, x, bx, a, ba, 0, 1);
}

/* Activations in the AMX forms: tiles for batches, the FMA path below. */
static void f16x_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *x,
                      size_t bx, const void *a, size_t ba)
{
	if (nc < QUANT_AMX_MIN_COLS || nr < 16 ||
	    !quant__amx_f16_gemm(n, nr, nc, s, lds, x, bx / 2, a, ba))
		fma_gemm(n, nr, nc, s, lds, x, bx, a, ba, 1, 0);
}

static void bf16x_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *x,
                       size_t bx, const void *a, size_t ba)
{
	if (nc < QUANT_AMX_MIN_COLS || nr < 16 ||
	    !quant__amx_bf16_gemm(n, nr, nc, s, lds, x, bx / 2, a, ba))
		fma_gemm(n, nr, nc, s, lds, x, bx, a, ba, 2, 1);
}

/* The same numbers for one row and an activation row of format B. */
AI void dot(int64_t n, float *s, const uint16_t *x, const uint16_t *y, const int B)
{
	__m512 acc = _mm512_setzero_ps();
	int64_t i = 0;
	for (; i + 16 <= n; i += 16)
		acc = _mm512_fmadd_ps(w16(x + i, B), w16(y + i, B), acc);
	float sum = _mm512_reduce_add_ps(acc);
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

/* Batches on AMX: the kernel blocks for the caches itself and takes them
 * whole (F16 measured; BF16 the same kernel). */
static void amx_batches(struct quant_traits *t)
{
	t->gemm_cols = 4096;
	t->gemm_chunk = 0;  /* the avx2 set's, copied */
	t->gemm_rows = 256; /* the kernel's row group */
	/* 128 rows take as long per row as 256 (64: 1.15x) */
	t->gemm_tail_rows = 128;
}

void quant__fill_gemmf_avx512(struct quant_traits *t)
{
	t[GGML_TYPE_F16].vec_dot = f16_vec_dot;
	t[GGML_TYPE_BF16].vec_dot = bf16_vec_dot;
	if (quant__amx_bf16) {
		t[GGML_TYPE_F16].act_bytes = quant__f16x_act_bytes;
		t[GGML_TYPE_F16].act_prepare = quant__f16x_act_prepare;
		t[GGML_TYPE_F16].gemm = f16x_gemm;
		amx_batches(&t[GGML_TYPE_F16]);
		t[GGML_TYPE_BF16].act_bytes = quant__bf16x_act_bytes;
		t[GGML_TYPE_BF16].act_prepare = quant__bf16x_act_prepare;
		t[GGML_TYPE_BF16].gemm = bf16x_gemm;
		amx_batches(&t[GGML_TYPE_BF16]);
		return;
	}
	t[GGML_TYPE_F16].act_bytes = f16_act_bytes;
	t[GGML_TYPE_F16].act_prepare = f16_act_prepare;
	t[GGML_TYPE_F16].gemm = f16_gemm;
	t[GGML_TYPE_BF16].act_bytes = f16_act_bytes;
	t[GGML_TYPE_BF16].act_prepare = bf16_act_prepare;
	t[GGML_TYPE_BF16].gemm = bf16_gemm;
	/* column chunks of 3 MiB of f32 activations (384 rows of 2048, 128 of
	 * 5632) instead of L2-sized ones: the weights stream from memory once
	 * per chunk, and the kernel blocks 64 columns x 512 elements itself
	 * (pp512 1.15x over 384 KiB, 8 alternating pairs; 8 MiB 0.92x of 3) */
	t[GGML_TYPE_F16].gemm_chunk = t[GGML_TYPE_BF16].gemm_chunk = (size_t)3 << 20;
}

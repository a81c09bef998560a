/* quant_r16_avx512.h — helpers of the gemm kernels (quant_gemm*_avx512.c):
 * sixteen weight rows side by side, one row per 32-bit lane ("r16"). A
 * stripe of 16 rows is read at the same byte offset in every row and
 * transposed in registers, so the dot products of all 16 rows with one
 * activation block are vpdpbusd steps against broadcast activation dwords,
 * and per-block float work is one vector op for 16 rows — in the scalar
 * reference's order, hence bit-identical to it. Include only from files
 * built with the AVX-512 flags. */
#ifndef GPURUN_ENGINE_QUANT_R16_AVX512_H
#define GPURUN_ENGINE_QUANT_R16_AVX512_H

#include <immintrin.h>

#include "engine/quant_internal.h"

#define R16_AI static inline __attribute__((always_inline))

/* Packed weights (quant.h pack16 / gemm_packed). The model's matrices are
 * rewritten once at load into stripes of 16 rows, each stripe the same
 * 16 * bx bytes as the rows it replaces, so that decode reads one
 * sequential stream per stripe (the hardware prefetcher follows it) and
 * loads the r16 vectors directly instead of transposing 16 rows in
 * registers and gathering their scales. A stripe of nb blocks is a
 * sequence of regions, one per field of the block type, each holding the
 * field of block 0 for the 16 rows, then of block 1, ...: a field of w
 * dwords is w vectors of 64 bytes, vector k lane r = dword k of row r's
 * field (the r16 form); 16 f16 scales are 32 bytes, row r at 2r.
 *   Q4_0: [qs: 4 vectors per block, all blocks] [d: 16 f16 per block]
 *   Q8_0: [qs: 8 vectors per block, all blocks] [d: 16 f16 per block]
 *   Q4_K: per block, each 16-byte chunk of the GGUF block as 4 vectors, in
 *         place ([d|dmin|scales: 4] [qs: 32]; chunk at o -> byte 16 o)
 *   Q5_K: the same ([d|dmin|scales: 4] [qh: 8] [qs: 32])
 *   Q6_K: per block [codes: 48 vectors, 6-bit codes 3 to 4 bytes] [scales:
 *         8 x 32 bytes], then d: 16 f16 per block (quant_gemmk_avx512.c)
 * The kernels take `type | R16_PACKED` for the packed form of a type. */
#define R16_PACKED  0x1000
#define R16_TYPE(t) ((t) & ~R16_PACKED)

/* One block of 16 weight rows: codes of elements 4k..4k+3 in lane r of
 * c[k] (unsigned bytes), and the rows' block scales. */
struct r16blk {
	__m512i c[8];
	__m512 d;
};

/* AMX tiles (quant_amx_avx512.c): quant__amx_init() asks the OS for the tile
 * state once (false: no AMX, or GPURUN_AMX=0); then quant__amx_legacy runs
 * blocks [b0, b0 + kb) of a stripe unpacked in u against 16 activation
 * columns (a, ba bytes apart) with running sums s[c * lds .. + 16] (zero
 * when b0 == 0): the numbers of the r16 VNNI path, bit for bit. */
void quant__amx_legacy(const struct r16blk *u, int64_t b0, int64_t kb, const uint8_t *a, size_t ba,
                       float *s, size_t lds);
/* The same for 32 rows (two stripes: u, then u2) by 32 columns, s the
 * first stripe's sums and s + 16 the second's: four tiles per block, each
 * tile load serving two products (quant_amx_avx512.c). */
void quant__amx_legacy2(const struct r16blk *u, const struct r16blk *u2, int64_t b0, int64_t kb,
                        const uint8_t *a, size_t ba, float *s, size_t lds);
/* Q4_0 / Q8_0 codes of u[0, kb) from the VNNI form (unsigned) to the AMX
 * form (signed), or back; quant__amx_legacy reads the signed form. */
void quant__amx_sign(int type, struct r16blk *u, int64_t kb, bool to_signed);

typedef int32_t __attribute__((may_alias)) r16_i32;

/* acc + vpdpbusd(c, the dword at p in every lane): the broadcast folded
 * into the instruction ({1to16}), one fused uop where the intrinsics give
 * a broadcast load and the product (GCC 12 does not fold them): fewer
 * uops per weight line for decode, which streams its weights (Q4_K_M tg
 * 1.09x, median of 12 alternating pairs). */
R16_AI __m512i r16_dpbusd_bc(__m512i acc, __m512i c, const void *p)
{
	__asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(c), "m"(*(const r16_i32 *)p));
	return acc;
}

/* The same for vpdpwssd (int16 pairs). */
R16_AI __m512i r16_dpwssd_bc(__m512i acc, __m512i c, const void *p)
{
	__asm__("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(c), "m"(*(const r16_i32 *)p));
	return acc;
}

/* The 64 bytes at p and m, the load folded into the and: where two masks
 * split one vector of codes, two fused uops instead of a load and two
 * ands (the compiler would load once). */
R16_AI __m512i r16_and_load(__m512i m, const void *p)
{
	__m512i r;
	__asm__("vpandd %1, %2, %0" : "=v"(r) : "m"(*(const __m512i *)p), "v"(m));
	return r;
}

/* Four rows of 4 dwords each (one row per 128-bit lane) -> 4 vectors, one
 * per dword index, row r in lane 4j + i of z[j] lane i. */
R16_AI void r16_transpose4(const __m512i z[4], __m512i t[4])
{
	const __m512i ia =
	    _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
	const __m512i ib =
	    _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
	const __m512i lo =
	    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
	const __m512i hi =
	    _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
	__m512i p0 = _mm512_permutex2var_epi32(z[0], ia, z[1]);
	__m512i p1 = _mm512_permutex2var_epi32(z[0], ib, z[1]);
	__m512i p2 = _mm512_permutex2var_epi32(z[2], ia, z[3]);
	__m512i p3 = _mm512_permutex2var_epi32(z[2], ib, z[3]);
	t[0] = _mm512_permutex2var_epi32(p0, lo, p2);
	t[1] = _mm512_permutex2var_epi32(p0, hi, p2);
	t[2] = _mm512_permutex2var_epi32(p1, lo, p3);
	t[3] = _mm512_permutex2var_epi32(p1, hi, p3);
}

/* t[k] lane r = dword k of the 16 bytes at p + r * bx (k < 4). */
R16_AI void r16_load4(const uint8_t *p, size_t bx, __m512i t[4])
{
	__m512i z[4];
#pragma GCC unroll 4
	for (int j = 0; j < 4; j++) {
		const uint8_t *q = p + 4 * (size_t)j * bx;
		__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)q));
		v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(q + bx)), 1);
		v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(q + 2 * bx)), 2);
		z[j] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(q + 3 * bx)), 3);
	}
	r16_transpose4(z, t);
}

/* t[k] lane r = dword k of the 32 bytes at p + r * bx (k < 8). */
R16_AI void r16_load8(const uint8_t *p, size_t bx, __m512i t[8])
{
	const __m512i ie =
	    _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
	const __m512i io =
	    _mm512_setr_epi32(4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
	__m512i e[4], o[4];
#pragma GCC unroll 4
	for (int j = 0; j < 4; j++) {
		const uint8_t *q = p + 4 * (size_t)j * bx;
		__m512i a = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)q));
		a = _mm512_inserti64x4(a, _mm256_loadu_si256((const __m256i *)(q + bx)), 1);
		__m512i b =
		    _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(q + 2 * bx)));
		b = _mm512_inserti64x4(b, _mm256_loadu_si256((const __m256i *)(q + 3 * bx)), 1);
		e[j] = _mm512_permutex2var_epi32(a, ie, b); /* dwords 0..3 of 4 rows */
		o[j] = _mm512_permutex2var_epi32(a, io, b); /* dwords 4..7 */
	}
	r16_transpose4(e, t);
	r16_transpose4(o, t + 4);
}

/* Lane r: r * bx, the byte offsets of 16 rows. */
R16_AI __m512i r16_row_offsets(size_t bx)
{
	return _mm512_mullo_epi32(
	    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
	    _mm512_set1_epi32((int)bx));
}

/* Decode reads 16 interleaved row streams, which defeat the hardware
 * prefetcher: the next stripe (16 rows of bx bytes, contiguous at x + 16 *
 * bx) is prefetched a slice per block. r16_pf_step: its cache lines per
 * block of nb; r16_prefetch_next: block b's slice. */
R16_AI int64_t r16_pf_step(size_t bx, int64_t nb)
{
	return ((int64_t)(16 * bx + 63) / 64 + nb - 1) / nb;
}

R16_AI void r16_prefetch_next(const uint8_t *x, size_t bx, int64_t step, int64_t b)
{
	const char *pf = (const char *)x + 16 * bx;
	for (int64_t l = b * step; l < (b + 1) * step; l++)
		_mm_prefetch(pf + 64 * l, _MM_HINT_T0);
}

/* Decode's prefetch in a packed stripe, each line twice: R16_PF_FAR bytes
 * ahead into L2, R16_PF_NEAR ahead into L1. One distance (4 KiB; 2-8 KiB
 * measured alike) into L1 (Q4_0/Q8_0) or L2 (K-quants) streamed at 90% of
 * a pure read; the two levels 94-97% (db3 harness, 2 threads: Q4_0 +4-7%,
 * Q8_0 +4.5%, Q4_K +2.7%, Q6_K +7%): the far one keeps enough lines in
 * flight, the near one has them in L1 when the loads come. */
#define R16_PF_FAR  8192
#define R16_PF_NEAR 2048

R16_AI void r16_prefetch_2(const char *p)
{
	_mm_prefetch(p + R16_PF_FAR, _MM_HINT_T1);
	_mm_prefetch(p + R16_PF_NEAR, _MM_HINT_T0);
}

/* The f16 at p + r * bx of each row, as f32 (exact). */
R16_AI __m512 r16_f16(const uint8_t *p, __m512i offs)
{
	__m512i v = _mm512_i32gather_epi32(offs, p, 1);
	return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

/* A block's 16 scales as f32: p is the first row's f16 in the GGUF form,
 * the 16 f16 side by side in the packed form. */
R16_AI __m512 r16_scales(int type, const uint8_t *p, __m512i offs)
{
	if (type & R16_PACKED)
		return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
	return r16_f16(p, offs);
}

/* Four copies of a kernel body for 1..4 activation columns, so the column
 * loop unrolls and the accumulators stay in registers. */
#define R16_COLS_SWITCH(cols, CALL)                                                                \
	switch (cols) {                                                                            \
	case 1: CALL(1); break;                                                                    \
	case 2: CALL(2); break;                                                                    \
	case 3: CALL(3); break;                                                                    \
	default: CALL(4); break;                                                                   \
	}

#endif

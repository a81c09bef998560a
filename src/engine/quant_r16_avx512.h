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
 *   Q5_0: [qs, qh: 5 vectors per block, all blocks] [d: 16 f16 per block];
 *         qs as Q4_0, then the fifth bits in r16_q5_hbits's order
 *   Q4_1: [qs: 4 vectors per block, all blocks] [d, m: per block 16 f16 d,
 *         then 16 f16 m] (quant_gemml_avx512.c)
 *   Q5_1: [qs, qh: 5 vectors per block, all blocks] [d, m: 64 bytes per
 *         block] (qs, qh as Q5_0; d, m as Q4_1)
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

/* The same for the types with a min per block (Q4_1, Q5_1): the rows'
 * mins beside. */
struct r16blkm {
	struct r16blk b;
	__m512 m;
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
/* Both for Q4_1 / Q5_1: unsigned codes (TDPBSUD; the VNNI form itself)
 * against struct act8s, and the reference's m * s term in the float step. */
void quant__amx_legacy_m(const struct r16blkm *u, int64_t b0, int64_t kb, const uint8_t *a,
                         size_t ba, float *s, size_t lds);
void quant__amx_legacy2_m(const struct r16blkm *u, const struct r16blkm *u2, int64_t b0, int64_t kb,
                          const uint8_t *a, size_t ba, float *s, size_t lds);
/* Q4_0 / Q5_0 / Q8_0 codes of u[0, kb) from the VNNI form (unsigned) to
 * the AMX form (signed), or back; quant__amx_legacy reads the signed form. */
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

/* Activation blocks as the reference converts them (quant_q8_0/q8_1
 * _from_float_ref: scale 127 / amax, rounded half to even): the k <= 16
 * blocks of 32 floats at x, block j's codes to qs + j * stride, the sum of
 * its codes to sum[j] and its scale amax / 127 (an f32, not yet rounded to
 * f16) to d[j]; d[j] = 0 for j >= k. */
R16_AI void r16_act_blocks(const float *x, int k, int8_t *qs, size_t stride, int32_t sum[16],
                           float d[16])
{
	_Alignas(64) float amax[16] = {0};
	for (int j = 0; j < k; j++, x += 32, qs += stride) {
		__m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
		amax[j] = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
		float id = amax[j] != 0.0f ? 127.f / amax[j] : 0.0f;
		__m512 m = _mm512_set1_ps(id);
		/* cvtps rounds half to even in the default MXCSR mode, as the
		 * reference's activation conversion */
		__m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, m));
		__m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, m));
		_mm_storeu_si128((__m128i *)qs, _mm512_cvtsepi32_epi8(qa));
		_mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtsepi32_epi8(qb));
		sum[j] = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
	}
	_mm512_storeu_ps(d, _mm512_div_ps(_mm512_load_ps(amax), _mm512_set1_ps(127.f)));
}

/* v rounded to f16 (to nearest even, as f32_to_fp16) and back. */
R16_AI __m512 r16_f16_round(__m512 v)
{
	return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* x with the bits at positions p and p + delta exchanged for every p in
 * mask. */
R16_AI __m512i r16_delta_swap(__m512i x, unsigned delta, int mask)
{
	__m512i t = _mm512_and_si512(_mm512_xor_si512(_mm512_srli_epi32(x, delta), x),
	                             _mm512_set1_epi32(mask));
	return _mm512_xor_si512(_mm512_xor_si512(x, t), _mm512_slli_epi32(t, delta));
}

/* Q5_0 / Q5_1 fifth bits of 16 rows (lane r: row r's qh, bit j that of
 * element j) in the order the kernels read them and the packed form
 * stores them: bit 8i + o(k) holds that of element 4k + i, whose code is
 * byte i of r16blk c[k], with o(k) = 4 (k & 1) + 2 (k >> 2) + (k >> 1 & 1)
 * — bits 1 and 4 of the element index exchanged, and bits 0 and 3 — so
 * that one shift by 4 - o(k) puts all four of c[k]'s at bit 4 of their
 * bytes. */
R16_AI __m512i r16_q5_hbits(__m512i qh)
{
	return r16_delta_swap(r16_delta_swap(qh, 14, 0x0000CCCC), 7, 0x00AA00AA);
}

/* The codes c[8] (0..31) of a Q5 block of 16 rows: its nibbles t[4] as
 * r16_load4 gives them (byte i of t[k]: elements 4k + i low, 16 + 4k + i
 * high) and its fifth bits h in r16_q5_hbits's order. */
R16_AI void r16_q5_codes(const __m512i t[4], __m512i h, __m512i c[8])
{
	const __m512i m4 = _mm512_set1_epi8(0x0F), b4 = _mm512_set1_epi8(0x10);
#pragma GCC unroll 8
	for (int k = 0; k < 8; k++) {
		const int o = 4 * (k & 1) + 2 * (k >> 2) + (k >> 1 & 1);
		__m512i hb = o <= 4 ? _mm512_slli_epi32(h, (unsigned)(4 - o))
		                    : _mm512_srli_epi32(h, (unsigned)(o - 4));
		__m512i nib = k < 4 ? t[k & 3] : _mm512_srli_epi16(t[k & 3], 4);
		/* (nib & 0x0F) | (hb & 0x10): 0xEC is (A & C) | B */
		c[k] = _mm512_ternarylogic_epi32(nib, _mm512_and_si512(hb, b4), m4, 0xEC);
	}
}

/* The code vectors of one 32-element block of 16 rows (p: row 0's block,
 * rows bx apart, blocks of bs bytes) into the packed form at o: its qs as
 * the transpose loads them (the last 16 bytes of the block, or Q8_0's 32
 * after d: nv 8), then for nv 5 the fifth bits (qh at p + qh) in
 * r16_q5_hbits's order. */
R16_AI void r16_pack_codes(const uint8_t *p, size_t bx, size_t bs, int nv, size_t qh, __m512i offs,
                           uint8_t *o)
{
	__m512i t[8];
	if (nv == 8)
		r16_load8(p + 2, bx, t);
	else
		r16_load4(p + bs - 16, bx, t);
	if (nv == 5)
		t[4] = r16_q5_hbits(_mm512_i32gather_epi32(offs, p + qh, 1));
	for (int k = 0; k < nv; k++)
		_mm512_storeu_si512(o + 64 * k, t[k]);
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

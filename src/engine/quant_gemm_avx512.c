/* quant_gemm_avx512.c — gemm kernels (quant.h quant_gemm_fn) for Q4_0, Q5_0
 * and Q8_0 weights on AVX-512 VNNI. Sixteen weight rows share a register,
 * one per 32-bit lane (quant_r16_avx512.h): a block's 16 dot products are
 * eight vpdpbusd of the unsigned row codes (Q4_0 nibbles; Q5_0 nibbles and
 * fifth bits; Q8_0 values + 128) by broadcast activation dwords, started
 * from the activation's -offset * sum (struct act8, prepared once per
 * matmul input), then the reference's float step sum += (float)isum * (dx *
 * dy) for all 16 rows at once: the numbers of quant_q4_0/q5_0/q8_0_vec_dot
 * _ref bit for bit, in every path. Up to four activation rows unpack each
 * weight block in registers (decode); more run against a stripe unpacked
 * once into a stack buffer (prefill). Q4_1 and Q5_1 (a min per block, Q8_1
 * activations) are in quant_gemml_avx512.c. */
#include "engine/quant_r16_avx512.h"

#include <string.h>

#define KC 32 /* blocks per unpacked stripe chunk (18 KiB: stays in L1) */

static size_t act8_bytes(int64_t n)
{
	return (size_t)(n / QK8_0) * sizeof(struct act8);
}

static void act8_prepare(const float *x, void *vy, int64_t n, int off)
{
	struct act8 *y = vy;
	const int64_t nb = n / QK8_0;
	for (int64_t i0 = 0; i0 < nb; i0 += 16, x += 16 * QK8_0) {
		const int k = nb - i0 < 16 ? (int)(nb - i0) : 16;
		_Alignas(64) float d[16];
		int32_t sum[16];
		r16_act_blocks(x, k, y[i0].qs, sizeof *y, sum, d);
		/* the scales rounded to f16 and back, 16 blocks at once */
		_mm512_store_ps(d, r16_f16_round(_mm512_load_ps(d)));
		for (int j = 0; j < k; j++) {
			y[i0 + j].d = d[j];
			y[i0 + j].off = -off * sum[j];
		}
	}
}

static void q4_0_act_prepare(const float *x, void *y, int64_t n)
{
	act8_prepare(x, y, n, 8);
}

static void q5_0_act_prepare(const float *x, void *y, int64_t n)
{
	act8_prepare(x, y, n, 16);
}

static void q8_0_act_prepare(const float *x, void *y, int64_t n)
{
	act8_prepare(x, y, n, 128);
}

/* ---- the packed form (quant_r16_avx512.h): per stripe of nb blocks, the
 * nv code vectors of every block (Q4_0 4, Q5_0 5, Q8_0 8), then the 16
 * scales of every block; byte offsets of block b's codes and scales */

R16_AI int pk_nv(int type)
{
	return R16_TYPE(type) == GGML_TYPE_Q4_0 ? 4 : R16_TYPE(type) == GGML_TYPE_Q5_0 ? 5 : 8;
}

R16_AI size_t blk_bytes(int type)
{
	return R16_TYPE(type) == GGML_TYPE_Q4_0   ? sizeof(struct block_q4_0)
	       : R16_TYPE(type) == GGML_TYPE_Q5_0 ? sizeof(struct block_q5_0)
	                                          : sizeof(struct block_q8_0);
}

R16_AI size_t pk_codes(int64_t b, int nv)
{
	return (size_t)b * 64 * (size_t)nv;
}

R16_AI size_t pk_scales(int64_t nb, int64_t b, int nv)
{
	return (size_t)nb * 64 * (size_t)nv + (size_t)b * 32;
}

/* ---- unpacking 16 rows of one block */

/* Q4_0 / Q5_0 codes: nibbles, with Q5_0's fifth bits (from qh, or the
 * packed form's fifth vector); unsigned for vpdpbusd, or signed for the
 * AMX tiles (sgn: q - 8, q - 16). */
R16_AI void unpack_nib(int type, const uint8_t *x, size_t bx, int64_t b, __m512i offs,
                       struct r16blk *u, const bool sgn)
{
	const bool q5 = R16_TYPE(type) == GGML_TYPE_Q5_0;
	const size_t bs = blk_bytes(type);
	const int nv = pk_nv(type);
	const uint8_t *p = x + b * (int64_t)bs;
	__m512i t[4], h = _mm512_setzero_si512();
	if (type & R16_PACKED) {
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++)
			t[k] = _mm512_loadu_si512(x + pk_codes(b, nv) + 64 * k);
		if (q5)
			h = _mm512_loadu_si512(x + pk_codes(b, nv) + 256);
		p = x + pk_scales((int64_t)(bx / bs), b, nv);
	} else {
		r16_load4(p + bs - 16, bx, t);
		if (q5)
			h = r16_q5_hbits(_mm512_i32gather_epi32(offs, p + 2, 1));
	}
	const __m512i m4 = _mm512_set1_epi8(0x0F), k8 = _mm512_set1_epi8(q5 ? 16 : 8);
	if (q5)
		r16_q5_codes(t, h, u->c);
#pragma GCC unroll 4
	for (int k = 0; k < 4 && !q5; k++) {
		u->c[k] = _mm512_and_si512(t[k], m4);
		u->c[4 + k] = _mm512_and_si512(_mm512_srli_epi16(t[k], 4), m4);
	}
#pragma GCC unroll 8
	for (int k = 0; k < 8 && sgn; k++)
		u->c[k] = _mm512_sub_epi8(u->c[k], k8);
	u->d = r16_scales(type, p, offs);
}

/* Codes unsigned for vpdpbusd (Q4_0 nibbles, Q5_0 codes, Q8_0 values +
 * 128), or signed for the AMX tiles (sgn: q - 8, q - 16, the Q8_0 values
 * themselves). */
R16_AI void unpack_as(int type, const uint8_t *x, size_t bx, int64_t b, __m512i offs,
                      struct r16blk *u, const bool sgn)
{
	if (R16_TYPE(type) != GGML_TYPE_Q8_0) {
		unpack_nib(type, x, bx, b, offs, u, sgn);
		return;
	}
	const uint8_t *p = x + b * (int64_t)sizeof(struct block_q8_0);
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	if (type & R16_PACKED) {
		const int64_t nb = (int64_t)(bx / sizeof(struct block_q8_0));
#pragma GCC unroll 8
		for (int k = 0; k < 8; k++)
			u->c[k] = _mm512_loadu_si512(x + pk_codes(b, 8) + 64 * k);
		p = x + pk_scales(nb, b, 8);
	} else {
		r16_load8(p + 2, bx, u->c);
	}
#pragma GCC unroll 8
	for (int k = 0; k < 8 && !sgn; k++)
		u->c[k] = _mm512_xor_si512(u->c[k], flip);
	u->d = r16_scales(type, p, offs);
}

R16_AI void unpack(int type, const uint8_t *x, size_t bx, int64_t b, __m512i offs, struct r16blk *u)
{
	unpack_as(type, x, bx, b, offs, u, false);
}

/* acc + (float)isum * (d_rows * d_act) for one block of 16 rows. */
R16_AI __m512 block_dot(int type, const struct r16blk *u, const struct act8 *a, __m512 acc)
{
	__m512i s0 = _mm512_set1_epi32(a->off), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		s0 = r16_dpbusd_bc(s0, u->c[k], a->qs + 4 * k);
		s1 = r16_dpbusd_bc(s1, u->c[4 + k], a->qs + 16 + 4 * k);
	}
	__m512 isum = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
	return _mm512_add_ps(acc, _mm512_mul_ps(isum, _mm512_mul_ps(u->d, _mm512_set1_ps(a->d))));
}

/* Decode's prefetches at block b of a packed stripe (nb blocks): its nv
 * code lines into L2 and L1 (quant_prefetch_2), the scale line 16 blocks
 * ahead into L2. */
R16_AI void direct_prefetch(const uint8_t *p, int nv, const uint8_t *scales, size_t bx, int64_t nb,
                            int64_t b)
{
#pragma GCC unroll 8
	for (int l = 0; l < nv; l++)
		quant_prefetch_2((const char *)p + 64 * l);
	if (!(b & 1))
		_mm_prefetch((const char *)scales + b * 32 + 512, _MM_HINT_T1);
	if (b == 0 || b == nb / 2) {
		/* the first 16 blocks' scales, which the line 16 blocks ahead
		 * never covers: this stripe's at its start (cold at a call's
		 * first stripe), the next stripe's (16 * bx on) half way */
		const char *first = (const char *)scales + (b ? 16 * bx : 0);
		for (int l = 0; l < 8; l++)
			_mm_prefetch(first + 64 * l, _MM_HINT_T1);
	}
}

/* The exact integer sums of one column's block y against 16 rows: v the
 * stripe's vectors as loaded (Q4_0, Q8_0) or the codes (Q5_0). Q4_0's
 * high nibbles stay in place (times 16: no shift) and their partial sum, a
 * multiple of 16, is shifted back. */
R16_AI __m512i direct_isum(int type, const __m512i v[8], const struct act8 *y)
{
	const __m512i lo = _mm512_set1_epi8(0x0F), hi = _mm512_set1_epi8((char)0xF0);
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	const int8_t *q = y->qs;
	__m512i s0 = _mm512_set1_epi32(y->off), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		if (R16_TYPE(type) == GGML_TYPE_Q4_0) {
			s0 = r16_dpbusd_bc(s0, _mm512_and_si512(v[k], lo), q + 4 * k);
			s1 = r16_dpbusd_bc(s1, _mm512_and_si512(v[k], hi), q + 16 + 4 * k);
		} else if (R16_TYPE(type) == GGML_TYPE_Q5_0) {
			s0 = r16_dpbusd_bc(s0, v[k], q + 4 * k);
			s1 = r16_dpbusd_bc(s1, v[4 + k], q + 16 + 4 * k);
		} else {
			s0 = r16_dpbusd_bc(s0, _mm512_xor_si512(v[k], flip), q + 4 * k);
			s1 = r16_dpbusd_bc(s1, _mm512_xor_si512(v[4 + k], flip), q + 16 + 4 * k);
		}
	}
	if (R16_TYPE(type) == GGML_TYPE_Q4_0)
		s1 = _mm512_srai_epi32(s1, 4);
	return _mm512_add_epi32(s0, s1);
}

/* Decode over packed Q4_0 / Q5_0 / Q8_0: the r16 vectors straight from
 * the stripe (Q5_0's codes built once for all columns), then block_dot's
 * float step. */
R16_AI void packed_direct(int type, const uint8_t *x, size_t bx, int64_t nb, const uint8_t *a,
                          size_t ba, float *s, size_t lds, __mmask16 keep, const int cols)
{
	const bool q5 = R16_TYPE(type) == GGML_TYPE_Q5_0;
	const int nv = pk_nv(type);
	const uint8_t *scales = x + pk_scales(nb, 0, nv);
	__m512 acc[4];
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		acc[c] = _mm512_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *p = x + pk_codes(b, nv);
		direct_prefetch(p, nv, scales, bx, nb, b);
		__m512i v[8], c5[8];
#pragma GCC unroll 8
		for (int k = 0; k < nv; k++)
			v[k] = _mm512_loadu_si512(p + 64 * k);
		if (q5)
			r16_q5_codes(v, v[4], c5);
		const __m512 d =
		    _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(scales + b * 32)));
#pragma GCC unroll 4
		for (int c = 0; c < cols; c++) {
			const struct act8 *y = (const struct act8 *)(a + (size_t)c * ba) + b;
			__m512 isum = _mm512_cvtepi32_ps(direct_isum(type, q5 ? c5 : v, y));
			acc[c] = _mm512_add_ps(
			    acc[c], _mm512_mul_ps(isum, _mm512_mul_ps(d, _mm512_set1_ps(y->d))));
		}
	}
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		_mm512_mask_storeu_ps(s + (size_t)c * lds, keep, acc[c]);
}

#define R16_AMX(type, u, b0, kb, a, ba, s, lds) quant__amx_legacy(u, b0, kb, a, ba, s, lds)
#define R16_AMX2(type, u, u2, b0, kb, a, ba, s, lds)                                               \
	quant__amx_legacy2(u, u2, b0, kb, a, ba, s, lds)
#define R16_AMX_SIGN(type, u, kb, to_amx)       quant__amx_sign(R16_TYPE(type), u, kb, to_amx)
#define R16_AMX_UNPACK(type, x, bx, b, offs, u) unpack_as(type, x, bx, b, offs, u, true)
#define R16_PACKED_DIRECT                       packed_direct
#define R16_BLK                                 struct r16blk
#define R16_ACT                                 struct act8
#define R16_QK                                  QK8_0
#define R16_KC                                  KC
#include "engine/quant_r16_driver_avx512.h"

R16_GEMM_FN(q4_0_gemm, GGML_TYPE_Q4_0)

R16_GEMM_FN(q5_0_gemm, GGML_TYPE_Q5_0)

R16_GEMM_FN(q8_0_gemm, GGML_TYPE_Q8_0)

R16_GEMM_FN(q4_0_gemm_packed, GGML_TYPE_Q4_0 | R16_PACKED)

R16_GEMM_FN(q5_0_gemm_packed, GGML_TYPE_Q5_0 | R16_PACKED)

R16_GEMM_FN(q8_0_gemm_packed, GGML_TYPE_Q8_0 | R16_PACKED)

/* 16 rows into the packed form: the r16 vectors of each block's codes
 * (as unpack's transpose loads them; Q5_0's fifth bits reordered), then
 * the blocks' scales. */
R16_AI void pack(int type, const void *src, size_t bx, void *dst)
{
	const uint8_t *x = src;
	uint8_t *o = dst;
	const int nv = pk_nv(type);
	const size_t bs = blk_bytes(type);
	const int64_t nb = (int64_t)(bx / bs);
	const __m512i offs = r16_row_offsets(bx);
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *p = x + (size_t)b * bs;
		r16_pack_codes(p, bx, bs, nv, 2, offs, o + pk_codes(b, nv));
		for (int r = 0; r < 16; r++)
			memcpy(o + pk_scales(nb, b, nv) + 2 * r, p + (size_t)r * bx, 2);
	}
}

static void q4_0_pack16(const void *src, size_t bx, void *dst)
{
	pack(GGML_TYPE_Q4_0, src, bx, dst);
}

static void q5_0_pack16(const void *src, size_t bx, void *dst)
{
	pack(GGML_TYPE_Q5_0, src, bx, dst);
}

static void q8_0_pack16(const void *src, size_t bx, void *dst)
{
	pack(GGML_TYPE_Q8_0, src, bx, dst);
}

void quant__fill_gemm_avx512(struct quant_traits *t)
{
	t[GGML_TYPE_Q4_0].pack16 = q4_0_pack16;
	t[GGML_TYPE_Q4_0].gemm_packed = q4_0_gemm_packed;
	t[GGML_TYPE_Q8_0].pack16 = q8_0_pack16;
	t[GGML_TYPE_Q8_0].gemm_packed = q8_0_gemm_packed;
	t[GGML_TYPE_Q4_0].act_bytes = act8_bytes;
	t[GGML_TYPE_Q4_0].act_prepare = q4_0_act_prepare;
	t[GGML_TYPE_Q4_0].gemm = q4_0_gemm;
	t[GGML_TYPE_Q8_0].act_bytes = act8_bytes;
	t[GGML_TYPE_Q8_0].act_prepare = q8_0_act_prepare;
	t[GGML_TYPE_Q8_0].gemm = q8_0_gemm;
	t[GGML_TYPE_Q5_0].act_bytes = act8_bytes;
	t[GGML_TYPE_Q5_0].act_prepare = q5_0_act_prepare;
	t[GGML_TYPE_Q5_0].gemm = q5_0_gemm;
	t[GGML_TYPE_Q5_0].pack16 = q5_0_pack16;
	t[GGML_TYPE_Q5_0].gemm_packed = q5_0_gemm_packed;
	if (quant__amx) {
		static const int amx[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q5_0, GGML_TYPE_Q8_0};
		for (size_t i = 0; i < sizeof amx / sizeof amx[0]; i++) {
			t[amx[i]].gemm_chunk = 1536 * 1024;
			/* stripe pairs: a chunk of an odd number of stripes ran its
			 * last on the one-stripe kernel */
			t[amx[i]].gemm_rows = 32;
		}
	}
}

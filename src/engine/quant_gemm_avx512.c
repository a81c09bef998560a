/* quant_gemm_avx512.c — gemm kernels (quant.h quant_gemm_fn) for Q4_0 and
 * Q8_0 weights on AVX-512 VNNI. Sixteen weight rows share a register, one
 * per 32-bit lane (quant_r16_avx512.h): a block's 16 dot products are eight
 * vpdpbusd of the unsigned row codes (Q4_0 nibbles; Q8_0 values + 128) by
 * broadcast activation dwords, started from the activation's -offset * sum
 * (struct act8, prepared once per matmul input), then the reference's float
 * step sum += (float)isum * (dx * dy) for all 16 rows at once: the numbers
 * of quant_q4_0/q8_0_vec_dot_ref bit for bit, in every path. Up to four
 * activation rows unpack each weight block in registers (decode); more run
 * against a stripe unpacked once into a stack buffer (prefill). */
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
	for (int64_t i0 = 0; i0 < nb; i0 += 16) {
		const int k = nb - i0 < 16 ? (int)(nb - i0) : 16;
		_Alignas(64) float amax[16] = {0}, d[16];
		for (int j = 0; j < k; j++, x += QK8_0) {
			struct act8 *yb = &y[i0 + j];
			__m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
			amax[j] =
			    _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
			float id = amax[j] != 0.0f ? 127.f / amax[j] : 0.0f;
			__m512 m = _mm512_set1_ps(id);
			/* cvtps rounds half to even in the default MXCSR mode, as
			 * the reference's activation conversion */
			__m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, m));
			__m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, m));
			_mm_storeu_si128((__m128i *)yb->qs, _mm512_cvtsepi32_epi8(qa));
			_mm_storeu_si128((__m128i *)(yb->qs + 16), _mm512_cvtsepi32_epi8(qb));
			yb->off = -off * _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
		}
		/* the scales amax / 127 rounded to f16 (to nearest even, as
		 * f32_to_fp16) and back, 16 blocks at once */
		__m512 dv = _mm512_div_ps(_mm512_load_ps(amax), _mm512_set1_ps(127.f));
		_mm512_store_ps(d, _mm512_cvtph_ps(_mm512_cvtps_ph(dv, _MM_FROUND_TO_NEAREST_INT |
		                                                           _MM_FROUND_NO_EXC)));
		for (int j = 0; j < k; j++)
			y[i0 + j].d = d[j];
	}
}

static void q4_0_act_prepare(const float *x, void *y, int64_t n)
{
	act8_prepare(x, y, n, 8);
}

static void q8_0_act_prepare(const float *x, void *y, int64_t n)
{
	act8_prepare(x, y, n, 128);
}

/* ---- the packed form (quant_r16_avx512.h): per stripe of nb blocks, the
 * nv code vectors of every block (Q4_0 4, Q8_0 8), then the 16 scales of
 * every block; byte offsets of block b's codes and scales */

R16_AI int pk_nv(int type)
{
	return R16_TYPE(type) == GGML_TYPE_Q4_0 ? 4 : 8;
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

/* Codes unsigned for vpdpbusd (Q4_0 nibbles, Q8_0 values + 128), or signed
 * for the AMX tiles (sgn: q - 8, the Q8_0 values themselves). */
R16_AI void unpack_as(int type, const uint8_t *x, size_t bx, int64_t b, __m512i offs,
                      struct r16blk *u, const bool sgn)
{
	if (R16_TYPE(type) == GGML_TYPE_Q4_0) {
		const uint8_t *p = x + b * (int64_t)sizeof(struct block_q4_0);
		const __m512i m4 = _mm512_set1_epi8(0x0F), k8 = _mm512_set1_epi8(8);
		__m512i t[4];
		if (type & R16_PACKED) {
			const int64_t nb = (int64_t)(bx / sizeof(struct block_q4_0));
#pragma GCC unroll 4
			for (int k = 0; k < 4; k++)
				t[k] = _mm512_loadu_si512(x + pk_codes(b, 4) + 64 * k);
			p = x + pk_scales(nb, b, 4);
		} else {
			r16_load4(p + 2, bx, t);
		}
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++) {
			u->c[k] = _mm512_and_si512(t[k], m4);
			u->c[4 + k] = _mm512_and_si512(_mm512_srli_epi16(t[k], 4), m4);
			if (sgn) {
				u->c[k] = _mm512_sub_epi8(u->c[k], k8);
				u->c[4 + k] = _mm512_sub_epi8(u->c[4 + k], k8);
			}
		}
		u->d = r16_scales(type, p, offs);
	} else {
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

/* Decode over packed Q4_0 / Q8_0: the r16 vectors straight from the
 * stripe, prefetched into L2 and L1 (r16_prefetch_2), with the scale line
 * 16 blocks ahead into L2. Q4_0's high nibbles stay in place (times 16: no
 * shift) and their partial sum, a multiple of 16, is shifted back before
 * the block's exact integer sum is complete; the float step is
 * block_dot's. */
R16_AI void packed_direct(int type, const uint8_t *x, size_t bx, int64_t nb, const uint8_t *a,
                          size_t ba, float *s, size_t lds, __mmask16 keep, const int cols)
{
	const bool q4 = R16_TYPE(type) == GGML_TYPE_Q4_0;
	const int nv = pk_nv(type);
	const uint8_t *scales = x + pk_scales(nb, 0, nv);
	const __m512i lo = _mm512_set1_epi8(0x0F), hi = _mm512_set1_epi8((char)0xF0);
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	__m512 acc[4];
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		acc[c] = _mm512_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *p = x + pk_codes(b, nv);
#pragma GCC unroll 8
		for (int l = 0; l < nv; l++)
			r16_prefetch_2((const char *)p + 64 * l);
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
		__m512i v[8];
#pragma GCC unroll 8
		for (int k = 0; k < nv; k++)
			v[k] = _mm512_loadu_si512(p + 64 * k);
		const __m512 d =
		    _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(scales + b * 32)));
#pragma GCC unroll 4
		for (int c = 0; c < cols; c++) {
			const struct act8 *y = (const struct act8 *)(a + (size_t)c * ba) + b;
			const int8_t *q = y->qs;
			__m512i s0 = _mm512_set1_epi32(y->off), s1 = _mm512_setzero_si512();
			if (q4) {
#pragma GCC unroll 4
				for (int k = 0; k < 4; k++) {
					s0 = r16_dpbusd_bc(s0, _mm512_and_si512(v[k], lo),
					                   q + 4 * k);
					s1 = r16_dpbusd_bc(s1, _mm512_and_si512(v[k], hi),
					                   q + 16 + 4 * k);
				}
				s1 = _mm512_srai_epi32(s1, 4);
			} else {
#pragma GCC unroll 4
				for (int k = 0; k < 4; k++) {
					s0 = r16_dpbusd_bc(s0, _mm512_xor_si512(v[k], flip),
					                   q + 4 * k);
					s1 = r16_dpbusd_bc(s1, _mm512_xor_si512(v[4 + k], flip),
					                   q + 16 + 4 * k);
				}
			}
			__m512 isum = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
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
#define R16_Q8_BIAS                             128
#define R16_BLK                                 struct r16blk
#define R16_ACT                                 struct act8
#define R16_QK                                  QK8_0
#define R16_KC                                  KC
#include "engine/quant_r16_driver_avx512.h"

R16_GEMM_FN(q4_0_gemm, GGML_TYPE_Q4_0)

R16_GEMM_FN(q8_0_gemm, GGML_TYPE_Q8_0)

R16_GEMM_FN(q4_0_gemm_packed, GGML_TYPE_Q4_0 | R16_PACKED)

R16_GEMM_FN(q8_0_gemm_packed, GGML_TYPE_Q8_0 | R16_PACKED)

/* 16 rows into the packed form: the r16 vectors of each block's codes
 * (as unpack's transpose loads them), then the blocks' scales. */
R16_AI void pack(int type, const void *src, size_t bx, void *dst)
{
	const uint8_t *x = src;
	uint8_t *o = dst;
	const int nv = pk_nv(type);
	const size_t bs = nv == 4 ? sizeof(struct block_q4_0) : sizeof(struct block_q8_0);
	const int64_t nb = (int64_t)(bx / bs);
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *p = x + (size_t)b * bs;
		__m512i t[8];
		if (nv == 4)
			r16_load4(p + 2, bx, t);
		else
			r16_load8(p + 2, bx, t);
		for (int k = 0; k < nv; k++)
			_mm512_storeu_si512(o + pk_codes(b, nv) + 64 * k, t[k]);
		for (int r = 0; r < 16; r++)
			memcpy(o + pk_scales(nb, b, nv) + 2 * r, p + (size_t)r * bx, 2);
	}
}

static void q4_0_pack16(const void *src, size_t bx, void *dst)
{
	pack(GGML_TYPE_Q4_0, src, bx, dst);
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
	if (quant__amx) {
		t[GGML_TYPE_Q4_0].gemm_chunk = t[GGML_TYPE_Q8_0].gemm_chunk = 1536 * 1024;
		/* stripe pairs: a chunk of an odd number of stripes ran its last
		 * on the one-stripe kernel */
		t[GGML_TYPE_Q4_0].gemm_rows = t[GGML_TYPE_Q8_0].gemm_rows = 32;
	}
}

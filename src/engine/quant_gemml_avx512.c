/* quant_gemml_avx512.c — gemm kernels (quant.h quant_gemm_fn) for Q4_1 and
 * Q5_1 weights on AVX-512 VNNI, in the r16 form of quant_r16_avx512.h as
 * quant_gemm_avx512.c runs Q4_0 / Q5_0: a block's 16 exact integer sums
 * are eight vpdpbusd of the unsigned codes (nibbles; Q5_1 with its fifth
 * bits) by broadcast activation dwords (no offset: x = d q + m), then the
 * reference's float step sum += (float)isum * (dx * dy) + mx * sy for all
 * 16 rows at once: the numbers of quant_q4_1/q5_1_vec_dot_ref bit for bit,
 * in every path. Activations: struct act8s (Q8_1's values, d and s), one
 * prepared form for both types. Also the scalar path of fewer than 16 rows
 * for these and Q5_0. Prefill of 16+ columns runs on AMX-INT8 where there
 * is one (quant_amx_avx512.c: the unsigned codes as they are). */
#include "engine/quant_r16_avx512.h"

#include <string.h>

#define KC 32 /* blocks per unpacked stripe chunk (20 KiB: stays in L1) */

static size_t act8s_bytes(int64_t n)
{
	return (size_t)(n / QK8_1) * sizeof(struct act8s);
}

/* quant_q8_1_from_float_ref's blocks: s = d * sum with d the f32 scale,
 * then d and s rounded to f16. */
static void act8s_prepare(const float *x, void *vy, int64_t n)
{
	struct act8s *y = vy;
	const int64_t nb = n / QK8_1;
	for (int64_t i0 = 0; i0 < nb; i0 += 16, x += 16 * QK8_1) {
		const int k = nb - i0 < 16 ? (int)(nb - i0) : 16;
		_Alignas(64) float d[16], sd[16];
		_Alignas(64) int32_t sum[16] = {0};
		r16_act_blocks(x, k, y[i0].qs, sizeof *y, sum, d);
		__m512 dv = _mm512_load_ps(d);
		__m512 sv = _mm512_mul_ps(dv, _mm512_cvtepi32_ps(_mm512_load_si512(sum)));
		_mm512_store_ps(sd, r16_f16_round(sv));
		_mm512_store_ps(d, r16_f16_round(dv));
		for (int j = 0; j < k; j++) {
			y[i0 + j].d = d[j];
			y[i0 + j].s = sd[j];
		}
	}
}

/* ---- the packed form (quant_r16_avx512.h): per stripe of nb blocks, the
 * nv code vectors of every block (Q4_1 4, Q5_1 5: the nibbles, then the
 * fifth bits), then per block the 16 d's and the 16 m's (64 bytes) */

R16_AI bool is_q5(int type)
{
	return R16_TYPE(type) == GGML_TYPE_Q5_1;
}

R16_AI int pk_nv(int type)
{
	return is_q5(type) ? 5 : 4;
}

R16_AI size_t blk_bytes(int type)
{
	return is_q5(type) ? sizeof(struct block_q5_1) : sizeof(struct block_q4_1);
}

R16_AI size_t pk_codes(int64_t b, int nv)
{
	return (size_t)b * 64 * (size_t)nv;
}

R16_AI size_t pk_scales(int64_t nb, int64_t b, int nv)
{
	return (size_t)nb * 64 * (size_t)nv + (size_t)b * 64;
}

/* ---- one block of 16 rows */

/* Block b's codes (0..15, Q5_1 0..31), d's and m's. */
R16_AI void unpack(int type, const uint8_t *x, size_t bx, int64_t b, __m512i offs,
                   struct r16blkm *u)
{
	const bool q5 = is_q5(type);
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
		const uint8_t *sc = x + pk_scales((int64_t)(bx / bs), b, nv);
		u->b.d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)sc));
		u->m = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sc + 32)));
	} else {
		r16_load4(p + bs - 16, bx, t);
		if (q5)
			h = r16_q5_hbits(_mm512_i32gather_epi32(offs, p + 4, 1));
		u->b.d = r16_f16(p, offs);
		u->m = r16_f16(p + 2, offs);
	}
	if (q5) {
		r16_q5_codes(t, h, u->b.c);
		return;
	}
	const __m512i m4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		u->b.c[k] = _mm512_and_si512(t[k], m4);
		u->b.c[4 + k] = _mm512_and_si512(_mm512_srli_epi16(t[k], 4), m4);
	}
}

/* acc + ((float)isum * (d_rows * d_act) + m_rows * s_act): the reference's
 * float step, in its order. */
R16_AI __m512 min_step(__m512 acc, __m512i isum, __m512 d, __m512 m, const struct act8s *a)
{
	__m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, _mm512_set1_ps(a->d)));
	return _mm512_add_ps(acc, _mm512_add_ps(t, _mm512_mul_ps(m, _mm512_set1_ps(a->s))));
}

R16_AI __m512 block_dot(int type, const struct r16blkm *u, const struct act8s *a, __m512 acc)
{
	(void)type;
	__m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		s0 = r16_dpbusd_bc(s0, u->b.c[k], a->qs + 4 * k);
		s1 = r16_dpbusd_bc(s1, u->b.c[4 + k], a->qs + 16 + 4 * k);
	}
	return min_step(acc, _mm512_add_epi32(s0, s1), u->b.d, u->m, a);
}

/* ---- decode over packed stripes */

/* The prefetches at block b of a packed stripe (nb blocks): its nv code
 * lines into L2 and L1 (quant_prefetch_2), its d / m line 16 blocks ahead
 * into L2 (the first 16 blocks' at the stripe's start, the next stripe's
 * half way). */
R16_AI void direct_prefetch(const uint8_t *p, int nv, const uint8_t *scales, size_t bx, int64_t nb,
                            int64_t b)
{
#pragma GCC unroll 8
	for (int l = 0; l < nv; l++)
		quant_prefetch_2((const char *)p + 64 * l);
	_mm_prefetch((const char *)scales + b * 64 + 16 * 64, _MM_HINT_T1);
	if (b == 0 || b == nb / 2) {
		const char *first = (const char *)scales + (b ? 16 * bx : 0);
		for (int l = 0; l < 16; l++)
			_mm_prefetch(first + 64 * l, _MM_HINT_T1);
	}
}

/* One column's exact integer sums: v the codes (Q5_1) or the nibble
 * vectors as stored (Q4_1: the high nibbles in place, times 16, their
 * partial sum shifted back). */
R16_AI __m512i direct_isum(int type, const __m512i v[8], const struct act8s *y)
{
	const __m512i lo = _mm512_set1_epi8(0x0F), hi = _mm512_set1_epi8((char)0xF0);
	const int8_t *q = y->qs;
	__m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		if (is_q5(type)) {
			s0 = r16_dpbusd_bc(s0, v[k], q + 4 * k);
			s1 = r16_dpbusd_bc(s1, v[4 + k], q + 16 + 4 * k);
		} else {
			s0 = r16_dpbusd_bc(s0, _mm512_and_si512(v[k], lo), q + 4 * k);
			s1 = r16_dpbusd_bc(s1, _mm512_and_si512(v[k], hi), q + 16 + 4 * k);
		}
	}
	if (!is_q5(type))
		s1 = _mm512_srai_epi32(s1, 4);
	return _mm512_add_epi32(s0, s1);
}

/* Up to 4 columns over a packed stripe: the r16 vectors straight from it
 * (Q5_1's codes built once for all columns), then min_step. */
R16_AI void packed_direct(int type, const uint8_t *x, size_t bx, int64_t nb, const uint8_t *a,
                          size_t ba, float *s, size_t lds, __mmask16 keep, const int cols)
{
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
		if (is_q5(type))
			r16_q5_codes(v, v[4], c5);
		const uint8_t *sc = scales + b * 64;
		const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)sc));
		const __m512 m = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sc + 32)));
#pragma GCC unroll 4
		for (int c = 0; c < cols; c++) {
			const struct act8s *y = (const struct act8s *)(a + (size_t)c * ba) + b;
			acc[c] =
			    min_step(acc[c], direct_isum(type, is_q5(type) ? c5 : v, y), d, m, y);
		}
	}
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		_mm512_mask_storeu_ps(s + (size_t)c * lds, keep, acc[c]);
}

#define R16_AMX(type, u, b0, kb, a, ba, s, lds) quant__amx_legacy_m(u, b0, kb, a, ba, s, lds)
#define R16_AMX2(type, u, u2, b0, kb, a, ba, s, lds)                                               \
	quant__amx_legacy2_m(u, u2, b0, kb, a, ba, s, lds)
#define R16_AMX_SIGN(type, u, kb, to_amx)       ((void)0) /* the same codes */
#define R16_AMX_UNPACK(type, x, bx, b, offs, u) unpack(type, x, bx, b, offs, u)
#define R16_PACKED_DIRECT                       packed_direct
#define R16_BLK                                 struct r16blkm
#define R16_ACT                                 struct act8s
#define R16_QK                                  QK8_1
#define R16_KC                                  KC
#include "engine/quant_r16_driver_avx512.h"

R16_GEMM_FN(q4_1_gemm, GGML_TYPE_Q4_1)

R16_GEMM_FN(q5_1_gemm, GGML_TYPE_Q5_1)

R16_GEMM_FN(q4_1_gemm_packed, GGML_TYPE_Q4_1 | R16_PACKED)

R16_GEMM_FN(q5_1_gemm_packed, GGML_TYPE_Q5_1 | R16_PACKED)

/* 16 rows into the packed form: per block the nibble vectors (as unpack's
 * transpose loads them) and Q5_1's fifth bits in r16_q5_hbits's order,
 * then per block the 16 d's and the 16 m's. */
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
		r16_pack_codes(p, bx, bs, nv, 4, offs, o + pk_codes(b, nv));
		uint8_t *sc = o + pk_scales(nb, b, nv);
		for (int r = 0; r < 16; r++) {
			memcpy(sc + 2 * r, p + (size_t)r * bx, 2);
			memcpy(sc + 32 + 2 * r, p + (size_t)r * bx + 2, 2);
		}
	}
}

static void q4_1_pack16(const void *src, size_t bx, void *dst)
{
	pack(GGML_TYPE_Q4_1, src, bx, dst);
}

static void q5_1_pack16(const void *src, size_t bx, void *dst)
{
	pack(GGML_TYPE_Q5_1, src, bx, dst);
}

void quant__fill_gemml_avx512(struct quant_traits *t)
{
	t[GGML_TYPE_Q4_1].act_bytes = t[GGML_TYPE_Q5_1].act_bytes = act8s_bytes;
	/* one prepared form for both: a model mixing them converts once */
	t[GGML_TYPE_Q4_1].act_prepare = t[GGML_TYPE_Q5_1].act_prepare = act8s_prepare;
	t[GGML_TYPE_Q4_1].gemm = q4_1_gemm;
	t[GGML_TYPE_Q5_1].gemm = q5_1_gemm;
	t[GGML_TYPE_Q4_1].pack16 = q4_1_pack16;
	t[GGML_TYPE_Q5_1].pack16 = q5_1_pack16;
	t[GGML_TYPE_Q4_1].gemm_packed = q4_1_gemm_packed;
	t[GGML_TYPE_Q5_1].gemm_packed = q5_1_gemm_packed;
	if (quant__amx) {
		/* as Q4_0's: a 512-column batch in one chunk, stripe pairs */
		t[GGML_TYPE_Q4_1].gemm_chunk = t[GGML_TYPE_Q5_1].gemm_chunk = 1536 * 1024;
		t[GGML_TYPE_Q4_1].gemm_rows = t[GGML_TYPE_Q5_1].gemm_rows = 32;
	}
}

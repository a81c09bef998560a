/* quant_gemmk23_avx512.c — gemm kernels (quant.h quant_gemm_fn) for Q2_K
 * and Q3_K weights on AVX-512 VNNI, 16 rows per register as
 * quant_r16_avx512.h describes, in the GGUF row form and packed. Both keep
 * 2-bit codes in qs: element 128 H + 32 j + l in bits 2j of qs[32 H + l];
 * Q3_K adds a third bit (bit 4 H + j of hmask[l]) and is read as code + 4
 * (0..7, unsigned for vpdpbusd), 4 times the scaled group sums taken off
 * after. Per group of 16: a vpdpbusd partial (|P| <= 16 * 7 * 127: 15
 * bits) times the group scale by vpdpwssd; the mins (Q2_K) or the offset
 * (Q3_K) through the activation's group-sum pairs; then the reference's
 * float step: the numbers of quant_q2_K/q3_K_vec_dot_ref bit for bit.
 * Codes taken as 4 times (Q2_K, odd j: bits 2..3 masked in place) or twice
 * (packed Q3_K, fields 6 and 7) the code go to a second sum, shifted back
 * once per block (the partials still fit in 16 bits). Packed form: Q2_K
 * per block dword v of each row's block as r16 vector v (21: scales 4, qs
 * 16, d|dmin 1), 16 times the block; Q3_K its own (below). */
#include "engine/quant_k_avx512.h"

#define KKC 4 /* super-blocks per buffered chunk */

struct k23sc {
	__m512i sc[16]; /* group scales as the int16 pair (s, 0): prefill's */
	__m512i raw[4]; /* Q2_K's scale | min << 4 bytes, groups 4k .. 4k + 3 */
	__m512i sp[8];  /* Q2_K mins, Q3_K scales: pairs (g, g + 2), (g + 1, g + 3) */
	__m512 d, dmin;
};

R16_AI bool is_q3(int type)
{
	return R16_TYPE(type) == GGML_TYPE_Q3_K;
}

/* Q3_K in its packed form (below), whose codes and scales are its own. */
R16_AI bool is_q3p(int type)
{
	return is_q3(type) && (type & R16_PACKED);
}

/* Bytes of one row's block. */
R16_AI int64_t blk_bytes(int type)
{
	return is_q3(type) ? (int64_t)sizeof(struct block_q3_K)
	                   : (int64_t)sizeof(struct block_q2_K);
}

/* Block b of the 16 rows at x. */
R16_AI const uint8_t *block_at(int type, const uint8_t *x, int64_t b)
{
	return x + b * blk_bytes(type) * (type & R16_PACKED ? 16 : 1);
}

/* t[k] lane r = dword 4m + k of row r's block p. */
R16_AI void load4(int type, const uint8_t *p, size_t bx, int m, __m512i t[4])
{
	if (type & R16_PACKED) {
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++)
			t[k] = _mm512_loadu_si512(p + 64 * (4 * m + k));
	} else {
		r16_load4(p + 16 * m, bx, t);
	}
}

/* Lane r = dword v of row r's block p. */
R16_AI __m512i load1(int type, const uint8_t *p, __m512i offs, int v)
{
	if (type & R16_PACKED)
		return _mm512_loadu_si512(p + 64 * v);
	return _mm512_i32gather_epi32(offs, p + 4 * v, 1);
}

R16_AI __m512 f16_lo(__m512i v)
{
	return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

/* Q2_K: scales[16] (scale | min << 4), qs[64], d, dmin. */
R16_AI void q2_scales(int type, const uint8_t *p, size_t bx, __m512i offs, struct k23sc *s)
{
	__m512i *t = s->raw;
	load4(type, p, bx, 0, t);
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		s->sp[2 * k] = and_(srl(t[k], 4), 0x000F000F);
		s->sp[2 * k + 1] = _mm512_srli_epi16(t[k], 12);
	}
	const __m512i dd = load1(type, p, offs, 20);
	s->d = f16_lo(dd);
	s->dmin = f16_lo(srl(dd, 16));
}

/* Q3_K in the GGUF form: hmask[32], qs[64], scales[12] (16 6-bit values,
 * quant_q3_K_scales's order, minus 32), d. */
R16_AI void q3_scales(int type, const uint8_t *p, __m512i offs, struct k23sc *s)
{
	const __m512i a0 = load1(type, p, offs, 24), a1 = load1(type, p, offs, 25),
	              a2 = load1(type, p, offs, 26);
	const __m512i lo4 = _mm512_set1_epi32(0x0f0f0f0f), m32 = _mm512_set1_epi8(32);
	__m512i v[4];
	v[0] =
	    _mm512_or_si512(_mm512_and_si512(a0, lo4), _mm512_slli_epi32(and_(a2, 0x03030303), 4));
	v[1] = _mm512_or_si512(_mm512_and_si512(a1, lo4),
	                       _mm512_slli_epi32(and_(srl(a2, 2), 0x03030303), 4));
	v[2] = _mm512_or_si512(_mm512_and_si512(srl(a0, 4), lo4),
	                       _mm512_slli_epi32(and_(srl(a2, 4), 0x03030303), 4));
	v[3] = _mm512_or_si512(_mm512_and_si512(srl(a1, 4), lo4),
	                       _mm512_slli_epi32(and_(srl(a2, 6), 0x03030303), 4));
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		const __m512i b = _mm512_sub_epi8(v[k], m32);
		s->sp[2 * k] = _mm512_srai_epi16(_mm512_slli_epi16(b, 8), 8);
		s->sp[2 * k + 1] = _mm512_srai_epi16(b, 8);
	}
	s->d = f16_lo(srl(_mm512_i32gather_epi32(offs, p + 106, 1), 16));
	s->dmin = _mm512_setzero_ps();
}

/* ---- Q3_K's packed form (per block of 16 rows, 1760 bytes: 16 times the
 * GGUF block): 24 code vectors, 3 scale vectors, the 16 rows' f16 d in 32
 * bytes. Codes: u = code + 4 (0..7); the triple of vectors 3 (4 t + k) ..
 * + 2 (bytes S0, S1, S2 at byte i of lane r) holds u_f of group 8 t + f,
 * element 4 k + i of the group, f < 8:
 *   S0 = u0 | u1 << 3 | ((u6 ^ u2 >> 1) & 3) << 6
 *   S1 = u2 | (u6 >> 2 ^ n(u0)) << 3 | u3 << 4 | (u7 >> 2 ^ n(u4)) << 7
 *   S2 = u4 | u5 << 3 | ((u7 ^ u3 >> 1) & 3) << 6
 * n(u): bit 0 of u in the next byte of the lane (0 in its last); the xors
 * let u6 and u7 come out of one shift and one vpternlogd each, doubled:
 * 2 u6 = (S0 >> 5 ^ S1) & 0x0E, 2 u7 = (S2 >> 5 ^ S1 >> 4) & 0x0E (a
 * dword shift brings the next byte's bit 0 to bit 3). The other six: a
 * mask, after a shift for u1, u3, u5 (13 operations per 8 code vectors,
 * 30 in the GGUF form). Scales: int16 words [4 bits | 6 | 6] (bits 0..3,
 * 4..9, 10..15) of 6-bit two's complements, so that an arithmetic shift
 * gives a sign-extended pair (pairs16's order): the tops of the three
 * vectors are the pairs of groups (0, 2), (1, 3), (4, 6), the middles (5,
 * 7), (8, 10), (9, 11); (12, 14) and (13, 15) have their low 4 bits in
 * the first and the second vector, their high 2 in bits 0..1 and 2..3 of
 * the third. */

/* The scales of packed Q3_K block p. */
R16_AI void q3p_scales(const uint8_t *p, struct k23sc *s)
{
	__m512i v[3];
#pragma GCC unroll 3
	for (int m = 0; m < 3; m++) {
		v[m] = _mm512_loadu_si512(p + 64 * (24 + m));
		s->sp[m] = _mm512_srai_epi16(v[m], 10);
		s->sp[3 + m] = _mm512_srai_epi16(_mm512_slli_epi16(v[m], 6), 10);
	}
	const __m512i lo4 = _mm512_set1_epi32(0x000F000F);
#pragma GCC unroll 2
	for (int h = 0; h < 2; h++) {
		/* C ? A : B: 0xE4 */
		const __m512i w = _mm512_ternarylogic_epi32(
		    v[h], _mm512_slli_epi16(v[2], (unsigned)(4 - 2 * h)), lo4, 0xE4);
		s->sp[6 + h] = _mm512_srai_epi16(_mm512_slli_epi16(w, 10), 10);
	}
	s->d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 64 * 27)));
	s->dmin = _mm512_setzero_ps();
}

/* Field f of the triple at tr: the code + 4, twice it for f = 6, 7. */
R16_AI __m512i q3p_code(const uint8_t *tr, int f)
{
	const __m512i m7 = _mm512_set1_epi8(7), m14 = _mm512_set1_epi8(14);
	const __m512i s0 = _mm512_loadu_si512(tr), s1 = _mm512_loadu_si512(tr + 64),
	              s2 = _mm512_loadu_si512(tr + 128);
	switch (f) {
	case 0: return _mm512_and_si512(s0, m7);
	case 1: return _mm512_and_si512(srl(s0, 3), m7);
	case 2: return _mm512_and_si512(s1, m7);
	case 3: return _mm512_and_si512(srl(s1, 4), m7);
	case 4: return _mm512_and_si512(s2, m7);
	case 5: return _mm512_and_si512(srl(s2, 3), m7);
	/* (A ^ B) & C: 0x28 */
	case 6: return _mm512_ternarylogic_epi32(srl(s0, 5), s1, m14, 0x28);
	default: return _mm512_ternarylogic_epi32(srl(s2, 5), srl(s1, 4), m14, 0x28);
	}
}

/* Codes of group 8 t + f of packed Q3_K block p, as 4 vectors of 4. */
R16_AI void q3p_codes(const uint8_t *p, int t, int f, __m512i c[4])
{
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++)
		c[k] = q3p_code(p + 64 * 3 * (4 * t + k), f);
}

R16_AI void k23_scales(int type, const uint8_t *p, size_t bx, __m512i offs, struct k23sc *s)
{
	if (is_q3p(type))
		q3p_scales(p, s);
	else if (is_q3(type))
		q3_scales(type, p, offs, s);
	else
		q2_scales(type, p, bx, offs, s);
}

/* Bit `bit` of each byte of v at bit 2, the rest of the byte zero. */
R16_AI __m512i bit_at_2(__m512i v, int bit)
{
	v = bit <= 2 ? _mm512_slli_epi32(v, (unsigned)(2 - bit))
	             : _mm512_srli_epi32(v, (unsigned)(bit - 2));
	return and_(v, 0x04040404);
}

/* The qs chunk (H, half) in q, and for Q3_K the hmask chunk half in hm. */
R16_AI void k23_load(int type, const uint8_t *p, size_t bx, int H, int half, __m512i q[4],
                     __m512i hm[4])
{
	load4(type, p, bx, (is_q3(type) ? 2 : 1) + 2 * H + half, q);
	if (is_q3(type))
		load4(type, p, bx, half, hm);
}

/* Codes of group 8 H + 2 j + half (elements 128 H + 32 j + 16 half ..), as
 * 4 vectors of 4 (Q3_K: plus 4). */
R16_AI void k23_codes(int type, const __m512i q[4], const __m512i hm[4], int H, int j, __m512i c[4])
{
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		if (is_q3(type)) {
			/* (A & C) | B: 0xEC */
			c[k] =
			    _mm512_ternarylogic_epi32(srl(q[k], 2 * j), bit_at_2(hm[k], 4 * H + j),
			                              _mm512_set1_epi32(0x03030303), 0xEC);
		} else {
			/* j odd: the code times 4, left in bits 2..3 */
			const __m512i v = j < 2 ? q[k] : srl(q[k], 4);
			c[k] = and_(v, j % 2 ? 0x0C0C0C0C : 0x03030303);
		}
	}
}

/* Decode's accumulator of group g's sums: 1 where the codes are scaled
 * (Q2_K's odd j: 4 times; packed Q3_K's fields 6, 7: twice), else 0 (for
 * GGUF-form Q3_K the parity of j, two chains). */
R16_AI int k23_class(int type, int g)
{
	return is_q3p(type) ? g % 8 >= 6 : g / 2 % 2;
}

/* log2 of the scale of class 1's codes. */
R16_AI int k23_shift(int type)
{
	return is_q3(type) ? is_q3p(type) : 2;
}

/* The block's integer sum from the two accumulators (is1 a multiple of
 * its scale). */
R16_AI __m512i k23_isum(int type, __m512i is0, __m512i is1)
{
	if (k23_shift(type))
		is1 = _mm512_srai_epi32(is1, (unsigned)k23_shift(type));
	return _mm512_add_epi32(is0, is1);
}

/* Group g's scale as the int16 pair (s, 0), taken where it is used
 * (decode: fewer live registers) or once per block (prefill). */
R16_AI __m512i group_scale(int type, const struct k23sc *s, int g)
{
	if (!is_q3(type))
		return and_(srl(s->raw[g / 4], 8 * (g % 4)), 0x0F);
	const __m512i pair = s->sp[2 * (g / 4) + g % 2];
	return g / 2 % 2 ? srl(pair, 16) : and_(pair, 0xFFFF);
}

/* isum + group g's partial times its scale sc. */
R16_AI __m512i k23_group(__m512i isum, const __m512i c[4], __m512i sc, const struct actk *a, int g)
{
	return _mm512_dpwssd_epi32(isum, dot4(c, a, 4 * g), sc);
}

/* acc + the reference's step: Q2_K d * isum - dmin * summs, Q3_K
 * (y.d * d) * (isum - 4 * offset). */
R16_AI __m512 k23_finish(int type, const struct k23sc *s, const struct actk *a, __m512i isum,
                         __m512 acc)
{
	__m512i ps = _mm512_setzero_si512();
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++)
		ps = r16_dpwssd_bc(ps, s->sp[j], a->pairs16 + 2 * j);
	const __m512 yd = _mm512_set1_ps(a->q.d);
	if (is_q3(type)) {
		isum = _mm512_sub_epi32(isum, _mm512_slli_epi32(ps, 2));
		return _mm512_add_ps(
		    acc, _mm512_mul_ps(_mm512_mul_ps(yd, s->d), _mm512_cvtepi32_ps(isum)));
	}
	__m512 t = _mm512_mul_ps(_mm512_mul_ps(yd, s->d), _mm512_cvtepi32_ps(isum));
	t = _mm512_sub_ps(t, _mm512_mul_ps(_mm512_mul_ps(yd, s->dmin), _mm512_cvtepi32_ps(ps)));
	return _mm512_add_ps(acc, t);
}

/* ---- buffered form (prefill): a super-block of 16 rows unpacked, codes of
 * group g at c + 4 g, scaled ones shifted back (a shift per block instead
 * of one per column) */

struct r16k23 {
	__m512i c[64];
	struct k23sc s;
};

R16_AI void unpack(int type, const uint8_t *x, size_t bx, int64_t b, __m512i offs, struct r16k23 *u)
{
	const uint8_t *p = block_at(type, x, b);
	k23_scales(type, p, bx, offs, &u->s);
#pragma GCC unroll 16
	for (int g = 0; g < 16; g++)
		u->s.sc[g] = group_scale(type, &u->s, g);
	if (is_q3p(type)) {
#pragma GCC unroll 16
		for (int g = 0; g < 16; g++)
			q3p_codes(p, g / 8, g % 8, u->c + 4 * g);
	} else {
#pragma GCC unroll 4
		for (int qh = 0; qh < 4; qh++) {
			__m512i q[4], hm[4];
			k23_load(type, p, bx, qh / 2, qh % 2, q, hm);
#pragma GCC unroll 4
			for (int j = 0; j < 4; j++)
				k23_codes(type, q, hm, qh / 2, j,
				          u->c + 4 * (8 * (qh / 2) + 2 * j + qh % 2));
		}
	}
#pragma GCC unroll 64
	for (int v = 0; v < 64; v++)
		if (k23_shift(type) && k23_class(type, v / 4))
			u->c[v] = srl(u->c[v], k23_shift(type));
}

R16_AI __m512 block_dot(int type, const struct r16k23 *u, const struct actk *a, __m512 acc)
{
	__m512i is[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
#pragma GCC unroll 16
	for (int g = 0; g < 16; g++)
		is[g % 2] = k23_group(is[g % 2], u->c + 4 * g, u->s.sc[g], a, g);
	return k23_finish(type, &u->s, a, _mm512_add_epi32(is[0], is[1]), acc);
}

/* ---- register form (decode): each chunk of codes unpacked once for the
 * `cols` columns */

/* isum[c] + the group sums of block p against the columns y[c]. */
R16_AI void direct_groups(int type, const uint8_t *p, size_t bx, const struct k23sc *sc,
                          const struct actk *const y[4], __m512i isum[4][2], const int cols)
{
	if (is_q3p(type)) {
#pragma GCC unroll 16
		for (int g = 0; g < 16; g++) {
			__m512i codes[4];
			quant_prefetch_step(p, 16 * (int)blk_bytes(type), g, 16);
			q3p_codes(p, g / 8, g % 8, codes);
			const int i = k23_class(type, g);
			const __m512i s = group_scale(type, sc, g);
#pragma GCC unroll 4
			for (int c = 0; c < cols; c++)
				isum[c][i] = k23_group(isum[c][i], codes, s, y[c], g);
		}
		return;
	}
#pragma GCC unroll 4
	for (int qh = 0; qh < 4; qh++) {
		__m512i q[4], hm[4];
		k23_load(type, p, bx, qh / 2, qh % 2, q, hm);
#pragma GCC unroll 4
		for (int j = 0; j < 4; j++) {
			__m512i codes[4];
			if (type & R16_PACKED)
				quant_prefetch_step(p, 16 * (int)blk_bytes(type), 4 * qh + j, 16);
			k23_codes(type, q, hm, qh / 2, j, codes);
			const int g = 8 * (qh / 2) + 2 * j + qh % 2;
			const __m512i s = group_scale(type, sc, g);
#pragma GCC unroll 4
			for (int c = 0; c < cols; c++)
				isum[c][j % 2] = k23_group(isum[c][j % 2], codes, s, y[c], g);
		}
	}
}

R16_AI void k23_direct(int type, const uint8_t *p, size_t bx, __m512i offs,
                       const struct actk *const y[4], __m512 acc[4], const int cols)
{
	__m512i isum[4][2];
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		isum[c][0] = isum[c][1] = _mm512_setzero_si512();
	struct k23sc sc;
	k23_scales(type, p, bx, offs, &sc);
	direct_groups(type, p, bx, &sc, y, isum, cols);
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		acc[c] =
		    k23_finish(type, &sc, y[c], k23_isum(type, isum[c][0], isum[c][1]), acc[c]);
}

R16_AI void run_direct(int type, const uint8_t *x, size_t bx, int64_t nb, const uint8_t *a,
                       size_t ba, float *s, size_t lds, __mmask16 keep, const int cols)
{
	const __m512i offs = r16_row_offsets(bx);
	const int64_t pf_step = r16_pf_step(bx, nb);
	__m512 acc[4];
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		acc[c] = _mm512_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		if (!(type & R16_PACKED)) /* packed: direct_groups, a step at a time */
			r16_prefetch_next(x, bx, pf_step, b);
		const struct actk *y[4];
#pragma GCC unroll 4
		for (int c = 0; c < cols; c++)
			y[c] = (const struct actk *)(a + (size_t)c * ba) + b;
		k23_direct(type, block_at(type, x, b), bx, offs, y, acc, cols);
	}
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		_mm512_mask_storeu_ps(s + (size_t)c * lds, keep, acc[c]);
}

#define R16_HAVE_DIRECT
#define R16_BLK struct r16k23
#define R16_ACT struct actk
#define R16_QK  QK_K
#define R16_KC  KKC
#include "engine/quant_r16_driver_avx512.h"

R16_GEMM_FN(q2_K_gemm, GGML_TYPE_Q2_K)

R16_GEMM_FN(q2_K_gemm_packed, GGML_TYPE_Q2_K | R16_PACKED)

R16_GEMM_FN(q3_K_gemm, GGML_TYPE_Q3_K)

R16_GEMM_FN(q3_K_gemm_packed, GGML_TYPE_Q3_K | R16_PACKED)

/* ---- Q3_K's packer (quant.h pack16): the layout above */

/* Bit 0 of the next byte of each byte's lane (0 for the last byte). */
R16_AI __m512i next_bit0(__m512i u)
{
	return and_(srl(u, 8), 0x01010101);
}

/* The code triples of the 16 rows' block p (rows bx apart) into o. */
static void q3p_pack_codes(const uint8_t *p, size_t bx, uint8_t *o)
{
	const int type = GGML_TYPE_Q3_K;
	__m512i hm[8], qs[16];
	for (int m = 0; m < 2; m++)
		load4(type, p, bx, m, hm + 4 * m);
	for (int m = 0; m < 4; m++)
		load4(type, p, bx, 2 + m, qs + 4 * m);
	for (int tk = 0; tk < 8; tk++) {
		const int t = tk / 4, k = tk % 4;
		__m512i u[8];
		for (int f = 0; f < 8; f++) {
			const __m512i lo =
			    and_(srl(qs[8 * t + 4 * (f & 1) + k], 2 * (f >> 1)), 0x03030303);
			const __m512i h =
			    and_(srl(hm[4 * (f & 1) + k], 4 * t + (f >> 1)), 0x01010101);
			u[f] = _mm512_or_si512(lo, _mm512_slli_epi32(h, 2));
		}
		const __m512i x0 = and_(_mm512_xor_si512(u[6], srl(u[2], 1)), 0x03030303),
		              x1 =
		                  _mm512_xor_si512(and_(srl(u[6], 2), 0x01010101), next_bit0(u[0])),
		              x2 =
		                  _mm512_xor_si512(and_(srl(u[7], 2), 0x01010101), next_bit0(u[4])),
		              x3 = and_(_mm512_xor_si512(u[7], srl(u[3], 1)), 0x03030303);
		const __m512i v[3] = {
		    _mm512_or_si512(_mm512_or_si512(u[0], _mm512_slli_epi32(u[1], 3)),
		                    _mm512_slli_epi32(x0, 6)),
		    _mm512_or_si512(
		        _mm512_or_si512(u[2], _mm512_slli_epi32(x1, 3)),
		        _mm512_or_si512(_mm512_slli_epi32(u[3], 4), _mm512_slli_epi32(x2, 7))),
		    _mm512_or_si512(_mm512_or_si512(u[4], _mm512_slli_epi32(u[5], 3)),
		                    _mm512_slli_epi32(x3, 6))};
		for (int i = 0; i < 3; i++)
			_mm512_storeu_si512(o + 64 * (3 * tk + i), v[i]);
	}
}

/* The scales and d of the 16 rows' block p (rows bx apart) into o: the
 * words from the GGUF form's pairs. */
R16_AI void q3p_pack_scales(const uint8_t *p, size_t bx, uint8_t *o)
{
	const __m512i offs = r16_row_offsets(bx);
	struct k23sc s;
	q3_scales(GGML_TYPE_Q3_K, p, offs, &s);
	const __m512i m4 = _mm512_set1_epi16(15), m6 = _mm512_set1_epi16(63);
	__m512i v[3];
#pragma GCC unroll 3
	for (int m = 0; m < 3; m++)
		v[m] = _mm512_or_si512(_mm512_slli_epi16(s.sp[m], 10),
		                       _mm512_slli_epi16(_mm512_and_si512(s.sp[3 + m], m6), 4));
	v[0] = _mm512_or_si512(v[0], _mm512_and_si512(s.sp[6], m4));
	v[1] = _mm512_or_si512(v[1], _mm512_and_si512(s.sp[7], m4));
	/* bits 4..5 of (12, 14) to bits 0..1, of (13, 15) to 2..3 */
	const __m512i hi =
	    _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(s.sp[6], 4), _mm512_set1_epi16(3)),
	                    _mm512_and_si512(_mm512_srli_epi16(s.sp[7], 2), _mm512_set1_epi16(12)));
	v[2] = _mm512_or_si512(v[2], hi);
	for (int m = 0; m < 3; m++)
		_mm512_storeu_si512(o + 64 * (24 + m), v[m]);
	const __m512i d = srl(_mm512_i32gather_epi32(offs, p + 106, 1), 16);
	_mm256_storeu_si256((__m256i *)(o + 64 * 27), _mm512_cvtepi32_epi16(d));
}

static void q3_K_pack16(const void *src, size_t bx, void *dst)
{
	const size_t bs = sizeof(struct block_q3_K);
	for (size_t b = 0; b < bx / bs; b++) {
		const uint8_t *p = (const uint8_t *)src + b * bs;
		uint8_t *o = (uint8_t *)dst + 16 * bs * b;
		q3p_pack_codes(p, bx, o);
		q3p_pack_scales(p, bx, o);
	}
}

void quant__fill_gemmk23_avx512(struct quant_traits *t)
{
	static const int types[] = {GGML_TYPE_Q2_K, GGML_TYPE_Q3_K};
	for (int i = 0; i < 2; i++) {
		t[types[i]].act_bytes = quant__actk_bytes;
		t[types[i]].act_prepare = quant__actk_prepare_avx512;
	}
	t[GGML_TYPE_Q2_K].gemm = q2_K_gemm;
	t[GGML_TYPE_Q2_K].gemm_packed = q2_K_gemm_packed;
	t[GGML_TYPE_Q2_K].pack16 = quant__q2_K_pack16;
	t[GGML_TYPE_Q3_K].gemm = q3_K_gemm;
	t[GGML_TYPE_Q3_K].gemm_packed = q3_K_gemm_packed;
	t[GGML_TYPE_Q3_K].pack16 = q3_K_pack16;
}

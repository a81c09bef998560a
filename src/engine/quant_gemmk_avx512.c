/* quant_gemmk_avx512.c — gemm kernels (quant.h quant_gemm_fn) for Q4_K,
 * Q5_K and Q6_K weights on AVX-512 VNNI, 16 rows per register as
 * quant_r16_avx512.h describes. Per super-block and row: vpdpbusd partial
 * sums of 16 codes times activations, scaled by the group scales exactly in
 * integers (Q4_K: vpdpwssd of the partials, which fit in 16 bits, by the
 * 6-bit scales; Q5_K and Q6_K: the partials split into int16 pairs (low
 * byte, rest) against scale pairs (s, 256 s)), the mins / code offset
 * through the activation's group sums, then the reference's float
 * expression: the numbers of quant_q4_K/q5_K/q6_K_vec_dot_ref bit for bit.
 * Activations: struct actk, a block_q8_K plus its group sums paired for
 * vpdpwssd; all three types read the same prepared form. Weights in the
 * GGUF row form or packed (pack16 / gemm_packed: r16 vectors stored side by
 * side, same numbers). */
#include "engine/quant_k_avx512.h"

#define KKC 4 /* super-blocks per buffered chunk (Q6_K: 23 KiB) */

size_t quant__actk_bytes(int64_t n)
{
	return (size_t)(n / QK_K) * sizeof(struct actk);
}

/* The first element of x[0..256) whose magnitude is amax. */
static float signed_max(const float *x, float amax)
{
	const __m512 a = _mm512_set1_ps(amax);
	for (int e = 0; e < QK_K; e += 16) {
		__mmask16 m =
		    _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + e)), a, _CMP_EQ_OQ);
		if (m)
			return x[e + __builtin_ctz(m)];
	}
	return 0.0f;
}

static void actk_block(const float *x, struct actk *y)
{
	__m512 mx = _mm512_setzero_ps();
	for (int e = 0; e < QK_K; e += 16)
		mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(x + e)));
	float amax = _mm512_reduce_max_ps(mx);
	memset(y, 0, sizeof *y);
	if (amax == 0)
		return;
	float iscale = -127.f / signed_max(x, amax);
	const __m512 is = _mm512_set1_ps(iscale);
	for (int g = 0; g < QK_K / 16; g++) {
		/* the product rounded half to even, as quant_nearest_int */
		__m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(is, _mm512_loadu_ps(x + 16 * g)));
		_mm_storeu_si128((__m128i *)(y->q.qs + 16 * g), _mm512_cvtsepi32_epi8(v));
		y->q.bsums[g] = (int16_t)_mm512_reduce_add_epi32(v);
	}
	y->q.d = 1 / iscale;
	quant_actk_pairs(y);
}

void quant__actk_prepare_avx512(const float *x, void *vy, int64_t n)
{
	struct actk *y = vy;
	for (int64_t i = 0; i < n / QK_K; i++)
		actk_block(x + i * QK_K, &y[i]);
}

/* ---- Q4_K: 8 groups of 32, 6-bit scales and mins. Packed: block b of a
 * stripe at x + 16 * 144 * b, the r16 vectors of the 16-byte chunk at
 * offset o of the GGUF block at offset 16 * o (quant_r16_avx512.h). */

struct k4sc {
	__m512i sc[8]; /* group scales: in the low 16 bits of each lane (Q4_K),
	                  as the pair (s, 256 s) (Q5_K) */
	__m512i mp[4]; /* min pairs (0, 2), (1, 3), (4, 6), (5, 7) as int16 */
	__m512 d, dmin;
};

R16_AI bool is_q5(int type)
{
	return R16_TYPE(type) == GGML_TYPE_Q5_K;
}

R16_AI bool is_q6(int type)
{
	return R16_TYPE(type) == GGML_TYPE_Q6_K;
}

/* Bytes of a Q4_K / Q5_K block. */
R16_AI int64_t k4_bytes(int type)
{
	return is_q5(type) ? (int64_t)sizeof(struct block_q5_K)
	                   : (int64_t)sizeof(struct block_q4_K);
}

/* Block b of the 16 rows at x (Q4_K or Q5_K). */
R16_AI const uint8_t *k4_block(int type, const uint8_t *x, int64_t b)
{
	return x + b * k4_bytes(type) * (type & R16_PACKED ? 16 : 1);
}

/* t[k] lane r = dword k of the 16 bytes at offset o of row r's block p. */
R16_AI void k4_load(int type, const uint8_t *p, size_t bx, int o, __m512i t[4])
{
	if (type & R16_PACKED) {
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++)
			t[k] = _mm512_loadu_si512(p + 16 * o + 64 * k);
	} else {
		r16_load4(p + o, bx, t);
	}
}

R16_AI void k4_scales(int type, const uint8_t *p, size_t bx, struct k4sc *s)
{
	__m512i t[4];
	k4_load(type, p, bx, 0, t); /* d | dmin, scales 0..3, 4..7, 8..11 */
	__m512i sc_lo = and_(t[1], 0x3f3f3f3f), m_lo = and_(t[2], 0x3f3f3f3f);
	__m512i sc_hi = _mm512_or_si512(and_(t[3], 0x0f0f0f0f), and_(srl(t[1], 2), 0x30303030));
	__m512i m_hi =
	    _mm512_or_si512(and_(srl(t[3], 4), 0x0f0f0f0f), and_(srl(t[2], 2), 0x30303030));
#pragma GCC unroll 16
	for (int j = 0; j < 4; j++) {
		s->sc[j] = and_(srl(sc_lo, 8 * j), 0xFF);
		s->sc[4 + j] = and_(srl(sc_hi, 8 * j), 0xFF);
	}
	if (is_q5(type))
#pragma GCC unroll 16
		for (int j = 0; j < 8; j++)
			s->sc[j] = _mm512_or_si512(s->sc[j], _mm512_slli_epi32(s->sc[j], 24));
	s->mp[0] = and_(m_lo, 0x00FF00FF);
	s->mp[1] = and_(srl(m_lo, 8), 0x00FF00FF);
	s->mp[2] = and_(m_hi, 0x00FF00FF);
	s->mp[3] = and_(srl(m_hi, 8), 0x00FF00FF);
	s->d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(t[0]));
	s->dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(srl(t[0], 16)));
}

/* Codes of chunk c (64 elements), half h (dwords 4h..4h+3 of its 32 qs
 * bytes): lo[k] elements 64c + 16h + 4k.., hi[k] 64c + 32 + 16h + 4k..,
 * times 16 if x16 (one op less per vector, one more per column: k4_half
 * shifts the partial). */
R16_AI void k4_codes(int type, const uint8_t *p, size_t bx, int c, int h, __m512i lo[4],
                     __m512i hi[4], const bool x16)
{
	__m512i t[4];
	k4_load(type, p, bx, 16 + 32 * c + 16 * h, t);
#pragma GCC unroll 16
	for (int k = 0; k < 4; k++) {
		lo[k] = and_(t[k], 0x0f0f0f0f);
		hi[k] = x16 ? and_(t[k], (int)0xf0f0f0f0)
		            : and_(_mm512_srli_epi16(t[k], 4), 0x0f0f0f0f);
	}
}

/* is[0], is[1] += the chunk-half's 16-element partials times their group
 * scales (which fit in 16 bits; the hi codes' times 16 exactly divisible);
 * two sums, two shorter chains of vpdpwssd. */
R16_AI void k4_half(__m512i is[2], const __m512i lo[4], const __m512i hi[4], const struct k4sc *s,
                    const struct actk *a, int c, int h, const bool x16)
{
	is[0] = _mm512_dpwssd_epi32(is[0], dot4(lo, a, 16 * c + 4 * h), s->sc[2 * c]);
	__m512i ph = dot4(hi, a, 16 * c + 8 + 4 * h);
	if (x16)
		ph = _mm512_srai_epi32(ph, 4);
	is[1] = _mm512_dpwssd_epi32(is[1], ph, s->sc[2 * c + 1]);
}

/* ---- Q5_K: Q4_K's header, scales and step; the fifth bit of element l
 * of each 32 in qh (chunks 1 and 2), bit 2c of byte l for the low nibbles
 * of qs chunk c (64 elements), bit 2c + 1 for the high ones. The partials
 * of 16 codes (|P| <= 16 * 31 * 128) do not fit in 16 bits: they go by
 * pair_split against the scale pairs. */

/* Bit `bit` of each byte of v at bit 4, the rest of the byte zero. */
R16_AI __m512i bit_at_4(__m512i v, int bit)
{
	v = bit <= 4 ? _mm512_slli_epi32(v, (unsigned)(4 - bit))
	             : _mm512_srli_epi32(v, (unsigned)(bit - 4));
	return and_(v, 0x10101010);
}

/* k4_codes's lo[k], hi[k] for Q5_K, the fifth bits added. */
R16_AI void k5_codes(int type, const uint8_t *p, size_t bx, int c, int h, __m512i lo[4],
                     __m512i hi[4])
{
	__m512i q[4], qh[4];
	k4_load(type, p, bx, 48 + 32 * c + 16 * h, q);
	k4_load(type, p, bx, 16 + 16 * h, qh);
	const __m512i m = _mm512_set1_epi32(0x0f0f0f0f);
#pragma GCC unroll 16
	for (int k = 0; k < 4; k++) {
		/* (A & C) | B: 0xEC */
		lo[k] = _mm512_ternarylogic_epi32(q[k], bit_at_4(qh[k], 2 * c), m, 0xEC);
		hi[k] =
		    _mm512_ternarylogic_epi32(srl(q[k], 4), bit_at_4(qh[k], 2 * c + 1), m, 0xEC);
	}
}

/* k4_half for Q5_K: the partials split into pairs. */
R16_AI void k5_half(__m512i is[2], const __m512i lo[4], const __m512i hi[4], const struct k4sc *s,
                    const struct actk *a, int c, int h)
{
	is[0] = _mm512_dpwssd_epi32(is[0], pair_split(dot4(lo, a, 16 * c + 4 * h)), s->sc[2 * c]);
	is[1] = _mm512_dpwssd_epi32(is[1], pair_split(dot4(hi, a, 16 * c + 8 + 4 * h)),
	                            s->sc[2 * c + 1]);
}

/* The codes of chunk c, half h of either type. */
R16_AI void k45_codes(int type, const uint8_t *p, size_t bx, int c, int h, __m512i lo[4],
                      __m512i hi[4], const bool x16)
{
	if (is_q5(type))
		k5_codes(type, p, bx, c, h, lo, hi);
	else
		k4_codes(type, p, bx, c, h, lo, hi, x16);
}

R16_AI void k45_half(int type, __m512i is[2], const __m512i lo[4], const __m512i hi[4],
                     const struct k4sc *s, const struct actk *a, int c, int h, const bool x16)
{
	if (is_q5(type))
		k5_half(is, lo, hi, s, a, c, h);
	else
		k4_half(is, lo, hi, s, a, c, h, x16);
}

/* acc + d * isum - dmin * summs, the reference's step. */
R16_AI __m512 k4_finish(const struct k4sc *s, const struct actk *a, __m512i isum, __m512 acc)
{
	__m512i summs = _mm512_setzero_si512();
#pragma GCC unroll 16
	for (int j = 0; j < 4; j++)
		summs = r16_dpwssd_bc(summs, s->mp[j], a->pairs32 + 2 * j);
	const __m512 yd = _mm512_set1_ps(a->q.d);
	__m512 t = _mm512_mul_ps(_mm512_mul_ps(yd, s->d), _mm512_cvtepi32_ps(isum));
	t = _mm512_sub_ps(t, _mm512_mul_ps(_mm512_mul_ps(yd, s->dmin), _mm512_cvtepi32_ps(summs)));
	return _mm512_add_ps(acc, t);
}

/* ---- Q6_K: 16 groups of 16, signed 8-bit scales, 6-bit codes - 32.
 * Packed: block b at x + K6_PB * b holds the codes of k6_codes's four (h,
 * q) pieces, 12 vectors each (X[4], Y[4], Z[4]: the codes a, b, c with the
 * 2-bit slices 0-1, 2-3, 4-5 of d in their top bits), then the scales in 8
 * runs of 32 bytes, run 2m + e holding at 2r row r's int8 scales 4m + e and
 * 4m + e + 2; the blocks' 16 f16 d follow them all, at x + K6_PB * nb. */
#define K6_PB 3328

struct k6sc {
	__m512i sc[16]; /* group scales s as the int16 pair (s, 256 s), k6_group's */
	__m512i sp[8];  /* scale pairs (g, g + 2), (g + 1, g + 3) as int16 */
	__m512 d;
};

/* The int16 at bytes lo..lo+1 of each dword as the pair (s, 256 s). */
R16_AI __m512i k6_scale_pair(__m512i v, int lo)
{
	return _mm512_shuffle_epi8(v, dw_shuffle(0x00800100u + 0x02000202u * (uint32_t)lo / 2));
}

R16_AI void k6_scales_gguf(const uint8_t *p, size_t bx, __m512i offs, struct k6sc *s)
{
	__m512i t[4];
	r16_load4(p + 192, bx, t);
#pragma GCC unroll 16
	for (int k = 0; k < 4; k++) {
#pragma GCC unroll 16
		for (int j = 0; j < 4; j++)
			s->sc[4 * k + j] = k6_scale_pair(
			    _mm512_srai_epi32(_mm512_slli_epi32(t[k], 24 - 8 * j), 24), 0);
		s->sp[2 * k] = _mm512_srai_epi16(_mm512_slli_epi16(t[k], 8), 8);
		s->sp[2 * k + 1] = _mm512_srai_epi16(t[k], 8);
	}
	__m512i d = _mm512_i32gather_epi32(offs, p + 206, 1); /* scales 14, 15 | d */
	s->d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(srl(d, 16)));
}

/* Block b's scales: p its start, pd its d (packed form only). */
R16_AI void k6_scales(int type, const uint8_t *p, const uint8_t *pd, size_t bx, __m512i offs,
                      struct k6sc *s)
{
	if (!(type & R16_PACKED)) {
		k6_scales_gguf(p, bx, offs, s);
		return;
	}
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++) {
		const int g = 4 * (j / 2) + j % 2;
		s->sp[j] =
		    _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(p + 3072 + 32 * j)));
		s->sc[g] = k6_scale_pair(s->sp[j], 0);
		s->sc[g + 2] = k6_scale_pair(s->sp[j], 2);
	}
	s->d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)pd));
}

/* The codes of half h, dwords 4q..4q+3 (q < 2) of each 32-byte quarter: a[k] for
 * elements 128h + 16q + 4k.. (group 8h + q), b[k] + 32, c[k] + 64, d[k] +
 * 96 (groups 8h + 2 + q, 8h + 4 + q, 8h + 6 + q). */
R16_AI void k6_codes_gguf(const uint8_t *p, size_t bx, int h, int q, __m512i a[4], __m512i b[4],
                          __m512i c[4], __m512i d[4])
{
	__m512i l0[4], l1[4], hb[4];
	r16_load4(p + 64 * h + 16 * q, bx, l0);
	r16_load4(p + 64 * h + 32 + 16 * q, bx, l1);
	r16_load4(p + 128 + 32 * h + 16 * q, bx, hb);
#pragma GCC unroll 16
	for (int k = 0; k < 4; k++) {
		a[k] = _mm512_or_si512(and_(l0[k], 0x0f0f0f0f),
		                       and_(_mm512_slli_epi32(hb[k], 4), 0x30303030));
		b[k] = _mm512_or_si512(and_(l1[k], 0x0f0f0f0f),
		                       and_(_mm512_slli_epi32(hb[k], 2), 0x30303030));
		c[k] = _mm512_or_si512(and_(srl(l0[k], 4), 0x0f0f0f0f), and_(hb[k], 0x30303030));
		d[k] = _mm512_or_si512(and_(srl(l1[k], 4), 0x0f0f0f0f),
		                       and_(srl(hb[k], 2), 0x30303030));
	}
}

/* The same codes from block p of either form. */
R16_AI void k6_codes(int type, const uint8_t *p, size_t bx, int h, int q, __m512i a[4],
                     __m512i b[4], __m512i c[4], __m512i d[4])
{
	if (!(type & R16_PACKED)) {
		k6_codes_gguf(p, bx, h, q, a, b, c, d);
		return;
	}
	const uint8_t *v = p + 768 * (2 * h + q);
	const __m512i m3 = _mm512_set1_epi8(3), m15 = _mm512_set1_epi8(15);
#pragma GCC unroll 16
	for (int k = 0; k < 4; k++) {
		__m512i x = _mm512_loadu_si512(v + 64 * k),
		        y = _mm512_loadu_si512(v + 256 + 64 * k);
		__m512i z = _mm512_loadu_si512(v + 512 + 64 * k);
		a[k] = and_(x, 0x3f3f3f3f);
		b[k] = and_(y, 0x3f3f3f3f);
		c[k] = and_(z, 0x3f3f3f3f);
		/* bits 0-1 from x >> 6, 2-3 from y >> 4, 4-5 from z >> 2 */
		__m512i t = _mm512_ternarylogic_epi32(m3, srl(x, 6), srl(y, 4), 0xCA);
		t = _mm512_ternarylogic_epi32(m15, t, srl(z, 2), 0xCA);
		d[k] = and_(t, 0x3f3f3f3f);
	}
}

/* isum + group g's partial P times its scale s, one vpdpwssd: |P| <=
 * 16 * 63 * 127 < 2^17, so P = b + 256 h with b its low byte and h = P >> 8
 * (bytes 1, 2) an int16; s b + 256 s h with the pair (s, 256 s). */
R16_AI __m512i k6_group(__m512i isum, const __m512i *c, const struct k6sc *s, const struct actk *a,
                        int g)
{
	return _mm512_dpwssd_epi32(isum, pair_split(dot4(c, a, 4 * g)), s->sc[g]);
}

/* The codes of one (h, q) piece against one column, into two sums. */
R16_AI void k6_piece(__m512i is[2], const __m512i a4[4], const __m512i b4[4], const __m512i c4[4],
                     const __m512i d4[4], const struct k6sc *s, const struct actk *a, int h, int q)
{
	is[0] = k6_group(is[0], a4, s, a, 8 * h + q);
	is[1] = k6_group(is[1], b4, s, a, 8 * h + 2 + q);
	is[0] = k6_group(is[0], c4, s, a, 8 * h + 4 + q);
	is[1] = k6_group(is[1], d4, s, a, 8 * h + 6 + q);
}

/* acc + (y.d * d) * (isum - 32 * sum of scale * group sum). */
R16_AI __m512 k6_finish(const struct k6sc *s, const struct actk *a, __m512i isum, __m512 acc)
{
	__m512i off = _mm512_setzero_si512();
#pragma GCC unroll 16
	for (int j = 0; j < 8; j++)
		off = r16_dpwssd_bc(off, s->sp[j], a->pairs16 + 2 * j);
	isum = _mm512_sub_epi32(isum, _mm512_slli_epi32(off, 5));
	__m512 t = _mm512_mul_ps(_mm512_set1_ps(a->q.d), s->d);
	return _mm512_add_ps(acc, _mm512_mul_ps(t, _mm512_cvtepi32_ps(isum)));
}

/* Block b of the 16 rows at x, and (packed form) its d. */
R16_AI const uint8_t *k6_block(int type, const uint8_t *x, size_t bx, int64_t b, const uint8_t **pd)
{
	if (!(type & R16_PACKED))
		return x + b * (int64_t)sizeof(struct block_q6_K);
	*pd = x + (int64_t)(bx / sizeof(struct block_q6_K)) * K6_PB + 32 * b;
	return x + b * K6_PB;
}

/* ---- buffered form (prefill): a super-block of 16 rows unpacked */

struct r16k {
	__m512i c[64]; /* Q4_K: [c][h]: lo 4, hi 4; Q6_K: [h][q]: a, b, c, d 4 each */
	union {
		struct k4sc k4;
		struct k6sc k6;
	};
};

R16_AI void unpack(int type, const uint8_t *x, size_t bx, int64_t b, __m512i offs, struct r16k *u)
{
	if (!is_q6(type)) {
		const uint8_t *p = k4_block(type, x, b);
		k4_scales(type, p, bx, &u->k4);
#pragma GCC unroll 16
		for (int c = 0; c < 4; c++)
#pragma GCC unroll 16
			for (int h = 0; h < 2; h++) {
				__m512i *o = u->c + 16 * c + 8 * h;
				k45_codes(type, p, bx, c, h, o, o + 4, false);
			}
	} else {
		const uint8_t *pd = NULL, *p = k6_block(type, x, bx, b, &pd);
		k6_scales(type, p, pd, bx, offs, &u->k6);
#pragma GCC unroll 16
		for (int h = 0; h < 2; h++)
#pragma GCC unroll 16
			for (int q = 0; q < 2; q++) {
				__m512i *o = u->c + 32 * h + 16 * q;
				k6_codes(type, p, bx, h, q, o, o + 4, o + 8, o + 12);
			}
	}
}

R16_AI __m512 block_dot(int type, const struct r16k *u, const struct actk *a, __m512 acc)
{
	__m512i isum = _mm512_setzero_si512();
	if (!is_q6(type)) {
		__m512i is[2] = {isum, isum};
#pragma GCC unroll 16
		for (int c = 0; c < 4; c++)
#pragma GCC unroll 16
			for (int h = 0; h < 2; h++) {
				const __m512i *o = u->c + 16 * c + 8 * h;
				k45_half(type, is, o, o + 4, &u->k4, a, c, h, false);
			}
		return k4_finish(&u->k4, a, _mm512_add_epi32(is[0], is[1]), acc);
	}
	__m512i is[2] = {isum, isum};
#pragma GCC unroll 16
	for (int h = 0; h < 2; h++)
#pragma GCC unroll 16
		for (int q = 0; q < 2; q++) {
			const __m512i *o = u->c + 32 * h + 16 * q;
			k6_piece(is, o, o + 4, o + 8, o + 12, &u->k6, a, h, q);
		}
	return k6_finish(&u->k6, a, _mm512_add_epi32(is[0], is[1]), acc);
}

/* ---- register form (decode): each piece of codes unpacked once for the
 * `cols` columns */

R16_AI void k4_direct(int type, const uint8_t *p, size_t bx, const struct actk *const y[4],
                      __m512 acc[4], const int cols)
{
	__m512i isum[4][2];
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		isum[c][0] = isum[c][1] = _mm512_setzero_si512();
	struct k4sc sc;
	k4_scales(type, p, bx, &sc);
#pragma GCC unroll 16
	for (int c4 = 0; c4 < 4; c4++)
#pragma GCC unroll 16
		for (int h = 0; h < 2; h++) {
			__m512i lo[4], hi[4];
			if (type & R16_PACKED)
				quant_prefetch_step(p, 16 * (int)k4_bytes(type), 2 * c4 + h, 8);
			k45_codes(type, p, bx, c4, h, lo, hi, cols <= 2);
#pragma GCC unroll 16
			for (int c = 0; c < cols; c++)
				k45_half(type, isum[c], lo, hi, &sc, y[c], c4, h, cols <= 2);
		}
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		acc[c] = k4_finish(&sc, y[c], _mm512_add_epi32(isum[c][0], isum[c][1]), acc[c]);
}

R16_AI void k6_direct(int type, const uint8_t *x, size_t bx, int64_t b, __m512i offs,
                      const struct actk *const y[4], __m512 acc[4], const int cols)
{
	__m512i isum[4][2];
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		isum[c][0] = isum[c][1] = _mm512_setzero_si512();
	const uint8_t *pd = NULL, *p = k6_block(type, x, bx, b, &pd);
	struct k6sc sc;
	k6_scales(type, p, pd, bx, offs, &sc);
#pragma GCC unroll 16
	for (int h = 0; h < 2; h++)
#pragma GCC unroll 16
		for (int q = 0; q < 2; q++) {
			__m512i c0[4], c1[4], c2[4], c3[4];
			if (type & R16_PACKED)
				quant_prefetch_step(p, K6_PB, 2 * h + q, 4);
			k6_codes(type, p, bx, h, q, c0, c1, c2, c3);
#pragma GCC unroll 16
			for (int c = 0; c < cols; c++)
				k6_piece(isum[c], c0, c1, c2, c3, &sc, y[c], h, q);
		}
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		acc[c] = k6_finish(&sc, y[c], _mm512_add_epi32(isum[c][0], isum[c][1]), acc[c]);
}

/* The prefetch of block b: the GGUF form's next stripe a slice per block
 * (r16_prefetch_next); in the packed form, where quant_prefetch_step takes
 * the block's own lines (into L2 and L1: into L1 alone, 4 KiB ahead, was
 * 4-8% slower than into L2 alone, which the two levels beat by 3-7%), at
 * block 0 the next stripe's Q6_K d's, which lie after its blocks. */
R16_AI void k_prefetch(int type, const uint8_t *x, size_t bx, int64_t nb, int64_t step, int64_t b)
{
	if (!(type & R16_PACKED)) {
		r16_prefetch_next(x, bx, step, b);
		return;
	}
	if (!is_q6(type))
		return;
	const char *next_d = (const char *)x + 16 * bx + nb * K6_PB;
	for (int64_t l = 0; b == 0 && l < 32 * nb; l += 64)
		_mm_prefetch(next_d + l, _MM_HINT_T0);
}

R16_AI void run_direct(int type, const uint8_t *x, size_t bx, int64_t nb, const uint8_t *a,
                       size_t ba, float *s, size_t lds, __mmask16 keep, const int cols)
{
	const __m512i offs = r16_row_offsets(bx);
	__m512 acc[4];
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		acc[c] = _mm512_setzero_ps();
	const int64_t pf_step = r16_pf_step(bx, nb);
	for (int64_t b = 0; b < nb; b++) {
		k_prefetch(type, x, bx, nb, pf_step, b);
		const struct actk *y[4];
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++)
			y[c] = (const struct actk *)(a + (size_t)c * ba) + b;
		if (!is_q6(type))
			k4_direct(type, k4_block(type, x, b), bx, y, acc, cols);
		else
			k6_direct(type, x, bx, b, offs, y, acc, cols);
	}
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		_mm512_mask_storeu_ps(s + (size_t)c * lds, keep, acc[c]);
}

#define R16_HAVE_DIRECT
#define R16_BLK struct r16k
#define R16_ACT struct actk
#define R16_QK  QK_K
#define R16_KC  KKC
#include "engine/quant_r16_driver_avx512.h"

R16_GEMM_FN(q4_K_gemm, GGML_TYPE_Q4_K)

R16_GEMM_FN(q6_K_gemm, GGML_TYPE_Q6_K)

R16_GEMM_FN(q4_K_gemm_packed, GGML_TYPE_Q4_K | R16_PACKED)

R16_GEMM_FN(q6_K_gemm_packed, GGML_TYPE_Q6_K | R16_PACKED)

R16_GEMM_FN(q5_K_gemm, GGML_TYPE_Q5_K)

R16_GEMM_FN(q5_K_gemm_packed, GGML_TYPE_Q5_K | R16_PACKED)

/* 16 rows into the packed form: each 16-byte chunk of each block as its
 * four r16 vectors, in place (Q4_K, Q5_K: rows of whole blocks of 16 n
 * bytes). */
static void chunks_pack16(const void *src, size_t bx, void *dst)
{
	const uint8_t *x = src;
	uint8_t *o = dst;
	for (size_t i = 0; i < bx; i += 16) {
		__m512i t[4];
		r16_load4(x + i, bx, t);
		for (int k = 0; k < 4; k++)
			_mm512_storeu_si512(o + 16 * i + 64 * k, t[k]);
	}
}

/* One Q6_K block of 16 rows into its packed codes and scales (o), and d. */
static void q6_K_pack_block(const uint8_t *p, size_t bx, uint8_t *o, uint8_t *od)
{
	const __m512i top = _mm512_set1_epi8((char)0xC0);
	for (int pq = 0; pq < 4; pq++) {
		__m512i a[4], b[4], c[4], d[4];
		k6_codes_gguf(p, bx, pq / 2, pq % 2, a, b, c, d);
		uint8_t *v = o + 768 * pq;
		for (int k = 0; k < 4; k++) {
			__m512i x = _mm512_and_si512(_mm512_slli_epi32(d[k], 6), top);
			__m512i y = _mm512_and_si512(_mm512_slli_epi32(d[k], 4), top);
			__m512i z = _mm512_and_si512(_mm512_slli_epi32(d[k], 2), top);
			_mm512_storeu_si512(v + 64 * k, _mm512_or_si512(a[k], x));
			_mm512_storeu_si512(v + 256 + 64 * k, _mm512_or_si512(b[k], y));
			_mm512_storeu_si512(v + 512 + 64 * k, _mm512_or_si512(c[k], z));
		}
	}
	for (int r = 0; r < 16; r++) {
		const struct block_q6_K *blk = (const struct block_q6_K *)(p + (size_t)r * bx);
		for (int j = 0; j < 8; j++) {
			o[3072 + 32 * j + 2 * r] = (uint8_t)blk->scales[4 * (j / 2) + j % 2];
			o[3072 + 32 * j + 2 * r + 1] =
			    (uint8_t)blk->scales[4 * (j / 2) + j % 2 + 2];
		}
		memcpy(od + 2 * r, &blk->d, 2);
	}
}

static void q6_K_pack16(const void *src, size_t bx, void *dst)
{
	const uint8_t *x = src;
	uint8_t *o = dst;
	const int64_t nb = (int64_t)(bx / sizeof(struct block_q6_K));
	for (int64_t b = 0; b < nb; b++)
		q6_K_pack_block(x + b * (int64_t)sizeof(struct block_q6_K), bx, o + b * K6_PB,
		                o + nb * K6_PB + 32 * b);
}

void quant__fill_gemmk_avx512(struct quant_traits *t)
{
	static const int types[] = {GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
#pragma GCC unroll 16
	for (int i = 0; i < 3; i++) {
		t[types[i]].act_bytes = quant__actk_bytes;
		t[types[i]].act_prepare = quant__actk_prepare_avx512;
	}
	t[GGML_TYPE_Q4_K].gemm = q4_K_gemm;
	t[GGML_TYPE_Q6_K].gemm = q6_K_gemm;
	t[GGML_TYPE_Q4_K].pack16 = chunks_pack16;
	t[GGML_TYPE_Q4_K].gemm_packed = q4_K_gemm_packed;
	t[GGML_TYPE_Q6_K].pack16 = q6_K_pack16;
	t[GGML_TYPE_Q6_K].gemm_packed = q6_K_gemm_packed;
	t[GGML_TYPE_Q5_K].gemm = q5_K_gemm;
	t[GGML_TYPE_Q5_K].pack16 = chunks_pack16;
	t[GGML_TYPE_Q5_K].gemm_packed = q5_K_gemm_packed;
}

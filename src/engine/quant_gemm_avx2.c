/* quant_gemm_avx2.c — gemm kernels (quant.h quant_gemm_fn) for Q4_0, Q8_0,
 * Q4_K, Q5_K and Q6_K weights on AVX2, and their packed form (pack16 /
 * gemm_packed). The packed stripes are the avx512 set's, byte for byte
 * (quant_r16_avx512.h describes them): 16 rows side by side, one row per
 * 32-bit lane, which AVX2 reads as two halves of 8 rows (bytes 0..31 and
 * 32..63 of each 64-byte vector). A block's 8 dot products are then
 * vpmaddubsw of the unsigned row codes by broadcast activation dwords,
 * summed in 16 bits as far as they cannot overflow and widened by vpmaddwd
 * (by 1, or by the group scales of the K-quants), and the reference's float
 * step is one vector op for 8 rows in the reference's order: the numbers of
 * quant_*_vec_dot_ref bit for bit, as the avx512 set. Q8_0's signed codes
 * go through the sign trick (|w| times a with w's sign), so its act8 offset
 * is 0; Q4_0's is 8 (the nibbles are unsigned).
 * Weights in the GGUF row form are packed a chunk of blocks at a time into
 * a stack buffer and run through the same kernel. Built with -mavx2 -mfma
 * -mf16c; chosen at run time by quant.c. */
#include "engine/quant_avx2.h"

/* ---- activations: struct act8 (Q4_0, Q8_0) and struct actk (K-quants) */

static void q4_0_act_prepare(const float *x, void *y, int64_t n)
{
	act8_prepare(x, y, n, 8);
}

static void q8_0_act_prepare(const float *x, void *y, int64_t n)
{
	act8_prepare(x, y, n, 0);
}

static size_t actk_bytes(int64_t n)
{
	return (size_t)(n / QK_K) * sizeof(struct actk);
}

/* quant_q8_K_quantize_ref's values and the paired group sums. */
static void actk_block(const float *x, struct actk *y)
{
	__m256 mx = _mm256_setzero_ps();
	for (int e = 0; e < QK_K; e += 8)
		mx = _mm256_max_ps(mx, abs_ps(_mm256_loadu_ps(x + e)));
	const float amax = hmax_ps(mx);
	memset(y, 0, sizeof *y);
	if (amax == 0)
		return;
	float max = 0; /* the first element of magnitude amax */
	for (int e = 0; e < QK_K; e++)
		if (fabsf(x[e]) == amax) {
			max = x[e];
			break;
		}
	const float iscale = -127.f / max;
	const __m256 is = _mm256_set1_ps(iscale);
	for (int g = 0; g < QK_K / 32; g++) {
		__m256i q[4];
		for (int k = 0; k < 4; k++)
			q[k] = _mm256_cvtps_epi32(
			    _mm256_mul_ps(is, _mm256_loadu_ps(x + 32 * g + 8 * k)));
		_mm256_storeu_si256((__m256i *)(y->q.qs + 32 * g), pack_i8(q[0], q[1], q[2], q[3]));
		y->q.bsums[2 * g] = (int16_t)hsum_i32(_mm256_add_epi32(q[0], q[1]));
		y->q.bsums[2 * g + 1] = (int16_t)hsum_i32(_mm256_add_epi32(q[2], q[3]));
	}
	y->q.d = 1 / iscale;
	quant_actk_pairs(y);
}

static void actk_prepare(const float *x, void *vy, int64_t n)
{
	struct actk *y = vy;
	for (int64_t i = 0; i < n / QK_K; i++)
		actk_block(x + i * QK_K, &y[i]);
}

/* ---- the packed form: bytes of a stripe of nb blocks, and where block b's
 * codes and scales are (Q4_0 / Q8_0: nv code vectors per block; Q4_K: 16
 * blocks side by side; Q6_K: K6_PB bytes per block, then the d's) */

#define K6_PB 3328

/* Q4_0 / Q8_0 (32-element blocks, struct act8), else Q4_K / Q6_K. */
AI bool legacy(int type)
{
	return type == GGML_TYPE_Q4_0 || type == GGML_TYPE_Q8_0;
}

AI int64_t block_elems(int type)
{
	return legacy(type) ? QK8_0 : QK_K;
}

AI int leg_nv(int type)
{
	return type == GGML_TYPE_Q4_0 ? 4 : 8;
}

AI size_t leg_codes(int64_t b, int nv)
{
	return (size_t)b * 64 * (size_t)nv;
}

AI size_t leg_scales(int64_t nb, int64_t b, int nv)
{
	return (size_t)nb * 64 * (size_t)nv + (size_t)b * 32;
}

/* Bytes of one row's block, and of a packed stripe's block. */
AI size_t block_bytes(int type)
{
	switch (type) {
	case GGML_TYPE_Q4_0: return sizeof(struct block_q4_0);
	case GGML_TYPE_Q8_0: return sizeof(struct block_q8_0);
	case GGML_TYPE_Q4_K: return sizeof(struct block_q4_K);
	case GGML_TYPE_Q5_K: return sizeof(struct block_q5_K);
	default: return sizeof(struct block_q6_K);
	}
}

/* Blocks [0, nb) of the 16 rows at x (bx bytes apart) into the packed
 * layout of a stripe of nb blocks at o. */
static void pack_blocks(int type, const uint8_t *x, size_t bx, int64_t nb, uint8_t *o)
{
	if (legacy(type)) {
		const int nv = leg_nv(type);
		const size_t bs = nv == 4 ? sizeof(struct block_q4_0) : sizeof(struct block_q8_0);
		for (int64_t b = 0; b < nb; b++) {
			for (int k = 0; k < nv; k++)
				put_lanes(o + leg_codes(b, nv) + 64 * k, x, bx,
				          (size_t)b * bs + 2 + 4 * k);
			for (int r = 0; r < 16; r++)
				memcpy(o + leg_scales(nb, b, nv) + 2 * r, x + r * bx + b * bs, 2);
		}
	} else if (type != GGML_TYPE_Q6_K) {
		for (size_t i = 0; i < (size_t)nb * block_bytes(type); i += 16)
			for (int k = 0; k < 4; k++)
				put_lanes(o + 16 * i + 64 * k, x, bx, i + 4 * k);
	} else {
		for (int64_t b = 0; b < nb; b++) {
			uint8_t *v = o + b * K6_PB;
			for (int r = 0; r < 16; r++) {
				const struct block_q6_K *blk =
				    (const struct block_q6_K *)(x + r * bx) + b;
				/* piece (h, q), dword k: the codes a, b, c with the 2-bit
				 * slices 0-1, 2-3, 4-5 of d on top */
				for (int pq = 0; pq < 4; pq++)
					for (int k = 0; k < 4; k++)
						for (int j = 0; j < 4; j++) {
							int h = pq / 2, q = pq % 2,
							    e = 16 * q + 4 * k + j;
							uint8_t l0 = blk->ql[64 * h + e],
							        l1 = blk->ql[64 * h + 32 + e],
							        hb = blk->qh[32 * h + e];
							uint8_t ca = (l0 & 15) | ((hb << 4) & 0x30),
							        cb = (l1 & 15) | ((hb << 2) & 0x30),
							        cc = (l0 >> 4) | (hb & 0x30),
							        cd = (l1 >> 4) | ((hb >> 2) & 0x30);
							uint8_t *w =
							    v + 768 * pq + 64 * k + 4 * r + j;
							w[0] = (uint8_t)(ca | (cd << 6));
							w[256] = (uint8_t)(cb | ((cd << 4) & 0xC0));
							w[512] = (uint8_t)(cc | ((cd << 2) & 0xC0));
						}
				for (int j = 0; j < 8; j++) {
					v[3072 + 32 * j + 2 * r] =
					    (uint8_t)blk->scales[4 * (j / 2) + j % 2];
					v[3072 + 32 * j + 2 * r + 1] =
					    (uint8_t)blk->scales[4 * (j / 2) + j % 2 + 2];
				}
				memcpy(o + nb * K6_PB + 32 * b + 2 * r, &blk->d, 2);
			}
		}
	}
}

/* ---- the kernels: blocks [b0, b1) of half h (rows 8h..8h+7) of a packed
 * stripe laid out for nb blocks, against `cols` (1 or 2) activation
 * columns a + c * ba (indexed by the stripe's block numbers), into acc */

AI void leg_block(int type, const uint8_t *x, int64_t nb, int64_t b, int h,
                  const struct act8 *const y[AVX2_MAX_COLS], __m256 acc[AVX2_MAX_COLS],
                  const int cols)
{
	const int nv = leg_nv(type);
	const uint8_t *p = x + leg_codes(b, nv) + 32 * h;
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i is[AVX2_MAX_COLS];
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		is[c] = _mm256_setzero_si256();
	if (type == GGML_TYPE_Q4_0) {
/* |nibble * a| pairs <= 3810: eight sums fit in 16 bits */
#pragma GCC unroll 16
		for (int k = 0; k < 4; k++) {
			__m256i v = load(p + 64 * k);
			__m256i lo = and8(v, 0x0F), hi = and8(_mm256_srli_epi16(v, 4), 0x0F);
#pragma GCC unroll 16
			for (int c = 0; c < cols; c++) {
				is[c] = _mm256_add_epi16(
				    is[c], _mm256_maddubs_epi16(lo, bc(y[c]->qs + 4 * k)));
				is[c] = _mm256_add_epi16(
				    is[c], _mm256_maddubs_epi16(hi, bc(y[c]->qs + 16 + 4 * k)));
			}
		}
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++)
			is[c] = _mm256_madd_epi16(is[c], ones);
	} else {
/* |w| times a with w's sign: pairs <= 2 * 128 * 127 */
#pragma GCC unroll 16
		for (int k = 0; k < 8; k++) {
			__m256i v = load(p + 64 * k), av = _mm256_sign_epi8(v, v);
#pragma GCC unroll 16
			for (int c = 0; c < cols; c++) {
				__m256i sa = _mm256_sign_epi8(bc(y[c]->qs + 4 * k), v);
				is[c] = _mm256_add_epi32(
				    is[c], _mm256_madd_epi16(_mm256_maddubs_epi16(av, sa), ones));
			}
		}
	}
	const __m256 d = f16x8(x + leg_scales(nb, b, nv) + 16 * h);
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++) {
		__m256 isum =
		    _mm256_cvtepi32_ps(_mm256_add_epi32(is[c], _mm256_set1_epi32(y[c]->off)));
		acc[c] = _mm256_add_ps(
		    acc[c], _mm256_mul_ps(isum, _mm256_mul_ps(d, _mm256_set1_ps(y[c]->d))));
	}
}

/* Code vector k of the 16-byte chunk i of group g of block p, half h: the
 * low (g even) or high nibbles of the qs bytes 32 (g / 2) + 16 i + 4 k ..
 * of each row, Q5_K with bit g of qh byte 16 i + 4 k .. at bit 4. */
AI __m256i k45_code(int type, const uint8_t *p, int h, int g, int i, int k)
{
	const bool q5 = type == GGML_TYPE_Q5_K;
	const int o = (q5 ? 48 : 16) + 32 * (g / 2) + 16 * i;
	__m256i v = load(p + 16 * o + 64 * k + 32 * h);
	v = and8(g % 2 ? _mm256_srli_epi16(v, 4) : v, 0x0F);
	if (q5) {
		__m256i qh = load(p + 16 * (16 + 16 * i) + 64 * k + 32 * h);
		qh = g <= 4 ? _mm256_slli_epi16(qh, 4 - g) : _mm256_srli_epi16(qh, g - 4);
		v = _mm256_or_si256(v, and8(qh, 0x10));
	}
	return v;
}

/* Group g of block p, half h, by the columns' activations: vpmaddubsw
 * partials summed in 16 bits, then times the scales s (in both halves of a
 * lane) into isum. Q4_K: |pairs| <= 2 * 15 * 127, all eight sums fit in 16
 * bits, kept per column while the code vectors stream past; Q5_K: 2 * 31 *
 * 127, four: each chunk's four code vectors, then per column its four
 * products to the end (measured the faster of the two for each type). */
AI void k45_group(int type, const uint8_t *p, int h, int g,
                  const struct actk *const y[AVX2_MAX_COLS], __m256i s, __m256i isum[AVX2_MAX_COLS],
                  const int cols)
{
	p = fresh(p);
	__m256i part[AVX2_MAX_COLS];
#pragma GCC unroll 2
	for (int i = 0; i < 2; i++) {
		if (type == GGML_TYPE_Q5_K) {
			__m256i code[4];
#pragma GCC unroll 4
			for (int k = 0; k < 4; k++)
				code[k] = k45_code(type, p, h, g, i, k);
#pragma GCC unroll 16
			for (int c = 0; c < cols; c++) {
				const int8_t *a = y[c]->q.qs + 32 * g + 16 * i;
				__m256i t = _mm256_maddubs_epi16(code[0], bc(a));
#pragma GCC unroll 4
				for (int k = 1; k < 4; k++)
					t = _mm256_add_epi16(
					    t, _mm256_maddubs_epi16(code[k], bc(a + 4 * k)));
				isum[c] = _mm256_add_epi32(pin(isum[c]), _mm256_madd_epi16(t, s));
			}
			continue;
		}
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++) {
			const __m256i v = k45_code(type, p, h, g, i, k);
#pragma GCC unroll 16
			for (int c = 0; c < cols; c++) {
				const __m256i m = _mm256_maddubs_epi16(
				    v, bc(y[c]->q.qs + 32 * g + 16 * i + 4 * k));
				part[c] = i + k ? _mm256_add_epi16(pin(part[c]), m) : m;
			}
		}
	}
	if (type != GGML_TYPE_Q5_K)
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++)
			isum[c] = _mm256_add_epi32(pin(isum[c]), _mm256_madd_epi16(part[c], s));
}

/* Q4_K block p (16 rows side by side: the 16-byte chunk at offset o of the
 * GGUF block as 4 vectors at 16 o), half h, against the columns' block y. */
AI void k4_block(int type, const uint8_t *p, int h, const struct actk *const y[AVX2_MAX_COLS],
                 __m256 acc[AVX2_MAX_COLS], const int cols, const bool pf)
{
	__m256i t[4];
#pragma GCC unroll 16
	for (int k = 0; k < 4; k++)
		t[k] = load(p + 64 * k + 32 * h); /* d | dmin, scales 0..3, 4..7, 8..11 */
	/* lane r: row r's 6-bit scales 0..3, 4..7 and mins 0..3, 4..7 */
	const __m256i sc[2] = {and32(t[1], 0x3f3f3f3f),
	                       _mm256_or_si256(and32(t[3], 0x0f0f0f0f),
	                                       and32(_mm256_srli_epi32(t[1], 2), 0x30303030))};
	__m256i isum[AVX2_MAX_COLS];
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		isum[c] = _mm256_setzero_si256();
#pragma GCC unroll 8
	for (int g = 0; g < 8; g++) {
		if (pf)
			quant_prefetch_step(p, 16 * (int)block_bytes(type), 8 * h + g, 16);
		/* byte g % 4 into both int16 halves of a lane */
		const uint32_t b = (uint32_t)g % 4 | 0x80u << 8;
		const __m256i s = _mm256_shuffle_epi8(sc[g / 4], dword_shuffle(b | b << 16));
		k45_group(type, p, h, g, y, s, isum, cols);
	}
	const __m256i m_lo = and32(t[2], 0x3f3f3f3f);
	const __m256i m_hi = _mm256_or_si256(and32(_mm256_srli_epi32(t[3], 4), 0x0f0f0f0f),
	                                     and32(_mm256_srli_epi32(t[2], 2), 0x30303030));
	const __m256 d = f16_lanes(t[0]), dmin = f16_lanes(_mm256_srli_epi32(t[0], 16));
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++) {
		/* the mins times the group sums, (0, 2), (1, 3), (4, 6), (5, 7) */
		const int16_t *ps = y[c]->pairs32;
		__m256i summs = _mm256_madd_epi16(and32(m_lo, 0x00FF00FF), bc(ps));
		summs = _mm256_add_epi32(
		    summs,
		    _mm256_madd_epi16(and32(_mm256_srli_epi32(m_lo, 8), 0x00FF00FF), bc(ps + 2)));
		summs =
		    _mm256_add_epi32(summs, _mm256_madd_epi16(and32(m_hi, 0x00FF00FF), bc(ps + 4)));
		summs = _mm256_add_epi32(
		    summs,
		    _mm256_madd_epi16(and32(_mm256_srli_epi32(m_hi, 8), 0x00FF00FF), bc(ps + 6)));
		/* acc + d * isum - dmin * summs, the reference's step */
		const __m256 yd = _mm256_set1_ps(y[c]->q.d);
		__m256 v = _mm256_mul_ps(_mm256_mul_ps(yd, d), _mm256_cvtepi32_ps(isum[c]));
		v = _mm256_sub_ps(
		    v, _mm256_mul_ps(_mm256_mul_ps(yd, dmin), _mm256_cvtepi32_ps(summs)));
		acc[c] = _mm256_add_ps(acc[c], v);
	}
}

/* The scales of Q6_K block p's run j (lane r: row r's scales (g, g + 2), g
 * = 4 (j / 2) + j % 2), half h, as int16. */
AI __m256i k6_run(const uint8_t *p, int h, int j)
{
	return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 3072 + 32 * j + 16 * h)));
}

/* Group g = 8 (pq / 2) + 2 i + pq % 2 of Q6_K block p, half h: code i of
 * piece pq (a, b, c: the low 6 bits of its vector i; d: their top bits) by
 * the columns' activations, vpmaddubsw partials summed in 16 bits two at a
 * time (|pairs| <= 2 * 63 * 127), times the group's scales into isum. */
AI void k6_group(const uint8_t *p, int h, int pq, int i, const struct actk *const y[AVX2_MAX_COLS],
                 __m256i isum[AVX2_MAX_COLS], const int cols)
{
	const int g = 8 * (pq / 2) + 2 * i + pq % 2;
	p = fresh(p);
	/* each lane's int16 0 (g % 4 < 2) or 1, twice */
	const __m256i s = _mm256_shuffle_epi8(k6_run(p, h, 2 * (g / 4) + g % 2),
	                                      dword_shuffle(g % 4 < 2 ? 0x01000100 : 0x03020302));
	const uint8_t *v = p + 768 * pq + 32 * h;
#pragma GCC unroll 2
	for (int k2 = 0; k2 < 4; k2 += 2) {
		__m256i code[2];
#pragma GCC unroll 2
		for (int k = 0; k < 2; k++) {
			const uint8_t *w = v + 64 * (k2 + k);
			if (i < 3) {
				code[k] = and8(load(w + 256 * i), 0x3f);
			} else {
				/* the top bits of X, Y, Z shifted down in turn (no bit
				 * crosses into the byte below) */
				__m256i d = and8(load(w), 0xC0);
				d = _mm256_or_si256(_mm256_srli_epi16(d, 2),
				                    and8(load(w + 256), 0xC0));
				d = _mm256_or_si256(_mm256_srli_epi16(d, 2),
				                    and8(load(w + 512), 0xC0));
				code[k] = _mm256_srli_epi16(d, 2);
			}
		}
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++) {
			const int8_t *a = y[c]->q.qs + 16 * g + 4 * k2;
			const __m256i part =
			    _mm256_add_epi16(_mm256_maddubs_epi16(code[0], bc(a)),
			                     _mm256_maddubs_epi16(code[1], bc(a + 4)));
			isum[c] = _mm256_add_epi32(pin(isum[c]), _mm256_madd_epi16(part, s));
		}
	}
}

/* Q6_K block p (K6_PB bytes: 4 pieces of 12 vectors, then 8 runs of
 * scales), its d's at pd, half h. */
AI void k6_block(const uint8_t *p, const uint8_t *pd, int h,
                 const struct actk *const y[AVX2_MAX_COLS], __m256 acc[AVX2_MAX_COLS],
                 const int cols, const bool pf)
{
	__m256i isum[AVX2_MAX_COLS];
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		isum[c] = _mm256_setzero_si256();
#pragma GCC unroll 4
	for (int pq = 0; pq < 4; pq++) {
		if (pf)
			quant_prefetch_step(p, K6_PB, 4 * h + pq, 8);
#pragma GCC unroll 4
		for (int i = 0; i < 4; i++)
			k6_group(p, h, pq, i, y, isum, cols);
	}
	/* less 32 * the scales times the group sums (32 * scale fits in 16
	 * bits) */
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++) {
		const __m256i s32 = _mm256_slli_epi16(k6_run(p, h, j), 5);
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++)
			isum[c] = _mm256_sub_epi32(
			    isum[c], _mm256_madd_epi16(s32, bc(y[c]->pairs16 + 2 * j)));
	}
	const __m256 d = f16x8(pd + 16 * h);
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++) {
		/* acc + (y.d * d) * isum */
		__m256 t = _mm256_mul_ps(_mm256_set1_ps(y[c]->q.d), d);
		acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(t, _mm256_cvtepi32_ps(isum[c])));
	}
}

/* Half h of block b against the columns' blocks y (the driver's hook). */
AI void half_block(int type, const uint8_t *x, int64_t nb, int64_t b, int h,
                   const uint8_t *const y[AVX2_MAX_COLS], __m256 acc[AVX2_MAX_COLS], const int cols,
                   const bool pf)
{
	if (legacy(type)) {
		const struct act8 *y8[AVX2_MAX_COLS];
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++)
			y8[c] = (const struct act8 *)y[c];
		leg_block(type, x, nb, b, h, y8, acc, cols);
		return;
	}
	const struct actk *yk[AVX2_MAX_COLS];
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		yk[c] = (const struct actk *)y[c];
	if (type == GGML_TYPE_Q6_K)
		k6_block(x + b * K6_PB, x + nb * K6_PB + 32 * b, h, yk, acc, cols, pf);
	else
		k4_block(type, x + b * 16 * (int64_t)block_bytes(type), h, yk, acc, cols, pf);
}

/* Decode's prefetch as the avx512 set's: each line of a Q4_0 / Q8_0
 * block twice (quant_prefetch_2), their scales a line 16 blocks ahead into L2;
 * the K-quants' blocks a step at a time in k4_block and k6_block. */
AI void block_prefetch(int type, const uint8_t *x, int64_t nb, int64_t b)
{
	const bool leg = legacy(type);
	if (!leg)
		return;
	const int nv = leg_nv(type);
	const int64_t blk = 64 * nv;
	const uint8_t *p = x + b * blk;
#pragma GCC unroll 64
	for (int l = 0; l < blk; l += 64)
		quant_prefetch_2(p + l);
	if (leg && !(b & 1))
		_mm_prefetch((const char *)x + leg_scales(nb, b, nv) + 512, _MM_HINT_T1);
}

/* Blocks per prefill chunk (and per chunk of the GGUF form's buffer). */
#define KC_LEG 32
#define KC_K   4

#define AVX2_QK(type)   block_elems(type)
#define AVX2_KC(type)   (legacy(type) ? KC_LEG : KC_K)
#define AVX2_ACT(type)  (legacy(type) ? sizeof(struct act8) : sizeof(struct actk))
#define AVX2_BLK(type)  block_bytes(type)
#define AVX2_COLS(type) (legacy(type) ? 4 : 8)
#define AVX2_BUF        (KC_LEG * 16 * sizeof(struct block_q8_0)) /* the biggest chunk */
static_assert(KC_K * (K6_PB + 32) <= AVX2_BUF, "Q6_K chunk fits");
#include "engine/quant_avx2_driver.h"

AVX2_GEMM_FNS(q4_0, GGML_TYPE_Q4_0)
AVX2_GEMM_FNS(q8_0, GGML_TYPE_Q8_0)
AVX2_GEMM_FNS(q4_K, GGML_TYPE_Q4_K)
AVX2_GEMM_FNS(q5_K, GGML_TYPE_Q5_K)
AVX2_GEMM_FNS(q6_K, GGML_TYPE_Q6_K)

void quant__fill_gemm_avx2(struct quant_traits *t)
{
	t[GGML_TYPE_Q4_0].act_prepare = q4_0_act_prepare;
	t[GGML_TYPE_Q8_0].act_prepare = q8_0_act_prepare;
	t[GGML_TYPE_Q4_0].act_bytes = t[GGML_TYPE_Q8_0].act_bytes = act8_bytes;
	t[GGML_TYPE_Q4_K].act_prepare = t[GGML_TYPE_Q6_K].act_prepare = actk_prepare;
	t[GGML_TYPE_Q4_K].act_bytes = t[GGML_TYPE_Q6_K].act_bytes = actk_bytes;
	t[GGML_TYPE_Q5_K].act_prepare = actk_prepare;
	t[GGML_TYPE_Q5_K].act_bytes = actk_bytes;
#define SET(tn, T)                                                                                 \
	t[T].gemm = tn##_gemm;                                                                     \
	t[T].gemm_packed = tn##_gemm_packed;                                                       \
	t[T].pack16 = tn##_pack16;
	SET(q4_0, GGML_TYPE_Q4_0)
	SET(q8_0, GGML_TYPE_Q8_0)
	SET(q4_K, GGML_TYPE_Q4_K)
	SET(q5_K, GGML_TYPE_Q5_K)
	SET(q6_K, GGML_TYPE_Q6_K)
#undef SET
}

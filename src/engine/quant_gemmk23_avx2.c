/* quant_gemmk23_avx2.c — gemm kernels (quant.h quant_gemm_fn) for Q2_K
 * and Q3_K weights on AVX2, in the GGUF row form and packed. The packed
 * stripes (Q2_K's the avx512 set's byte for byte; that set packs Q3_K its
 * own way, quant_gemmk23_avx512.c): per block, dword v of each of the 16
 * rows' block as 64-byte vector v (Q2_K: 21 = scales 4, qs 16, d|dmin 1;
 * Q3_K: 27 = hmask 8, qs 16, scales 3, then the 16 rows' f16 d in 32
 * bytes), which AVX2 reads as two halves of 8 rows (bytes 0..31 and
 * 32..63). Q3_K codes are read as code + 4 (0..7, unsigned for
 * vpmaddubsw) and 4 times the scaled group sums of the activation taken
 * off after. Per group of 16: vpmaddubsw partials summed in 16 bits,
 * times the group scale by vpmaddwd; the mins (Q2_K) or the offset (Q3_K)
 * through the activation's group-sum pairs; then the reference's float
 * step: quant_q2_K/q3_K_vec_dot_ref bit for bit. Weights
 * in the GGUF row form are packed a chunk of blocks at a time into a stack
 * buffer. Built with -mavx2 -mfma -mf16c; chosen at run time by quant.c. */
#include "engine/quant_avx2.h"

/* Super-blocks per chunk: prefill's L1-resident piece, and the stack
 * buffer of the GGUF row form. */
#define KC 4

AI __m256i srl32(__m256i v, int n)
{
	return _mm256_srli_epi32(v, n);
}

AI bool is_q3(int type)
{
	return type == GGML_TYPE_Q3_K;
}

/* Bytes of one row's block; a packed stripe's block is 16 of them. */
AI int64_t blk_bytes(int type)
{
	return is_q3(type) ? (int64_t)sizeof(struct block_q3_K)
	                   : (int64_t)sizeof(struct block_q2_K);
}

/* ---- the kernel: block p of a packed stripe, half h (rows 8h..8h+7;
 * p already offset by 32 h), against `cols` (up to 4) columns' blocks y */

/* The scales of groups 4 q4 .. 4 q4 + 3 of each lane's row, as unsigned
 * bytes: Q2_K the scale bytes (scale in the low nibble, min in the high
 * one), Q3_K quant_q3_K_scales's values + 32. */
AI __m256i k23_quad(int type, const uint8_t *p, int q4)
{
	if (!is_q3(type))
		return load(p + 64 * q4);
	const __m256i lo = and32(srl32(load(p + 64 * (24 + q4 % 2)), 4 * (q4 / 2)), 0x0f0f0f0f);
	const __m256i hi = and32(srl32(load(p + 64 * 26), 2 * q4), 0x03030303);
	return _mm256_or_si256(lo, _mm256_slli_epi32(hi, 4));
}

/* Byte b of each lane of quad (k23_quad) in both its int16 halves: the
 * scale of group 4 q4 + b (signed, Q3_K). */
AI __m256i k23_scale(int type, __m256i quad, int b)
{
	const uint32_t w = (uint32_t)b | 0x80u << 8;
	const __m256i s = _mm256_shuffle_epi8(quad, dword_shuffle(w | w << 16));
	return is_q3(type) ? _mm256_sub_epi16(s, _mm256_set1_epi16(32)) : and32(s, 0x000F000F);
}

/* Codes of groups 8 H + 2 j + gh, j = 0..3 (elements 128 H + 32 j + 16 gh
 * ..), dword k of 4, from the qs vector q and (Q3_K) the hmask vector hm:
 * bits 2j of qs, Q3_K plus bit 4 H + j of hmask at bit 2. */
AI __m256i k23_code(int type, __m256i q, __m256i hm, int H, int j)
{
	const __m256i lo = and8(_mm256_srli_epi16(q, 2 * j), 0x03);
	if (!is_q3(type))
		return lo;
	const int bit = 4 * H + j;
	const __m256i hb =
	    bit <= 2 ? _mm256_slli_epi16(hm, 2 - bit) : _mm256_srli_epi16(hm, bit - 2);
	return _mm256_or_si256(lo, and8(hb, 0x04));
}

/* Group g = 8 H + 2 j + gh (elements 128 H + 32 j + 16 gh ..) by the
 * columns' activations: four vpmaddubsw summed in 16 bits (|lane| <= 4 * 2
 * * c * 127 with c = 3 for Q2_K, 7 for Q3_K: 3048, 7112), then times the
 * group scales s by vpmaddwd into isum. One group at a time keeps the sums
 * of four columns in registers. */
AI void k23_group(int type, const uint8_t *p, int H, int j, int gh, __m256i s,
                  const struct actk *const y[AVX2_MAX_COLS], __m256i isum[AVX2_MAX_COLS],
                  const int cols)
{
	p = fresh(p);
	const uint8_t *qs = p + 64 * ((is_q3(type) ? 8 : 4) + 8 * H + 4 * gh);
	__m256i code[4];
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		const __m256i q = load(qs + 64 * k);
		const __m256i hm = is_q3(type) ? load(p + 64 * (4 * gh + k)) : q;
		code[k] = k23_code(type, q, hm, H, j);
	}
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++) {
		const int8_t *a = y[c]->q.qs + 128 * H + 32 * j + 16 * gh;
		__m256i part = _mm256_maddubs_epi16(code[0], bc(a));
#pragma GCC unroll 4
		for (int k = 1; k < 4; k++)
			part = _mm256_add_epi16(part, _mm256_maddubs_epi16(code[k], bc(a + 4 * k)));
		isum[c] = _mm256_add_epi32(pin(isum[c]), _mm256_madd_epi16(part, s));
	}
}

/* Sum over the groups of m_g * bsums_g, m_g the `bits` bits at bit `at` of
 * k23_quad's bytes, less off. */
AI __m256i group_sums(int type, const uint8_t *p, int at, int bits, int off, const struct actk *y)
{
	const int mask = ((1 << bits) - 1) << at;
	__m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 4
	for (int q4 = 0; q4 < 4; q4++) {
		const __m256i quad = k23_quad(type, p, q4);
		/* pairs16's order: (g, g + 2), (g + 1, g + 3) */
		const __m256i m[2] = {_mm256_srli_epi16(and32(quad, mask * 0x10001), at),
		                      _mm256_srli_epi16(and32(quad, mask * 0x1000100), at + 8)};
#pragma GCC unroll 2
		for (int i = 0; i < 2; i++) {
			const __m256i v = _mm256_sub_epi16(m[i], _mm256_set1_epi16((short)off));
			sum = _mm256_add_epi32(
			    sum, _mm256_madd_epi16(v, bc(y->pairs16 + 4 * q4 + 2 * i)));
		}
	}
	return sum;
}

/* Block pb of a packed stripe, half h, against the columns' blocks y. The
 * integer sums are exact: |isum| <= 256 * 7 * 127 * 32 (Q3_K). Then the
 * reference's float step: Q2_K acc + d * isum - dmin * summs (d, dmin
 * times y.d; the mins from the scale bytes' high nibbles), Q3_K acc +
 * (y.d * d) * (isum - 4 * sum of scale * group sum) (its codes are ours
 * minus 4; the d's after the 27 vectors). */
AI void k23_block(int type, const uint8_t *pb, int h, const struct actk *const y[AVX2_MAX_COLS],
                  __m256 acc[AVX2_MAX_COLS], const int cols, const bool pf)
{
	const uint8_t *p = pb + 32 * h;
	__m256i isum[AVX2_MAX_COLS];
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		isum[c] = _mm256_setzero_si256();
#pragma GCC unroll 4
	for (int q4 = 0; q4 < 4; q4++) {
		if (pf)
			quant_prefetch_step(pb, 16 * (int)blk_bytes(type), 4 * h + q4, 8);
		/* groups 4 q4 + b: H = q4 / 2, j = 2 (q4 % 2) + b / 2, gh = b % 2 */
		const __m256i quad = k23_quad(type, fresh(p), q4);
#pragma GCC unroll 4
		for (int b = 0; b < 4; b++)
			k23_group(type, p, q4 / 2, 2 * (q4 % 2) + b / 2, b % 2,
			          k23_scale(type, quad, b), y, isum, cols);
	}
	const bool q3 = is_q3(type);
	const __m256i dd = q3 ? _mm256_setzero_si256() : load(p + 64 * 20);
	const __m256 d = q3 ? f16x8(pb + 64 * 27 + 16 * h) : f16_lanes(dd);
	const __m256 dmin = f16_lanes(srl32(dd, 16));
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++) {
		const __m256 yd = _mm256_set1_ps(y[c]->q.d);
		if (q3) {
			const __m256i off = group_sums(type, p, 0, 6, 32, y[c]);
			const __m256i is = _mm256_sub_epi32(isum[c], _mm256_slli_epi32(off, 2));
			acc[c] = _mm256_add_ps(
			    acc[c], _mm256_mul_ps(_mm256_mul_ps(yd, d), _mm256_cvtepi32_ps(is)));
		} else {
			const __m256i summs = group_sums(type, p, 4, 4, 0, y[c]);
			__m256 v = _mm256_mul_ps(_mm256_mul_ps(yd, d), _mm256_cvtepi32_ps(isum[c]));
			v = _mm256_sub_ps(
			    v, _mm256_mul_ps(_mm256_mul_ps(yd, dmin), _mm256_cvtepi32_ps(summs)));
			acc[c] = _mm256_add_ps(acc[c], v);
		}
	}
}

/* ---- driving: stripes, columns, chunks */

AI void pack_blocks(int type, const uint8_t *x, size_t bx, int64_t nb, uint8_t *o)
{
	quant__pack16_dwords(x, bx, nb, (size_t)blk_bytes(type), o);
}

/* Half h of block b against the columns' blocks y (the driver's hook). */
AI void half_block(int type, const uint8_t *x, int64_t nb, int64_t b, int h,
                   const uint8_t *const y[AVX2_MAX_COLS], __m256 acc[AVX2_MAX_COLS], const int cols,
                   const bool pf)
{
	const struct actk *yk[AVX2_MAX_COLS];
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		yk[c] = (const struct actk *)y[c];
	k23_block(type, x + b * 16 * blk_bytes(type), h, yk, acc, cols, pf);
}

/* Decode's prefetch: none at the block's start (k23_block spreads it). */
AI void block_prefetch(int type, const uint8_t *x, int64_t nb, int64_t b)
{
	(void)type, (void)x, (void)nb, (void)b;
}

#define AVX2_COLS(type) 8
#define AVX2_QK(type)   QK_K
#define AVX2_KC(type)   KC
#define AVX2_ACT(type)  sizeof(struct actk)
#define AVX2_BLK(type)  ((size_t)blk_bytes(type))
#define AVX2_BUF        (KC * 16 * sizeof(struct block_q3_K)) /* the bigger chunk */
#include "engine/quant_avx2_driver.h"

AVX2_GEMM_FNS(q2_K, GGML_TYPE_Q2_K)
AVX2_GEMM_FNS(q3_K, GGML_TYPE_Q3_K)

/* Runs after quant__fill_gemm_avx2, whose Q4_K entry holds the set's
 * struct actk preparer. */
void quant__fill_gemmk23_avx2(struct quant_traits *t)
{
	static const int types[] = {GGML_TYPE_Q2_K, GGML_TYPE_Q3_K};
	for (int i = 0; i < 2; i++) {
		t[types[i]].act_prepare = t[GGML_TYPE_Q4_K].act_prepare;
		t[types[i]].act_bytes = t[GGML_TYPE_Q4_K].act_bytes;
	}
	t[GGML_TYPE_Q2_K].gemm = q2_K_gemm;
	t[GGML_TYPE_Q2_K].gemm_packed = q2_K_gemm_packed;
	t[GGML_TYPE_Q2_K].pack16 = q2_K_pack16;
	t[GGML_TYPE_Q3_K].gemm = q3_K_gemm;
	t[GGML_TYPE_Q3_K].gemm_packed = q3_K_gemm_packed;
	t[GGML_TYPE_Q3_K].pack16 = q3_K_pack16;
}

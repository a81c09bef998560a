/* quant_gemmk23_avx2.c — gemm kernels (quant.h quant_gemm_fn) for Q2_K
 * and Q3_K weights on AVX2, in the GGUF row form and packed. The packed
 * stripes are the avx512 set's (quant_gemmk23_avx512.c), byte for byte:
 * per block, dword v of each of the 16 rows' block as 64-byte vector v
 * (Q2_K: 21 = scales 4, qs 16, d|dmin 1; Q3_K: 27 = hmask 8, qs 16,
 * scales 3, then the 16 rows' f16 d in 32 bytes), which AVX2 reads as two
 * halves of 8 rows (bytes 0..31 and 32..63). Q3_K codes are read as code
 * + 4 (0..7, unsigned for vpmaddubsw) and 4 times the scaled group sums of
 * the activation taken off after. Per group of 16: vpmaddubsw partials
 * summed in 16 bits, times the group scale by vpmaddwd; the mins (Q2_K) or
 * the offset (Q3_K) through the activation's group-sum pairs; then the
 * reference's float step: quant_q2_K/q3_K_vec_dot_ref bit for bit. Weights
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
 * p already offset by 32 h), against `cols` (1 or 2) columns' blocks y */

/* The group-scale pairs of half p: sp[2k] lane r = row r's scales (4k,
 * 4k + 2), sp[2k + 1] (4k + 1, 4k + 3), int16 (pairs16's order). Q2_K:
 * the low nibbles of the scale bytes; Q3_K: quant_q3_K_scales's values. */
AI void k23_pairs(int type, const uint8_t *p, __m256i sp[8])
{
	if (!is_q3(type)) {
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++) {
			const __m256i t = load(p + 64 * k);
			sp[2 * k] = and32(t, 0x000F000F);
			sp[2 * k + 1] = and32(srl32(t, 8), 0x000F000F);
		}
		return;
	}
	const __m256i a0 = load(p + 64 * 24), a1 = load(p + 64 * 25), a2 = load(p + 64 * 26);
	__m256i v[4];
	v[0] = _mm256_or_si256(and32(a0, 0x0f0f0f0f), _mm256_slli_epi32(and32(a2, 0x03030303), 4));
	v[1] = _mm256_or_si256(and32(a1, 0x0f0f0f0f),
	                       _mm256_slli_epi32(and32(srl32(a2, 2), 0x03030303), 4));
	v[2] = _mm256_or_si256(and32(srl32(a0, 4), 0x0f0f0f0f),
	                       _mm256_slli_epi32(and32(srl32(a2, 4), 0x03030303), 4));
	v[3] = _mm256_or_si256(and32(srl32(a1, 4), 0x0f0f0f0f),
	                       _mm256_slli_epi32(and32(srl32(a2, 6), 0x03030303), 4));
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		const __m256i b = _mm256_sub_epi8(v[k], _mm256_set1_epi8(32));
		sp[2 * k] = _mm256_srai_epi16(_mm256_slli_epi16(b, 8), 8);
		sp[2 * k + 1] = _mm256_srai_epi16(b, 8);
	}
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

/* Groups 8 H + 2 j + gh (j = 0..3) into isum: per group four vpmaddubsw
 * summed in 16 bits (|lane| <= 4 * 2 * c * 127 with c = 3 for Q2_K, 7 for
 * Q3_K: 3048, 7112), then times the group scale (in both halves of a lane)
 * by vpmaddwd. */
AI void k23_groups(int type, const uint8_t *p, int H, int gh, const __m256i sp[8],
                   const struct actk *const y[2], __m256i isum[2], const int cols)
{
	const uint8_t *qs = p + 64 * ((is_q3(type) ? 8 : 4) + 8 * H + 4 * gh);
	__m256i part[2][4];
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		const __m256i q = load(qs + 64 * k);
		const __m256i hm = is_q3(type) ? load(p + 64 * (4 * gh + k)) : q;
#pragma GCC unroll 4
		for (int j = 0; j < 4; j++) {
			const __m256i code = k23_code(type, q, hm, H, j);
#pragma GCC unroll 2
			for (int c = 0; c < cols; c++) {
				const int8_t *a = y[c]->q.qs + 128 * H + 32 * j + 16 * gh + 4 * k;
				const __m256i m = _mm256_maddubs_epi16(code, bc(a));
				part[c][j] = k ? _mm256_add_epi16(part[c][j], m) : m;
			}
		}
	}
	/* vpshufb (within 128-bit lanes): each dword's int16 0 or 1, twice */
	const __m256i dup_lo = _mm256_setr_epi32(0x01000100, 0x05040504, 0x09080908, 0x0d0c0d0c,
	                                         0x01000100, 0x05040504, 0x09080908, 0x0d0c0d0c);
	const __m256i dup_hi = _mm256_add_epi8(dup_lo, _mm256_set1_epi8(2));
#pragma GCC unroll 4
	for (int j = 0; j < 4; j++) {
		const int g = 8 * H + 2 * j + gh;
		const __m256i s =
		    _mm256_shuffle_epi8(sp[2 * (g / 4) + g % 2], g % 4 < 2 ? dup_lo : dup_hi);
#pragma GCC unroll 2
		for (int c = 0; c < cols; c++)
			isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(part[c][j], s));
	}
}

/* Sum over groups of m_g * bsums_g (m: pairs in pairs16's order). */
AI __m256i group_sums(const __m256i m[8], const struct actk *y)
{
	__m256i s = _mm256_setzero_si256();
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++)
		s = _mm256_add_epi32(s, _mm256_madd_epi16(m[j], bc(y->pairs16 + 2 * j)));
	return s;
}

/* Q2_K: acc + d * isum - dmin * summs (d, dmin times y.d), the
 * reference's step; the mins pairs as the scales', from the high nibbles. */
AI void q2_finish(const uint8_t *p, const struct actk *const y[2], const __m256i isum[2],
                  __m256 acc[2], const int cols)
{
	__m256i mp[8];
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		const __m256i t = load(p + 64 * k);
		mp[2 * k] = and32(srl32(t, 4), 0x000F000F);
		mp[2 * k + 1] = and32(srl32(t, 12), 0x000F000F);
	}
	const __m256i dd = load(p + 64 * 20);
	const __m256 d = f16_lanes(dd), dmin = f16_lanes(srl32(dd, 16));
#pragma GCC unroll 2
	for (int c = 0; c < cols; c++) {
		const __m256 yd = _mm256_set1_ps(y[c]->q.d);
		const __m256i summs = group_sums(mp, y[c]);
		__m256 v = _mm256_mul_ps(_mm256_mul_ps(yd, d), _mm256_cvtepi32_ps(isum[c]));
		v = _mm256_sub_ps(
		    v, _mm256_mul_ps(_mm256_mul_ps(yd, dmin), _mm256_cvtepi32_ps(summs)));
		acc[c] = _mm256_add_ps(acc[c], v);
	}
}

/* Q3_K: acc + (y.d * d) * (isum - 4 * sum of scale * group sum), the
 * reference's step (its codes are ours minus 4); the d's at pd. */
AI void q3_finish(const uint8_t *pd, const __m256i sp[8], const struct actk *const y[2],
                  const __m256i isum[2], __m256 acc[2], const int cols)
{
	const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)pd));
#pragma GCC unroll 2
	for (int c = 0; c < cols; c++) {
		const __m256i off = group_sums(sp, y[c]);
		const __m256i is = _mm256_sub_epi32(isum[c], _mm256_slli_epi32(off, 2));
		const __m256 t = _mm256_mul_ps(_mm256_set1_ps(y[c]->q.d), d);
		acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(t, _mm256_cvtepi32_ps(is)));
	}
}

/* Block pb of a packed stripe, half h, against the columns' blocks y. The
 * integer sums are exact: |isum| <= 256 * 7 * 127 * 32 (Q3_K). */
AI void k23_block(int type, const uint8_t *pb, int h, const struct actk *const y[2], __m256 acc[2],
                  const int cols)
{
	const uint8_t *p = pb + 32 * h;
	__m256i sp[8], isum[2];
	k23_pairs(type, p, sp);
#pragma GCC unroll 2
	for (int c = 0; c < cols; c++)
		isum[c] = _mm256_setzero_si256();
#pragma GCC unroll 2
	for (int H = 0; H < 2; H++)
#pragma GCC unroll 2
		for (int gh = 0; gh < 2; gh++)
			k23_groups(type, p, H, gh, sp, y, isum, cols);
	if (is_q3(type))
		q3_finish(pb + 64 * 27 + 16 * h, sp, y, isum, acc, cols);
	else
		q2_finish(p, y, isum, acc, cols);
}

/* ---- driving: stripes, columns, chunks */

AI void pack_blocks(int type, const uint8_t *x, size_t bx, int64_t nb, uint8_t *o)
{
	quant__pack16_dwords(x, bx, nb, (size_t)blk_bytes(type), o);
}

/* Half h of block b against the columns' blocks y (the driver's hook). */
AI void half_block(int type, const uint8_t *x, int64_t nb, int64_t b, int h,
                   const uint8_t *const y[4], __m256 acc[4], const int cols)
{
	const struct actk *yk[2];
#pragma GCC unroll 2
	for (int c = 0; c < cols; c++)
		yk[c] = (const struct actk *)y[c];
	k23_block(type, x + b * 16 * blk_bytes(type), h, yk, acc, cols);
}

/* Decode's prefetch: each line of the block twice (prefetch_2). */
AI void block_prefetch(int type, const uint8_t *x, int64_t nb, int64_t b)
{
	const int64_t blk = 16 * blk_bytes(type);
#pragma GCC unroll 32
	for (int l = 0; l < blk; l += 64)
		prefetch_2(x + b * blk + l);
}

/* two columns at a time with both halves (four by halves spill) */
#define AVX2_HALVES(type) false
#define AVX2_QK(type)     QK_K
#define AVX2_KC(type)     KC
#define AVX2_ACT(type)    sizeof(struct actk)
#define AVX2_BLK(type)    ((size_t)blk_bytes(type))
#define AVX2_BUF          (KC * 16 * sizeof(struct block_q3_K)) /* the bigger chunk */
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

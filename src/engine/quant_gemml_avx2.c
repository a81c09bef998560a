/* quant_gemml_avx2.c — gemm kernels (quant.h quant_gemm_fn) for Q5_0, Q4_1
 * and Q5_1 weights on AVX2, and their packed form (pack16 / gemm_packed),
 * as quant_gemm_avx2.c runs Q4_0: the avx512 set's packed stripes byte for
 * byte (quant_r16_avx512.h; the fifth bits in r16_q5_hbits's order) read as
 * two halves of 8 rows, a block's 8 exact integer sums by vpmaddubsw of the
 * unsigned codes (0..15, Q5 0..31) by broadcast activation dwords, summed in
 * 16 bits as far as they cannot overflow and widened by vpmaddwd, then the
 * reference's float step in its order: quant_q5_0/q4_1/q5_1_vec_dot_ref bit
 * for bit. Activations: struct act8 with offset 16 (Q5_0), struct act8s
 * (Q4_1, Q5_1: Q8_1's values). Fewer than 16 rows: quant__gemm_small.
 * Built with -mavx2 -mfma -mf16c; chosen at run time by quant.c. */
#include "engine/quant_avx2.h"

/* ---- activations */

static void q5_0_act_prepare(const float *x, void *y, int64_t n)
{
	act8_prepare(x, y, n, 16);
}

static size_t act8s_bytes(int64_t n)
{
	return (size_t)(n / QK8_1) * sizeof(struct act8s);
}

/* quant_q8_1_from_float_ref's blocks: s = d * sum with d the f32 scale,
 * then d and s rounded to f16 and back. */
static void act8s_prepare(const float *x, void *vy, int64_t n)
{
	struct act8s *y = vy;
	for (int64_t b = 0; b < n / QK8_1; b++, x += QK8_1) {
		int sum;
		const float d = act_block(x, y[b].qs, &sum) / 127.f;
		y[b].s = f16_round(d * (float)sum);
		y[b].d = f16_round(d);
	}
}

/* ---- the packed form (quant_r16_avx512.h): per stripe of nb blocks, the
 * nv code vectors of every block (4 nibble vectors; Q5_0 / Q5_1 then the
 * fifth bits), then per block the 16 d's (Q5_0: 32 bytes) or the 16 d's
 * and the 16 m's (Q4_1 / Q5_1: 64 bytes) */

AI bool is_q5(int type)
{
	return type != GGML_TYPE_Q4_1;
}

AI bool has_m(int type)
{
	return type != GGML_TYPE_Q5_0;
}

AI int pk_nv(int type)
{
	return is_q5(type) ? 5 : 4;
}

AI size_t blk_bytes(int type)
{
	switch (type) {
	case GGML_TYPE_Q5_0: return sizeof(struct block_q5_0);
	case GGML_TYPE_Q4_1: return sizeof(struct block_q4_1);
	default: return sizeof(struct block_q5_1);
	}
}

AI size_t pk_codes(int64_t b, int nv)
{
	return (size_t)b * 64 * (size_t)nv;
}

AI size_t pk_scales(int type, int64_t nb, int64_t b)
{
	return pk_codes(nb, pk_nv(type)) + (size_t)b * (has_m(type) ? 64 : 32);
}

/* x with the bits at positions p and p + delta exchanged for every p in
 * mask (r16_delta_swap on one lane). */
static uint32_t delta_swap(uint32_t x, unsigned delta, uint32_t mask)
{
	uint32_t t = ((x >> delta) ^ x) & mask;
	return x ^ t ^ (t << delta);
}

/* r16_q5_hbits on one row's qh: bit 8i + o(k) holds the fifth bit of
 * element 4k + i, o(k) = 4 (k & 1) + 2 (k >> 2) + (k >> 1 & 1). */
static uint32_t q5_hbits(uint32_t qh)
{
	return delta_swap(delta_swap(qh, 14, 0x0000CCCC), 7, 0x00AA00AA);
}

/* Blocks [0, nb) of the 16 rows at x (bx bytes apart) into the packed
 * layout of a stripe of nb blocks at o: the bytes of the avx512 set's
 * pack16. */
static void pack_blocks(int type, const uint8_t *x, size_t bx, int64_t nb, uint8_t *o)
{
	const int nv = pk_nv(type);
	const size_t bs = blk_bytes(type), hdr = has_m(type) ? 4 : 2; /* d (and m) */
	for (int64_t b = 0; b < nb; b++) {
		uint8_t *v = o + pk_codes(b, nv), *sc = o + pk_scales(type, nb, b);
		for (int k = 0; k < 4; k++)
			put_lanes(v + 64 * k, x, bx, (size_t)b * bs + bs - 16 + 4 * k);
		for (int r = 0; r < 16; r++) {
			const uint8_t *p = x + (size_t)r * bx + (size_t)b * bs;
			if (nv == 5) {
				uint32_t qh;
				memcpy(&qh, p + hdr, 4);
				qh = q5_hbits(qh);
				memcpy(v + 256 + 4 * r, &qh, 4);
			}
			memcpy(sc + 2 * r, p, 2);
			if (has_m(type))
				memcpy(sc + 32 + 2 * r, p + 2, 2);
		}
	}
}

/* ---- the kernel: block b of half h (rows 8h..8h+7) of a packed stripe
 * laid out for nb blocks, against `cols` (1..4) activation blocks y (struct
 * act8 for Q5_0, act8s for Q4_1 / Q5_1: qs, then d at the same place) */

/* Code vector kk (0..7: elements 4 kk + i in byte i) of a Q5 block: the
 * nibbles nib (0..15 in each byte) and the fifth bits hb, bit o(kk) of
 * each byte moved to bit 4. */
AI __m256i q5_code(__m256i nib, __m256i hb, const int kk)
{
	const int o = 4 * (kk & 1) + 2 * (kk >> 2) + (kk >> 1 & 1);
	__m256i t = o <= 4 ? _mm256_slli_epi32(hb, 4 - o) : _mm256_srli_epi32(hb, o - 4);
	return _mm256_or_si256(nib, and8(t, 0x10));
}

/* The exact integer sums of the half's 8 rows, without Q5_0's offset.
 * A vpmaddubsw pair of nibbles (Q4_1) is at most 2 * 15 * 127 = 3810 in
 * magnitude: the block's eight fit in int16 (30480), widened once; of Q5
 * codes (0..31) 2 * 31 * 127 = 7874: four fit (31496), so the sums (the
 * low and high codes of two k) are widened after k = 1 and k = 3. */
AI void half_isum(int type, const uint8_t *p, const uint8_t *const y[AVX2_MAX_COLS],
                  __m256i is[AVX2_MAX_COLS], const int cols)
{
	const bool q5 = is_q5(type);
	const __m256i ones = _mm256_set1_epi16(1);
	const __m256i hb = q5 ? load(p + 256) : _mm256_setzero_si256();
	__m256i s16[4];
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		is[c] = s16[c] = _mm256_setzero_si256();
#pragma GCC unroll 16
	for (int k = 0; k < 4; k++) {
		__m256i v = load(p + 64 * k);
		__m256i lo = and8(v, 0x0F), hi = and8(_mm256_srli_epi16(v, 4), 0x0F);
		if (q5) {
			lo = q5_code(lo, hb, k);
			hi = q5_code(hi, hb, k + 4);
		}
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++) {
			s16[c] =
			    _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(lo, bc(y[c] + 4 * k)));
			s16[c] = _mm256_add_epi16(s16[c],
			                          _mm256_maddubs_epi16(hi, bc(y[c] + 16 + 4 * k)));
		}
		if (q5 ? k % 2 == 1 : k == 3) {
#pragma GCC unroll 16
			for (int c = 0; c < cols; c++) {
				is[c] = _mm256_add_epi32(is[c], _mm256_madd_epi16(s16[c], ones));
				s16[c] = _mm256_setzero_si256();
			}
		}
	}
}

/* Block b, half h, into acc: the reference's float step in its order,
 * Q5_0 acc + (float)(isum + off) * (d * dy), Q4_1 / Q5_1 acc + ((float)isum
 * * (d * dy) + m * sy). */
AI void half_block(int type, const uint8_t *x, int64_t nb, int64_t b, int h,
                   const uint8_t *const y[AVX2_MAX_COLS], __m256 acc[AVX2_MAX_COLS], const int cols,
                   const bool pf)
{
	(void)pf; /* block_prefetch: 4-5 lines a block */
	__m256i is[AVX2_MAX_COLS];
	half_isum(type, x + pk_codes(b, pk_nv(type)) + 32 * h, y, is, cols);
	const uint8_t *sc = x + pk_scales(type, nb, b) + 16 * h;
	const __m256 d = f16x8(sc);
	if (!has_m(type)) {
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++) {
			const struct act8 *a = (const struct act8 *)y[c];
			__m256 f =
			    _mm256_cvtepi32_ps(_mm256_add_epi32(is[c], _mm256_set1_epi32(a->off)));
			acc[c] = _mm256_add_ps(
			    acc[c], _mm256_mul_ps(f, _mm256_mul_ps(d, _mm256_set1_ps(a->d))));
		}
		return;
	}
	const __m256 m = f16x8(sc + 32);
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++) {
		const struct act8s *a = (const struct act8s *)y[c];
		__m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(is[c]),
		                         _mm256_mul_ps(d, _mm256_set1_ps(a->d)));
		acc[c] =
		    _mm256_add_ps(acc[c], _mm256_add_ps(t, _mm256_mul_ps(m, _mm256_set1_ps(a->s))));
	}
}

/* ---- stripes */

/* Decode's prefetch: each code line twice (quant_prefetch_2), the scale lines
 * 16 blocks ahead into L2. */
AI void block_prefetch(int type, const uint8_t *x, int64_t nb, int64_t b)
{
	const int nv = pk_nv(type);
#pragma GCC unroll 8
	for (int l = 0; l < nv; l++)
		quant_prefetch_2(x + pk_codes(b, nv) + 64 * l);
	if (has_m(type) || !(b & 1))
		_mm_prefetch((const char *)x + pk_scales(type, nb, b + 16), _MM_HINT_T1);
}

/* Blocks per chunk when more than 2 columns pass over a stripe (Q5_1: 12
 * KiB, stays in L1), and of the GGUF row form's packing buffer. */
#define KC 32

/* act8 and act8s are both 40 bytes */
#define AVX2_COLS(type) 4
#define AVX2_QK(type)   QK8_0
#define AVX2_KC(type)   KC
#define AVX2_ACT(type)  sizeof(struct act8)
#define AVX2_BLK(type)  blk_bytes(type)
#define AVX2_BUF        (KC * 16 * sizeof(struct block_q5_1)) /* the biggest chunk */
#include "engine/quant_avx2_driver.h"

AVX2_GEMM_FNS(q5_0, GGML_TYPE_Q5_0)
AVX2_GEMM_FNS(q4_1, GGML_TYPE_Q4_1)
AVX2_GEMM_FNS(q5_1, GGML_TYPE_Q5_1)

void quant__fill_gemml_avx2(struct quant_traits *t)
{
	t[GGML_TYPE_Q5_0].act_prepare = q5_0_act_prepare;
	t[GGML_TYPE_Q5_0].act_bytes = act8_bytes;
	/* one prepared form for both: a model mixing them converts once */
	t[GGML_TYPE_Q4_1].act_prepare = t[GGML_TYPE_Q5_1].act_prepare = act8s_prepare;
	t[GGML_TYPE_Q4_1].act_bytes = t[GGML_TYPE_Q5_1].act_bytes = act8s_bytes;
#define SET(tn, T)                                                                                 \
	t[T].gemm = tn##_gemm;                                                                     \
	t[T].gemm_packed = tn##_gemm_packed;                                                       \
	t[T].pack16 = tn##_pack16;
	SET(q5_0, GGML_TYPE_Q5_0)
	SET(q4_1, GGML_TYPE_Q4_1)
	SET(q5_1, GGML_TYPE_Q5_1)
#undef SET
}

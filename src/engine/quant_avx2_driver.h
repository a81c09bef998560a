/* quant_avx2_driver.h — the loops the avx2 set's gemm files share, as a
 * template. The including file defines
 *   half_block(type, x, nb, b, h, y, acc, cols, pf): acc[c] + half h
 *     (rows 8h..8h+7) of block b of the packed stripe x (laid out for nb
 *     blocks) against the activation blocks y[c] (c < cols <=
 *     AVX2_COLS(type)); pf: decode, which streams the stripe, so the
 *     kernel may prefetch ahead a step at a time (quant_prefetch_step);
 *   block_prefetch(type, x, nb, b): decode's prefetch at block b (what
 *     half_block does not prefetch itself);
 *   pack_blocks(type, x, bx, nb, o): blocks [0, nb) of the 16 rows at x
 *     (bx bytes apart) into the packed form of a stripe of nb blocks;
 *   AVX2_QK(type), AVX2_KC(type), AVX2_ACT(type), AVX2_BLK(type): elements
 *     and prefill chunk (blocks) per block, bytes of a prepared activation
 *     block and of one row's block; AVX2_BUF: bytes of the biggest chunk;
 *     AVX2_COLS(type): the columns prefill takes at a time, a half at a
 *     time: 4, or 8 (at most AVX2_MAX_COLS);
 * then includes this file, which defines stripe, gemm_packed and gemm_rows
 * (the GGUF row form: each stripe, the last one overlapping the one before
 * it, packed a chunk at a time into a stack buffer; fewer than 16 rows by
 * quant__gemm_small), and AVX2_GEMM_FNS(t, T): t_gemm, t_gemm_packed and
 * t_pack16 of type T. Decode (up to 2 columns) streams each stripe once,
 * both halves block by block; more columns take it a chunk of blocks at a
 * time, which stays in L1 while the columns pass, AVX2_COLS(type) of them
 * (then 4, then fewer) at a time by halves. */

/* The activation blocks b of `cols` columns a + c * ba. */
AI void col_blocks(int type, const uint8_t *a, size_t ba, int64_t b,
                   const uint8_t *y[AVX2_MAX_COLS], const int cols)
{
#pragma GCC unroll 16
	for (int c = 0; c < cols; c++)
		y[c] = a + (size_t)c * ba + (size_t)b * AVX2_ACT(type);
}

/* The lanes of half h whose rows are `first` or later (those stored). */
AI __m256i keep_lanes(int first, int h)
{
	return _mm256_cmpgt_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
	                          _mm256_set1_epi32(first - 8 * h - 1));
}

/* Blocks [b0, b1) of the packed stripe x (nb blocks) by `cols` (1 or 2)
 * columns, both halves block by block (the stripe streams once,
 * prefetched); the 16 rows' running sums at s (loaded when add, else from
 * 0); rows before `first` are not stored. */
AI void stripe_cols(int type, const uint8_t *x, int64_t nb, int64_t b0, int64_t b1,
                    const uint8_t *a, size_t ba, float *s, size_t lds, int first, bool add,
                    const int cols)
{
	__m256 acc[2][AVX2_MAX_COLS];
#pragma GCC unroll 16
	for (int h = 0; h < 2; h++)
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++)
			acc[h][c] = add ? _mm256_loadu_ps(s + (size_t)c * lds + 8 * h)
			                : _mm256_setzero_ps();
	for (int64_t b = b0; b < b1; b++) {
		block_prefetch(type, x, nb, b);
		const uint8_t *y[AVX2_MAX_COLS];
		col_blocks(type, a, ba, b, y, cols);
#pragma GCC unroll 16
		for (int h = 0; h < 2; h++)
			half_block(type, x, nb, b, h, y, acc[h], cols, true);
	}
#pragma GCC unroll 16
	for (int h = 0; h < 2; h++)
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++)
			_mm256_maskstore_ps(s + (size_t)c * lds + 8 * h, keep_lanes(first, h),
			                    acc[h][c]);
}

/* The same for up to AVX2_COLS(type) columns, one half at a time, so that
 * their sums stay in registers (two halves of two columns and the codes
 * would not: GCC kept the sums on the stack). */
AI void half_cols(int type, const uint8_t *x, int64_t nb, int64_t b0, int64_t b1, const uint8_t *a,
                  size_t ba, float *s, size_t lds, int first, bool add, const int cols)
{
#pragma GCC unroll 2
	for (int h = 0; h < 2; h++) {
		__m256 acc[AVX2_MAX_COLS];
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++)
			acc[c] = add ? _mm256_loadu_ps(s + (size_t)c * lds + 8 * h)
			             : _mm256_setzero_ps();
		for (int64_t b = b0; b < b1; b++) {
			const uint8_t *y[AVX2_MAX_COLS];
			col_blocks(type, a, ba, b, y, cols);
			half_block(type, x, nb, b, h, y, acc, cols, false);
		}
#pragma GCC unroll 16
		for (int c = 0; c < cols; c++)
			_mm256_maskstore_ps(s + (size_t)c * lds + 8 * h, keep_lanes(first, h),
			                    acc[c]);
	}
}

/* All nc columns of blocks [b0, b1): up to 2 (decode) both halves a block
 * at a time with the prefetch; more by halves, AVX2_COLS(type) at a time,
 * then 4, then the rest. */
AI void stripe(int type, const uint8_t *x, int64_t nb, int64_t b0, int64_t b1, int64_t nc,
               const uint8_t *a, size_t ba, float *s, size_t lds, int first, bool add)
{
#define BLOCKS(k) stripe_cols(type, x, nb, b0, b1, a, ba, s, lds, first, add, k)
	if (nc <= 2) {
		if (nc == 2)
			BLOCKS(2);
		else
			BLOCKS(1);
		return;
	}
#undef BLOCKS
	for (int64_t c = 0; c < nc;) {
		const int64_t left = nc - c;
		const int k = AVX2_COLS(type) == 8 && left >= 8 ? 8 : left >= 4 ? 4 : (int)left;
		const uint8_t *ac = a + (size_t)c * ba;
		float *sc = s + (size_t)c * lds;
#define HALVES(k) half_cols(type, x, nb, b0, b1, ac, ba, sc, lds, first, add, k)
		if (AVX2_COLS(type) == 8 && k == 8) {
			HALVES(8);
		} else {
			switch (k) {
			case 1: HALVES(1); break;
			case 2: HALVES(2); break;
			case 3: HALVES(3); break;
			default: HALVES(4); break;
			}
		}
#undef HALVES
		c += k;
	}
}

AI void gemm_packed(int type, int64_t n, int64_t nr, int64_t nc, float *s, size_t lds,
                    const void *vx, size_t bx, const void *va, size_t ba)
{
	const uint8_t *x = vx, *a = va;
	const int64_t nb = n / AVX2_QK(type);
	const int64_t kc = nc <= 2 ? nb : AVX2_KC(type);
	for (int64_t r0 = 0; r0 < nr; r0 += 16)
		for (int64_t b0 = 0; b0 < nb; b0 += kc)
			stripe(type, x + (size_t)r0 * bx, nb, b0, b0 + kc < nb ? b0 + kc : nb, nc,
			       a, ba, s + r0, lds, 0, b0 > 0);
}

AI void gemm_rows(int type, int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *vx,
                  size_t bx, const void *va, size_t ba)
{
	const uint8_t *x = vx, *a = va;
	const int64_t nb = n / AVX2_QK(type), kc = AVX2_KC(type);
	const size_t bs = AVX2_BLK(type), as = AVX2_ACT(type);
	if (nr < 16) {
		quant__gemm_small(type, nb, nr, nc, s, lds, x, bx, a, ba);
		return;
	}
	_Alignas(64) uint8_t buf[AVX2_BUF];
	for (int64_t r0 = 0; r0 < nr; r0 += 16) {
		const int64_t base = r0 + 16 <= nr ? r0 : nr - 16;
		for (int64_t b0 = 0; b0 < nb; b0 += kc) {
			const int64_t kb = nb - b0 < kc ? nb - b0 : kc;
			pack_blocks(type, x + (size_t)base * bx + (size_t)b0 * bs, bx, kb, buf);
			stripe(type, buf, kb, 0, kb, nc, a + (size_t)b0 * as, ba, s + base, lds,
			       (int)(r0 - base), b0 > 0);
		}
	}
}

#define AVX2_GEMM_FNS(t, T)                                                                        \
	static void t##_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds,              \
	                     const void *x, size_t bx, const void *a, size_t ba)                   \
	{                                                                                          \
		gemm_rows(T, n, nr, nc, s, lds, x, bx, a, ba);                                     \
	}                                                                                          \
	static void t##_gemm_packed(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds,       \
	                            const void *x, size_t bx, const void *a, size_t ba)            \
	{                                                                                          \
		gemm_packed(T, n, nr, nc, s, lds, x, bx, a, ba);                                   \
	}                                                                                          \
	static void t##_pack16(const void *src, size_t bx, void *dst)                              \
	{                                                                                          \
		pack_blocks(T, src, bx, (int64_t)(bx / AVX2_BLK(T)), dst);                         \
	}

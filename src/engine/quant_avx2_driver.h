/* quant_avx2_driver.h — the loops the avx2 set's gemm files share, as a
 * template. The including file defines
 *   stripe(type, x, nb, b0, b1, nc, a, ba, s, lds, first, add): blocks
 *     [b0, b1) of the packed stripe x (laid out for nb blocks) by nc
 *     columns (a, ba bytes apart), the 16 rows' running sums at s (loaded
 *     when add), rows before `first` not stored;
 *   pack_blocks(type, x, bx, nb, o): blocks [0, nb) of the 16 rows at x
 *     (bx bytes apart) into the packed form of a stripe of nb blocks;
 *   AVX2_QK(type), AVX2_KC(type), AVX2_ACT(type), AVX2_BLK(type): elements
 *     and prefill chunk (blocks) per block, bytes of a prepared activation
 *     block and of one row's block; AVX2_BUF: bytes of the biggest chunk;
 * then includes this file, which defines gemm_packed and gemm_rows (the
 * GGUF row form: each stripe, the last one overlapping the one before it,
 * packed a chunk at a time into a stack buffer; fewer than 16 rows by
 * quant__gemm_small), and AVX2_GEMM_FNS(t, T): t_gemm, t_gemm_packed and
 * t_pack16 of type T. Decode (up to 2 columns) streams each stripe once;
 * more columns take it a chunk of blocks at a time, which stays in L1 while
 * the columns pass. */

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

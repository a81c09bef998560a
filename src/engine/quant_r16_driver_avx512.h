/* quant_r16_driver_avx512.h — the loops every r16 gemm kernel shares, as a
 * template: the including file defines R16_BLK (one block of 16 rows,
 * unpacked), R16_ACT (one prepared activation block), R16_QK (elements per
 * block), R16_KC (blocks per buffered chunk) and two functions, then
 * includes this file, which defines gemm(type, ...):
 *   unpack(type, x, bx, b, offs, &u)   block b of the 16 rows at x
 *   block_dot(type, &u, act, acc)      acc + the reference's block step
 * Fewer than 16 rows go to quant__gemm_small (scalar).
 * Up to four columns unpack each block in registers (decode); more run
 * against R16_KC blocks of a stripe unpacked once on the stack (prefill).
 * A last stripe of fewer than 16 rows overlaps the one before it. A file
 * whose blocks do not fit in registers defines R16_HAVE_DIRECT and its own
 * run_direct (unpacking and multiplying piece by piece; it gets packed
 * stripes too); otherwise the one here serves the GGUF form, and a file
 * with packed weights defines R16_PACKED_DIRECT (run_direct's arguments),
 * its decode loop over a packed stripe. One with an AMX kernel defines
 * R16_AMX(type, u, b0, kb, a, ba, s, lds) for 16 columns, R16_AMX_UNPACK
 * (unpack into that kernel's form) and R16_AMX_SIGN(type, u, kb, to_amx),
 * which turns unpacked blocks into its form and back, and may define
 * R16_AMX2(type, u, u2, b0, kb, a, ba, s, lds) for two stripes by 32
 * columns. The file then names its quant_gemm_fn entries with
 * R16_GEMM_FN(name, type). */

#ifndef R16_HAVE_DIRECT
/* Every block unpacked in registers once for the `cols` columns. */
R16_AI void run_direct(int type, const uint8_t *x, size_t bx, int64_t nb, const uint8_t *a,
                       size_t ba, float *s, size_t lds, __mmask16 keep, const int cols)
{
	const __m512i offs = r16_row_offsets(bx);
	__m512 acc[4];
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		acc[c] = _mm512_setzero_ps();
	const int64_t pf_step = r16_pf_step(bx, nb);
	for (int64_t b = 0; b < nb; b++) {
		r16_prefetch_next(x, bx, pf_step, b);
		R16_BLK u;
		unpack(type, x, bx, b, offs, &u);
#pragma GCC unroll 4
		for (int c = 0; c < cols; c++)
			acc[c] =
			    block_dot(type, &u, (const R16_ACT *)(a + (size_t)c * ba) + b, acc[c]);
	}
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		_mm512_mask_storeu_ps(s + (size_t)c * lds, keep, acc[c]);
}
#endif

/* Blocks [b0, b0 + kb) of a stripe unpacked in u, for `cols` columns whose
 * running sums are s[c * lds .. + 16] (zero when b0 == 0). */
R16_AI void run_buffered(int type, const R16_BLK *u, int64_t b0, int64_t kb, const uint8_t *a,
                         size_t ba, float *s, size_t lds, const int cols)
{
	__m512 acc[4];
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		acc[c] = b0 ? _mm512_loadu_ps(s + (size_t)c * lds) : _mm512_setzero_ps();
	for (int64_t b = 0; b < kb; b++)
#pragma GCC unroll 4
		for (int c = 0; c < cols; c++)
			acc[c] = block_dot(type, &u[b],
			                   (const R16_ACT *)(a + (size_t)c * ba) + b0 + b, acc[c]);
#pragma GCC unroll 4
	for (int c = 0; c < cols; c++)
		_mm512_storeu_ps(s + (size_t)c * lds, acc[c]);
}

/* Columns [c0, nc) of blocks [b0, b0 + kb) of a stripe unpacked in u, four
 * at a time. */
R16_AI void buffered_cols(int type, const R16_BLK *u, int64_t b0, int64_t kb, int64_t c0,
                          int64_t nc, float *s, size_t lds, const uint8_t *a, size_t ba)
{
	for (; c0 < nc; c0 += 4) {
		const uint8_t *ac = a + (size_t)c0 * ba;
		float *sc = s + (size_t)c0 * lds;
#define BUFFERED(k) run_buffered(type, u, b0, kb, ac, ba, sc, lds, k)
		R16_COLS_SWITCH(nc - c0, BUFFERED)
#undef BUFFERED
	}
}

#ifdef R16_AMX
/* The same with u in the AMX form: whole tiles of 16 on AMX, the rest
 * (fewer than 16) back in the VNNI form. */
R16_AI void amx_rest(int type, R16_BLK *u, int64_t b0, int64_t kb, int64_t c0, int64_t nc,
                     float *s, size_t lds, const uint8_t *a, size_t ba)
{
	for (; c0 + 16 <= nc; c0 += 16)
		R16_AMX(type, u, b0, kb, a + (size_t)c0 * ba, ba, s + (size_t)c0 * lds, lds);
	if (c0 == nc)
		return;
	R16_AMX_SIGN(type, u, kb, false);
	buffered_cols(type, u, b0, kb, c0, nc, s, lds, a, ba);
}
#endif

/* One stripe of 16 rows (x) by nc columns; rows before `first` are already
 * done (an overlapping last stripe) and keep their values. */
R16_AI void stripe(int type, int64_t nb, int64_t nc, float *s, size_t lds, const uint8_t *x,
                   size_t bx, const uint8_t *a, size_t ba, int first)
{
	__mmask16 keep = (__mmask16)(0xFFFFu << first);
	if (nc <= 4) {
#ifdef R16_PACKED_DIRECT
		if (type & R16_PACKED) {
#define PDIRECT(k) R16_PACKED_DIRECT(type, x, bx, nb, a, ba, s, lds, keep, k)
			R16_COLS_SWITCH(nc, PDIRECT)
#undef PDIRECT
			return;
		}
#endif
#define DIRECT(k) run_direct(type, x, bx, nb, a, ba, s, lds, keep, k)
		R16_COLS_SWITCH(nc, DIRECT)
#undef DIRECT
		return;
	}
	const __m512i offs = r16_row_offsets(bx);
	R16_BLK u[R16_KC];
	for (int64_t b0 = 0; b0 < nb; b0 += R16_KC) {
		int64_t kb = nb - b0 < R16_KC ? nb - b0 : R16_KC;
#ifdef R16_AMX
		if (quant__amx && nc >= 16) {
			for (int64_t b = 0; b < kb; b++)
				R16_AMX_UNPACK(type, x, bx, b0 + b, offs, &u[b]);
			amx_rest(type, u, b0, kb, 0, nc, s, lds, a, ba);
			continue;
		}
#endif
		for (int64_t b = 0; b < kb; b++)
			unpack(type, x, bx, b0 + b, offs, &u[b]);
		buffered_cols(type, u, b0, kb, 0, nc, s, lds, a, ba);
	}
}

#ifdef R16_AMX2
/* Blocks per unpacked chunk of a stripe pair: twice a stripe's (74 KiB of
 * stack for Q4_0/Q8_0), so a 2048-element row is one chunk and the 32 x 32
 * sums are loaded and stored fewer times: Q4_0 pp512 1.028 and 1.032
 * against R16_KC (medians of 16 alternating pairs); half of R16_KC 0.928,
 * four times it no better than twice. */
#define R16_KC2 (2 * R16_KC)

/* Two stripes (32 rows at x) by nc >= 32 columns on AMX: tiles of 32 x 32
 * (R16_AMX2), then each stripe's last columns as stripe() runs them. */
R16_AI void stripe2(int type, int64_t nb, int64_t nc, float *s, size_t lds, const uint8_t *x,
                    size_t bx, const uint8_t *a, size_t ba)
{
	const __m512i offs = r16_row_offsets(bx);
	R16_BLK u[2][R16_KC2];
	for (int64_t b0 = 0; b0 < nb; b0 += R16_KC2) {
		int64_t kb = nb - b0 < R16_KC2 ? nb - b0 : R16_KC2;
		for (int h = 0; h < 2; h++)
			for (int64_t b = 0; b < kb; b++)
				R16_AMX_UNPACK(type, x + (size_t)16 * h * bx, bx, b0 + b, offs, &u[h][b]);
		int64_t c0 = 0;
		for (; c0 + 32 <= nc; c0 += 32)
			R16_AMX2(type, u[0], u[1], b0, kb, a + (size_t)c0 * ba, ba, s + (size_t)c0 * lds,
			         lds);
		for (int h = 0; h < 2 && c0 < nc; h++)
			amx_rest(type, u[h], b0, kb, c0, nc, s + 16 * h, lds, a, ba);
	}
}
#endif

R16_AI void gemm(int type, int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *vx,
                 size_t bx, const void *va, size_t ba)
{
	const uint8_t *x = vx, *a = va;
	const int64_t nb = n / R16_QK;
	if (nr < 16) {
		quant__gemm_small(R16_TYPE(type), nb, nr, nc, s, lds, x, bx, a, ba);
		return;
	}
	int64_t r0 = 0;
#ifdef R16_AMX2
	if (quant__amx && nc >= 32)
		for (; r0 + 32 <= nr; r0 += 32)
			stripe2(type, nb, nc, s + r0, lds, x + r0 * bx, bx, a, ba);
#endif
	for (; r0 < nr; r0 += 16) {
		int64_t base = r0 + 16 <= nr ? r0 : nr - 16;
		stripe(type, nb, nc, s + base, lds, x + base * bx, bx, a, ba, (int)(r0 - base));
	}
}

/* A quant_gemm_fn for type (with R16_PACKED: over packed stripes). */
#define R16_GEMM_FN(name, type)                                                                    \
	static void name(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *x,   \
	                 size_t bx, const void *a, size_t ba)                                      \
	{                                                                                          \
		gemm(type, n, nr, nc, s, lds, x, bx, a, ba);                                       \
	}

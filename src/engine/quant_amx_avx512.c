/* quant_amx_avx512.c — prefill tiles on AMX (Sapphire Rapids and later):
 * one TDPBSSD multiplies 16 activation rows (signed bytes) by a block of 16
 * weight rows unpacked as quant_r16_avx512.h lays them out (four codes per
 * 32-bit lane: exactly AMX's B-tile layout; made signed first) into 16 x 16
 * exact integer block sums (Q4_1 / Q5_1: TDPBSUD of the unsigned codes);
 * the float step after it is the r16 VNNI path's, so the results are the
 * same bit for bit. Also the tile state itself: Linux grants
 * it per process (arch_prctl ARCH_REQ_XCOMP_PERM) and each thread loads the
 * tile configuration of the kernel it runs (this one's or the BF16 kernel's,
 * quant_amxf_avx512.c). GPURUN_AMX=0 turns AMX off. */
#include "engine/quant_r16_avx512.h"

#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/cpu_features.h"

#define AMX_TARGET __attribute__((target("amx-tile,amx-int8")))

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA  18

bool quant__amx, quant__amx_bf16;

struct tile_cfg {
	uint8_t palette, start_row;
	uint8_t reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
};
static_assert(sizeof(struct tile_cfg) == 64, "tile config size");

/* the configuration this thread's tiles have (enum quant_amx_cfg) */
static _Thread_local int loaded;

void quant__amx_init(void)
{
#if defined(__x86_64__) && defined(SYS_arch_prctl)
	const struct cpu_features *f = cpu_features_get();
	const char *env = getenv("GPURUN_AMX");
	if ((env && !strcmp(env, "0")) || !(f->amx_int8 || f->amx_bf16))
		return;
	if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
		return;
	quant__amx = f->amx_int8;
	quant__amx_bf16 = f->amx_bf16 && f->avx512bf16;
#endif
}

/* Palette 1. INT8: tiles 0-3 accumulators (16 x 16 int32), 4, 5
 * activations (16 rows x 32 bytes), 6, 7 weights (8 rows x 64 bytes).
 * BF16: all eight 16 rows x 64 bytes. */
void quant__amx_use(int which)
{
	if (loaded == which)
		return;
	struct tile_cfg c;
	memset(&c, 0, sizeof c);
	c.palette = 1;
	for (int t = 0; t < 8; t++)
		c.rows[t] = 16, c.colsb[t] = 64;
	if (which == QUANT_AMX_INT8)
		for (int t = 0; t < 2; t++)
			c.colsb[4 + t] = 32, c.rows[6 + t] = 8;
	/* asm with the whole struct as its operand: GCC's _tile_loadconfig does
	 * not tell the optimiser that it reads the rows and columns */
	__asm__ volatile("ldtilecfg %0" : : "m"(c));
	loaded = which;
}

#define AI static inline __attribute__((always_inline))

/* Block b of the unpacked blocks u: struct r16blk, or with mins (Q4_1,
 * Q5_1) struct r16blkm, whose rows' mins blk_m gives. */
AI const struct r16blk *blk(const void *u, int64_t b, const bool mins)
{
	return mins ? &((const struct r16blkm *)u)[b].b : &((const struct r16blk *)u)[b];
}

AI __m512 blk_m(const void *u, int64_t b, const bool mins)
{
	return mins ? ((const struct r16blkm *)u)[b].m : _mm512_setzero_ps();
}

/* (float)sums * (d_rows * d_act) of one column of a block: its 16 exact
 * integer sums (no offset term), the rows' scales d and the column's
 * activation block y (struct act8); with mins (struct act8s), that plus
 * m_rows * s_act, the reference's step. */
AI __m512 block_term(const int32_t sums[16], __m512 d, __m512 m, const uint8_t *y, const bool mins)
{
	const float dy = mins ? ((const struct act8s *)y)->d : ((const struct act8 *)y)->d;
	__m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums)),
	                         _mm512_mul_ps(d, _mm512_set1_ps(dy)));
	if (mins)
		t = _mm512_add_ps(t, _mm512_mul_ps(m, _mm512_set1_ps(((const struct act8s *)y)->s)));
	return t;
}

/* acc[t] += the term of block b of u for each of its 16 columns (a, ba
 * bytes apart). */
AI void epilogue(__m512 acc[16], const int32_t sums[16][16], const void *u, int64_t b,
                 const uint8_t *a, size_t ba, const bool mins)
{
	const __m512 d = blk(u, b, mins)->d, m = blk_m(u, b, mins);
#pragma GCC unroll 16
	for (int t = 0; t < 16; t++)
		acc[t] = _mm512_add_ps(acc[t], block_term(sums[t], d, m, a + (size_t)t * ba, mins));
}

#define ACT(b) (ab + (size_t)(b) * sizeof(struct act8))

/* Tile T += activations A (signed) by weights W: signed codes, or the
 * unsigned codes of the types with mins. */
#define DP(T, A, W)                                                                                \
	do {                                                                                       \
		if (mins)                                                                          \
			_tile_dpbsud(T, A, W);                                                     \
		else                                                                               \
			_tile_dpbssd(T, A, W);                                                     \
	} while (0)

/* Block b into accumulator tile T (activations in tile A, weights in W);
 * the 16 activation rows of block b + 4 are fetched meanwhile (16 lines
 * ba bytes apart: the tile load would wait for each). */
#define ISSUE(b, T, A, W)                                                                          \
	do {                                                                                       \
		if ((b) < kb) {                                                                    \
			if ((b) + 4 < kb)                                                          \
				for (int t_ = 0; t_ < 16; t_++)                                    \
					_mm_prefetch((const char *)ACT((b) + 4) + (size_t)t_ * ba, \
					             _MM_HINT_T0);                                 \
			_tile_zero(T);                                                             \
			_tile_loadd(A, ACT(b), ba);                                                \
			_tile_loadd(W, blk(u, b, mins)->c, 64);                                    \
			DP(T, A, W);                                                               \
		}                                                                                  \
	} while (0)
/* Block b's sums out of tile T and its float step. */
#define FINISH(b, T, i)                                                                            \
	do {                                                                                       \
		if ((b) < kb) {                                                                    \
			_tile_stored(T, sums[i], 64);                                              \
			epilogue(acc, (const int32_t(*)[16])sums[i], u, b, ACT(b), ba, mins);      \
		}                                                                                  \
	} while (0)

AMX_TARGET AI void legacy1(const void *u, int64_t b0, int64_t kb, const uint8_t *a, size_t ba,
                           float *s, size_t lds, const bool mins)
{
	_Alignas(64) int32_t sums[2][16][16];
	__m512 acc[16];
	quant__amx_use(QUANT_AMX_INT8);
#pragma GCC unroll 16
	for (int t = 0; t < 16; t++)
		acc[t] = b0 ? _mm512_loadu_ps(s + (size_t)t * lds) : _mm512_setzero_ps();
	const uint8_t *ab = a + (size_t)b0 * sizeof(struct act8);
	/* software pipeline: the tile unit multiplies blocks b + 2 and b + 3
	 * while the vector units finish blocks b and b + 1 */
	ISSUE(0, 0, 4, 6);
	ISSUE(1, 1, 5, 7);
	for (int64_t b = 0; b < kb; b += 4) {
		ISSUE(b + 2, 2, 4, 6);
		ISSUE(b + 3, 3, 5, 7);
		FINISH(b, 0, 0);
		FINISH(b + 1, 1, 1);
		ISSUE(b + 4, 0, 4, 6);
		ISSUE(b + 5, 1, 5, 7);
		FINISH(b + 2, 2, 0);
		FINISH(b + 3, 3, 1);
	}
#pragma GCC unroll 16
	for (int t = 0; t < 16; t++)
		_mm512_storeu_ps(s + (size_t)t * lds, acc[t]);
}

AMX_TARGET void quant__amx_legacy(const struct r16blk *u, int64_t b0, int64_t kb, const uint8_t *a,
                                  size_t ba, float *s, size_t lds)
{
	legacy1(u, b0, kb, a, ba, s, lds, false);
}

AMX_TARGET void quant__amx_legacy_m(const struct r16blkm *u, int64_t b0, int64_t kb,
                                    const uint8_t *a, size_t ba, float *s, size_t lds)
{
	legacy1(u, b0, kb, a, ba, s, lds, true);
}

/* epilogue with the accumulators in memory (column t at accm + t * 32:
 * 32 x 32 of them do not fit in registers). */
AI void epilogue_m(float *accm, const int32_t sums[16][16], const void *u, int64_t b,
                   const uint8_t *a, size_t ba, const bool mins)
{
	const __m512 d = blk(u, b, mins)->d, m = blk_m(u, b, mins);
#pragma GCC unroll 16
	for (int t = 0; t < 16; t++)
		_mm512_store_ps(accm + t * 32,
		                _mm512_add_ps(_mm512_load_ps(accm + t * 32),
		                              block_term(sums[t], d, m, a + (size_t)t * ba, mins)));
}

AMX_TARGET AI void legacy2(const void *u, const void *u2, int64_t b0, int64_t kb, const uint8_t *a,
                           size_t ba, float *s, size_t lds, const bool mins)
{
	_Alignas(64) int32_t sums[2][4][16][16];
	_Alignas(64) float accm[32][32]; /* [column][row] */
	quant__amx_use(QUANT_AMX_INT8);
	for (int t = 0; t < 32; t++)
		for (int h = 0; h < 32; h += 16)
			_mm512_store_ps(accm[t] + h, b0 ? _mm512_loadu_ps(s + (size_t)t * lds + h)
			                                : _mm512_setzero_ps());
	const uint8_t *ab = a + (size_t)b0 * sizeof(struct act8);
	const size_t a16 = 16 * ba;
	/* the tiles of block b (each tile load serving two products), each
	 * product followed by a quarter of the float step of block b - 1,
	 * whose sums are out already (1.07x on the kernel against the whole
	 * float step after the four: in program order it waited for them);
	 * the 32 activation rows of block b + 2 are fetched meanwhile */
	for (int64_t b = 0; b <= kb; b++) {
		const int64_t p = b - 1;
		int32_t(*sp)[16][16] = sums[p & 1];
		int32_t(*sm)[16][16] = sums[b & 1];
		if (b < kb) {
			if (b + 2 < kb)
				for (int t = 0; t < 32; t++)
					_mm_prefetch((const char *)ACT(b + 2) + (size_t)t * ba, _MM_HINT_T0);
			_tile_loadd(6, blk(u, b, mins)->c, 64);
			_tile_loadd(7, blk(u2, b, mins)->c, 64);
			_tile_loadd(4, ACT(b), ba);
			_tile_loadd(5, ACT(b) + a16, ba);
			_tile_zero(0);
			_tile_zero(1);
			_tile_zero(2);
			_tile_zero(3);
			DP(0, 4, 6);
		}
		if (b > 0)
			epilogue_m(accm[0], (const int32_t(*)[16])sp[0], u, p, ACT(p), ba, mins);
		if (b < kb)
			DP(1, 4, 7);
		if (b > 0)
			epilogue_m(accm[0] + 16, (const int32_t(*)[16])sp[1], u2, p, ACT(p), ba, mins);
		if (b < kb)
			DP(2, 5, 6);
		if (b > 0)
			epilogue_m(accm[16], (const int32_t(*)[16])sp[2], u, p, ACT(p) + a16, ba, mins);
		if (b < kb)
			DP(3, 5, 7);
		if (b > 0)
			epilogue_m(accm[16] + 16, (const int32_t(*)[16])sp[3], u2, p, ACT(p) + a16, ba,
			           mins);
		if (b < kb) {
			_tile_stored(0, sm[0], 64);
			_tile_stored(1, sm[1], 64);
			_tile_stored(2, sm[2], 64);
			_tile_stored(3, sm[3], 64);
		}
	}
	for (int t = 0; t < 32; t++)
		for (int h = 0; h < 32; h += 16)
			_mm512_storeu_ps(s + (size_t)t * lds + h, _mm512_load_ps(accm[t] + h));
}

AMX_TARGET void quant__amx_legacy2(const struct r16blk *u, const struct r16blk *u2, int64_t b0,
                                   int64_t kb, const uint8_t *a, size_t ba, float *s, size_t lds)
{
	legacy2(u, u2, b0, kb, a, ba, s, lds, false);
}

AMX_TARGET void quant__amx_legacy2_m(const struct r16blkm *u, const struct r16blkm *u2, int64_t b0,
                                     int64_t kb, const uint8_t *a, size_t ba, float *s, size_t lds)
{
	legacy2(u, u2, b0, kb, a, ba, s, lds, true);
}

/* The unpacked codes of kb blocks between the VNNI form (unsigned: Q4_0
 * nibbles, Q5_0 codes, Q8_0 values + 128) and the AMX form (signed: q - 8,
 * q - 16, the values themselves), so the tiles need no offset term. */
void quant__amx_sign(int type, struct r16blk *u, int64_t kb, bool to_signed)
{
	const bool q8 = type == GGML_TYPE_Q8_0;
	const __m512i k = _mm512_set1_epi8(q8 ? (char)0x80 : type == GGML_TYPE_Q5_0 ? 16 : 8);
	for (int64_t b = 0; b < kb; b++)
		for (int i = 0; i < 8; i++)
			u[b].c[i] = q8          ? _mm512_xor_si512(u[b].c[i], k)
			            : to_signed ? _mm512_sub_epi8(u[b].c[i], k)
			                        : _mm512_add_epi8(u[b].c[i], k);
}

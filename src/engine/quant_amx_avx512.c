/* quant_amx_avx512.c — prefill tiles on AMX (Sapphire Rapids and later):
 * one TDPBSUD multiplies 16 activation rows (signed bytes) by a block of 16
 * weight rows unpacked as quant_r16_avx512.h lays them out (unsigned codes,
 * four per 32-bit lane: exactly AMX's B-tile layout) into 16 x 16 exact
 * integer block sums; the float step after it is the r16 VNNI path's, so the
 * results are the same bit for bit. Also the tile state itself: Linux grants
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

/* Palette 1. INT8: tiles 0, 1 accumulators (16 x 16 int32), 2, 3
 * activations (16 rows x 32 bytes), 4, 5 weights (8 rows x 64 bytes).
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
			c.colsb[2 + t] = 32, c.rows[4 + t] = 8;
	/* asm with the whole struct as its operand: GCC's _tile_loadconfig does
	 * not tell the optimiser that it reads the rows and columns */
	__asm__ volatile("ldtilecfg %0" : : "m"(c));
	loaded = which;
}

/* acc[t] += (float)(sums[t] + off) * (d_rows * d_act) for the 16 columns
 * of one block. */
static inline __attribute__((always_inline)) void epilogue(__m512 acc[16],
                                                           const int32_t sums[16][16],
                                                           const struct r16blk *u, const uint8_t *a,
                                                           size_t ba)
{
	const __m512 d = u->d;
#pragma GCC unroll 16
	for (int t = 0; t < 16; t++) {
		const struct act8 *y = (const struct act8 *)(a + (size_t)t * ba);
		__m512i isum =
		    _mm512_add_epi32(_mm512_load_si512(sums[t]), _mm512_set1_epi32(y->off));
		__m512 sc = _mm512_mul_ps(d, _mm512_set1_ps(y->d));
		acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), sc));
	}
}

#define ACT(b) (ab + (size_t)(b) * sizeof(struct act8))

AMX_TARGET void quant__amx_legacy(const struct r16blk *u, int64_t b0, int64_t kb, const uint8_t *a,
                                  size_t ba, float *s, size_t lds)
{
	_Alignas(64) int32_t sums[2][16][16];
	__m512 acc[16];
	quant__amx_use(QUANT_AMX_INT8);
#pragma GCC unroll 16
	for (int t = 0; t < 16; t++)
		acc[t] = b0 ? _mm512_loadu_ps(s + (size_t)t * lds) : _mm512_setzero_ps();
	const uint8_t *ab = a + (size_t)b0 * sizeof(struct act8);
	/* software pipeline: the tile unit multiplies block b + 1 while the
	 * vector units finish block b */
	_tile_zero(0);
	_tile_loadd(2, ACT(0), ba);
	_tile_loadd(4, u[0].c, 64);
	_tile_dpbsud(0, 2, 4);
	for (int64_t b = 0; b < kb; b += 2) {
		_tile_stored(0, sums[0], 64);
		if (b + 1 < kb) {
			_tile_zero(1);
			_tile_loadd(3, ACT(b + 1), ba);
			_tile_loadd(5, u[b + 1].c, 64);
			_tile_dpbsud(1, 3, 5);
		}
		epilogue(acc, (const int32_t(*)[16])sums[0], &u[b], ACT(b), ba);
		if (b + 1 >= kb)
			break;
		_tile_stored(1, sums[1], 64);
		if (b + 2 < kb) {
			_tile_zero(0);
			_tile_loadd(2, ACT(b + 2), ba);
			_tile_loadd(4, u[b + 2].c, 64);
			_tile_dpbsud(0, 2, 4);
		}
		epilogue(acc, (const int32_t(*)[16])sums[1], &u[b + 1], ACT(b + 1), ba);
	}
#pragma GCC unroll 16
	for (int t = 0; t < 16; t++)
		_mm512_storeu_ps(s + (size_t)t * lds, acc[t]);
}

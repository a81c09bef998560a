/* quant_amxf_avx512.c — F16 prefill on AMX-BF16 (TDPBF16PS). An F16 value
 * is exactly hi + lo, both bfloat16, as are llama.cpp's F16-rounded
 * activations. A 32-element step adds w_hi*a_hi + w_lo*a_hi + w_hi*a_lo in
 * f32 tiles: all products but w_lo*a_lo (<= 2^-16 |w*a|), in another order
 * than the FMA path (quant_gemmf_avx512.c); bound: quant_gemm_test. An
 * infinite operand gives NaN sums (inf * the other's zero low part).
 * Activations are split once, when they are prepared, into rows the tile
 * loads read in place; weights are split and transposed per row group. */
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/quant_internal.h"

#define AMXF     __attribute__((target("amx-tile,amx-bf16,avx512bf16")))
#define AI       static inline __attribute__((always_inline))
#define RG       256 /* weight rows per packed group */
#define KCB      4   /* 32-element blocks per packed chunk (128 elements) */
#define TILE     1024
#define BLKB     QUANT_F16X_BLOCK
#define UNROLL16 _Pragma("GCC unroll 16")

/* A prepared row: per 32-element block the 32 bf16 high parts (64 bytes)
 * then the 32 rests (64 bytes), zeros past n; then one spare line, so rows
 * are an odd number of lines apart and the 16 rows of a tile load fall in
 * different L1 sets. */
size_t quant__f16x_act_bytes(int64_t n)
{
	return (size_t)((n + 31) / 32) * BLKB + 64;
}

/* bf16 (the low or high 16 lanes of v) -> f32, exact */
AI __m512 bf16lo(__m512i v)
{
	return _mm512_castsi512_ps(
	    _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(v)), 16));
}

AI __m512 bf16hi(__m512i v)
{
	return _mm512_castsi512_ps(
	    _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(v, 1)), 16));
}

/* 32 F16 values (v0: elements 0..15, v1: 16..31, as f32) -> their bf16
 * high parts (round to nearest even) and the exact rests. A non-finite
 * value keeps its high part (inf, NaN) and a zero rest. */
AMXF AI void split(__m512 v0, __m512 v1, __m512i *hi, __m512i *lo)
{
	__m512i h = (__m512i)_mm512_cvtne2ps_pbh(v1, v0);
	__mmask16 f0 = (__mmask16)~_mm512_fpclass_ps_mask(v0, 0x99);
	__mmask16 f1 = (__mmask16)~_mm512_fpclass_ps_mask(v1, 0x99);
	__m512 l0 = _mm512_maskz_sub_ps(f0, v0, bf16lo(h));
	__m512 l1 = _mm512_maskz_sub_ps(f1, v1, bf16hi(h));
	*hi = h;
	*lo = (__m512i)_mm512_cvtne2ps_pbh(l1, l0);
}

/* 32 F16 values, split. */
AMXF AI void split16(__m512i raw, __m512i *hi, __m512i *lo)
{
	split(_mm512_cvtph_ps(_mm512_castsi512_si256(raw)),
	      _mm512_cvtph_ps(_mm512_extracti64x4_epi64(raw, 1)), hi, lo);
}

/* x rounded to F16 (nearest even: llama.cpp's F16 vec_dot_type), split
 * into the prepared row's blocks. */
AMXF void quant__f16x_act_prepare(const float *x, void *vy, int64_t n)
{
	uint8_t *y = vy;
	for (int64_t k = 0; k < n; k += 32, y += BLKB) {
		const int64_t left = n - k;
		const __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
		const __mmask16 m1 = left >= 32   ? 0xFFFF
		                     : left <= 16 ? 0
		                                  : (__mmask16)((1u << (left - 16)) - 1);
		const __m256i h0 =
		    _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m0, x + k), _MM_FROUND_TO_NEAREST_INT);
		const __m256i h1 = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m1, x + k + 16),
		                                   _MM_FROUND_TO_NEAREST_INT);
		__m512i hi, lo;
		split16(_mm512_inserti64x4(_mm512_castsi256_si512(h0), h1, 1), &hi, &lo);
		_mm512_storeu_si512(y, hi);
		_mm512_storeu_si512(y + 64, lo);
	}
}

/* 16 x 16 dwords: o[k] = dword k of the 16 input rows. */
AI void transpose16(const __m512i r[16], __m512i o[16])
{
	__m512i t[16], u[16];
#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
#pragma GCC unroll 4
	for (int j = 0; j < 4; j++) {
		__m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88);
		__m512i v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xDD);
		__m512i w0 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88);
		__m512i w1 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xDD);
		o[j] = _mm512_shuffle_i32x4(v0, w0, 0x88);
		o[8 + j] = _mm512_shuffle_i32x4(v0, w0, 0xDD);
		o[4 + j] = _mm512_shuffle_i32x4(v1, w1, 0x88);
		o[12 + j] = _mm512_shuffle_i32x4(v1, w1, 0xDD);
	}
}

/* Per K chunk of 128, the weights of a group of RG rows are packed into
 * 1 KiB tiles in a per-thread scratch (allocated once per thread, freed at
 * its exit), next to the f32 sums of the group x column block, all L2-sized
 * together; the activation tiles are loaded from the prepared rows, except
 * a last pair of column tiles the block does not fill, which is copied
 * (zeros past the block). Tile (i, s, h): row tile i, step s, h = 0 high
 * parts, 1 rests. */
#define TB    512
#define PARTB (KCB * BLKB + 64) /* bytes between the copied columns */
struct scratch {
	uint8_t w[RG / 16][KCB][2][TILE]; /* B tiles: row j = dword j of the 16 rows */
	float c[TB / 16][RG / 16][256];   /* C tiles: row t = column t's 16 sums */
	uint8_t part[32][PARTB];          /* the copied columns, as prepared rows */
};
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void key_init(void)
{
	if (pthread_key_create(&key, free) != 0)
		abort(); /* only without memory for one key: nothing can run */
}

static struct scratch *scratch(void)
{
	pthread_once(&key_once, key_init);
	struct scratch *p = pthread_getspecific(key);
	if (!p) {
		p = aligned_alloc(64, sizeof *p);
		if (p && pthread_setspecific(key, p) != 0) {
			free(p);
			p = NULL;
		}
	}
	return p;
}

/* Rows [0, rn) (ldw elements apart) x blocks [kb0, kb0 + ns) of n
 * elements into nt row tiles; zeros past n and past rn. The next chunk's
 * line of each row is prefetched meanwhile (16 interleaved row streams
 * are too short for the hardware prefetcher). */
AMXF static void pack_w(const uint16_t *w, size_t ldw, int rn, int64_t n, int64_t kb0, int ns,
                        int nt, struct scratch *sc)
{
	for (int rt = 0; rt < nt; rt++)
		for (int s = 0; s < ns; s++) {
			const int64_t k = (kb0 + s) * 32, left = n - k;
			const __mmask32 km =
			    left >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << left) - 1);
			__m512i raw[16], t[16];
			UNROLL16 for (int r = 0; r < 16; r++)
			{
				const int row = rt * 16 + r;
				const uint16_t *p = w + (size_t)row * ldw + k;
				if (row < rn) {
					_mm_prefetch((const char *)(p + KCB * 32), _MM_HINT_T1);
					raw[r] = _mm512_maskz_loadu_epi16(km, p);
				} else {
					raw[r] = _mm512_setzero_si512();
				}
			}
			/* transposed first (F16 pairs are the dwords), then split in
			 * place: the split keeps every value's position */
			transpose16(raw, t);
			UNROLL16 for (int j = 0; j < 16; j++)
			{
				__m512i hi, lo;
				split16(t[j], &hi, &lo);
				_mm512_store_si512(sc->w[rt][s][0] + 64 * j, hi);
				_mm512_store_si512(sc->w[rt][s][1] + 64 * j, lo);
			}
		}
}

/* Prepared columns [0, cn) (ba bytes apart) x blocks [kb0, kb0 + ns) into
 * the scratch's 32 copied columns; zeros past cn. */
static void pack_part(const uint8_t *a, size_t ba, int cn, int64_t kb0, int ns, struct scratch *sc)
{
	for (int t = 0; t < 32; t++) {
		if (t < cn)
			memcpy(sc->part[t], a + (size_t)t * ba + (size_t)kb0 * BLKB,
			       (size_t)ns * BLKB);
		else
			memset(sc->part[t], 0, (size_t)ns * BLKB);
	}
}

/* Lines to prefetch into L2 while the tiles multiply: `rows` rows of
 * `lines` 64-byte lines each from base (stride bytes apart). */
struct pf {
	const uint8_t *p; /* the next line */
	size_t stride;
	int rows, lines, row, line;
};

static inline void pf_some(struct pf *f, int count)
{
	for (; count > 0 && f->row < f->rows; count--) {
		_mm_prefetch((const char *)f->p + 64 * f->line, _MM_HINT_T1);
		if (++f->line == f->lines) {
			f->line = 0;
			f->row++;
			f->p += f->stride;
		}
	}
}

/* Tiles: C(i, j) = i * 2 + j; A 4, 5; B 6, 7 (tile numbers must be
 * literals). 2 x 2 tiles of C over ns steps; per step: rests x high parts,
 * high x high, high x rests: 8 tile loads for 12 products. The two column
 * tiles' step 0 is at a0 and a1, their rows sa bytes apart. The sums go to
 * out[i] (rows ld[i] bytes apart): the scratch, or after the last chunk the
 * result itself. Each step also prefetches `per` lines of pf (a burst of
 * them after each call stalled on the fill buffers: 1.02-1.04x spread). */
AMXF static void micro(struct scratch *sc, int tt, int rt, const uint8_t *a0, const uint8_t *a1,
                       size_t sa, int ns, bool first, float *const out[4], const size_t ld[4],
                       struct pf *pf, int per)
{
	float *c0 = sc->c[tt][rt], *c1 = sc->c[tt][rt + 1];
	float *c2 = sc->c[tt + 1][rt], *c3 = sc->c[tt + 1][rt + 1];
	if (first) {
		_tile_zero(0);
		_tile_zero(1);
		_tile_zero(2);
		_tile_zero(3);
	} else {
		_tile_loadd(0, c0, 64);
		_tile_loadd(1, c1, 64);
		_tile_loadd(2, c2, 64);
		_tile_loadd(3, c3, 64);
	}
	for (int s = 0; s < ns; s++, a0 += BLKB, a1 += BLKB) {
		_tile_loadd(4, a0 + 64, sa);
		_tile_loadd(5, a1 + 64, sa);
		_tile_loadd(6, sc->w[rt][s][0], 64);
		_tile_loadd(7, sc->w[rt + 1][s][0], 64);
		_tile_dpbf16ps(0, 4, 6);
		_tile_dpbf16ps(1, 4, 7);
		_tile_dpbf16ps(2, 5, 6);
		_tile_dpbf16ps(3, 5, 7);
		pf_some(pf, per);
		_tile_loadd(4, a0, sa);
		_tile_loadd(5, a1, sa);
		_tile_dpbf16ps(0, 4, 6);
		_tile_dpbf16ps(1, 4, 7);
		_tile_dpbf16ps(2, 5, 6);
		_tile_dpbf16ps(3, 5, 7);
		_tile_loadd(6, sc->w[rt][s][1], 64);
		_tile_loadd(7, sc->w[rt + 1][s][1], 64);
		_tile_dpbf16ps(0, 4, 6);
		_tile_dpbf16ps(1, 4, 7);
		_tile_dpbf16ps(2, 5, 6);
		_tile_dpbf16ps(3, 5, 7);
	}
	_tile_stored(0, out[0], ld[0]);
	_tile_stored(1, out[1], ld[1]);
	_tile_stored(2, out[2], ld[2]);
	_tile_stored(3, out[3], ld[3]);
}

/* Whether C tile (column tile i, row tile j) is whole: such tiles go
 * straight to the result. */
static inline bool whole_tile(int i, int j, int cn, int rn)
{
	return (i + 1) * 16 <= cn && (j + 1) * 16 <= rn;
}

/* The sums of the tiles that are not whole into s (columns < cn, rows <
 * rn): in a whole row tile, the columns past the whole column tiles. */
static void store_c(const struct scratch *sc, float *s, size_t lds, int cn, int rn)
{
	for (int rt = 0; rt * 16 < rn; rt++) {
		int left = rn - rt * 16;
		const __mmask16 m = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
		for (int c = left >= 16 ? cn / 16 * 16 : 0; c < cn; c++)
			_mm512_mask_storeu_ps(s + (size_t)c * lds + 16 * rt, m,
			                      _mm512_load_ps(sc->c[c >> 4][rt] + 16 * (c & 15)));
	}
}

/* One group of rn rows x one block of cn columns, all K chunks. */
static void group(struct scratch *sc, int64_t n, int rn, int cn, float *s, size_t lds,
                  const uint16_t *w, size_t ldw, const uint8_t *a, size_t ba)
{
	const int64_t nkb = (n + 31) / 32;
	const int ntt = ((cn + 31) / 32) * 2, nrt = ((rn + 31) / 32) * 2;
	const int whole = (cn / 32) * 2; /* column tiles loaded in place */
	for (int64_t kb0 = 0; kb0 < nkb; kb0 += KCB) {
		const int ns = nkb - kb0 < KCB ? (int)(nkb - kb0) : KCB;
		pack_w(w, ldw, rn, n, kb0, ns, nrt, sc);
		if (whole < ntt)
			pack_part(a + (size_t)whole * 16 * ba, ba, cn - whole * 16, kb0, ns, sc);
		/* the next chunk's activations, a slice per tile pair */
		int64_t nx = kb0 + ns < nkb ? kb0 + ns : 0;
		int nsx = nkb - nx < KCB ? (int)(nkb - nx) : KCB;
		struct pf p = {a + (size_t)nx * BLKB, ba, cn, nsx * (BLKB / 64), 0, 0};
		const int per = (p.rows * p.lines) / ((ntt / 2) * (nrt / 2)) + 1;
		for (int tt = 0; tt < ntt; tt += 2) {
			const uint8_t *a0 = a + (size_t)tt * 16 * ba + (size_t)kb0 * BLKB;
			size_t sa = ba;
			if (tt >= whole) {
				a0 = sc->part[0];
				sa = PARTB;
			}
			for (int rt = 0; rt < nrt; rt += 2) {
				float *out[4];
				size_t ld[4];
				for (int i = 0; i < 4; i++) {
					const int ti = tt + (i >> 1), tj = rt + (i & 1);
					const bool direct =
					    kb0 + ns == nkb && whole_tile(ti, tj, cn, rn);
					out[i] = direct
					             ? s + (size_t)ti * 16 * lds + (size_t)tj * 16
					             : sc->c[ti][tj];
					ld[i] = direct ? lds * sizeof(float) : 64;
				}
				micro(sc, tt, rt, a0, a0 + 16 * sa, sa, ns, kb0 == 0, out, ld, &p,
				      (per + ns - 1) / ns);
			}
		}
	}
	store_c(sc, s, lds, cn, rn);
}

/* s[c * lds + r] = dot(weight row r, activation row c) for r < nr, c < nc
 * (the AMX tile state granted): F16 rows w (ldw elements apart),
 * activations prepared by quant__f16x_act_prepare (ba bytes apart).
 * False when the thread's scratch cannot be allocated (nothing written). */
bool quant__amx_f16(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const uint16_t *w,
                    size_t ldw, const uint8_t *a, size_t ba)
{
	struct scratch *sc = scratch();
	if (!sc)
		return false;
	quant__amx_use(QUANT_AMX_BF16);
	for (int64_t c0 = 0; c0 < nc; c0 += TB) {
		const int cn = nc - c0 < TB ? (int)(nc - c0) : TB;
		for (int64_t r0 = 0; r0 < nr; r0 += RG) {
			const int rn = nr - r0 < RG ? (int)(nr - r0) : RG;
			group(sc, n, rn, cn, s + (size_t)c0 * lds + r0, lds, w + (size_t)r0 * ldw,
			      ldw, a + (size_t)c0 * ba, ba);
		}
	}
	return true;
}

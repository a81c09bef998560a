/* quant_amxf_avx512.c — F16 and BF16 prefill on AMX-BF16 (TDPBF16PS).
 * BF16: weights and bf16-rounded activations are bfloat16 already, and a
 * 32-element step is one product, each term exact; only the f32 sum order
 * differs from the FMA path (quant_gemmf_avx512.c). F16: a value is exactly
 * hi + lo, both bfloat16, as are llama.cpp's F16-rounded activations; a
 * step adds w_hi*a_hi + w_lo*a_hi + w_hi*a_lo, all products but w_lo*a_lo
 * (<= 2^-16 |w*a|); an infinite operand gives NaN sums (inf * the other's
 * zero low part). Bounds: quant_gemm_test. The tile unit reads bf16
 * subnormals as zero. Activations are prepared once into rows the tile
 * loads read in place; weights are transposed (and split) per row group.
 * The element kind is the constant P of the helpers: parts per value, 2
 * for F16 (hi, lo), 1 for BF16. */
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/quant_avx512.h"

/* WT: B tiles per row tile and packed chunk; KCB: 32-element blocks per
 * packed chunk, F16 4 (128 elements, two tiles each), BF16 8 (256; 4:
 * 0.94x, 16: 0.80x on BF16 pp512) */
#define AMXF     __attribute__((target("amx-tile,amx-bf16,avx512bf16")))
#define AI       static inline __attribute__((always_inline))
#define RG       256 /* weight rows per packed group */
#define WT       8
#define KCB(P)   (WT / (P))
#define TILE     1024
#define BLKB(P)  (64 * (P)) /* prepared bytes per 32-element block */
#define UNROLL16 _Pragma("GCC unroll 16")

static_assert(BLKB(2) == QUANT_F16X_BLOCK, "the F16 form the FMA path reads");

/* A prepared row: per 32-element block the 32 bf16 values (BF16) or high
 * parts then the 32 rests (F16), 64 bytes each, zeros past n; then one or
 * two spare lines, so rows are an odd number of lines apart and the 16
 * rows of a tile load fall in different L1 sets. */
static size_t act_bytes(int64_t n, int P)
{
	return (size_t)((P * ((n + 31) / 32) + 1) | 1) * 64;
}

size_t quant__f16x_act_bytes(int64_t n)
{
	return act_bytes(n, 2);
}

size_t quant__bf16x_act_bytes(int64_t n)
{
	return act_bytes(n, 1);
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

/* The load masks of a block's two halves, `left` elements before n. */
AI void masks(int64_t left, __mmask16 *m0, __mmask16 *m1)
{
	*m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
	*m1 = left >= 32 ? 0xFFFF : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
}

/* x rounded to F16 (nearest even: llama.cpp's F16 vec_dot_type), split
 * into the prepared row's blocks. */
AMXF void quant__f16x_act_prepare(const float *x, void *vy, int64_t n)
{
	uint8_t *y = vy;
	for (int64_t k = 0; k < n; k += 32, y += BLKB(2)) {
		__mmask16 m0, m1;
		masks(n - k, &m0, &m1);
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

/* 16 values rounded as f32_to_bf16, packed to their 16 bf16 halves. */
AI __m256i bf16x16(__m512 x)
{
	return _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(round_bf16(x)), 16));
}

/* x rounded to bf16 (f32_to_bf16: BF16's vec_dot_type), in blocks of 32. */
void quant__bf16x_act_prepare(const float *x, void *vy, int64_t n)
{
	uint8_t *y = vy;
	for (int64_t k = 0; k < n; k += 32, y += BLKB(1)) {
		__mmask16 m0, m1;
		masks(n - k, &m0, &m1);
		_mm256_storeu_si256((__m256i *)y, bf16x16(_mm512_maskz_loadu_ps(m0, x + k)));
		_mm256_storeu_si256((__m256i *)(y + 32),
		                    bf16x16(_mm512_maskz_loadu_ps(m1, x + k + 16)));
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

/* Per K chunk (KCB blocks), the weights of a group of RG rows are packed
 * into 1 KiB tiles in a per-thread scratch (allocated once per thread,
 * freed at its exit), next to the f32 sums of the group x column block,
 * all L2-sized together; the activation tiles are loaded from the prepared
 * rows, except a last pair of column tiles the block does not fill, which
 * is copied (zeros past the block). Tile (i, t): row tile i, for BF16 step
 * t, for F16 step t / 2's high parts (t even) or rests. */
#define TB    512
#define PARTB (WT * 64 + 64) /* bytes between the copied columns */
struct scratch {
	uint8_t w[RG / 16][WT][TILE];   /* B tiles: row j = dword j of the 16 rows */
	float c[TB / 16][RG / 16][256]; /* C tiles: row t = column t's 16 sums */
	uint8_t part[32][PARTB];        /* the copied columns, as prepared rows */
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
AMXF AI void pack_w(const uint16_t *w, size_t ldw, int rn, int64_t n, int64_t kb0, int ns, int nt,
                    struct scratch *sc, const int P)
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
					_mm_prefetch((const char *)(p + KCB(P) * 32), _MM_HINT_T1);
					raw[r] = _mm512_maskz_loadu_epi16(km, p);
				} else {
					raw[r] = _mm512_setzero_si512();
				}
			}
			/* transposed first (pairs of values are the dwords), then
			 * split in place: the split keeps every value's position */
			transpose16(raw, t);
			UNROLL16 for (int j = 0; j < 16; j++)
			{
				if (P == 1) {
					_mm512_store_si512(sc->w[rt][s] + 64 * j, t[j]);
					continue;
				}
				__m512i hi, lo;
				split16(t[j], &hi, &lo);
				_mm512_store_si512(sc->w[rt][2 * s] + 64 * j, hi);
				_mm512_store_si512(sc->w[rt][2 * s + 1] + 64 * j, lo);
			}
		}
}

/* Prepared columns [0, cn) (ba bytes apart) x blocks [kb0, kb0 + ns) into
 * the scratch's 32 copied columns; zeros past cn. */
static void pack_part(const uint8_t *a, size_t ba, int cn, int64_t kb0, int ns, struct scratch *sc,
                      int P)
{
	for (int t = 0; t < 32; t++) {
		if (t < cn)
			memcpy(sc->part[t], a + (size_t)t * ba + (size_t)kb0 * BLKB(P),
			       (size_t)ns * BLKB(P));
		else
			memset(sc->part[t], 0, (size_t)ns * BLKB(P));
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
 * literals). 2 x 2 tiles of C over ns steps; per step, BF16: values x
 * values, 4 tile loads for 4 products; F16: rests x high parts, high x
 * high, high x rests, 8 tile loads for 12 products. The two column
 * tiles' step 0 is at a0 and a1, their rows sa bytes apart. The sums go to
 * out[i] (rows ld[i] bytes apart): the scratch, or after the last chunk the
 * result itself. Each step also prefetches `per` lines of pf (a burst of
 * them after each call stalled on the fill buffers: 1.02-1.04x spread). */
AMXF AI void micro(struct scratch *sc, int tt, int rt, const uint8_t *a0, const uint8_t *a1,
                   size_t sa, int ns, bool first, float *const out[4], const size_t ld[4],
                   struct pf *pf, int per, const int P)
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
	for (int s = 0; s < ns; s++, a0 += BLKB(P), a1 += BLKB(P)) {
		if (P == 1) {
			_tile_loadd(4, a0, sa);
			_tile_loadd(5, a1, sa);
			_tile_loadd(6, sc->w[rt][s], 64);
			_tile_loadd(7, sc->w[rt + 1][s], 64);
			_tile_dpbf16ps(0, 4, 6);
			_tile_dpbf16ps(1, 4, 7);
			_tile_dpbf16ps(2, 5, 6);
			_tile_dpbf16ps(3, 5, 7);
			pf_some(pf, per);
			continue;
		}
		_tile_loadd(4, a0 + 64, sa);
		_tile_loadd(5, a1 + 64, sa);
		_tile_loadd(6, sc->w[rt][2 * s], 64);
		_tile_loadd(7, sc->w[rt + 1][2 * s], 64);
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
		_tile_loadd(6, sc->w[rt][2 * s + 1], 64);
		_tile_loadd(7, sc->w[rt + 1][2 * s + 1], 64);
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
AMXF AI void group(struct scratch *sc, int64_t n, int rn, int cn, float *s, size_t lds,
                   const uint16_t *w, size_t ldw, const uint8_t *a, size_t ba, const int P)
{
	const int64_t nkb = (n + 31) / 32;
	const int ntt = ((cn + 31) / 32) * 2, nrt = ((rn + 31) / 32) * 2;
	const int whole = (cn / 32) * 2; /* column tiles loaded in place */
	for (int64_t kb0 = 0; kb0 < nkb; kb0 += KCB(P)) {
		const int ns = nkb - kb0 < KCB(P) ? (int)(nkb - kb0) : KCB(P);
		pack_w(w, ldw, rn, n, kb0, ns, nrt, sc, P);
		if (whole < ntt)
			pack_part(a + (size_t)whole * 16 * ba, ba, cn - whole * 16, kb0, ns, sc, P);
		/* the next chunk's activations, a slice per tile pair */
		int64_t nx = kb0 + ns < nkb ? kb0 + ns : 0;
		int nsx = nkb - nx < KCB(P) ? (int)(nkb - nx) : KCB(P);
		struct pf p = {a + (size_t)nx * BLKB(P), ba, cn, nsx * P, 0, 0};
		const int per = (p.rows * p.lines) / ((ntt / 2) * (nrt / 2)) + 1;
		for (int tt = 0; tt < ntt; tt += 2) {
			const uint8_t *a0 = a + (size_t)tt * 16 * ba + (size_t)kb0 * BLKB(P);
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
				      (per + ns - 1) / ns, P);
			}
		}
	}
	store_c(sc, s, lds, cn, rn);
}

/* s[c * lds + r] = dot(weight row r, activation row c) for r < nr, c < nc
 * (the AMX tile state granted), for weights of P parts. */
AMXF AI bool gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const uint16_t *w,
                  size_t ldw, const uint8_t *a, size_t ba, const int P)
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
			      ldw, a + (size_t)c0 * ba, ba, P);
		}
	}
	return true;
}

AMXF bool quant__amx_f16_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds,
                              const uint16_t *w, size_t ldw, const uint8_t *a, size_t ba)
{
	return gemm(n, nr, nc, s, lds, w, ldw, a, ba, 2);
}

AMXF bool quant__amx_bf16_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds,
                               const uint16_t *w, size_t ldw, const uint8_t *a, size_t ba)
{
	return gemm(n, nr, nc, s, lds, w, ldw, a, ba, 1);
}

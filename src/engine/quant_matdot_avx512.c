/* quant_matdot_avx512.c — AVX-512/VNNI tile kernels (quant_mat_dot_fn):
 * nr weight rows against up to 4 activation rows at a time. Each weight
 * block is unpacked once for all the activation rows; for Q4_0/Q5_0/Q8_0
 * the activation side (block pairs in one register, their scales, and the
 * code offset times the activations, pre-scaled) is prepared once per
 * chunk for all weight rows. K-quant tiles keep the reference's per-block
 * float expression, so they equal quant_kquants_ref.c bit for bit. */
#include "engine/quant_avx512.h"

#define MD_COLS  4
#define MD_PAIRS 32 /* block pairs per prepared activation chunk */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- Q4_0, Q5_0, Q8_0 x Q8_0 */

struct ychunk {
	__m512i y[MD_PAIRS]; /* the 64 activations of blocks 2k, 2k+1 */
	__m512 ys[MD_PAIRS]; /* [d_2k x8 | d_2k+1 x8] */
	__m512 yo[MD_PAIRS]; /* ys * (off . y): the code offset's share */
};

static void prep(const struct block_q8_0 *y, int64_t p0, int np, int off, struct ychunk *o)
{
	const __m512i offv = _mm512_set1_epi8((char)off);
	for (int k = 0; k < np; k++) {
		int64_t i = 2 * (p0 + k);
		__m512i v = pair256(y[i].qs, y[i + 1].qs);
		__m512 ys = halves2(y[i].d, y[i + 1].d);
		__m512i ov = _mm512_dpbusd_epi32(_mm512_setzero_si512(), offv, v);
		o->y[k] = v;
		o->ys[k] = ys;
		o->yo[k] = _mm512_mul_ps(_mm512_cvtepi32_ps(ov), ys);
	}
}

/* acc += ((codes . y) * ys - yo) * xs, for one prepared column */
#define LSTEP(acc, codes, xs, ch, k)                                                               \
	acc = _mm512_fmadd_ps(_mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(              \
	                                          _mm512_setzero_si512(), (codes), (ch).y[k])),    \
	                                      (ch).ys[k], (ch).yo[k]),                             \
	                      (xs), acc)

#define Q4_CODES(xr, i) nibbles2(xr[i].qs, xr[i + 1].qs)
#define Q5_CODES(xr, i)                                                                            \
	_mm512_or_si512(nibbles2(xr[i].qs, xr[i + 1].qs), high_bits2(xr[i].qh, xr[i + 1].qh))
#define Q8_CODES(xr, i)                                                                            \
	_mm512_xor_si512(pair256(xr[i].qs, xr[i + 1].qs), _mm512_set1_epi8((char)0x80))
#define Q4_CODES1(b) nibbles1((b)->qs)
#define Q5_CODES1(b) _mm256_or_si256(nibbles1((b)->qs), high_bits1((b)->qh))
#define Q8_CODES1(b) _mm256_xor_si256(load256((b)->qs), _mm256_set1_epi8((char)0x80))

/* The rows kernel of one type for a fixed column count (inlined per count
 * so the accumulators stay in registers), two pairs per step. */
#define LEGACY_ROWS(name, TX, CODES)                                                               \
	ALWAYS_INLINE void name(const uint8_t *x, size_t bx, int64_t nr, int64_t p0, int np,       \
	                        const struct ychunk *ch, float *s, size_t lds, const int cols)     \
	{                                                                                          \
		for (int64_t r = 0; r < nr; r++) {                                                 \
			const TX *xr = (const TX *)(x + r * bx);                                   \
			__m512 a0[MD_COLS], a1[MD_COLS];                                           \
			for (int c = 0; c < cols; c++)                                             \
				a0[c] = a1[c] = _mm512_setzero_ps();                               \
			int k = 0;                                                                 \
			for (; k + 1 < np; k += 2) {                                               \
				int64_t i = 2 * (p0 + k);                                          \
				__m512i c0 = CODES(xr, i), c1 = CODES(xr, i + 2);                  \
				__m512 x0 = halves2(xr[i].d, xr[i + 1].d);                         \
				__m512 x1 = halves2(xr[i + 2].d, xr[i + 3].d);                     \
				for (int c = 0; c < cols; c++) {                                   \
					LSTEP(a0[c], c0, x0, ch[c], k);                            \
					LSTEP(a1[c], c1, x1, ch[c], k + 1);                        \
				}                                                                  \
			}                                                                          \
			if (k < np) {                                                              \
				int64_t i = 2 * (p0 + k);                                          \
				__m512i c0 = CODES(xr, i);                                         \
				__m512 x0 = halves2(xr[i].d, xr[i + 1].d);                         \
				for (int c = 0; c < cols; c++)                                     \
					LSTEP(a0[c], c0, x0, ch[c], k);                            \
			}                                                                          \
			for (int c = 0; c < cols; c++)                                             \
				s[c * lds + r] +=                                                  \
				    _mm512_reduce_add_ps(_mm512_add_ps(a0[c], a1[c]));             \
		}                                                                                  \
	}

/* The whole tile: columns by 4, activation chunks, then the odd block. */
#define LEGACY_MATDOT(name, rows, TX, QK, OFF, CODES1)                                             \
	static void name(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *vx,  \
	                 size_t bx, const void *vy, size_t by)                                     \
	{                                                                                          \
		struct ychunk ch[MD_COLS];                                                         \
		const int64_t nb = n / (QK), npairs = nb / 2;                                      \
		for (int64_t c0 = 0; c0 < nc; c0 += MD_COLS) {                                     \
			const int cols = nc - c0 < MD_COLS ? (int)(nc - c0) : MD_COLS;             \
			float *sc = s + c0 * lds;                                                  \
			const uint8_t *yc = (const uint8_t *)vy + c0 * by;                         \
			for (int c = 0; c < cols; c++)                                             \
				memset(sc + c * lds, 0, (size_t)nr * sizeof *s);                   \
			for (int64_t p0 = 0; p0 < npairs; p0 += MD_PAIRS) {                        \
				int np = npairs - p0 < MD_PAIRS ? (int)(npairs - p0) : MD_PAIRS;   \
				for (int c = 0; c < cols; c++)                                     \
					prep((const void *)(yc + c * by), p0, np, OFF, &ch[c]);    \
				switch (cols) {                                                    \
				case 1: rows(vx, bx, nr, p0, np, ch, sc, lds, 1); break;           \
				case 2: rows(vx, bx, nr, p0, np, ch, sc, lds, 2); break;           \
				case 3: rows(vx, bx, nr, p0, np, ch, sc, lds, 3); break;           \
				default: rows(vx, bx, nr, p0, np, ch, sc, lds, 4); break;          \
				}                                                                  \
			}                                                                          \
			if (nb % 2)                                                                \
				odd_block(nb - 1, nr, cols, sc, lds, vx, bx, yc, by, sizeof(TX),   \
				          OFF, CODES1##_fn);                                       \
		}                                                                                  \
	}

typedef __m256i (*codes1_fn)(const void *block);

/* The last block of an odd count, one (row, column) at a time. */
static void odd_block(int64_t i, int64_t nr, int cols, float *s, size_t lds, const void *vx,
                      size_t bx, const uint8_t *y, size_t by, size_t tsize, int off,
                      codes1_fn codes)
{
	const __m256i offv = _mm256_set1_epi8((char)off);
	for (int64_t r = 0; r < nr; r++) {
		const uint8_t *xb = (const uint8_t *)vx + r * bx + i * tsize;
		uint16_t xd;
		memcpy(&xd, xb, 2); /* every legacy block starts with its f16 scale */
		__m256i cd = codes(xb);
		for (int c = 0; c < cols; c++) {
			const struct block_q8_0 *yb = (const void *)(y + c * by);
			__m256 p = dot1(cd, yb[i].qs, offv, 1);
			s[c * lds + r] +=
			    hsum256(p) * (quant__fp16_table[xd] * quant__fp16_table[yb[i].d]);
		}
	}
}

static __m256i Q4_CODES1_fn(const void *b)
{
	return Q4_CODES1((const struct block_q4_0 *)b);
}

static __m256i Q5_CODES1_fn(const void *b)
{
	return Q5_CODES1((const struct block_q5_0 *)b);
}

static __m256i Q8_CODES1_fn(const void *b)
{
	return Q8_CODES1((const struct block_q8_0 *)b);
}

LEGACY_ROWS(q4_0_rows, struct block_q4_0, Q4_CODES)
LEGACY_ROWS(q5_0_rows, struct block_q5_0, Q5_CODES)
LEGACY_ROWS(q8_0_rows, struct block_q8_0, Q8_CODES)
LEGACY_MATDOT(q4_0_mat_dot, q4_0_rows, struct block_q4_0, QK4_0, 8, Q4_CODES1)
LEGACY_MATDOT(q5_0_mat_dot, q5_0_rows, struct block_q5_0, QK5_0, 16, Q5_CODES1)
LEGACY_MATDOT(q8_0_mat_dot, q8_0_rows, struct block_q8_0, QK8_0, 0x80, Q8_CODES1)

/* ---- K-quants x Q8_K: per weight block, the codes and scale vectors
 * once, then each column's integer sums and the reference's float step. */

ALWAYS_INLINE void q4_K_rows(int64_t nb, int64_t nr, float *s, size_t lds, const uint8_t *x,
                             size_t bx, const uint8_t *y, size_t by, const int cols)
{
	uint8_t sm[16];
	for (int64_t r = 0; r < nr; r++) {
		const struct block_q4_K *xr = (const void *)(x + r * bx);
		float sum[MD_COLS] = {0};
		for (int64_t i = 0; i < nb; i++) {
			quant_k4_scales(xr[i].scales, sm);
			__m512i sc16 = _mm512_castsi128_si512(
			    _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sm)));
			__m512i codes[4], sv[4];
			for (int c = 0; c < 4; c++) {
				codes[c] = nibbles64(xr[i].qs + 32 * c);
				sv[c] = _mm512_permutexvar_epi16(quant__idx32.v[c], sc16);
			}
			float xd = quant__fp16_table[xr[i].d], xm = quant__fp16_table[xr[i].dmin];
			for (int c = 0; c < cols; c++) {
				const struct block_q8_K *yb = (const void *)(y + c * by);
				yb += i;
				int summs = k4_summs(yb, sm + 8);
				__m512i acc = _mm512_setzero_si512();
				for (int k = 0; k < 4; k++)
					acc = _mm512_dpwssd_epi32(
					    acc,
					    _mm512_maddubs_epi16(codes[k],
					                         load512(yb->qs + 64 * k)),
					    sv[k]);
				int isum = _mm512_reduce_add_epi32(acc);
				float d = yb->d * xd, dmin = yb->d * xm;
				sum[c] += d * (float)isum - dmin * (float)summs;
			}
		}
		for (int c = 0; c < cols; c++)
			s[c * lds + r] = sum[c];
	}
}

ALWAYS_INLINE void q6_K_rows(int64_t nb, int64_t nr, float *s, size_t lds, const uint8_t *x,
                             size_t bx, const uint8_t *y, size_t by, const int cols)
{
	const __m512i m4 = _mm512_set1_epi8(0xF), m3 = _mm512_set1_epi8(3);
	for (int64_t r = 0; r < nr; r++) {
		const struct block_q6_K *xr = (const void *)(x + r * bx);
		float sum[MD_COLS] = {0};
		for (int64_t i = 0; i < nb; i++) {
			__m256i sc16y =
			    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)xr[i].scales));
			__m512i sc16 = _mm512_castsi256_si512(sc16y);
			__m512i codes[4], sv[4];
			for (int h = 0; h < 2; h++) {
				__m512i ql = load512(xr[i].ql + 64 * h);
				__m512i qh = dup256(xr[i].qh + 32 * h);
				__m512i a = _mm512_and_si512(ql, m4);
				__m512i b = _mm512_and_si512(_mm512_srli_epi16(ql, 4), m4);
				codes[2 * h] =
				    _mm512_or_si512(a, _mm512_slli_epi16(shift2(qh, 0, 2, m3), 4));
				codes[2 * h + 1] =
				    _mm512_or_si512(b, _mm512_slli_epi16(shift2(qh, 4, 6, m3), 4));
				sv[2 * h] = _mm512_permutexvar_epi16(quant__idx16.v[2 * h], sc16);
				sv[2 * h + 1] =
				    _mm512_permutexvar_epi16(quant__idx16.v[2 * h + 1], sc16);
			}
			float xd = quant__fp16_table[xr[i].d];
			for (int c = 0; c < cols; c++) {
				const struct block_q8_K *yb = (const void *)(y + c * by);
				yb += i;
				int corr = bsum_dot(yb->bsums, sc16y);
				__m512i acc = _mm512_setzero_si512();
				for (int k = 0; k < 4; k++)
					acc = _mm512_dpwssd_epi32(
					    acc,
					    _mm512_maddubs_epi16(codes[k],
					                         load512(yb->qs + 64 * k)),
					    sv[k]);
				int isum = _mm512_reduce_add_epi32(acc) - 32 * corr;
				sum[c] += yb->d * xd * (float)isum;
			}
		}
		for (int c = 0; c < cols; c++)
			s[c * lds + r] = sum[c];
	}
}

#define K_MATDOT(name, rows)                                                                       \
	static void name(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const void *vx,  \
	                 size_t bx, const void *vy, size_t by)                                     \
	{                                                                                          \
		for (int64_t c0 = 0; c0 < nc; c0 += MD_COLS) {                                     \
			const int cols = nc - c0 < MD_COLS ? (int)(nc - c0) : MD_COLS;             \
			float *sc = s + c0 * lds;                                                  \
			const uint8_t *yc = (const uint8_t *)vy + c0 * by;                         \
			switch (cols) {                                                            \
			case 1: rows(n / QK_K, nr, sc, lds, vx, bx, yc, by, 1); break;             \
			case 2: rows(n / QK_K, nr, sc, lds, vx, bx, yc, by, 2); break;             \
			case 3: rows(n / QK_K, nr, sc, lds, vx, bx, yc, by, 3); break;             \
			default: rows(n / QK_K, nr, sc, lds, vx, bx, yc, by, 4); break;            \
			}                                                                          \
		}                                                                                  \
	}

K_MATDOT(q4_K_mat_dot, q4_K_rows)
K_MATDOT(q6_K_mat_dot, q6_K_rows)

void quant__fill_matdot_avx512(struct quant_traits *t)
{
	t[GGML_TYPE_Q4_0].mat_dot = q4_0_mat_dot;
	t[GGML_TYPE_Q5_0].mat_dot = q5_0_mat_dot;
	t[GGML_TYPE_Q8_0].mat_dot = q8_0_mat_dot;
	t[GGML_TYPE_Q4_K].mat_dot = q4_K_mat_dot;
	t[GGML_TYPE_Q6_K].mat_dot = q6_K_mat_dot;
}

/* quant_legacy_avx512.c — AVX-512 (F/BW/VL/DQ + VNNI) kernels for the float
 * types and the 32-element block types. Two blocks per 512-bit step: the
 * weight codes as unsigned bytes, vpdpbusd against the int8 activations,
 * and the code offset (8, 16, or 128 for Q8_0's sign flip) taken back out
 * with a second vpdpbusd of the offset. An odd last block takes a 256-bit
 * tail. Tested against quant_legacy_ref.c; only float order differs. */
#include "engine/quant_avx512.h"

static inline float h2f(uint16_t h)
{
	return _cvtsh_ss(h);
}

/* ---- float types: four 16-wide FMA chains, then 8-wide, then scalar
 * (BF16's dot, one chain like its gemm, is in quant_gemmf_avx512.c) */

#define FLOAT_DOT(name, T, load16, tofloat)                                                        \
	static void name(int64_t n, float *s, const void *vx, const void *vy)                      \
	{                                                                                          \
		const T *x = vx, *y = vy;                                                          \
		__m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),    \
		                 _mm512_setzero_ps()};                                             \
		int64_t i = 0;                                                                     \
		for (; i + 64 <= n; i += 64)                                                       \
			for (int k = 0; k < 4; k++)                                                \
				acc[k] = _mm512_fmadd_ps(load16(x + i + 16 * k),                   \
				                         load16(y + i + 16 * k), acc[k]);          \
		for (; i + 16 <= n; i += 16)                                                       \
			acc[0] = _mm512_fmadd_ps(load16(x + i), load16(y + i), acc[0]);            \
		float sum = _mm512_reduce_add_ps(                                                  \
		    _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));  \
		for (; i < n; i++)                                                                 \
			sum += tofloat(x[i]) * tofloat(y[i]);                                      \
		*s = sum;                                                                          \
	}

static inline __m512 load_f32(const float *p)
{
	return _mm512_loadu_ps(p);
}

static inline float id_f32(float f)
{
	return f;
}

static inline __m512 load_f16(const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

FLOAT_DOT(f32_vec_dot, float, load_f32, id_f32)
FLOAT_DOT(f16_vec_dot, uint16_t, load_f16, h2f)

/* ---- block types: pairs of blocks, then one 256-bit block */

/* One function per type: the pair loop, then the odd block. CODES2/CODES1
 * build the unsigned codes of blocks (i, i+1) / i; OFF is the code offset;
 * MIN adds the per-block m * s term of the _1 types (0 otherwise). */
#define BLOCK_DOT(name, TX, TY, QK, OFF, CODES2, CODES1, MIN)                                      \
	static void name(int64_t n, float *s, const void *vx, const void *vy)                      \
	{                                                                                          \
		const TX *x = vx;                                                                  \
		const TY *y = vy;                                                                  \
		const __m512i off = _mm512_set1_epi8((char)(OFF));                                 \
		const int has_off = (OFF) != 0;                                                    \
		__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                     \
		float summs = 0;                                                                   \
		int64_t nb = n / (QK), i = 0;                                                      \
		for (; i + 3 < nb; i += 4) {                                                       \
			acc0 = PAIR_STEP(acc0, CODES2, OFF_Y);                                     \
			summs += MIN(i) + MIN(i + 1);                                              \
			i += 2;                                                                    \
			acc1 = PAIR_STEP(acc1, CODES2, OFF_Y);                                     \
			summs += MIN(i) + MIN(i + 1);                                              \
			i -= 2;                                                                    \
		}                                                                                  \
		for (; i + 1 < nb; i += 2) {                                                       \
			acc0 = PAIR_STEP(acc0, CODES2, OFF_Y);                                     \
			summs += MIN(i) + MIN(i + 1);                                              \
		}                                                                                  \
		float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));                       \
		if (i < nb) {                                                                      \
			__m256 p = dot1(CODES1, y[i].qs, _mm256_set1_epi8((char)(OFF)), has_off);  \
			sum +=                                                                     \
			    hsum256(p) * (quant__fp16_table[x[i].d] * quant__fp16_table[y[i].d]);  \
			summs += MIN(i);                                                           \
		}                                                                                  \
		*s = sum + summs;                                                                  \
	}

/* acc += float(codes . y - off . y) * [d_i | d_i+1] for blocks i, i+1 */
#define OFF_Y pair256(y[i].qs, y[i + 1].qs), off, has_off
#define PAIR_STEP(acc, codes, yoff)                                                                \
	_mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_off(codes, yoff)),                                  \
	                _mm512_mul_ps(halves2(x[i].d, x[i + 1].d), halves2(y[i].d, y[i + 1].d)),   \
	                acc)

#define NO_MIN(i)   0.0f
#define WITH_MIN(i) (quant__fp16_table[x[i].m] * quant__fp16_table[y[i].s])

#define Q4_CODES2 nibbles2(x[i].qs, x[i + 1].qs)
#define Q4_CODES1 nibbles1(x[i].qs)
#define Q5_CODES2 _mm512_or_si512(nibbles2(x[i].qs, x[i + 1].qs), high_bits2(x[i].qh, x[i + 1].qh))
#define Q5_CODES1 _mm256_or_si256(nibbles1(x[i].qs), high_bits1(x[i].qh))
#define Q8_CODES2 _mm512_xor_si512(pair256(x[i].qs, x[i + 1].qs), _mm512_set1_epi8((char)0x80))
#define Q8_CODES1                                                                                  \
	_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x[i].qs), _mm256_set1_epi8((char)0x80))

BLOCK_DOT(q4_0_vec_dot, struct block_q4_0, struct block_q8_0, QK4_0, 8, Q4_CODES2, Q4_CODES1,
          NO_MIN)
BLOCK_DOT(q4_1_vec_dot, struct block_q4_1, struct block_q8_1, QK4_1, 0, Q4_CODES2, Q4_CODES1,
          WITH_MIN)
BLOCK_DOT(q5_0_vec_dot, struct block_q5_0, struct block_q8_0, QK5_0, 16, Q5_CODES2, Q5_CODES1,
          NO_MIN)
BLOCK_DOT(q5_1_vec_dot, struct block_q5_1, struct block_q8_1, QK5_1, 0, Q5_CODES2, Q5_CODES1,
          WITH_MIN)
BLOCK_DOT(q8_0_vec_dot, struct block_q8_0, struct block_q8_0, QK8_0, 0x80, Q8_CODES2, Q8_CODES1,
          NO_MIN)

/* ---- activations to Q8_0 (same rounding as quant_q8_0_from_float_ref) */

static void q8_0_from_float(const float *x, void *vy, int64_t n)
{
	struct block_q8_0 *y = vy;
	for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
		__m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
		float amax =
		    _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
		float id = amax != 0.0f ? 127.f / amax : 0.0f;
		y[i].d = f32_to_fp16(amax / 127.f);
		__m512 m = _mm512_set1_ps(id);
		/* cvtps rounds half to even in the default MXCSR mode */
		__m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, m));
		__m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, m));
		_mm_storeu_si128((__m128i *)y[i].qs, _mm512_cvtsepi32_epi8(qa));
		_mm_storeu_si128((__m128i *)(y[i].qs + 16), _mm512_cvtsepi32_epi8(qb));
	}
}

void quant__fill_legacy_avx512(struct quant_traits *t)
{
	t[GGML_TYPE_F32].vec_dot = f32_vec_dot;
	t[GGML_TYPE_F16].vec_dot = f16_vec_dot;
	t[GGML_TYPE_Q4_0].vec_dot = q4_0_vec_dot;
	t[GGML_TYPE_Q4_1].vec_dot = q4_1_vec_dot;
	t[GGML_TYPE_Q5_0].vec_dot = q5_0_vec_dot;
	t[GGML_TYPE_Q5_1].vec_dot = q5_1_vec_dot;
	t[GGML_TYPE_Q8_0].vec_dot = q8_0_vec_dot;
	t[GGML_TYPE_Q8_0].from_float = q8_0_from_float;
}

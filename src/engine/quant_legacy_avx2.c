/* quant_legacy_avx2.c — AVX2+FMA+F16C kernels for the float types and the
 * 32-element block types: dot products F32 (F16's and BF16's are in
 * quant_gemmf_avx2.c), Q4_0/Q5_0/Q8_0 x Q8_0, Q4_1/Q5_1 x Q8_1, and the
 * activation converters to Q8_0/Q8_1/F16. Each is tested against its
 * scalar reference (quant_legacy_ref.c); block sums are exact integers,
 * only the float accumulation order differs. Built with -mavx2 -mfma
 * -mf16c; chosen at run time by quant.c. */
#include "engine/quant_internal.h"

#include <immintrin.h>

static inline float hsum_ps(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline float h2f(uint16_t h)
{
	return _cvtsh_ss(h);
}

/* Eight int32 sums of products of signed bytes x and y (|x| <= 128). */
static inline __m256i dot_s8(__m256i x, __m256i y)
{
	__m256i ax = _mm256_sign_epi8(x, x);
	__m256i sy = _mm256_sign_epi8(y, x);
	return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

/* The same for unsigned x (0..31). */
static inline __m256i dot_u8(__m256i x, __m256i y)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1));
}

/* 32 nibbles of a 16-byte q4 array in element order (low nibbles first):
 * the bytes in both lanes, the upper lane shifted by 4. */
static inline __m256i nibbles(const uint8_t *qs)
{
	__m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
	v = _mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4));
	return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/* Byte i is 0x10 where bit i of the 32-bit little-endian qh is set. */
static inline __m256i high_bits(const uint8_t qh4[4])
{
	uint32_t qh;
	memcpy(&qh, qh4, 4);
	const __m256i shuf =
	    _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL);
	const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
	__m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
	v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
	return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

static inline __m256i load256(const void *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

/* ---- float types */

static void f32_vec_dot(int64_t n, float *s, const void *vx, const void *vy)
{
	const float *x = vx, *y = vy;
	__m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
	                 _mm256_setzero_ps()};
	int64_t i = 0;
	for (; i + 32 <= n; i += 32)
		for (int k = 0; k < 4; k++)
			acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * k),
			                         _mm256_loadu_ps(y + i + 8 * k), acc[k]);
	for (; i + 8 <= n; i += 8)
		acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
	float sum =
	    hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
	for (; i < n; i++)
		sum += x[i] * y[i];
	*s = sum;
}

static inline __m256 load_f16(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static void f16_from_float(const float *x, void *vy, int64_t n)
{
	uint16_t *y = vy;
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i),
		                                                     _MM_FROUND_TO_NEAREST_INT));
	for (; i < n; i++)
		y[i] = f32_to_fp16(x[i]);
}

static void f16_to_float(const void *vx, float *y, int64_t n)
{
	const uint16_t *x = vx;
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, load_f16(x + i));
	for (; i < n; i++)
		y[i] = fp16_to_f32(x[i]);
}

/* ---- block types x Q8_0 / Q8_1: the exact int32 sums of one block as
 * floats; the loop scales them by d_x * d_y into two named accumulators
 * (an indexed pair would live in memory) and adds the m * s terms. */

static inline __m256 q4_0_block(const struct block_q4_0 *x, const struct block_q8_0 *y)
{
	__m256i q = _mm256_sub_epi8(nibbles(x->qs), _mm256_set1_epi8(8));
	return _mm256_cvtepi32_ps(dot_s8(q, load256(y->qs)));
}

static inline __m256 q4_1_block(const struct block_q4_1 *x, const struct block_q8_1 *y)
{
	return _mm256_cvtepi32_ps(dot_u8(nibbles(x->qs), load256(y->qs)));
}

static inline __m256 q5_0_block(const struct block_q5_0 *x, const struct block_q8_0 *y)
{
	__m256i q = _mm256_or_si256(nibbles(x->qs), high_bits(x->qh));
	q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
	return _mm256_cvtepi32_ps(dot_s8(q, load256(y->qs)));
}

static inline __m256 q5_1_block(const struct block_q5_1 *x, const struct block_q8_1 *y)
{
	__m256i q = _mm256_or_si256(nibbles(x->qs), high_bits(x->qh));
	return _mm256_cvtepi32_ps(dot_u8(q, load256(y->qs)));
}

static inline __m256 q8_0_block(const struct block_q8_0 *x, const struct block_q8_0 *y)
{
	return _mm256_cvtepi32_ps(dot_s8(load256(x->qs), load256(y->qs)));
}

#define NO_MIN(i)   0.0f
#define WITH_MIN(i) (quant__fp16_table[x[i].m] * quant__fp16_table[y[i].s])
/* broadcast loads from the f16 table and a vector multiply: no shuffles */
#define SCALE(i)                                                                                   \
	_mm256_mul_ps(_mm256_broadcast_ss(&quant__fp16_table[x[i].d]),                             \
	              _mm256_broadcast_ss(&quant__fp16_table[y[i].d]))

#define BLOCK_DOT(name, TX, TY, QK, BLOCK, MIN)                                                    \
	static void name(int64_t n, float *s, const void *vx, const void *vy)                      \
	{                                                                                          \
		const TX *x = vx;                                                                  \
		const TY *y = vy;                                                                  \
		__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                     \
		float summs = 0;                                                                   \
		int64_t nb = n / (QK), i = 0;                                                      \
		for (; i + 1 < nb; i += 2) {                                                       \
			acc0 = _mm256_fmadd_ps(SCALE(i), BLOCK(&x[i], &y[i]), acc0);               \
			acc1 = _mm256_fmadd_ps(SCALE(i + 1), BLOCK(&x[i + 1], &y[i + 1]), acc1);   \
			summs += MIN(i) + MIN(i + 1);                                              \
		}                                                                                  \
		if (i < nb) {                                                                      \
			acc0 = _mm256_fmadd_ps(SCALE(i), BLOCK(&x[i], &y[i]), acc0);               \
			summs += MIN(i);                                                           \
		}                                                                                  \
		*s = hsum_ps(_mm256_add_ps(acc0, acc1)) + summs;                                   \
	}

BLOCK_DOT(q4_0_vec_dot, struct block_q4_0, struct block_q8_0, QK4_0, q4_0_block, NO_MIN)
BLOCK_DOT(q4_1_vec_dot, struct block_q4_1, struct block_q8_1, QK4_1, q4_1_block, WITH_MIN)
BLOCK_DOT(q5_0_vec_dot, struct block_q5_0, struct block_q8_0, QK5_0, q5_0_block, NO_MIN)
BLOCK_DOT(q5_1_vec_dot, struct block_q5_1, struct block_q8_1, QK5_1, q5_1_block, WITH_MIN)
BLOCK_DOT(q8_0_vec_dot, struct block_q8_0, struct block_q8_0, QK8_0, q8_0_block, NO_MIN)

/* ---- activations to Q8_0 / Q8_1 (same rounding as the _from_float_ref) */

/* Rounds 32 floats times id to int8 and stores them; returns their sum. */
static inline int round_store_32(const float *x, float id, int8_t *q)
{
	const __m256 mul = _mm256_set1_ps(id);
	__m256i v[4];
	for (int k = 0; k < 4; k++) {
		__m256 f = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), mul);
		f = _mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
		v[k] = _mm256_cvtps_epi32(f);
	}
	__m256i sum = _mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3]));
	/* packs work per 128-bit lane; the permute restores element order */
	__m256i p16a = _mm256_packs_epi32(v[0], v[1]);
	__m256i p16b = _mm256_packs_epi32(v[2], v[3]);
	__m256i p8 = _mm256_packs_epi16(p16a, p16b);
	p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
	_mm256_storeu_si256((__m256i *)q, p8);
	__m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
	s4 = _mm_hadd_epi32(s4, s4);
	s4 = _mm_hadd_epi32(s4, s4);
	return _mm_cvtsi128_si32(s4);
}

static inline float absmax_32(const float *x)
{
	const __m256 mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256 m = _mm256_and_ps(_mm256_loadu_ps(x), mask);
	for (int k = 1; k < 4; k++)
		m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + 8 * k), mask));
	__m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
	h = _mm_max_ps(h, _mm_movehl_ps(h, h));
	h = _mm_max_ss(h, _mm_movehdup_ps(h));
	return _mm_cvtss_f32(h);
}

static void q8_0_from_float(const float *x, void *vy, int64_t n)
{
	struct block_q8_0 *y = vy;
	for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
		float amax = absmax_32(x);
		y[i].d = f32_to_fp16(amax / 127.f);
		round_store_32(x, amax != 0.0f ? 127.f / amax : 0.0f, y[i].qs);
	}
}

static void q8_1_from_float(const float *x, void *vy, int64_t n)
{
	struct block_q8_1 *y = vy;
	for (int64_t i = 0; i < n / QK8_1; i++, x += QK8_1) {
		float amax = absmax_32(x);
		float d = amax / 127.f;
		y[i].d = f32_to_fp16(d);
		int sum = round_store_32(x, amax != 0.0f ? 127.f / amax : 0.0f, y[i].qs);
		y[i].s = f32_to_fp16(d * sum);
	}
}

void quant__fill_legacy_avx2(struct quant_traits *t)
{
	t[GGML_TYPE_F32].vec_dot = f32_vec_dot;
	t[GGML_TYPE_F16].from_float = f16_from_float;
	t[GGML_TYPE_F16].to_float = f16_to_float;
	t[GGML_TYPE_Q4_0].vec_dot = q4_0_vec_dot;
	t[GGML_TYPE_Q4_1].vec_dot = q4_1_vec_dot;
	t[GGML_TYPE_Q5_0].vec_dot = q5_0_vec_dot;
	t[GGML_TYPE_Q5_1].vec_dot = q5_1_vec_dot;
	t[GGML_TYPE_Q8_0].vec_dot = q8_0_vec_dot;
	t[GGML_TYPE_Q8_0].from_float = q8_0_from_float;
	t[GGML_TYPE_Q8_1].from_float = q8_1_from_float;
}

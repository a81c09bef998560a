/* quant_kquants_avx2.c — AVX2 dot products of the K-quants (Q2_K..Q6_K)
 * with Q8_K activations. Each block's integer sums are computed exactly in
 * vectors (maddubs of unsigned codes by the int8 activations, then madd by
 * the group scales) and combined with the same float expression, in the
 * same order, as quant_kquants_ref.c: results equal the reference bit for
 * bit. Offsets of signed codes (-4 in Q3_K, -32 in Q6_K) and the minimums
 * of Q2_K/Q4_K/Q5_K go through the activation group sums (bsums). */
#include "engine/quant_internal.h"

#include <immintrin.h>

static inline int hsum_i32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
	return _mm_cvtsi128_si32(s);
}

static inline __m256i load256(const void *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

/* int16 lanes 0..7 = a, 8..15 = b: the scales of two 16-element groups
 * after maddubs pairs 32 codes. */
static inline __m256i scale2(int a, int b)
{
	return _mm256_setr_m128i(_mm_set1_epi16((short)a), _mm_set1_epi16((short)b));
}

/* sum over g of w[g] * bsums[g], w given as 16 int16. */
static inline int bsum_dot(const int16_t *bsums, __m256i w16)
{
	return hsum_i32(_mm256_madd_epi16(load256(bsums), w16));
}

/* acc += scale-weighted sums of 32 unsigned codes times 32 activations. */
static inline __m256i mac32(__m256i acc, __m256i codes, const int8_t *q8, __m256i scales)
{
	__m256i p = _mm256_maddubs_epi16(codes, load256(q8));
	return _mm256_add_epi32(acc, _mm256_madd_epi16(p, scales));
}

static void q2_K_vec_dot(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q2_K *x = vx;
	const struct block_q8_K *y = vy;
	const __m256i m3 = _mm256_set1_epi8(3);
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		__m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
		__m256i mins = _mm256_cvtepu8_epi16(_mm_srli_epi16(sc8, 4));
		mins = _mm256_and_si256(mins, _mm256_set1_epi16(0xF));
		int summs = bsum_dot(y[i].bsums, mins);
		__m256i acc = _mm256_setzero_si256();
		const int8_t *q8 = y[i].qs;
		for (int h = 0; h < 2; h++) {
			__m256i q2 = load256(x[i].qs + 32 * h);
			for (int j = 0; j < 4; j++, q8 += 32) {
				__m256i c = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3);
				int g = 8 * h + 2 * j;
				acc = mac32(acc, c, q8,
				            scale2(x[i].scales[g] & 0xF, x[i].scales[g + 1] & 0xF));
			}
		}
		int isum = hsum_i32(acc);
		float d = y[i].d * fp16_to_f32(x[i].d);
		float dmin = y[i].d * fp16_to_f32(x[i].dmin);
		sum += d * (float)isum - dmin * (float)summs;
	}
	*s = sum;
}

static void q3_K_vec_dot(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q3_K *x = vx;
	const struct block_q8_K *y = vy;
	const __m256i m3 = _mm256_set1_epi8(3);
	int8_t sc[16];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		quant_q3_K_scales(x[i].scales, sc);
		__m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
		int corr = bsum_dot(y[i].bsums, sc16);
		__m256i hm = load256(x[i].hmask);
		__m256i acc = _mm256_setzero_si256();
		const int8_t *q8 = y[i].qs;
		for (int h = 0; h < 2; h++) {
			__m256i q3 = load256(x[i].qs + 32 * h);
			for (int j = 0; j < 4; j++, q8 += 32) {
				/* code = low 2 bits | hmask bit << 2; value = code - 4 */
				__m256i bit = _mm256_set1_epi8((char)(1 << (4 * h + j)));
				__m256i hb = _mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit);
				hb = _mm256_and_si256(hb, _mm256_set1_epi8(4));
				__m256i c = _mm256_and_si256(_mm256_srli_epi16(q3, 2 * j), m3);
				int g = 8 * h + 2 * j;
				acc = mac32(acc, _mm256_or_si256(c, hb), q8,
				            scale2(sc[g], sc[g + 1]));
			}
		}
		int isum = hsum_i32(acc) - 4 * corr;
		sum += y[i].d * fp16_to_f32(x[i].d) * (float)isum;
	}
	*s = sum;
}

/* q4_K/q5_K block: isum over the 8 groups of 32 and the mins' sum. */
static inline int k4_summs(const struct block_q8_K *y, const uint8_t *mins8)
{
	__m128i m = _mm_loadl_epi64((const __m128i *)mins8);
	__m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m));
	return bsum_dot(y->bsums, m16);
}

static void q4_K_vec_dot(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q4_K *x = vx;
	const struct block_q8_K *y = vy;
	const __m256i m4 = _mm256_set1_epi8(0xF);
	uint8_t sm[16];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		quant_k4_scales(x[i].scales, sm);
		int summs = k4_summs(&y[i], sm + 8);
		__m256i acc = _mm256_setzero_si256();
		const int8_t *q8 = y[i].qs;
		for (int c = 0; c < 4; c++, q8 += 64) {
			__m256i q4 = load256(x[i].qs + 32 * c);
			__m256i lo = _mm256_and_si256(q4, m4);
			__m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
			acc = mac32(acc, lo, q8, _mm256_set1_epi16(sm[2 * c]));
			acc = mac32(acc, hi, q8 + 32, _mm256_set1_epi16(sm[2 * c + 1]));
		}
		int isum = hsum_i32(acc);
		float d = y[i].d * fp16_to_f32(x[i].d);
		float dmin = y[i].d * fp16_to_f32(x[i].dmin);
		sum += d * (float)isum - dmin * (float)summs;
	}
	*s = sum;
}

static void q5_K_vec_dot(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q5_K *x = vx;
	const struct block_q8_K *y = vy;
	const __m256i m4 = _mm256_set1_epi8(0xF);
	const __m256i b16 = _mm256_set1_epi8(16);
	uint8_t sm[16];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		quant_k4_scales(x[i].scales, sm);
		int summs = k4_summs(&y[i], sm + 8);
		__m256i qh = load256(x[i].qh);
		__m256i acc = _mm256_setzero_si256();
		const int8_t *q8 = y[i].qs;
		for (int c = 0; c < 4; c++, q8 += 64) {
			__m256i q5 = load256(x[i].qs + 32 * c);
			__m256i blo = _mm256_set1_epi8((char)(1 << (2 * c)));
			__m256i bhi = _mm256_set1_epi8((char)(2 << (2 * c)));
			__m256i hlo = _mm256_cmpeq_epi8(_mm256_and_si256(qh, blo), blo);
			__m256i hhi = _mm256_cmpeq_epi8(_mm256_and_si256(qh, bhi), bhi);
			__m256i lo =
			    _mm256_or_si256(_mm256_and_si256(q5, m4), _mm256_and_si256(hlo, b16));
			__m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q5, 4), m4),
			                             _mm256_and_si256(hhi, b16));
			acc = mac32(acc, lo, q8, _mm256_set1_epi16(sm[2 * c]));
			acc = mac32(acc, hi, q8 + 32, _mm256_set1_epi16(sm[2 * c + 1]));
		}
		int isum = hsum_i32(acc);
		float d = y[i].d * fp16_to_f32(x[i].d);
		float dmin = y[i].d * fp16_to_f32(x[i].dmin);
		sum += d * (float)isum - dmin * (float)summs;
	}
	*s = sum;
}

static void q6_K_vec_dot(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q6_K *x = vx;
	const struct block_q8_K *y = vy;
	const __m256i m4 = _mm256_set1_epi8(0xF);
	const __m256i m3 = _mm256_set1_epi8(3);
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		const int8_t *sc = x[i].scales;
		__m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
		int corr = bsum_dot(y[i].bsums, sc16);
		__m256i acc = _mm256_setzero_si256();
		const int8_t *q8 = y[i].qs;
		for (int h = 0; h < 2; h++) {
			__m256i ql0 = load256(x[i].ql + 64 * h);
			__m256i ql1 = load256(x[i].ql + 64 * h + 32);
			__m256i qh = load256(x[i].qh + 32 * h);
			/* chunk k: nibble k/2 of ql[32*(k&1)..], bit pair k of qh */
			__m256i lo[4] = {_mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
			                 _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
			                 _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4)};
			for (int k = 0; k < 4; k++, q8 += 32) {
				__m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m3);
				__m256i c = _mm256_or_si256(lo[k], _mm256_slli_epi16(hb, 4));
				int g = 8 * h + 2 * k;
				acc = mac32(acc, c, q8, scale2(sc[g], sc[g + 1]));
			}
		}
		int isum = hsum_i32(acc) - 32 * corr;
		sum += y[i].d * fp16_to_f32(x[i].d) * (float)isum;
	}
	*s = sum;
}

void quant__fill_kquants_avx2(struct quant_traits *t)
{
	t[GGML_TYPE_Q2_K].vec_dot = q2_K_vec_dot;
	t[GGML_TYPE_Q3_K].vec_dot = q3_K_vec_dot;
	t[GGML_TYPE_Q4_K].vec_dot = q4_K_vec_dot;
	t[GGML_TYPE_Q5_K].vec_dot = q5_K_vec_dot;
	t[GGML_TYPE_Q6_K].vec_dot = q6_K_vec_dot;
}

/* quant_kquants_avx512.c — AVX-512 (BW + VNNI) dot products of the
 * K-quants with Q8_K activations, 64 codes per step: vpmaddubsw of the
 * unsigned codes by the int8 activations, then vpdpwssd by the group
 * scales. The integers equal the reference's and the float expression per
 * block is the reference's, so results match quant_kquants_ref.c exactly.
 * Code offsets (-4 in Q3_K, -32 in Q6_K) and mins go through bsums. */
#include "engine/quant_avx512.h"

struct scale_idx quant__idx16, quant__idx32;

static void q2_K_vec_dot(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q2_K *x = vx;
	const struct block_q8_K *y = vy;
	const __m512i m3 = _mm512_set1_epi8(3);
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		__m256i sc = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
		__m256i mins = _mm256_srli_epi16(sc, 4);
		int summs = bsum_dot(y[i].bsums, mins);
		__m512i sc16 = _mm512_castsi256_si512(_mm256_and_si256(sc, _mm256_set1_epi16(0xF)));
		__m512i acc = _mm512_setzero_si512();
		for (int h = 0; h < 2; h++) {
			__m512i q2 = dup256(x[i].qs + 32 * h);
			const int8_t *q8 = y[i].qs + 128 * h;
			acc = mac64(acc, shift2(q2, 0, 2, m3), q8, sc16, quant__idx16.v[2 * h]);
			acc = mac64(acc, shift2(q2, 4, 6, m3), q8 + 64, sc16,
			            quant__idx16.v[2 * h + 1]);
		}
		int isum = _mm512_reduce_add_epi32(acc);
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
	const __m512i m3 = _mm512_set1_epi8(3);
	int8_t sc[16];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		quant_q3_K_scales(x[i].scales, sc);
		__m256i sc16y = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
		int corr = bsum_dot(y[i].bsums, sc16y);
		__m512i sc16 = _mm512_castsi256_si512(sc16y);
		__m512i hm = dup256(x[i].hmask);
		__m512i acc = _mm512_setzero_si512();
		for (int h = 0; h < 2; h++) {
			__m512i q3 = dup256(x[i].qs + 32 * h);
			const int8_t *q8 = y[i].qs + 128 * h;
			__m512i a =
			    _mm512_or_si512(shift2(q3, 0, 2, m3), bits2(hm, 4 * h, 4 * h + 1, 4));
			__m512i b = _mm512_or_si512(shift2(q3, 4, 6, m3),
			                            bits2(hm, 4 * h + 2, 4 * h + 3, 4));
			acc = mac64(acc, a, q8, sc16, quant__idx16.v[2 * h]);
			acc = mac64(acc, b, q8 + 64, sc16, quant__idx16.v[2 * h + 1]);
		}
		int isum = _mm512_reduce_add_epi32(acc) - 4 * corr;
		sum += y[i].d * fp16_to_f32(x[i].d) * (float)isum;
	}
	*s = sum;
}

static void q4_K_vec_dot(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q4_K *x = vx;
	const struct block_q8_K *y = vy;
	uint8_t sm[16];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		quant_k4_scales(x[i].scales, sm);
		int summs = k4_summs(&y[i], sm + 8);
		__m512i sc16 =
		    _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sm)));
		__m512i acc = _mm512_setzero_si512();
		for (int c = 0; c < 4; c++)
			acc = mac64(acc, nibbles64(x[i].qs + 32 * c), y[i].qs + 64 * c, sc16,
			            quant__idx32.v[c]);
		int isum = _mm512_reduce_add_epi32(acc);
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
	uint8_t sm[16];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		quant_k4_scales(x[i].scales, sm);
		int summs = k4_summs(&y[i], sm + 8);
		__m512i sc16 =
		    _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sm)));
		__m512i qh = dup256(x[i].qh);
		__m512i acc = _mm512_setzero_si512();
		for (int c = 0; c < 4; c++) {
			__m512i codes = _mm512_or_si512(nibbles64(x[i].qs + 32 * c),
			                                bits2(qh, 2 * c, 2 * c + 1, 16));
			acc = mac64(acc, codes, y[i].qs + 64 * c, sc16, quant__idx32.v[c]);
		}
		int isum = _mm512_reduce_add_epi32(acc);
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
	const __m512i m4 = _mm512_set1_epi8(0xF), m3 = _mm512_set1_epi8(3);
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		__m256i sc16y = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
		int corr = bsum_dot(y[i].bsums, sc16y);
		__m512i sc16 = _mm512_castsi256_si512(sc16y);
		__m512i acc = _mm512_setzero_si512();
		for (int h = 0; h < 2; h++) {
			__m512i ql = load512(x[i].ql + 64 * h);
			__m512i qh = dup256(x[i].qh + 32 * h);
			const int8_t *q8 = y[i].qs + 128 * h;
			/* elements 0..63: low nibbles, bit pairs 0 and 1; 64..127: high, 2 and 3 */
			__m512i a = _mm512_and_si512(ql, m4);
			__m512i b = _mm512_and_si512(_mm512_srli_epi16(ql, 4), m4);
			a = _mm512_or_si512(a, _mm512_slli_epi16(shift2(qh, 0, 2, m3), 4));
			b = _mm512_or_si512(b, _mm512_slli_epi16(shift2(qh, 4, 6, m3), 4));
			acc = mac64(acc, a, q8, sc16, quant__idx16.v[2 * h]);
			acc = mac64(acc, b, q8 + 64, sc16, quant__idx16.v[2 * h + 1]);
		}
		int isum = _mm512_reduce_add_epi32(acc) - 32 * corr;
		sum += y[i].d * fp16_to_f32(x[i].d) * (float)isum;
	}
	*s = sum;
}

void quant__fill_kquants_avx512(struct quant_traits *t)
{
	quant__idx16 = quant__make_idx(4, 8);
	quant__idx32 = quant__make_idx(2, 16);
	t[GGML_TYPE_Q2_K].vec_dot = q2_K_vec_dot;
	t[GGML_TYPE_Q3_K].vec_dot = q3_K_vec_dot;
	t[GGML_TYPE_Q4_K].vec_dot = q4_K_vec_dot;
	t[GGML_TYPE_Q5_K].vec_dot = q5_K_vec_dot;
	t[GGML_TYPE_Q6_K].vec_dot = q6_K_vec_dot;
}

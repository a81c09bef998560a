/* quant_kquants_ref.c — scalar reference kernels (the spec) for the
 * K-quants: dequantization of Q2_K..Q6_K and Q8_K, the Q8_K activation
 * quantizer, and the dot products K-quant x Q8_K. Layouts: ggml's
 * ggml-common.h (256-element super-blocks). The weight quantizers are in
 * quant_kquantize_ref.c. Each dot product sums integers exactly per block
 * and then does `sum += d * isum - dmin * summs` in block order, so SIMD
 * variants that compute the same integers give identical results. */
#include "engine/quant_internal.h"

/* ---- element values: each block unpacked to its integer codes */

/* q2_K: element e of the block is in byte 32*(e/128) + e%32 of qs, bit
 * pair (e%128)/32. Group g = e/16. */
static void q2_K_codes(const struct block_q2_K *b, int8_t q[QK_K])
{
	for (int e = 0; e < QK_K; e++)
		q[e] = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

static void q3_K_codes(const struct block_q3_K *b, int8_t q[QK_K])
{
	for (int e = 0; e < QK_K; e++) {
		int lo = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
		int high = (b->hmask[e % 32] >> (e / 32)) & 1;
		q[e] = (int8_t)(lo - (high ? 0 : 4));
	}
}

/* q4_K/q5_K: the 64 elements 64*c..64*c+63 take the low nibbles of
 * qs[32c..32c+31] then their high nibbles. */
static void q4_K_codes(const uint8_t *qs, int8_t q[QK_K])
{
	for (int c = 0; c < QK_K / 64; c++)
		for (int l = 0; l < 32; l++) {
			q[64 * c + l] = qs[32 * c + l] & 0xF;
			q[64 * c + 32 + l] = qs[32 * c + l] >> 4;
		}
}

static void q5_K_codes(const struct block_q5_K *b, int8_t q[QK_K])
{
	q4_K_codes(b->qs, q);
	for (int e = 0; e < QK_K; e++)
		q[e] |= ((b->qh[e % 32] >> (e / 32)) & 1) << 4;
}

/* q6_K: in each half h (128 elements), element 32*k + l (k 0..3) takes
 * nibble k/2 of ql[64h + 32*(k&1) + l] and bit pair k of qh[32h + l]. */
static void q6_K_codes(const struct block_q6_K *b, int8_t q[QK_K])
{
	for (int e = 0; e < QK_K; e++) {
		int h = e / 128, k = (e % 128) / 32, l = e % 32;
		int lo = (b->ql[64 * h + 32 * (k & 1) + l] >> (4 * (k / 2))) & 0xF;
		int hi = (b->qh[32 * h + l] >> (2 * k)) & 3;
		q[e] = (int8_t)((lo | (hi << 4)) - 32);
	}
}

static void scales_mins_k4(const uint8_t *packed, int sc[8], int mn[8])
{
	for (int j = 0; j < 8; j++) {
		uint8_t a, b;
		quant_scale_min_k4(j, packed, &a, &b);
		sc[j] = a;
		mn[j] = b;
	}
}

/* ---- dequantization */

void quant_q2_K_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q2_K *x = src;
	int8_t q[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
		float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
		q2_K_codes(&x[i], q);
		for (int e = 0; e < QK_K; e++) {
			uint8_t sc = x[i].scales[e / 16];
			dst[e] = d * (sc & 0xF) * q[e] - dmin * (sc >> 4);
		}
	}
}

void quant_q3_K_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q3_K *x = src;
	int8_t q[QK_K], sc[16];
	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
		float d = fp16_to_f32(x[i].d);
		q3_K_codes(&x[i], q);
		quant_q3_K_scales(x[i].scales, sc);
		for (int e = 0; e < QK_K; e++)
			dst[e] = d * sc[e / 16] * q[e];
	}
}

void quant_q4_K_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q4_K *x = src;
	int8_t q[QK_K];
	int sc[8], mn[8];
	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
		float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
		q4_K_codes(x[i].qs, q);
		scales_mins_k4(x[i].scales, sc, mn);
		for (int e = 0; e < QK_K; e++)
			dst[e] = d * sc[e / 32] * q[e] - dmin * mn[e / 32];
	}
}

void quant_q5_K_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q5_K *x = src;
	int8_t q[QK_K];
	int sc[8], mn[8];
	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
		float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
		q5_K_codes(&x[i], q);
		scales_mins_k4(x[i].scales, sc, mn);
		for (int e = 0; e < QK_K; e++)
			dst[e] = d * sc[e / 32] * q[e] - dmin * mn[e / 32];
	}
}

void quant_q6_K_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q6_K *x = src;
	int8_t q[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
		float d = fp16_to_f32(x[i].d);
		q6_K_codes(&x[i], q);
		for (int e = 0; e < QK_K; e++)
			dst[e] = d * x[i].scales[e / 16] * q[e];
	}
}

void quant_q8_K_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q8_K *x = src;
	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K)
		for (int e = 0; e < QK_K; e++)
			dst[e] = x[i].d * x[i].qs[e];
}

/* ---- Q8_K activations: scale -127/max by the signed extreme, so the
 * extreme maps to -127 (ggml's quantize_row_q8_K). */

void quant_q8_K_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q8_K *y = dst;
	for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
		float max = 0, amax = 0;
		for (int e = 0; e < QK_K; e++)
			if (fabsf(src[e]) > amax) {
				amax = fabsf(src[e]);
				max = src[e];
			}
		if (amax == 0) {
			memset(&y[i], 0, sizeof y[i]);
			continue;
		}
		float iscale = -127.f / max;
		for (int e = 0; e < QK_K; e++) {
			int v = quant_nearest_int(iscale * src[e]);
			y[i].qs[e] = (int8_t)(v < 127 ? v : 127);
		}
		for (int g = 0; g < QK_K / 16; g++) {
			int sum = 0;
			for (int l = 0; l < 16; l++)
				sum += y[i].qs[16 * g + l];
			y[i].bsums[g] = (int16_t)sum;
		}
		y[i].d = 1 / iscale;
	}
}

/* Q8_K is only an activation type; its self-dot exists for completeness. */
void quant_q8_K_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q8_K *x = vx, *y = vy;
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		int isum = 0;
		for (int e = 0; e < QK_K; e++)
			isum += x[i].qs[e] * y[i].qs[e];
		sum += x[i].d * y[i].d * (float)isum;
	}
	*s = sum;
}

/* ---- dot products K-quant x Q8_K */

/* sum over groups of size gs of scale[g] * sum(q * q8). */
static int group_dot(const int8_t *q, const int8_t *q8, const int *scale, int gs)
{
	int isum = 0;
	for (int g = 0; g < QK_K / gs; g++) {
		int s = 0;
		for (int l = 0; l < gs; l++)
			s += q[gs * g + l] * q8[gs * g + l];
		isum += scale[g] * s;
	}
	return isum;
}

void quant_q2_K_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q2_K *x = vx;
	const struct block_q8_K *y = vy;
	int8_t q[QK_K];
	int sc[16];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		int summs = 0;
		for (int g = 0; g < 16; g++) {
			sc[g] = x[i].scales[g] & 0xF;
			summs += y[i].bsums[g] * (x[i].scales[g] >> 4);
		}
		q2_K_codes(&x[i], q);
		int isum = group_dot(q, y[i].qs, sc, 16);
		float d = y[i].d * fp16_to_f32(x[i].d);
		float dmin = y[i].d * fp16_to_f32(x[i].dmin);
		sum += d * (float)isum - dmin * (float)summs;
	}
	*s = sum;
}

void quant_q3_K_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q3_K *x = vx;
	const struct block_q8_K *y = vy;
	int8_t q[QK_K], sc8[16];
	int sc[16];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		quant_q3_K_scales(x[i].scales, sc8);
		for (int g = 0; g < 16; g++)
			sc[g] = sc8[g];
		q3_K_codes(&x[i], q);
		int isum = group_dot(q, y[i].qs, sc, 16);
		sum += y[i].d * fp16_to_f32(x[i].d) * (float)isum;
	}
	*s = sum;
}

/* q4_K and q5_K: the mins meet the activations through bsums. */
static int k4_summs(const struct block_q8_K *y, const int mn[8])
{
	int summs = 0;
	for (int g = 0; g < 16; g++)
		summs += y->bsums[g] * mn[g / 2];
	return summs;
}

void quant_q4_K_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q4_K *x = vx;
	const struct block_q8_K *y = vy;
	int8_t q[QK_K];
	int sc[8], mn[8];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		scales_mins_k4(x[i].scales, sc, mn);
		q4_K_codes(x[i].qs, q);
		int isum = group_dot(q, y[i].qs, sc, 32);
		int summs = k4_summs(&y[i], mn);
		float d = y[i].d * fp16_to_f32(x[i].d);
		float dmin = y[i].d * fp16_to_f32(x[i].dmin);
		sum += d * (float)isum - dmin * (float)summs;
	}
	*s = sum;
}

void quant_q5_K_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q5_K *x = vx;
	const struct block_q8_K *y = vy;
	int8_t q[QK_K];
	int sc[8], mn[8];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		scales_mins_k4(x[i].scales, sc, mn);
		q5_K_codes(&x[i], q);
		int isum = group_dot(q, y[i].qs, sc, 32);
		int summs = k4_summs(&y[i], mn);
		float d = y[i].d * fp16_to_f32(x[i].d);
		float dmin = y[i].d * fp16_to_f32(x[i].dmin);
		sum += d * (float)isum - dmin * (float)summs;
	}
	*s = sum;
}

void quant_q6_K_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q6_K *x = vx;
	const struct block_q8_K *y = vy;
	int8_t q[QK_K];
	int sc[16];
	float sum = 0;
	for (int64_t i = 0; i < n / QK_K; i++) {
		for (int g = 0; g < 16; g++)
			sc[g] = x[i].scales[g];
		q6_K_codes(&x[i], q);
		int isum = group_dot(q, y[i].qs, sc, 16);
		sum += y[i].d * fp16_to_f32(x[i].d) * (float)isum;
	}
	*s = sum;
}

/* Q2_K rows into the packed form of both kernel sets, Q3_K rows into the
 * avx2 set's (quant_gemmk23_avx2.c; the avx512 set packs Q3_K its own way,
 * quant_gemmk23_avx512.c): blocks [0, nb) of the 16 rows at x (bx bytes
 * apart, blocks of bs bytes), dword v of each row's block into lane r of
 * the 64-byte vector v, a last 2 bytes (Q3_K's d) into 2-byte lanes after
 * them. Plain C, so that either set may call it. */
void quant__pack16_dwords(const uint8_t *x, size_t bx, int64_t nb, size_t bs, uint8_t *o)
{
	const size_t nv = bs / 4;
	for (int64_t b = 0; b < nb; b++) {
		uint8_t *v = o + 16 * bs * (size_t)b;
		for (int r = 0; r < 16; r++) {
			const uint8_t *row = x + (size_t)r * bx + bs * (size_t)b;
			for (size_t k = 0; k < nv; k++)
				memcpy(v + 64 * k + 4 * r, row + 4 * k, 4);
			if (bs % 4)
				memcpy(v + 64 * nv + 2 * r, row + 4 * nv, 2);
		}
	}
}

void quant__q2_K_pack16(const void *src, size_t bx, void *dst)
{
	const size_t bs = sizeof(struct block_q2_K);
	quant__pack16_dwords(src, bx, (int64_t)(bx / bs), bs, dst);
}

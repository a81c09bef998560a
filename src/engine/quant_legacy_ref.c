/* quant_legacy_ref.c — scalar reference kernels (the spec) for the float
 * types F32/F16/BF16 and the 32-element block types Q4_0, Q4_1, Q5_0, Q5_1,
 * Q8_0, Q8_1: dequantization, quantization with llama-quantize's rounding,
 * activation conversion and dot products. Layouts: GGUF spec / ggml. The
 * K-quants live in quant_kquants_ref.c; nothing here is vectorized. */
#include "engine/quant_internal.h"

#include <float.h>

/* ---- half and bfloat16 (IEEE 754 binary16; bfloat16 = top half of f32) */

static inline uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static inline float f32_from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

float fp16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ff;
	if (exp == 0x1f)
		return f32_from_bits(sign | 0x7f800000u | (man << 13));
	if (exp == 0) {
		float v = (float)man * 0x1p-24f; /* subnormal or zero, exact */
		return sign ? -v : v;
	}
	return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t f32_to_fp16(float f)
{
	uint32_t x = f32_bits(f);
	uint16_t sign = (x >> 16) & 0x8000;
	x &= 0x7fffffffu;
	if (x > 0x7f800000u) /* NaN: keep it quiet and non-zero */
		return sign | 0x7e00 | ((x >> 13) & 0x3ff);
	if (x >= 0x477ff000u) /* >= 65520 rounds to infinity */
		return sign | 0x7c00;
	if (x < 0x38800000u) { /* below 2^-14: subnormal half */
		float m = rintf(f32_from_bits(x) * 0x1p24f);
		return sign | (uint16_t)m; /* 1024 becomes the smallest normal */
	}
	uint32_t h = ((((x >> 23) - 127 + 15)) << 10) | ((x >> 13) & 0x3ff);
	uint32_t rest = x & 0x1fff;
	if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
		h++; /* a carry into the exponent is the right result */
	return sign | (uint16_t)h;
}

float bf16_to_f32(uint16_t h)
{
	return f32_from_bits((uint32_t)h << 16);
}

uint16_t f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 64); /* quiet NaN */
	return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

/* ---- F32, F16, BF16 */

void quant_f32_to_float_ref(const void *src, float *dst, int64_t n)
{
	memcpy(dst, src, (size_t)n * sizeof(float));
}

void quant_f32_quantize_ref(const float *src, void *dst, int64_t n)
{
	memcpy(dst, src, (size_t)n * sizeof(float));
}

void quant_f32_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const float *x = vx, *y = vy;
	double sum = 0;
	for (int64_t i = 0; i < n; i++)
		sum += (double)(x[i] * y[i]);
	*s = (float)sum;
}

void quant_f16_to_float_ref(const void *src, float *dst, int64_t n)
{
	const uint16_t *x = src;
	for (int64_t i = 0; i < n; i++)
		dst[i] = fp16_to_f32(x[i]);
}

void quant_f16_quantize_ref(const float *src, void *dst, int64_t n)
{
	uint16_t *y = dst;
	for (int64_t i = 0; i < n; i++)
		y[i] = f32_to_fp16(src[i]);
}

void quant_f16_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const uint16_t *x = vx, *y = vy;
	double sum = 0;
	for (int64_t i = 0; i < n; i++)
		sum += (double)(fp16_to_f32(x[i]) * fp16_to_f32(y[i]));
	*s = (float)sum;
}

void quant_bf16_to_float_ref(const void *src, float *dst, int64_t n)
{
	const uint16_t *x = src;
	for (int64_t i = 0; i < n; i++)
		dst[i] = bf16_to_f32(x[i]);
}

void quant_bf16_quantize_ref(const float *src, void *dst, int64_t n)
{
	uint16_t *y = dst;
	for (int64_t i = 0; i < n; i++)
		y[i] = f32_to_bf16(src[i]);
}

void quant_bf16_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const uint16_t *x = vx, *y = vy;
	double sum = 0;
	for (int64_t i = 0; i < n; i++)
		sum += (double)(bf16_to_f32(x[i]) * bf16_to_f32(y[i]));
	*s = (float)sum;
}

/* ---- dequantization of the 32-element blocks */

void quant_q4_0_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q4_0 *x = src;
	for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
		float d = fp16_to_f32(x[i].d);
		for (int j = 0; j < QK4_0 / 2; j++) {
			dst[j] = ((x[i].qs[j] & 0x0F) - 8) * d;
			dst[j + QK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
		}
	}
}

void quant_q4_1_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q4_1 *x = src;
	for (int64_t i = 0; i < n / QK4_1; i++, dst += QK4_1) {
		float d = fp16_to_f32(x[i].d), m = fp16_to_f32(x[i].m);
		for (int j = 0; j < QK4_1 / 2; j++) {
			dst[j] = (x[i].qs[j] & 0x0F) * d + m;
			dst[j + QK4_1 / 2] = (x[i].qs[j] >> 4) * d + m;
		}
	}
}

static inline uint32_t load_qh(const uint8_t qh[4])
{
	return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
	       (uint32_t)qh[3] << 24;
}

/* The 32 five-bit values of a q5 block, in element order. */
static void q5_unpack(const uint8_t *qs, const uint8_t qh4[4], int q[32])
{
	uint32_t qh = load_qh(qh4);
	for (int j = 0; j < 16; j++) {
		q[j] = (qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
		q[j + 16] = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
	}
}

void quant_q5_0_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q5_0 *x = src;
	int q[32];
	for (int64_t i = 0; i < n / QK5_0; i++, dst += QK5_0) {
		float d = fp16_to_f32(x[i].d);
		q5_unpack(x[i].qs, x[i].qh, q);
		for (int j = 0; j < QK5_0; j++)
			dst[j] = (q[j] - 16) * d;
	}
}

void quant_q5_1_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q5_1 *x = src;
	int q[32];
	for (int64_t i = 0; i < n / QK5_1; i++, dst += QK5_1) {
		float d = fp16_to_f32(x[i].d), m = fp16_to_f32(x[i].m);
		q5_unpack(x[i].qs, x[i].qh, q);
		for (int j = 0; j < QK5_1; j++)
			dst[j] = q[j] * d + m;
	}
}

void quant_q8_0_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q8_0 *x = src;
	for (int64_t i = 0; i < n / QK8_0; i++, dst += QK8_0) {
		float d = fp16_to_f32(x[i].d);
		for (int j = 0; j < QK8_0; j++)
			dst[j] = x[i].qs[j] * d;
	}
}

void quant_q8_1_to_float_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q8_1 *x = src;
	for (int64_t i = 0; i < n / QK8_1; i++, dst += QK8_1) {
		float d = fp16_to_f32(x[i].d);
		for (int j = 0; j < QK8_1; j++)
			dst[j] = x[i].qs[j] * d;
	}
}

/* ---- quantization with llama-quantize's reference rounding */

/* The value of largest magnitude, with its sign. */
static float signed_absmax(const float *x, int n)
{
	float amax = 0, max = 0;
	for (int j = 0; j < n; j++)
		if (amax < fabsf(x[j])) {
			amax = fabsf(x[j]);
			max = x[j];
		}
	return max;
}

static void min_max(const float *x, int n, float *min, float *max)
{
	*min = FLT_MAX;
	*max = -FLT_MAX;
	for (int j = 0; j < n; j++) {
		if (x[j] < *min)
			*min = x[j];
		if (x[j] > *max)
			*max = x[j];
	}
}

void quant_q4_0_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q4_0 *y = dst;
	for (int64_t i = 0; i < n / QK4_0; i++, src += QK4_0) {
		float d = signed_absmax(src, QK4_0) / -8;
		float id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_fp16(d);
		for (int j = 0; j < QK4_0 / 2; j++) {
			int8_t a = (int8_t)(src[j] * id + 8.5f);
			int8_t b = (int8_t)(src[j + QK4_0 / 2] * id + 8.5f);
			uint8_t q0 = a < 15 ? (uint8_t)a : 15, q1 = b < 15 ? (uint8_t)b : 15;
			y[i].qs[j] = q0 | (uint8_t)(q1 << 4);
		}
	}
}

void quant_q4_1_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q4_1 *y = dst;
	for (int64_t i = 0; i < n / QK4_1; i++, src += QK4_1) {
		float min, max;
		min_max(src, QK4_1, &min, &max);
		float d = (max - min) / 15;
		float id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_fp16(d);
		y[i].m = f32_to_fp16(min);
		for (int j = 0; j < QK4_1 / 2; j++) {
			int8_t a = (int8_t)((src[j] - min) * id + 0.5f);
			int8_t b = (int8_t)((src[j + QK4_1 / 2] - min) * id + 0.5f);
			uint8_t q0 = a < 15 ? (uint8_t)a : 15, q1 = b < 15 ? (uint8_t)b : 15;
			y[i].qs[j] = q0 | (uint8_t)(q1 << 4);
		}
	}
}

/* Packs 32 five-bit values into nibbles + a high-bit word. */
static void q5_pack(const uint8_t q[32], uint8_t *qs, uint8_t qh4[4])
{
	uint32_t qh = 0;
	for (int j = 0; j < 16; j++) {
		qs[j] = (q[j] & 0x0F) | (uint8_t)((q[j + 16] & 0x0F) << 4);
		qh |= (uint32_t)((q[j] & 0x10u) >> 4) << j;
		qh |= (uint32_t)((q[j + 16] & 0x10u) >> 4) << (j + 16);
	}
	for (int k = 0; k < 4; k++)
		qh4[k] = (uint8_t)(qh >> (8 * k));
}

void quant_q5_0_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q5_0 *y = dst;
	uint8_t q[32];
	for (int64_t i = 0; i < n / QK5_0; i++, src += QK5_0) {
		float d = signed_absmax(src, QK5_0) / -16;
		float id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_fp16(d);
		for (int j = 0; j < QK5_0; j++) {
			int8_t v = (int8_t)(src[j] * id + 16.5f);
			q[j] = v < 31 ? (uint8_t)v : 31;
		}
		q5_pack(q, y[i].qs, y[i].qh);
	}
}

void quant_q5_1_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q5_1 *y = dst;
	uint8_t q[32];
	for (int64_t i = 0; i < n / QK5_1; i++, src += QK5_1) {
		float min, max;
		min_max(src, QK5_1, &min, &max);
		float d = (max - min) / 31;
		float id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_fp16(d);
		y[i].m = f32_to_fp16(min);
		for (int j = 0; j < QK5_1; j++)
			q[j] = (uint8_t)((src[j] - min) * id + 0.5f);
		q5_pack(q, y[i].qs, y[i].qh);
	}
}

static float absmax(const float *x, int n)
{
	float amax = 0;
	for (int j = 0; j < n; j++)
		amax = fmaxf(amax, fabsf(x[j]));
	return amax;
}

void quant_q8_0_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q8_0 *y = dst;
	for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0) {
		float d = absmax(src, QK8_0) / 127;
		float id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_fp16(d);
		for (int j = 0; j < QK8_0; j++)
			y[i].qs[j] = (int8_t)roundf(src[j] * id);
	}
}

void quant_q8_1_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q8_1 *y = dst;
	for (int64_t i = 0; i < n / QK8_1; i++, src += QK8_1) {
		float d = absmax(src, QK8_1) / 127;
		float id = d ? 1.0f / d : 0.0f;
		int sum = 0;
		y[i].d = f32_to_fp16(d);
		for (int j = 0; j < QK8_1; j++) {
			y[i].qs[j] = (int8_t)roundf(src[j] * id);
			sum += y[i].qs[j];
		}
		y[i].s = f32_to_fp16(sum * d);
	}
}

/* ---- activation conversion (llama.cpp's x86 SIMD rounding) */

void quant_q8_0_from_float_ref(const float *src, void *dst, int64_t n)
{
	struct block_q8_0 *y = dst;
	for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0) {
		float amax = absmax(src, QK8_0);
		float id = amax != 0.0f ? 127.f / amax : 0.0f;
		y[i].d = f32_to_fp16(amax / 127.f);
		for (int j = 0; j < QK8_0; j++)
			y[i].qs[j] = (int8_t)rintf(src[j] * id);
	}
}

void quant_q8_1_from_float_ref(const float *src, void *dst, int64_t n)
{
	struct block_q8_1 *y = dst;
	for (int64_t i = 0; i < n / QK8_1; i++, src += QK8_1) {
		float amax = absmax(src, QK8_1);
		float d = amax / 127.f;
		float id = amax != 0.0f ? 127.f / amax : 0.0f;
		int sum = 0;
		y[i].d = f32_to_fp16(d);
		for (int j = 0; j < QK8_1; j++) {
			y[i].qs[j] = (int8_t)rintf(src[j] * id);
			sum += y[i].qs[j];
		}
		y[i].s = f32_to_fp16(d * sum);
	}
}

/* ---- dot products: an exact integer sum per block, then one float
 * multiply-add per block in block order. */

void quant_q4_0_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q4_0 *x = vx;
	const struct block_q8_0 *y = vy;
	float sum = 0;
	for (int64_t i = 0; i < n / QK4_0; i++) {
		int isum = 0;
		for (int j = 0; j < QK4_0 / 2; j++)
			isum += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j] +
			        ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK4_0 / 2];
		sum += (float)isum * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d));
	}
	*s = sum;
}

void quant_q4_1_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q4_1 *x = vx;
	const struct block_q8_1 *y = vy;
	float sum = 0;
	for (int64_t i = 0; i < n / QK4_1; i++) {
		int isum = 0;
		for (int j = 0; j < QK4_1 / 2; j++)
			isum += (x[i].qs[j] & 0x0F) * y[i].qs[j] +
			        (x[i].qs[j] >> 4) * y[i].qs[j + QK4_1 / 2];
		sum += (float)isum * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)) +
		       fp16_to_f32(x[i].m) * fp16_to_f32(y[i].s);
	}
	*s = sum;
}

void quant_q5_0_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q5_0 *x = vx;
	const struct block_q8_0 *y = vy;
	float sum = 0;
	int q[32];
	for (int64_t i = 0; i < n / QK5_0; i++) {
		int isum = 0;
		q5_unpack(x[i].qs, x[i].qh, q);
		for (int j = 0; j < QK5_0; j++)
			isum += (q[j] - 16) * y[i].qs[j];
		sum += (float)isum * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d));
	}
	*s = sum;
}

void quant_q5_1_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q5_1 *x = vx;
	const struct block_q8_1 *y = vy;
	float sum = 0;
	int q[32];
	for (int64_t i = 0; i < n / QK5_1; i++) {
		int isum = 0;
		q5_unpack(x[i].qs, x[i].qh, q);
		for (int j = 0; j < QK5_1; j++)
			isum += q[j] * y[i].qs[j];
		sum += (float)isum * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)) +
		       fp16_to_f32(x[i].m) * fp16_to_f32(y[i].s);
	}
	*s = sum;
}

void quant_q8_0_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q8_0 *x = vx;
	const struct block_q8_0 *y = vy;
	float sum = 0;
	for (int64_t i = 0; i < n / QK8_0; i++) {
		int isum = 0;
		for (int j = 0; j < QK8_0; j++)
			isum += x[i].qs[j] * y[i].qs[j];
		sum += (float)isum * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d));
	}
	*s = sum;
}

/* Q8_1 is only ever an activation type; its dot with itself is defined for
 * completeness (ggml has none) and is the plain sum of products. */
void quant_q8_1_vec_dot_ref(int64_t n, float *s, const void *vx, const void *vy)
{
	const struct block_q8_1 *x = vx;
	const struct block_q8_1 *y = vy;
	float sum = 0;
	for (int64_t i = 0; i < n / QK8_1; i++) {
		int isum = 0;
		for (int j = 0; j < QK8_1; j++)
			isum += x[i].qs[j] * y[i].qs[j];
		sum += (float)isum * (fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d));
	}
	*s = sum;
}

/* quant.h — tensor types: dequantization, activation quantization and dot
 * products, bit-exact with the GGUF block layouts (ggml's).
 *
 * The engine multiplies a weight row of type T by an activation vector that
 * was first converted to T's vec_dot_type, as llama.cpp does (Q8_0 for
 * Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants, F16 for F16,
 * BF16 for BF16, F32 for F32): so our logits match its references closely.
 *
 * Every function pointer in a traits entry starts as the scalar reference
 * (quant_*_ref.c, the spec) and is replaced by a SIMD variant at start-up
 * when cpuid allows (quant_init); callers never see the difference.
 * Counts n are elements and must be multiples of the type's block size. */
#ifndef GPURUN_ENGINE_QUANT_H
#define GPURUN_ENGINE_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf/gguf.h"

typedef void (*quant_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*quant_from_float_fn)(const float *src, void *dst, int64_t n);
/* *s = dot(x, y) over n elements; x is a row of the weight type, y the
 * activations already in vec_dot_type. */
typedef void (*quant_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);

struct quant_traits {
	int type;	   /* enum ggml_type */
	const char *name;
	int64_t block_size;
	size_t type_size;
	quant_to_float_fn to_float;	/* dequantize */
	quant_from_float_fn from_float; /* quantize (reference rounding) */
	int vec_dot_type;		/* type the activations are converted to */
	quant_vec_dot_fn vec_dot;
	const char *isa;		/* "scalar", "avx2", "avx512" */
};

/* Fills the table and picks SIMD variants by cpuid; idempotent, thread-safe.
 * GPURUN_ISA=scalar|avx2|avx512 caps the choice (tests, benchmarks). */
void quant_init(void);
/* NULL for a type without kernels. Calls quant_init() if needed. */
const struct quant_traits *quant_get(int type);
/* The scalar reference entry (tests compare variants against it). */
const struct quant_traits *quant_get_ref(int type);

/* Half and bfloat16 conversions, exact (round to nearest even). */
float fp16_to_f32(uint16_t h);
uint16_t f32_to_fp16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

#endif

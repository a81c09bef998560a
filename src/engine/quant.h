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
 * Counts n are elements and must be multiples of the type's block size.
 *
 * Two quantizers per type: `quantize` is llama-quantize's reference
 * rounding (what it writes into files: bit-exact for every type here);
 * `from_float` is the conversion of activations as llama.cpp's x86 CPU
 * backend does it before a dot product. They differ only for Q8_0 and Q8_1
 * (SIMD path: scale 127/amax, round half to even); elsewhere they are the
 * same function. */
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
/* s[c * lds + r] = dot(x row r, y row c) for r < nr, c < nc: nr weight rows
 * bx bytes apart against nc activation rows (vec_dot_type) by bytes apart,
 * n elements each: the numbers of nr * nc vec_dot calls (bit for bit for
 * the K-quants, up to float summation order for the others). Variants
 * unpack each weight block once for up to 4 activation rows (batched
 * prefill) and share activation work across weight rows. No heap. */
typedef void (*quant_mat_dot_fn)(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds,
                                 const void *x, size_t bx, const void *y, size_t by);

/* Matrix products over prepared activations (the engine's matmul path):
 * s[c * lds + r] = dot(x row r, activation row c) for r < nr, c < nc, the
 * activation rows prepared by quant_act_prepare (ba bytes apart). Every
 * element is computed the same way whatever nr, nc, the row's place in
 * the call and the thread: a batch gives the numbers of single rows, bit
 * for bit. No heap. */
typedef void (*quant_gemm_fn)(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds,
                              const void *x, size_t bx, const void *a, size_t ba);

struct quant_traits {
	int type; /* enum ggml_type */
	const char *name;
	int64_t block_size;
	size_t type_size;
	quant_to_float_fn to_float;     /* dequantize */
	quant_from_float_fn from_float; /* activations (llama.cpp x86 rounding) */
	int vec_dot_type;               /* type the activations are converted to */
	quant_vec_dot_fn vec_dot;
	const char *isa;              /* "scalar", "avx2", "avx512" */
	quant_from_float_fn quantize; /* weights (llama-quantize rounding) */
	bool is_quantized;            /* block_size > 1 */
	quant_mat_dot_fn mat_dot;     /* NULL: use quant_mat_dot's loop */
	/* Prepared activations for gemm (all three set, or none: then they are
	 * vec_dot_type rows and quant_gemm loops over vec_dot). */
	size_t (*act_bytes)(int64_t n); /* bytes of one prepared row of n */
	quant_from_float_fn act_prepare;
	quant_gemm_fn gemm;
	/* Columns one gemm call should get at most: 0 lets the caller cut
	 * L2-sized column chunks (the prepared rows stay in L2 while the
	 * weights stream past); a kernel that blocks for the caches itself
	 * (F16 and BF16 on AMX) asks for whole batches. */
	int64_t gemm_cols;
	/* Prepared activation bytes per column chunk the kernel wants; 0: 384
	 * KiB, L2-sized for the VNNI paths. The AMX-INT8 kernels ask for 1.5
	 * MiB, so a 512-row batch is one chunk and each stripe is unpacked
	 * once; the F16 FMA kernel for 3 MiB (it blocks for L1/L2 itself, and
	 * fewer chunks stream its weights fewer times). */
	size_t gemm_chunk;
	/* Rows one call should get at least in batches of QUANT_AMX_MIN_COLS
	 * or more columns (a kernel that repacks the activations per call); 0:
	 * no preference. */
	int64_t gemm_rows;
	/* Rows of the smaller chunks that end a stage (a multiple of 16 that
	 * divides gemm_rows): as fast per row as gemm_rows where the kernel
	 * measured so; 0: gemm_rows. */
	int64_t gemm_tail_rows;
	/* Packed weights (quant_r16_avx512.h describes the layout), for the
	 * types and kernel sets that have them; NULL otherwise. pack16(src,
	 * bx, dst) rewrites 16 rows of bx bytes (row r at src + r * bx) into
	 * the 16 * bx bytes at dst, one stripe that decode reads as a single
	 * sequential stream. gemm_packed is gemm over packed rows: x is the
	 * stripe holding row 0, stripe k at x + 16 * k * bx, nr a multiple of
	 * 16; same activations, same numbers as gemm bit for bit. */
	void (*pack16)(const void *src, size_t bx, void *dst);
	quant_gemm_fn gemm_packed;
};

/* Kernel sets, each a superset of the one below it. AVX512 means
 * F+BW+VL+DQ+VNNI; a CPU with AVX-512 but no VNNI gets AVX2. */
enum quant_isa { QUANT_ISA_SCALAR = 0, QUANT_ISA_AVX2 = 1, QUANT_ISA_AVX512 = 2 };

/* Fills the table and picks SIMD variants by cpuid; idempotent, thread-safe.
 * GPURUN_ISA=scalar|avx2|avx512 caps the choice (tests, benchmarks). */
void quant_init(void);
/* NULL for a type without kernels. Calls quant_init() if needed. */
const struct quant_traits *quant_get(int type);
/* The scalar reference entry (tests compare variants against it). */
const struct quant_traits *quant_get_ref(int type);
/* The entry of one kernel set, or NULL when this CPU cannot run it (tests
 * and benchmarks compare sets; the engine uses quant_get). */
const struct quant_traits *quant_get_isa(int type, enum quant_isa isa);
/* The set quant_get hands out, and the best one this CPU could run. */
enum quant_isa quant_isa_active(void);
enum quant_isa quant_isa_supported(void);
const char *quant_isa_name(enum quant_isa isa);
/* Whether the avx512 set runs prefill tiles on AMX: INT8 (Q4_0, Q8_0) and
 * BF16 (F16, BF16) — the CPU has them, the OS granted the tile state and
 * GPURUN_AMX is not 0. */
bool quant_amx_int8(void);
bool quant_amx_bf16(void);
/* Where quant_amx_bf16() holds, loads this thread's tile configuration of
 * the BF16 kernels (eight tiles of 16 rows x 64 bytes) and returns true:
 * for `gpurun bench --amx`, which times TDPBF16PS on it. */
bool quant_amx_bf16_tiles(void);
/* Bytes of n elements of type; 0 for an unknown type or n not a multiple
 * of the block. */
size_t quant_row_size(int type, int64_t n);

/* t->mat_dot when the type has one, else the same numbers by vec_dot
 * calls (each weight row against all nc activation rows in turn). */
void quant_mat_dot(const struct quant_traits *t, int64_t n, int64_t nr, int64_t nc, float *s,
                   size_t lds, const void *x, size_t bx, const void *y, size_t by);

/* Bytes of one activation row of n elements prepared for t's gemm (0 when
 * n is not a multiple of t's block), its preparation from f32 (the values
 * of vec_dot_type's from_float, plus what the kernel precomputes), and the
 * product (see quant_gemm_fn). The gemm kernels of the quantized types
 * equal the scalar reference vec_dot bit for bit, and those of F16 and
 * BF16 the set's own vec_dot — except avx512 F16 and BF16 calls of
 * QUANT_AMX_MIN_COLS or more columns and rows where quant_amx_bf16()
 * holds: those run on AMX-BF16 tiles in another order, BF16 with every
 * product, F16 with every product but one of at most 2^-16 of it
 * (quant_gemm_test states the bounds); the generic path gives vec_dot's
 * numbers. */
#define QUANT_AMX_MIN_COLS 16
size_t quant_act_bytes(const struct quant_traits *t, int64_t n);
void quant_act_prepare(const struct quant_traits *t, const float *src, void *dst, int64_t n);
void quant_gemm(const struct quant_traits *t, int64_t n, int64_t nr, int64_t nc, float *s,
                size_t lds, const void *x, size_t bx, const void *a, size_t ba);

/* Half and bfloat16 conversions, exact (round to nearest even). */
float fp16_to_f32(uint16_t h);
uint16_t f32_to_fp16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

#endif

/* quant_internal.h — the block structs of every quantized GGUF type (ggml's
 * layouts, byte for byte: little-endian, no padding) and the kernels each
 * quant_*.c file defines for quant.c's traits tables. Private to the quant
 * module; callers use quant.h. Block layouts follow the GGUF spec and ggml's
 * ggml-common.h (QK_K = 256 super-blocks for the K-quants). */
#ifndef GPURUN_ENGINE_QUANT_INTERNAL_H
#define GPURUN_ENGINE_QUANT_INTERNAL_H

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/quant.h"

#define QK4_0        32
#define QK4_1        32
#define QK5_0        32
#define QK5_1        32
#define QK8_0        32
#define QK8_1        32
#define QK_K         256
#define K_SCALE_SIZE 12

/* Below this absolute maximum a group quantizes to all zeros (ggml's
 * GROUP_MAX_EPS), so tiny groups do not produce inf scales. */
#define QUANT_GROUP_MAX_EPS 1e-15f

/* x[i] = d * (q[i] - 8); q[i] in 0..15: low nibbles are elements 0..15,
 * high nibbles 16..31. */
struct block_q4_0 {
	uint16_t d; /* f16 scale */
	uint8_t qs[QK4_0 / 2];
};
static_assert(sizeof(struct block_q4_0) == 18, "block_q4_0 size");

/* x[i] = d * q[i] + m; q[i] in 0..15, nibble order as q4_0. */
struct block_q4_1 {
	uint16_t d; /* f16 scale */
	uint16_t m; /* f16 minimum */
	uint8_t qs[QK4_1 / 2];
};
static_assert(sizeof(struct block_q4_1) == 20, "block_q4_1 size");

/* x[i] = d * (q[i] - 16); q[i] 5 bits: nibble as q4_0, bit 4 in bit i of qh
 * (a little-endian u32). */
struct block_q5_0 {
	uint16_t d;
	uint8_t qh[4];
	uint8_t qs[QK5_0 / 2];
};
static_assert(sizeof(struct block_q5_0) == 22, "block_q5_0 size");

/* x[i] = d * q[i] + m; q[i] as q5_0. */
struct block_q5_1 {
	uint16_t d;
	uint16_t m;
	uint8_t qh[4];
	uint8_t qs[QK5_1 / 2];
};
static_assert(sizeof(struct block_q5_1) == 24, "block_q5_1 size");

/* x[i] = d * qs[i]. */
struct block_q8_0 {
	uint16_t d;
	int8_t qs[QK8_0];
};
static_assert(sizeof(struct block_q8_0) == 34, "block_q8_0 size");

/* x[i] = d * qs[i]; s = d * sum(qs) (f16), used by the q4_1/q5_1 dots. */
struct block_q8_1 {
	uint16_t d;
	uint16_t s;
	int8_t qs[QK8_1];
};
static_assert(sizeof(struct block_q8_1) == 36, "block_q8_1 size");

/* 16 groups of 16: x = d * (scales[g] & 15) * q - dmin * (scales[g] >> 4),
 * q 2 bits. Byte l of each 32-byte half of qs holds 4 groups' values, bit
 * pairs 0-1, 2-3, 4-5, 6-7 for elements l, l+32, l+64, l+96 of that half. */
struct block_q2_K {
	uint8_t scales[QK_K / 16];
	uint8_t qs[QK_K / 4];
	uint16_t d;
	uint16_t dmin;
};
static_assert(sizeof(struct block_q2_K) == 84, "block_q2_K size");

/* 16 groups of 16: x = d * (scale6[g] - 32) * (q2 - (hmask bit ? 0 : 4)).
 * The 6-bit scales are packed into 12 bytes (low nibbles in 0..7, high
 * 2-bit pairs in 8..11). */
struct block_q3_K {
	uint8_t hmask[QK_K / 8];
	uint8_t qs[QK_K / 4];
	uint8_t scales[12];
	uint16_t d;
};
static_assert(sizeof(struct block_q3_K) == 110, "block_q3_K size");

/* 8 groups of 32: x = d * sc[g] * q - dmin * m[g], q 4 bits, sc/m 6 bits
 * packed into 12 bytes (see quant_scale_min_k4). */
struct block_q4_K {
	uint16_t d;
	uint16_t dmin;
	uint8_t scales[K_SCALE_SIZE];
	uint8_t qs[QK_K / 2];
};
static_assert(sizeof(struct block_q4_K) == 144, "block_q4_K size");

/* q4_K plus a fifth bit per value in qh. */
struct block_q5_K {
	uint16_t d;
	uint16_t dmin;
	uint8_t scales[K_SCALE_SIZE];
	uint8_t qh[QK_K / 8];
	uint8_t qs[QK_K / 2];
};
static_assert(sizeof(struct block_q5_K) == 176, "block_q5_K size");

/* 16 groups of 16: x = d * scales[g] * (q - 32), q 6 bits: low 4 in ql,
 * high 2 in qh. */
struct block_q6_K {
	uint8_t ql[QK_K / 2];
	uint8_t qh[QK_K / 4];
	int8_t scales[QK_K / 16];
	uint16_t d;
};
static_assert(sizeof(struct block_q6_K) == 210, "block_q6_K size");

/* Activations for the K-quant dots: x = d * qs; bsums[g] = sum of group g's
 * 16 qs. d is an f32. */
struct block_q8_K {
	float d;
	int8_t qs[QK_K];
	int16_t bsums[QK_K / 16];
};
static_assert(sizeof(struct block_q8_K) == 292, "block_q8_K size");

/* Prepared activations of the gemm kernels (quant_gemm*_avx2.c,
 * quant_gemm*_avx512.c). act8: one Q8_0 activation block for a weight type
 * with code offset OFF: the values of quant_q8_0_from_float_ref, its f16
 * scale as f32, -OFF * sum (each kernel set says which OFF it uses). */
struct act8 {
	int8_t qs[QK8_0];
	float d;
	int32_t off;
};
static_assert(sizeof(struct act8) == 40, "act8 size");

/* act8s: one Q8_1 activation block (the Q4_1 / Q5_1 kernels): the values
 * of quant_q8_1_from_float_ref, its f16 d and s as f32. */
struct act8s {
	int8_t qs[QK8_1];
	float d;
	float s;
};
static_assert(sizeof(struct act8s) == 40, "act8s size");

/* actk: a Q8_K activation block (quant_q8_K_quantize_ref's values) and its
 * group sums as int16 pairs: pairs16 (g, g + 2) and (g + 1, g + 3) for g =
 * 0, 4, 8, 12 (sums of 16); pairs32 the same for the 8 sums of 32. */
struct actk {
	struct block_q8_K q;
	int16_t pairs16[16];
	int16_t pairs32[8];
};
static_assert(sizeof(struct actk) == 340, "actk size");

/* y's pairs16 and pairs32 from its bsums. */
static inline void quant_actk_pairs(struct actk *y)
{
	const int16_t *b = y->q.bsums;
	for (int g = 0; g < 16; g += 4) {
		int16_t p[4] = {b[g], b[g + 2], b[g + 1], b[g + 3]};
		memcpy(y->pairs16 + g, p, sizeof p);
	}
	for (int g = 0; g < 8; g += 4) {
		int16_t s[4];
		for (int k = 0; k < 4; k++)
			s[k] = (int16_t)(b[2 * (g + k)] + b[2 * (g + k) + 1]);
		int16_t p[4] = {s[0], s[2], s[1], s[3]};
		memcpy(y->pairs32 + g, p, sizeof p);
	}
}

/* Rows of fewer than 16 (what the gemm kernels' 16-row stripes leave):
 * the reference vec_dot a block at a time, from prepared activations
 * (struct act8 for the Q8_0-based types, act8s for the Q8_1-based ones,
 * actk for the K-quants); rows in the GGUF form. Plain C, for every set. */
void quant__gemm_small(int type, int64_t nb, int64_t nr, int64_t nc, float *s, size_t lds,
                       const uint8_t *x, size_t bx, const uint8_t *a, size_t ba);

/* Round to nearest, ties to even, for |f| < 2^22 (ggml's nearest_int): the
 * add of 1.5 * 2^23 leaves the rounded integer in the low mantissa bits. */
static inline int quant_nearest_int(float f)
{
	float v = f + 12582912.f;
	int32_t i;
	memcpy(&i, &v, sizeof i);
	return (i & 0x007fffff) - 0x00400000;
}

/* The j-th (0..7) 6-bit scale and min of a q4_K/q5_K block. */
static inline void quant_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
	if (j < 4) {
		*d = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
		*m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
	}
}

/* The 16 signed 6-bit scales (-32..31) of a q3_K block: low nibbles in
 * bytes 0..7 (groups 0..7 low, 8..15 high), high bit pairs in bytes 8..11
 * (group j: byte 8 + j%4, pair j/4). Four 32-bit steps. */
static inline void quant_q3_K_scales(const uint8_t packed[12], int8_t out[16])
{
	uint32_t a[4], tmp;
	memcpy(a, packed, 12);
	tmp = a[2];
	a[2] = ((a[0] >> 4) & 0x0f0f0f0fu) | (((tmp >> 4) & 0x03030303u) << 4);
	a[3] = ((a[1] >> 4) & 0x0f0f0f0fu) | (((tmp >> 6) & 0x03030303u) << 4);
	a[0] = (a[0] & 0x0f0f0f0fu) | (((tmp >> 0) & 0x03030303u) << 4);
	a[1] = (a[1] & 0x0f0f0f0fu) | (((tmp >> 2) & 0x03030303u) << 4);
	memcpy(out, a, 16);
	for (int j = 0; j < 16; j++)
		out[j] = (int8_t)(out[j] - 32);
}

/* The 8 scales (out[0..7]) and 8 mins (out[8..15]) of a q4_K/q5_K block,
 * as quant_scale_min_k4 reads them, in four 32-bit steps. */
static inline void quant_k4_scales(const uint8_t packed[12], uint8_t out[16])
{
	uint32_t u[4];
	memcpy(u, packed, 12);
	u[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
	uint32_t mins_lo = u[1] & 0x3f3f3f3fu;
	u[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
	u[2] = mins_lo;
	u[0] &= 0x3f3f3f3fu;
	memcpy(out, u, 16);
}

/* f16 -> f32 for every half (filled by quant_init): SIMD kernels read
 * block scales with a broadcast load from it instead of converting in the
 * shuffle port. */
extern float quant__fp16_table[65536];

/* Scalar references (quant_legacy_ref.c, quant_kquants_ref.c,
 * quant_kquantize_ref.c): the spec every variant is tested against. */
#define QUANT_DECL_TYPE(t)                                                                         \
	void quant_##t##_to_float_ref(const void *src, float *dst, int64_t n);                     \
	void quant_##t##_quantize_ref(const float *src, void *dst, int64_t n);                     \
	void quant_##t##_vec_dot_ref(int64_t n, float *s, const void *x, const void *y);
QUANT_DECL_TYPE(f32)
QUANT_DECL_TYPE(f16)
QUANT_DECL_TYPE(bf16)
QUANT_DECL_TYPE(q4_0)
QUANT_DECL_TYPE(q4_1)
QUANT_DECL_TYPE(q5_0)
QUANT_DECL_TYPE(q5_1)
QUANT_DECL_TYPE(q8_0)
QUANT_DECL_TYPE(q8_1)
QUANT_DECL_TYPE(q2_K)
QUANT_DECL_TYPE(q3_K)
QUANT_DECL_TYPE(q4_K)
QUANT_DECL_TYPE(q5_K)
QUANT_DECL_TYPE(q6_K)
QUANT_DECL_TYPE(q8_K)
#undef QUANT_DECL_TYPE

/* Activation conversion as llama.cpp's x86 CPU backend does it (its SIMD
 * quantize_row_q8_0/q8_1): scale 127/amax and round half to even. The
 * weight quantizers above use 1/(amax/127) and round half away from zero,
 * as llama-quantize writes files. */
void quant_q8_0_from_float_ref(const float *src, void *dst, int64_t n);
void quant_q8_1_from_float_ref(const float *src, void *dst, int64_t n);

/* SIMD variants (quant_*_avx2.c, quant_*_avx512.c). Each fills the entries
 * it implements into a table (indexed by type, GGML_TYPE_COUNT entries) that
 * starts as a copy of the level below. */
void quant__fill_legacy_avx2(struct quant_traits *table);
void quant__fill_kquants_avx2(struct quant_traits *table);
void quant__fill_gemm_avx2(struct quant_traits *table);
void quant__fill_gemmk23_avx2(struct quant_traits *table);
void quant__fill_gemml_avx2(struct quant_traits *table);
/* The packed form of Q2_K (both sets) and of Q3_K in the avx2 set
 * (quant_kquants_ref.c): blocks [0, nb) of 16 rows, dword v of each block
 * as a 64-byte vector. */
void quant__pack16_dwords(const uint8_t *x, size_t bx, int64_t nb, size_t bs, uint8_t *o);
void quant__q2_K_pack16(const void *src, size_t bx, void *dst);
void quant__fill_gemmf_avx2(struct quant_traits *table);
void quant__fill_legacy_avx512(struct quant_traits *table);
void quant__fill_kquants_avx512(struct quant_traits *table);
void quant__fill_matdot_avx512(struct quant_traits *table);
void quant__fill_gemm_avx512(struct quant_traits *table);
void quant__fill_gemml_avx512(struct quant_traits *table);
void quant__fill_gemmk_avx512(struct quant_traits *table);
void quant__fill_gemmk23_avx512(struct quant_traits *table);
void quant__fill_gemmf_avx512(struct quant_traits *table);
/* AMX for the avx512 set's prefill tiles (quant_amx_avx512.c):
 * quant__amx_init() asks the OS for the tile state once and sets
 * quant__amx (AMX-INT8 usable) and quant__amx_bf16 (AMX-BF16 and
 * AVX512-BF16); both stay false without AMX or with GPURUN_AMX=0. A kernel
 * calls quant__amx_use(its configuration) before its first tile op. */
enum quant_amx_cfg { QUANT_AMX_NONE, QUANT_AMX_INT8, QUANT_AMX_BF16 };
extern bool quant__amx, quant__amx_bf16;
void quant__amx_init(void);
void quant__amx_use(int which);
/* F16 and BF16 prefill on AMX-BF16 (quant_amxf_avx512.c): activation
 * rows prepared per 32-element block as the 32 bf16 values (BF16: its
 * vec_dot_type, 64 bytes) or as F16 (llama.cpp's vec_dot_type) split into
 * bfloat16 pairs (128 bytes), zeros past n; and the product of such rows
 * (ba bytes apart) with F16 or BF16 weight rows (ldw elements apart) as
 * quant_gemm_fn lays it out; nr, nc >= 1. False (nothing written) when the
 * thread's scratch cannot be allocated. */
#define QUANT_F16X_BLOCK                                                                           \
	128 /* prepared F16 bytes per 32-element block: the 32                                     \
	       bf16 high parts, then the 32 rests */
size_t quant__f16x_act_bytes(int64_t n);
void quant__f16x_act_prepare(const float *x, void *y, int64_t n);
bool quant__amx_f16_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds, const uint16_t *w,
                         size_t ldw, const uint8_t *a, size_t ba);
size_t quant__bf16x_act_bytes(int64_t n);
void quant__bf16x_act_prepare(const float *x, void *y, int64_t n);
bool quant__amx_bf16_gemm(int64_t n, int64_t nr, int64_t nc, float *s, size_t lds,
                          const uint16_t *w, size_t ldw, const uint8_t *a, size_t ba);

/* Decode's prefetch in a packed stripe, shared by the avx2 and avx512
 * sets: each line twice, QUANT_PF_FAR bytes ahead into L2 and
 * QUANT_PF_NEAR ahead into L1. One distance (4 KiB; 2-8 KiB measured
 * alike) into L1 (Q4_0/Q8_0) or L2 (K-quants) streamed at 90% of a pure
 * read; the two levels 94-97% (db3 harness, 2 threads: Q4_0 +4-7%, Q8_0
 * +4.5%, Q4_K +2.7%, Q6_K +7%): the far one keeps enough lines in flight,
 * the near one has them in L1 when the loads come. */
#define QUANT_PF_FAR  8192
#define QUANT_PF_NEAR 2048

static inline __attribute__((always_inline)) void quant_prefetch_2(const void *p)
{
	__builtin_prefetch((const char *)p + QUANT_PF_FAR, 0, 2);  /* prefetcht1 */
	__builtin_prefetch((const char *)p + QUANT_PF_NEAR, 0, 3); /* prefetcht0 */
}

/* Step s of `steps` of a packed block of `bytes` at p (Q4_K and Q5_K: 8
 * steps of codes, Q6_K 4 or 8, Q2_K and Q3_K 8 or 16): its share of the
 * block's lines prefetched (quant_prefetch_2), so that the requests spread
 * over the block's work. Issued in one burst at the block's start, 36
 * lines (Q4_K) to 52 (Q6_K) at a time, they held up the loads behind them:
 * Q4_K (avx512) streamed from memory at 13.2-13.7 GB/s on one core against
 * 15.2-15.9 spread (a read: about 15.4), 26.2 against 29.2-29.8 on two. */
static inline __attribute__((always_inline)) void quant_prefetch_step(const void *p, int bytes,
                                                                     int s, int steps)
{
	const int lines = (bytes + 63) / 64;
#pragma GCC unroll 16
	for (int l = s * lines / steps; l < (s + 1) * lines / steps; l++)
		quant_prefetch_2((const char *)p + 64 * l);
}

#endif

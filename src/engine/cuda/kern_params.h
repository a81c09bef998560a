/* kern_params.h — the parameters of every CUDA kernel, one struct each,
 * passed by value as the kernel's only argument: the host (cuda_*.c) fills
 * them and the kernels (kern_*.cu) read them, so both sides share one
 * definition. Device addresses are uint64_t. Not here: the kernels. */
#ifndef GPURUN_ENGINE_CUDA_KERN_PARAMS_H
#define GPURUN_ENGINE_CUDA_KERN_PARAMS_H

#include "engine/cuda/kern_blocks.h"

#define KP_MV_WARPS   4   /* matvec: output rows (one per warp) per block */
#define KP_MAX_JOBS   3   /* matvec: matrices sharing an input in one launch */
#define KP_ATTN_CHUNK 128 /* attention: key positions per chunk (absolute) */
#define KP_THREADS    256 /* threads per block of the row kernels */

/* One row of a forward pass as the kernels see it. */
struct kb_row {
	int32_t token;
	int32_t pos;   /* position in its sequence */
	int32_t n_ctx; /* of its sequence's KV cache */
	int32_t pad_;
	uint64_t kv; /* its sequence's KV cache: per layer K (n_ctx, kv_dim_k), then
	              * V (n_ctx, kv_dim_v), in the KV type */
};

/* y[j][(col) * ldy + row] = W_j x[col] for the jobs' rows and columns
 * [col0, col0 + NC * gridDim.y). All jobs have the same type. */
struct kp_mv_job {
	struct kb_mat w;
	uint64_t y; /* float */
	int64_t ldy;
};
struct kp_mv {
	struct kp_mv_job job[KP_MAX_JOBS];
	struct kb_act act;
	int64_t col0;
};

/* Activations x (n_rows, ldx floats) converted to a vec_dot_type into act
 * (layout in kern_blocks.h), n elements per row. */
struct kp_quant {
	uint64_t x;
	int64_t ldx, n, n_rows;
	struct kb_act act;
};

/* y = RMSNorm(x) * w per row (rows idx[i] of x when idx, else row i). */
struct kp_norm {
	uint64_t x, y, w, idx;
	int64_t ldx, ldy, n, n_rows;
	float eps;
};

/* x += w ? RMSNorm(o) * w : o per row. */
struct kp_residual {
	uint64_t x, o, w;
	int64_t ldx, ldo, n, n_rows;
	float eps;
};

/* g = act(g) * u: SiLU, or GELU through the engine's F16 table. */
struct kp_act {
	uint64_t g, u, table; /* table: 65536 floats, GELU of every half */
	int64_t ld, n, n_rows;
	int32_t gelu, pad_;
};

/* x[i] = dequant(w row rows[i].token) * scale. */
struct kp_embed {
	struct kb_mat w;
	uint64_t rows, x;
	int64_t ldx, n_rows;
	float scale;
};

/* Per (row, head): biases, per-head RMS norm, RoPE (cos/sin pairs from
 * rope: (n_rows, n_rot)), Q pre-scale; K and V stored into the cache. */
struct kp_qk {
	uint64_t qkv, rows, rope;
	uint64_t bq, bk, bv, qn, kn; /* or 0 */
	int64_t ld, n_rows;
	int32_t n_head, n_head_kv, dk, dv, n_rot, neox, prescale, kv_f16, il, pad_;
	float kq_scale, eps;
};

/* Attention of rows [row0, row0 + gridDim.z) over their caches: scores
 * (per absolute chunk of KP_ATTN_CHUNK positions), softmax, P V per chunk,
 * and the reduction over chunks into out (n_rows, n_head * dv). */
struct kp_attn {
	uint64_t qkv, rows, s, cmax, part, out;
	int64_t ld, ld_out, ctx_cap; /* s: (rows, n_head, ctx_cap) floats */
	int32_t n_head, n_head_kv, dk, dv, il, window, kv_f16, n_chunks, row0, pad_;
	float scale, softcap;
};

/* y += bias; y = softcap(y) per row of n. */
struct kp_post {
	uint64_t y, bias;
	int64_t ld, n, n_rows;
	float softcap;
};

/* out[i] = the index of the largest y of row i (the lowest on ties). */
struct kp_argmax {
	uint64_t y, out;
	int64_t ld, n, n_rows;
};

/* GGUF blocks (raw, n_blocks of block_bytes) into field arrays. */
struct kp_repack {
	uint64_t raw, dst[KB_MAX_FIELDS];
	int32_t off[KB_MAX_FIELDS], size[KB_MAX_FIELDS];
	int32_t n_fields, block_bytes;
	int64_t n_blocks;
};

/* Float rows (n_out rows of n_in elements of es bytes) into zero-padded
 * 16-byte chunks, nb per row. */
struct kp_repack_rows {
	uint64_t raw, dst;
	int64_t n_in, n_out, nb;
	int32_t es, pad_;
};

#endif

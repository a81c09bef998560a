/* kern_matvec.cu — y = W x for decode and prefill: one warp per output row,
 * NC (1, 2, 4 or 8) activation rows per launch column, weights in the packed
 * field layout (128-bit loads), activations already converted to the
 * weight's vec_dot_type (kern_quant.cu). The per-lane arithmetic is
 * kern_blocks.h's: each output is computed the same way whatever NC or the
 * batch (bit-identical across batch compositions). Not here: tensor-core
 * GEMM tiles (see docs/gpu.md). */
#include "engine/cuda/kern_common.cuh"

template <int T, int NC>
__device__ __forceinline__ void mv_lane(const struct kb_mat *w, int64_t row, const struct kb_act *a,
                                        int64_t col0, int lane, float *acc)
{
	if (T == KB_Q4_0)
		kb_lane_q4_0(w, row, a, col0, NC, lane, acc);
	else if (T == KB_Q8_0)
		kb_lane_q8_0(w, row, a, col0, NC, lane, acc);
	else if (T == KB_F16)
		kb_lane_f16(w, row, a, col0, NC, lane, acc);
	else
		kb_lane_f32(w, row, a, col0, NC, lane, acc);
}

/* K-quants: four lanes per super-block, integer parts summed over the four
 * by shuffles (exact), the float term added by the first of the four. */
template <int T, int NC>
__device__ __forceinline__ void mv_lane_k(const struct kb_mat *w, int64_t row,
                                          const struct kb_act *a, int64_t col0, int lane,
                                          float *acc)
{
	const int sub = lane >> 2, c4 = lane & 3;
#pragma unroll 2
	for (int64_t base = 0; base < w->nb; base += KB_LANES / 4) {
		const int64_t sb = base + sub;
		const bool ok = sb < w->nb;
		const int64_t i = row * w->nb + sb;
		uint32_t q[8] = {0}, sc[4] = {0}, qa[4] = {0}, qb[4] = {0}, qh[4] = {0};
		if (ok) {
			if (T == KB_Q4_K)
				kb_q4_K_load(w, i, c4, q, sc);
			else
				kb_q6_K_load(w, i, c4, qa, qb, qh, sc);
		}
#pragma unroll
		for (int c = 0; c < NC; c++) {
			const int64_t j = (col0 + c) * a->nb + sb;
			int isum = 0, summs = 0;
			if (ok) {
				if (T == KB_Q4_K)
					kb_q4_K_part(a, j, c4, q, sc, &isum, &summs);
				else
					isum = kb_q6_K_part(a, j, c4, qa, qb, qh, sc);
			}
			isum += __shfl_xor_sync(FULL_MASK, isum, 1);
			isum += __shfl_xor_sync(FULL_MASK, isum, 2);
			if (T == KB_Q4_K) {
				summs += __shfl_xor_sync(FULL_MASK, summs, 1);
				summs += __shfl_xor_sync(FULL_MASK, summs, 2);
			}
			if (ok && c4 == 0) {
				const float da = kb_ldf(KB_PTR(a->d) + j * 4);
				const float t = T == KB_Q4_K ? kb_q4_K_term(w, i, da, isum, summs)
				                             : kb_q6_K_term(w, i, da, isum);
				acc[c] = __fadd_rn(acc[c], t);
			}
		}
	}
}

template <int T, int NC> __device__ __forceinline__ void mv_body(const struct kp_mv &p)
{
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	const struct kp_mv_job *jb = &p.job[blockIdx.z];
	const int64_t row = (int64_t)blockIdx.x * KP_MV_WARPS + warp;
	if (row >= jb->w.n_out)
		return;
	const int64_t col0 = p.col0 + (int64_t)blockIdx.y * NC;
	float acc[NC];
#pragma unroll
	for (int c = 0; c < NC; c++)
		acc[c] = 0.0f;
	if (T == KB_Q4_K || T == KB_Q6_K)
		mv_lane_k<T, NC>(&jb->w, row, &p.act, col0, lane, acc);
	else
		mv_lane<T, NC>(&jb->w, row, &p.act, col0, lane, acc);
	float mine = 0.0f;
#pragma unroll
	for (int c = 0; c < NC; c++) {
		const float v = warp_sum(acc[c]);
		if (lane == c)
			mine = v;
	}
	if (lane < NC)
		((float *)jb->y)[(col0 + lane) * jb->ldy + row] = mine;
}

#define MV_THREADS (32 * KP_MV_WARPS)

#define MV(tname, T)                                                                               \
	GR_KERNEL_B(gr_mv_##tname##_1, struct kp_mv, MV_THREADS)                                   \
	{                                                                                          \
		mv_body<T, 1>(p);                                                                  \
	}                                                                                          \
	GR_KERNEL_B(gr_mv_##tname##_2, struct kp_mv, MV_THREADS)                                   \
	{                                                                                          \
		mv_body<T, 2>(p);                                                                  \
	}                                                                                          \
	GR_KERNEL_B(gr_mv_##tname##_4, struct kp_mv, MV_THREADS)                                   \
	{                                                                                          \
		mv_body<T, 4>(p);                                                                  \
	}                                                                                          \
	GR_KERNEL_B(gr_mv_##tname##_8, struct kp_mv, MV_THREADS)                                   \
	{                                                                                          \
		mv_body<T, 8>(p);                                                                  \
	}

MV(f32, KB_F32)
MV(f16, KB_F16)
MV(q4_0, KB_Q4_0)
MV(q8_0, KB_Q8_0)
MV(q4_K, KB_Q4_K)
MV(q6_K, KB_Q6_K)

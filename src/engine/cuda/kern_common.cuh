/* kern_common.cuh — device helpers shared by the kernel files: fixed-order
 * warp and block reductions (so a result never depends on the grid or the
 * batch), the per-row RMS scale as the CPU computes it, and the kernel
 * declaration macro (extern "C": the host looks kernels up by name). */
#ifndef GPURUN_ENGINE_CUDA_KERN_COMMON_CUH
#define GPURUN_ENGINE_CUDA_KERN_COMMON_CUH

#include "engine/cuda/kern_params.h"

/* A kernel of at most `threads` threads per block, looked up by name. */
#define GR_KERNEL_B(name, P, threads)                                                              \
	extern "C" __global__ void __launch_bounds__(threads) name(const P p)
#define GR_KERNEL(name, P) GR_KERNEL_B(name, P, KP_THREADS)

#define FULL_MASK 0xffffffffu

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
	for (int s = 16; s >= 1; s /= 2)
		v = __fadd_rn(v, __shfl_xor_sync(FULL_MASK, v, s));
	return v;
}

__device__ __forceinline__ double warp_sum_d(double v)
{
#pragma unroll
	for (int s = 16; s >= 1; s /= 2)
		v = __dadd_rn(v, __shfl_xor_sync(FULL_MASK, v, s));
	return v;
}

__device__ __forceinline__ int warp_sum_i(int v)
{
#pragma unroll
	for (int s = 16; s >= 1; s /= 2)
		v += __shfl_xor_sync(FULL_MASK, v, s);
	return v;
}

__device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
	for (int s = 16; s >= 1; s /= 2)
		v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, s));
	return v;
}

/* Sum over the block (blockDim.x a multiple of 32) in a fixed tree; every
 * thread gets the result. sh: 32 doubles of shared memory. */
__device__ __forceinline__ double block_sum_d(double v, double *sh)
{
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	v = warp_sum_d(v);
	__syncthreads(); /* sh may still be read by a previous call */
	if (lane == 0)
		sh[warp] = v;
	__syncthreads();
	v = lane < (int)(blockDim.x >> 5) ? sh[lane] : 0.0;
	v = warp_sum_d(v);
	return v;
}

__device__ __forceinline__ float block_max(float v, float *sh)
{
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	v = warp_max(v);
	__syncthreads();
	if (lane == 0)
		sh[warp] = v;
	__syncthreads();
	v = lane < (int)(blockDim.x >> 5) ? sh[lane] : -INFINITY;
	return warp_max(v);
}

/* 1 / sqrt(mean(x^2) + eps) over n floats, as ops_rmsnorm: squares in
 * float, summed in double. All threads of the block call it. */
__device__ __forceinline__ float row_rms_scale(const float *x, int64_t n, float eps, double *sh)
{
	double s = 0.0;
	for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
		s = __dadd_rn(s, (double)__fmul_rn(x[i], x[i]));
	s = block_sum_d(s, sh);
	const float mean = (float)(s / (double)n);
	return __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, eps)));
}

#endif

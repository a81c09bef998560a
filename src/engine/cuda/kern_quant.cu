/* kern_quant.cu — activations converted to a weight type's vec_dot_type on
 * the device, bit for bit as the CPU converts them (quant_*_ref.c): Q8_0
 * (scale 127/amax, round half to even, d rounded to F16), Q8_K (scale by
 * the signed extreme, -127/max, group sums of 16) and F16. Rows are
 * zero-padded to whole blocks. Not here: the dot products (kern_matvec.cu). */
#include "engine/cuda/kern_common.cuh"

/* One warp per 32-element block. */
GR_KERNEL(gr_quant_q8_0, struct kp_quant)
{
	const int lane = threadIdx.x & 31;
	const int64_t nb = p.act.nb;
	const int64_t gb = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	if (gb >= nb * p.n_rows)
		return;
	const int64_t row = gb / nb, b = gb % nb;
	const float x = ((const float *)p.x)[row * p.ldx + b * 32 + lane];
	const float amax = warp_max(fabsf(x));
	const float id = amax != 0.0f ? __fdiv_rn(127.0f, amax) : 0.0f;
	((int8_t *)p.act.qs)[gb * 32 + lane] = (int8_t)__float2int_rn(__fmul_rn(x, id));
	if (lane == 0)
		((float *)p.act.d)[gb] = kb_h2f(kb_f2h(__fdiv_rn(amax, 127.0f)));
}

/* One block of 256 threads per 256-element super-block. The extreme is
 * the first element of largest magnitude, as the reference's strict '>'. */
GR_KERNEL(gr_quant_q8_K, struct kp_quant)
{
	__shared__ float sv[8];
	__shared__ int si[8];
	const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
	const int64_t nb = p.act.nb, gb = blockIdx.x;
	const int64_t row = gb / nb, b = gb % nb;
	const float x = ((const float *)p.x)[row * p.ldx + b * 256 + t];
	float a = fabsf(x);
	int idx = t;
#pragma unroll
	for (int s = 16; s >= 1; s /= 2) {
		float oa = __shfl_xor_sync(FULL_MASK, a, s);
		int oi = __shfl_xor_sync(FULL_MASK, idx, s);
		if (oa > a || (oa == a && oi < idx))
			a = oa, idx = oi;
	}
	if (lane == 0)
		sv[warp] = a, si[warp] = idx;
	__syncthreads();
	float amax = sv[0];
	int first = si[0];
	for (int w = 1; w < 8; w++)
		if (sv[w] > amax || (sv[w] == amax && si[w] < first))
			amax = sv[w], first = si[w];
	int8_t *qs = (int8_t *)p.act.qs + gb * 256;
	int16_t *bs = (int16_t *)p.act.bs + gb * 16;
	if (amax == 0.0f) {
		qs[t] = 0;
		if (t < 16)
			bs[t] = 0;
		if (t == 0)
			((float *)p.act.d)[gb] = 0.0f;
		return;
	}
	const float max = ((const float *)p.x)[row * p.ldx + b * 256 + first];
	const float iscale = __fdiv_rn(-127.0f, max);
	int v = __float2int_rn(__fmul_rn(iscale, x));
	v = v < 127 ? v : 127;
	qs[t] = (int8_t)v;
	int s16 = v;
#pragma unroll
	for (int s = 8; s >= 1; s /= 2)
		s16 += __shfl_xor_sync(FULL_MASK, s16, s);
	if ((t & 15) == 0)
		bs[t >> 4] = (int16_t)s16;
	if (t == 0)
		((float *)p.act.d)[gb] = __fdiv_rn(1.0f, iscale);
}

/* One thread per element of the padded row (nb chunks of 8 halves). */
GR_KERNEL(gr_quant_f16, struct kp_quant)
{
	const int64_t per_row = p.act.nb * 8;
	const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (e >= per_row * p.n_rows)
		return;
	const int64_t row = e / per_row, k = e % per_row;
	const float x = k < p.n ? ((const float *)p.x)[row * p.ldx + k] : 0.0f;
	((uint16_t *)p.act.qs)[e] = kb_f2h(x);
}

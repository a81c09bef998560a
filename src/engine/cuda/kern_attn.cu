/* kern_attn.cu — attention of a batch of rows over their sequences' KV
 * caches on the device, computed as attention.c computes it (llama.cpp
 * without flash attention): q rounded to the KV type, scores K q, soft-cap,
 * scale, softmax with max and a double sum over all keys, probabilities
 * rounded to the KV type, then V^T p. Work is split over the key positions
 * in absolute chunks of KP_ATTN_CHUNK (decode runs as chunks x heads
 * blocks), with a final reduction over the chunks in order, so a row's
 * result never depends on the batch. Four kernels: scores, softmax, P V,
 * reduce. Not here: the K/V store (kern_ops.cu, gr_qk_prep). */
#include "engine/cuda/kern_common.cuh"

struct span {
	int64_t lo, hi; /* keys [lo, hi] of the row, both inclusive */
};

__device__ __forceinline__ struct span row_span(const struct kp_attn &p, const struct kb_row *r)
{
	struct span s;
	s.hi = r->pos;
	s.lo = p.window > 0 && r->pos >= p.window ? (int64_t)r->pos - p.window + 1 : 0;
	return s;
}

/* Byte offset of layer il's K (V when v) in a row's cache, element units. */
__device__ __forceinline__ int64_t kv_at(const struct kp_attn &p, const struct kb_row *r, bool v)
{
	const int64_t nk = (int64_t)p.n_head_kv * p.dk, nv = (int64_t)p.n_head_kv * p.dv;
	return (int64_t)p.il * r->n_ctx * (nk + nv) + (v ? (int64_t)r->n_ctx * nk : 0);
}

__device__ __forceinline__ float kv_round(float x, int f16)
{
	return f16 ? kb_h2f(kb_f2h(x)) : x;
}

/* grid (n_chunks, n_head, rows), KP_ATTN_CHUNK threads: one key each. */
GR_KERNEL_B(gr_attn_scores, struct kp_attn, KP_ATTN_CHUNK)
{
	__shared__ float q[512];
	__shared__ float sh[32];
	const int h = blockIdx.y, c = blockIdx.x;
	const int64_t z = blockIdx.z, i = p.row0 + z;
	const struct kb_row *r = (const struct kb_row *)p.rows + i;
	const struct span sp = row_span(p, r);
	const int64_t first = (int64_t)c * KP_ATTN_CHUNK;
	if (first > sp.hi)
		return;
	const float *qs = (const float *)p.qkv + i * p.ld + (int64_t)h * p.dk;
	for (int d = threadIdx.x; d < p.dk; d += blockDim.x)
		q[d] = kv_round(qs[d], p.kv_f16);
	__syncthreads();
	const int g = h / (p.n_head / p.n_head_kv);
	const int64_t k = first + threadIdx.x, nk = (int64_t)p.n_head_kv * p.dk;
	float v = -INFINITY;
	if (k >= sp.lo && k <= sp.hi) {
		const int64_t at = kv_at(p, r, false) + k * nk + (int64_t)g * p.dk;
		float acc = 0.0f;
		if (p.kv_f16) {
			const uint16_t *kr = (const uint16_t *)r->kv + at;
			for (int d = 0; d < p.dk; d += 8) {
				uint32_t u[4];
				kb_ld16(kr + d, u);
#pragma unroll
				for (int t = 0; t < 8; t++)
					acc = __fadd_rn(
					    acc, __fmul_rn(q[d + t],
					                   kb_h2f((uint16_t)(u[t / 2] >>
					                                     (16 * (t % 2))))));
			}
		} else {
			const float *kr = (const float *)r->kv + at;
			for (int d = 0; d < p.dk; d++)
				acc = __fadd_rn(acc, __fmul_rn(q[d], kr[d]));
		}
		if (p.softcap > 0.0f)
			acc =
			    __fmul_rn(tanhf(__fmul_rn(acc, __fdiv_rn(1.0f, p.softcap))), p.softcap);
		v = __fmul_rn(acc, p.scale);
		((float *)p.s)[(z * p.n_head + h) * p.ctx_cap + k] = v;
	}
	const float m = block_max(v, sh);
	if (threadIdx.x == 0)
		((float *)p.cmax)[(z * p.n_head + h) * p.n_chunks + c] = m;
}

/* grid (n_head, rows), KP_THREADS threads: scores become probabilities
 * rounded to the KV type, in place. */
GR_KERNEL(gr_attn_softmax, struct kp_attn)
{
	__shared__ float shf[32];
	__shared__ double shd[32];
	const int h = blockIdx.x;
	const int64_t z = blockIdx.y, i = p.row0 + z;
	const struct kb_row *r = (const struct kb_row *)p.rows + i;
	const struct span sp = row_span(p, r);
	const float *cm = (const float *)p.cmax + (z * p.n_head + h) * p.n_chunks;
	float m = -INFINITY;
	for (int64_t c = threadIdx.x; c <= sp.hi / KP_ATTN_CHUNK; c += blockDim.x)
		m = fmaxf(m, cm[c]);
	m = block_max(m, shf);
	float *s = (float *)p.s + (z * p.n_head + h) * p.ctx_cap;
	double sum = 0.0;
	for (int64_t k = sp.lo + threadIdx.x; k <= sp.hi; k += blockDim.x) {
		const float e = expf(__fsub_rn(s[k], m));
		s[k] = e;
		sum = __dadd_rn(sum, (double)e);
	}
	sum = block_sum_d(sum, shd);
	const float inv = (float)(1.0 / sum);
	for (int64_t k = sp.lo + threadIdx.x; k <= sp.hi; k += blockDim.x)
		s[k] = kv_round(__fmul_rn(s[k], inv), p.kv_f16);
}

/* grid (n_chunks, n_head, rows), KP_ATTN_CHUNK threads over the value
 * dimensions: the chunk's part of V^T p, keys in increasing order. */
GR_KERNEL_B(gr_attn_pv, struct kp_attn, KP_ATTN_CHUNK)
{
	const int h = blockIdx.y, c = blockIdx.x;
	const int64_t z = blockIdx.z, i = p.row0 + z;
	const struct kb_row *r = (const struct kb_row *)p.rows + i;
	const struct span sp = row_span(p, r);
	const int64_t first = (int64_t)c * KP_ATTN_CHUNK;
	if (first > sp.hi)
		return;
	const int g = h / (p.n_head / p.n_head_kv);
	const int64_t nv = (int64_t)p.n_head_kv * p.dv;
	const int64_t lo = first > sp.lo ? first : sp.lo;
	const int64_t hi = first + KP_ATTN_CHUNK - 1 < sp.hi ? first + KP_ATTN_CHUNK - 1 : sp.hi;
	const float *pr = (const float *)p.s + (z * p.n_head + h) * p.ctx_cap;
	const int64_t base = kv_at(p, r, true) + (int64_t)g * p.dv;
	float *part = (float *)p.part + ((z * p.n_head + h) * p.n_chunks + c) * p.dv;
	for (int d = threadIdx.x; d < p.dv; d += blockDim.x) {
		float acc = 0.0f;
		for (int64_t k = lo; k <= hi; k++) {
			const float x = p.kv_f16
			                    ? kb_h2f(((const uint16_t *)r->kv)[base + k * nv + d])
			                    : ((const float *)r->kv)[base + k * nv + d];
			acc = __fadd_rn(acc, __fmul_rn(pr[k], x));
		}
		part[d] = acc;
	}
}

/* grid (n_head, rows), threads over the value dimensions: the sum of the
 * chunks' parts in chunk order. */
GR_KERNEL(gr_attn_reduce, struct kp_attn)
{
	const int h = blockIdx.x;
	const int64_t z = blockIdx.y, i = p.row0 + z;
	const struct kb_row *r = (const struct kb_row *)p.rows + i;
	const int64_t last = r->pos / KP_ATTN_CHUNK;
	const float *part = (const float *)p.part + (z * p.n_head + h) * p.n_chunks * p.dv;
	float *out = (float *)p.out + i * p.ld_out + (int64_t)h * p.dv;
	for (int d = threadIdx.x; d < p.dv; d += blockDim.x) {
		float acc = 0.0f;
		for (int64_t c = 0; c <= last; c++)
			acc = __fadd_rn(acc, part[c * p.dv + d]);
		out[d] = acc;
	}
}

/* kern_ops.cu — the row-wise operations of the block on the device, each
 * computed as ops.c computes it on the CPU: RMSNorm (squares summed in
 * double), residual adds with optional post-norms, SiLU / table GELU
 * gating, the embedding lookup, per-head Q/K preparation (biases, head
 * norms, RoPE from host-computed cos/sin, pre-scale) with the KV-cache
 * store, logit bias and soft-cap, argmax, and the weight repacking done
 * once at load. Not here: matvec (kern_matvec.cu), attention (kern_attn.cu). */
#include "engine/cuda/kern_common.cuh"

/* One block per row. */
GR_KERNEL(gr_rmsnorm, struct kp_norm)
{
	__shared__ double sh[32];
	const int64_t i = blockIdx.x;
	const int64_t src = p.idx ? ((const int32_t *)p.idx)[i] : i;
	const float *x = (const float *)p.x + src * p.ldx;
	const float *w = (const float *)p.w;
	float *y = (float *)p.y + i * p.ldy;
	const float scale = row_rms_scale(x, p.n, p.eps, sh);
	for (int64_t e = threadIdx.x; e < p.n; e += blockDim.x)
		y[e] = __fmul_rn(__fmul_rn(x[e], scale), w[e]);
}

/* One block per row: x = (w ? RMSNorm(o) * w : o) + x. */
GR_KERNEL(gr_residual, struct kp_residual)
{
	__shared__ double sh[32];
	const int64_t i = blockIdx.x;
	const float *o = (const float *)p.o + i * p.ldo;
	float *x = (float *)p.x + i * p.ldx;
	const float *w = (const float *)p.w;
	const float scale = w ? row_rms_scale(o, p.n, p.eps, sh) : 1.0f;
	for (int64_t e = threadIdx.x; e < p.n; e += blockDim.x) {
		const float t = w ? __fmul_rn(__fmul_rn(o[e], scale), w[e]) : o[e];
		x[e] = __fadd_rn(t, x[e]);
	}
}

/* One thread per element: g = act(g) * u. */
GR_KERNEL(gr_act, struct kp_act)
{
	const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (e >= p.n * p.n_rows)
		return;
	const int64_t at = (e / p.n) * p.ld + e % p.n;
	float *g = (float *)p.g + at;
	const float u = ((const float *)p.u)[at], x = *g;
	float y;
	if (!p.gelu)
		y = __fdiv_rn(x, __fadd_rn(1.0f, expf(-x)));
	else if (x <= -10.0f)
		y = 0.0f;
	else if (x >= 10.0f)
		y = x;
	else
		y = ((const float *)p.table)[kb_f2h(x)];
	*g = __fmul_rn(y, u);
}

/* Thread per (row, weight block): the token's embedding row. */
GR_KERNEL(gr_embed, struct kp_embed)
{
	const int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
	const int64_t i = blockIdx.y;
	if (b >= p.w.nb)
		return;
	struct kb_layout l;
	kb_layout_get(p.w.type, &l);
	const struct kb_row *r = (const struct kb_row *)p.rows + i;
	float v[256];
	kb_dequant(&p.w, r->token, b, v);
	float *x = (float *)p.x + i * p.ldx;
	for (int k = 0; k < l.block_elems; k++) {
		const int64_t e = b * l.block_elems + k;
		if (e < p.w.n_in)
			x[e] = __fmul_rn(v[k], p.scale);
	}
}

/* RoPE on v (shared, head_dim floats) with cos/sin pairs cs; all threads. */
__device__ void rope_head(float *v, const float *cs, int n_rot, int neox)
{
	for (int i = 2 * threadIdx.x; i < n_rot; i += 2 * blockDim.x) {
		const float c = cs[i], s = cs[i + 1];
		const int a = neox ? i / 2 : i, b = neox ? i / 2 + n_rot / 2 : i + 1;
		const float x0 = v[a], x1 = v[b];
		v[a] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
		v[b] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
	}
	__syncthreads();
}

/* v = (v * rms_scale(v)) * w over n; all threads. */
__device__ void head_norm(float *v, const float *w, int n, float eps, double *sh)
{
	const float scale = row_rms_scale(v, n, eps, sh);
	__syncthreads();
	for (int d = threadIdx.x; d < n; d += blockDim.x)
		v[d] = __fmul_rn(__fmul_rn(v[d], scale), w[d]);
	__syncthreads();
}

__device__ void load_head(float *v, const float *src, const float *bias, int n)
{
	for (int d = threadIdx.x; d < n; d += blockDim.x)
		v[d] = bias ? __fadd_rn(src[d], bias[d]) : src[d];
	__syncthreads();
}

/* Stores n floats at element offset `at` of the cache in its type. */
__device__ void store_kv(uint64_t base, int64_t at, const float *v, int n, int f16)
{
	for (int d = threadIdx.x; d < n; d += blockDim.x) {
		if (f16)
			((uint16_t *)base)[at + d] = kb_f2h(v[d]);
		else
			((float *)base)[at + d] = v[d];
	}
}

/* Block per (head unit, row): units [0, n_head) are Q heads, then the KV
 * heads. Head sizes up to 512 (the host checks). */
GR_KERNEL(gr_qk_prep, struct kp_qk)
{
	__shared__ float v[512];
	__shared__ double sh[32];
	const int u = blockIdx.x;
	const int64_t i = blockIdx.y;
	const struct kb_row *r = (const struct kb_row *)p.rows + i;
	const float *cs = (const float *)p.rope + i * p.n_rot;
	float *row = (float *)p.qkv + i * p.ld;
	const int nq = p.n_head * p.dk, nk = p.n_head_kv * p.dk, nv = p.n_head_kv * p.dv;
	if (u < p.n_head) {
		float *q = row + u * p.dk;
		load_head(v, q, p.bq ? (const float *)p.bq + u * p.dk : NULL, p.dk);
		if (p.qn)
			head_norm(v, (const float *)p.qn, p.dk, p.eps, sh);
		rope_head(v, cs, p.n_rot, p.neox);
		for (int d = threadIdx.x; d < p.dk; d += blockDim.x)
			q[d] = p.prescale ? __fmul_rn(v[d], p.kq_scale) : v[d];
		return;
	}
	const int g = u - p.n_head, es = p.kv_f16 ? 2 : 4;
	const int64_t layer = (int64_t)p.il * r->n_ctx * (nk + nv);
	load_head(v, row + nq + g * p.dk, p.bk ? (const float *)p.bk + g * p.dk : NULL, p.dk);
	if (p.kn)
		head_norm(v, (const float *)p.kn, p.dk, p.eps, sh);
	rope_head(v, cs, p.n_rot, p.neox);
	store_kv(r->kv, layer + (int64_t)r->pos * nk + g * p.dk, v, p.dk, p.kv_f16);
	__syncthreads();
	load_head(v, row + nq + nk + g * p.dv, p.bv ? (const float *)p.bv + g * p.dv : NULL, p.dv);
	store_kv(r->kv, layer + (int64_t)r->n_ctx * nk + (int64_t)r->pos * nv + g * p.dv, v, p.dv,
	         p.kv_f16);
	(void)es;
}

/* One thread per logit: bias, then soft-cap. */
GR_KERNEL(gr_post, struct kp_post)
{
	const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (e >= p.n * p.n_rows)
		return;
	const int64_t j = e % p.n;
	float *y = (float *)p.y + (e / p.n) * p.ld + j;
	float v = *y;
	if (p.bias)
		v = __fadd_rn(v, ((const float *)p.bias)[j]);
	if (p.softcap > 0.0f)
		v = __fmul_rn(tanhf(__fmul_rn(v, __fdiv_rn(1.0f, p.softcap))), p.softcap);
	*y = v;
}

/* One block per row: the first index of the largest value (NaN never wins). */
GR_KERNEL(gr_argmax, struct kp_argmax)
{
	__shared__ float sv[32];
	__shared__ int si[32];
	const float *y = (const float *)p.y + (int64_t)blockIdx.x * p.ld;
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	float best = -INFINITY;
	int idx = INT32_MAX;
	for (int64_t j = threadIdx.x; j < p.n; j += blockDim.x)
		if (y[j] > best || (idx == INT32_MAX && !(y[j] != y[j])))
			best = y[j], idx = (int)j;
#pragma unroll
	for (int s = 16; s >= 1; s /= 2) {
		float ob = __shfl_xor_sync(FULL_MASK, best, s);
		int oi = __shfl_xor_sync(FULL_MASK, idx, s);
		if (ob > best || (ob == best && oi < idx))
			best = ob, idx = oi;
	}
	if (lane == 0)
		sv[warp] = best, si[warp] = idx;
	__syncthreads();
	if (threadIdx.x == 0) {
		for (int w = 1; w < (int)(blockDim.x >> 5); w++)
			if (sv[w] > best || (sv[w] == best && si[w] < idx))
				best = sv[w], idx = si[w];
		((int32_t *)p.out)[blockIdx.x] = idx == INT32_MAX ? 0 : idx;
	}
}

/* One thread per block: GGUF block into its field arrays. */
GR_KERNEL(gr_repack, struct kp_repack)
{
	const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= p.n_blocks)
		return;
	struct kb_layout l;
	memset(&l, 0, sizeof l);
	l.block_bytes = p.block_bytes, l.n_fields = p.n_fields;
	uint8_t *dst[KB_MAX_FIELDS];
	for (int f = 0; f < KB_MAX_FIELDS; f++) {
		l.off[f] = p.off[f], l.size[f] = p.size[f];
		dst[f] = (uint8_t *)p.dst[f];
	}
	kb_pack_block(&l, (const uint8_t *)p.raw, i, dst);
}

/* One thread per 16-byte chunk of a float-type row. */
GR_KERNEL(gr_repack_rows, struct kp_repack_rows)
{
	const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= p.n_out * p.nb)
		return;
	const int64_t row = i / p.nb, ch = i % p.nb;
	const uint8_t *src = (const uint8_t *)p.raw + row * p.n_in * p.es;
	kb_pack_chunk(src, p.n_in, p.es, ch, (uint8_t *)p.dst + i * 16);
}

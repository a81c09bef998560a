/* kern_blocks.h — what the CUDA kernels and the host share about weights and
 * activations on the device: the packed layout of each tensor type (a GGUF
 * block split into its fields, each field stored as its own array so every
 * load is aligned and coalesced) and the per-lane arithmetic of the decode
 * dot products, written once so that it compiles both as C11 (host tests
 * emulate a warp with it) and as CUDA device code (the kernels).
 * Not here: kernels, launches. Block layouts: ggml's (engine/quant_internal.h). */
#ifndef GPURUN_ENGINE_CUDA_KERN_BLOCKS_H
#define GPURUN_ENGINE_CUDA_KERN_BLOCKS_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define KB_FN      static __host__ __device__ __forceinline__
#define KB_UNROLL  _Pragma("unroll")
#define KB_UNROLL2 _Pragma("unroll 2") /* two blocks' loads in flight per lane */
#else
#include "engine/quant.h"
#define KB_FN static inline
#define KB_UNROLL
#define KB_UNROLL2
#endif

/* Tensor types (ggml's numbers; the host checks them against gguf.h). */
enum {
	KB_F32 = 0,
	KB_F16 = 1,
	KB_Q4_0 = 2,
	KB_Q8_0 = 8,
	KB_Q4_K = 12,
	KB_Q6_K = 14,
	KB_Q8_K = 15,
};

#define KB_MAX_FIELDS   4
#define KB_REGION_ALIGN 256 /* bytes; every field array starts aligned */
#define KB_LANES        32  /* a warp */

/* A type's block and its fields: field i is bytes [off[i], off[i] + size[i])
 * of a GGUF block. The float types are "blocks" of 16 bytes (8 halves or 4
 * floats) so that rows are padded with zeros to whole 128-bit chunks. */
struct kb_layout {
	int type;
	int block_elems;
	int block_bytes;
	int n_fields;
	int off[KB_MAX_FIELDS], size[KB_MAX_FIELDS];
};

/* 0 and the layout, or -1 for a type the device kernels do not compute. */
KB_FN int kb_layout_get(int type, struct kb_layout *l)
{
	memset(l, 0, sizeof *l);
	l->type = type;
	switch (type) {
	case KB_F32: /* one field: 4 floats */
		l->block_elems = 4, l->block_bytes = 16, l->n_fields = 1;
		l->size[0] = 16;
		return 0;
	case KB_F16: /* one field: 8 halves */
		l->block_elems = 8, l->block_bytes = 16, l->n_fields = 1;
		l->size[0] = 16;
		return 0;
	case KB_Q4_0: /* d | 16 bytes of nibbles */
		l->block_elems = 32, l->block_bytes = 18, l->n_fields = 2;
		l->off[0] = 0, l->size[0] = 2, l->off[1] = 2, l->size[1] = 16;
		return 0;
	case KB_Q8_0: /* d | 32 int8 */
		l->block_elems = 32, l->block_bytes = 34, l->n_fields = 2;
		l->off[0] = 0, l->size[0] = 2, l->off[1] = 2, l->size[1] = 32;
		return 0;
	case KB_Q4_K: /* d, dmin | 12 bytes of scales | 128 bytes of nibbles */
		l->block_elems = 256, l->block_bytes = 144, l->n_fields = 3;
		l->off[0] = 0, l->size[0] = 4, l->off[1] = 4, l->size[1] = 12;
		l->off[2] = 16, l->size[2] = 128;
		return 0;
	case KB_Q6_K: /* ql 128 | qh 64 | scales 16 | d */
		l->block_elems = 256, l->block_bytes = 210, l->n_fields = 4;
		l->off[0] = 0, l->size[0] = 128, l->off[1] = 128, l->size[1] = 64;
		l->off[2] = 192, l->size[2] = 16, l->off[3] = 208, l->size[3] = 2;
		return 0;
	default: return -1;
	}
}

/* A weight matrix on the device: n_out rows of nb blocks, field i of block
 * (row, b) at r[i] + (row * nb + b) * size[i]. */
struct kb_mat {
	uint64_t r[KB_MAX_FIELDS]; /* field arrays (device addresses) */
	int64_t n_in, n_out;
	int64_t nb; /* blocks per row (float types: ceil(n_in / block_elems)) */
	int32_t type, pad_;
};

/* Activations converted for a weight type (its vec_dot_type), n_cols rows
 * of nb blocks: Q8_0: qs (32 int8) and d (float, an f16 value) per block;
 * Q8_K: qs (256 int8), d (float) and bs (16 int16 group sums) per block;
 * F16: nb chunks of 8 halves in qs; F32: the float rows themselves in qs. */
struct kb_act {
	uint64_t qs, d, bs;
	int64_t nb;
	int64_t ld; /* F32: floats per row; others: unused */
};

/* ---- scalar helpers (host: exact C; device: intrinsics that are never
 * fused, so every term is rounded as the CPU's reference rounds it) */

#ifdef __CUDA_ARCH__
#define KB_FMUL(a, b) __fmul_rn((a), (b))
#define KB_FADD(a, b) __fadd_rn((a), (b))
#define KB_FSUB(a, b) __fsub_rn((a), (b))
#else
#define KB_FMUL(a, b) ((a) * (b))
#define KB_FADD(a, b) ((a) + (b))
#define KB_FSUB(a, b) ((a) - (b))
#endif

KB_FN float kb_h2f(uint16_t h)
{
#ifdef __CUDA_ARCH__
	return __half2float(__ushort_as_half(h));
#else
	return fp16_to_f32(h);
#endif
}

KB_FN uint16_t kb_f2h(float f)
{
#ifdef __CUDA_ARCH__
	return __half_as_ushort(__float2half_rn(f));
#else
	return f32_to_fp16(f);
#endif
}

/* Four signed byte products added to c. */
KB_FN int kb_dp4a(int a, int b, int c)
{
#ifdef __CUDA_ARCH__
	return __dp4a(a, b, c);
#else
	for (int i = 0; i < 4; i++)
		c += (int)(int8_t)(uint8_t)((uint32_t)a >> (8 * i)) *
		     (int)(int8_t)(uint8_t)((uint32_t)b >> (8 * i));
	return c;
#endif
}

/* 16 bytes (aligned on the device). */
KB_FN void kb_ld16(const void *p, uint32_t out[4])
{
#ifdef __CUDA_ARCH__
	uint4 v = __ldg((const uint4 *)p);
	out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
#else
	memcpy(out, p, 16);
#endif
}

KB_FN uint32_t kb_ld4(const void *p)
{
#ifdef __CUDA_ARCH__
	return __ldg((const uint32_t *)p);
#else
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
#endif
}

KB_FN uint16_t kb_ld2(const void *p)
{
#ifdef __CUDA_ARCH__
	return __ldg((const unsigned short *)p);
#else
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
#endif
}

KB_FN float kb_ldf(const void *p)
{
#ifdef __CUDA_ARCH__
	return __ldg((const float *)p);
#else
	float v;
	memcpy(&v, p, 4);
	return v;
#endif
}

#define KB_PTR(addr) ((const uint8_t *)(uintptr_t)(addr))

/* ---- packing (one GGUF block into its fields; one padded float chunk) */

/* Block i (row-major over rows and blocks) of raw into the field arrays. */
KB_FN void kb_pack_block(const struct kb_layout *l, const uint8_t *raw, int64_t i,
                         uint8_t *const dst[KB_MAX_FIELDS])
{
	const uint8_t *src = raw + i * l->block_bytes;
	for (int f = 0; f < l->n_fields; f++)
		for (int k = 0; k < l->size[f]; k++)
			dst[f][i * l->size[f] + k] = src[l->off[f] + k];
}

/* Chunk ch (16 bytes) of a float-type row of n_in elements of es bytes:
 * the elements it covers, zeros past the end of the row. */
KB_FN void kb_pack_chunk(const uint8_t *row, int64_t n_in, int es, int64_t ch, uint8_t dst[16])
{
	int64_t first = ch * (16 / es);
	for (int k = 0; k < 16; k++) {
		int64_t e = first + k / es;
		dst[k] = e < n_in ? row[e * es + k % es] : 0;
	}
}

/* ---- dequantization of block b of row `row` (block_elems floats) */

KB_FN void kb_dequant(const struct kb_mat *m, int64_t row, int64_t b, float *out)
{
	const int64_t i = row * m->nb + b;
	switch (m->type) {
	case KB_F32:
		for (int k = 0; k < 4; k++)
			out[k] = kb_ldf(KB_PTR(m->r[0]) + i * 16 + 4 * k);
		break;
	case KB_F16:
		for (int k = 0; k < 8; k++)
			out[k] = kb_h2f(kb_ld2(KB_PTR(m->r[0]) + i * 16 + 2 * k));
		break;
	case KB_Q4_0: {
		const float d = kb_h2f(kb_ld2(KB_PTR(m->r[0]) + i * 2));
		const uint8_t *qs = KB_PTR(m->r[1]) + i * 16;
		for (int k = 0; k < 16; k++) {
			out[k] = (float)((qs[k] & 0x0F) - 8) * d;
			out[k + 16] = (float)((qs[k] >> 4) - 8) * d;
		}
		break;
	}
	case KB_Q8_0: {
		const float d = kb_h2f(kb_ld2(KB_PTR(m->r[0]) + i * 2));
		const int8_t *qs = (const int8_t *)(KB_PTR(m->r[1]) + i * 32);
		for (int k = 0; k < 32; k++)
			out[k] = (float)qs[k] * d;
		break;
	}
	case KB_Q4_K: {
		const uint8_t *dm = KB_PTR(m->r[0]) + i * 4, *sc = KB_PTR(m->r[1]) + i * 12;
		const uint8_t *qs = KB_PTR(m->r[2]) + i * 128;
		const float d = kb_h2f(kb_ld2(dm)), dmin = kb_h2f(kb_ld2(dm + 2));
		for (int g = 0; g < 8; g++) {
			int s, mn;
			if (g < 4) {
				s = sc[g] & 63, mn = sc[g + 4] & 63;
			} else {
				s = (sc[g + 4] & 0xF) | ((sc[g - 4] >> 6) << 4);
				mn = (sc[g + 4] >> 4) | ((sc[g] >> 6) << 4);
			}
			const float ds = KB_FMUL(d, (float)s), dm_ = KB_FMUL(dmin, (float)mn);
			for (int l = 0; l < 32; l++) {
				int q = (qs[32 * (g / 2) + l] >> (4 * (g % 2))) & 0xF;
				out[32 * g + l] = KB_FSUB(KB_FMUL(ds, (float)q), dm_);
			}
		}
		break;
	}
	case KB_Q6_K: {
		const uint8_t *ql = KB_PTR(m->r[0]) + i * 128, *qh = KB_PTR(m->r[1]) + i * 64;
		const int8_t *sc = (const int8_t *)(KB_PTR(m->r[2]) + i * 16);
		const float d = kb_h2f(kb_ld2(KB_PTR(m->r[3]) + i * 2));
		for (int e = 0; e < 256; e++) {
			int h = e / 128, k = (e % 128) / 32, l = e % 32;
			int lo = (ql[64 * h + 32 * (k & 1) + l] >> (4 * (k / 2))) & 0xF;
			int hi = (qh[32 * h + l] >> (2 * k)) & 3;
			out[e] =
			    KB_FMUL(KB_FMUL(d, (float)sc[e / 16]), (float)((lo | (hi << 4)) - 32));
		}
		break;
	}
	default: break;
	}
}

/* ---- the decode dot product, per lane.
 * A warp computes one output row for up to KB_MAX_COLS activation rows.
 * Lane `lane` owns a fixed set of blocks (below) and adds its blocks' terms
 * in increasing block order into one partial per column; the 32 partials
 * are then summed by a fixed butterfly (kb_butterfly). Each output is thus
 * computed the same way whatever the number of columns, the grid or the
 * batch: results are bit-identical across batch compositions. Each block's
 * term is the CPU reference's term, rounded the same way (an exact integer
 * sum, then the same float products): only the order of the final sum
 * differs from the CPU. */

#define KB_MAX_COLS 8

/* Q4_0 x Q8_0: lane takes blocks lane, lane + 32, ... */
KB_FN void kb_lane_q4_0(const struct kb_mat *w, int64_t row, const struct kb_act *a, int64_t col0,
                        int nc, int lane, float *acc)
{
	KB_UNROLL2
	for (int64_t b = lane; b < w->nb; b += KB_LANES) {
		const int64_t i = row * w->nb + b;
		uint32_t q[4];
		kb_ld16(KB_PTR(w->r[1]) + i * 16, q);
		const float dw = kb_h2f(kb_ld2(KB_PTR(w->r[0]) + i * 2));
		KB_UNROLL
		for (int c = 0; c < nc; c++) {
			const int64_t j = (col0 + c) * a->nb + b;
			uint32_t x[8];
			kb_ld16(KB_PTR(a->qs) + j * 32, x);
			kb_ld16(KB_PTR(a->qs) + j * 32 + 16, x + 4);
			int isum = 0, xsum = 0;
			KB_UNROLL
			for (int k = 0; k < 4; k++) {
				isum = kb_dp4a((int)(q[k] & 0x0F0F0F0Fu), (int)x[k], isum);
				isum =
				    kb_dp4a((int)((q[k] >> 4) & 0x0F0F0F0Fu), (int)x[k + 4], isum);
				xsum = kb_dp4a(0x01010101, (int)x[k], xsum);
				xsum = kb_dp4a(0x01010101, (int)x[k + 4], xsum);
			}
			isum -= 8 * xsum;
			const float da = kb_ldf(KB_PTR(a->d) + j * 4);
			acc[c] = KB_FADD(acc[c], KB_FMUL((float)isum, KB_FMUL(dw, da)));
		}
	}
}

/* Q8_0 x Q8_0: lane takes blocks lane, lane + 32, ... */
KB_FN void kb_lane_q8_0(const struct kb_mat *w, int64_t row, const struct kb_act *a, int64_t col0,
                        int nc, int lane, float *acc)
{
	KB_UNROLL2
	for (int64_t b = lane; b < w->nb; b += KB_LANES) {
		const int64_t i = row * w->nb + b;
		uint32_t q[8];
		kb_ld16(KB_PTR(w->r[1]) + i * 32, q);
		kb_ld16(KB_PTR(w->r[1]) + i * 32 + 16, q + 4);
		const float dw = kb_h2f(kb_ld2(KB_PTR(w->r[0]) + i * 2));
		KB_UNROLL
		for (int c = 0; c < nc; c++) {
			const int64_t j = (col0 + c) * a->nb + b;
			uint32_t x[8];
			kb_ld16(KB_PTR(a->qs) + j * 32, x);
			kb_ld16(KB_PTR(a->qs) + j * 32 + 16, x + 4);
			int isum = 0;
			KB_UNROLL
			for (int k = 0; k < 8; k++)
				isum = kb_dp4a((int)q[k], (int)x[k], isum);
			const float da = kb_ldf(KB_PTR(a->d) + j * 4);
			acc[c] = KB_FADD(acc[c], KB_FMUL((float)isum, KB_FMUL(dw, da)));
		}
	}
}

/* Byte k (0..15) of 16 bytes held in four words, without indexing an
 * array by a run-time value (which would put it in local memory). */
KB_FN int kb_byte(const uint32_t u[4], int k)
{
	uint32_t w = k < 4 ? u[0] : k < 8 ? u[1] : k < 12 ? u[2] : u[3];
	return (int)((w >> (8 * (k & 3))) & 0xFF);
}

/* The 6-bit scale and min j (0..7) of a Q4_K block (quant_scale_min_k4);
 * sc holds its 12 scale bytes (u[3] unused). */
KB_FN void kb_scale_min_k4(int j, const uint32_t sc[4], int *d, int *m)
{
	if (j < 4) {
		*d = kb_byte(sc, j) & 63;
		*m = kb_byte(sc, j + 4) & 63;
	} else {
		*d = (kb_byte(sc, j + 4) & 0xF) | ((kb_byte(sc, j - 4) >> 6) << 4);
		*m = (kb_byte(sc, j + 4) >> 4) | ((kb_byte(sc, j) >> 6) << 4);
	}
}

/* Q4_K x Q8_K: four lanes share a super-block; lane c = lane % 4 takes its
 * elements 64c..64c+63 (groups 2c and 2c+1, the low and high nibbles of
 * qs[32c..32c+31]); super-blocks lane / 4, lane / 4 + 8, ... The integer
 * parts of the four lanes are summed exactly (shuffles on the device) and
 * the first lane of the four adds the float term (kb_q4_K_term). Here: the
 * parts of lane c for activation block j, given the lane's 32 code bytes q
 * and the block's 12 scale bytes. */
KB_FN void kb_q4_K_part(const struct kb_act *a, int64_t j, int c, const uint32_t q[8],
                        const uint32_t sc[4], int *isum, int *summs)
{
	uint32_t x[16];
	const uint8_t *xq = KB_PTR(a->qs) + j * 256 + 64 * c;
	KB_UNROLL
	for (int k = 0; k < 4; k++)
		kb_ld16(xq + 16 * k, x + 4 * k);
	int lo = 0, hi = 0;
	KB_UNROLL
	for (int k = 0; k < 8; k++) {
		lo = kb_dp4a((int)(q[k] & 0x0F0F0F0Fu), (int)x[k], lo);
		hi = kb_dp4a((int)((q[k] >> 4) & 0x0F0F0F0Fu), (int)x[k + 8], hi);
	}
	int s0, m0, s1, m1;
	kb_scale_min_k4(2 * c, sc, &s0, &m0);
	kb_scale_min_k4(2 * c + 1, sc, &s1, &m1);
	const int16_t *bs = (const int16_t *)(KB_PTR(a->bs) + j * 32) + 4 * c;
	*isum = s0 * lo + s1 * hi;
	*summs = m0 * (bs[0] + bs[1]) + m1 * (bs[2] + bs[3]);
}

/* The float term of a Q4_K super-block (weight block i, activation scale
 * da) from its summed integer parts: d * isum - dmin * summs, rounded as
 * the CPU reference rounds it. */
KB_FN float kb_q4_K_term(const struct kb_mat *w, int64_t i, float da, int isum, int summs)
{
	const uint32_t both = kb_ld4(KB_PTR(w->r[0]) + i * 4);
	const float d = KB_FMUL(da, kb_h2f((uint16_t)(both & 0xFFFF)));
	const float dmin = KB_FMUL(da, kb_h2f((uint16_t)(both >> 16)));
	return KB_FSUB(KB_FMUL(d, (float)isum), KB_FMUL(dmin, (float)summs));
}

/* Q6_K x Q8_K: four lanes per super-block as for Q4_K; lane j = lane % 4
 * takes half h = j / 2 and positions l in [16 (j % 2), +16) of the half's
 * four 32-element rows k: element 128h + 32k + l, 16-group 8h + 2k + j % 2.
 * qa = ql[64h + l0..+16), qb = ql[64h + 32 + l0..+16), qh = qh[32h + l0..
 * +16), sc = the block's 16 scales. Returns the lane's integer part. */
KB_FN int kb_q6_K_part(const struct kb_act *a, int64_t jx, int j, const uint32_t qa[4],
                       const uint32_t qb[4], const uint32_t qh[4], const uint32_t sc[4])
{
	const int h = j / 2, l0 = 16 * (j % 2);
	const uint8_t *xq = KB_PTR(a->qs) + jx * 256 + 128 * h + l0;
	int isum = 0;
	KB_UNROLL
	for (int k = 0; k < 4; k++) {
		uint32_t x[4];
		kb_ld16(xq + 32 * k, x);
		int dot = 0, xs = 0;
		KB_UNROLL
		for (int t = 0; t < 4; t++) {
			uint32_t ql = (k & 1) ? qb[t] : qa[t];
			uint32_t lo = (ql >> (4 * (k / 2))) & 0x0F0F0F0Fu;
			uint32_t hi = ((qh[t] >> (2 * k)) & 0x03030303u) << 4;
			dot = kb_dp4a((int)(lo | hi), (int)x[t], dot);
			xs = kb_dp4a(0x01010101, (int)x[t], xs);
		}
		isum += (int)(int8_t)kb_byte(sc, 8 * h + 2 * k + (j % 2)) * (dot - 32 * xs);
	}
	return isum;
}

/* The float term of a Q6_K super-block: (da * d) * isum. */
KB_FN float kb_q6_K_term(const struct kb_mat *w, int64_t i, float da, int isum)
{
	const float d = kb_h2f(kb_ld2(KB_PTR(w->r[3]) + i * 2));
	return KB_FMUL(KB_FMUL(da, d), (float)isum);
}

/* The loads of one Q4_K / Q6_K lane for weight block i. */
KB_FN void kb_q4_K_load(const struct kb_mat *w, int64_t i, int c, uint32_t q[8], uint32_t sc[4])
{
	const uint8_t *qs = KB_PTR(w->r[2]) + i * 128 + 32 * c;
	kb_ld16(qs, q);
	kb_ld16(qs + 16, q + 4);
	const uint8_t *s = KB_PTR(w->r[1]) + i * 12;
	sc[0] = kb_ld4(s), sc[1] = kb_ld4(s + 4), sc[2] = kb_ld4(s + 8), sc[3] = 0;
}

KB_FN void kb_q6_K_load(const struct kb_mat *w, int64_t i, int j, uint32_t qa[4], uint32_t qb[4],
                        uint32_t qh[4], uint32_t sc[4])
{
	const int h = j / 2, l0 = 16 * (j % 2);
	const uint8_t *ql = KB_PTR(w->r[0]) + i * 128 + 64 * h + l0;
	kb_ld16(ql, qa);
	kb_ld16(ql + 32, qb);
	kb_ld16(KB_PTR(w->r[1]) + i * 64 + 32 * h + l0, qh);
	kb_ld16(KB_PTR(w->r[2]) + i * 16, sc);
}

/* F16 x F16: lane takes 8-element chunks lane, lane + 32, ...; products are
 * exact in float and added in element order. */
KB_FN void kb_lane_f16(const struct kb_mat *w, int64_t row, const struct kb_act *a, int64_t col0,
                       int nc, int lane, float *acc)
{
	KB_UNROLL2
	for (int64_t b = lane; b < w->nb; b += KB_LANES) {
		uint32_t q[4];
		kb_ld16(KB_PTR(w->r[0]) + (row * w->nb + b) * 16, q);
		float wf[8];
		for (int k = 0; k < 8; k++)
			wf[k] = kb_h2f((uint16_t)(q[k / 2] >> (16 * (k % 2))));
		KB_UNROLL
		for (int c = 0; c < nc; c++) {
			uint32_t x[4];
			kb_ld16(KB_PTR(a->qs) + ((col0 + c) * a->nb + b) * 16, x);
			for (int k = 0; k < 8; k++) {
				float xf = kb_h2f((uint16_t)(x[k / 2] >> (16 * (k % 2))));
				acc[c] = KB_FADD(acc[c], KB_FMUL(wf[k], xf));
			}
		}
	}
}

/* F32 x F32: lane takes 4-element chunks lane, lane + 32, ... of the rows
 * (activation rows a->ld floats apart, zero-padded to whole chunks). */
KB_FN void kb_lane_f32(const struct kb_mat *w, int64_t row, const struct kb_act *a, int64_t col0,
                       int nc, int lane, float *acc)
{
	KB_UNROLL2
	for (int64_t b = lane; b < w->nb; b += KB_LANES) {
		uint32_t q[4];
		kb_ld16(KB_PTR(w->r[0]) + (row * w->nb + b) * 16, q);
		KB_UNROLL
		for (int c = 0; c < nc; c++) {
			uint32_t x[4];
			kb_ld16(KB_PTR(a->qs) + ((col0 + c) * a->ld + 4 * b) * 4, x);
			for (int k = 0; k < 4; k++) {
				float wf, xf;
				memcpy(&wf, &q[k], 4);
				memcpy(&xf, &x[k], 4);
				acc[c] = KB_FADD(acc[c], KB_FMUL(wf, xf));
			}
		}
	}
}

/* The fixed order in which the 32 lane partials are summed: lane l ends
 * with the sum over the butterfly of xor distances 16, 8, 4, 2, 1. The host
 * emulation applies the same tree to an array of 32 partials. */
KB_FN float kb_butterfly_host(const float p[KB_LANES])
{
	float v[KB_LANES];
	for (int l = 0; l < KB_LANES; l++)
		v[l] = p[l];
	for (int s = 16; s >= 1; s /= 2) {
		float t[KB_LANES];
		for (int l = 0; l < KB_LANES; l++)
			t[l] = KB_FADD(v[l], v[l ^ s]);
		for (int l = 0; l < KB_LANES; l++)
			v[l] = t[l];
	}
	return v[0];
}

#endif

/* cuda_test_emu.h — an emulated CUDA device for the CUDA backend's tests on
 * machines without a GPU: a driver table (struct cuda_api) whose memory is
 * host memory and whose cuLaunchKernel runs a C model of each kernel of
 * src/engine/cuda/, block by block and thread by thread in the kernels'
 * order of operations (the matvec lanes are kern_blocks.h's own functions,
 * the reductions follow the same trees). The host side of the backend
 * (uploads, buffers, launches, parameters) runs unchanged on it. Header
 * only: each test program includes it once. Not a timing model. */
#ifndef GPURUN_TEST_CUDA_EMU_H
#define GPURUN_TEST_CUDA_EMU_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda_internal.h"
#include "engine/quant.h"

/* ---- reductions as the device does them (kern_common.cuh) */

static inline double emu_tree_d(const double v[32])
{
	double a[32], t[32];
	memcpy(a, v, sizeof a);
	for (int s = 16; s >= 1; s /= 2) {
		for (int l = 0; l < 32; l++)
			t[l] = a[l] + a[l ^ s];
		memcpy(a, t, sizeof a);
	}
	return a[0];
}

/* block_sum_d over nt thread values (nt a multiple of 32). */
static inline double emu_block_sum_d(const double *v, int nt)
{
	double w[32] = {0};
	for (int k = 0; k < nt / 32; k++)
		w[k] = emu_tree_d(v + 32 * k);
	return emu_tree_d(w);
}

/* row_rms_scale with nt threads. */
static inline float emu_rms_scale(const float *x, int64_t n, float eps, int nt)
{
	double part[1024] = {0};
	for (int t = 0; t < nt; t++)
		for (int64_t i = t; i < n; i += nt)
			part[t] = part[t] + (double)(x[i] * x[i]);
	double s = emu_block_sum_d(part, nt);
	const float mean = (float)(s / (double)n);
	return 1.0f / sqrtf(mean + eps);
}

/* ---- matvec (kern_matvec.cu): one warp per row, lanes as kern_blocks.h */

static inline void emu_mv_lanes_k(const struct kb_mat *w, int64_t row, const struct kb_act *a,
                                  int64_t col0, int nc, float acc[32][KB_MAX_COLS])
{
	for (int64_t base = 0; base < w->nb; base += 8) {
		for (int sub = 0; sub < 8; sub++) {
			const int64_t sb = base + sub, i = row * w->nb + sb;
			if (sb >= w->nb)
				continue;
			for (int c = 0; c < nc; c++) {
				const int64_t j = (col0 + c) * a->nb + sb;
				int isum = 0, summs = 0;
				for (int c4 = 0; c4 < 4; c4++) {
					uint32_t q[8], sc[4], qa[4], qb[4], qh[4];
					int is = 0, sm = 0;
					if (w->type == KB_Q4_K) {
						kb_q4_K_load(w, i, c4, q, sc);
						kb_q4_K_part(a, j, c4, q, sc, &is, &sm);
					} else {
						kb_q6_K_load(w, i, c4, qa, qb, qh, sc);
						is = kb_q6_K_part(a, j, c4, qa, qb, qh, sc);
					}
					isum += is, summs += sm;
				}
				const float da = kb_ldf(KB_PTR(a->d) + j * 4);
				const float t = w->type == KB_Q4_K
				                    ? kb_q4_K_term(w, i, da, isum, summs)
				                    : kb_q6_K_term(w, i, da, isum);
				acc[sub * 4][c] = acc[sub * 4][c] + t;
			}
		}
	}
}

/* out[c] = row `row` of w times activation row col0 + c, as one warp. */
static inline void emu_mv_row(const struct kb_mat *w, int64_t row, const struct kb_act *a,
                              int64_t col0, int nc, float *out)
{
	float acc[32][KB_MAX_COLS];
	memset(acc, 0, sizeof acc);
	if (w->type == KB_Q4_K || w->type == KB_Q6_K) {
		emu_mv_lanes_k(w, row, a, col0, nc, acc);
	} else {
		for (int lane = 0; lane < 32; lane++) {
			if (w->type == KB_Q4_0)
				kb_lane_q4_0(w, row, a, col0, nc, lane, acc[lane]);
			else if (w->type == KB_Q8_0)
				kb_lane_q8_0(w, row, a, col0, nc, lane, acc[lane]);
			else if (w->type == KB_F16)
				kb_lane_f16(w, row, a, col0, nc, lane, acc[lane]);
			else
				kb_lane_f32(w, row, a, col0, nc, lane, acc[lane]);
		}
	}
	for (int c = 0; c < nc; c++) {
		float p[32];
		for (int l = 0; l < 32; l++)
			p[l] = acc[l][c];
		out[c] = kb_butterfly_host(p);
	}
}

static inline void emu_mv(const void *prm, unsigned gx, unsigned gy, unsigned gz, int nc)
{
	const struct kp_mv *p = prm;
	for (unsigned z = 0; z < gz; z++) {
		const struct kp_mv_job *jb = &p->job[z];
		for (unsigned y = 0; y < gy; y++)
			for (int64_t row = 0; row < (int64_t)gx * KP_MV_WARPS; row++) {
				if (row >= jb->w.n_out)
					continue;
				const int64_t col0 = p->col0 + (int64_t)y * nc;
				float out[KB_MAX_COLS];
				emu_mv_row(&jb->w, row, &p->act, col0, nc, out);
				for (int c = 0; c < nc; c++)
					((float *)(uintptr_t)jb->y)[(col0 + c) * jb->ldy + row] =
					    out[c];
			}
	}
}

#include "cuda_test_emu_ops.h"

/* ---- the driver table */

struct emu_kernel {
	const char *name;
	int id;
};

/* A launch recorded while a stream is being captured. */
struct emu_launch {
	int id;
	unsigned gx, gy, gz, bx;
	union {
		struct kp_mv mv;
		struct kp_quant quant;
		struct kp_norm norm;
		struct kp_residual residual;
		struct kp_act act;
		struct kp_embed embed;
		struct kp_qk qk;
		struct kp_attn attn;
		struct kp_post post;
		struct kp_argmax argmax;
		struct kp_repack repack;
		struct kp_repack_rows repack_rows;
	} p;
};

struct emu_graph {
	int n, cap;
	struct emu_launch *l;
};

static struct emu_state {
	long allocs, frees, launches;
	long launch_count[CK_COUNT];
	int fail_init;     /* cuInit's result when nonzero */
	int n_devices;     /* cuDeviceGetCount's answer */
	int fail_alloc_at; /* the n-th cuMemAlloc fails (0: never) */
	size_t free_mem;   /* cuMemGetInfo's free bytes */
	struct emu_kernel k[CK_COUNT];
	struct emu_graph *capturing; /* the graph being captured, or NULL */
	long captures, graph_launches, graphs_live;
} emu;

static CUresult emu_ok_u(unsigned f)
{
	(void)f;
	return emu.fail_init;
}
static CUresult emu_ver(int *v)
{
	*v = 13000;
	return 0;
}
static CUresult emu_count(int *n)
{
	*n = emu.n_devices;
	return 0;
}
static CUresult emu_get(CUdevice *d, int o)
{
	*d = o;
	return 0;
}

static CUresult emu_name(char *name, int len, CUdevice d)
{
	(void)d;
	snprintf(name, (size_t)len, "emulated");
	return 0;
}

static CUresult emu_attr(int *v, int a, CUdevice d)
{
	(void)d;
	*v = a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR   ? 9
	     : a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ? 0
	     : a == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT     ? 132
	                                                         : 1;
	return 0;
}

static CUresult emu_total(size_t *b, CUdevice d)
{
	(void)d;
	*b = (size_t)1 << 34;
	return 0;
}
static CUresult emu_retain(CUcontext *c, CUdevice d)
{
	(void)d;
	*c = (CUcontext)&emu;
	return 0;
}
static CUresult emu_release(CUdevice d)
{
	(void)d;
	return 0;
}
static CUresult emu_setctx(CUcontext c)
{
	(void)c;
	return 0;
}
static CUresult emu_modload(CUmodule *m, const void *im)
{
	(void)im;
	*m = (CUmodule)&emu;
	return 0;
}
static CUresult emu_modunload(CUmodule m)
{
	(void)m;
	return 0;
}

static CUresult emu_getfn(CUfunction *f, CUmodule m, const char *name)
{
	(void)m;
	for (int k = 0; k < CK_COUNT; k++)
		if (!strcmp(cuda__kernel_name((enum cuda_kernel)k), name)) {
			emu.k[k] = (struct emu_kernel){cuda__kernel_name((enum cuda_kernel)k), k};
			*f = (CUfunction)&emu.k[k];
			return 0;
		}
	return CUDA_ERROR_NOT_FOUND;
}

static CUresult emu_alloc(CUdeviceptr *p, size_t n)
{
	if (emu.fail_alloc_at && emu.allocs + 1 == emu.fail_alloc_at)
		return CUDA_ERROR_OUT_OF_MEMORY;
	void *q = aligned_alloc(256, (n + 255) / 256 * 256);
	if (!q)
		return CUDA_ERROR_OUT_OF_MEMORY;
	emu.allocs++;
	*p = (CUdeviceptr)(uintptr_t)q;
	return 0;
}

static CUresult emu_free(CUdeviceptr p)
{
	emu.frees++;
	free((void *)(uintptr_t)p);
	return 0;
}

static CUresult emu_halloc(void **p, size_t n)
{
	CUdeviceptr d = 0;
	CUresult r = emu_alloc(&d, n);
	*p = (void *)(uintptr_t)d;
	return r;
}

static CUresult emu_hfree(void *p)
{
	return emu_free((CUdeviceptr)(uintptr_t)p);
}

static CUresult emu_meminfo(size_t *f, size_t *t)
{
	*f = emu.free_mem;
	*t = (size_t)1 << 34;
	return 0;
}

static CUresult emu_h2d(CUdeviceptr d, const void *s, size_t n, CUstream st)
{
	(void)st;
	memcpy((void *)(uintptr_t)d, s, n);
	return 0;
}

static CUresult emu_d2h(void *d, CUdeviceptr s, size_t n, CUstream st)
{
	(void)st;
	memcpy(d, (const void *)(uintptr_t)s, n);
	return 0;
}

static CUresult emu_memset(CUdeviceptr p, unsigned char v, size_t n, CUstream st)
{
	(void)st;
	memset((void *)(uintptr_t)p, v, n);
	return 0;
}

static CUresult emu_screate(CUstream *s, unsigned f)
{
	(void)f;
	*s = (CUstream)&emu;
	return 0;
}
static CUresult emu_sdestroy(CUstream s)
{
	(void)s;
	return 0;
}
static CUresult emu_ssync(CUstream s)
{
	(void)s;
	return 0;
}

static CUresult emu_errstr(CUresult e, const char **s)
{
	*s = e == CUDA_ERROR_OUT_OF_MEMORY ? "out of memory"
	     : e == CUDA_ERROR_NO_DEVICE   ? "no CUDA-capable device is detected"
	                                   : "emulated error";
	return 0;
}

static size_t emu_param_size(int id)
{
	if (id < CK_quant_q8_0)
		return sizeof(struct kp_mv);
	switch (id) {
	case CK_quant_q8_0:
	case CK_quant_q8_K:
	case CK_quant_f16: return sizeof(struct kp_quant);
	case CK_rmsnorm: return sizeof(struct kp_norm);
	case CK_residual: return sizeof(struct kp_residual);
	case CK_act: return sizeof(struct kp_act);
	case CK_embed: return sizeof(struct kp_embed);
	case CK_qk_prep: return sizeof(struct kp_qk);
	case CK_post: return sizeof(struct kp_post);
	case CK_argmax: return sizeof(struct kp_argmax);
	case CK_repack: return sizeof(struct kp_repack);
	case CK_repack_rows: return sizeof(struct kp_repack_rows);
	default: return sizeof(struct kp_attn);
	}
}

static CUresult emu_run(int id, unsigned gx, unsigned gy, unsigned gz, unsigned bx, const void *p);

static CUresult emu_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                           unsigned by, unsigned bz, unsigned shmem, CUstream st, void **params,
                           void **extra)
{
	(void)by, (void)bz, (void)shmem, (void)st, (void)extra;
	const struct emu_kernel *k = (const struct emu_kernel *)f;
	struct emu_graph *g = emu.capturing;
	if (!g)
		return emu_run(k->id, gx, gy, gz, bx, params[0]);
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->l = realloc(g->l, (size_t)g->cap * sizeof *g->l);
	}
	struct emu_launch *l = &g->l[g->n++];
	*l = (struct emu_launch){.id = k->id, .gx = gx, .gy = gy, .gz = gz, .bx = bx};
	memcpy(&l->p, params[0], emu_param_size(k->id));
	return 0;
}

static CUresult emu_run(int id, unsigned gx, unsigned gy, unsigned gz, unsigned bx, const void *p)
{
	emu.launches++;
	emu.launch_count[id]++;
	switch (id) {
#define MVK(t)                                                                                     \
	case CK_mv_##t##_1: emu_mv(p, gx, gy, gz, 1); break;                                       \
	case CK_mv_##t##_2: emu_mv(p, gx, gy, gz, 2); break;                                       \
	case CK_mv_##t##_4: emu_mv(p, gx, gy, gz, 4); break;                                       \
	case CK_mv_##t##_8: emu_mv(p, gx, gy, gz, 8); break;
		MVK(f32)
		MVK(f16) MVK(q4_0) MVK(q8_0) MVK(q4_K) MVK(q6_K)
#undef MVK
		    case CK_quant_q8_0 : emu_quant_q8_0(p);
		break;
	case CK_quant_q8_K: emu_quant_q8_K(p); break;
	case CK_quant_f16: emu_quant_f16(p); break;
	case CK_rmsnorm: emu_rmsnorm(p, (int)bx); break;
	case CK_residual: emu_residual(p, (int)bx); break;
	case CK_act: emu_act(p); break;
	case CK_embed: emu_embed(p); break;
	case CK_qk_prep: emu_qk_prep(p); break;
	case CK_post: emu_post(p); break;
	case CK_argmax: emu_argmax(p, gx); break;
	case CK_repack: emu_repack(p); break;
	case CK_repack_rows: emu_repack_rows(p); break;
	case CK_attn_scores: emu_attn_scores(p, gx, gy, gz); break;
	case CK_attn_softmax: emu_attn_softmax(p, gx, gy, (int)bx); break;
	case CK_attn_pv: emu_attn_pv(p, gx, gy, gz); break;
	case CK_attn_reduce: emu_attn_reduce(p, gx, gy); break;
	default: return CUDA_ERROR_NOT_FOUND;
	}
	return 0;
}

static CUresult emu_begin(CUstream s, int mode)
{
	(void)s, (void)mode;
	emu.capturing = calloc(1, sizeof *emu.capturing);
	return 0;
}

static CUresult emu_end(CUstream s, CUgraph *g)
{
	(void)s;
	*g = (CUgraph)emu.capturing;
	emu.capturing = NULL;
	emu.captures++;
	emu.graphs_live++;
	return 0;
}

static CUresult emu_inst(CUgraphExec *e, CUgraph g, unsigned long long flags)
{
	(void)flags;
	*e = (CUgraphExec)g; /* the recorded launches themselves */
	return 0;
}

static CUresult emu_glaunch(CUgraphExec e, CUstream s)
{
	(void)s;
	const struct emu_graph *g = (const struct emu_graph *)e;
	emu.graph_launches++;
	for (int i = 0; i < g->n; i++) {
		const struct emu_launch *l = &g->l[i];
		CUresult r = emu_run(l->id, l->gx, l->gy, l->gz, l->bx, &l->p);
		if (r)
			return r;
	}
	return 0;
}

static CUresult emu_gxdestroy(CUgraphExec e)
{
	(void)e;
	return 0;
}

static CUresult emu_gdestroy(CUgraph g)
{
	struct emu_graph *eg = (struct emu_graph *)g;
	free(eg->l);
	free(eg);
	emu.graphs_live--;
	return 0;
}

/* A working emulated device (reset its counters and failure knobs). */
static inline const struct cuda_api *emu_api(void)
{
	static struct cuda_api api = {.cuInit = emu_ok_u,
	                              .cuDriverGetVersion = emu_ver,
	                              .cuDeviceGetCount = emu_count,
	                              .cuDeviceGet = emu_get,
	                              .cuDeviceGetName = emu_name,
	                              .cuDeviceGetAttribute = emu_attr,
	                              .cuDeviceTotalMem = emu_total,
	                              .cuDevicePrimaryCtxRetain = emu_retain,
	                              .cuDevicePrimaryCtxRelease = emu_release,
	                              .cuCtxSetCurrent = emu_setctx,
	                              .cuModuleLoadData = emu_modload,
	                              .cuModuleUnload = emu_modunload,
	                              .cuModuleGetFunction = emu_getfn,
	                              .cuMemAlloc = emu_alloc,
	                              .cuMemFree = emu_free,
	                              .cuMemAllocHost = emu_halloc,
	                              .cuMemFreeHost = emu_hfree,
	                              .cuMemGetInfo = emu_meminfo,
	                              .cuMemcpyHtoDAsync = emu_h2d,
	                              .cuMemcpyDtoHAsync = emu_d2h,
	                              .cuMemsetD8Async = emu_memset,
	                              .cuStreamCreate = emu_screate,
	                              .cuStreamDestroy = emu_sdestroy,
	                              .cuStreamSynchronize = emu_ssync,
	                              .cuLaunchKernel = emu_launch,
	                              .cuGetErrorString = emu_errstr,
	                              .cuStreamBeginCapture = emu_begin,
	                              .cuStreamEndCapture = emu_end,
	                              .cuGraphInstantiateWithFlags = emu_inst,
	                              .cuGraphLaunch = emu_glaunch,
	                              .cuGraphExecDestroy = emu_gxdestroy,
	                              .cuGraphDestroy = emu_gdestroy};
	return &api;
}

static inline void emu_reset(void)
{
	memset(&emu, 0, sizeof emu);
	emu.n_devices = 1;
	emu.free_mem = (size_t)1 << 34;
}

#endif

/* cuda_internal.h — the CUDA backend's private declarations: the few
 * driver API types and entry points it uses (declared here, loaded at run
 * time from libcuda.so.1 with dlopen, so nothing links against CUDA), the
 * process's device (context, kernels), a model's device state (packed
 * weights, activations) and the functions shared by cuda_*.c. Callers use
 * backend.h. Driver API semantics: NVIDIA's CUDA Driver API reference. */
#ifndef GPURUN_ENGINE_CUDA_INTERNAL_H
#define GPURUN_ENGINE_CUDA_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/cuda/kern_params.h"

struct engine_model;
struct engine_seq;
struct fwd_row;

/* ---- driver API (cuda.h's names and values, CUDA 11.x - 13.x) */
typedef int CUresult;
typedef int CUdevice;
typedef uint64_t CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;

#define CUDA_SUCCESS                                 0
#define CUDA_ERROR_OUT_OF_MEMORY                     2
#define CUDA_ERROR_NO_DEVICE                         100
#define CUDA_ERROR_NOT_FOUND                         500
#define CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT     16
#define CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE        36
#define CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH  37
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
#define CU_STREAM_NON_BLOCKING                       1
#define CU_STREAM_CAPTURE_MODE_THREAD_LOCAL          1

/* The entry points, by their exported (versioned) symbol names. */
struct cuda_api {
	void *lib; /* dlopen handle; NULL for a table filled by a test */
	CUresult (*cuInit)(unsigned flags);
	CUresult (*cuDriverGetVersion)(int *v);
	CUresult (*cuDeviceGetCount)(int *n);
	CUresult (*cuDeviceGet)(CUdevice *d, int ordinal);
	CUresult (*cuDeviceGetName)(char *name, int len, CUdevice d);
	CUresult (*cuDeviceGetAttribute)(int *v, int attrib, CUdevice d);
	CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice d);
	CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *c, CUdevice d);
	CUresult (*cuDevicePrimaryCtxRelease)(CUdevice d);
	CUresult (*cuCtxSetCurrent)(CUcontext c);
	CUresult (*cuModuleLoadData)(CUmodule *m, const void *image);
	CUresult (*cuModuleUnload)(CUmodule m);
	CUresult (*cuModuleGetFunction)(CUfunction *f, CUmodule m, const char *name);
	CUresult (*cuMemAlloc)(CUdeviceptr *p, size_t bytes);
	CUresult (*cuMemFree)(CUdeviceptr p);
	CUresult (*cuMemAllocHost)(void **p, size_t bytes);
	CUresult (*cuMemFreeHost)(void *p);
	CUresult (*cuMemGetInfo)(size_t *free_bytes, size_t *total);
	CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t n, CUstream s);
	CUresult (*cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t n, CUstream s);
	CUresult (*cuMemsetD8Async)(CUdeviceptr p, unsigned char v, size_t n, CUstream s);
	CUresult (*cuStreamCreate)(CUstream *s, unsigned flags);
	CUresult (*cuStreamDestroy)(CUstream s);
	CUresult (*cuStreamSynchronize)(CUstream s);
	CUresult (*cuLaunchKernel)(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
	                           unsigned by, unsigned bz, unsigned shmem, CUstream s,
	                           void **params, void **extra);
	CUresult (*cuGetErrorString)(CUresult e, const char **s);
	CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s);
	/* CUDA graphs (optional: NULL disables them) */
	CUresult (*cuStreamBeginCapture)(CUstream s, int mode);
	CUresult (*cuStreamEndCapture)(CUstream s, CUgraph *g);
	CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *e, CUgraph g,
	                                        unsigned long long flags);
	CUresult (*cuGraphLaunch)(CUgraphExec e, CUstream s);
	CUresult (*cuGraphExecDestroy)(CUgraphExec e);
	CUresult (*cuGraphDestroy)(CUgraph g);
};

/* Loads libcuda.so.1 (GPURUN_CUDA_LIB overrides the name) and every entry
 * point; fills err with the reason on failure (no driver, not a driver). */
int cuda__api_load(struct cuda_api *api, char *err);
void cuda__api_unload(struct cuda_api *api);
/* "CUDA_ERROR_..: message" for a result, via the driver when it can. */
const char *cuda__strerror(const struct cuda_api *api, CUresult r);

/* ---- kernels (names as in src/engine/cuda/kern_*.cu, less the gr_ prefix) */
#define CUDA_MV_KERNELS(X, t) X(mv_##t##_1) X(mv_##t##_2) X(mv_##t##_4) X(mv_##t##_8)
#define CUDA_KERNELS(X)                                                                            \
	CUDA_MV_KERNELS(X, f32)                                                                    \
	CUDA_MV_KERNELS(X, f16)                                                                    \
	CUDA_MV_KERNELS(X, q4_0)                                                                   \
	CUDA_MV_KERNELS(X, q8_0)                                                                   \
	CUDA_MV_KERNELS(X, q4_K)                                                                   \
	CUDA_MV_KERNELS(X, q6_K)                                                                   \
	X(quant_q8_0)                                                                              \
	X(quant_q8_K) X(quant_f16) X(rmsnorm) X(residual) X(act) X(embed) X(qk_prep) X(post)       \
	    X(argmax) X(repack) X(repack_rows) X(attn_scores) X(attn_softmax) X(attn_pv)           \
	        X(attn_reduce)

enum cuda_kernel {
#define CUDA_KERNEL_ENUM(n) CK_##n,
	CUDA_KERNELS(CUDA_KERNEL_ENUM)
#undef CUDA_KERNEL_ENUM
	    CK_COUNT
};

/* "gr_<name>" of kernel k. */
const char *cuda__kernel_name(enum cuda_kernel k);

/* The embedded fatbins (cuda_fatbin.c): n images, or 0 in a build made
 * without nvcc. */
int cuda__fatbins(const void *const **images, const size_t **sizes);

/* ---- the process's device (cuda_dev.c) */
struct cuda_dev {
	struct cuda_api api;
	CUdevice dev;
	CUcontext ctx;
	CUmodule mods[8];
	int n_mods;
	CUfunction fn[CK_COUNT];
	int cc_major, cc_minor, n_sm;
	size_t total_mem;
	double hbm_gbps; /* theoretical, from clock and bus width (0: unknown) */
	char name[128];
	char desc[192]; /* "cuda (NVIDIA H200, sm_90)" */
};

/* The device, initialised on first use (driver, device GPURUN_CUDA_DEVICE
 * or 0, primary context, kernels); NULL with the reason in err when there
 * is none. The answer is cached for the process. */
struct cuda_dev *cuda__dev_get(char *err);
/* Makes the device's context current on the calling thread. */
int cuda__dev_bind(struct cuda_dev *d);
/* Tests: replaces the driver with a table (NULL: back to libcuda) and
 * forgets the cached device. */
void cuda__dev_set_api_for_test(const struct cuda_api *api);

/* Launches kernel k with grid (gx, gy, gz), bx threads and its parameter
 * struct (copied by the driver at the call). */
int cuda__launch(struct cuda_dev *d, CUstream s, enum cuda_kernel k, unsigned gx, unsigned gy,
                 unsigned gz, unsigned bx, const void *params);
/* A driver result as an engine error (logged with what failed). */
int cuda__check(struct cuda_dev *d, CUresult r, const char *what);

/* ---- a model on the device (cuda_model.c) */
enum cuda_act { CUDA_ACT_F32, CUDA_ACT_Q8_0, CUDA_ACT_Q8_K, CUDA_ACT_F16, CUDA_N_ACT };

struct cuda_mat {
	struct kb_mat m;
	enum cuda_act act;    /* the activation type its input is converted to */
	enum cuda_kernel mv1; /* its NC = 1 matvec kernel (2, 4, 8 follow) */
};

struct cuda_layer {
	struct cuda_mat wq, wk, wv, wo, gate, up, down;
	CUdeviceptr attn_norm, ffn_norm, post_attn_norm, post_ffn_norm; /* (n_embd) or 0 */
	CUdeviceptr bq, bk, bv, q_norm, k_norm;                         /* or 0 */
};

/* Device buffers of one forward pass, grown to the largest batch seen. */
struct cuda_bufs {
	int64_t cap_rows, cap_out, cap_ctx;
	CUdeviceptr x;                  /* (cap_rows, ld_embd) residual stream */
	CUdeviceptr h;                  /* (cap_rows, ld_embd) normed rows */
	CUdeviceptr qkv;                /* (cap_rows, ld_qkv) q | k | v */
	CUdeviceptr attn;               /* (cap_rows, ld_attn) attention output */
	CUdeviceptr o;                  /* (cap_rows, ld_embd) block output */
	CUdeviceptr gate;               /* (cap_rows, ld_ff) */
	CUdeviceptr up;                 /* (cap_rows, ld_ff) */
	CUdeviceptr hout;               /* (cap_out, ld_embd) normed rows that want logits */
	CUdeviceptr logits;             /* (cap_out, n_vocab) */
	CUdeviceptr step;               /* rows | rope tables | out indices | argmax out */
	CUdeviceptr act[CUDA_N_ACT][3]; /* qs, d, bs per activation type */
	CUdeviceptr s, cmax, part;      /* attention scratch of a row group */
	int64_t attn_rows;              /* rows the attention scratch holds */
	void *host;                     /* pinned: the step upload, logits download */
	size_t host_bytes;
};

/* A captured decode pass, replayed while its shape holds (cuda_graph.c). */
struct cuda_graph {
	int64_t n, n_out; /* rows and logit rows */
	int32_t n_chunks; /* attention chunks launched */
	uint64_t used;    /* last use, for eviction */
	CUgraph graph;
	CUgraphExec exec;
};

#define CUDA_MAX_GRAPHS 8
#define CUDA_GRAPH_ROWS 8 /* passes of at most this many rows are captured */

struct cuda_model {
	struct cuda_dev *dev;
	CUstream stream;
	CUdeviceptr weights; /* every packed matrix and vector, one allocation */
	size_t weights_bytes;
	struct cuda_mat tok_embd, output;
	CUdeviceptr output_norm, output_bias, gelu_table;
	struct cuda_layer *layers;
	int64_t ld_embd, ld_qkv, ld_attn, ld_ff, ld_in_max; /* padded row strides (floats) */
	int64_t act_row_bytes[CUDA_N_ACT][3];               /* per row, per field */
	struct cuda_bufs b;
	int64_t upload_ns;
	struct cuda_graph graphs[CUDA_MAX_GRAPHS];
	uint64_t graph_clock;
	bool graphs_off; /* GPURUN_CUDA_GRAPH=0, a driver without graphs, or a failed capture */
};

/* Whether the device kernels compute every matrix and the block of m (NULL)
 * or the reason they do not. */
const char *cuda__model_unsupported(const struct engine_model *m, char *buf, size_t n);
/* Uploads m's weights; 0, or an error with the reason in err. */
int cuda__model_new(struct engine_model *m, struct cuda_dev *d, struct cuda_model **out, char *err);
void cuda__model_free(struct cuda_model *cm);
/* Grows the pass buffers for n rows, n_out logit rows and n_ctx positions. */
int cuda__bufs_reserve(struct engine_model *m, int64_t n, int64_t n_out, int64_t n_ctx);
void cuda__bufs_release(struct cuda_model *cm);

/* Byte offsets in the step buffer (device, and its pinned host copy). */
struct cuda_step_layout {
	int64_t rows; /* (cap_rows) struct kb_row */
	int64_t rope; /* (n_rope_cfg, cap_rows, n_rot) floats: cos/sin pairs */
	int64_t idx;  /* (cap_out) int32: rows whose logits are wanted */
	int64_t amax; /* (cap_out) int32: argmax results */
	int64_t total;
};
void cuda__step_layout(const struct engine_model *m, int64_t cap_rows, int64_t cap_out,
                       struct cuda_step_layout *l);

/* The layout (field arrays) of a packed matrix of type t, n_out rows of
 * n_in: bytes of each field array and their offsets (each aligned to
 * KB_REGION_ALIGN) from the matrix's base; total bytes. -1 for a type the
 * device does not compute. */
int64_t cuda__mat_layout(int type, int64_t n_in, int64_t n_out, int64_t off[KB_MAX_FIELDS],
                         int64_t *nb);

/* ---- captured passes (cuda_graph.c) */
struct cuda_pass;
/* Runs the launches of enqueue(ps) (which returns its first error) as a
 * replay of a graph captured for the key (n, n_out, n_chunks), capturing
 * it first when there is none; 1 when graphs cannot be used (the caller
 * then launches directly), 0 or an error otherwise. */
int cuda__graph_run(struct cuda_model *cm, int64_t n, int64_t n_out, int32_t n_chunks,
                    int (*enqueue)(struct cuda_pass *), struct cuda_pass *ps);
/* Forgets every graph (the buffers they point into changed). */
void cuda__graphs_clear(struct cuda_model *cm);

/* ---- the forward pass (cuda_forward.c) */
int cuda__forward(struct engine_model *m, const struct fwd_row *rows, int64_t n, float *embd_sum,
                  const atomic_bool *cancel);
/* The KV cache of a sequence on the device. */
int cuda__seq_kv_new(struct engine_seq *s, char *err);
void cuda__seq_kv_free(struct engine_seq *s);

#endif

/* engine_internal.h — the engine's private structures: hyperparameters,
 * weight views, the model, the runner (thread pool + scratch) and the
 * sequence, and the helpers shared by model.c, arch_*.c, forward.c, seq.c
 * and generate.c. Nothing here is part of the public API (engine.h). */
#ifndef GPURUN_ENGINE_ENGINE_INTERNAL_H
#define GPURUN_ENGINE_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "engine/constrain.h"
#include "engine/engine.h"
#include "engine/quant.h"
#include "engine/sampler.h"
#include "engine/threadpool.h"
#include "engine/tokenizer.h"
#include "gguf/gguf.h"

struct backend_ops;

#define ENGINE_MAX_ROPE_CFG 2 /* global and local (sliding-window) layers */

enum rope_mode { ROPE_NORMAL, ROPE_NEOX };
enum ffn_act { ACT_SILU, ACT_GELU };

/* A weight matrix view into the mapping: n_out rows of n_in elements. */
struct tensor {
	const uint8_t *data; /* NULL when absent */
	int type;            /* enum ggml_type */
	int64_t n_in, n_out;
	size_t row_bytes;
	const struct quant_traits *qt;
	bool packed; /* data is qt->pack16's form (pack.c), stripes of 16 rows */
};

struct rope_cfg {
	float base;       /* rope.freq_base */
	float freq_scale; /* 1 / linear scaling factor */
};

/* Everything the block needs to know, filled by the architecture's loader. */
struct hparams {
	int64_t n_vocab, n_ctx_train;
	int n_embd, n_layer, n_head, n_head_kv;
	int head_dim_k, head_dim_v; /* attention.key_length / value_length */
	int n_ff, n_rot;            /* rope.dimension_count (<= head_dim_k) */
	float eps;
	enum rope_mode rope_mode;
	struct rope_cfg rope[ENGINE_MAX_ROPE_CFG]; /* [0] global, [1] local */
	int n_rope_cfg;                            /* configs the layers use */
	const float *rope_freqs;                   /* (n_rot / 2) divisors or NULL */
	enum ffn_act act;
	float embd_scale;    /* input embedding multiplier (gemma: sqrt(n_embd)) */
	float kq_scale;      /* 1/sqrt(d) */
	bool q_prescale;     /* scale Q after RoPE instead of the scores (gemma, phi3) */
	float attn_softcap;  /* 0: off */
	float final_softcap; /* 0: off */
	int n_swa;           /* sliding window; 0: none */
	int swa_pattern;     /* see engine_model_info.swa_pattern */
};

struct layer {
	const float *attn_norm; /* (n_embd) */
	struct tensor wq, wk, wv, wo;
	const float *bq, *bk, *bv;    /* biases or NULL */
	const float *q_norm, *k_norm; /* (head_dim_k) per-head RMS weights or NULL */
	const float *post_attn_norm;  /* (n_embd) or NULL */
	const float *ffn_norm;        /* (n_embd) */
	struct tensor ffn_gate, ffn_up, ffn_down;
	const float *post_ffn_norm; /* (n_embd) or NULL */
	int window;                 /* 0: full causal, else p - k < window */
	int rope_cfg;               /* index into hparams.rope */
};

/* Scratch of one thread; grown (never shrunk) under the runner lock. */
struct thread_scratch {
	float *x;          /* (cap_rows, n_embd) this thread's copy of the residual stream */
	float *h;          /* (cap_rows, max_in) normed activations */
	uint8_t *q_own;    /* (q_own_rows, q_row_cap) activations prepared by this thread */
	int64_t q_own_rows;
	float *up;         /* (cap_rows, up_cols) this thread's chunk of the FFN up projection */
	int64_t up_cols;
	size_t q_row_cap;  /* bytes per row of q_own (and of the runner's act) */
	const uint8_t *q;  /* the prepared activations mm_run reads: q_own or run.act */
	size_t q_stride;   /* bytes between rows of q */
	const void *q_src; /* what q holds: the f32 source and the prepared form */
	const void *q_fmt;
	float *scores; /* (n_head / n_head_kv, cap_ctx) attention scores of a group */
	uint8_t *conv; /* (n_head / n_head_kv, head_dim_k) floats: q in the KV type */
};

/* Runs forward passes: one thread pool and the buffers it writes. */
struct runner {
	pthread_mutex_t mu;
	struct threadpool *tp;
	int n_threads;
	int64_t cap_rows;     /* rows the shared buffers hold */
	int64_t cap_ctx;      /* positions the score buffers hold */
	int64_t cap_scores;   /* floats of each ts->scores (>= grp * cap_ctx) */
	float *x;             /* (cap_rows, n_embd) residual stream */
	float *qkv;           /* (cap_rows, qkv_dim) projections: q | k | v */
	float *attn;          /* (cap_rows, n_head * head_dim_v) */
	float *o;             /* (cap_rows, n_embd) block outputs */
	float *gate;          /* (cap_rows, n_ff) */
	float *rope;          /* (n_rope_cfg, cap_rows, n_rot) cos/sin pairs */
	int64_t *out_rows;    /* (cap_rows) rows whose logits are wanted */
	struct fwd_row *rows; /* (cap_rows) the batch being run */
	uint8_t *act;         /* (cap_rows, act_row_bytes) activations prepared by all threads */
	atomic_int *ctr;      /* (n_layer * 4 + cap_rows) work counters of a pass (forward.c) */
	struct thread_scratch *ts;
};

struct engine_model {
	struct gguf_file *gguf;
	const struct arch_desc *arch;
	struct hparams hp;
	struct engine_model_info info;
	char *name, *arch_name;
	struct tensor tok_embd, output;
	const float *output_norm; /* (n_embd) */
	const float *output_bias; /* (n_vocab) or NULL */
	struct layer *layers;     /* (n_layer) */
	struct tokenizer *tok;
	int n_batch;
	int64_t n_ctx_default;
	int kv_type;          /* GGML_TYPE_F16 or GGML_TYPE_F32 */
	size_t act_row_bytes; /* largest converted activation row of any matrix */
	/* Weight bytes x rows an extra thread must have to be woken: below it
	 * (tiny models, single tokens of small ones) barriers cost more than
	 * the work they split. GPURUN_THREAD_WORK overrides (0: always all). */
	int64_t work_per_thread;
	struct runner run;
	const struct backend_ops *be; /* where passes run (backend.h); NULL before load ends */
	void *be_state;               /* the backend's model state (struct cuda_model) */
	char backend_name[192];       /* info.backend */
	char backend_note[ERR_MSG_LEN];
	_Atomic(struct constrain_vocab *) cvocab; /* built at the first constrained run */
	struct engine_packer *packer; /* packs the weights (pack.c); NULL: none */
};

/* An architecture: reads its keys and binds its tensors into the model. */
struct loader {
	struct engine_model *m;
	const struct gguf_file *f;
	char *err;
};
struct arch_desc {
	const char *name;
	/* After arch__read_common(): the architecture's own keys and defaults,
	 * per-layer settings (window, rope config) and block flags. */
	int (*hparams)(struct loader *ld);
	/* Binds layer il's tensors (token_embd and the output are generic). */
	int (*layer)(struct loader *ld, int il);
};

enum gen_phase { GEN_IDLE, GEN_RUNNING, GEN_DONE };

/* Generation state of a sequence (engine_gen_*). */
struct gen_state {
	enum gen_phase phase;
	struct engine_gen_params params;
	engine_token_cb cb;
	void *user;
	int64_t n_generated;
	int32_t pending_tok; /* sampled, not yet evaluated */
	struct buf text;     /* detokenized text not yet handed to cb */
	struct tokenizer_detok detok;
	int err;
	struct engine_gen_result res;
	struct constrain_run *cons; /* params.constraint's run, or NULL */
};

struct engine_seq {
	struct engine_model *m;
	int64_t n_ctx, n_past;
	/* Per layer: K then V of each KV head, in kv_type (F16 as llama.cpp's
	 * default, or F32). A head's K is blocks of KV_BLK positions, each
	 * (head_dim_k, KV_BLK) with the position fastest (seq_k_at); its V is
	 * (n_ctx, head_dim_v). Attention streams both front to back. */
	uint8_t *kv;
	int kv_type;
	size_t kv_es; /* bytes per element */
	const struct quant_traits *kv_qt;
	int32_t *tokens; /* (n_ctx) evaluated tokens */
	float *logits;   /* (n_vocab) of the last evaluated token */
	bool has_logits;
	int32_t *hist; /* (n_ctx + 1) tokens for the penalties */
	struct sampler *smp;
	atomic_bool cancel;
	struct gen_state gen;
	uint64_t dev_kv; /* the KV cache on the device (backend.h), or 0 */
};

/* K and V of layer il inside a sequence's cache (layouts: struct engine_seq). */
static inline int64_t hp_kv_dim_k(const struct hparams *hp)
{
	return (int64_t)hp->n_head_kv * hp->head_dim_k;
}
static inline int64_t hp_kv_dim_v(const struct hparams *hp)
{
	return (int64_t)hp->n_head_kv * hp->head_dim_v;
}
/* Positions per block of the K cache (one block: head_dim_k rows of
 * KV_BLK positions, position fastest: a 64-byte line of F16 per row). */
#define KV_BLK 32
/* Positions a head's K blocks hold (n_ctx rounded up to KV_BLK). */
static inline int64_t kv_ctx_k(int64_t n_ctx)
{
	return (n_ctx + KV_BLK - 1) / KV_BLK * KV_BLK;
}
/* Bytes of one layer's K and V for n_ctx positions of es-byte elements. */
static inline size_t kv_layer_bytes(const struct hparams *hp, int64_t n_ctx, size_t es)
{
	return ((size_t)hp_kv_dim_k(hp) * (size_t)kv_ctx_k(n_ctx) +
	        (size_t)hp_kv_dim_v(hp) * (size_t)n_ctx) *
	       es;
}
/* Element (d, p) of a head's K blocks: its index from the head's start. */
static inline size_t kv_k_index(int dk, int64_t d, int64_t p)
{
	return ((size_t)(p / KV_BLK) * (size_t)dk + (size_t)d) * KV_BLK + (size_t)(p % KV_BLK);
}
/* K of KV head g in layer il (its blocks), and V of that head. */
static inline uint8_t *seq_k(const struct engine_seq *s, int il, int g)
{
	const struct hparams *hp = &s->m->hp;
	return s->kv + (size_t)il * kv_layer_bytes(hp, s->n_ctx, s->kv_es) +
	       (size_t)g * (size_t)hp->head_dim_k * (size_t)kv_ctx_k(s->n_ctx) * s->kv_es;
}
static inline uint8_t *seq_v(const struct engine_seq *s, int il, int g)
{
	const struct hparams *hp = &s->m->hp;
	return seq_k(s, il, hp->n_head_kv) +
	       (size_t)g * (size_t)hp->head_dim_v * (size_t)s->n_ctx * s->kv_es;
}
/* K element (d, p) of head g in layer il. */
static inline uint8_t *seq_k_at(const struct engine_seq *s, int il, int g, int64_t d, int64_t p)
{
	return seq_k(s, il, g) + kv_k_index(s->m->hp.head_dim_k, d, p) * s->kv_es;
}

/* ---- packed weights (pack.c) ---- */
/* Starts rewriting the matrices whose type has a packed form into it, in
 * a thread of its own (CPU backend, once, after the runner is up); each
 * matrix switches over between passes. A failure leaves the file's layout.
 * Release stops and joins the thread, then frees the copy. */
void engine__pack_start(struct engine_model *m);
void engine__pack_release(struct engine_model *m);

/* ---- loader helpers (arch.c) ---- */
int arch__read_common(struct loader *ld);
/* Checks eps (required unless the architecture set a default) and shapes. */
int arch__finish_hparams(struct loader *ld);
int arch__get_u32(struct loader *ld, const char *suffix, uint32_t *out, bool required);
int arch__get_f32(struct loader *ld, const char *suffix, float *out, bool required);
int arch__get_str(struct loader *ld, const char *suffix, struct slice *out);
int arch__matrix(struct loader *ld, struct tensor *t, const char *name, int64_t n_in, int64_t n_out,
                 bool required);
int arch__vector(struct loader *ld, const float **v, const char *name, int64_t n, bool required);
/* Rows [row0, row0 + n) of t as a tensor of its own (fused QKV, gate|up). */
struct tensor arch__rows(const struct tensor *t, int64_t row0, int64_t n);
int arch__rope_scaling(struct loader *ld);
/* Standard tensors: attention (separate q/k/v, optional biases), SwiGLU-style
 * gate/up/down, norms, and the output (tied to token_embd when absent). */
int arch__bind_attn(struct loader *ld, int il, bool biases);
int arch__bind_ffn(struct loader *ld, int il);
int arch__bind_post_norms(struct loader *ld, int il);
int arch__bind_output(struct loader *ld);
/* <arch>.attention.sliding_window into hp->n_swa, default_window when absent
 * (a negative default makes the key required). */
int arch__gemma_swa(struct loader *ld, int default_window);
const struct arch_desc *arch__find(struct slice name);

/* ---- ops (ops.c) ---- */
void ops_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);
void ops_rope_cache(float *cs, int n_rot, int64_t pos, const struct rope_cfg *rc,
                    const float *freqs);
void ops_rope(float *x, const float *cs, int n_rot, enum rope_mode mode);
void ops_silu_mul(float *g, const float *u, int64_t n);
/* x[i] += y[i]: the residual adds (each sum exact, so every variant gives
 * the same floats). */
void ops_add(float *x, const float *y, int64_t n);
void ops_gelu_mul(float *g, const float *u, int64_t n);
void ops_softcap(float *x, int64_t n, float cap);
float ops_gelu(float x);
void ops__rmsnorm_avx512(float *y, const float *x, const float *w, int64_t n, float eps);
void ops__silu_mul_avx512(float *g, const float *u, int64_t n);
void ops__add_avx512(float *x, const float *y, int64_t n);
void ops__rope_avx512(float *x, const float *cs, int n_rot, enum rope_mode mode);
void ops__rmsnorm_avx2(float *y, const float *x, const float *w, int64_t n, float eps);
void ops__silu_mul_avx2(float *g, const float *u, int64_t n);
void ops__add_avx2(float *x, const float *y, int64_t n);
void ops__rope_avx2(float *x, const float *cs, int n_rot, enum rope_mode mode);
/* RoPE of the pairs from element i0 of the rotated dimensions on (the
 * portable loop; the AVX-512 variant's tail). */
void ops__rope_from(float *x, const float *cs, int n_rot, enum rope_mode mode, int i0);

/* ---- context shift (kv_shift.c) ---- */
/* Drops half of the tokens after the first n_keep from a full sequence's
 * cache, moving the rest down (K re-rotated); returns how many went (0:
 * nothing could, e.g. a cache on a device). */
int64_t engine__seq_shift(struct engine_seq *s, int64_t n_keep);

/* ---- attention over a sequence's KV cache (attention.c) ---- */
/* Stores K and V of kv head g at position pos of layer il. */
void attn__store(struct engine_seq *s, int il, int64_t pos, int g, const float *k, const float *v);
/* out (nq, head_dim_v) = softmax(scale * softcap(q . K[k0..k1])) . V[k0..k1]
 * for the nq query heads q (nq, head_dim_k) of kv head g, with q and the
 * probabilities rounded to the KV type first, as llama.cpp's matmuls
 * against an F16 cache do. ts->scores holds nq * (k1 - k0 + 1) floats,
 * ts->conv nq * head_dim_k. */
void attn__group(float *out, const float *q, int nq, const struct engine_seq *s, int il, int g,
                 int64_t k0, int64_t k1, float scale, float softcap, struct thread_scratch *ts);
/* What a variant of attn__group gets (attention.c fills it). */
struct attn_args {
	float *out;        /* (nq, dv) */
	const float *q;    /* (nq, dk) */
	int nq, dk, dv;
	const uint8_t *kt; /* K of the group: element (d, p) at kv_k_index(dk, d, p) */
	const uint8_t *v;  /* V of the group: element (p, d) at p * v_ld + d */
	size_t v_ld;
	size_t es;         /* bytes per cache element */
	int64_t k0, n;     /* positions k0 .. k0 + n - 1 */
	bool f16;          /* an F16 cache (else F32) */
	float scale, softcap;
	float *sc; /* (nq, n) scratch, and ATTN_SC_PAD floats before it */
	float *qf; /* (nq, dk) scratch */
	float *kv; /* rows variant: (ATTN_KV_BLOCK, max(dk, dv) rounded up to 32) scratch */
};
/* Floats of scratch before attn_args.sc: a store of the K block that
 * holds position k0 starts up to KV_BLK - 1 of them before it. */
#define ATTN_SC_PAD KV_BLK
/* The arguments of KV head g of layer il over positions k0 .. k1 (out, q
 * not set). */
struct attn_args attn__args(const struct engine_seq *s, int il, int g, int nq, int64_t k0,
                            int64_t k1, float scale, float softcap, struct thread_scratch *ts);
void attn__group_avx512(const struct attn_args *a);
void attn__group_avx2(const struct attn_args *a);
/* CALL(h0, k) for the nq query heads in groups of up to 8 (heads h0 ..
 * h0 + k - 1), k a constant in each call: the SIMD variants keep a
 * group's accumulators in registers. */
#define ATTN_HEAD_GROUPS(nq, CALL)                                                                 \
	for (int h0_ = 0; h0_ < (nq); h0_ += 8)                                                    \
		switch ((nq) - h0_ < 8 ? (nq) - h0_ : 8) {                                         \
		case 1: CALL(h0_, 1); break;                                                       \
		case 2: CALL(h0_, 2); break;                                                       \
		case 3: CALL(h0_, 3); break;                                                       \
		case 4: CALL(h0_, 4); break;                                                       \
		case 5: CALL(h0_, 5); break;                                                       \
		case 6: CALL(h0_, 6); break;                                                       \
		case 7: CALL(h0_, 7); break;                                                       \
		default: CALL(h0_, 8); break;                                                      \
		}

/* Multi-row attention: the query rows of a tile share each load (and
 * conversion) of K and V; every row's result is bit-identical to what
 * attn__group computes for it alone. */
#define ATTN_ROWS 4      /* most query rows per tile */
#define ATTN_KV_BLOCK 32 /* positions converted at a time */
/* One query row of a tile: its nq heads attend to positions k0 .. k1. */
struct attn_row {
	float *out;     /* (nq, head_dim_v) */
	const float *q; /* (nq, head_dim_k) */
	int64_t k0, k1;
};
/* attn__group for n_rows (<= ATTN_ROWS) rows of one sequence at once. With
 * lo the least k0 and hi the greatest k1, ts->scores holds n_rows * nq *
 * (hi - lo + 1) floats (runner.cap_scores bounds it); ts->conv is sized by
 * runner__reserve. */
void attn__group_rows(const struct attn_row *rows, int n_rows, int nq, const struct engine_seq *s,
                      int il, int g, float scale, float softcap, struct thread_scratch *ts);
/* Bytes of ts->conv that attn__group and attn__group_rows need. */
size_t attn__conv_bytes(const struct hparams *hp);
/* a->k0, a->n: the union of the rows' ranges; a->sc: (n_rows, nq, n). */
void attn__rows_avx512(const struct attn_args *a, const struct attn_row *rows, int n_rows);

/* ---- matmul (matmul.c) ---- */
struct mm_job {
	const struct tensor *w;
	float *y; /* output (r, j) at y[r * ldy + j - y0] */
	int64_t ldy;
	int64_t y0;
};
/* Rows [j0, j1) of the jobs' weights laid end to end, for n_rows activation
 * rows x (stride ldx floats). Converts x to each weight's vec_dot_type in the
 * thread's scratch (once per source and type). */
int mm_run(const struct mm_job *jobs, int n_jobs, const float *x, int64_t ldx, int64_t n_rows,
           int64_t j0, int64_t j1, struct thread_scratch *ts);
/* Rows a thread prepares for itself at once (smaller batches: decode);
 * bigger ones are shared (mm_share) or go through in pieces this big. */
#define MM_OWN_ROWS 8
/* Rows a thread's chunk of w should have at least for a batch of n_rows
 * (the kernel's gemm_rows for batches it runs on AMX tiles), else 0. */
int64_t mm_min_rows(const struct tensor *w, int64_t n_rows);
/* Rows of the small chunks that end a stage of w in such batches (the
 * kernel's gemm_tail_rows, else mm_min_rows), else 0. */
int64_t mm_tail_rows(const struct tensor *w, int64_t n_rows);
/* Bytes one prepared activation row for w takes (quant_act_bytes rounded up
 * to 64; 0 when w reads f32 activations in place). */
size_t mm_act_bytes(const struct tensor *w);
/* Prepares x (n_rows rows, stride ldx) for w into buf (row stride `stride`),
 * rows split across the nth threads of the region, then meets them at a
 * barrier; afterwards mm_run of every thread reads buf. Every thread of the
 * region calls it with the same arguments. Does nothing (no barrier) when w
 * reads f32 in place or the thread already holds x prepared for w. */
void mm_share(const struct tensor *w, const float *x, int64_t ldx, int64_t n_rows, uint8_t *buf,
              size_t stride, int ith, int nth, struct threadpool *tp, struct thread_scratch *ts);
/* Whether mm_share(w, ...) leaves x prepared for w2 as well, so that mm_run
 * of w2 reads no row of x itself: w prepared (not f32 read in place) and
 * w2 absent or reading the same prepared form. */
bool mm_shares_input(const struct tensor *w, const struct tensor *w2);

/* ---- runner and forward (forward.c, runner.c) ---- */
/* Work counters a forward pass keeps per layer (forward.c's stages). */
#define FWD_LAYER_COUNTERS 5
struct fwd_row {
	struct engine_seq *seq;
	int32_t token;
	int64_t pos;
	float *logits; /* (n_vocab) destination, or NULL */
};
int runner__init(struct engine_model *m, int n_threads, char *err);
void runner__release(struct runner *r);
/* Grows the buffers for n rows and n_ctx positions; caller holds r->mu. */
int runner__reserve(struct engine_model *m, int64_t n_rows, int64_t n_ctx);
/* One forward pass over n rows (n <= n_batch); embd_sum (n_embd) receives
 * the sum of the normalised final hidden states when not NULL. Caller holds
 * the runner lock. */
int forward__run(struct engine_model *m, const struct fwd_row *rows, int64_t n, float *embd_sum,
                 const atomic_bool *cancel);

/* ---- architectures ---- */
extern const struct arch_desc arch_llama, arch_qwen2, arch_gemma, arch_gemma2, arch_gemma3,
    arch_phi3;

#endif

/* quantize_model.h — model-level quantization: which type each tensor of a
 * GGUF model gets for a llama.cpp file type ("Q4_K_M", "Q8_0", ...), and
 * the streaming conversion of a whole file (`gpurun quantize`).
 *
 * The type rules are llama.cpp's (llama_model_quantize without an
 * importance matrix): only 2-D+ tensors whose names end in "weight" and are
 * not norms are converted; the output matrix (or token_embd when there is
 * no output) becomes Q6_K under the K-mixes and Q4_0/Q4_1/Q5_x; the _M
 * mixes give attn_v and ffn_down of some layers (use_more_bits) more bits;
 * a row length that is not a multiple of the chosen block falls back
 * (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, else F16). `pure` turns the rules
 * off: every convertible tensor gets the base type.
 *
 * Memory: the converter holds one chunk of rows at a time (never a whole
 * tensor, never the model); input is mmapped, output streamed. */
#ifndef GPURUN_ENGINE_QUANTIZE_MODEL_H
#define GPURUN_ENGINE_QUANTIZE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "gguf/gguf.h"

/* A target file type: llama.cpp's enum llama_ftype number and name. */
struct quantize_ftype {
	const char *name; /* "Q4_K_M" */
	uint32_t ftype;   /* general.file_type */
	int base_type;    /* enum ggml_type most tensors get */
	bool pure;        /* a plain type name ("Q4_K"): no mix rules */
	const char *help; /* one line for --help */
};

/* The file type named (case-insensitive), or NULL. */
const struct quantize_ftype *quantize_ftype_find(const char *name);
/* All supported file types, NULL-terminated by an entry with name NULL. */
const struct quantize_ftype *quantize_ftype_list(void);

/* Per-model state of the type rules: counters advance as tensors are
 * asked about in file order, as llama.cpp's do. */
struct quantize_policy {
	const struct quantize_ftype *ft;
	bool pure;
	bool has_output; /* the model has output.weight */
	int n_attn_v;    /* tensors named *attn_v.weight (or attn_qkv: none) */
	int n_ffn_down;  /* tensors named *ffn_down* */
	int n_gqa;       /* head_count / head_count_kv, 1 when unknown */
	bool model_70b;  /* llama with 80 layers (attn_v gets Q5_K) */
	int i_attn_v, i_ffn_down;
	int n_fallback; /* tensors whose row length forced a fallback type */
};

/* Initializes from the model's tensor names (in file order) and metadata
 * (head counts, block count); f may be NULL when the caller fills the
 * model facts itself (the synthetic-model writer). */
void quantize_policy_init(struct quantize_policy *p, const struct quantize_ftype *ft, bool pure,
                          const struct gguf_file *f);
/* Whether a tensor is converted at all (2-D+, name ends in "weight", not a
 * norm, not a positional/type embedding). */
bool quantize_tensor_is_convertible(const char *name, int n_dims);
/* The type tensor `name` (row length ne0) gets; src_type when it is not
 * convertible. Call once per tensor, in file order. */
int quantize_policy_type(struct quantize_policy *p, const char *name, int n_dims, int64_t ne0,
                         int src_type);

/* One line of progress per tensor, as it is written. */
struct quantize_progress {
	int index, count; /* 1-based tensor number, tensor count */
	const char *name;
	const int64_t *ne;
	int n_dims;
	int src_type, dst_type;
	size_t src_bytes, dst_bytes;
	bool fallback; /* dst_type is a row-length fallback */
};
typedef void (*quantize_progress_fn)(void *ctx, const struct quantize_progress *p);

struct quantize_options {
	const struct quantize_ftype *ft;
	bool pure;
	bool allow_requantize; /* convert already-quantized tensors */
	int n_threads;         /* 0 = all physical cores */
	quantize_progress_fn progress;
	void *progress_ctx;
};

struct quantize_result {
	size_t in_bytes, out_bytes; /* tensor data only */
	int n_tensors, n_converted, n_fallback;
};

/* Converts the GGUF file `in` into `out` (written atomically): every key
 * is copied, general.file_type and general.quantization_version (2) are
 * set, tensors keep their order. 0, or a negative code with err filled. */
int quantize_model_file(const char *in, const char *out, const struct quantize_options *o,
                        struct quantize_result *res, char err[ERR_MSG_LEN]);

/* Converts rows of a tensor: src (n_rows rows of src_type, row length ne0)
 * into dst (dst_type), through f32 in chunks, on n_threads threads (<= 1:
 * the caller's). 0, ERR_UNSUPPORTED for a type without kernels, or
 * ERR_NOMEM. */
int quantize_rows(int src_type, const void *src, int dst_type, void *dst, int64_t ne0,
                  int64_t n_rows, int n_threads);

#endif

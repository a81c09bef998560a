/* synth.h — random-weight llama models of any shape and file type, for
 * benchmarks and tests (`gpurun synth` is a thin wrapper).
 *
 * Weights are deterministic in the seed whatever the thread count: each row
 * is drawn from its own (seed, tensor, row) stream. Matrices are
 * N(0, 1/fan_in), embeddings N(0, 1), norms 1 + N(0, 0.1), each a sum of
 * four uniforms. Tensor types follow llama-quantize's rules
 * (quantize_model.h). Tensors are generated and quantized chunk by chunk
 * inside the GGUF writer's fill callbacks: a 2 GB model never sits in
 * memory. The tokenizer is copied from a vocab GGUF or built: byte-fallback
 * SentencePiece pieces (<unk> <s> </s>, <0x00>..<0xFF>, then words over
 * ▁ and a..z). */
#ifndef GPURUN_ENGINE_SYNTH_H
#define GPURUN_ENGINE_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/quantize_model.h"
#include "gguf/gguf.h"

struct synth_shape {
	int64_t dim, layers, heads, kv_heads, ffn, vocab, ctx;
};

struct synth_params {
	struct synth_shape shape;
	const struct quantize_ftype *ft; /* file type (rules as quantize) */
	bool pure;                       /* every matrix of ft's base type */
	const struct gguf_file *vocab;   /* tokenizer source, or NULL: built-in */
	uint64_t seed;
	int n_threads; /* 0: physical cores; at most 64 */
	quantize_progress_fn progress;
	void *progress_ctx;
};

/* TinyLlama 1.1B (dim 2048, 22 layers, 32/4 heads, ffn 5632, vocab 32000,
 * ctx 2048), Q4_0, seed 1, all cores, no progress. */
void synth_params_default(struct synth_params *p);
/* 0, or ERR_INVALID with err filled when the shape is out of range (dim
 * 32..65536, layers 1..1024, ffn 32..1M, vocab 259..4M, ctx 1..16M, dim a
 * multiple of heads and heads of kv_heads). */
int synth_shape_check(const struct synth_shape *s, char err[ERR_MSG_LEN]);
/* Writes the model to path (atomically). With a vocab file the vocabulary
 * size is the file's. *total (may be NULL) receives the tensor bytes.
 * 0, or a negative code with err filled. */
int synth_model_write(const char *path, const struct synth_params *p, size_t *total,
                      char err[ERR_MSG_LEN]);

#endif

/* engine.h — the public API of the inference engine: load a GGUF model, run
 * sequences on it, sample and generate. The CLI and the model server use
 * only this header (and sampler.h, which it includes).
 *
 * Ownership and threading:
 * - struct engine_model is immutable after engine_model_load() and may be
 *   shared by any number of threads and sequences. Its weights are views into
 *   the GGUF file's read-only mmap (never copied on the host; a GPU backend
 *   uploads them once to the device, backend.h). It owns a thread pool that
 *   runs forward passes; forward passes of different sequences of one model
 *   are serialised inside the engine (engine_seq_eval_multi() runs several
 *   sequences in ONE forward pass: continuous batching).
 * - struct engine_seq holds all mutable state of one sequence: KV cache,
 *   token history, logits, sampler and generation state. Everything is
 *   allocated at engine_seq_new(); evaluating or generating a token never
 *   allocates. A sequence is used by one thread at a time, except
 *   engine_seq_cancel(), which any thread may call.
 * - A sequence must be freed before its model.
 * Errors: functions return 0 or a negative code (base/err.h); loaders fill
 * char err[ERR_MSG_LEN] with a one-line reason. */
#ifndef GPURUN_ENGINE_ENGINE_H
#define GPURUN_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "engine/sampler.h"

struct constrain_prog;
struct engine_model;
struct engine_seq;
struct gguf_file;
struct tokenizer;

/* ---- loading ---- */

/* Element type of the KV cache. F16 is llama.cpp's (and Ollama's) default
 * and halves the memory; F32 reproduces references made with an F32 cache. */
enum engine_kv_type { ENGINE_KV_F16 = 0, ENGINE_KV_F32 = 1 };

struct engine_load_params {
	int n_threads;               /* 0: physical cores (GPURUN_NUM_THREAD overrides) */
	int64_t n_ctx;               /* default context of new sequences; 0: the model's,
	                              * at most 4096 */
	int n_batch;                 /* rows per forward pass (prompt chunk); 0: 512 */
	enum engine_kv_type kv_type; /* of every sequence of this model */
	bool vocab_only;             /* tokenizer and metadata only, no tensors */
	int n_gpu_layers;            /* Ollama's num_gpu: layers on the GPU; < 0 (the default)
	                              * every layer when a GPU is usable (GPURUN_NUM_GPU
	                              * overrides), 0 the CPU only; see backend.h */
};
void engine_load_params_default(struct engine_load_params *p);

/* Maps the file, reads the architecture and hyperparameters, binds every
 * tensor (shape- and type-checked) and loads the tokenizer. A missing or bad
 * key or tensor fails with a message naming it. NULL on error. */
struct engine_model *engine_model_load(const char *path, const struct engine_load_params *p,
                                       char err[ERR_MSG_LEN]);
void engine_model_free(struct engine_model *m); /* NULL is a no-op */

/* Everything `show` prints; strings live as long as the model. */
struct engine_model_info {
	const char *arch;      /* "llama", "gemma3", ... */
	const char *name;      /* general.name, or "" */
	const char *file_type; /* "Q4_K_M", "F16", ... from general.file_type */
	int64_t n_params;      /* elements of all tensors */
	int64_t n_bytes;       /* bytes of all tensor data */
	int64_t n_ctx_train;   /* <arch>.context_length */
	int64_t n_ctx;         /* default context of new sequences */
	int64_t n_vocab;
	int n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
	float rms_eps;
	float rope_freq_base;  /* global layers */
	float rope_freq_scale; /* 1 / linear scaling factor */
	bool rope_neox;
	int sliding_window;         /* 0: none */
	int swa_pattern;            /* n: layers with il % n < n - 1 are local; 1: every
	                             * layer (phi3), 2: even layers (gemma2), 0: none */
	float rope_local_freq_base; /* local (sliding) layers, when swa_pattern > 1 */
	float attn_softcap;         /* 0: none */
	float final_softcap;        /* 0: none */
	int n_threads;              /* of the model's thread pool */
	int64_t load_ns;            /* time engine_model_load() took */
	const char *backend;        /* where passes run: "cpu" or "cuda (NVIDIA H200, sm_90)" */
	const char *backend_note;   /* why the CPU runs although a GPU was wanted, or "" */
	int n_gpu_layers;           /* layers on the GPU, the output counted as one (Ollama) */
	int64_t packed_bytes;       /* weights rewritten in their kernels' packed form (CPU),
	                             * so far: packing runs in the background after load
	                             * (GPURUN_PACK=0 turns it off) */
};
const struct engine_model_info *engine_model_info(const struct engine_model *m);
/* Returns once the background packing of the weights (see packed_bytes)
 * has ended; at once when there is none. Passes run meanwhile, in the
 * file's layout for the matrices not packed yet: the same numbers. */
void engine_model_wait_packed(struct engine_model *m);
/* The open GGUF file (metadata for /api/show); lives as long as the model. */
const struct gguf_file *engine_model_gguf(const struct engine_model *m);
/* NULL for a model whose tokenizer could not be loaded (never after load). */
const struct tokenizer *engine_model_tokenizer(const struct engine_model *m);

/* ---- tokens ---- */

/* Tokenizes text (len bytes). add_special: BOS (and EOS) as the vocabulary
 * asks; parse_special: control-token text such as "<start_of_turn>" becomes
 * that token. Writes at most cap ids; returns the full count (may exceed
 * cap: call again with a larger buffer) or a negative error. */
int64_t engine_tokenize(const struct engine_model *m, const char *text, size_t len,
                        bool add_special, bool parse_special, int32_t *ids, int64_t cap);
/* Appends the text of ids to out (control tokens rendered as their text when
 * render_special). An incomplete UTF-8 character at the end becomes U+FFFD. */
int engine_detokenize(const struct engine_model *m, const int32_t *ids, int64_t n,
                      bool render_special, struct buf *out);
bool engine_token_is_eog(const struct engine_model *m, int32_t id);
int32_t engine_token_bos(const struct engine_model *m); /* -1 when none */
int32_t engine_token_eos(const struct engine_model *m); /* -1 when none */

/* ---- sequences ---- */

/* n_ctx 0: the model's default. The KV cache ((n_layer, n_ctx, kv_dim) for K
 * and for V, in the model's kv_type) is allocated here; NULL on failure. */
struct engine_seq *engine_seq_new(struct engine_model *m, int64_t n_ctx, char err[ERR_MSG_LEN]);
void engine_seq_free(struct engine_seq *s); /* NULL is a no-op */
struct engine_model *engine_seq_model(const struct engine_seq *s);
int64_t engine_seq_n_ctx(const struct engine_seq *s);
/* Tokens whose keys and values are in the cache, in order. */
int64_t engine_seq_n_past(const struct engine_seq *s);
const int32_t *engine_seq_tokens(const struct engine_seq *s);
/* Forgets positions >= n (n <= n_past): a prompt that shares a prefix with
 * the previous one re-evaluates only the rest. 0 empties the cache. */
int engine_seq_truncate(struct engine_seq *s, int64_t n);

/* Appends n tokens at positions n_past.. and runs them through the model
 * (prompt: as matrices of up to n_batch rows; decode: n = 1). Afterwards
 * engine_seq_logits() holds the logits of the last token. all_logits, when
 * not NULL, receives (n, n_vocab) logits of every token. ERR_TOO_LARGE when
 * the context would overflow (nothing is evaluated), ERR_CANCELLED when
 * engine_seq_cancel() was called (checked between layers; the cache then
 * holds the tokens evaluated before). */
int engine_seq_eval(struct engine_seq *s, const int32_t *tokens, int64_t n, float *all_logits);

/* Several sequences in one forward pass: seqs[i] gets tokens[i][0..n[i]).
 * Same semantics as engine_seq_eval for each; all seqs of the same model,
 * each at most once (else ERR_INVALID). Cancellation is not checked inside
 * a pass of several sequences (decode steps are short). */
int engine_seq_eval_multi(struct engine_seq *const *seqs, const int32_t *const *tokens,
                          const int64_t *n, int n_seqs);

/* (n_vocab) f32 logits of the last evaluated token; NULL before any eval. */
const float *engine_seq_logits(const struct engine_seq *s);

/* Embedding of a text: empties the sequence, runs the tokens, mean-pools the
 * final hidden state (after the output norm) over all tokens and
 * L2-normalises it into out (n_embd floats). */
int engine_embed(struct engine_seq *s, const int32_t *tokens, int64_t n, float *out);

/* Thread-safe: asks the running (or next) eval/generate of s to stop with
 * ERR_CANCELLED. engine_seq_cancel_clear() re-arms the sequence. */
void engine_seq_cancel(struct engine_seq *s);
void engine_seq_cancel_clear(struct engine_seq *s);

/* ---- generation ---- */

#define ENGINE_MAX_STOP 16

struct engine_gen_params {
	const int32_t *prompt; /* token ids (BOS included when wanted) */
	int64_t n_prompt;      /* >= 1 */
	int64_t num_predict;   /* max new tokens; < 0: until EOG (or a full context without shift) */
	/* stop strings (NULL after the last); they must outlive the generation */
	const char *stop[ENGINE_MAX_STOP];
	bool ignore_eos; /* keep going past EOS/EOG tokens */
	/* A full context drops half of the tokens after the first num_keep and
	 * goes on (Ollama's "shift", its default); false: it ends the answer
	 * with ENGINE_DONE_LENGTH. */
	bool shift;
	int64_t num_keep;
	struct sampler_params sampling;
	/* NULL, or the output's constraint (constrain.h); it must outlive the
	 * generation. Tokens that would break it are never sampled. */
	const struct constrain_prog *constraint;
};
void engine_gen_params_default(struct engine_gen_params *p);

/* Called once per generated token: its id and the text it completes (may be
 * empty: an incomplete UTF-8 character or a possible stop-string start is
 * held back, and released with a later token). When generation ends with
 * text still held back, one last call passes token -1 and that text. Return
 * nonzero to cancel. The text is valid only during the call. */
typedef int (*engine_token_cb)(void *user, int32_t token, const char *text, size_t len);

enum engine_done { ENGINE_DONE_NONE, ENGINE_DONE_STOP, ENGINE_DONE_LENGTH };

struct engine_gen_result {
	enum engine_done done;     /* STOP: EOG or stop string; LENGTH: num_predict or context */
	const char *done_reason;   /* "stop" / "length", as Ollama */
	int stop_index;            /* the stop string that ended it (params.stop), or -1 */
	int64_t prompt_eval_count; /* prompt tokens */
	int64_t prompt_cached;     /* of which reused from the cache, not evaluated */
	int64_t prompt_eval_ns;
	int64_t eval_count; /* generated tokens */
	int64_t eval_ns;
	int64_t load_ns; /* the model's load time */
};

/* The whole loop: prompt (reusing the cached common prefix), then sample,
 * call cb, evaluate, until num_predict, EOG, a stop string (not included in
 * the text) or a full context. Returns 0 (result in *res), ERR_CANCELLED
 * (callback or engine_seq_cancel), or another error. */
int engine_generate(struct engine_seq *s, const struct engine_gen_params *p, engine_token_cb cb,
                    void *user, struct engine_gen_result *res);

/* The same loop in steps, for running many sequences in one forward pass:
 * engine_gen_start() evaluates the prompt; engine_gen_step() samples one token
 * for every seq still running and evaluates them together; it returns the
 * number still running or an error. engine_gen_result() reads the outcome. */
int engine_gen_start(struct engine_seq *s, const struct engine_gen_params *p, engine_token_cb cb,
                     void *user);
int engine_gen_step(struct engine_seq *const *seqs, int n_seqs);
bool engine_gen_running(const struct engine_seq *s);
void engine_gen_result(const struct engine_seq *s, struct engine_gen_result *res);

#endif

/* backend.h — where a loaded model's forward passes run. The CPU (forward.c
 * on the model's thread pool) is the first backend; CUDA (cuda_*.c and
 * cuda/) is the second: it uploads the weights once at load, keeps the
 * activations and every sequence's KV cache on the device and runs a pass
 * as one kernel launch per operation. The engine calls only these
 * functions; which backend runs is decided once, at load:
 *
 * - engine_load_params.n_gpu_layers (Ollama's num_gpu): < 0 auto (every
 *   layer when a usable GPU is found, else the CPU; GPURUN_NUM_GPU
 *   overrides auto), 0 the CPU, >= n_layer every layer on the GPU.
 * - A model the GPU cannot take (no driver, no device, a build without
 *   kernels, a tensor type without kernels, too little device memory, or
 *   0 < n_gpu_layers < n_layer: a partial offload, designed below but not
 *   implemented) runs on the CPU; engine_model_info().backend_note says why
 *   (and it is logged as a warning when layers were asked for explicitly).
 *
 * Partial offload (design): layers [n_layer - n_gpu, n_layer) and the output
 * on the device, the rest on the CPU; the pass would run the CPU layers
 * (forward.c, a layer range) and hand the residual stream (n rows x n_embd
 * floats) to the device backend, which would keep the KV cache of its
 * layers only. forward.c has no layer range yet.
 *
 * Thread-safety: as forward__run (the caller holds the runner lock). */
#ifndef GPURUN_ENGINE_BACKEND_H
#define GPURUN_ENGINE_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"

struct fwd_row;

struct backend_ops {
	const char *name; /* "cpu", "cuda" */
	/* One forward pass, with forward__run's contract. */
	int (*forward)(struct engine_model *m, const struct fwd_row *rows, int64_t n,
	               float *embd_sum, const atomic_bool *cancel);
	/* Per-sequence device state (the KV cache); NULL: none. */
	int (*seq_init)(struct engine_seq *s, char *err);
	void (*seq_release)(struct engine_seq *s);
	void (*model_release)(struct engine_model *m);
	bool host_kv; /* sequences keep their KV cache in host memory (seq.c) */
};

/* Picks and starts the backend of a loaded model (never fails: the CPU is
 * the fallback) and fills info.backend, backend_note and n_gpu_layers. */
void backend__init(struct engine_model *m, const struct engine_load_params *p);
void backend__release(struct engine_model *m);
int backend__forward(struct engine_model *m, const struct fwd_row *rows, int64_t n, float *embd_sum,
                     const atomic_bool *cancel);
int backend__seq_init(struct engine_seq *s, char *err);
void backend__seq_release(struct engine_seq *s);
bool backend__host_kv(const struct engine_model *m);

/* The layers the caller asks for: param when >= 0, else GPURUN_NUM_GPU
 * when set, else -1 (auto). *explicit_ is true when a positive count came
 * from the caller or the environment. */
int backend__gpu_layers_wanted(int param, bool *explicit_);

#endif

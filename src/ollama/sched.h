/* sched.h — the model server's scheduler (reference ollama-api.md §4.2):
 * which models are loaded, which request runs in which sequence slot, and
 * when an idle model is unloaded. No HTTP and no JSON here: a request is a
 * struct sched_job whose callbacks (the server's) build the prompt, stream
 * tokens and answer.
 *
 * Model: one runner per model file (the GGUF blob path is the key), with
 * num_parallel slots. A slot owns one engine sequence (its KV cache), which
 * stays allocated between requests: the next request whose prompt shares a
 * prefix with the slot's cache reuses it (chat turns), and a request that
 * asks for another num_ctx only reallocates that slot's sequence, never the
 * model. Each runner has one worker thread that steps every running
 * sequence of the model together (engine_gen_step: one forward pass for all
 * of them). A manager thread loads models (one at a time, FIFO), evicts idle
 * ones when max_loaded is reached, and unloads models whose keep-alive ran
 * out. Nothing here runs on the HTTP loop thread.
 *
 * keep_alive (ns): < 0 forever, 0 unload as soon as the model is idle, > 0
 * idle time before unloading. A job that sets it replaces the runner's value
 * (Ollama's useLoadedRunner); a new runner starts with the job's value or the
 * default.
 *
 * Queue: jobs waiting for a model to load, or for a slot beyond the free
 * ones, count against max_queue; sched_submit answers ERR_BUSY beyond it
 * (the server's 503). A job that finds a free slot of a loaded model never
 * counts (Ollama's fast path).
 *
 * Ownership: the caller owns each job and keeps it alive until its done
 * callback has run; done runs exactly once for every job sched_submit
 * accepted, on a scheduler thread. */
#ifndef GPURUN_OLLAMA_SCHED_H
#define GPURUN_OLLAMA_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/engine.h"

#define SCHED_KEEP_FOREVER INT64_MAX
/* prepare's answer for a job that needs no slot (load-only requests). */
#define SCHED_NO_SLOT 1

struct sched_config {
	int max_loaded;        /* models loaded at once (Ollama: 3 on CPU) */
	int num_parallel;      /* slots per model (Ollama: 1) */
	int max_queue;         /* jobs waiting, beyond which submit is ERR_BUSY (512) */
	int64_t keep_alive_ns; /* default idle time (5 min) */
	int64_t default_ctx;   /* num_ctx when a request gives none (4096) */
	int n_threads;         /* engine threads per model, 0: the engine's default */
	enum engine_kv_type kv_type;
};

/* Ollama's defaults, then GPURUN_* (else OLLAMA_*) environment variables:
 * KEEP_ALIVE (duration or integer seconds), NUM_PARALLEL,
 * MAX_LOADED_MODELS, MAX_QUEUE, CONTEXT_LENGTH. ERR_INVALID with a message
 * naming the variable when one does not parse. */
int sched_config_from_env(struct sched_config *c, char err[ERR_MSG_LEN]);

/* Parses a keep-alive environment value: a Go duration ("5m", "-1") or
 * integer seconds ("300"); negative means forever. */
bool sched_parse_keep_alive_env(const char *s, int64_t *ns);

struct sched;
struct sched_job;
struct sched_runner;

struct sched_job_ops {
	/* Runner thread, model loaded: build the prompt for a context of n_ctx
	 * tokens and set job->tokens (used to pick the slot with the longest
	 * cached prefix). 0, SCHED_NO_SLOT (done at once, successfully), or an
	 * error (message in job->err). */
	int (*prepare)(struct sched_job *j, struct engine_model *m, int64_t n_ctx);
	/* Runner thread, a slot's sequence assigned: start generating
	 * (engine_gen_start) and return 1, or do all the work and return 0,
	 * or fail (< 0). */
	int (*start)(struct sched_job *j, struct engine_seq *seq);
	/* Runner thread: true to skip this job in the next step (its client is
	 * not reading). May be NULL. */
	bool (*paused)(struct sched_job *j);
	/* Once, last, on a scheduler thread: rc 0, ERR_CANCELLED, or an error
	 * with its message in job->err. seq is the job's sequence (its
	 * generation result readable with engine_gen_result) or NULL when it
	 * never got one. The job may be freed from here on. */
	void (*done)(struct sched_job *j, struct engine_seq *seq, int rc);
};

/* What to load: filled by the caller, borrowed until done. */
struct sched_model {
	const char *path;         /* GGUF file: the runner's key */
	const char *name;         /* display name, "stories260k:latest" */
	const char *digest;       /* manifest sha256 hex */
	int64_t size;             /* model size in bytes (manifest) */
	const char *details_json; /* /api/ps "details" object */
};

struct sched_job {
	const struct sched_job_ops *ops;
	struct sched_model model;
	int64_t num_ctx; /* 0: the default */
	bool keep_alive_set;
	int64_t keep_alive_ns;
	void *user;
	/* Set by prepare. */
	const int32_t *tokens;
	int64_t n_tokens;
	/* Set by the scheduler. */
	int64_t ready_ns; /* mono time the model was ready for this job */
	int64_t n_ctx;    /* the context the job ran with */
	char err[ERR_MSG_LEN];
	/* private */
	atomic_bool cancel;
	int state;
	struct sched_runner *runner;
	struct engine_seq *seq;
	struct sched_job *next;
};

/* Starts the manager thread. NULL on failure. */
struct sched *sched_new(const struct sched_config *cfg);
/* Cancels what still runs, unloads every model, joins the threads. NULL ok. */
void sched_free(struct sched *s);
const struct sched_config *sched_config(const struct sched *s);

/* Prepares a job (zeroes the private fields). */
void sched_job_init(struct sched_job *j, const struct sched_job_ops *ops, void *user);
/* Queues j: 0, or ERR_BUSY (queue full or shutting down; done will not run). */
int sched_submit(struct sched *s, struct sched_job *j);
/* [any thread, until done returned] Cancels j: a queued job ends with
 * ERR_CANCELLED, a running one stops at once (engine_seq_cancel). */
void sched_job_cancel(struct sched *s, struct sched_job *j);

/* Sets the keep-alive of the runner of model path to 0: it unloads as soon
 * as it is idle (now, if it is). False when that model is not loaded. */
bool sched_unload(struct sched *s, const char *path);
/* True when model path is loaded (or loading). */
bool sched_is_loaded(struct sched *s, const char *path);

struct sched_loaded {
	char *name, *path, *details_json;
	char digest[65];
	int64_t size;            /* model bytes + KV caches allocated */
	int64_t size_vram;       /* of which on a GPU (all of it, or 0: CPU) */
	int64_t expires_wall_ns; /* INT64_MAX: never */
	int64_t n_ctx;           /* default context of its slots */
	int busy_slots;
	int queued;
};
/* Loaded models, longest remaining keep-alive first. Free with
 * sched_loaded_free. */
int sched_list(struct sched *s, struct sched_loaded **out, int *n);
void sched_loaded_free(struct sched_loaded *l, int n);

struct sched_stats {
	int loaded;    /* models loaded or loading */
	int waiting;   /* jobs queued: waiting for a load or a busy slot */
	int running;   /* jobs in a slot */
	int64_t loads; /* models loaded so far */
	int64_t unloads;
};
void sched_stats(struct sched *s, struct sched_stats *st);

#endif

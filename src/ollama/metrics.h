/* metrics.h — the model server's Prometheus metrics (GET /metrics, text
 * exposition format 0.0.4): HTTP requests by route and status with their
 * durations, prompt and generated tokens by model, time to first token and
 * per-request decode speed histograms, and scheduler gauges (models loaded,
 * queue depth, running sequences) read at scrape time. Something Ollama
 * lacks (reference ollama-api.md §7 item 2). Thread-safe: one mutex. Label
 * values are the route patterns and model names, so cardinality is bounded
 * by the routes and the models in the store. */
#ifndef GPURUN_OLLAMA_METRICS_H
#define GPURUN_OLLAMA_METRICS_H

#include <stdint.h>

#include "base/buf.h"

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m); /* NULL is a no-op */

/* A finished HTTP request: its route pattern ("/api/generate"), status
 * (499: the client went away) and duration. */
void metrics_request(struct metrics *m, const char *route, int status, int64_t dur_ns);
/* A finished generation: tokens in (of which cached: reused from a slot's
 * KV cache, not evaluated) and out, time to the first token (< 0: none was
 * produced) and decode time of the generated tokens. */
void metrics_generation(struct metrics *m, const char *model, int64_t prompt_tokens,
                        int64_t cached_tokens, int64_t gen_tokens, int64_t ttft_ns,
                        int64_t eval_ns);
/* Input tokens of an embedding request. */
void metrics_embedding(struct metrics *m, const char *model, int64_t tokens);

struct metrics_gauges {
	int models_loaded;
	int queue_depth;        /* requests waiting for a model or a slot */
	int running;            /* sequences generating */
	int64_t loads, unloads; /* counters kept by the scheduler */
};
/* Appends the exposition text. */
void metrics_render(struct metrics *m, const struct metrics_gauges *g, struct buf *out);

#endif

/* sampler.h — choosing the next token from logits: greedy, temperature,
 * top_k, top_p, min_p, repetition penalties, seeded randomness.
 *
 * Order (Ollama's): penalties on the last repeat_last_n tokens; temperature
 * <= 0 -> argmax (ties to the lowest id); else top_k, temperature, softmax,
 * top_p, min_p, then a draw from the PRNG. A sampler owns its candidate
 * buffer (n_vocab entries, allocated once) and its PRNG state (xoshiro256**):
 * the same seed, params and logits give the same tokens on every machine.
 * The logits passed in are never modified. Not thread-safe: one per sequence. */
#ifndef GPURUN_ENGINE_SAMPLER_H
#define GPURUN_ENGINE_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

struct sampler_params {
	float temperature;      /* <= 0: greedy */
	int top_k;              /* <= 0: off */
	float top_p;            /* >= 1: off */
	float min_p;            /* <= 0: off */
	float repeat_penalty;   /* 1: off */
	int repeat_last_n;      /* 0: off, -1: the whole history */
	float presence_penalty; /* 0: off */
	float frequency_penalty;
	int64_t seed; /* < 0: from the clock and urandom */
};

/* Ollama's defaults: temperature 0.8, top_k 40, top_p 0.9, min_p 0,
 * repeat_penalty 1.1, repeat_last_n 64, no presence/frequency penalty, seed -1. */
void sampler_params_default(struct sampler_params *p);
/* Greedy: temperature 0, no penalties. */
void sampler_params_greedy(struct sampler_params *p);

struct sampler;

/* NULL when n_vocab entries cannot be allocated. */
struct sampler *sampler_new(int64_t n_vocab);
void sampler_free(struct sampler *s); /* NULL is a no-op */
/* Sets params and (re)seeds the PRNG. */
void sampler_reset(struct sampler *s, const struct sampler_params *p);
/* Picks a token from logits (n_vocab); history: previous tokens, oldest first. */
int32_t sampler_sample(struct sampler *s, const float *logits, const int32_t *history,
                       int64_t n_history);
/* The same over the tokens whose bit is set in allow ((n_vocab + 63) / 64
 * words; NULL: all), as if every other logit were -inf. -1 when none is set. */
int32_t sampler_sample_masked(struct sampler *s, const float *logits, const uint64_t *allow,
                              const int32_t *history, int64_t n_history);

/* Index of the largest value; ties go to the lowest index. */
int32_t sampler_argmax(const float *logits, int64_t n);

#endif

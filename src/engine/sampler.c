/* sampler.c — token selection (see sampler.h for the order of the steps).
 * Candidates live in a buffer allocated once per sampler; top_k uses a
 * quickselect so a large vocabulary is never fully sorted unless top_p needs
 * it. The PRNG is xoshiro256** seeded through splitmix64. */
#include "engine/sampler.h"

#include "base/mem.h"
#include "base/timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cand {
	int32_t id;
	float logit;
	float p;
};

struct sampler {
	int64_t n_vocab;
	struct sampler_params params;
	struct cand *cand; /* (n_vocab) */
	int32_t *counts;   /* (n_vocab) occurrences in the penalty window; kept zero */
	uint64_t rng[4];
};

void sampler_params_default(struct sampler_params *p)
{
	*p = (struct sampler_params){
	    .temperature = 0.8f,
	    .top_k = 40,
	    .top_p = 0.9f,
	    .min_p = 0.0f,
	    .repeat_penalty = 1.1f,
	    .repeat_last_n = 64,
	    .seed = -1,
	};
}

void sampler_params_greedy(struct sampler_params *p)
{
	*p = (struct sampler_params){
	    .temperature = 0.0f,
	    .top_p = 1.0f,
	    .repeat_penalty = 1.0f,
	    .seed = -1,
	};
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

static uint64_t random_seed(void)
{
	uint64_t v = (uint64_t)time_wall_ns() ^ ((uint64_t)getpid() << 32);
	FILE *f = fopen("/dev/urandom", "rb");
	if (f) {
		uint64_t u;
		if (fread(&u, sizeof u, 1, f) == 1)
			v ^= u;
		fclose(f);
	}
	return v;
}

struct sampler *sampler_new(int64_t n_vocab)
{
	if (n_vocab < 1)
		return NULL;
	struct sampler *s = try_calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->n_vocab = n_vocab;
	s->cand = try_malloc_array((size_t)n_vocab, sizeof *s->cand);
	s->counts = try_calloc((size_t)n_vocab, sizeof *s->counts);
	if (!s->cand || !s->counts) {
		sampler_free(s);
		return NULL;
	}
	struct sampler_params p;
	sampler_params_default(&p);
	sampler_reset(s, &p);
	return s;
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	free(s->cand);
	free(s->counts);
	free(s);
}

void sampler_reset(struct sampler *s, const struct sampler_params *p)
{
	s->params = *p;
	uint64_t x = p->seed >= 0 ? (uint64_t)p->seed : random_seed();
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix64(&x);
}

int32_t sampler_argmax(const float *logits, int64_t n)
{
	int64_t best = 0;
	for (int64_t i = 1; i < n; i++)
		if (logits[i] > logits[best])
			best = i;
	return (int32_t)best;
}

/* Penalties on the candidates (still indexed by id), each distinct token once. */
static void apply_penalties(struct sampler *s, const int32_t *hist, int64_t n_hist)
{
	const struct sampler_params *p = &s->params;
	int64_t last_n = p->repeat_last_n < 0 ? n_hist : p->repeat_last_n;
	if (last_n > n_hist)
		last_n = n_hist;
	bool on = p->repeat_penalty != 1.0f || p->presence_penalty != 0.0f ||
	          p->frequency_penalty != 0.0f;
	if (!on || last_n <= 0)
		return;
	const int32_t *win = hist + (n_hist - last_n);
	for (int64_t i = 0; i < last_n; i++)
		if (win[i] >= 0 && win[i] < s->n_vocab)
			s->counts[win[i]]++;
	for (int64_t i = 0; i < last_n; i++) {
		int32_t t = win[i];
		if (t < 0 || t >= s->n_vocab || s->counts[t] == 0)
			continue;
		float *l = &s->cand[t].logit;
		if (p->repeat_penalty != 1.0f && p->repeat_penalty > 0.0f)
			*l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
		*l -= (float)s->counts[t] * p->frequency_penalty + p->presence_penalty;
		s->counts[t] = 0; /* once per distinct token; also re-zeroes the array */
	}
}

/* Descending logit, ties to the lower id. */
static inline bool before(const struct cand *a, const struct cand *b)
{
	return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

static void swap(struct cand *a, struct cand *b)
{
	struct cand t = *a;
	*a = *b;
	*b = t;
}

/* Moves the k best candidates to c[0..k) (unordered). */
static void select_top(struct cand *c, int64_t n, int64_t k)
{
	int64_t lo = 0, hi = n - 1;
	while (lo < hi) {
		struct cand pivot = c[lo + (hi - lo) / 2];
		int64_t i = lo, j = hi;
		while (i <= j) {
			while (before(&c[i], &pivot))
				i++;
			while (before(&pivot, &c[j]))
				j--;
			if (i <= j)
				swap(&c[i++], &c[j--]);
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

static void softmax_cand(struct cand *c, int64_t n, float temp)
{
	float max = c[0].logit;
	for (int64_t i = 1; i < n; i++)
		if (c[i].logit > max)
			max = c[i].logit;
	double sum = 0;
	for (int64_t i = 0; i < n; i++) {
		c[i].p = expf((c[i].logit - max) / temp);
		sum += c[i].p;
	}
	for (int64_t i = 0; i < n; i++)
		c[i].p = (float)(c[i].p / sum);
}

/* top_p on sorted candidates: the smallest prefix with mass >= top_p. */
static int64_t cut_top_p(const struct cand *c, int64_t n, float top_p)
{
	double cum = 0;
	for (int64_t i = 0; i < n; i++) {
		cum += c[i].p;
		if (cum >= top_p)
			return i + 1;
	}
	return n;
}

static int64_t cut_min_p(struct cand *c, int64_t n, float min_p)
{
	float pmax = 0;
	for (int64_t i = 0; i < n; i++)
		if (c[i].p > pmax)
			pmax = c[i].p;
	int64_t m = 0;
	for (int64_t i = 0; i < n; i++)
		if (c[i].p >= min_p * pmax)
			c[m++] = c[i];
	return m > 0 ? m : 1;
}

static int32_t draw(struct sampler *s, const struct cand *c, int64_t n)
{
	double sum = 0;
	for (int64_t i = 0; i < n; i++)
		sum += c[i].p;
	double u = (double)(rng_next(s->rng) >> 11) * 0x1.0p-53 * sum;
	double cum = 0;
	for (int64_t i = 0; i < n; i++) {
		cum += c[i].p;
		if (u < cum)
			return c[i].id;
	}
	return c[n - 1].id;
}

/* Keeps the allowed candidates (in id order) at the front; their count. */
static int64_t keep_allowed(struct cand *c, int64_t n, const uint64_t *allow)
{
	int64_t m = 0;
	for (int64_t i = 0; i < n; i++)
		if (allow[i >> 6] >> (i & 63) & 1)
			c[m++] = c[i];
	return m;
}

int32_t sampler_sample(struct sampler *s, const float *logits, const int32_t *history,
                       int64_t n_history)
{
	return sampler_sample_masked(s, logits, NULL, history, n_history);
}

int32_t sampler_sample_masked(struct sampler *s, const float *logits, const uint64_t *allow,
                              const int32_t *history, int64_t n_history)
{
	const struct sampler_params *p = &s->params;
	int64_t n = s->n_vocab;
	struct cand *c = s->cand;
	for (int64_t i = 0; i < n; i++)
		c[i] = (struct cand){(int32_t)i, logits[i], 0.0f};
	apply_penalties(s, history, n_history);
	if (allow && (n = keep_allowed(c, n, allow)) == 0)
		return -1;
	if (p->temperature <= 0.0f || p->top_k == 1) {
		int64_t best = 0;
		for (int64_t i = 1; i < n; i++)
			if (before(&c[i], &c[best]))
				best = i;
		return c[best].id;
	}
	bool sorted = false;
	if (p->top_k > 0 && p->top_k < n) {
		select_top(c, n, p->top_k);
		n = p->top_k;
		qsort(c, (size_t)n, sizeof *c, cmp_cand);
		sorted = true;
	}
	softmax_cand(c, n, p->temperature);
	if (p->top_p > 0.0f && p->top_p < 1.0f) {
		if (!sorted)
			qsort(c, (size_t)n, sizeof *c, cmp_cand);
		n = cut_top_p(c, n, p->top_p);
	}
	if (p->min_p > 0.0f)
		n = cut_min_p(c, n, p->min_p);
	return draw(s, c, n);
}

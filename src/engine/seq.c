/* seq.c — sequences: the KV cache and token history of one conversation,
 * evaluation of tokens (one sequence, or several in one forward pass),
 * embeddings and cancellation. Long inputs run in chunks of n_batch rows.
 * Everything a sequence needs is allocated in engine_seq_new(). */
#include "engine/engine_internal.h"

#include "base/mem.h"
#include "engine/backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* A KV cache of `bytes`, in 2 MiB pages where the kernel hands them out
 * (transparent huge pages, madvise mode): decode steps through the cache a
 * 4 KiB K block at a time, a page each with small pages. In a harness of
 * Q4_0 1.1B decode's attention at depth 4096 (22 layers, 2 threads) a call
 * took 279-334 kcycles against 330-350 on small pages. */
static uint8_t *kv_alloc(size_t bytes)
{
	const size_t huge = (size_t)2 << 20;
	if (bytes < huge)
		return try_malloc_array(bytes, 1);
	const size_t n = bytes / huge + (bytes % huge != 0);
	uint8_t *p = try_aligned_array(n, huge, huge);
	if (p)
		(void)madvise(p, n * huge, MADV_HUGEPAGE);
	return p;
}

struct engine_seq *engine_seq_new(struct engine_model *m, int64_t n_ctx, char err[ERR_MSG_LEN])
{
	const struct hparams *hp = &m->hp;
	if (!m->tok_embd.data) {
		err_set(err, ERR_INVALID, "the model was loaded vocab-only");
		return NULL;
	}
	if (n_ctx <= 0)
		n_ctx = m->n_ctx_default;
	if (n_ctx > INT32_MAX) {
		err_set(err, ERR_TOO_LARGE, "context of %lld tokens is too large",
		        (long long)n_ctx);
		return NULL;
	}
	const struct quant_traits *kv_qt = quant_get(m->kv_type);
	size_t es = kv_qt->type_size, kv_bytes;
	/* a bound of kv_layer_bytes (V rounded up as K) checked for overflow
	 * first, then the exact figure */
	size_t per_pos = (size_t)(hp_kv_dim_k(hp) + hp_kv_dim_v(hp)) * es;
	if (!size_mul(per_pos, (size_t)kv_ctx_k(n_ctx), &kv_bytes) ||
	    !size_mul(kv_bytes, (size_t)hp->n_layer, &kv_bytes) ||
	    !size_mul(kv_layer_bytes(hp, n_ctx, es), (size_t)hp->n_layer, &kv_bytes)) {
		err_set(err, ERR_TOO_LARGE, "KV cache for %lld tokens overflows", (long long)n_ctx);
		return NULL;
	}
	struct engine_seq *s = xcalloc(1, sizeof *s);
	s->m = m;
	s->n_ctx = n_ctx;
	s->kv_type = m->kv_type;
	s->kv_es = es;
	s->kv_qt = kv_qt;
	s->kv = backend__host_kv(m) ? kv_alloc(kv_bytes) : NULL;
	s->tokens = try_malloc_array((size_t)n_ctx, sizeof *s->tokens);
	s->logits = try_malloc_array((size_t)hp->n_vocab, sizeof *s->logits);
	s->smp = sampler_new(hp->n_vocab);
	buf_init(&s->gen.text);
	int rc = 0;
	if ((s->kv || !backend__host_kv(m)) && s->tokens && s->logits && s->smp &&
	    buf_try_reserve(&s->gen.text, 4096) == 0) {
		pthread_mutex_lock(&m->run.mu);
		rc = runner__reserve(m, 1, n_ctx);
		pthread_mutex_unlock(&m->run.mu);
	} else {
		rc = ERR_NOMEM;
	}
	if (rc) {
		err_set(err, ERR_NOMEM,
		        "cannot allocate a context of %lld tokens (%zu MiB KV cache)",
		        (long long)n_ctx, kv_bytes >> 20);
		engine_seq_free(s);
		return NULL;
	}
	if (backend__seq_init(s, err)) {
		engine_seq_free(s);
		return NULL;
	}
	return s;
}

void engine_seq_free(struct engine_seq *s)
{
	if (!s)
		return;
	backend__seq_release(s);
	free(s->kv);
	free(s->tokens);
	free(s->logits);
	sampler_free(s->smp);
	constrain_run_free(s->gen.cons);
	buf_release(&s->gen.text);
	free(s);
}

struct engine_model *engine_seq_model(const struct engine_seq *s)
{
	return s->m;
}

int64_t engine_seq_n_ctx(const struct engine_seq *s)
{
	return s->n_ctx;
}

int64_t engine_seq_n_past(const struct engine_seq *s)
{
	return s->n_past;
}

const int32_t *engine_seq_tokens(const struct engine_seq *s)
{
	return s->tokens;
}

const float *engine_seq_logits(const struct engine_seq *s)
{
	return s->has_logits ? s->logits : NULL;
}

int engine_seq_truncate(struct engine_seq *s, int64_t n)
{
	if (n < 0 || n > s->n_past)
		return ERR_INVALID;
	if (n < s->n_past)
		s->has_logits = false;
	s->n_past = n;
	return 0;
}

void engine_seq_cancel(struct engine_seq *s)
{
	atomic_store(&s->cancel, true);
}

void engine_seq_cancel_clear(struct engine_seq *s)
{
	atomic_store(&s->cancel, false);
}

/* One batch of work: rows of several sequences, flattened in order. */
struct batch {
	struct engine_seq *const *seqs;
	const int32_t *const *tokens;
	const int64_t *n;
	int n_seqs;
	float *all_logits; /* single-sequence eval only */
	float *embd_sum;
};

static int check(const struct batch *b, int64_t *total)
{
	*total = 0;
	for (int i = 0; i < b->n_seqs; i++) {
		const struct engine_seq *s = b->seqs[i];
		if (s->m != b->seqs[0]->m || b->n[i] < 0)
			return ERR_INVALID;
		for (int k = 0; k < i; k++)
			if (b->seqs[k] == s)
				return ERR_INVALID; /* each sequence once */
		if (b->n[i] > s->n_ctx - s->n_past)
			return ERR_TOO_LARGE;
		for (int64_t j = 0; j < b->n[i]; j++)
			if (b->tokens[i][j] < 0 || b->tokens[i][j] >= s->m->hp.n_vocab)
				return ERR_INVALID;
		*total += b->n[i];
	}
	return 0;
}

/* Rows [start, start + cnt) of the flattened batch into rows; the last row
 * of each sequence gets logits. Positions count from each seq's n_past,
 * which advances only when the whole batch is done (advance()). */
static void fill_rows(const struct batch *b, struct fwd_row *rows, int64_t start, int64_t cnt)
{
	int64_t base = 0, k = 0;
	int64_t n_vocab = b->seqs[0]->m->hp.n_vocab;
	for (int i = 0; i < b->n_seqs && k < cnt; i++) {
		struct engine_seq *s = b->seqs[i];
		int64_t j = start > base ? start - base : 0;
		for (; j < b->n[i] && k < cnt; j++) {
			struct fwd_row *r = &rows[k++];
			r->seq = s;
			r->token = b->tokens[i][j];
			r->pos = s->n_past + j;
			r->logits = NULL;
			if (b->all_logits)
				r->logits = b->all_logits + j * n_vocab;
			else if (j == b->n[i] - 1 && !b->embd_sum)
				r->logits = s->logits;
		}
		base += b->n[i];
	}
}

/* The first `done` flattened rows were evaluated: advance each sequence. */
static void advance(const struct batch *b, int64_t done, bool logits_ok)
{
	const struct engine_model *m = b->seqs[0]->m;
	int64_t base = 0;
	for (int i = 0; i < b->n_seqs; i++) {
		struct engine_seq *s = b->seqs[i];
		int64_t k = done - base < 0 ? 0 : done - base > b->n[i] ? b->n[i] : done - base;
		memcpy(s->tokens + s->n_past, b->tokens[i], (size_t)k * sizeof(int32_t));
		s->n_past += k;
		base += b->n[i];
		if (k == 0)
			continue;
		s->has_logits = logits_ok && k == b->n[i] && !b->embd_sum;
		if (s->has_logits && b->all_logits)
			memcpy(s->logits, b->all_logits + (k - 1) * m->hp.n_vocab,
			       (size_t)m->hp.n_vocab * sizeof(float));
	}
}

static int run_batch(const struct batch *b)
{
	struct engine_model *m = b->seqs[0]->m;
	int64_t total, start = 0;
	int rc = check(b, &total);
	if (rc || total == 0)
		return rc;
	int64_t n_ctx = 0;
	for (int i = 0; i < b->n_seqs; i++)
		n_ctx = b->seqs[i]->n_ctx > n_ctx ? b->seqs[i]->n_ctx : n_ctx;
	const atomic_bool *cancel = b->n_seqs == 1 ? &b->seqs[0]->cancel : NULL;
	pthread_mutex_lock(&m->run.mu);
	int64_t chunk = total < m->n_batch ? total : m->n_batch;
	rc = runner__reserve(m, chunk, n_ctx);
	for (; start < total && !rc; start += chunk) {
		int64_t cnt = total - start < chunk ? total - start : chunk;
		fill_rows(b, m->run.rows, start, cnt);
		rc = backend__forward(m, m->run.rows, cnt, b->embd_sum, cancel);
		if (rc)
			break;
	}
	pthread_mutex_unlock(&m->run.mu);
	advance(b, start < total ? start : total, rc == 0);
	return rc;
}

int engine_seq_eval(struct engine_seq *s, const int32_t *tokens, int64_t n, float *all_logits)
{
	struct batch b = {&s, &tokens, &n, 1, all_logits, NULL};
	if (atomic_load(&s->cancel))
		return ERR_CANCELLED;
	return run_batch(&b);
}

int engine_seq_eval_multi(struct engine_seq *const *seqs, const int32_t *const *tokens,
                          const int64_t *n, int n_seqs)
{
	if (n_seqs < 1)
		return 0;
	struct batch b = {seqs, tokens, n, n_seqs, NULL, NULL};
	return run_batch(&b);
}

int engine_embed(struct engine_seq *s, const int32_t *tokens, int64_t n, float *out)
{
	const int n_embd = s->m->hp.n_embd;
	if (n < 1)
		return ERR_INVALID;
	memset(out, 0, (size_t)n_embd * sizeof *out);
	s->n_past = 0;
	s->has_logits = false;
	struct batch b = {&s, &tokens, &n, 1, NULL, out};
	int rc = run_batch(&b);
	if (rc)
		return rc;
	double norm = 0.0;
	for (int j = 0; j < n_embd; j++) {
		out[j] /= (float)n;
		norm += (double)out[j] * out[j];
	}
	float inv = norm > 0.0 ? (float)(1.0 / sqrt(norm)) : 0.0f;
	for (int j = 0; j < n_embd; j++)
		out[j] *= inv;
	return 0;
}

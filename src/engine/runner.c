/* runner.c — the part of a model that runs forward passes: its thread pool,
 * the lock that serialises passes, and the scratch buffers, which grow to
 * the largest batch and context seen and are then reused (nothing is
 * allocated per token). Not here: the pass itself (forward.c). */
#include "engine/engine_internal.h"

#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

int runner__init(struct engine_model *m, int n_threads, char *err)
{
	struct runner *r = &m->run;
	memset(r, 0, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	r->n_threads = n_threads;
	r->tp = threadpool_new(n_threads);
	if (!r->tp)
		return err_set(err, ERR_NOMEM, "cannot start %d threads", n_threads);
	r->ts = xcalloc((size_t)n_threads, sizeof *r->ts);
	return 0;
}

static void free_buffers(struct runner *r)
{
	free(r->qkv);
	free(r->attn);
	free(r->o);
	free(r->gate);
	free(r->rope);
	free(r->out_rows);
	free(r->rows);
	free(r->act);
	free(r->ctr);
	r->rows = NULL;
	r->act = NULL;
	r->ctr = NULL;
	r->qkv = r->attn = r->o = r->gate = r->rope = NULL;
	r->out_rows = NULL;
	for (int i = 0; r->ts && i < r->n_threads; i++) {
		free(r->ts[i].x);
		free(r->ts[i].h);
		free(r->ts[i].q_own);
		free(r->ts[i].up);
		r->ts[i].up = NULL;
		r->ts[i].x = NULL;
		r->ts[i].h = NULL;
		r->ts[i].q_own = NULL;
		r->ts[i].q = NULL;
	}
	r->cap_rows = 0;
}

void runner__release(struct runner *r)
{
	if (r->tp)
		threadpool_free(r->tp);
	free_buffers(r);
	for (int i = 0; r->ts && i < r->n_threads; i++) {
		free(r->ts[i].scores);
		free(r->ts[i].conv);
	}
	free(r->ts);
	pthread_mutex_destroy(&r->mu);
	memset(r, 0, sizeof *r);
}

static float *falloc(int64_t rows, int64_t cols)
{
	return try_malloc_array((size_t)rows, (size_t)cols * sizeof(float));
}

static int grow_rows(struct engine_model *m, int64_t n)
{
	struct runner *r = &m->run;
	const struct hparams *hp = &m->hp;
	int64_t nq = (int64_t)hp->n_head * hp->head_dim_k;
	int64_t qkv = nq + hp_kv_dim_k(hp) + hp_kv_dim_v(hp);
	int64_t nattn = (int64_t)hp->n_head * hp->head_dim_v;
	free_buffers(r);
	r->qkv = falloc(n, qkv);
	r->attn = falloc(n, nattn);
	r->o = falloc(n, hp->n_embd);
	r->gate = falloc(n, hp->n_ff);
	r->rope = falloc(n * (hp->n_rope_cfg > 0 ? hp->n_rope_cfg : 1), hp->n_rot);
	r->out_rows = try_malloc_array((size_t)n, sizeof *r->out_rows);
	r->rows = try_malloc_array((size_t)n, sizeof *r->rows);
	/* prepared rows start on cache lines (the AMX tiles load them in place) */
	r->act = try_aligned_array((size_t)n, m->act_row_bytes ? m->act_row_bytes : 1, 64);
	r->ctr = try_malloc_array((size_t)hp->n_layer * FWD_LAYER_COUNTERS + (size_t)n,
	                          sizeof *r->ctr);
	bool ok = r->qkv && r->attn && r->o && r->gate && r->rope && r->out_rows && r->rows &&
	          r->act && r->ctr;
	for (int i = 0; ok && i < r->n_threads; i++) {
		struct thread_scratch *ts = &r->ts[i];
		ts->q_row_cap = m->act_row_bytes;
		ts->x = falloc(n, hp->n_embd);
		ts->h = falloc(n, hp->n_embd);
		ts->q_own_rows = n < MM_OWN_ROWS ? n : MM_OWN_ROWS;
		ts->q_own = try_aligned_array((size_t)ts->q_own_rows,
		                              ts->q_row_cap ? ts->q_row_cap : 1, 64);
		/* the largest chunk forward.c hands out (one thread) */
		ts->up_cols = (hp->n_ff / 8) & ~(int64_t)15;
		ts->up_cols = ts->up_cols < 16 ? 16 : ts->up_cols;
		if (m->layers && ts->up_cols < mm_min_rows(&m->layers[0].ffn_gate, n))
			ts->up_cols = mm_min_rows(&m->layers[0].ffn_gate, n);
		ts->up_cols = ts->up_cols > hp->n_ff ? hp->n_ff : ts->up_cols;
		ts->up = falloc(n, ts->up_cols);
		ts->q = NULL;
		ts->q_src = NULL;
		ok = ts->x && ts->h && ts->q_own && ts->up;
	}
	if (!ok) {
		free_buffers(r);
		return ERR_NOMEM;
	}
	r->cap_rows = n;
	return 0;
}

int runner__reserve(struct engine_model *m, int64_t n_rows, int64_t n_ctx)
{
	struct runner *r = &m->run;
	if (n_rows > r->cap_rows) {
		int rc = grow_rows(m, n_rows);
		if (rc)
			return rc;
	}
	if (n_ctx > r->cap_ctx) {
		const struct hparams *hp = &m->hp;
		size_t grp = (size_t)(hp->n_head / hp->n_head_kv);
		/* one row over the whole context; tiles of ATTN_ROWS rows while
		 * that stays under 4 MiB (forward.c makes tiles that fit) */
		size_t n_sc = grp * (size_t)n_ctx, tile = n_sc * ATTN_ROWS;
		size_t limit = ((size_t)1 << 20) > n_sc ? (size_t)1 << 20 : n_sc;
		n_sc = tile < limit ? tile : limit;
		size_t conv = attn__conv_bytes(hp);
		for (int i = 0; i < r->n_threads; i++) {
			/* softmax reads up to 15 floats past a row; a block's
			 * scores start up to ATTN_SC_PAD before the first row */
			float *s = try_malloc_array(ATTN_SC_PAD + n_sc + 16, sizeof(float));
			uint8_t *c = try_malloc_array(conv, 1);
			if (!s || !c) {
				free(s);
				free(c);
				return ERR_NOMEM;
			}
			free(r->ts[i].scores);
			free(r->ts[i].conv);
			r->ts[i].scores = s;
			r->ts[i].conv = c;
		}
		r->cap_ctx = n_ctx;
		r->cap_scores = (int64_t)n_sc;
	}
	return 0;
}

/* forward.c — one forward pass over a batch of rows (tokens of one or more
 * sequences) as a single parallel region: every thread runs the whole pass,
 * splitting each stage's work and meeting at a barrier where the next stage
 * reads what others wrote. Cheap per-row work that feeds a matmul (RMSNorm,
 * activation quantization) is done by every thread for itself instead of
 * paying a barrier. The block is the generic one every architecture
 * describes with its flags (engine_internal.h struct hparams / struct layer). */
#include "engine/engine_internal.h"

#include <string.h>

/* Weight bytes x rows one extra thread must have to be worth waking: below
 * it (tiny models, single tokens of small ones) barriers cost more than the
 * work they split. */
#define WORK_PER_THREAD (4ll << 20)

struct fwd {
	struct engine_model *m;
	const struct fwd_row *rows;
	int64_t n;
	int64_t n_out; /* rows with logits: m->run.out_rows[0..n_out) */
	float *embd_sum;
	const atomic_bool *cancel;
	atomic_int stop;
};

static inline void split(int64_t n, int ith, int nth, int64_t *a, int64_t *b)
{
	*a = n * ith / nth;
	*b = n * (ith + 1) / nth;
}

static void stage_embed(struct fwd *f, int ith, int nth)
{
	const struct engine_model *m = f->m;
	const struct hparams *hp = &m->hp;
	const struct runner *r = &m->run;
	int64_t a, b;
	split(f->n, ith, nth, &a, &b);
	for (int64_t i = a; i < b; i++) {
		float *x = r->x + i * hp->n_embd;
		const struct tensor *e = &m->tok_embd;
		e->qt->to_float(e->data + (size_t)f->rows[i].token * e->row_bytes, x, hp->n_embd);
		if (hp->embd_scale != 1.0f)
			for (int j = 0; j < hp->n_embd; j++)
				x[j] *= hp->embd_scale;
		for (int c = 0; c < hp->n_rope_cfg; c++)
			ops_rope_cache(r->rope + (c * r->cap_rows + i) * hp->n_rot, hp->n_rot,
			               f->rows[i].pos, &hp->rope[c], hp->rope_freqs);
	}
}

/* Every thread: h = RMSNorm(x) * w for all rows, into its own scratch. */
static void norm_rows(const struct fwd *f, struct thread_scratch *ts, const float *w)
{
	const struct hparams *hp = &f->m->hp;
	for (int64_t i = 0; i < f->n; i++)
		ops_rmsnorm(ts->h + i * hp->n_embd, f->m->run.x + i * hp->n_embd, w, hp->n_embd,
		            hp->eps);
	ts->q_src = NULL; /* h changed: its quantized copy is stale */
}

static void stage_qkv(struct fwd *f, const struct layer *L, int ith, int nth,
                      struct thread_scratch *ts)
{
	const struct hparams *hp = &f->m->hp;
	const struct runner *r = &f->m->run;
	int64_t nq = (int64_t)hp->n_head * hp->head_dim_k, nk = hp_kv_dim_k(hp);
	int64_t ld = nq + nk + hp_kv_dim_v(hp);
	struct mm_job jobs[3] = {
	    {&L->wq, r->qkv, ld}, {&L->wk, r->qkv + nq, ld}, {&L->wv, r->qkv + nq + nk, ld}};
	int64_t a, b;
	norm_rows(f, ts, L->attn_norm);
	split(ld, ith, nth, &a, &b);
	mm_run(jobs, 3, ts->h, hp->n_embd, f->n, a, b, ts);
}

static void add_bias(float *x, const float *bias, int64_t n)
{
	if (bias)
		for (int64_t i = 0; i < n; i++)
			x[i] += bias[i];
}

/* Biases, per-head norms, RoPE and (for K, V) the store into the cache:
 * one unit per (row, q head) and per (row, kv head). */
static void stage_rope(struct fwd *f, int il, int ith, int nth)
{
	const struct hparams *hp = &f->m->hp;
	const struct runner *r = &f->m->run;
	const struct layer *L = &f->m->layers[il];
	const int nh = hp->n_head, nkv = hp->n_head_kv, dk = hp->head_dim_k, dv = hp->head_dim_v;
	const int64_t nq = (int64_t)nh * dk, nk = hp_kv_dim_k(hp), ld = nq + nk + hp_kv_dim_v(hp);
	int64_t a, b;
	split(f->n * (nh + nkv), ith, nth, &a, &b);
	for (int64_t u = a; u < b; u++) {
		int64_t i = u / (nh + nkv);
		int h = (int)(u % (nh + nkv));
		const float *cs = r->rope + (L->rope_cfg * r->cap_rows + i) * hp->n_rot;
		float *row = r->qkv + i * ld;
		if (h < nh) {
			float *q = row + (int64_t)h * dk;
			add_bias(q, L->bq ? L->bq + (int64_t)h * dk : NULL, dk);
			if (L->q_norm)
				ops_rmsnorm(q, q, L->q_norm, dk, hp->eps);
			ops_rope(q, cs, hp->n_rot, hp->rope_mode);
			if (hp->q_prescale)
				for (int d = 0; d < dk; d++)
					q[d] *= hp->kq_scale;
			continue;
		}
		int g = h - nh;
		const struct fwd_row *fr = &f->rows[i];
		float *k = row + nq + (int64_t)g * dk, *v = row + nq + nk + (int64_t)g * dv;
		add_bias(k, L->bk ? L->bk + (int64_t)g * dk : NULL, dk);
		if (L->k_norm)
			ops_rmsnorm(k, k, L->k_norm, dk, hp->eps);
		ops_rope(k, cs, hp->n_rot, hp->rope_mode);
		add_bias(v, L->bv ? L->bv + (int64_t)g * dv : NULL, dv);
		attn__store(fr->seq, il, fr->pos, g, k, v);
	}
}

static void stage_attn(struct fwd *f, int il, int ith, int nth, struct thread_scratch *ts)
{
	const struct hparams *hp = &f->m->hp;
	const struct runner *r = &f->m->run;
	const struct layer *L = &f->m->layers[il];
	const int nh = hp->n_head, dk = hp->head_dim_k, dv = hp->head_dim_v;
	const int64_t ld = (int64_t)nh * dk + hp_kv_dim_k(hp) + hp_kv_dim_v(hp);
	const int group = nh / hp->n_head_kv;
	const float scale = hp->q_prescale ? 1.0f : hp->kq_scale;
	int64_t a, b;
	split(f->n * nh, ith, nth, &a, &b);
	for (int64_t u = a; u < b; u++) {
		int64_t i = u / nh;
		int h = (int)(u % nh), g = h / group;
		const struct fwd_row *fr = &f->rows[i];
		int64_t k0 = L->window > 0 && fr->pos >= L->window ? fr->pos - L->window + 1 : 0;
		attn__head(r->attn + i * nh * dv + (int64_t)h * dv,
		           r->qkv + i * ld + (int64_t)h * dk, fr->seq, il, g, k0, fr->pos, scale,
		           hp->attn_softcap, ts);
	}
}

/* x += post_norm(o) (or o), rows split across threads. */
static void stage_residual(struct fwd *f, const float *post_norm, int ith, int nth)
{
	const struct hparams *hp = &f->m->hp;
	const struct runner *r = &f->m->run;
	int64_t a, b;
	split(f->n, ith, nth, &a, &b);
	for (int64_t i = a; i < b; i++) {
		float *x = r->x + i * hp->n_embd, *o = r->o + i * hp->n_embd;
		if (post_norm)
			ops_rmsnorm(o, o, post_norm, hp->n_embd, hp->eps);
		for (int j = 0; j < hp->n_embd; j++)
			x[j] = o[j] + x[j];
	}
}

static void stage_ffn_up(struct fwd *f, const struct layer *L, int ith, int nth,
                         struct thread_scratch *ts)
{
	const struct hparams *hp = &f->m->hp;
	const struct runner *r = &f->m->run;
	struct mm_job g = {&L->ffn_gate, r->gate, hp->n_ff}, u = {&L->ffn_up, r->up, hp->n_ff};
	int64_t a, b;
	norm_rows(f, ts, L->ffn_norm);
	split(hp->n_ff, ith, nth, &a, &b);
	mm_run(&g, 1, ts->h, hp->n_embd, f->n, a, b, ts);
	mm_run(&u, 1, ts->h, hp->n_embd, f->n, a, b, ts);
	for (int64_t i = 0; i < f->n; i++) {
		float *gr = r->gate + i * hp->n_ff + a;
		const float *ur = r->up + i * hp->n_ff + a;
		if (hp->act == ACT_GELU)
			ops_gelu_mul(gr, ur, b - a);
		else
			ops_silu_mul(gr, ur, b - a);
	}
}

static void run_layer(struct fwd *f, int il, int ith, int nth, struct thread_scratch *ts)
{
	const struct engine_model *m = f->m;
	const struct hparams *hp = &m->hp;
	const struct runner *r = &m->run;
	const struct layer *L = &m->layers[il];
	struct threadpool *tp = m->run.tp;
	int64_t a, b;
	struct mm_job o = {&L->wo, r->o, hp->n_embd}, d = {&L->ffn_down, r->o, hp->n_embd};

	stage_qkv(f, L, ith, nth, ts);
	threadpool_barrier(tp);
	stage_rope(f, il, ith, nth);
	threadpool_barrier(tp);
	stage_attn(f, il, ith, nth, ts);
	threadpool_barrier(tp);
	split(hp->n_embd, ith, nth, &a, &b);
	mm_run(&o, 1, r->attn, (int64_t)hp->n_head * hp->head_dim_v, f->n, a, b, ts);
	threadpool_barrier(tp);
	stage_residual(f, L->post_attn_norm, ith, nth);
	threadpool_barrier(tp);
	stage_ffn_up(f, L, ith, nth, ts);
	threadpool_barrier(tp);
	mm_run(&d, 1, r->gate, hp->n_ff, f->n, a, b, ts);
	threadpool_barrier(tp);
	stage_residual(f, L->post_ffn_norm, ith, nth);
	if (ith == 0 && f->cancel && atomic_load(f->cancel))
		atomic_store(&f->stop, 1);
	threadpool_barrier(tp);
}

static void stage_output(struct fwd *f, int ith, int nth, struct thread_scratch *ts)
{
	const struct engine_model *m = f->m;
	const struct hparams *hp = &m->hp;
	const struct runner *r = &m->run;
	if (f->embd_sum && ith == 0) {
		for (int64_t i = 0; i < f->n; i++) {
			ops_rmsnorm(ts->h, r->x + i * hp->n_embd, m->output_norm, hp->n_embd,
			            hp->eps);
			for (int j = 0; j < hp->n_embd; j++)
				f->embd_sum[j] += ts->h[j];
		}
	}
	int64_t a, b;
	split(hp->n_vocab, ith, nth, &a, &b);
	for (int64_t k = 0; k < f->n_out; k++) {
		int64_t i = r->out_rows[k];
		float *h = ts->h + k * hp->n_embd, *y = f->rows[i].logits;
		ops_rmsnorm(h, r->x + i * hp->n_embd, m->output_norm, hp->n_embd, hp->eps);
		ts->q_src = NULL;
		struct mm_job job = {&m->output, y, 0};
		mm_run(&job, 1, h, hp->n_embd, 1, a, b, ts);
		if (m->output_bias)
			for (int64_t j = a; j < b; j++)
				y[j] += m->output_bias[j];
		if (hp->final_softcap > 0.0f)
			ops_softcap(y + a, b - a, hp->final_softcap);
	}
}

static void fwd_thread(void *arg, int ith, int nth)
{
	struct fwd *f = arg;
	struct thread_scratch *ts = &f->m->run.ts[ith];
	stage_embed(f, ith, nth);
	threadpool_barrier(f->m->run.tp);
	for (int il = 0; il < f->m->hp.n_layer; il++) {
		run_layer(f, il, ith, nth, ts);
		if (atomic_load(&f->stop))
			return;
	}
	stage_output(f, ith, nth, ts);
}

int forward__run(struct engine_model *m, const struct fwd_row *rows, int64_t n, float *embd_sum,
                 const atomic_bool *cancel)
{
	struct runner *r = &m->run;
	if (n < 1 || n > r->cap_rows)
		return ERR_INVALID;
	struct fwd f = {.m = m, .rows = rows, .n = n, .embd_sum = embd_sum, .cancel = cancel};
	for (int64_t i = 0; i < n; i++)
		if (rows[i].logits)
			r->out_rows[f.n_out++] = i;
	int64_t work = m->info.n_bytes * n / WORK_PER_THREAD + 1;
	threadpool_run_n(r->tp, fwd_thread, &f, work < r->n_threads ? (int)work : r->n_threads);
	return atomic_load(&f.stop) ? ERR_CANCELLED : 0;
}

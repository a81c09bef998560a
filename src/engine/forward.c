/* forward.c — one forward pass over a batch of rows (tokens of one or more
 * sequences) as a single parallel region: every thread runs the whole pass,
 * takes its share of each matmul and attention, and meets the others at a
 * barrier only where it must read what they wrote: 4 barriers per layer
 * (after attention, wo, gate/up, down) in decode, 2 more where the
 * attention stage is split finer than KV groups (prefill, or KV heads that
 * do not split evenly across the threads). Before each of the 4 a thread
 * takes its first chunk of the next stage, and in decode warms that
 * chunk's weights while it waits for the others (the memory would idle
 * otherwise). In decode every thread keeps its own copy of the residual
 * stream and redoes the cheap per-row work (residual adds, RMSNorm,
 * activation quantization) instead of paying a barrier; in prefill the
 * stream is one, and each thread adds and normalises the rows it prepares
 * for the matmuls. The block is the generic one every architecture
 * describes with its flags (engine_internal.h struct hparams / struct
 * layer). */
#include "engine/engine_internal.h"

#include <string.h>

struct fwd {
	struct engine_model *m;
	const struct fwd_row *rows;
	int64_t n;
	int64_t n_out; /* rows with logits: m->run.out_rows[0..n_out) */
	float *embd_sum;
	const atomic_bool *cancel;
	atomic_int stop;
	bool split_rows; /* one residual stream, rows split (rows_split) */
};

/* From this many rows on, each matmul input is prepared once, rows split
 * across the threads (one more barrier); below, every thread prepares the
 * few rows itself. */
#define SHARE_ROWS 8

/* Matmul rows are handed out in chunks from a counter (one per stage of a
 * pass), so a thread that another process slows down takes fewer chunks
 * and the threads reach the next barrier together. Each output element is
 * computed the same way whoever computes it. */
enum { ST_QKV, ST_WO, ST_UP, ST_DOWN, ST_ATTN, ST_PER_LAYER };
_Static_assert(ST_PER_LAYER == FWD_LAYER_COUNTERS, "the runner allocates the counters");

/* Stage `stage` of layer il; il = n_layer: the output row `stage`. */
static atomic_int *counter(const struct fwd *f, int il, int64_t stage)
{
	return &f->m->run.ctr[(int64_t)il * ST_PER_LAYER + stage];
}

/* A chunk (or KV group: a = g) a thread took from a stage's counter before
 * the barrier that opens the stage, so that it could warm the chunk's
 * weights while it waited; it runs it first. */
struct claim {
	int64_t a, b;
	bool ok;
};

/* The next chunk [*a, *b) of rows [0, n) of w's stage (the claimed one
 * first, when c holds one); false when none is left. The counter holds the
 * first row not yet handed out. Chunks are 1/8 of a thread's share until
 * the last two rounds, which shrink with what is left (half a thread's
 * share of it, down to 16 rows) so that the threads finish together: a thread
 * that another process slows down is left a small chunk, not a large one.
 * Where w's kernel asks for a row group in this batch, every chunk is
 * whole groups (a chunk of 1.4 groups would run as 2, the second short;
 * a short group packs as many weights per row and reads the activations
 * as often as a whole one). */
static bool chunk_next(const struct fwd *f, atomic_int *ctr, const struct tensor *w, int64_t n,
                       int nth, struct claim *c, int64_t *a, int64_t *b)
{
	if (c && c->ok) {
		c->ok = false;
		*a = c->a;
		*b = c->b;
		return true;
	}
	int64_t step = (n / ((int64_t)nth * 8)) & ~(int64_t)15, unit = 16;
	step = step < 16 ? 16 : step;
	int64_t min = mm_min_rows(w, f->n);
	if (min > 0) {
		step = step < min ? min : step / min * min;
		unit = mm_tail_rows(w, f->n);
	}
	int pos = atomic_load_explicit(ctr, memory_order_relaxed), take;
	do {
		if (pos >= n)
			return false;
		int64_t left = n - pos, k = step;
		if (left < 2 * nth * step) {
			k = left / (2 * (int64_t)nth) / unit * unit;
			k = k < unit ? unit : k;
		}
		take = (int)(k < left ? k : left);
	} while (!atomic_compare_exchange_weak_explicit(ctr, &pos, pos + take, memory_order_relaxed,
	                                                memory_order_relaxed));
	*a = pos;
	*b = pos + take;
	return true;
}

/* Rows [a, b) of w as a range to warm: none when w is absent, or when the
 * batch is big enough for the matmuls to be bound by arithmetic, not by
 * memory (warming would only push the prepared activations out of L2). */
static int rows_range(const struct fwd *f, const struct tensor *w, int64_t a, int64_t b,
                      struct tp_range *r)
{
	if (!w->data || b <= a || f->n >= SHARE_ROWS)
		return 0;
	*r = (struct tp_range){w->data + (size_t)a * w->row_bytes, (size_t)(b - a) * w->row_bytes};
	return 1;
}

/* Takes c, the thread's first chunk of rows [0, n) of w's stage (and of w2,
 * the stage's second matrix with the same rows, if any), then meets the
 * others at the barrier, warming that chunk's weights while it waits. */
static void claim_wait(const struct fwd *f, atomic_int *ctr, const struct tensor *w,
                       const struct tensor *w2, int64_t n, int nth, struct claim *c)
{
	struct tp_range r[2];
	int k = 0;
	c->ok = chunk_next(f, ctr, w, n, nth, NULL, &c->a, &c->b);
	if (c->ok) {
		k += rows_range(f, w, c->a, c->b, r + k);
		if (w2)
			k += rows_range(f, w2, c->a, c->b, r + k);
	}
	threadpool_barrier_pf(f->m->run.tp, r, k);
}

static inline void split(int64_t n, int ith, int nth, int64_t *a, int64_t *b)
{
	*a = n * ith / nth;
	*b = n * (ith + 1) / nth;
}

/* Whether a pass of n rows keeps one residual stream, each thread adding
 * and normalising only the rows mm_share has it prepare (the same split
 * for every matmul input): a batch that shares its inputs, where every
 * matmul reading the normalised rows reads them as the first one of its
 * stage prepared them, never the rows themselves. Each thread's copy of
 * the stream was 4 MiB at 512 rows of 2048, and half its work redundant. */
static bool rows_split(const struct engine_model *m, int64_t n)
{
	if (n < SHARE_ROWS)
		return false;
	for (int il = 0; il < m->hp.n_layer; il++) {
		const struct layer *L = &m->layers[il];
		if (!mm_shares_input(&L->wq, &L->wk) || !mm_shares_input(&L->wq, &L->wv) ||
		    !mm_shares_input(&L->ffn_gate, &L->ffn_up))
			return false;
	}
	return true;
}

/* The residual stream a thread works on (with split_rows thread 0's
 * buffer, shared) and the rows [*a, *b) of it that are its to update. */
static float *stream(const struct fwd *f, const struct thread_scratch *ts)
{
	return f->split_rows ? f->m->run.ts[0].x : ts->x;
}

static void own_rows(const struct fwd *f, int ith, int nth, int64_t *a, int64_t *b)
{
	if (f->split_rows) {
		split(f->n, ith, nth, a, b);
	} else {
		*a = 0;
		*b = f->n;
	}
}

/* Every thread embeds its rows of the residual stream (every row of its
 * own copy, or its share of the shared one); the RoPE tables are shared,
 * computed once (rows split) before the first barrier. */
static void stage_embed(struct fwd *f, int ith, int nth, struct thread_scratch *ts)
{
	const struct engine_model *m = f->m;
	const struct hparams *hp = &m->hp;
	const struct runner *r = &m->run;
	const struct tensor *e = &m->tok_embd;
	int64_t a, b;
	own_rows(f, ith, nth, &a, &b);
	for (int64_t i = a; i < b; i++) {
		float *x = stream(f, ts) + i * hp->n_embd;
		e->qt->to_float(e->data + (size_t)f->rows[i].token * e->row_bytes, x, hp->n_embd);
		if (hp->embd_scale != 1.0f)
			for (int j = 0; j < hp->n_embd; j++)
				x[j] *= hp->embd_scale;
	}
	split(f->n, ith, nth, &a, &b);
	for (int64_t i = a; i < b; i++)
		for (int c = 0; c < hp->n_rope_cfg; c++)
			ops_rope_cache(r->rope + (c * r->cap_rows + i) * hp->n_rot, hp->n_rot,
			               f->rows[i].pos, &hp->rope[c], hp->rope_freqs);
}

/* h = RMSNorm(x) * w for the thread's rows, in its own scratch. */
static void norm_rows(const struct fwd *f, struct thread_scratch *ts, const float *w, int ith,
                      int nth)
{
	const struct hparams *hp = &f->m->hp;
	int64_t a, b;
	own_rows(f, ith, nth, &a, &b);
	for (int64_t i = a; i < b; i++)
		ops_rmsnorm(ts->h + i * hp->n_embd, stream(f, ts) + i * hp->n_embd, w, hp->n_embd,
		            hp->eps);
	ts->q_src = NULL; /* h changed: its quantized copy is stale */
}

/* Prepares x for w once for all threads when the batch is big enough. */
static void share(const struct fwd *f, const struct tensor *w, const float *x, int64_t ldx, int ith,
                  int nth, struct thread_scratch *ts)
{
	const struct runner *r = &f->m->run;
	if (f->n >= SHARE_ROWS)
		mm_share(w, x, ldx, f->n, r->act, ts->q_row_cap, ith, nth, r->tp, ts);
}

/* x += post_norm(o) (or o) for the thread's rows of its stream. */
static void residual(const struct fwd *f, struct thread_scratch *ts, const float *post_norm,
                     int ith, int nth)
{
	const struct hparams *hp = &f->m->hp;
	int64_t a, b;
	own_rows(f, ith, nth, &a, &b);
	for (int64_t i = a; i < b; i++) {
		float *x = stream(f, ts) + i * hp->n_embd, *t = ts->h + i * hp->n_embd;
		const float *o = f->m->run.o + i * hp->n_embd;
		if (post_norm) {
			ops_rmsnorm(t, o, post_norm, hp->n_embd, hp->eps);
			o = t;
		}
		ops_add(x, o, hp->n_embd);
	}
	ts->q_src = NULL;
}

static void add_bias(float *x, const float *bias, int64_t n)
{
	if (bias)
		for (int64_t i = 0; i < n; i++)
			x[i] += bias[i];
}

static inline int64_t qkv_ld(const struct hparams *hp)
{
	return (int64_t)hp->n_head * hp->head_dim_k + hp_kv_dim_k(hp) + hp_kv_dim_v(hp);
}

static inline const float *rope_of(const struct fwd *f, const struct layer *L, int64_t i)
{
	const struct runner *r = &f->m->run;
	return r->rope + (L->rope_cfg * r->cap_rows + i) * f->m->hp.n_rot;
}

/* Q head h of row i: bias, per-head norm, RoPE, pre-scale. */
static void prep_q(const struct fwd *f, int il, int64_t i, int h)
{
	const struct hparams *hp = &f->m->hp;
	const struct layer *L = &f->m->layers[il];
	const int dk = hp->head_dim_k;
	float *q = f->m->run.qkv + i * qkv_ld(hp) + (int64_t)h * dk;
	add_bias(q, L->bq ? L->bq + (int64_t)h * dk : NULL, dk);
	if (L->q_norm)
		ops_rmsnorm(q, q, L->q_norm, dk, hp->eps);
	ops_rope(q, rope_of(f, L, i), hp->n_rot, hp->rope_mode);
	if (hp->q_prescale)
		for (int d = 0; d < dk; d++)
			q[d] *= hp->kq_scale;
}

/* KV head g of row i: biases, per-head norm, RoPE, store into the cache. */
static void prep_kv(const struct fwd *f, int il, int64_t i, int g)
{
	const struct hparams *hp = &f->m->hp;
	const struct layer *L = &f->m->layers[il];
	const int dk = hp->head_dim_k, dv = hp->head_dim_v;
	const int64_t nq = (int64_t)hp->n_head * dk, nk = hp_kv_dim_k(hp);
	float *row = f->m->run.qkv + i * qkv_ld(hp);
	float *k = row + nq + (int64_t)g * dk, *v = row + nq + nk + (int64_t)g * dv;
	add_bias(k, L->bk ? L->bk + (int64_t)g * dk : NULL, dk);
	if (L->k_norm)
		ops_rmsnorm(k, k, L->k_norm, dk, hp->eps);
	ops_rope(k, rope_of(f, L, i), hp->n_rot, hp->rope_mode);
	add_bias(v, L->bv ? L->bv + (int64_t)g * dv : NULL, dv);
	attn__store(f->rows[i].seq, il, f->rows[i].pos, g, k, v);
}

/* The end of the tile of rows that starts at row i: the rows after it of
 * the same sequence at the next positions, at most ATTN_ROWS and as many as
 * the score scratch holds (the same tiles in every layer). */
static int64_t tile_end(const struct fwd *f, int64_t i)
{
	const struct hparams *hp = &f->m->hp;
	const struct fwd_row *r = f->rows;
	const int64_t grp = hp->n_head / hp->n_head_kv, cap = f->m->run.cap_scores;
	int64_t e = i + 1;
	while (e < f->n && e - i < ATTN_ROWS && r[e].seq == r[i].seq &&
	       r[e].pos == r[e - 1].pos + 1 && (e - i + 1) * grp * (r[e].pos + 1) <= cap)
		e++;
	return e;
}

/* The first cache position a row at pos attends to in layer L (its
 * sliding window's, or 0). */
static inline int64_t first_key(const struct layer *L, int64_t pos)
{
	return L->window > 0 && pos >= L->window ? pos - L->window + 1 : 0;
}

/* Attention of the query heads of KV group g of rows [i, e) (a tile) over
 * their sequence's cache (their Q heads are prepared, their K and V stored). */
static void attend(const struct fwd *f, int il, int64_t i, int64_t e, int g,
                   struct thread_scratch *ts)
{
	const struct hparams *hp = &f->m->hp;
	const struct layer *L = &f->m->layers[il];
	const int grp = hp->n_head / hp->n_head_kv;
	struct attn_row rw[ATTN_ROWS];
	for (int64_t t = i; t < e; t++) {
		const int64_t pos = f->rows[t].pos;
		rw[t - i] = (struct attn_row){
		    .out = f->m->run.attn + (t * hp->n_head + (int64_t)g * grp) * hp->head_dim_v,
		    .q = f->m->run.qkv + t * qkv_ld(hp) + (int64_t)g * grp * hp->head_dim_k,
		    .k0 = first_key(L, pos),
		    .k1 = pos,
		};
	}
	attn__group_rows(rw, (int)(e - i), grp, f->rows[i].seq, il, g,
	                 hp->q_prescale ? 1.0f : hp->kq_scale, hp->attn_softcap, ts);
}

/* Projections of the KV groups [g0, g1) (their Q heads, K and V rows). */
static void qkv_groups(struct fwd *f, const struct layer *L, int64_t g0, int64_t g1,
                       struct thread_scratch *ts)
{
	const struct hparams *hp = &f->m->hp;
	float *qkv = f->m->run.qkv;
	const int64_t grp = hp->n_head / hp->n_head_kv, ld = qkv_ld(hp);
	const int64_t nq = (int64_t)hp->n_head * hp->head_dim_k, nk = hp_kv_dim_k(hp);
	const int dk = hp->head_dim_k, dv = hp->head_dim_v;
	struct mm_job q = {&L->wq, qkv, ld, 0}, k = {&L->wk, qkv + nq, ld, 0},
	              v = {&L->wv, qkv + nq + nk, ld, 0};
	mm_run(&q, 1, ts->h, hp->n_embd, f->n, g0 * grp * dk, g1 * grp * dk, ts);
	mm_run(&k, 1, ts->h, hp->n_embd, f->n, g0 * dk, g1 * dk, ts);
	mm_run(&v, 1, ts->h, hp->n_embd, f->n, g0 * dv, g1 * dv, ts);
}

static int next_group(const struct fwd *f, int il)
{
	return atomic_fetch_add_explicit(counter(f, il, ST_QKV), 1, memory_order_relaxed);
}

/* Whether layers take their attention by KV groups (attn_grouped): in
 * decode, where the KV heads split evenly across the threads. A batch
 * splits it finer (attn_split): a group's projections and attention are a
 * quarter of the stage with 4 KV groups, so a thread that another process
 * slowed down held the other up by as much at the barrier (3.2% of Q4_0
 * pp512 samples in it). */
static bool grouped(const struct fwd *f, int nth)
{
	return f->m->hp.n_head_kv % nth == 0 && f->n < SHARE_ROWS;
}

/* The whole attention of KV groups, one at a time from the stage's
 * counter (a thread that another process slows down takes fewer), each by
 * one thread without a barrier: tiles go in order, so a row's keys and
 * values are stored before that row (and later rows of its sequence)
 * attend to them. The group claimed in c goes first. */
static void attn_grouped(struct fwd *f, int il, struct thread_scratch *ts, struct claim *c)
{
	const struct hparams *hp = &f->m->hp;
	const int grp = hp->n_head / hp->n_head_kv;
	int g;
	while ((g = c->ok ? (int)c->a : next_group(f, il)) < hp->n_head_kv) {
		c->ok = false;
		qkv_groups(f, &f->m->layers[il], g, g + 1, ts);
		for (int64_t i = 0, e; i < f->n; i = e) {
			e = tile_end(f, i);
			for (int64_t t = i; t < e; t++) {
				prep_kv(f, il, t, g);
				for (int h = g * grp; h < (g + 1) * grp; h++)
					prep_q(f, il, t, h);
			}
			attend(f, il, i, e, g, ts);
		}
	}
}

/* Takes c, the thread's first KV group of layer il when the layer is
 * grouped, then meets the others at the barrier, warming the group's Q, K
 * and V rows while it waits. */
static void claim_group_wait(const struct fwd *f, int il, int nth, struct claim *c)
{
	const struct hparams *hp = &f->m->hp;
	struct tp_range r[3];
	int k = 0;
	c->ok = false;
	if (il < hp->n_layer && grouped(f, nth)) {
		const struct layer *L = &f->m->layers[il];
		const int64_t g = next_group(f, il), grp = hp->n_head / hp->n_head_kv;
		const int64_t dk = hp->head_dim_k, dv = hp->head_dim_v;
		c->ok = g < hp->n_head_kv;
		c->a = g;
		if (c->ok) {
			k += rows_range(f, &L->wq, g * grp * dk, (g + 1) * grp * dk, r + k);
			k += rows_range(f, &L->wk, g * dk, (g + 1) * dk, r + k);
			k += rows_range(f, &L->wv, g * dv, (g + 1) * dv, r + k);
		}
	}
	threadpool_barrier_pf(f->m->run.tp, r, k);
}

/* The same with the work split finer than KV groups: projections by output
 * rows, then (row, head) units for RoPE, then (tile, KV group) units for
 * attention, taken in order from the stage's attention counter (a thread
 * that another process slows down takes fewer); 2 barriers. */
static void attn_split(struct fwd *f, int il, int ith, int nth, struct thread_scratch *ts)
{
	const struct hparams *hp = &f->m->hp;
	const struct layer *L = &f->m->layers[il];
	struct threadpool *tp = f->m->run.tp;
	const int nh = hp->n_head, nkv = hp->n_head_kv;
	const int64_t ld = qkv_ld(hp), nq = (int64_t)nh * hp->head_dim_k, nk = hp_kv_dim_k(hp);
	float *qkv = f->m->run.qkv;
	struct mm_job jobs[3] = {
	    {&L->wq, qkv, ld, 0}, {&L->wk, qkv + nq, ld, 0}, {&L->wv, qkv + nq + nk, ld, 0}};
	int64_t a, b;
	while (chunk_next(f, counter(f, il, ST_QKV), &L->wq, ld, nth, NULL, &a, &b))
		mm_run(jobs, 3, ts->h, hp->n_embd, f->n, a, b, ts);
	threadpool_barrier(tp);
	split(f->n * (nh + nkv), ith, nth, &a, &b);
	for (int64_t u = a; u < b; u++) {
		int h = (int)(u % (nh + nkv));
		if (h < nh)
			prep_q(f, il, u / (nh + nkv), h);
		else
			prep_kv(f, il, u / (nh + nkv), h - nh);
	}
	threadpool_barrier(tp);
	atomic_int *ctr = counter(f, il, ST_ATTN);
	int64_t next = atomic_fetch_add_explicit(ctr, 1, memory_order_relaxed), t = 0;
	for (int64_t i = 0, e; i < f->n; i = e, t++) {
		e = tile_end(f, i);
		for (int g = 0; g < nkv; g++)
			if (t * nkv + g == next) {
				attend(f, il, i, e, g, ts);
				next = atomic_fetch_add_explicit(ctr, 1, memory_order_relaxed);
			}
	}
}

static void ffn_up(struct fwd *f, int il, int ith, int nth, struct thread_scratch *ts,
                   struct claim *c)
{
	const struct layer *L = &f->m->layers[il];
	const struct hparams *hp = &f->m->hp;
	const struct runner *r = &f->m->run;
	struct mm_job g = {&L->ffn_gate, r->gate, hp->n_ff, 0};
	int64_t a, b;
	norm_rows(f, ts, L->ffn_norm, ith, nth);
	share(f, &L->ffn_gate, ts->h, hp->n_embd, ith, nth, ts);
	while (chunk_next(f, counter(f, il, ST_UP), &L->ffn_gate, hp->n_ff, nth, c, &a, &b)) {
		/* up only for the chunk, in the thread's own buffer */
		struct mm_job u = {&L->ffn_up, ts->up, b - a, a};
		mm_run(&g, 1, ts->h, hp->n_embd, f->n, a, b, ts);
		mm_run(&u, 1, ts->h, hp->n_embd, f->n, a, b, ts);
		for (int64_t i = 0; i < f->n; i++) {
			float *gr = r->gate + i * hp->n_ff + a;
			const float *ur = ts->up + i * (b - a);
			if (hp->act == ACT_GELU)
				ops_gelu_mul(gr, ur, b - a);
			else
				ops_silu_mul(gr, ur, b - a);
		}
	}
}

/* Layer il; c holds the thread's claimed first KV group of it, and then
 * its claimed first chunk of what follows (the next layer's group, or the
 * output's first row). */
static void run_layer(struct fwd *f, int il, int ith, int nth, struct thread_scratch *ts,
                      struct claim *c)
{
	const struct engine_model *m = f->m;
	const struct hparams *hp = &m->hp;
	const struct runner *r = &m->run;
	const struct layer *L = &m->layers[il];
	int64_t a, b;
	struct mm_job o = {&L->wo, r->o, hp->n_embd, 0}, d = {&L->ffn_down, r->o, hp->n_embd, 0};

	norm_rows(f, ts, L->attn_norm, ith, nth);
	share(f, &L->wq, ts->h, hp->n_embd, ith, nth, ts);
	if (grouped(f, nth))
		attn_grouped(f, il, ts, c);
	else
		attn_split(f, il, ith, nth, ts);
	claim_wait(f, counter(f, il, ST_WO), &L->wo, NULL, hp->n_embd, nth, c);
	share(f, &L->wo, r->attn, (int64_t)hp->n_head * hp->head_dim_v, ith, nth, ts);
	while (chunk_next(f, counter(f, il, ST_WO), &L->wo, hp->n_embd, nth, c, &a, &b))
		mm_run(&o, 1, r->attn, (int64_t)hp->n_head * hp->head_dim_v, f->n, a, b, ts);
	claim_wait(f, counter(f, il, ST_UP), &L->ffn_gate, &L->ffn_up, hp->n_ff, nth, c);
	residual(f, ts, L->post_attn_norm, ith, nth);
	ffn_up(f, il, ith, nth, ts, c);
	claim_wait(f, counter(f, il, ST_DOWN), &L->ffn_down, NULL, hp->n_embd, nth, c);
	share(f, &L->ffn_down, r->gate, hp->n_ff, ith, nth, ts);
	while (chunk_next(f, counter(f, il, ST_DOWN), &L->ffn_down, hp->n_embd, nth, c, &a, &b))
		mm_run(&d, 1, r->gate, hp->n_ff, f->n, a, b, ts);
	if (ith == 0 && f->cancel && atomic_load(f->cancel))
		atomic_store(&f->stop, 1);
	if (il + 1 == hp->n_layer && f->n_out > 0)
		claim_wait(f, counter(f, il + 1, 0), &m->output, NULL, hp->n_vocab, nth, c);
	else
		claim_group_wait(f, il + 1, nth, c);
	residual(f, ts, L->post_ffn_norm, ith, nth);
}

static void stage_output(struct fwd *f, int ith, int nth, struct thread_scratch *ts,
                         struct claim *c)
{
	const struct engine_model *m = f->m;
	const struct hparams *hp = &m->hp;
	const struct runner *r = &m->run;
	float *h = ts->h;
	const float *x = stream(f, ts);
	if (f->embd_sum && ith == 0) {
		for (int64_t i = 0; i < f->n; i++) {
			ops_rmsnorm(h, x + i * hp->n_embd, m->output_norm, hp->n_embd, hp->eps);
			for (int j = 0; j < hp->n_embd; j++)
				f->embd_sum[j] += h[j];
		}
	}
	int64_t a, b;
	for (int64_t k = 0; k < f->n_out; k++) {
		int64_t i = r->out_rows[k];
		float *y = f->rows[i].logits;
		ops_rmsnorm(h, x + i * hp->n_embd, m->output_norm, hp->n_embd, hp->eps);
		ts->q_src = NULL;
		struct mm_job job = {&m->output, y, 0, 0};
		while (chunk_next(f, counter(f, hp->n_layer, k), &m->output, hp->n_vocab, nth,
		                  k == 0 ? c : NULL, &a, &b)) {
			mm_run(&job, 1, h, hp->n_embd, 1, a, b, ts);
			if (m->output_bias)
				for (int64_t j = a; j < b; j++)
					y[j] += m->output_bias[j];
			if (hp->final_softcap > 0.0f)
				ops_softcap(y + a, b - a, hp->final_softcap);
		}
	}
}

static void fwd_thread(void *arg, int ith, int nth)
{
	struct fwd *f = arg;
	struct thread_scratch *ts = &f->m->run.ts[ith];
	struct claim c;
	stage_embed(f, ith, nth, ts);
	claim_group_wait(f, 0, nth, &c);
	for (int il = 0; il < f->m->hp.n_layer; il++) {
		run_layer(f, il, ith, nth, ts, &c);
		if (atomic_load(&f->stop))
			return;
	}
	if (f->split_rows) /* the output reads rows that others added */
		threadpool_barrier(f->m->run.tp);
	stage_output(f, ith, nth, ts, &c);
}

int forward__run(struct engine_model *m, const struct fwd_row *rows, int64_t n, float *embd_sum,
                 const atomic_bool *cancel)
{
	struct runner *r = &m->run;
	if (n < 1 || n > r->cap_rows)
		return ERR_INVALID;
	struct fwd f = {.m = m,
	                .rows = rows,
	                .n = n,
	                .embd_sum = embd_sum,
	                .cancel = cancel,
	                .split_rows = rows_split(m, n)};
	for (int64_t i = 0; i < n; i++)
		if (rows[i].logits)
			r->out_rows[f.n_out++] = i;
	memset(r->ctr, 0,
	       ((size_t)m->hp.n_layer * ST_PER_LAYER + (size_t)f.n_out) * sizeof *r->ctr);
	int64_t nt = r->n_threads;
	if (m->work_per_thread > 0 && m->info.n_bytes * n / m->work_per_thread + 1 < nt)
		nt = m->info.n_bytes * n / m->work_per_thread + 1;
	threadpool_run_n(r->tp, fwd_thread, &f, (int)nt);
	return atomic_load(&f.stop) ? ERR_CANCELLED : 0;
}

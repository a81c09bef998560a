/* cuda_forward.c — one forward pass on the CUDA device: the same block as
 * forward.c (flags from the architecture: biases, head norms, post-norms,
 * NeoX RoPE, GELU, soft-caps, sliding windows), as one kernel launch per
 * operation on one stream: embed; per layer RMSNorm, activation conversion,
 * Q/K/V matvec, Q/K preparation and KV store, attention (4 kernels), wo,
 * residual, RMSNorm, gate/up, gating, down, residual; then the output norm
 * and matvec for the rows that want logits. The host uploads one step
 * buffer (rows, RoPE cos/sin computed by ops_rope_cache, output rows) and
 * downloads the logits. Not here: kernels (cuda/), memory (cuda_bufs.c). */
#include "engine/cuda_internal.h"

#include "engine/engine_internal.h"

#include <string.h>

struct cuda_pass {
	struct engine_model *m;
	struct cuda_model *cm;
	struct cuda_dev *d;
	CUstream st;
	const struct fwd_row *rows;
	int64_t n, n_out;
	struct cuda_step_layout lay;
	struct kb_act act[CUDA_N_ACT]; /* conversions of the current input */
	bool have[CUDA_N_ACT];
	const atomic_bool *cancel; /* checked between layers when launching directly */
	bool cancelled;
	int rc;
};

#define LAUNCH(ps, k, gx, gy, gz, bx, prm)                                                         \
	do {                                                                                       \
		if (!(ps)->rc)                                                                     \
			(ps)->rc = cuda__launch((ps)->d, (ps)->st, (k), (unsigned)(gx),            \
			                        (unsigned)(gy), (unsigned)(gz), (bx), &(prm));     \
	} while (0)

static inline unsigned blocks(int64_t n, int64_t per)
{
	return (unsigned)((n + per - 1) / per);
}

static void upload_step(struct cuda_pass *ps)
{
	const struct engine_model *m = ps->m;
	const struct hparams *hp = &m->hp;
	struct cuda_bufs *b = &ps->cm->b;
	uint8_t *h = b->host;
	struct kb_row *kr = (struct kb_row *)(h + ps->lay.rows);
	float *rope = (float *)(h + ps->lay.rope);
	int32_t *idx = (int32_t *)(h + ps->lay.idx);
	for (int64_t i = 0; i < ps->n; i++) {
		const struct fwd_row *r = &ps->rows[i];
		kr[i] = (struct kb_row){.token = r->token,
		                        .pos = (int32_t)r->pos,
		                        .n_ctx = (int32_t)r->seq->n_ctx,
		                        .kv = r->seq->dev_kv};
		for (int c = 0; c < hp->n_rope_cfg; c++)
			ops_rope_cache(rope + (c * b->cap_rows + i) * hp->n_rot, hp->n_rot, r->pos,
			               &hp->rope[c], hp->rope_freqs);
		if (r->logits)
			idx[ps->n_out++] = (int32_t)i;
	}
	if (!ps->rc)
		ps->rc = cuda__check(
		    ps->d, ps->d->api.cuMemcpyHtoDAsync(b->step, h, (size_t)ps->lay.amax, ps->st),
		    "step upload");
}

/* x (n_rows rows, ldx floats, k elements) converted for activation type a. */
static const struct kb_act *convert(struct cuda_pass *ps, enum cuda_act a, CUdeviceptr x,
                                    int64_t ldx, int64_t k, int64_t n_rows)
{
	struct kb_act *ac = &ps->act[a];
	if (ps->have[a])
		return ac;
	const CUdeviceptr *buf = ps->cm->b.act[a];
	struct kp_quant p = {.x = x, .ldx = ldx, .n = k, .n_rows = n_rows};
	memset(ac, 0, sizeof *ac);
	switch (a) {
	case CUDA_ACT_F32: ac->qs = x, ac->ld = ldx, ac->nb = (k + 3) / 4; break;
	case CUDA_ACT_Q8_0:
		ac->qs = buf[0], ac->d = buf[1], ac->nb = k / 32;
		p.act = *ac;
		LAUNCH(ps, CK_quant_q8_0, blocks(ac->nb * n_rows, KP_THREADS / 32), 1, 1, KP_THREADS,
		       p);
		break;
	case CUDA_ACT_Q8_K:
		ac->qs = buf[0], ac->d = buf[1], ac->bs = buf[2], ac->nb = k / 256;
		p.act = *ac;
		LAUNCH(ps, CK_quant_q8_K, ac->nb * n_rows, 1, 1, 256, p);
		break;
	default:
		ac->qs = buf[0], ac->nb = (k + 7) / 8;
		p.act = *ac;
		LAUNCH(ps, CK_quant_f16, blocks(ac->nb * 8 * n_rows, KP_THREADS), 1, 1, KP_THREADS,
		       p);
		break;
	}
	ps->have[a] = true;
	return ac;
}

/* The columns [0, n_cols) in launches of 8 columns per block row, then 4,
 * 2, 1 for the rest: every column is computed the same way in each. */
static void launch_mv(struct cuda_pass *ps, struct kp_mv *p, enum cuda_kernel mv1, int64_t max_out,
                      int n_jobs, int64_t n_cols)
{
	for (int64_t col = 0; col < n_cols;) {
		const int64_t rem = n_cols - col;
		const int lg = rem >= 8 ? 3 : rem >= 4 ? 2 : rem >= 2 ? 1 : 0;
		const int64_t gy = lg == 3 ? rem / 8 : 1;
		p->col0 = col;
		LAUNCH(ps, (enum cuda_kernel)(mv1 + lg), blocks(max_out, KP_MV_WARPS), gy, n_jobs,
		       32 * KP_MV_WARPS, *p);
		col += gy << lg;
	}
}

/* ys[i] (ldy floats per column) = mats[i] x for the input x (ldx, k). The
 * input is converted once per activation type; matrices of one type go in
 * one launch. */
static void matmul(struct cuda_pass *ps, const struct cuda_mat *const *mats, const CUdeviceptr *ys,
                   int n_mats, int64_t ldy, CUdeviceptr x, int64_t ldx, int64_t n_cols)
{
	bool done[KP_MAX_JOBS] = {false};
	memset(ps->have, 0, sizeof ps->have);
	for (int i = 0; i < n_mats; i++) {
		if (done[i])
			continue;
		struct kp_mv p;
		memset(&p, 0, sizeof p);
		int nj = 0;
		int64_t max_out = 0;
		for (int j = i; j < n_mats; j++) {
			if (done[j] || mats[j]->m.type != mats[i]->m.type)
				continue;
			p.job[nj] = (struct kp_mv_job){.w = mats[j]->m, .y = ys[j], .ldy = ldy};
			max_out = mats[j]->m.n_out > max_out ? mats[j]->m.n_out : max_out;
			done[j] = true;
			nj++;
		}
		p.act = *convert(ps, mats[i]->act, x, ldx, mats[i]->m.n_in, n_cols);
		launch_mv(ps, &p, mats[i]->mv1, max_out, nj, n_cols);
	}
}

static void norm(struct cuda_pass *ps, CUdeviceptr x, CUdeviceptr y, CUdeviceptr w, CUdeviceptr idx,
                 int64_t n_rows)
{
	const struct cuda_model *cm = ps->cm;
	struct kp_norm p = {.x = x,
	                    .y = y,
	                    .w = w,
	                    .idx = idx,
	                    .ldx = cm->ld_embd,
	                    .ldy = cm->ld_embd,
	                    .n = ps->m->hp.n_embd,
	                    .n_rows = n_rows,
	                    .eps = ps->m->hp.eps};
	LAUNCH(ps, CK_rmsnorm, n_rows, 1, 1, KP_THREADS, p);
}

static void residual(struct cuda_pass *ps, CUdeviceptr post_norm)
{
	const struct cuda_model *cm = ps->cm;
	struct kp_residual p = {.x = cm->b.x,
	                        .o = cm->b.o,
	                        .w = post_norm,
	                        .ldx = cm->ld_embd,
	                        .ldo = cm->ld_embd,
	                        .n = ps->m->hp.n_embd,
	                        .n_rows = ps->n,
	                        .eps = ps->m->hp.eps};
	LAUNCH(ps, CK_residual, ps->n, 1, 1, KP_THREADS, p);
}

static void qk_prep(struct cuda_pass *ps, int il)
{
	const struct hparams *hp = &ps->m->hp;
	const struct layer *L = &ps->m->layers[il];
	const struct cuda_layer *C = &ps->cm->layers[il];
	const struct cuda_bufs *b = &ps->cm->b;
	struct kp_qk p = {.qkv = b->qkv,
	                  .rows = b->step + ps->lay.rows,
	                  .rope = b->step + ps->lay.rope +
	                          (uint64_t)(L->rope_cfg * b->cap_rows * hp->n_rot * 4),
	                  .bq = C->bq,
	                  .bk = C->bk,
	                  .bv = C->bv,
	                  .qn = C->q_norm,
	                  .kn = C->k_norm,
	                  .ld = ps->cm->ld_qkv,
	                  .n_rows = ps->n,
	                  .n_head = hp->n_head,
	                  .n_head_kv = hp->n_head_kv,
	                  .dk = hp->head_dim_k,
	                  .dv = hp->head_dim_v,
	                  .n_rot = hp->n_rot,
	                  .neox = hp->rope_mode == ROPE_NEOX,
	                  .prescale = hp->q_prescale,
	                  .kv_f16 = ps->m->kv_type == GGML_TYPE_F16,
	                  .il = il,
	                  .kq_scale = hp->kq_scale,
	                  .eps = hp->eps};
	LAUNCH(ps, CK_qk_prep, hp->n_head + hp->n_head_kv, ps->n, 1, 128, p);
}

/* Attention of rows in groups that fit the scratch; the chunks launched
 * cover the group's last position. */
static void attention(struct cuda_pass *ps, int il)
{
	const struct hparams *hp = &ps->m->hp;
	const struct cuda_bufs *b = &ps->cm->b;
	struct kp_attn p = {.qkv = b->qkv,
	                    .rows = b->step + ps->lay.rows,
	                    .s = b->s,
	                    .cmax = b->cmax,
	                    .part = b->part,
	                    .out = b->attn,
	                    .ld = ps->cm->ld_qkv,
	                    .ld_out = ps->cm->ld_attn,
	                    .ctx_cap = b->cap_ctx,
	                    .n_head = hp->n_head,
	                    .n_head_kv = hp->n_head_kv,
	                    .dk = hp->head_dim_k,
	                    .dv = hp->head_dim_v,
	                    .il = il,
	                    .window = ps->m->layers[il].window,
	                    .kv_f16 = ps->m->kv_type == GGML_TYPE_F16,
	                    .scale = hp->q_prescale ? 1.0f : hp->kq_scale,
	                    .softcap = hp->attn_softcap};
	for (int64_t r0 = 0; r0 < ps->n; r0 += b->attn_rows) {
		const int64_t g = ps->n - r0 < b->attn_rows ? ps->n - r0 : b->attn_rows;
		int64_t last = 0;
		for (int64_t i = r0; i < r0 + g; i++)
			last = ps->rows[i].pos > last ? ps->rows[i].pos : last;
		p.n_chunks = (int32_t)(last / KP_ATTN_CHUNK + 1);
		p.row0 = (int32_t)r0;
		LAUNCH(ps, CK_attn_scores, p.n_chunks, hp->n_head, g, KP_ATTN_CHUNK, p);
		LAUNCH(ps, CK_attn_softmax, hp->n_head, g, 1, KP_THREADS, p);
		LAUNCH(ps, CK_attn_pv, p.n_chunks, hp->n_head, g, KP_ATTN_CHUNK, p);
		LAUNCH(ps, CK_attn_reduce, hp->n_head, g, 1, 128, p);
	}
}

static void layer(struct cuda_pass *ps, int il)
{
	const struct hparams *hp = &ps->m->hp;
	const struct cuda_layer *C = &ps->cm->layers[il];
	const struct cuda_model *cm = ps->cm;
	const struct cuda_bufs *b = &cm->b;
	const int64_t nq = (int64_t)hp->n_head * hp->head_dim_k, nk = hp_kv_dim_k(hp);
	const struct cuda_mat *qkv[3] = {&C->wq, &C->wk, &C->wv};
	const CUdeviceptr yq[3] = {b->qkv, b->qkv + nq * 4, b->qkv + (nq + nk) * 4};
	norm(ps, b->x, b->h, C->attn_norm, 0, ps->n);
	matmul(ps, qkv, yq, 3, cm->ld_qkv, b->h, cm->ld_embd, ps->n);
	qk_prep(ps, il);
	attention(ps, il);
	const struct cuda_mat *wo[1] = {&C->wo};
	matmul(ps, wo, &b->o, 1, cm->ld_embd, b->attn, cm->ld_attn, ps->n);
	residual(ps, C->post_attn_norm);
	norm(ps, b->x, b->h, C->ffn_norm, 0, ps->n);
	const struct cuda_mat *gu[2] = {&C->gate, &C->up};
	const CUdeviceptr ygu[2] = {b->gate, b->up};
	matmul(ps, gu, ygu, 2, cm->ld_ff, b->h, cm->ld_embd, ps->n);
	struct kp_act pa = {.g = b->gate,
	                    .u = b->up,
	                    .table = cm->gelu_table,
	                    .ld = cm->ld_ff,
	                    .n = hp->n_ff,
	                    .n_rows = ps->n,
	                    .gelu = hp->act == ACT_GELU};
	LAUNCH(ps, CK_act, blocks(ps->n * hp->n_ff, KP_THREADS), 1, 1, KP_THREADS, pa);
	const struct cuda_mat *dn[1] = {&C->down};
	matmul(ps, dn, &b->o, 1, cm->ld_embd, b->gate, cm->ld_ff, ps->n);
	residual(ps, C->post_ffn_norm);
}

/* The output norm and matvec of the rows that want logits. */
static void output(struct cuda_pass *ps)
{
	const struct engine_model *m = ps->m;
	const struct cuda_model *cm = ps->cm;
	const struct cuda_bufs *b = &cm->b;
	const int64_t nv = m->hp.n_vocab;
	norm(ps, b->x, b->hout, cm->output_norm, b->step + ps->lay.idx, ps->n_out);
	const struct cuda_mat *out[1] = {&cm->output};
	matmul(ps, out, &b->logits, 1, nv, b->hout, cm->ld_embd, ps->n_out);
	if (cm->output_bias || m->hp.final_softcap > 0.0f) {
		struct kp_post p = {.y = b->logits,
		                    .bias = cm->output_bias,
		                    .ld = nv,
		                    .n = nv,
		                    .n_rows = ps->n_out,
		                    .softcap = m->hp.final_softcap};
		LAUNCH(ps, CK_post, blocks(ps->n_out * nv, KP_THREADS), 1, 1, KP_THREADS, p);
	}
}

/* Everything a pass launches after the step upload: the embedding, the
 * layers and the output; the unit a graph captures. */
static int enqueue(struct cuda_pass *ps)
{
	const struct cuda_model *cm = ps->cm;
	struct kp_embed pe = {.w = cm->tok_embd.m,
	                      .rows = cm->b.step + ps->lay.rows,
	                      .x = cm->b.x,
	                      .ldx = cm->ld_embd,
	                      .n_rows = ps->n,
	                      .scale = ps->m->hp.embd_scale};
	LAUNCH(ps, CK_embed, blocks(cm->tok_embd.m.nb, 32), ps->n, 1, 32, pe);
	for (int il = 0; il < ps->m->hp.n_layer && !ps->rc; il++) {
		layer(ps, il);
		if (ps->cancel && atomic_load(ps->cancel)) {
			ps->cancelled = true;
			return ps->rc;
		}
	}
	if (ps->n_out > 0)
		output(ps);
	return ps->rc;
}

static void download(struct cuda_pass *ps, void *dst, CUdeviceptr src, int64_t bytes)
{
	struct cuda_dev *d = ps->d;
	if (!ps->rc)
		ps->rc = cuda__check(d, d->api.cuMemcpyDtoHAsync(dst, src, (size_t)bytes, ps->st),
		                     "download");
	if (!ps->rc)
		ps->rc = cuda__check(d, d->api.cuStreamSynchronize(ps->st), "forward");
}

/* Logits to the rows that want them, the pooled embedding to embd_sum. */
static int finish(struct cuda_pass *ps, float *embd_sum)
{
	const struct engine_model *m = ps->m;
	const struct cuda_model *cm = ps->cm;
	const struct cuda_bufs *b = &cm->b;
	const int64_t nv = m->hp.n_vocab;
	if (ps->n_out > 0)
		download(ps, b->host, b->logits, ps->n_out * nv * 4);
	for (int64_t k = 0, i = 0; !ps->rc && i < ps->n; i++)
		if (ps->rows[i].logits)
			memcpy(ps->rows[i].logits, (const float *)b->host + (k++) * nv,
			       (size_t)nv * sizeof(float));
	if (embd_sum) {
		norm(ps, b->x, b->h, cm->output_norm, 0, ps->n);
		download(ps, b->host, b->h, ps->n * cm->ld_embd * 4);
		for (int64_t i = 0; !ps->rc && i < ps->n; i++)
			for (int j = 0; j < m->hp.n_embd; j++)
				embd_sum[j] += ((const float *)b->host)[i * cm->ld_embd + j];
	}
	if (!ps->rc && !ps->n_out && !embd_sum)
		download(ps, b->host, b->x, 4); /* wait for the pass */
	return ps->rc;
}

int cuda__forward(struct engine_model *m, const struct fwd_row *rows, int64_t n, float *embd_sum,
                  const atomic_bool *cancel)
{
	struct cuda_model *cm = m->be_state;
	struct cuda_pass ps = {
	    .m = m, .cm = cm, .d = cm->dev, .st = cm->stream, .rows = rows, .n = n};
	int64_t n_out = 0, n_ctx = 0, last = 0;
	for (int64_t i = 0; i < n; i++) {
		n_out += rows[i].logits != NULL;
		n_ctx = rows[i].seq->n_ctx > n_ctx ? rows[i].seq->n_ctx : n_ctx;
		last = rows[i].pos > last ? rows[i].pos : last;
	}
	int rc = cuda__dev_bind(cm->dev);
	if (!rc)
		rc = cuda__bufs_reserve(m, n, n_out, n_ctx);
	if (rc)
		return rc;
	cuda__step_layout(m, cm->b.cap_rows, cm->b.cap_out, &ps.lay);
	upload_step(&ps);
	if (ps.rc)
		return ps.rc;
	int g = 1;
	if (!embd_sum && n <= cm->b.attn_rows && !(cancel && atomic_load(cancel)))
		g = cuda__graph_run(cm, n, ps.n_out, (int32_t)(last / KP_ATTN_CHUNK + 1), enqueue,
		                    &ps);
	if (g < 0)
		return g;
	if (g == 1) {
		ps.cancel = cancel;
		enqueue(&ps);
	}
	if (ps.cancelled) {
		cm->dev->api.cuStreamSynchronize(ps.st);
		return ps.rc ? ps.rc : ERR_CANCELLED;
	}
	return finish(&ps, embd_sum);
}

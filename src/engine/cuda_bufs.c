/* cuda_bufs.c — device memory that changes after load: the buffers of a
 * forward pass (activations, logits, the step upload, attention scratch),
 * grown to the largest batch and context seen and reused (nothing is
 * allocated per token), and each sequence's KV cache, allocated with the
 * sequence. Padding columns are zeroed once and never written. Not here:
 * the weights (cuda_model.c). */
#include "engine/cuda_internal.h"

#include "engine/engine_internal.h"

#include <string.h>

#define ATTN_SCRATCH_BUDGET (256ll << 20)

static inline int64_t al(int64_t v)
{
	return (v + KB_REGION_ALIGN - 1) / KB_REGION_ALIGN * KB_REGION_ALIGN;
}

void cuda__step_layout(const struct engine_model *m, int64_t cap_rows, int64_t cap_out,
                       struct cuda_step_layout *l)
{
	const int n_cfg = m->hp.n_rope_cfg > 0 ? m->hp.n_rope_cfg : 1;
	l->rows = 0;
	l->rope = al(cap_rows * (int64_t)sizeof(struct kb_row));
	l->idx = l->rope + al((int64_t)n_cfg * cap_rows * m->hp.n_rot * 4);
	l->amax = l->idx + al(cap_out * 4);
	l->total = l->amax + al(cap_out * 4);
}

static int dalloc(struct cuda_model *cm, CUdeviceptr *p, int64_t bytes)
{
	struct cuda_dev *d = cm->dev;
	*p = 0;
	if (bytes <= 0)
		return 0;
	int rc = cuda__check(d, d->api.cuMemAlloc(p, (size_t)bytes), "cuMemAlloc");
	if (!rc)
		rc = cuda__check(d, d->api.cuMemsetD8Async(*p, 0, (size_t)bytes, cm->stream),
		                 "cuMemsetD8");
	return rc;
}

static int64_t attn_group(const struct engine_model *m, int64_t cap_rows, int64_t cap_ctx)
{
	const int64_t chunks = (cap_ctx + KP_ATTN_CHUNK - 1) / KP_ATTN_CHUNK;
	const int64_t per_row =
	    (int64_t)m->hp.n_head * (cap_ctx + chunks + chunks * m->hp.head_dim_v) * 4;
	int64_t g = ATTN_SCRATCH_BUDGET / per_row;
	return g < 1 ? 1 : g > cap_rows ? cap_rows : g;
}

static int alloc_all(struct engine_model *m, struct cuda_bufs *b)
{
	struct cuda_model *cm = m->be_state;
	const struct hparams *hp = &m->hp;
	const int64_t R = b->cap_rows, O = b->cap_out;
	struct cuda_step_layout st;
	cuda__step_layout(m, R, O, &st);
	int rc = 0;
#define A(ptr, bytes)                                                                              \
	if (!rc)                                                                                   \
	rc = dalloc(cm, &(ptr), (bytes))
	A(b->x, R * cm->ld_embd * 4);
	A(b->h, R * cm->ld_embd * 4);
	A(b->o, R * cm->ld_embd * 4);
	A(b->qkv, R * cm->ld_qkv * 4);
	A(b->attn, R * cm->ld_attn * 4);
	A(b->gate, R * cm->ld_ff * 4);
	A(b->up, R * cm->ld_ff * 4);
	A(b->hout, O * cm->ld_embd * 4);
	A(b->logits, O * hp->n_vocab * 4);
	A(b->step, st.total);
	for (int a = 0; a < CUDA_N_ACT; a++)
		for (int f = 0; f < 3; f++)
			A(b->act[a][f], R * cm->act_row_bytes[a][f]);
	b->attn_rows = attn_group(m, R, b->cap_ctx);
	const int64_t chunks = (b->cap_ctx + KP_ATTN_CHUNK - 1) / KP_ATTN_CHUNK;
	const int64_t gh = b->attn_rows * hp->n_head;
	A(b->s, gh * b->cap_ctx * 4);
	A(b->cmax, gh * chunks * 4);
	A(b->part, gh * chunks * hp->head_dim_v * 4);
#undef A
	int64_t host = st.total;
	if (O * hp->n_vocab * 4 > host)
		host = O * hp->n_vocab * 4;
	if (R * cm->ld_embd * 4 > host)
		host = R * cm->ld_embd * 4;
	if (!rc)
		rc = cuda__check(cm->dev, cm->dev->api.cuMemAllocHost(&b->host, (size_t)host),
		                 "cuMemAllocHost");
	b->host_bytes = (size_t)host;
	return rc;
}

void cuda__bufs_release(struct cuda_model *cm)
{
	struct cuda_dev *d = cm->dev;
	struct cuda_bufs *b = &cm->b;
	CUdeviceptr *all[] = {&b->x,    &b->h,      &b->qkv,  &b->attn, &b->o,    &b->gate, &b->up,
	                      &b->hout, &b->logits, &b->step, &b->s,    &b->cmax, &b->part};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (*all[i])
			d->api.cuMemFree(*all[i]);
	for (int a = 0; a < CUDA_N_ACT; a++)
		for (int f = 0; f < 3; f++)
			if (b->act[a][f])
				d->api.cuMemFree(b->act[a][f]);
	if (b->host)
		d->api.cuMemFreeHost(b->host);
	memset(b, 0, sizeof *b);
}

int cuda__bufs_reserve(struct engine_model *m, int64_t n, int64_t n_out, int64_t n_ctx)
{
	struct cuda_model *cm = m->be_state;
	struct cuda_bufs *b = &cm->b;
	if (n <= b->cap_rows && n_out <= b->cap_out && n_ctx <= b->cap_ctx)
		return 0;
	struct cuda_bufs nb = {0};
	nb.cap_rows = n > b->cap_rows ? n : b->cap_rows;
	nb.cap_out = n_out > b->cap_out ? n_out : b->cap_out;
	nb.cap_ctx = n_ctx > b->cap_ctx ? n_ctx : b->cap_ctx;
	if (nb.cap_out < 1)
		nb.cap_out = 1;
	cm->dev->api.cuStreamSynchronize(cm->stream);
	cuda__graphs_clear(cm); /* they point into the old buffers */
	cuda__bufs_release(cm); /* first: the device may not hold both sets */
	*b = nb;
	int rc = alloc_all(m, b);
	if (rc)
		cuda__bufs_release(cm); /* nothing half-made: the next pass retries */
	return rc;
}

int cuda__seq_kv_new(struct engine_seq *s, char *err)
{
	const struct engine_model *m = s->m;
	struct cuda_model *cm = m->be_state;
	const struct hparams *hp = &m->hp;
	const int64_t es = s->kv_type == GGML_TYPE_F16 ? 2 : 4;
	const int64_t bytes =
	    (int64_t)hp->n_layer * s->n_ctx * (hp_kv_dim_k(hp) + hp_kv_dim_v(hp)) * es;
	CUdeviceptr p = 0;
	int rc = cuda__dev_bind(cm->dev);
	if (!rc)
		rc = cuda__check(cm->dev, cm->dev->api.cuMemAlloc(&p, (size_t)bytes),
		                 "cuMemAlloc KV");
	if (rc)
		return err_set(err, ERR_NOMEM,
		               "cannot allocate a context of %lld tokens (%lld MiB KV cache on %s)",
		               (long long)s->n_ctx, (long long)(bytes >> 20), cm->dev->name);
	s->dev_kv = p;
	return 0;
}

void cuda__seq_kv_free(struct engine_seq *s)
{
	struct cuda_model *cm = s->m->be_state;
	if (!s->dev_kv || !cm)
		return;
	if (cuda__dev_bind(cm->dev) == 0) {
		cm->dev->api.cuStreamSynchronize(cm->stream);
		cm->dev->api.cuMemFree(s->dev_kv);
	}
	s->dev_kv = 0;
}

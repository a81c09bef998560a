/* cuda_model.c — a model on the CUDA device: which models the kernels can
 * run, the packed layout of each matrix (kern_blocks.h: a block's fields
 * as separate aligned arrays, float rows padded to 16-byte chunks), the
 * upload at load (raw tensor bytes copied from the mmap to a staging buffer
 * and repacked there by a kernel, so the host never touches the bytes), the
 * pass buffers (grown to the largest batch) and the sequences' KV caches.
 * Not here: the pass (cuda_forward.c). */
#include "engine/cuda_internal.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"
#include "engine/engine_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD_DIM 512 /* shared-memory head buffers of the kernels */

static_assert((int)KB_F32 == (int)GGML_TYPE_F32 && (int)KB_F16 == (int)GGML_TYPE_F16 &&
                  (int)KB_Q4_0 == (int)GGML_TYPE_Q4_0 && (int)KB_Q8_0 == (int)GGML_TYPE_Q8_0 &&
                  (int)KB_Q4_K == (int)GGML_TYPE_Q4_K && (int)KB_Q6_K == (int)GGML_TYPE_Q6_K &&
                  (int)KB_Q8_K == (int)GGML_TYPE_Q8_K,
              "kern_blocks.h type numbers are ggml's");

static inline int64_t align_up(int64_t v, int64_t a)
{
	return (v + a - 1) / a * a;
}

static inline int64_t pad32(int64_t n)
{
	return align_up(n, 32);
}

int64_t cuda__mat_layout(int type, int64_t n_in, int64_t n_out, int64_t off[KB_MAX_FIELDS],
                         int64_t *nb)
{
	struct kb_layout l;
	if (kb_layout_get(type, &l))
		return -1;
	*nb = type == KB_F32 || type == KB_F16 ? (n_in + l.block_elems - 1) / l.block_elems
	                                       : n_in / l.block_elems;
	int64_t at = 0;
	for (int f = 0; f < KB_MAX_FIELDS; f++) {
		off[f] = at;
		if (f < l.n_fields)
			at = align_up(at + n_out * *nb * l.size[f], KB_REGION_ALIGN);
	}
	return at;
}

static enum cuda_act act_of(int type)
{
	switch (type) {
	case KB_F32: return CUDA_ACT_F32;
	case KB_F16: return CUDA_ACT_F16;
	case KB_Q4_K:
	case KB_Q6_K: return CUDA_ACT_Q8_K;
	default: return CUDA_ACT_Q8_0;
	}
}

static enum cuda_kernel mv_kernel(int type)
{
	switch (type) {
	case KB_F32: return CK_mv_f32_1;
	case KB_F16: return CK_mv_f16_1;
	case KB_Q4_0: return CK_mv_q4_0_1;
	case KB_Q8_0: return CK_mv_q8_0_1;
	case KB_Q4_K: return CK_mv_q4_K_1;
	default: return CK_mv_q6_K_1;
	}
}

/* Bytes per row of each field of the activations for an input of n. */
static void act_row(enum cuda_act a, int64_t n, int64_t out[3])
{
	out[0] = out[1] = out[2] = 0;
	if (a == CUDA_ACT_Q8_0) {
		out[0] = n / 32 * 32, out[1] = n / 32 * 4;
	} else if (a == CUDA_ACT_Q8_K) {
		out[0] = n / 256 * 256, out[1] = n / 256 * 4, out[2] = n / 256 * 32;
	} else if (a == CUDA_ACT_F16) {
		out[0] = (n + 7) / 8 * 16;
	}
}

static const struct tensor *const *all_mats(const struct engine_model *m, int il,
                                            const struct tensor *buf[7])
{
	const struct layer *L = &m->layers[il];
	buf[0] = &L->wq, buf[1] = &L->wk, buf[2] = &L->wv, buf[3] = &L->wo;
	buf[4] = &L->ffn_gate, buf[5] = &L->ffn_up, buf[6] = &L->ffn_down;
	return buf;
}

const char *cuda__model_unsupported(const struct engine_model *m, char *buf, size_t n)
{
	const struct hparams *hp = &m->hp;
	struct kb_layout l;
	if (hp->head_dim_k > MAX_HEAD_DIM || hp->head_dim_v > MAX_HEAD_DIM || hp->head_dim_k % 8 ||
	    hp->head_dim_v % 8) {
		snprintf(buf, n, "head size %d/%d (the CUDA kernels take multiples of 8 up to %d)",
		         hp->head_dim_k, hp->head_dim_v, MAX_HEAD_DIM);
		return buf;
	}
	const struct tensor *ts[7];
	for (int il = -1; il < hp->n_layer; il++) {
		const struct tensor *const *t = il < 0 ? NULL : all_mats(m, il, ts);
		int cnt = il < 0 ? 2 : 7;
		for (int i = 0; i < cnt; i++) {
			const struct tensor *w = il < 0 ? (i ? &m->output : &m->tok_embd) : t[i];
			if (kb_layout_get(w->type, &l)) {
				snprintf(buf, n,
				         "tensor type %s (the CUDA kernels compute F32, F16, "
				         "Q4_0, Q8_0, Q4_K and Q6_K)",
				         w->qt->name);
				return buf;
			}
		}
	}
	return NULL;
}

/* ---- placing and uploading the weights: one walk, two modes */

struct walk {
	struct cuda_model *cm;
	const struct engine_model *m;
	bool upload;
	int64_t at;          /* bytes placed so far */
	int64_t staging_max; /* largest raw matrix */
	CUdeviceptr staging;
	int rc;
};

static void put_mat(struct walk *w, struct cuda_mat *cmt, const struct tensor *t)
{
	int64_t off[KB_MAX_FIELDS], nb;
	int64_t bytes = cuda__mat_layout(t->type, t->n_in, t->n_out, off, &nb);
	int64_t raw = t->n_out * (int64_t)t->row_bytes;
	if (!w->upload) {
		memset(cmt, 0, sizeof *cmt);
		cmt->m.n_in = t->n_in, cmt->m.n_out = t->n_out, cmt->m.nb = nb;
		cmt->m.type = t->type;
		cmt->act = act_of(t->type);
		cmt->mv1 = mv_kernel(t->type);
		for (int f = 0; f < KB_MAX_FIELDS; f++)
			cmt->m.r[f] = (uint64_t)(w->at + off[f]); /* relative until the upload */
		w->at += bytes;
		w->staging_max = raw > w->staging_max ? raw : w->staging_max;
		return;
	}
	struct cuda_dev *d = w->cm->dev;
	for (int f = 0; f < KB_MAX_FIELDS; f++)
		cmt->m.r[f] += w->cm->weights;
	if (w->rc ||
	    (w->rc = cuda__check(
	         d, d->api.cuMemcpyHtoDAsync(w->staging, t->data, (size_t)raw, w->cm->stream),
	         "upload")))
		return;
	struct kb_layout l;
	kb_layout_get(t->type, &l);
	if (t->type == KB_F32 || t->type == KB_F16) {
		struct kp_repack_rows p = {.raw = w->staging,
		                           .dst = cmt->m.r[0],
		                           .n_in = t->n_in,
		                           .n_out = t->n_out,
		                           .nb = nb,
		                           .es = t->type == KB_F32 ? 4 : 2};
		int64_t n = t->n_out * nb;
		w->rc = cuda__launch(d, w->cm->stream, CK_repack_rows, (unsigned)((n + 255) / 256),
		                     1, 1, 256, &p);
		return;
	}
	struct kp_repack p = {.raw = w->staging,
	                      .n_fields = l.n_fields,
	                      .block_bytes = l.block_bytes,
	                      .n_blocks = t->n_out * nb};
	for (int f = 0; f < KB_MAX_FIELDS; f++)
		p.dst[f] = cmt->m.r[f], p.off[f] = l.off[f], p.size[f] = l.size[f];
	w->rc = cuda__launch(d, w->cm->stream, CK_repack, (unsigned)((p.n_blocks + 255) / 256), 1,
	                     1, 256, &p);
}

static void put_vec(struct walk *w, CUdeviceptr *dst, const void *src, int64_t bytes)
{
	if (!src) {
		*dst = 0;
		return;
	}
	if (!w->upload) {
		*dst = (CUdeviceptr)w->at;
		w->at = align_up(w->at + bytes, KB_REGION_ALIGN);
		return;
	}
	*dst += w->cm->weights;
	struct cuda_dev *d = w->cm->dev;
	if (!w->rc)
		w->rc = cuda__check(
		    d, d->api.cuMemcpyHtoDAsync(*dst, src, (size_t)bytes, w->cm->stream), "upload");
}

static void walk_layer(struct walk *w, int il)
{
	const struct hparams *hp = &w->m->hp;
	const struct layer *L = &w->m->layers[il];
	struct cuda_layer *C = &w->cm->layers[il];
	const int64_t e = hp->n_embd * 4, dk = hp->head_dim_k, nh = hp->n_head, nkv = hp->n_head_kv;
	put_mat(w, &C->wq, &L->wq);
	put_mat(w, &C->wk, &L->wk);
	put_mat(w, &C->wv, &L->wv);
	put_mat(w, &C->wo, &L->wo);
	put_mat(w, &C->gate, &L->ffn_gate);
	put_mat(w, &C->up, &L->ffn_up);
	put_mat(w, &C->down, &L->ffn_down);
	put_vec(w, &C->attn_norm, L->attn_norm, e);
	put_vec(w, &C->ffn_norm, L->ffn_norm, e);
	put_vec(w, &C->post_attn_norm, L->post_attn_norm, e);
	put_vec(w, &C->post_ffn_norm, L->post_ffn_norm, e);
	put_vec(w, &C->bq, L->bq, nh * dk * 4);
	put_vec(w, &C->bk, L->bk, nkv * dk * 4);
	put_vec(w, &C->bv, L->bv, nkv * hp->head_dim_v * 4);
	put_vec(w, &C->q_norm, L->q_norm, dk * 4);
	put_vec(w, &C->k_norm, L->k_norm, dk * 4);
}

static void walk(struct walk *w, const float *gelu)
{
	const struct engine_model *m = w->m;
	struct cuda_model *cm = w->cm;
	put_mat(w, &cm->tok_embd, &m->tok_embd);
	if (m->output.data == m->tok_embd.data) {
		if (!w->upload)
			cm->output = cm->tok_embd; /* tied: one copy */
	} else {
		put_mat(w, &cm->output, &m->output);
	}
	for (int il = 0; il < m->hp.n_layer; il++)
		walk_layer(w, il);
	put_vec(w, &cm->output_norm, m->output_norm, m->hp.n_embd * 4);
	put_vec(w, &cm->output_bias, m->output_bias, m->hp.n_vocab * 4);
	put_vec(w, &cm->gelu_table, gelu, 65536 * 4);
	if (w->upload && m->output.data == m->tok_embd.data)
		cm->output = cm->tok_embd;
}

/* The GELU of every half, as the CPU's table gives it (ops_gelu). */
static float *gelu_table(void)
{
	float *t = try_malloc_array(65536, sizeof *t);
	for (uint32_t h = 0; t && h < 65536; h++)
		t[h] = ops_gelu(fp16_to_f32((uint16_t)h));
	return t;
}

static void act_sizes(struct cuda_model *cm, const struct engine_model *m)
{
	const struct tensor *ts[7];
	memset(cm->act_row_bytes, 0, sizeof cm->act_row_bytes);
	for (int il = -1; il < m->hp.n_layer; il++) {
		int cnt = il < 0 ? 1 : 7;
		const struct tensor *const *t = il < 0 ? NULL : all_mats(m, il, ts);
		for (int i = 0; i < cnt; i++) {
			const struct tensor *w = il < 0 ? &m->output : t[i];
			int64_t r[3];
			act_row(act_of(w->type), w->n_in, r);
			for (int f = 0; f < 3; f++)
				if (r[f] > cm->act_row_bytes[act_of(w->type)][f])
					cm->act_row_bytes[act_of(w->type)][f] = r[f];
		}
	}
}

static int upload(struct cuda_model *cm, const struct engine_model *m, char *err)
{
	struct cuda_dev *d = cm->dev;
	float *gelu = m->hp.act == ACT_GELU ? gelu_table() : NULL;
	struct walk w = {.cm = cm, .m = m};
	size_t free_b = 0, total_b = 0;
	if (m->hp.act == ACT_GELU && !gelu)
		return err_set(err, ERR_NOMEM, "no memory for the GELU table");
	walk(&w, gelu);
	d->api.cuMemGetInfo(&free_b, &total_b);
	if ((size_t)(w.at + w.staging_max) + (256u << 20) > free_b) {
		free(gelu);
		return err_set(err, ERR_NOMEM,
		               "the model needs %lld MiB on %s, which has %zu MiB free",
		               (long long)((w.at + w.staging_max) >> 20), d->name, free_b >> 20);
	}
	int rc =
	    cuda__check(d, d->api.cuMemAlloc(&cm->weights, (size_t)w.at), "cuMemAlloc weights");
	if (!rc)
		rc = cuda__check(d, d->api.cuMemAlloc(&w.staging, (size_t)w.staging_max),
		                 "cuMemAlloc staging");
	cm->weights_bytes = (size_t)w.at;
	if (!rc) {
		w.upload = true;
		walk(&w, gelu);
		rc = w.rc;
		CUresult r = d->api.cuStreamSynchronize(cm->stream);
		if (!rc)
			rc = cuda__check(d, r, "upload");
	}
	if (w.staging)
		d->api.cuMemFree(w.staging);
	free(gelu);
	if (rc)
		return err_set(err, rc, "uploading the weights to %s failed", d->name);
	return 0;
}

int cuda__model_new(struct engine_model *m, struct cuda_dev *d, struct cuda_model **out, char *err)
{
	int64_t t0 = time_mono_ns();
	const struct hparams *hp = &m->hp;
	struct cuda_model *cm = xcalloc(1, sizeof *cm);
	cm->dev = d;
	cm->layers = xcalloc((size_t)hp->n_layer, sizeof *cm->layers);
	cm->ld_embd = pad32(hp->n_embd);
	cm->ld_qkv =
	    pad32((int64_t)hp->n_head * hp->head_dim_k + hp_kv_dim_k(hp) + hp_kv_dim_v(hp));
	cm->ld_attn = pad32((int64_t)hp->n_head * hp->head_dim_v);
	cm->ld_ff = pad32(hp->n_ff);
	act_sizes(cm, m);
	int rc = cuda__dev_bind(d);
	if (!rc)
		rc = cuda__check(d, d->api.cuStreamCreate(&cm->stream, CU_STREAM_NON_BLOCKING),
		                 "cuStreamCreate");
	if (rc) {
		err_set(err, rc, "cannot use %s", d->name);
		cuda__model_free(cm);
		return rc;
	}
	if ((rc = upload(cm, m, err))) {
		cuda__model_free(cm);
		return rc;
	}
	cm->upload_ns = time_mono_ns() - t0;
	*out = cm;
	return 0;
}

void cuda__model_free(struct cuda_model *cm)
{
	if (!cm)
		return;
	struct cuda_dev *d = cm->dev;
	if (cuda__dev_bind(d) == 0) {
		if (cm->stream)
			d->api.cuStreamSynchronize(cm->stream);
		cuda__graphs_clear(cm);
		cuda__bufs_release(cm);
		if (cm->weights)
			d->api.cuMemFree(cm->weights);
		if (cm->stream)
			d->api.cuStreamDestroy(cm->stream);
	}
	free(cm->layers);
	free(cm);
}

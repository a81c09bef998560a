/* arch.c — what every architecture file shares: the registry, typed reads of
 * "<arch>.<key>" metadata with messages naming the key, shape- and
 * type-checked tensor binding, and the standard attention/FFN/output tensor
 * sets. Key names and tensor names follow llama.cpp's GGUF conventions. */
#include "engine/engine_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct arch_desc *const archs[] = {
    &arch_llama, &arch_qwen2, &arch_gemma, &arch_gemma2, &arch_gemma3, &arch_phi3,
};

const struct arch_desc *arch__find(struct slice name)
{
	for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
		if (slice_eq(name, archs[i]->name))
			return archs[i];
	return NULL;
}

static void key_of(const struct loader *ld, const char *suffix, char *key, size_t n)
{
	snprintf(key, n, "%s.%s", ld->m->arch_name, suffix);
}

int arch__get_u32(struct loader *ld, const char *suffix, uint32_t *out, bool required)
{
	char key[160];
	key_of(ld, suffix, key, sizeof key);
	int rc = gguf_get_u32(ld->f, key, out, ld->err);
	if (rc == ERR_NOT_FOUND && required)
		return err_set(ld->err, ERR_INVALID, "missing key %s", key);
	return rc;
}

int arch__get_f32(struct loader *ld, const char *suffix, float *out, bool required)
{
	char key[160];
	key_of(ld, suffix, key, sizeof key);
	int rc = gguf_get_f32(ld->f, key, out, ld->err);
	if (rc == ERR_NOT_FOUND && required)
		return err_set(ld->err, ERR_INVALID, "missing key %s", key);
	if (rc == 0 && !isfinite(*out))
		return err_set(ld->err, ERR_INVALID, "key %s is not a finite number", key);
	return rc;
}

int arch__get_str(struct loader *ld, const char *suffix, struct slice *out)
{
	char key[160];
	key_of(ld, suffix, key, sizeof key);
	return gguf_get_str(ld->f, key, out, ld->err);
}

/* Optional u32 into an int with a default; absent -> def, bad type -> error. */
static int opt_int(struct loader *ld, const char *suffix, int *out, int def)
{
	uint32_t v;
	int rc = arch__get_u32(ld, suffix, &v, false);
	if (rc == ERR_NOT_FOUND) {
		*out = def;
		return 0;
	}
	if (rc == 0)
		*out = (int)(v > INT32_MAX ? INT32_MAX : v);
	return rc;
}

static int req_int(struct loader *ld, const char *suffix, int *out, int max)
{
	uint32_t v;
	int rc = arch__get_u32(ld, suffix, &v, true);
	if (rc)
		return rc;
	if (v < 1 || v > (uint32_t)max)
		return err_set(ld->err, ERR_INVALID, "key %s.%s: %u is out of range (1..%d)",
		               ld->m->arch_name, suffix, v, max);
	*out = (int)v;
	return 0;
}

static int check_shape(struct loader *ld)
{
	struct hparams *hp = &ld->m->hp;
	const char *a = ld->m->arch_name;
	if (hp->n_head_kv < 1 || hp->n_head % hp->n_head_kv != 0)
		return err_set(ld->err, ERR_INVALID,
		               "%s.attention.head_count_kv (%d) must divide head_count (%d)", a,
		               hp->n_head_kv, hp->n_head);
	if (hp->head_dim_k < 2 || hp->head_dim_k > 4096 || hp->head_dim_v < 1 ||
	    hp->head_dim_v > 4096)
		return err_set(ld->err, ERR_INVALID, "%s: bad head size (key %d, value %d)", a,
		               hp->head_dim_k, hp->head_dim_v);
	if (hp->n_rot < 2 || hp->n_rot > hp->head_dim_k || hp->n_rot % 2)
		return err_set(ld->err, ERR_INVALID,
		               "%s.rope.dimension_count (%d) must be even and <= head size %d", a,
		               hp->n_rot, hp->head_dim_k);
	if (!(hp->eps > 0.0f) || hp->eps > 1.0f)
		return err_set(ld->err, ERR_INVALID, "%s: bad rms epsilon %g", a, hp->eps);
	return 0;
}

int arch__read_common(struct loader *ld)
{
	struct hparams *hp = &ld->m->hp;
	int rc, ctx;
	if ((rc = req_int(ld, "context_length", &ctx, INT32_MAX)) ||
	    (rc = req_int(ld, "embedding_length", &hp->n_embd, 1 << 20)) ||
	    (rc = req_int(ld, "block_count", &hp->n_layer, 4096)) ||
	    (rc = req_int(ld, "feed_forward_length", &hp->n_ff, 1 << 22)) ||
	    (rc = req_int(ld, "attention.head_count", &hp->n_head, 1 << 14)))
		return rc;
	hp->n_ctx_train = ctx;
	if ((rc = opt_int(ld, "attention.head_count_kv", &hp->n_head_kv, hp->n_head)) ||
	    (rc = opt_int(ld, "attention.key_length", &hp->head_dim_k, hp->n_embd / hp->n_head)) ||
	    (rc = opt_int(ld, "attention.value_length", &hp->head_dim_v, hp->head_dim_k)) ||
	    (rc = opt_int(ld, "rope.dimension_count", &hp->n_rot, hp->head_dim_k)))
		return rc;
	hp->rope[0] = (struct rope_cfg){10000.0f, 1.0f};
	rc = arch__get_f32(ld, "rope.freq_base", &hp->rope[0].base, false);
	if (rc && rc != ERR_NOT_FOUND)
		return rc;
	rc = arch__get_f32(ld, "attention.layer_norm_rms_epsilon", &hp->eps, false);
	if (rc == ERR_NOT_FOUND)
		hp->eps = 0.0f; /* the architecture decides: a default or an error */
	else if (rc)
		return rc;
	uint32_t experts = 0;
	if (arch__get_u32(ld, "expert_count", &experts, false) == 0 && experts > 0)
		return err_set(ld->err, ERR_UNSUPPORTED,
		               "%s.expert_count = %u: mixture-of-experts models are not supported",
		               ld->m->arch_name, experts);
	hp->kq_scale = 1.0f / sqrtf((float)hp->head_dim_k);
	hp->embd_scale = 1.0f;
	hp->rope_mode = ROPE_NORMAL;
	hp->act = ACT_SILU;
	return 0;
}

int arch__finish_hparams(struct loader *ld)
{
	if (ld->m->hp.eps == 0.0f)
		return err_set(ld->err, ERR_INVALID,
		               "missing key %s.attention.layer_norm_rms_epsilon", ld->m->arch_name);
	return check_shape(ld);
}

static const struct gguf_tensor *find(struct loader *ld, const char *name, bool required, int *rc)
{
	const struct gguf_tensor *t = gguf_find_tensor(ld->f, name);
	*rc = 0;
	if (!t && required)
		*rc = err_set(ld->err, ERR_INVALID, "missing tensor %s", name);
	return t;
}

int arch__matrix(struct loader *ld, struct tensor *out, const char *name, int64_t n_in,
                 int64_t n_out, bool required)
{
	int rc;
	memset(out, 0, sizeof *out);
	const struct gguf_tensor *t = find(ld, name, required, &rc);
	if (!t)
		return rc;
	if (t->ne[0] != n_in || t->ne[1] != n_out || t->ne[2] != 1 || t->ne[3] != 1)
		return err_set(ld->err, ERR_INVALID,
		               "tensor %s has shape [%lld, %lld, %lld], expected [%lld, %lld]",
		               name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
		               (long long)n_in, (long long)n_out);
	const struct quant_traits *qt = quant_get(t->type);
	const struct ggml_type_layout *lay = ggml_type_layout(t->type);
	if (!qt || !qt->vec_dot || !qt->to_float || !quant_get(qt->vec_dot_type))
		return err_set(ld->err, ERR_UNSUPPORTED,
		               "tensor %s has type %s, which this build cannot compute", name,
		               lay ? lay->name : "unknown");
	if (n_in % qt->block_size)
		return err_set(ld->err, ERR_INVALID,
		               "tensor %s: row length %lld is not a multiple of %s blocks (%lld)",
		               name, (long long)n_in, qt->name, (long long)qt->block_size);
	out->data = t->data;
	out->type = t->type;
	out->n_in = n_in;
	out->n_out = n_out;
	out->row_bytes = ggml_row_size(t->type, n_in);
	out->qt = qt;
	return 0;
}

int arch__vector(struct loader *ld, const float **v, const char *name, int64_t n, bool required)
{
	int rc;
	*v = NULL;
	const struct gguf_tensor *t = find(ld, name, required, &rc);
	if (!t)
		return rc;
	if (t->type != GGML_TYPE_F32)
		return err_set(ld->err, ERR_UNSUPPORTED, "tensor %s must be F32", name);
	if (t->ne[0] != n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
		return err_set(ld->err, ERR_INVALID, "tensor %s has %lld elements, expected %lld",
		               name, (long long)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]),
		               (long long)n);
	*v = t->data;
	return 0;
}

struct tensor arch__rows(const struct tensor *t, int64_t row0, int64_t n)
{
	struct tensor r = *t;
	r.data = t->data + (size_t)row0 * t->row_bytes;
	r.n_out = n;
	return r;
}

int arch__rope_scaling(struct loader *ld)
{
	struct hparams *hp = &ld->m->hp;
	struct slice type = {0};
	float factor = 0.0f;
	int rc = arch__get_str(ld, "rope.scaling.type", &type);
	if (rc && rc != ERR_NOT_FOUND)
		return rc;
	rc = arch__get_f32(ld, "rope.scaling.factor", &factor, false);
	if (rc && rc != ERR_NOT_FOUND)
		return rc;
	if (!type.n && factor == 0.0f) {
		/* older files: rope.scale_linear */
		rc = arch__get_f32(ld, "rope.scale_linear", &factor, false);
		if (rc && rc != ERR_NOT_FOUND)
			return rc;
		if (factor != 0.0f)
			type = SLICE_LIT("linear");
	}
	if (!type.n || slice_eq(type, "none"))
		return 0;
	if (!slice_eq(type, "linear"))
		return err_set(ld->err, ERR_UNSUPPORTED,
		               "%s.rope.scaling.type '%.*s' is not supported", ld->m->arch_name,
		               (int)type.n, type.p);
	if (factor != 0.0f && !(factor > 0.0f))
		return err_set(ld->err, ERR_INVALID, "%s.rope.scaling.factor %g is not positive",
		               ld->m->arch_name, factor);
	hp->rope[0].freq_scale = factor > 0.0f ? 1.0f / factor : 1.0f;
	return 0;
}

int arch__bind_attn(struct loader *ld, int il, bool biases)
{
	const struct hparams *hp = &ld->m->hp;
	struct layer *L = &ld->m->layers[il];
	int64_t nq = (int64_t)hp->n_head * hp->head_dim_k;
	int64_t nk = hp_kv_dim_k(hp), nv = hp_kv_dim_v(hp);
	int64_t no = (int64_t)hp->n_head * hp->head_dim_v;
	char name[96];
	int rc;
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s, il), name)
	if ((rc = arch__vector(ld, &L->attn_norm, NAME("attn_norm.weight"), hp->n_embd, true)) ||
	    (rc = arch__matrix(ld, &L->wq, NAME("attn_q.weight"), hp->n_embd, nq, true)) ||
	    (rc = arch__matrix(ld, &L->wk, NAME("attn_k.weight"), hp->n_embd, nk, true)) ||
	    (rc = arch__matrix(ld, &L->wv, NAME("attn_v.weight"), hp->n_embd, nv, true)) ||
	    (rc = arch__matrix(ld, &L->wo, NAME("attn_output.weight"), no, hp->n_embd, true)))
		return rc;
	if ((rc = arch__vector(ld, &L->bq, NAME("attn_q.bias"), nq, biases)) ||
	    (rc = arch__vector(ld, &L->bk, NAME("attn_k.bias"), nk, biases)) ||
	    (rc = arch__vector(ld, &L->bv, NAME("attn_v.bias"), nv, biases)))
		return rc;
#undef NAME
	return 0;
}

int arch__bind_ffn(struct loader *ld, int il)
{
	const struct hparams *hp = &ld->m->hp;
	struct layer *L = &ld->m->layers[il];
	char name[96];
	int rc;
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s, il), name)
	if ((rc = arch__vector(ld, &L->ffn_norm, NAME("ffn_norm.weight"), hp->n_embd, true)) ||
	    (rc = arch__matrix(ld, &L->ffn_gate, NAME("ffn_gate.weight"), hp->n_embd, hp->n_ff,
	                       true)) ||
	    (rc =
	         arch__matrix(ld, &L->ffn_up, NAME("ffn_up.weight"), hp->n_embd, hp->n_ff, true)) ||
	    (rc = arch__matrix(ld, &L->ffn_down, NAME("ffn_down.weight"), hp->n_ff, hp->n_embd,
	                       true)))
		return rc;
#undef NAME
	return 0;
}

int arch__bind_post_norms(struct loader *ld, int il)
{
	const struct hparams *hp = &ld->m->hp;
	struct layer *L = &ld->m->layers[il];
	char name[96];
	int rc;
	snprintf(name, sizeof name, "blk.%d.post_attention_norm.weight", il);
	if ((rc = arch__vector(ld, &L->post_attn_norm, name, hp->n_embd, true)))
		return rc;
	snprintf(name, sizeof name, "blk.%d.post_ffw_norm.weight", il);
	return arch__vector(ld, &L->post_ffn_norm, name, hp->n_embd, true);
}

int arch__bind_output(struct loader *ld)
{
	struct engine_model *m = ld->m;
	const struct hparams *hp = &m->hp;
	int rc;
	if ((rc = arch__vector(ld, &m->output_norm, "output_norm.weight", hp->n_embd, true)) ||
	    (rc = arch__matrix(ld, &m->output, "output.weight", hp->n_embd, hp->n_vocab, false)) ||
	    (rc = arch__vector(ld, &m->output_bias, "output.bias", hp->n_vocab, false)))
		return rc;
	if (!m->output.data)
		m->output = m->tok_embd; /* tied */
	return 0;
}

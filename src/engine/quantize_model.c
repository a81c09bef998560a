/* quantize_model.c — llama.cpp's per-tensor type rules for its file types
 * (llama_tensor_get_type, no importance matrix) and the streaming
 * conversion of a GGUF file, tensor by tensor, chunk by chunk of rows,
 * through the gguf writer's fill callbacks. Kernels come from quant.h; no
 * printing here (the caller's progress callback does it). */
#include "engine/quantize_model.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "engine/cpu_features.h"
#include "engine/quant.h"

static const struct quantize_ftype ftypes[] = {
    {"F32", 0, GGML_TYPE_F32, true, "32-bit floats (no quantization)"},
    {"F16", 1, GGML_TYPE_F16, true, "16-bit floats"},
    {"BF16", 32, GGML_TYPE_BF16, true, "bfloat16"},
    {"Q8_0", 7, GGML_TYPE_Q8_0, false, "8.5 bits per weight"},
    {"Q4_0", 2, GGML_TYPE_Q4_0, false, "4.5 bpw; output Q6_K"},
    {"Q4_1", 3, GGML_TYPE_Q4_1, false, "5.0 bpw; output Q6_K"},
    {"Q5_0", 8, GGML_TYPE_Q5_0, false, "5.5 bpw; output Q6_K"},
    {"Q5_1", 9, GGML_TYPE_Q5_1, false, "6.0 bpw; output Q6_K"},
    {"Q2_K", 10, GGML_TYPE_Q2_K, false, "Q2_K mix (attn_v, ffn_down, attn_output Q3_K+)"},
    {"Q3_K_M", 12, GGML_TYPE_Q3_K, false, "Q3_K mix (attn_v, ffn_down, attn_output Q4_K+)"},
    {"Q4_K_S", 14, GGML_TYPE_Q4_K, false, "Q4_K, first attn_v/ffn_down layers Q5_K"},
    {"Q4_K_M", 15, GGML_TYPE_Q4_K, false, "Q4_K, half of attn_v/ffn_down Q6_K"},
    {"Q5_K_S", 16, GGML_TYPE_Q5_K, false, "Q5_K, output Q6_K"},
    {"Q5_K_M", 17, GGML_TYPE_Q5_K, false, "Q5_K, half of attn_v/ffn_down Q6_K"},
    {"Q6_K", 18, GGML_TYPE_Q6_K, false, "6.6 bits per weight"},
    /* plain names: every convertible tensor of one type (--pure) */
    {"Q3_K", 12, GGML_TYPE_Q3_K, true, "every matrix Q3_K (= --pure Q3_K_M)"},
    {"Q4_K", 15, GGML_TYPE_Q4_K, true, "every matrix Q4_K (= --pure Q4_K_M)"},
    {"Q5_K", 17, GGML_TYPE_Q5_K, true, "every matrix Q5_K (= --pure Q5_K_M)"},
    {NULL, 0, 0, false, NULL},
};

const struct quantize_ftype *quantize_ftype_list(void)
{
	return ftypes;
}

const struct quantize_ftype *quantize_ftype_find(const char *name)
{
	for (const struct quantize_ftype *f = ftypes; f->name; f++)
		if (!strcasecmp(f->name, name))
			return f;
	return NULL;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

bool quantize_tensor_is_convertible(const char *name, int n_dims)
{
	if (n_dims < 2 || !has_suffix(name, "weight"))
		return false;
	static const char *const never[] = {"_norm.weight",      "ffn_gate_inp.weight",
	                                    "ssm_conv1d.weight", "ssm_x.weight",
	                                    "ssm_dt.weight",     "attn_rel_b.weight"};
	for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
		if (strstr(name, never[i]))
			return false;
	return strcmp(name, "position_embd.weight") && strcmp(name, "token_types.weight");
}

void quantize_policy_init(struct quantize_policy *p, const struct quantize_ftype *ft, bool pure,
                          const struct gguf_file *f)
{
	memset(p, 0, sizeof *p);
	p->ft = ft;
	p->pure = pure || ft->pure;
	p->n_gqa = 1;
	if (!f)
		return;
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct slice n = f->tensors[i].name;
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)n.n, n.p);
		p->has_output |= !strcmp(name, "output.weight");
		p->n_attn_v += strstr(name, "attn_v.weight") != NULL;
		p->n_ffn_down += strstr(name, "ffn_down") != NULL;
	}
	struct slice arch = gguf_arch(f);
	char key[160];
	uint32_t heads = 0, kv = 0, layers = 0;
	snprintf(key, sizeof key, "%.*s.attention.head_count", (int)arch.n, arch.p);
	gguf_get_u32(f, key, &heads, NULL);
	snprintf(key, sizeof key, "%.*s.attention.head_count_kv", (int)arch.n, arch.p);
	gguf_get_u32(f, key, &kv, NULL);
	snprintf(key, sizeof key, "%.*s.block_count", (int)arch.n, arch.p);
	gguf_get_u32(f, key, &layers, NULL);
	if (heads && kv && heads % kv == 0)
		p->n_gqa = (int)(heads / kv);
	p->model_70b = slice_eq(arch, "llama") && layers == 80;
}

/* llama.cpp: the first and last eighth of the layers, and every third
 * layer in between, get more bits in the _M mixes. */
static bool use_more_bits(int i_layer, int n_layers)
{
	return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 ||
	       (i_layer - n_layers / 8) % 3 == 2;
}

static int attn_v_type(struct quantize_policy *p, int t)
{
	uint32_t ft = p->ft->ftype;
	int i = p->i_attn_v++;
	if (ft == 10)
		t = p->n_gqa >= 4 ? GGML_TYPE_Q4_K : GGML_TYPE_Q3_K;
	else if (ft == 12)
		t = i < 2 ? GGML_TYPE_Q5_K : GGML_TYPE_Q4_K;
	else if ((ft == 15 || ft == 17) && use_more_bits(i, p->n_attn_v))
		t = GGML_TYPE_Q6_K;
	else if (ft == 14 && i < 4)
		t = GGML_TYPE_Q5_K;
	if (p->model_70b && (t == GGML_TYPE_Q3_K || t == GGML_TYPE_Q4_K))
		t = GGML_TYPE_Q5_K;
	return t;
}

static int ffn_down_type(struct quantize_policy *p, int t)
{
	uint32_t ft = p->ft->ftype;
	int i = p->i_ffn_down++, n = p->n_ffn_down;
	if (ft == 10)
		t = GGML_TYPE_Q3_K;
	else if (ft == 12)
		t = i < n / 16 ? GGML_TYPE_Q5_K : GGML_TYPE_Q4_K;
	else if ((ft == 15 || ft == 17) && use_more_bits(i, n))
		t = GGML_TYPE_Q6_K;
	else if (ft == 14 && i < n / 8)
		t = GGML_TYPE_Q5_K;
	return t;
}

/* The mix rules for one tensor (llama_tensor_get_type's branches). */
static int mix_type(struct quantize_policy *p, const char *name, int64_t ne0, int t)
{
	uint32_t ft = p->ft->ftype;
	if (!strcmp(name, "output.weight") ||
	    (!p->has_output && !strcmp(name, "token_embd.weight"))) {
		if (ne0 % 256)
			return GGML_TYPE_Q8_0;
		return t == GGML_TYPE_Q8_0 ? t : GGML_TYPE_Q6_K;
	}
	if (strstr(name, "attn_v.weight"))
		return attn_v_type(p, t);
	if (strstr(name, "ffn_down"))
		return ffn_down_type(p, t);
	if (strstr(name, "attn_output.weight")) {
		if (ft == 10)
			return GGML_TYPE_Q3_K;
		if (ft == 12)
			return GGML_TYPE_Q4_K;
	}
	if (strstr(name, "attn_qkv.weight")) {
		if (ft == 12)
			return GGML_TYPE_Q4_K;
		if (ft == 15)
			return GGML_TYPE_Q5_K;
		if (ft == 17)
			return GGML_TYPE_Q6_K;
	}
	return t;
}

/* A type whose block does not divide the rows: llama.cpp's substitutes,
 * then F16 (where llama.cpp stops with "Unsupported tensor size"). */
static int fallback_type(int t, int64_t ne0)
{
	switch (t) {
	case GGML_TYPE_Q4_K: t = GGML_TYPE_Q5_0; break;
	case GGML_TYPE_Q5_K: t = GGML_TYPE_Q5_1; break;
	case GGML_TYPE_Q6_K: t = GGML_TYPE_Q8_0; break;
	case GGML_TYPE_Q2_K:
	case GGML_TYPE_Q3_K:
		t = GGML_TYPE_Q4_0; /* llama.cpp: IQ4_NL, which we do not write */
		break;
	default: break;
	}
	return ne0 % quant_get(t)->block_size ? GGML_TYPE_F16 : t;
}

int quantize_policy_type(struct quantize_policy *p, const char *name, int n_dims, int64_t ne0,
                         int src_type)
{
	if (!quantize_tensor_is_convertible(name, n_dims))
		return src_type;
	int t = p->ft->base_type;
	bool quantized = quant_get(t)->is_quantized;
	if (quantized && !p->pure)
		t = mix_type(p, name, ne0, t);
	if (ne0 % quant_get(t)->block_size) {
		t = fallback_type(t, ne0);
		p->n_fallback++;
	}
	return t;
}

/* ---- converting rows */

struct rows_job {
	const struct quant_traits *src, *dst;
	const uint8_t *in;
	uint8_t *out;
	int64_t ne0, r0, r1;
	size_t in_row, out_row;
	int rc;
};

/* Rows r0..r1 through an f32 chunk of about 4 MiB (F32 input that is
 * 4-byte aligned is read in place). */
static void *rows_worker(void *arg)
{
	struct rows_job *j = arg;
	int64_t chunk = (1 << 20) / j->ne0 + 1;
	bool in_place =
	    j->src->type == GGML_TYPE_F32 && !((uintptr_t)j->in & 3) && !(j->in_row & 3);
	float *buf = NULL;
	if (!in_place && !(buf = try_malloc_array((size_t)(chunk * j->ne0), sizeof(float)))) {
		j->rc = ERR_NOMEM;
		return NULL;
	}
	for (int64_t r = j->r0; r < j->r1; r += chunk) {
		int64_t rows = j->r1 - r < chunk ? j->r1 - r : chunk, n = rows * j->ne0;
		const float *f = (const float *)(const void *)(j->in + r * j->in_row);
		if (buf) {
			j->src->to_float(j->in + r * j->in_row, buf, n);
			f = buf;
		}
		j->dst->quantize(f, j->out + r * j->out_row, n);
	}
	free(buf);
	return NULL;
}

int quantize_rows(int src_type, const void *src, int dst_type, void *dst, int64_t ne0,
                  int64_t n_rows, int n_threads)
{
	const struct quant_traits *s = quant_get(src_type), *d = quant_get(dst_type);
	if (!s || !d || ne0 <= 0 || ne0 % s->block_size || ne0 % d->block_size)
		return ERR_UNSUPPORTED;
	if (n_threads < 1)
		n_threads = 1;
	if (n_threads > 64)
		n_threads = 64;
	if (n_rows < n_threads * 4)
		n_threads = 1;
	struct rows_job jobs[64];
	pthread_t th[64];
	for (int t = 0; t < n_threads; t++) {
		jobs[t] = (struct rows_job){s,
		                            d,
		                            src,
		                            dst,
		                            ne0,
		                            n_rows * t / n_threads,
		                            n_rows * (t + 1) / n_threads,
		                            quant_row_size(src_type, ne0),
		                            quant_row_size(dst_type, ne0),
		                            0};
	}
	int started = 1;
	for (int t = 1; t < n_threads; t++, started++)
		if (pthread_create(&th[t], NULL, rows_worker, &jobs[t]))
			break;
	for (int t = started; t < n_threads; t++)
		rows_worker(&jobs[t]); /* could not start: do it here */
	rows_worker(&jobs[0]);
	for (int t = 1; t < started; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < n_threads; t++)
		if (jobs[t].rc)
			return jobs[t].rc;
	return 0;
}

/* ---- converting a file */

struct tensor_job {
	const struct gguf_tensor *t;
	char name[256];
	int index, count;
	int dst_type;
	bool fallback;
	const struct quantize_options *o;
	struct quantize_result *res;
	int n_threads;
};

static int fill_tensor(void *ctx, void *dst, size_t nbytes, char *err)
{
	struct tensor_job *j = ctx;
	const struct gguf_tensor *t = j->t;
	if (j->dst_type == t->type) {
		memcpy(dst, t->data, nbytes);
	} else {
		int64_t rows = 1;
		for (int d = 1; d < GGUF_MAX_DIMS; d++)
			rows *= t->ne[d];
		int rc =
		    quantize_rows(t->type, t->data, j->dst_type, dst, t->ne[0], rows, j->n_threads);
		if (rc)
			return err_set(err, rc, "%s: cannot convert %s to %s: %s", j->name,
			               ggml_type_name(t->type), ggml_type_name(j->dst_type),
			               err_str(rc));
		j->res->n_converted++;
	}
	j->res->out_bytes += nbytes;
	if (j->o->progress) {
		struct quantize_progress p = {j->index,  j->count,   j->name,     t->ne,
		                              t->n_dims, t->type,    j->dst_type, t->nbytes,
		                              nbytes,    j->fallback};
		j->o->progress(j->o->progress_ctx, &p);
	}
	return 0;
}

/* Picks every tensor's type and registers its fill callback. */
static int plan_tensors(struct gguf_writer *w, const struct gguf_file *f,
                        const struct quantize_options *o, struct tensor_job *jobs,
                        struct quantize_result *res, char *err)
{
	struct quantize_policy pol;
	quantize_policy_init(&pol, o->ft, o->pure, f);
	int n_threads = o->n_threads > 0 ? o->n_threads : cpu_features_get()->n_physical;
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		struct tensor_job *j = &jobs[i];
		const struct gguf_tensor *t = &f->tensors[i];
		*j = (struct tensor_job){.t = t,
		                         .index = (int)i + 1,
		                         .count = (int)f->n_tensors,
		                         .o = o,
		                         .res = res,
		                         .n_threads = n_threads};
		if (t->name.n >= sizeof j->name)
			return err_set(err, ERR_INVALID, "tensor name too long (%zu bytes)",
			               t->name.n);
		memcpy(j->name, t->name.p, t->name.n);
		int before = pol.n_fallback;
		j->dst_type = quantize_policy_type(&pol, j->name, t->n_dims, t->ne[0], t->type);
		j->fallback = pol.n_fallback != before;
		res->n_fallback += j->fallback;
		bool src_quantized = quant_get(t->type) && quant_get(t->type)->is_quantized;
		if (j->dst_type != t->type && !quant_get(t->type))
			return err_set(err, ERR_UNSUPPORTED, "%s: cannot convert type %s", j->name,
			               ggml_type_name(t->type));
		if (j->dst_type != t->type && src_quantized && !o->allow_requantize)
			return err_set(err, ERR_INVALID,
			               "%s is already %s: converting it again loses precision "
			               "(allow it with --allow-requantize)",
			               j->name, ggml_type_name(t->type));
		res->in_bytes += t->nbytes;
		int rc = gguf_writer_add_tensor_fn(w, j->name, j->dst_type, t->n_dims, t->ne,
		                                   fill_tensor, j);
		if (rc)
			return err_set(err, rc, "%s: the writer refused the tensor", j->name);
	}
	res->n_tensors = (int)f->n_tensors;
	return 0;
}

int quantize_model_file(const char *in, const char *out, const struct quantize_options *o,
                        struct quantize_result *res, char err[ERR_MSG_LEN])
{
	struct quantize_result local;
	if (!res)
		res = &local;
	memset(res, 0, sizeof *res);
	struct gguf_file *f = gguf_open(in, err);
	if (!f)
		return ERR_INVALID;
	int rc = ERR_NOMEM;
	struct tensor_job *jobs = try_calloc(f->n_tensors ? f->n_tensors : 1, sizeof *jobs);
	struct gguf_writer *w = gguf_writer_new();
	if (!jobs || !w) {
		err_set(err, rc, "out of memory");
		goto out;
	}
	gguf_writer_copy_kv(w, f, NULL);
	gguf_writer_set_u32(w, "general.quantization_version", 2);
	gguf_writer_set_u32(w, "general.file_type", o->ft->ftype);
	rc = plan_tensors(w, f, o, jobs, res, err);
	if (!rc)
		rc = gguf_writer_write(w, out, err);
out:
	gguf_writer_free(w);
	free(jobs);
	gguf_close(f);
	return rc;
}

/* synth.c — random-weight llama models (synth.h): the tensor list in
 * llama.cpp's converter order, per-row deterministic Gaussian-ish values
 * quantized inside the GGUF writer's fill callbacks on n threads, and the
 * tokenizer (copied or built). Not here: flags and printing (src/cli/synth.c).
 * Type rules are quantize_model.h's (llama-quantize's). */
#include "engine/synth.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "engine/cpu_features.h"
#include "engine/quant.h"

/* One tensor to generate: N(mean, std) values, approximately (a sum of
 * four uniforms), deterministic per (seed, tensor, row). */
struct synth_tensor {
	char name[64];
	int n_dims;
	int64_t ne[2];
	int type;
	float mean, std;
	uint64_t seed;
	int index, count, n_threads;
	size_t *total;
	const struct synth_params *p;
};

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void gen_row(const struct synth_tensor *t, int64_t row, float *out)
{
	uint64_t s = t->seed ^ ((uint64_t)row * 0xD1B54A32D192ED03ULL);
	/* variance of a sum of 4 U(0,1) is 1/3: scale by sqrt(3) */
	const float k = t->std * 1.7320508f / 65536.0f;
	for (int64_t i = 0; i < t->ne[0]; i++) {
		uint64_t a = splitmix(&s), b = splitmix(&s);
		uint32_t u = (uint32_t)(a & 0xffff) + (uint32_t)((a >> 16) & 0xffff) +
		             (uint32_t)(b & 0xffff) + (uint32_t)((b >> 16) & 0xffff);
		out[i] = t->mean + ((float)u - 131070.0f) * k;
	}
}

struct row_range {
	const struct synth_tensor *t;
	uint8_t *dst;
	int64_t r0, r1;
};

static void *gen_rows(void *arg)
{
	struct row_range *r = arg;
	const struct synth_tensor *t = r->t;
	const struct quant_traits *q = quant_get(t->type);
	size_t row_bytes = quant_row_size(t->type, t->ne[0]);
	float *buf = xmalloc((size_t)t->ne[0] * sizeof *buf);
	for (int64_t row = r->r0; row < r->r1; row++) {
		gen_row(t, row, buf);
		q->quantize(buf, r->dst + row * row_bytes, t->ne[0]);
	}
	free(buf);
	return NULL;
}

static int fill(void *ctx, void *dst, size_t nbytes, char *err)
{
	struct synth_tensor *t = ctx;
	int64_t rows = t->ne[1];
	int n = rows >= 64 ? t->n_threads : 1;
	struct row_range rr[64];
	pthread_t th[64];
	int started = 1;
	for (int i = 0; i < n; i++)
		rr[i] = (struct row_range){t, dst, rows * i / n, rows * (i + 1) / n};
	for (int i = 1; i < n && !pthread_create(&th[i], NULL, gen_rows, &rr[i]); i++)
		started++;
	for (int i = started; i < n; i++)
		gen_rows(&rr[i]);
	gen_rows(&rr[0]);
	for (int i = 1; i < started; i++)
		pthread_join(th[i], NULL);
	*t->total += nbytes;
	if (t->p->progress) {
		struct quantize_progress pr = {
		    .index = t->index,
		    .count = t->count,
		    .name = t->name,
		    .ne = t->ne,
		    .n_dims = t->n_dims,
		    .src_type = GGML_TYPE_F32,
		    .dst_type = t->type,
		    .src_bytes = (size_t)(t->ne[0] * t->ne[1]) * sizeof(float),
		    .dst_bytes = nbytes,
		};
		t->p->progress(t->p->progress_ctx, &pr);
	}
	(void)err;
	return 0;
}

/* ---- the built-in vocabulary */

/* Pieces after the bytes: printable ASCII, then "▁" + letters, then
 * letter pairs and "▁" + pairs, ... until n tokens. Scores decrease. */
static void builtin_vocab(struct gguf_writer *w, int64_t n)
{
	struct slice *toks = xcalloc((size_t)n, sizeof *toks);
	float *scores = xcalloc((size_t)n, sizeof *scores);
	int32_t *types = xcalloc((size_t)n, sizeof *types);
	char **own = xcalloc((size_t)n, sizeof *own);
	static const char *special[3] = {"<unk>", "<s>", "</s>"};
	int64_t i = 0;
	for (; i < 3; i++) {
		own[i] = xstrdup(special[i]);
		types[i] = i == 0 ? 2 : 3; /* UNKNOWN, CONTROL */
	}
	for (int b = 0; b < 256; b++, i++) {
		own[i] = xmalloc(8);
		snprintf(own[i], 8, "<0x%02X>", b);
		types[i] = 6; /* BYTE */
	}
	/* then words over a 27-symbol alphabet (▁ and a..z), shortest first */
	for (int len = 1; i < n; len++) {
		int64_t combos = 1;
		for (int k = 0; k < len && combos < n; k++)
			combos *= 27;
		for (int64_t c = 0; c < combos && i < n; c++) {
			struct buf piece = BUF_INIT;
			int64_t v = c;
			for (int k = 0; k < len; k++, v /= 27) {
				if (v % 27 == 0)
					buf_puts(&piece, "\xe2\x96\x81");
				else
					buf_putc(&piece, (char)('a' + v % 27 - 1));
			}
			if (len > 1 && piece.len >= 3 &&
			    !memcmp(piece.data + piece.len - 3, "\xe2\x96\x81", 3)) {
				buf_release(&piece); /* no piece ends in ▁ */
				continue;
			}
			own[i] = buf_steal(&piece);
			types[i] = 1; /* NORMAL */
			scores[i] = -(float)(i - 258);
			i++;
		}
	}
	for (int64_t k = 0; k < n; k++)
		toks[k] = slice_from(own[k]);
	gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
	gguf_writer_set_str_arr(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
	gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, (uint64_t)n);
	gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, (uint64_t)n);
	gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
	gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
	gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
	gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
	gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false);
	for (int64_t k = 0; k < n; k++)
		free(own[k]);
	free(own);
	free(toks);
	free(scores);
	free(types);
}

/* Copies the tokenizer.ggml.* keys; returns the token count or < 0. */
static int64_t copy_vocab(struct gguf_writer *w, const struct gguf_file *v, char *err)
{
	int64_t n = -1;
	for (uint64_t i = 0; i < v->n_kv; i++) {
		const struct gguf_kv *kv = &v->kv[i];
		if (!slice_has_prefix(kv->key, "tokenizer.ggml."))
			continue;
		char *key = slice_dup(kv->key);
		gguf_writer_set_value(w, key, &kv->value);
		if (!strcmp(key, "tokenizer.ggml.tokens") && kv->value.type == GGUF_VT_ARRAY)
			n = (int64_t)kv->value.v.arr.n;
		free(key);
	}
	if (n <= 0)
		err_set(err, ERR_INVALID, "%s has no tokenizer.ggml.tokens", v->path);
	return n;
}

/* ---- the model */

static void set_hparams(struct gguf_writer *w, const struct synth_shape *s, uint32_t ftype)
{
	char name[96];
	snprintf(name, sizeof name, "synth-llama-%lldx%lld", (long long)s->dim,
	         (long long)s->layers);
	gguf_writer_set_str(w, "general.architecture", "llama");
	gguf_writer_set_str(w, "general.name", name);
	gguf_writer_set_u32(w, "llama.context_length", (uint32_t)s->ctx);
	gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)s->dim);
	gguf_writer_set_u32(w, "llama.block_count", (uint32_t)s->layers);
	gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)s->ffn);
	gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)s->heads);
	gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)s->kv_heads);
	gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
	gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)(s->dim / s->heads));
	gguf_writer_set_u32(w, "general.quantization_version", 2);
	gguf_writer_set_u32(w, "general.file_type", ftype);
}

static void add(struct synth_tensor *t, int *n, const char *name, int64_t ne0, int64_t ne1,
                float mean, float std)
{
	struct synth_tensor *x = &t[(*n)++];
	snprintf(x->name, sizeof x->name, "%s", name);
	x->n_dims = ne1 > 1 ? 2 : 1;
	x->ne[0] = ne0;
	x->ne[1] = ne1;
	x->mean = mean;
	x->std = std;
}

/* The tensor list in llama.cpp's converter order; matrices N(0, 1/fan_in),
 * norms 1 + N(0, 0.1), embeddings N(0, 1). */
static int list_tensors(const struct synth_shape *s, struct synth_tensor *t)
{
	int64_t kv_dim = s->dim / s->heads * s->kv_heads;
	float sd = 1.0f / sqrtf((float)s->dim), sf = 1.0f / sqrtf((float)s->ffn);
	int n = 0;
	add(t, &n, "token_embd.weight", s->dim, s->vocab, 0.f, 1.f);
	add(t, &n, "output_norm.weight", s->dim, 1, 1.f, 0.1f);
	add(t, &n, "output.weight", s->dim, s->vocab, 0.f, sd);
	static const struct {
		const char *suffix;
		int rows; /* 0: dim, 1: kv_dim, 2: ffn, 3: norm; columns dim unless down */
	} blk[] = {{"attn_norm", 3}, {"attn_q", 0},      {"attn_k", 1},
	           {"attn_v", 1},    {"attn_output", 0}, {"ffn_norm", 3},
	           {"ffn_gate", 2},  {"ffn_up", 2},      {"ffn_down", 4}};
	for (int64_t l = 0; l < s->layers; l++)
		for (size_t k = 0; k < sizeof blk / sizeof blk[0]; k++) {
			char nm[64];
			snprintf(nm, sizeof nm, "blk.%lld.%s.weight", (long long)l, blk[k].suffix);
			switch (blk[k].rows) {
			case 0: add(t, &n, nm, s->dim, s->dim, 0.f, sd); break;
			case 1: add(t, &n, nm, s->dim, kv_dim, 0.f, sd); break;
			case 2: add(t, &n, nm, s->dim, s->ffn, 0.f, sd); break;
			case 3: add(t, &n, nm, s->dim, 1, 1.f, 0.1f); break;
			default: add(t, &n, nm, s->ffn, s->dim, 0.f, sf); break;
			}
		}
	return n;
}

int synth_shape_check(const struct synth_shape *s, char err[ERR_MSG_LEN])
{
	if (s->dim < 32 || s->dim > 65536 || s->layers < 1 || s->layers > 1024 || s->heads < 1 ||
	    s->kv_heads < 1 || s->ffn < 32 || s->ffn > 1 << 20 || s->ctx < 1 || s->ctx > 1 << 24)
		return err_set(err, ERR_INVALID,
		               "shape out of range (dim 32..65536, layers "
		               "1..1024, ffn 32..1048576, ctx 1..16M)");
	if (s->dim % s->heads || s->heads % s->kv_heads)
		return err_set(err, ERR_INVALID, "dim must divide by heads, heads by kv-heads");
	if (s->vocab < 259 || s->vocab > 1 << 22)
		return err_set(err, ERR_INVALID,
		               "vocab must be 259..4194304 (3 specials + 256 bytes)");
	return 0;
}

void synth_params_default(struct synth_params *p)
{
	*p = (struct synth_params){
	    .shape = {2048, 22, 32, 4, 5632, 32000, 2048},
	    .ft = quantize_ftype_find("Q4_0"),
	    .seed = 1,
	};
}

int synth_model_write(const char *path, const struct synth_params *p, size_t *total,
                      char err[ERR_MSG_LEN])
{
	struct synth_shape shape = p->shape;
	size_t sum = 0;
	if (p->vocab)
		shape.vocab = 259; /* the file's count replaces it (checked there) */
	int rc = synth_shape_check(&shape, err);
	if (rc)
		return rc;
	if (!p->ft || p->n_threads < 0 || p->n_threads > 64)
		return err_set(err, ERR_INVALID, p->ft ? "threads must be 0..64" : "no file type");
	int nt = p->n_threads ? p->n_threads : cpu_features_get()->n_physical;
	struct gguf_writer *w = gguf_writer_new();
	set_hparams(w, &shape, p->ft->ftype);
	if (p->vocab) {
		int64_t n = copy_vocab(w, p->vocab, err);
		if (n <= 0 || n > 1 << 22) {
			rc = n <= 0 ? ERR_INVALID
			            : err_set(err, ERR_INVALID, "%s: more than 4M tokens",
			                      p->vocab->path);
			goto out;
		}
		shape.vocab = n;
	} else {
		builtin_vocab(w, shape.vocab);
	}
	gguf_writer_set_u32(w, "llama.vocab_size", (uint32_t)shape.vocab);
	int count = 3 + 9 * (int)shape.layers;
	struct synth_tensor *t = xcalloc((size_t)count, sizeof *t);
	list_tensors(&shape, t);
	struct quantize_policy pol;
	quantize_policy_init(&pol, p->ft, p->pure, NULL);
	pol.has_output = true;
	pol.n_attn_v = pol.n_ffn_down = (int)shape.layers;
	pol.n_gqa = (int)(shape.heads / shape.kv_heads);
	pol.model_70b = shape.layers == 80;
	for (int i = 0; i < count && !rc; i++) {
		t[i].type =
		    quantize_policy_type(&pol, t[i].name, t[i].n_dims, t[i].ne[0], GGML_TYPE_F32);
		t[i].seed = p->seed * 0x2545F4914F6CDD1DULL + (uint64_t)i * 0x9E3779B97F4A7C15ULL;
		t[i].index = i + 1;
		t[i].count = count;
		t[i].n_threads = nt;
		t[i].total = &sum;
		t[i].p = p;
		rc = gguf_writer_add_tensor_fn(w, t[i].name, t[i].type, t[i].n_dims, t[i].ne, fill,
		                               &t[i]);
		if (rc)
			err_set(err, rc, "%s: the writer refused the tensor", t[i].name);
	}
	if (!rc)
		rc = gguf_writer_write(w, path, err);
	free(t);
	if (total)
		*total = sum;
out:
	gguf_writer_free(w);
	return rc;
}

/* model.c — engine_model_load(): open the GGUF file (mmap), pick the
 * architecture from general.architecture, read the hyperparameters, bind
 * every tensor as a view into the mapping (nothing is copied), load the
 * tokenizer and start the runner; plus model info and token pass-throughs.
 * Not here: the architectures' own rules (arch_*.c), the pass (forward.c). */
#include "engine/engine_internal.h"

#include "base/mem.h"
#include "base/timeutil.h"
#include "engine/backend.h"
#include "engine/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_N_BATCH     512
#define DEFAULT_MAX_CTX     4096 /* default context when the model's is larger */
#define DEFAULT_THREAD_WORK (4ll << 20)

void engine_load_params_default(struct engine_load_params *p)
{
	*p = (struct engine_load_params){0};
	p->n_gpu_layers = -1; /* auto: the GPU when one is usable */
}

/* llama.cpp's llama_ftype numbers, named as Ollama shows them. */
static const char *ftype_name(uint32_t ft)
{
	static const char *const names[] = {
	    [0] = "F32",      [1] = "F16",      [2] = "Q4_0",    [3] = "Q4_1",    [7] = "Q8_0",
	    [8] = "Q5_0",     [9] = "Q5_1",     [10] = "Q2_K",   [11] = "Q3_K_S", [12] = "Q3_K_M",
	    [13] = "Q3_K_L",  [14] = "Q4_K_S",  [15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M",
	    [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S", [22] = "IQ3_XS",
	    [23] = "IQ3_XXS", [24] = "IQ1_S",   [25] = "IQ4_NL", [26] = "IQ3_S",  [27] = "IQ3_M",
	    [28] = "IQ2_S",   [29] = "IQ2_M",   [30] = "IQ4_XS", [31] = "IQ1_M",  [32] = "BF16",
	};
	ft &= ~1024u; /* LLAMA_FTYPE_GUESSED */
	if (ft < sizeof names / sizeof names[0] && names[ft])
		return names[ft];
	return "unknown";
}

/* Without general.file_type: the type of token_embd (F32 for stories260K). */
static const char *guess_ftype(const struct gguf_file *f)
{
	const struct gguf_tensor *t = gguf_find_tensor(f, "token_embd.weight");
	const struct ggml_type_layout *l = t ? ggml_type_layout(t->type) : NULL;
	return l ? l->name : "unknown";
}

static void fill_info(struct engine_model *m)
{
	const struct hparams *hp = &m->hp;
	struct engine_model_info *in = &m->info;
	uint32_t ft;
	in->arch = m->arch_name;
	in->name = m->name;
	in->file_type = gguf_get_u32(m->gguf, "general.file_type", &ft, NULL) == 0
	                    ? ftype_name(ft)
	                    : guess_ftype(m->gguf);
	for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
		const struct gguf_tensor *t = &m->gguf->tensors[i];
		in->n_params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
		in->n_bytes += (int64_t)t->nbytes;
	}
	in->n_ctx_train = hp->n_ctx_train;
	in->n_ctx = m->n_ctx_default;
	in->n_vocab = hp->n_vocab;
	in->n_embd = hp->n_embd;
	in->n_layer = hp->n_layer;
	in->n_head = hp->n_head;
	in->n_head_kv = hp->n_head_kv;
	in->head_dim = hp->head_dim_k;
	in->n_ff = hp->n_ff;
	in->rms_eps = hp->eps;
	in->rope_freq_base = hp->rope[0].base;
	in->rope_freq_scale = hp->rope[0].freq_scale;
	in->rope_neox = hp->rope_mode == ROPE_NEOX;
	in->sliding_window = hp->n_swa;
	in->swa_pattern = hp->swa_pattern;
	in->rope_local_freq_base = hp->n_rope_cfg > 1 ? hp->rope[1].base : hp->rope[0].base;
	in->attn_softcap = hp->attn_softcap;
	in->final_softcap = hp->final_softcap;
	in->n_threads = m->run.n_threads;
}

static size_t max_act(size_t a, const struct tensor *w)
{
	size_t b = mm_act_bytes(w);
	return a > b ? a : b;
}

/* The scratch row for converted activations fits every matrix's input. */
static size_t act_row_bytes(const struct engine_model *m)
{
	size_t n = max_act(0, &m->output);
	for (int il = 0; il < m->hp.n_layer; il++) {
		const struct layer *L = &m->layers[il];
		const struct tensor *ts[] = {&L->wq,       &L->wk,     &L->wv,      &L->wo,
		                             &L->ffn_gate, &L->ffn_up, &L->ffn_down};
		for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
			n = max_act(n, ts[i]);
	}
	return n;
}

static int bind_tensors(struct loader *ld)
{
	struct engine_model *m = ld->m;
	struct hparams *hp = &m->hp;
	const struct gguf_tensor *e = gguf_find_tensor(ld->f, "token_embd.weight");
	if (!e)
		return err_set(ld->err, ERR_INVALID, "missing tensor token_embd.weight");
	hp->n_vocab = e->ne[1];
	if (hp->n_vocab < tokenizer_n_vocab(m->tok))
		return err_set(ld->err, ERR_INVALID,
		               "token_embd.weight has %lld rows but the vocabulary %lld tokens",
		               (long long)hp->n_vocab, (long long)tokenizer_n_vocab(m->tok));
	int rc = arch__matrix(ld, &m->tok_embd, "token_embd.weight", hp->n_embd, hp->n_vocab, true);
	for (int il = 0; !rc && il < hp->n_layer; il++)
		rc = m->arch->layer(ld, il);
	if (!rc)
		rc = arch__bind_output(ld);
	m->act_row_bytes = act_row_bytes(m);
	return rc;
}

static int read_hparams(struct loader *ld)
{
	struct engine_model *m = ld->m;
	struct slice arch = gguf_arch(ld->f);
	if (!arch.n)
		return err_set(ld->err, ERR_INVALID, "missing key general.architecture");
	m->arch = arch__find(arch);
	if (!m->arch)
		return err_set(
		    ld->err, ERR_UNSUPPORTED,
		    "unknown architecture '%.*s' (supported: llama, qwen2, gemma, gemma2, "
		    "gemma3, phi3)",
		    (int)(arch.n > 64 ? 64 : arch.n), arch.p);
	m->arch_name = slice_dup(arch);
	struct slice name = {0};
	m->name =
	    gguf_get_str(ld->f, "general.name", &name, NULL) == 0 ? slice_dup(name) : xstrdup("");
	int rc = arch__read_common(ld);
	if (rc)
		return rc;
	m->layers = xcalloc((size_t)m->hp.n_layer, sizeof *m->layers);
	if ((rc = m->arch->hparams(ld)) || (rc = arch__finish_hparams(ld)))
		return rc;
	m->hp.n_rope_cfg = 1;
	for (int il = 0; il < m->hp.n_layer; il++)
		if (m->layers[il].rope_cfg + 1 > m->hp.n_rope_cfg)
			m->hp.n_rope_cfg = m->layers[il].rope_cfg + 1;
	return 0;
}

static int pick_threads(const struct engine_load_params *p)
{
	if (p->n_threads > 0)
		return p->n_threads > 512 ? 512 : p->n_threads;
	const char *env = getenv("GPURUN_NUM_THREAD");
	int64_t v;
	if (env && str_to_i64(env, &v) && v > 0 && v <= 512)
		return (int)v;
	return threadpool_physical_cores();
}

struct engine_model *engine_model_load(const char *path, const struct engine_load_params *p,
                                       char err[ERR_MSG_LEN])
{
	int64_t t0 = time_mono_ns();
	struct engine_load_params def;
	if (!p) {
		engine_load_params_default(&def);
		p = &def;
	}
	quant_init();
	struct engine_model *m = xcalloc(1, sizeof *m);
	m->gguf = gguf_open(path, err);
	if (!m->gguf)
		goto out_free;
	struct loader ld = {m, m->gguf, err};
	if (read_hparams(&ld))
		goto out_free;
	char terr[ERR_MSG_LEN];
	m->tok = tokenizer_load(m->gguf, terr);
	if (!m->tok) {
		err_set(err, ERR_INVALID, "%s", terr);
		goto out_free;
	}
	if (p->vocab_only)
		m->hp.n_vocab = tokenizer_n_vocab(m->tok);
	else if (bind_tensors(&ld))
		goto out_free;
	m->n_batch = p->n_batch > 0 ? p->n_batch : DEFAULT_N_BATCH;
	m->kv_type = p->kv_type == ENGINE_KV_F32 ? GGML_TYPE_F32 : GGML_TYPE_F16;
	const char *tw = getenv("GPURUN_THREAD_WORK");
	if (!tw || !str_to_i64(tw, &m->work_per_thread) || m->work_per_thread < 0)
		m->work_per_thread = DEFAULT_THREAD_WORK;
	m->n_ctx_default = p->n_ctx > 0                          ? p->n_ctx
	                   : m->hp.n_ctx_train < DEFAULT_MAX_CTX ? m->hp.n_ctx_train
	                                                         : DEFAULT_MAX_CTX;
	if (runner__init(m, p->vocab_only ? 1 : pick_threads(p), err))
		goto out_free;
	fill_info(m);
	backend__init(m, p);
	if (!p->vocab_only && m->be && !strcmp(m->be->name, "cpu"))
		engine__pack_start(m);
	m->info.load_ns = time_mono_ns() - t0;
	return m;
out_free:
	engine_model_free(m);
	return NULL;
}

void engine_model_free(struct engine_model *m)
{
	if (!m)
		return;
	backend__release(m);
	engine__pack_release(m);
	if (m->run.ts)
		runner__release(&m->run);
	constrain_vocab_free(atomic_load(&m->cvocab));
	tokenizer_free(m->tok);
	gguf_close(m->gguf);
	free(m->layers);
	free(m->name);
	free(m->arch_name);
	free(m);
}

const struct engine_model_info *engine_model_info(const struct engine_model *m)
{
	return &m->info;
}

const struct gguf_file *engine_model_gguf(const struct engine_model *m)
{
	return m->gguf;
}

const struct tokenizer *engine_model_tokenizer(const struct engine_model *m)
{
	return m->tok;
}

int64_t engine_tokenize(const struct engine_model *m, const char *text, size_t len,
                        bool add_special, bool parse_special, int32_t *ids, int64_t cap)
{
	int32_t *out = NULL;
	int64_t n = 0;
	int rc = tokenizer_encode(m->tok, text, len, add_special, parse_special, &out, &n);
	if (rc)
		return rc;
	if (ids && cap > 0)
		memcpy(ids, out, (size_t)(n < cap ? n : cap) * sizeof *ids);
	free(out);
	return n;
}

int engine_detokenize(const struct engine_model *m, const int32_t *ids, int64_t n,
                      bool render_special, struct buf *out)
{
	int rc =
	    tokenizer_decode(m->tok, ids, n, render_special ? TOKENIZER_DETOK_SPECIAL : 0, out);
	return rc < 0 ? rc : 0;
}

bool engine_token_is_eog(const struct engine_model *m, int32_t id)
{
	return tokenizer_is_eog(m->tok, id);
}

int32_t engine_token_bos(const struct engine_model *m)
{
	return tokenizer_bos(m->tok);
}

int32_t engine_token_eos(const struct engine_model *m)
{
	return tokenizer_eos(m->tok);
}

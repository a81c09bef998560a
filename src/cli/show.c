/* show.c — `gpurun show FILE.gguf`: prints a model's architecture, size,
 * quantization and the parameters each architecture depends on, laid out as
 * `ollama show` does. Only the file form; model names on a server reuse
 * cli_show_file once the blob path is known. */
#include "cli/show.h"

#include "cli/cli.h"
#include "cli/ollama_cli.h"

#include "base/flags.h"
#include "base/mem.h"
#include "gguf/gguf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void row(FILE *out, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void row(FILE *out, const char *key, const char *fmt, ...)
{
	va_list ap;
	fprintf(out, "    %-28s", key);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

/* A scalar value as text (strings quoted only when empty); arrays summarized. */
static void value_str(const struct gguf_value *v, char *s, size_t cap)
{
	switch (v->type) {
	case GGUF_VT_STRING:
		snprintf(s, cap, "%.*s", (int)(v->v.str.n > 200 ? 200 : v->v.str.n), v->v.str.p);
		if (v->v.str.n == 0)
			snprintf(s, cap, "\"\"");
		break;
	case GGUF_VT_ARRAY:
		snprintf(s, cap, "[%" PRIu64 " x %s]", v->v.arr.n, gguf_vtype_name(v->v.arr.type));
		break;
	case GGUF_VT_FLOAT32: snprintf(s, cap, "%.7g", v->v.f64); break;
	case GGUF_VT_FLOAT64: snprintf(s, cap, "%.15g", v->v.f64); break;
	case GGUF_VT_BOOL: snprintf(s, cap, "%s", v->v.u64 ? "true" : "false"); break;
	case GGUF_VT_INT8:
	case GGUF_VT_INT16:
	case GGUF_VT_INT32:
	case GGUF_VT_INT64: snprintf(s, cap, "%" PRId64, v->v.i64); break;
	default: snprintf(s, cap, "%" PRIu64, v->v.u64); break;
	}
	/* Keep the table on one line per key. */
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

/* Prints "<arch>.<suffix>" under label when present. */
static bool arch_row(FILE *out, const struct gguf_file *f, const char *suffix, const char *label)
{
	const struct gguf_kv *kv = gguf_find_arch_key(f, suffix);
	if (!kv)
		return false;
	char s[256];
	const struct gguf_value *v = &kv->value;
	if (v->type == GGUF_VT_ARRAY && v->v.arr.n > 0 && v->v.arr.type != GGUF_VT_STRING &&
	    v->v.arr.type != GGUF_VT_ARRAY) {
		/* Per-layer values (some models vary head counts by layer). */
		int64_t lo = INT64_MAX, hi = INT64_MIN;
		for (uint64_t i = 0; i < v->v.arr.n; i++) {
			int64_t x = gguf_arr_get_i64(v, i);
			lo = x < lo ? x : lo;
			hi = x > hi ? x : hi;
		}
		snprintf(s, sizeof s, lo == hi ? "%" PRId64 : "%" PRId64 "-%" PRId64 " (per layer)",
		         lo, hi);
	} else {
		value_str(v, s, sizeof s);
	}
	row(out, label, "%s", s);
	return true;
}

static void model_section(FILE *out, const struct gguf_file *f)
{
	struct slice arch = gguf_arch(f);
	uint64_t params = 0;
	char cnt[16], s[256];
	if (gguf_get_u64(f, "general.parameter_count", &params, NULL) != 0 || params == 0)
		params = gguf_param_count(f);
	gguf_format_count(params, cnt);
	fprintf(out, "  Model\n");
	row(out, "architecture", "%.*s", (int)arch.n, arch.n ? arch.p : "unknown");
	row(out, "parameters", "%s", cnt);
	const struct gguf_kv *kv = gguf_find_arch_key(f, "context_length");
	if (kv) {
		value_str(&kv->value, s, sizeof s);
		row(out, "context length", "%s", s);
	}
	kv = gguf_find_arch_key(f, "embedding_length");
	if (kv) {
		value_str(&kv->value, s, sizeof s);
		row(out, "embedding length", "%s", s);
	}
	row(out, "quantization", "%s", f->n_tensors ? gguf_quantization(f) : "none (vocab only)");
	fputc('\n', out);
}

/* The local/global layer pattern the engine (like llama.cpp) applies. */
static void layer_pattern(FILE *out, const struct gguf_file *f, struct slice arch)
{
	uint32_t window = 0;
	char key[128];
	snprintf(key, sizeof key, "%.*s.attention.sliding_window", (int)arch.n, arch.p);
	bool has_window = gguf_get_u32(f, key, &window, NULL) == 0;
	if (slice_eq(arch, "gemma3"))
		row(out, "layer pattern",
		    "5 local : 1 global (layer i is global when i %% 6 == 5)");
	else if (slice_eq(arch, "gemma2"))
		row(out, "layer pattern", "alternating: even layers local, odd layers global");
	else if (has_window)
		row(out, "layer pattern", "sliding window on every layer");
	if (slice_eq(arch, "gemma3"))
		row(out, "local rope base", "%s",
		    gguf_find_arch_key(f, "rope.local.freq_base") ? "(from file)" : "10000");
}

static void arch_section(FILE *out, const struct gguf_file *f)
{
	static const struct {
		const char *suffix, *label;
	} keys[] = {
	    {"block_count", "block count"},
	    {"feed_forward_length", "feed forward length"},
	    {"attention.head_count", "attention heads"},
	    {"attention.head_count_kv", "key/value heads"},
	    {"attention.key_length", "key length"},
	    {"attention.value_length", "value length"},
	    {"attention.layer_norm_rms_epsilon", "rms norm epsilon"},
	    {"attention.layer_norm_epsilon", "norm epsilon"},
	    {"attention.sliding_window", "sliding window"},
	    {"attn_logit_softcapping", "attention logit softcap"},
	    {"final_logit_softcapping", "final logit softcap"},
	    {"rope.dimension_count", "rope dimensions"},
	    {"rope.freq_base", "rope base"},
	    {"rope.global.freq_base", "rope base (global layers)"},
	    {"rope.local.freq_base", "rope base (local layers)"},
	    {"rope.scaling.type", "rope scaling"},
	    {"rope.scaling.factor", "rope scaling factor"},
	    {"rope.scaling.original_context_length", "rope original context"},
	    {"vocab_size", "vocab size"},
	    {"expert_count", "experts"},
	    {"expert_used_count", "experts used"},
	};
	struct slice arch = gguf_arch(f);
	if (arch.n == 0)
		return;
	fprintf(out, "  Architecture\n");
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		arch_row(out, f, keys[i].suffix, keys[i].label);
	layer_pattern(out, f, arch);
	fputc('\n', out);
}

static void tokenizer_section(FILE *out, const struct gguf_file *f)
{
	struct slice model, pre;
	if (gguf_get_str(f, "tokenizer.ggml.model", &model, NULL) != 0)
		return;
	fprintf(out, "  Tokenizer\n");
	row(out, "model", "%.*s", (int)model.n, model.p);
	if (gguf_get_str(f, "tokenizer.ggml.pre", &pre, NULL) == 0)
		row(out, "pre-tokenizer", "%.*s", (int)pre.n, pre.p);
	const struct gguf_value *a;
	if (gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &a, NULL) == 0)
		row(out, "tokens", "%" PRIu64, a->v.arr.n);
	if (gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_VT_STRING, &a, NULL) == 0)
		row(out, "merges", "%" PRIu64, a->v.arr.n);
	static const char *const ids[][2] = {{"tokenizer.ggml.bos_token_id", "bos token id"},
	                                     {"tokenizer.ggml.eos_token_id", "eos token id"}};
	for (size_t i = 0; i < 2; i++) {
		uint32_t id;
		if (gguf_get_u32(f, ids[i][0], &id, NULL) == 0)
			row(out, ids[i][1], "%u", id);
	}
	fputc('\n', out);
}

static void verbose_sections(FILE *out, const struct gguf_file *f)
{
	char s[256];
	fprintf(out, "  Metadata\n");
	for (uint64_t i = 0; i < f->n_kv; i++) {
		char key[128];
		size_t n = f->kv[i].key.n < sizeof key - 1 ? f->kv[i].key.n : sizeof key - 1;
		memcpy(key, f->kv[i].key.p, n);
		key[n] = '\0';
		value_str(&f->kv[i].value, s, sizeof s);
		row(out, key, "%s", s);
	}
	fprintf(out, "\n  Tensors\n");
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];
		int k = snprintf(s, sizeof s, "%-6s [", ggml_type_name(t->type));
		for (int d = 0; d < t->n_dims && k > 0 && (size_t)k < sizeof s; d++)
			k += snprintf(s + k, sizeof s - (size_t)k, d ? ", %" PRId64 : "%" PRId64,
			              t->ne[d]);
		fprintf(out, "    %-36.*s %s]\n", (int)t->name.n, t->name.p, s);
	}
	fputc('\n', out);
}

int cli_show_file(const char *path, bool verbose, FILE *out, char err[ERR_MSG_LEN])
{
	struct gguf_file *f = gguf_open(path, err);
	if (!f)
		return ERR_INVALID;
	model_section(out, f);
	arch_section(out, f);
	tokenizer_section(out, f);
	fprintf(out, "  File\n");
	row(out, "format", "GGUF v%u", f->version);
	row(out, "tensors", "%" PRIu64, f->n_tensors);
	row(out, "size", "%zu bytes", f->size);
	fputc('\n', out);
	if (verbose)
		verbose_sections(out, f);
	gguf_close(f);
	return 0;
}

int cmd_show(int argc, char **argv)
{
	if (!ollama_cli_is_file_arg(ollama_cli_first_positional(argc, argv)))
		return ollama_cli_show(argc, argv); /* a model name: ask the server */
	bool verbose = false, help = false;
	struct flag flags[] = {
	    {"verbose", 'v', FLAG_BOOL, &verbose, "Show every metadata key and tensor", false},
	    {"help", 'h', FLAG_BOOL, &help, "Show this help", false},
	    {NULL, 0, FLAG_BOOL, NULL, NULL, false},
	};
	const char **pos = xcalloc((size_t)(argc > 0 ? argc : 1), sizeof *pos);
	int npos = 0, rc;
	char err[ERR_MSG_LEN];
	if (flags_parse(flags, argc - 1, argv + 1, pos, &npos, err) != 0) {
		fprintf(stderr, "gpurun show: %s\n", err);
		rc = 2;
		goto out_free;
	}
	if (help || npos != 1) {
		fprintf(help ? stdout : stderr, "Usage: gpurun show FILE.gguf [flags]\n\n");
		if (help)
			flags_print_help(flags);
		rc = help ? 0 : 2;
		goto out_free;
	}
	rc = 0;
	if (cli_show_file(pos[0], verbose, stdout, err) != 0) {
		fprintf(stderr, "gpurun show: %s\n", err);
		rc = 1;
	}
out_free:
	free(pos);
	return rc;
}

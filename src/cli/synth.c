/* synth.c — `gpurun synth OUT.gguf`: flags and progress lines around
 * engine/synth.h, which writes a random-weight model of any llama shape and
 * file type (TinyLlama 1.1B by default) for benchmarks and tests. Not here:
 * the generation itself. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/flags.h"
#include "engine/synth.h"

static void progress(void *ctx, const struct quantize_progress *p)
{
	(void)ctx;
	printf("[%4d/%4d] %-28s [%5lld x %5lld] %-5s %9.2f MiB\n", p->index, p->count, p->name,
	       (long long)p->ne[0], (long long)(p->n_dims > 1 ? p->ne[1] : 1),
	       ggml_type_name(p->dst_type), p->dst_bytes / 1048576.0);
	fflush(stdout);
}

/* The type, arch and vocab flags into sp (the vocab: a count, or a GGUF
 * whose tokenizer is copied: *vf, the caller's to close). 0, or a message
 * printed and 2 (bad flags). */
static int apply(struct synth_params *sp, const char *arch, const char *type, const char *vocab,
                 struct gguf_file **vf)
{
	char err[ERR_MSG_LEN];
	const struct quantize_ftype *ft = quantize_ftype_find(type);
	if (strcmp(arch, "llama") || !ft) {
		fprintf(stderr, "gpurun synth: %s '%s'\n", ft ? "unsupported arch" : "unknown type",
		        ft ? arch : type);
		return 2;
	}
	sp->ft = ft;
	if (vocab && !str_to_i64(vocab, &sp->shape.vocab)) {
		*vf = gguf_open(vocab, err);
		if (!*vf) {
			fprintf(stderr, "gpurun synth: %s\n", err);
			return 2;
		}
		sp->shape.vocab = 32000; /* replaced by the file's count */
		sp->vocab = *vf;
	}
	return 0;
}

/* Writes the model with progress lines; the exit status. */
static int write_model(const char *out, struct synth_params *sp)
{
	char err[ERR_MSG_LEN];
	const struct synth_shape *s = &sp->shape;
	size_t total = 0;
	if (synth_shape_check(s, err) == 0)
		printf("writing %s: llama dim %lld, %lld layers, %lld/%lld heads, ffn %lld, %s, "
		       "seed %lld\n",
		       out, (long long)s->dim, (long long)s->layers, (long long)s->heads,
		       (long long)s->kv_heads, (long long)s->ffn, sp->ft->name,
		       (long long)sp->seed);
	if (synth_model_write(out, sp, &total, err)) {
		fprintf(stderr, "gpurun synth: %s\n", err);
		return 1;
	}
	printf("wrote %s: %.2f MiB of tensor data\n", out, total / 1048576.0);
	return 0;
}

int cmd_synth(int argc, char **argv)
{
	struct synth_params sp;
	synth_params_default(&sp);
	struct synth_shape *s = &sp.shape;
	const char *arch = "llama", *type = "Q4_0", *vocab = NULL;
	int64_t seed = 1, threads = 0;
	bool pure = false, help = false;
	struct flag flags[] = {
	    {"arch", 0, FLAG_STRING, &arch, "architecture (llama)", false},
	    {"type", 0, FLAG_STRING, &type, "file type, as for quantize (Q4_0)", false},
	    {"pure", 0, FLAG_BOOL, &pure, "every matrix of TYPE (no mix rules)", false},
	    {"dim", 0, FLAG_INT, &s->dim, "embedding length (2048)", false},
	    {"layers", 0, FLAG_INT, &s->layers, "blocks (22)", false},
	    {"heads", 0, FLAG_INT, &s->heads, "attention heads (32)", false},
	    {"kv-heads", 0, FLAG_INT, &s->kv_heads, "key/value heads (4)", false},
	    {"ffn", 0, FLAG_INT, &s->ffn, "feed-forward length (5632)", false},
	    {"vocab", 0, FLAG_STRING, &vocab,
	     "vocab size (32000), or a GGUF to copy the tokenizer from", false},
	    {"ctx", 0, FLAG_INT, &s->ctx, "context length (2048)", false},
	    {"seed", 0, FLAG_INT, &seed, "random seed (1)", false},
	    {"threads", 't', FLAG_INT, &threads, "threads (default: physical cores)", false},
	    {"help", 'h', FLAG_BOOL, &help, "show this help", false},
	    {NULL, 0, FLAG_BOOL, NULL, NULL, false},
	};
	const char **pos = calloc((size_t)argc + 1, sizeof *pos);
	int npos = 0, rc = 2;
	char err[ERR_MSG_LEN];
	struct gguf_file *vf = NULL;
	if (flags_parse(flags, argc - 1, argv + 1, pos, &npos, err)) {
		fprintf(stderr, "gpurun synth: %s\n", err);
	} else if (help || npos != 1) {
		fprintf(help ? stdout : stderr, "Usage: gpurun synth [flags] OUT.gguf\n\n"
		                                "Writes a random-weight llama model.\n\nFlags:\n");
		if (help)
			flags_print_help(flags);
		rc = help ? 0 : 2;
	} else if (!(rc = apply(&sp, arch, type, vocab, &vf))) {
		sp.pure = pure;
		sp.seed = (uint64_t)seed;
		sp.n_threads = threads < 0 || threads > 64 ? -1 : (int)threads;
		sp.progress = progress;
		rc = write_model(pos[0], &sp);
	}
	gguf_close(vf);
	free(pos);
	return rc;
}

/* quantize.c — `gpurun quantize IN.gguf OUT.gguf TYPE`: converts a model's
 * matrices to a llama.cpp file type (Q8_0, Q4_0, Q4_K_M, ...) as
 * llama-quantize does, printing one line per tensor and the sizes before
 * and after. The rules and the streaming conversion live in
 * engine/quantize_model.c; this file only parses flags and prints. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/flags.h"
#include "base/timeutil.h"
#include "engine/quant.h"
#include "engine/quantize_model.h"

static void usage(FILE *out, const struct flag *flags)
{
	fprintf(out, "Usage: gpurun quantize [flags] IN.gguf OUT.gguf TYPE\n\n"
	             "Converts the model's matrices; norms and vectors stay as they are.\n\n"
	             "Types:\n");
	for (const struct quantize_ftype *f = quantize_ftype_list(); f->name; f++)
		fprintf(out, "  %-8s %s\n", f->name, f->help);
	if (out == stdout) {
		fprintf(out, "\nFlags:\n");
		flags_print_help(flags);
	}
}

static void print_progress(void *ctx, const struct quantize_progress *p)
{
	(void)ctx;
	char shape[96];
	int n = snprintf(shape, sizeof shape, "%lld", (long long)p->ne[0]);
	for (int d = 1; d < p->n_dims && n < (int)sizeof shape; d++)
		n += snprintf(shape + n, sizeof shape - (size_t)n, " x %lld", (long long)p->ne[d]);
	printf("[%4d/%4d] %-32s [%-18s] %5s -> %-5s %9.2f MiB -> %9.2f MiB%s\n", p->index, p->count,
	       p->name, shape, ggml_type_name(p->src_type), ggml_type_name(p->dst_type),
	       p->src_bytes / 1048576.0, p->dst_bytes / 1048576.0,
	       p->fallback ? "  (row length fallback)" : "");
	fflush(stdout);
}

int cmd_quantize(int argc, char **argv)
{
	bool pure = false, requant = false, help = false;
	int64_t threads = 0;
	struct flag flags[] = {
	    {"pure", 0, FLAG_BOOL, &pure, "every matrix gets TYPE (no mix rules)", false},
	    {"allow-requantize", 0, FLAG_BOOL, &requant,
	     "convert tensors that are already quantized", false},
	    {"threads", 't', FLAG_INT, &threads, "threads (default: physical cores)", false},
	    {"help", 'h', FLAG_BOOL, &help, "show this help", false},
	    {NULL, 0, FLAG_BOOL, NULL, NULL, false},
	};
	const char **pos = calloc((size_t)argc + 1, sizeof *pos);
	int npos = 0, rc = 2;
	char err[ERR_MSG_LEN];
	if (flags_parse(flags, argc - 1, argv + 1, pos, &npos, err)) {
		fprintf(stderr, "gpurun quantize: %s\n", err);
		goto out;
	}
	if (help) {
		usage(stdout, flags);
		rc = 0;
		goto out;
	}
	if (npos != 3) {
		usage(stderr, flags);
		goto out;
	}
	const struct quantize_ftype *ft = quantize_ftype_find(pos[2]);
	if (!ft) {
		fprintf(stderr, "gpurun quantize: unknown type '%s'\n\n", pos[2]);
		usage(stderr, flags);
		goto out;
	}
	if (threads < 0 || threads > 64) {
		fprintf(stderr, "gpurun quantize: --threads must be 0..64\n");
		goto out;
	}
	struct quantize_options o = {ft, pure, requant, (int)threads, print_progress, NULL};
	struct quantize_result res;
	printf("quantizing %s to %s (%s%s), kernels %s\n", pos[0], pos[1], ft->name,
	       pure || ft->pure ? ", pure" : "", quant_isa_name(quant_isa_active()));
	int64_t t0 = time_mono_ns();
	if (quantize_model_file(pos[0], pos[1], &o, &res, err)) {
		fprintf(stderr, "gpurun quantize: %s\n", err);
		rc = 1;
		goto out;
	}
	double secs = (time_mono_ns() - t0) / 1e9;
	printf("model size:  %.2f MiB\nquant size:  %.2f MiB (%.1f%%)\n", res.in_bytes / 1048576.0,
	       res.out_bytes / 1048576.0, res.in_bytes ? 100.0 * res.out_bytes / res.in_bytes : 0);
	printf("%d tensors, %d converted, %d row-length fallbacks, %.1f s\n", res.n_tensors,
	       res.n_converted, res.n_fallback, secs);
	rc = 0;
out:
	free(pos);
	return rc;
}

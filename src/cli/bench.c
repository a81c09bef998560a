/* bench.c — `gpurun bench FILE.gguf -p 512 -n 128 -t 2 -r 3`: prompt
 * processing (pp: N random tokens as one prompt) and token generation (tg:
 * N tokens one at a time) in tokens per second, mean ± sd over r runs after
 * a warm-up, as llama-bench measures them, from an empty cache or (-d) one
 * already holding that many tokens (llama-bench's depth); then the
 * weight bytes one decode step reads, the peak RSS and the KV cache size.
 * `--bandwidth` measures read bandwidth (bench_read.c) instead. Not here:
 * sampling or tokenization (their cost is not the engine's speed). */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "base/flags.h"
#include "base/timeutil.h"
#include "cli/bench.h"
#include "engine/cpu_features.h"
#include "engine/engine.h"
#include "engine/quant.h"
#include "gguf/gguf.h"

struct bench_opts {
	int64_t n_prompt, n_gen, n_depth, n_threads, reps, n_batch, bw_mib;
	bool f32_kv;
};

struct stats {
	double mean, sd;
};

static struct stats stats_of(const double *v, int n)
{
	struct stats s = {0, 0};
	for (int i = 0; i < n; i++)
		s.mean += v[i] / n;
	for (int i = 0; i < n && n > 1; i++)
		s.sd += (v[i] - s.mean) * (v[i] - s.mean) / (n - 1);
	s.sd = sqrt(s.sd);
	return s;
}

/* Bytes a decode step reads: every tensor but the token embedding table
 * (one row of it is read). */
static size_t weight_bytes_per_token(const struct gguf_file *f)
{
	size_t n = 0;
	for (uint64_t i = 0; i < f->n_tensors; i++)
		if (!slice_eq(f->tensors[i].name, "token_embd.weight"))
			n += f->tensors[i].nbytes;
	return n;
}

/* Seconds of one pp run (n tokens as one prompt) or tg run (n tokens one
 * at a time), each after the cache's first `depth` tokens (the cache is
 * cut back to them; fill_depth put them there); < 0 on an engine error. */
static double run_once(struct engine_seq *s, const int32_t *toks, int64_t n, bool one_by_one,
                       int64_t depth)
{
	if (engine_seq_truncate(s, depth))
		return -1;
	toks += depth;
	int64_t t0 = time_mono_ns();
	for (int64_t i = 0; i < (one_by_one ? n : 1); i++)
		if (engine_seq_eval(s, toks + i, one_by_one ? 1 : n, NULL))
			return -1;
	return (double)(time_mono_ns() - t0) * 1e-9;
}

/* The cache filled with toks[0, depth), untimed, in prompt batches. */
static int fill_depth(struct engine_seq *s, const int32_t *toks, int64_t depth)
{
	return engine_seq_truncate(s, 0) || (depth > 0 && engine_seq_eval(s, toks, depth, NULL))
	           ? -1
	           : 0;
}

static int measure(struct engine_seq *s, const int32_t *toks, int64_t n, bool tg,
                   const struct bench_opts *o, struct stats *st)
{
	double ts[64];
	int reps = (int)o->reps;
	int64_t d = o->n_depth;
	if (fill_depth(s, toks, d) || run_once(s, toks, tg ? 1 : n, tg, d) < 0) /* warm-up */
		return -1;
	for (int r = 0; r < reps; r++) {
		double sec = run_once(s, toks, n, tg, d);
		if (sec <= 0)
			return -1;
		ts[r] = (double)n / sec;
	}
	*st = stats_of(ts, reps);
	return 0;
}

static void print_row(const char *model, const char *ftype, double size_mib, int64_t n_params,
                      int nt, const char *test, const struct stats *st)
{
	printf("| %-28s | %-6s | %10.2f MiB | %6.2f B | %7d | %6s | %9.2f ± %6.2f |\n", model,
	       ftype, size_mib, (double)n_params * 1e-9, nt, test, st->mean, st->sd);
	fflush(stdout);
}

static double peak_rss_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

/* The pp (tg: the tg) test of o, measured and printed as a row. */
static int test_row(struct engine_seq *s, const int32_t *toks, bool tg, const struct bench_opts *o,
                    const struct engine_model_info *mi, double size_mib)
{
	char test[48], at[24] = "";
	struct stats st;
	int64_t n = tg ? o->n_gen : o->n_prompt;
	if (o->n_depth > 0)
		snprintf(at, sizeof at, " @ d%lld", (long long)o->n_depth);
	snprintf(test, sizeof test, "%s%lld%s", tg ? "tg" : "pp", (long long)n, at);
	if (measure(s, toks, n, tg, o, &st))
		return -1;
	print_row(mi->name && *mi->name ? mi->name : mi->arch, mi->file_type, size_mib,
	          mi->n_params, mi->n_threads, test, &st);
	return 0;
}

static int bench_file(const char *path, const struct bench_opts *o)
{
	char err[ERR_MSG_LEN];
	struct engine_load_params lp;
	engine_load_params_default(&lp);
	lp.n_threads = (int)o->n_threads;
	lp.n_batch = (int)o->n_batch;
	lp.kv_type = o->f32_kv ? ENGINE_KV_F32 : ENGINE_KV_F16;
	struct engine_model *m = engine_model_load(path, &lp, err);
	if (!m) {
		fprintf(stderr, "gpurun bench: %s\n", err);
		return 1;
	}
	engine_model_wait_packed(m); /* measure the steady state */
	const struct engine_model_info *mi = engine_model_info(m);
	int64_t n_ctx = o->n_depth + o->n_prompt + o->n_gen;
	n_ctx = n_ctx > 0 ? n_ctx : 1;
	struct engine_seq *s = engine_seq_new(m, n_ctx, err);
	int64_t n_tok = o->n_depth + (o->n_prompt > o->n_gen ? o->n_prompt : o->n_gen);
	int32_t *toks = calloc((size_t)n_tok + 1, sizeof *toks);
	int rc = 1;
	if (!s || !toks) {
		fprintf(stderr, "gpurun bench: %s\n", s ? "out of memory" : err);
		goto out;
	}
	srand(1);
	for (int64_t i = 0; i < n_tok; i++)
		toks[i] = (int32_t)(rand() % mi->n_vocab);
	if (engine_token_bos(m) >= 0)
		toks[0] = engine_token_bos(m);
	struct stat sb;
	double size_mib = stat(path, &sb) == 0 ? (double)sb.st_size / 1048576.0 : 0;
	if ((o->n_prompt > 0 && test_row(s, toks, false, o, mi, size_mib)) ||
	    (o->n_gen > 0 && test_row(s, toks, true, o, mi, size_mib)))
		goto out_eval;
	double kv_mib = (double)mi->n_layer * (double)n_ctx * 2.0 * mi->n_head_kv * mi->head_dim *
	                (o->f32_kv ? 4 : 2) / 1048576.0;
	printf("# %s: weights read per token %.2f MiB, file %.2f MiB, KV cache %.2f MiB, "
	       "peak RSS %.2f MiB, kernels %s\n",
	       path, (double)weight_bytes_per_token(engine_model_gguf(m)) / 1048576.0, size_mib,
	       kv_mib, peak_rss_mib(), quant_isa_name(quant_isa_active()));
	rc = 0;
	goto out;
out_eval:
	fprintf(stderr, "gpurun bench: %s: evaluation failed\n", path);
out:
	free(toks);
	engine_seq_free(s);
	engine_model_free(m);
	return rc;
}

/* The thread counts the bandwidth and FMA rows measure: 1, then all. */
static int next_threads(int nt, const struct bench_opts *o)
{
	return nt == o->n_threads ? nt + 1 : o->n_threads;
}

static int bench_bandwidth(const struct bench_opts *o)
{
	size_t bytes = (size_t)o->bw_mib << 20;
	printf("| %-24s | %10s | %7s | %10s |\n", "test", "buffer", "threads", "GB/s");
	printf("| %-24s | %10s | %7s | %10s |\n", "---", "---", "---", "---");
	for (int nt = 1; nt <= o->n_threads; nt = next_threads(nt, o)) {
		double g;
		if (bench_read_bandwidth(bytes, nt, 5, &g)) {
			fprintf(stderr, "gpurun bench: cannot read %lld MiB\n",
			        (long long)o->bw_mib);
			return 1;
		}
		printf("| %-24s | %6lld MiB | %7d | %10.2f |\n", "read (best of 5)",
		       (long long)o->bw_mib, nt, g);
		fflush(stdout);
	}
	return 0;
}

static int bench_fma(const struct bench_opts *o)
{
	printf("| %-24s | %7s | %10s |\n", "test", "threads", "GFLOP/s");
	printf("| %-24s | %7s | %10s |\n", "---", "---", "---");
	for (int nt = 1; nt <= o->n_threads; nt = next_threads(nt, o)) {
		double g;
		if (bench_fma_peak(nt, 5, &g)) {
			fprintf(stderr, "gpurun bench: --fma needs a CPU with AVX-512F\n");
			return 1;
		}
		printf("| %-24s | %7d | %10.1f |\n", "f32 fma (best of 5)", nt, g);
		fflush(stdout);
	}
	return 0;
}

static int bench_amx(const struct bench_opts *o)
{
	printf("| %-24s | %7s | %10s | %14s |\n", "test", "threads", "GFLOP/s", "slowest thread");
	printf("| %-24s | %7s | %10s | %14s |\n", "---", "---", "---", "---");
	for (int nt = 1; nt <= o->n_threads; nt = next_threads(nt, o)) {
		double g, slow;
		if (bench_amx_peak(nt, 5, &g, &slow)) {
			fprintf(stderr, "gpurun bench: --amx needs a CPU with AMX-BF16 (and "
			                "GPURUN_AMX not 0)\n");
			return 1;
		}
		printf("| %-24s | %7d | %10.1f | %14.1f |\n", "amx bf16 (best of 5)", nt, g, slow);
		fflush(stdout);
	}
	return 0;
}

/* Decode's kernels streaming their weights, each right after a read pass
 * of the same size: how close each comes to the read rate. */
static int bench_kernels(const struct bench_opts *o)
{
	static const int types[] = {GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q4_K,
	                            GGML_TYPE_Q6_K};
	size_t bytes = (size_t)o->bw_mib << 20;
	printf("| %-24s | %7s | %10s | %10s | %8s |\n", "kernel (best of 5)", "threads",
	       "GB/s", "read GB/s", "vs read");
	printf("| %-24s | %7s | %10s | %10s | %8s |\n", "---", "---", "---", "---", "---");
	for (int nt = 1; nt <= o->n_threads; nt = next_threads(nt, o)) {
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
			double rd, g;
			if (bench_read_bandwidth(bytes, nt, 5, &rd) ||
			    bench_kernel_stream(types[i], bytes, nt, 5, &g)) {
				fprintf(stderr, "gpurun bench: cannot stream %lld MiB of %s\n",
				        (long long)o->bw_mib, ggml_type_name(types[i]));
				return 1;
			}
			printf("| %-24s | %7d | %10.2f | %10.2f | %7.0f%% |\n",
			       ggml_type_name(types[i]), nt, g, rd, 100 * g / rd);
			fflush(stdout);
		}
	}
	return 0;
}

static void usage(FILE *out, const struct flag *flags)
{
	fprintf(out, "Usage: gpurun bench [flags] FILE.gguf...\n"
	             "       gpurun bench --bandwidth [-t N] [--bw-size MIB]\n"
	             "       gpurun bench --fma [-t N]\n"
	             "       gpurun bench --amx [-t N]\n"
	             "       gpurun bench --kernels [-t N] [--bw-size MIB]\n\n"
	             "Prompt (pp) and generation (tg) speed in tokens/s, mean ± sd, as "
	             "llama-bench;\nor memory read bandwidth; or the f32 FMA peak; or the "
	             "AMX-BF16 tile peak;\nor decode's kernels streaming weights of each "
	             "type, against the read rate.\n");
	if (out == stdout) {
		fprintf(out, "\nFlags:\n");
		flags_print_help(flags);
	}
}

static bool opts_ok(const struct bench_opts *o)
{
	return o->n_prompt >= 0 && o->n_prompt <= 65536 && o->n_gen >= 0 && o->n_gen <= 65536 &&
	       o->n_depth >= 0 && o->n_depth <= 1 << 20 && o->n_threads >= 1 &&
	       o->n_threads <= BENCH_MAX_THREADS && o->reps >= 1 && o->reps <= 64 &&
	       o->n_batch >= 1 && o->n_batch <= 65536 && o->bw_mib >= 1 && o->bw_mib <= 1 << 20;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_opts o = {512, 128, 0, 0, 3, 512, 1024, false};
	bool help = false, bw = false, fma = false, amx = false, kern = false;
	struct flag flags[] = {
	    {"n-prompt", 'p', FLAG_INT, &o.n_prompt, "prompt tokens, 0 skips pp (512)", false},
	    {"n-gen", 'n', FLAG_INT, &o.n_gen, "generated tokens, 0 skips tg (128)", false},
	    {"threads", 't', FLAG_INT, &o.n_threads, "threads (physical cores)", false},
	    {"n-depth", 'd', FLAG_INT, &o.n_depth, "tokens already in the cache (0)", false},
	    {"repetitions", 'r', FLAG_INT, &o.reps, "runs of each test (3)", false},
	    {"batch-size", 'b', FLAG_INT, &o.n_batch, "prompt rows per forward pass (512)", false},
	    {"f32-kv", 0, FLAG_BOOL, &o.f32_kv, "F32 KV cache instead of F16", false},
	    {"bandwidth", 0, FLAG_BOOL, &bw, "measure memory read bandwidth", false},
	    {"bw-size", 0, FLAG_INT, &o.bw_mib, "bandwidth buffer in MiB (1024)", false},
	    {"fma", 0, FLAG_BOOL, &fma, "measure the f32 FMA peak (AVX-512)", false},
	    {"amx", 0, FLAG_BOOL, &amx, "measure the AMX-BF16 tile peak, per thread too", false},
	    {"kernels", 0, FLAG_BOOL, &kern, "measure decode's kernels streaming each type", false},
	    {"help", 'h', FLAG_BOOL, &help, "show this help", false},
	    {NULL, 0, FLAG_BOOL, NULL, NULL, false},
	};
	const char **pos = calloc((size_t)argc + 1, sizeof *pos);
	int npos = 0, rc = 2;
	char err[ERR_MSG_LEN];
	if (flags_parse(flags, argc - 1, argv + 1, pos, &npos, err)) {
		fprintf(stderr, "gpurun bench: %s\n", err);
		goto out;
	}
	if (o.n_threads == 0)
		o.n_threads = cpu_features_get()->n_physical;
	if (help || (!bw && !fma && !amx && !kern && npos < 1) || !opts_ok(&o)) {
		if (!help && !opts_ok(&o))
			fprintf(stderr, "gpurun bench: a flag is out of range\n");
		usage(help ? stdout : stderr, flags);
		rc = help ? 0 : 2;
		goto out;
	}
	if (bw || fma || amx || kern) {
		rc = bw ? bench_bandwidth(&o) : 0;
		if (!rc && kern)
			rc = bench_kernels(&o);
		if (!rc && fma)
			rc = bench_fma(&o);
		if (!rc && amx)
			rc = bench_amx(&o);
		goto out;
	}
	printf("| %-28s | %-6s | %14s | %8s | %7s | %6s | %19s |\n", "model", "type", "size",
	       "params", "threads", "test", "t/s");
	printf("| %-28s | %-6s | %14s | %8s | %7s | %6s | %19s |\n", "---", "---",
	       "---:", "---:", "---:", "---:", "---:");
	rc = 0;
	for (int i = 0; i < npos && !rc; i++)
		rc = bench_file(pos[i], &o);
out:
	free(pos);
	return rc;
}

/* bench_read.c — a STREAM-style read-bandwidth kernel for `gpurun bench
 * --bandwidth`: every thread sums its own slice of one large buffer (far
 * larger than the caches) with independent vector accumulators (64-byte
 * loads where the CPU has AVX-512: bench_read_avx512.c), the access pattern
 * of a matrix-vector product streaming its weights. Best of several passes. Not here: writes or
 * copies (STREAM's copy/triad), which decode never does to its weights.
 * Also `gpurun bench --fma`: the f32 FMA peak, the same threads and passes
 * over chains in registers (the ceiling of an FMA engine's prefill); and
 * `--amx`: the AMX-BF16 tile peak, the same way, per thread too. */
#include "cli/bench.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/timeutil.h"
#include "engine/cpu_features.h"
#include "engine/quant.h"

typedef float v16f __attribute__((vector_size(64), aligned(64)));
typedef float v4f __attribute__((vector_size(16)));

enum rd_kind { RD_READ, RD_FMA, RD_AMX, RD_GEMM };

/* RD_GEMM: decode's matrix-vector product over rows of one type, as the
 * engine runs it (the packed form where the type has one). */
struct gemm_job {
	const struct quant_traits *qt;
	quant_gemm_fn fn; /* NULL: quant_gemm */
	const uint8_t *w; /* n_rows rows of bx bytes */
	size_t bx;
	int64_t n; /* elements per row */
	const void *act;
	size_t ba;
};

struct reader {
	enum rd_kind kind;
	const v16f *p; /* RD_READ: the slice */
	size_t n;      /* vectors in the slice, or rounds, or (RD_GEMM) rows */
	size_t r0;     /* RD_GEMM: the slice's first row */
	const struct gemm_job *g;
	pthread_barrier_t *start;
	int64_t start_ns, end_ns; /* this thread's own work */
	float sink;               /* keeps the sums alive */
};

/* 16-byte vectors (plain SSE2 on x86-64, so no ISA variant is needed: the
 * load ports outrun memory either way), eight accumulators in registers, two
 * 64-byte lines per iteration. */
static float sum_slice(const v16f *p, size_t n)
{
	const v4f *q = (const v4f *)p;
	v4f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
	for (size_t i = 0; i + 8 <= n * 4; i += 8) {
		a0 += q[i];
		a1 += q[i + 1];
		a2 += q[i + 2];
		a3 += q[i + 3];
		a4 += q[i + 4];
		a5 += q[i + 5];
		a6 += q[i + 6];
		a7 += q[i + 7];
	}
	a0 += a1 + a2 + a3 + a4 + a5 + a6 + a7;
	return a0[0] + a0[1] + a0[2] + a0[3];
}

/* Rows [r0, r0 + n) of g against its one activation row, 256 rows a call
 * (a multiple of 16: whole stripes of the packed form); a value to keep. */
static float gemm_slice(const struct gemm_job *g, size_t r0, size_t n)
{
	float out[256], sum = 0;
	for (size_t r = r0; r < r0 + n; r += 256) {
		int64_t k = (int64_t)(r0 + n - r < 256 ? r0 + n - r : 256);
		if (g->fn)
			g->fn(g->n, k, 1, out, (size_t)k, g->w + r * g->bx, g->bx, g->act, g->ba);
		else /* a kernel set without its own gemm: quant's loop */
			quant_gemm(g->qt, g->n, k, 1, out, (size_t)k, g->w + r * g->bx, g->bx, g->act,
			           g->ba);
		sum += out[0];
	}
	return sum;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	bool wide = cpu_features_get()->avx512f;
	pthread_barrier_wait(r->start);
	r->start_ns = time_mono_ns();
	if (r->kind == RD_FMA)
		r->sink += bench__fma_avx512(r->n);
	else if (r->kind == RD_AMX)
		r->sink += bench__amx_bf16(r->n);
	else if (r->kind == RD_GEMM)
		r->sink += gemm_slice(r->g, r->r0, r->n);
	else
		r->sink += wide ? bench__sum_avx512(r->p, r->n) : sum_slice(r->p, r->n);
	r->end_ns = time_mono_ns();
	return NULL;
}

/* One pass of n_threads readers over buf (RD_READ), or of n_vec rounds
 * each; seconds from the first reader's start to the last reader's end, and each
 * thread's own seconds in each (when not NULL). */
static double pass_job(enum rd_kind kind, const v16f *buf, size_t n_vec, const struct gemm_job *g,
                       int n_threads, float *sink, double *each)
{
	struct reader rd[BENCH_MAX_THREADS];
	pthread_t th[BENCH_MAX_THREADS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)n_threads + 1);
	for (int t = 0; t < n_threads; t++) {
		size_t a = n_vec * (size_t)t / (size_t)n_threads;
		size_t b = n_vec * (size_t)(t + 1) / (size_t)n_threads;
		if (kind == RD_GEMM) /* whole stripes of 16 rows */
			a = a / 16 * 16, b = t == n_threads - 1 ? n_vec : b / 16 * 16;
		rd[t] = kind == RD_READ   ? (struct reader){.kind = kind, .p = buf + a, .n = b - a,
		                                            .start = &start}
		        : kind == RD_GEMM ? (struct reader){.kind = kind, .n = b - a, .r0 = a, .g = g,
		                                            .start = &start}
		                          : (struct reader){.kind = kind, .n = n_vec, .start = &start};
		pthread_create(&th[t], NULL, reader_main, &rd[t]);
	}
	pthread_barrier_wait(&start);
	int64_t t0 = 0, t1 = 0;
	for (int t = 0; t < n_threads; t++) {
		pthread_join(th[t], NULL);
		/* from the first thread's start: this thread may run only after
		 * the readers (as many readers as cores) */
		t0 = t == 0 || rd[t].start_ns < t0 ? rd[t].start_ns : t0;
		t1 = rd[t].end_ns > t1 ? rd[t].end_ns : t1;
		*sink += rd[t].sink;
		if (each)
			each[t] = (double)(rd[t].end_ns - rd[t].start_ns) * 1e-9;
	}
	pthread_barrier_destroy(&start);
	return (double)(t1 - t0) * 1e-9;
}

static double pass(enum rd_kind kind, const v16f *buf, size_t n_vec, int n_threads, float *sink,
                   double *each)
{
	return pass_job(kind, buf, n_vec, NULL, n_threads, sink, each);
}

/* n bytes on 2 MiB boundaries in transparent huge pages (where the kernel
 * gives them), as the engine keeps its packed weights and its KV cache: a
 * read of 4 KiB pages measured 1-3% slower here, which would have lowered
 * the decode limit. free() releases it. */
static void *huge_alloc(size_t n)
{
	const size_t huge = (size_t)2 << 20;
	n = (n + huge - 1) / huge * huge;
	void *p = aligned_alloc(huge, n);
	if (p)
		(void)madvise(p, n, MADV_HUGEPAGE);
	return p;
}

int bench_read_bandwidth(size_t bytes, int n_threads, int passes, double *gbps)
{
	if (n_threads < 1 || n_threads > BENCH_MAX_THREADS || passes < 1 || bytes < 4096)
		return -1;
	size_t n_vec = bytes / sizeof(v16f);
	v16f *buf = huge_alloc(n_vec * sizeof(v16f));
	if (!buf)
		return -1;
	/* touch every page, so the passes read memory, not the zero page */
	for (size_t i = 0; i < n_vec; i++)
		for (int k = 0; k < 16; k++)
			buf[i][k] = (float)((i + (size_t)k) & 7);
	float sink = 0;
	double best = 0;
	for (int r = 0; r < passes; r++) {
		double s = pass(RD_READ, buf, n_vec, n_threads, &sink, NULL);
		double g = (double)(n_vec * sizeof(v16f)) / s * 1e-9;
		best = g > best ? g : best;
	}
	free(buf);
	*gbps = sink == -1.0f ? 0 : best; /* never true: the sums are used */
	return 0;
}

int bench_fma_peak(int n_threads, int passes, double *gflops)
{
	if (n_threads < 1 || n_threads > BENCH_MAX_THREADS || passes < 1 ||
	    !cpu_features_get()->avx512f)
		return -1;
	const size_t rounds = 64u << 20; /* about 0.15 s a pass at 2 FMAs a cycle */
	float sink = 0;
	double best = 0;
	for (int r = 0; r < passes; r++) {
		double s = pass(RD_FMA, NULL, rounds, n_threads, &sink, NULL);
		double g = (double)rounds * 12 * 16 * 2 * n_threads / s * 1e-9;
		best = g > best ? g : best;
	}
	*gflops = sink == -1.0f ? 0 : best; /* never true: the sums are used */
	return 0;
}

int bench_amx_peak(int n_threads, int passes, double *gflops, double *slowest)
{
	if (n_threads < 1 || n_threads > BENCH_MAX_THREADS || passes < 1 || !quant_amx_bf16())
		return -1;
	const size_t rounds = 4u << 20; /* about 0.12 s a pass at 4 products in 28 ns */
	const double flop = (double)rounds * 4 * 16384;
	float sink = 0;
	double best = 0, best_slow = 0, each[BENCH_MAX_THREADS];
	for (int r = 0; r < passes; r++) {
		pass(RD_AMX, NULL, rounds, n_threads, &sink, each);
		double all = 0, slow = 0;
		for (int t = 0; t < n_threads; t++) {
			double g = flop / each[t] * 1e-9;
			all += g;
			slow = t == 0 || g < slow ? g : slow;
		}
		if (all > best)
			best = all, best_slow = slow;
	}
	*gflops = sink == -1.0f ? 0 : best; /* never true: the sums are used */
	*slowest = best_slow;
	return 0;
}

int bench_kernel_stream(int type, size_t bytes, int n_threads, int passes, double *gbps)
{
	const struct quant_traits *qt = quant_get(type);
	const int64_t n = 2048; /* a row of the 1.1B shape's attention */
	size_t bx = quant_row_size(type, n);
	if (!qt || !bx || n_threads < 1 || n_threads > BENCH_MAX_THREADS ||
	    passes < 1)
		return -1;
	struct gemm_job g = {.qt = qt, .bx = bx, .n = n, .fn = qt->gemm};
	size_t n_rows = bytes / bx / 256 * 256;
	if (n_rows < 256)
		return -1;
	float *x = malloc((size_t)n * 16 * sizeof *x);
	uint8_t *rows = malloc(16 * bx), *w = huge_alloc(n_rows * bx);
	const size_t ba = quant_act_bytes(qt, n);
	void *act = aligned_alloc(64, (ba + 63) / 64 * 64);
	int rc = -1;
	if (!x || !rows || !w || !act)
		goto out;
	/* 16 rows of small varied weights, one stripe copied over the buffer
	 * (every page touched) */
	for (int64_t i = 0; i < 16 * n; i++)
		x[i] = (float)((i * 7919) % 29 - 14) * 0.01f;
	for (int r = 0; r < 16; r++)
		qt->quantize(x + r * n, rows + (size_t)r * bx, n);
	if (qt->pack16 && qt->gemm_packed) {
		qt->pack16(rows, bx, w);
		g.fn = qt->gemm_packed;
	} else {
		memcpy(w, rows, 16 * bx);
	}
	for (size_t r = 16; r < n_rows; r += 16)
		memcpy(w + r * bx, w, 16 * bx);
	quant_act_prepare(qt, x, act, n);
	g.w = w, g.act = act, g.ba = ba;
	float sink = 0;
	double best = 0;
	for (int r = 0; r < passes; r++) {
		double s = pass_job(RD_GEMM, NULL, n_rows, &g, n_threads, &sink, NULL);
		double v = (double)(n_rows * bx) / s * 1e-9;
		best = v > best ? v : best;
	}
	*gbps = sink == -1.0f ? 0 : best; /* never true: the sums are used */
	rc = 0;
out:
	free(x);
	free(rows);
	free(w);
	free(act);
	return rc;
}

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

#include "base/timeutil.h"
#include "engine/cpu_features.h"
#include "engine/quant.h"

typedef float v16f __attribute__((vector_size(64), aligned(64)));
typedef float v4f __attribute__((vector_size(16)));

enum rd_kind { RD_READ, RD_FMA, RD_AMX };

struct reader {
	enum rd_kind kind;
	const v16f *p; /* RD_READ: the slice */
	size_t n;      /* vectors in the slice, or rounds */
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
	else
		r->sink += wide ? bench__sum_avx512(r->p, r->n) : sum_slice(r->p, r->n);
	r->end_ns = time_mono_ns();
	return NULL;
}

/* One pass of n_threads readers over buf (RD_READ), or of n_vec rounds
 * each; seconds from the common start to the last reader's end, and each
 * thread's own seconds in each (when not NULL). */
static double pass(enum rd_kind kind, const v16f *buf, size_t n_vec, int n_threads, float *sink,
                   double *each)
{
	struct reader rd[BENCH_MAX_THREADS];
	pthread_t th[BENCH_MAX_THREADS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)n_threads + 1);
	for (int t = 0; t < n_threads; t++) {
		size_t a = n_vec * (size_t)t / (size_t)n_threads;
		size_t b = n_vec * (size_t)(t + 1) / (size_t)n_threads;
		rd[t] = kind == RD_READ
		            ? (struct reader){.kind = kind, .p = buf + a, .n = b - a, .start = &start}
		            : (struct reader){.kind = kind, .n = n_vec, .start = &start};
		pthread_create(&th[t], NULL, reader_main, &rd[t]);
	}
	pthread_barrier_wait(&start);
	int64_t t0 = time_mono_ns(), t1 = t0;
	for (int t = 0; t < n_threads; t++) {
		pthread_join(th[t], NULL);
		t1 = rd[t].end_ns > t1 ? rd[t].end_ns : t1;
		*sink += rd[t].sink;
		if (each)
			each[t] = (double)(rd[t].end_ns - rd[t].start_ns) * 1e-9;
	}
	pthread_barrier_destroy(&start);
	return (double)(t1 - t0) * 1e-9;
}

int bench_read_bandwidth(size_t bytes, int n_threads, int passes, double *gbps)
{
	if (n_threads < 1 || n_threads > BENCH_MAX_THREADS || passes < 1 || bytes < 4096)
		return -1;
	size_t n_vec = bytes / sizeof(v16f);
	v16f *buf = aligned_alloc(4096, n_vec * sizeof(v16f));
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

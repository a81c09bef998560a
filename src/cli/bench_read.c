/* bench_read.c — a STREAM-style read-bandwidth kernel for `gpurun bench
 * --bandwidth`: every thread sums its own slice of one large buffer (far
 * larger than the caches) with independent vector accumulators (64-byte
 * loads where the CPU has AVX-512: bench_read_avx512.c), the access pattern
 * of a matrix-vector product streaming its weights. Best of several passes. Not here: writes or
 * copies (STREAM's copy/triad), which decode never does to its weights.
 * Also `gpurun bench --fma`: the f32 FMA peak, the same threads and passes
 * over chains in registers (the ceiling of an FMA engine's prefill). */
#include "cli/bench.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/timeutil.h"
#include "engine/cpu_features.h"

typedef float v16f __attribute__((vector_size(64), aligned(64)));
typedef float v4f __attribute__((vector_size(16)));

struct reader {
	const v16f *p; /* NULL: n FMA rounds instead of a slice */
	size_t n;      /* vectors in this thread's slice */
	pthread_barrier_t *start;
	int64_t end_ns; /* when this thread finished its slice */
	float sink;     /* keeps the sums alive */
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
	if (!r->p)
		r->sink += bench__fma_avx512(r->n);
	else
		r->sink += wide ? bench__sum_avx512(r->p, r->n) : sum_slice(r->p, r->n);
	r->end_ns = time_mono_ns();
	return NULL;
}

/* One pass of n_threads readers over buf (NULL: n_vec FMA rounds each);
 * seconds from the common start to the last reader's end. */
static double pass(const v16f *buf, size_t n_vec, int n_threads, float *sink)
{
	struct reader rd[BENCH_MAX_THREADS];
	pthread_t th[BENCH_MAX_THREADS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)n_threads + 1);
	for (int t = 0; t < n_threads; t++) {
		size_t a = n_vec * (size_t)t / (size_t)n_threads;
		size_t b = n_vec * (size_t)(t + 1) / (size_t)n_threads;
		rd[t] = buf ? (struct reader){.p = buf + a, .n = b - a, .start = &start}
		            : (struct reader){.p = NULL, .n = n_vec, .start = &start};
		pthread_create(&th[t], NULL, reader_main, &rd[t]);
	}
	pthread_barrier_wait(&start);
	int64_t t0 = time_mono_ns(), t1 = t0;
	for (int t = 0; t < n_threads; t++) {
		pthread_join(th[t], NULL);
		t1 = rd[t].end_ns > t1 ? rd[t].end_ns : t1;
		*sink += rd[t].sink;
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
		double s = pass(buf, n_vec, n_threads, &sink);
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
		double s = pass(NULL, rounds, n_threads, &sink);
		double g = (double)rounds * 12 * 16 * 2 * n_threads / s * 1e-9;
		best = g > best ? g : best;
	}
	*gflops = sink == -1.0f ? 0 : best; /* never true: the sums are used */
	return 0;
}

/* bench.h — helpers of `gpurun bench` (src/cli/bench*.c), private to the CLI. */
#ifndef GPURUN_CLI_BENCH_H
#define GPURUN_CLI_BENCH_H

#include <stddef.h>

#define BENCH_MAX_THREADS 256

/* Read bandwidth of n_threads threads summing one buffer of `bytes` (split
 * evenly), best of `passes`, in GB/s (1e9 bytes). -1 on bad arguments or no
 * memory. */
int bench_read_bandwidth(size_t bytes, int n_threads, int passes, double *gbps);
/* Sum of n_lines 64-byte lines (64-byte aligned) with 64-byte loads
 * (bench_read_avx512.c; only on CPUs with AVX-512F). */
float bench__sum_avx512(const void *p, size_t n_lines);

#endif

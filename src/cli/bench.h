/* bench.h — helpers of `gpurun bench` (src/cli/bench*.c), private to the CLI. */
#ifndef GPURUN_CLI_BENCH_H
#define GPURUN_CLI_BENCH_H

#include <stddef.h>

#define BENCH_MAX_THREADS 256

/* Read bandwidth of n_threads threads summing one buffer of `bytes` (split
 * evenly), best of `passes`, in GB/s (1e9 bytes). -1 on bad arguments or no
 * memory. */
int bench_read_bandwidth(size_t bytes, int n_threads, int passes, double *gbps);

#endif

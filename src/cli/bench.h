/* bench.h — helpers of `gpurun bench` (src/cli/bench*.c), private to the CLI. */
#ifndef GPURUN_CLI_BENCH_H
#define GPURUN_CLI_BENCH_H

#include <stddef.h>

#define BENCH_MAX_THREADS 256

/* Read bandwidth of n_threads threads summing one buffer of `bytes` (split
 * evenly), best of `passes`, in GB/s (1e9 bytes). -1 on bad arguments or no
 * memory. */
int bench_read_bandwidth(size_t bytes, int n_threads, int passes, double *gbps);
/* Peak f32 multiply-add rate of n_threads threads, each running `passes`
 * timed rounds of independent AVX-512 FMA chains in registers (no memory),
 * best round, in GFLOP/s (an FMA is 2 FLOP). -1 on bad arguments or
 * without AVX-512F. */
int bench_fma_peak(int n_threads, int passes, double *gflops);
/* Peak AMX-BF16 tile rate of n_threads threads, each running `passes`
 * timed rounds of independent TDPBF16PS products on tiles in registers (no
 * memory), best round: in GFLOP/s (a 16 x 16 x 32 product is 16384 FLOP),
 * all threads together and the slowest thread alone. A core whose tile
 * unit another tenant's thread shares (a hyperthread of the host) shows as
 * a slow thread: the engine's F16 and Q4_0/Q8_0 prefill run on these
 * units. -1 on bad arguments or without AMX-BF16 granted (GPURUN_AMX=0
 * included). */
int bench_amx_peak(int n_threads, int passes, double *gflops, double *slowest);
/* Read rate of decode's kernel for weights of `type` (enum ggml_type):
 * n_threads threads each running quant's gemm (gemm_packed over the packed
 * form where the type has one, as the engine decodes) over its share of
 * `bytes` of rows of 2048 elements against one prepared activation row,
 * best of `passes`, in GB/s of weights. -1 for a type without gemm, bad
 * arguments or no memory. */
int bench_kernel_stream(int type, size_t bytes, int n_threads, int passes, double *gbps);
/* Sum of n_lines 64-byte lines (64-byte aligned) with 64-byte loads
 * (bench_read_avx512.c; only on CPUs with AVX-512F). */
float bench__sum_avx512(const void *p, size_t n_lines);
/* iters x 12 FMAs of 16 lanes (bench_read_avx512.c); a value to keep. */
float bench__fma_avx512(size_t iters);
/* iters x 4 TDPBF16PS (bench_read_avx512.c) on this thread's tiles,
 * configured by quant_amx_bf16_tiles; 0 without AMX-BF16. */
float bench__amx_bf16(size_t iters);

#endif

/* cpu_features.h — what this x86-64 CPU (and the OS, through XCR0) lets us
 * run, read once with cpuid, plus the number of physical cores. Kernel
 * dispatch (quant.c) and the thread pool use it. On other architectures
 * every SIMD flag is false. */
#ifndef GPURUN_ENGINE_CPU_FEATURES_H
#define GPURUN_ENGINE_CPU_FEATURES_H

#include <stdbool.h>

struct cpu_features {
	bool avx2, fma, f16c;
	bool avx512f, avx512bw, avx512vl, avx512dq;
	bool avx512vnni, avx512bf16;
	bool amx_int8;  /* AMX-TILE and AMX-INT8 (the OS must still grant the tile state) */
	bool amx_bf16;  /* AMX-TILE and AMX-BF16 (likewise) */
	int n_logical;  /* online logical CPUs, >= 1 */
	int n_physical; /* distinct cores (SMT siblings counted once), >= 1 */
};

/* Detected on first call (thread-safe); never NULL. */
const struct cpu_features *cpu_features_get(void);

/* False when GPURUN_ISA=scalar|avx2 caps every SIMD path below AVX-512:
 * the kernel sets (quant.h), ops and attention then run what a CPU without
 * AVX-512 runs (benchmarks, tests). The one place that reads it. */
bool cpu_features_avx512_wanted(void);
/* The same for AVX2: false when GPURUN_ISA=scalar. */
bool cpu_features_avx2_wanted(void);

#endif

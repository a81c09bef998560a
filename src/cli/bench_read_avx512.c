/* bench_read_avx512.c — the read-bandwidth kernel of bench_read.c with
 * 64-byte loads: one load per cache line keeps more lines in flight than
 * 16-byte loads do (about 40% more bandwidth measured on Sapphire Rapids),
 * so the limit the decode benchmark is held to is the memory's, not the
 * kernel's; and the FMA peak kernel. Built with the AVX-512 flags;
 * bench_read.c calls them only when cpuid says so. */
#include "cli/bench.h"

#include <immintrin.h>

float bench__sum_avx512(const void *p, size_t n_lines)
{
	const float *f = p;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	size_t i = 0;
	for (; i + 4 <= n_lines; i += 4) {
		a0 = _mm512_add_ps(a0, _mm512_load_ps(f + 16 * i));
		a1 = _mm512_add_ps(a1, _mm512_load_ps(f + 16 * i + 16));
		a2 = _mm512_add_ps(a2, _mm512_load_ps(f + 16 * i + 32));
		a3 = _mm512_add_ps(a3, _mm512_load_ps(f + 16 * i + 48));
	}
	for (; i < n_lines; i++)
		a0 = _mm512_add_ps(a0, _mm512_load_ps(f + 16 * i));
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

float bench__fma_avx512(size_t iters)
{
	/* twelve independent chains: more than FMA latency x ports */
	__m512 a[12];
	const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
	for (int j = 0; j < 12; j++)
		a[j] = _mm512_set1_ps(1.0f + (float)j * 1e-3f);
	for (size_t i = 0; i < iters; i++) {
#pragma GCC unroll 12
		for (int j = 0; j < 12; j++)
			a[j] = _mm512_fmadd_ps(a[j], m, c);
	}
	__m512 s = a[0];
	for (int j = 1; j < 12; j++)
		s = _mm512_add_ps(s, a[j]);
	return _mm512_reduce_add_ps(s);
}

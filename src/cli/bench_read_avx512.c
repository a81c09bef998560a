/* bench_read_avx512.c — the read-bandwidth kernel of bench_read.c with
 * 64-byte loads: one load per cache line keeps more lines in flight than
 * 16-byte loads do (about 40% more bandwidth measured on Sapphire Rapids),
 * so the limit the decode benchmark is held to is the memory's, not the
 * kernel's; the FMA peak kernel; and the AMX-BF16 peak kernel, on the
 * engine's tile configuration. Built with the AVX-512 flags (AMX by a
 * target attribute); bench_read.c calls them only when cpuid (and, for
 * AMX, the OS) says so. */
#include "cli/bench.h"

#include <immintrin.h>
#include <stdint.h>

#include "engine/quant.h"

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

#define AMX_BF16 __attribute__((target("amx-tile,amx-bf16")))

AMX_BF16 float bench__amx_bf16(size_t iters)
{
	_Alignas(64) uint16_t in[16 * 32];
	_Alignas(64) float out[16 * 16];
	if (!quant_amx_bf16_tiles())
		return 0;
	for (int i = 0; i < 16 * 32; i++)
		in[i] = 0x3a83; /* bf16 1e-3: the sums stay finite */
	_tile_loadd(4, in, 64);
	_tile_loadd(5, in, 64);
	_tile_loadd(6, in, 64);
	_tile_loadd(7, in, 64);
	_tile_zero(0);
	_tile_zero(1);
	_tile_zero(2);
	_tile_zero(3);
	/* four accumulators: more than the product's latency over its rate */
	for (size_t i = 0; i < iters; i++) {
		_tile_dpbf16ps(0, 4, 6);
		_tile_dpbf16ps(1, 4, 7);
		_tile_dpbf16ps(2, 5, 6);
		_tile_dpbf16ps(3, 5, 7);
	}
	_tile_stored(0, out, 64);
	return out[0];
}

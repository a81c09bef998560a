/* quant_avx2.h — what the avx2 set's gemm kernels (quant_gemm_avx2.c,
 * quant_gemmk23_avx2.c) share: the decode prefetch of a packed stripe and
 * small vector steps. Include only from files built with the AVX2 flags. */
#ifndef GPURUN_ENGINE_QUANT_AVX2_H
#define GPURUN_ENGINE_QUANT_AVX2_H

#include <immintrin.h>

#include "engine/quant_internal.h"

#define AI static inline __attribute__((always_inline))

/* Decode's prefetch in a packed stripe (as the avx512 set's
 * r16_prefetch_2): each line 8 KiB ahead into L2 and 2 KiB ahead into L1. */
#define PF_FAR  8192
#define PF_NEAR 2048

AI void prefetch_2(const void *p)
{
	_mm_prefetch((const char *)p + PF_FAR, _MM_HINT_T1);
	_mm_prefetch((const char *)p + PF_NEAR, _MM_HINT_T0);
}

/* The activation dword at p in every lane. */
AI __m256i bc(const void *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return _mm256_set1_epi32(v);
}

AI __m256i and8(__m256i v, int m)
{
	return _mm256_and_si256(v, _mm256_set1_epi8((char)m));
}

AI __m256i and32(__m256i v, int m)
{
	return _mm256_and_si256(v, _mm256_set1_epi32(m));
}

AI __m256i load(const uint8_t *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

/* The low 16 bits of each lane (f16) as f32. */
AI __m256 f16_lanes(__m256i v)
{
	v = and32(v, 0xFFFF);
	return _mm256_cvtph_ps(
	    _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

#endif

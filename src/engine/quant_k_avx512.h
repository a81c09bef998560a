/* quant_k_avx512.h — what the K-quant gemm kernels of the avx512 set
 * (quant_gemmk_avx512.c: Q4_K, Q5_K, Q6_K; quant_gemmk23_avx512.c: Q2_K,
 * Q3_K) share: their prepared activations (struct actk, one per
 * super-block) and the integer steps on r16 vectors. Include only from
 * files built with the AVX-512 flags. */
#ifndef GPURUN_ENGINE_QUANT_K_AVX512_H
#define GPURUN_ENGINE_QUANT_K_AVX512_H

#include "engine/quant_r16_avx512.h"

/* quant.h act_bytes / act_prepare of the K-quants: struct actk rows
 * (quant_gemmk_avx512.c). */
size_t quant__actk_bytes(int64_t n);
void quant__actk_prepare_avx512(const float *x, void *vy, int64_t n);

R16_AI __m512i srl(__m512i v, int n)
{
	return _mm512_srli_epi32(v, (unsigned)n);
}

R16_AI __m512i and_(__m512i v, int m)
{
	return _mm512_and_si512(v, _mm512_set1_epi32(m));
}

/* Sum of 4 code dwords times 4 activation dwords starting at dword k0. */
R16_AI __m512i dot4(const __m512i *c, const struct actk *a, int k0)
{
	__m512i p = _mm512_setzero_si512();
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++)
		p = r16_dpbusd_bc(p, c[k], a->q.qs + 4 * (k0 + k));
	return p;
}

/* vpshufb control: in each dword the bytes i, j, k, l (0x80: zero). */
R16_AI __m512i dw_shuffle(uint32_t ijkl)
{
	return _mm512_add_epi32(_mm512_set1_epi32((int)ijkl),
	                        _mm512_setr_epi32(0, 0x04040404, 0x08080808, 0x0c0c0c0c, 0,
	                                          0x04040404, 0x08080808, 0x0c0c0c0c, 0, 0x04040404,
	                                          0x08080808, 0x0c0c0c0c, 0, 0x04040404, 0x08080808,
	                                          0x0c0c0c0c));
}

/* A partial P (|P| < 2^23) as the int16 pair (b, P >> 8), b its low byte:
 * times a scale pair (s, 256 s) by vpdpwssd, s P exactly. */
R16_AI __m512i pair_split(__m512i p)
{
	return _mm512_shuffle_epi8(p, dw_shuffle(0x02018000u));
}

#endif

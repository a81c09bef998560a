/* exp.h — the engine's e^x for softmax and SiLU, one algorithm in two
 * forms that give the same float for every input: ops_expf (here, plain
 * C) and exp16_avx512 (exp_avx512.h, 16 lanes). x is clamped to [-104,
 * 89] (below, the result rounds to 0; above, it is inf); n = x / ln 2
 * rounded to an integer; r = x - n ln 2 by two fused multiply-adds (ln 2
 * split in two floats); e^r by its degree-7 Taylor polynomial in float
 * (|r| <= 0.35: truncation below 0.1 ulp); then p * 2^n, rounded once.
 * Within about 2 ulp of e^x, as llama.cpp's SIMD expf. NaN stays NaN. */
#ifndef GPURUN_ENGINE_EXP_H
#define GPURUN_ENGINE_EXP_H

#include <math.h>

#define EXP_LO     -104.0f
#define EXP_HI     89.0f
#define EXP_LOG2E  1.44269504088896341f
#define EXP_LN2_HI 0.693147182464599609375f /* the float nearest ln 2 */
#define EXP_LN2_LO -1.904654323e-9f         /* ln 2 - EXP_LN2_HI */
/* 1/k!, k = 7 down to 0 */
#define EXP_C7 (1.0f / 5040.0f)
#define EXP_C6 (1.0f / 720.0f)
#define EXP_C5 (1.0f / 120.0f)
#define EXP_C4 (1.0f / 24.0f)
#define EXP_C3 (1.0f / 6.0f)
#define EXP_C2 0.5f

static inline float ops_expf(float x)
{
	if (isnan(x))
		return x;
	float c = x > EXP_LO ? x : EXP_LO;
	c = c < EXP_HI ? c : EXP_HI;
	const float n = rintf(c * EXP_LOG2E);
	float r = fmaf(-n, EXP_LN2_HI, c);
	r = fmaf(-n, EXP_LN2_LO, r);
	float p = fmaf(EXP_C7, r, EXP_C6);
	p = fmaf(p, r, EXP_C5);
	p = fmaf(p, r, EXP_C4);
	p = fmaf(p, r, EXP_C3);
	p = fmaf(p, r, EXP_C2);
	p = fmaf(p, r, 1.0f);
	p = fmaf(p, r, 1.0f);
	return ldexpf(p, (int)n);
}

#endif

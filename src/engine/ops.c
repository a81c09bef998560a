/* ops.c — the elementwise and per-head operations of the transformer block:
 * RMSNorm, RoPE (normal and NeoX modes, linear scaling, frequency factors),
 * SiLU/GELU gating and soft-capping.
 * RMSNorm, SiLU, RoPE and the residual add have AVX-512 and AVX2 variants
 * (ops_avx512.c, ops_avx2.c) picked by cpuid. SiLU's e^x is exp.h's, as the softmax's.
 * The arithmetic follows ggml's CPU code (llama.cpp c392e509) step for step
 * where the order changes results: RMSNorm and softmax sums in double, RoPE
 * angles by repeated multiplication, GELU through an F16 lookup table. */
#include "engine/engine_internal.h"

#include <math.h>
#include <pthread.h>

#include "engine/cpu_features.h"
#include "engine/exp.h"

static void (*rmsnorm_fn)(float *y, const float *x, const float *w, int64_t n, float eps);
static void (*silu_mul_fn)(float *g, const float *u, int64_t n);
static void (*add_fn)(float *x, const float *y, int64_t n);
static void (*rope_fn)(float *x, const float *cs, int n_rot, enum rope_mode mode);
static pthread_once_t pick_once = PTHREAD_ONCE_INIT;

static void rmsnorm_portable(float *y, const float *x, const float *w, int64_t n, float eps)
{
	double sum = 0.0;
	for (int64_t i = 0; i < n; i++)
		sum += (double)(x[i] * x[i]);
	const float mean = (float)(sum / (double)n);
	const float scale = 1.0f / sqrtf(mean + eps);
	for (int64_t i = 0; i < n; i++)
		y[i] = (x[i] * scale) * w[i];
}

/* cs[2i], cs[2i+1] = cos, sin of the angle of pair i at position pos. */
void ops_rope_cache(float *cs, int n_rot, int64_t pos, const struct rope_cfg *rc,
                    const float *freqs)
{
	const float theta_scale = powf(rc->base, -2.0f / (float)n_rot);
	float theta = (float)pos;
	for (int i = 0; i < n_rot; i += 2) {
		const float ff = freqs ? freqs[i / 2] : 1.0f;
		const float t = rc->freq_scale * (theta / ff);
		cs[i] = cosf(t);
		cs[i + 1] = sinf(t);
		theta *= theta_scale;
	}
}

void ops__rope_from(float *x, const float *cs, int n_rot, enum rope_mode mode, int i0)
{
	const int half = n_rot / 2;
	for (int i = i0; i < n_rot; i += 2) {
		const float c = cs[i], s = cs[i + 1];
		float *a, *b;
		if (mode == ROPE_NEOX) {
			a = &x[i / 2];
			b = &x[i / 2 + half];
		} else {
			a = &x[i];
			b = &x[i + 1];
		}
		const float x0 = *a, x1 = *b;
		*a = x0 * c - x1 * s;
		*b = x0 * s + x1 * c;
	}
}

static void rope_portable(float *x, const float *cs, int n_rot, enum rope_mode mode)
{
	ops__rope_from(x, cs, n_rot, mode, 0);
}

static void silu_mul_portable(float *g, const float *u, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		g[i] = (g[i] / (1.0f + ops_expf(-g[i]))) * u[i];
}

/* GCC 12 at -O2 leaves this loop scalar (no epilogue in its cheapest
 * vectorizer); the AVX-512 variant is 16 adds a step. */
static void add_portable(float *x, const float *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		x[i] += y[i];
}

static void pick(void)
{
	const struct cpu_features *f = cpu_features_get();
	rmsnorm_fn = rmsnorm_portable;
	silu_mul_fn = silu_mul_portable;
	add_fn = add_portable;
	rope_fn = rope_portable;
	if (f->avx512f && f->avx512dq && f->avx512vl && cpu_features_avx512_wanted()) {
		rmsnorm_fn = ops__rmsnorm_avx512;
		silu_mul_fn = ops__silu_mul_avx512;
		add_fn = ops__add_avx512;
		rope_fn = ops__rope_avx512;
	} else if (f->avx2 && f->fma && cpu_features_avx2_wanted()) {
		rmsnorm_fn = ops__rmsnorm_avx2;
		silu_mul_fn = ops__silu_mul_avx2;
		add_fn = ops__add_avx2;
		rope_fn = ops__rope_avx2;
	}
}

void ops_rope(float *x, const float *cs, int n_rot, enum rope_mode mode)
{
	pthread_once(&pick_once, pick);
	rope_fn(x, cs, n_rot, mode);
}

void ops_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
	pthread_once(&pick_once, pick);
	rmsnorm_fn(y, x, w, n, eps);
}

void ops_silu_mul(float *g, const float *u, int64_t n)
{
	pthread_once(&pick_once, pick);
	silu_mul_fn(g, u, n);
}

void ops_add(float *x, const float *y, int64_t n)
{
	pthread_once(&pick_once, pick);
	add_fn(x, y, n);
}

/* llama.cpp's CPU GELU: inputs rounded to F16 index a table of F16 results
 * of the tanh approximation; |x| >= 10 short-circuits. Emulated exactly. */
static uint16_t gelu_table[1 << 16];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

static float gelu_f32(float x)
{
	const float a = 0.044715f, s2pi = 0.79788456080286535587989211986876f;
	return 0.5f * x * (1.0f + tanhf(s2pi * x * (1.0f + a * x * x)));
}

static void gelu_init(void)
{
	for (uint32_t i = 0; i < (1u << 16); i++)
		gelu_table[i] = f32_to_fp16(gelu_f32(fp16_to_f32((uint16_t)i)));
}

float ops_gelu(float x)
{
	if (x <= -10.0f)
		return 0.0f;
	if (x >= 10.0f)
		return x;
	pthread_once(&gelu_once, gelu_init);
	return fp16_to_f32(gelu_table[f32_to_fp16(x)]);
}

void ops_gelu_mul(float *g, const float *u, int64_t n)
{
	pthread_once(&gelu_once, gelu_init);
	for (int64_t i = 0; i < n; i++) {
		float x = g[i], y;
		if (x <= -10.0f)
			y = 0.0f;
		else if (x >= 10.0f)
			y = x;
		else
			y = fp16_to_f32(gelu_table[f32_to_fp16(x)]);
		g[i] = y * u[i];
	}
}

void ops_softcap(float *x, int64_t n, float cap)
{
	const float inv = 1.0f / cap;
	for (int64_t i = 0; i < n; i++)
		x[i] = tanhf(x[i] * inv) * cap;
}

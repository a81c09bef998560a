/* attention.c — one attention head over a sequence's KV cache, computed as
 * llama.cpp computes it without flash attention: scores = K q through the KV
 * type's vec_dot (q rounded to F16 for an F16 cache), soft-cap, scale,
 * softmax with a double sum, then V^T p with p rounded to the KV type. V is
 * stored transposed so that product is a dot over contiguous positions.
 * Causal and sliding-window masks are the range [k0, k1]. */
#include "engine/engine_internal.h"

#include <math.h>
#include <string.h>

void attn__store(struct engine_seq *s, int il, int64_t pos, int g, const float *k, const float *v)
{
	const struct hparams *hp = &s->m->hp;
	const int dk = hp->head_dim_k, dv = hp->head_dim_v;
	uint8_t *kd = seq_k(s, il) + ((size_t)pos * hp_kv_dim_k(hp) + (size_t)g * dk) * s->kv_es;
	s->kv_qt->from_float(k, kd, dk);
	uint8_t *vt = seq_vt(s, il);
	for (int d = 0; d < dv; d++) {
		size_t at = ((size_t)(g * dv + d) * s->n_ctx + pos) * s->kv_es;
		if (s->kv_type == GGML_TYPE_F16) {
			uint16_t h = f32_to_fp16(v[d]);
			memcpy(vt + at, &h, 2);
		} else {
			memcpy(vt + at, &v[d], 4);
		}
	}
}

void attn__head(float *out, const float *q, const struct engine_seq *s, int il, int g, int64_t k0,
                int64_t k1, float scale, float softcap, struct thread_scratch *ts)
{
	const struct hparams *hp = &s->m->hp;
	const int dk = hp->head_dim_k, dv = hp->head_dim_v;
	const struct quant_traits *t = s->kv_qt;
	const size_t es = s->kv_es, k_stride = (size_t)hp_kv_dim_k(hp) * es;
	const int64_t n = k1 - k0 + 1;
	float *sc = ts->scores;
	const uint8_t *k = seq_k(s, il) + (size_t)g * dk * es + (size_t)k0 * k_stride;
	t->from_float(q, ts->conv, dk);
	float max = -INFINITY;
	for (int64_t i = 0; i < n; i++) {
		float v;
		t->vec_dot(dk, &v, k + (size_t)i * k_stride, ts->conv);
		if (softcap > 0.0f)
			v = tanhf(v * (1.0f / softcap)) * softcap;
		v *= scale;
		sc[i] = v;
		max = v > max ? v : max;
	}
	double sum = 0.0;
	for (int64_t i = 0; i < n; i++) {
		sc[i] = expf(sc[i] - max);
		sum += (double)sc[i];
	}
	const float inv = (float)(1.0 / sum);
	for (int64_t i = 0; i < n; i++)
		sc[i] *= inv;
	t->from_float(sc, ts->conv, n);
	const uint8_t *vt = seq_vt(s, il) + ((size_t)g * dv * s->n_ctx + (size_t)k0) * es;
	for (int d = 0; d < dv; d++)
		t->vec_dot(n, &out[d], vt + (size_t)d * s->n_ctx * es, ts->conv);
}

/* attention.c — the attention of one KV head's group of query heads over a
 * sequence's KV cache, computed as llama.cpp computes it without flash
 * attention: scores = K q with q rounded to the KV type (F16 by default),
 * soft-cap, scale, softmax with a double sum, then the probabilities rounded
 * to the KV type times V. All query heads of a group share each load of K
 * and V, so a step reads the cache once. The cache keeps a head's K in
 * blocks of KV_BLK positions, transposed within a block (position
 * fastest), and its V by position: both products stream one run of memory
 * each, front to back, whole cache lines at a time. Causal and
 * sliding-window masks are the range [k0, k1]. The AVX-512 and AVX2
 * variants (attention_avx512.c, attention_avx2.c) compute the same steps in
 * the same order per score and per output; this file holds the store, the
 * dispatch and the portable version. Several query rows of one sequence
 * (attn__group_rows) share each load of K and V in the AVX-512 variant;
 * the others take them one at a time. */
#include "engine/engine_internal.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "engine/cpu_features.h"
#include "engine/exp.h"

static void (*group_fn)(const struct attn_args *a);
static void (*rows_fn)(const struct attn_args *a, const struct attn_row *rows, int n_rows);
static pthread_once_t once = PTHREAD_ONCE_INIT;

static inline float load_kv(const struct attn_args *a, const uint8_t *base, int64_t i)
{
	if (a->f16) {
		uint16_t h;
		memcpy(&h, base + 2 * i, 2);
		return fp16_to_f32(h);
	}
	float f;
	memcpy(&f, base + 4 * i, 4);
	return f;
}

static inline float round_kv(const struct attn_args *a, float x)
{
	return a->f16 ? fp16_to_f32(f32_to_fp16(x)) : x;
}

/* Scores of head h into sc, soft-capped and scaled; returns their max. */
static float scores(const struct attn_args *a, const float *q, float *sc)
{
	for (int64_t p = 0; p < a->n; p++)
		sc[p] = 0.0f;
	for (int d = 0; d < a->dk; d++)
		for (int64_t p = 0; p < a->n; p++)
			sc[p] += q[d] * load_kv(a, a->kt, (int64_t)kv_k_index(a->dk, d, a->k0 + p));
	float max = -INFINITY;
	for (int64_t p = 0; p < a->n; p++) {
		float v = sc[p];
		if (a->softcap > 0.0f)
			v = tanhf(v * (1.0f / a->softcap)) * a->softcap;
		v *= a->scale;
		sc[p] = v;
		max = v > max ? v : max;
	}
	return max;
}

static void group_portable(const struct attn_args *a)
{
	for (int h = 0; h < a->nq; h++) {
		float *q = a->qf, *sc = a->sc;
		for (int d = 0; d < a->dk; d++)
			q[d] = round_kv(a, a->q[(size_t)h * a->dk + d]);
		float max = scores(a, q, sc);
		double sum = 0.0;
		for (int64_t p = 0; p < a->n; p++) {
			sc[p] = ops_expf(sc[p] - max);
			sum += (double)sc[p];
		}
		const float inv = (float)(1.0 / sum);
		float *out = a->out + (size_t)h * a->dv;
		for (int d = 0; d < a->dv; d++)
			out[d] = 0.0f;
		for (int64_t p = 0; p < a->n; p++) {
			float w = round_kv(a, sc[p] * inv);
			const uint8_t *row = a->v + (size_t)(a->k0 + p) * a->v_ld * a->es;
			for (int d = 0; d < a->dv; d++)
				out[d] += w * load_kv(a, row, d);
		}
	}
}

static void pick(void)
{
	const struct cpu_features *f = cpu_features_get();
	group_fn = group_portable;
	if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->f16c && f->fma &&
	    cpu_features_avx512_wanted()) {
		group_fn = attn__group_avx512;
		rows_fn = attn__rows_avx512;
	} else if (f->avx2 && f->fma && f->f16c && cpu_features_avx2_wanted()) {
		group_fn = attn__group_avx2;
	}
}

void attn__store(struct engine_seq *s, int il, int64_t pos, int g, const float *k, const float *v)
{
	const struct hparams *hp = &s->m->hp;
	const int dk = hp->head_dim_k, dv = hp->head_dim_v;
	uint8_t *kt = seq_k_at(s, il, g, 0, pos);
	uint8_t *vd = seq_v(s, il, g) + (size_t)pos * dv * s->kv_es;
	/* K is stored one element per row of its block: converted to the
	 * cache type (as V) a vector at a time, then spread */
	_Alignas(64) uint8_t kc[256 * sizeof(float)];
	const int step = (int)(sizeof kc / s->kv_es);
	for (int d0 = 0; d0 < dk; d0 += step) {
		const int nd = dk - d0 < step ? dk - d0 : step;
		s->kv_qt->from_float(k + d0, kc, nd);
		for (int d = 0; d < nd; d++)
			memcpy(kt + (size_t)(d0 + d) * KV_BLK * s->kv_es, kc + (size_t)d * s->kv_es,
			       s->kv_es);
	}
	s->kv_qt->from_float(v, vd, dv);
}

struct attn_args attn__args(const struct engine_seq *s, int il, int g, int nq, int64_t k0,
                            int64_t k1, float scale, float softcap, struct thread_scratch *ts)
{
	const struct hparams *hp = &s->m->hp;
	const int dk = hp->head_dim_k, dv = hp->head_dim_v;
	return (struct attn_args){
	    .nq = nq,
	    .dk = dk,
	    .dv = dv,
	    .kt = seq_k(s, il, g),
	    .v = seq_v(s, il, g),
	    .v_ld = dv,
	    .es = s->kv_es,
	    .k0 = k0,
	    .n = k1 - k0 + 1,
	    .f16 = s->kv_type == GGML_TYPE_F16,
	    .scale = scale,
	    .softcap = softcap,
	    .sc = ts->scores + ATTN_SC_PAD,
	    .qf = (float *)ts->conv,
	};
}

void attn__group(float *out, const float *q, int nq, const struct engine_seq *s, int il, int g,
                 int64_t k0, int64_t k1, float scale, float softcap, struct thread_scratch *ts)
{
	pthread_once(&once, pick);
	struct attn_args a = attn__args(s, il, g, nq, k0, k1, scale, softcap, ts);
	a.out = out;
	a.q = q;
	group_fn(&a);
}

void attn__group_rows(const struct attn_row *rows, int n_rows, int nq, const struct engine_seq *s,
                      int il, int g, float scale, float softcap, struct thread_scratch *ts)
{
	pthread_once(&once, pick);
	if (n_rows == 1 || !rows_fn) {
		for (int r = 0; r < n_rows; r++)
			attn__group(rows[r].out, rows[r].q, nq, s, il, g, rows[r].k0, rows[r].k1,
			            scale, softcap, ts);
		return;
	}
	int64_t lo = rows[0].k0, hi = rows[0].k1;
	for (int r = 1; r < n_rows; r++) {
		lo = rows[r].k0 < lo ? rows[r].k0 : lo;
		hi = rows[r].k1 > hi ? rows[r].k1 : hi;
	}
	struct attn_args a = attn__args(s, il, g, nq, lo, hi, scale, softcap, ts);
	/* after q of the tile's queries, transposed in groups of 16 */
	a.kv = a.qf + (size_t)(n_rows * nq + 15) / 16 * 16 * a.dk;
	rows_fn(&a, rows, n_rows);
}

size_t attn__conv_bytes(const struct hparams *hp)
{
	const int grp = hp->n_head / hp->n_head_kv;
	const int dkv = hp->head_dim_k > hp->head_dim_v ? hp->head_dim_k : hp->head_dim_v;
	size_t q = (size_t)(ATTN_ROWS * grp + 15) / 16 * 16 * (size_t)hp->head_dim_k;
	return (q + (size_t)ATTN_KV_BLOCK * (size_t)((dkv + 31) & ~31)) * sizeof(float) + 64;
}

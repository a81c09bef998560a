/* kv_shift.c — context shift: when a sequence's context is full, drop the
 * oldest tokens after its first n_keep (half of the rest, as llama.cpp's
 * server and Ollama do) so generation can go on. The kept tail moves down
 * in every layer's K and V; K is stored after RoPE, so it is rotated back
 * by the distance moved (one rotation for every position: RoPE angles
 * add) and positions stay consecutive. What the kept K/V were computed from
 * still included the dropped tokens: the approximation Ollama makes too.
 * Caches on a device are not shifted here. */
#include "engine/engine_internal.h"
#include "engine/quant.h"

#include <stdlib.h>
#include <string.h>

static float kv_load(const struct engine_seq *s, const uint8_t *p)
{
	if (s->kv_type == GGML_TYPE_F16) {
		uint16_t h;
		memcpy(&h, p, 2);
		return fp16_to_f32(h);
	}
	float f;
	memcpy(&f, p, 4);
	return f;
}

static void kv_put(const struct engine_seq *s, uint8_t *p, float f)
{
	if (s->kv_type == GGML_TYPE_F16) {
		uint16_t h = f32_to_fp16(f);
		memcpy(p, &h, 2);
	} else {
		memcpy(p, &f, 4);
	}
}

/* Rotates positions [0, n) of the K rows a and b (stride: element size)
 * by the angle whose cosine and sine are c, sn. */
static void rotate_rows(const struct engine_seq *s, uint8_t *a, uint8_t *b, int64_t n, float c,
                        float sn)
{
	for (int64_t p = 0; p < n; p++) {
		size_t o = (size_t)p * s->kv_es;
		float x0 = kv_load(s, a + o), x1 = kv_load(s, b + o);
		kv_put(s, a + o, x0 * c - x1 * sn);
		kv_put(s, b + o, x0 * sn + x1 * c);
	}
}

/* Positions from p on that stay inside p's K block, at most left. */
static int64_t run_len(int64_t p, int64_t left)
{
	int64_t r = KV_BLK - p % KV_BLK;
	return r < left ? r : left;
}

/* K of kv head g in layer il (blocks of KV_BLK positions, each a row per
 * dimension): the tail [from, from + n) moves to keep (< from) and turns
 * by cs. Runs that stay inside a block, in position order, so a source is
 * read before anything lands on it. */
static void shift_k(struct engine_seq *s, int il, int g, int64_t keep, int64_t from, int64_t n,
                    const float *cs)
{
	const struct hparams *hp = &s->m->hp;
	const int dk = hp->head_dim_k, half = hp->n_rot / 2;
	const size_t es = s->kv_es;
	uint8_t *base = seq_k(s, il, g);
	for (int64_t p = 0, k; p < n; p += k) {
		k = run_len(from + p, n - p);
		k = run_len(keep + p, k);
		for (int d = 0; d < dk; d++)
			memmove(base + kv_k_index(dk, d, keep + p) * es,
			        base + kv_k_index(dk, d, from + p) * es, (size_t)k * es);
	}
	for (int64_t p = keep, k; p < keep + n; p += k) {
		k = run_len(p, keep + n - p);
		for (int i = 0; i < hp->n_rot; i += 2) {
			int da = hp->rope_mode == ROPE_NEOX ? i / 2 : i;
			int db = hp->rope_mode == ROPE_NEOX ? i / 2 + half : i + 1;
			rotate_rows(s, base + kv_k_index(dk, da, p) * es,
			            base + kv_k_index(dk, db, p) * es, k, cs[i], cs[i + 1]);
		}
	}
}

int64_t engine__seq_shift(struct engine_seq *s, int64_t n_keep)
{
	const struct hparams *hp = &s->m->hp;
	if (s->dev_kv)
		return 0;
	if (n_keep < 0)
		n_keep = 0;
	int64_t n_disc = (s->n_past - n_keep) / 2;
	if (n_disc <= 0)
		return 0;
	int64_t from = n_keep + n_disc, n = s->n_past - from;
	float *cs = malloc((size_t)hp->n_rope_cfg * (size_t)hp->n_rot * sizeof *cs);
	if (!cs)
		return 0;
	for (int c = 0; c < hp->n_rope_cfg; c++)
		ops_rope_cache(cs + c * hp->n_rot, hp->n_rot, -n_disc, &hp->rope[c],
		               hp->rope_freqs);
	const size_t vrow = (size_t)hp->head_dim_v * s->kv_es;
	for (int il = 0; il < hp->n_layer; il++) {
		const float *c = cs + s->m->layers[il].rope_cfg * hp->n_rot;
		for (int g = 0; g < hp->n_head_kv; g++) {
			shift_k(s, il, g, n_keep, from, n, c);
			uint8_t *v = seq_v(s, il, g);
			memmove(v + (size_t)n_keep * vrow, v + (size_t)from * vrow,
			        (size_t)n * vrow);
		}
	}
	free(cs);
	memmove(s->tokens + n_keep, s->tokens + from, (size_t)n * sizeof *s->tokens);
	s->n_past -= n_disc;
	return n_disc;
}

/* attention_test.c — attn__group_rows (several query rows of one sequence at
 * once, src/engine/attention.c) against attn__group row by row: the outputs
 * must be bit-identical, for F16 and F32 caches, every tile size, ragged
 * causal ends, sliding windows, soft-capping, arbitrary row ranges, and head
 * counts and sizes that are not multiples of the vector width. Both are also
 * checked against a double-precision reference (tolerance 2e-3: q and the
 * probabilities are rounded to F16, relative error 2^-11 each). The AVX2
 * variant (attn__group_avx2, what a CPU without AVX-512 runs) is called
 * directly and held to the same reference, on the same shapes, with tails
 * of positions and dimensions that are not whole vectors. */
#include "support/support.h"

#include "engine/cpu_features.h"
#include "engine/engine_internal.h"
#include "engine/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_CTX   200
#define N_LAYER 2

struct cfg {
	int nq, n_kv, dk, dv, kv_type;
};

struct fix {
	struct engine_model m;
	struct engine_seq s;
	struct thread_scratch ts;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* Uniform in [-1, 1). */
static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((double)(rng >> 11) / (double)(1ull << 52)) - 1.0f;
}

static void fix_init(struct fix *f, const struct cfg *c)
{
	memset(f, 0, sizeof *f);
	struct hparams *hp = &f->m.hp;
	hp->n_layer = N_LAYER;
	hp->n_head = c->nq * c->n_kv;
	hp->n_head_kv = c->n_kv;
	hp->head_dim_k = c->dk;
	hp->head_dim_v = c->dv;
	struct engine_seq *s = &f->s;
	s->m = &f->m;
	s->n_ctx = N_CTX;
	s->kv_type = c->kv_type;
	s->kv_es = c->kv_type == GGML_TYPE_F16 ? 2 : 4;
	s->kv_qt = quant_get(c->kv_type);
	assert_non_null(s->kv_qt);
	s->kv = calloc(N_LAYER * kv_layer_bytes(hp, N_CTX, s->kv_es), 1);
	float *k = malloc((size_t)c->dk * 4), *v = malloc((size_t)c->dv * 4);
	for (int il = 0; il < N_LAYER; il++)
		for (int64_t p = 0; p < N_CTX; p++)
			for (int g = 0; g < c->n_kv; g++) {
				for (int d = 0; d < c->dk; d++)
					k[d] = 2.0f * frand();
				for (int d = 0; d < c->dv; d++)
					v[d] = frand();
				attn__store(s, il, p, g, k, v);
			}
	free(k);
	free(v);
	f->ts.scores =
	    malloc((ATTN_SC_PAD + (size_t)ATTN_ROWS * c->nq * N_CTX + 16) * sizeof(float));
	f->ts.conv = malloc(attn__conv_bytes(hp));
	assert_non_null(s->kv);
	assert_non_null(f->ts.scores);
	assert_non_null(f->ts.conv);
}

static void fix_release(struct fix *f)
{
	free(f->s.kv);
	free(f->ts.scores);
	free(f->ts.conv);
}

static double cache_at(const struct engine_seq *s, const uint8_t *base, size_t i)
{
	if (s->kv_type == GGML_TYPE_F16) {
		uint16_t h;
		memcpy(&h, base + 2 * i, 2);
		return fp16_to_f32(h);
	}
	float x;
	memcpy(&x, base + 4 * i, 4);
	return x;
}

/* Head h of one row in double precision, compared with out. */
static void check_ref(const struct engine_seq *s, int il, int g, const float *q, const float *out,
                      int64_t k0, int64_t k1, float scale, float softcap)
{
	const struct hparams *hp = &s->m->hp;
	const int dk = hp->head_dim_k, dv = hp->head_dim_v;
	double *w = malloc((size_t)(k1 - k0 + 1) * sizeof *w), max = -INFINITY, sum = 0;
	const uint8_t *vt = seq_v(s, il, g);
	for (int64_t p = k0; p <= k1; p++) {
		double x = 0;
		for (int d = 0; d < dk; d++)
			x += q[d] * cache_at(s, seq_k_at(s, il, g, d, p), 0);
		if (softcap > 0)
			x = tanh(x / softcap) * softcap;
		w[p - k0] = x * scale;
		max = fmax(max, w[p - k0]);
	}
	for (int64_t p = k0; p <= k1; p++)
		sum += w[p - k0] = exp(w[p - k0] - max);
	for (int d = 0; d < dv; d++) {
		double o = 0;
		for (int64_t p = k0; p <= k1; p++)
			o += w[p - k0] / sum * cache_at(s, vt, (size_t)p * dv + d);
		assert_true(fabs(o - out[d]) < 2e-3);
	}
	free(w);
}

/* Rows with ranges [k0[r], k1[r]] attended as one tile and one by one. */
static void check_rows(struct fix *f, int il, int g, int nr, const int64_t *k0, const int64_t *k1,
                       float softcap, bool ref)
{
	const struct hparams *hp = &f->m.hp;
	const int nq = hp->n_head / hp->n_head_kv, dk = hp->head_dim_k, dv = hp->head_dim_v;
	const size_t nqk = (size_t)nq * dk, nqv = (size_t)nq * dv;
	const float scale = 1.0f / sqrtf((float)dk);
	float *q = malloc(nr * nqk * 4), *tile = malloc(nr * nqv * 4), *one = malloc(nr * nqv * 4);
	struct attn_row rows[ATTN_ROWS];
	for (size_t i = 0; i < nr * nqk; i++)
		q[i] = 1.5f * frand();
	memset(tile, 0xAA, nr * nqv * 4); /* lanes left unwritten would differ */
	memset(one, 0x55, nr * nqv * 4);
	for (int r = 0; r < nr; r++)
		rows[r] = (struct attn_row){tile + r * nqv, q + r * nqk, k0[r], k1[r]};
	attn__group_rows(rows, nr, nq, &f->s, il, g, scale, softcap, &f->ts);
	for (int r = 0; r < nr; r++)
		attn__group(one + r * nqv, q + r * nqk, nq, &f->s, il, g, k0[r], k1[r], scale,
		            softcap, &f->ts);
	assert_memory_equal(tile, one, nr * nqv * 4);
	for (int r = 0; ref && r < nr; r++)
		for (int h = 0; h < nq; h++)
			check_ref(&f->s, il, g, q + r * nqk + h * dk, tile + r * nqv + h * dv,
			          k0[r], k1[r], scale, softcap);
	free(q);
	free(tile);
	free(one);
}

static const struct cfg cfgs[] = {
    {8, 4, 64, 64, GGML_TYPE_F16},   {8, 4, 64, 64, GGML_TYPE_F32},
    {4, 2, 128, 128, GGML_TYPE_F16}, {1, 3, 40, 40, GGML_TYPE_F16},
    {3, 2, 96, 48, GGML_TYPE_F32},   {6, 1, 80, 72, GGML_TYPE_F16},
    {16, 1, 64, 64, GGML_TYPE_F16},  {2, 2, 256, 256, GGML_TYPE_F32},
};

/* Consecutive positions of one sequence, as forward.c makes tiles: causal,
 * with and without a sliding window, tiles starting anywhere. */
static void test_attention_rows_equal_single_causal(void **state)
{
	(void)state;
	static const int64_t starts[] = {0, 1, 15, 16, 30, 31, 37, 64, 100, 150};
	static const int windows[] = {0, 1, 2, 5, 33, 64};
	for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
		struct fix f;
		fix_init(&f, &cfgs[c]);
		for (int nr = 2; nr <= ATTN_ROWS; nr++)
			for (size_t si = 0; si < sizeof starts / sizeof starts[0]; si++)
				for (size_t wi = 0; wi < sizeof windows / sizeof windows[0]; wi++) {
					int64_t k0[ATTN_ROWS], k1[ATTN_ROWS], p = starts[si];
					int w = windows[wi];
					for (int r = 0; r < nr; r++) {
						k1[r] = p + r;
						k0[r] = w > 0 && k1[r] >= w ? k1[r] - w + 1 : 0;
					}
					float cap = (si + wi) % 3 == 0 ? 30.0f : 0.0f;
					check_rows(&f, (int)(si % N_LAYER),
					           (int)(wi % cfgs[c].n_kv), nr, k0, k1, cap,
					           si % 4 == 0);
				}
		fix_release(&f);
	}
}

/* The last rows of the context, and rows with arbitrary ranges: the API
 * takes any [k0, k1] per row, overlapping or not. */
static void test_attention_rows_equal_single_ranges(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
		struct fix f;
		fix_init(&f, &cfgs[c]);
		int64_t k0[ATTN_ROWS], k1[ATTN_ROWS];
		for (int r = 0; r < ATTN_ROWS; r++) {
			k1[r] = N_CTX - ATTN_ROWS + r;
			k0[r] = 0;
		}
		check_rows(&f, 1, 0, ATTN_ROWS, k0, k1, 0.0f, true);
		for (int it = 0; it < 40; it++) {
			int nr = 2 + it % (ATTN_ROWS - 1);
			for (int r = 0; r < nr; r++) {
				int64_t a = (int64_t)((frand() + 1.0f) * 0.5f * N_CTX) % N_CTX;
				int64_t b = (int64_t)((frand() + 1.0f) * 0.5f * N_CTX) % N_CTX;
				k0[r] = a < b ? a : b;
				k1[r] = a < b ? b : a;
			}
			check_rows(&f, it % N_LAYER, it % cfgs[c].n_kv, nr, k0, k1,
			           it % 2 ? 50.0f : 0.0f, it % 5 == 0);
		}
		fix_release(&f);
	}
}

/* One row goes the single-row way; the tile entry must equal it too. */
static void test_attention_rows_single(void **state)
{
	(void)state;
	struct fix f;
	fix_init(&f, &cfgs[0]);
	int64_t k0 = 3, k1 = 77;
	check_rows(&f, 0, 1, 1, &k0, &k1, 0.0f, true);
	fix_release(&f);
}

/* attn__group_avx2 on each configuration and several ranges (with and
 * without soft-capping) against the double-precision reference. */
static void test_attention_avx2_matches_ref(void **state)
{
	(void)state;
	const struct cpu_features *cf = cpu_features_get();
	if (!(cf->avx2 && cf->fma && cf->f16c)) {
		test_skip("this CPU has no AVX2");
		return;
	}
	static const int64_t ranges[][2] = {{0, 0},   {0, 6},    {3, 77},     {10, 17},
	                                    {40, 100}, {33, 33}, {31, 32},   {64, 95},
	                                    {0, N_CTX - 1}, {57, N_CTX - 1}};
	for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
		struct fix f;
		fix_init(&f, &cfgs[c]);
		const struct hparams *hp = &f.m.hp;
		const int nq = hp->n_head / hp->n_head_kv, dk = hp->head_dim_k, dv = hp->head_dim_v;
		float *q = malloc((size_t)nq * dk * 4), *out = malloc((size_t)nq * dv * 4);
		for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
			const int il = (int)r % N_LAYER, g = (int)(r + c) % hp->n_head_kv;
			const int64_t k0 = ranges[r][0], k1 = ranges[r][1];
			const float scale = 1.0f / sqrtf((float)dk), softcap = r % 2 ? 30.0f : 0.0f;
			for (int i = 0; i < nq * dk; i++)
				q[i] = 1.5f * frand();
			struct attn_args a =
			    attn__args(&f.s, il, g, nq, k0, k1, scale, softcap, &f.ts);
			a.out = out;
			a.q = q;
			attn__group_avx2(&a);
			for (int h = 0; h < nq; h++)
				check_ref(&f.s, il, g, q + (size_t)h * dk, out + (size_t)h * dv, k0, k1,
				          scale, softcap);
		}
		free(q);
		free(out);
		fix_release(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_attention_rows_equal_single_causal),
	    cmocka_unit_test(test_attention_rows_equal_single_ranges),
	    cmocka_unit_test(test_attention_rows_single),
	    cmocka_unit_test(test_attention_avx2_matches_ref),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

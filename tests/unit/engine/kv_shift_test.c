/* kv_shift_test.c — context shift (src/engine/kv_shift.c): after dropping
 * tokens, layer 0's K and V (which depend only on the token and, for K, the
 * position) equal a fresh evaluation of the kept tokens at their new
 * positions, for normal RoPE (stories260K), NeoX RoPE (qwen2) and two RoPE
 * bases (gemma3's local and global layers); the generate loop goes on past
 * a full context with shift and ends there without it. */
#include "engine_test_util.h"

#include "engine/engine_internal.h"

/* Largest |a - b| over layer 0's K and V of positions [0, n), relative to
 * the largest |b|. */
static double layer0_diff(const struct engine_seq *a, const struct engine_seq *b, int64_t n,
                          double *vmax)
{
	const struct hparams *hp = &a->m->hp;
	double worst = 0, big = 1e-6;
	for (int g = 0; g < hp->n_head_kv; g++)
		for (int d = 0; d < hp->head_dim_k; d++)
			for (int64_t p = 0; p < n; p++) {
				uint16_t ha, hb;
				memcpy(&ha, seq_k_at(a, 0, g, d, p), 2);
				memcpy(&hb, seq_k_at(b, 0, g, d, p), 2);
				double x = fp16_to_f32(ha), y = fp16_to_f32(hb);
				worst = fmax(worst, fabs(x - y));
				big = fmax(big, fabs(y));
			}
	*vmax = 0;
	size_t nv = (size_t)n * hp->head_dim_v;
	for (int g = 0; g < hp->n_head_kv; g++)
		for (size_t i = 0; i < nv; i++) {
			uint16_t ha, hb;
			memcpy(&ha, seq_v(a, 0, g) + i * 2, 2);
			memcpy(&hb, seq_v(b, 0, g) + i * 2, 2);
			*vmax = fmax(*vmax, fabs(fp16_to_f32(ha) - fp16_to_f32(hb)));
		}
	return worst / big;
}

/* n_tok tokens in a context of n_ctx, then a shift that keeps the first
 * `keep`: the K blocks' runs cross block edges when n_tok passes KV_BLK. */
static void check_model(const char *rel, int64_t n_ctx, int n_tok, int keep)
{
	char path[1024];
	if (!model_path(rel, path)) {
		print_message("SKIP %s: missing\n", rel);
		return;
	}
	struct engine_model *m = load_or_fail(path);
	char err[ERR_MSG_LEN];
	struct engine_seq *a = engine_seq_new(m, n_ctx, err), *b = engine_seq_new(m, n_ctx, err);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->kv_type, GGML_TYPE_F16);
	int32_t ids[128], kept[128];
	assert_true(n_tok <= 128);
	for (int i = 0; i < n_tok; i++)
		ids[i] = 1 + (i * 37 + 11) % (int32_t)(engine_model_info(m)->n_vocab - 1);
	const int disc = (n_tok - keep) / 2, n_kept = n_tok - disc; /* half of the rest */
	assert_int_equal(engine_seq_eval(a, ids, n_tok, NULL), 0);
	assert_int_equal(engine__seq_shift(a, keep), disc);
	assert_int_equal(engine_seq_n_past(a), n_kept);
	memcpy(kept, ids, (size_t)keep * sizeof *ids);
	memcpy(kept + keep, ids + keep + disc, (size_t)(n_kept - keep) * sizeof *ids);
	assert_memory_equal(engine_seq_tokens(a), kept, (size_t)n_kept * sizeof *kept);
	assert_int_equal(engine_seq_eval(b, kept, n_kept, NULL), 0);
	double vdiff, kdiff = layer0_diff(a, b, n_kept, &vdiff);
	print_message("%s, %d of %lld kept %d: layer 0 K after the shift vs fresh: %.2e of max "
	              "|K|, V %.2e\n",
	              rel, n_tok, (long long)n_ctx, keep, kdiff, vdiff);
	assert_true(kdiff < 4e-3); /* an F16 rounding or two */
	assert_true(vdiff == 0.0); /* V moves, bit for bit */
	/* the shifted cache takes the next token at position n_kept */
	assert_int_equal(engine_seq_eval(a, ids + n_tok - 1, 1, NULL), 0);
	assert_int_equal(engine_seq_n_past(a), n_kept + 1);
	engine_seq_free(a);
	engine_seq_free(b);
	engine_model_free(m);
}

static void test_kv_shift_layer0_like_fresh(void **state)
{
	(void)state;
	static const char *const models[] = {"stories260K-F32.gguf", "synth/synth-qwen2-F32.gguf",
	                                     "synth/synth-gemma3-F32.gguf"};
	for (int i = 0; i < 3; i++) {
		check_model(models[i], 64, 30, 4);
		check_model(models[i], 100, 97, 5);
	}
}

static int count_tokens(void *user, int32_t tok, const char *text, size_t len)
{
	(void)text;
	(void)len;
	*(int *)user += tok >= 0;
	return 0;
}

static void test_kv_shift_generation_goes_on(void **state)
{
	(void)state;
	char path[1024];
	if (!model_path("stories260K-F32.gguf", path)) {
		test_skip("../shared/models/stories260K-F32.gguf is missing");
		return;
	}
	struct engine_model *m = load_or_fail(path);
	char err[ERR_MSG_LEN];
	struct engine_seq *s = engine_seq_new(m, 16, err);
	assert_non_null(s);
	int32_t prompt[5] = {1, 403, 407, 261, 378};
	struct engine_gen_params p;
	struct engine_gen_result res;
	engine_gen_params_default(&p);
	sampler_params_greedy(&p.sampling);
	p.prompt = prompt;
	p.n_prompt = 5;
	p.num_predict = 40;
	p.ignore_eos = true;
	int n = 0;
	assert_int_equal(engine_generate(s, &p, count_tokens, &n, &res), 0);
	assert_int_equal(n, 12); /* no shift: the context ends it */
	assert_string_equal(res.done_reason, "length");
	p.shift = true;
	p.num_keep = 4;
	n = 0;
	assert_int_equal(engine_generate(s, &p, count_tokens, &n, &res), 0);
	assert_int_equal(n, 40);
	assert_string_equal(res.done_reason, "length");
	assert_true(engine_seq_n_past(s) <= 16);
	assert_memory_equal(engine_seq_tokens(s), prompt, 4 * sizeof *prompt); /* kept */
	engine_seq_free(s);
	engine_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kv_shift_layer0_like_fresh),
	    cmocka_unit_test(test_kv_shift_generation_goes_on),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

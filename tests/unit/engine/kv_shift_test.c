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
				size_t oa = ((size_t)g * hp->head_dim_k + d) * a->n_ctx + p;
				size_t ob = ((size_t)g * hp->head_dim_k + d) * b->n_ctx + p;
				uint16_t ha, hb;
				memcpy(&ha, seq_k(a, 0) + oa * 2, 2);
				memcpy(&hb, seq_k(b, 0) + ob * 2, 2);
				double x = fp16_to_f32(ha), y = fp16_to_f32(hb);
				worst = fmax(worst, fabs(x - y));
				big = fmax(big, fabs(y));
			}
	*vmax = 0;
	size_t nv = (size_t)n * hp_kv_dim_v(hp);
	for (size_t i = 0; i < nv; i++) {
		uint16_t ha, hb;
		memcpy(&ha, seq_vt(a, 0) + i * 2, 2);
		memcpy(&hb, seq_vt(b, 0) + i * 2, 2);
		*vmax = fmax(*vmax, fabs(fp16_to_f32(ha) - fp16_to_f32(hb)));
	}
	return worst / big;
}

static void check_model(const char *rel)
{
	char path[1024];
	if (!model_path(rel, path)) {
		print_message("SKIP %s: missing\n", rel);
		return;
	}
	struct engine_model *m = load_or_fail(path);
	char err[ERR_MSG_LEN];
	struct engine_seq *a = engine_seq_new(m, 64, err), *b = engine_seq_new(m, 64, err);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->kv_type, GGML_TYPE_F16);
	int32_t ids[30], kept[17];
	for (int i = 0; i < 30; i++)
		ids[i] = 1 + (i * 37 + 11) % (int32_t)(engine_model_info(m)->n_vocab - 1);
	assert_int_equal(engine_seq_eval(a, ids, 30, NULL), 0);
	assert_int_equal(engine__seq_shift(a, 4), 13); /* half of the 26 after the first 4 */
	assert_int_equal(engine_seq_n_past(a), 17);
	memcpy(kept, ids, 4 * sizeof *ids);
	memcpy(kept + 4, ids + 17, 13 * sizeof *ids);
	assert_memory_equal(engine_seq_tokens(a), kept, sizeof kept);
	assert_int_equal(engine_seq_eval(b, kept, 17, NULL), 0);
	double vdiff, kdiff = layer0_diff(a, b, 17, &vdiff);
	print_message("%s: layer 0 K after the shift vs fresh: %.2e of max |K|, V %.2e\n", rel,
	              kdiff, vdiff);
	assert_true(kdiff < 4e-3); /* an F16 rounding or two */
	assert_true(vdiff == 0.0); /* V moves, bit for bit */
	/* the shifted cache takes the next token at position 17 */
	assert_int_equal(engine_seq_eval(a, ids + 29, 1, NULL), 0);
	assert_int_equal(engine_seq_n_past(a), 18);
	engine_seq_free(a);
	engine_seq_free(b);
	engine_model_free(m);
}

static void test_kv_shift_layer0_like_fresh(void **state)
{
	(void)state;
	check_model("stories260K-F32.gguf");
	check_model("synth/synth-qwen2-F32.gguf");
	check_model("synth/synth-gemma3-F32.gguf");
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

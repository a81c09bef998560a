/* model_test.c — the engine on a real tiny model: Karpathy's stories260K
 * (llama architecture) in F32, F16, Q8_0 and Q4_0 against llama.cpp's
 * reference outputs (../shared/models/ref/stories260K-*.gen.json), which
 * were made with llama.cpp's default F16 KV cache (so these runs use one).
 * Tolerances: README "How to compare": F32 ids exact, top-10 logits within
 * 1e-3 (measured 2.2e-5). The engine converts activations to the weight's
 * vec_dot_type as llama.cpp does, so the quantized files are held to that
 * close match rather than the README's f32-activation allowance (0.05 Q8_0,
 * 0.3 Q4_0): measured 2e-6 for Q8_0 and Q4_0; F16 0.0067 (one F16 rounding
 * flip in "Tom and his mom"; the README's F16 bound is 0.02). Greedy paths of
 * quantized files fork at near-ties even inside llama.cpp, so only a leading
 * run is required (measured: Q8_0 case 2 forks at 25, Q4_0 at 61). */
#include "engine_test_util.h"

#include "engine/tokenizer.h"

#define F32_TOL         1e-3f
#define F16_TOL         0.01f
#define QUANT_TOL       1e-3f
#define QUANT_MIN_MATCH 16

static void check_file(const char *model_rel, const char *ref_rel, float tol, int64_t min_match)
{
	static struct ref_file rf;
	char path[1024];
	if (!model_path(model_rel, path) || !ref_load(ref_rel, &rf)) {
		test_skip("../shared/models/%s or its reference is missing", model_rel);
		return;
	}
	struct engine_model *m = load_or_fail(path);
	for (int c = 0; c < rf.n_cases; c++) {
		const struct ref_case *rc = &rf.cases[c];
		struct run_out o;
		run_greedy(m, rf.n_ctx, rc->prompt, rc->n_prompt, rc->n_gen, &o);
		int64_t match = prefix_match(o.gen, rc->gen, rc->n_gen);
		float terr = top10_err(rc, &o, match);
		print_message("%s case %d: %lld/%lld ids match, top-10 max err %.2g\n", model_rel,
		              c, (long long)match, (long long)rc->n_gen, terr);
		if (match < (min_match < rc->n_gen ? min_match : rc->n_gen))
			fail_msg("%s case %d: only %lld leading ids match", model_rel, c,
			         (long long)match);
		if (terr > tol)
			fail_msg("%s case %d: top-10 logit error %g > %g", model_rel, c, terr, tol);
		run_out_free(&o);
	}
	engine_model_free(m);
}

static void test_model_stories_f32_exact(void **state)
{
	check_file("stories260K-F32.gguf", "ref/stories260K-F32.gen.json", F32_TOL, 64);
}

static void test_model_stories_f16(void **state)
{
	check_file("stories260K-F16.gguf", "ref/stories260K-F16.gen.json", F16_TOL,
	           QUANT_MIN_MATCH);
}

static void test_model_stories_q8_0(void **state)
{
	check_file("stories260K-Q8_0.gguf", "ref/stories260K-Q8_0.gen.json", QUANT_TOL,
	           QUANT_MIN_MATCH);
}

static void test_model_stories_q4_0(void **state)
{
	check_file("stories260K-Q4_0.gguf", "ref/stories260K-Q4_0.gen.json", QUANT_TOL,
	           QUANT_MIN_MATCH);
}

/* The prompt text tokenizes to the reference ids, and the generated ids
 * detokenize (streaming, as the generate loop does) to generated_text. */
static void test_model_stories_text_round_trip(void **state)
{
	static struct ref_file rf;
	char path[1024];
	if (!model_path("stories260K-F32.gguf", path) ||
	    !ref_load("ref/stories260K-F32.gen.json", &rf)) {
		test_skip("../shared/models/stories260K-F32.gguf is missing");
		return;
	}
	struct engine_model *m = load_or_fail(path);
	for (int c = 0; c < rf.n_cases; c++) {
		const struct ref_case *rc = &rf.cases[c];
		int32_t ids[64];
		int64_t n = engine_tokenize(m, rc->prompt_text, strlen(rc->prompt_text), true,
		                            false, ids, 64);
		assert_int_equal(n, rc->n_prompt);
		assert_memory_equal(ids, rc->prompt, (size_t)n * sizeof *ids);
		struct buf out = BUF_INIT;
		struct tokenizer_detok d;
		tokenizer_detok_init(&d, engine_model_tokenizer(m), 0);
		for (int64_t i = 0; i < rc->n_gen; i++)
			assert_true(tokenizer_detok_push(&d, rc->gen[i], &out) >= 0);
		tokenizer_detok_flush(&d, &out);
		assert_string_equal(out.data, rc->text);
		buf_release(&out);
	}
	engine_model_free(m);
}

static void test_model_info_stories(void **state)
{
	const char *path = test_model_path("stories260K-Q8_0.gguf");
	if (!path) {
		test_skip("../shared/models/stories260K-Q8_0.gguf is missing");
		return;
	}
	struct engine_model *m = load_or_fail(path);
	const struct engine_model_info *in = engine_model_info(m);
	assert_string_equal(in->arch, "llama");
	assert_int_equal(in->n_embd, 64);
	assert_int_equal(in->n_layer, 5);
	assert_int_equal(in->n_head, 8);
	assert_int_equal(in->n_head_kv, 4);
	assert_int_equal(in->n_ff, 172);
	assert_int_equal(in->n_vocab, 512);
	assert_int_equal(in->n_ctx_train, 128);
	assert_false(in->rope_neox);
	assert_true(in->n_params > 250000 && in->n_params < 300000);
	assert_true(in->n_threads >= 1);
	assert_true(engine_token_bos(m) == 1 && engine_token_eos(m) == 2);
	assert_true(engine_token_is_eog(m, 2));
	engine_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_model_stories_f32_exact),
	    cmocka_unit_test(test_model_stories_f16),
	    cmocka_unit_test(test_model_stories_q8_0),
	    cmocka_unit_test(test_model_stories_q4_0),
	    cmocka_unit_test(test_model_stories_text_round_trip),
	    cmocka_unit_test(test_model_info_stories),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

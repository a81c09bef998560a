/* load_test.c — engine_model_load() on broken models: a missing key or
 * tensor, a wrong shape or type, an unknown architecture, a bad value, a
 * vocab-only file — each fails with a message naming what is wrong (never a
 * crash), and good files of every architecture load with the right info.
 * Variants are written from the shared models with the GGUF writer. */
#include "engine_test_util.h"

#include <string.h>

static void expect_error(const char *file, const char *want)
{
	char err[ERR_MSG_LEN] = "";
	struct engine_model *m = engine_model_load(file, NULL, err);
	if (m)
		fail_msg("%s loaded, expected an error mentioning '%s'", file, want);
	if (!strstr(err, want))
		fail_msg("error '%s' does not mention '%s'", err, want);
	print_message("ok: %s\n", err);
}

#define NEED(rel, buf)                                                                             \
	do {                                                                                       \
		if (!model_path(rel, buf)) {                                                       \
			test_skip("../shared/models/%s is missing", rel);                          \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static void test_load_missing_keys_named(void **state)
{
	char src[1024];
	NEED("synth/synth-llama-F32.gguf", src);
	static const char *const keys[] = {
	    "llama.context_length",       "llama.embedding_length",
	    "llama.block_count",          "llama.feed_forward_length",
	    "llama.attention.head_count", "llama.attention.layer_norm_rms_epsilon",
	    "general.architecture",
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *skip[] = {keys[i], NULL};
		expect_error(write_variant(src, "nokey.gguf", skip, NULL, NULL), keys[i]);
	}
}

static void test_load_missing_arch_keys_named(void **state)
{
	char src[1024];
	NEED("synth/synth-phi3-F32.gguf", src);
	const char *skip[] = {"phi3.attention.sliding_window", NULL};
	expect_error(write_variant(src, "nophi.gguf", skip, NULL, NULL),
	             "phi3.attention.sliding_window");
	NEED("synth/synth-gemma3-F32.gguf", src);
	const char *skip3[] = {"gemma3.attention.sliding_window", NULL};
	expect_error(write_variant(src, "nog3.gguf", skip3, NULL, NULL),
	             "gemma3.attention.sliding_window");
}

static void test_load_missing_tensors_named(void **state)
{
	char src[1024];
	NEED("synth/synth-qwen2-F32.gguf", src);
	static const char *const tensors[] = {"token_embd.weight", "blk.1.attn_q.weight",
	                                      "blk.0.attn_k.bias", "blk.1.ffn_down.weight",
	                                      "output_norm.weight"};
	for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++)
		expect_error(write_variant(src, "notensor.gguf", NULL, tensors[i], NULL),
		             tensors[i]);
	NEED("synth/synth-gemma3-F32.gguf", src);
	expect_error(write_variant(src, "noqn.gguf", NULL, "blk.3.attn_q_norm.weight", NULL),
	             "blk.3.attn_q_norm.weight");
}

static void set_arch_foo(struct gguf_writer *w)
{
	gguf_writer_set_str(w, "general.architecture", "mamba");
}

static void set_bad_heads(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "llama.attention.head_count_kv", 3);
}

static void set_heads_str(struct gguf_writer *w)
{
	gguf_writer_set_str(w, "llama.attention.head_count", "eight");
}

static void set_yarn(struct gguf_writer *w)
{
	gguf_writer_set_str(w, "llama.rope.scaling.type", "yarn");
}

static void set_experts(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "llama.expert_count", 8);
}

static void set_ff(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "llama.feed_forward_length", 700);
}

static void test_load_bad_values_named(void **state)
{
	char src[1024];
	NEED("synth/synth-llama-F32.gguf", src);
	const char *arch[] = {"general.architecture", NULL};
	expect_error(write_variant(src, "arch.gguf", arch, NULL, set_arch_foo),
	             "unknown architecture 'mamba'");
	const char *kv[] = {"llama.attention.head_count_kv", NULL};
	expect_error(write_variant(src, "kv.gguf", kv, NULL, set_bad_heads), "head_count_kv");
	const char *hc[] = {"llama.attention.head_count", NULL};
	expect_error(write_variant(src, "hc.gguf", hc, NULL, set_heads_str),
	             "llama.attention.head_count");
	expect_error(write_variant(src, "yarn.gguf", NULL, NULL, set_yarn), "yarn");
	expect_error(write_variant(src, "moe.gguf", NULL, NULL, set_experts), "expert_count");
	const char *ff[] = {"llama.feed_forward_length", NULL};
	expect_error(write_variant(src, "ff.gguf", ff, NULL, set_ff),
	             "blk.0.ffn_gate.weight has shape [256, 768");
}

static void test_load_not_a_model(void **state)
{
	char src[1024], err[ERR_MSG_LEN];
	expect_error("/nonexistent/model.gguf", "model.gguf");
	NEED("ggml-vocab-llama-spm.gguf", src);
	expect_error(src, "token_embd.weight");
	/* vocab-only loading works on it, and refuses sequences */
	struct engine_load_params p;
	engine_load_params_default(&p);
	p.vocab_only = true;
	struct engine_model *m = engine_model_load(src, &p, err);
	assert_non_null(m);
	assert_int_equal(engine_model_info(m)->n_vocab, 32000);
	int32_t ids[16];
	assert_true(engine_tokenize(m, "Hello world", 11, true, false, ids, 16) >= 3);
	assert_null(engine_seq_new(m, 16, err));
	engine_model_free(m);
}

static void test_load_info_every_arch(void **state)
{
	static const struct {
		const char *file, *arch;
		int layers, kv_heads, window, pattern;
		bool neox;
		float softcap;
	} want[] = {
	    {"synth/synth-llama-F32.gguf", "llama", 2, 2, 0, 0, false, 0},
	    {"synth/synth-qwen2-F32.gguf", "qwen2", 2, 2, 0, 0, true, 0},
	    {"synth/synth-gemma-F32.gguf", "gemma", 2, 4, 0, 0, true, 0},
	    {"synth/synth-gemma2-F32.gguf", "gemma2", 26, 2, 12, 2, true, 20},
	    {"synth/synth-gemma3-Q4_K.gguf", "gemma3", 8, 2, 8, 6, true, 0},
	    {"synth/synth-phi3-F32.gguf", "phi3", 2, 4, 20, 1, true, 0},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char path[1024];
		NEED(want[i].file, path);
		struct engine_model *m = load_or_fail(path);
		const struct engine_model_info *in = engine_model_info(m);
		assert_string_equal(in->arch, want[i].arch);
		assert_int_equal(in->n_layer, want[i].layers);
		assert_int_equal(in->n_head_kv, want[i].kv_heads);
		assert_int_equal(in->sliding_window, want[i].window);
		assert_int_equal(in->swa_pattern, want[i].pattern);
		assert_int_equal(in->rope_neox, want[i].neox);
		assert_true(in->attn_softcap == want[i].softcap);
		assert_int_equal(in->n_ctx_train, 256);
		assert_int_equal(in->n_vocab, 512);
		assert_true(in->load_ns > 0);
		engine_model_free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_missing_keys_named),
	    cmocka_unit_test(test_load_missing_arch_keys_named),
	    cmocka_unit_test(test_load_missing_tensors_named),
	    cmocka_unit_test(test_load_bad_values_named),
	    cmocka_unit_test(test_load_not_a_model),
	    cmocka_unit_test(test_load_info_every_arch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

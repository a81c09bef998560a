/* gguf_test.c — the GGUF reader on the shared test models (known facts of
 * stories260K, the vocab-only files and the synthetic models) and the
 * writer's round trip of every value type. Hostile files: gguf_hostile_test.c. */
#include "support/support.h"

#include "gguf/gguf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_gguf_stories260k_facts(void **state)
{
	const char *path = test_model_path("stories260K-F32.gguf");
	if (!path)
		test_skip("stories260K-F32.gguf missing from the models folder");
	char err[ERR_MSG_LEN] = "";
	struct gguf_file *f = gguf_open(path, err);
	assert_non_null(f);
	assert_int_equal(f->n_tensors, 48);
	assert_true(slice_eq(gguf_arch(f), "llama"));
	uint32_t u;
	assert_int_equal(gguf_get_u32(f, "llama.embedding_length", &u, err), 0);
	assert_int_equal(u, 64);
	assert_int_equal(gguf_get_u32(f, "llama.block_count", &u, err), 0);
	assert_int_equal(u, 5);
	assert_int_equal(gguf_get_u32(f, "llama.feed_forward_length", &u, err), 0);
	assert_int_equal(u, 172);
	assert_int_equal(gguf_get_u32(f, "llama.attention.head_count_kv", &u, err), 0);
	assert_int_equal(u, 4);
	float eps;
	assert_int_equal(gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &eps, err), 0);
	assert_true(eps > 0.9e-5f && eps < 1.1e-5f);
	const struct gguf_tensor *t = gguf_find_tensor(f, "token_embd.weight");
	assert_non_null(t);
	assert_int_equal(t->n_dims, 2);
	assert_int_equal(t->ne[0], 64);
	assert_int_equal(t->ne[1], 512);
	assert_int_equal(t->type, GGML_TYPE_F32);
	assert_int_equal(t->nbytes, 64 * 512 * 4);
	assert_int_equal((const uint8_t *)t->data - f->map, f->data_offset + t->offset);
	assert_int_equal((f->data_offset + t->offset) % f->alignment, 0);
	t = gguf_find_tensor(f, "blk.4.ffn_down.weight");
	assert_non_null(t);
	assert_int_equal(t->ne[0], 172);
	assert_int_equal(t->ne[1], 64);
	assert_null(gguf_find_tensor(f, "blk.5.ffn_down.weight"));
	assert_null(gguf_find_key(f, "no.such.key"));
	assert_int_equal(gguf_get_u32(f, "no.such.key", &u, err), ERR_NOT_FOUND);
	/* A string key read as an integer: type error naming the key. */
	assert_int_equal(gguf_get_u32(f, "general.architecture", &u, err), ERR_INVALID);
	assert_non_null(strstr(err, "general.architecture"));
	const struct gguf_value *toks;
	assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &toks, err), 0);
	assert_int_equal(toks->v.arr.n, 512);
	assert_true(slice_eq(gguf_arr_get_str(toks, 3), "<0x00>"));
	const struct gguf_value *scores;
	assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, &scores, err),
	                 0);
	assert_int_equal(scores->v.arr.n, 512);
	assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_VT_INT32, &scores, err),
	                 ERR_INVALID);
	assert_int_equal(gguf_param_count(f), 292800);
	char cnt[16];
	gguf_format_count(gguf_param_count(f), cnt);
	assert_string_equal(cnt, "292.8K");
	assert_string_equal(gguf_quantization(f), "F32");
	gguf_close(f);
}

/* Every .gguf in dir opens; returns how many did. */
static int open_all(const char *dir, bool expect_tensors)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 5, ".gguf"))
			continue;
		char path[4096], err[ERR_MSG_LEN] = "";
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct gguf_file *f = gguf_open(path, err);
		if (!f)
			fail_msg("%s: %s", path, err);
		bool vocab = !strncmp(e->d_name, "ggml-vocab-", 11);
		if (vocab)
			assert_int_equal(f->n_tensors, 0);
		else if (expect_tensors)
			assert_true(f->n_tensors > 0);
		const struct gguf_value *toks;
		assert_int_equal(
		    gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &toks, err), 0);
		assert_true(toks->v.arr.n >= 512);
		assert_true(gguf_arch(f).n > 0);
		n++;
		gguf_close(f);
	}
	closedir(d);
	return n;
}

static void test_gguf_open_every_model(void **state)
{
	const char *dir = test_models_dir();
	if (!dir)
		test_skip("models folder missing");
	char synth[4096];
	snprintf(synth, sizeof synth, "%s/synth", dir);
	int n = open_all(dir, true);
	int m = open_all(synth, true);
	print_message("opened %d top-level and %d synth GGUF files\n", n, m);
	assert_true(n >= 4);
}

static void test_gguf_synth_gemma3_facts(void **state)
{
	const char *path = test_model_path("synth/synth-gemma3-Q4_K.gguf");
	if (!path)
		test_skip("synth/synth-gemma3-Q4_K.gguf missing");
	char err[ERR_MSG_LEN];
	struct gguf_file *f = gguf_open(path, err);
	assert_non_null(f);
	assert_true(slice_eq(gguf_arch(f), "gemma3"));
	assert_int_equal(f->n_tensors, 106);
	uint32_t u;
	assert_int_equal(gguf_get_u32(f, "gemma3.attention.sliding_window", &u, err), 0);
	assert_int_equal(u, 8);
	const struct gguf_kv *kv = gguf_find_arch_key(f, "block_count");
	assert_non_null(kv);
	int n_q4k = 0;
	for (uint64_t i = 0; i < f->n_tensors; i++)
		n_q4k += f->tensors[i].type == GGML_TYPE_Q4_K;
	assert_int_equal(n_q4k, 57);
	const struct gguf_tensor *t = gguf_find_tensor(f, "blk.0.attn_q_norm.weight");
	assert_non_null(t);
	assert_int_equal(t->ne[0], 64);
	assert_int_equal(t->type, GGML_TYPE_F32);
	gguf_close(f);
}

static void test_gguf_type_table(void **state)
{
	assert_int_equal(ggml_row_size(GGML_TYPE_Q4_K, 256), 144);
	assert_int_equal(ggml_row_size(GGML_TYPE_Q8_0, 64), 68);
	assert_int_equal(ggml_row_size(GGML_TYPE_Q8_0, 63), 0);
	assert_int_equal(ggml_row_size(GGML_TYPE_F16, 7), 14);
	assert_int_equal(ggml_row_size(GGML_TYPE_Q6_K, 512), 420);
	assert_int_equal(ggml_row_size(GGML_TYPE_F32, INT64_MAX), 0); /* overflow */
	assert_int_equal(ggml_row_size(GGML_TYPE_I64, INT64_MAX / 2), 0);
	assert_null(ggml_type_layout(4));
	assert_null(ggml_type_layout(-1));
	assert_null(ggml_type_layout(GGML_TYPE_COUNT));
	assert_int_equal(ggml_type_from_name("q4_k"), GGML_TYPE_Q4_K);
	assert_int_equal(ggml_type_from_name("BF16"), GGML_TYPE_BF16);
	assert_int_equal(ggml_type_from_name("Q4_K_M"), -1);
	assert_string_equal(gguf_file_type_name(15), "Q4_K_M");
	assert_null(gguf_file_type_name(4));
	char s[16];
	gguf_format_count(1100000000, s);
	assert_string_equal(s, "1.1B");
	gguf_format_count(7000000000ULL, s);
	assert_string_equal(s, "7B");
	gguf_format_count(260100, s);
	assert_string_equal(s, "260.1K");
	gguf_format_count(999, s);
	assert_string_equal(s, "999");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gguf_stories260k_facts),
	    cmocka_unit_test(test_gguf_open_every_model),
	    cmocka_unit_test(test_gguf_synth_gemma3_facts),
	    cmocka_unit_test(test_gguf_type_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* quantize_model_test.c — model-level quantization: the per-tensor type
 * rules (llama.cpp's Q4_K_M for TinyLlama's 22 layers is the known mix of
 * 135 Q4_K + 21 Q6_K + 45 F32 tensors), row-length fallbacks, whole-file
 * conversion against llama-quantize's own files (tensor bytes identical),
 * and the synthetic-model writer behind `gpurun synth` (shapes, types,
 * determinism across thread counts). */
#include "support/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/quant.h"
#include "engine/quantize_model.h"
#include "engine/synth.h"
#include "gguf/gguf.h"

static void test_quantize_ftype_names(void **state)
{
	const struct quantize_ftype *f = quantize_ftype_find("q4_k_m");
	assert_non_null(f);
	assert_int_equal(f->ftype, 15);
	assert_int_equal(f->base_type, GGML_TYPE_Q4_K);
	assert_int_equal(quantize_ftype_find("Q8_0")->ftype, 7);
	assert_int_equal(quantize_ftype_find("F16")->ftype, 1);
	assert_true(quantize_ftype_find("Q4_K")->pure);
	assert_null(quantize_ftype_find("Q4_X"));
	assert_null(quantize_ftype_find(""));
	for (const struct quantize_ftype *t = quantize_ftype_list(); t->name; t++)
		assert_non_null(quant_get(t->base_type));
}

static void test_quantize_convertible_tensors(void **state)
{
	assert_true(quantize_tensor_is_convertible("blk.0.attn_q.weight", 2));
	assert_true(quantize_tensor_is_convertible("token_embd.weight", 2));
	assert_false(quantize_tensor_is_convertible("blk.0.attn_norm.weight", 1));
	assert_false(quantize_tensor_is_convertible("blk.0.attn_q_norm.weight", 2));
	assert_false(quantize_tensor_is_convertible("blk.0.attn_q.bias", 2));
	assert_false(quantize_tensor_is_convertible("blk.0.ffn_gate_inp.weight", 2));
	assert_false(quantize_tensor_is_convertible("position_embd.weight", 2));
}

/* Types for a llama of n layers in converter order; counts per type. */
static void count_mix(const char *ftype, int layers, int64_t dim, int64_t ffn, int *counts)
{
	struct quantize_policy p;
	quantize_policy_init(&p, quantize_ftype_find(ftype), false, NULL);
	p.has_output = true;
	p.n_attn_v = p.n_ffn_down = layers;
	p.n_gqa = 8;
	memset(counts, 0, GGML_TYPE_COUNT * sizeof *counts);
	counts[quantize_policy_type(&p, "token_embd.weight", 2, dim, GGML_TYPE_F32)]++;
	counts[quantize_policy_type(&p, "output_norm.weight", 1, dim, GGML_TYPE_F32)]++;
	counts[quantize_policy_type(&p, "output.weight", 2, dim, GGML_TYPE_F32)]++;
	static const char *names[] = {"attn_norm", "attn_q",   "attn_k", "attn_v",  "attn_output",
	                              "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};
	for (int l = 0; l < layers; l++)
		for (int k = 0; k < 9; k++) {
			char nm[64];
			snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, names[k]);
			bool norm = strstr(names[k], "norm") != NULL;
			counts[quantize_policy_type(&p, nm, norm ? 1 : 2, k == 8 ? ffn : dim,
			                            GGML_TYPE_F32)]++;
		}
}

static void test_quantize_q4_k_m_mix_tinyllama(void **state)
{
	int c[GGML_TYPE_COUNT];
	count_mix("Q4_K_M", 22, 2048, 5632, c);
	assert_int_equal(c[GGML_TYPE_F32], 45);
	assert_int_equal(c[GGML_TYPE_Q4_K], 135);
	assert_int_equal(c[GGML_TYPE_Q6_K], 21);
	/* Q4_0 (not pure): only the output matrix moves to Q6_K */
	count_mix("Q4_0", 22, 2048, 5632, c);
	assert_int_equal(c[GGML_TYPE_Q4_0], 155);
	assert_int_equal(c[GGML_TYPE_Q6_K], 1);
	count_mix("Q8_0", 22, 2048, 5632, c);
	assert_int_equal(c[GGML_TYPE_Q8_0], 156);
	count_mix("F16", 22, 2048, 5632, c);
	assert_int_equal(c[GGML_TYPE_F16], 156);
	assert_int_equal(c[GGML_TYPE_F32], 45);
}

static void test_quantize_row_length_fallbacks(void **state)
{
	struct quantize_policy p;
	quantize_policy_init(&p, quantize_ftype_find("Q4_K_M"), false, NULL);
	p.n_attn_v = p.n_ffn_down = 5;
	p.has_output = true;
	/* stories260K: rows of 64 and 172 */
	assert_int_equal(quantize_policy_type(&p, "blk.0.attn_q.weight", 2, 64, 0), GGML_TYPE_Q5_0);
	assert_int_equal(quantize_policy_type(&p, "blk.0.ffn_down.weight", 2, 172, 0),
	                 GGML_TYPE_F16);
	assert_int_equal(quantize_policy_type(&p, "output.weight", 2, 64, 0), GGML_TYPE_Q8_0);
	assert_int_equal(quantize_policy_type(&p, "output.weight", 2, 172, 0), GGML_TYPE_F16);
	assert_int_equal(p.n_fallback, 3);
	quantize_policy_init(&p, quantize_ftype_find("Q4_0"), true, NULL);
	assert_int_equal(quantize_policy_type(&p, "blk.0.ffn_down.weight", 2, 172, 0),
	                 GGML_TYPE_F16);
	assert_int_equal(quantize_policy_type(&p, "output.weight", 2, 64, 0), GGML_TYPE_Q4_0);
	quantize_policy_init(&p, quantize_ftype_find("Q6_K"), false, NULL);
	assert_int_equal(quantize_policy_type(&p, "blk.0.attn_q.weight", 2, 96, 0), GGML_TYPE_Q8_0);
	assert_int_equal(quantize_policy_type(&p, "blk.0.attn_norm.weight", 1, 96, 0),
	                 GGML_TYPE_F32);
}

static int compare_tensors(const char *a_path, const char *b_path)
{
	char err[ERR_MSG_LEN];
	struct gguf_file *a = gguf_open(a_path, err), *b = gguf_open(b_path, err);
	if (!a || !b)
		fail_msg("open: %s", err);
	int diff = 0;
	assert_int_equal(a->n_tensors, b->n_tensors);
	for (uint64_t i = 0; i < a->n_tensors; i++) {
		const struct gguf_tensor *t = &a->tensors[i];
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)t->name.n, t->name.p);
		const struct gguf_tensor *u = gguf_find_tensor(b, name);
		if (!u || u->type != t->type || u->nbytes != t->nbytes ||
		    memcmp(u->data, t->data, t->nbytes)) {
			print_message("  differs: %s\n", name);
			diff++;
		}
	}
	gguf_close(a);
	gguf_close(b);
	return diff;
}

static void test_quantize_file_matches_llama_quantize(void **state)
{
	const char *p = test_model_path("synth/synth-llama-F32.gguf");
	if (!p) {
		test_skip("synth/synth-llama-F32.gguf not found");
		return;
	}
	char src[512]; /* test_model_path's buffer is reused below */
	snprintf(src, sizeof src, "%s", p);
	static const char *types[] = {"Q8_0", "Q4_0", "Q4_K", "Q6_K", "F16"};
	char out[512], err[ERR_MSG_LEN], ref_rel[128];
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		snprintf(out, sizeof out, "%s/q-%s.gguf", test_tmp_dir(), types[i]);
		struct quantize_options o = {
		    quantize_ftype_find(types[i]), true, false, 2, NULL, NULL};
		struct quantize_result res;
		if (quantize_model_file(src, out, &o, &res, err))
			fail_msg("%s: %s", types[i], err);
		assert_int_equal(res.n_tensors, 21);
		assert_int_equal(res.n_converted, 16);
		snprintf(ref_rel, sizeof ref_rel, "synth/synth-llama-%s.gguf", types[i]);
		char ref[512];
		snprintf(ref, sizeof ref, "%s", test_model_path(ref_rel));
		assert_int_equal(compare_tensors(out, ref), 0);
		struct gguf_file *f = gguf_open(out, err);
		uint32_t ft = 0;
		assert_int_equal(gguf_get_u32(f, "general.file_type", &ft, err), 0);
		assert_int_equal(ft, quantize_ftype_find(types[i])->ftype);
		assert_int_equal(gguf_get_u32(f, "general.quantization_version", &ft, err), 0);
		assert_int_equal(ft, 2);
		gguf_close(f);
	}
}

static void test_quantize_file_rejects_requantize(void **state)
{
	const char *src = test_model_path("synth/synth-llama-Q8_0.gguf");
	if (!src) {
		test_skip("synth/synth-llama-Q8_0.gguf not found");
		return;
	}
	char out[512], err[ERR_MSG_LEN];
	snprintf(out, sizeof out, "%s/requant.gguf", test_tmp_dir());
	struct quantize_options o = {quantize_ftype_find("Q4_0"), true, false, 1, NULL, NULL};
	assert_int_equal(quantize_model_file(src, out, &o, NULL, err), ERR_INVALID);
	assert_non_null(strstr(err, "allow-requantize"));
	o.allow_requantize = true;
	assert_int_equal(quantize_model_file(src, out, &o, NULL, err), 0);
	assert_int_not_equal(quantize_model_file("/nonexistent.gguf", out, &o, NULL, err), 0);
}

static void run_synth(const char *out, int threads)
{
	struct synth_params p;
	char err[ERR_MSG_LEN];
	synth_params_default(&p);
	p.shape = (struct synth_shape){256, 2, 4, 2, 512, 300, 2048};
	p.ft = quantize_ftype_find("Q4_K_M");
	p.n_threads = threads;
	assert_int_equal(synth_model_write(out, &p, NULL, err), 0);
}

static void test_quantize_synth_model(void **state)
{
	char a[512], b[512], err[ERR_MSG_LEN];
	snprintf(a, sizeof a, "%s/synth-a.gguf", test_tmp_dir());
	snprintf(b, sizeof b, "%s/synth-b.gguf", test_tmp_dir());
	run_synth(a, 1);
	run_synth(b, 2);
	assert_int_equal(compare_tensors(a, b), 0); /* same seed, other thread count */
	struct gguf_file *f = gguf_open(a, err);
	assert_non_null(f);
	assert_int_equal(f->n_tensors, 3 + 9 * 2);
	const struct gguf_tensor *t = gguf_find_tensor(f, "blk.1.attn_k.weight");
	assert_non_null(t);
	assert_int_equal(t->ne[0], 256);
	assert_int_equal(t->ne[1], 128);
	assert_int_equal(t->type, GGML_TYPE_Q4_K);
	assert_int_equal(gguf_find_tensor(f, "output.weight")->type, GGML_TYPE_Q6_K);
	assert_int_equal(gguf_find_tensor(f, "blk.1.ffn_down.weight")->type, GGML_TYPE_Q6_K);
	uint32_t v = 0;
	assert_int_equal(gguf_get_u32(f, "llama.vocab_size", &v, err), 0);
	assert_int_equal(v, 300);
	const struct gguf_value *toks;
	assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &toks, err), 0);
	assert_int_equal(toks->v.arr.n, 300);
	assert_true(slice_eq(gguf_arr_get_str(toks, 3), "<0x00>"));
	assert_true(slice_eq(gguf_arr_get_str(toks, 258), "<0xFF>"));
	assert_true(slice_eq(gguf_arr_get_str(toks, 259), "\xe2\x96\x81"));
	for (uint64_t i = 0; i < toks->v.arr.n; i++) /* every piece once */
		for (uint64_t k = i + 1; k < toks->v.arr.n; k++) {
			struct slice p = gguf_arr_get_str(toks, i), q = gguf_arr_get_str(toks, k);
			assert_false(p.n == q.n && !memcmp(p.p, q.p, p.n));
		}
	/* the weights are what we asked for: token_embd ~ N(0, 1) */
	const struct gguf_tensor *e = gguf_find_tensor(f, "token_embd.weight");
	float row[256];
	double ss = 0;
	for (int r = 0; r < 300; r++) {
		quant_get(e->type)->to_float(
		    (const uint8_t *)e->data + r * quant_row_size(e->type, 256), row, 256);
		for (int k = 0; k < 256; k++)
			ss += row[k] * row[k];
	}
	double sd = sqrt(ss / (300 * 256));
	assert_true(sd > 0.95 && sd < 1.05);
	gguf_close(f);
}

static void test_quantize_synth_copies_vocab(void **state)
{
	const char *vocab = test_model_path("ggml-vocab-llama-spm.gguf");
	if (!vocab) {
		test_skip("ggml-vocab-llama-spm.gguf not found");
		return;
	}
	char out[512], err[ERR_MSG_LEN];
	snprintf(out, sizeof out, "%s/synth-vocab.gguf", test_tmp_dir());
	struct gguf_file *vf = gguf_open(vocab, err);
	assert_non_null(vf);
	struct synth_params p;
	synth_params_default(&p);
	p.shape = (struct synth_shape){64, 1, 2, 1, 128, 0, 2048};
	p.ft = quantize_ftype_find("F16");
	p.vocab = vf;
	size_t total = 0;
	assert_int_equal(synth_model_write(out, &p, &total, err), 0);
	assert_true(total > 0);
	struct gguf_file *f = gguf_open(out, err);
	assert_non_null(f);
	assert_int_equal(gguf_find_tensor(f, "token_embd.weight")->ne[1], 32000);
	assert_int_equal(gguf_find_tensor(f, "blk.0.ffn_down.weight")->type, GGML_TYPE_F16);
	uint32_t v = 0;
	assert_int_equal(gguf_get_u32(f, "llama.vocab_size", &v, err), 0);
	assert_int_equal(v, 32000);
	struct slice model;
	assert_int_equal(gguf_get_str(f, "tokenizer.ggml.model", &model, err), 0);
	assert_true(slice_eq(model, "llama"));
	gguf_close(f);
	gguf_close(vf);
	p.vocab = NULL;
	p.shape = (struct synth_shape){100, 1, 3, 1, 128, 300, 2048}; /* 100 % 3 != 0 */
	assert_int_equal(synth_model_write(out, &p, NULL, err), ERR_INVALID);
	p.shape = (struct synth_shape){64, 1, 2, 1, 128, 258, 2048}; /* no room for the bytes */
	assert_int_equal(synth_shape_check(&p.shape, err), ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quantize_ftype_names),
	    cmocka_unit_test(test_quantize_convertible_tensors),
	    cmocka_unit_test(test_quantize_q4_k_m_mix_tinyllama),
	    cmocka_unit_test(test_quantize_row_length_fallbacks),
	    cmocka_unit_test(test_quantize_file_matches_llama_quantize),
	    cmocka_unit_test(test_quantize_file_rejects_requantize),
	    cmocka_unit_test(test_quantize_synth_model),
	    cmocka_unit_test(test_quantize_synth_copies_vocab),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

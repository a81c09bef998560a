/* quant_models_test.c — our quantizers and dequantizers against the files
 * llama.cpp wrote: ../shared/models/synth/synth-llama-<T>.gguf came from
 * `llama-quantize --pure synth-llama-F32.gguf ... <T>`, so quantizing each
 * F32 tensor must reproduce its bytes exactly (same rounding, same scale
 * search), and dequantizing each tensor must land at the relative RMS error
 * expected for that type: a wrong layout would give errors near 1.
 * Expected ranges: the values measured on these files (0.99x..1.01x; the
 * files are fixed, so any drift means the code changed). SKIP without them. */
#include "support/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/quant.h"
#include "gguf/gguf.h"

struct synth_case {
	const char *type;
	double rel_rms; /* dequantized vs F32 over all 16 matrices */
};

static const struct synth_case synth_cases[] = {
    {"F16", 0.000206756}, {"BF16", 0.0016571}, {"Q8_0", 0.00534504}, {"Q6_K", 0.0177073},
    {"Q5_K", 0.036087},   {"Q5_1", 0.0378194}, {"Q5_0", 0.0426654},  {"Q4_K", 0.0712797},
    {"Q4_1", 0.0781544},  {"Q4_0", 0.085804},  {"Q3_K", 0.150704},   {"Q2_K", 0.296538},
};

static struct gguf_file *open_model(const char *rel)
{
	const char *path = test_model_path(rel);
	if (!path)
		return NULL;
	char err[ERR_MSG_LEN];
	struct gguf_file *f = gguf_open(path, err);
	if (!f)
		fail_msg("%s: %s", rel, err);
	return f;
}

static const struct gguf_tensor *twin(const struct gguf_file *f32, const struct gguf_tensor *t)
{
	char name[256];
	snprintf(name, sizeof name, "%.*s", (int)t->name.n, t->name.p);
	const struct gguf_tensor *r = gguf_find_tensor(f32, name);
	if (!r)
		fail_msg("tensor %s missing from the F32 model", name);
	return r;
}

/* Runs fn over every quantized tensor of synth-llama-<type> with its F32
 * twin; returns false (after SKIP) when the models are missing. */
static bool each_tensor(const char *type,
                        void (*fn)(const struct gguf_tensor *q, const struct gguf_tensor *f,
                                   void *ctx),
                        void *ctx)
{
	struct gguf_file *f32 = open_model("synth/synth-llama-F32.gguf");
	char rel[128];
	snprintf(rel, sizeof rel, "synth/synth-llama-%s.gguf", type);
	struct gguf_file *q = f32 ? open_model(rel) : NULL;
	if (!q) {
		gguf_close(f32);
		return false;
	}
	int n = 0;
	for (uint64_t i = 0; i < q->n_tensors; i++) {
		const struct gguf_tensor *t = &q->tensors[i];
		if (t->type == GGML_TYPE_F32)
			continue;
		const struct gguf_tensor *f = twin(f32, t);
		assert_int_equal(f->type, GGML_TYPE_F32);
		fn(t, f, ctx);
		n++;
	}
	assert_int_equal(n, 16);
	gguf_close(q);
	gguf_close(f32);
	return true;
}

struct exact_ctx {
	long blocks, same;
};

static void quantize_and_compare(const struct gguf_tensor *t, const struct gguf_tensor *f,
                                 void *vctx)
{
	struct exact_ctx *c = vctx;
	const struct quant_traits *tr = quant_get(t->type);
	assert_non_null(tr);
	int64_t n = (int64_t)(f->nbytes / sizeof(float));
	assert_int_equal(quant_row_size(t->type, n), t->nbytes);
	uint8_t *buf = malloc(t->nbytes);
	tr->quantize(f->data, buf, n);
	size_t bs = tr->type_size;
	for (size_t b = 0; b < t->nbytes / bs; b++, c->blocks++)
		c->same += !memcmp(buf + b * bs, (const uint8_t *)t->data + b * bs, bs);
	free(buf);
}

static void test_quant_matches_llama_quantize(void **state)
{
	for (size_t i = 0; i < sizeof synth_cases / sizeof synth_cases[0]; i++) {
		struct exact_ctx c = {0, 0};
		if (!each_tensor(synth_cases[i].type, quantize_and_compare, &c)) {
			test_skip("synth models not found in %s",
			          test_models_dir() ? test_models_dir() : "../shared/models");
			return;
		}
		print_message("  %-5s %ld/%ld blocks identical to llama-quantize\n",
		              synth_cases[i].type, c.same, c.blocks);
		if (c.same != c.blocks)
			fail_msg("%s: %ld of %ld blocks differ", synth_cases[i].type,
			         c.blocks - c.same, c.blocks);
	}
}

struct rms_ctx {
	double se, sr;
};

static void dequant_error(const struct gguf_tensor *t, const struct gguf_tensor *f, void *vctx)
{
	struct rms_ctx *c = vctx;
	int64_t n = (int64_t)(f->nbytes / sizeof(float));
	float *out = malloc((size_t)n * sizeof *out);
	quant_get(t->type)->to_float(t->data, out, n);
	const float *ref = f->data;
	for (int64_t k = 0; k < n; k++) {
		double d = (double)out[k] - ref[k];
		c->se += d * d;
		c->sr += (double)ref[k] * ref[k];
	}
	free(out);
}

static void test_quant_synth_dequant_error(void **state)
{
	for (size_t i = 0; i < sizeof synth_cases / sizeof synth_cases[0]; i++) {
		struct rms_ctx c = {0, 0};
		if (!each_tensor(synth_cases[i].type, dequant_error, &c)) {
			test_skip("synth models not found");
			return;
		}
		double e = sqrt(c.se / c.sr), want = synth_cases[i].rel_rms;
		print_message("  %-5s dequantized vs F32: rel RMS %.6g (expected %.6g)\n",
		              synth_cases[i].type, e, want);
		if (e < want * 0.99 || e > want * 1.01)
			fail_msg("%s: rel RMS %g outside %g +- 1%%", synth_cases[i].type, e, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quant_matches_llama_quantize),
	    cmocka_unit_test(test_quant_synth_dequant_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

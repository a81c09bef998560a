/* pack_test.c — packed weights (pack.c): a model loaded with its matrices
 * packed gives the same logits, bit for bit, as the file's layout
 * (GPURUN_PACK=0), whether the passes wait for the background packing or
 * run while the matrices switch over one by one, for a prompt (batched
 * prefill, AMX where present) and single-token decode steps, on 1, 2 and 4
 * threads (4 threads split stories260K's 8-row KV heads inside a 16-row
 * stripe: the partial-stripe path); only the CPU's packed types are
 * packed, and a CPU without them packs nothing. */
#include "support/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/quant.h"

#define N_PROMPT 20
#define N_DECODE 4

struct run {
	float *logits; /* (N_PROMPT + N_DECODE, n_vocab) */
	int64_t packed_bytes, n_vocab;
};

/* RUN_FILE: GPURUN_PACK=0; RUN_WAIT: packed before the first pass;
 * RUN_RACE: passes while the matrices switch over. */
enum run_mode { RUN_FILE, RUN_WAIT, RUN_RACE };

static void run_model(const char *path, int threads, enum run_mode mode, struct run *out)
{
	char err[ERR_MSG_LEN];
	struct engine_load_params p;
	engine_load_params_default(&p);
	p.n_threads = threads;
	p.n_gpu_layers = 0;
	setenv("GPURUN_PACK", mode == RUN_FILE ? "0" : "1", 1);
	struct engine_model *m = engine_model_load(path, &p, err);
	unsetenv("GPURUN_PACK");
	if (!m)
		fail_msg("load %s: %s", path, err);
	if (mode == RUN_WAIT)
		engine_model_wait_packed(m);
	const struct engine_model_info *in = engine_model_info(m);
	out->n_vocab = in->n_vocab;
	out->logits = malloc((size_t)(N_PROMPT + N_DECODE) * (size_t)in->n_vocab * sizeof(float));
	struct engine_seq *s = engine_seq_new(m, 64, err);
	assert_non_null(s);
	int32_t toks[N_PROMPT + N_DECODE];
	for (int i = 0; i < N_PROMPT + N_DECODE; i++)
		toks[i] = (int32_t)((i * 37 + 5) % in->n_vocab);
	assert_int_equal(engine_seq_eval(s, toks, N_PROMPT, out->logits), 0);
	for (int i = 0; i < N_DECODE; i++)
		assert_int_equal(engine_seq_eval(s, toks + N_PROMPT + i, 1,
		                                 out->logits + (N_PROMPT + i) * in->n_vocab),
		                 0);
	engine_model_wait_packed(m);
	out->packed_bytes = in->packed_bytes;
	engine_seq_free(s);
	engine_model_free(m);
}

static void same_logits(const char *rel, int threads, const char *what, const struct run *a,
                        const struct run *b)
{
	size_t n = (size_t)(N_PROMPT + N_DECODE) * (size_t)a->n_vocab;
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a->logits[i], &b->logits[i], sizeof(float)) != 0)
			fail_msg("%s, %d threads: token %zu logit %zu: %s %.9g, file layout %.9g",
			         rel, threads, i / (size_t)a->n_vocab, i % (size_t)a->n_vocab, what,
			         b->logits[i], a->logits[i]);
}

static void check_model(const char *rel, int type)
{
	const char *path = test_model_path(rel);
	if (!path) {
		test_skip("%s not found under %s", rel, test_models_dir());
		return;
	}
	const struct quant_traits *qt = quant_get(type);
	static const int threads[] = {1, 2, 4};
	setenv("GPURUN_THREAD_WORK", "0", 1); /* every thread, however small the model */
	for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
		struct run a, b[2];
		run_model(path, threads[t], RUN_FILE, &a);
		run_model(path, threads[t], RUN_WAIT, &b[0]);
		run_model(path, threads[t], RUN_RACE, &b[1]);
		assert_int_equal(a.packed_bytes, 0);
		for (int k = 0; k < 2; k++) {
			if (qt->pack16)
				assert_true(b[k].packed_bytes > 0);
			else
				assert_int_equal(b[k].packed_bytes, 0);
			same_logits(rel, threads[t], k ? "racing the packing" : "packed", &a,
			            &b[k]);
			free(b[k].logits);
		}
		free(a.logits);
	}
	unsetenv("GPURUN_THREAD_WORK");
	print_message("%s: %s\n", rel, qt->pack16 ? "packed, same logits" : "no packed form here");
}

/* Freed while the packing runs: the thread stops, nothing leaks. */
static void test_pack_free_while_packing(void **state)
{
	(void)state;
	const char *path = test_model_path("synth/synth-llama-Q4_0.gguf");
	if (!path) {
		test_skip("synth/synth-llama-Q4_0.gguf not found under %s", test_models_dir());
		return;
	}
	char err[ERR_MSG_LEN];
	for (int i = 0; i < 20; i++) {
		struct engine_model *m = engine_model_load(path, NULL, err);
		assert_non_null(m);
		engine_model_free(m);
	}
}

struct model_case {
	const char *rel; /* under the test models */
	int type;        /* of its matrices */
};

static void test_pack_model_same_logits(void **state)
{
	const struct model_case *c = *state;
	check_model(c->rel, c->type);
}

int main(void)
{
	static const struct model_case models[] = {
	    {"stories260K-Q4_0.gguf", GGML_TYPE_Q4_0},
	    {"stories260K-Q8_0.gguf", GGML_TYPE_Q8_0},
	    {"synth/synth-llama-Q4_0.gguf", GGML_TYPE_Q4_0},
	    {"synth/synth-llama-Q8_0.gguf", GGML_TYPE_Q8_0},
	    {"synth/synth-llama-Q4_K.gguf", GGML_TYPE_Q4_K},
	    {"synth/synth-llama-Q6_K.gguf", GGML_TYPE_Q6_K},
	    {"synth/synth-gemma3-Q4_K.gguf", GGML_TYPE_Q4_K},
	};
	enum { N = sizeof models / sizeof models[0] };
	static struct CMUnitTest tests[N + 1];
	static char names[N][96];
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "test_pack_model_same_logits %s",
		         models[i].rel);
		tests[i] = (struct CMUnitTest){names[i], test_pack_model_same_logits, NULL, NULL,
		                               (void *)&models[i]};
	}
	tests[N] = (struct CMUnitTest)cmocka_unit_test(test_pack_free_while_packing);
	return _cmocka_run_group_tests("pack", tests, N + 1, NULL, NULL);
}

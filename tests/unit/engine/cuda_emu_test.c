/* cuda_emu_test.c — the CUDA backend on an emulated device (cuda_test_emu.h:
 * host memory, and a C model of every kernel in the kernels' order of
 * operations): the backend's host side (weight upload and repacking, pass
 * buffers, step uploads, every launch and its parameters, logits and
 * embeddings downloads, KV caches per sequence) runs unchanged, and the
 * models of ../shared/models must meet the CPU tests' references and
 * tolerances (cuda_test_models.h). What this cannot check — the CUDA code
 * of each kernel itself — cuda_test.c checks on a GPU. */
#include "support/support.h"

#include "cuda_test_emu.h"
#include "cuda_test_models.h"

static int setup(void **state)
{
	emu_reset();
	cuda__dev_set_api_for_test(emu_api());
	return 0;
}

static int teardown(void **state)
{
	cuda__dev_set_api_for_test(NULL);
	if (emu.allocs != emu.frees) {
		print_message("device memory leaked: %ld allocations, %ld frees\n", emu.allocs,
		              emu.frees);
		return -1;
	}
	return 0;
}

static void test_cuda_emu_stories_f32(void **state)
{
	cm_check_stories("stories260K-F32.gguf", "ref/stories260K-F32.gen.json", CM_F32_TOL, 64);
}

static void test_cuda_emu_stories_f16(void **state)
{
	cm_check_stories("stories260K-F16.gguf", "ref/stories260K-F16.gen.json", CM_F16_TOL,
	                 CM_MIN_MATCH);
}

static void test_cuda_emu_stories_q8_0(void **state)
{
	cm_check_stories("stories260K-Q8_0.gguf", "ref/stories260K-Q8_0.gen.json", CM_QUANT_TOL,
	                 CM_MIN_MATCH);
}

static void test_cuda_emu_stories_q4_0(void **state)
{
	cm_check_stories("stories260K-Q4_0.gguf", "ref/stories260K-Q4_0.gen.json", CM_QUANT_TOL,
	                 CM_MIN_MATCH);
}

#define SYNTH(fn, name, tol, aq)                                                                   \
	static void fn(void **state)                                                               \
	{                                                                                          \
		cm_check_synth(name, tol, aq);                                                     \
	}

SYNTH(test_cuda_emu_llama_f32, "synth-llama-F32", CM_F32_TOL, false)
SYNTH(test_cuda_emu_qwen2_f32, "synth-qwen2-F32", CM_F32_TOL, false)
SYNTH(test_cuda_emu_gemma_f32, "synth-gemma-F32", CM_GEMMA_TOL, false)
SYNTH(test_cuda_emu_gemma2_f32, "synth-gemma2-F32", CM_GEMMA_TOL, false)
SYNTH(test_cuda_emu_gemma3_f32, "synth-gemma3-F32", CM_GEMMA_TOL, false)
SYNTH(test_cuda_emu_phi3_f32, "synth-phi3-F32", CM_F32_TOL, false)
SYNTH(test_cuda_emu_llama_f16, "synth-llama-F16", CM_AQ_HALF_TOL, true)
SYNTH(test_cuda_emu_llama_q8_0, "synth-llama-Q8_0", CM_AQ_TOL, true)
SYNTH(test_cuda_emu_llama_q4_0, "synth-llama-Q4_0", CM_AQ_TOL, true)
SYNTH(test_cuda_emu_llama_q4_k, "synth-llama-Q4_K", CM_AQ_TOL, true)
SYNTH(test_cuda_emu_llama_q6_k, "synth-llama-Q6_K", CM_AQ_TOL, true)
SYNTH(test_cuda_emu_gemma3_q8_0, "synth-gemma3-Q8_0", CM_AQ_TOL, true)
SYNTH(test_cuda_emu_gemma3_q4_k, "synth-gemma3-Q4_K", CM_AQ_TOL, true)

static void test_cuda_emu_unsupported_type_runs_on_cpu(void **state)
{
	cm_check_unsupported("synth/synth-llama-Q5_K.gguf", "Q5_K");
}

static void test_cuda_emu_batching_is_exact(void **state)
{
	cm_check_batching_exact("stories260K-Q8_0.gguf");
}

static void test_cuda_emu_embed_and_generate(void **state)
{
	cm_check_embed_generate("stories260K-F32.gguf");
}

/* Decode steps replayed from captured graphs compute what direct launches
 * compute, bit for bit; a graph is captured once per shape and freed. */
static void test_cuda_emu_graphs_replay_exact(void **state)
{
	char path[1024];
	if (!model_path("stories260K-Q4_0.gguf", path)) {
		test_skip("../shared/models/stories260K-Q4_0.gguf is missing");
		return;
	}
	const int32_t prompt[] = {1, 403, 407, 261, 378};
	struct run_out a, b;
	emu.captures = emu.graph_launches = 0;
	setenv("GPURUN_CUDA_GRAPH", "0", 1);
	struct engine_model *m = cm_load(path, ENGINE_KV_F16, 999);
	run_greedy(m, 128, prompt, 5, 40, &a);
	engine_model_free(m);
	assert_int_equal(emu.captures, 0);
	unsetenv("GPURUN_CUDA_GRAPH");
	m = cm_load(path, ENGINE_KV_F16, 999);
	run_greedy(m, 128, prompt, 5, 40, &b);
	print_message("%ld captures, %ld graph launches\n", emu.captures, emu.graph_launches);
	assert_true(emu.captures >= 1 && emu.captures <= 3); /* the prompt runs directly */
	assert_true(emu.graph_launches >= 38);
	engine_model_free(m);
	assert_int_equal(emu.graphs_live, 0); /* every captured graph was destroyed */
	assert_memory_equal(a.gen, b.gen, sizeof a.gen);
	for (int i = 0; i < 40; i++)
		assert_memory_equal(a.logits[i], b.logits[i], 512 * sizeof(float));
	run_out_free(&a);
	run_out_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cuda_emu_stories_f32),
	    cmocka_unit_test(test_cuda_emu_stories_f16),
	    cmocka_unit_test(test_cuda_emu_stories_q8_0),
	    cmocka_unit_test(test_cuda_emu_stories_q4_0),
	    cmocka_unit_test(test_cuda_emu_llama_f32),
	    cmocka_unit_test(test_cuda_emu_qwen2_f32),
	    cmocka_unit_test(test_cuda_emu_gemma_f32),
	    cmocka_unit_test(test_cuda_emu_gemma2_f32),
	    cmocka_unit_test(test_cuda_emu_gemma3_f32),
	    cmocka_unit_test(test_cuda_emu_phi3_f32),
	    cmocka_unit_test(test_cuda_emu_llama_f16),
	    cmocka_unit_test(test_cuda_emu_llama_q8_0),
	    cmocka_unit_test(test_cuda_emu_llama_q4_0),
	    cmocka_unit_test(test_cuda_emu_llama_q4_k),
	    cmocka_unit_test(test_cuda_emu_llama_q6_k),
	    cmocka_unit_test(test_cuda_emu_gemma3_q8_0),
	    cmocka_unit_test(test_cuda_emu_gemma3_q4_k),
	    cmocka_unit_test(test_cuda_emu_unsupported_type_runs_on_cpu),
	    cmocka_unit_test(test_cuda_emu_batching_is_exact),
	    cmocka_unit_test(test_cuda_emu_embed_and_generate),
	    cmocka_unit_test(test_cuda_emu_graphs_replay_exact),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

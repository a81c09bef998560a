/* cuda_test_models.h — model checks of the CUDA backend, shared by
 * cuda_emu_test.c (an emulated device) and cuda_test.c (a real GPU): the
 * models of ../shared/models run with every layer on the device must meet
 * the same references, with the same tolerances, as on the CPU
 * (model_test, arch_test, arch_quant_test), must agree with the CPU's own
 * logits, and must keep the engine's rule that a row's result does not
 * depend on its batch (bit for bit). Header only: included once per test
 * program, after the device is set up. */
#ifndef GPURUN_TEST_CUDA_MODELS_H
#define GPURUN_TEST_CUDA_MODELS_H

#include "engine_test_util.h"

/* Tolerances: those of the CPU tests (see their headers for the reasons). */
#define CM_F32_TOL     1e-3f /* model_test / arch_test */
#define CM_F16_TOL     0.01f /* model_test F16 */
#define CM_QUANT_TOL   1e-3f /* model_test Q8_0 / Q4_0 */
#define CM_MIN_MATCH   16
#define CM_GEMMA_TOL   5e-3f /* arch_test gemma family */
#define CM_AQ_TOL      0.15f /* arch_quant_test: Q8 rounding flips */
#define CM_AQ_HALF_TOL 0.03f
#define CM_AQ_MIN_COS  0.9995
#define CM_NEAR_TIE    0.1f
/* Device vs CPU logits: the same per-block terms summed in another order;
 * a flip of one Q8 activation upstream moves a logit by up to ~0.15
 * (measured on the emulated device: stories260K-Q4_0 0.152, where the
 * device matches llama.cpp to 1e-6 and the CPU's AVX-512 path flips). */
#define CM_VS_CPU_TOL 0.25f

static inline struct engine_model *cm_load(const char *path, enum engine_kv_type kv, int n_gpu)
{
	char err[ERR_MSG_LEN];
	struct engine_load_params p;
	engine_load_params_default(&p);
	p.kv_type = kv;
	p.n_gpu_layers = n_gpu;
	struct engine_model *m = engine_model_load(path, &p, err);
	if (!m)
		fail_msg("load %s: %s", path, err);
	const struct engine_model_info *in = engine_model_info(m);
	if (n_gpu != 0 && strncmp(in->backend, "cuda", 4))
		fail_msg("%s runs on %s, not the device: %s", path, in->backend, in->backend_note);
	return m;
}

/* The device's logits of a prompt against the CPU's. */
static inline float cm_vs_cpu(const char *path, enum engine_kv_type kv, const int32_t *prompt,
                              int64_t n)
{
	struct engine_model *d = cm_load(path, kv, 999), *c = cm_load(path, kv, 0);
	struct run_out od, oc;
	run_greedy(d, 64, prompt, n, 4, &od);
	run_greedy(c, 64, prompt, n, 4, &oc);
	float worst = 0;
	for (int i = 0; i < 4 && od.gen[i - (i > 0)] == oc.gen[i - (i > 0)]; i++) {
		float e = max_abs_diff(od.logits[i], oc.logits[i], od.n_vocab);
		worst = e > worst ? e : worst;
	}
	run_out_free(&od);
	run_out_free(&oc);
	engine_model_free(d);
	engine_model_free(c);
	return worst;
}

/* stories260K in one type against llama.cpp (model_test's rules). */
static inline void cm_check_stories(const char *model_rel, const char *ref_rel, float tol,
                                    int64_t min_match)
{
	static struct ref_file rf;
	char path[1024];
	if (!model_path(model_rel, path) || !ref_load(ref_rel, &rf)) {
		test_skip("../shared/models/%s or its reference is missing", model_rel);
		return;
	}
	struct engine_model *m = cm_load(path, ENGINE_KV_F16, 999);
	for (int c = 0; c < rf.n_cases; c++) {
		const struct ref_case *rc = &rf.cases[c];
		struct run_out o;
		run_greedy(m, rf.n_ctx, rc->prompt, rc->n_prompt, rc->n_gen, &o);
		int64_t match = prefix_match(o.gen, rc->gen, rc->n_gen);
		float terr = top10_err(rc, &o, match);
		print_message("device %s case %d: %lld/%lld ids match, top-10 max err %.2g\n",
		              model_rel, c, (long long)match, (long long)rc->n_gen, terr);
		if (match < (min_match < rc->n_gen ? min_match : rc->n_gen))
			fail_msg("%s case %d: only %lld leading ids match", model_rel, c,
			         (long long)match);
		if (terr > tol)
			fail_msg("%s case %d: top-10 logit error %g > %g", model_rel, c, terr, tol);
		run_out_free(&o);
	}
	engine_model_free(m);
	float e = cm_vs_cpu(path, ENGINE_KV_F16, rf.cases[0].prompt, rf.cases[0].n_prompt);
	print_message("device %s: logits vs the CPU max err %.2g\n", model_rel, e);
	if (e > CM_VS_CPU_TOL)
		fail_msg("%s: device and CPU logits differ by %g", model_rel, e);
}

/* A synthetic model (F32 KV cache) against llama.cpp: exact ids and tol
 * (arch_test), or, for quantized files (aq), arch_quant_test's rules. */
static inline void cm_check_synth(const char *name, float tol, bool aq)
{
	static struct ref_file rf;
	char rel[128], ref[160], path[1024];
	snprintf(rel, sizeof rel, "synth/%s.gguf", name);
	snprintf(ref, sizeof ref, "synth/ref/%s.gen.json", name);
	if (!model_path(rel, path) || !ref_load(ref, &rf)) {
		test_skip("../shared/models/%s or its reference is missing", rel);
		return;
	}
	struct engine_model *m = cm_load(path, ENGINE_KV_F32, 999);
	const int64_t nv = engine_model_info(m)->n_vocab;
	int bad = 0;
	for (int c = 0; c < rf.n_cases; c++) {
		const struct ref_case *rc = &rf.cases[c];
		struct run_out o;
		run_greedy(m, rf.n_ctx, rc->prompt, rc->n_prompt, rc->n_gen, &o);
		int64_t match = prefix_match(o.gen, rc->gen, rc->n_gen), must = rc->n_gen;
		float lerr = max_abs_diff(o.logits[0], rc->logits_first, nv);
		float terr = top10_err(rc, &o, match);
		double cos = cosine(o.logits[0], rc->logits_first, nv);
		print_message(
		    "device %s case %d: %lld/%lld ids, logits_first max err %.2g cos %.7f, "
		    "top-10 %.2g\n",
		    name, c, (long long)match, (long long)rc->n_gen, lerr, cos, terr);
		if (aq) {
			must = 0;
			while (must < rc->n_gen && rc->gaps[must] >= CM_NEAR_TIE)
				must++;
			bad += cos < CM_AQ_MIN_COS;
		}
		bad += match < must || lerr > tol || terr > tol;
		run_out_free(&o);
	}
	engine_model_free(m);
	if (bad)
		fail_msg("%s: %d checks outside tolerance %g (ids, logits, cosine)", name, bad,
		         tol);
	float e = cm_vs_cpu(path, ENGINE_KV_F32, rf.cases[0].prompt, rf.cases[0].n_prompt);
	print_message("device %s: logits vs the CPU max err %.2g\n", name, e);
	if (e > (aq ? CM_VS_CPU_TOL : tol))
		fail_msg("%s: device and CPU logits differ by %g", name, e);
}

/* A type the device kernels lack: the model loads and runs on the CPU,
 * and says why. */
static inline void cm_check_unsupported(const char *rel, const char *type_name)
{
	char path[1024], err[ERR_MSG_LEN];
	if (!model_path(rel, path)) {
		test_skip("../shared/models/%s is missing", rel);
		return;
	}
	struct engine_load_params p;
	engine_load_params_default(&p);
	struct engine_model *m = engine_model_load(path, &p, err);
	assert_non_null(m);
	const struct engine_model_info *in = engine_model_info(m);
	assert_string_equal(in->backend, "cpu");
	if (!strstr(in->backend_note, type_name))
		fail_msg("note '%s' does not name %s", in->backend_note, type_name);
	engine_model_free(m);
}

/* generate_test's batching rule on the device: a prompt as one matrix, token
 * by token, or beside another sequence gives bit-identical logits, and so
 * do all_logits rows and re-evaluation after a truncation. */
static inline void cm_check_batching_exact(const char *model_rel)
{
	static struct ref_file rf;
	char path[1024], err[ERR_MSG_LEN];
	if (!model_path(model_rel, path) || !ref_load("ref/stories260K-F32.gen.json", &rf)) {
		test_skip("../shared/models/%s is missing", model_rel);
		return;
	}
	struct engine_model *m = cm_load(path, ENGINE_KV_F16, 999);
	const int64_t nv = engine_model_info(m)->n_vocab;
	const struct ref_case *a = &rf.cases[0], *b = &rf.cases[2];
	struct engine_seq *s1 = engine_seq_new(m, 64, err), *s2 = engine_seq_new(m, 64, err);
	struct engine_seq *s3 = engine_seq_new(m, 64, err), *s4 = engine_seq_new(m, 64, err);
	assert_true(s1 && s2 && s3 && s4);
	float *all = malloc((size_t)(a->n_prompt * nv) * 4);
	assert_int_equal(engine_seq_eval(s1, a->prompt, a->n_prompt, all), 0);
	for (int64_t i = 0; i < a->n_prompt; i++) {
		assert_int_equal(engine_seq_eval(s2, &a->prompt[i], 1, NULL), 0);
		assert_memory_equal(all + i * nv, engine_seq_logits(s2), (size_t)nv * 4);
	}
	assert_memory_equal(engine_seq_logits(s1), engine_seq_logits(s2), (size_t)nv * 4);
	engine_seq_truncate(s1, 0);
	struct engine_seq *seqs[2] = {s1, s3};
	const int32_t *toks[2] = {a->prompt, b->prompt};
	int64_t ns[2] = {a->n_prompt, b->n_prompt};
	assert_int_equal(engine_seq_eval_multi(seqs, toks, ns, 2), 0);
	assert_memory_equal(engine_seq_logits(s1), engine_seq_logits(s2), (size_t)nv * 4);
	assert_int_equal(engine_seq_eval(s4, b->prompt, b->n_prompt, NULL), 0);
	assert_memory_equal(engine_seq_logits(s3), engine_seq_logits(s4), (size_t)nv * 4);
	assert_int_equal(engine_seq_eval(s4, a->gen, 8, NULL), 0);
	memcpy(all, engine_seq_logits(s4), (size_t)nv * 4);
	assert_int_equal(engine_seq_truncate(s4, b->n_prompt + 3), 0);
	assert_int_equal(engine_seq_eval(s4, a->gen + 3, 5, NULL), 0);
	assert_memory_equal(all, engine_seq_logits(s4), (size_t)nv * 4);
	free(all);
	engine_seq_free(s1);
	engine_seq_free(s2);
	engine_seq_free(s3);
	engine_seq_free(s4);
	engine_model_free(m);
}

/* Embeddings and generation through the public API on the device. */
static inline void cm_check_embed_generate(const char *model_rel)
{
	static struct ref_file rf;
	char path[1024], err[ERR_MSG_LEN];
	if (!model_path(model_rel, path) || !ref_load("ref/stories260K-F32.gen.json", &rf)) {
		test_skip("../shared/models/%s is missing", model_rel);
		return;
	}
	struct engine_model *d = cm_load(path, ENGINE_KV_F16, 999),
	                    *c = cm_load(path, ENGINE_KV_F16, 0);
	struct engine_seq *sd = engine_seq_new(d, 64, err), *sc = engine_seq_new(c, 64, err);
	float ed[64], ec[64];
	assert_int_equal(engine_embed(sd, rf.cases[0].prompt, rf.cases[0].n_prompt, ed), 0);
	assert_int_equal(engine_embed(sc, rf.cases[0].prompt, rf.cases[0].n_prompt, ec), 0);
	float e = max_abs_diff(ed, ec, 64);
	print_message("device embedding vs the CPU: max err %.2g\n", e);
	assert_true(e < 1e-4f);
	struct engine_gen_params gp;
	engine_gen_params_default(&gp);
	gp.prompt = rf.cases[0].prompt;
	gp.n_prompt = rf.cases[0].n_prompt;
	gp.num_predict = 24;
	gp.ignore_eos = true;
	sampler_params_greedy(&gp.sampling);
	struct engine_gen_result res;
	assert_int_equal(engine_generate(sd, &gp, NULL, NULL, &res), 0);
	assert_int_equal(res.eval_count, 24);
	assert_memory_equal(engine_seq_tokens(sd) + rf.cases[0].n_prompt, rf.cases[0].gen,
	                    23 * sizeof(int32_t));
	engine_seq_free(sd);
	engine_seq_free(sc);
	engine_model_free(d);
	engine_model_free(c);
}

#endif

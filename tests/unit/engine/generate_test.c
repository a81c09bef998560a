/* generate_test.c — the C API around the forward pass: the generate loop
 * (reference story through callbacks, stop strings across token boundaries,
 * num_predict, end-of-generation tokens, full context, seeds, cancellation,
 * prompt-prefix reuse), and sequences (batched prefill == token by token,
 * several sequences in one pass == one at a time, thread counts, truncation,
 * embeddings). Model: stories260K-F32 with its llama.cpp reference. */
#include "engine_test_util.h"

#include <pthread.h>

struct collect {
	int32_t ids[1024];
	int n;
	struct buf text;
	int cancel_after; /* return nonzero after this many tokens; 0: never */
};

static int on_token(void *user, int32_t tok, const char *text, size_t len)
{
	struct collect *c = user;
	if (tok >= 0 && c->n < 1024)
		c->ids[c->n++] = tok;
	buf_append(&c->text, text, len);
	return c->cancel_after && c->n >= c->cancel_after;
}

static struct ref_file rf;
static struct engine_model *model;
static char path[1024];

static int setup(void **state)
{
	if (!model_path("stories260K-F32.gguf", path) ||
	    !ref_load("ref/stories260K-F32.gen.json", &rf))
		return 0;
	model = load_or_fail(path);
	return 0;
}

static int teardown(void **state)
{
	engine_model_free(model);
	model = NULL;
	return 0;
}

#define NEED_MODEL()                                                                               \
	do {                                                                                       \
		if (!model) {                                                                      \
			test_skip("../shared/models/stories260K-F32.gguf is missing");             \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static struct engine_seq *new_seq(int64_t n_ctx)
{
	char err[ERR_MSG_LEN];
	struct engine_seq *s = engine_seq_new(model, n_ctx, err);
	if (!s)
		fail_msg("engine_seq_new: %s", err);
	return s;
}

static void greedy_params(struct engine_gen_params *p, const struct ref_case *rc, int64_t n)
{
	engine_gen_params_default(p);
	sampler_params_greedy(&p->sampling);
	p->prompt = rc->prompt;
	p->n_prompt = rc->n_prompt;
	p->num_predict = n;
	p->ignore_eos = true;
}

static void run(struct engine_seq *s, const struct engine_gen_params *p, struct collect *c,
                struct engine_gen_result *res, int want_rc)
{
	memset(c->ids, 0, sizeof c->ids);
	c->n = 0;
	buf_reset(&c->text);
	assert_int_equal(engine_generate(s, p, on_token, c, res), want_rc);
}

static void test_generate_reference_story(void **state)
{
	NEED_MODEL();
	struct engine_seq *s = new_seq(512);
	struct collect c = {.text = BUF_INIT};
	for (int k = 0; k < rf.n_cases; k++) {
		struct engine_gen_params p;
		struct engine_gen_result res;
		greedy_params(&p, &rf.cases[k], 64);
		run(s, &p, &c, &res, 0);
		assert_int_equal(c.n, 64);
		assert_memory_equal(c.ids, rf.cases[k].gen, 64 * sizeof(int32_t));
		assert_string_equal(c.text.data, rf.cases[k].text);
		assert_string_equal(res.done_reason, "length");
		assert_int_equal(res.eval_count, 64);
		assert_int_equal(res.prompt_eval_count, rf.cases[k].n_prompt);
		assert_true(res.prompt_eval_ns > 0 && res.eval_ns > 0);
	}
	buf_release(&c.text);
	engine_seq_free(s);
}

static void check_stop(struct engine_seq *s, const char *stop, const char *want, const char *why)
{
	struct collect c = {.text = BUF_INIT};
	struct engine_gen_params p;
	struct engine_gen_result res;
	greedy_params(&p, &rf.cases[0], 64);
	p.stop[0] = "never-in-the-text";
	p.stop[1] = stop;
	run(s, &p, &c, &res, 0);
	assert_string_equal(c.text.data ? c.text.data : "", want);
	assert_string_equal(res.done_reason, why);
	buf_release(&c.text);
}

static void test_generate_stop_strings(void **state)
{
	NEED_MODEL();
	struct engine_seq *s = new_seq(512);
	/* ", there was a little girl named Lily. She loved ..." */
	check_stop(s, " Lily", ", there was a little girl named", "stop");
	check_stop(s, "irl na", ", there was a little g", "stop"); /* spans two tokens */
	check_stop(s, ",", "", "stop");                            /* the very first byte */
	check_stop(s, "said",
	           ", there was a little girl named Lily. She loved to play outside in "
	           "the park. One day, she saw a big, red ball. She wanted to play with "
	           "it, but it was too high.\nLily's mom ",
	           "stop");
	/* a prefix held back at the end is released when generation ends */
	check_stop(s, "said!", rf.cases[0].text, "length");
	engine_seq_free(s);
}

static void test_generate_num_predict_and_context(void **state)
{
	NEED_MODEL();
	struct collect c = {.text = BUF_INIT};
	struct engine_gen_params p;
	struct engine_gen_result res;
	struct engine_seq *s = new_seq(512);
	greedy_params(&p, &rf.cases[0], 5);
	run(s, &p, &c, &res, 0);
	assert_int_equal(c.n, 5);
	assert_memory_equal(c.ids, rf.cases[0].gen, 5 * sizeof(int32_t));
	assert_string_equal(res.done_reason, "length");
	p.num_predict = 0;
	run(s, &p, &c, &res, 0);
	assert_int_equal(c.n, 0);
	assert_string_equal(res.done_reason, "length");
	engine_seq_free(s);

	/* 16 positions, 5 for the prompt: the 12th token needs no evaluation */
	s = new_seq(16);
	greedy_params(&p, &rf.cases[0], -1);
	run(s, &p, &c, &res, 0);
	assert_int_equal(c.n, 12);
	assert_memory_equal(c.ids, rf.cases[0].gen, 12 * sizeof(int32_t));
	assert_string_equal(res.done_reason, "length");
	assert_int_equal(engine_seq_n_past(s), 16);
	/* a prompt longer than the context is refused */
	int32_t big[20] = {1};
	p.prompt = big;
	p.n_prompt = 20;
	assert_int_equal(engine_generate(s, &p, on_token, &c, &res), ERR_TOO_LARGE);
	buf_release(&c.text);
	engine_seq_free(s);
}

/* EOS set to the 4th greedy token: generation stops before it, "stop". */
static void eos_edit(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)rf.cases[0].gen[3]);
}

static void test_generate_stops_at_eog(void **state)
{
	NEED_MODEL();
	static const char *const skip[] = {"tokenizer.ggml.eos_token_id", NULL};
	const char *var = write_variant(path, "eos.gguf", skip, NULL, eos_edit);
	struct engine_model *saved = model;
	model = load_or_fail(var);
	assert_true(engine_token_is_eog(model, rf.cases[0].gen[3]));
	struct engine_seq *s = new_seq(512);
	struct collect c = {.text = BUF_INIT};
	struct engine_gen_params p;
	struct engine_gen_result res;
	greedy_params(&p, &rf.cases[0], 64);
	p.ignore_eos = false;
	run(s, &p, &c, &res, 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(res.done_reason, "stop");
	p.ignore_eos = true;
	run(s, &p, &c, &res, 0);
	assert_int_equal(c.n, 64);
	buf_release(&c.text);
	engine_seq_free(s);
	engine_model_free(model);
	model = saved;
}

static void sample_run(struct engine_seq *s, int64_t seed, struct collect *c)
{
	struct engine_gen_params p;
	struct engine_gen_result res;
	greedy_params(&p, &rf.cases[0], 48);
	sampler_params_default(&p.sampling);
	p.sampling.temperature = 1.0f;
	p.sampling.seed = seed;
	run(s, &p, c, &res, 0);
	assert_int_equal(c->n, 48);
}

static void test_generate_seed_reproducible(void **state)
{
	NEED_MODEL();
	struct engine_seq *s = new_seq(512);
	struct collect a = {.text = BUF_INIT}, b = {.text = BUF_INIT};
	sample_run(s, 1234, &a);
	sample_run(s, 1234, &b);
	assert_memory_equal(a.ids, b.ids, sizeof a.ids);
	int differ = 0;
	for (int64_t seed = 1; seed <= 4; seed++) {
		sample_run(s, seed, &b);
		differ += memcmp(a.ids, b.ids, sizeof a.ids) != 0;
	}
	assert_true(differ >= 3);
	buf_release(&a.text);
	buf_release(&b.text);
	engine_seq_free(s);
}

static void test_generate_cancel(void **state)
{
	NEED_MODEL();
	struct engine_seq *s = new_seq(512);
	struct collect c = {.text = BUF_INIT, .cancel_after = 3};
	struct engine_gen_params p;
	struct engine_gen_result res;
	greedy_params(&p, &rf.cases[0], 64);
	run(s, &p, &c, &res, ERR_CANCELLED);
	assert_int_equal(c.n, 3);
	c.cancel_after = 0;
	engine_seq_cancel(s);
	run(s, &p, &c, &res, ERR_CANCELLED);
	engine_seq_cancel_clear(s);
	run(s, &p, &c, &res, 0);
	assert_int_equal(c.n, 64);
	buf_release(&c.text);
	engine_seq_free(s);
}

/* The second run of the same prompt re-evaluates nothing but gets the same
 * tokens; a longer prompt with the same start reuses the shared prefix. */
static void test_generate_reuses_prompt_prefix(void **state)
{
	NEED_MODEL();
	struct engine_seq *s = new_seq(512);
	struct collect c = {.text = BUF_INIT};
	struct engine_gen_params p;
	struct engine_gen_result res;
	const struct ref_case *rc = &rf.cases[0];
	greedy_params(&p, rc, 10);
	run(s, &p, &c, &res, 0);
	assert_int_equal(res.prompt_cached, 0);
	run(s, &p, &c, &res, 0);
	assert_int_equal(res.prompt_cached, rc->n_prompt - 1);
	assert_memory_equal(c.ids, rc->gen, 10 * sizeof(int32_t));
	int32_t longer[64];
	memcpy(longer, rc->prompt, (size_t)rc->n_prompt * sizeof(int32_t));
	memcpy(longer + rc->n_prompt, rc->gen, 20 * sizeof(int32_t));
	p.prompt = longer;
	p.n_prompt = rc->n_prompt + 20;
	run(s, &p, &c, &res, 0);
	assert_int_equal(res.prompt_cached, rc->n_prompt + 9); /* prompt + 9 evaluated */
	assert_memory_equal(c.ids, rc->gen + 20, 10 * sizeof(int32_t));
	buf_release(&c.text);
	engine_seq_free(s);
}

/* Three sequences stepping together (continuous batching) produce what each
 * produces alone, and finish independently (different num_predict). */
static void test_generate_steps_in_one_batch(void **state)
{
	NEED_MODEL();
	struct engine_seq *seqs[3];
	struct collect c[3];
	struct engine_gen_params p[3];
	for (int k = 0; k < 3; k++) {
		seqs[k] = new_seq(128);
		c[k] = (struct collect){.text = BUF_INIT};
		greedy_params(&p[k], &rf.cases[k], 20 + 10 * k);
		assert_int_equal(engine_gen_start(seqs[k], &p[k], on_token, &c[k]), 0);
	}
	int running, steps = 0;
	while ((running = engine_gen_step(seqs, 3)) > 0)
		steps++;
	assert_int_equal(running, 0);
	assert_int_equal(steps, 39); /* the longest: 40 tokens, the last not evaluated */
	for (int k = 0; k < 3; k++) {
		struct engine_gen_result res;
		assert_false(engine_gen_running(seqs[k]));
		engine_gen_result(seqs[k], &res);
		assert_int_equal(c[k].n, 20 + 10 * k);
		assert_int_equal(res.eval_count, 20 + 10 * k);
		assert_string_equal(res.done_reason, "length");
		assert_memory_equal(c[k].ids, rf.cases[k].gen, (size_t)c[k].n * sizeof(int32_t));
		buf_release(&c[k].text);
		engine_seq_free(seqs[k]);
	}
}

struct worker {
	pthread_t th;
	int k;
	struct collect c;
	int rc;
};

static void *gen_thread(void *p)
{
	struct worker *w = p;
	char err[ERR_MSG_LEN];
	struct engine_seq *s = engine_seq_new(model, 128, err);
	struct engine_gen_params gp;
	struct engine_gen_result res;
	greedy_params(&gp, &rf.cases[w->k], 40);
	w->rc = s ? engine_generate(s, &gp, on_token, &w->c, &res) : -1;
	engine_seq_free(s);
	return NULL;
}

/* Threads generating on their own sequences of one shared model at once. */
static void test_generate_concurrent_threads(void **state)
{
	NEED_MODEL();
	struct worker w[3];
	for (int k = 0; k < 3; k++) {
		w[k] = (struct worker){.k = k, .c = {.text = BUF_INIT}};
		assert_int_equal(pthread_create(&w[k].th, NULL, gen_thread, &w[k]), 0);
	}
	for (int k = 0; k < 3; k++) {
		pthread_join(w[k].th, NULL);
		assert_int_equal(w[k].rc, 0);
		assert_int_equal(w[k].c.n, 40);
		assert_memory_equal(w[k].c.ids, rf.cases[k].gen, 40 * sizeof(int32_t));
		buf_release(&w[k].c.text);
	}
}

static void eval_ok(struct engine_seq *s, const int32_t *t, int64_t n)
{
	assert_int_equal(engine_seq_eval(s, t, n, NULL), 0);
}

/* Every row's arithmetic is independent of the batch it is in and of the
 * thread that computes it, so results must be bit-identical. */
static void test_seq_batching_is_exact(void **state)
{
	NEED_MODEL();
	const struct ref_case *a = &rf.cases[0], *b = &rf.cases[2];
	int64_t nv = engine_model_info(model)->n_vocab;
	struct engine_seq *s1 = new_seq(64), *s2 = new_seq(64), *s3 = new_seq(64);
	eval_ok(s1, a->prompt, a->n_prompt); /* prefill as one matrix */
	for (int64_t i = 0; i < a->n_prompt; i++)
		eval_ok(s2, &a->prompt[i], 1); /* token by token */
	assert_memory_equal(engine_seq_logits(s1), engine_seq_logits(s2), (size_t)nv * 4);
	/* two sequences in one forward pass */
	engine_seq_truncate(s1, 0);
	struct engine_seq *seqs[2] = {s1, s3};
	const int32_t *toks[2] = {a->prompt, b->prompt};
	int64_t ns[2] = {a->n_prompt, b->n_prompt};
	assert_int_equal(engine_seq_eval_multi(seqs, toks, ns, 2), 0);
	struct engine_seq *twice[2] = {s3, s3};
	assert_int_equal(engine_seq_eval_multi(twice, toks, ns, 2), ERR_INVALID);
	assert_memory_equal(engine_seq_logits(s1), engine_seq_logits(s2), (size_t)nv * 4);
	struct engine_seq *s4 = new_seq(64);
	eval_ok(s4, b->prompt, b->n_prompt);
	assert_memory_equal(engine_seq_logits(s3), engine_seq_logits(s4), (size_t)nv * 4);
	/* truncate and re-evaluate: the same logits again */
	eval_ok(s4, a->gen, 8);
	float *keep = malloc((size_t)nv * 4);
	memcpy(keep, engine_seq_logits(s4), (size_t)nv * 4);
	assert_int_equal(engine_seq_truncate(s4, b->n_prompt + 3), 0);
	assert_null(engine_seq_logits(s4));
	eval_ok(s4, a->gen + 3, 5);
	assert_memory_equal(keep, engine_seq_logits(s4), (size_t)nv * 4);
	assert_int_equal(engine_seq_truncate(s4, 1000), ERR_INVALID);
	/* overflowing the context evaluates nothing */
	assert_int_equal(engine_seq_eval(s4, a->gen, 60, NULL), ERR_TOO_LARGE);
	assert_int_equal(engine_seq_n_past(s4), b->n_prompt + 8);
	free(keep);
	engine_seq_free(s1);
	engine_seq_free(s2);
	engine_seq_free(s3);
	engine_seq_free(s4);
}

static void test_seq_threads_are_exact(void **state)
{
	NEED_MODEL();
	char err[ERR_MSG_LEN];
	struct engine_load_params lp;
	engine_load_params_default(&lp);
	const struct ref_case *rc = &rf.cases[1];
	float *first = NULL;
	int64_t nv = engine_model_info(model)->n_vocab;
	setenv("GPURUN_THREAD_WORK", "0", 1); /* every thread, however small the model */
	for (int t = 1; t <= 4; t++) {        /* 4 KV heads: 3 threads take the split path */
		lp.n_threads = t;
		lp.n_batch = t + 1; /* also several prompt chunks */
		struct engine_model *m = engine_model_load(path, &lp, err);
		assert_non_null(m);
		assert_int_equal(engine_model_info(m)->n_threads, t);
		struct engine_seq *s = engine_seq_new(m, 64, err);
		assert_int_equal(engine_seq_eval(s, rc->prompt, rc->n_prompt, NULL), 0);
		if (!first) {
			first = malloc((size_t)nv * 4);
			memcpy(first, engine_seq_logits(s), (size_t)nv * 4);
		} else {
			assert_memory_equal(first, engine_seq_logits(s), (size_t)nv * 4);
		}
		engine_seq_free(s);
		engine_model_free(m);
	}
	unsetenv("GPURUN_THREAD_WORK");
	free(first);
}

static void test_seq_all_logits(void **state)
{
	NEED_MODEL();
	const struct ref_case *rc = &rf.cases[0];
	int64_t nv = engine_model_info(model)->n_vocab;
	struct engine_seq *s = new_seq(64), *t = new_seq(64);
	float *all = malloc((size_t)(rc->n_prompt * nv) * 4);
	assert_int_equal(engine_seq_eval(s, rc->prompt, rc->n_prompt, all), 0);
	for (int64_t i = 0; i < rc->n_prompt; i++) {
		eval_ok(t, &rc->prompt[i], 1);
		assert_memory_equal(all + i * nv, engine_seq_logits(t), (size_t)nv * 4);
	}
	assert_memory_equal(engine_seq_logits(s), engine_seq_logits(t), (size_t)nv * 4);
	free(all);
	engine_seq_free(s);
	engine_seq_free(t);
}

static void test_embed_pooled_normalised(void **state)
{
	NEED_MODEL();
	const struct engine_model_info *in = engine_model_info(model);
	struct engine_seq *s = new_seq(64);
	float a[64], b[64], c[64];
	assert_int_equal(in->n_embd, 64);
	assert_int_equal(engine_embed(s, rf.cases[0].prompt, rf.cases[0].n_prompt, a), 0);
	assert_int_equal(engine_embed(s, rf.cases[0].prompt, rf.cases[0].n_prompt, b), 0);
	assert_int_equal(engine_embed(s, rf.cases[1].prompt, rf.cases[1].n_prompt, c), 0);
	double na = 0, dab = 0, dac = 0;
	for (int i = 0; i < 64; i++) {
		na += (double)a[i] * a[i];
		dab += fabs(a[i] - b[i]);
		dac += fabs(a[i] - c[i]);
	}
	assert_true(fabs(na - 1.0) < 1e-5);
	assert_true(dab == 0.0);
	assert_true(dac > 1e-3);
	assert_int_equal(engine_embed(s, rf.cases[0].prompt, 0, a), ERR_INVALID);
	engine_seq_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generate_reference_story),
	    cmocka_unit_test(test_generate_stop_strings),
	    cmocka_unit_test(test_generate_num_predict_and_context),
	    cmocka_unit_test(test_generate_stops_at_eog),
	    cmocka_unit_test(test_generate_seed_reproducible),
	    cmocka_unit_test(test_generate_cancel),
	    cmocka_unit_test(test_generate_reuses_prompt_prefix),
	    cmocka_unit_test(test_generate_steps_in_one_batch),
	    cmocka_unit_test(test_generate_concurrent_threads),
	    cmocka_unit_test(test_seq_batching_is_exact),
	    cmocka_unit_test(test_seq_threads_are_exact),
	    cmocka_unit_test(test_seq_all_logits),
	    cmocka_unit_test(test_embed_pooled_normalised),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

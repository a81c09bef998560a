/* sched_test.c — the model server's scheduler with stories260K (reference
 * ollama-api.md §4.2): sequences batched in one model give the reference
 * greedy tokens, the queue limit (ERR_BUSY = the 503) counts only jobs
 * beyond the free slots, cancellation of queued and running jobs,
 * keep-alive 0 / timed / forever, num_ctx changes without a reload,
 * max_loaded eviction, load errors, KV prefix reuse between requests. */
#include "support/support.h"

#include "base/timeutil.h"
#include "ollama/sched.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* llama.cpp's greedy continuation of "Once upon a time" (ref/stories260K-F32.gen.json). */
static const int32_t ref_ids[16] = {432, 383, 286, 261, 376, 298, 315, 421,
                                    395, 317, 426, 338, 401, 396, 267, 337};

struct tjob {
	struct sched_job job;
	const int32_t *prompt; /* NULL: tokenize "Once upon a time" */
	int64_t n_prompt;
	int64_t num_predict;
	bool hold; /* paused (no steps) until release */
	atomic_bool release;
	atomic_bool started;
	int32_t toks[256];
	int64_t n_toks;
	int32_t out[256];
	int n_out;
	struct engine_gen_params gp;
	struct engine_gen_result res;
	int rc;
	bool done;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static int prepare(struct sched_job *j, struct engine_model *m, int64_t n_ctx)
{
	struct tjob *t = j->user;
	if (t->prompt) {
		memcpy(t->toks, t->prompt, (size_t)t->n_prompt * sizeof *t->toks);
		t->n_toks = t->n_prompt;
	} else {
		t->n_toks = engine_tokenize(m, "Once upon a time", 16, true, true, t->toks, 256);
	}
	engine_gen_params_default(&t->gp);
	sampler_params_greedy(&t->gp.sampling);
	t->gp.prompt = t->toks;
	t->gp.n_prompt = t->n_toks;
	t->gp.num_predict = t->num_predict;
	j->tokens = t->toks;
	j->n_tokens = t->n_toks;
	return 0;
}

static int on_token(void *user, int32_t tok, const char *text, size_t len)
{
	struct tjob *t = user;
	if (tok >= 0 && t->n_out < 256)
		t->out[t->n_out++] = tok;
	return 0;
}

static int start(struct sched_job *j, struct engine_seq *seq)
{
	struct tjob *t = j->user;
	atomic_store(&t->started, true);
	int rc = engine_gen_start(seq, &t->gp, on_token, t);
	return rc ? rc : 1;
}

static bool paused(struct sched_job *j)
{
	struct tjob *t = j->user;
	return t->hold && !atomic_load(&t->release);
}

static void done(struct sched_job *j, struct engine_seq *seq, int rc)
{
	struct tjob *t = j->user;
	if (seq)
		engine_gen_result(seq, &t->res);
	pthread_mutex_lock(&mu);
	t->rc = rc;
	t->done = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static const struct sched_job_ops ops = {prepare, start, paused, done};

static void tjob_init(struct tjob *t, const char *path, int64_t num_predict)
{
	memset(t, 0, sizeof *t);
	sched_job_init(&t->job, &ops, t);
	t->job.model.path = path;
	t->job.model.name = "stories260k:latest";
	t->job.model.digest = "00";
	t->job.model.details_json = "{}";
	t->num_predict = num_predict;
	atomic_init(&t->release, false);
	atomic_init(&t->started, false);
}

static bool wait_done(struct tjob *t, int64_t ms)
{
	int64_t end = time_mono_ns() + ms * 1000000;
	pthread_mutex_lock(&mu);
	while (!t->done && time_mono_ns() < end) {
		pthread_mutex_unlock(&mu);
		time_sleep_ms(2);
		pthread_mutex_lock(&mu);
	}
	bool d = t->done;
	pthread_mutex_unlock(&mu);
	return d;
}

/* Polls a scheduler statistic until it equals want. */
static bool wait_stat(struct sched *s, int which, int want, int64_t ms)
{
	int64_t end = time_mono_ns() + ms * 1000000;
	for (;;) {
		struct sched_stats st;
		sched_stats(s, &st);
		int v = which == 0 ? st.loaded : which == 1 ? st.waiting : st.running;
		if (v == want)
			return true;
		if (time_mono_ns() > end)
			return false;
		time_sleep_ms(2);
	}
}
enum { LOADED, WAITING, RUNNING };

static struct sched *new_sched(int parallel, int max_queue, int max_loaded, int64_t keep_ns)
{
	struct sched_config c;
	char err[ERR_MSG_LEN];
	sched_config_from_env(&c, err);
	c.num_parallel = parallel;
	c.max_queue = max_queue;
	c.max_loaded = max_loaded;
	c.keep_alive_ns = keep_ns;
	c.n_threads = 1;
	struct sched *s = sched_new(&c);
	assert_non_null(s);
	return s;
}

static const char *model_or_skip(const char *rel)
{
	const char *p = test_model_path(rel);
	return p;
}

static void test_sched_batched_sequences_match_reference(void **state)
{
	const char *path = model_or_skip("stories260K-F32.gguf");
	if (!path) {
		test_skip("stories260K-F32.gguf is missing");
		return;
	}
	struct sched *s = new_sched(2, 8, 3, SCHED_KEEP_FOREVER);
	struct tjob t[3];
	for (int i = 0; i < 3; i++) {
		tjob_init(&t[i], path, 16);
		assert_int_equal(sched_submit(s, &t[i].job), 0);
	}
	for (int i = 0; i < 3; i++) {
		assert_true(wait_done(&t[i], 10000));
		assert_int_equal(t[i].rc, 0);
		assert_int_equal(t[i].n_out, 16);
		assert_memory_equal(t[i].out, ref_ids, sizeof ref_ids);
		assert_int_equal(t[i].res.eval_count, 16);
	}
	struct sched_stats st;
	sched_stats(s, &st);
	assert_int_equal(st.loads, 1);
	assert_int_equal(st.loaded, 1);
	struct sched_loaded *l;
	int n;
	sched_list(s, &l, &n);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].name, "stories260k:latest");
	assert_int_equal(l[0].n_ctx, 128); /* 4096 capped by the model's context */
	assert_true(l[0].expires_wall_ns == INT64_MAX);
	sched_loaded_free(l, n);
	sched_free(s);
}

static void test_sched_queue_limit_and_cancel(void **state)
{
	const char *path = model_or_skip("stories260K-F32.gguf");
	if (!path) {
		test_skip("stories260K-F32.gguf is missing");
		return;
	}
	struct sched *s = new_sched(1, 1, 3, SCHED_KEEP_FOREVER);
	struct tjob a, b, c, d;
	tjob_init(&a, path, 32);
	a.hold = true;
	assert_int_equal(sched_submit(s, &a.job), 0);
	assert_true(wait_stat(s, RUNNING, 1, 10000));
	tjob_init(&b, path, 4);
	assert_int_equal(sched_submit(s, &b.job), 0);
	assert_true(wait_stat(s, WAITING, 1, 1000));
	tjob_init(&c, path, 4);
	assert_int_equal(sched_submit(s, &c.job), ERR_BUSY); /* the 503 */
	sched_job_cancel(s, &b.job);
	assert_true(wait_done(&b, 2000));
	assert_int_equal(b.rc, ERR_CANCELLED);
	assert_false(atomic_load(&b.started));
	assert_true(wait_stat(s, WAITING, 0, 1000));
	tjob_init(&d, path, 4);
	assert_int_equal(sched_submit(s, &d.job), 0);
	sched_job_cancel(s, &a.job); /* running (held): stops at once */
	assert_true(wait_done(&a, 2000));
	assert_int_equal(a.rc, ERR_CANCELLED);
	assert_true(wait_done(&d, 5000));
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.n_out, 4);
	assert_memory_equal(d.out, ref_ids, 4 * sizeof(int32_t));
	sched_free(s);
}

static void test_sched_keep_alive(void **state)
{
	const char *path = model_or_skip("stories260K-F32.gguf");
	if (!path) {
		test_skip("stories260K-F32.gguf is missing");
		return;
	}
	struct sched *s = new_sched(1, 8, 3, SCHED_KEEP_FOREVER);
	struct tjob t;
	tjob_init(&t, path, 2);
	t.job.keep_alive_set = true;
	t.job.keep_alive_ns = 0; /* unload right after */
	assert_int_equal(sched_submit(s, &t.job), 0);
	assert_true(wait_done(&t, 5000));
	assert_true(wait_stat(s, LOADED, 0, 2000));
	tjob_init(&t, path, 2);
	t.job.keep_alive_set = true;
	t.job.keep_alive_ns = 300 * 1000000LL;
	assert_int_equal(sched_submit(s, &t.job), 0);
	assert_true(wait_done(&t, 5000));
	int64_t t0 = time_mono_ns();
	assert_true(sched_is_loaded(s, path));
	assert_true(wait_stat(s, LOADED, 0, 3000));
	assert_true(time_mono_ns() - t0 > 150 * 1000000LL);
	tjob_init(&t, path, 2); /* the default: forever */
	assert_int_equal(sched_submit(s, &t.job), 0);
	assert_true(wait_done(&t, 5000));
	time_sleep_ms(50);
	assert_true(sched_is_loaded(s, path));
	assert_true(sched_unload(s, path));
	assert_true(wait_stat(s, LOADED, 0, 2000));
	assert_false(sched_unload(s, path));
	struct sched_stats st;
	sched_stats(s, &st);
	assert_int_equal(st.loads, 3);
	assert_int_equal(st.unloads, 3);
	sched_free(s);
}

static void test_sched_num_ctx_change_keeps_model(void **state)
{
	const char *path = model_or_skip("stories260K-F32.gguf");
	if (!path) {
		test_skip("stories260K-F32.gguf is missing");
		return;
	}
	struct sched *s = new_sched(1, 8, 3, SCHED_KEEP_FOREVER);
	static const int64_t ctx[] = {32, 64, 16, 4096};
	for (size_t i = 0; i < sizeof ctx / sizeof ctx[0]; i++) {
		struct tjob t;
		tjob_init(&t, path, 100);
		t.job.num_ctx = ctx[i];
		assert_int_equal(sched_submit(s, &t.job), 0);
		assert_true(wait_done(&t, 5000));
		assert_int_equal(t.rc, 0);
		int64_t want = ctx[i] > 128 ? 128 : ctx[i];
		assert_int_equal(t.job.n_ctx, want);
		assert_string_equal(t.res.done_reason, "length");
		assert_true(t.res.prompt_eval_count + t.res.eval_count <= want + 1);
	}
	struct sched_stats st;
	sched_stats(s, &st);
	assert_int_equal(st.loads, 1);
	sched_free(s);
}

static void test_sched_max_loaded_evicts_idle(void **state)
{
	const char *f32 = model_or_skip("stories260K-F32.gguf");
	char f16[4096];
	const char *p16 = test_model_path("stories260K-F16.gguf");
	if (!f32 || !p16) {
		test_skip("stories260K F32/F16 models are missing");
		return;
	}
	snprintf(f16, sizeof f16, "%s", p16);
	char f32c[4096];
	snprintf(f32c, sizeof f32c, "%s", test_model_path("stories260K-F32.gguf"));
	struct sched *s = new_sched(1, 8, 1, SCHED_KEEP_FOREVER);
	struct tjob t;
	tjob_init(&t, f32c, 2);
	assert_int_equal(sched_submit(s, &t.job), 0);
	assert_true(wait_done(&t, 5000));
	tjob_init(&t, f16, 2);
	assert_int_equal(sched_submit(s, &t.job), 0);
	assert_true(wait_done(&t, 5000));
	assert_int_equal(t.rc, 0);
	assert_false(sched_is_loaded(s, f32c));
	assert_true(sched_is_loaded(s, f16));
	struct sched_stats st;
	sched_stats(s, &st);
	assert_int_equal(st.loads, 2);
	assert_int_equal(st.unloads, 1);
	sched_free(s);
}

static void test_sched_load_error_fails_job(void **state)
{
	struct sched *s = new_sched(1, 8, 3, SCHED_KEEP_FOREVER);
	struct tjob t;
	tjob_init(&t, "/nonexistent/model.gguf", 2);
	assert_int_equal(sched_submit(s, &t.job), 0);
	assert_true(wait_done(&t, 5000));
	assert_true(t.rc < 0);
	assert_true(t.job.err[0] != 0);
	assert_true(wait_stat(s, LOADED, 0, 1000));
	sched_free(s);
}

static void test_sched_prefix_reuse(void **state)
{
	const char *path = model_or_skip("stories260K-F32.gguf");
	if (!path) {
		test_skip("stories260K-F32.gguf is missing");
		return;
	}
	struct sched *s = new_sched(2, 8, 3, SCHED_KEEP_FOREVER);
	struct tjob a, b;
	tjob_init(&a, path, 8);
	assert_int_equal(sched_submit(s, &a.job), 0);
	assert_true(wait_done(&a, 5000));
	int32_t next[64];
	memcpy(next, a.toks, (size_t)a.n_toks * sizeof *next);
	memcpy(next + a.n_toks, a.out, (size_t)a.n_out * sizeof *next);
	next[a.n_toks + a.n_out] = 13; /* "\n": a new turn */
	tjob_init(&b, path, 4);
	b.prompt = next;
	b.n_prompt = a.n_toks + a.n_out + 1;
	assert_int_equal(sched_submit(s, &b.job), 0);
	assert_true(wait_done(&b, 5000));
	assert_int_equal(b.rc, 0);
	/* Everything a left in its slot's cache: its prompt and all but the
	 * last sampled token. */
	assert_int_equal(b.res.prompt_cached, a.n_toks + a.n_out - 1);
	sched_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sched_batched_sequences_match_reference),
	    cmocka_unit_test(test_sched_queue_limit_and_cancel),
	    cmocka_unit_test(test_sched_keep_alive),
	    cmocka_unit_test(test_sched_num_ctx_change_keeps_model),
	    cmocka_unit_test(test_sched_max_loaded_evicts_idle),
	    cmocka_unit_test(test_sched_load_error_fails_job),
	    cmocka_unit_test(test_sched_prefix_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

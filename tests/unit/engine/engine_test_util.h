/* engine_test_util.h — helpers shared by the engine's model tests (header
 * only: each test program includes it once). Reads the llama.cpp reference
 * JSON files of ../shared/models (gen-ref-v1 / v2, see its README) and runs
 * greedy decoding through the C API, recording what the references hold. */
#ifndef GPURUN_TEST_ENGINE_UTIL_H
#define GPURUN_TEST_ENGINE_UTIL_H

#include "support/support.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "base/json.h"
#include "engine/engine.h"
#include "gguf/gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX_IDS 128
#define REF_MAX_TOP 4

/* One case of a reference file. */
struct ref_case {
	int32_t prompt[REF_MAX_IDS];
	int64_t n_prompt;
	int32_t gen[REF_MAX_IDS];
	int64_t n_gen;
	float logits_first[1024]; /* v2 only */
	int64_t n_logits_first;
	int top_steps[REF_MAX_TOP]; /* v2: steps of top10_at; v1: step 0 */
	int32_t top_ids[REF_MAX_TOP][10];
	float top_vals[REF_MAX_TOP][10];
	int n_top;
	float gaps[REF_MAX_IDS]; /* v2 top2_gaps, else 1e9 */
	char text[4096];         /* generated_text */
	char prompt_text[256];
};

struct ref_file {
	int64_t n_ctx;
	struct ref_case cases[8];
	int n_cases;
};

static inline int read_ids(const cJSON *arr, int32_t *out, int cap)
{
	int n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (n < cap)
			out[n++] = (int32_t)it->valuedouble;
	}
	return n;
}

static inline void read_top(const cJSON *top, int32_t *ids, float *vals)
{
	int k = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, top)
	{
		if (k < 10) {
			ids[k] = (int32_t)cJSON_GetArrayItem(it, 0)->valuedouble;
			vals[k] = (float)cJSON_GetArrayItem(it, 1)->valuedouble;
			k++;
		}
	}
}

static inline void read_case(const cJSON *c, struct ref_case *rc)
{
	memset(rc, 0, sizeof *rc);
	rc->n_prompt = read_ids(cJSON_GetObjectItem(c, "prompt_ids"), rc->prompt, REF_MAX_IDS);
	rc->n_gen = read_ids(cJSON_GetObjectItem(c, "generated_ids"), rc->gen, REF_MAX_IDS);
	snprintf(rc->text, sizeof rc->text, "%s", json_str(c, "generated_text", ""));
	snprintf(rc->prompt_text, sizeof rc->prompt_text, "%s", json_str(c, "prompt", ""));
	const cJSON *lf = cJSON_GetObjectItem(c, "logits_first"), *it;
	cJSON_ArrayForEach(it, lf)
	{
		if (rc->n_logits_first < 1024)
			rc->logits_first[rc->n_logits_first++] = (float)it->valuedouble;
	}
	for (int i = 0; i < REF_MAX_IDS; i++)
		rc->gaps[i] = 1e9f;
	const cJSON *gaps = cJSON_GetObjectItem(c, "top2_gaps");
	int g = 0;
	cJSON_ArrayForEach(it, gaps)
	{
		if (g < REF_MAX_IDS)
			rc->gaps[g++] = (float)it->valuedouble;
	}
	const cJSON *tat = cJSON_GetObjectItem(c, "top10_at");
	if (tat) {
		cJSON_ArrayForEach(it, tat)
		{
			if (rc->n_top >= REF_MAX_TOP)
				break;
			rc->top_steps[rc->n_top] = (int)json_i64(it, "step", 0);
			read_top(cJSON_GetObjectItem(it, "top10"), rc->top_ids[rc->n_top],
			         rc->top_vals[rc->n_top]);
			rc->n_top++;
		}
	} else {
		rc->top_steps[0] = 0;
		read_top(cJSON_GetObjectItem(c, "first_top10"), rc->top_ids[0], rc->top_vals[0]);
		rc->n_top = 1;
	}
}

/* test_model_path into a caller buffer (1024 bytes); false when missing. */
static inline bool model_path(const char *rel, char *out)
{
	const char *p = test_model_path(rel);
	if (!p)
		return false;
	snprintf(out, 1024, "%s", p);
	return true;
}

/* Loads ref JSON at models-relative path rel; false when missing. */
static inline bool ref_load(const char *rel, struct ref_file *rf)
{
	const char *path = test_model_path(rel);
	if (!path)
		return false;
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(path, &b, 0), 0);
	char err[ERR_MSG_LEN];
	cJSON *j = json_parse(b.data, b.len, err);
	assert_non_null(j);
	memset(rf, 0, sizeof *rf);
	const cJSON *settings = cJSON_GetObjectItem(j, "settings");
	rf->n_ctx = json_i64(settings, "n_ctx", 256);
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases"))
	{
		if (rf->n_cases < 8)
			read_case(c, &rf->cases[rf->n_cases++]);
	}
	cJSON_Delete(j);
	buf_release(&b);
	return true;
}

/* What a greedy run produced. */
struct run_out {
	int32_t gen[REF_MAX_IDS];
	float *logits[REF_MAX_IDS]; /* logits at each step (n_vocab floats each) */
	int64_t n_vocab;
};

static inline void run_out_free(struct run_out *o)
{
	for (int i = 0; i < REF_MAX_IDS; i++)
		free(o->logits[i]);
	memset(o, 0, sizeof *o);
}

/* Greedy decoding of n_gen tokens after the prompt (whole prompt in one eval,
 * then one token per eval; no stop at EOS), recording every step's logits. */
static inline void run_greedy(struct engine_model *m, int64_t n_ctx, const int32_t *prompt,
                              int64_t n_prompt, int64_t n_gen, struct run_out *o)
{
	char err[ERR_MSG_LEN];
	struct engine_seq *s = engine_seq_new(m, n_ctx, err);
	if (!s)
		fail_msg("engine_seq_new: %s", err);
	memset(o, 0, sizeof *o);
	o->n_vocab = engine_model_info(m)->n_vocab;
	assert_int_equal(engine_seq_eval(s, prompt, n_prompt, NULL), 0);
	for (int64_t i = 0; i < n_gen; i++) {
		const float *l = engine_seq_logits(s);
		assert_non_null(l);
		o->logits[i] = malloc((size_t)o->n_vocab * sizeof(float));
		memcpy(o->logits[i], l, (size_t)o->n_vocab * sizeof(float));
		o->gen[i] = sampler_argmax(l, o->n_vocab);
		if (i + 1 < n_gen)
			assert_int_equal(engine_seq_eval(s, &o->gen[i], 1, NULL), 0);
	}
	engine_seq_free(s);
}

/* Largest |ours - ref| over the reference's top-10 lists at the steps where
 * our path still equals the reference's (the earlier ids all match). */
static inline float top10_err(const struct ref_case *rc, const struct run_out *o, int64_t n_match)
{
	float worst = 0;
	for (int t = 0; t < rc->n_top; t++) {
		int step = rc->top_steps[t];
		if (step > n_match || !o->logits[step])
			continue;
		for (int k = 0; k < 10; k++) {
			float d = fabsf(o->logits[step][rc->top_ids[t][k]] - rc->top_vals[t][k]);
			worst = d > worst ? d : worst;
		}
	}
	return worst;
}

static inline int64_t prefix_match(const int32_t *a, const int32_t *b, int64_t n)
{
	int64_t i = 0;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

static inline float max_abs_diff(const float *a, const float *b, int64_t n)
{
	float worst = 0;
	for (int64_t i = 0; i < n; i++) {
		float d = fabsf(a[i] - b[i]);
		worst = d > worst ? d : worst;
	}
	return worst;
}

static inline double cosine(const float *a, const float *b, int64_t n)
{
	double ab = 0, aa = 0, bb = 0;
	for (int64_t i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return ab / sqrt(aa * bb);
}

static inline struct engine_model *load_or_fail(const char *path)
{
	char err[ERR_MSG_LEN];
	struct engine_load_params p;
	engine_load_params_default(&p);
	struct engine_model *m = engine_model_load(path, &p, err);
	if (!m)
		fail_msg("load %s: %s", path, err);
	return m;
}

/* A modified copy of a GGUF file for load tests: every key except those in
 * skip_keys (NULL-terminated), every tensor except skip_tensor (may be
 * NULL); edit(w) may add keys. Written to the test's tmp dir as name. The
 * returned path is static. */
static inline const char *write_variant(const char *src, const char *name,
                                        const char *const *skip_keys, const char *skip_tensor,
                                        void (*edit)(struct gguf_writer *w))
{
	static char out[1024];
	char err[ERR_MSG_LEN];
	struct gguf_file *f = gguf_open(src, err);
	if (!f)
		fail_msg("open %s: %s", src, err);
	struct gguf_writer *w = gguf_writer_new();
	gguf_writer_copy_kv(w, f, skip_keys);
	if (edit)
		edit(w);
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];
		char tname[256];
		snprintf(tname, sizeof tname, "%.*s", (int)t->name.n, t->name.p);
		if (skip_tensor && !strcmp(tname, skip_tensor))
			continue;
		assert_int_equal(gguf_writer_add_tensor_ref(w, tname, t->type, t->n_dims, t->ne,
		                                            t->data, t->nbytes),
		                 0);
	}
	snprintf(out, sizeof out, "%s/%s", test_tmp_dir(), name);
	if (gguf_writer_write(w, out, err))
		fail_msg("write %s: %s", out, err);
	gguf_writer_free(w);
	gguf_close(f);
	return out;
}

#endif

/* api_embed.c — embeddings: POST /api/embed (input string or list,
 * truncate, dimensions: truncated then re-normalized; L2-normalized
 * float32 vectors), the legacy POST /api/embeddings ({"embedding":[...]}
 * as float64), and POST /v1/embeddings (OpenAI's list object, float or
 * base64 encoding). Reference ollama-api.md §1.6, §2.3. Each input is
 * tokenized and mean-pooled by the engine (engine_embed) in one of the
 * model's slots; an empty input only loads the model. */
#include "ollama/server_internal.h"

#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/gojson.h"
#include "base/timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum embed_kind { EMBED_NATIVE, EMBED_LEGACY, EMBED_OPENAI };

struct embed_call {
	struct api_call call;
	struct sched_job job;
	enum embed_kind kind;
	char *model_req;
	struct store_model sm;
	char display[NAMES_STR_MAX];
	struct buf details;
	struct gen_options opts;
	char **inputs;
	int n_inputs;
	bool truncate;
	int64_t dimensions;
	bool base64;
	int err_status;
	/* the run */
	int32_t **toks;
	int64_t *n_toks;
	float *vecs; /* (n_inputs, n_embd) */
	int n_embd, n_out;
	int64_t prompt_tokens;
};

static void embed_destroy(struct api_call *c)
{
	struct embed_call *e = (struct embed_call *)c;
	free(e->model_req);
	store_model_release(&e->sm);
	buf_release(&e->details);
	gen_options_release(&e->opts);
	for (int i = 0; i < e->n_inputs; i++) {
		free(e->inputs[i]);
		if (e->toks)
			free(e->toks[i]);
	}
	free(e->inputs);
	free(e->toks);
	free(e->n_toks);
	free(e->vecs);
	free(e);
}

/* ---- the job ---- */

static int embed_prepare(struct sched_job *j, struct engine_model *m, int64_t n_ctx)
{
	struct embed_call *e = j->user;
	if (e->n_inputs == 0)
		return SCHED_NO_SLOT;
	e->n_embd = engine_model_info(m)->n_embd;
	e->toks = xcalloc((size_t)e->n_inputs, sizeof *e->toks);
	e->n_toks = xcalloc((size_t)e->n_inputs, sizeof *e->n_toks);
	e->vecs = try_malloc_array((size_t)e->n_inputs * (size_t)e->n_embd, sizeof *e->vecs);
	if (!e->vecs)
		return err_set(j->err, ERR_NOMEM, "out of memory for %d embeddings", e->n_inputs);
	for (int i = 0; i < e->n_inputs; i++) {
		size_t len = strlen(e->inputs[i]);
		int64_t cap = (int64_t)len + 16;
		e->toks[i] = xmalloc((size_t)cap * sizeof **e->toks);
		int64_t n = engine_tokenize(m, e->inputs[i], len, true, true, e->toks[i], cap);
		if (n < 0 || n > cap)
			return err_set(j->err, n < 0 ? (int)n : ERR_TOO_LARGE,
			               "tokenizing input %d", i);
		if (n > n_ctx) {
			if (!e->truncate) {
				e->err_status = 400;
				return err_set(j->err, ERR_TOO_LARGE,
				               "the input length exceeds the context length");
			}
			n = n_ctx;
		}
		e->n_toks[i] = n;
		e->prompt_tokens += n;
	}
	return 0;
}

/* dimensions < n_embd: keep the first ones and normalize again. */
static void reduce(float *v, int n_embd, int dims)
{
	double norm = 0;
	for (int k = 0; k < dims; k++)
		norm += (double)v[k] * v[k];
	float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0.0f;
	for (int k = 0; k < dims; k++)
		v[k] *= inv;
	(void)n_embd;
}

static int embed_start(struct sched_job *j, struct engine_seq *seq)
{
	struct embed_call *e = j->user;
	e->n_out = e->dimensions > 0 && e->dimensions < e->n_embd ? (int)e->dimensions : e->n_embd;
	for (int i = 0; i < e->n_inputs; i++) {
		float *v = e->vecs + (size_t)i * (size_t)e->n_embd;
		int rc =
		    e->n_toks[i] > 0 ? engine_embed(seq, e->toks[i], e->n_toks[i], v) : ERR_INVALID;
		if (rc) {
			snprintf(j->err, sizeof j->err, "embedding input %d: %s", i, err_str(rc));
			return rc;
		}
		if (e->n_out < e->n_embd)
			reduce(v, e->n_embd, e->n_out);
	}
	return 0;
}

static void vector(struct embed_call *e, struct buf *b, int i)
{
	const float *v = e->vecs + (size_t)i * (size_t)e->n_embd;
	if (e->kind == EMBED_OPENAI && e->base64) {
		static const char tbl[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const unsigned char *p = (const unsigned char *)v; /* little-endian float32 */
		size_t n = (size_t)e->n_out * 4;
		buf_putc(b, '"');
		for (size_t k = 0; k < n; k += 3) {
			unsigned x = p[k] << 16 | (k + 1 < n ? p[k + 1] << 8 : 0) |
			             (k + 2 < n ? p[k + 2] : 0);
			buf_putc(b, tbl[x >> 18 & 63]);
			buf_putc(b, tbl[x >> 12 & 63]);
			buf_putc(b, k + 1 < n ? tbl[x >> 6 & 63] : '=');
			buf_putc(b, k + 2 < n ? tbl[x & 63] : '=');
		}
		buf_putc(b, '"');
		return;
	}
	buf_putc(b, '[');
	for (int k = 0; k < e->n_out; k++) {
		if (k)
			buf_putc(b, ',');
		if (e->kind == EMBED_LEGACY)
			gojson_append_float(b, (double)v[k]);
		else
			jf32(b, v[k]);
	}
	buf_putc(b, ']');
}

static void answer(struct embed_call *e, struct buf *b)
{
	int n = e->vecs ? e->n_inputs : 0;
	if (e->kind == EMBED_LEGACY) {
		buf_puts(b, "{\"embedding\":");
		if (n)
			vector(e, b, 0);
		else
			buf_puts(b, "[]");
		buf_putc(b, '}');
		return;
	}
	if (e->kind == EMBED_OPENAI) {
		buf_puts(b, "{\"object\":\"list\",\"data\":[");
		for (int i = 0; i < n; i++) {
			buf_puts(b, i ? ",{\"object\":\"embedding\",\"embedding\":"
			              : "{\"object\":\"embedding\",\"embedding\":");
			vector(e, b, i);
			buf_printf(b, ",\"index\":%d}", i);
		}
		buf_puts(b, "],\"model\":");
		jstr(b, e->model_req);
		buf_printf(b, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}",
		           (long long)e->prompt_tokens, (long long)e->prompt_tokens);
		return;
	}
	buf_puts(b, "{\"model\":");
	jstr(b, e->model_req);
	buf_puts(b, ",\"embeddings\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		vector(e, b, i);
	}
	buf_putc(b, ']');
	int64_t now = time_mono_ns(), t0 = e->call.t0;
	if (n) {
		buf_printf(b, ",\"total_duration\":%lld", (long long)(now - t0));
		if (e->job.ready_ns > t0)
			buf_printf(b, ",\"load_duration\":%lld", (long long)(e->job.ready_ns - t0));
		if (e->prompt_tokens)
			buf_printf(b, ",\"prompt_eval_count\":%lld", (long long)e->prompt_tokens);
	}
	buf_putc(b, '}');
}

static void embed_done(struct sched_job *j, struct engine_seq *seq, int rc)
{
	struct embed_call *e = j->user;
	struct api_call *c = &e->call;
	if (rc == 0) {
		struct buf b = BUF_INIT;
		answer(e, &b);
		api_call_set(c, 200, CT_JSON, b.data, b.len);
		buf_release(&b);
		if (e->prompt_tokens)
			metrics_embedding(c->srv->metrics, e->display, e->prompt_tokens);
	} else if (rc == ERR_CANCELLED) {
		api_call_set(c, 499, CT_JSON, "{\"error\":\"request canceled\"}", 28);
	} else {
		api_call_error(c, e->err_status, j->err[0] ? j->err : err_str(rc));
	}
	api_call_complete(c);
}

static const struct sched_job_ops embed_ops = {
    .prepare = embed_prepare,
    .start = embed_start,
    .done = embed_done,
};

static void embed_cancel(struct api_call *c)
{
	sched_job_cancel(c->srv->sched, &((struct embed_call *)c)->job);
}

/* ---- requests ---- */

static void add_input(struct embed_call *e, const char *s)
{
	e->inputs = xrealloc(e->inputs, (size_t)(e->n_inputs + 1) * sizeof *e->inputs);
	e->inputs[e->n_inputs++] = xstrdup(s);
}

/* input: a string or a list of strings. */
static bool inputs(struct embed_call *e, const cJSON *in)
{
	if (!in || cJSON_IsNull(in))
		return true;
	if (cJSON_IsString(in)) {
		if (in->valuestring[0] || e->kind == EMBED_OPENAI)
			add_input(e, in->valuestring);
		return true;
	}
	if (!cJSON_IsArray(in)) {
		api_reply_error(&e->call, 400, "invalid input type");
		return false;
	}
	if (e->kind == EMBED_OPENAI && cJSON_GetArraySize(in) == 0) {
		api_reply_error(&e->call, 400, "invalid input");
		return false;
	}
	const cJSON *s;
	cJSON_ArrayForEach(s, in)
	{
		if (!cJSON_IsString(s)) {
			api_reply_error(&e->call, 400,
			                e->kind == EMBED_OPENAI
			                    ? "invalid input: token arrays are not supported"
			                    : "invalid input type");
			return false;
		}
		add_input(e, s->valuestring);
	}
	return true;
}

static bool model(struct embed_call *e, const char *name)
{
	struct model_name mn;
	char err[ERR_MSG_LEN];
	if (api_model_open(&e->call, name, &e->sm, &mn,
	                   "model \"%s\" not found, try pulling it first"))
		return false;
	e->model_req = xstrdup(name);
	names_shortest(&mn, e->display, sizeof e->display);
	api_details_json(&e->sm.entry, e->sm.parent, &e->details);
	if (!e->sm.model_path || gen_options_apply_text(&e->opts, e->sm.params_json, err)) {
		api_reply_error(&e->call, e->sm.model_path ? 500 : 400,
		                e->sm.model_path ? err : "this model does not support embeddings");
		return false;
	}
	return true;
}

static bool fields(struct embed_call *e, const cJSON *body)
{
	char err[ERR_MSG_LEN];
	const char *name = NULL;
	if (!api_str(&e->call, body, "model", &name) || !model(e, name) ||
	    !api_bool(&e->call, body, "truncate", &e->truncate))
		return false;
	e->dimensions = json_i64(body, "dimensions", 0); /* no cast of 1e300 */
	if (api_keep_alive(body, &e->job.keep_alive_set, &e->job.keep_alive_ns, err) ||
	    gen_options_apply(&e->opts, cJSON_GetObjectItemCaseSensitive(body, "options"), err)) {
		api_reply_error(&e->call, 400, err);
		return false;
	}
	const char *fmt = json_str(body, "encoding_format", "float");
	if (e->kind == EMBED_OPENAI && strcmp(fmt, "float") != 0 && strcmp(fmt, "base64") != 0) {
		snprintf(err, sizeof err,
		         "Invalid value for 'encoding_format' = %.64s. Supported "
		         "values: ['float', 'base64'].",
		         fmt);
		api_reply_error(&e->call, 400, err);
		return false;
	}
	e->base64 = !strcmp(fmt, "base64");
	const char *key = e->kind == EMBED_LEGACY ? "prompt" : "input";
	return inputs(e, cJSON_GetObjectItemCaseSensitive(body, key));
}

static void submit(struct embed_call *e)
{
	api_job_submit(&e->call, &e->job, &embed_ops, &e->sm, e->display, &e->details,
	               e->opts.num_ctx, embed_cancel);
}

static void embed_route(const struct api_route *rt, struct http_req *req, enum embed_kind kind)
{
	struct embed_call *e = api_call_alloc(rt, req, sizeof *e, embed_destroy);
	e->kind = kind;
	e->truncate = true;
	e->err_status = 500;
	gen_options_init(&e->opts);
	cJSON *body = api_body_json(&e->call);
	if (!body)
		return;
	bool ok = fields(e, body);
	cJSON_Delete(body);
	if (ok)
		submit(e);
}

void api_embed(const struct api_route *rt, struct http_req *req)
{
	embed_route(rt, req, EMBED_NATIVE);
}

void api_embeddings(const struct api_route *rt, struct http_req *req)
{
	embed_route(rt, req, EMBED_LEGACY);
}

void openai_embeddings(const struct api_route *rt, struct http_req *req)
{
	embed_route(rt, req, EMBED_OPENAI);
}

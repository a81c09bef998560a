/* server_gen.c — a generation request from model lookup to its last byte:
 * the model's params layer and template, the scheduler job (prompt built on
 * the model's thread: template rendering, chat truncation to num_ctx,
 * generate's context tokens, the runner's prompt truncation), streaming each
 * token as it comes, and the final answer with Ollama's metrics (reference
 * ollama-api.md §1.4, §1.5, §2.1, §2.2). Shared by /api/generate,
 * /api/chat, /v1/chat/completions and /v1/completions; their request
 * parsing is in api_generate.c and openai.c, their answer shapes in
 * server_genfmt.c. */
#include "ollama/server_internal.h"

#include "engine/constrain.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void gen_destroy(struct api_call *c)
{
	struct gen_call *g = (struct gen_call *)c;
	free(g->model_req);
	store_model_release(&g->sm);
	buf_release(&g->details);
	template_free(g->tmpl);
	free(g->prompt);
	free(g->suffix);
	prompt_msgs_free(g->msgs, g->n_msgs);
	template_value_free(g->tools);
	tools_parser_release(&g->tp);
	think_parser_release(&g->thp);
	buf_release(&g->thinking);
	buf_release(&g->th_out);
	buf_release(&g->ct_out);
	cJSON_Delete(g->tool_calls);
	buf_release(&g->emit);
	free(g->ctx_ids);
	gen_options_release(&g->opts);
	free(g->tokens);
	buf_release(&g->text);
	buf_release(&g->line);
	free(g->out_ids);
	constrain_prog_free(g->cons);
	free(g);
}

struct gen_call *gen_call_new(const struct api_route *rt, struct http_req *req, enum gen_api api)
{
	struct gen_call *g = api_call_alloc(rt, req, sizeof *g, gen_destroy);
	g->api = api;
	g->stream = true;
	g->truncate = true;
	g->shift = true;
	g->err_status = 500;
	gen_options_init(&g->opts);
	g->call.anthropic = api == GEN_ANTHROPIC;
	if (api != GEN_GENERATE && api != GEN_CHAT) {
		g->call.sse = true;
		g->call.stream_ctype = CT_SSE;
	}
	return g;
}

void gen_call_run(const struct api_route *rt, struct http_req *req, enum gen_api api,
                  void (*parse)(struct gen_call *g, const cJSON *body))
{
	struct gen_call *g = gen_call_new(rt, req, api);
	cJSON *body = api_body_json(&g->call);
	if (!body)
		return;
	parse(g, body);
	cJSON_Delete(body);
}

int gen_call_model(struct gen_call *g, const char *name, const char *tmpl_override,
                   const char *not_found)
{
	struct model_name mn;
	char err[ERR_MSG_LEN];
	int rc = api_model_open(&g->call, name, &g->sm, &mn, not_found);
	if (rc)
		return rc;
	g->model_req = xstrdup(name);
	names_shortest(&mn, g->display, sizeof g->display);
	api_details_json(&g->sm.entry, g->sm.parent, &g->details);
	if (!g->sm.model_path) {
		snprintf(err, sizeof err, "\"%s\" does not support generate", name);
		api_reply_error(&g->call, 400, err);
		return ERR_UNSUPPORTED;
	}
	rc = gen_options_apply_text(&g->opts, g->sm.params_json, err);
	if (!rc) {
		const char *t =
		    tmpl_override && *tmpl_override ? tmpl_override : g->sm.template_text;
		rc = prompt_template_parse(t, &g->tmpl, err);
	}
	if (rc) {
		api_reply_error(&g->call, 500, err);
		return rc;
	}
	/* a template that uses .Think makes a thinking model: think is on
	 * unless the request says otherwise (Ollama) */
	g->think_capable = g->think = template_uses(g->tmpl, "Think");
	return 0;
}

/* ---- the job, on the model's thread ---- */

static int64_t count_tokens(void *ud, const char *text, size_t n)
{
	return engine_tokenize(ud, text, n, true, true, NULL, 0);
}

/* The routes whose answers have a place for thinking. */
static bool carries_thinking(const struct gen_call *g)
{
	return g->api == GEN_GENERATE || g->api == GEN_CHAT || g->api == GEN_OAI_CHAT;
}

static int render(struct gen_call *g, struct engine_model *m, int64_t n_ctx, struct buf *text)
{
	char *err = g->job.err;
	if (g->raw) {
		buf_puts(text, g->prompt ? g->prompt : "");
		return 0;
	}
	/* the routes that cannot carry thinking ask the template for none */
	bool carries = carries_thinking(g);
	struct prompt_vars vars = {.tools = g->tools,
	                           .think = g->think && carries,
	                           .think_level = g->think_level,
	                           .think_set = g->think_set || (g->think_capable && !carries)};
	if (g->api != GEN_GENERATE && g->api != GEN_OAI_COMPLETION)
		return prompt_chat(g->tmpl, g->msgs, g->n_msgs, &vars, n_ctx, g->truncate,
		                   count_tokens, m, text, NULL, err);
	if (g->suffix && *g->suffix)
		return prompt_render(g->tmpl, NULL, 0, &vars, g->prompt, g->suffix, text, err);
	return prompt_render(g->tmpl, g->msgs, g->n_msgs, &vars, NULL, NULL, text, err);
}

/* A thinking model's answer is split (thinking apart from content) on the
 * routes that can carry it: generate, chat, OpenAI chat. */
static void think_start(struct gen_call *g, const struct buf *text)
{
	g->think_on = g->think_capable && g->think && !g->raw && carries_thinking(g);
	if (g->think_on)
		think_parser_init(&g->thp,
		                  think_prompt_opened(text->data ? text->data : "", text->len));
}

static int tokenize(struct gen_call *g, struct engine_model *m, const struct buf *text)
{
	const char *p = text->data ? text->data : "";
	int64_t n_vocab = engine_model_info(m)->n_vocab;
	for (int64_t i = 0; i < g->n_ctx_ids; i++)
		if (g->ctx_ids[i] >= n_vocab) {
			g->err_status = 400;
			return err_set(g->job.err, ERR_INVALID,
			               "invalid context: token %d is not in the vocabulary",
			               g->ctx_ids[i]);
		}
	bool bos = g->n_ctx_ids == 0;
	int64_t cap = g->n_ctx_ids + (int64_t)text->len + 16;
	for (;;) {
		free(g->tokens);
		g->tokens = try_malloc_array((size_t)cap, sizeof *g->tokens);
		if (!g->tokens)
			return err_set(g->job.err, ERR_NOMEM, "out of memory for the prompt");
		if (g->n_ctx_ids)
			memcpy(g->tokens, g->ctx_ids, (size_t)g->n_ctx_ids * sizeof *g->tokens);
		int64_t room = cap - g->n_ctx_ids;
		int64_t n =
		    engine_tokenize(m, p, text->len, bos, true, g->tokens + g->n_ctx_ids, room);
		if (n < 0)
			return err_set(g->job.err, (int)n, "tokenizing the prompt: %s",
			               err_str((int)n));
		if (n <= room) {
			g->n_tokens = g->n_ctx_ids + n;
			return 0;
		}
		cap = g->n_ctx_ids + n;
	}
}

/* A prompt that fills the context keeps its first num_keep tokens and the
 * most recent ones, half a context in all (llama.cpp server's truncation),
 * unless truncate is false. */
static int fit(struct gen_call *g, int64_t n_ctx)
{
	if (g->n_tokens < n_ctx)
		return 0;
	if (!g->truncate) {
		g->err_status = 400;
		return err_set(g->job.err, ERR_TOO_LARGE,
		               "the input length exceeds the context length");
	}
	int64_t target = n_ctx / 2 > 1 ? n_ctx / 2 : 1;
	int64_t keep = g->opts.num_keep < 0 ? 0 : g->opts.num_keep;
	if (keep > target / 2)
		keep = target / 2;
	int64_t tail = target - keep;
	memmove(g->tokens + keep, g->tokens + g->n_tokens - tail, (size_t)tail * sizeof *g->tokens);
	log_warn("serve: prompt of %lld tokens truncated to %lld (num_ctx %lld)",
	         (long long)g->n_tokens, (long long)target, (long long)n_ctx);
	g->n_tokens = target;
	return 0;
}

static int gen_prepare(struct sched_job *j, struct engine_model *m, int64_t n_ctx)
{
	struct gen_call *g = j->user;
	if (g->load_only)
		return SCHED_NO_SLOT;
	struct buf text = BUF_INIT;
	int rc = render(g, m, n_ctx, &text);
	if (!rc)
		think_start(g, &text);
	if (!rc)
		rc = tokenize(g, m, &text);
	buf_release(&text);
	if (!rc && g->n_tokens == 0)
		rc = err_set(j->err, ERR_INVALID, "the prompt is empty after templating");
	if (!rc)
		rc = fit(g, n_ctx);
	if (rc)
		return rc;
	struct engine_gen_params *gp = &g->gp;
	engine_gen_params_default(gp);
	gp->prompt = g->tokens;
	gp->n_prompt = g->n_tokens;
	/* as Ollama: never more than 10 contexts' worth, so a context shift
	 * cannot run on forever */
	gp->num_predict = g->opts.num_predict < 0 || g->opts.num_predict > 10 * n_ctx
	                      ? 10 * n_ctx
	                      : g->opts.num_predict;
	for (int i = 0; i < g->opts.n_stop; i++)
		gp->stop[i] = g->opts.stop[i];
	gp->sampling = g->opts.sampling;
	gp->constraint = g->cons;
	gp->shift = g->shift;
	/* num_keep < 0 keeps the whole prompt; at least one token can always go */
	gp->num_keep = g->opts.num_keep < 0 ? g->n_tokens : g->opts.num_keep;
	if (gp->num_keep > n_ctx - 2)
		gp->num_keep = n_ctx - 2 > 0 ? n_ctx - 2 : 0;
	j->tokens = g->tokens;
	j->n_tokens = g->n_tokens;
	return 0;
}

/* Answer text: kept for the whole answer, or streamed as a chunk. */
static int content(struct gen_call *g, const char *text, size_t len)
{
	if (!g->stream) {
		buf_append(&g->text, text, len);
		return 0;
	}
	buf_reset(&g->line);
	genfmt_chunk(g, text, len, &g->line);
	return api_call_write(&g->call, g->line.data, g->line.len, false) == ERR_CANCELLED;
}

/* Thinking text: streamed as its own chunk, or kept for the whole answer. */
static int thinking(struct gen_call *g, const char *text, size_t len)
{
	if (!g->stream) {
		buf_append(&g->thinking, text, len);
		return 0;
	}
	buf_reset(&g->line);
	genfmt_thinking(g, text, len, &g->line);
	return api_call_write(&g->call, g->line.data, g->line.len, false) == ERR_CANCELLED;
}

/* The end of a thinking answer: what the parser held back goes out. */
static void end_think(struct gen_call *g)
{
	if (!g->think_on)
		return;
	buf_reset(&g->th_out);
	buf_reset(&g->ct_out);
	think_finish(&g->thp, &g->th_out, &g->ct_out);
	if (g->th_out.len)
		thinking(g, g->th_out.data, g->th_out.len);
	if (g->ct_out.len)
		content(g, g->ct_out.data, g->ct_out.len);
}

/* The end of an answer with tools: held text goes out as content, or the
 * calls as one chunk. */
static void end_tools(struct gen_call *g)
{
	if (!g->tools)
		return;
	buf_reset(&g->emit);
	g->tool_calls = tools_finish(&g->tp, &g->emit);
	if (g->emit.len)
		content(g, g->emit.data, g->emit.len);
	if (g->tool_calls && g->stream) {
		buf_reset(&g->line);
		genfmt_tool_calls(g, &g->line);
		api_call_write(&g->call, g->line.data, g->line.len, false);
	}
}

static int on_token(void *user, int32_t tok, const char *text, size_t len)
{
	struct gen_call *g = user;
	if (atomic_load(&g->job.cancel) || http_req_cancelled(g->call.req))
		return 1;
	if (!g->t_first)
		g->t_first = time_mono_ns();
	if (tok >= 0 && g->api == GEN_GENERATE && !g->raw) {
		if (g->n_out == g->cap_out) {
			g->cap_out = g->cap_out ? 2 * g->cap_out : 256;
			g->out_ids = xrealloc(g->out_ids, (size_t)g->cap_out * sizeof *g->out_ids);
		}
		g->out_ids[g->n_out++] = tok;
	}
	if (g->think_on) { /* thinking apart; the content goes on below */
		buf_reset(&g->th_out);
		buf_reset(&g->ct_out);
		think_feed(&g->thp, text, len, &g->th_out, &g->ct_out);
		if (g->th_out.len && thinking(g, g->th_out.data, g->th_out.len))
			return 1;
		if (!g->ct_out.len)
			return 0;
		text = g->ct_out.data;
		len = g->ct_out.len;
	}
	if (g->tools) { /* held back while it may be a tool call */
		buf_reset(&g->emit);
		tools_feed(&g->tp, text, len, &g->emit);
		text = g->emit.data;
		len = g->emit.len;
	}
	return len ? content(g, text, len) : 0;
}

static int gen_start(struct sched_job *j, struct engine_seq *seq)
{
	struct gen_call *g = j->user;
	int rc = engine_gen_start(seq, &g->gp, on_token, g);
	if (rc == ERR_TOO_LARGE)
		snprintf(j->err, sizeof j->err, "the input length exceeds the context length");
	else if (rc && rc != ERR_CANCELLED)
		snprintf(j->err, sizeof j->err, "evaluating the prompt: %s", err_str(rc));
	return rc ? rc : 1;
}

static bool gen_paused(struct sched_job *j)
{
	struct gen_call *g = j->user;
	return api_call_paused(&g->call);
}

static void record(struct gen_call *g)
{
	int64_t ttft = g->t_first ? g->t_first - g->call.t0 : -1;
	metrics_generation(g->call.srv->metrics, g->display, g->res.prompt_eval_count,
	                   g->res.prompt_cached, g->res.eval_count, ttft, g->res.eval_ns);
}

static void gen_done(struct sched_job *j, struct engine_seq *seq, int rc)
{
	struct gen_call *g = j->user;
	struct api_call *c = &g->call;
	if (seq)
		engine_gen_result(seq, &g->res);
	buf_reset(&g->line);
	if (rc == 0 && g->load_only) {
		genfmt_load(g, "load", &g->line);
		api_call_set(c, 200, CT_JSON, g->line.data, g->line.len);
	} else if (rc == 0 && g->stream) {
		end_think(g);
		end_tools(g);
		buf_reset(&g->line);
		genfmt_final(g, &g->line);
		api_call_write(c, g->line.data, g->line.len, false);
		record(g);
	} else if (rc == 0) {
		end_think(g);
		end_tools(g);
		genfmt_whole(g, &g->line);
		api_call_set(c, 200, CT_JSON, g->line.data, g->line.len);
		record(g);
	} else if (rc == ERR_CANCELLED) {
		if (!c->stream)
			api_call_set(c, 499, CT_JSON, "{\"error\":\"request canceled\"}", 28);
	} else {
		log_warn("serve: %s: %s", g->display, j->err);
		api_call_error(c, g->err_status, j->err[0] ? j->err : err_str(rc));
	}
	api_call_complete(c);
}

static const struct sched_job_ops gen_ops = {
    .prepare = gen_prepare,
    .start = gen_start,
    .paused = gen_paused,
    .done = gen_done,
};

static void gen_cancel(struct api_call *c)
{
	struct gen_call *g = (struct gen_call *)c;
	sched_job_cancel(c->srv->sched, &g->job);
}

void gen_call_submit(struct gen_call *g)
{
	api_job_submit(&g->call, &g->job, &gen_ops, &g->sm, g->display, &g->details,
	               g->opts.num_ctx, gen_cancel);
}

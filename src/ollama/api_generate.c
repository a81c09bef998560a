/* api_generate.c — POST /api/generate and POST /api/chat: request fields,
 * defaults and validation as Ollama's GenerateHandler and ChatHandler
 * (reference ollama-api.md §1.2, §1.4, §1.5, §1.9): stream on unless false,
 * raw mode, template/system overrides, suffix (fill-in-the-middle, needs a
 * template with .Suffix), context, keep_alive, empty prompt = load (or
 * unload with keep_alive 0), tools passed to the template. The run itself
 * is server_gen.c's. format is compiled into an engine constraint
 * (server_format.c); images are refused: no model here has a vision projector. */
#include "ollama/server_internal.h"

#include "base/json.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* format: null, "", "json" or a JSON-Schema object, compiled into the
 * constraint the engine enforces while sampling. */
static bool check_format(struct gen_call *g, const cJSON *body)
{
	char err[ERR_MSG_LEN];
	int rc = format_compile(cJSON_GetObjectItemCaseSensitive(body, "format"), &g->cons, err);
	if (rc)
		api_reply_error(&g->call, rc == ERR_INVALID ? 400 : 500, err);
	return rc == 0;
}

/* think (reference §1.4): true/false or a level "low"/"medium"/"high"/"max"
 * (true is "medium"). Absent: on for a thinking model (its template uses
 * .Think). Truthy for any other model: 400. */
static bool check_think(struct gen_call *g, const cJSON *body, const char *model)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "think");
	if (!t || cJSON_IsNull(t))
		return true;
	bool on = cJSON_IsTrue(t);
	const char *level = "";
	if (cJSON_IsString(t)) {
		static const char *const levels[] = {"low", "medium", "high", "max"};
		for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
			if (!strcmp(t->valuestring, levels[i]))
				level = levels[i];
		on = *level || !strcmp(t->valuestring, "true");
		if (!on && strcmp(t->valuestring, "false"))
			return api_fail(&g->call, 400, "invalid think value: \"%.64s\"",
			                t->valuestring);
	} else if (!cJSON_IsBool(t)) {
		return api_fail(&g->call, 400, "invalid think value: expected a bool or a level");
	}
	if (on && !g->think_capable)
		return api_fail(&g->call, 400, "\"%.200s\" does not support thinking", model);
	g->think = on;
	g->think_set = true;
	snprintf(g->think_level, sizeof g->think_level, "%s", on && !*level ? "medium" : level);
	return true;
}

/* Fields both routes share: stream, truncate, shift, keep_alive, options,
 * top_logprobs, format, think. */
static bool common_fields(struct gen_call *g, const cJSON *body, const char *model)
{
	char err[ERR_MSG_LEN];
	const cJSON *tl = cJSON_GetObjectItemCaseSensitive(body, "top_logprobs");
	if (!api_bool(&g->call, body, "stream", &g->stream) ||
	    !api_bool(&g->call, body, "truncate", &g->truncate) ||
	    !api_bool(&g->call, body, "shift", &g->shift))
		return false;
	if (cJSON_IsNumber(tl) && (tl->valuedouble < 0 || tl->valuedouble > 20)) {
		api_reply_error(&g->call, 400, "top_logprobs must be between 0 and 20");
		return false;
	}
	if (api_keep_alive(body, &g->job.keep_alive_set, &g->job.keep_alive_ns, err)) {
		api_reply_error(&g->call, 400, err);
		return false;
	}
	if (!check_format(g, body) || !check_think(g, body, model))
		return false;
	if (gen_options_apply(&g->opts, cJSON_GetObjectItemCaseSensitive(body, "options"), err)) {
		api_reply_error(&g->call, 500, err);
		return false;
	}
	return true;
}

static bool refuse_images(struct gen_call *g, const char *model, int n_images)
{
	if (n_images == 0)
		return false;
	char msg[ERR_MSG_LEN];
	snprintf(msg, sizeof msg, "\"%.200s\" does not support images", model);
	api_reply_error(&g->call, 400, msg);
	return true;
}

/* Empty prompt or messages: keep_alive 0 unloads now, else the model loads. */
static bool load_or_unload(struct gen_call *g)
{
	if (g->job.keep_alive_set && g->job.keep_alive_ns == 0) {
		sched_unload(g->call.srv->sched, g->sm.model_path);
		struct buf b = BUF_INIT;
		genfmt_load(g, "unload", &b);
		api_reply_json(&g->call, 200, &b);
		buf_release(&b);
		return true;
	}
	g->load_only = true;
	gen_call_submit(g);
	return true;
}

static bool model_messages(struct gen_call *g, struct prompt_msg **m, size_t *n)
{
	char err[ERR_MSG_LEN];
	*m = NULL;
	*n = 0;
	if (!g->sm.messages_json)
		return true;
	cJSON *j = cJSON_Parse(g->sm.messages_json);
	int rc =
	    j ? prompt_msgs_parse(j, m, n, err) : err_set(err, ERR_INVALID, "bad messages layer");
	cJSON_Delete(j);
	if (rc)
		api_reply_error(&g->call, 500, err);
	return rc == 0;
}

static bool context_ids(struct gen_call *g, const cJSON *ctx)
{
	if (!ctx || cJSON_IsNull(ctx))
		return true;
	if (!cJSON_IsArray(ctx)) {
		api_reply_error(&g->call, 400,
		                "json: cannot unmarshal value into Go struct field "
		                "GenerateRequest.context of type []int");
		return false;
	}
	int n = cJSON_GetArraySize(ctx);
	g->ctx_ids = xcalloc((size_t)n + 1, sizeof *g->ctx_ids);
	const cJSON *e;
	cJSON_ArrayForEach(e, ctx)
	{
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > INT32_MAX) {
			api_reply_error(&g->call, 400, "invalid context: token ids expected");
			return false;
		}
		g->ctx_ids[g->n_ctx_ids++] = (int32_t)e->valuedouble;
	}
	return true;
}

static bool generate_prompt(struct gen_call *g, const char *model, const char *system, bool has_ctx)
{
	struct prompt_msg *mm;
	size_t nm;
	if (g->suffix && *g->suffix && !template_uses(g->tmpl, "Suffix")) {
		char msg[ERR_MSG_LEN];
		snprintf(msg, sizeof msg, "\"%.200s\" does not support insert", model);
		api_reply_error(&g->call, 400, msg);
		return false;
	}
	if (g->raw)
		return true;
	if (!model_messages(g, &mm, &nm))
		return false;
	g->msgs = prompt_generate_msgs(system, g->sm.system_text, mm, nm, has_ctx,
	                               g->prompt ? g->prompt : "", &g->n_msgs);
	prompt_msgs_free(mm, nm);
	return true;
}

static void generate(struct gen_call *g, const cJSON *body)
{
	const char *model = NULL, *prompt = NULL, *suffix = NULL, *system = NULL, *tmpl = NULL;
	if (!api_str(&g->call, body, "model", &model) ||
	    !api_str(&g->call, body, "prompt", &prompt) ||
	    !api_str(&g->call, body, "suffix", &suffix) ||
	    !api_str(&g->call, body, "system", &system) ||
	    !api_str(&g->call, body, "template", &tmpl) ||
	    !api_bool(&g->call, body, "raw", &g->raw))
		return;
	const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(body, "context");
	if (g->raw && ((tmpl && *tmpl) || (system && *system) || cJSON_IsArray(ctx))) {
		api_reply_error(&g->call, 400,
		                "raw mode does not support template, system, or context");
		return;
	}
	if (gen_call_model(g, model, tmpl, "model '%s' not found") ||
	    !common_fields(g, body, model))
		return;
	const cJSON *images = cJSON_GetObjectItemCaseSensitive(body, "images");
	if (refuse_images(g, model, cJSON_IsArray(images) ? cJSON_GetArraySize(images) : 0))
		return;
	g->prompt = xstrdup(prompt ? prompt : "");
	g->suffix = suffix ? xstrdup(suffix) : NULL;
	if (!*g->prompt && !(suffix && *suffix)) {
		load_or_unload(g);
		return;
	}
	if (!context_ids(g, ctx) || !generate_prompt(g, model, system, cJSON_IsArray(ctx)))
		return;
	gen_call_submit(g);
}

void api_generate(const struct api_route *rt, struct http_req *req)
{
	gen_call_run(rt, req, GEN_GENERATE, generate);
}

/* ---- chat ---- */

static bool chat_tools(struct gen_call *g, const cJSON *body)
{
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
	if (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0)
		return true;
	if (!template_uses(g->tmpl, "Tools")) {
		char msg[ERR_MSG_LEN + NAMES_STR_MAX], full[NAMES_STR_MAX];
		names_full(&g->sm.entry.name, full, sizeof full);
		snprintf(msg, sizeof msg, "%s does not support tools", full);
		api_reply_error(&g->call, 400, msg);
		return false;
	}
	g->tools = prompt_tools_value(tools);
	tools_parser_init(&g->tp, g->sm.template_text);
	return true;
}

/* Parses messages, then assembles them with the model's layers. */
bool api_chat_messages(struct gen_call *g, const cJSON *arr, bool openai, const char *model)
{
	char err[ERR_MSG_LEN];
	struct prompt_msg *req, *mm;
	size_t nr, nm;
	int rc = openai ? prompt_msgs_parse_openai(arr, &req, &nr, err)
	                : prompt_msgs_parse(arr, &req, &nr, err);
	if (rc) {
		api_reply_error(&g->call, 400, err);
		return false;
	}
	int images = 0;
	for (size_t i = 0; i < nr; i++)
		images += req[i].n_images;
	bool ok = !refuse_images(g, model, images) && model_messages(g, &mm, &nm);
	if (ok) {
		g->msgs =
		    nr ? prompt_chat_msgs(mm, nm, req, nr, g->sm.system_text, &g->n_msgs) : NULL;
		prompt_msgs_free(mm, nm);
	}
	prompt_msgs_free(req, nr);
	return ok;
}

static void chat(struct gen_call *g, const cJSON *body)
{
	const char *model = NULL;
	if (!api_str(&g->call, body, "model", &model))
		return;
	if (gen_call_model(g, model, NULL, "model '%s' not found") ||
	    !common_fields(g, body, model))
		return;
	if (!chat_tools(g, body))
		return;
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
	if (!api_chat_messages(g, msgs, false, model))
		return;
	if (g->n_msgs == 0) {
		load_or_unload(g);
		return;
	}
	gen_call_submit(g);
}

void api_chat(const struct api_route *rt, struct http_req *req)
{
	gen_call_run(rt, req, GEN_CHAT, chat);
}

/* openai.c — OpenAI-compatible generation: POST /v1/chat/completions,
 * POST /v1/completions and POST /v1/responses (non-stateful: input and
 * instructions become chat messages; max_output_tokens, text.format; the
 * answer's bytes are in openai_respfmt.c), mapped onto the native requests as Ollama's
 * middleware does (reference ollama-api.md §2.1, §2.2: max_tokens ->
 * num_predict, stop string or list, temperature and top_p 1.0 when absent,
 * response_format enforced, content parts, tool messages), answered as SSE
 * chunks ending in "data: [DONE]" or one object, with usage
 * (stream_options.include_usage) and ids unique per response. /v1 errors use
 * OpenAI's error object (§2.4). Embeddings are in api_embed.c, model
 * listing in openai_models.c. */
#include "ollama/server_internal.h"

#include "engine/constrain.h"

#include "base/json.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_make_id(struct gen_call *g, const char *prefix, char sep)
{
	static atomic_uint_fast64_t counter;
	uint64_t x =
	    (uint64_t)time_wall_ns() ^ (atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ull);
	x ^= x >> 31; /* splitmix64 finalizer: well-spread hex */
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBull;
	x ^= x >> 31;
	snprintf(g->oai_id, sizeof g->oai_id, "%s%c%016llx", prefix, sep, (unsigned long long)x);
	g->created = time_wall_ns() / 1000000000LL;
}

/* The sampling fields shared by both routes. */
static bool sampling(struct gen_call *g, const cJSON *body, bool completion)
{
	char err[ERR_MSG_LEN];
	double temp = 1.0, top_p = 1.0, fp = 0, pp = 0, seed = -1, max = -1;
	if (!api_num(&g->call, body, "temperature", &temp) ||
	    !api_num(&g->call, body, "top_p", &top_p) ||
	    !api_num(&g->call, body, "frequency_penalty", &fp) ||
	    !api_num(&g->call, body, "presence_penalty", &pp) ||
	    !api_num(&g->call, body, "seed", &seed) ||
	    !api_num(&g->call, body, "max_tokens", &max) ||
	    !api_num(&g->call, body, "max_completion_tokens", &max))
		return false;
	if (completion && top_p == 0)
		top_p = 1.0;
	g->opts.sampling.temperature = (float)temp;
	g->opts.sampling.top_p = (float)top_p;
	g->opts.sampling.frequency_penalty = (float)fp;
	g->opts.sampling.presence_penalty = (float)pp;
	if (json_has(body, "seed"))
		g->opts.sampling.seed = (int64_t)seed;
	if (max >= 0)
		g->opts.num_predict = (int64_t)max;
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(body, "stop");
	if (stop && gen_options_set_stop(&g->opts, stop, err)) {
		api_reply_error(&g->call, 400, err);
		return false;
	}
	return true;
}

static bool stream_fields(struct gen_call *g, const cJSON *body)
{
	g->stream = false;
	if (!api_bool(&g->call, body, "stream", &g->stream))
		return false;
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
	g->include_usage = json_bool(so, "include_usage", false);
	return true;
}

/* A format of type t: text; json_object = format "json"; json_schema =
 * the schema (Ollama's openai middleware). where names the field for
 * errors ("response_format", "text.format"). */
static bool apply_format(struct gen_call *g, const char *t, const cJSON *schema, const char *where)
{
	char err[ERR_MSG_LEN];
	int rc = 0;
	if (!strcmp(t, "text"))
		return true;
	if (!strcmp(t, "json_object")) {
		g->cons = constrain_prog_json();
		rc = g->cons ? 0 : err_set(err, ERR_NOMEM, "out of memory");
	} else if (!strcmp(t, "json_schema")) {
		rc = cJSON_IsObject(schema)
		         ? format_compile_schema(schema, &g->cons, err)
		         : err_set(err, ERR_INVALID, "%s json_schema needs a %s object", where,
		                   !strcmp(where, "response_format") ? "json_schema.schema"
		                                                     : "schema");
	} else {
		rc = err_set(err, ERR_INVALID, "invalid %s type", where);
	}
	if (rc)
		api_reply_error(&g->call, rc == ERR_INVALID ? 400 : 500, err);
	return rc == 0;
}

static bool response_format(struct gen_call *g, const cJSON *body)
{
	const cJSON *rf = cJSON_GetObjectItemCaseSensitive(body, "response_format");
	if (!rf || cJSON_IsNull(rf))
		return true;
	const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
	return apply_format(g, json_str(rf, "type", ""),
	                    cJSON_GetObjectItemCaseSensitive(js, "schema"), "response_format");
}

static bool model_field(struct gen_call *g, const cJSON *body)
{
	const char *model = NULL;
	if (!api_str(&g->call, body, "model", &model))
		return false;
	/* The model's parameters first: the request's values override them. */
	return gen_call_model(g, model, NULL, "model '%s' not found") == 0;
}

/* reasoning_effort (reference §2.1): "none" turns thinking off; "minimal"
 * is "low"; low/medium/high/max are levels. Only for thinking models. */
static bool reasoning_effort(struct gen_call *g, const cJSON *body)
{
	const char *e = json_str(body, "reasoning_effort", "");
	if (!*e)
		return true;
	if (!strcmp(e, "none")) {
		g->think = false;
		g->think_set = true;
		return true;
	}
	const char *level = !strcmp(e, "minimal") ? "low" : e;
	if (strcmp(level, "low") && strcmp(level, "medium") && strcmp(level, "high") &&
	    strcmp(level, "max"))
		return api_fail(&g->call, 400, "invalid reasoning_effort: \"%.32s\"", e);
	if (!g->think_capable)
		return api_fail(&g->call, 400, "\"%.200s\" does not support thinking",
		                g->model_req);
	g->think = g->think_set = true;
	snprintf(g->think_level, sizeof g->think_level, "%s", level);
	return true;
}

static void chat(struct gen_call *g, const cJSON *body)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
	if (!model_field(g, body) || !stream_fields(g, body) || !sampling(g, body, false) ||
	    !response_format(g, body))
		return;
	if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
		api_reply_error(&g->call, 400, "[] is too short - 'messages'");
		return;
	}
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
	if (cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0) {
		if (!template_uses(g->tmpl, "Tools")) {
			char msg[ERR_MSG_LEN + NAMES_STR_MAX], full[NAMES_STR_MAX];
			names_full(&g->sm.entry.name, full, sizeof full);
			snprintf(msg, sizeof msg, "%s does not support tools", full);
			api_reply_error(&g->call, 400, msg);
			return;
		}
		g->tools = prompt_tools_value(tools);
		tools_parser_init(&g->tp, g->sm.template_text);
	}
	if (!api_chat_messages(g, msgs, true, g->model_req) || !reasoning_effort(g, body))
		return;
	api_make_id(g, "chatcmpl", '-');
	gen_call_submit(g);
}

void openai_chat(const struct api_route *rt, struct http_req *req)
{
	gen_call_run(rt, req, GEN_OAI_CHAT, chat);
}

static void completion(struct gen_call *g, const cJSON *body)
{
	const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(body, "prompt");
	const char *suffix = NULL;
	if (!model_field(g, body) || !stream_fields(g, body) || !sampling(g, body, true) ||
	    !api_str(&g->call, body, "suffix", &suffix))
		return;
	if (!cJSON_IsString(prompt)) {
		api_reply_error(&g->call, 400, "invalid prompt: only a string is supported");
		return;
	}
	g->prompt = xstrdup(prompt->valuestring);
	if (suffix && *suffix) {
		if (!template_uses(g->tmpl, "Suffix")) {
			char msg[ERR_MSG_LEN + NAMES_STR_MAX];
			snprintf(msg, sizeof msg, "\"%s\" does not support insert", g->model_req);
			api_reply_error(&g->call, 400, msg);
			return;
		}
		g->suffix = xstrdup(suffix);
	} else {
		g->msgs = prompt_generate_msgs(NULL, g->sm.system_text, NULL, 0, false, g->prompt,
		                               &g->n_msgs);
	}
	api_make_id(g, "cmpl", '-');
	gen_call_submit(g);
}

void openai_completions(const struct api_route *rt, struct http_req *req)
{
	gen_call_run(rt, req, GEN_OAI_COMPLETION, completion);
}

/* ---- /v1/responses ---- */

/* A content's text: a string, or parts of type input_text, output_text or
 * text, joined. */
static bool content_text(struct gen_call *g, const cJSON *content, struct buf *out)
{
	if (cJSON_IsString(content)) {
		buf_puts(out, content->valuestring);
		return true;
	}
	if (!cJSON_IsArray(content))
		return api_fail(&g->call, 400,
		                "invalid input: content must be a string or a list of parts");
	const cJSON *part;
	cJSON_ArrayForEach(part, content)
	{
		const char *t = json_str(part, "type", "");
		if (strcmp(t, "input_text") && strcmp(t, "output_text") && strcmp(t, "text"))
			return api_fail(&g->call, 400,
			                "input content of type '%.64s' is not supported", t);
		buf_puts(out, json_str(part, "text", ""));
	}
	return true;
}

/* instructions and input (a string, or a list of message items) as chat
 * messages of OpenAI's shape; false after replying 400. */
static bool input_messages(struct gen_call *g, const cJSON *body, cJSON *arr)
{
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(body, "input");
	const char *instr = json_str(body, "instructions", "");
	if (*instr)
		api_msg_add(arr, "system", instr);
	if (cJSON_IsString(in)) {
		api_msg_add(arr, "user", in->valuestring);
		return true;
	}
	if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) == 0)
		return api_fail(&g->call, 400, "input is required: a string or a list of messages");
	const cJSON *it;
	cJSON_ArrayForEach(it, in)
	{
		const char *type = json_str(it, "type", "message");
		if (strcmp(type, "message"))
			return api_fail(&g->call, 400, "input item type '%.64s' is not supported",
			                type);
		const char *role = json_str(it, "role", "user");
		struct buf text = BUF_INIT;
		bool ok = content_text(g, cJSON_GetObjectItemCaseSensitive(it, "content"), &text);
		if (ok)
			api_msg_add(arr, !strcmp(role, "developer") ? "system" : role,
			            text.data ? text.data : "");
		buf_release(&text);
		if (!ok)
			return false;
	}
	return true;
}

/* text.format, tools and stored-response fields. */
static bool responses_fields(struct gen_call *g, const cJSON *body)
{
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
	if (cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0)
		return api_fail(&g->call, 400, "tools are not supported on /v1/responses");
	if (*json_str(body, "previous_response_id", ""))
		return api_fail(&g->call, 400,
		                "previous_response_id is not supported: responses are not stored");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(body, "text");
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(text, "format");
	if (!fmt || cJSON_IsNull(fmt))
		return true;
	return apply_format(g, json_str(fmt, "type", ""),
	                    cJSON_GetObjectItemCaseSensitive(fmt, "schema"), "text.format");
}

static void responses(struct gen_call *g, const cJSON *body)
{
	double max = -1;
	if (!model_field(g, body) || !stream_fields(g, body) || !sampling(g, body, false) ||
	    !api_num(&g->call, body, "max_output_tokens", &max) || !responses_fields(g, body))
		return;
	if (max >= 0)
		g->opts.num_predict = (int64_t)max;
	cJSON *msgs = cJSON_CreateArray();
	bool ok = input_messages(g, body, msgs) && api_chat_messages(g, msgs, true, g->model_req);
	cJSON_Delete(msgs);
	if (!ok)
		return;
	api_make_id(g, "resp", '_');
	gen_call_submit(g);
}

void openai_responses(const struct api_route *rt, struct http_req *req)
{
	gen_call_run(rt, req, GEN_OAI_RESPONSES, responses);
}

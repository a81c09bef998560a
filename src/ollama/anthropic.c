/* anthropic.c — POST /v1/messages, Anthropic's Messages API as Ollama
 * serves it (reference ollama-api.md §2): system (a string or text blocks),
 * messages whose content is a string or text blocks, max_tokens (required),
 * temperature, top_p, top_k, stop_sequences, stream. The answer is one
 * "message" with a text block, stop_reason end_turn / max_tokens /
 * stop_sequence and usage; streamed, the typed SSE events message_start,
 * content_block_start, ping, content_block_delta..., content_block_stop,
 * message_delta, message_stop. Errors use Anthropic's error object
 * (server_call.c). Tools, images and thinking are refused with 400. */
#include "ollama/server_internal.h"

#include "base/gojson.h"
#include "base/json.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>

/* A content's text: a string, or blocks of type text, joined. */
static bool blocks_text(struct gen_call *g, const cJSON *content, const char *field,
                        struct buf *out)
{
	if (cJSON_IsString(content)) {
		buf_puts(out, content->valuestring);
		return true;
	}
	if (!cJSON_IsArray(content))
		return api_fail(&g->call, 400, "%s: expected a string or a list of content blocks",
		                field);
	const cJSON *b;
	cJSON_ArrayForEach(b, content)
	{
		const char *t = json_str(b, "type", "");
		if (strcmp(t, "text"))
			return api_fail(&g->call, 400,
			                "%s: content blocks of type '%.64s' are not supported",
			                field, t);
		buf_puts(out, json_str(b, "text", ""));
	}
	return true;
}

/* system and messages as chat messages of OpenAI's shape. */
static bool messages(struct gen_call *g, const cJSON *body, cJSON *arr)
{
	struct buf text = BUF_INIT;
	const cJSON *sys = cJSON_GetObjectItemCaseSensitive(body, "system");
	bool ok = true;
	if (sys && !cJSON_IsNull(sys)) {
		ok = blocks_text(g, sys, "system", &text);
		if (ok && text.len)
			api_msg_add(arr, "system", text.data);
	}
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages"), *m;
	if (ok && (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0))
		ok = api_fail(&g->call, 400, "messages: at least one message is required");
	const cJSON *list = ok ? msgs : NULL;
	cJSON_ArrayForEach(m, list)
	{
		const char *role = json_str(m, "role", "");
		if (strcmp(role, "user") && strcmp(role, "assistant")) {
			ok = api_fail(&g->call, 400,
			              "messages: role must be 'user' or 'assistant', not '%.32s'",
			              role);
			break;
		}
		buf_reset(&text);
		if (!(ok = blocks_text(g, cJSON_GetObjectItemCaseSensitive(m, "content"),
		                       "messages", &text)))
			break;
		api_msg_add(arr, role, text.data ? text.data : "");
	}
	buf_release(&text);
	return ok;
}

static bool sampling(struct gen_call *g, const cJSON *body)
{
	char err[ERR_MSG_LEN];
	double max = -1, temp = 1.0, top_p = 1.0, top_k = 0;
	if (!api_num(&g->call, body, "max_tokens", &max) ||
	    !api_num(&g->call, body, "temperature", &temp) ||
	    !api_num(&g->call, body, "top_p", &top_p) || !api_num(&g->call, body, "top_k", &top_k))
		return false;
	if (max < 1)
		return api_fail(&g->call, 400, "max_tokens: a positive number is required");
	g->opts.num_predict = (int64_t)max;
	g->opts.sampling.temperature = (float)temp;
	g->opts.sampling.top_p = (float)top_p;
	if (top_k > 0)
		g->opts.sampling.top_k = (int)top_k;
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(body, "stop_sequences");
	if (stop && !cJSON_IsNull(stop) && gen_options_set_stop(&g->opts, stop, err))
		return api_fail(&g->call, 400, "stop_sequences: %s", err);
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
	if (cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0)
		return api_fail(&g->call, 400, "tools are not supported on /v1/messages");
	const cJSON *think = cJSON_GetObjectItemCaseSensitive(body, "thinking");
	if (think && strcmp(json_str(think, "type", "disabled"), "disabled"))
		return api_fail(&g->call, 400, "thinking is not supported by this model");
	g->stream = false;
	return api_bool(&g->call, body, "stream", &g->stream);
}

static void request(struct gen_call *g, const cJSON *body)
{
	const char *model = NULL;
	if (!api_str(&g->call, body, "model", &model))
		return;
	if (!model || !*model) {
		api_fail(&g->call, 400, "model: a model name is required");
		return;
	}
	if (gen_call_model(g, model, NULL, "model '%s' not found") || !sampling(g, body))
		return;
	cJSON *msgs = cJSON_CreateArray();
	bool ok = messages(g, body, msgs) && api_chat_messages(g, msgs, true, g->model_req);
	cJSON_Delete(msgs);
	if (!ok)
		return;
	api_make_id(g, "msg", '_');
	gen_call_submit(g);
}

void anthropic_messages(const struct api_route *rt, struct http_req *req)
{
	gen_call_run(rt, req, GEN_ANTHROPIC, request);
}

/* ---- the answer ---- */

static const char *stop_reason(const struct gen_call *g)
{
	if (g->res.done_reason && !strcmp(g->res.done_reason, "length"))
		return "max_tokens";
	return g->res.stop_index >= 0 ? "stop_sequence" : "end_turn";
}

/* "stop_reason":...,"stop_sequence":... */
static void stop_fields(const struct gen_call *g, struct buf *out)
{
	buf_printf(out, "\"stop_reason\":\"%s\",\"stop_sequence\":", stop_reason(g));
	if (g->res.stop_index >= 0 && g->res.stop_index < g->opts.n_stop)
		jstr(out, g->opts.stop[g->res.stop_index]);
	else
		buf_puts(out, "null");
}

static void message_head(const struct gen_call *g, struct buf *out)
{
	buf_puts(out, "{\"id\":");
	jstr(out, g->oai_id);
	buf_puts(out, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
	jstr(out, g->model_req);
}

static void event(const char *type, struct buf *out)
{
	buf_printf(out, "event: %s\ndata: {\"type\":\"%s\"", type, type);
}

/* message_start, content_block_start and a ping, once. */
static void opening(struct gen_call *g, struct buf *out)
{
	if (g->sent_first)
		return;
	g->sent_first = true;
	event("message_start", out);
	buf_puts(out, ",\"message\":");
	message_head(g, out);
	buf_printf(out,
	           ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
	           "\"usage\":{\"input_tokens\":%lld,\"output_tokens\":0}}}\n\n",
	           (long long)g->n_tokens);
	event("content_block_start", out);
	buf_puts(out, ",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
	event("ping", out);
	buf_puts(out, "}\n\n");
}

void anthfmt_chunk(struct gen_call *g, const char *text, size_t n, struct buf *out)
{
	opening(g, out);
	event("content_block_delta", out);
	buf_puts(out, ",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":");
	gojson_append_str(out, text, n);
	buf_puts(out, "}}\n\n");
}

void anthfmt_final(struct gen_call *g, struct buf *out)
{
	opening(g, out);
	event("content_block_stop", out);
	buf_puts(out, ",\"index\":0}\n\n");
	event("message_delta", out);
	buf_puts(out, ",\"delta\":{");
	stop_fields(g, out);
	buf_printf(out, "},\"usage\":{\"output_tokens\":%lld}}\n\n", (long long)g->res.eval_count);
	event("message_stop", out);
	buf_puts(out, "}\n\n");
}

void anthfmt_whole(struct gen_call *g, struct buf *out)
{
	message_head(g, out);
	buf_puts(out, ",\"content\":[{\"type\":\"text\",\"text\":");
	gojson_append_str(out, g->text.data ? g->text.data : "", g->text.len);
	buf_puts(out, "}],");
	stop_fields(g, out);
	buf_printf(out, ",\"usage\":{\"input_tokens\":%lld,\"output_tokens\":%lld}}",
	           (long long)g->res.prompt_eval_count, (long long)g->res.eval_count);
}

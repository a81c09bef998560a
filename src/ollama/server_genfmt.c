/* server_genfmt.c — the bytes of a generation's answer, per API: Ollama's
 * NDJSON objects for /api/generate and /api/chat (field order as Go emits
 * them, metrics omitted when zero, durations in ns; reference
 * ollama-api.md §1.4-1.5) and OpenAI's chat.completion(.chunk) and
 * text_completion objects as SSE events ending in "data: [DONE]" (§2.1-2.2). */
#include "ollama/server_internal.h"

#include "base/gojson.h"
#include "base/json.h"
#include "base/timeutil.h"

#include <stdlib.h>
#include <string.h>

static void head(struct gen_call *g, struct buf *out)
{
	buf_puts(out, "{\"model\":");
	jstr(out, g->model_req);
	buf_puts(out, ",\"created_at\":");
	jtime(out, time_wall_ns());
}

static void num(struct buf *out, const char *key, int64_t v)
{
	if (v > 0)
		buf_printf(out, ",\"%s\":%lld", key, (long long)v);
}

/* Ollama's api.Metrics, each omitted when 0. */
static void metrics(struct gen_call *g, struct buf *out)
{
	int64_t now = time_mono_ns();
	int64_t load = g->job.ready_ns > g->call.t0 ? g->job.ready_ns - g->call.t0 : 0;
	num(out, "total_duration", now - g->call.t0);
	num(out, "load_duration", load);
	num(out, "prompt_eval_count", g->res.prompt_eval_count);
	num(out, "prompt_eval_duration", g->res.prompt_eval_ns);
	num(out, "eval_count", g->res.eval_count);
	num(out, "eval_duration", g->res.eval_ns);
}

static const char *done_reason(const struct gen_call *g)
{
	return g->res.done_reason ? g->res.done_reason : "stop";
}

/* OpenAI's finish_reason: a stop with tool calls is "tool_calls". */
static const char *finish_reason(const struct gen_call *g)
{
	const char *r = done_reason(g);
	return g->tool_calls && !strcmp(r, "stop") ? "tool_calls" : r;
}

/* The calls as Ollama writes them, or as OpenAI does (type, and the
 * arguments as a JSON string). */
static void tool_calls(const struct gen_call *g, bool openai, struct buf *out)
{
	buf_puts(out, "\"tool_calls\":[");
	int i = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, g->tool_calls)
	{
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
		char *args =
		    cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
		buf_puts(out, i ? ",{" : "{");
		if (openai)
			buf_printf(out, "\"index\":%d,", i);
		buf_puts(out, "\"id\":");
		jstr(out, json_str(c, "id", ""));
		buf_puts(out, openai ? ",\"type\":\"function\",\"function\":{" : ",\"function\":{");
		if (!openai)
			buf_printf(out, "\"index\":%d,", i);
		buf_puts(out, "\"name\":");
		jstr(out, json_str(fn, "name", ""));
		buf_puts(out, ",\"arguments\":");
		if (openai)
			jstr(out, args ? args : "{}");
		else
			buf_puts(out, args ? args : "{}");
		buf_puts(out, "}}");
		free(args);
		i++;
	}
	buf_putc(out, ']');
}

static void context(struct gen_call *g, struct buf *out)
{
	if (g->api != GEN_GENERATE || g->raw)
		return;
	buf_puts(out, ",\"context\":[");
	for (int64_t i = 0; i < g->n_tokens + g->n_out; i++) {
		int32_t t = i < g->n_tokens ? g->tokens[i] : g->out_ids[i - g->n_tokens];
		buf_printf(out, i ? ",%d" : "%d", t);
	}
	buf_putc(out, ']');
}

/* ,"thinking":"..." (omitted when empty, as Go's omitempty) */
static void thinking_field(const char *key, const char *th, size_t n, struct buf *out)
{
	if (!n)
		return;
	buf_printf(out, ",\"%s\":", key);
	gojson_append_str(out, th, n);
}

/* The whole answer's thinking (not streamed). */
static void whole_thinking(const struct gen_call *g, const char *key, struct buf *out)
{
	if (!g->stream && g->thinking.len)
		thinking_field(key, g->thinking.data, g->thinking.len, out);
}

static void native(struct gen_call *g, const char *text, size_t n, bool done, struct buf *out)
{
	head(g, out);
	if (g->api == GEN_GENERATE) {
		buf_puts(out, ",\"response\":");
		gojson_append_str(out, text, n);
		if (done)
			whole_thinking(g, "thinking", out);
	} else {
		buf_puts(out, ",\"message\":{\"role\":\"assistant\",\"content\":");
		gojson_append_str(out, text, n);
		if (done)
			whole_thinking(g, "thinking", out);
		if (done && g->tool_calls && !g->stream) {
			buf_putc(out, ',');
			tool_calls(g, false, out);
		}
		buf_putc(out, '}');
	}
	if (!done) {
		buf_puts(out, ",\"done\":false}");
		return;
	}
	buf_puts(out, ",\"done\":true,\"done_reason\":");
	jstr(out, done_reason(g));
	context(g, out);
	metrics(g, out);
	buf_putc(out, '}');
}

/* ---- OpenAI ---- */

static void oai_head(struct gen_call *g, const char *object, struct buf *out)
{
	buf_printf(out, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":", g->oai_id,
	           object, (long long)g->created);
	jstr(out, g->model_req);
	buf_puts(out, ",\"system_fingerprint\":\"fp_ollama\"");
}

static void oai_usage(struct gen_call *g, struct buf *out)
{
	int64_t p = g->res.prompt_eval_count, c = g->res.eval_count;
	buf_printf(out,
	           "\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
	           "\"total_tokens\":%lld}",
	           (long long)p, (long long)c, (long long)(p + c));
}

/* "data: {...chat.completion.chunk...,"choices":[{"index":0,"delta":{" and
 * the role on the answer's first chunk. */
static void oai_delta_open(struct gen_call *g, struct buf *out)
{
	buf_puts(out, "data: ");
	oai_head(g, "chat.completion.chunk", out);
	buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":{");
	if (!g->sent_first)
		buf_puts(out, "\"role\":\"assistant\",");
	g->sent_first = true;
}

static void oai_chunk(struct gen_call *g, const char *text, size_t n, const char *finish,
                      struct buf *out)
{
	bool chat = g->api == GEN_OAI_CHAT;
	buf_puts(out, "data: ");
	oai_head(g, chat ? "chat.completion.chunk" : "text_completion", out);
	if (chat) {
		buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":{");
		if (text) {
			if (!g->sent_first)
				buf_puts(out, "\"role\":\"assistant\",");
			buf_puts(out, "\"content\":");
			gojson_append_str(out, text, n);
			g->sent_first = true;
		}
		buf_puts(out, "},\"finish_reason\":");
	} else {
		buf_puts(out, ",\"choices\":[{\"text\":");
		gojson_append_str(out, text ? text : "", text ? n : 0);
		buf_puts(out, ",\"index\":0,\"finish_reason\":");
	}
	if (finish)
		jstr(out, finish);
	else
		buf_puts(out, "null");
	buf_puts(out, "}]}\n\n");
}

void genfmt_chunk(struct gen_call *g, const char *text, size_t n, struct buf *out)
{
	if (g->api == GEN_OAI_RESPONSES || g->api == GEN_ANTHROPIC) {
		(g->api == GEN_ANTHROPIC ? anthfmt_chunk : respfmt_chunk)(g, text, n, out);
		return;
	}
	if (g->api == GEN_OAI_CHAT || g->api == GEN_OAI_COMPLETION) {
		oai_chunk(g, text, n, NULL, out);
		return;
	}
	native(g, text, n, false, out);
	buf_putc(out, '\n');
}

void genfmt_final(struct gen_call *g, struct buf *out)
{
	if (g->api == GEN_OAI_RESPONSES || g->api == GEN_ANTHROPIC) {
		(g->api == GEN_ANTHROPIC ? anthfmt_final : respfmt_final)(g, out);
		return;
	}
	if (g->api == GEN_GENERATE || g->api == GEN_CHAT) {
		native(g, "", 0, true, out);
		buf_putc(out, '\n');
		return;
	}
	oai_chunk(g, NULL, 0, finish_reason(g), out);
	if (g->include_usage) {
		buf_puts(out, "data: ");
		oai_head(g, g->api == GEN_OAI_CHAT ? "chat.completion.chunk" : "text_completion",
		         out);
		buf_puts(out, ",\"choices\":[],");
		oai_usage(g, out);
		buf_puts(out, "}\n\n");
	}
	buf_puts(out, "data: [DONE]\n\n");
}

void genfmt_whole(struct gen_call *g, struct buf *out)
{
	const char *text = g->text.data ? g->text.data : "";
	if (g->api == GEN_GENERATE || g->api == GEN_CHAT) {
		native(g, text, g->text.len, true, out);
		return;
	}
	if (g->api == GEN_OAI_RESPONSES || g->api == GEN_ANTHROPIC) {
		(g->api == GEN_ANTHROPIC ? anthfmt_whole : respfmt_whole)(g, out);
		return;
	}
	if (g->api == GEN_OAI_CHAT) {
		oai_head(g, "chat.completion", out);
		buf_puts(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
		              "\"content\":");
		gojson_append_str(out, text, g->text.len);
		whole_thinking(g, "reasoning", out);
		if (g->tool_calls) {
			buf_putc(out, ',');
			tool_calls(g, true, out);
		}
		buf_puts(out, "},\"finish_reason\":");
	} else {
		oai_head(g, "text_completion", out);
		buf_puts(out, ",\"choices\":[{\"text\":");
		gojson_append_str(out, text, g->text.len);
		buf_puts(out, ",\"index\":0,\"finish_reason\":");
	}
	jstr(out, finish_reason(g));
	buf_puts(out, "}],");
	oai_usage(g, out);
	buf_putc(out, '}');
}

void genfmt_thinking(struct gen_call *g, const char *text, size_t n, struct buf *out)
{
	if (g->api == GEN_OAI_CHAT) {
		oai_delta_open(g, out);
		buf_puts(out, "\"content\":\"\"");
		thinking_field("reasoning", text, n, out);
		buf_puts(out, "},\"finish_reason\":null}]}\n\n");
		return;
	}
	head(g, out);
	if (g->api == GEN_GENERATE) {
		buf_puts(out, ",\"response\":\"\"");
		thinking_field("thinking", text, n, out);
	} else {
		buf_puts(out, ",\"message\":{\"role\":\"assistant\",\"content\":\"\"");
		thinking_field("thinking", text, n, out);
		buf_putc(out, '}');
	}
	buf_puts(out, ",\"done\":false}\n");
}

void genfmt_load(struct gen_call *g, const char *reason, struct buf *out)
{
	head(g, out);
	if (g->api == GEN_CHAT)
		buf_puts(out, ",\"message\":{\"role\":\"assistant\",\"content\":\"\"}");
	else
		buf_puts(out, ",\"response\":\"\"");
	buf_puts(out, ",\"done\":true,\"done_reason\":");
	jstr(out, reason);
	buf_putc(out, '}');
}

void genfmt_tool_calls(struct gen_call *g, struct buf *out)
{
	if (g->api == GEN_OAI_CHAT) {
		oai_delta_open(g, out);
		tool_calls(g, true, out);
		buf_puts(out, "},\"finish_reason\":null}]}\n\n");
		return;
	}
	head(g, out);
	buf_puts(out, ",\"message\":{\"role\":\"assistant\",\"content\":\"\",");
	tool_calls(g, false, out);
	buf_puts(out, "},\"done\":false}\n");
}

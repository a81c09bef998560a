/* openai_respfmt.c — the bytes of a POST /v1/responses answer (OpenAI's
 * Responses API, non-stateful as in Ollama, reference ollama-api.md §2):
 * one "response" object with a single assistant message of output_text, or
 * the typed SSE events ("event: response.output_text.delta" and its data
 * line) from response.created to response.completed (response.incomplete
 * when the token budget ended it), each with a sequence_number. The request
 * side is in openai.c. */
#include "ollama/server_internal.h"

#include "base/gojson.h"
#include "base/json.h"

#include <string.h>

static bool incomplete(const struct gen_call *g)
{
	return g->res.done_reason && !strcmp(g->res.done_reason, "length");
}

/* "resp_<hex>" and "msg_<hex>" from the call's id ("resp_<hex>"). */
static void ids(const struct gen_call *g, struct buf *out, const char *prefix)
{
	const char *us = strchr(g->oai_id, '_');
	buf_printf(out, "\"%s_%s\"", prefix, us ? us + 1 : g->oai_id);
}

/* The assistant message item: in progress (no text yet) or finished. */
static void message(const struct gen_call *g, bool done, struct buf *out)
{
	buf_puts(out, "{\"id\":");
	ids(g, out, "msg");
	buf_printf(out,
	           ",\"type\":\"message\",\"status\":\"%s\",\"role\":\"assistant\",\"content\":[",
	           !done           ? "in_progress"
	           : incomplete(g) ? "incomplete"
	                           : "completed");
	if (done) {
		buf_puts(out, "{\"type\":\"output_text\",\"text\":");
		gojson_append_str(out, g->text.data ? g->text.data : "", g->text.len);
		buf_puts(out, ",\"annotations\":[]}");
	}
	buf_puts(out, "]}");
}

/* The response object, in progress (output [], usage null) or done. */
static void response(const struct gen_call *g, bool done, struct buf *out)
{
	buf_puts(out, "{\"id\":");
	ids(g, out, "resp");
	buf_printf(out, ",\"object\":\"response\",\"created_at\":%lld,\"status\":\"%s\",",
	           (long long)g->created,
	           !done           ? "in_progress"
	           : incomplete(g) ? "incomplete"
	                           : "completed");
	buf_puts(out, "\"error\":null,\"incomplete_details\":");
	buf_puts(out, done && incomplete(g) ? "{\"reason\":\"max_output_tokens\"}" : "null");
	buf_puts(out, ",\"model\":");
	jstr(out, g->model_req);
	buf_puts(out, ",\"output\":[");
	if (done)
		message(g, true, out);
	buf_printf(out, "],\"parallel_tool_calls\":true,\"temperature\":%g,\"top_p\":%g,",
	           g->opts.sampling.temperature, g->opts.sampling.top_p);
	buf_puts(out, "\"tool_choice\":\"auto\",\"tools\":[],\"usage\":");
	if (!done) {
		buf_puts(out, "null}");
		return;
	}
	int64_t p = g->res.prompt_eval_count, c = g->res.eval_count;
	buf_printf(out,
	           "{\"input_tokens\":%lld,\"input_tokens_details\":{\"cached_tokens\":%lld},"
	           "\"output_tokens\":%lld,\"output_tokens_details\":{\"reasoning_tokens\":0},"
	           "\"total_tokens\":%lld}}",
	           (long long)p, (long long)g->res.prompt_cached, (long long)c, (long long)(p + c));
}

/* "event: TYPE\ndata: {"type":TYPE,"sequence_number":N" — the caller
 * adds the rest of the object and ends it with end_event. */
static void event(struct gen_call *g, const char *type, struct buf *out)
{
	buf_printf(out, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%lld", type, type,
	           (long long)g->oai_seq++);
}

static void end_event(struct buf *out)
{
	buf_puts(out, "}\n\n");
}

/* item_id, output_index and content_index of the one text part. */
static void part_ref(const struct gen_call *g, struct buf *out)
{
	buf_puts(out, ",\"item_id\":");
	ids(g, out, "msg");
	buf_puts(out, ",\"output_index\":0,\"content_index\":0");
}

/* response.created ... response.content_part.added, once. */
static void opening(struct gen_call *g, struct buf *out)
{
	if (g->sent_first)
		return;
	g->sent_first = true;
	static const char *const states[] = {"response.created", "response.in_progress"};
	for (int i = 0; i < 2; i++) {
		event(g, states[i], out);
		buf_puts(out, ",\"response\":");
		response(g, false, out);
		end_event(out);
	}
	event(g, "response.output_item.added", out);
	buf_puts(out, ",\"output_index\":0,\"item\":");
	message(g, false, out);
	end_event(out);
	event(g, "response.content_part.added", out);
	part_ref(g, out);
	buf_puts(out, ",\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}");
	end_event(out);
}

void respfmt_chunk(struct gen_call *g, const char *text, size_t n, struct buf *out)
{
	opening(g, out);
	buf_append(&g->text, text, n); /* the done events repeat the whole text */
	event(g, "response.output_text.delta", out);
	part_ref(g, out);
	buf_puts(out, ",\"delta\":");
	gojson_append_str(out, text, n);
	end_event(out);
}

void respfmt_final(struct gen_call *g, struct buf *out)
{
	opening(g, out);
	const char *text = g->text.data ? g->text.data : "";
	event(g, "response.output_text.done", out);
	part_ref(g, out);
	buf_puts(out, ",\"text\":");
	gojson_append_str(out, text, g->text.len);
	end_event(out);
	event(g, "response.content_part.done", out);
	part_ref(g, out);
	buf_puts(out, ",\"part\":{\"type\":\"output_text\",\"text\":");
	gojson_append_str(out, text, g->text.len);
	buf_puts(out, ",\"annotations\":[]}");
	end_event(out);
	event(g, "response.output_item.done", out);
	buf_puts(out, ",\"output_index\":0,\"item\":");
	message(g, true, out);
	end_event(out);
	event(g, incomplete(g) ? "response.incomplete" : "response.completed", out);
	buf_puts(out, ",\"response\":");
	response(g, true, out);
	end_event(out);
}

void respfmt_whole(struct gen_call *g, struct buf *out)
{
	response(g, true, out);
}

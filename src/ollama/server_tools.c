/* server_tools.c — tool calls in a model's answer (reference ollama-api.md
 * §1.2 "Tool call", §5.1 "Tool-call parsing"): the tag a template opens a
 * call with (the first text inside its {{ if .ToolCalls }} branch, e.g.
 * "<tool_call>" or "[TOOL_CALLS]"; "{" when that text is blank, as for
 * llama3.2), holding the answer back while it may be a call, and reading
 * the calls ({"name", "arguments"|"parameters"} objects) out of it. Only an
 * answer that starts with the tag is a call, as in Ollama before its
 * per-model parsers; anything else streams as content. */
#include "ollama/server_internal.h"

#include "base/json.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void tools_parser_init(struct tool_parser *p, const char *tmpl)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->held);
	snprintf(p->tag, sizeof p->tag, "{");
	const char *at = tmpl ? strstr(tmpl, ".ToolCalls") : NULL;
	const char *close = at ? strstr(at, "}}") : NULL;
	if (!close)
		return;
	const char *s = close + 2, *e = strstr(s, "{{");
	if (!e)
		e = s + strlen(s);
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if (e > s && (size_t)(e - s) < sizeof p->tag)
		snprintf(p->tag, sizeof p->tag, "%.*s", (int)(e - s), s);
}

void tools_parser_release(struct tool_parser *p)
{
	buf_release(&p->held);
}

static const char *skip_space(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

void tools_feed(struct tool_parser *p, const char *text, size_t n, struct buf *emit)
{
	if (p->decided && !p->is_call) {
		buf_append(emit, text, n);
		return;
	}
	buf_append(&p->held, text, n);
	if (p->is_call)
		return;
	const char *t = skip_space(p->held.data);
	size_t tn = strlen(t), tag = strlen(p->tag);
	if (tn == 0 || (tn < tag && !strncmp(p->tag, t, tn)))
		return; /* could still become the tag */
	p->decided = true;
	p->is_call = !strncmp(t, p->tag, tag);
	if (!p->is_call) {
		buf_append(emit, p->held.data, p->held.len);
		buf_reset(&p->held);
	}
}

/* {"name", "arguments"|"parameters"} -> Ollama's tool call object. */
static cJSON *call_object(const cJSON *o, int index)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(o, "arguments");
	if (!args)
		args = cJSON_GetObjectItemCaseSensitive(o, "parameters");
	if (!cJSON_IsString(name) || !cJSON_IsObject(args))
		return NULL;
	static const char az[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	uint64_t x = (uint64_t)time_wall_ns() * 0x9E3779B97F4A7C15ull + (uint64_t)index;
	char id[16] = "call_";
	for (int i = 0; i < 8; i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
		id[5 + i] = az[(x >> 33) % 36];
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "id", id);
	cJSON *fn = cJSON_AddObjectToObject(c, "function");
	cJSON_AddNumberToObject(fn, "index", index);
	cJSON_AddStringToObject(fn, "name", name->valuestring);
	cJSON_AddItemToObject(fn, "arguments", cJSON_Duplicate(args, true));
	return c;
}

cJSON *tools_parse_calls(const char *text)
{
	cJSON *calls = cJSON_CreateArray();
	int n = 0;
	for (const char *s = strchr(text, '{'); s; s = strchr(s, '{')) {
		const char *end = NULL;
		cJSON *o = cJSON_ParseWithOpts(s, &end, false);
		cJSON *c = o ? call_object(o, n) : NULL;
		cJSON_Delete(o);
		if (c) {
			cJSON_AddItemToArray(calls, c);
			n++;
			s = end;
		} else {
			s++;
		}
	}
	if (n == 0) {
		cJSON_Delete(calls);
		return NULL;
	}
	return calls;
}

cJSON *tools_finish(struct tool_parser *p, struct buf *content)
{
	cJSON *calls = NULL;
	if (p->is_call) {
		const char *t = skip_space(p->held.data ? p->held.data : "");
		calls = tools_parse_calls(t + (strcmp(p->tag, "{") ? strlen(p->tag) : 0));
	}
	if (!calls)
		buf_append(content, p->held.data ? p->held.data : "", p->held.len);
	buf_reset(&p->held);
	return calls;
}

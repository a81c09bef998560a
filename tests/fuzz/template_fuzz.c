/* template_fuzz.c — libFuzzer target for the Go text/template subset: any
 * byte string is parsed as a template; one that parses is executed on a
 * fixed small data tree (maps, lists, JSON-printing tools, numbers) with a
 * 64 KiB output bound, then rendered Ollama's way (chat messages, legacy
 * rounds, fill-in-the-middle). Errors must carry a message; nothing may
 * crash, leak or run past the step bound. */
#include "ollama/template.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX (64u << 10)

static const char data_json[] =
    "{\"System\":\"be brief\",\"Prompt\":\"hi <b>\",\"Response\":\"\",\"Think\":true,"
    "\"N\":3,\"F\":2.5,\"Neg\":-7,\"Empty\":\"\",\"Nil\":null,\"L\":[1,\"two\",3.5,[],{}],"
    "\"Messages\":[{\"Role\":\"system\",\"Content\":\"sys\"},"
    "{\"Role\":\"user\",\"Content\":\"hello\"},"
    "{\"Role\":\"assistant\",\"Content\":\"\",\"ToolCalls\":[{\"Function\":"
    "{\"Name\":\"get\",\"Arguments\":{\"city\":\"Paris\"}}}]},"
    "{\"Role\":\"tool\",\"Content\":\"18C\",\"ToolName\":\"get\"}],"
    "\"M\":{\"b\":1,\"a\":{\"x\":[true,false]},\"c\":\"s\"}}";

static const char tools_json[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get\",\"description\":\"weather\","
    "\"parameters\":{\"type\":\"object\",\"required\":[\"city\"],"
    "\"properties\":{\"city\":{\"type\":\"string\"}}}}}]";

static struct template_value *data, *tools, *calls;

static struct template_value *from_text(const char *s, bool as_json)
{
	cJSON *j = cJSON_Parse(s);
	if (!j)
		abort();
	struct template_value *v = template_value_from_json(j, as_json);
	cJSON_Delete(j);
	return v;
}

static void setup(void)
{
	data = from_text(data_json, false);
	tools = from_text(tools_json, true);
	calls = from_text("[{\"function\":{\"name\":\"get\",\"arguments\":{\"city\":\"Paris\"}}}]",
	                  true);
	template_map_set(data, "Tools", template_value_ref(tools));
}

static void check_err(int rc, const char *err)
{
	if (rc && (!err[0] || !memchr(err, '\0', ERR_MSG_LEN)))
		abort(); /* a failure must come with a message */
}

static void go_template(const char *text, size_t n)
{
	struct template *t = NULL;
	char err[ERR_MSG_LEN] = "";
	int rc = template_parse(text, n, &t, err);
	check_err(rc, err);
	if (rc)
		return;
	struct buf out = BUF_INIT;
	err[0] = '\0';
	rc = template_execute(t, data, &out, OUT_MAX, err);
	check_err(rc, err);
	if (out.len > OUT_MAX)
		abort(); /* the output bound was not kept */
	out.len = 0;
	rc = template_execute(t, NULL, &out, OUT_MAX, err);
	check_err(rc, err);
	template_uses(t, "Messages");
	template_uses(t, "response");
	buf_release(&out);
	template_free(t);
}

static void ollama_template(const char *text, size_t n)
{
	struct template *t = NULL;
	char err[ERR_MSG_LEN] = "";
	int rc = template_ollama_parse(text, n, &t, err);
	check_err(rc, err);
	if (rc)
		return;
	const struct template_message msgs[] = {
	    {.role = "system", .content = "sys"},
	    {.role = "user", .content = "what is the weather?"},
	    {.role = "assistant", .thinking = "hmm", .tool_calls = calls},
	    {.role = "tool", .content = "18C", .tool_name = "get", .tool_call_id = "c1"},
	    {.role = "user", .content = "thanks"},
	    {.role = "assistant", .content = "you are"},
	};
	struct template_values v = {.messages = msgs,
	                            .n_messages = sizeof msgs / sizeof msgs[0],
	                            .tools = tools,
	                            .think = true,
	                            .think_level = "high",
	                            .is_think_set = true};
	struct buf out = BUF_INIT;
	rc = template_render(t, &v, &out, err);
	check_err(rc, err);
	struct template_values fim = {.prompt = "def f(", .suffix = "):\n"};
	out.len = 0;
	rc = template_render(t, &fim, &out, err);
	check_err(rc, err);
	buf_release(&out);
	template_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	if (!data)
		setup();
	/* An exact-size copy so ASan flags any read past the end. */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, d, size);
	go_template(text, size);
	ollama_template(text, size);
	free(text);
	return 0;
}

/* prompt_test.c — from request messages to prompt text (reference
 * ollama-api.md §1.4, §1.5, §5): message parsing (Ollama's and OpenAI's
 * shapes), Ollama's chat and generate assembly (model system and messages
 * layers), multi-turn rendering with library templates (gemma3 with
 * .Messages; llama3 and the default "{{ .Prompt }}" rendered per round),
 * and chatPrompt's truncation to the context. */
#include "support/support.h"

#include "base/json.h"
#include "ollama/library_templates.h"
#include "ollama/prompt.h"

#include <stdlib.h>
#include <string.h>

static struct template *parse(const char *text)
{
	struct template *t = NULL;
	char err[ERR_MSG_LEN] = "";
	if (prompt_template_parse(text, &t, err))
		fail_msg("template: %s", err);
	return t;
}

static struct prompt_msg *msgs_json(const char *json, size_t *n, bool openai)
{
	cJSON *j = cJSON_Parse(json);
	assert_non_null(j);
	struct prompt_msg *m = NULL;
	char err[ERR_MSG_LEN] = "";
	int rc =
	    openai ? prompt_msgs_parse_openai(j, &m, n, err) : prompt_msgs_parse(j, &m, n, err);
	cJSON_Delete(j);
	if (rc)
		fail_msg("parse: %s", err);
	return m;
}

/* Renders request messages as /api/chat does (no truncation). */
static char *chat(const char *tmpl, const char *msgs_text, const char *model_system)
{
	size_t n_req, n;
	struct prompt_msg *req = msgs_json(msgs_text, &n_req, false);
	struct prompt_msg *all = prompt_chat_msgs(NULL, 0, req, n_req, model_system, &n);
	struct template *t = parse(tmpl);
	struct buf out = BUF_INIT;
	char err[ERR_MSG_LEN] = "";
	if (prompt_chat(t, all, n, NULL, 4096, true, NULL, NULL, &out, NULL, err))
		fail_msg("render: %s", err);
	template_free(t);
	prompt_msgs_free(all, n);
	prompt_msgs_free(req, n_req);
	return out.data ? buf_steal(&out) : calloc(1, 1);
}

static void test_prompt_gemma3_multi_turn(void **state)
{
	char *p = chat(GEMMA3,
	               "[{\"role\":\"system\",\"content\":\"Be kind.\"},"
	               "{\"role\":\"user\",\"content\":\"Hi\"},"
	               "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
	               "{\"role\":\"user\",\"content\":\"How are you?\"}]",
	               NULL);
	assert_string_equal(p, "<start_of_turn>user\nBe kind.<end_of_turn>\n"
	                       "<start_of_turn>user\nHi<end_of_turn>\n"
	                       "<start_of_turn>model\nHello!<end_of_turn>\n"
	                       "<start_of_turn>user\nHow are you?<end_of_turn>\n"
	                       "<start_of_turn>model\n");
	free(p);
}

/* The model's system prompt goes first when the request has none; a
 * legacy template runs once per round, the last one cut after .Response. */
static void test_prompt_llama3_rounds_with_model_system(void **state)
{
	char *p = chat(LLAMA3,
	               "[{\"role\":\"user\",\"content\":\"Hi\"},"
	               "{\"role\":\"assistant\",\"content\":\"Meow\"},"
	               "{\"role\":\"user\",\"content\":\"Why?\"}]",
	               "You are a cat.");
	assert_string_equal(p,
	                    "<|start_header_id|>system<|end_header_id|>\n\nYou are a cat.<|eot_id|>"
	                    "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
	                    "<|start_header_id|>assistant<|end_header_id|>\n\nMeow<|eot_id|>"
	                    "<|start_header_id|>user<|end_header_id|>\n\nWhy?<|eot_id|>"
	                    "<|start_header_id|>assistant<|end_header_id|>\n\n");
	free(p);
	/* A request that starts with its own system message keeps only it. */
	p = chat(LLAMA3,
	         "[{\"role\":\"system\",\"content\":\"Be a "
	         "dog.\"},{\"role\":\"user\",\"content\":\"Hi\"}]",
	         "You are a cat.");
	assert_non_null(strstr(p, "Be a dog."));
	assert_null(strstr(p, "cat"));
	free(p);
}

/* No template layer: Ollama's "{{ .Prompt }}" (+ "{{ .Response }}"), so a
 * chat is its turns concatenated and a single prompt is itself. */
static void test_prompt_default_template(void **state)
{
	char *p = chat(NULL,
	               "[{\"role\":\"user\",\"content\":\"Once upon a time\"},"
	               "{\"role\":\"assistant\",\"content\":\", there was\"},"
	               "{\"role\":\"user\",\"content\":\" a cat\"}]",
	               NULL);
	assert_string_equal(p, "Once upon a time, there was a cat");
	free(p);
	p = chat("", "[{\"role\":\"user\",\"content\":\"Once upon a time\"}]", "A system prompt");
	/* The system message exists but "{{ .Prompt }}" does not print it. */
	assert_string_equal(p, "Once upon a time");
	free(p);
}

static void test_prompt_generate_messages(void **state)
{
	size_t nm, n;
	struct prompt_msg *model = msgs_json("[{\"role\":\"user\",\"content\":\"few\"},"
	                                     "{\"role\":\"assistant\",\"content\":\"shot\"}]",
	                                     &nm, false);
	struct prompt_msg *m =
	    prompt_generate_msgs("req sys", "model sys", model, nm, false, "go", &n);
	assert_int_equal(n, 4);
	assert_string_equal(m[0].role, "system");
	assert_string_equal(m[0].content, "req sys");
	assert_string_equal(m[1].content, "few");
	assert_string_equal(m[3].role, "user");
	assert_string_equal(m[3].content, "go");
	prompt_msgs_free(m, n);
	/* With a context, the messages layer is left out; the model's system stays. */
	m = prompt_generate_msgs(NULL, "model sys", model, nm, true, "go", &n);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].content, "model sys");
	assert_string_equal(m[1].content, "go");
	prompt_msgs_free(m, n);
	m = prompt_generate_msgs("", "", NULL, 0, false, "", &n);
	assert_int_equal(n, 1);
	prompt_msgs_free(m, n);
	prompt_msgs_free(model, nm);
}

/* A token per byte: deterministic counts for the truncation walk. */
static int64_t count_bytes(void *ud, const char *text, size_t n)
{
	(*(int *)ud)++;
	return (int64_t)n;
}

static void test_prompt_chat_truncates_oldest_keeps_system_and_last(void **state)
{
	size_t n;
	struct prompt_msg *m = msgs_json("[{\"role\":\"system\",\"content\":\"S\"},"
	                                 "{\"role\":\"user\",\"content\":\"aaaaaaaaaa\"},"
	                                 "{\"role\":\"assistant\",\"content\":\"bbbbbbbbbb\"},"
	                                 "{\"role\":\"user\",\"content\":\"cc\"},"
	                                 "{\"role\":\"assistant\",\"content\":\"dd\"},"
	                                 "{\"role\":\"user\",\"content\":\"ee\"}]",
	                                 &n, false);
	struct template *t = parse("{{ range .Messages }}{{ .Content }}{{ end }}");
	struct buf out = BUF_INIT;
	char err[ERR_MSG_LEN];
	size_t first = 99;
	int calls = 0;
	/* "S" + "cc" + "dd" + "ee" = 7 bytes fit; adding "bbbbbbbbbb" does not. */
	assert_int_equal(
	    prompt_chat(t, m, n, NULL, 8, true, count_bytes, &calls, &out, &first, err), 0);
	assert_int_equal(first, 3);
	assert_string_equal(out.data, "Sccddee");
	/* Too small even for the last message: it is kept anyway. */
	assert_int_equal(
	    prompt_chat(t, m, n, NULL, 1, true, count_bytes, &calls, &out, &first, err), 0);
	assert_int_equal(first, 5);
	assert_string_equal(out.data, "See");
	/* Everything fits; truncate false never counts. */
	calls = 0;
	assert_int_equal(
	    prompt_chat(t, m, n, NULL, 1, false, count_bytes, &calls, &out, &first, err), 0);
	assert_int_equal(first, 0);
	assert_int_equal(calls, 0);
	assert_string_equal(out.data, "Saaaaaaaaaabbbbbbbbbbccddee");
	buf_release(&out);
	template_free(t);
	prompt_msgs_free(m, n);
}

static void test_prompt_msgs_parse_shapes(void **state)
{
	size_t n;
	struct prompt_msg *m =
	    msgs_json("[{\"role\":\"USER\",\"content\":\"hi\",\"images\":[\"aGk=\",\"aGk=\"]},"
	              "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{"
	              "\"name\":\"f\","
	              "\"arguments\":{\"city\":\"Tokyo\"}}}]},"
	              "{\"role\":\"tool\",\"content\":\"11\",\"tool_name\":\"f\"}]",
	              &n, false);
	assert_int_equal(n, 3);
	assert_string_equal(m[0].role, "user");
	assert_int_equal(m[0].n_images, 2);
	assert_non_null(m[1].tool_calls);
	assert_string_equal(m[2].tool_name, "f");
	prompt_msgs_free(m, n);

	m = msgs_json(
	    "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
	    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:;base64,aGk=\"}},"
	    "{\"type\":\"text\",\"text\":\"b\"}]},"
	    "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
	    "\"function\":{\"name\":\"weather\",\"arguments\":\"{\\\"c\\\":1}\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]",
	    &n, true);
	assert_string_equal(m[0].content, "ab");
	assert_int_equal(m[0].n_images, 1);
	assert_string_equal(m[1].content, "");
	assert_string_equal(m[2].tool_name, "weather");
	prompt_msgs_free(m, n);

	static const char *bad[] = {
	    "[{\"role\":\"user\",\"content\":5}]",
	    "[\"hello\"]",
	    "{\"role\":\"user\"}",
	    "[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\","
	    "\"arguments\":\"{not json\"}}]}]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON *j = cJSON_Parse(bad[i]);
		char err[ERR_MSG_LEN] = "";
		struct prompt_msg *x = NULL;
		size_t k = 0;
		assert_int_equal(prompt_msgs_parse_openai(j, &x, &k, err), ERR_INVALID);
		assert_true(err[0] != 0);
		cJSON_Delete(j);
	}
	cJSON *j = cJSON_Parse("[{\"role\":\"user\",\"content\":5}]");
	char err[ERR_MSG_LEN] = "";
	struct prompt_msg *x = NULL;
	assert_int_equal(prompt_msgs_parse(j, &x, &n, err), ERR_INVALID);
	assert_string_equal(err, "json: cannot unmarshal number into Go struct field "
	                         "Message.messages.content of type string");
	cJSON_Delete(j);
}

/* Tools reach the template: .Tools is true and prints as JSON. */
static void test_prompt_tools_reach_the_template(void **state)
{
	cJSON *tools = cJSON_Parse("[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	                           "\"description\":\"d\",\"parameters\":{\"type\":\"object\"}}}]");
	struct template_value *tv = prompt_tools_value(tools);
	assert_non_null(tv);
	size_t n;
	struct prompt_msg *m = msgs_json("[{\"role\":\"user\",\"content\":\"hi\"}]", &n, false);
	struct template *t = parse("{{ if .Tools }}[TOOLS]{{ .Tools }}[/TOOLS]{{ end }}"
	                           "{{ range .Messages }}{{ .Content }}{{ end }}");
	struct buf out = BUF_INIT;
	char err[ERR_MSG_LEN];
	assert_int_equal(
	    prompt_render(t, m, n, &(struct prompt_vars){.tools = tv}, NULL, NULL, &out, err), 0);
	assert_string_equal(out.data, "[TOOLS][{\"type\":\"function\",\"function\":{\"name\":"
	                              "\"get_weather\",\"description\":\"d\",\"parameters\":"
	                              "{\"type\":\"object\"}}}][/TOOLS]hi");
	assert_null(prompt_tools_value(cJSON_GetArrayItem(tools, 5)));
	buf_release(&out);
	template_free(t);
	template_value_free(tv);
	prompt_msgs_free(m, n);
	cJSON_Delete(tools);
}

/* qwen2.5's template with tools: the definitions printed as JSON, a tool
 * call rendered through .Function.Name / .Function.Arguments, the tool's
 * answer as a tool_response turn. */
static void test_prompt_qwen25_tools_round_trip(void **state)
{
	cJSON *tools =
	    cJSON_Parse("[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	                "\"description\":\"Get the weather\",\"parameters\":{\"type\":"
	                "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]");
	struct template_value *tv = prompt_tools_value(tools);
	size_t n;
	struct prompt_msg *m = msgs_json(
	    "[{\"role\":\"user\",\"content\":\"Weather in Tokyo?\"},"
	    "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":"
	    "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Tokyo\"}}}]},"
	    "{\"role\":\"tool\",\"content\":\"11 degrees\",\"tool_name\":\"get_weather\"}]",
	    &n, false);
	struct template *t = parse(QWEN25);
	assert_true(template_uses(t, "Tools"));
	struct buf out = BUF_INIT;
	char err[ERR_MSG_LEN] = "";
	if (prompt_render(t, m, n, &(struct prompt_vars){.tools = tv}, NULL, NULL, &out, err))
		fail_msg("render: %s", err);
	assert_string_equal(
	    out.data,
	    "<|im_start|>system\n\n# Tools\n\nYou may call one or more functions to assist with "
	    "the user query.\n\nYou are provided with function signatures within <tools></tools> "
	    "XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\":\"get_weather\","
	    "\"description\":\"Get the weather\",\"parameters\":{\"type\":\"object\","
	    "\"properties\":{\"city\":{\"type\":\"string\"}}}}}\n</tools>\n\nFor each function "
	    "call, return a json object with function name and arguments within "
	    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
	    "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
	    "<|im_start|>user\nWeather in Tokyo?<|im_end|>\n"
	    "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
	    "{\"city\":\"Tokyo\"}}\n</tool_call><|im_end|>\n"
	    "<|im_start|>user\n<tool_response>\n11 degrees\n</tool_response><|im_end|>\n"
	    "<|im_start|>assistant\n");
	buf_release(&out);
	template_free(t);
	template_value_free(tv);
	prompt_msgs_free(m, n);
	cJSON_Delete(tools);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prompt_gemma3_multi_turn),
	    cmocka_unit_test(test_prompt_llama3_rounds_with_model_system),
	    cmocka_unit_test(test_prompt_default_template),
	    cmocka_unit_test(test_prompt_generate_messages),
	    cmocka_unit_test(test_prompt_chat_truncates_oldest_keeps_system_and_last),
	    cmocka_unit_test(test_prompt_msgs_parse_shapes),
	    cmocka_unit_test(test_prompt_tools_reach_the_template),
	    cmocka_unit_test(test_prompt_qwen25_tools_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

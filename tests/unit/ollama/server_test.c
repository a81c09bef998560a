/* server_test.c — the model server's request-level rules that need no
 * socket (reference ollama-api.md §1.2, §4.1): OLLAMA_HOST parsing, the
 * environment (PORT, GPURUN_ over OLLAMA_, keep-alive forms), options
 * (v0.33 defaults, type errors with Ollama's messages, unknown and removed
 * keys ignored, stop lists), keep_alive values, and the legacy Modelfile.
 * The HTTP routes themselves are driven by tests/e2e/2x-serve-*.mjs. */
#include "support/support.h"

#include "base/json.h"
#include "ollama/library_templates.h"
#include "ollama/server_internal.h"

#include <stdlib.h>
#include <string.h>

static void test_server_parse_host_table(void **state)
{
	static const struct {
		const char *in, *host;
		int port;
	} cases[] = {
	    {"", "127.0.0.1", 11434},
	    {"0.0.0.0", "0.0.0.0", 11434},
	    {"127.0.0.1:8080", "127.0.0.1", 8080},
	    {":9000", "0.0.0.0", 9000},
	    {"http://example.com", "example.com", 80},
	    {"https://example.com", "example.com", 443},
	    {"http://10.0.0.1:1234/path", "10.0.0.1", 1234},
	    {"[::1]:5000", "::1", 5000},
	    {"[::1]", "::1", 11434},
	    {"::1", "::1", 11434},
	    {"localhost:99999", "localhost", 11434}, /* bad port: the default */
	    {"localhost:abc", "localhost", 11434},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char host[256];
		int port = -1;
		server_parse_host(cases[i].in, host, sizeof host, &port);
		if (strcmp(host, cases[i].host) || port != cases[i].port)
			fail_msg("%s -> %s:%d, want %s:%d", cases[i].in, host, port, cases[i].host,
			         cases[i].port);
	}
}

static void clear_env(void)
{
	static const char *vars[] = {"GPURUN_HOST",
	                             "OLLAMA_HOST",
	                             "PORT",
	                             "GPURUN_KEEP_ALIVE",
	                             "OLLAMA_KEEP_ALIVE",
	                             "GPURUN_NUM_PARALLEL",
	                             "OLLAMA_NUM_PARALLEL",
	                             "GPURUN_MAX_QUEUE",
	                             "GPURUN_API_KEY",
	                             "OLLAMA_ORIGINS",
	                             "GPURUN_ORIGINS",
	                             "GPURUN_CONTEXT_LENGTH",
	                             "GPURUN_MAX_LOADED_MODELS",
	                             "OLLAMA_MAX_LOADED_MODELS"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

static void test_server_config_env(void **state)
{
	struct server_config c;
	char err[ERR_MSG_LEN] = "";
	clear_env();
	assert_int_equal(server_config_from_env(&c, err), 0);
	assert_string_equal(c.host, "127.0.0.1");
	assert_int_equal(c.port, 11434);
	assert_int_equal(c.sched.num_parallel, 1);
	assert_int_equal(c.sched.max_queue, 512);
	assert_int_equal(c.sched.max_loaded, 3);
	assert_true(c.sched.keep_alive_ns == 5 * 60 * 1000000000LL);
	assert_null(c.api_key);
	server_config_release(&c);

	setenv("OLLAMA_HOST", "\"0.0.0.0:7000\"", 1); /* quotes are trimmed */
	setenv("PORT", "8123", 1);
	setenv("GPURUN_KEEP_ALIVE", "300", 1); /* bare seconds are fine in the environment */
	setenv("OLLAMA_NUM_PARALLEL", "4", 1);
	setenv("GPURUN_NUM_PARALLEL", "2", 1); /* GPURUN_ wins */
	setenv("GPURUN_API_KEY", "k", 1);
	setenv("OLLAMA_ORIGINS", "chrome-extension://*, https://x.test", 1);
	assert_int_equal(server_config_from_env(&c, err), 0);
	assert_string_equal(c.host, "0.0.0.0");
	assert_int_equal(c.port, 8123);
	assert_true(c.sched.keep_alive_ns == 300 * 1000000000LL);
	assert_int_equal(c.sched.num_parallel, 2);
	assert_string_equal(c.api_key, "k");
	assert_int_equal(c.n_origins, 2);
	assert_string_equal(c.origins[1], "https://x.test");
	server_config_release(&c);

	setenv("GPURUN_KEEP_ALIVE", "-1m", 1);
	assert_int_equal(server_config_from_env(&c, err), 0);
	assert_true(c.sched.keep_alive_ns == SCHED_KEEP_FOREVER);
	server_config_release(&c);

	setenv("GPURUN_KEEP_ALIVE", "soon", 1);
	assert_int_equal(server_config_from_env(&c, err), ERR_INVALID);
	assert_non_null(strstr(err, "KEEP_ALIVE"));
	server_config_release(&c);
	setenv("GPURUN_KEEP_ALIVE", "5m", 1);
	setenv("PORT", "http", 1);
	assert_int_equal(server_config_from_env(&c, err), ERR_INVALID);
	server_config_release(&c);
	setenv("PORT", "1", 1);
	setenv("GPURUN_NUM_PARALLEL", "0", 1);
	assert_int_equal(server_config_from_env(&c, err), ERR_INVALID);
	server_config_release(&c);
	clear_env();
}

static int apply(struct gen_options *o, const char *json, char err[ERR_MSG_LEN])
{
	cJSON *j = cJSON_Parse(json);
	assert_non_null(j);
	int rc = gen_options_apply(o, j, err);
	cJSON_Delete(j);
	return rc;
}

static void test_server_options_defaults_types_unknown(void **state)
{
	struct gen_options o;
	char err[ERR_MSG_LEN] = "";
	gen_options_init(&o);
	assert_true(o.sampling.temperature == 0.8f);
	assert_int_equal(o.sampling.top_k, 40);
	assert_true(o.sampling.top_p == 0.9f);
	assert_true(o.sampling.repeat_penalty == 1.0f);
	assert_int_equal(o.sampling.repeat_last_n, 64);
	assert_true(o.num_predict == -1 && o.num_keep == 4 && o.num_ctx == 0);
	assert_int_equal(
	    apply(&o,
	          "{\"temperature\":0,\"num_ctx\":2048.0,\"seed\":7,\"top_k\":1,"
	          "\"stop\":[\"a\",\"b\"],\"mirostat\":2,\"tfs_z\":1,\"use_mmap\":true,"
	          "\"num_gpu\":99,\"made_up\":\"x\",\"min_p\":null}",
	          err),
	    0);
	assert_true(o.sampling.temperature == 0.0f);
	assert_true(o.num_ctx == 2048 && o.sampling.seed == 7 && o.sampling.top_k == 1);
	assert_int_equal(o.n_stop, 2);
	assert_string_equal(o.stop[1], "b");
	/* Request options replace the model's stop list. */
	assert_int_equal(apply(&o, "{\"stop\":[\"z\"]}", err), 0);
	assert_int_equal(o.n_stop, 1);
	assert_string_equal(o.stop[0], "z");
	static const struct {
		const char *json, *msg;
	} bad[] = {
	    {"{\"temperature\":\"hot\"}", "option \"temperature\" must be of type float32"},
	    {"{\"num_ctx\":\"big\"}", "option \"num_ctx\" must be of type integer"},
	    {"{\"use_mmap\":1}", "option \"use_mmap\" must be of type boolean"},
	    {"{\"stop\":5}", "option \"stop\" must be of type array"},
	    {"{\"stop\":[1]}", "option \"stop\" must be of an array of strings"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(apply(&o, bad[i].json, err), ERR_INVALID);
		assert_string_equal(err, bad[i].msg);
	}
	assert_int_equal(gen_options_apply_text(&o, "{\"top_p\":0.5}\n", err), 0);
	assert_true(o.sampling.top_p == 0.5f);
	assert_int_equal(gen_options_apply_text(&o, "{oops", err), ERR_INVALID);
	gen_options_release(&o);
}

static int keep_alive(const char *json, bool *set, int64_t *ns, char err[ERR_MSG_LEN])
{
	cJSON *j = cJSON_Parse(json);
	int rc = api_keep_alive(j, set, ns, err);
	cJSON_Delete(j);
	return rc;
}

static void test_server_keep_alive_values(void **state)
{
	static const struct {
		const char *json;
		bool set;
		int64_t ns;
	} ok[] = {
	    {"{}", false, 0},
	    {"{\"keep_alive\":null}", false, 0},
	    {"{\"keep_alive\":0}", true, 0},
	    {"{\"keep_alive\":\"0\"}", true, 0},
	    {"{\"keep_alive\":30}", true, 30000000000LL},
	    {"{\"keep_alive\":1.5}", true, 1500000000LL},
	    {"{\"keep_alive\":\"10m\"}", true, 600000000000LL},
	    {"{\"keep_alive\":\"1h30m\"}", true, 5400000000000LL},
	    {"{\"keep_alive\":-1}", true, SCHED_KEEP_FOREVER},
	    {"{\"keep_alive\":\"-1m\"}", true, SCHED_KEEP_FOREVER},
	};
	char err[ERR_MSG_LEN];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		bool set = !ok[i].set;
		int64_t ns = -7;
		if (keep_alive(ok[i].json, &set, &ns, err))
			fail_msg("%s: %s", ok[i].json, err);
		assert_int_equal(set, ok[i].set);
		if (set && ns != ok[i].ns)
			fail_msg("%s: %lld ns", ok[i].json, (long long)ns);
	}
	bool set;
	int64_t ns;
	assert_int_equal(keep_alive("{\"keep_alive\":\"300\"}", &set, &ns, err), ERR_INVALID);
	assert_string_equal(err, "time: missing unit in duration \"300\"");
	assert_int_equal(keep_alive("{\"keep_alive\":\"soon\"}", &set, &ns, err), ERR_INVALID);
	assert_string_equal(err, "time: invalid duration \"soon\"");
	assert_int_equal(keep_alive("{\"keep_alive\":true}", &set, &ns, err), ERR_INVALID);
}

static void test_server_modelfile_parse(void **state)
{
	struct modelfile mf;
	char err[ERR_MSG_LEN] = "";
	const char *text = "# a comment\n"
	                   "FROM ./model.gguf\n"
	                   "template \"\"\"{{ if .System }}<s>{{ .System }}</s>{{ end }}\n"
	                   "{{ .Prompt }}\"\"\"\n"
	                   "SYSTEM You are \"terse\".   \n"
	                   "PARAMETER temperature 0.7\n"
	                   "PARAMETER num_ctx 2048\n"
	                   "PARAMETER stop \"<|end|>\"\n"
	                   "PARAMETER stop </s>\n"
	                   "PARAMETER use_mmap false\n"
	                   "LICENSE \"\"\"MIT\"\"\"\n"
	                   "MESSAGE user Is it \"quoted\"?\n"
	                   "MESSAGE assistant \"Yes \\\"it\\\" is.\"\n";
	assert_int_equal(modelfile_parse(text, &mf, err), 0);
	assert_string_equal(mf.from, "./model.gguf");
	assert_string_equal(mf.template_text,
	                    "{{ if .System }}<s>{{ .System }}</s>{{ end }}\n{{ .Prompt }}");
	assert_string_equal(mf.system, "You are \"terse\".");
	assert_true(json_num(mf.params, "temperature", 0) == 0.7);
	assert_true(json_num(mf.params, "num_ctx", 0) == 2048);
	const cJSON *stop = cJSON_GetObjectItem(mf.params, "stop");
	assert_int_equal(cJSON_GetArraySize(stop), 2);
	assert_string_equal(cJSON_GetArrayItem(stop, 1)->valuestring, "</s>");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(mf.params, "use_mmap")));
	assert_int_equal(mf.n_licenses, 1);
	assert_string_equal(mf.licenses[0], "MIT");
	assert_int_equal(cJSON_GetArraySize(mf.messages), 2);
	assert_string_equal(json_str(cJSON_GetArrayItem(mf.messages, 1), "content", ""),
	                    "Yes \"it\" is.");
	modelfile_release(&mf);

	static const struct {
		const char *text, *msg;
	} bad[] = {
	    {"FROM x\nPARAMETER nope 1\n", "unknown parameter 'nope'"},
	    {"FROM x\nPARAMETER temperature warm\n", "invalid float value [warm]"},
	    {"FROM x\nPARAMETER num_ctx 1.5\n", "invalid int value [1.5]"},
	    {"FROM x\nPARAMETER use_mmap maybe\n", "invalid bool value [maybe]"},
	    {"FROM x\nMESSAGE robot hi\n",
	     "role must be one of \"system\", \"user\", or \"assistant\""},
	    {"SYSTEM hi\n", "no FROM line for the model was specified"},
	    {"FROM x\nTEMPLATE \"\"\"never closed\n", NULL},
	    {"FROM x\nRUN rm -rf /\n", NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		if (modelfile_parse(bad[i].text, &mf, err) != ERR_INVALID)
			fail_msg("accepted: %s", bad[i].text);
		if (bad[i].msg && strcmp(err, bad[i].msg))
			fail_msg("%s: got \"%s\"", bad[i].text, err);
		assert_true(err[0] != 0);
		assert_null(mf.from);
	}
}

static void feed_all(struct tool_parser *p, const char *const *pieces, struct buf *emit)
{
	for (; *pieces; pieces++)
		tools_feed(p, *pieces, strlen(*pieces), emit);
}

static void test_server_tool_calls(void **state)
{
	struct tool_parser p;
	static const struct {
		const char *tmpl, *tag;
	} tags[] = {
	    {QWEN25, "<tool_call>"},
	    {MISTRAL, "[TOOL_CALLS] ["},
	    {LLAMA32, "{"},
	    {GEMMA3, "{"},
	    {NULL, "{"},
	};
	for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
		tools_parser_init(&p, tags[i].tmpl);
		assert_string_equal(p.tag, tags[i].tag);
		tools_parser_release(&p);
	}
	struct buf emit = BUF_INIT, content = BUF_INIT;

	/* qwen2.5: held from the first byte, one call out at the end */
	tools_parser_init(&p, QWEN25);
	const char *qwen[] = {"<tool", "_call>\n{\"name\": \"get_weather\", ",
	                      "\"arguments\": {\"city\": \"Tokyo\"}}\n</tool_call>", NULL};
	feed_all(&p, qwen, &emit);
	assert_int_equal(emit.len, 0);
	cJSON *calls = tools_finish(&p, &content);
	assert_non_null(calls);
	assert_int_equal(content.len, 0);
	assert_int_equal(cJSON_GetArraySize(calls), 1);
	const cJSON *c = cJSON_GetArrayItem(calls, 0);
	const char *id = json_str(c, "id", "");
	assert_int_equal(strlen(id), 13);
	assert_true(!strncmp(id, "call_", 5) &&
	            strspn(id + 5, "abcdefghijklmnopqrstuvwxyz0123456789") == 8);
	const cJSON *fn = cJSON_GetObjectItem(c, "function");
	assert_string_equal(json_str(fn, "name", ""), "get_weather");
	assert_string_equal(json_str(cJSON_GetObjectItem(fn, "arguments"), "city", ""), "Tokyo");
	assert_int_equal(json_i64(fn, "index", -1), 0);
	cJSON_Delete(calls);
	tools_parser_release(&p);

	/* plain answers stream as soon as they cannot be the tag */
	tools_parser_init(&p, QWEN25);
	const char *plain[] = {" <to", "ast> is good", NULL};
	feed_all(&p, plain, &emit);
	assert_string_equal(emit.data, " <toast> is good");
	assert_null(tools_finish(&p, &content));
	assert_int_equal(content.len, 0);
	tools_parser_release(&p);

	/* llama3.2 ("{"): "parameters"; mistral: a list of two */
	tools_parser_init(&p, LLAMA32);
	buf_reset(&emit);
	const char *ll[] = {"{\"name\": \"f\", \"parameters\": {\"x\": 1}}", NULL};
	feed_all(&p, ll, &emit);
	calls = tools_finish(&p, &content);
	assert_int_equal(cJSON_GetArraySize(calls), 1);
	cJSON_Delete(calls);
	tools_parser_release(&p);
	tools_parser_init(&p, MISTRAL);
	const char *mi[] = {"[TOOL_CALLS] [{\"name\":\"a\",\"arguments\":{}},",
	                    "{\"name\":\"b\",\"arguments\":{\"y\":\"z\"}}]", NULL};
	feed_all(&p, mi, &emit);
	calls = tools_finish(&p, &content);
	assert_int_equal(cJSON_GetArraySize(calls), 2);
	fn = cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 1), "function");
	assert_string_equal(json_str(fn, "name", ""), "b");
	assert_int_equal(json_i64(fn, "index", -1), 1);
	cJSON_Delete(calls);
	tools_parser_release(&p);

	/* the tag, then no valid call: everything becomes content */
	tools_parser_init(&p, QWEN25);
	const char *junk[] = {"<tool_call> not json", NULL};
	feed_all(&p, junk, &emit);
	assert_null(tools_finish(&p, &content));
	assert_string_equal(content.data, "<tool_call> not json");
	tools_parser_release(&p);
	buf_release(&emit);
	buf_release(&content);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_parse_host_table),
	    cmocka_unit_test(test_server_config_env),
	    cmocka_unit_test(test_server_options_defaults_types_unknown),
	    cmocka_unit_test(test_server_keep_alive_values),
	    cmocka_unit_test(test_server_modelfile_parse),
	    cmocka_unit_test(test_server_tool_calls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

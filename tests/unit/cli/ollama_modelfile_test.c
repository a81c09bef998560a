/* ollama_modelfile_test.c — the Modelfile parser and its /api/create
 * request: instruction forms (case, comments, quotes, """ blocks), typed
 * parameters (repeated stop becomes a list), messages and licenses, and a
 * table of invalid inputs that must give a message, never a crash. */
#include "support/support.h"

#include "base/json.h"
#include "cli/ollama_cli.h"

#include <string.h>

static int parse(const char *text, struct ollama_modelfile *mf, char err[ERR_MSG_LEN])
{
	return ollama_modelfile_parse(text, strlen(text), mf, err);
}

static void test_ollama_modelfile_instructions(void **state)
{
	(void)state;
	const char *text = "# a comment\n"
	                   "from ./stories.gguf\n"
	                   "  PARAMETER temperature 0\n"
	                   "PARAMETER stop \"<|eot|>\"\n"
	                   "PARAMETER stop foo bar\n"
	                   "TEMPLATE \"\"\"{{ .System }}\n{{ .Prompt }}\"\"\"\n"
	                   "SYSTEM \"say \\\"hi\\\"\"\n"
	                   "MESSAGE user Hello there\n"
	                   "MESSAGE assistant \"\"\"Hi!\nHow can I help?\"\"\"\n"
	                   "LICENSE MIT\n"
	                   "LICENSE \"\"\"Line one\nLine two\"\"\"\n";
	struct ollama_modelfile mf;
	char err[ERR_MSG_LEN];
	assert_int_equal(parse(text, &mf, err), 0);
	assert_int_equal(mf.n, 10);
	assert_string_equal(mf.cmds[0].name, "from");
	assert_string_equal(mf.cmds[0].value, "./stories.gguf");
	assert_string_equal(mf.cmds[1].key, "temperature");
	assert_string_equal(mf.cmds[3].value, "foo bar");
	assert_string_equal(mf.cmds[4].value, "{{ .System }}\n{{ .Prompt }}");
	assert_string_equal(mf.cmds[5].value, "say \"hi\"");

	cJSON *req = cJSON_CreateObject();
	assert_int_equal(ollama_modelfile_request(&mf, req, err), 0);
	struct buf out = BUF_INIT;
	json_append(&out, req);
	assert_string_equal(out.data,
	                    "{\"template\":\"{{ .System }}\\n{{ .Prompt }}\",\"system\":\"say "
	                    "\\\"hi\\\"\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello "
	                    "there\"},{\"role\":\"assistant\",\"content\":\"Hi!\\nHow can I "
	                    "help?\"}],\"license\":[\"MIT\",\"Line one\\nLine two\"],"
	                    "\"parameters\":{\"temperature\":0,\"stop\":[\"<|eot|>\",\"foo "
	                    "bar\"]}}");
	buf_release(&out);
	cJSON_Delete(req);
	ollama_modelfile_release(&mf);
}

static void test_ollama_modelfile_param_types(void **state)
{
	(void)state;
	char err[ERR_MSG_LEN];
	const char *v[] = {"42"};
	cJSON *j = ollama_modelfile_param("num_ctx", v, 1, err);
	assert_true(cJSON_IsNumber(j));
	assert_int_equal((int)j->valuedouble, 42);
	cJSON_Delete(j);
	const char *f[] = {"0.5"};
	j = ollama_modelfile_param("top_p", f, 1, err);
	assert_true(cJSON_IsNumber(j) && j->valuedouble == 0.5);
	cJSON_Delete(j);
	const char *b[] = {"true"};
	j = ollama_modelfile_param("use_mmap", b, 1, err);
	assert_true(cJSON_IsTrue(j));
	cJSON_Delete(j);
	assert_null(ollama_modelfile_param("num_ctx", f, 1, err));
	assert_string_equal(err, "invalid int value [0.5]");
	const char *x[] = {"x"};
	assert_null(ollama_modelfile_param("temperature", x, 1, err));
	assert_string_equal(err, "invalid float value [x]");
	assert_null(ollama_modelfile_param("use_mmap", x, 1, err));
	assert_null(ollama_modelfile_param("no_such_option", v, 1, err));
	assert_string_equal(err, "unknown parameter 'no_such_option'");
}

static void test_ollama_modelfile_invalid_inputs(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want; /* want: a substring of the message */
	} cases[] = {
	    {"", "no FROM line"},
	    {"# only a comment\n", "no FROM line"},
	    {"PARAMETER temperature 0\n", "no FROM line"},
	    {"FROM x\nBOGUS y\n", "command must be one of"},
	    {"FROM\n", "missing value for from"},
	    {"FROM x\nPARAMETER\n", "missing name for parameter"},
	    {"FROM x\nPARAMETER temperature\n", "missing value for parameter"},
	    {"FROM x\nTEMPLATE \"\"\"never closed\n", "unterminated"},
	    {"FROM x\nSYSTEM \"never closed\n", "unterminated"},
	    {"FROM x\nMESSAGE\n", "missing role"},
	    {"FROM x\nFROMAGE y\n", "command must be one of"},
	};
	char err[ERR_MSG_LEN];
	struct ollama_modelfile mf;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = 0;
		assert_int_equal(parse(cases[i].text, &mf, err), ERR_INVALID);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: message '%s' lacks '%s'", i, err, cases[i].want);
		assert_int_equal(mf.n, 0);
	}
	/* Every prefix of a valid Modelfile parses or fails cleanly. */
	const char *full =
	    "FROM a\nTEMPLATE \"\"\"x\ny\"\"\"\nPARAMETER stop \"s\"\nMESSAGE user hi\n";
	for (size_t n = 0; n <= strlen(full); n++) {
		if (ollama_modelfile_parse(full, n, &mf, err) == 0)
			ollama_modelfile_release(&mf);
	}
}

static void test_ollama_modelfile_request_errors(void **state)
{
	(void)state;
	char err[ERR_MSG_LEN];
	struct ollama_modelfile mf;
	assert_int_equal(parse("FROM x\nMESSAGE robot hi\n", &mf, err), 0);
	cJSON *req = cJSON_CreateObject();
	assert_int_equal(ollama_modelfile_request(&mf, req, err), ERR_INVALID);
	assert_non_null(strstr(err, "message role must be one of"));
	cJSON_Delete(req);
	ollama_modelfile_release(&mf);
	assert_int_equal(parse("FROM x\nPARAMETER num_ctx big\n", &mf, err), 0);
	req = cJSON_CreateObject();
	assert_int_equal(ollama_modelfile_request(&mf, req, err), ERR_INVALID);
	assert_string_equal(err, "invalid int value [big]");
	cJSON_Delete(req);
	ollama_modelfile_release(&mf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ollama_modelfile_instructions),
	    cmocka_unit_test(test_ollama_modelfile_param_types),
	    cmocka_unit_test(test_ollama_modelfile_invalid_inputs),
	    cmocka_unit_test(test_ollama_modelfile_request_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

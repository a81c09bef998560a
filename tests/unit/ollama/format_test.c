/* format_test.c — JSON Schema "format" compiled into a constraint program
 * (src/ollama/server_format.c): local $ref as pydantic writes it ($defs,
 * definitions, a JSON pointer with escapes), allOf of one schema, string
 * minLength/maxLength, integer bounds, and the
 * refusals (recursive or dangling $ref, a schema that expands too far), each
 * checked by feeding texts to the automaton. */
#include "support/support.h"

#include "base/json.h"
#include "engine/constrain.h"
#include "ollama/server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* format_compile of the schema text: its result, the program in *p. */
static int compile(const char *schema, struct constrain_prog **p, char err[ERR_MSG_LEN])
{
	cJSON *j = cJSON_Parse(schema);
	assert_non_null(j);
	*p = NULL;
	int rc = format_compile(j, p, err);
	cJSON_Delete(j);
	return rc;
}

static struct constrain_prog *compile_ok(const char *schema)
{
	struct constrain_prog *p;
	char err[ERR_MSG_LEN] = "";
	if (compile(schema, &p, err))
		fail_msg("compile %s: %s", schema, err);
	return p;
}

static void compile_err(const char *schema, const char *want)
{
	struct constrain_prog *p;
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(compile(schema, &p, err), ERR_INVALID);
	assert_null(p);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

/* True when text is a whole value the program accepts. */
static bool accepts(const struct constrain_prog *p, const char *text)
{
	struct constrain_state s;
	constrain_state_init(p, &s);
	return constrain_state_feed_n(p, &s, text, strlen(text)) && constrain_state_complete(p, &s);
}

static void test_format_ref_defs(void **state)
{
	(void)state;
	/* pydantic: class Friend(name: str, age: int); class Friends(friends: list[Friend]) */
	struct constrain_prog *p = compile_ok(
	    "{\"$defs\":{\"Friend\":{\"properties\":{\"name\":{\"title\":\"Name\",\"type\":"
	    "\"string\"},"
	    "\"age\":{\"title\":\"Age\",\"type\":\"integer\"}},\"required\":[\"name\",\"age\"],"
	    "\"title\":\"Friend\",\"type\":\"object\"}},"
	    "\"properties\":{\"friends\":{\"items\":{\"$ref\":\"#/$defs/"
	    "Friend\"},\"title\":\"Friends\","
	    "\"type\":\"array\"}},\"required\":[\"friends\"],\"title\":\"Friends\",\"type\":"
	    "\"object\"}");
	assert_true(accepts(
	    p, "{\"friends\":[{\"name\":\"Ann\",\"age\":3},{\"name\":\"Bo\",\"age\":41}]}"));
	assert_true(accepts(p, "{\"friends\":[]}"));
	assert_false(accepts(p, "{\"friends\":[{\"name\":\"Ann\"}]}"));
	assert_false(accepts(p, "{\"friends\":[{\"name\":\"Ann\",\"age\":\"3\"}]}"));
	assert_false(accepts(p, "{\"friends\":[1]}"));
	constrain_prog_free(p);
}

static void test_format_ref_pointer_forms(void **state)
{
	(void)state;
	/* draft-7 "definitions", a chain of refs, "~1" and "%25" escapes, allOf of one */
	struct constrain_prog *p = compile_ok(
	    "{\"definitions\":{\"a/b\":{\"$ref\":\"#/definitions/"
	    "c%25\"},\"c%\":{\"enum\":[\"x\",\"y\"]},"
	    "\"list\":[{\"type\":\"integer\"}]},"
	    "\"type\":\"object\",\"properties\":{\"k\":{\"$ref\":\"#/definitions/a~1b\"},"
	    "\"n\":{\"allOf\":[{\"$ref\":\"#/definitions/list/0\"}],\"description\":\"d\"}},"
	    "\"required\":[\"k\",\"n\"]}");
	assert_true(accepts(p, "{\"k\":\"y\",\"n\":12}"));
	assert_false(accepts(p, "{\"k\":\"z\",\"n\":12}"));
	assert_false(accepts(p, "{\"k\":\"x\",\"n\":1.5}"));
	constrain_prog_free(p);
}

static void test_format_ref_refused(void **state)
{
	(void)state;
	compile_err("{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/x\"}}}",
	            "$ref \"#/x\" names nothing");
	compile_err("{\"properties\":{\"a\":{\"$ref\":\"https://example.com/s.json\"}}}",
	            "only local refs");
	compile_err("{\"properties\":{\"a\":{\"$ref\":7}}}", "$ref must be a string");
	/* a tree that refers to itself */
	compile_err(
	    "{\"$defs\":{\"Node\":{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":"
	    "\"array\",\"items\":{\"$ref\":\"#/$defs/Node\"}}}}},\"$ref\":\"#/$defs/Node\"}",
	    "is recursive");
	compile_err("{\"$ref\":\"#\"}", "is recursive");
	compile_err("{\"allOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}",
	            "allOf is supported with exactly one schema");
}

static void test_format_string_lengths(void **state)
{
	(void)state;
	struct constrain_prog *p = compile_ok(
	    "{\"type\":\"object\",\"properties\":{\"code\":{\"type\":\"string\",\"minLength\":2,"
	    "\"maxLength\":3},\"tag\":{\"type\":[\"string\",\"null\"],\"maxLength\":1}},"
	    "\"required\":[\"code\",\"tag\"]}");
	assert_true(accepts(p, "{\"code\":\"ab\",\"tag\":null}"));
	assert_true(accepts(p, "{\"code\":\"\xc3\xa9t\xc3\xa9\",\"tag\":\"x\"}"));
	assert_false(accepts(p, "{\"code\":\"a\",\"tag\":null}"));
	assert_false(accepts(p, "{\"code\":\"abcd\",\"tag\":null}"));
	assert_false(accepts(p, "{\"code\":\"abc\",\"tag\":\"xy\"}"));
	constrain_prog_free(p);
	compile_err("{\"type\":\"string\",\"minLength\":3,\"maxLength\":2}",
	            "bad minLength/maxLength");
	compile_err("{\"type\":\"string\",\"minLength\":-1}", "bad minLength/maxLength");
}

static void test_format_integer_bounds(void **state)
{
	(void)state;
	struct constrain_prog *p = compile_ok(
	    "{\"type\":\"object\",\"properties\":{\"age\":{\"type\":\"integer\",\"minimum\":0,"
	    "\"maximum\":120},\"floor\":{\"type\":\"integer\",\"exclusiveMinimum\":-3,"
	    "\"exclusiveMaximum\":2.5},\"old\":{\"type\":\"integer\",\"minimum\":5,"
	    "\"exclusiveMinimum\":true}},\"required\":[\"age\",\"floor\",\"old\"]}");
	assert_true(accepts(p, "{\"age\":0,\"floor\":-2,\"old\":6}"));
	assert_true(accepts(p, "{\"age\":120,\"floor\":2,\"old\":60}"));
	assert_false(accepts(p, "{\"age\":-1,\"floor\":0,\"old\":6}"));
	assert_false(accepts(p, "{\"age\":121,\"floor\":0,\"old\":6}"));
	assert_false(accepts(p, "{\"age\":1,\"floor\":-3,\"old\":6}"));
	assert_false(accepts(p, "{\"age\":1,\"floor\":3,\"old\":6}"));
	assert_false(accepts(p, "{\"age\":1,\"floor\":0,\"old\":5}"));
	constrain_prog_free(p);
	compile_err("{\"type\":\"integer\",\"minimum\":3,\"maximum\":2.5}", "leave no integer");
	/* bounds beyond 16 digits are clamped, not refused */
	p = compile_ok("{\"type\":\"integer\",\"minimum\":-1e30,\"maximum\":1e30}");
	assert_true(accepts(p, "-9999999999999999"));
	constrain_prog_free(p);
}

/* d0 has two properties that both name d1, ... : 2^12 expansions unless bounded. */
static void test_format_ref_expansion_bounded(void **state)
{
	(void)state;
	char s[4096];
	size_t n = (size_t)snprintf(s, sizeof s, "{\"$defs\":{");
	for (int i = 0; i < 12; i++)
		n +=
		    (size_t)snprintf(s + n, sizeof s - n,
		                     "\"d%d\":{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":"
		                     "\"#/$defs/d%d\"},\"b\":{\"$ref\":\"#/$defs/d%d\"}}},",
		                     i, i + 1, i + 1);
	snprintf(s + n, sizeof s - n, "\"d12\":{\"type\":\"string\"}},\"$ref\":\"#/$defs/d0\"}");
	compile_err(s, "more than 256 $ref uses");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_ref_defs),
	    cmocka_unit_test(test_format_ref_pointer_forms),
	    cmocka_unit_test(test_format_ref_refused),
	    cmocka_unit_test(test_format_ref_expansion_bounded),
	    cmocka_unit_test(test_format_string_lengths),
	    cmocka_unit_test(test_format_integer_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

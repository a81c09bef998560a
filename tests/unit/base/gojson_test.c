/* gojson_test.c — Go's spellings: encoding/json strings and float64s, and
 * fmt's %v for float64. Expected texts are Go's output (go1.19 checked; \b and
 * \f as Go >= 1.22 writes them, the Go Ollama is built with). */
#include "support/support.h"

#include "base/gojson.h"

#include <math.h>
#include <string.h>

static void test_gojson_strings_escape_like_go(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"a\"b\\c\n\r\t\b\f\x01<>&",
	     "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u003c\\u003e\\u0026\""},
	    {"\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9", "\"\\u2028\\u2029\xc3\xa9\""},
	    {"\xff\xc3(ok", "\"\\ufffd\\ufffd(ok\""},
	    {"\xf0\x9f\x92\xa1", "\"\xf0\x9f\x92\xa1\""},
	    {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate is invalid UTF-8 */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b = BUF_INIT;
		gojson_append_str(&b, cases[i].in, strlen(cases[i].in));
		assert_string_equal(b.data, cases[i].want);
		buf_release(&b);
	}
}

static void test_gojson_floats_like_go(void **state)
{
	static const struct {
		double v;
		const char *json, *v_fmt;
	} cases[] = {
	    {0, "0", "0"},
	    {0.1, "0.1", "0.1"},
	    {100, "100", "100"},
	    {1e20, "100000000000000000000", "1e+20"},
	    {1e21, "1e+21", "1e+21"},
	    {1.5e21, "1.5e+21", "1.5e+21"},
	    {1e-6, "0.000001", "1e-06"},
	    {1e-7, "1e-7", "1e-07"},
	    {123456789.125, "123456789.125", "1.23456789125e+08"},
	    {-2.5, "-2.5", "-2.5"},
	    {3.0000000000000004, "3.0000000000000004", "3.0000000000000004"},
	    {1e6, "1000000", "1e+06"},
	    {123456, "123456", "123456"},
	    {0.0001, "0.0001", "0.0001"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b = BUF_INIT;
		gojson_append_float(&b, cases[i].v);
		assert_string_equal(b.data, cases[i].json);
		buf_reset(&b);
		gojson_append_float_v(&b, cases[i].v);
		assert_string_equal(b.data, cases[i].v_fmt);
		buf_release(&b);
	}
	struct buf b = BUF_INIT;
	gojson_append_float(&b, -0.0);
	gojson_append_float(&b, NAN);
	gojson_append_float_v(&b, INFINITY);
	assert_string_equal(b.data, "-0null+Inf");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gojson_strings_escape_like_go),
	    cmocka_unit_test(test_gojson_floats_like_go),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

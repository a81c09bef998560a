/* gateway_test.c — the gateway's pure pieces: Host parsing (NAME.localhost,
 * tagged URLs, ports, v6 literals, hostile values), custom-domain lists and
 * the token count in model-server response lines. */
#include "support/support.h"

#include "platform/gateway.h"

#include <string.h>

static struct gateway_host parse_ok(const char *v)
{
	struct gateway_host h;
	int rc = gateway_host_parse(v, strlen(v), &h);
	if (rc)
		fail_msg("'%s' refused", v);
	return h;
}

static void test_gateway_host_service_names(void **state)
{
	struct gateway_host h = parse_ok("hello.localhost:8080");
	assert_string_equal(h.host, "hello.localhost");
	assert_string_equal(h.service, "hello");
	assert_string_equal(h.tag, "");
	assert_int_equal(h.port, 8080);
	h = parse_ok("Ollama-Service.LOCALHOST");
	assert_string_equal(h.service, "ollama-service");
	assert_int_equal(h.port, -1);
	h = parse_ok("hello.localhost.:80"); /* absolute form */
	assert_string_equal(h.service, "hello");
	h = parse_ok(" hello.localhost:8080\t"); /* OWS around the value */
	assert_string_equal(h.service, "hello");
}

static void test_gateway_host_tags(void **state)
{
	struct gateway_host h = parse_ok("canary---hello.localhost:8080");
	assert_string_equal(h.service, "hello");
	assert_string_equal(h.tag, "canary");
	h = parse_ok("---hello.localhost"); /* empty tag: not a service URL */
	assert_string_equal(h.service, "");
	assert_string_equal(h.tag, "");
	h = parse_ok("Bad_Tag---hello.localhost");
	assert_string_equal(h.service, "");
}

static void test_gateway_host_other_hosts(void **state)
{
	struct gateway_host h = parse_ok("127.0.0.1:8080");
	assert_string_equal(h.host, "127.0.0.1");
	assert_string_equal(h.service, "");
	h = parse_ok("localhost");
	assert_string_equal(h.service, "");
	h = parse_ok("a.b.localhost"); /* two labels: not NAME.localhost */
	assert_string_equal(h.service, "");
	h = parse_ok("api.example.com");
	assert_string_equal(h.host, "api.example.com");
	assert_string_equal(h.service, "");
	h = parse_ok("[::1]:8080");
	assert_string_equal(h.host, "[::1]");
	assert_int_equal(h.port, 8080);
	h = parse_ok("9invalid.localhost"); /* service names start with a letter */
	assert_string_equal(h.service, "");
	h = parse_ok("x-.localhost");
	assert_string_equal(h.service, "");
}

static void test_gateway_host_invalid(void **state)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "hello.localhost:",
	    "hello.localhost:0",
	    "hello.localhost:65536",
	    "hello.localhost:80x",
	    "::1",
	    "[::1",
	    "[::1]x",
	    "he llo.localhost",
	    "hello.localhost/x",
	    "hello@evil",
	    "a\r\nb",
	    ":8080",
	};
	struct gateway_host h;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (gateway_host_parse(bad[i], strlen(bad[i]), &h) == 0)
			fail_msg("'%s' accepted", bad[i]);
	char big[400];
	memset(big, 'a', sizeof big);
	assert_int_not_equal(gateway_host_parse(big, sizeof big, &h), 0);
	/* an embedded NUL is not a Host */
	assert_int_not_equal(gateway_host_parse("a\0b", 3, &h), 0);
}

static void test_gateway_domain_lists(void **state)
{
	assert_true(gateway_domain_match("api.example.com", "api.example.com"));
	assert_true(gateway_domain_match(" a.com , API.example.com ", "api.example.com"));
	assert_false(gateway_domain_match("api.example.com", "example.com"));
	assert_false(gateway_domain_match("xapi.example.com", "api.example.com"));
	assert_false(gateway_domain_match("", "a.com"));
	assert_false(gateway_domain_match(NULL, "a.com"));
	assert_false(gateway_domain_match("a.com", ""));
}

static void test_gateway_tokens_scan(void **state)
{
	const char *last = "{\"model\":\"m\",\"done\":true,\"total_duration\":5,"
	                   "\"prompt_eval_count\":12,\"eval_count\":42,\"eval_duration\":9}";
	assert_int_equal(gateway_tokens_scan(last, strlen(last)), 42);
	const char *mid = "{\"model\":\"m\",\"response\":\"eval_count\",\"done\":false}";
	assert_int_equal(gateway_tokens_scan(mid, strlen(mid)), -1);
	const char *oai = "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\": 17}}";
	assert_int_equal(gateway_tokens_scan(oai, strlen(oai)), 17);
	assert_int_equal(gateway_tokens_scan("", 0), -1);
	const char *cut = "\"eval_count\":";
	assert_int_equal(gateway_tokens_scan(cut, strlen(cut)), -1);
	/* only n bytes are read */
	assert_int_equal(gateway_tokens_scan(last, 20), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gateway_host_service_names),
	    cmocka_unit_test(test_gateway_host_tags),
	    cmocka_unit_test(test_gateway_host_other_hosts),
	    cmocka_unit_test(test_gateway_host_invalid),
	    cmocka_unit_test(test_gateway_domain_lists),
	    cmocka_unit_test(test_gateway_tokens_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

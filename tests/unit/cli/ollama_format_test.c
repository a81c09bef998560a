/* ollama_format_test.c — Ollama's human formats (format.HumanBytes,
 * HumanNumber, HumanTime, Go's Duration.String), the RFC 3339 reader, the
 * table layout, the progress bar line and the client's host parsing. The
 * expected strings are what Ollama's Go code prints for the same inputs. */
#include "support/support.h"

#include "cli/ollama_cli.h"

#include <stdlib.h>
#include <string.h>

#define S 1000000000LL

static void test_ollama_format_bytes_units(void **state)
{
	(void)state;
	static const struct {
		int64_t b;
		const char *want;
	} cases[] = {{0, "0 B"},
	             {999, "999 B"},
	             {1000, "1 KB"},
	             {1500, "1.5 KB"},
	             {12345, "12 KB"},
	             {999999, "999 KB"},
	             {1000000, "1 MB"},
	             {1228800, "1.2 MB"},
	             {2019393189, "2.0 GB"},
	             {2000000000, "2 GB"},
	             {5137025024, "5.1 GB"},
	             {123456789012, "123 GB"},
	             {1000000000000, "1 TB"}};
	char out[32];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ollama_format_bytes(cases[i].b, out, sizeof out);
		assert_string_equal(out, cases[i].want);
	}
}

static void test_ollama_format_number_units(void **state)
{
	(void)state;
	char out[32];
	ollama_format_number(292800, out, sizeof out);
	assert_string_equal(out, "293K");
	ollama_format_number(999, out, sizeof out);
	assert_string_equal(out, "999");
	ollama_format_number(3000000, out, sizeof out);
	assert_string_equal(out, "3M");
	ollama_format_number(1240000, out, sizeof out);
	assert_string_equal(out, "1.24M");
	ollama_format_number(8030261248ULL, out, sizeof out);
	assert_string_equal(out, "8.0B");
	ollama_format_number(7000000000ULL, out, sizeof out);
	assert_string_equal(out, "7B");
}

static void test_ollama_format_time_relative(void **state)
{
	(void)state;
	int64_t now = 1700000000 * S;
	static const struct {
		int64_t delta; /* now - t */
		const char *want;
	} cases[] = {{S / 2, "Less than a second ago"}, {S, "1 second ago"},
	             {42 * S, "42 seconds ago"},        {90 * S, "About a minute ago"},
	             {120 * S, "2 minutes ago"},        {-(4 * 60 + 59) * S, "4 minutes from now"},
	             {3600 * S, "About an hour ago"},   {5 * 3600 * S, "5 hours ago"},
	             {3 * 86400 * S, "3 days ago"},     {20 * 86400 * S, "2 weeks ago"},
	             {90 * 86400 * S, "3 months ago"},  {3 * 365 * 86400 * S, "3 years ago"}};
	char out[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ollama_format_time(now - cases[i].delta, now, "Never", out, sizeof out);
		assert_string_equal(out, cases[i].want);
	}
	ollama_format_time(0, now, "Never", out, sizeof out);
	assert_string_equal(out, "Never");
	int64_t far;
	assert_true(ollama_format_parse_time("2318-08-01T00:00:00Z", &far));
	ollama_format_time(far, now, "Never", out, sizeof out);
	assert_string_equal(out, "Forever");
}

static void test_ollama_format_go_duration(void **state)
{
	(void)state;
	static const struct {
		int64_t ns;
		const char *want;
	} cases[] = {{0, "0s"},
	             {999, "999ns"},
	             {1500, "1.5µs"},
	             {775117, "775.117µs"},
	             {1181490, "1.18149ms"},
	             {25812420, "25.81242ms"},
	             {S, "1s"},
	             {1500000000, "1.5s"},
	             {10706818083LL, "10.706818083s"},
	             {123 * S, "2m3s"},
	             {3600 * S, "1h0m0s"},
	             {-2 * S, "-2s"}};
	char out[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ollama_format_go_duration(cases[i].ns, out, sizeof out);
		assert_string_equal(out, cases[i].want);
	}
}

static void test_ollama_format_parse_time_forms(void **state)
{
	(void)state;
	int64_t t;
	assert_true(ollama_format_parse_time("1970-01-01T00:00:01Z", &t));
	assert_int_equal(t, S);
	assert_true(ollama_format_parse_time("2023-08-04T19:22:45.499127Z", &t));
	assert_int_equal(t, 1691176965 * S + 499127000);
	assert_true(ollama_format_parse_time("2024-06-04T14:38:31.83753-07:00", &t));
	assert_int_equal(t, 1717537111 * S + 837530000);
	assert_true(ollama_format_parse_time("0001-01-01T00:00:00Z", &t));
	assert_int_equal(t, 0);
	assert_false(ollama_format_parse_time("2024-06-04 14:38:31Z", &t));
	assert_false(ollama_format_parse_time("2024-13-04T14:38:31Z", &t));
	assert_false(ollama_format_parse_time("2024-06-04T14:38:31", &t));
	assert_false(ollama_format_parse_time("2024-06-04T14:38:31.Z", &t));
	assert_false(ollama_format_parse_time("", &t));
	assert_false(ollama_format_parse_time(NULL, &t));
}

static void test_ollama_format_table_layout(void **state)
{
	(void)state;
	struct ollama_table t;
	ollama_table_init(&t, 3);
	ollama_table_add(&t, (const char *[]){"NAME", "ID", "SIZE"});
	ollama_table_add(&t, (const char *[]){"stories:latest", "923f7148d2dd", "1.2 MB"});
	ollama_table_add(&t, (const char *[]){"µ", NULL, "9 B"});
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ollama_table_print(&t, f);
	fclose(f);
	assert_string_equal(text, "NAME              ID              SIZE      \n"
	                          "stories:latest    923f7148d2dd    1.2 MB    \n"
	                          "µ                                 9 B       \n");
	free(text);
	ollama_table_release(&t);
}

static void test_ollama_format_progress_bar_line(void **state)
{
	(void)state;
	struct ollama_progress_line l;
	memset(&l, 0, sizeof l);
	l.bar = true;
	snprintf(l.msg, sizeof l.msg, "pulling 047bf46455a5:");
	l.total = 1185376;
	l.completed = 1185376;
	l.stopped = true;
	l.started = 0;
	l.stopped_at = 0;
	char out[512];
	ollama_progress_bar_text(&l, 80, 0, out, sizeof out);
	/* 80 columns: 26 before the bar, 31 after, 18 cells of bar */
	assert_string_equal(out, "pulling 047bf46455a5: 100% ▕██████████████████▏ 1.2 MB"
	                         "                         ");
	l.stopped = false;
	l.completed = 592688;
	ollama_progress_bar_text(&l, 80, 0, out, sizeof out);
	assert_string_equal(out, "pulling 047bf46455a5:  50% ▕█████████         ▏ 592 KB/1.2 MB"
	                         "                  ");
}

static void test_ollama_client_host_forms(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {{NULL, "http://127.0.0.1:11434"},
	             {"", "http://127.0.0.1:11434"},
	             {"0.0.0.0", "http://127.0.0.1:11434"},
	             {"  \"127.0.0.1:18434\" ", "http://127.0.0.1:18434"},
	             {":5000", "http://127.0.0.1:5000"},
	             {"example.com", "http://example.com:11434"},
	             {"http://example.com", "http://example.com:80"},
	             {"https://example.com/ollama/", "https://example.com:443/ollama"},
	             {"[::1]:9000", "http://[::1]:9000"},
	             {"::1", "http://[::1]:11434"},
	             {"localhost:99999", "http://localhost:11434"}};
	struct ollama_client c;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ollama_client_init_host(&c, cases[i].in);
		assert_string_equal(c.base, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ollama_format_bytes_units),
	    cmocka_unit_test(test_ollama_format_number_units),
	    cmocka_unit_test(test_ollama_format_time_relative),
	    cmocka_unit_test(test_ollama_format_go_duration),
	    cmocka_unit_test(test_ollama_format_parse_time_forms),
	    cmocka_unit_test(test_ollama_format_table_layout),
	    cmocka_unit_test(test_ollama_format_progress_bar_line),
	    cmocka_unit_test(test_ollama_client_host_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

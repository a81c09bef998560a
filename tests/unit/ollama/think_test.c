/* think_test.c — the thinking parser (src/ollama/think.c): each answer is
 * fed whole and split at every byte, and must give the same thinking and
 * content: a leading <think> block, an answer the prompt opened, no block
 * at all, tags cut across pieces, a block never closed. */
#include "support/support.h"

#include "ollama/think.h"

#include <string.h>

struct row {
	const char *text;
	bool opened;
	const char *thinking, *content;
};

static void run(const struct row *r, size_t cut, struct buf *th, struct buf *ct)
{
	struct think_parser p;
	think_parser_init(&p, r->opened);
	size_t n = strlen(r->text);
	if (cut > n)
		cut = n;
	think_feed(&p, r->text, cut, th, ct);
	think_feed(&p, r->text + cut, n - cut, th, ct);
	think_finish(&p, th, ct);
	think_parser_release(&p);
}

static void test_think_split_everywhere(void **state)
{
	(void)state;
	static const struct row rows[] = {
	    {"<think>Let me see.</think>\n\nThe answer is 4.", false, "Let me see.",
	     "The answer is 4."},
	    {"  \n<think>a < b</think>c", false, "a < b", "c"},
	    {"Plain answer, <think> later.", false, "", "Plain answer, <think> later."},
	    {"thinking already</think>  done", true, "thinking already", "done"},
	    {"<think>never closed </thi", false, "never closed </thi", ""},
	    {"<thin", false, "", "<thin"},
	    {"", false, "", ""},
	    {"<think></think>", false, "", ""},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		for (size_t cut = 0; cut <= strlen(rows[i].text); cut++) {
			struct buf th = BUF_INIT, ct = BUF_INIT;
			run(&rows[i], cut, &th, &ct);
			buf_putc(&th, 0);
			buf_putc(&ct, 0);
			if (strcmp(th.data, rows[i].thinking) || strcmp(ct.data, rows[i].content))
				fail_msg("'%s' cut at %zu: thinking '%s' content '%s'",
				         rows[i].text, cut, th.data, ct.data);
			buf_release(&th);
			buf_release(&ct);
		}
}

static void test_think_byte_by_byte(void **state)
{
	(void)state;
	const char *text = "<think>step 1</think>\nfinal";
	struct think_parser p;
	struct buf th = BUF_INIT, ct = BUF_INIT;
	think_parser_init(&p, false);
	for (size_t i = 0; text[i]; i++)
		think_feed(&p, text + i, 1, &th, &ct);
	think_finish(&p, &th, &ct);
	think_parser_release(&p);
	assert_int_equal(th.len, 6);
	assert_memory_equal(th.data, "step 1", 6);
	assert_int_equal(ct.len, 5);
	assert_memory_equal(ct.data, "final", 5);
	buf_release(&th);
	buf_release(&ct);
}

static void test_think_prompt_opened(void **state)
{
	(void)state;
	assert_true(think_prompt_opened("<|Assistant|><think>\n", 21));
	assert_false(think_prompt_opened("<think>x", 8));
	assert_false(think_prompt_opened("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_think_split_everywhere),
	    cmocka_unit_test(test_think_byte_by_byte),
	    cmocka_unit_test(test_think_prompt_opened),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* names_test.c — Ollama model-name parsing, validation, display forms, paths
 * and the manifests tree walk (reference ollama-api.md §1.1, §3.1). */
#include "support/support.h"

#include "base/file.h"
#include "ollama/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_names_parse_defaults_table(void **state)
{
	static const struct {
		const char *in, *host, *ns, *model, *tag, *scheme;
	} cases[] = {
	    {"gemma3", "registry.ollama.ai", "library", "gemma3", "latest", "https"},
	    {"library/gemma3:4b", "registry.ollama.ai", "library", "gemma3", "4b", "https"},
	    {"mattw/pygmalion", "registry.ollama.ai", "mattw", "pygmalion", "latest", "https"},
	    {"localhost:5000/mitja/phi", "localhost:5000", "mitja", "phi", "latest", "https"},
	    {"hf.co/bartowski/X-GGUF:Q4_K_M", "hf.co", "bartowski", "X-GGUF", "Q4_K_M", "https"},
	    {"127.0.0.1:5000/library/stories260k", "127.0.0.1:5000", "library", "stories260k",
	     "latest", "https"},
	    {"http://127.0.0.1:5000/library/stories260k:v1", "127.0.0.1:5000", "library",
	     "stories260k", "v1", "http"},
	    {"https://example.com/a/b:c", "example.com", "a", "b", "c", "https"},
	    {"llama3.2:1b-instruct-q4_K_M", "registry.ollama.ai", "library", "llama3.2",
	     "1b-instruct-q4_K_M", "https"},
	    {"_x/_y:_z", "registry.ollama.ai", "_x", "_y", "_z", "https"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct model_name n;
		char err[ERR_MSG_LEN];
		int rc = names_parse(cases[i].in, &n, err);
		if (rc != 0)
			fail_msg("%s: %s", cases[i].in, err);
		assert_string_equal(n.host, cases[i].host);
		assert_string_equal(n.ns, cases[i].ns);
		assert_string_equal(n.model, cases[i].model);
		assert_string_equal(n.tag, cases[i].tag);
		assert_string_equal(n.scheme, cases[i].scheme);
		assert_true(names_valid(&n));
	}
}

static void test_names_parse_rejects_invalid(void **state)
{
	char long_tag[100];
	memset(long_tag, 'a', sizeof long_tag);
	memcpy(long_tag, "m:", 2);
	long_tag[2 + 81] = '\0'; /* an 81-byte tag: one past the limit */
	static const char *bad[] = {
	    "",    ":",          "a:",    ":b",   "/a",          "a/",      "a//b",
	    "a b", "ns.x/m",     "-abc",  "m:-t", ".x",          "a/b/c/d", "ftp://h/n/m",
	    "x@y", "h/n/m:t:u/", "a:b/c", "m:t/", "lib/ra:ry/m",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct model_name n;
		char err[ERR_MSG_LEN] = "";
		if (names_parse(bad[i], &n, err) != ERR_INVALID)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_string_equal(err, "invalid model name");
		assert_false(names_valid(&n));
	}
	struct model_name n;
	assert_int_equal(names_parse(long_tag, &n, NULL), ERR_INVALID);
	long_tag[2 + 80] = '\0';
	assert_int_equal(names_parse(long_tag, &n, NULL), 0);
	assert_int_equal(names_parse(NULL, &n, NULL), ERR_INVALID);
}

static void test_names_display_forms(void **state)
{
	static const struct {
		const char *in, *shortest, *full;
	} cases[] = {
	    {"gemma3", "gemma3:latest", "registry.ollama.ai/library/gemma3:latest"},
	    {"mattw/x:1", "mattw/x:1", "registry.ollama.ai/mattw/x:1"},
	    {"REGISTRY.OLLAMA.AI/Library/x", "x:latest", "REGISTRY.OLLAMA.AI/Library/x:latest"},
	    {"127.0.0.1:5000/library/stories260k", "127.0.0.1:5000/library/stories260k:latest",
	     "127.0.0.1:5000/library/stories260k:latest"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct model_name n;
		char out[NAMES_STR_MAX];
		assert_int_equal(names_parse(cases[i].in, &n, NULL), 0);
		assert_string_equal(names_shortest(&n, out, sizeof out), cases[i].shortest);
		assert_string_equal(names_full(&n, out, sizeof out), cases[i].full);
	}
	struct model_name n;
	char out[NAMES_STR_MAX];
	assert_int_equal(names_parse("hf.co/bartowski/X-GGUF:Q4_K_M", &n, NULL), 0);
	assert_string_equal(names_repository(&n, out, sizeof out), "bartowski/X-GGUF");
}

static void test_names_case_is_kept_and_folded(void **state)
{
	struct model_name a, b, c;
	assert_int_equal(names_parse("Llama3:Latest", &a, NULL), 0);
	assert_int_equal(names_parse("llama3", &b, NULL), 0);
	assert_int_equal(names_parse("llama3:8b", &c, NULL), 0);
	assert_string_equal(a.model, "Llama3");
	assert_string_equal(a.tag, "Latest");
	assert_true(names_equal_fold(&a, &b));
	assert_false(names_equal_fold(&a, &c));
	char rel[NAMES_STR_MAX];
	assert_string_equal(names_rel_path(&a, rel, sizeof rel),
	                    "registry.ollama.ai/library/Llama3/Latest");
}

static void test_names_rel_path_round_trip(void **state)
{
	struct model_name n, back;
	char rel[NAMES_STR_MAX];
	assert_int_equal(names_parse("127.0.0.1:5000/library/stories260k:q8", &n, NULL), 0);
	names_rel_path(&n, rel, sizeof rel);
	assert_string_equal(rel, "127.0.0.1:5000/library/stories260k/q8");
	assert_int_equal(names_from_rel_path(rel, &back), 0);
	assert_true(names_equal_fold(&n, &back));
	static const char *bad[] = {"a/b/c", "a/b/c/d/e", "a/b/c/.tmp-x", "a//c/d", "a/b.c/m/t"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(names_from_rel_path(bad[i], &back), ERR_INVALID);
}

static void touch(const char *root, const char *rel)
{
	char *path = file_path_join(root, rel);
	char *dir = strdup(path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(file_mkdir_p(dir, 0755), 0);
	assert_int_equal(file_write_atomic(path, "{}", 2, 0644), 0);
	free(dir);
	free(path);
}

static void test_names_list_walks_four_levels(void **state)
{
	char *root = file_path_join(test_tmp_dir(), "list/manifests");
	touch(root, "registry.ollama.ai/library/zeta/latest");
	touch(root, "registry.ollama.ai/library/alpha/7b");
	touch(root, "registry.ollama.ai/library/alpha/1b");
	touch(root, "127.0.0.1:5000/library/stories260k/latest");
	touch(root, "registry.ollama.ai/library/alpha/.tmp-123456"); /* a write in progress */
	touch(root, "registry.ollama.ai/bad.ns/m/t");                /* namespace with a dot */
	touch(root, "registry.ollama.ai/library/deep/x/y");          /* five levels */
	touch(root, "toplevel");
	struct model_name *names;
	size_t n;
	assert_int_equal(names_list(root, &names, &n), 0);
	assert_int_equal(n, 4);
	char s[NAMES_STR_MAX];
	assert_string_equal(names_full(&names[0], s, sizeof s),
	                    "127.0.0.1:5000/library/stories260k:latest");
	assert_string_equal(names_full(&names[1], s, sizeof s),
	                    "registry.ollama.ai/library/alpha:1b");
	assert_string_equal(names_full(&names[2], s, sizeof s),
	                    "registry.ollama.ai/library/alpha:7b");
	assert_string_equal(names_full(&names[3], s, sizeof s),
	                    "registry.ollama.ai/library/zeta:latest");
	free(names);
	char *missing = file_path_join(test_tmp_dir(), "nothing-here");
	assert_int_equal(names_list(missing, &names, &n), 0);
	assert_int_equal(n, 0);
	free(names);
	free(missing);
	free(root);
}

static int teardown(void **state)
{
	file_remove_tree(test_tmp_dir());
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_parse_defaults_table),
	    cmocka_unit_test(test_names_parse_rejects_invalid),
	    cmocka_unit_test(test_names_display_forms),
	    cmocka_unit_test(test_names_case_is_kept_and_folded),
	    cmocka_unit_test(test_names_rel_path_round_trip),
	    cmocka_unit_test(test_names_list_walks_four_levels),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}

/* base_test.c — buffers, slices, numbers, durations, files, sha256, flags,
 * allocation. */
#include "support/support.h"

#include "base/buf.h"
#include "base/file.h"
#include "base/flags.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/sha256.h"
#include "base/timeutil.h"

#include <stdlib.h>
#include <string.h>

static void test_buf_append_and_printf(void **state)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "abc");
	buf_printf(&b, "-%d-%s", 42, "x");
	for (int i = 0; i < 100; i++)
		buf_printf(&b, "%0300d", i);
	assert_int_equal(b.len, 8 + 100 * 300);
	assert_memory_equal(b.data, "abc-42-x", 8);
	assert_int_equal(b.data[b.len], 0);
	buf_consume(&b, 4);
	assert_memory_equal(b.data, "42-x", 4);
	buf_release(&b);
}

static void test_base_numbers_strict(void **state)
{
	int64_t v;
	assert_true(str_to_i64("-12", &v));
	assert_int_equal(v, -12);
	assert_false(str_to_i64("12x", &v));
	assert_false(str_to_i64("", &v));
	assert_false(str_to_i64(" 1", &v));
	assert_false(str_to_i64("99999999999999999999", &v));
	uint64_t u;
	assert_false(str_to_u64("-1", &u));
}

static void test_timeutil_durations(void **state)
{
	static const struct {
		const char *s;
		int64_t ns;
	} ok[] = {{"0", 0},	       {"5m", 300000000000LL}, {"1h30m", 5400000000000LL},
		  {"250ms", 250000000}, {"-1m", -60000000000LL}, {"1.5s", 1500000000},
		  {"10us", 10000}};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t ns;
		assert_true(time_parse_duration(ok[i].s, &ns));
		assert_int_equal(ns, ok[i].ns);
	}
	static const char *bad[] = {"", "5", "m", "5x", "1h-3m", "--1s"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ns;
		assert_false(time_parse_duration(bad[i], &ns));
	}
}

static void test_file_atomic_write_and_read(void **state)
{
	char *dir = file_path_join(test_tmp_dir(), "a/b/c");
	assert_int_equal(file_mkdir_p(dir, 0755), 0);
	char *path = file_path_join(dir, "f.txt");
	assert_int_equal(file_write_atomic(path, "one", 3, 0644), 0);
	assert_int_equal(file_write_atomic(path, "two!", 4, 0644), 0);
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(path, &b, 0), 0);
	assert_string_equal(b.data, "two!");
	buf_release(&b);
	assert_int_equal(file_read_all(path, &b, 2), -EFBIG);
	buf_release(&b);
	assert_int_equal(file_remove_tree(test_tmp_dir()), 0);
	assert_false(file_exists(path));
	free(path);
	free(dir);
}

static void test_sha256_known_vectors(void **state)
{
	char hex[65];
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	uint8_t mac[32];
	hmac_sha256("key", 3, "The quick brown fox jumps over the lazy dog", 43, mac);
	hex_encode(mac, 32, hex);
	assert_string_equal(hex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

static void test_flags_forms(void **state)
{
	bool yes = false, gone = true;
	const char *name = NULL;
	int64_t n = 0;
	struct flag_list env = {0};
	struct flag flags[] = {
		{"allow", 0, FLAG_BOOL, &yes, "", false},
		{"gone", 0, FLAG_BOOL, &gone, "", false},
		{"name", 0, FLAG_STRING, &name, "", false},
		{"count", 'n', FLAG_INT, &n, "", false},
		{"env", 0, FLAG_LIST, &env, "", false},
		{NULL, 0, 0, NULL, NULL, false},
	};
	char *argv[] = {"p1", "--allow", "--no-gone", "--name=x", "-n", "7",
			"--env", "A=1", "--env=B=2", "p2", "--", "--name"};
	const char *pos[12];
	int npos;
	char err[ERR_MSG_LEN];
	assert_int_equal(flags_parse(flags, 12, argv, pos, &npos, err), 0);
	assert_true(yes);
	assert_false(gone);
	assert_string_equal(name, "x");
	assert_int_equal(n, 7);
	assert_int_equal(env.n, 2);
	assert_string_equal(env.items[1], "B=2");
	assert_int_equal(npos, 3);
	assert_string_equal(pos[2], "--name");
	flag_list_release(&env);
	char *bad[] = {"--what"};
	assert_int_equal(flags_parse(flags, 1, bad, pos, &npos, err), -EINVAL);
	assert_non_null(strstr(err, "--what"));
	char *badint[] = {"--count", "x"};
	assert_int_equal(flags_parse(flags, 2, badint, pos, &npos, err), -EINVAL);
}

static void test_json_getters_distrust_types(void **state)
{
	char err[ERR_MSG_LEN];
	cJSON *j = json_parse("{\"a\":\"s\",\"n\":3,\"b\":true}", 25, err);
	assert_non_null(j);
	assert_string_equal(json_str(j, "a", "d"), "s");
	assert_string_equal(json_str(j, "n", "d"), "d");
	assert_int_equal(json_i64(j, "n", 0), 3);
	assert_int_equal(json_i64(j, "a", -1), -1);
	assert_true(json_bool(j, "b", false));
	cJSON_Delete(j);
	assert_null(json_parse("{\"a\":", 5, err));
	assert_non_null(strstr(err, "offset"));
	struct buf b = BUF_INIT;
	json_append_str(&b, "a\"\n\x01", 4);
	assert_string_equal(b.data, "\"a\\\"\\n\\u0001\"");
	buf_release(&b);
}

static void test_aligned_arrays(void **state)
{
	static const size_t counts[] = {0, 1, 3, 512}, sizes[] = {1, 17, 22592};
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 3; j++) {
			uint8_t *p = try_aligned_array(counts[i], sizes[j], 64);
			assert_non_null(p);
			assert_int_equal((uintptr_t)p % 64, 0);
			memset(p, 0xA5, counts[i] * sizes[j]); /* all of it is usable */
			free(p);
		}
	assert_null(try_aligned_array(SIZE_MAX / 2, 3, 64));
	assert_null(try_aligned_array(1, SIZE_MAX - 10, 64)); /* rounding up overflows */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append_and_printf),
		cmocka_unit_test(test_base_numbers_strict),
		cmocka_unit_test(test_timeutil_durations),
		cmocka_unit_test(test_file_atomic_write_and_read),
		cmocka_unit_test(test_sha256_known_vectors),
		cmocka_unit_test(test_flags_forms),
		cmocka_unit_test(test_json_getters_distrust_types),
		cmocka_unit_test(test_aligned_arrays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

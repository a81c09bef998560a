/* logs_test.c — instance log files: stamping and splitting lines (partial
 * writes, CR, long lines, NUL), the merged tail across instances by time
 * with --limit, big files read from the end, the --follow cursor, and an
 * instance's output files tailed across a daemon restart. */
#include "support/support.h"

#include "base/file.h"
#include "platform/logs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S  1000000000LL
#define T0 1800000000LL * S

static char *dir_of(const char *name)
{
	return file_path_join(test_tmp_dir(), name);
}

static void test_logs_writer_lines(void **state)
{
	char *dir = dir_of("w"), *path = file_path_join(dir, "inst-1.log");
	struct logs_writer w;
	char err[ERR_MSG_LEN];
	assert_int_equal(logs_writer_open(&w, path, err), 0);
	logs_writer_feed(&w, LOGS_STDOUT, "hel", 3, T0);
	logs_writer_feed(&w, LOGS_STDERR, "oops\r\n", 6, T0 + 1);
	logs_writer_feed(&w, LOGS_STDOUT, "lo\nwor", 6, T0 + 2);
	logs_writer_feed(&w, LOGS_STDOUT, "ld\n\nnul\0byte\n", 13, T0 + 3);
	logs_writer_note(&w, T0 + 4, "exited with status %d", 0);
	char big[LOGS_LINE_MAX + 10];
	memset(big, 'x', sizeof big);
	logs_writer_feed(&w, LOGS_STDOUT, big, sizeof big, T0 + 5);
	logs_writer_feed(&w, LOGS_STDOUT, "tail", 4, T0 + 6);
	logs_writer_close(&w, T0 + 7);
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(path, &b, 0), 0);
	assert_non_null(strstr(b.data, "Z stderr oops\n"));
	assert_non_null(strstr(b.data, "Z stdout hello\n"));
	assert_non_null(strstr(b.data, "Z stdout world\n"));
	assert_non_null(strstr(b.data, "Z stdout \n")); /* the empty line is kept */
	assert_non_null(strstr(b.data, "Z stdout nul byte\n"));
	assert_non_null(strstr(b.data, "Z system exited with status 0\n"));
	assert_non_null(strstr(b.data, "Z stdout xxxxxxxxxxtail\n")); /* 10 x after the split */
	buf_release(&b);
	struct logs_line *l;
	int64_t n;
	assert_int_equal(logs_read(dir, 0, &l, &n), 0);
	assert_int_equal(n, 8);
	assert_string_equal(l[0].text, "oops"); /* by time: stderr's line ended first */
	assert_int_equal(l[0].ts_ns, T0 + 1);
	assert_string_equal(l[0].instance, "inst-1");
	assert_string_equal(l[0].stream, "stderr");
	assert_string_equal(l[1].text, "hello");
	assert_int_equal(strlen(l[6].text), LOGS_LINE_MAX);
	struct buf f = BUF_INIT;
	logs_line_format(&l[1], &f);
	assert_non_null(strstr(f.data, "Z inst-1 stdout hello\n"));
	buf_release(&f);
	logs_lines_free(l, n);
	free(path);
	free(dir);
}

static void write_lines(const char *dir, const char *inst, int64_t first, int count, int step_s)
{
	char *path = file_path_join(dir, inst);
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s.log", path);
	struct logs_writer w;
	char err[ERR_MSG_LEN];
	assert_int_equal(logs_writer_open(&w, p.data, err), 0);
	for (int i = 0; i < count; i++) {
		char line[64];
		int k = snprintf(line, sizeof line, "%s line %d\n", inst, i);
		logs_writer_feed(&w, LOGS_STDOUT, line, (size_t)k, first + (int64_t)i * step_s * S);
	}
	logs_writer_close(&w, 0);
	buf_release(&p);
	free(path);
}

/* An instance's output files: what it appends becomes stamped lines; a
 * second reader (a restarted daemon) carries on from the first one's last
 * complete line — a line split across the restart is neither lost nor
 * doubled — and drain turns a gone instance's leftovers into lines and
 * removes the files. */
static void put(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* A reader that dies (SIGKILL): no flushing of unterminated lines. */
static void crash(struct logs_writer *w)
{
	close(w->fd);
	buf_release(&w->partial[0]);
	buf_release(&w->partial[1]);
}

static void test_logs_output_files_across_restart(void **state)
{
	char *dir = dir_of("tail"), *path = file_path_join(dir, "inst-2.log");
	char *raw = file_path_join(dir, "inst-2.stdout");
	char err[ERR_MSG_LEN];
	struct logs_writer w;
	assert_int_equal(logs_writer_open(&w, path, err), 0);
	struct logs_tail *t;
	int fds[2];
	assert_int_equal(logs_tail_create(NULL, path, &w, fds, &t, err), 0);
	put(fds[0], "one\ntw");
	put(fds[1], "warn\n");
	logs_tail_poll(t, T0);
	/* the first daemon dies here: "tw" was read but is no line yet */
	logs_tail_close(t, false);
	crash(&w);
	put(fds[0], "o\nthree\n");
	assert_int_equal(logs_writer_open(&w, path, err), 0);
	assert_int_equal(logs_tail_open(NULL, path, &w, &t, err), 0);
	logs_tail_poll(t, T0 + S);
	put(fds[0], "four");
	logs_tail_poll(t, T0 + 2 * S);
	logs_tail_close(t, false);
	crash(&w);
	assert_int_equal(logs_tail_drain(path, T0 + 3 * S, err), 0);
	assert_int_equal(access(raw, F_OK), -1);                     /* the files are gone */
	assert_int_equal(logs_tail_drain(path, T0 + 4 * S, err), 0); /* nothing left: ok */
	close(fds[0]);
	close(fds[1]);
	struct logs_line *l;
	int64_t n;
	assert_int_equal(logs_read(dir, 0, &l, &n), 0);
	const char *want[] = {"one", "warn", "two", "three", "four"};
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(l[i].text, want[i]);
	assert_string_equal(l[1].stream, "stderr");
	assert_int_equal(l[2].ts_ns, T0 + S);     /* stamped when the new reader read it */
	assert_int_equal(l[4].ts_ns, T0 + 3 * S); /* "four" never ended: written at the drain */
	logs_lines_free(l, n);
	free(raw);
	free(path);
	free(dir);
}

static void test_logs_tail_merges_by_time(void **state)
{
	char *dir = dir_of("svc");
	write_lines(dir, "a", T0, 20000, 2);     /* even seconds, a large file */
	write_lines(dir, "b", T0 + S, 20000, 2); /* odd seconds */
	struct logs_line *l;
	int64_t n;
	assert_int_equal(logs_read(dir, 5, &l, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(l[4].text, "b line 19999");
	assert_string_equal(l[3].text, "a line 19999");
	assert_string_equal(l[2].text, "b line 19998");
	for (int i = 1; i < 5; i++)
		assert_true(l[i].ts_ns >= l[i - 1].ts_ns);
	logs_lines_free(l, n);
	assert_int_equal(logs_read(dir, 0, &l, &n), 0);
	assert_int_equal(n, 40000);
	logs_lines_free(l, n);
	char *none = dir_of("no-such-service");
	assert_int_equal(logs_read(none, 10, &l, &n), 0);
	assert_int_equal(n, 0);
	logs_lines_free(l, n);
	free(none);
	free(dir);
}

static void test_logs_follow_cursor(void **state)
{
	char *dir = dir_of("follow");
	write_lines(dir, "a", T0, 3, 1);
	struct logs_cursor c;
	assert_int_equal(logs_cursor_init(&c, dir), 0);
	struct logs_line *l;
	int64_t n;
	assert_int_equal(logs_cursor_poll(&c, &l, &n), 0);
	assert_int_equal(n, 0); /* starts at the end */
	logs_lines_free(l, n);
	char *pa = file_path_join(dir, "a.log");
	struct logs_writer w;
	char err[ERR_MSG_LEN];
	assert_int_equal(logs_writer_open(&w, pa, err), 0);
	logs_writer_feed(&w, LOGS_STDOUT, "new one\npart", 12, T0 + 10 * S);
	write_lines(dir, "b", T0 + 5 * S, 2, 1); /* a new instance's file is read whole */
	assert_int_equal(logs_cursor_poll(&c, &l, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(l[0].text, "b line 0");
	assert_string_equal(l[2].text, "new one");
	logs_lines_free(l, n);
	logs_writer_feed(&w, LOGS_STDOUT, "ial\n", 4, T0 + 11 * S);
	assert_int_equal(logs_cursor_poll(&c, &l, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].text, "partial");
	logs_lines_free(l, n);
	logs_writer_close(&w, 0);
	logs_cursor_release(&c);
	free(pa);
	free(dir);
	file_remove_tree(test_tmp_dir());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_logs_writer_lines),
	    cmocka_unit_test(test_logs_tail_merges_by_time),
	    cmocka_unit_test(test_logs_follow_cursor),
	    cmocka_unit_test(test_logs_output_files_across_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

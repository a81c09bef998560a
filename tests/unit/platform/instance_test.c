/* instance_test.c — real process instances on a libuv loop. The workload is
 * this test binary itself, re-executed with GPURUN_TEST_LISTENER set: it
 * prints its environment, listens on $PORT and answers HTTP (see listener()).
 * Covered: env and log capture, TCP and HTTP readiness, a probe that never
 * passes, SIGTERM handled, SIGKILL after the grace, a crash, spawn errors,
 * built-in images, cgroup limits (where the machine allows), orphans. */
#include "support/support.h"

#include "base/file.h"
#include "base/timeutil.h"
#include "platform/instance_internal.h"
#include "platform/logs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the workload ---- */

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	got_term = 1;
}

static int listener(void)
{
	const char *mode = getenv("GPURUN_TEST_LISTENER");
	static const char *show[] = {"PORT",
	                             "K_SERVICE",
	                             "K_REVISION",
	                             "K_CONFIGURATION",
	                             "GPURUN_INSTANCE_ID",
	                             "CUDA_VISIBLE_DEVICES",
	                             "FOO"};
	for (size_t i = 0; i < sizeof show / sizeof show[0]; i++)
		printf("%s=%s\n", show[i], getenv(show[i]) ? getenv(show[i]) : "(unset)");
	fflush(stdout);
	fprintf(stderr, "a line on stderr\n");
	if (getenv("GPURUN_TEST_IGNORE_TERM"))
		signal(SIGTERM, SIG_IGN);
	else
		signal(SIGTERM, on_term);
	int delay = getenv("GPURUN_TEST_DELAY_MS") ? atoi(getenv("GPURUN_TEST_DELAY_MS")) : 0;
	if (delay > 0)
		usleep((useconds_t)delay * 1000);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(getenv("PORT")))};
	if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16))
		return 2;
	const char *status = getenv("GPURUN_TEST_STATUS") ? getenv("GPURUN_TEST_STATUS") : "200";
	int64_t crash_at = !strcmp(mode, "crash") ? time_mono_ns() + 100000000LL : 0;
	while (!got_term) {
		if (crash_at && time_mono_ns() > crash_at) {
			printf("crashing now");
			fflush(stdout);
			_exit(3);
		}
		struct timeval tv = {0, 20000};
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(fd, &rd);
		if (select(fd + 1, &rd, NULL, NULL, &tv) <= 0)
			continue;
		int c = accept(fd, NULL, NULL);
		char req[1024];
		if (c < 0)
			continue;
		if (read(c, req, sizeof req) > 0) {
			char resp[128];
			int n = snprintf(resp, sizeof resp,
			                 "HTTP/1.1 %s X\r\nContent-Length: 2\r\n\r\nok", status);
			if (write(c, resp, (size_t)n) < 0)
				break;
		}
		close(c);
	}
	printf("got SIGTERM, bye");
	return 0;
}

/* ---- driving the loop ---- */

struct seen {
	int ready, failed, exited;
	struct instance *in;
};

static void on_event(struct instance *in, enum instance_event ev, void *arg)
{
	struct seen *s = arg;
	s->in = in;
	if (ev == INSTANCE_EV_READY)
		s->ready++;
	else if (ev == INSTANCE_EV_START_FAILED)
		s->failed++;
	else
		s->exited++;
}

static void guard_fired(uv_timer_t *t)
{
	*(int *)t->data = 1;
	uv_stop(t->loop);
}

/* Runs the loop until *flag is set; fails after timeout_ms. */
static void run_until(uv_loop_t *loop, int *flag, int64_t timeout_ms)
{
	int timed_out = 0;
	uv_timer_t guard;
	uv_timer_init(loop, &guard);
	guard.data = &timed_out;
	uv_timer_start(&guard, guard_fired, (uint64_t)timeout_ms, 0);
	while (!*flag && !timed_out)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	if (!*flag)
		fail_msg("timed out after %lld ms", (long long)timeout_ms);
}

static char self_exe[4096];
static uv_loop_t loop;

static struct instance_runtime *runtime(int64_t grace_ms, const char *cgroup_root)
{
	char err[ERR_MSG_LEN];
	struct instance_runtime_config c = {.home = test_tmp_dir(),
	                                    .self_exe = self_exe,
	                                    .stop_grace_ms = grace_ms,
	                                    .cgroup_root = cgroup_root};
	char name[64];
	snprintf(name, sizeof name, "gpurun-test-%d", (int)getpid());
	c.cgroup_name = name;
	struct instance_runtime *rt;
	assert_int_equal(instance_runtime_new(&loop, &c, &rt, err), 0);
	return rt;
}

static void listener_spec(struct spec *s, const char *mode)
{
	spec_init(s);
	spec_strv_push(&s->command, self_exe);
	spec_kvs_set(&s->env, "GPURUN_TEST_LISTENER", mode);
}

static struct instance *start(struct instance_runtime *rt, const struct spec *s, struct seen *seen,
                              const char *gpus)
{
	char err[ERR_MSG_LEN];
	struct instance_start_req q = {
	    .service = "svc", .revision = "svc-00001-abc", .spec = s, .gpus = gpus};
	struct instance *in;
	memset(seen, 0, sizeof *seen);
	int rc = instance_start(rt, &q, on_event, seen, &in, err);
	if (rc)
		fail_msg("instance_start: %s", err);
	return in;
}

static void finish(struct instance_runtime *rt, struct instance *in)
{
	instance_free(in);
	uv_run(&loop, UV_RUN_DEFAULT);
	instance_runtime_free(rt);
}

static bool port_accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

static char *read_log(struct instance *in)
{
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(instance_log_path(in), &b, 0), 0);
	return buf_steal(&b);
}

/* ---- tests ---- */

static void test_instance_ready_env_and_logs(void **state)
{
	struct instance_runtime *rt = runtime(5000, NULL);
	struct spec s;
	struct seen seen;
	listener_spec(&s, "listen");
	spec_kvs_set(&s.env, "FOO", "bar baz");
	struct instance *in = start(rt, &s, &seen, "GPU-x");
	assert_int_equal(instance_phase(in), INSTANCE_STARTING);
	run_until(&loop, &seen.ready, 10000);
	assert_int_equal(instance_phase(in), INSTANCE_READY);
	assert_true(port_accepts(instance_port(in)));
	assert_true(instance_start_latency_ns(in) > 0);
	assert_true(instance_ready_wall_ns(in) >= instance_start_wall_ns(in));
	instance_stop(in);
	instance_stop(in); /* idempotent */
	run_until(&loop, &seen.exited, 10000);
	const struct instance_exit *x = instance_exit_info(in);
	assert_true(x->stop_requested);
	assert_false(x->killed);
	assert_int_equal(x->term_signal, 0);
	assert_int_equal(x->exit_status, 0);
	uv_run(&loop, UV_RUN_NOWAIT); /* drain the pipes */
	char *log = read_log(in), want[128];
	snprintf(want, sizeof want, " stdout PORT=%d\n", instance_port(in));
	assert_non_null(strstr(log, want));
	assert_non_null(strstr(log, " stdout K_SERVICE=svc\n"));
	assert_non_null(strstr(log, " stdout K_REVISION=svc-00001-abc\n"));
	assert_non_null(strstr(log, " stdout K_CONFIGURATION=svc\n"));
	assert_non_null(strstr(log, " stdout CUDA_VISIBLE_DEVICES=GPU-x\n"));
	assert_non_null(strstr(log, " stdout FOO=bar baz\n"));
	assert_non_null(strstr(log, " stderr a line on stderr\n"));
	assert_non_null(strstr(log, " system ready on port"));
	assert_non_null(strstr(log, " system stopping: SIGTERM"));
	snprintf(want, sizeof want, " stdout GPURUN_INSTANCE_ID=%s\n", instance_id(in));
	assert_non_null(strstr(log, want));
	free(log);
	struct logs_line *lines;
	int64_t n;
	finish(rt, in); /* the writer flushes the unterminated last line on close */
	char *dir = file_path_join(test_tmp_dir(), "logs/svc");
	assert_int_equal(logs_read(dir, 3, &lines, &n), 0);
	assert_int_equal(n, 3);
	bool bye = false;
	for (int64_t i = 0; i < n; i++)
		bye = bye || strstr(lines[i].text, "got SIGTERM, bye");
	assert_true(bye);
	logs_lines_free(lines, n);
	free(dir);
	spec_release(&s);
}

static void test_instance_sigkill_after_grace(void **state)
{
	struct instance_runtime *rt = runtime(300, NULL);
	struct spec s;
	struct seen seen;
	listener_spec(&s, "listen");
	spec_kvs_set(&s.env, "GPURUN_TEST_IGNORE_TERM", "1");
	struct instance *in = start(rt, &s, &seen, NULL);
	run_until(&loop, &seen.ready, 10000);
	int64_t t0 = time_mono_ns();
	instance_stop(in);
	assert_int_equal(instance_phase(in), INSTANCE_STOPPING);
	run_until(&loop, &seen.exited, 10000);
	int64_t took = (time_mono_ns() - t0) / 1000000;
	const struct instance_exit *x = instance_exit_info(in);
	assert_true(x->killed);
	assert_int_equal(x->term_signal, SIGKILL);
	assert_true(took >= 290 && took < 5000);
	char *log = read_log(in);
	assert_non_null(strstr(log, "sending SIGKILL"));
	free(log);
	finish(rt, in);
	spec_release(&s);
}

static void test_instance_crash_calls_back(void **state)
{
	struct instance_runtime *rt = runtime(1000, NULL);
	struct spec s;
	struct seen seen;
	listener_spec(&s, "crash");
	struct instance *in = start(rt, &s, &seen, NULL);
	run_until(&loop, &seen.ready, 10000);
	run_until(&loop, &seen.exited, 10000);
	const struct instance_exit *x = instance_exit_info(in);
	assert_false(x->stop_requested);
	assert_int_equal(x->exit_status, 3);
	assert_int_equal(seen.exited, 1);
	assert_int_equal(seen.failed, 0);
	finish(rt, in);
	spec_release(&s);
}

static void test_instance_http_probe(void **state)
{
	struct instance_runtime *rt = runtime(1000, NULL);
	struct spec s;
	struct seen seen;
	listener_spec(&s, "listen");
	s.probe.kind = SPEC_PROBE_HTTP;
	s.probe.path = strdup("/healthz");
	s.probe.period_s = 1;
	s.probe.timeout_s = 1;
	s.probe.failure_threshold = 1;
	struct instance *in = start(rt, &s, &seen, NULL);
	run_until(&loop, &seen.ready, 10000);
	instance_stop(in);
	run_until(&loop, &seen.exited, 10000);
	finish(rt, in);
	/* a 503 never passes: the start fails after the 1 s budget, then it stops */
	spec_kvs_set(&s.env, "GPURUN_TEST_STATUS", "503");
	rt = runtime(1000, NULL);
	in = start(rt, &s, &seen, NULL);
	int64_t t0 = time_mono_ns();
	run_until(&loop, &seen.failed, 10000);
	assert_true(time_mono_ns() - t0 >= 900000000LL);
	assert_int_equal(seen.ready, 0);
	assert_non_null(strstr(instance_note(in), "startup probe"));
	run_until(&loop, &seen.exited, 10000);
	assert_true(instance_exit_info(in)->stop_requested);
	finish(rt, in);
	spec_release(&s);
}

static void test_instance_slow_start(void **state)
{
	struct instance_runtime *rt = runtime(1000, NULL);
	struct spec s;
	struct seen seen;
	listener_spec(&s, "listen");
	spec_kvs_set(&s.env, "GPURUN_TEST_DELAY_MS", "150");
	struct instance *in = start(rt, &s, &seen, NULL);
	run_until(&loop, &seen.ready, 10000);
	assert_true(instance_start_latency_ns(in) >= 150000000LL);
	assert_true(instance_start_latency_ns(in) < 2000000000LL);
	instance_stop(in);
	run_until(&loop, &seen.exited, 10000);
	finish(rt, in);
	spec_release(&s);
}

static void test_instance_spawn_errors(void **state)
{
	struct instance_runtime *rt = runtime(1000, NULL);
	struct spec s;
	struct seen seen;
	char err[ERR_MSG_LEN];
	struct instance *in = NULL;
	spec_init(&s);
	spec_strv_push(&s.command, "/nonexistent/gpurun-test-binary");
	struct instance_start_req q = {.service = "svc", .revision = "svc-1", .spec = &s};
	assert_int_equal(instance_start(rt, &q, on_event, &seen, &in, err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/gpurun-test-binary"));
	assert_null(in);
	spec_release(&s);
	spec_init(&s);
	s.image = strdup("example/app:1");
	assert_int_equal(instance_start(rt, &q, on_event, &seen, &in, err), ERR_UNSUPPORTED);
	assert_non_null(strstr(err, "OCI runtime"));
	q.service = "Bad Name";
	assert_int_equal(instance_start(rt, &q, on_event, &seen, &in, err), ERR_INVALID);
	uv_run(&loop, UV_RUN_DEFAULT); /* the failed spawn's handles close */
	instance_runtime_free(rt);
	spec_release(&s);
}

static void test_instance_builtin_images(void **state)
{
	struct instance_runtime *rt = runtime(1000, NULL);
	struct spec s;
	char err[ERR_MSG_LEN];
	spec_init(&s);
	s.image = strdup(SPEC_IMAGE_OLLAMA);
	spec_strv_push(&s.args, "--verbose");
	spec_kvs_set(&s.env, "OLLAMA_NUM_PARALLEL", "4");
	struct instance_start_req q = {
	    .service = "ollama", .revision = "ollama-1", .spec = &s, .gpus = "0"};
	struct spec_strv argv = {0}, env = {0};
	assert_int_equal(instance__build(rt, &q, "ollama-1-abcd", 4321, &argv, &env, err), 0);
	assert_int_equal(argv.n, 3);
	assert_string_equal(argv.v[0], self_exe);
	assert_string_equal(argv.v[1], "serve");
	assert_string_equal(argv.v[2], "--verbose");
	struct buf all = BUF_INIT;
	for (int64_t i = 0; i < env.n; i++)
		buf_printf(&all, "%s\n", env.v[i]);
	char want[4200];
	snprintf(want, sizeof want, "GPURUN_MODELS=%s/models\n", test_tmp_dir());
	assert_non_null(strstr(all.data, want));
	assert_non_null(strstr(all.data, "GPURUN_HOST=127.0.0.1:4321\n"));
	assert_non_null(strstr(all.data, "\nPORT=4321\n"));
	assert_non_null(strstr(all.data, "CUDA_VISIBLE_DEVICES=0\n"));
	assert_non_null(strstr(all.data, "OLLAMA_NUM_PARALLEL=4\n"));
	buf_release(&all);
	spec_strv_release(&argv);
	spec_strv_release(&env);
	free(s.image);
	s.image = strdup(SPEC_IMAGE_HELLO);
	assert_int_equal(instance__build(rt, &q, "x", 1, &argv, &env, err), 0);
	assert_string_equal(argv.v[1], "hello");
	spec_strv_release(&argv);
	spec_strv_release(&env);
	instance_runtime_free(rt);
	spec_release(&s);
}

static void test_instance_cgroup_limits(void **state)
{
	struct instance_runtime *rt = runtime(1000, "/sys/fs/cgroup");
	const struct cgroup_ctl *cg = instance_runtime_cgroups(rt);
	if (cg->version == 0) {
		instance_runtime_free(rt);
		test_skip("cgroups not usable here: %s", cg->reason);
	}
	struct spec s;
	struct seen seen;
	listener_spec(&s, "listen");
	s.cpu_milli = 500;
	s.memory_bytes = 256LL << 20;
	struct instance *in = start(rt, &s, &seen, NULL);
	assert_string_equal(instance_note(in), "");
	char dir[2048], path[2200];
	struct buf b = BUF_INIT;
	cgroup_instance_dir(cg, instance_id(in), true, dir, sizeof dir);
	snprintf(path, sizeof path, "%s/%s", dir,
	         cg->version == 2 ? "memory.max" : "memory.limit_in_bytes");
	assert_int_equal(file_read_all(path, &b, 0), 0);
	assert_int_equal(atoll(b.data), 256LL << 20);
	buf_reset(&b);
	cgroup_instance_dir(cg, instance_id(in), false, dir, sizeof dir);
	snprintf(path, sizeof path, "%s/%s", dir,
	         cg->version == 2 ? "cpu.max" : "cpu.cfs_quota_us");
	assert_int_equal(file_read_all(path, &b, 0), 0);
	assert_int_equal(atoll(b.data), 50000);
	buf_reset(&b);
	snprintf(path, sizeof path, "/proc/%d/cgroup", instance_pid(in));
	assert_int_equal(file_read_all(path, &b, 0), 0);
	assert_non_null(strstr(b.data, instance_id(in)));
	buf_release(&b);
	run_until(&loop, &seen.ready, 10000);
	instance_stop(in);
	run_until(&loop, &seen.exited, 10000);
	assert_false(file_exists(dir)); /* removed with the instance */
	finish(rt, in);
	spec_release(&s);
}

static void test_instance_orphan_terminate(void **state)
{
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		char *env[] = {"GPURUN_INSTANCE_ID=orphan-1", "PATH=/usr/bin:/bin", NULL};
		char *argv[] = {"sleep", "30", NULL};
		execve("/bin/sleep", argv, env);
		_exit(127);
	}
	time_sleep_ms(100); /* let it exec */
	assert_int_equal(instance_orphan_terminate(pid, "someone-else", 100), 0);
	assert_int_equal(kill(pid, 0), 0); /* not ours: untouched */
	assert_int_equal(instance_orphan_terminate(pid, "orphan-1", 2000), 0);
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM);
	assert_int_equal(instance_orphan_terminate(pid, "orphan-1", 100), 0); /* gone */
}

int main(int argc, char **argv)
{
	if (getenv("GPURUN_TEST_LISTENER"))
		return listener();
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = 0;
	uv_loop_init(&loop);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_instance_ready_env_and_logs),
	    cmocka_unit_test(test_instance_sigkill_after_grace),
	    cmocka_unit_test(test_instance_crash_calls_back),
	    cmocka_unit_test(test_instance_http_probe),
	    cmocka_unit_test(test_instance_slow_start),
	    cmocka_unit_test(test_instance_spawn_errors),
	    cmocka_unit_test(test_instance_builtin_images),
	    cmocka_unit_test(test_instance_cgroup_limits),
	    cmocka_unit_test(test_instance_orphan_terminate),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	uv_loop_close(&loop);
	file_remove_tree(test_tmp_dir());
	return rc;
}

/* daemon_test.c — the daemon in-process on a libuv loop with real instances
 * (this test binary re-run as `hello`, Cloud Run's sample service) on
 * loopback: scale from zero and back to zero, Host routing and 404, the
 * private-service tokens (401, 403, 200), the concurrency limit with
 * holding, 429 after the hold window, 504 after the request timeout, 502
 * and a replacement when an instance dies, streams arriving piece by piece,
 * the ledger's instance and request rows, metrics, restart adoption. */
#include "support/support.h"

#include "base/file.h"
#include "base/mem.h"
#include "base/timeutil.h"
#include "cli/cli.h"
#include "http/http.h"
#include "platform/auth.h"
#include "platform/daemon.h"
#include "platform/state.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char self_exe[4096];
static uv_loop_t loop;

/* ---- loop helpers ---- */

static void guard_fired(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

/* Runs the loop until *flag >= want; fails after timeout_ms. */
static void run_until(int *flag, int want, int64_t timeout_ms)
{
	int timed_out = 0;
	uv_timer_t guard;
	uv_timer_init(&loop, &guard);
	guard.data = &timed_out;
	uv_timer_start(&guard, guard_fired, (uint64_t)timeout_ms, 0);
	while (*flag < want && !timed_out)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	if (*flag < want)
		fail_msg("timed out after %lld ms", (long long)timeout_ms);
}

static void run_for(int64_t ms)
{
	int never = 0, timed_out = 0;
	uv_timer_t guard;
	uv_timer_init(&loop, &guard);
	guard.data = &timed_out;
	uv_timer_start(&guard, guard_fired, (uint64_t)ms, 0);
	while (!never && !timed_out)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
}

/* ---- the daemon ---- */

struct fixture {
	struct daemon *d;
	struct http_client *c;
	char home[512];
	int stopped;
};

static void start_daemon(struct fixture *f, int64_t hold_min_ms)
{
	static int n;
	snprintf(f->home, sizeof f->home, "%s/d%d", test_tmp_dir(), ++n);
	char err[ERR_MSG_LEN];
	struct daemon_config c = {.home = f->home,
	                          .gateway = "127.0.0.1:0",
	                          .self_exe = self_exe,
	                          .tick_ms = 200,
	                          .hold_min_ms = hold_min_ms,
	                          .stop_grace_ms = 2000,
	                          .no_admin = true,
	                          .no_cgroups = true};
	int rc = daemon_new(&loop, &c, &f->d, err);
	if (rc)
		fail_msg("daemon_new: %s", err);
	struct http_client_config cc;
	http_client_config_init(&cc);
	f->c = http_client_new(&loop, &cc);
}

static void daemon_done(struct daemon *d, void *data)
{
	*(int *)data = 1;
}

static void stop_daemon(struct fixture *f)
{
	http_client_free(f->c);
	daemon_shutdown(f->d, 1000, daemon_done, &f->stopped);
	run_until(&f->stopped, 1, 15000);
}

static void free_daemon(struct fixture *f)
{
	uv_run(&loop, UV_RUN_NOWAIT);
	daemon_free(f->d);
	f->d = NULL;
}

struct svc_opts {
	int concurrency, max_instances, min_instances, timeout_s, idle_s, gpu;
	bool private_svc;
	const char *domains; /* the gpurun.dev/domains annotation */
};

static void deploy(struct fixture *f, const char *name, const struct svc_opts *o)
{
	struct spec s;
	spec_init(&s);
	s.image = xstrdup(SPEC_IMAGE_HELLO);
	s.concurrency = o->concurrency ? o->concurrency : 80;
	s.max_instances = o->max_instances ? o->max_instances : 10;
	s.min_instances = o->min_instances;
	s.timeout_s = o->timeout_s ? o->timeout_s : 30;
	s.idle_timeout_s = o->idle_s ? o->idle_s : 1;
	s.allow_unauthenticated = !o->private_svc;
	s.gpu = o->gpu;
	if (o->domains)
		spec_kvs_set(&s.service_annotations, "gpurun.dev/domains", o->domains);
	char err[ERR_MSG_LEN], rev[SPEC_REVISION_NAME_MAX + 1];
	struct state_deploy_req q = {.service = name, .spec = &s, .now_ns = time_wall_ns()};
	int rc = state_deploy(daemon_state(f->d), &q, rev, err);
	spec_release(&s);
	if (rc)
		fail_msg("deploy: %s", err);
	daemon_service_changed(f->d, name);
}

static int64_t instances(struct fixture *f, const char *name)
{
	struct daemon_instance_info *in;
	int64_t n;
	assert_int_equal(daemon_service_instances(f->d, name, &in, &n), 0);
	free(in);
	return n;
}

/* ---- a client request ---- */

struct resp {
	int status, rc, done;
	struct buf body;
	int64_t t0, first_ns, last_ns;
	int pieces;
	char rid[64];
	struct http_creq *q;
};

static bool on_resp(struct http_creq *q, const struct http_cresp *h, void *data)
{
	struct resp *r = data;
	r->status = http_cresp_status(h);
	struct slice rid = http_cresp_header(h, "X-Request-Id");
	if (rid.p)
		snprintf(r->rid, sizeof r->rid, "%.*s", (int)rid.n, rid.p);
	return true;
}

static void on_body(struct http_creq *q, const char *p, size_t n, void *data)
{
	struct resp *r = data;
	int64_t now = time_mono_ns();
	if (!r->pieces++)
		r->first_ns = now - r->t0;
	r->last_ns = now - r->t0;
	buf_append(&r->body, p, n);
}

static void on_done(struct http_creq *q, int status, void *data)
{
	struct resp *r = data;
	r->rc = status;
	r->done++;
}

static void request(struct fixture *f, const char *host, const char *target, const char *auth,
                    struct resp *r)
{
	memset(r, 0, sizeof *r);
	char hostport[300], bearer[8300];
	snprintf(hostport, sizeof hostport, "%s:%d", host, daemon_gateway_port(f->d));
	struct http_header hs[2] = {{SLICE_LIT("Host"), slice_from(hostport)}};
	int nh = 1;
	if (auth) {
		snprintf(bearer, sizeof bearer, "Bearer %s", auth);
		hs[nh++] = (struct http_header){SLICE_LIT("Authorization"), slice_from(bearer)};
	}
	struct http_creq_opts o = {.host = "127.0.0.1",
	                           .port = daemon_gateway_port(f->d),
	                           .target = target,
	                           .headers = hs,
	                           .nheaders = nh,
	                           .on_response = on_resp,
	                           .on_data = on_body,
	                           .on_done = on_done,
	                           .data = r};
	char err[ERR_MSG_LEN];
	r->t0 = time_mono_ns();
	r->q = http_client_request(f->c, &o, err);
	if (!r->q)
		fail_msg("request: %s", err);
}

static void get(struct fixture *f, const char *host, const char *target, const char *auth,
                struct resp *r)
{
	request(f, host, target, auth, r);
	run_until(&r->done, 1, 20000);
}

/* ---- tests ---- */

static void test_daemon_scale_from_zero_and_back(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 0);
	struct svc_opts o = {.idle_s = 1};
	deploy(&f, "hello", &o);
	assert_int_equal(instances(&f, "hello"), 0);
	struct resp r;
	get(&f, "hello.localhost", "/", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "Hello World!\n");
	assert_true(strlen(r.rid) >= 16);
	print_message("cold request: first byte after %.1f ms\n", r.first_ns / 1e6);
	assert_int_equal(instances(&f, "hello"), 1);
	buf_release(&r.body);
	get(&f, "hello.localhost", "/", NULL, &r); /* warm */
	assert_int_equal(r.status, 200);
	buf_release(&r.body);
	for (int i = 0; i < 60 && instances(&f, "hello") > 0; i++)
		run_for(100);
	assert_int_equal(instances(&f, "hello"), 0);
	stop_daemon(&f);
	struct ledger_rows rows;
	assert_int_equal(state_ledger_read(daemon_state(f.d), NULL, 0, &rows), 0);
	int kinds[5] = {0};
	for (int64_t i = 0; i < rows.n; i++)
		kinds[rows.rows[i].kind]++;
	assert_int_equal(kinds[LEDGER_INSTANCE_START], 1);
	assert_int_equal(kinds[LEDGER_INSTANCE_READY], 1);
	assert_int_equal(kinds[LEDGER_INSTANCE_STOP], 1);
	assert_int_equal(kinds[LEDGER_INSTANCE_EXIT], 1);
	assert_int_equal(kinds[LEDGER_REQUEST], 2);
	ledger_rows_release(&rows);
	free_daemon(&f);
}

static void test_daemon_unknown_host_and_metrics(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 0);
	struct resp r;
	get(&f, "nope.localhost", "/", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body.data, "\"error\""));
	buf_release(&r.body);
	struct svc_opts o = {0};
	deploy(&f, "hello", &o);
	get(&f, "hello.localhost", "/status/418", NULL, &r);
	assert_int_equal(r.status, 418);
	buf_release(&r.body);
	get(&f, "127.0.0.1", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(
	    strstr(r.body.data, "gpurun_requests_total{service=\"hello\",code=\"418\"} 1"));
	assert_non_null(strstr(r.body.data, "gpurun_cold_starts_total{service=\"hello\"} 1"));
	assert_non_null(
	    strstr(r.body.data, "gpurun_instances{service=\"hello\",state=\"ready\"} 1"));
	buf_release(&r.body);
	stop_daemon(&f);
	free_daemon(&f);
}

static void test_daemon_custom_domains(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 0);
	struct svc_opts o = {.domains = "api.example.test, Other.Example.Test"};
	deploy(&f, "web", &o);
	struct resp r;
	get(&f, "api.example.test", "/", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "Hello World!\n");
	buf_release(&r.body);
	get(&f, "OTHER.example.test", "/", NULL, &r);
	assert_int_equal(r.status, 200);
	buf_release(&r.body);
	get(&f, "example.test", "/", NULL, &r);
	assert_int_equal(r.status, 404);
	buf_release(&r.body);
	stop_daemon(&f);
	free_daemon(&f);
}

static void test_daemon_private_service_tokens(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 0);
	struct svc_opts o = {.private_svc = true};
	deploy(&f, "secret", &o);
	struct resp r;
	get(&f, "secret.localhost", "/", NULL, &r);
	assert_int_equal(r.status, 401);
	buf_release(&r.body);
	get(&f, "secret.localhost", "/", "not.a.token", &r);
	assert_int_equal(r.status, 403);
	buf_release(&r.body);
	struct buf tok = BUF_INIT;
	assert_int_equal(daemon_identity_token(f.d, "http://other.localhost:1", 60, &tok), 0);
	get(&f, "secret.localhost", "/", tok.data, &r);
	assert_int_equal(r.status, 403); /* wrong audience */
	buf_release(&r.body);
	buf_reset(&tok);
	char *url = daemon_service_url(f.d, "secret");
	assert_int_equal(daemon_identity_token(f.d, url, 60, &tok), 0);
	free(url);
	get(&f, "secret.localhost", "/", tok.data, &r);
	assert_int_equal(r.status, 200);
	buf_release(&r.body);
	buf_release(&tok);
	stop_daemon(&f);
	free_daemon(&f);
}

/* `gpurun auth print-identity-token` without --audience (the user's own
 * token, audience AUTH_AUDIENCE_ANY) opens every private service, as the
 * 401 message says; an explicit wrong audience stays 403. */
static void test_daemon_private_service_any_audience(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 0);
	struct svc_opts o = {.private_svc = true};
	deploy(&f, "secret", &o);
	struct buf tok = BUF_INIT;
	assert_int_equal(daemon_identity_token(f.d, AUTH_AUDIENCE_ANY, 60, &tok), 0);
	struct resp r;
	get(&f, "secret.localhost", "/", tok.data, &r);
	assert_int_equal(r.status, 200);
	buf_release(&r.body);
	buf_reset(&tok);
	assert_int_equal(daemon_identity_token(f.d, "gpurun-other", 60, &tok), 0);
	get(&f, "secret.localhost", "/", tok.data, &r);
	assert_int_equal(r.status, 403);
	buf_release(&r.body);
	buf_release(&tok);
	stop_daemon(&f);
	free_daemon(&f);
}

/* A change notice for a service the state does not hold (a delete) frees
 * what state_service_get set up (LeakSanitizer saw one leak per delete):
 * the heap in use does not grow with the number of notices. */
static void test_daemon_deleted_service_notice_no_leak(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 0);
	for (int i = 0; i < 16; i++)
		daemon_service_changed(f.d, "gone");
	size_t before = mallinfo2().uordblks;
	for (int i = 0; i < 4000; i++)
		daemon_service_changed(f.d, "gone");
	size_t after = mallinfo2().uordblks;
	/* 4000 leaked spec strings would be >= 4000 * 16 bytes */
	if (after > before + 16384)
		fail_msg("heap grew by %zu bytes over 4000 notices", after - before);
	stop_daemon(&f);
	free_daemon(&f);
}

static void test_daemon_concurrency_limit_holds(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 0);
	struct svc_opts o = {.concurrency = 1, .max_instances = 1};
	deploy(&f, "one", &o);
	struct resp r[3];
	int64_t t0 = time_mono_ns();
	for (int i = 0; i < 3; i++)
		request(&f, "one.localhost", "/sleep?ms=300", NULL, &r[i]);
	int done = 0;
	while (done < 3) {
		run_until(&r[done].done, 1, 20000);
		done++;
	}
	double ms = (time_mono_ns() - t0) / 1e6;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].status, 200);
		buf_release(&r[i].body);
	}
	print_message("3 requests x 300 ms at concurrency 1: %.0f ms\n", ms);
	assert_true(ms >= 900);
	assert_int_equal(instances(&f, "one"), 1);
	stop_daemon(&f);
	free_daemon(&f);
}

static void test_daemon_hold_window_429(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 300);
	struct svc_opts o = {.concurrency = 1, .max_instances = 1};
	deploy(&f, "busy", &o);
	struct resp a, b;
	request(&f, "busy.localhost", "/sleep?ms=2000", NULL, &a);
	run_for(100);
	request(&f, "busy.localhost", "/", NULL, &b);
	run_until(&b.done, 1, 5000);
	assert_int_equal(b.status, 429);
	run_until(&a.done, 1, 5000);
	assert_int_equal(a.status, 200);
	buf_release(&a.body);
	buf_release(&b.body);
	stop_daemon(&f);
	free_daemon(&f);
}

static void test_daemon_request_timeout_504(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 0);
	struct svc_opts o = {.timeout_s = 1};
	deploy(&f, "slow", &o);
	struct resp r;
	get(&f, "slow.localhost", "/sleep?ms=3000", NULL, &r);
	assert_int_equal(r.status, 504);
	assert_true(r.last_ns < 2500000000LL);
	buf_release(&r.body);
	stop_daemon(&f);
	free_daemon(&f);
}

static void test_daemon_crash_502_and_replacement(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 0);
	struct svc_opts o = {0};
	deploy(&f, "crashy", &o);
	struct resp r;
	request(&f, "crashy.localhost", "/sleep?ms=5000", NULL, &r);
	struct daemon_instance_info *in = NULL;
	int64_t n = 0;
	for (int i = 0; i < 100; i++) {
		run_for(20);
		free(in);
		daemon_service_instances(f.d, "crashy", &in, &n);
		if (n == 1 && in[0].in_flight == 1)
			break;
	}
	assert_int_equal(n, 1);
	char first[96];
	snprintf(first, sizeof first, "%s", in[0].id);
	kill(in[0].pid, SIGKILL);
	free(in);
	run_until(&r.done, 1, 5000);
	assert_int_equal(r.status, 502);
	buf_release(&r.body);
	get(&f, "crashy.localhost", "/", NULL, &r);
	assert_int_equal(r.status, 200);
	buf_release(&r.body);
	daemon_service_instances(f.d, "crashy", &in, &n);
	assert_int_equal(n, 1);
	assert_string_not_equal(in[0].id, first);
	free(in);
	stop_daemon(&f);
	free_daemon(&f);
}

static void test_daemon_stream_piece_by_piece(void **state)
{
	struct fixture f = {0};
	start_daemon(&f, 0);
	struct svc_opts o = {0};
	deploy(&f, "stream", &o);
	struct resp r;
	get(&f, "stream.localhost", "/stream?n=5&ms=150", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "line 5"));
	print_message("stream: %d pieces, first at %.0f ms, last at %.0f ms\n", r.pieces,
	              r.first_ns / 1e6, r.last_ns / 1e6);
	assert_true(r.pieces >= 5);
	assert_true(r.last_ns - r.first_ns >= 500000000LL);
	buf_release(&r.body);
	stop_daemon(&f);
	free_daemon(&f);
}

/* The environment the daemon gave the instance's process. */
static bool proc_env_has(int pid, const char *kv)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/environ", pid);
	struct buf b = BUF_INIT;
	bool yes = false;
	if (file_read_all(path, &b, 1 << 20) == 0 && b.data)
		for (size_t i = 0; i < b.len && !yes; i += strlen(b.data + i) + 1)
			yes = !strcmp(b.data + i, kv);
	buf_release(&b);
	return yes;
}

static void test_daemon_gpus_exclusive(void **state)
{
	setenv("GPURUN_GPUS", "1", 1); /* a node with one GPU, "0" */
	struct fixture f = {0};
	start_daemon(&f, 0);
	unsetenv("GPURUN_GPUS");
	struct svc_opts o = {.gpu = 1, .idle_s = 1};
	deploy(&f, "gpu-a", &o);
	deploy(&f, "gpu-b", &o);
	struct resp r;
	get(&f, "gpu-a.localhost", "/", NULL, &r);
	assert_int_equal(r.status, 200);
	buf_release(&r.body);
	struct daemon_instance_info *in;
	int64_t n;
	daemon_service_instances(f.d, "gpu-a", &in, &n);
	assert_int_equal(n, 1);
	assert_true(proc_env_has(in[0].pid, "CUDA_VISIBLE_DEVICES=0"));
	free(in);
	/* the only GPU is taken: b cannot start an instance */
	get(&f, "gpu-b.localhost", "/", NULL, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body.data, "GPU"));
	buf_release(&r.body);
	/* a scales to zero, its GPU comes back, b starts (after its back-off) */
	for (int i = 0; i < 60 && instances(&f, "gpu-a") > 0; i++)
		run_for(100);
	assert_int_equal(instances(&f, "gpu-a"), 0);
	run_for(300);
	get(&f, "gpu-b.localhost", "/", NULL, &r);
	assert_int_equal(r.status, 200);
	buf_release(&r.body);
	stop_daemon(&f);
	free_daemon(&f);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "hello"))
		return cmd_hello(argc - 1, argv + 1);
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = 0;
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_daemon_scale_from_zero_and_back),
	    cmocka_unit_test(test_daemon_unknown_host_and_metrics),
	    cmocka_unit_test(test_daemon_custom_domains),
	    cmocka_unit_test(test_daemon_private_service_tokens),
	    cmocka_unit_test(test_daemon_private_service_any_audience),
	    cmocka_unit_test(test_daemon_deleted_service_notice_no_leak),
	    cmocka_unit_test(test_daemon_concurrency_limit_holds),
	    cmocka_unit_test(test_daemon_hold_window_429),
	    cmocka_unit_test(test_daemon_request_timeout_504),
	    cmocka_unit_test(test_daemon_crash_502_and_replacement),
	    cmocka_unit_test(test_daemon_stream_piece_by_piece),
	    cmocka_unit_test(test_daemon_gpus_exclusive),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	file_remove_tree(test_tmp_dir());
	return rc;
}

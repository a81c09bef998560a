/* oci_run_test.c — the OCI façade against a real registry and a real
 * runtime. Driven by tests/e2e/35-oci-busybox.sh, which builds the image,
 * starts the registry and sets GPURUN_OCI_E2E_* (ref, lying ref, home,
 * state root); without them (a plain unit run) every test SKIPs. Needs
 * root, crun or runc; talks to 127.0.0.1 and to the addresses of the
 * namespaces it creates, nothing else. */
#include "support/support.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include "base/file.h"
#include "base/timeutil.h"
#include "platform/oci_bundle.h"
#include "platform/oci_instance.h"
#include "platform/oci_watch.h"

#define COLD_STARTS 7

static const char *env_or_skip(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int host_setup(struct oci_host *h, const char *home_suffix, char err[ERR_MSG_LEN])
{
	char home[512];
	snprintf(home, sizeof(home), "%s%s", getenv("GPURUN_OCI_E2E_HOME"), home_suffix);
	struct oci_host_config cfg = {.home = home,
	                              .state_root = getenv("GPURUN_OCI_E2E_STATE"),
	                              .force_copy = getenv("GPURUN_OCI_E2E_COPY") != NULL};
	return oci_host_init(h, &cfg, err);
}

/* GET path from addr:port over a raw socket; *first_ns: mono time of the
 * first response byte. The whole response lands in out. */
static int http_get(const char *addr, int port, const char *path, struct buf *out,
                    int64_t *first_ns)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	char tmp[4096];
	*first_ns = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) != 1)
			break;
		ssize_t k = read(fd, tmp, sizeof(tmp));
		if (k <= 0)
			break;
		if (!*first_ns)
			*first_ns = time_mono_ns();
		buf_append(out, tmp, (size_t)k);
	}
	close(fd);
	return out->len ? 0 : -1;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void leftovers_none(struct oci_host *h, const struct oci_instance *inst)
{
	struct spec_strv ids = {0}, mounts = {0};
	oci_runtime_list(&h->rt, "", &ids, NULL);
	assert_int_equal(ids.n, 0);
	oci_bundle_mounts_under(h->bundles, &mounts);
	assert_int_equal(mounts.n, 0);
	assert_false(file_exists(inst->net.ns_path));
	char bundle[600];
	snprintf(bundle, sizeof(bundle), "%s/%s", h->bundles, inst->id);
	assert_false(file_exists(bundle));
	spec_strv_release(&ids);
	spec_strv_release(&mounts);
}

static void test_oci_run_busybox_httpd(void **state)
{
	const char *ref = env_or_skip("GPURUN_OCI_E2E_REF");
	if (!ref || geteuid() != 0) {
		test_skip("set by tests/e2e/35-oci-busybox.sh (root, registry, image)");
		return;
	}
	char err[ERR_MSG_LEN] = "";
	struct oci_host h;
	assert_int_equal(host_setup(&h, "", err), 0);
	oci_host_sweep(&h, err);
	char digest[OCI_DIGEST_LEN + 1];
	int64_t t0 = time_mono_ns();
	int rc = oci_image_prepare(&h, ref, NULL, digest, err);
	if (rc)
		print_message("prepare: %s\n", err);
	assert_int_equal(rc, 0);
	print_message("image %s pulled and unpacked in %.1f ms (runtime %s%s)\n", digest,
	              (time_mono_ns() - t0) / 1e6, oci_runtime_name(&h.rt),
	              h.rt.hybrid_workaround ? ", hybrid-cgroup workaround" : "");
	struct spec sp;
	spec_init(&sp);
	sp.memory_bytes = 64LL << 20;
	sp.cpu_milli = 500;
	spec_kvs_set(&sp.env, "GREETING", "user");
	/* warm = 0: the start sets up its network namespace; warm = 1: it takes
	 * one oci_host_prewarm made beforehand, as the daemon keeps one spare */
	for (int warm = 0; warm < 2; warm++) {
		int64_t ttfb[COLD_STARTS], run[COLD_STARTS], prep[COLD_STARTS], net[COLD_STARTS];
		for (int i = 0; i < COLD_STARTS; i++) {
			if (warm)
				assert_int_equal(oci_host_prewarm(&h, 1, err), 1);
			struct oci_instance inst;
			struct oci_instance_spec is = {.id = "hello-00001-abc",
			                               .image_digest = digest,
			                               .spec = &sp,
			                               .k_service = "hello",
			                               .k_revision = "hello-00001",
			                               .k_configuration = "hello"};
			rc = oci_instance_start(&h, &is, &inst, err);
			if (rc)
				print_message("start: %s\n", err);
			assert_int_equal(rc, 0);
			struct buf body = BUF_INIT;
			int64_t first = 0;
			rc = oci_instance_wait_ready(&inst, 5000, err);
			if (rc)
				print_message("ready: %s\n", err);
			assert_int_equal(rc, 0);
			assert_int_equal(http_get(inst.addr, inst.port, "/", &body, &first), 0);
			ttfb[i] = first - inst.start_ns;
			run[i] = inst.run_ns - inst.prepared_ns;
			prep[i] = inst.prepared_ns - inst.start_ns;
			net[i] = inst.net_ns - inst.start_ns;
			assert_non_null(strstr(body.data, "hello from an OCI image"));
			if (i == 0 && !warm) {
				buf_reset(&body);
				assert_int_equal(
				    http_get(inst.addr, inst.port, "/cgi-bin/env", &body, &first),
				    0);
				print_message("container env (CGI):\n%s\n", body.data);
				assert_non_null(strstr(body.data, "PORT=8080"));
				assert_non_null(strstr(body.data, "K_SERVICE=hello"));
				assert_non_null(strstr(body.data, "K_REVISION=hello-00001"));
				assert_non_null(strstr(body.data, "K_CONFIGURATION=hello"));
				assert_non_null(strstr(body.data, "GREETING=user"));
				assert_non_null(strstr(inst.addr, "10.213."));
			}
			buf_release(&body);
			int64_t s0 = time_mono_ns();
			rc = oci_instance_stop(&h, &inst, 200,
			                       err); /* busybox httpd ignores SIGTERM */
			if (rc)
				print_message("stop: %s\n", err);
			assert_int_equal(rc, 0);
			if (i == 0 && !warm)
				print_message(
				    "stop (TERM ignored, KILL after 200 ms grace): %.1f ms\n",
				    (time_mono_ns() - s0) / 1e6);
			leftovers_none(&h, &inst);
			close(inst.out_fd);
			close(inst.err_fd);
		}
		qsort(ttfb, COLD_STARTS, sizeof(ttfb[0]), cmp_i64);
		qsort(run, COLD_STARTS, sizeof(run[0]), cmp_i64);
		qsort(prep, COLD_STARTS, sizeof(prep[0]), cmp_i64);
		qsort(net, COLD_STARTS, sizeof(net[0]), cmp_i64);
		print_message(
		    "%s: start to first byte over %d cold starts: median %.1f ms, min %.1f, max "
		    "%.1f "
		    "(medians: until the network is up %.1f ms, until config.json %.1f ms, "
		    "runtime run -d %.1f ms)\n",
		    warm ? "spare netns" : "netns set up in the start", COLD_STARTS,
		    ttfb[COLD_STARTS / 2] / 1e6, ttfb[0] / 1e6, ttfb[COLD_STARTS - 1] / 1e6,
		    net[COLD_STARTS / 2] / 1e6, prep[COLD_STARTS / 2] / 1e6,
		    run[COLD_STARTS / 2] / 1e6);
	}
	spec_release(&sp);
	oci_host_release(&h);
}

static void test_oci_run_memory_limit_kills(void **state)
{
	const char *ref = env_or_skip("GPURUN_OCI_E2E_REF");
	if (!ref || geteuid() != 0) {
		test_skip("set by tests/e2e/35-oci-busybox.sh (root, registry, image)");
		return;
	}
	char err[ERR_MSG_LEN] = "";
	struct oci_host h;
	assert_int_equal(host_setup(&h, "", err), 0);
	char digest[OCI_DIGEST_LEN + 1];
	assert_int_equal(oci_image_prepare(&h, ref, NULL, digest, err), 0);
	struct spec sp;
	spec_init(&sp);
	sp.memory_bytes = 32LL << 20;
	spec_strv_push(&sp.command, "/bin/sh");
	spec_strv_push(&sp.args, "-c");
	spec_strv_push(&sp.args, "echo eating; tail /dev/zero");
	struct oci_instance inst;
	struct oci_instance_spec is = {
	    .id = "hog-00001-abc", .image_digest = digest, .spec = &sp, .k_service = "hog"};
	int rc = oci_instance_start(&h, &is, &inst, err);
	if (rc)
		print_message("start: %s\n", err);
	assert_int_equal(rc, 0);
	struct pollfd p = {.fd = inst.pidfd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 20000), 1); /* dies by itself: the limit */
	char out[256] = "";
	ssize_t n = read(inst.out_fd, out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = 0;
	assert_non_null(strstr(out, "eating"));
	assert_int_equal(oci_instance_stop(&h, &inst, 100, err), 0);
	assert_true(inst.oom_killed);
	print_message("32 MiB limit: the instance was OOM-killed, as the cgroup says\n");
	leftovers_none(&h, &inst);
	close(inst.out_fd);
	close(inst.err_fd);
	spec_release(&sp);
	oci_host_release(&h);
}

static void test_oci_run_lying_digest_refused(void **state)
{
	const char *ref = env_or_skip("GPURUN_OCI_E2E_LYING_REF");
	if (!ref) {
		test_skip("set by tests/e2e/35-oci-busybox.sh (registry with a corrupted layer)");
		return;
	}
	char err[ERR_MSG_LEN] = "";
	struct oci_host h;
	assert_int_equal(host_setup(&h, "-lying", err), 0);
	char digest[OCI_DIGEST_LEN + 1];
	int rc = oci_image_prepare(&h, ref, NULL, digest, err);
	print_message("lying layer: %s\n", err);
	assert_int_equal(rc, ERR_DIGEST);
	assert_non_null(strstr(err, "does not match its digest"));
	assert_non_null(strstr(err, "layer 0"));
	/* nothing of it kept: only the manifest and the config are in the store */
	char *blobs = file_path_join(h.store.root, "blobs/sha256");
	char *tmp = file_path_join(h.store.root, "tmp");
	assert_int_equal(count_entries(blobs), 2);
	assert_int_equal(count_entries(tmp), 0);
	free(blobs);
	free(tmp);
	oci_host_release(&h);
}

struct watched {
	int ready, failed, exited;
	struct buf out;
};

static void on_event(struct oci_watch *w, enum instance_event ev, void *arg)
{
	struct watched *x = arg;
	x->ready += ev == INSTANCE_EV_READY;
	x->failed += ev == INSTANCE_EV_START_FAILED;
	x->exited += ev == INSTANCE_EV_EXITED;
}

static void on_output(void *arg, int stream, const char *p, size_t n)
{
	struct watched *x = arg;
	buf_append(&x->out, p, n);
}

/* Runs the loop until *flag is set or ms pass. */
static void run_until(uv_loop_t *loop, const int *flag, int64_t ms)
{
	int64_t deadline = time_mono_ns() + ms * 1000000;
	while (!*flag && time_mono_ns() < deadline)
		uv_run(loop, UV_RUN_ONCE);
}

static void watch_one(struct oci_host *h, const char *digest, const char *script, int probe_s,
                      struct watched *x, struct oci_watch **out)
{
	uv_loop_t *loop = uv_default_loop();
	struct spec sp;
	spec_init(&sp);
	spec_strv_push(&sp.command, "/bin/sh");
	spec_strv_push(&sp.args, "-c");
	spec_strv_push(&sp.args, script);
	sp.probe.timeout_s = sp.probe.period_s = probe_s;
	struct oci_watch_config cfg = {
	    .loop = loop, .host = h, .stop_grace_ms = 200, .output = on_output, .output_arg = x};
	struct oci_instance_spec is = {
	    .id = "watched-00001-abc", .image_digest = digest, .spec = &sp, .k_service = "watched"};
	char err[ERR_MSG_LEN] = "";
	int rc = oci_watch_start(&cfg, &is, on_event, x, out, err);
	if (rc)
		print_message("watch start: %s\n", err);
	assert_int_equal(rc, 0);
	spec_release(&sp);
}

static void test_oci_run_watch_lifecycle(void **state)
{
	const char *ref = env_or_skip("GPURUN_OCI_E2E_REF");
	if (!ref || geteuid() != 0) {
		test_skip("set by tests/e2e/35-oci-busybox.sh (root, registry, image)");
		return;
	}
	char err[ERR_MSG_LEN] = "";
	struct oci_host h;
	assert_int_equal(host_setup(&h, "", err), 0);
	char digest[OCI_DIGEST_LEN + 1];
	assert_int_equal(oci_image_prepare(&h, ref, NULL, digest, err), 0);
	uv_loop_t *loop = uv_default_loop();
	/* a workload that listens: READY, serve, stop (TERM ignored) -> KILL -> EXITED */
	struct watched x = {0};
	struct oci_watch *w;
	watch_one(&h, digest, "echo started; exec httpd -f -p $PORT -h /www", 10, &x, &w);
	run_until(loop, &x.ready, 5000);
	assert_int_equal(x.ready, 1);
	assert_int_equal(oci_watch_phase(w), INSTANCE_READY);
	const struct oci_instance *inst = oci_watch_instance(w);
	struct buf body = BUF_INIT;
	int64_t first;
	assert_int_equal(http_get(inst->addr, inst->port, "/", &body, &first), 0);
	assert_non_null(strstr(body.data, "hello from an OCI image"));
	buf_release(&body);
	print_message("watched: ready %.1f ms after the start\n",
	              oci_watch_start_latency_ns(w) / 1e6);
	oci_watch_stop(w);
	run_until(loop, &x.exited, 5000);
	assert_int_equal(x.exited, 1);
	const struct instance_exit *ex = oci_watch_exit_info(w);
	assert_true(ex->stop_requested);
	assert_true(ex->killed);
	assert_int_equal(ex->term_signal, SIGKILL);
	assert_non_null(strstr(x.out.data ? x.out.data : "", "started"));
	struct oci_instance copy = *inst;
	oci_watch_free(w);
	uv_run(loop, UV_RUN_DEFAULT); /* until every handle has closed */
	leftovers_none(&h, &copy);
	buf_release(&x.out);
	/* one that never listens: START_FAILED after the probe budget, then EXITED */
	struct watched y = {0};
	watch_one(&h, digest, "echo waiting; sleep 30", 1, &y, &w);
	run_until(loop, &y.exited, 8000);
	assert_int_equal(y.ready, 0);
	assert_int_equal(y.failed, 1);
	assert_int_equal(y.exited, 1);
	print_message("never listening: %s\n", oci_watch_note(w));
	assert_non_null(strstr(oci_watch_note(w), "startup probe"));
	copy = *oci_watch_instance(w);
	oci_watch_free(w);
	uv_run(loop, UV_RUN_DEFAULT);
	leftovers_none(&h, &copy);
	buf_release(&y.out);
	oci_host_release(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oci_run_busybox_httpd),
	    cmocka_unit_test(test_oci_run_memory_limit_kills),
	    cmocka_unit_test(test_oci_run_watch_lifecycle),
	    cmocka_unit_test(test_oci_run_lying_digest_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

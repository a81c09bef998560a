/* oci_config_test.c — image config parsing, the User lookup in the rootfs,
 * process argv rules (command/args over Entrypoint/Cmd), and the content of
 * the generated config.json: env precedence, namespaces, limits, mounts,
 * capabilities, masked paths and the GPU case (device nodes stood in for by
 * symlinks to /dev/null, driver libraries by plain files). Also the network
 * slot arithmetic and the hybrid-cgroup detection on fake trees. */
#include "support/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/json.h"
#include "platform/oci_config.h"
#include "platform/oci_net.h"
#include "platform/oci_runtime.h"

static const char *image_json =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
    "\"Entrypoint\":[\"/bin/app\",\"--serve\"],\"Cmd\":[\"--verbose\"],"
    "\"Env\":[\"PATH=/opt/bin:/bin\",\"MODE=image\",\"PORT=1\",\"LD_LIBRARY_PATH=/opt/lib\"],"
    "\"WorkingDir\":\"srv\",\"User\":\"app:staff\","
    "\"ExposedPorts\":{\"8080/tcp\":{},\"53/udp\":{},\"9090\":{}}}}";

static char *write_tree(const char *name)
{
	char *root = file_path_join(test_tmp_dir(), name);
	char *etc = file_path_join(root, "etc");
	assert_int_equal(file_mkdir_p(etc, 0755), 0);
	char *pw = file_path_join(etc, "passwd"), *gr = file_path_join(etc, "group");
	const char *p = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
	const char *g = "root:x:0:\nstaff:x:50:\n";
	assert_int_equal(file_write_atomic(pw, p, strlen(p), 0644), 0);
	assert_int_equal(file_write_atomic(gr, g, strlen(g), 0644), 0);
	free(pw);
	free(gr);
	free(etc);
	return root;
}

static void test_oci_config_image_parse(void **state)
{
	struct oci_image_config c;
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(oci_image_config_parse(image_json, strlen(image_json), &c, err), 0);
	assert_int_equal(c.entrypoint.n, 2);
	assert_int_equal(c.cmd.n, 1);
	assert_int_equal(c.env.n, 4);
	assert_string_equal(c.working_dir, "srv");
	assert_string_equal(c.user, "app:staff");
	assert_int_equal(c.n_ports, 2); /* udp dropped */
	assert_int_equal(c.ports[0] + c.ports[1], 8080 + 9090);
	oci_image_config_release(&c);
	static const char *const bad[] = {
	    "[]",
	    "{\"config\":{\"Cmd\":\"not an array\"}}",
	    "{\"config\":{\"Env\":[1]}}",
	    "{\"os\":\"windows\"}",
	    "{",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(oci_image_config_parse(bad[i], strlen(bad[i]), &c, err), 0);
		assert_true(strlen(err) > 0);
	}
}

static void test_oci_config_user_resolve(void **state)
{
	char *root = write_tree("users");
	uid_t u;
	gid_t g;
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(oci_user_resolve(root, "app", &u, &g, err), 0);
	assert_int_equal(u, 1000);
	assert_int_equal(g, 1001);
	assert_int_equal(oci_user_resolve(root, "app:staff", &u, &g, err), 0);
	assert_int_equal(g, 50);
	assert_int_equal(oci_user_resolve(root, "4242", &u, &g, err), 0);
	assert_int_equal(u, 4242);
	assert_int_equal(g, 0);
	assert_int_equal(oci_user_resolve(root, "4242:7", &u, &g, err), 0);
	assert_int_equal(g, 7);
	assert_int_equal(oci_user_resolve(root, NULL, &u, &g, err), 0);
	assert_int_equal(u, 0);
	assert_int_equal(oci_user_resolve(root, "nobody", &u, &g, err), ERR_NOT_FOUND);
	assert_non_null(strstr(err, "'nobody'"));
	assert_int_not_equal(oci_user_resolve(root, "app:nogroup", &u, &g, err), 0);
	/* an /etc that is a symlink out of the rootfs is not read */
	char *evil = file_path_join(test_tmp_dir(), "evil-root");
	assert_int_equal(mkdir(evil, 0755), 0);
	char *etc = file_path_join(evil, "etc");
	char *target = file_path_join(root, "etc");
	assert_int_equal(symlink(target, etc), 0);
	assert_int_not_equal(oci_user_resolve(evil, "app", &u, &g, err), 0);
	free(target);
	free(etc);
	free(evil);
	free(root);
}

static struct oci_image_config load_image(void)
{
	struct oci_image_config c;
	assert_int_equal(oci_image_config_parse(image_json, strlen(image_json), &c, NULL), 0);
	return c;
}

static void test_oci_config_process_args(void **state)
{
	struct oci_image_config img = load_image();
	struct spec_strv cmd = {0}, args = {0};
	struct oci_run_config rc = {.image = &img, .command = &cmd, .args = &args};
	const char **v;
	int64_t n;
	assert_int_equal(oci_process_args(&rc, &v, &n, NULL), 0); /* Entrypoint + Cmd */
	assert_int_equal(n, 3);
	assert_string_equal(v[2], "--verbose");
	free(v);
	spec_strv_push(&args, "--quiet");
	assert_int_equal(oci_process_args(&rc, &v, &n, NULL), 0); /* Entrypoint + args */
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "/bin/app");
	assert_string_equal(v[2], "--quiet");
	free(v);
	spec_strv_release(&args);
	spec_strv_push(&cmd, "/bin/sh");
	assert_int_equal(oci_process_args(&rc, &v, &n, NULL), 0); /* command drops Cmd */
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "/bin/sh");
	free(v);
	spec_strv_push(&args, "-c");
	spec_strv_push(&args, "true");
	assert_int_equal(oci_process_args(&rc, &v, &n, NULL), 0);
	assert_int_equal(n, 3);
	free(v);
	struct oci_image_config empty = {0};
	struct oci_run_config rc2 = {.image = &empty};
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(oci_process_args(&rc2, &v, &n, err), ERR_INVALID);
	assert_non_null(strstr(err, "no Entrypoint or Cmd"));
	spec_strv_release(&cmd);
	spec_strv_release(&args);
	oci_image_config_release(&img);
}

static bool has_string(const cJSON *arr, const char *s)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) if (cJSON_IsString(it) &&
	                                strcmp(it->valuestring, s) == 0) return true;
	return false;
}

static const cJSON *find_by(const cJSON *arr, const char *key, const char *val)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) if (strcmp(json_str(it, key, ""), val) == 0) return it;
	return NULL;
}

static cJSON *gen(const struct oci_run_config *rc)
{
	cJSON *j = NULL;
	char err[ERR_MSG_LEN] = "";
	int r = oci_runtime_config(rc, &j, err);
	if (r)
		print_message("%s\n", err);
	assert_int_equal(r, 0);
	/* what is written is what crun reads: round-trip through text */
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	j = cJSON_Parse(text);
	free(text);
	assert_non_null(j);
	return j;
}

static void test_oci_config_runtime_json(void **state)
{
	struct oci_image_config img = load_image();
	struct spec_kvs env = {0};
	spec_kvs_set(&env, "MODE", "user");
	spec_kvs_set(&env, "EXTRA", "1");
	struct oci_run_config rc = {
	    .id = "hello-00001-abc",
	    .rootfs = "/var/lib/x/rootfs",
	    .image = &img,
	    .env = &env,
	    .port = 8080,
	    .k_service = "hello",
	    .k_revision = "hello-00001",
	    .k_configuration = "hello",
	    .uid = 1000,
	    .gid = 50,
	    .netns_path = "/run/netns/gpurun-3",
	    .cgroups_path = "/gpurun/hello-00001-abc",
	    .memory_bytes = 512LL << 20,
	    .cpu_milli = 1500,
	    .pids_limit = 100,
	    .models_dir = "/home/u/.gpurun/models",
	    .hosts_file = "/b/hosts",
	};
	cJSON *j = gen(&rc);
	assert_string_equal(json_str(j, "ociVersion", ""), "1.0.2");
	const cJSON *p = cJSON_GetObjectItem(j, "process");
	assert_false(json_bool(p, "terminal", true));
	assert_true(json_bool(p, "noNewPrivileges", false));
	assert_string_equal(json_str(p, "cwd", ""), "/srv");
	const cJSON *user = cJSON_GetObjectItem(p, "user");
	assert_int_equal(json_i64(user, "uid", -1), 1000);
	assert_int_equal(json_i64(user, "gid", -1), 50);
	const cJSON *e = cJSON_GetObjectItem(p, "env");
	assert_true(has_string(e, "PATH=/opt/bin:/bin")); /* the image's PATH wins the default */
	assert_true(has_string(e, "PORT=8080"));          /* ours wins the image's PORT=1 */
	assert_true(has_string(e, "K_SERVICE=hello"));
	assert_true(has_string(e, "K_REVISION=hello-00001"));
	assert_true(has_string(e, "K_CONFIGURATION=hello"));
	assert_true(has_string(e, "MODE=user")); /* the user's env wins the image's */
	assert_true(has_string(e, "EXTRA=1"));
	assert_true(has_string(e, "GPURUN_MODELS=" OCI_MODELS_PATH));
	assert_false(has_string(e, "MODE=image"));
	assert_false(has_string(e, "CUDA_VISIBLE_DEVICES="));
	const cJSON *caps = cJSON_GetObjectItem(p, "capabilities");
	assert_true(has_string(cJSON_GetObjectItem(caps, "bounding"), "CAP_NET_BIND_SERVICE"));
	assert_false(has_string(cJSON_GetObjectItem(caps, "bounding"), "CAP_SYS_ADMIN"));
	assert_false(has_string(cJSON_GetObjectItem(caps, "bounding"), "CAP_NET_RAW"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(caps, "effective")),
	                 0); /* uid 1000 */
	const cJSON *root = cJSON_GetObjectItem(j, "root");
	assert_string_equal(json_str(root, "path", ""), "/var/lib/x/rootfs");
	const cJSON *mounts = cJSON_GetObjectItem(j, "mounts");
	static const char *const dsts[] = {"/proc", "/dev", "/dev/pts", "/dev/shm", "/sys", "/tmp"};
	for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++)
		assert_non_null(find_by(mounts, "destination", dsts[i]));
	assert_true(has_string(
	    cJSON_GetObjectItem(find_by(mounts, "destination", "/sys"), "options"), "ro"));
	assert_string_equal(json_str(find_by(mounts, "destination", "/tmp"), "type", ""), "tmpfs");
	const cJSON *models = find_by(mounts, "destination", OCI_MODELS_PATH);
	assert_non_null(models);
	assert_string_equal(json_str(models, "source", ""), "/home/u/.gpurun/models");
	assert_true(has_string(cJSON_GetObjectItem(models, "options"), "ro"));
	assert_non_null(find_by(mounts, "destination", "/etc/hosts"));
	const cJSON *lx = cJSON_GetObjectItem(j, "linux");
	const cJSON *ns = cJSON_GetObjectItem(lx, "namespaces");
	static const char *const kinds[] = {"pid", "mount", "ipc", "uts", "network"};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		assert_non_null(find_by(ns, "type", kinds[i]));
	assert_string_equal(json_str(find_by(ns, "type", "network"), "path", ""),
	                    "/run/netns/gpurun-3");
	assert_string_equal(json_str(lx, "cgroupsPath", ""), "/gpurun/hello-00001-abc");
	const cJSON *res = cJSON_GetObjectItem(lx, "resources");
	assert_int_equal(json_i64(cJSON_GetObjectItem(res, "memory"), "limit", 0), 512LL << 20);
	assert_int_equal(json_i64(cJSON_GetObjectItem(res, "cpu"), "quota", 0), 150000);
	assert_int_equal(json_i64(cJSON_GetObjectItem(res, "cpu"), "period", 0), 100000);
	assert_int_equal(json_i64(cJSON_GetObjectItem(res, "pids"), "limit", 0), 100);
	const cJSON *deny = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "devices"), 0);
	assert_false(json_bool(deny, "allow", true));
	assert_true(has_string(cJSON_GetObjectItem(lx, "maskedPaths"), "/proc/kcore"));
	assert_true(has_string(cJSON_GetObjectItem(lx, "readonlyPaths"), "/proc/sys"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(lx, "devices")), 0);
	cJSON_Delete(j);
	/* the host's network: no network namespace, /sys bound read-only */
	rc.netns_path = NULL;
	rc.uid = 0;
	j = gen(&rc);
	lx = cJSON_GetObjectItem(j, "linux");
	assert_null(find_by(cJSON_GetObjectItem(lx, "namespaces"), "type", "network"));
	assert_string_equal(
	    json_str(find_by(cJSON_GetObjectItem(j, "mounts"), "destination", "/sys"), "type", ""),
	    "bind");
	caps = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "process"), "capabilities");
	assert_true(has_string(cJSON_GetObjectItem(caps, "effective"), "CAP_CHOWN")); /* root */
	cJSON_Delete(j);
	spec_kvs_release(&env);
	oci_image_config_release(&img);
}

static void test_oci_config_gpu(void **state)
{
	char *dev = file_path_join(test_tmp_dir(), "dev"),
	     *lib = file_path_join(test_tmp_dir(), "lib");
	assert_int_equal(file_mkdir_p(dev, 0755), 0);
	assert_int_equal(file_mkdir_p(lib, 0755), 0);
	static const char *const nodes[] = {"nvidia0", "nvidia3", "nvidiactl", "nvidia-uvm"};
	for (size_t i = 0; i < 4; i++) {
		char *p = file_path_join(dev, nodes[i]);
		assert_int_equal(symlink("/dev/null", p), 0); /* a char device: 1:3 */
		free(p);
	}
	static const char *const libs[] = {"libcuda.so.1", "libnvidia-ml.so.550.54", "libc.so.6"};
	for (size_t i = 0; i < 3; i++) {
		char *p = file_path_join(lib, libs[i]);
		assert_int_equal(file_write_atomic(p, "x", 1, 0644), 0);
		free(p);
	}
	struct oci_gpu g;
	char err[ERR_MSG_LEN] = "";
	const int idx[] = {0, 3};
	const char *dirs[] = {lib, NULL};
	assert_int_equal(oci_gpu_probe(dev, idx, 2, dirs, "GPU-a,GPU-b", &g, err), 0);
	assert_int_equal(g.n_dev, 4); /* uvm-tools and modeset are optional */
	assert_int_equal(g.libs.n, 2);
	const int missing[] = {1};
	struct oci_gpu g2;
	assert_int_equal(oci_gpu_probe(dev, missing, 1, dirs, "1", &g2, err), ERR_NOT_FOUND);
	assert_non_null(strstr(err, "nvidia1"));

	struct oci_image_config img = load_image();
	struct oci_run_config rc = {.id = "gpu-1",
	                            .rootfs = "/r",
	                            .image = &img,
	                            .port = 11434,
	                            .netns_path = "/run/netns/gpurun-0",
	                            .gpu = &g};
	cJSON *j = gen(&rc);
	const cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "process"), "env");
	assert_true(has_string(e, "CUDA_VISIBLE_DEVICES=GPU-a,GPU-b"));
	assert_true(has_string(e, "LD_LIBRARY_PATH=/opt/lib:" OCI_GPU_LIB_PATH));
	const cJSON *lx = cJSON_GetObjectItem(j, "linux");
	const cJSON *devs = cJSON_GetObjectItem(lx, "devices");
	assert_int_equal(cJSON_GetArraySize(devs), 4);
	static const char *const paths[] = {"/dev/nvidia0", "/dev/nvidia3", "/dev/nvidiactl",
	                                    "/dev/nvidia-uvm"};
	for (size_t i = 0; i < 4; i++) {
		const cJSON *d = find_by(devs, "path", paths[i]);
		assert_non_null(d);
		assert_string_equal(json_str(d, "type", ""), "c");
		assert_int_equal(json_i64(d, "major", -1), 1);
		assert_int_equal(json_i64(d, "minor", -1), 3);
	}
	const cJSON *allow = cJSON_GetObjectItem(cJSON_GetObjectItem(lx, "resources"), "devices");
	assert_int_equal(cJSON_GetArraySize(allow), 5); /* deny all + 4 allows */
	assert_true(json_bool(cJSON_GetArrayItem(allow, 1), "allow", false));
	const cJSON *m = find_by(cJSON_GetObjectItem(j, "mounts"), "destination",
	                         OCI_GPU_LIB_PATH "/libcuda.so.1");
	assert_non_null(m);
	assert_true(has_string(cJSON_GetObjectItem(m, "options"), "ro"));
	assert_null(find_by(cJSON_GetObjectItem(j, "mounts"), "destination",
	                    OCI_GPU_LIB_PATH "/libc.so.6"));
	cJSON_Delete(j);
	oci_gpu_release(&g);
	oci_image_config_release(&img);
	free(dev);
	free(lib);
}

static void test_oci_config_refusals(void **state)
{
	struct oci_image_config img = load_image();
	cJSON *j = NULL;
	char err[ERR_MSG_LEN] = "";
	struct oci_run_config rc = {.id = "x", .rootfs = "relative", .image = &img, .port = 80};
	assert_int_equal(oci_runtime_config(&rc, &j, err), ERR_INVALID);
	rc.rootfs = "/abs";
	rc.port = 0;
	assert_int_equal(oci_runtime_config(&rc, &j, err), ERR_INVALID);
	assert_non_null(strstr(err, "port"));
	assert_null(j);
	oci_image_config_release(&img);
}

static void test_oci_net_slots(void **state)
{
	struct oci_net_range r;
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(oci_net_range_parse(OCI_NET_RANGE_DEFAULT, &r, err), 0);
	assert_int_equal(oci_net_range_slots(&r), 16384);
	struct oci_net n;
	assert_int_equal(oci_net_describe(&r, "", 0, &n, err), 0);
	assert_string_equal(n.host_ip, "10.213.0.1");
	assert_string_equal(n.ctr_ip, "10.213.0.2");
	assert_string_equal(n.ns_name, "gpurun-0");
	assert_string_equal(n.ns_path, "/run/netns/gpurun-0");
	assert_string_equal(n.host_if, "gpr0");
	assert_int_equal(oci_net_describe(&r, "", 5, &n, err), 0);
	assert_string_equal(n.host_ip, "10.213.0.21");
	assert_string_equal(n.ctr_ip, "10.213.0.22");
	assert_int_equal(oci_net_describe(&r, "", 16383, &n, err), 0);
	assert_string_equal(n.ctr_ip, "10.213.255.254");
	assert_int_not_equal(oci_net_describe(&r, "", 16384, &n, err), 0);
	static const char *const bad[] = {
	    "10.213.0.1/16", "10.213.0.0/31", "10.213.0.0/4", "127.0.0.0/8",
	    "0.0.0.0/1",     "10.213.0.0",    "x/16",         ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(oci_net_range_parse(bad[i], &r, err), 0);
		assert_true(strlen(err) > 0);
	}
	struct oci_net_pool p;
	assert_int_equal(oci_net_pool_init(&p, "192.168.77.0/29", err), 0); /* two slots */
	struct oci_net a, b, c;
	assert_int_equal(oci_net_pool_take(&p, &a, err), 0);
	assert_int_equal(oci_net_pool_take(&p, &b, err), 0);
	assert_int_equal(oci_net_pool_take(&p, &c, err), ERR_BUSY);
	oci_net_pool_put(&p, a.slot);
	assert_int_equal(oci_net_pool_take(&p, &c, err), 0);
	assert_int_equal(c.slot, a.slot);
	assert_string_equal(b.ctr_ip, "192.168.77.6");
	oci_net_pool_release(&p);
}

static bool link_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Two daemons (tags) sharing the host's claims: never the same slot; a dead
 * daemon's claim is taken over; each releases and resets only its own. */
static void test_oci_net_claims_host_wide(void **state)
{
	char err[ERR_MSG_LEN] = "", dir[512], path[600], have[64];
	snprintf(dir, sizeof(dir), "%s/claims", test_tmp_dir());
	struct oci_net_range r;
	assert_int_equal(oci_net_range_parse(OCI_NET_RANGE_DEFAULT, &r, err), 0);
	struct oci_net n;
	assert_int_equal(oci_net_describe(&r, "a1b2c3", 4094, &n, err), 0);
	assert_string_equal(n.ns_name, "gpurun-a1b2c3-4094");
	assert_string_equal(n.host_if, "ga1b2c34094");
	assert_true(strlen(n.host_if) < 16);
	assert_int_not_equal(oci_net_describe(&r, "toolongtag", 1, &n, err), 0);

	struct oci_net_pool p, q;
	assert_int_equal(oci_net_pool_init(&p, "192.168.77.0/28", err), 0); /* four slots */
	assert_int_equal(oci_net_pool_init(&q, "192.168.77.0/28", err), 0);
	assert_int_equal(oci_net_pool_claim_host(&p, "aaaaaa", dir, err), 0);
	assert_int_equal(oci_net_pool_claim_host(&q, "bbbbbb", dir, err), 0);
	struct oci_net a, b, c;
	assert_int_equal(oci_net_pool_take(&p, &a, err), 0);
	assert_int_equal(oci_net_pool_take(&q, &b, err), 0);
	assert_int_equal(a.slot, 0);
	assert_int_equal(b.slot, 1); /* slot 0 is p's, and p lives */
	assert_string_equal(b.ns_name, "gpurun-bbbbbb-1");
	/* slot 2 claimed by a daemon that is gone: taken over */
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	snprintf(path, sizeof(path), "%s/2", dir);
	snprintf(have, sizeof(have), "cccccc:%d", (int)dead);
	assert_int_equal(symlink(have, path), 0);
	assert_int_equal(oci_net_pool_take(&q, &c, err), 0);
	assert_int_equal(c.slot, 2);
	ssize_t len = readlink(path, have, sizeof(have) - 1);
	assert_true(len > 0);
	have[len] = 0;
	assert_int_equal(strncmp(have, "bbbbbb:", 7), 0);
	/* put releases the claim; reset drops only q's */
	oci_net_pool_put(&p, a.slot);
	snprintf(path, sizeof(path), "%s/0", dir);
	assert_false(link_exists(path));
	assert_int_equal(oci_net_pool_take(&p, &a, err), 0);
	assert_int_equal(a.slot, 0);
	oci_net_pool_reset(&q);
	assert_true(link_exists(path));
	snprintf(path, sizeof(path), "%s/1", dir);
	assert_false(link_exists(path));
	oci_net_pool_reset(&p);
	oci_net_pool_release(&p);
	oci_net_pool_release(&q);
}

static void test_oci_runtime_hybrid_detection(void **state)
{
	char *fs = file_path_join(test_tmp_dir(), "cgfs");
	char *uni = file_path_join(fs, "unified");
	assert_int_equal(file_mkdir_p(uni, 0755), 0);
	char *ctl = file_path_join(uni, "cgroup.controllers");
	assert_false(oci_cgroup_hybrid(fs)); /* v1 only */
	assert_int_equal(file_write_atomic(ctl, "\n", 1, 0644), 0);
	assert_false(oci_cgroup_hybrid(fs)); /* unified with no controllers: crun copes */
	assert_int_equal(file_write_atomic(ctl, "hugetlb\n", 8, 0644), 0);
	assert_true(oci_cgroup_hybrid(fs));
	struct oci_runtime rt;
	char err[ERR_MSG_LEN] = "";
	if (oci_runtime_detect(&rt, "crun", "/run/x", fs, err) == 0)
		assert_true(rt.hybrid_workaround);
	if (oci_runtime_detect(&rt, "runc", "/run/x", fs, err) == 0)
		assert_false(rt.hybrid_workaround); /* runc copes unchanged */
	assert_int_equal(oci_runtime_detect(&rt, "no-such-runtime", NULL, fs, err), ERR_NOT_FOUND);
	assert_non_null(strstr(err, "not installed"));
	free(ctl);
	free(uni);
	free(fs);
}

/* The OOM record of a container's memory cgroup, v1 and v2 layouts. */
static void test_oci_cgroup_oom_record(void **state)
{
	char *fs = file_path_join(test_tmp_dir(), "cgoom");
	char *v1 = file_path_join(fs, "memory/" OCI_CGROUP_PARENT "/a-1");
	char *v2 = file_path_join(fs, OCI_CGROUP_PARENT "/b-1");
	assert_int_equal(file_mkdir_p(v1, 0755), 0);
	assert_int_equal(file_mkdir_p(v2, 0755), 0);
	char *f1 = file_path_join(v1, "memory.oom_control");
	char *f2 = file_path_join(v2, "memory.events");
	assert_false(oci_cgroup_oom_killed(fs, "a-1")); /* no file yet */
	static const char quiet[] = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n";
	static const char hit[] = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
	assert_int_equal(file_write_atomic(f1, quiet, strlen(quiet), 0644), 0);
	assert_false(oci_cgroup_oom_killed(fs, "a-1"));
	assert_int_equal(file_write_atomic(f1, hit, strlen(hit), 0644), 0);
	assert_true(oci_cgroup_oom_killed(fs, "a-1"));
	static const char ev[] = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n";
	assert_int_equal(file_write_atomic(f2, ev, strlen(ev), 0644), 0);
	assert_true(oci_cgroup_oom_killed(fs, "b-1"));
	assert_false(oci_cgroup_oom_killed(fs, "c-1"));
	bool is_v2 = false;
	int fd = oci_cgroup_oom_watch(fs, "b-1", &is_v2); /* inotify on memory.events */
	assert_true(fd >= 0);
	assert_true(is_v2);
	close(fd);
	free(f1);
	free(f2);
	free(v1);
	free(v2);
	free(fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oci_config_image_parse),
	    cmocka_unit_test(test_oci_config_user_resolve),
	    cmocka_unit_test(test_oci_config_process_args),
	    cmocka_unit_test(test_oci_config_runtime_json),
	    cmocka_unit_test(test_oci_config_gpu),
	    cmocka_unit_test(test_oci_config_refusals),
	    cmocka_unit_test(test_oci_net_slots),
	    cmocka_unit_test(test_oci_net_claims_host_wide),
	    cmocka_unit_test(test_oci_runtime_hybrid_detection),
	    cmocka_unit_test(test_oci_cgroup_oom_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

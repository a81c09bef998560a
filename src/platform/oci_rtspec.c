/* oci_rtspec.c — writes an instance's runtime config.json (OCI runtime-spec
 * 1.0.2) from a struct oci_run_config, and probes the GPU device nodes and
 * driver libraries a GPU instance gets (CDI-style: nodes + bind mounts +
 * LD_LIBRARY_PATH). Builds JSON only; bundles and rootfs live in
 * oci_bundle.c. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/buf.h"
#include "base/mem.h"
#include "platform/oci_config.h"

/* Fewer than Docker's default 14: no MKNOD, NET_RAW or SETFCAP. */
static const char *const caps[] = {
    "CAP_CHOWN",       "CAP_DAC_OVERRIDE", "CAP_FOWNER",  "CAP_FSETID",           "CAP_KILL",
    "CAP_SETGID",      "CAP_SETUID",       "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_AUDIT_WRITE",
};
static const char *const masked[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const readonly[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};
static const char *const lib_prefixes[] = {
    "libcuda.so",
    "libcudadebugger.so",
    "libnvidia-ml.so",
    "libnvidia-ptxjitcompiler.so",
    "libnvidia-nvvm.so",
    "libnvidia-gpucomp.so",
    "libnvidia-allocator.so",
    "libnvidia-cfg.so",
    "libnvidia-opencl.so",
};
static const char *const default_lib_dirs[] = {
    "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64", NULL,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static cJSON *str_array(const char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

static cJSON *mount(const char *dst, const char *type, const char *src, const char *opts)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "destination", dst);
	cJSON_AddStringToObject(m, "type", type);
	cJSON_AddStringToObject(m, "source", src);
	cJSON *o = cJSON_AddArrayToObject(m, "options");
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s", opts);
	for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
		cJSON_AddItemToArray(o, cJSON_CreateString(t));
	return m;
}

static void env_build(const struct oci_run_config *rc, struct spec_kvs *env)
{
	spec_kvs_set(env, "PATH", OCI_DEFAULT_PATH);
	for (int64_t i = 0; rc->image && i < rc->image->env.n; i++) {
		const char *kv = rc->image->env.v[i];
		const char *eq = strchr(kv, '=');
		if (!eq || eq == kv)
			continue;
		char *name = xstrndup(kv, (size_t)(eq - kv));
		spec_kvs_set(env, name, eq + 1);
		free(name);
	}
	char port[16];
	snprintf(port, sizeof(port), "%d", rc->port);
	spec_kvs_set(env, "PORT", port);
	if (rc->k_service)
		spec_kvs_set(env, "K_SERVICE", rc->k_service);
	if (rc->k_revision)
		spec_kvs_set(env, "K_REVISION", rc->k_revision);
	if (rc->k_configuration)
		spec_kvs_set(env, "K_CONFIGURATION", rc->k_configuration);
	if (rc->models_dir)
		spec_kvs_set(env, "GPURUN_MODELS", OCI_MODELS_PATH);
	if (rc->gpu) {
		const char *ld = spec_kvs_get(env, "LD_LIBRARY_PATH");
		struct buf b = BUF_INIT;
		buf_printf(&b, "%s%s%s", ld && *ld ? ld : "", ld && *ld ? ":" : "",
		           OCI_GPU_LIB_PATH);
		spec_kvs_set(env, "LD_LIBRARY_PATH", b.data);
		buf_release(&b);
		spec_kvs_set(env, "CUDA_VISIBLE_DEVICES", rc->gpu->visible ? rc->gpu->visible : "");
		spec_kvs_set(env, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
	}
	for (int64_t i = 0; rc->env && i < rc->env->n; i++)
		spec_kvs_set(env, rc->env->items[i].name, rc->env->items[i].value);
}

static cJSON *process_json(const struct oci_run_config *rc, char err[ERR_MSG_LEN])
{
	const char **argv;
	int64_t argc;
	if (oci_process_args(rc, &argv, &argc, err) < 0)
		return NULL;
	cJSON *p = cJSON_CreateObject();
	cJSON_AddBoolToObject(p, "terminal", false);
	cJSON *user = cJSON_AddObjectToObject(p, "user");
	cJSON_AddNumberToObject(user, "uid", rc->uid);
	cJSON_AddNumberToObject(user, "gid", rc->gid);
	cJSON_AddItemToObject(p, "args", str_array(argv, (size_t)argc));
	free(argv);
	struct spec_kvs env = {0};
	env_build(rc, &env);
	cJSON *e = cJSON_AddArrayToObject(p, "env");
	struct buf b = BUF_INIT;
	for (int64_t i = 0; i < env.n; i++) {
		buf_reset(&b);
		buf_printf(&b, "%s=%s", env.items[i].name, env.items[i].value);
		cJSON_AddItemToArray(e, cJSON_CreateString(b.data));
	}
	buf_release(&b);
	spec_kvs_release(&env);
	const char *wd = rc->image && rc->image->working_dir ? rc->image->working_dir : "/";
	if (wd[0] != '/') {
		struct buf w = BUF_INIT;
		buf_printf(&w, "/%s", wd);
		cJSON_AddStringToObject(p, "cwd", w.data);
		buf_release(&w);
	} else {
		cJSON_AddStringToObject(p, "cwd", wd);
	}
	cJSON *c = cJSON_AddObjectToObject(p, "capabilities");
	cJSON_AddItemToObject(c, "bounding", str_array(caps, N(caps)));
	/* A non-root user gets no effective capabilities (Docker's rule). */
	size_t ne = rc->uid == 0 ? N(caps) : 0;
	cJSON_AddItemToObject(c, "effective", str_array(caps, ne));
	cJSON_AddItemToObject(c, "permitted", str_array(caps, ne));
	cJSON *rl = cJSON_AddArrayToObject(p, "rlimits");
	cJSON *nofile = cJSON_CreateObject();
	cJSON_AddStringToObject(nofile, "type", "RLIMIT_NOFILE");
	double nf = rc->nofile > 0 ? (double)rc->nofile : OCI_NOFILE_LIMIT;
	cJSON_AddNumberToObject(nofile, "hard", nf);
	cJSON_AddNumberToObject(nofile, "soft", nf);
	cJSON_AddItemToArray(rl, nofile);
	cJSON_AddBoolToObject(p, "noNewPrivileges", true);
	return p;
}

static cJSON *mounts_json(const struct oci_run_config *rc)
{
	cJSON *m = cJSON_CreateArray();
	cJSON_AddItemToArray(m, mount("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	cJSON_AddItemToArray(
	    m, mount("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	cJSON_AddItemToArray(m, mount("/dev/pts", "devpts", "devpts",
	                              "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"));
	cJSON_AddItemToArray(
	    m, mount("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
	cJSON_AddItemToArray(m, mount("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	if (rc->netns_path)
		cJSON_AddItemToArray(m, mount("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	else /* sysfs of the host's network namespace: bind it, read-only */
		cJSON_AddItemToArray(m,
		                     mount("/sys", "bind", "/sys", "rbind,nosuid,noexec,nodev,ro"));
	cJSON_AddItemToArray(
	    m, mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro"));
	cJSON_AddItemToArray(m, mount("/tmp", "tmpfs", "tmpfs", "nosuid,nodev,mode=1777"));
	if (rc->models_dir)
		cJSON_AddItemToArray(
		    m, mount(OCI_MODELS_PATH, "bind", rc->models_dir, "rbind,ro,nosuid,nodev"));
	if (rc->hosts_file)
		cJSON_AddItemToArray(m, mount("/etc/hosts", "bind", rc->hosts_file, "bind,ro"));
	for (int64_t i = 0; rc->gpu && i < rc->gpu->libs.n; i++) {
		const char *src = rc->gpu->libs.v[i];
		const char *base = strrchr(src, '/');
		struct buf dst = BUF_INIT;
		buf_printf(&dst, "%s/%s", OCI_GPU_LIB_PATH, base ? base + 1 : src);
		cJSON_AddItemToArray(m, mount(dst.data, "bind", src, "bind,ro,nosuid,nodev"));
		buf_release(&dst);
	}
	return m;
}

static cJSON *resources_json(const struct oci_run_config *rc)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *devs = cJSON_AddArrayToObject(r, "devices");
	cJSON *deny = cJSON_CreateObject();
	cJSON_AddBoolToObject(deny, "allow", false);
	cJSON_AddStringToObject(deny, "access", "rwm");
	cJSON_AddItemToArray(devs, deny);
	for (int i = 0; rc->gpu && i < rc->gpu->n_dev; i++) {
		const struct oci_device *d = &rc->gpu->dev[i];
		cJSON *a = cJSON_CreateObject();
		char type[2] = {d->type, 0};
		cJSON_AddBoolToObject(a, "allow", true);
		cJSON_AddStringToObject(a, "type", type);
		cJSON_AddNumberToObject(a, "major", (double)d->major);
		cJSON_AddNumberToObject(a, "minor", (double)d->minor);
		cJSON_AddStringToObject(a, "access", "rwm");
		cJSON_AddItemToArray(devs, a);
	}
	if (rc->memory_bytes > 0)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(r, "memory"), "limit",
		                        (double)rc->memory_bytes);
	if (rc->cpu_milli > 0) {
		cJSON *cpu = cJSON_AddObjectToObject(r, "cpu");
		cJSON_AddNumberToObject(cpu, "quota",
		                        (double)(rc->cpu_milli * OCI_CPU_PERIOD_US / 1000));
		cJSON_AddNumberToObject(cpu, "period", OCI_CPU_PERIOD_US);
	}
	if (rc->pids_limit > 0)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(r, "pids"), "limit",
		                        (double)rc->pids_limit);
	return r;
}

static cJSON *linux_json(const struct oci_run_config *rc)
{
	cJSON *l = cJSON_CreateObject();
	cJSON *ns = cJSON_AddArrayToObject(l, "namespaces");
	static const char *const kinds[] = {"pid", "mount", "ipc", "uts"};
	for (size_t i = 0; i < N(kinds); i++) {
		cJSON *n = cJSON_CreateObject();
		cJSON_AddStringToObject(n, "type", kinds[i]);
		cJSON_AddItemToArray(ns, n);
	}
	if (rc->netns_path) {
		cJSON *n = cJSON_CreateObject();
		cJSON_AddStringToObject(n, "type", "network");
		cJSON_AddStringToObject(n, "path", rc->netns_path);
		cJSON_AddItemToArray(ns, n);
	}
	if (rc->cgroups_path)
		cJSON_AddStringToObject(l, "cgroupsPath", rc->cgroups_path);
	cJSON_AddItemToObject(l, "resources", resources_json(rc));
	cJSON *devs = cJSON_AddArrayToObject(l, "devices");
	for (int i = 0; rc->gpu && i < rc->gpu->n_dev; i++) {
		const struct oci_device *d = &rc->gpu->dev[i];
		cJSON *o = cJSON_CreateObject();
		char type[2] = {d->type, 0};
		cJSON_AddStringToObject(o, "path", d->path);
		cJSON_AddStringToObject(o, "type", type);
		cJSON_AddNumberToObject(o, "major", (double)d->major);
		cJSON_AddNumberToObject(o, "minor", (double)d->minor);
		cJSON_AddNumberToObject(o, "fileMode", d->mode);
		cJSON_AddNumberToObject(o, "uid", 0);
		cJSON_AddNumberToObject(o, "gid", 0);
		cJSON_AddItemToArray(devs, o);
	}
	cJSON_AddItemToObject(l, "maskedPaths", str_array(masked, N(masked)));
	cJSON_AddItemToObject(l, "readonlyPaths", str_array(readonly, N(readonly)));
	return l;
}

int oci_runtime_config(const struct oci_run_config *rc, cJSON **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	if (!rc->id || !rc->rootfs || rc->rootfs[0] != '/')
		return err_set(err, ERR_INVALID,
		               "runtime config: an id and an absolute rootfs are needed");
	if (rc->port <= 0 || rc->port > 65535)
		return err_set(err, ERR_INVALID, "runtime config: port %d out of range", rc->port);
	cJSON *p = process_json(rc, err);
	if (!p)
		return ERR_INVALID;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "ociVersion", "1.0.2");
	cJSON_AddItemToObject(j, "process", p);
	cJSON *root = cJSON_AddObjectToObject(j, "root");
	cJSON_AddStringToObject(root, "path", rc->rootfs);
	cJSON_AddBoolToObject(root, "readonly", rc->rootfs_readonly);
	char host[64];
	snprintf(host, sizeof(host), "%.63s", rc->id);
	cJSON_AddStringToObject(j, "hostname", host);
	cJSON_AddItemToObject(j, "mounts", mounts_json(rc));
	cJSON_AddItemToObject(j, "linux", linux_json(rc));
	*out = j;
	return 0;
}

/* ---- GPU probing ------------------------------------------------------- */

static int add_dev(struct oci_gpu *g, const char *dev_dir, const char *name, bool required,
                   char err[ERR_MSG_LEN])
{
	char host[512];
	snprintf(host, sizeof(host), "%s/%s", dev_dir, name);
	struct stat st;
	if (stat(host, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
		if (!required)
			return 0;
		return err_set(err, ERR_NOT_FOUND, "GPU: %s is not a device node on this machine",
		               host);
	}
	if (g->n_dev >= OCI_GPU_DEV_MAX)
		return err_set(err, ERR_TOO_LARGE, "GPU: too many device nodes");
	struct oci_device *d = &g->dev[g->n_dev++];
	snprintf(d->path, sizeof(d->path), "/dev/%s", name);
	d->type = S_ISCHR(st.st_mode) ? 'c' : 'b';
	d->major = major(st.st_rdev);
	d->minor = minor(st.st_rdev);
	d->mode = 0666;
	return 0;
}

static void find_libs(const char *const *dirs, struct spec_strv *libs)
{
	for (int i = 0; dirs[i]; i++) {
		DIR *d = opendir(dirs[i]);
		if (!d)
			continue;
		for (struct dirent *e; (e = readdir(d)) != NULL;) {
			bool match = false;
			for (size_t k = 0; k < N(lib_prefixes) && !match; k++)
				match = strncmp(e->d_name, lib_prefixes[k],
				                strlen(lib_prefixes[k])) == 0;
			bool dup = false;
			for (int64_t k = 0; match && k < libs->n && !dup; k++)
				dup = strcmp(strrchr(libs->v[k], '/') + 1, e->d_name) == 0;
			if (!match || dup)
				continue;
			struct buf p = BUF_INIT;
			buf_printf(&p, "%s/%s", dirs[i], e->d_name);
			spec_strv_push(libs, p.data);
			buf_release(&p);
		}
		closedir(d);
	}
}

int oci_gpu_probe(const char *dev_dir, const int *index, int n, const char *const *lib_dirs,
                  const char *visible, struct oci_gpu *g, char err[ERR_MSG_LEN])
{
	memset(g, 0, sizeof(*g));
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		char name[32];
		snprintf(name, sizeof(name), "nvidia%d", index[i]);
		rc = add_dev(g, dev_dir, name, true, err);
	}
	if (rc == 0)
		rc = add_dev(g, dev_dir, "nvidiactl", true, err);
	if (rc == 0)
		rc = add_dev(g, dev_dir, "nvidia-uvm", true, err);
	if (rc == 0)
		rc = add_dev(g, dev_dir, "nvidia-uvm-tools", false, err);
	if (rc == 0)
		rc = add_dev(g, dev_dir, "nvidia-modeset", false, err);
	if (rc < 0) {
		oci_gpu_release(g);
		return rc;
	}
	find_libs(lib_dirs ? lib_dirs : default_lib_dirs, &g->libs);
	g->visible = xstrdup(visible ? visible : "");
	return 0;
}

void oci_gpu_release(struct oci_gpu *g)
{
	if (!g)
		return;
	spec_strv_release(&g->libs);
	free(g->visible);
	memset(g, 0, sizeof(*g));
}

/* oci_instance.c — the OCI façade (see oci_instance.h): host set-up and
 * sweep, image preparation, instance start (bundle, network, config.json,
 * `crun run -d`) and stop (TERM, grace, KILL, delete, unmount, teardown).
 * The pieces live in oci_pull, oci_unpack, oci_config/oci_rtspec,
 * oci_bundle, oci_net and oci_runtime; this file only sequences them. */
#include "platform/oci_instance.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sha256.h"
#include "base/timeutil.h"
#include "platform/oci_bundle.h"
#include "platform/oci_unpack.h"

int oci_host_init(struct oci_host *h, const struct oci_host_config *cfg, char err[ERR_MSG_LEN])
{
	memset(h, 0, sizeof(*h));
	h->overlay = cfg->force_copy ? 0 : -1;
	char *home = NULL;
	if (cfg->home) {
		home = xstrdup(cfg->home);
	} else {
		const char *env = getenv("GPURUN_HOME");
		home = env && *env ? xstrdup(env) : file_path_join(file_home_dir(), ".gpurun");
	}
	char *images = file_path_join(home, "images");
	int rc = oci_store_init(&h->store, images, err);
	free(images);
	/* one tag per home: another daemon's containers and networks are not ours */
	char tag[OCI_NET_TAG_LEN + 1], hex[SHA256_HEX_LEN + 1], *abs = realpath(home, NULL);
	sha256_hex(abs ? abs : home, strlen(abs ? abs : home), hex);
	free(abs);
	snprintf(tag, sizeof(tag), "%.*s", OCI_NET_TAG_LEN, hex);
	char state_root[512];
	snprintf(state_root, sizeof(state_root), "%s/%s",
	         cfg->state_root ? cfg->state_root : OCI_STATE_ROOT, tag);
	if (rc == 0)
		rc = oci_runtime_detect(&h->rt, cfg->runtime, state_root, cfg->cgroup_fs, err);
	if (rc == 0)
		rc = oci_net_pool_init(&h->net, cfg->net_range, err);
	char e[ERR_MSG_LEN];
	if (rc == 0 && oci_net_pool_claim_host(&h->net, tag, OCI_NET_CLAIMS_DIR, e) < 0)
		log_warn("oci: network slots are not claimed host-wide: %s", e);
	h->bundles = file_path_join(home, "oci/instances");
	if (rc == 0 && (rc = file_mkdir_p(h->bundles, 0700)) < 0)
		err_set(err, rc, "cannot create %s: %s", h->bundles, err_str(rc));
	free(home);
	h->models_dir = cfg->models_dir ? xstrdup(cfg->models_dir) : NULL;
	/* containers see the store read-only: a model server in one can start
	 * (and list nothing) only if the layout is there */
	static const char *const layout[] = {"blobs", "manifests"};
	for (int i = 0; rc == 0 && h->models_dir && i < 2; i++) {
		char *p = file_path_join(h->models_dir, layout[i]);
		int r = file_mkdir_p(p, 0755);
		if (r < 0)
			log_warn("oci: cannot create %s (the model store is mounted read-only): %s",
			         p, err_str(r));
		free(p);
	}
	h->cgroup_fs = xstrdup(cfg->cgroup_fs ? cfg->cgroup_fs : OCI_CGROUP_FS);
	h->dev_dir = xstrdup(cfg->dev_dir ? cfg->dev_dir : "/dev");
	if (rc < 0) {
		oci_store_release(&h->store);
		oci_net_pool_release(&h->net);
		free(h->bundles);
		free(h->models_dir);
		free(h->cgroup_fs);
		free(h->dev_dir);
		memset(h, 0, sizeof(*h));
	}
	return rc;
}

void oci_host_release(struct oci_host *h)
{
	if (!h || !h->bundles)
		return;
	char err[ERR_MSG_LEN];
	if (oci_host_sweep(h, err) < 0)
		log_warn("oci shutdown sweep: %s", err);
	/* the runtime's root and its per-home parent, once empty */
	if (rmdir(h->rt.root) == 0) {
		char *slash = strrchr(h->rt.root, '/');
		if (slash) {
			*slash = 0;
			rmdir(h->rt.root);
		}
	}
	oci_store_release(&h->store);
	oci_net_pool_release(&h->net);
	free(h->bundles);
	free(h->models_dir);
	free(h->cgroup_fs);
	free(h->dev_dir);
	memset(h, 0, sizeof(*h));
}

int oci_host_sweep(struct oci_host *h, char err[ERR_MSG_LEN])
{
	struct spec_strv ids = {0}, mounts = {0};
	oci_runtime_list(&h->rt, "", &ids, err);
	int removed = 0, rc = 0;
	for (int64_t i = 0; i < ids.n; i++) {
		oci_runtime_kill(&h->rt, ids.v[i], SIGKILL, true, NULL);
		if (oci_runtime_delete(&h->rt, ids.v[i], err) == 0)
			removed++;
		else
			rc = ERR_BUSY;
	}
	oci_bundle_mounts_under(h->bundles, &mounts);
	for (int64_t i = mounts.n - 1; i >= 0; i--)
		oci_bundle_unmount(mounts.v[i], NULL);
	spec_strv_release(&mounts);
	oci_bundle_mounts_under(h->bundles, &mounts);
	if (mounts.n == 0) {
		file_remove_tree(h->bundles);
		file_mkdir_p(h->bundles, 0700);
	} else {
		rc = err_set(err, ERR_BUSY, "%lld mounts under %s could not be removed",
		             (long long)mounts.n, h->bundles);
	}
	if (oci_net_sweep(h->net.tag, err) < 0)
		rc = rc < 0 ? rc : ERR_BUSY;
	oci_cgroup_sweep(h->cgroup_fs);
	oci_net_pool_reset(&h->net);
	h->n_spare = 0;
	spec_strv_release(&ids);
	spec_strv_release(&mounts);
	return rc < 0 ? rc : removed;
}

int oci_image_prepare(struct oci_host *h, const char *image, const struct oci_pull_opts *o,
                      char *digest, char err[ERR_MSG_LEN])
{
	struct oci_ref ref;
	int rc = oci_ref_parse(image, &ref, err);
	if (rc < 0)
		return rc;
	struct oci_pull_opts def;
	if (!o) {
		oci_pull_opts_init(&def);
		o = &def;
	}
	struct oci_image img;
	if ((rc = oci_pull(&h->store, &ref, o, &img, err)) == 0) {
		char *rootfs = NULL;
		rc = oci_unpack_image(&h->store, &img, &rootfs, err);
		free(rootfs);
		snprintf(digest, OCI_DIGEST_LEN + 1, "%s", img.digest);
		oci_image_release(&img);
	}
	oci_ref_release(&ref);
	return rc;
}

int oci_host_prewarm(struct oci_host *h, int n, char err[ERR_MSG_LEN])
{
	if (n > OCI_SPARE_NETNS_MAX)
		n = OCI_SPARE_NETNS_MAX;
	while (h->n_spare < n) {
		struct oci_net *net = &h->spare[h->n_spare];
		int rc = oci_net_pool_take(&h->net, net, err);
		if (rc == 0 && (rc = oci_net_setup(net, err)) < 0)
			oci_net_pool_put(&h->net, net->slot);
		if (rc < 0)
			return rc;
		h->n_spare++;
	}
	return h->n_spare;
}

/* A spare namespace when there is one, else a new one set up now. */
static int net_acquire(struct oci_host *h, struct oci_net *net, char err[ERR_MSG_LEN])
{
	if (h->n_spare > 0) {
		*net = h->spare[--h->n_spare];
		return 0;
	}
	int rc = oci_net_pool_take(&h->net, net, err);
	if (rc == 0 && (rc = oci_net_setup(net, err)) < 0)
		oci_net_pool_put(&h->net, net->slot);
	return rc;
}

static bool id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > OCI_INSTANCE_ID_MAX ||
	    !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= '0' && id[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return true;
}

/* The image's config and cached rootfs, by manifest digest (no network). */
static int image_open(struct oci_host *h, const char *digest, struct oci_image_config *cfg,
                      char **lower, char err[ERR_MSG_LEN])
{
	struct oci_image img;
	int rc = oci_image_load(&h->store, digest, &img, err);
	if (rc < 0)
		return rc;
	struct buf b = BUF_INIT;
	rc = oci_store_read_blob(&h->store, img.manifest.config.digest, OCI_CONFIG_MAX, &b, err);
	if (rc == 0)
		rc = oci_image_config_parse(b.data, b.len, cfg, err);
	if (rc == 0 && (rc = oci_unpack_image(&h->store, &img, lower, err)) < 0)
		oci_image_config_release(cfg);
	buf_release(&b);
	oci_image_release(&img);
	return rc;
}

/* Bundle files live as long as the instance and a crash discards them: no
 * fsync on the start path (each one costs milliseconds on a busy disk). */
static int write_plain(const char *path, const void *p, size_t n, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, p, n);
	int rc = w == (ssize_t)n ? 0 : w < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

static int write_hosts(const struct oci_instance *inst, char err[ERR_MSG_LEN])
{
	char *path = file_path_join(inst->bundle, "hosts");
	struct buf b = BUF_INIT;
	buf_printf(&b, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	if (inst->has_net)
		buf_printf(&b, "%s\t%.63s\n", inst->net.ctr_ip, inst->id);
	int rc = write_plain(path, b.data, b.len, 0644);
	buf_release(&b);
	free(path);
	return rc < 0 ? err_set(err, rc, "write hosts: %s", err_str(rc)) : 0;
}

static int write_config(struct oci_host *h, const struct oci_instance_spec *s,
                        struct oci_instance *inst, const struct oci_image_config *img,
                        const struct oci_gpu *gpu, char err[ERR_MSG_LEN])
{
	uid_t uid;
	gid_t gid;
	int rc = oci_user_resolve(inst->rootfs, img->user, &uid, &gid, err);
	if (rc < 0)
		return rc;
	/* Cloud Run's 25000, unless our own hard limit is lower: the runtime
	 * cannot raise it once capabilities are dropped. */
	struct rlimit rl;
	int64_t nofile = OCI_NOFILE_LIMIT;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    (int64_t)rl.rlim_max < nofile)
		nofile = (int64_t)rl.rlim_max;
	char cgpath[128], *hosts = file_path_join(inst->bundle, "hosts");
	snprintf(cgpath, sizeof(cgpath), "/%s/%s", OCI_CGROUP_PARENT, inst->id);
	struct oci_run_config rc_cfg = {
	    .id = inst->id,
	    .rootfs = inst->rootfs,
	    .image = img,
	    .command = &s->spec->command,
	    .args = &s->spec->args,
	    .env = &s->spec->env,
	    .port = inst->port,
	    .k_service = s->k_service,
	    .k_revision = s->k_revision,
	    .k_configuration = s->k_configuration,
	    .uid = uid,
	    .gid = gid,
	    .netns_path = inst->has_net ? inst->net.ns_path : NULL,
	    .cgroups_path = cgpath,
	    .memory_bytes = s->spec->memory_bytes,
	    .cpu_milli = s->spec->cpu_milli,
	    .pids_limit = s->pids_limit > 0 ? s->pids_limit : OCI_PIDS_DEFAULT,
	    .nofile = nofile,
	    .models_dir = h->models_dir,
	    .hosts_file = hosts,
	    .gpu = gpu,
	};
	cJSON *j = NULL;
	if ((rc = oci_runtime_config(&rc_cfg, &j, err)) == 0) {
		struct buf out = BUF_INIT;
		json_append(&out, j);
		char *path = file_path_join(inst->bundle, "config.json");
		if ((rc = write_plain(path, out.data, out.len, 0600)) < 0)
			err_set(err, rc, "write %s: %s", path, err_str(rc));
		free(path);
		buf_release(&out);
	}
	cJSON_Delete(j);
	free(hosts);
	return rc;
}

static int open_pipes(int out[2], int errp[2], char err[ERR_MSG_LEN])
{
	out[0] = out[1] = errp[0] = errp[1] = -1;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		return err_set(err, -errno, "pipe: %s", err_str(-errno));
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Bundle, rootfs, network, config: everything before the runtime runs. */
static int prepare(struct oci_host *h, const struct oci_instance_spec *s, struct oci_instance *inst,
                   char err[ERR_MSG_LEN])
{
	struct oci_image_config img;
	char *lower = NULL;
	int rc = image_open(h, s->image_digest, &img, &lower, err);
	if (rc < 0)
		return rc;
	struct oci_gpu gpu = {0};
	if (s->n_gpu > 0 && (rc = oci_gpu_probe(h->dev_dir, s->gpu_index, s->n_gpu, s->gpu_lib_dirs,
	                                        s->gpu_visible, &gpu, err)) < 0)
		goto out;
	inst->bundle = file_path_join(h->bundles, inst->id);
	if (mkdir(inst->bundle, 0700) < 0) {
		rc = err_set(err, -errno, "instance %s: mkdir %s: %s", inst->id, inst->bundle,
		             err_str(-errno));
		goto out;
	}
	if ((rc = oci_bundle_rootfs(lower, inst->bundle, &h->overlay, &inst->rootfs, &inst->mounted,
	                            err)) < 0)
		goto out;
	if (!s->host_network) {
		if ((rc = net_acquire(h, &inst->net, err)) < 0)
			goto out;
		inst->has_net = true;
		snprintf(inst->addr, sizeof(inst->addr), "%s", inst->net.ctr_ip);
		inst->net_ns = time_mono_ns();
	} else {
		snprintf(inst->addr, sizeof(inst->addr), "127.0.0.1");
	}
	if ((rc = write_hosts(inst, err)) == 0)
		rc = write_config(h, s, inst, &img, s->n_gpu > 0 ? &gpu : NULL, err);
out:
	oci_gpu_release(&gpu);
	oci_image_config_release(&img);
	free(lower);
	return rc;
}

int oci_instance_start(struct oci_host *h, const struct oci_instance_spec *s,
                       struct oci_instance *inst, char err[ERR_MSG_LEN])
{
	memset(inst, 0, sizeof(*inst));
	inst->pidfd = inst->out_fd = inst->err_fd = -1;
	inst->start_ns = time_mono_ns();
	if (!id_valid(s->id))
		return err_set(err, ERR_INVALID,
		               "instance id '%s': lowercase letters, digits, "
		               "'-', '_', '.' (at most %d)",
		               s->id ? s->id : "", OCI_INSTANCE_ID_MAX);
	if (!s->spec || !oci_digest_valid(s->image_digest))
		return err_set(err, ERR_INVALID,
		               "instance %s: a spec and an image digest are needed", s->id);
	snprintf(inst->id, sizeof(inst->id), "%s", s->id);
	inst->port = s->port > 0 ? s->port : s->spec->port;
	int outp[2] = {-1, -1}, errp[2] = {-1, -1};
	int rc = prepare(h, s, inst, err);
	inst->prepared_ns = time_mono_ns();
	if (rc == 0)
		rc = open_pipes(outp, errp, err);
	if (rc == 0)
		rc = oci_runtime_run(&h->rt, inst->id, inst->bundle, outp[1], errp[1], &inst->pid,
		                     err);
	if (rc == 0) {
		inst->run_ns = time_mono_ns();
		inst->pidfd = (int)syscall(SYS_pidfd_open, inst->pid, 0);
		if (inst->pidfd < 0)
			rc = err_set(err, -errno, "instance %s: pidfd_open(%d): %s", inst->id,
			             (int)inst->pid, err_str(-errno));
	}
	if (rc == 0) {
		inst->out_fd = outp[0];
		inst->err_fd = errp[0];
		close_fd(&outp[1]);
		close_fd(&errp[1]);
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		close_fd(&outp[i]);
		close_fd(&errp[i]);
	}
	char e2[ERR_MSG_LEN];
	if (oci_instance_cleanup(h, inst, e2) < 0)
		log_warn("instance %s: cleanup after a failed start: %s", inst->id, e2);
	return rc;
}

int oci_instance_wait_ready(const struct oci_instance *inst, int64_t timeout_ms,
                            char err[ERR_MSG_LEN])
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)inst->port)};
	inet_pton(AF_INET, inst->addr, &sa.sin_addr);
	int64_t deadline = time_mono_ns() + timeout_ms * 1000000;
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return err_set(err, -errno, "socket: %s", err_str(-errno));
		int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (ok == 0)
			return 0;
		if (oci_instance_exited(inst))
			return err_set(err, ERR_CANCELLED,
			               "instance %s exited before listening on %s:%d", inst->id,
			               inst->addr, inst->port);
		if (time_mono_ns() > deadline)
			return err_set(err, ERR_TIMEOUT,
			               "instance %s: nothing listens on %s:%d after %lld ms",
			               inst->id, inst->addr, inst->port, (long long)timeout_ms);
		struct pollfd p = {.fd = inst->pidfd, .events = POLLIN};
		poll(&p, inst->pidfd >= 0 ? 1 : 0, 1);
	}
}

bool oci_instance_exited(const struct oci_instance *inst)
{
	if (inst->pidfd < 0)
		return true;
	struct pollfd p = {.fd = inst->pidfd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

int oci_instance_signal(struct oci_host *h, const struct oci_instance *inst, int sig,
                        char err[ERR_MSG_LEN])
{
	if (oci_instance_exited(inst))
		return 0;
	return oci_runtime_kill(&h->rt, inst->id, sig, sig == SIGKILL, err);
}

static bool wait_exit(const struct oci_instance *inst, int64_t ms)
{
	struct pollfd p = {.fd = inst->pidfd, .events = POLLIN};
	int64_t deadline = time_mono_ns() + ms * 1000000;
	for (;;) {
		int64_t left = (deadline - time_mono_ns()) / 1000000;
		if (poll(&p, 1, left > 0 ? (int)left : 0) == 1)
			return true;
		if (left <= 0)
			return false;
	}
}

int oci_instance_stop(struct oci_host *h, struct oci_instance *inst, int64_t grace_ms,
                      char err[ERR_MSG_LEN])
{
	if (inst->pidfd >= 0 && !oci_instance_exited(inst)) {
		oci_instance_signal(h, inst, SIGTERM, NULL);
		if (!wait_exit(inst, grace_ms)) {
			oci_instance_signal(h, inst, SIGKILL, NULL);
			wait_exit(inst, 5000);
		}
	}
	return oci_instance_cleanup(h, inst, err);
}

int oci_instance_cleanup(struct oci_host *h, struct oci_instance *inst, char err[ERR_MSG_LEN])
{
	int rc = 0;
	char e[ERR_MSG_LEN] = "";
	if (inst->pid > 0) {
		inst->oom_killed =
		    inst->oom_killed || oci_cgroup_oom_killed(h->cgroup_fs, inst->id);
		if ((rc = oci_runtime_delete(&h->rt, inst->id, e)) < 0)
			err_set(err, rc, "%s", e);
		inst->pid = 0;
	}
	close_fd(&inst->pidfd);
	if (inst->mounted && oci_bundle_unmount(inst->rootfs, e) == 0)
		inst->mounted = false;
	if (inst->has_net) {
		int r = oci_net_teardown(&inst->net, e);
		if (r < 0 && rc == 0)
			rc = err_set(err, r, "%s", e);
		oci_net_pool_put(&h->net, inst->net.slot);
		inst->has_net = false;
	}
	if (inst->bundle) {
		int r = oci_bundle_remove(inst->bundle, inst->rootfs, e);
		if (r < 0 && rc == 0)
			rc = err_set(err, r, "%s", e);
		if (r == 0) {
			free(inst->bundle);
			free(inst->rootfs);
			inst->bundle = inst->rootfs = NULL;
		}
	}
	return rc;
}

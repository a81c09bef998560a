/* oci_instance.h — the façade the daemon calls to run a revision from an
 * OCI image: prepare the image once (pull + unpack, cached by digest), then
 * start and stop instances of it. An instance is a crun/runc container with
 * its own writable layer (overlayfs on the cached rootfs, else a copy), its
 * own network namespace (or the host's), cgroup limits, PORT/K_* env, and
 * its stdout/stderr on pipes the caller reads — the same shape as a process
 * instance: a pid to watch (pidfd), two fds of output, an address and port
 * to proxy to, SIGTERM then SIGKILL to stop.
 *
 * Threads: oci_image_prepare blocks on the network (worker thread).
 * oci_instance_start blocks for the runtime's start (~20-40 ms) and
 * oci_instance_stop for up to the grace period; everything else returns at
 * once. A struct oci_host is used from one thread at a time.
 *
 * Leftovers: every container, mount, network namespace, veth and cgroup an
 * instance made is removed by oci_instance_stop; oci_host_sweep removes
 * whatever a crashed daemon left (call it at start-up and at shutdown). */
#ifndef GPURUN_PLATFORM_OCI_INSTANCE_H
#define GPURUN_PLATFORM_OCI_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "platform/oci_config.h"
#include "platform/oci_net.h"
#include "platform/oci_pull.h"
#include "platform/oci_runtime.h"
#include "platform/oci_store.h"
#include "platform/spec.h"

#define OCI_INSTANCE_ID_MAX 64
#define OCI_SPARE_NETNS_MAX 8

struct oci_host_config {
	const char *home;       /* $GPURUN_HOME; NULL: GPURUN_HOME or ~/.gpurun */
	const char *net_range;  /* NULL: OCI_NET_RANGE_DEFAULT */
	const char *runtime;    /* "crun", "runc" or NULL (crun, else runc) */
	const char *models_dir; /* mounted read-only at OCI_MODELS_PATH; NULL: none */
	const char *state_root; /* runtime --root parent; NULL: OCI_STATE_ROOT */
	const char *cgroup_fs;  /* NULL: OCI_CGROUP_FS */
	const char *dev_dir;    /* GPU device nodes; NULL: "/dev" */
	bool force_copy;        /* never use overlayfs (tests of the fallback) */
};

/* Daemon-wide OCI state. */
struct oci_host {
	struct oci_store store;
	struct oci_runtime rt;
	struct oci_net_pool net;
	char *bundles;    /* "$GPURUN_HOME/oci/instances" */
	char *models_dir; /* may be NULL */
	char *cgroup_fs;
	char *dev_dir;
	int overlay;                               /* -1 unknown, 0 no (copy), 1 yes */
	struct oci_net spare[OCI_SPARE_NETNS_MAX]; /* set up ahead, owned by no instance */
	int n_spare;
};

int oci_host_init(struct oci_host *h, const struct oci_host_config *cfg, char err[ERR_MSG_LEN]);
/* Sweeps (see below) and frees. */
void oci_host_release(struct oci_host *h);
/* Kills and deletes every container under our runtime root, unmounts and
 * removes every bundle, deletes every gpurun-* namespace and gpr* veth and
 * the empty cgroups: the start-up and shutdown sweep. Returns how many
 * containers it removed. */
int oci_host_sweep(struct oci_host *h, char err[ERR_MSG_LEN]);
/* Sets up network namespaces ahead until n (at most OCI_SPARE_NETNS_MAX)
 * are spare, so that an instance start takes one instead of paying the
 * ~7 ms of `ip` runs. Blocks for that long per namespace: call it when idle
 * (after a start, from a worker or a timer). Spares belong to no instance;
 * the sweep removes them. Returns how many are spare. */
int oci_host_prewarm(struct oci_host *h, int n, char err[ERR_MSG_LEN]);

/* Pulls (if needed) and unpacks the image; *digest (OCI_DIGEST_LEN + 1)
 * receives the manifest digest that names it from now on (a revision should
 * record "repo@digest"). A reference with a digest already in the store
 * needs no network. */
int oci_image_prepare(struct oci_host *h, const char *image, const struct oci_pull_opts *o,
                      char *digest, char err[ERR_MSG_LEN]);

/* What one instance runs. Strings are borrowed for the call. */
struct oci_instance_spec {
	const char *id;           /* [a-z0-9][a-z0-9_.-]*, unique on this host */
	const char *image_digest; /* from oci_image_prepare */
	const struct spec *spec;  /* command, args, env, port, cpu, memory of the revision */
	const char *k_service;
	const char *k_revision;
	const char *k_configuration;
	bool host_network;    /* `--network host`: no namespace; port is on the host */
	int port;             /* 0: spec->port (host_network: the port to set in PORT) */
	int64_t pids_limit;   /* 0: OCI_PIDS_DEFAULT */
	const int *gpu_index; /* allocated GPU indices (gpu.h), n_gpu of them */
	int n_gpu;
	const char *gpu_visible;         /* CUDA_VISIBLE_DEVICES value for them */
	const char *const *gpu_lib_dirs; /* NULL: the usual multiarch folders */
};

struct oci_instance {
	char id[OCI_INSTANCE_ID_MAX + 1];
	pid_t pid;     /* the container's init, in the host pid namespace */
	int pidfd;     /* readable when that process exits (poll / uv_poll) */
	int out_fd;    /* read end of the workload's stdout (O_NONBLOCK, CLOEXEC) */
	int err_fd;    /* read end of its stderr */
	char addr[16]; /* where to proxy: the container's address, or 127.0.0.1 */
	int port;
	bool has_net;
	struct oci_net net;
	char *bundle;        /* the instance's folder: config.json, rootfs, upper layer */
	char *rootfs;        /* its root: an overlay mount point or a copy */
	bool mounted;        /* rootfs is an overlay mount */
	bool oom_killed;     /* set by oci_instance_stop when the memory limit killed it */
	int64_t start_ns;    /* mono: oci_instance_start called */
	int64_t net_ns;      /* mono: its network namespace was ready (= start_ns without one) */
	int64_t prepared_ns; /* mono: bundle, rootfs and config.json written */
	int64_t run_ns;      /* mono: the runtime reported the container started */
};

/* Starts an instance; on failure nothing of it is left. inst->out_fd and
 * err_fd belong to the caller from then on (close them after the exit). */
int oci_instance_start(struct oci_host *h, const struct oci_instance_spec *s,
                       struct oci_instance *inst, char err[ERR_MSG_LEN]);
/* Polls a TCP connect to addr:port every millisecond until it succeeds
 * (0), the container exits (ERR_CANCELLED) or timeout_ms passes
 * (ERR_TIMEOUT): the startup probe for callers without an event loop. */
int oci_instance_wait_ready(const struct oci_instance *inst, int64_t timeout_ms,
                            char err[ERR_MSG_LEN]);
/* Sends sig to the container's init (SIGKILL: to every process in it). */
int oci_instance_signal(struct oci_host *h, const struct oci_instance *inst, int sig,
                        char err[ERR_MSG_LEN]);
/* True once the container's init has exited (pidfd readable). */
bool oci_instance_exited(const struct oci_instance *inst);
/* SIGTERM, up to grace_ms for the exit, SIGKILL, then oci_instance_cleanup. */
int oci_instance_stop(struct oci_host *h, struct oci_instance *inst, int64_t grace_ms,
                      char err[ERR_MSG_LEN]);
/* After the exit: delete the container, unmount, remove the network and the
 * bundle, close the pidfd (not out_fd/err_fd). Idempotent. */
int oci_instance_cleanup(struct oci_host *h, struct oci_instance *inst, char err[ERR_MSG_LEN]);

#endif

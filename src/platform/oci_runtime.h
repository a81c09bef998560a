/* oci_runtime.h — driving an OCI runtime (crun, else runc) through its
 * command line: `run -d --pid-file` with the caller's pipes as the
 * container's stdout/stderr (terminal off), `kill`, `delete -f`, `state`,
 * `list`. State lives under our own --root, so list and sweep see only
 * gpurun's containers.
 *
 * Hybrid cgroup hosts (cgroup v1 controllers plus a cgroup2 mount at
 * /sys/fs/cgroup/unified that holds controllers): crun refuses them ("cgroups
 * in hybrid mode not supported"). oci_runtime_detect notices the layout and
 * every crun call then runs in a private mount namespace with that cgroup2
 * mount lazily unmounted, where crun uses the v1 controllers (memory, cpu,
 * pids limits enforced). runc needs nothing. All calls block for the
 * runtime's own run time (tens of ms): call from a worker or accept it. */
#ifndef GPURUN_PLATFORM_OCI_RUNTIME_H
#define GPURUN_PLATFORM_OCI_RUNTIME_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"
#include "platform/spec.h"

#define OCI_STATE_ROOT     "/run/gpurun" /* <root>/crun or <root>/runc */
#define OCI_CGROUP_PARENT  "gpurun-oci"  /* /gpurun-oci/<id>; process instances: "gpurun" */
#define OCI_CGROUP_FS      "/sys/fs/cgroup"
#define OCI_CGROUP_UNIFIED "/sys/fs/cgroup/unified"

enum oci_runtime_kind { OCI_RUNTIME_CRUN, OCI_RUNTIME_RUNC };

struct oci_runtime {
	enum oci_runtime_kind kind;
	char bin[256];          /* the executable, as found in PATH */
	char root[256];         /* --root: the runtime's state folder */
	bool hybrid_workaround; /* crun on a hybrid host: see above */
};

/* want: "crun", "runc" or NULL (crun, else runc; GPURUN_OCI_RUNTIME may
 * name one). state_root NULL: OCI_STATE_ROOT. cgroup_fs NULL: OCI_CGROUP_FS
 * (tests pass a fake tree). ERR_NOT_FOUND when neither is installed. */
int oci_runtime_detect(struct oci_runtime *rt, const char *want, const char *state_root,
                       const char *cgroup_fs, char err[ERR_MSG_LEN]);
/* True when cgroup_fs is a v1 tree whose "unified" cgroup2 mount lists
 * controllers in cgroup.controllers. */
bool oci_cgroup_hybrid(const char *cgroup_fs);
const char *oci_runtime_name(const struct oci_runtime *rt);

/* `run -d`: creates and starts the container; returns when the runtime has
 * started it. out_fd/err_fd become the workload's stdout/stderr (the caller
 * keeps the read ends). *pid: the container's init, in our pid namespace.
 * On failure the runtime's own message is in err and nothing is left. */
int oci_runtime_run(const struct oci_runtime *rt, const char *id, const char *bundle, int out_fd,
                    int err_fd, pid_t *pid, char err[ERR_MSG_LEN]);
/* Sends sig to the container's init (all=true: every process in it). */
int oci_runtime_kill(const struct oci_runtime *rt, const char *id, int sig, bool all,
                     char err[ERR_MSG_LEN]);
/* `delete -f`: kills what is left, removes the cgroup and the state. A
 * container that does not exist is not an error. */
int oci_runtime_delete(const struct oci_runtime *rt, const char *id, char err[ERR_MSG_LEN]);
/* status: "creating", "created", "running", "stopped" (>= 16 bytes);
 * ERR_NOT_FOUND when there is no such container. */
int oci_runtime_state(const struct oci_runtime *rt, const char *id, char *status, pid_t *pid,
                      char err[ERR_MSG_LEN]);
/* Ids of the containers under our --root whose id starts with prefix. */
int oci_runtime_list(const struct oci_runtime *rt, const char *prefix, struct spec_strv *ids,
                     char err[ERR_MSG_LEN]);
/* rmdir of the empty cgroups under every controller's /gpurun parent (and
 * the parents themselves): what `delete` leaves behind. */
void oci_cgroup_sweep(const char *cgroup_fs);
/* True when the memory controller recorded an OOM kill in the container's
 * cgroup (read before delete). */
bool oci_cgroup_oom_killed(const char *cgroup_fs, const char *id);
/* A non-blocking fd that becomes readable when the container's memory
 * cgroup runs out of memory (*v2 false: every notification is an OOM; read 8
 * bytes) or its memory.events changes (*v2 true: read the inotify events,
 * then ask oci_cgroup_oom_killed); -1 when neither can be watched. The
 * caller closes it. */
int oci_cgroup_oom_watch(const char *cgroup_fs, const char *id, bool *v2);

#endif

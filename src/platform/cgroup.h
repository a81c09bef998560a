/* cgroup.h — CPU and memory limits for process instances through Linux
 * control groups, v2 (unified) or v1 (cpu + memory hierarchies). Each
 * instance gets <own cgroup>/<name>/<instance> — nested under the daemon's
 * own group, never outside it — with
 *   v2: cpu.max "<cpu_milli*100> 100000", memory.max <bytes>
 *   v1: cpu.cfs_quota_us / cpu.cfs_period_us, memory.limit_in_bytes
 * and the process moved in right after spawn (children it forks before that
 * moment stay outside: a few microseconds' window).
 *
 * Where the machine does not allow it (no cgroupfs, read-only, v2 with the
 * controllers not delegated), cgroup_ctl_init says why in `reason` and the
 * instance runs without limits: the daemon logs that once. Functions do
 * blocking file I/O on small cgroupfs files; call them from one thread. */
#ifndef GPURUN_PLATFORM_CGROUP_H
#define GPURUN_PLATFORM_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define CGROUP_PATH_MAX 1024

struct cgroup_ctl {
	int version;                   /* 0: unavailable, 1 or 2 */
	char cpu_dir[CGROUP_PATH_MAX]; /* the parent of instance groups (v2: the only one) */
	char mem_dir[CGROUP_PATH_MAX];
	char reason[ERR_MSG_LEN]; /* why version is 0, or a description of what is used */
};

/* root: "/sys/fs/cgroup" (tests may point elsewhere); name: the subtree,
 * e.g. "gpurun". Returns the version (0 when limits cannot be applied). */
int cgroup_ctl_init(struct cgroup_ctl *c, const char *root, const char *name);
/* Removes the (empty) subtree made by init. */
void cgroup_ctl_release(struct cgroup_ctl *c);
/* Creates the instance's group with the limits and moves pid into it. */
int cgroup_instance_apply(const struct cgroup_ctl *c, const char *id, int pid, int64_t cpu_milli,
                          int64_t memory_bytes, char err[ERR_MSG_LEN]);
/* SIGKILLs every process still in the instance's group (ones that left its
 * process group, e.g. by setsid); returns how many. */
int cgroup_instance_kill(const struct cgroup_ctl *c, const char *id);
/* Whether the kernel's OOM killer ended a process of the instance's group
 * (its memory limit was reached): the group's "oom_kill" count. The count
 * moves when the victim is sent SIGKILL, before it is gone, so a connection
 * the victim breaks is always seen after it. */
bool cgroup_instance_oom_killed(const struct cgroup_ctl *c, const char *id);
/* Removes the instance's group (its processes must be gone). */
void cgroup_instance_remove(const struct cgroup_ctl *c, const char *id);
/* The directory holding the instance's memory (v1) or only (v2) group. */
void cgroup_instance_dir(const struct cgroup_ctl *c, const char *id, bool memory, char *out,
                         size_t n);

#endif

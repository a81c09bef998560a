/* cgroup.c — per-instance CPU and memory limits in cgroup v2 or v1, nested
 * under the daemon's own group (see cgroup.h; kernel docs
 * admin-guide/cgroup-v2.rst and cgroup-v1/{cpu,memory}.rst). */
#include "platform/cgroup.h"

#include "base/log.h"
#include "base/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PERIOD_US 100000

static int write_file(const char *dir, const char *file, const char *val)
{
	char path[CGROUP_PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, val, strlen(val));
	int rc = n == (ssize_t)strlen(val) ? 0 : (n < 0 ? -errno : -EIO);
	close(fd);
	return rc;
}

static bool exists(const char *dir, const char *file)
{
	char path[CGROUP_PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

static int make_dir(const char *p)
{
	return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

/* This process's path in the hierarchy holding ctrl ("" for v2's). */
static bool own_path(const char *ctrl, char *out, size_t n)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[1024];
	bool found = false;
	while (f && !found && fgets(line, sizeof line, f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		line[strcspn(line, "\n")] = 0;
		c2[1 + strcspn(c2 + 1, "\n")] = 0;
		const char *list = c1 + 1;
		bool match = !ctrl[0] ? !*list : false;
		for (char *tok = (char *)list; ctrl[0] && tok && *tok;) {
			char *comma = strchr(tok, ',');
			size_t tl = comma ? (size_t)(comma - tok) : strlen(tok);
			if (tl == strlen(ctrl) && !strncmp(tok, ctrl, tl))
				match = true;
			tok = comma ? comma + 1 : NULL;
		}
		if (match) {
			snprintf(out, n, "%s", strcmp(c2 + 1, "/") ? c2 + 1 : "");
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static int init_v2(struct cgroup_ctl *c, const char *root, const char *name)
{
	char own[512], base[CGROUP_PATH_MAX - 64];
	if (!own_path("", own, sizeof own))
		return snprintf(c->reason, sizeof c->reason,
		                "cgroup v2: no entry in /proc/self/cgroup"),
		       0;
	snprintf(base, sizeof base, "%.300s%s", root, own);
	int rc = write_file(base, "cgroup.subtree_control", "+cpu +memory");
	if (rc) {
		snprintf(
		    c->reason, sizeof c->reason,
		    "cgroup v2: cannot enable cpu and memory under %.80s (%s): the daemon's group "
		    "must be delegated (systemd Delegate=yes) and hold no other process",
		    base, strerror(-rc));
		return 0;
	}
	snprintf(c->cpu_dir, sizeof c->cpu_dir, "%s/%s", base, name);
	if ((rc = make_dir(c->cpu_dir)) ||
	    (rc = write_file(c->cpu_dir, "cgroup.subtree_control", "+cpu +memory"))) {
		snprintf(c->reason, sizeof c->reason, "cgroup v2: %.160s: %s", c->cpu_dir,
		         strerror(-rc));
		return 0;
	}
	snprintf(c->mem_dir, sizeof c->mem_dir, "%s", c->cpu_dir);
	snprintf(c->reason, sizeof c->reason, "cgroup v2 at %.200s: cpu.max and memory.max",
	         c->cpu_dir);
	return c->version = 2;
}

static int init_v1_one(const char *root, const char *ctrl, const char *probe, const char *name,
                       char *out, char *reason)
{
	char own[256], mnt[256];
	snprintf(mnt, sizeof mnt, "%.200s/%s", root, ctrl);
	if (!exists(mnt, probe)) {
		snprintf(mnt, sizeof mnt, "%.200s/cpu,cpuacct", root);
		if (strcmp(ctrl, "cpu") || !exists(mnt, probe)) {
			snprintf(reason, ERR_MSG_LEN, "cgroup v1: no %s controller under %.160s",
			         ctrl, root);
			return -ENOENT;
		}
	}
	if (!own_path(ctrl, own, sizeof own)) {
		snprintf(reason, ERR_MSG_LEN, "cgroup v1: no %s entry in /proc/self/cgroup", ctrl);
		return -ENOENT;
	}
	snprintf(out, CGROUP_PATH_MAX, "%s%s/%s", mnt, own, name);
	int rc = make_dir(out);
	if (rc)
		snprintf(reason, ERR_MSG_LEN, "cgroup v1: cannot create %.180s: %s", out,
		         strerror(-rc));
	return rc;
}

int cgroup_ctl_init(struct cgroup_ctl *c, const char *root, const char *name)
{
	memset(c, 0, sizeof *c);
	if (exists(root, "cgroup.controllers"))
		return init_v2(c, root, name);
	if (init_v1_one(root, "cpu", "cpu.cfs_quota_us", name, c->cpu_dir, c->reason) ||
	    init_v1_one(root, "memory", "memory.limit_in_bytes", name, c->mem_dir, c->reason)) {
		if (c->cpu_dir[0])
			rmdir(c->cpu_dir);
		c->cpu_dir[0] = c->mem_dir[0] = 0;
		return 0;
	}
	snprintf(c->reason, sizeof c->reason,
	         "cgroup v1 at %.100s and %.100s: cfs quota, memory limit", c->cpu_dir, c->mem_dir);
	return c->version = 1;
}

void cgroup_ctl_release(struct cgroup_ctl *c)
{
	if (c->version == 0)
		return;
	rmdir(c->cpu_dir);
	if (strcmp(c->cpu_dir, c->mem_dir))
		rmdir(c->mem_dir);
	c->version = 0;
}

void cgroup_instance_dir(const struct cgroup_ctl *c, const char *id, bool memory, char *out,
                         size_t n)
{
	snprintf(out, n, "%s/%s", memory ? c->mem_dir : c->cpu_dir, id);
}

int cgroup_instance_apply(const struct cgroup_ctl *c, const char *id, int pid, int64_t cpu_milli,
                          int64_t memory_bytes, char err[ERR_MSG_LEN])
{
	if (c->version == 0)
		return err_set(err, ERR_UNSUPPORTED, "%s", c->reason);
	char cpu[CGROUP_PATH_MAX + 80], mem[CGROUP_PATH_MAX + 80], v[64], p[32];
	cgroup_instance_dir(c, id, false, cpu, sizeof cpu);
	cgroup_instance_dir(c, id, true, mem, sizeof mem);
	snprintf(p, sizeof p, "%d", pid);
	int rc = make_dir(cpu);
	if (!rc && c->version == 2) {
		snprintf(v, sizeof v, "%lld %d", (long long)cpu_milli * PERIOD_US / 1000,
		         PERIOD_US);
		rc = write_file(cpu, "cpu.max", v);
		snprintf(v, sizeof v, "%lld", (long long)memory_bytes);
		if (!rc)
			rc = write_file(cpu, "memory.max", v);
		if (!rc)
			rc = write_file(cpu, "cgroup.procs", p);
	} else if (!rc) {
		snprintf(v, sizeof v, "%d", PERIOD_US);
		rc = write_file(cpu, "cpu.cfs_period_us", v);
		snprintf(v, sizeof v, "%lld", (long long)cpu_milli * PERIOD_US / 1000);
		if (!rc)
			rc = write_file(cpu, "cpu.cfs_quota_us", v);
		if (!rc)
			rc = make_dir(mem);
		snprintf(v, sizeof v, "%lld", (long long)memory_bytes);
		if (!rc)
			rc = write_file(mem, "memory.limit_in_bytes", v);
		if (!rc)
			rc = write_file(cpu, "cgroup.procs", p);
		if (!rc)
			rc = write_file(mem, "cgroup.procs", p);
	}
	if (rc)
		return err_set(err, rc, "cgroup limits for %s: %s", id, strerror(-rc));
	return 0;
}

int cgroup_instance_kill(const struct cgroup_ctl *c, const char *id)
{
	if (c->version == 0)
		return 0;
	char dir[CGROUP_PATH_MAX + 80], path[CGROUP_PATH_MAX + 96];
	cgroup_instance_dir(c, id, false, dir, sizeof dir);
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "r");
	int pid, n = 0;
	while (f && fscanf(f, "%d", &pid) == 1)
		if (pid > 1 && kill(pid, SIGKILL) == 0)
			n++;
	if (f)
		fclose(f);
	return n;
}

bool cgroup_instance_oom_killed(const struct cgroup_ctl *c, const char *id)
{
	if (c->version == 0)
		return false;
	char dir[CGROUP_PATH_MAX + 80], path[CGROUP_PATH_MAX + 112], line[128];
	cgroup_instance_dir(c, id, true, dir, sizeof dir);
	/* v1 memory.oom_control and v2 memory.events both hold "oom_kill N" */
	snprintf(path, sizeof path, "%s/%s", dir,
	         c->version == 2 ? "memory.events" : "memory.oom_control");
	FILE *f = fopen(path, "re");
	long long n = 0;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "oom_kill ", 9))
			n = atoll(line + 9);
	if (f)
		fclose(f);
	return n > 0;
}

void cgroup_instance_remove(const struct cgroup_ctl *c, const char *id)
{
	if (c->version == 0)
		return;
	char dir[CGROUP_PATH_MAX + 80];
	for (int m = 0; m < (c->version == 1 ? 2 : 1); m++) {
		cgroup_instance_dir(c, id, m == 1, dir, sizeof dir);
		/* the kernel may still be tearing the last task down */
		for (int tries = 0; rmdir(dir) < 0 && errno == EBUSY && tries < 20; tries++)
			time_sleep_ms(5);
	}
}

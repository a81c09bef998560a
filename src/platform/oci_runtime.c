/* oci_runtime.c — crun / runc command lines (see oci_runtime.h), the hybrid
 * cgroup detection, and the cgroup leftovers sweep. No libcrun: Debian ships
 * no headers for it, and the command line is the stable interface. */
#include "platform/oci_runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/json.h"
#include "base/mem.h"
#include "platform/oci_internal.h"

#define CGROUP2_MAGIC 0x63677270
#define TMPFS_MAGIC   0x01021994

static bool in_path(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(out, cap, "%.*s/%s", (int)n, p, name);
		if (n > 0 && access(out, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

bool oci_cgroup_hybrid(const char *cgroup_fs)
{
	char p[512];
	struct statfs sf;
	if (statfs(cgroup_fs, &sf) == 0 && (unsigned long)sf.f_type == CGROUP2_MAGIC)
		return false; /* pure v2 */
	snprintf(p, sizeof(p), "%s/unified/cgroup.controllers", cgroup_fs);
	struct buf b = BUF_INIT;
	bool hybrid = file_read_all(p, &b, 4096) == 0 &&
	              slice_trim((struct slice){b.data ? b.data : "", b.len}).n > 0;
	buf_release(&b);
	return hybrid;
}

int oci_runtime_detect(struct oci_runtime *rt, const char *want, const char *state_root,
                       const char *cgroup_fs, char err[ERR_MSG_LEN])
{
	memset(rt, 0, sizeof(*rt));
	if (!want || !*want)
		want = getenv("GPURUN_OCI_RUNTIME");
	static const char *const names[] = {"crun", "runc"};
	for (int i = 0; i < 2; i++) {
		if (want && *want && strcmp(want, names[i]) != 0)
			continue;
		if (!in_path(names[i], rt->bin, sizeof(rt->bin)))
			continue;
		rt->kind = i == 0 ? OCI_RUNTIME_CRUN : OCI_RUNTIME_RUNC;
		snprintf(rt->root, sizeof(rt->root), "%s/%s",
		         state_root ? state_root : OCI_STATE_ROOT, names[i]);
		rt->hybrid_workaround = rt->kind == OCI_RUNTIME_CRUN &&
		                        oci_cgroup_hybrid(cgroup_fs ? cgroup_fs : OCI_CGROUP_FS);
		return 0;
	}
	return err_set(
	    err, ERR_NOT_FOUND, "no OCI runtime: %s is not installed (apt-get install %s)",
	    want && *want ? want : "neither crun nor runc", want && *want ? want : "crun");
}

const char *oci_runtime_name(const struct oci_runtime *rt)
{
	return rt->kind == OCI_RUNTIME_CRUN ? "crun" : "runc";
}

/* Runs `<bin> --root R <args...>`, the hybrid workaround applied for crun. */
static int rt_exec(const struct oci_runtime *rt, const char *const *args, int out_fd, int err_fd,
                   struct buf *out, char err[ERR_MSG_LEN])
{
	const char *argv[24];
	int n = 0;
	argv[n++] = rt->bin;
	argv[n++] = "--root";
	argv[n++] = rt->root;
	for (int i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	struct oci_exec e = {
	    .argv = argv,
	    .out_fd = out_fd,
	    .err_fd = err_fd,
	    .out = out,
	    .private_mounts = rt->hybrid_workaround,
	    .umount = rt->hybrid_workaround ? OCI_CGROUP_UNIFIED : NULL,
	    .new_session = true,
	};
	return oci__exec(&e, err);
}

/* The last error line of a runtime log: crun writes plain text, runc
 * `time=... level=error msg="..."`. */
static void log_reason(const char *log, char *out, size_t cap)
{
	struct buf b = BUF_INIT;
	snprintf(out, cap, "%s", "no message");
	if (file_read_all(log, &b, 1 << 20) == 0 && b.len) {
		while (b.len && b.data[b.len - 1] == '\n')
			b.data[--b.len] = 0;
		const char *line = strrchr(b.data, '\n');
		line = line ? line + 1 : b.data;
		const char *msg = strstr(line, "msg=\"");
		if (msg) {
			msg += 5;
			size_t n = strlen(msg);
			snprintf(out, cap, "%.*s", (int)(n && msg[n - 1] == '"' ? n - 1 : n), msg);
		} else {
			snprintf(out, cap, "%s", line);
		}
	}
	buf_release(&b);
}

int oci_runtime_run(const struct oci_runtime *rt, const char *id, const char *bundle, int out_fd,
                    int err_fd, pid_t *pid, char err[ERR_MSG_LEN])
{
	char *pidfile = file_path_join(bundle, "init.pid");
	char *logfile = file_path_join(bundle, "runtime.log");
	char logopt[600];
	snprintf(logopt, sizeof(logopt), "--log=%s", logfile);
	unlink(pidfile);
	unlink(logfile);
	/* --log is a global option: it goes before the command. */
	const char *args[] = {logopt,     "run",  "-d", "--pid-file", pidfile,
	                      "--bundle", bundle, id,   NULL};
	char xerr[ERR_MSG_LEN] = "";
	int rc = rt_exec(rt, args, out_fd, err_fd, NULL, xerr);
	struct buf b = BUF_INIT;
	if (rc == 0 && file_read_all(pidfile, &b, 64) == 0) {
		int64_t v;
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
			b.data[--b.len] = 0;
		*pid = str_to_i64(b.data ? b.data : "", &v) && v > 0 ? (pid_t)v : 0;
		if (*pid == 0)
			rc = err_set(err, ERR_PROTOCOL, "%s: unreadable pid file %s", rt->bin,
			             pidfile);
	} else if (rc == 0) {
		rc = err_set(err, ERR_PROTOCOL, "%s run %s: no pid file", oci_runtime_name(rt), id);
	} else {
		char reason[ERR_MSG_LEN];
		if (rc > 0)
			log_reason(logfile, reason, sizeof(reason));
		rc = err_set(err, rc < 0 ? rc : ERR_PROTOCOL, "%s run %s: %s", oci_runtime_name(rt),
		             id, rc < 0 ? xerr : reason);
		oci_runtime_delete(rt, id, NULL);
	}
	buf_release(&b);
	free(pidfile);
	free(logfile);
	return rc;
}

static int simple(const struct oci_runtime *rt, const char *const *args, struct buf *out,
                  char err[ERR_MSG_LEN])
{
	struct buf tmp = BUF_INIT;
	struct buf *o = out ? out : &tmp;
	char xerr[ERR_MSG_LEN] = "";
	int rc = rt_exec(rt, args, -1, -1, o, xerr);
	if (rc != 0) {
		while (o->len && o->data[o->len - 1] == '\n')
			o->data[--o->len] = 0;
		rc = err_set(err, rc < 0 ? rc : ERR_PROTOCOL, "%s %s %s: %s", oci_runtime_name(rt),
		             args[0], args[1] ? args[1] : "",
		             rc < 0   ? xerr
		             : o->len ? o->data
		                      : "failed");
	}
	buf_release(&tmp);
	return rc;
}

int oci_runtime_kill(const struct oci_runtime *rt, const char *id, int sig, bool all,
                     char err[ERR_MSG_LEN])
{
	char num[16];
	snprintf(num, sizeof(num), "%d", sig);
	const char *with_all[] = {"kill", "--all", id, num, NULL};
	const char *one[] = {"kill", id, num, NULL};
	return simple(rt, all ? with_all : one, NULL, err);
}

int oci_runtime_delete(const struct oci_runtime *rt, const char *id, char err[ERR_MSG_LEN])
{
	char status[16];
	pid_t pid;
	if (oci_runtime_state(rt, id, status, &pid, NULL) == ERR_NOT_FOUND)
		return 0;
	const char *args[] = {"delete", "-f", id, NULL};
	return simple(rt, args, NULL, err);
}

int oci_runtime_state(const struct oci_runtime *rt, const char *id, char *status, pid_t *pid,
                      char err[ERR_MSG_LEN])
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", rt->root, id);
	status[0] = 0;
	*pid = 0;
	if (!file_is_dir(path))
		return err_set(err, ERR_NOT_FOUND, "container %s: no such container", id);
	const char *args[] = {"state", id, NULL};
	struct buf out = BUF_INIT;
	int rc = simple(rt, args, &out, err);
	cJSON *j = rc == 0 ? json_parse(out.data ? out.data : "", out.len, NULL) : NULL;
	if (rc == 0 && !j)
		rc = err_set(err, ERR_PROTOCOL, "%s state %s: not JSON", oci_runtime_name(rt), id);
	if (j) {
		snprintf(status, 16, "%s", json_str(j, "status", "unknown"));
		*pid = (pid_t)json_i64(j, "pid", 0);
	}
	cJSON_Delete(j);
	buf_release(&out);
	return rc;
}

int oci_runtime_list(const struct oci_runtime *rt, const char *prefix, struct spec_strv *ids,
                     char err[ERR_MSG_LEN])
{
	/* Each container is a folder under --root named by its id: reading it
	 * needs no fork and no parsing of a table. */
	DIR *d = opendir(rt->root);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		char p[600];
		snprintf(p, sizeof(p), "%s/%s", rt->root, e->d_name);
		if (file_is_dir(p))
			spec_strv_push(ids, e->d_name);
	}
	closedir(d);
	return 0;
}

void oci_cgroup_sweep(const char *cgroup_fs)
{
	DIR *d = opendir(cgroup_fs);
	for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		char parent[600];
		snprintf(parent, sizeof(parent), "%s/%s/" OCI_CGROUP_PARENT, cgroup_fs, e->d_name);
		DIR *c = opendir(parent);
		for (struct dirent *k; c && (k = readdir(c)) != NULL;) {
			char child[900];
			snprintf(child, sizeof(child), "%s/%s", parent, k->d_name);
			if (k->d_name[0] != '.' && k->d_type == DT_DIR)
				rmdir(child); /* fails, harmlessly, while processes remain */
		}
		if (c) {
			closedir(c);
			rmdir(parent);
		}
	}
	if (d)
		closedir(d);
	char v2[600];
	snprintf(v2, sizeof(v2), "%s/" OCI_CGROUP_PARENT, cgroup_fs);
	rmdir(v2);
}

bool oci_cgroup_oom_killed(const char *cgroup_fs, const char *id)
{
	static const char *const files[] = {"memory/" OCI_CGROUP_PARENT "/%s/memory.oom_control",
	                                    OCI_CGROUP_PARENT "/%s/memory.events"};
	for (int i = 0; i < 2; i++) {
		char rel[300], path[900];
		snprintf(rel, sizeof(rel), files[i], id);
		snprintf(path, sizeof(path), "%s/%s", cgroup_fs, rel);
		struct buf b = BUF_INIT;
		bool oom = false;
		if (file_read_all(path, &b, 8192) == 0 && b.data) {
			const char *k = strstr(b.data, "oom_kill ");
			oom = k && atol(k + 9) > 0;
		}
		buf_release(&b);
		if (oom)
			return true;
	}
	return false;
}

/* v1: an eventfd registered on memory.oom_control through
 * cgroup.event_control (cgroup-v1/memory.rst, "OOM Control"); v2: inotify
 * on memory.events, which is modified on every oom and oom_kill. */
int oci_cgroup_oom_watch(const char *cgroup_fs, const char *id, bool *v2)
{
	char dir[900], path[960], line[64];
	snprintf(dir, sizeof(dir), "%s/memory/" OCI_CGROUP_PARENT "/%s", cgroup_fs, id);
	snprintf(path, sizeof(path), "%s/memory.oom_control", dir);
	int cfd = open(path, O_RDONLY | O_CLOEXEC);
	if (cfd >= 0) {
		*v2 = false;
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		snprintf(path, sizeof(path), "%s/cgroup.event_control", dir);
		int ctl = efd >= 0 ? open(path, O_WRONLY | O_CLOEXEC) : -1;
		int n = snprintf(line, sizeof(line), "%d %d", efd, cfd);
		bool ok = ctl >= 0 && write(ctl, line, (size_t)n) == n;
		if (ctl >= 0)
			close(ctl);
		close(cfd);
		if (!ok && efd >= 0)
			close(efd);
		return ok ? efd : -1;
	}
	snprintf(path, sizeof(path), "%s/" OCI_CGROUP_PARENT "/%s/memory.events", cgroup_fs, id);
	int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd >= 0 && inotify_add_watch(ifd, path, IN_MODIFY) < 0) {
		close(ifd);
		ifd = -1;
	}
	*v2 = true;
	return ifd;
}

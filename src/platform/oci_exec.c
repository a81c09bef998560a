/* oci_exec.c — running the helper commands the OCI runtime drives (crun,
 * runc, ip, cp): fork, optional private mount namespace (the hybrid-cgroup
 * workaround), exec, wait. Blocking and short-lived by design: long-running
 * workloads are started detached by crun itself. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/oci_internal.h"

#define CAPTURE_MAX (64u << 10)

/* Only async-signal-safe calls between fork and exec. */
static void child(const struct oci_exec *e, int cap_fd, int in_fd)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (e->new_session)
		setsid();
	int out = e->out_fd >= 0 ? e->out_fd : cap_fd >= 0 ? cap_fd : devnull;
	int errfd = e->err_fd >= 0 ? e->err_fd : cap_fd >= 0 ? cap_fd : devnull;
	int in = in_fd >= 0 ? in_fd : devnull;
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(126);
	if (e->private_mounts) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(125);
		if (e->umount && umount2(e->umount, MNT_DETACH) < 0)
			_exit(125);
	}
	syscall(SYS_close_range, 3U, ~0U, 0U);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(e->argv[0], (char *const *)e->argv);
	_exit(127);
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

static void feed(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t k = write(fd, s, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		s += k;
		n -= (size_t)k;
	}
}

int oci__exec(const struct oci_exec *e, char err[ERR_MSG_LEN])
{
	int pfd[2] = {-1, -1}, ifd[2] = {-1, -1};
	bool capture = e->out && (e->out_fd < 0 || e->err_fd < 0);
	if ((capture && pipe2(pfd, O_CLOEXEC) < 0) || (e->input && pipe2(ifd, O_CLOEXEC) < 0)) {
		int rc = -errno;
		close_pair(pfd);
		return err_set(err, rc, "%s: pipe: %s", e->argv[0], err_str(rc));
	}
	pid_t pid = fork();
	if (pid < 0) {
		int rc = -errno;
		close_pair(pfd);
		close_pair(ifd);
		return err_set(err, rc, "%s: fork: %s", e->argv[0], err_str(rc));
	}
	if (pid == 0)
		child(e, pfd[1], ifd[0]);
	if (e->input) {
		close(ifd[0]);
		feed(ifd[1], e->input); /* small: fits the pipe, never blocks for long */
		close(ifd[1]);
	}
	if (capture) {
		close(pfd[1]);
		char tmp[4096];
		for (;;) {
			ssize_t n = read(pfd[0], tmp, sizeof(tmp));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (e->out->len < CAPTURE_MAX)
				buf_append(e->out, tmp, (size_t)n);
		}
		close(pfd[0]);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			int rc = -errno;
			return err_set(err, rc, "%s: waitpid: %s", e->argv[0], err_str(rc));
		}
	}
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	int code = WEXITSTATUS(st);
	if (code == 127 || code == 126 || (code == 125 && e->private_mounts))
		err_set(err, ERR_NOT_FOUND, "%s: %s", e->argv[0],
		        code == 127   ? "cannot execute (not installed?)"
		        : code == 126 ? "cannot set up its standard streams"
		                      : "cannot set up a private mount namespace");
	return code;
}

int oci__run(const char *const *argv, const char *input, char err[ERR_MSG_LEN])
{
	struct buf out = BUF_INIT;
	struct oci_exec e = {.argv = argv, .out_fd = -1, .err_fd = -1, .out = &out, .input = input};
	int rc = oci__exec(&e, err);
	if (rc > 0) {
		while (out.len && (out.data[out.len - 1] == '\n' || out.data[out.len - 1] == ' '))
			out.data[--out.len] = 0;
		struct buf cmd = BUF_INIT;
		for (int i = 0; argv[i] && cmd.len < 120; i++)
			buf_printf(&cmd, "%s%s", i ? " " : "", argv[i]);
		rc = err_set(err, rc == 127 ? ERR_NOT_FOUND : ERR_PROTOCOL,
		             "`%s` failed (exit %d): %s", cmd.data, rc,
		             out.len ? out.data : "no output");
		buf_release(&cmd);
	}
	buf_release(&out);
	return rc;
}

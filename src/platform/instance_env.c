/* instance_env.c — what an instance runs and with which environment: the
 * Cloud Run/Knative runtime contract variables (PORT, K_SERVICE, K_REVISION,
 * K_CONFIGURATION; reference §1.2, §4.2), the GPU allocation, the built-in
 * images, the spec's env; a free loopback port for PORT; and ending the
 * orphans a crashed daemon left behind. */
#include "platform/instance_internal.h"

#include "base/buf.h"
#include "base/file.h"
#include "base/timeutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Images this binary runs itself, and the verb each maps to. */
static const struct {
	const char *image, *verb;
} builtins[] = {
    {SPEC_IMAGE_OLLAMA, "serve"},
    {SPEC_IMAGE_HELLO, "hello"},
};

/* Passed through from the daemon: what a program needs to find things. */
static const char *const inherited[] = {"PATH",   "HOME", "USER",   "LANG",
                                        "LC_ALL", "TZ",   "TMPDIR", "LD_LIBRARY_PATH"};

static void setenv_kv(struct spec_strv *env, const char *k, const char *v)
{
	struct buf b = BUF_INIT;
	size_t kl = strlen(k);
	buf_printf(&b, "%s=%s", k, v);
	for (int64_t i = 0; i < env->n; i++) {
		if (!strncmp(env->v[i], k, kl) && env->v[i][kl] == '=') {
			free(env->v[i]);
			env->v[i] = buf_steal(&b);
			return;
		}
	}
	spec_strv_push(env, b.data);
	buf_release(&b);
}

static int build_argv(const struct instance_runtime *rt, const struct spec *s,
                      struct spec_strv *argv, char *err)
{
	if (s->command.n > 0) {
		for (int64_t i = 0; i < s->command.n; i++)
			spec_strv_push(argv, s->command.v[i]);
	} else {
		size_t i, n = sizeof builtins / sizeof builtins[0];
		for (i = 0; i < n && (!s->image || strcmp(s->image, builtins[i].image)); i++)
			;
		if (i == n)
			return err_set(err, ERR_UNSUPPORTED,
			               "image '%s' needs the OCI runtime; the process runtime runs "
			               "gpurun/ollama, gpurun/hello or --command",
			               s->image ? s->image : "");
		spec_strv_push(argv, rt->self_exe);
		spec_strv_push(argv, builtins[i].verb);
	}
	for (int64_t i = 0; i < s->args.n; i++)
		spec_strv_push(argv, s->args.v[i]);
	return 0;
}

int instance__build(const struct instance_runtime *rt, const struct instance_start_req *req,
                    const char *id, int port, struct spec_strv *argv, struct spec_strv *env,
                    char err[ERR_MSG_LEN])
{
	const struct spec *s = req->spec;
	int rc = build_argv(rt, s, argv, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof inherited / sizeof inherited[0]; i++) {
		const char *v = getenv(inherited[i]);
		if (v)
			setenv_kv(env, inherited[i], v);
	}
	if (!getenv("PATH"))
		setenv_kv(env, "PATH", "/usr/local/bin:/usr/bin:/bin");
	char p[16];
	snprintf(p, sizeof p, "%d", port);
	setenv_kv(env, "PORT", p);
	setenv_kv(env, "K_SERVICE", req->service);
	setenv_kv(env, "K_REVISION", req->revision);
	setenv_kv(env, "K_CONFIGURATION", req->service);
	setenv_kv(env, "GPURUN_INSTANCE_ID", id);
	setenv_kv(env, "CUDA_VISIBLE_DEVICES", req->gpus ? req->gpus : "");
	setenv_kv(env, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
	if (s->image && !strcmp(s->image, SPEC_IMAGE_OLLAMA) && s->command.n == 0) {
		char host[32];
		snprintf(host, sizeof host, "127.0.0.1:%d", port);
		setenv_kv(env, "GPURUN_HOST", host);
		setenv_kv(env, "GPURUN_MODELS", rt->models_dir);
	}
	for (int64_t i = 0; i < s->env.n; i++)
		setenv_kv(env, s->env.items[i].name, s->env.items[i].value);
	return 0;
}

static bool port_taken(const struct instance_runtime *rt, int port)
{
	for (const struct instance *in = rt->live; in; in = in->next)
		if (in->port == port)
			return true;
	return false;
}

int instance__free_port(const struct instance_runtime *rt)
{
	for (int tries = 0; tries < 16; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 0;
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof a;
		int port = 0;
		if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
		    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
			port = ntohs(a.sin_port);
		close(fd);
		if (port && !port_taken(rt, port))
			return port;
	}
	return 0;
}

/* ---- orphans of an earlier daemon ---- */

/* Its environment names the instance: pid was not reused by another process. */
static bool is_instance(int pid, const char *id)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/environ", pid);
	struct buf b = BUF_INIT;
	bool yes = false;
	if (file_read_all(path, &b, 1 << 20) == 0 && b.data) {
		struct buf want = BUF_INIT;
		buf_printf(&want, "GPURUN_INSTANCE_ID=%s", id);
		for (size_t i = 0; i < b.len && !yes; i += strlen(b.data + i) + 1)
			yes = !strcmp(b.data + i, want.data);
		buf_release(&want);
	}
	buf_release(&b);
	return yes;
}

/* Running (a zombie has finished: only its parent's wait is missing). */
static bool alive(int pid)
{
	char path[64], st[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(st, 1, sizeof st - 1, f);
	fclose(f);
	st[n] = 0;
	const char *rp = strrchr(st, ')');
	return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

static bool wait_gone(int pid, int64_t ms)
{
	for (int64_t t = 0; alive(pid); t += 10) {
		if (t >= ms)
			return false;
		time_sleep_ms(10);
	}
	return true;
}

int instance_orphan_terminate(int pid, const char *id, int64_t grace_ms)
{
	if (pid <= 1 || !alive(pid) || !is_instance(pid, id))
		return 0;
	kill(-pid, SIGTERM);
	kill(pid, SIGTERM);
	if (wait_gone(pid, grace_ms))
		return 0;
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	return wait_gone(pid, 2000) ? 0 : -ETIMEDOUT;
}

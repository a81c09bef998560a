/* instance.c — spawning a process instance with uv_spawn in its own
 * session, its stdout/stderr appended to files the daemon tails into its
 * log (logs_tail.c: they outlive the daemon), SIGTERM then SIGKILL after
 * the grace, and exit handling (the rest of the group is killed with the
 * main process). Readiness is instance_probe.c; argv and env instance_env.c.
 * Memory is freed once every libuv handle of the instance has closed. */
#include "platform/instance_internal.h"

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int instance_runtime_new(uv_loop_t *loop, const struct instance_runtime_config *cfg,
                         struct instance_runtime **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	if (!cfg->home)
		return err_set(err, ERR_INVALID, "instance runtime: no home folder");
	char exe[4096];
	if (!cfg->self_exe) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n <= 0)
			return err_set(err, -errno, "cannot read /proc/self/exe: %s",
			               strerror(errno));
		exe[n] = 0;
	}
	struct instance_runtime *rt = xcalloc(1, sizeof *rt);
	rt->loop = loop;
	rt->home = xstrdup(cfg->home);
	rt->self_exe = xstrdup(cfg->self_exe ? cfg->self_exe : exe);
	rt->models_dir =
	    cfg->models_dir ? xstrdup(cfg->models_dir) : file_path_join(cfg->home, "models");
	rt->stop_grace_ms =
	    cfg->stop_grace_ms > 0 ? cfg->stop_grace_ms : INSTANCE_STOP_GRACE_MS_DEFAULT;
	rt->probe_first_ms =
	    cfg->probe_first_ms > 0 ? cfg->probe_first_ms : INSTANCE_PROBE_FIRST_MS;
	if (cfg->cgroup_root)
		cgroup_ctl_init(&rt->cg, cfg->cgroup_root,
		                cfg->cgroup_name ? cfg->cgroup_name : "gpurun");
	else
		snprintf(rt->cg.reason, sizeof rt->cg.reason, "cgroup limits are off");
	*out = rt;
	return 0;
}

void instance_runtime_free(struct instance_runtime *rt)
{
	if (!rt)
		return;
	if (rt->live)
		log_error("instance runtime freed with instances alive");
	cgroup_ctl_release(&rt->cg);
	free(rt->home);
	free(rt->self_exe);
	free(rt->models_dir);
	free(rt);
}

const struct cgroup_ctl *instance_runtime_cgroups(const struct instance_runtime *rt)
{
	return &rt->cg;
}

static void destroy(struct instance *in)
{
	struct instance_runtime *rt = in->rt;
	if (in->prev)
		in->prev->next = in->next;
	else if (rt->live == in)
		rt->live = in->next;
	if (in->next)
		in->next->prev = in->prev;
	logs_tail_close(in->tail, true);
	logs_writer_close(&in->log, time_wall_ns());
	free(in->service);
	free(in->revision);
	free(in->log_path);
	free(in->probe_path);
	free(in);
}

void instance__unref(struct instance *in)
{
	if (--in->open_handles == 0 && in->freed)
		destroy(in);
}

static void handle_closed(uv_handle_t *h)
{
	instance__unref(h->data);
}

void instance__close(struct instance *in, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, handle_closed);
}

/* The last output (the process is gone: its files hold all of it) goes
 * into the log, and the files go. */
static void output_end(struct instance *in, int64_t now)
{
	if (!in->tail)
		return;
	logs_tail_poll(in->tail, now);
	logs_tail_close(in->tail, true);
	in->tail = NULL;
}

/* ---- exit and stop ---- */

static void proc_exited(uv_process_t *p, int64_t status, int sig)
{
	struct instance *in = p->data;
	int64_t now = time_wall_ns();
	in->exit.exit_status = status;
	in->exit.term_signal = sig;
	in->phase = INSTANCE_EXITED;
	uv_timer_stop(&in->kill_timer);
	instance__probe_stop(in);
	kill(-in->pid, SIGKILL); /* whatever the main process left in its group */
	if (in->cgroup_applied) {
		in->exit.oom_killed = cgroup_instance_oom_killed(&in->rt->cg, in->id);
		cgroup_instance_kill(&in->rt->cg, in->id);
		cgroup_instance_remove(&in->rt->cg, in->id);
	}
	output_end(in, now);
	if (sig)
		logs_writer_note(&in->log, now, "instance %s ended by signal %d%s", in->id, sig,
		                 in->exit.killed ? " (SIGKILL after the grace period)" : "");
	else
		logs_writer_note(&in->log, now, "instance %s exited with status %lld", in->id,
		                 (long long)status);
	in->cb(in, INSTANCE_EV_EXITED, in->arg);
}

static void on_kill_timer(uv_timer_t *t)
{
	struct instance *in = t->data;
	if (in->phase == INSTANCE_EXITED)
		return;
	in->exit.killed = true;
	logs_writer_note(&in->log, time_wall_ns(), "grace period of %lld ms over: sending SIGKILL",
	                 (long long)in->rt->stop_grace_ms);
	kill(-in->pid, SIGKILL);
}

void instance_stop(struct instance *in)
{
	if (!in || in->phase == INSTANCE_EXITED || in->exit.stop_requested)
		return;
	in->exit.stop_requested = true;
	in->phase = INSTANCE_STOPPING;
	instance__probe_stop(in);
	logs_writer_note(&in->log, time_wall_ns(), "stopping: SIGTERM, SIGKILL in %lld ms",
	                 (long long)in->rt->stop_grace_ms);
	kill(-in->pid, SIGTERM);
	uv_timer_start(&in->kill_timer, on_kill_timer, (uint64_t)in->rt->stop_grace_ms, 0);
}

void instance_free(struct instance *in)
{
	if (!in || in->freed)
		return;
	if (in->phase != INSTANCE_EXITED) {
		log_warn("instance %s freed before it exited: killing it", in->id);
		kill(-in->pid, SIGKILL);
	}
	in->freed = true;
	instance__probe_stop(in);
	output_end(in, time_wall_ns());
	if (in->proc_inited)
		instance__close(in, (uv_handle_t *)&in->proc);
	instance__close(in, (uv_handle_t *)&in->probe_timer);
	instance__close(in, (uv_handle_t *)&in->kill_timer);
}

/* ---- start ---- */

static bool id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= INSTANCE_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

static void make_id(const struct instance_start_req *req, char *out)
{
	if (req->id) {
		snprintf(out, INSTANCE_ID_MAX, "%s", req->id);
		return;
	}
	unsigned char r[4] = {0};
	uv_random(NULL, NULL, r, sizeof r, 0, NULL);
	snprintf(out, INSTANCE_ID_MAX, "%s-%02x%02x%02x%02x", req->revision, r[0], r[1], r[2],
	         r[3]);
}

static void init_handles(struct instance *in)
{
	uv_loop_t *loop = in->rt->loop;
	uv_timer_init(loop, &in->probe_timer);
	uv_timer_init(loop, &in->kill_timer);
	in->probe_timer.data = in->kill_timer.data = in;
	in->proc.data = in;
	in->open_handles = 2; /* probe_timer, kill_timer; proc once spawned */
}

static int spawn(struct instance *in, struct spec_strv *argv, struct spec_strv *env, char *err)
{
	spec_strv_push(argv, ""); /* NULL-terminate both arrays */
	spec_strv_push(env, "");
	free(argv->v[argv->n - 1]);
	free(env->v[env->n - 1]);
	argv->v[argv->n - 1] = env->v[env->n - 1] = NULL;
	int fds[2];
	int rc = logs_tail_create(in->rt->loop, in->log_path, &in->log, fds, &in->tail, err);
	if (rc)
		return rc;
	uv_stdio_container_t stdio[3] = {
	    {.flags = UV_IGNORE},
	    {.flags = UV_INHERIT_FD, .data.fd = fds[0]},
	    {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
	};
	uv_process_options_t o = {
	    .exit_cb = proc_exited,
	    .file = argv->v[0],
	    .args = argv->v,
	    .env = env->v,
	    .flags = UV_PROCESS_DETACHED,
	    .stdio_count = 3,
	    .stdio = stdio,
	};
	in->proc_inited = true; /* uv_spawn initialises the handle even when it fails */
	in->open_handles++;
	rc = uv_spawn(in->rt->loop, &in->proc, &o);
	close(fds[0]); /* the instance has its own */
	close(fds[1]);
	if (rc)
		return err_set(err, rc == UV_ENOENT ? -ENOENT : -EIO, "cannot start %s: %s",
		               argv->v[0], uv_strerror(rc));
	in->pid = in->proc.pid;
	return 0;
}

static void apply_limits(struct instance *in, const struct spec *s)
{
	char e[ERR_MSG_LEN];
	const struct cgroup_ctl *cg = &in->rt->cg;
	if (cg->version == 0) {
		snprintf(in->note, sizeof in->note, "no cpu/memory limits: %.220s", cg->reason);
	} else if (cgroup_instance_apply(cg, in->id, in->pid, s->cpu_milli, s->memory_bytes, e)) {
		snprintf(in->note, sizeof in->note, "no cpu/memory limits: %.220s", e);
	} else {
		in->cgroup_applied = true;
		return;
	}
	logs_writer_note(&in->log, time_wall_ns(), "%s", in->note);
}

static struct instance *instance_new(struct instance_runtime *rt,
                                     const struct instance_start_req *req, const char *id)
{
	struct instance *in = xcalloc(1, sizeof *in);
	in->rt = rt;
	snprintf(in->id, sizeof in->id, "%s", id);
	in->service = xstrdup(req->service);
	in->revision = xstrdup(req->revision);
	in->probe = req->spec->probe;
	in->probe_path = req->spec->probe.path ? xstrdup(req->spec->probe.path) : NULL;
	in->probe.path = in->probe_path;
	in->container_port = req->spec->port;
	in->log.fd = -1;
	in->next = rt->live;
	if (rt->live)
		rt->live->prev = in;
	rt->live = in;
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/logs/%s/%s.log", rt->home, req->service, id);
	in->log_path = buf_steal(&p);
	return in;
}

int instance_start(struct instance_runtime *rt, const struct instance_start_req *req,
                   instance_cb cb, void *arg, struct instance **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	char id[INSTANCE_ID_MAX];
	if (!spec_name_valid(req->service))
		return err_set(err, ERR_INVALID, "invalid service name");
	make_id(req, id);
	if (!id_ok(id))
		return err_set(err, ERR_INVALID, "invalid instance id '%s'", id);
	int port = instance__free_port(rt);
	if (!port)
		return err_set(err, -EADDRNOTAVAIL, "no free loopback port");
	struct spec_strv argv = {0}, env = {0};
	int rc = instance__build(rt, req, id, port, &argv, &env, err);
	struct instance *in = rc ? NULL : instance_new(rt, req, id);
	if (in) {
		in->port = port;
		in->cb = cb;
		in->arg = arg;
		rc = logs_writer_open(&in->log, in->log_path, err);
		init_handles(in);
		in->start_wall = time_wall_ns();
		in->start_mono = time_mono_ns();
		if (!rc)
			rc = spawn(in, &argv, &env, err);
	}
	spec_strv_release(&argv);
	spec_strv_release(&env);
	if (rc) {
		if (in) {
			in->phase = INSTANCE_EXITED;
			logs_writer_note(&in->log, time_wall_ns(), "start failed: %s", err);
			instance_free(in);
		}
		return rc;
	}
	logs_writer_note(&in->log, in->start_wall, "instance %s of %s started: pid %d, PORT=%d",
	                 in->id, in->revision, in->pid, in->port);
	apply_limits(in, req->spec);
	instance__probe_begin(in);
	*out = in;
	return 0;
}

/* ---- accessors ---- */

const char *instance_id(const struct instance *in)
{
	return in->id;
}
int instance_pid(const struct instance *in)
{
	return in->pid;
}
int instance_port(const struct instance *in)
{
	return in->port;
}
enum instance_phase instance_phase(const struct instance *in)
{
	return in->phase;
}
int64_t instance_start_wall_ns(const struct instance *in)
{
	return in->start_wall;
}
int64_t instance_ready_wall_ns(const struct instance *in)
{
	return in->ready_wall;
}
int64_t instance_start_latency_ns(const struct instance *in)
{
	return in->ready_mono ? in->ready_mono - in->start_mono : 0;
}
const struct instance_exit *instance_exit_info(const struct instance *in)
{
	return &in->exit;
}
const char *instance_log_path(const struct instance *in)
{
	return in->log_path;
}
const char *instance_note(const struct instance *in)
{
	return in->note;
}

/* instance_internal.h — the runtime and instance structures shared by
 * instance.c (spawn, stop, exit, handles), instance_probe.c (readiness) and
 * instance_env.c (argv and environment). */
#ifndef GPURUN_PLATFORM_INSTANCE_INTERNAL_H
#define GPURUN_PLATFORM_INSTANCE_INTERNAL_H

#include "platform/instance.h"
#include "platform/logs.h"

struct instance_runtime {
	uv_loop_t *loop;
	char *home, *self_exe, *models_dir;
	int64_t stop_grace_ms, probe_first_ms;
	struct cgroup_ctl cg;
	struct instance *live; /* every instance not yet freed */
};

struct instance_probe {
	uv_tcp_t tcp;
	uv_connect_t connect;
	uv_write_t write;
	struct instance *in;
	char req[512];
	char resp[64];
	size_t got;
	int64_t started_mono;
};

struct instance {
	struct instance_runtime *rt;
	struct instance *prev, *next; /* rt->live */
	char id[INSTANCE_ID_MAX];
	char *service, *revision, *log_path;
	struct spec_probe probe; /* path borrowed from probe_path */
	char *probe_path;
	int container_port;
	uv_process_t proc;
	uv_timer_t probe_timer, kill_timer;
	struct instance_probe *attempt; /* the probe connection in flight */
	int64_t probe_interval_ms, deadline_mono;
	struct logs_writer log;
	struct logs_tail *tail; /* its stdout/stderr files, until it exits */
	int pid, port;
	enum instance_phase phase;
	instance_cb cb;
	void *arg;
	int64_t start_wall, ready_wall, start_mono, ready_mono;
	struct instance_exit exit;
	bool cgroup_applied, freed, proc_inited;
	int open_handles;
	char note[ERR_MSG_LEN];
};

/* argv and envp ("K=V") for the instance; ERR_UNSUPPORTED for an image the
 * process runtime cannot run. */
int instance__build(const struct instance_runtime *rt, const struct instance_start_req *req,
                    const char *id, int port, struct spec_strv *argv, struct spec_strv *env,
                    char err[ERR_MSG_LEN]);
/* A free loopback TCP port no live instance holds; 0 on failure. */
int instance__free_port(const struct instance_runtime *rt);

void instance__probe_begin(struct instance *in);
void instance__probe_stop(struct instance *in);
/* Closes a handle the instance owns, counting it down. */
void instance__close(struct instance *in, uv_handle_t *h);
/* One of the instance's handles has closed: the last one after
 * instance_free() frees it. */
void instance__unref(struct instance *in);

#endif

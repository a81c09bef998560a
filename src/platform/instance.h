/* instance.h — process instances of a revision on the daemon's libuv loop
 * (Cloud Run's container contract, reference §1.2, §1.7, §4.2):
 *
 *  - argv: spec command + args; image "gpurun/ollama" runs this binary's
 *    `serve` verb (GPURUN_MODELS shared by every instance), "gpurun/hello"
 *    its `hello` verb. Other images need the OCI runtime: ERR_UNSUPPORTED.
 *  - env: PATH, HOME, LANG, TZ, TMPDIR from the daemon; PORT (a free
 *    loopback port per instance), K_SERVICE, K_REVISION, K_CONFIGURATION,
 *    GPURUN_INSTANCE_ID, CUDA_VISIBLE_DEVICES (the allocation, "" for none),
 *    CUDA_DEVICE_ORDER=PCI_BUS_ID; then the spec's env.
 *  - its own session and process group; stdout and stderr are files beside
 *    $GPURUN_HOME/logs/<service>/<id>.log that the daemon tails into it line
 *    by line (logs.h): they outlive the daemon, so a restarted one that
 *    adopts the instance goes on logging it.
 *  - ready when 127.0.0.1:PORT accepts a TCP connection (or answers the
 *    HTTP startup probe path with 200-399), polled from 2 ms up to 100 ms;
 *    not ready within initial_delay + max(period x failures, timeout):
 *    INSTANCE_EV_START_FAILED, then it is stopped.
 *  - stop: SIGTERM to the group, SIGKILL after the grace (10 s); when the
 *    main process exits the rest of its group is killed too.
 *  - cgroup CPU and memory limits when the runtime has them (cgroup.h).
 *
 * Lifecycle: instance_start -> [EV_READY | EV_START_FAILED] -> EV_EXITED
 * (exactly once, whether it crashed, was stopped or never became ready).
 * instance_free() only after EV_EXITED (it may be called from that
 * callback); memory goes once libuv has closed every handle.
 *
 * Threading: everything runs on the runtime's loop thread. */
#ifndef GPURUN_PLATFORM_INSTANCE_H
#define GPURUN_PLATFORM_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"
#include "platform/cgroup.h"
#include "platform/spec.h"

#define INSTANCE_STOP_GRACE_MS_DEFAULT 10000 /* Cloud Run: SIGTERM, 10 s, SIGKILL */
#define INSTANCE_PROBE_FIRST_MS        2
#define INSTANCE_PROBE_MAX_MS          100
#define INSTANCE_PROBE_FAST_MS         1   /* the probe's period early in a start... */
#define INSTANCE_PROBE_FAST_WINDOW_MS  100 /* ...for this long after the spawn */
#define INSTANCE_ID_MAX                96

struct instance_runtime_config {
	const char *home;        /* $GPURUN_HOME: logs under home/logs */
	const char *self_exe;    /* the gpurun binary for built-in images; NULL: /proc/self/exe */
	const char *models_dir;  /* GPURUN_MODELS for gpurun/ollama; NULL: home/models */
	int64_t stop_grace_ms;   /* 0: 10 s */
	int64_t probe_first_ms;  /* 0: 2 ms */
	const char *cgroup_root; /* NULL: no limits; "/sys/fs/cgroup" in the daemon */
	const char *cgroup_name; /* NULL: "gpurun" */
};

struct instance_runtime;
struct instance;

enum instance_phase { INSTANCE_STARTING, INSTANCE_READY, INSTANCE_STOPPING, INSTANCE_EXITED };
enum instance_event { INSTANCE_EV_READY, INSTANCE_EV_START_FAILED, INSTANCE_EV_EXITED };

struct instance_exit {
	int64_t exit_status; /* when it exited by itself */
	int term_signal;     /* when a signal ended it (SIGKILL after the grace: 9) */
	bool stop_requested; /* instance_stop() had been called */
	bool killed;         /* the grace ran out: SIGKILL was sent */
	bool oom_killed;     /* its memory cgroup recorded an OOM kill (the limit) */
};

struct instance_start_req {
	const char *id; /* NULL: "<revision>-<8 hex>" */
	const char *service;
	const char *revision;
	const struct spec *spec;
	const char *gpus; /* CUDA_VISIBLE_DEVICES value, NULL or "" for none */
};

typedef void (*instance_cb)(struct instance *in, enum instance_event ev, void *arg);

int instance_runtime_new(uv_loop_t *loop, const struct instance_runtime_config *cfg,
                         struct instance_runtime **out, char err[ERR_MSG_LEN]);
/* After every instance has been freed and its handles closed (run the loop). */
void instance_runtime_free(struct instance_runtime *rt);
/* What the runtime does about limits, for the daemon's start-up log. */
const struct cgroup_ctl *instance_runtime_cgroups(const struct instance_runtime *rt);

/* Spawns the process. Errors (no such executable, an image that needs the
 * OCI runtime, no free port, log file) come back here, not as events. */
int instance_start(struct instance_runtime *rt, const struct instance_start_req *req,
                   instance_cb cb, void *arg, struct instance **out, char err[ERR_MSG_LEN]);
/* SIGTERM now, SIGKILL after the grace. Idempotent; nothing once exited. */
void instance_stop(struct instance *in);
void instance_free(struct instance *in);

const char *instance_id(const struct instance *in);
int instance_pid(const struct instance *in);
int instance_port(const struct instance *in);
enum instance_phase instance_phase(const struct instance *in);
int64_t instance_start_wall_ns(const struct instance *in);
int64_t instance_ready_wall_ns(const struct instance *in);    /* 0 before ready */
int64_t instance_start_latency_ns(const struct instance *in); /* spawn -> ready, monotonic */
const struct instance_exit *instance_exit_info(const struct instance *in);
const char *instance_log_path(const struct instance *in);
/* Why the start failed or limits were not applied; "" when nothing to say. */
const char *instance_note(const struct instance *in);

/* After a daemon restart: ends the process group of an instance the old
 * daemon started, if pid is still that instance (its environment holds
 * GPURUN_INSTANCE_ID=id): SIGTERM, then SIGKILL after grace_ms. Blocks up to
 * grace_ms. 0 when it is gone (or was not ours), else -errno. */
int instance_orphan_terminate(int pid, const char *id, int64_t grace_ms);

#endif

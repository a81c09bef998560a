/* oci_watch.h — an OCI instance (oci_instance.h) on the daemon's libuv
 * loop, with the lifecycle, events and exit record of a process instance
 * (instance.h), so the daemon treats both kinds alike:
 *
 *   oci_watch_start -> INSTANCE_EV_READY | INSTANCE_EV_START_FAILED
 *                   -> INSTANCE_EV_EXITED (exactly once)
 *
 *  - ready when <container address>:<probe port> accepts a TCP connection,
 *    or, for an HTTP probe, answers GET <path> with 200-399 (each attempt
 *    gets timeoutSeconds); tried every INSTANCE_PROBE_FAST_MS for the first
 *    INSTANCE_PROBE_FAST_WINDOW_MS, then from INSTANCE_PROBE_FIRST_MS doubling
 *    up to INSTANCE_PROBE_MAX_MS, after initialDelaySeconds; the budget is
 *    initial_delay + max(period x failures, timeout). Not ready in time:
 *    START_FAILED (the note says what the last attempt saw), then a stop.
 *  - out of memory (Cloud Run ends the instance): the memory cgroup's OOM
 *    notification, or oci_watch_oom() finding its oom_kill count moved,
 *    SIGKILLs the container's init (its pid namespace goes with it); the
 *    exit record says oom_killed and the note says why.
 *  - stdout and stderr are handed to the output callback as they arrive.
 *  - stop: SIGTERM to the container's init, SIGKILL to all of it after the
 *    grace; when init exits the runtime's `delete -f` ends the rest and the
 *    instance is cleaned up (container, mount, namespace, bundle) before
 *    EXITED is delivered.
 *  - exit record: the container's init is not our child, so its exit
 *    status is not known (-1); term_signal is SIGKILL when we killed it or
 *    the memory cgroup recorded an OOM kill (then oom_killed too).
 *
 * Blocking: start (the runtime's run, ~20-40 ms) and the runtime calls of
 * stop and cleanup (a few ms each) run on the loop thread, as uv_spawn does.
 * oci_watch_free only after EXITED (may be called from that callback). */
#ifndef GPURUN_PLATFORM_OCI_WATCH_H
#define GPURUN_PLATFORM_OCI_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"
#include "platform/instance.h"
#include "platform/oci_instance.h"

struct oci_watch;

typedef void (*oci_watch_cb)(struct oci_watch *w, enum instance_event ev, void *arg);
/* stream: 1 stdout, 2 stderr; bytes as they came (not split into lines). */
typedef void (*oci_output_fn)(void *arg, int stream, const char *p, size_t n);

struct oci_watch_config {
	uv_loop_t *loop;
	struct oci_host *host;
	int64_t stop_grace_ms;  /* 0: INSTANCE_STOP_GRACE_MS_DEFAULT */
	int64_t probe_first_ms; /* 0: INSTANCE_PROBE_FIRST_MS */
	oci_output_fn output;   /* may be NULL: output is read and dropped */
	void *output_arg;
};

/* Starts the container; errors (image not prepared, runtime failure) come
 * back here, not as events. */
int oci_watch_start(const struct oci_watch_config *cfg, const struct oci_instance_spec *s,
                    oci_watch_cb cb, void *arg, struct oci_watch **out, char err[ERR_MSG_LEN]);
/* SIGTERM now, SIGKILL after the grace. Idempotent; nothing once exited. */
void oci_watch_stop(struct oci_watch *w);
void oci_watch_free(struct oci_watch *w);

const struct oci_instance *oci_watch_instance(const struct oci_watch *w); /* addr, port, pid */
enum instance_phase oci_watch_phase(const struct oci_watch *w);
const struct instance_exit *oci_watch_exit_info(const struct oci_watch *w);
int64_t oci_watch_start_latency_ns(const struct oci_watch *w); /* start -> ready, monotonic */
/* Whether the instance ran out of memory: true once known; otherwise reads
 * the memory cgroup's oom_kill count now (a few us) and, when it moved,
 * kills the instance as above. The gateway asks when a connection to the
 * instance broke mid-request: the count moves before the victim dies, so
 * before any connection it held can break. */
bool oci_watch_oom(struct oci_watch *w);
/* Why the start failed or cleanup left something; "" when nothing to say. */
const char *oci_watch_note(const struct oci_watch *w);

#endif

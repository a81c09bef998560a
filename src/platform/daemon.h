/* daemon.h — `gpurun daemon`: the running platform on one libuv loop. It
 * owns the SQLite state, the gateway (Host-routed reverse proxy on
 * GPURUN_GATEWAY), the activator (requests held while instances start), the
 * autoscaler loop (Knative KPA every 2 s), the instances of every revision,
 * the usage ledger writer and the admin HTTP API on the unix socket
 * $GPURUN_HOME/gpurun.sock (mode 0600, routes registered by admin.h).
 * Cloud Run's contract is followed where it speaks (reference §1.2-1.9,
 * §4.4-4.5).
 *
 * Threads: every function here runs on the loop thread (the admin API's
 * handlers run there). The ledger is written by one background thread with
 * its own SQLite connection; daemon_state() is the loop thread's connection.
 *
 * Restarts: state survives (services, revisions, instances, ledger). A new
 * daemon adopts the instances of the old one that are still alive and
 * answer on their port, and marks the rest stopped, closing their ledger
 * spans at the last moment the old daemon was known alive. */
#ifndef GPURUN_PLATFORM_DAEMON_H
#define GPURUN_PLATFORM_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "base/err.h"
#include "platform/gpu.h"
#include "platform/state.h"

#define DAEMON_GATEWAY_DEFAULT "127.0.0.1:8080"
#define DAEMON_SOCKET_NAME     "gpurun.sock"
#define DAEMON_STATE_NAME      "state.db"
/* The state key (state_key_get_or_create, AUTH_KEY_LEN bytes) that signs
 * identity tokens; `gpurun auth print-identity-token` signs with it too. */
#define DAEMON_TOKEN_KEY_NAME      "identity-token"
#define DAEMON_TICK_MS_DEFAULT     2000  /* Knative's autoscaler tick */
#define DAEMON_HOLD_MIN_MS_DEFAULT 10000 /* Cloud Run: pend max(10 s, 3.5 x start) */
#define DAEMON_SHUTDOWN_MS_DEFAULT 10000

struct daemon;

struct daemon_config {
	const char *home;        /* NULL: $GPURUN_HOME, else ~/.gpurun */
	const char *gateway;     /* "host:port"; NULL: $GPURUN_GATEWAY, else the default */
	const char *region;      /* NULL: $GPURUN_REGION, else "local" */
	const char *self_exe;    /* binary for built-in images; NULL: /proc/self/exe */
	const char *models_dir;  /* NULL: $GPURUN_MODELS, else home/models */
	const char *socket_path; /* NULL: home/gpurun.sock */
	int64_t tick_ms;         /* 0: DAEMON_TICK_MS_DEFAULT */
	int64_t hold_min_ms;     /* 0: $GPURUN_HOLD_MIN (Go duration), else 10 s */
	int64_t stop_grace_ms;   /* 0: 10 s (SIGTERM -> SIGKILL) */
	bool no_admin;           /* tests: no unix socket */
	bool no_cgroups;         /* no cpu/memory limits */
};

/* Opens the state, adopts or cleans up the instances of an earlier daemon,
 * listens on the gateway and the admin socket, starts the min instances of
 * every service and the autoscaler timer. On an error *out may still be
 * set: then daemon_shutdown it, run the loop until done, daemon_free. */
int daemon_new(uv_loop_t *loop, const struct daemon_config *cfg, struct daemon **out,
               char err[ERR_MSG_LEN]);
typedef void (*daemon_done_fn)(struct daemon *d, void *data);
/* Graceful shutdown: stops accepting; requests in flight get until
 * deadline_ms; then instances are stopped (SIGTERM, SIGKILL after the
 * grace), their ledger rows written, the ledger flushed. done runs when
 * nothing of the daemon is left on the loop; then call daemon_free. */
void daemon_shutdown(struct daemon *d, int64_t deadline_ms, daemon_done_fn done, void *data);
void daemon_free(struct daemon *d); /* NULL ok */

struct state *daemon_state(struct daemon *d);
/* Call on the loop thread after a service, its revisions or its traffic
 * changed in the state (deploy, update-traffic, replace, delete): the daemon
 * re-reads it, starts min instances, drains instances of revisions that
 * lost their traffic, updates routing. A deleted service stops routing at
 * once (404) and its instances drain. */
void daemon_service_changed(struct daemon *d, const char *service);
/* The URL `describe` prints: http://NAME.localhost:PORT (gateway port).
 * Caller frees. */
char *daemon_service_url(struct daemon *d, const char *service);
const char *daemon_region(struct daemon *d);
const char *daemon_home(struct daemon *d); /* GPURUN_HOME */
struct gpu_inventory *daemon_gpus(struct daemon *d);
int daemon_gateway_port(struct daemon *d);
/* Signs an identity token for audience (a service URL) valid ttl_s
 * (<= 0: one hour), appended to out. */
int daemon_identity_token(struct daemon *d, const char *audience, int64_t ttl_s, struct buf *out);

/* Live view of a service's instances (describe, list). */
struct daemon_instance_info {
	char id[96];
	char revision[64];
	const char *state; /* "starting", "ready", "stopping" (static) */
	int port;          /* loopback port the gateway proxies to */
	int pid;
	int in_flight;      /* requests on it now */
	int64_t started_ns; /* wall */
	int64_t ready_ns;   /* wall, 0 before ready */
	bool adopted;       /* taken over from an earlier daemon */
};
/* *out: malloc'd array of *n (free() it; NULL when none). Unknown service:
 * 0 instances. */
int daemon_service_instances(struct daemon *d, const char *service,
                             struct daemon_instance_info **out, int64_t *n);
/* Requests held by the activator for the service now. */
int64_t daemon_service_held(struct daemon *d, const char *service);
/* Prometheus text (the gateway's GET /metrics), appended to out. */
void daemon_metrics_render(struct daemon *d, struct buf *out);

#endif

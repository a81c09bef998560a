/* daemon_internal.h — the structures shared by the daemon's files:
 * daemon*.c (life cycle, restore, instances, ledger writer), gateway*.c
 * (routing, proxying, metrics), activator.c (held requests) and scaler.c
 * (the autoscaler loop). Everything here lives on the loop thread except
 * the ledger writer's queue (its own lock). */
#ifndef GPURUN_PLATFORM_DAEMON_INTERNAL_H
#define GPURUN_PLATFORM_DAEMON_INTERNAL_H

#include <pthread.h>

#include "http/http.h"
#include "platform/auth.h"
#include "platform/autoscaler.h"
#include "platform/daemon.h"
#include "platform/gateway.h"
#include "platform/instance.h"
#include "platform/ledger.h"
#include "platform/logs.h"
#include "platform/oci_watch.h"
#include "platform/spec.h"

struct daemon;
struct rev;
struct gw_exchange;

/* ---- metrics (gateway_metrics.c) ---- */

#define GW_LAT_BUCKETS  16
#define GW_STATUS_SLOTS 24

struct gw_hist {
	int64_t count[GW_LAT_BUCKETS + 1]; /* the last one is +Inf */
	double sum;
	int64_t n;
};

struct gw_svc_metrics {
	struct gw_svc_metrics *next;
	char service[SPEC_NAME_MAX + 1];
	struct {
		int code;
		int64_t n;
	} status[GW_STATUS_SLOTS];
	struct gw_hist latency;    /* request seconds, arrival to last byte */
	struct gw_hist cold_start; /* instance spawn to ready, seconds */
	struct gw_hist first_byte; /* held requests: arrival to first byte */
	int64_t cold_starts, start_failures, crashes, rejected_429, timeouts_504;
	int64_t tokens;
};

void gw_hist_add(struct gw_hist *h, double seconds);
struct gw_svc_metrics *gw_metrics_for(struct daemon *d, const char *service);
void gw_metrics_free(struct daemon *d);

/* ---- instances (daemon_inst.c) ---- */

enum inst_phase { INST_STARTING, INST_READY, INST_STOPPING, INST_EXITED };

/* How long an instance whose connection broke mid-request takes no new ones */
#define INST_SUSPECT_NS (200 * 1000000LL)

struct inst {
	struct inst *next; /* rev->insts */
	struct rev *rev;
	struct instance *proc;  /* a process instance; NULL when adopted or OCI */
	struct oci_watch *ow;   /* an OCI instance (crun) */
	struct logs_writer log; /* OCI and adopted instances: their output */
	struct logs_tail *tail; /* adopted: the output files it still appends to */
	char id[INSTANCE_ID_MAX];
	char addr[16];  /* where to proxy: "" is 127.0.0.1; an OCI container's address */
	char gpus[256]; /* CUDA_VISIBLE_DEVICES value */
	int gpu_idx[SPEC_GPU_MAX], n_gpu;
	int pid, port;
	enum inst_phase phase;
	int active;              /* requests on it now */
	int64_t idle_since_mono; /* last time active fell to 0 */
	int64_t start_mono, start_wall, ready_wall;
	int64_t suspect_until_mono; /* no new requests before this (gateway_proxy.c) */
	bool adopted, stop_logged, crashed;
	bool oom; /* ran out of memory (daemon__inst_oom, or its exit record) */
	struct gw_exchange *xs; /* exchanges proxied to it (x->inext) */
	/* adopted instances: exit seen through a pidfd, stop by signals */
	uv_poll_t poll;
	uv_timer_t kill_timer;
	int pidfd;
	int open_handles;
};

/* ---- revisions ---- */

struct rev {
	struct rev *next; /* d->revs */
	struct daemon *d;
	char *name, *service;
	struct spec spec;
	struct kpa kpa;
	bool reachable; /* some service routes to it (percent > 0 or a tag) */
	bool tokens;    /* the model server: count generated tokens */
	bool oci;       /* an OCI image: crun instances (daemon_oci.c) */
	int prep;       /* OCI image: 0 not asked, 1 pulling, 2 ready, -1 failed */
	char digest[OCI_DIGEST_LEN + 1];
	char prep_err[ERR_MSG_LEN];
	struct inst *insts;
	int n_starting, n_ready, n_stopping;
	int64_t active;           /* requests on its instances */
	int64_t n_xs;             /* exchanges pointing at it (it outlives them) */
	struct gw_svc_metrics *m; /* its service's counters (live as long as the daemon) */
	struct gw_exchange *held_head, *held_tail;
	int64_t n_held;
	int64_t start_ns_sum, n_started; /* spawn -> ready, for the hold window */
	int fail_streak;
	int64_t next_start_mono; /* crash-loop back-off */
	char last_fail[ERR_MSG_LEN];
};

/* ---- services (routing table) ---- */

struct svc_target {
	struct rev *rev;
	int percent;
	char *tag;
};

struct svc {
	struct svc *next;
	char *name, *url;
	bool allow_unauth;
	struct svc_target *targets;
	int n_targets;
	char **domains; /* custom Host names (annotation gpurun.dev/domains) */
	int n_domains;
};

/* ---- one proxied request (gateway_proxy.c) ---- */

enum gw_state { GW_HELD, GW_PROXY, GW_TUNNEL };

struct gw_exchange {
	struct gw_exchange *prev, *next;   /* d->xs */
	struct gw_exchange *qnext;         /* rev->held_* */
	struct gw_exchange *inext, *iprev; /* inst->xs */
	struct gw_exchange *pnext, *pprev; /* d->deferred: head waiting for the loop turn's end */
	struct daemon *d;
	struct http_req *r;
	struct svc *svc; /* borrowed for the handler only */
	struct rev *rev;
	struct inst *inst;
	struct http_creq *q;
	struct http_stream *s;
	struct http_raw *tun[2];
	enum gw_state state;
	int64_t t0_mono, t0_wall, deadline_mono, hold_deadline_mono, first_byte_mono;
	int64_t end_mono; /* set when the end was just timed (x_end reads no clock) */
	int64_t dispatch_wall;
	bool started, held, was_held, timed_out, crashed, ended, is_upgrade, deferred, has_body;
	bool oom; /* its instance ran out of memory: 500, as Cloud Run answers */
	int retries;
	int64_t resp_cl; /* the instance's Content-Length, -1 none */
	struct buf pend; /* answer bytes held until the end of this loop turn */
	int status;
	int64_t bytes_out, tokens;
	/* from here on text that gw_exchange_new writes and buffers kept across
	 * reuse: a recycled exchange is zeroed only above this line */
	char request_id[48];
	char service[SPEC_NAME_MAX + 1];
	char inst_id[INSTANCE_ID_MAX]; /* where it went ("" before dispatch) */
	char remote[48], method[16];
	char target[512]; /* for the access log (truncated) */
	struct buf hdr;   /* X-Forwarded-For value and other header storage */
	struct buf line;  /* model server: tail of the current NDJSON line */
};

/* ---- the ledger writer (daemon_ledger.c) ---- */

struct ledger_writer;
/* Opens its own connection to path and starts the thread. */
int ledger_writer_start(const char *path, struct ledger_writer **out, char err[ERR_MSG_LEN]);
/* Queues a ledger row (strings copied). */
void ledger_writer_row(struct ledger_writer *w, const struct ledger_row *row);
/* Queues an instance row insert (strings copied). */
void ledger_writer_instance(struct ledger_writer *w, const struct state_instance *in);
void ledger_writer_phase(struct ledger_writer *w, const char *id, enum state_instance_phase ph,
                         int64_t at_ns, int exit_status, const char *reason);
/* Hands what was queued since the last call to the thread (once per loop
 * iteration: one wake-up for many rows). */
void ledger_writer_kick(struct ledger_writer *w);
/* Blocks until everything queued so far is on disk. */
void ledger_writer_flush(struct ledger_writer *w);
/* Flushes, stops the thread, closes its connection. NULL ok. */
void ledger_writer_stop(struct ledger_writer *w);
int64_t ledger_writer_written(struct ledger_writer *w);

/* ---- the daemon ---- */

struct daemon {
	uv_loop_t *loop;
	char *home, *region, *gw_host, *socket_path, *self_exe, *models_dir, *state_path;
	char *alive_path;
	int gw_port;
	int64_t tick_ms, hold_min_ms, stop_grace_ms;
	struct state *st;
	struct gpu_inventory gpus;
	uint8_t key[AUTH_KEY_LEN];
	struct instance_runtime *irt;
	struct http_server *gw, *admin;
	struct http_router *admin_rt;
	struct http_client *client;
	struct ledger_writer *lw;
	struct svc *svcs;
	struct rev *revs;
	struct gw_exchange *xs;
	int64_t n_xs;
	struct gw_exchange *deferred; /* answers to start at the end of this loop turn */
	struct gw_exchange *spare_xs; /* ended exchanges, for reuse (x->next) */
	int n_spare_xs;
	int64_t access_flushed_ns; /* mono: last access-log write */
	int64_t n_insts;           /* live inst structs */
	struct gw_svc_metrics *metrics;
	struct oci_host oci; /* once an OCI revision needs it */
	int oci_state;       /* 0 not set up, 1 ready, -1 unavailable (oci_err says why) */
	char oci_err[ERR_MSG_LEN];
	int64_t oci_preps; /* image pulls in flight (worker threads) */
	int64_t requests_total;
	uv_timer_t tick, sweep;
	uv_prepare_t flush;
	bool flush_on, sweep_on;
	struct buf access; /* access log lines not yet written */
	int access_fd;
	uint64_t rng;
	bool shutting_down, gw_closed, admin_closing, admin_closed, stopping_insts, restoring;
	bool finishing;
	int alive_fd; /* heartbeat file: the last moment this daemon was alive */
	int handles_open;
	int64_t shutdown_deadline_ms;
	daemon_done_fn done;
	void *done_data;
};

/* daemon.c */
uint64_t daemon__rand(struct daemon *d);
/* Schedules the end-of-iteration flush (access log, ledger hand-over). */
void daemon__want_flush(struct daemon *d);
struct rev *daemon__rev_find(struct daemon *d, const char *name);
/* Loads the revision from the state (or finds it). NULL if it is gone. */
struct rev *daemon__rev_get(struct daemon *d, const char *name);
struct svc *daemon__svc_find(struct daemon *d, const char *name);
/* Frees revisions that nothing routes to and that have no instance left. */
void daemon__revs_gc(struct daemon *d);
/* Everything stopped during shutdown: finish it. */
void daemon__shutdown_step(struct daemon *d);

/* daemon_restore.c */
/* Adopts live instances of an earlier daemon, closes the rest. */
void daemon__restore(struct daemon *d);
void daemon__heartbeat(struct daemon *d);

/* daemon_inst.c */
int inst_start(struct rev *rv, char err[ERR_MSG_LEN]);
void inst_stop(struct inst *in, const char *reason);
/* An instance found alive after a restart. */
void inst_adopt(struct rev *rv, const struct state_instance *si);
/* Ready, start failed or exited (x: exit record, EXITED only); the caller
 * frees the runtime's object after EXITED. */
void inst__event(struct inst *in, enum instance_event ev, const struct instance_exit *x,
                 const char *note);

/* daemon_oci.c */
/* 0: the revision's image is ready (rv->digest); 1: being pulled on a
 * worker thread (scaler_decide runs again when done); < 0: it cannot run. */
int daemon__oci_prepare(struct rev *rv, char err[ERR_MSG_LEN]);
/* Starts an OCI instance for in (id, GPUs set): fills ow, addr, port, pid. */
int daemon__oci_start(struct rev *rv, struct inst *in, char err[ERR_MSG_LEN]);
/* Start-up: containers an earlier daemon left are removed. */
void daemon__oci_sweep_leftovers(struct daemon *d);
/* Shutdown: sweep and release the OCI host once nothing runs. */
void daemon__oci_release(struct daemon *d);
/* Did the instance (OCI or process) run out of memory? Asked when a
 * connection to it broke mid-request: reads its memory cgroup's OOM record
 * (which moves before the victim dies, so before its connections break) and,
 * when it did, kills the whole instance (Cloud Run's rule); sets in->oom. */
bool daemon__inst_oom(struct inst *in);
const char *inst_phase_str(enum inst_phase p);

/* activator.c */
void activator_hold(struct gw_exchange *x);
/* Dispatches held requests to instances with room, oldest first. */
void activator_release(struct rev *rv);
/* Fails every held request of rv with status and message. */
void activator_fail_all(struct rev *rv, int status, const char *msg);
/* A held request leaves the queue (done, cancelled or expired). */
void activator_unlink(struct gw_exchange *x);
/* Deadlines: held requests past their window (429) or timeout (504),
 * proxied ones past their timeout (504). */
void activator_sweep(struct daemon *d, int64_t now_mono);
void activator_sweep_arm(struct daemon *d);
struct inst *activator_pick(struct rev *rv);
int64_t activator_hold_ms_for(struct rev *rv);

/* scaler.c */
void scaler_tick(struct daemon *d);
/* One decision for rv now (a request found no room, an instance failed or
 * exited, the service changed). */
void scaler_decide(struct rev *rv);
/* The revision's in-flight count changed. */
void scaler_observe(struct rev *rv);

/* gateway.c */
int gateway_start(struct daemon *d, const char *host, int port, char err[ERR_MSG_LEN]);
void gateway_handle(struct http_req *r, void *data);

/* gateway_proxy.c */
/* Sends x to in (x was held or is new); in has room. */
void gw_dispatch(struct gw_exchange *x, struct inst *in);
/* Answers x with an error and ends it. */
void gw_fail(struct gw_exchange *x, int status, const char *msg);
/* An instance died: its exchanges end (502, or a cut stream). */
void gw_inst_crashed(struct inst *in);
/* Request timeout of a proxied exchange. */
void gw_timeout(struct gw_exchange *x);
/* End of a loop turn: answers whose head came in it start streaming (a
 * whole small answer that came in one turn went out in one write). */
void gw_flush_deferred(struct daemon *d);
/* Frees the spare exchanges (daemon_free). */
void gw_spares_free(struct daemon *d);
struct gw_exchange *gw_exchange_new(struct daemon *d, struct http_req *r, struct rev *rv,
                                    const char *service);

/* gateway_log.c */
void gw_access_log(struct gw_exchange *x, int64_t end_mono);
void gw_access_flush(struct daemon *d);

#endif

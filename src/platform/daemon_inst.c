/* daemon_inst.c — the daemon's instances of a revision: start (GPU
 * allocation, process spawn, state and ledger rows), readiness (held
 * requests released at once), stop (SIGTERM, SIGKILL after the grace) and
 * exit (in-flight requests end with 502, or 500 when it ran out of memory;
 * a replacement starts; ledger span closed). Instances adopted from an
 * earlier daemon are watched through a pidfd and stopped with signals; their
 * output files (logs_tail.c) are tailed from where the old daemon stopped. */
#include "platform/daemon_internal.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"
#include "platform/state.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const phase_names[] = {"starting", "ready", "stopping", "exited"};

const char *inst_phase_str(enum inst_phase p)
{
	return (unsigned)p < 4 ? phase_names[p] : "unknown";
}

static void ledger_event(struct inst *in, enum ledger_kind k, int64_t at_ns)
{
	struct rev *rv = in->rev;
	struct ledger_row row = {
	    .kind = k,
	    .at_ns = at_ns,
	    .service = rv->service,
	    .revision = rv->name,
	    .instance = in->id,
	};
	if (k == LEDGER_INSTANCE_START) {
		row.cpu_milli = rv->spec.cpu_milli;
		row.memory_bytes = rv->spec.memory_bytes;
		row.gpus = rv->spec.gpu;
		row.gpu_type = rv->spec.gpu_type;
		row.instance_based = !rv->spec.cpu_throttling;
		row.min_instance = rv->n_ready + rv->n_starting <= rv->spec.min_instances;
	}
	ledger_writer_row(rv->d->lw, &row);
	daemon__want_flush(rv->d);
}

static void link_inst(struct rev *rv, struct inst *in)
{
	in->rev = rv;
	in->next = rv->insts;
	rv->insts = in;
	rv->d->n_insts++;
}

static void unlink_inst(struct inst *in)
{
	struct rev *rv = in->rev;
	for (struct inst **pp = &rv->insts; *pp; pp = &(*pp)->next) {
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	}
	rv->d->n_insts--;
}

/* Leaves the counters of the phase it was in. */
static void leave_phase(struct inst *in)
{
	struct rev *rv = in->rev;
	if (in->phase == INST_STARTING)
		rv->n_starting--;
	else if (in->phase == INST_READY)
		rv->n_ready--;
	else if (in->phase == INST_STOPPING)
		rv->n_stopping--;
}

static void on_ready(struct inst *in)
{
	struct rev *rv = in->rev;
	struct daemon *d = rv->d;
	int64_t now = time_mono_ns();
	leave_phase(in);
	in->phase = INST_READY;
	rv->n_ready++;
	in->ready_wall = in->proc ? instance_ready_wall_ns(in->proc) : time_wall_ns();
	in->idle_since_mono = now;
	int64_t took = now - in->start_mono;
	rv->start_ns_sum += took;
	rv->n_started++;
	rv->fail_streak = 0;
	gw_hist_add(&gw_metrics_for(d, rv->service)->cold_start, (double)took / 1e9);
	activator_release(rv); /* before any disk work: the held requests go first */
	ledger_event(in, LEDGER_INSTANCE_READY, in->ready_wall);
	ledger_writer_phase(d->lw, in->id, STATE_INSTANCE_READY, in->ready_wall, 0, NULL);
	log_info("instance %s ready in %.1f ms (port %d)", in->id, (double)took / 1e6, in->port);
}

static void start_failed(struct rev *rv, const char *why)
{
	struct daemon *d = rv->d;
	rv->fail_streak++;
	int64_t backoff_ms = 100LL << (rv->fail_streak < 9 ? rv->fail_streak : 9);
	if (backoff_ms > 30000)
		backoff_ms = 30000;
	rv->next_start_mono = time_mono_ns() + backoff_ms * 1000000;
	snprintf(rv->last_fail, sizeof rv->last_fail, "%s", why);
	gw_metrics_for(d, rv->service)->start_failures++;
	log_warn("revision %s: instance start failed: %s", rv->name, why);
	if (rv->n_ready + rv->n_starting == 0 && rv->n_held > 0) {
		char msg[ERR_MSG_LEN + 64];
		snprintf(msg, sizeof msg, "instance failed to start: %s", why);
		activator_fail_all(rv, 503, msg);
	}
}

/* The instance is gone: state, ledger, requests, GPUs, a replacement. */
static void inst_exited(struct inst *in, int status, const char *reason)
{
	struct rev *rv = in->rev;
	struct daemon *d = rv->d;
	bool unexpected = in->phase != INST_STOPPING;
	int64_t now_wall = time_wall_ns();
	leave_phase(in);
	in->phase = INST_EXITED;
	if (unexpected) {
		in->crashed = true;
		gw_metrics_for(d, rv->service)->crashes++;
		log_warn("instance %s exited unexpectedly: %s", in->id, reason);
	}
	gw_inst_crashed(in); /* anything still on it: 502 or a cut stream */
	if (!in->stop_logged)
		ledger_event(in, LEDGER_INSTANCE_STOP, now_wall);
	ledger_event(in, LEDGER_INSTANCE_EXIT, now_wall);
	ledger_writer_phase(d->lw, in->id, STATE_INSTANCE_STOPPED, now_wall, status, reason);
	if (in->gpus[0])
		state_gpu_release(d->st, in->id);
	unlink_inst(in);
	if (unexpected && !d->shutting_down)
		scaler_decide(rv);
	if (d->shutting_down)
		daemon__shutdown_step(d);
}

void inst__event(struct inst *in, enum instance_event ev, const struct instance_exit *x,
                 const char *note)
{
	if (ev == INSTANCE_EV_READY) {
		on_ready(in);
		return;
	}
	if (ev == INSTANCE_EV_START_FAILED) {
		char why[ERR_MSG_LEN];
		snprintf(why, sizeof why, "%.240s",
		         note[0] ? note : "not ready within the startup probe");
		leave_phase(in);
		in->phase = INST_STOPPING; /* the runtime stops it; EXITED follows */
		in->rev->n_stopping++;
		start_failed(in->rev, why);
		return;
	}
	if (!x)
		return; /* EXITED always comes with its record */
	char reason[ERR_MSG_LEN];
	int status = (int)x->exit_status;
	in->oom = in->oom || x->oom_killed;
	if (x->term_signal)
		status = -x->term_signal;
	if (in->oom) {
		snprintf(reason, sizeof reason, "out of memory: OOM-killed at the %lld MiB limit",
		         (long long)(in->rev->spec.memory_bytes >> 20));
	} else if (strstr(note, "startup probe")) {
		snprintf(reason, sizeof reason, "%s", note); /* it never became ready */
	} else if (x->term_signal) {
		snprintf(reason, sizeof reason, "%s (signal %d)",
		         x->stop_requested ? "stopped" : "crashed", x->term_signal);
	} else {
		snprintf(reason, sizeof reason, "%s (exit status %d)",
		         x->stop_requested ? "stopped" : "exited", status);
	}
	if (in->phase == INST_STARTING)
		start_failed(in->rev, reason);
	inst_exited(in, status, reason);
}

static void proc_event(struct instance *p, enum instance_event ev, void *arg)
{
	struct inst *in = arg;
	inst__event(in, ev, ev == INSTANCE_EV_EXITED ? instance_exit_info(p) : NULL,
	            instance_note(p));
	if (ev == INSTANCE_EV_EXITED) {
		instance_free(p);
		free(in);
	}
}

static void make_id(struct rev *rv, char *out)
{
	uint64_t r = daemon__rand(rv->d);
	/* 55 + 9: container ids (OCI_INSTANCE_ID_MAX) hold it too */
	snprintf(out, INSTANCE_ID_MAX, "%.55s-%08x", rv->name, (unsigned)(r & 0xffffffffu));
}

static int alloc_gpus(struct rev *rv, struct inst *in, char *err)
{
	struct daemon *d = rv->d;
	if (rv->spec.gpu <= 0)
		return 0;
	int idx[SPEC_GPU_MAX];
	int rc =
	    state_gpu_allocate(d->st, in->id, rv->spec.gpu, &d->gpus, time_wall_ns(), idx, err);
	if (rc)
		return rc;
	memcpy(in->gpu_idx, idx, sizeof idx[0] * (size_t)rv->spec.gpu);
	in->n_gpu = rv->spec.gpu;
	struct buf b = BUF_INIT;
	gpu_visible_devices(&d->gpus, idx, rv->spec.gpu, &b);
	snprintf(in->gpus, sizeof in->gpus, "%s", b.data ? b.data : "");
	buf_release(&b);
	return 0;
}

int inst_start(struct rev *rv, char err[ERR_MSG_LEN])
{
	struct daemon *d = rv->d;
	if (rv->oci) {
		int prc = daemon__oci_prepare(rv, err);
		if (prc) /* 1: the image is being pulled; the start follows */
			return prc < 0 ? (start_failed(rv, err), prc) : prc;
	}
	struct inst *in = xcalloc(1, sizeof *in);
	in->pidfd = -1;
	make_id(rv, in->id);
	int rc = alloc_gpus(rv, in, err);
	in->start_mono = time_mono_ns();
	if (!rc && rv->oci) {
		rc = daemon__oci_start(rv, in, err);
	} else if (!rc) {
		struct instance_start_req q = {.id = in->id,
		                               .service = rv->service,
		                               .revision = rv->name,
		                               .spec = &rv->spec,
		                               .gpus = in->gpus};
		rc = instance_start(d->irt, &q, proc_event, in, &in->proc, err);
		if (!rc) {
			in->pid = instance_pid(in->proc);
			in->port = instance_port(in->proc);
			in->start_wall = instance_start_wall_ns(in->proc);
		}
	}
	if (rc) {
		if (in->gpus[0])
			state_gpu_release(d->st, in->id);
		free(in);
		start_failed(rv, err);
		return rc;
	}
	in->phase = INST_STARTING;
	link_inst(rv, in);
	rv->n_starting++;
	gw_metrics_for(d, rv->service)->cold_starts++;
	/* the process is already starting; the rows go to the writer thread */
	struct state_instance si = {.id = in->id,
	                            .service = rv->service,
	                            .revision = rv->name,
	                            .pid = in->pid,
	                            .port = in->port,
	                            .phase = STATE_INSTANCE_STARTING,
	                            .gpus = in->gpus,
	                            .start_ns = in->start_wall};
	ledger_writer_instance(d->lw, &si);
	ledger_event(in, LEDGER_INSTANCE_START, in->start_wall);
	log_info("instance %s of %s starting: pid %d, %s:%d%s%s", in->id, rv->name, in->pid,
	         in->addr[0] ? in->addr : "127.0.0.1", in->port, in->gpus[0] ? ", GPUs " : "",
	         in->gpus);
	return 0;
}

/* ---- adopted instances ---- */

static void adopted_handle_closed(uv_handle_t *h)
{
	struct inst *in = h->data;
	if (--in->open_handles == 0)
		free(in);
}

/* The adopted instance's last output, then its exit, into its log. */
static void adopted_output_end(struct inst *in)
{
	int64_t now = time_wall_ns();
	logs_tail_poll(in->tail, now);
	logs_tail_close(in->tail, true);
	in->tail = NULL;
	logs_writer_note(&in->log, now, "instance %s (adopted, pid %d) %s", in->id, in->pid,
	                 in->phase == INST_STOPPING ? "stopped" : "exited");
	logs_writer_close(&in->log, now);
}

static void adopted_gone(struct inst *in)
{
	adopted_output_end(in);
	uv_timer_stop(&in->kill_timer);
	if (in->pidfd >= 0) {
		uv_poll_stop(&in->poll);
		uv_close((uv_handle_t *)&in->poll, adopted_handle_closed);
	}
	uv_close((uv_handle_t *)&in->kill_timer, adopted_handle_closed);
	const char *why = in->phase == INST_STOPPING ? "stopped" : "exited";
	inst_exited(in, 0, why);
	if (in->pidfd >= 0)
		close(in->pidfd);
}

static void adopted_exited(uv_poll_t *p, int status, int events)
{
	adopted_gone(p->data);
}

static void adopted_kill(uv_timer_t *t)
{
	struct inst *in = t->data;
	if (in->phase == INST_EXITED)
		return;
	kill(-in->pid, SIGKILL);
	kill(in->pid, SIGKILL);
	if (in->pidfd < 0) /* no pidfd: SIGKILL cannot be ignored, call it gone */
		adopted_gone(in);
}

/* Its output files, from where the old daemon left them, into its log. */
static void adopt_output(struct daemon *d, struct rev *rv, struct inst *in)
{
	char path[4096], err[ERR_MSG_LEN];
	snprintf(path, sizeof path, "%s/logs/%s/%s.log", d->home, rv->service, in->id);
	in->log.fd = -1;
	if (logs_writer_open(&in->log, path, err) == 0 &&
	    logs_tail_open(d->loop, path, &in->log, &in->tail, err) == 0) {
		logs_writer_note(&in->log, time_wall_ns(),
		                 "instance %s (pid %d) adopted by a restarted daemon", in->id,
		                 in->pid);
		logs_tail_poll(in->tail, 0); /* what it printed while no daemon ran */
		return;
	}
	logs_writer_note(&in->log, time_wall_ns(), "adopted, but its output is lost: %s", err);
	log_warn("instance %s: output not followed: %s", in->id, err);
}

void inst_adopt(struct rev *rv, const struct state_instance *si)
{
	struct daemon *d = rv->d;
	struct inst *in = xcalloc(1, sizeof *in);
	snprintf(in->id, sizeof in->id, "%s", si->id);
	snprintf(in->gpus, sizeof in->gpus, "%s", si->gpus ? si->gpus : "");
	in->pid = si->pid;
	in->port = si->port;
	in->adopted = true;
	in->start_wall = si->start_ns;
	in->ready_wall = si->ready_ns ? si->ready_ns : time_wall_ns();
	in->start_mono = in->idle_since_mono = time_mono_ns();
	in->phase = INST_READY;
	uv_timer_init(d->loop, &in->kill_timer);
	in->kill_timer.data = in;
	in->open_handles = 1;
	in->pidfd = (int)syscall(SYS_pidfd_open, in->pid, 0);
	if (in->pidfd >= 0) {
		uv_poll_init(d->loop, &in->poll, in->pidfd);
		in->poll.data = in;
		in->open_handles++;
		uv_poll_start(&in->poll, UV_READABLE, adopted_exited);
	}
	adopt_output(d, rv, in);
	link_inst(rv, in);
	rv->n_ready++;
	if (!si->ready_ns) {
		ledger_event(in, LEDGER_INSTANCE_READY, in->ready_wall);
		ledger_writer_phase(d->lw, in->id, STATE_INSTANCE_READY, in->ready_wall, 0, NULL);
	}
	log_info("instance %s (pid %d, port %d) adopted from the previous daemon", in->id, in->pid,
	         in->port);
}

void inst_stop(struct inst *in, const char *reason)
{
	if (in->phase == INST_STOPPING || in->phase == INST_EXITED)
		return;
	struct rev *rv = in->rev;
	struct daemon *d = rv->d;
	int64_t now_wall = time_wall_ns();
	leave_phase(in);
	in->phase = INST_STOPPING;
	rv->n_stopping++;
	in->stop_logged = true;
	ledger_event(in, LEDGER_INSTANCE_STOP, now_wall);
	ledger_writer_phase(d->lw, in->id, STATE_INSTANCE_STOPPING, now_wall, 0, NULL);
	log_info("instance %s stopping: %s", in->id, reason);
	if (in->proc) {
		instance_stop(in->proc);
		return;
	}
	if (in->ow) {
		oci_watch_stop(in->ow);
		return;
	}
	kill(-in->pid, SIGTERM);
	kill(in->pid, SIGTERM);
	uv_timer_start(&in->kill_timer, adopted_kill, (uint64_t)d->stop_grace_ms, 0);
}

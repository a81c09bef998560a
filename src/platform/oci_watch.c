/* oci_watch.c — an OCI instance driven from libuv (see oci_watch.h): a
 * uv_poll on the init's pidfd for the exit, uv_pipes on its output, the
 * startup probe (TCP connect or HTTP GET, Kubernetes semantics) on a
 * backing-off timer, a uv_poll on the memory cgroup's OOM notification, a
 * grace timer for SIGKILL. The container work itself is oci_instance.c's. */
#include "platform/oci_watch.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

struct oci_watch {
	struct oci_host *host;
	struct oci_instance inst;
	oci_watch_cb cb;
	void *arg;
	oci_output_fn output;
	void *output_arg;
	enum instance_phase phase;
	struct instance_exit exit;
	int64_t grace_ms, probe_ms, probe_deadline_ns, ready_ns;
	bool stop_requested;
	bool probing; /* a probe attempt (connection) is open */
	bool freed;
	bool oom_v2; /* oom_fd is inotify on memory.events, not a v1 eventfd */
	int oom_fd;  /* -1: no OOM watch */
	int open_handles;
	int64_t memory_bytes;
	uv_poll_t exit_poll, oom_poll;
	uv_pipe_t out, errp;
	uv_timer_t probe_timer, grace_timer;
	/* the startup probe (path unused: probe_http holds the request) */
	struct spec_probe probe;
	int probe_port;
	int64_t attempt_ns; /* mono: the open attempt began */
	uv_tcp_t probe_conn;
	uv_connect_t probe_req;
	uv_write_t probe_wreq;
	char probe_path[400];
	char probe_http[512];
	char probe_resp[64];
	size_t probe_got;
	char probe_last[96]; /* what the last failed attempt saw */
	char note[ERR_MSG_LEN];
};

static void emit(struct oci_watch *w, enum instance_event ev)
{
	if (w->cb)
		w->cb(w, ev, w->arg);
}

static void on_closed(uv_handle_t *h)
{
	struct oci_watch *w = h->data;
	if (--w->open_handles == 0 && w->freed)
		free(w);
}

static void close_handle(struct oci_watch *w, uv_handle_t *h)
{
	if (h->data == w && !uv_is_closing(h))
		uv_close(h, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char buf[65536]; /* the loop is single-threaded; consumed at once */
	(void)h;
	(void)suggested;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct oci_watch *w = s->data;
	if (n > 0 && w->output)
		w->output(w->output_arg, (uv_pipe_t *)s == &w->out ? 1 : 2, b->base, (size_t)n);
	if (n < 0)
		uv_read_stop(s);
}

static void finish(struct oci_watch *w)
{
	if (w->phase == INSTANCE_EXITED)
		return;
	uv_timer_stop(&w->grace_timer);
	uv_timer_stop(&w->probe_timer);
	uv_poll_stop(&w->exit_poll);
	if (w->oom_fd >= 0)
		uv_poll_stop(&w->oom_poll);
	char err[ERR_MSG_LEN] = "";
	if (oci_instance_cleanup(w->host, &w->inst, err) < 0) {
		snprintf(w->note, sizeof(w->note), "cleanup: %s", err);
		log_warn("instance %s: %s", w->inst.id, w->note);
	}
	w->exit.exit_status = -1;
	if (w->exit.killed || w->inst.oom_killed)
		w->exit.term_signal = SIGKILL;
	w->exit.oom_killed = w->inst.oom_killed;
	if (w->inst.oom_killed && !strstr(w->note, "out of memory"))
		snprintf(w->note, sizeof(w->note),
		         "out of memory: the %lld MiB limit was reached (OOM-killed)",
		         (long long)(w->memory_bytes >> 20));
	w->exit.stop_requested = w->stop_requested;
	w->phase = INSTANCE_EXITED;
	emit(w, INSTANCE_EV_EXITED);
}

static void on_exit_poll(uv_poll_t *p, int status, int events)
{
	finish(p->data);
}

static void on_grace(uv_timer_t *t)
{
	struct oci_watch *w = t->data;
	w->exit.killed = true;
	char err[ERR_MSG_LEN];
	if (oci_instance_signal(w->host, &w->inst, SIGKILL, err) < 0)
		log_warn("instance %s: SIGKILL: %s", w->inst.id, err);
}

void oci_watch_stop(struct oci_watch *w)
{
	if (!w || w->stop_requested || w->phase == INSTANCE_EXITED)
		return;
	w->stop_requested = true;
	w->phase = INSTANCE_STOPPING;
	uv_timer_stop(&w->probe_timer);
	char err[ERR_MSG_LEN];
	if (oci_instance_signal(w->host, &w->inst, SIGTERM, err) < 0)
		log_warn("instance %s: SIGTERM: %s", w->inst.id, err);
	uv_timer_start(&w->grace_timer, on_grace, (uint64_t)w->grace_ms, 0);
}

/* ---- startup probe: TCP connect, or HTTP GET answered 200-399 ---- */

static void on_probe_conn_closed(uv_handle_t *h)
{
	struct oci_watch *w = h->data;
	w->probing = false;
	on_closed(h);
}

static void attempt_end(struct oci_watch *w, bool ok, const char *what)
{
	if (!ok && what)
		snprintf(w->probe_last, sizeof(w->probe_last), "%s", what);
	if (ok && w->phase == INSTANCE_STARTING) {
		w->ready_ns = time_mono_ns();
		w->phase = INSTANCE_READY;
		uv_timer_stop(&w->probe_timer);
		emit(w, INSTANCE_EV_READY);
	}
	if (!uv_is_closing((uv_handle_t *)&w->probe_conn))
		uv_close((uv_handle_t *)&w->probe_conn, on_probe_conn_closed);
}

static void on_probe_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	struct oci_watch *w = h->data;
	*b = uv_buf_init(w->probe_resp + w->probe_got,
	                 (unsigned)(sizeof(w->probe_resp) - 1 - w->probe_got));
}

/* Enough of "HTTP/1.1 204 ..." to judge. */
static void on_probe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct oci_watch *w = s->data;
	if (n == 0)
		return;
	if (n < 0) {
		attempt_end(w, false, "the connection closed before an HTTP answer");
		return;
	}
	w->probe_got += (size_t)n;
	w->probe_resp[w->probe_got] = 0;
	int status;
	if (w->probe_got >= 12 && sscanf(w->probe_resp, "HTTP/1.%*1[01] %3d", &status) == 1) {
		char what[64];
		snprintf(what, sizeof(what), "HTTP %d", status);
		attempt_end(w, status >= 200 && status < 400, what);
	} else if (w->probe_got >= 12 || w->probe_got >= sizeof(w->probe_resp) - 1) {
		attempt_end(w, false, "an answer that is not HTTP/1.x");
	}
}

static void on_probe_write(uv_write_t *req, int status)
{
	struct oci_watch *w = req->data;
	if (status < 0 && !uv_is_closing((uv_handle_t *)&w->probe_conn))
		attempt_end(w, false, uv_strerror(status));
}

static void on_probe_connect(uv_connect_t *req, int status)
{
	struct oci_watch *w = req->data;
	if (uv_is_closing((uv_handle_t *)&w->probe_conn))
		return;
	if (status < 0 || w->phase != INSTANCE_STARTING) {
		attempt_end(w, false, status < 0 ? uv_strerror(status) : NULL);
		return;
	}
	if (w->probe.kind != SPEC_PROBE_HTTP) {
		attempt_end(w, true, NULL);
		return;
	}
	w->probe_got = 0;
	uv_buf_t b = uv_buf_init(w->probe_http, (unsigned)strlen(w->probe_http));
	w->probe_wreq.data = w;
	if (uv_write(&w->probe_wreq, (uv_stream_t *)&w->probe_conn, &b, 1, on_probe_write) < 0 ||
	    uv_read_start((uv_stream_t *)&w->probe_conn, on_probe_alloc, on_probe_read) < 0)
		attempt_end(w, false, "could not send the request");
}

static void attempt_start(struct oci_watch *w, uv_loop_t *loop)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->probe_port)};
	inet_pton(AF_INET, w->inst.addr, &sa.sin_addr);
	uv_tcp_init(loop, &w->probe_conn);
	w->probe_conn.data = w;
	w->probe_req.data = w;
	w->open_handles++;
	w->probing = true;
	w->attempt_ns = time_mono_ns();
	if (uv_tcp_connect(&w->probe_req, &w->probe_conn, (struct sockaddr *)&sa,
	                   on_probe_connect) < 0)
		attempt_end(w, false, "connect failed");
}

static void probe_failed(struct oci_watch *w)
{
	double budget = (double)(w->probe_deadline_ns - w->inst.start_ns) / 1e9;
	if (w->probe.kind == SPEC_PROBE_HTTP)
		snprintf(w->note, sizeof(w->note),
		         "no 200-399 answer to the startup probe GET %.100s on %s:%d within %.0f s "
		         "(last: %.60s)",
		         w->probe_path, w->inst.addr, w->probe_port, budget,
		         w->probe_last[0] ? w->probe_last : "no attempt finished");
	else
		snprintf(w->note, sizeof(w->note),
		         "nothing listened on %s:%d within the %.0f s startup probe (last: %.60s)",
		         w->inst.addr, w->probe_port, budget,
		         w->probe_last[0] ? w->probe_last : "no attempt finished");
	log_warn("instance %s: %s", w->inst.id, w->note);
	emit(w, INSTANCE_EV_START_FAILED);
	oci_watch_stop(w);
}

static void on_probe_timer(uv_timer_t *t)
{
	struct oci_watch *w = t->data;
	if (w->phase != INSTANCE_STARTING)
		return;
	int64_t now = time_mono_ns();
	if (now > w->probe_deadline_ns) {
		if (w->probing && !uv_is_closing((uv_handle_t *)&w->probe_conn))
			attempt_end(w, false, NULL);
		probe_failed(w);
		return;
	}
	if (!w->probing)
		attempt_start(w, t->loop);
	else if (now - w->attempt_ns > (int64_t)w->probe.timeout_s * 1000000000LL &&
	         !uv_is_closing((uv_handle_t *)&w->probe_conn))
		attempt_end(w, false, "no answer within timeoutSeconds");
	if (w->phase != INSTANCE_STARTING)
		return;
	/* Early in a start, every INSTANCE_PROBE_FAST_MS as for process instances:
	 * a refused connect through the veth costs microseconds, and doubling from
	 * 2 ms would notice a server that listens at 35 ms only at 62 ms. */
	uint64_t next = INSTANCE_PROBE_FAST_MS;
	if (now - w->inst.start_ns >= INSTANCE_PROBE_FAST_WINDOW_MS * 1000000LL) {
		next = (uint64_t)w->probe_ms;
		w->probe_ms = w->probe_ms * 2 > INSTANCE_PROBE_MAX_MS ? INSTANCE_PROBE_MAX_MS
		                                                      : w->probe_ms * 2;
	}
	uv_timer_start(&w->probe_timer, on_probe_timer, next, 0);
}

static int64_t probe_budget_ms(const struct spec *s)
{
	const struct spec_probe *p = &s->probe;
	int64_t tries = (int64_t)p->period_s * p->failure_threshold;
	int64_t budget =
	    (int64_t)p->initial_delay_s + (tries > p->timeout_s ? tries : p->timeout_s);
	return (budget > 0 ? budget : SPEC_PROBE_BUDGET_DEFAULT_S) * 1000;
}

static void probe_begin(struct oci_watch *w, const struct spec *s)
{
	w->probe = s->probe;
	w->probe.path = NULL; /* probe_path holds it */
	snprintf(w->probe_path, sizeof(w->probe_path), "%s", s->probe.path ? s->probe.path : "/");
	if (w->probe.timeout_s <= 0)
		w->probe.timeout_s = SPEC_PROBE_BUDGET_DEFAULT_S;
	w->probe_port = s->probe.port > 0 ? s->probe.port : w->inst.port;
	snprintf(w->probe_http, sizeof(w->probe_http),
	         "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: gpurun-startup-probe\r\n"
	         "Connection: close\r\n\r\n",
	         s->probe.path ? s->probe.path : "/", w->inst.addr, w->probe_port);
	w->probe_deadline_ns = w->inst.start_ns + probe_budget_ms(s) * 1000000;
	uint64_t first =
	    s->probe.initial_delay_s > 0 ? (uint64_t)s->probe.initial_delay_s * 1000 : 0;
	uv_timer_start(&w->probe_timer, on_probe_timer, first, 0);
}

/* ---- out of memory: Cloud Run ends the whole instance ---- */

static void oom_hit(struct oci_watch *w, const char *how)
{
	if (w->inst.oom_killed || w->phase == INSTANCE_EXITED)
		return;
	w->inst.oom_killed = true;
	snprintf(w->note, sizeof(w->note), "out of memory: the %lld MiB limit was reached (%s)",
	         (long long)(w->memory_bytes >> 20), how);
	log_warn("instance %s: %s; stopping it", w->inst.id, w->note);
	/* SIGKILL to the init ends its pid namespace, so the whole container */
	if (syscall(SYS_pidfd_send_signal, w->inst.pidfd, SIGKILL, NULL, 0) < 0)
		kill(w->inst.pid, SIGKILL);
}

static void on_oom_event(uv_poll_t *p, int status, int events)
{
	struct oci_watch *w = p->data;
	char buf[512];
	while (read(w->oom_fd, buf, sizeof(buf)) > 0)
		;
	if (!w->oom_v2 || oci_cgroup_oom_killed(w->host->cgroup_fs, w->inst.id))
		oom_hit(w, "memory cgroup OOM event");
}

bool oci_watch_oom(struct oci_watch *w)
{
	if (!w || w->phase == INSTANCE_EXITED || w->inst.oom_killed)
		return w && w->inst.oom_killed;
	if (oci_cgroup_oom_killed(w->host->cgroup_fs, w->inst.id))
		oom_hit(w, "the memory cgroup's oom_kill count");
	return w->inst.oom_killed;
}

static void handles_init(struct oci_watch *w, uv_loop_t *loop)
{
	uv_poll_init(loop, &w->exit_poll, w->inst.pidfd);
	uv_pipe_init(loop, &w->out, 0);
	uv_pipe_init(loop, &w->errp, 0);
	uv_timer_init(loop, &w->probe_timer);
	uv_timer_init(loop, &w->grace_timer);
	uv_handle_t *hs[] = {(uv_handle_t *)&w->exit_poll, (uv_handle_t *)&w->out,
	                     (uv_handle_t *)&w->errp, (uv_handle_t *)&w->probe_timer,
	                     (uv_handle_t *)&w->grace_timer};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		hs[i]->data = w;
		w->open_handles++;
	}
	uv_pipe_open(&w->out, w->inst.out_fd);
	uv_pipe_open(&w->errp, w->inst.err_fd);
	uv_read_start((uv_stream_t *)&w->out, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&w->errp, on_alloc, on_read);
	uv_poll_start(&w->exit_poll, UV_READABLE, on_exit_poll);
	if (w->oom_fd >= 0) {
		uv_poll_init(loop, &w->oom_poll, w->oom_fd);
		w->oom_poll.data = w;
		w->open_handles++;
		uv_poll_start(&w->oom_poll, UV_READABLE, on_oom_event);
	}
}

int oci_watch_start(const struct oci_watch_config *cfg, const struct oci_instance_spec *s,
                    oci_watch_cb cb, void *arg, struct oci_watch **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	struct oci_watch *w = xcalloc(1, sizeof(*w));
	int rc = oci_instance_start(cfg->host, s, &w->inst, err);
	if (rc < 0) {
		free(w);
		return rc;
	}
	w->host = cfg->host;
	w->cb = cb;
	w->arg = arg;
	w->output = cfg->output;
	w->output_arg = cfg->output_arg;
	w->phase = INSTANCE_STARTING;
	w->grace_ms = cfg->stop_grace_ms > 0 ? cfg->stop_grace_ms : INSTANCE_STOP_GRACE_MS_DEFAULT;
	w->probe_ms = cfg->probe_first_ms > 0 ? cfg->probe_first_ms : INSTANCE_PROBE_FIRST_MS;
	w->memory_bytes = s->spec->memory_bytes;
	w->oom_fd = s->spec->memory_bytes > 0
	                ? oci_cgroup_oom_watch(w->host->cgroup_fs, w->inst.id, &w->oom_v2)
	                : -1;
	handles_init(w, cfg->loop);
	probe_begin(w, s->spec);
	*out = w;
	return 0;
}

void oci_watch_free(struct oci_watch *w)
{
	if (!w)
		return;
	if (w->phase != INSTANCE_EXITED)
		log_error("instance %s freed before it exited", w->inst.id);
	w->freed = true;
	uv_handle_t *hs[] = {(uv_handle_t *)&w->exit_poll, (uv_handle_t *)&w->out,
	                     (uv_handle_t *)&w->errp, (uv_handle_t *)&w->probe_timer,
	                     (uv_handle_t *)&w->grace_timer};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		close_handle(w, hs[i]); /* the pipes close the output fds */
	if (w->oom_fd >= 0) {
		close_handle(w, (uv_handle_t *)&w->oom_poll);
		close(w->oom_fd); /* uv_poll does not own it; closed after uv_close */
		w->oom_fd = -1;
	}
	if (w->probing && !uv_is_closing((uv_handle_t *)&w->probe_conn))
		uv_close((uv_handle_t *)&w->probe_conn, on_probe_conn_closed);
}

const struct oci_instance *oci_watch_instance(const struct oci_watch *w)
{
	return &w->inst;
}

enum instance_phase oci_watch_phase(const struct oci_watch *w)
{
	return w->phase;
}

const struct instance_exit *oci_watch_exit_info(const struct oci_watch *w)
{
	return &w->exit;
}

int64_t oci_watch_start_latency_ns(const struct oci_watch *w)
{
	return w->ready_ns ? w->ready_ns - w->inst.start_ns : 0;
}

const char *oci_watch_note(const struct oci_watch *w)
{
	return w->note;
}

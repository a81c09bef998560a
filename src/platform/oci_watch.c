/* oci_watch.c — an OCI instance driven from libuv (see oci_watch.h): a
 * uv_poll on the init's pidfd for the exit, uv_pipes on its output, a TCP
 * connect probe on a backing-off timer, a grace timer for SIGKILL. The
 * container work itself is oci_instance.c's. */
#include "platform/oci_watch.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

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
	bool probing; /* a connect attempt is in flight */
	bool freed;
	int open_handles;
	uv_poll_t exit_poll;
	uv_pipe_t out, errp;
	uv_timer_t probe_timer, grace_timer;
	uv_tcp_t probe_conn;
	uv_connect_t probe_req;
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
	char err[ERR_MSG_LEN] = "";
	if (oci_instance_cleanup(w->host, &w->inst, err) < 0) {
		snprintf(w->note, sizeof(w->note), "cleanup: %s", err);
		log_warn("instance %s: %s", w->inst.id, w->note);
	}
	w->exit.exit_status = -1;
	if (w->exit.killed || w->inst.oom_killed)
		w->exit.term_signal = SIGKILL;
	if (w->inst.oom_killed && !w->note[0])
		snprintf(w->note, sizeof(w->note), "the memory limit was reached: OOM-killed");
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

static void probe_schedule(struct oci_watch *w);

static void on_probe_conn_closed(uv_handle_t *h)
{
	struct oci_watch *w = h->data;
	w->probing = false;
	if (w->phase == INSTANCE_STARTING && !w->stop_requested && !w->freed)
		probe_schedule(w);
	on_closed(h);
}

static void on_probe_connect(uv_connect_t *req, int status)
{
	struct oci_watch *w = req->data;
	if (status == 0 && w->phase == INSTANCE_STARTING) {
		w->ready_ns = time_mono_ns();
		w->phase = INSTANCE_READY;
		emit(w, INSTANCE_EV_READY);
	}
	if (!uv_is_closing((uv_handle_t *)&w->probe_conn))
		uv_close((uv_handle_t *)&w->probe_conn, on_probe_conn_closed);
}

static void on_probe_timer(uv_timer_t *t)
{
	struct oci_watch *w = t->data;
	if (w->phase != INSTANCE_STARTING || w->probing)
		return;
	if (time_mono_ns() > w->probe_deadline_ns) {
		snprintf(w->note, sizeof(w->note),
		         "nothing listened on %s:%d within the startup probe", w->inst.addr,
		         w->inst.port);
		emit(w, INSTANCE_EV_START_FAILED);
		oci_watch_stop(w);
		return;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->inst.port)};
	inet_pton(AF_INET, w->inst.addr, &sa.sin_addr);
	uv_tcp_init(t->loop, &w->probe_conn);
	w->probe_conn.data = w;
	w->probe_req.data = w;
	w->open_handles++;
	w->probing = true;
	if (uv_tcp_connect(&w->probe_req, &w->probe_conn, (struct sockaddr *)&sa,
	                   on_probe_connect) < 0)
		uv_close((uv_handle_t *)&w->probe_conn, on_probe_conn_closed);
}

static void probe_schedule(struct oci_watch *w)
{
	/* Early in a start, every INSTANCE_PROBE_FAST_MS as for process instances:
	 * a refused connect through the veth costs microseconds, and doubling from
	 * 2 ms would notice a server that listens at 35 ms only at 62 ms. */
	if (time_mono_ns() - w->inst.start_ns < INSTANCE_PROBE_FAST_WINDOW_MS * 1000000LL) {
		uv_timer_start(&w->probe_timer, on_probe_timer, INSTANCE_PROBE_FAST_MS, 0);
		return;
	}
	uv_timer_start(&w->probe_timer, on_probe_timer, (uint64_t)w->probe_ms, 0);
	w->probe_ms =
	    w->probe_ms * 2 > INSTANCE_PROBE_MAX_MS ? INSTANCE_PROBE_MAX_MS : w->probe_ms * 2;
}

static int64_t probe_budget_ms(const struct spec *s)
{
	const struct spec_probe *p = &s->probe;
	int64_t tries = (int64_t)p->period_s * p->failure_threshold;
	int64_t budget =
	    (int64_t)p->initial_delay_s + (tries > p->timeout_s ? tries : p->timeout_s);
	return (budget > 0 ? budget : SPEC_PROBE_BUDGET_DEFAULT_S) * 1000;
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
	w->probe_deadline_ns = w->inst.start_ns + probe_budget_ms(s->spec) * 1000000;
	handles_init(w, cfg->loop);
	probe_schedule(w);
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

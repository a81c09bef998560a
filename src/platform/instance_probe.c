/* instance_probe.c — is the instance ready? A TCP connect to 127.0.0.1:PORT
 * (Cloud Run's default startup probe, reference §1.7), or an HTTP GET of
 * the probe path answered with 200-399, retried every 1 ms for the first
 * 100 ms after the spawn, then from the runtime's first interval (2 ms) x1.5
 * up to 100 ms apart, until initial_delay + max(period x failure_threshold,
 * timeout). */
#include "platform/instance_internal.h"

#include "base/mem.h"
#include "base/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000LL

static void probe_closed(uv_handle_t *h)
{
	struct instance_probe *p = h->data;
	struct instance *in = p->in;
	free(p);
	instance__unref(in);
}

static void attempt_end(struct instance_probe *p)
{
	if (p->in->attempt == p)
		p->in->attempt = NULL;
	if (!uv_is_closing((uv_handle_t *)&p->tcp))
		uv_close((uv_handle_t *)&p->tcp, probe_closed);
}

static void mark_ready(struct instance *in)
{
	in->phase = INSTANCE_READY;
	in->ready_wall = time_wall_ns();
	in->ready_mono = time_mono_ns();
	uv_timer_stop(&in->probe_timer);
	logs_writer_note(&in->log, in->ready_wall, "ready on port %d after %.1f ms", in->port,
	                 (double)(in->ready_mono - in->start_mono) / 1e6);
	in->cb(in, INSTANCE_EV_READY, in->arg);
}

static void attempt_done(struct instance_probe *p, bool ok)
{
	struct instance *in = p->in;
	attempt_end(p);
	if (ok && in->phase == INSTANCE_STARTING)
		mark_ready(in);
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	struct instance_probe *p = h->data;
	*b = uv_buf_init(p->resp + p->got, (unsigned)(sizeof p->resp - 1 - p->got));
}

/* Enough of "HTTP/1.1 204 ..." to judge. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct instance_probe *p = s->data;
	if (n < 0) {
		attempt_done(p, false);
		return;
	}
	p->got += (size_t)n;
	p->resp[p->got] = 0;
	int status;
	if (p->got >= 12 && sscanf(p->resp, "HTTP/1.%*1[01] %3d", &status) == 1)
		attempt_done(p, status >= 200 && status < 400);
	else if (p->got >= sizeof p->resp - 1)
		attempt_done(p, false);
}

static void on_write(uv_write_t *w, int status)
{
	struct instance_probe *p = w->data;
	if (status < 0)
		attempt_done(p, false);
}

static void on_connect(uv_connect_t *c, int status)
{
	struct instance_probe *p = c->data;
	if (status < 0 || uv_is_closing((uv_handle_t *)&p->tcp)) {
		if (!uv_is_closing((uv_handle_t *)&p->tcp))
			attempt_done(p, false);
		return;
	}
	if (p->in->probe.kind != SPEC_PROBE_HTTP) {
		attempt_done(p, true);
		return;
	}
	uv_buf_t b = uv_buf_init(p->req, (unsigned)strlen(p->req));
	p->write.data = p;
	if (uv_write(&p->write, (uv_stream_t *)&p->tcp, &b, 1, on_write) < 0 ||
	    uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) < 0)
		attempt_done(p, false);
}

static int probe_port(const struct instance *in)
{
	int p = in->probe.port;
	return p == 0 || p == in->container_port ? in->port : p;
}

static void attempt_start(struct instance *in)
{
	struct instance_probe *p = xcalloc(1, sizeof *p);
	p->in = in;
	p->started_mono = time_mono_ns();
	snprintf(p->req, sizeof p->req,
	         "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: gpurun-startup-probe\r\n"
	         "Connection: close\r\n\r\n",
	         in->probe.path ? in->probe.path : "/", probe_port(in));
	uv_tcp_init(in->rt->loop, &p->tcp);
	p->tcp.data = p;
	p->connect.data = p;
	in->open_handles++;
	in->attempt = p;
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", probe_port(in), &a);
	if (uv_tcp_connect(&p->connect, &p->tcp, (const struct sockaddr *)&a, on_connect) < 0)
		attempt_done(p, false);
}

static void on_tick(uv_timer_t *t)
{
	struct instance *in = t->data;
	if (in->phase != INSTANCE_STARTING)
		return;
	int64_t now = time_mono_ns();
	if (now >= in->deadline_mono) {
		logs_writer_note(&in->log, time_wall_ns(),
		                 "not ready after %.1f s (startup probe): stopping",
		                 (double)(now - in->start_mono) / 1e9);
		snprintf(in->note, sizeof in->note, "the startup probe did not pass within %.0f s",
		         (double)(in->deadline_mono - in->start_mono) / 1e9);
		in->cb(in, INSTANCE_EV_START_FAILED, in->arg);
		instance_stop(in);
		return;
	}
	if (in->attempt) {
		if (now - in->attempt->started_mono >
		    (int64_t)in->probe.timeout_s * 1000 * NS_PER_MS)
			attempt_done(in->attempt, false);
	} else {
		attempt_start(in);
	}
	if (in->phase != INSTANCE_STARTING)
		return;
	int64_t next = in->probe_interval_ms;
	/* most processes listen within the first 100 ms: poll there every
	 * INSTANCE_PROBE_FAST_MS (a refused loopback connect costs a few us),
	 * so readiness is seen within ~1 ms; back off after that */
	if (now - in->start_mono < INSTANCE_PROBE_FAST_WINDOW_MS * NS_PER_MS &&
	    next > INSTANCE_PROBE_FAST_MS) {
		next = INSTANCE_PROBE_FAST_MS;
	} else {
		in->probe_interval_ms = next * 3 / 2 + 1;
		if (in->probe_interval_ms > INSTANCE_PROBE_MAX_MS)
			in->probe_interval_ms = INSTANCE_PROBE_MAX_MS;
	}
	uv_timer_start(&in->probe_timer, on_tick, (uint64_t)next, 0);
}

void instance__probe_begin(struct instance *in)
{
	const struct spec_probe *p = &in->probe;
	int64_t budget_s = (int64_t)p->period_s * p->failure_threshold;
	if (budget_s < p->timeout_s)
		budget_s = p->timeout_s;
	budget_s += p->initial_delay_s;
	in->deadline_mono = in->start_mono + budget_s * 1000 * NS_PER_MS;
	in->probe_interval_ms = in->rt->probe_first_ms;
	uint64_t first = p->initial_delay_s > 0 ? (uint64_t)p->initial_delay_s * 1000 : 0;
	uv_timer_start(&in->probe_timer, on_tick, first, 0);
}

void instance__probe_stop(struct instance *in)
{
	uv_timer_stop(&in->probe_timer);
	if (in->attempt)
		attempt_end(in->attempt);
}

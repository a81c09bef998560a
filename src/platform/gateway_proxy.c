/* gateway_proxy.c — one request through the gateway: from the handler (or
 * the activator's queue) to an instance and back. Bodies stream both ways
 * piece by piece with backpressure (chunked, NDJSON, SSE are never
 * buffered), an Upgrade becomes a raw tunnel both ways (WebSocket), the
 * request timeout gives 504, an instance that dies gives 502 (or a cut
 * stream once the answer started). The end of every exchange is counted in
 * one place: metrics, access log, the ledger's request span.
 * Hop-by-hop headers follow RFC 9110 §7.6.1. */
#include "platform/daemon_internal.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_LINE_MAX 4096

/* Not forwarded: hop-by-hop (RFC 9110 §7.6.1), the framing we redo, and
 * the headers the Connection header names. */
static bool dropped(struct slice conn, struct slice name)
{
	return http_header_hop_by_hop(name) || (conn.p && http_header_has_token(conn, name));
}

/* s into dst (cap bytes with the NUL), cut when longer. */
static void copy_cut(char *dst, size_t cap, struct slice s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;
	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* ---- the end of an exchange ---- */

static void detach_inst(struct gw_exchange *x)
{
	struct inst *in = x->inst;
	if (!in)
		return;
	if (x->iprev)
		x->iprev->inext = x->inext;
	else
		in->xs = x->inext;
	if (x->inext)
		x->inext->iprev = x->iprev;
	x->inext = x->iprev = NULL;
	x->inst = NULL;
	in->active--;
	x->rev->active--;
	if (in->active == 0)
		in->idle_since_mono = time_mono_ns();
}

static void ledger_span(struct gw_exchange *x, int64_t end_mono)
{
	if (!x->inst_id[0])
		return;
	struct ledger_row row = {
	    .kind = LEDGER_REQUEST,
	    .at_ns = x->t0_wall + (end_mono - x->t0_mono),
	    .service = x->service,
	    .revision = x->rev->name,
	    .instance = x->inst_id,
	    .start_ns = x->dispatch_wall,
	    .status = x->status,
	    .tokens = x->tokens,
	    .request_id = x->request_id,
	};
	ledger_writer_row(x->d->lw, &row);
}

static void count(struct gw_exchange *x, int64_t end_mono)
{
	struct gw_svc_metrics *m = x->rev->m;
	int i;
	for (i = 0; i < GW_STATUS_SLOTS && m->status[i].code && m->status[i].code != x->status; i++)
		;
	if (i < GW_STATUS_SLOTS) {
		m->status[i].code = x->status;
		m->status[i].n++;
	}
	gw_hist_add(&m->latency, (double)(end_mono - x->t0_mono) / 1e9);
	if (x->was_held && x->first_byte_mono)
		gw_hist_add(&m->first_byte, (double)(x->first_byte_mono - x->t0_mono) / 1e9);
	m->tokens += x->tokens;
	x->d->requests_total++;
}

static void undefer(struct gw_exchange *x)
{
	if (!x->deferred)
		return;
	if (x->pprev)
		x->pprev->pnext = x->pnext;
	else
		x->d->deferred = x->pnext;
	if (x->pnext)
		x->pnext->pprev = x->pprev;
	x->pnext = x->pprev = NULL;
	x->deferred = false;
}

#define SPARE_XS_MAX 256
#define KEEP_BUF_MAX 4096

static void keep_small(struct buf *b)
{
	if (b->cap > KEEP_BUF_MAX)
		buf_release(b);
	buf_reset(b);
}

static void x_free(struct gw_exchange *x)
{
	buf_release(&x->hdr);
	buf_release(&x->line);
	buf_release(&x->pend);
	free(x);
}

/* Ended exchanges keep their buffers for the next request. */
static void recycle(struct gw_exchange *x)
{
	struct daemon *d = x->d;
	if (d->n_spare_xs >= SPARE_XS_MAX) {
		x_free(x);
		return;
	}
	keep_small(&x->hdr);
	keep_small(&x->line);
	keep_small(&x->pend);
	x->next = d->spare_xs;
	d->spare_xs = x;
	d->n_spare_xs++;
}

static struct gw_exchange *x_alloc(struct daemon *d)
{
	struct gw_exchange *x = d->spare_xs;
	if (!x)
		return xcalloc(1, sizeof *x);
	d->spare_xs = x->next;
	d->n_spare_xs--;
	struct buf hdr = x->hdr, line = x->line, pend = x->pend;
	/* the text fields after request_id are all written by gw_exchange_new */
	memset(x, 0, offsetof(struct gw_exchange, request_id));
	x->inst_id[0] = '\0';
	x->hdr = hdr;
	x->line = line;
	x->pend = pend;
	return x;
}

void gw_spares_free(struct daemon *d)
{
	while (d->spare_xs) {
		struct gw_exchange *x = d->spare_xs;
		d->spare_xs = x->next;
		x_free(x);
	}
	d->n_spare_xs = 0;
}

static void x_end(struct gw_exchange *x)
{
	if (x->ended)
		return;
	x->ended = true;
	struct daemon *d = x->d;
	struct rev *rv = x->rev;
	struct inst *in = x->inst;
	int64_t end = x->end_mono ? x->end_mono : time_mono_ns();
	activator_unlink(x);
	detach_inst(x);
	undefer(x);
	count(x, end);
	gw_access_log(x, end);
	ledger_span(x, end);
	daemon__want_flush(d);
	if (x->prev)
		x->prev->next = x->next;
	else
		d->xs = x->next;
	if (x->next)
		x->next->prev = x->prev;
	d->n_xs--;
	recycle(x);
	rv->n_xs--;
	scaler_observe(rv);
	if (in && in->phase == INST_READY) {
		if (!rv->reachable || d->shutting_down)
			scaler_decide(rv);
		else
			activator_release(rv);
	}
}

void gw_fail(struct gw_exchange *x, int status, const char *msg)
{
	x->status = http_req_cancelled(x->r) ? 499 : status;
	http_resp_header(x->r, "X-Request-Id", x->request_id);
	http_respond_error(x->r, status, msg);
	x->r = NULL;
	x_end(x);
}

/* ---- tokens of a model-server answer ---- */

static void tokens_line_end(struct gw_exchange *x)
{
	int64_t t = gateway_tokens_scan(x->line.data ? x->line.data : "", x->line.len);
	if (t > 0)
		x->tokens = t;
	buf_reset(&x->line);
}

static void tokens_feed(struct gw_exchange *x, const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;
		buf_append(&x->line, p, k);
		if (x->line.len > TOKEN_LINE_MAX)
			buf_consume(&x->line, x->line.len - TOKEN_LINE_MAX);
		if (!nl)
			return;
		tokens_line_end(x);
		p += k + 1;
		n -= k + 1;
	}
}

/* ---- the tunnel (after a 101) ---- */

static void tunnel_end(struct gw_exchange *x)
{
	if (x->ended)
		return;
	http_raw_close(x->tun[0], false);
	http_raw_close(x->tun[1], false);
	x_end(x);
}

static void tunnel_read(struct gw_exchange *x, int i, const char *p, ssize_t n)
{
	if (n < 0) {
		tunnel_end(x);
		return;
	}
	if (i == 1)
		x->bytes_out += n;
	int rc = http_raw_write(x->tun[!i], p, (size_t)n);
	if (rc < 0)
		tunnel_end(x);
	else if (rc == 1)
		http_raw_pause(x->tun[i]);
}

static void tread0(struct http_raw *raw, const char *p, ssize_t n, void *data)
{
	tunnel_read(data, 0, p, n);
}

static void tread1(struct http_raw *raw, const char *p, ssize_t n, void *data)
{
	tunnel_read(data, 1, p, n);
}

static void tdrain0(struct http_raw *raw, void *data)
{
	struct gw_exchange *x = data;
	http_raw_resume(x->tun[1]);
}

static void tdrain1(struct http_raw *raw, void *data)
{
	struct gw_exchange *x = data;
	http_raw_resume(x->tun[0]);
}

static void on_upgrade(struct http_creq *q, struct http_raw *backend, void *data)
{
	struct gw_exchange *x = data;
	x->q = NULL;
	x->started = true;
	x->first_byte_mono = time_mono_ns();
	struct http_raw *client = http_req_upgrade(x->r);
	x->r = NULL; /* finished by the upgrade */
	if (!client) {
		http_raw_close(backend, true);
		x->status = 499;
		x_end(x);
		return;
	}
	x->state = GW_TUNNEL;
	x->tun[0] = client;
	x->tun[1] = backend;
	http_raw_start(client, tread0, tdrain0, x);
	if (!x->ended)
		http_raw_start(backend, tread1, tdrain1, x);
}

/* ---- the proxied answer ---- */

static void resume_backend(struct http_req *r, void *data)
{
	struct gw_exchange *x = data;
	if (x->q)
		http_creq_resume(x->q);
}

/* The answer's head goes out (and what came with it): from now on bytes
 * stream as they arrive. */
static void begin_stream(struct gw_exchange *x)
{
	undefer(x);
	if (x->resp_cl >= 0) {
		char v[24];
		snprintf(v, sizeof v, "%lld", (long long)x->resp_cl);
		http_resp_header(x->r, "Content-Length", v);
	}
	x->started = true;
	x->first_byte_mono = time_mono_ns();
	x->s = http_stream_begin(x->r, x->status, NULL);
	http_stream_on_drain(x->s, resume_backend, x);
	if (x->pend.len) {
		int rc = http_stream_write(x->s, x->pend.data, x->pend.len);
		if (rc == 1 && x->q)
			http_creq_pause(x->q);
		buf_reset(&x->pend);
	}
}

void gw_flush_deferred(struct daemon *d)
{
	while (d->deferred)
		begin_stream(d->deferred);
}

static bool on_response(struct http_creq *q, const struct http_cresp *h, void *data)
{
	struct gw_exchange *x = data;
	struct slice conn = http_cresp_header(h, "Connection");
	bool has_rid = false;
	for (int i = 0; i < http_cresp_header_count(h); i++) {
		struct http_header hd = http_cresp_header_at(h, i);
		if (dropped(conn, hd.name))
			continue;
		has_rid = has_rid || HTTP_NAME_IS(hd.name, "X-Request-Id");
		http_resp_header_n(x->r, hd.name, hd.value);
	}
	if (!has_rid)
		http_resp_header(x->r, "X-Request-Id", x->request_id);
	x->status = http_cresp_status(h);
	if (x->status == 101)
		return true;
	int64_t cl = http_cresp_content_length(h);
	x->resp_cl = cl >= 0 && !http_cresp_chunked(h) ? cl : -1;
	bool bodyless = x->status == 204 || x->status == 304 || !strcmp(x->method, "HEAD");
	if (bodyless) {
		begin_stream(x);
		return true;
	}
	/* hold the head until this loop turn ends: a whole small answer that
	 * came with it leaves in one write; a stream starts at the turn's end */
	x->deferred = true;
	x->pprev = NULL;
	x->pnext = x->d->deferred;
	if (x->d->deferred)
		x->d->deferred->pprev = x;
	x->d->deferred = x;
	daemon__want_flush(x->d);
	return true;
}

#define DEFER_MAX (64 * 1024)

static void on_data(struct http_creq *q, const char *p, size_t n, void *data)
{
	struct gw_exchange *x = data;
	x->bytes_out += (int64_t)n;
	if (x->rev->tokens)
		tokens_feed(x, p, n);
	if (x->deferred) {
		if (x->pend.len + n <= DEFER_MAX) {
			buf_append(&x->pend, p, n);
			return;
		}
		begin_stream(x);
	}
	int rc = http_stream_write(x->s, p, n);
	if (rc == 1)
		http_creq_pause(q);
	else if (rc < 0)
		http_creq_cancel(q);
}

static void fail_unstarted(struct gw_exchange *x, int status)
{
	char msg[ERR_MSG_LEN + 64];
	if (x->timed_out) {
		snprintf(msg, sizeof msg, "upstream request timeout after %d s",
		         x->rev->spec.timeout_s);
		gw_fail(x, 504, msg);
	} else if (x->oom || (x->inst && daemon__inst_oom(x->inst))) {
		gw_fail(x, 500, "the instance ran out of memory (OOM-killed) and was stopped");
	} else if (x->crashed) {
		gw_fail(x, 502, "the instance serving the request stopped (crash or exit)");
	} else {
		snprintf(msg, sizeof msg, "bad gateway: instance %s: %s", x->inst_id,
		         err_str(status));
		gw_fail(x, status == ERR_TIMEOUT ? 504 : 502, msg);
	}
}

/* A refused connection means the request never reached the instance: it
 * died (its exit not yet seen) or closed its port. Such an instance takes
 * no more requests, and a request without a body goes elsewhere. */
static bool retry(struct gw_exchange *x, int status)
{
	if (status != UV_ECONNREFUSED || x->has_body || x->retries >= 2 || x->timed_out)
		return false;
	struct inst *in = x->inst;
	detach_inst(x);
	if (in && in->phase == INST_READY)
		inst_stop(in, "its port refused a connection");
	x->retries++;
	x->inst_id[0] = '\0';
	x->dispatch_wall = 0;
	log_warn("request %s: instance refused the connection; sent again", x->request_id);
	struct inst *other = activator_pick(x->rev);
	if (other)
		gw_dispatch(x, other);
	else
		activator_hold(x);
	return true;
}

static void on_done(struct http_creq *q, int status, void *data)
{
	struct gw_exchange *x = data;
	x->q = NULL;
	if (x->state == GW_TUNNEL || x->ended)
		return; /* the tunnel carries on; it ends the exchange */
	if (x->rev->tokens && x->line.len)
		tokens_line_end(x);
	if (x->deferred && status == 0) {
		undefer(x); /* the whole answer is here: head and body in one write */
		x->started = true;
		x->first_byte_mono = x->end_mono = time_mono_ns();
		http_respond(x->r, x->status, NULL, x->pend.data, x->pend.len);
		x->r = NULL;
		x_end(x);
		return;
	}
	/* A connection that breaks mid-request usually means the instance
	 * crashed, and its exit may arrive a loop turn later: until then it
	 * takes no new request, which would otherwise get a 502 too. A healthy
	 * instance is routable again when the window ends. */
	if (status < 0 && status != ERR_TIMEOUT && status != ERR_CANCELLED && !x->timed_out &&
	    x->inst && x->inst->phase == INST_READY) {
		x->inst->suspect_until_mono = time_mono_ns() + INST_SUSPECT_NS;
		activator_sweep_arm(x->d);
	}
	if (!x->started && retry(x, status))
		return;
	if (!x->started) {
		undefer(x);
		fail_unstarted(x, status);
		return;
	}
	if (status < 0)
		http_stream_abort(x->s);
	else
		http_stream_end(x->s);
	x->r = NULL;
	x_end(x);
}

static void on_backend_drain(struct http_creq *q, void *data)
{
	struct gw_exchange *x = data;
	if (x->r)
		http_req_body_resume(x->r);
}

/* ---- the request body ---- */

static void body_data(struct http_req *r, const char *p, size_t n, void *data)
{
	struct gw_exchange *x = data;
	if (x->q && http_creq_write(x->q, p, n) == 1)
		http_req_body_pause(r);
}

static void body_end(struct http_req *r, int status, void *data)
{
	struct gw_exchange *x = data;
	if (!x->q)
		return;
	if (status < 0)
		http_creq_cancel(x->q);
	else
		http_creq_end(x->q);
}

/* Request headers for the instance into hs (max entries). */
static int forward_headers(struct gw_exchange *x, struct http_header *hs, int max)
{
	struct http_req *r = x->r;
	struct slice conn = http_req_header(r, "Connection");
	struct slice prior = {NULL, 0};
	int n = 0;
	for (int i = 0; i < http_req_header_count(r) && n < max - 6; i++) {
		struct http_header h = http_req_header_at(r, i);
		if (HTTP_NAME_IS(h.name, "X-Forwarded-For")) {
			prior = h.value;
			continue;
		}
		if (dropped(conn, h.name) || HTTP_NAME_IS(h.name, "X-Forwarded-Proto") ||
		    HTTP_NAME_IS(h.name, "X-Request-Id"))
			continue;
		hs[n++] = h;
	}
	buf_reset(&x->hdr);
	if (prior.p) {
		buf_append(&x->hdr, prior.p, prior.n);
		buf_puts(&x->hdr, ", ");
	}
	buf_puts(&x->hdr, x->remote);
	hs[n++] = (struct http_header){SLICE_LIT("X-Forwarded-For"), {x->hdr.data, x->hdr.len}};
	hs[n++] = (struct http_header){SLICE_LIT("X-Forwarded-Proto"), SLICE_LIT("http")};
	hs[n++] = (struct http_header){SLICE_LIT("X-Request-Id"), slice_from(x->request_id)};
	if (x->is_upgrade) {
		hs[n++] = (struct http_header){SLICE_LIT("Connection"), SLICE_LIT("Upgrade")};
		hs[n++] = (struct http_header){SLICE_LIT("Upgrade"), http_req_header(r, "Upgrade")};
	}
	return n;
}

static int64_t body_length(struct http_req *r, bool *streamed)
{
	struct slice te = http_req_header(r, "Transfer-Encoding");
	struct slice cl = http_req_header(r, "Content-Length");
	int64_t clen = -1;
	if (cl.p) {
		char v[24];
		snprintf(v, sizeof v, "%.*s", (int)(cl.n < 23 ? cl.n : 23), cl.p);
		if (!str_to_i64(v, &clen))
			clen = -1;
	}
	*streamed = te.p != NULL || clen > 0;
	return te.p ? -1 : clen;
}

static void attach(struct gw_exchange *x, struct inst *in)
{
	x->inst = in;
	copy_cut(x->inst_id, sizeof x->inst_id, slice_from(in->id));
	x->inext = in->xs;
	x->iprev = NULL;
	if (in->xs)
		in->xs->iprev = x;
	in->xs = x;
	in->active++;
	x->rev->active++;
	/* straight from the handler it is the arrival (µs later): no clock read */
	x->dispatch_wall = x->was_held || x->retries ? time_wall_ns() : x->t0_wall;
	x->state = GW_PROXY;
}

void gw_dispatch(struct gw_exchange *x, struct inst *in)
{
	attach(x, in);
	scaler_observe(x->rev);
	struct http_req *r = x->r;
	int max = http_req_header_count(r) + 8;
	struct http_header stack[64];
	struct http_header *hs = max <= 64 ? stack : xcalloc((size_t)max, sizeof *hs);
	char target[8192];
	struct slice t = http_req_target(r);
	if (t.n >= sizeof target) {
		gw_fail(x, 414, "request target too long");
		return;
	}
	memcpy(target, t.p, t.n);
	target[t.n] = '\0';
	bool streamed;
	int64_t clen = body_length(r, &streamed);
	x->has_body = streamed;
	struct http_creq_opts co = {
	    .method = http_req_method(r),
	    .host = in->addr[0] ? in->addr : "127.0.0.1",
	    .port = in->port,
	    .target = target,
	    .headers = hs,
	    .nheaders = forward_headers(x, hs, max),
	    .stream_body = streamed,
	    .content_length = clen,
	    .on_response = on_response,
	    .on_data = on_data,
	    .on_upgrade = on_upgrade,
	    .on_done = on_done,
	    .on_drain = on_backend_drain,
	    .data = x,
	};
	char err[ERR_MSG_LEN];
	x->q = http_client_request(x->d->client, &co, err);
	if (hs != stack)
		free(hs);
	if (!x->q) {
		gw_fail(x, 502, err);
		return;
	}
	if (streamed)
		http_req_body_read(r, body_data, body_end, x);
}

void gw_inst_crashed(struct inst *in)
{
	/* the connections to it break on their own (the process group is gone)
	 * and end each exchange with 502 or a cut stream; here they let go of
	 * the instance, which is about to be freed */
	while (in->xs) {
		struct gw_exchange *x = in->xs;
		x->crashed = true;
		x->oom = in->oom;
		detach_inst(x);
		if (x->state == GW_TUNNEL)
			tunnel_end(x);
	}
}

void gw_timeout(struct gw_exchange *x)
{
	x->timed_out = true;
	gw_metrics_for(x->d, x->service)->timeouts_504++;
	if (x->state == GW_TUNNEL) {
		tunnel_end(x);
		return;
	}
	if (x->q)
		http_creq_cancel(x->q); /* on_done answers 504 or cuts the stream */
	else
		fail_unstarted(x, ERR_TIMEOUT);
}

/* ---- a new exchange ---- */

static void client_gone(struct http_req *r, void *data)
{
	struct gw_exchange *x = data;
	if (x->ended)
		return;
	if (x->state == GW_HELD) {
		gw_fail(x, 499, "client closed the request");
		return;
	}
	if (x->state == GW_PROXY && x->q)
		http_creq_cancel(x->q);
}

static void request_id(struct gw_exchange *x)
{
	struct slice v = http_req_header(x->r, "X-Request-Id");
	bool ok = v.p && v.n > 0 && v.n < sizeof x->request_id;
	for (size_t i = 0; ok && i < v.n; i++)
		ok = v.p[i] > ' ' && v.p[i] < 127;
	if (ok) {
		memcpy(x->request_id, v.p, v.n);
		x->request_id[v.n] = '\0';
		return;
	}
	static const char hex[] = "0123456789abcdef";
	uint64_t a = daemon__rand(x->d), b = daemon__rand(x->d);
	for (int i = 0; i < 16; i++) {
		x->request_id[i] = hex[(a >> (60 - 4 * i)) & 15];
		x->request_id[16 + i] = hex[(b >> (60 - 4 * i)) & 15];
	}
	x->request_id[32] = '\0';
}

struct gw_exchange *gw_exchange_new(struct daemon *d, struct http_req *r, struct rev *rv,
                                    const char *service)
{
	struct gw_exchange *x = x_alloc(d);
	x->d = d;
	x->r = r;
	x->rev = rv;
	rv->n_xs++;
	x->t0_mono = time_mono_ns();
	x->t0_wall = time_wall_ns();
	x->deadline_mono = x->t0_mono + (int64_t)rv->spec.timeout_s * 1000000000LL;
	x->is_upgrade = http_req_is_upgrade(r);
	copy_cut(x->service, sizeof x->service, slice_from(service));
	copy_cut(x->remote, sizeof x->remote, slice_from(http_req_remote_addr(r)));
	copy_cut(x->method, sizeof x->method, slice_from(http_req_method(r)));
	copy_cut(x->target, sizeof x->target, http_req_target(r));
	request_id(x);
	x->next = d->xs;
	if (d->xs)
		d->xs->prev = x;
	d->xs = x;
	d->n_xs++;
	http_req_on_cancel(r, client_gone, x);
	activator_sweep_arm(d);
	return x;
}

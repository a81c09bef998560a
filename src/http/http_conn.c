/* http_conn.c — one server connection: reads bytes, runs them through the
 * message parser one request at a time (pipelined requests wait in inbuf),
 * dispatches each request to the handler, streams or buffers bodies, keeps
 * the connection alive between requests, enforces the timeouts, and closes
 * (lingering, so a client still sending sees our error answer). Responses
 * are written by http_resp.c. RFC 9112 section 9 (connection management). */
#include "http/http_internal.h"

#include "base/log.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINGER_MS 2000
#define INBUF_MAX (256 * 1024) /* pipelined bytes held while a request runs */

static void conn_free(struct http__conn *c)
{
	struct http_server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	http__parser_release(&c->parser);
	buf_release(&c->inbuf);
	buf_release(&c->req.body);
	buf_release(&c->req.rhead);
	buf_release(&c->req.q);
	pthread_cond_destroy(&c->req.cond);
	free(c);
	s->nconns--;
	http__server_check_done(s);
}

static void maybe_free(struct http__conn *c)
{
	if (c->handles_open == 0 && !c->req.active)
		conn_free(c);
}

static void handle_closed(uv_handle_t *h)
{
	struct http__conn *c = h->data;
	c->handles_open--;
	maybe_free(c);
}

static void raw_closed(struct http_raw *raw)
{
	struct http__conn *c = raw->owner;
	c->state = CONN_CLOSED;
	if (!uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, handle_closed);
	c->handles_open--;
	maybe_free(c);
}

void http__conn_close(struct http__conn *c, bool cancel)
{
	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	if (c->req.active && cancel)
		http__req_cancel(&c->req);
	http__raw_close_now(&c->raw);
}

/* Arms the timer for c->deadline unless it already fires earlier. */
static void arm(struct http__conn *c);

static void timer_cb(uv_timer_t *t)
{
	struct http__conn *c = t->data;
	int64_t now = (int64_t)uv_now(c->srv->loop);
	c->armed_at = INT64_MAX;
	if (now < c->deadline) {
		arm(c);
		return;
	}
	if (c->state == CONN_READING && !c->req.active) {
		http__conn_error(c, 408,
		                 "request timeout: the request head did not arrive in time");
		return;
	}
	if (c->state == CONN_IDLE || c->state == CONN_LINGER)
		http__conn_close(c, false);
}

static void arm(struct http__conn *c)
{
	if (c->state == CONN_CLOSED || c->deadline >= c->armed_at)
		return;
	int64_t now = (int64_t)uv_now(c->srv->loop);
	int64_t ms = c->deadline > now ? c->deadline - now : 0;
	c->armed_at = c->deadline;
	uv_timer_start(&c->timer, timer_cb, (uint64_t)ms, 0);
}

static void set_deadline(struct http__conn *c, int64_t ms)
{
	c->deadline = ms < 0 ? INT64_MAX : (int64_t)uv_now(c->srv->loop) + ms;
}

static void split_target(struct http_req *r)
{
	const char *q = memchr(r->target.p, '?', r->target.n);
	struct slice t = r->target;
	/* absolute-form (a proxy request): keep from the path on */
	if (t.n > 7 && (slice_has_prefix(t, "http://") || slice_has_prefix(t, "https://"))) {
		const char *p = memchr(t.p + 8, '/', t.n - 8);
		t = p ? (struct slice){p, t.n - (size_t)(p - t.p)} : SLICE_LIT("/");
	}
	r->path = q && q >= t.p ? (struct slice){t.p, (size_t)(q - t.p)} : t;
	r->query = q ? (struct slice){q + 1, r->target.n - (size_t)(q + 1 - r->target.p)}
	             : (struct slice){"", 0};
}

/* From on_headers_complete: fills the request and picks the body mode. */
static int on_head(struct http__parser *p)
{
	struct http__conn *c = p->owner;
	struct http_req *r = &c->req;
	struct http_server *s = c->srv;
	http_parser *hp = &p->hp;
	r->method = http_method_str((enum http_method)hp->method);
	r->target = http__parser_url(p);
	split_target(r);
	r->vminor = hp->http_minor;
	r->keep_alive = http_should_keep_alive(hp) != 0;
	r->is_head = hp->method == HTTP_HEAD;
	r->upgrade = (hp->flags & F_UPGRADE) && (hp->flags & F_CONNECTION_UPGRADE);
	r->expect_continue = http__has_token(http__parser_header(p, "Expect"), "100-continue");
	bool has_body =
	    (hp->flags & F_CHUNKED) || ((hp->flags & F_CONTENTLENGTH) && hp->content_length > 0);
	if (has_body && s->cfg.stream_body && s->cfg.stream_body(r, s->cfg.data)) {
		r->body_mode = BODY_STREAM;
		p->max_body = UINT64_MAX;
		return 3;
	}
	r->body_mode = BODY_BUFFER;
	if (r->expect_continue && has_body &&
	    !((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->max_body))
		http__conn_send_continue(c);
	return 0;
}

static void deliver(struct http_req *r, const char *d, size_t n)
{
	if (r->body_paused || r->body_ended) {
		buf_append(&r->body, d, n); /* held until resume */
		return;
	}
	r->on_data(r, d, n, r->body_data);
}

static void on_body(struct http__parser *p, const char *d, size_t n)
{
	struct http__conn *c = p->owner;
	struct http_req *r = &c->req;
	if (r->body_mode == BODY_STREAM) {
		deliver(r, d, n);
		return;
	}
	if (buf_try_reserve(&r->body, n) < 0) {
		p->status = 413;
		p->why = "request body too large for memory";
		return;
	}
	buf_append(&r->body, d, n);
}

static void reset_req(struct http__conn *c)
{
	struct http_req *r = &c->req;
	if (r->body.cap > 1024 * 1024)
		buf_release(&r->body);
	buf_reset(&r->body);
	buf_reset(&r->rhead);
	r->method = NULL;
	r->route = NULL;
	r->active = r->finished = r->started = false;
	r->chunked = r->close_delim = r->no_body = false;
	r->clen_left = -1;
	r->body_mode = BODY_NONE;
	r->body_reading = r->body_paused = r->body_complete = r->body_ended = false;
	r->on_data = NULL;
	r->on_end = NULL;
	r->on_cancel = r->on_drain = NULL;
	r->want_drain = false;
	atomic_store(&r->cancelled, false);
	r->q_end = false;
	r->unsent = 0;
	c->sent_continue = false;
	http__parser_next(&c->parser);
	c->parser.max_body = c->srv->cfg.max_body_bytes;
}

static void dispatch(struct http__conn *c)
{
	struct http_req *r = &c->req;
	r->active = true;
	c->state = CONN_ACTIVE;
	set_deadline(c, -1);
	c->srv->cfg.handler(r, c->srv->cfg.data);
}

void http__conn_req_done(struct http__conn *c)
{
	struct http_req *r = &c->req;
	r->active = false;
	if (c->state == CONN_CLOSED) {
		maybe_free(c);
		return;
	}
	if (c->state == CONN_RAW)
		return;
	bool body_left = r->body_mode == BODY_STREAM && !r->body_complete;
	if (c->close_after || !r->keep_alive || body_left || c->parser.hp.upgrade ||
	    c->srv->draining) {
		c->state = CONN_LINGER;
		set_deadline(c, LINGER_MS);
		http__conn_written(&c->raw); /* shuts down once the bytes are out */
		arm(c);
		return;
	}
	reset_req(c);
	c->state = CONN_IDLE;
	set_deadline(c, c->srv->cfg.idle_timeout_ms);
	http__conn_process(c);
}

/* The streamed body ended (or failed): tells the handler once. */
static void body_end(struct http_req *r, int status)
{
	if (r->body_ended || !r->on_end)
		return;
	r->body_ended = true;
	r->on_end(r, status, r->body_data);
}

/* Runs the parser over inbuf once; false when nothing more can happen now. */
static bool step(struct http__conn *c)
{
	struct http_req *r = &c->req;
	if (r->active) {
		if (r->body_mode != BODY_STREAM || !r->body_reading || r->body_paused ||
		    r->body_complete)
			return false;
		if (r->body.len) { /* held while paused */
			struct buf held = r->body;
			buf_init(&r->body);
			r->on_data(r, held.data, held.len, r->body_data);
			buf_release(&held);
			return true;
		}
	}
	if ((c->inbuf.len == 0 && c->bn == 0) || c->state == CONN_CLOSED)
		return false;
	size_t used;
	if (c->bn) {
		used = http__parser_feed(&c->parser, c->bp, c->bn);
		c->bp += used;
		c->bn -= used;
	} else {
		used = http__parser_feed(&c->parser, c->inbuf.data, c->inbuf.len);
		buf_consume(&c->inbuf, used);
	}
	if (c->parser.status) {
		if (r->active) {
			body_end(r, ERR_PROTOCOL);
			c->close_after = true;
			c->inbuf.len = 0;
			return false;
		}
		http__conn_error(c, c->parser.status, c->parser.why);
		return false;
	}
	if (c->parser.started && c->state == CONN_IDLE) {
		c->state = CONN_READING;
		set_deadline(c, c->srv->cfg.header_timeout_ms);
	}
	if (r->active && c->parser.msg_done) {
		r->body_complete = true;
		body_end(r, 0);
		return true;
	}
	if (!r->active &&
	    (c->parser.msg_done || (c->parser.head_done && r->body_mode == BODY_STREAM))) {
		if (c->parser.msg_done)
			r->body_complete = true;
		dispatch(c);
		return true;
	}
	return used > 0;
}

void http__conn_process(struct http__conn *c)
{
	if (c->in_process || c->state == CONN_CLOSED)
		return;
	c->in_process = true;
	c->raw.corked = true;
	while (c->state != CONN_CLOSED && c->state != CONN_RAW && c->state != CONN_LINGER &&
	       step(c))
		;
	c->in_process = false;
	if (c->state == CONN_CLOSED)
		return;
	c->raw.corked = false;
	http__raw_flush(&c->raw);
	/* writes made while corked may all have gone out in this flush: no
	 * write callback will tell a waiting producer, so tell it here */
	if (c->state != CONN_RAW)
		http__conn_written(&c->raw);
	if (c->state == CONN_CLOSED)
		return;
	if (c->read_stopped && c->inbuf.len < INBUF_MAX && c->state != CONN_RAW) {
		c->read_stopped = false;
		http__raw_read_start(&c->raw);
	}
	arm(c);
}

static void conn_read(struct http_raw *raw, const char *p, ssize_t n)
{
	struct http__conn *c = raw->owner;
	if (n < 0) {
		if (c->req.active)
			body_end(&c->req, ERR_CANCELLED);
		http__conn_close(c, true);
		return;
	}
	if (c->state == CONN_LINGER)
		return; /* drained and dropped */
	if (c->inbuf.len == 0 && !c->in_process) {
		/* parse straight from the read buffer; keep only what is left */
		c->bp = p;
		c->bn = (size_t)n;
		http__conn_process(c);
		if (c->bn && c->state != CONN_CLOSED && c->state != CONN_LINGER &&
		    buf_try_reserve(&c->inbuf, c->bn) == 0)
			buf_append(&c->inbuf, c->bp, c->bn);
		c->bn = 0;
	} else {
		if (buf_try_reserve(&c->inbuf, (size_t)n) < 0) {
			http__conn_close(c, true);
			return;
		}
		buf_append(&c->inbuf, p, (size_t)n);
		http__conn_process(c);
	}
	bool parsing = !c->req.active || (c->req.body_reading && !c->req.body_paused);
	if (!parsing && c->inbuf.len >= INBUF_MAX && c->state != CONN_CLOSED && !c->read_stopped) {
		c->read_stopped = true;
		http__raw_read_stop(raw);
	}
}

static void peer_name(struct http__conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	c->addr[0] = '\0';
	if (uv_tcp_getpeername(&c->raw.tcp, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_UNIX) { /* http_server_listen_unix */
		snprintf(c->addr, sizeof c->addr, "unix");
		c->port = 0;
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		uv_ip6_name(a, c->addr, sizeof c->addr);
		c->port = ntohs(a->sin6_port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		uv_ip4_name(a, c->addr, sizeof c->addr);
		c->port = ntohs(a->sin_port);
	}
}

static struct http__conn *conn_new(struct http_server *s)
{
	struct http__conn *c = xcalloc(1, sizeof *c);
	c->srv = s;
	uv_tcp_init(s->loop, &c->raw.tcp);
	http__raw_init(&c->raw, s->cfg.high_water);
	c->raw.owner = c;
	c->raw.on_read = conn_read;
	c->raw.on_written = http__conn_written;
	c->raw.on_closed = raw_closed;
	uv_timer_init(s->loop, &c->timer);
	c->timer.data = c;
	c->handles_open = 2;
	c->armed_at = INT64_MAX;
	http__parser_init(&c->parser, HTTP_REQUEST, s->cfg.max_header_bytes, s->cfg.max_headers);
	c->parser.owner = c;
	c->parser.on_head = on_head;
	c->parser.on_body = on_body;
	c->req.conn = c;
	c->req.srv = s;
	c->req.stream.req = &c->req;
	pthread_cond_init(&c->req.cond, NULL);
	reset_req(c);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	return c;
}

void http__conn_accept(struct http_server *s)
{
	struct http__conn *c = conn_new(s);
	if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->raw.tcp) < 0) {
		http__conn_close(c, false);
		return;
	}
	uv_tcp_nodelay(&c->raw.tcp, 1);
	peer_name(c);
	c->state = CONN_IDLE;
	set_deadline(c, s->cfg.idle_timeout_ms);
	if (s->nconns > s->cfg.max_conns || s->draining) {
		log_warn("http: connection from %s refused: %d connections open", c->addr,
		         s->nconns - 1);
		http__conn_error(c, 503, "too many connections");
		http__raw_read_start(&c->raw);
		return;
	}
	http__raw_read_start(&c->raw);
	arm(c);
}

void http__conn_error(struct http__conn *c, int status, const char *msg)
{
	struct buf *h = &c->srv->scratch;
	buf_reset(h);
	http__format_error(c->srv, h, status, msg);
	uv_buf_t b = uv_buf_init(h->data, (unsigned)h->len);
	buf_reset(&c->inbuf);
	c->bn = 0;
	c->state = CONN_LINGER;
	set_deadline(c, LINGER_MS);
	if (http__raw_writev(&c->raw, &b, 1) < 0) {
		http__conn_close(c, false);
		return;
	}
	if (!c->in_process) {
		http__conn_written(&c->raw);
		arm(c);
	}
}

void http__conn_send_continue(struct http__conn *c)
{
	if (c->sent_continue || c->req.vminor < 1 || c->req.started)
		return; /* after a final head it would land in the body */
	c->sent_continue = true;
	uv_buf_t b = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
	http__raw_writev(&c->raw, &b, 1);
}

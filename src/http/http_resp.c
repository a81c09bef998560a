/* http_resp.c — responses: heads, one-shot bodies, chunked streams with
 * NDJSON/SSE helpers, and the hand-off from worker threads. On the loop
 * thread bytes go straight to the socket (head and body in one write); a
 * worker appends to the request's queue under the server mutex and wakes the
 * loop with uv_async, blocking while the connection has more than high_water
 * bytes unsent. RFC 9112 sections 6-7 (message body length, chunked coding). */
#include "http/http_internal.h"

#include "base/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 499: return "Client Closed Request";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default:
		return status < 200   ? "Info"
		       : status < 400 ? "OK"
		       : status < 500 ? "Error"
		                      : "Server Error";
	}
}

bool http__on_loop(const struct http_server *s)
{
	return pthread_equal(pthread_self(), s->loop_thread);
}

static void format_date(char out[40])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 40, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

void http__date_update(struct http_server *s)
{
	int64_t now = (int64_t)uv_now(s->loop);
	if (s->date_ms && now - s->date_ms < 1000)
		return;
	s->date_ms = now;
	format_date(s->date);
}

#define PUT(b, lit) buf_append((b), (lit), sizeof(lit) - 1)

/* Decimal without printf: heads are built on every request. */
static void put_u64(struct buf *b, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

/* Framing headers; returns whether the connection closes after. */
static bool put_framing(struct http_req *r, struct buf *out, int status, int64_t clen, bool close)
{
	bool bodiless = status < 200 || status == 204 || status == 304;
	r->no_body = bodiless || r->is_head;
	if (bodiless)
		return close;
	if (clen < 0 && r->clen_left >= 0)
		clen = r->clen_left;
	if (clen >= 0) {
		PUT(out, "Content-Length: ");
		put_u64(out, (uint64_t)clen);
		PUT(out, "\r\n");
	} else if (r->vminor >= 1) {
		r->chunked = !r->no_body;
		if (r->chunked)
			PUT(out, "Transfer-Encoding: chunked\r\n");
	} else {
		r->close_delim = true;
		close = true;
	}
	return close;
}

void http__format_head(struct http_req *r, struct buf *out, int status, const char *ctype,
                       int64_t clen, bool on_loop)
{
	struct http_server *s = r->srv;
	char date[40];
	if (on_loop) {
		http__date_update(s);
		memcpy(date, s->date, sizeof date);
	} else {
		format_date(date);
	}
	r->started = true;
	/* a streamed request body still unread when the request finishes
	 * closes the connection then (http__conn_req_done) */
	/* an upgrade or CONNECT answered normally: what follows is not HTTP */
	bool close = !r->keep_alive || r->upgrade || r->conn->parser.hp.upgrade ||
		     __atomic_load_n(&s->draining, __ATOMIC_RELAXED);
	const char *text = http_status_text(status);
	buf_reserve(out, 160 + strlen(text) + (ctype ? strlen(ctype) : 0) + r->rhead.len);
	PUT(out, "HTTP/1.1 ");
	put_u64(out, (uint64_t)(status > 0 && status < 1000 ? status : 500));
	buf_putc(out, ' ');
	buf_puts(out, text);
	PUT(out, "\r\nServer: gpurun\r\n");
	buf_puts(out, date);
	if (ctype) {
		PUT(out, "Content-Type: ");
		buf_puts(out, ctype);
		PUT(out, "\r\n");
	}
	close = put_framing(r, out, status, clen, close);
	if (close)
		PUT(out, "Connection: close\r\n");
	else if (r->vminor == 0)
		PUT(out, "Connection: keep-alive\r\n");
	r->resp_close = close;
	buf_append(out, r->rhead.data, r->rhead.len);
	PUT(out, "\r\n");
}

void http__format_error(struct http_server *s, struct buf *out, int status, const char *msg)
{
	struct buf body = BUF_INIT;
	buf_puts(&body, "{\"error\":");
	json_append_str(&body, msg, strlen(msg));
	buf_puts(&body, "}");
	http__date_update(s);
	buf_printf(out,
	           "HTTP/1.1 %d %s\r\nServer: gpurun\r\n%sContent-Type: application/json; "
	           "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	           status, http_status_text(status), s->date, body.len, body.data);
	buf_release(&body);
}

int http_resp_header_n(struct http_req *r, struct slice name, struct slice value)
{
	if (r->started)
		return ERR_INVALID;
	if (memchr(name.p, '\r', name.n) || memchr(name.p, '\n', name.n) ||
	    memchr(name.p, ':', name.n) || memchr(value.p, '\r', value.n) ||
	    memchr(value.p, '\n', value.n))
		return ERR_INVALID;
	if (HTTP_NAME_IS(name, "Content-Length")) {
		char tmp[32];
		int64_t v;
		if (value.n == 0 || value.n >= sizeof tmp)
			return ERR_INVALID;
		memcpy(tmp, value.p, value.n);
		tmp[value.n] = '\0';
		if (!str_to_i64(tmp, &v) || v < 0)
			return ERR_INVALID;
		r->clen_left = v;
		return 0;
	}
	if (HTTP_NAME_IS(name, "Transfer-Encoding") || HTTP_NAME_IS(name, "Connection") ||
	    HTTP_NAME_IS(name, "Date") || HTTP_NAME_IS(name, "Server"))
		return 0;
	struct buf *b = &r->rhead;
	buf_reserve(b, name.n + value.n + 4);
	memcpy(b->data + b->len, name.p, name.n);
	b->len += name.n;
	memcpy(b->data + b->len, ": ", 2);
	b->len += 2;
	memcpy(b->data + b->len, value.p, value.n);
	b->len += value.n;
	memcpy(b->data + b->len, "\r\n", 3); /* with the NUL */
	b->len += 2;
	return 0;
}

int http_resp_header(struct http_req *r, const char *name, const char *value)
{
	return http_resp_header_n(r, slice_from(name), slice_from(value));
}

/* ---- finishing and the worker hand-off ---- */

void http__req_finish(struct http_req *r)
{
	r->finished = true;
	if (r->resp_close)
		r->conn->close_after = true;
	http__conn_req_done(r->conn);
}

static bool cancelled(const struct http_req *r)
{
	return atomic_load(&r->cancelled);
}

/* Worker side, mu held: r joins the list the loop drains. */
void http__post_locked(struct http_req *r)
{
	r->worker = true;
	if (r->in_pending)
		return;
	r->in_pending = true;
	r->pending_next = r->srv->pending;
	r->srv->pending = r;
}

void http__req_take_q(struct http_req *r)
{
	struct http_server *s = r->srv;
	pthread_mutex_lock(&s->mu);
	r->in_pending = false;
	struct buf out = r->q;
	buf_init(&r->q);
	bool end = r->q_end;
	pthread_mutex_unlock(&s->mu);
	struct http_raw *raw = &r->conn->raw;
	if (out.len && !cancelled(r) && r->conn->state != CONN_CLOSED) {
		uv_buf_t b = uv_buf_init(out.data, (unsigned)out.len);
		if (http__raw_writev(raw, &b, 1) < 0)
			http__conn_close(r->conn, true);
	}
	buf_release(&out);
	pthread_mutex_lock(&s->mu);
	r->unsent = http__raw_unsent(raw);
	if (r->unsent + r->q.len <= raw->high_water / 2)
		pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&s->mu);
	if (end && !r->finished)
		http__req_finish(r);
}

void http__async_cb(uv_async_t *a)
{
	struct http_server *s = a->data;
	pthread_mutex_lock(&s->mu);
	struct http_req *list = s->pending;
	s->pending = NULL;
	pthread_mutex_unlock(&s->mu);
	while (list) {
		struct http_req *r = list;
		list = r->pending_next;
		http__req_take_q(r);
	}
}

void http__req_cancel(struct http_req *r)
{
	struct http_server *s = r->srv;
	pthread_mutex_lock(&s->mu);
	atomic_store(&r->cancelled, true);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&s->mu);
	if (r->on_cancel) {
		http_req_cb cb = r->on_cancel;
		r->on_cancel = NULL;
		cb(r, r->cancel_data);
	}
}

void http_req_on_cancel(struct http_req *r, http_req_cb cb, void *data)
{
	r->on_cancel = cb;
	r->cancel_data = data;
	if (cancelled(r) && cb) {
		r->on_cancel = NULL;
		cb(r, data);
	}
}

bool http_req_cancelled(const struct http_req *r)
{
	return cancelled(r);
}

/* After every completed write on a server connection. */
void http__conn_written(struct http_raw *raw)
{
	struct http__conn *c = raw->owner;
	struct http_req *r = &c->req;
	size_t unsent = http__raw_unsent(raw);
	if (r->active && r->worker) {
		pthread_mutex_lock(&c->srv->mu);
		r->unsent = unsent;
		if (unsent + r->q.len <= raw->high_water / 2)
			pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&c->srv->mu);
	}
	if (r->active && r->want_drain && unsent <= raw->high_water / 2) {
		r->want_drain = false;
		if (r->on_drain)
			r->on_drain(r, r->drain_data);
	}
	if (raw->werr && c->state != CONN_CLOSED) {
		http__conn_close(c, true);
		return;
	}
	if (c->state == CONN_LINGER && unsent == 0 && !c->shut && !raw->corked) {
		c->shut = true;
		raw->sreq.data = raw;
		if (uv_shutdown(&raw->sreq, (uv_stream_t *)&raw->tcp, NULL) < 0)
			http__conn_close(c, false);
	}
}

/* ---- one-shot responses ---- */

int http_respond(struct http_req *r, int status, const char *ctype, const void *body, size_t n)
{
	struct http_server *s = r->srv;
	if (!http__on_loop(s)) {
		pthread_mutex_lock(&s->mu);
		if (!cancelled(r)) {
			http__format_head(r, &r->q, status, ctype, (int64_t)n, false);
			if (!r->no_body)
				buf_append(&r->q, body, n);
		}
		r->q_end = true;
		http__post_locked(r);
		int rc = cancelled(r) ? ERR_CANCELLED : 0;
		/* sent under the lock: once it is released the loop may finish
		 * the request and free the server */
		uv_async_send(&s->async);
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	if (r->worker)
		http__req_take_q(r);
	if (cancelled(r) || r->conn->state == CONN_CLOSED) {
		http__req_finish(r);
		return ERR_CANCELLED;
	}
	struct buf *h = &s->scratch;
	buf_reset(h);
	http__format_head(r, h, status, ctype, (int64_t)n, true);
	uv_buf_t b[2] = {uv_buf_init(h->data, (unsigned)h->len),
	                 uv_buf_init((char *)body, (unsigned)n)};
	int rc = http__raw_writev(&r->conn->raw, b, r->no_body || !n ? 1u : 2u);
	http__req_finish(r);
	return rc < 0 ? ERR_CANCELLED : 0;
}

int http_respond_json(struct http_req *r, int status, const char *json)
{
	return http_respond(r, status, "application/json; charset=utf-8", json, strlen(json));
}

int http_respond_error(struct http_req *r, int status, const char *msg)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"error\":");
	json_append_str(&b, msg, strlen(msg));
	buf_puts(&b, "}");
	int rc = http_respond_json(r, status, b.data);
	buf_release(&b);
	return rc;
}

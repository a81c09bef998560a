/* http_stream.c — streamed responses: chunked (or Content-Length, or
 * close-delimited for HTTP/1.0) bodies written piece by piece from the loop
 * or a worker thread, each piece flushed at once, with backpressure; NDJSON
 * and SSE (WHATWG "server-sent events") framing helpers. RFC 9112 7.1. */
#include "http/http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Body framing for n bytes split over pieces: chunk header and trailer. */
static int frame(struct http_req *r, size_t n, char hdr[24])
{
	if (r->chunked)
		return snprintf(hdr, 24, "%zx\r\n", n);
	return 0;
}

/* Trims pieces to the declared Content-Length; false when over it. */
static bool fits(struct http_req *r, size_t n)
{
	if (r->clen_left < 0)
		return true;
	if ((uint64_t)n > (uint64_t)r->clen_left)
		return false;
	r->clen_left -= (int64_t)n;
	return true;
}

static int write_loop(struct http_req *r, const uv_buf_t *pieces, unsigned np, size_t n)
{
	struct http_raw *raw = &r->conn->raw;
	if (r->worker)
		http__req_take_q(r);
	if (atomic_load(&r->cancelled) || r->conn->state == CONN_CLOSED)
		return ERR_CANCELLED;
	if (r->no_body || n == 0)
		return 0;
	if (!fits(r, n))
		return ERR_TOO_LARGE;
	char hdr[24];
	uv_buf_t b[8];
	unsigned k = 0;
	int hn = frame(r, n, hdr);
	if (hn)
		b[k++] = uv_buf_init(hdr, (unsigned)hn);
	for (unsigned i = 0; i < np && k < 7; i++)
		b[k++] = pieces[i];
	if (r->chunked)
		b[k++] = uv_buf_init("\r\n", 2);
	int rc = http__raw_writev(raw, b, k);
	if (rc < 0) {
		http__conn_close(r->conn, true);
		return ERR_CANCELLED;
	}
	if (http__raw_unsent(raw) > raw->high_water) {
		r->want_drain = true;
		return 1;
	}
	return 0;
}

static void deadline_after(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Worker, mu held: waits while more than limit bytes are unsent. */
static int wait_below(struct http_req *r, size_t limit, int64_t timeout_ms)
{
	struct timespec ts;
	if (timeout_ms >= 0)
		deadline_after(&ts, timeout_ms);
	while (!atomic_load(&r->cancelled) && r->q.len + r->unsent > limit) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&r->cond, &r->srv->mu);
		} else if (pthread_cond_timedwait(&r->cond, &r->srv->mu, &ts) == ETIMEDOUT) {
			return ERR_TIMEOUT;
		}
	}
	return atomic_load(&r->cancelled) ? ERR_CANCELLED : 0;
}

static int write_worker(struct http_req *r, const uv_buf_t *pieces, unsigned np, size_t n,
                        bool block)
{
	struct http_server *s = r->srv;
	size_t high = r->conn->raw.high_water;
	pthread_mutex_lock(&s->mu);
	r->worker = true;
	int rc = block ? wait_below(r, high, -1) : atomic_load(&r->cancelled) ? ERR_CANCELLED : 0;
	if (rc == 0 && !r->no_body && n > 0) {
		if (!fits(r, n)) {
			rc = ERR_TOO_LARGE;
		} else {
			char hdr[24];
			int hn = frame(r, n, hdr);
			buf_append(&r->q, hdr, (size_t)hn);
			for (unsigned i = 0; i < np; i++)
				buf_append(&r->q, pieces[i].base, pieces[i].len);
			if (r->chunked)
				buf_puts(&r->q, "\r\n");
			http__post_locked(r);
			if (r->q.len + r->unsent > high)
				rc = 1;
		}
	}
	if (rc >= 0)
		uv_async_send(&s->async); /* under the lock, see http_stream_end */
	pthread_mutex_unlock(&s->mu);
	return block && rc == 1 ? 0 : rc;
}

static int stream_writev(struct http_stream *st, const uv_buf_t *pieces, unsigned np, bool block)
{
	struct http_req *r = st->req;
	size_t n = 0;
	for (unsigned i = 0; i < np; i++)
		n += pieces[i].len;
	if (http__on_loop(r->srv))
		return write_loop(r, pieces, np, n);
	return write_worker(r, pieces, np, n, block);
}

struct http_stream *http_stream_begin(struct http_req *r, int status, const char *ctype)
{
	struct http_server *s = r->srv;
	if (!http__on_loop(s)) {
		pthread_mutex_lock(&s->mu);
		r->worker = true;
		if (!atomic_load(&r->cancelled)) {
			http__format_head(r, &r->q, status, ctype, -1, false);
			http__post_locked(r);
		}
		/* sent under the lock: once it is released the loop may finish
		 * the request and free the server */
		uv_async_send(&s->async);
		pthread_mutex_unlock(&s->mu);
		return &r->stream;
	}
	if (atomic_load(&r->cancelled) || r->conn->state == CONN_CLOSED)
		return &r->stream;
	struct buf *h = &s->scratch;
	buf_reset(h);
	http__format_head(r, h, status, ctype, -1, true);
	uv_buf_t b = uv_buf_init(h->data, (unsigned)h->len);
	if (http__raw_writev(&r->conn->raw, &b, 1) < 0)
		http__conn_close(r->conn, true);
	return &r->stream;
}

int http_stream_write(struct http_stream *s, const void *p, size_t n)
{
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
	return stream_writev(s, &b, 1, true);
}

int http_stream_write_nb(struct http_stream *s, const void *p, size_t n)
{
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
	return stream_writev(s, &b, 1, false);
}

int http_stream_wait_writable(struct http_stream *st, int64_t timeout_ms)
{
	struct http_req *r = st->req;
	pthread_mutex_lock(&r->srv->mu);
	int rc = wait_below(r, r->conn->raw.high_water / 2, timeout_ms);
	pthread_mutex_unlock(&r->srv->mu);
	return rc;
}

int http_stream_ndjson(struct http_stream *s, const char *json)
{
	uv_buf_t b[2] = {uv_buf_init((char *)json, (unsigned)strlen(json)), uv_buf_init("\n", 1)};
	return stream_writev(s, b, 2, true);
}

int http_stream_sse(struct http_stream *s, const char *event, const char *data)
{
	struct buf b = BUF_INIT;
	if (event)
		buf_printf(&b, "event: %s\n", event);
	const char *p = data;
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		buf_puts(&b, "data: ");
		buf_append(&b, p, len);
		buf_putc(&b, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	buf_putc(&b, '\n');
	uv_buf_t u = uv_buf_init(b.data, (unsigned)b.len);
	int rc = stream_writev(s, &u, 1, true);
	buf_release(&b);
	return rc;
}

int http_stream_end(struct http_stream *st)
{
	struct http_req *r = st->req;
	struct http_server *s = r->srv;
	if (!http__on_loop(s)) {
		pthread_mutex_lock(&s->mu);
		int rc = atomic_load(&r->cancelled) ? ERR_CANCELLED : 0;
		if (rc == 0 && r->chunked)
			buf_puts(&r->q, "0\r\n\r\n");
		if (r->clen_left > 0 || r->close_delim)
			r->resp_close = true;
		r->q_end = true;
		http__post_locked(r);
		/* sent under the lock: once it is released the loop may finish
		 * the request and free the server */
		uv_async_send(&s->async);
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	if (r->worker)
		http__req_take_q(r);
	int rc = 0;
	if (atomic_load(&r->cancelled) || r->conn->state == CONN_CLOSED) {
		rc = ERR_CANCELLED;
	} else if (r->chunked) {
		uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);
		if (http__raw_writev(&r->conn->raw, &b, 1) < 0)
			rc = ERR_CANCELLED;
	}
	if (r->clen_left > 0 || r->close_delim)
		r->resp_close = true;
	http__req_finish(r);
	return rc;
}

void http_stream_on_drain(struct http_stream *s, http_req_cb cb, void *data)
{
	s->req->on_drain = cb;
	s->req->drain_data = data;
}

struct http_req *http_stream_req(struct http_stream *s)
{
	return s->req;
}

void http_stream_abort(struct http_stream *st)
{
	struct http_req *r = st->req;
	struct http_server *s = r->srv;
	if (!http__on_loop(s)) {
		pthread_mutex_lock(&s->mu);
		r->resp_close = true;
		r->q_end = true;
		http__post_locked(r);
		/* sent under the lock: once it is released the loop may finish
		 * the request and free the server */
		uv_async_send(&s->async);
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (r->worker)
		http__req_take_q(r);
	r->resp_close = true;
	if (r->conn->state != CONN_CLOSED)
		http__conn_close(r->conn, false);
	http__req_finish(r);
}

/* http_raw.c — a TCP connection with a write queue, shared by the server and
 * client connections and handed to users after an upgrade. Writes go to the
 * kernel at once when nothing is queued (uv_try_write, no copy); the rest is
 * copied and written with one uv_write at a time, so unsent bytes are counted
 * exactly. It does no HTTP. */
#include "http/http_internal.h"

#include "base/mem.h"

#include <string.h>

/* One read buffer per loop thread: reads are consumed within the callback. */
static _Thread_local char rbuf[HTTP__RBUF_SIZE];

void http__raw_init(struct http_raw *r, size_t high_water)
{
	buf_init(&r->wq);
	buf_init(&r->wflight);
	buf_init(&r->leftover);
	r->high_water = high_water ? high_water : 256 * 1024;
	r->tcp.data = r;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	*b = uv_buf_init(rbuf, sizeof rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct http_raw *r = s->data;
	if (n == 0 || r->closing)
		return;
	if (n < 0)
		http__raw_read_stop(r);
	r->on_read(r, b->base, n);
}

int http__raw_read_start(struct http_raw *r)
{
	if (r->reading || r->closing)
		return 0;
	int rc = uv_read_start((uv_stream_t *)&r->tcp, alloc_cb, read_cb);
	if (rc == 0)
		r->reading = true;
	return rc;
}

void http__raw_read_stop(struct http_raw *r)
{
	if (!r->reading)
		return;
	uv_read_stop((uv_stream_t *)&r->tcp);
	r->reading = false;
}

size_t http__raw_unsent(const struct http_raw *r)
{
	return r->wq.len + r->wflight.len;
}

static void write_cb(uv_write_t *w, int status)
{
	struct http_raw *r = w->data;
	r->writing = false;
	buf_reset(&r->wflight);
	if (status < 0 && !r->werr)
		r->werr = status;
	if (r->closing)
		return;
	if (!r->werr)
		http__raw_flush(r);
	if (r->on_written)
		r->on_written(r);
}

static void shutdown_cb(uv_shutdown_t *s, int status)
{
	struct http_raw *r = s->data;
	if (!r->closing)
		http__raw_close_now(r);
}

void http__raw_flush(struct http_raw *r)
{
	if (r->writing || r->corked || r->closing || r->werr)
		return;
	if (r->wq.len) {
		uv_buf_t b = uv_buf_init(r->wq.data, (unsigned)r->wq.len);
		int n = uv_try_write((uv_stream_t *)&r->tcp, &b, 1);
		if (n > 0)
			buf_consume(&r->wq, (size_t)n);
		else if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS)
			r->werr = n;
	}
	if (r->wq.len && !r->werr) {
		struct buf t = r->wflight;
		r->wflight = r->wq;
		r->wq = t;
		buf_reset(&r->wq);
		uv_buf_t b = uv_buf_init(r->wflight.data, (unsigned)r->wflight.len);
		r->wreq.data = r;
		int rc = uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, write_cb);
		if (rc < 0)
			r->werr = rc;
		else
			r->writing = true;
	}
	if (!r->writing && !r->wq.len && r->close_after_write && !r->closing) {
		r->sreq.data = r;
		if (r->werr || uv_shutdown(&r->sreq, (uv_stream_t *)&r->tcp, shutdown_cb) < 0)
			http__raw_close_now(r);
	}
}

int http__raw_writev(struct http_raw *r, const uv_buf_t *bufs, unsigned n)
{
	if (r->closing)
		return UV_ECANCELED;
	if (r->werr)
		return r->werr;
	unsigned i = 0;
	size_t off = 0;
	if (!r->writing && !r->corked && r->wq.len == 0) {
		int w = uv_try_write((uv_stream_t *)&r->tcp, bufs, n);
		if (w < 0 && w != UV_EAGAIN && w != UV_ENOSYS) {
			r->werr = w;
			return w;
		}
		size_t done = w > 0 ? (size_t)w : 0;
		while (i < n && done >= bufs[i].len)
			done -= bufs[i++].len;
		off = done;
	}
	size_t need = 0;
	for (unsigned j = i; j < n; j++)
		need += bufs[j].len;
	if (need == 0)
		return 0;
	if (buf_try_reserve(&r->wq, need - off) < 0)
		return -ENOMEM;
	for (; i < n; i++, off = 0)
		buf_append(&r->wq, bufs[i].base + off, bufs[i].len - off);
	http__raw_flush(r);
	return r->werr;
}

static void close_cb(uv_handle_t *h)
{
	struct http_raw *r = h->data;
	buf_release(&r->wq);
	buf_release(&r->wflight);
	buf_release(&r->leftover);
	if (r->on_closed)
		r->on_closed(r);
}

void http__raw_close_now(struct http_raw *r)
{
	if (r->closing)
		return;
	r->closing = true;
	r->reading = false;
	uv_close((uv_handle_t *)&r->tcp, close_cb);
}

/* ---- user mode (after an upgrade) ---- */

static void user_read(struct http_raw *r, const char *p, ssize_t n)
{
	if (r->user_read)
		r->user_read(r, p, n, r->user_data);
}

static void user_written(struct http_raw *r)
{
	if (r->want_drain && http__raw_unsent(r) <= r->high_water / 2) {
		r->want_drain = false;
		if (r->user_drain)
			r->user_drain(r, r->user_data);
	}
}

void http__raw_to_user(struct http_raw *r, const char *left, size_t n)
{
	http__raw_read_stop(r);
	r->user_mode = true;
	r->on_read = user_read;
	r->on_written = user_written;
	r->corked = false;
	if (n)
		buf_append(&r->leftover, left, n);
}

int http_raw_start(struct http_raw *r, http_raw_read_fn on_read, http_raw_cb on_drain, void *data)
{
	r->user_read = on_read;
	r->user_drain = on_drain;
	r->user_data = data;
	if (r->leftover.len) {
		struct buf l = r->leftover;
		buf_init(&r->leftover);
		on_read(r, l.data, (ssize_t)l.len, data);
		buf_release(&l);
		if (r->closing)
			return 0;
	}
	if (r->paused)
		return 0;
	return http__raw_read_start(r);
}

int http_raw_write(struct http_raw *r, const void *p, size_t n)
{
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
	int rc = http__raw_writev(r, &b, 1);
	if (rc < 0)
		return rc;
	if (http__raw_unsent(r) > r->high_water) {
		r->want_drain = true;
		return 1;
	}
	return 0;
}

void http_raw_pause(struct http_raw *r)
{
	r->paused = true;
	http__raw_read_stop(r);
}

void http_raw_resume(struct http_raw *r)
{
	r->paused = false;
	if (r->user_read)
		http__raw_read_start(r);
}

size_t http_raw_unsent(const struct http_raw *r)
{
	return http__raw_unsent(r);
}

void http_raw_close(struct http_raw *r, bool abort)
{
	r->user_read = NULL;
	r->user_drain = NULL;
	http__raw_read_stop(r);
	if (abort || r->werr || !http__raw_unsent(r)) {
		http__raw_close_now(r);
		return;
	}
	r->close_after_write = true;
	http__raw_flush(r);
}

/* http_client_req.c — one client request: its head (built without printf,
 * framing headers ours), the streamed request body (chunked or sized, held
 * until the connection is up, backpressure by high water), and the
 * response-side controls (pause, resume, cancel). The pool and connections
 * are http_client.c. RFC 9112 sections 6-7. */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool header_ok(struct slice s)
{
	return !memchr(s.p, '\r', s.n) && !memchr(s.p, '\n', s.n);
}

/* Appends into room reserved before (no bounds check per piece). */
static void cat(struct buf *b, const char *p, size_t n)
{
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

#define CAT(b, lit) cat((b), (lit), sizeof(lit) - 1)

static void cat_dec(struct buf *b, uint64_t v)
{
	char t[24];
	int i = (int)sizeof t;
	do
		t[--i] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	cat(b, t + i, sizeof t - (size_t)i);
}

static int build_head(struct http_creq *q, const char *method, const char *target,
                      char err[ERR_MSG_LEN])
{
	const struct http_creq_opts *o = &q->o;
	struct buf *b = &q->head;
	bool has_host = false;
	size_t ml = strlen(method), tl = strlen(target), hl = strlen(q->h->name);
	size_t need = ml + tl + hl + 160;
	for (int i = 0; i < o->nheaders; i++)
		need += o->headers[i].name.n + o->headers[i].value.n + 4;
	buf_reset(b);
	buf_reserve(b, need);
	cat(b, method, ml);
	CAT(b, " ");
	cat(b, target, tl);
	CAT(b, " HTTP/1.1\r\n");
	for (int i = 0; i < o->nheaders; i++) {
		struct http_header h = o->headers[i];
		if (!h.name.n || !header_ok(h.name) || !header_ok(h.value))
			return err_set(err, ERR_INVALID, "bad header %d", i);
		if (HTTP_NAME_IS(h.name, "Content-Length") ||
		    HTTP_NAME_IS(h.name, "Transfer-Encoding"))
			continue; /* framing is ours */
		has_host |= HTTP_NAME_IS(h.name, "Host");
		cat(b, h.name.p, h.name.n);
		CAT(b, ": ");
		cat(b, h.value.p, h.value.n);
		CAT(b, "\r\n");
	}
	if (!has_host) {
		CAT(b, "Host: ");
		cat(b, q->h->name, hl);
		CAT(b, ":");
		cat_dec(b, (uint64_t)o->port);
		CAT(b, "\r\n");
	}
	if (o->stream_body && o->content_length >= 0) {
		CAT(b, "Content-Length: ");
		cat_dec(b, (uint64_t)o->content_length);
		CAT(b, "\r\n");
	} else if (o->stream_body) {
		CAT(b, "Transfer-Encoding: chunked\r\n");
	} else if (o->body_len || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
		CAT(b, "Content-Length: ");
		cat_dec(b, o->body_len);
		CAT(b, "\r\n");
	}
	CAT(b, "\r\n");
	b->data[b->len] = '\0';
	return 0;
}

struct http_creq *http_client_request(struct http_client *cl, const struct http_creq_opts *o,
                                      char err[ERR_MSG_LEN])
{
	if (!o->host || o->port <= 0 || o->port > 65535) {
		err_set(err, ERR_INVALID, "client request needs a host and a port");
		return NULL;
	}
	const char *target = o->target && *o->target ? o->target : "/";
	const char *method = o->method ? o->method : "GET";
	if (!header_ok(slice_from(target)) || strchr(target, ' ') || strchr(method, ' ')) {
		err_set(err, ERR_INVALID, "bad request target or method");
		return NULL;
	}
	struct chost *h = http__host_get(cl, o->host, o->port);
	if (!h) {
		err_set(err, ERR_INVALID, "'%s' is not an IP address", o->host);
		return NULL;
	}
	struct http_creq *q = http__creq_alloc(cl);
	q->cl = cl;
	q->h = h;
	q->o = *o;
	q->o.host = h->name;
	q->is_head = !strcmp(method, "HEAD");
	int rc = build_head(q, method, target, err);
	/* the caller's memory: only the head keeps what they said */
	q->o.target = q->o.method = NULL;
	q->o.headers = NULL;
	q->o.body = NULL;
	if (rc < 0) {
		q->o.on_done = NULL;
		http__creq_finish(q, ERR_INVALID);
		return NULL;
	}
	if (!o->stream_body && o->body_len) {
		if (buf_try_reserve(&q->body, o->body_len) < 0) {
			q->o.on_done = NULL;
			http__creq_finish(q, -ENOMEM);
			err_set(err, -ENOMEM, "request body too large for memory");
			return NULL;
		}
		buf_append(&q->body, o->body, o->body_len);
	}
	q->body_ended = !o->stream_body;
	http__creq_start(q);
	return q;
}

/* Queues bytes of the request body (held until the connection is up). */
static int creq_put(struct http_creq *q, const uv_buf_t *b, unsigned nb)
{
	struct cconn *c = q->conn;
	if (!c || !c->connected) {
		for (unsigned i = 0; i < nb; i++)
			buf_append(&q->body, b[i].base, b[i].len);
		if (q->body.len > q->cl->cfg.high_water) {
			q->want_drain = true;
			return 1;
		}
		return 0;
	}
	int rc = http__raw_writev(&c->raw, b, nb);
	if (rc < 0)
		return rc;
	if (http__raw_unsent(&c->raw) > c->raw.high_water) {
		q->want_drain = true;
		return 1;
	}
	return 0;
}

int http_creq_write(struct http_creq *q, const void *p, size_t n)
{
	if (q->done)
		return ERR_CANCELLED;
	if (q->body_ended || !q->o.stream_body)
		return ERR_INVALID;
	if (n == 0)
		return 0;
	char hdr[24];
	int hn = q->o.content_length < 0 ? snprintf(hdr, sizeof hdr, "%zx\r\n", n) : 0;
	uv_buf_t b[3] = {uv_buf_init(hdr, (unsigned)hn), uv_buf_init((char *)p, (unsigned)n),
	                 uv_buf_init("\r\n", hn ? 2 : 0)};
	return creq_put(q, b, 3);
}

int http_creq_end(struct http_creq *q)
{
	if (q->done)
		return ERR_CANCELLED;
	if (q->body_ended)
		return 0;
	q->body_ended = true;
	if (q->o.content_length >= 0)
		return 0;
	uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);
	int rc = creq_put(q, &b, 1);
	return rc < 0 ? rc : 0;
}

void http_creq_pause(struct http_creq *q)
{
	if (q->done || q->paused)
		return;
	q->paused = true;
	if (q->conn)
		http__raw_read_stop(&q->conn->raw);
}

void http_creq_resume(struct http_creq *q)
{
	if (q->done || !q->paused)
		return;
	q->paused = false;
	struct cconn *c = q->conn;
	if (!c)
		return;
	c->in_feed = true;
	while (q->held.len && !q->paused && !q->done) {
		struct buf h = q->held;
		buf_init(&q->held);
		if (q->o.on_data)
			q->o.on_data(q, h.data, h.len, q->o.data);
		if (q->held.len) { /* paused again inside: keep the order */
			buf_append(&h, q->held.data, q->held.len);
			buf_release(&q->held);
			q->held = h;
		} else {
			buf_release(&h);
		}
	}
	c->in_feed = false;
	if (c->zombie) {
		c->zombie = NULL;
		c->q = NULL;
		http__cconn_close(c);
		http__creq_recycle(q);
		return;
	}
	if (q->paused)
		return;
	if (q->complete) {
		q->conn = NULL;
		c->q = NULL;
		http__cconn_release(c, q->complete == 2);
		http__creq_finish(q, 0);
		return;
	}
	http__raw_read_start(&c->raw);
}

void http_creq_cancel(struct http_creq *q)
{
	if (q->done)
		return;
	struct cconn *c = q->conn;
	if (c && c->in_feed) { /* conn_read frees q after the parser returns */
		http__creq_finish(q, ERR_CANCELLED);
		return;
	}
	if (c) {
		c->q = NULL;
		q->conn = NULL;
		http__cconn_close(c);
	}
	http__creq_finish(q, ERR_CANCELLED);
}

/* http_client.c — HTTP/1.1 client with a keep-alive connection pool per
 * host:port: requests with one-shot or streamed (chunked / sized) bodies,
 * response bodies streamed to callbacks with pause/resume, 101 upgrades
 * handed over as raw connections, one retry when a pooled connection turns
 * out to be closed before any answer. No TLS, no redirects, no cookies: it
 * talks to our own backends on loopback. RFC 9112. */
#include "http/http_internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cconn;

struct http_cresp {
	struct http__parser *p;
};

struct http_creq {
	struct http_client *cl;
	struct cconn *conn;
	struct http_creq_opts o;
	char *host, *method, *target, *key;
	struct buf head; /* request head, kept for a retry */
	struct buf body; /* one-shot body, or streamed bytes before connect */
	bool body_ended, resp_started, done, paused, want_drain, retried;
	int complete;    /* 0, or 1/2 (reuse no/yes): ended while bytes were held */
	struct buf held; /* response bytes held while paused */
};

struct cconn {
	struct http_raw raw; /* first */
	struct http_client *cl;
	struct http__parser parser;
	uv_connect_t connect;
	uv_timer_t timer;
	char *key;
	struct http_creq *q;
	bool connected, idle, reused, in_feed, dead;
	int handles_open;
	int fail;                 /* connect error to report */
	struct http_creq *zombie; /* finished during a parse, freed after */
	struct cconn *prev, *next;
};

struct http_client {
	uv_loop_t *loop;
	struct http_client_config cfg;
	struct cconn *conns;
	int nconns, nidle;
	int64_t connects;
	bool freeing;
};

static void conn_release(struct cconn *c, bool reuse);
static void creq_finish(struct http_creq *q, int status);
static void creq_start(struct http_creq *q);

void http_client_config_init(struct http_client_config *cfg)
{
	cfg->max_idle_per_host = 16;
	cfg->idle_timeout_ms = 30000;
	cfg->connect_timeout_ms = 10000;
	cfg->max_header_bytes = 64 * 1024;
	cfg->high_water = 256 * 1024;
}

struct http_client *http_client_new(uv_loop_t *loop, const struct http_client_config *cfg)
{
	struct http_client *c = xcalloc(1, sizeof *c);
	c->loop = loop;
	http_client_config_init(&c->cfg);
	if (cfg)
		c->cfg = *cfg;
	return c;
}

int http_client_idle_count(const struct http_client *c)
{
	return c->nidle;
}

int64_t http_client_connects(const struct http_client *c)
{
	return c->connects;
}

/* ---- response head accessors ---- */

int http_cresp_status(const struct http_cresp *h)
{
	return h->p->hp.status_code;
}

struct slice http_cresp_header(const struct http_cresp *h, const char *name)
{
	return http__parser_header(h->p, name);
}

int http_cresp_header_count(const struct http_cresp *h)
{
	return h->p->nhdrs;
}

struct http_header http_cresp_header_at(const struct http_cresp *h, int i)
{
	return h->p->views[i];
}

bool http_cresp_chunked(const struct http_cresp *h)
{
	return (h->p->hp.flags & F_CHUNKED) != 0;
}

int64_t http_cresp_content_length(const struct http_cresp *h)
{
	if (!(h->p->hp.flags & F_CONTENTLENGTH))
		return -1;
	return (int64_t)h->p->hp.content_length;
}

/* ---- connections ---- */

static void conn_free_if_closed(struct cconn *c)
{
	if (c->handles_open > 0)
		return;
	struct http_client *cl = c->cl;
	if (c->prev)
		c->prev->next = c->next;
	else
		cl->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	http__parser_release(&c->parser);
	free(c->key);
	free(c);
	if (--cl->nconns == 0 && cl->freeing)
		free(cl);
}

static void handle_closed(uv_handle_t *h)
{
	struct cconn *c = h->data;
	c->handles_open--;
	conn_free_if_closed(c);
}

static void raw_closed(struct http_raw *raw)
{
	struct cconn *c = raw->owner;
	c->handles_open--;
	conn_free_if_closed(c);
}

static void conn_close(struct cconn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->idle) {
		c->idle = false;
		c->cl->nidle--;
	}
	uv_close((uv_handle_t *)&c->timer, handle_closed);
	if (!c->raw.closing)
		http__raw_close_now(&c->raw);
}

static int on_head(struct http__parser *p)
{
	struct cconn *c = p->owner;
	struct http_creq *q = c->q;
	int status = p->hp.status_code;
	if (!q || (status >= 100 && status < 200 && status != 101))
		return 0; /* interim answers are skipped at their end */
	q->resp_started = true;
	struct http_cresp h = {p};
	if (q->o.on_response && !q->o.on_response(q, &h, q->o.data)) {
		creq_finish(q, ERR_CANCELLED);
		return 3;
	}
	/* a 101 ends at its head: http-parser stops there, the rest of the
	 * bytes belong to the new protocol */
	return !strcmp(q->method, "HEAD") ? 1 : 0;
}

static void on_body(struct http__parser *p, const char *d, size_t n)
{
	struct cconn *c = p->owner;
	struct http_creq *q = c->q;
	if (!q || q->done)
		return;
	if (q->paused || q->held.len) {
		buf_append(&q->held, d, n);
		return;
	}
	if (q->o.on_data)
		q->o.on_data(q, d, n, q->o.data);
}

static void upgraded(struct cconn *c, const char *rest, size_t n)
{
	struct http_creq *q = c->q;
	http__raw_to_user(&c->raw, rest, n);
	c->q = NULL;
	q->conn = NULL;
	/* the raw now belongs to the user; the timer goes, the conn stays until
	 * the raw closes (raw_closed) */
	uv_close((uv_handle_t *)&c->timer, handle_closed);
	c->dead = true;
	if (q->o.on_upgrade)
		q->o.on_upgrade(q, &c->raw, q->o.data);
	else
		http_raw_close(&c->raw, true);
	creq_finish(q, 0);
}

/* Parses what arrived; returns false once the connection is gone or handed on. */
static bool conn_feed(struct cconn *c, const char *d, size_t n)
{
	struct http__parser *p = &c->parser;
	while (c->q && !c->q->done && !c->q->paused) {
		size_t used = http__parser_feed(p, d, n);
		d += used;
		n -= used;
		if (p->status) {
			creq_finish(c->q, ERR_PROTOCOL);
			return false;
		}
		if (!c->q || c->q->done)
			return false;
		if (p->msg_done && p->hp.status_code == 101) {
			upgraded(c, d, n);
			return false;
		}
		if (!c->q || c->q->done)
			return false;
		if (!p->msg_done)
			return true;
		int st = p->hp.status_code;
		if (st >= 100 && st < 200) {
			http__parser_next(p);
			continue;
		}
		bool keep = http_should_keep_alive(&p->hp) && c->q->body_ended && n == 0;
		struct http_creq *q = c->q;
		if (q->held.len) { /* finished by resume, after the held bytes */
			q->complete = keep ? 2 : 1;
			http__raw_read_stop(&c->raw);
			return true;
		}
		q->conn = NULL;
		c->q = NULL;
		conn_release(c, keep);
		creq_finish(q, 0);
		return false;
	}
	return true;
}

static void conn_read(struct http_raw *raw, const char *d, ssize_t n)
{
	struct cconn *c = raw->owner;
	struct http_creq *q = c->q;
	if (!q) { /* an idle connection closed by the peer, or junk */
		conn_close(c);
		return;
	}
	c->in_feed = true;
	if (n < 0)
		conn_feed(c, NULL, 0); /* EOF ends a close-delimited body */
	else
		conn_feed(c, d, (size_t)n);
	c->in_feed = false;
	if (c->zombie) { /* finished inside the parser: freed now */
		if (c->q == c->zombie)
			c->q = NULL;
		free(c->zombie);
		c->zombie = NULL;
		conn_close(c);
		return;
	}
	if (n >= 0) {
		if (c->q && c->q->paused)
			http__raw_read_stop(raw);
		return;
	}
	if (c->q != q || q->done)
		return; /* the exchange ended with the EOF */
	bool retry = c->reused && !q->resp_started && !q->retried && !q->o.stream_body;
	c->q = NULL;
	q->conn = NULL;
	conn_close(c);
	if (retry) {
		q->retried = true;
		creq_start(q);
		return;
	}
	creq_finish(q, n != UV_EOF ? (int)n : ERR_PROTOCOL);
}

static void conn_written(struct http_raw *raw)
{
	struct cconn *c = raw->owner;
	struct http_creq *q = c->q;
	if (raw->werr && q && !q->done) {
		c->q = NULL;
		q->conn = NULL;
		conn_close(c);
		creq_finish(q, raw->werr);
		return;
	}
	if (q && q->want_drain && http__raw_unsent(raw) <= raw->high_water / 2) {
		q->want_drain = false;
		if (q->o.on_drain)
			q->o.on_drain(q, q->o.data);
	}
}

static void idle_timeout(uv_timer_t *t)
{
	struct cconn *c = t->data;
	if (c->idle)
		conn_close(c);
}

static void conn_release(struct cconn *c, bool reuse)
{
	struct http_client *cl = c->cl;
	int same = 0;
	for (struct cconn *o = cl->conns; o && reuse; o = o->next)
		if (o->idle && !strcmp(o->key, c->key))
			same++;
	if (!reuse || cl->freeing || same >= cl->cfg.max_idle_per_host) {
		conn_close(c);
		return;
	}
	http__parser_next(&c->parser);
	c->idle = true;
	cl->nidle++;
	uv_timer_start(&c->timer, idle_timeout, (uint64_t)cl->cfg.idle_timeout_ms, 0);
}

static struct cconn *conn_new(struct http_client *cl, const char *key)
{
	struct cconn *c = xcalloc(1, sizeof *c);
	c->cl = cl;
	c->key = xstrdup(key);
	uv_tcp_init(cl->loop, &c->raw.tcp);
	http__raw_init(&c->raw, cl->cfg.high_water);
	c->raw.owner = c;
	c->raw.on_read = conn_read;
	c->raw.on_written = conn_written;
	c->raw.on_closed = raw_closed;
	uv_timer_init(cl->loop, &c->timer);
	c->timer.data = c;
	c->handles_open = 2;
	http__parser_init(&c->parser, HTTP_RESPONSE, cl->cfg.max_header_bytes, 0);
	c->parser.owner = c;
	c->parser.on_head = on_head;
	c->parser.on_body = on_body;
	c->next = cl->conns;
	if (cl->conns)
		cl->conns->prev = c;
	cl->conns = c;
	cl->nconns++;
	cl->connects++;
	return c;
}

/* ---- requests ---- */

static void creq_finish(struct http_creq *q, int status)
{
	if (q->done)
		return;
	q->done = true;
	if (q->o.on_done)
		q->o.on_done(q, status, q->o.data);
	free(q->host);
	free(q->method);
	free(q->target);
	free(q->key);
	buf_release(&q->head);
	buf_release(&q->body);
	buf_release(&q->held);
	if (q->conn && q->conn->in_feed)
		q->conn->zombie = q; /* conn_read frees it after the parser returns */
	else
		free(q);
}

/* Writes the head and what body there is once a connection is ready. On
 * failure the connection is closed and detached from q. */
static int creq_send(struct http_creq *q)
{
	struct cconn *c = q->conn;
	uv_buf_t b[2] = {uv_buf_init(q->head.data, (unsigned)q->head.len),
	                 uv_buf_init(q->body.data, (unsigned)q->body.len)};
	int rc = http__raw_writev(&c->raw, b, q->body.len ? 2 : 1);
	if (q->o.stream_body)
		buf_reset(&q->body);
	if (rc == 0)
		rc = http__raw_read_start(&c->raw);
	if (rc < 0) {
		c->q = NULL;
		q->conn = NULL;
		conn_close(c);
		return rc;
	}
	conn_written(&c->raw);
	return 0;
}

static void connect_timeout(uv_timer_t *t)
{
	struct cconn *c = t->data;
	struct http_creq *q = c->q;
	c->q = NULL;
	conn_close(c);
	if (q) {
		q->conn = NULL;
		creq_finish(q, c->fail ? c->fail : ERR_TIMEOUT);
	}
}

static void on_connect(uv_connect_t *cr, int status)
{
	struct cconn *c = cr->data;
	if (c->dead)
		return;
	uv_timer_stop(&c->timer);
	struct http_creq *q = c->q;
	if (status < 0) {
		c->q = NULL;
		conn_close(c);
		if (q) {
			q->conn = NULL;
			creq_finish(q, status);
		}
		return;
	}
	c->connected = true;
	uv_tcp_nodelay(&c->raw.tcp, 1);
	int rc = q ? creq_send(q) : 0;
	if (rc < 0)
		creq_finish(q, rc);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ||
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	if (!strcmp(host, "localhost"))
		return uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)ss);
	return ERR_INVALID;
}

static void creq_start(struct http_creq *q)
{
	struct http_client *cl = q->cl;
	for (struct cconn *c = cl->conns; c; c = c->next) {
		if (c->idle && !c->dead && !strcmp(c->key, q->key)) {
			c->idle = false;
			cl->nidle--;
			uv_timer_stop(&c->timer);
			c->reused = true;
			c->q = q;
			q->conn = c;
			if (creq_send(q) == 0)
				return;
		}
	}
	struct sockaddr_storage ss;
	struct cconn *c = conn_new(cl, q->key);
	c->q = q;
	q->conn = c;
	c->connect.data = c;
	int rc = resolve(q->host, q->o.port, &ss);
	if (rc == 0)
		rc = uv_tcp_connect(&c->connect, &c->raw.tcp, (struct sockaddr *)&ss, on_connect);
	/* a failure is reported from the timer: never inside the caller's call */
	c->fail = rc < 0 ? rc : 0;
	uv_timer_start(&c->timer, connect_timeout,
	               rc < 0 ? 0 : (uint64_t)cl->cfg.connect_timeout_ms, 0);
}

static bool header_ok(struct slice s)
{
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] == '\r' || s.p[i] == '\n')
			return false;
	return true;
}

static int build_head(struct http_creq *q, char err[ERR_MSG_LEN])
{
	const struct http_creq_opts *o = &q->o;
	bool has_host = false;
	buf_printf(&q->head, "%s %s HTTP/1.1\r\n", q->method, q->target);
	for (int i = 0; i < o->nheaders; i++) {
		struct http_header h = o->headers[i];
		if (!h.name.n || !header_ok(h.name) || !header_ok(h.value))
			return err_set(err, ERR_INVALID, "bad header %d", i);
		if (slice_eq_nocase(h.name, "Content-Length") ||
		    slice_eq_nocase(h.name, "Transfer-Encoding"))
			continue; /* framing is ours */
		has_host |= slice_eq_nocase(h.name, "Host");
		buf_append(&q->head, h.name.p, h.name.n);
		buf_puts(&q->head, ": ");
		buf_append(&q->head, h.value.p, h.value.n);
		buf_puts(&q->head, "\r\n");
	}
	if (!has_host)
		buf_printf(&q->head, "Host: %s:%d\r\n", q->host, o->port);
	if (o->stream_body && o->content_length >= 0)
		buf_printf(&q->head, "Content-Length: %lld\r\n", (long long)o->content_length);
	else if (o->stream_body)
		buf_puts(&q->head, "Transfer-Encoding: chunked\r\n");
	else if (o->body_len || !strcmp(q->method, "POST") || !strcmp(q->method, "PUT"))
		buf_printf(&q->head, "Content-Length: %zu\r\n", o->body_len);
	buf_puts(&q->head, "\r\n");
	return 0;
}

struct http_creq *http_client_request(struct http_client *cl, const struct http_creq_opts *o,
                                      char err[ERR_MSG_LEN])
{
	if (!o->host || o->port <= 0 || o->port > 65535) {
		err_set(err, ERR_INVALID, "client request needs a host and a port");
		return NULL;
	}
	struct sockaddr_storage ss;
	if (resolve(o->host, o->port, &ss) < 0) {
		err_set(err, ERR_INVALID, "'%s' is not an IP address", o->host);
		return NULL;
	}
	const char *target = o->target && *o->target ? o->target : "/";
	const char *method = o->method ? o->method : "GET";
	if (!header_ok(slice_from(target)) || strchr(target, ' ') || strchr(method, ' ')) {
		err_set(err, ERR_INVALID, "bad request target or method");
		return NULL;
	}
	struct http_creq *q = xcalloc(1, sizeof *q);
	q->cl = cl;
	q->o = *o;
	q->host = xstrdup(o->host);
	q->method = xstrdup(method);
	q->target = xstrdup(target);
	char key[300];
	snprintf(key, sizeof key, "%s:%d", o->host, o->port);
	q->key = xstrdup(key);
	if (build_head(q, err) < 0) {
		q->o.on_done = NULL;
		creq_finish(q, ERR_INVALID);
		return NULL;
	}
	if (!o->stream_body && o->body_len) {
		if (buf_try_reserve(&q->body, o->body_len) < 0) {
			q->o.on_done = NULL;
			creq_finish(q, -ENOMEM);
			err_set(err, -ENOMEM, "request body too large for memory");
			return NULL;
		}
		buf_append(&q->body, o->body, o->body_len);
	}
	q->body_ended = !o->stream_body;
	creq_start(q);
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
		conn_close(c);
		free(q);
		return;
	}
	if (q->paused)
		return;
	if (q->complete) {
		q->conn = NULL;
		c->q = NULL;
		conn_release(c, q->complete == 2);
		creq_finish(q, 0);
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
		creq_finish(q, ERR_CANCELLED);
		return;
	}
	if (c) {
		c->q = NULL;
		q->conn = NULL;
		conn_close(c);
	}
	creq_finish(q, ERR_CANCELLED);
}

void http_client_free(struct http_client *cl)
{
	if (!cl)
		return;
	cl->freeing = true;
	struct cconn *next;
	for (struct cconn *c = cl->conns; c; c = next) {
		next = c->next;
		struct http_creq *q = c->q;
		if (q) {
			c->q = NULL;
			q->conn = NULL;
			creq_finish(q, ERR_CANCELLED);
		}
		if (!c->dead)
			conn_close(c);
	}
	if (cl->nconns == 0)
		free(cl);
}

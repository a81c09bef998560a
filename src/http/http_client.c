/* http_client.c — HTTP/1.1 client with a keep-alive connection pool per
 * host:port (a hash of hosts, each with its own idle list: taking or giving
 * back a connection is O(1)): requests with one-shot or streamed (chunked /
 * sized) bodies, response bodies streamed to callbacks with pause/resume,
 * 101 upgrades handed over as raw connections, one retry when a pooled
 * connection turns out to be closed before any answer. Request objects are
 * recycled: a warm proxy path allocates nothing. No TLS, no redirects, no
 * cookies: it talks to our own backends on loopback. RFC 9112. */
#include "http/http_internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPARE_MAX    256
#define KEEP_BUF_MAX 4096 /* a recycled request keeps buffers up to this size */

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

/* ---- hosts and recycled requests ---- */

static uint32_t host_hash(const char *host, int port)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)host; *p; p++)
		h = (h ^ *p) * 16777619u;
	return (h ^ (uint32_t)port) * 16777619u;
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

/* The host entry for host:port with one more reference, or NULL when host
 * is not an address. */
struct chost *http__host_get(struct http_client *cl, const char *host, int port)
{
	uint32_t hv = host_hash(host, port);
	struct chost **head = &cl->hosts[hv % HTTP__HOST_BUCKETS];
	for (struct chost *h = *head; h; h = h->next) {
		if (h->hash == hv && h->port == port && !strcmp(h->name, host)) {
			h->refs++;
			return h;
		}
	}
	struct sockaddr_storage ss;
	if (resolve(host, port, &ss) < 0)
		return NULL;
	size_t n = strlen(host) + 1;
	struct chost *h = xcalloc(1, sizeof *h + n);
	memcpy(h->name, host, n);
	h->addr = ss;
	h->port = port;
	h->hash = hv;
	h->refs = 1;
	h->next = *head;
	*head = h;
	return h;
}

static void host_put(struct http_client *cl, struct chost *h)
{
	if (!h || --h->refs > 0)
		return;
	struct chost **pp = &cl->hosts[h->hash % HTTP__HOST_BUCKETS];
	while (*pp != h)
		pp = &(*pp)->next;
	*pp = h->next;
	free(h);
}

static void idle_push(struct cconn *c)
{
	struct chost *h = c->h;
	c->iprev = NULL;
	c->inext = h->idle;
	if (h->idle)
		h->idle->iprev = c;
	h->idle = c;
	h->nidle++;
	c->idle = true;
	c->cl->nidle++;
}

static void idle_remove(struct cconn *c)
{
	struct chost *h = c->h;
	if (c->iprev)
		c->iprev->inext = c->inext;
	else
		h->idle = c->inext;
	if (c->inext)
		c->inext->iprev = c->iprev;
	c->inext = c->iprev = NULL;
	h->nidle--;
	c->idle = false;
	c->cl->nidle--;
}

static void keep_small(struct buf *b)
{
	if (b->cap > KEEP_BUF_MAX)
		buf_release(b);
	buf_reset(b);
}

/* A zeroed request, recycled when one is spare (its buffers kept). */
struct http_creq *http__creq_alloc(struct http_client *cl)
{
	struct http_creq *q = cl->spare;
	if (!q)
		return xcalloc(1, sizeof *q);
	cl->spare = q->spare_next;
	cl->nspare--;
	struct buf head = q->head, body = q->body, held = q->held;
	memset(q, 0, sizeof *q);
	q->head = head;
	q->body = body;
	q->held = held;
	return q;
}

void http__creq_recycle(struct http_creq *q)
{
	struct http_client *cl = q->cl;
	host_put(cl, q->h);
	q->h = NULL;
	if (cl->freeing || cl->nspare >= SPARE_MAX) {
		buf_release(&q->head);
		buf_release(&q->body);
		buf_release(&q->held);
		free(q);
		return;
	}
	keep_small(&q->head);
	keep_small(&q->body);
	keep_small(&q->held);
	q->spare_next = cl->spare;
	cl->spare = q;
	cl->nspare++;
}

static void client_destroy(struct http_client *cl)
{
	while (cl->spare) {
		struct http_creq *q = cl->spare;
		cl->spare = q->spare_next;
		buf_release(&q->head);
		buf_release(&q->body);
		buf_release(&q->held);
		free(q);
	}
	free(cl);
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
	host_put(cl, c->h);
	free(c);
	if (--cl->nconns == 0 && cl->freeing)
		client_destroy(cl);
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

void http__cconn_close(struct cconn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->idle)
		idle_remove(c);
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
		http__creq_finish(q, ERR_CANCELLED);
		return 3;
	}
	/* a 101 ends at its head: http-parser stops there, the rest of the
	 * bytes belong to the new protocol */
	return q->is_head ? 1 : 0;
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
	http__creq_finish(q, 0);
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
			http__creq_finish(c->q, ERR_PROTOCOL);
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
		http__cconn_release(c, keep);
		http__creq_finish(q, 0);
		return false;
	}
	return true;
}

static void conn_read(struct http_raw *raw, const char *d, ssize_t n)
{
	struct cconn *c = raw->owner;
	struct http_creq *q = c->q;
	if (!q) { /* an idle connection closed by the peer, or junk */
		http__cconn_close(c);
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
		http__creq_recycle(c->zombie);
		c->zombie = NULL;
		http__cconn_close(c);
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
	http__cconn_close(c);
	if (retry) {
		q->retried = true;
		http__creq_start(q);
		return;
	}
	http__creq_finish(q, n != UV_EOF ? (int)n : ERR_PROTOCOL);
}

static void conn_written(struct http_raw *raw)
{
	struct cconn *c = raw->owner;
	struct http_creq *q = c->q;
	if (raw->werr && q && !q->done) {
		c->q = NULL;
		q->conn = NULL;
		http__cconn_close(c);
		http__creq_finish(q, raw->werr);
		return;
	}
	if (q && q->want_drain && http__raw_unsent(raw) <= raw->high_water / 2) {
		q->want_drain = false;
		if (q->o.on_drain)
			q->o.on_drain(q, q->o.data);
	}
}

/* The idle timer is armed once and not stopped when the connection is
 * taken: when it fires it closes the connection if it has been idle long
 * enough, else sleeps until it could be (no timer calls per request). */
static void idle_timeout(uv_timer_t *t)
{
	struct cconn *c = t->data;
	uint64_t now = uv_now(c->cl->loop), limit = (uint64_t)c->cl->cfg.idle_timeout_ms;
	if (!c->idle) {
		c->idle_armed = false;
		return;
	}
	if (now - c->idle_since >= limit) {
		http__cconn_close(c);
		return;
	}
	uv_timer_start(&c->timer, idle_timeout, limit - (now - c->idle_since), 0);
}

void http__cconn_release(struct cconn *c, bool reuse)
{
	struct http_client *cl = c->cl;
	if (!reuse || cl->freeing || c->h->nidle >= cl->cfg.max_idle_per_host) {
		http__cconn_close(c);
		return;
	}
	http__parser_next(&c->parser);
	idle_push(c);
	c->idle_since = uv_now(cl->loop);
	if (!c->idle_armed) {
		c->idle_armed = true;
		uv_timer_start(&c->timer, idle_timeout, (uint64_t)cl->cfg.idle_timeout_ms, 0);
	}
}

static struct cconn *conn_new(struct http_client *cl, struct chost *h)
{
	struct cconn *c = xcalloc(1, sizeof *c);
	c->cl = cl;
	c->h = h;
	h->refs++;
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

void http__creq_finish(struct http_creq *q, int status)
{
	if (q->done)
		return;
	q->done = true;
	if (q->o.on_done)
		q->o.on_done(q, status, q->o.data);
	if (q->conn && q->conn->in_feed)
		q->conn->zombie = q; /* conn_read frees it after the parser returns */
	else
		http__creq_recycle(q);
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
		http__cconn_close(c);
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
	http__cconn_close(c);
	if (q) {
		q->conn = NULL;
		http__creq_finish(q, c->fail ? c->fail : ERR_TIMEOUT);
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
		http__cconn_close(c);
		if (q) {
			q->conn = NULL;
			http__creq_finish(q, status);
		}
		return;
	}
	c->connected = true;
	uv_tcp_nodelay(&c->raw.tcp, 1);
	int rc = q ? creq_send(q) : 0;
	if (rc < 0)
		http__creq_finish(q, rc);
}

void http__creq_start(struct http_creq *q)
{
	struct http_client *cl = q->cl;
	struct chost *h = q->h;
	while (h->idle) {
		struct cconn *c = h->idle;
		idle_remove(c);
		c->reused = true;
		c->q = q;
		q->conn = c;
		if (creq_send(q) == 0)
			return;
	}
	struct cconn *c = conn_new(cl, h);
	c->q = q;
	q->conn = c;
	c->connect.data = c;
	int rc = uv_tcp_connect(&c->connect, &c->raw.tcp, (struct sockaddr *)&h->addr, on_connect);
	/* a failure is reported from the timer: never inside the caller's call */
	c->fail = rc < 0 ? rc : 0;
	uv_timer_start(&c->timer, connect_timeout,
	               rc < 0 ? 0 : (uint64_t)cl->cfg.connect_timeout_ms, 0);
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
			http__creq_finish(q, ERR_CANCELLED);
		}
		if (!c->dead)
			http__cconn_close(c);
	}
	if (cl->nconns == 0)
		client_destroy(cl);
}

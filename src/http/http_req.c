/* http_req.c — what a handler reads from a request (method, target, query
 * parameters, headers, body, peer) and the loop-thread request actions:
 * streamed body reading with pause/resume, and the upgrade to raw bytes.
 * Query decoding follows the application/x-www-form-urlencoded rules. */
#include "http/http_internal.h"

#include <string.h>
#include <strings.h>

const char *http_req_method(const struct http_req *r)
{
	return r->method;
}

struct slice http_req_target(const struct http_req *r)
{
	return r->target;
}

struct slice http_req_path(const struct http_req *r)
{
	return r->path;
}

struct slice http_req_query(const struct http_req *r)
{
	return r->query;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX and '+' from in into out (cap bytes with the NUL). */
static int decode(struct slice in, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < in.n; i++) {
		char ch = in.p[i];
		if (ch == '+') {
			ch = ' ';
		} else if (ch == '%' && i + 2 < in.n && hexval(in.p[i + 1]) >= 0 &&
		           hexval(in.p[i + 2]) >= 0) {
			ch = (char)(hexval(in.p[i + 1]) * 16 + hexval(in.p[i + 2]));
			i += 2;
		}
		if (o + 1 >= cap)
			return ERR_TOO_LARGE;
		out[o++] = ch;
	}
	if (cap == 0)
		return ERR_TOO_LARGE;
	out[o] = '\0';
	return (int)o;
}

int http_req_query_get(const struct http_req *r, const char *name, char *out, size_t cap)
{
	struct slice q = r->query;
	size_t nl = strlen(name);
	while (q.n) {
		const char *amp = memchr(q.p, '&', q.n);
		size_t len = amp ? (size_t)(amp - q.p) : q.n;
		const char *eq = memchr(q.p, '=', len);
		size_t kl = eq ? (size_t)(eq - q.p) : len;
		if (kl == nl && memcmp(q.p, name, nl) == 0) {
			struct slice v =
			    eq ? (struct slice){eq + 1, len - kl - 1} : (struct slice){"", 0};
			return decode(v, out, cap);
		}
		if (!amp)
			break;
		q.p = amp + 1;
		q.n -= len + 1;
	}
	return ERR_NOT_FOUND;
}

struct slice http_req_header(const struct http_req *r, const char *name)
{
	return http__parser_header(&r->conn->parser, name);
}

int http_req_header_count(const struct http_req *r)
{
	return r->conn->parser.nhdrs;
}

struct http_header http_req_header_at(const struct http_req *r, int i)
{
	if (i < 0 || i >= r->conn->parser.nhdrs)
		return (struct http_header){{NULL, 0}, {NULL, 0}};
	return r->conn->parser.views[i];
}

struct slice http_req_body(const struct http_req *r)
{
	if (r->body_mode == BODY_STREAM)
		return (struct slice){"", 0};
	return (struct slice){r->body.data ? r->body.data : "", r->body.len};
}

const char *http_req_remote_addr(const struct http_req *r)
{
	return r->conn->addr;
}

int http_req_remote_port(const struct http_req *r)
{
	return r->conn->port;
}

int http_req_version_minor(const struct http_req *r)
{
	return r->vminor;
}

bool http_req_is_upgrade(const struct http_req *r)
{
	return r->upgrade;
}

struct http_server *http_req_server(const struct http_req *r)
{
	return r->srv;
}

uv_loop_t *http_req_loop(const struct http_req *r)
{
	return r->srv->loop;
}

int http_req_body_read(struct http_req *r, http_body_data_fn on_data, http_body_end_fn on_end,
                       void *data)
{
	if (r->body_reading)
		return ERR_INVALID;
	r->on_data = on_data;
	r->on_end = on_end;
	r->body_data = data;
	r->body_reading = true;
	if (r->body_mode != BODY_STREAM) {
		if (r->body.len)
			on_data(r, r->body.data, r->body.len, data);
		r->body_ended = true;
		on_end(r, 0, data);
		return 0;
	}
	if (atomic_load(&r->cancelled)) {
		r->body_ended = true;
		on_end(r, ERR_CANCELLED, data);
		return 0;
	}
	if (r->expect_continue)
		http__conn_send_continue(r->conn);
	http__conn_process(r->conn);
	return 0;
}

void http_req_body_pause(struct http_req *r)
{
	r->body_paused = true;
}

void http_req_body_resume(struct http_req *r)
{
	if (!r->body_paused)
		return;
	r->body_paused = false;
	http__conn_process(r->conn);
}

struct http_raw *http_req_upgrade(struct http_req *r)
{
	struct http__conn *c = r->conn;
	if (atomic_load(&r->cancelled) || c->state == CONN_CLOSED) {
		http__req_finish(r);
		return NULL;
	}
	struct slice up = http_req_header(r, "Upgrade");
	struct buf *h = &r->srv->scratch;
	buf_reset(h);
	buf_puts(h, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n");
	if (up.p) {
		buf_puts(h, "Upgrade: ");
		buf_append(h, up.p, up.n);
		buf_puts(h, "\r\n");
	}
	buf_append(h, r->rhead.data, r->rhead.len);
	buf_puts(h, "\r\n");
	r->started = true;
	uv_buf_t b = uv_buf_init(h->data, (unsigned)h->len);
	c->raw.corked = false;
	if (http__raw_writev(&c->raw, &b, 1) < 0) {
		http__conn_close(c, true);
		http__req_finish(r);
		return NULL;
	}
	c->state = CONN_RAW;
	c->deadline = INT64_MAX;
	if (c->bn) /* bytes past the head still in the read buffer */
		http__raw_to_user(&c->raw, c->bp, c->bn);
	else
		http__raw_to_user(&c->raw, c->inbuf.data, c->inbuf.len);
	buf_reset(&c->inbuf);
	c->bn = 0;
	r->finished = true;
	http__conn_req_done(c);
	return &c->raw;
}

/* http_proxy.c — a reverse-proxy exchange: the server request goes to a
 * backend through the pooled client, and the answer streams back piece by
 * piece (chunked, NDJSON and SSE bodies are never buffered), request bodies
 * stream the other way, an Upgrade becomes a raw tunnel after the 101.
 * Hop-by-hop headers are dropped (RFC 9110 7.6.1); X-Forwarded-For/-Proto
 * are added. Backend picking, queueing and timeouts are the gateway's. */
#include "http/http_internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct proxy {
	struct http_req *r;
	struct http_creq *q;
	struct http_stream *s;
	struct http_proxy_opts o;
	bool started, finished;
	struct buf xff;
};

static bool hop_by_hop(struct slice name, struct slice conn_hdr)
{
	return http_header_hop_by_hop(name) ||
	       (conn_hdr.p && http_header_has_token(conn_hdr, name));
}

static void proxy_finish(struct proxy *px, int status)
{
	if (px->finished)
		return;
	px->finished = true;
	if (px->o.on_done)
		px->o.on_done(px->r, status, px->o.data);
	buf_release(&px->xff);
	free(px);
}

static void resume_backend(struct http_req *r, void *data)
{
	struct proxy *px = data;
	if (px->q)
		http_creq_resume(px->q);
}

static bool on_response(struct http_creq *q, const struct http_cresp *h, void *data)
{
	struct proxy *px = data;
	struct slice ch = http_cresp_header(h, "Connection");
	for (int i = 0; i < http_cresp_header_count(h); i++) {
		struct http_header hd = http_cresp_header_at(h, i);
		if (!hop_by_hop(hd.name, ch))
			http_resp_header_n(px->r, hd.name, hd.value);
	}
	int status = http_cresp_status(h);
	if (status == 101)
		return true;
	int64_t cl = http_cresp_content_length(h);
	if (cl >= 0 && !http_cresp_chunked(h)) {
		char v[24];
		snprintf(v, sizeof v, "%lld", (long long)cl);
		http_resp_header(px->r, "Content-Length", v);
	}
	px->started = true;
	px->s = http_stream_begin(px->r, status, NULL);
	http_stream_on_drain(px->s, resume_backend, px);
	return true;
}

static void on_data(struct http_creq *q, const char *p, size_t n, void *data)
{
	struct proxy *px = data;
	int rc = http_stream_write(px->s, p, n);
	if (rc == 1)
		http_creq_pause(q);
	else if (rc < 0)
		http_creq_cancel(q);
}

static void on_upgrade(struct http_creq *q, struct http_raw *backend, void *data)
{
	struct proxy *px = data;
	px->started = true;
	px->q = NULL;
	struct http_raw *client = http_req_upgrade(px->r);
	if (!client) {
		http_raw_close(backend, true);
		return;
	}
	http_tunnel(client, backend);
}

static void on_done(struct http_creq *q, int status, void *data)
{
	struct proxy *px = data;
	px->q = NULL;
	if (!px->started) {
		px->started = true;
		char msg[ERR_MSG_LEN];
		snprintf(msg, sizeof msg, "bad gateway: %s:%d: %s", px->o.host, px->o.port,
		         err_str(status));
		http_respond_error(px->r, status == ERR_TIMEOUT ? 504 : 502, msg);
	} else if (px->s) {
		if (status < 0)
			http_stream_abort(px->s);
		else
			http_stream_end(px->s);
	}
	proxy_finish(px, status);
}

static void on_backend_drain(struct http_creq *q, void *data)
{
	struct proxy *px = data;
	http_req_body_resume(px->r);
}

static void body_data(struct http_req *r, const char *p, size_t n, void *data)
{
	struct proxy *px = data;
	if (px->q && http_creq_write(px->q, p, n) == 1)
		http_req_body_pause(r);
}

static void body_end(struct http_req *r, int status, void *data)
{
	struct proxy *px = data;
	if (!px->q)
		return;
	if (status < 0)
		http_creq_cancel(px->q);
	else
		http_creq_end(px->q);
}

static void client_gone(struct http_req *r, void *data)
{
	struct proxy *px = data;
	if (px->q)
		http_creq_cancel(px->q);
}

/* Request headers for the backend, in hs (caller-sized). */
static int forward_headers(struct proxy *px, struct http_header *hs, int max)
{
	struct http_req *r = px->r;
	struct slice ch = http_req_header(r, "Connection");
	int n = 0;
	struct slice prior = {NULL, 0};
	for (int i = 0; i < http_req_header_count(r) && n < max - 5; i++) {
		struct http_header h = http_req_header_at(r, i);
		if (HTTP_NAME_IS(h.name, "X-Forwarded-For")) {
			prior = h.value;
			continue;
		}
		if (!hop_by_hop(h.name, ch) && !HTTP_NAME_IS(h.name, "X-Forwarded-Proto"))
			hs[n++] = h;
	}
	if (prior.p) {
		buf_append(&px->xff, prior.p, prior.n);
		buf_puts(&px->xff, ", ");
	}
	buf_puts(&px->xff, http_req_remote_addr(r));
	hs[n++] = (struct http_header){SLICE_LIT("X-Forwarded-For"), {px->xff.data, px->xff.len}};
	const char *proto = px->o.forwarded_proto ? px->o.forwarded_proto : "http";
	hs[n++] = (struct http_header){SLICE_LIT("X-Forwarded-Proto"), slice_from(proto)};
	if (http_req_is_upgrade(r)) {
		hs[n++] = (struct http_header){SLICE_LIT("Connection"), SLICE_LIT("Upgrade")};
		hs[n++] = (struct http_header){SLICE_LIT("Upgrade"), http_req_header(r, "Upgrade")};
	}
	return n;
}

int http_proxy(struct http_req *r, struct http_client *c, const struct http_proxy_opts *o)
{
	struct proxy *px = xcalloc(1, sizeof *px);
	px->r = r;
	px->o = *o;
	int max = http_req_header_count(r) + 6;
	struct http_header *hs = xcalloc((size_t)max, sizeof *hs);
	char target[8192];
	struct slice t = http_req_target(r);
	snprintf(target, sizeof target, "%.*s", (int)t.n, t.p);
	bool streamed = r->body_mode == BODY_STREAM;
	struct slice body = http_req_body(r);
	struct slice cl = http_req_header(r, "Content-Length");
	int64_t clen = -1;
	if (cl.p) {
		char v[24];
		snprintf(v, sizeof v, "%.*s", (int)(cl.n < 23 ? cl.n : 23), cl.p);
		str_to_i64(v, &clen);
	}
	struct http_creq_opts co = {
	    .method = http_req_method(r),
	    .host = o->host,
	    .port = o->port,
	    .target = target,
	    .headers = hs,
	    .nheaders = forward_headers(px, hs, max),
	    .body = body.p,
	    .body_len = body.n,
	    .stream_body = streamed,
	    .content_length = clen,
	    .on_response = on_response,
	    .on_data = on_data,
	    .on_upgrade = on_upgrade,
	    .on_done = on_done,
	    .on_drain = on_backend_drain,
	    .data = px,
	};
	char err[ERR_MSG_LEN];
	px->q = http_client_request(c, &co, err);
	free(hs);
	if (!px->q) {
		http_respond_error(r, 502, err);
		proxy_finish(px, ERR_INVALID);
		return ERR_INVALID;
	}
	http_req_on_cancel(r, client_gone, px);
	if (streamed)
		http_req_body_read(r, body_data, body_end, px);
	return 0;
}

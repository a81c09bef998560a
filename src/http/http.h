/* http.h — gpurun's HTTP/1.1 server and client on libuv + http-parser, with
 * chunked/NDJSON/SSE streaming, a router, raw upgrade tunnels and WebSocket
 * (wslay). It follows RFC 9110/9112 (HTTP/1.1) and RFC 6455 (WebSocket);
 * it does not do TLS, HTTP/2, or compression.
 *
 * THREADS. A server, a client and everything they hand out belong to one
 * libuv loop, run by one thread: "the loop thread". Every callback runs on
 * it. Functions marked [any thread] may also be called from other threads
 * (engine workers); everything else is [loop] only.
 *
 * REQUEST OWNERSHIP. The server calls the handler with a struct http_req *
 * that the handler owns until it FINISHES it, exactly once, with one of:
 * http_respond*() | http_stream_end() | http_req_upgrade() | http_ws_accept().
 * Finishing may happen later (from a timer, a client callback, or a worker
 * thread): the handler may simply return. After finishing, the pointer is
 * dead. A request whose client went away must still be finished (the call
 * then returns ERR_CANCELLED and sends nothing); that is what frees it.
 * Calls on one request come from one thread at a time (hand it over, don't
 * share it). Accessors (method, path, headers, body) are valid until the
 * request is finished, from whichever thread owns it.
 *
 * CANCELLATION. When the client disconnects (or the server's shutdown
 * deadline passes) before the response is finished, the request is
 * cancelled: http_req_cancelled() turns true [any thread], the callback set
 * by http_req_on_cancel() runs [loop], blocked stream writers wake with
 * ERR_CANCELLED, and later writes return ERR_CANCELLED. As with Go's
 * net/http, end-of-stream from the client while a request runs counts as
 * going away (a half-closing client gets no answer to a slow request).
 *
 * BACKPRESSURE. Response bytes not yet accepted by the kernel are counted per
 * connection. A worker's http_stream_write() blocks while more than
 * high_water bytes wait; a loop-thread writer is never blocked: the write
 * returns 1 ("queued, now above high water") and the on_drain callback says
 * when to go on. Request bodies streamed to a handler are paused/resumed
 * with http_req_body_pause/resume; reading from the socket stops meanwhile.
 * Memory per connection is therefore bounded by the high-water mark plus one
 * read buffer.
 *
 * LIMITS, each answered with a JSON body {"error":"..."} and Connection:
 * close: request head over max_header_bytes or max_headers -> 431; buffered
 * body over max_body_bytes -> 413; head (or a buffered body) not received
 * within header_timeout_ms -> 408; more than max_conns connections -> 503;
 * malformed request -> 400. */
#ifndef GPURUN_HTTP_H
#define GPURUN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "base/buf.h"
#include "base/err.h"

struct http_server;
struct http_req;
struct http_stream;
struct http_router;
struct http_client;
struct http_creq;
struct http_raw;
struct http_ws;

struct http_header {
	struct slice name;
	struct slice value;
};

/* True when name equals the literal lit, ignoring case (length first). */
#define HTTP_NAME_IS(name, lit)                                                                    \
	((name).n == sizeof(lit) - 1 && http_name_eq((name).p, (lit), sizeof(lit) - 1))
bool http_name_eq(const char *a, const char *lit, size_t n);
/* Headers a proxy never forwards as they are: the hop-by-hop set of RFC 9110
 * §7.6.1 (Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
 * Transfer-Encoding, Upgrade, Proxy-Authenticate, Proxy-Authorization) and
 * the framing it redoes itself (Content-Length, Expect). Headers named by
 * the Connection header are the caller's to check (http_header_has_token). */
bool http_header_hop_by_hop(struct slice name);
/* True when the comma-separated header value lists token (any case). */
bool http_header_has_token(struct slice value, struct slice token);

/* ---- server ---------------------------------------------------------- */

typedef void (*http_handler_fn)(struct http_req *req, void *data);
/* Called once the head is parsed: true = hand the body to the handler as a
 * stream (the handler runs before the body is read and must call
 * http_req_body_read), false = buffer it (up to max_body_bytes) first. */
typedef bool (*http_stream_body_fn)(struct http_req *req, void *data);

struct http_server_config {
	http_handler_fn handler;
	void *data;
	http_stream_body_fn stream_body; /* NULL: buffer every body */
	size_t max_header_bytes;         /* request line + headers (431) */
	int max_headers;                 /* header count (431) */
	size_t max_body_bytes;           /* buffered bodies (413) */
	int64_t header_timeout_ms;       /* head, or a buffered body, must arrive within (408) */
	int64_t idle_timeout_ms;         /* keep-alive connection with no request: closed */
	int max_conns;                   /* open connections (503) */
	size_t high_water;               /* unsent response bytes before writers pause */
};

/* Defaults: 16 KiB head, 100 headers, 1 MiB body, 10 s head timeout, 60 s
 * idle, 1024 connections, 256 KiB high water. */
void http_server_config_init(struct http_server_config *cfg);
/* [loop] The config is copied. */
struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_config *cfg);
/* Binds and listens on host:port (port 0: a free port, see http_server_port).
 * The calling thread becomes the loop thread. */
int http_server_listen(struct http_server *s, const char *host, int port, char err[ERR_MSG_LEN]);
/* Listens on a unix socket instead (a stale socket file is replaced; the
 * file gets mode, e.g. 0600). Its requests have no meaningful remote address. */
int http_server_listen_unix(struct http_server *s, const char *path, int mode,
                            char err[ERR_MSG_LEN]);
int http_server_port(const struct http_server *s);
int http_server_conn_count(const struct http_server *s);
typedef void (*http_server_done_fn)(struct http_server *s, void *data);
/* Graceful shutdown: stops accepting, closes idle connections, lets
 * in-flight requests finish (their responses say Connection: close); at
 * deadline_ms from now the rest are cancelled and closed. done runs once no
 * connection is open and every request is finished; then the loop holds no
 * handle of the server and http_server_free may be called. */
void http_server_shutdown(struct http_server *s, int64_t deadline_ms, http_server_done_fn done,
                          void *data);
/* Frees a server that was shut down (done has run) or never listened. NULL ok. */
void http_server_free(struct http_server *s);

/* ---- requests (server side) ------------------------------------------ */

const char *http_req_method(const struct http_req *r);  /* "GET", "POST", ... */
struct slice http_req_target(const struct http_req *r); /* as sent: "/a/b?x=1" */
struct slice http_req_path(const struct http_req *r);   /* "/a/b" (not decoded) */
struct slice http_req_query(const struct http_req *r);  /* "x=1" (empty if none) */
/* The percent-decoded value of query parameter name into out (NUL-ended):
 * its length, -ERR_NOT_FOUND if absent, ERR_TOO_LARGE if it does not fit. */
int http_req_query_get(const struct http_req *r, const char *name, char *out, size_t cap);
/* First header named name (case-insensitive); .p == NULL when absent. */
struct slice http_req_header(const struct http_req *r, const char *name);
int http_req_header_count(const struct http_req *r);
struct http_header http_req_header_at(const struct http_req *r, int i);
/* The buffered body (empty for a streamed body). */
struct slice http_req_body(const struct http_req *r);
/* Numeric remote address ("127.0.0.1", "::1") and port. */
const char *http_req_remote_addr(const struct http_req *r);
int http_req_remote_port(const struct http_req *r);
int http_req_version_minor(const struct http_req *r); /* HTTP/1.x */
/* The request asked for an upgrade (Connection: upgrade + Upgrade: name). */
bool http_req_is_upgrade(const struct http_req *r);
struct http_server *http_req_server(const struct http_req *r);
uv_loop_t *http_req_loop(const struct http_req *r);

/* [any thread] */
bool http_req_cancelled(const struct http_req *r);
typedef void (*http_req_cb)(struct http_req *r, void *data);
/* [loop] cb runs once, on the loop thread, if the request is cancelled before
 * it is finished. Runs at once if it already is. */
void http_req_on_cancel(struct http_req *r, http_req_cb cb, void *data);

/* Streamed request bodies [loop]. on_data gets each piece as it arrives;
 * on_end(status) follows once: 0 at the end of the body, ERR_CANCELLED if the
 * client went away, ERR_PROTOCOL on a malformed body. A buffered body (the
 * router's non-streaming routes) is delivered whole, before this returns;
 * a streamed one flows once the handler returns (or at once when called
 * later, from another callback). Pause takes effect before the next piece. */
typedef void (*http_body_data_fn)(struct http_req *r, const char *p, size_t n, void *data);
typedef void (*http_body_end_fn)(struct http_req *r, int status, void *data);
int http_req_body_read(struct http_req *r, http_body_data_fn on_data, http_body_end_fn on_end,
                       void *data);
void http_req_body_pause(struct http_req *r);
void http_req_body_resume(struct http_req *r);

/* ---- responses [any thread, by the request's owner] -------------------- */

/* Adds a response header (before the response starts). Content-Length,
 * Transfer-Encoding, Connection and Date are the library's own; a
 * Content-Length set here makes a stream send exactly that many bytes
 * unchunked. */
int http_resp_header(struct http_req *r, const char *name, const char *value);
int http_resp_header_n(struct http_req *r, struct slice name, struct slice value);
/* One-shot response (Content-Length framing); FINISHES the request. The body
 * is copied or sent before the call returns. content_type may be NULL. */
int http_respond(struct http_req *r, int status, const char *content_type, const void *body,
                 size_t n);
int http_respond_json(struct http_req *r, int status, const char *json);
/* {"error":"msg"} with status; FINISHES the request. */
int http_respond_error(struct http_req *r, int status, const char *msg);
const char *http_status_text(int status);

/* Starts a streamed response: chunked for HTTP/1.1 (unless a Content-Length
 * header was set), close-delimited for HTTP/1.0. The stream lives until
 * http_stream_end, which FINISHES the request. */
struct http_stream *http_stream_begin(struct http_req *r, int status, const char *content_type);
/* Queues n bytes as one chunk, flushed at once. Worker thread: blocks while
 * the connection has more than high_water bytes unsent. Loop thread: never
 * blocks. Returns 0, 1 (loop thread: now above high water, wait for
 * on_drain), or ERR_CANCELLED. n == 0 is a no-op. */
int http_stream_write(struct http_stream *s, const void *p, size_t n);
/* Never blocks, on any thread: 0, 1 (above high water: wait with
 * http_stream_wait_writable or on_drain), or ERR_CANCELLED. */
int http_stream_write_nb(struct http_stream *s, const void *p, size_t n);
/* [worker] Waits until the unsent bytes fall to half the high water: 0,
 * ERR_TIMEOUT (timeout_ms < 0: no timeout), or ERR_CANCELLED. */
int http_stream_wait_writable(struct http_stream *s, int64_t timeout_ms);
/* One NDJSON line: json + "\n" (json must not contain a newline). */
int http_stream_ndjson(struct http_stream *s, const char *json);
/* One SSE event: "event: E\n" (when event != NULL), a "data: " line per line
 * of data, then a blank line. */
int http_stream_sse(struct http_stream *s, const char *event, const char *data);
/* Ends the body (terminal chunk) and FINISHES the request: 0 or ERR_CANCELLED. */
int http_stream_end(struct http_stream *s);
/* Ends a stream without its terminal chunk and closes the connection, so
 * the client sees a truncated body (an upstream failed mid-way). FINISHES. */
void http_stream_abort(struct http_stream *s);
/* [loop] cb runs (on the loop thread) when the unsent bytes fall to half the
 * high water after a write returned 1. */
void http_stream_on_drain(struct http_stream *s, http_req_cb cb, void *data);
struct http_req *http_stream_req(struct http_stream *s);

/* ---- raw connections, upgrades and tunnels [loop] ----------------------- */

/* Switches the connection to raw bytes: writes "HTTP/1.1 101 Switching
 * Protocols" with Connection: Upgrade, the request's Upgrade header and the
 * headers added with http_resp_header, then FINISHES the request and hands
 * over the connection (NULL and ERR if the request was cancelled). Bytes the
 * client sent after the head are delivered first by http_raw_start. */
struct http_raw *http_req_upgrade(struct http_req *r);

/* n > 0: bytes (valid during the call); n < 0: EOF (UV_EOF) or an error.
 * After n < 0 nothing more is read; close the raw. */
typedef void (*http_raw_read_fn)(struct http_raw *raw, const char *p, ssize_t n, void *data);
typedef void (*http_raw_cb)(struct http_raw *raw, void *data);
/* Starts delivering bytes. on_drain (may be NULL) as for streams. */
int http_raw_start(struct http_raw *raw, http_raw_read_fn on_read, http_raw_cb on_drain,
                   void *data);
/* 0, 1 (above high water), or a negative error. */
int http_raw_write(struct http_raw *raw, const void *p, size_t n);
void http_raw_pause(struct http_raw *raw);
void http_raw_resume(struct http_raw *raw);
size_t http_raw_unsent(const struct http_raw *raw);
/* Closes after the queued bytes are written (or at once if abort); no
 * callback runs after this call. */
void http_raw_close(struct http_raw *raw, bool abort);
/* Pipes a <-> b both ways with backpressure until either side ends or
 * fails, then closes both. Takes ownership of both. */
int http_tunnel(struct http_raw *a, struct http_raw *b);

/* ---- router ------------------------------------------------------------ */

enum http_route_flags {
	HTTP_ROUTE_PREFIX = 1,      /* path matches as a prefix ("/api/blobs/") */
	HTTP_ROUTE_STREAM_BODY = 2, /* body streamed to the handler (uploads) */
};
struct http_router *http_router_new(void);
void http_router_free(struct http_router *rt);
/* method NULL matches any. Exact routes win over prefixes; longer prefixes
 * over shorter. Unmatched path -> 404, matched path wrong method -> 405 with
 * an Allow header; both {"error":...}. */
void http_router_add(struct http_router *rt, const char *method, const char *path, int flags,
                     http_handler_fn fn, void *data);
/* Points cfg's handler and stream_body at the router. */
void http_router_attach(struct http_router *rt, struct http_server_config *cfg);
/* The server handler and stream_body predicate, for wrapping. */
void http_router_dispatch(struct http_req *r, void *router);
bool http_router_wants_stream(struct http_req *r, void *router);

/* ---- client ------------------------------------------------------------ */

struct http_client_config {
	int max_idle_per_host;      /* pooled keep-alive connections per host:port */
	int64_t idle_timeout_ms;    /* pooled connection closed after */
	int64_t connect_timeout_ms; /* ERR_TIMEOUT */
	size_t max_header_bytes;    /* response head (ERR_TOO_LARGE) */
	size_t high_water;          /* request-body write backpressure */
};
/* Defaults: 16 idle per host, 30 s idle, 10 s connect, 64 KiB head, 256 KiB. */
void http_client_config_init(struct http_client_config *cfg);
struct http_client *http_client_new(uv_loop_t *loop, const struct http_client_config *cfg);
/* Closes pooled connections and aborts requests in flight (their on_done runs
 * with ERR_CANCELLED); memory is freed once libuv has closed the handles. */
void http_client_free(struct http_client *c);
int http_client_idle_count(const struct http_client *c);
/* Connections opened so far (pool reuse is visible as this not growing). */
int64_t http_client_connects(const struct http_client *c);

struct http_cresp; /* a response head, valid during on_response */
int http_cresp_status(const struct http_cresp *h);
struct slice http_cresp_header(const struct http_cresp *h, const char *name);
int http_cresp_header_count(const struct http_cresp *h);
struct http_header http_cresp_header_at(const struct http_cresp *h, int i);
bool http_cresp_chunked(const struct http_cresp *h);
int64_t http_cresp_content_length(const struct http_cresp *h); /* -1 unknown */

struct http_creq_opts {
	const char *method; /* default GET */
	const char *host;   /* IP literal or name */
	int port;
	const char *target;                /* "/path?query" */
	const struct http_header *headers; /* extra headers, Host is added if absent */
	int nheaders;
	const void *body; /* one-shot body (copied), or */
	size_t body_len;
	bool stream_body;       /* body sent with http_creq_write/http_creq_end */
	int64_t content_length; /* streamed body length, -1 = chunked */
	/* Response head (a 101 too, before on_upgrade; interim 1xx are
	 * skipped). Return false to stop (the request is aborted, on_done runs
	 * with ERR_CANCELLED). */
	bool (*on_response)(struct http_creq *q, const struct http_cresp *h, void *data);
	void (*on_data)(struct http_creq *q, const char *p, size_t n, void *data);
	/* 101 answer: the connection leaves the pool and is yours; leftover
	 * bytes come first through http_raw_start. on_done follows with 0. */
	void (*on_upgrade)(struct http_creq *q, struct http_raw *raw, void *data);
	/* Once, last: 0 after the whole response, else a negative code. */
	void (*on_done)(struct http_creq *q, int status, void *data);
	void (*on_drain)(struct http_creq *q, void *data); /* body writable again */
	void *data;
};
/* Starts a request (pooled connection or a new one); NULL + err when the
 * options are invalid. The creq lives until on_done returns. */
struct http_creq *http_client_request(struct http_client *c, const struct http_creq_opts *o,
                                      char err[ERR_MSG_LEN]);
/* Streamed request body: 0, 1 (above high water, wait for on_drain), <0. */
int http_creq_write(struct http_creq *q, const void *p, size_t n);
int http_creq_end(struct http_creq *q);
void http_creq_pause(struct http_creq *q); /* response body delivery */
void http_creq_resume(struct http_creq *q);
/* Aborts: on_done(ERR_CANCELLED) runs before this returns (unless done). */
void http_creq_cancel(struct http_creq *q);

/* ---- reverse proxy helper [loop] -------------------------------------- */

struct http_proxy_opts {
	const char *host;
	int port;
	const char *forwarded_proto; /* X-Forwarded-Proto, default "http" */
	/* Runs once the exchange ends: the client's status or a code. */
	void (*on_done)(struct http_req *r, int status, void *data);
	void *data;
};
/* Forwards the request to host:port through client c and streams the answer
 * back (bodies both ways, no buffering; WebSocket/Upgrade tunnelled). Adds
 * X-Forwarded-For/-Proto, drops hop-by-hop headers. A backend that cannot be
 * reached gives 502. FINISHES the request. */
int http_proxy(struct http_req *r, struct http_client *c, const struct http_proxy_opts *o);

/* ---- WebSocket (RFC 6455, wslay) [loop] -------------------------------- */

enum http_ws_opcode { HTTP_WS_TEXT = 1, HTTP_WS_BINARY = 2 };
struct http_ws_callbacks {
	void (*on_open)(struct http_ws *ws, void *data); /* client: handshake done */
	void (*on_message)(struct http_ws *ws, int opcode, const uint8_t *p, size_t n, void *data);
	/* Once, last: the peer's close code (1000...), 1006 if the connection
	 * dropped, or a negative code when a client handshake failed. The ws is
	 * freed after it returns. */
	void (*on_close)(struct http_ws *ws, int code, void *data);
};
/* Validates the upgrade (GET, Upgrade: websocket, version 13, key), answers
 * 101 and FINISHES the request. On a bad handshake answers 400 and returns
 * NULL. max_msg: largest message accepted (0 = 16 MiB; bigger -> close 1009). */
struct http_ws *http_ws_accept(struct http_req *r, const struct http_ws_callbacks *cb,
                               size_t max_msg, void *data);
/* Client: connects to ws://host:port/target through c. NULL + err if invalid. */
struct http_ws *http_ws_connect(struct http_client *c, const char *host, int port,
                                const char *target, const struct http_ws_callbacks *cb, void *data,
                                char err[ERR_MSG_LEN]);
/* 0, 1 (above high water), or a negative code. */
int http_ws_send(struct http_ws *ws, int opcode, const void *p, size_t n);
/* Starts the closing handshake; on_close follows. */
int http_ws_close(struct http_ws *ws, int code, const char *reason);

#endif

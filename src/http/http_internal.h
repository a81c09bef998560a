/* http_internal.h — structures shared by the files of src/http: the message
 * parser wrapper (no sockets), the raw socket with its write queue, the
 * server connection with its embedded request, and the server itself.
 * Nothing here is part of the public contract (http.h). */
#ifndef GPURUN_HTTP_INTERNAL_H
#define GPURUN_HTTP_INTERNAL_H

#include "http/http.h"

#include <http_parser.h>
#include <pthread.h>
#include <stdatomic.h>

#define HTTP__RBUF_SIZE        65536
#define HTTP__MAX_HEADERS_HARD 1024

/* ---- message parser (http_parse.c): http-parser plus copies and limits ---- */

struct http__hdr {
	uint32_t no, nl, vo, vl; /* offsets into head */
};

struct http__parser;
/* Called from on_headers_complete: 0 go on, 1 skip the body (HEAD answers),
 * 3 pause here (the owner resumes with http__parser_feed later). */
typedef int (*http__head_fn)(struct http__parser *p);
typedef void (*http__body_fn)(struct http__parser *p, const char *d, size_t n);

struct http__parser {
	http_parser hp;
	struct buf head;           /* url (or reason) and header bytes, copied */
	struct http__hdr *hdrs;    /* (max_hdrs) */
	struct http_header *views; /* (max_hdrs) slices into head, set at head end */
	int nhdrs, max_hdrs;
	uint32_t url_off, url_len;
	size_t max_head;   /* bytes of url + header names and values */
	uint64_t max_body; /* UINT64_MAX: no limit */
	uint64_t body_seen;
	int last;     /* 0 none, 1 in a field, 2 in a value */
	bool started; /* a byte of this message was parsed */
	bool head_done, msg_done, trailers;
	int status;      /* error answer (400, 413, 431) once failed, else 0 */
	const char *why; /* error text for the JSON body */
	http__head_fn on_head;
	http__body_fn on_body;
	void *owner;
};

void http__parser_init(struct http__parser *p, enum http_parser_type t, size_t max_head,
                       int max_hdrs);
void http__parser_release(struct http__parser *p);
/* Prepares for the next message (keeps allocations). */
void http__parser_next(struct http__parser *p);
/* Parses up to n bytes; returns how many were consumed. Stops after a
 * complete message (msg_done), at a pause asked by on_head, at an upgrade
 * (hp.upgrade), or on an error (status != 0). */
size_t http__parser_feed(struct http__parser *p, const char *d, size_t n);
/* Case-insensitive lookup among the parsed headers. */
struct slice http__parser_header(const struct http__parser *p, const char *name);
struct slice http__parser_url(const struct http__parser *p);
/* True when the header value (comma list) holds token (case-insensitive). */
bool http__has_token(struct slice value, const char *token);

/* ---- raw socket with a write queue (http_raw.c) ---- */

struct http_raw {
	uv_tcp_t tcp;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	struct buf wq;      /* queued, not yet handed to libuv */
	struct buf wflight; /* owned by the write in flight */
	size_t high_water;
	bool writing, corked, closing, reading, paused, want_drain, close_after_write;
	bool user_mode; /* handed to a user: user_* callbacks are live */
	int werr;       /* first write error */
	/* owner hooks: the server or client connection, or the user */
	void (*on_read)(struct http_raw *r, const char *p, ssize_t n);
	void (*on_written)(struct http_raw *r);
	void (*on_closed)(struct http_raw *r); /* after uv_close; frees the owner */
	void *owner;
	http_raw_read_fn user_read;
	http_raw_cb user_drain;
	void *user_data;
	struct buf leftover; /* bytes read past an upgrade head */
};

/* Sets up the fields (the tcp handle is initialised by the caller). */
void http__raw_init(struct http_raw *r, size_t high_water);
int http__raw_read_start(struct http_raw *r);
void http__raw_read_stop(struct http_raw *r);
/* Queues the iovecs (written at once unless corked or a write is in flight;
 * what the kernel does not take is copied). 0 or a negative code. */
int http__raw_writev(struct http_raw *r, const uv_buf_t *bufs, unsigned n);
void http__raw_flush(struct http_raw *r);
size_t http__raw_unsent(const struct http_raw *r);
/* Closes the handle; on_closed runs from the close callback. */
void http__raw_close_now(struct http_raw *r);
/* Switches a connection to user mode (after an upgrade). */
void http__raw_to_user(struct http_raw *r, const char *left, size_t n);

/* ---- server ---- */

enum http__body_mode { BODY_NONE, BODY_BUFFER, BODY_STREAM };

struct http_stream {
	struct http_req *req;
};

struct http_req {
	struct http__conn *conn;
	struct http_server *srv;
	struct http_stream stream;
	const char *method;
	struct slice target, path, query;
	int vminor;
	bool keep_alive, is_head, upgrade, expect_continue;
	const void *route; /* the router's pick, kept from stream_body to dispatch */
	struct buf body;   /* buffered body */
	/* lifecycle (loop thread) */
	bool active;   /* dispatched and not yet done */
	bool finished; /* the owner finished it */
	bool started;  /* response head written or queued */
	bool chunked, close_delim, no_body, resp_close, worker;
	int64_t clen_left; /* declared Content-Length still to send, -1 none */
	struct buf rhead;  /* extra response headers "Name: value\r\n" */
	/* streamed request body (loop thread) */
	enum http__body_mode body_mode;
	bool body_reading, body_paused, body_complete, body_ended;
	http_body_data_fn on_data;
	http_body_end_fn on_end;
	void *body_data;
	/* cancellation and drain (loop thread) */
	http_req_cb on_cancel, on_drain;
	void *cancel_data, *drain_data;
	bool want_drain;
	atomic_bool cancelled;
	/* worker hand-off, guarded by srv->mu */
	struct buf q;    /* bytes from workers for the loop to write */
	bool q_end;      /* the worker finished the request */
	bool in_pending; /* on srv->pending */
	struct http_req *pending_next;
	size_t unsent;       /* the connection's unsent bytes, as last seen by the loop */
	pthread_cond_t cond; /* signalled on drain and on cancel */
};

enum http__conn_state { CONN_IDLE, CONN_READING, CONN_ACTIVE, CONN_RAW, CONN_LINGER, CONN_CLOSED };

struct http__conn {
	struct http_raw raw; /* first: a raw pointer is a conn pointer */
	struct http_server *srv;
	struct http__parser parser;
	struct http_req req;
	struct buf inbuf; /* bytes read and not yet parsed */
	const char *bp;   /* or, while inbuf is empty, the read buffer itself */
	size_t bn;
	uv_timer_t timer;
	int64_t deadline, armed_at; /* loop ms */
	enum http__conn_state state;
	int handles_open; /* tcp + timer, until their close callbacks */
	bool in_process, close_after, sent_continue, read_stopped, shut;
	char addr[48];
	int port;
	struct http__conn *prev, *next;
};

struct http_server {
	uv_loop_t *loop;
	struct http_server_config cfg;
	uv_tcp_t listener;
	uv_async_t async;
	uv_timer_t shutdown_timer;
	pthread_t loop_thread;
	pthread_mutex_t mu;
	struct http_req *pending; /* requests with worker output, guarded by mu */
	struct http__conn *conns;
	int nconns;
	int handles_open;
	bool listening, draining, done_called, free_pending;
	http_server_done_fn done;
	void *done_data;
	char date[40];      /* "Date: ...\r\n" */
	int64_t date_ms;    /* when date was made */
	struct buf scratch; /* loop thread: response heads */
};

/* ---- client (http_client.c: pool and connections; http_client_req.c:
 * requests and their bodies) ---- */

#define HTTP__HOST_BUCKETS 64 /* chains of hosts; a daemon talks to a few hundred */

struct cconn;

/* One backend (host:port): its resolved address and idle connections. Freed
 * when no connection or request refers to it. */
struct chost {
	struct chost *next; /* in its bucket */
	struct sockaddr_storage addr;
	struct cconn *idle; /* idle connections, the last given back first */
	int nidle, refs;
	int port;
	uint32_t hash;
	char name[]; /* the host as given */
};

struct http_cresp {
	struct http__parser *p;
};

struct http_creq {
	struct http_client *cl;
	struct cconn *conn;
	struct chost *h; /* a reference */
	struct http_creq_opts o;
	struct http_creq *spare_next;
	bool is_head;
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
	uv_timer_t timer;    /* connect timeout, then the idle timeout */
	uint64_t idle_since; /* loop ms: given back to the pool */
	bool idle_armed;     /* timer runs the idle timeout (left running while busy) */
	struct chost *h;     /* a reference */
	struct http_creq *q;
	bool connected, idle, reused, in_feed, dead;
	int handles_open;
	int fail;                    /* connect error to report */
	struct http_creq *zombie;    /* finished during a parse, freed after */
	struct cconn *prev, *next;   /* every connection of the client */
	struct cconn *iprev, *inext; /* h->idle while idle */
};

struct http_client {
	uv_loop_t *loop;
	struct http_client_config cfg;
	struct cconn *conns;
	int nconns, nidle;
	int64_t connects;
	bool freeing;
	struct chost *hosts[HTTP__HOST_BUCKETS];
	struct http_creq *spare; /* finished requests, for reuse */
	int nspare;
};

/* The host entry for host:port with one more reference (requests and
 * connections hold one; the last to go frees it), or NULL when host is not
 * an address. */
struct chost *http__host_get(struct http_client *cl, const char *host, int port);
/* A zeroed request (a recycled one keeps its buffers); recycle takes it back
 * with its host reference. */
struct http_creq *http__creq_alloc(struct http_client *cl);
void http__creq_recycle(struct http_creq *q);
/* Sends q on an idle connection to its host, or a new one. */
void http__creq_start(struct http_creq *q);
/* on_done once, then q is recycled (or freed after the parse running now). */
void http__creq_finish(struct http_creq *q, int status);
void http__cconn_close(struct cconn *c);
/* Back to the pool (reuse) or closed. */
void http__cconn_release(struct cconn *c, bool reuse);

/* http_server.c */
void http__server_check_done(struct http_server *s);
/* http_conn.c */
void http__conn_accept(struct http_server *s);
void http__conn_close(struct http__conn *c, bool cancel);
void http__conn_req_done(struct http__conn *c);
void http__conn_process(struct http__conn *c);
void http__conn_send_continue(struct http__conn *c);
/* http_resp.c */
bool http__on_loop(const struct http_server *s);
void http__async_cb(uv_async_t *a);
void http__req_cancel(struct http_req *r);
void http__conn_written(struct http_raw *raw);
void http__date_update(struct http_server *s);
/* A complete response with a JSON error body, written from the loop thread
 * on a connection without a dispatched request (limits, bad requests). */
void http__conn_error(struct http__conn *c, int status, const char *msg);
/* Appends a whole error response (JSON body, Connection: close) to out. */
void http__format_error(struct http_server *s, struct buf *out, int status, const char *msg);
/* Response head into out; clen >= 0: Content-Length framing, -1: a stream. */
void http__format_head(struct http_req *r, struct buf *out, int status, const char *ctype,
                       int64_t clen, bool on_loop);
/* Loop thread: the owner finished r. */
void http__req_finish(struct http_req *r);
/* Worker side, srv->mu held: r joins the list the loop drains. */
void http__post_locked(struct http_req *r);
/* Moves worker output of r to the socket; finishes r if the worker did. */
void http__req_take_q(struct http_req *r);
/* WebSocket accept key: base64(sha1(key + GUID)) into out[29]. */
void http__ws_accept_key(struct slice key, char out[29]);
void http__base64(const uint8_t *p, size_t n, char *out);

#endif

/* hello.c — `gpurun hello`: Cloud Run's "hello" sample service, plus routes
 * that the gateway and HTTP tests lean on: /stream (chunked lines on a
 * timer), /echo (streams the request body back), /ws (WebSocket echo),
 * /sleep and /status/CODE. Listens on $PORT (default 8080); SIGTERM or
 * SIGINT shut it down gracefully (in-flight requests finish). */
#include "cli/cli.h"

#include "base/flags.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"
#include "http/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRACE_MS 10000

static int64_t query_int(struct http_req *r, const char *name, int64_t def, int64_t max)
{
	char v[32];
	int64_t x;
	if (http_req_query_get(r, name, v, sizeof v) < 0 || !str_to_i64(v, &x) || x < 0)
		return def;
	return x > max ? max : x;
}

static void hello(struct http_req *r, void *data)
{
	http_respond(r, 200, "text/plain; charset=utf-8", "Hello World!\n", 13);
}

/* ---- /stream?n=N&ms=M: N lines, one every M ms ---- */

struct ticker {
	uv_timer_t timer;
	struct http_stream *s;
	int64_t left, sent;
};

static void ticker_closed(uv_handle_t *h)
{
	free(h->data);
}

static void ticker_stop(struct ticker *t)
{
	http_stream_end(t->s);
	uv_close((uv_handle_t *)&t->timer, ticker_closed);
}

static void tick(uv_timer_t *h)
{
	struct ticker *t = h->data;
	if (t->left == 0) {
		ticker_stop(t);
		return;
	}
	char line[64];
	int n = snprintf(line, sizeof line, "line %lld\n", (long long)++t->sent);
	t->left--;
	http_stream_write(t->s, line, (size_t)n); /* a cancel runs stream_cancelled */
}

static void stream_cancelled(struct http_req *r, void *data)
{
	struct ticker *t = data;
	uv_timer_stop(&t->timer);
	ticker_stop(t);
}

static void stream_route(struct http_req *r, void *data)
{
	struct ticker *t = xcalloc(1, sizeof *t);
	int64_t ms = query_int(r, "ms", 100, 60000);
	t->left = query_int(r, "n", 10, 1000000);
	t->s = http_stream_begin(r, 200, "text/plain; charset=utf-8");
	uv_timer_init(http_req_loop(r), &t->timer);
	t->timer.data = t;
	http_req_on_cancel(r, stream_cancelled, t);
	uv_timer_start(&t->timer, tick, 0, (uint64_t)(ms ? ms : 1));
}

/* ---- /echo: the body streams back as it arrives ---- */

struct echo {
	struct http_stream *s;
};

static void echo_drain(struct http_req *r, void *data)
{
	http_req_body_resume(r);
}

/* The head goes out with the first piece (or at the end): a client waiting
 * on "Expect: 100-continue" has had its 100 by then. */
static struct http_stream *echo_stream(struct echo *e, struct http_req *r)
{
	if (!e->s) {
		e->s = http_stream_begin(r, 200, NULL);
		http_stream_on_drain(e->s, echo_drain, e);
	}
	return e->s;
}

static void echo_data(struct http_req *r, const char *p, size_t n, void *data)
{
	if (http_stream_write(echo_stream(data, r), p, n) == 1)
		http_req_body_pause(r); /* resumed by echo_drain */
}

static void echo_end(struct http_req *r, int status, void *data)
{
	struct echo *e = data;
	if (status < 0 && e->s)
		http_stream_abort(e->s);
	else
		http_stream_end(echo_stream(e, r));
	free(e);
}

static void echo_route(struct http_req *r, void *data)
{
	struct echo *e = xcalloc(1, sizeof *e);
	struct slice ct = http_req_header(r, "Content-Type");
	if (ct.p)
		http_resp_header_n(r, SLICE_LIT("Content-Type"), ct);
	struct slice cl = http_req_header(r, "Content-Length");
	if (cl.p)
		http_resp_header_n(r, SLICE_LIT("Content-Length"), cl);
	http_req_body_read(r, echo_data, echo_end, e);
}

/* ---- /sleep?ms=M ---- */

struct sleeper {
	uv_timer_t timer;
	struct http_req *r;
	int64_t ms;
};

static void sleep_closed(uv_handle_t *h)
{
	free(h->data);
}

static void sleep_done(uv_timer_t *t)
{
	struct sleeper *z = t->data;
	char msg[64];
	int n = snprintf(msg, sizeof msg, "slept %lld ms\n", (long long)z->ms);
	http_respond(z->r, 200, "text/plain; charset=utf-8", msg, (size_t)n);
	uv_close((uv_handle_t *)t, sleep_closed);
}

static void sleep_cancelled(struct http_req *r, void *data)
{
	struct sleeper *z = data;
	uv_timer_stop(&z->timer);
	http_respond(r, 499, NULL, "", 0); /* finishes the cancelled request */
	uv_close((uv_handle_t *)&z->timer, sleep_closed);
}

static void sleep_route(struct http_req *r, void *data)
{
	struct sleeper *z = xcalloc(1, sizeof *z);
	z->ms = query_int(r, "ms", 1000, 600000);
	z->r = r;
	uv_timer_init(http_req_loop(r), &z->timer);
	z->timer.data = z;
	http_req_on_cancel(r, sleep_cancelled, z);
	uv_timer_start(&z->timer, sleep_done, (uint64_t)z->ms, 0);
}

/* ---- /status/CODE ---- */

static void status_route(struct http_req *r, void *data)
{
	struct slice p = http_req_path(r);
	char code[8] = {0};
	int64_t c;
	size_t n = p.n - strlen("/status/");
	if (n == 0 || n >= sizeof code) {
		http_respond_error(r, 400, "status code expected: /status/CODE");
		return;
	}
	memcpy(code, p.p + strlen("/status/"), n);
	if (!str_to_i64(code, &c) || c < 200 || c > 599) {
		http_respond_error(r, 400, "status code must be 200..599");
		return;
	}
	char body[64];
	snprintf(body, sizeof body, "{\"status\":%lld}", (long long)c);
	http_respond_json(r, (int)c, body);
}

/* ---- /ws: WebSocket echo ---- */

static void ws_message(struct http_ws *ws, int opcode, const uint8_t *p, size_t n, void *data)
{
	http_ws_send(ws, opcode, p, n);
}

static void ws_route(struct http_req *r, void *data)
{
	static const struct http_ws_callbacks cb = {.on_message = ws_message};
	http_ws_accept(r, &cb, 0, NULL);
}

/* ---- main ---- */

struct hello_state {
	uv_signal_t sigterm, sigint;
	struct http_server *srv;
};

static void server_done(struct http_server *s, void *data)
{
	struct hello_state *st = data;
	uv_close((uv_handle_t *)&st->sigterm, NULL);
	uv_close((uv_handle_t *)&st->sigint, NULL);
	log_info("hello: stopped");
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct hello_state *st = h->data;
	log_info("hello: signal %d, shutting down (grace %d ms)", sig, GRACE_MS);
	uv_signal_stop(&st->sigterm);
	uv_signal_stop(&st->sigint);
	http_server_shutdown(st->srv, GRACE_MS, server_done, st);
}

static struct http_router *hello_router(void)
{
	struct http_router *rt = http_router_new();
	http_router_add(rt, "GET", "/", 0, hello, NULL);
	http_router_add(rt, "GET", "/stream", 0, stream_route, NULL);
	http_router_add(rt, "POST", "/echo", HTTP_ROUTE_STREAM_BODY, echo_route, NULL);
	http_router_add(rt, "PUT", "/echo", HTTP_ROUTE_STREAM_BODY, echo_route, NULL);
	http_router_add(rt, "GET", "/ws", 0, ws_route, NULL);
	http_router_add(rt, "GET", "/sleep", 0, sleep_route, NULL);
	http_router_add(rt, NULL, "/status/", HTTP_ROUTE_PREFIX, status_route, NULL);
	return rt;
}

struct hello_opts {
	const char *host;
	int64_t port;
	struct http_server_config cfg;
};

/* Flags into o; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct hello_opts *o)
{
	const char *env_port = getenv("PORT");
	bool help = false;
	const char *head_timeout = "10s";
	int64_t max_conns = 1024, max_body = 1024 * 1024, head_ns;
	struct flag flags[] = {
	    {.name = "header-timeout",
	     .type = FLAG_STRING,
	     .value = &head_timeout,
	     .help = "a request head must arrive within this (408), default 10s"},
	    {.name = "max-conns",
	     .type = FLAG_INT,
	     .value = &max_conns,
	     .help = "open connections before 503 (default 1024)"},
	    {.name = "max-body",
	     .type = FLAG_INT,
	     .value = &max_body,
	     .help = "buffered request body limit in bytes (413), default 1 MiB"},
	    {.name = "host",
	     .type = FLAG_STRING,
	     .value = &o->host,
	     .help = "address to listen on (default 127.0.0.1)"},
	    {.name = "port",
	     .alias = 'p',
	     .type = FLAG_INT,
	     .value = &o->port,
	     .help = "port (default $PORT, else 8080)"},
	    {.name = "help",
	     .alias = 'h',
	     .type = FLAG_BOOL,
	     .value = &help,
	     .help = "show this help"},
	    {.name = NULL},
	};
	if (env_port && *env_port && !str_to_i64(env_port, &o->port)) {
		fprintf(stderr, "gpurun hello: PORT=%s is not a number\n", env_port);
		return 2;
	}
	char err[ERR_MSG_LEN];
	const char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
	int npos = 0;
	int rc = flags_parse(flags, argc - 1, argv + 1, pos, &npos, err);
	free(pos);
	if (rc < 0 || npos > 0 || help) {
		if (!help)
			fprintf(stderr, "gpurun hello: %s\n", rc < 0 ? err : "unexpected argument");
		printf("Usage: gpurun hello [--host ADDR] [--port N]\n\n"
		       "Cloud Run's hello service: GET / answers \"Hello World!\".\n");
		flags_print_help(flags);
		return help ? 0 : 2;
	}
	if (!time_parse_duration(head_timeout, &head_ns) || head_ns <= 0 || max_conns <= 0 ||
	    max_conns > 1000000 || max_body <= 0 || o->port < 0 || o->port > 65535) {
		fprintf(stderr,
		        "gpurun hello: bad --port, --header-timeout, --max-conns or --max-body\n");
		return 2;
	}
	o->cfg.header_timeout_ms = head_ns / 1000000 ? head_ns / 1000000 : 1;
	o->cfg.max_conns = (int)max_conns;
	o->cfg.max_body_bytes = (size_t)max_body;
	return -1;
}

int cmd_hello(int argc, char **argv)
{
	struct hello_opts o = {.host = "127.0.0.1", .port = 8080};
	http_server_config_init(&o.cfg);
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	uv_loop_t *loop = uv_default_loop();
	struct http_router *rt = hello_router();
	http_router_attach(rt, &o.cfg);
	struct hello_state st = {0};
	char err[ERR_MSG_LEN];
	st.srv = http_server_new(loop, &o.cfg);
	if (http_server_listen(st.srv, o.host, (int)o.port, err) < 0) {
		fprintf(stderr, "gpurun hello: %s\n", err);
		http_server_free(st.srv);
		uv_run(loop, UV_RUN_DEFAULT);
		http_router_free(rt);
		return 1;
	}
	uv_signal_init(loop, &st.sigterm);
	uv_signal_init(loop, &st.sigint);
	st.sigterm.data = st.sigint.data = &st;
	uv_signal_start(&st.sigterm, on_signal, SIGTERM);
	uv_signal_start(&st.sigint, on_signal, SIGINT);
	log_info("hello: listening on http://%s:%d", o.host, http_server_port(st.srv));
	uv_run(loop, UV_RUN_DEFAULT);
	http_server_free(st.srv);
	http_router_free(rt);
	uv_loop_close(loop);
	return 0;
}

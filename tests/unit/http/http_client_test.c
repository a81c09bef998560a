/* http_client_test.c — client, reverse proxy and WebSocket against our own
 * servers on one loop: pool reuse, streamed response pieces arriving one by
 * one, streamed request bodies, pause/resume with a bounded producer, a
 * refused connection, the proxy (streaming, X-Forwarded-For, 502) and
 * WebSocket round trips direct and tunnelled through the proxy. */
#include "support/support.h"

#include "http/http.h"

#include "base/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	uv_loop_t *loop;
	struct http_server *backend, *proxy;
	struct http_router *rt, *prt;
	struct http_client *client;
	int bport, pport;
	bool done;
	int status, nresp, ndata, rounds;
	struct buf body;
	int64_t piece_ns[16];
	long long produced, big_total;
	uv_timer_t pause_timer;
	struct http_creq *q;
	int ws_msgs, ws_close;
	struct buf ws_got;
};

static struct ctx C;

/* ---- backend routes ---- */

static void ok_route(struct http_req *r, void *d)
{
	http_respond(r, 200, "text/plain", "ok", 2);
}

static void xff_route(struct http_req *r, void *d)
{
	struct slice v = http_req_header(r, "X-Forwarded-For");
	http_respond(r, 200, "text/plain", v.p ? v.p : "", v.n);
}

struct ticker {
	uv_timer_t t;
	struct http_stream *s;
	int left, n;
};

static void tick(uv_timer_t *t)
{
	struct ticker *k = t->data;
	char line[32];
	if (k->left-- == 0) {
		http_stream_end(k->s);
		uv_close((uv_handle_t *)t, (uv_close_cb)free);
		return;
	}
	int n = snprintf(line, sizeof line, "line %d\n", ++k->n);
	http_stream_write(k->s, line, (size_t)n);
}

static void stream_route(struct http_req *r, void *d)
{
	struct ticker *k = calloc(1, sizeof *k);
	k->left = 3;
	k->s = http_stream_begin(r, 200, "application/x-ndjson");
	uv_timer_init(http_req_loop(r), &k->t);
	k->t.data = k;
	uv_timer_start(&k->t, tick, 60, 60);
}

static void echo_drain(struct http_req *r, void *d)
{
	http_req_body_resume(r);
}

static void echo_data(struct http_req *r, const char *p, size_t n, void *d)
{
	if (http_stream_write(d, p, n) == 1)
		http_req_body_pause(r);
}

static void echo_end(struct http_req *r, int status, void *d)
{
	http_stream_end(d);
}

static void echo_route(struct http_req *r, void *d)
{
	struct http_stream *s = http_stream_begin(r, 201, "application/octet-stream");
	http_stream_on_drain(s, echo_drain, NULL);
	http_req_body_read(r, echo_data, echo_end, s);
}

/* A loop-thread producer of C.big_total bytes that waits for on_drain. */
static void big_fill(struct http_req *r, void *d)
{
	struct http_stream *s = d;
	static char chunk[65536];
	while (C.produced < C.big_total) {
		memset(chunk, (int)(C.produced / 65536 % 256), sizeof chunk);
		C.produced += (long long)sizeof chunk;
		int rc = http_stream_write(s, chunk, sizeof chunk);
		if (rc == 1)
			return; /* big_fill runs again from on_drain */
		if (rc < 0)
			break;
	}
	http_stream_end(s);
}

static void big_route(struct http_req *r, void *d)
{
	struct http_stream *s = http_stream_begin(r, 200, "application/octet-stream");
	http_stream_on_drain(s, big_fill, s);
	big_fill(r, s);
}

static void ws_echo(struct http_ws *ws, int op, const uint8_t *p, size_t n, void *d)
{
	http_ws_send(ws, op, p, n);
}

static void ws_route(struct http_req *r, void *d)
{
	static const struct http_ws_callbacks cb = {.on_message = ws_echo};
	http_ws_accept(r, &cb, 0, NULL);
}

static void proxy_route(struct http_req *r, void *d)
{
	struct http_proxy_opts o = {.host = "127.0.0.1", .port = *(int *)d};
	http_proxy(r, C.client, &o);
}

static int dead_port;

/* A port with no listener: bound once by us, then closed. */
static int closed_port(void)
{
	uv_tcp_t t;
	struct sockaddr_in a;
	struct sockaddr_storage ss;
	int len = sizeof ss;
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_init(uv_default_loop(), &t);
	uv_tcp_bind(&t, (struct sockaddr *)&a, 0);
	uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void setup_servers(void)
{
	memset(&C, 0, sizeof C);
	C.loop = uv_default_loop();
	dead_port = closed_port();
	C.rt = http_router_new();
	http_router_add(C.rt, "GET", "/", 0, ok_route, NULL);
	http_router_add(C.rt, "GET", "/xff", 0, xff_route, NULL);
	http_router_add(C.rt, "GET", "/stream", 0, stream_route, NULL);
	http_router_add(C.rt, "POST", "/echo", HTTP_ROUTE_STREAM_BODY, echo_route, NULL);
	http_router_add(C.rt, "GET", "/big", 0, big_route, NULL);
	http_router_add(C.rt, "GET", "/ws", 0, ws_route, NULL);
	struct http_server_config cfg;
	http_server_config_init(&cfg);
	http_router_attach(C.rt, &cfg);
	C.backend = http_server_new(C.loop, &cfg);
	char err[ERR_MSG_LEN];
	assert_int_equal(http_server_listen(C.backend, "127.0.0.1", 0, err), 0);
	C.bport = http_server_port(C.backend);
	C.prt = http_router_new();
	http_router_add(C.prt, "GET", "/dead", 0, proxy_route, &dead_port);
	http_router_add(C.prt, NULL, "/", HTTP_ROUTE_PREFIX | HTTP_ROUTE_STREAM_BODY, proxy_route,
	                &C.bport);
	http_router_attach(C.prt, &cfg);
	C.proxy = http_server_new(C.loop, &cfg);
	assert_int_equal(http_server_listen(C.proxy, "127.0.0.1", 0, err), 0);
	C.pport = http_server_port(C.proxy);
	C.client = http_client_new(C.loop, NULL);
}

static void run_until_done(void)
{
	int64_t t0 = time_mono_ns();
	while (!C.done && time_mono_ns() - t0 < 10000000000LL)
		uv_run(C.loop, UV_RUN_ONCE);
	assert_true(C.done);
}

static void teardown_servers(void)
{
	http_client_free(C.client);
	http_server_shutdown(C.backend, 100, NULL, NULL);
	http_server_shutdown(C.proxy, 100, NULL, NULL);
	uv_run(C.loop, UV_RUN_DEFAULT);
	http_server_free(C.backend);
	http_server_free(C.proxy);
	http_router_free(C.rt);
	http_router_free(C.prt);
	buf_release(&C.body);
	buf_release(&C.ws_got);
}

/* ---- client callbacks shared by the tests ---- */

static bool on_resp(struct http_creq *q, const struct http_cresp *h, void *d)
{
	C.status = http_cresp_status(h);
	C.nresp++;
	return true;
}

static void on_data(struct http_creq *q, const char *p, size_t n, void *d)
{
	if (C.ndata < 16)
		C.piece_ns[C.ndata] = time_mono_ns();
	C.ndata++;
	buf_append(&C.body, p, n);
}

static void get(int port, const char *target, void (*done)(struct http_creq *, int, void *))
{
	struct http_creq_opts o = {.host = "127.0.0.1",
	                           .port = port,
	                           .target = target,
	                           .on_response = on_resp,
	                           .on_data = on_data,
	                           .on_done = done};
	char err[ERR_MSG_LEN];
	assert_non_null(http_client_request(C.client, &o, err));
}

static void done_stop(struct http_creq *q, int status, void *d)
{
	C.status = status < 0 ? status : C.status;
	C.done = true;
}

static void done_again(struct http_creq *q, int status, void *d)
{
	assert_int_equal(status, 0);
	if (++C.rounds < 3)
		get(C.bport, "/", done_again);
	else
		C.done = true;
}

static void test_http_client_pool_reuse(void **state)
{
	setup_servers();
	get(C.bport, "/", done_again);
	run_until_done();
	assert_int_equal(C.nresp, 3);
	assert_string_equal(C.body.data, "okokok");
	assert_int_equal(http_client_connects(C.client), 1);
	assert_int_equal(http_client_idle_count(C.client), 1);
	teardown_servers();
}

/* Alternating between two backends (the same server as 127.0.0.1 and as
 * localhost: two host:port keys) reuses each one's own idle connection. */
static void done_alternate(struct http_creq *q, int status, void *d)
{
	assert_int_equal(status, 0);
	if (++C.rounds == 6) {
		C.done = true;
		return;
	}
	struct http_creq_opts o = {.host = C.rounds % 2 ? "localhost" : "127.0.0.1",
	                           .port = C.bport,
	                           .target = "/",
	                           .on_response = on_resp,
	                           .on_data = on_data,
	                           .on_done = done_alternate};
	char err[ERR_MSG_LEN];
	assert_non_null(http_client_request(C.client, &o, err));
}

static void test_http_client_pool_per_host(void **state)
{
	setup_servers();
	get(C.bport, "/", done_alternate);
	run_until_done();
	assert_int_equal(C.nresp, 6);
	assert_string_equal(C.body.data, "okokokokokok");
	assert_int_equal(http_client_connects(C.client), 2);
	assert_int_equal(http_client_idle_count(C.client), 2);
	teardown_servers();
}

static void test_http_client_streamed_pieces(void **state)
{
	setup_servers();
	get(C.bport, "/stream", done_stop);
	run_until_done();
	assert_int_equal(C.status, 200);
	assert_string_equal(C.body.data, "line 1\nline 2\nline 3\n");
	assert_int_equal(C.ndata, 3); /* each write arrived by itself */
	assert_true(C.piece_ns[2] - C.piece_ns[0] > 80 * 1000000LL);
	teardown_servers();
}

static void upload_drain(struct http_creq *q, void *d);

static void upload_more(struct http_creq *q)
{
	static char piece[100000];
	while (C.rounds < 10) {
		memset(piece, 'a' + C.rounds, sizeof piece);
		C.rounds++;
		if (http_creq_write(q, piece, sizeof piece) == 1)
			return; /* upload_drain goes on */
	}
	http_creq_end(q);
	C.rounds++;
}

static void upload_drain(struct http_creq *q, void *d)
{
	if (C.rounds < 10)
		upload_more(q);
}

static void post_echo(int port)
{
	struct http_creq_opts o = {.method = "POST",
	                           .host = "127.0.0.1",
	                           .port = port,
	                           .target = "/echo",
	                           .stream_body = true,
	                           .content_length = -1,
	                           .on_response = on_resp,
	                           .on_data = on_data,
	                           .on_done = done_stop,
	                           .on_drain = upload_drain};
	char err[ERR_MSG_LEN];
	struct http_creq *q = http_client_request(C.client, &o, err);
	assert_non_null(q);
	upload_more(q);
	run_until_done();
	assert_int_equal(C.status, 201);
	assert_int_equal(C.body.len, 1000000);
	for (int i = 0; i < 10; i++)
		assert_int_equal(C.body.data[i * 100000 + 99999], 'a' + i);
}

static void test_http_client_streamed_upload(void **state)
{
	setup_servers();
	post_echo(C.bport);
	teardown_servers();
}

static long long paused_produced = -1;

static void resume_later(uv_timer_t *t)
{
	paused_produced = C.produced; /* how far the producer got meanwhile */
	http_creq_resume(C.q);
}

static void pausing_data(struct http_creq *q, const char *p, size_t n, void *d)
{
	if (C.body.len == 0) {
		http_creq_pause(q);
		uv_timer_start(&C.pause_timer, resume_later, 300, 0);
	}
	buf_append(&C.body, p, n);
}

static void test_http_client_pause_bounds_producer(void **state)
{
	setup_servers();
	C.big_total = 32LL << 20;
	uv_timer_init(C.loop, &C.pause_timer);
	struct http_creq_opts o = {.host = "127.0.0.1",
	                           .port = C.bport,
	                           .target = "/big",
	                           .on_response = on_resp,
	                           .on_data = pausing_data,
	                           .on_done = done_stop};
	char err[ERR_MSG_LEN];
	C.q = http_client_request(C.client, &o, err);
	run_until_done();
	assert_int_equal(C.status, 200);
	assert_int_equal(C.body.len, (size_t)(32LL << 20));
	for (size_t i = 0; i < C.body.len; i += 65536)
		assert_int_equal((unsigned char)C.body.data[i], (i / 65536) % 256);
	/* while the client was paused the producer stopped well short */
	assert_true(paused_produced > 0 && paused_produced < (16LL << 20));
	uv_close((uv_handle_t *)&C.pause_timer, NULL);
	teardown_servers();
}

static void test_http_client_refused(void **state)
{
	setup_servers();
	get(dead_port, "/", done_stop);
	run_until_done();
	assert_int_equal(C.status, UV_ECONNREFUSED);
	teardown_servers();
}

static void test_http_proxy_streams_and_forwards(void **state)
{
	setup_servers();
	get(C.pport, "/stream", done_stop);
	run_until_done();
	assert_int_equal(C.status, 200);
	assert_string_equal(C.body.data, "line 1\nline 2\nline 3\n");
	assert_int_equal(C.ndata, 3); /* no buffering in the proxy */
	C.done = false;
	buf_reset(&C.body);
	get(C.pport, "/xff", done_stop);
	run_until_done();
	assert_string_equal(C.body.data, "127.0.0.1");
	C.done = false;
	buf_reset(&C.body);
	C.rounds = 0;
	post_echo(C.pport);
	C.done = false;
	buf_reset(&C.body);
	get(C.pport, "/dead", done_stop);
	run_until_done();
	assert_int_equal(C.status, 502);
	assert_non_null(strstr(C.body.data, "\"error\""));
	teardown_servers();
}

/* ---- WebSocket ---- */

static void ws_open(struct http_ws *ws, void *d)
{
	static uint8_t bin[100000];
	for (size_t i = 0; i < sizeof bin; i++)
		bin[i] = (uint8_t)(i * 7);
	assert_true(http_ws_send(ws, HTTP_WS_TEXT, "hello", 5) >= 0);
	assert_true(http_ws_send(ws, HTTP_WS_BINARY, bin, sizeof bin) >= 0);
}

static void ws_msg(struct http_ws *ws, int op, const uint8_t *p, size_t n, void *d)
{
	C.ws_msgs++;
	if (C.ws_msgs == 1) {
		assert_int_equal(op, HTTP_WS_TEXT);
		assert_int_equal(n, 5);
		assert_memory_equal(p, "hello", 5);
	} else {
		assert_int_equal(op, HTTP_WS_BINARY);
		assert_int_equal(n, 100000);
		for (size_t i = 0; i < n; i++)
			if (p[i] != (uint8_t)(i * 7))
				fail();
		http_ws_close(ws, 1000, "bye");
	}
}

static void ws_closed(struct http_ws *ws, int code, void *d)
{
	C.ws_close = code;
	C.done = true;
}

static void ws_round_trip(int port)
{
	static const struct http_ws_callbacks cb = {ws_open, ws_msg, ws_closed};
	char err[ERR_MSG_LEN];
	assert_non_null(http_ws_connect(C.client, "127.0.0.1", port, "/ws", &cb, NULL, err));
	run_until_done();
	assert_int_equal(C.ws_msgs, 2);
	assert_int_equal(C.ws_close, 1000);
}

static void test_http_ws_round_trip(void **state)
{
	setup_servers();
	ws_round_trip(C.bport);
	teardown_servers();
}

static void test_http_ws_through_proxy(void **state)
{
	setup_servers();
	ws_round_trip(C.pport);
	teardown_servers();
}

static void test_http_ws_bad_handshake(void **state)
{
	setup_servers();
	static const struct http_ws_callbacks cb = {ws_open, ws_msg, ws_closed};
	char err[ERR_MSG_LEN];
	assert_non_null(http_ws_connect(C.client, "127.0.0.1", C.bport, "/", &cb, NULL, err));
	run_until_done();
	assert_int_equal(C.ws_msgs, 0);
	assert_true(C.ws_close < 0);
	teardown_servers();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_client_pool_reuse),
	    cmocka_unit_test(test_http_client_pool_per_host),
	    cmocka_unit_test(test_http_client_streamed_pieces),
	    cmocka_unit_test(test_http_client_streamed_upload),
	    cmocka_unit_test(test_http_client_pause_bounds_producer),
	    cmocka_unit_test(test_http_client_refused),
	    cmocka_unit_test(test_http_proxy_streams_and_forwards),
	    cmocka_unit_test(test_http_ws_round_trip),
	    cmocka_unit_test(test_http_ws_through_proxy),
	    cmocka_unit_test(test_http_ws_bad_handshake),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

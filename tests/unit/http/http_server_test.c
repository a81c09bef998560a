/* http_server_test.c — the server over real loopback sockets: keep-alive,
 * pipelining, bodies (Content-Length, chunked, streamed), every limit with
 * its status and JSON body, worker-thread streaming with backpressure
 * against a reader that does not read, cancellation when the client goes,
 * and graceful shutdown. The server runs its loop in a thread; the test
 * talks to it with blocking sockets. */
#include "support/support.h"

#include "http/http_internal.h"

#include "base/timeutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the server under test ---- */

struct fixture {
	pthread_t th;
	uv_loop_t loop;
	uv_async_t stop;
	struct http_server *s;
	struct http_router *rt;
	struct http_server_config cfg;
	int64_t grace_ms;
	int port;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ready;
	atomic_int cancels;    /* on_cancel callbacks seen */
	atomic_llong progress; /* bytes the worker has queued */
	atomic_int worker_rc;  /* last write status of the worker */
	atomic_bool worker_done;
	atomic_llong uploaded; /* bytes a streamed upload handler got */
};

static struct fixture *fx; /* the one running */

static void ok_route(struct http_req *r, void *d)
{
	http_respond(r, 200, "text/plain", "ok", 2);
}

static void len_route(struct http_req *r, void *d)
{
	char b[64];
	int n = snprintf(b, sizeof b, "%zu", http_req_body(r).n);
	http_respond(r, 200, "text/plain", b, (size_t)n);
}

static void slow_done(uv_timer_t *t)
{
	http_respond(t->data, 200, "text/plain", "slow", 4);
	uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void slow_route(struct http_req *r, void *d)
{
	uv_timer_t *t = calloc(1, sizeof *t);
	uv_timer_init(http_req_loop(r), t);
	t->data = r;
	uv_timer_start(t, slow_done, 300, 0);
}

static void hang_cancel(struct http_req *r, void *d)
{
	atomic_fetch_add(&fx->cancels, 1);
	http_respond(r, 499, NULL, "", 0);
}

static void hang_route(struct http_req *r, void *d)
{
	http_req_on_cancel(r, hang_cancel, NULL);
}

struct job {
	struct http_req *r;
	long long total;
	bool nb; /* write_nb + wait_writable instead of blocking writes */
};

/* A worker thread streams total bytes of a pattern, 64 KiB a write. */
static void *worker_main(void *arg)
{
	struct job *j = arg;
	struct http_stream *s = http_stream_begin(j->r, 200, "application/octet-stream");
	char chunk[65536];
	long long off = 0;
	int rc = 0;
	while (off < j->total) {
		size_t n = sizeof chunk;
		if ((long long)n > j->total - off)
			n = (size_t)(j->total - off);
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)((off + (long long)i) % 251);
		rc = j->nb ? http_stream_write_nb(s, chunk, n) : http_stream_write(s, chunk, n);
		if (rc == 1)
			rc = http_stream_wait_writable(s, 5000);
		if (rc < 0)
			break;
		off += (long long)n;
		atomic_store(&fx->progress, off);
	}
	atomic_store(&fx->worker_rc, rc);
	http_stream_end(s);
	atomic_store(&fx->worker_done, true);
	free(j);
	return NULL;
}

static void worker_route(struct http_req *r, void *d)
{
	char v[32];
	struct job *j = calloc(1, sizeof *j);
	j->r = r;
	j->total = 1000;
	if (http_req_query_get(r, "total", v, sizeof v) > 0)
		j->total = atoll(v);
	j->nb = http_req_query_get(r, "nb", v, sizeof v) >= 0;
	pthread_t th;
	pthread_create(&th, NULL, worker_main, j);
	pthread_detach(th);
}

/* One-shot and framed answers made on another thread. */
static void *events_main(void *arg)
{
	struct http_req *r = arg;
	if (!strcmp(http_req_method(r), "POST")) {
		http_respond(r, 202, "text/plain", "from worker", 11);
		return NULL;
	}
	struct http_stream *s = http_stream_begin(r, 200, "text/event-stream");
	http_stream_ndjson(s, "{\"a\":1}");
	http_stream_sse(s, "tick", "x\ny");
	http_stream_sse(s, NULL, "z");
	http_stream_end(s);
	return NULL;
}

static void events_route(struct http_req *r, void *d)
{
	pthread_t th;
	pthread_create(&th, NULL, events_main, r);
	pthread_detach(th);
}

static void up_data(struct http_req *r, const char *p, size_t n, void *d)
{
	atomic_fetch_add(&fx->uploaded, (long long)n);
}

static void up_end(struct http_req *r, int status, void *d)
{
	char b[64];
	int n = snprintf(b, sizeof b, "%lld %d", (long long)atomic_load(&fx->uploaded), status);
	http_respond(r, 200, "text/plain", b, (size_t)n);
}

static void upload_route(struct http_req *r, void *d)
{
	http_req_body_read(r, up_data, up_end, NULL);
}

static void stop_done(struct http_server *s, void *d)
{
	uv_close((uv_handle_t *)&fx->stop, NULL);
}

static void stop_cb(uv_async_t *a)
{
	http_server_shutdown(fx->s, fx->grace_ms, stop_done, NULL);
}

static void *loop_main(void *arg)
{
	struct fixture *f = arg;
	uv_loop_init(&f->loop);
	f->rt = http_router_new();
	http_router_add(f->rt, "GET", "/", 0, ok_route, NULL);
	http_router_add(f->rt, "POST", "/len", 0, len_route, NULL);
	http_router_add(f->rt, "GET", "/slow", 0, slow_route, NULL);
	http_router_add(f->rt, "GET", "/hang", 0, hang_route, NULL);
	http_router_add(f->rt, "GET", "/worker", 0, worker_route, NULL);
	http_router_add(f->rt, NULL, "/events", 0, events_route, NULL);
	http_router_add(f->rt, "POST", "/upload", HTTP_ROUTE_STREAM_BODY, upload_route, NULL);
	http_router_attach(f->rt, &f->cfg);
	f->s = http_server_new(&f->loop, &f->cfg);
	char err[ERR_MSG_LEN];
	int rc = http_server_listen(f->s, "127.0.0.1", 0, err);
	uv_async_init(&f->loop, &f->stop, stop_cb);
	pthread_mutex_lock(&f->mu);
	f->port = rc == 0 ? http_server_port(f->s) : -1;
	f->ready = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	http_server_free(f->s);
	http_router_free(f->rt);
	uv_loop_close(&f->loop);
	return NULL;
}

static struct fixture *start(void (*tweak)(struct http_server_config *))
{
	struct fixture *f = calloc(1, sizeof *f);
	fx = f;
	http_server_config_init(&f->cfg);
	if (tweak)
		tweak(&f->cfg);
	f->grace_ms = 2000;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	pthread_create(&f->th, NULL, loop_main, f);
	pthread_mutex_lock(&f->mu);
	while (!f->ready)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	assert_true(f->port > 0);
	return f;
}

static void stop(struct fixture *f)
{
	uv_async_send(&f->stop);
	pthread_join(f->th, NULL);
	free(f);
	fx = NULL;
}

/* ---- a blocking client ---- */

static int dial(int port, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_str(int fd, const char *s)
{
	size_t n = strlen(s);
	assert_int_equal(write(fd, s, n), (ssize_t)n);
}

struct resp {
	int status;
	struct buf body;
	bool close; /* Connection: close */
	bool eof;   /* the connection ended instead */
};

static void resp_body(struct http__parser *p, const char *d, size_t n)
{
	struct resp *r = p->owner;
	buf_append(&r->body, d, n);
}

static int skip_body(struct http__parser *p)
{
	return 1;
}

/* Reads one response; bytes past it stay in *pend for the next call. */
static void read_resp_head(int fd, struct buf *pend, struct resp *out, bool head)
{
	struct http__parser p;
	http__parser_init(&p, HTTP_RESPONSE, 65536, 100);
	p.owner = out;
	p.on_body = resp_body;
	if (head)
		p.on_head = skip_body;
	memset(out, 0, sizeof *out);
	char b[65536];
	for (;;) {
		if (pend->len) {
			size_t used = http__parser_feed(&p, pend->data, pend->len);
			buf_consume(pend, used);
			if (p.msg_done || p.status)
				break;
		}
		ssize_t n = read(fd, b, sizeof b);
		if (n <= 0) {
			http__parser_feed(&p, NULL, 0);
			out->eof = !p.msg_done;
			break;
		}
		buf_append(pend, b, (size_t)n);
	}
	out->status = p.msg_done ? p.hp.status_code : 0;
	out->close = http__has_token(http__parser_header(&p, "Connection"), "close");
	http__parser_release(&p);
}

static void read_resp(int fd, struct buf *pend, struct resp *out)
{
	read_resp_head(fd, pend, out, false);
}

static struct resp get1(int fd, const char *req)
{
	struct buf pend = BUF_INIT;
	struct resp r;
	send_str(fd, req);
	read_resp(fd, &pend, &r);
	buf_release(&pend);
	return r;
}

static bool at_eof(int fd)
{
	char c;
	return read(fd, &c, 1) == 0;
}

/* ---- tests ---- */

static void test_http_server_keepalive_and_pipelining(void **state)
{
	struct fixture *f = start(NULL);
	int fd = dial(f->port, 0);
	struct resp r = get1(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_false(r.close);
	assert_string_equal(r.body.data, "ok");
	buf_release(&r.body);
	/* three at once, the middle one slow: answers keep their order */
	send_str(fd, "GET /slow HTTP/1.1\r\n\r\nPOST /len HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
	             "abcdeGET / HTTP/1.1\r\n\r\n");
	struct buf pend = BUF_INIT;
	const char *want[] = {"slow", "5", "ok"};
	for (int i = 0; i < 3; i++) {
		read_resp(fd, &pend, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body.data, want[i]);
		buf_release(&r.body);
	}
	/* a chunked request body is buffered and handed over whole */
	send_str(fd, "POST /len HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
	             "4\r\ndefg\r\n0\r\n\r\n");
	read_resp(fd, &pend, &r);
	assert_string_equal(r.body.data, "7");
	buf_release(&r.body);
	/* HTTP/1.0 without keep-alive closes */
	r = get1(fd, "GET / HTTP/1.0\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_true(r.close);
	assert_true(at_eof(fd));
	buf_release(&r.body);
	buf_release(&pend);
	close(fd);
	stop(f);
}

static void small_limits(struct http_server_config *c)
{
	c->max_header_bytes = 1024;
	c->max_body_bytes = 4096;
	c->header_timeout_ms = 300;
	c->max_conns = 3;
}

static void expect_error(int port, const char *req, int status)
{
	int fd = dial(port, 0);
	struct resp r = get1(fd, req);
	assert_int_equal(r.status, status);
	assert_true(r.close);
	assert_non_null(strstr(r.body.data, "{\"error\":\""));
	assert_true(at_eof(fd));
	buf_release(&r.body);
	close(fd);
}

static void test_http_server_limits(void **state)
{
	struct fixture *f = start(small_limits);
	char big[2048];
	snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 0);
	expect_error(f->port, big, 431);
	expect_error(f->port, "POST /len HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413);
	expect_error(f->port, "GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400);
	/* a body under the limit is fine, and so is 413 after Expect */
	int fd = dial(f->port, 0);
	struct resp r =
	    get1(fd, "POST /len HTTP/1.1\r\nContent-Length: 4000\r\nExpect: 100-continue\r\n\r\n");
	assert_int_equal(r.status, 100);
	buf_release(&r.body);
	close(fd);
	/* slow client: 408 after the head timeout */
	fd = dial(f->port, 0);
	int64_t t0 = time_mono_ns();
	r = get1(fd, "GET / HTTP/1.1\r\nHost: x\r\n");
	int64_t ms = (time_mono_ns() - t0) / 1000000;
	assert_int_equal(r.status, 408);
	assert_true(ms >= 250 && ms < 2000);
	buf_release(&r.body);
	close(fd);
	/* connection cap: the fourth gets 503 */
	int fds[3];
	for (int i = 0; i < 3; i++)
		fds[i] = dial(f->port, 0);
	usleep(50000);
	expect_error(f->port, "GET / HTTP/1.1\r\n\r\n", 503);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	stop(f);
}

static void test_http_server_streamed_upload(void **state)
{
	struct fixture *f = start(small_limits); /* the 4 KiB limit is for buffered bodies */
	int fd = dial(f->port, 0);
	send_str(fd, "POST /upload HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n");
	char b[10000];
	memset(b, 'x', sizeof b);
	for (int i = 0; i < 100; i++)
		assert_int_equal(write(fd, b, sizeof b), (ssize_t)sizeof b);
	struct buf pend = BUF_INIT;
	struct resp r;
	read_resp(fd, &pend, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "1000000 0");
	assert_false(r.close);
	buf_release(&r.body);
	buf_release(&pend);
	close(fd);
	stop(f);
}

static void small_water(struct http_server_config *c)
{
	c->high_water = 64 * 1024;
}

static void test_http_server_worker_backpressure(void **state)
{
	struct fixture *f = start(small_water);
	const long long total = 64LL * 1024 * 1024;
	int fd = dial(f->port, 16384);
	char req[128];
	snprintf(req, sizeof req, "GET /worker?total=%lld HTTP/1.1\r\n\r\n", total);
	send_str(fd, req);
	usleep(300000);
	long long p1 = atomic_load(&f->progress);
	usleep(200000);
	long long p2 = atomic_load(&f->progress);
	/* the producer is paused, bounded by high water + socket buffers */
	assert_true(p1 == p2);
	assert_true(p2 < 16LL * 1024 * 1024);
	assert_false(atomic_load(&f->worker_done));
	struct buf pend = BUF_INIT;
	struct resp r;
	read_resp(fd, &pend, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, (size_t)total);
	for (size_t i = 0; i < r.body.len; i += 4093)
		assert_int_equal((unsigned char)r.body.data[i], i % 251);
	for (int i = 0; i < 100 && !atomic_load(&f->worker_done); i++)
		usleep(10000);
	assert_true(atomic_load(&f->worker_done));
	assert_int_equal(atomic_load(&f->worker_rc), 0);
	buf_release(&r.body);
	buf_release(&pend);
	close(fd);
	stop(f);
}

static void test_http_server_worker_answers(void **state)
{
	struct fixture *f = start(small_water);
	int fd = dial(f->port, 0);
	struct resp r = get1(fd, "POST /events HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(r.status, 202);
	assert_string_equal(r.body.data, "from worker");
	buf_release(&r.body);
	r = get1(fd, "GET /events HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "{\"a\":1}\nevent: tick\ndata: x\ndata: y\n\ndata: z\n\n");
	buf_release(&r.body);
	/* a non-blocking producer that waits for room itself */
	r = get1(fd, "GET /worker?total=8000000&nb=1 HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 8000000);
	for (int i = 0; i < 100 && !atomic_load(&f->worker_done); i++)
		usleep(10000);
	assert_int_equal(atomic_load(&f->worker_rc), 0);
	buf_release(&r.body);
	close(fd);
	stop(f);
}

static void test_http_server_cancel_on_disconnect(void **state)
{
	struct fixture *f = start(small_water);
	int fd = dial(f->port, 16384);
	send_str(fd, "GET /worker?total=100000000000 HTTP/1.1\r\n\r\n");
	char b[4096];
	assert_true(read(fd, b, sizeof b) > 0);
	close(fd);
	for (int i = 0; i < 200 && !atomic_load(&f->worker_done); i++)
		usleep(10000);
	assert_true(atomic_load(&f->worker_done));
	assert_int_equal(atomic_load(&f->worker_rc), ERR_CANCELLED);
	/* a request handled on the loop thread hears of it too */
	fd = dial(f->port, 0);
	send_str(fd, "GET /hang HTTP/1.1\r\n\r\n");
	usleep(50000);
	close(fd);
	for (int i = 0; i < 200 && atomic_load(&f->cancels) == 0; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&f->cancels), 1);
	stop(f);
}

static void test_http_server_graceful_shutdown(void **state)
{
	struct fixture *f = start(NULL);
	int idle = dial(f->port, 0);
	struct resp r = get1(idle, "GET / HTTP/1.1\r\n\r\n");
	buf_release(&r.body);
	int busy = dial(f->port, 0);
	send_str(busy, "GET /slow HTTP/1.1\r\n\r\n");
	usleep(50000);
	uv_async_send(&f->stop);
	usleep(50000);
	assert_true(at_eof(idle));              /* idle keep-alive connection closed at once */
	assert_int_equal(dial(f->port, 0), -1); /* no longer accepting */
	struct buf pend = BUF_INIT;
	read_resp(busy, &pend, &r); /* the in-flight request finishes */
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "slow");
	assert_true(r.close);
	assert_true(at_eof(busy));
	pthread_join(f->th, NULL); /* done ran: the loop ended */
	buf_release(&r.body);
	buf_release(&pend);
	close(idle);
	close(busy);
	free(f);
}

static void test_http_server_shutdown_deadline_cancels(void **state)
{
	struct fixture *f = start(NULL);
	f->grace_ms = 200;
	int fd = dial(f->port, 0);
	send_str(fd, "GET /hang HTTP/1.1\r\n\r\n");
	usleep(50000);
	int64_t t0 = time_mono_ns();
	uv_async_send(&f->stop);
	pthread_join(f->th, NULL);
	int64_t ms = (time_mono_ns() - t0) / 1000000;
	assert_true(ms >= 150 && ms < 2000);
	assert_int_equal(atomic_load(&f->cancels), 1);
	assert_true(at_eof(fd));
	close(fd);
	free(f);
}

static void test_http_router_not_found_and_method(void **state)
{
	struct fixture *f = start(NULL);
	int fd = dial(f->port, 0);
	struct resp r = get1(fd, "GET /nope HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body.data, "{\"error\":\"not found\"}");
	buf_release(&r.body);
	r = get1(fd, "DELETE /len HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 405);
	assert_false(r.close);
	buf_release(&r.body);
	struct buf pend = BUF_INIT;
	send_str(fd, "HEAD / HTTP/1.1\r\n\r\n"); /* HEAD runs GET, sends no body */
	read_resp_head(fd, &pend, &r, true);
	assert_int_equal(r.status, 200);
	assert_int_equal(pend.len, 0);
	buf_release(&r.body);
	buf_release(&pend);
	r = get1(fd, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "ok");
	buf_release(&r.body);
	close(fd);
	/* CONNECT (or an upgrade) answered normally: what follows is not HTTP */
	fd = dial(f->port, 0);
	r = get1(fd, "CONNECT example.com:443 HTTP/1.1\r\n\r\nNOT HTTP");
	assert_int_equal(r.status, 404);
	assert_true(r.close);
	assert_true(at_eof(fd));
	buf_release(&r.body);
	close(fd);
	stop(f);
}

/* ---- a unix-socket listener (the daemon's admin API) ---- */

static char unix_path[100]; /* fits sun_path */
static atomic_int unix_status;
static char unix_body[64];

static void addr_route(struct http_req *r, void *d)
{
	const char *a = http_req_remote_addr(r);
	http_respond(r, 200, "text/plain", a, strlen(a));
}

static void *unix_client(void *arg)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", unix_path);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
		struct buf pend = BUF_INIT;
		struct resp r;
		send_str(fd, "GET / HTTP/1.1\r\n\r\n");
		read_resp(fd, &pend, &r);
		snprintf(unix_body, sizeof unix_body, "%s", r.body.data ? r.body.data : "");
		buf_release(&r.body);
		buf_release(&pend);
		atomic_store(&unix_status, r.status);
	} else {
		atomic_store(&unix_status, -1);
	}
	close(fd);
	return NULL;
}

static void test_http_server_unix_socket(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct http_server_config cfg;
	http_server_config_init(&cfg);
	cfg.handler = addr_route;
	struct http_server *s = http_server_new(&loop, &cfg);
	snprintf(unix_path, sizeof unix_path, "%s/admin.sock", test_tmp_dir());
	char err[ERR_MSG_LEN];
	assert_int_equal(http_server_listen_unix(s, unix_path, 0600, err), 0);
	struct stat st;
	assert_int_equal(stat(unix_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	pthread_t th;
	pthread_create(&th, NULL, unix_client, NULL);
	int64_t t0 = time_mono_ns();
	while (atomic_load(&unix_status) == 0 && time_mono_ns() - t0 < 5000000000LL)
		uv_run(&loop, UV_RUN_NOWAIT);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&unix_status), 200);
	assert_string_equal(unix_body, "unix");
	http_server_shutdown(s, 100, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	http_server_free(s);
	assert_int_equal(uv_loop_close(&loop), 0);
	unlink(unix_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_server_keepalive_and_pipelining),
	    cmocka_unit_test(test_http_server_limits),
	    cmocka_unit_test(test_http_server_streamed_upload),
	    cmocka_unit_test(test_http_server_worker_backpressure),
	    cmocka_unit_test(test_http_server_worker_answers),
	    cmocka_unit_test(test_http_server_cancel_on_disconnect),
	    cmocka_unit_test(test_http_server_graceful_shutdown),
	    cmocka_unit_test(test_http_server_shutdown_deadline_cancels),
	    cmocka_unit_test(test_http_router_not_found_and_method),
	    cmocka_unit_test(test_http_server_unix_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* http_server.c — the listening socket, the connection cap, the worker
 * wake-up handle and graceful shutdown (stop accepting, let in-flight
 * requests finish, cancel what is left at the deadline). Connections
 * themselves are in http_conn.c. */
#include "http/http_internal.h"

#include "base/log.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

void http_server_config_init(struct http_server_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_header_bytes = 16 * 1024;
	cfg->max_headers = 100;
	cfg->max_body_bytes = 1024 * 1024;
	cfg->header_timeout_ms = 10000;
	cfg->idle_timeout_ms = 60000;
	cfg->max_conns = 1024;
	cfg->high_water = 256 * 1024;
}

struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_config *cfg)
{
	struct http_server *s = xcalloc(1, sizeof *s);
	struct http_server_config def;
	http_server_config_init(&def);
	s->loop = loop;
	s->cfg = *cfg;
	if (!s->cfg.max_header_bytes)
		s->cfg.max_header_bytes = def.max_header_bytes;
	if (s->cfg.max_headers <= 0)
		s->cfg.max_headers = def.max_headers;
	if (!s->cfg.max_body_bytes)
		s->cfg.max_body_bytes = def.max_body_bytes;
	if (s->cfg.header_timeout_ms <= 0)
		s->cfg.header_timeout_ms = def.header_timeout_ms;
	if (s->cfg.idle_timeout_ms <= 0)
		s->cfg.idle_timeout_ms = def.idle_timeout_ms;
	if (s->cfg.max_conns <= 0)
		s->cfg.max_conns = def.max_conns;
	if (!s->cfg.high_water)
		s->cfg.high_water = def.high_water;
	pthread_mutex_init(&s->mu, NULL);
	s->loop_thread = pthread_self();
	return s;
}

static void really_free(struct http_server *s)
{
	pthread_mutex_destroy(&s->mu);
	buf_release(&s->scratch);
	free(s);
}

static void handle_closed(uv_handle_t *h)
{
	struct http_server *s = h->data;
	if (--s->handles_open > 0)
		return;
	if (s->free_pending)
		really_free(s);
	else if (s->done)
		s->done(s, s->done_data);
}

static void on_conn(uv_stream_t *l, int status)
{
	struct http_server *s = l->data;
	if (status < 0) {
		log_warn("http: accept: %s", uv_strerror(status));
		return;
	}
	http__conn_accept(s);
}

int http_server_listen(struct http_server *s, const char *host, int port, char err[ERR_MSG_LEN])
{
	struct sockaddr_storage ss;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
		return err_set(err, ERR_INVALID, "listen: '%s' is not an IP address", host);
	s->loop_thread = pthread_self();
	uv_tcp_init(s->loop, &s->listener);
	s->listener.data = s;
	int rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->listener, 511, on_conn);
	if (rc < 0) {
		s->handles_open = 1;
		uv_close((uv_handle_t *)&s->listener, handle_closed);
		return err_set(err, rc, "listen on %s:%d: %s", host, port, uv_strerror(rc));
	}
	s->handles_open = 3;
	uv_async_init(s->loop, &s->async, http__async_cb);
	s->async.data = s;
	uv_unref((uv_handle_t *)&s->async);
	uv_timer_init(s->loop, &s->shutdown_timer);
	s->shutdown_timer.data = s;
	s->listening = true;
	return 0;
}

/* A unix-domain socket (the daemon's admin API): bound here, then handed to
 * libuv's TCP stream code, which accepts, reads and writes any stream
 * socket, so its connections are the same struct as TCP ones. */
static int bind_unix(const char *path, int mode, char err[ERR_MSG_LEN])
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path)
		return err_set(err, ERR_TOO_LARGE, "socket path too long: %s", path);
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(err, -errno, "socket: %s", strerror(errno));
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);                     /* a stale socket of an earlier run */
	mode_t old = umask(0777 & ~(mode_t)mode); /* never briefly looser than mode */
	int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
	int e = errno;
	umask(old);
	if (rc < 0 || chmod(path, (mode_t)mode) < 0) {
		e = rc < 0 ? e : errno;
		close(fd);
		return err_set(err, -e, "bind %s: %s", path, strerror(e));
	}
	return fd;
}

int http_server_listen_unix(struct http_server *s, const char *path, int mode,
                            char err[ERR_MSG_LEN])
{
	int fd = bind_unix(path, mode, err);
	if (fd < 0)
		return fd;
	s->loop_thread = pthread_self();
	uv_tcp_init(s->loop, &s->listener);
	s->listener.data = s;
	int rc = uv_tcp_open(&s->listener, fd);
	if (rc < 0)
		close(fd);
	else
		rc = uv_listen((uv_stream_t *)&s->listener, 511, on_conn);
	if (rc < 0) {
		s->handles_open = 1;
		uv_close((uv_handle_t *)&s->listener, handle_closed);
		return err_set(err, rc, "listen on %s: %s", path, uv_strerror(rc));
	}
	s->handles_open = 3;
	uv_async_init(s->loop, &s->async, http__async_cb);
	s->async.data = s;
	uv_unref((uv_handle_t *)&s->async);
	uv_timer_init(s->loop, &s->shutdown_timer);
	s->shutdown_timer.data = s;
	s->listening = true;
	return 0;
}

int http_server_port(const struct http_server *s)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	if (!s->listening || uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int http_server_conn_count(const struct http_server *s)
{
	return s->nconns;
}

void http__server_check_done(struct http_server *s)
{
	if (s->draining && s->nconns == 0 && !s->done_called) {
		s->done_called = true;
		uv_close((uv_handle_t *)&s->async, handle_closed);
		uv_close((uv_handle_t *)&s->shutdown_timer, handle_closed);
	}
}

/* Deadline: cancel and close every connection left. */
static void shutdown_timeout(uv_timer_t *t)
{
	struct http_server *s = t->data;
	struct http__conn *next;
	for (struct http__conn *c = s->conns; c; c = next) {
		next = c->next;
		if (c->state == CONN_RAW && c->raw.user_read && !c->raw.closing)
			c->raw.user_read(&c->raw, NULL, UV_ECANCELED, c->raw.user_data);
		if (c->state == CONN_RAW && !c->raw.closing)
			http__raw_close_now(&c->raw);
		else
			http__conn_close(c, true);
	}
}

void http_server_shutdown(struct http_server *s, int64_t deadline_ms, http_server_done_fn done,
                          void *data)
{
	if (!s->listening || s->draining)
		return;
	__atomic_store_n(&s->draining, true, __ATOMIC_RELAXED);
	s->done = done;
	s->done_data = data;
	uv_close((uv_handle_t *)&s->listener, handle_closed);
	struct http__conn *next;
	for (struct http__conn *c = s->conns; c; c = next) {
		next = c->next;
		bool idle = c->state == CONN_IDLE && !c->req.active && c->inbuf.len == 0;
		if (idle || c->state == CONN_LINGER)
			http__conn_close(c, false);
	}
	uv_timer_start(&s->shutdown_timer, shutdown_timeout,
	               (uint64_t)(deadline_ms > 0 ? deadline_ms : 0), 0);
	http__server_check_done(s);
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->handles_open > 0) {
		s->free_pending = true; /* a close callback frees it */
		return;
	}
	really_free(s);
}

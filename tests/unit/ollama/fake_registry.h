/* fake_registry.h — a tiny Docker-registry-v2 imitation on a loopback port,
 * for tests that need behaviours a real registry will not show on demand:
 * blobs as plain 200 bodies that ignore Range, as 206 ranges, or behind a
 * 307 redirect to another host name; bearer-token challenges; corrupted
 * bytes; connections dropped mid-body; slow bodies. Push endpoints (HEAD,
 * POST uploads/, PUT ?digest=, PUT manifests) store what they receive.
 * One thread per connection, "Connection: close" on every answer. Included by
 * one test file only (everything is static). */
#ifndef GPURUN_TEST_FAKE_REGISTRY_H
#define GPURUN_TEST_FAKE_REGISTRY_H

#include "base/buf.h"
#include "base/mem.h"
#include "base/sha256.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum fake_mode { FAKE_PLAIN_200, FAKE_RANGES, FAKE_REDIRECT };

struct fake_blob {
	char digest[72];
	char *data;
	size_t len;
	int gets; /* GETs that started sending this blob's body */
};

struct fake_registry {
	int fd, port;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t lock;
	int conns; /* connection threads alive */
	/* content */
	char tag[64];
	char *manifest;
	struct fake_blob blobs[16];
	int n_blobs;
	int uploads;
	/* behaviours */
	enum fake_mode mode;
	bool require_token, corrupt;
	long drop_after; /* bytes of a blob body before the connection is cut, once; -1 */
	int slow_ms;     /* pause per 4 KiB of blob body */
	/* observations */
	int token_requests, manifest_gets, auth_on_redirect;
	char ranges[64][64];
	int n_ranges;
};

struct fake_req {
	char method[8], path[512], range[64], auth[256];
	long content_length;
};

static void fake_send(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void fake_reply(int fd, int status, const char *extra, const char *body)
{
	char head[1024];
	size_t n = body ? strlen(body) : 0;
	int k = snprintf(head, sizeof head,
	                 "HTTP/1.1 %d X\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n",
	                 status, n, extra ? extra : "");
	fake_send(fd, head, (size_t)k);
	if (n)
		fake_send(fd, body, n);
}

static struct fake_blob *fake_find(struct fake_registry *f, const char *digest)
{
	for (int i = 0; i < f->n_blobs; i++)
		if (!strcmp(f->blobs[i].digest, digest))
			return &f->blobs[i];
	return NULL;
}

/* Adds (or replaces) a blob; returns its digest (static storage in f). */
static const char *fake_add_blob(struct fake_registry *f, const void *data, size_t len)
{
	char hex[65], digest[72];
	sha256_hex(data, len, hex);
	snprintf(digest, sizeof digest, "sha256:%s", hex);
	pthread_mutex_lock(&f->lock);
	struct fake_blob *b = fake_find(f, digest);
	if (!b) {
		b = &f->blobs[f->n_blobs++];
		memcpy(b->digest, digest, sizeof digest);
		b->data = xmalloc(len + 1);
		memcpy(b->data, data, len);
		b->len = len;
	}
	pthread_mutex_unlock(&f->lock);
	return b->digest;
}

static int fake_read_request(int fd, struct fake_req *r, struct buf *in)
{
	char chunk[4096];
	char *end;
	while (!(in->data && (end = strstr(in->data, "\r\n\r\n")))) {
		ssize_t k = recv(fd, chunk, sizeof chunk, 0);
		if (k <= 0 || in->len > 65536 || chunk[0] == 0x16) /* 0x16: a TLS handshake */
			return -1;
		buf_append(in, chunk, (size_t)k);
	}
	memset(r, 0, sizeof *r);
	sscanf(in->data, "%7s %511s", r->method, r->path);
	for (char *l = strstr(in->data, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
		char *v;
		if (!strncasecmp(l + 2, "Range:", 6))
			sscanf(l + 8, " %63[^\r]", r->range);
		else if (!strncasecmp(l + 2, "Authorization:", 14))
			sscanf(l + 16, " %255[^\r]", r->auth);
		else if (!strncasecmp(l + 2, "Content-Length:", 15) && (v = l + 17))
			r->content_length = strtol(v, NULL, 10);
	}
	buf_consume(in, (size_t)(end + 4 - in->data));
	while ((long)in->len < r->content_length) {
		ssize_t k = recv(fd, chunk, sizeof chunk, 0);
		if (k <= 0)
			return -1;
		buf_append(in, chunk, (size_t)k);
	}
	return 0;
}

static void fake_serve_blob(struct fake_registry *f, int fd, struct fake_blob *b,
                            const struct fake_req *r)
{
	pthread_mutex_lock(&f->lock);
	b->gets++;
	if (r->range[0] && f->n_ranges < 64)
		snprintf(f->ranges[f->n_ranges++], 64, "%s", r->range);
	long drop = f->drop_after;
	f->drop_after = -1;
	pthread_mutex_unlock(&f->lock);
	char *data = xmalloc(b->len + 1);
	memcpy(data, b->data, b->len);
	if (f->corrupt && b->len)
		data[b->len / 2] ^= 0x5a;
	long long a = 0, z = (long long)b->len - 1;
	char head[512];
	int k;
	if (r->range[0] && f->mode != FAKE_PLAIN_200 &&
	    sscanf(r->range, "bytes=%lld-%lld", &a, &z) >= 1 && z < (long long)b->len) {
		k = snprintf(head, sizeof head,
		             "HTTP/1.1 206 Partial\r\nConnection: close\r\nContent-Length: %lld\r\n"
		             "Content-Range: bytes %lld-%lld/%zu\r\n\r\n",
		             z - a + 1, a, z, b->len);
	} else {
		a = 0, z = (long long)b->len - 1;
		k = snprintf(head, sizeof head,
		             "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
		             b->len);
	}
	fake_send(fd, head, (size_t)k);
	long long sent = 0, n = z - a + 1;
	while (sent < n) {
		long long step = n - sent < 4096 ? n - sent : 4096;
		if (drop >= 0 && sent + step > drop)
			step = drop - sent;
		if (step <= 0)
			break;
		fake_send(fd, data + a + sent, (size_t)step);
		sent += step;
		if (f->slow_ms)
			usleep((useconds_t)f->slow_ms * 1000);
	}
	free(data);
}

static bool fake_authorized(struct fake_registry *f, int fd, const struct fake_req *r)
{
	if (!f->require_token || !strcmp(r->auth, "Bearer tok-123"))
		return true;
	char hdr[256];
	snprintf(hdr, sizeof hdr,
	         "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d/token\",service=\"fake\","
	         "scope=\"repository:library/m:pull\"\r\n",
	         f->port);
	fake_reply(fd, 401, hdr, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");
	return false;
}

static void fake_push_routes(struct fake_registry *f, int fd, const struct fake_req *r,
                             struct buf *body)
{
	char hdr[256];
	const char *q = strstr(r->path, "digest=");
	if (!strcmp(r->method, "POST") && strstr(r->path, "/blobs/uploads/")) {
		pthread_mutex_lock(&f->lock);
		int id = ++f->uploads;
		pthread_mutex_unlock(&f->lock);
		snprintf(hdr, sizeof hdr, "Location: /upload/%d?_state=abc\r\n", id);
		fake_reply(fd, 202, hdr, NULL);
	} else if (!strcmp(r->method, "PUT") && !strncmp(r->path, "/upload/", 8) && q) {
		const char *d = fake_add_blob(f, body->data ? body->data : "", body->len);
		fake_reply(fd, strcmp(d, q + 7) ? 400 : 201, NULL, NULL);
	} else if (!strcmp(r->method, "PUT") && strstr(r->path, "/manifests/")) {
		pthread_mutex_lock(&f->lock);
		free(f->manifest);
		f->manifest = xstrndup(body->data ? body->data : "", body->len);
		snprintf(f->tag, sizeof f->tag, "%s", strrchr(r->path, '/') + 1);
		pthread_mutex_unlock(&f->lock);
		fake_reply(fd, 201, NULL, NULL);
	} else {
		fake_reply(fd, 404, NULL, "{\"errors\":[{\"code\":\"NOT_FOUND\"}]}");
	}
}

static void fake_handle(struct fake_registry *f, int fd)
{
	struct fake_req r;
	struct buf in = BUF_INIT;
	if (fake_read_request(fd, &r, &in) < 0)
		goto out;
	char *blobs = strstr(r.path, "/blobs/sha256:");
	if (!strncmp(r.path, "/token", 6)) {
		pthread_mutex_lock(&f->lock);
		f->token_requests++;
		pthread_mutex_unlock(&f->lock);
		fake_reply(fd, 200, "Content-Type: application/json\r\n",
		           "{\"token\":\"tok-123\"}");
	} else if (!strncmp(r.path, "/data/", 6)) {
		struct fake_blob *b = fake_find(f, r.path + 6);
		if (r.auth[0])
			f->auth_on_redirect++;
		if (b)
			fake_serve_blob(f, fd, b, &r);
		else
			fake_reply(fd, 404, NULL, NULL);
	} else if (!fake_authorized(f, fd, &r)) {
		/* answered with 401 */
	} else if (strstr(r.path, "/manifests/") && !strcmp(r.method, "GET")) {
		f->manifest_gets++;
		const char *tag = strrchr(r.path, '/') + 1;
		if (f->manifest && !strcmp(tag, f->tag))
			fake_reply(fd, 200,
			           "Content-Type: "
			           "application/vnd.docker.distribution.manifest.v2+json\r\n",
			           f->manifest);
		else
			fake_reply(
			    fd, 404, NULL,
			    "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest "
			    "unknown\"}]}");
	} else if (blobs && (!strcmp(r.method, "GET") || !strcmp(r.method, "HEAD"))) {
		struct fake_blob *b = fake_find(f, blobs + 7);
		char hdr[256];
		if (!b) {
			fake_reply(fd, 404, NULL,
			           strcmp(r.method, "HEAD") ? "{\"errors\":[]}" : NULL);
		} else if (!strcmp(r.method, "HEAD")) {
			snprintf(hdr, sizeof hdr, "Docker-Content-Digest: %s\r\n", b->digest);
			fake_reply(fd, 200, hdr, NULL);
		} else if (f->mode == FAKE_REDIRECT) {
			snprintf(hdr, sizeof hdr, "Location: http://localhost:%d/data/%s\r\n",
			         f->port, b->digest);
			fake_reply(fd, 307, hdr, NULL);
		} else {
			fake_serve_blob(f, fd, b, &r);
		}
	} else {
		fake_push_routes(f, fd, &r, &in);
	}
out:
	buf_release(&in);
	shutdown(fd, SHUT_WR);
	close(fd);
}

struct fake_conn {
	struct fake_registry *f;
	int fd;
};

static void *fake_conn_main(void *arg)
{
	struct fake_conn *c = arg;
	struct fake_registry *f = c->f;
	fake_handle(f, c->fd);
	free(c);
	pthread_mutex_lock(&f->lock);
	f->conns--;
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static void *fake_main(void *arg)
{
	struct fake_registry *f = arg;
	while (!atomic_load(&f->stop)) {
		struct pollfd p = {f->fd, POLLIN, 0};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(f->fd, NULL, NULL);
		if (c < 0)
			continue;
		struct fake_conn *fc = xmalloc(sizeof *fc);
		*fc = (struct fake_conn){f, c};
		pthread_mutex_lock(&f->lock);
		f->conns++;
		pthread_mutex_unlock(&f->lock);
		pthread_t t;
		pthread_create(&t, NULL, fake_conn_main, fc);
		pthread_detach(t);
	}
	return NULL;
}

static struct fake_registry *fake_start(void)
{
	struct fake_registry *f = xcalloc(1, sizeof *f);
	pthread_mutex_init(&f->lock, NULL);
	f->drop_after = -1;
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (bind(f->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(f->fd, 64) < 0 ||
	    getsockname(f->fd, (struct sockaddr *)&a, &al) < 0)
		abort();
	f->port = ntohs(a.sin_port);
	pthread_create(&f->thread, NULL, fake_main, f);
	return f;
}

static void fake_stop(struct fake_registry *f)
{
	if (!f)
		return;
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	close(f->fd);
	for (;;) { /* let connection threads finish */
		pthread_mutex_lock(&f->lock);
		int n = f->conns;
		pthread_mutex_unlock(&f->lock);
		if (n == 0)
			break;
		usleep(1000);
	}
	for (int i = 0; i < f->n_blobs; i++)
		free(f->blobs[i].data);
	free(f->manifest);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

#endif

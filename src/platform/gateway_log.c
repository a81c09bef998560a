/* gateway_log.c — the gateway's access log, $GPURUN_HOME/logs/gateway.log:
 * one line per request, written at the end of the loop iteration that
 * finished it (one write(2) for many lines; no fsync: a log, not a ledger).
 *   TIME request_id remote "METHOD TARGET" status bytes_out duration_ms
 *   service revision instance held_ms tokens */
#include "platform/daemon_internal.h"

#include "base/log.h"
#include "base/timeutil.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define ACCESS_FLUSH_BYTES (64 * 1024)

void gw_access_flush(struct daemon *d)
{
	size_t off = 0;
	while (d->access_fd >= 0 && off < d->access.len) {
		ssize_t w = write(d->access_fd, d->access.data + off, d->access.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warn("gateway: access log write: %s", strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	buf_reset(&d->access);
}

/* The line is written straight into the reserved tail of the buffer (no
 * printf, no per-piece bounds checks: ACCESS_LINE_MAX bounds every field). */
#define ACCESS_LINE_MAX 2048

/* Keeps the log one line per request: no spaces, quotes or controls. */
static char *put_token(char *o, const char *s, size_t cap)
{
	for (size_t i = 0; s[i] && i < cap; i++)
		*o++ = (s[i] > ' ' && s[i] != '"' && s[i] < 127) ? s[i] : '%';
	return o;
}

/* Decimal of v (no printf on the per-request path). */
static char *put_i64(char *o, int64_t v)
{
	char t[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	if (v < 0)
		*o++ = '-';
	do
		t[n++] = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	while (n > 0)
		*o++ = t[--n];
	return o;
}

static char *put_sp(char *o, const char *s, size_t cap)
{
	*o++ = ' ';
	return put_token(o, s, cap);
}

/* A name we made or validated (service, revision, instance, address). */
static char *put_name(char *o, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	*o++ = ' ';
	memcpy(o, s, n);
	return o + n;
}

/* RFC 3339 time with nanoseconds; the date part is made once a second. */
static char *put_time(char *o, int64_t wall_ns)
{
	static __thread int64_t sec_cached = -1;
	static __thread char head[32]; /* "2026-11-28T16:40:21." */
	static __thread size_t head_n;
	int64_t sec = wall_ns / 1000000000;
	if (sec != sec_cached) {
		char full[48];
		time_format_rfc3339(sec * 1000000000, full, sizeof full);
		char *dot = strchr(full, '.');
		head_n = dot ? (size_t)(dot - full) + 1 : 0;
		memcpy(head, full, head_n);
		sec_cached = sec;
	}
	memcpy(o, head, head_n);
	o += head_n;
	int64_t v = wall_ns % 1000000000;
	for (int i = 8; i >= 0; i--, v /= 10)
		o[i] = (char)('0' + v % 10);
	o[9] = 'Z';
	return o + 10;
}

void gw_access_log(struct gw_exchange *x, int64_t end_mono)
{
	struct daemon *d = x->d;
	struct buf *b = &d->access;
	int64_t held = x->dispatch_wall ? (x->dispatch_wall - x->t0_wall) / 1000000 : 0;
	int64_t us = (end_mono - x->t0_mono) / 1000;
	buf_reserve(b, ACCESS_LINE_MAX);
	char *o = b->data + b->len;
	o = put_time(o, x->t0_wall);
	o = put_sp(o, x->request_id, sizeof x->request_id);
	o = put_name(o, x->remote[0] ? x->remote : "-", sizeof x->remote);
	memcpy(o, " \"", 2);
	o = put_token(o + 2, x->method, sizeof x->method);
	*o++ = ' ';
	o = put_token(o, x->target, sizeof x->target);
	memcpy(o, "\" ", 2);
	o = put_i64(o + 2, x->status);
	*o++ = ' ';
	o = put_i64(o, x->bytes_out);
	*o++ = ' ';
	o = put_i64(o, us / 1000);
	*o++ = '.';
	*o++ = (char)('0' + us / 100 % 10);
	*o++ = (char)('0' + us / 10 % 10);
	*o++ = (char)('0' + us % 10);
	o = put_name(o, x->service, sizeof x->service);
	o = put_name(o, x->rev ? x->rev->name : "-", 256);
	o = put_name(o, x->inst_id[0] ? x->inst_id : "-", sizeof x->inst_id);
	*o++ = ' ';
	o = put_i64(o, x->was_held ? held : 0);
	*o++ = ' ';
	o = put_i64(o, x->tokens);
	*o++ = '\n';
	*o = '\0';
	b->len = (size_t)(o - b->data);
	if (b->len >= ACCESS_FLUSH_BYTES)
		gw_access_flush(d);
}

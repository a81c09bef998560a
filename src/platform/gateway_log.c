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

/* Keeps the log one line per request: no spaces, quotes or controls. */
static void put_token(struct buf *b, const char *s)
{
	for (; *s; s++)
		buf_putc(b, (*s > ' ' && *s != '"' && *s < 127) ? *s : '%');
}

/* Decimal of v >= 0 (no printf on the per-request path). */
static void put_i64(struct buf *b, int64_t v)
{
	char t[24];
	int n = 0;
	if (v < 0) {
		buf_putc(b, '-');
		v = -v;
	}
	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0 && n < 23);
	while (n > 0)
		buf_putc(b, t[--n]);
}

static void put_sp(struct buf *b, const char *s)
{
	buf_putc(b, ' ');
	buf_puts(b, s);
}

/* RFC 3339 time with nanoseconds; the date part is made once a second. */
static void put_time(struct daemon *d, struct buf *b, int64_t wall_ns)
{
	static __thread int64_t sec_cached = -1;
	static __thread char head[32]; /* "2026-11-28T16:40:21." */
	int64_t sec = wall_ns / 1000000000;
	if (sec != sec_cached) {
		char full[48];
		time_format_rfc3339(sec * 1000000000, full, sizeof full);
		char *dot = strchr(full, '.');
		size_t n = dot ? (size_t)(dot - full) + 1 : 0;
		memcpy(head, full, n);
		head[n] = '\0';
		sec_cached = sec;
	}
	buf_puts(b, head);
	char ns[10];
	int64_t v = wall_ns % 1000000000;
	for (int i = 8; i >= 0; i--, v /= 10)
		ns[i] = (char)('0' + v % 10);
	ns[9] = 'Z';
	buf_append(b, ns, 10);
}

void gw_access_log(struct gw_exchange *x, int64_t end_mono)
{
	struct daemon *d = x->d;
	struct buf *b = &d->access;
	int64_t held = x->dispatch_wall ? (x->dispatch_wall - x->t0_wall) / 1000000 : 0;
	int64_t us = (end_mono - x->t0_mono) / 1000;
	put_time(d, b, x->t0_wall);
	put_sp(b, x->request_id);
	put_sp(b, x->remote[0] ? x->remote : "-");
	buf_puts(b, " \"");
	buf_puts(b, x->method);
	buf_putc(b, ' ');
	put_token(b, x->target);
	buf_puts(b, "\" ");
	put_i64(b, x->status);
	buf_putc(b, ' ');
	put_i64(b, x->bytes_out);
	buf_putc(b, ' ');
	put_i64(b, us / 1000);
	buf_putc(b, '.');
	buf_putc(b, (char)('0' + us / 100 % 10));
	buf_putc(b, (char)('0' + us / 10 % 10));
	buf_putc(b, (char)('0' + us % 10));
	put_sp(b, x->service);
	put_sp(b, x->rev ? x->rev->name : "-");
	put_sp(b, x->inst_id[0] ? x->inst_id : "-");
	buf_putc(b, ' ');
	put_i64(b, x->was_held ? held : 0);
	buf_putc(b, ' ');
	put_i64(b, x->tokens);
	buf_putc(b, '\n');
	if (b->len >= ACCESS_FLUSH_BYTES)
		gw_access_flush(d);
}

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

void gw_access_log(struct gw_exchange *x, int64_t end_mono)
{
	struct daemon *d = x->d;
	struct buf *b = &d->access;
	char ts[48];
	time_format_rfc3339(x->t0_wall, ts, sizeof ts);
	int64_t held = x->dispatch_wall ? (x->dispatch_wall - x->t0_wall) / 1000000 : 0;
	buf_printf(b, "%s %s %s \"%s ", ts, x->request_id, x->remote[0] ? x->remote : "-",
		   x->method);
	put_token(b, x->target);
	buf_printf(b, "\" %d %lld %.3f %s %s %s %lld %lld\n", x->status, (long long)x->bytes_out,
		   (double)(end_mono - x->t0_mono) / 1e6, x->service, x->rev ? x->rev->name : "-",
		   x->inst_id[0] ? x->inst_id : "-", (long long)(x->was_held ? held : 0),
		   (long long)x->tokens);
	if (b->len >= ACCESS_FLUSH_BYTES)
		gw_access_flush(d);
}

/* http_tunnel.c — pipes two raw connections into each other (a WebSocket or
 * any upgraded protocol through the gateway) with backpressure: a side whose
 * peer has more than high_water unsent stops being read until it drains.
 * When either side ends, what is queued is flushed and both are closed. */
#include "http/http_internal.h"

#include "base/mem.h"

#include <stdlib.h>

struct tunnel {
	struct http_raw *side[2];
};

static void tunnel_end(struct tunnel *t)
{
	http_raw_close(t->side[0], false);
	http_raw_close(t->side[1], false);
	free(t);
}

static void pipe_read(struct tunnel *t, int i, const char *p, ssize_t n)
{
	if (n < 0) {
		tunnel_end(t);
		return;
	}
	int rc = http_raw_write(t->side[!i], p, (size_t)n);
	if (rc < 0)
		tunnel_end(t);
	else if (rc == 1)
		http_raw_pause(t->side[i]);
}

static void read0(struct http_raw *raw, const char *p, ssize_t n, void *data)
{
	pipe_read(data, 0, p, n);
}

static void read1(struct http_raw *raw, const char *p, ssize_t n, void *data)
{
	pipe_read(data, 1, p, n);
}

/* side[i] drained: its peer may be read again. */
static void drain0(struct http_raw *raw, void *data)
{
	struct tunnel *t = data;
	http_raw_resume(t->side[1]);
}

static void drain1(struct http_raw *raw, void *data)
{
	struct tunnel *t = data;
	http_raw_resume(t->side[0]);
}

int http_tunnel(struct http_raw *a, struct http_raw *b)
{
	struct tunnel *t = xcalloc(1, sizeof *t);
	t->side[0] = a;
	t->side[1] = b;
	/* set both sides up before any leftover byte flows */
	a->user_read = read0;
	a->user_drain = drain0;
	a->user_data = t;
	b->user_read = read1;
	b->user_drain = drain1;
	b->user_data = t;
	http_raw_start(a, read0, drain0, t);
	if (a->closing)
		return 0;
	http_raw_start(b, read1, drain1, t);
	return 0;
}

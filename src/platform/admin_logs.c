/* admin_logs.c — GET /v1/services/NAME/logs?limit=N&follow=1: a service's
 * instance logs ($GPURUN_HOME/logs/NAME/, logs.h) as text lines, like
 * `gcloud beta run services logs read --limit` and `logs tail`: the last N
 * lines, then (follow) new lines as they are written, polled every
 * FOLLOW_POLL_MS, streamed until the client goes away. A slow client pauses
 * the polling (backpressure), so memory stays bounded. */
#include "base/buf.h"
#include "base/file.h"
#include "base/mem.h"
#include "http/http.h"
#include "platform/admin_internal.h"
#include "platform/daemon.h"
#include "platform/logs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOW_POLL_MS 250
#define LIMIT_DEFAULT  100

struct follow {
	uv_timer_t timer;
	struct http_stream *s;
	struct logs_cursor cur;
	bool paused;
};

static void write_lines(struct http_stream *s, struct logs_line *l, int64_t n, bool *full)
{
	struct buf b = BUF_INIT;
	for (int64_t i = 0; i < n; i++)
		logs_line_format(&l[i], &b);
	if (b.len && http_stream_write(s, b.data, b.len) == 1 && full)
		*full = true;
	buf_release(&b);
}

static void follow_closed(uv_handle_t *h)
{
	struct follow *f = h->data;
	logs_cursor_release(&f->cur);
	free(f);
}

static void follow_cancelled(struct http_req *r, void *data)
{
	struct follow *f = data;
	uv_timer_stop(&f->timer);
	http_stream_end(f->s); /* finishes the request: ERR_CANCELLED, nothing sent */
	f->s = NULL;
	uv_close((uv_handle_t *)&f->timer, follow_closed);
}

static void follow_drained(struct http_req *r, void *data)
{
	struct follow *f = data;
	f->paused = false;
}

static void follow_tick(uv_timer_t *t)
{
	struct follow *f = t->data;
	struct logs_line *l;
	int64_t n;
	if (f->paused || !f->s || http_req_cancelled(http_stream_req(f->s)))
		return;
	if (logs_cursor_poll(&f->cur, &l, &n))
		return;
	write_lines(f->s, l, n, &f->paused);
	logs_lines_free(l, n);
}

static void follow_start(struct http_req *r, const char *dir, int64_t limit)
{
	struct follow *f = xcalloc(1, sizeof *f);
	struct logs_line *l = NULL;
	int64_t n = 0;
	logs_cursor_init(&f->cur, dir); /* first: a line written meanwhile shows up, not lost */
	logs_read(dir, limit, &l, &n);
	http_resp_header(r, "Cache-Control", "no-cache");
	http_resp_header(r, "X-Content-Type-Options", "nosniff");
	f->s = http_stream_begin(r, 200, "text/plain; charset=utf-8");
	write_lines(f->s, l, n, &f->paused);
	logs_lines_free(l, n);
	uv_timer_init(http_req_loop(r), &f->timer);
	f->timer.data = f;
	uv_timer_start(&f->timer, follow_tick, FOLLOW_POLL_MS, FOLLOW_POLL_MS);
	http_stream_on_drain(f->s, follow_drained, f);
	http_req_on_cancel(r, follow_cancelled, f);
}

/* A service's logs exist when it does, or did (its folder is kept). */
static bool known(struct daemon *d, const char *service, const char *dir)
{
	struct state_service s;
	int rc = state_service_get(daemon_state(d), service, &s);
	state_service_release(&s);
	struct logs_line *l;
	int64_t n;
	if (rc == 0)
		return true;
	if (logs_read(dir, 1, &l, &n))
		return false;
	logs_lines_free(l, n);
	return n > 0;
}

void admin__logs(struct http_req *r, struct daemon *d, const char *service)
{
	char err[ERR_MSG_LEN], v[32];
	int64_t limit = LIMIT_DEFAULT;
	if (spec_name_check("service name", service, err)) {
		http_respond_error(r, 400, err);
		return;
	}
	if (http_req_query_get(r, "limit", v, sizeof v) >= 0 &&
	    (!str_to_i64(v, &limit) || limit < 0 || limit > ADMIN_LOGS_LIMIT_MAX)) {
		snprintf(err, sizeof err, "--limit: '%s' is not a number from 0 to %d", v,
		         ADMIN_LOGS_LIMIT_MAX);
		http_respond_error(r, 400, err);
		return;
	}
	bool follow = http_req_query_get(r, "follow", v, sizeof v) >= 0 && strcmp(v, "0") &&
	              strcmp(v, "false");
	char *logs = file_path_join(daemon_home(d), "logs");
	char *dir = file_path_join(logs, service);
	free(logs);
	if (!known(d, service, dir)) {
		snprintf(err, sizeof err, "service %s not found", service);
		http_respond_error(r, 404, err);
	} else if (follow) {
		follow_start(r, dir, limit);
	} else {
		struct logs_line *l = NULL;
		int64_t n = 0;
		struct buf b = BUF_INIT;
		logs_read(dir, limit, &l, &n);
		for (int64_t i = 0; i < n; i++)
			logs_line_format(&l[i], &b);
		logs_lines_free(l, n);
		http_respond(r, 200, "text/plain; charset=utf-8", b.data ? b.data : "", b.len);
		buf_release(&b);
	}
	free(dir);
}

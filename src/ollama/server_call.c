/* server_call.c — a request in flight: allocation, cancellation with the
 * client, streamed and one-shot answers written by whichever thread owns
 * the request, error bodies (Ollama's {"error":...}, OpenAI's error object
 * on /v1, reference ollama-api.md §1.9 and §2.4), and the hand-back to the
 * loop thread that ends the response. Not here: what the routes answer. */
#include "ollama/server_internal.h"

#include "base/mem.h"
#include "base/timeutil.h"

#include <stdlib.h>
#include <string.h>

static void call_free(struct api_call *c)
{
	free(c);
}

void *api_call_alloc(const struct api_route *rt, struct http_req *req, size_t size,
                     void (*destroy)(struct api_call *c))
{
	struct api_call *c = xcalloc(1, size);
	c->srv = rt->srv;
	c->req = req;
	c->route = rt->label;
	c->openai = rt->openai;
	c->t0 = time_mono_ns();
	atomic_init(&c->cancelled, false);
	c->destroy = destroy ? destroy : call_free;
	c->stream_ctype = CT_NDJSON;
	buf_init(&c->body);
	return c;
}

static void cancelled_cb(struct http_req *r, void *data)
{
	struct api_call *c = data;
	atomic_store(&c->cancelled, true);
	if (c->on_cancel)
		c->on_cancel(c);
}

void api_call_watch(struct api_call *c, void (*on_cancel)(struct api_call *c))
{
	c->on_cancel = on_cancel;
	http_req_on_cancel(c->req, cancelled_cb, c);
}

int api_call_write(struct api_call *c, const void *p, size_t n, bool block)
{
	if (atomic_load(&c->cancelled) || http_req_cancelled(c->req))
		return ERR_CANCELLED;
	if (!c->stream) {
		if (c->sse)
			http_resp_header(c->req, "Cache-Control", "no-cache");
		c->stream = http_stream_begin(c->req, 200, c->stream_ctype);
	}
	int rc = block ? http_stream_write(c->stream, p, n) : http_stream_write_nb(c->stream, p, n);
	if (rc == 1) {
		c->above_high = true;
		rc = 0;
	}
	return rc;
}

bool api_call_paused(struct api_call *c)
{
	if (!c->stream || !c->above_high)
		return false;
	if (http_stream_wait_writable(c->stream, 0) == ERR_TIMEOUT)
		return true;
	c->above_high = false;
	return false;
}

void api_call_set(struct api_call *c, int status, const char *ctype, const char *body, size_t n)
{
	c->status = status;
	c->ctype = ctype;
	buf_reset(&c->body);
	buf_append(&c->body, body ? body : "", n);
}

static const char *openai_type(int status)
{
	return status == 400   ? "invalid_request_error"
	       : status == 404 ? "not_found_error"
	                       : "api_error";
}

static const char *anthropic_type(int status)
{
	switch (status) {
	case 400: return "invalid_request_error";
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 429: return "rate_limit_error";
	case 503: return "overloaded_error";
	default: return "api_error";
	}
}

static void error_json(const struct api_call *c, int status, const char *msg, struct buf *b)
{
	if (c->anthropic) {
		buf_printf(b, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":",
		           anthropic_type(status));
		jstr(b, msg);
		buf_puts(b, "}}");
		return;
	}
	if (!c->openai) {
		buf_puts(b, "{\"error\":");
		jstr(b, msg);
		buf_putc(b, '}');
		return;
	}
	buf_puts(b, "{\"error\":{\"message\":");
	jstr(b, msg);
	buf_printf(b, ",\"type\":\"%s\",\"param\":null,\"code\":null}}", openai_type(status));
}

void api_call_error(struct api_call *c, int status, const char *msg)
{
	struct buf b = BUF_INIT;
	if (c->stream) {
		if (c->sse)
			buf_puts(&b, c->anthropic ? "event: error\ndata: " : "data: ");
		error_json(c, status, msg, &b);
		buf_puts(&b, c->sse ? "\n\n" : "\n");
		api_call_write(c, b.data, b.len, false);
	} else {
		error_json(c, status, msg, &b);
		api_call_set(c, status, CT_JSON, b.data, b.len);
	}
	buf_release(&b);
}

void api_call_complete(struct api_call *c)
{
	struct server *srv = c->srv;
	if (pthread_equal(pthread_self(), srv->loop_thread)) {
		server__call_finish(c);
		return;
	}
	pthread_mutex_lock(&srv->done_mu);
	c->next = NULL;
	if (srv->done_tail)
		srv->done_tail->next = c;
	else
		srv->done_head = c;
	srv->done_tail = c;
	pthread_mutex_unlock(&srv->done_mu);
	uv_async_send(&srv->done_async);
}

struct task {
	struct api_call *c;
	void (*fn)(struct api_call *c);
};

static void *task_main(void *arg)
{
	struct task t = *(struct task *)arg;
	struct server *srv = t.c->srv;
	free(arg);
	t.fn(t.c);
	atomic_fetch_sub(&srv->tasks, 1);
	return NULL;
}

int api_call_spawn(struct api_call *c, void (*fn)(struct api_call *c))
{
	struct task *t = xmalloc(sizeof *t);
	t->c = c;
	t->fn = fn;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	atomic_fetch_add(&c->srv->tasks, 1);
	pthread_t th;
	int rc = pthread_create(&th, &a, task_main, t);
	pthread_attr_destroy(&a);
	if (rc) {
		atomic_fetch_sub(&c->srv->tasks, 1);
		free(t);
		return -rc;
	}
	return 0;
}

void api_reply(struct api_call *c, int status, const char *ctype, const char *body, size_t n)
{
	api_call_set(c, status, ctype, body, n);
	api_call_complete(c);
}

void api_reply_json(struct api_call *c, int status, const struct buf *json)
{
	api_reply(c, status, CT_JSON, json->data, json->len);
}

void api_reply_error(struct api_call *c, int status, const char *msg)
{
	api_call_error(c, status, msg);
	api_call_complete(c);
}

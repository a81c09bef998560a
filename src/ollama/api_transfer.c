/* api_transfer.c — moving models in and out: POST /api/pull and
 * POST /api/push (registry.h's progress stream as NDJSON, or its last line
 * when stream is false; a client that goes away cancels the transfer), and
 * HEAD/POST /api/blobs/:digest (a streamed, sha256-verified upload into the
 * store). Reference ollama-api.md §1.8. Transfers run on task threads; the
 * upload's bytes are written on the loop thread as they arrive and the
 * commit (hash check, fsync, rename) runs on a task thread. */
#include "ollama/server_internal.h"

#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xfer_call {
	struct api_call call;
	struct model_name name;
	bool push;
	bool insecure;
	bool stream;
	atomic_bool cancel;
	struct buf last; /* the last progress line (stream false) */
	struct buf line;
};

static void xfer_destroy(struct api_call *c)
{
	struct xfer_call *x = (struct xfer_call *)c;
	buf_release(&x->last);
	buf_release(&x->line);
	free(x);
}

static void xfer_cancel(struct api_call *c)
{
	atomic_store(&((struct xfer_call *)c)->cancel, true);
}

static void progress(const struct registry_progress *p, void *ud)
{
	struct xfer_call *x = ud;
	api_progress(&x->call, x->stream, &x->line, &x->last, p, &x->cancel);
}

static void xfer_task(struct api_call *c)
{
	struct xfer_call *x = (struct xfer_call *)c;
	char err[ERR_MSG_LEN] = "";
	struct registry_request rq = {
	    .insecure = x->insecure, .cancel = &x->cancel, .progress = progress, .progress_ud = x};
	char full[NAMES_STR_MAX];
	names_full(&x->name, full, sizeof full);
	log_info("serve: %s %s%s", x->push ? "push" : "pull", full,
	         x->insecure ? " (insecure)" : "");
	int rc = x->push ? registry_push(c->srv->registry, &x->name, &rq, err)
	                 : registry_pull(c->srv->registry, &x->name, &rq, err);
	if (rc == 0 && !x->stream)
		api_call_set(c, 200, CT_JSON, x->last.data, x->last.len);
	else if (rc == ERR_CANCELLED)
		api_call_set(c, 499, CT_JSON, "{\"error\":\"request canceled\"}", 28);
	else if (rc)
		api_call_error(c, x->push && rc == ERR_NOT_FOUND && !c->stream ? 404 : 500,
		               err[0] ? err : err_str(rc));
	if (rc && rc != ERR_CANCELLED)
		log_warn("serve: %s %s: %s", x->push ? "push" : "pull", full, err);
	api_call_complete(c);
}

static void transfer(const struct api_route *rt, struct http_req *req, bool push)
{
	struct xfer_call *x = api_call_alloc(rt, req, sizeof *x, xfer_destroy);
	x->push = push;
	x->stream = true;
	atomic_init(&x->cancel, false);
	cJSON *body = api_body_json(&x->call);
	if (!body)
		return;
	const char *name = json_str(body, "model", "");
	if (!*name)
		name = json_str(body, "name", "");
	bool ok = api_bool(&x->call, body, "insecure", &x->insecure) &&
	          api_bool(&x->call, body, "stream", &x->stream);
	if (ok && !*name) {
		api_reply_error(&x->call, 400, "model is required");
		ok = false;
	} else if (ok && names_parse(name, &x->name, NULL) < 0) {
		api_reply_error(&x->call, 400, NAMES_ERR_INVALID);
		ok = false;
	}
	cJSON_Delete(body);
	if (!ok)
		return;
	if (push) { /* push the name as stored (case-insensitive match) */
		struct model_name r;
		store_resolve(x->call.srv->store, &x->name, &r);
		x->name = r;
	}
	api_call_watch(&x->call, xfer_cancel);
	if (api_call_spawn(&x->call, xfer_task)) {
		x->call.on_cancel = NULL;
		api_reply_error(&x->call, 500, "cannot start a task thread");
	}
}

void api_pull(const struct api_route *rt, struct http_req *req)
{
	transfer(rt, req, false);
}

void api_push(const struct api_route *rt, struct http_req *req)
{
	transfer(rt, req, true);
}

/* ---- blobs ---- */

/* The digest in /api/blobs/<digest>, or false after replying 400. */
static bool blob_digest(struct api_call *c, char digest[STORE_DIGEST_LEN + 1])
{
	struct slice p = http_req_path(c->req);
	size_t pre = strlen("/api/blobs/");
	char raw[128];
	size_t n = p.n - pre;
	if (n == 0 || n >= sizeof raw) {
		api_reply_error(c, 400, "invalid digest format");
		return false;
	}
	memcpy(raw, p.p + pre, n);
	raw[n] = 0;
	if (store_digest_normalize(raw, digest) < 0) {
		api_reply_error(c, 400, "invalid digest format");
		return false;
	}
	return true;
}

void api_blob_head(const struct api_route *rt, struct http_req *req)
{
	struct api_call *c = api_call_alloc(rt, req, sizeof *c, NULL);
	char digest[STORE_DIGEST_LEN + 1], msg[128];
	if (!blob_digest(c, digest))
		return;
	if (store_blob_exists(c->srv->store, digest)) {
		api_reply(c, 200, NULL, "", 0);
		return;
	}
	snprintf(msg, sizeof msg, "blob \"%s\" not found", digest);
	api_reply_error(c, 404, msg);
}

struct upload {
	struct api_call call;
	char digest[STORE_DIGEST_LEN + 1];
	struct store_blob_writer *w;
	int rc;
	char err[ERR_MSG_LEN];
};

static void upload_destroy(struct api_call *c)
{
	struct upload *u = (struct upload *)c;
	store_blob_writer_abort(u->w);
	free(u);
}

static void upload_data(struct http_req *r, const char *p, size_t n, void *data)
{
	struct upload *u = data;
	if (u->rc == 0)
		u->rc = store_blob_writer_write(u->w, p, n, u->err);
}

static void upload_commit(struct api_call *c)
{
	struct upload *u = (struct upload *)c;
	char got[STORE_DIGEST_LEN + 1];
	struct store_blob_writer *w = u->w;
	u->w = NULL;
	int rc = store_blob_writer_commit(w, got, u->err);
	if (rc == ERR_DIGEST)
		api_call_error(c, 400, u->err);
	else if (rc < 0)
		api_call_error(c, 500, u->err);
	else
		api_call_set(c, 201, NULL, "", 0);
	api_call_complete(c);
}

static void upload_end(struct http_req *r, int status, void *data)
{
	struct upload *u = data;
	if (status < 0 || u->rc < 0) {
		store_blob_writer_abort(u->w);
		u->w = NULL;
		if (status < 0)
			api_reply_error(&u->call, 400, "the upload ended early");
		else
			api_reply_error(&u->call, 500, u->err);
		return;
	}
	if (api_call_spawn(&u->call, upload_commit))
		api_reply_error(&u->call, 500, "cannot start a task thread");
}

void api_blob_post(const struct api_route *rt, struct http_req *req)
{
	struct upload *u = api_call_alloc(rt, req, sizeof *u, upload_destroy);
	if (!blob_digest(&u->call, u->digest))
		return;
	if (store_blob_exists(u->call.srv->store, u->digest)) {
		api_reply(&u->call, 200, NULL, "", 0);
		return;
	}
	int rc = store_blob_writer_new(u->call.srv->store, u->digest, &u->w, u->err);
	if (rc < 0) {
		api_reply_error(&u->call, 500, u->err);
		return;
	}
	http_req_body_read(req, upload_data, upload_end, u);
}

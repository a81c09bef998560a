/* registry_push.c — registry_push: Ollama's PushModel and uploadBlob
 * (server/images.go, server/upload.go; reference §1.8, §3.2). Each blob:
 * HEAD (present: skipped), POST blobs/uploads/, one monolithic
 * PUT <location>?digest= streamed from the store; then PUT the manifest.
 * Ollama's chunked PATCH uploads and cross-repository mounts are not used. */
#include "ollama/registry_internal.h"

#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct upload_progress {
	const struct registry_request *req;
	const struct store_layer *layer;
	char status[32];
};

static void on_upload(void *ud, int64_t sent)
{
	struct upload_progress *u = ud;
	reg__emit(u->req, u->status, u->layer->digest, u->layer->size, sent);
}

/* The upload URL: Location resolved against the registry, plus ?digest=. */
static char *upload_url(const struct reg_session *s, const char *location, const char *digest)
{
	CURLU *u = curl_url();
	char *out = NULL, *url = NULL;
	char query[STORE_DIGEST_LEN + 16];
	snprintf(query, sizeof query, "digest=%s", digest);
	if (curl_url_set(u, CURLUPART_URL, s->base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_QUERY, query, CURLU_APPENDQUERY) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK)
		out = xstrdup(url);
	curl_free(url);
	curl_url_cleanup(u);
	return out;
}

static int start_upload(struct reg_session *s, char **location, char err[ERR_MSG_LEN])
{
	char url[sizeof s->base + sizeof s->repo + 32];
	snprintf(url, sizeof url, "%s/v2/%s/blobs/uploads/", s->base, s->repo);
	struct reg_req q = {.method = "POST", .url = url, .body_fd = -1, .max_body = 1 << 16};
	struct reg_resp resp;
	int rc = reg__do(s, &q, &resp, err);
	if (rc < 0)
		return rc;
	if (resp.status != 202 && resp.status != 201)
		rc = reg__status_error(&resp, err);
	else if (!resp.location)
		rc = err_set(err, ERR_PROTOCOL,
		             "registry did not say where to upload (no Location)");
	else
		*location = xstrdup(resp.location);
	reg__resp_release(&resp);
	return rc;
}

static int put_blob(struct reg_session *s, const char *url, const struct store_layer *layer,
                    struct upload_progress *up, char err[ERR_MSG_LEN])
{
	struct store *st = s->r->store;
	char *path = store_blob_path(st, layer->digest);
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	free(path);
	if (fd < 0)
		return err_set(err, ERR_NOT_FOUND, "blob %s not found", layer->digest);
	off_t size = lseek(fd, 0, SEEK_END);
	struct reg_req q = {.method = "PUT",
	                    .url = url,
	                    .content_type = "application/octet-stream",
	                    .body_fd = fd,
	                    .body_size = size,
	                    .max_body = 1 << 16,
	                    .on_upload = on_upload,
	                    .ud = up};
	struct reg_resp resp;
	int rc = reg__do(s, &q, &resp, err);
	close(fd);
	if (rc == 0 && resp.status != 201 && resp.status != 204)
		rc = reg__status_error(&resp, err);
	reg__resp_release(&resp);
	return rc;
}

static int push_blob(struct reg_session *s, const struct store_layer *layer,
                     const struct registry_request *req, char err[ERR_MSG_LEN])
{
	struct upload_progress up = {req, layer, ""};
	reg__layer_status(up.status, "pushing", layer->digest);
	char url[sizeof s->base + sizeof s->repo + STORE_DIGEST_LEN + 32];
	snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", s->base, s->repo, layer->digest);
	struct reg_req head = {.method = "HEAD", .url = url, .body_fd = -1, .max_body = 1 << 16};
	struct reg_resp resp;
	int rc = reg__do(s, &head, &resp, err);
	if (rc < 0)
		return rc;
	long status = resp.status;
	if (status != 200 && status != 404)
		rc = reg__status_error(&resp, err);
	reg__resp_release(&resp);
	if (rc < 0 || status == 200) {
		if (rc == 0)
			reg__emit(req, up.status, layer->digest, layer->size, layer->size);
		return rc;
	}
	char *location = NULL;
	if ((rc = start_upload(s, &location, err)) < 0)
		return rc;
	char *put = upload_url(s, location, layer->digest);
	free(location);
	if (!put)
		return err_set(err, ERR_PROTOCOL, "registry gave an unusable upload location");
	rc = put_blob(s, put, layer, &up, err);
	free(put);
	if (rc == 0)
		reg__emit(req, up.status, layer->digest, layer->size, layer->size);
	return rc;
}

static int put_manifest(struct reg_session *s, const struct model_name *name,
                        const struct store_manifest *m, char err[ERR_MSG_LEN])
{
	char url[sizeof s->base + sizeof s->repo + NAMES_PART_MAX + 32];
	snprintf(url, sizeof url, "%s/v2/%s/manifests/%s", s->base, s->repo, name->tag);
	struct buf body = BUF_INIT;
	store_manifest_serialize(m, &body);
	struct reg_req q = {.method = "PUT",
	                    .url = url,
	                    .content_type = m->media_type ? m->media_type : STORE_MT_MANIFEST,
	                    .body = body.data,
	                    .body_len = body.len,
	                    .body_fd = -1,
	                    .max_body = 1 << 16};
	struct reg_resp resp;
	int rc = reg__do(s, &q, &resp, err);
	if (rc == 0) {
		if (resp.status != 201 && resp.status != 200)
			rc = reg__status_error(&resp, err);
		reg__resp_release(&resp);
	}
	buf_release(&body);
	return rc;
}

int registry_push(struct registry *r, const struct model_name *name,
                  const struct registry_request *req, char err[ERR_MSG_LEN])
{
	if (!names_valid(name))
		return err_set(err, ERR_INVALID, NAMES_ERR_INVALID);
	reg__emit(req, "retrieving manifest", NULL, 0, 0);
	if (!strcmp(name->scheme, "http") && !req->insecure)
		return err_set(err, ERR_INVALID, "insecure protocol http");
	struct store_manifest m;
	int rc = store_manifest_read(r->store, name, &m, NULL, err);
	if (rc < 0) {
		reg__emit(req, "couldn't retrieve manifest", NULL, 0, 0);
		return rc;
	}
	struct reg_session s;
	reg__session_init(&s, r, name, req);
	for (size_t i = 0; rc == 0 && i < m.n_layers; i++)
		rc = push_blob(&s, &m.layers[i], req, err);
	if (rc == 0 && m.config.digest[0])
		rc = push_blob(&s, &m.config, req, err);
	if (rc == 0) {
		reg__emit(req, "pushing manifest", NULL, 0, 0);
		rc = put_manifest(&s, name, &m, err);
	}
	if (rc == 0)
		reg__emit(req, "success", NULL, 0, 0);
	reg__session_release(&s);
	store_manifest_release(&m);
	return rc;
}

/* registry_pull.c — registry_pull: Ollama's PullModel (server/images.go,
 * reference §1.8 and §3.2-3.4). The manifest is fetched, each layer and then
 * the config blob is downloaded (shared and verified by
 * registry_download.c), and only when all are ready are they renamed into
 * the store and the manifest written — so a failure at any point leaves no
 * new model and no new blob. */
#include "ollama/registry_internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ACCEPT_MANIFESTS STORE_MT_MANIFEST ", " STORE_MT_OCI_MANIFEST

static int fetch_manifest(struct reg_session *s, const struct model_name *n,
                          struct store_manifest *m, char err[ERR_MSG_LEN])
{
	char url[sizeof s->base + sizeof s->repo + NAMES_PART_MAX + 32];
	snprintf(url, sizeof url, "%s/v2/%s/manifests/%s", s->base, s->repo, n->tag);
	struct reg_req q = {.method = "GET",
	                    .url = url,
	                    .accept = ACCEPT_MANIFESTS,
	                    .body_fd = -1,
	                    .max_body = STORE_MANIFEST_MAX,
	                    .follow = true};
	struct reg_resp resp;
	char why[ERR_MSG_LEN];
	int rc = reg__do(s, &q, &resp, why);
	if (rc < 0)
		return err_set(err, rc, "%s%s",
		               rc == ERR_CANCELLED ? "" : "pull model manifest: ", why);
	if (resp.status == 404)
		rc = err_set(err, ERR_NOT_FOUND, "pull model manifest: file does not exist");
	else if (resp.status >= 300 || resp.status < 200) {
		reg__status_error(&resp, why);
		rc = err_set(err, ERR_PROTOCOL, "pull model manifest: %s", why);
	} else if ((rc = store_manifest_parse(resp.body.data ? resp.body.data : "", resp.body.len,
	                                      m, why)) < 0)
		err_set(err, rc, "pull model manifest: %s", why);
	else if (strstr(m->media_type, "index") || strstr(m->media_type, "list")) {
		store_manifest_release(m);
		rc = err_set(err, ERR_UNSUPPORTED,
		             "pull model manifest: unsupported manifest type %s",
		             resp.content_type ? resp.content_type : "");
	}
	reg__resp_release(&resp);
	return rc;
}

/* Layers in Ollama's order: the manifest's, then the config blob. */
static size_t layer_list(const struct store_manifest *m, const struct store_layer ***out)
{
	size_t n = 0;
	*out = xcalloc(m->n_layers + 1, sizeof **out);
	for (size_t i = 0; i < m->n_layers; i++)
		(*out)[n++] = &m->layers[i];
	if (m->config.digest[0])
		(*out)[n++] = &m->config;
	return n;
}

static bool seen_before(const struct store_layer **ls, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!strcasecmp(ls[j]->digest, ls[i]->digest))
			return true;
	return false;
}

/* Downloads what is missing; fetched[i] marks the blobs that must be adopted. */
static int fetch_layers(struct reg_session *s, const struct store_layer **ls, size_t n,
                        bool *fetched, const struct registry_request *req, char err[ERR_MSG_LEN])
{
	struct store *st = s->r->store;
	for (size_t i = 0; i < n; i++) {
		char status[32];
		int64_t size;
		reg__layer_status(status, "pulling", ls[i]->digest);
		if (reg__cancelled(req->cancel))
			return err_set(err, ERR_CANCELLED, "context canceled");
		if (seen_before(ls, i)) {
			reg__emit(req, status, ls[i]->digest, ls[i]->size, ls[i]->size);
		} else if (store_blob_size(st, ls[i]->digest, &size) == 0) { /* cache hit */
			reg__emit(req, status, ls[i]->digest, size, size);
		} else {
			int rc = reg__blob_fetch(s, ls[i], req, err);
			if (rc < 0)
				return rc;
			fetched[i] = true;
		}
	}
	return 0;
}

static int adopt_layers(struct store *st, const struct store_layer **ls, size_t n,
                        const bool *fetched, char err[ERR_MSG_LEN])
{
	for (size_t i = 0; i < n; i++) {
		if (!fetched[i])
			continue;
		char *partial = store_blob_partial_path(st, ls[i]->digest);
		int rc = store_blob_adopt(st, ls[i]->digest, partial, err);
		free(partial);
		if (rc < 0 && store_blob_exists(st, ls[i]->digest))
			rc = 0; /* a concurrent pull of the same blob moved it first */
		if (rc < 0)
			return rc;
		reg__partial_cleanup(st, ls[i]->digest);
	}
	return 0;
}

static bool in_manifest(const struct store_manifest *m, const char *digest)
{
	if (!strcasecmp(m->config.digest, digest))
		return true;
	for (size_t i = 0; i < m->n_layers; i++)
		if (!strcasecmp(m->layers[i].digest, digest))
			return true;
	return false;
}

/* "removing unused layers": what the tag used to reference and no longer does. */
static void remove_replaced(struct store *st, const struct store_manifest *prev,
                            const struct store_manifest *now, const struct registry_request *req)
{
	const struct store_layer **ls;
	size_t n = layer_list(prev, &ls), k = 0;
	const char **unused = xcalloc(n + 1, sizeof *unused);
	for (size_t i = 0; i < n; i++)
		if (!in_manifest(now, ls[i]->digest))
			unused[k++] = ls[i]->digest;
	if (k) {
		reg__emit(req, "removing unused layers", NULL, 0, 0);
		store_remove_unused(st, unused, k);
	}
	free(unused);
	free(ls);
}

static int pull_layers(struct reg_session *s, const struct model_name *name,
                       struct store_manifest *m, const struct registry_request *req,
                       char err[ERR_MSG_LEN])
{
	struct store *st = s->r->store;
	const struct store_layer **ls;
	size_t n = layer_list(m, &ls);
	bool *fetched = xcalloc(n + 1, sizeof *fetched);
	for (size_t i = 0; i < n; i++)
		store_pin(st, ls[i]->digest);
	int rc = fetch_layers(s, ls, n, fetched, req, err);
	if (rc == 0) {
		reg__emit(req, "verifying sha256 digest", NULL, 0, 0);
		rc = adopt_layers(st, ls, n, fetched, err);
	}
	struct store_manifest prev;
	if (rc == 0) {
		reg__emit(req, "writing manifest", NULL, 0, 0);
		rc = store_manifest_write(st, name, m, &prev, err);
	}
	if (rc == 0) {
		remove_replaced(st, &prev, m, req);
		store_manifest_release(&prev);
	}
	for (size_t i = 0; i < n; i++)
		store_unpin(st, ls[i]->digest);
	free(fetched);
	free(ls);
	return rc;
}

int registry_pull(struct registry *r, const struct model_name *name,
                  const struct registry_request *req, char err[ERR_MSG_LEN])
{
	if (!names_valid(name))
		return err_set(err, ERR_INVALID, NAMES_ERR_INVALID);
	if (!strcmp(name->scheme, "http") && !req->insecure)
		return err_set(err, ERR_INVALID, "insecure protocol http");
	struct reg_session s;
	reg__session_init(&s, r, name, req);
	reg__emit(req, "pulling manifest", NULL, 0, 0);
	struct store_manifest m;
	int rc = fetch_manifest(&s, name, &m, err);
	if (rc == 0) {
		rc = pull_layers(&s, name, &m, req, err);
		store_manifest_release(&m);
	}
	if (rc == 0)
		reg__emit(req, "success", NULL, 0, 0);
	reg__session_release(&s);
	return rc;
}

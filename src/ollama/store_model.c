/* store_model.c — reading models out of the store: the /api/tags listing
 * (Ollama's ListHandler: size, manifest digest, modification time, newest
 * first) and everything one model's manifest points at (Ollama's GetModel in
 * server/images.go). No writes here. */
#include "ollama/store_internal.h"

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int load_entry(struct store *s, const struct model_name *n, struct store_entry *e,
                      char err[ERR_MSG_LEN])
{
	memset(e, 0, sizeof *e);
	e->name = *n;
	char *path = store_manifest_path(s, n);
	struct stat st;
	int rc = stat(path, &st) == 0 ? 0 : ERR_NOT_FOUND;
	free(path);
	if (rc == 0)
		rc = store_manifest_read(s, n, &e->manifest, e->digest, err);
	else {
		char full[NAMES_STR_MAX];
		err_set(err, rc, "manifest for %s not found", names_full(n, full, sizeof full));
	}
	if (rc < 0)
		return rc;
	e->modified_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	e->size = store_manifest_size(&e->manifest);
	if (e->manifest.config.digest[0]) {
		char ignored[ERR_MSG_LEN];
		if (store__read_blob(s, e->manifest.config.digest, 1u << 20, &e->config_json,
		                     ignored) < 0)
			e->config_json = NULL;
	}
	return 0;
}

static void entry_release(struct store_entry *e)
{
	store_manifest_release(&e->manifest);
	free(e->config_json);
	memset(e, 0, sizeof *e);
}

struct ranked {
	struct store_entry e;
	size_t index;
};

static int by_mtime_desc(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	/* Ollama compares whole seconds (ModifiedAt.Unix()) with a stable sort */
	int64_t sa = a->e.modified_ns / 1000000000, sb = b->e.modified_ns / 1000000000;
	if (sa != sb)
		return sa < sb ? 1 : -1;
	return a->index < b->index ? -1 : a->index > b->index;
}

int store_list(struct store *s, struct store_entry **out, size_t *n)
{
	struct model_name *names;
	size_t count;
	*out = NULL;
	*n = 0;
	int rc = names_list(s->manifests, &names, &count);
	if (rc < 0)
		return rc;
	struct ranked *r = count ? xcalloc(count, sizeof *r) : NULL;
	size_t k = 0;
	for (size_t i = 0; i < count; i++) {
		char err[ERR_MSG_LEN];
		if (load_entry(s, &names[i], &r[k].e, err) < 0) {
			log_warn("store: skipping manifest: %s", err);
			continue;
		}
		r[k].index = k;
		k++;
	}
	free(names);
	if (k)
		qsort(r, k, sizeof *r, by_mtime_desc);
	struct store_entry *e = k ? xcalloc(k, sizeof *e) : NULL;
	for (size_t i = 0; i < k; i++)
		e[i] = r[i].e;
	free(r);
	*out = e;
	*n = k;
	return 0;
}

void store_entries_free(struct store_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		entry_release(&e[i]);
	free(e);
}

static void push_path(char ***v, size_t *n, char *path)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = path;
}

/* Replaces *dst with the blob's text (the last layer of a kind wins, as in
 * Ollama's GetModel). */
static int read_text(struct store *s, const struct store_layer *l, char **dst,
                     char err[ERR_MSG_LEN])
{
	char *text;
	int rc = store__read_blob(s, l->digest, STORE_TEXT_MAX, &text, err);
	if (rc < 0)
		return rc;
	free(*dst);
	*dst = text;
	return 0;
}

static int load_layer(struct store *s, const struct store_layer *l, struct store_model *m,
                      char err[ERR_MSG_LEN])
{
	const char *mt = l->media_type;
	bool is_file = !strcmp(mt, STORE_MT_MODEL) || !strcmp(mt, STORE_MT_PROJECTOR) ||
	               !strcmp(mt, STORE_MT_ADAPTER);
	if (is_file && !store_blob_exists(s, l->digest))
		return err_set(err, ERR_NOT_FOUND, "blob %s not found", l->digest);
	if (!strcmp(mt, STORE_MT_MODEL)) {
		free(m->model_path);
		free(m->parent);
		m->model_path = store_blob_path(s, l->digest);
		m->parent = l->from ? xstrdup(l->from) : NULL;
	} else if (!strcmp(mt, STORE_MT_PROJECTOR)) {
		push_path(&m->projectors, &m->n_projectors, store_blob_path(s, l->digest));
	} else if (!strcmp(mt, STORE_MT_ADAPTER)) {
		push_path(&m->adapters, &m->n_adapters, store_blob_path(s, l->digest));
	} else if (!strcmp(mt, STORE_MT_TEMPLATE) || !strcmp(mt, STORE_MT_PROMPT)) {
		return read_text(s, l, &m->template_text, err);
	} else if (!strcmp(mt, STORE_MT_SYSTEM)) {
		return read_text(s, l, &m->system_text, err);
	} else if (!strcmp(mt, STORE_MT_PARAMS)) {
		return read_text(s, l, &m->params_json, err);
	} else if (!strcmp(mt, STORE_MT_MESSAGES)) {
		return read_text(s, l, &m->messages_json, err);
	} else if (!strcmp(mt, STORE_MT_LICENSE)) {
		char *text = NULL;
		int rc = read_text(s, l, &text, err);
		if (rc < 0)
			return rc;
		push_path(&m->licenses, &m->n_licenses, text);
	}
	return 0;
}

int store_model_load(struct store *s, const struct model_name *n, struct store_model *out,
                     char err[ERR_MSG_LEN])
{
	memset(out, 0, sizeof *out);
	int rc = load_entry(s, n, &out->entry, err);
	for (size_t i = 0; rc == 0 && i < out->entry.manifest.n_layers; i++)
		rc = load_layer(s, &out->entry.manifest.layers[i], out, err);
	if (rc < 0)
		store_model_release(out);
	return rc;
}

static void free_vec(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void store_model_release(struct store_model *m)
{
	if (!m)
		return;
	entry_release(&m->entry);
	free(m->model_path);
	free(m->parent);
	free(m->template_text);
	free(m->system_text);
	free(m->params_json);
	free(m->messages_json);
	free_vec(m->licenses, m->n_licenses);
	free_vec(m->projectors, m->n_projectors);
	free_vec(m->adapters, m->n_adapters);
	memset(m, 0, sizeof *m);
}

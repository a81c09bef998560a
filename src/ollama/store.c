/* store.c — the store object: root selection, pins, manifests on disk, copy,
 * delete and garbage collection (Ollama's server/images.go CopyModel,
 * manifest.Remove/RemoveLayers and PruneLayers; reference §1.8, §3.4-3.5).
 * Blob creation is store_blob.c; listing and model loading store_model.c. */
#include "ollama/store_internal.h"

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int store_root_default(char *out, size_t size)
{
	const char *v = getenv("GPURUN_MODELS");
	if (!v || !*v)
		v = getenv("OLLAMA_MODELS");
	if (v && *v) {
		snprintf(out, size, "%s", v);
		return 0;
	}
	const char *home = getenv("GPURUN_HOME");
	if (home && *home) {
		snprintf(out, size, "%s/models", home);
		return 0;
	}
	home = file_home_dir();
	if (!home)
		return ERR_NOT_FOUND;
	snprintf(out, size, "%s/.gpurun/models", home);
	return 0;
}

int store_open(const char *root, struct store **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	char def[4096];
	if (!root) {
		if (store_root_default(def, sizeof def) < 0)
			return err_set(err, ERR_NOT_FOUND, "no home directory for the model store");
		root = def;
	}
	struct store *s = xcalloc(1, sizeof *s);
	s->root = xstrdup(root);
	s->blobs = file_path_join(root, "blobs");
	s->manifests = file_path_join(root, "manifests");
	pthread_mutex_init(&s->lock, NULL);
	int rc = file_mkdir_p(s->blobs, 0755);
	if (rc == 0)
		rc = file_mkdir_p(s->manifests, 0755);
	if (rc < 0) {
		err_set(err, rc, "create model store at %s: %s", root, err_str(rc));
		store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->root);
	free(s->blobs);
	free(s->manifests);
	free(s->pins);
	free(s);
}

const char *store_root(const struct store *s)
{
	return s->root;
}

const char *store_blobs_dir(const struct store *s)
{
	return s->blobs;
}

const char *store_manifests_dir(const struct store *s)
{
	return s->manifests;
}

char *store_manifest_path(const struct store *s, const struct model_name *n)
{
	char rel[NAMES_STR_MAX];
	return file_path_join(s->manifests, names_rel_path(n, rel, sizeof rel));
}

/* ---- pins ---- */

static struct store_pin_slot *pin_find(const struct store *s, const char *digest)
{
	for (size_t i = 0; i < s->n_pins; i++)
		if (!strcasecmp(s->pins[i].digest, digest))
			return &s->pins[i];
	return NULL;
}

bool store__pinned(const struct store *s, const char *digest)
{
	char d[STORE_DIGEST_LEN + 1];
	return store_digest_normalize(digest, d) == 0 && pin_find(s, d) != NULL;
}

void store_pin(struct store *s, const char *digest)
{
	char d[STORE_DIGEST_LEN + 1];
	if (store_digest_normalize(digest, d) < 0)
		return;
	pthread_mutex_lock(&s->lock);
	struct store_pin_slot *p = pin_find(s, d);
	if (!p) {
		if (s->n_pins == s->cap_pins) {
			s->cap_pins = s->cap_pins ? 2 * s->cap_pins : 8;
			s->pins = xrealloc(s->pins, s->cap_pins * sizeof *s->pins);
		}
		p = &s->pins[s->n_pins++];
		memcpy(p->digest, d, sizeof d);
		p->count = 0;
	}
	p->count++;
	pthread_mutex_unlock(&s->lock);
}

void store_unpin(struct store *s, const char *digest)
{
	char d[STORE_DIGEST_LEN + 1];
	if (store_digest_normalize(digest, d) < 0)
		return;
	pthread_mutex_lock(&s->lock);
	struct store_pin_slot *p = pin_find(s, d);
	if (p && --p->count <= 0)
		*p = s->pins[--s->n_pins];
	pthread_mutex_unlock(&s->lock);
}

/* ---- manifests ---- */

void store_resolve(struct store *s, const struct model_name *n, struct model_name *out)
{
	struct model_name *all;
	size_t count;
	*out = *n;
	if (names_list(s->manifests, &all, &count) < 0)
		return;
	for (size_t i = 0; i < count; i++) {
		if (names_equal_fold(&all[i], n)) {
			*out = all[i];
			strcpy(out->scheme, n->scheme);
			break;
		}
	}
	free(all);
}

static int read_manifest_bytes(struct store *s, const struct model_name *n, struct buf *b,
                               char err[ERR_MSG_LEN])
{
	char *path = store_manifest_path(s, n);
	int rc = file_read_all(path, b, STORE_MANIFEST_MAX);
	free(path);
	if (rc == -ENOENT || rc == -ENOTDIR || rc == -EISDIR) {
		char full[NAMES_STR_MAX];
		return err_set(err, ERR_NOT_FOUND, "manifest for %s not found",
		               names_full(n, full, sizeof full));
	}
	if (rc < 0)
		return err_set(err, rc, "read manifest: %s", err_str(rc));
	return 0;
}

int store_manifest_read(struct store *s, const struct model_name *n, struct store_manifest *out,
                        char digest_hex[65], char err[ERR_MSG_LEN])
{
	struct buf b = BUF_INIT;
	memset(out, 0, sizeof *out);
	int rc = read_manifest_bytes(s, n, &b, err);
	if (rc == 0) {
		if (digest_hex)
			sha256_hex(b.data ? b.data : "", b.len, digest_hex);
		rc = store_manifest_parse(b.data ? b.data : "", b.len, out, err);
	}
	buf_release(&b);
	return rc;
}

static int check_blobs(struct store *s, const struct store_manifest *m, char err[ERR_MSG_LEN])
{
	if (m->config.digest[0] && !store_blob_exists(s, m->config.digest))
		return err_set(err, ERR_NOT_FOUND, "blob %s not found", m->config.digest);
	for (size_t i = 0; i < m->n_layers; i++)
		if (!store_blob_exists(s, m->layers[i].digest))
			return err_set(err, ERR_NOT_FOUND, "blob %s not found",
			               m->layers[i].digest);
	return 0;
}

/* Writes bytes as n's manifest. Caller holds s->lock. */
static int put_manifest_locked(struct store *s, const struct model_name *n, const char *data,
                               size_t len, char err[ERR_MSG_LEN])
{
	char *path = store_manifest_path(s, n);
	char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	int rc = file_mkdir_p(dir, 0755);
	if (rc < 0)
		err_set(err, rc, "create %s: %s", dir, err_str(rc));
	else
		rc = store__write_atomic(path, data, len, err);
	free(dir);
	free(path);
	return rc;
}

int store_manifest_write(struct store *s, const struct model_name *n,
                         const struct store_manifest *m, struct store_manifest *previous,
                         char err[ERR_MSG_LEN])
{
	if (previous)
		memset(previous, 0, sizeof *previous);
	if (!names_valid(n))
		return err_set(err, ERR_INVALID, NAMES_ERR_INVALID);
	struct buf b = BUF_INIT;
	store_manifest_serialize(m, &b);
	pthread_mutex_lock(&s->lock);
	int rc = check_blobs(s, m, err);
	if (rc == 0 && previous) {
		char ignored[ERR_MSG_LEN];
		if (store_manifest_read(s, n, previous, NULL, ignored) < 0)
			store_manifest_init(previous);
	}
	if (rc == 0)
		rc = put_manifest_locked(s, n, b.data, b.len, err);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0 && previous)
		store_manifest_release(previous);
	buf_release(&b);
	return rc;
}

int store_copy(struct store *s, const struct model_name *src, const struct model_name *dst,
               char err[ERR_MSG_LEN])
{
	if (!names_valid(src) || !names_valid(dst))
		return err_set(err, ERR_INVALID, NAMES_ERR_INVALID);
	struct buf b = BUF_INIT;
	pthread_mutex_lock(&s->lock);
	int rc = read_manifest_bytes(s, src, &b, err);
	char *sp = store_manifest_path(s, src), *dp = store_manifest_path(s, dst);
	if (rc == 0 && strcmp(sp, dp) != 0)
		rc = put_manifest_locked(s, dst, b.data ? b.data : "", b.len, err);
	pthread_mutex_unlock(&s->lock);
	free(sp);
	free(dp);
	buf_release(&b);
	return rc;
}

/* ---- garbage collection ---- */

typedef char digest_t[STORE_DIGEST_LEN + 1];

static void set_add(digest_t **set, size_t *n, size_t *cap, const char *digest)
{
	if (!digest[0])
		return;
	for (size_t i = 0; i < *n; i++)
		if (!strcasecmp((*set)[i], digest))
			return;
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 32;
		*set = xrealloc(*set, *cap * sizeof **set);
	}
	store_digest_normalize(digest, (*set)[(*n)++]);
}

static bool set_has(digest_t *set, size_t n, const char *digest)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(set[i] + 7, digest + 7))
			return true;
	return false;
}

int store__referenced(struct store *s, digest_t **set, size_t *n)
{
	struct model_name *all;
	size_t count, cap = 0;
	*set = NULL;
	*n = 0;
	int rc = names_list(s->manifests, &all, &count);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		struct store_manifest m;
		char err[ERR_MSG_LEN];
		rc = store_manifest_read(s, &all[i], &m, NULL, err);
		if (rc < 0) {
			log_warn("store: not collecting garbage: %s", err);
			break;
		}
		set_add(set, n, &cap, m.config.digest);
		for (size_t j = 0; j < m.n_layers; j++)
			set_add(set, n, &cap, m.layers[j].digest);
		store_manifest_release(&m);
	}
	free(all);
	if (rc < 0) {
		free(*set);
		*set = NULL;
		*n = 0;
	}
	return rc;
}

/* Caller holds s->lock. */
static int remove_unused_locked(struct store *s, const char *const *digests, size_t n)
{
	digest_t *used;
	size_t n_used;
	int rc = store__referenced(s, &used, &n_used);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (!store_digest_valid(digests[i]) || set_has(used, n_used, digests[i]) ||
		    store__pinned(s, digests[i]))
			continue;
		char *path = store_blob_path(s, digests[i]);
		if (unlink(path) < 0 && errno != ENOENT && rc == 0)
			rc = -errno;
		free(path);
	}
	free(used);
	return rc;
}

int store_remove_unused(struct store *s, const char *const *digests, size_t n)
{
	pthread_mutex_lock(&s->lock);
	int rc = remove_unused_locked(s, digests, n);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Removes the model, namespace and host folders of n when empty. */
static void prune_dirs(struct store *s, const struct model_name *n)
{
	char *path = store_manifest_path(s, n);
	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(path, '/');
		if (!slash)
			break;
		*slash = '\0';
		if (rmdir(path) < 0)
			break;
	}
	free(path);
}

int store_delete(struct store *s, const struct model_name *n, char err[ERR_MSG_LEN])
{
	struct store_manifest m;
	pthread_mutex_lock(&s->lock);
	int rc = store_manifest_read(s, n, &m, NULL, err);
	/* not found or unreadable: fail; unparsable: remove it all the same */
	if (rc == ERR_NOT_FOUND || (rc < 0 && rc > -ERR_BASE))
		goto out_unlock;
	char *path = store_manifest_path(s, n);
	if (unlink(path) < 0) {
		int e = -errno;
		free(path);
		store_manifest_release(&m);
		rc = err_set(err, e, "remove manifest: %s", err_str(e));
		goto out_unlock;
	}
	file_sync_dir_of(path);
	free(path);
	prune_dirs(s, n);
	if (rc == 0) { /* a corrupt manifest names no blobs we could trust */
		const char **ds = xcalloc(m.n_layers + 1, sizeof *ds);
		size_t k = 0;
		for (size_t i = 0; i < m.n_layers; i++)
			ds[k++] = m.layers[i].digest;
		if (m.config.digest[0])
			ds[k++] = m.config.digest;
		remove_unused_locked(s, ds, k);
		free(ds);
	}
	rc = 0;
	store_manifest_release(&m);
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static bool is_blob_name(const char *name)
{
	char d[STORE_DIGEST_LEN + 1];
	return strlen(name) == STORE_DIGEST_LEN && store_digest_normalize(name, d) == 0;
}

/* Caller holds s->lock. */
static int prune_locked(struct store *s, int64_t keep_ns, int *removed)
{
	digest_t *used;
	size_t n_used;
	int rc = store__referenced(s, &used, &n_used);
	if (rc < 0)
		return rc;
	DIR *d = opendir(s->blobs);
	if (!d) {
		free(used);
		return -errno;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *path = file_path_join(s->blobs, e->d_name);
		struct stat st;
		bool drop = false;
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (is_blob_name(e->d_name))
				drop = !set_has(used, n_used, e->d_name) &&
				       !store__pinned(s, e->d_name);
			else
				drop = now_ns - ((int64_t)st.st_mtim.tv_sec * 1000000000 +
				                 st.st_mtim.tv_nsec) >
				       keep_ns;
		}
		if (drop && unlink(path) == 0 && removed)
			(*removed)++;
		free(path);
	}
	closedir(d);
	free(used);
	return 0;
}

int store_prune(struct store *s, int64_t keep_ns, int *removed)
{
	if (removed)
		*removed = 0;
	pthread_mutex_lock(&s->lock);
	int rc = prune_locked(s, keep_ns, removed);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

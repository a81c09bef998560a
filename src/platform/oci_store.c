/* oci_store.c — the content-addressed image blob store (see oci_store.h).
 * Holds paths, verified streaming writes and verified reads; knows nothing
 * of registries, manifests or tar. */
#include "platform/oci_store.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/mem.h"

int oci_store_init(struct oci_store *st, const char *root, char err[ERR_MSG_LEN])
{
	memset(st, 0, sizeof(*st));
	if (root) {
		st->root = xstrdup(root);
	} else {
		const char *home = getenv("GPURUN_HOME");
		char *def = NULL;
		if (!home || !*home)
			home = def = file_path_join(file_home_dir(), ".gpurun");
		st->root = file_path_join(home, "images");
		free(def);
	}
	static const char *const dirs[] = {"blobs/sha256", "rootfs", "tmp"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *p = file_path_join(st->root, dirs[i]);
		int rc = file_mkdir_p(p, 0700);
		free(p);
		if (rc < 0) {
			err_set(err, rc, "image store %s: cannot create %s: %s", st->root, dirs[i],
			        err_str(rc));
			oci_store_release(st);
			return rc;
		}
	}
	return 0;
}

void oci_store_release(struct oci_store *st)
{
	if (!st)
		return;
	free(st->root);
	st->root = NULL;
}

char *oci_store_blob_path(const struct oci_store *st, const char *digest)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s/blobs/sha256/%s", st->root, digest + 7);
	return buf_steal(&b);
}

char *oci_store_rootfs_path(const struct oci_store *st, const char *manifest_digest)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s/rootfs/%s", st->root, manifest_digest + 7);
	return buf_steal(&b);
}

char *oci_store_tmp_path(const struct oci_store *st, const char *what)
{
	static atomic_long counter;
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s/tmp/%s-%ld-%ld", st->root, what, (long)getpid(),
	           atomic_fetch_add(&counter, 1));
	return buf_steal(&b);
}

bool oci_store_has_blob(const struct oci_store *st, const char *digest)
{
	if (!oci_digest_valid(digest))
		return false;
	char *p = oci_store_blob_path(st, digest);
	bool ok = file_exists(p);
	free(p);
	return ok;
}

int oci_blob_writer_open(struct oci_blob_writer *w, const struct oci_store *st, const char *digest,
                         int64_t expect_size, char err[ERR_MSG_LEN])
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (!oci_digest_valid(digest))
		return err_set(err, ERR_INVALID, "blob digest '%s' is not sha256:<64 hex>", digest);
	snprintf(w->digest, sizeof(w->digest), "%s", digest);
	w->expect_size = expect_size;
	w->tmp_path = oci_store_tmp_path(st, "blob");
	w->final_path = oci_store_blob_path(st, digest);
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		int rc = -errno;
		err_set(err, rc, "blob %s: cannot create %s: %s", digest, w->tmp_path, err_str(rc));
		oci_blob_writer_abort(w);
		return rc;
	}
	sha256_init(&w->sha);
	return 0;
}

int oci_blob_writer_write(struct oci_blob_writer *w, const void *p, size_t n, char err[ERR_MSG_LEN])
{
	if (w->expect_size >= 0 && (uint64_t)w->written + n > (uint64_t)w->expect_size)
		return err_set(err, ERR_TOO_LARGE, "blob %s: more than the %lld bytes declared",
		               w->digest, (long long)w->expect_size);
	const char *c = p;
	size_t left = n;
	while (left > 0) {
		ssize_t k = write(w->fd, c, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int rc = -errno;
			return err_set(err, rc, "blob %s: write: %s", w->digest, err_str(rc));
		}
		c += k;
		left -= (size_t)k;
	}
	sha256_update(&w->sha, p, n);
	w->written += (int64_t)n;
	return 0;
}

int oci_blob_writer_commit(struct oci_blob_writer *w, char err[ERR_MSG_LEN])
{
	char hex[SHA256_HEX_LEN + 1];
	sha256_final_hex(&w->sha, hex); /* releases the context */
	int rc = 0;
	if (w->expect_size >= 0 && w->written != w->expect_size) {
		rc = err_set(err, ERR_TRUNCATED, "blob %s: got %lld bytes, the manifest says %lld",
		             w->digest, (long long)w->written, (long long)w->expect_size);
	} else if (strcmp(hex, w->digest + 7) != 0) {
		rc = err_set(err, ERR_DIGEST,
		             "blob %s: content does not match its digest (it hashes to sha256:%s); "
		             "refused, nothing kept",
		             w->digest, hex);
	} else if (fsync(w->fd) < 0 || rename(w->tmp_path, w->final_path) < 0) {
		rc = -errno;
		err_set(err, rc, "blob %s: cannot store: %s", w->digest, err_str(rc));
	} else {
		file_sync_dir_of(w->final_path);
		free(w->tmp_path);
		w->tmp_path = NULL;
	}
	oci_blob_writer_abort(w);
	return rc;
}

void oci_blob_writer_abort(struct oci_blob_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->sha.md)
		sha256_release(&w->sha);
	w->sha.md = NULL;
	if (w->tmp_path)
		unlink(w->tmp_path);
	free(w->tmp_path);
	free(w->final_path);
	w->tmp_path = w->final_path = NULL;
}

int oci_store_put_blob(const struct oci_store *st, const char *digest, const void *p, size_t n,
                       char err[ERR_MSG_LEN])
{
	struct oci_blob_writer w;
	int rc = oci_blob_writer_open(&w, st, digest, (int64_t)n, err);
	if (rc < 0)
		return rc;
	if ((rc = oci_blob_writer_write(&w, p, n, err)) < 0) {
		oci_blob_writer_abort(&w);
		return rc;
	}
	return oci_blob_writer_commit(&w, err);
}

int oci_store_read_blob(const struct oci_store *st, const char *digest, size_t max, struct buf *out,
                        char err[ERR_MSG_LEN])
{
	if (!oci_digest_valid(digest))
		return err_set(err, ERR_INVALID, "blob digest '%s' is not sha256:<64 hex>", digest);
	char *path = oci_store_blob_path(st, digest);
	size_t start = out->len;
	int rc = file_read_all(path, out, max);
	if (rc == -EFBIG) {
		rc = err_set(err, ERR_TOO_LARGE, "blob %s: larger than %zu bytes", digest, max);
		goto out;
	}
	if (rc < 0) {
		err_set(err, rc == -ENOENT ? ERR_NOT_FOUND : rc, "blob %s: %s", digest,
		        rc == -ENOENT ? "not in the image store" : err_str(rc));
		rc = rc == -ENOENT ? ERR_NOT_FOUND : rc;
		goto out;
	}
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(out->data + start, out->len - start, hex);
	if (strcmp(hex, digest + 7) != 0)
		rc = err_set(err, ERR_DIGEST, "blob %s: stored content does not match its digest",
		             digest);
out:
	free(path);
	if (rc < 0)
		out->len = start;
	return rc;
}

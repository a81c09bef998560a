/* store_blob.c — blob paths and crash-safe blob creation: a temporary file in
 * blobs/ is written while hashed, checked against its digest, fsynced and
 * renamed into place (Ollama's POST /api/blobs semantics, reference §1.8).
 * No manifests and no garbage collection here (store.c). */
#include "ollama/store_internal.h"

#include "base/file.h"
#include "base/mem.h"
#include "base/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

char *store_blob_path(const struct store *s, const char *digest)
{
	if (!store_digest_valid(digest))
		return NULL;
	size_t n = strlen(s->blobs) + 80;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/sha256-%s", s->blobs, digest + 7);
	return p;
}

char *store_blob_partial_path(const struct store *s, const char *digest)
{
	if (!store_digest_valid(digest))
		return NULL;
	size_t n = strlen(s->blobs) + 96;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/sha256-%s-partial", s->blobs, digest + 7);
	return p;
}

bool store_blob_exists(const struct store *s, const char *digest)
{
	int64_t size;
	return store_blob_size(s, digest, &size) == 0;
}

int store_blob_size(const struct store *s, const char *digest, int64_t *size)
{
	char *path = store_blob_path(s, digest);
	if (!path)
		return ERR_INVALID;
	struct stat st;
	int rc = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -ENOENT;
	free(path);
	*size = rc == 0 ? (int64_t)st.st_size : 0;
	return rc;
}

static int write_full(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* A '.'-named temporary file beside path (same folder, so rename is atomic);
 * *tmp is xmalloc'd. */
static int open_temp(const char *dir, char **tmp)
{
	size_t n = strlen(dir) + 32;
	*tmp = xmalloc(n);
	snprintf(*tmp, n, "%s/.tmp-XXXXXX", dir);
	int fd = mkostemp(*tmp, O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		free(*tmp);
		*tmp = NULL;
		return rc;
	}
	fchmod(fd, 0644);
	return fd;
}

int store__write_atomic(const char *path, const void *data, size_t len, char err[ERR_MSG_LEN])
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	char *tmp = NULL;
	int fd = open_temp(slash ? dir : ".", &tmp);
	free(dir);
	if (fd < 0)
		return err_set(err, fd, "create temporary file for %s: %s", path, err_str(fd));
	int rc = write_full(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		err_set(err, rc, "write %s: %s", path, err_str(rc));
	} else {
		file_sync_dir_of(path);
	}
	free(tmp);
	return rc;
}

int store__read_blob(const struct store *s, const char *digest, size_t max, char **out,
                     char err[ERR_MSG_LEN])
{
	*out = NULL;
	char *path = store_blob_path(s, digest);
	if (!path)
		return err_set(err, ERR_INVALID, "invalid digest format");
	struct buf b = BUF_INIT;
	int rc = file_read_all(path, &b, max);
	free(path);
	if (rc == -EFBIG)
		rc = err_set(err, ERR_TOO_LARGE, "blob %s is larger than %zu bytes", digest, max);
	else if (rc < 0)
		rc = err_set(err, rc == -ENOENT ? ERR_NOT_FOUND : rc, "read blob %s: %s", digest,
		             err_str(rc));
	if (rc < 0) {
		buf_release(&b);
		return rc;
	}
	*out = b.data ? buf_steal(&b) : xstrdup("");
	return 0;
}

/* ---- the streaming writer ---- */

struct store_blob_writer {
	struct store *s;
	char expect[STORE_DIGEST_LEN + 1]; /* "" when any content is welcome */
	char *tmp;
	int fd;
	struct sha256_ctx sha;
};

int store_blob_writer_new(struct store *s, const char *expect_digest,
                          struct store_blob_writer **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	struct store_blob_writer *w = xcalloc(1, sizeof *w);
	if (expect_digest && store_digest_normalize(expect_digest, w->expect) < 0) {
		free(w);
		return err_set(err, ERR_INVALID, "invalid digest format");
	}
	w->s = s;
	w->fd = open_temp(s->blobs, &w->tmp);
	if (w->fd < 0) {
		int rc = w->fd;
		free(w);
		return err_set(err, rc, "create temporary blob: %s", err_str(rc));
	}
	sha256_init(&w->sha);
	*out = w;
	return 0;
}

int store_blob_writer_write(struct store_blob_writer *w, const void *p, size_t n,
                            char err[ERR_MSG_LEN])
{
	int rc = write_full(w->fd, p, n);
	if (rc < 0)
		return err_set(err, rc, "write blob: %s", err_str(rc));
	sha256_update(&w->sha, p, n);
	return 0;
}

void store_blob_writer_abort(struct store_blob_writer *w)
{
	if (!w)
		return;
	close(w->fd);
	unlink(w->tmp);
	free(w->tmp);
	sha256_release(&w->sha);
	free(w);
}

int store_blob_writer_commit(struct store_blob_writer *w, char digest_out[STORE_DIGEST_LEN + 1],
                             char err[ERR_MSG_LEN])
{
	char hex[SHA256_HEX_LEN + 1], got[STORE_DIGEST_LEN + 1];
	sha256_final_hex(&w->sha, hex);
	snprintf(got, sizeof got, "sha256:%s", hex);
	if (digest_out)
		memcpy(digest_out, got, sizeof got);
	int rc = 0;
	if (w->expect[0] && strcasecmp(w->expect + 7, hex) != 0) {
		rc = err_set(err, ERR_DIGEST, "digest mismatch, expected \"%s\", got \"%s\"",
		             w->expect, got);
	} else if (fsync(w->fd) < 0) {
		rc = -errno;
		err_set(err, rc, "fsync blob: %s", err_str(rc));
	}
	close(w->fd);
	w->fd = -1;
	if (rc == 0)
		rc = store_blob_adopt(w->s, got, w->tmp, err);
	if (rc < 0)
		unlink(w->tmp);
	free(w->tmp);
	free(w);
	return rc;
}

int store_blob_put(struct store *s, const void *p, size_t n, const char *expect_digest,
                   char digest_out[STORE_DIGEST_LEN + 1], char err[ERR_MSG_LEN])
{
	struct store_blob_writer *w;
	int rc = store_blob_writer_new(s, expect_digest, &w, err);
	if (rc < 0)
		return rc;
	if ((rc = store_blob_writer_write(w, p, n, err)) < 0) {
		store_blob_writer_abort(w);
		return rc;
	}
	return store_blob_writer_commit(w, digest_out, err);
}

int store_blob_put_file(struct store *s, const char *path, const char *expect_digest,
                        char digest_out[STORE_DIGEST_LEN + 1], int64_t *size, char err[ERR_MSG_LEN])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		return err_set(err, e, "open %s: %s", path, err_str(e));
	}
	struct store_blob_writer *w;
	int rc = store_blob_writer_new(s, expect_digest, &w, err);
	if (rc < 0)
		goto out_fd;
	char *chunk = xmalloc(1 << 20);
	int64_t total = 0;
	for (;;) {
		ssize_t r = read(fd, chunk, 1 << 20);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			err_set(err, rc, "read %s: %s", path, err_str(rc));
			break;
		}
		if (r == 0 || (rc = store_blob_writer_write(w, chunk, (size_t)r, err)) < 0)
			break;
		total += r;
	}
	free(chunk);
	if (rc < 0)
		store_blob_writer_abort(w);
	else
		rc = store_blob_writer_commit(w, digest_out, err);
	if (size)
		*size = rc == 0 ? total : 0;
out_fd:
	close(fd);
	return rc;
}

int store_blob_adopt(struct store *s, const char *digest, const char *path, char err[ERR_MSG_LEN])
{
	char *dst = store_blob_path(s, digest);
	if (!dst)
		return err_set(err, ERR_INVALID, "invalid digest format");
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	if (access(dst, F_OK) == 0) {
		unlink(path); /* same bytes are already in place */
	} else if (rename(path, dst) < 0) {
		rc = -errno;
		err_set(err, rc, "move %s into place: %s", digest, err_str(rc));
	} else {
		file_sync_dir_of(dst);
	}
	pthread_mutex_unlock(&s->lock);
	free(dst);
	return rc;
}

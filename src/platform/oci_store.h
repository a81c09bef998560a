/* oci_store.h — the image store under $GPURUN_HOME/images:
 *   blobs/sha256/<hex>   content-addressed blobs (manifests, configs, layers)
 *   rootfs/<hex>         unpacked root filesystems, keyed by manifest digest
 *   tmp/                 partial downloads and half-built trees (same filesystem,
 *                        so a finished one is renamed into place atomically)
 *
 * Invariant: a file at blobs/sha256/<hex> always hashes to <hex>. Writers
 * stream into tmp/, verify size and sha256, fsync and rename; a blob whose
 * bytes do not match its digest is refused and nothing of it is kept.
 * A store is plain paths: many processes may share one directory. */
#ifndef GPURUN_PLATFORM_OCI_STORE_H
#define GPURUN_PLATFORM_OCI_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/sha256.h"
#include "platform/oci_ref.h"

struct oci_store {
	char *root; /* "$GPURUN_HOME/images" */
};

/* Creates the folders (mode 0700 for the root). root NULL: $GPURUN_HOME/images,
 * GPURUN_HOME defaulting to ~/.gpurun. */
int oci_store_init(struct oci_store *st, const char *root, char err[ERR_MSG_LEN]);
void oci_store_release(struct oci_store *st);

/* Paths inside the store (xmalloc'd); digest must be oci_digest_valid(). */
char *oci_store_blob_path(const struct oci_store *st, const char *digest);
char *oci_store_rootfs_path(const struct oci_store *st, const char *manifest_digest);
/* A fresh unique path under tmp/ ("tmp/<what>-<pid>-<n>"). */
char *oci_store_tmp_path(const struct oci_store *st, const char *what);
bool oci_store_has_blob(const struct oci_store *st, const char *digest);

/* Writes a blob as it streams in. expect_size < 0: unknown. */
struct oci_blob_writer {
	int fd;
	char *tmp_path;
	char *final_path;
	char digest[OCI_DIGEST_LEN + 1];
	int64_t expect_size;
	int64_t written;
	struct sha256_ctx sha;
};

int oci_blob_writer_open(struct oci_blob_writer *w, const struct oci_store *st, const char *digest,
                         int64_t expect_size, char err[ERR_MSG_LEN]);
/* ERR_TOO_LARGE when more than expect_size bytes arrive. */
int oci_blob_writer_write(struct oci_blob_writer *w, const void *p, size_t n,
                          char err[ERR_MSG_LEN]);
/* Verifies size and digest, then renames into place; on ERR_DIGEST (or any
 * error) the partial file is deleted. Releases w either way. */
int oci_blob_writer_commit(struct oci_blob_writer *w, char err[ERR_MSG_LEN]);
/* Deletes the partial file and releases w. Safe after commit. */
void oci_blob_writer_abort(struct oci_blob_writer *w);

/* One-shot put of bytes already in memory, verified the same way. */
int oci_store_put_blob(const struct oci_store *st, const char *digest, const void *p, size_t n,
                       char err[ERR_MSG_LEN]);
/* Reads a blob (at most max bytes) and re-verifies its digest. */
int oci_store_read_blob(const struct oci_store *st, const char *digest, size_t max, struct buf *out,
                        char err[ERR_MSG_LEN]);

#endif

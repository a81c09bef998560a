/* oci_unpack.h — applying image layers (tar; gzip, zstd or uncompressed, as
 * libarchive detects) to a root filesystem, OCI image-spec "layer" rules:
 * entries in order, whiteouts (.wh.NAME deletes NAME of a lower layer,
 * .wh..wh..opq empties its directory of lower-layer content), hard links,
 * symlinks.
 *
 * Confinement (the point of this module): every write stays inside the root.
 * A ".." component, a path through a symlink (absolute or relative, planted
 * by any earlier entry), a hard link out of the tree and a block or
 * character device are refused with an error that names the entry; the
 * caller discards the half-built tree. setuid/setgid bits are stripped from
 * files; extended attributes (security.capability) are not applied. Owners
 * are applied when running as root. */
#ifndef GPURUN_PLATFORM_OCI_UNPACK_H
#define GPURUN_PLATFORM_OCI_UNPACK_H

#include <stdint.h>

#include "base/err.h"
#include "platform/oci_pull.h"
#include "platform/oci_store.h"

struct oci_unpack_stats {
	int64_t entries;
	int64_t files;
	int64_t dirs;
	int64_t symlinks;
	int64_t hardlinks;
	int64_t whiteouts;
	int64_t bytes; /* file content written */
};

/* Applies the layer file at layer_path onto the directory rootfd. On error
 * the tree may be partly changed; err names the entry. */
int oci_unpack_layer(int rootfd, const char *layer_path, struct oci_unpack_stats *stats,
                     char err[ERR_MSG_LEN]);

/* The unpacked root filesystem of img, built once per manifest digest at
 * oci_store_rootfs_path(): layers are applied in a fresh directory under
 * tmp/ that is renamed into place only when every layer applied cleanly.
 * *rootfs: xmalloc'd path. Safe against concurrent builders (one rename
 * wins, the other's tree is discarded). */
int oci_unpack_image(const struct oci_store *st, const struct oci_image *img, char **rootfs,
                     char err[ERR_MSG_LEN]);

#endif

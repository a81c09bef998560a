/* oci_bundle.h — an OCI bundle folder for one instance (config.json,
 * rootfs/, upper/ and work/ of the overlay, the runtime's pid and log
 * files) and its writable root: overlayfs over the cached image rootfs, or a
 * copy of it where overlayfs cannot be mounted. Mounts made here live in
 * the caller's mount namespace and must be undone with oci_bundle_unmount.
 * Needs root (mount). */
#ifndef GPURUN_PLATFORM_OCI_BUNDLE_H
#define GPURUN_PLATFORM_OCI_BUNDLE_H

#include <stdbool.h>

#include "base/err.h"
#include "platform/spec.h"

/* Makes bundle/rootfs writable over lower. *overlay: 1 use overlayfs, 0 copy,
 * -1 try overlayfs and fall back (then set to what worked). *rootfs is
 * xmalloc'd even on error; *mounted says whether it is a mount point. */
int oci_bundle_rootfs(const char *lower, const char *bundle, int *overlay, char **rootfs,
                      bool *mounted, char err[ERR_MSG_LEN]);
/* Lazy unmount; not mounted is fine. */
int oci_bundle_unmount(const char *rootfs, char err[ERR_MSG_LEN]);
bool oci_bundle_is_mountpoint(const char *path);
/* rm -rf bundle, refused (ERR_BUSY) while rootfs is still a mount point. */
int oci_bundle_remove(const char *bundle, const char *rootfs, char err[ERR_MSG_LEN]);
/* Appends the mount points at or under prefix (from /proc/self/mountinfo). */
int oci_bundle_mounts_under(const char *prefix, struct spec_strv *out);

#endif

/* oci_bundle.c — an instance's bundle folder and writable root: an overlay
 * mount (lower: the cached image rootfs, upper/work: the instance's own) or,
 * where the kernel refuses overlayfs, a copy of the rootfs; and the mount
 * table reading that the sweep uses to find what a crashed daemon left. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "platform/oci_bundle.h"
#include "platform/oci_internal.h"

static int try_overlay(const char *lower, const char *bundle, const char *rootfs,
                       char err[ERR_MSG_LEN])
{
	if (strpbrk(lower, ",:\\") || strpbrk(bundle, ",:\\"))
		return err_set(err, ERR_UNSUPPORTED, "overlay: paths with ',', ':' or '\\\\'");
	char *upper = file_path_join(bundle, "upper"), *work = file_path_join(bundle, "work");
	int rc = 0;
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0) {
		rc = err_set(err, -errno, "overlay: mkdir: %s", err_str(-errno));
		goto out;
	}
	struct buf opts = BUF_INIT;
	buf_printf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	if (mount("overlay", rootfs, "overlay", MS_NODEV, opts.data) < 0)
		rc = err_set(err, -errno, "overlay mount: %s", err_str(-errno));
	buf_release(&opts);
out:
	free(upper);
	free(work);
	return rc;
}

static int copy_tree(const char *lower, const char *rootfs, char err[ERR_MSG_LEN])
{
	struct buf src = BUF_INIT;
	buf_printf(&src, "%s/.", lower);
	const char *argv[] = {"cp", "-a", "--reflink=auto", src.data, rootfs, NULL};
	int rc = oci__run(argv, NULL, err);
	buf_release(&src);
	return rc == 0 ? 0 : rc < 0 ? rc : ERR_PROTOCOL;
}

int oci_bundle_rootfs(const char *lower, const char *bundle, int *overlay, char **rootfs,
                      bool *mounted, char err[ERR_MSG_LEN])
{
	*mounted = false;
	*rootfs = file_path_join(bundle, "rootfs");
	if (mkdir(*rootfs, 0755) < 0 && errno != EEXIST) {
		int rc = -errno;
		return err_set(err, rc, "bundle %s: mkdir rootfs: %s", bundle, err_str(rc));
	}
	char oerr[ERR_MSG_LEN] = "";
	if (*overlay != 0) {
		if (try_overlay(lower, bundle, *rootfs, oerr) == 0) {
			*overlay = 1;
			*mounted = true;
			return 0;
		}
		if (*overlay == -1)
			log_warn("overlayfs unavailable (%s): instances get a copy of the image",
			         oerr);
		*overlay = 0;
	}
	return copy_tree(lower, *rootfs, err);
}

int oci_bundle_unmount(const char *rootfs, char err[ERR_MSG_LEN])
{
	if (umount2(rootfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return err_set(err, -errno, "umount %s: %s", rootfs, err_str(-errno));
	return 0;
}

bool oci_bundle_is_mountpoint(const char *path)
{
	struct stat a, b;
	char *parent = file_path_join(path, "..");
	bool mp = stat(path, &a) == 0 && stat(parent, &b) == 0 &&
	          (a.st_dev != b.st_dev || a.st_ino == b.st_ino);
	free(parent);
	return mp;
}

int oci_bundle_remove(const char *bundle, const char *rootfs, char err[ERR_MSG_LEN])
{
	/* Never recurse into a root that is still mounted: that would delete
	 * through the overlay (or worse, a bind) instead of the upper layer. */
	if (rootfs && oci_bundle_is_mountpoint(rootfs))
		return err_set(err, ERR_BUSY, "bundle %s: rootfs still mounted; not removed",
		               bundle);
	int rc = file_remove_tree(bundle);
	return rc < 0 ? err_set(err, rc, "remove %s: %s", bundle, err_str(rc)) : 0;
}

/* Mount points under prefix, from /proc/self/mountinfo (field 5), deepest
 * last; octal escapes (\040) decoded. */
int oci_bundle_mounts_under(const char *prefix, struct spec_strv *out)
{
	struct buf b = BUF_INIT;
	if (file_read_all("/proc/self/mountinfo", &b, 16u << 20) < 0 || !b.data) {
		buf_release(&b);
		return 0;
	}
	size_t plen = strlen(prefix);
	for (char *save = NULL, *line = strtok_r(b.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f = line;
		for (int i = 0; i < 4 && f; i++) {
			f = strchr(f, ' ');
			f = f ? f + 1 : NULL;
		}
		if (!f)
			continue;
		char mp[4096];
		size_t k = 0;
		for (; *f && *f != ' ' && k < sizeof(mp) - 1; f++) {
			if (f[0] == '\\' && f[1] >= '0' && f[1] <= '3' && f[2] && f[3]) {
				mp[k++] =
				    (char)((f[1] - '0') * 64 + (f[2] - '0') * 8 + (f[3] - '0'));
				f += 3;
			} else {
				mp[k++] = *f;
			}
		}
		mp[k] = 0;
		if (strncmp(mp, prefix, plen) == 0 && (mp[plen] == '/' || mp[plen] == 0))
			spec_strv_push(out, mp);
	}
	buf_release(&b);
	return 0;
}

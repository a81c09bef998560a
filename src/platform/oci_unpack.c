/* oci_unpack.c — layer application with libarchive as the tar reader only:
 * every file, directory, link and whiteout is written by this file through
 * the confined walkers of oci_fs.c (never archive_write_disk, which follows
 * what the archive says). See oci_unpack.h for the rules enforced. */
#include "platform/oci_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "platform/oci_internal.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

struct layer {
	int rootfd;
	struct archive *a;
	struct archive_entry *e;
	struct oci_pathset *seen; /* paths this layer wrote */
	struct oci_unpack_stats *stats;
	bool root;     /* running as root: apply owners */
	bool cut_tail; /* the archive ended right after a complete last file */
};

static int meta_fd(const struct layer *L, int fd, bool dir, bool times)
{
	struct archive_entry *e = L->e;
	if (L->root && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return -errno;
	mode_t mode = archive_entry_perm(e) & 07777;
	mode &= dir ? ~(mode_t)S_ISUID : ~(mode_t)(S_ISUID | S_ISGID);
	if (dir && !L->root)
		mode |= 0700; /* keep the tree writable for the entries still to come */
	if (fchmod(fd, mode) < 0)
		return -errno;
	if (!times)
		return 0;
	struct timespec ts[2] = {
	    {archive_entry_atime(e), archive_entry_atime_nsec(e)},
	    {archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
	};
	return futimens(fd, ts) < 0 ? -errno : 0;
}

static int make_dir(struct layer *L, int dfd, const char *name, char err[ERR_MSG_LEN])
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
		oci__remove_at(dfd, name);
	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return err_set(err, -errno, "mkdir: %s", err_str(-errno));
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "open directory: %s", err_str(-errno));
	int rc = meta_fd(L, fd, true, false);
	close(fd);
	L->stats->dirs++;
	return rc < 0 ? err_set(err, rc, "set owner/mode: %s", err_str(rc)) : 0;
}

static int copy_data(struct layer *L, int fd, char err[ERR_MSG_LEN])
{
	const void *p;
	size_t n;
	la_int64_t off, end = 0;
	int r;
	while ((r = archive_read_data_block(L->a, &p, &n, &off)) == ARCHIVE_OK) {
		end = off + (la_int64_t)n;
		const char *c = p;
		while (n > 0) {
			ssize_t k = pwrite(fd, c, n, off);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return err_set(err, -errno, "write: %s", err_str(-errno));
			c += k;
			n -= (size_t)k;
			off += k;
			L->stats->bytes += k;
		}
	}
	la_int64_t size = archive_entry_size(L->e);
	if (r != ARCHIVE_EOF && end == size && size > 0) {
		/* Some writers (umoci insert) omit the last entry's padding and the
		 * end-of-archive blocks: the data is whole, the digest was checked. */
		L->cut_tail = true;
		r = ARCHIVE_EOF;
	}
	if (r != ARCHIVE_EOF)
		return err_set(err, ERR_TRUNCATED, "file content: %s",
		               archive_error_string(L->a) ? archive_error_string(L->a)
		                                          : "read error");
	if (size > 0 && ftruncate(fd, size) < 0) /* sparse files end in a hole */
		return err_set(err, -errno, "truncate: %s", err_str(-errno));
	return 0;
}

static int make_file(struct layer *L, int dfd, const char *name, char err[ERR_MSG_LEN])
{
	oci__remove_at(dfd, name);
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, -errno, "create: %s", err_str(-errno));
	int rc = copy_data(L, fd, err);
	if (rc == 0 && (rc = meta_fd(L, fd, false, true)) < 0)
		err_set(err, rc, "set owner/mode/times: %s", err_str(rc));
	close(fd);
	L->stats->files++;
	return rc;
}

static int make_symlink(struct layer *L, int dfd, const char *name, char err[ERR_MSG_LEN])
{
	const char *target = archive_entry_symlink(L->e);
	if (!target || !*target)
		return err_set(err, ERR_INVALID, "symlink without a target");
	oci__remove_at(dfd, name);
	/* The target is stored as text and never followed while unpacking. */
	if (symlinkat(target, dfd, name) < 0)
		return err_set(err, -errno, "symlink: %s", err_str(-errno));
	struct archive_entry *e = L->e;
	if (L->root && fchownat(dfd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
	                        AT_SYMLINK_NOFOLLOW) < 0)
		return err_set(err, -errno, "chown: %s", err_str(-errno));
	struct timespec ts[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
	utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
	L->stats->symlinks++;
	return 0;
}

static int make_hardlink(struct layer *L, int dfd, const char *name, const char *raw,
                         char err[ERR_MSG_LEN])
{
	char t[OCI_PATH_MAX];
	if (snprintf(t, sizeof(t), "%s", raw) >= (int)sizeof(t))
		return err_set(err, ERR_TOO_LARGE, "hard link target too long");
	if (oci__path_clean(t) < 0)
		return err_set(err, ERR_INVALID,
		               "hard link target '%s' leaves the root filesystem: refused", raw);
	if (!*t)
		return err_set(err, ERR_INVALID, "hard link to the root directory: refused");
	int tfd;
	const char *tname;
	char inner[ERR_MSG_LEN] = "";
	int rc = oci__open_parent(L->rootfd, t, false, 0, &tfd, &tname, inner);
	if (rc < 0)
		return err_set(err, rc, "hard link target '%s': %s", raw, inner);
	struct stat ts, ds;
	if (fstatat(tfd, tname, &ts, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = err_set(err, ERR_INVALID, "hard link target '%s' does not exist", raw);
	} else if (S_ISDIR(ts.st_mode)) {
		rc = err_set(err, ERR_INVALID, "hard link to the directory '%s': refused", raw);
	} else if (fstatat(dfd, name, &ds, AT_SYMLINK_NOFOLLOW) == 0 && ds.st_ino == ts.st_ino &&
	           ds.st_dev == ts.st_dev) {
		rc = 0; /* already the same file */
	} else {
		oci__remove_at(dfd, name);
		if (linkat(tfd, tname, dfd, name, 0) <
		    0) /* 0: a symlink target is linked, not followed */
			rc = err_set(err, -errno, "link: %s", err_str(-errno));
	}
	close(tfd);
	L->stats->hardlinks += rc == 0;
	return rc;
}

/* .wh.NAME deletes NAME; .wh..wh..opq empties its directory of what lower
 * layers put there. Entries of this same layer are kept (image-spec). */
static int whiteout(struct layer *L, char *path, const char *base, char err[ERR_MSG_LEN])
{
	int dfd;
	const char *name;
	char inner[ERR_MSG_LEN] = "";
	int rc = oci__open_parent(L->rootfd, path, false, 0, &dfd, &name, inner);
	if (rc == -ENOENT)
		return 0; /* nothing below to hide */
	if (rc < 0)
		return err_set(err, rc, "whiteout: %s", inner);
	size_t dir_len = (size_t)(base - path);
	char prefix[OCI_PATH_MAX];
	snprintf(prefix, sizeof(prefix), "%.*s", dir_len ? (int)dir_len - 1 : 0, path);
	const char *victim = base + strlen(WH_PREFIX);
	if (strcmp(base, WH_OPAQUE) == 0) {
		rc = oci__remove_children_except(dfd, "", prefix, L->seen);
	} else if (!*victim || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0) {
		rc = err_set(err, ERR_INVALID, "whiteout of '%s': refused", victim);
	} else {
		char vpath[OCI_PATH_MAX + 8];
		snprintf(vpath, sizeof(vpath), "%s%s%s", prefix, *prefix ? "/" : "", victim);
		rc = oci__pathset_has(L->seen, vpath) ? 0 : oci__remove_at(dfd, victim);
	}
	close(dfd);
	if (rc < 0 && !err[0])
		err_set(err, rc, "whiteout: %s", err_str(rc));
	L->stats->whiteouts++;
	return rc;
}

static int apply(struct layer *L, char *path, char err[ERR_MSG_LEN])
{
	if (!*path)
		return 0; /* the root directory itself keeps its own mode */
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0)
		return whiteout(L, path, base, err);
	unsigned type = archive_entry_filetype(L->e);
	if (type == AE_IFCHR || type == AE_IFBLK)
		return err_set(err, ERR_INVALID, "%s device node (%u:%u): refused",
		               type == AE_IFCHR ? "character" : "block",
		               (unsigned)archive_entry_rdevmajor(L->e),
		               (unsigned)archive_entry_rdevminor(L->e));
	int dfd;
	const char *name;
	int rc =
	    oci__open_parent(L->rootfd, path, true, L->root ? 0755 : 0755 | 0700, &dfd, &name, err);
	if (rc < 0)
		return rc;
	const char *hl = archive_entry_hardlink(L->e);
	if (hl)
		rc = make_hardlink(L, dfd, name, hl, err);
	else if (type == AE_IFDIR)
		rc = make_dir(L, dfd, name, err);
	else if (type == AE_IFREG)
		rc = make_file(L, dfd, name, err);
	else if (type == AE_IFLNK)
		rc = make_symlink(L, dfd, name, err);
	else if (type == AE_IFIFO) {
		oci__remove_at(dfd, name);
		if (mknodat(dfd, name, S_IFIFO | (archive_entry_perm(L->e) & 0777), 0) < 0)
			rc = err_set(err, -errno, "mkfifo: %s", err_str(-errno));
	} else
		log_warn("image layer: entry '%s' of type %o skipped", path, type);
	close(dfd);
	if (rc == 0)
		oci__pathset_add(L->seen, path);
	return rc;
}

static int next_entry(struct layer *L, char err[ERR_MSG_LEN])
{
	const char *raw = archive_entry_pathname(L->e);
	char path[OCI_PATH_MAX];
	if (!raw || !*raw)
		return err_set(err, ERR_INVALID, "entry %lld has no name",
		               (long long)L->stats->entries);
	if (snprintf(path, sizeof(path), "%s", raw) >= (int)sizeof(path))
		return err_set(err, ERR_TOO_LARGE, "entry '%.60s...': path longer than %d", raw,
		               OCI_PATH_MAX);
	if (oci__path_clean(path) < 0)
		return err_set(err, ERR_INVALID,
		               "entry '%s': a '..' component would leave the root filesystem: "
		               "refused",
		               raw);
	L->stats->entries++;
	char inner[ERR_MSG_LEN] = "";
	int rc = apply(L, path, inner);
	if (rc < 0)
		err_set(err, rc, "entry '%s': %s", raw, inner[0] ? inner : err_str(rc));
	return rc;
}

int oci_unpack_layer(int rootfd, const char *layer_path, struct oci_unpack_stats *stats,
                     char err[ERR_MSG_LEN])
{
	struct oci_unpack_stats dummy = {0};
	struct layer L = {
	    .rootfd = rootfd, .stats = stats ? stats : &dummy, .root = geteuid() == 0};
	L.a = archive_read_new();
	archive_read_support_filter_gzip(L.a);
	archive_read_support_filter_zstd(L.a);
	archive_read_support_format_tar(L.a);
	int rc = 0;
	if (archive_read_open_filename(L.a, layer_path, 1 << 16) != ARCHIVE_OK) {
		rc = err_set(err, ERR_INVALID, "cannot read %s: %s", layer_path,
		             archive_error_string(L.a));
		goto out;
	}
	L.seen = oci__pathset_new();
	int r;
	while ((r = archive_read_next_header(L.a, &L.e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if ((rc = next_entry(&L, err)) < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF && L.cut_tail)
		log_warn("image layer %s ends without tar padding after its last file: accepted",
		         layer_path);
	else if (r != ARCHIVE_EOF)
		rc = err_set(err, ERR_INVALID, "not a valid tar layer after %lld entries: %s",
		             (long long)L.stats->entries, archive_error_string(L.a));
out:
	oci__pathset_free(L.seen);
	archive_read_free(L.a);
	return rc;
}

static int build(const struct oci_store *st, const struct oci_image *img, const char *dir,
                 char err[ERR_MSG_LEN])
{
	if (mkdir(dir, 0755) < 0)
		return err_set(err, -errno, "image %s: cannot create %s: %s", img->digest, dir,
		               err_str(-errno));
	chmod(dir, 0755);
	int rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return err_set(err, -errno, "open %s: %s", dir, err_str(-errno));
	int rc = 0;
	struct oci_unpack_stats stats = {0};
	for (int64_t i = 0; i < img->manifest.n_items && rc == 0; i++) {
		const char *digest = img->manifest.items[i].digest;
		char *blob = oci_store_blob_path(st, digest);
		char inner[ERR_MSG_LEN] = "";
		rc = oci_unpack_layer(rootfd, blob, &stats, inner);
		if (rc < 0)
			err_set(err, rc, "image %s, layer %lld (%s): %s", img->digest, (long long)i,
			        digest, inner);
		free(blob);
	}
	if (rc == 0)
		syncfs(rootfd);
	close(rootfd);
	if (rc == 0)
		log_debug("image %s: %lld entries, %lld files, %lld bytes", img->digest,
		          (long long)stats.entries, (long long)stats.files, (long long)stats.bytes);
	return rc;
}

int oci_unpack_image(const struct oci_store *st, const struct oci_image *img, char **rootfs,
                     char err[ERR_MSG_LEN])
{
	*rootfs = NULL;
	char *final = oci_store_rootfs_path(st, img->digest);
	if (file_is_dir(final)) {
		*rootfs = final;
		return 0;
	}
	char *tmp = oci_store_tmp_path(st, "rootfs");
	int rc = build(st, img, tmp, err);
	if (rc == 0 && rename(tmp, final) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			file_remove_tree(tmp); /* another builder won */
		} else {
			rc = err_set(err, -errno, "image %s: cannot move the rootfs into place: %s",
			             img->digest, err_str(-errno));
		}
	}
	if (rc < 0) {
		file_remove_tree(tmp);
		free(final);
	} else {
		file_sync_dir_of(final);
		*rootfs = final;
	}
	free(tmp);
	return rc;
}

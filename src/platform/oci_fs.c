/* oci_fs.c — filesystem operations confined to a root directory fd, for
 * unpacking untrusted layers: every path component is opened with openat and
 * O_NOFOLLOW, so neither a symlink (absolute or relative) nor a ".." planted
 * by an earlier entry can lead a write outside the root. Also the path set
 * that tracks what one layer wrote (for opaque whiteouts). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"
#include "platform/oci_internal.h"

#define REMOVE_DEPTH_MAX 2048

int oci__path_clean(char *path)
{
	char *w = path;
	const char *r = path;
	while (*r) {
		while (*r == '/')
			r++;
		const char *end = strchrnul(r, '/');
		size_t n = (size_t)(end - r);
		if (n == 2 && r[0] == '.' && r[1] == '.')
			return ERR_INVALID;
		if (n > 0 && !(n == 1 && r[0] == '.')) {
			if (w != path)
				*w++ = '/';
			memmove(w, r, n);
			w += n;
		}
		r = end;
	}
	*w = 0;
	return 0;
}

static int refuse_component(int fd, const char *comp, const char *full, size_t upto,
                            char err[ERR_MSG_LEN])
{
	struct stat st;
	if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return err_set(err, ERR_INVALID,
		               "path goes through the symlink '%.*s': refused (a layer may not "
		               "write through a link)",
		               (int)upto, full);
	return err_set(err, ERR_INVALID, "'%.*s' is not a directory", (int)upto, full);
}

int oci__open_parent(int rootfd, char *path, bool create, int dir_mode, int *dirfd,
                     const char **name, char err[ERR_MSG_LEN])
{
	int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return err_set(err, -errno, "dup: %s", err_str(-errno));
	char *comp = path;
	for (char *slash; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
		*slash = 0;
		int next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, (mode_t)dir_mode) < 0 && errno != EEXIST) {
				int rc = -errno;
				*slash = '/';
				close(fd);
				return err_set(err, rc, "cannot create '%.*s': %s",
				               (int)(slash - path), path, err_str(rc));
			}
			next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		int e = errno;
		if (next < 0) {
			/* still cut at the slash: comp names this one component */
			int rc = e == ENOENT ? -ENOENT
			                     : refuse_component(fd, comp, path,
			                                        (size_t)(slash - path), err);
			if (e == ENOENT)
				err_set(err, rc, "'%.*s' does not exist", (int)(slash - path),
				        path);
			*slash = '/';
			close(fd);
			return rc;
		}
		*slash = '/';
		close(fd);
		fd = next;
	}
	*dirfd = fd;
	*name = comp;
	return 0;
}

static int remove_rec(int dirfd, const char *name, int depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (depth > REMOVE_DEPTH_MAX)
		return ERR_TOO_LARGE;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	int rc = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		rc = remove_rec(fd, e->d_name, depth + 1);
	}
	closedir(d);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}

int oci__remove_at(int dirfd, const char *name)
{
	return remove_rec(dirfd, name, 0);
}

int oci__remove_children_except(int dirfd, const char *name, const char *prefix,
                                const struct oci_pathset *keep)
{
	int fd = openat(dirfd, *name ? name : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	int rc = 0;
	struct buf p = BUF_INIT;
	for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		buf_reset(&p);
		buf_printf(&p, "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
		if (!oci__pathset_has(keep, p.data))
			rc = remove_rec(fd, e->d_name, 0);
	}
	buf_release(&p);
	closedir(d);
	return rc;
}

/* ---- path set: open addressing, FNV-1a ---------------------------------- */

struct oci_pathset {
	char **slots;
	size_t cap; /* power of two */
	size_t n;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct oci_pathset *oci__pathset_new(void)
{
	struct oci_pathset *s = xcalloc(1, sizeof(*s));
	s->cap = 256;
	s->slots = xcalloc(s->cap, sizeof(char *));
	return s;
}

void oci__pathset_free(struct oci_pathset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i]);
	free(s->slots);
	free(s);
}

static void put(char **slots, size_t cap, char *p)
{
	size_t i = fnv(p) & (cap - 1);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = p;
}

void oci__pathset_add(struct oci_pathset *s, const char *path)
{
	if (oci__pathset_has(s, path))
		return;
	if ((s->n + 1) * 2 > s->cap) {
		char **slots = xcalloc(s->cap * 2, sizeof(char *));
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i])
				put(slots, s->cap * 2, s->slots[i]);
		free(s->slots);
		s->slots = slots;
		s->cap *= 2;
	}
	put(s->slots, s->cap, xstrdup(path));
	s->n++;
}

bool oci__pathset_has(const struct oci_pathset *s, const char *path)
{
	for (size_t i = fnv(path) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
		if (strcmp(s->slots[i], path) == 0)
			return true;
	return false;
}

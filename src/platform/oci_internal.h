/* oci_internal.h — helpers shared by the oci_* files of the platform and
 * nothing else: the registry transport (libcurl) used by oci_pull.c, and a
 * fork/exec runner for the helper commands (crun, runc, ip, cp). */
#ifndef GPURUN_PLATFORM_OCI_INTERNAL_H
#define GPURUN_PLATFORM_OCI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/err.h"
#include "platform/oci_pull.h"

/* ---- registry transport (oci_registry.c) ------------------------------- */

struct oci_reg;

/* Called with each piece of a 2xx body; a negative return aborts. */
typedef int (*oci_reg_sink_fn)(void *data, const void *p, size_t n);

struct oci_reg *oci__reg_new(const struct oci_ref *ref, const struct oci_pull_opts *o);
void oci__reg_free(struct oci_reg *r);
/* GET /v2/<repo>/<kind>/<name> (kind "manifests" or "blobs"), answering an
 * auth challenge once. A 2xx body goes to sink; ctype (>= 128 bytes, may be
 * NULL) receives the Content-Type. Other statuses become an error naming the
 * registry's own message. */
int oci__reg_get(struct oci_reg *r, const char *kind, const char *name, const char *accept,
                 oci_reg_sink_fn sink, void *data, char *ctype, char err[ERR_MSG_LEN]);

/* ---- helper commands (oci_exec.c) --------------------------------------- */

struct oci_exec {
	const char *const *argv; /* argv[0] is looked up in PATH */
	int out_fd;              /* child's stdout; -1: captured into out (if out) */
	int err_fd;              /* child's stderr; -1: captured into out as well */
	struct buf *out;         /* captured output (stdout then stderr), may be NULL */
	bool private_mounts;     /* unshare(CLONE_NEWNS), / made private first */
	const char *umount;      /* with private_mounts: lazily unmount this path */
	bool new_session;        /* setsid() in the child */
	const char *input;       /* fed to the child's stdin (< 64 KiB); NULL: /dev/null */
};

/* Runs argv to completion; returns its exit status (0..255), 128 + signal
 * when it died by one, or a negative error when it could not start. */
int oci__exec(const struct oci_exec *e, char err[ERR_MSG_LEN]);
/* Short form: argv captured, an error with the command's output when it
 * exits non-zero. */
int oci__run(const char *const *argv, const char *input, char err[ERR_MSG_LEN]);

/* ---- confined filesystem walking (oci_fs.c) ------------------------------
 * Paths are relative to a root directory fd; no call ever follows a symlink
 * or a ".." out of that root. */

#define OCI_PATH_MAX 4096

/* Cleans a tar path in place: leading '/', "." and empty components dropped.
 * ERR_INVALID when a component is "..". An empty result names the root. */
int oci__path_clean(char *path);
/* Opens (O_PATH) the directory holding path's last component and points
 * *name at that component. create: missing parents are made (dir_mode). A
 * parent that is a symlink is refused with ERR_INVALID and a message naming
 * it; ENOENT when !create and a parent is missing. */
int oci__open_parent(int rootfd, char *path, bool create, int dir_mode, int *dirfd,
                     const char **name, char err[ERR_MSG_LEN]);
/* rm -rf of name inside dirfd, never following a symlink. A missing name is
 * not an error. */
int oci__remove_at(int dirfd, const char *name);
/* Removes every child of the directory dirfd/name whose path (prefix + "/" +
 * child) is not in keep. */
struct oci_pathset;
int oci__remove_children_except(int dirfd, const char *name, const char *prefix,
                                const struct oci_pathset *keep);

/* A set of paths (the entries one layer has written). */
struct oci_pathset *oci__pathset_new(void);
void oci__pathset_free(struct oci_pathset *s);
void oci__pathset_add(struct oci_pathset *s, const char *path);
bool oci__pathset_has(const struct oci_pathset *s, const char *path);

#endif

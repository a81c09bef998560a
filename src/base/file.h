/* file.h — whole-file reads, crash-safe writes, directories, paths.
 * file_write_atomic writes a temporary file beside the target, fsyncs it,
 * renames it over the target and fsyncs the directory: a reader sees the old
 * content or the new, never a mix, even across a crash. */
#ifndef GPURUN_BASE_FILE_H
#define GPURUN_BASE_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* Appends the file's bytes to out; at most max_bytes (0 = no limit). */
int file_read_all(const char *path, struct buf *out, size_t max_bytes);
int file_write_atomic(const char *path, const void *data, size_t len, int mode);
/* fsync the directory holding path (after a rename into it). */
int file_sync_dir_of(const char *path);
/* mkdir -p with mode for the directories it creates. */
int file_mkdir_p(const char *path, int mode);
/* rm -rf; a missing path is not an error. */
int file_remove_tree(const char *path);
bool file_exists(const char *path);
bool file_is_dir(const char *path);
/* $HOME, or the passwd entry's home. Static storage. */
const char *file_home_dir(void);
/* Joins a and b with one '/'. xmalloc'd. */
char *file_path_join(const char *a, const char *b);

#endif

/* logs.h — per-instance log files: $GPURUN_HOME/logs/<service>/<instance>.log,
 * one line per line the workload printed:
 *     2026-11-28T15:44:08.123456789Z stdout text as printed
 * (streams: stdout, stderr, and "system" for the platform's own notes such as
 * start, SIGTERM, exit). Lines longer than LOGS_LINE_MAX are split. Reading
 * merges a service's files by time, for `gpurun logs read NAME --limit N`,
 * and a cursor returns only new lines, for `--follow`.
 *
 * The writer appends with write(2) on the caller's thread (the loop thread:
 * page-cache writes, no fsync); readers open the files independently and
 * may run on any thread. */
#ifndef GPURUN_PLATFORM_LOGS_H
#define GPURUN_PLATFORM_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/buf.h"
#include "base/err.h"

#define LOGS_LINE_MAX 16384
#define LOGS_READ_MAX (64 << 20) /* bytes read from the end of one file at most */

enum logs_stream { LOGS_STDOUT, LOGS_STDERR, LOGS_SYSTEM };

struct logs_writer {
	int fd;                /* -1 when closed */
	struct buf partial[2]; /* stdout, stderr: bytes after the last newline */
};

/* Creates the file's directory (0700) and opens it for appending (0600). */
int logs_writer_open(struct logs_writer *w, const char *path, char err[ERR_MSG_LEN]);
/* Appends complete lines of p (n bytes) from stream, stamped wall_ns. */
void logs_writer_feed(struct logs_writer *w, enum logs_stream s, const char *p, size_t n,
                      int64_t wall_ns);
/* A platform note on the "system" stream. */
void logs_writer_note(struct logs_writer *w, int64_t wall_ns, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes out unterminated lines (at EOF) and closes. */
void logs_writer_close(struct logs_writer *w, int64_t wall_ns);

/* ---- an instance's output files (logs_tail.c) ----
 * An instance's stdout and stderr are files it appends to, beside its log
 * (<id>.stdout, <id>.stderr), not pipes: they outlive the daemon that
 * started it. The daemon tails them into the log (inotify; a 200 ms poll
 * where inotify fails) and keeps in <id>.pos how far the log holds complete
 * lines, so a restarted daemon that adopts the instance carries on from
 * there. Lines are stamped when the daemon reads them (after a restart:
 * when it comes back). Bytes already in the log are freed from the disk by
 * punching holes; the files are removed when the instance is gone. Loop
 * thread only. */
struct logs_tail;
/* Creates (empties) the files and starts tailing them into w; fds are the
 * instance's write ends (the caller passes them to the child and closes
 * them). w must outlive the tail. */
int logs_tail_create(uv_loop_t *loop, const char *log_path, struct logs_writer *w, int fds[2],
                     struct logs_tail **out, char err[ERR_MSG_LEN]);
/* Tails the files of a running instance another daemon started, from
 * where that one stopped. loop NULL: no watching (logs_tail_poll only). */
int logs_tail_open(uv_loop_t *loop, const char *log_path, struct logs_writer *w,
                   struct logs_tail **out, char err[ERR_MSG_LEN]);
/* Reads what is new now, stamped wall_ns (0: now). */
void logs_tail_poll(struct logs_tail *t, int64_t wall_ns);
/* Stops tailing (a final logs_tail_poll first for the last lines); remove
 * deletes the files. Memory goes once the handles have closed. NULL ok. */
void logs_tail_close(struct logs_tail *t, bool remove);
/* What the files of a gone instance still hold, into its log; then they
 * are removed. */
int logs_tail_drain(const char *log_path, int64_t wall_ns, char err[ERR_MSG_LEN]);

struct logs_line {
	int64_t ts_ns;
	char *instance; /* the file's name without .log */
	char *stream;
	char *text;
};

/* The last limit lines (limit <= 0: all) of every *.log in dir, oldest
 * first. A missing dir is no lines. */
int logs_read(const char *dir, int64_t limit, struct logs_line **out, int64_t *n);
void logs_lines_free(struct logs_line *l, int64_t n);
/* "2026-...Z instance stream text\n" */
void logs_line_format(const struct logs_line *l, struct buf *out);

/* --follow: remembers how far each file was read. */
struct logs_cursor {
	char *dir;
	struct logs_cursor_file {
		char *name;
		int64_t offset;
	} * files;
	int64_t n_files;
};

/* Starts at the end of every file now in dir (new files are read whole). */
int logs_cursor_init(struct logs_cursor *c, const char *dir);
/* Complete lines written since the last call, by time. */
int logs_cursor_poll(struct logs_cursor *c, struct logs_line **out, int64_t *n);
void logs_cursor_release(struct logs_cursor *c);

#endif

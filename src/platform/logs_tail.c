/* logs_tail.c — an instance's output files and their tail (see logs.h): the
 * instance appends raw bytes to <id>.stdout and <id>.stderr beside its log;
 * the daemon reads what is new when inotify says so (uv_fs_event), stamps
 * it into the log through a logs_writer, and keeps in <id>.pos how far the
 * log has complete lines, so a daemon started later carries on from there.
 * Bytes turned into lines are given back to the disk by punching holes
 * (the instance's appends are unaffected). Not here: the log format. */
#include "platform/logs.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAIL_CHUNK (64 * 1024)
#define PUNCH_STEP (256 * 1024) /* holes punched once this much is consumed */
#define BLOCK      4096
#define POLL_MS    200 /* the fallback's period */

struct logs_tail {
	uv_loop_t *loop;
	struct logs_writer *w;
	uv_fs_event_t ev[2];
	uv_timer_t poll_timer; /* only where inotify cannot watch the files */
	int fd[2];             /* raw stdout, stderr, read side; -1: none */
	int64_t off[2];        /* bytes fed to the writer */
	int64_t punched[2];
	int pos_fd;
	char *path[3]; /* .stdout, .stderr, .pos */
	int handles;   /* handles not yet closed */
	bool closing;
	char buf[TAIL_CHUNK];
};

static char *sibling(const char *log_path, const char *ext)
{
	size_t n = strlen(log_path);
	if (n > 4 && !strcmp(log_path + n - 4, ".log"))
		n -= 4;
	char *p = xmalloc(n + strlen(ext) + 1);
	memcpy(p, log_path, n);
	strcpy(p + n, ext);
	return p;
}

static struct logs_tail *tail_new(uv_loop_t *loop, const char *log_path, struct logs_writer *w)
{
	struct logs_tail *t = xcalloc(1, sizeof *t);
	t->loop = loop;
	t->w = w;
	t->fd[0] = t->fd[1] = t->pos_fd = -1;
	t->path[0] = sibling(log_path, ".stdout");
	t->path[1] = sibling(log_path, ".stderr");
	t->path[2] = sibling(log_path, ".pos");
	return t;
}

static void tail_free(struct logs_tail *t)
{
	for (int i = 0; i < 2; i++)
		if (t->fd[i] >= 0)
			close(t->fd[i]);
	if (t->pos_fd >= 0)
		close(t->pos_fd);
	for (int i = 0; i < 3; i++)
		free(t->path[i]);
	free(t);
}

static void on_change(uv_fs_event_t *h, const char *name, int events, int status)
{
	struct logs_tail *t = h->data;
	if (!t->closing)
		logs_tail_poll(t, 0);
}

static void on_timer(uv_timer_t *h)
{
	struct logs_tail *t = h->data;
	if (!t->closing)
		logs_tail_poll(t, 0);
}

/* Watches the files (a loop is optional: without one, the caller polls);
 * where inotify cannot, a timer polls them. */
static void watch(struct logs_tail *t)
{
	if (!t->loop)
		return;
	int rc = 0;
	for (int i = 0; i < 3; i++) {
		uv_handle_t *h = i < 2 ? (uv_handle_t *)&t->ev[i] : (uv_handle_t *)&t->poll_timer;
		if (i < 2)
			uv_fs_event_init(t->loop, &t->ev[i]);
		else
			uv_timer_init(t->loop, &t->poll_timer);
		h->data = t;
		t->handles++;
		if (i < 2 && !rc)
			rc = uv_fs_event_start(&t->ev[i], on_change, t->path[i], 0);
	}
	if (rc) {
		log_warn("logs: cannot watch %s (%s): polling every %d ms", t->path[0],
		         uv_strerror(rc), POLL_MS);
		uv_timer_start(&t->poll_timer, on_timer, POLL_MS, POLL_MS);
	}
}

static int open_read(struct logs_tail *t, char err[ERR_MSG_LEN])
{
	for (int i = 0; i < 2; i++) {
		t->fd[i] = open(t->path[i], O_RDONLY | O_CLOEXEC);
		if (t->fd[i] < 0)
			return err_set(err, -errno, "cannot open %s: %s", t->path[i],
			               strerror(errno));
	}
	t->pos_fd = open(t->path[2], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (t->pos_fd < 0)
		return err_set(err, -errno, "cannot open %s: %s", t->path[2], strerror(errno));
	return 0;
}

int logs_tail_create(uv_loop_t *loop, const char *log_path, struct logs_writer *w, int fds[2],
                     struct logs_tail **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	fds[0] = fds[1] = -1;
	struct logs_tail *t = tail_new(loop, log_path, w);
	int rc = 0;
	for (int i = 0; i < 2 && !rc; i++) {
		fds[i] =
		    open(t->path[i], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
		if (fds[i] < 0)
			rc = err_set(err, -errno, "cannot create %s: %s", t->path[i],
			             strerror(errno));
	}
	if (!rc) {
		unlink(t->path[2]); /* an earlier instance's offsets, if the id repeats */
		rc = open_read(t, err);
	}
	if (rc) {
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		fds[0] = fds[1] = -1;
		tail_free(t);
		return rc;
	}
	watch(t);
	*out = t;
	return 0;
}

int logs_tail_open(uv_loop_t *loop, const char *log_path, struct logs_writer *w,
                   struct logs_tail **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	struct logs_tail *t = tail_new(loop, log_path, w);
	int rc = open_read(t, err);
	if (rc) {
		tail_free(t);
		return rc;
	}
	char pos[64] = "";
	ssize_t n = pread(t->pos_fd, pos, sizeof pos - 1, 0);
	long long a = 0, b = 0;
	if (n > 0 && sscanf(pos, "%lld %lld", &a, &b) == 2 && a >= 0 && b >= 0) {
		t->off[0] = a;
		t->off[1] = b;
		t->punched[0] = a / BLOCK * BLOCK;
		t->punched[1] = b / BLOCK * BLOCK;
	}
	watch(t);
	*out = t;
	return 0;
}

/* Offsets of complete lines: what a later daemon reads again from. */
static void save_pos(struct logs_tail *t)
{
	char pos[64];
	int64_t a = t->off[0] - (int64_t)t->w->partial[0].len;
	int64_t b = t->off[1] - (int64_t)t->w->partial[1].len;
	int n = snprintf(pos, sizeof pos, "%020lld %020lld\n", (long long)a, (long long)b);
	if (pwrite(t->pos_fd, pos, (size_t)n, 0) != n)
		log_debug("logs: %s: %s", t->path[2], strerror(errno));
}

/* Frees the disk blocks of bytes whose lines are in the log. */
static void punch(struct logs_tail *t, int i)
{
	int64_t done = t->off[i] - (int64_t)t->w->partial[i].len;
	int64_t upto = done / BLOCK * BLOCK;
	if (upto - t->punched[i] < PUNCH_STEP)
		return;
	if (fallocate(t->fd[i], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, t->punched[i],
	              upto - t->punched[i]) == 0 ||
	    errno == EOPNOTSUPP)
		t->punched[i] = upto; /* a file system without holes keeps the bytes */
}

void logs_tail_poll(struct logs_tail *t, int64_t wall_ns)
{
	if (!t)
		return;
	bool moved = false;
	for (int i = 0; i < 2; i++) {
		if (t->fd[i] < 0)
			continue;
		for (;;) {
			ssize_t n = pread(t->fd[i], t->buf, sizeof t->buf, t->off[i]);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			logs_writer_feed(t->w, i ? LOGS_STDERR : LOGS_STDOUT, t->buf, (size_t)n,
			                 wall_ns ? wall_ns : time_wall_ns());
			t->off[i] += n;
			moved = true;
		}
		punch(t, i);
	}
	if (moved)
		save_pos(t);
}

static void ev_closed(uv_handle_t *h)
{
	struct logs_tail *t = h->data;
	if (--t->handles == 0)
		tail_free(t);
}

void logs_tail_close(struct logs_tail *t, bool remove)
{
	if (!t || t->closing)
		return;
	t->closing = true;
	if (remove)
		for (int i = 0; i < 3; i++)
			unlink(t->path[i]);
	if (t->handles == 0) {
		tail_free(t);
		return;
	}
	for (int i = 0; i < 2; i++) {
		uv_fs_event_stop(&t->ev[i]);
		uv_close((uv_handle_t *)&t->ev[i], ev_closed);
	}
	uv_close((uv_handle_t *)&t->poll_timer, ev_closed);
}

int logs_tail_drain(const char *log_path, int64_t wall_ns, char err[ERR_MSG_LEN])
{
	char *out = sibling(log_path, ".stdout");
	bool any = access(out, F_OK) == 0;
	free(out);
	if (!any)
		return 0; /* nothing left behind */
	struct logs_writer w;
	int rc = logs_writer_open(&w, log_path, err);
	if (rc)
		return rc;
	struct logs_tail *t;
	rc = logs_tail_open(NULL, log_path, &w, &t, err);
	if (rc == 0) {
		logs_tail_poll(t, wall_ns);
		logs_tail_close(t, true);
	}
	logs_writer_close(&w, wall_ns);
	return rc;
}

/* logs.c — instance log files: a line-stamping appender for the stdout and
 * stderr pipes, a merged tail reader and a follow cursor (see logs.h). The
 * reader reads only the end of big files, doubling the window until it has
 * enough lines. */
#include "platform/logs.h"

#include "base/file.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const stream_names[] = {"stdout", "stderr", "system"};

int logs_writer_open(struct logs_writer *w, const char *path, char err[ERR_MSG_LEN])
{
	memset(w, 0, sizeof *w);
	w->fd = -1;
	char *dir = xstrdup(path);
	int rc = file_mkdir_p(dirname(dir), 0700);
	free(dir);
	if (rc)
		return err_set(err, rc, "cannot create the log folder for %s: %s", path,
		               err_str(rc));
	w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (w->fd < 0)
		return err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	return 0;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return; /* a full disk loses log lines, not the instance */
		p += k;
		n -= (size_t)k;
	}
}

static void emit(struct logs_writer *w, enum logs_stream s, const char *p, size_t n, int64_t ts)
{
	char stamp[48];
	struct buf line = BUF_INIT;
	time_format_rfc3339(ts, stamp, sizeof stamp);
	if (n && p[n - 1] == '\r')
		n--;
	buf_printf(&line, "%s %s ", stamp, stream_names[s]);
	for (size_t i = 0; i < n; i++) /* one record per line, whatever the bytes */
		buf_putc(&line, p[i] == '\n' || p[i] == '\0' ? ' ' : p[i]);
	buf_putc(&line, '\n');
	write_all(w->fd, line.data, line.len);
	buf_release(&line);
}

void logs_writer_feed(struct logs_writer *w, enum logs_stream s, const char *p, size_t n,
                      int64_t wall_ns)
{
	if (w->fd < 0 || s > LOGS_STDERR)
		return;
	struct buf *part = &w->partial[s];
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (part->len + take > LOGS_LINE_MAX) {
			take = LOGS_LINE_MAX - part->len;
			nl = NULL;
		}
		buf_append(part, p, take);
		p += take;
		n -= take;
		if (nl) {
			p++;
			n--;
		}
		if (nl || part->len >= LOGS_LINE_MAX) {
			emit(w, s, part->data ? part->data : "", part->len, wall_ns);
			buf_reset(part);
		}
	}
}

void logs_writer_note(struct logs_writer *w, int64_t wall_ns, const char *fmt, ...)
{
	if (w->fd < 0)
		return;
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	emit(w, LOGS_SYSTEM, b.data ? b.data : "", b.len, wall_ns);
	buf_release(&b);
}

void logs_writer_close(struct logs_writer *w, int64_t wall_ns)
{
	for (int s = 0; s < 2; s++) {
		if (w->fd >= 0 && w->partial[s].len)
			emit(w, (enum logs_stream)s, w->partial[s].data, w->partial[s].len,
			     wall_ns);
		buf_release(&w->partial[s]);
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

/* ---- reading ---- */

/* Parses "STAMP STREAM TEXT"; false for anything else. */
static bool parse_line(const char *p, size_t n, const char *instance, struct logs_line *l)
{
	const char *sp1 = memchr(p, ' ', n);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p)) : NULL;
	if (!sp1 || !sp2)
		return false;
	char stamp[48];
	size_t sl = (size_t)(sp1 - p);
	if (sl >= sizeof stamp || sl < 20)
		return false;
	memcpy(stamp, p, sl);
	stamp[sl] = 0;
	struct tm tm = {0};
	unsigned frac = 0;
	char frac_s[16] = "";
	if (sscanf(stamp, "%4d-%2d-%2dT%2d:%2d:%2d.%9[0-9]Z", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, frac_s) < 6)
		return false;
	size_t fl = strlen(frac_s);
	for (size_t i = 0; i < 9; i++)
		frac = frac * 10 + (i < fl ? (unsigned)(frac_s[i] - '0') : 0);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	l->ts_ns = (int64_t)timegm(&tm) * 1000000000LL + frac;
	l->instance = xstrdup(instance);
	l->stream = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	l->text = xstrndup(sp2 + 1, n - (size_t)(sp2 + 1 - p));
	return true;
}

static void line_release(struct logs_line *l)
{
	free(l->instance);
	free(l->stream);
	free(l->text);
}

struct lines {
	struct logs_line *v;
	int64_t n, cap;
};

static void lines_push(struct lines *ls, const struct logs_line *l)
{
	if (ls->n == ls->cap) {
		ls->cap = ls->cap ? ls->cap * 2 : 64;
		ls->v = xrealloc(ls->v, sizeof *ls->v * (size_t)ls->cap);
	}
	ls->v[ls->n++] = *l;
}

/* Parses complete lines of b (skipping a partial first one when skip_first);
 * returns the bytes consumed (up to the last newline). */
static size_t parse_chunk(const char *b, size_t len, bool skip_first, const char *instance,
                          struct lines *out)
{
	size_t i = 0, used = 0;
	if (skip_first) {
		const char *nl = memchr(b, '\n', len);
		if (!nl)
			return 0;
		i = used = (size_t)(nl - b) + 1;
	}
	while (i < len) {
		const char *nl = memchr(b + i, '\n', len - i);
		if (!nl)
			break;
		struct logs_line l;
		if (parse_line(b + i, (size_t)(nl - b) - i, instance, &l))
			lines_push(out, &l);
		i = used = (size_t)(nl - b) + 1;
	}
	return used;
}

/* Reads the last lines of one file: enough for limit, or all. */
static int tail_file(const char *path, const char *instance, int64_t limit, struct lines *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct stat sb;
	int rc = fstat(fd, &sb) < 0 ? -errno : 0;
	int64_t size = sb.st_size, window = limit > 0 ? limit * 200 + 4096 : size;
	while (rc == 0) {
		if (window > size || window > LOGS_READ_MAX)
			window = size < LOGS_READ_MAX ? size : LOGS_READ_MAX;
		char *b = try_malloc_array((size_t)window + 1, 1);
		ssize_t got = b ? pread(fd, b, (size_t)window, size - window) : -1;
		if (got < 0) {
			rc = b ? -errno : ERR_NOMEM;
			free(b);
			break;
		}
		struct lines tmp = {0};
		parse_chunk(b, (size_t)got, window < size, instance, &tmp);
		free(b);
		if (limit <= 0 || tmp.n >= limit || window >= size || window >= LOGS_READ_MAX) {
			int64_t from = limit > 0 && tmp.n > limit ? tmp.n - limit : 0;
			for (int64_t i = 0; i < tmp.n; i++) {
				if (i >= from)
					lines_push(out, &tmp.v[i]);
				else
					line_release(&tmp.v[i]);
			}
			free(tmp.v);
			break;
		}
		logs_lines_free(tmp.v, tmp.n);
		window *= 2;
	}
	close(fd);
	return rc;
}

static int cmp_line(const void *x, const void *y)
{
	const struct logs_line *a = x, *b = y;
	if (a->ts_ns != b->ts_ns)
		return a->ts_ns < b->ts_ns ? -1 : 1;
	return strcmp(a->instance, b->instance);
}

/* Calls fn for each "<instance>.log" in dir. */
static int each_log(const char *dir, int (*fn)(const char *path, const char *inst, void *),
                    void *arg)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n <= 4 || strcmp(e->d_name + n - 4, ".log"))
			continue;
		char *inst = xstrndup(e->d_name, n - 4);
		char *path = file_path_join(dir, e->d_name);
		rc = fn(path, inst, arg);
		free(path);
		free(inst);
	}
	closedir(d);
	return rc;
}

struct read_ctx {
	int64_t limit;
	struct lines *out;
};

static int read_one(const char *path, const char *inst, void *arg)
{
	struct read_ctx *c = arg;
	return tail_file(path, inst, c->limit, c->out);
}

int logs_read(const char *dir, int64_t limit, struct logs_line **out, int64_t *n)
{
	struct lines ls = {0};
	struct read_ctx c = {limit, &ls};
	int rc = each_log(dir, read_one, &c);
	if (ls.n > 1) /* qsort(NULL, 0) is undefined */
		qsort(ls.v, (size_t)ls.n, sizeof *ls.v, cmp_line);
	int64_t from = limit > 0 && ls.n > limit ? ls.n - limit : 0;
	for (int64_t i = 0; i < from; i++)
		line_release(&ls.v[i]);
	if (from > 0)
		memmove(ls.v, ls.v + from, sizeof *ls.v * (size_t)(ls.n - from));
	*out = ls.v;
	*n = ls.n - from;
	return rc;
}

void logs_lines_free(struct logs_line *l, int64_t n)
{
	for (int64_t i = 0; l && i < n; i++)
		line_release(&l[i]);
	free(l);
}

void logs_line_format(const struct logs_line *l, struct buf *out)
{
	char stamp[48];
	time_format_rfc3339(l->ts_ns, stamp, sizeof stamp);
	buf_printf(out, "%s %s %s %s\n", stamp, l->instance, l->stream, l->text);
}

/* ---- follow ---- */

static struct logs_cursor_file *cursor_file(struct logs_cursor *c, const char *inst)
{
	for (int64_t i = 0; i < c->n_files; i++)
		if (!strcmp(c->files[i].name, inst))
			return &c->files[i];
	c->files = xrealloc(c->files, sizeof *c->files * (size_t)(c->n_files + 1));
	struct logs_cursor_file *f = &c->files[c->n_files++];
	f->name = xstrdup(inst);
	f->offset = 0;
	return f;
}

static int mark_end(const char *path, const char *inst, void *arg)
{
	struct logs_cursor_file *f = cursor_file(arg, inst);
	struct stat sb;
	f->offset = stat(path, &sb) == 0 ? sb.st_size : 0;
	return 0;
}

int logs_cursor_init(struct logs_cursor *c, const char *dir)
{
	memset(c, 0, sizeof *c);
	c->dir = xstrdup(dir);
	return each_log(dir, mark_end, c);
}

struct poll_ctx {
	struct logs_cursor *c;
	struct lines *out;
};

static int poll_one(const char *path, const char *inst, void *arg)
{
	struct poll_ctx *p = arg;
	struct logs_cursor_file *f = cursor_file(p->c, inst);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat sb;
	int64_t size = fstat(fd, &sb) == 0 ? sb.st_size : 0;
	if (size < f->offset)
		f->offset = 0; /* truncated or replaced */
	int64_t avail = size - f->offset;
	if (avail > LOGS_READ_MAX)
		avail = LOGS_READ_MAX;
	char *b = avail > 0 ? try_malloc_array((size_t)avail, 1) : NULL;
	ssize_t got = b ? pread(fd, b, (size_t)avail, f->offset) : 0;
	if (got > 0)
		f->offset += (int64_t)parse_chunk(b, (size_t)got, false, inst, p->out);
	free(b);
	close(fd);
	return 0;
}

int logs_cursor_poll(struct logs_cursor *c, struct logs_line **out, int64_t *n)
{
	struct lines ls = {0};
	struct poll_ctx p = {c, &ls};
	int rc = each_log(c->dir, poll_one, &p);
	if (ls.n > 1) /* qsort(NULL, 0) is undefined */
		qsort(ls.v, (size_t)ls.n, sizeof *ls.v, cmp_line);
	*out = ls.v;
	*n = ls.n;
	return rc;
}

void logs_cursor_release(struct logs_cursor *c)
{
	for (int64_t i = 0; i < c->n_files; i++)
		free(c->files[i].name);
	free(c->files);
	free(c->dir);
	memset(c, 0, sizeof *c);
}

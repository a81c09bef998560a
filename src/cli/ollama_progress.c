/* ollama_progress.c — progress display for pull, push, create and model
 * loads, as Ollama's progress package draws it: a stack of spinner lines
 * ("pulling manifest ⠙") and bars ("pulling 047bf46455a5: 42% ▕███   ▏
 * 470 KB/1.1 MB  1.2 MB/s  1s") redrawn in place on a terminal. When the
 * output is not a terminal it prints plain lines instead: each new status
 * once, each layer once when it finishes. No threads: callers redraw from
 * the client's ticks and from each stream line. */
#include "cli/ollama_cli.h"

#include "base/buf.h"
#include "base/json.h"
#include "base/timeutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define RENDER_NS 100000000LL /* redraw at most every 100 ms */
#define NS_PER_S  1000000000LL

static const char *const spinner_frames[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};

static void term_size(FILE *out, int *w, int *h)
{
	struct winsize ws;
	*w = 80;
	*h = 24;
	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		*w = ws.ws_col;
		*h = ws.ws_row > 0 ? ws.ws_row : 24;
	}
}

void ollama_progress_init(struct ollama_progress *p, FILE *out)
{
	memset(p, 0, sizeof *p);
	p->out = out;
	p->tty = isatty(fileno(out)) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
	p->cur = -1;
}

/* Rounds ns to whole seconds (Go's Duration.Round(time.Second).Seconds()). */
static double round_s(int64_t ns)
{
	return (double)((ns + NS_PER_S / 2) / NS_PER_S);
}

static double bar_rate(const struct ollama_progress_line *l)
{
	double num = 0, den = 0;
	if (l->stopped) {
		num = (double)(l->completed - l->initial);
		den = round_s(l->stopped_at - l->started);
	} else if (l->n_b == 1) {
		num = (double)(l->b_value[0] - l->initial);
		den = round_s(l->b_time[0] - l->started);
	} else if (l->n_b > 1) {
		num = (double)(l->b_value[l->n_b - 1] - l->b_value[0]);
		den = round_s(l->b_time[l->n_b - 1] - l->b_time[0]);
	}
	return den != 0 ? num / den : 0;
}

/* progress.formatDuration: at most two units. */
static void eta_text(int64_t s, char *out, size_t cap)
{
	if (s >= 100 * 3600)
		snprintf(out, cap, "99h+");
	else if (s >= 3600)
		snprintf(out, cap, "%dh%dm", (int)(s / 3600), (int)(s / 60 % 60));
	else
		ollama_format_go_duration(s * NS_PER_S, out, cap);
}

/* Appends s right-aligned in six columns, as the bar's fields are. */
static void pad6(struct buf *b, const char *s)
{
	for (int i = (int)strlen(s); i < 6; i++)
		buf_putc(b, ' ');
	buf_puts(b, s);
}

static void repeat(struct buf *b, const char *s, int n)
{
	for (int i = 0; i < n; i++)
		buf_puts(b, s);
}

void ollama_progress_bar_text(const struct ollama_progress_line *l, int width, int64_t now,
                              char *out, size_t cap)
{
	(void)now;
	struct buf pre = BUF_INIT, suf = BUF_INIT, all = BUF_INIT;
	double pct = l->total > 0 ? (double)l->completed / (double)l->total * 100 : 0;
	char t[32], u[32];
	if (l->msg[0])
		buf_printf(&pre, "%s ", l->msg);
	buf_printf(&pre, "%3.0f%%", pct);
	ollama_format_bytes(l->total, u, sizeof u);
	if (!l->stopped) {
		ollama_format_bytes(l->completed, t, sizeof t);
		pad6(&suf, t);
		buf_putc(&suf, '/');
		pad6(&suf, u);
	} else {
		pad6(&suf, u);
		repeat(&suf, " ", 7);
	}
	double rate = bar_rate(l);
	if (!l->stopped && rate > 0) {
		ollama_format_bytes((int64_t)rate, t, sizeof t);
		buf_puts(&suf, "  ");
		pad6(&suf, t);
		buf_puts(&suf, "/s  ");
		eta_text((int64_t)((double)(l->total - l->completed) / rate), t, sizeof t);
		pad6(&suf, t);
	} else {
		repeat(&suf, " ", 18);
	}
	int f = width - (int)pre.len - (int)suf.len - 5;
	int n = (int)((double)f * pct / 100);
	buf_puts(&all, pre.data);
	buf_puts(&all, " ▕");
	repeat(&all, "█", n);
	repeat(&all, " ", f - n);
	buf_puts(&all, "▏ ");
	buf_puts(&all, suf.data);
	snprintf(out, cap, "%s", all.data);
	buf_release(&pre);
	buf_release(&suf);
	buf_release(&all);
}

static void line_text(struct ollama_progress *p, const struct ollama_progress_line *l, int width,
                      struct buf *b)
{
	if (l->bar) {
		char t[1024];
		ollama_progress_bar_text(l, width, time_mono_ns(), t, sizeof t);
		buf_puts(b, t);
		return;
	}
	if (l->msg[0])
		buf_printf(b, "%s ", l->msg);
	if (!l->stopped)
		buf_printf(b, "%s ", spinner_frames[p->spin % 10]);
}

static void render(struct ollama_progress *p)
{
	int width, height;
	term_size(p->out, &width, &height);
	struct buf b = BUF_INIT;
	buf_puts(&b, "\033[?2026h\033[?25l");
	for (int i = 0; i < p->pos - 1; i++)
		buf_puts(&b, "\033[A");
	buf_puts(&b, "\033[1G");
	int first = p->n > height ? p->n - height : 0;
	for (int i = first; i < p->n; i++) {
		line_text(p, &p->lines[i], width, &b);
		buf_puts(&b, "\033[K");
		if (i < p->n - 1)
			buf_putc(&b, '\n');
	}
	p->pos = p->n - first;
	buf_puts(&b, "\033[?25h\033[?2026l");
	fwrite(b.data, 1, b.len, p->out);
	fflush(p->out);
	buf_release(&b);
	p->spin++;
	p->last_render = time_mono_ns();
}

void ollama_progress_tick(struct ollama_progress *p)
{
	if (p->tty && p->n && time_mono_ns() - p->last_render >= RENDER_NS)
		render(p);
}

static struct ollama_progress_line *add_line(struct ollama_progress *p)
{
	if (p->n == OLLAMA_PROGRESS_MAX) {
		/* Keep the newest lines: drop the oldest finished one's slot. */
		memmove(p->lines, p->lines + 1, sizeof p->lines[0] * (OLLAMA_PROGRESS_MAX - 1));
		p->n--;
		if (p->cur >= 0)
			p->cur--;
		if (p->pos > 0)
			p->pos--;
	}
	struct ollama_progress_line *l = &p->lines[p->n++];
	memset(l, 0, sizeof *l);
	l->started = time_mono_ns();
	return l;
}

static void stop_spinner(struct ollama_progress *p)
{
	if (p->cur >= 0 && !p->lines[p->cur].stopped) {
		p->lines[p->cur].stopped = true;
		p->lines[p->cur].stopped_at = time_mono_ns();
	}
	p->cur = -1;
}

void ollama_progress_status(struct ollama_progress *p, const char *status)
{
	if (p->cur >= 0 && !strcmp(p->lines[p->cur].key, status))
		return;
	stop_spinner(p);
	struct ollama_progress_line *l = add_line(p);
	snprintf(l->key, sizeof l->key, "%s", status);
	snprintf(l->msg, sizeof l->msg, "%s", status);
	p->cur = p->n - 1;
	if (!p->tty) {
		fprintf(p->out, "%s\n", status);
		fflush(p->out);
	}
	ollama_progress_tick(p);
}

void ollama_progress_message(struct ollama_progress *p, const char *msg)
{
	if (p->cur < 0)
		return;
	snprintf(p->lines[p->cur].msg, sizeof p->lines[p->cur].msg, "%s", msg);
	ollama_progress_tick(p);
}

static void bar_plain(struct ollama_progress *p, struct ollama_progress_line *l)
{
	char t[32], u[32];
	ollama_format_bytes(l->total, u, sizeof u);
	if (l->stopped) {
		fprintf(p->out, "%s 100%% %s\n", l->msg, u);
	} else {
		ollama_format_bytes(l->completed, t, sizeof t);
		fprintf(p->out, "%s %3.0f%% %s/%s\n", l->msg,
		        l->total > 0 ? (double)l->completed / (double)l->total * 100 : 0.0, t, u);
	}
	fflush(p->out);
	l->printed = true;
}

static void bar_set(struct ollama_progress_line *l, int64_t v)
{
	int64_t now = time_mono_ns();
	if (v >= l->total)
		v = l->total;
	l->completed = v;
	if (v >= l->total && !l->stopped) {
		l->stopped = true;
		l->stopped_at = now;
	}
	if (l->n_b == 0 || now - l->b_time[l->n_b - 1] > NS_PER_S) {
		if (l->n_b == 10) {
			memmove(l->b_time, l->b_time + 1, 9 * sizeof l->b_time[0]);
			memmove(l->b_value, l->b_value + 1, 9 * sizeof l->b_value[0]);
			l->n_b--;
		}
		l->b_time[l->n_b] = now;
		l->b_value[l->n_b++] = v;
	}
}

void ollama_progress_bar(struct ollama_progress *p, const char *key, const char *msg, int64_t total,
                         int64_t completed)
{
	struct ollama_progress_line *l = NULL;
	for (int i = 0; i < p->n && !l; i++)
		if (p->lines[i].bar && !strcmp(p->lines[i].key, key))
			l = &p->lines[i];
	if (!l) {
		stop_spinner(p);
		l = add_line(p);
		l->bar = true;
		snprintf(l->key, sizeof l->key, "%s", key);
		snprintf(l->msg, sizeof l->msg, "%s", msg);
		l->total = total;
		l->initial = completed < total ? completed : total;
		l->completed = l->initial;
		if (completed >= total) {
			l->stopped = true;
			l->stopped_at = l->started;
		}
	}
	if (total > l->total)
		l->total = total;
	bar_set(l, completed);
	if (!p->tty && l->stopped && !l->printed)
		bar_plain(p, l);
	ollama_progress_tick(p);
}

void ollama_progress_update(struct ollama_progress *p, const cJSON *obj, const char *verb)
{
	const char *status = json_str(obj, "status", "");
	const char *digest = json_str(obj, "digest", "");
	if (*digest && strlen(digest) >= 19) {
		char msg[160];
		if (!*status || !strncmp(status, verb, strlen(verb)))
			snprintf(msg, sizeof msg, "%s %.12s:", verb, digest + 7);
		else
			snprintf(msg, sizeof msg, "%s", status);
		ollama_progress_bar(p, digest, msg, json_i64(obj, "total", 0),
		                    json_i64(obj, "completed", 0));
	} else if (*status) {
		ollama_progress_status(p, status);
	}
}

void ollama_progress_stop(struct ollama_progress *p)
{
	stop_spinner(p);
	if (!p->tty) {
		for (int i = 0; i < p->n; i++)
			if (p->lines[i].bar && !p->lines[i].printed)
				bar_plain(p, &p->lines[i]);
		p->n = 0;
		return;
	}
	if (p->n) {
		render(p);
		fputc('\n', p->out);
		fflush(p->out);
	}
	p->n = p->pos = 0;
}

void ollama_progress_clear(struct ollama_progress *p)
{
	stop_spinner(p);
	if (p->tty && p->pos) {
		struct buf b = BUF_INIT;
		buf_puts(&b, "\033[?25l");
		for (int i = 0; i < p->pos; i++) {
			if (i > 0)
				buf_puts(&b, "\033[A");
			buf_puts(&b, "\033[2K\033[1G");
		}
		buf_puts(&b, "\033[?25h");
		fwrite(b.data, 1, b.len, p->out);
		fflush(p->out);
		buf_release(&b);
	}
	p->n = p->pos = 0;
}

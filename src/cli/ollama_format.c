/* ollama_format.c — the human formats Ollama's CLI prints (its format
 * package: HumanBytes, HumanNumber, HumanTime; Go's Duration.String), an
 * RFC 3339 reader for the server's timestamps, and tables laid out like
 * tablewriter with Ollama's settings (no borders, left-aligned, four spaces
 * after every cell). Not here: terminal control (ollama_progress.c). */
#include "cli/ollama_cli.h"

#include "base/mem.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000LL

void ollama_format_bytes(int64_t b, char *out, size_t cap)
{
	static const struct {
		int64_t size;
		const char *unit;
	} units[] = {{1000LL * 1000 * 1000 * 1000, "TB"},
	             {1000LL * 1000 * 1000, "GB"},
	             {1000LL * 1000, "MB"},
	             {1000LL, "KB"}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (b < units[i].size)
			continue;
		double v = (double)b / (double)units[i].size;
		if (v >= 10 || v == trunc(v))
			snprintf(out, cap, "%d %s", (int)v, units[i].unit);
		else
			snprintf(out, cap, "%.1f %s", v, units[i].unit);
		return;
	}
	snprintf(out, cap, "%" PRId64 " B", b);
}

void ollama_format_number(uint64_t v, char *out, size_t cap)
{
	double d = (double)v;
	if (v >= 1000000000ULL) {
		d /= 1e9;
		snprintf(out, cap, d == floor(d) ? "%.0fB" : "%.1fB", d);
	} else if (v >= 1000000ULL) {
		d /= 1e6;
		snprintf(out, cap, d == floor(d) ? "%.0fM" : "%.2fM", d);
	} else if (v >= 1000ULL) {
		snprintf(out, cap, "%.0fK", d / 1e3);
	} else {
		snprintf(out, cap, "%" PRIu64, v);
	}
}

/* format.humanDuration for d >= 0. */
static void human_duration(int64_t d, char *out, size_t cap)
{
	int64_t s = d / NS_PER_S;
	if (s < 1) {
		snprintf(out, cap, "Less than a second");
		return;
	}
	if (s < 60) {
		snprintf(out, cap, s == 1 ? "1 second" : "%" PRId64 " seconds", s);
		return;
	}
	int64_t m = s / 60;
	if (m < 60) {
		snprintf(out, cap, m == 1 ? "About a minute" : "%" PRId64 " minutes", m);
		return;
	}
	int64_t h = (int64_t)llround((double)d / 3.6e12);
	if (h == 1)
		snprintf(out, cap, "About an hour");
	else if (h < 48)
		snprintf(out, cap, "%" PRId64 " hours", h);
	else if (h < 24 * 7 * 2)
		snprintf(out, cap, "%" PRId64 " days", h / 24);
	else if (h < 24 * 30 * 2)
		snprintf(out, cap, "%" PRId64 " weeks", h / 24 / 7);
	else if (h < 24 * 365 * 2)
		snprintf(out, cap, "%" PRId64 " months", h / 24 / 30);
	else
		snprintf(out, cap, "%" PRId64 " years", h / 24 / 365);
}

void ollama_format_time(int64_t t, int64_t now, const char *zero_text, char *out, size_t cap)
{
	if (t == 0) {
		snprintf(out, cap, "%s", zero_text);
		return;
	}
	/* Saturating: "forever" times sit near the end of int64. */
	int64_t delta = (t > 0 && now < t - INT64_MAX) ? INT64_MIN + 1 : now - t;
	if (delta / 3600000000000LL / 24 / 365 < -20) {
		snprintf(out, cap, "Forever");
		return;
	}
	char d[64];
	human_duration(delta < 0 ? -delta : delta, d, sizeof d);
	snprintf(out, cap, "%s %s", d, delta < 0 ? "from now" : "ago");
}

/* Appends "." and the fraction rem / 10^digits without trailing zeros. */
static void frac(char *out, size_t cap, uint64_t rem, int digits)
{
	if (!rem)
		return;
	char f[16];
	snprintf(f, sizeof f, "%0*" PRIu64, digits, rem);
	size_t n = strlen(f);
	while (n && f[n - 1] == '0')
		f[--n] = 0;
	size_t len = strlen(out);
	snprintf(out + len, cap - len, ".%s", f);
}

void ollama_format_go_duration(int64_t ns, char *out, size_t cap)
{
	uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	const char *sign = ns < 0 ? "-" : "";
	char b[64];
	if (u == 0) {
		snprintf(out, cap, "0s");
		return;
	}
	if (u < 1000) {
		snprintf(out, cap, "%s%" PRIu64 "ns", sign, u);
		return;
	}
	if (u < 1000000 || u < (uint64_t)NS_PER_S) {
		bool micro = u < 1000000;
		uint64_t unit = micro ? 1000 : 1000000;
		snprintf(b, sizeof b, "%s%" PRIu64, sign, u / unit);
		frac(b, sizeof b, u % unit, micro ? 3 : 6);
		snprintf(out, cap, "%s%s", b, micro ? "µs" : "ms");
		return;
	}
	uint64_t s = u / NS_PER_S, h = s / 3600, m = s / 60 % 60;
	if (h)
		snprintf(b, sizeof b, "%s%" PRIu64 "h%" PRIu64 "m%" PRIu64, sign, h, m, s % 60);
	else if (m)
		snprintf(b, sizeof b, "%s%" PRIu64 "m%" PRIu64, sign, m, s % 60);
	else
		snprintf(b, sizeof b, "%s%" PRIu64, sign, s);
	frac(b, sizeof b, u % NS_PER_S, 9);
	snprintf(out, cap, "%ss", b);
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* The "Z" / "+hh:mm" / "-hh:mm" suffix in seconds east of UTC. */
static bool zone(const char *p, int64_t *off)
{
	int zh, zm;
	if ((p[0] == 'Z' || p[0] == 'z') && !p[1]) {
		*off = 0;
		return true;
	}
	if ((p[0] != '+' && p[0] != '-') || !digits(p + 1, 2, &zh) || p[3] != ':' ||
	    !digits(p + 4, 2, &zm) || p[6])
		return false;
	*off = (p[0] == '-' ? -1 : 1) * (int64_t)(zh * 3600 + zm * 60);
	return true;
}

bool ollama_format_parse_time(const char *s, int64_t *wall_ns)
{
	int Y, M, D, h, m, sec;
	if (!s || strlen(s) < 20 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) ||
	    s[7] != '-' || !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec) || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
	    sec > 60)
		return false;
	const char *p = s + 19;
	int64_t nanos = 0;
	if (*p == '.') {
		int nd = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, nd++)
			if (nd < 9)
				nanos = nanos * 10 + (*p - '0');
		if (!nd)
			return false;
		for (; nd < 9; nd++)
			nanos *= 10;
	}
	int64_t off;
	if (!zone(p, &off))
		return false;
	if (Y <= 1) {
		*wall_ns = 0; /* Go's zero time */
		return true;
	}
	if (Y >= 2260) {
		*wall_ns = INT64_MAX / 2; /* past int64 ns: "forever" */
		return true;
	}
	int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - off;
	*wall_ns = secs * NS_PER_S + nanos;
	return true;
}

/* Display columns of UTF-8 text: one per code point. */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

void ollama_table_init(struct ollama_table *t, int n_cols)
{
	memset(t, 0, sizeof *t);
	t->n_cols = n_cols;
}

void ollama_table_add(struct ollama_table *t, const char *const *cells)
{
	if (t->n_rows == t->cap_rows) {
		t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 8;
		t->cells =
		    xrealloc(t->cells, (size_t)t->cap_rows * (size_t)t->n_cols * sizeof *t->cells);
	}
	for (int i = 0; i < t->n_cols; i++)
		t->cells[t->n_rows * t->n_cols + i] = xstrdup(cells[i] ? cells[i] : "");
	t->n_rows++;
}

void ollama_table_print(const struct ollama_table *t, FILE *out)
{
	size_t *w = xcalloc((size_t)t->n_cols, sizeof *w);
	for (int r = 0; r < t->n_rows; r++)
		for (int c = 0; c < t->n_cols; c++) {
			size_t cw = text_width(t->cells[r * t->n_cols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	for (int r = 0; r < t->n_rows; r++) {
		for (int c = 0; c < t->n_cols; c++) {
			const char *s = t->cells[r * t->n_cols + c];
			fprintf(out, "%s%*s    ", s, (int)(w[c] - text_width(s)), "");
		}
		fputc('\n', out);
	}
	free(w);
}

void ollama_table_release(struct ollama_table *t)
{
	for (int i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof *t);
}

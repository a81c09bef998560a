/* timeutil.c — clocks and Go-style durations (see timeutil.h). */
#include "base/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t time_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t time_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void time_format_rfc3339(int64_t wall_ns, char *out, size_t n)
{
	time_t sec = (time_t)(wall_ns / 1000000000);
	long nsec = (long)(wall_ns % 1000000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
}

static bool unit_ns(const char **p, double *mult)
{
	static const struct {
		const char *name;
		double ns;
	} units[] = {{"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6},
		     {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
	/* longest match first: "ms" before "m" */
	int best = -1;
	size_t best_len = 0;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		size_t l = strlen(units[i].name);
		if (l > best_len && strncmp(*p, units[i].name, l) == 0) {
			best = (int)i;
			best_len = l;
		}
	}
	if (best < 0)
		return false;
	*mult = units[best].ns;
	*p += best_len;
	return true;
}

bool time_parse_duration(const char *s, int64_t *ns)
{
	if (!s || !*s)
		return false;
	bool neg = false;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!strcmp(s, "0")) {
		*ns = 0;
		return true;
	}
	double total = 0;
	while (*s) {
		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
		char *end;
		double v = strtod(s, &end);
		if (end == s)
			return false;
		s = end;
		double mult;
		if (!unit_ns(&s, &mult))
			return false;
		total += v * mult;
		if (total > 9.2e18)
			return false;
	}
	*ns = (int64_t)(neg ? -total : total);
	return true;
}

void time_sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* log.c — stderr logging (see log.h). One fprintf per line, so lines from
 * several threads do not interleave. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int level = -1;

static void level_from_env(void)
{
	const char *s = getenv("GPURUN_LOG");
	level = LOG_INFO;
	if (!s)
		return;
	if (!strcmp(s, "debug"))
		level = LOG_DEBUG;
	else if (!strcmp(s, "warn"))
		level = LOG_WARN;
	else if (!strcmp(s, "error"))
		level = LOG_ERROR;
}

void log_set_level(enum log_level l)
{
	level = (int)l;
}

enum log_level log_get_level(void)
{
	if (level < 0)
		level_from_env();
	return (enum log_level)level;
}

void log_msg(enum log_level l, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info ", "warn ", "error"};
	if ((int)l < (int)log_get_level())
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s\n", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		names[l], msg);
}

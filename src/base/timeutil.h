/* timeutil.h — clocks and durations.
 * Monotonic nanoseconds for measuring, wall-clock nanoseconds for records,
 * RFC 3339 formatting, and Go-style duration strings ("5m", "1h30m", "250ms")
 * as Ollama's keep_alive and Cloud Run's timeouts spell them. */
#ifndef GPURUN_BASE_TIMEUTIL_H
#define GPURUN_BASE_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t time_mono_ns(void);
int64_t time_wall_ns(void);
/* "2026-11-28T15:44:08.123456789Z" (nanos) or with offset; out >= 40 bytes. */
void time_format_rfc3339(int64_t wall_ns, char *out, size_t n);
/* Parses a Go duration ("300ms", "-1m", "1h2m3.5s", "0"); false on junk. */
bool time_parse_duration(const char *s, int64_t *ns);
void time_sleep_ms(int64_t ms);

#endif

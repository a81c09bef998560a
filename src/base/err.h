/* err.h — the project's error codes and their messages.
 * Actions return 0 or a negative code: a negated errno (-ENOENT) or one of
 * the ERR_* values below, which live far above any errno. err_str() names
 * either kind. Parsers that owe a reason also fill char err[ERR_MSG_LEN]. */
#ifndef GPURUN_BASE_ERR_H
#define GPURUN_BASE_ERR_H

#include <errno.h>

#define ERR_MSG_LEN 256

enum err_code {
	ERR_BASE = 10000,
	ERR_INVALID = -(ERR_BASE + 1),   /* malformed input */
	ERR_TRUNCATED = -(ERR_BASE + 2), /* input ended early */
	ERR_TOO_LARGE = -(ERR_BASE + 3), /* a size or count past a limit */
	ERR_UNSUPPORTED = -(ERR_BASE + 4),
	ERR_NOT_FOUND = -(ERR_BASE + 5),
	ERR_EXISTS = -(ERR_BASE + 6),
	ERR_CANCELLED = -(ERR_BASE + 7),
	ERR_TIMEOUT = -(ERR_BASE + 8),
	ERR_DIGEST = -(ERR_BASE + 9), /* content did not match its digest */
	ERR_PROTOCOL = -(ERR_BASE + 10),
	ERR_BUSY = -(ERR_BASE + 11),
	ERR_NOMEM = -(ERR_BASE + 12),
	ERR_AUTH = -(ERR_BASE + 13),
};

/* A static string naming code (negative errno or ERR_*). Never NULL. */
const char *err_str(int code);

/* snprintf into an ERR_MSG_LEN buffer; returns code so callers can
 * `return err_set(err, ERR_INVALID, "...", ...)`. err may be NULL. */
int err_set(char *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

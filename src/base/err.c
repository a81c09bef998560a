/* err.c — messages for the project's error codes (see err.h). */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *err_str(int code)
{
	switch (code) {
	case 0: return "success";
	case ERR_INVALID: return "invalid input";
	case ERR_TRUNCATED: return "truncated input";
	case ERR_TOO_LARGE: return "too large";
	case ERR_UNSUPPORTED: return "unsupported";
	case ERR_NOT_FOUND: return "not found";
	case ERR_EXISTS: return "already exists";
	case ERR_CANCELLED: return "cancelled";
	case ERR_TIMEOUT: return "timed out";
	case ERR_DIGEST: return "digest mismatch";
	case ERR_PROTOCOL: return "protocol error";
	case ERR_BUSY: return "busy";
	case ERR_NOMEM: return "out of memory";
	case ERR_AUTH: return "unauthorized";
	default: break;
	}
	if (code < 0 && code > -ERR_BASE)
		return strerror(-code);
	return "unknown error";
}

int err_set(char *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, ERR_MSG_LEN, fmt, ap);
		va_end(ap);
	}
	return code;
}

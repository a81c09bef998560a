/* platform_client.h — the Cloud-Run-style verbs' client for the daemon's
 * admin API (platform/admin.h) over the unix socket $GPURUN_HOME/gpurun.sock
 * (libcurl, CURLOPT_UNIX_SOCKET_PATH), and what those verbs share: the
 * "Error: ..." convention, the --format flag, query strings.
 *
 * Errors: calls return 0 or a negative code and fill err with the text a
 * user should see after "Error: " — the daemon's {"error": ...} message, or
 * PLATFORM_NOT_RUNNING when nothing answers on the socket. */
#ifndef GPURUN_CLI_PLATFORM_CLIENT_H
#define GPURUN_CLI_PLATFORM_CLIENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/err.h"
#include "platform/admin_format.h"

#define PLATFORM_SOCKET_MAX 108 /* sun_path */

struct platform_client {
	char sock[4096]; /* $GPURUN_HOME/gpurun.sock */
};

/* GPURUN_HOME, else ~/.gpurun, + "/gpurun.sock". */
void platform_client_init(struct platform_client *c);

/* One request; body (may be NULL) with content type ctype. *status gets
 * the HTTP status; out the response body. A non-2xx status is an error
 * (ERR_NOT_FOUND for 404, ERR_INVALID for other 4xx, -EIO for 5xx) with the
 * daemon's message in err. */
int platform_call(const struct platform_client *c, const char *method, const char *path,
                  const char *ctype, const char *body, size_t n, struct buf *out,
                  char err[ERR_MSG_LEN]);
/* The same with a JSON body (NULL: none) and a JSON answer (*out, may be
 * NULL to ignore it). */
int platform_call_json(const struct platform_client *c, const char *method, const char *path,
                       const cJSON *body, cJSON **out, char err[ERR_MSG_LEN]);
/* GET path and copies the body to out as it arrives (logs --follow), until
 * the daemon ends it or SIGINT. */
int platform_stream(const struct platform_client *c, const char *path, FILE *out,
                    char err[ERR_MSG_LEN]);

/* Appends "&name=value" (or "?name=value" first) percent-encoded to path. */
void platform_query_add(struct buf *path, const char *name, const char *value);

/* Prints "Error: msg" to stderr; returns 1 (the exit status). */
int platform_fail(const char *msg);
/* Parses --format (see admin_format.h); prints the error and returns 1. */
int platform_format_parse(const char *s, struct admin_format *f);
/* Renders j with f to stdout. */
void platform_format_print(const struct admin_format *f, const cJSON *j, bool list);

#endif

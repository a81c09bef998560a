/* ollama_client.h — the CLI's HTTP client for a model server (`gpurun serve`
 * or `ollama serve`): the server address from GPURUN_HOST / OLLAMA_HOST as
 * Ollama's envconfig.Host() reads it, JSON calls, NDJSON streams parsed line
 * by line as they arrive, and blob uploads (reference ollama-api.md §1.1,
 * §1.8, §4.1). libcurl does the HTTP. Not here: what the verbs print.
 *
 * Errors: every call returns 0 or a negative code and fills err with the
 * message a user should see after "Error: " — the server's {"error": ...}
 * text when it sent one, an `error` line of a stream verbatim, or
 * OLLAMA_CLIENT_NOT_RUNNING when nothing listens at the address. HTTP 404
 * maps to ERR_NOT_FOUND, a refused connection to -ECONNREFUSED, an
 * interrupt (SIGINT, see ollama_client_interrupt) to ERR_CANCELLED. */
#ifndef GPURUN_CLI_OLLAMA_CLIENT_H
#define GPURUN_CLI_OLLAMA_CLIENT_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

#define OLLAMA_CLIENT_URL_MAX 512

struct ollama_client {
	char base[OLLAMA_CLIENT_URL_MAX]; /* "http://127.0.0.1:11434", no trailing '/' */
};

/* Called with each parsed NDJSON object of a stream; non-zero stops the
 * stream and becomes the call's result (the callback fills err then). */
typedef int (*ollama_line_fn)(void *user, const cJSON *obj, char err[ERR_MSG_LEN]);
/* Called every few hundred ms while a transfer runs (spinners, bars);
 * sent/total count request-body bytes (uploads), else 0. */
typedef void (*ollama_tick_fn)(void *user, int64_t sent, int64_t total);

/* Fills c from GPURUN_HOST, else OLLAMA_HOST (trimmed of spaces and quotes):
 * "host", "host:port", "scheme://host[:port][/path]", "[v6]:port"; the
 * default 127.0.0.1:11434, port 80/443 after http:// / https:// when none
 * is given; an empty or unspecified host (0.0.0.0, ::) means this machine. */
void ollama_client_init(struct ollama_client *c);
/* The same parsing on an explicit value (tests). */
void ollama_client_init_host(struct ollama_client *c, const char *value);

/* One request with a JSON body (NULL: none) whose answer is JSON or empty.
 * *out (may be NULL) receives the parsed answer (NULL when the body was
 * empty); the caller cJSON_Delete()s it. */
int ollama_client_call(const struct ollama_client *c, const char *method, const char *path,
                       const cJSON *body, cJSON **out, char err[ERR_MSG_LEN]);

/* POST path with body and hands each line of the NDJSON answer to line as
 * it arrives. A line with a non-empty "error" member ends the call with
 * that text (ERR_PROTOCOL). A non-2xx status before the stream is an error
 * with the body's message. tick (may be NULL) is called periodically. */
int ollama_client_stream(const struct ollama_client *c, const char *path, const cJSON *body,
                         ollama_line_fn line, ollama_tick_fn tick, void *user,
                         char err[ERR_MSG_LEN]);

/* HEAD /api/blobs/<digest>: 1 when the server has it, 0 when not. */
int ollama_client_blob_exists(const struct ollama_client *c, const char *digest,
                              char err[ERR_MSG_LEN]);
/* POST /api/blobs/<digest> with the bytes of the file at path; tick gets
 * the bytes sent so far and the file size. */
int ollama_client_blob_upload(const struct ollama_client *c, const char *digest, const char *path,
                              ollama_tick_fn tick, void *user, char err[ERR_MSG_LEN]);

/* Set by the SIGINT handler that ollama_client_catch_interrupt installs: a
 * running transfer aborts with ERR_CANCELLED. Clear it before the next call. */
extern volatile sig_atomic_t ollama_client_interrupted;
/* Installs (on) or removes (off) the handler; without SA_RESTART, so a
 * blocking read returns EINTR. */
void ollama_client_catch_interrupt(bool on);

#endif

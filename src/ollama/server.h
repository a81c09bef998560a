/* server.h — `gpurun serve`: the Ollama-compatible model server (reference
 * ollama-api.md §1, §2, §4), its configuration from the environment, and
 * the entry point that runs it until SIGINT/SIGTERM. Routes, scheduling and
 * prompt building live in api_*.c, openai*.c, sched*.c and prompt.c; this
 * header is what the CLI (and tests) call. */
#ifndef GPURUN_OLLAMA_SERVER_H
#define GPURUN_OLLAMA_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "ollama/sched.h"

#define SERVER_DEFAULT_PORT 11434
#define SERVER_VERSION      "0.33.0" /* the Ollama API version we speak (/api/version) */

struct server_config {
	char host[256]; /* listen address ("127.0.0.1", "0.0.0.0", "::1") */
	int port;
	char *models_dir; /* NULL: the store's default (GPURUN_MODELS, ...) */
	struct sched_config sched;
	char *api_key;  /* NULL: no auth; else every request but GET / needs it */
	char **origins; /* extra CORS origins (OLLAMA_ORIGINS), '*' wildcards */
	int n_origins;
	int64_t grace_ms; /* shutdown: in-flight requests get this long */
	bool prune;       /* remove unreferenced blobs at start (not OLLAMA_NOPRUNE) */
};

/* Defaults, then the environment: GPURUN_HOST (else OLLAMA_HOST) with
 * Ollama's parsing, PORT (Cloud Run: overrides the port), GPURUN_MODELS /
 * OLLAMA_MODELS, scheduler variables (sched_config_from_env),
 * GPURUN_API_KEY, GPURUN_ORIGINS / OLLAMA_ORIGINS, OLLAMA_NOPRUNE. */
int server_config_from_env(struct server_config *c, char err[ERR_MSG_LEN]);
void server_config_release(struct server_config *c);

/* Ollama's envconfig.Host(): "host", "host:port", "scheme://host[:port][/path]",
 * "[v6]:port", ":port"; no port: 11434 (80/443 after http:// / https://); an
 * empty host is every interface ("0.0.0.0"); a bad port falls back to the
 * default. Never fails: junk becomes a host name that listen rejects. */
void server_parse_host(const char *s, char *host, size_t cap, int *port);

/* Runs the server on the calling thread until SIGINT or SIGTERM, then shuts
 * down gracefully (in-flight requests finish within grace_ms, models are
 * unloaded). Logs the address, the store and the backend. Returns 0, or an
 * error (message on stderr) when it cannot start. */
int server_run(const struct server_config *c);

#endif

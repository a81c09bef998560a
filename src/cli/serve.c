/* serve.c — `gpurun serve`: starts the Ollama-compatible model server
 * (src/ollama/server.h) in the foreground, configured like `ollama serve`
 * by the environment (GPURUN_HOST or OLLAMA_HOST, PORT, GPURUN_MODELS or
 * OLLAMA_MODELS, GPURUN_KEEP_ALIVE, GPURUN_NUM_PARALLEL, ...). Flags only
 * override the address. Runs until SIGINT or SIGTERM. */
#include "cli/cli.h"

#include "base/flags.h"
#include "base/mem.h"
#include "ollama/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(const struct flag *flags)
{
	printf(
	    "Usage: gpurun serve [--host ADDR[:PORT]]\n\n"
	    "Start the Ollama-compatible model server (default 127.0.0.1:11434).\n\n"
	    "Environment:\n"
	    "  GPURUN_HOST / OLLAMA_HOST      address to listen on (host, host:port, "
	    "scheme://host:port)\n"
	    "  PORT                           port to listen on (overrides the host's port)\n"
	    "  GPURUN_MODELS / OLLAMA_MODELS  model store (default $GPURUN_HOME/models)\n"
	    "  GPURUN_KEEP_ALIVE              idle time before a model is unloaded (default 5m)\n"
	    "  GPURUN_NUM_PARALLEL            concurrent sequences per model (default 1)\n"
	    "  GPURUN_MAX_LOADED_MODELS       models loaded at once (default 3)\n"
	    "  GPURUN_MAX_QUEUE               requests waiting before 503 (default 512)\n"
	    "  GPURUN_CONTEXT_LENGTH          default num_ctx (default 4096)\n"
	    "  GPURUN_API_KEY                 require Authorization: Bearer <key>\n"
	    "  GPURUN_ORIGINS / OLLAMA_ORIGINS extra CORS origins\n"
	    "  GPURUN_NUM_THREAD              engine threads per model\n\n"
	    "Flags:\n");
	flags_print_help(flags);
}

int cmd_serve(int argc, char **argv)
{
	const char *host = NULL;
	bool help = false;
	struct flag flags[] = {
	    {.name = "host",
	     .type = FLAG_STRING,
	     .value = &host,
	     .help = "listen address, as GPURUN_HOST"},
	    {.name = "help",
	     .alias = 'h',
	     .type = FLAG_BOOL,
	     .value = &help,
	     .help = "show this help"},
	    {.name = NULL},
	};
	char err[ERR_MSG_LEN];
	const char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
	int npos = 0;
	int rc = flags_parse(flags, argc - 1, argv + 1, pos, &npos, err);
	free(pos);
	if (rc < 0 || npos > 0 || help) {
		if (!help)
			fprintf(stderr, "gpurun serve: %s\n", rc < 0 ? err : "unexpected argument");
		usage(flags);
		return help ? 0 : 2;
	}
	struct server_config cfg;
	if (server_config_from_env(&cfg, err) < 0) {
		fprintf(stderr, "gpurun serve: %s\n", err);
		return 2;
	}
	if (host) {
		int port;
		server_parse_host(host, cfg.host, sizeof cfg.host, &port);
		if (!getenv("PORT") || !*getenv("PORT"))
			cfg.port = port;
	}
	rc = server_run(&cfg);
	server_config_release(&cfg);
	return rc;
}

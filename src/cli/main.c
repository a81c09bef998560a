/* main.c — gpurun's entry point: finds the verb in the command table and
 * runs it. Ollama-style verbs talk to a model server (or run a local GGUF
 * file); Cloud-Run-style verbs talk to the daemon's admin API. */
#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define GPURUN_VERSION "0.1.0"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{"version", cmd_version, "Print the version"},
	{"serve", cmd_serve, "Start the Ollama-compatible model server"},
	{"run", cmd_run, "Run a model on a prompt"},
	{"hello", cmd_hello, "Serve Cloud Run's hello sample (HTTP test service)"},
	{"show", cmd_show, "Show information for a model"},
	{"quantize", cmd_quantize, "Quantize a GGUF model (Q8_0, Q4_0, Q4_K_M, ...)"},
	{"synth", cmd_synth, "Write a random-weight llama GGUF (benchmarks, tests)"},
	{"bench", cmd_bench, "Prompt and generation speed (tokens/s), or read bandwidth"},
	{"create", cmd_create, "Create a model from a Modelfile"},
	{"stop", cmd_stop, "Stop a running model"},
	{"pull", cmd_pull, "Pull a model from a registry"},
	{"push", cmd_push, "Push a model to a registry"},
	{"list", cmd_list, "List models"},
	{"ls", cmd_list, "List models (alias of list)"},
	{"ps", cmd_ps, "List running models"},
	{"cp", cmd_cp, "Copy a model"},
	{"rm", cmd_rm, "Remove a model"},
	{"daemon", cmd_daemon, "Run the platform: gateway, autoscaler, instances, admin API"},
	{"deploy", cmd_deploy, "Deploy a service (a new revision) to the daemon"},
	{"services", cmd_services, "List, describe, delete, update-traffic, replace, export services"},
	{"revisions", cmd_revisions, "List, describe, delete revisions"},
	{"logs", cmd_logs, "Read or tail a service's logs"},
	{"billing", cmd_billing, "Usage and cost report (per second, Cloud Run prices)"},
	{"auth", cmd_auth, "Identity tokens for private services"},
	{NULL, NULL, NULL},
};

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("gpurun version %s\n", GPURUN_VERSION);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: gpurun COMMAND [ARGS]\n\nCommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(out, "  %-12s %s\n", c->name, c->help);
	fprintf(out, "\nRun 'gpurun COMMAND --help' for a command's flags.\n");
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(stdout);
		return argc < 2 ? 1 : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v"))
		return cmd_version(argc - 1, argv + 1);
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "gpurun: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}

/* daemon.c — `gpurun daemon`: runs the platform (gateway, activator,
 * autoscaler, instances, metering, admin API) in the foreground until
 * SIGTERM or SIGINT, which shut it down gracefully: in-flight requests
 * finish (up to --grace), instances stop, the ledger is flushed. A second
 * signal ends it at once. Configuration: GPURUN_HOME, GPURUN_GATEWAY,
 * GPURUN_REGION, GPURUN_MODELS, or the flags below. */
#include "cli/cli.h"

#include "base/flags.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "platform/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct run {
	uv_loop_t *loop;
	struct daemon *d;
	uv_signal_t sig[2];
	int64_t grace_ms;
	int signals;
};

static void stopped(struct daemon *d, void *data)
{
	struct run *r = data;
	for (int i = 0; i < 2; i++)
		if (!uv_is_closing((uv_handle_t *)&r->sig[i]))
			uv_close((uv_handle_t *)&r->sig[i], NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct run *r = h->data;
	if (++r->signals > 1) {
		fprintf(stderr, "gpurun daemon: second signal, exiting now\n");
		_exit(130);
	}
	log_info("gpurun daemon: %s received", strsignal(signum));
	daemon_shutdown(r->d, r->grace_ms, stopped, r);
}

/* Runs the daemon on its own loop until a signal has shut it down. */
static int run_daemon(struct run *r, const struct daemon_config *c)
{
	char err[ERR_MSG_LEN];
	uv_loop_t loop;
	uv_loop_init(&loop);
	r->loop = &loop;
	int rc = daemon_new(&loop, c, &r->d, err);
	if (rc) {
		fprintf(stderr, "gpurun daemon: %s\n", err);
		if (r->d) {
			daemon_shutdown(r->d, 0, NULL, NULL);
			uv_run(&loop, UV_RUN_DEFAULT);
			daemon_free(r->d);
		}
		uv_loop_close(&loop);
		return 1;
	}
	int sigs[2] = {SIGTERM, SIGINT};
	for (int i = 0; i < 2; i++) {
		uv_signal_init(&loop, &r->sig[i]);
		r->sig[i].data = r;
		uv_signal_start(&r->sig[i], on_signal, sigs[i]);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	daemon_free(r->d);
	uv_loop_close(&loop);
	return 0;
}

int cmd_daemon(int argc, char **argv)
{
	const char *home = NULL, *gateway = NULL, *region = NULL, *grace = NULL;
	bool help = false, no_cgroups = false;
	struct flag flags[] = {
	    {"home", 0, FLAG_STRING, &home, "state, socket and logs folder (GPURUN_HOME)", false},
	    {"gateway", 0, FLAG_STRING, &gateway, "gateway address host:port (GPURUN_GATEWAY)",
	     false},
	    {"region", 0, FLAG_STRING, &region, "region name (GPURUN_REGION, default local)",
	     false},
	    {"grace", 0, FLAG_STRING, &grace, "shutdown: time in-flight requests get (10s)", false},
	    {"no-cgroups", 0, FLAG_BOOL, &no_cgroups, "run instances without cpu/memory limits",
	     false},
	    {"help", 'h', FLAG_BOOL, &help, "show this help", false},
	    {0},
	};
	const char *pos[8];
	int npos = 0;
	char err[ERR_MSG_LEN];
	if (argc > 8 || flags_parse(flags, argc - 1, argv + 1, pos, &npos, err)) {
		fprintf(stderr, "gpurun daemon: %s\n", argc > 8 ? "too many arguments" : err);
		return 2;
	}
	if (help || npos) {
		printf("Usage: gpurun daemon [flags]\n\nRuns the platform in the foreground.\n\n");
		flags_print_help(flags);
		return help ? 0 : 2;
	}
	struct run r = {.grace_ms = DAEMON_SHUTDOWN_MS_DEFAULT};
	int64_t ns;
	if (grace) {
		if (!time_parse_duration(grace, &ns) || ns < 0) {
			fprintf(stderr, "gpurun daemon: --grace: not a duration: %s\n", grace);
			return 2;
		}
		r.grace_ms = ns / 1000000;
	}
	struct daemon_config c = {
	    .home = home, .gateway = gateway, .region = region, .no_cgroups = no_cgroups};
	return run_daemon(&r, &c);
}

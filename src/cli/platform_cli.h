/* platform_cli.h — helpers the Cloud-Run-style verbs share: subcommand
 * dispatch (`gpurun services list`), flag tables with --format and --help,
 * and gcloud's human output of a service (describe, list rows, traffic,
 * replace). Output text follows gcloud run's. */
#ifndef GPURUN_CLI_PLATFORM_CLI_H
#define GPURUN_CLI_PLATFORM_CLI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/flags.h"
#include "platform/admin_format.h"

#define PLATFORM_FLAGS_MAX 16

struct platform_sub {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the subcommand */
	const char *help;
};

/* argv[0] is the group ("services"), argv[1] the subcommand. Prints the
 * list for no subcommand or --help; unknown: exit status 2. */
int platform_sub_run(const char *group, const struct platform_sub *subs, int argc, char **argv);

struct platform_args {
	const char **pos; /* positional arguments */
	int npos;
	const char *format;
	struct admin_format fmt;
	bool help;
	struct flag t[PLATFORM_FLAGS_MAX];
};

/* Parses argv[1..argc) with extra[0..n_extra) plus --format and --help;
 * want_pos positional arguments are required (more are an error). Returns
 * -1 to go on (release a later), or the exit status to return at once
 * (help printed: 0; an error printed: 1; a released). */
int platform_args_parse(struct platform_args *a, int argc, char **argv, const struct flag *extra,
                        int n_extra, int want_pos, const char *usage);
void platform_args_release(struct platform_args *a);
/* 0 for a valid service name, else prints the error and returns 1. */
int platform_check_name(const char *name);

/* gcloud run services describe's text. */
void platform_describe_print(const cJSON *svc, FILE *out);
/* A flat row for `services list`: ok, name, region, url, deployed, instances. */
cJSON *platform_service_row(const cJSON *svc);
/* "URL: ...\nTraffic:\n  50% REV\n" of a service. */
void platform_traffic_print(const cJSON *svc, FILE *out);
/* After `services replace`: warnings, then gcloud's lines (or --format). */
void platform_replace_print(const cJSON *res, const struct admin_format *fmt);

#endif

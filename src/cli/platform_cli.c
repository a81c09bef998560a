/* platform_cli.c — subcommand dispatch and flag parsing for the
 * Cloud-Run-style verbs (`gpurun services ...`, `revisions`, `logs`,
 * `billing`, `auth`). */
#include "cli/platform_cli.h"

#include "base/mem.h"
#include "cli/platform_client.h"
#include "platform/spec.h"

#include <stdlib.h>
#include <string.h>

int platform_sub_run(const char *group, const struct platform_sub *subs, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	bool help = !sub || !strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help");
	for (const struct platform_sub *s = subs; !help && s->name; s++)
		if (!strcmp(s->name, sub))
			return s->fn(argc - 1, argv + 1);
	FILE *out = help ? stdout : stderr;
	if (!help)
		fprintf(stderr, "Error: unknown command 'gpurun %s %s'\n\n", group, sub);
	fprintf(out, "Usage: gpurun %s COMMAND [ARGS]\n\nCommands:\n", group);
	for (const struct platform_sub *s = subs; s->name; s++)
		fprintf(out, "  %-16s %s\n", s->name, s->help);
	fprintf(out, "\nRun 'gpurun %s COMMAND --help' for a command's flags.\n", group);
	return help ? (sub ? 0 : 1) : 2;
}

int platform_args_parse(struct platform_args *a, int argc, char **argv, const struct flag *extra,
                        int n_extra, int want_pos, const char *usage)
{
	char err[ERR_MSG_LEN];
	memset(a, 0, sizeof *a);
	if (n_extra > PLATFORM_FLAGS_MAX - 3)
		n_extra = PLATFORM_FLAGS_MAX - 3;
	for (int i = 0; i < n_extra; i++)
		a->t[i] = extra[i];
	a->t[n_extra] = (struct flag){"format",
	                              0,
	                              FLAG_STRING,
	                              &a->format,
	                              "json, yaml, value(status.url), csv(...), table(...)",
	                              false};
	a->t[n_extra + 1] =
	    (struct flag){"help", 'h', FLAG_BOOL, &a->help, "show this help", false};
	a->pos = xcalloc((size_t)argc + 1, sizeof *a->pos);
	int rc = -1;
	if (flags_parse(a->t, argc - 1, argv + 1, a->pos, &a->npos, err)) {
		rc = platform_fail(err);
	} else if (a->help) {
		printf("Usage: %s\n\nFlags:\n", usage);
		flags_print_help(a->t);
		rc = 0;
	} else if (a->npos != want_pos) {
		snprintf(err, sizeof err, "%s arguments; usage: %s",
		         a->npos < want_pos ? "missing" : "too many", usage);
		rc = platform_fail(err);
	} else if (platform_format_parse(a->format, &a->fmt)) {
		rc = 1;
	}
	if (rc >= 0)
		platform_args_release(a);
	return rc;
}

void platform_args_release(struct platform_args *a)
{
	free(a->pos);
	a->pos = NULL;
	admin_format_release(&a->fmt);
	/* the extra flags' lists are the caller's */
}

int platform_check_name(const char *name)
{
	char err[ERR_MSG_LEN];
	if (spec_name_check("service name", name, err))
		return platform_fail(err);
	return 0;
}

/* platform_deploy.c — `gpurun deploy NAME [flags]`: gcloud run deploy
 * (reference §1.13). The flags become a spec patch (spec_flags_patch: only
 * the given ones change the service), the daemon makes the revision, and the
 * output is gcloud's: progress on stderr ending in "Service URL: ...", or the
 * service resource on stdout with --format. */
#include "cli/cli.h"
#include "cli/platform_client.h"

#include "base/flags.h"
#include "base/json.h"
#include "base/mem.h"
#include "platform/spec.h"

#include <stdlib.h>
#include <string.h>

#define DEPLOY_FLAGS_MAX (SPEC_FLAGS_COUNT + 8)

struct deploy_args {
	struct spec_flags sf;
	const char *format, *tag, *suffix;
	bool traffic, help;
	struct flag t[DEPLOY_FLAGS_MAX];
};

static void deploy_table(struct deploy_args *a)
{
	int n = spec_flags_add(&a->sf, a->t, DEPLOY_FLAGS_MAX);
	const struct flag own[] = {
	    {"traffic", 0, FLAG_BOOL, &a->traffic,
	     "--no-traffic: the new revision serves no traffic yet", false},
	    {"tag", 0, FLAG_STRING, &a->tag, "traffic tag for the new revision", false},
	    {"revision-suffix", 0, FLAG_STRING, &a->suffix, "revision name: NAME-SUFFIX", false},
	    {"format", 0, FLAG_STRING, &a->format, "json, yaml, value(status.url), ...", false},
	    {"help", 'h', FLAG_BOOL, &a->help, "show this help", false},
	};
	memcpy(a->t + n, own, sizeof own);
	memset(&a->t[n + sizeof own / sizeof own[0]], 0, sizeof a->t[0]);
}

static bool seen(const struct flag *t, const void *v)
{
	for (; t->name; t++)
		if (t->value == v)
			return t->seen;
	return false;
}

static void usage(const struct flag *t)
{
	printf("Usage: gpurun deploy NAME [--image IMAGE | --command CMD --args A,B] [flags]\n\n"
	       "Deploys a new revision of service NAME to the gpurun daemon (creating the\n"
	       "service when it does not exist). Only the flags given change the service.\n\n"
	       "Flags:\n");
	flags_print_help(t);
}

static void progress(const cJSON *res, bool public_flag)
{
	const char *region = cJSON_GetStringValue(
	    admin_format_get(res, "service.metadata.labels.'cloud.googleapis.com/location'"));
	const char *name = cJSON_GetStringValue(admin_format_get(res, "service.metadata.name"));
	const char *rev = cJSON_GetStringValue(admin_format_get(res, "revision"));
	const char *url = cJSON_GetStringValue(admin_format_get(res, "url"));
	bool created = cJSON_IsTrue(admin_format_get(res, "created"));
	fprintf(stderr, "Deploying container to gpurun service [%s] in region [%s]\n", name,
	        region ? region : "");
	fprintf(stderr, "\xe2\x9c\x93 Deploying%s... Done.\n", created ? " new service" : "");
	fprintf(stderr, "  \xe2\x9c\x93 Creating Revision...\n");
	fprintf(stderr, "  \xe2\x9c\x93 Routing traffic...\n");
	if (public_flag)
		fprintf(stderr, "  \xe2\x9c\x93 Setting IAM Policy...\n");
	fprintf(stderr, "Done.\n");
	fprintf(stderr,
	        "Service [%s] revision [%s] has been deployed and is serving %d percent of "
	        "traffic.\n",
	        name, rev ? rev : "", (int)json_num(res, "percent", 0));
	fprintf(stderr, "Service URL: %s\n", url ? url : "");
}

static int deploy(struct deploy_args *a, const char *name, const struct admin_format *fmt)
{
	char err[ERR_MSG_LEN];
	cJSON *patch, *res = NULL;
	if (spec_name_check("service name", name, err))
		return platform_fail(err);
	if (spec_flags_patch(&a->sf, a->t, &patch, err))
		return platform_fail(err);
	cJSON *body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "spec", patch);
	if (seen(a->t, &a->traffic) && !a->traffic)
		cJSON_AddTrueToObject(body, "no_traffic");
	if (a->tag)
		cJSON_AddStringToObject(body, "tag", a->tag);
	if (a->suffix)
		cJSON_AddStringToObject(body, "revision_suffix", a->suffix);
	struct platform_client c;
	platform_client_init(&c);
	struct buf path = BUF_INIT;
	buf_printf(&path, "/v1/services/%s:deploy", name);
	int rc = platform_call_json(&c, "POST", path.data, body, &res, err);
	buf_release(&path);
	cJSON_Delete(body);
	if (rc)
		return platform_fail(err);
	if (fmt->kind == ADMIN_FORMAT_DEFAULT)
		progress(res, seen(a->t, &a->sf.allow_unauthenticated));
	else
		platform_format_print(fmt, cJSON_GetObjectItemCaseSensitive(res, "service"), false);
	cJSON_Delete(res);
	return 0;
}

int cmd_deploy(int argc, char **argv)
{
	struct deploy_args *a = xcalloc(1, sizeof *a);
	struct admin_format fmt = {0};
	const char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
	char err[ERR_MSG_LEN];
	int npos = 0, rc;
	spec_flags_init(&a->sf);
	a->traffic = true;
	deploy_table(a);
	if (flags_parse(a->t, argc - 1, argv + 1, pos, &npos, err)) {
		rc = platform_fail(err);
	} else if (a->help) {
		usage(a->t);
		rc = 0;
	} else if (npos != 1) {
		rc = platform_fail(npos ? "give one service name: gpurun deploy NAME [flags]"
		                        : "missing the service name: gpurun deploy NAME [flags]");
	} else if ((rc = platform_format_parse(a->format, &fmt)) == 0) {
		rc = deploy(a, pos[0], &fmt);
	}
	admin_format_release(&fmt);
	spec_flags_release(&a->sf);
	free(pos);
	free(a);
	return rc;
}

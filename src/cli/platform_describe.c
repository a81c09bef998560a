/* platform_describe.c — gcloud run's human text for a service: `services
 * describe` (URL, traffic, the latest revision's container and scaling),
 * `services list` rows, the traffic block `update-traffic` prints, and the
 * lines after `services replace`. Input is the admin API's Knative JSON. */
#include "cli/platform_cli.h"

#include "base/buf.h"
#include "base/json.h"
#include "cli/platform_client.h"

#include <stdio.h>
#include <string.h>

#define CHECK "\xe2\x9c\x94"

static const char *s_at(const cJSON *j, const char *path)
{
	const char *s = cJSON_GetStringValue(admin_format_get(j, path));
	return s ? s : "";
}

/* A scalar at path as text into b (reset first). */
static const char *v_at(const cJSON *j, const char *path, struct buf *b)
{
	buf_reset(b);
	admin_format_scalar(admin_format_get(j, path), b);
	return b->data ? b->data : "";
}

static void row(FILE *out, int indent, const char *k, const char *v)
{
	if (!v || !v[0])
		return;
	int w = 20 - indent;
	fprintf(out, "%*s%-*s %s\n", indent, "", w, k, v);
}

void platform_traffic_print(const cJSON *svc, FILE *out)
{
	const cJSON *t = admin_format_get(svc, "spec.traffic"), *it;
	const char *latest = s_at(svc, "status.latestReadyRevisionName");
	fprintf(out, "URL:     %s\n", s_at(svc, "status.url"));
	fprintf(out, "Traffic:\n");
	cJSON_ArrayForEach(it, t)
	{
		int pct = (int)json_num(it, "percent", 0);
		const char *tag = json_str(it, "tag", NULL);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "latestRevision")))
			fprintf(out, "  %3d%% LATEST (currently %s)", pct, latest);
		else
			fprintf(out, "  %3d%% %s", pct, json_str(it, "revisionName", ""));
		if (tag) {
			const char *url = s_at(svc, "status.url"), *host = strstr(url, "://");
			fprintf(out, "\n        %s: %.*s%s---%s", tag,
			        host ? (int)(host - url + 3) : 0, url, tag, host ? host + 3 : url);
		}
		fputc('\n', out);
	}
}

static void probe(const cJSON *c, FILE *out, struct buf *b)
{
	const cJSON *p = admin_format_get(c, "startupProbe");
	if (!p)
		return;
	bool http = admin_format_get(p, "httpGet") != NULL;
	fprintf(out, "    Startup Probe:\n      %s every %ss\n", http ? "HTTP" : "TCP",
	        v_at(p, "periodSeconds", b));
	if (http)
		row(out, 6, "Path:", v_at(p, "httpGet.path", b));
	row(out, 6, "Port:", v_at(p, http ? "httpGet.port" : "tcpSocket.port", b));
	fprintf(out, "      %-14s %ss\n", "Initial delay:",
	        admin_format_get(p, "initialDelaySeconds") ? v_at(p, "initialDelaySeconds", b)
	                                                   : "0");
	fprintf(out, "      %-14s %ss\n", "Timeout:", v_at(p, "timeoutSeconds", b));
	row(out, 6, "Failure threshold:", v_at(p, "failureThreshold", b));
}

static void container(const cJSON *c, FILE *out, struct buf *b)
{
	const cJSON *env = admin_format_get(c, "env"), *it;
	char gpu[96];
	fprintf(out, "  Container:\n");
	row(out, 4, "Image:", s_at(c, "image"));
	row(out, 4, "Command:", v_at(c, "command", b));
	row(out, 4, "Args:", v_at(c, "args", b));
	row(out, 4, "Port:", v_at(c, "ports[0].containerPort", b));
	row(out, 4, "Memory:", s_at(c, "resources.limits.memory"));
	row(out, 4, "CPU:", s_at(c, "resources.limits.cpu"));
	snprintf(gpu, sizeof gpu, "%s", s_at(c, "resources.limits.'nvidia.com/gpu'"));
	row(out, 4, "GPU:", gpu);
	if (cJSON_GetArraySize(env) > 0) {
		fprintf(out, "    Env vars:\n");
		cJSON_ArrayForEach(it, env)
		{
			fprintf(out, "      %-14s %s\n", json_str(it, "name", ""),
			        json_str(it, "value", ""));
		}
	}
	probe(c, out, b);
}

static void scaling(const cJSON *svc, FILE *out, struct buf *b)
{
	const cJSON *ann = admin_format_get(svc, "spec.template.metadata.annotations");
	const char *min = s_at(ann, "'autoscaling.knative.dev/minScale'");
	row(out, 2, "Concurrency:", v_at(svc, "spec.template.spec.containerConcurrency", b));
	row(out, 2, "Min instances:", min[0] ? min : "0");
	row(out, 2, "Max instances:", s_at(ann, "'autoscaling.knative.dev/maxScale'"));
	char t[48];
	snprintf(t, sizeof t, "%ss", v_at(svc, "spec.template.spec.timeoutSeconds", b));
	row(out, 2, "Timeout:", t);
	row(out, 2, "Idle timeout:", s_at(ann, "'gpurun.dev/idle-timeout'"));
	row(out, 2, "Billing:",
	    !strcmp(s_at(ann, "'run.googleapis.com/cpu-throttling'"), "false")
	        ? "instance-based (--no-cpu-throttling)"
	        : "request-based (--cpu-throttling)");
}

static void instances(const cJSON *svc, FILE *out)
{
	const cJSON *in = admin_format_get(svc, "status.instances"), *it;
	fprintf(out, "\nInstances: %d\n", cJSON_GetArraySize(in));
	cJSON_ArrayForEach(it, in)
	{
		fprintf(out, "  %s  %s  %s  port %d  pid %d\n", json_str(it, "name", ""),
		        json_str(it, "revision", ""), json_str(it, "state", ""),
		        (int)json_num(it, "port", 0), (int)json_num(it, "pid", 0));
	}
	const cJSON *f = admin_format_get(svc, "status.lastInstanceFailure");
	if (f)
		fprintf(out, "Last instance failure: %s  %s: %s\n", json_str(f, "time", ""),
		        json_str(f, "name", ""), json_str(f, "reason", ""));
}

void platform_describe_print(const cJSON *svc, FILE *out)
{
	struct buf b = BUF_INIT;
	bool public_ = !strcmp(
	    s_at(svc, "metadata.annotations.'run.googleapis.com/invoker-iam-disabled'"), "true");
	fprintf(out, CHECK " Service %s in region %s\n\n", s_at(svc, "metadata.name"),
	        s_at(svc, "metadata.labels.'cloud.googleapis.com/location'"));
	platform_traffic_print(svc, out);
	fprintf(out, "Auth:    %s\n",
	        public_ ? "public (--allow-unauthenticated)"
	                : "private (Authorization: Bearer $(gpurun auth print-identity-token "
	                  "--audience URL))");
	fprintf(out, "\nRevision %s\n", s_at(svc, "status.latestReadyRevisionName"));
	container(admin_format_get(svc, "spec.template.spec.containers[0]"), out, &b);
	scaling(svc, out, &b);
	instances(svc, out);
	buf_release(&b);
}

cJSON *platform_service_row(const cJSON *svc)
{
	cJSON *r = cJSON_CreateObject();
	bool ready = !strcmp(s_at(svc, "status.conditions[0].status"), "True");
	cJSON_AddStringToObject(r, "ok", ready ? CHECK : "X");
	cJSON_AddStringToObject(r, "name", s_at(svc, "metadata.name"));
	cJSON_AddStringToObject(r, "region",
	                        s_at(svc, "metadata.labels.'cloud.googleapis.com/location'"));
	cJSON_AddStringToObject(r, "url", s_at(svc, "status.url"));
	cJSON_AddStringToObject(r, "deployed", s_at(svc, "metadata.creationTimestamp"));
	cJSON_AddNumberToObject(r, "instances",
	                        cJSON_GetArraySize(admin_format_get(svc, "status.instances")));
	return r;
}

void platform_replace_print(const cJSON *res, const struct admin_format *fmt)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(res, "warnings"), *it;
	const cJSON *svc = cJSON_GetObjectItemCaseSensitive(res, "service");
	cJSON_ArrayForEach(it, w)
	{
		if (cJSON_IsString(it))
			fprintf(stderr, "WARNING: %s\n", it->valuestring);
	}
	if (fmt->kind != ADMIN_FORMAT_DEFAULT) {
		platform_format_print(fmt, svc, false);
		return;
	}
	fprintf(stderr, "Applying new configuration to gpurun service [%s] in region [%s]\n",
	        s_at(svc, "metadata.name"),
	        s_at(svc, "metadata.labels.'cloud.googleapis.com/location'"));
	fprintf(stderr, CHECK " Deploying%s... Done.\n",
	        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "created")) ? " new service"
	                                                                       : "");
	const char *rev = json_str(res, "revision", NULL);
	if (rev)
		fputs("  " CHECK " Creating Revision...\n", stderr);
	fprintf(stderr, "  " CHECK " Routing traffic...\nDone.\n");
	fprintf(stderr, "New configuration has been applied to service [%s].\nURL: %s\n",
	        s_at(svc, "metadata.name"), s_at(svc, "status.url"));
}

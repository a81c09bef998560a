/* spec_traffic.c — traffic targets (Knative TrafficTarget, §4.1, §1.12):
 * validation, weighted choice and JSON. Resolving "latest" to a revision name
 * is the caller's (it knows the latest ready revision). */
#include "platform/spec.h"

#include "base/mem.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void spec_traffic_copy(struct spec_traffic *dst, const struct spec_traffic *src)
{
	*dst = *src;
	dst->revision = src->revision ? xstrdup(src->revision) : NULL;
	dst->tag = src->tag ? xstrdup(src->tag) : NULL;
}

void spec_traffic_release(struct spec_traffic *t)
{
	if (!t)
		return;
	free(t->revision);
	free(t->tag);
	t->revision = t->tag = NULL;
}

void spec_traffic_free_array(struct spec_traffic *t, int64_t n)
{
	for (int64_t i = 0; t && i < n; i++)
		spec_traffic_release(&t[i]);
	free(t);
}

static bool revision_name_ok(const char *r)
{
	size_t n = strlen(r);
	if (n == 0 || n > SPEC_REVISION_NAME_MAX || !(r[0] >= 'a' && r[0] <= 'z') ||
	    r[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
			return false;
	return true;
}

int spec_revision_name_check(const char *service, const char *rev, char err[ERR_MSG_LEN])
{
	size_t n = strlen(service);
	bool ok = revision_name_ok(rev) && !strncmp(rev, service, n) && rev[n] == '-' && rev[n + 1];
	if (!ok)
		return err_set(err, ERR_INVALID,
		               "revision name '%s' must be '%s-<suffix>': lowercase letters, "
		               "digits and '-', at most %d characters",
		               rev, service, SPEC_REVISION_NAME_MAX);
	return 0;
}

static int check_target(const struct spec_traffic *t, int64_t i, char err[ERR_MSG_LEN])
{
	if (t->latest && t->revision)
		return err_set(err, ERR_INVALID,
		               "traffic[%" PRId64 "]: give a revision or "
		               "latestRevision, not both",
		               i);
	if (!t->latest && !t->revision)
		return err_set(err, ERR_INVALID,
		               "traffic[%" PRId64 "]: give a revision name or "
		               "latestRevision: true",
		               i);
	if (t->revision && !revision_name_ok(t->revision))
		return err_set(err, ERR_INVALID, "traffic[%" PRId64 "]: invalid revision name '%s'",
		               i, t->revision);
	if (t->percent < 0 || t->percent > 100)
		return err_set(err, ERR_INVALID,
		               "traffic[%" PRId64 "]: percent must be 0 to 100, "
		               "got %d",
		               i, t->percent);
	if (t->tag && !spec_name_valid(t->tag))
		return spec_name_check("traffic tag", t->tag, err);
	return 0;
}

int spec_traffic_validate(const struct spec_traffic *t, int64_t n, char err[ERR_MSG_LEN])
{
	if (n <= 0)
		return err_set(err, ERR_INVALID, "traffic: at least one target is needed");
	int sum = 0, latest = 0;
	for (int64_t i = 0; i < n; i++) {
		int rc = check_target(&t[i], i, err);
		if (rc)
			return rc;
		sum += t[i].percent;
		latest += t[i].latest && t[i].percent > 0;
		for (int64_t j = 0; j < i; j++) {
			if (t[i].tag && t[j].tag && !strcmp(t[i].tag, t[j].tag))
				return err_set(err, ERR_INVALID, "traffic: tag '%s' is used twice",
				               t[i].tag);
			if (t[i].percent > 0 && t[j].percent > 0 && t[i].revision &&
			    t[j].revision && !strcmp(t[i].revision, t[j].revision))
				return err_set(err, ERR_INVALID,
				               "traffic: revision '%s' is listed twice",
				               t[i].revision);
		}
	}
	if (latest > 1)
		return err_set(err, ERR_INVALID, "traffic: latestRevision is listed twice");
	if (sum != 100)
		return err_set(err, ERR_INVALID, "traffic: percents must add up to 100, got %d",
		               sum);
	return 0;
}

int64_t spec_traffic_pick(const struct spec_traffic *t, int64_t n, uint32_t r)
{
	int total = 0;
	for (int64_t i = 0; i < n; i++)
		total += t[i].percent > 0 ? t[i].percent : 0;
	if (total <= 0)
		return -1;
	int x = (int)(r % (uint32_t)total);
	for (int64_t i = 0; i < n; i++) {
		if (t[i].percent <= 0)
			continue;
		if (x < t[i].percent)
			return i;
		x -= t[i].percent;
	}
	return -1;
}

cJSON *spec_traffic_to_json(const struct spec_traffic *t, int64_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (int64_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (t[i].latest)
			cJSON_AddBoolToObject(o, "latest", true);
		else
			cJSON_AddStringToObject(o, "revision", t[i].revision);
		cJSON_AddNumberToObject(o, "percent", t[i].percent);
		if (t[i].tag)
			cJSON_AddStringToObject(o, "tag", t[i].tag);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static int target_from_json(const cJSON *o, int64_t i, struct spec_traffic *t,
                            char err[ERR_MSG_LEN])
{
	memset(t, 0, sizeof *t);
	if (!cJSON_IsObject(o))
		return err_set(err, ERR_INVALID, "traffic[%" PRId64 "] must be an object", i);
	const cJSON *it;
	cJSON_ArrayForEach(it, o)
	{
		const char *k = it->string;
		if (!strcmp(k, "revision") && cJSON_IsString(it)) {
			free(t->revision);
			t->revision = xstrdup(it->valuestring);
		} else if (!strcmp(k, "latest") && cJSON_IsBool(it)) {
			t->latest = cJSON_IsTrue(it);
		} else if (!strcmp(k, "percent") && cJSON_IsNumber(it) &&
		           it->valuedouble == floor(it->valuedouble) &&
		           fabs(it->valuedouble) <= 1000) {
			t->percent = (int)it->valuedouble;
		} else if (!strcmp(k, "tag") && (cJSON_IsString(it) || cJSON_IsNull(it))) {
			free(t->tag);
			t->tag = cJSON_IsString(it) ? xstrdup(it->valuestring) : NULL;
		} else {
			spec_traffic_release(t);
			return err_set(err, ERR_INVALID, "traffic[%" PRId64 "]: bad field '%s'", i,
			               k);
		}
	}
	return 0;
}

int spec_traffic_from_json(const cJSON *j, struct spec_traffic **out, int64_t *n,
                           char err[ERR_MSG_LEN])
{
	*out = NULL;
	*n = 0;
	if (!cJSON_IsArray(j))
		return err_set(err, ERR_INVALID, "traffic must be an array");
	int64_t cnt = cJSON_GetArraySize(j);
	if (cnt > 1000)
		return err_set(err, ERR_TOO_LARGE, "traffic: too many targets");
	struct spec_traffic *t = xcalloc((size_t)(cnt ? cnt : 1), sizeof *t);
	int64_t i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		int rc = target_from_json(it, i, &t[i], err);
		if (rc) {
			spec_traffic_free_array(t, i);
			return rc;
		}
		i++;
	}
	int rc = spec_traffic_validate(t, cnt, err);
	if (rc) {
		spec_traffic_free_array(t, cnt);
		return rc;
	}
	*out = t;
	*n = cnt;
	return 0;
}

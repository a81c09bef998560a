/* admin_traffic.c — `services update-traffic` for the admin API, with gcloud
 * run services update-traffic's rules (reference §1.12): --to-revisions
 * R1=P1,LATEST=P2 sets those targets and, when they sum under 100, scales
 * the other serving targets proportionally into the rest; --to-latest puts
 * 100% on the latest revision; tagged targets keep their tags (at 0% when
 * they lose their traffic). A full split can also be given as targets. */
#include "platform/admin_internal.h"

#include "base/json.h"
#include "base/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LATEST_NAME "LATEST"

static bool same_target(const struct spec_traffic *t, const char *rev)
{
	return !strcmp(rev, LATEST_NAME) ? t->latest : !t->latest && !strcmp(t->revision, rev);
}

static int check_assignments(const struct admin_assign *a, int64_t na, int *sum,
                             char err[ERR_MSG_LEN])
{
	*sum = 0;
	for (int64_t i = 0; i < na; i++) {
		if (a[i].percent < 0 || a[i].percent > 100)
			return err_set(err, ERR_INVALID,
			               "--to-revisions: %s=%d: percent must be 0 to 100",
			               a[i].revision, a[i].percent);
		for (int64_t j = 0; j < i; j++)
			if (!strcmp(a[i].revision, a[j].revision))
				return err_set(err, ERR_INVALID,
				               "--to-revisions: %s is given twice", a[i].revision);
		*sum += a[i].percent;
	}
	if (*sum > 100)
		return err_set(err, ERR_INVALID,
		               "--to-revisions: the percents add up to %d, more than 100", *sum);
	return 0;
}

/* Scales the unassigned serving targets of t into rest by largest
 * remainders (ties: the earlier target); total is their current sum (> 0). */
static void scale_rest(struct spec_traffic *t, const bool *assigned, int64_t n, int rest, int total)
{
	int64_t *rem = xcalloc((size_t)n, sizeof *rem);
	int given = 0;
	for (int64_t i = 0; i < n; i++) {
		if (assigned[i] || t[i].percent == 0) {
			rem[i] = -1;
			continue;
		}
		int64_t x = (int64_t)t[i].percent * rest;
		t[i].percent = (int)(x / total);
		rem[i] = x % total;
		given += t[i].percent;
	}
	while (given < rest) {
		int64_t best = -1;
		for (int64_t i = 0; i < n; i++)
			if (rem[i] >= 0 && (best < 0 || rem[i] > rem[best]))
				best = i;
		if (best < 0)
			break;
		t[best].percent++;
		rem[best] = -1;
		given++;
	}
	free(rem);
}

int admin__traffic_assign(const struct spec_traffic *cur, int64_t n, const struct admin_assign *a,
                          int64_t na, struct spec_traffic **out, int64_t *nout,
                          char err[ERR_MSG_LEN])
{
	int sum, rc = check_assignments(a, na, &sum, err);
	*out = NULL;
	*nout = 0;
	if (rc)
		return rc;
	int64_t cap = n + na, m = 0;
	struct spec_traffic *t = xcalloc((size_t)(cap > 0 ? cap : 1), sizeof *t);
	bool *assigned = xcalloc((size_t)(cap > 0 ? cap : 1), sizeof *assigned);
	for (int64_t i = 0; i < n; i++, m++)
		spec_traffic_copy(&t[m], &cur[i]);
	for (int64_t k = 0; k < na; k++) {
		bool hit = false;
		for (int64_t i = 0; i < m; i++) {
			if (!same_target(&t[i], a[k].revision))
				continue;
			t[i].percent = hit ? 0 : a[k].percent; /* duplicates (tags) keep 0 */
			assigned[i] = hit = true;
		}
		if (hit)
			continue;
		bool latest = !strcmp(a[k].revision, LATEST_NAME);
		t[m].revision = latest ? NULL : xstrdup(a[k].revision);
		t[m].latest = latest;
		t[m].percent = a[k].percent;
		assigned[m++] = true;
	}
	int total = 0;
	for (int64_t i = 0; i < m; i++)
		if (!assigned[i])
			total += t[i].percent;
	if (sum < 100 && total == 0) {
		rc = err_set(err, ERR_INVALID,
		             "--to-revisions: the percents add up to %d and no other revision "
		             "serves traffic to take the remaining %d",
		             sum, 100 - sum);
	} else if (sum == 100) {
		for (int64_t i = 0; i < m; i++)
			if (!assigned[i])
				t[i].percent = 0;
	} else {
		scale_rest(t, assigned, m, 100 - sum, total);
	}
	int64_t w = 0;
	for (int64_t i = 0; i < m; i++) {
		if (rc || (!t[i].tag && t[i].percent == 0))
			spec_traffic_release(&t[i]);
		else
			t[w++] = t[i];
	}
	free(assigned);
	if (rc) {
		free(t);
		return rc;
	}
	*out = t;
	*nout = w;
	return 0;
}

/* {"REV": pct, ...} into assignments borrowing the keys. */
static int assignments(const cJSON *o, struct admin_assign **a, int64_t *n, char err[ERR_MSG_LEN])
{
	const cJSON *it;
	*a = NULL;
	*n = 0;
	if (!cJSON_IsObject(o))
		return err_set(err, ERR_INVALID,
		               "'to_revisions' must be an object {\"REV\": percent}");
	cJSON_ArrayForEach(it, o)
	{
		/* floor() first: casting a double outside int's range is undefined */
		double v = cJSON_IsNumber(it) ? it->valuedouble : 0.5;
		if (!isfinite(v) || v != floor(v))
			return err_set(err, ERR_INVALID,
			               "--to-revisions: %s: the percent must be an integer",
			               it->string);
		int pct = v < -1 ? -1 : v > 101 ? 101 : (int)v; /* out of range either way */
		*a = xrealloc(*a, sizeof **a * (size_t)(*n + 1));
		(*a)[(*n)++] = (struct admin_assign){it->string, pct};
	}
	if (*n == 0)
		return err_set(err, ERR_INVALID,
		               "--to-revisions: give at least one REVISION=PERCENT");
	return 0;
}

/* The split the request asks for, given the current service. */
static int requested(const struct state_service *s, const cJSON *body, struct spec_traffic **t,
                     int64_t *n, char err[ERR_MSG_LEN])
{
	const cJSON *rev = cJSON_GetObjectItemCaseSensitive(body, "to_revisions");
	const cJSON *full = cJSON_GetObjectItemCaseSensitive(body, "traffic");
	bool latest = json_bool(body, "to_latest", false);
	if ((rev != NULL) + (full != NULL) + latest != 1)
		return err_set(err, ERR_INVALID,
		               "give exactly one of --to-revisions, --to-latest or a traffic list");
	if (full)
		return spec_traffic_from_json(full, t, n, err);
	if (latest) {
		struct admin_assign all = {LATEST_NAME, 100};
		return admin__traffic_assign(s->traffic, s->n_traffic, &all, 1, t, n, err);
	}
	struct admin_assign *a;
	int64_t na;
	int rc = assignments(rev, &a, &na, err);
	if (!rc)
		rc = admin__traffic_assign(s->traffic, s->n_traffic, a, na, t, n, err);
	free(a);
	return rc;
}

int admin__traffic(const struct admin_ctx *c, const char *service, const cJSON *body, cJSON **out,
                   char err[ERR_MSG_LEN])
{
	struct state_service s;
	struct spec_traffic *t = NULL;
	int64_t n = 0;
	*out = NULL;
	int rc = spec_name_check("service name", service, err);
	if (rc)
		return rc;
	if (!cJSON_IsObject(body))
		return err_set(err, ERR_INVALID, "the traffic request must be a JSON object");
	rc = state_service_get(c->st, service, &s);
	if (rc == ERR_NOT_FOUND)
		err_set(err, rc, "service %s not found", service);
	else if (rc)
		err_set(err, rc, "state: %s", err_str(rc));
	if (!rc)
		rc = requested(&s, body, &t, &n, err);
	if (!rc)
		rc = state_traffic_set(c->st, service, t, n, c->now_ns, err);
	if (!rc)
		rc = admin__service_json(c, service, out, err);
	spec_traffic_free_array(t, n);
	state_service_release(&s);
	return rc;
}

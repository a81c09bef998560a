/* admin_deploy.c — deploy, replace and delete for the admin API, with
 * gcloud run deploy's semantics (reference §1.12-1.14): only the given
 * flags change the spec, every deploy makes an immutable revision named
 * SERVICE-NNNNN-abc, a new service routes 100% to its latest revision, an
 * existing one keeps its split (what "latest" had goes to the new revision;
 * --no-traffic pins it to the previous one), --tag names the new revision.
 * Placement is checked here: the daemon's region, and --gpu against the
 * node's inventory. Not here: starting instances (the daemon does, when
 * told the service changed). */
#include "platform/admin_internal.h"

#include "base/json.h"
#include "base/mem.h"
#include "platform/admin_format.h"
#include "platform/knative.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int admin__http_status(int rc)
{
	switch (rc) {
	case 0: return 200;
	case ERR_INVALID:
	case ERR_UNSUPPORTED:
	case ERR_TRUNCATED: return 400;
	case ERR_NOT_FOUND: return 404;
	case ERR_EXISTS:
	case ERR_BUSY: return 409;
	case ERR_TOO_LARGE: return 413;
	default: return 500;
	}
}

/* Devices the service's own live instances hold: a new revision replaces
 * them, so they count as free for it. */
static int gpus_held_by(struct state *st, const char *service)
{
	struct state_instance *in;
	int64_t n;
	int held = 0;
	if (state_instance_list(st, service, true, &in, &n))
		return 0;
	for (int64_t i = 0; i < n; i++) {
		const char *g = in[i].gpus;
		if (!g || !g[0])
			continue;
		held++;
		for (; *g; g++)
			held += *g == ',';
	}
	state_instance_free_array(in, n);
	return held;
}

int admin__check_placement(const struct admin_ctx *c, const char *service, const struct spec *s,
                           char err[ERR_MSG_LEN])
{
	if (s->region && strcmp(s->region, c->region))
		return err_set(err, ERR_INVALID,
		               "region '%s' is not served here: this daemon's region is '%s' "
		               "(--region %s)",
		               s->region, c->region, c->region);
	if (s->gpu <= 0)
		return 0;
	int total = c->gpus ? c->gpus->n : 0;
	int used = total > 0 ? state_gpu_in_use(c->st, c->gpus) : 0;
	if (used < 0)
		used = 0;
	int free_n = total - used + gpus_held_by(c->st, service);
	if (free_n > total)
		free_n = total;
	int need = s->gpu * (s->min_instances > 1 ? s->min_instances : 1);
	if (need > free_n) {
		if (s->min_instances > 1)
			return err_set(err, ERR_BUSY,
			               "not enough GPUs: requested %d (%d per instance x %d "
			               "min-instances), node has %d free",
			               need, s->gpu, s->min_instances, free_n);
		return err_set(err, ERR_BUSY, "not enough GPUs: requested %d, node has %d free",
		               need, free_n);
	}
	return 0;
}

static void revision_name(const struct state_service *cur, const char *service, const char *suffix,
                          char out[SPEC_REVISION_NAME_MAX + 1])
{
	if (suffix) {
		snprintf(out, SPEC_REVISION_NAME_MAX + 1, "%s-%s", service, suffix);
		return;
	}
	uint8_t r[3];
	if (RAND_bytes(r, 3) != 1)
		memset(r, 0, sizeof r);
	snprintf(out, SPEC_REVISION_NAME_MAX + 1, "%s-%05" PRId64 "-%c%c%c", service,
	         (cur ? cur->generation : 0) + 1, 'a' + r[0] % 26, 'a' + r[1] % 26,
	         'a' + r[2] % 26);
}

static void traffic_push(struct spec_traffic **t, int64_t *n, const char *rev, int pct,
                         const char *tag)
{
	*t = xrealloc(*t, sizeof **t * (size_t)(*n + 1));
	struct spec_traffic *e = &(*t)[(*n)++];
	e->revision = rev ? xstrdup(rev) : NULL;
	e->latest = rev == NULL;
	e->percent = pct;
	e->tag = tag ? xstrdup(tag) : NULL;
}

/* Removes tag from every target; untagged 0% targets left behind go. */
static void traffic_untag(struct spec_traffic *t, int64_t *n, const char *tag)
{
	int64_t w = 0;
	for (int64_t i = 0; i < *n; i++) {
		if (t[i].tag && !strcmp(t[i].tag, tag)) {
			free(t[i].tag);
			t[i].tag = NULL;
		}
		if (!t[i].tag && t[i].percent == 0)
			spec_traffic_release(&t[i]);
		else
			t[w++] = t[i];
	}
	*n = w;
}

struct deploy_opts {
	bool no_traffic;
	const char *tag, *suffix;
	struct spec_traffic *traffic; /* given in the body; NULL: none */
	int64_t n_traffic;
};

/* The split to store, or *n == 0 to let the state keep it. */
static int deploy_traffic(const struct state_service *cur, const struct deploy_opts *o,
                          const char *rev, struct spec_traffic **t, int64_t *n,
                          char err[ERR_MSG_LEN])
{
	*t = NULL;
	*n = 0;
	if (!cur && o->no_traffic)
		return err_set(err, ERR_INVALID, "--no-traffic needs an existing service");
	if (!o->traffic && !o->no_traffic && !o->tag)
		return 0;
	const struct spec_traffic *base = o->traffic ? o->traffic : cur ? cur->traffic : NULL;
	int64_t nb = o->traffic ? o->n_traffic : cur ? cur->n_traffic : 0;
	for (int64_t i = 0; i < nb; i++)
		traffic_push(t, n, base[i].latest ? NULL : base[i].revision, base[i].percent,
		             base[i].tag);
	if (nb == 0)
		traffic_push(t, n, NULL, 100, NULL);
	for (int64_t i = 0; o->no_traffic && i < *n; i++) {
		if (!(*t)[i].latest)
			continue;
		(*t)[i].latest = false;
		(*t)[i].revision = xstrdup(cur->latest_revision);
	}
	if (o->tag) {
		traffic_untag(*t, n, o->tag);
		traffic_push(t, n, rev, 0, o->tag);
	}
	return 0;
}

static int served_percent(const struct state_service *s, const char *rev)
{
	int p = 0;
	for (int64_t i = 0; i < s->n_traffic; i++)
		if (s->traffic[i].latest ? !strcmp(s->latest_revision, rev)
		                         : !strcmp(s->traffic[i].revision, rev))
			p += s->traffic[i].percent;
	return p;
}

/* {"service", "revision", "created", "percent", "url"} after a change. */
static int result(const struct admin_ctx *c, const char *service, const char *rev, bool created,
                  cJSON **out, char err[ERR_MSG_LEN])
{
	cJSON *svc;
	int rc = admin__service_json(c, service, &svc, err);
	if (rc)
		return rc;
	struct state_service s;
	int pct = 0;
	if (rev && !state_service_get(c->st, service, &s))
		pct = served_percent(&s, rev);
	if (rev)
		state_service_release(&s);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "service", svc);
	if (rev)
		cJSON_AddStringToObject(o, "revision", rev);
	else
		cJSON_AddNullToObject(o, "revision");
	cJSON_AddBoolToObject(o, "created", created);
	cJSON_AddNumberToObject(o, "percent", pct);
	const char *url = cJSON_GetStringValue(admin_format_get(svc, "status.url"));
	cJSON_AddStringToObject(o, "url", url ? url : "");
	*out = o;
	return 0;
}

static int parse_opts(const cJSON *body, struct deploy_opts *o, const cJSON **patch,
                      char err[ERR_MSG_LEN])
{
	static const char *keys[] = {"spec", "no_traffic", "tag", "revision_suffix", "traffic"};
	const cJSON *it;
	memset(o, 0, sizeof *o);
	*patch = NULL;
	if (!body)
		return 0;
	if (!cJSON_IsObject(body))
		return err_set(err, ERR_INVALID, "the deploy request must be a JSON object");
	cJSON_ArrayForEach(it, body)
	{
		size_t i;
		for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
			if (!strcmp(it->string, keys[i]))
				break;
		if (i == sizeof keys / sizeof keys[0])
			return err_set(err, ERR_INVALID, "unknown field '%s' in the deploy request",
			               it->string);
	}
	*patch = cJSON_GetObjectItemCaseSensitive(body, "spec");
	if (*patch && !cJSON_IsObject(*patch))
		return err_set(err, ERR_INVALID,
		               "'spec' must be an object of the fields to change");
	it = cJSON_GetObjectItemCaseSensitive(body, "no_traffic");
	if (it && !cJSON_IsBool(it))
		return err_set(err, ERR_INVALID, "'no_traffic' must be true or false");
	o->no_traffic = cJSON_IsTrue(it);
	o->tag = json_str(body, "tag", NULL);
	if (json_has(body, "tag") && (!o->tag || !spec_name_valid(o->tag)))
		return spec_name_check("--tag", o->tag ? o->tag : "", err);
	o->suffix = json_str(body, "revision_suffix", NULL);
	if (json_has(body, "revision_suffix") && (!o->suffix || !spec_name_valid(o->suffix)))
		return spec_name_check("--revision-suffix", o->suffix ? o->suffix : "", err);
	it = cJSON_GetObjectItemCaseSensitive(body, "traffic");
	if (it)
		return spec_traffic_from_json(it, &o->traffic, &o->n_traffic, err);
	return 0;
}

/* The new revision's spec: the current one (or the defaults, in the
 * daemon's region) with the patch applied, validated and placed. */
static int next_spec(const struct admin_ctx *c, const char *service,
                     const struct state_service *cur, const cJSON *patch, struct spec *out,
                     char err[ERR_MSG_LEN])
{
	if (cur) {
		spec_copy(out, &cur->spec);
	} else {
		spec_init(out);
		free(out->region);
		out->region = xstrdup(c->region);
	}
	int rc = patch ? spec_patch_apply(out, patch, err) : 0;
	if (!rc)
		rc = spec_validate(out, err);
	if (!rc)
		rc = admin__check_placement(c, service, out, err);
	return rc;
}

int admin__deploy(const struct admin_ctx *c, const char *service, const cJSON *body, cJSON **out,
                  char err[ERR_MSG_LEN])
{
	struct deploy_opts o;
	const cJSON *patch;
	struct state_service cur;
	struct spec spec;
	struct spec_traffic *t = NULL;
	int64_t nt = 0;
	char rev[SPEC_REVISION_NAME_MAX + 1];
	*out = NULL;
	int rc = spec_name_check("service name", service, err);
	if (rc)
		return rc;
	if ((rc = parse_opts(body, &o, &patch, err)))
		goto out_opts;
	int found = state_service_get(c->st, service, &cur);
	if (found && found != ERR_NOT_FOUND) {
		rc = err_set(err, found, "state: %s", err_str(found));
		goto out_cur;
	}
	const struct state_service *cp = found ? NULL : &cur;
	if ((rc = next_spec(c, service, cp, patch, &spec, err)))
		goto out_spec;
	revision_name(cp, service, o.suffix, rev);
	if ((rc = deploy_traffic(cp, &o, rev, &t, &nt, err)))
		goto out_spec;
	struct state_deploy_req q = {.service = service,
	                             .spec = &spec,
	                             .revision_name = rev,
	                             .traffic = t,
	                             .n_traffic = nt,
	                             .now_ns = c->now_ns};
	char made[SPEC_REVISION_NAME_MAX + 1];
	if ((rc = state_deploy(c->st, &q, made, err)))
		goto out_traffic;
	rc = result(c, service, made, cp == NULL, out, err);
out_traffic:
	spec_traffic_free_array(t, nt);
out_spec:
	spec_release(&spec);
out_cur:
	state_service_release(&cur);
out_opts:
	spec_traffic_free_array(o.traffic, o.n_traffic);
	return rc;
}

/* The template names a revision that exists: fine when it is the latest
 * and equal (nothing new to create), else a conflict. */
static int replace_existing(const struct admin_ctx *c, const struct knative_service *k,
                            const struct state_service *cur, char err[ERR_MSG_LEN])
{
	struct state_revision r;
	int rc = state_revision_get(c->st, k->revision_name, &r);
	if (rc == ERR_NOT_FOUND) {
		state_revision_release(&r);
		return 1;
	}
	if (!rc && strcmp(r.service, k->name))
		rc = err_set(err, ERR_EXISTS, "revision %s belongs to service %s", r.name,
		             r.service);
	else if (!rc && !spec_template_equal(&r.spec, &k->spec))
		rc = err_set(err, ERR_EXISTS,
		             "revision %s already exists with a different template: change or "
		             "remove spec.template.metadata.name",
		             r.name);
	else if (!rc && (!cur || !cur->latest_revision || strcmp(cur->latest_revision, r.name)))
		rc = err_set(err, ERR_EXISTS,
		             "revision %s exists but is not the latest: route to it with "
		             "spec.traffic, or remove spec.template.metadata.name",
		             r.name);
	state_revision_release(&r);
	return rc;
}

static int replace_apply(const struct admin_ctx *c, struct knative_service *k,
                         const struct state_service *cur, char **rev_out, char err[ERR_MSG_LEN])
{
	struct spec_traffic all = {NULL, true, 100, NULL};
	const struct spec_traffic *t = k->n_traffic ? k->traffic : &all;
	int64_t nt = k->n_traffic ? k->n_traffic : 1;
	int rc = admin__check_placement(c, k->name, &k->spec, err);
	if (!rc)
		rc = k->revision_name ? replace_existing(c, k, cur, err) : 1;
	if (rc == 0) { /* the named revision is the latest, unchanged */
		rc = state_service_update(c->st, k->name, &k->spec, c->now_ns, err);
		if (!rc)
			rc = state_traffic_set(c->st, k->name, t, nt, c->now_ns, err);
		return rc;
	}
	if (rc < 0)
		return rc;
	char rev[SPEC_REVISION_NAME_MAX + 1];
	if (k->revision_name)
		snprintf(rev, sizeof rev, "%s", k->revision_name);
	else
		revision_name(cur, k->name, NULL, rev);
	struct state_deploy_req q = {.service = k->name,
	                             .spec = &k->spec,
	                             .revision_name = rev,
	                             .traffic = t,
	                             .n_traffic = nt,
	                             .now_ns = c->now_ns};
	char made[SPEC_REVISION_NAME_MAX + 1];
	rc = state_deploy(c->st, &q, made, err);
	if (!rc)
		*rev_out = xstrdup(made);
	return rc;
}

int admin__replace(const struct admin_ctx *c, const char *yaml, size_t len, cJSON **out,
                   char err[ERR_MSG_LEN])
{
	struct knative_service k;
	struct buf warn = BUF_INIT;
	struct state_service cur;
	char *rev = NULL;
	*out = NULL;
	int rc = knative_import(yaml, len, &k, &warn, err);
	if (rc)
		goto out_k;
	/* export spells "the instance's port" (0) as the container port; read it
	 * back as 0, which is also what a process instance needs (its port is
	 * not the container's) */
	if (k.spec.probe.port == k.spec.port)
		k.spec.probe.port = 0;
	int found = state_service_get(c->st, k.name, &cur);
	if (found && found != ERR_NOT_FOUND) {
		rc = err_set(err, found, "state: %s", err_str(found));
		goto out_cur;
	}
	rc = replace_apply(c, &k, found ? NULL : &cur, &rev, err);
	if (!rc)
		rc = result(c, k.name, rev, found != 0, out, err);
	if (!rc) {
		cJSON *w = cJSON_AddArrayToObject(*out, "warnings");
		for (const char *l = warn.data; l && *l;) {
			size_t n = strcspn(l, "\n");
			char *line = xstrndup(l, n);
			cJSON_AddItemToArray(w, cJSON_CreateString(line));
			free(line);
			l += n + (l[n] == '\n');
		}
	}
	free(rev);
out_cur:
	state_service_release(&cur);
out_k:
	knative_service_release(&k);
	buf_release(&warn);
	return rc;
}

int admin__delete(const struct admin_ctx *c, const char *service, char err[ERR_MSG_LEN])
{
	int rc = spec_name_check("service name", service, err);
	if (rc)
		return rc;
	rc = state_service_delete(c->st, service);
	if (rc == ERR_NOT_FOUND)
		return err_set(err, rc, "service %s not found", service);
	return rc ? err_set(err, rc, "state: %s", err_str(rc)) : 0;
}

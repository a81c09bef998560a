/* daemon.c — the daemon's life cycle and its view of services: config from
 * the environment (GPURUN_HOME, GPURUN_GATEWAY, GPURUN_REGION), start-up
 * (state, ledger writer, gateway, admin socket, restore, min instances),
 * the routing table rebuilt from the state on daemon_service_changed, the
 * autoscaler tick, the per-iteration flush, and graceful shutdown. */
#include "platform/daemon_internal.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t daemon__rand(struct daemon *d)
{
	/* xorshift64*: request ids, instance ids, traffic draws (not secrets) */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * 2685821657736338717ULL;
}

static void flush_cb(uv_prepare_t *p)
{
	struct daemon *d = p->data;
	gw_flush_deferred(d);
	int64_t now = time_mono_ns();
	/* the access log goes out in big writes while busy, at once when idle */
	if (d->n_xs == 0 || now - d->access_flushed_ns >= 100000000LL) {
		gw_access_flush(d);
		d->access_flushed_ns = now;
	}
	ledger_writer_kick(d->lw);
	if (d->access.len == 0 || d->finishing) {
		uv_prepare_stop(p);
		d->flush_on = false;
	}
}

void daemon__want_flush(struct daemon *d)
{
	if (d->flush_on || d->finishing)
		return;
	d->flush_on = true;
	uv_prepare_start(&d->flush, flush_cb);
}

/* ---- revisions and services ---- */

struct rev *daemon__rev_find(struct daemon *d, const char *name)
{
	for (struct rev *rv = d->revs; rv; rv = rv->next)
		if (!strcmp(rv->name, name))
			return rv;
	return NULL;
}

struct rev *daemon__rev_get(struct daemon *d, const char *name)
{
	struct rev *rv = daemon__rev_find(d, name);
	if (rv)
		return rv;
	struct state_revision sr;
	if (state_revision_get(d->st, name, &sr))
		return NULL;
	rv = xcalloc(1, sizeof *rv);
	rv->d = d;
	rv->name = xstrdup(sr.name);
	rv->service = xstrdup(sr.service);
	spec_copy(&rv->spec, &sr.spec);
	state_revision_release(&sr);
	rv->m = gw_metrics_for(d, rv->service);
	/* an image's --command and --args run inside its container (Cloud Run) */
	rv->oci = rv->spec.image && !spec_image_is_builtin(rv->spec.image);
	rv->tokens =
	    rv->spec.image && !strcmp(rv->spec.image, SPEC_IMAGE_OLLAMA) && rv->spec.command.n == 0;
	struct kpa_config kc;
	kpa_config_from_spec(&kc, &rv->spec);
	if (kpa_init(&rv->kpa, &kc, time_mono_ns())) {
		kpa_config_default(&kc);
		kpa_init(&rv->kpa, &kc, time_mono_ns());
	}
	rv->next = d->revs;
	d->revs = rv;
	return rv;
}

static void rev_free(struct rev *rv)
{
	kpa_release(&rv->kpa);
	spec_release(&rv->spec);
	free(rv->name);
	free(rv->service);
	free(rv);
}

void daemon__revs_gc(struct daemon *d)
{
	for (struct rev **pp = &d->revs; *pp;) {
		struct rev *rv = *pp;
		if (!rv->reachable && !rv->insts && !rv->n_held && !rv->n_xs && rv->prep != 1) {
			*pp = rv->next;
			rev_free(rv);
		} else {
			pp = &rv->next;
		}
	}
}

struct svc *daemon__svc_find(struct daemon *d, const char *name)
{
	for (struct svc *s = d->svcs; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

static void svc_clear(struct svc *s)
{
	for (int i = 0; i < s->n_targets; i++)
		free(s->targets[i].tag);
	free(s->targets);
	for (int i = 0; i < s->n_domains; i++)
		free(s->domains[i]);
	free(s->domains);
	free(s->url);
	s->targets = NULL;
	s->domains = NULL;
	s->url = NULL;
	s->n_targets = s->n_domains = 0;
}

static void svc_remove(struct daemon *d, const char *name)
{
	for (struct svc **pp = &d->svcs; *pp; pp = &(*pp)->next) {
		struct svc *s = *pp;
		if (strcmp(s->name, name))
			continue;
		*pp = s->next;
		svc_clear(s);
		free(s->name);
		free(s);
		return;
	}
}

static void svc_domains(struct svc *s, const struct spec *sp)
{
	const char *list = spec_kvs_get(&sp->service_annotations, GATEWAY_DOMAINS_ANNOTATION);
	while (list && *list) {
		while (*list == ',' || *list == ' ')
			list++;
		size_t n = strcspn(list, ", ");
		if (n > 0 && n <= GATEWAY_HOST_MAX) {
			s->domains =
			    xrealloc(s->domains, sizeof *s->domains * (size_t)(s->n_domains + 1));
			char *h = xstrndup(list, n);
			for (char *c = h; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			s->domains[s->n_domains++] = h;
		}
		list += n;
	}
}

static void svc_load(struct daemon *d, struct svc *s, const struct state_service *ss)
{
	svc_clear(s);
	s->url = daemon_service_url(d, ss->name);
	s->allow_unauth = ss->spec.allow_unauthenticated;
	svc_domains(s, &ss->spec);
	s->targets = xcalloc((size_t)(ss->n_traffic ? ss->n_traffic : 1), sizeof *s->targets);
	for (int64_t i = 0; i < ss->n_traffic; i++) {
		const struct spec_traffic *t = &ss->traffic[i];
		const char *name = t->latest ? ss->latest_revision : t->revision;
		struct svc_target *st = &s->targets[s->n_targets++];
		st->rev = name ? daemon__rev_get(d, name) : NULL;
		st->percent = t->percent;
		st->tag = t->tag ? xstrdup(t->tag) : NULL;
	}
}

/* Which revisions of the service take traffic now; the rest drain. */
static void reachability(struct daemon *d, const char *service, struct svc *s)
{
	for (struct rev *rv = d->revs; rv; rv = rv->next)
		if (!strcmp(rv->service, service))
			rv->reachable = false;
	for (int i = 0; s && i < s->n_targets; i++) {
		struct svc_target *t = &s->targets[i];
		if (t->rev && (t->percent > 0 || t->tag))
			t->rev->reachable = true;
	}
	for (struct rev *rv = d->revs; rv; rv = rv->next) {
		if (strcmp(rv->service, service))
			continue;
		rv->kpa.cfg.reachable = rv->reachable;
		if (!rv->reachable && rv->n_held)
			activator_fail_all(rv, 503, "the revision no longer takes traffic");
		if (!d->restoring)
			scaler_decide(rv);
	}
}

void daemon_service_changed(struct daemon *d, const char *service)
{
	struct state_service ss;
	int rc = state_service_get(d->st, service, &ss);
	struct svc *s = daemon__svc_find(d, service);
	if (rc) {
		if (rc != ERR_NOT_FOUND)
			log_error("service %s: cannot read the state: %s", service, err_str(rc));
		state_service_release(&ss); /* a not-found result still holds spec defaults */
		svc_remove(d, service);
		reachability(d, service, NULL);
		daemon__revs_gc(d);
		return;
	}
	if (!s) {
		s = xcalloc(1, sizeof *s);
		s->name = xstrdup(service);
		s->next = d->svcs;
		d->svcs = s;
	}
	svc_load(d, s, &ss);
	state_service_release(&ss);
	reachability(d, service, s);
	daemon__revs_gc(d);
}

/* ---- accessors ---- */

struct state *daemon_state(struct daemon *d)
{
	return d->st;
}

char *daemon_service_url(struct daemon *d, const char *service)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "http://%s.localhost:%d", service, d->gw_port);
	return buf_steal(&b);
}

const char *daemon_region(struct daemon *d)
{
	return d->region;
}

const char *daemon_home(struct daemon *d)
{
	return d->home;
}

struct gpu_inventory *daemon_gpus(struct daemon *d)
{
	return &d->gpus;
}

int daemon_gateway_port(struct daemon *d)
{
	return d->gw_port;
}

int daemon_identity_token(struct daemon *d, const char *audience, int64_t ttl_s, struct buf *out)
{
	struct auth_claims c;
	memset(&c, 0, sizeof c);
	snprintf(c.iss, sizeof c.iss, "%s", AUTH_ISSUER);
	const char *user = getenv("USER");
	snprintf(c.sub, sizeof c.sub, "%s", user ? user : "local");
	snprintf(c.aud, sizeof c.aud, "%s", audience ? audience : "");
	c.iat = time_wall_ns() / 1000000000LL;
	c.exp = c.iat + (ttl_s > 0 ? ttl_s : AUTH_TTL_DEFAULT_S);
	return auth_token_sign(d->key, sizeof d->key, &c, out);
}

int daemon_service_instances(struct daemon *d, const char *service,
                             struct daemon_instance_info **out, int64_t *n)
{
	*out = NULL;
	*n = 0;
	int64_t cap = 0;
	for (struct rev *rv = d->revs; rv; rv = rv->next) {
		if (strcmp(rv->service, service))
			continue;
		for (struct inst *in = rv->insts; in; in = in->next) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 8;
				*out = xrealloc(*out, sizeof **out * (size_t)cap);
			}
			struct daemon_instance_info *i = &(*out)[(*n)++];
			memset(i, 0, sizeof *i);
			snprintf(i->id, sizeof i->id, "%s", in->id);
			snprintf(i->revision, sizeof i->revision, "%s", rv->name);
			i->state = inst_phase_str(in->phase);
			i->port = in->port;
			i->pid = in->pid;
			i->in_flight = in->active;
			i->started_ns = in->start_wall;
			i->ready_ns = in->ready_wall;
			i->adopted = in->adopted;
		}
	}
	return 0;
}

int64_t daemon_service_held(struct daemon *d, const char *service)
{
	int64_t n = 0;
	for (struct rev *rv = d->revs; rv; rv = rv->next)
		if (!strcmp(rv->service, service))
			n += rv->n_held;
	return n;
}

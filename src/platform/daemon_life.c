/* daemon_life.c — starting and stopping the daemon: configuration from the
 * environment, the folders and files under GPURUN_HOME, the servers
 * (gateway on TCP, admin API on the unix socket), the timers, and the
 * graceful shutdown sequence (stop accepting, let requests finish, stop
 * instances, flush the ledger, close everything). */
#include "platform/daemon_internal.h"

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if __has_include("platform/admin.h")
#include "platform/admin.h"
#define HAVE_ADMIN 1
#else
#define HAVE_ADMIN 0
#endif

static char *env_or(const char *given, const char *env, const char *def)
{
	if (given && *given)
		return xstrdup(given);
	const char *v = getenv(env);
	return xstrdup(v && *v ? v : def);
}

static int parse_gateway(struct daemon *d, const char *spec, char *err)
{
	const char *colon = strrchr(spec, ':');
	int64_t port;
	if (!colon || !str_to_i64(colon + 1, &port) || port < 0 || port > 65535)
		return err_set(err, ERR_INVALID, "GPURUN_GATEWAY: want host:port, got '%s'", spec);
	size_t hl = (size_t)(colon - spec);
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']')
		d->gw_host = xstrndup(spec + 1, hl - 2);
	else
		d->gw_host = xstrndup(spec, hl);
	d->gw_port = (int)port;
	return 0;
}

static int config(struct daemon *d, const struct daemon_config *c, char *err)
{
	const char *home = c->home ? c->home : getenv("GPURUN_HOME");
	if (home && *home) {
		d->home = xstrdup(home);
	} else {
		d->home = file_path_join(file_home_dir(), ".gpurun");
	}
	d->region = env_or(c->region, "GPURUN_REGION", SPEC_REGION_DEFAULT);
	char *gw = env_or(c->gateway, "GPURUN_GATEWAY", DAEMON_GATEWAY_DEFAULT);
	int rc = parse_gateway(d, gw, err);
	free(gw);
	if (rc)
		return rc;
	char *models = file_path_join(d->home, "models");
	d->models_dir = env_or(c->models_dir, "GPURUN_MODELS", models);
	free(models);
	d->self_exe = c->self_exe ? xstrdup(c->self_exe) : NULL;
	d->socket_path =
	    c->socket_path ? xstrdup(c->socket_path) : file_path_join(d->home, DAEMON_SOCKET_NAME);
	d->state_path = file_path_join(d->home, DAEMON_STATE_NAME);
	d->alive_path = file_path_join(d->home, "daemon.alive");
	d->tick_ms = c->tick_ms > 0 ? c->tick_ms : DAEMON_TICK_MS_DEFAULT;
	d->stop_grace_ms = c->stop_grace_ms > 0 ? c->stop_grace_ms : INSTANCE_STOP_GRACE_MS_DEFAULT;
	d->hold_min_ms = c->hold_min_ms;
	const char *hold = getenv("GPURUN_HOLD_MIN");
	int64_t ns;
	if (d->hold_min_ms <= 0 && hold && time_parse_duration(hold, &ns) && ns > 0)
		d->hold_min_ms = ns / 1000000;
	if (d->hold_min_ms <= 0)
		d->hold_min_ms = DAEMON_HOLD_MIN_MS_DEFAULT;
	return 0;
}

static int open_files(struct daemon *d, char *err)
{
	char *logs = file_path_join(d->home, "logs");
	int rc = file_mkdir_p(logs, 0700);
	char *access = file_path_join(logs, "gateway.log");
	free(logs);
	if (rc) {
		free(access);
		return err_set(err, rc, "cannot create %s/logs: %s", d->home, err_str(rc));
	}
	chmod(d->home, 0700);
	/* shared by every instance (mounted read-only into containers) */
	if (file_mkdir_p(d->models_dir, 0755))
		log_warn("cannot create the models folder %s", d->models_dir);
	d->access_fd = open(access, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (d->access_fd < 0)
		log_warn("gateway: cannot open %s: %s", access, strerror(errno));
	free(access);
	d->alive_fd = open(d->alive_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	return 0;
}

static int open_state(struct daemon *d, char *err)
{
	int rc = state_open(d->state_path, &d->st, err);
	if (rc)
		return rc;
	rc = state_key_get_or_create(d->st, DAEMON_TOKEN_KEY_NAME, d->key, sizeof d->key,
	                             time_wall_ns());
	if (rc)
		return err_set(err, rc, "token key: %s", err_str(rc));
	return ledger_writer_start(d->state_path, &d->lw, err);
}

static int runtime(struct daemon *d, const struct daemon_config *c, char *err)
{
	struct instance_runtime_config rc = {
	    .home = d->home,
	    .self_exe = d->self_exe,
	    .models_dir = d->models_dir,
	    .stop_grace_ms = d->stop_grace_ms,
	    .cgroup_root = c->no_cgroups ? NULL : "/sys/fs/cgroup",
	};
	int r = instance_runtime_new(d->loop, &rc, &d->irt, err);
	if (r)
		return r;
	log_info("instances: %s", instance_runtime_cgroups(d->irt)->reason);
	return 0;
}

static int admin_start(struct daemon *d, const struct daemon_config *c, char *err)
{
	if (c->no_admin)
		return 0;
	d->admin_rt = http_router_new();
#if HAVE_ADMIN
	int rc = admin_register(d->admin_rt, d);
	if (rc)
		return err_set(err, rc, "admin API: %s", err_str(rc));
#else
	log_warn("admin API: no routes in this build (platform/admin.h missing)");
#endif
	struct http_server_config cfg;
	http_server_config_init(&cfg);
	http_router_attach(d->admin_rt, &cfg);
	cfg.max_body_bytes = 16 << 20; /* service YAML, deploy specs */
	d->admin = http_server_new(d->loop, &cfg);
	int lr = http_server_listen_unix(d->admin, d->socket_path, 0600, err);
	if (lr) {
		http_server_free(d->admin);
		d->admin = NULL;
	}
	return lr;
}

/* Services from the state, instances of an earlier daemon, min instances. */
static void load_services(struct daemon *d)
{
	struct state_service *ss;
	int64_t n;
	if (state_service_list(d->st, &ss, &n)) {
		log_error("cannot list services from the state");
		return;
	}
	d->restoring = true;
	for (int64_t i = 0; i < n; i++)
		daemon_service_changed(d, ss[i].name);
	state_service_free_array(ss, n);
	daemon__oci_sweep_leftovers(d);
	daemon__restore(d);
	d->restoring = false;
	for (struct rev *rv = d->revs; rv; rv = rv->next)
		scaler_decide(rv);
	daemon__revs_gc(d);
}

static void init_handles(struct daemon *d)
{
	uv_timer_init(d->loop, &d->tick);
	uv_timer_init(d->loop, &d->sweep);
	uv_prepare_init(d->loop, &d->flush);
	d->tick.data = d->sweep.data = d->flush.data = d;
	d->handles_open = 3;
	uint64_t seed = (uint64_t)time_mono_ns() ^ ((uint64_t)getpid() << 32);
	uv_random(NULL, NULL, &seed, sizeof seed, 0, NULL);
	d->rng = seed | 1;
}

static void tick_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	scaler_tick(d);
	daemon__heartbeat(d);
}

int daemon_new(uv_loop_t *loop, const struct daemon_config *c, struct daemon **out,
               char err[ERR_MSG_LEN])
{
	*out = NULL;
	struct daemon *d = xcalloc(1, sizeof *d);
	d->loop = loop;
	d->access_fd = d->alive_fd = -1;
	init_handles(d);
	int rc = config(d, c, err);
	if (!rc)
		rc = file_mkdir_p(d->home, 0700) ? err_set(err, -EIO, "cannot create %s", d->home)
		                                 : 0;
	if (!rc)
		rc = open_files(d, err);
	if (!rc)
		rc = open_state(d, err);
	if (!rc)
		rc = runtime(d, c, err);
	if (rc) {
		*out = d; /* shut it down, then free it */
		return rc;
	}
	gpu_inventory_detect(&d->gpus, "/dev", NULL);
	struct http_client_config cc;
	http_client_config_init(&cc);
	cc.max_idle_per_host = 1024;
	cc.connect_timeout_ms = 5000;
	d->client = http_client_new(loop, &cc);
	rc = gateway_start(d, d->gw_host, d->gw_port, err);
	if (!rc)
		rc = admin_start(d, c, err);
	if (rc) {
		*out = d;
		return rc;
	}
	load_services(d);
	daemon__heartbeat(d);
	uv_timer_start(&d->tick, tick_cb, (uint64_t)d->tick_ms, (uint64_t)d->tick_ms);
	log_info("gpurun daemon: gateway http://%s:%d, admin %s, region %s, %d GPU(s) (%s)",
	         d->gw_host, d->gw_port, c->no_admin ? "off" : d->socket_path, d->region, d->gpus.n,
	         d->gpus.source);
	*out = d;
	return 0;
}

/* ---- shutdown ---- */

static void handle_closed(uv_handle_t *h)
{
	struct daemon *d = h->data;
	if (--d->handles_open > 0)
		return;
	if (d->done)
		d->done(d, d->done_data);
}

static void admin_closed(struct http_server *s, void *data)
{
	struct daemon *d = data;
	d->admin_closed = true;
	daemon__shutdown_step(d);
}

static void gw_closed(struct http_server *s, void *data)
{
	struct daemon *d = data;
	d->gw_closed = true;
	daemon__shutdown_step(d);
}

static void finish(struct daemon *d)
{
	d->finishing = true;
	daemon__oci_release(d);
	gw_access_flush(d);
	ledger_writer_flush(d->lw);
	if (d->client)
		http_client_free(d->client);
	d->client = NULL;
	uv_close((uv_handle_t *)&d->tick, handle_closed);
	uv_close((uv_handle_t *)&d->sweep, handle_closed);
	uv_close((uv_handle_t *)&d->flush, handle_closed);
	log_info("gpurun daemon: stopped");
}

void daemon__shutdown_step(struct daemon *d)
{
	if (!d->gw_closed || d->finishing)
		return;
	if (!d->stopping_insts) {
		d->stopping_insts = true;
		for (struct rev *rv = d->revs; rv; rv = rv->next)
			for (struct inst *in = rv->insts, *n; in; in = n) {
				n = in->next;
				inst_stop(in, "daemon shutdown");
			}
		daemon__want_flush(d);
	}
	if (d->n_insts > 0 || d->oci_preps > 0)
		return;
	if (d->admin && !d->admin_closing) {
		d->admin_closing = true;
		http_server_shutdown(d->admin, 1000, admin_closed, d);
		return;
	}
	if (d->admin && !d->admin_closed)
		return;
	finish(d);
}

void daemon_shutdown(struct daemon *d, int64_t deadline_ms, daemon_done_fn done, void *data)
{
	if (d->shutting_down)
		return;
	d->shutting_down = true;
	d->done = done;
	d->done_data = data;
	uv_timer_stop(&d->tick);
	log_info("gpurun daemon: shutting down (in-flight requests get %lld ms)",
	         (long long)deadline_ms);
	for (struct rev *rv = d->revs; rv; rv = rv->next)
		activator_fail_all(rv, 503, "the platform is shutting down");
	if (d->gw)
		http_server_shutdown(d->gw, deadline_ms, gw_closed, d);
	else
		d->gw_closed = true;
	daemon__shutdown_step(d);
}

static void free_services(struct daemon *d)
{
	while (d->svcs) {
		struct svc *s = d->svcs;
		d->svcs = s->next;
		for (int i = 0; i < s->n_targets; i++)
			free(s->targets[i].tag);
		free(s->targets);
		for (int i = 0; i < s->n_domains; i++)
			free(s->domains[i]);
		free(s->domains);
		free(s->url);
		free(s->name);
		free(s);
	}
	while (d->revs) {
		struct rev *rv = d->revs;
		d->revs = rv->next;
		kpa_release(&rv->kpa);
		spec_release(&rv->spec);
		free(rv->name);
		free(rv->service);
		free(rv);
	}
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	free_services(d);
	gw_metrics_free(d);
	gw_spares_free(d);
	http_server_free(d->gw);
	http_server_free(d->admin);
	http_router_free(d->admin_rt);
	if (d->client)
		http_client_free(d->client);
	ledger_writer_stop(d->lw);
	instance_runtime_free(d->irt);
	state_close(d->st);
	if (d->access_fd >= 0)
		close(d->access_fd);
	if (d->alive_fd >= 0)
		close(d->alive_fd);
	buf_release(&d->access);
	if (d->socket_path && d->admin)
		unlink(d->socket_path);
	free(d->home);
	free(d->region);
	free(d->gw_host);
	free(d->socket_path);
	free(d->self_exe);
	free(d->models_dir);
	free(d->state_path);
	free(d->alive_path);
	free(d);
}

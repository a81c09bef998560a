/* daemon_oci.c — revisions whose image is an OCI reference run as crun
 * containers (oci_instance.h, oci_watch.h): the OCI host is set up (and
 * swept of a crashed daemon's leftovers) the first time a revision needs
 * it; the image is pulled and unpacked once per revision on a worker
 * thread, then instances start from its digest with the same events as
 * process instances; their output goes to the instance's log file. Where
 * the machine cannot run containers (no crun/runc, not root) the revision
 * fails to start with the reason, and its held requests get 503. */
#include "platform/daemon_internal.h"

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct prep {
	uv_work_t work;
	struct rev *rv;
	char image[512];
	char digest[OCI_DIGEST_LEN + 1];
	char err[ERR_MSG_LEN];
	int rc;
};

/* One network namespace set up ahead, so that a cold start does not pay for
 * its two `ip -batch` runs (docs/oci.md). It blocks the loop for those few
 * ms, so it runs when the host is set up and when an instance has exited,
 * never while a request waits for a start. */
static void spare_netns(struct daemon *d)
{
	char e[ERR_MSG_LEN];
	if (d->oci_state == 1 && !d->shutting_down && oci_host_prewarm(&d->oci, 1, e) < 0)
		log_warn("oci: no spare network namespace: %s", e);
}

static int host_ready(struct daemon *d, char *err)
{
	if (d->oci_state == 0) {
		struct oci_host_config c = {.home = d->home, .models_dir = d->models_dir};
		int rc = oci_host_init(&d->oci, &c, d->oci_err);
		if (rc == 0) {
			char e[ERR_MSG_LEN];
			int n = oci_host_sweep(&d->oci, e);
			if (n > 0)
				log_info("oci: removed %d containers an earlier daemon left", n);
			d->oci_state = 1;
			spare_netns(d);
		} else {
			d->oci_state = -1;
			log_warn("oci: containers cannot run here: %s", d->oci_err);
		}
	}
	if (d->oci_state < 0)
		return err_set(err, ERR_UNSUPPORTED, "OCI images cannot run here: %s", d->oci_err);
	return 0;
}

static void prep_work(uv_work_t *w)
{
	struct prep *p = w->data;
	struct daemon *d = p->rv->d;
	struct oci_pull_opts o;
	oci_pull_opts_init(&o);
	/* loopback registries speak plain http (Debian's docker-registry in tests) */
	o.insecure = !strncmp(p->image, "127.0.0.1", 9) || !strncmp(p->image, "localhost", 9);
	p->rc = oci_image_prepare(&d->oci, p->image, &o, p->digest, p->err);
}

static void prep_done(uv_work_t *w, int status)
{
	struct prep *p = w->data;
	struct rev *rv = p->rv;
	rv->d->oci_preps--;
	if (p->rc == 0 && status == 0) {
		rv->prep = 2;
		memcpy(rv->digest, p->digest, sizeof rv->digest);
		log_info("revision %s: image %s is %s", rv->name, rv->spec.image, rv->digest);
		scaler_decide(rv);
	} else {
		rv->prep = -1;
		snprintf(rv->prep_err, sizeof rv->prep_err, "image %.100s: %.140s", rv->spec.image,
		         p->rc ? p->err : "cancelled");
		log_warn("revision %s: %s", rv->name, rv->prep_err);
		if (rv->n_held)
			activator_fail_all(rv, 503, rv->prep_err);
	}
	free(p);
	if (rv->d->shutting_down)
		daemon__shutdown_step(rv->d);
}

int daemon__oci_prepare(struct rev *rv, char err[ERR_MSG_LEN])
{
	if (rv->prep == 2)
		return 0;
	if (rv->prep == 1)
		return 1;
	if (rv->prep < 0)
		return err_set(err, ERR_UNSUPPORTED, "%s", rv->prep_err);
	struct daemon *d = rv->d;
	int rc = host_ready(d, err);
	if (rc) {
		rv->prep = -1;
		snprintf(rv->prep_err, sizeof rv->prep_err, "%s", err);
		return rc;
	}
	struct prep *p = xcalloc(1, sizeof *p);
	p->rv = rv;
	p->work.data = p;
	snprintf(p->image, sizeof p->image, "%s", rv->spec.image);
	rv->prep = 1;
	d->oci_preps++;
	uv_queue_work(d->loop, &p->work, prep_work, prep_done);
	log_info("revision %s: pulling %s", rv->name, rv->spec.image);
	return 1;
}

static void output(void *arg, int stream, const char *p, size_t n)
{
	struct inst *in = arg;
	logs_writer_feed(&in->log, stream == 2 ? LOGS_STDERR : LOGS_STDOUT, p, n, time_wall_ns());
}

static void watch_event(struct oci_watch *w, enum instance_event ev, void *arg)
{
	struct inst *in = arg;
	struct daemon *d = in->rev->d; /* the revision may be gone after the event */
	int64_t now = time_wall_ns();
	if (ev == INSTANCE_EV_READY)
		logs_writer_note(&in->log, now, "ready on %s:%d after %.1f ms", in->addr, in->port,
		                 (double)oci_watch_start_latency_ns(w) / 1e6);
	else if (ev == INSTANCE_EV_START_FAILED)
		logs_writer_note(&in->log, now, "start failed: %s: stopping", oci_watch_note(w));
	inst__event(in, ev, ev == INSTANCE_EV_EXITED ? oci_watch_exit_info(w) : NULL,
	            oci_watch_note(w));
	if (ev != INSTANCE_EV_EXITED)
		return;
	logs_writer_note(&in->log, now, "instance %s exited%s%s", in->id,
	                 oci_watch_exit_info(w)->oom_killed ? ": " : "",
	                 oci_watch_exit_info(w)->oom_killed ? oci_watch_note(w) : "");
	logs_writer_close(&in->log, now);
	oci_watch_free(w);
	free(in);
	spare_netns(d);
}

int daemon__oci_start(struct rev *rv, struct inst *in, char err[ERR_MSG_LEN])
{
	struct daemon *d = rv->d;
	char path[1024];
	snprintf(path, sizeof path, "%s/logs/%s/%s.log", d->home, rv->service, in->id);
	in->log.fd = -1;
	int rc = logs_writer_open(&in->log, path, err);
	if (rc)
		return rc;
	struct oci_instance_spec s = {
	    .id = in->id,
	    .image_digest = rv->digest,
	    .spec = &rv->spec,
	    .k_service = rv->service,
	    .k_revision = rv->name,
	    .k_configuration = rv->service,
	    .gpu_index = in->gpu_idx,
	    .n_gpu = in->n_gpu,
	    .gpu_visible = in->gpus,
	};
	struct oci_watch_config c = {.loop = d->loop,
	                             .host = &d->oci,
	                             .stop_grace_ms = d->stop_grace_ms,
	                             .output = output,
	                             .output_arg = in};
	in->start_wall = time_wall_ns();
	logs_writer_note(&in->log, in->start_wall, "instance %s of %s: starting %s", in->id,
	                 rv->name, rv->digest);
	rc = oci_watch_start(&c, &s, watch_event, in, &in->ow, err);
	if (rc) {
		logs_writer_note(&in->log, time_wall_ns(), "start failed: %s", err);
		logs_writer_close(&in->log, time_wall_ns());
		return rc;
	}
	const struct oci_instance *oi = oci_watch_instance(in->ow);
	/* the split of a cold start, for bench/oci and the curious */
	log_info("instance %s: container running after %.1f ms (network %.1f, bundle %.1f, "
	         "%s run -d %.1f)",
	         in->id, (double)(oi->run_ns - oi->start_ns) / 1e6,
	         (double)(oi->net_ns - oi->start_ns) / 1e6,
	         (double)(oi->prepared_ns - oi->net_ns) / 1e6, oci_runtime_name(&d->oci.rt),
	         (double)(oi->run_ns - oi->prepared_ns) / 1e6);
	snprintf(in->addr, sizeof in->addr, "%s", oi->addr);
	in->port = oi->port;
	in->pid = oi->pid;
	return 0;
}

bool daemon__inst_oom(struct inst *in)
{
	if (in->oom || in->phase == INST_EXITED)
		return in->oom;
	if (in->ow) {
		in->oom = oci_watch_oom(in->ow);
	} else if (in->proc &&
	           cgroup_instance_oom_killed(instance_runtime_cgroups(in->rev->d->irt), in->id)) {
		in->oom = true;
		log_warn("instance %s ran out of memory: killing it", in->id);
		kill(-in->pid, SIGKILL); /* its own process group; the exit follows */
	}
	return in->oom;
}

void daemon__oci_sweep_leftovers(struct daemon *d)
{
	char *dir = file_path_join(d->home, "oci/instances");
	DIR *dh = opendir(dir);
	bool any = false;
	for (struct dirent *e; dh && !any && (e = readdir(dh));)
		any = e->d_name[0] != '.';
	if (dh)
		closedir(dh);
	free(dir);
	char err[ERR_MSG_LEN];
	if (any)
		host_ready(d, err); /* sets up the host and sweeps */
}

void daemon__oci_release(struct daemon *d)
{
	if (d->oci_state != 1)
		return;
	char e[ERR_MSG_LEN];
	oci_host_sweep(&d->oci, e);
	oci_host_release(&d->oci);
	d->oci_state = 0;
}

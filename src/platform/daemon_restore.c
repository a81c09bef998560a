/* daemon_restore.c — what a starting daemon does with the instances an
 * earlier one left in the state: an instance whose process is still ours
 * (its environment names it) and still accepts on its port is adopted (its
 * output files tailed on); any other is ended (if still running) and
 * marked stopped, its ledger span closed at the last moment it was known to
 * be alive — the heartbeat the old daemon wrote every tick, or now if it
 * was still running — and what its output files still hold goes into its
 * log. */
#include "platform/daemon_internal.h"

#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "platform/state.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ORPHAN_GRACE_MS 3000

void daemon__heartbeat(struct daemon *d)
{
	if (d->alive_fd < 0)
		return;
	char v[32];
	int n = snprintf(v, sizeof v, "%020lld\n", (long long)time_wall_ns());
	if (pwrite(d->alive_fd, v, (size_t)n, 0) != n)
		log_debug("heartbeat: %s", strerror(errno));
}

static int64_t last_alive(struct daemon *d)
{
	struct buf b = BUF_INIT;
	int64_t t = 0;
	if (file_read_all(d->alive_path, &b, 64) == 0 && b.data) {
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
			b.data[--b.len] = '\0';
		if (!str_to_i64(b.data, &t))
			t = 0;
	}
	buf_release(&b);
	return t;
}

/* The process is running and its environment names the instance. */
static bool ours(int pid, const char *id)
{
	if (pid <= 1)
		return false;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	struct buf b = BUF_INIT;
	bool yes = false;
	if (file_read_all(path, &b, 4096) == 0 && b.data) {
		const char *rp = strrchr(b.data, ')');
		yes = rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
	}
	buf_reset(&b);
	snprintf(path, sizeof path, "/proc/%d/environ", pid);
	if (yes && file_read_all(path, &b, 1 << 20) == 0 && b.data) {
		char want[INSTANCE_ID_MAX + 32];
		snprintf(want, sizeof want, "GPURUN_INSTANCE_ID=%s", id);
		yes = false;
		for (size_t i = 0; i < b.len && !yes; i += strlen(b.data + i) + 1)
			yes = !strcmp(b.data + i, want);
	} else {
		yes = false;
	}
	buf_release(&b);
	return yes;
}

static bool answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

static int64_t max3(int64_t a, int64_t b, int64_t c)
{
	int64_t m = a > b ? a : b;
	return m > c ? m : c;
}

/* Ends the instance's life in the state and the ledger at end_ns. */
static void close_instance(struct daemon *d, const struct state_instance *si, int64_t end_ns,
                           const char *reason)
{
	struct ledger_row row = {
	    .at_ns = end_ns, .service = si->service, .revision = si->revision, .instance = si->id};
	if (!si->stop_ns) {
		row.kind = LEDGER_INSTANCE_STOP;
		ledger_writer_row(d->lw, &row);
	}
	row.kind = LEDGER_INSTANCE_EXIT;
	ledger_writer_row(d->lw, &row);
	ledger_writer_phase(d->lw, si->id, STATE_INSTANCE_STOPPED, end_ns, 0, reason);
	if (si->gpus && si->gpus[0])
		state_gpu_release(d->st, si->id);
	log_info("instance %s of the previous daemon: %s", si->id, reason);
	/* what it printed and no daemon read yet goes into its log */
	char path[4096], err[ERR_MSG_LEN];
	snprintf(path, sizeof path, "%s/logs/%s/%s.log", d->home, si->service, si->id);
	if (logs_tail_drain(path, time_wall_ns(), err))
		log_warn("instance %s: %s", si->id, err);
}

void daemon__restore(struct daemon *d)
{
	struct state_instance *list;
	int64_t n;
	if (state_instance_list(d->st, NULL, true, &list, &n)) {
		log_error("restore: cannot list instances");
		return;
	}
	int64_t alive_ns = last_alive(d);
	for (int64_t i = 0; i < n; i++) {
		const struct state_instance *si = &list[i];
		struct rev *rv = daemon__rev_find(d, si->revision);
		bool mine = ours(si->pid, si->id);
		if (mine && rv && rv->reachable && answers(si->port)) {
			inst_adopt(rv, si);
			continue;
		}
		if (mine) {
			instance_orphan_terminate(si->pid, si->id, ORPHAN_GRACE_MS);
			close_instance(d, si, time_wall_ns(), "ended at daemon restart");
		} else {
			int64_t end =
			    max3(alive_ns, si->start_ns, max3(si->ready_ns, si->stop_ns, 0));
			close_instance(d, si, end, "lost while the daemon was down");
		}
	}
	state_instance_free_array(list, n);
	ledger_writer_flush(d->lw);
}

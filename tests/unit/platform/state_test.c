/* state_test.c — the SQLite state: every row survives close and reopen,
 * revisions and the ledger cannot be rewritten, a SIGKILLed writer loses no
 * row it reported written, traffic splits, GPU allocation, file modes,
 * schema versions. */
#include "support/support.h"

#include "base/file.h"
#include "platform/state.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *db_path(const char *name)
{
	char *dir = file_path_join(test_tmp_dir(), "state");
	assert_int_equal(file_mkdir_p(dir, 0700), 0);
	char *p = file_path_join(dir, name);
	free(dir);
	return p;
}

static struct state *open_ok(const char *path)
{
	struct state *st;
	char err[ERR_MSG_LEN];
	int rc = state_open(path, &st, err);
	if (rc)
		fail_msg("state_open: %s", err);
	return st;
}

static void make_spec(struct spec *s, const char *image, int concurrency)
{
	spec_init(s);
	s->image = strdup(image);
	s->concurrency = concurrency;
}

static void deploy(struct state *st, const char *svc, const struct spec *s, char *rev)
{
	char err[ERR_MSG_LEN];
	struct state_deploy_req q = {.service = svc, .spec = s, .now_ns = 1000};
	int rc = state_deploy(st, &q, rev, err);
	if (rc)
		fail_msg("deploy %s: %s", svc, err);
}

static void ledger_row_fill(struct ledger_row *r, int i)
{
	memset(r, 0, sizeof *r);
	r->kind = i % 5 == 0 ? LEDGER_INSTANCE_START : LEDGER_REQUEST;
	r->at_ns = 1000000000LL * (i + 1);
	r->service = "hello";
	r->revision = "hello-00001-abc";
	r->instance = "inst-1";
	r->cpu_milli = 1000;
	r->memory_bytes = 512LL << 20;
	r->gpus = i % 2;
	r->gpu_type = i % 2 ? "nvidia-l4" : NULL;
	r->instance_based = i % 3 == 0;
	r->start_ns = r->at_ns - 5000;
	r->status = 200;
	r->tokens = i;
	r->request_id = i % 2 ? "req" : NULL;
}

static void test_state_reopen_keeps_every_row(void **state)
{
	char *path = db_path("reopen.db");
	struct state *st = open_ok(path);
	assert_int_equal(state_schema_version(st), STATE_SCHEMA_VERSION);
	struct spec a, b;
	make_spec(&a, "gpurun/ollama", 4);
	make_spec(&b, "example/hello", 80);
	spec_kvs_set(&b.env, "GREETING", "hi");
	char ra[64], rb1[64], rb2[64];
	deploy(st, "ollama", &a, ra);
	deploy(st, "hello", &b, rb1);
	b.concurrency = 10;
	deploy(st, "hello", &b, rb2);
	struct state_instance in = {"inst-1", "hello", rb2, 4242, 40001, STATE_INSTANCE_STARTING,
	                            "GPU-1",  5,       0,   0,    0,     NULL};
	assert_int_equal(state_instance_insert(st, &in), 0);
	assert_int_equal(state_instance_set_phase(st, "inst-1", STATE_INSTANCE_READY, 7, 0, NULL),
	                 0);
	struct ledger_row rows[100];
	for (int i = 0; i < 100; i++)
		ledger_row_fill(&rows[i], i);
	assert_int_equal(state_ledger_append(st, rows, 60), 0);
	for (int i = 0; i < 60; i++) /* multi-row INSERTs number rows in order */
		assert_int_equal(rows[i].seq, i + 1);
	for (int i = 60; i < 100; i++)
		assert_int_equal(state_ledger_append(st, &rows[i], 1), 0);
	assert_int_equal(rows[99].seq, 100);
	uint8_t k1[32], k2[32];
	assert_int_equal(state_key_get_or_create(st, "hmac", k1, sizeof k1, 1), 0);
	state_close(st);

	st = open_ok(path);
	struct state_service svc;
	assert_int_equal(state_service_get(st, "hello", &svc), 0);
	assert_int_equal(svc.generation, 2);
	assert_string_equal(svc.latest_revision, rb2);
	assert_int_equal(svc.spec.concurrency, 10);
	assert_string_equal(spec_kvs_get(&svc.spec.env, "GREETING"), "hi");
	assert_int_equal(svc.n_traffic, 1);
	assert_true(svc.traffic[0].latest);
	assert_int_equal(svc.traffic[0].percent, 100);
	state_service_release(&svc);
	struct state_service *all;
	int64_t n;
	assert_int_equal(state_service_list(st, &all, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].name, "hello");
	assert_string_equal(all[1].name, "ollama");
	state_service_free_array(all, n);
	struct state_revision *revs;
	assert_int_equal(state_revision_list(st, "hello", &revs, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(revs[0].name, rb2); /* newest first */
	assert_int_equal(revs[1].spec.concurrency, 80);
	state_revision_free_array(revs, n);
	struct state_instance got;
	assert_int_equal(state_instance_get(st, "inst-1", &got), 0);
	assert_int_equal(got.pid, 4242);
	assert_int_equal(got.port, 40001);
	assert_int_equal(got.phase, STATE_INSTANCE_READY);
	assert_int_equal(got.ready_ns, 7);
	assert_string_equal(got.gpus, "GPU-1");
	state_instance_release(&got);
	struct ledger_rows lr;
	assert_int_equal(state_ledger_read(st, NULL, 0, &lr), 0);
	assert_int_equal(lr.n, 100);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(lr.rows[i].seq, i + 1);
		assert_int_equal(lr.rows[i].kind, rows[i].kind);
		assert_int_equal(lr.rows[i].at_ns, rows[i].at_ns);
		assert_int_equal(lr.rows[i].tokens, i);
		assert_int_equal(lr.rows[i].instance_based, rows[i].instance_based);
		assert_int_equal(lr.rows[i].gpus, rows[i].gpus);
		if (rows[i].gpu_type)
			assert_string_equal(lr.rows[i].gpu_type, "nvidia-l4");
		else
			assert_null(lr.rows[i].gpu_type);
	}
	ledger_rows_release(&lr);
	assert_int_equal(state_key_get_or_create(st, "hmac", k2, sizeof k2, 2), 0);
	assert_memory_equal(k1, k2, sizeof k1);
	state_close(st);
	spec_release(&a);
	spec_release(&b);
	free(path);
}

static void test_state_revisions_and_ledger_immutable(void **state)
{
	char *path = db_path("immutable.db");
	struct state *st = open_ok(path);
	struct spec s;
	make_spec(&s, "example/app", 80);
	char r1[64], r2[64], err[ERR_MSG_LEN];
	deploy(st, "app", &s, r1);
	deploy(st, "app", &s, r2);
	assert_string_not_equal(r1, r2);
	assert_true(str_has_prefix(r1, "app-00001-"));
	assert_true(str_has_prefix(r2, "app-00002-"));
	assert_int_equal(strlen(r1), strlen("app-00001-abc"));
	/* a chosen name that exists is refused */
	struct state_deploy_req q = {
	    .service = "app", .spec = &s, .revision_name = r1, .now_ns = 5};
	char r3[64];
	assert_int_equal(state_deploy(st, &q, r3, err), ERR_EXISTS);
	static const char *bad[] = {"other-1", "app-", "app-Bad", "app", "app-x_y"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		q.revision_name = bad[i];
		assert_int_equal(state_deploy(st, &q, r3, err), ERR_INVALID);
		assert_non_null(strstr(err, "revision name"));
	}
	q.revision_name = "app-v4";
	assert_int_equal(state_deploy(st, &q, r3, err), 0);
	assert_string_equal(r3, "app-v4");
	struct ledger_row row;
	ledger_row_fill(&row, 1);
	assert_int_equal(state_ledger_append(st, &row, 1), 0);
	state_close(st);
	/* another connection trying to rewrite history is refused by triggers */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	assert_int_not_equal(sqlite3_exec(db, "UPDATE revisions SET spec = '{}'", NULL, NULL, &msg),
	                     SQLITE_OK);
	assert_non_null(strstr(msg, "immutable"));
	sqlite3_free(msg);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE ledger SET tokens = 0", NULL, NULL, &msg),
	                     SQLITE_OK);
	sqlite3_free(msg);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM ledger", NULL, NULL, &msg), SQLITE_OK);
	assert_non_null(strstr(msg, "append-only"));
	sqlite3_free(msg);
	sqlite3_close(db);
	st = open_ok(path);
	struct state_revision rev;
	assert_int_equal(state_revision_get(st, r1, &rev), 0);
	assert_string_equal(rev.spec.image, "example/app");
	assert_int_equal(rev.generation, 1);
	state_revision_release(&rev);
	assert_int_equal(state_ledger_count(st), 1);
	state_close(st);
	spec_release(&s);
	free(path);
}

/* A writer killed with SIGKILL mid-stream: every row it reported written is
 * there after reopening. */
static void test_state_sigkill_loses_no_reported_row(void **state)
{
	char *path = db_path("crash.db");
	struct state *st = open_ok(path);
	state_close(st);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		struct state *cs;
		char err[ERR_MSG_LEN];
		if (state_open(path, &cs, err))
			_exit(2);
		for (int i = 0;; i++) {
			struct ledger_row r;
			ledger_row_fill(&r, i);
			if (state_ledger_append(cs, &r, 1))
				_exit(3);
			int64_t seq = r.seq;
			if (write(fds[1], &seq, sizeof seq) != sizeof seq)
				_exit(4);
		}
	}
	close(fds[1]);
	int64_t last = 0, seq;
	while (last < 200 && read(fds[0], &seq, sizeof seq) == sizeof seq)
		last = seq;
	kill(pid, SIGKILL);
	while (read(fds[0], &seq, sizeof seq) == sizeof seq)
		last = seq;
	close(fds[0]);
	int ws;
	waitpid(pid, &ws, 0);
	assert_true(WIFSIGNALED(ws));
	st = open_ok(path);
	assert_true(state_ledger_count(st) >= last);
	struct ledger_rows lr;
	assert_int_equal(state_ledger_read(st, "hello", 0, &lr), 0);
	assert_true(lr.n >= last);
	for (int64_t i = 0; i < last; i++)
		assert_int_equal(lr.rows[i].seq, i + 1);
	ledger_rows_release(&lr);
	state_close(st);
	free(path);
}

static void test_state_traffic_split_and_revision_delete(void **state)
{
	char *path = db_path("traffic.db");
	struct state *st = open_ok(path);
	struct spec s;
	make_spec(&s, "example/app", 80);
	char r1[64], r2[64], r3[64], err[ERR_MSG_LEN];
	deploy(st, "app", &s, r1);
	deploy(st, "app", &s, r2);
	struct spec_traffic t[2] = {{r1, false, 30, "old"}, {NULL, true, 70, NULL}};
	assert_int_equal(state_traffic_set(st, "app", t, 2, 9, err), 0);
	struct spec_traffic bad[1] = {{"nope-00001-abc", false, 100, NULL}};
	assert_int_equal(state_traffic_set(st, "app", bad, 1, 9, err), ERR_INVALID);
	assert_non_null(strstr(err, "nope-00001-abc"));
	assert_int_equal(state_traffic_set(st, "ghost", t, 2, 9, err), ERR_NOT_FOUND);
	assert_int_equal(state_revision_delete(st, r1, err), ERR_BUSY);
	assert_int_equal(state_revision_delete(st, r2, err), ERR_BUSY); /* latest takes 70% */
	/* --no-traffic: the new revision takes nothing, "latest" stays on r2 */
	struct state_deploy_req q = {.service = "app", .spec = &s, .no_traffic = true, .now_ns = 3};
	assert_int_equal(state_deploy(st, &q, r3, err), 0);
	struct state_service svc;
	assert_int_equal(state_service_get(st, "app", &svc), 0);
	assert_string_equal(svc.latest_revision, r3);
	assert_int_equal(svc.n_traffic, 2);
	assert_string_equal(svc.traffic[1].revision, r2);
	assert_false(svc.traffic[1].latest);
	assert_string_equal(svc.traffic[0].tag, "old");
	state_service_release(&svc);
	assert_int_equal(state_revision_delete(st, r3, err), 0);
	assert_int_equal(state_revision_delete(st, r3, err), ERR_NOT_FOUND);
	/* service-level change only: no new revision */
	s.allow_unauthenticated = true;
	assert_int_equal(state_service_update(st, "app", &s, 11, err), 0);
	s.concurrency = 3;
	assert_int_equal(state_service_update(st, "app", &s, 12, err), ERR_INVALID);
	assert_int_equal(state_service_get(st, "app", &svc), 0);
	assert_true(svc.spec.allow_unauthenticated);
	assert_int_equal(svc.generation, 3);
	state_service_release(&svc);
	assert_int_equal(state_service_delete(st, "app"), 0);
	assert_int_equal(state_service_get(st, "app", &svc), ERR_NOT_FOUND);
	state_service_release(&svc);
	assert_int_equal(state_service_delete(st, "app"), ERR_NOT_FOUND);
	struct state_deploy_req q2 = {.service = "Bad", .spec = &s};
	assert_int_equal(state_deploy(st, &q2, r3, err), ERR_INVALID);
	state_close(st);
	spec_release(&s);
	free(path);
}

static void test_state_gpu_allocation_exclusive(void **state)
{
	char *path = db_path("gpu.db");
	struct state *st = open_ok(path);
	struct gpu_inventory inv = {.n = 2};
	strcpy(inv.dev[0].id, "GPU-a");
	strcpy(inv.dev[1].id, "GPU-b");
	int idx[2], idx2[2];
	char err[ERR_MSG_LEN];
	assert_int_equal(state_gpu_allocate(st, "i1", 1, &inv, 1, idx, err), 0);
	assert_int_equal(state_gpu_allocate(st, "i2", 1, &inv, 1, idx2, err), 0);
	assert_int_not_equal(idx[0], idx2[0]);
	assert_int_equal(state_gpu_in_use(st, &inv), 2);
	assert_int_equal(state_gpu_allocate(st, "i3", 1, &inv, 1, idx, err), ERR_BUSY);
	assert_non_null(strstr(err, "0 of 2 free"));
	assert_int_equal(state_gpu_allocate(st, "i3", 3, &inv, 1, idx, err), ERR_INVALID);
	assert_non_null(strstr(err, "has 2 GPUs"));
	state_close(st);
	st = open_ok(path); /* allocations survive a restart */
	assert_int_equal(state_gpu_in_use(st, &inv), 2);
	assert_int_equal(state_gpu_release(st, "i1"), 0);
	assert_int_equal(state_gpu_allocate(st, "i3", 1, &inv, 1, idx, err), 0);
	assert_string_equal(inv.dev[idx[0]].id, "GPU-a");
	state_close(st);
	free(path);
}

static void test_state_ledger_since_filter_and_instances(void **state)
{
	char *path = db_path("since.db");
	struct state *st = open_ok(path);
	struct ledger_row r[6] = {
	    {.kind = LEDGER_INSTANCE_START, .at_ns = 10, .service = "a", .instance = "old"},
	    {.kind = LEDGER_INSTANCE_EXIT, .at_ns = 20, .service = "a", .instance = "old"},
	    {.kind = LEDGER_REQUEST,
	     .at_ns = 15,
	     .start_ns = 12,
	     .service = "a",
	     .instance = "old"},
	    {.kind = LEDGER_INSTANCE_START, .at_ns = 25, .service = "a", .instance = "new"},
	    {.kind = LEDGER_REQUEST,
	     .at_ns = 40,
	     .start_ns = 26,
	     .service = "a",
	     .instance = "new"},
	    {.kind = LEDGER_INSTANCE_START, .at_ns = 25, .service = "b", .instance = "other"},
	};
	assert_int_equal(state_ledger_append(st, r, 6), 0);
	struct ledger_rows lr;
	assert_int_equal(state_ledger_read(st, "a", 30, &lr), 0);
	assert_int_equal(lr.n, 2);
	assert_string_equal(lr.rows[0].instance, "new");
	assert_int_equal(lr.rows[1].kind, LEDGER_REQUEST);
	ledger_rows_release(&lr);
	assert_int_equal(state_ledger_read(st, NULL, 0, &lr), 0);
	assert_int_equal(lr.n, 6);
	ledger_rows_release(&lr);
	struct state_instance a = {
	    .id = "x1", .service = "a", .revision = "a-1", .pid = 1, .port = 2, .start_ns = 5};
	struct state_instance b = {
	    .id = "x2", .service = "a", .revision = "a-1", .pid = 3, .port = 4, .start_ns = 6};
	assert_int_equal(state_instance_insert(st, &a), 0);
	assert_int_equal(state_instance_insert(st, &b), 0);
	assert_int_equal(state_instance_insert(st, &b), ERR_EXISTS);
	assert_int_equal(state_instance_set_phase(st, "x1", STATE_INSTANCE_STOPPING, 8, 0, NULL),
	                 0);
	assert_int_equal(state_instance_set_phase(st, "x1", STATE_INSTANCE_STOPPED, 9, -9, "idle"),
	                 0);
	assert_int_equal(state_instance_set_phase(st, "zz", STATE_INSTANCE_READY, 9, 0, NULL),
	                 ERR_NOT_FOUND);
	struct state_instance *list;
	int64_t n;
	assert_int_equal(state_instance_list(st, "a", true, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, "x2");
	state_instance_free_array(list, n);
	assert_int_equal(state_instance_list(st, NULL, false, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].stop_ns, 8);
	assert_int_equal(list[0].exit_status, -9);
	assert_string_equal(list[0].reason, "idle");
	state_instance_free_array(list, n);
	state_close(st);
	free(path);
}

/* Request spans go in 16 at a time through a statement that binds only
 * their own columns: every field comes back, in order, a mixed batch too. */
static void test_state_ledger_spans_batched(void **state)
{
	char *path = db_path("spans.db");
	struct state *st = open_ok(path);
	struct ledger_row r[40];
	char ids[40][16];
	for (int i = 0; i < 40; i++) {
		snprintf(ids[i], sizeof ids[i], "req-%d", i);
		r[i] = (struct ledger_row){.kind = LEDGER_REQUEST,
		                           .at_ns = 1000 + i,
		                           .service = "svc",
		                           .revision = "svc-00001-abc",
		                           .instance = i < 20 ? "i1" : "i2",
		                           .start_ns = 900 + i,
		                           .status = 200 + i,
		                           .tokens = i * 3,
		                           .request_id = i % 7 ? ids[i] : NULL};
	}
	r[33].cpu_milli = 1000; /* the third batch of 16 is not all plain */
	assert_int_equal(state_ledger_append(st, r, 40), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(r[i].seq, i + 1);
	struct ledger_rows lr;
	assert_int_equal(state_ledger_read(st, "svc", 0, &lr), 0);
	assert_int_equal(lr.n, 40);
	for (int i = 0; i < 40; i++) {
		const struct ledger_row *g = &lr.rows[i];
		assert_int_equal(g->seq, i + 1);
		assert_int_equal(g->kind, LEDGER_REQUEST);
		assert_int_equal(g->at_ns, 1000 + i);
		assert_int_equal(g->start_ns, 900 + i);
		assert_int_equal(g->status, 200 + i);
		assert_int_equal(g->tokens, i * 3);
		assert_int_equal(g->cpu_milli, i == 33 ? 1000 : 0);
		assert_string_equal(g->revision, "svc-00001-abc");
		assert_string_equal(g->instance, i < 20 ? "i1" : "i2");
		if (i % 7)
			assert_string_equal(g->request_id, ids[i]);
		else
			assert_null(g->request_id);
		assert_null(g->gpu_type);
	}
	ledger_rows_release(&lr);
	state_close(st);
	free(path);
}

static void test_state_file_mode_and_schema(void **state)
{
	char *path = db_path("mode.db");
	assert_int_equal(file_write_atomic(path, "", 0, 0644), 0);
	struct state *st = open_ok(path);
	uint8_t k[32];
	assert_int_equal(state_key_get_or_create(st, "hmac", k, sizeof k, 1), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	char wal[4200];
	snprintf(wal, sizeof wal, "%s-wal", path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 0077, 0);
	state_close(st);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	char err[ERR_MSG_LEN];
	assert_int_equal(state_open(path, &st, err), ERR_UNSUPPORTED);
	assert_non_null(strstr(err, "newer"));
	assert_null(st);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_reopen_keeps_every_row),
	    cmocka_unit_test(test_state_revisions_and_ledger_immutable),
	    cmocka_unit_test(test_state_sigkill_loses_no_reported_row),
	    cmocka_unit_test(test_state_traffic_split_and_revision_delete),
	    cmocka_unit_test(test_state_gpu_allocation_exclusive),
	    cmocka_unit_test(test_state_ledger_since_filter_and_instances),
	    cmocka_unit_test(test_state_ledger_spans_batched),
	    cmocka_unit_test(test_state_file_mode_and_schema),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	file_remove_tree(test_tmp_dir());
	return rc;
}

/* registry_test.c — the registry client against a fake registry thread
 * (fake_registry.h): Ollama's exact progress stream, plain-200 and redirected
 * blobs, bearer tokens, parallel ranges, a lying registry, unknown models,
 * interrupted and resumed pulls, cancellation, two pulls sharing one
 * download, and push. The real docker-registry round trip is
 * registry_docker_test.c. */
#include "support/support.h"

#include "fake_registry.h"

#include "base/file.h"
#include "ollama/registry.h"
#include "ollama/store.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODEL_LEN 200000

struct env {
	struct fake_registry *fake;
	struct store *store;
	struct registry *reg;
	char model[72], tmpl[72], cfg[72];
	char name[128];
	char *model_bytes;
};

struct collector {
	struct buf lines;
	atomic_bool cancel;
	const char *cancel_on; /* status that sets cancel when seen with completed > 0 */
	atomic_int layer_lines;
};

static void collect(const struct registry_progress *p, void *ud)
{
	struct collector *c = ud;
	registry_progress_json(p, &c->lines);
	buf_putc(&c->lines, '\n');
	if (p->digest)
		atomic_fetch_add(&c->layer_lines, 1);
	if (c->cancel_on && !strcmp(p->status, c->cancel_on) && p->completed > 0)
		atomic_store(&c->cancel, true);
}

/* Drops every line whose status equals the next line's (the repeated
 * "pulling X" ticks), checking that completed never decreases in a run. */
static char *collapse(const char *text)
{
	struct buf out = BUF_INIT;
	char *copy = strdup(text);
	char *save = NULL, *prev = NULL;
	long long prev_done = -1;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *st = strstr(l, "\"status\":\"");
		char *ps = prev ? strstr(prev, "\"status\":\"") : NULL;
		size_t sl = strcspn(st + 10, "\"");
		bool same = ps && strcspn(ps + 10, "\"") == sl && !strncmp(st, ps, 10 + sl);
		char *cp = strstr(l, "\"completed\":");
		long long done = cp ? atoll(cp + 12) : 0;
		if (same && done < prev_done)
			fail_msg("progress went backwards: %s after %lld", l, prev_done);
		if (prev && !same) {
			buf_puts(&out, prev);
			buf_putc(&out, '\n');
		}
		prev = l;
		prev_done = done;
	}
	if (prev) {
		buf_puts(&out, prev);
		buf_putc(&out, '\n');
	}
	char *r = buf_steal(&out);
	free(copy);
	return r ? r : strdup("");
}

static void layer_line(struct buf *b, const char *verb, const char *digest, long long n)
{
	buf_printf(
	    b, "{\"status\":\"%s %.12s\",\"digest\":\"%s\",\"total\":%lld,\"completed\":%lld}\n",
	    verb, digest + 7, digest, n, n);
}

static char *expected_pull(const struct env *e, bool removing)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"status\":\"pulling manifest\"}\n");
	layer_line(&b, "pulling", e->model, MODEL_LEN);
	layer_line(&b, "pulling", e->tmpl, 13);
	layer_line(&b, "pulling", e->cfg, 23);
	buf_puts(&b,
	         "{\"status\":\"verifying sha256 digest\"}\n{\"status\":\"writing manifest\"}\n");
	if (removing)
		buf_puts(&b, "{\"status\":\"removing unused layers\"}\n");
	buf_puts(&b, "{\"status\":\"success\"}\n");
	return buf_steal(&b);
}

static void set_manifest(struct env *e, const char *tmpl_digest, int64_t tmpl_size)
{
	struct store_manifest m;
	store_manifest_init(&m);
	store_manifest_set_config(&m, STORE_MT_CONFIG, e->cfg, 23);
	store_manifest_add_layer(&m, STORE_MT_MODEL, e->model, MODEL_LEN);
	store_manifest_add_layer(&m, STORE_MT_TEMPLATE, tmpl_digest, tmpl_size);
	struct buf b = BUF_INIT;
	store_manifest_serialize(&m, &b);
	pthread_mutex_lock(&e->fake->lock);
	free(e->fake->manifest);
	e->fake->manifest = buf_steal(&b);
	snprintf(e->fake->tag, sizeof e->fake->tag, "latest");
	pthread_mutex_unlock(&e->fake->lock);
	store_manifest_release(&m);
}

static int setup(void **state)
{
	struct env *e = xcalloc(1, sizeof *e);
	e->fake = fake_start();
	e->model_bytes = xmalloc(MODEL_LEN);
	uint32_t x = 12345;
	for (int i = 0; i < MODEL_LEN; i++) {
		x = x * 1103515245u + 12345u;
		e->model_bytes[i] = (char)(x >> 16);
	}
	snprintf(e->model, sizeof e->model, "%s",
	         fake_add_blob(e->fake, e->model_bytes, MODEL_LEN));
	snprintf(e->tmpl, sizeof e->tmpl, "%s", fake_add_blob(e->fake, "{{ .Prompt }}", 13));
	snprintf(e->cfg, sizeof e->cfg, "%s",
	         fake_add_blob(e->fake, "{\"model_format\":\"gguf\"}", 23));
	set_manifest(e, e->tmpl, 13);
	snprintf(e->name, sizeof e->name, "127.0.0.1:%d/library/m:latest", e->fake->port);
	static int n;
	char sub[32];
	snprintf(sub, sizeof sub, "store%d", n++);
	char *root = file_path_join(test_tmp_dir(), sub);
	char err[ERR_MSG_LEN];
	assert_int_equal(store_open(root, &e->store, err), 0);
	free(root);
	struct registry_config cfg;
	registry_config_default(&cfg);
	cfg.retry_base_ms = 10;
	cfg.max_retries = 2;
	cfg.stall_s = 5;
	cfg.connect_timeout_s = 5;
	cfg.progress_ms = 20;
	assert_int_equal(registry_new(e->store, &cfg, &e->reg), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	registry_free(e->reg);
	store_free(e->store);
	fake_stop(e->fake);
	free(e->model_bytes);
	free(e);
	return 0;
}

/* Re-creates the registry with part sizes small enough to split the model. */
static void use_small_parts(struct env *e, int max_retries)
{
	registry_free(e->reg);
	struct registry_config cfg;
	registry_config_default(&cfg);
	cfg.part_min = 16384;
	cfg.retry_base_ms = 10;
	cfg.max_retries = max_retries;
	cfg.progress_ms = 20;
	assert_int_equal(registry_new(e->store, &cfg, &e->reg), 0);
}

static int pull(struct env *e, struct collector *c, bool insecure, char err[ERR_MSG_LEN])
{
	struct model_name n;
	assert_int_equal(names_parse(e->name, &n, NULL), 0);
	struct registry_request req = {
	    .insecure = insecure, .progress = collect, .progress_ud = c, .cancel = &c->cancel};
	return registry_pull(e->reg, &n, &req, err);
}

/* Names in blobs/ that look like finished blobs (not partial/temporary). */
static int count_blobs(struct store *s)
{
	DIR *d = opendir(store_blobs_dir(s));
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += strlen(de->d_name) == 71 && !strncmp(de->d_name, "sha256-", 7);
	closedir(d);
	return n;
}

static bool model_present(struct env *e)
{
	struct model_name n;
	names_parse(e->name, &n, NULL);
	char *path = store_manifest_path(e->store, &n);
	bool ok = file_exists(path);
	free(path);
	return ok;
}

static void assert_model_bytes(struct env *e)
{
	char *path = store_blob_path(e->store, e->model);
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(path, &b, 0), 0);
	assert_int_equal(b.len, MODEL_LEN);
	assert_memory_equal(b.data, e->model_bytes, MODEL_LEN);
	buf_release(&b);
	free(path);
}

static void test_registry_progress_json_omits_empty(void **state)
{
	struct buf b = BUF_INIT;
	struct registry_progress p = {"pulling manifest", NULL, 0, 0};
	registry_progress_json(&p, &b);
	assert_string_equal(b.data, "{\"status\":\"pulling manifest\"}");
	buf_reset(&b);
	p = (struct registry_progress){"pulling 0123456789ab", "sha256:0123456789ab", 9, 0};
	registry_progress_json(&p, &b);
	assert_string_equal(b.data, "{\"status\":\"pulling 0123456789ab\",\"digest\":"
	                            "\"sha256:0123456789ab\",\"total\":9}");
	buf_release(&b);
}

static void test_registry_pull_plain_200_exact_stream(void **state)
{
	struct env *e = *state;
	e->fake->mode = FAKE_PLAIN_200;
	struct collector c = {0};
	char err[ERR_MSG_LEN];
	if (pull(e, &c, true, err) != 0)
		fail_msg("pull: %s", err);
	char *got = collapse(c.lines.data), *want = expected_pull(e, false);
	assert_string_equal(got, want);
	free(got);
	free(want);
	assert_model_bytes(e);
	assert_int_equal(count_blobs(e->store), 3);
	DIR *d = opendir(store_blobs_dir(e->store));
	struct dirent *de;
	while ((de = readdir(d)) != NULL) /* no partial or temporary files left */
		assert_true(de->d_name[0] == '.' || strlen(de->d_name) == 71);
	closedir(d);
	struct model_name n;
	names_parse(e->name, &n, NULL);
	struct store_model m;
	assert_int_equal(store_model_load(e->store, &n, &m, err), 0);
	assert_string_equal(m.template_text, "{{ .Prompt }}");
	store_model_release(&m);
	buf_release(&c.lines);
}

static void test_registry_pull_cached_and_removes_unused_layers(void **state)
{
	struct env *e = *state;
	struct collector c = {0};
	char err[ERR_MSG_LEN];
	assert_int_equal(pull(e, &c, true, err), 0);
	buf_reset(&c.lines);
	assert_int_equal(pull(e, &c, true, err), 0); /* everything cached: one line each */
	char *want = expected_pull(e, false);
	assert_string_equal(c.lines.data, want);
	free(want);
	/* the tag moves to a new template: the old one is removed */
	const char *t2 = fake_add_blob(e->fake, "{{ .System }}", 13);
	char old[72];
	snprintf(old, sizeof old, "%s", e->tmpl);
	set_manifest(e, t2, 13);
	snprintf(e->tmpl, sizeof e->tmpl, "%s", t2);
	buf_reset(&c.lines);
	assert_int_equal(pull(e, &c, true, err), 0);
	char *got = collapse(c.lines.data);
	want = expected_pull(e, true);
	assert_string_equal(got, want);
	free(got);
	free(want);
	assert_false(store_blob_exists(e->store, old));
	assert_true(store_blob_exists(e->store, t2));
	buf_release(&c.lines);
}

static void test_registry_pull_redirect_with_token(void **state)
{
	struct env *e = *state;
	e->fake->mode = FAKE_REDIRECT;
	e->fake->require_token = true;
	struct collector c = {0};
	char err[ERR_MSG_LEN];
	if (pull(e, &c, true, err) != 0)
		fail_msg("pull: %s", err);
	assert_true(e->fake->token_requests >= 1);
	assert_int_equal(e->fake->auth_on_redirect, 0); /* no token sent to the other host */
	assert_model_bytes(e);
	buf_release(&c.lines);
}

static void test_registry_pull_parallel_ranges(void **state)
{
	struct env *e = *state;
	e->fake->mode = FAKE_RANGES;
	use_small_parts(e, 2);
	struct collector c = {0};
	char err[ERR_MSG_LEN];
	if (pull(e, &c, true, err) != 0)
		fail_msg("pull: %s", err);
	assert_model_bytes(e);
	/* 200000 / 16 = 12500 < 16384: parts of 16384 bytes, 13 of them */
	assert_int_equal(e->fake->n_ranges, 13 + 2);
	int seen = 0;
	for (int i = 0; i < e->fake->n_ranges; i++)
		seen += !strcmp(e->fake->ranges[i], "bytes=196608-199999") ||
		        !strcmp(e->fake->ranges[i], "bytes=16384-32767");
	assert_int_equal(seen, 2);
	buf_release(&c.lines);
}

static void test_registry_pull_parts_over_plain_200(void **state)
{
	struct env *e = *state;
	e->fake->mode = FAKE_PLAIN_200; /* every part gets the whole blob and keeps its range */
	use_small_parts(e, 2);
	struct collector c = {0};
	char err[ERR_MSG_LEN];
	if (pull(e, &c, true, err) != 0)
		fail_msg("pull: %s", err);
	assert_model_bytes(e);
	assert_int_equal(fake_find(e->fake, e->model)->gets, 13);
	char *got = collapse(c.lines.data), *want = expected_pull(e, false);
	assert_string_equal(got, want);
	free(got);
	free(want);
	buf_release(&c.lines);
}

static void test_registry_pull_wrong_bytes_leaves_store_unchanged(void **state)
{
	struct env *e = *state;
	e->fake->mode = FAKE_RANGES;
	e->fake->corrupt = true;
	struct collector c = {0};
	char err[ERR_MSG_LEN], want[ERR_MSG_LEN];
	assert_int_equal(pull(e, &c, true, err), ERR_DIGEST);
	char *copy = xmalloc(MODEL_LEN);
	memcpy(copy, e->model_bytes, MODEL_LEN);
	copy[MODEL_LEN / 2] ^= 0x5a;
	char hex[65];
	sha256_hex(copy, MODEL_LEN, hex);
	free(copy);
	snprintf(want, sizeof want,
	         "digest mismatch, file must be downloaded again: want %s, got sha256:%s", e->model,
	         hex);
	assert_string_equal(err, want);
	assert_false(model_present(e));
	assert_int_equal(count_blobs(e->store), 0);
	char *partial = store_blob_partial_path(e->store, e->model);
	assert_false(file_exists(partial)); /* bad bytes are not kept for a resume */
	free(partial);
	assert_null(strstr(c.lines.data, "writing manifest"));
	buf_release(&c.lines);
}

static void test_registry_pull_unknown_model(void **state)
{
	struct env *e = *state;
	snprintf(e->name, sizeof e->name, "127.0.0.1:%d/library/m:nope", e->fake->port);
	struct collector c = {0};
	char err[ERR_MSG_LEN];
	assert_int_equal(pull(e, &c, true, err), ERR_NOT_FOUND);
	assert_string_equal(err, "pull model manifest: file does not exist");
	assert_string_equal(c.lines.data, "{\"status\":\"pulling manifest\"}\n");
	buf_release(&c.lines);
}

static void test_registry_pull_http_needs_insecure(void **state)
{
	struct env *e = *state;
	snprintf(e->name, sizeof e->name, "http://127.0.0.1:%d/library/m", e->fake->port);
	struct collector c = {0};
	char err[ERR_MSG_LEN];
	assert_int_equal(pull(e, &c, false, err), ERR_INVALID);
	assert_string_equal(err, "insecure protocol http");
	assert_int_equal(pull(e, &c, true, err), 0);
	/* without insecure an https request to a plain-http port fails cleanly */
	snprintf(e->name, sizeof e->name, "127.0.0.1:%d/library/m", e->fake->port);
	assert_true(pull(e, &c, false, err) < 0);
	assert_non_null(strstr(err, "pull model manifest: "));
	buf_release(&c.lines);
}

static void test_registry_pull_interrupted_resumes(void **state)
{
	struct env *e = *state;
	e->fake->mode = FAKE_RANGES;
	e->fake->drop_after = 40000;
	registry_free(e->reg); /* default part sizes: one part, no retries */
	struct registry_config cfg;
	registry_config_default(&cfg);
	cfg.max_retries = 0;
	cfg.progress_ms = 20;
	assert_int_equal(registry_new(e->store, &cfg, &e->reg), 0);
	struct collector c = {0};
	char err[ERR_MSG_LEN];
	assert_int_equal(pull(e, &c, true, err), ERR_TIMEOUT);
	assert_true(str_has_prefix(err, "max retries exceeded: "));
	assert_false(model_present(e));
	assert_int_equal(count_blobs(e->store), 0);
	char *partial = store_blob_partial_path(e->store, e->model);
	char side[600];
	snprintf(side, sizeof side, "%s-0", partial);
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(side, &b, 0), 0);
	assert_string_equal(b.data, "{\"N\":0,\"Offset\":0,\"Size\":200000,\"Completed\":40000}");
	buf_release(&b);
	assert_int_equal(pull(e, &c, true, err), 0);
	assert_int_equal(e->fake->n_ranges, 2 + 2);
	assert_string_equal(e->fake->ranges[1], "bytes=40000-199999");
	assert_model_bytes(e);
	assert_false(file_exists(partial));
	assert_false(file_exists(side));
	free(partial);
	buf_release(&c.lines);
}

static void test_registry_pull_cancel_leaves_no_model(void **state)
{
	struct env *e = *state;
	e->fake->mode = FAKE_RANGES;
	e->fake->slow_ms = 5; /* about 250 ms for the model */
	struct collector c = {0};
	char status[40], err[ERR_MSG_LEN];
	snprintf(status, sizeof status, "pulling %.12s", e->model + 7);
	c.cancel_on = status;
	assert_int_equal(pull(e, &c, true, err), ERR_CANCELLED);
	assert_string_equal(err, "context canceled");
	assert_false(model_present(e));
	assert_int_equal(count_blobs(e->store), 0);
	e->fake->slow_ms = 0;
	struct collector c2 = {0};
	assert_int_equal(pull(e, &c2, true, err), 0); /* resumes what was fetched */
	assert_model_bytes(e);
	buf_release(&c.lines);
	buf_release(&c2.lines);
}

struct puller {
	struct env *e;
	struct collector c;
	int rc;
	char err[ERR_MSG_LEN];
};

static void *pull_thread(void *arg)
{
	struct puller *p = arg;
	p->rc = pull(p->e, &p->c, true, p->err);
	return NULL;
}

static void test_registry_pull_shared_download(void **state)
{
	struct env *e = *state;
	e->fake->mode = FAKE_RANGES;
	e->fake->slow_ms = 4;
	struct puller a = {.e = e}, b = {.e = e};
	pthread_t ta, tb;
	pthread_create(&ta, NULL, pull_thread, &a);
	while (atomic_load(&a.c.layer_lines) == 0) /* a's download is under way */
		usleep(1000);
	pthread_create(&tb, NULL, pull_thread, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(fake_find(e->fake, e->model)->gets, 1); /* one download for both */
	char *ga = collapse(a.c.lines.data), *gb = collapse(b.c.lines.data);
	char *want = expected_pull(e, false);
	assert_string_equal(ga, want);
	assert_string_equal(gb, want);
	free(ga);
	free(gb);
	free(want);
	assert_model_bytes(e);
	buf_release(&a.c.lines);
	buf_release(&b.c.lines);
}

static void test_registry_push_to_fake(void **state)
{
	struct env *e = *state;
	/* a local model, pushed to an empty fake registry */
	char err[ERR_MSG_LEN], d[72], t[72], cfg[72];
	assert_int_equal(store_blob_put(e->store, "weights!", 8, NULL, d, err), 0);
	assert_int_equal(store_blob_put(e->store, "{{ .Prompt }}", 13, NULL, t, err), 0);
	assert_int_equal(store_blob_put(e->store, "{}", 2, NULL, cfg, err), 0);
	struct store_manifest m;
	store_manifest_init(&m);
	store_manifest_set_config(&m, STORE_MT_CONFIG, cfg, 2);
	store_manifest_add_layer(&m, STORE_MT_MODEL, d, 8);
	store_manifest_add_layer(&m, STORE_MT_TEMPLATE, t, 13);
	struct model_name n;
	char name[128];
	snprintf(name, sizeof name, "127.0.0.1:%d/library/pushed:v1", e->fake->port);
	assert_int_equal(names_parse(name, &n, NULL), 0);
	assert_int_equal(store_manifest_write(e->store, &n, &m, NULL, err), 0);
	struct collector c = {0};
	struct registry_request req = {.insecure = true, .progress = collect, .progress_ud = &c};
	if (registry_push(e->reg, &n, &req, err) != 0)
		fail_msg("push: %s", err);
	struct buf want = BUF_INIT;
	buf_puts(&want, "{\"status\":\"retrieving manifest\"}\n");
	layer_line(&want, "pushing", d, 8);
	layer_line(&want, "pushing", t, 13);
	layer_line(&want, "pushing", cfg, 2);
	buf_puts(&want, "{\"status\":\"pushing manifest\"}\n{\"status\":\"success\"}\n");
	char *got = collapse(c.lines.data);
	assert_string_equal(got, want.data);
	free(got);
	assert_non_null(fake_find(e->fake, d));
	assert_memory_equal(fake_find(e->fake, d)->data, "weights!", 8);
	struct buf ser = BUF_INIT;
	store_manifest_serialize(&m, &ser);
	assert_string_equal(e->fake->manifest, ser.data);
	assert_string_equal(e->fake->tag, "v1");
	/* pushing a model that is not there */
	assert_int_equal(names_parse("127.0.0.1:1/library/absent", &n, NULL), 0);
	buf_reset(&c.lines);
	assert_int_equal(registry_push(e->reg, &n, &req, err), ERR_NOT_FOUND);
	assert_string_equal(c.lines.data, "{\"status\":\"retrieving manifest\"}\n"
	                                  "{\"status\":\"couldn't retrieve manifest\"}\n");
	buf_release(&ser);
	buf_release(&want);
	buf_release(&c.lines);
	store_manifest_release(&m);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry_progress_json_omits_empty),
	    T(test_registry_pull_plain_200_exact_stream),
	    T(test_registry_pull_cached_and_removes_unused_layers),
	    T(test_registry_pull_redirect_with_token),
	    T(test_registry_pull_parallel_ranges),
	    T(test_registry_pull_parts_over_plain_200),
	    T(test_registry_pull_wrong_bytes_leaves_store_unchanged),
	    T(test_registry_pull_unknown_model),
	    T(test_registry_pull_http_needs_insecure),
	    T(test_registry_pull_interrupted_resumes),
	    T(test_registry_pull_cancel_leaves_no_model),
	    T(test_registry_pull_shared_download),
	    T(test_registry_push_to_fake),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	file_remove_tree(test_tmp_dir());
	return rc;
}

/* registry_docker_test.c — push and pull against a real registry: Debian's
 * docker-registry (CNCF distribution 2.8) started on a free loopback port with
 * a temporary storage folder. stories260K-F32.gguf is the model layer. Checks
 * Ollama's exact progress streams, the bytes that come back, a second push
 * that finds every blob present, and a registry whose stored blob was
 * corrupted: the pull fails with the digest error and the store is unchanged.
 * SKIPs when docker-registry or the model is missing. */
#include "support/support.h"

#include "base/file.h"
#include "base/mem.h"
#include "base/sha256.h"
#include "ollama/registry.h"
#include "ollama/store.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The phi3 library template, 149 bytes with its trailing newline. */
static const char PHI3[] =
    "{{ if .System }}<|system|>\n{{ .System }}<|end|>\n{{ end }}"
    "{{ if .Prompt }}<|user|>\n{{ .Prompt }}<|end|>\n{{ end }}<|assistant|>\n"
    "{{ .Response }}<|end|>\n";

struct reg_proc {
	pid_t pid;
	int port;
	char *storage, *log;
	const char *skip; /* why the tests cannot run, or NULL */
};

static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy = xstrdup(path ? path : "/usr/bin:/bin"), *save = NULL;
	bool found = false;
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *full = file_path_join(d, prog);
		found = access(full, X_OK) == 0;
		free(full);
	}
	free(copy);
	return found;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	bind(fd, (struct sockaddr *)&a, sizeof a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd);
	return ntohs(a.sin_port);
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
	return s * n;
}

static bool registry_up(int port)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/", port);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 500L);
	long status = 0;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return status == 200;
}

static void print_log(const struct reg_proc *p)
{
	struct buf b = BUF_INIT;
	if (file_read_all(p->log, &b, 1 << 20) == 0 && b.len)
		print_message("docker-registry log:\n%s\n",
		              b.data + (b.len > 2000 ? b.len - 2000 : 0));
	buf_release(&b);
}

static int start_registry(struct reg_proc *p)
{
	p->port = free_port();
	p->storage = file_path_join(test_tmp_dir(), "registry-storage");
	p->log = file_path_join(test_tmp_dir(), "registry.log");
	char *cfg = file_path_join(test_tmp_dir(), "registry.yml");
	struct buf y = BUF_INIT;
	buf_printf(&y,
	           "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
	           "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
	           "http:\n  addr: 127.0.0.1:%d\n",
	           p->storage, p->port);
	assert_int_equal(file_mkdir_p(p->storage, 0755), 0);
	assert_int_equal(file_write_atomic(cfg, y.data, y.len, 0644), 0);
	buf_release(&y);
	p->pid = fork();
	if (p->pid == 0) {
		FILE *f = freopen(p->log, "w", stdout);
		if (f && dup2(fileno(f), 2) >= 0)
			execlp("docker-registry", "docker-registry", "serve", cfg, (char *)NULL);
		_exit(127);
	}
	free(cfg);
	for (int i = 0; i < 300; i++) { /* up to 15 s */
		if (registry_up(p->port))
			return 0;
		int st;
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			break;
		}
		usleep(50000);
	}
	print_log(p);
	return -1;
}

static int setup(void **state)
{
	struct reg_proc *p = xcalloc(1, sizeof *p);
	*state = p;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!on_path("docker-registry")) {
		p->skip = "docker-registry is not installed (scripts/deps.sh installs it)";
		return 0;
	}
	if (!test_model_path("stories260K-F32.gguf")) {
		p->skip = "stories260K-F32.gguf not found in the test models";
		return 0;
	}
	return start_registry(p);
}

static int teardown(void **state)
{
	struct reg_proc *p = *state;
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		int st;
		for (int i = 0; i < 100 && waitpid(p->pid, &st, WNOHANG) != p->pid; i++)
			usleep(20000);
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &st, 0);
	}
	free(p->storage);
	free(p->log);
	free(p);
	file_remove_tree(test_tmp_dir());
	return 0;
}

static void collect(const struct registry_progress *pr, void *ud)
{
	registry_progress_json(pr, ud);
	buf_putc(ud, '\n');
}

/* Keeps the last line of each run of equal statuses. */
static char *collapse(const char *text)
{
	struct buf out = BUF_INIT;
	const char *line = text, *prev = NULL;
	size_t prev_len = 0;
	while (*line) {
		size_t len = strcspn(line, "\n");
		const char *st = strstr(line, "\"status\":\""),
		           *pst = prev ? strstr(prev, "\"status\":\"") : NULL;
		size_t sl = strcspn(st + 10, "\"");
		bool same = pst && strcspn(pst + 10, "\"") == sl && !strncmp(st + 10, pst + 10, sl);
		if (prev && !same) {
			buf_append(&out, prev, prev_len);
			buf_putc(&out, '\n');
		}
		prev = line;
		prev_len = len;
		line += len + (line[len] == '\n');
	}
	if (prev) {
		buf_append(&out, prev, prev_len);
		buf_putc(&out, '\n');
	}
	return buf_steal(&out);
}

struct model {
	char gguf[72], tmpl[72], cfg[72];
	int64_t gguf_size, cfg_size;
};

#define PUSH_TAIL "{\"status\":\"pushing manifest\"}\n{\"status\":\"success\"}\n"
#define PULL_TAIL                                                                                  \
	"{\"status\":\"verifying sha256 digest\"}\n{\"status\":\"writing manifest\"}\n"            \
	"{\"status\":\"success\"}\n"

/* first line, one line per layer then config, tail. */
static char *expected(const char *verb, const char *first, const struct model *m, const char *tail)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "{\"status\":\"%s\"}\n", first);
	const char *d[3] = {m->gguf, m->tmpl, m->cfg};
	int64_t n[3] = {m->gguf_size, (int64_t)sizeof PHI3 - 1, m->cfg_size};
	for (int i = 0; i < 3; i++)
		buf_printf(&b,
		           "{\"status\":\"%s %.12s\",\"digest\":\"%s\",\"total\":%lld,"
		           "\"completed\":%lld}\n",
		           verb, d[i] + 7, d[i], (long long)n[i], (long long)n[i]);
	buf_puts(&b, tail);
	return buf_steal(&b);
}

static void make_model(struct store *s, const struct model_name *n, struct model *m)
{
	char err[ERR_MSG_LEN];
	const char *cfg =
	    "{\"model_format\":\"gguf\",\"model_family\":\"llama\",\"model_families\":"
	    "[\"llama\"],\"model_type\":\"260K\",\"file_type\":\"F32\"}";
	assert_int_equal(store_blob_put_file(s, test_model_path("stories260K-F32.gguf"), NULL,
	                                     m->gguf, &m->gguf_size, err),
	                 0);
	assert_int_equal(store_blob_put(s, PHI3, sizeof PHI3 - 1, NULL, m->tmpl, err), 0);
	assert_int_equal(store_blob_put(s, cfg, strlen(cfg), NULL, m->cfg, err), 0);
	m->cfg_size = (int64_t)strlen(cfg);
	struct store_manifest man;
	store_manifest_init(&man);
	store_manifest_set_config(&man, STORE_MT_CONFIG, m->cfg, m->cfg_size);
	store_manifest_add_layer(&man, STORE_MT_MODEL, m->gguf, m->gguf_size);
	store_manifest_add_layer(&man, STORE_MT_TEMPLATE, m->tmpl, sizeof PHI3 - 1);
	assert_int_equal(store_manifest_write(s, n, &man, NULL, err), 0);
	store_manifest_release(&man);
}

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

static void corrupt_in_registry(const struct reg_proc *p, const char *digest)
{
	char rel[512];
	snprintf(rel, sizeof rel, "docker/registry/v2/blobs/sha256/%.2s/%s/data", digest + 7,
	         digest + 7);
	char *path = file_path_join(p->storage, rel);
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(path, &b, 0), 0);
	b.data[10] ^= 0x20; /* same length, other bytes */
	assert_int_equal(file_write_atomic(path, b.data, b.len, 0644), 0);
	buf_release(&b);
	free(path);
}

struct round_trip {
	struct reg_proc *p;
	struct store *s;
	struct registry *r;
	struct model_name n;
	struct model m;
	char local_digest[65];
	struct buf lines;
	struct registry_request req;
};

/* Push, then push again (every blob present: one line per layer). */
static void push_twice(struct round_trip *t)
{
	char err[ERR_MSG_LEN];
	if (registry_push(t->r, &t->n, &t->req, err) != 0) {
		print_log(t->p);
		fail_msg("push: %s", err);
	}
	char *got = collapse(t->lines.data);
	char *want = expected("pushing", "retrieving manifest", &t->m, PUSH_TAIL);
	assert_string_equal(got, want);
	free(got);
	buf_reset(&t->lines);
	assert_int_equal(registry_push(t->r, &t->n, &t->req, err), 0);
	assert_string_equal(t->lines.data, want);
	free(want);
}

/* Delete locally, pull back: same manifest bytes, same blobs. */
static void delete_and_pull(struct round_trip *t)
{
	char err[ERR_MSG_LEN], pulled[65], hex[65];
	assert_int_equal(store_delete(t->s, &t->n, err), 0);
	assert_int_equal(count_blobs(t->s), 0);
	buf_reset(&t->lines);
	if (registry_pull(t->r, &t->n, &t->req, err) != 0)
		fail_msg("pull: %s", err);
	char *got = collapse(t->lines.data);
	char *want = expected("pulling", "pulling manifest", &t->m, PULL_TAIL);
	assert_string_equal(got, want);
	free(got);
	free(want);
	struct store_manifest man;
	assert_int_equal(store_manifest_read(t->s, &t->n, &man, pulled, err), 0);
	store_manifest_release(&man);
	assert_string_equal(pulled, t->local_digest);
	char *blob = store_blob_path(t->s, t->m.gguf);
	assert_int_equal(sha256_file_hex(blob, hex), 0);
	assert_string_equal(hex, t->m.gguf + 7);
	free(blob);
	struct store_model sm;
	assert_int_equal(store_model_load(t->s, &t->n, &sm, err), 0);
	assert_string_equal(sm.template_text, PHI3);
	store_model_release(&sm);
}

/* The registry serves wrong bytes for the template: a digest error, and the
 * store shows no model and no blob. */
static void pull_corrupted(struct round_trip *t)
{
	char err[ERR_MSG_LEN];
	corrupt_in_registry(t->p, t->m.tmpl);
	assert_int_equal(store_delete(t->s, &t->n, err), 0);
	buf_reset(&t->lines);
	assert_int_equal(registry_pull(t->r, &t->n, &t->req, err), ERR_DIGEST);
	assert_true(str_has_prefix(err, "digest mismatch, file must be downloaded again: want "));
	assert_non_null(strstr(err, t->m.tmpl));
	assert_null(strstr(t->lines.data, "writing manifest"));
	assert_int_equal(count_blobs(t->s), 0);
	char *path = store_manifest_path(t->s, &t->n);
	assert_false(file_exists(path));
	free(path);
	struct store_entry *e;
	size_t count;
	assert_int_equal(store_list(t->s, &e, &count), 0);
	assert_int_equal(count, 0);
	store_entries_free(e, count);
}

static void test_registry_docker_push_pull_round_trip(void **state)
{
	struct reg_proc *p = *state;
	if (p->skip)
		test_skip("%s", p->skip);
	struct round_trip t = {.p = p};
	char *root = file_path_join(test_tmp_dir(), "store");
	char err[ERR_MSG_LEN], name[96];
	assert_int_equal(store_open(root, &t.s, err), 0);
	assert_int_equal(registry_new(t.s, NULL, &t.r), 0);
	snprintf(name, sizeof name, "127.0.0.1:%d/library/stories260k", p->port);
	assert_int_equal(names_parse(name, &t.n, err), 0);
	make_model(t.s, &t.n, &t.m);
	struct store_manifest man;
	assert_int_equal(store_manifest_read(t.s, &t.n, &man, t.local_digest, err), 0);
	store_manifest_release(&man);
	t.req = (struct registry_request){
	    .insecure = true, .progress = collect, .progress_ud = &t.lines};
	push_twice(&t);
	delete_and_pull(&t);
	pull_corrupted(&t);
	buf_release(&t.lines);
	registry_free(t.r);
	store_free(t.s);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_registry_docker_push_pull_round_trip, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* api_models_test.c — /api/copy and /api/delete through a real `gpurun
 * serve` loop (server_run on a thread, raw HTTP over loopback): Ollama's
 * answers (200 with an empty body, 404 for a missing model) and that the
 * store's writes (each manifest fsynced, under the lock pull threads hold)
 * never run on the loop thread. fsync is interposed here to see the thread. */
#include "support/support.h"

#include "base/file.h"
#include "ollama/names.h"
#include "ollama/server.h"
#include "ollama/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_t loop_thread;
static atomic_bool loop_running;
static atomic_int fsyncs, fsyncs_on_loop;

/* Every fsync of the program comes here (the store's included). */
int fsync(int fd)
{
	atomic_fetch_add(&fsyncs, 1);
	if (atomic_load(&loop_running) && pthread_equal(pthread_self(), loop_thread))
		atomic_fetch_add(&fsyncs_on_loop, 1);
	return (int)syscall(SYS_fsync, fd);
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t n = sizeof a;
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &n), 0);
	close(s);
	return ntohs(a.sin_port);
}

static int dial(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
		return s;
	close(s);
	return -1;
}

/* One request with Connection: close; the status, the body into body. */
static int call(int port, const char *method, const char *path, const char *json, char *body,
                size_t cap)
{
	int s = dial(port);
	assert_true(s >= 0);
	char req[1024];
	int n = snprintf(req, sizeof req,
	                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	                 method, path, strlen(json), json);
	assert_int_equal(write(s, req, (size_t)n), n);
	char resp[8192];
	size_t got = 0;
	ssize_t r;
	while (got < sizeof resp - 1 && (r = read(s, resp + got, sizeof resp - 1 - got)) > 0)
		got += (size_t)r;
	close(s);
	resp[got] = 0;
	int status = 0;
	assert_int_equal(sscanf(resp, "HTTP/1.1 %d", &status), 1);
	const char *b = strstr(resp, "\r\n\r\n");
	snprintf(body, cap, "%s", b ? b + 4 : "");
	return status;
}

static void make_model(const char *root, const char *name)
{
	struct store *s;
	char err[ERR_MSG_LEN], w[STORE_DIGEST_LEN + 1], c[STORE_DIGEST_LEN + 1];
	assert_int_equal(store_open(root, &s, err), 0);
	assert_int_equal(store_blob_put(s, "GGUF-fake-weights", 17, NULL, w, err), 0);
	assert_int_equal(store_blob_put(s, "{\"model_format\":\"gguf\"}", 23, NULL, c, err), 0);
	struct store_manifest m;
	store_manifest_init(&m);
	store_manifest_set_config(&m, STORE_MT_CONFIG, c, 23);
	store_manifest_add_layer(&m, STORE_MT_MODEL, w, 17);
	struct model_name n;
	assert_int_equal(names_parse(name, &n, err), 0);
	assert_int_equal(store_manifest_write(s, &n, &m, NULL, err), 0);
	store_manifest_release(&m);
	store_free(s);
}

static void *serve_main(void *arg)
{
	server_run(arg);
	return NULL;
}

static void test_api_models_copy_delete_off_the_loop(void **state)
{
	char root[512], ps[16];
	snprintf(root, sizeof root, "%s/models", test_tmp_dir());
	make_model(root, "tiny:latest");
	int port = free_port();
	snprintf(ps, sizeof ps, "%d", port);
	setenv("GPURUN_MODELS", root, 1);
	setenv("GPURUN_HOST", "127.0.0.1", 1);
	setenv("PORT", ps, 1);
	setenv("OLLAMA_NOPRUNE", "1", 1);
	struct server_config cfg;
	char err[ERR_MSG_LEN];
	assert_int_equal(server_config_from_env(&cfg, err), 0);
	cfg.grace_ms = 1000;
	assert_int_equal(pthread_create(&loop_thread, NULL, serve_main, &cfg), 0);
	atomic_store(&loop_running, true);
	int s = -1;
	for (int i = 0; i < 500 && (s = dial(port)) < 0; i++)
		usleep(10000);
	assert_true(s >= 0);
	close(s);

	char body[4096];
	atomic_store(&fsyncs, 0);
	assert_int_equal(call(port, "POST", "/api/copy",
	                      "{\"source\":\"tiny\",\"destination\":\"tiny2:v1\"}", body, sizeof body),
	                 200);
	assert_string_equal(body, "");
	char copied[1024];
	snprintf(copied, sizeof copied, "%s/manifests/registry.ollama.ai/library/tiny2/v1", root);
	assert_true(file_exists(copied));
	assert_int_equal(call(port, "POST", "/api/copy", "{\"source\":\"nope\",\"destination\":\"x\"}",
	                      body, sizeof body),
	                 404);
	assert_string_equal(body, "{\"error\":\"model \\\"nope\\\" not found\"}");
	assert_int_equal(call(port, "DELETE", "/api/delete", "{\"model\":\"tiny2:v1\"}", body,
	                      sizeof body),
	                 200);
	assert_int_equal(call(port, "DELETE", "/api/delete", "{\"model\":\"tiny2:v1\"}", body,
	                      sizeof body),
	                 404);
	assert_string_equal(body, "{\"error\":\"model 'tiny2:v1' not found\"}");
	assert_true(atomic_load(&fsyncs) > 0); /* the copy wrote a manifest */
	assert_int_equal(atomic_load(&fsyncs_on_loop), 0);

	kill(getpid(), SIGTERM); /* the server's signal watcher stops it */
	pthread_join(loop_thread, NULL);
	atomic_store(&loop_running, false);
	server_config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_api_models_copy_delete_off_the_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* oci_pull_test.c — the pull client against a small registry served from a
 * thread of this test on 127.0.0.1: the Bearer token challenge, the Accept
 * header naming all four manifest types, an OCI index resolved to
 * linux/amd64, blobs verified into the store, a digest reference served
 * from the store with no request at all, a layer whose bytes lie (refused,
 * nothing kept), and a registry error surfaced with its own message. */
#include "support/support.h"

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/sha256.h"
#include "platform/oci_pull.h"
#include "platform/oci_unpack.h"

struct blob {
	char digest[OCI_DIGEST_LEN + 1];
	struct buf data;
	const char *type;
};

static struct {
	int fd;
	int port;
	pthread_t thread;
	struct blob layer, config, manifest, index, lie_manifest;
	char last_accept[512];
	int requests;
	int unauthorized;
} srv;

static void blob_set(struct blob *b, const char *type, const void *p, size_t n)
{
	buf_init(&b->data);
	buf_append(&b->data, p, n);
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(p, n, hex);
	snprintf(b->digest, sizeof(b->digest), "sha256:%s", hex);
	b->type = type;
}

static void make_layer(struct buf *out)
{
	static char mem[1 << 16];
	size_t used = 0;
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	archive_write_open_memory(a, mem, sizeof(mem), &used);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "hello.txt");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 6);
	archive_write_header(a, e);
	archive_write_data(a, "hello\n", 6);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	buf_append(out, mem, used);
}

static void build_registry(void)
{
	struct buf l = BUF_INIT, j = BUF_INIT;
	make_layer(&l);
	blob_set(&srv.layer, "application/octet-stream", l.data, l.len);
	const char *cfg =
	    "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"/x\"]}}";
	blob_set(&srv.config, "application/octet-stream", cfg, strlen(cfg));
	buf_printf(
	    &j,
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
	    "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
	    OCI_MT_OCI_MANIFEST, OCI_MT_OCI_CONFIG, srv.config.digest, srv.config.data.len,
	    srv.layer.digest, srv.layer.data.len);
	blob_set(&srv.manifest, OCI_MT_OCI_MANIFEST, j.data, j.len);
	buf_reset(&j);
	buf_printf(&j,
	           "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
	           "{\"mediaType\":\"%s\",\"digest\":\"sha256:%064d\",\"size\":1,"
	           "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
	           "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
	           "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
	           OCI_MT_OCI_INDEX, OCI_MT_OCI_MANIFEST, 7, OCI_MT_OCI_MANIFEST,
	           srv.manifest.digest, srv.manifest.data.len);
	blob_set(&srv.index, OCI_MT_OCI_INDEX, j.data, j.len);
	/* a manifest naming a layer digest whose bytes the server does not have */
	buf_reset(&j);
	buf_printf(&j,
	           "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"digest\":\"%s\","
	           "\"size\":%zu},\"layers\":[{\"mediaType\":"
	           "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:%064d\","
	           "\"size\":%zu}]}",
	           OCI_MT_OCI_MANIFEST, srv.config.digest, srv.config.data.len, 1,
	           srv.layer.data.len);
	blob_set(&srv.lie_manifest, OCI_MT_OCI_MANIFEST, j.data, j.len);
	buf_release(&l);
	buf_release(&j);
}

static void respond(int fd, int status, const char *extra, const char *type, const void *body,
                    size_t n)
{
	struct buf h = BUF_INIT;
	buf_printf(&h, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s", status, n,
	           extra ? extra : "");
	if (type)
		buf_printf(&h, "Content-Type: %s\r\n", type);
	buf_puts(&h, "\r\n");
	buf_append(&h, body, n);
	ssize_t w = write(fd, h.data, h.len);
	(void)w;
	buf_release(&h);
}

static void serve_one(int fd)
{
	char req[4096] = "";
	size_t n = 0;
	while (n < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
		ssize_t k = read(fd, req + n, sizeof(req) - 1 - n);
		if (k <= 0)
			return;
		n += (size_t)k;
		req[n] = 0;
	}
	srv.requests++;
	if (getenv("OCI_PULL_TEST_TRACE"))
		fprintf(stderr, "%.*s\n", (int)strcspn(req, "\r"), req);
	char path[512] = "";
	sscanf(req, "GET %511s", path);
	const char *acc = strcasestr(req, "\r\nAccept: ");
	if (acc && strstr(path, "/manifests/"))
		snprintf(srv.last_accept, sizeof(srv.last_accept), "%.*s",
		         (int)strcspn(acc + 10, "\r"), acc + 10);
	if (strncmp(path, "/token?", 7) == 0) {
		const char *ok = strstr(path, "scope=repository%3Atest%2Fapp%3Apull")
		                     ? "{\"token\":\"T0K\"}"
		                     : "{}";
		respond(fd, 200, NULL, "application/json", ok, strlen(ok));
		return;
	}
	if (!strstr(req, "Authorization: Bearer T0K")) {
		srv.unauthorized++;
		char ch[300];
		snprintf(
		    ch, sizeof(ch),
		    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d/token\",service=\"test\","
		    "scope=\"repository:test/app:pull\"\r\n",
		    srv.port);
		const char *e = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"auth\"}]}";
		respond(fd, 401, ch, "application/json", e, strlen(e));
		return;
	}
	struct blob *all[] = {&srv.layer, &srv.config, &srv.manifest, &srv.index,
	                      &srv.lie_manifest};
	const struct blob *b = NULL;
	if (strcmp(path, "/v2/test/app/manifests/v1") == 0)
		b = &srv.index;
	else if (strcmp(path, "/v2/test/app/manifests/lie") == 0)
		b = &srv.lie_manifest;
	for (size_t i = 0; !b && i < 5; i++) {
		const char *slash = strrchr(path, '/');
		if (slash && strcmp(slash + 1, all[i]->digest) == 0)
			b = all[i];
	}
	if (!b && strstr(path, "/blobs/sha256:0000")) { /* the lie: other bytes, same size */
		struct buf junk = BUF_INIT;
		for (size_t i = 0; i < srv.layer.data.len; i++)
			buf_putc(&junk, (char)i);
		respond(fd, 200, NULL, "application/octet-stream", junk.data, junk.len);
		buf_release(&junk);
		return;
	}
	if (!b) {
		const char *e = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":"
		                "\"manifest unknown\"}]}";
		respond(fd, 404, NULL, "application/json", e, strlen(e));
		return;
	}
	respond(fd, 200, NULL, b->type, b->data.data, b->data.len);
}

static void *server(void *arg)
{
	for (;;) {
		int c = accept(srv.fd, NULL, NULL);
		if (c < 0)
			return NULL;
		serve_one(c);
		close(c);
	}
}

static int setup(void **state)
{
	build_registry();
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(bind(srv.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t len = sizeof(sa);
	getsockname(srv.fd, (struct sockaddr *)&sa, &len);
	srv.port = ntohs(sa.sin_port);
	listen(srv.fd, 16);
	pthread_create(&srv.thread, NULL, server, NULL);
	return 0;
}

static int teardown(void **state)
{
	shutdown(srv.fd, SHUT_RDWR);
	close(srv.fd);
	pthread_join(srv.thread, NULL);
	return 0;
}

static char *ref_str(const char *tag_or_digest, char sep)
{
	static char s[200];
	snprintf(s, sizeof(s), "127.0.0.1:%d/test/app%c%s", srv.port, sep, tag_or_digest);
	return s;
}

static void test_oci_pull_bearer_index_and_store(void **state)
{
	struct oci_store st;
	char *root = file_path_join(test_tmp_dir(), "store1");
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(oci_store_init(&st, root, err), 0);
	struct oci_ref ref;
	assert_int_equal(oci_ref_parse(ref_str("v1", ':'), &ref, err), 0);
	struct oci_pull_opts o;
	oci_pull_opts_init(&o);
	struct oci_image img;
	int rc = oci_pull(&st, &ref, &o, &img, err);
	if (rc)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(img.digest, srv.manifest.digest); /* the amd64 entry, not the index */
	assert_int_equal(img.manifest.n_items, 1);
	assert_true(srv.unauthorized >= 1);
	static const char *const types[] = {OCI_MT_OCI_INDEX, OCI_MT_OCI_MANIFEST,
	                                    OCI_MT_DOCKER_LIST, OCI_MT_DOCKER_MANIFEST};
	for (int i = 0; i < 4; i++)
		assert_non_null(strstr(srv.last_accept, types[i]));
	assert_true(oci_store_has_blob(&st, srv.layer.digest));
	assert_true(oci_store_has_blob(&st, srv.config.digest));
	assert_true(oci_store_has_blob(&st, srv.index.digest));
	char *rootfs = NULL;
	assert_int_equal(oci_unpack_image(&st, &img, &rootfs, err), 0);
	char *hello = file_path_join(rootfs, "hello.txt");
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(hello, &b, 0), 0);
	assert_string_equal(b.data, "hello\n");
	buf_release(&b);
	free(hello);
	free(rootfs);
	oci_image_release(&img);
	oci_ref_release(&ref);
	/* by digest, everything already here: no request at all */
	int before = srv.requests;
	assert_int_equal(oci_ref_parse(ref_str(srv.manifest.digest, '@'), &ref, err), 0);
	assert_int_equal(oci_pull(&st, &ref, &o, &img, err), 0);
	assert_int_equal(srv.requests, before);
	oci_image_release(&img);
	assert_int_equal(oci_image_load(&st, srv.manifest.digest, &img, err), 0);
	oci_image_release(&img);
	oci_ref_release(&ref);
	oci_store_release(&st);
	free(root);
}

static void test_oci_pull_lying_layer_and_errors(void **state)
{
	struct oci_store st;
	char *root = file_path_join(test_tmp_dir(), "store2");
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(oci_store_init(&st, root, err), 0);
	struct oci_ref ref;
	assert_int_equal(oci_ref_parse(ref_str("lie", ':'), &ref, err), 0);
	struct oci_pull_opts o;
	oci_pull_opts_init(&o);
	struct oci_image img;
	int rc = oci_pull(&st, &ref, &o, &img, err);
	print_message("lying layer: %s\n", err);
	assert_int_equal(rc, ERR_DIGEST);
	assert_non_null(strstr(err, "layer 0"));
	assert_non_null(strstr(err, "does not match its digest"));
	char lie[OCI_DIGEST_LEN + 1];
	snprintf(lie, sizeof(lie), "sha256:%064d", 1);
	assert_false(oci_store_has_blob(&st, lie));
	char *tmp = file_path_join(root, "tmp");
	DIR *d = opendir(tmp);
	assert_non_null(d);
	int left = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		left += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(left, 0); /* no partial download kept */
	free(tmp);
	oci_ref_release(&ref);
	assert_int_equal(oci_ref_parse(ref_str("nope", ':'), &ref, err), 0);
	rc = oci_pull(&st, &ref, &o, &img, err);
	print_message("unknown tag: %s\n", err);
	assert_int_equal(rc, ERR_NOT_FOUND);
	assert_non_null(strstr(err, "MANIFEST_UNKNOWN"));
	oci_ref_release(&ref);
	oci_store_release(&st);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oci_pull_bearer_index_and_store),
	    cmocka_unit_test(test_oci_pull_lying_layer_and_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

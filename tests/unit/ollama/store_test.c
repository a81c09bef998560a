/* store_test.c — the model store: root selection, blobs (digest checks,
 * atomic creation), manifests (exact bytes, parsing untrusted JSON), listing,
 * model loading, copy, delete with Ollama's garbage collection, pins, prune,
 * and concurrent use from threads. */
#include "support/support.h"

#include "base/file.h"
#include "base/sha256.h"
#include "ollama/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HELLO_DIGEST "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static struct store *open_fresh(const char *sub)
{
	char *root = file_path_join(test_tmp_dir(), sub);
	file_remove_tree(root);
	struct store *s;
	char err[ERR_MSG_LEN];
	assert_int_equal(store_open(root, &s, err), 0);
	free(root);
	return s;
}

/* Files in blobs/ (all of them, temporary ones included). */
static int count_blob_files(struct store *s)
{
	DIR *d = opendir(store_blobs_dir(s));
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void put_text(struct store *s, const char *text, char digest[STORE_DIGEST_LEN + 1])
{
	char err[ERR_MSG_LEN];
	if (store_blob_put(s, text, strlen(text), NULL, digest, err) != 0)
		fail_msg("blob put: %s", err);
}

static void test_store_root_from_environment(void **state)
{
	char out[4096];
	setenv("GPURUN_MODELS", "/g/models", 1);
	setenv("OLLAMA_MODELS", "/o/models", 1);
	setenv("GPURUN_HOME", "/h", 1);
	assert_int_equal(store_root_default(out, sizeof out), 0);
	assert_string_equal(out, "/g/models");
	unsetenv("GPURUN_MODELS");
	assert_int_equal(store_root_default(out, sizeof out), 0);
	assert_string_equal(out, "/o/models");
	unsetenv("OLLAMA_MODELS");
	assert_int_equal(store_root_default(out, sizeof out), 0);
	assert_string_equal(out, "/h/models");
	unsetenv("GPURUN_HOME");
	setenv("HOME", "/home/u", 1);
	assert_int_equal(store_root_default(out, sizeof out), 0);
	assert_string_equal(out, "/home/u/.gpurun/models");
}

static void test_store_digest_forms(void **state)
{
	char d[STORE_DIGEST_LEN + 1];
	assert_true(store_digest_valid(HELLO_DIGEST));
	assert_true(store_digest_valid(
	    "sha256-2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"));
	assert_int_equal(
	    store_digest_normalize(
	        "sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", d),
	    0);
	assert_string_equal(d, HELLO_DIGEST);
	static const char *bad[] = {
	    "",
	    "sha256:",
	    "sha256:2cf2",
	    "md5:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73",
	    "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824x",
	    "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982g",
	    "sha256/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(store_digest_valid(bad[i]));
}

static void test_store_blob_put_verifies_and_is_atomic(void **state)
{
	struct store *s = open_fresh("blob");
	char err[ERR_MSG_LEN], d[STORE_DIGEST_LEN + 1];
	assert_int_equal(store_blob_put(s, "hello", 5, HELLO_DIGEST, d, err), 0);
	assert_string_equal(d, HELLO_DIGEST);
	char *path = store_blob_path(s, HELLO_DIGEST);
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(path, &b, 0), 0);
	assert_string_equal(b.data, "hello");
	buf_release(&b);
	free(path);
	int64_t size;
	assert_int_equal(store_blob_size(s, HELLO_DIGEST, &size), 0);
	assert_int_equal(size, 5);
	/* wrong content for the digest: an error, nothing new in blobs/ */
	assert_int_equal(
	    store_blob_put(
	        s, "hellO", 5,
	        "sha256:1111111111111111111111111111111111111111111111111111111111111111", d, err),
	    ERR_DIGEST);
	assert_string_equal(
	    err, "digest mismatch, expected "
	         "\"sha256:1111111111111111111111111111111111111111111111111111111111111111\""
	         ", got \"sha256:"
	         "04a6f55face2f46be8c23f627d539827615851e10751b63ec59db6d2c706b770\"");
	assert_int_equal(count_blob_files(s), 1);
	assert_int_equal(store_blob_put(s, "x", 1, "sha256:nothex", d, err), ERR_INVALID);
	/* the same bytes twice: one blob */
	assert_int_equal(store_blob_put(s, "hello", 5, NULL, d, err), 0);
	assert_int_equal(count_blob_files(s), 1);
	store_free(s);
}

static void test_store_blob_put_file_and_writer_abort(void **state)
{
	struct store *s = open_fresh("blobfile");
	char *src = file_path_join(test_tmp_dir(), "src.bin");
	char data[3000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)(i * 7);
	assert_int_equal(file_write_atomic(src, data, sizeof data, 0644), 0);
	char hex[65], err[ERR_MSG_LEN], d[STORE_DIGEST_LEN + 1], want[STORE_DIGEST_LEN + 1];
	sha256_hex(data, sizeof data, hex);
	snprintf(want, sizeof want, "sha256:%s", hex);
	int64_t size = 0;
	assert_int_equal(store_blob_put_file(s, src, want, d, &size, err), 0);
	assert_string_equal(d, want);
	assert_int_equal(size, 3000);
	assert_true(store_blob_exists(s, want));
	assert_int_equal(store_blob_put_file(s, "/nonexistent/x", NULL, d, &size, err), -ENOENT);
	struct store_blob_writer *w;
	assert_int_equal(store_blob_writer_new(s, NULL, &w, err), 0);
	assert_int_equal(store_blob_writer_write(w, "abc", 3, err), 0);
	assert_int_equal(count_blob_files(s), 2); /* the blob and the temporary file */
	store_blob_writer_abort(w);
	assert_int_equal(count_blob_files(s), 1);
	free(src);
	store_free(s);
}

static void test_store_manifest_exact_bytes(void **state)
{
	struct store_manifest m;
	store_manifest_init(&m);
	store_manifest_set_config(
	    &m, STORE_MT_CONFIG,
	    "sha256:6819964c2bcf53f6dd3593f9571e91cbf2bab9665493f870f96eeb29873049b4", 490);
	store_manifest_add_layer(
	    &m, STORE_MT_MODEL,
	    "sha256:e8ad13eff07a78d89926e9e8b882317d082ef5bf9768ad7b50fcdbbcd63748de",
	    8149180896LL);
	store_manifest_add_layer(
	    &m, STORE_MT_TEMPLATE,
	    "sha256:e0a42594d802e5d31cdc786deb4823edb8adff66094d49de8fffe976d753e348", 358);
	struct buf b = BUF_INIT;
	store_manifest_serialize(&m, &b);
	/* the gemma3:12b manifest of reference §3.3, without its last two layers */
	assert_string_equal(
	    b.data,
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest."
	    "v2+json\",\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+"
	    "json\",\"digest\":\"sha256:6819964c2bcf53f6dd3593f9571e91cbf2bab9665493f870f96eeb"
	    "29873049b4\",\"size\":490},\"layers\":[{\"mediaType\":\"application/vnd.ollama."
	    "image.model\",\"digest\":\"sha256:e8ad13eff07a78d89926e9e8b882317d082ef5bf9768ad7b"
	    "50fcdbbcd63748de\",\"size\":8149180896},{\"mediaType\":\"application/vnd.ollama."
	    "image.template\",\"digest\":\"sha256:e0a42594d802e5d31cdc786deb4823edb8adff66094d"
	    "49de8fffe976d753e348\",\"size\":358}]}");
	assert_int_equal(store_manifest_size(&m), 490 + 8149180896LL + 358);
	struct store_manifest back;
	char err[ERR_MSG_LEN];
	assert_int_equal(store_manifest_parse(b.data, b.len, &back, err), 0);
	struct buf b2 = BUF_INIT;
	store_manifest_serialize(&back, &b2);
	assert_string_equal(b.data, b2.data);
	assert_non_null(store_manifest_find(&back, STORE_MT_TEMPLATE));
	assert_null(store_manifest_find(&back, STORE_MT_SYSTEM));
	buf_release(&b);
	buf_release(&b2);
	store_manifest_release(&m);
	store_manifest_release(&back);
}

static void test_store_manifest_parse_rejects_bad_input(void **state)
{
#define D64 "0000000000000000000000000000000000000000000000000000000000000000"
	static const char *bad[] = {
	    "",
	    "[]",
	    "{\"schemaVersion\":2,",
	    "{\"schemaVersion\":1,\"layers\":[]}",
	    "{\"schemaVersion\":\"2\",\"layers\":[]}",
	    "{\"schemaVersion\":2,\"layers\":{}}",
	    "{\"schemaVersion\":2,\"layers\":[1]}",
	    "{\"schemaVersion\":2,\"layers\":[{\"digest\":\"sha256:" D64 "\",\"size\":1}]}",
	    "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:12\","
	    "\"size\":1}]}",
	    "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:" D64
	    "\",\"size\":-1}]}",
	    "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:" D64
	    "\",\"size\":1.5}]}",
	    "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:" D64
	    "\",\"size\":1e300}]}",
	    "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256-" D64
	    "\",\"size\":1}]}",
	    "{\"schemaVersion\":2,\"config\":\"x\",\"layers\":[]}",
	    /* media types are printable ASCII: 200 bytes of invalid UTF-8 were
	     * written back as 600 bytes of \\ufffd escapes that no longer read
	     * (found by tests/fuzz/store_manifest_fuzz.c) */
	    "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"a\xe9\",\"digest\":\"sha256:" D64
	    "\",\"size\":1}]}",
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a b\",\"digest\":\"sha256:" D64
	    "\",\"size\":1},\"layers\":[]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct store_manifest m;
		char err[ERR_MSG_LEN] = "";
		if (store_manifest_parse(bad[i], strlen(bad[i]), &m, err) == 0)
			fail_msg("accepted: %s", bad[i]);
		assert_true(strlen(err) > 0);
	}
	/* an OCI manifest without mediaType and an annotation we do not keep */
	const char *oci =
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"c\",\"digest\":\"sha256:" D64
	    "\",\"size\":2},\"layers\":[],\"annotations\":{\"a\":\"b\"}}";
	struct store_manifest m;
	char err[ERR_MSG_LEN];
	assert_int_equal(store_manifest_parse(oci, strlen(oci), &m, err), 0);
	assert_string_equal(m.media_type, STORE_MT_MANIFEST);
	assert_int_equal(m.n_layers, 0);
	assert_int_equal(m.config.size, 2);
	store_manifest_release(&m);
	/* a document mediaType that is not printable ASCII falls back to the default */
	const char *odd = "{\"schemaVersion\":2,\"mediaType\":\"\xff\xfe\",\"layers\":[]}";
	assert_int_equal(store_manifest_parse(odd, strlen(odd), &m, err), 0);
	assert_string_equal(m.media_type, STORE_MT_MANIFEST);
	store_manifest_release(&m);
	/* 1024 layers of the largest size each: the sum saturates (found by
	 * tests/fuzz/store_manifest_fuzz.c; UBSan flagged the overflow) */
	struct buf big = BUF_INIT;
	buf_puts(&big, "{\"schemaVersion\":2,\"layers\":[");
	for (int i = 0; i < 1024; i++)
		buf_printf(&big,
		           "%s{\"mediaType\":\"m\",\"digest\":\"sha256:" D64
		           "\",\"size\":9007199254740992}",
		           i ? "," : "");
	buf_puts(&big, "]}");
	assert_int_equal(store_manifest_parse(big.data, big.len, &m, err), 0);
	assert_int_equal(m.n_layers, 1024);
	assert_true(store_manifest_size(&m) == INT64_MAX);
	store_manifest_release(&m);
	buf_release(&big);
#undef D64
}

struct fixture {
	char model[STORE_DIGEST_LEN + 1], tmpl[STORE_DIGEST_LEN + 1], cfg[STORE_DIGEST_LEN + 1];
	char sys[STORE_DIGEST_LEN + 1], params[STORE_DIGEST_LEN + 1], lic[STORE_DIGEST_LEN + 1];
};

static void make_model(struct store *s, const char *name, struct fixture *f, const char *sys)
{
	put_text(s, "GGUF-fake-weights", f->model);
	put_text(s, "{{ .Prompt }}", f->tmpl);
	put_text(s, "{\"model_format\":\"gguf\"}", f->cfg);
	put_text(s, sys, f->sys);
	put_text(s, "{\"temperature\":0.5}\n", f->params);
	put_text(s, "MIT", f->lic);
	struct store_manifest m;
	store_manifest_init(&m);
	store_manifest_set_config(&m, STORE_MT_CONFIG, f->cfg, 23);
	store_manifest_add_layer(&m, STORE_MT_MODEL, f->model, 17);
	store_manifest_add_layer(&m, STORE_MT_TEMPLATE, f->tmpl, 13);
	store_manifest_add_layer(&m, STORE_MT_SYSTEM, f->sys, (int64_t)strlen(sys));
	store_manifest_add_layer(&m, STORE_MT_PARAMS, f->params, 20);
	store_manifest_add_layer(&m, STORE_MT_LICENSE, f->lic, 3);
	store_manifest_add_layer(&m, STORE_MT_LICENSE, f->lic, 3);
	struct model_name n;
	char err[ERR_MSG_LEN];
	assert_int_equal(names_parse(name, &n, err), 0);
	if (store_manifest_write(s, &n, &m, NULL, err) != 0)
		fail_msg("manifest write: %s", err);
	store_manifest_release(&m);
}

static void test_store_manifest_write_needs_blobs(void **state)
{
	struct store *s = open_fresh("needs");
	struct store_manifest m;
	store_manifest_init(&m);
	store_manifest_add_layer(&m, STORE_MT_MODEL, HELLO_DIGEST, 5);
	struct model_name n;
	char err[ERR_MSG_LEN];
	assert_int_equal(names_parse("x", &n, NULL), 0);
	assert_int_equal(store_manifest_write(s, &n, &m, NULL, err), ERR_NOT_FOUND);
	assert_non_null(strstr(err, HELLO_DIGEST));
	char *path = store_manifest_path(s, &n);
	assert_false(file_exists(path));
	put_text(s, "hello", (char[STORE_DIGEST_LEN + 1]){0});
	struct store_manifest prev;
	assert_int_equal(store_manifest_write(s, &n, &m, &prev, err), 0);
	assert_int_equal(prev.n_layers, 0);
	store_manifest_release(&prev);
	assert_true(file_exists(path));
	struct store_manifest back;
	char hex[65];
	assert_int_equal(store_manifest_read(s, &n, &back, hex, err), 0);
	assert_int_equal(back.n_layers, 1);
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(path, &b, 0), 0);
	char want[65];
	sha256_hex(b.data, b.len, want);
	assert_string_equal(hex, want);
	buf_release(&b);
	store_manifest_release(&back);
	store_manifest_release(&m);
	free(path);
	store_free(s);
}

static void test_store_model_load_reads_layers(void **state)
{
	struct store *s = open_fresh("load");
	struct fixture f;
	make_model(s, "tiny:1", &f, "You are terse.");
	struct model_name n;
	assert_int_equal(names_parse("tiny:1", &n, NULL), 0);
	struct store_model m;
	char err[ERR_MSG_LEN];
	assert_int_equal(store_model_load(s, &n, &m, err), 0);
	char *want = store_blob_path(s, f.model);
	assert_string_equal(m.model_path, want);
	free(want);
	assert_string_equal(m.template_text, "{{ .Prompt }}");
	assert_string_equal(m.system_text, "You are terse.");
	assert_string_equal(m.params_json, "{\"temperature\":0.5}\n");
	assert_int_equal(m.n_licenses, 2);
	assert_string_equal(m.licenses[1], "MIT");
	assert_string_equal(m.entry.config_json, "{\"model_format\":\"gguf\"}");
	assert_int_equal(m.entry.size, 23 + 17 + 13 + 14 + 20 + 3 + 3);
	assert_null(m.messages_json);
	store_model_release(&m);
	assert_int_equal(names_parse("tiny:2", &n, NULL), 0);
	assert_int_equal(store_model_load(s, &n, &m, err), ERR_NOT_FOUND);
	store_free(s);
}

static void test_store_list_and_resolve(void **state)
{
	struct store *s = open_fresh("list");
	struct fixture f;
	make_model(s, "alpha", &f, "a");
	make_model(s, "127.0.0.1:5000/library/Beta:v1", &f, "b");
	/* make alpha the newest */
	struct model_name n;
	assert_int_equal(names_parse("alpha", &n, NULL), 0);
	char *path = store_manifest_path(s, &n);
	struct timespec ts[2] = {{.tv_sec = 2000000000}, {.tv_sec = 2000000000}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	free(path);
	struct store_entry *e;
	size_t count;
	assert_int_equal(store_list(s, &e, &count), 0);
	assert_int_equal(count, 2);
	assert_string_equal(e[0].name.model, "alpha");
	assert_int_equal(e[0].modified_ns, 2000000000LL * 1000000000LL);
	assert_string_equal(e[1].name.model, "Beta");
	assert_int_equal(e[1].size, 23 + 17 + 13 + 1 + 20 + 3 + 3);
	assert_int_equal(strlen(e[1].digest), 64);
	store_entries_free(e, count);
	struct model_name q, got;
	assert_int_equal(names_parse("127.0.0.1:5000/LIBRARY/beta:V1", &q, NULL), 0);
	store_resolve(s, &q, &got);
	assert_string_equal(got.ns, "library");
	assert_string_equal(got.model, "Beta");
	assert_string_equal(got.tag, "v1");
	assert_int_equal(names_parse("gamma", &q, NULL), 0);
	store_resolve(s, &q, &got);
	assert_string_equal(got.model, "gamma");
	store_free(s);
}

static void test_store_copy_and_delete_collects_garbage(void **state)
{
	struct store *s = open_fresh("gc");
	struct fixture f1, f2;
	make_model(s, "one", &f1, "system one");
	make_model(s, "two", &f2, "system two"); /* shares all blobs but the system one */
	struct model_name one, two, three;
	char err[ERR_MSG_LEN];
	names_parse("one", &one, NULL);
	names_parse("two", &two, NULL);
	names_parse("ns/three:x", &three, NULL);
	assert_int_equal(store_copy(s, &one, &three, err), 0);
	struct buf a = BUF_INIT, b = BUF_INIT;
	char *pa = store_manifest_path(s, &one), *pb = store_manifest_path(s, &three);
	assert_int_equal(file_read_all(pa, &a, 0), 0);
	assert_int_equal(file_read_all(pb, &b, 0), 0);
	assert_string_equal(a.data, b.data);
	buf_release(&a);
	buf_release(&b);
	/* delete one: everything is still referenced by three */
	assert_int_equal(store_delete(s, &one, err), 0);
	assert_false(file_exists(pa));
	assert_true(store_blob_exists(s, f1.sys));
	/* delete three: its unique system blob goes, shared ones stay */
	assert_int_equal(store_delete(s, &three, err), 0);
	assert_false(store_blob_exists(s, f1.sys));
	assert_true(store_blob_exists(s, f2.sys));
	assert_true(store_blob_exists(s, f1.model));
	char *ns_dir = file_path_join(store_manifests_dir(s), "registry.ollama.ai/ns");
	assert_false(file_exists(ns_dir)); /* empty folders pruned */
	free(ns_dir);
	assert_int_equal(store_delete(s, &three, err), ERR_NOT_FOUND);
	assert_int_equal(store_copy(s, &one, &three, err), ERR_NOT_FOUND);
	/* pinned blobs survive the last delete */
	store_pin(s, f2.model);
	assert_int_equal(store_delete(s, &two, err), 0);
	assert_true(store_blob_exists(s, f2.model));
	assert_false(store_blob_exists(s, f2.tmpl));
	store_unpin(s, f2.model);
	int removed = 0;
	assert_int_equal(store_prune(s, 0, &removed), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(count_blob_files(s), 0);
	free(pa);
	free(pb);
	store_free(s);
}

static void test_store_corrupt_manifest_blocks_collection(void **state)
{
	struct store *s = open_fresh("corrupt");
	struct fixture f;
	make_model(s, "good", &f, "sys");
	struct model_name bad, good;
	names_parse("bad", &bad, NULL);
	names_parse("good", &good, NULL);
	char *path = store_manifest_path(s, &bad);
	char *dir = strdup(path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(file_mkdir_p(dir, 0755), 0);
	assert_int_equal(file_write_atomic(path, "{not json", 9, 0644), 0);
	struct store_entry *e;
	size_t n;
	assert_int_equal(store_list(s, &e, &n), 0);
	assert_int_equal(n, 1); /* the corrupt one is skipped */
	store_entries_free(e, n);
	char err[ERR_MSG_LEN];
	assert_int_equal(store_delete(s, &good, err), 0);
	/* the corrupt manifest might reference them: nothing is collected */
	assert_true(store_blob_exists(s, f.model));
	assert_int_equal(store_delete(s, &bad, err), 0);
	assert_false(file_exists(path));
	free(dir);
	free(path);
	store_free(s);
}

static void test_store_prune_keeps_young_partials(void **state)
{
	struct store *s = open_fresh("prune");
	char d[STORE_DIGEST_LEN + 1];
	put_text(s, "orphan", d);
	char *partial = store_blob_partial_path(s, HELLO_DIGEST);
	assert_int_equal(file_write_atomic(partial, "he", 2, 0644), 0);
	int removed;
	assert_int_equal(store_prune(s, 3600LL * 1000000000LL, &removed), 0);
	assert_int_equal(removed, 1);
	assert_true(file_exists(partial));
	assert_int_equal(store_prune(s, 0, &removed), 0);
	assert_false(file_exists(partial));
	free(partial);
	store_free(s);
}

struct worker {
	struct store *s;
	int id;
	int failures;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	char err[ERR_MSG_LEN], d[STORE_DIGEST_LEN + 1], name[32];
	for (int i = 0; i < 20; i++) {
		if (store_blob_put(w->s, "shared bytes", 12, NULL, d, err) != 0) {
			w->failures++;
			continue;
		}
		struct store_manifest m;
		store_manifest_init(&m);
		store_manifest_add_layer(&m, STORE_MT_MODEL, d, 12);
		struct model_name n;
		snprintf(name, sizeof name, "m%d:%d", w->id, i % 3);
		names_parse(name, &n, NULL);
		store_pin(w->s, d);
		if (store_manifest_write(w->s, &n, &m, NULL, err) != 0)
			w->failures++;
		store_unpin(w->s, d);
		if (i % 3 == 2 && store_delete(w->s, &n, err) != 0)
			w->failures++;
		store_manifest_release(&m);
	}
	return NULL;
}

static void test_store_concurrent_writers(void **state)
{
	struct store *s = open_fresh("threads");
	pthread_t t[8];
	struct worker w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){s, i, 0};
		pthread_create(&t[i], NULL, hammer, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	struct store_entry *e;
	size_t n;
	assert_int_equal(store_list(s, &e, &n), 0);
	assert_int_equal(n, 16); /* tags 0 and 1 of each worker; tag 2 was deleted */
	store_entries_free(e, n);
	assert_int_equal(count_blob_files(s), 1);
	store_free(s);
}

static int teardown(void **state)
{
	file_remove_tree(test_tmp_dir());
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_store_root_from_environment),
	    cmocka_unit_test(test_store_digest_forms),
	    cmocka_unit_test(test_store_blob_put_verifies_and_is_atomic),
	    cmocka_unit_test(test_store_blob_put_file_and_writer_abort),
	    cmocka_unit_test(test_store_manifest_exact_bytes),
	    cmocka_unit_test(test_store_manifest_parse_rejects_bad_input),
	    cmocka_unit_test(test_store_manifest_write_needs_blobs),
	    cmocka_unit_test(test_store_model_load_reads_layers),
	    cmocka_unit_test(test_store_list_and_resolve),
	    cmocka_unit_test(test_store_copy_and_delete_collects_garbage),
	    cmocka_unit_test(test_store_corrupt_manifest_blocks_collection),
	    cmocka_unit_test(test_store_prune_keeps_young_partials),
	    cmocka_unit_test(test_store_concurrent_writers),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}

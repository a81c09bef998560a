/* oci_ref_test.c — image reference parsing (Docker defaults, ports, digests,
 * IPv6 hosts) and a table of invalid references; manifest and index
 * parsing, including the platform pick and the refusals. */
#include "support/support.h"

#include <stdlib.h>
#include <string.h>

#include "platform/oci_manifest.h"
#include "platform/oci_ref.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void check(const char *in, const char *host, const char *repo, const char *tag,
                  const char *digest)
{
	struct oci_ref r;
	char err[ERR_MSG_LEN] = "";
	int rc = oci_ref_parse(in, &r, err);
	if (rc)
		print_message("%s: %s\n", in, err);
	assert_int_equal(rc, 0);
	assert_string_equal(r.host, host);
	assert_string_equal(r.repo, repo);
	if (tag)
		assert_string_equal(r.tag, tag);
	else
		assert_null(r.tag);
	if (digest)
		assert_string_equal(r.digest, digest);
	else
		assert_null(r.digest);
	oci_ref_release(&r);
}

static void test_oci_ref_docker_defaults(void **state)
{
	check("busybox", "docker.io", "library/busybox", "latest", NULL);
	check("busybox:1.36", "docker.io", "library/busybox", "1.36", NULL);
	check("ollama/ollama", "docker.io", "ollama/ollama", "latest", NULL);
	check("docker.io/busybox", "docker.io", "library/busybox", "latest", NULL);
	check("busybox@sha256:" D64, "docker.io", "library/busybox", NULL, "sha256:" D64);
	struct oci_ref r;
	assert_int_equal(oci_ref_parse("busybox", &r, NULL), 0);
	assert_string_equal(oci_ref_api_host(&r), "registry-1.docker.io");
	char *s = oci_ref_format(&r);
	assert_string_equal(s, "docker.io/library/busybox:latest");
	free(s);
	oci_ref_release(&r);
}

static void test_oci_ref_hosts_ports_digests(void **state)
{
	check("127.0.0.1:5000/test/busybox:v1", "127.0.0.1:5000", "test/busybox", "v1", NULL);
	check("localhost/app", "localhost", "app", "latest", NULL);
	check("localhost:5000/app", "localhost:5000", "app", "latest", NULL);
	check("ghcr.io/a/b/c:1.0-rc_1", "ghcr.io", "a/b/c", "1.0-rc_1", NULL);
	check("[::1]:5000/x/y:z", "[::1]:5000", "x/y", "z", NULL);
	check("Registry/x", "Registry", "x", "latest", NULL); /* uppercase: a host, as Docker */
	check("reg.example.com:443/a__b/c-d.e:t@sha256:" D64, "reg.example.com:443", "a__b/c-d.e",
	      "t", "sha256:" D64);
	check("host:5000/repo@sha256:" D64, "host:5000", "repo", NULL, "sha256:" D64);
	assert_true(oci_ref_host_is_loopback("127.0.0.1:5000"));
	assert_true(oci_ref_host_is_loopback("localhost"));
	assert_true(oci_ref_host_is_loopback("[::1]:5000"));
	assert_true(oci_ref_host_is_loopback("127.1.2.3"));
	assert_false(oci_ref_host_is_loopback("docker.io"));
	assert_false(oci_ref_host_is_loopback("127.0.0.1.evil.com:80"));
	assert_false(oci_ref_host_is_loopback("localhost.evil.com"));
}

static void test_oci_ref_invalid_table(void **state)
{
	static const char *const bad[] = {
	    "",
	    "UPPER",
	    "Host/UPPER",
	    "busybox:",
	    "busybox:-tag",
	    "busybox:"
	    "t"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "a",
	    "busybox@sha256:abc",
	    "busybox@md5:" D64,
	    "busybox@sha256:"
	    "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	    "/busybox",
	    "busybox/",
	    "a//b",
	    "host:99999/x",
	    "host:0/x",
	    "-host.com/x",
	    "ex ample.com/x",
	    "x/-y",
	    "x/y.",
	    "x/y..z",
	    "[::1/x",
	    "a/b:c:d",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct oci_ref r;
		char err[ERR_MSG_LEN] = "";
		int rc = oci_ref_parse(bad[i], &r, err);
		if (rc == 0)
			print_message("accepted: '%s'\n", bad[i]);
		assert_int_not_equal(rc, 0);
		assert_true(strlen(err) > 0);
		assert_null(r.host);
	}
}

/* ---- manifests ---------------------------------------------------------- */

#define LAYER(mt, hex, size)                                                                       \
	"{\"mediaType\":\"" mt "\",\"digest\":\"sha256:" hex "\",\"size\":" size "}"
#define GZ "application/vnd.docker.image.rootfs.diff.tar.gzip"

static void test_oci_manifest_docker_v2(void **state)
{
	const char *j =
	    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_DOCKER_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"" OCI_MT_DOCKER_CONFIG "\",\"digest\":\"sha256:" D64
	    "\",\"size\":7},\"layers\":[" LAYER(GZ, D64, "10") "," LAYER(
	        "application/vnd.oci.image.layer.v1.tar+zstd", D64, "0") "]}";
	struct oci_manifest m;
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(oci_manifest_parse(j, strlen(j), NULL, &m, err), 0);
	assert_int_equal(m.kind, OCI_MANIFEST_IMAGE);
	assert_int_equal(m.n_items, 2);
	assert_int_equal(m.config.size, 7);
	assert_int_equal(m.items[0].size, 10);
	oci_manifest_release(&m);
}

static void test_oci_manifest_oci_index_pick(void **state)
{
	const char *j =
	    "{\"schemaVersion\":2,\"manifests\":["
	    "{\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\",\"digest\":\"sha256:" D64 "\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
	    "{\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\",\"digest\":\"sha256:"
	    "1111111111111111111111111111111111111111111111111111111111111111\",\"size\":2,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
	struct oci_manifest m;
	char err[ERR_MSG_LEN] = "";
	/* no mediaType in the body: the Content-Type decides */
	assert_int_equal(oci_manifest_parse(j, strlen(j), OCI_MT_OCI_INDEX "; charset=x", &m, err),
	                 0);
	assert_int_equal(m.kind, OCI_MANIFEST_INDEX);
	const struct oci_descriptor *d = oci_manifest_pick(&m, "linux", "amd64", err);
	assert_non_null(d);
	assert_int_equal(d->size, 2);
	assert_null(oci_manifest_pick(&m, "linux", "s390x", err));
	assert_non_null(strstr(err, "linux/arm64, linux/amd64"));
	oci_manifest_release(&m);
}

static void test_oci_manifest_refusals(void **state)
{
	static const char *const bad[] = {
	    "{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}",
	    "[]",
	    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\"}",
	    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\",\"config\":{\"digest\":"
	    "\"sha256:" D64 "\",\"size\":1},\"layers\":[" LAYER(
	        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", D64, "1") "]}",
	    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\",\"config\":{\"digest\":"
	    "\"sha256:" D64 "\",\"size\":1},\"layers\":[" LAYER(GZ, "abc", "1") "]}",
	    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\",\"config\":{\"digest\":"
	    "\"sha256:" D64 "\",\"size\":-1},\"layers\":[]}",
	    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\",\"config\":{\"digest\":"
	    "\"sha256:" D64 "\",\"size\":1.5},\"layers\":[]}",
	    "{\"schemaVersion\":2,\"mediaType\":\"application/x-unknown\"}",
	    "{\"schemaVersion\":2,\"manifests\":{}}",
	    "{\"schemaVersion\":2,",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct oci_manifest m;
		char err[ERR_MSG_LEN] = "";
		int rc = oci_manifest_parse(bad[i], strlen(bad[i]), NULL, &m, err);
		if (rc == 0)
			print_message("accepted #%zu\n", i);
		assert_int_not_equal(rc, 0);
		assert_true(strlen(err) > 0);
		assert_null(m.items);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oci_ref_docker_defaults),
	    cmocka_unit_test(test_oci_ref_hosts_ports_digests),
	    cmocka_unit_test(test_oci_ref_invalid_table),
	    cmocka_unit_test(test_oci_manifest_docker_v2),
	    cmocka_unit_test(test_oci_manifest_oci_index_pick),
	    cmocka_unit_test(test_oci_manifest_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

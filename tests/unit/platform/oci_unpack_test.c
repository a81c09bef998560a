/* oci_unpack_test.c — layers built here with libarchive's writer, applied
 * with oci_unpack: files, dirs, symlinks, hard links, setuid stripping,
 * whiteouts and opaque dirs, gzip/zstd/plain; hostile layers ('..', writes
 * through absolute and relative symlinks, hard links out, device nodes)
 * refused with the entry named and nothing written outside; the blob store
 * refusing a lying digest; image builds that are all-or-nothing. No root,
 * no network. */
#include "support/support.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/sha256.h"
#include "platform/oci_store.h"
#include "platform/oci_unpack.h"

enum filt { PLAIN, GZIP, ZSTD };

/* type: 'f' file (data), 'd' dir, 'l' symlink (data = target), 'h' hard
 * link (data = target), 'c' char device, 'p' fifo. */
struct ent {
	const char *path;
	char type;
	const char *data;
	int mode;
};

static char *tmp_path(const char *name)
{
	static int n;
	char buf[600];
	snprintf(buf, sizeof(buf), "%s/%s-%d", test_tmp_dir(), name, n++);
	return strdup(buf);
}

static char *make_layer(const struct ent *e, int n, enum filt f)
{
	char *path = tmp_path("layer");
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (f == GZIP)
		archive_write_add_filter_gzip(a);
	else if (f == ZSTD)
		archive_write_add_filter_zstd(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (int i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_perm(ae, e[i].mode ? (mode_t)e[i].mode : 0644);
		archive_entry_set_mtime(ae, 1700000000, 0);
		size_t len = 0;
		switch (e[i].type) {
		case 'f':
			archive_entry_set_filetype(ae, AE_IFREG);
			len = strlen(e[i].data);
			archive_entry_set_size(ae, (la_int64_t)len);
			break;
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, e[i].mode ? (mode_t)e[i].mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e[i].data);
			break;
		case 'c':
			archive_entry_set_filetype(ae, AE_IFCHR);
			archive_entry_set_rdevmajor(ae, 8);
			archive_entry_set_rdevminor(ae, 0);
			break;
		case 'p': archive_entry_set_filetype(ae, AE_IFIFO); break;
		}
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, e[i].data, len), (la_ssize_t)len);
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	return path;
}

static char *new_root(void)
{
	char *p = tmp_path("root");
	assert_int_equal(mkdir(p, 0755), 0);
	return p;
}

static int apply(const char *root, const struct ent *e, int n, enum filt f, char err[ERR_MSG_LEN])
{
	char *layer = make_layer(e, n, f);
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct oci_unpack_stats st = {0};
	int rc = oci_unpack_layer(fd, layer, &st, err);
	close(fd);
	unlink(layer);
	free(layer);
	return rc;
}

static char *at(const char *root, const char *rel)
{
	static char buf[1200];
	snprintf(buf, sizeof(buf), "%s/%s", root, rel);
	return buf;
}

static void assert_content(const char *root, const char *rel, const char *want)
{
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(at(root, rel), &b, 0), 0);
	assert_string_equal(b.data ? b.data : "", want);
	buf_release(&b);
}

static void test_oci_unpack_files_links_modes(void **state)
{
	static const struct ent l1[] = {
	    {"etc/", 'd', NULL, 0},           {"etc/a", 'f', "alpha", 0},
	    {"./etc//b", 'h', "etc/a", 0},    {"usr/bin/su", 'f', "su", 04755},
	    {"usr/bin/sg", 'f', "sg", 02711}, {"bin", 'l', "usr/bin", 0},
	    {"abs", 'l', "/etc/passwd", 0},   {"tmp/", 'd', NULL, 01777},
	    {"run/fifo", 'p', NULL, 0600},    {"/rooted", 'f', "leading slash stays inside", 0},
	};
	for (enum filt f = PLAIN; f <= ZSTD; f++) {
		char *root = new_root();
		char err[ERR_MSG_LEN] = "";
		int rc = apply(root, l1, 10, f, err);
		if (rc)
			print_message("%s\n", err);
		assert_int_equal(rc, 0);
		assert_content(root, "etc/a", "alpha");
		assert_content(root, "etc/b", "alpha");
		assert_content(root, "rooted", "leading slash stays inside");
		struct stat a, b;
		assert_int_equal(stat(at(root, "etc/a"), &a), 0);
		assert_int_equal(stat(at(root, "etc/b"), &b), 0);
		assert_int_equal(a.st_ino, b.st_ino);
		assert_int_equal(stat(at(root, "usr/bin/su"), &a), 0);
		assert_int_equal(a.st_mode & 07777, 0755); /* setuid stripped */
		assert_int_equal(stat(at(root, "usr/bin/sg"), &a), 0);
		assert_int_equal(a.st_mode & 07777, 0711); /* setgid stripped */
		assert_int_equal(stat(at(root, "tmp"), &a), 0);
		assert_int_equal(a.st_mode & 07777, 01777); /* sticky kept */
		char target[64] = "";
		assert_true(readlink(at(root, "bin"), target, sizeof(target) - 1) > 0);
		assert_string_equal(target, "usr/bin");
		memset(target, 0, sizeof(target));
		assert_true(readlink(at(root, "abs"), target, sizeof(target) - 1) > 0);
		assert_string_equal(target, "/etc/passwd"); /* stored, never followed */
		assert_int_equal(lstat(at(root, "run/fifo"), &a), 0);
		assert_true(S_ISFIFO(a.st_mode));
		file_remove_tree(root);
		free(root);
	}
}

static void test_oci_unpack_whiteouts(void **state)
{
	static const struct ent l1[] = {
	    {"a/x", 'f', "x", 0},        {"a/y", 'f', "y", 0},    {"b/z", 'f', "z", 0},
	    {"b/sub/deep", 'f', "d", 0}, {"c/keep", 'f', "c", 0}, {"d", 'f', "file", 0},
	};
	static const struct ent l2[] = {
	    {"a/.wh.x", 'f', "", 0},
	    {"b/new", 'f', "same layer", 0}, /* before the opaque marker: must survive */
	    {"b/.wh..wh..opq", 'f', "", 0},
	    {".wh.c", 'f', "", 0},
	    {"d/", 'd', NULL, 0},            /* a dir replaces a file */
	    {"nodir/.wh.ghost", 'f', "", 0}, /* nothing below: fine */
	};
	char *root = new_root();
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(apply(root, l1, 6, GZIP, err), 0);
	int rc = apply(root, l2, 6, GZIP, err);
	if (rc)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	assert_false(file_exists(at(root, "a/x")));
	assert_content(root, "a/y", "y");
	assert_false(file_exists(at(root, "b/z")));
	assert_false(file_exists(at(root, "b/sub")));
	assert_content(root, "b/new", "same layer");
	assert_false(file_exists(at(root, "c")));
	assert_true(file_is_dir(at(root, "d")));
	assert_false(file_exists(at(root, "a/.wh.x")));
	assert_false(file_exists(at(root, "b/.wh..wh..opq")));
	file_remove_tree(root);
	free(root);
}

/* Each hostile layer: refused, the message names the entry, and the
 * sentinel directory beside the root stays empty. */
static void hostile(const struct ent *e, int n, const char *entry, const char *why)
{
	char *root = new_root();
	char *outside = tmp_path("outside");
	assert_int_equal(mkdir(outside, 0755), 0);
	char err[ERR_MSG_LEN] = "";
	int rc = apply(root, e, n, GZIP, err);
	print_message("refused: %s\n", err);
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(err, entry));
	assert_non_null(strstr(err, why));
	DIR *d = opendir(outside);
	int count = 0;
	for (struct dirent *de; (de = readdir(d)) != NULL;)
		count += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(count, 0);
	char esc[700];
	snprintf(esc, sizeof(esc), "%s/../pwned", root);
	assert_false(file_exists(esc));
	file_remove_tree(root);
	file_remove_tree(outside);
	free(root);
	free(outside);
}

static void test_oci_unpack_refuses_dotdot(void **state)
{
	const struct ent e[] = {{"ok", 'f', "1", 0}, {"a/../../pwned", 'f', "x", 0}};
	hostile(e, 2, "'a/../../pwned'", "'..'");
	const struct ent e2[] = {{"../pwned", 'f', "x", 0}};
	hostile(e2, 1, "'../pwned'", "refused");
}

static void test_oci_unpack_refuses_write_through_symlinks(void **state)
{
	/* the roots live in test_tmp_dir(): a write through "evil" would land
	 * beside them, where hostile() looks for "pwned" */
	const char *target = test_tmp_dir();
	const struct ent abs[] = {{"evil", 'l', target, 0}, {"evil/pwned", 'f', "x", 0}};
	hostile(abs, 2, "'evil/pwned'", "symlink 'evil'");
	const struct ent rel[] = {
	    {"d/", 'd', NULL, 0}, {"d/up", 'l', "../..", 0}, {"d/up/pwned", 'f', "x", 0}};
	hostile(rel, 3, "'d/up/pwned'", "symlink 'd/up'");
	const struct ent dir[] = {
	    {"etc", 'l', "/etc", 0}, {"etc/", 'd', NULL, 0}, {"etc/x/pwned", 'f', "x", 0}};
	/* a dir entry over a symlink replaces the link: then writing inside is fine */
	char *root = new_root();
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(apply(root, dir, 3, PLAIN, err), 0);
	struct stat st;
	assert_int_equal(lstat(at(root, "etc"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_content(root, "etc/x/pwned", "x");
	file_remove_tree(root);
	free(root);
	const struct ent wh[] = {{"lnk", 'l', "/", 0}, {"lnk/.wh.tmp", 'f', "", 0}};
	hostile(wh, 2, "'lnk/.wh.tmp'", "symlink 'lnk'");
}

static void test_oci_unpack_refuses_hardlink_escape_and_devices(void **state)
{
	const struct ent h1[] = {{"h", 'h', "../../../etc/passwd", 0}};
	hostile(h1, 1, "'h'", "leaves the root filesystem");
	const struct ent h2[] = {{"l", 'l', "/etc", 0}, {"h", 'h', "l/passwd", 0}};
	hostile(h2, 2, "'h'", "symlink 'l'");
	const struct ent h3[] = {{"h", 'h', "missing", 0}};
	hostile(h3, 1, "'h'", "does not exist");
	const struct ent dev[] = {{"dev/sda", 'c', NULL, 0}};
	hostile(dev, 1, "'dev/sda'", "device node (8:0): refused");
}

static void test_oci_unpack_not_a_tar(void **state)
{
	char *root = new_root();
	char *junk = tmp_path("junk");
	assert_int_equal(file_write_atomic(junk, "definitely not a tar archive", 28, 0600), 0);
	int fd = open(root, O_PATH | O_DIRECTORY);
	char err[ERR_MSG_LEN] = "";
	assert_int_not_equal(oci_unpack_layer(fd, junk, NULL, err), 0);
	assert_true(strlen(err) > 0);
	close(fd);
	file_remove_tree(root);
	unlink(junk);
	free(root);
	free(junk);
}

/* ---- the store and whole images ---------------------------------------- */

static void digest_of(const char *path, char out[OCI_DIGEST_LEN + 1])
{
	char hex[SHA256_HEX_LEN + 1];
	assert_int_equal(sha256_file_hex(path, hex), 0);
	snprintf(out, OCI_DIGEST_LEN + 1, "sha256:%s", hex);
}

static int count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_oci_store_refuses_lying_digest(void **state)
{
	struct oci_store st;
	char *root = tmp_path("store");
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(oci_store_init(&st, root, err), 0);
	const char *lie = "sha256:"
	                  "0000000000000000000000000000000000000000000000000000000000000000";
	int rc = oci_store_put_blob(&st, lie, "payload", 7, err);
	assert_int_equal(rc, ERR_DIGEST);
	assert_non_null(strstr(err, "does not match its digest"));
	assert_false(oci_store_has_blob(&st, lie));
	char *tmp = file_path_join(root, "tmp"), *blobs = file_path_join(root, "blobs/sha256");
	assert_int_equal(count_dir(tmp), 0);
	assert_int_equal(count_dir(blobs), 0);
	/* more bytes than declared: refused as they arrive */
	struct oci_blob_writer w;
	assert_int_equal(oci_blob_writer_open(&w, &st, lie, 3, err), 0);
	assert_int_equal(oci_blob_writer_write(&w, "abcd", 4, err), ERR_TOO_LARGE);
	oci_blob_writer_abort(&w);
	assert_int_equal(count_dir(tmp), 0);
	/* the truth is kept and reads back verified */
	char good[OCI_DIGEST_LEN + 1], hex[SHA256_HEX_LEN + 1];
	sha256_hex("payload", 7, hex);
	snprintf(good, sizeof(good), "sha256:%s", hex);
	assert_int_equal(oci_store_put_blob(&st, good, "payload", 7, err), 0);
	struct buf b = BUF_INIT;
	assert_int_equal(oci_store_read_blob(&st, good, 100, &b, err), 0);
	assert_string_equal(b.data, "payload");
	buf_release(&b);
	free(tmp);
	free(blobs);
	file_remove_tree(root);
	oci_store_release(&st);
	free(root);
}

static void put_layer(struct oci_store *st, const char *layer, struct oci_descriptor *d)
{
	digest_of(layer, d->digest);
	struct buf b = BUF_INIT;
	assert_int_equal(file_read_all(layer, &b, 0), 0);
	assert_int_equal(oci_store_put_blob(st, d->digest, b.data, b.len, NULL), 0);
	d->size = (int64_t)b.len;
	buf_release(&b);
}

static void test_oci_unpack_image_all_or_nothing(void **state)
{
	struct oci_store st;
	char *root = tmp_path("store");
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(oci_store_init(&st, root, err), 0);
	static const struct ent l1[] = {{"bin/tool", 'f', "v1", 0755}, {"etc/conf", 'f', "c", 0}};
	static const struct ent l2[] = {{"bin/tool", 'f', "v2", 0755},
	                                {"etc/.wh.conf", 'f', "", 0}};
	static const struct ent bad[] = {{"x", 'l', "/", 0}, {"x/pwned", 'f', "x", 0}};
	struct oci_descriptor items[2];
	memset(items, 0, sizeof(items));
	char *p1 = make_layer(l1, 2, GZIP), *p2 = make_layer(l2, 2, ZSTD),
	     *pb = make_layer(bad, 2, PLAIN);
	put_layer(&st, p1, &items[0]);
	put_layer(&st, p2, &items[1]);
	struct oci_image img = {
	    .digest = "sha256:"
	              "1111111111111111111111111111111111111111111111111111111111111111"};
	img.manifest.kind = OCI_MANIFEST_IMAGE;
	img.manifest.items = items;
	img.manifest.n_items = 2;
	char *rootfs = NULL;
	assert_int_equal(oci_unpack_image(&st, &img, &rootfs, err), 0);
	assert_content(rootfs, "bin/tool", "v2");
	assert_false(file_exists(at(rootfs, "etc/conf")));
	char *again = NULL; /* cached: the same path, no rebuild */
	assert_int_equal(oci_unpack_image(&st, &img, &again, err), 0);
	assert_string_equal(again, rootfs);
	free(again);
	free(rootfs);
	put_layer(&st, pb, &items[1]);
	snprintf(img.digest, sizeof(img.digest), "sha256:%064d", 2);
	int rc = oci_unpack_image(&st, &img, &rootfs, err);
	print_message("hostile image: %s\n", err);
	assert_int_not_equal(rc, 0);
	assert_null(rootfs);
	assert_non_null(strstr(err, "layer 1"));
	assert_non_null(strstr(err, "'x/pwned'"));
	char *cache = oci_store_rootfs_path(&st, img.digest);
	assert_false(file_exists(cache));
	char *tmp = file_path_join(root, "tmp");
	assert_int_equal(count_dir(tmp), 0);
	free(tmp);
	free(cache);
	unlink(p1);
	unlink(p2);
	unlink(pb);
	free(p1);
	free(p2);
	free(pb);
	file_remove_tree(root);
	oci_store_release(&st);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oci_unpack_files_links_modes),
	    cmocka_unit_test(test_oci_unpack_whiteouts),
	    cmocka_unit_test(test_oci_unpack_refuses_dotdot),
	    cmocka_unit_test(test_oci_unpack_refuses_write_through_symlinks),
	    cmocka_unit_test(test_oci_unpack_refuses_hardlink_escape_and_devices),
	    cmocka_unit_test(test_oci_unpack_not_a_tar),
	    cmocka_unit_test(test_oci_store_refuses_lying_digest),
	    cmocka_unit_test(test_oci_unpack_image_all_or_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* gguf_hostile_test.c — the reader against truncated and malicious files:
 * a small valid file cut at every byte, absurd counts and lengths, unknown
 * types, bad alignment, misaligned, overlapping and out-of-file data,
 * duplicate names, bad shapes. Each must fail with a one-line message that
 * names the field and its byte offset; none may crash or over-read (each image
 * sits in an exact-size heap block, so ASan sees any read past it). */
#include "support/support.h"

#include "base/buf.h"
#include "gguf/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void u32(struct buf *b, uint32_t v)
{
	buf_append(b, &v, 4);
}

static void u64(struct buf *b, uint64_t v)
{
	buf_append(b, &v, 8);
}

static void str(struct buf *b, const char *s)
{
	u64(b, strlen(s));
	buf_puts(b, s);
}

static void header(struct buf *b, uint64_t n_tensors, uint64_t n_kv)
{
	buf_reset(b);
	u32(b, GGUF_MAGIC);
	u32(b, 3);
	u64(b, n_tensors);
	u64(b, n_kv);
}

static void kv_u32(struct buf *b, const char *key, uint32_t v)
{
	str(b, key);
	u32(b, GGUF_VT_UINT32);
	u32(b, v);
}

static void tinfo(struct buf *b, const char *name, uint32_t n_dims, const int64_t *ne,
                  uint32_t type, uint64_t off)
{
	str(b, name);
	u32(b, n_dims);
	for (uint32_t d = 0; d < n_dims; d++)
		u64(b, (uint64_t)ne[d]);
	u32(b, type);
	u64(b, off);
}

static void pad(struct buf *b, size_t align)
{
	while (b->len % align)
		buf_putc(b, 0);
}

static void zeros(struct buf *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_putc(b, 0);
}

/* Opens an exact-size copy of the first n bytes; returns the file or NULL. */
static struct gguf_file *open_n(const struct buf *b, size_t n, char *err)
{
	void *p = malloc(n ? n : 1);
	memcpy(p, b->data, n);
	err[0] = '\0';
	struct gguf_file *f = gguf_open_memory(p, n, err);
	if (f) {
		gguf_close(f);
		f = (struct gguf_file *)1; /* the image is freed: report success only */
	}
	free(p);
	return f;
}

#define expect_ok(b)                                                                               \
	do {                                                                                       \
		char e_[ERR_MSG_LEN];                                                              \
		if (!open_n((b), (b)->len, e_))                                                    \
			fail_msg("valid file rejected: %s", e_);                                   \
	} while (0)

/* Must fail, with "offset" and every given fragment in the message. */
static void expect_fail_(const struct buf *b, const char *const *frags, const char *where)
{
	char err[ERR_MSG_LEN];
	if (open_n(b, b->len, err))
		fail_msg("%s: hostile file accepted", where);
	print_message("  %s -> %s\n", where, err);
	if (!err[0] || !strstr(err, "offset") || strchr(err, '\n'))
		fail_msg("%s: message lacks an offset or is not one line: '%s'", where, err);
	for (; *frags; frags++)
		if (!strstr(err, *frags))
			fail_msg("%s: message '%s' does not mention '%s'", where, err, *frags);
}
#define expect_fail(b, ...) expect_fail_((b), (const char *const[]){__VA_ARGS__, NULL}, __func__)

/* A valid file with kvs of several types and three tensors; the last tensor
 * ends exactly at the end of the file, so every shorter prefix is invalid. */
static void valid_file(struct buf *b)
{
	header(b, 3, 5);
	str(b, "general.architecture");
	u32(b, GGUF_VT_STRING);
	str(b, "llama");
	kv_u32(b, "general.alignment", 32);
	str(b, "tokenizer.ggml.tokens");
	u32(b, GGUF_VT_ARRAY);
	u32(b, GGUF_VT_STRING);
	u64(b, 3);
	str(b, "<s>");
	str(b, "");
	str(b, "hello");
	str(b, "x.nested");
	u32(b, GGUF_VT_ARRAY);
	u32(b, GGUF_VT_ARRAY);
	u64(b, 2);
	u32(b, GGUF_VT_INT16), u64(b, 2), u32(b, 0x00020001);
	u32(b, GGUF_VT_BOOL), u64(b, 1), buf_putc(b, 1);
	str(b, "x.f");
	u32(b, GGUF_VT_FLOAT64);
	u64(b, 0);
	const int64_t ne_q[2] = {32, 2}, ne_a[1] = {5}, ne_b[1] = {8};
	tinfo(b, "q", 2, ne_q, GGML_TYPE_Q8_0, 0);
	tinfo(b, "a", 1, ne_a, GGML_TYPE_F32, 96);
	tinfo(b, "b", 1, ne_b, GGML_TYPE_F32, 128);
	pad(b, 32);
	zeros(b, 160);
}

static void test_gguf_hostile_truncated_at_every_byte(void **state)
{
	struct buf b = BUF_INIT;
	valid_file(&b);
	expect_ok(&b);
	for (size_t n = 0; n < b.len; n++) {
		char err[ERR_MSG_LEN];
		if (open_n(&b, n, err))
			fail_msg("prefix of %zu of %zu bytes accepted", n, b.len);
		if (!strstr(err, "gguf:") || !strstr(err, "offset"))
			fail_msg("prefix %zu: unclear message '%s'", n, err);
	}
	print_message("  %zu prefixes rejected\n", b.len);
	buf_release(&b);
}

/* Flipping every byte of the valid file to 0xff must never crash; it may or
 * may not stay valid. */
static void test_gguf_hostile_every_byte_corrupted(void **state)
{
	struct buf b = BUF_INIT;
	valid_file(&b);
	int rejected = 0;
	for (size_t i = 0; i < b.len; i++) {
		for (int k = 0; k < 3; k++) {
			static const uint8_t vals[3] = {0xff, 0x00, 0x80};
			char save = b.data[i], err[ERR_MSG_LEN];
			b.data[i] = (char)vals[k];
			if (!open_n(&b, b.len, err)) {
				rejected++;
				assert_non_null(strstr(err, "gguf:"));
			}
			b.data[i] = save;
		}
	}
	print_message("  %d of %zu corruptions rejected\n", rejected, 3 * b.len);
	assert_true(rejected > 0);
	buf_release(&b);
}

static void test_gguf_hostile_header(void **state)
{
	struct buf b = BUF_INIT;
	header(&b, 0, 0);
	expect_ok(&b);
	b.data[4] = 2; /* version 2 has the same layout */
	expect_ok(&b);
	b.data[0] = 'X';
	expect_fail(&b, "magic", "offset 0");
	header(&b, 0, 0);
	b.data[4] = 1;
	expect_fail(&b, "version", "offset 4");
	header(&b, 0, 0);
	b.data[4] = 4;
	expect_fail(&b, "version");
	header(&b, 0, 0);
	b.data[4] = 0, b.data[7] = 3;
	expect_fail(&b, "version", "big-endian");
	header(&b, 0, 1ULL << 63);
	expect_fail(&b, "n_kv", "offset 16");
	header(&b, UINT64_MAX, 0);
	expect_fail(&b, "n_tensors", "offset 8");
	header(&b, 1000, 0); /* plausible count, but no bytes for the infos */
	zeros(&b, 100);
	expect_fail(&b, "n_tensors");
	buf_release(&b);
}

static void test_gguf_hostile_kv(void **state)
{
	struct buf b = BUF_INIT;
	header(&b, 0, 1);
	u64(&b, UINT64_MAX); /* key length */
	zeros(&b, 16);
	expect_fail(&b, "key", "offset 24");
	header(&b, 0, 1);
	str(&b, "");
	u32(&b, GGUF_VT_UINT8);
	buf_putc(&b, 0);
	expect_fail(&b, "key", "empty");
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, 13);
	expect_fail(&b, "'k' value type", "offset 33");
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, GGUF_VT_STRING);
	u64(&b, UINT64_MAX);
	expect_fail(&b, "'k' string length", "offset 37");
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, GGUF_VT_BOOL);
	buf_putc(&b, 2);
	expect_fail(&b, "'k' bool", "offset 37");
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, GGUF_VT_ARRAY);
	u32(&b, 77);
	expect_fail(&b, "array element type");
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, GGUF_VT_ARRAY);
	u32(&b, GGUF_VT_UINT64);
	u64(&b, 1ULL << 61);
	expect_fail(&b, "'k' array count", "offset 41");
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, GGUF_VT_ARRAY);
	u32(&b, GGUF_VT_STRING);
	u64(&b, UINT64_MAX);
	expect_fail(&b, "array count");
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, GGUF_VT_ARRAY);
	u32(&b, GGUF_VT_ARRAY);
	u64(&b, 1ULL << 40);
	zeros(&b, 64);
	expect_fail(&b, "array count");
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, GGUF_VT_ARRAY);
	u32(&b, GGUF_VT_BOOL);
	u64(&b, 3);
	buf_append(&b, "\1\0\5", 3);
	expect_fail(&b, "bool", "offset 51"); /* the third element */
	/* Arrays nested 9 deep. */
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, GGUF_VT_ARRAY);
	for (int i = 0; i < 9; i++)
		u32(&b, GGUF_VT_ARRAY), u64(&b, 1);
	u32(&b, GGUF_VT_UINT8), u64(&b, 0);
	expect_fail(&b, "nested");
	header(&b, 0, 2);
	kv_u32(&b, "dup", 1);
	kv_u32(&b, "dup", 2);
	expect_fail(&b, "kv 1 'dup' key", "duplicate", "offset 43");
	buf_release(&b);
}

static void test_gguf_hostile_alignment(void **state)
{
	static const uint32_t bad[] = {0, 3, 48, 0x80000001u};
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		header(&b, 0, 1);
		kv_u32(&b, "general.alignment", bad[i]);
		expect_fail(&b, "general.alignment", "offset 24", "power of two");
	}
	header(&b, 0, 1);
	str(&b, "general.alignment");
	u32(&b, GGUF_VT_STRING);
	str(&b, "32");
	expect_fail(&b, "general.alignment", "type string");
	header(&b, 0, 1);
	str(&b, "general.alignment");
	u32(&b, GGUF_VT_FLOAT32);
	u32(&b, 0x42000000); /* 32.0f */
	expect_fail(&b, "general.alignment", "float32");
	/* A valid non-default alignment is honoured. */
	header(&b, 1, 1);
	kv_u32(&b, "general.alignment", 64);
	const int64_t ne[1] = {16};
	tinfo(&b, "t", 1, ne, GGML_TYPE_F32, 32);
	pad(&b, 64);
	zeros(&b, 96);
	expect_fail(&b, "offset", "alignment 64");
	buf_release(&b);
}

/* One tensor info with the given fields after a header with no kvs. */
static void one_tensor(struct buf *b, const char *name, uint32_t nd, const int64_t *ne,
                       uint32_t type, uint64_t off, size_t data)
{
	header(b, 1, 0);
	tinfo(b, name, nd, ne, type, off);
	pad(b, 32);
	zeros(b, data);
}

static void test_gguf_hostile_tensor_infos(void **state)
{
	struct buf b = BUF_INIT;
	const int64_t ne[4] = {32, 2, 1, 1};
	one_tensor(&b, "t", 2, ne, GGML_TYPE_F32, 0, 256);
	expect_ok(&b);
	one_tensor(&b, "t", 0, ne, GGML_TYPE_F32, 0, 256);
	expect_fail(&b, "tensor 0 't' n_dims", "offset 33");
	const int64_t ne5[5] = {32, 2, 1, 1, 1};
	one_tensor(&b, "t", 5, ne5, GGML_TYPE_F32, 0, 256);
	expect_fail(&b, "n_dims", "5 dimensions");
	one_tensor(&b, "", 2, ne, GGML_TYPE_F32, 0, 256);
	expect_fail(&b, "name", "empty");
	const int64_t zero[2] = {32, 0}, neg[2] = {-32, 2};
	one_tensor(&b, "t", 2, zero, GGML_TYPE_F32, 0, 256);
	expect_fail(&b, "ne[1]", "offset 45");
	one_tensor(&b, "t", 2, neg, GGML_TYPE_F32, 0, 256);
	expect_fail(&b, "ne[0]", "offset 37");
	const int64_t big[4] = {1LL << 40, 1LL << 40, 1, 1};
	one_tensor(&b, "t", 2, big, GGML_TYPE_F32, 0, 256);
	expect_fail(&b, "ne[1]", "overflow");
	const int64_t huge[1] = {INT64_MAX};
	one_tensor(&b, "t", 1, huge, GGML_TYPE_F32, 0, 256);
	expect_fail(&b, "ne[0]", "overflow", "offset 37");
	one_tensor(&b, "t", 2, ne, 4, 0, 256);
	expect_fail(&b, "type", "unknown tensor type 4", "offset 53");
	one_tensor(&b, "t", 2, ne, 0xffffffffu, 0, 256);
	expect_fail(&b, "type");
	const int64_t odd[2] = {33, 2};
	one_tensor(&b, "t", 2, odd, GGML_TYPE_Q8_0, 0, 256);
	expect_fail(&b, "ne[0]", "block size 32", "offset 37");
	one_tensor(&b, "t", 2, ne, GGML_TYPE_F32, 4, 256);
	expect_fail(&b, "offset", "alignment 32", "offset 57");
	one_tensor(&b, "t", 2, ne, GGML_TYPE_F32, 1ULL << 62, 256);
	expect_fail(&b, "'t' offset at offset 57", "past the end");
	one_tensor(&b, "t", 2, ne, GGML_TYPE_F32, 0, 255);
	expect_fail(&b, "'t' offset at offset 57", "past the end");
	header(&b, 1, 0);
	tinfo(&b, "t", 2, ne, GGML_TYPE_F32, 0); /* no padding, no data */
	expect_fail(&b, "data section");
	buf_release(&b);
}

static void test_gguf_hostile_tensor_layout(void **state)
{
	struct buf b = BUF_INIT;
	const int64_t ne[1] = {16}; /* 64 bytes of F32 */
	header(&b, 2, 0);
	tinfo(&b, "a", 1, ne, GGML_TYPE_F32, 0);
	tinfo(&b, "b", 1, ne, GGML_TYPE_F32, 64);
	pad(&b, 32);
	zeros(&b, 128);
	expect_ok(&b);
	header(&b, 2, 0);
	tinfo(&b, "a", 1, ne, GGML_TYPE_F32, 0);
	tinfo(&b, "b", 1, ne, GGML_TYPE_F32, 32);
	pad(&b, 32);
	zeros(&b, 128);
	expect_fail(&b, "tensor 1 'b' offset", "overlaps tensor 'a'");
	header(&b, 2, 0);
	tinfo(&b, "a", 1, ne, GGML_TYPE_F32, 64);
	tinfo(&b, "b", 1, ne, GGML_TYPE_F32, 64);
	pad(&b, 32);
	zeros(&b, 128);
	expect_fail(&b, "overlaps");
	header(&b, 2, 0);
	tinfo(&b, "same", 1, ne, GGML_TYPE_F32, 0);
	tinfo(&b, "same", 1, ne, GGML_TYPE_F32, 64);
	pad(&b, 32);
	zeros(&b, 128);
	expect_fail(&b, "tensor 1 name", "duplicate", "'same'", "offset 60");
	buf_release(&b);
}

/* Files with metadata only may end without padding before the (empty) data. */
static void test_gguf_hostile_vocab_only_unpadded(void **state)
{
	struct buf b = BUF_INIT;
	header(&b, 0, 1);
	kv_u32(&b, "k", 7);
	char err[ERR_MSG_LEN];
	void *p = malloc(b.len);
	memcpy(p, b.data, b.len);
	struct gguf_file *f = gguf_open_memory(p, b.len, err);
	assert_non_null(f);
	assert_int_equal(f->data_offset, b.len);
	uint32_t v;
	assert_int_equal(gguf_get_u32(f, "k", &v, err), 0);
	assert_int_equal(v, 7);
	gguf_close(f);
	free(p);
	assert_null(gguf_open_memory(NULL, 0, err));
	assert_null(gguf_open("/nonexistent/x.gguf", err));
	assert_non_null(strstr(err, "/nonexistent/x.gguf"));
	assert_null(gguf_open(test_tmp_dir(), err));
	assert_non_null(strstr(err, "regular file"));
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gguf_hostile_truncated_at_every_byte),
	    cmocka_unit_test(test_gguf_hostile_every_byte_corrupted),
	    cmocka_unit_test(test_gguf_hostile_header),
	    cmocka_unit_test(test_gguf_hostile_kv),
	    cmocka_unit_test(test_gguf_hostile_alignment),
	    cmocka_unit_test(test_gguf_hostile_tensor_infos),
	    cmocka_unit_test(test_gguf_hostile_tensor_layout),
	    cmocka_unit_test(test_gguf_hostile_vocab_only_unpadded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

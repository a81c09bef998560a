/* gguf_writer_test.c — the GGUF writer: every value type (nested arrays and
 * string arrays included) and tensors written and read back equal; a real
 * model copied key by key and tensor by tensor comes out byte-identical;
 * invalid tensors are refused. */
#include "support/support.h"

#include "base/buf.h"
#include "base/file.h"
#include "gguf/gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmp_path(const char *name)
{
	static char p[4][1024];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", test_tmp_dir(), name);
	return p[i];
}

static void set_all_values(struct gguf_writer *w)
{
	struct gguf_value v = {.type = GGUF_VT_UINT8, .v.u64 = 200};
	gguf_writer_set_value(w, "t.u8", &v);
	v = (struct gguf_value){.type = GGUF_VT_INT8, .v.i64 = -100};
	gguf_writer_set_value(w, "t.i8", &v);
	v = (struct gguf_value){.type = GGUF_VT_UINT16, .v.u64 = 65000};
	gguf_writer_set_value(w, "t.u16", &v);
	v = (struct gguf_value){.type = GGUF_VT_INT16, .v.i64 = -32000};
	gguf_writer_set_value(w, "t.i16", &v);
	gguf_writer_set_u32(w, "t.u32", 4000000000u);
	gguf_writer_set_i32(w, "t.i32", -2000000000);
	gguf_writer_set_u64(w, "t.u64", UINT64_MAX);
	gguf_writer_set_i64(w, "t.i64", INT64_MIN);
	gguf_writer_set_f32(w, "t.f32", 1.5f);
	gguf_writer_set_f64(w, "t.f64", -2.25e100);
	gguf_writer_set_bool(w, "t.bool", true);
	gguf_writer_set_str(w, "t.str", "héllo");
	gguf_writer_set_str(w, "t.empty", "");
	static const int16_t i16s[] = {-1, 2, -3};
	gguf_writer_set_arr(w, "t.arr_i16", GGUF_VT_INT16, i16s, 3);
	static const float f32s[] = {0.5f, -1e30f};
	gguf_writer_set_arr(w, "t.arr_f32", GGUF_VT_FLOAT32, f32s, 2);
	static const double f64s[] = {3.25};
	gguf_writer_set_arr(w, "t.arr_f64", GGUF_VT_FLOAT64, f64s, 1);
	static const uint8_t bools[] = {1, 0, 1};
	gguf_writer_set_arr(w, "t.arr_bool", GGUF_VT_BOOL, bools, 3);
	static const uint64_t u64s[] = {1, UINT64_MAX};
	gguf_writer_set_arr(w, "t.arr_u64", GGUF_VT_UINT64, u64s, 2);
	gguf_writer_set_arr(w, "t.arr_empty", GGUF_VT_UINT32, NULL, 0);
	static const struct slice strs[] = {{"a", 1}, {"", 0}, {"ccc", 3}};
	gguf_writer_set_str_arr(w, "t.arr_str", strs, 3);
	/* [[1,2],[],[3]] of uint32 and [["x"],["y","z"]] of strings, nested in
	 * an array of arrays of arrays. */
	static const uint32_t a12[] = {1, 2}, a3[] = {3};
	struct gguf_value inner[3] = {
	    {.type = GGUF_VT_ARRAY}, {.type = GGUF_VT_ARRAY}, {.type = GGUF_VT_ARRAY}};
	inner[0].v.arr.type = inner[1].v.arr.type = inner[2].v.arr.type = GGUF_VT_UINT32;
	inner[0].v.arr.n = 2, inner[0].v.arr.data = a12;
	inner[2].v.arr.n = 1, inner[2].v.arr.data = a3;
	struct gguf_value sin[2] = {{.type = GGUF_VT_ARRAY}, {.type = GGUF_VT_ARRAY}};
	sin[0].v.arr.type = sin[1].v.arr.type = GGUF_VT_STRING;
	sin[0].v.arr.n = 1, sin[0].v.arr.strs = &strs[0];
	sin[1].v.arr.n = 2, sin[1].v.arr.strs = &strs[1];
	struct gguf_value mid[2] = {{.type = GGUF_VT_ARRAY}, {.type = GGUF_VT_ARRAY}};
	mid[0].v.arr.type = mid[1].v.arr.type = GGUF_VT_ARRAY;
	mid[0].v.arr.n = 3, mid[0].v.arr.values = inner;
	mid[1].v.arr.n = 2, mid[1].v.arr.values = sin;
	struct gguf_value top = {.type = GGUF_VT_ARRAY};
	top.v.arr.type = GGUF_VT_ARRAY;
	top.v.arr.n = 2, top.v.arr.values = mid;
	gguf_writer_set_value(w, "t.nested", &top);
	gguf_writer_set_u32(w, "t.replaced", 1);
	gguf_writer_set_u32(w, "t.replaced", 2);
	gguf_writer_set_u32(w, "t.removed", 3);
	gguf_writer_remove(w, "t.removed");
}

static void check_all_values(const struct gguf_file *f)
{
	const struct gguf_kv *kv = gguf_find_key(f, "t.u8");
	assert_non_null(kv);
	assert_int_equal(kv->value.type, GGUF_VT_UINT8);
	assert_int_equal(kv->value.v.u64, 200);
	assert_int_equal(gguf_find_key(f, "t.i8")->value.v.i64, -100);
	assert_int_equal(gguf_find_key(f, "t.u16")->value.v.u64, 65000);
	assert_int_equal(gguf_find_key(f, "t.i16")->value.v.i64, -32000);
	uint32_t u;
	assert_int_equal(gguf_get_u32(f, "t.u32", &u, NULL), 0);
	assert_int_equal(u, 4000000000u);
	int64_t i;
	assert_int_equal(gguf_get_i64(f, "t.i32", &i, NULL), 0);
	assert_int_equal(i, -2000000000);
	/* -2e9 does not fit a uint32: a range error naming the key. */
	char err[ERR_MSG_LEN];
	assert_int_equal(gguf_get_u32(f, "t.i32", &u, err), ERR_INVALID);
	assert_non_null(strstr(err, "t.i32"));
	uint64_t u64;
	assert_int_equal(gguf_get_u64(f, "t.u64", &u64, NULL), 0);
	assert_true(u64 == UINT64_MAX);
	assert_int_equal(gguf_get_i64(f, "t.u64", &i, NULL), ERR_INVALID);
	assert_int_equal(gguf_get_i64(f, "t.i64", &i, NULL), 0);
	assert_true(i == INT64_MIN);
	float fl;
	assert_int_equal(gguf_get_f32(f, "t.f32", &fl, NULL), 0);
	assert_true(fl == 1.5f);
	assert_true(gguf_find_key(f, "t.f64")->value.v.f64 == -2.25e100);
	bool b;
	assert_int_equal(gguf_get_bool(f, "t.bool", &b, NULL), 0);
	assert_true(b);
	struct slice s;
	assert_int_equal(gguf_get_str(f, "t.str", &s, NULL), 0);
	assert_true(slice_eq(s, "héllo"));
	assert_int_equal(gguf_get_str(f, "t.empty", &s, NULL), 0);
	assert_int_equal(s.n, 0);
	const struct gguf_value *a;
	assert_int_equal(gguf_get_arr(f, "t.arr_i16", GGUF_VT_INT16, &a, NULL), 0);
	assert_int_equal(a->v.arr.n, 3);
	assert_int_equal(gguf_arr_get_i64(a, 0), -1);
	assert_int_equal(gguf_arr_get_i64(a, 2), -3);
	assert_int_equal(gguf_get_arr(f, "t.arr_f32", GGUF_VT_FLOAT32, &a, NULL), 0);
	assert_true(gguf_arr_get_f64(a, 1) == (double)-1e30f);
	assert_int_equal(gguf_get_arr(f, "t.arr_f64", GGUF_VT_FLOAT64, &a, NULL), 0);
	assert_true(gguf_arr_get_f64(a, 0) == 3.25);
	assert_int_equal(gguf_get_arr(f, "t.arr_bool", GGUF_VT_BOOL, &a, NULL), 0);
	assert_int_equal(gguf_arr_get_i64(a, 0) + gguf_arr_get_i64(a, 1) * 2, 1);
	assert_int_equal(gguf_get_arr(f, "t.arr_u64", GGUF_VT_UINT64, &a, NULL), 0);
	assert_true((uint64_t)gguf_arr_get_i64(a, 1) == UINT64_MAX);
	assert_int_equal(gguf_get_arr(f, "t.arr_empty", GGUF_VT_UINT32, &a, NULL), 0);
	assert_int_equal(a->v.arr.n, 0);
	assert_int_equal(gguf_get_arr(f, "t.arr_str", GGUF_VT_STRING, &a, NULL), 0);
	assert_int_equal(a->v.arr.n, 3);
	assert_true(slice_eq(gguf_arr_get_str(a, 0), "a"));
	assert_true(slice_eq(gguf_arr_get_str(a, 1), ""));
	assert_true(slice_eq(gguf_arr_get_str(a, 2), "ccc"));
	assert_int_equal(gguf_get_arr(f, "t.nested", GGUF_VT_ARRAY, &a, NULL), 0);
	assert_int_equal(a->v.arr.n, 2);
	const struct gguf_value *m0 = &a->v.arr.values[0], *m1 = &a->v.arr.values[1];
	assert_int_equal(m0->v.arr.type, GGUF_VT_ARRAY);
	assert_int_equal(m0->v.arr.n, 3);
	assert_int_equal(m0->v.arr.values[0].v.arr.n, 2);
	assert_int_equal(gguf_arr_get_i64(&m0->v.arr.values[0], 1), 2);
	assert_int_equal(m0->v.arr.values[1].v.arr.n, 0);
	assert_int_equal(gguf_arr_get_i64(&m0->v.arr.values[2], 0), 3);
	assert_int_equal(m1->v.arr.values[1].v.arr.type, GGUF_VT_STRING);
	assert_true(slice_eq(gguf_arr_get_str(&m1->v.arr.values[1], 1), "ccc"));
	assert_int_equal(gguf_get_u32(f, "t.replaced", &u, NULL), 0);
	assert_int_equal(u, 2);
	assert_null(gguf_find_key(f, "t.removed"));
}

struct fill_ctx {
	int calls;
};

static int fill_ramp(void *ctx, void *dst, size_t nbytes, char *err)
{
	((struct fill_ctx *)ctx)->calls++;
	for (size_t i = 0; i < nbytes; i++)
		((uint8_t *)dst)[i] = (uint8_t)(i * 7);
	return 0;
}

static int fill_fail(void *ctx, void *dst, size_t nbytes, char *err)
{
	return err_set(err, ERR_INVALID, "quantizer refused");
}

static void test_gguf_writer_round_trip(void **state)
{
	for (int pass = 0; pass < 2; pass++) {
		struct gguf_writer *w = gguf_writer_new();
		set_all_values(w);
		if (pass == 1)
			gguf_writer_set_u32(w, "general.alignment", 256);
		float a[21];
		for (int i = 0; i < 21; i++)
			a[i] = (float)i - 10.5f;
		uint8_t q[2 * 34];
		for (int i = 0; i < (int)sizeof q; i++)
			q[i] = (uint8_t)i;
		const int64_t ne_a[2] = {7, 3}, ne_q[2] = {32, 2}, ne_big[3] = {256, 3, 2};
		assert_int_equal(
		    gguf_writer_add_tensor(w, "a", GGML_TYPE_F32, 2, ne_a, a, sizeof a), 0);
		assert_int_equal(
		    gguf_writer_add_tensor_ref(w, "q", GGML_TYPE_Q8_0, 2, ne_q, q, sizeof q), 0);
		struct fill_ctx fc = {0};
		assert_int_equal(
		    gguf_writer_add_tensor_fn(w, "k", GGML_TYPE_Q4_K, 3, ne_big, fill_ramp, &fc),
		    0);
		memset(a, 0, sizeof a); /* add_tensor copied it */
		char err[ERR_MSG_LEN] = "";
		const char *path = tmp_path("rt.gguf");
		assert_int_equal(gguf_writer_write(w, path, err), 0);
		assert_int_equal(fc.calls, 1);
		gguf_writer_free(w);
		struct gguf_file *f = gguf_open(path, err);
		if (!f)
			fail_msg("%s", err);
		assert_int_equal(f->version, 3);
		assert_int_equal(f->alignment, pass ? 256 : 32);
		check_all_values(f);
		assert_int_equal(f->n_tensors, 3);
		const struct gguf_tensor *t = gguf_find_tensor(f, "a");
		assert_int_equal(t->ne[0], 7);
		assert_int_equal(t->ne[1], 3);
		assert_int_equal(((const float *)t->data)[20], 9.5f);
		t = gguf_find_tensor(f, "q");
		assert_int_equal(t->type, GGML_TYPE_Q8_0);
		assert_memory_equal(t->data, q, sizeof q);
		t = &f->tensors[2];
		assert_true(slice_eq(t->name, "k"));
		assert_int_equal(t->n_dims, 3);
		assert_int_equal(t->nbytes, 144 * 6);
		assert_int_equal(((const uint8_t *)t->data)[100], (uint8_t)700);
		assert_int_equal((f->data_offset + t->offset) % f->alignment, 0);
		gguf_close(f);
	}
}

static void test_gguf_writer_rejects_bad_tensors(void **state)
{
	struct gguf_writer *w = gguf_writer_new();
	float x[64] = {0};
	const int64_t ne[4] = {8, 2, 2, 2}, zero[2] = {8, 0}, odd[1] = {33};
	assert_int_equal(gguf_writer_add_tensor(w, "x", GGML_TYPE_F32, 1, ne, x, 32), 0);
	assert_int_equal(gguf_writer_add_tensor(w, "x", GGML_TYPE_F32, 1, ne, x, 32), ERR_INVALID);
	assert_int_equal(gguf_writer_add_tensor(w, "", GGML_TYPE_F32, 1, ne, x, 32), ERR_INVALID);
	assert_int_equal(gguf_writer_add_tensor(w, "y", GGML_TYPE_F32, 1, ne, x, 31), ERR_INVALID);
	assert_int_equal(gguf_writer_add_tensor(w, "y", GGML_TYPE_F32, 0, ne, x, 32), ERR_INVALID);
	assert_int_equal(gguf_writer_add_tensor(w, "y", GGML_TYPE_F32, 5, ne, x, 32), ERR_INVALID);
	assert_int_equal(gguf_writer_add_tensor(w, "y", GGML_TYPE_F32, 2, zero, x, 0), ERR_INVALID);
	assert_int_equal(gguf_writer_add_tensor(w, "y", GGML_TYPE_Q8_0, 1, odd, x, 34),
	                 ERR_INVALID);
	assert_int_equal(gguf_writer_add_tensor(w, "y", 4, 1, ne, x, 32), ERR_INVALID);
	assert_int_equal(gguf_writer_add_tensor(w, "y", GGML_TYPE_F32, 4, ne, x, 256), 0);
	/* A failing fill callback fails the write and leaves no file behind. */
	assert_int_equal(gguf_writer_add_tensor_fn(w, "z", GGML_TYPE_F32, 1, ne, fill_fail, NULL),
	                 0);
	char err[ERR_MSG_LEN] = "";
	const char *path = tmp_path("fail.gguf");
	assert_int_equal(gguf_writer_write(w, path, err), ERR_INVALID);
	assert_non_null(strstr(err, "quantizer refused"));
	assert_non_null(strstr(err, "'z'"));
	assert_false(file_exists(path));
	gguf_writer_free(w);
	w = gguf_writer_new();
	assert_int_equal(gguf_writer_write(w, "/nonexistent-dir/x.gguf", err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent-dir/x.gguf"));
	gguf_writer_set_u32(w, "general.alignment", 48);
	assert_int_equal(gguf_writer_write(w, path, err), ERR_INVALID);
	assert_non_null(strstr(err, "general.alignment"));
	gguf_writer_free(w);
	gguf_writer_free(NULL);
}

/* Copying stories260K kv by kv and tensor by tensor gives the same bytes:
 * the writer lays out a file exactly as ggml does. */
static void test_gguf_writer_copy_is_byte_identical(void **state)
{
	const char *src = test_model_path("stories260K-Q8_0.gguf");
	if (!src)
		test_skip("stories260K-Q8_0.gguf missing");
	char err[ERR_MSG_LEN] = "";
	struct gguf_file *f = gguf_open(src, err);
	assert_non_null(f);
	struct gguf_writer *w = gguf_writer_new();
	gguf_writer_copy_kv(w, f, NULL);
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];
		char *name = slice_dup(t->name);
		assert_int_equal(gguf_writer_add_tensor_ref(w, name, t->type, t->n_dims, t->ne,
		                                            t->data, t->nbytes),
		                 0);
		free(name);
	}
	const char *out = tmp_path("copy.gguf");
	assert_int_equal(gguf_writer_write(w, out, err), 0);
	struct buf a = BUF_INIT, b = BUF_INIT;
	assert_int_equal(file_read_all(src, &a, 0), 0);
	assert_int_equal(file_read_all(out, &b, 0), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	/* And with a key skipped, the file is valid and lacks it. */
	gguf_writer_free(w);
	w = gguf_writer_new();
	static const char *const skip[] = {"tokenizer.ggml.scores", NULL};
	gguf_writer_copy_kv(w, f, skip);
	assert_int_equal(gguf_writer_write(w, out, err), 0);
	struct gguf_file *g = gguf_open(out, err);
	assert_non_null(g);
	assert_int_equal(g->n_kv, f->n_kv - 1);
	assert_null(gguf_find_key(g, "tokenizer.ggml.scores"));
	assert_int_equal(g->n_tensors, 0);
	gguf_close(g);
	buf_release(&a);
	buf_release(&b);
	gguf_writer_free(w);
	gguf_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gguf_writer_round_trip),
	    cmocka_unit_test(test_gguf_writer_rejects_bad_tensors),
	    cmocka_unit_test(test_gguf_writer_copy_is_byte_identical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* gguf_get.c — typed access to metadata (getters that check type and range,
 * array element readers) and summaries of a file: architecture, parameter
 * count, quantization label. No parsing here (gguf_read.c, gguf_kv.c). */
#include "gguf/gguf_internal.h"

#include <stdio.h>
#include <string.h>

static bool is_signed(int t)
{
	return t == GGUF_VT_INT8 || t == GGUF_VT_INT16 || t == GGUF_VT_INT32 || t == GGUF_VT_INT64;
}

static bool is_unsigned(int t)
{
	return t == GGUF_VT_UINT8 || t == GGUF_VT_UINT16 || t == GGUF_VT_UINT32 ||
	       t == GGUF_VT_UINT64;
}

static const struct gguf_kv *lookup(const struct gguf_file *f, const char *key, char *err, int *rc)
{
	const struct gguf_kv *kv = gguf_find_key(f, key);
	*rc = kv ? 0 : err_set(err, ERR_NOT_FOUND, "gguf: key '%s' not found", key);
	return kv;
}

static int bad_type(const struct gguf_kv *kv, const char *key, const char *want, char *err)
{
	return err_set(err, ERR_INVALID, "gguf: key '%s' at offset %llu: type %s, expected %s", key,
	               (unsigned long long)kv->offset, gguf_vtype_name(kv->value.type), want);
}

/* Any integer value as a sign flag plus magnitude-preserving pair. */
static int get_int(const struct gguf_file *f, const char *key, int64_t lo, uint64_t hi,
                   uint64_t *out, bool *neg, const char *want, char *err)
{
	int rc;
	const struct gguf_kv *kv = lookup(f, key, err, &rc);
	if (!kv)
		return rc;
	const struct gguf_value *v = &kv->value;
	*neg = false;
	if (is_unsigned(v->type)) {
		*out = v->v.u64;
	} else if (is_signed(v->type)) {
		*neg = v->v.i64 < 0;
		*out = (uint64_t)v->v.i64;
	} else {
		return bad_type(kv, key, want, err);
	}
	bool ok = *neg ? v->v.i64 >= lo : *out <= hi;
	if (!ok)
		return err_set(err, ERR_INVALID,
		               "gguf: key '%s' at offset %llu: value out of %s range", key,
		               (unsigned long long)kv->offset, want);
	return 0;
}

int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out, char *err)
{
	uint64_t u;
	bool neg;
	int rc = get_int(f, key, 0, UINT32_MAX, &u, &neg, "uint32", err);
	if (rc == 0)
		*out = (uint32_t)u;
	return rc;
}

int gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t *out, char *err)
{
	uint64_t u;
	bool neg;
	int rc = get_int(f, key, 0, UINT64_MAX, &u, &neg, "uint64", err);
	if (rc == 0)
		*out = u;
	return rc;
}

int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out, char *err)
{
	uint64_t u;
	bool neg;
	int rc = get_int(f, key, INT64_MIN, INT64_MAX, &u, &neg, "int64", err);
	if (rc == 0)
		*out = (int64_t)u;
	return rc;
}

int gguf_get_f32(const struct gguf_file *f, const char *key, float *out, char *err)
{
	int rc;
	const struct gguf_kv *kv = lookup(f, key, err, &rc);
	if (!kv)
		return rc;
	const struct gguf_value *v = &kv->value;
	if (v->type == GGUF_VT_FLOAT32 || v->type == GGUF_VT_FLOAT64)
		*out = (float)v->v.f64;
	else if (is_signed(v->type))
		*out = (float)v->v.i64;
	else if (is_unsigned(v->type))
		*out = (float)v->v.u64;
	else
		return bad_type(kv, key, "float32", err);
	return 0;
}

int gguf_get_bool(const struct gguf_file *f, const char *key, bool *out, char *err)
{
	int rc;
	const struct gguf_kv *kv = lookup(f, key, err, &rc);
	if (!kv)
		return rc;
	if (kv->value.type != GGUF_VT_BOOL)
		return bad_type(kv, key, "bool", err);
	*out = kv->value.v.u64 != 0;
	return 0;
}

int gguf_get_str(const struct gguf_file *f, const char *key, struct slice *out, char *err)
{
	int rc;
	const struct gguf_kv *kv = lookup(f, key, err, &rc);
	if (!kv)
		return rc;
	if (kv->value.type != GGUF_VT_STRING)
		return bad_type(kv, key, "string", err);
	*out = kv->value.v.str;
	return 0;
}

int gguf_get_arr(const struct gguf_file *f, const char *key, enum gguf_vtype elem,
                 const struct gguf_value **out, char *err)
{
	int rc;
	const struct gguf_kv *kv = lookup(f, key, err, &rc);
	if (!kv)
		return rc;
	const struct gguf_value *v = &kv->value;
	if (v->type != GGUF_VT_ARRAY)
		return bad_type(kv, key, "array", err);
	if (elem != GGUF_VT_COUNT && v->v.arr.type != elem)
		return err_set(err, ERR_INVALID,
		               "gguf: key '%s' at offset %llu: array of %s, expected array of %s",
		               key, (unsigned long long)kv->offset, gguf_vtype_name(v->v.arr.type),
		               gguf_vtype_name(elem));
	*out = v;
	return 0;
}

int64_t gguf_arr_get_i64(const struct gguf_value *a, uint64_t i)
{
	struct gguf_value v;
	size_t sz = gguf__vtype_size(a->v.arr.type);
	if (!sz)
		return 0;
	struct gguf_cur c = {.p = (const uint8_t *)a->v.arr.data + i * sz, .size = sz};
	gguf__read_value(&c, a->v.arr.type, &v);
	if (is_unsigned(v.type) || v.type == GGUF_VT_BOOL)
		return (int64_t)v.v.u64;
	return is_signed(v.type) ? v.v.i64 : 0;
}

double gguf_arr_get_f64(const struct gguf_value *a, uint64_t i)
{
	struct gguf_value v;
	size_t sz = gguf__vtype_size(a->v.arr.type);
	if (!sz)
		return 0;
	struct gguf_cur c = {.p = (const uint8_t *)a->v.arr.data + i * sz, .size = sz};
	gguf__read_value(&c, a->v.arr.type, &v);
	if (v.type == GGUF_VT_FLOAT32 || v.type == GGUF_VT_FLOAT64)
		return v.v.f64;
	return is_signed(v.type) ? (double)v.v.i64 : (double)v.v.u64;
}

struct slice gguf_arr_get_str(const struct gguf_value *a, uint64_t i)
{
	if (a->v.arr.type != GGUF_VT_STRING || i >= a->v.arr.n)
		return (struct slice){"", 0};
	return a->v.arr.strs[i];
}

struct slice gguf_arch(const struct gguf_file *f)
{
	const struct gguf_kv *kv = gguf_find_key(f, "general.architecture");
	if (!kv || kv->value.type != GGUF_VT_STRING)
		return (struct slice){"", 0};
	return kv->value.v.str;
}

const struct gguf_kv *gguf_find_arch_key(const struct gguf_file *f, const char *suffix)
{
	struct slice a = gguf_arch(f);
	char key[256];
	if (a.n == 0 ||
	    (size_t)snprintf(key, sizeof key, "%.*s.%s", (int)a.n, a.p, suffix) >= sizeof key)
		return NULL;
	return gguf_find_key(f, key);
}

uint64_t gguf_param_count(const struct gguf_file *f)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];
		uint64_t e = 1;
		for (int d = 0; d < GGUF_MAX_DIMS; d++)
			e *= (uint64_t)t->ne[d]; /* cannot overflow: checked at open */
		n += e;
	}
	return n;
}

void gguf_format_count(uint64_t n, char out[16])
{
	static const struct {
		double div;
		char suffix;
	} units[] = {{1e12, 'T'}, {1e9, 'B'}, {1e6, 'M'}, {1e3, 'K'}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if ((double)n < units[i].div)
			continue;
		/* Ollama's rule: no decimals for a whole number, else one. */
		double x = (double)n / units[i].div;
		snprintf(out, 16, x == (double)(uint64_t)x ? "%.0f%c" : "%.1f%c", x,
		         units[i].suffix);
		return;
	}
	snprintf(out, 16, "%llu", (unsigned long long)n);
}

const char *gguf_quantization(const struct gguf_file *f)
{
	uint32_t ft;
	if (gguf_get_u32(f, "general.file_type", &ft, NULL) == 0 && gguf_file_type_name(ft))
		return gguf_file_type_name(ft);
	uint64_t bytes[GGML_TYPE_COUNT] = {0};
	bool matrices = false;
	for (uint64_t i = 0; i < f->n_tensors; i++)
		matrices |= f->tensors[i].n_dims >= 2;
	for (uint64_t i = 0; i < f->n_tensors; i++)
		if (!matrices || f->tensors[i].n_dims >= 2)
			bytes[f->tensors[i].type] += f->tensors[i].nbytes;
	int best = -1;
	for (int t = 0; t < GGML_TYPE_COUNT; t++)
		if (bytes[t] && (best < 0 || bytes[t] > bytes[best]))
			best = t;
	return best < 0 ? "unknown" : ggml_type_name(best);
}
